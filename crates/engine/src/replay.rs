//! The replay driver: recorded events → [`Engine::process`], with windows listed and resolved as
//! they happened ([`crate::windows`]). The backtest is this driver over the store's replay.

use std::collections::{HashSet, VecDeque};

use polyedge_core::{EventKind, MarketEvent, UnixNanos, Window};
use polyedge_strategy::Strategy;

use crate::engine::{Engine, EngineConfig, RunResult};
use crate::input::Input;
use crate::windows::{WindowTracker, index_schedule};

/// Feeds recorded events to an [`Engine`]. See the [module docs](self).
///
/// Windows come from two places: `indexed` windows (recordings without window records) are
/// listed and resolved by [`index_schedule`]; windows of recordings with window records enter
/// through their [`EventKind::WindowUpdate`] events (not through the index, which a crashed
/// recorder may have left behind its records), restricted to windows lying wholly inside an
/// optional time range, and never for a slug already scheduled from an index.
pub struct ReplayDriver {
    engine: Engine,
    schedule: VecDeque<Input>,
    tracker: WindowTracker,
    indexed: HashSet<String>,
    range: (Option<UnixNanos>, Option<UnixNanos>),
    last_end: UnixNanos,
}

impl std::fmt::Debug for ReplayDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayDriver")
            .field("engine", &self.engine)
            .field("pending", &self.schedule.len())
            .finish_non_exhaustive()
    }
}

impl ReplayDriver {
    /// A driver of `engine` over recordings whose windows are `indexed` (scheduled from the index)
    /// or recorded (window records in the replay, admitted when the window lies wholly inside
    /// `[from, to]`).
    pub fn new(
        engine: Engine,
        indexed: &[Window],
        from: Option<UnixNanos>,
        to: Option<UnixNanos>,
    ) -> Self {
        let last_end = indexed.iter().map(|w| w.end).max().unwrap_or(UnixNanos(0));
        ReplayDriver {
            engine,
            schedule: index_schedule(indexed).into(),
            tracker: WindowTracker::new(),
            indexed: indexed.iter().map(|w| w.slug.clone()).collect(),
            range: (from, to),
            last_end,
        }
    }

    /// The windows that entered through window records, as last recorded (with outcome once
    /// resolved), in slug order.
    pub fn recorded_windows(&self) -> Vec<&Window> {
        self.tracker.windows()
    }

    /// The engine (results so far, positions, orders).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, mutably (e.g. to drain its decision log).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Feeds every scheduled window input due at or before `t`.
    fn catch_up(&mut self, t: UnixNanos) {
        while self.schedule.front().is_some_and(|i| i.time() <= t) {
            if let Some(input) = self.schedule.pop_front() {
                self.engine.process(input);
            }
        }
    }

    /// Feeds one recorded event (in receive order).
    pub fn feed(&mut self, ev: MarketEvent) {
        self.catch_up(ev.recv_ns);
        if let EventKind::WindowUpdate(w) = &ev.kind {
            let (from, to) = self.range;
            let inside = from.is_none_or(|f| w.start >= f) && to.is_none_or(|t| w.end <= t);
            if inside && !self.indexed.contains(&w.slug) {
                self.last_end = self.last_end.max(w.end);
                for input in self.tracker.update(w, ev.recv_ns) {
                    self.engine.process(input);
                }
            }
            return;
        }
        self.engine.process(Input::Market(ev));
    }

    /// Feeds what is left of the schedule, runs to the last window end and returns the results.
    pub fn finish(self) -> RunResult {
        self.finish_with_windows().0
    }

    /// As [`Self::finish`], also returning the windows that entered through window records (as
    /// last recorded).
    pub fn finish_with_windows(mut self) -> (RunResult, Vec<Window>) {
        while let Some(input) = self.schedule.pop_front() {
            self.engine.process(input);
        }
        let end = self.last_end.max(self.engine.now());
        let windows = self.tracker.windows().into_iter().cloned().collect();
        (self.engine.finish(end), windows)
    }

    /// As [`Self::finish_with_windows`], first handing `log` the decisions made while the rest
    /// of the schedule is fed and the engine runs to the end (with decision logging on: see
    /// [`Engine::log_decisions`]).
    pub fn finish_logged(
        mut self,
        log: &mut dyn FnMut(Vec<crate::Decision>),
    ) -> (RunResult, Vec<Window>) {
        while let Some(input) = self.schedule.pop_front() {
            self.engine.process(input);
            log(self.engine.take_decisions());
        }
        let end = self.last_end.max(self.engine.now());
        self.engine.advance_to(end);
        log(self.engine.take_decisions());
        let windows = self.tracker.windows().into_iter().cloned().collect();
        (self.engine.finish(end), windows)
    }

    /// Feeds every event of `events`, then [`Self::finish`].
    pub fn run(mut self, events: impl IntoIterator<Item = MarketEvent>) -> RunResult {
        for ev in events {
            self.feed(ev);
        }
        self.finish()
    }
}

/// A backtest in one call: `strategies` against their own simulated executors over `events`, with
/// `windows` listed and resolved from the index ([`index_schedule`]).
///
/// # Errors
/// As [`Engine::new`].
pub fn backtest(
    config: EngineConfig,
    windows: &[Window],
    strategies: Vec<Box<dyn Strategy>>,
    events: impl IntoIterator<Item = MarketEvent>,
) -> Result<RunResult, crate::EngineError> {
    let engine = Engine::simulated(config, strategies)?;
    Ok(ReplayDriver::new(engine, windows, None, None).run(events))
}
