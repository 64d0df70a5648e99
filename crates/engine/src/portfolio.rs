//! Positions, cash and PnL in exact fixed point ([`Cash`] micro-pUSD, [`Size`] micro-shares).
//!
//! Accounting rules:
//!
//! * A position is per `(window, outcome)`: shares held and their **total cost** (Σ notional paid,
//!   exact [`Cash`]); the average cost is derived ([`Position::avg_cost`]). Shorting is impossible on
//!   the venue (you sell tokens you hold), so selling more than held is an error.
//! * Notional of a fill = [`Price::notional`] (price × size rounded half away from zero to the
//!   micro-pUSD). A buy pays notional + fee; a sell receives notional − fee (protocols.md §5.1: "BUY
//!   fees add to collateral spend; SELL fees are deducted from proceeds").
//! * **Fees are expensed when paid**: they go to realized PnL at the fill (and to
//!   [`Portfolio::fees_paid`]), not into the cost basis.
//! * Selling or merging removes cost pro rata (`cost × removed / held`, half-to-even; all of it when
//!   the position is closed), and realizes `proceeds − removed cost − fee`.
//! * **Merge** (protocols.md §9): `n = min(Up, Down)` shares become `n` pUSD, no fee.
//! * **Settle** at the window end: winning shares pay 1 pUSD each, losing ones 0. An unknown outcome
//!   takes the window's positions out of the books at cost, **excluded from PnL**, and counts the
//!   window as unsettled. (Ties resolving Up is the resolver's job — [`Outcome::from_prices`] — not
//!   the portfolio's.)
//! * Estimated maker rebates are kept apart ([`Portfolio::rebates_estimated`]): not cash, not PnL.
//!
//! Invariant ([`Portfolio::check_invariant`]): `cash + Σ open cost + unsettled cost = start cash +
//! realized PnL`, exactly; realized PnL also equals the sum of its per-window and per-UTC-day parts.

use std::collections::BTreeMap;

use polyedge_core::{Cash, Fill, Outcome, Price, Side, Size, UnixNanos};

/// Shares of one outcome of one window and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Shares held (micro-shares).
    pub shares: Size,
    /// Total cost basis of those shares (micro-pUSD, fees excluded).
    pub cost: Cash,
}

impl Position {
    /// Average cost per share in micro-pUSD (half-to-even; capped at 1), `None` when flat.
    pub fn avg_cost(&self) -> Option<Price> {
        if self.shares.is_zero() {
            return None;
        }
        let per = div_round_half_even(
            i128::from(self.cost.micros()) * 1_000_000,
            i128::from(self.shares.micros()),
        );
        let capped = u32::try_from(per.clamp(0, 1_000_000)).unwrap_or(1_000_000);
        Price::from_micros(capped).ok()
    }
}

/// Why a portfolio operation was refused; the portfolio is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    /// A sell of more shares than held.
    #[error("cannot sell {requested} {outcome} shares of {window}: only {held} held")]
    InsufficientShares {
        /// Window slug.
        window: String,
        /// Outcome.
        outcome: Outcome,
        /// Shares held.
        held: Size,
        /// Shares the fill sold.
        requested: Size,
    },
    /// The window was already settled (or written off as unsettled).
    #[error("window {0} is already settled")]
    WindowClosed(String),
}

/// Accounting identity broken (a bug): what differs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("portfolio invariant violated: {0}")]
pub struct InvariantViolation(pub String);

/// What [`Portfolio::settle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Window slug.
    pub window: String,
    /// The outcome applied (`None`: unknown, excluded).
    pub outcome: Option<Outcome>,
    /// Cash paid out (winning shares × 1 pUSD).
    pub payout: Cash,
    /// Cost basis removed (both outcomes).
    pub cost: Cash,
    /// PnL realized (`payout − cost`; zero when the outcome is unknown).
    pub pnl: Cash,
}

