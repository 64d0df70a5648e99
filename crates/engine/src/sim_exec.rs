//! [`SimExecutor`]: deterministic, event-driven matching of our orders against recorded books.
//!
//! The full rule set, with what the data lacks and why each rule was chosen, is in
//! `docs/fill-model.md`. In short:
//!
//! * **Timing.** An order decided at `t` *arrives* at `t + order latency`
//!   ([`LatencyConfig`]). It meets the **first book at or after its arrival** (the book passed to
//!   [`SimExecutor::on_book`] with `now ≥ arrival`), never the book at decision time. If it is
//!   marketable then, the venue holds it for the taker delay of that date and it matches the first
//!   book at or after `arrival + delay`. Cancels take effect `cancel latency` after the request and
//!   are refused while the order is held (protocols.md §1.5).
//! * **Validation at arrival**: window still open, price strictly inside (0, 1), on the tick grid
//!   (the book's tick, else the window's, else 0.01; prices within [`SimConfig::fine_tick_band`] of 0
//!   or 1 may use [`SimConfig::fine_tick`], since the venue moves to 0.001 near the extremes), size
//!   ≥ the window's minimum (default 5 shares), post-only only with GTC/GTD and never crossing.
//! * **Taking**: walk the outcome's opposite side through [`WindowBook::levels`] level by level up
//!   to the limit, one [`Fill`] per level at the level's price. FOK all-or-nothing
//!   ([`RejectReason::FokNotFilled`]), FAK cancels the rest, GTC/GTD rest the rest.
//! * **Our consumption** is remembered per window and per level of the one Up/Down pool (a Down
//!   bid at `p` is the Up ask at `1 − p`), and subtracted from the recorded size until the level
//!   disappears from a later book (conservative).
//! * **Resting**: queue ahead = recorded size at our price when we rest. A book whose opposite side
//!   reaches our price (after our consumption) fills us as maker at our price. Shrinking of our
//!   level first eats the queue ahead; once the queue ahead is gone, further shrinking fills us
//!   ([`ShrinkFill::AfterQueueExhausted`], or never with [`ShrinkFill::Never`]).
//! * **Fees** from [`fee_schedule_at`] at the fill instant (the market's schedule wins); maker
//!   rebates are estimated separately ([`maker_rebate_estimate`]), never mixed into fees.
//! * **Determinism**: all state is in `BTreeMap`s; events are ordered by `(time, sequence)`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use polyedge_core::{
    BookSide, Cash, ExecReport, FeeSchedule, Fill, Liquidity, OrderId, OrderIntent, Outcome, Price,
    RejectReason, Side, Size, TimeInForce, UnixNanos, Window, WindowBook, WindowDuration,
};

use crate::executor::{ExecError, Executor, ExecutorKind, RiskApproved};
use crate::fee_regime::{fee_schedule_at, maker_rebate_estimate};
use crate::latency::LatencyConfig;

/// When shrinking of our price level may fill a resting order (there is no trade tape to tell
/// trades from cancellations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShrinkFill {
    /// Only a trade-through (the opposite side reaching our price) fills us.
    Never,
    /// Shrinking first reduces the queue ahead; once a previous book left nothing ahead of us,
    /// each further decrease of the level fills us by that amount (default; the brief's rule).
    AfterQueueExhausted,
}

/// Parameters of the simulated venue (serde: all fields optional, defaults as documented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Order/cancel latency and the venue taker delay.
    pub latency: LatencyConfig,
    /// Tick size when neither the book nor the window knows one (default 0.01, protocols.md §1.4 `mts`).
    #[serde(with = "crate::decimal::price")]
    pub default_tick: Price,
    /// Finer tick accepted near the extremes (default 0.001: the venue changes the tick when the
    /// price is above 0.96 or below 0.04, protocols.md §6.2).
    #[serde(with = "crate::decimal::price")]
    pub fine_tick: Price,
    /// Prices below this or above `1 −` this may use `fine_tick` (default 0.04).
    #[serde(with = "crate::decimal::price")]
    pub fine_tick_band: Price,
    /// Minimum order size when the window does not say (default 5 shares, protocols.md §1.4 `mos`).
    #[serde(with = "crate::decimal::size")]
    pub default_min_size: Size,
    /// Whether level shrinkage can fill resting orders.
    pub shrink_fill: ShrinkFill,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency: LatencyConfig::default(),
            default_tick: Price::from_micros(10_000).unwrap_or(Price::ZERO),
            fine_tick: Price::from_micros(1_000).unwrap_or(Price::ZERO),
            fine_tick_band: Price::from_micros(40_000).unwrap_or(Price::ZERO),
            default_min_size: Size::from_shares(5),
            shrink_fill: ShrinkFill::AfterQueueExhausted,
        }
    }
}

