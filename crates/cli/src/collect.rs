//! `polyedge collect` (the 24/7 recorder) and `polyedge bench-collect` (its ingest benchmark).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use polyedge_feeds::Config;
use polyedge_feeds::bench::{BenchOptions, run_bench};
use polyedge_tables::clickhouse::ChConfig;
use polyedge_tables::collect::{CollectTables, CollectTablesOptions, CollectTablesReport};

/// Arguments of `polyedge collect`.
#[derive(clap::Args, Debug)]
pub struct CollectArgs {
    /// Config file (TOML, see docs/collect.md). Without it: BTC 5m + 15m windows, every feed,
    /// the real venue endpoints.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Recording directory to create (must not exist or be empty). Default:
    /// `recordings/collect-<UTC time>`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Worker threads of the async runtime (the writer has its own thread).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Also load every closed segment into ClickHouse (`http://host:8123/database`; overrides
    /// `[tables] clickhouse`). ClickHouse down: warnings, recording continues, `polyedge
    /// backfill` loads the rest later.
    #[arg(long, value_name = "URL")]
    clickhouse: Option<String>,
    /// Do not export closed segments to Parquet (overrides `[tables] parquet`).
    #[arg(long)]
    no_parquet: bool,
    /// Loopback control port (e.g. 127.0.0.1:9465; overrides `collect.control`): `GET /metrics`
    /// (Prometheus), `GET /health/live`, `GET /health/ready`. Port 0 picks a free port (printed
    /// on stderr). Non-loopback addresses are refused.
    #[arg(long)]
    control: Option<std::net::SocketAddr>,
}

/// Arguments of `polyedge bench-collect`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Frames to push through the collector.
    #[arg(long, default_value_t = 1_000_000)]
    frames: u64,
    /// Recording directory for the benchmark (default: a temporary directory, removed after).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Completes on SIGINT, SIGTERM, or after `duration` seconds.
pub async fn stop_signal(duration: Option<f64>) {
    let sleep = async {
        match duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        () = sleep => {}
                    }
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing the recording"),
            _ = term.recv() => tracing::info!("SIGTERM: finishing the recording"),
            () = sleep => tracing::info!("duration reached: finishing the recording"),
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = sleep => {}
    }
}

