//! # polyedge-sandbox
//!
//! Serves recordings (`docs/recording-format.md`) on loopback over the venues' own protocols —
//! Polymarket market channel and RTDS WebSockets, Gamma REST for the recorded windows, Binance
//! spot and USDⓈ-M WebSockets — at real or accelerated speed, with fault injection. It is the
//! integration test bed of the live side: `polyedge collect` pointed at a sandbox must record
//! exactly what the sandbox served, which the sandbox writes to its *served log*.
//!
//! The behaviour (endpoints, the clock and its gates, the served log, faults) is specified in
//! `docs/sandbox.md`; this crate implements it:
//!
//! * [`Sandbox::start`] binds, starts the replay and returns at once (tests use it in-process);
//!   [`Sandbox::addr`] is the bound address; [`Sandbox::shutdown`] stops it and flushes the log.
//! * `hub` — replay in recorded order, gates, the resync book cache;
//! * `conn` — one WebSocket connection: client requests, writes, faults, served-log lines;
//! * `server` — HTTP routing and upgrades; `gamma` — Gamma JSON from the window index.

pub mod books;
mod client_msg;
pub mod clock;
pub mod config;
mod conn;
mod error;
pub mod exchange;
mod gamma;
mod hub;
pub mod inject;
pub mod route;
mod served_log;
mod server;
pub mod stats;
pub mod subs;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use polyedge_core::Window;
use polyedge_store::{FrameReplay, Recording};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use clock::{Clock, ClockReading, Gate};
pub use config::{FaultTargets, Faults, SandboxConfig, Speed};
pub use error::SandboxError;
pub use served_log::{EventLine, FrameLine, sha256_hex};
pub use stats::{FrameKind, Status, Written};

use crate::hub::{Cmd, Hub};
use crate::route::Endpoint;
use crate::served_log::{LogSender, ServedLog};
use crate::stats::Counters;

/// State shared by the hub, the connections and the HTTP routes.
pub(crate) struct Shared {
    pub clock: Clock,
    pub counters: Counters,
    pub faults: Faults,
    pub gate_wait: Duration,
    /// Union of the recordings' window indices, sorted by start then slug.
    pub windows: Vec<Window>,
    pub log: LogSender,
    pub hub: mpsc::UnboundedSender<Cmd>,
    pub next_conn: AtomicU64,
    pub shutdown: watch::Receiver<bool>,
    /// The CLOB exchange (`/clob`, `/ws/user`).
    pub exchange: exchange::Exchange,
}

impl Shared {
    fn status(&self) -> Status {
        let r = self.clock.reading();
        self.counters.snapshot(r.started, r.finished, r.now_ns)
    }
}

/// A running sandbox. Dropping it without [`shutdown`](Self::shutdown) stops serving but may
/// leave the served log's last lines unwritten.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    hub: JoinHandle<()>,
    accept: JoinHandle<()>,
    log: Option<ServedLog>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Union of the recordings' windows, later recordings winning on equal slugs, sorted by start
/// then slug.
fn windows_of(recs: &[Recording]) -> Vec<Window> {
    let mut by_slug = std::collections::BTreeMap::new();
    for r in recs {
        for w in r.windows() {
            by_slug.insert(w.slug.clone(), w.clone());
        }
    }
    let mut v: Vec<Window> = by_slug.into_values().collect();
    v.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.slug.cmp(&b.slug)));
    v
}

/// Advances the exchange on the sandbox clock every 20 ms of wall time (expiries, taker
/// delays, window closes, settlement, heartbeat expiry) until shutdown.
async fn exchange_ticks(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut every = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = every.tick() => {
                shared.exchange.tick(polyedge_core::UnixNanos(shared.clock.now()));
            }
        }
    }
}