/// Cash, positions and PnL of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portfolio {
    start_cash: Cash,
    cash: Cash,
    fees_paid: Cash,
    rebates_estimated: Cash,
    realized: Cash,
    positions: BTreeMap<(String, Outcome), Position>,
    window_pnl: BTreeMap<String, Cash>,
    daily_pnl: BTreeMap<u64, Cash>,
    closed: BTreeMap<String, Option<Outcome>>,
    unsettled_cost: Cash,
}

fn div_round_half_even(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q.rem_euclid(2) == 1 => q + 1,
        _ => q,
    }
}

/// `cost × part / whole`, half-to-even; exactly `cost` when `part == whole`.
fn pro_rata(cost: Cash, part: Size, whole: Size) -> Cash {
    if part == whole || whole.is_zero() {
        return cost;
    }
    let v = div_round_half_even(
        i128::from(cost.micros()) * i128::from(part.micros()),
        i128::from(whole.micros()),
    );
    Cash(i64::try_from(v).unwrap_or(i64::MAX))
}

/// 1 pUSD per share: `shares` micro-shares are worth `shares` micro-pUSD.
fn dollars(shares: Size) -> Cash {
    Cash(i64::try_from(shares.micros()).unwrap_or(i64::MAX))
}

/// UTC day index (days since 1970-01-01) of `at`.
pub fn utc_day(at: UnixNanos) -> u64 {
    at.secs() / 86_400
}

impl Portfolio {
    /// An empty account holding `start_cash`.
    pub fn new(start_cash: Cash) -> Self {
        Portfolio {
            start_cash,
            cash: start_cash,
            fees_paid: Cash::ZERO,
            rebates_estimated: Cash::ZERO,
            realized: Cash::ZERO,
            positions: BTreeMap::new(),
            window_pnl: BTreeMap::new(),
            daily_pnl: BTreeMap::new(),
            closed: BTreeMap::new(),
            unsettled_cost: Cash::ZERO,
        }
    }

    fn realize(&mut self, window: &str, at: UnixNanos, amount: Cash) {
        self.realized += amount;
        *self
            .window_pnl
            .entry(window.to_string())
            .or_insert(Cash::ZERO) += amount;
        *self.daily_pnl.entry(utc_day(at)).or_insert(Cash::ZERO) += amount;
    }

    fn ensure_open(&self, window: &str) -> Result<(), PortfolioError> {
        if self.closed.contains_key(window) {
            return Err(PortfolioError::WindowClosed(window.to_string()));
        }
        Ok(())
    }

    /// Books a fill (ours, from any executor).
    ///
    /// A fill of a window already settled with a known outcome (live trading: a trade learned
    /// late, e.g. by REST reconciliation after the user channel dropped) is booked and settled at
    /// once ([`Self::apply_late_fill`]).
    ///
    /// # Errors
    /// [`PortfolioError::InsufficientShares`] for a sell of more than held,
    /// [`PortfolioError::WindowClosed`] after the window was settled with an unknown outcome.
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<(), PortfolioError> {
        if let Some(Some(outcome)) = self.closed.get(&fill.window) {
            let outcome = *outcome;
            self.apply_late_fill(fill, outcome);
            return Ok(());
        }
        self.ensure_open(&fill.window)?;
        let key = (fill.window.clone(), fill.outcome);
        let notional = fill.price.notional(fill.size);
        let pos = self.positions.get(&key).copied().unwrap_or_default();
        match fill.side {
            Side::Buy => {
                self.cash -= notional + fill.fee;
                self.positions.insert(
                    key,
                    Position {
                        shares: pos.shares + fill.size,
                        cost: pos.cost + notional,
                    },
                );
                self.realize(&fill.window, fill.at, -fill.fee);
            }
            Side::Sell => {
                if fill.size > pos.shares {
                    return Err(PortfolioError::InsufficientShares {
                        window: fill.window.clone(),
                        outcome: fill.outcome,
                        held: pos.shares,
                        requested: fill.size,
                    });
                }
                let removed = pro_rata(pos.cost, fill.size, pos.shares);
                self.cash += notional - fill.fee;
                self.set_position(
                    key,
                    Position {
                        shares: pos.shares.saturating_sub(fill.size),
                        cost: pos.cost - removed,
                    },
                );
                self.realize(&fill.window, fill.at, notional - removed - fill.fee);
            }
        }
        self.fees_paid += fill.fee;
        Ok(())
    }

