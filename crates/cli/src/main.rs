//! The `polyedge` command-line tool.
//!
//! ```text
//! polyedge import <kind> <src> --out <recording>   import a public dataset into a recording
//! polyedge inspect <recording>... [--json]          per-window coverage and book statistics
//! polyedge verify <recording>... [--json]           check every CRC; health table
//! polyedge replay <recording>... [--limit N]        print the parsed events as JSON lines
//! polyedge calibrate <recording>... [--json]        score the fair-value model (and market mid)
//! polyedge tables <recording> [--out DIR]           capture segments → Parquet tables
//! polyedge backfill <recording>... --clickhouse URL  load recordings into ClickHouse
//! polyedge replay --clickhouse URL [name...]        replay recordings stored in ClickHouse
//! polyedge backtest [--recording PATH…] [--strategy NAME…] [--config FILE] [--from T] [--to T]
//!                   [--seed N] [--out DIR] [--json]   run strategies, write the report
//!                   [--clickhouse URL]             (recordings from ClickHouse, by name)
//! polyedge sweep --strategy S --param P=V… [--shard I/N]   parameter sweep (docs/backtest.md)
//! polyedge sweep merge DIR…                         join the shards of a sweep
//! polyedge walk-forward --strategy S --param P=V…  in-sample choice, out-of-sample test
//! polyedge collect [--config polyedge.toml]         record the live feeds (docs/collect.md)
//! polyedge run --mode shadow|paper|live [--config polyedge.toml] [--state DIR]
//!                                                   the engine on live feeds (docs/run.md)
//! polyedge bench-collect [--frames N]               collector ingest benchmark
//! polyedge sandbox <recording>... [--speed max]    serve recordings on loopback (docs/sandbox.md)
//! polyedge features <recording>... --out DIR        labelled feature dataset (docs/features.md)
//! polyedge train <dataset>... [--model-out FILE]    train + cross-validate the directional model
//! ```
//!
//! Logs go to stderr (`RUST_LOG=debug` for more); results go to stdout.

/// mimalloc instead of glibc's malloc: `polyedge backtest` parses on a reader thread and frees
/// the parsed events on the engine's, and glibc serialises such cross-thread frees on its arena
/// lock (BENCHMARKS.md, "Pipelined replay": 1.21 s with glibc, 1.09 s with mimalloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backtest;
mod collect;
mod features;
mod progress;
mod replay_print;
mod report_cmd;
mod run_cmd;
mod sandbox_cmd;
mod sweep_cmd;
mod tables;
mod train;
mod verify;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use polyedge_analysis::{calibrate, inspect};
use polyedge_core::{Asset, UnixNanos};
use polyedge_store::import::{self, ImportKind};
use polyedge_store::{EventReplay, FrameReplay, Recording, ReplayFilter};

