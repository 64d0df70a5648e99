//! What the recorder measures for Prometheus, and its health.
//!
//! Every second the collector copies each stream's counters ([`crate::stats::StreamStats`]) into
//! the `metrics` facade (label `feed` = stream name, e.g. `polymarket-market`,
//! `binance-usdm-market`) and updates its [`FeedHealth`]. Without an installed recorder
//! (`polyedge-ops`) the metric calls do nothing. Names, types and units: [`describe`] and
//! docs/operations.md.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{counter, describe_counter, describe_gauge, gauge};
use serde::Serialize;
use tokio::sync::watch;

use crate::sink::Sink;
use crate::stats::Registry;

/// Gauge: 1 while the stream has a session up, else 0.
pub const FEED_CONNECTED: &str = "polyedge_feed_connected";
/// Counter: data frames received and queued for recording.
pub const FEED_FRAMES: &str = "polyedge_feed_frames_total";
/// Counter: payload bytes of those frames.
pub const FEED_BYTES: &str = "polyedge_feed_bytes_total";
/// Counter: gap markers recorded (continuity lost: disconnect, staleness, sequence break).
pub const FEED_GAPS: &str = "polyedge_feed_gaps_total";
/// Counter: frames that were not valid JSON or of a wrong shape (recorded anyway).
pub const FEED_MALFORMED: &str = "polyedge_feed_malformed_total";
/// Counter: elements of a kind the parser does not know (skipped; the frame is recorded).
pub const FEED_UNKNOWN: &str = "polyedge_feed_unknown_total";
/// Counter: error envelopes sent by the venue.
pub const FEED_VENUE_ERRORS: &str = "polyedge_feed_venue_errors_total";
/// Counter: frames above `max_frame_bytes` (not recorded; a gap marker instead).
pub const FEED_OVERSIZE: &str = "polyedge_feed_oversize_total";
/// Counter: successful connections (the first included).
pub const FEED_CONNECTS: &str = "polyedge_feed_connects_total";
/// Counter: failed connection attempts.
pub const FEED_CONNECT_FAILURES: &str = "polyedge_feed_connect_failures_total";
/// Counter: sessions ended because nothing arrived within the stale limit.
pub const FEED_STALE: &str = "polyedge_feed_stale_total";
/// Counter: book resyncs (REST snapshots, fresh snapshots after a reconnect).
pub const FEED_RESYNCS: &str = "polyedge_feed_resyncs_total";
/// Gauge: receive time − venue time of the last frame that carried a venue time, seconds.
pub const FEED_LAG: &str = "polyedge_feed_lag_seconds";
/// Gauge: seconds since the stream's last data frame (since the recorder started, before the
/// first). The "feed silent" alert reads it.
pub const FEED_LAST_FRAME_AGE: &str = "polyedge_feed_last_frame_age_seconds";
/// Gauge: data frames per second over the last second.
pub const FEED_FPS: &str = "polyedge_feed_frames_per_second";
/// Gauge: bytes queued for the writer and not yet written.
pub const QUEUED_BYTES: &str = "polyedge_recorder_queued_bytes";
/// Gauge: the queue's limit (`collect.queue_bytes`).
pub const QUEUE_LIMIT: &str = "polyedge_recorder_queue_limit_bytes";
/// Gauge: bytes free on the recording's filesystem (when the free-space check is on).
pub const DISK_FREE: &str = "polyedge_disk_free_bytes";
/// Gauge: the free-space stop threshold, bytes (`collect.min_free_mb`; 0 = off).
pub const DISK_STOP_BELOW: &str = "polyedge_disk_stop_below_bytes";

