//! Circuit breakers, deployment phases and the kill switch (issue 10 item 5), through the engine's
//! step API with an executor that fills, rejects, fails and cancels as a script says — so the
//! properties hold whatever the venue does, not only for the simulator's fill model:
//!
//! * no sequence of prices, fills and rejections makes the engine exceed a configured limit
//!   (per trade, per window cost and shares, total exposure, open orders, concurrent positions);
//! * after the kill switch no order rests (once the executor has answered the cancels) and none
//!   is placed.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use polyedge_core::event::{BookSnapshot, Level, ReferenceSource, ReferenceTick};
use polyedge_core::{
    Asset, Cash, ConditionId, EventKind, ExecReport, Fill, Fixed18, Liquidity, MarketEvent,
    OrderId, OrderIntent, Outcome, Price, RejectReason, Side, Size, Symbol, TimeInForce, TokenId,
    UnixNanos, Window, WindowBook, WindowDuration,
};
use polyedge_engine::{
    BreakerConfig, BreakerKind, Deployment, DeploymentPhase, Engine, EngineConfig, ExecError,
    Executor, ExecutorKind, Input, Resolution, RiskApproved, RiskConfig,
};
use polyedge_strategies::{Ctx, Strategy};
use proptest::prelude::*;

const S: u64 = 1_780_000_200;

fn at(s: u64) -> UnixNanos {
    UnixNanos((S + s) * 1_000_000_000)
}

fn tok(n: u32) -> TokenId {
    TokenId::parse(&n.to_string()).unwrap()
}

fn window(k: u64) -> Window {
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
    w
}

fn px(micros: u32) -> Price {
    Price::from_micros(micros).unwrap()
}

/// A one-level book of window `k`'s Up token at `bid`/`bid + spread` (cents).
fn book(k: u64, s: u64, bid_cents: u32, spread_cents: u32) -> Input {
    let base = u32::try_from(k).unwrap() * 2 + 1;
    let lv = |c: u32| Level {
        price: px(c * 10_000),
        size: Size::from_shares(500),
    };
    Input::Market(MarketEvent {
        recv_ns: at(s),
        venue_ns: None,
        kind: EventKind::Book(BookSnapshot {
            market: ConditionId::default(),
            token: tok(base),
            bids: vec![lv(bid_cents)],
            asks: vec![lv((bid_cents + spread_cents).min(99))],
            hash: None,
            tick_size: None,
            last_trade_price: None,
        }),
    })
}

fn chainlink(s: u64, price: &str) -> Input {
    Input::Market(MarketEvent {
        recv_ns: at(s),
        venue_ns: Some(at(s)),
        kind: EventKind::Reference(ReferenceTick {
            source: ReferenceSource::Chainlink,
            symbol: Symbol::new("btc/usd").unwrap(),
            price: Fixed18::parse(price).unwrap(),
            backfill: false,
        }),
    })
}

/// What the scripted venue saw.
#[derive(Debug, Default)]
struct VenueLog {
    /// (time, order) of every order that reached the executor.
    submitted: Vec<(UnixNanos, OrderIntent)>,
    /// Orders the engine asked to cancel.
    cancels: Vec<OrderId>,
}

/// An executor whose answers come from a script of bytes: on every market update or poll each
/// working order is filled whole or in part, rejected, cancelled by the venue, or left alone;
/// some submits fail (venue unavailable). Fills are at the order's limit price with no fee.
struct Scripted {
    script: Vec<u8>,
    pos: usize,
    working: BTreeMap<OrderId, (OrderIntent, bool)>,
    cancel_asked: Vec<OrderId>,
    log: Arc<Mutex<VenueLog>>,
}

impl Scripted {
    fn next(&mut self) -> u8 {
        if self.script.is_empty() {
            return 0;
        }
        let b = self.script[self.pos % self.script.len()];
        self.pos += 1;
        b
    }

