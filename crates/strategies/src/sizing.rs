//! Shared order sizing and market helpers: binary-outcome Kelly, visible depth, tick size,
//! minimum size and taker fees.
//!
//! # Kelly fraction for a binary contract
//! Buying a share at all-in cost `c` (price plus taker fee per share) that pays $1 with
//! probability `p` is a bet with net odds `b = (1 − c)/c`. Kelly's growth-optimal stake as a
//! fraction of the bankroll is `f* = (b·p − q)/b` with `q = 1 − p` (J. L. Kelly Jr., "A New
//! Interpretation of Information Rate", Bell System Technical Journal 35(4), 1956; E. O. Thorp,
//! "The Kelly criterion in blackjack, sports betting and the stock market", 2006, §2), which for
//! this payoff simplifies to
//!
//! ```text
//! f* = (p − c) / (1 − c)        (0 when p ≤ c)
//! ```
//!
//! — the seeds' `kelly = edge / (1 − market_price)` (`poly-edge-sprint-plan.md:461`) and
//! `Kelly % = (p·b − q)/b` (`crypto-arb-master-plan.md`, "Position Sizing: Kelly Criterion").
//! Strategies stake `kelly_fraction × f* × bankroll` (quarter-Kelly by default, same sources),
//! then cap it by visible depth, a maximum per trade and per window, and round down to whole
//! shares; orders under the minimum size are not sent.
//!
//! Money stays exact: `f64` appears only in the Kelly and model arithmetic; the resulting share
//! count, prices and costs are fixed-point.

use polyedge_core::{BookSide, Cash, FeeSchedule, Fixed18, Outcome, Price, Side, Size};
use serde::{Deserialize, Serialize};

use crate::MarketView;

/// The tick when neither the book nor the window gives one, micro-pUSD (0.01, protocols.md
/// §1.4 `mts`).
pub const DEFAULT_TICK_MICROS: u32 = 10_000;

/// The venue's minimum order size when the window does not say (5 shares, protocols.md §1.4).
pub const DEFAULT_MIN_SHARES: u64 = 5;

/// Sizing parameters shared by the model-driven strategies and the random baseline
/// (serde/TOML: every field optional; money as decimal strings in pUSD).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizingParams {
    /// Multiplier on the full Kelly fraction (default 0.25, quarter-Kelly:
    /// `crypto-arb-master-plan.md` "Fractional Kelly = Kelly % × 0.25",
    /// `poly-edge-sprint-plan.md:459` "quarter-Kelly").
    pub kelly_fraction: f64,
    /// Bankroll used when the driver does not report cash ([`MarketView::cash`]), pUSD
    /// (default "1000", the engine's default start cash).
    #[serde(with = "crate::params::cash")]
    pub bankroll: Cash,
    /// Most notional (`limit price × shares`) per order, pUSD (default "20", the risk default:
    /// `poly-edge-sprint-plan.md:676` "max $20/trade").
    #[serde(with = "crate::params::cash")]
    pub max_trade: Cash,
    /// Most notional bought per window by this strategy (both outcomes), pUSD (default "20", the
    /// risk default per window: 10 % of the $200 Phase-1 bankroll, `poly-edge-sprint-plan.md:144`).
    #[serde(with = "crate::params::cash")]
    pub max_window_cost: Cash,
    /// Most shares of one outcome of one window, held plus working buys (default 200,
    /// `poly-edge-sprint-plan.md:532` "Max inventory: 200 shares per side").
    pub max_window_shares: u64,
    /// Smallest order, shares (default 5, the venue minimum; the window's own minimum wins if
    /// larger).
    pub min_shares: u64,
}

impl Default for SizingParams {
    fn default() -> Self {
        SizingParams {
            kelly_fraction: 0.25,
            bankroll: Cash(1_000_000_000),
            max_trade: Cash(20_000_000),
            max_window_cost: Cash(20_000_000),
            max_window_shares: 200,
            min_shares: DEFAULT_MIN_SHARES,
        }
    }
}