/// polyedge — record, replay and trade Polymarket's crypto Up/Down markets.
#[derive(Parser, Debug)]
#[command(name = "polyedge", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run strategies on live feeds (or a sandbox) in shadow mode (every decision logged,
    /// nothing placed) or paper mode (simulated fills on the live books, the backtest's fill
    /// model). Everything received is recorded into the state directory, so the run can be
    /// backtested afterwards and resumes after a restart. See docs/run.md.
    Run(run_cmd::RunArgs),
    /// The backtest's report (summary.json, report.html, …) for a shadow or paper run, from its
    /// results and decision log (with the counterfactual table), and the run compared with a
    /// backtest of the recording it made, order by order (comparison.json). See docs/run.md.
    Report(report_cmd::ReportArgs),
    /// Backtest strategies on recorded data: simulated fills with latency, taker delay and fees,
    /// settlement by the recorded outcomes, each strategy beside its random twin.
    ///
    /// With no arguments: every registered strategy on the bundled sample (data/sample). Writes
    /// summary.json, trades.csv, equity.csv, windows.csv and report.html into --out
    /// (default backtest-out) and prints a summary table.
    Backtest(backtest::Args),
    /// Sweep one strategy's parameters (grid or random search) in parallel on all cores:
    /// a backtest per configuration, results as CSV/Parquet with a heatmap, ranked, with the
    /// deflated Sharpe ratio of the best. `--shard I/N` runs one slice; `sweep merge` joins
    /// the slices into the table a single run gives. See docs/backtest.md.
    Sweep(sweep_cmd::SweepArgs),
    /// Walk-forward: per fold, sweep the parameters on the training days, keep the best, run it
    /// on the following test days; in-sample and out-of-sample figures side by side.
    WalkForward(sweep_cmd::WalkForwardArgs),
    /// Import a public dataset into a new recording directory.
    ///
    /// Kinds: cronos (cronos_btc5m_books), ligengxin (ligengxin_btc5m_markets_chainlink),
    /// herbalclaw (herbalclaw_btc5m_bbo_2026-02), jo267x (jo267x_btc5m_1hz_2026-05),
    /// thevalerka (thevalerka_btc15m_1hz_2026-02-02), felixdoteth (felixdoteth_btc5m_outcomes).
    Import {
        /// Dataset kind (short name or folder name).
        kind: ImportKind,
        /// Source folder of the dataset.
        src: PathBuf,
        /// Recording directory to create (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
    },
    /// Per-window table of a recording: frames, coverage, gaps, spread, U+D ask, outcome.
    Inspect {
        /// Recording directories.
        #[arg(required = true)]
        recordings: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        damage: DamageArgs,
    },
    /// Check a recording's integrity: read every record of every segment (zstd checksums,
    /// frame descriptors, record CRCs), compare the frame counts with the manifest, and print a
    /// health table per stream and every problem. Exits non-zero if anything is damaged or
    /// missing.
    Verify {
        /// Recording directories.
        #[arg(required = true)]
        recordings: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the parsed events of recordings as JSON lines, in receive-time order (prices,
    /// sizes and amounts as decimal strings, times as ns since the epoch).
    Replay {
        /// Recording directories (with --clickhouse: recording names in the database; none = all).
        #[arg(required_unless_present = "clickhouse")]
        recordings: Vec<PathBuf>,
        /// Replay from ClickHouse (http://host:8123/db) instead of the files.
        #[arg(long)]
        clickhouse: Option<String>,
        /// With --clickhouse: the longest wait for one ClickHouse request or page, seconds.
        #[arg(long, default_value_t = 300.0)]
        clickhouse_timeout: f64,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<u64>,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        damage: DamageArgs,
    },
    /// Convert a recording's capture segments into Parquet tables (book_snapshots, book_deltas,
    /// trades, best_bid_ask, spot_trades, spot_quotes, reference_prices, klines, windows) that
    /// pandas, polars and DuckDB read directly. See docs/tables.md.
    Tables {
        /// Recording directory.
        recording: PathBuf,
        /// Output directory (default: <recording>/tables).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        damage: DamageArgs,
    },
    /// Load recordings into ClickHouse (schema created if missing): frames and every table.
    /// Segments already loaded completely are skipped, so it can be re-run at any time (e.g.
    /// after ClickHouse was down during collect). See docs/tables.md.
    Backfill {
        /// Recording directories.
        #[arg(required = true)]
        recordings: Vec<PathBuf>,
        /// ClickHouse HTTP URL with database: http://[user[:password]@]host:8123/db
        /// (credentials also from CLICKHOUSE_USER / CLICKHOUSE_PASSWORD).
        #[arg(long)]
        clickhouse: String,
        /// Name of the recording in ClickHouse (default: the directory's name).
        #[arg(long = "as")]
        name: Option<String>,
        /// Load every segment again, even those already loaded.
        #[arg(long)]
        force: bool,
        /// The longest wait for one ClickHouse request, seconds (a server that accepts but
        /// never answers fails the backfill instead of hanging it).
        #[arg(long, default_value_t = 300.0)]
        clickhouse_timeout: f64,
        #[command(flatten)]
        damage: DamageArgs,
    },
    /// Calibration of the fair-value model's P(Up) (and of the market's Up mid where there are
    /// books) on settled windows: Brier, log loss, paired differences, reliability tables, and
    /// the model recalibrated walk-forward (isotonic, Platt) beside both.
    ///
    /// For each window with a known outcome and each time left t, the state at end − t (last
    /// data received at or before it; no look-ahead) gives p_model = model.p_up(spot, strike, t,
    /// vol). Reference: Chainlink ticks when present, else Binance 1-minute klines (coarse).
    /// Strike: the index's, else the reference at window start. --window/--asset select windows;
    /// --from/--to limit the replay (data outside is not seen).
    Calibrate {
        /// Recording directories.
        #[arg(required = true)]
        recordings: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Times left at which windows are scored, seconds (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "240,120,60,30")]
        times: Vec<u32>,
        /// Fair-value model: bs or merton.
        #[arg(long, default_value = "bs")]
        model: calibrate::ModelKind,
        /// Volatility input: ewma, realized, parkinson, garman_klass, garch (per-second variance
        /// of the reference's log returns) or dvol (Deribit's implied volatility index, where
        /// recorded).
        #[arg(long, default_value = "ewma")]
        vol: polyedge_model::VolMethod,
        /// Volatility lookback, seconds (realized: the window; ewma: λ = 1 − spacing/lookback).
        #[arg(long, default_value_t = calibrate::DEFAULT_LOOKBACK_S)]
        lookback_s: u64,
        /// EWMA decay per observation for every series (overrides 1 − spacing/lookback).
        #[arg(long)]
        lambda: Option<f64>,
        /// Reliability-table bins.
        #[arg(long, default_value_t = calibrate::DEFAULT_BINS)]
        bins: usize,
        /// Model horizon = end − price time of the spot (t plus the spot's age) instead of t.
        #[arg(long)]
        tau_from_spot: bool,
        /// Also write every snapshot (spot, strike, vol, both forecasts, skip reasons) to this
        /// file as JSON lines.
        #[arg(long)]
        snapshots: Option<PathBuf>,
        /// Merton: estimate the jump parameters from the reference series received so far
        /// (threshold estimator, expanding window); the three below are the fallback until
        /// enough jumps were seen.
        #[arg(long)]
        fit_jumps: bool,
        /// Walk-forward recalibration (isotonic and Platt) after this many training snapshots.
        #[arg(long, default_value_t = polyedge_analysis::recalibrate::DEFAULT_MIN_TRAIN)]
        recalibrate_min_train: usize,
        /// No walk-forward recalibration.
        #[arg(long)]
        no_recalibrate: bool,
        /// Merton: expected jumps per hour (illustrative default, not fitted).
        #[arg(long, default_value_t = calibrate::DEFAULT_JUMPS_PER_HOUR)]
        jumps_per_hour: f64,
        /// Merton: mean log jump size.
        #[arg(long, default_value_t = calibrate::DEFAULT_JUMP_MEAN, allow_hyphen_values = true)]
        jump_mean: f64,
        /// Merton: standard deviation of the log jump size.
        #[arg(long, default_value_t = calibrate::DEFAULT_JUMP_VOL)]
        jump_vol: f64,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        damage: DamageArgs,
    },
    /// Record the live feeds into a new recording, 24/7 (docs/collect.md): discovers the
    /// windows on Gamma, records every raw frame with its receive time, marks gaps.
    Collect(collect::CollectArgs),
    /// Collector ingest benchmark: frames/s through the real write path from a local WebSocket
    /// server, zero-loss check, peak RSS.
    BenchCollect(collect::BenchArgs),
    /// Serve recordings on loopback over the venues' own protocols (docs/sandbox.md): market
    /// channel, RTDS, Binance WS and Gamma, at real or accelerated speed, with fault injection.
    Sandbox(sandbox_cmd::SandboxArgs),
    /// The directional model's labelled dataset (docs/features.md): one row per window with an
    /// outcome and decision time (--at, seconds left), features from events received before it,
    /// the outcome and its source, the market's Up mid; Parquet plus a data-quality table.
    Features(features::FeaturesArgs),
    /// Train the directional model on `polyedge features` datasets: gradient-boosted trees and a
    /// logistic baseline, purged walk-forward cross-validation, isotonic calibration, importance;
    /// out-of-sample Brier/log loss beside the BS digital and the market mid; writes the model.
    Train(train::TrainArgs),
}

