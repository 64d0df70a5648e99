//! The recorder's write path: feed tasks hand frames to a [`Sink`]; one writer thread owns the
//! [`RecordingWriter`] and appends them.
//!
//! * **Bounded memory.** Every queued frame holds permits of a byte budget (`queue_bytes`: payload
//!   length + [`ITEM_OVERHEAD`]); a feed task waits for permits when the writer is behind, which
//!   stops it reading its socket (TCP back-pressure) instead of growing a queue.
//! * **Durability** ([`crate::durability`]). The writer ends the open zstd block of every
//!   segment at least every `flush` interval: those bytes are in the OS page cache. Feed tasks
//!   wait while the oldest frame not yet written is older than about `max_loss` (1 s), so a
//!   `kill -9` loses at most the frames received in the last second, even when the writer lags
//!   (readers drop the one torn block at each stream's end). Every `fsync` interval the open
//!   segments are also fsynced (survives an OS crash or power loss); closed segments, new files
//!   and directories are always synced. Free disk space is checked: a warning when it runs low,
//!   a clean stop before it runs out.
//! * **Rotation.** Segments rotate on the UTC hour of `recv_ns` (the store's rule); on every
//!   flush tick, segments of a past hour that are still open (a quiet stream) are closed.
//! * **Segment-closed hook.** Each closed segment is passed to a [`SegmentHook`] on the writer
//!   thread — the place where Parquet export is wired.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyedge_core::{UnixNanos, Window};
use polyedge_store::{ClosedSegment, RecordingSummary, RecordingWriter, StreamId};
use polyedge_venues::Feed;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::FeedError;
use crate::durability::{DurabilityOptions, LossBound, Space, SpaceCheck};

/// Budget permits charged per queued frame on top of its payload length (bytes).
pub const ITEM_OVERHEAD: usize = 64;

/// Name of the control stream (gap markers, REST snapshots, connection and discovery records).
pub const CONTROL_STREAM: &str = "control";

/// Called on the writer thread for every segment the writer closed.
pub type SegmentHook = Box<dyn FnMut(&ClosedSegment) + Send>;

/// Sees, on the writer thread, everything the writer writes, in write order: how `polyedge run`
/// feeds its engine exactly what its recording holds (so a backtest of the recording replays the
/// run). With a tap, the writer makes receive stamps strictly increasing in write order (a frame
/// stamped earlier than the previous one written takes the previous stamp + 1 ns), so the
/// recording's replay order is the write order.
pub trait Tap: Send {
    /// A frame of `stream` was written with receive time `recv_ns`.
    fn frame(&mut self, stream: &StreamId, recv_ns: UnixNanos, bytes: &[u8]);
    /// Nothing arrived for a tick interval; the receive clock reads `now` (≥ every stamp written).
    fn tick(&mut self, now: UnixNanos);
    /// The writer is finishing (the sinks are closed).
    fn finish(&mut self) {}
}

/// How often an idle writer ticks its [`Tap`].
pub const TAP_TICK: Duration = Duration::from_millis(25);

/// Receive timestamps, never decreasing across the whole process (a clock step back repeats the
/// last value instead).
///
/// Two modes: the wall clock (the venues), or, against `polyedge sandbox`, the sandbox's clock
/// ([`RecvClock::follow`]): each frame is stamped with the sandbox time the sandbox announced
/// in-band before sending it (a WebSocket Ping carrying `polyedge-sandbox-clock:<ns>`,
/// [`RecvClock::observe_ping`]), and, when nothing arrives, with `/sandbox/time`
/// ([`spawn_follow_poller`]). So a recording made from a sandbox at any speed has receive times on
/// the recording's own time axis, inside its windows.
#[derive(Debug, Default)]
pub struct RecvClock {
    last: AtomicU64,
    follow: Option<polyedge_core::FollowClock>,
    /// Wall time (ns) of the last frame stamped (for the idle poller).
    last_frame_wall: AtomicU64,
}

impl RecvClock {
    /// The wall clock.
    pub fn wall() -> Self {
        RecvClock::default()
    }

    /// A clock following a sandbox (starts at 0 until the first observation).
    pub fn follow() -> Self {
        RecvClock {
            follow: Some(polyedge_core::FollowClock::new()),
            ..RecvClock::default()
        }
    }

    /// Whether this clock follows a sandbox.
    pub fn is_follow(&self) -> bool {
        self.follow.is_some()
    }

