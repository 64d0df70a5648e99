//! Fuzz target: `polyedge_venues::binance::parse_usdm` on arbitrary bytes (one raw frame), directly and through
//! `Feed::BinanceUsdm.parse`. See docs/reliability.md.

#![no_main]

#[path = "contract.rs"]
mod contract;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    contract::check(data, polyedge_venues::binance::parse_usdm);
    contract::check_feed(data, polyedge_venues::Feed::BinanceUsdm);
});
