//! Circuit breakers, deployment phases and the kill switch: halts above the per-order limits of
//! [`RiskConfig`](crate::RiskConfig), the same in every mode (backtest, shadow, paper, live),
//! because they live in the engine and read only its inputs.
//!
//! Every order a strategy submits passes [`LaneBreakers::check`] before the risk check; a tripped
//! breaker refuses it with [`RejectReason::Risk`] naming the breaker, its reason and until when.
//! Trips and clears are logged (`tracing`, target `polyedge_engine::breakers`) and kept in
//! [`LaneBreakers::trips`] (shown by `polyedge run`'s `state.json` and status line).
//!
//! | breaker | trips when | refuses | clears | recommended (seed) |
//! |---|---|---|---|---|
//! | drawdown | realized PnL falls `max_drawdown_pct` % of the bankroll below its running peak | buys | never within the run (manual review) | 15 % (`crypto-arb-master-plan.md:717`) |
//! | consecutive losses | `max_consecutive_losses` settled windows in a row lost money | buys | after `loss_cooldown_secs` | 5, 3600 s (`crypto-arb-master-plan.md:721-753`) |
//! | venue errors | `max_venue_errors` errors (executor unavailable, venue rejection other than a rule the order broke) within `venue_error_window_secs`, and at least `venue_error_rate_pct` % of the orders sent in that span | all orders | after `venue_error_cooldown_secs` | 5 in 300 s and 10 %, 300 s (`crypto-arb-master-plan.md:724-727` ">10 % API error rate for 5 minutes") |
//! | stale data | no market-channel event (any window) for `stale_data_secs`, or (for strategies with a fair value) no reference tick of the order's asset for as long (assets with reference ticks only; klines-only recordings are exempt) | all orders | next event | 30 s |
//! | price jump | the window's mid moved more than `max_mid_jump` in one book update, or a reference price more than `max_reference_jump_bps` in one update | all orders on the window / the asset | after `jump_cooldown_secs` | 0.30, 200 bps, 30 s |
//! | spread | the order's outcome book has both sides and a spread above `max_spread` | all orders on it | next event | 0.20 |
//! | open orders | the strategy already works `max_open_orders` orders | new orders | when some end | 20 |
//! | concurrent positions | the buy is for a new window while `max_concurrent_positions` windows hold an unsettled position or a working buy | buys | at settlement | 5 (`crypto-arb-master-plan.md:704`) |
//!
//! Daily loss and buying power are per-order checks of [`RiskConfig`](crate::RiskConfig).
//!
//! **Every breaker is off by default** (zero), so that backtest figures stay comparable with
//! earlier runs; [`BreakerConfig::recommended`] (and the `[engine.breakers]` block of
//! `docs/run.md`) has the values of the table. Whatever is configured applies the same in every
//! mode.
//!
//! **Deployment phases** ([`Deployment`]): `phase1` and `phase2` cap the bankroll a strategy may
//! use at 200 and 500 pUSD and every money limit at the seed's figures for the phase
//! (`poly-edge-sprint-plan.md:674-684`: 20 / 50 pUSD per trade, 10 / 25 pUSD daily loss,
//! 100 / 300 pUSD total exposure; per window 10 % of the phase bankroll); `full` leaves the
//! configured limits. `percent_limits = true` derives the money limits from the bankroll instead
//! ([`RiskConfig::from_bankroll`](crate::RiskConfig::from_bankroll)). The engine applies the phase
//! once, at construction ([`Deployment::apply`]); [`Engine::config`](crate::Engine::config) shows
//! the limits in force.
//!
//! **Kill switch** ([`Input::Kill`](crate::Input::Kill)): cancels every resting order of every
//! strategy, refuses every new order (buys and sells) and holds positions to resolution
//! (settlement goes on). Releasing it lets orders through again.

use std::collections::VecDeque;

use polyedge_core::{Asset, Cash, OrderIntent, Outcome, Price, RejectReason, Side, UnixNanos};
use serde::{Deserialize, Serialize};

use crate::risk::RiskConfig;

