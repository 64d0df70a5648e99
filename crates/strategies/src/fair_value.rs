//! Fair-value taker: buy the outcome whose best ask is below the model's fair value by more
//! than the taker fee plus a threshold, sized by fractional Kelly.
//!
//! **Idea** (seeds): `probabilistic-arb-roadmap.md` Phase 1–2 — price each window as a binary
//! option from spot, strike, time left and volatility, and "trade if |P_model − P_market| >
//! threshold" (`:158`, `:282`) with a "minimum 5 % mispricing to trade" (`:58`) and "reject if
//! over 30 %, likely data error" (`:709`); sizing quarter-Kelly (`poly-edge-sprint-plan.md:459-462`,
//! `crypto-arb-master-plan.md` "Position Sizing: Kelly Criterion"); one position per window, held
//! to resolution (`poly-edge-sprint-plan.md` Sprint 6, "One position per window max. Hold to
//! resolution.").
//!
//! **Rule.** On every event bearing on an active window (its book, or a reference/kline/spot
//! price of its asset), with the window's `P(Up)` from the engine's reference state
//! ([`MarketView::fair_value`](crate::MarketView::fair_value) with [`OnlineConfig`]: Black–Scholes
//! `N(d2)` by default; the same series, strike and volatility rules as `polyedge calibrate`):
//! for each outcome with win probability `p` (`P(Up)` or `1 − P(Up)`) and best ask `a`, the edge
//! is `p − a − fee(a)` per share (taker fee per share at `a`). If the better outcome's edge is
//! above `threshold_bps` (and at most `max_edge_bps`), buy it with a FAK limit order at the worst
//! ask level whose own edge is still above the threshold, for
//! `kelly_fraction × f* × bankroll` with `f* = (p − c)/(1 − c)` at the all-in cost `c` of that
//! worst level ([`crate::sizing`]), capped by the visible depth up to the limit, the per-trade
//! and per-window limits, in whole shares, at least the minimum size. The order carries `p` as its
//! fair value.
//!
//! **Limitations.** The model is only as good as its spot: on cronos it is a 1-minute Binance
//! USD-M kline close (up to 60 s old; `tau_from_spot` adds that age to the horizon), on
//! ligengxin the 1 Hz Chainlink stream. A stale spot makes the model confident when the market
//! already knows better, so apparent edges late in a window are often the model's lag.

use std::collections::BTreeMap;

use polyedge_core::{
    MarketEvent, OrderId, OrderIntent, Outcome, Side, Size, TimeInForce, UnixNanos,
};
use polyedge_model::{ModelError, OnlineConfig};
use serde::{Deserialize, Serialize};

use crate::sizing::{SizingParams, accepted_asks, fee_per_share, open_buy_shares, price_of_prob};
use crate::{Ctx, Signal, Strategy, WindowPhase, affected_windows, skip};

/// Parameters (serde/TOML: every field optional; `[fair]` and `[sizing]` are sub-tables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FairValueParams {
    /// The fair-value model (defaults: those of `polyedge calibrate`).
    pub fair: OnlineConfig,
    /// Sizing (quarter-Kelly, capped; [`SizingParams`]).
    pub sizing: SizingParams,
    /// Minimum edge after the taker fee, basis points of the $1 payout (default 500 = 5 ¢ per
    /// share: `probabilistic-arb-roadmap.md:58` "minimum 5% mispricing to trade").
    pub threshold_bps: u32,
    /// Larger edges are distrusted as data errors, bps (default 3 000 = 30 ¢:
    /// `probabilistic-arb-roadmap.md:709`).
    pub max_edge_bps: u32,
    /// Entries (orders) per window (default 1: "One position per window max",
    /// `poly-edge-sprint-plan.md` Sprint 6).
    pub max_entries_per_window: u32,
    /// No entries with less than this many seconds left (default 30, the risk minimum).
    pub min_time_left_s: u64,
    /// No entries before this many seconds of the window have passed (default 0).
    pub min_elapsed_s: u64,
    /// Wait after an entry on a window before the next, milliseconds (default 1 000).
    pub cooldown_ms: u64,
}

impl Default for FairValueParams {
    fn default() -> Self {
        FairValueParams {
            fair: OnlineConfig::default(),
            sizing: SizingParams::default(),
            threshold_bps: 500,
            max_edge_bps: 3_000,
            max_entries_per_window: 1,
            min_time_left_s: 30,
            min_elapsed_s: 0,
            cooldown_ms: 1_000,
        }
    }
}

/// The fair-value strategy. See the module docs.
#[derive(Debug, Clone)]
pub struct FairValue {
    params: FairValueParams,
    entries: BTreeMap<String, (u32, UnixNanos)>,
}

impl FairValue {
    /// A strategy with `params`.
    ///
    /// # Errors
    /// Invalid model parameters ([`OnlineConfig::estimate_spec`]).
    pub fn new(params: FairValueParams) -> Result<Self, ModelError> {
        params.fair.estimate_spec()?;
        Ok(FairValue {
            params,
            entries: BTreeMap::new(),
        })
    }

