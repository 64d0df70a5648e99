//! `polyedge walk-forward`: choose a strategy's parameters in sample, judge them out of sample.
//!
//! Periods are given as durations (`1d`, `12h`, `30m`); with whole days, folds start at UTC
//! midnight. The origin `d₀` is the first window's start floored to the greatest common divisor
//! of the three durations (UTC midnight for whole days). Fold `k` trains on
//! `[d₀ + k·step, d₀ + k·step + train)` (rolling) or `[d₀, d₀ + k·step + train)` (anchored) and
//! tests on the `test` that follows; folds continue while the test period starts before the last
//! window ends (the last test period is cut at the end of the data). `step` defaults to `test`,
//! so test periods tile the data after the first training period without overlap.
//!
//! In each fold the sweep ([`crate::sweep`]) runs every configuration on the training period
//! (`--from`/`--to` set to it: only frames received in it are replayed and only windows lying
//! wholly inside it are traded), picks the best by the objective (ties: lowest index), and runs
//! that configuration once on the test period, with its random twin when baselines are on. The
//! report puts the training (in-sample) and test (out-of-sample) figures side by side, and pools
//! the test periods' per-window PnL into one out-of-sample series with its own bootstrap
//! intervals ([`crate::stats`]).
//!
//! Caveat: each period is replayed from its own start, so a model's volatility history (and any
//! strategy state) begins empty at the start of every period — the first minutes of each period
//! are traded with less history than in one continuous run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polyedge_core::{UnixNanos, Window};
use polyedge_store::{NoProgress, Progress};
use serde::{Deserialize, Serialize};

use crate::html::escape;
use crate::runner::{BacktestError, Inputs};
use crate::stats::{self, Interval, WindowPnl};
use crate::summary;
use crate::sweep::{self, SweepError, SweepSpec};

/// Format name of `walkforward.json`.
pub const FORMAT: &str = "polyedge-walk-forward";

/// Why a walk-forward could not run.
#[derive(Debug, thiserror::Error)]
pub enum WalkForwardError {
    /// Bad split settings or too little data.
    #[error("{0}")]
    Spec(String),
    /// A recording could not be opened.
    #[error(transparent)]
    Backtest(#[from] BacktestError),
    /// A fold's sweep failed.
    #[error("fold {fold}: {error}")]
    Sweep {
        /// The fold.
        fold: usize,
        /// What went wrong.
        error: Box<SweepError>,
    },
    /// A report file could not be written.
    #[error("{0}")]
    Write(String),
}

/// How the data is split (durations in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training period per fold (rolling) or of the first fold (anchored), seconds.
    pub train_s: u64,
    /// Test period per fold, seconds.
    pub test_s: u64,
    /// Between fold starts, seconds (default: `test_s`).
    pub step_s: u64,
    /// Training always starts at the origin.
    pub anchored: bool,
}

/// Parses a duration: a number followed by `d`, `h`, `m` or `s` (`1d`, `12h`, `30m`).
///
/// # Errors
/// Anything else, or zero.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration like 1d, 12h, 30m or 90s"))?;
    let mult = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" | "" => 1,
        _ => return Err(format!("{text:?}: unit must be d, h, m or s")),
    };
    let s = n.saturating_mul(mult);
    if s == 0 {
        return Err(format!("{text:?}: must be positive"));
    }
    Ok(s)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// One fold's periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// Training period start (inclusive), ns.
    pub train_from: UnixNanos,
    /// Training period end (exclusive) = test start, ns.
    pub train_to: UnixNanos,
    /// Test period end (exclusive), ns.
    pub test_to: UnixNanos,
}

