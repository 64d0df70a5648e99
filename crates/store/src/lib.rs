//! # polyedge-store
//!
//! The recording format and everything that reads or writes it:
//!
//! * [`segment`] — append-only, zstd-compressed capture segments of raw frames with receive
//!   timestamps; a torn tail (process killed mid-write) is detected and skipped on read.
//! * [`recording`] — a recording directory: manifest, window index (`windows.jsonl`) and the
//!   segments, rotated by hour and stream ([`RecordingWriter`], [`Recording`]).
//! * [`replay`] — one or several recordings as a single receive-time-ordered stream of raw frames
//!   or parsed [`MarketEvent`](polyedge_core::MarketEvent)s, streaming, with filters.
//! * [`pipeline`] — an event replay read ahead on a second core.
//! * [`import`] — importers of public datasets into recordings (atomically: a failed import
//!   leaves nothing behind).
//! * [`verify`] — reads every record of a recording and reports damage and missing frames.
//!
//! The format is documented in `docs/recording-format.md`.

pub mod dedup;
mod error;
pub mod import;
pub mod pipeline;
pub mod recording;
pub mod replay;
pub mod segment;
pub mod verify;

pub use error::StoreError;
pub use pipeline::PipelinedEvents;
pub use recording::{
    ClosedSegment, Manifest, Recording, RecordingMeta, RecordingSummary, RecordingWriter,
    SegmentInfo, StreamId, StreamInfo,
};
pub use replay::{
    EventReplay, Frame, FrameRef, FrameReplay, ReplayFilter, ReplayStats, SkippedSpan,
    WindowSelection,
};
pub use segment::{CorruptSpan, ReadOptions, SegmentReader, SegmentWriter, TornTail};

/// Progress reporting for long jobs (imports, replays). The CLI implements it with a progress bar;
/// tests and libraries can pass [`NoProgress`].
pub trait Progress {
    /// Sets the total amount of work (bytes or rows; see `unit`).
    fn set_total(&self, total: u64, unit: &str);
    /// Adds `n` to the work done.
    fn inc(&self, n: u64);
    /// Shows a short status message (current file, phase).
    fn message(&self, msg: &str);
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&self, _total: u64, _unit: &str) {}
    fn inc(&self, _n: u64) {}
    fn message(&self, _msg: &str) {}
}
