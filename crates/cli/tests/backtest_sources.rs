//! Issue 12 item 7: `polyedge backtest` over several recordings at once (merged by receive time,
//! each event from one recording only) and from recordings loaded into ClickHouse.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../tables/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyedge"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run polyedge");
    assert!(
        out.status.success(),
        "polyedge failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `polyedge backtest --json` with `args`, report into `out`.
fn backtest(args: &[&std::ffi::OsStr], out: &Path) -> Value {
    let text = run_ok(
        bin()
            .args([
                "backtest",
                "--json",
                "--strategy",
                "fair_value,market_maker,random",
            ])
            .args(args)
            .arg("--out")
            .arg(out),
    );
    serde_json::from_str(&text).expect("summary JSON")
}

/// The strategies' results: everything but which recordings were read and how many frames.
fn results(s: &Value) -> String {
    serde_json::to_string_pretty(&s["strategies"]).unwrap()
}

fn net(s: &Value) -> Vec<(String, String)> {
    s["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["metrics"]["name"].as_str().unwrap().to_string(),
                st["metrics"]["net_pnl"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_same_recording_given_twice_under_two_names_backtests_as_once() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("sample-a");
    common::import_sample(&a);
    let b = tmp.path().join("sample-b");
    copy_dir(&a, &b);
    let r = std::ffi::OsStr::new("--recording");
    let once = backtest(&[r, a.as_os_str()], &tmp.path().join("once"));
    let both = backtest(&[r, a.as_os_str(), b.as_os_str()], &tmp.path().join("both"));
    let reversed = backtest(
        &[r, b.as_os_str(), a.as_os_str()],
        &tmp.path().join("reversed"),
    );
    let once_replay = &once["data"]["replay"];
    let both_replay = &both["data"]["replay"];
    println!(
        "once: {} frames, {} events; both: {} frames, {} events, {} duplicate events dropped; \
         net PnL once {:?}, both {:?}",
        once_replay["frames"],
        once_replay["events"],
        both_replay["frames"],
        both_replay["events"],
        both_replay["duplicate_events"],
        net(&once),
        net(&both)
    );
    assert_eq!(
        both_replay["frames"].as_u64().unwrap(),
        2 * once_replay["frames"].as_u64().unwrap(),
        "both recordings are read"
    );
    assert_eq!(
        both_replay["events"], once_replay["events"],
        "every event of the copy is dropped"
    );
    assert_eq!(
        both_replay["duplicate_events"], once_replay["events"],
        "and counted"
    );
    assert!(once_replay.get("duplicate_events").is_none());
    assert_eq!(both["recordings"].as_array().unwrap().len(), 2);
    assert_eq!(both["data"]["windows"], once["data"]["windows"]);
    assert_eq!(results(&both), results(&once), "a and b together ≠ a alone");
    assert_eq!(
        results(&reversed),
        results(&once),
        "b and a together ≠ a alone"
    );
    assert!(
        net(&once)
            .iter()
            .any(|(_, n)| n.parse::<f64>().unwrap() != 0.0),
        "the comparison must be of strategies that traded: {:?}",
        net(&once)
    );
}

#[test]
#[cfg_attr(
    not(feature = "clickhouse-tests"),
    ignore = "needs Debian's clickhouse-server (scripts/test installs it, or apt-get install clickhouse-server)"
)]
fn a_backtest_from_clickhouse_equals_the_backtest_of_the_files() {
    let server = common::ch::ChServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("sample");
    common::import_sample(&rec);
    let copy = tmp.path().join("sample-copy");
    copy_dir(&rec, &copy);
    let url = server.url("pe_backtest");
    let ch = std::ffi::OsStr::new("--clickhouse");
    let r = std::ffi::OsStr::new("--recording");
    for dir in [&rec, &copy] {
        let loaded = run_ok(bin().arg("backfill").arg(dir).arg(ch).arg(&url));
        assert!(loaded.contains("segments loaded"), "{loaded}");
    }

    let files = run_ok(
        bin()
            .args(["backtest", "--json", "--recording"])
            .arg(&rec)
            .arg("--out")
            .arg(tmp.path().join("files")),
    );
    let from_ch = run_ok(
        bin()
            .args([
                "backtest",
                "--json",
                "--clickhouse",
                &url,
                "--recording",
                "sample",
            ])
            .arg("--out")
            .arg(tmp.path().join("ch")),
    );
    let s: Value = serde_json::from_str(&from_ch).unwrap();
    println!(
        "from ClickHouse: {} frames, net PnL {:?}",
        s["data"]["replay"]["frames"],
        net(&s)
    );
    assert_eq!(
        files, from_ch,
        "summary.json from ClickHouse differs from the files'"
    );

    // Every recording in the database (the sample and its copy): the copy is dropped event by
    // event, the results are the sample's.
    let all = backtest(&[ch, std::ffi::OsStr::new(&url)], &tmp.path().join("all"));
    assert_eq!(all["recordings"].as_array().unwrap().len(), 2);
    assert!(all["data"]["replay"]["duplicate_events"].as_u64().unwrap() > 0);
    let once = backtest(&[r, rec.as_os_str()], &tmp.path().join("once"));
    assert_eq!(results(&all), results(&once));

    // A sweep reads ClickHouse too.
    let sweep = run_ok(
        bin()
            .args([
                "sweep",
                "--strategy",
                "fair_value",
                "--param",
                "threshold_bps=100,400",
            ])
            .args([
                "--clickhouse",
                &url,
                "--recording",
                "sample",
                "--threads",
                "1",
                "--out",
            ])
            .arg(tmp.path().join("sweep")),
    );
    assert!(sweep.contains("2 configurations"), "{sweep}");

    let out = bin()
        .args([
            "backtest",
            "--clickhouse",
            &url,
            "--recording",
            "nope",
            "--out",
        ])
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no recording \"nope\"") && err.contains("sample"),
        "{err}"
    );
}
