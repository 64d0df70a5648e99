//! Parquet export: capture segments → one Parquet file per (table, segment).
//!
//! Layout (under `<recording>/tables/` by default):
//!
//! ```text
//! tables/
//! ├── book_snapshots/20260415T12.polymarket-market.parquet   rows of that segment file
//! ├── book_deltas/…
//! ├── trades/  best_bid_ask/  spot_trades/  spot_quotes/  reference_prices/  klines/
//! └── windows/windows.parquet                                 the window index
//! ```
//!
//! A file is named after its segment (`<YYYYMMDD>T<HH>[-n]`, §4.2 of the recording format) and
//! stream, so `collect` can convert each closed hourly segment on its own
//! ([`export_segment`]) and `polyedge tables` converts a whole recording
//! ([`export_recording`]). Each directory is one table: `pandas.read_parquet("tables/trades")`,
//! `polars.read_parquet("tables/trades/*.parquet")`, DuckDB
//! `read_parquet('tables/trades/*.parquet')`. Files are written atomically (`.tmp` + rename);
//! a table with no rows in a segment gets no file. Rows within a file are in the segment's
//! record order; across files sort by `recv_ns` (then `stream`, `record`, `event`).
//!
//! Columns and units: [`crate::tables`] and `docs/tables.md`. Compression: zstd level 3.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use arrow_schema::{Field, Schema, SchemaRef};
use polyedge_core::MarketEvent;
use polyedge_store::recording::{SEGMENT_SUFFIX, parse_segment_file_name};
use polyedge_store::segment::{CorruptSpan, ReadOptions, SegmentReader};
use polyedge_store::{Progress, Recording, StreamId, TornTail};

use crate::TableError;
use crate::convert::{ConvertStats, EVENT_TABLES, FramePos, TableRows, window_row};
use crate::schema::{Builders, TableRow};
use crate::tables::{
    BestBidAskRow, BookDeltaRow, BookSnapshotRow, KlineRow, ReferencePriceRow, SpotQuoteRow,
    SpotTradeRow, TradeRow, WindowRow,
};

/// Default output directory name inside a recording.
pub const TABLES_DIR: &str = "tables";

/// Rows per Arrow record batch (and at most this many rows are buffered per table).
pub const BATCH_ROWS: usize = 64 * 1024;

/// What [`export_segment`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentExport {
    /// The segment file.
    pub segment: PathBuf,
    /// Its stream.
    pub stream: String,
    /// Frames read (CRC-valid records).
    pub frames: u64,
    /// Frames the parser rejected (counted, skipped).
    pub parse_errors: u64,
    /// Rows written per table name.
    pub rows: BTreeMap<String, u64>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Set if the segment ended in a torn tail (its complete records were exported).
    pub torn_tail: Option<TornTail>,
    /// Set if the segment is invalid or corrupt: the message names the file (and record); the
    /// records before the damage were exported.
    pub error: Option<String>,
    /// Damage skipped (read with [`ReadOptions::skip_corrupt`]): everything else was exported.
    pub skipped: Vec<CorruptSpan>,
    /// Conversion counters.
    pub convert: ConvertStats,
}

