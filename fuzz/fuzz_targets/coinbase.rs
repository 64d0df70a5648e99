//! Fuzz target: `polyedge_venues::coinbase::parse` on arbitrary bytes (one raw frame), directly and through
//! `Feed::Coinbase.parse`. See docs/reliability.md.

#![no_main]

#[path = "contract.rs"]
mod contract;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    contract::check(data, polyedge_venues::coinbase::parse);
    contract::check_feed(data, polyedge_venues::Feed::Coinbase);
});
