//! Coinbase parser tests: every fixture in `fixtures/coinbase` (Advanced Trade, synthetic
//! values) with concrete values, Exchange `ws-feed` messages built from the field lists in
//! protocols.md §8.2 (no Exchange fixture exists), control frames and malformed input.

// Test helpers outside `#[test]` fns unwrap by design: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use polyedge_core::event::{EventKind, SpotDepth, SpotLevel, SpotQuote, SpotTrade, Venue};
use polyedge_core::{Fixed18, MarketEvent, Side, Symbol, UnixNanos};
use polyedge_venues::coinbase::{parse, parse_rfc3339};
use polyedge_venues::{Feed, ParseError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/coinbase");

const COVERED: &[&str] = &[
    "advanced_trade_ws_heartbeats_synthetic.json",
    "advanced_trade_ws_l2_data_snapshot_synthetic.json",
    "advanced_trade_ws_l2_data_update_synthetic.json",
    "advanced_trade_ws_market_trades_synthetic.json",
    "advanced_trade_ws_subscriptions_synthetic.json",
    "advanced_trade_ws_ticker_synthetic.json",
];

const RECV: UnixNanos = UnixNanos(1_800_000_000_000_000_000);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn fx(s: &str) -> Fixed18 {
    Fixed18::parse(s).unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn lvl(p: &str, q: &str) -> SpotLevel {
    SpotLevel {
        price: fx(p),
        qty: fx(q),
    }
}

fn parse_all(frame: &[u8]) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    let n = parse(frame, RECV, &mut out).unwrap();
    assert_eq!(n, out.len());
    assert!(out.iter().all(|e| e.recv_ns == RECV));
    out
}

fn fails(frame: &[u8]) -> ParseError {
    let sentinel = MarketEvent {
        recv_ns: UnixNanos(1),
        venue_ns: None,
        kind: EventKind::SpotQuote(SpotQuote {
            venue: Venue::Coinbase,
            symbol: sym("X"),
            bid: Fixed18(1),
            bid_qty: Fixed18(1),
            ask: Fixed18(2),
            ask_qty: Fixed18(1),
            update_id: None,
        }),
    };
    let mut out = vec![sentinel.clone()];
    let err = parse(frame, RECV, &mut out).unwrap_err();
    assert_eq!(out, vec![sentinel], "nothing may be appended on error");
    err
}

fn bad_field(err: &ParseError, name: &str) {
    match err {
        ParseError::BadField { field, .. } => assert_eq!(field, name, "{err}"),
        other => panic!("expected BadField `{name}`, got {other:?}"),
    }
}

fn json_err_names(err: &ParseError, field: &str) {
    match err {
        ParseError::Json(m) => assert!(m.contains(&format!("`{field}`")), "{m}"),
        other => panic!("expected Json naming `{field}`, got {other:?}"),
    }
}

fn replace(frame: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = std::str::from_utf8(frame).unwrap();
    assert!(s.contains(from), "{from} not in frame");
    s.replacen(from, to, 1).into_bytes()
}

#[test]
fn all_fixtures_are_covered() {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, COVERED);
}

// ---------------------------------------------------------------- Advanced Trade fixtures

#[test]
fn at_heartbeats_and_subscriptions_append_nothing() {
    for name in [
        "advanced_trade_ws_heartbeats_synthetic.json",
        "advanced_trade_ws_subscriptions_synthetic.json",
    ] {
        assert!(parse_all(&fixture(name)).is_empty(), "{name}");
    }
}

#[test]
fn at_l2_snapshot() {
    let out = parse_all(&fixture(
        "advanced_trade_ws_l2_data_snapshot_synthetic.json",
    ));
    assert_eq!(
        out,
        vec![MarketEvent {
            recv_ns: RECV,
            // Envelope `timestamp` 2026-04-07T14:30:00.123456Z.
            venue_ns: Some(UnixNanos(1_775_572_200_123_456_000)),
            kind: EventKind::SpotDepth(SpotDepth {
                venue: Venue::Coinbase,
                symbol: Some(sym("BTC-USD")),
                is_snapshot: true,
                first_update_id: None,
                last_update_id: Some(0),
                prev_update_id: None,
                bids: vec![
                    lvl("68900", "1.5"),
                    lvl("68899.5", "0.75"),
                    lvl("68899", "2.3"),
                ],
                asks: vec![
                    lvl("68901", "0.5"),
                    lvl("68901.5", "1.2"),
                    lvl("68902", "0.8"),
                ],
            }),
        }]
    );
}

