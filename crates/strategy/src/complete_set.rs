//! Complete-set arbitrage: buy one Up and one Down share when together, with taker fees, they
//! cost less than the $1 the pair is worth at settlement, by a margin that tightens with the
//! time left in the window.
//!
//! The margin steps down at thirds of the window: more than 2/3 left → `margin_early_bps`,
//! more than 1/3 → `margin_mid_bps`, else `margin_late_bps` (seed defaults 2.5 % / 1.5 % / 0.5 %).
//! Both legs go out as FAK limit orders at the best asks seen, sized to the smaller top level.
//!
//! Known limitation (leg risk): the legs are independent orders; if one fills and the other is
//! killed (the book moved during the order latency), the strategy keeps a one-sided position to
//! settlement. It neither unwinds nor completes the set later.

use std::collections::BTreeMap;

use polyedge_core::{
    Cash, MarketEvent, OrderId, OrderIntent, Outcome, Price, Side, Size, TimeInForce, UnixNanos,
};
use serde::{Deserialize, Serialize};

use crate::{Ctx, Strategy};

/// Parameters (serde/TOML: every field optional, defaults as documented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompleteSetParams {
    /// Required edge per pair, in basis points of $1, while more than 2/3 of the window is left
    /// (default 250 = 2.5 %).
    pub margin_early_bps: u32,
    /// Required edge while between 1/3 and 2/3 of the window is left (default 150 = 1.5 %).
    pub margin_mid_bps: u32,
    /// Required edge in the last third of the window (default 50 = 0.5 %).
    pub margin_late_bps: u32,
    /// Pairs to buy per attempt (default 10 shares of each leg).
    pub shares: u64,
    /// Smallest pair count worth sending (default 5, the venue minimum order size).
    pub min_shares: u64,
    /// Most pairs bought per window (default 50).
    pub max_pairs_per_window: u64,
    /// Wait after an attempt on a window before the next (default 1 000 ms).
    pub cooldown_ms: u64,
}

impl Default for CompleteSetParams {
    fn default() -> Self {
        CompleteSetParams {
            margin_early_bps: 250,
            margin_mid_bps: 150,
            margin_late_bps: 50,
            shares: 10,
            min_shares: 5,
            max_pairs_per_window: 50,
            cooldown_ms: 1_000,
        }
    }
}

impl CompleteSetParams {
    /// The margin (bps) required with `left_ns` of a `total_ns` window left.
    pub fn margin_bps(&self, left_ns: u64, total_ns: u64) -> u32 {
        let left = u128::from(left_ns) * 3;
        let total = u128::from(total_ns);
        if left > total * 2 {
            self.margin_early_bps
        } else if left > total {
            self.margin_mid_bps
        } else {
            self.margin_late_bps
        }
    }
}

/// The complete-set strategy. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct CompleteSet {
    params: CompleteSetParams,
    attempted: BTreeMap<String, (u64, UnixNanos)>,
    orders: Vec<OrderId>,
}

impl CompleteSet {
    /// A strategy with `params`.
    pub fn new(params: CompleteSetParams) -> Self {
        CompleteSet {
            params,
            attempted: BTreeMap::new(),
            orders: Vec::new(),
        }
    }

    /// Ids of all orders sent so far.
    pub fn orders(&self) -> &[OrderId] {
        &self.orders
    }

    fn try_window(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        let now = ctx.now();
        let p = &self.params;
        let (done, last) = self
            .attempted
            .get(slug)
            .copied()
            .unwrap_or((0, UnixNanos(0)));
        if done > 0
            && now.0
                < last
                    .0
                    .saturating_add(p.cooldown_ms.saturating_mul(1_000_000))
        {
            return;
        }
        let view = ctx.view();
        let (Some(w), Some(book)) = (view.window(slug), view.book(slug)) else {
            return;
        };
        let (Some(up), Some(down)) = (book.best_ask(Outcome::Up), book.best_ask(Outcome::Down))
        else {
            return;
        };
        let room = p.max_pairs_per_window.saturating_sub(done);
        let want = Size::from_shares(p.shares.min(room));
        let size = want.min(up.level.size).min(down.level.size);
        // Whole shares only keep the legs on any size grid.
        let size = Size::from_shares(size.micros() / 1_000_000);
        if size < Size::from_shares(p.min_shares) || size.is_zero() {
            return;
        }
        let fees = view.fee_schedule(slug);
        let fee = |price: Price| fees.map_or(Cash::ZERO, |f| f.taker_fee(size, price));
        let cost = up.level.price.notional(size)
            + down.level.price.notional(size)
            + fee(up.level.price)
            + fee(down.level.price);
        let payout = Cash(i64::try_from(size.micros()).unwrap_or(i64::MAX));
        let total = w.end.0.saturating_sub(w.start.0);
        let left = w.end.0.saturating_sub(now.0);
        let margin = i128::from(self.params.margin_bps(left, total));
        // Edge ≥ margin·payout  ⇔  (payout − cost)·10 000 ≥ margin·payout.
        let edge = i128::from((payout - cost).micros()) * 10_000;
        if edge < margin * i128::from(payout.micros()) {
            return;
        }
        let (up_px, down_px) = (up.level.price, down.level.price);
        let slug = w.slug.clone();
        let pairs = size.micros() / 1_000_000;
        for (outcome, price) in [(Outcome::Up, up_px), (Outcome::Down, down_px)] {
            let id = ctx.submit(OrderIntent {
                id: OrderId(0),
                window: slug.clone(),
                outcome,
                side: Side::Buy,
                price,
                size,
                tif: TimeInForce::Fak,
                post_only: false,
            });
            self.orders.push(id);
        }
        self.attempted.insert(slug, (done + pairs, now));
    }
}

impl Strategy for CompleteSet {
    fn name(&self) -> &'static str {
        "complete_set"
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        if ev.kind.token().is_none() {
            return;
        }
        let slugs: Vec<String> = ctx
            .view()
            .active_windows()
            .iter()
            .filter(|w| {
                ev.kind
                    .token()
                    .is_some_and(|t| w.up_token == Some(t) || w.down_token == Some(t))
            })
            .map(|w| w.slug.clone())
            .collect();
        for slug in slugs {
            self.try_window(ctx, &slug);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_defaults_and_partial_override() {
        let p: CompleteSetParams = serde_json::from_str(r#"{"shares": 20}"#).unwrap();
        assert_eq!(p.shares, 20);
        assert_eq!(p.margin_early_bps, 250);
        assert_eq!(p.margin_bps(300, 300), 250);
        assert_eq!(p.margin_bps(150, 300), 150);
        assert_eq!(p.margin_bps(50, 300), 50);
    }
}
