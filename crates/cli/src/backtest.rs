//! `polyedge backtest`: runs strategies over recordings and writes the report directory.
//!
//! With no `--recording`, the bundled sample (`data/sample`, 10 real BTC 5-minute windows) is
//! imported into a temporary recording first; it is looked up in the current directory, then
//! beside the sources this binary was built from.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polyedge_backtest::{BacktestConfig, Inputs, REPORT_FILES, summary, terminal};
use polyedge_store::import::{self, ImportKind};

use crate::progress;

/// Default report directory (relative to the current directory).
pub const DEFAULT_OUT: &str = "backtest-out";

/// Arguments of `polyedge backtest`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// Recording directories (default: the bundled sample, data/sample, imported on the fly).
    /// Several are merged by receive time; each event comes from the earliest given that is
    /// supplying that token, window or feed at the time (copies dropped, parts joined). With
    /// --clickhouse: recording names in the database (none = all).
    #[arg(long = "recording", num_args = 1.., value_name = "PATH")]
    pub recordings: Vec<PathBuf>,
    #[command(flatten)]
    pub source: crate::tables::ChSourceArgs,
    /// Strategies to run (registry names; repeatable or comma-separated). Default: the config
    /// file's `run`, else every registered strategy.
    #[arg(long = "strategy", num_args = 1.., value_delimiter = ',', value_name = "NAME")]
    pub strategies: Vec<String>,
    /// TOML configuration: [engine], [strategies.<name>], run, seed, baseline
    /// (see config/backtest.example.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only data received at or after this time, and windows starting at or after it
    /// (RFC 3339 UTC or unix seconds).
    #[arg(long)]
    pub from: Option<String>,
    /// Only data received before this time, and windows ending at or before it.
    #[arg(long)]
    pub to: Option<String>,
    /// Seed of the random baselines and seeded strategies (overrides the config's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Report directory (created; the five report files in it are replaced).
    #[arg(long, default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// Print summary.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Do not write `decisions.jsonl` (every decision of every strategy, as `polyedge run`
    /// writes it) into the report directory.
    #[arg(long)]
    pub no_decision_log: bool,
    /// Read, decompress and parse the recordings on the engine's thread instead of a second
    /// one (the default uses two cores; this is for running several backtests side by side).
    #[arg(long)]
    pub single_thread: bool,
    #[command(flatten)]
    pub damage: crate::DamageArgs,
}

/// Where the bundled sample is: `./data/sample`, else the source tree's.
fn find_sample() -> Result<PathBuf> {
    let here = PathBuf::from("data/sample");
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    for p in [&here, &built] {
        if p.join("windows.csv").is_file() {
            return Ok(p.clone());
        }
    }
    bail!(
        "no --recording given and the bundled sample was not found (looked for {} and {}); \
         pass --recording PATH (make one with `polyedge import`)",
        here.display(),
        built.display()
    )
}

/// `recordings`, or (when empty) the bundled sample imported into a temporary recording, with
/// the temporary directory that must outlive its use.
pub fn recordings_or_sample(
    recordings: &[PathBuf],
) -> Result<(Vec<PathBuf>, Option<tempfile::TempDir>)> {
    if !recordings.is_empty() {
        return Ok((recordings.to_vec(), None));
    }
    let src = find_sample()?;
    let tmp = tempfile::Builder::new()
        .prefix("polyedge-backtest-")
        .tempdir()
        .context("create a temporary directory for the sample recording")?;
    let rec = tmp.path().join("sample");
    eprintln!(
        "no --recording: importing the bundled sample {} into a temporary recording",
        src.display()
    );
    let bar = progress::Bar::new();
    import::import(ImportKind::Cronos, &src, &rec, &bar)
        .with_context(|| format!("import the bundled sample {}", src.display()))?;
    bar.finish();
    Ok((vec![rec], Some(tmp)))
}

/// Runs `polyedge backtest`.
pub fn cmd(args: &Args) -> Result<()> {
    let config = match &args.config {
        Some(p) => BacktestConfig::load(p)?,
        None => BacktestConfig::default(),
    };
    let from = args.from.as_deref().map(crate::parse_time).transpose()?;
    let to = args.to.as_deref().map(crate::parse_time).transpose()?;
    let clickhouse = args.source.source(&args.recordings)?;
    // Keeps the temporary sample recording alive for the run.
    let (recordings, _sample_dir) = if clickhouse.is_some() {
        (Vec::new(), None)
    } else {
        recordings_or_sample(&args.recordings)?
    };
    let inputs = Inputs {
        recordings,
        clickhouse,
        strategies: (!args.strategies.is_empty()).then(|| args.strategies.clone()),
        config,
        from,
        to,
        seed: args.seed,
        skip_corrupt: args.damage.skip_corrupt,
        decision_log: (!args.no_decision_log).then(|| args.out.join("decisions.jsonl")),
        single_thread: args.single_thread,
    };
    if !args.no_decision_log {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
    }
    let bar = progress::Bar::new();
    let bt = polyedge_backtest::run(&inputs, &bar)?;
    bar.finish();
    let summary = summary::build(&bt);
    let written = polyedge_backtest::write_report(&bt, &summary, &args.out)?;
    debug_assert_eq!(written.len(), REPORT_FILES.len());
    if args.json {
        print!("{}", summary::to_json(&summary)?);
    } else {
        print!("{}", terminal::render(&summary));
        println!("report: {}", args.out.join("report.html").display());
    }
    let broken: Vec<&str> = summary
        .strategies
        .iter()
        .flat_map(|s| std::iter::once(&s.metrics).chain(s.baseline.as_ref().map(|b| &b.metrics)))
        .filter(|m| {
            !m.consistency.window_pnl_sums_to_net
                || !m.consistency.cash_identity_holds
                || m.consistency.portfolio_errors > 0
        })
        .map(|m| m.name.as_str())
        .collect();
    if !broken.is_empty() {
        bail!("accounting identities do not hold for {broken:?} (a bug; report written)");
    }
    Ok(())
}