#[test]
fn at_l2_update() {
    let out = parse_all(&fixture("advanced_trade_ws_l2_data_update_synthetic.json"));
    assert_eq!(
        out,
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(UnixNanos(1_775_572_201_456_789_000)),
            kind: EventKind::SpotDepth(SpotDepth {
                venue: Venue::Coinbase,
                symbol: Some(sym("BTC-USD")),
                is_snapshot: false,
                first_update_id: None,
                last_update_id: Some(1),
                prev_update_id: None,
                bids: vec![lvl("68900", "2")],
                // Quantity 0 removes the level.
                asks: vec![lvl("68901", "0")],
            }),
        }]
    );
}

#[test]
fn at_market_trades_taker_is_opposite_of_reported_side() {
    let out = parse_all(&fixture("advanced_trade_ws_market_trades_synthetic.json"));
    assert_eq!(
        out,
        vec![
            MarketEvent {
                recv_ns: RECV,
                venue_ns: Some(UnixNanos(1_775_572_202_789_012_000)),
                kind: EventKind::SpotTrade(SpotTrade {
                    venue: Venue::Coinbase,
                    symbol: sym("BTC-USD"),
                    price: fx("68900.5"),
                    qty: fx("0.0015"),
                    // Reported side BUY is the maker's: the taker sold.
                    taker_side: Some(Side::Sell),
                    trade_id: Some(995_098_700),
                }),
            },
            MarketEvent {
                recv_ns: RECV,
                venue_ns: Some(UnixNanos(1_775_572_202_800_000_000)),
                kind: EventKind::SpotTrade(SpotTrade {
                    venue: Venue::Coinbase,
                    symbol: sym("BTC-USD"),
                    price: fx("68900"),
                    qty: fx("0.05"),
                    taker_side: Some(Side::Buy),
                    trade_id: Some(995_098_701),
                }),
            },
        ]
    );
    let unknown = replace(
        &fixture("advanced_trade_ws_market_trades_synthetic.json"),
        "\"BUY\"",
        "\"UNKNOWN_ORDER_SIDE\"",
    );
    let EventKind::SpotTrade(t) = &parse_all(&unknown)[0].kind else {
        panic!("trade expected")
    };
    assert_eq!(t.taker_side, None);
}

#[test]
fn at_ticker() {
    let out = parse_all(&fixture("advanced_trade_ws_ticker_synthetic.json"));
    assert_eq!(
        out,
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(UnixNanos(1_775_572_203_000_000_000)),
            kind: EventKind::SpotQuote(SpotQuote {
                venue: Venue::Coinbase,
                symbol: sym("BTC-USD"),
                bid: fx("68900"),
                bid_qty: fx("1.5"),
                ask: fx("68901"),
                ask_qty: fx("0.5"),
                update_id: Some(12),
            }),
        }]
    );
    // `ticker_batch` has the same shape.
    let batch = replace(
        &fixture("advanced_trade_ws_ticker_synthetic.json"),
        "\"channel\": \"ticker\"",
        "\"channel\": \"ticker_batch\"",
    );
    assert_eq!(parse_all(&batch), out);
}

#[test]
fn feed_dispatch() {
    let mut out = Vec::new();
    let n = Feed::Coinbase
        .parse(
            &fixture("advanced_trade_ws_market_trades_synthetic.json"),
            RECV,
            &mut out,
        )
        .unwrap();
    assert_eq!((n, out.len()), (2, 2));
}

// ---------------------------------------------------------------- Exchange ws-feed

const MATCH: &str = r#"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#;

