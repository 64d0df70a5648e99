//! The feature engine on synthetic event streams: each group of features from its inputs,
//! missing inputs as missing (never 0), gap markers dropping derived state.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    missing_docs
)]

use polyedge_core::event::{
    BookSnapshot, Gap, Kline, Level, Liquidation, MarkPrice, ReferenceSource, ReferenceTick,
    SpotDepth, SpotLevel, SpotTrade, Venue, VolIndex,
};
use polyedge_core::{
    Asset, ConditionId, EventKind, Fixed18, MarketEvent, Price, Side, Size, Symbol, TokenId,
    UnixNanos, Window, WindowDuration,
};
use polyedge_features::{ALL, Feature, FeatureEngine, Group};
use polyedge_model::online::{OnlineConfig, StrikeSource};

const START: u64 = 1_776_000_000; // window start, unix s (a multiple of 300)

fn ns(s: f64) -> UnixNanos {
    UnixNanos((s * 1e9) as u64)
}

fn fx(x: f64) -> Fixed18 {
    Fixed18::parse(&format!("{x:.8}")).unwrap()
}

fn ev(t: f64, kind: EventKind) -> MarketEvent {
    MarketEvent {
        recv_ns: ns(t),
        venue_ns: Some(ns(t)),
        kind,
    }
}

fn chainlink(t: f64, price: f64) -> MarketEvent {
    ev(
        t,
        EventKind::Reference(ReferenceTick {
            source: ReferenceSource::Chainlink,
            symbol: Symbol::new("btc/usd").unwrap(),
            price: fx(price),
            backfill: false,
        }),
    )
}

fn trade(t: f64, venue: Venue, price: f64, qty: f64, side: Side) -> MarketEvent {
    ev(
        t,
        EventKind::SpotTrade(SpotTrade {
            venue,
            symbol: Symbol::new(if venue == Venue::Coinbase {
                "BTC-USD"
            } else {
                "BTCUSDT"
            })
            .unwrap(),
            price: fx(price),
            qty: fx(qty),
            taker_side: Some(side),
            trade_id: None,
        }),
    )
}

fn lv(p: f64, q: f64) -> SpotLevel {
    SpotLevel {
        price: fx(p),
        qty: fx(q),
    }
}

fn window() -> Window {
    let mut w = Window::new(
        format!("btc-updown-5m-{START}"),
        Asset::Btc,
        WindowDuration::M5,
        START,
    );
    w.up_token = Some(TokenId::synthetic(&w.slug, "up"));
    w.down_token = Some(TokenId::synthetic(&w.slug, "down"));
    w
}

fn engine() -> FeatureEngine {
    FeatureEngine::new(&OnlineConfig::default()).unwrap()
}

/// Chainlink at 1 Hz from 40 minutes before the window, rising 0.5 $/s with a ±1 $ wiggle.
fn feed_chainlink(e: &mut FeatureEngine, until: f64) {
    let from = START as f64 - 2_400.0;
    let mut t = from;
    while t <= until {
        let i = t - from;
        let wiggle = if (i as u64).is_multiple_of(2) {
            1.0
        } else {
            -1.0
        };
        e.on_event(&chainlink(t + 0.2, 60_000.0 + 0.5 * i + wiggle));
        t += 1.0;
    }
}

