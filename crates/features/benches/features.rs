//! Feature update cost per event (target: all features for one event ≤ 2 µs median).
//!
//! Two streams, prepared in memory before timing:
//! * `live_mix` — a synthetic stream at the rates `polyedge collect` records for one BTC 5-minute
//!   window, per second: 20 Binance spot trades, 10 depth diffs of 5 levels (after a REST
//!   snapshot of 1 000 levels a side), 5 bookTicker quotes, 5 Coinbase trades, 1 Chainlink tick,
//!   1 USDⓈ-M mark price, 20 Polymarket `price_change` levels — 30 minutes of it;
//! * `cronos_sample` — every event of the bundled cronos sample (real Polymarket full-book frames
//!   and Binance klines), imported into a temporary recording.
//!
//! Benchmarks: `on_event` (feed the whole stream; criterion's time per stream ÷ events = mean cost
//! per event), `on_event+snapshot` (feed each event then compute the window's full feature
//! vector — "all features for one event"), and `snapshot` alone. Before the criterion runs, one
//! pass times every event separately with `Instant` and prints the median and p99 per event
//! (timer overhead ≈ 20–40 ns included).
//! Run: `cargo bench -p polyedge-features --bench features`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    missing_docs
)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use polyedge_core::event::{
    BookDelta, MarkPrice, ReferenceSource, ReferenceTick, SpotDepth, SpotLevel, SpotQuote,
    SpotTrade, Venue,
};
use polyedge_core::{
    Asset, BookSide, ConditionId, EventKind, Fixed18, MarketEvent, Price, Side, Size, Symbol,
    TokenId, UnixNanos, Window, WindowDuration,
};
use polyedge_features::FeatureEngine;
use polyedge_model::online::OnlineConfig;
use polyedge_store::import::{ImportKind, import};
use polyedge_store::{EventReplay, NoProgress, Recording, ReplayFilter};

const START: u64 = 1_776_000_000;

fn fx(x: f64) -> Fixed18 {
    Fixed18((x * 1e8).round() as i128 * 10_000_000_000)
}

