//! Recordings → [`EventReplay`] → [`Engine`]: the backtest run itself.
//!
//! 1. The recordings are opened (directories, or names in ClickHouse: [`crate::source`]); their
//!    window indices are merged (the first recording naming a slug wins) and restricted to
//!    windows lying wholly inside `[from, to]`, sorted by start. Several recordings are merged
//!    by receive time and each event is taken from one of them only
//!    ([`polyedge_store::dedup`]: the earliest given that is live on the event's token, window or
//!    feed).
//! 2. **Pass 1** replays the recordings (frames received in `[from, to)`) once through one
//!    [`Engine`] running every selected strategy, each with its own simulated executor and
//!    portfolio.
//! 3. **Pass 2** (unless `baseline = false`) replays the same data again through a second engine
//!    with the same configuration running the random twin of each strategy
//!    ([`crate::baseline`]), built from pass 1's orders.
//!
//! Nothing here reads a clock or an unseeded random source: the same inputs give the same
//! [`Backtest`], which is what makes `summary.json` byte-identical across runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use polyedge_core::{MarketEvent, OutcomeSource, UnixNanos, Window};
use polyedge_engine::{CounterSignal, Engine, EngineConfig, ReplayDriver, RunResult};
use polyedge_store::{Progress, ReplayFilter, ReplayStats, SkippedSpan, StoreError};
use polyedge_strategies::Strategy;
use serde::Serialize;

use crate::baseline::{self, RandomTwin};
use crate::config::{BacktestConfig, ConfigError};
use crate::source::{self, ClickHouseSource, Opened};

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// Bad configuration (file, key, value or strategy name).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A recording could not be opened (the store's error names the directory).
    #[error("cannot open recording: {error}")]
    Recording {
        /// The recording directory.
        path: PathBuf,
        /// What went wrong.
        error: StoreError,
    },
    /// Reading the recordings failed during the replay (corrupt segment, I/O).
    #[error("replay: {0}")]
    Replay(StoreError),
    /// Reading recordings from ClickHouse failed (unknown name, request failure, bad row).
    #[error("{0}")]
    ClickHouse(polyedge_tables::TableError),
    /// Nothing to run on.
    #[error("{0}")]
    Usage(String),
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Recording directories (at least one, unless `clickhouse` is given). Several are merged
    /// by receive time, each event taken from one of them ([`polyedge_store::dedup`]).
    pub recordings: Vec<PathBuf>,
    /// Read the recordings from ClickHouse instead of `recordings`.
    pub clickhouse: Option<ClickHouseSource>,
    /// Strategies named on the command line (override the file's `run`); `None` or empty: the
    /// file's `run`, else all registered strategies.
    pub strategies: Option<Vec<String>>,
    /// The configuration ([`BacktestConfig::default`] without `--config`).
    pub config: BacktestConfig,
    /// Only frames received at or after this time; only windows starting at or after it.
    pub from: Option<UnixNanos>,
    /// Only frames received before this time; only windows ending at or before it.
    pub to: Option<UnixNanos>,
    /// Seed from the command line (overrides the file's `seed`).
    pub seed: Option<u64>,
    /// Read around damaged data instead of failing; what was skipped goes into the replay
    /// summary and the caveats.
    pub skip_corrupt: bool,
    /// Write every decision of the strategies (not of their random twins) to this file as JSON
    /// lines, as `polyedge run` writes `decisions.jsonl` (created or truncated).
    pub decision_log: Option<PathBuf>,
    /// Replay on the calling thread only. By default the recordings are read, decompressed and
    /// parsed on a second thread while this one runs the engine
    /// ([`polyedge_store::PipelinedEvents`]: same events, about 30 % less time on two cores: BENCHMARKS.md);
    /// a sweep that already runs one backtest per core sets this.
    pub single_thread: bool,
}

impl Inputs {
    /// The recordings as reports name them: the directories' names, or (with `clickhouse`) the
    /// names given for the database (empty: every recording in it).
    pub fn recording_names(&self) -> Vec<String> {
        match &self.clickhouse {
            Some(ch) => ch.names.clone(),
            None => self.recordings.iter().map(|p| dir_name(p)).collect(),
        }
    }
}

/// A recording directory's name (its last component; the whole path if it has none).
pub fn dir_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
}

