//! Fuzz target: `polyedge_venues::binance::parse_spot` on arbitrary bytes (one raw frame), directly and through
//! `Feed::BinanceSpot.parse`. See docs/reliability.md.

#![no_main]

#[path = "contract.rs"]
mod contract;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    contract::check(data, polyedge_venues::binance::parse_spot);
    contract::check_feed(data, polyedge_venues::Feed::BinanceSpot);
});
