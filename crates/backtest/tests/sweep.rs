//! `polyedge sweep` and `polyedge walk-forward` on the bundled sample: the same seed gives
//! byte-identical tables (whatever the number of threads), shards merge into the single run's
//! table, and a walk-forward picks in sample and reports out of sample.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};

use polyedge_backtest::Inputs;
use polyedge_backtest::sweep::{self, Axis, Objective, Search, Shard, SweepSpec};
use polyedge_backtest::sweep_files::{self, SWEEP_FILES, SweepData};
use polyedge_backtest::walkforward::{self, Split};
use polyedge_store::NoProgress;

fn sample(dir: &Path) -> PathBuf {
    common::import_cronos(&common::repo().join("data/sample"), dir, "sample")
}

fn spec(search: Search) -> SweepSpec {
    SweepSpec {
        strategy: "fair_value".into(),
        axes: vec![
            Axis::parse("threshold_bps=100,300,500").unwrap(),
            Axis::parse("sizing.kelly_fraction=0.1:0.3:0.2").unwrap(),
        ],
        search,
        seed: 3,
        objective: Objective::Sharpe,
        baseline: false,
    }
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    SWEEP_FILES
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn same_seed_gives_byte_identical_tables_and_shards_merge_to_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = Inputs {
        recordings: vec![sample(tmp.path())],
        clickhouse: None,
        ..Inputs::default()
    };
    let s = spec(Search::Grid);
    let data = SweepData {
        recordings: vec!["sample".into()],
        ..SweepData::default()
    };
    let a = sweep::run(&inputs, &s, None, Some(2), &NoProgress).unwrap();
    assert_eq!(a.rows.len(), 6);
    let b = sweep::run(&inputs, &s, None, Some(1), &NoProgress).unwrap();
    let (da, db) = (tmp.path().join("a"), tmp.path().join("b"));
    sweep_files::write_dir(&a, &data, &da).unwrap();
    sweep_files::write_dir(&b, &data, &db).unwrap();
    assert_eq!(
        files(&da),
        files(&db),
        "two runs, 2 threads vs 1: same bytes"
    );

    // The configurations really differ: the threshold changes what fair_value trades.
    let summary = a.summary.as_ref().unwrap();
    assert_eq!(summary.configurations, 6);
    assert!(a.rows.iter().all(|r| r.rank.is_some()));
    let trades: Vec<u64> = a.rows.iter().map(|r| r.trades).collect();
    assert!(trades.iter().any(|&t| t != trades[0]), "{trades:?}");

    // Shards 0/2 and 1/2, written, read back and merged: the single run's bytes.
    let mut shards = Vec::new();
    for k in 0..2 {
        let sh = Shard { index: k, count: 2 };
        let t = sweep::run(&inputs, &s, Some(sh), Some(1), &NoProgress).unwrap();
        assert!(t.summary.is_none());
        assert!(t.rows.iter().all(|r| r.index % 2 == k && r.dsr.is_none()));
        let d = tmp.path().join(format!("shard{k}"));
        sweep_files::write_dir(&t, &data, &d).unwrap();
        shards.push(sweep_files::read_dir(&d).unwrap().0);
    }
    let merged = sweep::merge(shards).unwrap();
    let dm = tmp.path().join("merged");
    sweep_files::write_dir(&merged, &data, &dm).unwrap();
    assert_eq!(
        files(&dm),
        files(&da),
        "merged shards = single run, byte for byte"
    );

    // A parameter the strategy does not have fails before anything runs, naming it.
    let mut bad = s.clone();
    bad.axes.push(Axis::parse("no_such_param=1").unwrap());
    let e = sweep::run(&inputs, &bad, None, Some(1), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("no_such_param"), "{e}");
}

#[test]
fn random_search_is_seeded() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = Inputs {
        recordings: vec![sample(tmp.path())],
        clickhouse: None,
        ..Inputs::default()
    };
    let mut s = spec(Search::Random { samples: 3 });
    s.axes[1] = Axis::parse("sizing.kelly_fraction=0.05:0.5").unwrap();
    let a = sweep::run(&inputs, &s, None, Some(2), &NoProgress).unwrap();
    let b = sweep::run(&inputs, &s, None, Some(2), &NoProgress).unwrap();
    assert_eq!(a, b);
    s.seed = 4;
    let c = sweep::run(&inputs, &s, None, Some(2), &NoProgress).unwrap();
    assert_ne!(
        a.rows.iter().map(|r| r.params.clone()).collect::<Vec<_>>(),
        c.rows.iter().map(|r| r.params.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn walk_forward_on_the_sample_in_minutes() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = Inputs {
        recordings: vec![sample(tmp.path())],
        clickhouse: None,
        ..Inputs::default()
    };
    let s = spec(Search::Grid);
    // The sample's 10 windows span 50 minutes: 20-minute training, 10-minute tests.
    let split = Split {
        train_s: 1200,
        test_s: 600,
        step_s: 600,
        anchored: false,
    };
    let r = walkforward::run(&inputs, &s, &split, Some(2), &NoProgress).unwrap();
    assert!(r.folds.len() >= 2, "{:?}", r.folds.len());
    for f in &r.folds {
        assert_eq!(f.configurations, 6);
        assert!(f.train_to < f.test_to);
        assert_eq!(f.params.len(), 2);
        // The test period holds only windows lying wholly inside it.
        assert!(f.out_of_sample.windows <= 2, "{f:?}");
    }
    let pooled: u64 = r.folds.iter().map(|f| f.out_of_sample.windows).sum();
    assert_eq!(r.pooled.windows, pooled);
    let out = tmp.path().join("wf");
    let written = walkforward::write_dir(&r, &out).unwrap();
    assert_eq!(written.len(), 3);
    let html = std::fs::read_to_string(out.join("walkforward.html")).unwrap();
    assert!(html.contains("in sample") && html.contains("out of sample"));
    let text = walkforward::render_table(&r);
    assert!(text.contains("pooled"), "{text}");
}
