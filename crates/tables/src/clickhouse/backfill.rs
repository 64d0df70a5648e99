//! `backfill`: a recording's capture files → ClickHouse.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use polyedge_core::MarketEvent;
use polyedge_store::segment::{CorruptSpan, ReadOptions, SegmentReader};
use polyedge_store::{Progress, Recording, StreamId, TornTail};

use super::sink::Batch;
use super::{ChDb, manifest_json};
use crate::TableError;
use crate::convert::{ConvertStats, EVENT_TABLES, now_ns, window_row};
use crate::tables::LoadedSegmentRow;

/// Options of [`backfill`].
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Name of the recording in ClickHouse (default: the directory's name).
    pub name: Option<String>,
    /// Load every segment again, even those marked loaded (duplicates collapse, see the module
    /// docs).
    pub force: bool,
    /// Frames per `INSERT` batch.
    pub batch_frames: usize,
    /// Payload bytes per `INSERT` batch.
    pub batch_bytes: usize,
    /// A segment of an unfinished recording counts as closed (and is marked loaded) once its
    /// hour ended this long ago (ns); before that it is loaded but not marked, so the next
    /// backfill loads it again in full.
    pub open_grace_ns: u64,
    /// Skip damaged data (reading around it) instead of reporting the segment as an error;
    /// every skip is listed in [`BackfillReport::skipped`] and such segments are not marked
    /// loaded.
    pub skip_corrupt: bool,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            name: None,
            force: false,
            batch_frames: 50_000,
            batch_bytes: 32 << 20,
            open_grace_ns: 120 * 1_000_000_000,
            skip_corrupt: false,
        }
    }
}

/// What [`backfill`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Name of the recording in ClickHouse.
    pub recording: String,
    /// Segments read and inserted.
    pub segments_loaded: u64,
    /// Segments skipped because `loaded_segments` has them.
    pub segments_skipped: u64,
    /// Loaded segments not marked loaded because they may still be written to (see
    /// [`BackfillOptions::open_grace_ns`]).
    pub segments_open: u64,
    /// Frames inserted.
    pub frames: u64,
    /// Frames the parsers rejected (stored in `frames`, no table rows).
    pub parse_errors: u64,
    /// Rows inserted per event table.
    pub rows: BTreeMap<String, u64>,
    /// Windows inserted.
    pub windows: u64,
    /// Segments that ended in a torn tail (complete records loaded).
    pub torn_tails: Vec<TornTail>,
    /// Invalid or corrupt segments (message names the file and record): records before the
    /// damage were loaded; the segment is not marked loaded.
    pub errors: Vec<String>,
    /// Damage skipped (`skip_corrupt`): everything readable around it was loaded.
    pub skipped: Vec<CorruptSpan>,
    /// Conversion counters.
    pub convert: ConvertStats,
}

impl fmt::Display for BackfillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "recording {}: {} segments loaded ({} already loaded, skipped; {} possibly still open, not marked), {} frames ({} not parsed), {} windows",
            self.recording,
            self.segments_loaded,
            self.segments_skipped,
            self.segments_open,
            self.frames,
            self.parse_errors,
            self.windows
        )?;
        for (t, n) in &self.rows {
            writeln!(f, "  {t}: {n} rows")?;
        }
        for t in &self.torn_tails {
            writeln!(
                f,
                "  warning: {}: torn tail after {} records ({})",
                t.path.display(),
                t.records,
                t.reason
            )?;
        }
        for e in &self.errors {
            writeln!(f, "  error: {e}; the records before it were loaded")?;
        }
        for sp in &self.skipped {
            writeln!(f, "  skipped (--skip-corrupt): {sp}")?;
        }
        Ok(())
    }
}

