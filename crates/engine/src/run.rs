//! The deterministic event loop: one data source, many independent strategies.
//!
//! [`Engine::run`] replays [`MarketEvent`]s in the order given (receive order). For each event it
//!
//! 1. fires, in time order, every window lifecycle phase and strategy timer due at or before the
//!    event's receive time (`Opened` at the window start, `StrikeKnown` right after when the
//!    window has a strike, `Closing` [`EngineConfig::closing_secs`] before the end, `Resolved` at
//!    the end, where each strategy's portfolio settles the window by [`Window::outcome`]: ties are
//!    already Up in that field; an unknown outcome is excluded from PnL and counted);
//! 2. updates the market state (the window's [`WindowBook`], the last reference and spot prices);
//! 3. per strategy: feeds its [`SimExecutor`] (`on_book` for the changed window, then
//!    `advance_to`), books fills into its [`Portfolio`], delivers the reports, then calls
//!    [`Strategy::on_event`].
//!
//! Every callback gets a [`Ctx`] whose `now` is the event's receive time (or the due time of the
//! phase or timer), so a strategy never sees an event received after its decision time. Orders
//! are checked by [`RiskConfig::check`] before they reach the executor; a refusal comes back as
//! [`ExecReport::Rejected`]. Strategies run independently: each has its own executor and
//! portfolio over the same data.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::{
    Cash, EventKind, ExecReport, FeeSchedule, Fill, Fixed18, MarketEvent, OrderId, OrderIntent,
    Outcome, Price, RejectReason, Size, Symbol, TokenId, UnixNanos, Window, WindowBook,
};
use polyedge_strategy::{Action, Ctx, MarketView, Strategy, WindowPhase};
use serde::{Deserialize, Serialize};

use crate::fee_regime::fee_schedule_at;
use crate::portfolio::Portfolio;
use crate::risk::RiskConfig;
use crate::sim_exec::{SimConfig, SimExecutor};

/// Most callbacks one trigger may cascade into (reports answering actions answering reports…).
const MAX_CASCADE: usize = 10_000;

/// Engine parameters (serde: every field optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Starting cash of each strategy's portfolio, pUSD (serde: a decimal string; default
    /// `"1000"`).
    #[serde(with = "crate::decimal::cash")]
    pub start_cash: Cash,
    /// Pre-trade limits.
    pub risk: RiskConfig,
    /// Simulated venue.
    pub sim: SimConfig,
    /// Lead time of [`WindowPhase::Closing`] before the window end, seconds (default 30).
    pub closing_secs: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            start_cash: Cash(1_000_000_000),
            risk: RiskConfig::default(),
            sim: SimConfig::default(),
            closing_secs: 30,
        }
    }
}

/// A point of a strategy's equity curve, taken after each settlement of a window it traded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// When (the window end).
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
    /// Why it was rejected (risk check or simulated venue), if it was.
    pub rejected: Option<RejectReason>,
}

/// What one strategy did over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// [`Strategy::name`].
    pub name: String,
    /// All fills, in order.
    pub fills: Vec<Fill>,
    /// Every order sent, in submission order.
    pub orders: Vec<OrderRecord>,
    /// Realized PnL per traded window (fees included), in slug order.
    pub window_pnl: BTreeMap<String, Cash>,
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
    /// Cost of positions never settled (windows ending after the data, if any).
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
}

/// Result of [`Engine::run`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// Events processed.
    pub events: u64,
    /// Book events the window books refused (out-of-order or malformed).
    pub book_errors: u64,
    /// Receive time of the first event (`None`: no events).
    pub first_event_ns: Option<UnixNanos>,
    /// When the run ended: the later of the last event and the last window end (ns since epoch).
    pub end_ns: UnixNanos,
    /// One result per strategy, in the order given.
    pub strategies: Vec<StrategyResult>,
}

