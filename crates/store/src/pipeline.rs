//! A replay on three threads: reading, decompressing and merging the frames
//! (`replay-frames`), parsing them into events (`replay-reader`), and the consumer (the
//! engine, on the caller's thread).
//!
//! A backtest of the cronos recording spends about a fifth of its time reading and
//! decompressing, two fifths parsing and two fifths in books and strategies (BENCHMARKS.md,
//! "Pipelined replay"). [`PipelinedEvents`] runs an [`EventReplay`] — parsing, the window filter
//! and the recording dedup — on a thread of its own and hands its events over in batches of
//! [`BATCH_EVENTS`]; that replay in turn reads its frames from a [`FrameReplay`] on a third
//! thread ([`EventReplay::read_frames_ahead`]), which hands them over as chunks of about
//! [`CHUNK_BYTES`] of raw bytes. Both channels hold at most [`BATCHES_IN_FLIGHT`] batches, so
//! memory stays bounded (a few MiB), and emptied buffers go back for reuse. The operating
//! system shares the machine's cores among the three; on two cores the stages overlap.
//!
//! The events, their order, the errors and the final [`ReplayStats`] are exactly those of the
//! [`EventReplay`] on one thread (tested): only the time they take changes. With several
//! recordings and the dedup on, the frames are read on the parsing thread (the dedup must know
//! exactly which recordings have frames left). While the replay runs,
//! [`PipelinedEvents::stats`] counts the frames and events handed over so far and nothing else;
//! once the iterator has returned `None`, it is the wrapped replay's complete final counters.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use polyedge_core::{MarketEvent, UnixNanos};

use crate::replay::FrameRef;
use crate::{EventReplay, FrameReplay, ReplayStats, StoreError, StreamId};

/// Events per batch handed from the reader thread to the consumer.
pub const BATCH_EVENTS: usize = 512;

/// Batches that may wait in the channel (the reader runs at most this far ahead).
pub const BATCHES_IN_FLIGHT: usize = 4;

type Item = Result<MarketEvent, StoreError>;

/// What the reader thread sends.
enum Msg {
    /// The next events, in order, and the wrapped replay's frame count after them.
    Batch { items: Vec<Item>, frames: u64 },
    /// The replay has ended; its final counters.
    End(Box<ReplayStats>),
}

/// Parsed events of an [`EventReplay`] read ahead on a thread of their own. See the
/// [module docs](self).
pub struct PipelinedEvents {
    rx: Option<Receiver<Msg>>,
    /// Emptied batch vectors, back to the reader.
    recycle: Option<SyncSender<Vec<Item>>>,
    /// The current batch, reversed (popped from the end).
    current: Vec<Item>,
    stats: ReplayStats,
    ended: bool,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PipelinedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelinedEvents")
            .field("ended", &self.ended)
            .field("frames", &self.stats.frames)
            .finish_non_exhaustive()
    }
}