/// What a recording is, for the report (no paths: a report must not depend on where the data
/// lies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingInfo {
    /// The directory's name.
    pub name: String,
    /// The writer (`polyedge import cronos` …).
    pub created_by: String,
    /// Where the data came from.
    pub sources: Vec<String>,
    /// What a user must know about it.
    pub caveats: Vec<String>,
    /// Frames in the recording (all streams, from its manifest).
    pub frames: u64,
    /// Windows in its index.
    pub windows: usize,
}

/// Replay counters of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    /// Frames read.
    pub frames: u64,
    /// Events delivered to the engine.
    pub events: u64,
    /// Frames that did not parse (skipped, counted).
    pub parse_errors: u64,
    /// Segments that ended in a torn tail.
    pub torn_tails: u64,
    /// Frames received earlier than the previous one.
    pub out_of_order: u64,
    /// Events dropped because an earlier recording supplies the same data (several
    /// overlapping recordings; the rule: [`polyedge_store::dedup`]). Absent when zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicate_events: u64,
    /// Damaged data skipped (`--skip-corrupt`; paths relative to the recording).
    pub skipped: Vec<SkippedSpan>,
}

impl From<&ReplayStats> for ReplaySummary {
    fn from(s: &ReplayStats) -> Self {
        ReplaySummary {
            frames: s.frames,
            events: s.events,
            parse_errors: s.parse_errors,
            torn_tails: s.torn_tails,
            out_of_order: s.out_of_order,
            duplicate_events: s.duplicate_events,
            skipped: s.skipped.iter().map(SkippedSpan::without_dirs).collect(),
        }
    }
}

/// One strategy as run: its name, the parameter table it was built with, its twin's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyRun {
    /// Registry name.
    pub name: String,
    /// Parameters passed to the registry (the file's table plus the seed where it applies).
    pub params: toml::Table,
    /// Orders of the strategy its twin copied.
    pub twin_copied: u64,
    /// Of those, not sent for want of an ask or an active window.
    pub twin_skipped: u64,
}

/// Everything a backtest produced; the report is computed from it.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// The recordings, in the order given.
    pub recordings: Vec<RecordingInfo>,
    /// The windows of the run (wholly inside the range), by start then slug.
    pub windows: Vec<Window>,
    /// `--from`.
    pub from: Option<UnixNanos>,
    /// `--to`.
    pub to: Option<UnixNanos>,
    /// The effective seed.
    pub seed: u64,
    /// The engine configuration used by both passes.
    pub engine: EngineConfig,
    /// The strategies, in run order.
    pub strategies: Vec<StrategyRun>,
    /// Pass 1: the strategies.
    pub main: RunResult,
    /// Pass 1 replay counters.
    pub main_replay: ReplaySummary,
    /// Pass 2: the twins, in the same order as the strategies (`None`: `baseline = false`).
    pub baselines: Option<RunResult>,
    /// Settings that are allowed but probably not meant ([`EngineConfig::warnings`]), and data
    /// that left little to run on; the CLI prints them and summary.json lists them.
    pub warnings: Vec<String>,
    /// What the strategies' skipped and refused signals would have earned at resolution, per
    /// reason ([`polyedge_engine::Counterfactual`]); empty unless the decision log was written.
    pub counterfactuals: Vec<polyedge_engine::Counterfactual>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Replay events as an iterator for the engine: reports progress in frames and keeps the first
/// read error (which ends the iteration).
struct Events<'a> {
    replay: source::Events,
    progress: &'a dyn Progress,
    reported: u64,
    error: Option<BacktestError>,
}

