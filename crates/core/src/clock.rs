//! Where "now" comes from: one [`Clock`] trait for every mode.
//!
//! | mode | clock | who advances it |
//! |---|---|---|
//! | backtest | [`ReplayClock`] | the replay driver, to each event's receive time |
//! | shadow / paper / live on the venue | [`WallClock`] | the system clock |
//! | shadow / paper / live / collect against `polyedge sandbox` | [`FollowClock`] | the sandbox: each frame's sandbox time, announced in-band before the frame, and `/sandbox/time` when idle |
//!
//! The engine itself never reads a clock: every input it is given carries its time, so the same
//! inputs give the same run whatever drove them. Drivers read a clock to stamp what they receive
//! and to decide when to deliver a clock tick.
//!
//! Every clock here is monotonic: `now()` never returns less than an earlier `now()` of the same
//! clock (a system-clock step back repeats the last value). Nothing here does I/O: the sandbox
//! clock is fed by the feed code ([`FollowClock::observe`]).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::time::UnixNanos;

/// A source of the current time, ns since the Unix epoch; never decreasing.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> UnixNanos;
    /// A short name for logs and reports (`wall`, `replay`, `sandbox`).
    fn kind(&self) -> &'static str;
}

/// The system clock, made monotonic: a step back of the system clock repeats the last value.
#[derive(Debug, Default)]
pub struct WallClock {
    last: AtomicU64,
}

impl WallClock {
    /// A wall clock.
    pub fn new() -> Self {
        WallClock::default()
    }
}

/// The system clock, ns since the epoch (0 before 1970, saturating after 2554).
pub fn system_time_ns() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock for WallClock {
    fn now(&self) -> UnixNanos {
        let wall = system_time_ns();
        let prev = self.last.fetch_max(wall, Ordering::Relaxed);
        UnixNanos(wall.max(prev))
    }

    fn kind(&self) -> &'static str {
        "wall"
    }
}

/// Replay time: it stands where the driver last set it ([`ReplayClock::advance_to`]).
#[derive(Debug, Default)]
pub struct ReplayClock {
    now: AtomicU64,
}

impl ReplayClock {
    /// A replay clock at `start`.
    pub fn new(start: UnixNanos) -> Self {
        ReplayClock {
            now: AtomicU64::new(start.0),
        }
    }

    /// Moves the clock to `t` (no effect if `t` is earlier than now).
    pub fn advance_to(&self, t: UnixNanos) {
        self.now.fetch_max(t.0, Ordering::Relaxed);
    }
}

impl Clock for ReplayClock {
    fn now(&self) -> UnixNanos {
        UnixNanos(self.now.load(Ordering::Relaxed))
    }

    fn kind(&self) -> &'static str {
        "replay"
    }
}

/// A clock that follows another process's clock: the largest time [`observed`](Self::observe)
/// so far. Against `polyedge sandbox` the feed code observes the sandbox time that the sandbox
/// announces in-band before each frame it sends (a WebSocket Ping whose payload is
/// [`SANDBOX_CLOCK_PING_PREFIX`] followed by the decimal ns), so a frame is stamped with the sandbox
/// time at which it was sent, at any replay speed; when nothing arrives the driver polls
/// `/sandbox/time` and observes that.
#[derive(Debug, Default)]
pub struct FollowClock {
    now: AtomicU64,
}

/// Prefix of the payload of the sandbox's clock pings: `polyedge-sandbox-clock:<ns>`.
pub const SANDBOX_CLOCK_PING_PREFIX: &[u8] = b"polyedge-sandbox-clock:";

impl FollowClock {
    /// A follow clock at 0 (nothing observed yet).
    pub fn new() -> Self {
        FollowClock::default()
    }

    /// The followed clock read `t`: moves this clock to `t` if that is later.
    pub fn observe(&self, t: UnixNanos) {
        self.now.fetch_max(t.0, Ordering::Relaxed);
    }

    /// Observes the time in a sandbox clock-ping payload; returns it, or `None` (nothing observed)
    /// if the payload is not one.
    pub fn observe_ping(&self, payload: &[u8]) -> Option<UnixNanos> {
        let t = parse_clock_ping(payload)?;
        self.observe(t);
        Some(t)
    }
}

/// The time in a sandbox clock-ping payload (`polyedge-sandbox-clock:<decimal ns>`), if it is one.
pub fn parse_clock_ping(payload: &[u8]) -> Option<UnixNanos> {
    let digits = payload.strip_prefix(SANDBOX_CLOCK_PING_PREFIX)?;
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(UnixNanos(v))
}

/// The payload of a sandbox clock ping announcing `t`.
pub fn clock_ping_payload(t: UnixNanos) -> Vec<u8> {
    let mut v = SANDBOX_CLOCK_PING_PREFIX.to_vec();
    v.extend_from_slice(t.0.to_string().as_bytes());
    v
}

impl Clock for FollowClock {
    fn now(&self) -> UnixNanos {
        UnixNanos(self.now.load(Ordering::Relaxed))
    }

    fn kind(&self) -> &'static str {
        "sandbox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_and_follow_clocks_never_go_back() {
        let c = ReplayClock::new(UnixNanos(10));
        c.advance_to(UnixNanos(5));
        assert_eq!(c.now(), UnixNanos(10));
        c.advance_to(UnixNanos(20));
        assert_eq!(c.now(), UnixNanos(20));
        let f = FollowClock::new();
        f.observe(UnixNanos(7));
        f.observe(UnixNanos(3));
        assert_eq!(f.now(), UnixNanos(7));
    }

    #[test]
    fn clock_ping_round_trip_and_junk() {
        let p = clock_ping_payload(UnixNanos(1_776_000_000_123_456_789));
        assert_eq!(
            parse_clock_ping(&p),
            Some(UnixNanos(1_776_000_000_123_456_789))
        );
        let f = FollowClock::new();
        assert_eq!(
            f.observe_ping(&p),
            Some(UnixNanos(1_776_000_000_123_456_789))
        );
        assert_eq!(f.now(), UnixNanos(1_776_000_000_123_456_789));
        for junk in [
            &b""[..],
            b"polyedge-sandbox-clock:",
            b"polyedge-sandbox-clock:12a",
            b"polyedge-sandbox-clock:99999999999999999999999",
            b"hello",
        ] {
            assert_eq!(parse_clock_ping(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn wall_clock_is_monotonic_and_near_the_system_clock() {
        let c = WallClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        assert!(a.0.abs_diff(system_time_ns()) < 60 * UnixNanos::PER_SEC);
    }
}
