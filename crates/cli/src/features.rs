//! `polyedge features <recording>… --at 240,180,120,60,30 --out DIR`: the labelled dataset of the
//! directional model and a data-quality table.
//!
//! Each recording is replayed on its own through one [`FeatureEngine`] (the strategies' feature
//! code). For every window of its index with a known outcome and every `t` of `--at` (seconds
//! left, not longer than the window), a row is taken at `s = end − t` **before** the first event
//! received at or after `s` is applied: the features use only events received strictly before
//! `s`. The row holds the features, the outcome and its source (`official`,
//! `chainlink_derived`, `inferred`) and the market's Up mid at `s` (calibrate's rules). A slug
//! already written from an earlier recording on the command line is skipped (counted).
//!
//! Writes `DIR/features.parquet` (schema: `polyedge_ml::dataset`), `DIR/quality.csv` (the share
//! of rows where each feature is present, per recording) and `DIR/summary.json`; prints the
//! quality table.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use polyedge_core::{MarketEvent, OutcomeSource, UnixNanos, Window};
use polyedge_features::{EngineStats, FEATURES, FeatureEngine, N_FEATURES, Snapshot};
use polyedge_ml::dataset::{Dataset, Row};
use polyedge_model::online::OnlineConfig;
use polyedge_store::{EventReplay, Recording, ReplayFilter};
use serde::Serialize;

use crate::calibrate::merge_windows;

/// Arguments of `polyedge features`.
#[derive(clap::Args, Debug)]
pub struct FeaturesArgs {
    /// Recording directories.
    #[arg(required = true)]
    pub recordings: Vec<PathBuf>,
    /// Decision times: seconds left in the window (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "240,180,120,60,30")]
    pub at: Vec<u32>,
    /// Output directory (created if missing; features.parquet, quality.csv, summary.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Per-recording summary.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingSummary {
    /// Recording directory name.
    pub recording: String,
    /// Windows in its index (deduplicated by slug).
    pub windows: usize,
    /// Windows without an outcome (no rows).
    pub windows_without_outcome: usize,
    /// Windows already written from an earlier recording.
    pub windows_duplicate: usize,
    /// Windows with rows.
    pub windows_used: usize,
    /// Rows written.
    pub rows: usize,
    /// Rows with a market mid.
    pub rows_with_market_mid: usize,
    /// Decision times longer than the window (no row).
    pub t_exceeds_window: usize,
    /// Rows by outcome source.
    pub outcome_sources: BTreeMap<String, usize>,
    /// Rows by reference series (`none` when missing).
    pub reference_series: BTreeMap<String, usize>,
    /// Rows by candle series.
    pub candle_series: BTreeMap<String, usize>,
    /// Share of rows where each feature is present.
    pub present: BTreeMap<String, f64>,
    /// Engine counters.
    pub engine: EngineStats,
    /// Frames not parsed during the replay.
    pub parse_errors: u64,
}

/// The summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Decision times.
    pub at: Vec<u32>,
    /// Rows written in all.
    pub rows: usize,
    /// Output files.
    pub files: Vec<String>,
    /// Feature schema hash.
    pub schema_hash: String,
    /// Per recording.
    pub recordings: Vec<RecordingSummary>,
}

fn source_name(s: Option<OutcomeSource>) -> &'static str {
    match s {
        Some(OutcomeSource::Official) => "official",
        Some(OutcomeSource::ChainlinkDerived) => "chainlink_derived",
        Some(OutcomeSource::Inferred) => "inferred",
        None => "unknown",
    }
}

