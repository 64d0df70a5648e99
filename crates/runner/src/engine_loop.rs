//! The engine side of a run: frames as the recorder wrote them → parsers → [`Engine::process`].
//!
//! The same path serves the live run (frames from the recorder's [`Tap`]) and the rebuild of a
//! restarted run (frames from the replay of the run's earlier recordings), so a restart reaches
//! exactly the state the recordings imply: nothing counted twice, nothing forgotten that was
//! recorded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use polyedge_core::{EventKind, MarketEvent, UnixNanos};
use polyedge_engine::{Engine, Input, WindowTracker};
use polyedge_feeds::sink::Tap;
use polyedge_store::StreamId;
use polyedge_venues::Feed;

use crate::daily::DailySummary;
use crate::kill::{BreakerView, KillEvent, KillJournal};
use crate::metrics::RunMetrics;
use crate::status::Status;
use crate::status_page::StatusPage;

/// What the recorder's tap hands the engine thread.
#[derive(Debug)]
pub enum Msg {
    /// A frame as written: its feed, its receive stamp, its bytes.
    Frame(Feed, UnixNanos, Vec<u8>),
    /// The receive clock read this time while idle.
    Tick(UnixNanos),
    /// The kill switch: engage with a reason, or release (`None`) ([`crate::kill`]).
    Kill(Option<String>),
    /// The recorder finished.
    Finish,
}

/// The recorder side: forwards what the writer wrote to the engine thread (blocking when the
/// engine is behind, which holds the writer, which holds the feeds: no frame is dropped).
#[derive(Debug)]
pub struct EngineTap {
    tx: SyncSender<Msg>,
}

impl EngineTap {
    /// A tap sending into `tx`.
    pub fn new(tx: SyncSender<Msg>) -> Self {
        EngineTap { tx }
    }
}

impl Tap for EngineTap {
    fn frame(&mut self, stream: &StreamId, recv_ns: UnixNanos, bytes: &[u8]) {
        let _ = self
            .tx
            .send(Msg::Frame(stream.feed, recv_ns, bytes.to_vec()));
    }

    fn tick(&mut self, now: UnixNanos) {
        let _ = self.tx.send(Msg::Tick(now));
    }

    fn finish(&mut self) {
        let _ = self.tx.send(Msg::Finish);
    }
}

/// Counters of the engine loop.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LoopStats {
    /// Frames handed to the parsers.
    pub frames: u64,
    /// Frames that did not parse (counted, logged; the raw frame is in the recording).
    pub parse_errors: u64,
    /// Market events processed.
    pub events: u64,
    /// Decisions written to the decision log.
    pub decisions: u64,
    /// Receive time of the last frame (ns since epoch).
    pub last_frame_ns: u64,
    /// Receive time minus the venue's timestamp of the last event that had one, ms (the feed
    /// lag as this machine saw it; negative if the venue's clock runs ahead).
    pub feed_lag_ms: Option<i64>,
}

/// The engine, the window tracker, the parsers' buffer, the decision log.
pub struct EngineLoop {
    engine: Engine,
    tracker: WindowTracker,
    events: Vec<MarketEvent>,
    decisions: Option<BufWriter<File>>,
    stats: LoopStats,
    status: Status,
    kill_journal: Option<KillJournal>,
    breaker_view: Option<BreakerView>,
    metrics: Option<RunMetrics>,
    status_page: Option<StatusPage>,
    daily: Option<DailySummary>,
    /// The frame being handled: its receive stamp and when its handling began.
    current_frame: Option<(UnixNanos, Option<Instant>)>,
    beat: Option<EngineBeat>,
}

