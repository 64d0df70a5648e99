//! A random baseline: at a fixed rate, buys a random side of each active window at its best ask.
//! Deterministic for a given seed.
//!
//! **Idea** (seed `poly-edge-sprint-plan.md` Sprint 5 "Backtesting": "Include baseline: random
//! 50% predictor with same sizing"). A strategy that does no better than this after fees has no
//! edge.
//!
//! **Sizing.** A coin flip has no probability to feed Kelly, so the stake is fixed (`stake`,
//! pUSD) and then goes through the very caps the Kelly strategies use ([`SizingParams`]: visible
//! depth at the best ask, `max_trade`, `max_window_cost`, `max_window_shares`, whole shares, the
//! minimum size). For a like-for-like comparison set `stake` to the mean stake of the strategy
//! compared (its orders are in the backtest report) and `interval_secs` / `max_entries_per_window`
//! to its trade rate. The default (10 pUSD, one entry per window) is half the per-trade cap the
//! quarter-Kelly strategies hit on large edges.

use std::collections::BTreeMap;

use polyedge_core::{
    Cash, MarketEvent, OrderId, OrderIntent, Outcome, Side, Size, TimeInForce, UnixNanos, Window,
};
use serde::{Deserialize, Serialize};

use crate::sizing::SizingParams;
use crate::{Ctx, Strategy, WindowPhase, skip};

/// One step of SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; the constants of Vigna's reference `splitmix64.c`): a bijective
/// mixer whose every output bit depends on every input bit.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A xorshift64 generator (Marsaglia 2003): small, fast, deterministic; not for cryptography.
///
/// The state is the seed passed through [`splitmix64`] (the seeding Vigna recommends for the
/// xorshift family): xorshift64 seeded with a small integer directly produces outputs whose
/// top bits do not depend on the low seed bits for several steps, so seeds 1, 2, 3, … all
/// flipped the same first coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// A generator from `seed`, mixed by [`splitmix64`] (a zero state, which xorshift cannot
    /// leave, is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        let s = splitmix64(seed);
        XorShift64(if s == 0 { 0x9E37_79B9_7F4A_7C15 } else { s })
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

/// Parameters (serde/TOML: every field optional; `[sizing]` is a sub-table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomParams {
    /// RNG seed (default 1).
    pub seed: u64,
    /// Stake per order before the caps, pUSD (default "10").
    #[serde(with = "crate::params::cash")]
    pub stake: Cash,
    /// The caps shared with the Kelly strategies (the Kelly fraction itself is unused).
    pub sizing: SizingParams,
    /// Seconds between orders on one window (default 60).
    pub interval_secs: u64,
    /// Orders per window (default 1, as the fair-value strategy; 0 = no limit).
    pub max_entries_per_window: u32,
    /// No orders with less than this many seconds left (default 30, the risk minimum).
    pub min_time_left_s: u64,
}

impl Default for RandomParams {
    fn default() -> Self {
        RandomParams {
            seed: 1,
            stake: Cash(10_000_000),
            sizing: SizingParams::default(),
            interval_secs: 60,
            max_entries_per_window: 1,
            min_time_left_s: 30,
        }
    }
}

/// The random baseline strategy.
#[derive(Debug, Clone)]
pub struct RandomBaseline {
    params: RandomParams,
    rng: XorShift64,
    next_at: BTreeMap<String, (u32, UnixNanos)>,
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
        let p = &self.params;
        let mut orders = Vec::new();
        // Why each active window got no order on this event (logged by the engine when it
        // changes); after the loop, as the view borrows the context.
        let mut skips: Vec<(String, &'static str)> = Vec::new();
        let view = ctx.view();
        for w in view.active_windows() {
            let (done, next) = self.next_at.get(&w.slug).copied().unwrap_or_default();
            let reason = if p.max_entries_per_window > 0 && done >= p.max_entries_per_window {
                Some(skip::ENTRIES_USED)
            } else if w.end.saturating_sub(now) < p.min_time_left_s * UnixNanos::PER_SEC {
                Some(skip::TOO_LATE)
            } else if now < next {
                Some(skip::COOLDOWN)
            } else {
                None
            };
            if let Some(r) = reason {
                skips.push((w.slug.clone(), r));
                continue;
            }
            let Some(book) = view.book(&w.slug) else {
                skips.push((w.slug.clone(), skip::NO_BOOK));
                continue;
            };
            let outcome = if self.rng.coin() {
                Outcome::Up
            } else {
                Outcome::Down
            };
            let Some(ask) = book.best_ask(outcome) else {
                skips.push((w.slug.clone(), skip::NO_QUOTE));
                continue;
            };
            let price = ask.level.price;
            self.next_at.insert(
                w.slug.clone(),
                (
                    done + 1,
                    UnixNanos(
                        now.0
                            .saturating_add(p.interval_secs.saturating_mul(UnixNanos::PER_SEC)),
                    ),
                ),
            );
            let Some(size) = p.sizing.size_buy(
                view,
                &w.slug,
                outcome,
                price,
                price.to_f64(),
                p.stake,
                ask.level.size,
            ) else {
                skips.push((w.slug.clone(), skip::SIZE_BELOW_MIN));
                continue;
            };
            orders.push(OrderIntent {
                id: OrderId(0),
                window: w.slug.clone(),
                outcome,
                side: Side::Buy,
                price,
                size: Size::from_shares(size.shares),
                tif: TimeInForce::Fak,
                post_only: false,
            });
        }
        for (slug, reason) in skips {
            ctx.skip(slug, reason);
        }
        for o in orders {
            ctx.submit(o);
        }
    }

    fn on_window(&mut self, _ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        if matches!(phase, WindowPhase::Resolved(_)) {
            self.next_at.remove(&window.slug);
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

    #[test]
    fn different_seeds_give_different_first_coins() {
        // Before seeding through SplitMix64 the first coin of every seed below 2^32 was the
        // same (the top bit of the first xorshift output ignores the low seed bits).
        let first = |seed: u64| XorShift64::new(seed).coin();
        let seeds = [1, 2, 3, 7, 100, 1000, 123_456_789, u64::MAX];
        let heads = seeds.iter().filter(|&&s| first(s)).count();
        assert!(
            heads > 0 && heads < seeds.len(),
            "first coins: {heads} heads of {}",
            seeds.len()
        );
        let heads = (1..=64).filter(|&s| first(s)).count();
        assert!((16..=48).contains(&heads), "{heads} heads in 64 seeds");
        // The first 64-bit outputs of consecutive seeds differ in about half their bits.
        let d = (XorShift64::new(1).next_u64() ^ XorShift64::new(2).next_u64()).count_ones();
        assert!((16..=48).contains(&d), "{d} bits differ");
    }
}
