//! # polyedge-tables
//!
//! Normalized tables of recordings, in two stores:
//!
//! * [`parquet`] — Parquet files that pandas, polars and DuckDB read directly: one file per
//!   (table, segment) under `<recording>/tables/<table>/`, so `collect` can convert each closed
//!   hourly segment ([`parquet::export_segment`]) and `polyedge tables` a whole recording
//!   ([`parquet::export_recording`]).
//! * [`clickhouse`] — the same tables in ClickHouse (18.16 and current releases), plus a
//!   `frames` table of every raw frame so that replay from ClickHouse runs the real parsers and
//!   equals replay from the files: schema creation ([`clickhouse::ChDb::create_schema`]), a
//!   buffering live sink for `collect` ([`clickhouse::ChSink`]), `backfill` of recordings
//!   ([`clickhouse::backfill`]) and replay ([`clickhouse::ChFrameReplay`],
//!   [`clickhouse::ChEventReplay`] and their blocking wrappers).
//!
//! The tables ([`tables`]) are defined once, as Rust structs: the Parquet schema, the
//! ClickHouse DDL and the ClickHouse rows all come from them. Units: timestamps are Int64 ns
//! since the Unix epoch; Polymarket prices/sizes Int64 micro-units (`*_e6`); spot/reference
//! prices and quantities Int64 × 1e8 (`*_e8`); see [`tables`] and `docs/tables.md`.
//!
//! ## Using it from `collect`
//!
//! ```no_run
//! # async fn demo(rec_dir: &std::path::Path, closed_segment: &std::path::Path,
//! #   stream: polyedge_store::StreamId, frame: &[u8], recv_ns: polyedge_core::UnixNanos)
//! #   -> Result<(), polyedge_tables::TableError> {
//! use polyedge_tables::clickhouse::{ChConfig, ChDb, ChSink};
//! // ClickHouse (optional): one sink per recording, fed the frames given to the RecordingWriter.
//! let db = ChDb::new(ChConfig::parse("http://127.0.0.1:8123/polyedge")?);
//! db.create_schema().await?;
//! let mut sink = ChSink::new(db, "my-recording", 1_795_322_342_904_885_493);
//! sink.push(&stream, recv_ns, frame);             // after RecordingWriter::append succeeded
//! if sink.should_flush() {
//!     if let Err(e) = sink.flush().await {         // CH down: logged, files keep everything,
//!         tracing::warn!(error = %e, "clickhouse"); // `polyedge backfill` loads it later
//!     }
//! }
//! // Parquet: when a segment file is closed (hour rotation), convert it.
//! let report = polyedge_tables::parquet::export_segment(
//!     closed_segment, &stream, &rec_dir.join("tables"))?;
//! # Ok(()) }
//! ```

pub mod clickhouse;
pub mod convert;
mod error;
pub mod parquet;
pub mod schema;
pub mod tables;

pub use error::TableError;
