//! Identifiers: outcome-token ids (uint256), condition ids (bytes32), short instrument symbols.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A token id must be a decimal uint256 (1–78 digits).
    #[error("token id {0:?} is not a decimal uint256")]
    BadTokenId(String),
    /// A condition id must be `0x` followed by 64 hex digits.
    #[error("condition id {0:?} is not 0x + 64 hex digits")]
    BadConditionId(String),
    /// A symbol must be 1–23 bytes of ASCII.
    #[error("symbol {0:?} is not 1-23 ASCII bytes")]
    BadSymbol(String),
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

/// A Polymarket outcome-token id (CTF position id): a uint256 that the venue writes as a decimal
/// string of up to 78 digits (protocols.md §1.3). Stored as four little-endian `u64` limbs;
/// never parsed through a float.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TokenId([u64; 4]);

impl TokenId {
    /// Parses the venue's decimal string.
    ///
    /// # Errors
    /// [`IdError::BadTokenId`] if empty, non-decimal, or larger than 2^256 − 1.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let bad = || IdError::BadTokenId(clip(text));
        if text.is_empty() || text.len() > 78 {
            return Err(bad());
        }
        let bytes = text.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        // Up to 19 decimal digits fit a u64: fold the number in chunks of 19 digits,
        // limbs = limbs × 10^len(chunk) + chunk (5 steps for a 78-digit id).
        let mut limbs = [0u64; 4];
        for chunk in bytes.rchunks(19).rev() {
            let mut v: u64 = 0;
            for &b in chunk {
                v = v * 10 + u64::from(b - b'0');
            }
            let mul = 10u64.pow(u32::try_from(chunk.len()).unwrap_or(19));
            let mut carry = u128::from(v);
            for limb in &mut limbs {
                let cur = u128::from(*limb) * u128::from(mul) + carry;
                // Low 64 bits stay in the limb, the rest carries.
                #[allow(clippy::cast_possible_truncation)]
                {
                    *limb = cur as u64;
                }
                carry = cur >> 64;
            }
            if carry != 0 {
                return Err(bad());
            }
        }
        Ok(TokenId(limbs))
    }

    /// A deterministic stand-in id for sources that carry no token ids (e.g. top-of-book CSVs):
    /// FNV-1a of `slug/label` spread over 256 bits. Windows that use it are flagged in the
    /// window index (`token_ids_synthetic`).
    pub fn synthetic(slug: &str, label: &str) -> Self {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (i as u64);
            for b in slug.bytes().chain([b'/']).chain(label.bytes()) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            *limb = h;
        }
        TokenId(limbs)
    }

    /// The four little-endian 64-bit limbs.
    pub const fn limbs(&self) -> [u64; 4] {
        self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == [0; 4] {
            return f.write_str("0");
        }
        let mut limbs = self.0;
        let mut chunks: Vec<u64> = Vec::with_capacity(5);
        const BASE: u128 = 10_000_000_000_000_000_000; // 1e19
        while limbs != [0; 4] {
            let mut rem: u128 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                #[allow(clippy::cast_possible_truncation)]
                {
                    *limb = (cur / BASE) as u64;
                    rem = cur % BASE;
                }
            }
            #[allow(clippy::cast_possible_truncation)]
            chunks.push(rem as u64);
        }
        let mut s = String::with_capacity(78);
        for (i, c) in chunks.iter().rev().enumerate() {
            if i == 0 {
                s.push_str(&c.to_string());
            } else {
                s.push_str(&format!("{c:019}"));
            }
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_string();
        if s.len() > 12 {
            write!(f, "TokenId({}…{})", &s[..6], &s[s.len() - 4..])
        } else {
            write!(f, "TokenId({s})")
        }
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        TokenId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A CTF condition id (`bytes32`, written `0x` + 64 hex digits); the CLOB's `market` field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ConditionId(pub [u8; 32]);

impl ConditionId {
    /// Parses `0x` + 64 hex digits (either case).
    ///
    /// # Errors
    /// [`IdError::BadConditionId`] otherwise.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let bad = || IdError::BadConditionId(clip(text));
        let hex = text.strip_prefix("0x").ok_or_else(bad)?.as_bytes();
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(bad)?;
            let lo = hex_val(pair[1]).ok_or_else(bad)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(ConditionId(out))
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ConditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ConditionId(0x{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2]
        )
    }
}

impl Serialize for ConditionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ConditionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ConditionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A short instrument or index name kept inline (no heap): `"BTCUSDT"`, `"btc/usd"`, `"BTC-USD"`,
/// `"btc_usd"`. As the venue wrote it; compare case-insensitively with [`Symbol::eq_ignore_case`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol {
    len: u8,
    bytes: [u8; 23],
}

impl Symbol {
    /// Builds a symbol.
    ///
    /// # Errors
    /// [`IdError::BadSymbol`] if empty, longer than 23 bytes or not ASCII.
    pub fn new(text: &str) -> Result<Self, IdError> {
        if text.is_empty() || text.len() > 23 || !text.is_ascii() {
            return Err(IdError::BadSymbol(clip(text)));
        }
        let mut bytes = [0u8; 23];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        #[allow(clippy::cast_possible_truncation)]
        Ok(Symbol {
            len: text.len() as u8,
            bytes,
        })
    }

    /// The symbol text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// ASCII case-insensitive comparison with `other`.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.as_str())
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Symbol::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_id_roundtrip() {
        for s in [
            "76749653936013921365546287415768593012625655716270825060317350902247751903470",
            "1",
            "0",
            "18446744073709551616",
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
        ] {
            assert_eq!(TokenId::parse(s).unwrap().to_string(), s);
        }
        // 2^256 overflows.
        assert!(
            TokenId::parse(
                "115792089237316195423570985008687907853269984665640564039457584007913129639936"
            )
            .is_err()
        );
        assert!(TokenId::parse("12x").is_err());
        assert!(TokenId::parse("").is_err());
        assert_ne!(
            TokenId::synthetic("a", "up"),
            TokenId::synthetic("a", "down")
        );
    }

    #[test]
    fn condition_id_roundtrip() {
        let s = "0x0caeb05adad5adc4092885b50be90842f690b3671036d33be1929eed6c07859d";
        assert_eq!(ConditionId::parse(s).unwrap().to_string(), s);
        assert!(ConditionId::parse("0x12").is_err());
        assert!(ConditionId::parse(&s[2..]).is_err());
    }

    #[test]
    fn symbol_inline() {
        let s = Symbol::new("BTCUSDT").unwrap();
        assert_eq!(s.as_str(), "BTCUSDT");
        assert!(s.eq_ignore_case("btcusdt"));
        assert!(Symbol::new("").is_err());
        assert!(Symbol::new("abcdefghijklmnopqrstuvwxyz").is_err());
    }
}
