//! [`SimExecutor`]: deterministic, event-driven matching of our orders against recorded books.
//!
//! The full rule set, with what the data lacks and why each rule was chosen, is in
//! `docs/fill-model.md`. In short:
//!
//! * **Timing.** An order decided at `t` *arrives* at `t + order latency`
//!   ([`LatencyConfig`]). It meets the **book in force at its arrival**: the last book the
//!   executor was shown at or before the arrival ([`SimExecutor::on_book`], or the decision book
//!   passed to [`SimExecutor::place`]), never a book received later — when books arrive only on
//!   change, the next one may be seconds away. Only an order whose window has shown no book at all
//!   waits for the first one. If it is marketable then, the venue holds it for the taker delay of
//!   that date and it matches the book in force at `arrival + delay`. Cancels take effect
//!   `cancel latency` after the request and are refused while the order is held (protocols.md
//!   §1.5). How old the book an order met was is recorded ([`SimExecutor::arrival_book_lags`]).
//! * **Validation at arrival**: window still open, price strictly inside (0, 1), on the tick grid
//!   (the book's tick, else the window's, else 0.01; prices within [`SimConfig::fine_tick_band`] of 0
//!   or 1 may use [`SimConfig::fine_tick`], since the venue moves to 0.001 near the extremes), size
//!   ≥ the window's minimum (default 5 shares), post-only only with GTC/GTD and never crossing.
//! * **Taking**: walk the outcome's opposite side through [`WindowBook::levels`] level by level up
//!   to the limit, one [`Fill`] per level at the level's price. FOK all-or-nothing
//!   ([`RejectReason::FokNotFilled`]), FAK cancels the rest, GTC/GTD rest the rest. A GTD order
//!   whose expiry passed during the taker delay does not fill (`Cancelled`).
//! * **Our consumption** is remembered per window and per level of the one Up/Down pool (a Down
//!   bid at `p` is the Up ask at `1 − p`), and subtracted from the recorded size until the level
//!   disappears from a later book (conservative).
//! * **Resting**: queue ahead = recorded size at our price when we rest. A book whose opposite side
//!   reaches our price (after our consumption) fills us as maker at our price (trade-through).
//!   What a *shrinking* level does depends on the [`QueueModel`]: nothing but move the queue
//!   ([`QueueModel::TradeThrough`], the default), or — only at the best price on our side — fill
//!   us once the queue ahead is gone ([`QueueModel::FrontOfQueue`]) or by the share a documented
//!   function puts at the front of the queue ([`QueueModel::Probabilistic`]). A shrink is split
//!   across our orders at the level in time priority and used up: two orders are never credited
//!   the same shares.
//! * **Fees** from [`fee_schedule_at`] at the fill instant (the market's schedule wins); maker
//!   rebates are estimated separately ([`maker_rebate_estimate`]), never mixed into fees.
//! * **Determinism**: all state is in `BTreeMap`s; events are ordered by `(time, sequence)`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use polyedge_core::event::Level;
use polyedge_core::{
    BookSide, Cash, ExecReport, FeeSchedule, Fill, Liquidity, OrderId, OrderIntent, Outcome, Price,
    RejectReason, Side, Size, TimeInForce, UnixNanos, Window, WindowBook, WindowDuration,
};

use crate::executor::{ExecError, Executor, ExecutorKind, RiskApproved};
use crate::fee_regime::{fee_schedule_at, maker_rebate_estimate};
use crate::latency::LatencyConfig;