/// How the reading commands treat damaged recordings.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub(crate) struct DamageArgs {
    /// Read around damaged data (bad blocks, checksum or CRC mismatches, truncated segments)
    /// instead of failing, and report exactly what was skipped: frames, time span, windows
    /// affected. Without it damage is an error (exit 1) naming the file, record and offset;
    /// `polyedge verify` lists all of it.
    #[arg(long)]
    pub skip_corrupt: bool,
}

/// Time, asset and window filters shared by the reading commands.
#[derive(clap::Args, Debug, Clone, Default)]
struct FilterArgs {
    /// Only frames received at or after this time (RFC 3339 UTC, e.g. 2026-04-15T13:00:00Z, or unix seconds).
    #[arg(long)]
    from: Option<String>,
    /// Only frames received before this time (RFC 3339 UTC or unix seconds).
    #[arg(long)]
    to: Option<String>,
    /// Only these assets (btc, eth, sol, xrp …); repeatable.
    #[arg(long = "asset")]
    assets: Vec<Asset>,
    /// Only these windows (slugs); repeatable.
    #[arg(long = "window")]
    windows: Vec<String>,
}

impl FilterArgs {
    fn to_filter(&self) -> Result<ReplayFilter> {
        Ok(ReplayFilter {
            from: self.from.as_deref().map(parse_time).transpose()?,
            to: self.to.as_deref().map(parse_time).transpose()?,
            assets: (!self.assets.is_empty()).then(|| self.assets.clone()),
            windows: (!self.windows.is_empty()).then(|| self.windows.clone()),
        })
    }
}

