//! What `polyedge run` measures for Prometheus (the `metrics` facade; exported on the control
//! port by `polyedge-ops`). Updated on the engine thread: order and decision metrics as
//! decisions happen, portfolio and breaker gauges once a second. Label `strategy` is the
//! strategy's name; `market` is a window's series (its slug without the start time, e.g.
//! `btc-updown-5m`), so the number of series stays bounded however long the run.
//!
//! Units: money in pUSD (the venue's collateral, 1 pUSD = 1 USDC), time in seconds, P(Up) and
//! edge as probabilities (0–1; edge in pUSD per share). Accounting stays exact (integer
//! micro-units) inside the engine; only the exported values are floating point.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use polyedge_core::{Cash, Outcome, RejectReason, Side, UnixNanos};
use polyedge_engine::decisions::{Decision, DecisionKind, Verdict};
use polyedge_engine::{BreakerKind, Engine};

use crate::engine_loop::LoopStats;

/// Counter: orders decided, by `strategy`, `side` (buy/sell), `type` (gtc/gtd/fok/fak, with a
/// `_post_only` suffix when post-only) and `verdict` (`sent`: approved and handed to the
/// executor; `refused`: stopped before the venue).
pub const ORDERS: &str = "polyedge_orders_total";
/// Counter: cancels decided, by `strategy`.
pub const CANCELS: &str = "polyedge_cancels_total";
/// Counter: skips logged (a window's skip reason changed), by `strategy` and `reason` (the
/// strategy's reason code, e.g. `edge_below_threshold`, `too_late`).
pub const SKIPS: &str = "polyedge_skips_total";
/// Counter: rejected orders (risk check or venue), by `strategy` and `reason`
/// (off_tick, price_out_of_range, below_min_size, post_only_would_cross, fok_not_filled,
/// market_closed, risk, other).
pub const REJECTIONS: &str = "polyedge_order_rejections_total";
/// Counter: fills, by `strategy` and `liquidity` (maker/taker).
pub const FILLS: &str = "polyedge_fills_total";
/// Gauge: orders with at least one fill ÷ orders sent, by `strategy`.
pub const FILL_RATE: &str = "polyedge_fill_rate";
/// Gauge: realized PnL, fees included (pUSD), by `strategy`.
pub const REALIZED_PNL: &str = "polyedge_realized_pnl_pusd";
/// Gauge: open positions marked at the mid minus their cost (pUSD), by `strategy`.
pub const UNREALIZED_PNL: &str = "polyedge_unrealized_pnl_pusd";
/// Gauge: cash (pUSD), by `strategy`.
pub const CASH: &str = "polyedge_cash_pusd";
/// Gauge: cash minus the notional of working buy orders (pUSD), by `strategy`.
pub const BANKROLL_AVAILABLE: &str = "polyedge_bankroll_available_pusd";
/// Gauge: cost of open positions (pUSD), by `strategy`.
pub const EXPOSURE: &str = "polyedge_exposure_pusd";
/// Gauge: cash plus open positions marked at the mid (at cost where no mid) (pUSD).
pub const EQUITY: &str = "polyedge_equity_pusd";
/// Gauge: peak equity of this session minus equity now (pUSD, ≥ 0), by `strategy`.
pub const DRAWDOWN: &str = "polyedge_drawdown_pusd";
/// Gauge: open positions (window × outcome with shares), by `strategy`.
pub const POSITIONS: &str = "polyedge_positions";
/// Gauge: working (resting) orders, by `strategy`.
pub const WORKING_ORDERS: &str = "polyedge_working_orders";
/// Gauge: 1 while the breaker is tripped, by `strategy` and `breaker` (drawdown,
/// consecutive_losses, venue_errors, kill_switch).
pub const BREAKER: &str = "polyedge_breaker_tripped";
/// Gauge: 1 while the kill switch is engaged.
pub const KILL_SWITCH: &str = "polyedge_kill_switch";
/// Gauge: windows trading now.
pub const WINDOWS_ACTIVE: &str = "polyedge_windows_active";
/// Counter: frames handed to the engine's parsers.
pub const ENGINE_FRAMES: &str = "polyedge_engine_frames_total";
/// Counter: frames the engine's parsers did not understand (kept in the recording).
pub const ENGINE_PARSE_ERRORS: &str = "polyedge_engine_parse_errors_total";
/// Counter: decisions written to the decision log.
pub const DECISIONS: &str = "polyedge_decisions_total";
/// Histogram: frame received → the decisions it caused (seconds). With the wall clock, from
/// the frame's receive stamp (socket → recorder → engine → strategy); when the run follows a
/// sandbox clock, from the engine thread's receipt of the frame (engine and strategy only).
pub const DECISION_LATENCY: &str = "polyedge_decision_latency_seconds";
/// Gauge: the strategy's P(Up) at its last order decision, by `strategy` and `market`.
pub const MODEL_P_UP: &str = "polyedge_model_p_up";
/// Gauge: fair value minus the price paid (buy) or plus the price received (sell) per share at
/// the last order decision (pUSD per share), by `strategy` and `market`.
pub const EDGE: &str = "polyedge_edge";

