//! The status line (every few seconds on stderr) and `state.json` (the same figures, for people
//! and scripts: what the run holds now).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polyedge_core::{Cash, UnixNanos};
use polyedge_engine::Engine;
use serde::Serialize;

use crate::engine_loop::LoopStats;

/// When and where to report.
#[derive(Debug)]
pub struct Status {
    mode: &'static str,
    every: Duration,
    last: Option<Instant>,
    state_file: Option<PathBuf>,
    quiet: bool,
    /// [`Status::due`] reads the clock every [`crate::metrics::CLOCK_EVERY`] calls only.
    gate: crate::metrics::ClockGate,
}

/// One strategy in `state.json`.
#[derive(Debug, Serialize)]
pub struct LaneState {
    /// Strategy.
    pub strategy: String,
    /// Executor kind.
    pub executor: String,
    /// Cash, pUSD.
    pub cash: Cash,
    /// Realized PnL (fees included), pUSD.
    pub realized_pnl: Cash,
    /// Cost of open positions, pUSD.
    pub open_cost: Cash,
    /// Open positions: (window, outcome, shares, cost).
    pub positions: Vec<(String, String, String, Cash)>,
    /// Working orders.
    pub working_orders: Vec<polyedge_core::OrderIntent>,
    /// Orders sent so far.
    pub orders: usize,
    /// Fills so far.
    pub fills: usize,
    /// Breakers in force now (the kill switch among them), with their reasons.
    pub breakers: Vec<polyedge_engine::Trip>,
}

/// `state.json`.
#[derive(Debug, Serialize)]
pub struct StateFile {
    /// Mode.
    pub mode: &'static str,
    /// Engine time (ns since epoch) and as RFC 3339.
    pub now_ns: UnixNanos,
    /// `now_ns` in RFC 3339 UTC.
    pub now_utc: String,
    /// Windows trading now.
    pub active_windows: Vec<String>,
    /// Windows listed so far.
    pub listed_windows: usize,
    /// Windows resolved so far (settled or declared unknown).
    pub resolved_windows: usize,
    /// Loop counters.
    pub counters: LoopStats,
    /// Per strategy.
    pub strategies: Vec<LaneState>,
}

impl Status {
    /// A reporter for `mode`, every `every`, writing `state_file` when given; `quiet` skips the
    /// stderr line (the rebuild of a restart).
    pub fn new(mode: &'static str, every: Duration, state_file: Option<PathBuf>) -> Self {
        Status {
            mode,
            every,
            last: None,
            state_file,
            quiet: false,
            gate: crate::metrics::ClockGate::default(),
        }
    }

    /// Silences (or not) the stderr line.
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// Whether a report is due.
    pub fn due(&mut self) -> bool {
        match self.last {
            None => {
                self.last = Some(Instant::now());
                false
            }
            Some(t) => self.gate.open() && t.elapsed() >= self.every,
        }
    }

    /// The state of `engine` now.
    pub fn state(&self, engine: &Engine, stats: &LoopStats) -> StateFile {
        let now = engine.now();
        let strategies = (0..engine.lanes())
            .map(|k| {
                let p = engine.portfolio(k);
                LaneState {
                    strategy: engine.strategy_name(k).unwrap_or_default().to_string(),
                    executor: engine
                        .executor_kind(k)
                        .map(|e| format!("{e:?}").to_lowercase())
                        .unwrap_or_default(),
                    cash: p.map_or(Cash::ZERO, polyedge_engine::Portfolio::cash),
                    realized_pnl: p.map_or(Cash::ZERO, polyedge_engine::Portfolio::realized_pnl),
                    open_cost: p.map_or(Cash::ZERO, polyedge_engine::Portfolio::open_cost),
                    positions: p
                        .map(|p| {
                            p.positions()
                                .filter(|(_, _, pos)| !pos.shares.is_zero())
                                .map(|(w, o, pos)| {
                                    (
                                        w.to_string(),
                                        o.to_string(),
                                        pos.shares.to_string(),
                                        pos.cost,
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    working_orders: engine.open_orders(k).to_vec(),
                    orders: engine.orders(k).len(),
                    fills: engine.fills(k).len(),
                    breakers: engine
                        .breakers(k)
                        .map(|b| b.active(now).cloned().collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        StateFile {
            mode: self.mode,
            now_ns: now,
            now_utc: now.to_rfc3339(),
            active_windows: engine
                .active_windows()
                .into_iter()
                .map(str::to_string)
                .collect(),
            listed_windows: engine.windows().len(),
            resolved_windows: engine.resolved_windows(),
            counters: *stats,
            strategies,
        }
    }

    /// Logs the status line and writes `state.json`.
    pub fn report(&mut self, engine: &Engine, stats: &LoopStats) {
        self.last = Some(Instant::now());
        let st = self.state(engine, stats);
        if !self.quiet {
            let orders: usize = st.strategies.iter().map(|s| s.orders).sum();
            let working: usize = st.strategies.iter().map(|s| s.working_orders.len()).sum();
            let fills: usize = st.strategies.iter().map(|s| s.fills).sum();
            let pnl = st
                .strategies
                .iter()
                .fold(Cash::ZERO, |a, s| a + s.realized_pnl);
            let open = st
                .strategies
                .iter()
                .fold(Cash::ZERO, |a, s| a + s.open_cost);
            let mut halts: Vec<&str> = st
                .strategies
                .iter()
                .flat_map(|s| s.breakers.iter().map(|t| t.breaker.name()))
                .collect();
            halts.sort_unstable();
            halts.dedup();
            let halts = if halts.is_empty() {
                String::new()
            } else {
                format!(" | HALTED: {}", halts.join(", "))
            };
            tracing::info!(
                target: "polyedge::status",
                "{} {} | windows active {} (listed {}) | orders {} (working {}) | fills {} | realized PnL {} pUSD, open cost {} | frames {} ({} unparsed) | feed lag {}{}",
                self.mode,
                st.now_utc,
                st.active_windows.len(),
                st.listed_windows,
                orders,
                working,
                fills,
                pnl,
                open,
                stats.frames,
                stats.parse_errors,
                stats
                    .feed_lag_ms
                    .map_or_else(|| "n/a".to_string(), |l| format!("{l} ms")),
                halts,
            );
        }
        if let Some(path) = &self.state_file {
            write_json_atomic(path, &st);
        }
    }
}

/// Writes `value` as pretty JSON to `path` atomically (temporary file, then rename); logs on
/// failure.
pub fn write_json_atomic<T: Serialize>(path: &std::path::Path, value: &T) {
    let tmp = path.with_extension("json.tmp");
    let res = serde_json::to_vec_pretty(value)
        .map_err(std::io::Error::other)
        .and_then(|b| std::fs::write(&tmp, b))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        tracing::warn!(file = %path.display(), error = %e, "cannot write");
    }
}
