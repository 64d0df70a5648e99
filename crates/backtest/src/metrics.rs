//! The figures of one strategy's run. Money is exact ([`Cash`], micro-pUSD) and written as
//! decimal strings; ratios and statistics are `f64`. Definitions (also in `docs/backtest.md`):
//!
//! * **net PnL** — realized PnL: settlement payouts − cost − fees (fees are expensed when paid;
//!   a window with an unknown outcome contributes only its fees). Equal to Σ per-window PnL.
//! * **fees paid** — taker (and maker, where charged) fees; **estimated rebates** — maker rebate
//!   estimate, *not* in cash or PnL (`docs/fill-model.md` §6).
//! * **rejections** — rejected orders by reason (`risk:<limit>` or `venue:<reason>`).
//! * **trades** — fills (one per price level taken, or per maker fill).
//! * **fill ratio** — shares filled ÷ shares submitted, over every order sent (risk-rejected and
//!   venue-rejected orders included in the denominator).
//! * **win rate (windows)** — traded windows with a known outcome whose PnL > 0, ÷ traded
//!   windows with a known outcome. **Win rate (buy fills)** — buy fills, in windows with a known
//!   outcome, of the outcome that won ÷ such buy fills.
//! * **edge at entry** — per share, share-weighted over the fills whose order carried the
//!   strategy's fair value: `s·(fair value − price) − fee/share` with `s = +1` for buys, `−1` for
//!   sells. **Realized edge** — the same with the payout (1 if the token's outcome won, else 0)
//!   in place of the fair value, over the same fills where the outcome is known; also over all
//!   fills with a known outcome.
//! * **Sharpe, Sortino** — on per-window returns `r_w = PnL_w / start cash` over every window
//!   of the run in start order (0 for windows not traded), **per window, not annualized**:
//!   Sharpe = mean(r) / sample standard deviation(r) (n − 1); Sortino = mean(r) /
//!   √(Σ min(r, 0)² / n), target 0.
//! * **max drawdown** — of realized equity (start cash + realized PnL after each settlement of
//!   a traded window): the largest fall from a running peak, in pUSD and % of that peak.
//! * **profit factor** — Σ PnL of winning windows ÷ |Σ PnL of losing windows| (`None` if no
//!   window lost).
//! * **exposure** — capital at risk = cost basis of open positions; the maximum, and the mean
//!   over time from the first event to the end of the run.
//! * **uncertainty, tail risk** — 95 % block-bootstrap intervals of net PnL, return, Sharpe and
//!   win rate; VaR/CVaR per traded window, drawdown duration, longest losing streak
//!   ([`crate::stats`]).
//! * **calibration** — filled orders with a fair value in windows with a known outcome: Brier
//!   score of the fair value as P(token wins), and a 10-bin reliability table.

use std::collections::BTreeMap;

use polyedge_core::{
    Cash, Fill, Liquidity, OrderId, Outcome, Price, RejectReason, Side, Size, Window,
};
use polyedge_engine::decimal;
use polyedge_engine::{OrderRecord, RunResult, StrategyResult};
use serde::Serialize;
use statrs::statistics::Statistics;

use crate::runner::source_name;
use crate::stats::{self, TailRisk, Uncertainty};

/// Reliability-table bins of the calibration.
pub const CALIBRATION_BINS: usize = 10;

/// `n / d` rounded half to even (`d > 0`).
pub fn div_half_even(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q.rem_euclid(2) == 1 => q + 1,
        _ => q,
    }
}

fn cash_i128(v: i128) -> Cash {
    Cash(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }))
}

fn ratio(n: f64, d: f64) -> Option<f64> {
    (d != 0.0 && n.is_finite() && d.is_finite()).then(|| n / d)
}

/// The edge of one fill, in 1e-12 pUSD (micro-pUSD per share × micro-shares), with its fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillEdge {
    /// The order's fair value, if the strategy gave one.
    pub fair_value: Option<Price>,
    /// `s·(fair value − price)·size − fee`, 1e-12 pUSD.
    pub entry_e12: Option<i128>,
    /// Payout per share at settlement (1 or 0 pUSD), when the outcome is known.
    pub payout: Option<Price>,
    /// `s·(payout − price)·size − fee`, 1e-12 pUSD.
    pub realized_e12: Option<i128>,
}

