//! The recorder's write path: feed tasks hand frames to a [`Sink`]; one writer thread owns the
//! [`RecordingWriter`] and appends them.
//!
//! * **Bounded memory.** Every queued frame holds permits of a byte budget (`queue_bytes`: payload
//!   length + [`ITEM_OVERHEAD`]); a feed task waits for permits when the writer is behind, which
//!   stops it reading its socket (TCP back-pressure) instead of growing a queue.
//! * **Durability.** The writer ends the open zstd block of every segment at least every
//!   `flush` interval (≤ 1 s): those bytes are in the OS page cache, so a `kill -9` loses at most
//!   the frames of the last interval (and readers drop the one torn block). Every `fsync`
//!   interval the open segments are also fsynced (survives an OS crash or power loss); closed
//!   segments are always fsynced.
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

    /// Queues one raw frame of `stream` received at `recv_ns`. Waits while the byte budget is
    /// used up.
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
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(u32::try_from(need).unwrap_or(u32::MAX))
            .await
            .map_err(|_| SinkClosed)?;
        self.tx
            .send(Item::Frame {
                stream: stream.clone(),
                recv_ns,
                bytes,
                _permit: permit,
            })
            .map_err(|_| SinkClosed)
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
}

impl std::fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterOptions")
            .field("flush", &self.flush)
            .field("fsync", &self.fsync)
            .field("queue_bytes", &self.queue_bytes)
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
    let sink = Sink {
        tx,
        budget: Arc::new(Semaphore::new(budget_bytes)),
        budget_bytes,
        control: Arc::new(StreamId::of(Feed::Control)),
        clock: Arc::new(RecvClock::default()),
    };
    let join = std::thread::Builder::new()
        .name("polyedge-writer".into())
        .spawn(move || -> Result<WriterReport, FeedError> {
            let mut report = WriterReport::default();
            let mut last_flush = Instant::now();
            let mut last_sync = Instant::now();
            let res = (|| -> Result<(), FeedError> {
                loop {
                    let wait = opts.flush.saturating_sub(last_flush.elapsed());
                    let mut disconnected = false;
                    match rx.recv_timeout(wait) {
                        Ok(item) => {
                            apply(&mut writer, item)?;
                            // Drain what is queued without re-checking the clock per item.
                            for _ in 0..8192 {
                                match rx.try_recv() {
                                    Ok(item) => apply(&mut writer, item)?,
                                    Err(mpsc::TryRecvError::Empty) => break,
                                    Err(mpsc::TryRecvError::Disconnected) => {
                                        disconnected = true;
                                        break;
                                    }
                                }
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => disconnected = true,
                    }
                    if disconnected {
                        return Ok(());
                    }
                    if last_flush.elapsed() >= opts.flush {
                        if opts.fsync.is_some_and(|s| last_sync.elapsed() >= s) {
                            writer.sync()?;
                            last_sync = Instant::now();
                        } else {
                            writer.flush()?;
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
                return Err(e);
            }
            let mut summary = writer.finish()?;
            for seg in std::mem::take(&mut summary.closed) {
                report.closed_segments += 1;
                (opts.on_closed)(&seg);
            }
            report.summary = summary;
            Ok(report)
        })
        .map_err(|e| FeedError::Io(format!("cannot start the writer thread: {e}")))?;
    Ok((sink, WriterHandle { join }))
}

fn apply(writer: &mut RecordingWriter, item: Item) -> Result<(), FeedError> {
    match item {
        Item::Frame {
            stream,
            recv_ns,
            bytes,
            _permit,
        } => writer.append(&stream, recv_ns, &bytes)?,
        Item::Window(w) => writer.upsert_window(*w),
    }
    Ok(())
}
