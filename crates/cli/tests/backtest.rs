//! End-to-end tests of `polyedge backtest` through the built binary, on the bundled sample.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyedge"))
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run polyedge");
    assert!(
        out.status.success(),
        "polyedge failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run polyedge");
    assert!(
        !out.status.success(),
        "expected failure: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

const FILES: [&str; 5] = [
    "summary.json",
    "trades.csv",
    "equity.csv",
    "windows.csv",
    "report.html",
];

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let t = std::fs::read_to_string(path).unwrap();
    t.lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn no_arguments_backtests_every_strategy_on_the_bundled_sample() {
    // Run from an empty directory: the sample is found beside the sources, the report goes to
    // ./backtest-out.
    let cwd = tempfile::tempdir().unwrap();
    let out = run_ok(bin().arg("backtest").current_dir(cwd.path()));
    let stdout = text(&out.stdout);
    let dir = cwd.path().join("backtest-out");
    for f in FILES {
        assert!(dir.join(f).is_file(), "{f} missing; stdout: {stdout}");
    }
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["format"], "polyedge-backtest-summary");
    assert_eq!(v["data"]["windows"], 10);
    assert_eq!(v["data"]["replay"]["frames"], 33_715); // 33,650 books + 65 klines
    let strategies = v["strategies"].as_array().unwrap();
    assert!(strategies.len() >= 2, "every registered strategy runs");
    let mut trades = 0;
    for s in strategies {
        let name = s["name"].as_str().unwrap();
        assert!(stdout.contains(name), "terminal summary lacks {name}");
        for m in [&s["metrics"], &s["baseline"]["metrics"]] {
            assert_eq!(m["consistency"]["window_pnl_sums_to_net"], true, "{name}");
            assert_eq!(m["consistency"]["cash_identity_holds"], true, "{name}");
            trades += m["trades"].as_u64().unwrap();
        }
    }
    assert!(stdout.contains("random twin"));
    assert!(
        stdout.contains("report: backtest-out/report.html"),
        "{stdout}"
    );
    // trades.csv has one row per fill of every strategy and twin.
    let rows = csv_rows(&dir.join("trades.csv"));
    assert_eq!(rows.len() as u64 - 1, trades);
    assert_eq!(rows[0][0], "strategy");
    // windows.csv: the ten windows.
    assert_eq!(csv_rows(&dir.join("windows.csv")).len(), 11);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // Self-contained: inline chart data and uPlot, nothing loaded from elsewhere.
    assert!(html.contains("id=\"chart-data\"") && !html.contains("src="));
    assert!(
        html.contains("INFERRED"),
        "the data caveats are in the report"
    );
    // Every strategy trades in more than one window of the sample, or says why it did not.
    for s in strategies {
        let name = s["name"].as_str().unwrap();
        let windows = s["metrics"]["windows_traded"].as_u64().unwrap();
        let skips = s["activity"]["skips"].as_object().unwrap();
        assert!(
            windows > 1 || !skips.is_empty(),
            "{name}: {windows} windows traded and no skip reason"
        );
        if s["metrics"]["orders"] == 0 {
            assert!(
                stdout.contains(&format!("{name}: 0 orders"))
                    && stdout.contains("no order because"),
                "{name}: the table does not say why: {stdout}"
            );
        }
        assert_eq!(s["fill_model"]["queue_model"], "trade_through", "{name}");
    }
    // The decision log, and the counterfactual table computed from it: per strategy and
    // reason, as many signals as the log has skips with a signal (or refused orders).
    let log = std::fs::read_to_string(dir.join("decisions.jsonl")).unwrap();
    let mut expect: std::collections::BTreeMap<(String, String, String), u64> =
        std::collections::BTreeMap::new();
    let mut lines = 0;
    for line in log.lines() {
        lines += 1;
        let d: Value = serde_json::from_str(line).unwrap();
        let strategy = d["strategy"].as_str().unwrap().to_string();
        if let Some(sk) = d["kind"].get("skip")
            && !sk["signal"].is_null()
        {
            let reason = sk["reason"].as_str().unwrap().to_string();
            *expect
                .entry(("skipped".into(), strategy, reason))
                .or_default() += 1;
        } else if let Some(r) = d["kind"]["submit"]["verdict"].get("refused") {
            let code = serde_json::from_value::<polyedge_core::RejectReason>(r.clone())
                .unwrap()
                .code();
            *expect
                .entry(("refused".into(), strategy, code.to_string()))
                .or_default() += 1;
        }
    }
    assert!(lines > 0, "empty decision log");
    let cf = v["counterfactuals"]
        .as_array()
        .expect("counterfactuals in summary.json");
    assert!(
        !expect.is_empty(),
        "no skipped or refused signal in the sample: the table is untested"
    );
    let got: std::collections::BTreeMap<(String, String, String), u64> = cf
        .iter()
        .map(|c| {
            let (n, r, w) = (
                c["signals"].as_u64().unwrap(),
                c["resolved"].as_u64().unwrap(),
                c["wins"].as_u64().unwrap(),
            );
            assert!(w <= r && r <= n, "{c}");
            if r > 0 {
                let mean = c["pnl_per_share_sum"].as_f64().unwrap() / r as f64;
                assert!(
                    (mean - c["pnl_per_share_mean"].as_f64().unwrap()).abs() < 1e-9,
                    "{c}"
                );
            }
            (
                (
                    c["kind"].as_str().unwrap().to_string(),
                    c["strategy"].as_str().unwrap().to_string(),
                    c["reason"].as_str().unwrap().to_string(),
                ),
                n,
            )
        })
        .collect();
    assert_eq!(got, expect);
    // Directional strategies report the trade they passed on, not only fair_value.
    for name in ["fair_value", "momentum"] {
        assert!(
            expect.keys().any(|(k, s, _)| k == "skipped" && s == name),
            "no skipped signal of {name}: {expect:?}"
        );
    }
    assert!(
        html.contains("id=\"counterfactuals\""),
        "no counterfactual table in the report"
    );
}