#[test]
fn chainlink_only_gives_reference_and_candle_features_and_nothing_else() {
    let mut e = engine();
    let w = window();
    e.add_window(&w);
    let at = START as f64 + 120.0;
    feed_chainlink(&mut e, at - 0.5);
    let s = e.snapshot(&w, ns(at));
    let f = &s.features;
    assert_eq!(f.get(Feature::TauS), Some(180.0));
    assert_eq!(f.get(Feature::TauFrac), Some(0.6));
    // Strike: the tick at the start (price time START + 0.2 s is after START: the last one at or
    // before it is START − 0.8 s, within 5 s).
    assert_eq!(s.meta.strike_source, Some(StrikeSource::ReferenceAtStart));
    assert_eq!(s.meta.reference, Some("chainlink"));
    assert_eq!(s.meta.candles, Some("chainlink_ticks"));
    let r = f.get(Feature::RetSinceOpen).unwrap();
    assert!(r > 0.0, "rising price: {r}");
    assert!(f.get(Feature::BsPUp).unwrap() > 0.5);
    assert!(f.get(Feature::DistSigma).unwrap() > 0.0);
    for m in [Feature::Mom30, Feature::Mom60, Feature::Mom120] {
        assert!(f.get(m).unwrap() > 0.0, "{m:?}");
    }
    // The drift dominates the ±1 wiggle over 2 minutes: a high R².
    assert!(f.get(Feature::R2_120).unwrap() > 0.9);
    assert!(f.get(Feature::R2SinceOpen).unwrap() > 0.9);
    // 40 minutes of 1-minute candles: RSI(30) present, 1 h trend not yet.
    assert!(f.get(Feature::Rsi30).unwrap() > 50.0);
    assert!(f.get(Feature::Trend1h).is_none());
    assert!(s.meta.candle_count >= 40);
    // Nothing from trades, books, derivatives or Polymarket: missing, not zero.
    for feat in ALL {
        let g = feat.info().group;
        if matches!(
            g,
            Group::Trades | Group::SpotBook | Group::Derivatives | Group::Polymarket
        ) {
            assert!(!f.is_present(*feat), "{feat:?} should be missing");
            assert!(f.values()[feat.index()].is_nan());
        }
    }
    // Consensus: only Chainlink is fresh.
    assert_eq!(f.get(Feature::ConsN), Some(1.0));
    assert_eq!(f.get(Feature::ConsSpreadBp), None);
    assert_eq!(f.get(Feature::ConsDivergent), None);
}

#[test]
fn the_window_strike_wins_and_late_data_is_not_seen() {
    let mut e = engine();
    let mut w = window();
    w.strike = Some(fx(59_000.0));
    let at = START as f64 + 60.0;
    feed_chainlink(&mut e, at - 0.5);
    let before = e.snapshot(&w, ns(at));
    assert_eq!(before.meta.strike_source, Some(StrikeSource::Index));
    assert_eq!(before.meta.strike, Some(59_000.0));
    // An identical engine that also saw a later tick gives a different spot: the snapshot only
    // reflects what was fed.
    let mut later = e.clone();
    later.on_event(&chainlink(at + 0.5, 70_000.0));
    let after = later.snapshot(&w, ns(at + 0.5));
    assert_ne!(before.meta.spot, after.meta.spot);
    let again = e.snapshot(&w, ns(at));
    assert_eq!(
        again.features.values().map(f64::to_bits),
        before.features.values().map(f64::to_bits)
    );
}

