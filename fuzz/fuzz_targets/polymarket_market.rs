//! Fuzz target: `polyedge_venues::polymarket` on arbitrary bytes (one raw frame), directly and through
//! `Feed:::parse:PolymarketMarket.parse`. See docs/reliability.md.

#![no_main]

#[path = "contract.rs"]
mod contract;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    contract::check(data, polyedge_venues::polymarket);
    contract::check_feed(data, polyedge_venues::Feed:::parse:PolymarketMarket);
});
