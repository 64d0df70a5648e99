//! # polyedge-runner
//!
//! `polyedge run --mode shadow|paper`: the engine (`polyedge-engine`) driven by live feeds — the
//! recorder of `polyedge collect`, pointed at the venues or at `polyedge sandbox` — with the
//! strategies and parameters of the same TOML sections as `polyedge backtest` ([`config`]).
//!
//! * **The recording is the journal.** Every frame the run receives is recorded (under the state
//!   directory, one recording per session), and the engine is fed from the recorder's writer in
//!   write order ([`engine_loop::EngineTap`]), with receive stamps made strictly increasing: a
//!   backtest of the recording replays exactly the inputs the run had (parity). Window listings,
//!   published strikes and resolutions are recorded as control records at the time they were
//!   learned, and replayed as such.
//! * **Restart** ([`state`]): with the same state directory, a new session first replays every
//!   earlier recording of the run through a fresh engine (same config and seed), which reaches
//!   exactly the state the durable recordings imply — no fill counted twice, no working order
//!   forgotten — then goes on live, recording into a new part. What the crashed session did
//!   after its last durable frame (at most the recorder's flush interval) is lost with those
//!   frames.
//! * **Modes**: `shadow` runs every strategy against [`NoopExecutor`] (every decision logged,
//!   nothing placed); `paper` against [`SimExecutor`] on the live books (the backtest's fill
//!   model, latency and fees).
//! * **Outputs** in the state directory: `decisions.jsonl` (every order and cancel with the book
//!   top, fair value and risk verdict), `state.json` (positions, working orders, PnL; rewritten
//!   with the status line), `results.json` (at the end: every order and fill, as a backtest's
//!   `RunResult`), `run.json` (mode, config digest, seed).

pub mod alerting;
pub mod config;
pub mod daily;
pub mod engine_loop;
pub mod kill;
pub mod metrics;
pub mod state;
pub mod status;
pub mod status_page;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use polyedge_engine::{Engine, Executor, NoopExecutor, RunResult, SimExecutor};
use polyedge_feeds::Collector;
use polyedge_strategies::Strategy;

pub use config::{ConfigError, RunConfig};
pub use engine_loop::{EngineLoop, LoopStats};

use crate::engine_loop::{EngineTap, Msg};
use crate::state::{RunMeta, StateDir};
use crate::status::{Status, write_json_atomic};

/// How orders are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions are logged; nothing is placed ([`NoopExecutor`]).
    Shadow,
    /// Orders are matched by [`SimExecutor`] against the live books.
    Paper,
    /// Real signed orders on the CLOB ([`polyedge_live::LiveExecutor`]).
    Live,
}

