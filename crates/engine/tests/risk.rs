//! Each pre-trade check rejects with a clear message; a normal order passes.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use polyedge_core::{
    Cash, Fill, Liquidity, OrderId, OrderIntent, Outcome, RejectReason, Side, Size, TimeInForce,
    UnixNanos,
};
use polyedge_engine::{Portfolio, RiskConfig};

fn msg(r: Result<(), RejectReason>) -> String {
    match r {
        Err(RejectReason::Risk(m)) => m,
        other => panic!("expected a risk reject, got {other:?}"),
    }
}

fn buy(price: &str, shares: u64) -> OrderIntent {
    buy_up(1, price, sh(shares), TimeInForce::Gtc)
}

fn hold(
    pf: &mut Portfolio,
    window: &str,
    outcome: Outcome,
    price: &str,
    size: Size,
    at: UnixNanos,
) {
    pf.apply_fill(&Fill {
        order: OrderId(99),
        window: window.to_string(),
        outcome,
        side: Side::Buy,
        price: p(price),
        size,
        fee: Cash::ZERO,
        liquidity: Liquidity::Taker,
        at,
    })
    .unwrap();
}

const NOW_S: u64 = 60;

fn now() -> UnixNanos {
    t(NOW_S, 0)
}

#[test]
fn a_normal_order_passes() {
    let rc = RiskConfig::default();
    let pf = Portfolio::new(Cash::parse("200").unwrap());
    assert_eq!(
        rc.check(&buy("0.50", 20), &window(), now(), &pf, &[]),
        Ok(())
    );
}

#[test]
fn min_time_left() {
    let rc = RiskConfig::default();
    let pf = Portfolio::new(Cash::parse("200").unwrap());
    let m = msg(rc.check(&buy("0.50", 10), &window(), t(290, 0), &pf, &[]));
    assert!(
        m.contains("10.000 s left before the end of btc-updown-5m-1776081600"),
        "{m}"
    );
    assert!(m.contains("minimum 30 s"), "{m}");
    let m = msg(rc.check(&buy("0.50", 10), &window(), t(301, 0), &pf, &[]));
    assert!(m.contains("0.000 s left"), "{m}");
    assert_eq!(
        rc.check(&buy("0.50", 10), &window(), t(270, 0), &pf, &[]),
        Ok(())
    );
}

#[test]
fn max_per_trade() {
    let rc = RiskConfig::default();
    let pf = Portfolio::new(Cash::parse("200").unwrap());
    let m = msg(rc.check(&buy("0.50", 50), &window(), now(), &pf, &[]));
    assert!(
        m.contains("order notional 25 pUSD (50 @ 0.5) exceeds the per-trade maximum 20 pUSD"),
        "{m}"
    );
}

#[test]
fn sells_must_be_covered() {
    let rc = RiskConfig::default();
    let mut pf = Portfolio::new(Cash::parse("200").unwrap());
    hold(&mut pf, SLUG, Outcome::Up, "0.40", sh(10), now());
    let sell = |n: u64| order(2, Outcome::Up, Side::Sell, "0.45", sh(n), TimeInForce::Gtc);
    assert_eq!(rc.check(&sell(10), &window(), now(), &pf, &[]), Ok(()));
    let open = [sell(6)];
    let m = msg(rc.check(&sell(5), &window(), now(), &pf, &open));
    assert!(m.contains("sell of 5 Up shares of btc-updown-5m-1776081600 exceeds the 4 held and not already offered (held 10, open sells 6)"), "{m}");
    let m = msg(rc.check(
        &order(3, Outcome::Down, Side::Sell, "0.5", sh(5), TimeInForce::Fak),
        &window(),
        now(),
        &pf,
        &[],
    ));
    assert!(m.contains("Down shares"), "{m}");
}

#[test]
fn daily_loss_limit_utc_day() {
    let rc = RiskConfig {
        daily_loss_limit: Cash::parse("10").unwrap(),
        ..RiskConfig::default()
    };
    let mut pf = Portfolio::new(Cash::parse("200").unwrap());
    // Lose 10 pUSD today in an earlier window.
    let earlier = "btc-updown-5m-1776081000";
    hold(&mut pf, earlier, Outcome::Up, "0.50", sh(20), t(0, 0));
    pf.settle(earlier, Some(Outcome::Down), t(0, 0)).unwrap();
    assert_eq!(pf.realized_on_day(now()), Cash::parse("-10").unwrap());
    let m = msg(rc.check(&buy("0.50", 10), &window(), now(), &pf, &[]));
    assert!(m.contains("realized PnL on 2026-04-13 (UTC) is -10 pUSD, at or below the daily loss limit -10 pUSD"), "{m}");
    // Sells still allowed (they reduce risk)...
    hold(&mut pf, SLUG, Outcome::Up, "0.40", sh(10), now());
    let sell = order(2, Outcome::Up, Side::Sell, "0.45", sh(10), TimeInForce::Gtc);
    assert_eq!(rc.check(&sell, &window(), now(), &pf, &[]), Ok(()));
    // ...and the next UTC day starts fresh.
    let tomorrow_slug = "btc-updown-5m-1776124800"; // 2026-04-14 00:00
    let mut w = window_at(tomorrow_slug);
    w.slug = tomorrow_slug.to_string();
    let mut o = buy("0.50", 10);
    o.window = tomorrow_slug.to_string();
    assert_eq!(
        rc.check(&o, &w, UnixNanos::from_secs(1_776_124_800 + 10), &pf, &[]),
        Ok(())
    );
}

