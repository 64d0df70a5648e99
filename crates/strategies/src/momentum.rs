//! Momentum, "buy what already happened": after the first minutes of a window, if the reference
//! price has moved far enough from the strike and steadily enough, buy the side that is ahead
//! when its expected value after fees is large enough.
//!
//! **Idea** (seed `crypto-arb-master-plan.md`, "Trading Logic & Signal Detection"): "Our bot
//! waits 3-5 minutes, then buys what already happened"; momentum = price change since the start,
//! direction, and consistency = R² of a linear regression of price on time; execute if minutes
//! elapsed ∈ [3, 5], `momentum_magnitude ≥ 0.3 %`, `R² ≥ 0.70` and `EV ≥ min_edge` (15 %)
//! ("Key Parameters to Tune"); size by quarter-Kelly ("Position Sizing: Kelly Criterion").
//!
//! **Rule.** Entry span: from `entry_from` to `entry_to` of the window elapsed (seed 3/15 and
//! 5/15 of a 15-minute window, so 60–100 s of a 5-minute one, 12–20 min of an hour). In it, on
//! every event bearing on the window, take the preferred fresh reference series and strike of
//! `polyedge_model::online` (as `polyedge calibrate`): the path is the strike at the window start
//! followed by the series' points after the start. With at least `min_points` points, the move
//! `m = last/strike − 1` and `R²` of price on time: if `|m| ≥ min_move_bps` (scaled by
//! `√(duration / 15 min)` when `scale_move`, since a random walk's range grows with √t) and
//! `R² ≥ min_r2`, the leading side is Up if `m > 0` else Down. Its win probability is the fair
//! value model's `P(leading)` (the seed asks for a calibrated momentum→probability map; the
//! digital model given the move so far is that map). If `p − ask − fee ≥ min_edge_bps`, buy with
//! a FAK at the worst ask level still meeting the edge, Kelly-sized as [`crate::fair_value`]. One
//! entry per window by default.
//!
//! **Limitations.** With 1-minute klines (cronos) a 5-minute window has one or two closes after
//! the start inside the 60–100 s span, so `R²` from so few points means little and the default
//! `min_points` (5) keeps the strategy out: it trades on cronos only with a later, longer span or
//! fewer points. The 1 Hz Chainlink stream (ligengxin) gives 60–100 points. The seed's 15 % EV
//! floor is rarely met once the market has priced the move.

use std::collections::BTreeMap;

use polyedge_core::{
    MarketEvent, OrderId, OrderIntent, Outcome, Side, Size, TimeInForce, UnixNanos, Window,
};
use polyedge_model::{Estimate, ModelError, OnlineConfig, PricePoint};
use serde::{Deserialize, Serialize};

use crate::sizing::{SizingParams, accepted_asks, fee_per_share, open_buy_shares, price_of_prob};
use crate::{Ctx, MarketView, Strategy, WindowPhase, affected_windows, skip};

/// Parameters (serde/TOML: every field optional; `[fair]` and `[sizing]` are sub-tables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MomentumParams {
    /// The fair-value model giving the win probability.
    pub fair: OnlineConfig,
    /// Sizing (quarter-Kelly, capped).
    pub sizing: SizingParams,
    /// Start of the entry span, fraction of the window elapsed (default 0.2 = minute 3 of 15).
    pub entry_from: f64,
    /// End of the entry span, fraction of the window elapsed (default 1/3 = minute 5 of 15).
    pub entry_to: f64,
    /// Smallest move since the strike, bps (default 30 = 0.3 %, seed `min_momentum_threshold`).
    pub min_move_bps: f64,
    /// Scale `min_move_bps` by `√(window duration / 900 s)` (default true: 0.17 % on 5-minute
    /// windows, 0.6 % on hourly ones).
    pub scale_move: bool,
    /// Smallest R² of price on time (default 0.70, seed `momentum_consistency_threshold`).
    pub min_r2: f64,
    /// Fewest path points (strike included) for the regression (default 5).
    pub min_points: usize,
    /// Smallest expected value after the fee, bps of $1 (default 1 500 = 15 ¢, seed
    /// `min_edge_threshold` 0.15).
    pub min_edge_bps: u32,
    /// Entries per window (default 1).
    pub max_entries_per_window: u32,
    /// No entries with less than this many seconds left (default 30, the risk minimum).
    pub min_time_left_s: u64,
}

