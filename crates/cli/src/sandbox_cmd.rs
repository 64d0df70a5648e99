//! `polyedge sandbox`: serves recordings on loopback over the venues' own protocols
//! (docs/sandbox.md) until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use polyedge_sandbox::config::DEFAULT_OVERSIZE_BYTES;
use polyedge_sandbox::{FaultTargets, Faults, Sandbox, SandboxConfig, Speed};
use polyedge_store::ReplayFilter;

/// Arguments of `polyedge sandbox`.
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Recording directories to serve (merged in receive-time order).
    #[arg(required = true)]
    recordings: Vec<PathBuf>,
    /// Address to listen on (port 0 picks a free port; see --ready-file).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Replay speed: 1 (real time), 10, any positive factor, or max (as fast as the clients
    /// read, holding at window and reconnect gates).
    #[arg(long, default_value = "1")]
    speed: Speed,
    /// After binding, write {"addr":"HOST:PORT"} to this file (atomically).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Write one JSON line per frame written to a client (and per connection open/drop) here.
    #[arg(long)]
    served_log: Option<PathBuf>,
    /// Longest wait at a start, window or reconnect gate, milliseconds of wall time.
    #[arg(long, default_value_t = 2000)]
    gate_wait: u64,
    /// Close each connection after every N data frames.
    #[arg(long)]
    drop_every: Option<u64>,
    /// Pause a connection (no frames, no PONG) for this many milliseconds …
    #[arg(long)]
    stall: Option<u64>,
    /// … after every N data frames.
    #[arg(long, default_value_t = polyedge_sandbox::config::DEFAULT_STALL_EVERY)]
    stall_every: u64,
    /// Probability (0..1) of injecting a malformed frame before each recorded frame.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Seed of the malformed-frame choices.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Inject an oversize frame after every N recorded frames.
    #[arg(long)]
    oversize_every: Option<u64>,
    /// Size of an injected oversize frame, bytes.
    #[arg(long, default_value_t = DEFAULT_OVERSIZE_BYTES)]
    oversize_bytes: usize,
    /// Endpoints the faults apply to: comma list of market, rtds, binance (or all).
    #[arg(long, default_value = "all")]
    faults_on: FaultTargets,
    /// Serve only frames received at or after this time (RFC 3339 UTC or unix seconds).
    #[arg(long)]
    from: Option<String>,
    /// Serve only frames received before this time (RFC 3339 UTC or unix seconds).
    #[arg(long)]
    to: Option<String>,
    /// Worker threads of the async runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

impl SandboxArgs {
    fn config(&self) -> Result<SandboxConfig> {
        let mut c = SandboxConfig::new(self.recordings.clone(), self.speed);
        c.listen = self.listen;
        c.gate_wait = Duration::from_millis(self.gate_wait);
        c.served_log.clone_from(&self.served_log);
        c.filter = ReplayFilter {
            from: self.from.as_deref().map(crate::parse_time).transpose()?,
            to: self.to.as_deref().map(crate::parse_time).transpose()?,
            ..ReplayFilter::default()
        };
        c.faults = Faults {
            drop_every: self.drop_every,
            stall: self.stall.map(Duration::from_millis),
            stall_every: self.stall_every,
            malformed_rate: self.malformed_rate,
            seed: self.seed,
            oversize_every: self.oversize_every,
            oversize_bytes: self.oversize_bytes,
            targets: self.faults_on,
        };
        Ok(c)
    }
}

/// Writes `{"addr":…}` to `path` via `path.tmp` + rename.
fn write_ready(path: &Path, addr: SocketAddr) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let body = serde_json::json!({"addr": addr.to_string()}).to_string();
    std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `polyedge sandbox`: serves until SIGINT/SIGTERM, then prints the final counters as JSON
/// on stdout.
pub fn run(args: &SandboxArgs) -> Result<()> {
    let config = args.config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let sb = Sandbox::start(config).await?;
        eprintln!("sandbox listening on http://{}", sb.addr());
        if let Some(p) = &args.ready_file {
            write_ready(p, sb.addr())?;
        }
        stop_signal().await;
        let status = sb.shutdown().await?;
        eprintln!(
            "sandbox stopped: {} recorded and {} resync frames written, {} connections, {} drops injected",
            status.written.recorded, status.written.resync, status.connections_total, status.drops_injected
        );
        println!("{}", serde_json::to_string(&status)?);
        Ok(())
    })
}
