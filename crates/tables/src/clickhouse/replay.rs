//! Replay from ClickHouse: the frames of one or several recordings in the order of
//! [`polyedge_store::FrameReplay`], and their parsed events as [`polyedge_store::EventReplay`].
//!
//! Order (docs/recording-format.md §5): one cursor per (recording, stream), numbered by
//! recording (the order given), then stream name; each cursor reads its stream's segments by
//! hour, then collision suffix, and each segment by record index; a k-way merge on
//! `(recv_ns, cursor)` interleaves the cursors. Records going back in time are emitted where
//! they are and counted in `out_of_order`. Rows are fetched a page at a time (at most
//! [`PAGE_ROWS`] per cursor in memory); repeated keys (duplicates from a repeated load) are
//! skipped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use polyedge_core::{MarketEvent, UnixNanos, Window};
use polyedge_store::dedup::SourceDedup;
use polyedge_store::replay::{MAX_PARSE_ERROR_SAMPLES, ParseErrorSample};
use polyedge_store::{Frame, FrameRef, ReplayFilter, ReplayStats, StreamId, WindowSelection};
use polyedge_venues::Feed;
use serde::Deserialize;

use super::ChDb;
use crate::TableError;
use crate::tables::Payload;

/// Rows fetched per query and cursor.
pub const PAGE_ROWS: u64 = 20_000;

const NANOS_PER_HOUR: u64 = polyedge_store::recording::NANOS_PER_HOUR;

#[derive(Debug, Deserialize, ::clickhouse::Row)]
struct SegmentKey {
    stream: String,
    segment_hour: u32,
    segment_seq: u32,
    feed_code: u8,
}

#[derive(Debug, Deserialize, ::clickhouse::Row)]
struct FetchedFrame {
    record: u32,
    recv_ns: i64,
    payload: Payload,
}

struct Cursor {
    recording_idx: usize,
    recording: String,
    stream: StreamId,
    /// (hour, seq) in replay order, after the time filter.
    segments: Vec<(u32, u32)>,
    next_segment: usize,
    /// The segment being read: (hour, seq, more pages may follow).
    current: Option<(u32, u32, bool)>,
    page: VecDeque<FetchedFrame>,
    last_record: Option<u32>,
    frame: Option<FetchedFrame>,
}

/// Raw frames of recordings stored in ClickHouse, in file-replay order. See the
/// [module docs](self).
pub struct ChFrameReplay {
    db: ChDb,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    to_advance: Vec<usize>,
    from: i64,
    to: i64,
    last_emitted: Option<u64>,
    stats: ReplayStats,
}

