//! `backfill`: a recording's capture files → ClickHouse.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use polyedge_core::MarketEvent;
use polyedge_store::segment::SegmentReader;
use polyedge_store::{Progress, Recording, TornTail};

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
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            name: None,
            force: false,
            batch_frames: 50_000,
            batch_bytes: 32 << 20,
            open_grace_ns: 120 * 1_000_000_000,
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
        Ok(())
    }
}

fn add_counts(report: &mut BackfillReport, batch: &Batch) {
    for (t, n) in EVENT_TABLES.iter().zip(batch.tables.counts()) {
        if n > 0 {
            *report.rows.entry((*t).to_string()).or_default() += n as u64;
        }
    }
    report.frames += batch.frames.len() as u64;
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
    let mut events: Vec<MarketEvent> = Vec::with_capacity(64);
    let now_u = u64::try_from(now).unwrap_or(0);
    for (stream, seg) in rec.segments() {
        progress.message(&format!("{}: {}", stream.name, seg.path.display()));
        let (hour, seq) = crate::parquet::segment_key(&seg.path)?;
        if !opts.force && loaded.contains_key(&(stream.name.clone(), hour, seq)) {
            report.segments_skipped += 1;
            progress.inc(seg.len);
            continue;
        }
        let mut frames = 0u32;
        let mut bytes = 0u64;
        let mut damaged = false;
        let mut torn = false;
        match SegmentReader::open(&seg.path) {
            Err(e) => {
                report.errors.push(e.to_string());
                damaged = true;
            }
            Ok(mut reader) => loop {
                match reader.advance() {
                    Ok(Some(t)) => {
                        let payload = reader.payload();
                        bytes += payload.len() as u64;
                        if !batch.push_frame(
                            &name,
                            stream,
                            (hour, seq, frames),
                            t,
                            payload,
                            &mut events,
                            &mut report.convert,
                        ) {
                            report.parse_errors += 1;
                        }
                        frames += 1;
                        if batch.frames.len() >= opts.batch_frames
                            || batch.bytes >= opts.batch_bytes
                        {
                            batch.insert(db).await?;
                            add_counts(&mut report, &batch);
                            batch.clear();
                        }
                    }
                    Ok(None) => {
                        if let Some(t) = reader.torn_tail() {
                            report.torn_tails.push(t.clone());
                            torn = true;
                        }
                        break;
                    }
                    Err(e) => {
                        report.errors.push(e.to_string());
                        damaged = true;
                        break;
                    }
                }
            },
        }
        report.segments_loaded += 1;
        let closed = rec.is_finished() || seg.end().0.saturating_add(opts.open_grace_ns) < now_u;
        if !closed {
            report.segments_open += 1;
        } else if !damaged {
            batch.loaded.push(LoadedSegmentRow {
                recording: name.clone(),
                segment_hour: hour,
                segment_seq: seq,
                stream: stream.name.clone(),
                frames: u64::from(frames),
                bytes,
                torn: u8::from(torn),
                source: "backfill".to_string(),
                loaded_ns: now_ns(),
            });
        }
        // Insert per segment, so a marker is never written before its segment's rows.
        batch.insert(db).await?;
        add_counts(&mut report, &batch);
        batch.clear();
        progress.inc(seg.len);
    }
    Ok(report)
}
