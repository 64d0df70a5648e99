//! Market maker: post-only bids on both outcomes around the model's fair value, refreshed on a
//! move or a heartbeat, skewed by inventory, pulled before the end.
//!
//! **Idea** (seed `poly-edge-sprint-plan.md`, Sprint 6 "Market Making Strategy"): "Spread: 4
//! cents wide around fair_yes. E.g. fair=0.52 -> bid YES 0.50, ask YES 0.54"; "ALL orders
//! PostOnly"; "Quote both YES and NO sides"; "Refresh triggers: a) Price moves > 1.5 cents from
//! last quote midpoint b) Every 30 seconds as heartbeat. On refresh: cancel all resting orders,
//! place new batch"; "net_inventory = yes_shares - no_shares. If net_inventory > 0: lower YES bid
//! by 1 cent, raise NO bid by 1 cent"; "Max inventory: 200 shares per side … If exceeded: stop
//! quoting the full side"; fair value from the model, else the fallback
//! "fair_yes = 0.50 + k x (chainlink − open)/open, k = 5.0".
//!
//! **Rule.** Asking Up at `f + s/2` is, on Polymarket's one pool, bidding Down at
//! `1 − f − s/2` (protocols §9), so both quotes are **bids**: Up at `f − s/2 − k` and Down at
//! `(1 − f) − s/2 + k`, where `f` is the model's `P(Up)` (the engine's reference state, [`MarketView::fair_value`], or the seed's
//! linear fallback when the volatility is not yet known), `s` the spread and the skew
//! `k = sign(net) × skew_step × min(max_skew_steps, ⌈|net| / skew_unit_shares⌉)`. Each bid is
//! rounded down to the tick, kept at least one tick below fair value (the skew never pays more
//! than fair) and below the best ask (post-only must not cross). Nothing is quoted before the
//! window's book has shown data. Orders are post-only GTD, expiring `pull_secs` before the
//! window end.
//!
//! Quotes are replaced when `f` moved by `refresh_move` since the last quote, every
//! `refresh_secs` (a timer keeps the heartbeat without events), or when our inventory changed:
//! first every working order of ours in the window is cancelled, and the new quotes are posted
//! once the last of them is gone (old and new quotes never both count against the risk limits;
//! cancels are re-sent after 1 s if one went missing). A side whose held shares plus the new
//! bid would exceed `max_inventory_shares`, or whose bid would take the window's bought notional
//! over `max_window_cost`, is not quoted. At [`WindowPhase::Closing`] every quote is cancelled
//! and the window is not quoted again.
//!
//! **Limitations.** Fills of resting orders are inferred from book snapshots (trade-through or
//! shrink after our queue is gone, `docs/fill-model.md` §5): there is no trade tape in the data,
//! so maker fill rates are uncertain in both directions. The fair value lags the market when the
//! spot is a 1-minute kline (cronos); a lagging fair value is exactly what gets picked off.

use std::collections::BTreeMap;

use polyedge_core::{
    Cash, ExecReport, MarketEvent, OrderId, OrderIntent, Outcome, Price, Side, Size, TimeInForce,
    UnixNanos, Window,
};
use polyedge_model::{Estimate, ModelError, OnlineConfig};
use serde::{Deserialize, Serialize};

use crate::sizing::{min_shares, price_of_prob, tick_size, whole_shares};
use crate::{Ctx, Strategy, WindowPhase, affected_windows, skip};