impl Default for MomentumParams {
    fn default() -> Self {
        MomentumParams {
            fair: OnlineConfig::default(),
            sizing: SizingParams::default(),
            entry_from: 0.2,
            entry_to: 1.0 / 3.0,
            min_move_bps: 30.0,
            scale_move: true,
            min_r2: 0.70,
            min_points: 5,
            min_edge_bps: 1_500,
            max_entries_per_window: 1,
            min_time_left_s: 30,
        }
    }
}

impl MomentumParams {
    /// The move threshold (fraction, not bps) for a window of `duration_s` seconds.
    pub fn min_move(&self, duration_s: u64) -> f64 {
        let base = self.min_move_bps / 1e4;
        if self.scale_move {
            base * (duration_s as f64 / 900.0).sqrt()
        } else {
            base
        }
    }
}

/// The momentum signal of a window at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// `last / strike − 1`.
    pub move_frac: f64,
    /// R² of price on time over the path.
    pub r2: f64,
    /// Path points used (strike included).
    pub points: usize,
}

/// R² of the least-squares line of `price` on `t` (0 for a flat or degenerate path).
pub fn r_squared(path: &[PricePoint]) -> f64 {
    let n = path.len() as f64;
    if path.len() < 2 {
        return 0.0;
    }
    let t0 = path[0].t.0;
    let xs: Vec<f64> = path.iter().map(|p| (p.t.0 - t0) as f64 / 1e9).collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = path.iter().map(|p| p.price).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, p) in xs.iter().zip(path) {
        let (dx, dy) = (x - mx, p.price - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return 0.0;
    }
    (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
}

/// The momentum strategy. See the module docs.
#[derive(Debug, Clone)]
pub struct Momentum {
    params: MomentumParams,
    entries: BTreeMap<String, u32>,
}

impl Momentum {
    /// A strategy with `params`.
    ///
    /// # Errors
    /// Invalid model parameters ([`OnlineConfig::estimate_spec`]).
    pub fn new(params: MomentumParams) -> Result<Self, ModelError> {
        params.fair.estimate_spec()?;
        Ok(Momentum {
            params,
            entries: BTreeMap::new(),
        })
    }

    /// The signal of `window` at `now` from the data received so far, if there is a fresh
    /// series and a strike; `est` is the model's estimate of the window now (its strike).
    pub fn signal(&self, view: &dyn MarketView, window: &Window, est: &Estimate) -> Option<Signal> {
        let now = view.now();
        let strike = est.strike?;
        let series = view
            .reference_set(&self.params.fair.series_config())?
            .choose(window.asset, now, window.start)?;
        let mut path = vec![PricePoint::new(window.start, strike)];
        path.extend(
            series
                .points()
                .iter()
                .filter(|p| p.t > window.start && p.t <= now)
                .copied(),
        );
        let last = path.last()?.price;
        Some(Signal {
            move_frac: last / strike - 1.0,
            r2: r_squared(&path),
            points: path.len(),
        })
    }

    fn try_window(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        let now = ctx.now();
        let done = self.entries.get(slug).copied().unwrap_or(0);
        if done >= self.params.max_entries_per_window {
            return ctx.skip(slug, skip::ENTRIES_USED);
        }
        let view = ctx.view();
        let Some(w) = view.window(slug) else { return };
        let total = w.end.saturating_sub(w.start) as f64;
        let elapsed = now.saturating_sub(w.start) as f64;
        let p = &self.params;
        if total <= 0.0 || elapsed < p.entry_from * total {
            return ctx.skip(slug, skip::TOO_EARLY);
        }
        if elapsed > p.entry_to * total {
            return ctx.skip(slug, skip::PAST_ENTRY_SPAN);
        }
        if w.end.saturating_sub(now) < p.min_time_left_s * UnixNanos::PER_SEC {
            return ctx.skip(slug, skip::TOO_LATE);
        }
        if [Outcome::Up, Outcome::Down]
            .iter()
            .any(|&o| !open_buy_shares(view, slug, o).is_zero())
        {
            return ctx.skip(slug, skip::ORDER_WORKING);
        }
        let w = w.clone();
        let est = ctx.view().fair_value(&w, &self.params.fair);
        let Some(sig) = self.signal(ctx.view(), &w, &est) else {
            return ctx.skip(slug, skip::of_estimate(&est));
        };
        let p = &self.params;
        let duration_s = w.end.saturating_sub(w.start) / UnixNanos::PER_SEC;
        // The trade the signal points to (the outcome of the move, bought at its best ask), for
        // the skips below: the decision log records it and the report computes what it would
        // have earned at resolution.
        let dir = if sig.move_frac > 0.0 {
            Outcome::Up
        } else {
            Outcome::Down
        };
        let pointed = |view: &dyn MarketView, fair_value: Option<f64>| {
            Some(crate::Signal {
                outcome: dir,
                side: Side::Buy,
                price: view.book(slug)?.best_ask(dir)?.level.price,
                fair_value: fair_value.map(price_of_prob),
            })
        };
        let weak = if sig.points < p.min_points {
            Some(skip::TOO_FEW_POINTS)
        } else if sig.move_frac.abs() < p.min_move(duration_s) {
            Some(skip::MOVE_TOO_SMALL)
        } else if sig.r2 < p.min_r2 {
            Some(skip::NOT_STEADY)
        } else {
            None
        };
        if let Some(reason) = weak {
            return match pointed(ctx.view(), None) {
                Some(s) => ctx.skip_signal(slug, reason, s),
                None => ctx.skip(slug, reason),
            };
        }
        let est = ctx.view().fair_value(&w, &p.fair);
        let Some(p_up) = est.p_up else {
            return ctx.skip(slug, est.skip.map_or(skip::MODEL_ERROR, skip::of_model));
        };
        let (outcome, prob) = if sig.move_frac > 0.0 {
            (Outcome::Up, p_up)
        } else {
            (Outcome::Down, 1.0 - p_up)
        };
        let view = ctx.view();
        let fees = view.fee_schedule(slug);
        let min_edge = f64::from(p.min_edge_bps) / 1e4;
        let ev = |px: polyedge_core::Price| prob - px.to_f64() - fee_per_share(fees, px);
        let Some((limit, depth)) = accepted_asks(view, slug, outcome, |px| ev(px) >= min_edge)
        else {
            return match pointed(view, Some(prob)) {
                Some(s) => ctx.skip_signal(slug, skip::EDGE_BELOW_THRESHOLD, s),
                None => ctx.skip(slug, skip::EDGE_BELOW_THRESHOLD),
            };
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
                crate::Signal {
                    outcome,
                    side: Side::Buy,
                    price: limit,
                    fair_value: Some(price_of_prob(prob)),
                },
            );
        };
        ctx.submit_with_fair_value(
            OrderIntent {
                id: OrderId(0),
                window: w.slug.clone(),
                outcome,
                side: Side::Buy,
                price: limit,
                size: Size::from_shares(size.shares),
                tif: TimeInForce::Fak,
                post_only: false,
            },
            price_of_prob(prob),
        );
        self.entries.insert(w.slug, done + 1);
    }
}