/// Shared market state.
struct Market {
    now: UnixNanos,
    windows: Vec<Window>,
    by_slug: BTreeMap<String, usize>,
    by_token: BTreeMap<TokenId, usize>,
    books: BTreeMap<String, WindowBook>,
    active: BTreeSet<usize>,
    refs: Vec<(ReferenceSource, Symbol, Fixed18)>,
    spot: Vec<(Venue, Symbol, Fixed18)>,
}

/// One strategy with its own executor and portfolio.
struct Lane {
    strategy: Box<dyn Strategy>,
    exec: SimExecutor,
    portfolio: Portfolio,
    open: Vec<OrderIntent>,
    timers: BTreeSet<UnixNanos>,
    next_id: u64,
    fills: Vec<Fill>,
    orders: Vec<OrderRecord>,
    order_index: BTreeMap<OrderId, usize>,
    traded: BTreeSet<String>,
    equity: Vec<EquityPoint>,
    exposure: Exposure,
    rejected: u64,
    portfolio_errors: u64,
}

/// Open cost over time, updated whenever it changes (fills, settlements).
#[derive(Default)]
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

struct View<'a> {
    market: &'a Market,
    portfolio: &'a Portfolio,
    open: &'a [OrderIntent],
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
            .map(|&i| &self.market.windows[i])
            .collect();
        v.sort_by(|a, b| a.slug.cmp(&b.slug));
        v
    }

    fn window(&self, slug: &str) -> Option<&Window> {
        self.market
            .by_slug
            .get(slug)
            .map(|&i| &self.market.windows[i])
    }

    fn book(&self, slug: &str) -> Option<&WindowBook> {
        self.market.books.get(slug)
    }

    fn reference_price(&self, source: ReferenceSource, symbol: &str) -> Option<Fixed18> {
        self.market
            .refs
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

/// Lifecycle phases in the order they fire at equal times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Resolved,
    Opened,
    StrikeKnown,
    Closing,
}

