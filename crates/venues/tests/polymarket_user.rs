//! Tests of the Polymarket user-channel parser against every fixture in
//! `fixtures/polymarket/ws_user` (placement, cancellation, a killed FOK, a venue cancel, four
//! trades from taker and maker side), mixed known/unknown frames, bad fields and mutations.

// A test crate: a failed `unwrap` is a test failure, and helpers outside `#[test]` fns use it too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use polyedge_core::{Price, Side, Size, UnixNanos};
use polyedge_venues::ParseError;
use polyedge_venues::polymarket_user::{
    OrderEventType, OrderStatus, TradeStatus, TraderSide, UserEvent, parse,
};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/polymarket/ws_user"
);

const RECV: UnixNanos = UnixNanos(1_800_000_000_000_000_001);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap()
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn one(frame: &[u8]) -> UserEvent {
    let mut out = Vec::new();
    assert_eq!(parse(frame, RECV, &mut out).unwrap(), 1);
    out.pop().unwrap()
}

fn price(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn size(s: &str) -> Size {
    Size::parse(s).unwrap()
}

#[test]
fn every_fixture_parses_to_one_event() {
    let all = all_fixtures();
    assert_eq!(
        all.len(),
        8,
        "the fixtures folder changed: update this test"
    );
    for (name, bytes) in &all {
        let e = one(bytes);
        let is_order = matches!(e, UserEvent::Order(_));
        assert_eq!(is_order, name.starts_with("order_"), "{name}");
    }
}

#[test]
fn placement_is_exact() {
    let UserEvent::Order(o) = one(&fixture("order_PLACEMENT_2024-09_real.json")) else {
        panic!("not an order")
    };
    assert_eq!(
        o.order_id,
        "0x0f76f4dc6eaf3332f4100f2e8a0b4a927351dd64646b7bb12f37df775c657a78"
    );
    assert_eq!(o.event, OrderEventType::Placement);
    assert_eq!(o.status, OrderStatus::Live);
    assert_eq!(o.side, Side::Buy);
    assert_eq!(o.price, price("0.513"));
    assert_eq!(o.original_size, size("5"));
    assert_eq!(o.size_matched, Size::ZERO);
    assert_eq!(o.order_type.as_deref(), Some("GTC"));
    assert_eq!(o.outcome.as_deref(), Some("Yes"));
    assert!(o.associate_trades.is_empty(), "null associate_trades: none");
    // created_at is seconds, timestamp milliseconds.
    assert_eq!(o.created_at, Some(UnixNanos(1_725_842_520_000_000_000)));
    assert_eq!(o.venue_ns, Some(UnixNanos(1_725_842_520_990_000_000)));
    assert_eq!(o.recv_ns, RECV);
}

#[test]
fn a_killed_fok_keeps_its_reason_and_empty_strings_are_absent_values() {
    let UserEvent::Order(o) = one(&fixture("order_fok_killed_2026-05_anonymized.json")) else {
        panic!("not an order")
    };
    assert_eq!(o.event, OrderEventType::Cancellation);
    assert_eq!(
        o.status,
        OrderStatus::Canceled(Some(
            "order couldn't be fully filled. FOK orders are fully filled or killed.".into()
        ))
    );
    assert_eq!(o.size_matched, Size::ZERO, "\"\" size_matched is 0");
    assert_eq!(o.created_at, None, "\"\" created_at is absent");
    assert_eq!(o.outcome, None, "\"\" outcome is absent");
    let UserEvent::Order(v) = one(&fixture(
        "order_INVALID_venue_cancel_2026-03_anonymized.json",
    )) else {
        panic!("not an order")
    };
    assert_eq!(v.status, OrderStatus::Invalid);
}

#[test]
fn trades_from_taker_and_maker_side() {
    let UserEvent::Trade(t) = one(&fixture("trade_1.json")) else {
        panic!("not a trade")
    };
    assert_eq!(t.trade_id, "83b5c849-620e-4c23-b63b-2e779c04a6e7");
    assert_eq!(t.maker_orders.len(), 6);
    let total = t
        .maker_orders
        .iter()
        .fold(Size::ZERO, |a, m| a.saturating_add(m.matched_amount));
    assert_eq!(total, t.size, "the maker orders add up to the trade's size");
    assert!(
        t.maker_orders.iter().all(|m| m.side.is_none()),
        "trade_1 gives no maker side"
    );
    // trade_3: our resting order was hit; our fill is the maker_orders entry.
    let UserEvent::Trade(m) = one(&fixture("trade_3.json")) else {
        panic!("not a trade")
    };
    assert_eq!(m.trader_side, Some(TraderSide::Maker));
    assert_eq!(m.status, TradeStatus::Confirmed);
    assert_eq!((m.side, m.price), (Side::Buy, price("0.49")));
    let ours = &m.maker_orders[0];
    assert_eq!(ours.side, Some(Side::Buy));
    assert_eq!(ours.price, price("0.513"));
    assert_eq!(ours.matched_amount, size("5"));
    assert_eq!(ours.outcome.as_deref(), Some("Yes"));
    assert_eq!(m.match_time, Some(UnixNanos(1_762_776_367_000_000_000)));
    // A trade timestamp in seconds is read as seconds.
    assert_eq!(m.venue_ns, Some(UnixNanos(1_762_776_436_000_000_000)));
    assert_eq!(m.fee_rate_bps, Some(0));
}

#[test]
fn a_frame_mixing_known_and_unknown_events_keeps_the_known_ones() {
    let order = String::from_utf8(fixture("order_PLACEMENT_2024-09_real.json")).unwrap();
    let trade = String::from_utf8(fixture("trade_2.json")).unwrap();
    let frame = format!(
        r#"[{order},{{"event_type":"position_update","market":"0x1","size":"3"}},{trade}]"#
    );
    let before = polyedge_venues::unknown::skipped();
    let mut out = Vec::new();
    assert_eq!(parse(frame.as_bytes(), RECV, &mut out).unwrap(), 2);
    assert!(matches!(out[0], UserEvent::Order(_)) && matches!(out[1], UserEvent::Trade(_)));
    assert_eq!(polyedge_venues::unknown::skipped() - before, 1);
    assert!(polyedge_venues::unknown::last().contains("position_update"));
    // A status the parser does not know is kept and counted, not an error.
    let newer = order.replace("\"LIVE\"", "\"LIVE_DELAYED\"");
    let UserEvent::Order(o) = one(newer.as_bytes()) else {
        panic!("not an order")
    };
    assert_eq!(o.status, OrderStatus::Other("LIVE_DELAYED".into()));
}

#[test]
fn heartbeats_and_empty_arrays_append_nothing() {
    for f in ["PONG", "  PONG\n", "[]", ""] {
        let mut out = Vec::new();
        assert_eq!(parse(f.as_bytes(), RECV, &mut out).unwrap(), 0, "{f:?}");
        assert!(out.is_empty());
    }
}

fn err(frame: &str) -> ParseError {
    let mut out = vec![one(&fixture("trade_4.json"))];
    let e = parse(frame.as_bytes(), RECV, &mut out).unwrap_err();
    assert_eq!(
        out.len(),
        1,
        "an error leaves earlier events alone and appends nothing"
    );
    e
}

#[test]
fn bad_fields_name_the_field() {
    let order = String::from_utf8(fixture("order_PLACEMENT_2024-09_real.json")).unwrap();
    let trade = String::from_utf8(fixture("trade_3.json")).unwrap();
    let cases = [
        (order.replace("\"0.513\"", "\"1.5\""), "price"),
        (order.replace("\"BUY\"", "\"HOLD\""), "side"),
        (
            order.replace("\"original_size\": \"5\"", "\"original_size\": \"-5\""),
            "original_size",
        ),
        (
            order.replace("\"original_size\": \"5\"", "\"original_size\": \"1e99\""),
            "original_size",
        ),
        (
            order.replace(
                "\"timestamp\": \"1725842520990\"",
                "\"timestamp\": \"soon\"",
            ),
            "timestamp",
        ),
        (
            trade.replace("\"matched_amount\": \"5\"", "\"matched_amount\": \"x\""),
            "maker_orders[0].matched_amount",
        ),
        (
            trade.replace(
                "\"fee_rate_bps\": \"0\",\n  \"id\"",
                "\"fee_rate_bps\": \"20000\",\n  \"id\"",
            ),
            "fee_rate_bps",
        ),
        (trade.replace("\"MAKER\"", "\"NEITHER\""), "trader_side"),
    ];
    for (frame, field) in cases {
        assert_ne!(frame, order, "the replacement for {field} matched nothing");
        match err(&frame) {
            ParseError::BadField { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // In an array frame the element's index is named.
    match err(&format!(
        "[{order},{}]",
        order.replace("\"0.513\"", "\"2\"")
    )) {
        ParseError::BadField { field, .. } => assert_eq!(field, "[1].price"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err(&order.replace("\"id\":", "\"idx\":")),
        ParseError::MissingField("id")
    ));
    assert!(matches!(
        err("{\"market\":\"0x1\"}"),
        ParseError::MissingField("event_type")
    ));
    assert!(matches!(err("{\"event_type\":"), ParseError::Json(_)));
    assert!(matches!(err("42"), ParseError::Json(_)));
}

proptest::proptest! {
    /// Any single-byte change, insertion or cut of any fixture: no panic, and the contract holds
    /// (`Ok(n)` appended exactly n events, `Err` appended nothing).
    #[test]
    fn mutated_frames_keep_the_contract(
        file in proptest::prelude::any::<proptest::sample::Index>(),
        pos in proptest::prelude::any::<proptest::sample::Index>(),
        byte in proptest::prelude::any::<u8>(),
        op in 0..3u8,
    ) {
        let all = all_fixtures();
        let mut frame = all[file.index(all.len())].1.clone();
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
