//! The sandbox clock: time on the recording's axis (ns since epoch), shared by the replay hub
//! (which advances it), the HTTP routes (`/sandbox/time`, Gamma) and the connections.
//!
//! Rule (`docs/sandbox.md` §3): the clock stands at `t0` (the first frame's `recv_ns`) until the
//! start gate opens. With a factor `F` it then reads `t0 + F × wall time since the start`; with
//! `max` it is the largest `recv_ns` handed out so far (set by the hub), and after the last frame
//! it jumps to 1 ns past the last window's end.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Speed;

/// What the hub is waiting for, shown by `/sandbox/time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Waiting for the first subscriptions of every endpoint kind the recording serves.
    Start,
    /// Waiting for the market-channel clients to subscribe to a window's tokens.
    Window(String),
    /// Waiting for a client to reconnect after an injected drop on an endpoint (its path kind).
    Reconnect(&'static str),
}

#[derive(Debug)]
struct State {
    t0: u64,
    /// Wall-clock instant the clock started (factor speeds), `None` before the start gate.
    started: Option<Instant>,
    /// Max mode: the clock value.
    now: u64,
    finished: bool,
    gate: Option<(Gate, Instant)>,
}

/// The shared clock. Cheap to read (one mutex, no I/O).
#[derive(Debug)]
pub struct Clock {
    speed: Speed,
    state: Mutex<State>,
}

/// A snapshot of the clock for `/sandbox/time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    /// Sandbox time, ns since epoch.
    pub now_ns: u64,
    /// The start gate has opened.
    pub started: bool,
    /// The last frame has been handed out.
    pub finished: bool,
    /// What the replay waits for, and for how long it has waited (ms of wall time).
    pub gate: Option<(Gate, u64)>,
}

impl Clock {
    /// A clock at `t0` that has not started.
    pub fn new(speed: Speed, t0: u64) -> Self {
        Clock {
            speed,
            state: Mutex::new(State {
                t0,
                started: None,
                now: t0,
                finished: false,
                gate: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent (plain stores).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The speed.
    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// Sandbox time now (ns since epoch).
    pub fn now(&self) -> u64 {
        let s = self.lock();
        Self::now_of(self.speed, &s)
    }

    fn now_of(speed: Speed, s: &State) -> u64 {
        match (speed, s.started) {
            (Speed::Factor(f), Some(at)) => {
                let wall = at.elapsed().as_nanos() as f64;
                // Saturating float → integer conversion; recordings span far less than 2^64 ns.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let advanced = (wall * f) as u64;
                s.t0.saturating_add(advanced).max(s.now)
            }
            _ => s.now,
        }
    }

    /// Full reading.
    pub fn reading(&self) -> ClockReading {
        let s = self.lock();
        ClockReading {
            now_ns: Self::now_of(self.speed, &s),
            started: s.started.is_some(),
            finished: s.finished,
            gate: s.gate.as_ref().map(|(g, since)| {
                (
                    g.clone(),
                    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                )
            }),
        }
    }

    /// Starts the clock at `t0` now (the start gate opened). Idempotent.
    pub fn start(&self) -> Instant {
        let mut s = self.lock();
        *s.started.get_or_insert_with(Instant::now)
    }

    /// The wall instant at which a frame received at `recv_ns` is due (factor speeds), or `None`
    /// (max speed, or not started). Frames before `t0` are due at the start.
    pub fn due(&self, recv_ns: u64) -> Option<Instant> {
        let s = self.lock();
        let (Speed::Factor(f), Some(at)) = (self.speed, s.started) else {
            return None;
        };
        let ahead = recv_ns.saturating_sub(s.t0) as f64 / f;
        Some(at + Duration::from_secs_f64(ahead / 1e9))
    }

    /// Max speed: moves the clock forward to `t` (never back). No effect with a factor except
    /// that [`now`](Self::now) never reads below the largest `t` given.
    pub fn advance_to(&self, t: u64) {
        let mut s = self.lock();
        if self.speed.is_max() {
            s.now = s.now.max(t);
        }
    }

    /// Marks the replay finished; with max speed the clock jumps to `end_after` if later.
    pub fn finish(&self, end_after: u64) {
        let mut s = self.lock();
        s.finished = true;
        if self.speed.is_max() {
            s.now = s.now.max(end_after);
        }
    }

    /// Sets (or clears) the gate shown by `/sandbox/time`.
    pub fn set_gate(&self, gate: Option<Gate>) {
        let mut s = self.lock();
        match gate {
            None => s.gate = None,
            Some(g) => {
                if s.gate.as_ref().is_none_or(|(cur, _)| *cur != g) {
                    s.gate = Some((g, Instant::now()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_clock_follows_frames_and_never_goes_back() {
        let c = Clock::new(Speed::Max, 100);
        assert_eq!(c.now(), 100);
        c.start();
        assert_eq!(c.now(), 100);
        c.advance_to(250);
        c.advance_to(200);
        assert_eq!(c.now(), 250);
        assert!(c.due(300).is_none());
        c.finish(1_000);
        let r = c.reading();
        assert_eq!(r.now_ns, 1_000);
        assert!(r.finished && r.started);
    }

    #[test]
    fn factor_clock_stands_still_until_started_then_schedules_by_factor() {
        let c = Clock::new(Speed::Factor(10.0), 1_000_000_000);
        assert_eq!(c.now(), 1_000_000_000);
        assert!(c.due(2_000_000_000).is_none(), "not started");
        let at = c.start();
        // 1 s of sandbox time at 10× is due 100 ms after the start.
        let due = c.due(2_000_000_000).expect("started");
        assert_eq!(due - at, Duration::from_millis(100));
        // Frames before t0 are due at once.
        assert_eq!(c.due(5), Some(at));
        assert!(c.now() >= 1_000_000_000);
    }
}