/// What [`export_recording`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// The output directory.
    pub out_dir: PathBuf,
    /// Segments read.
    pub segments: u64,
    /// Frames read.
    pub frames: u64,
    /// Frames the parsers rejected.
    pub parse_errors: u64,
    /// Rows written per table (including `windows`).
    pub rows: BTreeMap<String, u64>,
    /// Files written.
    pub files: u64,
    /// Segments that ended in a torn tail.
    pub torn_tails: Vec<TornTail>,
    /// Invalid or corrupt segments (messages name the file and record).
    pub errors: Vec<String>,
    /// Damage skipped (`skip_corrupt`), with the frames lost and their span.
    pub skipped: Vec<CorruptSpan>,
    /// Conversion counters.
    pub convert: ConvertStats,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} segments, {} frames ({} not parsed) → {} files in {}",
            self.segments,
            self.frames,
            self.parse_errors,
            self.files,
            self.out_dir.display()
        )?;
        for (t, n) in &self.rows {
            writeln!(f, "  {t}: {n} rows")?;
        }
        if !self.convert.untabled.is_empty() {
            let kinds: Vec<String> = self
                .convert
                .untabled
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            writeln!(f, "  events without a table: {}", kinds.join(", "))?;
        }
        if self.convert.rounded_e8 > 0 || self.convert.out_of_range > 0 {
            writeln!(
                f,
                "  {} values rounded to 8 decimals, {} events out of range (skipped)",
                self.convert.rounded_e8, self.convert.out_of_range
            )?;
        }
        for t in &self.torn_tails {
            writeln!(
                f,
                "  warning: {}: torn tail after {} records ({}); the complete records were exported",
                t.path.display(),
                t.records,
                t.reason
            )?;
        }
        for e in &self.errors {
            writeln!(f, "  error: {e}; the records before it were exported")?;
        }
        for sp in &self.skipped {
            writeln!(f, "  skipped (--skip-corrupt): {sp}")?;
        }
        Ok(())
    }
}

