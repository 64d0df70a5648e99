//! Importers of public datasets (`../shared/data/*`) into polyedge recordings.
//!
//! | kind | folder | writes |
//! |---|---|---|
//! | [`Cronos`](ImportKind::Cronos) | `cronos_btc5m_books` | verbatim Polymarket `book` frames, synthesized Binance USD-M 1m klines, windows (inferred sides/outcomes) |
//! | [`Ligengxin`](ImportKind::Ligengxin) | `ligengxin_btc5m_markets_chainlink` | windows from Gamma objects (official outcomes, strikes, fees), synthesized RTDS Chainlink frames |
//! | [`Herbalclaw`](ImportKind::Herbalclaw) | `herbalclaw_btc5m_bbo_2026-02` | synthesized `best_bid_ask` frames (REST-polled L1), synthesized RTDS frames (02-18), windows |
//! | [`Jo267x`](ImportKind::Jo267x) | `jo267x_btc5m_1hz_2026-05` | synthesized `best_bid_ask` frames (1 Hz, synthetic token ids), windows |
//! | [`Thevalerka`](ImportKind::Thevalerka) | `thevalerka_btc15m_1hz_2026-02-02` | synthesized `best_bid_ask` frames (1 Hz, 15 m, synthetic token ids), windows |
//! | [`Felixdoteth`](ImportKind::Felixdoteth) | `felixdoteth_btc5m_outcomes` | windows only (official outcomes) |
//!
//! Principles: raw frames are stored exactly as the venue sent them when the source has them;
//! when a source has only tabular data the venue's own frame format is synthesized (and the
//! recording's [`RecordingMeta::caveats`] say so), so replay runs the real parsers. Decimals are
//! copied as text or formatted from exact integers, never through `f64`. A file that cannot be
//! used (missing, unreadable, wrong header) is a [`StoreError::Input`] naming the file and
//! line; a bad row is skipped and counted in [`ImportReport::skipped`] with its reason.
//! Provenance flags go into every [`Window`] (`token_sides_inferred`, `token_ids_synthetic`,
//! `outcome_source`, `notes`) and into the recording's metadata.

pub mod common;
pub mod cronos;
pub mod felixdoteth;
pub mod herbalclaw;
pub mod jo267x;
pub mod ligengxin;
pub mod thevalerka;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use polyedge_core::{OutcomeSource, UnixNanos, Window};
use serde::{Deserialize, Serialize};

use crate::{Progress, RecordingMeta, RecordingSummary, RecordingWriter, StoreError, StreamId};

/// Which dataset to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    /// `cronos_btc5m_books`: full-depth Polymarket `book` messages + Binance USD-M 1m klines.
    Cronos,
    /// `ligengxin_btc5m_markets_chainlink`: Gamma market objects + Chainlink BTC/USD ticks.
    Ligengxin,
    /// `herbalclaw_btc5m_bbo_2026-02`: REST-polled top of book (+ Binance/Chainlink on 02-18).
    Herbalclaw,
    /// `jo267x_btc5m_1hz_2026-05`: 1 Hz best bid/ask with recorded resolutions.
    Jo267x,
    /// `thevalerka_btc15m_1hz_2026-02-02`: 1 Hz best bid/ask of BTC 15-minute windows.
    Thevalerka,
    /// `felixdoteth_btc5m_outcomes`: resolutions of BTC 5m windows, no frames.
    Felixdoteth,
}

impl ImportKind {
    /// All kinds.
    pub const ALL: [ImportKind; 6] = [
        ImportKind::Cronos,
        ImportKind::Ligengxin,
        ImportKind::Herbalclaw,
        ImportKind::Jo267x,
        ImportKind::Thevalerka,
        ImportKind::Felixdoteth,
    ];

    /// Short name (`cronos`).
    pub const fn name(self) -> &'static str {
        match self {
            ImportKind::Cronos => "cronos",
            ImportKind::Ligengxin => "ligengxin",
            ImportKind::Herbalclaw => "herbalclaw",
            ImportKind::Jo267x => "jo267x",
            ImportKind::Thevalerka => "thevalerka",
            ImportKind::Felixdoteth => "felixdoteth",
        }
    }

    /// The dataset's folder name under `shared/data` (`cronos_btc5m_books`).
    pub const fn folder(self) -> &'static str {
        match self {
            ImportKind::Cronos => "cronos_btc5m_books",
            ImportKind::Ligengxin => "ligengxin_btc5m_markets_chainlink",
            ImportKind::Herbalclaw => "herbalclaw_btc5m_bbo_2026-02",
            ImportKind::Jo267x => "jo267x_btc5m_1hz_2026-05",
            ImportKind::Thevalerka => "thevalerka_btc15m_1hz_2026-02-02",
            ImportKind::Felixdoteth => "felixdoteth_btc5m_outcomes",
        }
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ImportKind {
    type Err = String;

    /// Accepts the short name (`cronos`) or the dataset folder name (`cronos_btc5m_books`),
    /// case-insensitively; a trailing `/` is ignored.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().trim_end_matches('/').to_ascii_lowercase();
        ImportKind::ALL
            .into_iter()
            .find(|k| t == k.name() || t == k.folder())
            .ok_or_else(|| {
                format!(
                    "unknown dataset {s:?} (expected one of {})",
                    ImportKind::ALL.map(ImportKind::name).join(", ")
                )
            })
    }
}

