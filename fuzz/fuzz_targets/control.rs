//! Fuzz target: `polyedge_venues::control::parse` on arbitrary bytes (one raw frame), directly and through
//! `Feed::Control.parse`. See docs/reliability.md.

#![no_main]

#[path = "contract.rs"]
mod contract;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    contract::check(data, polyedge_venues::control::parse);
    contract::check_feed(data, polyedge_venues::Feed::Control);
});
