//! End-to-end tests of `polyedge import` + `polyedge inspect` through the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyedge"))
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
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

fn import(kind: &str, src: &Path, out: &Path) -> String {
    run_ok(bin().args(["import", kind]).arg(src).arg("--out").arg(out))
}

fn inspect_json(rec: &Path) -> Value {
    serde_json::from_str(&run_ok(bin().arg("inspect").arg(rec).arg("--json")))
        .expect("inspect json")
}

#[test]
fn bundled_sample_imports_and_inspects() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let report = import("cronos", &repo("data/sample"), &rec);
    assert!(report.contains("polymarket-market: 33650"), "{report}");

    let v = inspect_json(&rec);
    let t = &v["totals"];
    assert_eq!(t["windows"], 10);
    assert_eq!(t["windows_with_frames"], 10);
    assert_eq!(t["window_frames"], 33_650);
    assert_eq!(t["unattributed_frames"], 0);
    assert_eq!(t["parse_errors"], 0);
    assert_eq!(t["frames_by_stream"]["binance-usdm-kline"], 65);
    assert_eq!(t["outcomes"]["Down"], 7);
    assert_eq!(t["outcomes"]["Up"], 3);
    assert_eq!(t["outcome_sources"]["inferred"], 10);
    let rows = v["windows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for w in rows {
        let slug = w["slug"].as_str().unwrap();
        // Every sample window is a full window (PROVENANCE: ≥ 287 s of coverage).
        assert!(w["covered_s"].as_f64().unwrap() > 250.0, "{slug}: {w}");
        let spread = w["median_spread_cents"].as_f64().unwrap();
        assert!((0.1..=10.0).contains(&spread), "{slug}: spread {spread}");
        // A complete set never costs less than $1 at the top of these books (no free lunch).
        let set = w["min_up_plus_down_ask"].as_f64().unwrap();
        assert!((1.0..1.2).contains(&set), "{slug}: U+D {set}");
        // The final Up book agrees with the inferred outcome.
        let outcome = w["outcome"].as_str().unwrap();
        let bid = w["final_up_bid"].as_f64().unwrap_or(0.0);
        let ask = w["final_up_ask"].as_f64().unwrap_or(1.0);
        match outcome {
            "Up" => assert!(bid >= 0.9, "{slug}: Up won but final Up bid {bid}"),
            "Down" => assert!(ask <= 0.1, "{slug}: Down won but final Up ask {ask}"),
            o => panic!("{slug}: outcome {o}"),
        }
        assert_eq!(w["book_errors"], 0);
    }

    // The table names every window and the totals.
    let table = run_ok(bin().arg("inspect").arg(&rec));
    assert!(table.contains("btc-updown-5m-1776257400"));
    assert!(table.contains("windows: 10 (10 with frames)"));
}

/// Issue 2's acceptance figure: the whole shared cronos dataset imports to 161 windows and
/// 435,480 book frames (its PROVENANCE counts), none lost or duplicated.
#[test]
fn shared_cronos_counts() {
    let src = repo("../shared/data/cronos_btc5m_books");
    assert!(
        src.is_dir(),
        "{} missing: CI runs with ../shared beside the checkout",
        src.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import("cronos", &src, &rec);
    let v = inspect_json(&rec);
    let t = &v["totals"];
    assert_eq!(t["windows"], 161);
    assert_eq!(t["frames_by_stream"]["polymarket-market"], 435_480);
    assert_eq!(t["window_frames"], 435_480);
    assert_eq!(t["unattributed_frames"], 0);
    assert_eq!(t["parse_errors"], 0);
    assert_eq!(t["torn_tails"], 0);
    assert_eq!(t["outcomes"]["Up"], 68);
    assert_eq!(t["outcomes"]["Down"], 58);
    // Per window, the frames equal windows.csv's n_book_msgs (no loss, no duplication).
    let csv = std::fs::read_to_string(src.join("windows.csv")).unwrap();
    let mut expected = std::collections::HashMap::new();
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        expected.insert(cols[0].to_string(), cols[5].parse::<u64>().unwrap());
    }
    for w in v["windows"].as_array().unwrap() {
        let slug = w["slug"].as_str().unwrap();
        assert_eq!(w["frames"].as_u64(), expected.get(slug).copied(), "{slug}");
    }
}

/// A recording whose last segment was cut mid-write (process killed) still inspects: every frame
/// before the tear is counted, the tear is reported, nothing crashes.
#[test]
fn torn_tail_is_reported_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import("cronos", &repo("data/sample"), &rec);
    let seg = std::fs::read_dir(rec.join("capture/polymarket-market"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - len / 3).unwrap();
    drop(f);
    let v = inspect_json(&rec);
    let t = &v["totals"];
    assert_eq!(t["torn_tails"], 1);
    assert_eq!(t["parse_errors"], 0);
    let frames = t["window_frames"].as_u64().unwrap();
    assert!(frames > 0 && frames < 33_650, "{frames}");
}

#[test]
fn bad_paths_give_clear_errors() {
    let out = bin()
        .args(["inspect", "/nonexistent/recording"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/recording"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["import", "cronos"])
        .arg(tmp.path().join("missing"))
        .arg("--out")
        .arg(tmp.path().join("rec"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory"), "{err}");

    let out = bin()
        .args(["import", "nosuchkind", "."])
        .arg("--out")
        .arg(tmp.path().join("r2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}
