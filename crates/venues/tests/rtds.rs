//! Tests of the RTDS parser against every fixture in `fixtures/polymarket/rtds` (Binance
//! relay, Chainlink, TWAP 30/60 updates and backfills, the mislabelled Chainlink backfill, the
//! error envelope) and malformed input.

// A test crate: a failed `unwrap` is a test failure, and helpers outside `#[test]` fns use it too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use polyedge_core::event::{ReferenceSource, ReferenceTick};
use polyedge_core::{EventKind, Fixed18, MarketEvent, Symbol, UnixNanos};
use polyedge_venues::{Feed, ParseError, rtds};

const RTDS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/polymarket/rtds"
);

const RECV: UnixNanos = UnixNanos(1_800_000_000_000_000_001);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{RTDS}/{name}")).unwrap()
}

fn frames_2026_09_05() -> Vec<String> {
    String::from_utf8(fixture("rtds_frames_2026-09-05.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn parse(frame: &[u8]) -> Result<Vec<MarketEvent>, ParseError> {
    let mut out = Vec::new();
    let n = rtds::parse(frame, RECV, &mut out)?;
    assert_eq!(n, out.len(), "returned count = appended count");
    let mut via_feed = Vec::new();
    assert_eq!(Feed::Rtds.parse(frame, RECV, &mut via_feed), Ok(n));
    assert_eq!(via_feed, out);
    Ok(out)
}

/// Decimal text to `Fixed18`.
fn dec(s: &str) -> Fixed18 {
    Fixed18::parse(s).unwrap()
}
/// E18 integer text to `Fixed18`.
fn e18(s: &str) -> Fixed18 {
    Fixed18::parse_e18_integer(s).unwrap()
}

/// Asserts the events are exactly these `(venue ms, price)` ticks of one source/symbol.
fn assert_ticks(
    evs: &[MarketEvent],
    source: ReferenceSource,
    symbol: &str,
    backfill: bool,
    expect: &[(u64, Fixed18)],
) {
    assert_eq!(evs.len(), expect.len(), "{evs:?}");
    for (ev, &(ms, price)) in evs.iter().zip(expect) {
        assert_eq!(ev.recv_ns, RECV);
        assert_eq!(ev.venue_ns, Some(UnixNanos::from_millis(ms)));
        assert_eq!(
            ev.kind,
            EventKind::Reference(ReferenceTick {
                source,
                symbol: Symbol::new(symbol).unwrap(),
                price,
                backfill,
            })
        );
    }
}

/// Every file of the fixture folder is covered by a test below.
#[test]
fn every_rtds_fixture_is_known() {
    let mut names: Vec<String> = std::fs::read_dir(RTDS)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "crypto_prices_subscribe_backfill_2026-06.json",
            "crypto_prices_update_2026-06.json",
            "rtds_frames_2026-09-05.jsonl",
            "rtds_unknown_topic_error_2026-09-05.json",
        ]
    );
}

#[test]
fn binance_update_2026_06() {
    let evs = parse(&fixture("crypto_prices_update_2026-06.json")).unwrap();
    assert_ticks(
        &evs,
        ReferenceSource::RtdsBinance,
        "btcusdt",
        false,
        &[(1_780_730_269_000, dec("61035.86"))],
    );
    assert_eq!(
        evs[0].kind,
        EventKind::Reference(ReferenceTick {
            source: ReferenceSource::RtdsBinance,
            symbol: Symbol::new("btcusdt").unwrap(),
            price: Fixed18(61_035_860_000_000_000_000_000),
            backfill: false,
        })
    );
}

#[test]
fn binance_backfill_2026_06_from_value_numbers() {
    // No full_accuracy_value: the JSON numbers are read exactly from their text.
    let evs = parse(&fixture("crypto_prices_subscribe_backfill_2026-06.json")).unwrap();
    assert_ticks(
        &evs,
        ReferenceSource::RtdsBinance,
        "btcusdt",
        true,
        &[
            (1_780_726_209_000, dec("61164.12")),
            (1_780_726_210_000, dec("61161.07")),
            (1_780_726_211_000, dec("61150.89")),
        ],
    );
}