    fn step(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>) {
        for id in std::mem::take(&mut self.cancel_asked) {
            if let Some((o, _)) = self.working.remove(&id) {
                out.push(ExecReport::Cancelled {
                    order: id,
                    unfilled: o.size,
                    at: now,
                });
            }
        }
        let ids: Vec<OrderId> = self.working.keys().copied().collect();
        for id in ids {
            let b = self.next() % 8;
            let (o, acked) = self.working.get(&id).cloned().unwrap();
            if !acked {
                out.push(ExecReport::Accepted { order: id, at: now });
                self.working.get_mut(&id).unwrap().1 = true;
            }
            let fill = |size: Size| {
                ExecReport::Filled(Fill {
                    order: id,
                    window: o.window.clone(),
                    outcome: o.outcome,
                    side: o.side,
                    price: o.price,
                    size,
                    fee: Cash::ZERO,
                    liquidity: Liquidity::Maker,
                    at: now,
                })
            };
            match b {
                4 => {
                    out.push(fill(o.size));
                    self.working.remove(&id);
                }
                5 => {
                    let half = Size::from_micros(o.size.micros() / 2);
                    if half.is_zero() {
                        continue;
                    }
                    out.push(fill(half));
                    self.working.get_mut(&id).unwrap().0.size = o.size.saturating_sub(half);
                }
                6 => {
                    out.push(ExecReport::Rejected {
                        order: id,
                        reason: RejectReason::Other("venue busy".into()),
                        at: now,
                    });
                    self.working.remove(&id);
                }
                7 => {
                    out.push(ExecReport::Cancelled {
                        order: id,
                        unfilled: o.size,
                        at: now,
                    });
                    self.working.remove(&id);
                }
                _ => {}
            }
        }
    }
}

impl Executor for Scripted {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Live
    }

    fn submit(
        &mut self,
        order: RiskApproved,
        _window: &Window,
        _book: &WindowBook,
        now: UnixNanos,
    ) -> Result<(), ExecError> {
        if self.next() % 11 == 10 {
            return Err(ExecError::Unavailable("scripted outage".into()));
        }
        let o = order.into_intent();
        self.log.lock().unwrap().submitted.push((now, o.clone()));
        self.working.insert(o.id, (o, false));
        Ok(())
    }

    fn cancel(&mut self, order: OrderId, _now: UnixNanos) {
        self.log.lock().unwrap().cancels.push(order);
        self.cancel_asked.push(order);
    }

    fn market_update(
        &mut self,
        _window: &str,
        _book: &WindowBook,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        self.step(now, out);
    }

    fn poll(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>) {
        self.step(now, out);
    }

    fn next_wakeup(&self) -> Option<UnixNanos> {
        None
    }

    fn open_orders(&self) -> Vec<OrderIntent> {
        self.working.values().map(|(o, _)| o.clone()).collect()
    }
}

/// Buys (and sometimes sells) whatever its script says on every event: random window, outcome,
/// price and size, often far beyond every limit.
struct Greedy {
    script: Vec<u8>,
    pos: usize,
    slugs: Vec<String>,
}

impl Greedy {
    fn next(&mut self) -> u8 {
        let b = self.script[self.pos % self.script.len()];
        self.pos += 1;
        b
    }
}

impl Strategy for Greedy {
    fn name(&self) -> &'static str {
        "greedy"
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        for _ in 0..(self.next() % 4) {
            let pick = usize::from(self.next()) % self.slugs.len();
            let slug = self.slugs[pick].clone();
            if ctx.view().window(&slug).is_none() {
                continue;
            }
            let outcome = if self.next().is_multiple_of(2) {
                Outcome::Up
            } else {
                Outcome::Down
            };
            let side = if self.next().is_multiple_of(5) {
                Side::Sell
            } else {
                Side::Buy
            };
            let price = px(u32::from(self.next() % 98 + 1) * 10_000);
            let size = Size::from_shares(u64::from(self.next()) % 120 + 5);
            ctx.submit(OrderIntent {
                id: OrderId(0),
                window: slug,
                outcome,
                side,
                price,
                size,
                tif: TimeInForce::Gtc,
                post_only: false,
            });
        }
    }
}