/// Thresholds of the circuit breakers (module docs). Zero turns a breaker off. Serde: every
/// field optional; prices as decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Drawdown of realized PnL from its peak that halts buys, percent of the bankroll.
    pub max_drawdown_pct: u32,
    /// Losing settled windows in a row that pause buys.
    pub max_consecutive_losses: u32,
    /// Pause after `max_consecutive_losses`, seconds.
    pub loss_cooldown_secs: u64,
    /// Venue errors within `venue_error_window_secs` that halt orders.
    pub max_venue_errors: u32,
    /// … and at least this share of the orders sent in that span, percent.
    pub venue_error_rate_pct: u32,
    /// The span over which venue errors are counted, seconds.
    pub venue_error_window_secs: u64,
    /// Halt after the venue-error breaker trips, seconds.
    pub venue_error_cooldown_secs: u64,
    /// Data older than this (no market-channel event, no reference tick of the order's asset)
    /// refuses orders, seconds.
    pub stale_data_secs: u64,
    /// Largest move of a window's mid (Up outcome) in one book update, pUSD per share.
    #[serde(with = "crate::decimal::price")]
    pub max_mid_jump: Price,
    /// Largest move of a reference price in one update, basis points.
    pub max_reference_jump_bps: u32,
    /// Orders on the window (or asset) stay refused this long after a jump, seconds.
    pub jump_cooldown_secs: u64,
    /// Widest spread of the order's outcome book at which orders are still sent.
    #[serde(with = "crate::decimal::price")]
    pub max_spread: Price,
    /// Most orders one strategy works at once.
    pub max_open_orders: usize,
    /// Most windows with an unsettled position or a working buy at once (per strategy).
    pub max_concurrent_positions: usize,
}

impl Default for BreakerConfig {
    /// Every breaker off (zero): backtests and runs without an `[engine.breakers]` section
    /// behave as before the breakers existed. [`BreakerConfig::recommended`] has the seed values.
    fn default() -> Self {
        BreakerConfig {
            max_drawdown_pct: 0,
            max_consecutive_losses: 0,
            loss_cooldown_secs: 0,
            max_venue_errors: 0,
            venue_error_rate_pct: 0,
            venue_error_window_secs: 0,
            venue_error_cooldown_secs: 0,
            stale_data_secs: 0,
            max_mid_jump: Price::ZERO,
            max_reference_jump_bps: 0,
            jump_cooldown_secs: 0,
            max_spread: Price::ZERO,
            max_open_orders: 0,
            max_concurrent_positions: 0,
        }
    }
}

impl BreakerConfig {
    /// The values of the module docs' table (seed documents where they say, our choice where
    /// they do not): what a live deployment should start from.
    pub fn recommended() -> Self {
        BreakerConfig {
            max_drawdown_pct: 15,
            max_consecutive_losses: 5,
            loss_cooldown_secs: 3600,
            max_venue_errors: 5,
            venue_error_rate_pct: 10,
            venue_error_window_secs: 300,
            venue_error_cooldown_secs: 300,
            stale_data_secs: 30,
            max_mid_jump: price(300_000),
            max_reference_jump_bps: 200,
            jump_cooldown_secs: 30,
            max_spread: price(200_000),
            max_open_orders: 20,
            max_concurrent_positions: 5,
        }
    }
}

/// A deployment phase (module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// 200 pUSD bankroll, the seed's phase-1 limits.
    Phase1,
    /// 500 pUSD bankroll, the seed's phase-2 limits.
    Phase2,
    /// The whole starting cash and the configured limits.
    #[default]
    Full,
}

/// How much of the bankroll the strategies may use (module docs). Serde: `{"phase": "phase1",
/// "percent_limits": false}`, both optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Deployment {
    /// The phase.
    pub phase: Phase,
    /// Money limits as percentages of the bankroll
    /// ([`RiskConfig::from_bankroll`](crate::RiskConfig::from_bankroll)) instead of the configured
    /// amounts.
    pub percent_limits: bool,
}

