//! Complete-set arbitrage: one Up and one Down share pay exactly $1 at settlement (or by merge),
//! so buying both for less than $1 after taker fees is a locked-in profit — less leg risk.
//!
//! **Idea** (seed `polymarket-arb-rust-spec.md` Phase 4 "4.1 Arbitrage detection": "Core arb
//! detection: YES + NO < threshold", "time-based threshold selection (2.5% early, 1.5% mid, 0.5%
//! late)"; Phase 6 "6.3 Leg risk handling": "Handle one-leg-filled situations … Emergency close
//! or aggressive chase"; `architecture.md` "Complete set … riskless profit, less leg risk").
//!
//! The required margin steps down at thirds of the window: more than 2/3 left →
//! `margin_early_bps`, more than 1/3 → `margin_mid_bps`, else `margin_late_bps`.
//!
//! # Mode `pair` (default)
//! When `ask(Up) + ask(Down) + taker fees` on `n` pairs is at most `n × (1 − margin)`, both legs go
//! out at once as FAK limit orders at the best asks seen, `n` = the smaller top level (at most
//! `shares`, whole shares, at least `min_shares`). No new attempt on the window until the current
//! one is resolved.
//!
//! **Leg risk.** The legs are separate orders: either may be killed or partly filled (the book
//! moves during the order latency and the taker delay). When both legs are done (or at
//! `leg_timeout_ms`, when stragglers are cancelled first) and their fills differ by `d` whole
//! shares, `leg_action` decides:
//! * `retry` (default): buy `d` of the short leg with a FAK at its best ask if the pair still
//!   costs under $1 after fees — the long leg's average fill price plus fee plus the ask plus fee,
//!   at most `1 − margin_late_bps` — up to `leg_retries` times; when that condition fails or the
//!   retries are used up, `leg_fallback` applies (`unwind` by default, or `hold`);
//! * `unwind`: sell `d` of the long leg with a FAK at its best bid (locks in roughly the spread
//!   plus the fee as a loss instead of holding a directional position);
//! * `hold`: keep the one-sided position to settlement.
//!
//! An imbalance under the minimum order size (5 shares) cannot be traded and is held.
//!
//! # Mode `accumulate`
//! Buys each side separately when it is cheap relative to the other, so that the **average**
//! pair cost stays under $1: a buy of outcome `X` at ask `a` is sent only if
//! `a + fee(a) + ref(Y) ≤ 1 − margin`, where `ref(Y)` is the average all-in cost of the shares
//! of the other outcome already held, or — when none are held — its current best ask plus fee.
//! Because every buy of `X` pairs with the average of `Y` below the bound, averages of both stay
//! below it whatever the partial fills (a mix of values each under the bound stays under it).
//! `|Up − Down|` shares after the buy is kept at most `max_imbalance_shares`; whatever is
//! unmatched at the end is a directional position (settled, not merged).
//!
//! **Limitations.** cronos has no trade tape and mostly Down-token books: the Up asks are the
//! mirrored Down bids, so a "complete set" shows up only as a crossed pair of books, and the
//! consumption overlay (`docs/fill-model.md` §4.1) is what stops us taking the same liquidity
//! twice. Merging is not modelled as an action: sets are held to settlement, which pays the same.

use std::collections::BTreeMap;

use polyedge_core::{
    Cash, ExecReport, MarketEvent, OrderId, OrderIntent, Outcome, Price, Side, Size, TimeInForce,
    UnixNanos, Window,
};
use serde::{Deserialize, Serialize};

use crate::sizing::{fee_per_share, min_shares, open_buy_shares, whole_shares};
use crate::{Ctx, Strategy, WindowPhase};

/// How the strategy buys sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompleteSetMode {
    /// Both legs at once when the pair is cheap.
    #[default]
    Pair,
    /// Each leg on its own when it keeps the average pair cost under the bound.
    Accumulate,
}

/// What to do when one leg of a pair filled more than the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegAction {
    /// Buy the missing shares while the pair still costs under $1 after fees.
    #[default]
    Retry,
    /// Sell the excess of the filled leg at the best bid.
    Unwind,
    /// Keep the one-sided position.
    Hold,
}