fn limits() -> EngineConfig {
    EngineConfig {
        start_cash: Cash(2_000_000_000),
        risk: RiskConfig {
            max_window_shares: Size::from_shares(150),
            max_window_cost: Cash(60_000_000),
            max_total_exposure: Cash(140_000_000),
            max_order_notional: Cash(40_000_000),
            daily_loss_limit: Cash(1_000_000_000),
            min_time_left_secs: 0,
        },
        breakers: BreakerConfig {
            max_open_orders: 6,
            max_concurrent_positions: 2,
            stale_data_secs: 0,
            max_mid_jump: Price::ZERO,
            max_reference_jump_bps: 0,
            max_spread: Price::ZERO,
            ..BreakerConfig::recommended()
        },
        ..EngineConfig::default()
    }
}

fn engine(cfg: EngineConfig, strat: Vec<u8>, venue: Vec<u8>) -> (Engine, Arc<Mutex<VenueLog>>) {
    let log = Arc::new(Mutex::new(VenueLog::default()));
    let windows: Vec<Window> = (0..4).map(window).collect();
    let greedy = Greedy {
        script: strat,
        pos: 0,
        slugs: windows.iter().map(|w| w.slug.clone()).collect(),
    };
    let exec = Scripted {
        script: venue,
        pos: 0,
        working: BTreeMap::new(),
        cancel_asked: Vec::new(),
        log: log.clone(),
    };
    let mut e = Engine::new(cfg, vec![(Box::new(greedy), Box::new(exec))]).unwrap();
    for w in windows {
        e.process(Input::WindowListed {
            window: Box::new(w),
            at: at(0),
        });
    }
    (e, log)
}

/// Every configured limit, checked on the engine's own state.
fn assert_within(e: &Engine, cfg: &EngineConfig) -> Result<(), TestCaseError> {
    let r = &cfg.risk;
    let p = e.portfolio(0).unwrap();
    let open = e.open_orders(0);
    let buys = |f: &dyn Fn(&OrderIntent) -> bool| {
        open.iter()
            .filter(|o| o.side == Side::Buy && f(o))
            .fold(Cash::ZERO, |a, o| a + o.price.notional(o.size))
    };
    prop_assert!(
        open.len() <= cfg.breakers.max_open_orders,
        "open orders {}",
        open.len()
    );
    let total = p.open_cost() + buys(&|_| true);
    prop_assert!(total <= r.max_total_exposure, "total exposure {total}");
    let mut held = std::collections::BTreeSet::new();
    for (w, outcome, pos) in p.positions() {
        if pos.shares.is_zero() || p.is_settled(w) {
            continue;
        }
        held.insert(w.to_string());
        let shares = pos.shares
            + open
                .iter()
                .filter(|o| o.window == w && o.outcome == outcome && o.side == Side::Buy)
                .fold(Size::ZERO, |a, o| a + o.size);
        prop_assert!(
            shares <= r.max_window_shares,
            "{w} {outcome}: {shares} shares"
        );
        let cost = p.window_cost(w) + buys(&|o| o.window == w);
        prop_assert!(cost <= r.max_window_cost, "{w}: cost {cost}");
    }
    prop_assert!(
        held.len() <= cfg.breakers.max_concurrent_positions,
        "positions in {} windows",
        held.len()
    );
    for o in e.orders(0) {
        prop_assert!(
            o.intent.price.notional(o.intent.size) <= r.max_order_notional || o.rejected.is_some()
        );
    }
    Ok(())
}

