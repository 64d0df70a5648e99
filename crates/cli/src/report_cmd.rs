//! `polyedge report <run-dir>`: the backtest's report (summary.json, trades.csv, equity.csv,
//! windows.csv, report.html) for a shadow or paper run, from the run's own results and decision
//! log, and a comparison of the run with a backtest of the recording it made, order by order.
//! See docs/run.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polyedge_backtest::{Inputs, summary, terminal};
use polyedge_engine::{CounterSignal, Decision, OrderRecord, RunResult};
use polyedge_runner::RunConfig;
use polyedge_runner::state::RunMeta;
use serde::Serialize;

/// Arguments of `polyedge report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The run's state directory (`polyedge run --state`).
    run_dir: PathBuf,
    /// The run's polyedge.toml (checked against the digest in run.json). Without it: the
    /// defaults, which must be what the run used.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Report directory (default `<run-dir>/report`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also load the decision log into ClickHouse (`http://host:8123/database`; table
    /// `decisions`, the run named by its state directory's name).
    #[arg(long, value_name = "URL")]
    clickhouse: Option<String>,
}

/// One strategy's comparison of the run with the backtest of its recording.
#[derive(Debug, Serialize)]
struct Comparison {
    strategy: String,
    run_orders: usize,
    backtest_orders: usize,
    identical: usize,
    differing: usize,
    only_in_run: usize,
    only_in_backtest: usize,
    run_fills: usize,
    backtest_fills: usize,
    run_net_pnl: String,
    backtest_net_pnl: String,
    /// The first 20 differences, in order id order.
    differences: Vec<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not what polyedge run writes", path.display()))
}

fn describe(o: &OrderRecord) -> String {
    format!(
        "{:?} {} {} @ {} size {} decided {} filled {} fees {}{}",
        o.intent.side,
        o.intent.outcome,
        o.intent.window,
        o.intent.price,
        o.intent.size,
        o.decided_at.to_rfc3339(),
        o.filled,
        o.fees,
        o.rejected
            .as_ref()
            .map_or(String::new(), |r| format!(" rejected {}", r.code()))
    )
}

fn compare(run: &RunResult, bt: &RunResult) -> Vec<Comparison> {
    run.strategies
        .iter()
        .map(|r| {
            let b = bt.strategies.iter().find(|b| b.name == r.name);
            let by_id = |orders: &[OrderRecord]| -> BTreeMap<u64, OrderRecord> {
                orders.iter().map(|o| (o.intent.id.0, o.clone())).collect()
            };
            let ro = by_id(&r.orders);
            let bo = b.map(|b| by_id(&b.orders)).unwrap_or_default();
            let mut c = Comparison {
                strategy: r.name.clone(),
                run_orders: ro.len(),
                backtest_orders: bo.len(),
                identical: 0,
                differing: 0,
                only_in_run: 0,
                only_in_backtest: 0,
                run_fills: r.fills.len(),
                backtest_fills: b.map_or(0, |b| b.fills.len()),
                run_net_pnl: r.net_pnl.to_string(),
                backtest_net_pnl: b.map_or_else(String::new, |b| b.net_pnl.to_string()),
                differences: Vec::new(),
            };
            for (id, o) in &ro {
                match bo.get(id) {
                    Some(x) if x == o => c.identical += 1,
                    Some(x) => {
                        c.differing += 1;
                        if c.differences.len() < 20 {
                            c.differences.push(format!(
                                "order {id}: run {} | backtest {}",
                                describe(o),
                                describe(x)
                            ));
                        }
                    }
                    None => {
                        c.only_in_run += 1;
                        if c.differences.len() < 20 {
                            c.differences
                                .push(format!("order {id}: only in the run: {}", describe(o)));
                        }
                    }
                }
            }
            for (id, x) in &bo {
                if !ro.contains_key(id) {
                    c.only_in_backtest += 1;
                    if c.differences.len() < 20 {
                        c.differences
                            .push(format!("order {id}: only in the backtest: {}", describe(x)));
                    }
                }
            }
            c
        })
        .collect()
}