#[test]
fn the_random_twin_changes_with_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(&rec),
    );
    let twin_pnl = |seed: &str| -> Vec<String> {
        let o = run_ok(
            bin()
                .arg("backtest")
                .arg("--recording")
                .arg(&rec)
                .args([
                    "--strategy",
                    "fair_value,random",
                    "--seed",
                    seed,
                    "--json",
                    "--out",
                ])
                .arg(tmp.path().join(format!("o{seed}"))),
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                [
                    s["metrics"]["net_pnl"].as_str().unwrap().to_string(),
                    s["baseline"]["metrics"]["net_pnl"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ]
            })
            .collect()
    };
    let runs: Vec<Vec<String>> = ["1", "2", "3", "7"].iter().map(|s| twin_pnl(s)).collect();
    // fair_value's twin (index 1) and random itself (index 2) depend on the seed.
    for i in [1, 2] {
        let distinct: std::collections::BTreeSet<&String> = runs.iter().map(|r| &r[i]).collect();
        assert!(
            distinct.len() > 1,
            "the same result for every seed: {runs:?}"
        );
    }
}

#[test]
fn inputs_that_must_be_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(&rec),
    );
    let backtest = |extra: &[&str]| {
        let mut c = bin();
        c.arg("backtest")
            .arg("--recording")
            .arg(&rec)
            .args(["--strategy", "random", "--out"])
            .arg(tmp.path().join("o"))
            .args(extra);
        c
    };
    let cfg = tmp.path().join("c.toml");
    let cfg_s = cfg.to_str().unwrap();
    // Negative start cash and a negative limit: errors naming the setting.
    std::fs::write(&cfg, "[engine]\nstart_cash = \"-100\"\n").unwrap();
    let e = run_err(&mut backtest(&["--config", cfg_s]));
    assert!(e.contains("start_cash") && e.contains("-100"), "{e}");
    std::fs::write(&cfg, "[engine.risk]\nmax_total_exposure = -5\n").unwrap();
    let e = run_err(&mut backtest(&["--config", cfg_s]));
    assert!(
        e.contains("max_total_exposure") && e.contains("negative"),
        "{e}"
    );
    // The same recording twice, even spelled differently.
    let e = run_err(&mut backtest(&[
        "--recording",
        &format!("{}/.", rec.display()),
    ]));
    assert!(e.contains("twice"), "{e}");
    // A range that misses the data, and an empty range.
    let e = run_err(&mut backtest(&["--from", "2030-01-01T00:00:00Z"]));
    assert!(e.contains("no window") && e.contains("2026-04-15"), "{e}");
    let e = run_err(&mut backtest(&[
        "--from",
        "1776259200",
        "--to",
        "1776259200",
    ]));
    assert!(e.contains("empty"), "{e}");
    // Plain TOML numbers for money are accepted; an incoherent setting is a warning.
    std::fs::write(
        &cfg,
        "[engine]\nstart_cash = 50\n[engine.risk]\nmax_total_exposure = 100\n",
    )
    .unwrap();
    let o = run_ok(&mut backtest(&["--config", cfg_s]));
    let out = text(&o.stdout);
    assert!(
        out.contains("warning: start_cash 50 pUSD is below max_total_exposure"),
        "{out}"
    );
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("o").join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["config"]["engine"]["start_cash"], "50");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn same_recording_config_and_seed_give_byte_identical_summaries() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(&rec),
    );
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "[engine.risk]\nmax_order_notional = \"15\"\n").unwrap();
    let run = |out: &str, seed: &str| {
        let o = run_ok(
            bin()
                .arg("backtest")
                .arg("--recording")
                .arg(&rec)
                .arg("--config")
                .arg(&cfg)
                .args(["--seed", seed, "--json", "--out"])
                .arg(tmp.path().join(out)),
        );
        let file = std::fs::read(tmp.path().join(out).join("summary.json")).unwrap();
        assert_eq!(o.stdout, file, "--json prints summary.json");
        file
    };
    let a = run("a", "3");
    let b = run("b", "3");
    assert_eq!(a, b, "summary.json differs between identical runs");
    let c = run("c", "4");
    assert_ne!(a, c);
    let v: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(v["seed"], 3);
    assert_eq!(v["config"]["engine"]["risk"]["max_order_notional"], "15");
}

