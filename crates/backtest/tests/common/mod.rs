//! Shared checks of a written report directory against its `Backtest`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polyedge_backtest::runner::Backtest;
use polyedge_backtest::summary::Summary;
use polyedge_core::Cash;
use polyedge_store::NoProgress;
use polyedge_store::import::{ImportKind, import};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Imports the cronos dataset folder `src` into `dir/name`.
pub fn import_cronos(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let rec = dir.join(name);
    import(ImportKind::Cronos, src, &rec, &NoProgress)
        .unwrap_or_else(|e| panic!("import {}: {e}", src.display()));
    rec
}

fn cash(s: &str) -> Cash {
    Cash::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// Every result (strategies then twins) with its name.
pub fn results(bt: &Backtest) -> Vec<&polyedge_engine::StrategyResult> {
    let mut v: Vec<_> = bt.main.strategies.iter().collect();
    if let Some(b) = &bt.baselines {
        v.extend(b.strategies.iter());
    }
    v
}

/// The accounting identities of every strategy and twin, in the engine's results, in the
/// summary, and in the CSV files of `dir`.
pub fn check_report(bt: &Backtest, summary: &Summary, dir: &Path) {
    // Engine results.
    for s in results(bt) {
        let sum = s.window_pnl.values().fold(Cash::ZERO, |a, b| a + *b);
        assert_eq!(sum, s.net_pnl, "{}: Σ window PnL ≠ net PnL", s.name);
        assert_eq!(
            s.end_cash + s.open_cost + s.unsettled_cost,
            s.start_cash + s.net_pnl,
            "{}: cash + settled positions ≠ start cash + PnL",
            s.name
        );
        assert_eq!(s.portfolio_errors, 0, "{}", s.name);
        assert_eq!(
            s.open_cost,
            Cash::ZERO,
            "{}: every window ends inside the data",
            s.name
        );
    }
    // Summary figures.
    // In the order of `results`: the strategies, then their twins.
    let mut metrics: Vec<_> = summary.strategies.iter().map(|s| &s.metrics).collect();
    metrics.extend(
        summary
            .strategies
            .iter()
            .filter_map(|s| s.baseline.as_ref().map(|b| &b.metrics)),
    );
    assert_eq!(metrics.len(), results(bt).len());
    for (m, r) in metrics.iter().zip(results(bt)) {
        assert_eq!(m.name, r.name);
        assert_eq!(m.net_pnl, r.net_pnl);
        assert_eq!(m.fees_paid, r.fees);
        assert!(m.consistency.window_pnl_sums_to_net, "{}", m.name);
        assert!(m.consistency.cash_identity_holds, "{}", m.name);
        assert_eq!(m.trades, r.fills.len() as u64);
        assert_eq!(
            m.rejections.values().sum::<u64>(),
            m.orders_rejected,
            "{}: rejections by reason",
            m.name
        );
        let by_src = m
            .by_outcome_source
            .values()
            .fold(Cash::ZERO, |a, b| a + b.pnl);
        assert_eq!(by_src, m.net_pnl, "{}: PnL by outcome source", m.name);
        if let Some(fr) = m.fill_ratio {
            assert!((0.0..=1.0).contains(&fr), "{}: fill ratio {fr}", m.name);
        }
        assert!(m.max_drawdown >= Cash::ZERO);
        assert!(m.mean_exposure <= m.max_exposure, "{}", m.name);
    }
    let json = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["data"]["windows"], bt.windows.len());
    assert_eq!(
        v["strategies"].as_array().unwrap().len(),
        bt.strategies.len()
    );

    // windows.csv: one row per window; each pnl column sums to that strategy's net PnL.
    let mut rd = csv::Reader::from_path(dir.join("windows.csv")).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let mut sums: BTreeMap<String, Cash> = BTreeMap::new();
    let mut rows = 0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        rows += 1;
        for (h, v) in header.iter().zip(rec.iter()) {
            if let Some(name) = h.strip_prefix("pnl:") {
                *sums.entry(name.to_string()).or_default() += cash(v);
            }
        }
    }
    assert_eq!(rows, bt.windows.len());
    for r in results(bt) {
        assert_eq!(sums[&r.name], r.net_pnl, "windows.csv column of {}", r.name);
    }

    // trades.csv: one row per fill; fees sum to fees paid.
    let mut rd = csv::Reader::from_path(dir.join("trades.csv")).unwrap();
    let mut fills: BTreeMap<String, (usize, Cash)> = BTreeMap::new();
    for rec in rd.deserialize::<BTreeMap<String, String>>() {
        let rec = rec.unwrap();
        let e = fills.entry(rec["strategy"].clone()).or_default();
        e.0 += 1;
        e.1 += cash(&rec["fee"]);
    }
    for r in results(bt) {
        let (n, fee) = fills.get(&r.name).copied().unwrap_or_default();
        assert_eq!(n, r.fills.len(), "trades.csv rows of {}", r.name);
        assert_eq!(fee, r.fees, "trades.csv fees of {}", r.name);
    }

    // equity.csv: the last row of each strategy carries its net PnL; cash + open + unsettled =
    // start + realized on every row.
    let mut rd = csv::Reader::from_path(dir.join("equity.csv")).unwrap();
    let mut last: BTreeMap<String, Cash> = BTreeMap::new();
    for rec in rd.deserialize::<BTreeMap<String, String>>() {
        let rec = rec.unwrap();
        let (c, o, u, p, eq) = (
            cash(&rec["cash"]),
            cash(&rec["open_cost"]),
            cash(&rec["unsettled_cost"]),
            cash(&rec["realized_pnl"]),
            cash(&rec["equity"]),
        );
        assert_eq!(c + o + u, eq, "equity.csv row {rec:?}");
        assert_eq!(eq - p, bt.engine.start_cash);
        last.insert(rec["strategy"].clone(), p);
    }
    for r in results(bt) {
        assert_eq!(last[&r.name], r.net_pnl, "equity.csv of {}", r.name);
    }

    // report.html: self-contained (inline scripts, chart data and styles; links only to its
    // own sections).
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("id=\"chart-data\""), "chart data inline");
    assert!(html.contains("uPlot"), "charting library inline");
    for bad in ["src=", "<link", "@import", "url("] {
        assert!(!html.contains(bad), "report.html contains {bad}");
    }
    for (i, _) in html.match_indices("href=\"") {
        assert!(
            html[i + 6..].starts_with('#'),
            "report.html links outside itself: {}",
            html.get(i..i + 60).unwrap_or(&html[i..])
        );
    }
    for s in &summary.strategies {
        assert!(html.contains(&s.name));
    }
}
