//! The kill switch of a run, from three sources: a file (`<state dir>/KILL` by default: present
//! engages it, with the file's first line as the reason; removed releases it), `SIGUSR1`
//! (engages), and HTTP on the loopback control port (`--control 127.0.0.1:PORT` or
//! `collect.control`, served by `polyedge_ops::control` beside `/metrics` and `/health`:
//! `POST /kill` with the reason as body engages, `POST /resume` releases, `GET /breakers`
//! shows every strategy's breaker trips and the switch as JSON).
//!
//! Engaged, the engine cancels every resting order of every strategy, refuses every new one and
//! holds positions to resolution ([`polyedge_engine::breakers`]).
//!
//! Every change is journaled to `<state dir>/kill.jsonl` (`{"at": ns, "reason": "…" | null}`,
//! fsynced) with the engine time it took effect, so that the rebuild of a restarted run applies it
//! at the same point of the replay and reaches the same state (orders refused after the switch
//! stay refused).

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use polyedge_core::UnixNanos;
use polyedge_ops::control::Method;
use polyedge_ops::{Reply, Routes};
use serde::{Deserialize, Serialize};

use crate::engine_loop::Msg;

/// One change of the kill switch, as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillEvent {
    /// Engine time it took effect (ns since epoch).
    pub at: UnixNanos,
    /// Why it was engaged; `None`: released.
    pub reason: Option<String>,
}

/// The journal of kill-switch changes (`kill.jsonl` in the state directory).
#[derive(Debug, Clone)]
pub struct KillJournal {
    path: PathBuf,
}

impl KillJournal {
    /// The journal in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        KillJournal {
            path: state_dir.join("kill.jsonl"),
        }
    }

    /// Appends `ev` and syncs it to disk.
    ///
    /// # Errors
    /// The file cannot be opened, written or synced.
    pub fn append(&self, ev: &KillEvent) -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut line = serde_json::to_vec(ev).map_err(std::io::Error::other)?;
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_data()
    }

    /// Every change journaled so far, in order (none if the file does not exist). A torn last
    /// line (a crash while writing) is ignored.
    ///
    /// # Errors
    /// The file exists but cannot be read, or a line other than the last is not a [`KillEvent`]
    /// (named by line number).
    pub fn load(&self) -> Result<Vec<KillEvent>, String> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let lines: Vec<String> = BufReader::new(f)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let mut out = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            match serde_json::from_str::<KillEvent>(line) {
                Ok(ev) => out.push(ev),
                Err(_) if n + 1 == lines.len() => {
                    tracing::warn!(file = %self.path.display(), line = n + 1, "run: torn last line of the kill journal ignored");
                }
                Err(e) => {
                    return Err(format!("{}:{}: {e}", self.path.display(), n + 1));
                }
            }
        }
        Ok(out)
    }
}

/// Breaker state as `GET /breakers` shows it (refreshed by the engine thread).
pub type BreakerView = Arc<Mutex<serde_json::Value>>;

/// The kill switch's routes on the control port (`polyedge_ops::control`).
pub const ROUTE_NAMES: [&str; 3] = ["POST /kill", "POST /resume", "GET /breakers"];

/// Starts the watchers of the kill file (polled every 500 ms) and of SIGUSR1 on the current
/// tokio runtime; they send [`Msg::Kill`] into `tx` until it closes.
pub fn watch(file: PathBuf, tx: SyncSender<Msg>) {
    // The file.
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut engaged = false;
            loop {
                let present = file.exists();
                if present != engaged {
                    engaged = present;
                    let reason = present.then(|| {
                        let first = std::fs::read_to_string(&file)
                            .ok()
                            .and_then(|t| t.lines().next().map(str::trim).map(str::to_string))
                            .filter(|l| !l.is_empty());
                        match first {
                            Some(l) => format!("kill file {}: {l}", file.display()),
                            None => format!("kill file {} exists", file.display()),
                        }
                    });
                    if send(&tx, reason).is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    // SIGUSR1.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::user_defined1()) {
            Ok(mut sig) => {
                tokio::spawn(async move {
                    while sig.recv().await.is_some() {
                        if send(&tx, Some("SIGUSR1".to_string())).is_err() {
                            return;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "run: cannot watch SIGUSR1 for the kill switch"),
        }
    }
}

fn send(tx: &SyncSender<Msg>, reason: Option<String>) -> Result<(), ()> {
    if let Some(r) = &reason {
        tracing::warn!(reason = %r, "run: kill switch engaged");
    } else {
        tracing::warn!("run: kill switch released");
    }
    tx.send(Msg::Kill(reason)).map_err(|_| ())
}

/// The control port's kill-switch routes: `POST /kill` (the body, if any, is the reason)
/// engages, `POST /resume` releases, `GET /breakers` shows every strategy's breaker trips and
/// the switch as JSON ([`BreakerView`]).
pub fn routes(tx: SyncSender<Msg>, view: BreakerView) -> Routes {
    Arc::new(move |method: &Method, path: &str, text: &str| {
        let stopping = || Reply::json(503, r#"{"error":"run is stopping"}"#.into());
        match (method, path) {
            (&Method::POST, "/kill") => {
                let reason = if text.is_empty() {
                    "control port: POST /kill".to_string()
                } else {
                    format!("control port: {text}")
                };
                Some(match send(&tx, Some(reason)) {
                    Ok(()) => Reply::json(200, r#"{"kill_switch":"engaged"}"#.into()),
                    Err(()) => stopping(),
                })
            }
            (&Method::POST, "/resume") => Some(match send(&tx, None) {
                Ok(()) => Reply::json(200, r#"{"kill_switch":"released"}"#.into()),
                Err(()) => stopping(),
            }),
            (&Method::GET, "/breakers") => {
                let v = view.lock().map(|v| v.to_string()).unwrap_or_default();
                Some(Reply::json(200, v))
            }
            _ => None,
        }
    })
}