/// Parses unix seconds (`1776257400`, `1776257400.5`) or RFC 3339 UTC (`2026-04-15T13:00:00Z`).
fn parse_time(s: &str) -> Result<UnixNanos> {
    if let Ok(t) = UnixNanos::parse_secs_decimal(s) {
        return Ok(t);
    }
    let dt = chrono::DateTime::parse_from_rfc3339(s).with_context(|| {
        format!("bad time {s:?}: expected RFC 3339 (2026-04-15T13:00:00Z) or unix seconds")
    })?;
    let ns = dt.timestamp_nanos_opt().context("time out of range")?;
    Ok(UnixNanos(u64::try_from(ns).context("time before 1970")?))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,polyedge_feeds=info,polyedge::health=info")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Backtest(args) => backtest::cmd(&args),
        Command::Sweep(args) => sweep_cmd::cmd_sweep(&args),
        Command::WalkForward(args) => sweep_cmd::cmd_walk_forward(&args),
        Command::Run(args) => run_cmd::run(&args),
        Command::Report(args) => report_cmd::run(&args),
        Command::Import { kind, src, out } => cmd_import(kind, &src, &out),
        Command::Collect(args) => collect::run(&args),
        Command::BenchCollect(args) => collect::bench(&args),
        Command::Sandbox(args) => sandbox_cmd::run(&args),
        Command::Features(args) => features::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Inspect {
            recordings,
            json,
            filter,
            damage,
        } => cmd_inspect(&recordings, json, &filter, damage),
        Command::Verify { recordings, json } => verify::cmd(&recordings, json),
        Command::Replay {
            recordings,
            clickhouse: Some(url),
            clickhouse_timeout,
            limit,
            filter,
            damage: _,
        } => {
            let names: Vec<String> = recordings
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            tables::cmd_replay_clickhouse(
                &url,
                tables::timeout(clickhouse_timeout)?,
                &names,
                limit,
                &filter.to_filter()?,
            )
        }
        Command::Replay {
            recordings,
            clickhouse: None,
            limit,
            filter,
            damage,
            ..
        } => cmd_replay(&recordings, limit, &filter, damage),
        Command::Backfill {
            recordings,
            clickhouse,
            name,
            force,
            clickhouse_timeout,
            damage,
        } => tables::cmd_backfill(
            &recordings,
            &clickhouse,
            tables::timeout(clickhouse_timeout)?,
            name.as_deref(),
            force,
            damage,
        ),
        Command::Tables {
            recording,
            out,
            damage,
        } => tables::cmd_tables(&recording, out.as_deref(), damage),
        Command::Calibrate {
            recordings,
            json,
            times,
            model,
            vol,
            lookback_s,
            lambda,
            bins,
            tau_from_spot,
            snapshots,
            jumps_per_hour,
            jump_mean,
            jump_vol,
            fit_jumps,
            recalibrate_min_train,
            no_recalibrate,
            filter,
            damage,
        } => {
            let config = calibrate::Config {
                times_s: times,
                model,
                merton: polyedge_model::MertonJumpDigital {
                    drift_per_s: 0.0,
                    jump_intensity_per_s: jumps_per_hour / 3600.0,
                    jump_mean,
                    jump_vol,
                },
                vol,
                lookback_s,
                lambda,
                bins,
                tau_from_spot,
                fit_jumps,
                recalibrate_min_train: (!no_recalibrate).then_some(recalibrate_min_train),
            };
            cmd_calibrate(
                &recordings,
                json,
                config,
                snapshots.as_deref(),
                &filter,
                damage,
            )
        }
    }
}

