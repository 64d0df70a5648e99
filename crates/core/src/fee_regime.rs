//! Which fee schedule applied to a crypto Up/Down fill, by date.
//!
//! The market's own schedule (Gamma `feeSchedule` / CLOB `fd`, recorded in
//! [`Window::fee_schedule`](polyedge_core::Window)) always wins: since 2026-03-31 the venue says
//! fees "should now be calculated using the `feeSchedule` object within a market", and old markets
//! keep the fee config they were deployed with (protocols.md §5.2, §5.3). Most recordings carry no
//! market object, so [`fee_schedule_at`] falls back to the regime in force on the date, reconstructed
//! from protocols.md §5.3 ([`FEE_REGIMES`]).
//!
//! All boundaries are taken at 00:00 UTC of the listed date: the sources give dates, not times, so
//! fills on a boundary day may have been charged under the neighbouring regime.
//!
//! ## The Jan–Mar 2026 curve (protocols.md §5.3, **UNCERTAIN**)
//!
//! The 2026 crypto fee curve before Fee Structure V2 had `rate 0.25, exponent 2`. Two readings of it
//! exist: the Jan-2026 docs table (100 shares @ 0.50 → $0.78, i.e. notional-based
//! `C × p × 0.25 × (p(1−p))²`) and the news coverage of the same change (→ $1.56, i.e. share-based
//! `C × 0.25 × (p(1−p))²`). polyedge uses the **share-based** reading, because it is exactly the
//! formula of the current official SDK (`fee = C × rate × (p(1−p))^exponent`, \[TS2\]
//! `src/fees/index.ts`) applied to the market's own `feeSchedule {rate 0.25, exponent 2}` as still
//! served for a stale `crypto_15_min` market in Sept 2026 (protocols.md §5.3 / \[R2\] §1.3), and
//! because \[R2\] reports "~3.15 % of notional at 50¢ under the old curve" (= $1.5625 on $50). If the
//! $0.78 reading is right, simulated fees for Jan–Mar 2026 are 2× too high at p = 0.5 (conservative).

use crate::{Cash, FeeSchedule, Fixed18, Price, Size, UnixNanos, WindowDuration};

/// The Jan–Mar 2026 crypto curve (`feeType: crypto_15_min`): rate 0.25, exponent 2, taker-only,
/// 20 % maker rebate (protocols.md §5.3; \[R1\] §5.3; \[R2\] §1.3 live object
/// `{"exponent":2,"rate":0.25}`, rebateRate 0.2). Applied share-based (see the module docs).
pub const CRYPTO_2026Q1: FeeSchedule = FeeSchedule {
    rate_ppm: 250_000,
    exponent: 2,
    taker_only: true,
    rebate_rate_ppm: 200_000,
};

/// 2026-01-05 00:00 UTC: taker fees switched on for 15-minute crypto markets.
pub const D_2026_01_05: UnixNanos = UnixNanos::from_secs(1_767_571_200);
/// 2026-02-12 00:00 UTC: 5-minute crypto markets launched with fees.
pub const D_2026_02_12: UnixNanos = UnixNanos::from_secs(1_770_854_400);
/// 2026-03-06 00:00 UTC: fees on all new crypto markets (1h, 4h, daily, weekly).
pub const D_2026_03_06: UnixNanos = UnixNanos::from_secs(1_772_755_200);
/// 2026-03-30 00:00 UTC: Fee Structure V2 (crypto rate 0.07, exponent 1, taker-only).
pub const D_2026_03_30: UnixNanos = UnixNanos::from_secs(1_774_828_800);

/// One row of the fee history: from `from` on, windows of the listed durations pay `schedule`
/// (unless the market's own schedule is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRegime {
    /// First instant the row applies (inclusive, 00:00 UTC of the source's date).
    pub from: UnixNanos,
    /// Window durations the row covers.
    pub durations: &'static [WindowDuration],
    /// The schedule charged.
    pub schedule: FeeSchedule,
    /// Where the row comes from.
    pub source: &'static str,
}

const ALL: &[WindowDuration] = &[
    WindowDuration::M5,
    WindowDuration::M15,
    WindowDuration::H1,
    WindowDuration::H4,
    WindowDuration::D1,
];

