//! [`Ledger`]: a strategy's own fills per window and outcome, kept by the engine and read through
//! [`MarketView::leg`](crate::MarketView::leg), so strategies need no bookkeeping of their own.

use std::collections::BTreeMap;

use polyedge_core::{Cash, ExecReport, Outcome, Side, Size};

/// What one strategy has bought and sold per window and outcome, from its fill reports (kept by
/// the engine per strategy; forgotten once the window is resolved and every callback about it ran).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    legs: BTreeMap<(String, Outcome), Leg>,
}

/// One outcome of one window in a [`Ledger`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Leg {
    /// Shares held.
    pub shares: Size,
    /// Cost basis of the held shares (notional, micro-pUSD; fees not included).
    pub cost: Cash,
    /// Taker fees paid on this leg (micro-pUSD).
    pub fees: Cash,
    /// Notional of every buy (micro-pUSD), never reduced by sells.
    pub bought: Cash,
}

impl Leg {
    /// Average all-in cost per share of the held shares (cost plus fees, dollars), `None` when
    /// nothing is held.
    pub fn avg_cost(&self) -> Option<f64> {
        (!self.shares.is_zero()).then(|| (self.cost + self.fees).to_f64() / self.shares.to_f64())
    }
}

impl Ledger {
    /// Books a report (only fills matter).
    pub fn on_report(&mut self, report: &ExecReport) {
        let ExecReport::Filled(f) = report else {
            return;
        };
        let leg = self.legs.entry((f.window.clone(), f.outcome)).or_default();
        match f.side {
            Side::Buy => {
                let n = f.price.notional(f.size);
                leg.shares += f.size;
                leg.cost += n;
                leg.fees += f.fee;
                leg.bought += n;
            }
            Side::Sell => {
                let held = leg.shares.micros();
                let sold = f.size.micros().min(held);
                if held > 0 {
                    let part = |c: Cash| {
                        let v = i128::from(c.micros()) * i128::from(sold) / i128::from(held);
                        Cash(i64::try_from(v).unwrap_or(i64::MAX))
                    };
                    leg.cost -= part(leg.cost);
                    leg.fees -= part(leg.fees);
                }
                leg.shares = leg.shares.saturating_sub(Size::from_micros(sold));
            }
        }
    }

    /// The leg of `outcome` on `slug` (zero if never traded).
    pub fn leg(&self, slug: &str, outcome: Outcome) -> Leg {
        self.legs
            .get(&(slug.to_string(), outcome))
            .copied()
            .unwrap_or_default()
    }

    /// Notional bought on `slug`, both outcomes.
    pub fn window_cost(&self, slug: &str) -> Cash {
        [Outcome::Up, Outcome::Down]
            .into_iter()
            .map(|o| self.leg(slug, o).bought)
            .fold(Cash::ZERO, |a, b| a + b)
    }

    /// Forgets a window (after it resolved).
    pub fn forget(&mut self, slug: &str) {
        self.legs.retain(|(s, _), _| s != slug);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::Price;

    #[test]
    fn ledger_books_buys_and_sells() {
        use polyedge_core::{Fill, Liquidity, OrderId, UnixNanos};
        let mut l = Ledger::default();
        let fill = |side, price: &str, n| {
            ExecReport::Filled(Fill {
                order: OrderId(1),
                window: "w".into(),
                outcome: Outcome::Up,
                side,
                price: Price::parse(price).unwrap(),
                size: Size::from_shares(n),
                fee: Cash(10_000),
                liquidity: Liquidity::Taker,
                at: UnixNanos(0),
            })
        };
        l.on_report(&fill(Side::Buy, "0.40", 10));
        l.on_report(&fill(Side::Buy, "0.60", 10));
        let leg = l.leg("w", Outcome::Up);
        assert_eq!(leg.shares, Size::from_shares(20));
        assert_eq!(leg.cost, Cash(10_000_000));
        assert!((leg.avg_cost().unwrap() - 0.501).abs() < 1e-9);
        l.on_report(&fill(Side::Sell, "0.50", 10));
        let leg = l.leg("w", Outcome::Up);
        assert_eq!(leg.shares, Size::from_shares(10));
        assert_eq!(leg.cost, Cash(5_000_000));
        assert_eq!(l.window_cost("w"), Cash(10_000_000));
    }
}
