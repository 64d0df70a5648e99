//! Hand-built books, windows and orders for the engine tests.
#![allow(dead_code, clippy::unwrap_used)]

use polyedge_core::event::{BookSnapshot, Level};
use polyedge_core::{
    ConditionId, ExecReport, Fill, OrderId, OrderIntent, Outcome, Price, Side, Size, TimeInForce,
    TokenId, UnixNanos, Window, WindowBook,
};

/// Window start used by most tests: 2026-04-13 12:00:00 UTC (a cronos recording day).
pub const START: u64 = 1_776_081_600;
pub const SLUG: &str = "btc-updown-5m-1776081600";

pub fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

pub fn sz(s: &str) -> Size {
    Size::parse(s).unwrap()
}

pub fn sh(n: u64) -> Size {
    Size::from_shares(n)
}

pub fn ms(n: u64) -> u64 {
    n * UnixNanos::PER_MS
}

/// `START + secs` seconds + `millis` ms.
pub fn t(secs: u64, millis: u64) -> UnixNanos {
    UnixNanos(START * UnixNanos::PER_SEC + secs * UnixNanos::PER_SEC + ms(millis))
}

pub fn up_token() -> TokenId {
    TokenId::parse("1001").unwrap()
}

pub fn down_token() -> TokenId {
    TokenId::parse("1002").unwrap()
}

pub fn window() -> Window {
    window_at(SLUG)
}

pub fn window_at(slug: &str) -> Window {
    let mut w = Window::from_slug(slug).unwrap();
    w.up_token = Some(up_token());
    w.down_token = Some(down_token());
    w
}

fn levels(v: &[(&str, &str)]) -> Vec<Level> {
    v.iter()
        .map(|(price, size)| Level {
            price: p(price),
            size: sz(size),
        })
        .collect()
}

fn snapshot(token: TokenId, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> BookSnapshot {
    BookSnapshot {
        market: ConditionId::default(),
        token,
        bids: levels(bids),
        asks: levels(asks),
        hash: None,
        tick_size: None,
        last_trade_price: None,
    }
}

/// A window book whose only data is an Up-token snapshot received at `at`.
pub fn up_book(at: UnixNanos, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> WindowBook {
    let mut wb = WindowBook::new(up_token(), down_token());
    wb.book_mut(Outcome::Up)
        .apply_snapshot(&snapshot(up_token(), bids, asks), at)
        .unwrap();
    wb
}

/// A window book whose only data is a Down-token snapshot received at `at` (Up is mirrored).
pub fn down_book(at: UnixNanos, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> WindowBook {
    let mut wb = WindowBook::new(up_token(), down_token());
    wb.book_mut(Outcome::Down)
        .apply_snapshot(&snapshot(down_token(), bids, asks), at)
        .unwrap();
    wb
}

pub fn order(
    id: u64,
    outcome: Outcome,
    side: Side,
    price: &str,
    size: Size,
    tif: TimeInForce,
) -> OrderIntent {
    OrderIntent {
        id: OrderId(id),
        window: SLUG.to_string(),
        outcome,
        side,
        price: p(price),
        size,
        tif,
        post_only: false,
    }
}

pub fn buy_up(id: u64, price: &str, size: Size, tif: TimeInForce) -> OrderIntent {
    order(id, Outcome::Up, Side::Buy, price, size, tif)
}

pub fn fills(reports: &[ExecReport]) -> Vec<Fill> {
    reports
        .iter()
        .filter_map(|r| match r {
            ExecReport::Filled(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// `(price, size)` of each fill.
pub fn fill_legs(reports: &[ExecReport]) -> Vec<(Price, Size)> {
    fills(reports).iter().map(|f| (f.price, f.size)).collect()
}
