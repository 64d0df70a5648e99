//! Deribit parser tests: every fixture in `fixtures/deribit` with concrete values, control
//! frames, error objects and malformed input.

// Test helpers outside `#[test]` fns unwrap by design: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use polyedge_core::event::{EventKind, SpotQuote, SpotTrade, Venue, VolIndex};
use polyedge_core::{Fixed18, MarketEvent, Side, Symbol, UnixNanos};
use polyedge_venues::deribit::parse;
use polyedge_venues::{Feed, ParseError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/deribit");

const COVERED: &[&str] = &[
    "ws_quote.json",
    "ws_subscribe_response.json",
    "ws_trades.json",
    "ws_volatility_index.json",
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

fn ms(v: u64) -> UnixNanos {
    UnixNanos::from_millis(v)
}

fn parse_all(frame: &[u8]) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    let n = parse(frame, RECV, &mut out).unwrap();
    assert_eq!(n, out.len());
    assert!(out.iter().all(|e| e.recv_ns == RECV));
    out
}

fn fails(frame: &[u8]) -> ParseError {
    let sentinel = parse_all(&fixture("ws_volatility_index.json"));
    let mut out = sentinel.clone();
    let err = parse(frame, RECV, &mut out).unwrap_err();
    assert_eq!(out, sentinel, "nothing may be appended on error");
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

#[test]
fn volatility_index() {
    assert_eq!(
        parse_all(&fixture("ws_volatility_index.json")),
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(ms(1_619_777_946_007)),
            kind: EventKind::VolIndex(VolIndex {
                venue: Venue::Deribit,
                index: sym("btc_usd"),
                value: Fixed18(129_360_000_000_000_000_000),
            }),
        }]
    );
    // Exponent notation is read exactly.
    let exp = replace(&fixture("ws_volatility_index.json"), "129.36", "1.2936e2");
    let EventKind::VolIndex(v) = &parse_all(&exp)[0].kind else {
        panic!("vol index expected")
    };
    assert_eq!(v.value, fx("129.36"));
    // Without `index_name` the index comes from the channel.
    let no_name = replace(
        &fixture("ws_volatility_index.json"),
        ",\n      \"index_name\": \"btc_usd\"",
        "",
    );
    let EventKind::VolIndex(v) = &parse_all(&no_name)[0].kind else {
        panic!("vol index expected")
    };
    assert_eq!(v.index, sym("btc_usd"));
}

#[test]
fn trades_direction_is_taker_side() {
    let trade = |price: &str, amount: &str, id, taker| SpotTrade {
        venue: Venue::Deribit,
        symbol: sym("BTC-PERPETUAL"),
        price: fx(price),
        qty: fx(amount),
        taker_side: Some(taker),
        trade_id: Some(id),
    };
    assert_eq!(
        parse_all(&fixture("ws_trades.json")),
        vec![
            MarketEvent {
                recv_ns: RECV,
                venue_ns: Some(ms(1_765_531_356_452)),
                kind: EventKind::SpotTrade(trade("92294.5", "10", 403_691_824, Side::Sell)),
            },
            MarketEvent {
                recv_ns: RECV,
                venue_ns: Some(ms(1_765_531_356_452)),
                kind: EventKind::SpotTrade(trade("92288.5", "750", 403_691_825, Side::Sell)),
            },
        ]
    );
    let buy = replace(&fixture("ws_trades.json"), "\"sell\"", "\"buy\"");
    let EventKind::SpotTrade(t) = &parse_all(&buy)[0].kind else {
        panic!("trade expected")
    };
    assert_eq!(t.taker_side, Some(Side::Buy));
    // Non-numeric trade ids (ETH trades are `ETH-…`) give no numeric id.
    let eth = replace(
        &fixture("ws_trades.json"),
        "\"403691824\"",
        "\"ETH-145622397\"",
    );
    let EventKind::SpotTrade(t) = &parse_all(&eth)[0].kind else {
        panic!("trade expected")
    };
    assert_eq!(t.trade_id, None);
}