impl std::fmt::Debug for ChFrameReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChFrameReplay")
            .field("db", &self.db)
            .field("cursors", &self.cursors.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn data_err(db: &ChDb, message: String) -> TableError {
    TableError::Data {
        url: db.config().display(),
        message,
    }
}

impl ChFrameReplay {
    /// Replays `recordings` (names in the database; merged, ties to the earlier one) with the
    /// time part of `filter`. An empty slice means every recording in the database, by name.
    ///
    /// # Errors
    /// [`TableError::Usage`] for an unknown recording or `from > to`;
    /// [`TableError::ClickHouse`] on request failures.
    pub async fn open(
        db: &ChDb,
        recordings: &[String],
        filter: &ReplayFilter,
    ) -> Result<Self, TableError> {
        let from = filter.from.map_or(0, |t| t.0);
        let to = filter.to.map_or(u64::MAX, |t| t.0);
        if from > to {
            return Err(TableError::Usage(format!(
                "replay filter: from ({}) is after to ({})",
                UnixNanos(from),
                UnixNanos(to)
            )));
        }
        let names = db.resolve_recordings(recordings).await?;
        let mut stats = ReplayStats::default();
        let mut cursors: Vec<Cursor> = Vec::new();
        for (ri, name) in names.iter().enumerate() {
            let keys: Vec<SegmentKey> = db
                .timed(
                    "list segments",
                    db.client()
                        .query(
                            "SELECT stream, segment_hour, segment_seq, any(feed_code) AS feed_code \
                             FROM frames WHERE recording = ? \
                             GROUP BY stream, segment_hour, segment_seq",
                        )
                        .bind(name.as_str())
                        .fetch_all(),
                )
                .await?;
            let mut keys = keys;
            keys.sort_by(|a, b| {
                (a.stream.as_bytes(), a.segment_hour, a.segment_seq).cmp(&(
                    b.stream.as_bytes(),
                    b.segment_hour,
                    b.segment_seq,
                ))
            });
            for k in keys {
                let feed = Feed::from_code(k.feed_code).ok_or_else(|| {
                    data_err(
                        db,
                        format!(
                            "{name}/{}: unknown feed code {} in frames",
                            k.stream, k.feed_code
                        ),
                    )
                })?;
                let start = u64::from(k.segment_hour) * NANOS_PER_HOUR;
                let inside = filter.overlaps(UnixNanos(start), UnixNanos(start + NANOS_PER_HOUR));
                let c = match cursors.last_mut() {
                    Some(c) if c.recording_idx == ri && c.stream.name == k.stream => c,
                    _ => {
                        let stream = StreamId::named(feed, &k.stream)
                            .map_err(|e| data_err(db, format!("{name}: bad stream name: {e}")))?;
                        cursors.push(Cursor {
                            recording_idx: ri,
                            recording: name.clone(),
                            stream,
                            segments: Vec::new(),
                            next_segment: 0,
                            current: None,
                            page: VecDeque::new(),
                            last_record: None,
                            frame: None,
                        });
                        cursors
                            .last_mut()
                            .ok_or_else(|| data_err(db, "internal: no cursor".to_string()))?
                    }
                };
                if c.stream.feed != feed {
                    return Err(data_err(
                        db,
                        format!(
                            "{name}/{}: segments of feeds {} and {}",
                            k.stream, c.stream.feed, feed
                        ),
                    ));
                }
                if inside {
                    c.segments.push((k.segment_hour, k.segment_seq));
                } else {
                    stats.segments_skipped += 1;
                }
            }
        }
        Ok(ChFrameReplay {
            db: db.clone(),
            to_advance: (0..cursors.len()).rev().collect(),
            heap: BinaryHeap::with_capacity(cursors.len()),
            cursors,
            from: i64::try_from(from).unwrap_or(i64::MAX),
            to: i64::try_from(to).unwrap_or(i64::MAX),
            last_emitted: None,
            stats,
        })
    }

    /// Counters so far (`torn_tails` and `errors` stay 0: ClickHouse holds only valid records).
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// Number of stream cursors.
    pub fn cursor_count(&self) -> usize {
        self.cursors.len()
    }

    /// The stream of cursor `cursor`.
    pub fn cursor_stream(&self, cursor: usize) -> Option<&StreamId> {
        self.cursors.get(cursor).map(|c| &c.stream)
    }

    /// Whether recording `rec` (index in the order given) has frames not yet returned (as
    /// [`polyedge_store::FrameReplay::recording_has_more`]).
    pub fn recording_has_more(&self, rec: usize) -> bool {
        let of_rec = |k: usize| self.cursors.get(k).is_some_and(|c| c.recording_idx == rec);
        self.heap.iter().any(|Reverse((_, k))| of_rec(*k))
            || self.to_advance.iter().any(|&k| of_rec(k))
    }

    /// The next frame, borrowed (valid until the next call); `None` at the end.
    pub async fn next_frame(&mut self) -> Option<Result<FrameRef<'_>, TableError>> {
        while let Some(i) = self.to_advance.pop() {
            match self.advance(i).await {
                Ok(Some(t)) => self.heap.push(Reverse((t, i))),
                Ok(None) => {}
                Err(e) => {
                    self.to_advance.push(i);
                    self.stats.errors += 1;
                    return Some(Err(e));
                }
            }
        }
        let Reverse((t, i)) = self.heap.pop()?;
        self.to_advance.push(i);
        if self.last_emitted.is_some_and(|last| t < last) {
            self.stats.out_of_order += 1;
        }
        self.last_emitted = Some(t);
        let c = &self.cursors[i];
        let bytes = c.frame.as_ref().map_or(&[][..], |f| &f.payload.0[..]);
        self.stats.frames += 1;
        self.stats.bytes += bytes.len() as u64;
        Some(Ok(FrameRef {
            stream: &c.stream,
            recording: c.recording_idx,
            cursor: i,
            recv_ns: UnixNanos(t),
            bytes,
        }))
    }

    /// Moves cursor `i` to its next frame; its `recv_ns`, or `None` at the end.
    async fn advance(&mut self, i: usize) -> Result<Option<u64>, TableError> {
        loop {
            let c = &mut self.cursors[i];
            if let Some(f) = c.page.pop_front() {
                if c.last_record == Some(f.record) {
                    continue; // a duplicate row (same key loaded twice)
                }
                c.last_record = Some(f.record);
                let t = u64::try_from(f.recv_ns).unwrap_or(0);
                c.frame = Some(f);
                return Ok(Some(t));
            }
            if let Some((hour, seq, true)) = c.current {
                let start = c.last_record.map_or(0, |r| r + 1);
                let page = fetch_page(
                    &self.db,
                    &c.recording,
                    &c.stream.name,
                    (hour, seq),
                    start,
                    (self.from, self.to),
                )
                .await?;
                let c = &mut self.cursors[i];
                let more = page.len() as u64 == PAGE_ROWS;
                c.current = Some((hour, seq, more));
                c.page = page.into();
            } else {
                let Some(&(hour, seq)) = c.segments.get(c.next_segment) else {
                    c.frame = None;
                    return Ok(None);
                };
                c.next_segment += 1;
                c.current = Some((hour, seq, true));
                c.last_record = None;
                self.stats.segments += 1;
            }
        }
    }
}

