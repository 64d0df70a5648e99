//! The live sink: frames from `collect` → batched inserts into ClickHouse.

use std::collections::{HashMap, HashSet};

use polyedge_core::{MarketEvent, UnixNanos, Window};
use polyedge_store::StreamId;
use polyedge_store::recording::hour_of;

use super::ChDb;
use crate::TableError;
use crate::convert::{ConvertStats, FramePos, TableRows, now_ns, window_row};
use crate::tables::{FrameRow, LoadedSegmentRow, Payload, WindowRow};

/// Rows waiting to be inserted: frames, the event tables, windows and segment markers.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub frames: Vec<FrameRow>,
    pub tables: TableRows,
    pub windows: Vec<WindowRow>,
    pub loaded: Vec<LoadedSegmentRow>,
    /// Payload bytes of `frames`.
    pub bytes: usize,
}

impl Batch {
    /// Adds one frame (and the rows of its parsed events). Returns `false` if the parser
    /// rejected the frame (the frame itself is still added).
    #[allow(clippy::too_many_arguments)]
    pub fn push_frame(
        &mut self,
        recording: &str,
        stream: &StreamId,
        (segment_hour, segment_seq, record): (u32, u32, u32),
        recv_ns: UnixNanos,
        bytes: &[u8],
        events: &mut Vec<MarketEvent>,
        stats: &mut ConvertStats,
    ) -> bool {
        self.frames.push(FrameRow {
            recording: recording.to_string(),
            segment_hour,
            segment_seq,
            stream: stream.name.clone(),
            feed_code: stream.feed.code(),
            record,
            recv_ns: crate::convert::ns(recv_ns),
            payload: Payload(bytes.to_vec()),
        });
        self.bytes += bytes.len();
        events.clear();
        if stream.feed.parse(bytes, recv_ns, events).is_err() {
            return false;
        }
        let pos = FramePos {
            recording,
            stream: &stream.name,
            segment_hour,
            segment_seq,
            record,
        };
        self.tables.push_frame(&pos, events, stats);
        true
    }

    /// Inserts everything: frames, tables, windows, then the segment markers (last, so a
    /// marker is only written once its rows are in).
    pub async fn insert(&self, db: &ChDb) -> Result<(), TableError> {
        db.insert(&self.frames).await?;
        db.insert_tables(&self.tables).await?;
        db.insert(&self.windows).await?;
        db.insert(&self.loaded).await
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.windows.is_empty() && self.loaded.is_empty()
    }

    pub fn clear(&mut self) {
        self.frames.clear();
        self.tables.clear();
        self.windows.clear();
        self.loaded.clear();
        self.bytes = 0;
    }
}

/// The segment a stream is writing, mirrored from the `RecordingWriter`.
#[derive(Debug, Clone)]
struct OpenSeg {
    hour: u32,
    seq: u32,
    records: u32,
    bytes: u64,
    /// Some of its rows were dropped (ClickHouse down too long): never marked loaded.
    dirty: bool,
}

#[derive(Debug, Default)]
struct SinkStream {
    open: Option<OpenSeg>,
    /// Next collision suffix per hour, exactly as the writer chooses file names.
    next_seq: HashMap<u32, u32>,
}

/// Counters of a [`ChSink`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Frames pushed.
    pub frames: u64,
    /// Frames inserted (successful flushes).
    pub frames_inserted: u64,
    /// Frames dropped from the buffer after failed flushes (they are in the capture files;
    /// `backfill` loads them).
    pub frames_dropped: u64,
    /// Frames the parsers rejected (still stored in `frames`).
    pub parse_errors: u64,
    /// Successful flushes.
    pub flushes: u64,
    /// Failed flushes.
    pub failed_flushes: u64,
    /// Segments marked completely loaded (markers inserted).
    pub segments_marked: u64,
    /// Segments closed with rows dropped (left for `backfill`).
    pub segments_dirty: u64,
    /// Conversion counters.
    pub convert: ConvertStats,
}

