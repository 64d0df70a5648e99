//! Replay: one or several recordings as a single receive-time-ordered stream.
//!
//! [`FrameReplay`] yields raw [`Frame`]s; [`EventReplay`] parses them with the stream's
//! [`Feed`] parser into [`MarketEvent`]s and applies the asset/window filters.
//!
//! # Order
//! A k-way merge (a binary heap keyed by `(recv_ns, cursor)`) over one cursor per stream per
//! recording; each cursor reads its stream's segments one after the other in replay order (hour,
//! then collision suffix). Cursors are numbered by recording index (the order of the slice given
//! to `open`), then stream name, so ties in `recv_ns` are broken deterministically by recording,
//! then stream name, then file order within the stream. Output is nondecreasing in `recv_ns`
//! unless a stream's own records go backwards in time: such records are emitted as they come
//! (never sorted in memory) and counted in [`ReplayStats::out_of_order`].
//!
//! # Memory
//! At most one segment is open per cursor, each holding one zstd decoding context (its window
//! is bounded by the writer's 1 MiB block) and one buffer of
//! [`READ_BUF`](crate::segment::READ_BUF) bytes (larger only to hold a larger single record):
//! memory does not grow with recording length. [`FrameReplay::buffered_bytes`] reports
//! the buffers' total size.
//!
//! # Errors and damage
//! Damage in a segment (bad header, undecodable zstd frame, checksum or CRC mismatch, a
//! truncation anywhere but at the end of the last segment of a stream whose writer did not
//! finish) is yielded as one `Err` item naming the file, record and offset; that segment is
//! abandoned and, if the caller keeps iterating, its stream continues with its next segment.
//! A torn tail where one is legitimate ([`Recording::tail_allowed`]) is not an error: it is
//! logged and counted ([`ReplayStats::torn_tails`]).
//!
//! With [`FrameReplay::with_skip_corrupt`] damage is not an error: the reader resumes at the
//! next intact frame and every skip is listed in [`ReplayStats::skipped`] with the frames lost,
//! their receive-time span and the windows of the index it overlaps.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::path::{Path, PathBuf};

use polyedge_core::{
    Asset, ConditionId, EventKind, MarketEvent, Symbol, TokenId, UnixNanos, Window,
};
use polyedge_venues::{Feed, ParseError};
use serde::Serialize;

use crate::StoreError;
use crate::dedup::SourceDedup;
use crate::recording::{Recording, SegmentInfo, StreamId};
use crate::segment::{CorruptSpan, ReadOptions, SegmentReader, TornTail};

/// A raw frame from a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Stream it was recorded on.
    pub stream: crate::StreamId,
    /// Receive time (ns since epoch).
    pub recv_ns: UnixNanos,
    /// The bytes as received.
    pub bytes: Vec<u8>,
}

/// A raw frame borrowed from the replay's buffers (no allocation); valid until the next call
/// on the replay. See [`FrameReplay::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// Stream it was recorded on.
    pub stream: &'a StreamId,
    /// Index of its recording in the slice given to `open`.
    pub recording: usize,
    /// Index of its stream cursor (recording, then stream name order); see
    /// [`FrameReplay::cursor_stream`].
    pub cursor: usize,
    /// Receive time (ns since epoch).
    pub recv_ns: UnixNanos,
    /// The bytes as received.
    pub bytes: &'a [u8],
}

impl FrameRef<'_> {
    /// An owned copy.
    pub fn to_frame(&self) -> Frame {
        Frame {
            stream: self.stream.clone(),
            recv_ns: self.recv_ns,
            bytes: self.bytes.to_vec(),
        }
    }
}

/// Which part of the recordings to replay. Empty filter = everything.
///
/// [`FrameReplay`] applies only `from`/`to`. [`EventReplay`] also applies `assets`/`windows` to
/// parsed events (see [`WindowSelection`]).
#[derive(Debug, Clone, Default)]
pub struct ReplayFilter {
    /// Only frames received at or after this time (ns since epoch, inclusive).
    pub from: Option<UnixNanos>,
    /// Only frames received before this time (ns since epoch, exclusive).
    pub to: Option<UnixNanos>,
    /// Only these assets.
    pub assets: Option<Vec<Asset>>,
    /// Only these windows (slugs).
    pub windows: Option<Vec<String>>,
}

impl ReplayFilter {
    /// `true` if `t` lies in `[from, to)`.
    pub fn contains_time(&self, t: UnixNanos) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }

    /// `true` if the half-open range `[start, end)` overlaps `[from, to)`.
    pub fn overlaps(&self, start: UnixNanos, end: UnixNanos) -> bool {
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|e| start < e)
    }
}

/// Most parse-error messages kept in [`ReplayStats::parse_error_samples`].
pub const MAX_PARSE_ERROR_SAMPLES: usize = 10;

/// One parse error kept as an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseErrorSample {
    /// Stream of the frame.
    pub stream: String,
    /// Receive time of the frame (ns since epoch).
    pub recv_ns: UnixNanos,
    /// The parser's message.
    pub message: String,
}

