//! The `polyedge` command-line tool.
//!
//! ```text
//! polyedge import <kind> <src> --out <recording>   import a public dataset into a recording
//! polyedge inspect <recording>... [--json]          per-window coverage and book statistics
//! polyedge replay <recording>... [--limit N]        print the parsed events as JSON lines
//! ```
//!
//! Logs go to stderr (`RUST_LOG=debug` for more); results go to stdout.

mod inspect;
mod progress;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
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
    },
    /// Print the parsed events of recordings as JSON lines, in receive-time order.
    Replay {
        /// Recording directories.
        #[arg(required = true)]
        recordings: Vec<PathBuf>,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<u64>,
        #[command(flatten)]
        filter: FilterArgs,
    },
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
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
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
        Command::Import { kind, src, out } => cmd_import(kind, &src, &out),
        Command::Inspect {
            recordings,
            json,
            filter,
        } => cmd_inspect(&recordings, json, &filter),
        Command::Replay {
            recordings,
            limit,
            filter,
        } => cmd_replay(&recordings, limit, &filter),
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

fn cmd_inspect(paths: &[PathBuf], json: bool, filter: &FilterArgs) -> Result<()> {
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
    let mut replay = FrameReplay::open(&recs, filt)?;
    let mut events = Vec::with_capacity(64);
    while let Some(item) = replay.next_frame() {
        let frame = item?;
        bar.inc_frame();
        events.clear();
        match frame
            .stream
            .feed
            .parse(frame.bytes, frame.recv_ns, &mut events)
        {
            Ok(_) => ins.on_frame(&frame.stream.name, frame.recv_ns, &events),
            Err(_) => ins.on_parse_error(&frame.stream.name),
        }
    }
    bar.finish();
    ins.set_torn_tails(replay.stats().torn_tails);
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

fn cmd_replay(paths: &[PathBuf], limit: Option<u64>, filter: &FilterArgs) -> Result<()> {
    let recs = open_all(paths)?;
    let mut replay = EventReplay::open(&recs, filter.to_filter()?)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    for ev in replay.by_ref() {
        if limit.is_some_and(|l| n >= l) {
            break;
        }
        serde_json::to_writer(&mut out, &ev?)?;
        writeln!(out)?;
        n += 1;
    }
    out.flush()?;
    let st = replay.stats();
    eprintln!(
        "{n} events from {} frames ({} parse errors, {} torn tails)",
        st.frames, st.parse_errors, st.torn_tails
    );
    Ok(())
}