/// The fee history of crypto Up/Down markets, oldest first. For a date and duration the **last**
/// row with `from ≤ date` covering the duration applies; before every row, trading was free.
///
/// | from (00:00 UTC) | durations | schedule | source |
/// |---|---|---|---|
/// | (before) | all | free | protocols.md §5.3 row "before 2026-01-05" (\[R2\] §1.2) |
/// | 2026-01-05 | 15m | r 0.25, e 2 | §5.3 row "2026-01-05/06" (\[R1\] §5.3, \[DOCS\] maker-rebates) |
/// | 2026-02-12 | 5m | r 0.25, e 2 (assumed) | §5.3 row "2026-02-12" (\[R2\] §1.2) |
/// | 2026-03-06 | 1h, 4h, 1d | r 0.25, e 2 (assumed) | §5.3 row "2026-03-06" (\[R2\] §1.2) |
/// | 2026-03-30 | all | r 0.07, e 1 | §5.3 row "2026-03-30" + §5.2 (\[R2\] §1.2, \[DS\]) |
///
/// The 5m (2026-02-12) and 1h/4h/1d (2026-03-06) rows are **assumptions** about *which* schedule:
/// the sources say only "launched with fees" / "fees on all new crypto markets". Until Fee Structure
/// V2 the only crypto fee type on record is `crypto_15_min` (r 0.25, e 2), and markets then carried
/// `feeType`/`feeSchedule` per market rather than per duration, so polyedge assumes the same curve.
pub const FEE_REGIMES: &[FeeRegime] = &[
    FeeRegime {
        from: D_2026_01_05,
        durations: &[WindowDuration::M15],
        schedule: CRYPTO_2026Q1,
        source: "protocols.md §5.3: 2026-01-05/06 15-min crypto taker fees, crypto_15_min {rate 0.25, exponent 2, rebateRate 0.2} [R1 §5.3]",
    },
    FeeRegime {
        from: D_2026_02_12,
        durations: &[WindowDuration::M5],
        schedule: CRYPTO_2026Q1,
        source: "protocols.md §5.3: 2026-02-12 5-min crypto markets launched with fees [R2 §1.2]; schedule assumed = crypto_15_min",
    },
    FeeRegime {
        from: D_2026_03_06,
        durations: &[WindowDuration::H1, WindowDuration::H4, WindowDuration::D1],
        schedule: CRYPTO_2026Q1,
        source: "protocols.md §5.3: 2026-03-06 fees on all new crypto markets (1h, 4h, daily, weekly) [R2 §1.2]; schedule assumed = crypto_15_min",
    },
    FeeRegime {
        from: D_2026_03_30,
        durations: ALL,
        schedule: FeeSchedule::CRYPTO_V2,
        source: "protocols.md §5.3: 2026-03-30 Fee Structure V2, crypto rate 0.07 exponent 1 taker-only, rebate 0.2 (§5.2, crypto_fees_v2) [R2 §1.2]",
    },
];

/// The fee schedule for a fill on `date` in a window of `duration`.
///
/// `market` is the market's own schedule when the data has it; it wins unconditionally. Otherwise
/// the last [`FEE_REGIMES`] row with `from ≤ date` that covers `duration`, or
/// [`FeeSchedule::FREE`] before any (crypto markets were fee-free before 2026-01-05).
pub fn fee_schedule_at(
    date: UnixNanos,
    duration: WindowDuration,
    market: Option<&FeeSchedule>,
) -> FeeSchedule {
    if let Some(s) = market {
        return *s;
    }
    regime_at(date, duration).map_or(FeeSchedule::FREE, |r| r.schedule)
}

/// The [`FEE_REGIMES`] row in force for `duration` on `date`, `None` when trading was free.
pub fn regime_at(date: UnixNanos, duration: WindowDuration) -> Option<&'static FeeRegime> {
    FEE_REGIMES
        .iter()
        .rev()
        .find(|r| r.from <= date && r.durations.contains(&duration))
}

/// Estimated maker rebate for a maker fill of `shares` at `price` under `schedule`, in micro-pUSD
/// (rounded half-to-even).
///
/// `rebateRate × fee_equivalent`, with `fee_equivalent` = the schedule's own fee curve applied to
/// our filled maker volume, unrounded (protocols.md §5.5: pool = `rebateRate` × taker fees of the
/// market; our share = our fee-equivalent / everyone's). Every maker fill has a taker counterpart
/// at the same price and size, so the market's total fee-equivalent ≈ its taker fees and our share
/// of the pool ≈ `rebateRate × our fee-equivalent`. It is only an **estimate**: the real split
/// depends on other makers, per-market daily pooling, fee rounding, the $1 minimum payout and
/// promotions (100 % rebates on 2026-01-09..11), none of which our data shows. Never add it to fees.
pub fn maker_rebate_estimate(schedule: &FeeSchedule, shares: Size, price: Price) -> Cash {
    if schedule.rebate_rate_ppm == 0 || schedule.rate_ppm == 0 {
        return Cash::ZERO;
    }
    let fee_eq: Fixed18 = schedule.taker_fee_exact(shares, price);
    // 1e-18 pUSD × ppm → 1e-24 pUSD; to micro-pUSD (1e-6) divide by 1e18.
    let n = fee_eq
        .0
        .saturating_mul(i128::from(schedule.rebate_rate_ppm));
    Cash(i64::try_from(div_round_half_even(n, 1_000_000_000_000_000_000)).unwrap_or(i64::MAX))
}