/// The folds of `split` over windows spanning `[first_start, last_end)`.
///
/// # Errors
/// A zero length, or data too short for one training period and a test period.
pub fn folds(
    split: &Split,
    first_start: UnixNanos,
    last_end: UnixNanos,
) -> Result<Vec<Fold>, String> {
    if split.train_s == 0 || split.test_s == 0 || split.step_s == 0 {
        return Err("--train, --test and --step must be positive".into());
    }
    let unit = gcd(gcd(split.train_s, split.test_s), split.step_s) * UnixNanos::PER_SEC;
    let d0 = first_start.0 - first_start.0 % unit;
    let (train, test, step) = (
        split.train_s * UnixNanos::PER_SEC,
        split.test_s * UnixNanos::PER_SEC,
        split.step_s * UnixNanos::PER_SEC,
    );
    let mut out = Vec::new();
    for k in 0u64.. {
        let shift = k * step;
        let train_from = if split.anchored { d0 } else { d0 + shift };
        let train_to = d0 + shift + train;
        if train_to >= last_end.0 {
            break;
        }
        let test_to = (train_to + test).min(last_end.0);
        out.push(Fold {
            train_from: UnixNanos(train_from),
            train_to: UnixNanos(train_to),
            test_to: UnixNanos(test_to),
        });
    }
    if out.is_empty() {
        return Err(format!(
            "the data ({} → {}) is too short for a training period of {} s followed by a test period",
            first_start.to_rfc3339(),
            last_end.to_rfc3339(),
            split.train_s
        ));
    }
    Ok(out)
}

/// Figures of one period (in or out of sample).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodFigures {
    /// Windows of the period.
    pub windows: u64,
    /// Windows traded.
    pub windows_traded: u64,
    /// Fills.
    pub trades: u64,
    /// Net PnL, pUSD (exact).
    pub net_pnl: String,
    /// 95 % bootstrap interval of the net PnL.
    pub net_pnl_ci: Option<Interval>,
    /// Per-window Sharpe ratio.
    pub sharpe_per_window: Option<f64>,
    /// Window win rate.
    pub win_rate_windows: Option<f64>,
    /// One-sided permutation p-value against the random twin (out of sample, with baselines).
    pub p_vs_twin: Option<f64>,
    /// Deflated Sharpe ratio of the chosen configuration (in sample).
    pub dsr: Option<f64>,
}

/// One fold of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    /// Training start (RFC 3339 UTC).
    pub train_from: String,
    /// Training end = test start.
    pub train_to: String,
    /// Test end.
    pub test_to: String,
    /// Configurations tried in sample.
    pub configurations: usize,
    /// The chosen configuration's index and parameters (`path = value`).
    pub chosen: usize,
    /// Its parameters.
    pub params: Vec<(String, String)>,
    /// In-sample figures of the chosen configuration.
    pub in_sample: PeriodFigures,
    /// Out-of-sample figures.
    pub out_of_sample: PeriodFigures,
}

/// The pooled out-of-sample result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pooled {
    /// Windows of all test periods.
    pub windows: u64,
    /// Σ net PnL, pUSD.
    pub net_pnl: f64,
    /// Its 95 % bootstrap interval.
    pub net_pnl_ci: Option<Interval>,
    /// Per-window Sharpe ratio of the pooled series.
    pub sharpe_per_window: Option<f64>,
    /// Its interval.
    pub sharpe_ci: Option<Interval>,
    /// Mean in-sample PnL per window of the chosen configurations (for comparison).
    pub in_sample_mean_pnl_per_window: Option<f64>,
    /// Mean out-of-sample PnL per window.
    pub out_of_sample_mean_pnl_per_window: Option<f64>,
}

/// `walkforward.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardReport {
    /// [`FORMAT`].
    pub format: String,
    /// The sweep of each fold.
    pub spec: SweepSpec,
    /// The split.
    pub split: Split,
    /// Recording names.
    pub recordings: Vec<String>,
    /// The folds.
    pub folds: Vec<FoldReport>,
    /// The test periods pooled.
    pub pooled: Pooled,
}

fn figures(bt: &crate::Backtest) -> (PeriodFigures, Vec<WindowPnl>) {
    let s = summary::build(bt);
    let st = &s.strategies[0];
    let m = &st.metrics;
    let series = stats::window_series(&bt.main.strategies[0], &bt.windows);
    (
        PeriodFigures {
            windows: bt.windows.len() as u64,
            windows_traded: m.windows_traded,
            trades: m.trades,
            net_pnl: m.net_pnl.to_string(),
            net_pnl_ci: m.uncertainty.net_pnl,
            sharpe_per_window: m.sharpe_per_window,
            win_rate_windows: m.win_rate_windows,
            p_vs_twin: st.vs_twin.as_ref().map(|v| v.p_value_greater),
            dsr: None,
        },
        series,
    )
}

