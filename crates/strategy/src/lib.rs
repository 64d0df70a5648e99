//! # polyedge-strategy
//!
//! The one strategy API shared by backtest, shadow, paper and live runs.
//!
//! A [`Strategy`] reacts to market events, timers, execution reports and window lifecycle
//! phases. On every callback it gets a [`Ctx`]: read access to the market state through a
//! [`MarketView`] (active windows, both outcome books, reference prices, the time now, time left,
//! own positions and open orders) and a queue for actions (submit, cancel, set a timer, merge
//! complete sets). Actions only queue: the driver (the engine in backtest, the live runner
//! otherwise) runs pre-trade risk checks and hands them to an executor after the callback
//! returns. A strategy that looked at a window and chose not to trade says why with
//! [`Ctx::skip`] and a stable reason code ([`skip`]); the engine counts them per reason.
//!
//! A strategy cannot tell backtest from live: it sees only this API. The driver guarantees that
//! [`MarketView::now`] is never earlier than the receive time of any event the strategy has seen,
//! so a strategy cannot look ahead.
//!
//! What a strategy may see is what was knowable at [`MarketView::now`]: windows only once listed,
//! no outcome, final price or outcome source in a [`Window`] (they arrive as
//! [`WindowPhase::Resolved`] when the resolution is received), and a strike only once it could be
//! known ([`MarketView::strike`]). The reference/spot state and the strategy's own fills are kept
//! once, by the engine, and read through the view ([`MarketView::fair_value`],
//! [`MarketView::leg`]).
//!
//! The strategies themselves live in the `polyedge-strategies` crate.

pub mod decimal;
pub mod ledger;

use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::{
    Cash, EventKind, ExecReport, FeeSchedule, Fixed18, MarketEvent, OrderId, OrderIntent, Outcome,
    Price, Side, Size, UnixNanos, Window, WindowBook,
};
use polyedge_model::{Estimate, OnlineConfig, ReferenceSet, SeriesConfig, SkipReason};
use serde::{Deserialize, Serialize};

pub use ledger::{Ledger, Leg};

/// Lifecycle phase of a window, announced to strategies through [`Strategy::on_window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowPhase {
    /// The window's start time has passed: it is trading.
    Opened,
    /// The strike (opening reference price) became knowable ([`MarketView::strike`]).
    StrikeKnown,
    /// The window is about to end (the driver's closing lead time before the end).
    Closing,
    /// The window's end time has passed: no more trading; its outcome may not be known yet.
    Ended,
    /// The window's resolution was received and its positions settled with this outcome
    /// (`None`: declared unknown, excluded from PnL).
    Resolved(Option<Outcome>),
}

/// How a strike became knowable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrikeSource {
    /// The venue published it (Gamma `priceToBeat`), received at [`Strike::known_at`].
    Published,
    /// The settlement reference price at the window start, as received (the engine's reference
    /// state: `polyedge_model::online`'s strike rule).
    ReferenceAtStart,
}

/// A window's strike (opening reference price, "price to beat") as knowable now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strike {
    /// The price (USD, 18 decimals).
    pub price: Fixed18,
    /// Where it came from.
    pub source: StrikeSource,
    /// When it became knowable (ns since epoch).
    pub known_at: UnixNanos,
}