impl Lane {
    fn handle_reports(&mut self, reports: Vec<ExecReport>, queue: &mut VecDeque<ExecReport>) {
        for r in reports {
            if let ExecReport::Filled(f) = &r {
                if self.portfolio.apply_fill(f).is_ok() {
                    let rebate = self.exec.rebate_estimate(f);
                    self.portfolio.accrue_rebate_estimate(rebate);
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
            }
            if let ExecReport::Rejected { order, reason, .. } = &r {
                self.rejected += 1;
                if let Some(&k) = self.order_index.get(order) {
                    self.orders[k].rejected = Some(reason.clone());
                }
            }
            queue.push_back(r);
        }
    }

    /// Delivers `first` and everything it cascades into.
    fn dispatch(&mut self, market: &Market, config: &EngineConfig, first: Call<'_>) {
        let now = market.now;
        let mut calls: VecDeque<Call<'_>> = VecDeque::from([first]);
        let mut steps = 0;
        while let Some(call) = calls.pop_front() {
            steps += 1;
            if steps > MAX_CASCADE {
                break;
            }
            self.open = self.exec.open_orders();
            let view = View {
                market,
                portfolio: &self.portfolio,
                open: &self.open,
            };
            let mut ctx = Ctx::new(&view, &mut self.next_id);
            match &call {
                Call::Event(ev) => self.strategy.on_event(&mut ctx, ev),
                Call::Timer(t) => self.strategy.on_timer(&mut ctx, *t),
                Call::Report(r) => self.strategy.on_report(&mut ctx, r),
                Call::Window(i, phase) => {
                    self.strategy
                        .on_window(&mut ctx, &market.windows[*i], *phase);
                }
            }
            let actions = ctx.into_actions();
            let mut reports = VecDeque::new();
            for a in actions {
                match a {
                    Action::Submit { intent, fair_value } => {
                        self.order_index.insert(intent.id, self.orders.len());
                        self.orders.push(OrderRecord {
                            intent: intent.clone(),
                            decided_at: now,
                            fair_value,
                            filled: Size::ZERO,
                            fees: Cash::ZERO,
                            rejected: None,
                        });
                        if let Err(reason) = self.submit(market, config, intent.clone()) {
                            self.rejected += 1;
                            if let Some(o) = self.orders.last_mut() {
                                o.rejected = Some(reason.clone());
                            }
                            reports.push_back(ExecReport::Rejected {
                                order: intent.id,
                                reason,
                                at: now,
                            });
                        }
                    }
                    Action::Cancel(id) => {
                        self.exec.cancel(id, now);
                    }
                    Action::Timer(at) => {
                        self.timers.insert(at.max(now));
                    }
                }
            }
            calls.extend(reports.into_iter().map(Call::Report));
        }
    }

    fn submit(
        &mut self,
        market: &Market,
        config: &EngineConfig,
        intent: OrderIntent,
    ) -> Result<(), RejectReason> {
        let now = market.now;
        let (Some(&i), Some(book)) = (
            market.by_slug.get(&intent.window),
            market.books.get(&intent.window),
        ) else {
            return Err(RejectReason::MarketClosed);
        };
        let window = &market.windows[i];
        let open = self.exec.open_orders();
        config
            .risk
            .check(&intent, window, now, &self.portfolio, &open)?;
        self.exec
            .submit(intent, now, window, book)
            .map_err(|e| RejectReason::Other(e.to_string()))
    }
}

/// The backtest engine. See the module docs.
pub struct Engine {
    config: EngineConfig,
    market: Market,
    lanes: Vec<Lane>,
    schedule: BTreeSet<(UnixNanos, Phase, usize)>,
    book_errors: u64,
    events: u64,
    first_event_ns: Option<UnixNanos>,
}

impl Engine {
    /// An engine over `windows` (their tokens route book events; their `outcome` settles them)
    /// running each of `strategies` independently.
    pub fn new(
        config: EngineConfig,
        windows: Vec<Window>,
        strategies: Vec<Box<dyn Strategy>>,
    ) -> Self {
        let mut by_slug = BTreeMap::new();
        let mut by_token = BTreeMap::new();
        let mut books = BTreeMap::new();
        let mut schedule = BTreeSet::new();
        for (i, w) in windows.iter().enumerate() {
            by_slug.insert(w.slug.clone(), i);
            // A window whose data knows only one token id (most cronos windows: the recorder
            // followed the Down token) is traded on that token's book and its mirror: the two
            // books are one pool (docs/fill-model.md §4). The missing id is a stand-in that no
            // recorded event carries.
            let (up, down) = match (w.up_token, w.down_token) {
                (Some(u), Some(d)) => (Some(u), Some(d)),
                (Some(u), None) => (Some(u), Some(TokenId::synthetic(&w.slug, "down"))),
                (None, Some(d)) => (Some(TokenId::synthetic(&w.slug, "up")), Some(d)),
                (None, None) => (None, None),
            };
            if let (Some(up), Some(down)) = (up, down) {
                for t in [w.up_token, w.down_token].into_iter().flatten() {
                    by_token.insert(t, i);
                }
                books.insert(w.slug.clone(), WindowBook::new(up, down));
            }
            schedule.insert((w.start, Phase::Opened, i));
            if w.strike.is_some() {
                schedule.insert((w.start, Phase::StrikeKnown, i));
            }
            let closing = UnixNanos(
                w.end
                    .0
                    .saturating_sub(config.closing_secs.saturating_mul(UnixNanos::PER_SEC))
                    .max(w.start.0),
            );
            schedule.insert((closing, Phase::Closing, i));
            schedule.insert((w.end, Phase::Resolved, i));
        }
        let lanes = strategies
            .into_iter()
            .map(|strategy| Lane {
                strategy,
                exec: SimExecutor::new(config.sim.clone()),
                portfolio: Portfolio::new(config.start_cash),
                open: Vec::new(),
                timers: BTreeSet::new(),
                next_id: 0,
                fills: Vec::new(),
                orders: Vec::new(),
                order_index: BTreeMap::new(),
                traded: BTreeSet::new(),
                equity: Vec::new(),
                exposure: Exposure::default(),
                rejected: 0,
                portfolio_errors: 0,
            })
            .collect();
        Engine {
            config,
            market: Market {
                now: UnixNanos(0),
                windows,
                by_slug,
                by_token,
                books,
                active: BTreeSet::new(),
                refs: Vec::new(),
                spot: Vec::new(),
            },
            lanes,
            schedule,
            book_errors: 0,
            events: 0,
            first_event_ns: None,
        }
    }

