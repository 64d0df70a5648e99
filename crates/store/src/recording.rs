//! Recording directories: manifest, window index and capture segments.
//!
//! ```text
//! <dir>/recording.json                          manifest (Manifest)
//! <dir>/windows.jsonl                           one polyedge_core::Window per line, by start then slug
//! <dir>/capture/<stream>/<YYYYMMDD>T<HH>[-<n>].seg.zst   segments, per stream and UTC hour
//! ```
//!
//! See `docs/recording-format.md` for the exact format.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use polyedge_core::{ConditionId, TokenId, UnixNanos, Window};
use polyedge_venues::Feed;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::segment::{ReadOptions, SegmentHeader, SegmentReader, SegmentWriter, sync_dir};

/// `format` field of every manifest.
pub const FORMAT_NAME: &str = "polyedge-recording";
/// `format_version` of the manifest layout this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a recording directory.
pub const MANIFEST_FILE: &str = "recording.json";
/// File name of the window index inside a recording directory.
pub const WINDOWS_FILE: &str = "windows.jsonl";
/// Directory (inside a recording) holding one sub-directory of segments per stream.
pub const CAPTURE_DIR: &str = "capture";
/// File-name suffix of segments.
pub const SEGMENT_SUFFIX: &str = ".seg.zst";
/// Nanoseconds per hour: segments rotate on `recv_ns / NANOS_PER_HOUR`.
pub const NANOS_PER_HOUR: u64 = 3_600 * UnixNanos::PER_SEC;

/// A named stream of raw frames of one feed, e.g. `{feed: PolymarketMarket, name: "polymarket-market"}`
/// or `{feed: BinanceUsdm, name: "binance-usdm-kline"}`. The name is a path component: lowercase
/// ASCII letters, digits and `-` only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamId {
    /// Which parser reads the frames.
    pub feed: Feed,
    /// Stream name (directory name under `capture/`).
    pub name: String,
}

impl StreamId {
    /// A stream named after its feed (`polymarket-market`, `rtds`, …).
    pub fn of(feed: Feed) -> Self {
        StreamId {
            feed,
            name: feed.name().to_string(),
        }
    }

    /// A stream with a custom name.
    ///
    /// # Errors
    /// [`StoreError::Usage`] if the name is empty or has characters other than `[a-z0-9-]`.
    pub fn named(feed: Feed, name: &str) -> Result<Self, StoreError> {
        if !valid_stream_name(name) {
            return Err(StoreError::Usage(format!(
                "bad stream name {name:?}: use [a-z0-9-]+"
            )));
        }
        Ok(StreamId {
            feed,
            name: name.to_string(),
        })
    }
}

/// `true` if `name` is a valid stream name: non-empty, `[a-z0-9-]` only.
pub fn valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Descriptive metadata stored in `recording.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingMeta {
    /// Who wrote it: `"polyedge import cronos"`, `"polyedge collect"`, ….
    pub created_by: String,
    /// Where the data came from (dataset folder, URL, commit), free text lines.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Caveats a user must know (inferred token sides, synthesized frames, coarse spot data …).
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// What a finished writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingSummary {
    /// Frames written per stream name.
    pub frames: BTreeMap<String, u64>,
    /// Raw (uncompressed) frame bytes written per stream name.
    pub bytes: BTreeMap<String, u64>,
    /// Number of segment files.
    pub segments: u64,
    /// Windows in the index.
    pub windows: u64,
    /// Segments closed by `finish` and not yet taken with
    /// [`RecordingWriter::take_closed_segments`] (the segment-closed hook's last batch).
    #[serde(skip)]
    pub closed: Vec<ClosedSegment>,
}

/// Per-stream entry of the manifest, written by [`RecordingWriter::finish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamManifest {
    /// Feed (parser) of the stream.
    pub feed: Feed,
    /// [`Feed::code`] of `feed`.
    pub feed_code: u8,
    /// Frames written.
    pub frames: u64,
    /// Payload bytes written (uncompressed, without framing).
    pub bytes: u64,
    /// Segment files written.
    pub segments: u64,
    /// Smallest receive time written (ns since epoch), if any frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_recv_ns: Option<UnixNanos>,
    /// Largest receive time written (ns since epoch), if any frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recv_ns: Option<UnixNanos>,
}

