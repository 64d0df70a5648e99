//! Binance parser tests: every fixture in `fixtures/binance` with concrete values, control
//! frames, and malformed input.

// Test helpers outside `#[test]` fns unwrap by design: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use polyedge_core::event::{
    EventKind, Kline, Liquidation, MarkPrice, SpotDepth, SpotLevel, SpotQuote, SpotTrade, Venue,
};
use polyedge_core::{Fixed18, MarketEvent, Side, Symbol, UnixNanos};
use polyedge_venues::binance::{
    parse_rest_agg_trades, parse_rest_book_ticker, parse_rest_depth, parse_rest_klines,
    parse_rest_trades, parse_spot, parse_usdm, parse_usdm_rest_depth, parse_usdm_rest_klines,
};
use polyedge_venues::{Feed, ParseError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/binance");

/// Every fixture this file asserts on; `all_fixtures_are_covered` fails when one is added.
const COVERED: &[&str] = &[
    "spot_rest_aggTrades_docexample.json",
    "spot_rest_book_ticker_response_docexample.json",
    "spot_rest_depth_response_docexample.json",
    "spot_rest_klines_response_docexample.json",
    "spot_rest_klines_row_docexample.json",
    "spot_rest_trades_response_docexample.json",
    "spot_ws_aggTrade_docexample.json",
    "spot_ws_bookTicker_docexample.json",
    "spot_ws_combined_stream_wrapper_docexample.json",
    "spot_ws_depth20_partial_docexample.json",
    "spot_ws_depthUpdate_diff_docexample.json",
    "spot_ws_trade_docexample.json",
    "usdm_agg_trade_stream_docexample.json",
    "usdm_book_ticker_stream_docexample.json",
    "usdm_depth_update_stream_docexample.json",
    "usdm_kline_stream_closed_docexample.json",
    "usdm_liquidation_stream_docexample.json",
    "usdm_mark_price_stream_docexample.json",
    "usdm_trade_stream_docexample.json",
];

const RECV: UnixNanos = UnixNanos(1_800_000_000_000_000_000);

type Parser = fn(&[u8], UnixNanos, &mut Vec<MarketEvent>) -> Result<usize, ParseError>;

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

fn lvl(p: &str, q: &str) -> SpotLevel {
    SpotLevel {
        price: fx(p),
        qty: fx(q),
    }
}

/// Parses a frame that must yield exactly one event.
fn one(parser: Parser, frame: &[u8]) -> MarketEvent {
    let mut out = Vec::new();
    assert_eq!(parser(frame, RECV, &mut out).unwrap(), 1);
    assert_eq!(out.len(), 1);
    let ev = out.pop().unwrap();
    assert_eq!(ev.recv_ns, RECV);
    ev
}

/// Parses a frame that must fail, checking that nothing was appended to a non-empty `out`.
fn fails(parser: Parser, frame: &[u8]) -> ParseError {
    let sentinel = one(parse_spot, &fixture("spot_ws_trade_docexample.json"));
    let mut out = vec![sentinel.clone()];
    let err = parser(frame, RECV, &mut out).unwrap_err();
    assert_eq!(out, vec![sentinel], "nothing may be appended on error");
    err
}

fn json_err_names(err: &ParseError, field: &str) {
    match err {
        ParseError::Json(m) => assert!(m.contains(&format!("`{field}`")), "{m}"),
        other => panic!("expected Json naming `{field}`, got {other:?}"),
    }
}

fn bad_field(err: &ParseError, name: &str) {
    match err {
        ParseError::BadField { field, .. } => assert_eq!(field, name, "{err}"),
        other => panic!("expected BadField `{name}`, got {other:?}"),
    }
}

fn replace(frame: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = std::str::from_utf8(frame).unwrap();
    assert!(s.contains(from), "{from} not in fixture");
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

// ---------------------------------------------------------------- spot WS fixtures

#[test]
fn spot_agg_trade() {
    let ev = one(parse_spot, &fixture("spot_ws_aggTrade_docexample.json"));
    assert_eq!(ev.venue_ns, Some(ms(1_672_515_782_136)));
    assert_eq!(
        ev.kind,
        EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceSpot,
            symbol: sym("BNBBTC"),
            price: fx("0.001"),
            qty: fx("100"),
            // m = true: the buyer was the maker, so the taker sold.
            taker_side: Some(Side::Sell),
            trade_id: Some(12_345),
        })
    );
}

