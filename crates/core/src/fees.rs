//! Polymarket taker fees.
//!
//! Formula (protocols.md §5.1; official TS V2 client `src/fees/index.ts`):
//!
//! ```text
//! fee (pUSD) = C × rate × (p × (1 − p)) ^ exponent      C = shares filled, p = trade price
//! ```
//!
//! Makers pay nothing when `taker_only`. The venue rounds the fee to 5 decimal places (smallest
//! fee 0.00001; anything smaller is zero); the direction is undocumented, polyedge uses
//! half-to-even as Nautilus does (`round_dp(5)`). All arithmetic is exact integer math (256-bit
//! intermediates); `f64` is never used.
//!
//! # Bounds
//! A schedule is valid when `rate_ppm` and `rebate_rate_ppm` are at most [`MAX_RATE_PPM`] (100 %)
//! and `exponent` at most [`MAX_EXPONENT`]: then `shares × rate × (p(1−p))^e` fits the 256-bit
//! intermediate for every `u64` share count (< 2⁶⁴ · 2²⁰ · 2³⁸ᵉ ≤ 2²³⁶). Schedules read from data
//! (Gamma `feeSchedule`, `windows.jsonl`, configs) are checked where they enter
//! ([`FeeSchedule::new`], and `Deserialize`, which refuses invalid ones). A schedule built by hand
//! with a larger exponent cannot corrupt the arithmetic either: the multiply detects overflow
//! and the fee saturates at the largest value instead of silently dropping carries.

use serde::{Deserialize, Serialize};

use crate::fixed::{Cash, Fixed18, Price, Size};

/// Largest accepted fee exponent (the venue has used 1 and 2).
pub const MAX_EXPONENT: u8 = 4;

/// Largest accepted fee or rebate rate, in parts per million (100 %).
pub const MAX_RATE_PPM: u32 = 1_000_000;

/// Why a fee schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeScheduleError {
    /// The exponent is above [`MAX_EXPONENT`].
    #[error("fee exponent {0} is outside 0..={MAX_EXPONENT}")]
    Exponent(u8),
    /// The fee rate is above [`MAX_RATE_PPM`].
    #[error("fee rate {0} ppm is above {MAX_RATE_PPM} ppm (100 %)")]
    Rate(u32),
    /// The rebate rate is above [`MAX_RATE_PPM`].
    #[error("rebate rate {0} ppm is above {MAX_RATE_PPM} ppm (100 %)")]
    Rebate(u32),
}

/// The fields of a [`FeeSchedule`] before validation (its `Deserialize` goes through this).
#[derive(Deserialize)]
struct FeeScheduleFields {
    rate_ppm: u32,
    exponent: u8,
    taker_only: bool,
    rebate_rate_ppm: u32,
}

impl TryFrom<FeeScheduleFields> for FeeSchedule {
    type Error = FeeScheduleError;
    fn try_from(f: FeeScheduleFields) -> Result<Self, FeeScheduleError> {
        FeeSchedule::new(f.rate_ppm, f.exponent, f.taker_only, f.rebate_rate_ppm)
    }
}

/// A market's fee parameters, as Gamma's `feeSchedule` / CLOB `fd` give them.
///
/// `Deserialize` refuses a schedule that [`FeeSchedule::validate`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "FeeScheduleFields")]
pub struct FeeSchedule {
    /// Fee rate in parts per million (0.07 → 70 000).
    pub rate_ppm: u32,
    /// Exponent `e` on `p(1 − p)`; the venue uses 1 (current) or 2 (Jan–Mar 2026 15-minute curve).
    pub exponent: u8,
    /// `true` when only takers pay (all crypto Up/Down markets so far).
    pub taker_only: bool,
    /// Share of taker fees returned to makers as rebates, in ppm (0.2 → 200 000).
    pub rebate_rate_ppm: u32,
}

impl FeeSchedule {
    /// No fees (crypto markets before 2026-01-05).
    pub const FREE: FeeSchedule = FeeSchedule {
        rate_ppm: 0,
        exponent: 1,
        taker_only: true,
        rebate_rate_ppm: 0,
    };

