//! [`Engine`]: the one state machine every mode drives.
//!
//! A driver feeds [`Input`]s to [`Engine::process`] in time order: the backtest from a replay
//! ([`crate::replay`]), `polyedge run` from live feeds or a sandbox. The engine never reads a
//! clock; each input carries its time, so the same inputs give the same run.
//!
//! # One step
//! [`Engine::process`] first fires, in time order and each **at its own due time**, everything
//! due at or before the input's time: window lifecycle phases (`Opened` at the start,
//! `StrikeKnown` when the strike became knowable, `Closing` [`EngineConfig::closing_secs`] before
//! the end, `Ended` at the end, `Resolved` when the resolution is known and the end has passed),
//! strategy timers, and executor wake-ups ([`Executor::next_wakeup`]: simulated latency, cancels,
//! expiries). On equal times phases go first (`Ended`, `Resolved`, `Opened`, `StrikeKnown`,
//! `Closing`), then timers, then wake-ups. Then it handles the input:
//!
//! * a market event updates the market state (the window's [`WindowBook`], the reference and spot
//!   state), then per strategy: the executor sees the changed book and the time, its reports are
//!   booked (portfolio, ledger, working orders) and delivered, then [`Strategy::on_event`] runs;
//! * a window listing makes the window visible and schedules its phases; a published strike makes
//!   it knowable; a resolution schedules the settlement;
//! * an execution report (live) is booked and delivered to its strategy.
//!
//! and last fires whatever became due by then (e.g. an order a strategy just sent to an executor
//! that answers at once).
//!
//! # What strategies may see
//! Only what was knowable then: windows once listed, without outcome, final price or outcome
//! source ([`Window::without_hindsight`]); a strike once published or once the reference price at
//! the start was received ([`MarketView::strike`]); the outcome only in
//! [`WindowPhase::Resolved`]. Strategies run independently: each has its own executor, portfolio,
//! ledger and working orders over the same market state. Orders pass [`RiskConfig::approve`]
//! before reaching an executor; a refusal comes back as [`ExecReport::Rejected`].
//!
//! # Results
//! Readable at any time ([`Engine::snapshot`], [`Engine::portfolio`], [`Engine::open_orders`],
//! [`Engine::fills`], …), and at the end ([`Engine::finish`]).

use std::collections::{BTreeSet, VecDeque};

use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::{
    Cash, EventKind, ExecReport, FeeSchedule, Fill, Fixed18, MarketEvent, OrderId, OrderIntent,
    Outcome, Price, RejectReason, Side, Size, Symbol, UnixNanos, Window, WindowBook, WindowIndex,
    book_tokens, fee_schedule_at,
};
use polyedge_model::online::asset_of_symbol;
use polyedge_model::{OnlineConfig, ReferenceSet, SeriesConfig};
use polyedge_strategy::{
    Action, Ctx, Ledger, Leg, MarketView, Strategy, Strike, StrikeSource, WindowPhase,
};
use serde::{Deserialize, Serialize};

use crate::breakers::{BreakerConfig, DataHealth, Deployment, LaneBreakers, spread_reason};
use crate::decisions::{Decision, DecisionKind, SkipSignal, Verdict};
use crate::executor::{ExecError, Executor, ExecutorKind};
use crate::input::{Input, Resolution};
use crate::portfolio::Portfolio;
use crate::risk::RiskConfig;
use crate::sim_exec::{FillModelReport, SimConfig, SimExecutor};

/// Most callbacks one trigger may cascade into (reports answering actions answering reports…).
const MAX_CASCADE: usize = 10_000;

/// Engine parameters (serde: every field optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Starting cash of each strategy's portfolio, pUSD (serde: a decimal string or number;
    /// default `"1000"`; must be positive).
    #[serde(with = "crate::decimal::cash")]
    pub start_cash: Cash,
    /// Pre-trade limits.
    pub risk: RiskConfig,
    /// Simulated venue (backtest and paper).
    pub sim: SimConfig,
    /// Lead time of [`WindowPhase::Closing`] before the window end, seconds (default 30).
    pub closing_secs: u64,
    /// Circuit breakers ([`crate::breakers`]).
    pub breakers: BreakerConfig,
    /// Deployment phase: caps the bankroll and the money limits ([`crate::breakers`]); applied
    /// to `risk` by [`Engine::new`].
    pub deployment: Deployment,
    /// The strategy router's capital split (seed 000: 60 % directional, 40 % market maker):
    /// strategy name → share of one account of `start_cash`, each in (0, 1], together at most
    /// the whole. Empty (the default): every strategy gets a portfolio of `start_cash` and the limits
    /// of `risk` on its own. Otherwise every strategy of the run must have a share; each gets a
    /// portfolio of its share of `start_cash` (its buying power) and its share of every
    /// additive limit (`max_window_shares`, `max_window_cost`, `max_total_exposure`,
    /// `daily_loss_limit`, after the deployment phase), so the strategies together never hold
    /// more than the one account's limits allow; `max_order_notional` and
    /// `min_time_left_secs` apply to each as they are. Shares are exact to 6 decimals (TOML:
    /// `capital_split = { ml_directional = 0.6, market_maker = 0.4 }`).
    #[serde(
        with = "crate::decimal::fraction_map",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub capital_split: std::collections::BTreeMap<String, Price>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            start_cash: Cash(1_000_000_000),
            risk: RiskConfig::default(),
            sim: SimConfig::default(),
            closing_secs: 30,
            breakers: BreakerConfig::default(),
            deployment: Deployment::default(),
            capital_split: std::collections::BTreeMap::new(),
        }
    }
}

impl EngineConfig {
    /// Refuses settings that cannot be meant: start cash not positive, a negative risk limit,
    /// a probabilistic queue model with exponent 0.
    ///
    /// # Errors
    /// A sentence naming the setting and its value.
    pub fn validate(&self) -> Result<(), String> {
        if self.start_cash <= Cash::ZERO {
            return Err(format!(
                "start_cash is {} pUSD; it must be positive (returns and Sharpe ratios are taken of it)",
                self.start_cash
            ));
        }
        self.risk.validate()?;
        let mut total = 0u64;
        for (name, share) in &self.capital_split {
            if share.micros() == 0 {
                return Err(format!(
                    "capital_split: the share of {name:?} is 0; it must be in (0, 1]"
                ));
            }
            total += u64::from(share.micros());
        }
        if total > 1_000_000 {
            return Err(format!(
                "capital_split: the shares sum to {}; they must sum to at most 1",
                Cash(i64::try_from(total).unwrap_or(i64::MAX))
            ));
        }
        if self.sim.queue_power == 0 {
            return Err("sim.queue_power is 0; the probabilistic queue model needs an exponent of at least 1".to_string());
        }
        Ok(())
    }

    /// Settings that are allowed but probably not meant ([`RiskConfig::warnings`]).
    pub fn warnings(&self) -> Vec<String> {
        self.risk.warnings(self.start_cash)
    }
}

/// A point of a strategy's equity curve, taken after each settlement of a window it traded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// When (the settlement time).
    pub at: UnixNanos,
    /// The window whose settlement this point follows.
    pub window: String,
    /// Cash.
    pub cash: Cash,
    /// Cost of positions still open.
    pub open_cost: Cash,
    /// Cost of positions of windows settled with an unknown outcome.
    pub unsettled_cost: Cash,
    /// Realized PnL so far.
    pub realized_pnl: Cash,
}

