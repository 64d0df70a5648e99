//! `polyedge sweep` (and `sweep merge`) and `polyedge walk-forward`: the research commands on top
//! of the backtest (`polyedge_backtest::{sweep, walkforward}`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use polyedge_backtest::sweep::{self, Axis, Objective, Search, Shard, SweepSpec, SweepTable};
use polyedge_backtest::sweep_files::{self, SweepData};
use polyedge_backtest::walkforward::{self, Split};
use polyedge_backtest::{BacktestConfig, Inputs};

use crate::progress;

/// Default sweep directory.
pub const DEFAULT_SWEEP_OUT: &str = "sweep-out";
/// Default walk-forward directory.
pub const DEFAULT_WF_OUT: &str = "walkforward-out";

/// What to sweep: shared by `sweep` and `walk-forward`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SweepSelect {
    /// Recording directories (default: the bundled sample, imported on the fly). With
    /// --clickhouse: recording names in the database (none = all).
    #[arg(long = "recording", num_args = 1.., value_name = "PATH")]
    pub recordings: Vec<PathBuf>,
    #[command(flatten)]
    pub source: crate::tables::ChSourceArgs,
    /// The strategy whose parameters are swept (registry name). Required; an `Option` only so
    /// that `sweep merge` (which negates the requirement) can build these arguments empty.
    #[arg(long, required = true)]
    pub strategy: Option<String>,
    /// A swept parameter: `path=v1,v2,…` (TOML values) or `path=lo:hi:step` (grid) or
    /// `path=lo:hi` (random search only). Paths are dotted keys of the strategy's table, e.g.
    /// `threshold_bps=100:800:100`, `sizing.kelly_fraction=0.05,0.1,0.25`. Repeatable.
    #[arg(long = "param", required = true, value_name = "PATH=VALUES")]
    pub params: Vec<String>,
    /// `grid` (every combination) or `random` (--samples draws).
    #[arg(long, default_value = "grid")]
    pub search: String,
    /// Configurations drawn by a random search.
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    /// Ranking objective: `sharpe` (per-window Sharpe) or `net_pnl`.
    #[arg(long, default_value = "sharpe")]
    pub objective: String,
    /// Also run each configuration's random twin (doubles the time; adds the permutation
    /// p-value).
    #[arg(long)]
    pub baseline: bool,
    /// Base configuration (TOML, as `polyedge backtest --config`): engine, other parameters.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only data received at or after this time (RFC 3339 UTC or unix seconds).
    #[arg(long)]
    pub from: Option<String>,
    /// Only data received before this time.
    #[arg(long)]
    pub to: Option<String>,
    /// Seed of the random search and of every run (default: the config's, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `polyedge sweep`.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    /// `merge`: combine shard directories.
    #[command(subcommand)]
    pub merge: Option<SweepSub>,
    #[command(flatten)]
    pub select: SweepSelect,
    /// Run only the configurations `i` with `i mod N = I` (0 <= I < N), for batch schedulers;
    /// combine the shards' directories with `polyedge sweep merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Output directory (sweep.csv, sweep.parquet, sweep.json, sweep.html; replaced).
    #[arg(long, default_value = DEFAULT_SWEEP_OUT)]
    pub out: PathBuf,
    /// Configurations shown in the terminal.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// `polyedge sweep merge`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum SweepSub {
    /// Combine the directories of every shard of one sweep into the table a single run gives.
    Merge {
        /// Shard directories (each written by `polyedge sweep --shard I/N --out DIR`).
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = DEFAULT_SWEEP_OUT)]
        out: PathBuf,
        /// Configurations shown in the terminal.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
}

