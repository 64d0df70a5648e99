//! Markets: assets, outcomes, sides, and the [`Window`] of an Up/Down market.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fees::FeeSchedule;
use crate::fixed::{Fixed18, Price, Size};
use crate::ids::{ConditionId, TokenId};
use crate::time::UnixNanos;

/// A crypto asset with Up/Down markets (protocols.md §1.2 lists the slugs' tickers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Asset {
    /// Bitcoin.
    Btc,
    /// Ether.
    Eth,
    /// Solana.
    Sol,
    /// XRP.
    Xrp,
    /// Dogecoin.
    Doge,
    /// BNB.
    Bnb,
    /// Hyperliquid.
    Hype,
    /// Zcash.
    Zec,
}

impl Asset {
    /// Lowercase ticker as used in slugs (`btc`).
    pub const fn ticker(self) -> &'static str {
        match self {
            Asset::Btc => "btc",
            Asset::Eth => "eth",
            Asset::Sol => "sol",
            Asset::Xrp => "xrp",
            Asset::Doge => "doge",
            Asset::Bnb => "bnb",
            Asset::Hype => "hype",
            Asset::Zec => "zec",
        }
    }
}

impl FromStr for Asset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "btc" | "bitcoin" => Asset::Btc,
            "eth" | "ethereum" => Asset::Eth,
            "sol" | "solana" => Asset::Sol,
            "xrp" => Asset::Xrp,
            "doge" | "dogecoin" => Asset::Doge,
            "bnb" => Asset::Bnb,
            "hype" => Asset::Hype,
            "zec" => Asset::Zec,
            other => {
                return Err(format!(
                    "unknown asset {other:?} (expected btc, eth, sol, xrp, …)"
                ));
            }
        })
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ticker())
    }
}

/// Length of an Up/Down window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WindowDuration {
    /// 5 minutes (`…-updown-5m-…`).
    #[serde(rename = "5m")]
    M5,
    /// 15 minutes.
    #[serde(rename = "15m")]
    M15,
    /// 1 hour.
    #[serde(rename = "1h")]
    H1,
    /// 4 hours.
    #[serde(rename = "4h")]
    H4,
    /// 1 day.
    #[serde(rename = "1d")]
    D1,
}

impl WindowDuration {
    /// Length in seconds.
    pub const fn secs(self) -> u64 {
        match self {
            WindowDuration::M5 => 300,
            WindowDuration::M15 => 900,
            WindowDuration::H1 => 3600,
            WindowDuration::H4 => 14_400,
            WindowDuration::D1 => 86_400,
        }
    }

    /// The slug token (`5m`, `15m`, `1h`, `4h`, `1d`).
    pub const fn label(self) -> &'static str {
        match self {
            WindowDuration::M5 => "5m",
            WindowDuration::M15 => "15m",
            WindowDuration::H1 => "1h",
            WindowDuration::H4 => "4h",
            WindowDuration::D1 => "1d",
        }
    }
}

impl FromStr for WindowDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "5m" => WindowDuration::M5,
            "15m" => WindowDuration::M15,
            "1h" => WindowDuration::H1,
            "4h" => WindowDuration::H4,
            "1d" => WindowDuration::D1,
            other => {
                return Err(format!(
                    "unknown window duration {other:?} (expected 5m, 15m, 1h, 4h, 1d)"
                ));
            }
        })
    }
}

/// Parses a `{asset}-updown-{5m|15m|4h}-{start_unix_s}` slug (protocols.md §1.2).
///
/// Returns `None` for other slug shapes (hourly/daily slugs are date-worded, not parsed here).
pub fn parse_updown_slug(slug: &str) -> Option<(Asset, WindowDuration, u64)> {
    let mut parts = slug.split('-');
    let asset: Asset = parts.next()?.parse().ok()?;
    if parts.next()? != "updown" {
        return None;
    }
    let dur: WindowDuration = parts.next()?.parse().ok()?;
    let start: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((asset, dur, start))
}

/// One of the two outcomes of an Up/Down window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outcome {
    /// The end price is at or above the start price (ties resolve Up).
    Up,
    /// The end price is below the start price.
    Down,
}

impl Outcome {
    /// The other outcome.
    pub const fn other(self) -> Outcome {
        match self {
            Outcome::Up => Outcome::Down,
            Outcome::Down => Outcome::Up,
        }
    }

    /// Resolution rule of crypto Up/Down windows: Up iff `end ≥ start` (protocols.md §1.6).
    pub fn from_prices(start: Fixed18, end: Fixed18) -> Outcome {
        if end >= start {
            Outcome::Up
        } else {
            Outcome::Down
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Up => "Up",
            Outcome::Down => "Down",
        })
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "up" | "yes" => Ok(Outcome::Up),
            "down" | "no" => Ok(Outcome::Down),
            other => Err(format!("unknown outcome {other:?} (expected Up or Down)")),
        }
    }
}

/// Order side (the taker side for trades).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// `buy` or `sell` (the label in tables, metrics and logs).
    pub const fn name(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// A side of an order book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BookSide {
    /// Resting buy orders.
    Bid,
    /// Resting sell orders.
    Ask,
}

impl BookSide {
    /// The opposite side.
    pub const fn opposite(self) -> BookSide {
        match self {
            BookSide::Bid => BookSide::Ask,
            BookSide::Ask => BookSide::Bid,
        }
    }
}