/// Registers the help text of every run metric with the installed recorder.
pub fn describe() {
    describe_counter!(ORDERS, "Orders decided, by verdict (sent or refused)");
    describe_counter!(CANCELS, "Cancels decided");
    describe_counter!(SKIPS, "Skips logged (a window's skip reason changed)");
    describe_counter!(REJECTIONS, "Orders rejected by the risk check or the venue");
    describe_counter!(FILLS, "Fills");
    describe_gauge!(FILL_RATE, "Orders with a fill divided by orders sent");
    describe_gauge!(REALIZED_PNL, "Realized PnL, fees included, pUSD");
    describe_gauge!(UNREALIZED_PNL, "Open positions at mid minus cost, pUSD");
    describe_gauge!(CASH, "Cash, pUSD");
    describe_gauge!(BANKROLL_AVAILABLE, "Cash minus working buy notional, pUSD");
    describe_gauge!(EXPOSURE, "Cost of open positions, pUSD");
    describe_gauge!(EQUITY, "Cash plus open positions at mid, pUSD");
    describe_gauge!(DRAWDOWN, "Peak equity of the session minus equity, pUSD");
    describe_gauge!(POSITIONS, "Open positions");
    describe_gauge!(WORKING_ORDERS, "Working orders");
    describe_gauge!(BREAKER, "1 while the breaker is tripped");
    describe_gauge!(KILL_SWITCH, "1 while the kill switch is engaged");
    describe_gauge!(WINDOWS_ACTIVE, "Windows trading now");
    describe_counter!(ENGINE_FRAMES, "Frames handed to the engine's parsers");
    describe_counter!(ENGINE_PARSE_ERRORS, "Frames the engine could not parse");
    describe_counter!(DECISIONS, "Decisions written to the decision log");
    describe_histogram!(
        DECISION_LATENCY,
        metrics::Unit::Seconds,
        "Frame received to the decisions it caused, seconds"
    );
    describe_histogram!(
        polyedge_live::executor::ORDER_ROUNDTRIP,
        metrics::Unit::Seconds,
        "Live mode: POST /order sent to the venue's answer, seconds, by answer"
    );
    describe_counter!(
        polyedge_live::executor::LIVE_EVENTS,
        "Live mode: executor events by kind (submits, venue rejections, ambiguous submits, fills, fills found by reconciliation, user-channel connects and malformed frames, failed trades, busy retries, position checks and mismatches)"
    );
    describe_gauge!(MODEL_P_UP, "P(Up) at the strategy's last order decision");
    describe_gauge!(
        EDGE,
        "Fair value minus price at the last order decision, pUSD/share"
    );
}

/// A window's series: its slug without the trailing start time (`btc-updown-5m-1776257400` →
/// `btc-updown-5m`).
pub fn market_of(slug: &str) -> &str {
    match slug.rsplit_once('-') {
        Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => slug,
    }
}

/// Fair value, P(Up) and edge of an order decision that gave a fair value: `fv` of one share of
/// the order's outcome; P(Up) from it; edge = fair value − best ask (buy) or best bid − fair
/// value (sell), `None` without that side of the book. All in pUSD per share.
pub fn fair_and_edge(
    intent: &polyedge_core::OrderIntent,
    fair_value: Option<polyedge_core::Price>,
    best_bid: Option<polyedge_core::Price>,
    best_ask: Option<polyedge_core::Price>,
) -> Option<(f64, f64, Option<f64>)> {
    let fv = fair_value?.to_f64();
    let p_up = match intent.outcome {
        Outcome::Up => fv,
        Outcome::Down => 1.0 - fv,
    };
    let edge = match intent.side {
        Side::Buy => best_ask.map(|a| fv - a.to_f64()),
        Side::Sell => best_bid.map(|b| b.to_f64() - fv),
    };
    Some((fv, p_up, edge))
}