/// Registers the help text of every recorder metric with the installed recorder.
pub fn describe() {
    describe_gauge!(
        FEED_CONNECTED,
        "1 while the stream has a session up, else 0"
    );
    describe_counter!(FEED_FRAMES, "Data frames received and queued for recording");
    describe_counter!(FEED_BYTES, "Payload bytes of the frames received");
    describe_counter!(FEED_GAPS, "Gap markers recorded (continuity lost)");
    describe_counter!(FEED_MALFORMED, "Frames not understood (recorded anyway)");
    describe_counter!(
        FEED_UNKNOWN,
        "Elements of unknown kind skipped (frame recorded)"
    );
    describe_counter!(FEED_VENUE_ERRORS, "Error envelopes sent by the venue");
    describe_counter!(FEED_OVERSIZE, "Frames above max_frame_bytes (not recorded)");
    describe_counter!(FEED_CONNECTS, "Successful connections, the first included");
    describe_counter!(FEED_CONNECT_FAILURES, "Failed connection attempts");
    describe_counter!(
        FEED_STALE,
        "Sessions ended for silence past the stale limit"
    );
    describe_counter!(FEED_RESYNCS, "Book resyncs");
    describe_gauge!(
        FEED_LAG,
        "Receive time minus venue time of the last frame carrying one, seconds"
    );
    describe_gauge!(
        FEED_LAST_FRAME_AGE,
        "Seconds since the stream's last data frame"
    );
    describe_gauge!(FEED_FPS, "Data frames per second over the last second");
    describe_gauge!(QUEUED_BYTES, "Bytes queued for the writer, not yet written");
    describe_gauge!(QUEUE_LIMIT, "The writer queue's limit, bytes");
    describe_gauge!(DISK_FREE, "Bytes free on the recording's filesystem");
    describe_gauge!(
        DISK_STOP_BELOW,
        "The recorder stops cleanly below this many free bytes (0: never)"
    );
}

/// Health of one stream, as the control port shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamHealth {
    /// A session is up.
    pub connected: bool,
    /// `up`, `down` (it tried and is not connected) or `idle` (nothing to subscribe to yet, e.g.
    /// the market channel before the first window is listed).
    pub state: &'static str,
    /// Seconds since its last data frame (since the start, before the first).
    pub last_frame_age_s: f64,
    /// Data frames so far.
    pub frames: u64,
}

#[derive(Debug, Default)]
struct HealthState {
    beat: Option<Instant>,
    stopping: bool,
    writer_stopped: bool,
    queued_bytes: usize,
    queue_limit: usize,
    streams: BTreeMap<String, StreamHealth>,
}

/// The recorder's health, updated every second by the collector; read by the control port's
/// `/health/live` and `/health/ready` (`polyedge-ops`). Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct FeedHealth(Arc<Mutex<HealthState>>);

/// Live means the collector's loop beat within this long.
const BEAT_LIMIT: Duration = Duration::from_secs(5);