impl Iterator for Events<'_> {
    type Item = MarketEvent;

    fn next(&mut self) -> Option<MarketEvent> {
        match self.replay.next()? {
            Ok(ev) => {
                let frames = self.replay.stats().frames;
                if frames >= self.reported + 4096 {
                    self.progress.inc(frames - self.reported);
                    self.reported = frames;
                }
                Some(ev)
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl Events<'_> {
    fn finish(self) -> Result<ReplaySummary, BacktestError> {
        let frames = self.replay.stats().frames;
        self.progress.inc(frames.saturating_sub(self.reported));
        match self.error {
            Some(e) => Err(e),
            None => Ok(ReplaySummary::from(self.replay.stats())),
        }
    }
}

fn replay_through(
    recs: &Opened,
    filter: &ReplayFilter,
    skip_corrupt: bool,
    single_thread: bool,
    driver: ReplayDriver,
    progress: &dyn Progress,
    decision_log: Option<&Path>,
) -> Result<(RunResult, ReplaySummary, Vec<Window>, Vec<CounterSignal>), BacktestError> {
    let replay = recs.events(filter, skip_corrupt, single_thread)?;
    let mut events = Events {
        replay,
        progress,
        reported: 0,
        error: None,
    };
    let mut driver = driver;
    let Some(path) = decision_log else {
        for ev in &mut events {
            driver.feed(ev);
        }
        let (result, recorded) = driver.finish_with_windows();
        let summary = events.finish()?;
        return Ok((result, summary, recorded, Vec::new()));
    };
    let log_err =
        |e: std::io::Error| BacktestError::Usage(format!("decision log {}: {e}", path.display()));
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(log_err)?);
    let mut failed: Option<std::io::Error> = None;
    let mut signals = Vec::new();
    let mut write = |ds: Vec<polyedge_engine::Decision>| {
        for d in &ds {
            if failed.is_some() {
                return;
            }
            if let Some(sig) = CounterSignal::of(d) {
                signals.push(sig);
            }
            let r = serde_json::to_writer(&mut w, d)
                .map_err(std::io::Error::other)
                .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = r {
                failed = Some(e);
            }
        }
    };
    driver.engine_mut().log_decisions(true);
    for ev in &mut events {
        driver.feed(ev);
        let ds = driver.engine_mut().take_decisions();
        if !ds.is_empty() {
            write(ds);
        }
    }
    let (result, recorded) = driver.finish_logged(&mut write);
    if let Some(e) = failed {
        return Err(log_err(e));
    }
    w.flush().map_err(log_err)?;
    let summary = events.finish()?;
    Ok((result, summary, recorded, signals))
}

/// An engine over `indexed` windows (recordings without window records, listed and resolved
/// from their index); windows of recordings with window records enter through their records.
fn engine_of(
    config: &EngineConfig,
    strategies: Vec<Box<dyn Strategy>>,
    indexed: &[Window],
    inputs: &Inputs,
) -> Result<ReplayDriver, BacktestError> {
    let engine = Engine::simulated(config.clone(), strategies)
        .map_err(|e| BacktestError::Usage(e.to_string()))?;
    Ok(ReplayDriver::new(engine, indexed, inputs.from, inputs.to))
}

/// The outcome source's name in reports: `official`, `chainlink_derived`, `inferred`, or
/// `unknown` for a window without a known outcome.
pub fn source_name(w: &Window) -> &'static str {
    match (w.outcome, w.outcome_source) {
        (None, _) => "unknown",
        (Some(_), Some(OutcomeSource::Official)) => "official",
        (Some(_), Some(OutcomeSource::ChainlinkDerived)) => "chainlink_derived",
        (Some(_), Some(OutcomeSource::Inferred) | None) => "inferred",
    }
}