/// The content of `recording.json`.
///
/// Written when the recording is created (with no streams and no `finished_ns`) and rewritten
/// by [`RecordingWriter::finish`]. Readers ignore unknown fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for this crate.
    pub format_version: u32,
    /// Descriptive metadata (its fields appear at the top level of the JSON object).
    #[serde(flatten)]
    pub meta: RecordingMeta,
    /// When the writer was created (ns since epoch, wall clock).
    pub created_ns: UnixNanos,
    /// `created_ns` as RFC 3339 UTC, for humans (informational).
    #[serde(default)]
    pub created_utc: String,
    /// When [`RecordingWriter::finish`] ran (ns since epoch); `None` if the writer never finished
    /// (crashed or still running): the stream table is then empty and readers list segments from
    /// the directory.
    #[serde(default)]
    pub finished_ns: Option<UnixNanos>,
    /// Per-stream counters, by stream name.
    #[serde(default)]
    pub streams: BTreeMap<String, StreamManifest>,
    /// Windows in `windows.jsonl`.
    #[serde(default)]
    pub windows: u64,
    /// The control stream carries the recorder's window records (`{"type":"window",…}`:
    /// listings, published strikes and resolutions at their receive times), so a replay lists
    /// and settles windows as they happened instead of from the index.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub window_records: bool,
}

/// Hours since the epoch of a receive time: the rotation key of segments.
pub const fn hour_of(t: UnixNanos) -> u64 {
    t.0 / NANOS_PER_HOUR
}

/// File name of the segment for `hour` (hours since the epoch) with collision suffix `seq`
/// (0 = none): `20260413T12.seg.zst`, `20260413T12-1.seg.zst`, ….
pub fn segment_file_name(hour: u64, seq: u32) -> String {
    let days = hour / 24;
    let (y, m, d) = civil_from_days(days);
    let hh = hour % 24;
    if seq == 0 {
        format!("{y:04}{m:02}{d:02}T{hh:02}{SEGMENT_SUFFIX}")
    } else {
        format!("{y:04}{m:02}{d:02}T{hh:02}-{seq}{SEGMENT_SUFFIX}")
    }
}

/// Parses a segment file name into `(hour since epoch, seq)`; `None` if it is not one.
pub fn parse_segment_file_name(name: &str) -> Option<(u64, u32)> {
    let stem = name.strip_suffix(SEGMENT_SUFFIX)?;
    let b = stem.as_bytes();
    if b.len() < 11 || b[8] != b'T' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = stem.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let y = digits(0..4)?;
    let m = digits(4..6)?;
    let d = digits(6..8)?;
    let hh = digits(9..11)?;
    if y < 1970 || !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 {
        return None;
    }
    let seq = match &stem[11..] {
        "" => 0,
        rest => {
            let n = rest.strip_prefix('-')?;
            if n.is_empty() || n.starts_with('0') || !n.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            n.parse().ok()?
        }
    };
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None; // e.g. 20260231
    }
    Some((days * 24 + hh, seq))
}

/// Days since 1970-01-01 → (year, month, day). H. Hinnant's `civil_from_days`, for days ≥ 0.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// (year ≥ 1970, month, day) → days since 1970-01-01. H. Hinnant's `days_from_civil`.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

