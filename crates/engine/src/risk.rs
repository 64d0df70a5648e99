//! Pre-trade risk checks.
//!
//! [`RiskConfig::check`] runs before an order is sent and refuses it with
//! [`RejectReason::Risk`] and a sentence saying which limit and by how much. Checks, in order:
//!
//! 1. **Time left**: the window must have at least [`RiskConfig::min_time_left_secs`] to run (all
//!    orders), and must not be settled.
//! 2. **Per trade**: `price × size` ≤ [`RiskConfig::max_order_notional`] (all orders).
//! 3. **Sells** must be covered by shares held and not already offered by open sells (the venue
//!    cannot short); sells reduce risk, so the remaining limits apply to buys only.
//! 4. **Daily loss** (UTC day): buys are refused once today's realized PnL is at or below
//!    −[`RiskConfig::daily_loss_limit`]. Realized PnL includes fees and settlements; losses of
//!    5-minute windows are realized within minutes, so realized-only is close to mark-to-market.
//! 5. **Per-window shares** (per outcome): held + open buys + this ≤
//!    [`RiskConfig::max_window_shares`].
//! 6. **Per-window cost** (both outcomes): cost basis + open buy notional + this ≤
//!    [`RiskConfig::max_window_cost`].
//! 7. **Total exposure**: cost basis of all open positions + all open buy notional + this ≤
//!    [`RiskConfig::max_total_exposure`] (a long binary position can lose at most its cost).
//!
//! Open orders are those the executor still works
//! ([`SimExecutor::open_orders`](crate::sim_exec::SimExecutor::open_orders)), each with its
//! remaining size.
//!
//! Defaults come from the seed documents (`/work/shared/docs/seeds/`), Phase-1 live settings:
//!
//! | limit | default | seed |
//! |---|---|---|
//! | max per trade | 20 pUSD | `poly-edge-sprint-plan.md:676` "max $20/trade" |
//! | daily loss | 10 pUSD | `poly-edge-sprint-plan.md:676` "$10 daily loss limit" |
//! | total exposure | 100 pUSD | `poly-edge-sprint-plan.md:676` "$100 total exposure" |
//! | per-window cost | 20 pUSD | `poly-edge-sprint-plan.md:144` "Max position per market: 10% of bankroll" × the $200 Phase-1 bankroll (`:674`) |
//! | per-window shares | 200 per outcome | `poly-edge-sprint-plan.md:532` "Max inventory: 200 shares per side" |
//! | min time left | 30 s | `polymarket-arb-rust-spec.md:449` "Time remaining check (>30s)" |
//!
//! [`RiskConfig::from_bankroll`] scales the money limits by the percentages of
//! `poly-edge-sprint-plan.md:144-147` instead.

use serde::{Deserialize, Serialize};

use polyedge_core::{Cash, OrderIntent, RejectReason, Side, Size, UnixNanos, Window};

use crate::executor::RiskApproved;
use crate::portfolio::Portfolio;

/// Limits of the pre-trade checks. Money in pUSD and shares as decimal strings in serde
/// (`{"max_order_notional": "20"}`); omitted fields take the seed defaults (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Most shares of one outcome of one window, held plus open buys.
    #[serde(with = "crate::decimal::size")]
    pub max_window_shares: Size,
    /// Most cost basis in one window (both outcomes), held plus open buys, pUSD.
    #[serde(with = "crate::decimal::cash")]
    pub max_window_cost: Cash,
    /// Most cost basis over all windows, held plus open buys, pUSD.
    #[serde(with = "crate::decimal::cash")]
    pub max_total_exposure: Cash,
    /// Most notional (`price × size`) of one order, pUSD.
    #[serde(with = "crate::decimal::cash")]
    pub max_order_notional: Cash,
    /// Buys stop for the rest of the UTC day once realized PnL today ≤ −this, pUSD (positive).
    #[serde(with = "crate::decimal::cash")]
    pub daily_loss_limit: Cash,
    /// No orders with less than this many seconds before the window end.
    pub min_time_left_secs: u64,
}

const PUSD: i64 = 1_000_000;

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            max_window_shares: Size::from_shares(200),
            max_window_cost: Cash(20 * PUSD),
            max_total_exposure: Cash(100 * PUSD),
            max_order_notional: Cash(20 * PUSD),
            daily_loss_limit: Cash(10 * PUSD),
            min_time_left_secs: 30,
        }
    }
}

fn pct(bankroll: Cash, per_mille: i64) -> Cash {
    Cash(bankroll.micros().saturating_mul(per_mille) / 1000)
}

fn secs_str(ns: u64) -> String {
    format!(
        "{}.{:03} s",
        ns / UnixNanos::PER_SEC,
        (ns % UnixNanos::PER_SEC) / UnixNanos::PER_MS
    )
}

fn reject(msg: String) -> Result<(), RejectReason> {
    tracing::debug!(%msg, "risk reject");
    Err(RejectReason::Risk(msg))
}

impl RiskConfig {
    /// Limits as fractions of `bankroll` per `poly-edge-sprint-plan.md:144-147`: per window 10 %,
    /// total exposure 60 %, daily loss 2.5 %, per trade 2 %; shares and time as the defaults.
    pub fn from_bankroll(bankroll: Cash) -> Self {
        RiskConfig {
            max_window_cost: pct(bankroll, 100),
            max_total_exposure: pct(bankroll, 600),
            daily_loss_limit: pct(bankroll, 25),
            max_order_notional: pct(bankroll, 20),
            ..RiskConfig::default()
        }
    }

