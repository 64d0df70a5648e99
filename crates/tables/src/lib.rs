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
//! `polyedge collect` converts every segment it closes, on worker threads
//! ([`collect::CollectTables`]): Parquet export and/or loading into ClickHouse through the
//! backfill path, so ClickHouse rows appear when their hourly segment closes and ClickHouse
//! being down costs nothing (the segment stays queued, `polyedge backfill` loads the rest).
//!
//! ```no_run
//! # fn demo(rec_dir: &std::path::Path) -> Result<(), polyedge_tables::TableError> {
//! use polyedge_tables::clickhouse::ChConfig;
//! use polyedge_tables::collect::{CollectTables, CollectTablesOptions};
//! let tables = CollectTables::start(&CollectTablesOptions {
//!     recording_dir: rec_dir.to_path_buf(),
//!     parquet: true,
//!     clickhouse: Some(ChConfig::parse("http://127.0.0.1:8123/polyedge")?),
//!     clickhouse_name: None,
//!     clickhouse_timeout: polyedge_tables::collect::DEFAULT_CLICKHOUSE_TIMEOUT,
//! })?;
//! let hook = tables.hook(); // polyedge_feeds::Collector::on_segment_closed(hook)
//! # drop(hook);
//! // … the collector runs and finishes the recording, then:
//! let report = tables.finish();
//! # drop(report); Ok(()) }
//! ```
//!
//! [`clickhouse::ChSink`] is a frame-by-frame sink for lower latency (fed exactly the frames
//! appended to the `RecordingWriter`); `collect` does not use it (see `docs/collect.md`).

pub mod clickhouse;
pub mod collect;
pub mod convert;
mod error;
pub mod parquet;
pub mod schema;
pub mod tables;

pub use error::TableError;