/// Parameters (serde/TOML: every field optional, defaults as documented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompleteSetParams {
    /// `pair` (default) or `accumulate` (module docs).
    pub mode: CompleteSetMode,
    /// Required edge per pair, in basis points of $1, while more than 2/3 of the window is left
    /// (default 250 = 2.5 %, `polymarket-arb-rust-spec.md` 4.1).
    pub margin_early_bps: u32,
    /// Required edge while between 1/3 and 2/3 of the window is left (default 150 = 1.5 %).
    pub margin_mid_bps: u32,
    /// Required edge in the last third of the window (default 50 = 0.5 %).
    pub margin_late_bps: u32,
    /// Pairs to buy per attempt, shares of each leg (default 10).
    pub shares: u64,
    /// Smallest order worth sending, shares (default 5, the venue minimum).
    pub min_shares: u64,
    /// Most pairs (shares of each side) bought per window (default 50).
    pub max_pairs_per_window: u64,
    /// Wait after an attempt on a window before the next, milliseconds (default 1 000).
    pub cooldown_ms: u64,
    /// Pair mode: when both legs should be done, milliseconds after sending; working legs are
    /// cancelled then (default 2 000).
    pub leg_timeout_ms: u64,
    /// Pair mode: what to do with unequal legs (default `retry`).
    pub leg_action: LegAction,
    /// Pair mode: buy attempts of the missing leg under `retry` (default 2).
    pub leg_retries: u32,
    /// Pair mode: what `retry` falls back to (default `unwind`; `hold` also accepted).
    pub leg_fallback: LegAction,
    /// Accumulate mode: most `|Up − Down|` shares after a buy (default 20).
    pub max_imbalance_shares: u64,
}

impl Default for CompleteSetParams {
    fn default() -> Self {
        CompleteSetParams {
            mode: CompleteSetMode::Pair,
            margin_early_bps: 250,
            margin_mid_bps: 150,
            margin_late_bps: 50,
            shares: 10,
            min_shares: 5,
            max_pairs_per_window: 50,
            cooldown_ms: 1_000,
            leg_timeout_ms: 2_000,
            leg_action: LegAction::Retry,
            leg_retries: 2,
            leg_fallback: LegAction::Unwind,
            max_imbalance_shares: 20,
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

/// One leg of a pair attempt.
#[derive(Debug, Clone, Copy, Default)]
struct LegState {
    order: Option<OrderId>,
    done: bool,
    filled: Size,
    notional: Cash,
    fees: Cash,
}

/// A pair attempt being worked on.
#[derive(Debug, Clone, Default)]
struct Attempt {
    legs: [LegState; 2],
    deadline: UnixNanos,
    /// The repair order (retry buy or unwind sell) and its leg index.
    repair: Option<(OrderId, usize, Side)>,
    retries: u32,
    timed_out: bool,
}

impl Attempt {
    fn leg_of(&self, id: OrderId) -> Option<usize> {
        self.legs.iter().position(|l| l.order == Some(id))
    }
}

/// What the leg-risk handling did, for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegStats {
    /// Pair attempts whose legs filled unequally.
    pub imbalanced: u64,
    /// Retry buys of a missing leg sent.
    pub retries: u64,
    /// Unwind sells of an excess leg sent.
    pub unwinds: u64,
    /// Imbalances held (by choice, fallback, or too small to trade).
    pub held: u64,
}

/// The complete-set strategy. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct CompleteSet {
    params: CompleteSetParams,
    attempted: BTreeMap<String, (u64, UnixNanos)>,
    attempts: BTreeMap<String, Attempt>,
    orders: Vec<OrderId>,
    stats: LegStats,
}

fn idx(o: Outcome) -> usize {
    usize::from(o == Outcome::Down)
}

const OUTCOMES: [Outcome; 2] = [Outcome::Up, Outcome::Down];

impl CompleteSet {
    /// A strategy with `params`.
    pub fn new(params: CompleteSetParams) -> Self {
        CompleteSet {
            params,
            ..CompleteSet::default()
        }
    }

    /// Ids of all orders sent so far.
    pub fn orders(&self) -> &[OrderId] {
        &self.orders
    }

