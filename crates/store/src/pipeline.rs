//! An [`EventReplay`] on two cores: decompression, merging and parsing on a reader thread, the
//! consumer (the engine) on the caller's thread.
//!
//! A replay of the cronos recording spends about half its time decompressing and parsing
//! frames and half applying the events to books and running the strategies (BENCHMARKS.md,
//! "Pipelined replay"). [`PipelinedEvents`] moves the whole of an [`EventReplay`] — segment
//! reading, zstd, the receive-time merge, parsing, the window filter and the recording dedup —
//! onto a thread of its own and hands its events over in batches of [`BATCH_EVENTS`] through a
//! channel bounded to [`BATCHES_IN_FLIGHT`] batches, so memory stays bounded (a few MiB of
//! parsed events) and the two halves overlap. Emptied batch vectors go back to the reader for
//! reuse.
//!
//! The events, their order, the errors and the final [`ReplayStats`] are exactly those of the
//! [`EventReplay`] it wraps (tested): only the time they take changes. While the replay runs,
//! [`PipelinedEvents::stats`] counts the frames and events handed over so far and nothing else;
//! once the iterator has returned `None`, it is the wrapped replay's complete final counters.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use polyedge_core::MarketEvent;

use crate::{EventReplay, ReplayStats, StoreError};

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