/// Builds rows of one recording (module docs); `seen` holds the slugs already written.
fn build(
    rec: &Recording,
    name: &str,
    at: &[u32],
    seen: &mut HashSet<String>,
    rows: &mut Vec<Row>,
) -> Result<RecordingSummary> {
    let windows = merge_windows(rec.windows().to_vec());
    let mut s = RecordingSummary {
        recording: name.to_string(),
        windows: windows.len(),
        windows_without_outcome: 0,
        windows_duplicate: 0,
        windows_used: 0,
        rows: 0,
        rows_with_market_mid: 0,
        t_exceeds_window: 0,
        outcome_sources: BTreeMap::new(),
        reference_series: BTreeMap::new(),
        candle_series: BTreeMap::new(),
        present: BTreeMap::new(),
        engine: EngineStats::default(),
        parse_errors: 0,
    };
    let mut engine =
        FeatureEngine::new(&OnlineConfig::default()).context("feature engine settings")?;
    // (instant, window index, t), sorted; pending rows per window to free its books after.
    let mut schedule: Vec<(UnixNanos, usize, u32)> = Vec::new();
    let mut pending = vec![0usize; windows.len()];
    for (i, w) in windows.iter().enumerate() {
        if w.outcome.is_none() {
            s.windows_without_outcome += 1;
            continue;
        }
        if seen.contains(&w.slug) {
            s.windows_duplicate += 1;
            continue;
        }
        let len = w.end.saturating_sub(w.start);
        let mut any = false;
        for &t in at {
            let t_ns = u64::from(t) * UnixNanos::PER_SEC;
            if t_ns > len {
                s.t_exceeds_window += 1;
                continue;
            }
            schedule.push((UnixNanos(w.end.0 - t_ns), i, t));
            pending[i] += 1;
            any = true;
        }
        if any {
            seen.insert(w.slug.clone());
            s.windows_used += 1;
            engine.add_window(&strategy_view(w));
        }
    }
    schedule.sort_unstable();
    let mut present = [0usize; N_FEATURES];
    let mut next = 0;
    let mut take = |engine: &mut FeatureEngine, upto: Option<UnixNanos>, next: &mut usize| {
        while let Some(&(t_at, wi, t)) = schedule.get(*next) {
            if upto.is_some_and(|u| t_at > u) {
                break;
            }
            *next += 1;
            let w = &windows[wi];
            let view = strategy_view(w);
            let Snapshot { features, meta } = engine.snapshot(&view, t_at);
            let mid = engine.market_mid(&view, t_at);
            for (k, p) in present.iter_mut().enumerate() {
                if features.values()[k].is_finite() {
                    *p += 1;
                }
            }
            let src = source_name(w.outcome_source);
            *s.outcome_sources.entry(src.to_string()).or_default() += 1;
            *s.reference_series
                .entry(meta.reference.unwrap_or("none").to_string())
                .or_default() += 1;
            *s.candle_series
                .entry(meta.candles.unwrap_or("none").to_string())
                .or_default() += 1;
            s.rows += 1;
            s.rows_with_market_mid += usize::from(mid.is_some());
            rows.push(Row {
                recording: name.to_string(),
                slug: w.slug.clone(),
                asset: w.asset.ticker().to_string(),
                duration_s: u32::try_from(w.duration.secs()).unwrap_or(u32::MAX),
                window_start_ns: w.start.0,
                decision_ns: t_at.0,
                t_left_s: t,
                outcome_up: w.outcome == Some(polyedge_core::Outcome::Up),
                outcome_source: src.to_string(),
                market_mid: mid,
                reference: meta.reference.map(str::to_string),
                strike_source: meta.strike_source.map(|x| {
                    match x {
                        polyedge_model::online::StrikeSource::Index => "index",
                        polyedge_model::online::StrikeSource::ReferenceAtStart => {
                            "reference_at_start"
                        }
                    }
                    .to_string()
                }),
                candles: meta.candles.map(str::to_string),
                features: features.values().to_vec(),
            });
            pending[wi] -= 1;
            if pending[wi] == 0 {
                engine.remove_window(&w.slug);
            }
        }
    };
    let mut replay = EventReplay::open(std::slice::from_ref(rec), ReplayFilter::default())?;
    for ev in replay.by_ref() {
        let ev: MarketEvent = ev?;
        // Rows at instants ≤ this event's receive time see only what was received before it.
        take(&mut engine, Some(ev.recv_ns), &mut next);
        engine.on_event(&ev);
    }
    take(&mut engine, None, &mut next);
    s.parse_errors = replay.stats().parse_errors;
    s.engine = engine.stats().clone();
    for (k, f) in FEATURES.iter().enumerate() {
        let share = if s.rows == 0 {
            0.0
        } else {
            present[k] as f64 / s.rows as f64
        };
        s.present.insert(f.name.to_string(), share);
    }
    Ok(s)
}

