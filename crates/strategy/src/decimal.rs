//! Decimal serde for money, share and price parameters, shared by the engine's and the
//! strategies' configurations, so a TOML file may say `start_cash = "1000"` or
//! `start_cash = 1000`, `spread = "0.04"` or `spread = 0.04`.
//!
//! Reading is exact: a string or an integer is parsed as written; a float is first printed in its
//! shortest round-trip form (`0.1` → `"0.1"`), then parsed the same way. Either way at most 6
//! decimals are accepted; more is an error naming the text (never silently rounded). Values are
//! always written as decimal strings.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Reads a string, an integer or a float as decimal text (see the module docs).
struct DecimalText;

impl Visitor<'_> for DecimalText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number or a decimal string such as \"12.5\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("{v} is not a finite number")));
        }
        // `Display` of f64 is the shortest text that reads back as the same float.
        Ok(format!("{v}"))
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(DecimalText)
}

/// [`Cash`](polyedge_core::Cash) in pUSD (`"12.5"` or `12.5`).
pub mod cash {
    use polyedge_core::Cash;
    use serde::{Deserializer, Serializer};

    /// Writes `"12.5"`.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Cash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads `"12.5"`, `12.5` or `12`.
    ///
    /// # Errors
    /// Not a number or a decimal string, or more than 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cash, D::Error> {
        let t = super::text(d)?;
        Cash::parse(&t).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))
    }
}

/// [`Size`](polyedge_core::Size) in shares (`"5"` or `5`; never negative).
pub mod size {
    use polyedge_core::Size;
    use serde::{Deserializer, Serializer};

    /// Writes `"5"`.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Size, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads `"5"`, `5` or `5.5`.
    ///
    /// # Errors
    /// Not a number or a decimal string, negative, or more than 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        let t = super::text(d)?;
        Size::parse(&t).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))
    }
}

/// [`Price`](polyedge_core::Price) in pUSD per share, in `[0, 1]` (`"0.04"` or `0.04`).
pub mod price {
    use polyedge_core::Price;
    use serde::{Deserializer, Serializer};

    /// Writes `"0.04"`.
    ///
    /// # Errors
    /// The serializer's.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Price, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads `"0.04"` or `0.04`.
    ///
    /// # Errors
    /// Not a number or a decimal string, outside `[0, 1]`, or more than 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        let t = super::text(d)?;
        Price::parse(&t).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))
    }
}

/// A map of names to fractions in `[0, 1]` held as [`Price`](polyedge_core::Price) (6 exact
/// decimals; `{ a = 0.6, b = "0.4" }`): the engine's capital split.
pub mod fraction_map {
    use std::collections::BTreeMap;

    use polyedge_core::Price;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `{"a": "0.6"}`.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(v: &BTreeMap<String, Price>, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, p) in v {
            m.serialize_entry(k, &p.to_string())?;
        }
        m.end()
    }

    /// One value, read as [`super::price`] reads it.
    #[derive(Deserialize)]
    struct Fraction(#[serde(with = "super::price")] Price);

    /// Reads a table of names to `"0.6"`, `0.6` or `1`.
    ///
    /// # Errors
    /// Not a table, a value not a number in `[0, 1]`, or more than 6 decimals.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Price>, D::Error> {
        let m = BTreeMap::<String, Fraction>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, f)| (k, f.0)).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use polyedge_core::{Cash, Price, Size};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct P {
        #[serde(with = "super::cash")]
        cash: Cash,
        #[serde(with = "super::size")]
        size: Size,
        #[serde(with = "super::price")]
        price: Price,
    }

    #[test]
    fn strings_integers_and_floats_read_exactly() {
        let a: P = toml::from_str("cash = 1000\nsize = 5\nprice = 0.1\n").unwrap();
        let b: P = toml::from_str("cash = \"1000\"\nsize = \"5\"\nprice = \"0.1\"\n").unwrap();
        assert_eq!(a.cash, Cash(1_000_000_000));
        assert_eq!((a.cash, a.size, a.price), (b.cash, b.size, b.price));
        assert_eq!(a.price, Price::from_micros(100_000).unwrap());
        let c: P = toml::from_str("cash = 12.5\nsize = 0.000001\nprice = 0.04\n").unwrap();
        assert_eq!((c.cash, c.size), (Cash(12_500_000), Size::from_micros(1)));
        // Written back as strings.
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(j, r#"{"cash":"12.5","size":"0.000001","price":"0.04"}"#);
        // Negative cash reads (limits check their sign where it matters); more than 6 decimals
        // and prices above 1 are errors naming the text.
        let n: P = toml::from_str("cash = -5\nsize = 1\nprice = 0.5\n").unwrap();
        assert_eq!(n.cash, Cash(-5_000_000));
        let e = toml::from_str::<P>("cash = 0.0000001\nsize = 1\nprice = 0.5\n").unwrap_err();
        assert!(
            e.to_string().contains("1e-7") || e.to_string().contains("0.0000001"),
            "{e}"
        );
        assert!(toml::from_str::<P>("cash = 1\nsize = -1\nprice = 0.5\n").is_err());
        assert!(toml::from_str::<P>("cash = 1\nsize = 1\nprice = 1.5\n").is_err());
        assert!(toml::from_str::<P>("cash = true\nsize = 1\nprice = 0.5\n").is_err());
    }
}
