//! Exact fixed-point numbers.
//!
//! Polymarket denominates collateral (pUSD, formerly USDC) and outcome-token shares in 6-decimal
//! integer units on chain (protocols.md §4.4, §9). polyedge uses the same units everywhere money is
//! involved:
//!
//! | type | unit | range |
//! |---|---|---|
//! | [`Price`] | micro-pUSD per share (1e-6) | `0..=1_000_000` (0.0 … 1.0) |
//! | [`Size`] | micro-shares (1e-6 share) | `0..=`[`Size::MAX`] when parsed (10⁹ shares) |
//! | [`Cash`] | micro-pUSD (1e-6), signed | `i64` |
//! | [`Fixed18`] | 1e-18 of the quoted unit, signed | `i128` — spot prices/quantities, Chainlink E18 values |
//!
//! Decimal strings are parsed straight to integers ([`parse_scaled`]); nothing goes through `f64`.
//!
//! # Bounds
//! Values from the wire are bounded where they enter: [`Size::parse`] refuses sizes above
//! [`Size::MAX`] (10⁹ shares, far above any Polymarket order or book level, yet small enough that
//! the sum of every level of a book — at most 999 per side on a 0.001 grid — fits a `u64`, and
//! `price × size` fits an `i64` of micro-pUSD). Sums of [`Size`] and [`Cash`] (`+`, `+=`, `-`,
//! `-=`, unary `-`) saturate at the type's bounds instead of panicking (debug) or wrapping
//! (release); `checked_*` variants report overflow to callers that must know.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// Why a decimal string could not be turned into a fixed-point integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The string was empty (or only a sign).
    #[error("empty number")]
    Empty,
    /// A character other than digits, one leading `-`/`+` and one `.` was found.
    #[error("invalid character {ch:?} in number {text:?}")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// The whole input (truncated to 64 bytes).
        text: String,
    },
    /// More fractional digits than the type holds, and the extra digits are not all zero.
    #[error("number {text:?} has more than {scale} decimal places")]
    TooPrecise {
        /// The whole input (truncated to 64 bytes).
        text: String,
        /// Decimal places the target type holds.
        scale: u32,
    },
    /// The value does not fit the target type.
    #[error("number {text:?} is out of range for {target}")]
    OutOfRange {
        /// The whole input (truncated to 64 bytes).
        text: String,
        /// Target type name.
        target: &'static str,
    },
}

fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Parses a plain decimal string (`"-12.3400"`, `"0.5"`, `"7"`, `".5"`) into an integer scaled by
/// `10^scale`, exactly. Trailing fractional digits beyond `scale` are accepted only if they are zeros.
///
/// # Errors
/// [`DecimalError`] on empty input, a bad character (exponents such as `1e-5` included), excess
/// non-zero precision, or overflow of `i128`.
pub fn parse_scaled(text: &str, scale: u32) -> Result<i128, DecimalError> {
    let bytes = text.as_bytes();
    let (neg, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return Err(DecimalError::Empty);
    }
    let overflow = || DecimalError::OutOfRange {
        text: clip(text),
        target: "i128",
    };
    let mut value: i128 = 0;
    let mut frac_digits: u32 = 0;
    let mut seen_dot = false;
    let mut any_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                any_digit = true;
                if seen_dot {
                    if frac_digits == scale {
                        if b != b'0' {
                            return Err(DecimalError::TooPrecise {
                                text: clip(text),
                                scale,
                            });
                        }
                        continue;
                    }
                    frac_digits += 1;
                }
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(b - b'0')))
                    .ok_or_else(overflow)?;
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => {
                let ch = text[text.len() - digits.len()..]
                    .chars()
                    .find(|c| !c.is_ascii_digit() && *c != '.')
                    .unwrap_or('.');
                return Err(DecimalError::InvalidChar {
                    ch,
                    text: clip(text),
                });
            }
        }
    }
    if !any_digit {
        return Err(DecimalError::Empty);
    }
    let mut pow: i128 = 1;
    for _ in frac_digits..scale {
        pow = pow.checked_mul(10).ok_or_else(overflow)?;
    }
    let v = value.checked_mul(pow).ok_or_else(overflow)?;
    Ok(if neg { -v } else { v })
}

