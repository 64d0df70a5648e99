//! Decimal-string serde for money, share and price parameters (`"20"`, `"0.5"`), so configs are
//! written in pUSD, shares and pUSD per share rather than micro units. Parsing is exact
//! (at most 6 decimals; more is an error naming the text).

use polyedge_core::{Cash, Price, Size};
use serde::{Deserialize, Deserializer, Serializer};

/// [`Cash`] as a decimal string of pUSD.
pub mod cash {
    use super::{Cash, Deserialize, Deserializer, Serializer};
    /// Writes `"12.5"`.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Cash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    /// Reads `"12.5"`.
    ///
    /// # Errors
    /// Not a string, or not a decimal with at most 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cash, D::Error> {
        let s = String::deserialize(d)?;
        Cash::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// [`Size`] as a decimal string of shares.
pub mod size {
    use super::{Deserialize, Deserializer, Serializer, Size};
    /// Writes `"5"`.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Size, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    /// Reads `"5"`.
    ///
    /// # Errors
    /// Not a string, or not a non-negative decimal with at most 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        let s = String::deserialize(d)?;
        Size::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// [`Price`] as a decimal string of pUSD per share.
pub mod price {
    use super::{Deserialize, Deserializer, Price, Serializer};
    /// Writes `"0.01"`.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Price, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    /// Reads `"0.01"`.
    ///
    /// # Errors
    /// Not a string, or not a price in `[0, 1]` with at most 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        let s = String::deserialize(d)?;
        Price::parse(&s).map_err(serde::de::Error::custom)
    }
}