fn live_mix(window: &Window, seconds: u64) -> Vec<MarketEvent> {
    let sym = Symbol::new("BTCUSDT").unwrap();
    let mut out = Vec::new();
    let t0 = START - seconds / 2;
    let ev = |t: f64, kind| MarketEvent {
        recv_ns: UnixNanos((t * 1e9) as u64),
        venue_ns: Some(UnixNanos((t * 1e9) as u64)),
        kind,
    };
    let mut price = 60_000.0;
    let mut id = 1_000u64;
    let levels = |p: f64, side: f64, n: usize| -> Vec<SpotLevel> {
        (0..n)
            .map(|i| SpotLevel {
                price: fx(p + side * 0.01 * (i as f64 + 1.0)),
                qty: fx(0.5 + (i % 7) as f64 * 0.1),
            })
            .collect()
    };
    out.push(ev(
        t0 as f64,
        EventKind::SpotDepth(SpotDepth {
            venue: Venue::BinanceSpot,
            symbol: Some(sym),
            is_snapshot: true,
            first_update_id: None,
            last_update_id: Some(id),
            prev_update_id: None,
            bids: levels(price, -1.0, 1_000),
            asks: levels(price, 1.0, 1_000),
        }),
    ));
    let mut rng: u64 = 7;
    let mut rnd = || {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((rng >> 11) as f64) / ((1u64 << 53) as f64)
    };
    for s in 0..seconds {
        let base = (t0 + s) as f64;
        for k in 0..20 {
            let t = base + f64::from(k) / 20.0;
            price += (rnd() - 0.5) * 2.0;
            out.push(ev(
                t,
                EventKind::SpotTrade(SpotTrade {
                    venue: Venue::BinanceSpot,
                    symbol: sym,
                    price: fx(price),
                    qty: fx(0.001 + rnd() * 0.1),
                    taker_side: Some(if rnd() < 0.5 { Side::Buy } else { Side::Sell }),
                    trade_id: None,
                }),
            ));
            if k % 2 == 0 {
                let n = 5;
                out.push(ev(
                    t + 0.01,
                    EventKind::SpotDepth(SpotDepth {
                        venue: Venue::BinanceSpot,
                        symbol: Some(sym),
                        is_snapshot: false,
                        first_update_id: Some(id + 1),
                        last_update_id: Some(id + 3),
                        prev_update_id: None,
                        bids: levels(price - 0.5, -1.0, n),
                        asks: levels(price + 0.5, 1.0, n),
                    }),
                ));
                id += 3;
            }
            if k % 4 == 0 {
                out.push(ev(
                    t + 0.02,
                    EventKind::SpotQuote(SpotQuote {
                        venue: Venue::BinanceSpot,
                        symbol: sym,
                        bid: fx(price - 0.01),
                        bid_qty: fx(1.0),
                        ask: fx(price + 0.01),
                        ask_qty: fx(1.0),
                        update_id: None,
                    }),
                ));
                out.push(ev(
                    t + 0.03,
                    EventKind::SpotTrade(SpotTrade {
                        venue: Venue::Coinbase,
                        symbol: Symbol::new("BTC-USD").unwrap(),
                        price: fx(price + 3.0),
                        qty: fx(0.01),
                        taker_side: Some(Side::Buy),
                        trade_id: None,
                    }),
                ));
            }
            let up = rnd() < 0.5;
            let p = Price::from_micros(400_000 + (rnd() * 200.0) as u32 * 1_000).unwrap();
            out.push(ev(
                t + 0.04,
                EventKind::BookDelta(BookDelta {
                    market: ConditionId([1; 32]),
                    token: if up {
                        window.up_token.unwrap()
                    } else {
                        window.down_token.unwrap()
                    },
                    side: if rnd() < 0.5 {
                        BookSide::Bid
                    } else {
                        BookSide::Ask
                    },
                    price: p,
                    size: Size::parse(&format!("{}", (rnd() * 500.0).round())).unwrap(),
                    best_bid: None,
                    best_ask: None,
                }),
            ));
        }
        out.push(ev(
            base + 0.5,
            EventKind::Reference(ReferenceTick {
                source: ReferenceSource::Chainlink,
                symbol: Symbol::new("btc/usd").unwrap(),
                price: fx(price + 1.0),
                backfill: false,
            }),
        ));
        out.push(ev(
            base + 0.6,
            EventKind::MarkPrice(MarkPrice {
                venue: Venue::BinanceUsdm,
                symbol: sym,
                mark: fx(price + 5.0),
                index: fx(price),
                funding_rate: fx(0.0001),
                next_funding: UnixNanos(0),
            }),
        ));
    }
    out.sort_by_key(|e| e.recv_ns);
    out
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

fn cronos_sample() -> (Vec<MarketEvent>, Vec<Window>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().unwrap();
    let rec_dir = tmp.path().join("rec");
    import(
        ImportKind::Cronos,
        &root.join("data/sample"),
        &rec_dir,
        &NoProgress,
    )
    .unwrap();
    let rec = Recording::open(&rec_dir).unwrap();
    let windows = rec.windows().to_vec();
    let events: Vec<MarketEvent> =
        EventReplay::open(std::slice::from_ref(&rec), ReplayFilter::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    (events, windows)
}

fn fresh(windows: &[Window]) -> FeatureEngine {
    let mut e = FeatureEngine::new(&OnlineConfig::default()).unwrap();
    for w in windows {
        e.add_window(w);
    }
    e
}

/// Window whose features are computed after each event: the one running at that time.
fn current(windows: &[Window], t: UnixNanos) -> &Window {
    windows
        .iter()
        .find(|w| w.start <= t && t < w.end)
        .unwrap_or(&windows[0])
}

fn percentiles(name: &str, events: &[MarketEvent], windows: &[Window], with_snapshot: bool) {
    let mut e = fresh(windows);
    let mut ns: Vec<u64> = Vec::with_capacity(events.len());
    for ev in events {
        let w = current(windows, ev.recv_ns);
        let t = Instant::now();
        e.on_event(ev);
        if with_snapshot {
            black_box(e.snapshot(w, ev.recv_ns));
        }
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ns.sort_unstable();
    let q = |p: f64| ns[((ns.len() - 1) as f64 * p) as usize];
    println!(
        "{name}{}: {} events, per event median {} ns, p90 {} ns, p99 {} ns, max {} ns",
        if with_snapshot {
            " (on_event + snapshot)"
        } else {
            " (on_event)"
        },
        ns.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        ns[ns.len() - 1]
    );
}

fn bench(c: &mut Criterion) {
    let w = window();
    let live = live_mix(&w, 1_800);
    let live_windows = vec![w.clone()];
    let (sample, sample_windows) = cronos_sample();
    for (name, events, windows) in [
        ("live_mix", &live, &live_windows),
        ("cronos_sample", &sample, &sample_windows),
    ] {
        percentiles(name, events, windows, false);
        percentiles(name, events, windows, true);
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.throughput(Throughput::Elements(events.len() as u64));
        g.bench_function("on_event", |b| {
            b.iter_batched(
                || fresh(windows),
                |mut e| {
                    for ev in events {
                        e.on_event(ev);
                    }
                    e
                },
                BatchSize::LargeInput,
            );
        });
        g.bench_function("on_event+snapshot", |b| {
            b.iter_batched(
                || fresh(windows),
                |mut e| {
                    for ev in events {
                        e.on_event(ev);
                        black_box(e.snapshot(current(windows, ev.recv_ns), ev.recv_ns));
                    }
                    e
                },
                BatchSize::LargeInput,
            );
        });
        g.finish();
    }
    // Snapshot alone, on the live mix's state at its window's middle.
    let mut e = fresh(&live_windows);
    let mid = UnixNanos::from_secs(START + 150);
    for ev in live.iter().filter(|e| e.recv_ns <= mid) {
        e.on_event(ev);
    }
    c.bench_function("snapshot (live_mix state)", |b| {
        b.iter(|| black_box(e.snapshot(&w, mid)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
