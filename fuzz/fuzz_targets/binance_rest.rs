//! Fuzz target: the Binance REST parsers used to sync books and backfill (depth, klines, trades,
//! aggregate trades, book ticker) on arbitrary bytes, with the contract of the parsers that
//! append to a vector. See docs/reliability.md.

#![no_main]

use polyedge_core::{MarketEvent, UnixNanos};
use polyedge_venues::ParseError;
use polyedge_venues::binance;

const T: UnixNanos = UnixNanos(1_776_081_600_000_000_000);

fn check(r: Result<usize, ParseError>, out: &[MarketEvent]) {
    match r {
        Ok(n) => assert_eq!(n, out.len()),
        Err(_) => assert!(out.is_empty()),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = binance::parse_rest_depth(data, "BTCUSDT", T);
    let _ = binance::parse_usdm_rest_depth(data, "BTCUSDT", T);
    let mut out = Vec::new();
    check(binance::parse_rest_klines(data, "BTCUSDT", T, &mut out), &out);
    let mut out = Vec::new();
    check(binance::parse_usdm_rest_klines(data, "BTCUSDT", T, &mut out), &out);
    let mut out = Vec::new();
    check(binance::parse_rest_agg_trades(data, "BTCUSDT", T, &mut out), &out);
    let mut out = Vec::new();
    check(binance::parse_rest_trades(data, "BTCUSDT", T, &mut out), &out);
    let mut out = Vec::new();
    check(binance::parse_rest_book_ticker(data, T, &mut out), &out);
});