impl Mode {
    /// `shadow` or `paper`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
    /// The state directory belongs to another run, or cannot be used.
    #[error("state directory {dir}: {message}")]
    State {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading the earlier recordings of a restarted run failed.
    #[error("rebuilding from {dir}: {message}")]
    Rebuild {
        /// The recording.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The recorder failed.
    #[error("recorder: {0}")]
    Feeds(#[from] polyedge_feeds::FeedError),
    /// Other I/O.
    #[error("{0}")]
    Io(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Shadow or paper.
    pub mode: Mode,
    /// Feeds and strategies.
    pub config: RunConfig,
    /// The state directory (created if missing; a restart uses the same one).
    pub state_dir: PathBuf,
    /// Strategies named on the command line (override the file's `run`).
    pub strategies: Option<Vec<String>>,
    /// Seed from the command line (overrides the file's).
    pub seed: Option<u64>,
    /// Status line interval.
    pub status_every: Duration,
    /// The kill-switch file ([`kill`]); default `<state_dir>/KILL`.
    pub kill_file: Option<PathBuf>,
    /// The loopback control port (`/metrics`, `/health/*`, the kill switch of [`kill`]); when
    /// `None`, `collect.control` of the config; off if neither.
    pub control: Option<std::net::SocketAddr>,
    /// Live mode: the user confirmed that real orders will be placed (`--i-understand-live`).
    /// Needed the first time a state directory runs live (or `[live] i_understand_live`).
    pub i_understand_live: bool,
}

/// The connected venue and the runtime its tasks run on (live mode).
pub type LiveVenue = (
    std::sync::Arc<polyedge_live::venue::Venue>,
    tokio::runtime::Handle,
);

/// The marker a state directory gets once live trading was confirmed for it.
pub const LIVE_CONFIRMED: &str = "LIVE_CONFIRMED";

/// What a finished run did.
#[derive(Debug)]
pub struct RunOutcome {
    /// Every strategy's orders, fills, PnL (as a backtest reports them).
    pub result: RunResult,
    /// The engine loop's counters (this session, rebuild included).
    pub stats: LoopStats,
    /// This session's recording.
    pub recording: PathBuf,
    /// Earlier recordings replayed to rebuild the state (a restart), in order.
    pub rebuilt_from: Vec<PathBuf>,
    /// The recorder's report.
    pub frames_recorded: u64,
}

/// Builds the engine of a run: the configured strategies, each against the mode's executor.
///
/// # Errors
/// Unknown strategy names, bad parameters.
pub fn build_engine(
    mode: Mode,
    config: &RunConfig,
    strategies: Option<&[String]>,
    seed: Option<u64>,
) -> Result<Engine, RunError> {
    build_engine_with(mode, config, strategies, seed, None)
}

/// [`build_engine`], with the connected venue for [`Mode::Live`].
///
/// # Errors
/// As [`build_engine`]; [`Mode::Live`] without a venue.
pub fn build_engine_with(
    mode: Mode,
    config: &RunConfig,
    strategies: Option<&[String]>,
    seed: Option<u64>,
    venue: Option<&LiveVenue>,
) -> Result<Engine, RunError> {
    let cfg = &config.strategies;
    let names = cfg
        .strategy_names(strategies)
        .map_err(|e| RunError::Config(e.to_string()))?;
    let seed = cfg.effective_seed(seed);
    let mut lanes: Vec<(Box<dyn Strategy>, Box<dyn Executor>)> = Vec::new();
    for name in &names {
        let (s, _) = cfg
            .build(name, seed)
            .map_err(|e| RunError::Config(e.to_string()))?;
        let exec: Box<dyn Executor> = match mode {
            Mode::Shadow => Box::new(NoopExecutor::default()),
            Mode::Paper => Box::new(SimExecutor::new(cfg.engine.sim.clone())),
            Mode::Live => {
                let Some((v, rt)) = venue else {
                    return Err(RunError::Config("live mode needs a connected venue".into()));
                };
                Box::new(polyedge_live::LiveExecutor::new(v.clone(), rt.clone()))
            }
        };
        lanes.push((s, exec));
    }
    Engine::new(cfg.engine.clone(), lanes).map_err(|e| RunError::Config(e.to_string()))
}

/// Runs until `stop` completes (or the recorder fails). Must run inside a tokio runtime.
///
/// # Errors
/// [`RunError`]: configuration, state directory, rebuild or recorder failures.
pub async fn run(opts: RunOptions, stop: impl Future<Output = ()>) -> Result<RunOutcome, RunError> {
    let seed = opts.config.strategies.effective_seed(opts.seed);
    let names = opts
        .config
        .strategies
        .strategy_names(opts.strategies.as_deref())
        .map_err(|e| RunError::Config(e.to_string()))?;
    let meta = RunMeta {
        mode: opts.mode,
        config_digest: opts.config.digest.clone(),
        seed,
        strategies: names.clone(),
    };
    let state = StateDir::open(&opts.state_dir, &meta)?;
    let venue = if opts.mode == Mode::Live {
        Some((
            connect_live(&opts, &state, &names).await?,
            tokio::runtime::Handle::current(),
        ))
    } else {
        None
    };
    let mut opts = opts;
    if let Some((v, _)) = &venue {
        // The engine's books start from what the venue holds.
        let balance = v
            .balance_micros()
            .await
            .map_err(|e| RunError::Config(format!("live: reading the pUSD balance: {e}")))?;
        tracing::info!(balance_pusd = %polyedge_core::Cash(balance), configured = %opts.config.strategies.engine.start_cash, "live: the engine starts from the venue's pUSD balance");
        opts.config.strategies.engine.start_cash = polyedge_core::Cash(balance);
    }
    let engine = build_engine_with(
        opts.mode,
        &opts.config,
        Some(names.as_slice()),
        Some(seed),
        venue.as_ref(),
    )?;
    let mut status = Status::new(
        opts.mode.name(),
        opts.status_every,
        Some(state.dir().join("state.json")),
    );
    status.set_quiet(true);
    let mut lp = EngineLoop::new(engine, &state.dir().join("decisions.jsonl"), status)
        .map_err(|e| RunError::Io(format!("{}: {e}", state.dir().display())))?;
    let journal = kill::KillJournal::new(state.dir());
    let kills = journal.load().map_err(|message| RunError::State {
        dir: state.dir().to_path_buf(),
        message,
    })?;
    let earlier = state.recordings()?;
    if !earlier.is_empty() {
        tracing::info!(
            recordings = earlier.len(),
            "run: restarting: replaying the earlier recordings of this state directory"
        );
        state::rebuild(&mut lp, &earlier, &kills)?;
        tracing::info!(
            events = lp.stats().events,
            decisions = lp.stats().decisions,
            now = %lp.engine().now().to_rfc3339(),
            "run: state rebuilt; going live"
        );
    }
    let follow = state::unresolved(&lp);
    let recording = state.next_recording()?;
    let view: kill::BreakerView = std::sync::Arc::default();
    let mut lp = lp
        .with_kill_journal(journal)
        .with_breaker_view(view.clone());
    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(1 << 16);
    kill::watch(
        opts.kill_file
            .clone()
            .unwrap_or_else(|| state.dir().join("KILL")),
        tx.clone(),
    );
    let collector = Collector::new(opts.config.feeds.clone(), &recording);
    let control_addr = opts.control.or(opts.config.feeds.collect.control);
    let beat = engine_loop::EngineBeat::default();
    if let Some(addr) = control_addr {
        let exporter = polyedge_ops::Exporter::install().map_err(RunError::Io)?;
        polyedge_feeds::metrics::describe();
        metrics::describe();
        let status_view: status_page::StatusView = std::sync::Arc::default();
        let run_metrics =
            metrics::RunMetrics::new(lp.engine(), opts.config.feeds.endpoints.clock.is_none());
        lp = lp
            .with_metrics(run_metrics)
            .with_status_page(status_page::StatusPage::new(
                status_view.clone(),
                opts.mode.name(),
            ))
            .with_beat(beat.clone());
        // The status page's snapshot: the engine's, with the feeds' health as of now.
        let snapshot: polyedge_ops::control::EventSource = {
            let feeds = collector.health();
            std::sync::Arc::new(move || {
                let mut v = status_view.lock().map(|v| v.clone()).unwrap_or_default();
                v["feeds"] = feeds.ready().1["streams"].clone();
                v.to_string()
            })
        };
        let kill_routes = kill::routes(tx.clone(), view.clone());
        let page_json = snapshot.clone();
        let routes: polyedge_ops::Routes = std::sync::Arc::new(move |m, p, b| {
            use polyedge_ops::control::Method;
            match (m, p) {
                (&Method::GET, "/status") => Some(polyedge_ops::Reply {
                    status: 200,
                    content_type: "text/html; charset=utf-8",
                    body: status_page::PAGE.to_string(),
                }),
                (&Method::GET, "/status.json") => Some(polyedge_ops::Reply::json(200, page_json())),
                _ => kill_routes(m, p, b),
            }
        });
        let feed_health = collector.health();
        let engine_beat = beat.clone();
        let health: polyedge_ops::HealthProbe = std::sync::Arc::new(move |probe| {
            let (ok, mut detail) = match probe {
                polyedge_ops::Probe::Live => feed_health.live(),
                polyedge_ops::Probe::Ready => feed_health.ready(),
            };
            // The engine thread handles a message at least every flush interval (frames, or
            // the recorder's idle ticks): 5 s without one means it is stuck.
            let age = engine_beat.age_secs();
            let engine_ok = age.is_some_and(|a| a < 5.0);
            if let Some(o) = detail.as_object_mut() {
                o.insert(
                    "engine".into(),
                    serde_json::json!({ "beat_age_s": age, "running": engine_ok }),
                );
            }
            (ok && engine_ok, detail)
        });
        let mut route_names = vec!["GET /status", "GET /status.json"];
        route_names.extend(kill::ROUTE_NAMES);
        let control = polyedge_ops::Control {
            events: Some(snapshot),
            exporter: Some(exporter),
            health: Some(health),
            routes: Some(routes),
            route_names,
        };
        let bound = polyedge_ops::control::serve(addr, control)
            .await
            .map_err(RunError::Config)?;
        let _ = std::fs::write(state.dir().join("control.addr"), bound.to_string());
        tracing::info!(%bound, "run: control port (GET /status: the status page; GET /metrics, GET /health/live, GET /health/ready, POST /kill, POST /resume, GET /breakers)");
    }
    let alerts = &opts.config.feeds.alerts;
    if let Some(alerter) = alerting::start(alerts, &format!("polyedge run ({})", opts.mode.name()))
        .map_err(RunError::Config)?
    {
        if !alerts.daily_summary_utc.is_empty() {
            let at =
                daily::parse_time_of_day(&alerts.daily_summary_utc).map_err(RunError::Config)?;
            lp = lp.with_daily_summary(daily::DailySummary::new(alerter.clone(), at));
        }
        alerting::watch(alerter, collector.health(), Some(view.clone()), alerts);
        tracing::info!("run: alerts on (docs/operations.md)");
    }
    if lp.engine().killed() {
        tracing::warn!("run: the kill switch is engaged (journaled before the restart)");
    }
    lp.set_status_quiet(false);
    let engine_thread = std::thread::Builder::new()
        .name("polyedge-engine".into())
        .spawn(move || lp.run(&rx))
        .map_err(|e| RunError::Io(format!("cannot start the engine thread: {e}")))?;
    let collector = collector
        .with_tap(
            Box::new(EngineTap::new(tx)),
            &format!("polyedge run ({})", opts.mode.name()),
        )
        .follow_windows(follow);
    let collected = collector.run(stop).await;
    let lp = engine_thread
        .join()
        .map_err(|_| RunError::Io("the engine thread panicked".into()))?;
    let collected = collected?;
    let (engine, stats) = lp.into_engine();
    let now = engine.now();
    let result = engine.finish(now);
    write_json_atomic(&state.dir().join("results.json"), &result);
    Ok(RunOutcome {
        result,
        stats,
        recording,
        rebuilt_from: earlier,
        frames_recorded: collected.writer.summary.frames.values().sum(),
    })
}

/// Live mode's checks and connection: the secrets from the environment, the confirmation, one
/// strategy, a fresh state directory; then the venue, whose open orders are cancelled before
/// the first new order (startup reconciliation: orders the engine does not know about would
/// otherwise trade against its books).
async fn connect_live(
    opts: &RunOptions,
    state: &StateDir,
    names: &[String],
) -> Result<std::sync::Arc<polyedge_live::venue::Venue>, RunError> {
    opts.config
        .live
        .rate_limits
        .validate()
        .map_err(RunError::Config)?;
    let secrets =
        polyedge_live::LiveSecrets::from_env().map_err(|e| RunError::Config(e.to_string()))?;
    let marker = state.dir().join(LIVE_CONFIRMED);
    let confirmed = opts.i_understand_live || opts.config.live.i_understand_live || marker.exists();
    if !confirmed {
        return Err(RunError::Config(format!(
            "live mode places real, signed orders with real money on {}. Run again with \
             --i-understand-live (or `[live] i_understand_live = true`) to confirm; this state \
             directory will remember it",
            opts.config.live.clob_url
        )));
    }
    if names.len() != 1 {
        return Err(RunError::Config(format!(
            "live mode runs one strategy per account (got {}: {}); choose one with --strategy",
            names.len(),
            names.join(", ")
        )));
    }
    if !state.recordings()?.is_empty() {
        return Err(RunError::State {
            dir: state.dir().to_path_buf(),
            message: "restarting a live run from its state directory is not supported yet (a \
                      rebuild would replay decisions that the venue already executed); start with \
                      a new --state directory"
                .into(),
        });
    }
    let venue = polyedge_live::venue::Venue::connect(opts.config.live.venue(), &secrets)
        .await
        .map_err(|e| RunError::Config(format!("live: {e}")))?;
    std::fs::write(&marker, "live trading confirmed\n")
        .map_err(|e| RunError::Io(format!("{}: {e}", marker.display())))?;
    let stray = venue
        .cancel_all()
        .await
        .map_err(|e| RunError::Config(format!("live: startup cancel-all: {e}")))?;
    if !stray.is_empty() {
        tracing::warn!(
            cancelled = stray.len(),
            "live: open orders found at startup were cancelled"
        );
    }
    tracing::info!(address = %venue.address(), "live: connected; startup reconciliation done");
    Ok(std::sync::Arc::new(venue))
}

/// The state directory a run uses by default: `polyedge-run/`.
pub fn default_state_dir() -> &'static Path {
    Path::new("polyedge-run")
}