/// What a decrease of the recorded size at our price means for a resting order. The data has no
/// trade tape, so a decrease is trades *or* cancellations, ahead of us *or* behind us; each model
/// is one documented reading (`docs/fill-model.md` §5). In every model a trade-through (the
/// opposite side reaching our price) fills us, and the queue ahead never exceeds the level's
/// size. Serde: `"trade_through"`, `"front_of_queue"`, `"probabilistic"` (the exponent is
/// [`SimConfig::queue_power`]); the old names `"never"` and `"after_queue_exhausted"` are read
/// as the first two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueModel {
    /// **Default, the conservative reading.** Only a trade-through fills a resting order.
    /// Decreases are not assumed to be trades; the queue ahead only shrinks when the level
    /// becomes smaller than it (those ahead of us must then have left) — hftbacktest's
    /// `RiskAdverseQueueModel` without a trade feed.
    #[default]
    #[serde(alias = "never")]
    TradeThrough,
    /// Every decrease is taken from the front of the queue: it eats the queue ahead first; once a
    /// previous book left nothing ahead of us, a decrease **at the best price on our side** (no
    /// better price on our side in the previous or the new book) fills us by what is left of it
    /// after our earlier orders at that price took their share (time priority). Decreases at
    /// worse prices only move the queue (trades happen at the best price). The optimistic bound.
    #[serde(alias = "after_queue_exhausted")]
    FrontOfQueue,
    /// A decrease `d` is split between the front of the queue — the shares ahead of us `A` plus
    /// our own remaining `R` — and the shares behind us `B`, in the manner of hftbacktest's
    /// `ProbQueueModel` with `PowerProbQueueFunc`: the share behind is
    /// `p = f(B) / (f(B) + f(A + R))` with `f(x) = x^n` (`n` = [`SimConfig::queue_power`]). The
    /// front share `(1 − p)·d` eats the queue ahead and then, at the best price on our side only,
    /// fills us; the share behind moves nothing (if it exceeds `B`, the excess comes from the
    /// front). Deterministic (expected values, rounded down to the micro-share). Between the two
    /// others.
    Probabilistic,
}

impl QueueModel {
    /// The serde name (`trade_through`, `front_of_queue`, `probabilistic`), for reports.
    pub fn name(self) -> &'static str {
        match self {
            QueueModel::TradeThrough => "trade_through",
            QueueModel::FrontOfQueue => "front_of_queue",
            QueueModel::Probabilistic => "probabilistic",
        }
    }
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
    /// How a decrease of our level moves and fills resting orders (default
    /// [`QueueModel::TradeThrough`]; serde also accepts the old key `shrink_fill`).
    #[serde(alias = "shrink_fill")]
    pub queue_model: QueueModel,
    /// The exponent `n` of [`QueueModel::Probabilistic`]'s `f(x) = x^n` (default 2; 1 splits a
    /// decrease in proportion to the shares in front and behind; larger puts more of it behind
    /// us when more shares are behind than in front). At least 1.
    pub queue_power: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency: LatencyConfig::default(),
            default_tick: Price::from_micros(10_000).unwrap_or(Price::ZERO),
            fine_tick: Price::from_micros(1_000).unwrap_or(Price::ZERO),
            fine_tick_band: Price::from_micros(40_000).unwrap_or(Price::ZERO),
            default_min_size: Size::from_shares(5),
            queue_model: QueueModel::TradeThrough,
            queue_power: 2,
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
    /// Maker fills from a decrease of our level ([`QueueModel::FrontOfQueue`] and
    /// [`QueueModel::Probabilistic`] only).
    pub shrink_fills: u64,
    /// Cancels refused because the order was in the taker delay.
    pub cancels_refused_in_delay: u64,
    /// Cancels that found no working order at the venue (already done, or not yet arrived).
    pub cancels_unmatched: u64,
    /// Orders that arrived before their window had shown any book and waited for the first one.
    pub arrivals_before_first_book: u64,
    /// GTD orders whose expiry passed while the taker delay held them (cancelled, not filled).
    pub expired_in_taker_delay: u64,
}

/// What a [`SimExecutor`] reports about its fill model after a run (the backtest's
/// `summary.json` shows it per strategy).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillModelReport {
    /// The queue model that ran ([`QueueModel::name`]).
    pub queue_model: String,
    /// Its exponent, for [`QueueModel::Probabilistic`].
    pub queue_power: Option<u32>,
    /// Counters.
    pub stats: SimStats,
    /// For every order that arrived, (receive time of the book it met − arrival), ns: ≤ 0 when
    /// it met the book in force (how old that book was), > 0 when it arrived before its window
    /// showed any book and waited for the first. In arrival order.
    pub arrival_book_lag_ns: Vec<i64>,
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
    /// Queued events of this window that match against a book (arrivals, matches after a hold).
    book_events: u32,
}