/// Formats `value / 10^scale` as a plain decimal string without trailing zeros (`"0.53"`, `"-2"`).
pub fn format_scaled(value: i128, scale: u32) -> String {
    let neg = value < 0;
    let abs = value.unsigned_abs();
    let pow = 10u128.pow(scale);
    let int = abs / pow;
    let frac = abs % pow;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if frac != 0 {
        let f = format!("{frac:0width$}", width = scale as usize);
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// Micro-units per whole unit (1e6): Polymarket's 6-decimal collateral and share units.
pub const MICRO: i64 = 1_000_000;

/// A Polymarket outcome-token price in micro-pUSD per share: `Price(530_000)` is $0.53.
///
/// Valid prices are `0..=1_000_000`. Construct with [`Price::parse`] or [`Price::from_micros`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Price(u32);

impl Price {
    /// $0.
    pub const ZERO: Price = Price(0);
    /// $1, the payout of a winning share.
    pub const ONE: Price = Price(1_000_000);

    /// Builds a price from micro-pUSD.
    ///
    /// # Errors
    /// [`DecimalError::OutOfRange`] if `micros > 1_000_000`.
    pub fn from_micros(micros: u32) -> Result<Self, DecimalError> {
        if micros > 1_000_000 {
            return Err(DecimalError::OutOfRange {
                text: micros.to_string(),
                target: "Price (0..=1)",
            });
        }
        Ok(Price(micros))
    }

    /// Parses a decimal string such as `"0.53"` (at most 6 decimals) into a price in `[0, 1]`.
    ///
    /// # Errors
    /// [`DecimalError`] on a malformed string, more than 6 significant decimals, or a value outside
    /// `[0, 1]`.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        let v = parse_scaled(text, 6)?;
        if !(0..=1_000_000).contains(&v) {
            return Err(DecimalError::OutOfRange {
                text: clip(text),
                target: "Price (0..=1)",
            });
        }
        // In range 0..=1e6, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Price(v as u32))
    }

    /// The price in micro-pUSD per share.
    pub const fn micros(self) -> u32 {
        self.0
    }

    /// The complementary price `1 − p`: a Down bid at `p` is an Up ask at `1 − p`.
    pub const fn complement(self) -> Price {
        Price(1_000_000 - self.0)
    }

    /// The price as `f64` dollars, for models and display only — never for accounting.
    pub fn to_f64(self) -> f64 {
        f64::from(self.0) / 1e6
    }

    /// Cost of `size` shares at this price in micro-pUSD, rounded half away from zero to the
    /// micro unit. (`p·s` is exact in 1e-12 units; see [`notional_e12`] for the unrounded value.)
    pub fn notional(self, size: Size) -> Cash {
        let e12 = notional_e12(self, size);
        let micros = (e12 + 500_000) / 1_000_000;
        Cash(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// Exact `price × size` in 1e-12 pUSD (micro-price × micro-shares), without rounding.
pub fn notional_e12(price: Price, size: Size) -> u128 {
    u128::from(price.0) * u128::from(size.0)
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(i128::from(self.0), 6))
    }
}

/// A quantity of outcome-token shares in micro-shares: `Size(5_000_000)` is 5 shares.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Size(u64);

impl Size {
    /// No shares.
    pub const ZERO: Size = Size(0);

    /// Builds a size from micro-shares.
    pub const fn from_micros(micros: u64) -> Self {
        Size(micros)
    }

    /// Whole shares (saturating at `u64::MAX` micro-shares).
    pub const fn from_shares(shares: u64) -> Self {
        Size(shares.saturating_mul(1_000_000))
    }

    /// Largest size [`parse`](Self::parse) accepts: 10⁹ shares (10¹⁵ micro-shares). Polymarket
    /// books and orders are many orders of magnitude smaller; the cap keeps every sum of wire
    /// sizes (a book side of ≤ 999 levels, fills, positions) and every notional
    /// (`price × size` ≤ 10¹⁵ micro-pUSD) far inside `u64`/`i64`.
    pub const MAX: Size = Size(1_000_000_000 * 1_000_000);

    /// Parses a non-negative decimal string such as `"12584.58"` (at most 6 decimals, at most
    /// [`Size::MAX`]).
    ///
    /// # Errors
    /// [`DecimalError`] on a malformed string, excess precision, a negative value, or a value
    /// above [`Size::MAX`] ([`DecimalError::OutOfRange`]).
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        let v = parse_scaled(text, 6)?;
        match u64::try_from(v) {
            Ok(m) if m <= Self::MAX.0 => Ok(Size(m)),
            _ => Err(DecimalError::OutOfRange {
                text: clip(text),
                target: "Size (0 ..= 1e9 shares)",
            }),
        }
    }

    /// `self + other`, or `None` on `u64` overflow.
    pub const fn checked_add(self, other: Size) -> Option<Size> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Size(v)),
            None => None,
        }
    }

    /// `self + other`, saturating at `u64::MAX` micro-shares (what `+` does).
    pub const fn saturating_add(self, other: Size) -> Size {
        Size(self.0.saturating_add(other.0))
    }

    /// Micro-shares.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// `true` for zero shares.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Saturating subtraction.
    pub const fn saturating_sub(self, other: Size) -> Size {
        Size(self.0.saturating_sub(other.0))
    }

    /// The smaller of two sizes.
    pub fn min(self, other: Size) -> Size {
        Size(self.0.min(other.0))
    }

    /// Shares as `f64`, for models and display only.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Saturating: `u64::MAX` micro-shares instead of an overflow (see the module docs on bounds).