fn now_ns() -> UnixNanos {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UnixNanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Syncs the directory holding `path` (so an entry created or renamed there survives a power
/// loss).
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => sync_dir(dir).map_err(StoreError::io(dir)),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename,
/// fsync of the directory).
fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), StoreError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let file = File::create(&tmp).map_err(StoreError::io(&tmp))?;
    let mut w = BufWriter::new(file);
    write(&mut w).map_err(StoreError::io(&tmp))?;
    let file = w.into_inner().map_err(|e| StoreError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(StoreError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    sync_parent(path)
}

struct OpenSegment {
    hour: u64,
    writer: SegmentWriter,
}

/// A segment the [`RecordingWriter`] closed (rotation, [`RecordingWriter::close_segments_before`]
/// or [`RecordingWriter::finish`]): complete, synced to disk, and never written again. Collected
/// until [`RecordingWriter::take_closed_segments`]; this is the hook for converters (Parquet export)
/// that want to process each hour's file once it is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSegment {
    /// Stream name and feed.
    pub stream: StreamId,
    /// The segment file.
    pub path: PathBuf,
    /// Hour of every frame in it (hours since the epoch, UTC).
    pub hour: u64,
    /// Frames (records) in it.
    pub frames: u64,
    /// Payload bytes in it (uncompressed).
    pub payload_bytes: u64,
    /// Size of the file (compressed bytes).
    pub file_bytes: u64,
}

impl OpenSegment {
    fn close(self, stream: &StreamId) -> Result<ClosedSegment, StoreError> {
        let path = self.writer.path().to_path_buf();
        let stats = self.writer.finish()?;
        Ok(ClosedSegment {
            stream: stream.clone(),
            path,
            hour: self.hour,
            frames: stats.records,
            payload_bytes: stats.payload_bytes,
            file_bytes: stats.file_bytes,
        })
    }
}

struct StreamState {
    feed: Feed,
    dir: PathBuf,
    open: Option<OpenSegment>,
    /// Next collision suffix to try per hour (avoids rescanning on repeated reopen).
    next_seq: HashMap<u64, u32>,
    frames: u64,
    bytes: u64,
    segments: u64,
    first_recv: Option<UnixNanos>,
    last_recv: Option<UnixNanos>,
}

impl StreamState {
    /// Closes the open segment (if any) and opens the one for `hour`.
    fn rotate(
        &mut self,
        name: &str,
        hour: u64,
        closed: &mut Vec<ClosedSegment>,
    ) -> Result<(), StoreError> {
        if let Some(old) = self.open.take() {
            closed.push(old.close(&StreamId {
                feed: self.feed,
                name: name.to_string(),
            })?);
        }
        let seq = self.next_seq.entry(hour).or_insert(0);
        let header = SegmentHeader::new(self.feed, name, now_ns());
        loop {
            let path = self.dir.join(segment_file_name(hour, *seq));
            *seq += 1;
            match SegmentWriter::create(&path, &header) {
                Ok(writer) => {
                    self.open = Some(OpenSegment { hour, writer });
                    self.segments += 1;
                    return Ok(());
                }
                Err(StoreError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Writes a new recording directory.
///
/// Frames are appended per stream into hourly segments (by the UTC hour of `recv_ns`: when a
/// frame's hour differs from the open segment's, that segment is closed and the hour's segment
/// opened, with a `-<n>` suffix if the file already exists). Dropping the writer without
/// [`finish`](Self::finish) still writes buffered blocks (best effort), but leaves the manifest
/// without stream counters; readers cope with that.
pub struct RecordingWriter {
    dir: PathBuf,
    meta: RecordingMeta,
    created_ns: UnixNanos,
    streams: BTreeMap<String, StreamState>,
    windows: BTreeMap<String, Window>,
    windows_dirty: bool,
    window_records: bool,
    finished: bool,
    closed: Vec<ClosedSegment>,
}

impl std::fmt::Debug for RecordingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingWriter")
            .field("dir", &self.dir)
            .field("streams", &self.streams.keys().collect::<Vec<_>>())
            .field("windows", &self.windows.len())
            .finish_non_exhaustive()
    }
}

impl RecordingWriter {
    /// Creates `dir` (which must not exist or be empty) as a new recording.
    ///
    /// Writes a preliminary `recording.json` (no stream counters, no `finished_ns`) and the
    /// `capture/` directory right away, so that a recording whose writer was killed can still be
    /// opened.
    ///
    /// # Errors
    /// [`StoreError`] if the directory exists with content, or on I/O errors.
    pub fn create(dir: &Path, meta: RecordingMeta) -> Result<Self, StoreError> {
        if dir.exists() {
            let mut entries = fs::read_dir(dir).map_err(StoreError::io(dir))?;
            if entries.next().is_some() {
                return Err(StoreError::Usage(format!(
                    "{}: directory is not empty; a new recording needs a new or empty directory",
                    dir.display()
                )));
            }
        }
        let capture = dir.join(CAPTURE_DIR);
        fs::create_dir_all(&capture).map_err(StoreError::io(&capture))?;
        sync_parent(&capture)?;
        sync_parent(dir)?;
        let w = RecordingWriter {
            dir: dir.to_path_buf(),
            meta,
            created_ns: now_ns(),
            streams: BTreeMap::new(),
            windows: BTreeMap::new(),
            windows_dirty: false,
            window_records: false,
            finished: false,
            closed: Vec::new(),
        };
        w.write_manifest(None)?;
        Ok(w)
    }

    /// The recording directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one raw frame received at `recv_ns` to `stream` (segment chosen by stream and the
    /// UTC hour of `recv_ns`).
    ///
    /// # Errors
    /// [`StoreError`] on I/O errors; [`StoreError::Usage`] if the stream name is invalid, the
    /// name was used before with another feed, or the frame exceeds
    /// [`MAX_RECORD_LEN`](crate::segment::MAX_RECORD_LEN).
    pub fn append(
        &mut self,
        stream: &StreamId,
        recv_ns: UnixNanos,
        frame: &[u8],
    ) -> Result<(), StoreError> {
        if !self.streams.contains_key(stream.name.as_str()) {
            self.add_stream(stream)?;
        }
        let Some(st) = self.streams.get_mut(stream.name.as_str()) else {
            return Err(StoreError::Usage(format!(
                "stream {:?} vanished",
                stream.name
            )));
        };
        if st.feed != stream.feed {
            return Err(StoreError::Usage(format!(
                "stream {:?} was opened with feed {} and cannot take frames of feed {}",
                stream.name, st.feed, stream.feed
            )));
        }
        let hour = hour_of(recv_ns);
        if st.open.as_ref().is_none_or(|o| o.hour != hour) {
            st.rotate(&stream.name, hour, &mut self.closed)?;
        }
        if let Some(o) = &mut st.open {
            o.writer.append(recv_ns, frame)?;
        }
        st.frames += 1;
        st.bytes += frame.len() as u64;
        st.first_recv = Some(st.first_recv.map_or(recv_ns, |f| f.min(recv_ns)));
        st.last_recv = Some(st.last_recv.map_or(recv_ns, |l| l.max(recv_ns)));
        Ok(())
    }

    fn add_stream(&mut self, stream: &StreamId) -> Result<&mut StreamState, StoreError> {
        if !valid_stream_name(&stream.name) {
            return Err(StoreError::Usage(format!(
                "bad stream name {:?}: use [a-z0-9-]+",
                stream.name
            )));
        }
        let dir = self.dir.join(CAPTURE_DIR).join(&stream.name);
        fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        sync_parent(&dir)?;
        let st = StreamState {
            feed: stream.feed,
            dir,
            open: None,
            next_seq: HashMap::new(),
            frames: 0,
            bytes: 0,
            segments: 0,
            first_recv: None,
            last_recv: None,
        };
        Ok(self.streams.entry(stream.name.clone()).or_insert(st))
    }

    /// Adds or replaces (by slug) a window in the index.
    pub fn upsert_window(&mut self, window: Window) {
        self.windows.insert(window.slug.clone(), window);
        self.windows_dirty = true;
    }

    /// Flushes buffered frames to disk (ends the current compressed block of every open segment),
    /// and rewrites `windows.jsonl` if windows changed since the last flush.
    ///
    /// # Errors
    /// [`StoreError`] on I/O errors.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        for st in self.streams.values_mut() {
            if let Some(o) = &mut st.open {
                o.writer.flush()?;
            }
        }
        if self.windows_dirty {
            self.write_windows()?;
        }
        Ok(())
    }

    /// Like [`flush`](Self::flush), then syncs every open segment's data to the storage device
    /// (see [`SegmentWriter::sync`]). `windows.jsonl` is always written with fsync + rename.
    ///
    /// # Errors
    /// [`StoreError`] on I/O errors.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        for st in self.streams.values_mut() {
            if let Some(o) = &mut st.open {
                o.writer.sync()?;
            }
        }
        Ok(())
    }

    /// Closes (flush, fsync, close) every open segment whose hour is before the hour of `now`, so
    /// that a stream that went quiet does not keep last hour's file open. The next frame of such
    /// a stream opens a new segment as usual. Returns how many were closed; they are also queued
    /// for [`take_closed_segments`](Self::take_closed_segments).
    ///
    /// # Errors
    /// [`StoreError`] on I/O errors.
    pub fn close_segments_before(&mut self, now: UnixNanos) -> Result<usize, StoreError> {
        let hour = hour_of(now);
        let mut n = 0;
        for (name, st) in &mut self.streams {
            if st.open.as_ref().is_some_and(|o| o.hour < hour)
                && let Some(o) = st.open.take()
            {
                self.closed.push(o.close(&StreamId {
                    feed: st.feed,
                    name: name.clone(),
                })?);
                n += 1;
            }
        }
        Ok(n)
    }

    /// The segments closed since the last call (rotation, [`close_segments_before`](Self::close_segments_before)),
    /// in the order they were closed. Segments closed by [`finish`](Self::finish) are in its
    /// [`RecordingSummary::closed`].
    pub fn take_closed_segments(&mut self) -> Vec<ClosedSegment> {
        std::mem::take(&mut self.closed)
    }

    /// Frames written so far per stream name (buffered ones included).
    pub fn frames_written(&self) -> BTreeMap<String, u64> {
        self.streams
            .iter()
            .map(|(n, st)| (n.clone(), st.frames))
            .collect()
    }

    fn write_windows(&mut self) -> Result<(), StoreError> {
        let mut list: Vec<&Window> = self.windows.values().collect();
        list.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.slug.cmp(&b.slug)));
        write_atomic(&self.dir.join(WINDOWS_FILE), |w| {
            for win in list {
                serde_json::to_writer(&mut *w, win)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        })?;
        self.windows_dirty = false;
        Ok(())
    }

    fn write_manifest(&self, finished_ns: Option<UnixNanos>) -> Result<(), StoreError> {
        let streams = if finished_ns.is_some() {
            self.streams
                .iter()
                .map(|(name, st)| {
                    (
                        name.clone(),
                        StreamManifest {
                            feed: st.feed,
                            feed_code: st.feed.code(),
                            frames: st.frames,
                            bytes: st.bytes,
                            segments: st.segments,
                            first_recv_ns: st.first_recv,
                            last_recv_ns: st.last_recv,
                        },
                    )
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        let manifest = Manifest {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            meta: self.meta.clone(),
            created_ns: self.created_ns,
            created_utc: self.created_ns.to_rfc3339(),
            finished_ns,
            streams,
            windows: self.windows.len() as u64,
            window_records: self.window_records,
        };
        write_atomic(&self.dir.join(MANIFEST_FILE), |w| {
            serde_json::to_writer_pretty(&mut *w, &manifest)?;
            w.write_all(b"\n")
        })
    }

    /// Declares that this recording's control stream carries window records (listings,
    /// published strikes and resolutions with their receive times; [`Manifest::window_records`]),
    /// and rewrites `recording.json` at once so that a reader of an unfinished recording knows it.
    ///
    /// # Errors
    /// [`StoreError`] if the manifest cannot be written.
    pub fn declare_window_records(&mut self) -> Result<(), StoreError> {
        self.window_records = true;
        self.write_manifest(None)
    }

    /// Closes all segments and writes `windows.jsonl` and `recording.json`.
    ///
    /// # Errors
    /// [`StoreError`] on I/O errors.
    pub fn finish(mut self) -> Result<RecordingSummary, StoreError> {
        self.finished = true;
        let mut summary = RecordingSummary::default();
        for (name, st) in &mut self.streams {
            if let Some(o) = st.open.take() {
                self.closed.push(o.close(&StreamId {
                    feed: st.feed,
                    name: name.clone(),
                })?);
            }
            summary.frames.insert(name.clone(), st.frames);
            summary.bytes.insert(name.clone(), st.bytes);
            summary.segments += st.segments;
        }
        summary.windows = self.windows.len() as u64;
        summary.closed = std::mem::take(&mut self.closed);
        self.write_windows()?;
        self.write_manifest(Some(now_ns()))?;
        Ok(summary)
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        if !self.finished
            && self.windows_dirty
            && let Err(e) = self.write_windows()
        {
            tracing::warn!(dir = %self.dir.display(), error = %e, "recording writer dropped: writing windows.jsonl failed");
        }
        // Open segment writers flush their blocks in their own Drop.
    }
}

/// One segment file of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The file.
    pub path: PathBuf,
    /// Hour of every frame in it (hours since the epoch, UTC), from the file name.
    pub hour: u64,
    /// Collision suffix from the file name (0 = none).
    pub seq: u32,
    /// File size in bytes (compressed).
    pub len: u64,
}

impl SegmentInfo {
    /// First nanosecond of the segment's hour (ns since epoch).
    pub fn start(&self) -> UnixNanos {
        UnixNanos(self.hour * NANOS_PER_HOUR)
    }

    /// First nanosecond after the segment's hour (ns since epoch, exclusive end).
    pub fn end(&self) -> UnixNanos {
        UnixNanos((self.hour + 1) * NANOS_PER_HOUR)
    }
}

/// One stream of a recording and its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Stream name and feed.
    pub id: StreamId,
    /// Segments in replay order: by hour, then collision suffix (numerically).
    pub segments: Vec<SegmentInfo>,
    /// The manifest's counters, if the writer finished.
    pub manifest: Option<StreamManifest>,
}