const PUSD: i64 = 1_000_000;

fn price(micros: u32) -> Price {
    Price::from_micros(micros).unwrap_or(Price::ZERO)
}

fn later(t: UnixNanos, secs: u64) -> UnixNanos {
    UnixNanos(t.0.saturating_add(secs.saturating_mul(UnixNanos::PER_SEC)))
}

impl Deployment {
    /// The bankroll in force: the phase's cap or `start_cash`, whichever is smaller.
    pub fn bankroll(&self, start_cash: Cash) -> Cash {
        let cap = match self.phase {
            Phase::Phase1 => Some(Cash(200 * PUSD)),
            Phase::Phase2 => Some(Cash(500 * PUSD)),
            Phase::Full => None,
        };
        cap.map_or(start_cash, |c| c.min(start_cash))
    }

    /// The limits in force for `risk` as configured and `start_cash`: percentages of the
    /// bankroll if `percent_limits`, then every money limit capped at the phase's figure (module
    /// docs). `Full` without `percent_limits` returns `risk` unchanged.
    pub fn apply(&self, risk: &RiskConfig, start_cash: Cash) -> RiskConfig {
        let bankroll = self.bankroll(start_cash);
        let mut r = if self.percent_limits {
            RiskConfig {
                min_time_left_secs: risk.min_time_left_secs,
                max_window_shares: risk.max_window_shares,
                ..RiskConfig::from_bankroll(bankroll)
            }
        } else {
            risk.clone()
        };
        let caps = match self.phase {
            Phase::Phase1 => Some((20, 10, 100)),
            Phase::Phase2 => Some((50, 25, 300)),
            Phase::Full => None,
        };
        if let Some((trade, daily, total)) = caps {
            r.max_order_notional = r.max_order_notional.min(Cash(trade * PUSD));
            r.daily_loss_limit = r.daily_loss_limit.min(Cash(daily * PUSD));
            r.max_total_exposure = r.max_total_exposure.min(Cash(total * PUSD)).min(bankroll);
            r.max_window_cost = r
                .max_window_cost
                .min(Cash(bankroll.micros().saturating_mul(100) / 1000));
        }
        r
    }
}

/// Which breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerKind {
    /// Drawdown from the peak of realized PnL.
    Drawdown,
    /// Consecutive losing windows.
    ConsecutiveLosses,
    /// Venue error rate.
    VenueErrors,
    /// The kill switch.
    KillSwitch,
    /// The executor stopped trading because the venue's books no longer match ours (a position
    /// the venue reports that our fills do not explain, a trade that failed on chain after it
    /// was booked): every order is refused and resting ones are cancelled until the run is
    /// restarted after a look at the account ([`crate::Executor::halted`]).
    VenueMismatch,
}

impl BreakerKind {
    /// Stable name (`drawdown`, `consecutive_losses`, `venue_errors`, `kill_switch`,
    /// `venue_mismatch`).
    pub fn name(self) -> &'static str {
        match self {
            BreakerKind::Drawdown => "drawdown",
            BreakerKind::ConsecutiveLosses => "consecutive_losses",
            BreakerKind::VenueErrors => "venue_errors",
            BreakerKind::KillSwitch => "kill_switch",
            BreakerKind::VenueMismatch => "venue_mismatch",
        }
    }
}

/// One trip of a breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    /// Which breaker.
    pub breaker: BreakerKind,
    /// Why, in a sentence with the figures.
    pub reason: String,
    /// When it tripped (ns since epoch).
    pub since: UnixNanos,
    /// When it clears by itself (`None`: it stays until released or the run ends).
    pub until: Option<UnixNanos>,
}

