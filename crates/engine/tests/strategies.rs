//! The strategies of `polyedge-strategy` on hand-built windows, books and Chainlink ticks, run
//! through the engine: each trades when its condition holds and not otherwise.

#![allow(clippy::unwrap_used, clippy::float_cmp)]

use polyedge_core::event::{BookSnapshot, Level, ReferenceSource, ReferenceTick};
use polyedge_core::{
    Asset, Cash, ConditionId, EventKind, Fixed18, MarketEvent, OrderIntent, Outcome, Price, Side,
    Size, Symbol, TimeInForce, TokenId, UnixNanos, Window, WindowDuration,
};
use polyedge_engine::latency::LatencyConfig;
use polyedge_engine::{EngineConfig, OrderRecord, RiskConfig, RunResult, StrategyResult};
use polyedge_model::{OnlineConfig, OnlineFairValue};
use polyedge_strategies::market_maker::MarketMaker;
use polyedge_strategies::sizing::{fee_per_share, kelly_fraction};
use polyedge_strategies::{
    CompleteSet, CompleteSetMode, CompleteSetParams, FairValue, FairValueParams, LegAction,
    MarketMakerParams, Momentum, MomentumParams, RandomBaseline, RandomParams, SizingParams,
    Strategy,
};

/// Window start: 2026-05-28 (fee regime V2: rate 0.07, exponent 1; Chainlink data stream).
const S: u64 = 1_780_000_200;
const STRIKE: f64 = 100_000.0;

