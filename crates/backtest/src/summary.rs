//! `summary.json`: every figure of the run, deterministic.
//!
//! No wall-clock time, no paths (recordings are named by their directory name), fields in a
//! fixed order (struct order; maps are sorted), money as exact decimal strings. The same
//! recordings, configuration and seed give the same bytes.

use std::collections::BTreeMap;

use polyedge_core::{Cash, UnixNanos};
use polyedge_engine::EngineConfig;
use polyedge_engine::decimal;
use serde::Serialize;

use crate::baseline;
use crate::metrics::{self, Metrics};
use crate::runner::{Backtest, RecordingInfo, ReplaySummary, source_name};
use crate::stats::{self, VsTwin};

/// Format name of `summary.json`.
pub const FORMAT: &str = "polyedge-backtest-summary";
/// Format version of `summary.json`.
pub const FORMAT_VERSION: u32 = 1;

/// The conventions the figures follow, written into the summary and the HTML report.
pub const CONVENTIONS: &[(&str, &str)] = &[
    (
        "money",
        "pUSD, exact decimal strings (6 decimals at most); ratios and statistics are floats",
    ),
    (
        "net_pnl",
        "realized: settlement payouts - cost - fees; equals the sum of per-window PnL; windows with an unknown outcome contribute only their fees",
    ),
    (
        "sharpe_sortino",
        "per-window returns r = window PnL / start cash over every window of the run (0 if not traded); per window, NOT annualized; Sharpe = mean / sample stdev (n-1); Sortino = mean / sqrt(sum(min(r,0)^2)/n)",
    ),
    (
        "max_drawdown",
        "of realized equity (start cash + realized PnL after each settlement), from the running peak",
    ),
    (
        "win_rate",
        "windows: traded windows with a known outcome and PnL > 0 / traded windows with a known outcome; buy fills: buy fills of the winning outcome / buy fills in windows with a known outcome",
    ),
    (
        "fill_ratio",
        "shares filled / shares submitted, over every order sent (rejected ones included)",
    ),
    (
        "edge",
        "per share, share-weighted: at entry s*(fair value - price) - fee/share (s = +1 buy, -1 sell), over fills whose order gave a fair value; realized: same with the payout (1 or 0) in place of the fair value",
    ),
    (
        "profit_factor",
        "sum of PnL of winning windows / |sum of PnL of losing windows|; null when no window lost",
    ),
    (
        "exposure",
        "cost basis of open positions; max, and time-weighted mean from the first event to the end of the run",
    ),
    (
        "rebates",
        "estimated maker rebates, reported apart: not in cash or PnL",
    ),
    (
        "uncertainty",
        "95% intervals from a circular moving-block bootstrap over the run's windows (block ceil(n^(1/3)), 2000 resamples, ChaCha8 seeded by the run seed and strategy name), percentile (type-8 quantiles)",
    ),
    (
        "vs_twin",
        "paired sign-flip permutation test of per-window PnL strategy - twin, statistic = sum; exact up to 16 differing windows, else 10000 random patterns, p = (1 + count) / (B + 1)",
    ),
    (
        "tail_risk",
        "historical 95% VaR and CVaR of the PnL of traded windows (positive = loss); drawdown duration in windows and seconds of cumulative PnL below its running peak; longest run of losing traded windows",
    ),
    (
        "baseline",
        "random twin of each strategy: same decision times, windows and filled shares as the strategy's filled buy orders, on a fair-coin outcome, FAK at that outcome's best ask (taker), same engine configuration; see docs/backtest.md",
    ),
];

/// Caveats every backtest carries, besides the recordings' own.
pub const ENGINE_CAVEATS: &[&str] = &[
    "No market impact: the recorded book never reacts to our orders (our own consumption of levels is tracked; docs/fill-model.md §4.1).",
    "Settlement uses each window's recorded outcome and its source (official / chainlink_derived / inferred); windows without one are excluded from PnL and counted.",
    "Taker delay, fee schedules before 2026-03-30 and queue rules are modelled assumptions (docs/fill-model.md §11).",
];

/// The time range of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    /// `--from` (RFC 3339 UTC).
    pub from: Option<String>,
    /// `--to` (RFC 3339 UTC).
    pub to: Option<String>,
    /// Receive time of the first event (RFC 3339 UTC).
    pub first_event: Option<String>,
    /// End of the run: the later of the last event and the last window end (RFC 3339 UTC).
    pub end: String,
}

/// The configuration the run used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigEcho {
    /// Whether the random twins ran.
    pub baseline: bool,
    /// Engine configuration (start cash, risk, simulated venue).
    pub engine: EngineConfig,
}