/// Drives `steps` (book updates, ticks, resolutions) and checks the limits after each.
fn drive(
    e: &mut Engine,
    cfg: &EngineConfig,
    steps: &[(u8, u8)],
    kill_at: Option<usize>,
    log: &Arc<Mutex<VenueLog>>,
) -> Result<(), TestCaseError> {
    let mut s = 1;
    let mut killed_at = None;
    let mut sent_before_kill = 0;
    for (n, &(a, b)) in steps.iter().enumerate() {
        if kill_at == Some(n) {
            let working: Vec<OrderId> = e.open_orders(0).iter().map(|o| o.id).collect();
            e.process(Input::Kill {
                reason: Some("test".into()),
                at: at(s),
            });
            killed_at = Some(at(s));
            sent_before_kill = log.lock().unwrap().submitted.len();
            prop_assert!(e.killed());
            // Every order working when the switch engaged was asked to cancel.
            let cancels = &log.lock().unwrap().cancels;
            for o in &working {
                prop_assert!(
                    cancels.contains(o),
                    "order {o:?} working at the kill was not cancelled"
                );
            }
        }
        s += u64::from(b % 7) + 1;
        let input = match a % 6 {
            0..=3 => book(
                u64::from(a % 4),
                s,
                u32::from(b % 90) + 1,
                u32::from(a % 5) + 1,
            ),
            4 => Input::Tick(at(s)),
            _ => chainlink(s, "100000"),
        };
        e.process(input);
        assert_within(e, cfg)?;
        if killed_at.is_some() {
            let late: Vec<_> = log.lock().unwrap().submitted[sent_before_kill..]
                .iter()
                .map(|(_, o)| o.id)
                .collect();
            prop_assert!(
                late.is_empty(),
                "orders placed after the kill switch: {late:?}"
            );
        }
    }
    // Windows end and resolve: settlement goes on under the kill switch.
    for k in 0..4u64 {
        let w = window(k);
        e.process(Input::WindowResolved(Resolution {
            slug: w.slug.clone(),
            outcome: Some(if k.is_multiple_of(2) {
                Outcome::Up
            } else {
                Outcome::Down
            }),
            source: None,
            final_price: None,
            known_at: UnixNanos(w.end.0.max(at(s).0) + 1),
        }));
        assert_within(e, cfg)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_prices_fills_and_rejections_exceeds_a_limit(
        strat in prop::collection::vec(any::<u8>(), 1..64),
        venue in prop::collection::vec(any::<u8>(), 0..64),
        steps in prop::collection::vec((any::<u8>(), any::<u8>()), 1..120),
    ) {
        let cfg = limits();
        let (mut e, log) = engine(cfg.clone(), strat, venue);
        drive(&mut e, &cfg, &steps, None, &log)?;
    }

    #[test]
    fn after_the_kill_switch_no_order_rests_and_none_is_placed(
        strat in prop::collection::vec(any::<u8>(), 1..64),
        venue in prop::collection::vec(any::<u8>(), 0..64),
        steps in prop::collection::vec((any::<u8>(), any::<u8>()), 2..120),
        kill in any::<prop::sample::Index>(),
    ) {
        let cfg = limits();
        let (mut e, log) = engine(cfg.clone(), strat, venue);
        let k = kill.index(steps.len());
        drive(&mut e, &cfg, &steps, Some(k), &log)?;
        prop_assert!(e.killed());
        prop_assert!(e.open_orders(0).is_empty(), "resting after kill: {:?}", e.open_orders(0));
    }
}

/// A strategy that buys one Up share at 0.60 in window 0 on every event.
struct OneBuy;

impl Strategy for OneBuy {
    fn name(&self) -> &'static str {
        "one_buy"
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        let slug = window(0).slug;
        if ctx.view().window(&slug).is_none() {
            return;
        }
        ctx.submit(OrderIntent {
            id: OrderId(0),
            window: slug,
            outcome: Outcome::Up,
            side: Side::Buy,
            price: px(600_000),
            size: Size::from_shares(10),
            tif: TimeInForce::Gtc,
            post_only: false,
        });
    }
}

fn one_buy(cfg: EngineConfig) -> Engine {
    let exec = Scripted {
        script: vec![0],
        pos: 0,
        working: BTreeMap::new(),
        cancel_asked: Vec::new(),
        log: Arc::new(Mutex::new(VenueLog::default())),
    };
    let mut e = Engine::new(cfg, vec![(Box::new(OneBuy), Box::new(exec))]).unwrap();
    e.process(Input::WindowListed {
        window: Box::new(window(0)),
        at: at(0),
    });
    e
}

