//! Nanosecond timestamps.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fixed::{DecimalError, parse_scaled};

/// Nanoseconds since the Unix epoch (UTC), as architecture.md prescribes for every event time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixNanos(pub u64);

impl UnixNanos {
    /// Nanoseconds per second.
    pub const PER_SEC: u64 = 1_000_000_000;
    /// Nanoseconds per millisecond.
    pub const PER_MS: u64 = 1_000_000;

    /// From whole seconds since the epoch.
    pub const fn from_secs(s: u64) -> Self {
        UnixNanos(s * Self::PER_SEC)
    }

    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        UnixNanos(ms * Self::PER_MS)
    }

    /// Whole seconds since the epoch (truncated).
    pub const fn secs(self) -> u64 {
        self.0 / Self::PER_SEC
    }

    /// Milliseconds since the epoch (truncated).
    pub const fn millis(self) -> u64 {
        self.0 / Self::PER_MS
    }

    /// Parses an integer millisecond string such as Polymarket's `"1776081408433"`.
    ///
    /// # Errors
    /// [`DecimalError`] if it is not a non-negative integer that fits.
    pub fn parse_millis(text: &str) -> Result<Self, DecimalError> {
        Self::parse_scaled_units(text, 0, Self::PER_MS)
    }

    /// Parses decimal seconds such as `"1776081409.871942"` exactly (no `f64`), up to 9 decimals.
    ///
    /// # Errors
    /// [`DecimalError`] on malformed, negative, over-precise or out-of-range input.
    pub fn parse_secs_decimal(text: &str) -> Result<Self, DecimalError> {
        Self::parse_scaled_units(text, 9, 1)
    }

    /// Parses decimal milliseconds such as `"1784851201377"` or `"1770029334839.5"` (up to 6 decimals).
    ///
    /// # Errors
    /// [`DecimalError`] on malformed, negative, over-precise or out-of-range input.
    pub fn parse_millis_decimal(text: &str) -> Result<Self, DecimalError> {
        Self::parse_scaled_units(text, 6, 1)
    }

    fn parse_scaled_units(text: &str, scale: u32, mul: u64) -> Result<Self, DecimalError> {
        let v = parse_scaled(text, scale)?;
        u64::try_from(v)
            .ok()
            .and_then(|v| v.checked_mul(mul))
            .map(UnixNanos)
            .ok_or_else(|| DecimalError::OutOfRange {
                text: text.chars().take(64).collect(),
                target: "UnixNanos (u64 ns since epoch)",
            })
    }

    /// Saturating difference `self − earlier` in nanoseconds.
    pub const fn saturating_sub(self, earlier: UnixNanos) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Formats as RFC 3339 UTC with millisecond precision, e.g. `2026-04-13T12:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0 / Self::PER_SEC;
        let ms = (self.0 % Self::PER_SEC) / Self::PER_MS;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
/// Algorithm: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms" (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (if m <= 2 { y + 1 } else { y }, m as u32, d as u32)
}

impl fmt::Display for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_without_float() {
        assert_eq!(
            UnixNanos::parse_secs_decimal("1776081409.871942"),
            Ok(UnixNanos(1_776_081_409_871_942_000))
        );
        assert_eq!(
            UnixNanos::parse_millis("1776081408433"),
            Ok(UnixNanos(1_776_081_408_433_000_000))
        );
        assert!(UnixNanos::parse_millis("-5").is_err());
        assert!(UnixNanos::parse_millis("12a").is_err());
    }

    #[test]
    fn formats_utc() {
        assert_eq!(
            UnixNanos::from_secs(1_776_081_600).to_rfc3339(),
            "2026-04-13T12:00:00.000Z"
        );
        assert_eq!(
            UnixNanos::from_secs(0).to_rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            UnixNanos::from_secs(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
