//! Helpers shared by the store's test binaries.

#![allow(dead_code, clippy::unwrap_used)]

use polyedge_core::event::{ReferenceSource, ReferenceTick};
use polyedge_core::{EventKind, Fixed18, MarketEvent, Symbol, UnixNanos};
use polyedge_venues::{Feed, ParseError};

/// A test parser: frames are JSON `MarketEvent` lists; frames starting `bad` fail.
pub fn json_parser(
    _feed: Feed,
    frame: &[u8],
    _recv: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    if frame.starts_with(b"bad") {
        return Err(ParseError::Json("test: bad frame".into()));
    }
    let evs: Vec<MarketEvent> =
        serde_json::from_slice(frame).map_err(|e| ParseError::Json(e.to_string()))?;
    let n = evs.len();
    out.extend(evs);
    Ok(n)
}

/// A Chainlink reference tick of `sym` received at `t` (ns), stamped 1 ns earlier by the venue.
pub fn reference(t: u64, sym: &str) -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(t),
        venue_ns: Some(UnixNanos(t - 1)),
        kind: EventKind::Reference(ReferenceTick {
            source: ReferenceSource::Chainlink,
            symbol: Symbol::new(sym).unwrap(),
            price: Fixed18::parse("100000.5").unwrap(),
            backfill: false,
        }),
    }
}