#[test]
fn quote() {
    assert_eq!(
        parse_all(&fixture("ws_quote.json")),
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(ms(1_765_541_767_174)),
            kind: EventKind::SpotQuote(SpotQuote {
                venue: Venue::Deribit,
                symbol: sym("BTC-PERPETUAL"),
                bid: fx("92288"),
                bid_qty: fx("133440"),
                ask: fx("92288.5"),
                ask_qty: fx("99470"),
                update_id: None,
            }),
        }]
    );
    // An empty side is sent as null and reads as zero.
    let empty = replace(
        &replace(&fixture("ws_quote.json"), "92288.0", "null"),
        "133440.0",
        "null",
    );
    let EventKind::SpotQuote(q) = &parse_all(&empty)[0].kind else {
        panic!("quote expected")
    };
    assert_eq!((q.bid, q.bid_qty), (Fixed18(0), Fixed18(0)));
    assert_eq!(q.ask, fx("92288.5"));
}

#[test]
fn responses_and_heartbeats_append_nothing() {
    assert!(parse_all(&fixture("ws_subscribe_response.json")).is_empty());
    for frame in [
        r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#,
        r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}"#,
        r#"{"jsonrpc":"2.0","method":"test_request"}"#,
        r#"{"jsonrpc":"2.0","id":3,"result":"ok","usIn":1,"usOut":2,"usDiff":1}"#,
        r#"{"jsonrpc":"2.0","id":4,"result":null}"#,
    ] {
        assert!(parse_all(frame.as_bytes()).is_empty(), "{frame}");
    }
}

