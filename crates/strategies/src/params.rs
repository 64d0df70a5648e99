//! Decimal-string serde for money and prices in strategy parameters, so TOML files say
//! `max_trade = "20"` (pUSD) and `spread = "0.04"` (pUSD per share) rather than micro units.

/// `Cash` as a decimal string of pUSD (`"20"`, `"0.5"`).
pub mod cash {
    use polyedge_core::Cash;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as a decimal string.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Cash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Parses a decimal string.
    ///
    /// # Errors
    /// Not a string, or not a decimal with at most 6 places.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cash, D::Error> {
        let s = String::deserialize(d)?;
        Cash::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `Price` as a decimal string of pUSD per share in `[0, 1]` (`"0.04"`).
pub mod price {
    use polyedge_core::Price;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as a decimal string.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Price, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Parses a decimal string.
    ///
    /// # Errors
    /// Not a string, more than 6 decimals, or outside `[0, 1]`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        let s = String::deserialize(d)?;
        Price::parse(&s).map_err(serde::de::Error::custom)
    }
}