/// What the data held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataSummary {
    /// Replay counters of pass 1.
    pub replay: ReplaySummary,
    /// Book events the engine's window books refused.
    pub book_errors: u64,
    /// Windows of the run.
    pub windows: u64,
    /// Windows by outcome source (`unknown`: no outcome).
    pub windows_by_outcome_source: BTreeMap<String, u64>,
    /// Windows without a known outcome (excluded from PnL).
    pub windows_without_outcome: u64,
    /// Windows with only one known token id (traded on that token's book and its mirror).
    pub windows_with_one_token: u64,
    /// Windows without any token id (no book; cannot be traded).
    pub windows_without_tokens: u64,
}

/// The random twin of a strategy and its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineSummary {
    /// Orders of the strategy it copied (filled buys).
    pub copied_orders: u64,
    /// Copied orders not sent (no ask or window not active).
    pub skipped_orders: u64,
    /// Its figures.
    pub metrics: Metrics,
}

/// One strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategySummary {
    /// Registry name.
    pub name: String,
    /// The parameter table it was built with (unset parameters take the strategy's defaults).
    pub params: toml::Table,
    /// Its figures.
    pub metrics: Metrics,
    /// Permutation test of its per-window PnL against its twin's (`None` when baselines are
    /// off; [`crate::stats`]).
    pub vs_twin: Option<VsTwin>,
    /// Its random twin (`None` when baselines are off).
    pub baseline: Option<BaselineSummary>,
    /// Why it did not trade (skip reasons) and what it merged.
    pub activity: crate::fill_report::Activity,
    /// What the fill model did for it (queue model, counters, arrival-book lags).
    pub fill_model: Option<crate::fill_report::FillModelSummary>,
}

/// The whole `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// [`FORMAT`].
    pub format: &'static str,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The recordings.
    pub recordings: Vec<RecordingInfo>,
    /// Time range.
    pub range: Range,
    /// Seed.
    pub seed: u64,
    /// Configuration.
    pub config: ConfigEcho,
    /// The data.
    pub data: DataSummary,
    /// Definitions of the figures.
    pub conventions: BTreeMap<&'static str, &'static str>,
    /// The strategies, in run order.
    pub strategies: Vec<StrategySummary>,
    /// What to keep in mind: the recordings' caveats, then the engine's.
    pub caveats: Vec<String>,
    /// Settings allowed but probably not meant, and data that left little to run on.
    pub warnings: Vec<String>,
    /// What skipped and refused signals would have earned at resolution, per strategy and
    /// reason (one share each, fees ignored: [`polyedge_engine::Counterfactual`]); absent unless
    /// the decision log was written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counterfactuals: Vec<polyedge_engine::Counterfactual>,
    /// The one account the strategies share under a capital split (`engine.capital_split`):
    /// each strategy's share and the total; absent without a split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountSummary>,
}

/// The strategies of a capital split as one account ([`Summary::account`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountSummary {
    /// The account: the engine's `start_cash`, pUSD.
    #[serde(with = "decimal::cash")]
    pub start_cash: Cash,
    /// Each strategy's part, in run order.
    pub strategies: Vec<AccountShare>,
    /// Σ of the strategies' start cash (the account less what no strategy was given), pUSD.
    #[serde(with = "decimal::cash")]
    pub allocated: Cash,
    /// Σ net realized PnL, pUSD.
    #[serde(with = "decimal::cash")]
    pub net_pnl: Cash,
    /// Σ fees, pUSD.
    #[serde(with = "decimal::cash")]
    pub fees: Cash,
    /// Cash at the end: the strategies' end cash plus the unallocated rest, pUSD.
    #[serde(with = "decimal::cash")]
    pub end_cash: Cash,
    /// Net PnL over the account's start cash, %.
    pub return_pct: f64,
}

/// One strategy's part of the account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountShare {
    /// The strategy.
    pub name: String,
    /// Its share of the account (0–1, 6 decimals).
    pub share: String,
    /// Its start cash (share × account), pUSD.
    #[serde(with = "decimal::cash")]
    pub start_cash: Cash,
    /// Its net realized PnL, pUSD.
    #[serde(with = "decimal::cash")]
    pub net_pnl: Cash,
    /// Its fees, pUSD.
    #[serde(with = "decimal::cash")]
    pub fees: Cash,
    /// Its share of the account's net PnL, % (0 when the total is 0).
    pub pnl_share_pct: f64,
}