/// Loads the recording at `dir` into `db`: creates the schema if needed, registers the
/// recording, inserts its windows and every segment not yet marked in `loaded_segments`
/// (frames and table rows, in batches), then marks each closed segment loaded. Re-running it
/// loads only what is missing. Progress is reported in segment-file bytes.
///
/// Damaged segments are reported in the result, not as `Err` (records before the damage are
/// loaded).
///
/// # Errors
/// [`TableError`] if the recording cannot be opened, ClickHouse fails, or the name is taken
/// by another recording.
pub async fn backfill(
    db: &ChDb,
    dir: &Path,
    opts: &BackfillOptions,
    progress: &(dyn Progress + Sync),
) -> Result<BackfillReport, TableError> {
    let rec = Recording::open(dir)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| {
                TableError::Usage(format!(
                    "{}: cannot name the recording from its path; give a name (--as NAME)",
                    dir.display()
                ))
            })?,
    };
    let mut report = BackfillReport {
        recording: name.clone(),
        ..BackfillReport::default()
    };
    db.create_schema().await?;
    let m = rec.manifest();
    db.register_recording(
        &name,
        crate::convert::ns(m.created_ns),
        &m.meta.created_by,
        manifest_json(m),
    )
    .await?;
    let now = now_ns();
    let mut batch = Batch::default();
    for w in rec.windows() {
        batch.windows.push(
            window_row(w, &name, now, &mut report.convert)
                .map_err(|e| TableError::Usage(format!("window {}: {e}", w.slug)))?,
        );
    }
    report.windows = batch.windows.len() as u64;
    batch.insert(db).await?;
    batch.clear();

    let loaded = db.loaded_segments(&name).await?;
    let total: u64 = rec.segments().map(|(_, s)| s.len).sum();
    progress.set_total(total, "bytes");
    let now_u = u64::try_from(now).unwrap_or(0);
    for (info, seg) in rec
        .streams()
        .iter()
        .flat_map(|i| i.segments.iter().map(move |s| (i, s)))
    {
        let stream = &info.id;
        progress.message(&format!("{}: {}", stream.name, seg.path.display()));
        let (hour, seq) = crate::parquet::segment_key(&seg.path)?;
        if !opts.force && loaded.contains_key(&(stream.name.clone(), hour, seq)) {
            report.segments_skipped += 1;
            progress.inc(seg.len);
            continue;
        }
        let closed = rec.is_finished() || seg.end().0.saturating_add(opts.open_grace_ns) < now_u;
        let load = load_segment(
            db,
            &name,
            stream,
            &seg.path,
            &SegmentLoadOptions {
                mark: closed,
                source: "backfill",
                batch_frames: opts.batch_frames,
                batch_bytes: opts.batch_bytes,
                read: rec.read_options(info, seg, opts.skip_corrupt),
            },
        )
        .await?;
        report.segments_loaded += 1;
        if !closed {
            report.segments_open += 1;
        }
        report.frames += load.frames;
        report.parse_errors += load.parse_errors;
        for (t, n) in load.rows {
            *report.rows.entry(t).or_default() += n;
        }
        report.torn_tails.extend(load.torn_tail);
        report.errors.extend(load.error);
        report.skipped.extend(load.skipped);
        report.convert.add(&load.convert);
        progress.inc(seg.len);
    }
    Ok(report)
}

/// How [`load_segment`] loads one segment.
#[derive(Debug, Clone)]
pub struct SegmentLoadOptions {
    /// Mark the segment completely loaded in `loaded_segments` (only if it was read without
    /// damage). Pass `true` only for a closed segment (the writer will not append to it).
    pub mark: bool,
    /// `loaded_segments.source` of the marker: `backfill`, `collect`, …
    pub source: &'static str,
    /// Frames per `INSERT` batch.
    pub batch_frames: usize,
    /// Payload bytes per `INSERT` batch.
    pub batch_bytes: usize,
    /// How to read the segment: whether a torn tail is legitimate, whether damage is skipped
    /// (see [`Recording::read_options`]).
    pub read: ReadOptions,
}

