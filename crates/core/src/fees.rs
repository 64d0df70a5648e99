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

use serde::{Deserialize, Serialize};

use crate::fixed::{Cash, Fixed18, Price, Size};

/// A market's fee parameters, as Gamma's `feeSchedule` / CLOB `fd` give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// The taker fee for `shares` at `price`, exact, rounded only at 1e-18 (half-to-even).
    /// Matches the official client's unrounded `platformFee` (e.g. 100 @ 0.05, r 0.25, e 2 →
    /// 0.05640625).
    pub fn taker_fee_exact(&self, shares: Size, price: Price) -> Fixed18 {
        let (n, scale) = self.numerator(shares, price);
        // n is in 10^-scale pUSD (scale = 12 + 12e: 12 for a flat fee, ≥ 24 otherwise).
        if scale < 18 {
            let v = n.to_u128().saturating_mul(10u128.pow(18 - scale));
            return Fixed18(i128::try_from(v).unwrap_or(i128::MAX));
        }
        let v = div_pow10_round_half_even(n, scale - 18);
        Fixed18(i128::try_from(v.to_u128()).unwrap_or(i128::MAX))
    }

    /// The taker fee the venue charges: [`Self::taker_fee_exact`] rounded to 5 decimals
    /// (half-to-even), in micro-pUSD.
    pub fn taker_fee(&self, shares: Size, price: Price) -> Cash {
        let (n, scale) = self.numerator(shares, price);
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

    /// `C × rate × (p(1−p))^e` as an exact integer and its decimal scale.
    fn numerator(&self, shares: Size, price: Price) -> (U256, u32) {
        let p = u128::from(price.micros());
        let q = p * (1_000_000 - p); // p(1-p), scale 1e-12, ≤ 2.5e11
        let a = u128::from(shares.micros()) * u128::from(self.rate_ppm); // scale 1e-12
        let mut n = U256::from(a);
        for _ in 0..self.exponent {
            n = n.mul_u128(q);
        }
        (n, 12 + 12 * u32::from(self.exponent))
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

    fn mul_u128(self, m: u128) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let ms = [m as u64, (m >> 64) as u64];
        let mut out = [0u64; 4];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry: u128 = 0;
            for (j, &b) in ms.iter().enumerate() {
                if i + j >= 4 {
                    break;
                }
                let cur = u128::from(out[i + j]) + u128::from(a) * u128::from(b) + carry;
                #[allow(clippy::cast_possible_truncation)]
                {
                    out[i + j] = cur as u64;
                }
                carry = cur >> 64;
            }
            if i + 2 < 4 {
                #[allow(clippy::cast_possible_truncation)]
                {
                    out[i + 2] = out[i + 2].wrapping_add(carry as u64);
                }
            }
        }
        U256(out)
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
        // shared/fixtures/polymarket/signing/test_vectors.json `fees_official`.
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