const TICKER: &str = r#"{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}"#;

const SNAPSHOT: &str = r#"{"type":"snapshot","product_id":"BTC-USD","bids":[["10101.10","0.45054140"],["10101.00","1"]],"asks":[["10102.55","0.57753524"]]}"#;

const L2UPDATE: &str = r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10101.80000000","0.162567"],["sell","10102.55","0"]],"time":"2019-08-14T20:42:27.265Z"}"#;

#[test]
fn exchange_match_side_is_maker() {
    let expected = |taker| {
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(UnixNanos(1_415_348_367_028_459_000)),
            kind: EventKind::SpotTrade(SpotTrade {
                venue: Venue::Coinbase,
                symbol: sym("BTC-USD"),
                price: fx("400.23"),
                qty: fx("5.23512"),
                taker_side: Some(taker),
                trade_id: Some(10),
            }),
        }]
    };
    // Maker sold ⇒ an up-tick ⇒ the taker bought.
    assert_eq!(parse_all(MATCH.as_bytes()), expected(Side::Buy));
    let last = MATCH.replace("\"match\"", "\"last_match\"");
    assert_eq!(parse_all(last.as_bytes()), expected(Side::Buy));
    let buy = MATCH.replace("\"side\":\"sell\"", "\"side\":\"buy\"");
    assert_eq!(parse_all(buy.as_bytes()), expected(Side::Sell));
}

#[test]
fn exchange_ticker_is_only_a_quote() {
    assert_eq!(
        parse_all(TICKER.as_bytes()),
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(UnixNanos(1_666_222_102_061_769_000)),
            kind: EventKind::SpotQuote(SpotQuote {
                venue: Venue::Coinbase,
                symbol: sym("ETH-USD"),
                bid: fx("1285.04"),
                bid_qty: fx("0.46688654"),
                ask: fx("1285.27"),
                ask_qty: fx("1.5663704"),
                update_id: Some(37_475_248_783),
            }),
        }]
    );
}

#[test]
fn exchange_level2() {
    assert_eq!(
        parse_all(SNAPSHOT.as_bytes()),
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: None,
            kind: EventKind::SpotDepth(SpotDepth {
                venue: Venue::Coinbase,
                symbol: Some(sym("BTC-USD")),
                is_snapshot: true,
                first_update_id: None,
                last_update_id: None,
                prev_update_id: None,
                bids: vec![lvl("10101.1", "0.4505414"), lvl("10101", "1")],
                asks: vec![lvl("10102.55", "0.57753524")],
            }),
        }]
    );
    assert_eq!(
        parse_all(L2UPDATE.as_bytes()),
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(UnixNanos(1_565_815_347_265_000_000)),
            kind: EventKind::SpotDepth(SpotDepth {
                venue: Venue::Coinbase,
                symbol: Some(sym("BTC-USD")),
                is_snapshot: false,
                first_update_id: None,
                last_update_id: None,
                prev_update_id: None,
                bids: vec![lvl("10101.8", "0.162567")],
                asks: vec![lvl("10102.55", "0")],
            }),
        }]
    );
}