/// Parameters (serde/TOML: every field optional; prices as decimal strings in pUSD per share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketMakerParams {
    /// The fair-value model.
    pub fair: OnlineConfig,
    /// Full quote width around fair value (default "0.04", seed "4 cents wide").
    #[serde(with = "crate::params::price")]
    pub spread: Price,
    /// Requote when fair value moved at least this much since the last quote (default "0.015").
    #[serde(with = "crate::params::price")]
    pub refresh_move: Price,
    /// Heartbeat requote interval, seconds (default 30).
    pub refresh_secs: u64,
    /// Shares per quote (default 10; at least the venue minimum of 5).
    pub quote_shares: u64,
    /// Skew per step (default "0.01", seed "lower YES bid by 1 cent").
    #[serde(with = "crate::params::price")]
    pub skew_step: Price,
    /// Net inventory (shares) per skew step (default 10, one filled quote).
    pub skew_unit_shares: u64,
    /// Most skew steps (default 3).
    pub max_skew_steps: u64,
    /// Stop bidding a side whose held + bid shares reach this (default 200, seed "Max
    /// inventory: 200 shares per side").
    pub max_inventory_shares: u64,
    /// Most notional bought per window, fills plus the new quotes, pUSD (default "20", the
    /// risk default per window): a side that would exceed it is not quoted.
    #[serde(with = "crate::params::cash")]
    pub max_window_cost: Cash,
    /// Seed fallback `f = 0.5 + k·(spot − strike)/strike` when the model has no volatility yet
    /// (default 5.0; 0 disables the fallback: no quotes without the model).
    pub fallback_k: f64,
    /// Quotes expire this long before the window end and none are posted later, seconds
    /// (default 30, the risk minimum time left and the engine's `Closing` lead).
    pub pull_secs: u64,
    /// No quotes before this many seconds of the window have passed (default 0).
    pub min_elapsed_s: u64,
}

impl Default for MarketMakerParams {
    fn default() -> Self {
        MarketMakerParams {
            fair: OnlineConfig::default(),
            spread: Price::from_micros(40_000).unwrap_or(Price::ZERO),
            refresh_move: Price::from_micros(15_000).unwrap_or(Price::ZERO),
            refresh_secs: 30,
            quote_shares: 10,
            skew_step: Price::from_micros(10_000).unwrap_or(Price::ZERO),
            skew_unit_shares: 10,
            max_skew_steps: 3,
            max_inventory_shares: 200,
            max_window_cost: Cash(20_000_000),
            fallback_k: 5.0,
            pull_secs: 30,
            min_elapsed_s: 0,
        }
    }
}

/// Quote state of one window.
#[derive(Debug, Clone, Copy, Default)]
struct Quoted {
    fair: Option<f64>,
    at: UnixNanos,
    inventory: (u64, u64),
    pulled: bool,
    /// A replace is under way: cancels sent at this time, new quotes wait for them to land.
    cancelling: Option<UnixNanos>,
}

/// The market maker. See the module docs.
#[derive(Debug, Clone)]
pub struct MarketMaker {
    params: MarketMakerParams,
    windows: BTreeMap<String, Quoted>,
}

/// Two bids for one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotes {
    /// Up bid (`None`: that side is not quoted).
    pub up: Option<Price>,
    /// Down bid.
    pub down: Option<Price>,
}

impl MarketMaker {
    /// A strategy with `params`.
    ///
    /// # Errors
    /// Invalid model parameters ([`OnlineConfig::estimate_spec`]).
    pub fn new(params: MarketMakerParams) -> Result<Self, ModelError> {
        params.fair.estimate_spec()?;
        Ok(MarketMaker {
            params,
            windows: BTreeMap::new(),
        })
    }

    /// Fair `P(Up)` from the model's estimate `e` of a window now: the model's probability,
    /// else the seed's linear fallback.
    fn fair_up(&self, e: &Estimate) -> Option<f64> {
        if let Some(p) = e.p_up {
            return Some(p);
        }
        let k = self.params.fallback_k;
        match (e.spot, e.strike) {
            (Some(s), Some(x)) if k > 0.0 && x > 0.0 => {
                Some((0.5 + k * (s - x) / x).clamp(0.01, 0.99))
            }
            _ => None,
        }
    }

    /// The bid of one side: `fair_side − spread/2 + adj` (micro-pUSD), down to the tick, at
    /// most `fair_side − tick` and `best_ask − tick`, at least one tick.
    fn bid(
        fair_side: f64,
        half: i64,
        adj: i64,
        tick: Price,
        best_ask: Option<Price>,
    ) -> Option<Price> {
        let t = i64::from(tick.micros()).max(1);
        // Fair value to the micro first, then exact integer arithmetic.
        let fair = i64::from(price_of_prob(fair_side).micros());
        let mut micros = (fair - half + adj).min(fair - t).div_euclid(t) * t;
        if let Some(a) = best_ask {
            micros = micros.min((i64::from(a.micros()) - t).div_euclid(t) * t);
        }
        if micros < t || micros > 1_000_000 - t {
            return None;
        }
        u32::try_from(micros)
            .ok()
            .and_then(|m| Price::from_micros(m).ok())
    }