#[test]
fn spot_trade() {
    let ev = one(parse_spot, &fixture("spot_ws_trade_docexample.json"));
    assert_eq!(ev.venue_ns, Some(ms(1_672_515_782_136)));
    assert_eq!(
        ev.kind,
        EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceSpot,
            symbol: sym("BNBBTC"),
            price: fx("0.001"),
            qty: fx("100"),
            taker_side: Some(Side::Sell),
            trade_id: Some(12_345),
        })
    );
    // m = false ⇒ taker bought.
    let buy = replace(
        &fixture("spot_ws_trade_docexample.json"),
        "\"m\": true",
        "\"m\": false",
    );
    let EventKind::SpotTrade(t) = one(parse_spot, &buy).kind else {
        panic!("trade expected")
    };
    assert_eq!(t.taker_side, Some(Side::Buy));
}

#[test]
fn spot_book_ticker_has_no_time() {
    let ev = one(parse_spot, &fixture("spot_ws_bookTicker_docexample.json"));
    assert_eq!(ev.venue_ns, None);
    assert_eq!(
        ev.kind,
        EventKind::SpotQuote(SpotQuote {
            venue: Venue::BinanceSpot,
            symbol: sym("BNBUSDT"),
            bid: fx("25.3519"),
            bid_qty: fx("31.21"),
            ask: fx("25.3652"),
            ask_qty: fx("40.66"),
            update_id: Some(400_900_217),
        })
    );
}

#[test]
fn spot_combined_stream_wrapper() {
    let ev = one(
        parse_spot,
        &fixture("spot_ws_combined_stream_wrapper_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(1_672_515_782_136)));
    assert_eq!(
        ev.kind,
        EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceSpot,
            symbol: sym("BTCUSDT"),
            price: fx("0.001"),
            qty: fx("100"),
            taker_side: Some(Side::Sell),
            trade_id: Some(12_345),
        })
    );
}

#[test]
fn spot_partial_depth_raw_and_wrapped() {
    let raw = fixture("spot_ws_depth20_partial_docexample.json");
    let expected = |symbol| SpotDepth {
        venue: Venue::BinanceSpot,
        symbol,
        is_snapshot: true,
        first_update_id: None,
        last_update_id: Some(160),
        prev_update_id: None,
        bids: vec![lvl("0.0024", "10")],
        asks: vec![lvl("0.0026", "100")],
    };
    let ev = one(parse_spot, &raw);
    assert_eq!(ev.venue_ns, None);
    assert_eq!(ev.kind, EventKind::SpotDepth(expected(None)));

    // Wrapped: the symbol comes from the stream name, upper-cased like `s` elsewhere.
    let mut wrapped = br#"{"stream":"bnbbtc@depth20@100ms","data":"#.to_vec();
    wrapped.extend_from_slice(&raw);
    wrapped.push(b'}');
    let ev = one(parse_spot, &wrapped);
    assert_eq!(ev.kind, EventKind::SpotDepth(expected(Some(sym("BNBBTC")))));
}