/// A merge of complete sets a strategy asked for ([`Action::Merge`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// When (the decision time; the engine books it at once), ns since epoch.
    pub at: UnixNanos,
    /// The window.
    pub window: String,
    /// Complete sets merged (micro-shares of each outcome; as many micro-pUSD paid out).
    pub shares: Size,
}

/// One order a strategy sent, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The order as submitted (its `id` is the strategy's order id).
    pub intent: OrderIntent,
    /// Decision time: when the strategy queued it (ns since epoch).
    pub decided_at: UnixNanos,
    /// The strategy's fair value of one share of the outcome at decision time, if given
    /// ([`Ctx::submit_with_fair_value`]).
    pub fair_value: Option<Price>,
    /// Shares filled (micro-shares).
    pub filled: Size,
    /// Fees paid on its fills (micro-pUSD).
    pub fees: Cash,
    /// Why it was rejected (risk check or venue), if it was.
    pub rejected: Option<RejectReason>,
}

/// What one strategy did over a run (or so far).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// [`Strategy::name`].
    pub name: String,
    /// All fills, in order.
    pub fills: Vec<Fill>,
    /// Every order sent, in submission order.
    pub orders: Vec<OrderRecord>,
    /// Realized PnL per traded window (fees included), in slug order.
    pub window_pnl: std::collections::BTreeMap<String, Cash>,
    /// Net realized PnL (= Σ `window_pnl`).
    pub net_pnl: Cash,
    /// Fees paid.
    pub fees: Cash,
    /// Estimated maker rebates (not in cash or PnL).
    pub rebates_estimated: Cash,
    /// Starting cash.
    pub start_cash: Cash,
    /// Cash at the end.
    pub end_cash: Cash,
    /// Cost of positions never settled (windows not resolved by the end of the data, if any).
    pub open_cost: Cash,
    /// Windows settled with an unknown outcome (excluded from PnL).
    pub unsettled_windows: usize,
    /// Cost of the positions of those windows.
    pub unsettled_cost: Cash,
    /// Equity curve.
    pub equity: Vec<EquityPoint>,
    /// Capital at risk: the most the open positions cost at any time (micro-pUSD).
    pub max_open_cost: Cash,
    /// Capital at risk over time: ∫ open cost dt from the first event to the end of the run, in
    /// micro-pUSD × nanoseconds (divide by the run's span for the time-weighted mean).
    pub open_cost_integral: i128,
    /// Orders rejected (risk or venue).
    pub rejected: u64,
    /// Fills the portfolio refused (should stay 0).
    pub portfolio_errors: u64,
    /// Merges of complete sets, in order.
    pub merges: Vec<MergeRecord>,
    /// How often the strategy reported each skip reason ([`Ctx::skip`]), by code.
    pub skips: std::collections::BTreeMap<String, u64>,
    /// Windows the strategy looked at but sent no order in, by the last skip reason it gave
    /// there.
    pub skipped_windows: std::collections::BTreeMap<String, u64>,
    /// The simulated executor's report (queue model, counters, arrival lags); `None` for other
    /// executors.
    pub fill_model: Option<FillModelReport>,
}

/// Result of a run ([`Engine::finish`]) or a snapshot of one ([`Engine::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// Market events processed.
    pub events: u64,
    /// Book events the window books refused (out-of-order or malformed).
    pub book_errors: u64,
    /// Receive time of the first event (`None`: no events).
    pub first_event_ns: Option<UnixNanos>,
    /// When the run ended (or now, for a snapshot), ns since epoch.
    pub end_ns: UnixNanos,
    /// One result per strategy, in the order given.
    pub strategies: Vec<StrategyResult>,
}

/// Counters of what the engine saw but could not use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Polymarket token events for tokens of no listed window (not yet listed, or unknown).
    pub unrouted_events: u64,
    /// Resolutions or published strikes for windows never listed.
    pub unknown_window_inputs: u64,
    /// Execution reports for an unknown lane.
    pub unknown_lane_reports: u64,
    /// Callback cascades cut at [`MAX_CASCADE`] steps.
    pub cascades_cut: u64,
}

/// Lifecycle phases in the order they fire at equal times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Ended,
    Resolved,
    Opened,
    StrikeKnown,
    Closing,
}

/// What the engine knows of one listed window.
#[derive(Debug)]
struct WinState {
    listed_at: UnixNanos,
    book: Option<WindowBook>,
    strike: Option<Strike>,
    strike_announced: bool,
    resolution: Option<Resolution>,
    ended: bool,
    resolved: bool,
}

/// The shared market state.
struct Market {
    now: UnixNanos,
    /// Listed windows as strategies may see them.
    index: WindowIndex,
    states: Vec<WinState>,
    active: BTreeSet<usize>,
    /// Reference state per distinct series configuration (strategies' fair values).
    refs: Vec<ReferenceSet>,
    /// Reference state used to tell when a strike became knowable (settlement-side feeds).
    strike_refs: ReferenceSet,
    ref_prices: Vec<(ReferenceSource, Symbol, Fixed18)>,
    spot: Vec<(Venue, Symbol, Fixed18)>,
    /// Data freshness and jumps (breakers).
    health: DataHealth,
}

impl Market {
    fn book_of(&self, slug: &str) -> Option<(usize, &Window, &WindowBook)> {
        let i = self.index.position(slug)?;
        let w = self.index.at(i)?;
        let b = self.states[i].book.as_ref()?;
        Some((i, w, b))
    }
}

/// Open cost over time, updated whenever it changes (fills, settlements).
#[derive(Default, Clone)]
struct Exposure {
    last_at: Option<UnixNanos>,
    last_cost: Cash,
    integral: i128,
    max: Cash,
}

impl Exposure {
    /// The open cost became `cost` at `at` (clamped to be monotonic).
    fn update(&mut self, at: UnixNanos, cost: Cash) {
        if let Some(last) = self.last_at {
            let at = at.max(last);
            self.integral += i128::from(self.last_cost.micros()) * i128::from(at.0 - last.0);
            self.last_at = Some(at);
        } else {
            self.last_at = Some(at);
        }
        self.last_cost = cost;
        self.max = self.max.max(cost);
    }

    /// The integral up to `end`.
    fn integral_to(&self, end: UnixNanos) -> i128 {
        match self.last_at {
            Some(last) if end > last => {
                self.integral + i128::from(self.last_cost.micros()) * i128::from(end.0 - last.0)
            }
            _ => self.integral,
        }
    }
}

/// One strategy with its own executor, portfolio, ledger and working orders.
struct Lane {
    strategy: Box<dyn Strategy>,
    exec: Box<dyn Executor>,
    portfolio: Portfolio,
    ledger: Ledger,
    /// Working orders (remaining sizes), in id order.
    open: Vec<OrderIntent>,
    timers: BTreeSet<UnixNanos>,
    next_id: u64,
    fills: Vec<Fill>,
    orders: Vec<OrderRecord>,
    order_index: std::collections::HashMap<OrderId, usize>,
    traded: BTreeSet<String>,
    equity: Vec<EquityPoint>,
    exposure: Exposure,
    rejected: u64,
    portfolio_errors: u64,
    merges: Vec<MergeRecord>,
    skips: std::collections::BTreeMap<&'static str, u64>,
    last_skip: std::collections::HashMap<String, &'static str>,
    breakers: LaneBreakers,
    /// The strategy prices from the reference feed (stale-data breaker watches it).
    uses_reference: bool,
    /// The pre-trade limits of this lane (the engine's, or its share of them).
    risk: RiskConfig,
    /// The bankroll the breakers' percentages are taken of (pUSD).
    bankroll: Cash,
}