/// An existing recording opened for reading.
#[derive(Debug, Clone)]
pub struct Recording {
    dir: PathBuf,
    manifest: Manifest,
    windows: Vec<Window>,
    streams: Vec<StreamInfo>,
    by_slug: HashMap<String, usize>,
    by_token: HashMap<TokenId, usize>,
    by_condition: HashMap<ConditionId, usize>,
}

impl Recording {
    /// Opens a recording directory.
    ///
    /// Reads the manifest and the window index and lists the segments of every stream under
    /// `capture/` (a stream's feed comes from the manifest or, for a recording whose writer did
    /// not finish, from its first readable segment header). Segment contents are not read.
    ///
    /// # Errors
    /// [`StoreError`] if it is not a recording (no `recording.json`) or is unreadable:
    /// [`StoreError::Format`] naming the file (and line, for `windows.jsonl`) for malformed
    /// manifest or window lines, an unknown format or version, or a stream whose feed cannot be
    /// determined; [`StoreError::Io`] for I/O errors.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = match fs::read(&manifest_path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let reason = if dir.is_dir() {
                    format!("not a polyedge recording: no {MANIFEST_FILE} in this directory")
                } else {
                    "no such recording directory".to_string()
                };
                return Err(StoreError::Format {
                    path: dir.to_path_buf(),
                    reason,
                });
            }
            Err(e) => return Err(StoreError::io(&manifest_path)(e)),
        };
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| StoreError::Format {
            path: manifest_path.clone(),
            reason: format!("invalid manifest: {e}"),
        })?;
        if manifest.format != FORMAT_NAME {
            return Err(StoreError::Format {
                path: manifest_path,
                reason: format!("format is {:?}, expected {FORMAT_NAME:?}", manifest.format),
            });
        }
        if manifest.format_version != FORMAT_VERSION {
            return Err(StoreError::Format {
                path: manifest_path,
                reason: format!(
                    "unsupported format_version {} (this reader knows {FORMAT_VERSION})",
                    manifest.format_version
                ),
            });
        }
        let windows = read_windows(&dir.join(WINDOWS_FILE))?;
        let streams = list_streams(dir, &manifest)?;
        let mut rec = Recording {
            dir: dir.to_path_buf(),
            manifest,
            windows,
            streams,
            by_slug: HashMap::new(),
            by_token: HashMap::new(),
            by_condition: HashMap::new(),
        };
        for (i, w) in rec.windows.iter().enumerate() {
            rec.by_slug.insert(w.slug.clone(), i);
            for t in [w.up_token, w.down_token].into_iter().flatten() {
                rec.by_token.insert(t, i);
            }
            if let Some(c) = w.condition_id {
                rec.by_condition.insert(c, i);
            }
        }
        Ok(rec)
    }

    /// The windows of the index, sorted by start time then slug.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The recording directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Descriptive metadata from the manifest.
    pub fn meta(&self) -> &RecordingMeta {
        &self.manifest.meta
    }

    /// The whole manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// `true` if the writer finished (the manifest has stream counters).
    pub fn is_finished(&self) -> bool {
        self.manifest.finished_ns.is_some()
    }

    /// The streams, sorted by name.
    pub fn streams(&self) -> &[StreamInfo] {
        &self.streams
    }

    /// The stream named `name`.
    pub fn stream(&self, name: &str) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.id.name == name)
    }

    /// Every segment with its stream, by stream name then replay order.
    pub fn segments(&self) -> impl Iterator<Item = (&StreamId, &SegmentInfo)> {
        self.streams
            .iter()
            .flat_map(|s| s.segments.iter().map(move |seg| (&s.id, seg)))
    }

    /// `true` if `seg` may legitimately end in a torn tail: it is the last segment (in replay
    /// order) of `stream` and the writer did not finish (it was killed, or is still writing).
    /// Every other segment was closed (flushed and synced) by its writer, so an early end there
    /// is damage.
    pub fn tail_allowed(&self, stream: &StreamInfo, seg: &SegmentInfo) -> bool {
        !self.is_finished()
            && stream
                .segments
                .last()
                .is_some_and(|l| l.hour == seg.hour && l.seq == seg.seq)
    }

    /// The read options for `seg` of `stream`: a torn tail only where [`tail_allowed`]
    /// (Self::tail_allowed), damage skipped when `skip_corrupt`.
    pub fn read_options(
        &self,
        stream: &StreamInfo,
        seg: &SegmentInfo,
        skip_corrupt: bool,
    ) -> ReadOptions {
        ReadOptions {
            tail_allowed: self.tail_allowed(stream, seg),
            skip_corrupt,
        }
    }

    /// Opens `seg` of `stream` with [`read_options`](Self::read_options).
    ///
    /// # Errors
    /// As [`SegmentReader::open_with`].
    pub fn open_segment(
        &self,
        stream: &StreamInfo,
        seg: &SegmentInfo,
        skip_corrupt: bool,
    ) -> Result<SegmentReader, StoreError> {
        SegmentReader::open_with(&seg.path, self.read_options(stream, seg, skip_corrupt))
    }

    /// The window with this slug.
    pub fn window_by_slug(&self, slug: &str) -> Option<&Window> {
        self.by_slug.get(slug).map(|&i| &self.windows[i])
    }

    /// The window that has `token` as its Up or Down token.
    pub fn window_by_token(&self, token: TokenId) -> Option<&Window> {
        self.by_token.get(&token).map(|&i| &self.windows[i])
    }

    /// The window with this condition id.
    pub fn window_by_condition(&self, condition: ConditionId) -> Option<&Window> {
        self.by_condition.get(&condition).map(|&i| &self.windows[i])
    }
}