    /// What the leg-risk handling did so far.
    pub fn leg_stats(&self) -> LegStats {
        self.stats
    }

    fn margin_now(&self, w: &Window, now: UnixNanos) -> u32 {
        self.params
            .margin_bps(w.end.saturating_sub(now), w.end.saturating_sub(w.start))
    }

    fn cooled(&self, slug: &str, now: UnixNanos) -> (u64, bool) {
        let (done, last) = self
            .attempted
            .get(slug)
            .copied()
            .unwrap_or((0, UnixNanos(0)));
        let ok = done == 0
            || now.0
                >= last
                    .0
                    .saturating_add(self.params.cooldown_ms.saturating_mul(UnixNanos::PER_MS));
        (done, ok)
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, intent: OrderIntent) -> OrderId {
        let id = ctx.submit(intent);
        self.orders.push(id);
        id
    }

    fn try_pair(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        if self.attempts.contains_key(slug) {
            return;
        }
        let now = ctx.now();
        let (done, cooled) = self.cooled(slug, now);
        if !cooled {
            return;
        }
        let p = &self.params;
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
        let pairs = whole_shares(size);
        let size = Size::from_shares(pairs);
        if pairs < min_shares(view, slug, p.min_shares) {
            return;
        }
        let fees = view.fee_schedule(slug);
        let fee = |price: Price| fees.map_or(Cash::ZERO, |f| f.taker_fee(size, price));
        let cost = up.level.price.notional(size)
            + down.level.price.notional(size)
            + fee(up.level.price)
            + fee(down.level.price);
        let payout = Cash(i64::try_from(size.micros()).unwrap_or(i64::MAX));
        let margin = i128::from(self.margin_now(w, now));
        // Edge ≥ margin·payout  ⇔  (payout − cost)·10 000 ≥ margin·payout.
        let edge = i128::from((payout - cost).micros()) * 10_000;
        if edge < margin * i128::from(payout.micros()) {
            return;
        }
        let (up_px, down_px) = (up.level.price, down.level.price);
        let slug = w.slug.clone();
        let mut attempt = Attempt {
            deadline: UnixNanos(
                now.0
                    .saturating_add(self.params.leg_timeout_ms * UnixNanos::PER_MS),
            ),
            ..Attempt::default()
        };
        for (outcome, price) in [(Outcome::Up, up_px), (Outcome::Down, down_px)] {
            let id = self.send(
                ctx,
                OrderIntent {
                    id: OrderId(0),
                    window: slug.clone(),
                    outcome,
                    side: Side::Buy,
                    price,
                    size,
                    tif: TimeInForce::Fak,
                    post_only: false,
                },
            );
            attempt.legs[idx(outcome)].order = Some(id);
        }
        ctx.set_timer(attempt.deadline);
        self.attempts.insert(slug.clone(), attempt);
        self.attempted.insert(slug, (done + pairs, now));
    }

    fn try_accumulate(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        let now = ctx.now();
        let (_, cooled) = self.cooled(slug, now);
        if !cooled {
            return;
        }
        let p = &self.params;
        let view = ctx.view();
        let (Some(w), Some(book)) = (view.window(slug), view.book(slug)) else {
            return;
        };
        if OUTCOMES
            .iter()
            .any(|&o| !open_buy_shares(view, slug, o).is_zero())
        {
            return;
        }
        let fees = view.fee_schedule(slug);
        let bound = 1.0 - f64::from(self.margin_now(w, now)) / 1e4;
        let min = min_shares(view, slug, p.min_shares);
        let held = |o: Outcome| whole_shares(view.position(slug, o));
        for outcome in OUTCOMES {
            let other = outcome.other();
            let Some(ask) = book.best_ask(outcome) else {
                continue;
            };
            let reference = match view.leg(slug, other).avg_cost() {
                Some(avg) if held(other) > 0 => avg,
                _ => match book.best_ask(other) {
                    Some(a) => a.level.price.to_f64() + fee_per_share(fees, a.level.price),
                    None => continue,
                },
            };
            let price = ask.level.price;
            if price.to_f64() + fee_per_share(fees, price) + reference > bound {
                continue;
            }
            let (mine, theirs) = (held(outcome), held(other));
            let imbalance_room = (theirs + p.max_imbalance_shares).saturating_sub(mine);
            let shares = p
                .shares
                .min(whole_shares(ask.level.size))
                .min(imbalance_room)
                .min(p.max_pairs_per_window.saturating_sub(mine));
            if shares < min {
                continue;
            }
            let slug = w.slug.clone();
            self.send(
                ctx,
                OrderIntent {
                    id: OrderId(0),
                    window: slug.clone(),
                    outcome,
                    side: Side::Buy,
                    price,
                    size: Size::from_shares(shares),
                    tif: TimeInForce::Fak,
                    post_only: false,
                },
            );
            let done = self.attempted.get(&slug).map_or(0, |a| a.0);
            self.attempted.insert(slug, (done + 1, now));
            return;
        }
    }