/// Read-only market state as of [`MarketView::now`].
pub trait MarketView {
    /// The decision time: the receive time of the event being handled, or the due time of the
    /// timer or lifecycle phase. Never earlier than any event the strategy has seen.
    fn now(&self) -> UnixNanos;
    /// Windows opened and not yet ended, in slug order.
    fn active_windows(&self) -> Vec<&Window>;
    /// A listed window (active or not) by slug, as a strategy may see it: `None` before it was
    /// listed; never with `outcome`, `final_price` or `outcome_source`; `strike` only once the
    /// venue's published price to beat was received.
    fn window(&self, slug: &str) -> Option<&Window>;
    /// The strike of a listed window, once knowable (published, or the reference price at the
    /// start as received); `None` before.
    fn strike(&self, slug: &str) -> Option<Strike>;
    /// The Up/Down books of a window, if its tokens are known.
    fn book(&self, slug: &str) -> Option<&WindowBook>;
    /// The last reference price from `source` whose symbol equals `symbol` (case-insensitive).
    fn reference_price(&self, source: ReferenceSource, symbol: &str) -> Option<Fixed18>;
    /// The last spot price on `venue` for `symbol` (case-insensitive): the last trade price or
    /// quote mid, whichever came last.
    fn spot_price(&self, venue: Venue, symbol: &str) -> Option<Fixed18>;
    /// The engine's reference state built with `series` (one per distinct configuration the
    /// strategies registered through [`Strategy::fair_value_configs`]; `None` if none was).
    fn reference_set(&self, series: &SeriesConfig) -> Option<&ReferenceSet>;
    /// The fair-value estimate of `window` now under `config`, from the engine's reference state
    /// ([`Self::reference_set`]); an unregistered or invalid config gets an estimate with
    /// `skip = NoReference` / `ModelError`.
    fn fair_value(&self, window: &Window, config: &OnlineConfig) -> Estimate {
        let Ok(spec) = config.estimate_spec() else {
            return Estimate {
                skip: Some(SkipReason::ModelError),
                ..Estimate::default()
            };
        };
        match self.reference_set(&config.series_config()) {
            Some(set) => set.estimate(window, self.now(), &spec),
            None => Estimate {
                skip: Some(SkipReason::NoReference),
                ..Estimate::default()
            },
        }
    }
    /// The fee schedule that applies to a taker order on `slug` now.
    fn fee_schedule(&self, slug: &str) -> Option<FeeSchedule>;
    /// Shares of `outcome` of `slug` this strategy holds.
    fn position(&self, slug: &str, outcome: Outcome) -> Size;
    /// This strategy's fills of `outcome` of `slug` (shares, cost basis, fees, notional bought),
    /// zero if none; kept until the window is resolved.
    fn leg(&self, slug: &str, outcome: Outcome) -> Leg;
    /// Notional this strategy bought on `slug`, both outcomes, never reduced by sells (pUSD).
    fn window_bought(&self, slug: &str) -> Cash {
        self.leg(slug, Outcome::Up).bought + self.leg(slug, Outcome::Down).bought
    }
    /// This strategy's working orders (size = shares still working), in id order.
    fn open_orders(&self) -> &[OrderIntent];
    /// This strategy's cash (pUSD), if the driver reports it (the backtest engine does);
    /// sizing falls back to a configured bankroll otherwise.
    fn cash(&self) -> Option<Cash> {
        None
    }
}

/// Slugs of the active windows `ev` bears on: the window of a Polymarket token event, or every
/// active window of the asset of a reference, kline or spot event (`None`: nothing relevant).
pub fn affected_windows(view: &dyn MarketView, ev: &MarketEvent) -> Vec<String> {
    if let Some(token) = ev.kind.token() {
        return view
            .active_windows()
            .iter()
            .filter(|w| w.up_token == Some(token) || w.down_token == Some(token))
            .map(|w| w.slug.clone())
            .collect();
    }
    let symbol = match &ev.kind {
        EventKind::Reference(r) => r.symbol,
        EventKind::Kline(k) => k.symbol,
        EventKind::SpotTrade(t) => t.symbol,
        EventKind::SpotQuote(q) => q.symbol,
        _ => return Vec::new(),
    };
    let Some(asset) = polyedge_model::online::asset_of_symbol(symbol.as_str()) else {
        return Vec::new();
    };
    view.active_windows()
        .iter()
        .filter(|w| w.asset == asset)
        .map(|w| w.slug.clone())
        .collect()
}