/// The levels the matching reads, from a live [`WindowBook`] or a kept [`Snapshot`].
trait Levels {
    /// The iterator [`Levels::levels_of`] returns (concrete: no allocation per walk).
    type Iter<'a>: Iterator<Item = Level>
    where
        Self: 'a;
    /// Levels of `outcome`'s `side`, best first (as [`WindowBook::levels`]).
    fn levels_of(&self, outcome: Outcome, side: BookSide) -> Self::Iter<'_>;
    /// The tick of `outcome`'s own token book, if known.
    fn tick_of(&self, outcome: Outcome) -> Option<Price>;
    /// Receive time of the freshest data.
    fn received(&self) -> Option<UnixNanos>;
}

impl Levels for WindowBook {
    type Iter<'a> = polyedge_core::window_book::WindowLevels<'a>;
    fn levels_of(&self, outcome: Outcome, side: BookSide) -> Self::Iter<'_> {
        self.levels(outcome, side)
    }
    fn tick_of(&self, outcome: Outcome) -> Option<Price> {
        self.book(outcome).tick_size()
    }
    fn received(&self) -> Option<UnixNanos> {
        self.last_update()
    }
}

/// A window's book as the matching sees it, kept while orders of the window wait to meet it
/// (a [`WindowBook`] holds a full price grid, too large to copy on every update).
#[derive(Debug, Clone)]
struct Snapshot {
    at: Option<UnixNanos>,
    ticks: [Option<Price>; 2],
    /// Up bid, Up ask, Down bid, Down ask; best first.
    levels: [Vec<Level>; 4],
}

fn slot(outcome: Outcome, side: BookSide) -> usize {
    2 * usize::from(outcome == Outcome::Down) + usize::from(side == BookSide::Ask)
}

impl Snapshot {
    fn of(book: &WindowBook) -> Self {
        let l = |o, s| book.levels(o, s).collect::<Vec<_>>();
        Snapshot {
            at: book.last_update(),
            ticks: [
                book.book(Outcome::Up).tick_size(),
                book.book(Outcome::Down).tick_size(),
            ],
            levels: [
                l(Outcome::Up, BookSide::Bid),
                l(Outcome::Up, BookSide::Ask),
                l(Outcome::Down, BookSide::Bid),
                l(Outcome::Down, BookSide::Ask),
            ],
        }
    }
}

impl Levels for Snapshot {
    type Iter<'a> = std::iter::Copied<std::slice::Iter<'a, Level>>;
    fn levels_of(&self, outcome: Outcome, side: BookSide) -> Self::Iter<'_> {
        self.levels[slot(outcome, side)].iter().copied()
    }
    fn tick_of(&self, outcome: Outcome) -> Option<Price> {
        self.ticks[usize::from(outcome == Outcome::Down)]
    }
    fn received(&self) -> Option<UnixNanos> {
        self.at
    }
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
    /// Whether no other order had a better price on our side in the last book seen.
    at_best: bool,
    rested_seq: u64,
    /// Time priority among resting orders (when it started resting).
    rest_prio: u64,
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
fn level_size(book: &impl Levels, outcome: Outcome, side: BookSide, price: Price) -> Size {
    for l in book.levels_of(outcome, side) {
        if l.price == price {
            return l.size;
        }
        if !within(side, l.price, price) {
            break;
        }
    }
    Size::ZERO
}

/// Whether no recorded level of `outcome`'s `side` is better than `price` (for a bid: none
/// higher; for an ask: none lower), i.e. an order of ours at `price` is at the best price.
fn at_best(book: &impl Levels, outcome: Outcome, side: BookSide, price: Price) -> bool {
    book.levels_of(outcome, side)
        .next()
        .is_none_or(|l| within(side, price, l.price))
}