/// The window as strategies will see it: no outcome, final price or outcome source. (The
/// strike stays: in the recordings it is the official price to beat, published at the start;
/// the engine's own rule applies when it is absent.)
fn strategy_view(w: &Window) -> Window {
    let mut v = w.clone();
    v.outcome = None;
    v.outcome_source = None;
    v.final_price = None;
    v
}

/// Runs the command.
///
/// # Errors
/// Bad arguments, unreadable recordings, unwritable output.
pub fn run(args: &FeaturesArgs) -> Result<()> {
    if args.at.is_empty() || args.at.contains(&0) {
        bail!("--at: give one or more positive times left in seconds (e.g. 240,180,120,60,30)");
    }
    let mut at = args.at.clone();
    at.sort_unstable_by(|a, b| b.cmp(a));
    at.dedup();
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let mut summaries = Vec::new();
    for p in &args.recordings {
        let rec = Recording::open(p).with_context(|| format!("open recording {}", p.display()))?;
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let s = build(&rec, &name, &at, &mut seen, &mut rows)
            .with_context(|| format!("features of {}", p.display()))?;
        summaries.push(s);
    }
    let ds = Dataset {
        feature_names: FEATURES.iter().map(|f| f.name.to_string()).collect(),
        schema_hash: polyedge_features::schema_hash(),
        rows,
    };
    let parquet = args.out.join("features.parquet");
    ds.write_parquet(&parquet)
        .with_context(|| format!("write {}", parquet.display()))?;
    let quality = args.out.join("quality.csv");
    std::fs::write(&quality, quality_csv(&summaries))
        .with_context(|| format!("write {}", quality.display()))?;
    let summary = Summary {
        at,
        rows: ds.rows.len(),
        files: [&parquet, &quality, &args.out.join("summary.json")]
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        schema_hash: ds.schema_hash.clone(),
        recordings: summaries,
    };
    let json_path = args.out.join("summary.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("write {}", json_path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render(&summary));
    }
    Ok(())
}

fn quality_csv(s: &[RecordingSummary]) -> String {
    let mut out = String::from("feature,group");
    for r in s {
        let _ = write!(out, ",{}", r.recording);
    }
    out.push('\n');
    for f in FEATURES {
        let _ = write!(out, "{},{}", f.name, f.group.name());
        for r in s {
            let _ = write!(out, ",{:.4}", r.present.get(f.name).copied().unwrap_or(0.0));
        }
        out.push('\n');
    }
    out
}

/// The printed report: counts per recording, then the quality table (percent of rows where
/// each feature is present).
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} rows at t = {:?} s left → {}",
        s.rows,
        s.at,
        s.files.first().map_or("", String::as_str)
    );
    for r in &s.recordings {
        let _ = writeln!(
            out,
            "{}: {} windows, {} used ({} without outcome, {} duplicate), {} rows, {} with a market mid; outcomes {:?}; reference {:?}; candles {:?}",
            r.recording,
            r.windows,
            r.windows_used,
            r.windows_without_outcome,
            r.windows_duplicate,
            r.rows,
            r.rows_with_market_mid,
            r.outcome_sources,
            r.reference_series,
            r.candle_series,
        );
        if r.parse_errors > 0 || r.engine.pm_book_errors > 0 || r.engine.gaps > 0 {
            let _ = writeln!(
                out,
                "  ({} frames not parsed, {} book events refused, {} gap markers)",
                r.parse_errors, r.engine.pm_book_errors, r.engine.gaps
            );
        }
    }
    let _ = writeln!(out, "\nfeature present in % of rows:");
    let w = s
        .recordings
        .iter()
        .map(|r| r.recording.len().max(6))
        .collect::<Vec<_>>();
    let _ = write!(out, "{:<22} {:<12}", "feature", "group");
    for (r, w) in s.recordings.iter().zip(&w) {
        let _ = write!(out, " {:>w$}", r.recording, w = *w);
    }
    out.push('\n');
    for f in FEATURES {
        let _ = write!(out, "{:<22} {:<12}", f.name, f.group.name());
        for (r, w) in s.recordings.iter().zip(&w) {
            let p = r.present.get(f.name).copied().unwrap_or(0.0) * 100.0;
            let _ = write!(out, " {:>w$.1}", p, w = *w);
        }
        out.push('\n');
    }
    out
}