struct View<'a> {
    market: &'a Market,
    portfolio: &'a Portfolio,
    ledger: &'a Ledger,
    open: &'a [OrderIntent],
    series: &'a [SeriesConfig],
}

impl MarketView for View<'_> {
    fn now(&self) -> UnixNanos {
        self.market.now
    }

    fn active_windows(&self) -> Vec<&Window> {
        let mut v: Vec<&Window> = self
            .market
            .active
            .iter()
            .filter_map(|&i| self.market.index.at(i))
            .collect();
        v.sort_by(|a, b| a.slug.cmp(&b.slug));
        v
    }

    fn window(&self, slug: &str) -> Option<&Window> {
        self.market.index.get(slug)
    }

    fn strike(&self, slug: &str) -> Option<Strike> {
        let i = self.market.index.position(slug)?;
        self.market.states[i].strike
    }

    fn book(&self, slug: &str) -> Option<&WindowBook> {
        let i = self.market.index.position(slug)?;
        self.market.states[i].book.as_ref()
    }

    fn reference_price(&self, source: ReferenceSource, symbol: &str) -> Option<Fixed18> {
        self.market
            .ref_prices
            .iter()
            .find(|(s, sym, _)| *s == source && sym.eq_ignore_case(symbol))
            .map(|r| r.2)
    }

    fn spot_price(&self, venue: Venue, symbol: &str) -> Option<Fixed18> {
        self.market
            .spot
            .iter()
            .find(|(v, sym, _)| *v == venue && sym.eq_ignore_case(symbol))
            .map(|r| r.2)
    }

    fn reference_set(&self, series: &SeriesConfig) -> Option<&ReferenceSet> {
        self.series
            .iter()
            .position(|s| s == series)
            .map(|i| &self.market.refs[i])
    }

    fn fee_schedule(&self, slug: &str) -> Option<FeeSchedule> {
        let w = self.window(slug)?;
        Some(fee_schedule_at(
            self.market.now,
            w.duration,
            w.fee_schedule.as_ref(),
        ))
    }

    fn position(&self, slug: &str, outcome: Outcome) -> Size {
        self.portfolio.position(slug, outcome).shares
    }

    fn leg(&self, slug: &str, outcome: Outcome) -> Leg {
        self.ledger.leg(slug, outcome)
    }

    fn open_orders(&self) -> &[OrderIntent] {
        self.open
    }

    fn cash(&self) -> Option<Cash> {
        Some(self.portfolio.cash())
    }
}

/// A callback to deliver.
enum Call<'e> {
    Event(&'e MarketEvent),
    Timer(UnixNanos),
    Report(ExecReport),
    Window(usize, WindowPhase),
}

impl Lane {
    /// Books `reports` (portfolio, ledger, working orders, records) and queues them for delivery.
    fn book_reports(
        &mut self,
        breakers: &BreakerConfig,
        reports: Vec<ExecReport>,
        queue: &mut VecDeque<ExecReport>,
        now: UnixNanos,
    ) {
        for r in reports {
            match &r {
                ExecReport::Filled(f) => {
                    if let Some(outcome) = self.portfolio.settlement(&f.window) {
                        // A fill of a window already settled (the venue told us late): its
                        // shares are settled at once in our books and redeemed on the venue.
                        self.exec.settled(&f.window, outcome, f.at);
                    }
                    if self.portfolio.apply_fill(f).is_ok() {
                        let rebate = self.exec.rebate_estimate(f);
                        self.portfolio.accrue_rebate_estimate(rebate);
                        self.ledger.on_report(&r);
                        if let Some(&k) = self.order_index.get(&f.order) {
                            let o = &mut self.orders[k];
                            o.filled += f.size;
                            o.fees += f.fee;
                        }
                        self.exposure.update(f.at, self.portfolio.open_cost());
                        self.fills.push(f.clone());
                        self.traded.insert(f.window.clone());
                    } else {
                        self.portfolio_errors += 1;
                    }
                    if let Ok(k) = self.open.binary_search_by_key(&f.order, |o| o.id) {
                        let o = &mut self.open[k];
                        o.size = o.size.saturating_sub(f.size);
                        if o.size.is_zero() {
                            self.open.remove(k);
                        }
                    }
                }
                ExecReport::Rejected { order, reason, at } => {
                    if matches!(reason, RejectReason::Other(_))
                        && self.exec.kind() != ExecutorKind::Noop
                    {
                        self.breakers.on_venue_error(breakers, *at);
                    }
                    self.rejected += 1;
                    if let Some(&k) = self.order_index.get(order) {
                        self.orders[k].rejected = Some(reason.clone());
                    }
                    self.forget_order(*order);
                }
                ExecReport::Cancelled { order, .. } => self.forget_order(*order),
                ExecReport::Accepted { .. } => {}
            }
            queue.push_back(r);
        }
        if let Some(why) = self.exec.halted()
            && self.breakers.on_venue_mismatch(why, now)
        {
            // Trading stops: every resting order is cancelled (the cancels are reported as
            // they take effect); positions are held to resolution.
            for o in &self.open {
                self.exec.cancel(o.id, now);
            }
        }
    }

    fn forget_order(&mut self, order: OrderId) {
        if let Ok(k) = self.open.binary_search_by_key(&order, |o| o.id) {
            self.open.remove(k);
        }
    }

    /// Delivers `first` and everything it cascades into.
    fn dispatch(
        &mut self,
        lane: usize,
        market: &Market,
        ctx_env: &Env<'_>,
        first: Call<'_>,
        out: &mut Outputs,
    ) {
        let now = market.now;
        let mut calls: VecDeque<Call<'_>> = VecDeque::from([first]);
        let mut steps = 0;
        while let Some(call) = calls.pop_front() {
            steps += 1;
            if steps > MAX_CASCADE {
                out.cascades_cut += 1;
                break;
            }
            let actions = {
                let view = View {
                    market,
                    portfolio: &self.portfolio,
                    ledger: &self.ledger,
                    open: &self.open,
                    series: ctx_env.series,
                };
                let mut ctx = Ctx::new(&view, &mut self.next_id);
                match &call {
                    Call::Event(ev) => self.strategy.on_event(&mut ctx, ev),
                    Call::Timer(t) => self.strategy.on_timer(&mut ctx, *t),
                    Call::Report(r) => self.strategy.on_report(&mut ctx, r),
                    Call::Window(i, phase) => {
                        if let Some(w) = market.index.at(*i) {
                            self.strategy.on_window(&mut ctx, w, *phase);
                        }
                    }
                }
                ctx.into_parts()
            };
            let (actions, skips) = actions;
            for sk in skips {
                *self.skips.entry(sk.reason).or_insert(0) += 1;
                let changed = self.last_skip.get(&sk.window) != Some(&sk.reason);
                if changed && ctx_env.log_decisions {
                    out.decisions.push(Decision {
                        at: now,
                        lane,
                        strategy: self.strategy.name().to_string(),
                        kind: DecisionKind::Skip {
                            window: sk.window.clone(),
                            reason: sk.reason.to_string(),
                            signal: sk.signal.map(|g| SkipSignal {
                                outcome: g.outcome,
                                side: g.side,
                                price: g.price,
                                fair_value: g.fair_value,
                            }),
                        },
                    });
                }
                match self.last_skip.get_mut(&sk.window) {
                    Some(r) => *r = sk.reason,
                    None => {
                        self.last_skip.insert(sk.window, sk.reason);
                    }
                }
            }
            let mut reports = Vec::new();
            let mut submitted = false;
            for a in actions {
                match a {
                    Action::Submit { intent, fair_value } => {
                        submitted = true;
                        self.order_index.insert(intent.id, self.orders.len());
                        self.orders.push(OrderRecord {
                            intent: intent.clone(),
                            decided_at: now,
                            fair_value,
                            filled: Size::ZERO,
                            fees: Cash::ZERO,
                            rejected: None,
                        });
                        let verdict = self.submit(market, ctx_env.config, intent.clone());
                        if ctx_env.log_decisions {
                            out.decisions.push(Decision::submit(
                                now,
                                lane,
                                self.strategy.name(),
                                &intent,
                                fair_value,
                                market.book_of(&intent.window).map(|b| b.2),
                                &verdict,
                            ));
                        }
                        if let Verdict::Refused(reason) = verdict {
                            self.rejected += 1;
                            if let Some(o) = self.orders.last_mut() {
                                o.rejected = Some(reason.clone());
                            }
                            reports.push(ExecReport::Rejected {
                                order: intent.id,
                                reason,
                                at: now,
                            });
                        }
                    }
                    Action::Cancel(id) => {
                        if ctx_env.log_decisions {
                            out.decisions.push(Decision {
                                at: now,
                                lane,
                                strategy: self.strategy.name().to_string(),
                                kind: DecisionKind::Cancel { order: id },
                            });
                        }
                        self.exec.cancel(id, now);
                    }
                    Action::Timer(at) => {
                        self.timers.insert(at.max(now));
                    }
                    Action::Merge(slug) => self.merge(&slug, now),
                }
            }
            if submitted {
                // The callback's orders go out together (a batching executor sends them now).
                self.exec.flush(now);
            }
            // Reports of refused orders are delivered to the strategy but booked here only as
            // rejections (they never reached the executor).
            calls.extend(reports.into_iter().map(Call::Report));
        }
    }