    fn try_window(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        let now = ctx.now();
        let p = &self.params;
        let (done, last) = self.entries.get(slug).copied().unwrap_or((0, UnixNanos(0)));
        if done >= p.max_entries_per_window {
            return ctx.skip(slug, skip::ENTRIES_USED);
        }
        if done > 0 && now.0 < last.0.saturating_add(p.cooldown_ms * UnixNanos::PER_MS) {
            return ctx.skip(slug, skip::COOLDOWN);
        }
        let view = ctx.view();
        let Some(w) = view.window(slug) else { return };
        let left = w.end.saturating_sub(now);
        if left < p.min_time_left_s * UnixNanos::PER_SEC {
            return ctx.skip(slug, skip::TOO_LATE);
        }
        if now.saturating_sub(w.start) < p.min_elapsed_s * UnixNanos::PER_SEC {
            return ctx.skip(slug, skip::TOO_EARLY);
        }
        // Never stack on a working order of ours.
        if [Outcome::Up, Outcome::Down]
            .iter()
            .any(|&o| !open_buy_shares(view, slug, o).is_zero())
        {
            return ctx.skip(slug, skip::ORDER_WORKING);
        }
        let est = view.fair_value(w, &p.fair);
        let Some(p_up) = est.p_up else {
            return ctx.skip(slug, est.skip.map_or(skip::MODEL_ERROR, skip::of_model));
        };
        let Some(book) = view.book(slug) else {
            return ctx.skip(slug, skip::NO_BOOK);
        };
        let fees = view.fee_schedule(slug);
        let threshold = f64::from(p.threshold_bps) / 1e4;
        let max_edge = f64::from(p.max_edge_bps) / 1e4;
        let edge_at =
            |prob: f64, px: polyedge_core::Price| prob - px.to_f64() - fee_per_share(fees, px);
        let quoted: Vec<(Outcome, f64, f64)> = [(Outcome::Up, p_up), (Outcome::Down, 1.0 - p_up)]
            .into_iter()
            .filter_map(|(o, prob)| {
                let ask = book.best_ask(o)?.level.price;
                Some((o, prob, edge_at(prob, ask)))
            })
            .collect();
        let best = quoted
            .iter()
            .copied()
            .filter(|&(_, _, e)| e > threshold && e <= max_edge)
            .max_by(|a, b| a.2.total_cmp(&b.2));
        let Some((outcome, prob, _)) = best else {
            let reason = if quoted.is_empty() {
                skip::NO_QUOTE
            } else if quoted.iter().any(|&(_, _, e)| e > max_edge) {
                skip::EDGE_ABOVE_MAX
            } else {
                skip::EDGE_BELOW_THRESHOLD
            };
            // The signal it passed on: the outcome with the best edge, bought at its ask.
            let considered = quoted
                .iter()
                .copied()
                .max_by(|a, b| a.2.total_cmp(&b.2))
                .and_then(|(o, prob, _)| {
                    Some(Signal {
                        outcome: o,
                        side: Side::Buy,
                        price: book.best_ask(o)?.level.price,
                        fair_value: Some(price_of_prob(prob)),
                    })
                });
            return match considered {
                Some(sig) => ctx.skip_signal(slug, reason, sig),
                None => ctx.skip(slug, reason),
            };
        };
        let Some((limit, depth)) =
            accepted_asks(view, slug, outcome, |px| edge_at(prob, px) > threshold)
        else {
            return ctx.skip(slug, skip::EDGE_BELOW_THRESHOLD);
        };
        let cost = limit.to_f64() + fee_per_share(fees, limit);
        let stake = p.sizing.kelly_stake(view, prob, cost);
        let Some(size) = p
            .sizing
            .size_buy(view, slug, outcome, limit, cost, stake, depth)
        else {
            return ctx.skip_signal(
                slug,
                skip::SIZE_BELOW_MIN,
                Signal {
                    outcome,
                    side: Side::Buy,
                    price: limit,
                    fair_value: Some(price_of_prob(prob)),
                },
            );
        };
        let slug = w.slug.clone();
        ctx.submit_with_fair_value(
            OrderIntent {
                id: OrderId(0),
                window: slug.clone(),
                outcome,
                side: Side::Buy,
                price: limit,
                size: Size::from_shares(size.shares),
                tif: TimeInForce::Fak,
                post_only: false,
            },
            price_of_prob(prob),
        );
        self.entries.insert(slug, (done + 1, now));
    }
}

impl Strategy for FairValue {
    fn name(&self) -> &'static str {
        "fair_value"
    }

    fn fair_value_configs(&self) -> Vec<OnlineConfig> {
        vec![self.params.fair.clone()]
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        for slug in affected_windows(ctx.view(), ev) {
            self.try_window(ctx, &slug);
        }
    }

    fn on_window(
        &mut self,
        _ctx: &mut Ctx<'_>,
        window: &polyedge_core::Window,
        phase: WindowPhase,
    ) {
        if matches!(phase, WindowPhase::Resolved(_)) {
            self.entries.remove(&window.slug);
        }
    }
}