impl FeedHealth {
    fn with<R>(&self, f: impl FnOnce(&mut HealthState) -> R) -> R {
        let mut g = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// Live: the collector's loop beat within 5 s, the writer is running and the recorder is not
    /// stopping. Details: `beat_age_s`, `writer`, `stopping`.
    pub fn live(&self) -> (bool, serde_json::Value) {
        self.with(|s| {
            let age = s.beat.map(|b| b.elapsed());
            let ok = age.is_some_and(|a| a < BEAT_LIMIT) && !s.writer_stopped && !s.stopping;
            (
                ok,
                serde_json::json!({
                    "beat_age_s": age.map(|a| a.as_secs_f64()),
                    "writer": if s.writer_stopped { "stopped" } else { "running" },
                    "stopping": s.stopping,
                }),
            )
        })
    }

    /// Ready: live, and every stream that tried to connect is connected (streams with nothing to
    /// subscribe to yet are `idle`, not down). Details: `down` (the streams down), `streams`
    /// (each stream's [`StreamHealth`]), `queued_bytes`, `queue_limit`.
    pub fn ready(&self) -> (bool, serde_json::Value) {
        let (live, mut detail) = self.live();
        self.with(|s| {
            let down: Vec<&str> = s
                .streams
                .iter()
                .filter(|(_, h)| h.state == "down")
                .map(|(k, _)| k.as_str())
                .collect();
            let ok = live && down.is_empty() && s.beat.is_some();
            if let Some(o) = detail.as_object_mut() {
                o.insert("down".into(), serde_json::json!(down));
                o.insert("streams".into(), serde_json::json!(s.streams));
                o.insert("queued_bytes".into(), s.queued_bytes.into());
                o.insert("queue_limit".into(), s.queue_limit.into());
            }
            (ok, detail)
        })
    }

    /// Streams that are not idle and have sent nothing for more than `limit_secs`: (name, seconds
    /// since their last frame, state).
    pub fn silent(&self, limit_secs: f64) -> Vec<(String, f64, &'static str)> {
        self.with(|s| {
            s.streams
                .iter()
                .filter(|(_, h)| h.state != "idle" && h.last_frame_age_s > limit_secs)
                .map(|(k, h)| (k.clone(), h.last_frame_age_s, h.state))
                .collect()
        })
    }

    /// Marks the recorder as stopping (health answers 503 from now on).
    pub fn stopping(&self) {
        self.with(|s| s.stopping = true);
    }

    /// Marks the writer as stopped (a write failure or a full disk).
    pub fn writer_stopped(&self) {
        self.with(|s| s.writer_stopped = true);
    }
}

/// Copies the counters into the metrics facade and `health` every second until shutdown.
pub(crate) async fn publish(
    registry: Registry,
    sink: Sink,
    queue_limit: usize,
    health: FeedHealth,
    mut shutdown: watch::Receiver<bool>,
) {
    let start = Instant::now();
    // Per stream: frames at the last change, and when that was.
    let mut last: BTreeMap<String, (u64, Instant)> = BTreeMap::new();
    let mut prev_tick = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    gauge!(QUEUE_LIMIT).set(queue_limit as f64);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = Instant::now();
        let dt = now.duration_since(prev_tick).as_secs_f64().max(1e-3);
        prev_tick = now;
        let mut streams = BTreeMap::new();
        registry.visit(|name, s| {
            let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            let frames = r(&s.frames);
            let connected = s.connected.load(Ordering::Relaxed);
            let feed = name.to_string();
            let entry = last.entry(feed.clone()).or_insert((0, start));
            let fps = (frames.saturating_sub(entry.0)) as f64 / dt;
            if frames != entry.0 {
                *entry = (frames, now);
            }
            let age = now.duration_since(entry.1).as_secs_f64();
            gauge!(FEED_CONNECTED, "feed" => feed.clone()).set(if connected { 1.0 } else { 0.0 });
            counter!(FEED_FRAMES, "feed" => feed.clone()).absolute(frames);
            counter!(FEED_BYTES, "feed" => feed.clone()).absolute(r(&s.bytes));
            counter!(FEED_GAPS, "feed" => feed.clone()).absolute(r(&s.gaps));
            counter!(FEED_MALFORMED, "feed" => feed.clone()).absolute(r(&s.malformed));
            counter!(FEED_UNKNOWN, "feed" => feed.clone()).absolute(r(&s.unknown));
            counter!(FEED_VENUE_ERRORS, "feed" => feed.clone()).absolute(r(&s.venue_errors));
            counter!(FEED_OVERSIZE, "feed" => feed.clone()).absolute(r(&s.oversize));
            counter!(FEED_CONNECTS, "feed" => feed.clone()).absolute(r(&s.connects));
            counter!(FEED_CONNECT_FAILURES, "feed" => feed.clone())
                .absolute(r(&s.connect_failures));
            counter!(FEED_STALE, "feed" => feed.clone()).absolute(r(&s.stale));
            counter!(FEED_RESYNCS, "feed" => feed.clone()).absolute(r(&s.resyncs));
            gauge!(FEED_LAG, "feed" => feed.clone()).set(r(&s.lag_last_ms) as f64 / 1000.0);
            gauge!(FEED_LAST_FRAME_AGE, "feed" => feed.clone()).set(age);
            gauge!(FEED_FPS, "feed" => feed.clone()).set(fps);
            let tried = r(&s.connects) > 0 || r(&s.connect_failures) > 0;
            streams.insert(
                feed,
                StreamHealth {
                    connected,
                    state: if connected {
                        "up"
                    } else if tried {
                        "down"
                    } else {
                        "idle"
                    },
                    last_frame_age_s: age,
                    frames,
                },
            );
        });
        let queued = sink.queued_bytes();
        gauge!(QUEUED_BYTES).set(queued as f64);
        health.with(|h| {
            h.beat = Some(now);
            h.queued_bytes = queued;
            h.queue_limit = queue_limit;
            h.streams = streams;
        });
    }
}