/// `polyedge walk-forward`.
#[derive(clap::Args, Debug, Clone)]
pub struct WalkForwardArgs {
    #[command(flatten)]
    pub select: SweepSelect,
    /// Training period per fold: a duration like 1d, 12h, 30m (whole days start at UTC
    /// midnight).
    #[arg(long, default_value = "1d")]
    pub train: String,
    /// Test period per fold.
    #[arg(long, default_value = "1d")]
    pub test: String,
    /// Between fold starts (default: --test).
    #[arg(long)]
    pub step: Option<String>,
    /// Anchored: every training period starts at the origin (default: rolling).
    #[arg(long)]
    pub anchored: bool,
    /// Output directory (walkforward.json, walkforward.csv, walkforward.html).
    #[arg(long, default_value = DEFAULT_WF_OUT)]
    pub out: PathBuf,
}

/// The base inputs and spec of a sweep selection; keeps the temporary sample alive.
struct Prepared {
    inputs: Inputs,
    spec: SweepSpec,
    data: SweepData,
    _sample: Option<tempfile::TempDir>,
}

fn prepare(sel: &SweepSelect) -> Result<Prepared> {
    let config = match &sel.config {
        Some(p) => BacktestConfig::load(p)?,
        None => BacktestConfig::default(),
    };
    let from = sel.from.as_deref().map(crate::parse_time).transpose()?;
    let to = sel.to.as_deref().map(crate::parse_time).transpose()?;
    let clickhouse = sel.source.source(&sel.recordings)?;
    let (recordings, sample) = if clickhouse.is_some() {
        (Vec::new(), None)
    } else {
        crate::backtest::recordings_or_sample(&sel.recordings)?
    };
    let axes = sel
        .params
        .iter()
        .map(|p| Axis::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let search = match sel.search.as_str() {
        "grid" => Search::Grid,
        "random" => Search::Random {
            samples: sel.samples,
        },
        s => bail!("--search {s:?}: expected grid or random"),
    };
    let seed = config.effective_seed(sel.seed);
    let strategy = sel.strategy.clone().context("--strategy is required")?;
    config.strategy_names(Some(std::slice::from_ref(&strategy)))?;
    let spec = SweepSpec {
        strategy,
        axes,
        search,
        seed,
        objective: Objective::parse(&sel.objective).map_err(anyhow::Error::msg)?,
        baseline: sel.baseline,
    };
    let inputs = Inputs {
        recordings,
        clickhouse,
        strategies: None,
        config,
        from,
        to,
        seed: Some(seed),
        skip_corrupt: false,
        decision_log: None,
        single_thread: false,
    };
    let data = SweepData {
        recordings: inputs.recording_names(),
        from: from.map(polyedge_core::UnixNanos::to_rfc3339),
        to: to.map(polyedge_core::UnixNanos::to_rfc3339),
    };
    Ok(Prepared {
        inputs,
        spec,
        data,
        _sample: sample,
    })
}

fn print_top(t: &SweepTable, top: usize) {
    let mut rows: Vec<&sweep::SweepRow> = t.rows.iter().collect();
    rows.sort_by_key(|r| (r.rank.unwrap_or(usize::MAX), r.index));
    let paths: Vec<&str> = t.spec.axes.iter().map(|a| a.path.as_str()).collect();
    let o = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |x| format!("{x:.d$}"));
    println!(
        "{:>4} {:>5}  {:<40} {:>9} {:>19} {:>8} {:>17} {:>6} {:>6} {:>6}",
        "rank",
        "#",
        "parameters",
        "net PnL",
        "95% CI",
        "Sharpe/w",
        "95% CI",
        "trades",
        "PSR0",
        "DSR"
    );
    for r in rows.iter().take(top) {
        let params = paths
            .iter()
            .zip(&r.params)
            .map(|(p, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let ci = |lo: Option<f64>, hi: Option<f64>, d: usize| match (lo, hi) {
            (Some(l), Some(h)) => format!("[{l:.d$}, {h:.d$}]"),
            _ => "-".to_string(),
        };
        println!(
            "{:>4} {:>5}  {:<40} {:>9} {:>19} {:>8} {:>17} {:>6} {:>6} {:>6}",
            r.rank.map_or("-".into(), |x| x.to_string()),
            r.index,
            params,
            r.net_pnl
                .parse::<f64>()
                .map_or(r.net_pnl.clone(), |x| format!("{x:.2}")),
            ci(r.net_pnl_lo, r.net_pnl_hi, 2),
            o(r.sharpe_per_window, 4),
            ci(r.sharpe_lo, r.sharpe_hi, 3),
            r.trades,
            o(r.psr, 3),
            o(r.dsr, 3),
        );
    }
    if let Some(s) = &t.summary {
        println!(
            "\n{} configurations ({} with a defined Sharpe); SR0 (expected max Sharpe of {} unskilled trials) = {:.4}; best by {}: #{} with deflated Sharpe ratio {}",
            s.configurations,
            s.with_sharpe,
            s.configurations,
            s.expected_max_sharpe,
            t.spec.objective.name(),
            s.best.map_or("-".into(), |b| b.to_string()),
            o(s.best_dsr, 3),
        );
        println!(
            "pUSD; Sharpe per window, not annualized; 95% CI: block bootstrap over windows; PSR0 = P(true Sharpe > 0); DSR = deflated Sharpe ratio (Bailey & Lopez de Prado 2014; >= 0.95: unlikely to be luck of the search)."
        );
    } else if let Some(sh) = t.shard {
        println!(
            "\nshard {}/{}: {} of {} configurations; merge every shard with `polyedge sweep merge` for ranks and the deflated Sharpe ratio",
            sh.index,
            sh.count,
            t.rows.len(),
            t.total
        );
    }
}

/// Runs `polyedge sweep` (or `sweep merge`).
pub fn cmd_sweep(args: &SweepArgs) -> Result<()> {
    if let Some(SweepSub::Merge { shards, out, top }) = &args.merge {
        let mut tables = Vec::new();
        let mut data: Option<SweepData> = None;
        for d in shards {
            let (t, dd) = sweep_files::read_dir(d)?;
            if data.as_ref().is_some_and(|x| *x != dd) {
                bail!(
                    "{}: the shard ran on other data (recordings or range) than the first",
                    d.display()
                );
            }
            data = Some(dd);
            tables.push(t);
        }
        let t = sweep::merge(tables)?;
        let data = data.unwrap_or_default();
        sweep_files::write_dir(&t, &data, out)?;
        print_top(&t, *top);
        println!(
            "merged {} shard(s) into {}",
            shards.len(),
            out.join("sweep.csv").display()
        );
        return Ok(());
    }
    let sel = &args.select;
    let p = prepare(sel)?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let threads = sel.threads.unwrap_or_else(rayon_threads);
    let bar = progress::Bar::new();
    let t0 = Instant::now();
    let table = sweep::run(&p.inputs, &p.spec, shard, sel.threads, &bar)?;
    let wall = t0.elapsed();
    bar.finish();
    sweep_files::write_dir(&table, &p.data, &args.out)
        .with_context(|| format!("write {}", args.out.display()))?;
    print_top(&table, args.top);
    println!(
        "{} configurations of {} on {threads} thread(s) in {:.2} s wall; report: {}",
        table.rows.len(),
        p.spec.strategy,
        wall.as_secs_f64(),
        args.out.join("sweep.html").display()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs `polyedge walk-forward`.
pub fn cmd_walk_forward(args: &WalkForwardArgs) -> Result<()> {
    let p = prepare(&args.select)?;
    let d = |s: &str| walkforward::parse_duration(s).map_err(anyhow::Error::msg);
    let test_s = d(&args.test)?;
    let split = Split {
        train_s: d(&args.train)?,
        test_s,
        step_s: args.step.as_deref().map(d).transpose()?.unwrap_or(test_s),
        anchored: args.anchored,
    };
    let bar = progress::Bar::new();
    let report = walkforward::run(&p.inputs, &p.spec, &split, args.select.threads, &bar)?;
    bar.finish();
    walkforward::write_dir(&report, &args.out)?;
    print!("{}", walkforward::render_table(&report));
    println!("report: {}", args.out.join("walkforward.html").display());
    Ok(())
}