fn e6(p: polyedge_core::Price) -> i64 {
    i64::from(p.micros())
}

/// The row of decision `seq` of run `run` (the `decisions` table).
fn decision_row(run: &str, seq: u64, d: &Decision) -> polyedge_tables::tables::DecisionRow {
    use polyedge_engine::{DecisionKind, Verdict};
    let mut r = polyedge_tables::tables::DecisionRow {
        run: run.to_string(),
        seq,
        at_ns: i64::try_from(d.at.0).unwrap_or(i64::MAX),
        lane: u32::try_from(d.lane).unwrap_or(u32::MAX),
        strategy: d.strategy.clone(),
        kind: String::new(),
        window: String::new(),
        order_id: None,
        outcome: None,
        side: None,
        price_e6: None,
        size_e6: None,
        order_type: None,
        fair_value_e6: None,
        best_bid_e6: None,
        best_ask_e6: None,
        verdict: String::new(),
        reason: None,
    };
    match &d.kind {
        DecisionKind::Submit {
            intent,
            fair_value,
            best_bid,
            best_ask,
            verdict,
        } => {
            r.kind = "submit".into();
            r.window.clone_from(&intent.window);
            r.order_id = Some(intent.id.0);
            r.outcome = Some(intent.outcome.to_string());
            r.side = Some(intent.side.name().to_string());
            r.price_e6 = Some(e6(intent.price));
            r.size_e6 = i64::try_from(intent.size.micros()).ok();
            r.order_type = Some(intent.order_type().to_string());
            r.fair_value_e6 = fair_value.map(e6);
            r.best_bid_e6 = best_bid.map(e6);
            r.best_ask_e6 = best_ask.map(e6);
            match verdict {
                Verdict::Sent => r.verdict = "sent".into(),
                Verdict::Refused(why) => {
                    r.verdict = "refused".into();
                    r.reason = Some(why.code().to_string());
                }
            }
        }
        DecisionKind::Cancel { order } => {
            r.kind = "cancel".into();
            r.order_id = Some(order.0);
        }
        DecisionKind::Skip {
            window,
            reason,
            signal,
        } => {
            r.kind = "skip".into();
            r.window.clone_from(window);
            r.verdict = "skipped".into();
            r.reason = Some(reason.clone());
            if let Some(g) = signal {
                r.outcome = Some(g.outcome.to_string());
                r.side = Some(g.side.name().to_string());
                r.price_e6 = Some(e6(g.price));
                r.fair_value_e6 = g.fair_value.map(e6);
            }
        }
    }
    r
}