/// Runs the backtest described by `inputs`, reporting progress in frames (both passes).
///
/// # Errors
/// [`BacktestError`]: bad configuration or strategy names, unreadable recordings, a read error
/// during replay, or no recordings.
pub fn run(inputs: &Inputs, progress: &dyn Progress) -> Result<Backtest, BacktestError> {
    if inputs.recordings.is_empty() && inputs.clickhouse.is_none() {
        return Err(BacktestError::Usage("no recordings given".to_string()));
    }
    if inputs.clickhouse.is_none() {
        check_distinct(&inputs.recordings)?;
    }
    if let (Some(f), Some(t)) = (inputs.from, inputs.to)
        && f >= t
    {
        return Err(BacktestError::Usage(format!(
            "--from {} is not before --to {}: the range is empty",
            f.to_rfc3339(),
            t.to_rfc3339()
        )));
    }
    let cfg = &inputs.config;
    cfg.engine.validate().map_err(|message| ConfigError {
        origin: cfg.origin.clone(),
        message: format!("[engine]: {message}"),
    })?;
    let mut warnings = cfg.engine.warnings();
    let names = cfg.strategy_names(inputs.strategies.as_deref())?;
    let seed = cfg.effective_seed(inputs.seed);
    let mut strategies: Vec<Box<dyn Strategy>> = Vec::new();
    let mut runs = Vec::new();
    for name in &names {
        let (s, params) = cfg.build(name, seed)?;
        strategies.push(s);
        runs.push(StrategyRun {
            name: name.clone(),
            params,
            twin_copied: 0,
            twin_skipped: 0,
        });
    }

    let recs = Opened::open(&inputs.recordings, inputs.clickhouse.as_ref())?;
    for (m, name) in recs.manifests.iter().zip(&recs.names) {
        let streams = m.streams.iter().map(|(name, s)| (name.as_str(), s.frames));
        if top_of_book_only(streams) {
            return Err(BacktestError::Usage(format!(
                "recording {name} ({}) holds only top-of-book quotes (stream {TOP_OF_BOOK_STREAM}: best \
                 bid/ask, no sizes, no depth): the fill model matches orders against book depth, so \
                 every strategy would place zero trades. Backtest a recording with order books \
                 (`polyedge import cronos`, or one made by `polyedge collect`)",
                m.meta.created_by
            )));
        }
    }
    let infos = recs
        .manifests
        .iter()
        .zip(&recs.names)
        .zip(&recs.windows)
        .map(|((m, name), ws)| RecordingInfo {
            name: name.clone(),
            created_by: m.meta.created_by.clone(),
            sources: m.meta.sources.clone(),
            caveats: m.meta.caveats.clone(),
            frames: m.streams.values().map(|s| s.frames).sum(),
            windows: ws.len(),
        })
        .collect::<Vec<_>>();

    // Windows of recordings without window records come from their index; the others enter
    // through their records during the replay (their index may be behind them after a crash),
    // and join the report's window list after pass 1.
    let mut indexed: Vec<Window> = Vec::new();
    for (m, ws) in recs.manifests.iter().zip(&recs.windows) {
        if m.window_records {
            continue;
        }
        for w in ws {
            let inside =
                inputs.from.is_none_or(|f| w.start >= f) && inputs.to.is_none_or(|t| w.end <= t);
            if inside && !indexed.iter().any(|x| x.slug == w.slug) {
                indexed.push(w.clone());
            }
        }
    }
    indexed.sort_by(|a, b| (a.start, &a.slug).cmp(&(b.start, &b.slug)));
    check_range(&recs, inputs, indexed.is_empty())?;

    let filter = ReplayFilter {
        from: inputs.from,
        to: inputs.to,
        assets: None,
        windows: None,
    };
    let frames: u64 = infos.iter().map(|i| i.frames).sum();
    let passes = if cfg.baseline { 2 } else { 1 };
    progress.set_total(frames * passes, "frames");
    progress.message("strategies");
    let driver = engine_of(&cfg.engine, strategies, &indexed, inputs)?;
    let (main, main_replay, recorded, signals) = replay_through(
        &recs,
        &filter,
        inputs.skip_corrupt,
        inputs.single_thread,
        driver,
        progress,
        inputs.decision_log.as_deref(),
    )?;
    let mut windows = indexed.clone();
    for w in recorded {
        if !windows.iter().any(|x| x.slug == w.slug) {
            windows.push(w);
        }
    }
    windows.sort_by(|a, b| (a.start, &a.slug).cmp(&(b.start, &b.slug)));
    if windows.is_empty() {
        if inputs.from.is_some() || inputs.to.is_some() {
            return Err(BacktestError::Usage(format!(
                "no window lies wholly inside {} (the recordings' windows: {})",
                range_text(inputs),
                span_text(&recs)
            )));
        }
        warnings.push("the recordings hold no window: nothing could be traded".to_string());
    }

    let baselines = if cfg.baseline {
        progress.message("random baselines");
        let mut twins: Vec<Box<dyn Strategy>> = Vec::new();
        let mut counters = Vec::new();
        for (run, result) in runs.iter_mut().zip(&main.strategies) {
            let sched = baseline::schedule(result);
            run.twin_copied = sched.len() as u64;
            let twin = RandomTwin::new(&run.name, sched, seed, cfg.engine.sim.default_min_size);
            counters.push(twin.skipped_counter());
            twins.push(Box::new(twin));
        }
        // A twin trades with its strategy's capital share.
        let mut twin_engine = cfg.engine.clone();
        twin_engine.capital_split = twin_engine
            .capital_split
            .into_iter()
            .map(|(name, share)| (baseline::twin_name(&name), share))
            .collect();
        let driver = engine_of(&twin_engine, twins, &indexed, inputs)?;
        let (res, _, _, _) = replay_through(
            &recs,
            &filter,
            inputs.skip_corrupt,
            inputs.single_thread,
            driver,
            progress,
            None,
        )?;
        for (run, c) in runs.iter_mut().zip(counters) {
            run.twin_skipped = c.load(std::sync::atomic::Ordering::Relaxed);
        }
        Some(res)
    } else {
        None
    };

    let counterfactuals = polyedge_engine::counterfactuals(&signals, |slug| {
        windows
            .iter()
            .find(|w| w.slug == slug)
            .and_then(|w| w.outcome)
    });
    Ok(Backtest {
        counterfactuals,
        recordings: infos,
        windows,
        from: inputs.from,
        to: inputs.to,
        seed,
        engine: cfg.engine.clone(),
        strategies: runs,
        main,
        main_replay,
        baselines,
        warnings,
    })
}