    fn set_position(&mut self, key: (String, Outcome), pos: Position) {
        if pos.shares.is_zero() && pos.cost == Cash::ZERO {
            self.positions.remove(&key);
        } else {
            self.positions.insert(key, pos);
        }
    }

    /// Records that `window` resolved to `outcome` for an account that holds nothing in it (it
    /// never traded it): no cash, PnL, window entry or unsettled count changes, but a fill of the window that
    /// arrives later (live trading: a trade learned late) is then booked and settled at once
    /// ([`Self::apply_late_fill`]) instead of opening a position nobody settles. Does nothing if
    /// the window is settled already or a position in it is open.
    pub fn mark_resolved(&mut self, window: &str, outcome: Outcome) {
        let holds = [Outcome::Up, Outcome::Down]
            .iter()
            .any(|o| self.positions.contains_key(&(window.to_string(), *o)));
        if !holds && !self.closed.contains_key(window) {
            self.closed.insert(window.to_string(), Some(outcome));
        }
    }

    /// How `window` was settled: `None` while open, `Some(None)` settled with an unknown outcome,
    /// `Some(Some(o))` settled with outcome `o`.
    pub fn settlement(&self, window: &str) -> Option<Option<Outcome>> {
        self.closed.get(window).copied()
    }

    /// Books `fill` of a window settled with `outcome`, and settles it at once: a buy pays
    /// notional + fee and its shares redeem (1 pUSD each if they won); a sell receives notional −
    /// fee, and takes back what the settlement paid for the shares it sold (they were counted as
    /// held). Cash and realized PnL move by the same amount; the fee counts as paid.
    pub fn apply_late_fill(&mut self, fill: &Fill, outcome: Outcome) {
        let notional = fill.price.notional(fill.size);
        let payout = if fill.outcome == outcome {
            dollars(fill.size)
        } else {
            Cash::ZERO
        };
        let delta = match fill.side {
            Side::Buy => payout - notional - fill.fee,
            Side::Sell => notional - fill.fee - payout,
        };
        self.cash += delta;
        self.realize(&fill.window, fill.at, delta);
        self.fees_paid += fill.fee;
    }

    /// Adds an estimated maker rebate (kept apart from cash, fees and PnL).
    pub fn accrue_rebate_estimate(&mut self, amount: Cash) {
        self.rebates_estimated += amount;
    }

    /// Merges complete sets of `window` at `at`: `n = min(Up, Down)` shares of each become `n`
    /// pUSD; realizes `n − cost removed from both`. Returns `n` (zero: nothing to merge).
    ///
    /// # Errors
    /// [`PortfolioError::WindowClosed`] after settlement.
    pub fn merge_complete_sets(
        &mut self,
        window: &str,
        at: UnixNanos,
    ) -> Result<Size, PortfolioError> {
        self.merge_sets(window, None, at)
    }

