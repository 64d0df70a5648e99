//! `polyedge features` and `polyedge train` through the built binary: the bundled cronos sample
//! (always), and the shared ligengxin and cronos recordings (ignored unless `../shared/data` is
//! there: run with `cargo test -p polyedge --test features -- --ignored`). The dataset is read
//! back by an independent reader (Python pyarrow, as the tables tests do).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    missing_docs
)]

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

fn features(recs: &[&Path], out: &Path, at: &str) -> Value {
    let text = run_ok(
        bin()
            .arg("features")
            .args(recs)
            .args(["--at", at, "--json", "--out"])
            .arg(out),
    );
    serde_json::from_str(&text).expect("features json")
}

/// Reads `features.parquet` with pyarrow and checks it against the summary; returns pyarrow's
/// own report (JSON).
fn pyarrow_check(dir: &Path) -> Value {
    let script = r#"
import json, sys
import pyarrow.parquet as pq
import pyarrow.compute as pc
t = pq.read_table(sys.argv[1])
meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
names = json.loads(meta["polyedge.features"])
out = {"rows": t.num_rows, "features": names, "schema_hash": meta["polyedge.schema_hash"],
       "types": {f.name: str(f.type) for f in t.schema},
       "nulls": {n: t.column(n).null_count for n in names},
       "market_mid_nulls": t.column("market_mid").null_count}
# decision_time = window_start + duration − t_left, for every row
ws = t.column("window_start").cast("int64").to_pylist()
dt = t.column("decision_time").cast("int64").to_pylist()
dur = t.column("duration_s").to_pylist()
tl = t.column("t_left_s").to_pylist()
out["decision_ok"] = all(d == w + (u - l) * 10**9 for d, w, u, l in zip(dt, ws, dur, tl))
# ages of the inputs at the decision time: strictly positive where present (no look-ahead)
for c in ["pm_book_age_s", "ref_age_s"]:
    v = [x for x in t.column(c).to_pylist() if x is not None]
    out["min_" + c] = min(v) if v else None
out["bs_range_ok"] = all(0.0 <= x <= 1.0 for x in t.column("bs_p_up").to_pylist() if x is not None)
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.join("features.parquet"))
        .output()
        .expect("python3 must be installed (with pyarrow: pip install pyarrow==26.0.1)");
    assert!(
        out.status.success(),
        "pyarrow check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pyarrow json")
}

fn sample_recording(tmp: &Path) -> PathBuf {
    let rec = tmp.join("rec");
    let sample = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample"));
    import("cronos", &sample, &rec);
    rec
}

