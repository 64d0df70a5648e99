//! Engine event-loop tests on hand-built events.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use polyedge_core::event::{BookSnapshot, Level};
use polyedge_core::{
    Asset, Cash, ConditionId, EventKind, ExecReport, MarketEvent, OrderId, OrderIntent, Outcome,
    Price, Side, Size, TimeInForce, TokenId, UnixNanos, Window, WindowDuration,
};
use polyedge_engine::latency::LatencyConfig;
use polyedge_engine::{EngineConfig, RunResult};
use polyedge_strategies::{
    CompleteSet, CompleteSetParams, Ctx, RandomBaseline, RandomParams, Strategy, WindowPhase,
};

const S: u64 = 1_780_000_200;

fn at_ms(ms: u64) -> UnixNanos {
    UnixNanos(S * UnixNanos::PER_SEC + ms * UnixNanos::PER_MS)
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn tok(n: u32) -> TokenId {
    TokenId::parse(&n.to_string()).unwrap()
}

fn window(k: u64, outcome: Option<Outcome>) -> Window {
    let start = S + k * 300;
    let mut w = Window::new(
        format!("btc-updown-5m-{start}"),
        Asset::Btc,
        WindowDuration::M5,
        start,
    );
    let base = u32::try_from(k).unwrap() * 2 + 1;
    w.up_token = Some(tok(base));
    w.down_token = Some(tok(base + 1));
    w.outcome = outcome;
    w
}

/// An Up-token snapshot (bid, ask) at `ms` after `S` for window `k`; crossed books are allowed,
/// which is how a complete-set discount shows through one token's book.
fn book(k: u64, ms: u64, bid: &str, ask: &str) -> MarketEvent {
    let base = u32::try_from(k).unwrap() * 2 + 1;
    MarketEvent {
        recv_ns: at_ms(ms),
        venue_ns: None,
        kind: EventKind::Book(BookSnapshot {
            market: ConditionId::default(),
            token: tok(base),
            bids: vec![Level {
                price: p(bid),
                size: Size::from_shares(100),
            }],
            asks: vec![Level {
                price: p(ask),
                size: Size::from_shares(100),
            }],
            hash: None,
            tick_size: None,
            last_trade_price: None,
        }),
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        sim: polyedge_engine::SimConfig {
            latency: LatencyConfig {
                order_latency_ms: 100,
                cancel_latency_ms: 100,
                taker_delay_enabled: false,
                taker_delay_override_ms: None,
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Records every callback's view of time; fails on any look-ahead.
struct Spy {
    max_seen: UnixNanos,
    violations: Arc<Mutex<Vec<String>>>,
    calls: Arc<Mutex<u64>>,
}

impl Spy {
    fn check(&self, ctx: &Ctx<'_>, what: &str) {
        *self.calls.lock().unwrap() += 1;
        if self.max_seen > ctx.now() {
            self.violations.lock().unwrap().push(format!(
                "{what}: saw {} > now {}",
                self.max_seen,
                ctx.now()
            ));
        }
    }
}

impl Strategy for Spy {
    fn name(&self) -> &'static str {
        "spy"
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        self.max_seen = self.max_seen.max(ev.recv_ns);
        self.check(ctx, "event");
        ctx.set_timer(UnixNanos(ctx.now().0 + 500 * UnixNanos::PER_MS));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, now: UnixNanos) {
        assert_eq!(now, ctx.now());
        self.check(ctx, "timer");
    }
    fn on_report(&mut self, ctx: &mut Ctx<'_>, _r: &ExecReport) {
        self.check(ctx, "report");
    }
    fn on_window(&mut self, ctx: &mut Ctx<'_>, _w: &Window, _ph: WindowPhase) {
        self.check(ctx, "window");
    }
}

/// Buys `shares` of `outcome` at `limit` on the first event of each active window it sees.
struct BuyOnce {
    outcome: Outcome,
    limit: &'static str,
    done: Vec<String>,
    reports: Arc<Mutex<Vec<ExecReport>>>,
}

impl BuyOnce {
    fn new(outcome: Outcome, limit: &'static str) -> Self {
        BuyOnce {
            outcome,
            limit,
            done: Vec::new(),
            reports: Arc::default(),
        }
    }
}

impl Strategy for BuyOnce {
    fn name(&self) -> &'static str {
        "buy_once"
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        let slugs: Vec<String> = ctx
            .view()
            .active_windows()
            .iter()
            .filter(|w| ctx.view().book(&w.slug).is_some())
            .map(|w| w.slug.clone())
            .filter(|s| !self.done.contains(s))
            .collect();
        for slug in slugs {
            if ctx
                .view()
                .book(&slug)
                .and_then(|b| b.best_ask(self.outcome))
                .is_none()
            {
                continue;
            }
            ctx.submit(OrderIntent {
                id: OrderId(0),
                window: slug.clone(),
                outcome: self.outcome,
                side: Side::Buy,
                price: p(self.limit),
                size: Size::from_shares(10),
                tif: TimeInForce::Fak,
                post_only: false,
            });
            self.done.push(slug);
        }
    }
    fn on_report(&mut self, _ctx: &mut Ctx<'_>, r: &ExecReport) {
        self.reports.lock().unwrap().push(r.clone());
    }
}

fn check_consistency(r: &RunResult) {
    for s in &r.strategies {
        let sum = s.window_pnl.values().fold(Cash::ZERO, |a, b| a + *b);
        assert_eq!(sum, s.net_pnl, "{}: Σ window PnL ≠ net PnL", s.name);
        assert_eq!(
            s.end_cash + s.open_cost + s.unsettled_cost,
            s.start_cash + s.net_pnl,
            "{}: cash + held ≠ start + PnL",
            s.name
        );
        assert_eq!(s.portfolio_errors, 0);
    }
}

#[test]
fn no_look_ahead_in_any_callback() {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0));
    let spy = Spy {
        max_seen: UnixNanos(0),
        violations: violations.clone(),
        calls: calls.clone(),
    };
    let events = vec![
        book(0, 1_000, "0.40", "0.44"),
        book(0, 1_200, "0.40", "0.45"),
        book(0, 1_300, "0.41", "0.45"),
        book(1, 301_000, "0.40", "0.44"),
    ];
    let r = polyedge_engine::backtest(
        config(),
        &[window(0, Some(Outcome::Up)), window(1, Some(Outcome::Down))],
        vec![Box::new(spy)],
        events,
    )
    .unwrap();
    assert_eq!(r.events, 4);
    assert!(
        *calls.lock().unwrap() > 8,
        "callbacks: {}",
        calls.lock().unwrap()
    );
    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
}

#[test]
fn order_cannot_fill_against_a_book_before_its_arrival() {
    let s = BuyOnce::new(Outcome::Up, "0.99");
    let reports = s.reports.clone();
    let events = vec![
        // Decision on this book (ask 0.44) at +10 s …
        book(0, 10_000, "0.40", "0.44"),
        // … a book received before the order arrives (+10.1 s) must not fill it …
        book(0, 10_050, "0.40", "0.50"),
        // … the first book at or after arrival does.
        book(0, 11_000, "0.40", "0.60"),
    ];
    let r = polyedge_engine::backtest(
        config(),
        &[window(0, Some(Outcome::Up))],
        vec![Box::new(s)],
        events,
    )
    .unwrap();
    let fills = &r.strategies[0].fills;
    assert_eq!(fills.len(), 1, "{:?}", reports.lock().unwrap());
    assert_eq!(fills[0].price, p("0.60"));
    assert!(fills[0].at >= at_ms(10_100));
    check_consistency(&r);
}

#[test]
fn settlement_by_outcome_field_and_unknown_excluded() {
    // Window 0: strike == final price (a tie) and the recorded outcome is Up.
    let mut w0 = window(0, Some(Outcome::Up));
    let px = polyedge_core::Fixed18::parse("100000").unwrap();
    w0.strike = Some(px);
    w0.final_price = Some(px);
    // Window 1: outcome unknown.
    let w1 = window(1, None);
    let events = vec![
        book(0, 1_000, "0.40", "0.50"),
        book(0, 2_000, "0.40", "0.50"),
        book(1, 301_000, "0.40", "0.50"),
        book(1, 302_000, "0.40", "0.50"),
    ];
    let r = polyedge_engine::backtest(
        config(),
        &[w0.clone(), w1.clone()],
        vec![Box::new(BuyOnce::new(Outcome::Up, "0.50"))],
        events,
    )
    .unwrap();
    let s = &r.strategies[0];
    assert_eq!(s.fills.len(), 2);
    let fee0 = s.fills[0].fee;
    // 10 Up @ 0.50 pays 10 at the tie: PnL = 10 − 5 − fee.
    assert_eq!(s.window_pnl[&w0.slug], Cash(5_000_000) - fee0);
    // The unknown window is excluded (only its fee is realized) and counted.
    assert_eq!(s.unsettled_windows, 1);
    assert_eq!(s.unsettled_cost, Cash(5_000_000));
    assert_eq!(s.window_pnl[&w1.slug], -s.fills[1].fee);
    assert_eq!(s.open_cost, Cash::ZERO);
    check_consistency(&r);
}

fn mixed_run() -> RunResult {
    let events = vec![
        book(0, 1_000, "0.55", "0.44"),
        book(0, 2_000, "0.55", "0.44"),
        book(0, 70_000, "0.40", "0.50"),
        book(0, 71_000, "0.41", "0.50"),
        book(0, 150_000, "0.40", "0.52"),
        book(1, 301_000, "0.45", "0.48"),
        book(1, 302_000, "0.45", "0.48"),
        book(1, 400_000, "0.55", "0.44"),
        book(1, 401_000, "0.55", "0.44"),
    ];
    polyedge_engine::backtest(
        config(),
        &[window(0, Some(Outcome::Up)), window(1, Some(Outcome::Down))],
        vec![
            Box::new(CompleteSet::new(CompleteSetParams::default())),
            Box::new(RandomBaseline::new(RandomParams {
                seed: 42,
                ..RandomParams::default()
            })),
        ],
        events,
    )
    .unwrap()
}

#[test]
fn run_is_deterministic_and_consistent() {
    let a = mixed_run();
    let b = mixed_run();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    check_consistency(&a);
    assert!(!a.strategies[1].fills.is_empty());
}

#[test]
fn complete_set_buys_both_legs_on_a_cheap_book() {
    let r = mixed_run();
    let cs = &r.strategies[0];
    assert_eq!(cs.name, "complete_set");
    let up: Vec<_> = cs
        .fills
        .iter()
        .filter(|f| f.outcome == Outcome::Up)
        .collect();
    let down: Vec<_> = cs
        .fills
        .iter()
        .filter(|f| f.outcome == Outcome::Down)
        .collect();
    assert!(!up.is_empty() && !down.is_empty(), "{:?}", cs.fills);
    assert_eq!(up[0].price, p("0.44"));
    assert_eq!(down[0].price, p("0.45"));
    let shares = |v: &[&polyedge_core::Fill]| v.iter().fold(Size::ZERO, |a, f| a + f.size);
    assert_eq!(shares(&up), shares(&down));
    // Every complete set pays $1 whatever the outcome: PnL = pairs − cost − fees > 0.
    assert!(cs.net_pnl > Cash::ZERO, "{:?}", cs.net_pnl);
    check_consistency(&r);
}

#[test]
fn complete_set_margin_tightens_with_time_left() {
    // Up ask 0.48, Down ask 1 − 0.52 = 0.48: 0.96 + taker fees ≈ 0.99494, an edge of ≈ 0.5 %:
    // below the early (2.5 %) and mid (1.5 %) margins, above the late one (0.5 %).
    let events = vec![
        book(0, 10_000, "0.52", "0.48"),
        book(0, 11_000, "0.52", "0.48"),
        book(0, 150_000, "0.52", "0.48"),
        book(0, 151_000, "0.52", "0.48"),
        book(0, 220_000, "0.52", "0.48"),
        book(0, 221_000, "0.52", "0.48"),
    ];
    let r = polyedge_engine::backtest(
        config(),
        &[window(0, Some(Outcome::Down))],
        vec![Box::new(CompleteSet::new(CompleteSetParams::default()))],
        events,
    )
    .unwrap();
    let cs = &r.strategies[0];
    assert_eq!(cs.fills.len(), 2, "{:?}", cs.fills);
    assert!(cs.fills.iter().all(|f| f.at == at_ms(221_000)));
    assert!(cs.net_pnl > Cash::ZERO);
    check_consistency(&r);
}

#[test]
fn risk_rejection_is_reported_to_the_strategy() {
    // 20 s before the end: below the default 30 s minimum time left.
    let s = BuyOnce::new(Outcome::Up, "0.99");
    let reports = s.reports.clone();
    let r = polyedge_engine::backtest(
        config(),
        &[window(0, Some(Outcome::Up))],
        vec![Box::new(s)],
        vec![book(0, 280_000, "0.40", "0.44")],
    )
    .unwrap();
    let reports = reports.lock().unwrap();
    assert!(
        matches!(
            reports.as_slice(),
            [ExecReport::Rejected {
                reason: polyedge_core::RejectReason::Risk(_),
                ..
            }]
        ),
        "{reports:?}"
    );
    assert_eq!(r.strategies[0].rejected, 1);
    assert!(r.strategies[0].fills.is_empty());
}