fn cmd_import(kind: ImportKind, src: &std::path::Path, out: &std::path::Path) -> Result<()> {
    if !src.is_dir() {
        bail!(
            "{}: not a directory (expected the dataset folder, e.g. ../shared/data/cronos_btc5m_books)",
            src.display()
        );
    }
    let bar = progress::Bar::new();
    let report = import::import(kind, src, out, &bar)
        .with_context(|| format!("import {kind} from {}", src.display()))?;
    bar.finish();
    println!("imported {} into {}", src.display(), out.display());
    println!("{report}");
    Ok(())
}

fn open_all(paths: &[PathBuf]) -> Result<Vec<Recording>> {
    paths
        .iter()
        .map(|p| Recording::open(p).with_context(|| format!("open recording {}", p.display())))
        .collect()
}

/// Prints the damage a replay skipped (`--skip-corrupt`) to stderr.
pub(crate) fn report_skipped(stats: &polyedge_store::ReplayStats) {
    if stats.skipped.is_empty() {
        return;
    }
    eprintln!(
        "warning: --skip-corrupt: {}{} frames lost to damage in {} span(s), windows affected: {}",
        if stats.skipped_exact() {
            ""
        } else {
            "at least "
        },
        stats.frames_skipped(),
        stats.skipped.len(),
        {
            let w = stats.skipped_windows();
            if w.is_empty() {
                "none".to_string()
            } else {
                w.join(", ")
            }
        }
    );
    for sp in &stats.skipped {
        eprintln!("  skipped: {sp}");
    }
}

fn cmd_inspect(
    paths: &[PathBuf],
    json: bool,
    filter: &FilterArgs,
    damage: DamageArgs,
) -> Result<()> {
    let recs = open_all(paths)?;
    let mut windows: Vec<polyedge_core::Window> = recs
        .iter()
        .flat_map(|r| r.windows().iter().cloned())
        .collect();
    windows.sort_by(|a, b| (a.start, &a.slug).cmp(&(b.start, &b.slug)));
    windows.dedup_by(|a, b| a.slug == b.slug);
    let filt = filter.to_filter()?;
    if let Some(sel) = &filt.windows {
        windows.retain(|w| sel.contains(&w.slug));
    }
    if let Some(assets) = &filt.assets {
        windows.retain(|w| assets.contains(&w.asset));
    }
    let mut ins = inspect::Inspector::new(&windows);
    let bar = progress::Bar::new();
    let total: u64 = recs
        .iter()
        .flat_map(|r| r.manifest().streams.values())
        .map(|s| s.frames)
        .sum();
    bar.set_total_frames(Some(total));
    // Frame-level replay: inspect counts frames per window, so it parses each frame itself.
    let mut replay = FrameReplay::open(&recs, filt)?.with_skip_corrupt(damage.skip_corrupt);
    let mut events = Vec::with_capacity(64);
    while let Some(item) = replay.next_frame() {
        let frame = item?;
        bar.inc_frame();
        events.clear();
        let unknown_before = polyedge_venues::unknown::skipped();
        let parsed = frame
            .stream
            .feed
            .parse(frame.bytes, frame.recv_ns, &mut events);
        let unknown = polyedge_venues::unknown::skipped() - unknown_before;
        if unknown > 0 {
            ins.on_unknown(&frame.stream.name, unknown);
        }
        match parsed {
            Ok(_) => ins.on_frame(&frame.stream.name, frame.recv_ns, &events),
            Err(_) => ins.on_parse_error(&frame.stream.name),
        }
    }
    bar.finish();
    ins.set_torn_tails(replay.stats().torn_tails);
    ins.set_skipped(&replay.stats().skipped);
    let report = ins.finish();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", inspect::render_table(&report))?;
    }
    Ok(())
}

