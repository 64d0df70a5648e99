//! Fuzz target: `polyedge_venues::deribit::parse` on arbitrary bytes (one raw frame), directly and through
//! `Feed::Deribit.parse`. See docs/reliability.md.

#![no_main]

#[path = "contract.rs"]
mod contract;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    contract::check(data, polyedge_venues::deribit::parse);
    contract::check_feed(data, polyedge_venues::Feed::Deribit);
});