/// The span `[first start, last end)` of the windows of `recordings` (inside `from`/`to` when
/// given).
///
/// # Errors
/// A recording that cannot be opened, or no windows.
pub fn data_span(inputs: &Inputs) -> Result<(UnixNanos, UnixNanos), WalkForwardError> {
    let opened = crate::source::Opened::open(&inputs.recordings, inputs.clickhouse.as_ref())?;
    let mut ws: Vec<Window> = opened.windows.into_iter().flatten().collect();
    ws.retain(|w| inputs.from.is_none_or(|f| w.start >= f) && inputs.to.is_none_or(|t| w.end <= t));
    let first = ws.iter().map(|w| w.start).min();
    let last = ws.iter().map(|w| w.end).max();
    match (first, last) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(WalkForwardError::Spec(
            "the recordings have no windows in the range".into(),
        )),
    }
}

/// Runs the walk-forward of `spec` split by `split` over `base`'s recordings, each fold's sweep
/// on `threads` threads; `progress` counts folds.
///
/// # Errors
/// [`WalkForwardError`].
pub fn run(
    base: &Inputs,
    spec: &SweepSpec,
    split: &Split,
    threads: Option<usize>,
    progress: &(dyn Progress + Sync),
) -> Result<WalkForwardReport, WalkForwardError> {
    let (first, last) = data_span(base)?;
    let folds = folds(split, first, last).map_err(WalkForwardError::Spec)?;
    progress.set_total(folds.len() as u64, "folds");
    let mut reports = Vec::new();
    let (mut pooled_series, mut is_pnl, mut is_windows) = (Vec::new(), 0.0f64, 0u64);
    for (k, f) in folds.iter().enumerate() {
        progress.message(&format!("fold {}/{}", k + 1, folds.len()));
        let mut train = base.clone();
        train.from = Some(f.train_from);
        train.to = Some(f.train_to);
        let table = sweep::run(&train, spec, None, threads, &NoProgress).map_err(|error| {
            WalkForwardError::Sweep {
                fold: k,
                error: Box::new(error),
            }
        })?;
        let best = table
            .summary
            .as_ref()
            .and_then(|s| s.best)
            .ok_or_else(|| WalkForwardError::Spec(format!("fold {k}: no configuration")))?;
        let row = &table.rows[best];
        let configs = spec
            .configurations()
            .map_err(|error| WalkForwardError::Sweep {
                fold: k,
                error: Box::new(error),
            })?;
        let chosen = &configs[best];
        let table_of = spec
            .table_for(&base.config.params(&spec.strategy), chosen)
            .map_err(|error| WalkForwardError::Sweep {
                fold: k,
                error: Box::new(error),
            })?;
        // In sample: the chosen configuration's row (same run as in the sweep).
        let in_sample = PeriodFigures {
            windows: row.windows,
            windows_traded: row.windows_traded,
            trades: row.trades,
            net_pnl: row.net_pnl.clone(),
            net_pnl_ci: row
                .net_pnl_lo
                .zip(row.net_pnl_hi)
                .map(|(lo, hi)| Interval { lo, hi }),
            sharpe_per_window: row.sharpe_per_window,
            win_rate_windows: row.win_rate_windows,
            p_vs_twin: row.p_vs_twin,
            dsr: row.dsr,
        };
        is_pnl += row.net_pnl_f64();
        is_windows += row.windows;
        // Out of sample.
        let mut test = base.clone();
        test.from = Some(f.train_to);
        test.to = Some(f.test_to);
        test.strategies = Some(vec![spec.strategy.clone()]);
        test.seed = Some(spec.seed);
        test.config.baseline = spec.baseline;
        test.config
            .strategies
            .insert(spec.strategy.clone(), toml::Spanned::new(0..0, table_of));
        let bt = crate::run(&test, &NoProgress)?;
        let (oos, series) = figures(&bt);
        pooled_series.extend(series);
        reports.push(FoldReport {
            train_from: f.train_from.to_rfc3339(),
            train_to: f.train_to.to_rfc3339(),
            test_to: f.test_to.to_rfc3339(),
            configurations: table.rows.len(),
            chosen: best,
            params: spec
                .axes
                .iter()
                .zip(&row.params)
                .map(|(a, v)| (a.path.clone(), v.clone()))
                .collect(),
            in_sample,
            out_of_sample: oos,
        });
        progress.inc(1);
    }
    let start_cash = base.config.engine.start_cash;
    let u = stats::uncertainty(
        &pooled_series,
        start_cash,
        stats::stream_seed(spec.seed, "walk-forward", &spec.strategy),
    );
    let oos_total: i64 = pooled_series.iter().map(|w| w.pnl).sum();
    let n = pooled_series.len() as u64;
    let pooled = Pooled {
        windows: n,
        net_pnl: oos_total as f64 / 1e6,
        net_pnl_ci: u.net_pnl,
        sharpe_per_window: stats::sharpe(pooled_series.iter().map(|w| w.pnl as f64)),
        sharpe_ci: u.sharpe_per_window,
        in_sample_mean_pnl_per_window: (is_windows > 0).then(|| is_pnl / is_windows as f64),
        out_of_sample_mean_pnl_per_window: (n > 0).then(|| oos_total as f64 / 1e6 / n as f64),
    };
    let recordings = base.recording_names();
    Ok(WalkForwardReport {
        format: FORMAT.into(),
        spec: spec.clone(),
        split: *split,
        recordings,
        folds: reports,
        pooled,
    })
}