/// The account of a capital split, `None` without one.
fn account(bt: &Backtest) -> Option<AccountSummary> {
    let split = &bt.engine.capital_split;
    if split.is_empty() {
        return None;
    }
    let results = &bt.main.strategies;
    let net: Cash = results.iter().fold(Cash::ZERO, |a, s| a + s.net_pnl);
    let fees: Cash = results.iter().fold(Cash::ZERO, |a, s| a + s.fees);
    let allocated: Cash = results.iter().fold(Cash::ZERO, |a, s| a + s.start_cash);
    let end: Cash = results.iter().fold(Cash::ZERO, |a, s| a + s.end_cash);
    let start = bt.engine.start_cash;
    let strategies = results
        .iter()
        .map(|s| AccountShare {
            name: s.name.clone(),
            share: split
                .get(&s.name)
                .map_or_else(String::new, ToString::to_string),
            start_cash: s.start_cash,
            net_pnl: s.net_pnl,
            fees: s.fees,
            pnl_share_pct: if net == Cash::ZERO {
                0.0
            } else {
                s.net_pnl.to_f64() / net.to_f64() * 100.0
            },
        })
        .collect();
    Some(AccountSummary {
        start_cash: start,
        strategies,
        allocated,
        net_pnl: net,
        fees,
        end_cash: end + (start - allocated),
        return_pct: net.to_f64() / start.to_f64() * 100.0,
    })
}

fn utc(t: UnixNanos) -> String {
    t.to_rfc3339()
}

/// The summary of `bt`.
pub fn build(bt: &Backtest) -> Summary {
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    for w in &bt.windows {
        *by_source.entry(source_name(w).to_string()).or_default() += 1;
    }
    let strategies = bt
        .strategies
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let result = &bt.main.strategies[i];
            let base = bt.baselines.as_ref().and_then(|b| {
                b.strategies.get(i).map(|r| {
                    debug_assert_eq!(r.name, format!("{}{}", baseline::PREFIX, run.name));
                    BaselineSummary {
                        copied_orders: run.twin_copied,
                        skipped_orders: run.twin_skipped,
                        metrics: metrics::compute(r, &bt.windows, b, bt.seed),
                    }
                })
            });
            let vs_twin = bt
                .baselines
                .as_ref()
                .and_then(|b| b.strategies.get(i))
                .map(|twin| {
                    stats::vs_twin(
                        &stats::window_series(result, &bt.windows),
                        &stats::window_series(twin, &bt.windows),
                        stats::stream_seed(bt.seed, "permutation", &run.name),
                    )
                });
            StrategySummary {
                name: run.name.clone(),
                params: run.params.clone(),
                metrics: metrics::compute(result, &bt.windows, &bt.main, bt.seed),
                vs_twin,
                baseline: base,
                activity: crate::fill_report::activity(result),
                fill_model: result
                    .fill_model
                    .as_ref()
                    .map(crate::fill_report::fill_model),
            }
        })
        .collect();
    let mut caveats: Vec<String> = Vec::new();
    for r in &bt.recordings {
        for c in &r.caveats {
            if !caveats.contains(c) {
                caveats.push(c.clone());
            }
        }
    }
    let skipped = &bt.main_replay.skipped;
    if !skipped.is_empty() {
        let lost: u64 = skipped.iter().map(|s| s.frames_lost).sum();
        let exact = skipped.iter().all(|s| s.exact);
        caveats.push(format!(
            "DAMAGED DATA SKIPPED (--skip-corrupt): {}{lost} frames lost in {} span(s); results \
             for the windows they overlap are computed without them (data.replay.skipped lists \
             each span).",
            if exact { "" } else { "at least " },
            skipped.len()
        ));
        caveats.extend(skipped.iter().map(|s| format!("skipped: {s}")));
    }
    caveats.extend(ENGINE_CAVEATS.iter().map(|s| (*s).to_string()));
    Summary {
        format: FORMAT,
        format_version: FORMAT_VERSION,
        recordings: bt.recordings.clone(),
        range: Range {
            from: bt.from.map(utc),
            to: bt.to.map(utc),
            first_event: bt.main.first_event_ns.map(utc),
            end: utc(bt.main.end_ns),
        },
        seed: bt.seed,
        config: ConfigEcho {
            baseline: bt.baselines.is_some(),
            engine: bt.engine.clone(),
        },
        data: DataSummary {
            replay: bt.main_replay.clone(),
            book_errors: bt.main.book_errors,
            windows: bt.windows.len() as u64,
            windows_without_outcome: by_source.get("unknown").copied().unwrap_or(0),
            windows_by_outcome_source: by_source,
            windows_with_one_token: bt
                .windows
                .iter()
                .filter(|w| w.up_token.is_some() != w.down_token.is_some())
                .count() as u64,
            windows_without_tokens: bt
                .windows
                .iter()
                .filter(|w| w.up_token.is_none() && w.down_token.is_none())
                .count() as u64,
        },
        conventions: CONVENTIONS.iter().copied().collect(),
        strategies,
        caveats,
        warnings: bt.warnings.clone(),
        counterfactuals: bt.counterfactuals.clone(),
        account: account(bt),
    }
}

/// `summary` as pretty JSON with a final newline.
///
/// # Errors
/// Serialization failure (not expected: every field serializes).
pub fn to_json(summary: &Summary) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(summary)?;
    s.push('\n');
    Ok(s)
}