#[test]
fn spot_depth_update_diff() {
    let ev = one(
        parse_spot,
        &fixture("spot_ws_depthUpdate_diff_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(1_672_515_782_136)));
    assert_eq!(
        ev.kind,
        EventKind::SpotDepth(SpotDepth {
            venue: Venue::BinanceSpot,
            symbol: Some(sym("BNBBTC")),
            is_snapshot: false,
            first_update_id: Some(157),
            last_update_id: Some(160),
            prev_update_id: None,
            bids: vec![lvl("0.0024", "10")],
            asks: vec![lvl("0.0026", "100")],
        })
    );
}

#[test]
fn feed_dispatch_matches() {
    let mut out = Vec::new();
    let n = Feed::BinanceSpot
        .parse(&fixture("spot_ws_aggTrade_docexample.json"), RECV, &mut out)
        .unwrap();
    assert_eq!((n, out.len()), (1, 1));
    let n = Feed::BinanceUsdm
        .parse(
            &fixture("usdm_mark_price_stream_docexample.json"),
            RECV,
            &mut out,
        )
        .unwrap();
    assert_eq!((n, out.len()), (1, 2));
}

// ---------------------------------------------------------------- USD-M WS fixtures

#[test]
fn usdm_agg_trade_ignores_extra_keys() {
    let ev = one(
        parse_usdm,
        &fixture("usdm_agg_trade_stream_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(123_456_789)));
    assert_eq!(
        ev.kind,
        EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceUsdm,
            symbol: sym("BTCUSDT"),
            price: fx("0.001"),
            qty: fx("100"),
            taker_side: Some(Side::Sell),
            trade_id: Some(5_933_014),
        })
    );
}

#[test]
fn usdm_trade() {
    let ev = one(parse_usdm, &fixture("usdm_trade_stream_docexample.json"));
    assert_eq!(ev.venue_ns, Some(ms(123_456_789)));
    assert_eq!(
        ev.kind,
        EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceUsdm,
            symbol: sym("BTCUSDT"),
            price: fx("0.001"),
            qty: fx("100"),
            taker_side: Some(Side::Sell),
            trade_id: Some(5_933_014),
        })
    );
}