/// Full Kelly fraction `f* = (p − c)/(1 − c)` of a share costing `c` (all-in, dollars) that pays
/// $1 with probability `p` (module docs); 0 when `p ≤ c`, `c ∉ (0, 1)` or an input is not finite.
pub fn kelly_fraction(p: f64, c: f64) -> f64 {
    if !(p.is_finite() && c.is_finite()) || c <= 0.0 || c >= 1.0 || p <= c {
        return 0.0;
    }
    ((p - c) / (1.0 - c)).min(1.0)
}

/// A probability as a [`Price`] (micro-pUSD per share, rounded, clamped to `[0, 1]`).
pub fn price_of_prob(p: f64) -> Price {
    let m = (p.clamp(0.0, 1.0) * 1e6).round();
    // In [0, 1e6] after the clamp, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Price::from_micros(m as u32).unwrap_or(Price::ZERO)
}

/// Taker fee per share at `price` (dollars, unrounded), 0 without a schedule.
pub fn fee_per_share(fees: Option<FeeSchedule>, price: Price) -> f64 {
    fees.map_or(0.0, |f| {
        fixed18_to_f64(f.taker_fee_exact(Size::from_shares(1), price))
    })
}

fn fixed18_to_f64(x: Fixed18) -> f64 {
    let int = x.0 / Fixed18::SCALE;
    let frac = x.0 % Fixed18::SCALE;
    int as f64 + frac as f64 / 1e18
}

/// The tick in force on `slug`: the book's (either token), else the window's, else 0.01.
pub fn tick_size(view: &dyn MarketView, slug: &str) -> Price {
    view.book(slug)
        .and_then(|b| {
            b.book(Outcome::Up)
                .tick_size()
                .or_else(|| b.book(Outcome::Down).tick_size())
        })
        .or_else(|| view.window(slug).and_then(|w| w.tick_size))
        .filter(|t| t.micros() > 0)
        .unwrap_or_else(|| Price::from_micros(DEFAULT_TICK_MICROS).unwrap_or(Price::ZERO))
}

/// The smallest order on `slug`, in whole shares: the window's minimum (default 5) or
/// `min_shares`, whichever is larger.
pub fn min_shares(view: &dyn MarketView, slug: &str, min_shares: u64) -> u64 {
    let window_min = view
        .window(slug)
        .and_then(|w| w.min_order_size)
        .map_or(DEFAULT_MIN_SHARES, |s| s.micros().div_ceil(1_000_000));
    window_min.max(min_shares)
}

/// Whole shares in `size` (rounded down).
pub fn whole_shares(size: Size) -> u64 {
    size.micros() / 1_000_000
}

/// Shares of `outcome` on `slug` the strategy has working in buy orders.
pub fn open_buy_shares(view: &dyn MarketView, slug: &str, outcome: Outcome) -> Size {
    view.open_orders()
        .iter()
        .filter(|o| o.window == slug && o.outcome == outcome && o.side == Side::Buy)
        .fold(Size::ZERO, |a, o| a + o.size)
}

/// Walks the asks of `outcome` on `slug` from the best while `accept(level price)` holds; returns
/// the worst accepted price and the visible shares up to it (`None` if the best ask fails or
/// there is none).
pub fn accepted_asks(
    view: &dyn MarketView,
    slug: &str,
    outcome: Outcome,
    mut accept: impl FnMut(Price) -> bool,
) -> Option<(Price, Size)> {
    let book = view.book(slug)?;
    let mut worst = None;
    let mut depth = Size::ZERO;
    for level in book.levels(outcome, BookSide::Ask) {
        if !accept(level.price) {
            break;
        }
        worst = Some(level.price);
        depth += level.size;
    }
    worst.map(|w| (w, depth))
}

/// A sized taker buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuySize {
    /// Whole shares to buy.
    pub shares: u64,
    /// Why the size is what it is (the binding cap).
    pub bound: SizeBound,
}

/// Which cap bound a [`BuySize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeBound {
    /// The (fractional) Kelly stake or the fixed stake.
    Stake,
    /// Visible depth at acceptable prices.
    Depth,
    /// [`SizingParams::max_trade`].
    MaxTrade,
    /// [`SizingParams::max_window_cost`].
    WindowCost,
    /// [`SizingParams::max_window_shares`].
    WindowShares,
}