    /// Merges `n` complete sets of `window` at `at` (`None`: all, `min(Up, Down)`; more than
    /// held: as many as held), as the CTF's `mergePositions` with an amount does: `n` shares of
    /// each outcome become `n` pUSD, each side's cost reduced pro rata. Returns the sets merged.
    ///
    /// # Errors
    /// [`PortfolioError::WindowClosed`] after settlement.
    pub fn merge_sets(
        &mut self,
        window: &str,
        n: Option<Size>,
        at: UnixNanos,
    ) -> Result<Size, PortfolioError> {
        self.ensure_open(window)?;
        let up_key = (window.to_string(), Outcome::Up);
        let down_key = (window.to_string(), Outcome::Down);
        let up = self.positions.get(&up_key).copied().unwrap_or_default();
        let down = self.positions.get(&down_key).copied().unwrap_or_default();
        let held = up.shares.min(down.shares);
        let n = n.map_or(held, |n| n.min(held));
        if n.is_zero() {
            return Ok(Size::ZERO);
        }
        let cost_up = pro_rata(up.cost, n, up.shares);
        let cost_down = pro_rata(down.cost, n, down.shares);
        self.set_position(
            up_key,
            Position {
                shares: up.shares.saturating_sub(n),
                cost: up.cost - cost_up,
            },
        );
        self.set_position(
            down_key,
            Position {
                shares: down.shares.saturating_sub(n),
                cost: down.cost - cost_down,
            },
        );
        self.cash += dollars(n);
        self.realize(window, at, dollars(n) - cost_up - cost_down);
        Ok(n)
    }

    /// Settles `window` at `at`: with `Some(winner)`, each winning share pays 1 pUSD and losing
    /// shares 0, realizing `payout − cost`; with `None` (outcome unknown) the positions leave the
    /// books at cost, excluded from PnL, and the window counts as unsettled. A window without
    /// positions settles to zero.
    ///
    /// # Errors
    /// [`PortfolioError::WindowClosed`] if the window was settled before.
    pub fn settle(
        &mut self,
        window: &str,
        outcome: Option<Outcome>,
        at: UnixNanos,
    ) -> Result<Settlement, PortfolioError> {
        self.ensure_open(window)?;
        let mut payout = Cash::ZERO;
        let mut cost = Cash::ZERO;
        for o in [Outcome::Up, Outcome::Down] {
            if let Some(pos) = self.positions.remove(&(window.to_string(), o)) {
                cost += pos.cost;
                if outcome == Some(o) {
                    payout += dollars(pos.shares);
                }
            }
        }
        let pnl = if outcome.is_some() {
            self.cash += payout;
            self.realize(window, at, payout - cost);
            payout - cost
        } else {
            self.unsettled_cost += cost;
            Cash::ZERO
        };
        self.closed.insert(window.to_string(), outcome);
        Ok(Settlement {
            window: window.to_string(),
            outcome,
            payout,
            cost,
            pnl,
        })
    }

    /// Cash at the start.
    pub fn start_cash(&self) -> Cash {
        self.start_cash
    }

    /// Cash now (may be negative: the portfolio does not enforce buying power; risk does).
    pub fn cash(&self) -> Cash {
        self.cash
    }

    /// Fees paid so far.
    pub fn fees_paid(&self) -> Cash {
        self.fees_paid
    }

    /// Estimated maker rebates accrued (not in cash, not in PnL).
    pub fn rebates_estimated(&self) -> Cash {
        self.rebates_estimated
    }

    /// Realized PnL (fees included, unsettled windows excluded).
    pub fn realized_pnl(&self) -> Cash {
        self.realized
    }

    /// Realized PnL of one window.
    pub fn window_pnl(&self, window: &str) -> Cash {
        self.window_pnl.get(window).copied().unwrap_or(Cash::ZERO)
    }

    /// Realized PnL booked on the UTC day of `at`.
    pub fn realized_on_day(&self, at: UnixNanos) -> Cash {
        self.daily_pnl
            .get(&utc_day(at))
            .copied()
            .unwrap_or(Cash::ZERO)
    }

    /// The position in `(window, outcome)` (zero when none).
    pub fn position(&self, window: &str, outcome: Outcome) -> Position {
        self.positions
            .get(&(window.to_string(), outcome))
            .copied()
            .unwrap_or_default()
    }