    /// Now, ns since the epoch, ≥ every earlier result.
    pub fn now(&self) -> UnixNanos {
        let t = match &self.follow {
            Some(f) => polyedge_core::Clock::now(f).0,
            None => wall_ns(),
        };
        let prev = self.last.fetch_max(t, Ordering::Relaxed);
        UnixNanos(t.max(prev))
    }

    /// Now, for stamping a frame just received (also records when, for the idle poller).
    pub fn stamp_frame(&self) -> UnixNanos {
        self.last_frame_wall.store(wall_ns(), Ordering::Relaxed);
        self.now()
    }

    /// Wall time (ns) of the last [`Self::stamp_frame`], 0 if none.
    pub fn last_frame_wall(&self) -> u64 {
        self.last_frame_wall.load(Ordering::Relaxed)
    }

    /// Follow mode: the followed clock read `t`. No effect on a wall clock.
    pub fn observe(&self, t: UnixNanos) {
        if let Some(f) = &self.follow {
            f.observe(t);
        }
    }

    /// Follow mode: observes the sandbox time in a clock-ping payload (no effect otherwise, or if
    /// the payload is not a clock ping).
    pub fn observe_ping(&self, payload: &[u8]) {
        if let Some(f) = &self.follow {
            let _ = f.observe_ping(payload);
        }
    }
}

/// The wall clock, ns since the epoch.
pub fn wall_ns() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

enum Item {
    Frame {
        stream: Arc<StreamId>,
        recv_ns: UnixNanos,
        bytes: Bytes,
        _permit: OwnedSemaphorePermit,
        /// When it was queued ([`LossBound::now`]).
        queued: u64,
    },
    Window(Box<Window>),
}

/// The flush marker written before each flush of a run's recording (`docs/recording-format.md`
/// §4.7).
pub const FLUSH_RECORD: &[u8] = br#"{"type":"flush"}"#;

/// The control record of a window update (`docs/recording-format.md` §4.7).
pub fn window_record(w: &Window) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"type": "window", "window": w})).unwrap_or_default()
}

/// The writer thread stopped (I/O error, or the collector is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the recording writer has stopped")]
pub struct SinkClosed;

/// Where feed tasks put what they receive. Cheap to clone.
#[derive(Clone)]
pub struct Sink {
    tx: mpsc::Sender<Item>,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    control: Arc<StreamId>,
    clock: Arc<RecvClock>,
    loss: Arc<LossBound>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("queued_bytes", &self.queued_bytes())
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// The process-wide receive clock.
    pub fn clock(&self) -> &Arc<RecvClock> {
        &self.clock
    }

    /// Bytes of frames queued and not yet written (payload + overhead).
    pub fn queued_bytes(&self) -> usize {
        self.budget_bytes
            .saturating_sub(self.budget.available_permits())
    }

    /// How old the oldest frame not yet written to the files is (`None`: all written).
    pub fn oldest_unwritten(&self) -> Option<Duration> {
        self.loss.oldest_age()
    }

    /// Queues one raw frame of `stream` received at `recv_ns`. Waits while the byte budget is
    /// used up, and while the oldest frame not yet written is older than the loss bound (see
    /// [`crate::durability`]).
    ///
    /// # Errors
    /// [`SinkClosed`] if the writer has stopped.
    pub async fn frame(
        &self,
        stream: &Arc<StreamId>,
        recv_ns: UnixNanos,
        bytes: Bytes,
    ) -> Result<(), SinkClosed> {
        let need = (bytes.len() + ITEM_OVERHEAD).min(self.budget_bytes);
        self.loss.admit(need, || self.queued_bytes()).await;
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(u32::try_from(need).unwrap_or(u32::MAX))
            .await
            .map_err(|_| SinkClosed)?;
        let queued = self.loss.now();
        self.tx
            .send(Item::Frame {
                stream: stream.clone(),
                recv_ns,
                bytes,
                _permit: permit,
                queued,
            })
            .map_err(|_| SinkClosed)?;
        self.loss.queued(queued);
        Ok(())
    }

    /// Queues a control record (a JSON object with a `type`) stamped now; returns its time.
    ///
    /// # Errors
    /// [`SinkClosed`] if the writer has stopped.
    pub async fn control(&self, record: &serde_json::Value) -> Result<UnixNanos, SinkClosed> {
        let t = self.clock.now();
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        self.frame(&self.control, t, Bytes::from(bytes)).await?;
        Ok(t)
    }