impl FillEdge {
    /// The edges of `fill` (of an order with `fair_value`) in a window settled with `outcome`.
    pub fn of(fill: &Fill, fair_value: Option<Price>, outcome: Option<Outcome>) -> Self {
        let sign: i128 = match fill.side {
            Side::Buy => 1,
            Side::Sell => -1,
        };
        let size = i128::from(fill.size.micros());
        let price = i128::from(fill.price.micros());
        let fee = i128::from(fill.fee.micros()) * 1_000_000;
        let edge = |v: Price| sign * (i128::from(v.micros()) - price) * size - fee;
        let payout = outcome.map(|o| {
            if o == fill.outcome {
                Price::ONE
            } else {
                Price::ZERO
            }
        });
        FillEdge {
            fair_value,
            entry_e12: fair_value.map(edge),
            payout,
            realized_e12: payout.map(edge),
        }
    }
}

/// A short name for why an order was rejected: `risk:<limit>` (from the risk check's message:
/// `min_time_left`, `max_order_notional`, `sell_uncovered`, `daily_loss_limit`,
/// `max_window_shares`, `max_window_cost`, `max_total_exposure`, `window_settled`, else `other`)
/// or `venue:<reason>` (the simulated venue's).
pub fn reject_kind(r: &RejectReason) -> &'static str {
    match r {
        RejectReason::Risk(m) => {
            const KINDS: &[(&str, &str)] = &[
                ("buying power", "risk:buying_power"),
                ("already settled", "risk:window_settled"),
                ("left before the end", "risk:min_time_left"),
                ("per-trade maximum", "risk:max_order_notional"),
                ("not already offered", "risk:sell_uncovered"),
                ("daily loss limit", "risk:daily_loss_limit"),
                ("shares of", "risk:max_window_shares"),
                ("cost in", "risk:max_window_cost"),
                ("total exposure", "risk:max_total_exposure"),
            ];
            KINDS
                .iter()
                .find(|(k, _)| m.contains(k))
                .map_or("risk:other", |(_, v)| v)
        }
        RejectReason::OffTick { .. } => "venue:off_tick",
        RejectReason::PriceOutOfRange => "venue:price_out_of_range",
        RejectReason::BelowMinSize { .. } => "venue:below_min_size",
        RejectReason::PostOnlyWouldCross => "venue:post_only_would_cross",
        RejectReason::FokNotFilled => "venue:fok_not_filled",
        RejectReason::MarketClosed => "venue:market_closed",
        RejectReason::Other(_) => "venue:other",
    }
}

/// `total_e12` (1e-12 pUSD) per share over `shares`, as micro-pUSD per share (half to even).
pub fn per_share(total_e12: i128, shares: Size) -> Option<Cash> {
    let s = i128::from(shares.micros());
    (s > 0).then(|| cash_i128(div_half_even(total_e12, s)))
}

/// Edge at entry vs realized, per share (pUSD per share as decimal strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EdgeStats {
    /// Fills whose order carried a fair value.
    pub fills_with_fair_value: u64,
    /// Their shares.
    #[serde(with = "decimal::size")]
    pub shares_with_fair_value: Size,
    /// Share-weighted edge at entry (fair value − price − fee/share, sign-adjusted for sells).
    pub avg_edge_at_entry: Option<String>,
    /// Share-weighted realized edge of the same fills (those in windows with a known outcome).
    pub avg_realized_edge_same_fills: Option<String>,
    /// Share-weighted edge at entry of those same fills (to compare like with like).
    pub avg_edge_at_entry_same_fills: Option<String>,
    /// Share-weighted realized edge of every fill in a window with a known outcome.
    pub avg_realized_edge_all_fills: Option<String>,
}

/// A reliability-table bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Lower edge of the fair-value bin.
    pub lo: f64,
    /// Upper edge (the last bin includes 1).
    pub hi: f64,
    /// Orders in the bin.
    pub n: u64,
    /// Mean fair value in the bin.
    pub mean_fair_value: Option<f64>,
    /// Fraction of them whose token won.
    pub frequency: Option<f64>,
}

