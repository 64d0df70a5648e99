//! `polyedge run --mode shadow|paper|live`: the engine on live feeds (or a sandbox). See
//! `polyedge_runner` and docs/run.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use polyedge_runner::{Mode, RunConfig, RunOptions};

/// Arguments of `polyedge run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// shadow (decisions logged, nothing placed), paper (simulated fills on the live books) or
    /// live (real signed orders on the CLOB; the private key from POLYMARKET_PRIVATE_KEY or .env,
    /// see docs/live.md).
    #[arg(long, value_parser = ["shadow", "paper", "live"])]
    mode: String,
    /// polyedge.toml: the recorder's sections ([collect], [endpoints], [feeds.*]) and the
    /// backtest's (run, seed, [engine], [strategies.*]). Without it: every default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// State directory: recordings (the run's journal), decisions.jsonl, state.json,
    /// results.json. A restart with the same directory resumes the run.
    #[arg(long, default_value = "polyedge-run")]
    state: PathBuf,
    /// Strategies to run (override the file's `run`).
    #[arg(long = "strategy")]
    strategies: Vec<String>,
    /// Seed (overrides the file's).
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many seconds (default: until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds between status lines (stderr; also rewrites state.json).
    #[arg(long, default_value_t = 5.0)]
    status_secs: f64,
    /// Kill-switch file: while it exists, every resting order is cancelled and no new order is
    /// placed (positions are held to resolution); its first line is logged as the reason.
    /// Default: `<state>/KILL`. SIGUSR1 and `POST /kill` on the control port engage it too.
    #[arg(long)]
    kill_file: Option<PathBuf>,
    /// Loopback control port (e.g. 127.0.0.1:9464): `POST /kill`, `POST /resume`,
    /// `GET /breakers`. Off by default; non-loopback addresses are refused.
    #[arg(long)]
    control: Option<std::net::SocketAddr>,
    /// Confirms that `--mode live` places real orders (needed the first time a state directory
    /// runs live; or `[live] i_understand_live = true`).
    #[arg(long)]
    i_understand_live: bool,
    /// Worker threads of the async runtime (the recorder's writer and the engine have their own).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Runs `polyedge run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let mode = match args.mode.as_str() {
        "shadow" => Mode::Shadow,
        "paper" => Mode::Paper,
        "live" => Mode::Live,
        other => bail!("--mode {other}: expected shadow, paper or live"),
    };
    if !(args.status_secs.is_finite() && args.status_secs > 0.0) {
        bail!("--status-secs must be a positive number of seconds");
    }
    let config = match &args.config {
        Some(p) => RunConfig::load(p)?,
        None => RunConfig::defaults(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .thread_name("polyedge-run")
        .build()
        .context("cannot start the async runtime")?;
    eprintln!(
        "run: {} mode, state in {}",
        mode.name(),
        args.state.display()
    );
    let opts = RunOptions {
        mode,
        config,
        state_dir: args.state.clone(),
        strategies: (!args.strategies.is_empty()).then(|| args.strategies.clone()),
        seed: args.seed,
        status_every: Duration::from_secs_f64(args.status_secs),
        kill_file: args.kill_file.clone(),
        control: args.control,
        i_understand_live: args.i_understand_live,
    };
    let outcome = rt
        .block_on(polyedge_runner::run(
            opts,
            crate::collect::stop_signal(args.duration),
        ))
        .with_context(|| format!("run with state {}", args.state.display()))?;
    println!(
        "run finished: {} frames recorded into {}{}",
        outcome.frames_recorded,
        outcome.recording.display(),
        if outcome.rebuilt_from.is_empty() {
            String::new()
        } else {
            format!(
                " (state rebuilt from {} earlier recording(s))",
                outcome.rebuilt_from.len()
            )
        }
    );
    println!(
        "{:<14} {:>7} {:>6} {:>12} {:>10} {:>12}",
        "strategy", "orders", "fills", "net PnL", "fees", "open cost"
    );
    for s in &outcome.result.strategies {
        println!(
            "{:<14} {:>7} {:>6} {:>12} {:>10} {:>12}",
            s.name,
            s.orders.len(),
            s.fills.len(),
            s.net_pnl.to_string(),
            s.fees.to_string(),
            s.open_cost.to_string()
        );
    }
    println!(
        "{} decisions in {}; results in {}",
        outcome.stats.decisions,
        args.state.join("decisions.jsonl").display(),
        args.state.join("results.json").display()
    );
    Ok(())
}