/// An action a strategy queued during a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Send an order. `fair_value` is the strategy's fair value of the order's outcome token
    /// at decision time (micro-pUSD per share, `None` if it has no model); reports use it for
    /// the edge at entry (fair value − price − fee per share for a buy).
    Submit {
        /// The order.
        intent: OrderIntent,
        /// Fair value of one share of `intent.outcome` at decision time.
        fair_value: Option<Price>,
    },
    /// Cancel a working order.
    Cancel(OrderId),
    /// Call [`Strategy::on_timer`] at (or, if already past, right after) this time.
    Timer(UnixNanos),
    /// Merge every complete set held in this window (`min(Up, Down)` shares of each become as
    /// many pUSD, no fee; protocols.md §9), freeing the capital before the window resolves. The
    /// engine books it at once ([`MarketView::position`] shows it on the next callback); a live
    /// executor carries it out as a CTF merge. Nothing happens when no complete set is held.
    Merge(String),
}

/// Stable reason codes for [`Ctx::skip`] shared by the strategies polyedge ships (snake_case;
/// reports count them per code, and the decision log will record them, so they never change
/// meaning). A strategy may use its own codes too.
pub mod skip {
    /// The window has no book yet (no data received for its tokens).
    pub const NO_BOOK: &str = "no_book";
    /// The side the strategy wanted to buy has no ask (or to sell, no bid).
    pub const NO_QUOTE: &str = "no_quote";
    /// The fair-value model had no fresh reference series for the asset.
    pub const NO_REFERENCE: &str = "no_reference";
    /// The window's strike is not known yet.
    pub const NO_STRIKE: &str = "no_strike";
    /// Too few returns for the volatility yet.
    pub const NO_VOL: &str = "no_vol";
    /// The model refused its inputs.
    pub const MODEL_ERROR: &str = "model_error";
    /// The best edge after fees is below the strategy's threshold.
    pub const EDGE_BELOW_THRESHOLD: &str = "edge_below_threshold";
    /// The edge is above the strategy's maximum (distrusted as a data error).
    pub const EDGE_ABOVE_MAX: &str = "edge_above_max";
    /// Less time left in the window than the strategy's minimum.
    pub const TOO_LATE: &str = "too_late";
    /// Not yet in the strategy's entry span (too little of the window elapsed).
    pub const TOO_EARLY: &str = "too_early";
    /// Past the strategy's entry span.
    pub const PAST_ENTRY_SPAN: &str = "past_entry_span";
    /// The strategy's entries for this window are used up.
    pub const ENTRIES_USED: &str = "entries_used";
    /// Waiting out the strategy's cooldown after its last order on this window.
    pub const COOLDOWN: &str = "cooldown";
    /// An order of the strategy is still working on this window.
    pub const ORDER_WORKING: &str = "order_working";
    /// Sizing left less than the minimum order (caps, depth, bankroll).
    pub const SIZE_BELOW_MIN: &str = "size_below_min";
    /// Momentum: fewer reference points since the start than required.
    pub const TOO_FEW_POINTS: &str = "too_few_points";
    /// Momentum: the move since the strike is below the threshold.
    pub const MOVE_TOO_SMALL: &str = "move_too_small";
    /// Momentum: the path is not steady enough (R² below the threshold).
    pub const NOT_STEADY: &str = "not_steady";
    /// Complete set: Up ask + Down ask + fees leave less than the required margin.
    pub const PAIR_NOT_CHEAP: &str = "pair_not_cheap";
    /// The strategy's own per-window limit (shares or notional) is reached.
    pub const WINDOW_LIMIT: &str = "window_limit";
    /// Market maker: the window's quotes were pulled before its end.
    pub const PULLED: &str = "pulled";
    /// Market maker: neither side could be quoted (inventory, window cost, price bounds).
    pub const NO_QUOTABLE_SIDE: &str = "no_quotable_side";
    /// Model strategy: the model's confidence (its probability of the more likely outcome) is
    /// below the strategy's entry threshold.
    pub const LOW_CONFIDENCE: &str = "low_confidence";
    /// Model strategy: paused because the model's rolling accuracy fell below its floor.
    pub const PAUSED: &str = "paused";
    /// The risk check refused the strategy's order on this window: it does not try again there.
    pub const RISK_REFUSED: &str = "risk_refused";