/// What an import read and wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The dataset.
    pub kind: ImportKind,
    /// The source folder.
    pub source: PathBuf,
    /// The metadata written to the recording (sources and caveats).
    pub meta: RecordingMeta,
    /// Input rows (CSV records, JSONL lines) read, over all files.
    pub rows_read: u64,
    /// Frames written per stream name.
    pub frames: BTreeMap<String, u64>,
    /// Windows in the recording's index (unique slugs).
    pub windows: u64,
    /// Rows or fields skipped, per `"<file>: <reason>"`. Never silent: every skip is counted here.
    pub skipped: BTreeMap<String, u64>,
    /// Other notable counts (out-of-order receive times, outcome tallies, checks that passed or
    /// failed, …), per description.
    pub counters: BTreeMap<String, u64>,
    /// Human-readable warnings (the first few examples of each skip reason, consistency checks).
    pub warnings: Vec<String>,
    /// What the recording writer reported (`None` for a [`dry_run`]).
    pub recording: Option<RecordingSummary>,
}

impl ImportReport {
    fn new(kind: ImportKind, source: &Path) -> Self {
        ImportReport {
            kind,
            source: source.to_path_buf(),
            meta: RecordingMeta::default(),
            rows_read: 0,
            frames: BTreeMap::new(),
            windows: 0,
            skipped: BTreeMap::new(),
            counters: BTreeMap::new(),
            warnings: Vec::new(),
            recording: None,
        }
    }

    /// Total frames written over all streams.
    pub fn total_frames(&self) -> u64 {
        self.frames.values().sum()
    }

    /// Total rows/fields skipped over all reasons.
    pub fn total_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// A counter's value (0 if absent).
    pub fn counter(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "import {} from {}: {} rows read, {} windows, {} frames",
            self.kind,
            self.source.display(),
            self.rows_read,
            self.windows,
            self.total_frames()
        )?;
        for (stream, n) in &self.frames {
            writeln!(f, "  frames {stream}: {n}")?;
        }
        for (k, n) in &self.counters {
            writeln!(f, "  {k}: {n}")?;
        }
        if self.skipped.is_empty() {
            writeln!(f, "  skipped: none")?;
        }
        for (k, n) in &self.skipped {
            writeln!(f, "  skipped {k}: {n}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        if let Some(s) = &self.recording {
            writeln!(
                f,
                "  recording: {} segments, {} windows",
                s.segments, s.windows
            )?;
        }
        Ok(())
    }
}