async fn fetch_page(
    db: &ChDb,
    recording: &str,
    stream: &str,
    (hour, seq): (u32, u32),
    start: u32,
    (from, to): (i64, i64),
) -> Result<Vec<FetchedFrame>, TableError> {
    db.timed_fetch(
        "read frames",
        db.client()
            .query(
                "SELECT record, recv_ns, payload FROM frames \
                 WHERE recording = ? AND stream = ? AND segment_hour = ? AND segment_seq = ? \
                 AND record >= ? AND recv_ns >= ? AND recv_ns < ? \
                 ORDER BY record LIMIT ?",
            )
            .bind(recording)
            .bind(stream)
            .bind(hour)
            .bind(seq)
            .bind(start)
            .bind(from)
            .bind(to)
            .bind(PAGE_ROWS)
            .fetch_all(),
    )
    .await
}

/// Parsed events of recordings stored in ClickHouse: the same events, in the same order and
/// with the same asset/window filter ([`WindowSelection`], over the recordings' `windows`
/// rows) and parse-error accounting as [`polyedge_store::EventReplay`] over the files.
pub struct ChEventReplay {
    frames: ChFrameReplay,
    selection: Option<WindowSelection>,
    /// The window index of each recording, in replay order (for [`Self::with_dedup`]).
    windows: Vec<Vec<Window>>,
    dedup: Option<SourceDedup>,
    pending: Vec<MarketEvent>,
    current: Option<usize>,
}

impl std::fmt::Debug for ChEventReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChEventReplay")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl ChEventReplay {
    /// Replays `recordings` (empty = all) with `filter`.
    ///
    /// # Errors
    /// As [`ChFrameReplay::open`]; [`TableError::Store`] if the filter names a window that
    /// is in none of the recordings' window indices.
    pub async fn open(
        db: &ChDb,
        recordings: &[String],
        filter: &ReplayFilter,
    ) -> Result<Self, TableError> {
        let frames = ChFrameReplay::open(db, recordings, filter).await?;
        let names = db.resolve_recordings(recordings).await?;
        let mut windows = Vec::new();
        for n in &names {
            windows.push(db.windows(n).await?);
        }
        let selection = WindowSelection::new(windows.iter().flatten(), filter)?;
        Ok(ChEventReplay {
            frames,
            selection,
            windows,
            dedup: None,
            pending: Vec::with_capacity(64),
            current: None,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReplayStats {
        self.frames.stats()
    }

    /// The stream of the event last yielded.
    pub fn current_stream(&self) -> Option<&StreamId> {
        self.current.and_then(|c| self.frames.cursor_stream(c))
    }

    /// As [`polyedge_store::EventReplay::with_dedup`]: with `on` and more than one recording,
    /// each event comes from one recording only ([`polyedge_store::dedup`]).
    pub fn with_dedup(mut self, on: bool) -> Self {
        self.dedup = (on && self.windows.len() > 1).then(|| SourceDedup::new(self.windows.len()));
        self
    }

    /// The next event; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<MarketEvent, TableError>> {
        loop {
            if let Some(ev) = self.pending.pop() {
                self.frames.stats.events += 1;
                return Some(Ok(ev));
            }
            let (cursor, stream_name, recv_ns, res) = match self.frames.next_frame().await? {
                Ok(f) => {
                    let res = f.stream.feed.parse(f.bytes, f.recv_ns, &mut self.pending);
                    (f.cursor, f.stream.name.clone(), f.recv_ns, res)
                }
                Err(e) => return Some(Err(e)),
            };
            self.current = Some(cursor);
            if let Err(e) = res {
                self.pending.clear();
                record_parse_error(&mut self.frames.stats, &stream_name, recv_ns, &e);
                continue;
            }
            if let Some(sel) = &self.selection {
                let before = self.pending.len();
                self.pending.retain(|e| sel.keeps(e));
                self.frames.stats.filtered_events += (before - self.pending.len()) as u64;
            }
            if let (Some(d), Some(c)) = (&mut self.dedup, self.frames.cursors.get(cursor)) {
                let frames = &self.frames;
                let dropped = d.retain(&mut self.pending, c.recording_idx, &c.stream.name, |i| {
                    frames.recording_has_more(i)
                });
                self.frames.stats.duplicate_events += dropped;
            }
            self.pending.reverse();
        }
    }
}

fn record_parse_error(
    stats: &mut ReplayStats,
    stream: &str,
    recv_ns: UnixNanos,
    err: &polyedge_venues::ParseError,
) {
    stats.parse_errors += 1;
    let n = {
        let e = stats
            .parse_errors_by_stream
            .entry(stream.to_string())
            .or_default();
        *e += 1;
        *e
    };
    if stats.parse_error_samples.len() < MAX_PARSE_ERROR_SAMPLES {
        stats.parse_error_samples.push(ParseErrorSample {
            stream: stream.to_string(),
            recv_ns,
            message: err.to_string(),
        });
    }
    if n <= 10 || n.is_power_of_two() {
        tracing::warn!(stream, recv_ns = recv_ns.0, errors_on_stream = n, error = %err, "replay: frame not parsed; skipped");
    }
}

/// A single-threaded tokio runtime for blocking callers of the ClickHouse client (the blocking
/// replays, the backtest's ClickHouse source).
///
/// # Errors
/// [`TableError::Usage`] if the runtime cannot start.
pub fn runtime() -> Result<tokio::runtime::Runtime, TableError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TableError::Usage(format!("cannot start an async runtime: {e}")))
}