/// Misuse of the executor API (not venue rejections, which are [`ExecReport::Rejected`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The order id was already used in this run.
    #[error("order id {0:?} was already submitted")]
    DuplicateOrder(OrderId),
    /// `intent.window` is not the slug of the window passed along.
    #[error("order is for window {intent:?} but was submitted with window {window:?}")]
    WindowMismatch {
        /// The intent's window.
        intent: String,
        /// The window passed.
        window: String,
    },
}

/// Where a working order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStage {
    /// Sent, not yet processed at the venue (latency, or waiting for the first book at/after arrival).
    InFlight,
    /// Marketable at arrival and held by the venue taker delay; cannot be cancelled.
    TakerDelay,
    /// Resting on the book as a maker order.
    Resting,
}

/// A snapshot of one working order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    /// The order as submitted.
    pub intent: OrderIntent,
    /// Decision time.
    pub decided_at: UnixNanos,
    /// Arrival at the venue (`decided_at + order latency`).
    pub arrival: UnixNanos,
    /// Stage.
    pub stage: OrderStage,
    /// Shares filled so far.
    pub filled: Size,
    /// Shares still working.
    pub remaining: Size,
    /// Estimated shares ahead of us at our price (resting orders only).
    pub queue_ahead: Size,
    /// Best price on the side we would take, in the book the strategy saw at decision (diagnostic
    /// only: slippage = fill price vs this; never used for matching).
    pub decision_touch: Option<Price>,
}

/// Counters of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Orders submitted.
    pub submitted: u64,
    /// Taker fills (one per level).
    pub taker_fills: u64,
    /// Maker fills from a trade-through.
    pub trade_through_fills: u64,
    /// Maker fills from level shrinkage after the queue ahead was exhausted.
    pub shrink_fills: u64,
    /// Cancels refused because the order was in the taker delay.
    pub cancels_refused_in_delay: u64,
    /// Cancels that found no working order at the venue (already done, or not yet arrived).
    pub cancels_unmatched: u64,
}

#[derive(Debug, Clone)]
struct WindowState {
    duration: WindowDuration,
    end: UnixNanos,
    tick: Option<Price>,
    min_size: Option<Size>,
    fee: Option<FeeSchedule>,
    book_seq: u64,
    closed: bool,
}