/// What [`load_segment`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentLoad {
    /// Frames inserted.
    pub frames: u64,
    /// Payload bytes inserted.
    pub bytes: u64,
    /// Frames the parser rejected (stored in `frames`, no table rows).
    pub parse_errors: u64,
    /// Rows inserted per event table.
    pub rows: BTreeMap<String, u64>,
    /// Set if the segment ended in a torn tail (its complete records were loaded).
    pub torn_tail: Option<TornTail>,
    /// Set if the segment is invalid or corrupt (names the file and record): the records before
    /// the damage were loaded and the segment is not marked loaded.
    pub error: Option<String>,
    /// Damage skipped ([`ReadOptions::skip_corrupt`]): the rest was loaded; the segment is not
    /// marked loaded.
    pub skipped: Vec<CorruptSpan>,
    /// The segment was marked in `loaded_segments`.
    pub marked: bool,
    /// Conversion counters.
    pub convert: ConvertStats,
}

fn add_counts(load: &mut SegmentLoad, batch: &Batch) {
    for (t, n) in EVENT_TABLES.iter().zip(batch.tables.counts()) {
        if n > 0 {
            *load.rows.entry((*t).to_string()).or_default() += n as u64;
        }
    }
    load.frames += batch.frames.len() as u64;
}

/// Loads one segment file of `stream` into recording `recording` of `db` (frames and table
/// rows, in batches), then — if `opts.mark` and the segment was undamaged — marks it in
/// `loaded_segments`, in a last insert after its rows. The recording must be registered and
/// the schema created (see [`ChDb::create_schema`], [`ChDb::register_recording`]).
///
/// Loading a segment again is safe: the rows have the same keys and collapse (module docs).
///
/// # Errors
/// [`TableError::ClickHouse`] if an insert fails (some rows may be in; the segment is not
/// marked), [`TableError::Usage`] if `path` is not named like a segment.
pub async fn load_segment(
    db: &ChDb,
    recording: &str,
    stream: &StreamId,
    path: &Path,
    opts: &SegmentLoadOptions,
) -> Result<SegmentLoad, TableError> {
    let (hour, seq) = crate::parquet::segment_key(path)?;
    let mut load = SegmentLoad::default();
    let mut batch = Batch::default();
    let mut events: Vec<MarketEvent> = Vec::with_capacity(64);
    let mut frames = 0u32;
    let mut torn = false;
    match SegmentReader::open_with(path, opts.read) {
        Err(e) => load.error = Some(e.to_string()),
        Ok(mut reader) => loop {
            match reader.advance() {
                Ok(Some(t)) => {
                    let payload = reader.payload();
                    load.bytes += payload.len() as u64;
                    if !batch.push_frame(
                        recording,
                        stream,
                        (hour, seq, frames),
                        t,
                        payload,
                        &mut events,
                        &mut load.convert,
                    ) {
                        load.parse_errors += 1;
                    }
                    frames += 1;
                    if batch.frames.len() >= opts.batch_frames || batch.bytes >= opts.batch_bytes {
                        batch.insert(db).await?;
                        add_counts(&mut load, &batch);
                        batch.clear();
                    }
                }
                Ok(None) => {
                    if let Some(t) = reader.torn_tail() {
                        load.torn_tail = Some(t.clone());
                        torn = true;
                    }
                    load.skipped = reader.take_skipped();
                    break;
                }
                Err(e) => {
                    load.error = Some(e.to_string());
                    break;
                }
            }
        },
    }
    if opts.mark && load.error.is_none() && load.skipped.is_empty() {
        batch.loaded.push(LoadedSegmentRow {
            recording: recording.to_string(),
            segment_hour: hour,
            segment_seq: seq,
            stream: stream.name.clone(),
            frames: u64::from(frames),
            bytes: load.bytes,
            torn: u8::from(torn),
            source: opts.source.to_string(),
            loaded_ns: now_ns(),
        });
        load.marked = true;
    }
    // The marker goes in the last insert, after every row of the segment.
    batch.insert(db).await?;
    add_counts(&mut load, &batch);
    Ok(load)
}