fn pusd(c: Cash) -> f64 {
    c.micros() as f64 / 1e6
}

/// Open positions of lane `k` marked at the mid of their outcome's book (at cost where the
/// book has no mid), in micro-pUSD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Σ marked value of the open positions.
    pub value: i128,
    /// Σ (marked value − cost).
    pub unrealized: i128,
    /// Open positions (window × outcome with shares).
    pub positions: u64,
}

/// [`Marks`] of lane `k` now.
pub fn marks(engine: &Engine, k: usize) -> Marks {
    let mut m = Marks::default();
    let Some(p) = engine.portfolio(k) else {
        return m;
    };
    for (w, o, pos) in p.positions() {
        if pos.shares.is_zero() {
            continue;
        }
        m.positions += 1;
        let cost = i128::from(pos.cost.micros());
        let value = engine.book(w).and_then(|b| b.mid(o)).map_or(cost, |mid| {
            i128::from(pos.shares.micros()) * i128::from(mid.micros()) / 1_000_000
        });
        m.value += value;
        m.unrealized += value - cost;
    }
    m
}

/// The run's metrics state: what was already counted, the session's peak equity per strategy.
#[derive(Debug)]
pub struct RunMetrics {
    fills_seen: Vec<usize>,
    peak_equity: Vec<Option<i128>>,
    last_publish: Option<Instant>,
    every: Duration,
    wall_clock: bool,
    /// The once-a-second check reads the clock every [`CLOCK_EVERY`] calls only (reading it
    /// for every frame cost more than the rest).
    gate: ClockGate,
    handles: Handles,
}

/// The per-decision series, registered once and then updated through their handles (looking a
/// series up by its labels for every decision cost about 1.8 µs per decision on the cronos
/// recording: 6 % of a run's engine thread; BENCHMARKS.md).
#[derive(Default)]
struct Handles {
    decisions: Option<metrics::Counter>,
    /// By (lane, side, order type, verdict).
    orders: HashMap<(usize, &'static str, &'static str, &'static str), metrics::Counter>,
    cancels: HashMap<usize, metrics::Counter>,
    /// By lane, then reason.
    skips: HashMap<usize, HashMap<String, metrics::Counter>>,
    /// P(Up) and edge gauges by lane, then market.
    model: HashMap<usize, HashMap<String, (metrics::Gauge, metrics::Gauge)>>,
}

impl std::fmt::Debug for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handles")
            .field("orders", &self.orders.len())
            .finish_non_exhaustive()
    }
}

/// How many frames pass between two readings of the clock by the per-frame checks
/// (`RunMetrics::publish`, the status line): 64 frames are well under a millisecond of work.
pub const CLOCK_EVERY: u32 = 64;

/// Lets a check made for every frame read the clock only every [`CLOCK_EVERY`] calls.
#[derive(Debug, Default)]
pub(crate) struct ClockGate {
    calls: u32,
}

impl ClockGate {
    /// Counts a call; `true` on every [`CLOCK_EVERY`]th (time to read the clock).
    pub(crate) fn open(&mut self) -> bool {
        self.calls += 1;
        if self.calls < CLOCK_EVERY {
            return false;
        }
        self.calls = 0;
        true
    }
}

impl RunMetrics {
    /// Metrics for `engine`'s strategies; `wall_clock`: receive stamps are this machine's wall
    /// clock (decision latency measured from them). Creates every strategy's rejection series at
    /// 0, so that `rate()` and `increase()` see the first rejection.
    pub fn new(engine: &Engine, wall_clock: bool) -> Self {
        let lanes = engine.lanes();
        for k in 0..lanes {
            let name = engine.strategy_name(k).unwrap_or_default().to_string();
            for reason in RejectReason::CODES {
                counter!(REJECTIONS, "strategy" => name.clone(), "reason" => reason).absolute(0);
            }
        }
        RunMetrics {
            fills_seen: vec![0; lanes],
            peak_equity: vec![None; lanes],
            last_publish: None,
            every: Duration::from_secs(1),
            wall_clock,
            gate: ClockGate::default(),
            handles: Handles::default(),
        }
    }