    /// Runs over `events` (in receive order; an event received earlier than the previous one is
    /// handled at the previous one's time), then fires every phase and timer up to the last
    /// window end, and returns the results.
    pub fn run(mut self, events: impl IntoIterator<Item = MarketEvent>) -> RunResult {
        for ev in events {
            self.events += 1;
            if self.first_event_ns.is_none() {
                self.first_event_ns = Some(ev.recv_ns);
                // Exposure is measured from the first event.
                for lane in &mut self.lanes {
                    lane.exposure.update(ev.recv_ns, Cash::ZERO);
                }
            }
            let now = ev.recv_ns.max(self.market.now);
            self.fire_due(now);
            self.market.now = now;
            let changed = self.apply(&ev);
            let Engine {
                config,
                market,
                lanes,
                ..
            } = &mut self;
            for lane in lanes.iter_mut() {
                let mut reports = Vec::new();
                if let Some(slug) = &changed
                    && let Some(book) = market.books.get(slug)
                {
                    reports.extend(lane.exec.on_book(slug, now, book));
                }
                reports.extend(lane.exec.advance_to(now));
                let mut queue = VecDeque::new();
                lane.handle_reports(reports, &mut queue);
                for r in queue {
                    lane.dispatch(market, config, Call::Report(r));
                }
                lane.dispatch(market, config, Call::Event(&ev));
            }
        }
        let last_end = self
            .market
            .windows
            .iter()
            .map(|w| w.end)
            .max()
            .unwrap_or(self.market.now)
            .max(self.market.now);
        self.fire_due(last_end);
        self.market.now = self.market.now.max(last_end);
        self.finish()
    }

    /// Applies `ev` to the market state; returns the slug whose book changed.
    fn apply(&mut self, ev: &MarketEvent) -> Option<String> {
        let spot = match &ev.kind {
            EventKind::SpotTrade(t) => Some((t.venue, t.symbol, t.price)),
            EventKind::SpotQuote(q) => {
                Some((q.venue, q.symbol, Fixed18(i128::midpoint(q.bid.0, q.ask.0))))
            }
            _ => None,
        };
        if let Some((venue, symbol, price)) = spot {
            let m = &mut self.market;
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
            let m = &mut self.market;
            if let Some(slot) = m
                .refs
                .iter_mut()
                .find(|(s, sym, _)| *s == r.source && *sym == r.symbol)
            {
                slot.2 = r.price;
            } else {
                m.refs.push((r.source, r.symbol, r.price));
            }
            return None;
        }
        let token = ev.kind.token()?;
        let &i = self.market.by_token.get(&token)?;
        let slug = self.market.windows[i].slug.clone();
        let book = self.market.books.get_mut(&slug)?;
        match book.apply(ev) {
            Ok(true) => Some(slug),
            Ok(false) => None,
            Err(_) => {
                self.book_errors += 1;
                None
            }
        }
    }

