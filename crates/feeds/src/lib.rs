//! # polyedge-feeds
//!
//! The live side of polyedge's data: async feed clients, Gamma window discovery and the recorder
//! that `polyedge collect` runs 24/7.
//!
//! * [`ws`] — one generic WebSocket session loop (heartbeats, staleness detection, reconnect with
//!   exponential backoff and jitter, resubscription, gap markers) used by every venue;
//! * [`polymarket`], [`rtds`], [`binance`], [`coinbase`], [`deribit`] — what each venue needs on
//!   top (subscription messages, pings, Binance's REST depth snapshots and sequence checks);
//! * [`gamma`], [`slugs`], [`discovery`] — find the current and next Up/Down windows, read their
//!   tokens and parameters, follow them to their official resolution;
//! * [`sink`] — the single writer thread that owns the
//!   [`RecordingWriter`](polyedge_store::RecordingWriter): bounded memory, periodic flush/fsync,
//!   hourly rotation, segment-closed hook;
//! * [`collector`] — wires it all together from a [`Config`];
//! * [`metrics`] — per-feed and recorder metrics (the `metrics` facade: exported only where a
//!   recorder is installed, by `polyedge-ops`) and the health answers of the control port.
//!
//! Every frame is recorded raw, byte-identical, with its wall-clock receive time. Whenever
//! continuity is lost on a stream (disconnect, staleness, sequence break, dropped oversize frame)
//! a gap marker is written to the `control` stream; it replays as
//! [`EventKind::Gap`](polyedge_core::EventKind::Gap). Gaps are never bridged silently.
//!
//! Why not `polymarket_client_sdk_v2`'s `ws`/`rtds`/`gamma` clients: see `docs/collect.md`.

pub mod bench;
pub mod binance;
pub mod clock;
pub mod coinbase;
pub mod collector;
pub mod config;
pub mod deribit;
pub mod discovery;
pub mod durability;
pub mod gamma;
pub mod http;
pub mod metrics;
pub mod polymarket;
pub mod rtds;
pub mod sink;
pub mod slugs;
pub mod stats;
pub mod ws;

pub use collector::{CollectOutcome, Collector};
pub use config::Config;

/// Errors of the feed layer.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The config file is unreadable or invalid.
    #[error("{origin}: {message}")]
    Config {
        /// File (or other origin) of the config.
        origin: String,
        /// What is wrong (TOML position and key included).
        message: String,
    },
    /// An HTTP request failed or returned an unusable answer.
    #[error("{url}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A Gamma object could not be turned into a window.
    #[error("gamma {slug}: {message}")]
    Gamma {
        /// The window slug.
        slug: String,
        /// What was wrong.
        message: String,
    },
    /// The recording could not be written.
    #[error(transparent)]
    Store(#[from] polyedge_store::StoreError),
    /// Other I/O errors (runtime, threads).
    #[error("{0}")]
    Io(String),
    /// The recorder stopped cleanly because the disk holding the recording is nearly full.
    #[error(
        "{}: only {} MiB free on its filesystem, below the stop threshold (collect.min_free_mb): \
         the recorder stopped cleanly (every segment closed and synced, manifest written)",
        dir.display(),
        free_bytes >> 20
    )]
    DiskFull {
        /// The recording directory.
        dir: std::path::PathBuf,
        /// Bytes free when it stopped.
        free_bytes: u64,
    },
}