    /// The code for a fair-value estimate that has no probability: the model's own reason when
    /// it gives one, else [`NO_STRIKE`] if the window's strike is unknown, else
    /// [`NO_REFERENCE`].
    pub fn of_estimate(e: &polyedge_model::Estimate) -> &'static str {
        match e.skip {
            Some(r) => of_model(r),
            None if e.strike.is_none() => NO_STRIKE,
            None => NO_REFERENCE,
        }
    }

    /// The code of a fair-value model's reason for having no estimate.
    pub fn of_model(reason: polyedge_model::SkipReason) -> &'static str {
        match reason {
            polyedge_model::SkipReason::NoReference => NO_REFERENCE,
            polyedge_model::SkipReason::NoStrike => NO_STRIKE,
            polyedge_model::SkipReason::NoVol => NO_VOL,
            polyedge_model::SkipReason::ModelError => MODEL_ERROR,
        }
    }

    #[cfg(test)]
    mod tests {
        use polyedge_model::{Estimate, SkipReason};

        #[test]
        fn an_estimate_without_a_probability_is_coded_by_its_reason_then_its_strike() {
            let none = Estimate::default();
            assert_eq!(super::of_estimate(&none), super::NO_STRIKE);
            let with_strike = Estimate {
                strike: Some(100_000.0),
                ..none
            };
            assert_eq!(super::of_estimate(&with_strike), super::NO_REFERENCE);
            let model_says = Estimate {
                skip: Some(SkipReason::NoVol),
                ..with_strike
            };
            assert_eq!(super::of_estimate(&model_says), super::NO_VOL);
        }
    }
}

/// A strategy's reason for not trading a window now ([`Ctx::skip`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The window.
    pub window: String,
    /// A stable reason code ([`skip`]).
    pub reason: &'static str,
    /// The trade it considered, when it had one ([`Ctx::skip_signal`]): what the counterfactual
    /// of the skip is computed on.
    pub signal: Option<Signal>,
}

/// A trade a strategy considered and did not make: one share of `outcome` bought or sold at
/// `price` (pUSD per share), with the strategy's fair value of that outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// The outcome token.
    pub outcome: Outcome,
    /// Buy or sell.
    pub side: Side,
    /// The price it would have traded at (the best ask for a buy, the best bid for a sell).
    pub price: Price,
    /// Its fair value of one share of `outcome`, if it had one.
    pub fair_value: Option<Price>,
}

/// What a strategy gets on each callback: the market view and an action queue.
pub struct Ctx<'a> {
    view: &'a dyn MarketView,
    next_id: &'a mut u64,
    actions: Vec<Action>,
    skips: Vec<Skip>,
}

impl<'a> Ctx<'a> {
    /// A context over `view`; order ids are drawn from `next_id` (incremented per submit).
    pub fn new(view: &'a dyn MarketView, next_id: &'a mut u64) -> Self {
        Ctx {
            view,
            next_id,
            actions: Vec::new(),
            skips: Vec::new(),
        }
    }

    /// The market view.
    pub fn view(&self) -> &dyn MarketView {
        self.view
    }

    /// The decision time.
    pub fn now(&self) -> UnixNanos {
        self.view.now()
    }

    /// Nanoseconds left before `slug` ends (0 when ended or unknown).
    pub fn time_left_ns(&self, slug: &str) -> u64 {
        self.view
            .window(slug)
            .map_or(0, |w| w.end.0.saturating_sub(self.now().0))
    }