    /// All open positions, ordered by window then outcome.
    pub fn positions(&self) -> impl Iterator<Item = (&str, Outcome, &Position)> {
        self.positions.iter().map(|((w, o), p)| (w.as_str(), *o, p))
    }

    /// Cost basis of `window`'s open positions (both outcomes).
    pub fn window_cost(&self, window: &str) -> Cash {
        self.position(window, Outcome::Up).cost + self.position(window, Outcome::Down).cost
    }

    /// Cost basis of all open positions: the most they can lose.
    pub fn open_cost(&self) -> Cash {
        self.positions.values().fold(Cash::ZERO, |a, p| a + p.cost)
    }

    /// Whether `window` has been settled (with or without a known outcome).
    pub fn is_settled(&self, window: &str) -> bool {
        self.closed.contains_key(window)
    }

    /// Number of windows settled with an unknown outcome.
    pub fn unsettled_count(&self) -> usize {
        self.closed.values().filter(|o| o.is_none()).count()
    }

    /// Windows settled with an unknown outcome, in slug order.
    pub fn unsettled_windows(&self) -> Vec<&str> {
        self.closed
            .iter()
            .filter(|(_, o)| o.is_none())
            .map(|(w, _)| w.as_str())
            .collect()
    }

    /// Cost of the positions of unsettled windows (excluded from PnL).
    pub fn unsettled_cost(&self) -> Cash {
        self.unsettled_cost
    }

    /// Checks `cash + Σ open cost + unsettled cost = start cash + realized PnL` and that realized
    /// PnL equals the sums of its per-window and per-day parts.
    ///
    /// # Errors
    /// [`InvariantViolation`] saying which identity failed and by how much.
    pub fn check_invariant(&self) -> Result<(), InvariantViolation> {
        let lhs = self.cash + self.open_cost() + self.unsettled_cost;
        let rhs = self.start_cash + self.realized;
        if lhs != rhs {
            return Err(InvariantViolation(format!(
                "cash {} + open cost {} + unsettled cost {} = {lhs} ≠ start {} + realized {} = {rhs}",
                self.cash,
                self.open_cost(),
                self.unsettled_cost,
                self.start_cash,
                self.realized
            )));
        }
        let by_window = self.window_pnl.values().fold(Cash::ZERO, |a, v| a + *v);
        let by_day = self.daily_pnl.values().fold(Cash::ZERO, |a, v| a + *v);
        if by_window != self.realized || by_day != self.realized {
            return Err(InvariantViolation(format!(
                "realized {} ≠ Σ per window {by_window} or Σ per day {by_day}",
                self.realized
            )));
        }
        if let Some(((w, o), p)) = self
            .positions
            .iter()
            .find(|(_, p)| p.cost < Cash::ZERO || (p.shares.is_zero() && p.cost != Cash::ZERO))
        {
            return Err(InvariantViolation(format!(
                "position {w} {o} has {} shares at cost {}",
                p.shares, p.cost
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pro_rata_and_rounding() {
        assert_eq!(
            pro_rata(Cash(10), Size::from_micros(1), Size::from_micros(3)),
            Cash(3)
        );
        assert_eq!(
            pro_rata(Cash(10), Size::from_micros(3), Size::from_micros(3)),
            Cash(10)
        );
        // 5 × 1/2 = 2.5 → 2 (even); 15/2 = 7.5 → 8.
        assert_eq!(
            pro_rata(Cash(5), Size::from_micros(1), Size::from_micros(2)),
            Cash(2)
        );
        assert_eq!(
            pro_rata(Cash(15), Size::from_micros(1), Size::from_micros(2)),
            Cash(8)
        );
        let p = Position {
            shares: Size::from_shares(3),
            cost: Cash(1_000_000),
        };
        assert_eq!(p.avg_cost(), Price::from_micros(333_333).ok());
        assert_eq!(Position::default().avg_cost(), None);
        assert_eq!(utc_day(UnixNanos::from_secs(86_400 * 3 + 5)), 3);
    }
}
