//! Tests of the Polymarket CLOB market-channel parser against every fixture in
//! `fixtures/polymarket/ws_market`, the real rsahn frames (array-wrapped snapshot then
//! `price_change` deltas, checked against a [`WindowBook`]), the first 200 cronos `book` frames,
//! and malformed input.

// A test crate: a failed `unwrap` is a test failure, and helpers outside `#[test]` fns use it too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead as _;

use polyedge_core::event::{
    BestBidAsk, BookDelta, BookSnapshot, LastTrade, Level, MarketResolved, NewMarket,
    TickSizeChange,
};
use polyedge_core::{
    BookSide, ConditionId, EventKind, MarketEvent, Outcome, Price, Side, Size, TokenId, UnixNanos,
    WindowBook,
};
use polyedge_venues::{Feed, ParseError, polymarket};
use serde::Deserialize;
use serde_json::value::RawValue;

const WS_MARKET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/polymarket/ws_market"
);
const RSAHN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/fixtures_rsahn_clob_ws_2026-09-21"
);
const CRONOS_BOOKS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/cronos_btc5m_books/books_2026-04-13.jsonl.zst"
);

const RECV: UnixNanos = UnixNanos(1_800_000_000_123_456_789);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{WS_MARKET}/{name}")).unwrap()
}

fn parse(frame: &[u8]) -> Result<Vec<MarketEvent>, ParseError> {
    let mut out = Vec::new();
    let n = polymarket::parse(frame, RECV, &mut out)?;
    assert_eq!(n, out.len(), "returned count = appended count");
    // The dispatcher gives the same answer.
    let mut via_feed = Vec::new();
    assert_eq!(
        Feed::PolymarketMarket.parse(frame, RECV, &mut via_feed),
        Ok(n)
    );
    assert_eq!(via_feed, out);
    Ok(out)
}

fn parse_one(frame: &[u8]) -> MarketEvent {
    let mut evs = parse(frame).unwrap();
    assert_eq!(evs.len(), 1, "{evs:?}");
    evs.pop().unwrap()
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn sz(s: &str) -> Size {
    Size::parse(s).unwrap()
}
fn tok(s: &str) -> TokenId {
    TokenId::parse(s).unwrap()
}
fn cid(s: &str) -> ConditionId {
    ConditionId::parse(s).unwrap()
}
fn lv(price: &str, size: &str) -> Level {
    Level {
        price: p(price),
        size: sz(size),
    }
}
fn at_ms(ms: u64) -> UnixNanos {
    UnixNanos::from_millis(ms)
}

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

/// Every file of the fixture folder is covered by a test below; a new fixture fails here until
/// it gets one.
#[test]
fn every_ws_market_fixture_is_known_and_parses() {
    let known = [
        ("best_bid_ask_2025-12.json", 1),
        ("book_2024-10_real.json", 1),
        ("last_trade_price_2024-08_real.json", 1),
        ("market_resolved_2025-12.json", 1),
        ("new_market_2025-12.json", 1),
        ("price_change_2024-10_real.json", 3),
        ("price_change_LEGACY_single_level_2024-08_real.json", 1),
        ("tick_size_change_2025-02_real.json", 1),
    ];
    let mut names: Vec<String> = std::fs::read_dir(WS_MARKET)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        known
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect::<Vec<_>>()
    );
    for (name, count) in known {
        let evs = parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(evs.len(), count, "{name}");
        for e in &evs {
            assert_eq!(e.recv_ns, RECV);
            assert!(e.venue_ns.is_some(), "{name} has a timestamp");
        }
    }
}

#[test]
fn book_fixture_best_first() {
    let ev = parse_one(&fixture("book_2024-10_real.json"));
    assert_eq!(ev.venue_ns, Some(at_ms(1_728_799_418_260)));
    let EventKind::Book(b) = ev.kind else {
        panic!("{ev:?}")
    };
    assert_eq!(
        b.market,
        cid("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917")
    );
    assert_eq!(
        b.token,
        tok("48331043336612883890938759509493159234755048973500640148014422747788308965732")
    );
    assert_eq!(
        b.hash.as_deref(),
        Some("655a38d4977427b086c25b985993691b753ed166")
    );
    assert_eq!(b.tick_size, None);
    assert_eq!(b.last_trade_price, None);
    assert_eq!((b.bids.len(), b.asks.len()), (76, 86));
    // Wire: bids ascending, asks descending, best last. Stored: best first.
    assert_eq!(b.bids[0], lv("0.511", "1304.72"));
    assert_eq!(b.bids[1], lv("0.51", "12848.17"));
    assert_eq!(b.bids[75], lv("0.001", "9000023.58"));
    assert_eq!(b.asks[0], lv("0.514", "20230.87"));
    assert_eq!(b.asks[1], lv("0.515", "43551.96"));
    assert_eq!(b.asks[85], lv("0.999", "10500100"));
    assert!(b.bids.windows(2).all(|w| w[0].price > w[1].price));
    assert!(b.asks.windows(2).all(|w| w[0].price < w[1].price));
    assert_eq!(b.bids[0].size, Size::from_micros(1_304_720_000));
}