    /// Whether receive stamps are this machine's wall clock (then the decision latency needs no
    /// clock reading when a frame's handling begins).
    pub fn wall_clock(&self) -> bool {
        self.wall_clock
    }

    /// Counts `decisions` (orders by verdict, cancels) and records P(Up) and edge of the last
    /// order decision per strategy and market.
    pub fn decisions(&mut self, decisions: &[Decision]) {
        self.handles
            .decisions
            .get_or_insert_with(|| counter!(DECISIONS))
            .increment(decisions.len() as u64);
        for d in decisions {
            let h = &mut self.handles;
            match &d.kind {
                DecisionKind::Submit {
                    intent,
                    fair_value,
                    best_bid,
                    best_ask,
                    verdict,
                } => {
                    let verdict_label = match verdict {
                        Verdict::Sent => "sent",
                        Verdict::Refused(_) => "refused",
                    };
                    let (side, kind) = (intent.side.name(), intent.order_type());
                    h.orders
                        .entry((d.lane, side, kind, verdict_label))
                        .or_insert_with(|| {
                            counter!(ORDERS,
                                "strategy" => d.strategy.clone(),
                                "side" => side,
                                "type" => kind,
                                "verdict" => verdict_label)
                        })
                        .increment(1);
                    if let Some((fv, p_up, edge)) =
                        fair_and_edge(intent, *fair_value, *best_bid, *best_ask)
                    {
                        let market = market_of(&intent.window);
                        let by_market = h.model.entry(d.lane).or_default();
                        if !by_market.contains_key(market) {
                            let pair = (
                                gauge!(MODEL_P_UP, "strategy" => d.strategy.clone(), "market" => market.to_string()),
                                gauge!(EDGE, "strategy" => d.strategy.clone(), "market" => market.to_string()),
                            );
                            by_market.insert(market.to_string(), pair);
                        }
                        if let Some((p_up_gauge, edge_gauge)) = by_market.get(market) {
                            p_up_gauge.set(p_up);
                            // Without that side of the book: against the order's own limit
                            // price.
                            edge_gauge.set(edge.unwrap_or(fv - intent.price.to_f64()));
                        }
                    }
                }
                DecisionKind::Cancel { .. } => {
                    h.cancels
                        .entry(d.lane)
                        .or_insert_with(|| counter!(CANCELS, "strategy" => d.strategy.clone()))
                        .increment(1);
                }
                DecisionKind::Skip { reason, .. } => {
                    let by_reason = h.skips.entry(d.lane).or_default();
                    if !by_reason.contains_key(reason.as_str()) {
                        let c = counter!(SKIPS, "strategy" => d.strategy.clone(), "reason" => reason.clone());
                        by_reason.insert(reason.clone(), c);
                    }
                    if let Some(c) = by_reason.get(reason.as_str()) {
                        c.increment(1);
                    }
                }
            }
        }
    }

    /// Records the latency of a frame received at `recv_ns` (receive clock) whose processing
    /// began at `began` (read only when the receive clock is not the wall clock) and caused
    /// decisions.
    pub fn decision_latency(&self, recv_ns: UnixNanos, began: Option<Instant>) {
        let secs = if self.wall_clock {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            now.saturating_sub(recv_ns.0) as f64 / 1e9
        } else if let Some(b) = began {
            b.elapsed().as_secs_f64()
        } else {
            return;
        };
        histogram!(DECISION_LATENCY).record(secs);
    }

    /// Publishes the portfolio, order, breaker and engine gauges if a second has passed since
    /// the last time (or `force`).
    pub fn publish(&mut self, engine: &Engine, stats: &LoopStats, force: bool) {
        if !force
            && let Some(t) = self.last_publish
            && (!self.gate.open() || t.elapsed() < self.every)
        {
            return;
        }
        self.last_publish = Some(Instant::now());
        let now = engine.now();
        gauge!(KILL_SWITCH).set(if engine.killed() { 1.0 } else { 0.0 });
        gauge!(WINDOWS_ACTIVE).set(engine.active_windows().len() as f64);
        counter!(ENGINE_FRAMES).absolute(stats.frames);
        counter!(ENGINE_PARSE_ERRORS).absolute(stats.parse_errors);
        for k in 0..engine.lanes() {
            let name = engine.strategy_name(k).unwrap_or_default().to_string();
            self.lane(engine, k, &name, now);
        }
    }