#[test]
fn frames_2026_09_05_binance() {
    let f = frames_2026_09_05();
    assert_eq!(f.len(), 8);
    assert_ticks(
        &parse(f[0].as_bytes()).unwrap(),
        ReferenceSource::RtdsBinance,
        "btcusdt",
        false,
        &[(1_788_600_389_000, dec("79697.73"))],
    );
    assert_ticks(
        &parse(f[1].as_bytes()).unwrap(),
        ReferenceSource::RtdsBinance,
        "btcusdt",
        true,
        &[
            (1_788_600_269_000, dec("79697.73")),
            (1_788_600_270_000, dec("79697.73")),
            (1_788_600_271_000, dec("79697.73")),
        ],
    );
}

#[test]
fn frames_2026_09_05_chainlink_update_is_e18() {
    let f = frames_2026_09_05();
    let evs = parse(f[2].as_bytes()).unwrap();
    assert_ticks(
        &evs,
        ReferenceSource::Chainlink,
        "btc/usd",
        false,
        &[(1_788_600_388_000, e18("79696948174287960000000"))],
    );
    assert_eq!(
        evs[0].kind,
        EventKind::Reference(ReferenceTick {
            source: ReferenceSource::Chainlink,
            symbol: Symbol::new("btc/usd").unwrap(),
            price: dec("79696.94817428796"),
            backfill: false,
        })
    );
}