#[test]
fn trades_book_derivatives_and_consensus() {
    let mut e = engine();
    let w = window();
    e.add_window(&w);
    let t0 = START as f64;
    // Binance spot trades: 3 buys of 1 and 1 sell of 1 in the last 30 s.
    e.on_event(&trade(
        t0 + 10.0,
        Venue::BinanceSpot,
        60_000.0,
        2.0,
        Side::Sell,
    ));
    for k in 0..3 {
        e.on_event(&trade(
            t0 + 40.0 + f64::from(k),
            Venue::BinanceSpot,
            60_010.0,
            1.0,
            Side::Buy,
        ));
    }
    e.on_event(&trade(
        t0 + 45.0,
        Venue::BinanceSpot,
        60_005.0,
        1.0,
        Side::Sell,
    ));
    e.on_event(&trade(t0 + 45.5, Venue::Coinbase, 60_200.0, 0.1, Side::Buy));
    // A REST snapshot of the spot book with 10 levels a side, then one diff.
    let bids: Vec<SpotLevel> = (0..10).map(|i| lv(60_000.0 - f64::from(i), 1.0)).collect();
    let asks: Vec<SpotLevel> = (0..10).map(|i| lv(60_001.0 + f64::from(i), 3.0)).collect();
    let snap = SpotDepth {
        venue: Venue::BinanceSpot,
        symbol: Some(Symbol::new("BTCUSDT").unwrap()),
        is_snapshot: true,
        first_update_id: None,
        last_update_id: Some(100),
        prev_update_id: None,
        bids,
        asks,
    };
    e.on_event(&ev(t0 + 46.0, EventKind::SpotDepth(snap)));
    let diff = SpotDepth {
        venue: Venue::BinanceSpot,
        symbol: Some(Symbol::new("BTCUSDT").unwrap()),
        is_snapshot: false,
        first_update_id: Some(101),
        last_update_id: Some(101),
        prev_update_id: None,
        bids: vec![lv(60_000.0, 2.0)],
        asks: vec![],
    };
    e.on_event(&ev(t0 + 46.5, EventKind::SpotDepth(diff)));
    // USD-M mark price and a long liquidation; DVOL.
    e.on_event(&ev(
        t0 + 46.6,
        EventKind::MarkPrice(MarkPrice {
            venue: Venue::BinanceUsdm,
            symbol: Symbol::new("BTCUSDT").unwrap(),
            mark: fx(60_003.0),
            index: fx(60_000.0),
            funding_rate: fx(0.0001),
            next_funding: UnixNanos(0),
        }),
    ));
    e.on_event(&ev(
        t0 + 46.7,
        EventKind::Liquidation(Liquidation {
            venue: Venue::BinanceUsdm,
            symbol: Symbol::new("BTCUSDT").unwrap(),
            side: Side::Sell,
            price: fx(59_990.0),
            avg_price: fx(59_990.0),
            qty: fx(0.5),
            filled_qty: fx(0.5),
        }),
    ));
    e.on_event(&ev(
        t0 + 46.8,
        EventKind::VolIndex(VolIndex {
            venue: Venue::Deribit,
            index: Symbol::new("btc_usd").unwrap(),
            value: fx(45.5),
        }),
    ));
    e.on_event(&chainlink(t0 + 46.9, 60_100.0));
    let at = ns(t0 + 47.0);
    let f = e.snapshot(&w, at).features;
    // Trades: 30 s window (seconds 18..=47): buys 3, sells 1 → 0.75; 60 s: sells 3 → 0.5.
    assert_eq!(f.get(Feature::Aggr30), Some(0.75));
    assert_eq!(f.get(Feature::Aggr60), Some(0.5));
    assert_eq!(f.get(Feature::Cvd60), Some(0.0));
    assert_eq!(f.get(Feature::Volume60), Some(6.0));
    // Book after the diff: L1–5 bids 2+1+1+1+1 = 6, asks 15 → 6/21.
    let imb = f.get(Feature::DepthImbL5).unwrap();
    assert!((imb - 6.0 / 21.0).abs() < 1e-12, "{imb}");
    assert!((f.get(Feature::DepthImbL10).unwrap() - 0.25).abs() < 1e-12);
    let spread = f.get(Feature::SpotSpreadBp).unwrap();
    assert!((spread - 1.0 / 60_000.5 * 1e4).abs() < 1e-9);
    // OFI: the diff raised the best bid's size from 1 to 2 at the same price: e = 2 − 1 = +1.
    assert_eq!(f.get(Feature::Ofi60), Some(1.0));
    assert_eq!(f.get(Feature::LiqImb60), Some(0.5));
    assert!((f.get(Feature::MarkBasisBp).unwrap() - 0.5).abs() < 1e-9);
    assert_eq!(f.get(Feature::Funding), Some(0.0001));
    assert_eq!(f.get(Feature::Dvol), Some(45.5));
    // Consensus: Binance 60 005 (last trade, 2 s old), Coinbase 60 200, Chainlink 60 100:
    // median 60 100; spread (60 200 − 60 005)/60 100 > 10 bp → divergent.
    assert_eq!(f.get(Feature::ConsN), Some(3.0));
    assert_eq!(f.get(Feature::ConsDivergent), Some(1.0));
    let sp = f.get(Feature::ConsSpreadBp).unwrap();
    assert!((sp - 195.0 / 60_100.0 * 1e4).abs() < 1e-9);

    // A gap on the Binance spot stream drops its book and trade flow; USD-M stays.
    e.on_event(&ev(
        t0 + 48.0,
        EventKind::Gap(Gap {
            stream: "binance-spot".into(),
            reason: "disconnected".into(),
        }),
    ));
    let f = e.snapshot(&w, ns(t0 + 48.0)).features;
    assert_eq!(f.get(Feature::DepthImbL5), None);
    assert_eq!(f.get(Feature::Ofi60), None);
    assert_eq!(f.get(Feature::Aggr30), None);
    assert_eq!(f.get(Feature::LiqImb60), Some(0.5));
    // Ten minutes later everything has gone stale: missing again.
    let f = e.snapshot(&w, ns(t0 + 650.0)).features;
    for feat in [
        Feature::LiqImb60,
        Feature::Funding,
        Feature::Dvol,
        Feature::ConsSpreadBp,
    ] {
        assert_eq!(f.get(feat), None, "{feat:?}");
    }
    assert_eq!(f.get(Feature::ConsN), Some(0.0));
}