#[test]
fn exchange_control_and_error_frames() {
    for frame in [
        r#"{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}"#,
        r#"{"type":"subscriptions","channels":[{"name":"level2_batch","product_ids":["BTC-USD"]}]}"#,
    ] {
        assert!(parse_all(frame.as_bytes()).is_empty(), "{frame}");
    }
    assert_eq!(
        fails(br#"{"type":"error","message":"Failed to subscribe","reason":"level2 requires authentication"}"#),
        ParseError::VenueError("Failed to subscribe: level2 requires authentication".into())
    );
    assert_eq!(
        fails(br#"{"type":"error","message":"Malformed JSON"}"#),
        ParseError::VenueError("Malformed JSON".into())
    );
}

#[test]
fn unknown_types_and_channels() {
    // Skipped and counted, not errors (forward compatibility).
    let (events, skipped) = parse_counting(br#"{"type":"received","product_id":"BTC-USD"}"#);
    assert_eq!((events.len(), skipped), (0, 1));
    assert!(polyedge_venues::unknown::last().contains("received"));
    let candles = replace(
        &fixture("advanced_trade_ws_ticker_synthetic.json"),
        "\"channel\": \"ticker\"",
        "\"channel\": \"candles\"",
    );
    let (events, skipped) = parse_counting(&candles);
    assert_eq!((events.len(), skipped), (0, 1));
    assert!(polyedge_venues::unknown::last().contains("candles"));
    assert_eq!(
        fails(br#"{"product_id":"BTC-USD"}"#),
        ParseError::MissingField("type")
    );
}

/// Parses `frame` (which must parse): its events and the unknown elements skipped.
fn parse_counting(frame: &[u8]) -> (Vec<MarketEvent>, u64) {
    let before = polyedge_venues::unknown::skipped();
    let mut out = Vec::new();
    let n = parse(frame, RECV, &mut out).unwrap();
    assert_eq!(n, out.len());
    (out, polyedge_venues::unknown::skipped() - before)
}

/// Issue 15 item 3: an `l2_data` envelope whose `events` mix a known update with an event type
/// the parser does not know keeps the update and counts the other.
#[test]
fn mixed_events_keep_the_known_ones() {
    let update =
        String::from_utf8(fixture("advanced_trade_ws_l2_data_update_synthetic.json")).unwrap();
    let known = parse_counting(update.as_bytes()).0;
    assert_eq!(known.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&update).unwrap();
    let ev = v["events"][0].clone();
    let mut mixed = v.clone();
    mixed["events"] = serde_json::json!([
        {"type": "partial", "product_id": "BTC-USD", "levels": [1, 2]},
        ev,
        {"type": "auction", "product_id": "BTC-USD"}
    ]);
    mixed["brand_new_field"] = serde_json::json!({"x": 1});
    let (events, skipped) = parse_counting(mixed.to_string().as_bytes());
    assert_eq!(skipped, 2);
    assert_eq!(events, known);
}

// ---------------------------------------------------------------- malformed input

#[test]
fn truncated_json() {
    for name in COVERED {
        let full = fixture(name);
        let cut = &full[..full.len() * 2 / 3];
        assert!(matches!(fails(cut), ParseError::Json(_)), "{name}");
    }
    assert!(matches!(
        fails(&MATCH.as_bytes()[..MATCH.len() - 1]),
        ParseError::Json(_)
    ));
}

#[test]
fn bad_trade_rolls_back_the_whole_frame() {
    let frame = replace(
        &fixture("advanced_trade_ws_market_trades_synthetic.json"),
        "\"68900.00\"",
        "\"-68900.00\"",
    );
    bad_field(&fails(&frame), "events[0].trades[1].price");
}

#[test]
fn wrong_types_name_the_field() {
    let trades = fixture("advanced_trade_ws_market_trades_synthetic.json");
    json_err_names(
        &fails(&replace(&trades, "\"68900.50\"", "68900.50")),
        "events[0].trades[0].price",
    );
    json_err_names(
        &fails(&replace(
            &trades,
            "\"trades\": [",
            "\"trades\": 5, \"x\": [",
        )),
        "events[0].trades",
    );
    json_err_names(
        &fails(&replace(
            &trades,
            "\"sequence_num\": 5",
            "\"sequence_num\": \"5\"",
        )),
        "sequence_num",
    );
    json_err_names(
        &fails(
            MATCH
                .replace("\"size\":\"5.23512\"", "\"size\":5.23512")
                .as_bytes(),
        ),
        "size",
    );
    json_err_names(
        &fails(
            L2UPDATE
                .replace("[\"sell\",\"10102.55\",\"0\"]", "[\"sell\",\"10102.55\"]")
                .as_bytes(),
        ),
        "changes",
    );
}

#[test]
fn invalid_values() {
    let trades = fixture("advanced_trade_ws_market_trades_synthetic.json");
    bad_field(
        &fails(&replace(&trades, "\"BUY\"", "\"HOLD\"")),
        "events[0].trades[0].side",
    );
    bad_field(
        &fails(&replace(
            &trades,
            "\"time\": \"2026-04-07T14:30:02.789012Z\"",
            "\"time\": \"2026-04-07 14:30:02\"",
        )),
        "events[0].trades[0].time",
    );
    bad_field(
        &fails(&replace(&trades, "\"0.05000000\"", "\"5e-2\"")),
        "events[0].trades[1].size",
    );
    let update = fixture("advanced_trade_ws_l2_data_update_synthetic.json");
    bad_field(
        &fails(&replace(&update, "\"offer\"", "\"middle\"")),
        "events[0].updates[1].side",
    );
    bad_field(
        &fails(&replace(&update, "\"2.00000000\"", "\"-2\"")),
        "events[0].updates[0].new_quantity",
    );
    let ticker = fixture("advanced_trade_ws_ticker_synthetic.json");
    bad_field(
        &fails(&replace(
            &ticker,
            "\"2026-04-07T14:30:03.000000Z\"",
            "\"2026-02-30T14:30:03Z\"",
        )),
        "timestamp",
    );
    bad_field(
        &fails(MATCH.replace("\"400.23\"", "\"400,23\"").as_bytes()),
        "price",
    );
    bad_field(
        &fails(L2UPDATE.replace("\"buy\"", "\"bid\"").as_bytes()),
        "changes[0].side",
    );
    bad_field(
        &fails(TICKER.replace("\"ETH-USD\"", "\"\"").as_bytes()),
        "product_id",
    );
}

#[test]
fn missing_fields() {
    assert_eq!(
        fails(MATCH.replace(",\"side\":\"sell\"", "").as_bytes()),
        ParseError::MissingField("side")
    );
    assert_eq!(
        fails(
            TICKER
                .replace("\"best_ask_size\":\"1.56637040\",", "")
                .as_bytes()
        ),
        ParseError::MissingField("best_ask_size")
    );
    let ticker = fixture("advanced_trade_ws_ticker_synthetic.json");
    assert_eq!(
        fails(&replace(
            &ticker,
            "\"best_bid_quantity\"",
            "\"best_bid_qty\""
        )),
        ParseError::MissingField("events[].tickers[].best_bid_quantity")
    );
    let snap = fixture("advanced_trade_ws_l2_data_snapshot_synthetic.json");
    assert_eq!(
        fails(&replace(&snap, "\"updates\"", "\"levels\"")),
        ParseError::MissingField("events[].updates")
    );
}

#[test]
fn rfc3339_exact_nanoseconds() {
    assert_eq!(
        parse_rfc3339("2023-02-09T20:32:50.714964855Z"),
        Ok(UnixNanos(1_675_974_770_714_964_855))
    );
    assert_eq!(
        parse_rfc3339("2023-02-09T21:32:50.714964855+01:00"),
        Ok(UnixNanos(1_675_974_770_714_964_855))
    );
    assert!(parse_rfc3339("2023-02-09T20:32:50.7149648551Z").is_err());
    assert!(parse_rfc3339("2023-02-09T20:32:50").is_err());
}

// ---------------------------------------------------------------- robustness

proptest::proptest! {
    /// Any single-byte change, insertion or cut of any fixture: no panic, and the contract holds
    /// (`Ok(n)` appended exactly n events, `Err` appended nothing).
    #[test]
    fn mutated_fixtures_keep_the_contract(
        file in 0..COVERED.len(),
        pos in proptest::prelude::any::<proptest::sample::Index>(),
        byte in proptest::prelude::any::<u8>(),
        op in 0..3u8,
    ) {
        let mut frame = fixture(COVERED[file]);
        let at = pos.index(frame.len());
        match op {
            0 => frame[at] = byte,
            1 => frame.insert(at, byte),
            _ => frame.truncate(at),
        }
        let mut out = Vec::new();
        match parse(&frame, RECV, &mut out) {
            Ok(n) => proptest::prop_assert_eq!(n, out.len()),
            Err(_) => proptest::prop_assert!(out.is_empty()),
        }
    }
}