#[test]
fn price_change_fixture_current_schema() {
    let evs = parse(&fixture("price_change_2024-10_real.json")).unwrap();
    let market = cid("0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1");
    let token =
        tok("52114319501245915516055106046884209969926127482827954674443846427813813222426");
    let expect = [("0.6", "3300"), ("0.5", "3400"), ("0.7", "3400")];
    assert_eq!(evs.len(), 3);
    for (ev, (price, size)) in evs.iter().zip(expect) {
        assert_eq!(ev.venue_ns, Some(at_ms(1_729_084_877_448)));
        assert_eq!(
            ev.kind,
            EventKind::BookDelta(BookDelta {
                market,
                token,
                side: BookSide::Bid,
                price: p(price),
                size: sz(size),
                best_bid: Some(p("0.6")),
                best_ask: Some(p("0.7")),
            })
        );
    }
}

#[test]
fn price_change_fixture_legacy_single_level() {
    let ev = parse_one(&fixture(
        "price_change_LEGACY_single_level_2024-08_real.json",
    ));
    assert_eq!(ev.venue_ns, Some(at_ms(1_723_967_931_411)));
    assert_eq!(
        ev.kind,
        EventKind::BookDelta(BookDelta {
            market: cid("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"),
            token: tok(
                "48331043336612883890938759509493159234755048973500640148014422747788308965732"
            ),
            side: BookSide::Ask,
            price: p("0.514"),
            size: Size::from_micros(21_574_080_000),
            best_bid: None,
            best_ask: None,
        })
    );
}

#[test]
fn last_trade_price_fixture() {
    let ev = parse_one(&fixture("last_trade_price_2024-08_real.json"));
    assert_eq!(ev.venue_ns, Some(at_ms(1_724_564_136_087)));
    assert_eq!(
        ev.kind,
        EventKind::LastTrade(LastTrade {
            market: cid("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"),
            token: tok(
                "21742633143463906290569050155826241533067272736897614950488156847949938836455"
            ),
            price: p("0.491"),
            size: Size::from_micros(85_360_000),
            taker_side: Side::Sell,
            fee_rate_bps: Some(0),
        })
    );
}

#[test]
fn tick_size_change_fixture() {
    let ev = parse_one(&fixture("tick_size_change_2025-02_real.json"));
    assert_eq!(ev.venue_ns, Some(at_ms(1_739_068_041_853)));
    assert_eq!(
        ev.kind,
        EventKind::TickSizeChange(TickSizeChange {
            market: cid("0xbacdf04bf7f22a670dc4fb408878ec56b76f9934599829455b9371693ba84b8b"),
            token: tok(
                "115474063863764126958837769719736461272619491980773624567012766320777398670353"
            ),
            old_tick: Price::from_micros(10_000).unwrap(),
            new_tick: Price::from_micros(1_000).unwrap(),
        })
    );
}

#[test]
fn best_bid_ask_fixture() {
    let ev = parse_one(&fixture("best_bid_ask_2025-12.json"));
    assert_eq!(ev.venue_ns, Some(at_ms(1_766_789_469_958)));
    assert_eq!(
        ev.kind,
        EventKind::BestBidAsk(BestBidAsk {
            market: Some(cid(
                "0x0005c0d312de0be897668695bae9f32b624b4a1ae8b140c49f08447fcc74f442"
            )),
            token: tok(
                "85354956062430465315924116860125388538595433819574542752031640332592237464430"
            ),
            bid: Some(p("0.73")),
            ask: Some(p("0.77")),
            bid_size: None,
            ask_size: None,
        })
    );
}