fn read_windows(path: &Path) -> Result<Vec<Window>, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(path)(e)),
    };
    let mut windows: Vec<Window> = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(StoreError::io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let w: Window = serde_json::from_str(&line).map_err(|e| StoreError::Format {
            path: path.to_path_buf(),
            reason: format!("line {}: invalid window: {e}", i + 1),
        })?;
        windows.push(w);
    }
    windows.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.slug.cmp(&b.slug)));
    // Later duplicates of a slug replace earlier ones (as upsert does).
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for w in windows {
        if let Some(&i) = seen.get(&w.slug) {
            tracing::warn!(file = %path.display(), slug = %w.slug, "duplicate window slug; keeping the last");
            out[i] = w;
        } else {
            seen.insert(w.slug.clone(), out.len());
            out.push(w);
        }
    }
    Ok(out)
}

fn list_streams(dir: &Path, manifest: &Manifest) -> Result<Vec<StreamInfo>, StoreError> {
    let capture = dir.join(CAPTURE_DIR);
    let entries = match fs::read_dir(&capture) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&capture)(e)),
    };
    let mut streams = Vec::new();
    for entry in entries {
        let entry = entry.map_err(StoreError::io(&capture))?;
        let path = entry.path();
        if !entry.file_type().map_err(StoreError::io(&path))?.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::warn!(path = %path.display(), "ignoring capture directory with a non-UTF-8 name");
            continue;
        };
        if !valid_stream_name(&name) {
            tracing::warn!(path = %path.display(), "ignoring capture directory with an invalid stream name");
            continue;
        }
        let segments = list_segments(&path)?;
        let stream_manifest = manifest.streams.get(&name).cloned();
        let feed = if let Some(m) = &stream_manifest {
            m.feed
        } else if let Some(f) = feed_from_segments(&segments) {
            f
        } else if let Ok(f) = name.parse::<Feed>() {
            tracing::warn!(path = %path.display(), "no readable segment header; feed taken from the stream's name");
            f
        } else if segments.is_empty() {
            tracing::warn!(path = %path.display(), "ignoring stream directory without segments");
            continue;
        } else {
            return Err(StoreError::Format {
                path: path.clone(),
                reason: "no segment of this stream has a readable header, so its feed is unknown \
                         (the writer did not finish, and the stream is not named after a feed)"
                    .into(),
            });
        };
        streams.push(StreamInfo {
            id: StreamId { feed, name },
            segments,
            manifest: stream_manifest,
        });
    }
    streams.sort_by(|a, b| a.id.name.cmp(&b.id.name));
    Ok(streams)
}

fn list_segments(stream_dir: &Path) -> Result<Vec<SegmentInfo>, StoreError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(stream_dir).map_err(StoreError::io(stream_dir))? {
        let entry = entry.map_err(StoreError::io(stream_dir))?;
        let path = entry.path();
        let parsed = entry.file_name().to_str().and_then(parse_segment_file_name);
        let Some((hour, seq)) = parsed else {
            if path.extension().is_none_or(|e| e != "tmp") {
                tracing::warn!(path = %path.display(), "ignoring file that is not a segment");
            }
            continue;
        };
        let len = entry.metadata().map_err(StoreError::io(&path))?.len();
        segments.push(SegmentInfo {
            path,
            hour,
            seq,
            len,
        });
    }
    segments.sort_by_key(|s| (s.hour, s.seq));
    Ok(segments)
}

/// The feed of the first segment whose header is readable (damaged segments are passed over
/// here; reading them reports the damage).
fn feed_from_segments(segments: &[SegmentInfo]) -> Option<Feed> {
    for seg in segments {
        match SegmentReader::open(&seg.path) {
            Ok(reader) => {
                if let Some(h) = reader.header() {
                    return Some(h.feed);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "segment header unreadable; trying the stream's next segment for its feed");
            }
        }
    }
    None
}
