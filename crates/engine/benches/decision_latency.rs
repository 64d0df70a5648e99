//! Frame received → order intent, inside the engine: how long after `Engine::process` starts on a
//! market event a strategy has its order intent in hand — the book update, the reference state, the
//! executor's market update and poll, the delivery of its reports, and the strategy's own work
//! (fair value from the engine's reference state, Kelly sizing, the order). Also the same measured
//! from the raw frame bytes (parse included), as `polyedge run` sees them.
//!
//! The strategy decides on every Polymarket book event of an active window: it asks the fair value
//! (Black–Scholes with the default settings), sizes a buy of the cheaper side at its best ask with
//! quarter-Kelly and submits it (most are then refused by the risk check, which runs after the
//! intent exists and is not part of this latency). Data: the whole shared cronos recording when
//! `../shared/data` is beside the checkout, else the bundled sample. Prints p50, p90, p99, p99.9
//! and max over every decision, and the machine load.
//!
//! Run: `cargo bench -p polyedge-engine --bench decision_latency`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use polyedge_core::{MarketEvent, OrderId, OrderIntent, Outcome, Side, Size, TimeInForce};
use polyedge_engine::{Engine, EngineConfig, Input, WindowTracker, index_schedule};
use polyedge_model::OnlineConfig;
use polyedge_store::import::{ImportKind, import};
use polyedge_store::{EventReplay, FrameReplay, NoProgress, Recording, ReplayFilter};
use polyedge_strategies::sizing::{SizingParams, fee_per_share};
use polyedge_strategies::{Ctx, Strategy, affected_windows};

/// Decides on every book event; records when each intent was made.
struct Decider {
    fair: OnlineConfig,
    sizing: SizingParams,
    stamps: Arc<Mutex<Vec<Instant>>>,
}

impl Strategy for Decider {
    fn name(&self) -> &'static str {
        "decider"
    }

    fn fair_value_configs(&self) -> Vec<OnlineConfig> {
        vec![self.fair.clone()]
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        if ev.kind.token().is_none() {
            return;
        }
        for slug in affected_windows(ctx.view(), ev) {
            let view = ctx.view();
            let Some(w) = view.window(&slug) else {
                continue;
            };
            let Some(p_up) = view.fair_value(w, &self.fair).p_up else {
                continue;
            };
            let Some(book) = view.book(&slug) else {
                continue;
            };
            let fees = view.fee_schedule(&slug);
            let best = [(Outcome::Up, p_up), (Outcome::Down, 1.0 - p_up)]
                .into_iter()
                .filter_map(|(o, p)| Some((o, p, book.best_ask(o)?.level.price)))
                .max_by(|a, b| (a.1 - a.2.to_f64()).total_cmp(&(b.1 - b.2.to_f64())));
            let Some((outcome, prob, ask)) = best else {
                continue;
            };
            let cost = ask.to_f64() + fee_per_share(fees, ask);
            let stake = self
                .sizing
                .kelly_stake(view, prob, cost)
                .max(polyedge_core::Cash(5_000_000));
            let shares = (stake.to_f64() / cost).floor().max(5.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let size = Size::from_shares(shares as u64);
            ctx.submit(OrderIntent {
                id: OrderId(0),
                window: slug.clone(),
                outcome,
                side: Side::Buy,
                price: ask,
                size,
                tif: TimeInForce::Fak,
                post_only: false,
            });
            self.stamps.lock().unwrap().push(Instant::now());
        }
    }
}

fn source() -> (PathBuf, &'static str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/data/cronos_btc5m_books");
    if shared.is_dir() {
        (shared, "cronos (shared, 161 windows)")
    } else {
        (root.join("data/sample"), "cronos sample (10 windows)")
    }
}

fn engine(stamps: &Arc<Mutex<Vec<Instant>>>) -> Engine {
    let s = Decider {
        fair: OnlineConfig::default(),
        sizing: SizingParams::default(),
        stamps: Arc::clone(stamps),
    };
    Engine::simulated(EngineConfig::default(), vec![Box::new(s)]).unwrap()
}

fn pct(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let k = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[k]
}

fn print(label: &str, mut v: Vec<u64>) {
    v.sort_unstable();
    println!(
        "{label}: {} decisions; p50 {:.2} µs, p90 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.2} µs",
        v.len(),
        pct(&v, 0.5) as f64 / 1e3,
        pct(&v, 0.9) as f64 / 1e3,
        pct(&v, 0.99) as f64 / 1e3,
        pct(&v, 0.999) as f64 / 1e3,
        v.last().copied().unwrap_or(0) as f64 / 1e3,
    );
}

fn main() {
    let (src, label) = source();
    let tmp = tempfile::tempdir().unwrap();
    let rec_dir = tmp.path().join("rec");
    import(ImportKind::Cronos, &src, &rec_dir, &NoProgress).unwrap();
    let rec = Recording::open(&rec_dir).unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("decision latency on {label}; load average: {}", load.trim());

    // 1. Engine only: events parsed beforehand, time from `process` entry to the intent.
    let events: Vec<MarketEvent> =
        EventReplay::open(std::slice::from_ref(&rec), ReplayFilter::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let mut eng = engine(&stamps);
    let mut schedule = index_schedule(rec.windows()).into_iter().peekable();
    let mut lat = Vec::new();
    let t_all = Instant::now();
    for ev in events {
        while schedule.peek().is_some_and(|i| i.time() <= ev.recv_ns) {
            eng.process(schedule.next().unwrap());
        }
        let before = stamps.lock().unwrap().len();
        let t0 = Instant::now();
        eng.process(Input::Market(ev));
        let s = stamps.lock().unwrap();
        if let Some(first) = s.get(before) {
            lat.push(u64::try_from(first.duration_since(t0).as_nanos()).unwrap_or(u64::MAX));
        }
    }
    let total = t_all.elapsed();
    print("event → intent (Engine::process)", lat);
    println!(
        "  whole replay through the engine: {:.2} s",
        total.as_secs_f64()
    );

    // 2. Raw frame → parse → engine → intent, as `polyedge run` gets frames from its recorder.
    let frames: Vec<(polyedge_venues::Feed, polyedge_core::UnixNanos, Vec<u8>)> =
        FrameReplay::open(std::slice::from_ref(&rec), ReplayFilter::default())
            .unwrap()
            .map(Result::unwrap)
            .map(|f| (f.stream.feed, f.recv_ns, f.bytes))
            .collect();
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let mut eng = engine(&stamps);
    let mut schedule = index_schedule(rec.windows()).into_iter().peekable();
    let mut tracker = WindowTracker::new();
    let mut buf = Vec::new();
    let mut lat = Vec::new();
    for (feed, t, bytes) in frames {
        while schedule.peek().is_some_and(|i| i.time() <= t) {
            eng.process(schedule.next().unwrap());
        }
        let before = stamps.lock().unwrap().len();
        let t0 = Instant::now();
        buf.clear();
        if feed.parse(&bytes, t, &mut buf).is_err() {
            continue;
        }
        for ev in buf.drain(..) {
            if let polyedge_core::EventKind::WindowUpdate(w) = &ev.kind {
                for i in tracker.update(w, ev.recv_ns) {
                    eng.process(i);
                }
                continue;
            }
            eng.process(Input::Market(ev));
        }
        let s = stamps.lock().unwrap();
        if let Some(first) = s.get(before) {
            lat.push(u64::try_from(first.duration_since(t0).as_nanos()).unwrap_or(u64::MAX));
        }
    }
    print("frame bytes → intent (parse + Engine::process)", lat);
}