/// Fair value at entry vs outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Filled orders with a fair value in windows with a known outcome.
    pub n: u64,
    /// Mean of (fair value − won)².
    pub brier: Option<f64>,
    /// Mean of (entry price − won)² over the same orders: the market's price at entry (the
    /// order's share-weighted fill price) scored as the same forecast, for comparison.
    pub brier_entry_price: Option<f64>,
    /// The reliability table.
    pub bins: Vec<CalibrationBin>,
    /// `(fair value, won)` of every point, in order id order (not serialized).
    #[serde(skip)]
    pub points: Vec<(Price, bool)>,
    /// The entry price (pUSD per share) of every point, same order (not serialized).
    #[serde(skip)]
    pub entry_prices: Vec<f64>,
}

/// PnL and activity by the outcome source of the windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceStats {
    /// Windows traded.
    pub windows_traded: u64,
    /// Their PnL.
    #[serde(with = "decimal::cash")]
    pub pnl: Cash,
}

/// The accounting identities, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consistency {
    /// Σ per-window PnL.
    #[serde(with = "decimal::cash")]
    pub sum_window_pnl: Cash,
    /// Σ per-window PnL = net PnL.
    pub window_pnl_sums_to_net: bool,
    /// end cash + open cost + unsettled cost = start cash + net PnL.
    pub cash_identity_holds: bool,
    /// Fills the portfolio refused (should be 0).
    pub portfolio_errors: u64,
}

/// Every figure of one strategy. See the module docs for definitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Strategy name.
    pub name: String,
    /// Start cash, pUSD.
    #[serde(with = "decimal::cash")]
    pub start_cash: Cash,
    /// Cash at the end, pUSD.
    #[serde(with = "decimal::cash")]
    pub end_cash: Cash,
    /// Net realized PnL, pUSD.
    #[serde(with = "decimal::cash")]
    pub net_pnl: Cash,
    /// Net PnL in % of start cash.
    pub return_pct: f64,
    /// Fees paid, pUSD.
    #[serde(with = "decimal::cash")]
    pub fees_paid: Cash,
    /// Estimated maker rebates, pUSD (not in cash or PnL).
    #[serde(with = "decimal::cash")]
    pub rebates_estimated: Cash,
    /// Orders sent.
    pub orders: u64,
    /// Orders rejected (risk or venue).
    pub orders_rejected: u64,
    /// Rejected orders by reason ([`reject_kind`]).
    pub rejections: BTreeMap<String, u64>,
    /// Fills.
    pub trades: u64,
    /// Buy fills.
    pub buy_fills: u64,
    /// Sell fills.
    pub sell_fills: u64,
    /// Maker fills.
    pub maker_fills: u64,
    /// Shares submitted (all orders).
    #[serde(with = "decimal::size")]
    pub shares_submitted: Size,
    /// Shares filled.
    #[serde(with = "decimal::size")]
    pub shares_filled: Size,
    /// Shares filled ÷ shares submitted.
    pub fill_ratio: Option<f64>,
    /// Σ price × size of the fills, pUSD.
    #[serde(with = "decimal::cash")]
    pub traded_notional: Cash,
    /// Windows with at least one fill.
    pub windows_traded: u64,
    /// Of those, with a known outcome.
    pub windows_traded_settled: u64,
    /// Of those, PnL > 0.
    pub windows_won: u64,
    /// Of those, PnL < 0.
    pub windows_lost: u64,
    /// `windows_won / windows_traded_settled`.
    pub win_rate_windows: Option<f64>,
    /// Buy fills in windows with a known outcome.
    pub buy_fills_settled: u64,
    /// Of those, of the winning outcome.
    pub buy_fills_won: u64,
    /// `buy_fills_won / buy_fills_settled`.
    pub win_rate_buy_fills: Option<f64>,
    /// Edge at entry vs realized.
    pub edge: EdgeStats,
    /// Windows in the return series (all windows of the run).
    pub return_windows: u64,
    /// Mean per-window return (fraction of start cash).
    pub mean_window_return: Option<f64>,
    /// Sample standard deviation of the per-window return.
    pub stdev_window_return: Option<f64>,
    /// Per-window Sharpe ratio, not annualized.
    pub sharpe_per_window: Option<f64>,
    /// Per-window Sortino ratio (target 0), not annualized.
    pub sortino_per_window: Option<f64>,
    /// Largest fall of realized equity from a running peak, pUSD.
    #[serde(with = "decimal::cash")]
    pub max_drawdown: Cash,
    /// The same in % of that peak.
    pub max_drawdown_pct: f64,
    /// Σ PnL of winning windows, pUSD.
    #[serde(with = "decimal::cash")]
    pub gross_profit: Cash,
    /// |Σ PnL of losing windows|, pUSD.
    #[serde(with = "decimal::cash")]
    pub gross_loss: Cash,
    /// `gross_profit / gross_loss` (`None` when nothing was lost).
    pub profit_factor: Option<f64>,
    /// Most capital at risk (cost of open positions) at any time, pUSD.
    #[serde(with = "decimal::cash")]
    pub max_exposure: Cash,
    /// Time-weighted mean capital at risk over the run, pUSD.
    #[serde(with = "decimal::cash")]
    pub mean_exposure: Cash,
    /// Cost of positions never settled (windows ending after the data), pUSD.
    #[serde(with = "decimal::cash")]
    pub open_cost: Cash,
    /// Traded windows with an unknown outcome (excluded from PnL).
    pub unsettled_windows: u64,
    /// Cost of their positions, pUSD (not in PnL).
    #[serde(with = "decimal::cash")]
    pub unsettled_cost: Cash,
    /// Activity and PnL by outcome source.
    pub by_outcome_source: BTreeMap<String, SourceStats>,
    /// Fair value at entry vs outcome.
    pub calibration: Calibration,
    /// 95 % bootstrap intervals of net PnL, return, Sharpe and win rate ([`crate::stats`]).
    pub uncertainty: Uncertainty,
    /// VaR/CVaR per window, drawdown duration, longest losing streak ([`crate::stats`]).
    pub tail_risk: TailRisk,
    /// The accounting identities.
    pub consistency: Consistency,
}