#[test]
fn bundled_sample_dataset_is_labelled_without_look_ahead_and_read_by_pyarrow() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = sample_recording(tmp.path());
    let out = tmp.path().join("ds");
    let s = features(&[&rec], &out, "240,120,60,30");
    let r = &s["recordings"][0];
    assert_eq!(r["windows"], 10);
    let used = r["windows_used"].as_u64().unwrap();
    assert_eq!(
        used + r["windows_without_outcome"].as_u64().unwrap(),
        10,
        "{r}"
    );
    assert!(used > 0);
    let rows = s["rows"].as_u64().unwrap();
    assert_eq!(rows, used * 4);
    assert_eq!(r["outcome_sources"]["inferred"], rows);
    // cronos: klines are the reference and the candles; books give a market mid on some rows.
    assert_eq!(r["reference_series"]["kline_binance_usdm"], rows);
    // The first window starts minutes after the klines do: no volatility (10 returns) yet there.
    let bs_present = r["present"]["bs_p_up"].as_f64().unwrap();
    assert!(bs_present > 0.9, "{bs_present}");
    assert_eq!(r["present"]["aggr_ratio_30s"], 0.0);
    assert_eq!(r["present"]["dvol"], 0.0);
    let with_mid = r["rows_with_market_mid"].as_u64().unwrap();
    assert!(with_mid > 0 && with_mid <= rows);
    assert_eq!(r["present"]["pm_up_mid"], with_mid as f64 / rows as f64);

    let py = pyarrow_check(&out);
    assert_eq!(py["rows"], rows);
    assert_eq!(py["schema_hash"], s["schema_hash"]);
    assert_eq!(py["types"]["decision_time"], "timestamp[ns, tz=UTC]");
    assert_eq!(py["types"]["outcome_up"], "bool");
    assert_eq!(py["types"]["rsi_14"], "double");
    assert_eq!(py["decision_ok"], true);
    assert_eq!(py["bs_range_ok"], true);
    // Missing inputs are nulls, not zeros: no trade data → every row null.
    assert_eq!(py["nulls"]["aggr_ratio_30s"], rows);
    let bs_nulls = py["nulls"]["bs_p_up"].as_u64().unwrap();
    assert_eq!(bs_nulls, rows - (bs_present * rows as f64).round() as u64);
    assert_eq!(py["market_mid_nulls"], rows - with_mid);
    // Only events received strictly before the decision time: every age is positive.
    assert!(py["min_pm_book_age_s"].as_f64().unwrap() > 0.0, "{py}");
    assert!(py["min_ref_age_s"].as_f64().unwrap() > 0.0, "{py}");
    let quality = std::fs::read_to_string(out.join("quality.csv")).unwrap();
    assert!(quality.starts_with("feature,group,rec\n"));
    assert_eq!(
        quality.lines().count(),
        1 + py["features"].as_array().unwrap().len()
    );

    // Train on it (10 windows: 2 folds, no embargo) — the run completes and writes a model with
    // the engine's schema.
    let model = tmp.path().join("m.json");
    let text = run_ok(
        bin()
            .arg("train")
            .arg(&out)
            .args([
                "--folds",
                "2",
                "--embargo-s",
                "0",
                "--trees",
                "20",
                "--model-out",
            ])
            .arg(&model),
    );
    assert!(
        text.contains("out-of-sample rows with the BS digital"),
        "{text}"
    );
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["format"], "polyedge-directional-model");
    assert_eq!(m["schema_hash"], s["schema_hash"]);
    assert_eq!(m["feature_names"], py["features"]);
    assert_eq!(m["training"]["windows"], used);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(model.with_extension("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["folds"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["features", "/nonexistent/rec", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/rec"));
    let out = bin()
        .args(["features", "x", "--at", "0", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at"));
    let out = bin().args(["train"]).arg(tmp.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("features.parquet"));
}

fn shared(folder: &str) -> PathBuf {
    let p =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(folder);
    assert!(
        p.is_dir(),
        "{} is missing: this test needs the shared data beside the checkout (../shared/data)",
        p.display()
    );
    p
}

#[test]
#[cfg_attr(not(feature = "shared-data"), ignore = "needs ../shared/data")]
fn shared_ligengxin_and_cronos_features_and_train() {
    let tmp = tempfile::tempdir().unwrap();
    let l = tmp.path().join("rec-l");
    let c = tmp.path().join("rec-c");
    import(
        "ligengxin",
        &shared("ligengxin_btc5m_markets_chainlink"),
        &l,
    );
    import("cronos", &shared("cronos_btc5m_books"), &c);
    // ligengxin: 584 windows with official outcomes, Chainlink 1 Hz, no books.
    let out_l = tmp.path().join("ds-l");
    let s = features(&[&l], &out_l, "240,180,120,60,30");
    let r = &s["recordings"][0];
    assert_eq!(r["windows_used"], 584);
    assert_eq!(r["rows"], 2_920);
    assert_eq!(r["outcome_sources"]["official"], 2_920);
    assert_eq!(r["rows_with_market_mid"], 0);
    assert!(r["present"]["bs_p_up"].as_f64().unwrap() > 0.95);
    assert!(r["present"]["rsi_14"].as_f64().unwrap() > 0.95);
    assert!(r["candle_series"]["chainlink_ticks"].as_u64().unwrap() > 2_800);
    let py = pyarrow_check(&out_l);
    assert_eq!(py["rows"], 2_920);
    let text = run_ok(bin().arg("train").arg(&out_l));
    assert!(
        text.contains("no out-of-sample row has a market mid"),
        "{text}"
    );
    // cronos: books → market mid; inferred outcomes.
    let out_c = tmp.path().join("ds-c");
    let s = features(&[&c], &out_c, "240,180,120,60,30");
    let r = &s["recordings"][0];
    assert_eq!(r["windows_used"], 126);
    assert_eq!(r["rows"], 630);
    assert!(r["rows_with_market_mid"].as_u64().unwrap() > 300);
    let text = run_ok(bin().arg("train").arg(&out_c));
    assert!(
        text.contains("with the BS digital and the market mid"),
        "{text}"
    );
}