fn t(secs: f64) -> UnixNanos {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    UnixNanos((S as f64 * 1e9 + secs * 1e9).round() as u64)
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn tok(n: u32) -> TokenId {
    TokenId::parse(&n.to_string()).unwrap()
}

fn window(outcome: Outcome) -> Window {
    let mut w = Window::new(
        format!("btc-updown-5m-{S}"),
        Asset::Btc,
        WindowDuration::M5,
        S,
    );
    w.up_token = Some(tok(1));
    w.down_token = Some(tok(2));
    w.strike = Some(Fixed18::parse("100000").unwrap());
    w.outcome = Some(outcome);
    w
}

/// A Chainlink BTC/USD tick at `secs` after the start (price time = receive time).
fn tick(secs: f64, price: f64) -> MarketEvent {
    MarketEvent {
        recv_ns: t(secs),
        venue_ns: Some(t(secs)),
        kind: EventKind::Reference(ReferenceTick {
            source: ReferenceSource::Chainlink,
            symbol: Symbol::new("btc/usd").unwrap(),
            price: Fixed18::parse(&format!("{price:.2}")).unwrap(),
            backfill: false,
        }),
    }
}

/// Ticks every second from `from` to `to` (inclusive): alternating ±5 around `STRIKE` before
/// the start (a volatility history), `STRIKE` at the start (the strike is the settlement feed's
/// price at the start, as received: the index's strike is never shown to strategies), then
/// `path(secs)`.
fn ticks(from: i64, to: i64, path: impl Fn(f64) -> f64) -> Vec<MarketEvent> {
    (from..=to)
        .map(|s| {
            let x = s as f64;
            let price = match s.cmp(&0) {
                std::cmp::Ordering::Less => STRIKE + if s % 2 == 0 { 5.0 } else { -5.0 },
                std::cmp::Ordering::Equal => STRIKE,
                std::cmp::Ordering::Greater => path(x),
            };
            tick(x, price)
        })
        .collect()
}

fn levels(v: &[(&str, u64)]) -> Vec<Level> {
    v.iter()
        .map(|(price, n)| Level {
            price: p(price),
            size: Size::from_shares(*n),
        })
        .collect()
}

/// An Up-token snapshot at `secs`. Down asks are the mirrored Up bids (one pool).
fn book(secs: f64, bids: &[(&str, u64)], asks: &[(&str, u64)]) -> MarketEvent {
    MarketEvent {
        recv_ns: t(secs),
        venue_ns: None,
        kind: EventKind::Book(BookSnapshot {
            market: ConditionId::default(),
            token: tok(1),
            bids: levels(bids),
            asks: levels(asks),
            hash: None,
            tick_size: None,
            last_trade_price: None,
        }),
    }
}

fn merge(mut a: Vec<MarketEvent>, b: Vec<MarketEvent>) -> Vec<MarketEvent> {
    a.extend(b);
    a.sort_by_key(|e| e.recv_ns);
    a
}

fn config() -> EngineConfig {
    EngineConfig {
        sim: polyedge_engine::SimConfig {
            latency: LatencyConfig {
                order_latency_ms: 50,
                cancel_latency_ms: 50,
                taker_delay_enabled: false,
                taker_delay_override_ms: None,
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn run_one(cfg: EngineConfig, s: Box<dyn Strategy>, events: Vec<MarketEvent>) -> StrategyResult {
    let r: RunResult =
        polyedge_engine::backtest(cfg, &[window(Outcome::Up)], vec![s], events).unwrap();
    let s = r.strategies.into_iter().next().unwrap();
    assert_eq!(s.portfolio_errors, 0);
    assert_eq!(
        s.end_cash + s.open_cost + s.unsettled_cost,
        s.start_cash + s.net_pnl
    );
    s
}

fn submitted(s: &StrategyResult) -> Vec<&OrderIntent> {
    s.orders.iter().map(|o| &o.intent).collect()
}

/// `P(Up)` the strategies' shared model gives at `at` having seen `events` received by then.
fn model_p_up(events: &[MarketEvent], at: UnixNanos) -> f64 {
    let mut fv = OnlineFairValue::new(&OnlineConfig::default()).unwrap();
    for e in events.iter().filter(|e| e.recv_ns <= at) {
        fv.on_event(e);
    }
    fv.p_up(&window(Outcome::Up).without_hindsight(), at)
        .unwrap()
}

fn fair_value_params(max_trade: &str) -> FairValueParams {
    FairValueParams {
        sizing: SizingParams {
            max_trade: Cash::parse(max_trade).unwrap(),
            max_window_cost: Cash::parse("1000").unwrap(),
            ..SizingParams::default()
        },
        ..FairValueParams::default()
    }
}

fn loose_risk() -> EngineConfig {
    EngineConfig {
        risk: RiskConfig {
            max_order_notional: Cash::parse("1000").unwrap(),
            max_window_cost: Cash::parse("1000").unwrap(),
            max_total_exposure: Cash::parse("1000").unwrap(),
            ..RiskConfig::default()
        },
        ..config()
    }
}

/// Spot 0.1 % above the strike from the start: `P(Up)` ≈ 0.76 at 60 s into a 5-minute window.
fn fv_events(asks: &[(&str, u64)]) -> Vec<MarketEvent> {
    merge(
        ticks(-40, 80, |_| STRIKE + 100.0),
        vec![
            book(60.5, &[("0.30", 100)], asks),
            book(61.0, &[("0.30", 100)], asks),
        ],
    )
}

#[test]
fn fair_value_buys_the_cheap_side_capped_by_depth() {
    let asks = [("0.60", 20), ("0.62", 30), ("0.70", 100)];
    let events = fv_events(&asks);
    let pu = model_p_up(&events, t(60.5));
    assert!((0.70..0.85).contains(&pu), "P(Up) = {pu}");
    let s = run_one(
        loose_risk(),
        Box::new(FairValue::new(fair_value_params("1000")).unwrap()),
        events,
    );
    let orders = submitted(&s);
    assert_eq!(orders.len(), 1, "{orders:?}");
    let o = orders[0];
    assert_eq!(
        (o.outcome, o.side, o.tif),
        (Outcome::Up, Side::Buy, TimeInForce::Fak)
    );
    // 0.60 and 0.62 clear fee + 5 ¢ at P ≈ 0.76; 0.70 does not: limit 0.62, depth 20 + 30.
    assert_eq!(o.price, p("0.62"));
    // Kelly at 0.25 × 1 000 pUSD would be far more: the visible depth binds.
    let fee = fee_per_share(Some(polyedge_core::FeeSchedule::CRYPTO_V2), p("0.62"));
    let stake = 0.25 * kelly_fraction(pu, 0.62 + fee) * 1000.0;
    assert!(stake / (0.62 + fee) > 50.0);
    assert_eq!(o.size, Size::from_shares(50));
    let fv = s.orders[0].fair_value.unwrap();
    assert!((fv.to_f64() - pu).abs() < 1e-6, "{fv} vs {pu}");
    // Filled on the book at arrival, both levels.
    let filled: Size = s.fills.iter().fold(Size::ZERO, |a, f| a + f.size);
    assert_eq!(filled, Size::from_shares(50));
}

#[test]
fn fair_value_sizes_by_fractional_kelly() {
    let asks = [("0.60", 20), ("0.62", 30), ("0.70", 100)];
    let events = fv_events(&asks);
    let pu = model_p_up(&events, t(60.5));
    let cfg = EngineConfig {
        start_cash: Cash::parse("100").unwrap(),
        ..loose_risk()
    };
    let s = run_one(
        cfg,
        Box::new(FairValue::new(fair_value_params("1000")).unwrap()),
        events,
    );
    let orders = submitted(&s);
    assert_eq!(orders.len(), 1);
    let fee = fee_per_share(Some(polyedge_core::FeeSchedule::CRYPTO_V2), p("0.62"));
    let c = 0.62 + fee;
    let want = (0.25 * kelly_fraction(pu, c) * 100.0 / c).floor();
    assert!((5.0..50.0).contains(&want), "{want}");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let want = want as u64;
    assert_eq!(orders[0].size, Size::from_shares(want));
}

#[test]
fn fair_value_respects_max_trade_and_stays_out_without_edge() {
    // Max 20 pUSD per trade at a 0.62 limit: 32 shares.
    let s = run_one(
        loose_risk(),
        Box::new(FairValue::new(fair_value_params("20")).unwrap()),
        fv_events(&[("0.60", 20), ("0.62", 30), ("0.70", 100)]),
    );
    assert_eq!(submitted(&s)[0].size, Size::from_shares(32));
    // Asks at 0.72 and up: edge below fee + 5 ¢ on Up; Down (bid 0.30 → ask 0.70) is worse.
    let s = run_one(
        loose_risk(),
        Box::new(FairValue::new(fair_value_params("20")).unwrap()),
        fv_events(&[("0.72", 100)]),
    );
    assert!(s.orders.is_empty(), "{:?}", submitted(&s));
    // At the strike P(Up) ≈ 0.5: 0.60 is dear, and Down's ask 0.70 dearer.
    let events = merge(
        ticks(-40, 80, |_| STRIKE),
        vec![book(60.5, &[("0.30", 100)], &[("0.60", 100)])],
    );
    let s = run_one(
        loose_risk(),
        Box::new(FairValue::new(fair_value_params("20")).unwrap()),
        events,
    );
    assert!(s.orders.is_empty());
}

fn momentum_books(times: &[f64]) -> Vec<MarketEvent> {
    times
        .iter()
        .map(|&x| book(x, &[("0.20", 100)], &[("0.70", 100)]))
        .collect()
}

fn momentum_params() -> MomentumParams {
    MomentumParams {
        sizing: SizingParams {
            max_trade: Cash::parse("1000").unwrap(),
            max_window_cost: Cash::parse("1000").unwrap(),
            ..SizingParams::default()
        },
        ..MomentumParams::default()
    }
}

#[test]
fn momentum_waits_for_its_span_then_buys_the_leader() {
    // A steady climb of 8 $/s: 0.24 % by 30 s, above the 5-minute threshold (0.173 %) already.
    let books = momentum_books(&[30.0, 45.0, 65.0, 65.5, 66.0]);
    let events = merge(ticks(-40, 120, |x| STRIKE + 8.0 * x), books);
    let pu = model_p_up(&events, t(65.0));
    assert!(pu - 0.70 - 0.0147 > 0.15, "P(Up) = {pu}");
    let s = run_one(
        loose_risk(),
        Box::new(Momentum::new(momentum_params()).unwrap()),
        events,
    );
    let orders: Vec<&OrderRecord> = s.orders.iter().collect();
    assert_eq!(orders.len(), 1, "{orders:?}");
    // Not at the books of 30 s or 45 s (before minute 1 of 5): at the first event of the span,
    // the tick of 60 s.
    assert_eq!(orders[0].decided_at, t(60.0));
    assert_eq!(orders[0].intent.outcome, Outcome::Up);
    assert_eq!(orders[0].intent.price, p("0.70"));
    assert!(!s.fills.is_empty());
}

#[test]
fn momentum_needs_consistency_and_size_of_move() {
    // Choppy: ±300 $ swings around the strike, last point +300 (0.3 %) but R² ≈ 0.
    let choppy = |x: f64| STRIKE + if x % 2.0 == 0.0 { 300.0 } else { -300.0 };
    let events = merge(ticks(-40, 120, choppy), momentum_books(&[66.0, 70.0, 80.0]));
    let s = run_one(
        loose_risk(),
        Box::new(Momentum::new(momentum_params()).unwrap()),
        events,
    );
    assert!(s.orders.is_empty(), "{:?}", submitted(&s));
    // Steady but small: 1 $/s is 0.07 % at 70 s, under the threshold.
    let events = merge(
        ticks(-40, 120, |x| STRIKE + x),
        momentum_books(&[66.0, 70.0, 80.0]),
    );
    let s = run_one(
        loose_risk(),
        Box::new(Momentum::new(momentum_params()).unwrap()),
        events,
    );
    assert!(s.orders.is_empty());
    // A down move buys Down.
    let events = merge(
        ticks(-40, 120, |x| STRIKE - 8.0 * x),
        vec![
            book(65.0, &[("0.30", 100)], &[("0.90", 100)]),
            book(66.0, &[("0.30", 100)], &[("0.90", 100)]),
        ],
    );
    let s = run_one(
        loose_risk(),
        Box::new(Momentum::new(momentum_params()).unwrap()),
        events,
    );
    let o = submitted(&s);
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].outcome, o[0].price), (Outcome::Down, p("0.70")));
}

/// The market maker's expected bid: `fair − 2 ¢ + adj`, down to the cent, below fair value.
fn mm_bid(fair: Price, adj_cents: i64) -> Price {
    let f = i64::from(fair.micros());
    let raw = (f - 20_000 + adj_cents * 10_000).min(f - 10_000);
    Price::from_micros(u32::try_from(raw.div_euclid(10_000) * 10_000).unwrap()).unwrap()
}

#[test]
fn market_maker_quotes_post_only_both_sides_skews_and_pulls_at_closing() {
    // Spot a little above the strike all window: fair ≈ 0.5–0.6, wide book 0.20 / 0.80.
    let refs = ticks(-40, 299, |_| STRIKE + 20.0);
    let wide = |x| book(x, &[("0.20", 100)], &[("0.80", 100)]);
    let f0 = model_p_up(&refs, t(10.0));
    let up0 = mm_bid(sizing_price(f0), 0);
    // At 20 s the Up asks come down to our Up bid: a trade-through fills the bid (maker).
    let cross = book(20.0, &[("0.20", 100)], &[(&up0.to_string(), 100)]);
    // After closing (end − 30 s) a book that would cross a resting Up bid at any price.
    let late = book(285.0, &[("0.20", 100)], &[("0.05", 1000)]);
    let events = merge(
        refs,
        // The book of 10.5 s is the one our bids arrive on (and rest at).
        vec![
            wide(10.0),
            wide(10.5),
            cross,
            wide(21.0),
            wide(100.0),
            wide(260.0),
            late,
        ],
    );
    let s = run_one(
        config(),
        Box::new(MarketMaker::new(MarketMakerParams::default()).unwrap()),
        events,
    );
    let first: Vec<&OrderRecord> = s
        .orders
        .iter()
        .filter(|o| o.decided_at == t(10.0))
        .collect();
    assert_eq!(first.len(), 2, "{first:?} {:?}", s.orders);
    for o in &first {
        assert!(o.intent.post_only);
        assert_eq!(o.intent.side, Side::Buy);
        assert!(matches!(o.intent.tif, TimeInForce::Gtd(_)));
        let fv = o.fair_value.unwrap();
        assert_eq!(o.intent.price, mm_bid(fv, 0), "{o:?}");
    }
    assert_eq!(first[0].intent.price, up0);
    assert_eq!(
        first.iter().map(|o| o.intent.outcome).collect::<Vec<_>>(),
        vec![Outcome::Up, Outcome::Down]
    );
    // The trade-through filled 10 Up as maker at our bid.
    let up_fill = s.fills.iter().find(|f| f.outcome == Outcome::Up).unwrap();
    assert_eq!((up_fill.price, up_fill.size), (up0, Size::from_shares(10)));
    assert_eq!(up_fill.liquidity, polyedge_core::Liquidity::Maker);
    // Requoted with the skew: Up bid 1 ¢ lower, Down bid 1 ¢ higher (long 10 Up).
    let after: Vec<&OrderRecord> = s
        .orders
        .iter()
        .filter(|o| o.decided_at >= t(20.0) && o.decided_at < t(30.0))
        .collect();
    let up = after
        .iter()
        .find(|o| o.intent.outcome == Outcome::Up)
        .unwrap_or_else(|| panic!("{:?}\n{:?}", s.orders, s.fills));
    let down = after
        .iter()
        .find(|o| o.intent.outcome == Outcome::Down)
        .unwrap();
    // The crossing book caps the Up bid below its ask (post-only): min(skewed, ask − tick).
    let up_ask_cap = Price::from_micros(up0.micros() - 10_000).unwrap();
    assert_eq!(
        up.intent.price,
        mm_bid(up.fair_value.unwrap(), -1).min(up_ask_cap)
    );
    assert_eq!(down.intent.price, mm_bid(down.fair_value.unwrap(), 1));
    // Nothing decided from the closing instant on, and the late crossing book filled nothing.
    let closing = t(270.0);
    assert!(s.orders.iter().all(|o| o.decided_at < closing));
    assert!(s.fills.iter().all(|f| f.at < closing), "{:?}", s.fills);
    // Heartbeat: quotes were refreshed between 21 s and the closing without a fair-value move.
    assert!(
        s.orders
            .iter()
            .any(|o| o.decided_at > t(50.0) && o.decided_at < closing)
    );
}

fn sizing_price(f: f64) -> Price {
    polyedge_strategies::sizing::price_of_prob(f)
}

#[test]
fn market_maker_stops_quoting_a_full_side() {
    let refs = ticks(-40, 120, |_| STRIKE + 20.0);
    let f0 = model_p_up(&refs, t(10.0));
    let up0 = mm_bid(sizing_price(f0), 0);
    let events = merge(
        refs,
        vec![
            book(10.0, &[("0.20", 100)], &[("0.80", 100)]),
            book(10.5, &[("0.20", 100)], &[("0.80", 100)]),
            book(20.0, &[("0.20", 100)], &[(&up0.to_string(), 100)]),
            book(21.0, &[("0.20", 100)], &[("0.80", 100)]),
            book(60.0, &[("0.20", 100)], &[("0.80", 100)]),
        ],
    );
    let params = MarketMakerParams {
        max_inventory_shares: 10,
        ..MarketMakerParams::default()
    };
    let s = run_one(
        config(),
        Box::new(MarketMaker::new(params).unwrap()),
        events,
    );
    assert!(
        s.fills.iter().any(|f| f.outcome == Outcome::Up),
        "{:?} {:?} {}",
        s.orders,
        s.fills,
        up0
    );
    let later_up = s
        .orders
        .iter()
        .filter(|o| o.decided_at > t(20.0) && o.intent.outcome == Outcome::Up)
        .count();
    let later_down = s
        .orders
        .iter()
        .filter(|o| o.decided_at > t(20.0) && o.intent.outcome == Outcome::Down)
        .count();
    assert_eq!(later_up, 0);
    assert!(later_down > 0);
}

/// Both legs cheap at 10 s (Up ask 0.44, Down ask 1 − 0.55 = 0.45); in the book in force at
/// the orders' arrival (+50 ms) only the Up ask is left: Down's ask is `1 − next_bid`.
fn leg_events(next_bid: &str) -> Vec<MarketEvent> {
    vec![
        book(10.0, &[("0.55", 100)], &[("0.44", 100)]),
        book(10.03, &[(next_bid, 100)], &[("0.44", 100)]),
        book(11.0, &[(next_bid, 100)], &[("0.44", 100)]),
        book(12.0, &[(next_bid, 100)], &[("0.44", 100)]),
        book(13.0, &[(next_bid, 100)], &[("0.44", 100)]),
    ]
}

fn cs(leg_action: LegAction) -> Box<dyn Strategy> {
    Box::new(CompleteSet::new(CompleteSetParams {
        leg_action,
        // One attempt only, so the books above do not start a second one.
        max_pairs_per_window: 10,
        ..CompleteSetParams::default()
    }))
}

fn shares(s: &StrategyResult, o: Outcome, side: Side) -> Size {
    s.fills
        .iter()
        .filter(|f| f.outcome == o && f.side == side)
        .fold(Size::ZERO, |a, f| a + f.size)
}

#[test]
fn complete_set_retries_the_missing_leg_while_the_pair_is_under_a_dollar() {
    // Down's ask is 0.50 after the first leg: 0.44 + fee + 0.50 + fee ≈ 0.975 < 0.995.
    let s = run_one(config(), cs(LegAction::Retry), leg_events("0.50"));
    assert_eq!(shares(&s, Outcome::Up, Side::Buy), Size::from_shares(10));
    assert_eq!(shares(&s, Outcome::Down, Side::Buy), Size::from_shares(10));
    let down = s.fills.iter().find(|f| f.outcome == Outcome::Down).unwrap();
    assert_eq!(down.price, p("0.50"));
    assert_eq!(s.orders.len(), 3);
    // A complete set pays $1 whatever the outcome.
    assert!(s.net_pnl > Cash::ZERO, "{}", s.net_pnl);
}

#[test]
fn complete_set_unwinds_when_the_pair_got_too_dear() {
    // Down's ask is 0.60 after the first leg: the pair would cost > $1, so the retry falls back
    // to selling the Up leg at its best bid (0.40).
    let s = run_one(config(), cs(LegAction::Retry), leg_events("0.40"));
    assert_eq!(shares(&s, Outcome::Up, Side::Buy), Size::from_shares(10));
    assert_eq!(shares(&s, Outcome::Down, Side::Buy), Size::ZERO);
    assert_eq!(shares(&s, Outcome::Up, Side::Sell), Size::from_shares(10));
    let sell = s.fills.iter().find(|f| f.side == Side::Sell).unwrap();
    assert_eq!(sell.price, p("0.40"));
    // Unwind directly: same sale.
    let s = run_one(config(), cs(LegAction::Unwind), leg_events("0.50"));
    assert_eq!(shares(&s, Outcome::Up, Side::Sell), Size::from_shares(10));
    // Hold: the one-sided position stays to settlement (Up wins here: 10 − 4.4 − fee).
    let s = run_one(config(), cs(LegAction::Hold), leg_events("0.50"));
    assert_eq!(s.orders.len(), 2);
    assert_eq!(shares(&s, Outcome::Up, Side::Buy), Size::from_shares(10));
    assert!(s.net_pnl > Cash::parse("5").unwrap());
}

#[test]
fn accumulation_keeps_the_average_pair_cost_under_a_dollar() {
    // Never a cheap pair at one instant after the first, but each side is cheap in turn.
    let events = vec![
        // Up 0.42, Down 0.50: a cheap pair → buy Up first (either order is fine).
        book(10.0, &[("0.50", 100)], &[("0.42", 100)]),
        book(10.5, &[("0.50", 100)], &[("0.42", 100)]),
        // Down 0.50 vs the Up average ≈ 0.437: buy Down.
        book(12.0, &[("0.50", 100)], &[("0.60", 100)]),
        book(12.5, &[("0.50", 100)], &[("0.60", 100)]),
        // Down cheaper still: buy more Down (imbalance 10 ≤ 20).
        book(14.0, &[("0.55", 100)], &[("0.62", 100)]),
        book(14.5, &[("0.55", 100)], &[("0.62", 100)]),
        // Up dear: nothing.
        book(16.0, &[("0.30", 100)], &[("0.60", 100)]),
        book(16.5, &[("0.30", 100)], &[("0.60", 100)]),
        // Up cheap again against the Down average: buy Up.
        book(18.0, &[("0.30", 100)], &[("0.46", 100)]),
        book(18.5, &[("0.30", 100)], &[("0.46", 100)]),
    ];
    // Without merging: a merge closes the matched sets, so the next buy is priced against the
    // other side's ask instead of the average this test is about.
    let params = CompleteSetParams {
        mode: CompleteSetMode::Accumulate,
        merge: false,
        ..CompleteSetParams::default()
    };
    let s = run_one(config(), Box::new(CompleteSet::new(params)), events.clone());
    let avg = |o: Outcome| {
        let f: Vec<_> = s.fills.iter().filter(|f| f.outcome == o).collect();
        let n: f64 = f.iter().map(|f| f.size.to_f64()).sum();
        let c: f64 = f
            .iter()
            .map(|f| f.price.notional(f.size).to_f64() + f.fee.to_f64())
            .sum();
        (n, c / n)
    };
    let ((nu, au), (nd, ad)) = (avg(Outcome::Up), avg(Outcome::Down));
    assert!(s.fills.len() >= 4, "{:?}", s.fills);
    assert!(nu >= 20.0 && nd >= 20.0, "{nu} {nd}");
    assert!(au + ad < 1.0 - 0.015, "average pair cost {}", au + ad);
    // Buys happened at different instants (legs on their own), never one side 20+ ahead.
    assert!(
        s.fills
            .iter()
            .any(|f| f.at >= t(12.0) && f.outcome == Outcome::Down)
    );
    assert!((nu - nd).abs() <= 20.0);
    // The pair strategy on the same books buys only the one cheap pair (at 10 s).
    let pair = run_one(
        config(),
        Box::new(CompleteSet::new(CompleteSetParams::default())),
        events,
    );
    assert!(pair.fills.iter().all(|f| f.at < t(12.0)));
}

#[test]
fn random_baseline_uses_the_shared_caps() {
    let events = vec![
        book(10.0, &[("0.40", 100)], &[("0.50", 8)]),
        book(11.0, &[("0.40", 100)], &[("0.50", 100)]),
    ];
    let s = run_one(
        config(),
        Box::new(RandomBaseline::new(RandomParams::default())),
        events,
    );
    let o = submitted(&s);
    assert_eq!(o.len(), 1, "one entry per window by default");
    // Stake 10 pUSD: Up at 0.50 is 20 shares, capped by the visible depth (8); Down at
    // 1 − 0.40 = 0.60 is 16 shares.
    let want = if o[0].outcome == Outcome::Up { 8 } else { 16 };
    assert_eq!(o[0].size, Size::from_shares(want));
}

// ---- ml_directional ----

/// A tree model over the feature schema of this build whose only informative column is
/// `ret_since_open` (every other column missing in training): `P(Up)` high above the strike,
/// low below it (`label`: the training label of a row with return `r`).
fn directional_model(label: impl Fn(usize, f64) -> bool) -> polyedge_ml::DirectionalModel {
    let xs: Vec<f64> = (0..400)
        .map(|i| (f64::from(i) - 199.5) / 100_000.0) // −0.002 … +0.002
        .collect();
    let up: Vec<bool> = xs.iter().enumerate().map(|(i, &r)| label(i, r)).collect();
    polyedge_ml::DirectionalModel::one_feature(
        polyedge_features::Feature::RetSinceOpen.index(),
        &xs,
        &up,
        vec![240, 180, 120, 60, 30],
    )
    .unwrap()
}

fn ml(model: polyedge_ml::DirectionalModel) -> Box<dyn Strategy> {
    Box::new(
        polyedge_strategies::MlDirectional::with_model(
            polyedge_strategies::MlDirectionalParams::default(),
            model,
        )
        .unwrap(),
    )
}

/// Chainlink ticks at `STRIKE + delta` from the start to the end, and a static book: Up bid
/// 0.38 / ask 0.62 (so Down bid 0.38 / ask 0.62 too), 100 shares each.
fn ml_events(delta: f64) -> Vec<MarketEvent> {
    let mut books = Vec::new();
    for s in (5..300).step_by(10) {
        books.push(book(f64::from(s), &[("0.38", 100)], &[("0.62", 100)]));
    }
    merge(ticks(-40, 299, |_| STRIKE + delta), books)
}

#[test]
fn ml_directional_posts_inside_the_ask_then_takes_late_and_holds_one_position() {
    for (delta, want) in [(100.0, Outcome::Up), (-100.0, Outcome::Down)] {
        let s = run_one(
            loose_risk(),
            ml(directional_model(|_, r| r > 0.0)),
            ml_events(delta),
        );
        let orders = &s.orders;
        assert!(orders.len() >= 2, "{want:?}: {orders:?}");
        // Nothing before the model's span (240 s left = 60 s in).
        assert!(orders.iter().all(|o| o.decided_at >= t(60.0)), "{orders:?}");
        // Early and confident: post-only one tick inside the 0.62 ask, on the favoured side.
        let first = &orders[0];
        assert_eq!(
            (first.intent.outcome, first.intent.side, first.intent.tif),
            (want, Side::Buy, TimeInForce::Gtc)
        );
        assert!(first.intent.post_only);
        assert_eq!(first.intent.price, p("0.61"));
        let conf = first.fair_value.unwrap().to_f64();
        assert!(conf >= 0.65, "confidence {conf}");
        // Quarter-Kelly of 1 000 pUSD is far above the 20 pUSD per-trade cap: 32 shares.
        assert_eq!(first.intent.size, Size::from_shares(32));
        // The static book never comes down to 0.61: the maker order rests until its 30 s are
        // up and is cancelled; with ≤ 120 s left the strategy takes the ask instead.
        let last = orders.last().unwrap();
        assert_eq!(last.intent.tif, TimeInForce::Fak, "{orders:?}");
        assert_eq!(last.intent.outcome, want);
        assert_eq!(last.intent.price, p("0.62"));
        assert!(last.decided_at >= t(180.0), "taker before 120 s left");
        assert!(
            orders[..orders.len() - 1]
                .iter()
                .all(|o| o.intent.post_only)
        );
        assert!(
            orders
                .windows(2)
                .all(|w| w[1].decided_at.0 - w[0].decided_at.0 >= 30 * UnixNanos::PER_SEC),
            "a new maker order before the last one's 30 s were up"
        );
        // One position, then nothing more.
        assert_eq!(s.fills.len(), 1, "{:?}", s.fills);
        assert_eq!(s.fills[0].outcome, want);
        assert_eq!(s.fills[0].size, Size::from_shares(32));
        assert!(
            s.skips.get("entries_used").copied().unwrap_or(0) > 0,
            "{:?}",
            s.skips
        );
        let won = want == Outcome::Up;
        assert_eq!(s.net_pnl > Cash::ZERO, won, "{}", s.net_pnl);
    }
}

#[test]
fn ml_directional_stays_out_when_the_model_is_unsure() {
    // Labels alternate regardless of the return: the model says ≈ 0.5 everywhere.
    let s = run_one(
        loose_risk(),
        ml(directional_model(|i, _| i % 2 == 0)),
        ml_events(100.0),
    );
    assert!(s.orders.is_empty(), "{:?}", s.orders);
    assert!(
        s.skips.get("low_confidence").copied().unwrap_or(0) > 0,
        "{:?}",
        s.skips
    );
    // Decisions only inside the trained span: too_early before 240 s left, too_late after 30.
    assert!(s.skips.contains_key("too_early") && s.skips.contains_key("too_late"));
}

// ---- capital split (the strategy router) ----

fn split(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, Price> {
    pairs
        .iter()
        .map(|(n, s)| ((*n).to_string(), p(s)))
        .collect()
}

fn run_split(cfg: EngineConfig) -> Result<RunResult, polyedge_engine::EngineError> {
    let strategies: Vec<Box<dyn Strategy>> = vec![
        Box::new(FairValue::new(fair_value_params("1000")).unwrap()),
        Box::new(Momentum::new(momentum_params()).unwrap()),
    ];
    polyedge_engine::backtest(
        cfg,
        &[window(Outcome::Up)],
        strategies,
        fv_events(&[("0.60", 20), ("0.62", 30), ("0.70", 100)]),
    )
}

#[test]
fn a_capital_split_gives_each_strategy_its_share_of_the_cash_and_of_the_limits() {
    // 40 pUSD per window for the account: fair_value's 50 shares at ≤ 0.62 (31 pUSD) fit alone…
    let base = EngineConfig {
        risk: RiskConfig {
            max_window_cost: Cash::parse("40").unwrap(),
            ..loose_risk().risk
        },
        ..loose_risk()
    };
    let alone = run_split(base.clone()).unwrap();
    assert_eq!(alone.strategies[0].start_cash, Cash::parse("1000").unwrap());
    assert_eq!(
        alone.strategies[0].fills.len(),
        2,
        "{:?}",
        alone.strategies[0].orders
    );
    // … but not in a 60 % share of it (24 pUSD), nor its cash is the whole account.
    let cfg = EngineConfig {
        capital_split: split(&[("fair_value", "0.6"), ("momentum", "0.4")]),
        ..base.clone()
    };
    let shared = run_split(cfg).unwrap();
    let (fv, mom) = (&shared.strategies[0], &shared.strategies[1]);
    assert_eq!(fv.start_cash, Cash::parse("600").unwrap());
    assert_eq!(mom.start_cash, Cash::parse("400").unwrap());
    assert!(fv.fills.is_empty());
    let why = format!("{:?}", fv.orders[0].rejected);
    assert!(why.contains("per-window maximum 24"), "{why}");
    // Every strategy run needs a share; shares are positive and sum to at most 1; a share for
    // a strategy not run is refused too.
    for (pairs, want) in [
        (
            vec![("fair_value", "0.6")],
            "no share for strategy \"momentum\"",
        ),
        (
            vec![("fair_value", "0.6"), ("momentum", "0.5")],
            "sum to 1.1",
        ),
        (vec![("fair_value", "0.6"), ("momentum", "0")], "is 0"),
        (
            vec![
                ("fair_value", "0.5"),
                ("momentum", "0.4"),
                ("random", "0.1"),
            ],
            "\"random\", which is not one of the strategies run",
        ),
    ] {
        let cfg = EngineConfig {
            capital_split: split(&pairs),
            ..base.clone()
        };
        let err = run_split(cfg).err().unwrap().to_string();
        assert!(err.contains(want), "{err}");
    }
}
