//! Fuzz target: `polyedge_venues::polymarket_user::parse` (the CLOB user channel: our orders and
//! trades) on arbitrary bytes (one raw frame). The contract: `Ok(n)` appended exactly `n` events,
//! an error appended nothing and left earlier events alone, nothing panics. See
//! docs/reliability.md.

#![no_main]

use polyedge_core::UnixNanos;
use polyedge_venues::polymarket_user::{UserEvent, parse};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut out: Vec<UserEvent> = Vec::new();
    match parse(data, UnixNanos(1_776_081_600_000_000_000), &mut out) {
        Ok(n) => assert_eq!(n, out.len(), "Ok(n) must append exactly n events"),
        Err(_) => assert!(out.is_empty(), "an error must append nothing"),
    }
    // With an event already in the vector: it stays, whatever the frame.
    let Some(first) = out.first().cloned() else {
        return;
    };
    let mut again = vec![first.clone()];
    match parse(data, UnixNanos(1), &mut again) {
        Ok(n) => assert_eq!(n + 1, again.len()),
        Err(_) => assert_eq!(again.len(), 1),
    }
    assert_eq!(again[0], first);
});