    /// Queues a control record stamped `t` (e.g. the receive time of the frame that revealed a
    /// sequence break).
    ///
    /// # Errors
    /// [`SinkClosed`] if the writer has stopped.
    pub async fn control_at(
        &self,
        record: &serde_json::Value,
        t: UnixNanos,
    ) -> Result<(), SinkClosed> {
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        self.frame(&self.control, t, Bytes::from(bytes)).await
    }

    /// The control stream's id.
    pub fn control_stream(&self) -> &Arc<StreamId> {
        &self.control
    }

    /// Records a gap marker: continuity on `stream` was lost (replays as `EventKind::Gap`).
    ///
    /// # Errors
    /// [`SinkClosed`] if the writer has stopped.
    pub async fn gap(&self, stream: &str, reason: &str) -> Result<UnixNanos, SinkClosed> {
        self.control(&serde_json::json!({"type": "gap", "stream": stream, "reason": reason}))
            .await
    }

    /// Adds or replaces a window in the recording's index (written at the next flush).
    ///
    /// # Errors
    /// [`SinkClosed`] if the writer has stopped.
    pub fn window(&self, w: Window) -> Result<(), SinkClosed> {
        self.tx
            .send(Item::Window(Box::new(w)))
            .map_err(|_| SinkClosed)
    }
}

/// Writer-thread settings.
pub struct WriterOptions {
    /// Flush interval (≤ 1 s).
    pub flush: Duration,
    /// fsync interval of open segments; `None` = only on close.
    pub fsync: Option<Duration>,
    /// Byte budget of queued frames.
    pub queue_bytes: usize,
    /// Called for each closed segment.
    pub on_closed: SegmentHook,
    /// Loss bound, free-space check (see [`crate::durability`]).
    pub durability: DurabilityOptions,
    /// The receive clock (wall, or following a sandbox): it closes quiet segments of past hours,
    /// stamps window records and ticks the tap.
    pub clock: Arc<RecvClock>,
    /// Also write each window update as a control record (`{"type":"window",…}`) and declare it
    /// in the manifest, so replays list and settle windows as they happened.
    pub window_records: bool,
    /// Sees everything written, in write order ([`Tap`]).
    pub tap: Option<Box<dyn Tap>>,
}

impl std::fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterOptions")
            .field("flush", &self.flush)
            .field("fsync", &self.fsync)
            .field("queue_bytes", &self.queue_bytes)
            .field("durability", &self.durability)
            .field("window_records", &self.window_records)
            .field("tap", &self.tap.is_some())
            .finish_non_exhaustive()
    }
}
/// What the writer thread did.
#[derive(Debug, Clone, Default)]
pub struct WriterReport {
    /// The recording writer's summary (frames and bytes per stream, segments, windows).
    pub summary: RecordingSummary,
    /// Flushes done.
    pub flushes: u64,
    /// Segments passed to the hook.
    pub closed_segments: u64,
}

/// The running writer thread.
#[derive(Debug)]
pub struct WriterHandle {
    join: JoinHandle<Result<WriterReport, FeedError>>,
}

impl WriterHandle {
    /// Waits for the writer to drain its queue and finish the recording. The writer ends when
    /// every [`Sink`] clone has been dropped.
    ///
    /// # Errors
    /// The writer's I/O error, or [`FeedError::Io`] if the thread panicked.
    pub fn join(self) -> Result<WriterReport, FeedError> {
        self.join
            .join()
            .map_err(|_| FeedError::Io("recording writer thread panicked".into()))?
    }