/// Damaged data a replay skipped ([`FrameReplay::with_skip_corrupt`]): what, where, and what it
/// covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedSpan {
    /// The recording's directory.
    pub recording: PathBuf,
    /// The stream.
    pub stream: String,
    /// The segment file.
    pub segment: PathBuf,
    /// What was wrong.
    pub reason: String,
    /// Frames (records) lost: exact when [`exact`](Self::exact), else a lower bound.
    pub frames_lost: u64,
    /// Whether `frames_lost` and the span are exact (from intact frame descriptors).
    pub exact: bool,
    /// Start of the receive-time span the lost frames lie in (ns since epoch, inclusive):
    /// exact when `exact`, else the last frame read before the damage (or the segment's hour
    /// start).
    pub from_ns: UnixNanos,
    /// End of that span (inclusive): exact when `exact`, else the first frame read after the
    /// damage (or the segment's hour end).
    pub to_ns: UnixNanos,
    /// Slugs of the windows of the recording's index whose `[start, end]` overlaps the span
    /// (none when nothing was lost).
    pub windows: Vec<String>,
    /// The whole segment was unreadable (nothing of it was read).
    pub whole_segment: bool,
}

impl SkippedSpan {
    fn from_corrupt(
        rec: &Path,
        stream: &str,
        seg: &SegmentInfo,
        c: &CorruptSpan,
        windows: &[Window],
    ) -> Self {
        let (a, b) = c.span();
        let (hour_start, hour_end) = (seg.start(), UnixNanos(seg.end().0 - 1));
        let mut span = SkippedSpan {
            recording: rec.to_path_buf(),
            stream: stream.to_string(),
            segment: seg.path.clone(),
            reason: c.reason.clone(),
            frames_lost: c.frames_lost,
            exact: c.exact,
            from_ns: a.unwrap_or(hour_start),
            to_ns: b.unwrap_or(hour_end),
            windows: Vec::new(),
            whole_segment: false,
        };
        if c.frames_lost > 0 || !c.exact {
            span.windows = overlapping(windows, span.from_ns, span.to_ns);
        }
        span
    }

    fn whole(
        rec: &Path,
        stream: &str,
        seg: &SegmentInfo,
        reason: String,
        windows: &[Window],
    ) -> Self {
        let (from_ns, to_ns) = (seg.start(), UnixNanos(seg.end().0 - 1));
        SkippedSpan {
            recording: rec.to_path_buf(),
            stream: stream.to_string(),
            segment: seg.path.clone(),
            reason,
            frames_lost: 0,
            exact: false,
            from_ns,
            to_ns,
            windows: overlapping(windows, from_ns, to_ns),
            whole_segment: true,
        }
    }
}

impl SkippedSpan {
    /// The same span without the directories above the recording: `recording` becomes the
    /// recording directory's name and `segment` its path inside the recording (for reports
    /// that must not depend on where the data lies).
    pub fn without_dirs(&self) -> SkippedSpan {
        let segment = self
            .segment
            .strip_prefix(&self.recording)
            .map_or_else(|_| self.segment.clone(), Path::to_path_buf);
        SkippedSpan {
            recording: self
                .recording
                .file_name()
                .map_or_else(|| self.recording.clone(), PathBuf::from),
            segment,
            ..self.clone()
        }
    }
}

impl std::fmt::Display for SkippedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.whole_segment && !self.exact {
            "the whole segment (frame count unknown)".to_string()
        } else if self.whole_segment {
            format!("the whole segment ({} frames)", self.frames_lost)
        } else if self.exact {
            format!("{} frames", self.frames_lost)
        } else {
            format!("at least {} frames", self.frames_lost)
        };
        write!(
            f,
            "{} [{}]: skipped {what} received {} .. {}",
            self.segment.display(),
            self.stream,
            self.from_ns.to_rfc3339(),
            self.to_ns.to_rfc3339(),
        )?;
        if !self.windows.is_empty() {
            write!(f, "; windows affected: {}", self.windows.join(", "))?;
        }
        write!(f, " ({})", self.reason)
    }
}

/// Slugs of `windows` whose `[start, end]` overlaps `[from, to]`.
fn overlapping(windows: &[Window], from: UnixNanos, to: UnixNanos) -> Vec<String> {
    windows
        .iter()
        .filter(|w| w.start <= to && w.end >= from)
        .map(|w| w.slug.clone())
        .collect()
}