impl Sandbox {
    /// Opens the recordings, binds `config.listen` and starts serving (must be called inside a
    /// tokio runtime). Returns as soon as the socket is bound.
    ///
    /// # Errors
    /// [`SandboxError::Config`] for invalid values, [`SandboxError::Store`] if a recording cannot
    /// be opened, [`SandboxError::Bind`], [`SandboxError::ServedLog`].
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        config.validate().map_err(SandboxError::Config)?;
        let recs = config
            .recordings
            .iter()
            .map(|d| Recording::open(d))
            .collect::<Result<Vec<_>, _>>()?;
        let windows = windows_of(&recs);
        let needed: BTreeSet<Endpoint> = recs
            .iter()
            .flat_map(|r| r.streams().iter())
            .filter(|s| !s.segments.is_empty())
            .filter_map(|s| Endpoint::of_feed(s.id.feed))
            .collect();
        let mut replay = FrameReplay::open(&recs, config.filter.clone())?;
        let first = match replay.next_frame() {
            Some(Ok(f)) => Some(f.to_frame()),
            Some(Err(e)) => return Err(SandboxError::Store(e)),
            None => None,
        };
        let t0 = first
            .as_ref()
            .map_or(config.filter.from.map_or(0, |t| t.0), |f| f.recv_ns.0);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| SandboxError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
        let log = config
            .served_log
            .as_deref()
            .map(ServedLog::create)
            .transpose()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (hub_tx, hub_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            clock: Clock::new(config.speed, t0),
            counters: Counters::default(),
            faults: config.faults.clone(),
            gate_wait: config.gate_wait,
            windows: windows.clone(),
            log: log.as_ref().map(ServedLog::sender).unwrap_or_default(),
            hub: hub_tx,
            next_conn: AtomicU64::new(0),
            shutdown: shutdown_rx.clone(),
            exchange: exchange::Exchange::new(windows.clone(), &config.exchange),
        });
        if first.is_none() {
            tracing::warn!("sandbox: the recordings hold no frames in the selected time range");
        }
        let frames = hub::spawn_reader(replay, first, shared.clone()).map_err(|source| {
            SandboxError::ServedLog {
                path: "(reader thread)".into(),
                source,
            }
        })?;
        let hub = Hub::new(shared.clone(), hub_rx, shutdown_rx, needed);
        let hub = tokio::spawn(hub.run(frames));
        let accept = tokio::spawn(server::accept_loop(listener, shared.clone()));
        tokio::spawn(exchange_ticks(shared.clone()));
        tracing::info!(%addr, speed = %config.speed, windows = shared.windows.len(), "sandbox: listening");
        Ok(Sandbox {
            addr,
            shared,
            shutdown: shutdown_tx,
            hub,
            accept,
            log,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The exchange's ledger (`GET /sandbox/ledger`): per API key, balance, held pUSD,
    /// positions, fees, orders and trades.
    pub fn ledger(&self) -> serde_json::Value {
        self.shared.exchange.ledger()
    }

    /// Sandbox clock (ns since epoch).
    pub fn now(&self) -> u64 {
        self.shared.clock.now()
    }

    /// Clock, gate and start/finish state.
    pub fn clock(&self) -> ClockReading {
        self.shared.clock.reading()
    }

    /// Counters since start.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// The windows served on Gamma (sorted by start).
    pub fn windows(&self) -> &[Window] {
        &self.shared.windows
    }

    /// Waits until every recorded frame has been handed to the connections (polls every 10 ms).
    pub async fn wait_finished(&self) {
        while !self.shared.clock.reading().finished {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops serving: closes every WebSocket (reason `shutdown` in the served log), waits up to
    /// 2 s for the connections to end, flushes and closes the served log. Returns the final
    /// counters.
    ///
    /// # Errors
    /// [`SandboxError::ServedLog`] if the log could not be written.
    pub async fn shutdown(mut self) -> Result<Status, SandboxError> {
        let _ = self.shutdown.send(true);
        let _ = (&mut self.accept).await;
        let _ = (&mut self.hub).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self
            .shared
            .counters
            .connections_open
            .load(Ordering::Relaxed)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = self.shared.status();
        if let Some(log) = self.log.take() {
            log.close()?;
        }
        Ok(status)
    }
}