    /// `true` once the writer thread has ended (finished or failed).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

/// Starts the writer thread over `writer`; returns the sink feeding it.
///
/// # Errors
/// [`FeedError::Io`] if the thread cannot be spawned.
pub fn spawn_writer(
    mut writer: RecordingWriter,
    mut opts: WriterOptions,
) -> Result<(Sink, WriterHandle), FeedError> {
    let (tx, rx) = mpsc::channel::<Item>();
    let budget_bytes = opts.queue_bytes.min(Semaphore::MAX_PERMITS);
    let loss = Arc::new(LossBound::new(opts.durability.max_loss, opts.flush));
    let mut space = SpaceCheck::new(&mut opts.durability);
    let sink = Sink {
        tx,
        budget: Arc::new(Semaphore::new(budget_bytes)),
        budget_bytes,
        control: Arc::new(StreamId::of(Feed::Control)),
        clock: opts.clock.clone(),
        loss: loss.clone(),
    };
    if opts.window_records {
        writer.declare_window_records()?;
    }
    let join = std::thread::Builder::new()
        .name("polyedge-writer".into())
        .spawn(move || -> Result<WriterReport, FeedError> {
            let mut report = WriterReport::default();
            let report_dir = writer.dir().to_path_buf();
            let mut last_flush = Instant::now();
            let mut last_sync = Instant::now();
            let mut last_tick = Instant::now();
            let mut low_space: Option<u64> = None;
            let mut w = Writing {
                writer: &mut writer,
                control: StreamId::of(Feed::Control),
                clock: opts.clock.clone(),
                window_records: opts.window_records,
                tap: opts.tap.take(),
                last: 0,
                last_marker: 0,
                durable: Durable {
                    loss: loss.clone(),
                    slow_disk: opts.durability.slow_disk,
                    unflushed: false,
                    period_bytes: 0,
                    period_busy: Duration::ZERO,
                },
            };
            let res = (|| -> Result<(), FeedError> {
                loop {
                    let mut wait = opts.flush.saturating_sub(last_flush.elapsed());
                    if w.tap.is_some() {
                        wait = wait.min(TAP_TICK.saturating_sub(last_tick.elapsed()));
                    }
                    let mut disconnected = false;
                    let mut got = false;
                    match rx.recv_timeout(wait) {
                        Ok(item) => {
                            got = true;
                            let busy = Instant::now();
                            w.apply(item)?;
                            // Drain what is queued, but flush on time even when lagging (the
                            // clock is read every 64 frames).
                            for i in 0..8192u32 {
                                if i % 64 == 63 && last_flush.elapsed() >= opts.flush {
                                    break;
                                }
                                match rx.try_recv() {
                                    Ok(item) => w.apply(item)?,
                                    Err(mpsc::TryRecvError::Empty) => break,
                                    Err(mpsc::TryRecvError::Disconnected) => {
                                        disconnected = true;
                                        break;
                                    }
                                }
                            }
                            w.durable.period_busy += busy.elapsed();
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => disconnected = true,
                    }
                    if disconnected {
                        return Ok(());
                    }
                    if !got && last_tick.elapsed() >= TAP_TICK {
                        w.tick();
                        last_tick = Instant::now();
                    } else if got {
                        last_tick = Instant::now();
                    }
                    if last_flush.elapsed() >= opts.flush {
                        let t = Instant::now();
                        w.mark_flush()?;
                        if opts.fsync.is_some_and(|s| last_sync.elapsed() >= s) {
                            w.writer.sync()?;
                            last_sync = Instant::now();
                        } else {
                            w.writer.flush()?;
                        }
                        w.durable.period_busy += t.elapsed();
                        w.durable.flushed();
                        // A frame still queued is now the oldest unwritten one.
                        match rx.try_recv() {
                            Ok(item) => {
                                let busy = Instant::now();
                                w.apply(item)?;
                                w.durable.period_busy += busy.elapsed();
                            }
                            Err(mpsc::TryRecvError::Empty) => {}
                            Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
                        }
                        if let Some(check) = space.as_mut()
                            && let Space::Stop(free) = check.poll(w.writer.dir())
                        {
                            low_space = Some(free);
                            return Ok(());
                        }
                        w.writer.close_segments_before(opts.clock.now())?;
                        for seg in w.writer.take_closed_segments() {
                            report.closed_segments += 1;
                            (opts.on_closed)(&seg);
                        }
                        report.flushes += 1;
                        last_flush = Instant::now();
                    }
                }
            })();
            if res.is_ok()
                && let Some(free) = low_space
            {
                // Stop cleanly before the disk is full: write what is already queued (at most
                // the loss bound's worth, within the byte budget), then close and sync every
                // segment and write the manifest.
                tracing::error!(free_mib = free >> 20, dir = %w.writer.dir().display(), "disk nearly full: the recorder stops cleanly");
                while let Ok(item) = rx.try_recv() {
                    if let Err(e) = w.apply(item) {
                        tracing::error!(error = %e, "writing the queued frames failed while stopping");
                        break;
                    }
                }
            }
            if let Some(tap) = w.tap.as_mut() {
                tap.finish();
            }
            drop(w);
            if let Err(e) = res {
                tracing::error!(error = %e, dir = %writer.dir().display(), "recording writer failed; stopping");
                // Best effort: keep what was written readable (blocks flush on drop).
                drop(writer);
                loss.flushed();
                return Err(e);
            }
            let mut summary = writer.finish()?;
            loss.flushed();
            for seg in std::mem::take(&mut summary.closed) {
                report.closed_segments += 1;
                (opts.on_closed)(&seg);
            }
            report.summary = summary;
            if let Some(free) = low_space {
                return Err(FeedError::DiskFull {
                    dir: report_dir,
                    free_bytes: free,
                });
            }
            Ok(report)
        })
        .map_err(|e| FeedError::Io(format!("cannot start the writer thread: {e}")))?;
    Ok((sink, WriterHandle { join }))
}

/// The writer thread's state between items.
struct Writing<'a> {
    writer: &'a mut RecordingWriter,
    control: StreamId,
    clock: Arc<RecvClock>,
    window_records: bool,
    tap: Option<Box<dyn Tap>>,
    /// Last stamp written (tap mode: stamps are made strictly increasing).
    last: u64,
    /// Stamp of the last flush marker.
    last_marker: u64,
    /// The loss bound's view of the writer ([`crate::durability`]).
    durable: Durable,
}

/// What the loss bound needs from the writer thread: whether a queued frame was written since
/// the last flush (and when the first one was queued), and the writer's throughput (queued bytes
/// written, time busy) since the last flush.
struct Durable {
    loss: Arc<LossBound>,
    /// Test hook: sleep this long before each frame (a slow disk).
    slow_disk: Option<Duration>,
    unflushed: bool,
    period_bytes: u64,
    period_busy: Duration,
}

impl Durable {
    /// A frame queued at `queued` ([`LossBound::now`]) with `len` payload bytes is being written.
    fn frame(&mut self, queued: u64, len: usize) {
        if !self.unflushed {
            self.loss.first_unflushed(queued);
            self.unflushed = true;
        }
        self.period_bytes += (len + ITEM_OVERHEAD) as u64;
        if let Some(d) = self.slow_disk {
            std::thread::sleep(d);
        }
    }