#[test]
fn strategy_and_range_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(&rec),
    );
    let out = tmp.path().join("o");
    run_ok(
        bin()
            .arg("backtest")
            .arg("--recording")
            .arg(&rec)
            .args(["--strategy", "random", "--from", "2026-04-15T13:00:00Z"])
            .args(["--to", "1776259200", "--out"])
            .arg(&out),
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let names: Vec<&str> = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["random"]);
    assert_eq!(v["data"]["windows"], 4);
    assert_eq!(v["range"]["to"], "2026-04-15T13:20:00.000Z");
}

#[test]
fn bad_configuration_and_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(&rec),
    );
    let backtest = |extra: &[&str]| {
        let mut c = bin();
        c.arg("backtest")
            .arg("--recording")
            .arg(&rec)
            .arg("--out")
            .arg(tmp.path().join("o"))
            .args(extra);
        c
    };
    let cfg = tmp.path().join("bad.toml");
    let cfg_s = cfg.to_str().unwrap();

    // An unknown key in [engine.risk]: the file, the line and the key.
    std::fs::write(
        &cfg,
        "seed = 2\n\n[engine.risk]\nmax_order_notionall = \"5\"\n",
    )
    .unwrap();
    let e = run_err(&mut backtest(&["--config", cfg_s]));
    assert!(e.contains(cfg_s), "{e}");
    assert!(
        e.contains("max_order_notionall") && e.contains("line 4"),
        "{e}"
    );

    // A value of the wrong type.
    std::fs::write(&cfg, "[engine]\nstart_cash = true\n").unwrap();
    let e = run_err(&mut backtest(&["--config", cfg_s]));
    assert!(e.contains(cfg_s) && e.contains("start_cash"), "{e}");

    // An unknown strategy table and an unknown strategy parameter.
    std::fs::write(&cfg, "[strategies.nosuch]\nx = 1\n").unwrap();
    let e = run_err(&mut backtest(&["--config", cfg_s]));
    assert!(e.contains("nosuch") && e.contains("line 1"), "{e}");
    std::fs::write(
        &cfg,
        "run = [\"random\"]\n[strategies.random]\nintervall_secs = 5\n",
    )
    .unwrap();
    let e = run_err(&mut backtest(&["--config", cfg_s]));
    assert!(e.contains(cfg_s) && e.contains("intervall_secs"), "{e}");

    // A missing config file, an unknown --strategy, a missing recording, a bad time.
    let e = run_err(&mut backtest(&["--config", "/nonexistent/c.toml"]));
    assert!(e.contains("/nonexistent/c.toml"), "{e}");
    let e = run_err(&mut backtest(&["--strategy", "nosuch"]));
    assert!(e.contains("nosuch") && e.contains("known"), "{e}");
    let e = run_err(
        bin()
            .args(["backtest", "--recording", "/nonexistent/rec", "--out"])
            .arg(tmp.path().join("o")),
    );
    assert!(e.contains("/nonexistent/rec"), "{e}");
    let e = run_err(&mut backtest(&["--from", "yesterday"]));
    assert!(e.contains("yesterday"), "{e}");
}