/// Imports dataset `kind` from the folder `src` into a new recording directory `out` (which must
/// not exist or be empty).
///
/// Atomic: the recording is written into a hidden temporary directory beside `out`
/// (`.<name>.importing-<pid>`) and renamed to `out` only once complete (writer finished, data
/// synced). A failed import removes its temporary directory and leaves `out` as it was, so it
/// can simply be run again; a killed one leaves only the hidden directory, which the next import
/// into the same place removes.
///
/// # Errors
/// [`StoreError::Input`] if an input file is missing or unusable (naming the file and line),
/// [`StoreError::Usage`] if `src` is not a directory or `out` is not empty, and any error of the
/// recording writer. Bad rows are not errors: they are skipped and counted in
/// [`ImportReport::skipped`].
pub fn import(
    kind: ImportKind,
    src: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ImportReport, StoreError> {
    check_src(src)?;
    check_out(out)?;
    let name = out
        .file_name()
        .ok_or_else(|| {
            StoreError::Usage(format!(
                "{}: not a usable recording directory name",
                out.display()
            ))
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(StoreError::io(&parent))?;
    remove_stale_temporaries(&parent, &name);
    let tmp = parent.join(format!(".{name}.importing-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(StoreError::io(&tmp))?;
    }
    let meta = meta_of(kind, src);
    let written = (|| {
        let mut writer = RecordingWriter::create(&tmp, meta.clone())?;
        let mut report = run(kind, src, &mut writer, meta, progress)?;
        let mut summary = writer.finish()?;
        for c in &mut summary.closed {
            if let Ok(rel) = c.path.strip_prefix(&tmp) {
                c.path = out.join(rel);
            }
        }
        report.recording = Some(summary);
        Ok(report)
    })();
    let report = match written {
        Ok(r) => r,
        Err(e) => {
            if let Err(rm) = fs::remove_dir_all(&tmp) {
                tracing::warn!(dir = %tmp.display(), error = %rm, "could not remove the failed import's temporary directory");
            }
            return Err(e);
        }
    };
    if out.exists() {
        // Checked empty above; `rename` would replace an empty directory too, but say so.
        fs::remove_dir(out).map_err(StoreError::io(out))?;
    }
    fs::rename(&tmp, out).map_err(StoreError::io(out))?;
    crate::segment::sync_dir(&parent).map_err(StoreError::io(&parent))?;
    Ok(report)
}

/// `out` must not exist or be an empty directory.
fn check_out(out: &Path) -> Result<(), StoreError> {
    if !out.exists() {
        return Ok(());
    }
    let mut entries = fs::read_dir(out).map_err(StoreError::io(out))?;
    if entries.next().is_some() {
        return Err(StoreError::Usage(format!(
            "{}: directory is not empty; a new recording needs a new or empty directory",
            out.display()
        )));
    }
    Ok(())
}

/// Removes `.<name>.importing-<pid>` directories in `parent` whose process is gone (an import
/// that was killed).
fn remove_stale_temporaries(parent: &Path, name: &str) {
    let prefix = format!(".{name}.importing-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let path = e.path();
            match fs::remove_dir_all(&path) {
                Ok(()) => {
                    tracing::info!(dir = %path.display(), "removed the temporary directory of a killed import");
                }
                Err(err) => {
                    tracing::warn!(dir = %path.display(), error = %err, "could not remove a killed import's temporary directory");
                }
            }
        }
    }
}

/// Runs the importer of `kind` over `src` without writing anything: the report shows exactly
/// what [`import`] would write (frames per stream, windows, skips).
///
/// # Errors
/// As [`import`], minus the writer's.
pub fn dry_run(
    kind: ImportKind,
    src: &Path,
    progress: &dyn Progress,
) -> Result<ImportReport, StoreError> {
    check_src(src)?;
    let meta = meta_of(kind, src);
    run(kind, src, &mut DrySink, meta, progress)
}

fn check_src(src: &Path) -> Result<(), StoreError> {
    if src.is_dir() {
        Ok(())
    } else {
        Err(StoreError::Usage(format!(
            "{}: not a directory (expected a dataset folder)",
            src.display()
        )))
    }
}

fn meta_of(kind: ImportKind, src: &Path) -> RecordingMeta {
    let (sources, caveats) = match kind {
        ImportKind::Cronos => cronos::provenance(src),
        ImportKind::Ligengxin => ligengxin::provenance(src),
        ImportKind::Herbalclaw => herbalclaw::provenance(src),
        ImportKind::Jo267x => jo267x::provenance(src),
        ImportKind::Thevalerka => thevalerka::provenance(src),
        ImportKind::Felixdoteth => felixdoteth::provenance(src),
    };
    RecordingMeta {
        created_by: format!("polyedge import {}", kind.name()),
        sources,
        caveats,
    }
}

fn run(
    kind: ImportKind,
    src: &Path,
    sink: &mut dyn Sink,
    meta: RecordingMeta,
    progress: &dyn Progress,
) -> Result<ImportReport, StoreError> {
    let mut out = Out::new(sink, kind, src);
    out.report.meta = meta;
    match kind {
        ImportKind::Cronos => cronos::run(src, &mut out, progress)?,
        ImportKind::Ligengxin => ligengxin::run(src, &mut out, progress)?,
        ImportKind::Herbalclaw => herbalclaw::run(src, &mut out, progress)?,
        ImportKind::Jo267x => jo267x::run(src, &mut out, progress)?,
        ImportKind::Thevalerka => thevalerka::run(src, &mut out, progress)?,
        ImportKind::Felixdoteth => felixdoteth::run(src, &mut out, progress)?,
    }
    out.finish()
}

/// Where frames and windows go: the recording writer, or nowhere (dry run).
trait Sink {
    fn append(
        &mut self,
        stream: &StreamId,
        recv_ns: UnixNanos,
        frame: &[u8],
    ) -> Result<(), StoreError>;
    fn upsert_window(&mut self, window: Window);
    fn flush(&mut self) -> Result<(), StoreError>;
}

impl Sink for RecordingWriter {
    fn append(
        &mut self,
        stream: &StreamId,
        recv_ns: UnixNanos,
        frame: &[u8],
    ) -> Result<(), StoreError> {
        RecordingWriter::append(self, stream, recv_ns, frame)
    }
    fn upsert_window(&mut self, window: Window) {
        RecordingWriter::upsert_window(self, window);
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        RecordingWriter::flush(self)
    }
}

struct DrySink;

impl Sink for DrySink {
    fn append(&mut self, _: &StreamId, _: UnixNanos, _: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
    fn upsert_window(&mut self, _: Window) {}
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How many examples of each skip reason go into the warnings.
const EXAMPLES_PER_REASON: u64 = 3;

/// The importers' output: counts frames per stream, notices receive times going backwards,
/// collects windows (deduplicated by slug, written sorted by start at the end) and the report.
pub(crate) struct Out<'s> {
    sink: &'s mut dyn Sink,
    pub(crate) report: ImportReport,
    last_recv: BTreeMap<String, UnixNanos>,
    windows: BTreeMap<String, Window>,
}

impl<'s> Out<'s> {
    fn new(sink: &'s mut dyn Sink, kind: ImportKind, src: &Path) -> Self {
        Out {
            sink,
            report: ImportReport::new(kind, src),
            last_recv: BTreeMap::new(),
            windows: BTreeMap::new(),
        }
    }

    /// Appends a frame, counting it and any step back in receive time on its stream.
    pub(crate) fn append(
        &mut self,
        stream: &StreamId,
        recv_ns: UnixNanos,
        frame: &[u8],
    ) -> Result<(), StoreError> {
        self.sink.append(stream, recv_ns, frame)?;
        *self.report.frames.entry(stream.name.clone()).or_default() += 1;
        let prev = self.last_recv.insert(stream.name.clone(), recv_ns);
        if prev.is_some_and(|p| recv_ns < p) {
            let key = format!(
                "{}: recv_ns went backwards (written in source order)",
                stream.name
            );
            self.count(&key, 1);
        }
        Ok(())
    }

    /// Flushes the sink (end of an input file).
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        self.sink.flush()
    }

    /// Adds or replaces (by slug) a window; replacements are counted.
    pub(crate) fn window(&mut self, w: Window) {
        if self.windows.insert(w.slug.clone(), w).is_some() {
            self.count("windows replaced by a later row with the same slug", 1);
        }
    }

    /// The slugs of the windows collected so far.
    pub(crate) fn windows_slugs(&self) -> Vec<String> {
        self.windows.keys().cloned().collect()
    }

    /// The window of `slug` collected so far.
    pub(crate) fn window_mut(&mut self, slug: &str) -> Option<&mut Window> {
        self.windows.get_mut(slug)
    }

    /// Counts a skipped row (or field) of `file` with `reason`; the first few get a warning with
    /// the line and detail.
    pub(crate) fn skip(&mut self, file: &str, line: u64, reason: &str, detail: impl fmt::Display) {
        let key = format!("{file}: {reason}");
        let n = self.report.skipped.entry(key).or_default();
        *n += 1;
        if *n <= EXAMPLES_PER_REASON {
            let detail = detail.to_string();
            let sep = if detail.is_empty() { "" } else { ": " };
            self.report
                .warnings
                .push(format!("{file}:{line}: skipped ({reason}){sep}{detail}"));
        }
    }

    /// Adds `n` to a counter.
    pub(crate) fn count(&mut self, key: &str, n: u64) {
        *self.report.counters.entry(key.to_string()).or_default() += n;
    }

    /// Adds a warning.
    pub(crate) fn warn(&mut self, msg: impl Into<String>) {
        self.report.warnings.push(msg.into());
    }

    /// Writes the windows (sorted by start, then slug), tallies them, flushes.
    fn finish(mut self) -> Result<ImportReport, StoreError> {
        let mut windows: Vec<Window> = std::mem::take(&mut self.windows).into_values().collect();
        windows.sort_by(|a, b| (a.start, &a.slug).cmp(&(b.start, &b.slug)));
        self.report.windows = windows.len() as u64;
        for w in windows {
            let src = match w.outcome_source {
                Some(OutcomeSource::Official) => "official",
                Some(OutcomeSource::ChainlinkDerived) => "chainlink-derived",
                Some(OutcomeSource::Inferred) => "inferred",
                None => "no source",
            };
            let key = match w.outcome {
                Some(o) => format!("windows: outcome {o} ({src})"),
                None => "windows: no outcome".to_string(),
            };
            self.count(&key, 1);
            if w.token_ids_synthetic {
                self.count("windows: synthetic token ids", 1);
            } else if w.up_token.is_some() || w.down_token.is_some() {
                self.count("windows: with token ids", 1);
            }
            if w.strike.is_some() {
                self.count("windows: with strike", 1);
            }
            if w.final_price.is_some() {
                self.count("windows: with final_price", 1);
            }
            self.sink.upsert_window(w);
        }
        self.sink.flush()?;
        Ok(self.report)
    }
}