    /// Both legs (and any repair) done: act on the imbalance.
    fn resolve(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        let Some(a) = self.attempts.get(slug) else {
            return;
        };
        if a.repair.is_some() || !a.legs.iter().all(|l| l.done) {
            return;
        }
        let (up, down) = (a.legs[0].filled, a.legs[1].filled);
        if up == down {
            self.attempts.remove(slug);
            return;
        }
        let (long, short) = if up > down { (0, 1) } else { (1, 0) };
        let d = whole_shares(a.legs[long].filled.saturating_sub(a.legs[short].filled));
        let first_look = a.retries == 0 && a.repair.is_none();
        if first_look {
            self.stats.imbalanced += 1;
        }
        let view = ctx.view();
        let min = min_shares(view, slug, self.params.min_shares);
        if d < min {
            self.stats.held += 1;
            self.attempts.remove(slug);
            return;
        }
        let mut action = self.params.leg_action;
        if action == LegAction::Retry {
            let long_leg = a.legs[long];
            let long_avg = (long_leg.notional + long_leg.fees).to_f64() / long_leg.filled.to_f64();
            let fees = view.fee_schedule(slug);
            let short_outcome = OUTCOMES[short];
            let ask = view
                .book(slug)
                .and_then(|b| b.best_ask(short_outcome))
                .map(|l| l.level);
            let bound = 1.0 - f64::from(self.params.margin_late_bps) / 1e4;
            match ask {
                Some(l)
                    if a.retries < self.params.leg_retries
                        && whole_shares(l.size) >= min
                        && long_avg + l.price.to_f64() + fee_per_share(fees, l.price) <= bound =>
                {
                    let n = d.min(whole_shares(l.size));
                    let id = self.send(
                        ctx,
                        OrderIntent {
                            id: OrderId(0),
                            window: slug.to_string(),
                            outcome: short_outcome,
                            side: Side::Buy,
                            price: l.price,
                            size: Size::from_shares(n),
                            tif: TimeInForce::Fak,
                            post_only: false,
                        },
                    );
                    self.stats.retries += 1;
                    if let Some(a) = self.attempts.get_mut(slug) {
                        a.repair = Some((id, short, Side::Buy));
                        a.retries += 1;
                    }
                    return;
                }
                _ => action = self.params.leg_fallback,
            }
        }
        match action {
            LegAction::Unwind => {
                let long_outcome = OUTCOMES[long];
                let view = ctx.view();
                let bid = view
                    .book(slug)
                    .and_then(|b| b.best_bid(long_outcome))
                    .map(|l| l.level.price);
                let held = whole_shares(view.position(slug, long_outcome));
                let n = d.min(held);
                match bid {
                    Some(price) if n >= min => {
                        self.send(
                            ctx,
                            OrderIntent {
                                id: OrderId(0),
                                window: slug.to_string(),
                                outcome: long_outcome,
                                side: Side::Sell,
                                price,
                                size: Size::from_shares(n),
                                tif: TimeInForce::Fak,
                                post_only: false,
                            },
                        );
                        self.stats.unwinds += 1;
                    }
                    _ => self.stats.held += 1,
                }
            }
            LegAction::Hold | LegAction::Retry => self.stats.held += 1,
        }
        // After an unwind (whatever it fills) or a hold, the attempt is over.
        self.attempts.remove(slug);
    }

