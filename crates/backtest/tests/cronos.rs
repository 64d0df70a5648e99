//! Every registered strategy (and its random twin) over the whole shared cronos recording
//! (`../shared/data/cronos_btc5m_books`, imported here into a temporary recording): the run
//! completes and the report's figures are consistent — Σ per-window PnL = net PnL and cash +
//! settled positions = start cash + PnL, per strategy, in the results and in every file.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use polyedge_backtest::{BacktestConfig, Inputs, summary, write_report};
use polyedge_store::NoProgress;
use polyedge_strategies::registry;

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn all_strategies_on_the_whole_cronos_recording_are_consistent() {
    let src = common::repo().join("../shared/data/cronos_btc5m_books");
    assert!(
        src.is_dir(),
        "{} is missing: this test needs the shared data beside the checkout (../shared/data)",
        src.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let rec = common::import_cronos(&src, tmp.path(), "cronos");
    let inputs = Inputs {
        recordings: vec![rec],
        clickhouse: None,
        config: BacktestConfig::default(),
        ..Inputs::default()
    };
    let bt = polyedge_backtest::run(&inputs, &NoProgress).unwrap();
    assert_eq!(bt.main_replay.frames, 436_432);
    assert_eq!(bt.main_replay.parse_errors, 0);
    assert_eq!(bt.windows.len(), 161);
    let names: Vec<&str> = bt.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        registry::NAMES,
        "no arguments: every registered strategy"
    );
    let baselines = bt.baselines.as_ref().expect("random twins ran");
    assert_eq!(baselines.strategies.len(), names.len());

    let s = summary::build(&bt);
    assert_eq!(s.data.windows_without_outcome, 35);
    assert_eq!(
        s.data.windows_by_outcome_source.values().sum::<u64>(),
        161,
        "{:?}",
        s.data.windows_by_outcome_source
    );
    let traded: u64 = s.strategies.iter().map(|x| x.metrics.trades).sum();
    assert!(
        traded > 0,
        "no strategy traded: the checks below would be vacuous"
    );

    let out = tmp.path().join("report");
    write_report(&bt, &s, &out).unwrap();
    common::check_report(&bt, &s, &out);
}

/// SHA-256 of `summary.json` for [`summary_is_unchanged_by_speed_work`]'s run without its
/// lines naming where the data was imported from (`(read from <path>)`, which differs between
/// checkouts), from the file written by `polyedge backtest --recording <dir named cronos>
/// --config <its TOML> --no-decision-log` at c0148e4 (before the pipelined reader and
/// mimalloc), then updated once: `market_maker` reports its skips (`activity.skips` and
/// `windows_skipped` of market_maker are no longer empty; nothing else in the file changed).
/// A change of behaviour must update it in the same commit and say why; a speed-up must not.
const CRONOS_THREE_STRATEGIES_SUMMARY_SHA256: &str =
    "ed858cc17667ed2244aac65124f22fabf342b12d873948b732525d0a31954fa0";

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn summary_is_unchanged_by_speed_work() {
    use sha2::{Digest, Sha256};
    let src = common::repo().join("../shared/data/cronos_btc5m_books");
    assert!(src.is_dir(), "{} is missing", src.display());
    let tmp = tempfile::tempdir().unwrap();
    let rec = common::import_cronos(&src, tmp.path(), "cronos");
    let config = BacktestConfig::parse(
        "baseline = false\nrun = [\"complete_set\", \"fair_value\", \"market_maker\"]\n",
        "three.toml",
    )
    .unwrap();
    let json = |single_thread: bool| {
        let inputs = Inputs {
            recordings: vec![rec.clone()],
            config: config.clone(),
            single_thread,
            ..Inputs::default()
        };
        let bt = polyedge_backtest::run(&inputs, &NoProgress).unwrap();
        summary::to_json(&summary::build(&bt)).unwrap()
    };
    let pipelined = json(false);
    assert_eq!(
        pipelined,
        json(true),
        "the reader thread changed summary.json"
    );
    let kept: String = pipelined
        .split_inclusive('\n')
        .filter(|l| !l.contains("(read from "))
        .collect();
    assert_eq!(
        pipelined.len() - kept.len(),
        pipelined
            .split_inclusive('\n')
            .find(|l| l.contains("(read from "))
            .map_or(0, str::len),
        "one line names the import's source path"
    );
    let sha = format!("{:x}", Sha256::digest(kept.as_bytes()));
    assert_eq!(
        sha, CRONOS_THREE_STRATEGIES_SUMMARY_SHA256,
        "summary.json of the cronos run changed:\n{pipelined}"
    );
}