/// `86400` → `1d`, `3600` → `1h`, `90` → `90s`.
pub fn human(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn o(v: Option<f64>, d: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.d$}"))
}

fn ci(v: Option<Interval>) -> String {
    v.map_or("-".into(), |i| i.fmt(2))
}

fn money(s: &str) -> String {
    s.parse::<f64>()
        .map_or(s.to_string(), |x| format!("{x:.2}"))
}

/// The terminal table: one line per fold, in sample beside out of sample, then the pooled line.
pub fn render_table(r: &WalkForwardReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<4} {:<16} {:<16} {:<34} | {:>8} {:>8} {:>6} {:>6} | {:>8} {:>19} {:>8} {:>6} {:>7}",
        "fold",
        "train from",
        "test from",
        "chosen",
        "IS PnL",
        "IS Shrp",
        "IS tr",
        "DSR",
        "OOS PnL",
        "95% CI",
        "OOS Shrp",
        "OOS tr",
        "p>twin"
    );
    for (k, f) in r.folds.iter().enumerate() {
        let chosen = f
            .params
            .iter()
            .map(|(p, v)| format!("{}={v}", p.rsplit('.').next().unwrap_or(p)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            s,
            "{:<4} {:<16} {:<16} {:<34} | {:>8} {:>8} {:>6} {:>6} | {:>8} {:>19} {:>8} {:>6} {:>7}",
            k,
            &f.train_from[..16.min(f.train_from.len())],
            &f.train_to[..16.min(f.train_to.len())],
            chosen,
            money(&f.in_sample.net_pnl),
            o(f.in_sample.sharpe_per_window, 3),
            f.in_sample.trades,
            o(f.in_sample.dsr, 3),
            money(&f.out_of_sample.net_pnl),
            ci(f.out_of_sample.net_pnl_ci),
            o(f.out_of_sample.sharpe_per_window, 3),
            f.out_of_sample.trades,
            o(f.out_of_sample.p_vs_twin, 3),
        );
    }
    let p = &r.pooled;
    let _ = writeln!(
        s,
        "\nout of sample, pooled over {} windows: net PnL {:.2} pUSD, 95% CI {}; Sharpe/w {} {}; mean PnL per window: in sample {}, out of sample {}",
        p.windows,
        p.net_pnl,
        ci(p.net_pnl_ci),
        o(p.sharpe_per_window, 3),
        p.sharpe_ci.map_or(String::new(), |i| i.fmt(3)),
        o(p.in_sample_mean_pnl_per_window, 4),
        o(p.out_of_sample_mean_pnl_per_window, 4),
    );
    let _ = writeln!(
        s,
        "IS = training period (best of the sweep by {}), OOS = the following test period with those parameters; PnL in pUSD; Sharpe per window, not annualized; DSR = deflated Sharpe of the chosen configuration among all tried.",
        r.spec.objective.name()
    );
    s
}