impl PipelinedEvents {
    /// Starts `replay` on a new thread named `replay-reader`. Nothing else about the replay
    /// changes (see the [module docs](self)).
    ///
    /// # Errors
    /// [`StoreError::Usage`] if the operating system refuses to start a thread.
    pub fn spawn(replay: EventReplay) -> Result<Self, StoreError> {
        let replay = replay.read_frames_ahead()?;
        let (tx, rx) = sync_channel::<Msg>(BATCHES_IN_FLIGHT);
        let (recycle_tx, recycle_rx) = sync_channel::<Vec<Item>>(BATCHES_IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("replay-reader".into())
            .spawn(move || read_ahead(replay, &tx, &recycle_rx))
            .map_err(|e| {
                StoreError::Usage(format!("cannot start the replay reader thread: {e}"))
            })?;
        Ok(PipelinedEvents {
            rx: Some(rx),
            recycle: Some(recycle_tx),
            current: Vec::new(),
            stats: ReplayStats::default(),
            ended: false,
            handle: Some(handle),
        })
    }

    /// Counters: while the replay runs, only `frames` and `events` (those handed over so far);
    /// after the end, the complete final counters of the wrapped replay.
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// Waits for the reader thread; re-raises its panic, if it panicked.
    fn join(&mut self) {
        if let Some(h) = self.handle.take()
            && let Err(panic) = h.join()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The reader thread: runs the replay and sends its events in batches until the end or until
/// the consumer goes away.
fn read_ahead(mut replay: EventReplay, tx: &SyncSender<Msg>, recycle: &Receiver<Vec<Item>>) {
    loop {
        let mut items = match recycle.try_recv() {
            Ok(v) => v,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                Vec::with_capacity(BATCH_EVENTS)
            }
        };
        let mut end = false;
        while items.len() < BATCH_EVENTS {
            if let Some(item) = replay.next() {
                items.push(item);
            } else {
                end = true;
                break;
            }
        }
        let frames = replay.stats().frames;
        if !items.is_empty() && tx.send(Msg::Batch { items, frames }).is_err() {
            return;
        }
        if end {
            let _ = tx.send(Msg::End(Box::new(replay.stats().clone())));
            return;
        }
    }
}

impl Iterator for PipelinedEvents {
    type Item = Result<MarketEvent, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.pop() {
                self.stats.events += u64::from(item.is_ok());
                return Some(item);
            }
            if self.ended {
                return None;
            }
            let msg = self.rx.as_ref().and_then(|rx| rx.recv().ok());
            match msg {
                Some(Msg::Batch { mut items, frames }) => {
                    items.reverse();
                    let empty = std::mem::replace(&mut self.current, items);
                    if empty.capacity() > 0
                        && let Some(r) = &self.recycle
                    {
                        let _ = r.try_send(empty);
                    }
                    self.stats.frames = frames;
                }
                Some(Msg::End(stats)) => {
                    self.stats = *stats;
                    self.ended = true;
                    self.rx = None;
                    self.join();
                }
                None => {
                    // The reader stopped without an end message: it panicked.
                    self.ended = true;
                    self.rx = None;
                    self.join();
                    return None;
                }
            }
        }
    }
}