    /// Current crypto Up/Down schedule: rate 0.07, exponent 1, taker-only, 20 % rebate
    /// (protocols.md §5.2, Gamma `crypto_fees_v2`).
    pub const CRYPTO_V2: FeeSchedule = FeeSchedule {
        rate_ppm: 70_000,
        exponent: 1,
        taker_only: true,
        rebate_rate_ppm: 200_000,
    };

    /// A validated schedule.
    ///
    /// # Errors
    /// [`FeeScheduleError`] if `exponent > MAX_EXPONENT` or a rate is above [`MAX_RATE_PPM`].
    pub fn new(
        rate_ppm: u32,
        exponent: u8,
        taker_only: bool,
        rebate_rate_ppm: u32,
    ) -> Result<Self, FeeScheduleError> {
        let s = FeeSchedule {
            rate_ppm,
            exponent,
            taker_only,
            rebate_rate_ppm,
        };
        s.validate()?;
        Ok(s)
    }

    /// Checks the bounds of the module docs.
    ///
    /// # Errors
    /// [`FeeScheduleError`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), FeeScheduleError> {
        if self.exponent > MAX_EXPONENT {
            return Err(FeeScheduleError::Exponent(self.exponent));
        }
        if self.rate_ppm > MAX_RATE_PPM {
            return Err(FeeScheduleError::Rate(self.rate_ppm));
        }
        if self.rebate_rate_ppm > MAX_RATE_PPM {
            return Err(FeeScheduleError::Rebate(self.rebate_rate_ppm));
        }
        Ok(())
    }

    /// The taker fee for `shares` at `price`, exact, rounded only at 1e-18 (half-to-even).
    /// Matches the official client's unrounded `platformFee` (e.g. 100 @ 0.05, r 0.25, e 2 →
    /// 0.05640625).
    ///
    /// A schedule outside the bounds of [`validate`](Self::validate) whose product overflows
    /// 256 bits gives `Fixed18(i128::MAX)` (fail-safe: no trade is affordable), never a wrapped
    /// value.
    pub fn taker_fee_exact(&self, shares: Size, price: Price) -> Fixed18 {
        let Some((n, scale)) = self.numerator(shares, price) else {
            return Fixed18(i128::MAX);
        };
        // n is in 10^-scale pUSD (scale = 12 + 12e: 12 for a flat fee, ≥ 24 otherwise).
        if scale < 18 {
            let v = n.to_u128().saturating_mul(10u128.pow(18 - scale));
            return Fixed18(i128::try_from(v).unwrap_or(i128::MAX));
        }
        let v = div_pow10_round_half_even(n, scale - 18);
        Fixed18(i128::try_from(v.to_u128()).unwrap_or(i128::MAX))
    }

    /// The taker fee the venue charges: [`Self::taker_fee_exact`] rounded to 5 decimals
    /// (half-to-even), in micro-pUSD. Overflow (invalid schedules only) gives `Cash(i64::MAX)`
    /// as in [`taker_fee_exact`](Self::taker_fee_exact).
    pub fn taker_fee(&self, shares: Size, price: Price) -> Cash {
        let Some((n, scale)) = self.numerator(shares, price) else {
            return Cash(i64::MAX);
        };
        let e5 = div_pow10_round_half_even(n, scale - 5);
        let micros = e5.to_u128().saturating_mul(10);
        Cash(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    /// The fee a maker pays on `shares` at `price`: zero when `taker_only`, else the taker formula.
    pub fn maker_fee(&self, shares: Size, price: Price) -> Cash {
        if self.taker_only {
            Cash::ZERO
        } else {
            self.taker_fee(shares, price)
        }
    }

    /// `C × rate × (p(1−p))^e` as an exact integer and its decimal scale; `None` if it does not
    /// fit 256 bits (only possible for a schedule that [`validate`](Self::validate) refuses).
    fn numerator(&self, shares: Size, price: Price) -> Option<(U256, u32)> {
        let p = u128::from(price.micros().min(1_000_000));
        let q = p * (1_000_000 - p); // p(1-p), scale 1e-12, ≤ 2.5e11
        let a = u128::from(shares.micros()) * u128::from(self.rate_ppm); // scale 1e-12
        let mut n = U256::from(a);
        for _ in 0..self.exponent {
            n = n.checked_mul_u128(q)?;
        }
        Some((n, 12 + 12 * u32::from(self.exponent)))
    }
}

/// Minimal unsigned 256-bit integer (little-endian u64 limbs) for exact fee math.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct U256([u64; 4]);

impl U256 {
    fn from(v: u128) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        U256([v as u64, (v >> 64) as u64, 0, 0])
    }

    /// `self × m`, or `None` if the product does not fit 256 bits (every carry propagated).
    fn checked_mul_u128(self, m: u128) -> Option<Self> {
        #[allow(clippy::cast_possible_truncation)]
        let ms = [m as u64, (m >> 64) as u64];
        let mut out = [0u64; 6];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry: u128 = 0;
            for (j, &b) in ms.iter().enumerate() {
                // ≤ (2⁶⁴−1) + (2⁶⁴−1)² + (2⁶⁴−1) = 2¹²⁸ − 1: never overflows u128.
                let cur = u128::from(out[i + j]) + u128::from(a) * u128::from(b) + carry;
                #[allow(clippy::cast_possible_truncation)]
                {
                    out[i + j] = cur as u64;
                }
                carry = cur >> 64;
            }
            let mut k = i + 2;
            while carry != 0 {
                let cur = u128::from(out[k]) + carry;
                #[allow(clippy::cast_possible_truncation)]
                {
                    out[k] = cur as u64;
                }
                carry = cur >> 64;
                k += 1;
            }
        }
        if out[4] != 0 || out[5] != 0 {
            return None;
        }
        Some(U256([out[0], out[1], out[2], out[3]]))
    }

    /// Divides by a `u64`, returning quotient and remainder.
    fn div_rem_u64(self, d: u64) -> (Self, u64) {
        let mut out = [0u64; 4];
        let mut rem: u128 = 0;
        for i in (0..4).rev() {
            let cur = (rem << 64) | u128::from(self.0[i]);
            #[allow(clippy::cast_possible_truncation)]
            {
                out[i] = (cur / u128::from(d)) as u64;
            }
            rem = cur % u128::from(d);
        }
        #[allow(clippy::cast_possible_truncation)]
        (U256(out), rem as u64)
    }

    fn to_u128(self) -> u128 {
        if self.0[2] != 0 || self.0[3] != 0 {
            return u128::MAX;
        }
        u128::from(self.0[0]) | (u128::from(self.0[1]) << 64)
    }
}

