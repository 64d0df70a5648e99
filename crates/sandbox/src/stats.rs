//! Counters of a running sandbox (`/sandbox/status`, [`Sandbox::status`](crate::Sandbox::status)).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Kind of a data frame written to a client (`kind` in the served log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// A recorded frame, byte-identical.
    Recorded,
    /// A recorded `book` resent on subscribe.
    Resync,
    /// An injected malformed frame.
    Malformed,
    /// An injected oversize frame.
    Oversize,
    /// `PONG` answering a client `PING`.
    Pong,
    /// A reply to a client request (Binance SUBSCRIBE answers, RTDS error envelopes).
    Ack,
}

impl FrameKind {
    /// `true` for the kinds that count as data frames for `--drop-every`/`--stall-every`.
    pub fn is_data(self) -> bool {
        matches!(
            self,
            FrameKind::Recorded | FrameKind::Resync | FrameKind::Malformed | FrameKind::Oversize
        )
    }
}

/// Live counters (atomics; shared).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub frames_read: AtomicU64,
    pub frames_dispatched: AtomicU64,
    pub frames_not_served: AtomicU64,
    pub control_skipped: AtomicU64,
    pub read_errors: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub drops_injected: AtomicU64,
    pub stalls_injected: AtomicU64,
    pub malformed_injected: AtomicU64,
    pub oversize_injected: AtomicU64,
    pub gate_timeouts: AtomicU64,
    pub written_recorded: AtomicU64,
    pub written_resync: AtomicU64,
    pub written_malformed: AtomicU64,
    pub written_oversize: AtomicU64,
    pub written_pong: AtomicU64,
    pub written_ack: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn written(&self, kind: FrameKind) {
        bump(match kind {
            FrameKind::Recorded => &self.written_recorded,
            FrameKind::Resync => &self.written_resync,
            FrameKind::Malformed => &self.written_malformed,
            FrameKind::Oversize => &self.written_oversize,
            FrameKind::Pong => &self.written_pong,
            FrameKind::Ack => &self.written_ack,
        });
    }
}

/// Data frames written, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Recorded frames.
    pub recorded: u64,
    /// Resync `book`s.
    pub resync: u64,
    /// Injected malformed frames.
    pub malformed: u64,
    /// Injected oversize frames.
    pub oversize: u64,
    /// `PONG`s.
    pub pong: u64,
    /// Replies (acks, error envelopes).
    pub ack: u64,
}

/// A snapshot of the counters (since start) and the clock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The start gate opened.
    pub started: bool,
    /// Every frame has been handed to the connections.
    pub finished: bool,
    /// Sandbox clock, ns since epoch.
    pub now_ns: u64,
    /// Frames read from the recordings.
    pub frames_read: u64,
    /// Recorded frames handed to at least the routing step (served endpoints).
    pub frames_dispatched: u64,
    /// Frames of feeds no endpoint serves (coinbase, deribit, control).
    pub frames_not_served: u64,
    /// Recorded heartbeats and request replies that are not replayed.
    pub control_skipped: u64,
    /// Corrupt segments met while reading (logged; the stream continues with its next segment).
    pub read_errors: u64,
    /// WebSocket connections open now.
    pub connections_open: u64,
    /// WebSocket connections accepted since start.
    pub connections_total: u64,
    /// Connections closed by `--drop-every`.
    pub drops_injected: u64,
    /// Stalls by `--stall`.
    pub stalls_injected: u64,
    /// Malformed frames injected.
    pub malformed_injected: u64,
    /// Oversize frames injected.
    pub oversize_injected: u64,
    /// Gates that were passed because `--gate-wait` ran out.
    pub gate_timeouts: u64,
    /// Frames written, by kind.
    pub written: Written,
}

impl Counters {
    pub fn snapshot(&self, started: bool, finished: bool, now_ns: u64) -> Status {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Status {
            started,
            finished,
            now_ns,
            frames_read: g(&self.frames_read),
            frames_dispatched: g(&self.frames_dispatched),
            frames_not_served: g(&self.frames_not_served),
            control_skipped: g(&self.control_skipped),
            read_errors: g(&self.read_errors),
            connections_open: g(&self.connections_open),
            connections_total: g(&self.connections_total),
            drops_injected: g(&self.drops_injected),
            stalls_injected: g(&self.stalls_injected),
            malformed_injected: g(&self.malformed_injected),
            oversize_injected: g(&self.oversize_injected),
            gate_timeouts: g(&self.gate_timeouts),
            written: Written {
                recorded: g(&self.written_recorded),
                resync: g(&self.written_resync),
                malformed: g(&self.written_malformed),
                oversize: g(&self.written_oversize),
                pong: g(&self.written_pong),
                ack: g(&self.written_ack),
            },
        }
    }
}