#[test]
fn polymarket_books_give_mid_microprice_and_imbalance() {
    let mut e = engine();
    let w = window();
    e.add_window(&w);
    let lvl = |p: &str, s: &str| Level {
        price: Price::parse(p).unwrap(),
        size: Size::parse(s).unwrap(),
    };
    // Only the Down book is recorded (as in cronos): the Up view is its mirror.
    let book = BookSnapshot {
        market: ConditionId([7; 32]),
        token: w.down_token.unwrap(),
        bids: vec![lvl("0.40", "100"), lvl("0.39", "50")],
        asks: vec![lvl("0.42", "300"), lvl("0.43", "10")],
        hash: None,
        tick_size: None,
        last_trade_price: None,
    };
    let t0 = START as f64 + 30.0;
    e.on_event(&ev(t0, EventKind::Book(book)));
    let f = e.snapshot(&w, ns(t0 + 1.0)).features;
    // Up bid = 1 − Down ask = 0.58, Up ask = 1 − Down bid = 0.60.
    assert_eq!(f.get(Feature::PmUpMid), Some(0.59));
    assert_eq!(e.market_mid(&w, ns(t0 + 1.0)), Some(0.59));
    let sp = f.get(Feature::PmUpSpread).unwrap();
    assert!((sp - 0.02).abs() < 1e-12);
    // Down microprice: (0.40·300 + 0.42·100)/400.
    let dm = f.get(Feature::PmDownMicro).unwrap();
    assert!((dm - (0.40 * 300.0 + 0.42 * 100.0) / 400.0).abs() < 1e-12);
    let um = f.get(Feature::PmUpMicro).unwrap();
    assert!((um - (1.0 - dm)).abs() < 1e-12);
    assert!((f.get(Feature::PmDownImb5).unwrap() - 150.0 / 460.0).abs() < 1e-12);
    assert!((f.get(Feature::PmUpImb5).unwrap() - 310.0 / 460.0).abs() < 1e-12);
    // Stale after 5 s: no mid, but the age is known.
    let f = e.snapshot(&w, ns(t0 + 6.0)).features;
    assert_eq!(f.get(Feature::PmUpMid), None);
    assert_eq!(f.get(Feature::PmBookAgeS), Some(6.0));
    // A gap on the market channel drops the books.
    e.on_event(&ev(
        t0 + 2.0,
        EventKind::Gap(Gap {
            stream: "polymarket-market".into(),
            reason: "reconnect".into(),
        }),
    ));
    let f = e.snapshot(&w, ns(t0 + 2.0)).features;
    assert_eq!(f.get(Feature::PmBookAgeS), None);
    assert_eq!(f.get(Feature::PmUpMid), None);
}

#[test]
fn klines_make_candles_for_the_indicators() {
    let mut e = engine();
    let w = window();
    // 70 one-minute USD-M klines ending at the window start, closes rising by 1.
    for i in 0..70u64 {
        let open = START - (70 - i) * 60;
        let close = 60_000.0 + i as f64;
        e.on_event(&ev(
            (open + 60) as f64 + 0.1,
            EventKind::Kline(Kline {
                venue: Venue::BinanceUsdm,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                open_time: UnixNanos::from_secs(open),
                close_time: UnixNanos(UnixNanos::from_secs(open + 60).0 - UnixNanos::PER_MS),
                open: fx(close - 1.0),
                high: fx(close + 0.5),
                low: fx(close - 1.5),
                close: fx(close),
                volume: fx(10.0),
                closed: true,
            }),
        ));
    }
    let s = e.snapshot(&w, ns(START as f64 + 30.0));
    assert_eq!(s.meta.candles, Some("binance_usdm_klines"));
    let f = &s.features;
    assert_eq!(f.get(Feature::Rsi14), Some(100.0)); // only gains
    let trend = f.get(Feature::Trend1h).unwrap();
    assert!((trend - (60_069.0f64 / 60_009.0).ln()).abs() < 1e-12);
    // Klines are also the reference series (coarse): the strike is the open of the candle that
    // opens at the start — not received yet — so the close of the one before.
    assert_eq!(s.meta.reference, Some("kline_binance_usdm"));
    assert_eq!(s.meta.strike, Some(60_069.0));
    // The 30 s momentum needs a point at most 15 s old: a kline close is 30 s old here.
    assert_eq!(f.get(Feature::Mom30), None);
    assert!(f.get(Feature::Mom120).is_some());
}