/// [`ChFrameReplay`] as a blocking [`Iterator`] of owned [`Frame`]s (owns a single-threaded
/// tokio runtime: do not use it from inside an async context).
pub struct BlockingFrameReplay {
    rt: tokio::runtime::Runtime,
    inner: ChFrameReplay,
}

impl std::fmt::Debug for BlockingFrameReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl BlockingFrameReplay {
    /// As [`ChFrameReplay::open`].
    ///
    /// # Errors
    /// As [`ChFrameReplay::open`].
    pub fn open(
        db: &ChDb,
        recordings: &[String],
        filter: &ReplayFilter,
    ) -> Result<Self, TableError> {
        let rt = runtime()?;
        let inner = rt.block_on(ChFrameReplay::open(db, recordings, filter))?;
        Ok(BlockingFrameReplay { rt, inner })
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReplayStats {
        self.inner.stats()
    }
}

impl Iterator for BlockingFrameReplay {
    type Item = Result<Frame, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        let inner = &mut self.inner;
        self.rt
            .block_on(async { inner.next_frame().await.map(|r| r.map(|f| f.to_frame())) })
    }
}

/// [`ChEventReplay`] as a blocking [`Iterator`] (owns a single-threaded tokio runtime: do not
/// use it from inside an async context).
pub struct BlockingEventReplay {
    rt: tokio::runtime::Runtime,
    inner: ChEventReplay,
}

impl std::fmt::Debug for BlockingEventReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl BlockingEventReplay {
    /// As [`ChEventReplay::open`].
    ///
    /// # Errors
    /// As [`ChEventReplay::open`].
    pub fn open(
        db: &ChDb,
        recordings: &[String],
        filter: &ReplayFilter,
    ) -> Result<Self, TableError> {
        let rt = runtime()?;
        let inner = rt.block_on(ChEventReplay::open(db, recordings, filter))?;
        Ok(BlockingEventReplay { rt, inner })
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReplayStats {
        self.inner.stats()
    }

    /// The stream of the event last yielded.
    pub fn current_stream(&self) -> Option<&StreamId> {
        self.inner.current_stream()
    }

    /// As [`ChEventReplay::with_dedup`].
    pub fn with_dedup(mut self, on: bool) -> Self {
        self.inner = self.inner.with_dedup(on);
        self
    }
}

impl Iterator for BlockingEventReplay {
    type Item = Result<MarketEvent, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.inner.next())
    }
}