fn last_rejection(e: &Engine) -> String {
    match e.orders(0).last().and_then(|o| o.rejected.clone()) {
        Some(RejectReason::Risk(m)) => m,
        other => format!("{other:?}"),
    }
}

#[test]
fn a_silent_market_feed_refuses_orders_with_the_reason() {
    let cfg = EngineConfig {
        breakers: BreakerConfig {
            stale_data_secs: 10,
            ..BreakerConfig::recommended()
        },
        ..EngineConfig::default()
    };
    let mut e = one_buy(cfg);
    e.process(book(0, 1, 50, 2));
    assert_eq!(e.orders(0).len(), 1);
    assert!(e.orders(0)[0].rejected.is_none(), "{:?}", e.orders(0)[0]);
    // A reference price 30 s later: the strategy decides on it; the market channel was silent
    // for 29 s.
    e.process(chainlink(30, "100000"));
    let why = last_rejection(&e);
    assert!(
        why.contains("stale data: last market-channel event 29.0 s ago"),
        "{why}"
    );
}

#[test]
fn a_mid_jump_and_a_wide_spread_refuse_orders() {
    let mut e = one_buy(EngineConfig {
        breakers: BreakerConfig::recommended(),
        ..EngineConfig::default()
    });
    e.process(book(0, 1, 50, 2));
    assert!(e.orders(0)[0].rejected.is_none());
    e.process(book(0, 2, 90, 2));
    let why = last_rejection(&e);
    assert!(why.contains("price jump"), "{why}");
    // After the cooldown the jump no longer refuses, but a 30-cent spread does.
    e.process(book(0, 40, 70, 25));
    let why = last_rejection(&e);
    assert!(why.contains("spread: Up spread 0.25"), "{why}");
}

#[test]
fn breakers_are_off_by_default() {
    let off = BreakerConfig::default();
    let mut e = one_buy(EngineConfig::default());
    assert_eq!(e.config().breakers, off);
    // A 40-cent spread and a jump pass without breakers.
    e.process(book(0, 1, 50, 2));
    e.process(book(0, 2, 10, 40));
    assert!(
        e.orders(0).iter().all(|o| o.rejected.is_none()),
        "{:?}",
        e.orders(0)
    );
}

#[test]
fn kill_switch_cancels_refuses_and_releases() {
    let mut e = one_buy(EngineConfig::default());
    e.process(book(0, 1, 50, 2));
    assert_eq!(e.open_orders(0).len(), 1);
    e.process(Input::Kill {
        reason: Some("operator: file KILL".into()),
        at: at(2),
    });
    assert!(e.killed());
    assert!(
        e.open_orders(0).is_empty(),
        "the cancel was answered at once"
    );
    e.process(book(0, 3, 50, 2));
    let why = last_rejection(&e);
    assert!(
        why.contains("breaker kill_switch: operator: file KILL"),
        "{why}"
    );
    let trips = e.breakers(0).unwrap().trips();
    assert_eq!(trips[0].breaker, BreakerKind::KillSwitch);
    e.process(Input::Kill {
        reason: None,
        at: at(4),
    });
    assert!(!e.killed());
    e.process(book(0, 5, 50, 2));
    assert!(e.orders(0).last().unwrap().rejected.is_none());
}

#[test]
fn venue_errors_trip_the_breaker_for_its_cooldown() {
    let cfg = EngineConfig {
        breakers: BreakerConfig {
            max_venue_errors: 3,
            venue_error_rate_pct: 10,
            max_open_orders: 100,
            ..BreakerConfig::recommended()
        },
        ..EngineConfig::default()
    };
    // Script byte 10 → every submit fails (10 % 11 == 10).
    let exec = Scripted {
        script: vec![10],
        pos: 0,
        working: BTreeMap::new(),
        cancel_asked: Vec::new(),
        log: Arc::new(Mutex::new(VenueLog::default())),
    };
    let mut e = Engine::new(cfg, vec![(Box::new(OneBuy), Box::new(exec))]).unwrap();
    e.process(Input::WindowListed {
        window: Box::new(window(0)),
        at: at(0),
    });
    for s in 1..=3 {
        e.process(book(0, s, 50, 2));
    }
    assert!(
        matches!(&e.orders(0)[2].rejected, Some(RejectReason::Other(m)) if m.contains("scripted outage"))
    );
    e.process(book(0, 4, 50, 2));
    let why = last_rejection(&e);
    assert!(why.starts_with("breaker venue_errors until"), "{why}");
    assert!(why.contains("3 venue errors"), "{why}");
}