    /// Merges the complete sets held in `slug` now: the executor carries it out (a no-op when
    /// simulated), then the portfolio, the ledger and the exposure book it.
    fn merge(&mut self, slug: &str, now: UnixNanos) {
        let p = &self.portfolio;
        let n = p
            .position(slug, Outcome::Up)
            .shares
            .min(p.position(slug, Outcome::Down).shares);
        if n.is_zero() || p.is_settled(slug) {
            return;
        }
        if let Err(e) = self.exec.merge(slug, n, now) {
            tracing::warn!(window = slug, error = %e, "merge refused by the executor");
            return;
        }
        match self.portfolio.merge_complete_sets(slug, now) {
            Ok(m) if !m.is_zero() => {
                self.ledger.on_merge(slug, m);
                self.exposure.update(now, self.portfolio.open_cost());
                self.merges.push(MergeRecord {
                    at: now,
                    window: slug.to_string(),
                    shares: m,
                });
            }
            Ok(_) => {}
            Err(_) => self.portfolio_errors += 1,
        }
    }

    /// Risk check, then the executor.
    fn submit(&mut self, market: &Market, config: &EngineConfig, intent: OrderIntent) -> Verdict {
        let now = market.now;
        let Some((i, window, book)) = market.book_of(&intent.window) else {
            return Verdict::Refused(RejectReason::MarketClosed);
        };
        if let Err(reason) = self.breaker_check(market, config, &intent, i, window, book) {
            return Verdict::Refused(reason);
        }
        let approved =
            match self
                .risk
                .approve(intent.clone(), window, now, &self.portfolio, &self.open)
            {
                Ok(a) => a,
                Err(reason) => return Verdict::Refused(reason),
            };
        match self.exec.submit(approved, window, book, now) {
            Ok(()) => {
                self.breakers.on_sent(&config.breakers, now);
                // Ids only grow within a lane, so pushing keeps `open` sorted by id.
                self.open.push(intent);
                Verdict::Sent
            }
            Err(e) => {
                if matches!(e, ExecError::Unavailable(_)) {
                    self.breakers.on_venue_error(&config.breakers, now);
                }
                Verdict::Refused(e.reject_reason())
            }
        }
    }

    /// The circuit breakers, the kill switch and the data checks ([`crate::breakers`]).
    fn breaker_check(
        &self,
        market: &Market,
        config: &EngineConfig,
        intent: &OrderIntent,
        i: usize,
        window: &Window,
        book: &WindowBook,
    ) -> Result<(), RejectReason> {
        let now = market.now;
        let cfg = &config.breakers;
        // Windows with an unsettled position or a working buy (only when that breaker is on).
        let mut held: Vec<&str> = if cfg.max_concurrent_positions == 0 {
            Vec::new()
        } else {
            self.portfolio
                .positions()
                .filter(|(w, _, p)| !p.shares.is_zero() && !self.portfolio.is_settled(w))
                .map(|(w, _, _)| w)
                .chain(
                    self.open
                        .iter()
                        .filter(|o| o.side == Side::Buy)
                        .map(|o| o.window.as_str()),
                )
                .collect()
        };
        held.sort_unstable();
        held.dedup();
        self.breakers
            .check(cfg, intent, self.open.len(), &held, now)?;
        if let Some(why) = market
            .health
            .check(cfg, i, window.asset, self.uses_reference, now)
            .or_else(|| spread_reason(cfg, intent.outcome, book.spread_micros(intent.outcome)))
        {
            return Err(RejectReason::Risk(format!("breaker data: {why}")));
        }
        Ok(())
    }
}

/// `cash × ppm / 10⁶`, rounded down to the micro-pUSD.
fn scale_cash(cash: Cash, ppm: i128) -> Cash {
    Cash(i64::try_from(i128::from(cash.micros()) * ppm / 1_000_000).unwrap_or(i64::MAX))
}

/// The additive limits of `risk` scaled to a capital share ([`EngineConfig::capital_split`]).
fn scale_risk(risk: &RiskConfig, ppm: i128) -> RiskConfig {
    let shares = u64::try_from(i128::from(risk.max_window_shares.micros()) * ppm / 1_000_000)
        .unwrap_or(u64::MAX);
    RiskConfig {
        max_window_shares: Size::from_micros(shares),
        max_window_cost: scale_cash(risk.max_window_cost, ppm),
        max_total_exposure: scale_cash(risk.max_total_exposure, ppm),
        daily_loss_limit: scale_cash(risk.daily_loss_limit, ppm),
        ..risk.clone()
    }
}

/// What the lanes share while dispatching.
struct Env<'a> {
    config: &'a EngineConfig,
    series: &'a [SeriesConfig],
    log_decisions: bool,
}

/// Outputs collected while dispatching.
#[derive(Default)]
struct Outputs {
    decisions: Vec<Decision>,
    cascades_cut: u64,
}