    fn on_exec(&mut self, ctx: &mut Ctx<'_>, report: &ExecReport) {
        let (order, slug) = match report {
            ExecReport::Filled(f) => (f.order, f.window.clone()),
            ExecReport::Cancelled { order, .. } | ExecReport::Rejected { order, .. } => {
                let Some(slug) = self
                    .attempts
                    .iter()
                    .find(|(_, a)| {
                        a.leg_of(*order).is_some() || a.repair.is_some_and(|r| r.0 == *order)
                    })
                    .map(|(s, _)| s.clone())
                else {
                    return;
                };
                (*order, slug)
            }
            ExecReport::Accepted { .. } => return,
        };
        let Some(a) = self.attempts.get_mut(&slug) else {
            return;
        };
        let finished = !matches!(report, ExecReport::Filled(_));
        if let Some(i) = a.leg_of(order) {
            let leg = &mut a.legs[i];
            if let ExecReport::Filled(f) = report {
                leg.filled += f.size;
                leg.notional += f.price.notional(f.size);
                leg.fees += f.fee;
            }
            if finished || leg_complete(ctx, order) {
                leg.done = true;
            }
        } else if let Some((id, i, side)) = a.repair
            && id == order
        {
            if let ExecReport::Filled(f) = report
                && side == Side::Buy
            {
                let leg = &mut a.legs[i];
                leg.filled += f.size;
                leg.notional += f.price.notional(f.size);
                leg.fees += f.fee;
            }
            if finished || leg_complete(ctx, order) {
                a.repair = None;
            }
        } else {
            return;
        }
        self.resolve(ctx, &slug);
    }
}

/// `true` when `order` is no longer working (a fill completed it).
fn leg_complete(ctx: &Ctx<'_>, order: OrderId) -> bool {
    !ctx.view().open_orders().iter().any(|o| o.id == order)
}

impl Strategy for CompleteSet {
    fn name(&self) -> &'static str {
        "complete_set"
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        if ev.kind.token().is_none() {
            return;
        }
        for slug in crate::affected_windows(ctx.view(), ev) {
            match self.params.mode {
                CompleteSetMode::Pair => self.try_pair(ctx, &slug),
                CompleteSetMode::Accumulate => self.try_accumulate(ctx, &slug),
            }
        }
    }

    fn on_report(&mut self, ctx: &mut Ctx<'_>, report: &ExecReport) {
        self.on_exec(ctx, report);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, now: UnixNanos) {
        // Past the deadline: cancel legs still working; their final reports resolve the attempt.
        let late: Vec<String> = self
            .attempts
            .iter()
            .filter(|(_, a)| !a.timed_out && a.deadline <= now)
            .map(|(s, _)| s.clone())
            .collect();
        for slug in late {
            let working: Vec<OrderId> = ctx
                .view()
                .open_orders()
                .iter()
                .filter(|o| o.window == slug)
                .map(|o| o.id)
                .collect();
            if let Some(a) = self.attempts.get_mut(&slug) {
                a.timed_out = true;
                for l in &mut a.legs {
                    if let Some(id) = l.order
                        && !working.contains(&id)
                    {
                        l.done = true;
                    }
                }
            }
            for id in working {
                ctx.cancel(id);
            }
            self.resolve(ctx, &slug);
        }
    }

    fn on_window(&mut self, _ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        if matches!(phase, WindowPhase::Resolved(_)) {
            self.attempts.remove(&window.slug);
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
        assert_eq!(p.mode, CompleteSetMode::Pair);
        assert_eq!(p.leg_action, LegAction::Retry);
        assert_eq!(p.margin_bps(300, 300), 250);
        assert_eq!(p.margin_bps(150, 300), 150);
        assert_eq!(p.margin_bps(50, 300), 50);
        let p: CompleteSetParams =
            serde_json::from_str(r#"{"mode": "accumulate", "leg_action": "unwind"}"#).unwrap();
        assert_eq!(p.mode, CompleteSetMode::Accumulate);
        assert_eq!(p.leg_action, LegAction::Unwind);
    }
}