/// When the engine thread last handled a message (ms since epoch, wall clock): the control
/// port's liveness check of a run reads it.
#[derive(Debug, Clone, Default)]
pub struct EngineBeat(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl EngineBeat {
    fn wall_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Marks a beat now.
    pub fn beat(&self) {
        self.0
            .store(Self::wall_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Seconds since the last beat (`None`: never).
    pub fn age_secs(&self) -> Option<f64> {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            t => Some(Self::wall_ms().saturating_sub(t) as f64 / 1000.0),
        }
    }
}

impl std::fmt::Debug for EngineLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineLoop")
            .field("engine", &self.engine)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl EngineLoop {
    /// A loop over `engine` (decision logging is switched on) writing decisions to
    /// `decision_log` (created or truncated) and a status line every `status_every`.
    ///
    /// # Errors
    /// The decision log cannot be created.
    pub fn new(mut engine: Engine, decision_log: &Path, status: Status) -> std::io::Result<Self> {
        engine.log_decisions(true);
        let file = File::create(decision_log)?;
        Ok(EngineLoop {
            engine,
            tracker: WindowTracker::new(),
            events: Vec::new(),
            decisions: Some(BufWriter::new(file)),
            stats: LoopStats::default(),
            status,
            kill_journal: None,
            breaker_view: None,
            metrics: None,
            status_page: None,
            daily: None,
            current_frame: None,
            beat: None,
        })
    }

    /// Exports the run's metrics ([`crate::metrics`]) from now on.
    pub fn with_metrics(mut self, metrics: RunMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Publishes the status page's snapshot ([`crate::status_page`]) from now on.
    pub fn with_status_page(mut self, page: StatusPage) -> Self {
        self.status_page = Some(page);
        self
    }

    /// Sends the daily summary ([`crate::daily`]) from now on.
    pub fn with_daily_summary(mut self, daily: DailySummary) -> Self {
        self.daily = Some(daily);
        self
    }

    /// Beats `beat` for every message handled by [`EngineLoop::run`].
    pub fn with_beat(mut self, beat: EngineBeat) -> Self {
        beat.beat();
        self.beat = Some(beat);
        self
    }

    /// Journals kill-switch changes to `journal` from now on.
    pub fn with_kill_journal(mut self, journal: KillJournal) -> Self {
        self.kill_journal = Some(journal);
        self
    }

    /// Publishes the breakers' state into `view` (for `GET /breakers`) with the status line.
    pub fn with_breaker_view(mut self, view: BreakerView) -> Self {
        self.breaker_view = Some(view);
        self.publish_breakers();
        self
    }

    /// Engages (`Some(reason)`) or releases (`None`) the kill switch at the engine's current
    /// time, journaled; a command that changes nothing is ignored.
    pub fn kill(&mut self, reason: Option<String>) {
        if reason.is_some() == self.engine.killed() {
            return;
        }
        let at = self.engine.now();
        if let Some(j) = &self.kill_journal {
            let ev = KillEvent {
                at,
                reason: reason.clone(),
            };
            if let Err(e) = j.append(&ev) {
                tracing::error!(error = %e, "run: cannot journal the kill switch (a restart would not replay it)");
            }
        }
        self.replay_kill(reason, at);
        self.publish_breakers();
    }

    /// Applies a journaled kill-switch change at `at` (the rebuild of a restart).
    pub fn replay_kill(&mut self, reason: Option<String>, at: UnixNanos) {
        self.engine.process(Input::Kill { reason, at });
        self.after_input();
    }

    fn publish_breakers(&self) {
        let Some(view) = &self.breaker_view else {
            return;
        };
        let now = self.engine.now();
        let strategies: Vec<serde_json::Value> = (0..self.engine.lanes())
            .map(|k| {
                let b = self.engine.breakers(k);
                serde_json::json!({
                    "strategy": self.engine.strategy_name(k),
                    "active": b.map(|b| b.active(now).cloned().collect::<Vec<_>>()),
                    "trips": b.map(polyedge_engine::LaneBreakers::trips),
                })
            })
            .collect();
        let v = serde_json::json!({
            "now": now,
            "kill_switch": self.engine.killed(),
            "strategies": strategies,
        });
        if let Ok(mut slot) = view.lock() {
            *slot = v;
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The counters.
    pub fn stats(&self) -> LoopStats {
        self.stats
    }

    /// The windows the run knows, as the tracker last saw them (with outcome once resolved).
    pub fn tracker(&self) -> &WindowTracker {
        &self.tracker
    }

    /// Handles one recorded frame of `feed` stamped `recv_ns`.
    pub fn frame(&mut self, feed: Feed, recv_ns: UnixNanos, bytes: &[u8]) {
        // The decision-latency clock starts here (only when the latency is exported and the
        // receive stamps are not this machine's wall clock, which measures it without).
        let began = self
            .metrics
            .as_ref()
            .map(|m| (!m.wall_clock()).then(Instant::now));
        self.stats.frames += 1;
        self.stats.last_frame_ns = recv_ns.0;
        self.events.clear();
        let mut events = std::mem::take(&mut self.events);
        if let Err(e) = feed.parse(bytes, recv_ns, &mut events) {
            self.stats.parse_errors += 1;
            if self.stats.parse_errors.is_power_of_two() {
                let head = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
                tracing::warn!(feed = feed.name(), error = %e, count = self.stats.parse_errors, frame = %head, "run: frame not understood (kept in the recording)");
            }
        }
        for ev in events.drain(..) {
            if let Some(v) = ev.venue_ns {
                let lag = i128::from(ev.recv_ns.0) - i128::from(v.0);
                self.stats.feed_lag_ms = i64::try_from(lag / 1_000_000).ok();
            }
            self.event(ev);
        }
        self.events = events;
        self.current_frame = began.map(|b| (recv_ns, b));
        self.after_input();
        self.current_frame = None;
    }

    /// Handles one parsed event (a window record becomes listings, strikes and resolutions).
    pub fn event(&mut self, ev: MarketEvent) {
        if let (EventKind::Gap(_), Some(d)) = (&ev.kind, self.daily.as_mut()) {
            d.gap();
        }
        if let EventKind::WindowUpdate(w) = &ev.kind {
            for input in self.tracker.update(w, ev.recv_ns) {
                self.engine.process(input);
            }
            return;
        }
        self.stats.events += 1;
        self.engine.process(Input::Market(ev));
    }

    /// Handles one replayed event (the rebuild of a restart): as live, decisions logged.
    pub fn replay_event(&mut self, ev: MarketEvent) {
        self.event(ev);
        self.after_input();
    }

    /// Silences (or not) the status line (it stays quiet during a rebuild).
    pub fn set_status_quiet(&mut self, quiet: bool) {
        self.status.set_quiet(quiet);
    }

    /// The clock reached `now`.
    pub fn tick(&mut self, now: UnixNanos) {
        self.engine.process(Input::Tick(now));
        self.after_input();
    }

    fn after_input(&mut self) {
        let decisions = self.engine.take_decisions();
        if !decisions.is_empty()
            && let Some(w) = self.decisions.as_mut()
        {
            for d in &decisions {
                if serde_json::to_writer(&mut *w, d).is_ok() {
                    let _ = w.write_all(b"\n");
                }
            }
            self.stats.decisions += decisions.len() as u64;
        }
        if let Some(m) = self.metrics.as_mut() {
            if !decisions.is_empty() {
                m.decisions(&decisions);
                if let Some((recv, began)) = self.current_frame {
                    m.decision_latency(recv, began);
                }
            }
            m.publish(&self.engine, &self.stats, false);
        }
        if let Some(d) = self.daily.as_mut() {
            d.check(&self.engine);
        }
        if let Some(p) = self.status_page.as_mut() {
            if !decisions.is_empty() {
                p.decisions(&decisions);
            }
            p.publish(&self.engine, &self.stats, false);
        }
        if self.status.due() {
            self.publish_breakers();
            let _ = self.decisions.as_mut().map(BufWriter::flush);
            self.status.report(&self.engine, &self.stats);
        }
    }

    /// Flushes the decision log.
    pub fn flush(&mut self) {
        if let Some(w) = self.decisions.as_mut() {
            let _ = w.flush();
        }
    }

    /// Runs on the engine thread until the recorder finishes (or the channel closes).
    pub fn run(mut self, rx: &Receiver<Msg>) -> Self {
        let mut last_flush = Instant::now();
        while let Ok(msg) = rx.recv() {
            if let Some(b) = &self.beat {
                b.beat();
            }
            match msg {
                Msg::Frame(feed, t, bytes) => self.frame(feed, t, &bytes),
                Msg::Tick(t) => self.tick(t),
                Msg::Kill(reason) => self.kill(reason),
                Msg::Finish => break,
            }
            if last_flush.elapsed() >= Duration::from_secs(1) {
                self.flush();
                last_flush = Instant::now();
            }
        }
        self.flush();
        self.status.report(&self.engine, &self.stats);
        if let Some(m) = self.metrics.as_mut() {
            m.publish(&self.engine, &self.stats, true);
        }
        if let Some(p) = self.status_page.as_mut() {
            p.publish(&self.engine, &self.stats, true);
        }
        self
    }

    /// Ends the engine at `end` and returns it (with the loop counters).
    pub fn into_engine(mut self) -> (Engine, LoopStats) {
        self.flush();
        (self.engine, self.stats)
    }
}