/// Buffers frames of one recording and inserts them into ClickHouse in batches.
///
/// Contract: push exactly the frames appended to the recording's `RecordingWriter`, in the same
/// order, right after each successful `append` — the sink mirrors the writer's segment naming
/// (hour, then `-n` collision suffix on revisiting an hour) to give every row its place in the
/// capture files, which is what makes replay from ClickHouse equal file replay and lets
/// `backfill` skip or safely repeat segments.
///
/// [`flush`](Self::flush) when [`should_flush`](Self::should_flush) says so (and on a timer,
/// e.g. every second). When ClickHouse is down, `flush` returns the error and keeps the rows
/// for the next try, up to [`max_buffered_bytes`](Self::max_buffered_bytes); beyond that it
/// drops them (counted in [`SinkStats::frames_dropped`]) and their segments are not marked
/// loaded, so `polyedge backfill` loads them later from the capture files — nothing is lost.
/// A segment is marked in `loaded_segments` when the stream moves to another segment (or at
/// [`finish`](Self::finish)) and every one of its frames was inserted.
#[derive(Debug)]
pub struct ChSink {
    db: ChDb,
    recording: String,
    created_ns: i64,
    created_by: String,
    registered: bool,
    streams: HashMap<String, SinkStream>,
    batch: Batch,
    /// Segments with rows in `batch`: (stream, hour, seq).
    in_batch: HashSet<(String, u32, u32)>,
    events: Vec<MarketEvent>,
    stats: SinkStats,
    /// Flush when this many frames are buffered (default 50 000).
    pub max_batch_frames: usize,
    /// Flush when this many payload bytes are buffered (default 32 MiB).
    pub max_batch_bytes: usize,
    /// After a failed flush, keep at most this many payload bytes (default 256 MiB); more are
    /// dropped (the capture files have them).
    pub max_buffered_bytes: usize,
}

