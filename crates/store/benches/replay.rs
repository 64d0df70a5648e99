//! Replay throughput of a real recording: the shared cronos dataset (435,480 full-depth `book`
//! frames, 3 days) when `../shared/data` is present, else the bundled 10-window sample.
//!
//! Three levels, each timed from opening the recording (load included):
//! * `frames` — decompress and merge the raw frames (no parsing);
//! * `events` — plus parsing every frame into `MarketEvent`s;
//! * `events_pipelined` — the same events through `PipelinedEvents` (reading and parsing on a
//!   second thread, this one only counting), as `polyedge backtest` reads them;
//! * `books` — plus applying every book event to its window's `WindowBook` and reading the best
//!   bid/ask of both outcomes, the job `../shared/docs/anchor-benchmarks.md` times for
//!   hftbacktest and NautilusTrader.
//!
//! Throughput is reported per raw JSON byte; frames/s is printed once per level.
//! Run: `cargo bench -p polyedge-store --bench replay`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use polyedge_core::{Outcome, TokenId, WindowBook};
use polyedge_store::import::{ImportKind, import};
use polyedge_store::{
    EventReplay, FrameReplay, NoProgress, PipelinedEvents, Recording, ReplayFilter,
};

fn source() -> (PathBuf, &'static str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/data/cronos_btc5m_books");
    if shared.is_dir() {
        (shared, "cronos (shared, 161 windows)")
    } else {
        (root.join("data/sample"), "cronos sample (10 windows)")
    }
}

/// Frames, raw bytes.
fn replay_frames(rec: &Recording) -> (u64, u64) {
    let mut r = FrameReplay::open(std::slice::from_ref(rec), ReplayFilter::default()).unwrap();
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        n += 1;
        bytes += f.bytes.len() as u64;
    }
    (n, bytes)
}

fn replay_events(rec: &Recording) -> u64 {
    let mut r = FrameReplay::open(std::slice::from_ref(rec), ReplayFilter::default()).unwrap();
    let mut out = Vec::with_capacity(64);
    let mut events = 0u64;
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        out.clear();
        f.stream.feed.parse(f.bytes, f.recv_ns, &mut out).unwrap();
        events += out.len() as u64;
    }
    events
}

/// As `replay_events`, through [`PipelinedEvents`]: reading and parsing on a second thread,
/// this one only counting (the events of the backtest's replay).
fn replay_events_pipelined(rec: &Recording) -> u64 {
    let r = EventReplay::open(std::slice::from_ref(rec), ReplayFilter::default()).unwrap();
    let mut p = PipelinedEvents::spawn(r).unwrap();
    let mut events = 0u64;
    for ev in p.by_ref() {
        black_box(ev.unwrap());
        events += 1;
    }
    events
}

fn replay_books(rec: &Recording) -> u64 {
    let mut books: Vec<WindowBook> = Vec::new();
    let mut by_token: HashMap<TokenId, usize> = HashMap::new();
    for w in rec.windows() {
        let up = w
            .up_token
            .unwrap_or_else(|| TokenId::synthetic(&w.slug, "up"));
        let down = w
            .down_token
            .unwrap_or_else(|| TokenId::synthetic(&w.slug, "down"));
        by_token.insert(up, books.len());
        by_token.insert(down, books.len());
        books.push(WindowBook::new(up, down));
    }
    let mut r = FrameReplay::open(std::slice::from_ref(rec), ReplayFilter::default()).unwrap();
    let mut out = Vec::with_capacity(64);
    let mut checksum = 0u64;
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        out.clear();
        f.stream.feed.parse(f.bytes, f.recv_ns, &mut out).unwrap();
        for ev in &out {
            let Some(i) = ev.kind.token().and_then(|t| by_token.get(&t).copied()) else {
                continue;
            };
            let wb = &mut books[i];
            if wb.apply(ev).unwrap() {
                let a = wb
                    .best_ask(Outcome::Up)
                    .map_or(0, |l| l.level.price.micros());
                let b = wb
                    .best_bid(Outcome::Down)
                    .map_or(0, |l| l.level.price.micros());
                checksum = checksum.wrapping_add(u64::from(a ^ b));
            }
        }
    }
    checksum
}

fn bench(c: &mut Criterion) {
    let (src, label) = source();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let t0 = Instant::now();
    import(ImportKind::Cronos, &src, &dir, &NoProgress).unwrap();
    eprintln!(
        "replay bench on {label}: import took {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let rec = Recording::open(&dir).unwrap();
    let (frames, bytes) = replay_frames(&rec);
    eprintln!(
        "replay bench: {frames} frames, {:.1} MB of raw frames",
        bytes as f64 / 1e6
    );

    let mut g = c.benchmark_group(format!(
        "replay/{}",
        if label.starts_with("cronos (shared") {
            "cronos"
        } else {
            "sample"
        }
    ));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    for (name, f) in [
        (
            "frames",
            (|r: &Recording| replay_frames(r).0) as fn(&Recording) -> u64,
        ),
        ("events", replay_events),
        ("events_pipelined", replay_events_pipelined),
        ("books", replay_books),
    ] {
        let t = Instant::now();
        black_box(f(&rec));
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "replay {name}: one pass {s:.2} s = {:.0} frames/s, {:.0} MB/s",
            frames as f64 / s,
            bytes as f64 / 1e6 / s
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let rec = Recording::open(&dir).unwrap();
                black_box(f(&rec))
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