    /// The quotes for fair value `f` with net inventory `net` (Up − Down shares).
    pub fn quotes(
        &self,
        f: f64,
        net: i64,
        tick: Price,
        asks: (Option<Price>, Option<Price>),
    ) -> Quotes {
        let p = &self.params;
        let half = i64::from(p.spread.micros() / 2);
        let steps = if p.skew_unit_shares == 0 {
            0
        } else {
            net.unsigned_abs()
                .div_ceil(p.skew_unit_shares)
                .min(p.max_skew_steps)
        };
        let steps = i64::try_from(steps).unwrap_or(i64::MAX);
        let skew = i64::from(p.skew_step.micros()).saturating_mul(steps) * net.signum();
        Quotes {
            up: Self::bid(f, half, -skew, tick, asks.0),
            down: Self::bid(1.0 - f, half, skew, tick, asks.1),
        }
    }

    fn maybe_quote(&mut self, ctx: &mut Ctx<'_>, slug: &str, force: bool) {
        let now = ctx.now();
        let state = self.windows.get(slug).copied().unwrap_or_default();
        if state.pulled {
            return ctx.skip(slug, skip::PULLED);
        }
        let view = ctx.view();
        let Some(w) = view.window(slug).cloned() else {
            return;
        };
        let p = &self.params;
        let pull_at = w.end.0.saturating_sub(p.pull_secs * UnixNanos::PER_SEC);
        // Leave a second for the order to arrive before its expiry.
        if now.0.saturating_add(UnixNanos::PER_SEC) >= pull_at {
            return ctx.skip(slug, skip::PULLED);
        }
        if now.saturating_sub(w.start) < p.min_elapsed_s * UnixNanos::PER_SEC {
            return ctx.skip(slug, skip::TOO_EARLY);
        }
        // No quotes into a book we have never seen.
        let Some(book) = view.book(slug).filter(|b| b.last_update().is_some()) else {
            return ctx.skip(slug, skip::NO_BOOK);
        };
        let asks = (
            book.best_ask(Outcome::Up).map(|l| l.level.price),
            book.best_ask(Outcome::Down).map(|l| l.level.price),
        );
        let up_held = whole_shares(view.position(slug, Outcome::Up));
        let down_held = whole_shares(view.position(slug, Outcome::Down));
        let est = view.fair_value(&w, &self.params.fair);
        let Some(f) = self.fair_up(&est) else {
            return ctx.skip(slug, skip::of_estimate(&est));
        };
        let p = &self.params;
        let moved = state
            .fair
            .is_none_or(|q| (f - q).abs() >= p.refresh_move.to_f64());
        let due = now.0
            >= state
                .at
                .0
                .saturating_add(p.refresh_secs * UnixNanos::PER_SEC);
        let inventory_changed = state.inventory != (up_held, down_held);
        if !(force || moved || due || inventory_changed) {
            return;
        }
        // Cancel-replace in two steps: the new quotes go out once the old ones are gone, so the
        // window never carries both (the risk limits count working orders).
        let working = ctx.view().open_orders().iter().any(|o| o.window == slug);
        if working {
            let resend = state
                .cancelling
                .is_none_or(|at| now.0 >= at.0.saturating_add(UnixNanos::PER_SEC));
            if resend {
                ctx.cancel_window(slug);
                self.windows.insert(
                    slug.to_string(),
                    Quoted {
                        cancelling: Some(now),
                        ..state
                    },
                );
            }
            return;
        }
        let view = ctx.view();
        let tick = tick_size(view, slug);
        let net = i64::try_from(up_held).unwrap_or(i64::MAX)
            - i64::try_from(down_held).unwrap_or(i64::MAX);
        let q = self.quotes(f, net, tick, asks);
        let p = &self.params;
        let size = p.quote_shares.max(min_shares(view, slug, 0));
        let mut orders = Vec::new();
        let mut cost = view.window_bought(slug);
        for (outcome, price, held) in [
            (Outcome::Up, q.up, up_held),
            (Outcome::Down, q.down, down_held),
        ] {
            let Some(price) = price else { continue };
            // The new bid replaces the working ones (cancelled above): held + this bid.
            if held + size > p.max_inventory_shares {
                continue;
            }
            let notional = price.notional(Size::from_shares(size));
            if cost + notional > p.max_window_cost {
                continue;
            }
            cost += notional;
            let fair_side = if outcome == Outcome::Up { f } else { 1.0 - f };
            orders.push((
                OrderIntent {
                    id: OrderId(0),
                    window: slug.to_string(),
                    outcome,
                    side: Side::Buy,
                    price,
                    size: Size::from_shares(size),
                    tif: TimeInForce::Gtd(UnixNanos(pull_at)),
                    post_only: true,
                },
                price_of_prob(fair_side),
            ));
        }
        if orders.is_empty() {
            // Both sides out of bounds, at the inventory cap or over the window's cost: a
            // decision not to quote, logged; re-examined on the next refresh.
            ctx.skip(slug, skip::NO_QUOTABLE_SIDE);
        }
        for (intent, fv) in orders {
            ctx.submit_with_fair_value(intent, fv);
        }
        ctx.set_timer(UnixNanos(
            now.0
                .saturating_add(self.params.refresh_secs * UnixNanos::PER_SEC),
        ));
        self.windows.insert(
            slug.to_string(),
            Quoted {
                fair: Some(f),
                at: now,
                inventory: (up_held, down_held),
                pulled: false,
                cancelling: None,
            },
        );
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &'static str {
        "market_maker"
    }

