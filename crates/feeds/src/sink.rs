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

/// Wall-clock receive timestamps, never decreasing across the whole process (a clock step back
/// repeats the last value instead).
#[derive(Debug, Default)]
pub struct RecvClock {
    last: AtomicU64,
}

impl RecvClock {
    /// Now, ns since the epoch, ≥ every earlier result.
    pub fn now(&self) -> UnixNanos {
        let wall = wall_ns();
        let prev = self.last.fetch_max(wall, Ordering::Relaxed);
        UnixNanos(wall.max(prev))
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
}

impl std::fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterOptions")
            .field("flush", &self.flush)
            .field("fsync", &self.fsync)
            .field("queue_bytes", &self.queue_bytes)
            .field("durability", &self.durability)
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
    let slow_disk = opts.durability.slow_disk;
    let sink = Sink {
        tx,
        budget: Arc::new(Semaphore::new(budget_bytes)),
        budget_bytes,
        control: Arc::new(StreamId::of(Feed::Control)),
        clock: Arc::new(RecvClock::default()),
        loss: loss.clone(),
    };
    let join = std::thread::Builder::new()
        .name("polyedge-writer".into())
        .spawn(move || -> Result<WriterReport, FeedError> {
            let mut report = WriterReport::default();
            let report_dir = writer.dir().to_path_buf();
            let mut last_flush = Instant::now();
            let mut last_sync = Instant::now();
            // The loss bound's view: has a frame been applied since the last flush? And the
            // writer's throughput: queued bytes applied, time busy, since the last flush.
            let mut unflushed = false;
            let mut low_space: Option<u64> = None;
            let mut period_bytes = 0u64;
            let mut period_busy = Duration::ZERO;
            let take = |writer: &mut RecordingWriter,
                        item: Item,
                        unflushed: &mut bool,
                        bytes: &mut u64| {
                if let Item::Frame { queued, bytes: b, .. } = &item {
                    if !*unflushed {
                        loss.first_unflushed(*queued);
                        *unflushed = true;
                    }
                    *bytes += (b.len() + ITEM_OVERHEAD) as u64;
                }
                apply(writer, item, slow_disk)
            };
            let res = (|| -> Result<(), FeedError> {
                loop {
                    let wait = opts.flush.saturating_sub(last_flush.elapsed());
                    let mut disconnected = false;
                    match rx.recv_timeout(wait) {
                        Ok(item) => {
                            let busy = Instant::now();
                            take(&mut writer, item, &mut unflushed, &mut period_bytes)?;
                            // Drain what is queued, but flush on time even when lagging (the
                            // clock is read every 64 frames).
                            for i in 0..8192u32 {
                                if i % 64 == 63 && last_flush.elapsed() >= opts.flush {
                                    break;
                                }
                                match rx.try_recv() {
                                    Ok(item) => take(&mut writer, item, &mut unflushed, &mut period_bytes)?,
                                    Err(mpsc::TryRecvError::Empty) => break,
                                    Err(mpsc::TryRecvError::Disconnected) => {
                                        disconnected = true;
                                        break;
                                    }
                                }
                            }
                            period_busy += busy.elapsed();
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => disconnected = true,
                    }
                    if disconnected {
                        return Ok(());
                    }
                    if last_flush.elapsed() >= opts.flush {
                        let t = Instant::now();
                        if opts.fsync.is_some_and(|s| last_sync.elapsed() >= s) {
                            writer.sync()?;
                            last_sync = Instant::now();
                        } else {
                            writer.flush()?;
                        }
                        period_busy += t.elapsed();
                        loss.record_throughput(period_bytes, period_busy);
                        (period_bytes, period_busy) = (0, Duration::ZERO);
                        unflushed = false;
                        loss.flushed();
                        // A frame still queued is now the oldest unwritten one.
                        match rx.try_recv() {
                            Ok(item) => {
                                let busy = Instant::now();
                                take(&mut writer, item, &mut unflushed, &mut period_bytes)?;
                                period_busy += busy.elapsed();
                            }
                            Err(mpsc::TryRecvError::Empty) => {}
                            Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
                        }
                        if let Some(check) = space.as_mut()
                            && let Space::Stop(free) = check.poll(writer.dir())
                        {
                            low_space = Some(free);
                            return Ok(());
                        }
                        writer.close_segments_before(UnixNanos(wall_ns()))?;
                        for seg in writer.take_closed_segments() {
                            report.closed_segments += 1;
                            (opts.on_closed)(&seg);
                        }
                        report.flushes += 1;
                        last_flush = Instant::now();
                    }
                }
            })();
            if let Err(e) = res {
                tracing::error!(error = %e, dir = %writer.dir().display(), "recording writer failed; stopping");
                // Best effort: keep what was written readable (blocks flush on drop).
                drop(writer);
                loss.flushed();
                return Err(e);
            }
            if let Some(free) = low_space {
                // Stop cleanly before the disk is full: write what is queued, close and sync
                // every segment, write the manifest.
                tracing::error!(free_mib = free >> 20, dir = %writer.dir().display(), "disk nearly full: the recorder stops cleanly");
                if let Err(e) = rx_stop(&rx, &mut writer, &mut |w, item| {
                    take(w, item, &mut unflushed, &mut period_bytes)
                }) {
                    tracing::error!(error = %e, "writing the queued frames failed while stopping");
                }
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

fn apply(
    writer: &mut RecordingWriter,
    item: Item,
    slow_disk: Option<Duration>,
) -> Result<(), FeedError> {
    match item {
        Item::Frame {
            stream,
            recv_ns,
            bytes,
            ..
        } => {
            if let Some(d) = slow_disk {
                std::thread::sleep(d);
            }
            writer.append(&stream, recv_ns, &bytes)?;
        }
        Item::Window(w) => writer.upsert_window(*w),
    }
    Ok(())
}

/// On a clean stop: writes what is already queued (a bounded amount: at most the loss bound's
/// worth of frames, within the byte budget) so that it is not lost, then stops taking more.
fn rx_stop(
    rx: &mpsc::Receiver<Item>,
    writer: &mut RecordingWriter,
    take: &mut impl FnMut(&mut RecordingWriter, Item) -> Result<(), FeedError>,
) -> Result<(), FeedError> {
    while let Ok(item) = rx.try_recv() {
        take(writer, item)?;
    }
    Ok(())
}