/// The engine. See the [module docs](self).
pub struct Engine {
    config: EngineConfig,
    market: Market,
    series: Vec<SeriesConfig>,
    lanes: Vec<Lane>,
    schedule: BTreeSet<(UnixNanos, Phase, usize)>,
    book_errors: u64,
    events: u64,
    first_event_ns: Option<UnixNanos>,
    stats: EngineStats,
    log_decisions: bool,
    decisions: Vec<Decision>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("now", &self.market.now)
            .field("windows", &self.market.index.len())
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

/// The reference state settings used to tell when a strike became knowable: `polyedge
/// calibrate`'s defaults (settlement-side feeds and klines, no spot-trade series).
fn strike_series() -> SeriesConfig {
    SeriesConfig {
        spot_series: false,
        ..OnlineConfig::default().series_config()
    }
}

impl Engine {
    /// An engine running each `(strategy, executor)` pair as an independent lane (lane `i` is
    /// the `i`-th pair). No window is known until listed ([`Input::WindowListed`]).
    ///
    /// # Errors
    /// [`crate::EngineError::Config`] for a configuration [`EngineConfig::validate`] refuses; a
    /// strategy's fair-value settings that the model refuses ([`OnlineConfig::estimate_spec`]),
    /// named with the strategy.
    pub fn new(
        config: EngineConfig,
        lanes: Vec<(Box<dyn Strategy>, Box<dyn Executor>)>,
    ) -> Result<Self, crate::EngineError> {
        config.validate().map_err(crate::EngineError::Config)?;
        let mut series: Vec<SeriesConfig> = Vec::new();
        let mut refs = Vec::new();
        for (s, _) in &lanes {
            for c in s.fair_value_configs() {
                c.estimate_spec()
                    .map_err(|e| crate::EngineError::Strategy {
                        name: s.name().to_string(),
                        message: e.to_string(),
                    })?;
                let sc = c.series_config();
                if !series.contains(&sc) {
                    refs.push(ReferenceSet::new(sc.clone()).map_err(|e| {
                        crate::EngineError::Strategy {
                            name: s.name().to_string(),
                            message: e.to_string(),
                        }
                    })?);
                    series.push(sc);
                }
            }
        }
        let strike_refs =
            ReferenceSet::new(strike_series()).map_err(|e| crate::EngineError::Strategy {
                name: "engine".to_string(),
                message: e.to_string(),
            })?;
        let mut config = config;
        config.risk = config.deployment.apply(&config.risk, config.start_cash);
        let bankroll = config.deployment.bankroll(config.start_cash);
        let mut shares = Vec::with_capacity(lanes.len());
        for (s, _) in &lanes {
            shares.push(if config.capital_split.is_empty() {
                None
            } else {
                let share = config.capital_split.get(s.name()).copied().ok_or_else(|| {
                    crate::EngineError::Config(format!(
                        "capital_split has no share for strategy {:?} (it names {})",
                        s.name(),
                        config
                            .capital_split
                            .keys()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                Some(i128::from(share.micros()))
            });
        }
        if let Some(extra) = config
            .capital_split
            .keys()
            .find(|k| !lanes.iter().any(|(s, _)| s.name() == k.as_str()))
        {
            return Err(crate::EngineError::Config(format!(
                "capital_split names {extra:?}, which is not one of the strategies run"
            )));
        }
        let lanes = lanes
            .into_iter()
            .zip(shares)
            .map(|((strategy, exec), share)| Lane {
                uses_reference: !strategy.fair_value_configs().is_empty(),
                breakers: LaneBreakers::default(),
                strategy,
                exec,
                portfolio: Portfolio::new(
                    share.map_or(config.start_cash, |ppm| scale_cash(config.start_cash, ppm)),
                ),
                risk: share
                    .map_or_else(|| config.risk.clone(), |ppm| scale_risk(&config.risk, ppm)),
                bankroll: share.map_or(bankroll, |ppm| scale_cash(bankroll, ppm)),
                ledger: Ledger::default(),
                open: Vec::new(),
                timers: BTreeSet::new(),
                next_id: 0,
                fills: Vec::new(),
                orders: Vec::new(),
                order_index: std::collections::HashMap::new(),
                traded: BTreeSet::new(),
                equity: Vec::new(),
                exposure: Exposure::default(),
                rejected: 0,
                portfolio_errors: 0,
                merges: Vec::new(),
                skips: std::collections::BTreeMap::new(),
                last_skip: std::collections::HashMap::new(),
            })
            .collect();
        Ok(Engine {
            config,
            market: Market {
                now: UnixNanos(0),
                index: WindowIndex::new(),
                states: Vec::new(),
                active: BTreeSet::new(),
                refs,
                strike_refs,
                ref_prices: Vec::new(),
                spot: Vec::new(),
                health: DataHealth::default(),
            },
            series,
            lanes,
            schedule: BTreeSet::new(),
            book_errors: 0,
            events: 0,
            first_event_ns: None,
            stats: EngineStats::default(),
            log_decisions: false,
            decisions: Vec::new(),
        })
    }

    /// An engine running each strategy against its own [`SimExecutor`] (backtest, paper).
    ///
    /// # Errors
    /// As [`Engine::new`].
    pub fn simulated(
        config: EngineConfig,
        strategies: Vec<Box<dyn Strategy>>,
    ) -> Result<Self, crate::EngineError> {
        let sim = config.sim.clone();
        let lanes = strategies
            .into_iter()
            .map(|s| {
                (
                    s,
                    Box::new(SimExecutor::new(sim.clone())) as Box<dyn Executor>,
                )
            })
            .collect();
        Engine::new(config, lanes)
    }

    /// Keeps a [`Decision`] for every order and cancel a strategy sends (with the risk verdict),
    /// to be drained with [`Engine::take_decisions`]. Off by default.
    pub fn log_decisions(&mut self, on: bool) {
        self.log_decisions = on;
    }

    /// The decisions logged since the last call, in order.
    pub fn take_decisions(&mut self) -> Vec<Decision> {
        std::mem::take(&mut self.decisions)
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's time: the latest input or due item handled (ns since epoch).
    pub fn now(&self) -> UnixNanos {
        self.market.now
    }

    /// Number of lanes (strategies).
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// The name of lane `lane`'s strategy.
    pub fn strategy_name(&self, lane: usize) -> Option<&str> {
        self.lanes.get(lane).map(|l| l.strategy.name())
    }

    /// The kind of lane `lane`'s executor.
    pub fn executor_kind(&self, lane: usize) -> Option<ExecutorKind> {
        self.lanes.get(lane).map(|l| l.exec.kind())
    }

    /// Lane `lane`'s portfolio.
    pub fn portfolio(&self, lane: usize) -> Option<&Portfolio> {
        self.lanes.get(lane).map(|l| &l.portfolio)
    }

    /// Lane `lane`'s working orders (remaining sizes), in id order.
    pub fn open_orders(&self, lane: usize) -> &[OrderIntent] {
        self.lanes.get(lane).map_or(&[], |l| l.open.as_slice())
    }

    /// Lane `lane`'s fills so far.
    pub fn fills(&self, lane: usize) -> &[Fill] {
        self.lanes.get(lane).map_or(&[], |l| l.fills.as_slice())
    }

    /// Lane `lane`'s orders so far.
    pub fn orders(&self, lane: usize) -> &[OrderRecord] {
        self.lanes.get(lane).map_or(&[], |l| l.orders.as_slice())
    }

    /// Lane `lane`'s equity curve so far.
    pub fn equity(&self, lane: usize) -> &[EquityPoint] {
        self.lanes.get(lane).map_or(&[], |l| l.equity.as_slice())
    }

    /// The listed windows, as strategies see them.
    pub fn windows(&self) -> &[Window] {
        self.market.index.windows()
    }

    /// Slugs of the windows trading now (opened, not ended), in slug order.
    pub fn active_windows(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .market
            .active
            .iter()
            .filter_map(|&i| self.market.index.at(i).map(|w| w.slug.as_str()))
            .collect();
        v.sort_unstable();
        v
    }

    /// The book of a listed window.
    pub fn book(&self, slug: &str) -> Option<&WindowBook> {
        self.market.book_of(slug).map(|b| b.2)
    }

    /// Windows whose resolution has been processed (settled, or declared unknown).
    pub fn resolved_windows(&self) -> usize {
        self.market.states.iter().filter(|s| s.resolved).count()
    }

    /// What the engine saw but could not use.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Lane `lane`'s circuit breakers (trips so far, active ones), if the lane exists.
    pub fn breakers(&self, lane: usize) -> Option<&LaneBreakers> {
        self.lanes.get(lane).map(|l| &l.breakers)
    }

    /// Whether the kill switch is engaged now.
    pub fn killed(&self) -> bool {
        let now = self.market.now;
        self.lanes.iter().any(|l| l.breakers.killed(now))
    }

    /// Engages (`Some(reason)`) or releases (`None`) the kill switch now: engaging asks every
    /// executor to cancel every working order (the cancels are reported as they take effect)
    /// and refuses every new order until released; positions are held to resolution.
    fn set_kill(&mut self, reason: Option<&str>) {
        let now = self.market.now;
        for (k, lane) in self.lanes.iter_mut().enumerate() {
            let was = lane.breakers.killed(now);
            lane.breakers.set_kill(reason, now);
            if reason.is_some() && !was {
                for o in &lane.open {
                    if self.log_decisions {
                        self.decisions.push(Decision {
                            at: now,
                            lane: k,
                            strategy: lane.strategy.name().to_string(),
                            kind: DecisionKind::Cancel { order: o.id },
                        });
                    }
                    lane.exec.cancel(o.id, now);
                }
            }
        }
        for k in 0..self.lanes.len() {
            self.fire_lane(k, None);
        }
    }

    /// Market events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Handles one input. See the [module docs](self).
    pub fn process(&mut self, input: Input) {
        let t = input.time();
        match input {
            Input::Market(ev) => self.on_market(&ev),
            Input::Tick(now) => {
                self.advance(now);
                self.market.now = self.market.now.max(now);
            }
            Input::Exec { lane, report, at } => {
                self.advance(at);
                self.market.now = self.market.now.max(at);
                if lane < self.lanes.len() {
                    self.deliver(lane, vec![report]);
                } else {
                    self.stats.unknown_lane_reports += 1;
                }
            }
            Input::WindowListed { window, at } => {
                self.advance(at);
                self.market.now = self.market.now.max(at);
                self.list(&window, at);
            }
            Input::StrikePublished { slug, strike, at } => {
                self.advance(at);
                self.market.now = self.market.now.max(at);
                self.publish_strike(&slug, strike);
            }
            Input::Kill { reason, at } => {
                self.advance(at);
                self.market.now = self.market.now.max(at);
                self.set_kill(reason.as_deref());
            }
            Input::WindowResolved(r) => {
                // Registered first, so that a resolution known at the end settles at the end
                // (in phase order) rather than after the next window opened.
                self.register_resolution(r);
                self.advance(t);
                self.market.now = self.market.now.max(t);
            }
        }
        let now = self.market.now;
        self.advance(now);
    }

    /// Fires everything due up to `to` (as [`Input::Tick`]) without moving past it.
    pub fn advance_to(&mut self, to: UnixNanos) {
        self.process(Input::Tick(to));
    }

    /// The earliest time something is due (a phase, a timer, an executor wake-up), if any: when a
    /// live driver should tick next at the latest.
    pub fn next_due(&self) -> Option<UnixNanos> {
        let phase = self.schedule.first().map(|p| p.0);
        let lanes = self
            .lanes
            .iter()
            .filter_map(|l| {
                let t = l.timers.first().copied();
                let w = l.exec.next_wakeup();
                match (t, w) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min();
        match (phase, lanes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_market(&mut self, ev: &MarketEvent) {
        self.events += 1;
        if self.first_event_ns.is_none() {
            self.first_event_ns = Some(ev.recv_ns);
            // Exposure is measured from the first event.
            for lane in &mut self.lanes {
                lane.exposure.update(ev.recv_ns, Cash::ZERO);
            }
        }
        let now = ev.recv_ns.max(self.market.now);
        self.advance(now);
        self.market.now = now;
        let changed = self.apply(ev);
        let Engine {
            config,
            market,
            lanes,
            series,
            log_decisions,
            decisions,
            stats,
            ..
        } = self;
        let env = Env {
            config,
            series,
            log_decisions: *log_decisions,
        };
        let mut out = Outputs::default();
        for (k, lane) in lanes.iter_mut().enumerate() {
            let mut reports = Vec::new();
            if let Some(i) = changed
                && let (Some(w), Some(book)) = (market.index.at(i), market.states[i].book.as_ref())
            {
                lane.exec.market_update(&w.slug, book, now, &mut reports);
            }
            lane.exec.poll(now, &mut reports);
            let mut queue = VecDeque::new();
            lane.book_reports(&config.breakers, reports, &mut queue, now);
            for r in queue {
                lane.dispatch(k, market, &env, Call::Report(r), &mut out);
            }
            lane.dispatch(k, market, &env, Call::Event(ev), &mut out);
        }
        decisions.append(&mut out.decisions);
        stats.cascades_cut += out.cascades_cut;
    }

    /// Books and delivers `reports` for lane `k` at the current time.
    fn deliver(&mut self, k: usize, reports: Vec<ExecReport>) {
        let Engine {
            config,
            market,
            lanes,
            series,
            log_decisions,
            decisions,
            stats,
            ..
        } = self;
        let env = Env {
            config,
            series,
            log_decisions: *log_decisions,
        };
        let mut out = Outputs::default();
        let lane = &mut lanes[k];
        let mut queue = VecDeque::new();
        lane.book_reports(&config.breakers, reports, &mut queue, market.now);
        for r in queue {
            lane.dispatch(k, market, &env, Call::Report(r), &mut out);
        }
        decisions.append(&mut out.decisions);
        stats.cascades_cut += out.cascades_cut;
    }

    /// Applies `ev` to the market state; returns the position of the window whose book changed.
    fn apply(&mut self, ev: &MarketEvent) -> Option<usize> {
        let m = &mut self.market;
        for set in &mut m.refs {
            set.on_event(ev);
        }
        m.strike_refs.on_event(ev);
        let spot = match &ev.kind {
            EventKind::SpotTrade(t) => Some((t.venue, t.symbol, t.price)),
            EventKind::SpotQuote(q) => {
                Some((q.venue, q.symbol, Fixed18(i128::midpoint(q.bid.0, q.ask.0))))
            }
            _ => None,
        };
        if let Some((venue, symbol, price)) = spot {
            if let Some(slot) = m
                .spot
                .iter_mut()
                .find(|(v, sym, _)| *v == venue && *sym == symbol)
            {
                slot.2 = price;
            } else {
                m.spot.push((venue, symbol, price));
            }
            return None;
        }
        if let EventKind::Reference(r) = &ev.kind {
            if let Some(asset) = asset_of_symbol(r.symbol.as_str()) {
                m.health
                    .on_reference(&self.config.breakers, asset, r.price.to_f64(), m.now);
            }
            if let Some(slot) = m
                .ref_prices
                .iter_mut()
                .find(|(s, sym, _)| *s == r.source && *sym == r.symbol)
            {
                slot.2 = r.price;
            } else {
                m.ref_prices.push((r.source, r.symbol, r.price));
            }
            self.check_derived_strikes();
            return None;
        }
        if matches!(ev.kind, EventKind::Kline(_)) {
            self.check_derived_strikes();
            return None;
        }
        let token = ev.kind.token()?;
        let Some((i, _)) = m.index.route_token(token) else {
            self.stats.unrouted_events += 1;
            return None;
        };
        let book = m.states[i].book.as_mut()?;
        let applied = book.apply(ev);
        if applied.is_ok() {
            let mid = book.mid(Outcome::Up);
            m.health.on_book(&self.config.breakers, i, mid, m.now);
        }
        match applied {
            Ok(true) => Some(i),
            Ok(false) => None,
            Err(_) => {
                self.book_errors += 1;
                None
            }
        }
    }

    /// Active windows whose strike is not known yet: is the reference price at the start
    /// received now?
    fn check_derived_strikes(&mut self) {
        let now = self.market.now;
        let pending: Vec<usize> = self
            .market
            .active
            .iter()
            .copied()
            .filter(|&i| self.market.states[i].strike.is_none())
            .collect();
        for i in pending {
            let Some(w) = self.market.index.at(i) else {
                continue;
            };
            let derived = self
                .market
                .strike_refs
                .choose(w.asset, now, w.start)
                .and_then(|s| s.value_at_start(w.start));
            if let Some(price) = derived.and_then(fixed_of_f64) {
                self.market.states[i].strike = Some(Strike {
                    price,
                    source: StrikeSource::ReferenceAtStart,
                    known_at: now,
                });
                self.schedule.insert((now, Phase::StrikeKnown, i));
            }
        }
    }

    fn list(&mut self, window: &Window, at: UnixNanos) {
        let public = Window {
            strike: None,
            ..window.without_hindsight()
        };
        if let Some(i) = self.market.index.position(&public.slug) {
            // Known: update metadata; keep what was learned since (published strike).
            let strike = self.market.index.at(i).and_then(|w| w.strike);
            let tokens_changed = self.market.index.at(i).is_some_and(|w| {
                (w.up_token, w.down_token) != (public.up_token, public.down_token)
            });
            self.market.index.insert(Window { strike, ..public });
            if tokens_changed && let Some(w) = self.market.index.at(i) {
                self.market.states[i].book = book_tokens(w).map(|(u, d)| WindowBook::new(u, d));
            }
            return;
        }
        let book = book_tokens(&public).map(|(u, d)| WindowBook::new(u, d));
        let (start, end) = (public.start, public.end);
        let i = self.market.index.insert(public);
        self.market.states.push(WinState {
            listed_at: at,
            book,
            strike: None,
            strike_announced: false,
            resolution: None,
            ended: false,
            resolved: false,
        });
        debug_assert_eq!(self.market.states.len(), self.market.index.len());
        let closing = UnixNanos(
            end.0
                .saturating_sub(self.config.closing_secs.saturating_mul(UnixNanos::PER_SEC))
                .max(start.0),
        );
        self.schedule.insert((start, Phase::Opened, i));
        self.schedule.insert((closing, Phase::Closing, i));
        self.schedule.insert((end, Phase::Ended, i));
    }

    fn publish_strike(&mut self, slug: &str, strike: Fixed18) {
        let now = self.market.now;
        let Some(i) = self.market.index.position(slug) else {
            self.stats.unknown_window_inputs += 1;
            return;
        };
        if let Some(w) = self.market.index.at(i).cloned() {
            self.market.index.insert(Window {
                strike: Some(strike),
                ..w
            });
        }
        let st = &mut self.market.states[i];
        if st
            .strike
            .is_none_or(|s| s.source != StrikeSource::Published)
        {
            st.strike = Some(Strike {
                price: strike,
                source: StrikeSource::Published,
                known_at: now,
            });
            self.schedule.insert((now, Phase::StrikeKnown, i));
        }
    }

    fn register_resolution(&mut self, r: Resolution) {
        let Some(i) = self.market.index.position(&r.slug) else {
            self.stats.unknown_window_inputs += 1;
            return;
        };
        let st = &mut self.market.states[i];
        if st.resolved || st.resolution.is_some() {
            return;
        }
        let end = self.market.index.at(i).map_or(r.known_at, |w| w.end);
        let at = r.known_at.max(end);
        st.resolution = Some(r);
        self.schedule.insert((at, Phase::Resolved, i));
    }

    /// Fires phases, timers and executor wake-ups due at or before `limit`, in time order
    /// (phases, then timers, then wake-ups on ties), each at its own due time.
    fn advance(&mut self, limit: UnixNanos) {
        // Lanes whose executor reported a wake-up that a poll did not clear (never expected).
        let mut stalled: Vec<bool> = vec![false; self.lanes.len()];
        loop {
            let phase = self.schedule.first().copied().filter(|p| p.0 <= limit);
            let timer = self
                .lanes
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.timers.first().map(|t| (*t, i)))
                .filter(|t| t.0 <= limit)
                .min();
            let wake = self
                .lanes
                .iter()
                .enumerate()
                .filter(|(i, _)| !stalled[*i])
                .filter_map(|(i, l)| l.exec.next_wakeup().map(|t| (t, i)))
                .filter(|t| t.0 <= limit)
                .min();
            let t_phase = phase.map(|p| p.0);
            let t_timer = timer.map(|t| t.0);
            let t_wake = wake.map(|w| w.0);
            if let Some(p) = phase
                && t_timer.is_none_or(|t| p.0 <= t)
                && t_wake.is_none_or(|t| p.0 <= t)
            {
                self.schedule.pop_first();
                self.fire_phase(p.0, p.1, p.2);
            } else if let Some((t, i)) = timer
                && t_wake.is_none_or(|w| t <= w)
            {
                // A timer set for a time already past fires now (never earlier than seen events).
                self.lanes[i].timers.pop_first();
                self.market.now = t.max(self.market.now);
                self.fire_lane(i, Some(Call::Timer(t.max(self.market.now))));
            } else if let Some((t, i)) = wake {
                let _ = t_phase;
                self.market.now = t.max(self.market.now);
                self.fire_lane(i, None);
                if self.lanes[i]
                    .exec
                    .next_wakeup()
                    .is_some_and(|n| n <= self.market.now)
                {
                    stalled[i] = true;
                }
            } else {
                return;
            }
        }
    }

    /// Polls lane `i`'s executor at the current time, books and delivers its reports, then
    /// delivers `call`.
    fn fire_lane(&mut self, i: usize, call: Option<Call<'_>>) {
        let Engine {
            config,
            market,
            lanes,
            series,
            log_decisions,
            decisions,
            stats,
            ..
        } = self;
        let env = Env {
            config,
            series,
            log_decisions: *log_decisions,
        };
        let mut out = Outputs::default();
        let lane = &mut lanes[i];
        let mut reports = Vec::new();
        lane.exec.poll(market.now, &mut reports);
        let mut queue = VecDeque::new();
        lane.book_reports(&config.breakers, reports, &mut queue, market.now);
        for r in queue {
            lane.dispatch(i, market, &env, Call::Report(r), &mut out);
        }
        if let Some(c) = call {
            lane.dispatch(i, market, &env, c, &mut out);
        }
        decisions.append(&mut out.decisions);
        stats.cascades_cut += out.cascades_cut;
    }

    fn fire_phase(&mut self, at: UnixNanos, phase: Phase, i: usize) {
        self.market.now = at.max(self.market.now);
        let now = self.market.now;
        let wp = match phase {
            Phase::Opened => {
                self.market.active.insert(i);
                // A strike may already be derivable (reference received before the start).
                WindowPhase::Opened
            }
            Phase::StrikeKnown => {
                let st = &mut self.market.states[i];
                if st.strike_announced {
                    return;
                }
                st.strike_announced = true;
                WindowPhase::StrikeKnown
            }
            Phase::Closing => WindowPhase::Closing,
            Phase::Ended => {
                self.market.active.remove(&i);
                self.market.states[i].ended = true;
                WindowPhase::Ended
            }
            Phase::Resolved => {
                let st = &self.market.states[i];
                if st.resolved {
                    return;
                }
                let outcome = st.resolution.as_ref().and_then(|r| r.outcome);
                WindowPhase::Resolved(outcome)
            }
        };
        // Settlement is due at this phase if the window ended and its resolution is known now.
        let settle = {
            let st = &self.market.states[i];
            !st.resolved
                && st.ended
                && st
                    .resolution
                    .as_ref()
                    .is_some_and(|r| r.known_at.max(at) <= now)
                && matches!(phase, Phase::Ended | Phase::Resolved)
        };
        let slug = self
            .market
            .index
            .at(i)
            .map(|w| w.slug.clone())
            .unwrap_or_default();
        let outcome = self.market.states[i]
            .resolution
            .as_ref()
            .and_then(|r| r.outcome);
        if settle {
            self.market.states[i].resolved = true;
        }
        let Engine {
            config,
            market,
            lanes,
            series,
            log_decisions,
            decisions,
            stats,
            ..
        } = self;
        let env = Env {
            config,
            series,
            log_decisions: *log_decisions,
        };
        let mut out = Outputs::default();
        for (k, lane) in lanes.iter_mut().enumerate() {
            let mut reports = Vec::new();
            lane.exec.poll(now, &mut reports);
            let mut queue = VecDeque::new();
            lane.book_reports(&config.breakers, reports, &mut queue, now);
            if settle && lane.traded.contains(&slug) && !lane.portfolio.is_settled(&slug) {
                match lane.portfolio.settle(&slug, outcome, now) {
                    Ok(s) if s.outcome.is_some() => {
                        let realized = lane.portfolio.realized_pnl();
                        lane.breakers.on_settlement(
                            &config.breakers,
                            s.pnl,
                            realized,
                            lane.bankroll,
                            now,
                        );
                    }
                    Ok(_) => {}
                    Err(_) => lane.portfolio_errors += 1,
                }
                lane.exec.settled(&slug, outcome, now);
                let p = &lane.portfolio;
                lane.exposure.update(now, p.open_cost());
                lane.equity.push(EquityPoint {
                    at: now,
                    window: slug.clone(),
                    cash: p.cash(),
                    open_cost: p.open_cost(),
                    unsettled_cost: p.unsettled_cost(),
                    realized_pnl: p.realized_pnl(),
                });
            } else if settle
                && let Some(o) = outcome
                && lane.exec.kind() == ExecutorKind::Live
            {
                // Not traded (yet) on the venue: a fill it reports later (a trade learned late)
                // still settles at once. Simulated executors never report a fill after the
                // window closed, so backtests and paper runs are unchanged.
                lane.portfolio.mark_resolved(&slug, o);
            }
            for r in queue {
                lane.dispatch(k, market, &env, Call::Report(r), &mut out);
            }
            lane.dispatch(k, market, &env, Call::Window(i, wp), &mut out);
            if settle && phase == Phase::Ended {
                // Resolution already known at the end: announce it right away.
                lane.dispatch(
                    k,
                    market,
                    &env,
                    Call::Window(i, WindowPhase::Resolved(outcome)),
                    &mut out,
                );
            }
        }
        if settle {
            for lane in lanes.iter_mut() {
                lane.ledger.forget(&slug);
            }
        }
        decisions.append(&mut out.decisions);
        stats.cascades_cut += out.cascades_cut;
    }

    /// A copy of every lane's results so far (the run's end taken as now).
    pub fn snapshot(&self) -> RunResult {
        let end_ns = self.market.now;
        RunResult {
            events: self.events,
            book_errors: self.book_errors,
            first_event_ns: self.first_event_ns,
            end_ns,
            strategies: self.lanes.iter().map(|l| lane_result(l, end_ns)).collect(),
        }
    }

    /// Ends the run at `end` (at least the engine's time; everything due by then fires first) and
    /// returns the results.
    pub fn finish(mut self, end: UnixNanos) -> RunResult {
        let end = end.max(self.market.now);
        self.advance(end);
        self.market.now = end;
        let end_ns = self.market.now;
        RunResult {
            events: self.events,
            book_errors: self.book_errors,
            first_event_ns: self.first_event_ns,
            end_ns,
            strategies: self
                .lanes
                .into_iter()
                .map(|l| lane_result_owned(l, end_ns))
                .collect(),
        }
    }

    /// When each listed window was listed (ns since epoch), by slug, in listing order.
    pub fn listings(&self) -> Vec<(&str, UnixNanos)> {
        self.market
            .index
            .windows()
            .iter()
            .zip(&self.market.states)
            .map(|(w, s)| (w.slug.as_str(), s.listed_at))
            .collect()
    }

    /// The buy notional still working for lane `lane` (pUSD): what its open buys would cost.
    pub fn open_buy_notional(&self, lane: usize) -> Cash {
        self.open_orders(lane)
            .iter()
            .filter(|o| o.side == Side::Buy)
            .fold(Cash::ZERO, |a, o| a + o.price.notional(o.size))
    }
}

fn lane_result(l: &Lane, end_ns: UnixNanos) -> StrategyResult {
    let p = &l.portfolio;
    StrategyResult {
        name: l.strategy.name().to_string(),
        window_pnl: l
            .traded
            .iter()
            .map(|s| (s.clone(), p.window_pnl(s)))
            .collect(),
        net_pnl: p.realized_pnl(),
        fees: p.fees_paid(),
        rebates_estimated: p.rebates_estimated(),
        start_cash: p.start_cash(),
        end_cash: p.cash(),
        open_cost: p.open_cost(),
        unsettled_windows: p.unsettled_count(),
        unsettled_cost: p.unsettled_cost(),
        equity: l.equity.clone(),
        max_open_cost: l.exposure.max,
        open_cost_integral: l.exposure.integral_to(end_ns),
        rejected: l.rejected,
        portfolio_errors: l.portfolio_errors,
        fills: l.fills.clone(),
        orders: l.orders.clone(),
        merges: l.merges.clone(),
        skips: l
            .skips
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect(),
        skipped_windows: {
            let ordered: BTreeSet<&str> =
                l.orders.iter().map(|o| o.intent.window.as_str()).collect();
            let mut m = std::collections::BTreeMap::new();
            for (w, r) in &l.last_skip {
                if !ordered.contains(w.as_str()) {
                    *m.entry((*r).to_string()).or_insert(0) += 1;
                }
            }
            m
        },
        fill_model: l.exec.fill_model_report(),
    }
}

fn lane_result_owned(l: Lane, end_ns: UnixNanos) -> StrategyResult {
    let mut r = lane_result(&l, end_ns);
    r.fills = l.fills;
    r.orders = l.orders;
    r.equity = l.equity;
    r
}

/// A model price (USD, `f64`) as 18-decimal fixed point, `None` if not finite or out of range.
fn fixed_of_f64(x: f64) -> Option<Fixed18> {
    if !x.is_finite() {
        return None;
    }
    let s = format!("{x:.12}");
    Fixed18::parse(&s).ok()
}
