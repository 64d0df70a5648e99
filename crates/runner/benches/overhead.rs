//! Issue 11: what the operations surface costs the engine thread of `polyedge run` — the
//! decision log and the Prometheus metrics on versus off — on the same frames.
//!
//! The frames of a recording (default: the bundled sample, imported; `POLYEDGE_BENCH_RECORDING`
//! names another, e.g. the cronos recording) are read into memory first, then each variant
//! handles all of them as the run's engine thread does (parse → engine, paper mode, every
//! registered strategy):
//!
//! * `off` — parse and `Engine::process` only, decision logging off, no metrics recorder;
//! * `log` — [`EngineLoop`] (decision log written to a temporary file), no metrics recorder;
//! * `log+metrics` — [`EngineLoop`] with [`RunMetrics`] and a Prometheus recorder installed, as
//!   `polyedge run --control` does.
//!
//! The three run in turn, round after round (`POLYEDGE_BENCH_ROUNDS`, default 7), after one
//! warm-up each; it prints each one's median, min and max and its cost against `off`.
//!
//! `cargo bench -p polyedge-runner --bench overhead`; figures in BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polyedge_core::{EventKind, UnixNanos};
use polyedge_engine::{Input, WindowTracker};
use polyedge_runner::metrics::RunMetrics;
use polyedge_runner::status::Status;
use polyedge_runner::{EngineLoop, Mode, RunConfig, build_engine};
use polyedge_store::{FrameReplay, NoProgress, Recording, ReplayFilter};
use polyedge_venues::Feed;

type Frames = Vec<(Feed, UnixNanos, Vec<u8>)>;

fn recording() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Ok(p) = std::env::var("POLYEDGE_BENCH_RECORDING") {
        return (PathBuf::from(p), None);
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    polyedge_store::import::import("cronos".parse().unwrap(), &src, &out, &NoProgress)
        .expect("import the bundled sample");
    (out, Some(tmp))
}

fn frames() -> Frames {
    let (dir, _tmp) = recording();
    let rec = Recording::open(&dir).unwrap();
    let replay = FrameReplay::open(&[rec], ReplayFilter::default()).unwrap();
    replay
        .map(|f| {
            let f = f.unwrap();
            (f.stream.feed, f.recv_ns, f.bytes)
        })
        .collect()
}

fn engine() -> polyedge_engine::Engine {
    build_engine(Mode::Paper, &RunConfig::defaults(), None, Some(1)).unwrap()
}

fn quiet() -> Status {
    let mut s = Status::new("paper", Duration::from_secs(1 << 30), None);
    s.set_quiet(true);
    s
}

/// Parse → engine, nothing exported.
fn off(frames: &Frames) -> u64 {
    let mut engine = engine();
    let mut tracker = WindowTracker::new();
    let mut events = Vec::new();
    let mut n = 0;
    for (feed, t, bytes) in frames {
        events.clear();
        let _ = feed.parse(bytes, *t, &mut events);
        for ev in events.drain(..) {
            if let EventKind::WindowUpdate(w) = &ev.kind {
                for input in tracker.update(w, ev.recv_ns) {
                    engine.process(input);
                }
                continue;
            }
            n += 1;
            engine.process(Input::Market(ev));
        }
    }
    n
}

fn with_loop(frames: &Frames, metrics: bool) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let mut lp = EngineLoop::new(engine, &dir.path().join("decisions.jsonl"), quiet()).unwrap();
    if metrics {
        // As on the real feeds: receive stamps are the wall clock.
        let m = RunMetrics::new(lp.engine(), true);
        lp = lp.with_metrics(m);
    }
    for (feed, t, bytes) in frames {
        lp.frame(*feed, *t, bytes);
    }
    lp.flush();
    lp.stats().events
}

/// Median and range of `v` (ms).
fn summary(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let rounds: usize = std::env::var("POLYEDGE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let frames = frames();
    let bytes: usize = frames.iter().map(|f| f.2.len()).sum();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let variants: [(&str, &dyn Fn() -> u64); 3] = [
        ("off", &|| off(&frames)),
        ("log", &|| with_loop(&frames, false)),
        ("log+metrics", &|| {
            metrics::with_local_recorder(&recorder, || with_loop(&frames, true))
        }),
    ];
    // One warm-up of each, then the variants in turn, round after round, so that drift in the
    // machine's speed touches all three alike.
    for (_, f) in &variants {
        std::hint::black_box(f());
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in variants.iter().enumerate() {
            let t0 = Instant::now();
            std::hint::black_box(f());
            times[i].push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!(
        "{} frames ({} MB of JSON) in memory, every registered strategy, paper mode; {rounds} rounds",
        frames.len(),
        bytes / 1_000_000
    );
    let (base, _, _) = summary(&mut times[0].clone());
    for (i, (name, _)) in variants.iter().enumerate() {
        let (med, lo, hi) = summary(&mut times[i]);
        println!(
            "{name:>12}: median {med:8.1} ms (min {lo:.1}, max {hi:.1}); {:+.1} % against off",
            (med / base - 1.0) * 100.0
        );
    }
    let text = recorder.handle().render();
    println!(
        "metrics exposition after the runs: {} series lines",
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
}