fn writer_props() -> WriterProperties {
    let level = ZstdLevel::try_new(3).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_created_by(format!("polyedge {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The Parquet schema of `R`: its non-ClickHouse-only columns, each with its documentation
/// (units) as field metadata `doc`.
pub fn parquet_schema<R: TableRow>() -> SchemaRef {
    let fields: Vec<Field> = R::columns()
        .into_iter()
        .filter(|c| !c.ch_only)
        .map(|c| {
            let meta: HashMap<String, String> =
                [("doc".to_string(), c.doc.trim().to_string())].into();
            Field::new(c.name, c.arrow_type, c.nullable).with_metadata(meta)
        })
        .collect();
    let meta: HashMap<String, String> =
        [("polyedge.table".to_string(), R::TABLE.to_string())].into();
    Arc::new(Schema::new_with_metadata(fields, meta))
}

/// One output file of one table, written batch by batch.
struct TableFile<R: TableRow> {
    path: PathBuf,
    tmp: PathBuf,
    schema: SchemaRef,
    builders: R::Builders,
    writer: Option<ArrowWriter<fs::File>>,
    rows: u64,
}

impl<R: TableRow> TableFile<R> {
    fn new(dir: &Path, file_name: &str) -> Self {
        let path = dir.join(R::TABLE).join(file_name);
        let tmp = path.with_extension("parquet.tmp");
        TableFile {
            path,
            tmp,
            schema: parquet_schema::<R>(),
            builders: R::builders(),
            writer: None,
            rows: 0,
        }
    }

    fn perr(&self, e: impl fmt::Display) -> TableError {
        TableError::Parquet {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn absorb(&mut self, rows: &mut Vec<R>) -> Result<(), TableError> {
        for r in rows.drain(..) {
            self.builders.push(&r);
            self.rows += 1;
            if self.builders.len() >= BATCH_ROWS {
                self.write_batch()?;
            }
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), TableError> {
        if self.builders.is_empty() {
            return Ok(());
        }
        let batch = self
            .builders
            .finish(self.schema.clone())
            .map_err(|e| self.perr(e))?;
        if self.writer.is_none() {
            if let Some(parent) = self.tmp.parent() {
                fs::create_dir_all(parent).map_err(TableError::io(parent))?;
            }
            let file = fs::File::create(&self.tmp).map_err(TableError::io(&self.tmp))?;
            let w = ArrowWriter::try_new(file, self.schema.clone(), Some(writer_props()))
                .map_err(|e| self.perr(e))?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            let res = w.write(&batch);
            res.map_err(|e| self.perr(e))?;
        }
        Ok(())
    }

    /// Writes the rest and renames into place; `None` if the table had no rows.
    fn finish(mut self, always: bool) -> Result<Option<(PathBuf, u64)>, TableError> {
        if self.rows == 0 && !always {
            return Ok(None);
        }
        self.write_batch()?;
        if self.writer.is_none() {
            // `always` with no rows: an empty file with the schema.
            if let Some(parent) = self.tmp.parent() {
                fs::create_dir_all(parent).map_err(TableError::io(parent))?;
            }
            let file = fs::File::create(&self.tmp).map_err(TableError::io(&self.tmp))?;
            let w = ArrowWriter::try_new(file, self.schema.clone(), Some(writer_props()))
                .map_err(|e| self.perr(e))?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.take() {
            let file = w.into_inner().map_err(|e| self.perr(e))?;
            file.sync_all().map_err(TableError::io(&self.tmp))?;
        }
        fs::rename(&self.tmp, &self.path).map_err(TableError::io(&self.path))?;
        Ok(Some((self.path, self.rows)))
    }
}

/// Writes `rows` of table `R` to `<dir>/<R::TABLE>/<file_name>` (written to a temporary file,
/// synced and renamed into place; an empty table gives a file with the schema only). Returns
/// the path and the row count.
///
/// # Errors
/// [`TableError`] naming the file if it cannot be written.
pub fn write_rows<R: TableRow>(
    dir: &Path,
    file_name: &str,
    mut rows: Vec<R>,
) -> Result<(PathBuf, u64), TableError> {
    let mut f = TableFile::<R>::new(dir, file_name);
    f.absorb(&mut rows)?;
    let path = f.path.clone();
    Ok(f.finish(true)?.unwrap_or((path, 0)))
}

/// The eight event-table files of one segment.
struct SegmentFiles {
    book_snapshots: TableFile<BookSnapshotRow>,
    book_deltas: TableFile<BookDeltaRow>,
    trades: TableFile<TradeRow>,
    best_bid_ask: TableFile<BestBidAskRow>,
    spot_trades: TableFile<SpotTradeRow>,
    spot_quotes: TableFile<SpotQuoteRow>,
    reference_prices: TableFile<ReferencePriceRow>,
    klines: TableFile<KlineRow>,
}

impl SegmentFiles {
    fn new(dir: &Path, file_name: &str) -> Self {
        SegmentFiles {
            book_snapshots: TableFile::new(dir, file_name),
            book_deltas: TableFile::new(dir, file_name),
            trades: TableFile::new(dir, file_name),
            best_bid_ask: TableFile::new(dir, file_name),
            spot_trades: TableFile::new(dir, file_name),
            spot_quotes: TableFile::new(dir, file_name),
            reference_prices: TableFile::new(dir, file_name),
            klines: TableFile::new(dir, file_name),
        }
    }

    fn absorb(&mut self, rows: &mut TableRows) -> Result<(), TableError> {
        self.book_snapshots.absorb(&mut rows.book_snapshots)?;
        self.book_deltas.absorb(&mut rows.book_deltas)?;
        self.trades.absorb(&mut rows.trades)?;
        self.best_bid_ask.absorb(&mut rows.best_bid_ask)?;
        self.spot_trades.absorb(&mut rows.spot_trades)?;
        self.spot_quotes.absorb(&mut rows.spot_quotes)?;
        self.reference_prices.absorb(&mut rows.reference_prices)?;
        self.klines.absorb(&mut rows.klines)?;
        Ok(())
    }

    fn finish(self, out: &mut SegmentExport) -> Result<(), TableError> {
        let results = [
            (EVENT_TABLES[0], self.book_snapshots.finish(false)?),
            (EVENT_TABLES[1], self.book_deltas.finish(false)?),
            (EVENT_TABLES[2], self.trades.finish(false)?),
            (EVENT_TABLES[3], self.best_bid_ask.finish(false)?),
            (EVENT_TABLES[4], self.spot_trades.finish(false)?),
            (EVENT_TABLES[5], self.spot_quotes.finish(false)?),
            (EVENT_TABLES[6], self.reference_prices.finish(false)?),
            (EVENT_TABLES[7], self.klines.finish(false)?),
        ];
        for (table, res) in results {
            if let Some((path, n)) = res {
                out.rows.insert(table.to_string(), n);
                out.files.push(path);
            }
        }
        Ok(())
    }
}

/// The Parquet file name of the rows of `segment` of `stream`: `<segment stem>.<stream>.parquet`.
///
/// # Errors
/// [`TableError::Usage`] if `segment` is not named like a segment (`20260415T12.seg.zst`).
pub fn parquet_file_name(segment: &Path, stream: &str) -> Result<String, TableError> {
    let name = segment
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if parse_segment_file_name(name).is_none() {
        return Err(TableError::Usage(format!(
            "{}: not a segment file name (expected e.g. 20260415T12.seg.zst)",
            segment.display()
        )));
    }
    let stem = name.strip_suffix(SEGMENT_SUFFIX).unwrap_or(name);
    Ok(format!("{stem}.{stream}.parquet"))
}

/// (hour since the epoch, collision suffix) of a segment file, from its name, as `u32`s.
///
/// # Errors
/// [`TableError::Usage`] if the name is not a segment name.
pub fn segment_key(segment: &Path) -> Result<(u32, u32), TableError> {
    segment
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_segment_file_name)
        .and_then(|(h, s)| Some((u32::try_from(h).ok()?, s)))
        .ok_or_else(|| {
            TableError::Usage(format!(
                "{}: not a segment file name (expected e.g. 20260415T12.seg.zst)",
                segment.display()
            ))
        })
}

/// Converts one segment file of `stream` into Parquet files under `tables_dir` (one per table
/// with rows, `tables_dir/<table>/<stem>.<stream>.parquet`, replacing an older export).
///
/// Bad input is not an `Err`: a torn tail or a corrupt/invalid segment is reported in the
/// result (naming the file and record) and everything readable before it is exported; with
/// `read.skip_corrupt` the damage is skipped instead ([`SegmentExport::skipped`]) and everything
/// readable around it is exported. `read.tail_allowed` says whether a torn tail is legitimate
/// (see [`Recording::read_options`]). Frames the parser rejects are counted and skipped.
///
/// # Errors
/// [`TableError`] if an output file cannot be written, or `segment` is not named like a segment.
pub fn export_segment(
    segment: &Path,
    stream: &StreamId,
    tables_dir: &Path,
    read: ReadOptions,
) -> Result<SegmentExport, TableError> {
    let file_name = parquet_file_name(segment, &stream.name)?;
    let (hour, seq) = segment_key(segment)?;
    let mut out = SegmentExport {
        segment: segment.to_path_buf(),
        stream: stream.name.clone(),
        ..SegmentExport::default()
    };
    let mut files = SegmentFiles::new(tables_dir, &file_name);
    let mut rows = TableRows::default();
    let mut events: Vec<MarketEvent> = Vec::with_capacity(64);
    match SegmentReader::open_with(segment, read) {
        Err(e) => out.error = Some(e.to_string()),
        Ok(mut reader) => {
            if let Some(h) = reader.header()
                && h.feed != stream.feed
            {
                out.error = Some(format!(
                    "{}: segment is of feed {} but stream {:?} is of feed {}",
                    segment.display(),
                    h.feed,
                    stream.name,
                    stream.feed
                ));
            } else {
                loop {
                    let recv_ns = match reader.advance() {
                        Ok(Some(t)) => t,
                        Ok(None) => {
                            out.torn_tail = reader.torn_tail().cloned();
                            out.skipped = reader.take_skipped();
                            break;
                        }
                        Err(e) => {
                            out.error = Some(e.to_string());
                            break;
                        }
                    };
                    let record = u32::try_from(out.frames).unwrap_or(u32::MAX);
                    out.frames += 1;
                    events.clear();
                    if let Err(e) = stream.feed.parse(reader.payload(), recv_ns, &mut events) {
                        out.parse_errors += 1;
                        if out.parse_errors <= 5 {
                            tracing::warn!(file = %segment.display(), record, error = %e, "frame not parsed; skipped");
                        }
                        continue;
                    }
                    let pos = FramePos {
                        recording: "",
                        stream: &stream.name,
                        segment_hour: hour,
                        segment_seq: seq,
                        record,
                    };
                    rows.push_frame(&pos, &events, &mut out.convert);
                    if rows.len() >= 4096 {
                        files.absorb(&mut rows)?;
                    }
                }
            }
        }
    }
    files.absorb(&mut rows)?;
    files.finish(&mut out)?;
    if let Some(e) = &out.error {
        tracing::warn!(error = %e, frames = out.frames, "segment damaged; exported the records before the damage");
    }
    Ok(out)
}

/// Writes the window index of `rec` to `tables_dir/windows/windows.parquet` (always, even
/// with no windows). Returns the file and its row count.
///
/// # Errors
/// [`TableError`] if the file cannot be written.
pub fn export_windows(
    rec: &Recording,
    tables_dir: &Path,
    stats: &mut ConvertStats,
) -> Result<(PathBuf, u64), TableError> {
    let mut file: TableFile<WindowRow> = TableFile::new(tables_dir, "windows.parquet");
    let mut rows = Vec::with_capacity(rec.windows().len());
    for w in rec.windows() {
        rows.push(
            window_row(w, "", 0, stats).map_err(|e| TableError::Parquet {
                path: file.path.clone(),
                message: format!("window {}: {e}", w.slug),
            })?,
        );
    }
    file.absorb(&mut rows)?;
    let res = file.finish(true)?;
    Ok(res.unwrap_or_default())
}

/// Converts every segment of the recording at `dir` (and its window index) into Parquet under
/// `out_dir` (default `<dir>/tables`). Progress is reported in segment-file bytes.
///
/// Damaged segments are reported in [`ExportSummary::errors`] (readable records before the
/// damage exported), or with `skip_corrupt` in [`ExportSummary::skipped`] (everything readable
/// exported), not as `Err`. A torn tail is legitimate only at the end of a stream's last
/// segment in a recording whose writer did not finish ([`ExportSummary::torn_tails`]);
/// elsewhere it is damage.
///
/// # Errors
/// [`TableError`] if the recording cannot be opened or an output file cannot be written.
pub fn export_recording(
    dir: &Path,
    out_dir: Option<&Path>,
    skip_corrupt: bool,
    progress: &dyn Progress,
) -> Result<ExportSummary, TableError> {
    let rec = Recording::open(dir)?;
    let out_dir = out_dir.map_or_else(|| dir.join(TABLES_DIR), Path::to_path_buf);
    fs::create_dir_all(&out_dir).map_err(TableError::io(&out_dir))?;
    let mut sum = ExportSummary {
        out_dir: out_dir.clone(),
        ..ExportSummary::default()
    };
    let total: u64 = rec.segments().map(|(_, s)| s.len).sum();
    progress.set_total(total, "bytes");
    for (info, seg) in rec
        .streams()
        .iter()
        .flat_map(|i| i.segments.iter().map(move |s| (i, s)))
    {
        let stream = &info.id;
        progress.message(&format!("{}/{}", stream.name, seg.path.display()));
        let read = rec.read_options(info, seg, skip_corrupt);
        let e = export_segment(&seg.path, stream, &out_dir, read)?;
        progress.inc(seg.len);
        sum.segments += 1;
        sum.frames += e.frames;
        sum.parse_errors += e.parse_errors;
        sum.files += e.files.len() as u64;
        for (t, n) in &e.rows {
            *sum.rows.entry(t.clone()).or_default() += n;
        }
        sum.torn_tails.extend(e.torn_tail);
        sum.errors.extend(e.error);
        sum.skipped.extend(e.skipped);
        sum.convert.add(&e.convert);
    }
    let (_, n) = export_windows(&rec, &out_dir, &mut sum.convert)?;
    sum.rows.insert("windows".to_string(), n);
    sum.files += 1;
    Ok(sum)
}