#[test]
fn usdm_book_ticker() {
    let ev = one(
        parse_usdm,
        &fixture("usdm_book_ticker_stream_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(1_568_014_460_893)));
    assert_eq!(
        ev.kind,
        EventKind::SpotQuote(SpotQuote {
            venue: Venue::BinanceUsdm,
            symbol: sym("BNBUSDT"),
            bid: fx("25.3519"),
            bid_qty: fx("31.21"),
            ask: fx("25.3652"),
            ask_qty: fx("40.66"),
            update_id: Some(400_900_217),
        })
    );
}

#[test]
fn usdm_depth_update_and_partial_via_stream_name() {
    let raw = fixture("usdm_depth_update_stream_docexample.json");
    let expected = |is_snapshot| SpotDepth {
        venue: Venue::BinanceUsdm,
        symbol: Some(sym("BTCUSDT")),
        is_snapshot,
        first_update_id: Some(157),
        last_update_id: Some(160),
        prev_update_id: Some(149),
        bids: vec![lvl("0.0024", "10")],
        asks: vec![lvl("0.0026", "100")],
    };
    let ev = one(parse_usdm, &raw);
    assert_eq!(ev.venue_ns, Some(ms(123_456_789)));
    assert_eq!(ev.kind, EventKind::SpotDepth(expected(false)));

    for (stream, snapshot) in [
        ("btcusdt@depth20@100ms", true),
        ("btcusdt@depth5", true),
        ("btcusdt@depth@100ms", false),
    ] {
        let mut wrapped = format!(r#"{{"stream":"{stream}","data":"#).into_bytes();
        wrapped.extend_from_slice(&raw);
        wrapped.push(b'}');
        let ev = one(parse_usdm, &wrapped);
        assert_eq!(
            ev.kind,
            EventKind::SpotDepth(expected(snapshot)),
            "{stream}"
        );
    }
}

#[test]
fn usdm_kline_closed() {
    let ev = one(
        parse_usdm,
        &fixture("usdm_kline_stream_closed_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(1_638_747_660_000)));
    assert_eq!(
        ev.kind,
        EventKind::Kline(Kline {
            venue: Venue::BinanceUsdm,
            symbol: sym("BTCUSDT"),
            open_time: ms(1_638_747_660_000),
            close_time: ms(1_638_747_719_999),
            open: fx("0.001"),
            high: fx("0.0025"),
            low: fx("0.001"),
            close: fx("0.002"),
            volume: fx("1000"),
            closed: true,
        })
    );
    // The same payload on the spot parser is a spot kline.
    let EventKind::Kline(k) = one(
        parse_spot,
        &fixture("usdm_kline_stream_closed_docexample.json"),
    )
    .kind
    else {
        panic!("kline expected")
    };
    assert_eq!(k.venue, Venue::BinanceSpot);
}

#[test]
fn usdm_liquidation() {
    let ev = one(
        parse_usdm,
        &fixture("usdm_liquidation_stream_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(1_568_014_460_893)));
    assert_eq!(
        ev.kind,
        EventKind::Liquidation(Liquidation {
            venue: Venue::BinanceUsdm,
            symbol: sym("BTCUSDT"),
            side: Side::Sell,
            price: fx("9910"),
            avg_price: fx("9910.12345678"),
            qty: fx("0.014"),
            filled_qty: fx("0.014"),
        })
    );
}

#[test]
fn usdm_mark_price() {
    let ev = one(
        parse_usdm,
        &fixture("usdm_mark_price_stream_docexample.json"),
    );
    assert_eq!(ev.venue_ns, Some(ms(1_562_305_380_000)));
    assert_eq!(
        ev.kind,
        EventKind::MarkPrice(MarkPrice {
            venue: Venue::BinanceUsdm,
            symbol: sym("BTCUSDT"),
            mark: fx("11794.15"),
            index: fx("11784.62659091"),
            funding_rate: fx("0.00038167"),
            next_funding: ms(1_562_306_400_000),
        })
    );
    // Negative funding is legal; an empty rate (delivery contracts) reads as zero.
    let neg = replace(
        &fixture("usdm_mark_price_stream_docexample.json"),
        "\"0.00038167\"",
        "\"-0.0001\"",
    );
    let EventKind::MarkPrice(m) = one(parse_usdm, &neg).kind else {
        panic!("mark price expected")
    };
    assert_eq!(m.funding_rate, fx("-0.0001"));
    let empty = replace(
        &fixture("usdm_mark_price_stream_docexample.json"),
        "\"0.00038167\"",
        "\"\"",
    );
    let EventKind::MarkPrice(m) = one(parse_usdm, &empty).kind else {
        panic!("mark price expected")
    };
    assert_eq!(m.funding_rate, Fixed18(0));
}

#[test]
fn usdm_only_events_are_unknown_on_spot() {
    for name in [
        "usdm_liquidation_stream_docexample.json",
        "usdm_mark_price_stream_docexample.json",
    ] {
        let (events, skipped) = parse_counting(parse_spot, &fixture(name));
        assert_eq!((events.len(), skipped), (0, 1), "{name}");
        assert!(polyedge_venues::unknown::last().contains("on BinanceSpot"));
    }
}

/// Parses `frame` (which must parse), returning its events and how many unknown elements the
/// parser skipped.
fn parse_counting(parser: Parser, frame: &[u8]) -> (Vec<MarketEvent>, u64) {
    let before = polyedge_venues::unknown::skipped();
    let mut out = Vec::new();
    let n = parser(frame, RECV, &mut out).unwrap();
    assert_eq!(n, out.len());
    (out, polyedge_venues::unknown::skipped() - before)
}

/// Issue 15 item 3: a batch mixing a known event, an event type the parser does not know and an
/// element of an unknown shape keeps the known events and counts the others.
#[test]
fn mixed_batch_keeps_known_events_and_counts_unknown_ones() {
    let trade = String::from_utf8(fixture("spot_ws_trade_docexample.json")).unwrap();
    let agg = String::from_utf8(fixture("spot_ws_aggTrade_docexample.json")).unwrap();
    let frame = format!(
        r#"[{trade}, {{"e":"24hrMiniTicker","E":1672515782136,"s":"BNBBTC","c":"1"}}, 42, {agg}]"#
    );
    let (events, skipped) = parse_counting(parse_spot, frame.as_bytes());
    assert_eq!(skipped, 2);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], one(parse_spot, trade.as_bytes()));
    assert_eq!(events[1], one(parse_spot, agg.as_bytes()));
    // The same inside a combined-stream wrapper, and unknown fields beside known ones.
    let wrapped =
        format!(r#"{{"stream":"!x@arr","data":{frame},"new_top_level_field":{{"a":[1,2]}}}}"#);
    let (events, skipped) = parse_counting(parse_spot, wrapped.as_bytes());
    assert_eq!((events.len(), skipped), (2, 2));
    // A bad value in a known element is still an error for the whole frame.
    let bad = frame.replace("\"0.001\"", "\"-0.001\"");
    if bad != frame {
        fails(parse_spot, bad.as_bytes());
    }
}

// ---------------------------------------------------------------- REST fixtures

#[test]
fn rest_depth_snapshot() {
    let body = fixture("spot_rest_depth_response_docexample.json");
    let ev = parse_rest_depth(&body, "LTCBTC", RECV).unwrap();
    assert_eq!(ev.recv_ns, RECV);
    assert_eq!(ev.venue_ns, None);
    assert_eq!(
        ev.kind,
        EventKind::SpotDepth(SpotDepth {
            venue: Venue::BinanceSpot,
            symbol: Some(sym("LTCBTC")),
            is_snapshot: true,
            first_update_id: None,
            last_update_id: Some(1_027_024),
            prev_update_id: None,
            bids: vec![lvl("4", "431")],
            asks: vec![lvl("4.000002", "12")],
        })
    );
    // USD-M response carries E/T.
    let fut = br#"{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#;
    let ev = parse_usdm_rest_depth(fut, "BTCUSDT", RECV).unwrap();
    assert_eq!(ev.venue_ns, Some(ms(1_589_436_922_972)));
    let EventKind::SpotDepth(d) = ev.kind else {
        panic!("depth expected")
    };
    assert_eq!(d.venue, Venue::BinanceUsdm);
    assert_eq!(d.last_update_id, Some(1_027_024));
}

#[test]
fn rest_depth_errors() {
    let err = parse_rest_depth(br#"{"code":-1121,"msg":"Invalid symbol."}"#, "X", RECV);
    assert_eq!(
        err,
        Err(ParseError::VenueError("code -1121: Invalid symbol.".into()))
    );
    let body = fixture("spot_rest_depth_response_docexample.json");
    bad_field(&parse_rest_depth(&body, "", RECV).unwrap_err(), "symbol");
    let bad = replace(&body, "\"12.00000000\"", "\"-12\"");
    bad_field(
        &parse_rest_depth(&bad, "LTCBTC", RECV).unwrap_err(),
        "asks[0].qty",
    );
    let missing = replace(&body, "\"lastUpdateId\"", "\"lastUpdate\"");
    assert_eq!(
        parse_rest_depth(&missing, "LTCBTC", RECV),
        Err(ParseError::MissingField("lastUpdateId"))
    );
}

fn expected_kline(venue: Venue, closed: bool) -> Kline {
    Kline {
        venue,
        symbol: sym("BNBBTC"),
        open_time: ms(1_499_040_000_000),
        close_time: ms(1_499_644_799_999),
        open: fx("0.0163479"),
        high: fx("0.8"),
        low: fx("0.015758"),
        close: fx("0.015771"),
        volume: fx("148976.11427815"),
        closed,
    }
}

#[test]
fn rest_klines() {
    for name in [
        "spot_rest_klines_response_docexample.json",
        "spot_rest_klines_row_docexample.json",
    ] {
        let body = fixture(name);
        let mut out = Vec::new();
        assert_eq!(parse_rest_klines(&body, "BNBBTC", RECV, &mut out), Ok(1));
        assert_eq!(
            out,
            vec![MarketEvent {
                recv_ns: RECV,
                venue_ns: None,
                kind: EventKind::Kline(expected_kline(Venue::BinanceSpot, true)),
            }]
        );
        // Fetched while the candle was still forming: not closed.
        let early = ms(1_499_644_000_000);
        out.clear();
        assert_eq!(
            parse_usdm_rest_klines(&body, "BNBBTC", early, &mut out),
            Ok(1)
        );
        assert_eq!(
            out[0].kind,
            EventKind::Kline(expected_kline(Venue::BinanceUsdm, false))
        );
    }
}

#[test]
fn rest_klines_errors_append_nothing() {
    let row = r#"[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]"#;
    let bad_row = row.replace("\"0.80000000\"", "\"0.8x\"");
    let body = format!("[{row},{bad_row}]");
    let mut out = Vec::new();
    let err = parse_rest_klines(body.as_bytes(), "BNBBTC", RECV, &mut out).unwrap_err();
    bad_field(&err, "[1].high");
    assert!(out.is_empty(), "first row must be rolled back");

    let short = r#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100"]]"#;
    assert_eq!(
        parse_rest_klines(short.as_bytes(), "BNBBTC", RECV, &mut out),
        Err(ParseError::MissingField("[].closeTime"))
    );
    assert_eq!(
        parse_rest_klines(
            br#"{"code":-1100,"msg":"Illegal characters"}"#,
            "BNBBTC",
            RECV,
            &mut out
        ),
        Err(ParseError::VenueError(
            "code -1100: Illegal characters".into()
        ))
    );
    assert!(matches!(
        parse_rest_klines(b"[[1499040000000,", "BNBBTC", RECV, &mut out),
        Err(ParseError::Json(_))
    ));
    assert!(out.is_empty());
}

#[test]
fn rest_agg_trades() {
    let body = fixture("spot_rest_aggTrades_docexample.json");
    let mut out = Vec::new();
    assert_eq!(
        parse_rest_agg_trades(&body, "BNBBTC", RECV, &mut out),
        Ok(1)
    );
    assert_eq!(
        out,
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(ms(1_498_793_709_153)),
            kind: EventKind::SpotTrade(SpotTrade {
                venue: Venue::BinanceSpot,
                symbol: sym("BNBBTC"),
                price: fx("0.01633102"),
                qty: fx("4.70443515"),
                taker_side: Some(Side::Sell),
                trade_id: Some(26_129),
            }),
        }]
    );
    let bad = replace(&body, "\"a\": 26129", "\"a\": -1");
    out.clear();
    bad_field(
        &parse_rest_agg_trades(&bad, "BNBBTC", RECV, &mut out).unwrap_err(),
        "[0].a",
    );
    assert!(out.is_empty());
}

#[test]
fn rest_trades() {
    let body = fixture("spot_rest_trades_response_docexample.json");
    let mut out = Vec::new();
    assert_eq!(parse_rest_trades(&body, "BNBBTC", RECV, &mut out), Ok(1));
    assert_eq!(
        out,
        vec![MarketEvent {
            recv_ns: RECV,
            venue_ns: Some(ms(1_499_865_549_590)),
            kind: EventKind::SpotTrade(SpotTrade {
                venue: Venue::BinanceSpot,
                symbol: sym("BNBBTC"),
                price: fx("4.000001"),
                qty: fx("12"),
                taker_side: Some(Side::Sell),
                trade_id: Some(28_457),
            }),
        }]
    );
    let bad = replace(&body, "\"isBuyerMaker\": true", "\"isBuyerMaker\": \"yes\"");
    out.clear();
    json_err_names(
        &parse_rest_trades(&bad, "BNBBTC", RECV, &mut out).unwrap_err(),
        "[0].isBuyerMaker",
    );
}

#[test]
fn rest_book_ticker() {
    let body = fixture("spot_rest_book_ticker_response_docexample.json");
    let expected = MarketEvent {
        recv_ns: RECV,
        venue_ns: None,
        kind: EventKind::SpotQuote(SpotQuote {
            venue: Venue::BinanceSpot,
            symbol: sym("LTCBTC"),
            bid: fx("4"),
            bid_qty: fx("431"),
            ask: fx("4.000002"),
            ask_qty: fx("9"),
            update_id: None,
        }),
    };
    let mut out = Vec::new();
    assert_eq!(parse_rest_book_ticker(&body, RECV, &mut out), Ok(1));
    assert_eq!(out, vec![expected.clone()]);

    // The all-symbols form is an array of the same objects.
    let mut arr = b"[".to_vec();
    arr.extend_from_slice(&body);
    arr.push(b',');
    arr.extend_from_slice(&body);
    arr.push(b']');
    out.clear();
    assert_eq!(parse_rest_book_ticker(&arr, RECV, &mut out), Ok(2));
    assert_eq!(out, vec![expected.clone(), expected]);

    let bad = replace(&body, "\"askQty\"", "\"askQuantity\"");
    out.clear();
    assert_eq!(
        parse_rest_book_ticker(&bad, RECV, &mut out),
        Err(ParseError::MissingField("askQty"))
    );
}

// ---------------------------------------------------------------- control frames

#[test]
fn control_frames_append_nothing() {
    for frame in [
        r#"{"result":null,"id":1}"#,
        r#"{"result":["btcusdt@aggTrade","btcusdt@depth"],"id":3}"#,
        r#"{"e":"serverShutdown","E":1672515782136}"#,
    ] {
        let mut out = Vec::new();
        assert_eq!(
            parse_spot(frame.as_bytes(), RECV, &mut out),
            Ok(0),
            "{frame}"
        );
        assert_eq!(
            parse_usdm(frame.as_bytes(), RECV, &mut out),
            Ok(0),
            "{frame}"
        );
        assert!(out.is_empty());
    }
}

#[test]
fn venue_errors() {
    assert_eq!(
        fails(
            parse_spot,
            br#"{"code":2,"msg":"Invalid request: unknown variant","id":1}"#
        ),
        ParseError::VenueError("code 2: Invalid request: unknown variant".into())
    );
    assert_eq!(
        fails(
            parse_usdm,
            br#"{"error":{"code":1,"msg":"Invalid value type"},"id":5}"#
        ),
        ParseError::VenueError("code 1: Invalid value type".into())
    );
}

// ---------------------------------------------------------------- malformed input

#[test]
fn truncated_json() {
    for name in COVERED
        .iter()
        .filter(|n| n.contains("_ws_") || n.starts_with("usdm"))
    {
        let full = fixture(name);
        let cut = &full[..full.len() / 2];
        assert!(
            matches!(fails(parse_usdm, cut), ParseError::Json(_)),
            "{name}"
        );
    }
    assert!(matches!(fails(parse_spot, b""), ParseError::Json(_)));
    assert!(matches!(
        fails(parse_spot, b"{\"e\":\"trade\xff\"}"),
        ParseError::Json(_)
    ));
}

#[test]
fn wrong_types_name_the_field() {
    let agg = fixture("spot_ws_aggTrade_docexample.json");
    json_err_names(
        &fails(parse_spot, &replace(&agg, "\"0.001\"", "0.001")),
        "p",
    );
    json_err_names(
        &fails(parse_spot, &replace(&agg, "\"m\": true", "\"m\": \"true\"")),
        "m",
    );
    json_err_names(
        &fails(
            parse_spot,
            &replace(&agg, "\"E\": 1672515782136", "\"E\": \"1672515782136\""),
        ),
        "E",
    );
    json_err_names(
        &fails(
            parse_spot,
            &replace(&agg, "\"a\": 12345", "\"a\": \"12345\""),
        ),
        "a",
    );
    json_err_names(
        &fails(
            parse_spot,
            &replace(&agg, "\"e\": \"aggTrade\"", "\"e\": 7"),
        ),
        "e",
    );

    let depth = fixture("spot_ws_depthUpdate_diff_docexample.json");
    // A level with one element instead of two.
    let short = replace(&depth, "\"0.0024\",\n   \"10\"", "\"0.0024\"");
    json_err_names(&fails(parse_spot, &short), "b");
    json_err_names(
        &fails(
            parse_spot,
            &replace(&depth, "\"b\": [", "\"b\": \"x\", \"bb\": ["),
        ),
        "b",
    );

    let kline = fixture("usdm_kline_stream_closed_docexample.json");
    json_err_names(
        &fails(parse_usdm, &replace(&kline, "\"x\": true", "\"x\": 1")),
        "k.x",
    );
    json_err_names(
        &fails(
            parse_usdm,
            &replace(&kline, "\"k\": {", "\"k\": 5, \"kk\": {"),
        ),
        "k",
    );

    let wrapped = fixture("spot_ws_combined_stream_wrapper_docexample.json");
    json_err_names(
        &fails(parse_spot, &replace(&wrapped, "\"btcusdt@aggTrade\"", "5")),
        "stream",
    );
}

#[test]
fn unknown_event_type() {
    // Skipped and counted, not an error (forward compatibility).
    let frame = br#"{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC"}"#;
    for parser in [parse_spot as Parser, parse_usdm] {
        let (events, skipped) = parse_counting(parser, frame);
        assert_eq!((events.len(), skipped), (0, 1));
        assert!(polyedge_venues::unknown::last().contains("24hrTicker"));
    }
    // No `e` and not a known un-typed payload.
    assert_eq!(
        fails(parse_spot, br#"{"s":"BNBBTC","x":1}"#),
        ParseError::MissingField("e")
    );
}

#[test]
fn negative_and_invalid_numbers() {
    let agg = fixture("spot_ws_aggTrade_docexample.json");
    bad_field(
        &fails(parse_spot, &replace(&agg, "\"0.001\"", "\"-0.001\"")),
        "p",
    );
    bad_field(
        &fails(parse_spot, &replace(&agg, "\"100\"", "\"1e2\"")),
        "q",
    );
    bad_field(
        &fails(parse_spot, &replace(&agg, "\"100\"", "\"abc\"")),
        "q",
    );
    bad_field(&fails(parse_spot, &replace(&agg, "\"100\"", "\"\"")), "q");
    bad_field(
        &fails(
            parse_spot,
            &replace(&agg, "\"0.001\"", "\"0.0000000000000000001\""),
        ),
        "p",
    );
    bad_field(
        &fails(parse_spot, &replace(&agg, "\"a\": 12345", "\"a\": -12345")),
        "a",
    );
    bad_field(
        &fails(parse_spot, &replace(&agg, "\"a\": 12345", "\"a\": 1.5")),
        "a",
    );
    // Event time that overflows u64 nanoseconds (e.g. a µs clock fed to a ms parser).
    bad_field(
        &fails(
            parse_spot,
            &replace(&agg, "\"E\": 1672515782136", "\"E\": 1672515782136000000"),
        ),
        "E",
    );

    let depth = fixture("spot_ws_depthUpdate_diff_docexample.json");
    bad_field(
        &fails(parse_spot, &replace(&depth, "\"100\"", "\"-100\"")),
        "a[0].qty",
    );
    bad_field(
        &fails(parse_spot, &replace(&depth, "\"0.0024\"", "\"0.00.24\"")),
        "b[0].price",
    );

    let book = fixture("spot_ws_bookTicker_docexample.json");
    bad_field(
        &fails(parse_spot, &replace(&book, "\"25.35190000\"", "\"-1\"")),
        "b",
    );

    let liq = fixture("usdm_liquidation_stream_docexample.json");
    bad_field(
        &fails(parse_usdm, &replace(&liq, "\"SELL\"", "\"HOLD\"")),
        "o.S",
    );
    bad_field(
        &fails(parse_usdm, &replace(&liq, "\"9910.12345678\"", "\"-9910\"")),
        "o.ap",
    );
}

#[test]
fn missing_fields() {
    let agg = fixture("spot_ws_aggTrade_docexample.json");
    assert_eq!(
        fails(parse_spot, &replace(&agg, "\"s\": \"BNBBTC\",", "")),
        ParseError::MissingField("s")
    );
    assert_eq!(
        fails(parse_spot, &replace(&agg, "\"a\": 12345,", "")),
        ParseError::MissingField("a")
    );
    let kline = fixture("usdm_kline_stream_closed_docexample.json");
    assert_eq!(
        fails(parse_usdm, &replace(&kline, "\"x\": true,", "")),
        ParseError::MissingField("k.x")
    );
    let wrapped = fixture("spot_ws_combined_stream_wrapper_docexample.json");
    assert_eq!(
        fails(
            parse_spot,
            &replace(&wrapped, "\"stream\": \"btcusdt@aggTrade\",", "")
        ),
        ParseError::MissingField("stream")
    );
    // A symbol longer than 23 bytes is a bad field, not a panic.
    bad_field(
        &fails(
            parse_spot,
            &replace(&agg, "\"BNBBTC\"", "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\""),
        ),
        "s",
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
        for parser in [parse_spot as Parser, parse_usdm as Parser] {
            let mut out = Vec::new();
            match parser(&frame, RECV, &mut out) {
                Ok(n) => proptest::prop_assert_eq!(n, out.len()),
                Err(_) => proptest::prop_assert!(out.is_empty()),
            }
        }
    }
}