const YES: &str = "76043073756653678226373981964075571318267289248134717369284518995922789326425";
const NO: &str = "31690934263385727664202099278545688007799199447969475608906331829650099442770";
const NVDA_MARKET: &str = "0x311d0c4b6671ab54af4970c06fcf58662516f5168997bdda209ec3db5aa6b0c1";

#[test]
fn new_market_fixture() {
    let ev = parse_one(&fixture("new_market_2025-12.json"));
    assert_eq!(ev.venue_ns, Some(at_ms(1_766_790_415_550)));
    assert_eq!(
        ev.kind,
        EventKind::NewMarket(NewMarket {
            market: cid(NVDA_MARKET),
            slug: "nvda-above-240-on-january-30-2026".into(),
            question: "Will NVIDIA (NVDA) close above $240 end of January?".into(),
            tokens: vec![tok(YES), tok(NO)],
            outcomes: vec!["Yes".into(), "No".into()],
        })
    );
}

#[test]
fn market_resolved_fixture() {
    let ev = parse_one(&fixture("market_resolved_2025-12.json"));
    assert_eq!(ev.venue_ns, Some(at_ms(1_766_790_415_550)));
    assert_eq!(
        ev.kind,
        EventKind::MarketResolved(MarketResolved {
            market: cid(NVDA_MARKET),
            winning_token: tok(YES),
            winning_outcome: "Yes".into(),
        })
    );
}

// ------------------------------------------------------------------------------------------
// Other accepted shapes
// ------------------------------------------------------------------------------------------

const TOKEN: &str = "61819828071723399190623735325323968706432622380635304641786792960078828866875";
const MARKET: &str = "0x28a45972fccdaf0fba75dacc59725521035e177d09dd92174f9f52740bccb025";

#[test]
fn control_frames_append_nothing() {
    for frame in [
        &b"PONG"[..],
        b"pong",
        b" PONG\n",
        b"",
        b"  \r\n",
        b"[]",
        b" [ ] ",
    ] {
        let mut out = Vec::new();
        assert_eq!(
            polymarket::parse(frame, RECV, &mut out),
            Ok(0),
            "{:?}",
            String::from_utf8_lossy(frame)
        );
        assert!(out.is_empty());
    }
}

#[test]
fn best_bid_ask_empty_sides_and_sizes() {
    // Importers synthesize such frames: empty/absent sides, sizes, no market.
    let ev = parse_one(
        format!(
            r#"{{"event_type":"best_bid_ask","asset_id":"{TOKEN}","best_bid":"","best_ask":"0.42",
                "best_ask_size":"120.5","timestamp":1766789469958}}"#
        )
        .as_bytes(),
    );
    assert_eq!(
        ev.venue_ns,
        Some(at_ms(1_766_789_469_958)),
        "numeric timestamp"
    );
    assert_eq!(
        ev.kind,
        EventKind::BestBidAsk(BestBidAsk {
            market: None,
            token: tok(TOKEN),
            bid: None,
            ask: Some(p("0.42")),
            bid_size: None,
            ask_size: Some(sz("120.5")),
        })
    );
    let ev = parse_one(
        format!(r#"{{"event_type":"best_bid_ask","asset_id":"{TOKEN}","best_bid":"0.4","best_bid_size":"7","best_ask":null}}"#)
            .as_bytes(),
    );
    assert_eq!(ev.venue_ns, None);
    let EventKind::BestBidAsk(b) = ev.kind else {
        panic!()
    };
    assert_eq!(
        (b.bid, b.ask, b.bid_size),
        (Some(p("0.4")), None, Some(sz("7")))
    );
}

#[test]
fn book_with_tick_and_last_trade_and_empty_side() {
    let ev = parse_one(
        format!(
            r#"{{"market":"{MARKET}","asset_id":"{TOKEN}","timestamp":"1","bids":[],
               "asks":[{{"price":"0.99","size":"1"}},{{"price":"0.5","size":"2.5"}}],
               "tick_size":"0.01","last_trade_price":"0.850","event_type":"book"}}"#
        )
        .as_bytes(),
    );
    let EventKind::Book(b) = ev.kind else {
        panic!()
    };
    assert_eq!(
        b,
        BookSnapshot {
            market: cid(MARKET),
            token: tok(TOKEN),
            bids: vec![],
            asks: vec![lv("0.5", "2.5"), lv("0.99", "1")],
            hash: None,
            tick_size: Some(p("0.01")),
            last_trade_price: Some(p("0.85")),
        }
    );
}