#[test]
fn deployment_phases_cap_every_money_limit() {
    let risk = RiskConfig {
        max_order_notional: Cash(1_000_000_000),
        daily_loss_limit: Cash(1_000_000_000),
        max_total_exposure: Cash(5_000_000_000),
        max_window_cost: Cash(1_000_000_000),
        ..RiskConfig::default()
    };
    let p1 = Deployment {
        phase: DeploymentPhase::Phase1,
        percent_limits: false,
    };
    let r = p1.apply(&risk, Cash(10_000_000_000));
    assert_eq!(r.max_order_notional, Cash(20_000_000));
    assert_eq!(r.daily_loss_limit, Cash(10_000_000));
    assert_eq!(r.max_total_exposure, Cash(100_000_000));
    assert_eq!(r.max_window_cost, Cash(20_000_000));
    let p2 = Deployment {
        phase: DeploymentPhase::Phase2,
        percent_limits: false,
    };
    let r = p2.apply(&risk, Cash(10_000_000_000));
    assert_eq!(r.max_order_notional, Cash(50_000_000));
    assert_eq!(r.max_total_exposure, Cash(300_000_000));
    assert_eq!(p2.bankroll(Cash(300_000_000)), Cash(300_000_000));
    let full = Deployment {
        phase: DeploymentPhase::Full,
        percent_limits: true,
    };
    let r = full.apply(&risk, Cash(10_000_000_000));
    assert_eq!(
        r,
        RiskConfig {
            min_time_left_secs: risk.min_time_left_secs,
            max_window_shares: risk.max_window_shares,
            ..RiskConfig::from_bankroll(Cash(10_000_000_000))
        }
    );
    // The engine applies the phase at construction.
    let e = Engine::new(
        EngineConfig {
            risk,
            deployment: p1,
            ..EngineConfig::default()
        },
        vec![],
    )
    .unwrap();
    assert_eq!(e.config().risk.max_order_notional, Cash(20_000_000));
}

#[test]
fn consecutive_losses_pause_buys_and_drawdown_halts_them() {
    let mut b = polyedge_engine::LaneBreakers::default();
    let cfg = BreakerConfig {
        max_consecutive_losses: 3,
        loss_cooldown_secs: 60,
        max_drawdown_pct: 15,
        ..BreakerConfig::recommended()
    };
    let bankroll = Cash(200_000_000);
    let buy = OrderIntent {
        id: OrderId(1),
        window: "w".into(),
        outcome: Outcome::Up,
        side: Side::Buy,
        price: px(500_000),
        size: Size::from_shares(1),
        tif: TimeInForce::Gtc,
        post_only: false,
    };
    let sell = OrderIntent {
        side: Side::Sell,
        ..buy.clone()
    };
    b.on_settlement(&cfg, Cash(-1_000_000), Cash(-1_000_000), bankroll, at(1));
    b.on_settlement(&cfg, Cash(-1_000_000), Cash(-2_000_000), bankroll, at(2));
    assert!(b.check(&cfg, &buy, 0, &[], at(3)).is_ok());
    b.on_settlement(&cfg, Cash(-1_000_000), Cash(-3_000_000), bankroll, at(3));
    let err = b.check(&cfg, &buy, 0, &[], at(4)).unwrap_err();
    assert!(format!("{err:?}").contains("consecutive_losses"), "{err:?}");
    assert!(
        b.check(&cfg, &sell, 0, &[], at(4)).is_ok(),
        "sells reduce risk"
    );
    assert!(b.check(&cfg, &buy, 0, &[], at(64)).is_ok(), "cooldown over");
    // 15 % of 200 = 30 pUSD below the peak halts buys for good.
    b.on_settlement(&cfg, Cash(40_000_000), Cash(37_000_000), bankroll, at(70));
    b.on_settlement(&cfg, Cash(-31_000_000), Cash(6_000_000), bankroll, at(80));
    let err = b.check(&cfg, &buy, 0, &[], at(10_000)).unwrap_err();
    assert!(format!("{err:?}").contains("breaker drawdown"), "{err:?}");
}