/// Runs `polyedge report`.
pub fn run(args: &ReportArgs) -> Result<()> {
    let dir = &args.run_dir;
    let meta: RunMeta = read_json(&dir.join("run.json"))
        .with_context(|| format!("{} is not a run's state directory", dir.display()))?;
    let config = match &args.config {
        Some(p) => RunConfig::load(p)?,
        None => RunConfig::defaults(),
    };
    if config.digest != meta.config_digest {
        bail!(
            "the configuration {} is not the one the run in {} used (SHA-256 {} vs {} in run.json): pass the run's own --config",
            args.config
                .as_ref()
                .map_or_else(|| "<defaults>".to_string(), |p| p.display().to_string()),
            dir.display(),
            &config.digest[..12],
            &meta.config_digest[..12.min(meta.config_digest.len())]
        );
    }
    let results = dir.join("results.json");
    if !results.is_file() {
        bail!(
            "{} is missing: the run is still going or was killed before it finished; stop it with SIGTERM (or restart it with the same --state and stop it) to write its results",
            results.display()
        );
    }
    let run_result: RunResult = read_json(&results)?;
    let mut recordings: Vec<PathBuf> = std::fs::read_dir(dir.join("recordings"))
        .with_context(|| format!("{}: no recordings", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("recording.json").is_file())
        .collect();
    recordings.sort();
    if recordings.is_empty() {
        bail!("{}: the run recorded nothing", dir.display());
    }
    let out = args.out.clone().unwrap_or_else(|| dir.join("report"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    eprintln!(
        "report: {} run of {} ({} recording(s)); backtesting them for the random twins and the comparison",
        serde_json::to_value(meta.mode)?.as_str().unwrap_or("?"),
        meta.strategies.join(", "),
        recordings.len()
    );
    let inputs = Inputs {
        recordings,
        clickhouse: None,
        strategies: Some(meta.strategies.clone()),
        config: config.strategies.clone(),
        seed: Some(meta.seed),
        decision_log: Some(out.join("backtest-decisions.jsonl")),
        ..Inputs::default()
    };
    let bar = crate::progress::Bar::new();
    let mut bt = polyedge_backtest::run(&inputs, &bar)?;
    bar.finish();
    let simulated = std::mem::replace(&mut bt.main, run_result);
    // Counterfactuals and the decisions table from the run's own decision log.
    let log = dir.join("decisions.jsonl");
    let run_name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "run".into());
    let mut signals = Vec::new();
    let mut rows = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&log) {
        let last = text.lines().count();
        for (n, line) in text.lines().enumerate() {
            match serde_json::from_str::<Decision>(line) {
                Ok(d) => {
                    signals.extend(CounterSignal::of(&d));
                    rows.push(decision_row(&run_name, n as u64, &d));
                }
                Err(e) if n + 1 == last => {
                    eprintln!("report: {}: torn last line ignored ({e})", log.display());
                }
                Err(e) => bail!("{}:{}: {e}", log.display(), n + 1),
            }
        }
    }
    bt.counterfactuals = polyedge_engine::counterfactuals(&signals, |slug| {
        bt.windows
            .iter()
            .find(|w| w.slug == slug)
            .and_then(|w| w.outcome)
    });
    bt.warnings.push(format!(
        "report of a {} run (state directory {}): the strategies' orders, fills and PnL are the run's own (results.json, decisions.jsonl); the random twins, data counters and comparison come from a backtest of the run's recordings with the same configuration and seed",
        serde_json::to_value(meta.mode)?.as_str().unwrap_or("?"),
        dir.display()
    ));
    let s = summary::build(&bt);
    polyedge_backtest::write_report(&bt, &s, &out)?;
    if let Some(url) = &args.clickhouse {
        let db = polyedge_tables::clickhouse::ChDb::new(
            polyedge_tables::clickhouse::ChConfig::parse(url)?,
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        rt.block_on(async {
            db.create_schema().await?;
            db.insert(&rows).await
        })
        .with_context(|| format!("loading the decision log into {}", db.config().display()))?;
        println!(
            "clickhouse: {} decisions of run {run_name} loaded into {}",
            rows.len(),
            db.config().display()
        );
    }
    let (table, n) =
        polyedge_tables::parquet::write_rows(&out.join("tables"), "decisions.parquet", rows)?;
    println!("decision log: {n} decisions in {}", table.display());
    let comparison = compare(&bt.main, &simulated);
    let path = out.join("comparison.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&serde_json::json!({ "strategies": comparison }))?,
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    print!("{}", terminal::render(&s));
    println!(
        "\nrun vs backtest of its recording, order by order:\n{:<14} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>12} {:>12}",
        "strategy",
        "run",
        "backt.",
        "identical",
        "differing",
        "run only",
        "bt only",
        "run PnL",
        "backtest PnL"
    );
    for c in &comparison {
        println!(
            "{:<14} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>12} {:>12}",
            c.strategy,
            c.run_orders,
            c.backtest_orders,
            c.identical,
            c.differing,
            c.only_in_run,
            c.only_in_backtest,
            c.run_net_pnl,
            c.backtest_net_pnl
        );
        for d in &c.differences {
            println!("  {d}");
        }
    }
    println!(
        "report: {} (comparison: {})",
        out.join("report.html").display(),
        path.display()
    );
    Ok(())
}