/// `x·(1 − p)` micro-shares of `d`, rounded down, with `p = f(b)/(f(b) + f(a))`, `f(x) = x^n`:
/// the front share of a decrease `d` in [`QueueModel::Probabilistic`] (`a` in front, `b` behind).
fn front_share(d: Size, a: Size, b: Size, n: u32) -> Size {
    let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX);
    let f = |x: Size| x.to_f64().powi(n);
    let (fa, fb) = (f(a), f(b));
    let p_behind = if fa + fb > 0.0 { fb / (fa + fb) } else { 0.0 };
    let micros = (d.micros() as f64 * (1.0 - p_behind)).floor();
    // In [0, d] after the floor of a product of d and a factor in [0, 1].
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let m = micros.clamp(0.0, d.micros() as f64) as u64;
    Size::from_micros(m)
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
    /// The book in force per window, kept while orders of the window wait to meet it.
    books: BTreeMap<String, Snapshot>,
    rest_counter: u64,
    arrival_lags: Vec<i64>,
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
            books: BTreeMap::new(),
            rest_counter: 0,
            arrival_lags: Vec::new(),
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

    /// For every order that arrived so far, in arrival order: receive time of the book it met
    /// minus its arrival, ns (≤ 0: the book in force, this old; > 0: it waited for the window's
    /// first book).
    pub fn arrival_book_lags(&self) -> &[i64] {
        &self.arrival_lags
    }

    /// The fill model's report: model, counters, arrival lags.
    pub fn report(&self) -> FillModelReport {
        FillModelReport {
            queue_model: self.config.queue_model.name().to_string(),
            queue_power: (self.config.queue_model == QueueModel::Probabilistic)
                .then_some(self.config.queue_power),
            stats: self.stats,
            arrival_book_lag_ns: self.arrival_lags.clone(),
        }
    }

    fn push(&mut self, due: UnixNanos, window: &str, kind: EvKind) {
        self.seq += 1;
        if matches!(kind, EvKind::Arrive(_) | EvKind::Match(_))
            && let Some(ws) = self.windows.get_mut(window)
        {
            ws.book_events += 1;
        }
        self.queue.insert(
            (due, self.seq),
            Event {
                window: window.to_string(),
                kind,
            },
        );
    }

    /// Removes a queued event (keeping the per-window count of book events).
    fn take(&mut self, key: (UnixNanos, u64)) -> Option<Event> {
        let ev = self.queue.remove(&key)?;
        if matches!(ev.kind, EvKind::Arrive(_) | EvKind::Match(_))
            && let Some(ws) = self.windows.get_mut(&ev.window)
        {
            ws.book_events = ws.book_events.saturating_sub(1);
        }
        Some(ev)
    }

    /// Keeps `book` as `window`'s book in force if it is not older than the one kept.
    fn keep_book(&mut self, window: &str, book: &WindowBook) {
        let Some(at) = book.last_update() else {
            return;
        };
        if self
            .books
            .get(window)
            .is_none_or(|b| b.at.is_none_or(|k| k <= at))
        {
            self.books.insert(window.to_string(), Snapshot::of(book));
        }
    }

    /// Places `intent`, decided at `decided_at`, for `window`: the matching engine's entry point
    /// for an order that reached the venue. Clients go through the [`Executor`] impl, which
    /// requires a [`RiskApproved`] order; the sandbox exchange (a venue, which runs no client
    /// risk check) calls this directly.
    ///
    /// Sends `intent`, decided at `decided_at`, for `window`. Nothing happens at once: the order
    /// arrives at `decided_at + order latency` and is validated and matched against the book in
    /// force at that instant (reports come from [`Self::on_book`] / [`Self::advance_to`]).
    ///
    /// `book` must be the book in force at `decided_at` (the one the strategy decided on): it is
    /// the book the order meets if no newer one is shown before it arrives, and its touch is
    /// recorded as [`OrderView::decision_touch`] for slippage diagnostics. The window's tick
    /// size, minimum size, fee schedule, duration and end are remembered from the first order for
    /// that window.
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
                    book_events: 0,
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
        self.keep_book(&window.slug, book);
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
                at_best: false,
                rested_seq: 0,
                rest_prio: 0,
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

    /// A new book of `window` received at `now`. First the window's orders, cancels and expiries
    /// due **before** `now` are processed against the book in force until now (the one kept from
    /// the previous call or from [`Self::place`]); then this book becomes the book in force, events
    /// due at `now` meet it, and resting orders are updated (trade-through, queue model). At or
    /// after the window end nothing matches; pending orders are closed out instead (as in
    /// [`Self::advance_to`]).
    pub fn on_book(&mut self, window: &str, now: UnixNanos, book: &WindowBook) -> Vec<ExecReport> {
        let mut out = Vec::new();
        let Some(w) = self.windows.get(window) else {
            return out;
        };
        if w.closed || now >= w.end {
            self.process(now, Some(window), &mut out);
            return out;
        }
        if now.0 > 0 {
            self.process(UnixNanos(now.0 - 1), Some(window), &mut out);
        }
        let Some(w) = self.windows.get_mut(window) else {
            return out;
        };
        w.book_seq += 1;
        let waiting = w.book_events > 0;
        self.refresh_overlay(window, book);
        if waiting {
            self.keep_book(window, book);
        } else {
            self.books.remove(window);
        }
        self.process(now, Some(window), &mut out);
        self.update_resting(window, now, book, &mut out);
        out
    }

    /// Advances the clock to `now` without a new book: processes everything due by `now` — orders
    /// arriving or ending their taker delay meet their window's book in force (those of a window
    /// that has shown no book yet wait for its first one), cancels and GTD expiries take effect —
    /// and closes windows whose end has passed (resting orders → `Cancelled`, orders that never
    /// met a book before the end → `Rejected(MarketClosed)`, held orders → `Cancelled`).
    pub fn advance_to(&mut self, now: UnixNanos) -> Vec<ExecReport> {
        let mut out = Vec::new();
        self.process(now, None, &mut out);
        out
    }

    /// Processes queued events due by `now`, of one window (`only`) or all, strictly in
    /// `(time, sequence)` order (events pushed while processing, such as the match after a taker
    /// delay, take their place in that order). Arrivals and matches meet the window's kept book.
    fn process(&mut self, now: UnixNanos, only: Option<&str>, out: &mut Vec<ExecReport>) {
        // Windows whose next event needs a book none was shown yet: their later events wait too
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
                if needs_book && !self.books.contains_key(&ev.window) {
                    blocked.insert(ev.window.clone());
                    continue;
                }
                next = Some(*key);
                break;
            }
            let Some(key) = next else {
                break;
            };
            let Some(ev) = self.take(key) else {
                break;
            };
            let due = key.0;
            let closed = self.windows.get(&ev.window).is_none_or(|w| w.closed);
            match ev.kind {
                EvKind::Close => {
                    self.close_window(&ev.window, due, out);
                    blocked.remove(&ev.window);
                }
                EvKind::Arrive(id) => match self.books.remove(&ev.window) {
                    Some(b) if !closed => {
                        self.on_arrive(id, due, &b, out);
                        self.books.insert(ev.window, b);
                    }
                    _ => self.reject(id, RejectReason::MarketClosed, due, out),
                },
                EvKind::Match(id) => match self.books.remove(&ev.window) {
                    Some(b) if !closed => {
                        self.execute_taker_at(id, due, &b, out);
                        self.books.insert(ev.window, b);
                    }
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
    fn tick(&self, window: &str, outcome: Outcome, book: &impl Levels) -> Price {
        book.tick_of(outcome)
            .or_else(|| book.tick_of(outcome.other()))
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
        book: &impl Levels,
        outcome: Outcome,
        side: BookSide,
        limit: Price,
    ) -> Vec<(Price, Size)> {
        let mut v = Vec::new();
        let consumed = self.consumed.get(window);
        for l in book.levels_of(outcome, side) {
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
        book: &impl Levels,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(w) = self.orders.get(&id) else {
            return;
        };
        let intent = w.intent.clone();
        if let Some(at) = book.received() {
            let lag = i128::from(at.0) - i128::from(due.0);
            if lag > 0 {
                self.stats.arrivals_before_first_book += 1;
            }
            self.arrival_lags
                .push(i64::try_from(lag).unwrap_or(if lag < 0 { i64::MIN } else { i64::MAX }));
        }
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
                self.execute_taker_at(id, due, book, out);
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

    /// Takes liquidity for `id` at `event_at` (its arrival, or the end of its taker delay)
    /// against `book`, the book in force then; fills are stamped `event_at`. A GTD order whose
    /// expiry came first (during the taker delay) is cancelled instead.
    fn execute_taker_at(
        &mut self,
        id: OrderId,
        event_at: UnixNanos,
        book: &impl Levels,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(w) = self.orders.get(&id) else {
            return;
        };
        let intent = w.intent.clone();
        let expired = w.expired || matches!(intent.tif, TimeInForce::Gtd(t) if t <= event_at);
        if expired {
            self.stats.expired_in_taker_delay += 1;
            return self.finish_cancelled(id, event_at, out);
        }
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
            .fee_schedule(&intent.window, event_at)
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
                at: event_at,
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
    fn rest(&mut self, id: OrderId, at: UnixNanos, book: &impl Levels, out: &mut Vec<ExecReport>) {
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
        let (outcome, side, price) = (w.intent.outcome, own_side(w.intent.side), w.intent.price);
        let level = level_size(book, outcome, side, price);
        let best = at_best(book, outcome, side, price);
        self.accept(id, at, out);
        self.rest_counter += 1;
        let prio = self.rest_counter;
        if let Some(w) = self.orders.get_mut(&id) {
            w.stage = OrderStage::Resting;
            w.ahead = level;
            w.last_level = level;
            w.at_best = best;
            w.rested_seq = seq;
            w.rest_prio = prio;
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
            self.take(key);
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
        self.books.remove(window);
    }

    /// Resting orders of `window` meet a new book, in price then time priority: a trade-through
    /// fills first; otherwise the [`QueueModel`] reads the decrease of the order's level. A
    /// decrease at one level is one pool: what our earlier orders there took of it is not there
    /// for the later ones.
    fn update_resting(
        &mut self,
        window: &str,
        now: UnixNanos,
        book: &WindowBook,
        out: &mut Vec<ExecReport>,
    ) {
        let seq = self.windows.get(window).map_or(0, |w| w.book_seq);
        let mut ids: Vec<((bool, i64, u64), OrderId)> = self
            .orders
            .iter()
            .filter(|(_, w)| {
                w.intent.window == window && w.stage == OrderStage::Resting && w.rested_seq != seq
            })
            .map(|(id, w)| {
                let (is_ask, price) =
                    canon(w.intent.outcome, own_side(w.intent.side), w.intent.price);
                // Better prices first: the highest bid, the lowest ask (in Up terms).
                let m = i64::from(price.micros());
                ((is_ask, if is_ask { m } else { -m }, w.rest_prio), *id)
            })
            .collect();
        ids.sort_unstable();
        let schedule = self.fee_schedule(window, now).unwrap_or(FeeSchedule::FREE);
        let (model, power) = (self.config.queue_model, self.config.queue_power);
        // Shares of each level's decrease already credited to our earlier orders there.
        let mut given: BTreeMap<LevelKey, Size> = BTreeMap::new();
        for (_, id) in ids {
            let Some(w) = self.orders.get(&id) else {
                continue;
            };
            let (outcome, side, price) = (w.intent.outcome, w.intent.side, w.intent.price);
            let (mut remaining, mut ahead, last, was_best) =
                (w.remaining, w.ahead, w.last_level, w.at_best);
            let (opp, own) = (taker_side(side), own_side(side));
            let crossing = self.available(window, book, outcome, opp, price);
            let level = level_size(book, outcome, own, price);
            let best_now = at_best(book, outcome, own, price);
            let mut qty = Size::ZERO;
            if crossing.is_empty() {
                let key = canon(outcome, own, price);
                // The decrease that reaches our place: what our earlier orders took is gone.
                let d = last
                    .saturating_sub(level)
                    .saturating_sub(given.get(&key).copied().unwrap_or(Size::ZERO));
                // Trades happen at the best price: only there may a decrease fill us.
                let best = was_best && best_now;
                match model {
                    QueueModel::TradeThrough => {}
                    QueueModel::FrontOfQueue => {
                        if ahead.is_zero() {
                            if best {
                                qty = d.min(remaining);
                            }
                        } else {
                            ahead = ahead.saturating_sub(d);
                        }
                    }
                    QueueModel::Probabilistic => {
                        let behind = last.saturating_sub(ahead);
                        let mut front = front_share(d, ahead + remaining, behind, power);
                        // A share behind larger than what is behind came from the front.
                        front += d.saturating_sub(front).saturating_sub(behind);
                        let eat = front.min(ahead);
                        ahead = ahead.saturating_sub(eat);
                        if best {
                            qty = front.saturating_sub(eat).min(remaining);
                        }
                    }
                }
                if !qty.is_zero() {
                    *given.entry(key).or_insert(Size::ZERO) += qty;
                    self.stats.shrink_fills += 1;
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
                w.at_best = best_now;
            }
        }
    }
}

impl SimExecutor {
    /// The earliest queued event that [`Self::advance_to`] would process without a new book: a
    /// window close, or any event not waiting behind an arrival in a window that has shown no
    /// book yet.
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
            if !closed
                && matches!(ev.kind, EvKind::Arrive(_) | EvKind::Match(_))
                && !self.books.contains_key(&ev.window)
            {
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

    fn fill_model_report(&self) -> Option<FillModelReport> {
        Some(self.report())
    }
}
