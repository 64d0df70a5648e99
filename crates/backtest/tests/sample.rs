//! The backtest on the bundled sample: report consistency, determinism, the seed, the time
//! range, baselines off, and the example configuration.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::PathBuf;

use polyedge_backtest::{BacktestConfig, Inputs, summary, write_report};
use polyedge_core::UnixNanos;
use polyedge_store::NoProgress;
use polyedge_strategies::registry;

fn sample(dir: &std::path::Path) -> PathBuf {
    common::import_cronos(&common::repo().join("data/sample"), dir, "sample")
}

fn run_json(inputs: &Inputs) -> String {
    let bt = polyedge_backtest::run(inputs, &NoProgress).unwrap();
    summary::to_json(&summary::build(&bt)).unwrap()
}

#[test]
fn report_on_the_sample_is_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = Inputs {
        recordings: vec![sample(tmp.path())],
        clickhouse: None,
        ..Inputs::default()
    };
    let bt = polyedge_backtest::run(&inputs, &NoProgress).unwrap();
    assert_eq!(bt.windows.len(), 10);
    let s = summary::build(&bt);
    let out = tmp.path().join("out");
    let files = write_report(&bt, &s, &out).unwrap();
    assert_eq!(files.len(), polyedge_backtest::REPORT_FILES.len());
    common::check_report(&bt, &s, &out);
}

#[test]
fn same_recording_config_and_seed_give_identical_summaries() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = sample(tmp.path());
    // A second import of the same data in another directory of the same name.
    let other = tmp.path().join("b");
    std::fs::create_dir(&other).unwrap();
    let rec2 = sample(&other);
    let config =
        BacktestConfig::parse("seed = 7\n[engine]\nstart_cash = \"500\"\n", "t.toml").unwrap();
    let inputs = |r: &PathBuf| Inputs {
        recordings: vec![r.clone()],
        clickhouse: None,
        config: config.clone(),
        ..Inputs::default()
    };
    let a = run_json(&inputs(&rec));
    let b = run_json(&inputs(&rec));
    let c = run_json(&inputs(&rec2));
    assert_eq!(a, b, "same inputs, different summary.json");
    // The replay read ahead on a second thread (the default) or on the engine's: same file.
    let one_thread = run_json(&Inputs {
        single_thread: true,
        ..inputs(&rec)
    });
    assert_eq!(a, one_thread, "the reader thread changed the result");
    assert_eq!(
        a, c,
        "the report must not depend on where the recording lies"
    );
    assert!(a.contains("\"seed\": 7"));
    assert!(a.contains("\"start_cash\": \"500\""));
    // The seed is the run's: another one changes at least the twins' coin flips (and the file).
    let other_seed = Inputs {
        seed: Some(8),
        ..inputs(&rec)
    };
    assert_ne!(run_json(&other_seed), a);
}

#[test]
fn range_strategies_and_baseline_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = sample(tmp.path());
    // 13:00 → 13:20 UTC on 2026-04-15: four whole windows.
    let from = UnixNanos::from_secs(1_776_258_000);
    let to = UnixNanos::from_secs(1_776_259_200);
    let mut config = BacktestConfig::default();
    config.baseline = false;
    let inputs = Inputs {
        recordings: vec![rec],
        clickhouse: None,
        strategies: Some(vec!["random".into()]),
        config,
        from: Some(from),
        to: Some(to),
        seed: None,
        skip_corrupt: false,
        decision_log: None,
        single_thread: true,
    };
    let bt = polyedge_backtest::run(&inputs, &NoProgress).unwrap();
    assert_eq!(bt.windows.len(), 4);
    assert!(bt.windows.iter().all(|w| w.start >= from && w.end <= to));
    assert!(bt.baselines.is_none());
    assert_eq!(bt.strategies.len(), 1);
    let r = &bt.main.strategies[0];
    assert!(r.fills.iter().all(|f| f.at >= from && f.at < to));
    assert!(bt.main.first_event_ns.unwrap() >= from);
    let s = summary::build(&bt);
    assert!(s.strategies[0].baseline.is_none());
    assert_eq!(s.range.from.as_deref(), Some("2026-04-15T13:00:00.000Z"));
}

#[test]
fn the_example_configuration_is_valid() {
    let path = common::repo().join("config/backtest.example.toml");
    let c = BacktestConfig::load(&path).unwrap();
    for name in c.strategy_names(None).unwrap() {
        c.build(&name, 1).unwrap();
    }
    for name in c.strategies.keys() {
        assert!(registry::NAMES.contains(&name.as_str()));
        c.build(name, 1).unwrap();
    }
    // Its engine values are the defaults.
    assert_eq!(c.engine, polyedge_engine::EngineConfig::default());
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let e = polyedge_backtest::run(
        &Inputs {
            recordings: vec![missing.clone()],
            clickhouse: None,
            ..Inputs::default()
        },
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    let e = polyedge_backtest::run(
        &Inputs {
            recordings: vec![sample(tmp.path())],
            clickhouse: None,
            strategies: Some(vec!["fair_valu".into()]),
            ..Inputs::default()
        },
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("fair_valu") && e.contains("known:"), "{e}");
    let e = polyedge_backtest::run(&Inputs::default(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no recordings"), "{e}");
}