/// Counters of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Frames read (after the time filter).
    pub frames: u64,
    /// Payload bytes of those frames.
    pub bytes: u64,
    /// Events yielded ([`EventReplay`] only; after the asset/window filter).
    pub events: u64,
    /// Parsed events dropped by the asset/window filter ([`EventReplay`] only).
    pub filtered_events: u64,
    /// Parsed events dropped because an earlier recording supplies them (several overlapping
    /// recordings with [`EventReplay::with_dedup`]; the rule: [`crate::dedup`]).
    pub duplicate_events: u64,
    /// Frames the parser rejected ([`EventReplay`] only), all streams.
    pub parse_errors: u64,
    /// Parse errors per stream name.
    pub parse_errors_by_stream: BTreeMap<String, u64>,
    /// The first [`MAX_PARSE_ERROR_SAMPLES`] parse errors.
    pub parse_error_samples: Vec<ParseErrorSample>,
    /// Elements the parsers skipped because they do not know them (a newer event type, topic
    /// or channel; [`polyedge_venues::unknown`]), all streams ([`EventReplay`] only). The
    /// frames' known events were kept.
    pub unknown_elements: u64,
    /// Unknown elements per stream name.
    pub unknown_by_stream: BTreeMap<String, u64>,
    /// Frames whose `recv_ns` is smaller than the previous frame's (source out of order).
    pub out_of_order: u64,
    /// Segments that ended in a torn tail.
    pub torn_tails: u64,
    /// The torn tails, in the order met.
    pub torn_tail_details: Vec<TornTail>,
    /// Segments opened.
    pub segments: u64,
    /// Segments skipped without opening because their hour lies outside `[from, to)`.
    pub segments_skipped: u64,
    /// Errors yielded (corrupt segments).
    pub errors: u64,
    /// Damage skipped ([`FrameReplay::with_skip_corrupt`]), in the order met.
    pub skipped: Vec<SkippedSpan>,
}

impl ReplayStats {
    /// Frames known lost to skipped damage (a lower bound where a span is not exact).
    pub fn frames_skipped(&self) -> u64 {
        self.skipped.iter().map(|s| s.frames_lost).sum()
    }

    /// `true` if every skipped span's frame count is exact.
    pub fn skipped_exact(&self) -> bool {
        self.skipped.iter().all(|s| s.exact)
    }

    /// The windows any skipped span overlaps, sorted, without repeats.
    pub fn skipped_windows(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .skipped
            .iter()
            .flat_map(|s| s.windows.iter().cloned())
            .collect();
        w.sort();
        w.dedup();
        w
    }
}

/// A parser: the contract of [`Feed::parse`] (append the frame's events to `out`, return how
/// many; on error append nothing).
pub type ParserFn = fn(Feed, &[u8], UnixNanos, &mut Vec<MarketEvent>) -> Result<usize, ParseError>;

/// The default parser: [`Feed::parse`].
///
/// # Errors
/// As [`Feed::parse`].
pub fn feed_parser(
    feed: Feed,
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    feed.parse(frame, recv_ns, out)
}

/// One stream of one recording being read.
struct Cursor {
    stream: StreamId,
    recording: usize,
    /// Segments overlapping the time range, in replay order.
    segments: Vec<SegmentInfo>,
    next_segment: usize,
    reader: Option<SegmentReader>,
    /// (hour, seq) of the stream's last segment when its writer did not finish: the only
    /// segment that may end in a torn tail.
    tail_key: Option<(u64, u32)>,
    /// Frames the manifest counts for the stream, when the whole stream is read (finished
    /// recording, no time filter): checked at the stream's end.
    expected: Option<u64>,
    /// Frames read from the stream (before the time filter).
    read: u64,
    /// Errors yielded and frames reported skipped on this stream.
    errors: u64,
    skipped: u64,
    /// The stream's directory (for the count check's messages).
    dir: PathBuf,
}

/// What a cursor needs to know about its recording to report skipped damage.
struct RecInfo {
    dir: PathBuf,
    windows: Vec<Window>,
    /// First and last receive time per stream, from the manifest.
    stream_span: std::collections::HashMap<String, (UnixNanos, UnixNanos)>,
}

/// Raw frames of one or several recordings in receive-time order. See the [module docs](self).
///
/// Iterate owned [`Frame`]s with [`Iterator`], or borrow them without allocating with
/// [`next_frame`](Self::next_frame).
pub struct FrameReplay {
    cursors: Vec<Cursor>,
    recs: Vec<RecInfo>,
    skip_corrupt: bool,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    /// Cursors that must be advanced (and pushed back on the heap) before the next pop.
    to_advance: Vec<usize>,
    from: u64,
    to: u64,
    last_emitted: Option<u64>,
    filter: ReplayFilter,
    stats: ReplayStats,
}