/// `walkforward.html`: the folds with in-sample and out-of-sample figures side by side.
pub fn render_html(r: &WalkForwardReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>polyedge walk-forward: {}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222;padding:0 16px}}\
table{{border-collapse:collapse;font-size:.84em}}td,th{{border:1px solid #ddd;padding:3px 7px;text-align:right}}\
th{{background:#f6f6f6}}td.is{{background:#f4f8ff}}td.oos{{background:#fff8ee}}.note{{color:#555}}</style></head><body>\n",
        escape(&r.spec.strategy)
    );
    let _ = writeln!(
        h,
        "<h1>Walk-forward of <code>{}</code></h1>\n<p>Recordings: {}. {} split: training {}, test {}, step {}. \
Each fold sweeps {} configuration(s) on the training period, keeps the best by {}, and runs it on the test period.</p>",
        escape(&r.spec.strategy),
        escape(&r.recordings.join(", ")),
        if r.split.anchored {
            "Anchored"
        } else {
            "Rolling"
        },
        human(r.split.train_s),
        human(r.split.test_s),
        human(r.split.step_s),
        r.folds.first().map_or(0, |f| f.configurations),
        r.spec.objective.name(),
    );
    h.push_str("<table><tr><th rowspan=2>fold</th><th rowspan=2>train</th><th rowspan=2>test</th><th rowspan=2>chosen parameters</th>\
<th colspan=5>in sample (training)</th><th colspan=6>out of sample (test)</th></tr>\n<tr><th>windows</th><th>trades</th><th>net PnL</th><th>Sharpe/w</th><th>DSR</th>\
<th>windows</th><th>trades</th><th>net PnL</th><th>95% CI</th><th>Sharpe/w</th><th>p&gt;twin</th></tr>\n");
    for (k, f) in r.folds.iter().enumerate() {
        let chosen = f
            .params
            .iter()
            .map(|(p, v)| format!("{p} = {v}"))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            h,
            "<tr><td>{k}</td><td>{} → {}</td><td>{} → {}</td><td style=\"text-align:left\">{}</td>\
<td class=is>{}</td><td class=is>{}</td><td class=is>{}</td><td class=is>{}</td><td class=is>{}</td>\
<td class=oos>{}</td><td class=oos>{}</td><td class=oos>{}</td><td class=oos>{}</td><td class=oos>{}</td><td class=oos>{}</td></tr>",
            escape(&f.train_from),
            escape(&f.train_to),
            escape(&f.train_to),
            escape(&f.test_to),
            escape(&chosen),
            f.in_sample.windows,
            f.in_sample.trades,
            escape(&f.in_sample.net_pnl),
            o(f.in_sample.sharpe_per_window, 4),
            o(f.in_sample.dsr, 3),
            f.out_of_sample.windows,
            f.out_of_sample.trades,
            escape(&f.out_of_sample.net_pnl),
            ci(f.out_of_sample.net_pnl_ci),
            o(f.out_of_sample.sharpe_per_window, 4),
            o(f.out_of_sample.p_vs_twin, 3),
        );
    }
    let p = &r.pooled;
    let _ = writeln!(
        h,
        "</table>\n<p><b>Out of sample, pooled</b> over {} windows: net PnL {:.2} pUSD (95 % CI {}), Sharpe per window {} {}. \
Mean PnL per window in sample {} vs out of sample {} pUSD.</p>\n<p class=note>Each period is replayed from its own start: \
model history begins empty at every period start. Definitions: docs/backtest.md (§ walk-forward).</p>\n</body></html>",
        p.windows,
        p.net_pnl,
        ci(p.net_pnl_ci),
        o(p.sharpe_per_window, 4),
        p.sharpe_ci.map_or(String::new(), |i| i.fmt(3)),
        o(p.in_sample_mean_pnl_per_window, 4),
        o(p.out_of_sample_mean_pnl_per_window, 4),
    );
    h
}

/// Writes `walkforward.json`, `walkforward.csv` and `walkforward.html` into `dir`.
///
/// # Errors
/// I/O errors naming the file.
pub fn write_dir(r: &WalkForwardReport, dir: &Path) -> Result<Vec<PathBuf>, WalkForwardError> {
    let fail = |p: &Path, e: &dyn std::fmt::Display| {
        WalkForwardError::Write(format!("{}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, &e))?;
    let mut json = serde_json::to_string_pretty(r).map_err(|e| fail(dir, &e))?;
    json.push('\n');
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["fold", "train_from", "train_to", "test_to", "chosen"];
    header.extend([
        "is_windows",
        "is_trades",
        "is_net_pnl",
        "is_sharpe",
        "is_dsr",
        "oos_windows",
        "oos_trades",
        "oos_net_pnl",
        "oos_net_pnl_lo",
        "oos_net_pnl_hi",
        "oos_sharpe",
        "oos_p_vs_twin",
    ]);
    let e = |x: csv::Error| WalkForwardError::Write(x.to_string());
    csv.write_record(&header).map_err(e)?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for (k, f) in r.folds.iter().enumerate() {
        let chosen = f
            .params
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let oos = &f.out_of_sample;
        csv.write_record([
            k.to_string(),
            f.train_from.clone(),
            f.train_to.clone(),
            f.test_to.clone(),
            chosen,
            f.in_sample.windows.to_string(),
            f.in_sample.trades.to_string(),
            f.in_sample.net_pnl.clone(),
            opt(f.in_sample.sharpe_per_window),
            opt(f.in_sample.dsr),
            oos.windows.to_string(),
            oos.trades.to_string(),
            oos.net_pnl.clone(),
            opt(oos.net_pnl_ci.map(|i| i.lo)),
            opt(oos.net_pnl_ci.map(|i| i.hi)),
            opt(oos.sharpe_per_window),
            opt(oos.p_vs_twin),
        ])
        .map_err(e)?;
    }
    let csv = csv
        .into_inner()
        .map_err(|x| WalkForwardError::Write(x.to_string()))?;
    let mut out = Vec::new();
    for (name, bytes) in [
        ("walkforward.json", json.into_bytes()),
        ("walkforward.csv", csv),
        ("walkforward.html", render_html(r).into_bytes()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|x| fail(&p, &x))?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rolling_and_anchored_folds_by_day() {
        // Data from 2026-04-13 10:00 to 2026-04-15 23:55 (three days).
        let d0 = 1_776_038_400u64; // 2026-04-13 00:00 UTC
        let first = UnixNanos::from_secs(d0 + 10 * 3600);
        let last = UnixNanos::from_secs(d0 + 2 * 86_400 + 86_100);
        let rolling = Split {
            train_s: 86_400,
            test_s: 86_400,
            step_s: 86_400,
            anchored: false,
        };
        let f = folds(&rolling, first, last).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].train_from, UnixNanos::from_secs(d0));
        assert_eq!(f[0].train_to, UnixNanos::from_secs(d0 + 86_400));
        assert_eq!(f[1].train_from, UnixNanos::from_secs(d0 + 86_400));
        assert_eq!(f[1].test_to, last); // cut at the end of the data
        let anchored = Split {
            anchored: true,
            ..rolling
        };
        let f = folds(&anchored, first, last).unwrap();
        assert_eq!(f[1].train_from, UnixNanos::from_secs(d0));
        assert_eq!(f[1].train_to, UnixNanos::from_secs(d0 + 2 * 86_400));
        let long = Split {
            train_s: 3 * 86_400,
            ..rolling
        };
        assert!(folds(&long, first, last).is_err());
        assert!(
            folds(
                &Split {
                    test_s: 0,
                    ..rolling
                },
                first,
                last
            )
            .is_err()
        );
        // Minutes: aligned to 10-minute boundaries.
        let short = Split {
            train_s: 1200,
            test_s: 600,
            step_s: 600,
            anchored: false,
        };
        let f = folds(
            &short,
            UnixNanos::from_secs(d0 + 300),
            UnixNanos::from_secs(d0 + 3000),
        )
        .unwrap();
        assert_eq!(f[0].train_from, UnixNanos::from_secs(d0));
        assert_eq!(f[0].train_to, UnixNanos::from_secs(d0 + 1200));
        assert_eq!(f.len(), 3); // train ends at 1200, 1800, 2400 < 3000
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("2w").is_err());
        assert_eq!(human(86_400), "1d");
    }
}