impl Trip {
    fn active(&self, now: UnixNanos) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// Market-wide data health the breakers read: when the market channel last delivered anything,
/// the last mid per window, the last reference tick per asset, jumps.
#[derive(Debug, Clone, Default)]
pub struct DataHealth {
    /// Last Polymarket market-channel event (any window).
    market_seen: Option<UnixNanos>,
    /// Per window position: (last Up mid, refused until (after a jump)).
    windows: Vec<(Option<Price>, UnixNanos)>,
    /// Per asset: (last reference tick, last price, refused until).
    assets: Vec<(Asset, UnixNanos, f64, UnixNanos)>,
}

impl DataHealth {
    /// A market-channel event of window `i` was applied at `now`; `mid` is the Up mid after it.
    pub fn on_book(&mut self, cfg: &BreakerConfig, i: usize, mid: Option<Price>, now: UnixNanos) {
        self.market_seen = Some(now);
        if self.windows.len() <= i {
            self.windows.resize(i + 1, (None, UnixNanos(0)));
        }
        let w = &mut self.windows[i];
        if let (Some(old), Some(new)) = (w.0, mid)
            && cfg.max_mid_jump > Price::ZERO
            && new.micros().abs_diff(old.micros()) > cfg.max_mid_jump.micros()
        {
            w.1 = later(now, cfg.jump_cooldown_secs);
            tracing::warn!(
                target: "polyedge_engine::breakers",
                window = i, from = %old, to = %new,
                "breaker: mid jump above {}; orders on the window refused for {} s",
                cfg.max_mid_jump, cfg.jump_cooldown_secs
            );
        }
        if mid.is_some() {
            w.0 = mid;
        }
    }

    /// A reference tick of `asset` was received at `now`.
    pub fn on_reference(&mut self, cfg: &BreakerConfig, asset: Asset, price: f64, now: UnixNanos) {
        let Some(a) = self.assets.iter_mut().find(|a| a.0 == asset) else {
            self.assets.push((asset, now, price, UnixNanos(0)));
            return;
        };
        let bps = if a.2 > 0.0 {
            ((price - a.2) / a.2).abs() * 10_000.0
        } else {
            0.0
        };
        if cfg.max_reference_jump_bps > 0 && bps > f64::from(cfg.max_reference_jump_bps) {
            a.3 = later(now, cfg.jump_cooldown_secs);
            tracing::warn!(
                target: "polyedge_engine::breakers",
                ?asset, from = a.2, to = price, bps,
                "breaker: reference price jump; orders on the asset refused for {} s",
                cfg.jump_cooldown_secs
            );
        }
        a.1 = now;
        a.2 = price;
    }