impl SizingParams {
    /// The bankroll Kelly stakes are taken of: the driver's cash if it reports it, else
    /// [`SizingParams::bankroll`].
    pub fn bankroll_of(&self, view: &dyn MarketView) -> Cash {
        view.cash().unwrap_or(self.bankroll)
    }

    /// Shares for a buy of `outcome` on `slug` at limit `limit` with all-in cost per share
    /// `cost` (dollars) and a stake of `stake` pUSD, capped by `depth`, the per-trade and
    /// per-window limits (what was bought already and the working orders from the view). `None`
    /// when the result is under the minimum size.
    #[allow(clippy::too_many_arguments)]
    pub fn size_buy(
        &self,
        view: &dyn MarketView,
        slug: &str,
        outcome: Outcome,
        limit: Price,
        cost: f64,
        stake: Cash,
        depth: Size,
    ) -> Option<BuySize> {
        if limit.micros() == 0 || cost.is_nan() || cost <= 0.0 {
            return None;
        }
        let per_share = |c: Cash, px: f64| -> u64 {
            let v = (c.to_f64() / px).floor();
            if v.is_finite() && v > 0.0 {
                // Floored, positive and finite; saturating for huge values.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = v as u64;
                n
            } else {
                0
            }
        };
        let lim = limit.to_f64();
        let held = view.position(slug, outcome) + open_buy_shares(view, slug, outcome);
        let open_cost: i64 = view
            .open_orders()
            .iter()
            .filter(|o| o.window == slug && o.side == Side::Buy)
            .map(|o| o.price.notional(o.size).micros())
            .sum();
        let spent = Cash(view.window_bought(slug).micros() + open_cost);
        let caps = [
            (per_share(stake, cost), SizeBound::Stake),
            (whole_shares(depth), SizeBound::Depth),
            (per_share(self.max_trade, lim), SizeBound::MaxTrade),
            (
                per_share(self.max_window_cost - spent, lim),
                SizeBound::WindowCost,
            ),
            (
                self.max_window_shares.saturating_sub(whole_shares(held)),
                SizeBound::WindowShares,
            ),
        ];
        let (shares, bound) = caps.into_iter().min_by_key(|c| c.0)?;
        (shares >= min_shares(view, slug, self.min_shares)).then_some(BuySize { shares, bound })
    }

    /// The fractional-Kelly stake (pUSD) for win probability `p` at all-in cost `cost`.
    pub fn kelly_stake(&self, view: &dyn MarketView, p: f64, cost: f64) -> Cash {
        let f = kelly_fraction(p, cost) * self.kelly_fraction.clamp(0.0, 1.0);
        let micros = (self.bankroll_of(view).to_f64() * f * 1e6).floor();
        if micros.is_finite() && micros > 0.0 {
            // Floored, positive, finite.
            #[allow(clippy::cast_possible_truncation)]
            Cash(micros as i64)
        } else {
            Cash::ZERO
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact zeros are the contract
mod tests {
    use super::*;

    #[test]
    fn kelly_binary() {
        // p = 0.6 at c = 0.5: f* = 0.1 / 0.5 = 0.2.
        assert!((kelly_fraction(0.6, 0.5) - 0.2).abs() < 1e-12);
        assert_eq!(kelly_fraction(0.5, 0.5), 0.0);
        assert_eq!(kelly_fraction(0.4, 0.5), 0.0);
        assert_eq!(kelly_fraction(0.9, 1.0), 0.0);
        assert_eq!(kelly_fraction(f64::NAN, 0.5), 0.0);
        // Equals the general (b·p − q)/b with b = (1 − c)/c.
        let (p, c) = (0.72_f64, 0.58_f64);
        let b = (1.0 - c) / c;
        assert!((kelly_fraction(p, c) - (b * p - (1.0 - p)) / b).abs() < 1e-12);
    }

    #[test]
    fn prob_to_price() {
        assert_eq!(price_of_prob(0.5), Price::parse("0.5").unwrap());
        assert_eq!(price_of_prob(1.5), Price::ONE);
        assert_eq!(price_of_prob(-1.0), Price::ZERO);
    }
}