#[test]
fn unknown_fields_and_escaped_strings_are_fine() {
    let ev = parse_one(
        format!(
            r#"{{"event_type":"last_trade_price","asset_id":"{TOKEN}","market":"{MARKET}","price":"0.5",
               "size":"10","side":"BUY","transaction_hash":"0xabc","extra":{{"a":[1,2,{{"b":null}}]}},
               "fee_rate_bps":1000,"note":"quote \" and \\u00e9"}}"#
        )
        .as_bytes(),
    );
    let EventKind::LastTrade(t) = ev.kind else {
        panic!()
    };
    assert_eq!((t.taker_side, t.fee_rate_bps), (Side::Buy, Some(1000)));
    assert_eq!(ev.venue_ns, None);
}

// ------------------------------------------------------------------------------------------
// Real frames: rsahn (snapshot + deltas) and cronos (books)
// ------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct RsahnLine {
    received_ms: u64,
    raw: String,
}

fn rsahn_frames() -> Vec<RsahnLine> {
    std::fs::read_to_string(format!("{RSAHN}/raw_frames_sample.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn rsahn_tokens() -> (TokenId, TokenId) {
    let id: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{RSAHN}/15m_identity.json")).unwrap(),
    )
    .unwrap();
    let ids = &id["market"]["token_ids"];
    (
        tok(ids["UP"].as_str().unwrap()),
        tok(ids["DOWN"].as_str().unwrap()),
    )
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data/fixtures_rsahn_clob_ws_2026-09-21 (unlicensed, not in the repo): run scripts/test beside ../shared"
)]
fn rsahn_array_wrapped_snapshot() {
    let frames = rsahn_frames();
    assert_eq!(frames.len(), 6);
    let (up, down) = rsahn_tokens();
    let evs = parse(frames[0].raw.as_bytes()).unwrap();
    assert_eq!(evs.len(), 2);
    let books: Vec<&BookSnapshot> = evs
        .iter()
        .map(|e| match &e.kind {
            EventKind::Book(b) => b,
            other => panic!("{other:?}"),
        })
        .collect();
    for (e, b) in evs.iter().zip(&books) {
        assert_eq!(e.venue_ns, Some(at_ms(1_789_987_926_108)));
        assert_eq!(b.market, cid(MARKET));
        assert_eq!(b.tick_size, Some(p("0.01")));
        assert_eq!(b.last_trade_price, Some(p("0.85")));
    }
    assert_eq!(books[0].token, up);
    assert_eq!(
        books[0].hash.as_deref(),
        Some("db0ae2c506077851a9e320258152d3145dba5e35")
    );
    assert_eq!(books[0].bids[0], lv("0.13", "245"));
    assert_eq!(books[0].asks[0], lv("0.14", "614"));
    assert_eq!(books[1].token, down);
    assert_eq!(books[1].bids[0], lv("0.86", "614"));
    assert_eq!(books[1].asks[0], lv("0.87", "245"));
    assert_eq!(books[1].asks[1], lv("0.88", "250"));
}

/// Snapshot then deltas is consistent: after every `price_change` entry, the token's book has
/// the best bid/ask the venue reported with that entry.
#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data/fixtures_rsahn_clob_ws_2026-09-21 (unlicensed, not in the repo): run scripts/test beside ../shared"
)]
fn rsahn_snapshot_then_deltas_is_consistent() {
    let frames = rsahn_frames();
    let (up, down) = rsahn_tokens();
    let mut wb = WindowBook::new(up, down);
    let mut checked = 0;
    for (i, f) in frames.iter().enumerate() {
        let recv = UnixNanos::from_millis(f.received_ms);
        let mut evs = Vec::new();
        polymarket::parse(f.raw.as_bytes(), recv, &mut evs).unwrap();
        assert_eq!(evs.len(), 2, "frame {}", i + 1);
        for ev in &evs {
            assert!(wb.apply(ev).unwrap());
            let EventKind::BookDelta(d) = &ev.kind else {
                assert_eq!(i, 0, "only frame 1 is a snapshot");
                continue;
            };
            let book = wb.book(wb.outcome_of(d.token).unwrap());
            assert_eq!(book.size_at(d.side, d.price), d.size);
            // Frames 1–4 are the first four lines of the recording; frames 5–6 come from ~8 MB
            // (32 s) later, after updates not in the sample, so their best bid/ask cannot be
            // reproduced from our book and are not compared.
            if i < 4 {
                assert_eq!(
                    book.best_bid().map(|l| l.price),
                    d.best_bid,
                    "frame {} best bid",
                    i + 1
                );
                assert_eq!(
                    book.best_ask().map(|l| l.price),
                    d.best_ask,
                    "frame {} best ask",
                    i + 1
                );
                checked += 1;
            }
        }
        if i < 4 {
            // Both legs carry the same receive time, so the mirror check applies.
            assert!(!wb.mirror_mismatch(), "frame {}", i + 1);
        }
    }
    assert_eq!(checked, 6);
    assert_eq!(
        wb.best_ask(Outcome::Up).unwrap().level.price,
        p("0.14"),
        "Up best ask after frame 6"
    );
}