impl ChSink {
    /// A sink for recording `recording` (its name in ClickHouse; normally the recording
    /// directory's name) whose manifest has `created_ns`. Nothing is sent before the first
    /// flush, which also registers the recording (see [`ChDb::register_recording`]).
    pub fn new(db: ChDb, recording: &str, created_ns: i64) -> Self {
        ChSink {
            db,
            recording: recording.to_string(),
            created_ns,
            created_by: "polyedge collect".to_string(),
            registered: false,
            streams: HashMap::new(),
            batch: Batch::default(),
            in_batch: HashSet::new(),
            events: Vec::with_capacity(64),
            stats: SinkStats::default(),
            max_batch_frames: 50_000,
            max_batch_bytes: 32 << 20,
            max_buffered_bytes: 256 << 20,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }

    /// Frames buffered.
    pub fn buffered_frames(&self) -> usize {
        self.batch.frames.len()
    }

    /// Buffers one frame (as appended to the capture files) and the rows of its events.
    pub fn push(&mut self, stream: &StreamId, recv_ns: UnixNanos, bytes: &[u8]) {
        let hour = u32::try_from(hour_of(recv_ns)).unwrap_or(u32::MAX);
        let st = self.streams.entry(stream.name.clone()).or_default();
        if st.open.as_ref().is_none_or(|o| o.hour != hour) {
            if let Some(old) = st.open.take() {
                Self::close_segment(
                    &mut self.batch,
                    &mut self.stats,
                    &self.recording,
                    &stream.name,
                    &old,
                );
            }
            let seq = st.next_seq.entry(hour).or_insert(0);
            st.open = Some(OpenSeg {
                hour,
                seq: *seq,
                records: 0,
                bytes: 0,
                dirty: false,
            });
            *seq += 1;
        }
        let Some(open) = st.open.as_mut() else {
            return;
        };
        let key = (open.hour, open.seq, open.records);
        open.records += 1;
        open.bytes += bytes.len() as u64;
        self.in_batch
            .insert((stream.name.clone(), open.hour, open.seq));
        self.stats.frames += 1;
        if !self.batch.push_frame(
            &self.recording,
            stream,
            key,
            recv_ns,
            bytes,
            &mut self.events,
            &mut self.stats.convert,
        ) {
            self.stats.parse_errors += 1;
        }
    }

    fn close_segment(
        batch: &mut Batch,
        stats: &mut SinkStats,
        recording: &str,
        stream: &str,
        seg: &OpenSeg,
    ) {
        if seg.dirty {
            stats.segments_dirty += 1;
            return;
        }
        batch.loaded.push(LoadedSegmentRow {
            recording: recording.to_string(),
            segment_hour: seg.hour,
            segment_seq: seg.seq,
            stream: stream.to_string(),
            frames: u64::from(seg.records),
            bytes: seg.bytes,
            torn: 0,
            source: "sink".to_string(),
            loaded_ns: now_ns(),
        });
    }

    /// Adds or replaces (by slug) a window in ClickHouse's window index (sent on the next flush).
    pub fn upsert_window(&mut self, window: &Window) {
        match window_row(window, &self.recording, now_ns(), &mut self.stats.convert) {
            Ok(row) => self.batch.windows.push(row),
            Err(e) => {
                tracing::warn!(slug = %window.slug, error = %e, "window not sent to ClickHouse");
            }
        }
    }

    /// `true` when the buffer reached [`max_batch_frames`](Self::max_batch_frames) or
    /// [`max_batch_bytes`](Self::max_batch_bytes).
    pub fn should_flush(&self) -> bool {
        self.batch.frames.len() >= self.max_batch_frames || self.batch.bytes >= self.max_batch_bytes
    }

    /// Inserts everything buffered. Returns the number of frames inserted.
    ///
    /// # Errors
    /// [`TableError`] if ClickHouse cannot be reached or refuses; the rows stay buffered for
    /// the next flush unless the buffer exceeds [`max_buffered_bytes`](Self::max_buffered_bytes),
    /// in which case they are dropped and their segments left for `backfill` (see the type docs).
    pub async fn flush(&mut self) -> Result<usize, TableError> {
        if self.batch.is_empty() {
            return Ok(0);
        }
        let res = async {
            if !self.registered {
                self.db
                    .register_recording(
                        &self.recording,
                        self.created_ns,
                        &self.created_by,
                        String::new(),
                    )
                    .await?;
                self.registered = true;
            }
            self.batch.insert(&self.db).await
        }
        .await;
        match res {
            Ok(()) => {
                let n = self.batch.frames.len();
                self.stats.frames_inserted += n as u64;
                self.stats.flushes += 1;
                self.stats.segments_marked += self.batch.loaded.len() as u64;
                self.batch.clear();
                self.in_batch.clear();
                Ok(n)
            }
            Err(e) => {
                self.stats.failed_flushes += 1;
                if self.batch.bytes > self.max_buffered_bytes {
                    self.drop_buffer();
                }
                Err(e)
            }
        }
    }

    /// Drops the buffered rows; their segments will not be marked loaded.
    fn drop_buffer(&mut self) {
        let n = self.batch.frames.len() as u64;
        tracing::warn!(
            frames = n,
            recording = %self.recording,
            "ClickHouse unreachable: dropping buffered rows (the capture files keep them; run polyedge backfill)"
        );
        self.stats.frames_dropped += n;
        // Markers of closed segments whose rows are dropped must go too.
        let in_batch = std::mem::take(&mut self.in_batch);
        self.batch
            .loaded
            .retain(|l| !in_batch.contains(&(l.stream.clone(), l.segment_hour, l.segment_seq)));
        for (name, st) in &mut self.streams {
            if let Some(o) = &mut st.open
                && in_batch.contains(&(name.clone(), o.hour, o.seq))
            {
                o.dirty = true;
            }
        }
        let loaded = std::mem::take(&mut self.batch.loaded);
        self.batch.clear();
        self.batch.loaded = loaded;
    }

    /// Closes every open segment (marking it loaded if complete) and flushes. Call after the
    /// `RecordingWriter` finished.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub async fn finish(&mut self) -> Result<SinkStats, TableError> {
        for (name, st) in &mut self.streams {
            if let Some(old) = st.open.take() {
                Self::close_segment(
                    &mut self.batch,
                    &mut self.stats,
                    &self.recording,
                    name,
                    &old,
                );
            }
        }
        self.flush().await?;
        Ok(self.stats.clone())
    }
}