#[test]
fn frames_2026_09_05_mislabelled_chainlink_backfill() {
    let f = frames_2026_09_05();
    assert!(
        f[3].contains(r#""topic":"crypto_prices""#),
        "server labels it Binance"
    );
    assert_ticks(
        &parse(f[3].as_bytes()).unwrap(),
        ReferenceSource::Chainlink,
        "btc/usd",
        true,
        &[
            (1_788_608_387_000, dec("79639.20029609217")),
            (1_788_608_388_000, dec("79639.18129358691")),
            (1_788_608_389_000, dec("79639.19042885714")),
        ],
    );
}

#[test]
fn frames_2026_09_05_twap_thirty() {
    let f = frames_2026_09_05();
    assert_ticks(
        &parse(f[4].as_bytes()).unwrap(),
        ReferenceSource::ChainlinkTwap30,
        "btc/usd",
        false,
        &[(1_788_600_388_000, e18("79697474565615044788224"))],
    );
    assert_ticks(
        &parse(f[5].as_bytes()).unwrap(),
        ReferenceSource::ChainlinkTwap30,
        "btc/usd",
        true,
        &[
            (1_788_600_329_000, e18("79696840994573453885440")),
            (1_788_600_330_000, e18("79696885010084155883520")),
            (1_788_600_331_000, e18("79696928978311781023744")),
        ],
    );
}

#[test]
fn frames_2026_09_05_twap_sixty() {
    let f = frames_2026_09_05();
    assert_ticks(
        &parse(f[6].as_bytes()).unwrap(),
        ReferenceSource::ChainlinkTwap60,
        "btc/usd",
        false,
        &[(1_788_600_388_000, e18("79697575317474428059648"))],
    );
    assert_ticks(
        &parse(f[7].as_bytes()).unwrap(),
        ReferenceSource::ChainlinkTwap60,
        "btc/usd",
        true,
        &[
            (1_788_608_387_000, e18("79639795829763498573824")),
            (1_788_608_388_000, e18("79639790921767903559680")),
            (1_788_608_389_000, e18("79639787357732704616448")),
        ],
    );
}

#[test]
fn unknown_topic_error_envelope() {
    let mut out = Vec::new();
    let err = rtds::parse(
        &fixture("rtds_unknown_topic_error_2026-09-05.json"),
        RECV,
        &mut out,
    )
    .unwrap_err();
    let ParseError::VenueError(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.starts_with("leger GetTopics error"), "{msg}");
    assert!(msg.contains("topic: definitely_not_a_topic and type: update not found"));
    assert!(out.is_empty());
    assert_eq!(
        parse(br#"{"statusCode":500}"#),
        Err(ParseError::VenueError("status code 500".into()))
    );
}

#[test]
fn control_frames_append_nothing() {
    for frame in [
        &b""[..],
        b" \n",
        b"pong",
        b"PONG",
        b"ping",
        b"{}",
        br#"{"action":"subscribe","status":"ok"}"#,
        br#"{"statusCode":200,"body":{"message":"subscribed"}}"#,
        br#"{"topic":"crypto_prices","type":"subscribe","timestamp":1}"#,
        br#"{"topic":"crypto_prices","type":"subscribe","payload":{"symbol":"btcusdt","data":[]}}"#,
    ] {
        assert_eq!(
            parse(frame),
            Ok(vec![]),
            "{}",
            String::from_utf8_lossy(frame)
        );
    }
}

#[test]
fn value_fallback_is_exact_and_accepts_exponents_and_strings() {
    for (value, expect) in [
        ("6.1E4", dec("61000")),
        ("1.5e-7", dec("0.00000015")),
        ("79696.94817428796", dec("79696.94817428796")),
        ("65000", dec("65000")),
        (r#""65000.5""#, dec("65000.5")),
    ] {
        let frame = format!(
            r#"{{"topic":"crypto_prices_chainlink","type":"update","timestamp":2,"payload":{{"symbol":"eth/usd","timestamp":1788600388000,"value":{value}}}}}"#
        );
        assert_ticks(
            &parse(frame.as_bytes()).unwrap(),
            ReferenceSource::Chainlink,
            "eth/usd",
            false,
            &[(1_788_600_388_000, expect)],
        );
    }
}

// ------------------------------------------------------------------------------------------
// Malformed input
// ------------------------------------------------------------------------------------------

fn sentinel() -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(1),
        venue_ns: None,
        kind: EventKind::Reference(ReferenceTick {
            source: ReferenceSource::RtdsBinance,
            symbol: Symbol::new("sentinel").unwrap(),
            price: Fixed18(1),
            backfill: false,
        }),
    }
}

fn parse_err(frame: &str) -> ParseError {
    let mut out = vec![sentinel()];
    let err = rtds::parse(frame.as_bytes(), RECV, &mut out).unwrap_err();
    assert_eq!(out, vec![sentinel()], "nothing appended for {frame}");
    err
}

fn assert_bad(err: &ParseError, field: &str, needle: &str) {
    match err {
        ParseError::BadField { field: f, reason } => {
            assert_eq!(f, field, "{err}");
            assert!(reason.contains(needle), "{err:?} should mention {needle:?}");
        }
        other => panic!("expected BadField({field}), got {other:?}"),
    }
}

fn update(topic: &str, payload: &str) -> String {
    format!(
        r#"{{"topic":"{topic}","type":"update","timestamp":1788600389154,"payload":{payload}}}"#
    )
}

#[test]
fn malformed_json_and_unknown_topics() {
    let good = &frames_2026_09_05()[5];
    for cut in [1, 20, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(parse_err(&good[..cut]), ParseError::Json(_)),
            "cut {cut}"
        );
    }
    assert!(matches!(parse_err("[1,2]"), ParseError::Json(_)));
    assert!(matches!(parse_err("hello"), ParseError::Json(_)));
    assert!(matches!(
        parse_err(r#"{"topic":"crypto_prices","type":"update","payload":5}"#),
        ParseError::Json(_)
    ));
    // Unknown topics and types: skipped and counted, not errors (forward compatibility).
    let before = polyedge_venues::unknown::skipped();
    assert_eq!(parse(update("equity_prices", "{}").as_bytes()), Ok(vec![]));
    assert!(polyedge_venues::unknown::last().contains("equity_prices"));
    assert_eq!(
        parse(br#"{"topic":"crypto_prices","type":"snapshot","payload":{}}"#),
        Ok(vec![])
    );
    assert!(polyedge_venues::unknown::last().contains("snapshot"));
    // Each parse above ran twice (direct and through Feed::parse).
    assert_eq!(polyedge_venues::unknown::skipped() - before, 4);
    assert_eq!(
        parse_err(r#"{"topic":"crypto_prices","payload":{}}"#),
        ParseError::MissingField("type")
    );
    assert_eq!(
        parse_err(r#"{"topic":"crypto_prices","type":"update"}"#),
        ParseError::MissingField("payload")
    );
}

/// Issue 15 item 3: a backfill whose data mixes known points with an element of a shape the
/// parser does not know keeps the points and counts the other; unknown fields are ignored.
#[test]
fn mixed_backfill_keeps_the_known_points() {
    let frame = frames_2026_09_05()
        .into_iter()
        .find(|f| f.contains("\"subscribe\"") && f.contains("\"data\""))
        .expect("a backfill frame");
    let known = parse(frame.as_bytes()).unwrap();
    assert!(known.len() >= 2);
    let mut v: serde_json::Value = serde_json::from_str(&frame).unwrap();
    let data = v["payload"]["data"].as_array().unwrap().clone();
    let mut mixed = vec![
        data[0].clone(),
        serde_json::json!([1_757_000_000_000_u64, "1.5"]),
    ];
    mixed.extend(data[1..].iter().cloned());
    mixed.push(serde_json::json!("a note"));
    v["payload"]["data"] = serde_json::Value::Array(mixed);
    v["payload"]["interval"] = serde_json::json!("1s");
    v["server_region"] = serde_json::json!("eu-west");
    let before = polyedge_venues::unknown::skipped();
    assert_eq!(parse(v.to_string().as_bytes()).unwrap(), known);
    assert_eq!(polyedge_venues::unknown::skipped() - before, 2 * 2);
}

proptest::proptest! {
    /// Any single-byte change, insertion or cut of any RTDS fixture frame: no panic, and the
    /// contract holds (`Ok(n)` appended exactly n events, `Err` appended nothing).
    #[test]
    fn mutated_frames_keep_the_contract(
        line in proptest::prelude::any::<proptest::sample::Index>(),
        pos in proptest::prelude::any::<proptest::sample::Index>(),
        byte in proptest::prelude::any::<u8>(),
        op in 0..3u8,
    ) {
        let mut frames: Vec<Vec<u8>> =
            frames_2026_09_05().into_iter().map(String::into_bytes).collect();
        for f in [
            "rtds_unknown_topic_error_2026-09-05.json",
            "crypto_prices_subscribe_backfill_2026-06.json",
            "crypto_prices_update_2026-06.json",
        ] {
            frames.push(fixture(f));
        }
        let mut frame = frames[line.index(frames.len())].clone();
        let at = pos.index(frame.len());
        match op {
            0 => frame[at] = byte,
            1 => frame.insert(at, byte),
            _ => frame.truncate(at),
        }
        let mut out = Vec::new();
        match rtds::parse(&frame, RECV, &mut out) {
            Ok(n) => proptest::prop_assert_eq!(n, out.len()),
            Err(_) => proptest::prop_assert!(out.is_empty()),
        }
    }
}

#[test]
fn bad_fields_name_the_field() {
    // A Chainlink value must be an E18 integer, not a decimal.
    assert_bad(
        &parse_err(&update(
            "crypto_prices_chainlink",
            r#"{"symbol":"btc/usd","timestamp":1,"full_accuracy_value":"79696.948"}"#,
        )),
        "payload.full_accuracy_value",
        "E18 integer",
    );
    assert_bad(
        &parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"btcusdt","timestamp":1,"full_accuracy_value":"79,697.73"}"#,
        )),
        "payload.full_accuracy_value",
        "invalid character",
    );
    assert_bad(
        &parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"btcusdt","timestamp":1,"value":-3.5}"#,
        )),
        "payload.value",
        "not positive",
    );
    assert_bad(
        &parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"btcusdt","timestamp":1,"value":true}"#,
        )),
        "payload.value",
        "invalid character",
    );
    assert_bad(
        &parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"btcusdt","timestamp":"soon","value":1}"#,
        )),
        "payload.timestamp",
        "invalid character",
    );
    assert_bad(
        &parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"a-symbol-much-too-long-to-keep","timestamp":1,"value":1}"#,
        )),
        "payload.symbol",
        "1-23 ASCII",
    );
    assert_eq!(
        parse_err(&update("crypto_prices", r#"{"timestamp":1,"value":1}"#)),
        ParseError::MissingField("payload.symbol")
    );
    assert_eq!(
        parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"btcusdt","value":1}"#
        )),
        ParseError::MissingField("payload.timestamp")
    );
    assert_eq!(
        parse_err(&update(
            "crypto_prices",
            r#"{"symbol":"btcusdt","timestamp":1}"#
        )),
        ParseError::MissingField("payload.value")
    );
    // A bad backfill point: nothing of the frame is appended, and the point is named.
    let backfill = r#"{"topic":"crypto_prices_twap_sixty","type":"subscribe","payload":{"symbol":"btc/usd","data":[
        {"timestamp":1,"full_accuracy_value":"1000000000000000000"},
        {"timestamp":2,"full_accuracy_value":"1.5"}]}}"#;
    assert_bad(
        &parse_err(backfill),
        "payload.data[1].full_accuracy_value",
        "E18 integer",
    );
    let no_ts = r#"{"topic":"crypto_prices","type":"subscribe","payload":{"symbol":"btcusdt","data":[{"value":1}]}}"#;
    assert_bad(&parse_err(no_ts), "payload.data[0].timestamp", "missing");
    let not_array =
        r#"{"topic":"crypto_prices","type":"subscribe","payload":{"symbol":"btcusdt","data":{}}}"#;
    assert_bad(&parse_err(not_array), "payload.data", "expected an array");
}