impl Add for Size {
    type Output = Size;
    fn add(self, rhs: Size) -> Size {
        Size(self.0.saturating_add(rhs.0))
    }
}

/// Saturating, as [`Add`].
impl AddAssign for Size {
    fn add_assign(&mut self, rhs: Size) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(i128::from(self.0), 6))
    }
}

/// Signed pUSD amount in micro-pUSD (1e-6): cash balances, PnL, fees.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cash(pub i64);

impl Cash {
    /// Zero pUSD.
    pub const ZERO: Cash = Cash(0);

    /// Parses a decimal string such as `"-1.73250"` (at most 6 decimals).
    ///
    /// # Errors
    /// [`DecimalError`] on a malformed string, excess precision or overflow of `i64`.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        let v = parse_scaled(text, 6)?;
        i64::try_from(v)
            .map(Cash)
            .map_err(|_| DecimalError::OutOfRange {
                text: clip(text),
                target: "Cash (i64 micro-pUSD)",
            })
    }

    /// Micro-pUSD.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on `i64` overflow.
    pub const fn checked_add(self, other: Cash) -> Option<Cash> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Cash(v)),
            None => None,
        }
    }

    /// `self − other`, or `None` on `i64` overflow.
    pub const fn checked_sub(self, other: Cash) -> Option<Cash> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(Cash(v)),
            None => None,
        }
    }

    /// Dollars as `f64`, for statistics and display only.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Saturating at `i64::MIN`/`i64::MAX` micro-pUSD (see the module docs on bounds).
impl Add for Cash {
    type Output = Cash;
    fn add(self, rhs: Cash) -> Cash {
        Cash(self.0.saturating_add(rhs.0))
    }
}
/// Saturating, as [`Add`].
impl AddAssign for Cash {
    fn add_assign(&mut self, rhs: Cash) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}
/// Saturating, as [`Add`].
impl Sub for Cash {
    type Output = Cash;
    fn sub(self, rhs: Cash) -> Cash {
        Cash(self.0.saturating_sub(rhs.0))
    }
}
/// Saturating, as [`Add`].
impl SubAssign for Cash {
    fn sub_assign(&mut self, rhs: Cash) {
        self.0 = self.0.saturating_sub(rhs.0);
    }
}
/// Saturating: `-Cash(i64::MIN)` is `Cash(i64::MAX)`.
impl Neg for Cash {
    type Output = Cash;
    fn neg(self) -> Cash {
        Cash(self.0.saturating_neg())
    }
}
impl fmt::Display for Cash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(i128::from(self.0), 6))
    }
}

/// A signed decimal with 18 fractional digits (`i128` of 1e-18 units): spot prices and quantities
/// from Binance/Coinbase, and Chainlink values, whose `full_accuracy_value` is already an E18
/// integer (protocols.md §7.1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fixed18(pub i128);

impl Fixed18 {
    /// 10^18.
    pub const SCALE: i128 = 1_000_000_000_000_000_000;

    /// Parses a plain decimal string (`"65048.0789"`, at most 18 decimals).
    ///
    /// # Errors
    /// [`DecimalError`] on a malformed string, excess precision or overflow.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        parse_scaled(text, 18).map(Fixed18)
    }

    /// Parses an integer string that is already scaled by 1e18 (Chainlink `full_accuracy_value`).
    ///
    /// # Errors
    /// [`DecimalError`] if it is not a plain integer or overflows `i128`.
    pub fn parse_e18_integer(text: &str) -> Result<Self, DecimalError> {
        parse_scaled(text, 0).map(Fixed18)
    }

    /// The value as `f64`, for models only.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1e18
    }
}