/// Where a window's outcome came from, from most to least trustworthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeSource {
    /// The venue's own resolution (Gamma `outcomePrices`, `market_resolved`).
    Official,
    /// Recomputed from the Chainlink settlement feed by the window's rule.
    ChainlinkDerived,
    /// Inferred from the final book or another market's price (may be wrong).
    Inferred,
}

/// One Up/Down market window.
///
/// Token ids are optional because some recorded sources carry only one token (or none); flags
/// record how each field was obtained so later analysis can judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Event/market slug, e.g. `btc-updown-5m-1776081600`.
    pub slug: String,
    /// Underlying asset.
    pub asset: Asset,
    /// Window length.
    pub duration: WindowDuration,
    /// Window start (ns since epoch).
    pub start: UnixNanos,
    /// Window end (ns since epoch).
    pub end: UnixNanos,
    /// CTF condition id (the CLOB `market`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_id: Option<ConditionId>,
    /// Up token id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_token: Option<TokenId>,
    /// Down token id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_token: Option<TokenId>,
    /// Minimum price increment, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_size: Option<Price>,
    /// Minimum order size in shares (venue: 5), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_order_size: Option<Size>,
    /// Fee schedule from the market object, when recorded (else use the regime by date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_schedule: Option<FeeSchedule>,
    /// Opening (strike, "price to beat") price of the reference feed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike: Option<Fixed18>,
    /// Closing price of the reference feed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_price: Option<Fixed18>,
    /// The winning outcome, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// How `outcome` was obtained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_source: Option<OutcomeSource>,
    /// `true` when the Up/Down assignment of the token ids was inferred rather than read from
    /// the venue's metadata.
    #[serde(default)]
    pub token_sides_inferred: bool,
    /// `true` when the token ids are stand-ins ([`TokenId::synthetic`]) because the source has none.
    #[serde(default)]
    pub token_ids_synthetic: bool,
    /// Free-form provenance notes from the importer (source dataset, method of inference, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Window {
    /// A window with only the slug-derived fields set.
    pub fn new(
        slug: impl Into<String>,
        asset: Asset,
        duration: WindowDuration,
        start_secs: u64,
    ) -> Self {
        Window {
            slug: slug.into(),
            asset,
            duration,
            start: UnixNanos::from_secs(start_secs),
            end: UnixNanos::from_secs(start_secs + duration.secs()),
            condition_id: None,
            up_token: None,
            down_token: None,
            tick_size: None,
            min_order_size: None,
            fee_schedule: None,
            strike: None,
            final_price: None,
            outcome: None,
            outcome_source: None,
            token_sides_inferred: false,
            token_ids_synthetic: false,
            notes: Vec::new(),
        }
    }

    /// This window as a strategy may see it before it is resolved: `outcome`, `outcome_source`
    /// and `final_price` removed, and `strike` removed (the engine puts it back once it was
    /// knowable: the reference price at the start as received, or a published price to beat no
    /// earlier than its receive time).
    pub fn without_hindsight(&self) -> Window {
        Window {
            strike: None,
            final_price: None,
            outcome: None,
            outcome_source: None,
            ..self.clone()
        }
    }

    /// A window from an `{asset}-updown-{dur}-{start}` slug.
    pub fn from_slug(slug: &str) -> Option<Self> {
        let (asset, dur, start) = parse_updown_slug(slug)?;
        Some(Window::new(slug, asset, dur, start))
    }

    /// Which outcome `token` is in this window, if it is one of its known tokens.
    pub fn outcome_of(&self, token: TokenId) -> Option<Outcome> {
        if self.up_token == Some(token) {
            Some(Outcome::Up)
        } else if self.down_token == Some(token) {
            Some(Outcome::Down)
        } else {
            None
        }
    }

    /// The token id of `outcome`, when known.
    pub fn token(&self, outcome: Outcome) -> Option<TokenId> {
        match outcome {
            Outcome::Up => self.up_token,
            Outcome::Down => self.down_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_parsing() {
        let w = Window::from_slug("btc-updown-5m-1776081600").unwrap();
        assert_eq!(w.asset, Asset::Btc);
        assert_eq!(w.duration, WindowDuration::M5);
        assert_eq!(w.end.secs() - w.start.secs(), 300);
        assert!(Window::from_slug("btc-updown-15m-1789987500").is_some());
        assert!(Window::from_slug("bitcoin-up-or-down-june-19-2026-8am-et").is_none());
        assert!(Window::from_slug("btc-updown-5m-abc").is_none());
    }

    #[test]
    fn ties_resolve_up() {
        let a = Fixed18::parse("100").unwrap();
        assert_eq!(Outcome::from_prices(a, a), Outcome::Up);
        assert_eq!(
            Outcome::from_prices(a, Fixed18::parse("99.99").unwrap()),
            Outcome::Down
        );
    }

    #[test]
    fn window_json_roundtrip() {
        let mut w = Window::from_slug("btc-updown-5m-1776081600").unwrap();
        w.outcome = Some(Outcome::Down);
        w.outcome_source = Some(OutcomeSource::Inferred);
        w.fee_schedule = Some(FeeSchedule::CRYPTO_V2);
        let s = serde_json::to_string(&w).unwrap();
        let back: Window = serde_json::from_str(&s).unwrap();
        assert_eq!(back, w);
    }
}
