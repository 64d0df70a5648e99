//! What the fill model did, for `summary.json`: which queue model ran, its counters, and how
//! old the book was that each arriving order met (issue 12, items 1 and 4), plus the strategy's
//! skip reasons and merges (items 5 and 9).

use std::collections::BTreeMap;

use polyedge_engine::{FillModelReport, SimStats, StrategyResult};
use serde::Serialize;

/// Distribution of (receive time of the book an order met − the order's arrival), milliseconds.
/// Negative: the order met the book in force, received that long before it arrived; positive:
/// it arrived before its window showed any book and waited for the first one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagDistribution {
    /// Orders that arrived and met a book.
    pub orders: u64,
    /// Of those, orders that waited for their window's first book (lag > 0).
    pub waited_for_first_book: u64,
    /// Smallest lag, ms.
    pub min_ms: Option<f64>,
    /// Median (nearest rank), ms.
    pub p50_ms: Option<f64>,
    /// 10th percentile (nearest rank), ms: 90 % of the books were newer than this.
    pub p10_ms: Option<f64>,
    /// 1st percentile (nearest rank), ms.
    pub p1_ms: Option<f64>,
    /// Largest lag, ms.
    pub max_ms: Option<f64>,
}

/// The fill model of one strategy's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillModelSummary {
    /// The queue model that ran (`trade_through`, `front_of_queue`, `probabilistic`).
    pub queue_model: String,
    /// The exponent of the probabilistic model (absent for the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_power: Option<u32>,
    /// The simulated venue's counters.
    pub counters: SimStats,
    /// Book time − arrival over every arriving order.
    pub arrival_book_lag: LagDistribution,
}

/// Nearest-rank percentile `q` (0–1) of sorted `v`.
fn rank(v: &[i64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    // Index in [0, len − 1] by construction.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    #[allow(clippy::cast_precision_loss)]
    Some(v[i] as f64 / 1e6)
}

/// The distribution of `lags_ns` (see [`LagDistribution`]).
pub fn lag_distribution(lags_ns: &[i64]) -> LagDistribution {
    let mut v = lags_ns.to_vec();
    v.sort_unstable();
    LagDistribution {
        orders: v.len() as u64,
        waited_for_first_book: v.iter().filter(|&&l| l > 0).count() as u64,
        min_ms: rank(&v, 0.0),
        p1_ms: rank(&v, 0.01),
        p10_ms: rank(&v, 0.10),
        p50_ms: rank(&v, 0.50),
        max_ms: rank(&v, 1.0),
    }
}

/// The summary of a simulated executor's report.
pub fn fill_model(r: &FillModelReport) -> FillModelSummary {
    FillModelSummary {
        queue_model: r.queue_model.clone(),
        queue_power: r.queue_power,
        counters: r.stats,
        arrival_book_lag: lag_distribution(&r.arrival_book_lag_ns),
    }
}

/// Why a strategy did not trade, and what it merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// How often each skip reason was reported ([`polyedge_strategies::skip`] codes).
    pub skips: BTreeMap<String, u64>,
    /// Windows looked at without any order, by the last reason given there.
    pub windows_skipped: BTreeMap<String, u64>,
    /// Merges of complete sets.
    pub merges: u64,
    /// Complete sets merged, shares (decimal string).
    pub merged_shares: String,
}

/// The activity of `r`.
pub fn activity(r: &StrategyResult) -> Activity {
    let merged = r
        .merges
        .iter()
        .fold(polyedge_core::Size::ZERO, |a, m| a + m.shares);
    Activity {
        skips: r.skips.clone(),
        windows_skipped: r.skipped_windows.clone(),
        merges: r.merges.len() as u64,
        merged_shares: merged.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_percentiles_by_nearest_rank() {
        let lags: Vec<i64> = (1..=100).map(|i| -i * 1_000_000).collect();
        let d = lag_distribution(&lags);
        assert_eq!(d.orders, 100);
        assert_eq!(d.waited_for_first_book, 0);
        assert_eq!(d.min_ms, Some(-100.0));
        assert_eq!(d.p1_ms, Some(-100.0));
        assert_eq!(d.p10_ms, Some(-91.0));
        assert_eq!(d.p50_ms, Some(-51.0));
        assert_eq!(d.max_ms, Some(-1.0));
        let d = lag_distribution(&[5_000_000, -2_000_000]);
        assert_eq!((d.orders, d.waited_for_first_book), (2, 1));
        assert_eq!(lag_distribution(&[]).p50_ms, None);
    }
}