impl fmt::Display for Fixed18 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(self.0, 18))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(parse_scaled("0.53", 6), Ok(530_000));
        assert_eq!(parse_scaled("12584.58", 6), Ok(12_584_580_000));
        assert_eq!(parse_scaled("-1.5", 2), Ok(-150));
        assert_eq!(parse_scaled(".5", 1), Ok(5));
        assert_eq!(parse_scaled("7.", 0), Ok(7));
        assert_eq!(parse_scaled("1.2300000", 2), Ok(123));
    }

    #[test]
    fn rejects_bad_decimals() {
        assert_eq!(parse_scaled("", 6), Err(DecimalError::Empty));
        assert_eq!(parse_scaled("-", 6), Err(DecimalError::Empty));
        assert_eq!(parse_scaled(".", 6), Err(DecimalError::Empty));
        assert!(matches!(
            parse_scaled("1e-5", 6),
            Err(DecimalError::InvalidChar { ch: 'e', .. })
        ));
        assert!(matches!(
            parse_scaled("1.2.3", 6),
            Err(DecimalError::InvalidChar { .. })
        ));
        assert!(matches!(
            parse_scaled("0.1234567", 6),
            Err(DecimalError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_scaled("999999999999999999999999999999999999999999", 6),
            Err(DecimalError::OutOfRange { .. })
        ));
    }

    #[test]
    fn price_bounds_and_complement() {
        assert_eq!(Price::parse("0.53").map(Price::micros), Ok(530_000));
        assert_eq!(Price::parse("1").map(Price::micros), Ok(1_000_000));
        assert!(Price::parse("1.01").is_err());
        assert!(Price::parse("-0.1").is_err());
        assert_eq!(
            Price::parse("0.4").map(Price::complement),
            Price::parse("0.6")
        );
        assert_eq!(
            Price::parse("0.001").map(|p| p.to_string()),
            Ok("0.001".to_string())
        );
    }

    #[test]
    fn size_and_notional() {
        let s = Size::parse("100").unwrap();
        let p = Price::parse("0.45").unwrap();
        assert_eq!(p.notional(s), Cash(45_000_000));
        assert!(Size::parse("-1").is_err());
        // 0.333 × 0.5 shares = 0.1665 exactly.
        assert_eq!(
            Price::parse("0.333")
                .unwrap()
                .notional(Size::parse("0.5").unwrap()),
            Cash(166_500)
        );
    }

    #[test]
    fn size_is_capped_at_parse() {
        assert_eq!(Size::parse("1000000000"), Ok(Size::MAX));
        assert!(matches!(
            Size::parse("1000000000.000001"),
            Err(DecimalError::OutOfRange { .. })
        ));
        // u64::MAX micro-shares, which parsed before the cap.
        assert!(matches!(
            Size::parse("18446744073709.551615"),
            Err(DecimalError::OutOfRange { .. })
        ));
        // 999 levels of the largest size still sum without saturating.
        let mut sum = Size::ZERO;
        for _ in 0..999 {
            sum += Size::MAX;
        }
        assert_eq!(sum.micros(), 999 * Size::MAX.micros());
        // The largest notional fits Cash.
        assert_eq!(Price::ONE.notional(Size::MAX), Cash(1_000_000_000_000_000));
    }

    #[test]
    fn size_and_cash_arithmetic_saturates() {
        let big = Size::from_micros(u64::MAX - 1);
        assert_eq!(big + Size::from_micros(5), Size::from_micros(u64::MAX));
        let mut s = big;
        s += big;
        assert_eq!(s, Size::from_micros(u64::MAX));
        assert_eq!(big.checked_add(Size::from_micros(5)), None);
        assert_eq!(Size::from_shares(u64::MAX), Size::from_micros(u64::MAX));
        assert_eq!(Cash(i64::MAX) + Cash(1), Cash(i64::MAX));
        assert_eq!(Cash(i64::MIN) - Cash(1), Cash(i64::MIN));
        assert_eq!(-Cash(i64::MIN), Cash(i64::MAX));
        let mut c = Cash(i64::MAX);
        c += Cash(10);
        assert_eq!(c, Cash(i64::MAX));
        c -= Cash(i64::MIN);
        assert_eq!(c, Cash(i64::MAX));
        assert_eq!(Cash(i64::MAX).checked_add(Cash(1)), None);
        assert_eq!(Cash(i64::MIN).checked_sub(Cash(1)), None);
        assert_eq!(Cash(1).checked_sub(Cash(3)), Some(Cash(-2)));
    }

    #[test]
    fn fixed18_chainlink_value() {
        let a = Fixed18::parse_e18_integer("65048078902260626000000").unwrap();
        let b = Fixed18::parse("65048.078902260626").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "65048.078902260626");
    }

    #[test]
    fn formats_cash() {
        assert_eq!(Cash(-1_732_500).to_string(), "-1.7325");
        assert_eq!(Cash(0).to_string(), "0");
    }
}