/// `round_half_even(n / 10^k)`.
fn div_pow10_round_half_even(n: U256, k: u32) -> U256 {
    if k == 0 {
        return n;
    }
    let mut q = n;
    let mut sticky = false;
    let mut left = k - 1;
    while left > 0 {
        let step = left.min(19);
        let (nq, r) = q.div_rem_u64(10u64.pow(step));
        sticky |= r != 0;
        q = nq;
        left -= step;
    }
    let (mut q, last) = q.div_rem_u64(10);
    let odd = q.0[0] & 1 == 1;
    let up = last > 5 || (last == 5 && (sticky || odd));
    if up {
        // Add one with carry.
        for limb in &mut q.0 {
            let (v, c) = limb.overflowing_add(1);
            *limb = v;
            if !c {
                break;
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(rate: u32, e: u8) -> FeeSchedule {
        FeeSchedule {
            rate_ppm: rate,
            exponent: e,
            taker_only: true,
            rebate_rate_ppm: 0,
        }
    }

    #[test]
    fn official_sdk_cases_exact() {
        // Polymarket/clob-client-v2 tests/client/feeCalculations.test.ts via
        // fixtures/polymarket/signing/test_vectors.json `fees_official`.
        let s = sched(250_000, 2);
        let cases = [
            ("100", "0.5", "1.5625"),
            ("100", "0.3", "1.1025"),
            ("100", "0.1", "0.2025"),
            ("100", "0.05", "0.05640625"),
            ("100", "0.01", "0.00245025"),
            ("125.5", "0.5", "1.9609375"),
        ];
        for (c, p, fee) in cases {
            let got = s.taker_fee_exact(Size::parse(c).unwrap(), Price::parse(p).unwrap());
            assert_eq!(got, Fixed18::parse(fee).unwrap(), "{c} @ {p}");
        }
    }

    #[test]
    fn crypto_v2_worked_example_and_rounding() {
        let s = FeeSchedule::CRYPTO_V2;
        // protocols.md §5.2: 100 Up @ 0.45 → 1.73250 pUSD.
        assert_eq!(
            s.taker_fee(Size::from_shares(100), Price::parse("0.45").unwrap()),
            Cash(1_732_500)
        );
        assert_eq!(
            s.taker_fee(Size::from_shares(100), Price::parse("0.5").unwrap()),
            Cash(1_750_000)
        );
        // 0.05640625 → 5 dp half-even → 0.05641 (sticky digits above half).
        assert_eq!(
            sched(250_000, 2).taker_fee(Size::from_shares(100), Price::parse("0.05").unwrap()),
            Cash(56_410)
        );
        // Tiny fee rounds to zero: 1 share @ 0.0001 → 0.07 × 0.00009999 = 0.0000069993 → 0.00001.
        assert_eq!(
            s.taker_fee(Size::from_shares(1), Price::parse("0.0001").unwrap()),
            Cash(10)
        );
        assert_eq!(
            s.taker_fee(Size::from_micros(1), Price::parse("0.5").unwrap()),
            Cash(0)
        );
        assert_eq!(
            s.maker_fee(Size::from_shares(100), Price::parse("0.5").unwrap()),
            Cash(0)
        );
    }

    #[test]
    fn schedules_out_of_range_are_refused() {
        assert_eq!(
            FeeSchedule::new(70_000, 1, true, 200_000),
            Ok(FeeSchedule::CRYPTO_V2)
        );
        assert_eq!(
            FeeSchedule::new(70_000, 5, true, 0),
            Err(FeeScheduleError::Exponent(5))
        );
        assert_eq!(
            FeeSchedule::new(1_000_001, 1, true, 0),
            Err(FeeScheduleError::Rate(1_000_001))
        );
        assert_eq!(
            FeeSchedule::new(70_000, 1, true, 1_000_001),
            Err(FeeScheduleError::Rebate(1_000_001))
        );
        let ok = r#"{"rate_ppm":70000,"exponent":4,"taker_only":true,"rebate_rate_ppm":0}"#;
        assert!(serde_json::from_str::<FeeSchedule>(ok).is_ok());
        let bad = r#"{"rate_ppm":70000,"exponent":9,"taker_only":true,"rebate_rate_ppm":0}"#;
        let e = serde_json::from_str::<FeeSchedule>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fee exponent 9"), "{e}");
    }

    #[test]
    fn large_exponents_keep_every_carry() {
        // (p(1−p))^e × C × rate at the largest valid exponent against an independent u128/
        // big-number computation: 1e9 shares at p = 0.5, rate 100 %, e = 4 →
        // 1e9 × 1 × 0.25⁴ = 3_906_250 pUSD.
        let s = sched(1_000_000, 4);
        assert_eq!(
            s.taker_fee(Size::MAX, Price::parse("0.5").unwrap()),
            Cash(3_906_250_000_000)
        );
        // The old multiply dropped the carry out of the third limb from e ≈ 5 and returned a
        // wrong, small fee; the checked one gives the fail-safe maximum.
        let huge = sched(u32::MAX, 9);
        let fee = huge.taker_fee(Size::from_micros(u64::MAX), Price::parse("0.5").unwrap());
        assert_eq!(fee, Cash(i64::MAX));
        // A product that needs every limb: (2¹²⁸−1)² has limbs [1, 0, 2⁶⁴−2, 2⁶⁴−1].
        let x = U256::from(u128::MAX).checked_mul_u128(u128::MAX).unwrap();
        assert_eq!(x.0, [1, 0, u64::MAX - 1, u64::MAX]);
        assert_eq!(x.checked_mul_u128(2), None);
    }

    #[test]
    fn exact_half_rounds_to_even() {
        // 0.000025 → 0.00002 (even), 0.000035 → 0.00004.
        let s = sched(1_000_000, 1);
        // C × p(1-p) with p = 0.5 → C/4; C = 0.0001 shares → 0.000025.
        assert_eq!(
            s.taker_fee(Size::from_micros(100), Price::parse("0.5").unwrap()),
            Cash(20)
        );
        assert_eq!(
            s.taker_fee(Size::from_micros(140), Price::parse("0.5").unwrap()),
            Cash(40)
        );
    }
}