#[derive(Deserialize)]
struct CronosLine<'a> {
    recv_ts: f64,
    #[serde(borrow)]
    raw: &'a RawValue,
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data/cronos_btc5m_books (the full dataset, not in the repo): run scripts/test beside ../shared"
)]
fn cronos_books_first_200_frames() {
    let file = std::fs::File::open(CRONOS_BOOKS).unwrap();
    let reader = std::io::BufReader::new(zstd::stream::read::Decoder::new(file).unwrap());
    let mut n = 0;
    let mut with_tick = 0;
    for line in reader.lines().take(200) {
        let line = line.unwrap();
        let rec: CronosLine<'_> = serde_json::from_str(&line).unwrap();
        let raw: serde_json::Value = serde_json::from_str(rec.raw.get()).unwrap();
        assert!(rec.recv_ts > 1.7e9);
        let ev = parse_one(rec.raw.get().as_bytes());
        let EventKind::Book(b) = &ev.kind else {
            panic!("line {n}: {ev:?}")
        };
        assert_eq!(
            ev.venue_ns,
            Some(UnixNanos::parse_millis(raw["timestamp"].as_str().unwrap()).unwrap())
        );
        assert_eq!(b.token, tok(raw["asset_id"].as_str().unwrap()));
        assert_eq!(b.market, cid(raw["market"].as_str().unwrap()));
        for (side, levels) in [("bids", &b.bids), ("asks", &b.asks)] {
            let wire = raw[side].as_array().unwrap();
            assert_eq!(levels.len(), wire.len(), "line {n} {side}");
            // The wire's best is its last element; ours is the first.
            let last = wire.last().unwrap();
            assert_eq!(
                levels[0],
                lv(
                    last["price"].as_str().unwrap(),
                    last["size"].as_str().unwrap()
                ),
                "line {n} {side}"
            );
        }
        if b.tick_size.is_some() {
            with_tick += 1;
        }
        n += 1;
    }
    assert_eq!(n, 200);
    assert_eq!(
        with_tick, 1,
        "only the subscription's first book has tick_size"
    );
}

// ------------------------------------------------------------------------------------------
// Malformed input
// ------------------------------------------------------------------------------------------

fn sentinel() -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(1),
        venue_ns: None,
        kind: EventKind::BestBidAsk(BestBidAsk {
            market: None,
            token: TokenId::synthetic("sentinel", "up"),
            bid: None,
            ask: None,
            bid_size: None,
            ask_size: None,
        }),
    }
}

/// Parses a bad frame directly (not through the dispatcher, which truncates on its own) and
/// checks that nothing was appended or removed.
fn parse_err(frame: &str) -> ParseError {
    let mut out = vec![sentinel()];
    let err = polymarket::parse(frame.as_bytes(), RECV, &mut out).unwrap_err();
    assert_eq!(out, vec![sentinel()], "nothing appended for {frame}");
    err
}

/// The error is a `BadField` for `field` whose reason contains `needle`.
fn assert_bad(err: &ParseError, field: &str, needle: &str) {
    match err {
        ParseError::BadField { field: f, reason } => {
            assert_eq!(f, field, "{err}");
            assert!(reason.contains(needle), "{err:?} should mention {needle:?}");
            assert!(err.to_string().contains(field));
        }
        other => panic!("expected BadField({field}), got {other:?}"),
    }
}