impl Drop for PipelinedEvents {
    fn drop(&mut self) {
        // Closing the channels stops the reader at its next send; then wait for it, so no
        // thread outlives the replay (it may hold files of a directory about to be removed).
        self.rx = None;
        self.recycle = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// ---- Frames read ahead: decompression and merging on a thread of their own -----------------

/// Raw bytes per chunk of frames handed from the frame thread to the parsing thread.
pub const CHUNK_BYTES: usize = 256 << 10;

/// One frame (or error) of a [`FrameChunk`].
enum ChunkItem {
    Frame {
        cursor: usize,
        recv_ns: UnixNanos,
        start: usize,
        len: usize,
    },
    Error(StoreError),
    /// An error already handed over.
    Taken,
}

/// Consecutive frames of a [`FrameReplay`], their bytes back to back.
#[derive(Default)]
struct FrameChunk {
    data: Vec<u8>,
    items: Vec<ChunkItem>,
}

enum FrameMsg {
    Chunk(FrameChunk),
    /// The frame replay has ended; its final counters.
    End(Box<ReplayStats>),
}

/// The frames of a [`FrameReplay`] running on a thread of its own (`replay-frames`): segment
/// reading, zstd, CRCs and the merge happen there; this side hands the frames out in the same
/// order with the same errors, and counts them as the replay does. See [`crate::pipeline`].
pub(crate) struct FramesAhead {
    rx: Option<Receiver<FrameMsg>>,
    recycle: Option<SyncSender<FrameChunk>>,
    chunk: FrameChunk,
    pos: usize,
    /// Stream and recording of each cursor, as the frame replay numbers them.
    pub(crate) streams: Vec<(StreamId, usize)>,
    pub(crate) recordings: usize,
    /// Counters: frame-level ones counted here as frames are handed out, replaced by the frame
    /// replay's own at the end; event-level ones kept by the [`EventReplay`] that owns this.
    pub(crate) stats: ReplayStats,
    ended: bool,
    handle: Option<JoinHandle<()>>,
}

impl FramesAhead {
    /// Starts `replay` on a new thread.
    pub(crate) fn spawn(replay: FrameReplay) -> Result<Self, StoreError> {
        let streams = replay.cursor_streams();
        let recordings = replay.recording_count();
        let stats = replay.stats().clone();
        let (tx, rx) = sync_channel::<FrameMsg>(BATCHES_IN_FLIGHT);
        let (recycle_tx, recycle_rx) = sync_channel::<FrameChunk>(BATCHES_IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("replay-frames".into())
            .spawn(move || read_frames(replay, &tx, &recycle_rx))
            .map_err(|e| StoreError::Usage(format!("cannot start the replay frame thread: {e}")))?;
        Ok(FramesAhead {
            rx: Some(rx),
            recycle: Some(recycle_tx),
            chunk: FrameChunk::default(),
            pos: 0,
            streams,
            recordings,
            stats,
            ended: false,
            handle: Some(handle),
        })
    }

    pub(crate) fn next_frame(&mut self) -> Option<Result<FrameRef<'_>, StoreError>> {
        loop {
            if self.pos < self.chunk.items.len() {
                let i = self.pos;
                self.pos += 1;
                let item = &mut self.chunk.items[i];
                if let ChunkItem::Frame {
                    cursor,
                    recv_ns,
                    start,
                    len,
                } = *item
                {
                    self.stats.frames += 1;
                    self.stats.bytes += len as u64;
                    let (stream, recording) = &self.streams[cursor];
                    return Some(Ok(FrameRef {
                        stream,
                        recording: *recording,
                        cursor,
                        recv_ns,
                        bytes: &self.chunk.data[start..start + len],
                    }));
                }
                if let ChunkItem::Error(e) = std::mem::replace(item, ChunkItem::Taken) {
                    self.stats.errors += 1;
                    return Some(Err(e));
                }
                continue;
            }
            if self.ended {
                return None;
            }
            match self.rx.as_ref().and_then(|rx| rx.recv().ok()) {
                Some(FrameMsg::Chunk(c)) => {
                    let old = std::mem::replace(&mut self.chunk, c);
                    self.pos = 0;
                    if let Some(r) = &self.recycle {
                        let _ = r.try_send(old);
                    }
                }
                Some(FrameMsg::End(st)) => {
                    self.stats.take_frame_level(*st);
                    self.finish();
                }
                None => {
                    // The frame thread stopped without an end message: it panicked.
                    self.finish();
                    return None;
                }
            }
        }
    }

    fn finish(&mut self) {
        self.ended = true;
        self.rx = None;
        if let Some(h) = self.handle.take()
            && let Err(panic) = h.join()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for FramesAhead {
    fn drop(&mut self) {
        self.rx = None;
        self.recycle = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The frame thread: runs the frame replay and sends its frames in chunks until the end or
/// until the receiver goes away.
fn read_frames(mut replay: FrameReplay, tx: &SyncSender<FrameMsg>, recycle: &Receiver<FrameChunk>) {
    loop {
        let mut chunk = recycle.try_recv().unwrap_or_default();
        chunk.data.clear();
        chunk.items.clear();
        let mut end = false;
        while chunk.data.len() < CHUNK_BYTES {
            match replay.next_frame() {
                Some(Ok(f)) => {
                    let start = chunk.data.len();
                    chunk.data.extend_from_slice(f.bytes);
                    chunk.items.push(ChunkItem::Frame {
                        cursor: f.cursor,
                        recv_ns: f.recv_ns,
                        start,
                        len: f.bytes.len(),
                    });
                }
                Some(Err(e)) => chunk.items.push(ChunkItem::Error(e)),
                None => {
                    end = true;
                    break;
                }
            }
        }
        if !chunk.items.is_empty() && tx.send(FrameMsg::Chunk(chunk)).is_err() {
            return;
        }
        if end {
            let _ = tx.send(FrameMsg::End(Box::new(replay.stats().clone())));
            return;
        }
    }
}