impl Strategy for Momentum {
    fn name(&self) -> &'static str {
        "momentum"
    }

    fn fair_value_configs(&self) -> Vec<OnlineConfig> {
        vec![self.params.fair.clone()]
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        for slug in affected_windows(ctx.view(), ev) {
            self.try_window(ctx, &slug);
        }
    }

    fn on_window(&mut self, _ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        if matches!(phase, WindowPhase::Resolved(_)) {
            self.entries.remove(&window.slug);
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact zeros are the contract
mod tests {
    use super::*;

    #[test]
    fn r2_of_a_line_and_of_noise() {
        let line: Vec<PricePoint> = (0..10)
            .map(|i| PricePoint::new(UnixNanos::from_secs(100 + i), 100.0 + i as f64))
            .collect();
        assert!((r_squared(&line) - 1.0).abs() < 1e-12);
        let zigzag: Vec<PricePoint> = (0..10)
            .map(|i| {
                PricePoint::new(
                    UnixNanos::from_secs(100 + i),
                    if i % 2 == 0 { 100.0 } else { 101.0 },
                )
            })
            .collect();
        assert!(r_squared(&zigzag) < 0.1);
        assert_eq!(r_squared(&line[..1]), 0.0);
    }

    #[test]
    fn move_threshold_scales_with_duration() {
        let p = MomentumParams::default();
        assert!((p.min_move(900) - 0.003).abs() < 1e-12);
        assert!((p.min_move(300) - 0.003 / 3f64.sqrt()).abs() < 1e-12);
    }
}