    /// Queues `intent` for submission; its `id` is replaced by a fresh one, which is returned.
    pub fn submit(&mut self, intent: OrderIntent) -> OrderId {
        self.submit_inner(intent, None)
    }

    /// As [`Ctx::submit`], recording `fair_value` (micro-pUSD per share of the order's outcome,
    /// the strategy's own estimate at decision time) for the report's edge at entry.
    pub fn submit_with_fair_value(&mut self, intent: OrderIntent, fair_value: Price) -> OrderId {
        self.submit_inner(intent, Some(fair_value))
    }

    fn submit_inner(&mut self, mut intent: OrderIntent, fair_value: Option<Price>) -> OrderId {
        *self.next_id += 1;
        let id = OrderId(*self.next_id);
        intent.id = id;
        self.actions.push(Action::Submit { intent, fair_value });
        id
    }

    /// Queues a cancel of `order`.
    pub fn cancel(&mut self, order: OrderId) {
        self.actions.push(Action::Cancel(order));
    }

    /// Queues a cancel of every working order of this strategy on `slug`.
    pub fn cancel_window(&mut self, slug: &str) {
        let ids: Vec<OrderId> = self
            .view
            .open_orders()
            .iter()
            .filter(|o| o.window == slug)
            .map(|o| o.id)
            .collect();
        for id in ids {
            self.cancel(id);
        }
    }

    /// Asks for [`Strategy::on_timer`] at `at`.
    pub fn set_timer(&mut self, at: UnixNanos) {
        self.actions.push(Action::Timer(at));
    }

    /// Queues a merge of every complete set held in `slug` ([`Action::Merge`]).
    pub fn merge(&mut self, slug: &str) {
        self.actions.push(Action::Merge(slug.to_string()));
    }

    /// Says the strategy looked at `slug` now and did not trade, for `reason` (a stable code,
    /// [`skip`]). Counted per reason by the engine; no effect on trading.
    ///
    /// `slug` is a `&str` or, to save a copy, an owned `String`.
    pub fn skip(&mut self, slug: impl Into<String>, reason: &'static str) {
        self.skips.push(Skip {
            window: slug.into(),
            reason,
            signal: None,
        });
    }

    /// As [`Ctx::skip`], with the trade the strategy considered ([`Signal`]): the decision log
    /// records it and the report computes what it would have earned at resolution.
    pub fn skip_signal(&mut self, slug: &str, reason: &'static str, signal: Signal) {
        self.skips.push(Skip {
            window: slug.to_string(),
            reason,
            signal: Some(signal),
        });
    }

    /// The queued actions, in order, consuming the context.
    pub fn into_actions(self) -> Vec<Action> {
        self.actions
    }

    /// The queued actions and the skips reported, each in order, consuming the context.
    pub fn into_parts(self) -> (Vec<Action>, Vec<Skip>) {
        (self.actions, self.skips)
    }
}

/// A trading strategy. All callbacks default to doing nothing except [`Strategy::on_event`].
pub trait Strategy: Send {
    /// Name, used in results.
    fn name(&self) -> &str;
    /// The fair-value settings whose estimates this strategy reads through
    /// [`MarketView::fair_value`]; the engine keeps one reference state per distinct series
    /// configuration among them. Default: none.
    fn fair_value_configs(&self) -> Vec<OnlineConfig> {
        Vec::new()
    }
    /// A market event was received at `ctx.now()` (the market state already includes it).
    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent);
    /// A timer set with [`Ctx::set_timer`] fired at `now`.
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, now: UnixNanos) {
        let _ = (ctx, now);
    }
    /// An execution report about one of this strategy's orders.
    fn on_report(&mut self, ctx: &mut Ctx<'_>, report: &ExecReport) {
        let _ = (ctx, report);
    }
    /// A window changed lifecycle phase.
    fn on_window(&mut self, ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        let _ = (ctx, window, phase);
    }
}