fn cmd_calibrate(
    paths: &[PathBuf],
    json: bool,
    config: calibrate::Config,
    snapshots: Option<&std::path::Path>,
    filter: &FilterArgs,
    damage: DamageArgs,
) -> Result<()> {
    let recs = open_all(paths)?;
    let filt = filter.to_filter()?;
    let mut windows: Vec<polyedge_core::Window> = recs
        .iter()
        .flat_map(|r| r.windows().iter().cloned())
        .collect();
    if let Some(sel) = &filt.windows {
        let missing: Vec<&String> = sel
            .iter()
            .filter(|s| !windows.iter().any(|w| &w.slug == *s))
            .collect();
        if !missing.is_empty() {
            bail!("window(s) not in the recordings' index: {missing:?}");
        }
        windows.retain(|w| sel.contains(&w.slug));
    }
    if let Some(assets) = &filt.assets {
        windows.retain(|w| assets.contains(&w.asset));
    }
    let mut cal = calibrate::Calibrator::new(&windows, config)?;
    let bar = progress::Bar::new();
    let total: u64 = recs
        .iter()
        .flat_map(|r| r.manifest().streams.values())
        .map(|s| s.frames)
        .sum();
    bar.set_total_frames(Some(total));
    // Only the time range filters the replay: the asset/window filter of the replay would also
    // cut the reference series to the windows' own spans (no volatility history, no strike).
    let time_only = polyedge_store::ReplayFilter {
        from: filt.from,
        to: filt.to,
        assets: None,
        windows: None,
    };
    let mut replay = EventReplay::open(&recs, time_only)?.with_skip_corrupt(damage.skip_corrupt);
    let mut frames_seen = 0;
    while let Some(ev) = replay.next() {
        let ev = ev?;
        let frames = replay.stats().frames;
        if frames > frames_seen {
            polyedge_store::Progress::inc(&bar, frames - frames_seen);
            frames_seen = frames;
        }
        cal.on_event(&ev);
    }
    bar.finish();
    let st = replay.stats();
    report_skipped(st);
    if st.parse_errors > 0 || st.torn_tails > 0 {
        eprintln!(
            "note: {} frames not parsed, {} torn segment tails",
            st.parse_errors, st.torn_tails
        );
    }
    cal.advance_to(UnixNanos(u64::MAX));
    if let Some(path) = snapshots {
        let file =
            std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for s in cal.snapshots() {
            serde_json::to_writer(&mut w, s)?;
            writeln!(w)?;
        }
        w.flush()
            .with_context(|| format!("write {}", path.display()))?;
    }
    let report = cal.finish();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", calibrate::render_table(&report))?;
    }
    Ok(())
}

fn cmd_replay(
    paths: &[PathBuf],
    limit: Option<u64>,
    filter: &FilterArgs,
    damage: DamageArgs,
) -> Result<()> {
    let recs = open_all(paths)?;
    let mut replay =
        EventReplay::open(&recs, filter.to_filter()?)?.with_skip_corrupt(damage.skip_corrupt);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    for ev in replay.by_ref() {
        if limit.is_some_and(|l| n >= l) {
            break;
        }
        serde_json::to_writer(&mut out, &replay_print::event_json(&ev?)?)?;
        writeln!(out)?;
        n += 1;
    }
    out.flush()?;
    let st = replay.stats();
    eprintln!(
        "{n} events from {} frames ({} parse errors, {} torn tails)",
        st.frames, st.parse_errors, st.torn_tails
    );
    report_skipped(st);
    Ok(())
}