/// A two-entry price_change whose second entry has `key` set to the raw JSON `value`.
fn price_change_with(key: &str, value: &str) -> String {
    let good = format!(
        r#"{{"asset_id":"{TOKEN}","price":"0.5","size":"10","side":"BUY","best_bid":"0.5","best_ask":"0.6"}}"#
    );
    let mut bad: serde_json::Value = serde_json::from_str(&good).unwrap();
    bad[key] = serde_json::from_str(value).unwrap();
    format!(
        r#"{{"market":"{MARKET}","price_changes":[{good},{bad}],"timestamp":"1789987926120","event_type":"price_change"}}"#
    )
}

#[test]
fn truncated_and_invalid_json() {
    let full = price_change_with("price", r#""0.5""#);
    for cut in [1, 10, full.len() / 2, full.len() - 1] {
        let err = parse_err(&full[..cut]);
        assert!(matches!(err, ParseError::Json(_)), "cut {cut}: {err:?}");
    }
    for bad in [
        "{",
        "nonsense",
        "PONGG",
        r#"{"event_type":"book",}"#,
        "[1, 2]",
        r#""book""#,
        &format!("{full} trailing"),
    ] {
        let err = parse_err(bad);
        assert!(matches!(err, ParseError::Json(_)), "{bad}: {err:?}");
    }
    let mut out = vec![sentinel()];
    let err = polymarket::parse(b"{\"event_type\":\"bo\xffok\"}", RECV, &mut out).unwrap_err();
    assert!(matches!(err, ParseError::Json(m) if m.contains("UTF-8")));
    assert_eq!(out.len(), 1);
}

#[test]
fn missing_and_unknown_event_type() {
    let err = parse_err(&format!(r#"{{"market":"{MARKET}","price_changes":[]}}"#));
    assert_eq!(err, ParseError::MissingField("event_type"));
    assert!(err.to_string().contains("event_type"));
    // A valid price_change entry must not leak when the event type is missing.
    let mut frame: serde_json::Value =
        serde_json::from_str(&price_change_with("price", r#""0.5""#)).unwrap();
    frame.as_object_mut().unwrap().remove("event_type");
    assert_eq!(
        parse_err(&frame.to_string()),
        ParseError::MissingField("event_type")
    );

    let err = parse_err(r#"{"event_type":"order_book_v9","market":"x"}"#);
    assert_eq!(err, ParseError::UnknownEvent("order_book_v9".into()));
    assert!(err.to_string().contains("order_book_v9"));
    assert_bad(
        &parse_err(r#"{"event_type":7}"#),
        "event_type",
        "got a number",
    );
}

#[test]
fn bad_prices_name_the_field() {
    for (value, needle) in [
        (r#""1.5""#, "outside [0, 1]"),
        (r#""-0.1""#, "outside [0, 1]"),
        (r#""0.12345""#, "0.0001 grid"),
        (r#""0.1234567""#, "0.0001 grid"),
        (r#""abc""#, "invalid character"),
        (r#""""#, "empty"),
        (r#"{"v":"0.5"}"#, "got an object"),
        ("0.5", "got a non-integer number"),
        ("[]", "got an array"),
        ("true", "got a boolean"),
    ] {
        let err = parse_err(&price_change_with("price", value));
        assert_bad(&err, "price_changes[1].price", needle);
    }
    assert_bad(
        &parse_err(&price_change_with("best_ask", r#""2""#)),
        "price_changes[1].best_ask",
        "outside [0, 1]",
    );
}

#[test]
fn bad_sizes_sides_and_ids_name_the_field() {
    assert_bad(
        &parse_err(&price_change_with("size", r#""-3""#)),
        "price_changes[1].size",
        "negative",
    );
    assert_bad(
        &parse_err(&price_change_with("size", r#""1.0000001""#)),
        "price_changes[1].size",
        "decimal places",
    );
    assert_bad(
        &parse_err(&price_change_with("side", r#""HOLD""#)),
        "price_changes[1].side",
        "neither BUY nor SELL",
    );
    assert_bad(
        &parse_err(&price_change_with("asset_id", r#""12x4""#)),
        "price_changes[1].asset_id",
        "not a decimal uint256",
    );
    assert_bad(
        &parse_err(&price_change_with("asset_id", "12345")),
        "price_changes[1].asset_id",
        "expected a string, got a number",
    );
    // 2^256 does not fit.
    assert_bad(
        &parse_err(&price_change_with(
            "asset_id",
            r#""115792089237316195423570985008687907853269984665640564039457584007913129639936""#,
        )),
        "price_changes[1].asset_id",
        "uint256",
    );
    assert_bad(
        &parse_err(&price_change_with("asset_id", "null")),
        "price_changes[1].asset_id",
        "missing",
    );
    let bad_market = price_change_with("price", r#""0.5""#).replace(MARKET, "0x1234");
    assert_bad(&parse_err(&bad_market), "market", "0x + 64 hex");
    let bad_ts = price_change_with("price", r#""0.5""#).replace("1789987926120", "17899x");
    assert_bad(&parse_err(&bad_ts), "timestamp", "invalid character");
}

#[test]
fn bad_book_levels_name_side_and_index() {
    let book = |bids: &str| {
        format!(
            r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{TOKEN}","bids":{bids},"asks":[]}}"#
        )
    };
    let ok = r#"{"price":"0.01","size":"5"}"#;
    assert_bad(
        &parse_err(&book(&format!(
            r#"[{ok},{ok},{ok},{{"price":"0.02","size":"-3"}}]"#
        ))),
        "bids[3].size",
        "negative",
    );
    assert_bad(
        &parse_err(&book(&format!(
            r#"[{ok},{{"price":"0.12345","size":"1"}}]"#
        ))),
        "bids[1].price",
        "0.0001 grid",
    );
    assert_bad(
        &parse_err(&book(r#"[{"size":"1"}]"#)),
        "bids[0].price",
        "missing",
    );
    assert_bad(&parse_err(&book(r#""none""#)), "bids", "got a string");
    assert!(matches!(parse_err(&book("[5]")), ParseError::Json(_)));
    let no_asks =
        format!(r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{TOKEN}","bids":[]}}"#);
    assert_eq!(parse_err(&no_asks), ParseError::MissingField("asks"));
}

#[test]
fn missing_top_level_fields() {
    let ltp = format!(
        r#"{{"event_type":"last_trade_price","market":"{MARKET}","price":"0.5","size":"1"}}"#
    );
    assert_eq!(parse_err(&ltp), ParseError::MissingField("asset_id"));
    assert_eq!(
        parse_err(r#"{"event_type":"price_change","market":"x"}"#),
        ParseError::MissingField("price_changes")
    );
    assert_bad(
        &parse_err(&format!(
            r#"{{"event_type":"price_change","market":"{MARKET}","price_changes":{{}}}}"#
        )),
        "price_changes",
        "expected an array, got an object",
    );
    let resolved = format!(
        r#"{{"event_type":"market_resolved","market":"{NVDA_MARKET}","assets_ids":["{YES}"],"winning_asset_id":"{YES}","winning_outcome":"Yes","timestamp":"1"}}"#
    );
    assert_eq!(parse_err(&resolved), ParseError::MissingField("id"));
    let new_market = format!(
        r#"{{"event_type":"new_market","market":"{NVDA_MARKET}","slug":"s","assets_ids":["{YES}","{NO}"],"outcomes":["Yes"]}}"#
    );
    assert_bad(
        &parse_err(&new_market),
        "outcomes",
        "1 outcomes for 2 assets_ids",
    );
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data/fixtures_rsahn_clob_ws_2026-09-21 (unlicensed, not in the repo): run scripts/test beside ../shared"
)]
fn error_in_array_frame_names_the_item_and_appends_nothing() {
    let frames = rsahn_frames();
    let good: serde_json::Value = serde_json::from_str(&frames[0].raw).unwrap();
    let mut bad = good.clone();
    bad[1]["bids"][0]["price"] = "0.12345".into();
    assert_bad(
        &parse_err(&bad.to_string()),
        "[1].bids[0].price",
        "0.0001 grid",
    );
    let mut bad = good.clone();
    bad[1].as_object_mut().unwrap().remove("asset_id");
    assert_bad(&parse_err(&bad.to_string()), "[1].asset_id", "missing");
    // An element of an unknown type is no error: it is skipped, the known one kept.
    let mut mixed = good.clone();
    mixed[1]["event_type"] = "bookz".into();
    let p = with_skips(&mixed.to_string()).unwrap();
    assert_eq!((p.0.len(), p.1.skipped), (1, 1));
    // Unknown elements only: nothing known to keep, an error as before.
    let mut bad = good;
    bad[0]["event_type"] = "bookz".into();
    bad[1]["event_type"] = "booky".into();
    assert_eq!(
        parse_err(&bad.to_string()),
        ParseError::UnknownEvent("bookz".into())
    );
}

/// `parse_with_skips` and its serde-only twin agree; returns the events and the report.
fn with_skips(frame: &str) -> Result<(Vec<MarketEvent>, polymarket::Parsed), ParseError> {
    let mut out = Vec::new();
    let mut serde_out = Vec::new();
    let fast = polymarket::parse_with_skips(frame.as_bytes(), RECV, &mut out);
    let serde = polymarket::parse_serde_with_skips(frame.as_bytes(), RECV, &mut serde_out);
    assert_eq!(fast, serde, "{frame}");
    assert_eq!(out, serde_out, "{frame}");
    fast.map(|p| {
        assert_eq!(p.events, out.len());
        (out, p)
    })
}

#[test]
fn mixed_frame_keeps_known_events_and_counts_unknown_elements() {
    let change = fixture("price_change_2024-10_real.json");
    let trade = fixture("last_trade_price_2024-08_real.json");
    let change: serde_json::Value = serde_json::from_slice(&change).unwrap();
    let trade: serde_json::Value = serde_json::from_slice(&trade).unwrap();
    // A new event type whose fields would be errors in a known event (a float timestamp, bids
    // of the wrong shape, nested objects, a price_changes entry that is not an object), a bare
    // number and a string element.
    let novel = serde_json::json!({
        "event_type": "order_book_v9",
        "market": "not a condition id",
        "timestamp": 1.5,
        "bids": {"levels": [[0.5, 10]]},
        "price_changes": [7],
        "extra": {"nested": [1, 2, {"x": null}]}
    });
    let frame = serde_json::json!([change, novel, 42, "hello", trade]).to_string();

    let expected: Vec<MarketEvent> = [change.to_string(), trade.to_string()]
        .iter()
        .flat_map(|f| parse(f.as_bytes()).unwrap())
        .collect();
    assert!(expected.len() >= 2);

    let (events, report) = with_skips(&frame).unwrap();
    assert_eq!(
        events, expected,
        "the known events, in order, as parsed alone"
    );
    assert_eq!(report.skipped, 3);
    assert_eq!(report.skipped_type.as_deref(), Some("order_book_v9"));

    // `parse` adds the skips to this thread's total.
    let before = polymarket::skipped_elements();
    assert_eq!(parse(frame.as_bytes()).unwrap(), expected);
    // (`parse` above ran twice: directly and through `Feed::parse`.)
    assert_eq!(polymarket::skipped_elements() - before, 6);
    assert_eq!(
        polymarket::last_skipped_type().as_deref(),
        Some("order_book_v9")
    );

    // Compact and pretty-printed forms agree.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&frame).unwrap())
            .unwrap();
    assert_eq!(with_skips(&pretty).unwrap(), (expected.clone(), report));

    // A single unknown event, or elements of unknown types or shapes only, keep their errors.
    assert_eq!(
        parse_err(&novel.to_string()),
        ParseError::UnknownEvent("order_book_v9".into())
    );
    assert_eq!(
        parse_err(&serde_json::json!([novel, 42]).to_string()),
        ParseError::UnknownEvent("order_book_v9".into())
    );
    assert!(matches!(
        parse_err(r#"[42, "x", [1]]"#),
        ParseError::Json(m) if m.contains("no market-channel event object")
    ));
    // A malformed known event still fails the whole frame: skipping is for unknown elements
    // only, never for bad data.
    let mut bad_trade = trade.clone();
    bad_trade["price"] = "1.5".into();
    assert_bad(
        &parse_err(&serde_json::json!([change, novel, bad_trade]).to_string()),
        "[2].price",
        "outside",
    );
    // A known event without its type is malformed, not unknown.
    let mut untyped = trade;
    untyped.as_object_mut().unwrap().remove("event_type");
    assert_bad(
        &parse_err(&serde_json::json!([change, untyped]).to_string()),
        "[1].event_type",
        "missing",
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    let err = parse_err(&format!(
        r#"{{"event_type":"best_bid_ask","asset_id":"{TOKEN}","best_bid":"0.1","best_bid":"0.2"}}"#
    ));
    assert!(
        matches!(&err, ParseError::Json(m) if m.contains("best_bid")),
        "{err:?}"
    );
}