    /// Fires phases and timers due at or before `limit`, in time order (phases first on ties).
    fn fire_due(&mut self, limit: UnixNanos) {
        loop {
            let phase = self.schedule.first().copied().filter(|p| p.0 <= limit);
            let timer = self
                .lanes
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.timers.first().map(|t| (*t, i)))
                .filter(|t| t.0 <= limit)
                .min();
            match (phase, timer) {
                (Some(p), t) if t.is_none_or(|t| p.0 <= t.0) => {
                    self.schedule.pop_first();
                    self.fire_phase(p.0, p.1, p.2);
                }
                (_, Some((t, i))) => {
                    // A timer set for a time already past fires now (never earlier than seen events).
                    self.lanes[i].timers.pop_first();
                    self.market.now = t.max(self.market.now);
                    let Engine {
                        config,
                        market,
                        lanes,
                        ..
                    } = self;
                    let lane = &mut lanes[i];
                    let reports = lane.exec.advance_to(market.now);
                    let mut queue = VecDeque::new();
                    lane.handle_reports(reports, &mut queue);
                    for r in queue {
                        lane.dispatch(market, config, Call::Report(r));
                    }
                    let now = market.now;
                    lane.dispatch(market, config, Call::Timer(now));
                }
                (_, None) => return,
            }
        }
    }

    fn fire_phase(&mut self, at: UnixNanos, phase: Phase, i: usize) {
        self.market.now = at.max(self.market.now);
        let now = self.market.now;
        let wp = match phase {
            Phase::Opened => {
                self.market.active.insert(i);
                WindowPhase::Opened
            }
            Phase::StrikeKnown => WindowPhase::StrikeKnown,
            Phase::Closing => WindowPhase::Closing,
            Phase::Resolved => {
                self.market.active.remove(&i);
                WindowPhase::Resolved(self.market.windows[i].outcome)
            }
        };
        let Engine {
            config,
            market,
            lanes,
            ..
        } = self;
        for lane in lanes.iter_mut() {
            let reports = lane.exec.advance_to(now);
            let mut queue = VecDeque::new();
            lane.handle_reports(reports, &mut queue);
            let w = &market.windows[i];
            if phase == Phase::Resolved
                && lane.traded.contains(&w.slug)
                && !lane.portfolio.is_settled(&w.slug)
            {
                if lane.portfolio.settle(&w.slug, w.outcome, now).is_err() {
                    lane.portfolio_errors += 1;
                }
                let p = &lane.portfolio;
                lane.exposure.update(now, p.open_cost());
                lane.equity.push(EquityPoint {
                    at: now,
                    window: w.slug.clone(),
                    cash: p.cash(),
                    open_cost: p.open_cost(),
                    unsettled_cost: p.unsettled_cost(),
                    realized_pnl: p.realized_pnl(),
                });
            }
            for r in queue {
                lane.dispatch(market, config, Call::Report(r));
            }
            lane.dispatch(market, config, Call::Window(i, wp));
        }
    }

    fn finish(self) -> RunResult {
        let end_ns = self.market.now;
        let strategies = self
            .lanes
            .into_iter()
            .map(|lane| {
                let p = &lane.portfolio;
                let window_pnl = lane
                    .traded
                    .iter()
                    .map(|s| (s.clone(), p.window_pnl(s)))
                    .collect();
                StrategyResult {
                    name: lane.strategy.name().to_string(),
                    window_pnl,
                    net_pnl: p.realized_pnl(),
                    fees: p.fees_paid(),
                    rebates_estimated: p.rebates_estimated(),
                    start_cash: p.start_cash(),
                    end_cash: p.cash(),
                    open_cost: p.open_cost(),
                    unsettled_windows: p.unsettled_count(),
                    unsettled_cost: p.unsettled_cost(),
                    equity: lane.equity,
                    max_open_cost: lane.exposure.max,
                    open_cost_integral: lane.exposure.integral_to(end_ns),
                    rejected: lane.rejected,
                    portfolio_errors: lane.portfolio_errors,
                    fills: lane.fills,
                    orders: lane.orders,
                }
            })
            .collect();
        RunResult {
            events: self.events,
            book_errors: self.book_errors,
            first_event_ns: self.first_event_ns,
            end_ns,
            strategies,
        }
    }
}