    fn fair_value_configs(&self) -> Vec<OnlineConfig> {
        vec![self.params.fair.clone()]
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        for slug in affected_windows(ctx.view(), ev) {
            self.maybe_quote(ctx, &slug, false);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _now: UnixNanos) {
        let slugs: Vec<String> = ctx
            .view()
            .active_windows()
            .iter()
            .map(|w| w.slug.clone())
            .collect();
        for slug in slugs {
            self.maybe_quote(ctx, &slug, false);
        }
    }

    fn on_report(&mut self, ctx: &mut Ctx<'_>, report: &ExecReport) {
        match report {
            // A fill changes the inventory: requote with the new skew.
            ExecReport::Filled(f) => {
                let slug = f.window.clone();
                self.maybe_quote(ctx, &slug, false);
            }
            // An order gone: if a replace waits for it, post the new quotes.
            ExecReport::Cancelled { .. } | ExecReport::Rejected { .. } => {
                let waiting: Vec<String> = self
                    .windows
                    .iter()
                    .filter(|(_, q)| q.cancelling.is_some() && !q.pulled)
                    .map(|(s, _)| s.clone())
                    .collect();
                for slug in waiting {
                    self.maybe_quote(ctx, &slug, true);
                }
            }
            ExecReport::Accepted { .. } => {}
        }
    }

    fn on_window(&mut self, ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        match phase {
            WindowPhase::Closing => {
                ctx.cancel_window(&window.slug);
                self.windows.entry(window.slug.clone()).or_default().pulled = true;
            }
            WindowPhase::Resolved(_) => {
                self.windows.remove(&window.slug);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    #[test]
    fn quotes_around_fair_with_skew() {
        let mm = MarketMaker::new(MarketMakerParams::default()).unwrap();
        let tick = px("0.01");
        // Seed example: fair 0.52 → bid Up 0.50, "ask Up 0.54" = bid Down 0.46.
        let q = mm.quotes(0.52, 0, tick, (None, None));
        assert_eq!(q.up, Some(px("0.50")));
        assert_eq!(q.down, Some(px("0.46")));
        // Long 10 Up: Up bid 1 ¢ lower, Down bid 1 ¢ higher.
        let q = mm.quotes(0.52, 10, tick, (None, None));
        assert_eq!(q.up, Some(px("0.49")));
        assert_eq!(q.down, Some(px("0.47")));
        // The skew is capped (3 steps) and never bids at or above fair value.
        let q = mm.quotes(0.52, -1_000, tick, (None, None));
        assert_eq!(q.up, Some(px("0.51")));
        assert_eq!(q.down, Some(px("0.43")));
        // Post-only: stays below the best ask.
        let q = mm.quotes(0.52, 0, tick, (Some(px("0.49")), None));
        assert_eq!(q.up, Some(px("0.48")));
    }
}