/// [`Scripted`] that reports itself halted (the venue's books no longer match ours) from `at`.
struct HaltsAt {
    inner: Scripted,
    at: UnixNanos,
    halted: Option<String>,
}

impl HaltsAt {
    fn see(&mut self, now: UnixNanos) {
        if now >= self.at && self.halted.is_none() {
            self.halted = Some("venue position 10 Up shares, ours 0".into());
        }
    }
}

impl Executor for HaltsAt {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Live
    }

    fn submit(
        &mut self,
        order: RiskApproved,
        window: &Window,
        book: &WindowBook,
        now: UnixNanos,
    ) -> Result<(), ExecError> {
        self.inner.submit(order, window, book, now)
    }

    fn cancel(&mut self, order: OrderId, now: UnixNanos) {
        self.inner.cancel(order, now);
    }

    fn market_update(
        &mut self,
        window: &str,
        book: &WindowBook,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        self.see(now);
        self.inner.market_update(window, book, now, out);
    }

    fn poll(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>) {
        self.see(now);
        self.inner.poll(now, out);
    }

    fn next_wakeup(&self) -> Option<UnixNanos> {
        None
    }

    fn open_orders(&self) -> Vec<OrderIntent> {
        self.inner.open_orders()
    }

    fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }
}

#[test]
fn a_halted_executor_trips_venue_mismatch_cancels_and_refuses_everything() {
    let log = Arc::new(Mutex::new(VenueLog::default()));
    let exec = HaltsAt {
        inner: Scripted {
            script: vec![0],
            pos: 0,
            working: BTreeMap::new(),
            cancel_asked: Vec::new(),
            log: log.clone(),
        },
        at: at(3),
        halted: None,
    };
    let mut e = Engine::new(
        EngineConfig::default(),
        vec![(Box::new(OneBuy), Box::new(exec))],
    )
    .unwrap();
    e.process(Input::WindowListed {
        window: Box::new(window(0)),
        at: at(0),
    });
    e.process(book(0, 1, 50, 2));
    e.process(book(0, 2, 50, 2));
    assert_eq!(
        e.open_orders(0).len(),
        2,
        "two resting buys before the halt"
    );
    assert!(e.breakers(0).unwrap().trips().is_empty());

    e.process(book(0, 3, 50, 2));
    let trips = e.breakers(0).unwrap().trips();
    assert_eq!(trips.len(), 1, "{trips:?}");
    assert_eq!(trips[0].breaker, BreakerKind::VenueMismatch);
    assert_eq!(trips[0].until, None, "it never clears by itself");
    assert!(trips[0].reason.contains("venue position"), "{trips:?}");
    assert_eq!(
        log.lock().unwrap().cancels.len(),
        2,
        "both resting orders cancelled"
    );
    let why = last_rejection(&e);
    assert!(why.starts_with("breaker venue_mismatch"), "{why}");
    assert_eq!(
        log.lock().unwrap().submitted.len(),
        2,
        "nothing sent after the halt"
    );

    // Later events: still refused, the cancels answered, tripped once only.
    e.process(book(0, 60, 50, 2));
    assert!(e.open_orders(0).is_empty());
    assert!(last_rejection(&e).starts_with("breaker venue_mismatch"));
    assert_eq!(e.breakers(0).unwrap().trips().len(), 1);
    assert_eq!(log.lock().unwrap().submitted.len(), 2);
}
