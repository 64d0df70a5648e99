//! Trade flow of one venue: aggressor ratio, cumulative volume delta, volume and VWAP over
//! trailing windows; and liquidation flow.

use polyedge_core::{Side, UnixNanos};

use crate::rolling::RollingSums;

/// Horizons of [`TradeFlow`], seconds: 30, 60, 120 (aggressor ratios, CVD, volume) and 300 (VWAP).
pub const FLOW_HORIZONS_S: [u64; 4] = [30, 60, 120, 300];

/// Trailing sums of one venue's trades: `[taker-buy qty, taker-sell qty, price·qty, qty]`.
#[derive(Debug, Clone)]
pub struct TradeFlow {
    sums: RollingSums<4>,
    last: Option<(UnixNanos, f64)>,
}

impl Default for TradeFlow {
    fn default() -> Self {
        TradeFlow {
            sums: RollingSums::new(&FLOW_HORIZONS_S),
            last: None,
        }
    }
}

/// What [`TradeFlow::read`] gives (each `None` when undefined).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FlowValues {
    /// Taker-buy / (taker-buy + taker-sell) volume over 30, 60, 120 s.
    pub aggr: [Option<f64>; 3],
    /// Taker-buy − taker-sell volume over 60 s.
    pub cvd60: f64,
    /// Volume over 60 s.
    pub volume60: f64,
    /// (last price − VWAP 300 s) / VWAP × 10⁴.
    pub vwap_dev_bp: Option<f64>,
}

impl TradeFlow {
    /// Adds a trade received at `at`.
    pub fn add(&mut self, at: UnixNanos, price: f64, qty: f64, taker: Option<Side>) {
        if !(price.is_finite() && price > 0.0 && qty.is_finite() && qty >= 0.0) {
            return;
        }
        let (buy, sell) = match taker {
            Some(Side::Buy) => (qty, 0.0),
            Some(Side::Sell) => (0.0, qty),
            None => (0.0, 0.0),
        };
        self.sums.add(at, [buy, sell, price * qty, qty]);
        self.last = Some((at, price));
    }

    /// Receive time of the last trade.
    pub fn last_time(&self) -> Option<UnixNanos> {
        self.last.map(|l| l.0)
    }

    /// Forgets everything (a gap in the stream).
    pub fn clear(&mut self) {
        self.sums.clear();
        self.last = None;
    }

    /// The values as of `now`.
    pub fn read(&mut self, now: UnixNanos) -> FlowValues {
        self.sums.advance(now);
        let mut v = FlowValues::default();
        for (i, a) in v.aggr.iter_mut().enumerate() {
            let [b, s, _, _] = self.sums.sums(i);
            *a = (b + s > 0.0).then(|| b / (b + s));
        }
        let [b, s, _, q] = self.sums.sums(1);
        v.cvd60 = b - s;
        v.volume60 = q;
        let [_, _, pq, q] = self.sums.sums(3);
        if let Some((_, last)) = self.last
            && q > 0.0
        {
            let vwap = pq / q;
            v.vwap_dev_bp = Some((last - vwap) / vwap * 1e4);
        }
        v
    }
}

/// Liquidations over the last 60 s: `[long qty, short qty]` (a SELL liquidation order closes a
/// long position).
#[derive(Debug, Clone)]
pub struct LiqFlow {
    sums: RollingSums<2>,
}

impl Default for LiqFlow {
    fn default() -> Self {
        LiqFlow {
            sums: RollingSums::new(&[60]),
        }
    }
}

impl LiqFlow {
    /// Adds a liquidation order of `side` for `qty` received at `at`.
    pub fn add(&mut self, at: UnixNanos, side: Side, qty: f64) {
        if !(qty.is_finite() && qty >= 0.0) {
            return;
        }
        let v = match side {
            Side::Sell => [qty, 0.0],
            Side::Buy => [0.0, qty],
        };
        self.sums.add(at, v);
    }

    /// Long − short liquidated quantity over the last 60 s as of `now`.
    pub fn imbalance(&mut self, now: UnixNanos) -> f64 {
        self.sums.advance(now);
        let [l, s] = self.sums.sums(0);
        l - s
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.sums.clear();
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn at(s: u64) -> UnixNanos {
        UnixNanos::from_secs(1_000 + s)
    }

    #[test]
    fn aggressor_ratio_cvd_and_vwap_by_hand() {
        let mut f = TradeFlow::default();
        f.add(at(0), 100.0, 1.0, Some(Side::Buy));
        f.add(at(40), 102.0, 3.0, Some(Side::Sell));
        f.add(at(50), 101.0, 1.0, Some(Side::Buy));
        let v = f.read(at(50));
        // 30 s: seconds 21..=50 hold the 40 s and 50 s trades: buy 1, sell 3.
        assert_eq!(v.aggr[0], Some(0.25));
        // 60 s and 120 s hold all three: buy 2, sell 3.
        assert_eq!(v.aggr[1], Some(0.4));
        assert_eq!(v.cvd60, -1.0);
        assert_eq!(v.volume60, 5.0);
        let vwap = (100.0 + 306.0 + 101.0) / 5.0;
        assert!((v.vwap_dev_bp.unwrap() - (101.0 - vwap) / vwap * 1e4).abs() < 1e-9);
        // After 200 s of silence the 30/60/120 s windows are empty: the ratio is undefined
        // (missing), not 0.5 and not 0; VWAP over 300 s still holds them.
        let v = f.read(at(250));
        assert_eq!(v.aggr, [None, None, None]);
        assert_eq!(v.volume60, 0.0);
        assert!(v.vwap_dev_bp.is_some());
    }

    #[test]
    fn liquidation_imbalance() {
        let mut l = LiqFlow::default();
        l.add(at(0), Side::Sell, 2.0);
        l.add(at(10), Side::Buy, 0.5);
        assert_eq!(l.imbalance(at(10)), 1.5);
        assert_eq!(l.imbalance(at(65)), -0.5);
        assert_eq!(l.imbalance(at(200)), 0.0);
    }
}