#[test]
fn error_objects() {
    assert_eq!(
        fails(br#"{"jsonrpc":"2.0","id":8,"error":{"code":10028,"message":"too_many_requests"},"testnet":false}"#),
        ParseError::VenueError("code 10028: too_many_requests".into())
    );
    let err = fails(
        br#"{"jsonrpc":"2.0","id":9,"error":{"code":-32602,"message":"Invalid params","data":{"reason":"wrong format","param":"channels"}}}"#,
    );
    let ParseError::VenueError(m) = err else {
        panic!("venue error expected")
    };
    assert!(m.starts_with("code -32602: Invalid params ("), "{m}");
    assert!(m.contains("wrong format"), "{m}");
}

#[test]
fn feed_dispatch() {
    let mut out = Vec::new();
    let n = Feed::Deribit
        .parse(&fixture("ws_trades.json"), RECV, &mut out)
        .unwrap();
    assert_eq!((n, out.len()), (2, 2));
}

// ---------------------------------------------------------------- malformed input

#[test]
fn truncated_json() {
    for name in COVERED {
        let full = fixture(name);
        let cut = &full[..full.len() * 2 / 3];
        assert!(matches!(fails(cut), ParseError::Json(_)), "{name}");
    }
    assert!(matches!(fails(b"not json"), ParseError::Json(_)));
}

#[test]
fn unknown_channels_and_methods() {
    let book = replace(
        &fixture("ws_quote.json"),
        "\"quote.BTC-PERPETUAL\"",
        "\"book.BTC-PERPETUAL.100ms\"",
    );
    // Skipped and counted, not errors (forward compatibility).
    let (events, skipped) = parse_counting(&book);
    assert_eq!((events.len(), skipped), (0, 1));
    assert!(polyedge_venues::unknown::last().contains("book.BTC-PERPETUAL.100ms"));
    let (events, skipped) =
        parse_counting(br#"{"jsonrpc":"2.0","method":"announcement","params":{}}"#);
    assert_eq!((events.len(), skipped), (0, 1));
    assert!(polyedge_venues::unknown::last().contains("announcement"));
    assert_eq!(
        fails(br#"{"jsonrpc":"2.0","params":{}}"#),
        ParseError::MissingField("method")
    );
}

/// Parses `frame` (which must parse): its events and the unknown elements skipped.
fn parse_counting(frame: &[u8]) -> (Vec<MarketEvent>, u64) {
    let before = polyedge_venues::unknown::skipped();
    let out = parse_all(frame);
    (out, polyedge_venues::unknown::skipped() - before)
}

/// Issue 15 item 3: a `trades` notification whose data mixes trades with an element of a shape
/// the parser does not know keeps the trades and counts the other; unknown fields are ignored.
#[test]
fn mixed_trades_keep_the_known_ones() {
    let frame = fixture("ws_trades.json");
    let known = parse_all(&frame);
    assert_eq!(known.len(), 2);
    let mut v: serde_json::Value = serde_json::from_slice(&frame).unwrap();
    let data = v["params"]["data"].as_array().unwrap().clone();
    v["params"]["data"] = serde_json::json!([data[0], [1, "block_trade"], data[1]]);
    v["params"]["usIn"] = serde_json::json!(1_765_531_356_452_000_u64);
    let (events, skipped) = parse_counting(v.to_string().as_bytes());
    assert_eq!(skipped, 1);
    assert_eq!(events, known);
}

#[test]
fn bad_second_trade_rolls_back_the_frame() {
    let frame = replace(&fixture("ws_trades.json"), "92288.5", "-92288.5");
    bad_field(&fails(&frame), "params.data[1].price");
}

#[test]
fn wrong_types_name_the_field() {
    let trades = fixture("ws_trades.json");
    json_err_names(
        &fails(&replace(
            &trades,
            "\"amount\": 10.0",
            "\"amount\": \"10.0\"",
        )),
        "params.data[0].amount",
    );
    json_err_names(
        &fails(&replace(
            &trades,
            "\"direction\": \"sell\"",
            "\"direction\": true",
        )),
        "params.data[0].direction",
    );
    json_err_names(
        &fails(&replace(&trades, "\"data\": [", "\"data\": 1, \"x\": [")),
        "params.data",
    );
    let vol = fixture("ws_volatility_index.json");
    json_err_names(
        &fails(&replace(&vol, "129.36", "null")),
        "params.data.volatility",
    );
    json_err_names(
        &fails(&replace(&vol, "1619777946007", "\"1619777946007\"")),
        "params.data.timestamp",
    );
    json_err_names(
        &fails(&replace(
            &vol,
            "\"channel\": \"deribit_volatility_index.btc_usd\"",
            "\"channel\": 7",
        )),
        "params.channel",
    );
}

#[test]
fn negative_and_invalid_numbers() {
    let vol = fixture("ws_volatility_index.json");
    bad_field(
        &fails(&replace(&vol, "129.36", "-129.36")),
        "params.data.volatility",
    );
    bad_field(
        &fails(&replace(&vol, "129.36", "1e-30")),
        "params.data.volatility",
    );
    bad_field(
        &fails(&replace(&vol, "1619777946007", "1619777946007.5")),
        "params.data.timestamp",
    );
    bad_field(
        &fails(&replace(&vol, "1619777946007", "-1619777946007")),
        "params.data.timestamp",
    );
    bad_field(
        &fails(&replace(&vol, "\"btc_usd\"\n", "\"\"\n")),
        "params.data.index_name",
    );
    let trades = fixture("ws_trades.json");
    bad_field(
        &fails(&replace(&trades, "\"sell\"", "\"hold\"")),
        "params.data[0].direction",
    );
    let quote = fixture("ws_quote.json");
    bad_field(
        &fails(&replace(&quote, "99470.0", "-1")),
        "params.data.best_ask_amount",
    );
}

#[test]
fn missing_fields() {
    let quote = fixture("ws_quote.json");
    assert_eq!(
        fails(&replace(&quote, "\"best_ask_price\"", "\"ask_price\"")),
        ParseError::MissingField("params.data.best_ask_price")
    );
    let trades = fixture("ws_trades.json");
    assert_eq!(
        fails(&replace(&trades, "\"timestamp\"", "\"ts\"")),
        ParseError::MissingField("params.data[].timestamp")
    );
    assert_eq!(
        fails(br#"{"jsonrpc":"2.0","method":"subscription"}"#),
        ParseError::MissingField("params")
    );
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
