//! # polyedge-venues
//!
//! Pure, fast parsers from a venue's raw frame (bytes as received) to normalized
//! [`MarketEvent`]s. No sockets here; connection handling lives elsewhere so the same parsers run
//! live, in replay and in tests.
//!
//! Every parser has the shape
//! `fn parse(frame: &[u8], recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Result<usize, ParseError>`:
//! it appends the frame's events to `out` and returns how many it appended. Control frames
//! (subscription acks, heartbeats, `PONG`) append nothing and return `Ok(0)`. A malformed frame
//! returns a [`ParseError`] naming what was wrong and appends nothing; callers count it and go
//! on. Elements a parser does not know (a newer event type, topic or channel) are skipped and
//! counted ([`unknown`]) without dropping the frame's known events. Parsers never panic.

pub mod binance;
pub mod coinbase;
pub mod control;
pub mod deribit;
mod error;
pub mod polymarket;
pub mod polymarket_user;
pub mod rtds;
pub mod unknown;

use std::fmt;
use std::str::FromStr;

pub use error::ParseError;
use polyedge_core::{MarketEvent, UnixNanos};
use serde::{Deserialize, Serialize};

/// A kind of raw feed: which parser reads its frames. Recordings store it per stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feed {
    /// Polymarket CLOB market channel (`/ws/market`): `book`, `price_change`, ….
    PolymarketMarket,
    /// Polymarket RTDS (`ws-live-data`): `crypto_prices`, `crypto_prices_chainlink`, TWAP topics.
    Rtds,
    /// Binance spot streams (raw or combined-stream wrapped).
    BinanceSpot,
    /// Binance USDⓈ-M futures streams (raw or combined-stream wrapped).
    BinanceUsdm,
    /// Coinbase (Exchange `ws-feed` or Advanced Trade).
    Coinbase,
    /// Deribit JSON-RPC notifications (DVOL, trades, quotes).
    Deribit,
    /// The recorder's own control records: gap markers, REST snapshots, connection and
    /// discovery notes ([`control`]).
    Control,
}

impl Feed {
    /// All feeds.
    pub const ALL: [Feed; 7] = [
        Feed::PolymarketMarket,
        Feed::Rtds,
        Feed::BinanceSpot,
        Feed::BinanceUsdm,
        Feed::Coinbase,
        Feed::Deribit,
        Feed::Control,
    ];

    /// Stable kebab-case name used in recordings and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Feed::PolymarketMarket => "polymarket-market",
            Feed::Rtds => "rtds",
            Feed::BinanceSpot => "binance-spot",
            Feed::BinanceUsdm => "binance-usdm",
            Feed::Coinbase => "coinbase",
            Feed::Deribit => "deribit",
            Feed::Control => "control",
        }
    }

    /// Stable one-byte code used in the binary recording format.
    pub const fn code(self) -> u8 {
        match self {
            Feed::PolymarketMarket => 1,
            Feed::Rtds => 2,
            Feed::BinanceSpot => 3,
            Feed::BinanceUsdm => 4,
            Feed::Coinbase => 5,
            Feed::Deribit => 6,
            Feed::Control => 7,
        }
    }

    /// Inverse of [`Feed::code`].
    pub fn from_code(code: u8) -> Option<Feed> {
        Feed::ALL.into_iter().find(|f| f.code() == code)
    }

    /// Parses one raw frame of this feed. See the crate docs for the contract.
    ///
    /// # Errors
    /// [`ParseError`] for malformed or unknown frames; nothing is appended then.
    pub fn parse(
        self,
        frame: &[u8],
        recv_ns: UnixNanos,
        out: &mut Vec<MarketEvent>,
    ) -> Result<usize, ParseError> {
        let before = out.len();
        let res = match self {
            Feed::PolymarketMarket => polymarket::parse(frame, recv_ns, out),
            Feed::Rtds => rtds::parse(frame, recv_ns, out),
            Feed::BinanceSpot => binance::parse_spot(frame, recv_ns, out),
            Feed::BinanceUsdm => binance::parse_usdm(frame, recv_ns, out),
            Feed::Coinbase => coinbase::parse(frame, recv_ns, out),
            Feed::Deribit => deribit::parse(frame, recv_ns, out),
            Feed::Control => control::parse(frame, recv_ns, out),
        };
        if res.is_err() {
            // Guarantee "nothing appended on error" even if a parser pushed before failing.
            out.truncate(before);
        }
        res
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Feed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Feed::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown feed {s:?} (expected one of polymarket-market, rtds, binance-spot, binance-usdm, coinbase, deribit, control)"))
    }
}