/// The figures of `s` over the run's `windows` (start order) and span of `run`; `seed` is the
/// run's seed (it seeds the bootstrap, mixed with the strategy's name).
pub fn compute(s: &StrategyResult, windows: &[Window], run: &RunResult, seed: u64) -> Metrics {
    let by_slug: BTreeMap<&str, &Window> = windows.iter().map(|w| (w.slug.as_str(), w)).collect();
    let orders: BTreeMap<OrderId, &OrderRecord> =
        s.orders.iter().map(|o| (o.intent.id, o)).collect();
    let outcome_of = |slug: &str| by_slug.get(slug).and_then(|w| w.outcome);

    // Orders and fills.
    let mut shares_submitted = Size::ZERO;
    let mut shares_filled = Size::ZERO;
    for o in &s.orders {
        shares_submitted += o.intent.size;
        shares_filled += o.filled;
    }
    let (mut buy_fills, mut sell_fills, mut maker_fills) = (0u64, 0u64, 0u64);
    let (mut buy_settled, mut buy_won) = (0u64, 0u64);
    let mut notional = Cash::ZERO;
    let mut edge = EdgeStats::default();
    let (mut entry_all, mut entry_same, mut real_same, mut real_all) = (0i128, 0i128, 0i128, 0i128);
    let (mut shares_same, mut shares_real) = (Size::ZERO, Size::ZERO);
    for f in &s.fills {
        match f.side {
            Side::Buy => buy_fills += 1,
            Side::Sell => sell_fills += 1,
        }
        if f.liquidity == Liquidity::Maker {
            maker_fills += 1;
        }
        notional += f.price.notional(f.size);
        let outcome = outcome_of(&f.window);
        if f.side == Side::Buy && outcome.is_some() {
            buy_settled += 1;
            if outcome == Some(f.outcome) {
                buy_won += 1;
            }
        }
        let fv = orders.get(&f.order).and_then(|o| o.fair_value);
        let e = FillEdge::of(f, fv, outcome);
        if let Some(r) = e.realized_e12 {
            real_all += r;
            shares_real += f.size;
        }
        if let Some(x) = e.entry_e12 {
            edge.fills_with_fair_value += 1;
            edge.shares_with_fair_value += f.size;
            entry_all += x;
            if let Some(r) = e.realized_e12 {
                entry_same += x;
                real_same += r;
                shares_same += f.size;
            }
        }
    }
    let fmt = |v: Option<Cash>| v.map(|c| c.to_string());
    edge.avg_edge_at_entry = fmt(per_share(entry_all, edge.shares_with_fair_value));
    edge.avg_edge_at_entry_same_fills = fmt(per_share(entry_same, shares_same));
    edge.avg_realized_edge_same_fills = fmt(per_share(real_same, shares_same));
    edge.avg_realized_edge_all_fills = fmt(per_share(real_all, shares_real));

    // Windows.
    let (mut won, mut lost, mut settled) = (0u64, 0u64, 0u64);
    let (mut gross_profit, mut gross_loss) = (Cash::ZERO, Cash::ZERO);
    let mut by_source: BTreeMap<String, SourceStats> = BTreeMap::new();
    for (slug, pnl) in &s.window_pnl {
        let w = by_slug.get(slug.as_str());
        let src = w.map_or("unknown", |w| source_name(w));
        let e = by_source.entry(src.to_string()).or_default();
        e.windows_traded += 1;
        e.pnl += *pnl;
        if w.is_some_and(|w| w.outcome.is_some()) {
            settled += 1;
            if pnl.micros() > 0 {
                won += 1;
            } else if pnl.micros() < 0 {
                lost += 1;
            }
        }
        if pnl.micros() > 0 {
            gross_profit += *pnl;
        } else {
            gross_loss -= *pnl;
        }
    }

    // Per-window returns over every window of the run.
    let start = s.start_cash.to_f64();
    let returns: Vec<f64> = windows
        .iter()
        .map(|w| s.window_pnl.get(&w.slug).map_or(0.0, |p| p.to_f64()) / start)
        .collect();
    let finite = |x: f64| x.is_finite().then_some(x);
    let (mean, sd) = if returns.is_empty() {
        (None, None)
    } else {
        (
            finite(returns.iter().mean()),
            finite(returns.iter().std_dev()),
        )
    };
    let sharpe = match (mean, sd) {
        (Some(m), Some(d)) if d > 0.0 => Some(m / d),
        _ => None,
    };
    let downside = if returns.is_empty() {
        0.0
    } else {
        (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / returns.len() as f64).sqrt()
    };
    let sortino = match mean {
        Some(m) if downside > 0.0 => Some(m / downside),
        _ => None,
    };

    // Drawdown of realized equity.
    let (mut peak, mut max_dd, mut max_dd_pct) = (s.start_cash, Cash::ZERO, 0.0f64);
    for p in &s.equity {
        let eq = s.start_cash + p.realized_pnl;
        if eq > peak {
            peak = eq;
        }
        let dd = peak - eq;
        if dd > max_dd {
            max_dd = dd;
            max_dd_pct = ratio(dd.to_f64(), peak.to_f64()).map_or(0.0, |r| r * 100.0);
        }
    }

    // Exposure over the run's span.
    let span = run
        .first_event_ns
        .map_or(0, |f| i128::from(run.end_ns.0.saturating_sub(f.0)));
    let mean_exposure = if span > 0 {
        cash_i128(div_half_even(s.open_cost_integral, span))
    } else {
        Cash::ZERO
    };

    let series = stats::window_series(s, windows);
    // Share-weighted fill price of each order: (Σ price·size, Σ size).
    let mut entry: BTreeMap<OrderId, (i128, i128)> = BTreeMap::new();
    for f in &s.fills {
        let e = entry.entry(f.order).or_default();
        e.0 += i128::from(f.price.micros()) * i128::from(f.size.micros());
        e.1 += i128::from(f.size.micros());
    }
    let sum_window_pnl = s.window_pnl.values().fold(Cash::ZERO, |a, b| a + *b);
    Metrics {
        name: s.name.clone(),
        start_cash: s.start_cash,
        end_cash: s.end_cash,
        net_pnl: s.net_pnl,
        return_pct: ratio(s.net_pnl.to_f64(), start).map_or(0.0, |r| r * 100.0),
        fees_paid: s.fees,
        rebates_estimated: s.rebates_estimated,
        orders: s.orders.len() as u64,
        orders_rejected: s.rejected,
        rejections: s.orders.iter().filter_map(|o| o.rejected.as_ref()).fold(
            BTreeMap::new(),
            |mut m, r| {
                *m.entry(reject_kind(r).to_string()).or_insert(0) += 1;
                m
            },
        ),
        trades: s.fills.len() as u64,
        buy_fills,
        sell_fills,
        maker_fills,
        shares_submitted,
        shares_filled,
        fill_ratio: ratio(shares_filled.to_f64(), shares_submitted.to_f64()),
        traded_notional: notional,
        windows_traded: s.window_pnl.len() as u64,
        windows_traded_settled: settled,
        windows_won: won,
        windows_lost: lost,
        win_rate_windows: ratio(won as f64, settled as f64),
        buy_fills_settled: buy_settled,
        buy_fills_won: buy_won,
        win_rate_buy_fills: ratio(buy_won as f64, buy_settled as f64),
        edge,
        return_windows: returns.len() as u64,
        mean_window_return: mean,
        stdev_window_return: sd,
        sharpe_per_window: sharpe,
        sortino_per_window: sortino,
        max_drawdown: max_dd,
        max_drawdown_pct: max_dd_pct,
        gross_profit,
        gross_loss,
        profit_factor: ratio(gross_profit.to_f64(), gross_loss.to_f64()),
        max_exposure: s.max_open_cost,
        mean_exposure,
        open_cost: s.open_cost,
        unsettled_windows: s.unsettled_windows as u64,
        unsettled_cost: s.unsettled_cost,
        by_outcome_source: by_source,
        calibration: calibration(&orders, &by_slug, &entry),
        uncertainty: stats::uncertainty(
            &series,
            s.start_cash,
            stats::stream_seed(seed, "bootstrap", &s.name),
        ),
        tail_risk: stats::tail_risk(&series, windows.first().map_or(0, |w| w.start.0)),
        consistency: Consistency {
            sum_window_pnl,
            window_pnl_sums_to_net: sum_window_pnl == s.net_pnl,
            cash_identity_holds: s.end_cash + s.open_cost + s.unsettled_cost
                == s.start_cash + s.net_pnl,
            portfolio_errors: s.portfolio_errors,
        },
    }
}