#[test]
#[cfg_attr(not(feature = "shared-data"), ignore = "needs ../shared/data")]
fn a_top_of_book_recording_is_refused_with_the_reason() {
    let src = repo("../shared/data/jo267x_btc5m_1hz_2026-05");
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "jo267x"])
            .arg(&src)
            .arg("--out")
            .arg(&rec),
    );
    let e = run_err(
        bin()
            .arg("backtest")
            .arg("--recording")
            .arg(&rec)
            .arg("--out")
            .arg(tmp.path().join("o")),
    );
    assert!(
        e.contains("top-of-book") && e.contains("zero trades"),
        "{e}"
    );
}

#[test]
fn a_capital_split_reports_each_strategys_share_and_the_account() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("router.toml");
    std::fs::write(
        &cfg,
        "run = [\"fair_value\", \"market_maker\"]\n[engine]\ncapital_split = { fair_value = 0.6, market_maker = \"0.4\" }\n",
    )
    .unwrap();
    let out = tmp.path().join("o");
    let o = run_ok(
        bin()
            .arg("backtest")
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out),
    );
    let stdout = text(&o.stdout);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let a = &v["account"];
    assert_eq!(a["start_cash"], "1000");
    assert_eq!(a["allocated"], "1000");
    let parts = a["strategies"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = parts
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["share"].as_str().unwrap(),
                s["start_cash"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("fair_value", "0.6", "600"), ("market_maker", "0.4", "400")]
    );
    // Each strategy's own metrics start from its share; the account's PnL is their sum.
    let cash = |x: &Value| polyedge_core::Cash::parse(x.as_str().unwrap()).unwrap();
    let mut sum = polyedge_core::Cash::ZERO;
    for (s, part) in v["strategies"].as_array().unwrap().iter().zip(parts) {
        assert_eq!(s["metrics"]["start_cash"], part["start_cash"]);
        assert_eq!(s["metrics"]["net_pnl"], part["net_pnl"]);
        sum += cash(&part["net_pnl"]);
    }
    assert_eq!(cash(&a["net_pnl"]), sum);
    assert_eq!(
        cash(&a["end_cash"]),
        cash(&a["start_cash"]) + sum,
        "every settled window: end cash = start + net PnL"
    );
    assert!(
        stdout.contains("account (capital split, one set of limits): fair_value 0.6 (600 pUSD)"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("One account: the capital split")
            && html.contains("<tr><td>market_maker</td><td>0.4</td><td>400</td>"),
        "report.html has no account table"
    );
    // Without a split there is no account section (and summary.json is as before).
    let out2 = tmp.path().join("o2");
    run_ok(
        bin()
            .arg("backtest")
            .args(["--strategy", "random", "--out"])
            .arg(&out2),
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    assert!(v.get("account").is_none());
    assert!(v["config"]["engine"].get("capital_split").is_none());
}