/// The stream the top-of-book importers write (herbalclaw, jo267x, thevalerka: `best_bid_ask`
/// synthesized from a best bid/ask series without sizes).
pub const TOP_OF_BOOK_STREAM: &str = "polymarket-bbo";

/// Whether a recording's `(stream, frames)` hold Polymarket data only as top of book: frames in
/// [`TOP_OF_BOOK_STREAM`] and none in any other `polymarket-*` stream (issue 12 item 6: such a
/// recording is refused rather than reported as zeros).
pub fn top_of_book_only<'a>(streams: impl Iterator<Item = (&'a str, u64)>) -> bool {
    let (mut bbo, mut books) = (false, false);
    for (name, frames) in streams {
        if frames == 0 {
            continue;
        }
        if name == TOP_OF_BOOK_STREAM {
            bbo = true;
        } else if name.starts_with("polymarket") {
            books = true;
        }
    }
    bbo && !books
}

/// Refuses a recording given twice (by its canonical path): its frames would be replayed twice.
fn check_distinct(paths: &[PathBuf]) -> Result<(), BacktestError> {
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for p in paths {
        let canon = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        if let Some((_, first)) = seen.iter().find(|(c, _)| *c == canon) {
            return Err(BacktestError::Usage(format!(
                "recording {} is given twice (also as {}): its data would be replayed twice",
                p.display(),
                first.display()
            )));
        }
        seen.push((canon, p));
    }
    Ok(())
}

fn range_text(inputs: &Inputs) -> String {
    let t = |v: Option<UnixNanos>| v.map_or_else(|| "…".to_string(), UnixNanos::to_rfc3339);
    format!("--from {} --to {}", t(inputs.from), t(inputs.to))
}

/// The span of the recordings' window indices, for messages.
fn span_text(recs: &Opened) -> String {
    let all = || recs.windows.iter().flatten();
    match (all().map(|w| w.start).min(), all().map(|w| w.end).max()) {
        (Some(a), Some(b)) => format!(
            "{} windows from {} to {}",
            all().count(),
            a.to_rfc3339(),
            b.to_rfc3339()
        ),
        _ => "none indexed".to_string(),
    }
}

/// With `--from`/`--to`: refuses a range in which no indexed window lies (`none_indexed`), before
/// replaying anything, unless windows may still come from window records during the replay.
fn check_range(recs: &Opened, inputs: &Inputs, none_indexed: bool) -> Result<(), BacktestError> {
    if inputs.from.is_none() && inputs.to.is_none() || !none_indexed {
        return Ok(());
    }
    // Windows of recordings with window records are known only after the replay (checked then).
    if recs.manifests.iter().any(|m| m.window_records) {
        return Ok(());
    }
    Err(BacktestError::Usage(format!(
        "no window lies wholly inside {} (the recordings' windows: {})",
        range_text(inputs),
        span_text(recs)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_of_book_recordings_are_recognized() {
        let tob = [("polymarket-bbo", 100), ("binance-usdm-kline", 5)];
        assert!(top_of_book_only(tob.iter().copied()));
        let books = [("polymarket-market", 100), ("binance-usdm-kline", 5)];
        assert!(!top_of_book_only(books.iter().copied()));
        let both = [("polymarket-bbo", 100), ("polymarket-market", 3)];
        assert!(!top_of_book_only(both.iter().copied()));
        let empty_books = [("polymarket-bbo", 100), ("polymarket-market", 0)];
        assert!(top_of_book_only(empty_books.iter().copied()));
        assert!(!top_of_book_only([("rtds-chainlink", 9)].iter().copied()));
    }
}