    /// The open segments were flushed: everything written so far survives a kill -9.
    fn flushed(&mut self) {
        self.loss
            .record_throughput(self.period_bytes, self.period_busy);
        (self.period_bytes, self.period_busy) = (0, Duration::ZERO);
        self.unflushed = false;
        self.loss.flushed();
    }
}

impl Writing<'_> {
    /// The stamp a frame stamped `t` is written with: `t`, or with a tap the previous stamp +
    /// 1 ns if `t` is not later.
    fn stamp(&mut self, t: UnixNanos) -> UnixNanos {
        if self.tap.is_some() {
            let s = t.0.max(self.last.saturating_add(1));
            self.last = s;
            UnixNanos(s)
        } else {
            self.last = self.last.max(t.0);
            t
        }
    }

    fn write(&mut self, stream: &StreamId, t: UnixNanos, bytes: &[u8]) -> Result<(), FeedError> {
        let t = self.stamp(t);
        self.writer.append(stream, t, bytes)?;
        if let Some(tap) = self.tap.as_mut() {
            tap.frame(stream, t, bytes);
        }
        Ok(())
    }

    fn apply(&mut self, item: Item) -> Result<(), FeedError> {
        match item {
            Item::Frame {
                stream,
                recv_ns,
                bytes,
                _permit,
                queued,
            } => {
                self.durable.frame(queued, bytes.len());
                self.write(&stream, recv_ns, &bytes)?;
            }
            Item::Window(w) => {
                if self.window_records {
                    let rec = window_record(&w);
                    let control = self.control.clone();
                    self.write(&control, self.clock.now(), &rec)?;
                }
                self.writer.upsert_window(*w);
            }
        }
        Ok(())
    }

    /// With a tap, writes a flush marker (`{"type":"flush"}`) just before a flush, only when
    /// frames were written since the last one: every frame stamped before it is durable with it
    /// in every stream. A reader of a recording cut by a crash knows from the last marker up to
    /// where all streams are complete (a stream's encoder may have written later frames on its
    /// own, another's not).
    fn mark_flush(&mut self) -> Result<(), FeedError> {
        if self.tap.is_none() || self.last <= self.last_marker {
            return Ok(());
        }
        let control = self.control.clone();
        self.write(&control, self.clock.now(), FLUSH_RECORD)?;
        self.last_marker = self.last;
        Ok(())
    }

    fn tick(&mut self) {
        if let Some(tap) = self.tap.as_mut() {
            // Frames written after a tick are stamped after it: the tap never sees time go back,
            // so what it did on the tick is what a replay of the recording does.
            let now = self.clock.now().0.max(self.last);
            self.last = now;
            tap.tick(UnixNanos(now));
        }
    }
}