#[derive(Debug, Clone)]
struct Working {
    intent: OrderIntent,
    decided_at: UnixNanos,
    arrival: UnixNanos,
    stage: OrderStage,
    filled: Size,
    remaining: Size,
    ahead: Size,
    last_level: Size,
    rested_seq: u64,
    accepted: bool,
    expired: bool,
    decision_touch: Option<Price>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EvKind {
    Arrive(OrderId),
    Match(OrderId),
    Cancel(OrderId),
    Expire(OrderId),
    Close,
}

#[derive(Debug, Clone)]
struct Event {
    window: String,
    kind: EvKind,
}

/// Key of the consumption overlay within a window: (is ask, price) in the **Up** token's terms.
type LevelKey = (bool, Price);

/// The taker side of the book for an order side: buys take asks, sells take bids.
fn taker_side(side: Side) -> BookSide {
    match side {
        Side::Buy => BookSide::Ask,
        Side::Sell => BookSide::Bid,
    }
}

/// The book side an order of `side` rests on.
fn own_side(side: Side) -> BookSide {
    match side {
        Side::Buy => BookSide::Bid,
        Side::Sell => BookSide::Ask,
    }
}

/// Whether a level at `price` on `side` is within `limit` for a taker.
fn within(side: BookSide, price: Price, limit: Price) -> bool {
    match side {
        BookSide::Ask => price <= limit,
        BookSide::Bid => price >= limit,
    }
}

/// A level of `outcome`'s `side` in the Up token's terms: the two books are one pool
/// (a Down bid at `p` is an Up ask at `1 − p`).
fn canon(outcome: Outcome, side: BookSide, price: Price) -> LevelKey {
    let (side, price) = match outcome {
        Outcome::Up => (side, price),
        Outcome::Down => (side.opposite(), price.complement()),
    };
    (side == BookSide::Ask, price)
}

/// Recorded size at exactly `price` on `outcome`'s `side` (zero if absent).
fn level_size(book: &WindowBook, outcome: Outcome, side: BookSide, price: Price) -> Size {
    for l in book.levels(outcome, side) {
        if l.price == price {
            return l.size;
        }
        if !within(side, l.price, price) {
            break;
        }
    }
    Size::ZERO
}

/// The simulated executor. See the module docs and `docs/fill-model.md`.
#[derive(Debug, Clone)]
pub struct SimExecutor {
    config: SimConfig,
    windows: BTreeMap<String, WindowState>,
    orders: BTreeMap<OrderId, Working>,
    seen: BTreeSet<OrderId>,
    queue: BTreeMap<(UnixNanos, u64), Event>,
    seq: u64,
    consumed: BTreeMap<String, BTreeMap<LevelKey, Size>>,
    rebates: BTreeMap<String, Cash>,
    stats: SimStats,
}

impl Default for SimExecutor {
    fn default() -> Self {
        SimExecutor::new(SimConfig::default())
    }
}

impl SimExecutor {
    /// A fresh executor.
    pub fn new(config: SimConfig) -> Self {
        SimExecutor {
            config,
            windows: BTreeMap::new(),
            orders: BTreeMap::new(),
            seen: BTreeSet::new(),
            queue: BTreeMap::new(),
            seq: 0,
            consumed: BTreeMap::new(),
            rebates: BTreeMap::new(),
            stats: SimStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Run counters.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    fn push(&mut self, due: UnixNanos, window: &str, kind: EvKind) {
        self.seq += 1;
        self.queue.insert(
            (due, self.seq),
            Event {
                window: window.to_string(),
                kind,
            },
        );
    }

    /// Places `intent`, decided at `decided_at`, for `window`: the matching engine's entry point
    /// for an order that reached the venue. Clients go through the [`Executor`] impl, which
    /// requires a [`RiskApproved`] order; the sandbox exchange (a venue, which runs no client
    /// risk check) calls this directly.
    ///
    /// Sends `intent`, decided at `decided_at`, for `window`. Nothing happens at once: the order
    /// arrives at `decided_at + order latency` and is validated and matched against the first book
    /// at or after that instant (reports come from [`Self::on_book`] / [`Self::advance_to`]).
    ///
    /// `book` is the book the strategy decided on; it is recorded only as the decision-time touch
    /// for slippage diagnostics ([`OrderView::decision_touch`]). The window's tick size, minimum
    /// size, fee schedule, duration and end are remembered from the first order for that window.
    ///
    /// # Errors
    /// [`SimError::DuplicateOrder`] if the id was used before, [`SimError::WindowMismatch`] if
    /// `intent.window != window.slug`. The executor is unchanged then.
    pub fn place(
        &mut self,
        intent: OrderIntent,
        decided_at: UnixNanos,
        window: &Window,
        book: &WindowBook,
    ) -> Result<(), SimError> {
        if intent.window != window.slug {
            return Err(SimError::WindowMismatch {
                intent: intent.window.clone(),
                window: window.slug.clone(),
            });
        }
        if self.seen.contains(&intent.id) {
            return Err(SimError::DuplicateOrder(intent.id));
        }
        self.seen.insert(intent.id);
        self.stats.submitted += 1;
        if !self.windows.contains_key(&window.slug) {
            self.windows.insert(
                window.slug.clone(),
                WindowState {
                    duration: window.duration,
                    end: window.end,
                    tick: window.tick_size,
                    min_size: window.min_order_size,
                    fee: window.fee_schedule,
                    book_seq: 0,
                    closed: false,
                },
            );
            self.push(window.end, &window.slug, EvKind::Close);
        }
        let arrival = UnixNanos(
            decided_at
                .0
                .saturating_add(self.config.latency.order_latency_ns()),
        );
        let side = taker_side(intent.side);
        let far = match side {
            BookSide::Ask => Price::ONE,
            BookSide::Bid => Price::ZERO,
        };
        let decision_touch = self
            .available(&window.slug, book, intent.outcome, side, far)
            .first()
            .map(|(p, _)| *p);
        let id = intent.id;
        if let TimeInForce::Gtd(t) = intent.tif {
            self.push(t, &window.slug, EvKind::Expire(id));
        }
        self.push(arrival, &window.slug, EvKind::Arrive(id));
        let size = intent.size;
        self.orders.insert(
            id,
            Working {
                intent,
                decided_at,
                arrival,
                stage: OrderStage::InFlight,
                filled: Size::ZERO,
                remaining: size,
                ahead: Size::ZERO,
                last_level: Size::ZERO,
                rested_seq: 0,
                accepted: false,
                expired: false,
                decision_touch,
            },
        );
        Ok(())
    }

    /// Requests cancellation of `order` at `at`; it takes effect at `at + cancel latency`, unless
    /// the order is then held by the taker delay (refused, counted in
    /// [`SimStats::cancels_refused_in_delay`]), already done, or not yet arrived (counted in
    /// [`SimStats::cancels_unmatched`]). Returns `false` (and does nothing) if the order is not
    /// working now.
    pub fn cancel(&mut self, order: OrderId, at: UnixNanos) -> bool {
        let Some(w) = self.orders.get(&order) else {
            return false;
        };
        let window = w.intent.window.clone();
        let due = UnixNanos(at.0.saturating_add(self.config.latency.cancel_latency_ns()));
        self.push(due, &window, EvKind::Cancel(order));
        true
    }

    /// A working order, if `order` is still working.
    pub fn order(&self, order: OrderId) -> Option<OrderView> {
        self.orders.get(&order).map(|w| OrderView {
            intent: w.intent.clone(),
            decided_at: w.decided_at,
            arrival: w.arrival,
            stage: w.stage,
            filled: w.filled,
            remaining: w.remaining,
            queue_ahead: w.ahead,
            decision_touch: w.decision_touch,
        })
    }

    /// All working orders (in flight, held, resting) in id order, each with `size` set to the
    /// shares still working: what pre-trade risk checks count as committed.
    pub fn open_orders(&self) -> Vec<OrderIntent> {
        self.orders
            .values()
            .map(|w| OrderIntent {
                size: w.remaining,
                ..w.intent.clone()
            })
            .collect()
    }

    /// Estimated maker rebates per window so far (micro-pUSD; separate from fees; see
    /// [`maker_rebate_estimate`]).
    pub fn estimated_rebates(&self) -> &BTreeMap<String, Cash> {
        &self.rebates
    }

    /// The fee schedule the executor applies to `window` at `at`, if the window is known.
    pub fn fee_schedule(&self, window: &str, at: UnixNanos) -> Option<FeeSchedule> {
        self.windows
            .get(window)
            .map(|w| fee_schedule_at(at, w.duration, w.fee.as_ref()))
    }

    /// The estimated maker rebate of `fill` (zero for taker fills or unknown windows).
    pub fn rebate_estimate(&self, fill: &Fill) -> Cash {
        if fill.liquidity != Liquidity::Maker {
            return Cash::ZERO;
        }
        self.fee_schedule(&fill.window, fill.at)
            .map_or(Cash::ZERO, |s| {
                maker_rebate_estimate(&s, fill.size, fill.price)
            })
    }

    /// A new book of `window` received at `now`: processes that window's orders, cancels and
    /// expiries due at or before `now` in time order against this book, then updates resting
    /// orders (trade-through, queue). At or after the window end nothing matches; pending orders
    /// are closed out instead (as in [`Self::advance_to`]).
    pub fn on_book(&mut self, window: &str, now: UnixNanos, book: &WindowBook) -> Vec<ExecReport> {
        let mut out = Vec::new();
        let Some(w) = self.windows.get_mut(window) else {
            return out;
        };
        if w.closed || now >= w.end {
            self.process(now, Some(window), None, &mut out);
            return out;
        }
        w.book_seq += 1;
        self.refresh_overlay(window, book);
        self.process(now, Some(window), Some(book), &mut out);
        self.update_resting(window, now, book, &mut out);
        out
    }

    /// Advances the clock to `now` without a book: takes effect every cancel and GTD expiry due
    /// by `now` whose order does not wait for a book, and closes windows whose end has passed
    /// (resting orders → `Cancelled`, orders that never met a book before the end →
    /// `Rejected(MarketClosed)`, held orders → `Cancelled`).
    pub fn advance_to(&mut self, now: UnixNanos) -> Vec<ExecReport> {
        let mut out = Vec::new();
        self.process(now, None, None, &mut out);
        out
    }

    /// Processes queued events due by `now`, of one window (`only`) or all, with `book` when
    /// given, strictly in `(time, sequence)` order (events pushed while processing, such as the
    /// match after a taker delay, take their place in that order).
    fn process(
        &mut self,
        now: UnixNanos,
        only: Option<&str>,
        book: Option<&WindowBook>,
        out: &mut Vec<ExecReport>,
    ) {
        // Windows whose next event needs a book we do not have: their later events wait too
        // (except the window close, which settles everything before it).
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        loop {
            let mut next = None;
            for (key, ev) in self.queue.range(..=(now, u64::MAX)) {
                if only.is_some_and(|w| ev.window != w) {
                    continue;
                }
                if ev.kind == EvKind::Close {
                    next = Some(*key);
                    break;
                }
                if blocked.contains(&ev.window) {
                    continue;
                }
                let closed = self.windows.get(&ev.window).is_none_or(|w| w.closed);
                let needs_book = !closed && matches!(ev.kind, EvKind::Arrive(_) | EvKind::Match(_));
                if needs_book && book.is_none() {
                    blocked.insert(ev.window.clone());
                    continue;
                }
                next = Some(*key);
                break;
            }
            let Some(key) = next else {
                break;
            };
            let Some(ev) = self.queue.remove(&key) else {
                break;
            };
            let due = key.0;
            let closed = self.windows.get(&ev.window).is_none_or(|w| w.closed);
            match ev.kind {
                EvKind::Close => {
                    self.close_window(&ev.window, due, out);
                    blocked.remove(&ev.window);
                }
                EvKind::Arrive(id) => match book {
                    Some(b) if !closed => self.on_arrive(id, due, now, b, out),
                    _ => self.reject(id, RejectReason::MarketClosed, due, out),
                },
                EvKind::Match(id) => match book {
                    Some(b) if !closed => self.execute_taker_at(id, due, now, b, out),
                    _ => self.finish_cancelled(id, due, out),
                },
                EvKind::Cancel(id) => self.on_cancel(id, due, out),
                EvKind::Expire(id) => self.on_expire(id, due, out),
            }
        }
    }

    fn reject(
        &mut self,
        id: OrderId,
        reason: RejectReason,
        at: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        self.orders.remove(&id);
        out.push(ExecReport::Rejected {
            order: id,
            reason,
            at,
        });
    }

    fn finish_cancelled(&mut self, id: OrderId, at: UnixNanos, out: &mut Vec<ExecReport>) {
        if let Some(w) = self.orders.remove(&id) {
            out.push(ExecReport::Cancelled {
                order: id,
                unfilled: w.remaining,
                at,
            });
        }
    }

    fn accept(&mut self, id: OrderId, at: UnixNanos, out: &mut Vec<ExecReport>) {
        if let Some(w) = self.orders.get_mut(&id)
            && !w.accepted
        {
            w.accepted = true;
            out.push(ExecReport::Accepted { order: id, at });
        }
    }

    /// The tick in force for `outcome` of `window`: the book's (latest data), else the window's,
    /// else the default.
    fn tick(&self, window: &str, outcome: Outcome, book: &WindowBook) -> Price {
        book.book(outcome)
            .tick_size()
            .or_else(|| book.book(outcome.other()).tick_size())
            .or_else(|| self.windows.get(window).and_then(|w| w.tick))
            .unwrap_or(self.config.default_tick)
    }

    fn on_tick(&self, price: Price, tick: Price) -> bool {
        let m = price.micros();
        let on = |t: Price| t.micros() > 0 && m.is_multiple_of(t.micros());
        if on(tick) {
            return true;
        }
        let band = self.config.fine_tick_band.micros();
        (m < band || m > 1_000_000 - band) && on(self.config.fine_tick)
    }

    /// Available (recorded − consumed) levels of `outcome`'s `side` within `limit`, best first,
    /// skipping levels we have used up.
    fn available(
        &self,
        window: &str,
        book: &WindowBook,
        outcome: Outcome,
        side: BookSide,
        limit: Price,
    ) -> Vec<(Price, Size)> {
        let mut v = Vec::new();
        let consumed = self.consumed.get(window);
        for l in book.levels(outcome, side) {
            if !within(side, l.price, limit) {
                break;
            }
            let used = consumed
                .and_then(|m| m.get(&canon(outcome, side, l.price)))
                .copied()
                .unwrap_or(Size::ZERO);
            let avail = l.size.saturating_sub(used);
            if !avail.is_zero() {
                v.push((l.price, avail));
            }
        }
        v
    }

    fn consume(&mut self, window: &str, outcome: Outcome, side: BookSide, price: Price, qty: Size) {
        *self
            .consumed
            .entry(window.to_string())
            .or_default()
            .entry(canon(outcome, side, price))
            .or_insert(Size::ZERO) += qty;
    }

    /// Forgets our consumption at levels that are gone from the new book (conservative release
    /// rule: consumption sticks while the level shows any size, whether it grew or shrank).
    fn refresh_overlay(&mut self, window: &str, book: &WindowBook) {
        if let Some(m) = self.consumed.get_mut(window) {
            m.retain(|&(is_ask, price), _| {
                let side = if is_ask { BookSide::Ask } else { BookSide::Bid };
                !level_size(book, Outcome::Up, side, price).is_zero()
            });
        }
    }

    fn on_arrive(
        &mut self,
        id: OrderId,
        due: UnixNanos,
        now: UnixNanos,
        book: &WindowBook,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(w) = self.orders.get(&id) else {
            return;
        };
        let intent = w.intent.clone();
        let (end, min_size) = match self.windows.get(&intent.window) {
            Some(ws) => (ws.end, ws.min_size.unwrap_or(self.config.default_min_size)),
            None => (due, self.config.default_min_size),
        };
        if due >= end {
            return self.reject(id, RejectReason::MarketClosed, due, out);
        }
        if intent.post_only && matches!(intent.tif, TimeInForce::Fok | TimeInForce::Fak) {
            let msg = "post-only orders must be GTC or GTD".to_string();
            return self.reject(id, RejectReason::Other(msg), due, out);
        }
        if let TimeInForce::Gtd(t) = intent.tif
            && t <= due
        {
            let msg = format!("GTD expiration {t} is not after arrival {due}");
            return self.reject(id, RejectReason::Other(msg), due, out);
        }
        let m = intent.price.micros();
        if m == 0 || m >= 1_000_000 {
            return self.reject(id, RejectReason::PriceOutOfRange, due, out);
        }
        let tick = self.tick(&intent.window, intent.outcome, book);
        if !self.on_tick(intent.price, tick) {
            return self.reject(id, RejectReason::OffTick { tick }, due, out);
        }
        if intent.size < min_size {
            return self.reject(id, RejectReason::BelowMinSize { min: min_size }, due, out);
        }
        let side = taker_side(intent.side);
        let marketable = !self
            .available(&intent.window, book, intent.outcome, side, intent.price)
            .is_empty();
        if marketable && intent.post_only {
            return self.reject(id, RejectReason::PostOnlyWouldCross, due, out);
        }
        if marketable {
            let delay = self.config.latency.taker_delay_ns(due);
            if delay > 0 {
                if let Some(w) = self.orders.get_mut(&id) {
                    w.stage = OrderStage::TakerDelay;
                }
                self.accept(id, due, out);
                self.push(
                    UnixNanos(due.0.saturating_add(delay)),
                    &intent.window,
                    EvKind::Match(id),
                );
            } else {
                self.execute_taker_at(id, due, now, book, out);
            }
            return;
        }
        match intent.tif {
            TimeInForce::Fok => self.reject(id, RejectReason::FokNotFilled, due, out),
            TimeInForce::Fak => self.finish_cancelled(id, due, out),
            TimeInForce::Gtc | TimeInForce::Gtd(_) => {
                self.accept(id, due, out);
                self.rest(id, due, book, out);
            }
        }
    }

    /// Takes liquidity for `id` against `book` (the first book at/after `event_at`; fills are
    /// stamped with the book instant `now`).
    fn execute_taker_at(
        &mut self,
        id: OrderId,
        event_at: UnixNanos,
        now: UnixNanos,
        book: &WindowBook,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(w) = self.orders.get(&id) else {
            return;
        };
        let intent = w.intent.clone();
        let mut remaining = w.remaining;
        let side = taker_side(intent.side);
        let levels = self.available(&intent.window, book, intent.outcome, side, intent.price);
        let total = levels.iter().fold(Size::ZERO, |a, (_, s)| a + *s);
        if intent.tif == TimeInForce::Fok && total < remaining {
            return self.reject(id, RejectReason::FokNotFilled, event_at, out);
        }
        if total.is_zero() {
            // No longer marketable (only after a taker delay).
            return match intent.tif {
                TimeInForce::Fak | TimeInForce::Fok => self.finish_cancelled(id, event_at, out),
                TimeInForce::Gtc | TimeInForce::Gtd(_) => self.rest(id, event_at, book, out),
            };
        }
        self.accept(id, event_at, out);
        let schedule = self
            .fee_schedule(&intent.window, now)
            .unwrap_or(FeeSchedule::FREE);
        for (price, avail) in levels {
            if remaining.is_zero() {
                break;
            }
            let qty = avail.min(remaining);
            remaining = remaining.saturating_sub(qty);
            self.consume(&intent.window, intent.outcome, side, price, qty);
            self.stats.taker_fills += 1;
            out.push(ExecReport::Filled(Fill {
                order: id,
                window: intent.window.clone(),
                outcome: intent.outcome,
                side: intent.side,
                price,
                size: qty,
                fee: schedule.taker_fee(qty, price),
                liquidity: Liquidity::Taker,
                at: now,
            }));
        }
        if let Some(w) = self.orders.get_mut(&id) {
            w.filled += w.remaining.saturating_sub(remaining);
            w.remaining = remaining;
        }
        if remaining.is_zero() {
            self.orders.remove(&id);
            return;
        }
        match intent.tif {
            TimeInForce::Fak | TimeInForce::Fok => self.finish_cancelled(id, event_at, out),
            TimeInForce::Gtc | TimeInForce::Gtd(_) => self.rest(id, event_at, book, out),
        }
    }

    /// Puts `id` on the book: queue ahead = the recorded size at our price now.
    fn rest(&mut self, id: OrderId, at: UnixNanos, book: &WindowBook, out: &mut Vec<ExecReport>) {
        let Some(w) = self.orders.get(&id) else {
            return;
        };
        if w.expired {
            return self.finish_cancelled(id, at, out);
        }
        let seq = self
            .windows
            .get(&w.intent.window)
            .map_or(0, |ws| ws.book_seq);
        let level = level_size(
            book,
            w.intent.outcome,
            own_side(w.intent.side),
            w.intent.price,
        );
        self.accept(id, at, out);
        if let Some(w) = self.orders.get_mut(&id) {
            w.stage = OrderStage::Resting;
            w.ahead = level;
            w.last_level = level;
            w.rested_seq = seq;
        }
    }

    fn on_cancel(&mut self, id: OrderId, due: UnixNanos, out: &mut Vec<ExecReport>) {
        match self.orders.get(&id).map(|w| w.stage) {
            Some(OrderStage::Resting) => self.finish_cancelled(id, due, out),
            Some(OrderStage::TakerDelay) => {
                tracing::debug!(order = id.0, "cancel refused: order is in the taker delay");
                self.stats.cancels_refused_in_delay += 1;
            }
            Some(OrderStage::InFlight) | None => self.stats.cancels_unmatched += 1,
        }
    }

    fn on_expire(&mut self, id: OrderId, due: UnixNanos, out: &mut Vec<ExecReport>) {
        match self.orders.get_mut(&id) {
            Some(w) if w.stage == OrderStage::Resting => self.finish_cancelled(id, due, out),
            Some(w) => w.expired = true,
            None => {}
        }
    }

    /// The window ended at `end`: everything still pending of it is done.
    fn close_window(&mut self, window: &str, end: UnixNanos, out: &mut Vec<ExecReport>) {
        let pending: Vec<((UnixNanos, u64), EvKind)> = self
            .queue
            .iter()
            .filter(|(k, ev)| ev.window == window && k.0 < end)
            .map(|(k, ev)| (*k, ev.kind))
            .collect();
        for (key, kind) in pending {
            self.queue.remove(&key);
            match kind {
                EvKind::Arrive(id) => self.reject(id, RejectReason::MarketClosed, end, out),
                EvKind::Match(id) => self.finish_cancelled(id, end, out),
                EvKind::Cancel(id) => self.on_cancel(id, key.0, out),
                EvKind::Expire(id) => self.on_expire(id, key.0, out),
                EvKind::Close => {}
            }
        }
        let ids: Vec<OrderId> = self
            .orders
            .iter()
            .filter(|(_, w)| w.intent.window == window && w.stage != OrderStage::InFlight)
            .map(|(id, _)| *id)
            .collect();
        // Resting and held orders end with the window; orders still in flight (arriving after
        // the end) are rejected when they arrive.
        for id in ids {
            self.finish_cancelled(id, end, out);
        }
        if let Some(ws) = self.windows.get_mut(window) {
            ws.closed = true;
        }
        self.consumed.remove(window);
    }

    /// Resting orders of `window` meet a new book: trade-through first, else queue/shrink.
    fn update_resting(
        &mut self,
        window: &str,
        now: UnixNanos,
        book: &WindowBook,
        out: &mut Vec<ExecReport>,
    ) {
        let seq = self.windows.get(window).map_or(0, |w| w.book_seq);
        let ids: Vec<OrderId> = self
            .orders
            .iter()
            .filter(|(_, w)| {
                w.intent.window == window && w.stage == OrderStage::Resting && w.rested_seq != seq
            })
            .map(|(id, _)| *id)
            .collect();
        let schedule = self.fee_schedule(window, now).unwrap_or(FeeSchedule::FREE);
        for id in ids {
            let Some(w) = self.orders.get(&id) else {
                continue;
            };
            let (outcome, side, price) = (w.intent.outcome, w.intent.side, w.intent.price);
            let (mut remaining, mut ahead, last) = (w.remaining, w.ahead, w.last_level);
            let opp = taker_side(side);
            let crossing = self.available(window, book, outcome, opp, price);
            let level = level_size(book, outcome, own_side(side), price);
            let mut qty = Size::ZERO;
            if crossing.is_empty() {
                if level < last {
                    let shrink = last.saturating_sub(level);
                    if ahead.is_zero() && self.config.shrink_fill == ShrinkFill::AfterQueueExhausted
                    {
                        qty = shrink.min(remaining);
                        if !qty.is_zero() {
                            self.stats.shrink_fills += 1;
                        }
                    } else {
                        ahead = ahead.saturating_sub(shrink);
                    }
                }
                ahead = ahead.min(level);
            } else {
                let mut left = remaining;
                for (p, avail) in crossing {
                    if left.is_zero() {
                        break;
                    }
                    let take = avail.min(left);
                    left = left.saturating_sub(take);
                    self.consume(window, outcome, opp, p, take);
                    qty += take;
                }
                ahead = Size::ZERO;
                self.stats.trade_through_fills += 1;
            }
            if !qty.is_zero() {
                remaining = remaining.saturating_sub(qty);
                let rebate = maker_rebate_estimate(&schedule, qty, price);
                *self.rebates.entry(window.to_string()).or_insert(Cash::ZERO) += rebate;
                out.push(ExecReport::Filled(Fill {
                    order: id,
                    window: window.to_string(),
                    outcome,
                    side,
                    price,
                    size: qty,
                    fee: schedule.maker_fee(qty, price),
                    liquidity: Liquidity::Maker,
                    at: now,
                }));
            }
            if remaining.is_zero() {
                self.orders.remove(&id);
                continue;
            }
            if let Some(w) = self.orders.get_mut(&id) {
                w.filled += w.remaining.saturating_sub(remaining);
                w.remaining = remaining;
                w.ahead = ahead;
                w.last_level = level;
            }
        }
    }
}

impl SimExecutor {
    /// The earliest queued event that [`Self::advance_to`] would process without a new book: a
    /// window close, or a cancel/expiry not waiting behind an arrival that needs a book.
    pub fn next_due(&self) -> Option<UnixNanos> {
        let mut blocked: Vec<&str> = Vec::new();
        for ((due, _), ev) in &self.queue {
            if ev.kind == EvKind::Close {
                return Some(*due);
            }
            if blocked.contains(&ev.window.as_str()) {
                continue;
            }
            let closed = self.windows.get(&ev.window).is_none_or(|w| w.closed);
            if !closed && matches!(ev.kind, EvKind::Arrive(_) | EvKind::Match(_)) {
                blocked.push(&ev.window);
                continue;
            }
            return Some(*due);
        }
        None
    }
}

impl From<SimError> for ExecError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::DuplicateOrder(id) => ExecError::DuplicateOrder(id),
            SimError::WindowMismatch { intent, window } => {
                ExecError::WindowMismatch { intent, window }
            }
        }
    }
}

impl Executor for SimExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Sim
    }

    fn submit(
        &mut self,
        order: RiskApproved,
        window: &Window,
        book: &WindowBook,
        now: UnixNanos,
    ) -> Result<(), ExecError> {
        self.place(order.into_intent(), now, window, book)
            .map_err(ExecError::from)
    }

    fn cancel(&mut self, order: OrderId, now: UnixNanos) {
        SimExecutor::cancel(self, order, now);
    }

    fn market_update(
        &mut self,
        window: &str,
        book: &WindowBook,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        out.extend(self.on_book(window, now, book));
    }

    fn poll(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>) {
        out.extend(self.advance_to(now));
    }

    fn next_wakeup(&self) -> Option<UnixNanos> {
        self.next_due()
    }

    fn open_orders(&self) -> Vec<OrderIntent> {
        SimExecutor::open_orders(self)
    }

    fn rebate_estimate(&self, fill: &Fill) -> Cash {
        SimExecutor::rebate_estimate(self, fill)
    }
}