fn calibration(
    orders: &BTreeMap<OrderId, &OrderRecord>,
    by_slug: &BTreeMap<&str, &Window>,
    entry: &BTreeMap<OrderId, (i128, i128)>,
) -> Calibration {
    let mut points = Vec::new();
    let mut entry_prices = Vec::new();
    for o in orders.values() {
        let (Some(fv), false) = (o.fair_value, o.filled.is_zero()) else {
            continue;
        };
        let Some(outcome) = by_slug
            .get(o.intent.window.as_str())
            .and_then(|w| w.outcome)
        else {
            continue;
        };
        points.push((fv, outcome == o.intent.outcome));
        let (pv, sz) = entry.get(&o.intent.id).copied().unwrap_or((0, 0));
        entry_prices.push(if sz > 0 {
            pv as f64 / sz as f64 / 1e6
        } else {
            o.intent.price.to_f64()
        });
    }
    let n = points.len();
    let brier = (n > 0).then(|| {
        points
            .iter()
            .map(|(p, y)| (p.to_f64() - f64::from(u8::from(*y))).powi(2))
            .sum::<f64>()
            / n as f64
    });
    let brier_entry_price = (n > 0).then(|| {
        points
            .iter()
            .zip(&entry_prices)
            .map(|((_, y), p)| (p - f64::from(u8::from(*y))).powi(2))
            .sum::<f64>()
            / n as f64
    });
    let mut bins: Vec<(u64, f64, u64)> = vec![(0, 0.0, 0); CALIBRATION_BINS];
    for (p, y) in &points {
        // Exact bin from the micro-pUSD price: [k/B, (k+1)/B), the last bin closed at 1.
        let k = usize::try_from(u64::from(p.micros()) * CALIBRATION_BINS as u64 / 1_000_000)
            .unwrap_or(CALIBRATION_BINS)
            .min(CALIBRATION_BINS - 1);
        bins[k].0 += 1;
        bins[k].1 += p.to_f64();
        bins[k].2 += u64::from(*y);
    }
    Calibration {
        n: n as u64,
        brier,
        brier_entry_price,
        bins: bins
            .into_iter()
            .enumerate()
            .map(|(k, (c, sum, wins))| CalibrationBin {
                lo: k as f64 / CALIBRATION_BINS as f64,
                hi: (k + 1) as f64 / CALIBRATION_BINS as f64,
                n: c,
                mean_fair_value: (c > 0).then(|| sum / c as f64),
                frequency: (c > 0).then(|| wins as f64 / c as f64),
            })
            .collect(),
        points,
        entry_prices,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use polyedge_core::UnixNanos;

    fn fill(side: Side, outcome: Outcome, price: &str, shares: u64, fee: i64) -> Fill {
        Fill {
            order: OrderId(1),
            window: "w".into(),
            outcome,
            side,
            price: Price::parse(price).unwrap(),
            size: Size::from_shares(shares),
            fee: Cash(fee),
            liquidity: Liquidity::Taker,
            at: UnixNanos(0),
        }
    }

    #[test]
    fn rejections_are_classified_from_the_risk_checks_own_messages() {
        use polyedge_core::{OrderIntent, TimeInForce};
        use polyedge_engine::{Portfolio, RiskConfig};
        let w = Window::from_slug("btc-updown-5m-1776081600").unwrap();
        let order = |price: &str, shares: u64| OrderIntent {
            id: OrderId(1),
            window: w.slug.clone(),
            outcome: Outcome::Up,
            side: Side::Buy,
            price: Price::parse(price).unwrap(),
            size: Size::from_shares(shares),
            tif: TimeInForce::Fak,
            post_only: false,
        };
        let risk = RiskConfig::default();
        let pf = Portfolio::new(Cash(1_000_000_000));
        let mid = UnixNanos(w.start.0 + 60 * UnixNanos::PER_SEC);
        let kind = |o: &OrderIntent, at: UnixNanos| {
            reject_kind(&risk.check(o, &w, at, &pf, &[]).unwrap_err())
        };
        assert_eq!(kind(&order("0.50", 100), mid), "risk:max_order_notional");
        let late = UnixNanos(w.end.0 - UnixNanos::PER_SEC);
        assert_eq!(kind(&order("0.50", 10), late), "risk:min_time_left");
        let mut sell = order("0.50", 10);
        sell.side = Side::Sell;
        assert_eq!(kind(&sell, mid), "risk:sell_uncovered");
        assert_eq!(
            reject_kind(&RejectReason::FokNotFilled),
            "venue:fok_not_filled"
        );
        assert_eq!(reject_kind(&RejectReason::Risk("?".into())), "risk:other");
    }

    #[test]
    fn edges_per_share() {
        // Buy 10 Up at 0.40 with a 0.175 fee; fair value 0.50; Up wins.
        let f = fill(Side::Buy, Outcome::Up, "0.40", 10, 175_000);
        let e = FillEdge::of(&f, Some(Price::parse("0.5").unwrap()), Some(Outcome::Up));
        // (0.10 × 10 − 0.175) / 10 = 0.0825 per share.
        assert_eq!(
            per_share(e.entry_e12.unwrap(), f.size).unwrap(),
            Cash(82_500)
        );
        // (0.60 × 10 − 0.175) / 10 = 0.5825.
        assert_eq!(
            per_share(e.realized_e12.unwrap(), f.size).unwrap(),
            Cash(582_500)
        );
        // A sell of Down at 0.30 when Down loses: realized (0.30 − 0) − fee/share.
        let s = fill(Side::Sell, Outcome::Down, "0.30", 10, 0);
        let e = FillEdge::of(&s, None, Some(Outcome::Up));
        assert_eq!(e.entry_e12, None);
        assert_eq!(
            per_share(e.realized_e12.unwrap(), s.size).unwrap(),
            Cash(300_000)
        );
        assert_eq!(div_half_even(5, 2), 2);
        assert_eq!(div_half_even(7, 2), 4);
        assert_eq!(div_half_even(-5, 2), -2);
    }
}
