//! The parser contract every target checks: `Ok(n)` appended exactly `n` events, `Err` appended
//! nothing, and nothing panics (a panic is a crash libFuzzer reports).

use polyedge_core::{MarketEvent, UnixNanos};
use polyedge_venues::ParseError;

/// Receive time given to every parse (2026-04-13T12:00:00Z).
pub const RECV: UnixNanos = UnixNanos(1_776_081_600_000_000_000);

/// Runs `parse` on `data` with a non-empty output vector and checks the contract.
pub fn check(
    data: &[u8],
    parse: fn(&[u8], UnixNanos, &mut Vec<MarketEvent>) -> Result<usize, ParseError>,
) {
    let mut out = Vec::new();
    match parse(data, RECV, &mut out) {
        Ok(n) => assert_eq!(n, out.len(), "Ok(n) must append exactly n events"),
        Err(_) => assert!(out.is_empty(), "an error must append nothing"),
    }
}

/// Checks the contract of [`polyedge_venues::Feed::parse`] for `feed`, with events already in
/// the output vector (they must stay untouched).
pub fn check_feed(data: &[u8], feed: polyedge_venues::Feed) {
    let sentinel = MarketEvent {
        recv_ns: UnixNanos(1),
        venue_ns: None,
        kind: polyedge_core::EventKind::Gap(polyedge_core::event::Gap {
            stream: "sentinel".into(),
            reason: String::new(),
        }),
    };
    let mut out = vec![sentinel.clone()];
    match feed.parse(data, RECV, &mut out) {
        Ok(n) => assert_eq!(n + 1, out.len()),
        Err(_) => assert_eq!(out.len(), 1),
    }
    assert_eq!(out[0], sentinel, "events already in the vector are kept");
}
