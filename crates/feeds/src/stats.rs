//! Per-stream counters shared by a feed task (writer of the counts) and the health reporter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use polyedge_venues::ParseError;
use serde::Serialize;

/// Counters of one stream. All monotonic except `connected`, `lag_max_ms` (reset by each health
/// snapshot) and `lag_last_ms`.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Data frames received and queued for recording.
    pub frames: AtomicU64,
    /// Payload bytes of those frames.
    pub bytes: AtomicU64,
    /// Gap markers recorded for this stream.
    pub gaps: AtomicU64,
    /// Successful connections (the first included).
    pub connects: AtomicU64,
    /// Failed connection attempts.
    pub connect_failures: AtomicU64,
    /// Sessions ended because nothing arrived for the stale timeout.
    pub stale: AtomicU64,
    /// Frames that are not valid JSON or of a wrong shape (recorded anyway).
    pub malformed: AtomicU64,
    /// Elements of a kind the parser does not know — event types, topics, channels
    /// ([`polyedge_venues::unknown`]) — skipped while the frame's known events were kept (the
    /// frame is recorded anyway).
    pub unknown: AtomicU64,
    /// Error envelopes sent by the venue (recorded anyway).
    pub venue_errors: AtomicU64,
    /// Frames above `max_frame_bytes` (not recorded; a gap marker instead).
    pub oversize: AtomicU64,
    /// Book resyncs (REST snapshots recorded, or fresh snapshots after a reconnect).
    pub resyncs: AtomicU64,
    /// Largest receive − venue time seen since the last health snapshot (ms).
    pub lag_max_ms: AtomicU64,
    /// Last receive − venue time (ms).
    pub lag_last_ms: AtomicU64,
    /// A session is up.
    pub connected: AtomicBool,
}

impl StreamStats {
    /// Counts a parse failure by kind; returns the kind's name and its new count.
    pub fn count_parse_error(&self, e: &ParseError) -> (&'static str, u64) {
        let (name, c) = match e {
            ParseError::UnknownEvent(_) => ("unknown", &self.unknown),
            ParseError::VenueError(_) => ("venue_error", &self.venue_errors),
            _ => ("malformed", &self.malformed),
        };
        (name, c.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Records one lag sample (ms).
    pub fn lag(&self, ms: u64) {
        self.lag_last_ms.store(ms, Ordering::Relaxed);
        self.lag_max_ms.fetch_max(ms, Ordering::Relaxed);
    }
}

/// A point-in-time copy of a stream's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamSnapshot {
    /// See [`StreamStats::frames`].
    pub frames: u64,
    /// See [`StreamStats::bytes`].
    pub bytes: u64,
    /// See [`StreamStats::gaps`].
    pub gaps: u64,
    /// See [`StreamStats::connects`].
    pub connects: u64,
    /// See [`StreamStats::connect_failures`].
    pub connect_failures: u64,
    /// See [`StreamStats::stale`].
    pub stale: u64,
    /// See [`StreamStats::malformed`].
    pub malformed: u64,
    /// See [`StreamStats::unknown`].
    pub unknown: u64,
    /// See [`StreamStats::venue_errors`].
    pub venue_errors: u64,
    /// See [`StreamStats::oversize`].
    pub oversize: u64,
    /// See [`StreamStats::resyncs`].
    pub resyncs: u64,
    /// Largest lag since the previous snapshot (ms).
    pub lag_max_ms: u64,
    /// Whether connected.
    pub connected: bool,
}

/// All streams' counters, by stream name.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    streams: Arc<Mutex<BTreeMap<String, Arc<StreamStats>>>>,
}

impl Registry {
    /// The counters of `stream`, created on first use.
    pub fn stream(&self, stream: &str) -> Arc<StreamStats> {
        let mut m = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(stream.to_string()).or_default().clone()
    }

    /// Calls `f` with every stream's name and live counters (nothing is reset).
    pub fn visit(&self, mut f: impl FnMut(&str, &StreamStats)) {
        let m = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, s) in m.iter() {
            f(k, s);
        }
    }

    /// Copies every stream's counters; resets the per-interval maxima.
    pub fn snapshot(&self) -> BTreeMap<String, StreamSnapshot> {
        let m = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.iter()
            .map(|(k, s)| {
                let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
                (
                    k.clone(),
                    StreamSnapshot {
                        frames: r(&s.frames),
                        bytes: r(&s.bytes),
                        gaps: r(&s.gaps),
                        connects: r(&s.connects),
                        connect_failures: r(&s.connect_failures),
                        stale: r(&s.stale),
                        malformed: r(&s.malformed),
                        unknown: r(&s.unknown),
                        venue_errors: r(&s.venue_errors),
                        oversize: r(&s.oversize),
                        resyncs: r(&s.resyncs),
                        lag_max_ms: s.lag_max_ms.swap(0, Ordering::Relaxed),
                        connected: s.connected.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }
}

/// `true` for the counts at which a repeated warning is logged: the first 10, then powers of two.
pub fn should_log(n: u64) -> bool {
    n <= 10 || n.is_power_of_two()
}

/// The health line: per stream `name f/s gaps malformed unknown oversize lag connected`.
pub fn health_line(
    prev: &BTreeMap<String, StreamSnapshot>,
    now: &BTreeMap<String, StreamSnapshot>,
    secs: f64,
) -> String {
    let mut parts = Vec::new();
    for (name, s) in now {
        let p = prev.get(name).cloned().unwrap_or_default();
        let rate = (s.frames - p.frames) as f64 / secs.max(1e-9);
        parts.push(format!(
            "{name}: {rate:.1} f/s, {} frames, gaps {}, malformed {}, unknown {}, oversize {}, lag max {} ms, {}",
            s.frames,
            s.gaps,
            s.malformed,
            s.unknown,
            s.oversize,
            s.lag_max_ms,
            if s.connected { "up" } else { "down" }
        ));
    }
    parts.join(" | ")
}