/// Runs `polyedge collect`.
pub fn run(args: &CollectArgs) -> Result<()> {
    let cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("recordings").join(format!(
            "collect-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .thread_name("polyedge-collect")
        .build()
        .context("cannot start the async runtime")?;
    eprintln!("collect: recording into {}", out.display());
    let ch_url = args
        .clickhouse
        .clone()
        .or_else(|| cfg.tables.clickhouse.clone());
    let parquet_on = cfg.tables.parquet && !args.no_parquet;
    let ch_cfg = ch_url.as_deref().map(ChConfig::parse).transpose()?;
    let tables = CollectTables::start(&CollectTablesOptions {
        recording_dir: out.clone(),
        parquet: parquet_on,
        clickhouse: ch_cfg.clone(),
        clickhouse_name: None,
        clickhouse_timeout: polyedge_feeds::config::secs(cfg.tables.clickhouse_timeout_secs),
    })?;
    let control = args.control.or(cfg.collect.control);
    let alerts = cfg.alerts.clone();
    let collector = polyedge_feeds::Collector::new(cfg, &out).on_segment_closed(tables.hook());
    let outcome = rt.block_on(async {
        if let Some(addr) = control {
            serve_control(addr, &collector).await?;
        }
        if let Some(alerter) = polyedge_runner::alerting::start(&alerts, "polyedge collect")
            .map_err(anyhow::Error::msg)?
        {
            polyedge_runner::alerting::watch(alerter, collector.health(), None, &alerts);
            eprintln!("collect: alerts on (docs/operations.md)");
        }
        collector
            .run(stop_signal(args.duration))
            .await
            .map_err(anyhow::Error::from)
    });
    // Pending exports/loads complete even if the recorder failed.
    let tables_report = tables.finish();
    let outcome = outcome.with_context(|| format!("collect into {}", out.display()))?;
    let s = &outcome.writer.summary;
    println!("recorded into {}", out.display());
    println!(
        "{:<22} {:>10} {:>12} {:>6} {:>9} {:>7} {:>8} {:>6}",
        "stream", "frames", "bytes", "gaps", "malformed", "unknown", "oversize", "conns"
    );
    for (name, frames) in &s.frames {
        let st = outcome.streams.get(name).cloned().unwrap_or_default();
        println!(
            "{name:<22} {frames:>10} {:>12} {:>6} {:>9} {:>7} {:>8} {:>6}",
            s.bytes.get(name).copied().unwrap_or(0),
            st.gaps,
            st.malformed,
            st.unknown,
            st.oversize,
            st.connects
        );
    }
    for (name, st) in &outcome.streams {
        if !s.frames.contains_key(name) {
            println!(
                "{name:<22} {:>10} {:>12} {:>6} {:>9} {:>7} {:>8} {:>6}",
                0, 0, st.gaps, st.malformed, st.unknown, st.oversize, st.connects
            );
        }
    }
    println!("segments {}, windows {}", s.segments, s.windows);
    print_tables_report(&tables_report, parquet_on, ch_cfg.as_ref(), &out);
    Ok(())
}

/// Starts the control port of `collect`: `/metrics` and the recorder's health. The bound
/// address is printed on stderr (`collect: control port http://ADDR ...`).
async fn serve_control(
    addr: std::net::SocketAddr,
    collector: &polyedge_feeds::Collector,
) -> Result<()> {
    let exporter = polyedge_ops::Exporter::install().map_err(anyhow::Error::msg)?;
    polyedge_feeds::metrics::describe();
    let health = collector.health();
    let probe: polyedge_ops::HealthProbe = std::sync::Arc::new(move |p| match p {
        polyedge_ops::Probe::Live => health.live(),
        polyedge_ops::Probe::Ready => health.ready(),
    });
    let bound = polyedge_ops::control::serve(
        addr,
        polyedge_ops::Control {
            events: None,
            exporter: Some(exporter),
            health: Some(probe),
            routes: None,
            route_names: Vec::new(),
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    eprintln!(
        "collect: control port http://{bound} (GET /metrics, GET /health/live, GET /health/ready)"
    );
    Ok(())
}

/// What the table workers did: one line per store enabled (`parquet_on`, `ch`), plus what is
/// left for `polyedge tables` / `polyedge backfill`. An enabled store without a report had its
/// worker die (a bug, logged): that is said too, with the command that redoes its work.
fn print_tables_report(
    r: &CollectTablesReport,
    parquet_on: bool,
    ch: Option<&ChConfig>,
    out: &std::path::Path,
) {
    if let (true, None) = (parquet_on, &r.parquet) {
        println!(
            "parquet: the export worker failed (see the log); the capture files keep everything: polyedge tables {}",
            out.display()
        );
    }
    if let (Some(ch), None) = (ch, &r.clickhouse) {
        println!(
            "clickhouse: the load worker failed (see the log); the capture files keep everything: polyedge backfill {} --clickhouse {}",
            out.display(),
            ch.display()
        );
    }
    if let Some(p) = &r.parquet {
        let rows: u64 = p.rows.values().sum();
        let windows = match (p.windows, &p.windows_error) {
            (Some(n), _) => format!("{n} rows"),
            (None, Some(e)) => format!("not written ({e})"),
            (None, None) => "not written".to_string(),
        };
        println!(
            "parquet: {} segments exported ({} frames, {rows} rows, {} files), windows {windows}, {} failures → {}",
            p.segments,
            p.frames,
            p.files,
            p.failures.len(),
            p.tables_dir.display()
        );
        for f in &p.failures {
            println!("  parquet failure: {f}");
        }
    }
    if let Some(c) = &r.clickhouse {
        println!(
            "clickhouse {} (recording {}): {} segments loaded ({} frames), {} windows rows, {} failed attempts, {} segments not loaded",
            c.url,
            c.recording,
            c.segments_loaded,
            c.frames,
            c.windows,
            c.failed_attempts,
            c.not_loaded.len()
        );
        for d in &c.damaged {
            println!("  clickhouse: damaged segment: {d}");
        }
        if !c.not_loaded.is_empty() || c.windows_pending {
            println!(
                "  clickhouse: last error: {}",
                c.last_error.as_deref().unwrap_or("-")
            );
            println!(
                "  the capture files keep everything; load the rest with: polyedge backfill {} --clickhouse {}",
                out.display(),
                c.url
            );
        }
    }
}

/// Runs `polyedge bench-collect`.
pub fn bench(args: &BenchArgs) -> Result<()> {
    let out = if let Some(p) = &args.out {
        p.clone()
    } else {
        tempfile_dir()?.join("rec")
    };
    let r = run_bench(&BenchOptions {
        frames: args.frames,
        out: out.clone(),
    })?;
    println!("{r}");
    if args.out.is_none() {
        let _ = std::fs::remove_dir_all(out.parent().unwrap_or(&out));
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir().join(format!("polyedge-bench-collect-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("create {}", base.display()))?;
    Ok(base)
}