/// `round_half_even(n / d)` for `n ≥ 0`, `d > 0`.
fn div_round_half_even(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 == 1 => q + 1,
        _ => q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = UnixNanos::PER_SEC;

    fn before(t: UnixNanos) -> UnixNanos {
        UnixNanos(t.0 - 1)
    }

    #[test]
    fn boundary_dates_are_utc_midnights() {
        assert_eq!(D_2026_01_05.to_rfc3339(), "2026-01-05T00:00:00.000Z");
        assert_eq!(D_2026_02_12.to_rfc3339(), "2026-02-12T00:00:00.000Z");
        assert_eq!(D_2026_03_06.to_rfc3339(), "2026-03-06T00:00:00.000Z");
        assert_eq!(D_2026_03_30.to_rfc3339(), "2026-03-30T00:00:00.000Z");
    }

    #[test]
    fn fifteen_minute_boundaries() {
        let d = WindowDuration::M15;
        assert_eq!(
            fee_schedule_at(before(D_2026_01_05), d, None),
            FeeSchedule::FREE
        );
        assert_eq!(fee_schedule_at(D_2026_01_05, d, None), CRYPTO_2026Q1);
        assert_eq!(
            fee_schedule_at(before(D_2026_03_30), d, None),
            CRYPTO_2026Q1
        );
        assert_eq!(
            fee_schedule_at(D_2026_03_30, d, None),
            FeeSchedule::CRYPTO_V2
        );
    }

    #[test]
    fn five_minute_boundaries() {
        let d = WindowDuration::M5;
        // 5m still free while 15m already paid.
        assert_eq!(fee_schedule_at(D_2026_01_05, d, None), FeeSchedule::FREE);
        assert_eq!(
            fee_schedule_at(before(D_2026_02_12), d, None),
            FeeSchedule::FREE
        );
        assert_eq!(fee_schedule_at(D_2026_02_12, d, None), CRYPTO_2026Q1);
        assert_eq!(
            fee_schedule_at(D_2026_03_30, d, None),
            FeeSchedule::CRYPTO_V2
        );
        // The cronos recordings (2026-04-13) are in the V2 regime.
        assert_eq!(
            fee_schedule_at(UnixNanos(1_776_081_600 * S), d, None),
            FeeSchedule::CRYPTO_V2
        );
    }

    #[test]
    fn long_windows_boundaries() {
        for d in [WindowDuration::H1, WindowDuration::H4, WindowDuration::D1] {
            assert_eq!(fee_schedule_at(D_2026_02_12, d, None), FeeSchedule::FREE);
            assert_eq!(
                fee_schedule_at(before(D_2026_03_06), d, None),
                FeeSchedule::FREE
            );
            assert_eq!(fee_schedule_at(D_2026_03_06, d, None), CRYPTO_2026Q1);
            assert_eq!(
                fee_schedule_at(D_2026_03_30, d, None),
                FeeSchedule::CRYPTO_V2
            );
        }
        assert!(regime_at(before(D_2026_01_05), WindowDuration::M15).is_none());
    }

    #[test]
    fn market_schedule_wins() {
        // A stale crypto_15_min market still trading after V2 keeps its own curve.
        assert_eq!(
            fee_schedule_at(D_2026_03_30, WindowDuration::M15, Some(&CRYPTO_2026Q1)),
            CRYPTO_2026Q1
        );
        // And a market object saying "free" wins over the regime.
        assert_eq!(
            fee_schedule_at(D_2026_03_30, WindowDuration::M5, Some(&FeeSchedule::FREE)),
            FeeSchedule::FREE
        );
    }

    #[test]
    fn rebate_estimate() {
        let p = Price::parse("0.5").unwrap();
        // fee_eq = 100 × 0.07 × 0.25 = 1.75 → 20 % = 0.35.
        assert_eq!(
            maker_rebate_estimate(&FeeSchedule::CRYPTO_V2, Size::from_shares(100), p),
            Cash(350_000)
        );
        // Q1 curve: fee_eq = 1.5625 → 0.3125.
        assert_eq!(
            maker_rebate_estimate(&CRYPTO_2026Q1, Size::from_shares(100), p),
            Cash(312_500)
        );
        assert_eq!(
            maker_rebate_estimate(&FeeSchedule::FREE, Size::from_shares(100), p),
            Cash::ZERO
        );
        // 0.05640625 × 0.2 = 0.01128125 → 0.011281 (half-even at the micro).
        assert_eq!(
            maker_rebate_estimate(
                &CRYPTO_2026Q1,
                Size::from_shares(100),
                Price::parse("0.05").unwrap()
            ),
            Cash(11_281)
        );
        assert_eq!(div_round_half_even(25, 10), 2);
        assert_eq!(div_round_half_even(35, 10), 4);
        assert_eq!(div_round_half_even(26, 10), 3);
    }
}
