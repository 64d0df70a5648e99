//! A random baseline: at a fixed rate, buys a random side of each active window at its best ask
//! with a fixed size. Deterministic for a given seed.

use std::collections::BTreeMap;

use polyedge_core::{
    MarketEvent, OrderId, OrderIntent, Outcome, Side, Size, TimeInForce, UnixNanos,
};
use serde::{Deserialize, Serialize};

use crate::{Ctx, Strategy};

/// A xorshift64 generator (Marsaglia 2003): small, fast, deterministic; not for cryptography.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// A generator from `seed` (0 is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        XorShift64(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A fair coin.
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }
}

/// Parameters (serde/TOML: every field optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomParams {
    /// RNG seed (default 1).
    pub seed: u64,
    /// Shares per order (default 10, as [`crate::CompleteSetParams::shares`]).
    pub shares: u64,
    /// Seconds between orders on one window (default 60).
    pub interval_secs: u64,
}

impl Default for RandomParams {
    fn default() -> Self {
        RandomParams {
            seed: 1,
            shares: 10,
            interval_secs: 60,
        }
    }
}

/// The random baseline strategy.
#[derive(Debug, Clone)]
pub struct RandomBaseline {
    params: RandomParams,
    rng: XorShift64,
    next_at: BTreeMap<String, UnixNanos>,
}

impl RandomBaseline {
    /// A strategy with `params`.
    pub fn new(params: RandomParams) -> Self {
        RandomBaseline {
            rng: XorShift64::new(params.seed),
            params,
            next_at: BTreeMap::new(),
        }
    }
}

impl Strategy for RandomBaseline {
    fn name(&self) -> &'static str {
        "random"
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        let now = ctx.now();
        let mut orders = Vec::new();
        for w in ctx.view().active_windows() {
            if self.next_at.get(&w.slug).is_some_and(|t| now < *t) {
                continue;
            }
            let Some(book) = ctx.view().book(&w.slug) else {
                continue;
            };
            let outcome = if self.rng.coin() {
                Outcome::Up
            } else {
                Outcome::Down
            };
            let Some(ask) = book.best_ask(outcome) else {
                continue;
            };
            self.next_at.insert(
                w.slug.clone(),
                UnixNanos(
                    now.0.saturating_add(
                        self.params.interval_secs.saturating_mul(UnixNanos::PER_SEC),
                    ),
                ),
            );
            orders.push(OrderIntent {
                id: OrderId(0),
                window: w.slug.clone(),
                outcome,
                side: Side::Buy,
                price: ask.level.price,
                size: Size::from_shares(self.params.shares),
                tif: TimeInForce::Fak,
                post_only: false,
            });
        }
        for o in orders {
            ctx.submit(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_is_deterministic() {
        let (mut a, mut b) = (XorShift64::new(7), XorShift64::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(XorShift64::new(0).next_u64(), 0);
    }
}