impl std::fmt::Debug for FrameReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReplay")
            .field("cursors", &self.cursors.len())
            .field("filter", &self.filter)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl FrameReplay {
    /// Replays `recordings` (merged; ties go to the earlier recording in the slice) with the time
    /// part of `filter`. Segments whose hour lies entirely outside `[from, to)` are never opened.
    /// Nothing is read until the first call to `next`.
    ///
    /// # Errors
    /// [`StoreError::Usage`] if `from > to`.
    pub fn open(recordings: &[Recording], filter: ReplayFilter) -> Result<Self, StoreError> {
        let from = filter.from.map_or(0, |t| t.0);
        let to = filter.to.map_or(u64::MAX, |t| t.0);
        if from > to {
            return Err(StoreError::Usage(format!(
                "replay filter: from ({}) is after to ({})",
                UnixNanos(from),
                UnixNanos(to)
            )));
        }
        let mut stats = ReplayStats::default();
        let mut cursors = Vec::new();
        for (ri, rec) in recordings.iter().enumerate() {
            for s in rec.streams() {
                let segments: Vec<SegmentInfo> = s
                    .segments
                    .iter()
                    .filter(|seg| filter.overlaps(seg.start(), seg.end()))
                    .cloned()
                    .collect();
                stats.segments_skipped += (s.segments.len() - segments.len()) as u64;
                let tail_key = s
                    .segments
                    .last()
                    .filter(|l| rec.tail_allowed(s, l))
                    .map(|l| (l.hour, l.seq));
                let whole = from == 0 && to == u64::MAX;
                cursors.push(Cursor {
                    stream: s.id.clone(),
                    recording: ri,
                    segments,
                    next_segment: 0,
                    reader: None,
                    tail_key,
                    expected: s.manifest.as_ref().filter(|_| whole).map(|m| m.frames),
                    read: 0,
                    errors: 0,
                    skipped: 0,
                    dir: rec
                        .dir()
                        .join(crate::recording::CAPTURE_DIR)
                        .join(&s.id.name),
                });
            }
        }
        let recs = recordings
            .iter()
            .map(|r| RecInfo {
                dir: r.dir().to_path_buf(),
                windows: r.windows().to_vec(),
                stream_span: r
                    .manifest()
                    .streams
                    .iter()
                    .filter_map(|(n, m)| Some((n.clone(), (m.first_recv_ns?, m.last_recv_ns?))))
                    .collect(),
            })
            .collect();
        let to_advance = (0..cursors.len()).rev().collect();
        Ok(FrameReplay {
            heap: BinaryHeap::with_capacity(cursors.len()),
            recs,
            skip_corrupt: false,
            cursors,
            to_advance,
            from,
            to,
            last_emitted: None,
            filter,
            stats,
        })
    }

    /// Opens the recordings in `dirs` and replays them as [`open`](Self::open) does.
    ///
    /// # Errors
    /// As [`Recording::open`] and [`open`](Self::open).
    pub fn open_dirs<P: AsRef<Path>>(dirs: &[P], filter: ReplayFilter) -> Result<Self, StoreError> {
        let recs = dirs
            .iter()
            .map(|d| Recording::open(d.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::open(&recs, filter)
    }

    /// Skips damaged data instead of yielding errors (see the [module docs](self)): every skip
    /// is listed in [`ReplayStats::skipped`]. Call before the first frame.
    pub fn with_skip_corrupt(mut self, skip: bool) -> Self {
        self.skip_corrupt = skip;
        self
    }

    /// Whether damage is skipped ([`with_skip_corrupt`](Self::with_skip_corrupt)).
    pub fn skips_corrupt(&self) -> bool {
        self.skip_corrupt
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// The filter given to `open`.
    pub fn filter(&self) -> &ReplayFilter {
        &self.filter
    }

    /// The stream of cursor `cursor` (see [`FrameRef::cursor`]).
    pub fn cursor_stream(&self, cursor: usize) -> Option<&StreamId> {
        self.cursors.get(cursor).map(|c| &c.stream)
    }

    /// Number of stream cursors (streams summed over recordings).
    pub fn cursor_count(&self) -> usize {
        self.cursors.len()
    }

    /// Segments open right now (at most one per cursor).
    pub fn open_segments(&self) -> usize {
        self.cursors.iter().filter(|c| c.reader.is_some()).count()
    }

    /// Total size (bytes) of the decompressed-data buffers of the open segments (zstd's own
    /// decoding contexts not included). Bounded by cursors × max(`READ_BUF`, largest record + 16).
    pub fn buffered_bytes(&self) -> usize {
        self.cursors
            .iter()
            .filter_map(|c| c.reader.as_ref())
            .map(SegmentReader::buffer_capacity)
            .sum()
    }

    /// Whether recording `rec` (index in the order given) has frames not yet returned (a cursor
    /// of it waits with its next frame; the one just returned is counted too, as it may have
    /// more).
    pub fn recording_has_more(&self, rec: usize) -> bool {
        let of_rec = |k: usize| self.cursors.get(k).is_some_and(|c| c.recording == rec);
        self.heap.iter().any(|Reverse((_, k))| of_rec(*k))
            || self.to_advance.iter().any(|&k| of_rec(k))
    }

    /// The next frame, borrowed from the replay's buffers: no allocation per frame. `None` at the
    /// end. See the [module docs](self) for errors.
    pub fn next_frame(&mut self) -> Option<Result<FrameRef<'_>, StoreError>> {
        while let Some(i) = self.to_advance.pop() {
            let ctx = Ctx {
                recs: &self.recs,
                skip_corrupt: self.skip_corrupt,
                from: self.from,
                to: self.to,
            };
            match advance_cursor(&mut self.cursors[i], &mut self.stats, &ctx) {
                Ok(Some(t)) => self.heap.push(Reverse((t, i))),
                Ok(None) => {}
                Err(e) => {
                    // Come back to this cursor (its next segment) on the next call.
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
        let bytes = c.reader.as_ref().map_or(&[][..], SegmentReader::payload);
        self.stats.frames += 1;
        self.stats.bytes += bytes.len() as u64;
        Some(Ok(FrameRef {
            stream: &c.stream,
            recording: c.recording,
            cursor: i,
            recv_ns: UnixNanos(t),
            bytes,
        }))
    }
}

/// What [`advance_cursor`] needs besides the cursor.
struct Ctx<'a> {
    recs: &'a [RecInfo],
    skip_corrupt: bool,
    from: u64,
    to: u64,
}

/// Moves `c` to its next frame in `[from, to)`, opening segments as needed.
fn advance_cursor(
    c: &mut Cursor,
    stats: &mut ReplayStats,
    ctx: &Ctx<'_>,
) -> Result<Option<u64>, StoreError> {
    let rec = &ctx.recs[c.recording];
    loop {
        if c.reader.is_none() {
            let Some(seg) = c.segments.get(c.next_segment) else {
                return stream_end(c, stats, ctx);
            };
            c.next_segment += 1;
            stats.segments += 1;
            let opts = ReadOptions {
                tail_allowed: c.tail_key == Some((seg.hour, seg.seq)),
                skip_corrupt: ctx.skip_corrupt,
            };
            let reader = match SegmentReader::open_with(&seg.path, opts) {
                Ok(r) => r,
                Err(e) if ctx.skip_corrupt => {
                    let span = SkippedSpan::whole(
                        &rec.dir,
                        &c.stream.name,
                        seg,
                        e.to_string(),
                        &rec.windows,
                    );
                    tracing::warn!(%span, "segment skipped (--skip-corrupt)");
                    stats.skipped.push(span);
                    continue;
                }
                Err(e) => {
                    c.errors += 1;
                    return Err(e);
                }
            };
            if let Some(h) = reader.header() {
                if h.feed != c.stream.feed {
                    let e = StoreError::Format {
                        path: seg.path.clone(),
                        reason: format!(
                            "segment is of feed {} but its stream {:?} is of feed {}",
                            h.feed, c.stream.name, c.stream.feed
                        ),
                    };
                    if ctx.skip_corrupt {
                        let span = SkippedSpan::whole(
                            &rec.dir,
                            &c.stream.name,
                            seg,
                            e.to_string(),
                            &rec.windows,
                        );
                        tracing::warn!(%span, "segment skipped (--skip-corrupt)");
                        stats.skipped.push(span);
                        continue;
                    }
                    c.errors += 1;
                    return Err(e);
                }
                if h.stream != c.stream.name {
                    tracing::debug!(file = %seg.path.display(), header_stream = %h.stream, "segment header names another stream than its directory");
                }
            }
            c.reader = Some(reader);
        }
        let Some(reader) = c.reader.as_mut() else {
            return Ok(None);
        };
        match reader.advance() {
            Ok(Some(t)) => {
                c.read += 1;
                if t.0 >= ctx.from && t.0 < ctx.to {
                    return Ok(Some(t.0));
                }
            }
            Ok(None) => {
                if let Some(torn) = reader.torn_tail() {
                    stats.torn_tails += 1;
                    stats.torn_tail_details.push(torn.clone());
                }
                let spans = reader.take_skipped();
                if !spans.is_empty() {
                    // The segment just finished is the one before `next_segment`.
                    if let Some(seg) = c.segments.get(c.next_segment - 1) {
                        for sp in &spans {
                            c.skipped += sp.frames_lost;
                            stats.skipped.push(SkippedSpan::from_corrupt(
                                &rec.dir,
                                &c.stream.name,
                                seg,
                                sp,
                                &rec.windows,
                            ));
                        }
                    }
                }
                c.reader = None;
            }
            Err(e) => {
                c.reader = None;
                c.errors += 1;
                return Err(e);
            }
        }
    }
}

/// The end of a stream: when the whole stream of a finished recording was read, the frames
/// read (plus those reported skipped) must be the manifest's count — a segment cut exactly at a
/// frame boundary, or deleted, shows only here.
fn stream_end(
    c: &mut Cursor,
    stats: &mut ReplayStats,
    ctx: &Ctx<'_>,
) -> Result<Option<u64>, StoreError> {
    let Some(expected) = c.expected.take() else {
        return Ok(None);
    };
    let accounted = c.read + c.skipped;
    if accounted == expected || c.errors > 0 {
        return Ok(None);
    }
    let reason = format!(
        "the manifest counts {expected} frames in stream {:?}, but its segments hold {} ({} read{})",
        c.stream.name,
        accounted,
        c.read,
        if c.skipped > 0 {
            format!(", {} skipped as damaged", c.skipped)
        } else {
            String::new()
        }
    );
    if !ctx.skip_corrupt {
        c.errors += 1;
        return Err(StoreError::Format {
            path: c.dir.clone(),
            reason: format!(
                "{reason}: frames are missing (a segment truncated at a frame boundary, or deleted)"
            ),
        });
    }
    let rec = &ctx.recs[c.recording];
    let missing = expected.saturating_sub(accounted);
    // One inexact span on the stream (a lower bound, or a whole segment): the manifest's count
    // makes it exact.
    let mut inexact = stats
        .skipped
        .iter_mut()
        .filter(|s| !s.exact && s.stream == c.stream.name && s.recording == rec.dir);
    if let (Some(only), None) = (inexact.next(), inexact.next())
        && expected >= accounted
    {
        only.frames_lost += missing;
        only.exact = true;
        c.skipped += missing;
        return Ok(None);
    }
    let (from_ns, to_ns) = rec
        .stream_span
        .get(&c.stream.name)
        .copied()
        .unwrap_or((UnixNanos(0), UnixNanos(u64::MAX)));
    let span = SkippedSpan {
        recording: rec.dir.clone(),
        stream: c.stream.name.clone(),
        segment: c.dir.clone(),
        reason,
        frames_lost: missing,
        exact: expected >= accounted,
        from_ns,
        to_ns,
        windows: overlapping(&rec.windows, from_ns, to_ns),
        whole_segment: false,
    };
    tracing::warn!(%span, "frames missing from a stream (--skip-corrupt)");
    stats.skipped.push(span);
    Ok(None)
}

impl Iterator for FrameReplay {
    type Item = Result<Frame, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().map(|r| r.map(|f| f.to_frame()))
    }
}

/// The asset/window part of a [`ReplayFilter`], resolved against the recordings' window index.
///
/// A window is selected if its slug is in `windows` (when given) and its asset is in `assets`
/// (when given). An event is kept if:
/// * Polymarket events with a token or condition id (book, delta, trade, tick size, best
///   bid/ask, new market, resolution): its token or condition id belongs to a selected window
///   (or, for `new_market`, its slug is selected);
/// * reference/spot/derivatives events: when `windows` is given, `recv_ns` lies in a selected
///   window's `[start, end]`; and when `assets` is given, the symbol starts with one of the
///   assets' tickers, ASCII case-insensitive (`BTCUSDT`, `btc/usd`, `BTC-USD`, `btc_usd`);
///   events without a symbol (Binance partial depth) pass this check;
/// * gaps: always.
#[derive(Debug, Clone, Default)]
pub struct WindowSelection {
    tokens: HashSet<TokenId>,
    conditions: HashSet<ConditionId>,
    slugs: HashSet<String>,
    /// Merged, sorted `[start, end]` (ns, inclusive) of selected windows, when `windows` is given.
    intervals: Option<Vec<(u64, u64)>>,
    /// Tickers of the `assets`, when given.
    tickers: Option<Vec<&'static str>>,
}

impl WindowSelection {
    /// Resolves `filter` against `windows` (the union of the recordings' indices). `None` if the
    /// filter selects neither assets nor windows (everything is kept).
    ///
    /// # Errors
    /// [`StoreError::Usage`] if a slug in `filter.windows` is in none of the indices.
    pub fn new<'a>(
        windows: impl IntoIterator<Item = &'a Window>,
        filter: &ReplayFilter,
    ) -> Result<Option<Self>, StoreError> {
        if filter.assets.is_none() && filter.windows.is_none() {
            return Ok(None);
        }
        let mut sel = WindowSelection {
            tickers: filter
                .assets
                .as_ref()
                .map(|a| a.iter().map(|x| x.ticker()).collect()),
            ..WindowSelection::default()
        };
        let wanted: Option<HashSet<&str>> = filter
            .windows
            .as_ref()
            .map(|w| w.iter().map(String::as_str).collect());
        let mut found: HashSet<String> = HashSet::new();
        let mut intervals = Vec::new();
        for w in windows {
            if wanted
                .as_ref()
                .is_some_and(|s| !s.contains(w.slug.as_str()))
            {
                continue;
            }
            found.insert(w.slug.clone());
            if filter
                .assets
                .as_ref()
                .is_some_and(|a| !a.contains(&w.asset))
            {
                continue;
            }
            sel.slugs.insert(w.slug.clone());
            sel.tokens
                .extend([w.up_token, w.down_token].into_iter().flatten());
            sel.conditions.extend(w.condition_id);
            intervals.push((w.start.0, w.end.0));
        }
        if let Some(wanted) = &wanted {
            let mut missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|s| !found.contains(*s))
                .collect();
            if !missing.is_empty() {
                missing.sort_unstable();
                return Err(StoreError::Usage(format!(
                    "replay filter: window(s) not in the recordings' window index: {}",
                    missing.join(", ")
                )));
            }
            intervals.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
            for (s, e) in intervals {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            sel.intervals = Some(merged);
        }
        Ok(Some(sel))
    }

    /// `true` if `token` belongs to a selected window.
    pub fn has_token(&self, token: TokenId) -> bool {
        self.tokens.contains(&token)
    }

    /// `true` if `t` lies in a selected window's `[start, end]` (always `true` when the filter
    /// names no windows).
    pub fn in_windows_time(&self, t: UnixNanos) -> bool {
        let Some(iv) = &self.intervals else {
            return true;
        };
        let idx = iv.partition_point(|&(s, _)| s <= t.0);
        idx > 0 && t.0 <= iv[idx - 1].1
    }

    fn symbol_matches(&self, symbol: Option<&str>) -> bool {
        match (&self.tickers, symbol) {
            (Some(tickers), Some(sym)) => tickers.iter().any(|t| {
                sym.get(..t.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(t))
            }),
            _ => true,
        }
    }

    /// Whether `event` passes the filter (rules in the type's docs).
    pub fn keeps(&self, event: &MarketEvent) -> bool {
        let polymarket = |token: TokenId, market: Option<ConditionId>| {
            self.tokens.contains(&token) || market.is_some_and(|m| self.conditions.contains(&m))
        };
        match &event.kind {
            EventKind::Book(b) => polymarket(b.token, Some(b.market)),
            EventKind::BookDelta(d) => polymarket(d.token, Some(d.market)),
            EventKind::LastTrade(t) => polymarket(t.token, Some(t.market)),
            EventKind::TickSizeChange(t) => polymarket(t.token, Some(t.market)),
            EventKind::BestBidAsk(b) => polymarket(b.token, b.market),
            EventKind::NewMarket(m) => {
                self.conditions.contains(&m.market)
                    || self.slugs.contains(&m.slug)
                    || m.tokens.iter().any(|t| self.tokens.contains(t))
            }
            EventKind::MarketResolved(m) => polymarket(m.winning_token, Some(m.market)),
            EventKind::Gap(_) => true,
            EventKind::WindowUpdate(w) => self.slugs.contains(&w.slug),
            kind => {
                let symbol = match kind {
                    EventKind::Reference(r) => Some(r.symbol.as_str()),
                    EventKind::SpotTrade(t) => Some(t.symbol.as_str()),
                    EventKind::SpotQuote(q) => Some(q.symbol.as_str()),
                    EventKind::SpotDepth(d) => d.symbol.as_ref().map(Symbol::as_str),
                    EventKind::Kline(k) => Some(k.symbol.as_str()),
                    EventKind::Liquidation(l) => Some(l.symbol.as_str()),
                    EventKind::MarkPrice(m) => Some(m.symbol.as_str()),
                    EventKind::VolIndex(v) => Some(v.index.as_str()),
                    _ => None,
                };
                self.in_windows_time(event.recv_ns) && self.symbol_matches(symbol)
            }
        }
    }
}

/// Parsed events of one or several recordings in receive-time order.
///
/// Wraps a [`FrameReplay`]; parses each frame with its stream's feed parser (by default
/// [`Feed::parse`]; see [`with_parser`](Self::with_parser)) into a reused buffer and yields the
/// events one by one, after the asset/window filter ([`WindowSelection`]). The stream of the
/// event last yielded is [`current_stream`](Self::current_stream).
///
/// Parse errors are not fatal: they are counted per stream in [`ReplayStats`] (the first
/// [`MAX_PARSE_ERROR_SAMPLES`] kept with stream and time), logged at `warn` (the first 10 per
/// stream, then at powers of two), and the replay goes on.
pub struct EventReplay {
    frames: FrameReplay,
    parser: ParserFn,
    selection: Option<WindowSelection>,
    /// Which recording supplies each event when several overlap ([`with_dedup`](Self::with_dedup)).
    dedup: Option<SourceDedup>,
    /// Events of the current frame not yet yielded, in reverse order (popped from the end).
    pending: Vec<MarketEvent>,
    current: Option<usize>,
}

impl std::fmt::Debug for EventReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReplay")
            .field("frames", &self.frames)
            .field("selection", &self.selection.is_some())
            .finish_non_exhaustive()
    }
}