    /// Why data for an order on window `i` of `asset` is unusable now, if it is.
    /// `uses_reference`: the strategy prices from the reference feed (checked only for assets
    /// whose reference ticks were received at all: recordings with klines only are not "stale").
    pub fn check(
        &self,
        cfg: &BreakerConfig,
        i: usize,
        asset: Asset,
        uses_reference: bool,
        now: UnixNanos,
    ) -> Option<String> {
        let stale = cfg.stale_data_secs.saturating_mul(UnixNanos::PER_SEC);
        let until = self.windows.get(i).map_or(UnixNanos(0), |w| w.1);
        if now < until {
            return Some(format!(
                "price jump: orders on the window refused until {}",
                until.to_rfc3339()
            ));
        }
        if stale > 0
            && let Some(t) = self.market_seen
            && now.saturating_sub(t) > stale
        {
            return Some(format!(
                "stale data: last market-channel event {:.1} s ago (limit {} s)",
                secs(now.saturating_sub(t)),
                cfg.stale_data_secs
            ));
        }
        if uses_reference && let Some(a) = self.assets.iter().find(|a| a.0 == asset) {
            if now < a.3 {
                return Some(format!(
                    "price jump: reference price of {asset:?} jumped; orders refused until {}",
                    a.3.to_rfc3339()
                ));
            }
            if stale > 0 && now.saturating_sub(a.1) > stale {
                return Some(format!(
                    "stale data: last reference price of {asset:?} {:.1} s ago (limit {} s)",
                    secs(now.saturating_sub(a.1)),
                    cfg.stale_data_secs
                ));
            }
        }
        None
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// One strategy's breaker state (module docs).
#[derive(Debug, Clone, Default)]
pub struct LaneBreakers {
    peak_pnl: Cash,
    losses_in_row: u32,
    /// (time, was an error) of recent orders sent and venue errors.
    venue: VecDeque<(UnixNanos, bool)>,
    trips: Vec<Trip>,
}

impl LaneBreakers {
    /// Every trip so far (active or not), in order.
    pub fn trips(&self) -> &[Trip] {
        &self.trips
    }

    /// The trips in force at `now`.
    pub fn active(&self, now: UnixNanos) -> impl Iterator<Item = &Trip> {
        self.trips.iter().filter(move |t| t.active(now))
    }

    fn trip(&mut self, breaker: BreakerKind, reason: String, now: UnixNanos, secs: Option<u64>) {
        let until = secs.map(|s| later(now, s));
        tracing::warn!(
            target: "polyedge_engine::breakers",
            breaker = breaker.name(), until = ?until.map(UnixNanos::to_rfc3339),
            "breaker tripped: {reason}"
        );
        self.trips.push(Trip {
            breaker,
            reason,
            since: now,
            until,
        });
    }

    /// Engages (`Some(reason)`) or releases (`None`) the kill switch at `now`.
    pub fn set_kill(&mut self, reason: Option<&str>, now: UnixNanos) {
        let engaged = self
            .trips
            .iter()
            .any(|t| t.breaker == BreakerKind::KillSwitch && t.active(now));
        match reason {
            Some(r) if !engaged => self.trip(BreakerKind::KillSwitch, r.to_string(), now, None),
            None if engaged => {
                for t in &mut self.trips {
                    if t.breaker == BreakerKind::KillSwitch && t.active(now) {
                        t.until = Some(now);
                    }
                }
                tracing::warn!(target: "polyedge_engine::breakers", "kill switch released");
            }
            _ => {}
        }
    }

    /// Trips [`BreakerKind::VenueMismatch`] with `reason` at `now` unless it is tripped already
    /// (it never clears by itself). Returns whether it tripped now.
    pub fn on_venue_mismatch(&mut self, reason: &str, now: UnixNanos) -> bool {
        if self
            .trips
            .iter()
            .any(|t| t.breaker == BreakerKind::VenueMismatch)
        {
            return false;
        }
        self.trip(BreakerKind::VenueMismatch, reason.to_string(), now, None);
        true
    }

    /// Whether the kill switch is engaged at `now`.
    pub fn killed(&self, now: UnixNanos) -> bool {
        self.active(now)
            .any(|t| t.breaker == BreakerKind::KillSwitch)
    }

    /// A window the strategy traded settled with realized `pnl` at `now`; `realized` is the
    /// strategy's realized PnL after it and `bankroll` the bankroll in force.
    pub fn on_settlement(
        &mut self,
        cfg: &BreakerConfig,
        pnl: Cash,
        realized: Cash,
        bankroll: Cash,
        now: UnixNanos,
    ) {
        if pnl < Cash::ZERO {
            self.losses_in_row += 1;
        } else if pnl > Cash::ZERO {
            self.losses_in_row = 0;
        }
        if cfg.max_consecutive_losses > 0 && self.losses_in_row >= cfg.max_consecutive_losses {
            let n = self.losses_in_row;
            self.losses_in_row = 0;
            self.trip(
                BreakerKind::ConsecutiveLosses,
                format!("{n} losing windows in a row"),
                now,
                Some(cfg.loss_cooldown_secs),
            );
        }
        self.peak_pnl = self.peak_pnl.max(realized);
        let dd = self.peak_pnl - realized;
        let limit = Cash(
            bankroll
                .micros()
                .saturating_mul(i64::from(cfg.max_drawdown_pct))
                / 100,
        );
        let tripped = self
            .trips
            .iter()
            .any(|t| t.breaker == BreakerKind::Drawdown);
        if cfg.max_drawdown_pct > 0 && dd > limit && !tripped {
            self.trip(
                BreakerKind::Drawdown,
                format!(
                    "realized PnL {realized} pUSD is {dd} pUSD below its peak {} pUSD, over {} % of the {bankroll} pUSD bankroll",
                    self.peak_pnl, cfg.max_drawdown_pct
                ),
                now,
                None,
            );
        }
    }

    /// An order was handed to the executor at `now`.
    pub fn on_sent(&mut self, cfg: &BreakerConfig, now: UnixNanos) {
        self.push_venue(cfg, false, now);
    }

    /// The executor could not send an order, or the venue refused one for a reason other than a
    /// rule the order broke ([`RejectReason::Other`]), at `now`.
    pub fn on_venue_error(&mut self, cfg: &BreakerConfig, now: UnixNanos) {
        self.push_venue(cfg, true, now);
        if cfg.max_venue_errors == 0 {
            return;
        }
        let errors = self.venue.iter().filter(|v| v.1).count();
        let sent = self.venue.iter().filter(|v| !v.1).count().max(1);
        let rate_ok = errors * 100 >= sent * cfg.venue_error_rate_pct as usize;
        let active = self
            .active(now)
            .any(|t| t.breaker == BreakerKind::VenueErrors);
        if errors >= cfg.max_venue_errors as usize && rate_ok && !active {
            self.trip(
                BreakerKind::VenueErrors,
                format!(
                    "{errors} venue errors against {sent} orders sent within {} s",
                    cfg.venue_error_window_secs
                ),
                now,
                Some(cfg.venue_error_cooldown_secs),
            );
            self.venue.clear();
        }
    }

    fn push_venue(&mut self, cfg: &BreakerConfig, error: bool, now: UnixNanos) {
        self.venue.push_back((now, error));
        let span = cfg
            .venue_error_window_secs
            .saturating_mul(UnixNanos::PER_SEC);
        while self
            .venue
            .front()
            .is_some_and(|(t, _)| now.saturating_sub(*t) > span)
        {
            self.venue.pop_front();
        }
    }

    /// Whether `intent` may go out now, given the number of the strategy's working orders and
    /// the windows where it holds an unsettled position or a working buy (`held_windows`).
    ///
    /// # Errors
    /// [`RejectReason::Risk`] naming the breaker and why.
    pub fn check(
        &self,
        cfg: &BreakerConfig,
        intent: &OrderIntent,
        open_orders: usize,
        held_windows: &[&str],
        now: UnixNanos,
    ) -> Result<(), RejectReason> {
        let buy = intent.side == Side::Buy;
        for t in self.active(now) {
            let all = matches!(
                t.breaker,
                BreakerKind::KillSwitch | BreakerKind::VenueErrors | BreakerKind::VenueMismatch
            );
            if all || buy {
                let until = t
                    .until
                    .map_or_else(String::new, |u| format!(" until {}", u.to_rfc3339()));
                return Err(RejectReason::Risk(format!(
                    "breaker {}{until}: {}",
                    t.breaker.name(),
                    t.reason
                )));
            }
        }
        if cfg.max_open_orders > 0 && open_orders >= cfg.max_open_orders {
            return Err(RejectReason::Risk(format!(
                "breaker open_orders: {open_orders} orders working, the maximum is {}",
                cfg.max_open_orders
            )));
        }
        if buy
            && cfg.max_concurrent_positions > 0
            && !held_windows.contains(&intent.window.as_str())
            && held_windows.len() >= cfg.max_concurrent_positions
        {
            return Err(RejectReason::Risk(format!(
                "breaker concurrent_positions: positions in {} windows, the maximum is {}",
                held_windows.len(),
                cfg.max_concurrent_positions
            )));
        }
        Ok(())
    }
}

/// Spread check of `outcome`'s book: `Some(reason)` if both sides exist and the spread exceeds
/// `cfg.max_spread`.
pub fn spread_reason(cfg: &BreakerConfig, outcome: Outcome, spread: Option<i64>) -> Option<String> {
    let s = spread?;
    (cfg.max_spread > Price::ZERO && s > i64::from(cfg.max_spread.micros())).then(|| {
        format!(
            "spread: {outcome} spread {} above the maximum {}",
            Cash(s),
            cfg.max_spread
        )
    })
}