    /// Checks `intent` ([`Self::check`]) and, if it passes, approves it: the only way to make
    /// the [`RiskApproved`] that every [`Executor`](crate::Executor) requires.
    ///
    /// # Errors
    /// As [`Self::check`].
    pub fn approve(
        &self,
        intent: OrderIntent,
        window: &Window,
        now: UnixNanos,
        portfolio: &Portfolio,
        open_orders: &[OrderIntent],
    ) -> Result<RiskApproved, RejectReason> {
        self.check(&intent, window, now, portfolio, open_orders)?;
        Ok(RiskApproved::new(intent, now))
    }

    /// Checks `intent` for `window` at `now` against `portfolio` and the still-working
    /// `open_orders` (remaining sizes; `intent` itself must not be among them).
    ///
    /// # Errors
    /// [`RejectReason::Risk`] with a message naming the limit, the value and the window.
    pub fn check(
        &self,
        intent: &OrderIntent,
        window: &Window,
        now: UnixNanos,
        portfolio: &Portfolio,
        open_orders: &[OrderIntent],
    ) -> Result<(), RejectReason> {
        let slug = &window.slug;
        if portfolio.is_settled(slug) {
            return reject(format!("window {slug} is already settled"));
        }
        let min_left = self.min_time_left_secs.saturating_mul(UnixNanos::PER_SEC);
        let left = window.end.saturating_sub(now);
        if left < min_left {
            return reject(format!(
                "{} left before the end of {slug}, less than the minimum {} s",
                secs_str(left),
                self.min_time_left_secs
            ));
        }
        let notional = intent.price.notional(intent.size);
        if notional > self.max_order_notional {
            return reject(format!(
                "order notional {notional} pUSD ({} @ {}) exceeds the per-trade maximum {} pUSD",
                intent.size, intent.price, self.max_order_notional
            ));
        }
        let same = |o: &&OrderIntent| o.window == *slug && o.outcome == intent.outcome;
        if intent.side == Side::Sell {
            let held = portfolio.position(slug, intent.outcome).shares;
            let offered = open_orders
                .iter()
                .filter(same)
                .filter(|o| o.side == Side::Sell)
                .fold(Size::ZERO, |a, o| a + o.size);
            if intent.size + offered > held {
                return reject(format!(
                    "sell of {} {} shares of {slug} exceeds the {} held and not already offered (held {held}, open sells {offered})",
                    intent.size,
                    intent.outcome,
                    held.saturating_sub(offered)
                ));
            }
            return Ok(());
        }
        let today = portfolio.realized_on_day(now);
        if today <= -self.daily_loss_limit {
            return reject(format!(
                "realized PnL on {} (UTC) is {today} pUSD, at or below the daily loss limit -{} pUSD",
                &now.to_rfc3339()[..10],
                self.daily_loss_limit
            ));
        }
        let buys = |o: &&OrderIntent| o.side == Side::Buy;
        let shares = portfolio.position(slug, intent.outcome).shares
            + open_orders
                .iter()
                .filter(same)
                .filter(buys)
                .fold(Size::ZERO, |a, o| a + o.size)
            + intent.size;
        if shares > self.max_window_shares {
            return reject(format!(
                "would hold {shares} {} shares of {slug} (with open buys), above the per-window maximum {}",
                intent.outcome, self.max_window_shares
            ));
        }
        let open_notional = |f: &dyn Fn(&OrderIntent) -> bool| {
            open_orders
                .iter()
                .filter(|o| o.side == Side::Buy && f(o))
                .fold(Cash::ZERO, |a, o| a + o.price.notional(o.size))
        };
        let window_cost =
            portfolio.window_cost(slug) + open_notional(&|o| o.window == *slug) + notional;
        if window_cost > self.max_window_cost {
            return reject(format!(
                "cost in {slug} would be {window_cost} pUSD (with open buys), above the per-window maximum {} pUSD",
                self.max_window_cost
            ));
        }
        let total = portfolio.open_cost() + open_notional(&|_| true) + notional;
        if total > self.max_total_exposure {
            return reject(format!(
                "total exposure would be {total} pUSD (with open buys), above the maximum {} pUSD",
                self.max_total_exposure
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_decimal_strings_and_defaults() {
        let c: RiskConfig =
            serde_json::from_str(r#"{"max_order_notional": "12.5", "max_window_shares": "50"}"#)
                .unwrap();
        assert_eq!(c.max_order_notional, Cash(12_500_000));
        assert_eq!(c.max_window_shares, Size::from_shares(50));
        assert_eq!(c.daily_loss_limit, Cash(10_000_000));
        let back: RiskConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<RiskConfig>(r#"{"max_order_notional": 12}"#).is_err());
        assert!(serde_json::from_str::<RiskConfig>(r#"{"nope": "1"}"#).is_err());
    }

    #[test]
    fn from_bankroll_percentages() {
        let c = RiskConfig::from_bankroll(Cash(1_000 * PUSD));
        assert_eq!(c.max_window_cost, Cash(100 * PUSD));
        assert_eq!(c.max_total_exposure, Cash(600 * PUSD));
        assert_eq!(c.daily_loss_limit, Cash(25 * PUSD));
        assert_eq!(c.max_order_notional, Cash(20 * PUSD));
        assert_eq!(secs_str(12_345_000_000), "12.345 s");
    }
}
