//! Shared test fixtures: a small hand-built recording with a frame for every table, and the
//! bundled sample imported into a recording.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod ch;

use std::path::{Path, PathBuf};

use polyedge_core::{UnixNanos, Window};
use polyedge_store::{NoProgress, RecordingMeta, RecordingWriter, StreamId};
use polyedge_venues::Feed;

/// 2026-04-15T12:50:00Z, the start of the hand-built window.
pub const T0: u64 = 1_776_257_400_000_000_000;
/// 2026-04-15T13:00:00Z: frames after it land in the next hourly segment.
pub const T1: u64 = 1_776_258_000_000_000_000;
pub const MS: u64 = 1_000_000;

pub const UP: &str =
    "61819828071723399190623735325323968706432622380635304641786792960078828866875";
pub const DOWN: &str =
    "31690934263385727664202099278545688007799199447969475608906331829650099442770";
pub const MARKET: &str = "0x28a45972fccdaf0fba75dacc59725521035e177d09dd92174f9f52740bccb025";
pub const SLUG: &str = "btc-updown-5m-1776257400";

/// The frames of the hand-built recording: (stream name, feed, recv_ns, payload).
pub fn hand_frames() -> Vec<(&'static str, Feed, u64, String)> {
    let pm = Feed::PolymarketMarket;
    vec![
        // r0: a book (wire order unsorted; stored best-first), with tick size and hash.
        ("polymarket-market", pm, T0 + MS, format!(
            r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{UP}","timestamp":"1776257400001","hash":"0123456789abcdef0123456789abcdef01234567","bids":[{{"price":"0.47","size":"50.5"}},{{"price":"0.48","size":"100"}}],"asks":[{{"price":"0.52","size":"10"}}],"tick_size":"0.01"}}"#
        )),
        // r1: two level changes.
        ("polymarket-market", pm, T0 + 2 * MS, format!(
            r#"{{"market":"{MARKET}","price_changes":[{{"asset_id":"{UP}","price":"0.49","size":"20","side":"BUY","best_bid":"0.49","best_ask":"0.52"}},{{"asset_id":"{UP}","price":"0.52","size":"0","side":"SELL","best_bid":"0.49","best_ask":"0.53"}}],"timestamp":"1776257400002","event_type":"price_change"}}"#
        )),
        // r2: a trade.
        ("polymarket-market", pm, T0 + 3 * MS, format!(
            r#"{{"event_type":"last_trade_price","asset_id":"{UP}","market":"{MARKET}","price":"0.53","size":"12.5","side":"BUY","fee_rate_bps":1000,"timestamp":"1776257400003"}}"#
        )),
        // r3: top of book.
        ("polymarket-market", pm, T0 + 4 * MS, format!(
            r#"{{"event_type":"best_bid_ask","market":"{MARKET}","asset_id":"{UP}","best_bid":"0.49","best_bid_size":"20","best_ask":"0.53","timestamp":"1776257400004"}}"#
        )),
        // r4: an empty book (both sides) → one marker row.
        ("polymarket-market", pm, T0 + 5 * MS, format!(
            r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{DOWN}","timestamp":"1776257400005","bids":[],"asks":[]}}"#
        )),
        // r5: a heartbeat (no events) and r6: a frame the parser rejects.
        ("polymarket-market", pm, T0 + 6 * MS, "PONG".to_string()),
        ("polymarket-market", pm, T0 + 7 * MS, r#"{"event_type":"order_book_v9","market":"x"}"#.to_string()),
        // Next hour: another trade (second segment file).
        ("polymarket-market", pm, T1 + 500 * MS, format!(
            r#"{{"event_type":"last_trade_price","asset_id":"{DOWN}","market":"{MARKET}","price":"0.4","size":"3","side":"SELL","timestamp":"1776258000500"}}"#
        )),
        // Chainlink (E18 integer) and the RTDS Binance relay.
        ("rtds", Feed::Rtds, T0 + 1500 * MS, r#"{"topic":"crypto_prices_chainlink","type":"update","timestamp":1776257401500,"payload":{"symbol":"btc/usd","timestamp":1776257401000,"value":79696.94817428796,"full_accuracy_value":"79696948174287960000000"}}"#.to_string()),
        ("rtds", Feed::Rtds, T0 + 1600 * MS, r#"{"topic":"crypto_prices","type":"update","timestamp":1776257401600,"payload":{"symbol":"btcusdt","timestamp":1776257401100,"value":79697.73,"full_accuracy_value":"79697.73000000"}}"#.to_string()),
        // Binance spot: a trade and a bookTicker.
        ("binance-spot", Feed::BinanceSpot, T0 + 1700 * MS, r#"{"e":"trade","E":1776257401650,"s":"BTCUSDT","t":12345,"p":"79700.12000000","q":"0.00150000","T":1776257401649,"m":true,"M":true}"#.to_string()),
        ("binance-spot", Feed::BinanceSpot, T0 + 1800 * MS, r#"{"u":400900217,"s":"BTCUSDT","b":"79700.01000000","B":"1.25000000","a":"79700.02000000","A":"0.50000000"}"#.to_string()),
        // Binance USD-M 1-minute kline (closed).
        ("binance-usdm-kline", Feed::BinanceUsdm, T0 + 60_000 * MS, r#"{"e":"kline","E":1776257460000,"s":"BTCUSDT","k":{"t":1776257400000,"T":1776257459999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"79690.10","c":"79701.50","h":"79710.00","l":"79680.00","v":"12.345","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}"#.to_string()),
    ]
}

/// The window of the hand-built recording.
pub fn hand_window() -> Window {
    let mut w = Window::from_slug(SLUG).unwrap();
    w.condition_id = Some(polyedge_core::ConditionId::parse(MARKET).unwrap());
    w.up_token = Some(polyedge_core::TokenId::parse(UP).unwrap());
    w.down_token = Some(polyedge_core::TokenId::parse(DOWN).unwrap());
    w.outcome = Some(polyedge_core::Outcome::Up);
    w.outcome_source = Some(polyedge_core::OutcomeSource::Official);
    w.strike = Some(polyedge_core::Fixed18::parse("79696.948174287960000000").unwrap());
    w
}

/// Writes the hand-built recording into `dir`.
pub fn write_hand_recording(dir: &Path) {
    let mut w = RecordingWriter::create(
        dir,
        RecordingMeta {
            created_by: "polyedge-tables tests".into(),
            sources: vec!["hand-built frames".into()],
            caveats: vec![],
        },
    )
    .unwrap();
    for (name, feed, t, payload) in hand_frames() {
        let s = StreamId::named(feed, name).unwrap();
        w.append(&s, UnixNanos(t), payload.as_bytes()).unwrap();
    }
    w.upsert_window(hand_window());
    w.finish().unwrap();
}

/// The repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Imports the bundled cronos sample (`data/sample`) into `dir`.
pub fn import_sample(dir: &Path) {
    polyedge_store::import::import(
        polyedge_store::import::ImportKind::Cronos,
        &repo("data/sample"),
        dir,
        &NoProgress,
    )
    .unwrap();
}