    fn lane(&mut self, engine: &Engine, k: usize, name: &str, now: UnixNanos) {
        let Some(p) = engine.portfolio(k) else {
            return;
        };
        // Fills, by liquidity, counted once each.
        let fills = engine.fills(k);
        let seen = self
            .fills_seen
            .get(k)
            .copied()
            .unwrap_or(0)
            .min(fills.len());
        for f in &fills[seen..] {
            counter!(FILLS, "strategy" => name.to_string(), "liquidity" => f.liquidity.name())
                .increment(1);
        }
        if let Some(s) = self.fills_seen.get_mut(k) {
            *s = fills.len();
        }
        // Rejections (a rejection stays on its order record: absolute counts are monotonic).
        let orders = engine.orders(k);
        // (Every reason's series was created at 0 by `new`.)
        let mut rejected: std::collections::BTreeMap<&'static str, u64> =
            std::collections::BTreeMap::new();
        let mut sent = 0u64;
        let mut with_fill = 0u64;
        for o in orders {
            if let Some(r) = &o.rejected {
                *rejected.entry(r.code()).or_default() += 1;
            }
            if !matches!(o.rejected, Some(RejectReason::Risk(_))) {
                sent += 1;
            }
            if !o.filled.is_zero() {
                with_fill += 1;
            }
        }
        for (reason, n) in rejected {
            counter!(REJECTIONS, "strategy" => name.to_string(), "reason" => reason).absolute(n);
        }
        gauge!(FILL_RATE, "strategy" => name.to_string()).set(if sent == 0 {
            0.0
        } else {
            with_fill as f64 / sent as f64
        });
        let Marks {
            value: marked,
            unrealized,
            positions,
        } = marks(engine, k);
        let cash = i128::from(p.cash().micros());
        let equity = cash + marked;
        let peak = self.peak_equity.get_mut(k).map(|pk| {
            let v = pk.map_or(equity, |x| x.max(equity));
            *pk = Some(v);
            v
        });
        let m = |x: i128| x as f64 / 1e6;
        let s = || name.to_string();
        gauge!(REALIZED_PNL, "strategy" => s()).set(pusd(p.realized_pnl()));
        gauge!(UNREALIZED_PNL, "strategy" => s()).set(m(unrealized));
        gauge!(CASH, "strategy" => s()).set(pusd(p.cash()));
        gauge!(BANKROLL_AVAILABLE, "strategy" => s())
            .set(pusd(p.cash()) - pusd(engine.open_buy_notional(k)));
        gauge!(EXPOSURE, "strategy" => s()).set(pusd(p.open_cost()));
        gauge!(EQUITY, "strategy" => s()).set(m(equity));
        gauge!(DRAWDOWN, "strategy" => s()).set(m(peak.unwrap_or(equity) - equity));
        gauge!(POSITIONS, "strategy" => s()).set(positions as f64);
        gauge!(WORKING_ORDERS, "strategy" => s()).set(engine.open_orders(k).len() as f64);
        let tripped: Vec<BreakerKind> = engine
            .breakers(k)
            .map(|b| b.active(now).map(|t| t.breaker).collect())
            .unwrap_or_default();
        for kind in [
            BreakerKind::Drawdown,
            BreakerKind::ConsecutiveLosses,
            BreakerKind::VenueErrors,
            BreakerKind::KillSwitch,
            BreakerKind::VenueMismatch,
        ] {
            gauge!(BREAKER, "strategy" => s(), "breaker" => kind.name())
                .set(if tripped.contains(&kind) { 1.0 } else { 0.0 });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_market_is_the_slug_without_its_start_time() {
        assert_eq!(market_of("btc-updown-5m-1776257400"), "btc-updown-5m");
        assert_eq!(market_of("eth-updown-15m-1776257400"), "eth-updown-15m");
        assert_eq!(market_of("bitcoin-up-or-down"), "bitcoin-up-or-down");
        assert_eq!(market_of("x-"), "x-");
    }
}