#[test]
fn max_window_shares_counts_open_buys() {
    let rc = RiskConfig::default();
    let mut pf = Portfolio::new(Cash::parse("200").unwrap());
    hold(&mut pf, SLUG, Outcome::Up, "0.02", sh(150), now());
    let open = [buy_up(5, "0.02", sh(45), TimeInForce::Gtc)];
    let m = msg(rc.check(&buy("0.03", 10), &window(), now(), &pf, &open));
    assert!(m.contains("would hold 205 Up shares of btc-updown-5m-1776081600 (with open buys), above the per-window maximum 200"), "{m}");
    // Down shares are counted separately.
    let down = order(
        6,
        Outcome::Down,
        Side::Buy,
        "0.03",
        sh(10),
        TimeInForce::Gtc,
    );
    assert_eq!(rc.check(&down, &window(), now(), &pf, &open), Ok(()));
}

#[test]
fn max_window_cost_both_outcomes() {
    let rc = RiskConfig::default();
    let mut pf = Portfolio::new(Cash::parse("200").unwrap());
    hold(&mut pf, SLUG, Outcome::Up, "0.50", sh(20), now());
    hold(&mut pf, SLUG, Outcome::Down, "0.50", sh(10), now());
    let m = msg(rc.check(&buy("0.60", 10), &window(), now(), &pf, &[]));
    assert!(m.contains("cost in btc-updown-5m-1776081600 would be 21 pUSD (with open buys), above the per-window maximum 20 pUSD"), "{m}");
}

#[test]
fn max_total_exposure() {
    let rc = RiskConfig::default();
    let mut pf = Portfolio::new(Cash::parse("200").unwrap());
    for k in 1..=5u64 {
        let slug = format!("btc-updown-5m-{}", 1_776_081_600 + 300 * k);
        hold(&mut pf, &slug, Outcome::Up, "0.50", sh(36), now()); // 18 pUSD each → 90
    }
    let open = [buy_up(7, "0.50", sh(10), TimeInForce::Gtc)]; // +5 → 95
    let m = msg(rc.check(&buy("0.60", 10), &window(), now(), &pf, &open));
    assert!(
        m.contains("total exposure would be 101 pUSD (with open buys), above the maximum 100 pUSD"),
        "{m}"
    );
    assert_eq!(
        rc.check(&buy("0.50", 10), &window(), now(), &pf, &open),
        Ok(())
    );
}

#[test]
fn settled_window_is_refused() {
    let rc = RiskConfig::default();
    let mut pf = Portfolio::new(Cash::parse("200").unwrap());
    pf.settle(SLUG, None, now()).unwrap();
    let m = msg(rc.check(&buy("0.50", 10), &window(), now(), &pf, &[]));
    assert!(m.contains("already settled"), "{m}");
}

#[test]
fn buying_power_with_start_cash_below_the_exposure_limit() {
    // 30 pUSD of cash, exposure limit 100: the limits allow 40 pUSD of buys, the cash does not.
    let rc = RiskConfig {
        max_window_cost: Cash::parse("100").unwrap(),
        max_order_notional: Cash::parse("100").unwrap(),
        ..RiskConfig::default()
    };
    let pf = Portfolio::new(Cash::parse("30").unwrap());
    // 50 × 0.50 = 25 pUSD + taker fee 50 × 0.07 × 0.25 = 0.875: fits in 30.
    assert_eq!(
        rc.check(&buy("0.50", 50), &window(), now(), &pf, &[]),
        Ok(())
    );
    // With an open buy of 10 × 0.50 (5 + 0.175 fee) it does not: 25.875 + 5.175 > 30.
    let open = [buy_up(5, "0.50", sh(10), TimeInForce::Gtc)];
    let m = msg(rc.check(&buy("0.50", 50), &window(), now(), &pf, &open));
    assert!(
        m.contains("buying power: cash 30 pUSD is less than 31.05 pUSD"),
        "{m}"
    );
    // 60 × 0.50 = 30 pUSD: the notional alone fits, with the fee it does not.
    let m = msg(rc.check(&buy("0.50", 60), &window(), now(), &pf, &[]));
    assert!(m.contains("buying power"), "{m}");
    // Sells need no cash.
    let mut pf = Portfolio::new(Cash::ZERO);
    hold(&mut pf, SLUG, Outcome::Up, "0.40", sh(10), now());
    let sell = order(2, Outcome::Up, Side::Sell, "0.45", sh(10), TimeInForce::Gtc);
    assert_eq!(rc.check(&sell, &window(), now(), &pf, &[]), Ok(()));
}
