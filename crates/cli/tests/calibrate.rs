//! End-to-end tests of `polyedge calibrate` through the built binary: the bundled cronos sample
//! (books + Binance klines, inferred outcomes) and, when `../shared/data` is present, the
//! ligengxin windows (official outcomes and strikes + Chainlink ticks).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
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

fn import(kind: &str, src: &Path, out: &Path) {
    run_ok(bin().args(["import", kind]).arg(src).arg("--out").arg(out));
}

fn calibrate_json(rec: &Path, extra: &[&str]) -> Value {
    let text = run_ok(bin().arg("calibrate").arg(rec).arg("--json").args(extra));
    serde_json::from_str(&text).expect("calibrate json")
}

fn row(v: &Value, t: u64) -> &Value {
    v["by_t"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["t_s"] == t)
        .unwrap_or_else(|| panic!("no row for t = {t}"))
}

/// Brier in [0, 1], log loss finite and ≥ 0, n > 0, mean forecast and base rate in [0, 1].
fn check_score(s: &Value, what: &str) -> u64 {
    let n = s["n"].as_u64().unwrap();
    assert!(n > 0, "{what}: n = 0");
    let brier = s["brier"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&brier), "{what}: brier {brier}");
    let ll = s["log_loss"].as_f64().unwrap();
    assert!(ll.is_finite() && ll >= 0.0, "{what}: log loss {ll}");
    for k in ["mean_predicted", "base_rate"] {
        let x = s[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{what}: {k} {x}");
    }
    n
}

fn check_reliability(tables: &Value, bins: usize) {
    for t in tables.as_array().unwrap() {
        let b = t["bins"].as_array().unwrap();
        assert_eq!(b.len(), bins);
        let total: u64 = b.iter().map(|x| x["count"].as_u64().unwrap()).sum();
        assert_eq!(total, t["n"].as_u64().unwrap(), "{t}");
        for x in b {
            if let Some(f) = x["observed_frequency"].as_f64() {
                assert!((0.0..=1.0).contains(&f));
            }
        }
    }
}

#[test]
fn bundled_sample_calibrates_model_and_market() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    let sample = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample"));
    import("cronos", &sample, &rec);
    let snaps = tmp.path().join("snapshots.jsonl");
    let v = calibrate_json(
        &rec,
        &["--snapshots", snaps.to_str().unwrap(), "--bins", "5"],
    );

    let ts: Vec<u64> = v["by_t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["t_s"].as_u64().unwrap())
        .collect();
    assert_eq!(ts, vec![240, 120, 60, 30]);
    let r60 = row(&v, 60);
    assert_eq!(r60["snapshots"], 10);
    let n_model = check_score(&r60["model"], "model t=60");
    let p = &r60["paired"];
    let n_pair = p["n"].as_u64().unwrap();
    assert!(
        n_pair > 0 && n_pair <= n_model,
        "paired {n_pair} model {n_model}"
    );
    assert_eq!(check_score(&p["model"], "paired model t=60"), n_pair);
    assert_eq!(check_score(&p["market_mid"], "market t=60"), n_pair);
    let cmp = &p["model_minus_market"];
    assert_eq!(cmp["n"].as_u64().unwrap(), n_pair);
    let d = cmp["brier_diff"].as_f64().unwrap();
    assert!(d.abs() <= 1.0, "brier diff {d}");
    // The paired difference is exactly the difference of the paired scores.
    let bm = p["model"]["brier"].as_f64().unwrap();
    let bk = p["market_mid"]["brier"].as_f64().unwrap();
    assert!((d - (bm - bk)).abs() < 1e-12);
    let vol = r60["mean_vol_annual"].as_f64().unwrap();
    assert!((0.05..3.0).contains(&vol), "vol {vol}");
    assert_eq!(r60["reference_series"]["kline_binance_usdm"], n_model);
    check_reliability(&r60["reliability"], 5);
    check_reliability(&v["reliability"], 5);

    let t = &v["totals"];
    assert_eq!(t["windows"], 10);
    assert!(t["windows_used"].as_u64().unwrap() >= n_model);
    assert_eq!(t["outcome_sources"]["inferred"], t["windows_used"]);
    // cronos has no strikes in the index: all come from the klines at the window start.
    assert_eq!(
        t["strike_sources"]["reference_at_start"],
        t["model_snapshots"]
    );
    assert!(t["paired_snapshots"].as_u64().unwrap() > 0);
    let caveats = v["caveats"].to_string();
    assert!(caveats.contains("COARSE"), "{caveats}");
    assert!(caveats.contains("inferred"), "{caveats}");

    // One snapshot line per scheduled snapshot (4 per window).
    let lines = std::fs::read_to_string(&snaps).unwrap();
    assert_eq!(lines.lines().count(), 40);
    for l in lines.lines() {
        let s: Value = serde_json::from_str(l).unwrap();
        if let Some(pm) = s["p_model"].as_f64() {
            assert!((0.0..=1.0).contains(&pm));
            // No look-ahead: the spot was priced at or before the snapshot instant.
            assert!(s["spot_time"].as_u64().unwrap() <= s["at"].as_u64().unwrap());
        }
    }

    // The table form prints the same figures.
    let text = run_ok(bin().arg("calibrate").arg(&rec));
    assert!(text.contains("reliability — market_mid"), "{text}");
    assert!(text.contains(&format!("{bm:.4}")), "{text}");
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn ligengxin_model_on_official_outcomes() {
    let src = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/ligengxin_btc5m_markets_chainlink"
    ));
    assert!(
        src.is_dir(),
        "{} missing: the shared-data tests need ../shared beside the checkout",
        src.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import("ligengxin", &src, &rec);
    let v = calibrate_json(&rec, &["--times", "60"]);
    let r60 = row(&v, 60);
    let n = check_score(&r60["model"], "model t=60");
    assert!(n > 500, "model scored on {n} windows at t = 60");
    let brier = r60["model"]["brier"].as_f64().unwrap();
    assert!(brier < 0.25, "Brier {brier}");
    // No books in this dataset: no market forecaster, nothing paired.
    assert!(r60["paired"].is_null());
    assert_eq!(r60["reference_series"]["chainlink"], n);
    let t = &v["totals"];
    assert_eq!(t["outcome_sources"]["official"], t["windows_used"]);
    assert!(t["strike_sources"]["index"].as_u64().unwrap() > 500);
    check_reliability(&v["reliability"], 10);
}
