//! The random baseline beside each strategy: its **random twin**.
//!
//! A strategy's result is only interesting next to what the same activity would have earned
//! without its signal. The twin of strategy S, run over the same data in a second pass with the
//! same engine configuration, copies S's *activity* and replaces its *choices* by coin flips:
//!
//! * for every **buy** order of S that filled at least partly, at the order's decision time
//!   (the first event received at or after it), the twin buys the shares S got filled
//!   (at least the window's minimum order size) of a **random outcome** (fair coin), as a FAK
//!   limit order at that outcome's best ask — a taker at the touch;
//! * S's sells and its unfilled orders are not copied (the twin holds to settlement).
//!
//! So the twin trades the same windows, at the same moments, with the same share volume, and
//! pays the taker fees and the latency/taker delay of the same fill model. It can fill less
//! than S (the book may move during the latency; a FAK at the ask is then partly killed), and it
//! trades orders that found no ask at decision time not at all (counted in `skipped`). The coin
//! is drawn for every copied order, in order, from [`XorShift64`] seeded by the run's seed mixed
//! with S's name ([`twin_seed`]), so a run is deterministic.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polyedge_core::{
    MarketEvent, OrderId, OrderIntent, Outcome, Side, Size, TimeInForce, UnixNanos,
};
use polyedge_engine::StrategyResult;
use polyedge_strategies::{Ctx, Strategy, XorShift64};

/// Prefix of a twin's name: the twin of `complete_set` is `baseline:complete_set`.
pub const PREFIX: &str = "baseline:";

/// The seed of the twin of `strategy`: `seed` XOR the 64-bit FNV-1a hash of the name.
pub fn twin_seed(seed: u64, strategy: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in strategy.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    seed ^ h
}

/// One order to copy: decision time, window, shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// S's decision time (ns since epoch).
    pub at: UnixNanos,
    /// Window slug.
    pub window: String,
    /// Shares S got filled.
    pub shares: Size,
}

/// The orders of `result` the twin copies (buys with a fill), in decision order.
pub fn schedule(result: &StrategyResult) -> Vec<Copy> {
    let mut v: Vec<(UnixNanos, u64, Copy)> = result
        .orders
        .iter()
        .filter(|o| o.intent.side == Side::Buy && !o.filled.is_zero())
        .map(|o| {
            (
                o.decided_at,
                o.intent.id.0,
                Copy {
                    at: o.decided_at,
                    window: o.intent.window.clone(),
                    shares: o.filled,
                },
            )
        })
        .collect();
    v.sort_by_key(|(at, id, _)| (*at, *id));
    v.into_iter().map(|(_, _, c)| c).collect()
}

/// The random twin of one strategy. See the module docs.
pub struct RandomTwin {
    name: String,
    pending: VecDeque<Copy>,
    rng: XorShift64,
    default_min: Size,
    skipped: Arc<AtomicU64>,
}

impl RandomTwin {
    /// The twin of `strategy` copying `schedule`, seeded with `seed` (see [`twin_seed`]);
    /// `default_min` is the minimum order size where the window has none.
    pub fn new(strategy: &str, schedule: Vec<Copy>, seed: u64, default_min: Size) -> Self {
        RandomTwin {
            name: twin_name(strategy),
            pending: schedule.into(),
            rng: XorShift64::new(twin_seed(seed, strategy)),
            default_min,
            skipped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counter of copied orders that found no ask (or no active window) and were not sent.
    pub fn skipped_counter(&self) -> Arc<AtomicU64> {
        self.skipped.clone()
    }
}

impl Strategy for RandomTwin {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        let now = ctx.now();
        while self.pending.front().is_some_and(|c| c.at <= now) {
            let Some(c) = self.pending.pop_front() else {
                break;
            };
            let outcome = if self.rng.coin() {
                Outcome::Up
            } else {
                Outcome::Down
            };
            let view = ctx.view();
            let active = view.active_windows().iter().any(|w| w.slug == c.window);
            let min = view
                .window(&c.window)
                .and_then(|w| w.min_order_size)
                .unwrap_or(self.default_min);
            let ask = view
                .book(&c.window)
                .and_then(|b| b.best_ask(outcome))
                .map(|a| a.level.price);
            let (true, Some(price)) = (active, ask) else {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            ctx.submit(OrderIntent {
                id: OrderId(0),
                window: c.window,
                outcome,
                side: Side::Buy,
                price,
                size: if c.shares < min { min } else { c.shares },
                tif: TimeInForce::Fak,
                post_only: false,
            });
        }
    }
}

/// The name of `strategy`'s random twin.
pub fn twin_name(strategy: &str) -> String {
    format!("{PREFIX}{strategy}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_by_strategy_and_seed() {
        assert_ne!(twin_seed(1, "a"), twin_seed(1, "b"));
        assert_ne!(twin_seed(1, "a"), twin_seed(2, "a"));
        assert_eq!(twin_seed(7, "x"), twin_seed(7, "x"));
    }
}
