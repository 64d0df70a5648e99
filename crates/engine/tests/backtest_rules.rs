//! The backtest's rules through the whole engine, on hand-built windows and books: the official
//! SDK fee cases charged on real fills, ties resolving Up and unknown outcomes excluded,
//! windows known by one token trading on the mirror, exposure tracking, and no look-ahead (a
//! strategy's view is exactly the replay of the events received up to its decision time).

#![allow(clippy::unwrap_used, clippy::unnecessary_box_returns)]

mod common;

use std::sync::{Arc, Mutex};

use common::{down_token, p, sh, up_token};
use polyedge_core::event::{BookSnapshot, Level};
use polyedge_core::fixed::parse_scaled;
use polyedge_core::{
    Cash, ConditionId, EventKind, Fixed18, MarketEvent, OrderId, OrderIntent, Outcome, Price, Side,
    Size, TimeInForce, TokenId, UnixNanos, Window, WindowBook,
};
use polyedge_engine::latency::LatencyConfig;
use polyedge_engine::{EngineConfig, RiskConfig, RunResult, SimConfig};
use polyedge_strategies::{Ctx, Strategy};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/polymarket/signing/test_vectors.json"
));

fn config() -> EngineConfig {
    EngineConfig {
        sim: SimConfig {
            latency: LatencyConfig {
                order_latency_ms: 100,
                cancel_latency_ms: 100,
                taker_delay_enabled: false,
                taker_delay_override_ms: None,
            },
            ..SimConfig::default()
        },
        // Large limits: these tests are about fills and settlement, not risk.
        risk: RiskConfig {
            max_window_shares: sh(100_000),
            max_window_cost: Cash(1_000_000_000),
            max_total_exposure: Cash(1_000_000_000),
            max_order_notional: Cash(1_000_000_000),
            daily_loss_limit: Cash(1_000_000_000),
            min_time_left_secs: 0,
        },
        ..EngineConfig::default()
    }
}

fn window(slug: &str, up: Option<TokenId>, down: Option<TokenId>) -> Window {
    let mut w = Window::from_slug(slug).unwrap();
    w.up_token = up;
    w.down_token = down;
    w
}

fn snapshot(at: UnixNanos, token: TokenId, bid: (&str, &str), ask: (&str, &str)) -> MarketEvent {
    let lv = |(price, size): (&str, &str)| Level {
        price: p(price),
        size: Size::parse(size).unwrap(),
    };
    MarketEvent {
        recv_ns: at,
        venue_ns: None,
        kind: EventKind::Book(BookSnapshot {
            market: ConditionId::default(),
            token,
            bids: vec![lv(bid)],
            asks: vec![lv(ask)],
            hash: None,
            tick_size: None,
            last_trade_price: None,
        }),
    }
}

/// Buys `size` of `outcome` at limit `limit` (FOK) on the first event of its window.
struct Buyer {
    name: &'static str,
    slug: String,
    outcome: Outcome,
    limit: Price,
    size: Size,
    done: bool,
}

impl Strategy for Buyer {
    fn name(&self) -> &str {
        self.name
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        if self.done
            || !ctx
                .view()
                .active_windows()
                .iter()
                .any(|w| w.slug == self.slug)
        {
            return;
        }
        self.done = true;
        ctx.submit(OrderIntent {
            id: OrderId(0),
            window: self.slug.clone(),
            outcome: self.outcome,
            side: Side::Buy,
            price: self.limit,
            size: self.size,
            tif: TimeInForce::Fok,
            post_only: false,
        });
    }
}

fn buyer(name: &'static str, slug: &str, outcome: Outcome, limit: &str, size: Size) -> Box<Buyer> {
    Box::new(Buyer {
        name,
        slug: slug.to_string(),
        outcome,
        limit: p(limit),
        size,
        done: false,
    })
}

fn check_identities(r: &RunResult) {
    for s in &r.strategies {
        let sum = s.window_pnl.values().fold(Cash::ZERO, |a, b| a + *b);
        assert_eq!(sum, s.net_pnl, "{}", s.name);
        assert_eq!(
            s.end_cash + s.open_cost + s.unsettled_cost,
            s.start_cash + s.net_pnl,
            "{}",
            s.name
        );
        assert_eq!(s.portfolio_errors, 0, "{}", s.name);
    }
}

/// JSON number → its decimal text.
fn dec(v: &serde_json::Value) -> String {
    v.to_string()
}