impl EventReplay {
    /// Replays `recordings` with `filter`; windows named in the filter are looked up in the
    /// union of the recordings' window indices.
    ///
    /// # Errors
    /// As [`FrameReplay::open`] and [`WindowSelection::new`].
    pub fn open(recordings: &[Recording], filter: ReplayFilter) -> Result<Self, StoreError> {
        let selection =
            WindowSelection::new(recordings.iter().flat_map(Recording::windows), &filter)?;
        Ok(EventReplay {
            frames: FrameReplay::open(recordings, filter)?,
            parser: feed_parser,
            selection,
            dedup: None,
            pending: Vec::with_capacity(64),
            current: None,
        })
    }

    /// Opens the recordings in `dirs` and replays them as [`open`](Self::open) does.
    ///
    /// # Errors
    /// As [`Recording::open`] and [`open`](Self::open).
    pub fn open_dirs<P: AsRef<Path>>(dirs: &[P], filter: ReplayFilter) -> Result<Self, StoreError> {
        let recs = dirs
            .iter()
            .map(|d| Recording::open(d.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::open(&recs, filter)
    }

    /// Skips damaged data instead of yielding errors, as
    /// [`FrameReplay::with_skip_corrupt`].
    pub fn with_skip_corrupt(mut self, skip: bool) -> Self {
        self.frames = self.frames.with_skip_corrupt(skip);
        self
    }

    /// With `on` and more than one recording: each event comes from one recording only, by the
    /// rule of [`crate::dedup`] (from the earliest recording, in the order given, live on the
    /// event's token, window or feed); dropped events are counted in
    /// [`ReplayStats::duplicate_events`]. Off by default (a replay shows every recorded frame).
    pub fn with_dedup(mut self, on: bool) -> Self {
        self.dedup =
            (on && self.frames.recs.len() > 1).then(|| SourceDedup::new(self.frames.recs.len()));
        self
    }

    /// Uses `parser` instead of [`Feed::parse`] (tests, alternative decoders).
    pub fn with_parser(mut self, parser: ParserFn) -> Self {
        self.parser = parser;
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReplayStats {
        self.frames.stats()
    }

    /// The underlying frame replay (for its buffer and cursor accessors).
    pub fn frames(&self) -> &FrameReplay {
        &self.frames
    }

    /// The resolved asset/window filter; `None` when the filter names neither.
    pub fn selection(&self) -> Option<&WindowSelection> {
        self.selection.as_ref()
    }

    /// The stream of the event last yielded.
    pub fn current_stream(&self) -> Option<&StreamId> {
        self.current.and_then(|c| self.frames.cursor_stream(c))
    }

    fn record_unknown(&mut self, cursor: usize, recv_ns: UnixNanos, n: u64) {
        let stats = &mut self.frames.stats;
        let name = self
            .frames
            .cursors
            .get(cursor)
            .map_or("", |c| c.stream.name.as_str());
        stats.unknown_elements += n;
        let total = stats.unknown_by_stream.entry(name.to_string()).or_default();
        let before = *total;
        *total += n;
        // Log the first few and then at powers of two, per stream.
        if before < 10 || (before + 1..=*total).any(u64::is_power_of_two) {
            tracing::warn!(stream = name, recv_ns = recv_ns.0, unknown_on_stream = *total, last = %polyedge_venues::unknown::last(), "replay: element of an unknown kind skipped; the frame's known events are kept");
        }
    }

    fn record_parse_error(&mut self, cursor: usize, recv_ns: UnixNanos, err: &ParseError) {
        let stats = &mut self.frames.stats;
        let name = self
            .frames
            .cursors
            .get(cursor)
            .map_or("", |c| c.stream.name.as_str());
        stats.parse_errors += 1;
        let n = if let Some(n) = stats.parse_errors_by_stream.get_mut(name) {
            *n += 1;
            *n
        } else {
            stats.parse_errors_by_stream.insert(name.to_string(), 1);
            1
        };
        if stats.parse_error_samples.len() < MAX_PARSE_ERROR_SAMPLES {
            stats.parse_error_samples.push(ParseErrorSample {
                stream: name.to_string(),
                recv_ns,
                message: err.to_string(),
            });
        }
        if n <= 10 || n.is_power_of_two() {
            tracing::warn!(stream = name, recv_ns = recv_ns.0, errors_on_stream = n, error = %err, "replay: frame not parsed; skipped");
        }
    }
}

impl Iterator for EventReplay {
    type Item = Result<MarketEvent, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(ev) = self.pending.pop() {
                self.frames.stats.events += 1;
                return Some(Ok(ev));
            }
            let unknown_before = polyedge_venues::unknown::skipped();
            let (cursor, recv_ns, res) = match self.frames.next_frame()? {
                Ok(f) => {
                    let res = (self.parser)(f.stream.feed, f.bytes, f.recv_ns, &mut self.pending);
                    (f.cursor, f.recv_ns, res)
                }
                Err(e) => return Some(Err(e)),
            };
            self.current = Some(cursor);
            let unknown = polyedge_venues::unknown::skipped() - unknown_before;
            if unknown > 0 {
                self.record_unknown(cursor, recv_ns, unknown);
            }
            if let Err(e) = res {
                self.pending.clear();
                self.record_parse_error(cursor, recv_ns, &e);
                continue;
            }
            if let Some(sel) = &self.selection {
                let before = self.pending.len();
                self.pending.retain(|e| sel.keeps(e));
                self.frames.stats.filtered_events += (before - self.pending.len()) as u64;
            }
            if let (Some(d), Some(c)) = (&mut self.dedup, self.frames.cursors.get(cursor)) {
                let frames = &self.frames;
                let dropped = d.retain(&mut self.pending, c.recording, &c.stream.name, |i| {
                    frames.recording_has_more(i)
                });
                self.frames.stats.duplicate_events += dropped;
            }
            self.pending.reverse();
        }
    }
}
