//! Backtest throughput with every registered strategy running: the whole shared cronos
//! recording (436,432 frames, 161 windows) when `../shared/data` is present, else the bundled
//! 10-window sample.
//!
//! Two levels, each timed from opening the recording (load included), single-threaded:
//! * `strategies` — one pass: replay + engine with every strategy of the registry (no random
//!   twins; `baseline = false`);
//! * `with_baselines` — what `polyedge backtest` does: the strategies' pass, then the pass of
//!   their random twins, then the summary (metrics of every strategy and twin).
//!
//! Throughput is in frames of the recording (per pass); frames/s is printed once per level.
//! Run: `cargo bench -p polyedge-backtest --bench backtest`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use polyedge_backtest::{BacktestConfig, Inputs, summary};
use polyedge_store::NoProgress;
use polyedge_store::import::{ImportKind, import};
use polyedge_strategies::registry;

fn source() -> (PathBuf, &'static str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/data/cronos_btc5m_books");
    if shared.is_dir() {
        (shared, "cronos (shared, 161 windows)")
    } else {
        (root.join("data/sample"), "cronos sample (10 windows)")
    }
}

fn inputs(rec: &Path, baseline: bool) -> Inputs {
    let mut config = BacktestConfig::default();
    config.baseline = baseline;
    Inputs {
        recordings: vec![rec.to_path_buf()],
        clickhouse: None,
        config,
        ..Inputs::default()
    }
}

fn bench(c: &mut Criterion) {
    let (src, label) = source();
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import(ImportKind::Cronos, &src, &rec, &NoProgress).unwrap();
    let once = polyedge_backtest::run(&inputs(&rec, false), &NoProgress).unwrap();
    let frames = once.main_replay.frames;
    eprintln!(
        "backtest bench on {label}: {frames} frames, {} windows, strategies: {}",
        once.windows.len(),
        registry::NAMES.join(", ")
    );
    let mut g = c.benchmark_group("backtest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames));
    for (name, baseline) in [("strategies", false), ("with_baselines", true)] {
        let t = Instant::now();
        let bt = polyedge_backtest::run(&inputs(&rec, baseline), &NoProgress).unwrap();
        let s = summary::build(&bt);
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "{name}: one run {secs:.2} s = {:.0} frames/s of the recording ({} strategies{})",
            frames as f64 / secs,
            s.strategies.len(),
            if baseline { " + twins, 2 passes" } else { "" }
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let bt = polyedge_backtest::run(&inputs(&rec, baseline), &NoProgress).unwrap();
                std::hint::black_box(summary::build(&bt));
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