#[test]
fn official_sdk_fee_cases_are_what_fills_pay() {
    // The vectors' schedule (rate 0.25, exponent 2) is the one the fee regime applies to
    // 15-minute windows in January 2026; each case is bought through the whole engine.
    let json: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let cases = json["fees_official"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for (k, c) in cases.iter().enumerate() {
        let start = 1_768_003_200 + 900 * k as u64; // 2026-01-10, one 15m window per case
        let slug = format!("btc-updown-15m-{start}");
        let price = dec(&c["price"]);
        let shares = Size::parse(&dec(&c["shares"])).unwrap();
        let at = UnixNanos::from_secs(start + 10);
        let events = vec![
            snapshot(at, up_token(), ("0.001", "1"), (&price, "1000")),
            snapshot(
                UnixNanos(at.0 + UnixNanos::PER_SEC),
                up_token(),
                ("0.001", "1"),
                (&price, "1000"),
            ),
        ];
        let r = polyedge_engine::backtest(
            config(),
            &[window(&slug, Some(up_token()), Some(down_token()))],
            vec![buyer("b", &slug, Outcome::Up, &price, shares)],
            events,
        )
        .unwrap();
        let s = &r.strategies[0];
        assert_eq!(s.fills.len(), 1, "case {c}: {:?}", s.orders);
        // The exact fee rounded half-to-even to 5 decimals (the venue's precision).
        let exact = parse_scaled(&dec(&c["fee"]), 18).unwrap();
        let unit = 10_000_000_000_000i128; // 1e-5 in 1e-18 units
        let (q, rem) = (exact / unit, exact % unit);
        let q = if 2 * rem > unit || (2 * rem == unit && q % 2 == 1) {
            q + 1
        } else {
            q
        };
        assert_eq!(s.fills[0].fee, Cash(i64::try_from(q * 10).unwrap()), "{c}");
        assert_eq!(s.fees, s.fills[0].fee);
        check_identities(&r);
    }
}

#[test]
fn a_tie_resolves_up_and_an_unknown_outcome_is_excluded_and_counted() {
    let s0 = 1_776_081_600;
    let (a, b) = (
        format!("btc-updown-5m-{s0}"),
        format!("btc-updown-5m-{}", s0 + 300),
    );
    let mut w0 = window(&a, Some(up_token()), Some(down_token()));
    let px = Fixed18::parse("74000.5").unwrap();
    w0.strike = Some(px);
    w0.final_price = Some(px);
    // The resolver's rule: end ≥ start → Up. A tie is Up.
    w0.outcome = Some(Outcome::from_prices(px, px));
    assert_eq!(w0.outcome, Some(Outcome::Up));
    let (u2, d2) = (
        TokenId::parse("2001").unwrap(),
        TokenId::parse("2002").unwrap(),
    );
    let w1 = window(&b, Some(u2), Some(d2)); // outcome unknown
    let t = |s: u64| UnixNanos::from_secs(s);
    let events = vec![
        snapshot(t(s0 + 5), up_token(), ("0.40", "500"), ("0.50", "500")),
        snapshot(t(s0 + 6), up_token(), ("0.40", "500"), ("0.50", "500")),
        snapshot(t(s0 + 305), u2, ("0.40", "500"), ("0.50", "500")),
        snapshot(t(s0 + 306), u2, ("0.40", "500"), ("0.50", "500")),
    ];
    let r = polyedge_engine::backtest(
        config(),
        &[w0, w1],
        vec![
            buyer("up", &a, Outcome::Up, "0.50", sh(10)),
            // Down at 1 − best Up bid = 0.60.
            buyer("down", &a, Outcome::Down, "0.60", sh(10)),
            buyer("unknown", &b, Outcome::Up, "0.50", sh(10)),
        ],
        events,
    )
    .unwrap();
    let (up, down, unk) = (&r.strategies[0], &r.strategies[1], &r.strategies[2]);
    // Up holders are paid $1 a share at the tie: 10 − 5 − fee.
    assert_eq!(up.net_pnl, Cash(5_000_000) - up.fees);
    assert!(up.fees > Cash::ZERO);
    // Down holders get nothing: −6 − fee.
    assert_eq!(down.net_pnl, Cash(-6_000_000) - down.fees);
    // The unknown window: positions out at cost, only the fee realized, counted.
    assert_eq!(unk.unsettled_windows, 1);
    assert_eq!(unk.unsettled_cost, Cash(5_000_000));
    assert_eq!(unk.net_pnl, -unk.fees);
    assert_eq!(unk.window_pnl[&b], -unk.fees);
    check_identities(&r);
}

#[test]
fn a_window_known_by_one_token_trades_on_the_mirror() {
    let s0 = 1_776_081_600;
    let slug = format!("btc-updown-5m-{s0}");
    // Only the Down token is known (as in most cronos windows).
    let w = window(&slug, None, Some(down_token()));
    let t = |ms: u64| UnixNanos(s0 * UnixNanos::PER_SEC + ms * UnixNanos::PER_MS);
    let events = vec![
        snapshot(t(5_000), down_token(), ("0.40", "50"), ("0.44", "50")),
        snapshot(t(6_000), down_token(), ("0.40", "50"), ("0.44", "50")),
    ];
    let mut w_out = w.clone();
    w_out.outcome = Some(Outcome::Up);
    let r = polyedge_engine::backtest(
        config(),
        &[w_out], // Up ask = 1 − Down bid = 0.60.
        vec![buyer("up", &slug, Outcome::Up, "0.99", sh(10))],
        events,
    )
    .unwrap();
    let s = &r.strategies[0];
    assert_eq!(s.fills.len(), 1, "{:?}", s.orders);
    assert_eq!(s.fills[0].price, p("0.60"));
    assert_eq!(s.fills[0].outcome, Outcome::Up);
    assert_eq!(s.net_pnl, Cash(4_000_000) - s.fees);
    check_identities(&r);
}

#[test]
fn exposure_is_the_open_cost_over_time() {
    let s0 = 1_776_081_600;
    let slug = format!("btc-updown-5m-{s0}");
    let mut w = window(&slug, Some(up_token()), Some(down_token()));
    w.outcome = Some(Outcome::Down);
    let t = |ms: u64| UnixNanos(s0 * UnixNanos::PER_SEC + ms * UnixNanos::PER_MS);
    let events = vec![
        snapshot(t(0), up_token(), ("0.40", "50"), ("0.50", "50")),
        snapshot(t(100_000), up_token(), ("0.40", "50"), ("0.50", "50")),
        snapshot(t(200_000), up_token(), ("0.40", "50"), ("0.50", "50")),
    ];
    let r = polyedge_engine::backtest(
        config(),
        &[w.clone()],
        vec![buyer("up", &slug, Outcome::Up, "0.50", sh(10))],
        events,
    )
    .unwrap();
    let s = &r.strategies[0];
    assert_eq!(r.first_event_ns, Some(t(0)));
    assert_eq!(r.end_ns, w.end);
    // Decided at t(0), arrives after 100 ms and fills on the book in force then (t(0)'s).
    assert_eq!(s.fills[0].at, t(100));
    assert_eq!(s.max_open_cost, Cash(5_000_000));
    // 5 pUSD held from the fill to the window end, then settled (0 open).
    assert_eq!(
        s.open_cost_integral,
        5_000_000i128 * i128::from(w.end.0 - t(100).0)
    );
    assert_eq!(s.equity.last().unwrap().window, slug);
    check_identities(&r);
}

/// What a callback saw: its time, the best Up bid and ask.
type Seen = (UnixNanos, Option<Price>, Option<Price>);

/// Records the best bid/ask of the Up book it sees at each callback, with the time.
struct Peeker {
    slug: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Peeker {
    fn look(&self, ctx: &Ctx<'_>) {
        let b = ctx.view().book(&self.slug);
        self.seen.lock().unwrap().push((
            ctx.now(),
            b.and_then(|b| b.best_bid(Outcome::Up))
                .map(|l| l.level.price),
            b.and_then(|b| b.best_ask(Outcome::Up))
                .map(|l| l.level.price),
        ));
    }
}

impl Strategy for Peeker {
    fn name(&self) -> &'static str {
        "peeker"
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        self.look(ctx);
        // Ask to be woken between this event and the next (and past the last).
        ctx.set_timer(UnixNanos(ctx.now().0 + 250 * UnixNanos::PER_MS));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _now: UnixNanos) {
        self.look(ctx);
    }
}

#[test]
fn a_strategy_sees_exactly_the_events_received_up_to_now() {
    let s0 = 1_776_081_600;
    let slug = format!("btc-updown-5m-{s0}");
    let mut w = window(&slug, Some(up_token()), Some(down_token()));
    w.outcome = Some(Outcome::Up);
    let t = |ms: u64| UnixNanos(s0 * UnixNanos::PER_SEC + ms * UnixNanos::PER_MS);
    // The ask jumps from 0.50 to 0.90 at 1.5 s: knowing it early would be worth a lot.
    let asks = ["0.50", "0.51", "0.90", "0.91", "0.52"];
    let events: Vec<MarketEvent> = asks
        .iter()
        .enumerate()
        .map(|(i, a)| {
            snapshot(
                t(500 * i as u64 + 500),
                up_token(),
                ("0.30", "10"),
                (a, "10"),
            )
        })
        .collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let r = polyedge_engine::backtest(
        config(),
        &[w.clone()],
        vec![Box::new(Peeker {
            slug: slug.clone(),
            seen: seen.clone(),
        })],
        events.clone(),
    )
    .unwrap();
    assert_eq!(r.events, events.len() as u64);
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2 * events.len(), "{}", seen.len());
    // The reference: a fresh book fed only the events received at or before each time.
    for (now, bid, ask) in seen.iter() {
        let mut reference = WindowBook::new(up_token(), down_token());
        for e in events.iter().filter(|e| e.recv_ns <= *now) {
            reference.apply(e).unwrap();
        }
        let rb = reference.best_bid(Outcome::Up).map(|l| l.level.price);
        let ra = reference.best_ask(Outcome::Up).map(|l| l.level.price);
        assert_eq!((*bid, *ask), (rb, ra), "at {now}");
    }
    // In particular, just before the jump the strategy saw 0.51, never 0.90.
    let before: Vec<_> = seen
        .iter()
        .filter(|(now, _, _)| *now < t(1_500))
        .map(|x| x.2)
        .collect();
    assert!(!before.is_empty());
    assert!(before.iter().all(|a| *a != Some(p("0.90"))), "{before:?}");
}
