//! The replay hub: one task that owns the connections' subscriptions and the resync book cache,
//! takes the recorded frames in replay order from a reader thread, waits until each is due (or,
//! at `--speed max`, until the gates open) and hands it to the queues of the connections whose
//! subscriptions match. Gates and the clock rule: `docs/sandbox.md` §3.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use polyedge_store::FrameReplay;
use polyedge_store::replay::Frame;
use tokio::sync::{mpsc, watch};

use crate::Shared;
use crate::books::{BookUpdate, Books, updates_of};
use crate::clock::Gate;
use crate::route::{Endpoint, Route, classify};
use crate::stats::{FrameKind, bump};
use crate::subs::{SubChange, Subs};

/// Capacity of each connection's queue, in frames.
pub const CONN_QUEUE: usize = 1024;
/// Capacity of the reader → hub channel, in frames.
const READ_AHEAD: usize = 1024;

/// A frame for a connection to write.
#[derive(Debug, Clone)]
pub struct Out {
    /// Payload.
    pub bytes: Bytes,
    /// Recorded stream name.
    pub stream: Arc<str>,
    /// Recorded receive time (ns).
    pub recv_ns: u64,
    /// `Recorded` or `Resync`.
    pub kind: FrameKind,
}

/// A recorded frame on its way to the hub.
#[derive(Debug)]
pub struct Item {
    endpoint: Endpoint,
    stream: Arc<str>,
    recv_ns: u64,
    bytes: Bytes,
    route: Route,
    /// Market channel: the frame's book changes (venue parser).
    updates: Vec<BookUpdate>,
}

/// A message from a connection task to the hub.
#[derive(Debug)]
pub enum Cmd {
    /// A WebSocket connection was accepted.
    Open {
        /// Connection number.
        conn: u64,
        /// Its endpoint kind.
        endpoint: Endpoint,
        /// Its queue.
        tx: mpsc::Sender<Out>,
    },
    /// The client changed its subscriptions.
    Sub {
        /// Connection number.
        conn: u64,
        /// The change.
        change: SubChange,
    },
    /// The connection ended; `injected` if the sandbox dropped it (`--drop-every`).
    Closed {
        /// Connection number.
        conn: u64,
        /// Its endpoint kind.
        endpoint: Endpoint,
        /// Dropped by the sandbox.
        injected: bool,
    },
}

struct ConnState {
    endpoint: Endpoint,
    subs: Subs,
    tx: mpsc::Sender<Out>,
}

struct GateWindow {
    slug: String,
    start: u64,
    tokens: Vec<String>,
    opened: bool,
}

enum Waited {
    Ready,
    Timeout,
    Shutdown,
}

/// Spawns the reader thread: replays `replay` (whose first frame, already read, is `first`),
/// classifies frames and sends the served ones to the hub.
pub fn spawn_reader(
    mut replay: FrameReplay,
    first: Option<Frame>,
    shared: Arc<Shared>,
) -> std::io::Result<mpsc::Receiver<Item>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    std::thread::Builder::new()
        .name("sandbox-reader".into())
        .spawn(move || {
            let mut names: HashMap<String, Arc<str>> = HashMap::new();
            let mut handle = |stream: &polyedge_store::StreamId, recv_ns: u64, bytes: &[u8]| {
                let c = &shared.counters;
                bump(&c.frames_read);
                let Some(endpoint) = Endpoint::of_feed(stream.feed) else {
                    bump(&c.frames_not_served);
                    return true;
                };
                let Some(route) = classify(endpoint, bytes) else {
                    bump(&c.control_skipped);
                    return true;
                };
                let updates = if endpoint == Endpoint::Market {
                    updates_of(bytes, recv_ns)
                } else {
                    Vec::new()
                };
                let name = names
                    .entry(stream.name.clone())
                    .or_insert_with(|| Arc::from(stream.name.as_str()))
                    .clone();
                tx.blocking_send(Item {
                    endpoint,
                    stream: name,
                    recv_ns,
                    bytes: Bytes::copy_from_slice(bytes),
                    route,
                    updates,
                })
                .is_ok()
            };
            if let Some(f) = first
                && !handle(&f.stream, f.recv_ns.0, &f.bytes)
            {
                return;
            }
            while let Some(r) = replay.next_frame() {
                match r {
                    Ok(f) => {
                        if !handle(f.stream, f.recv_ns.0, f.bytes) {
                            return;
                        }
                    }
                    Err(e) => {
                        bump(&shared.counters.read_errors);
                        tracing::error!(error = %e, "sandbox: reading the recording; that segment is skipped");
                    }
                }
            }
        })?;
    Ok(rx)
}

/// The hub task's state.
pub struct Hub {
    shared: Arc<Shared>,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    shutdown: watch::Receiver<bool>,
    conns: BTreeMap<u64, ConnState>,
    books: Books,
    windows: Vec<GateWindow>,
    token_window: HashMap<String, usize>,
    next_time_gate: usize,
    needed: BTreeSet<Endpoint>,
    first_sub_at: Option<Instant>,
    /// Max speed: endpoints waiting for a reconnect after an injected drop (dropped conn, deadline).
    reconnect: BTreeMap<Endpoint, (u64, Instant)>,
    last_window_end: u64,
}

impl Hub {
    /// A hub serving `needed` endpoint kinds (those the recordings have frames for).
    pub fn new(
        shared: Arc<Shared>,
        cmds: mpsc::UnboundedReceiver<Cmd>,
        shutdown: watch::Receiver<bool>,
        needed: BTreeSet<Endpoint>,
    ) -> Self {
        let mut windows = Vec::new();
        let mut token_window = HashMap::new();
        for (i, w) in shared.windows.iter().enumerate() {
            let tokens: Vec<String> = [w.up_token, w.down_token]
                .into_iter()
                .flatten()
                .map(|t| t.to_string())
                .collect();
            for t in &tokens {
                token_window.insert(t.clone(), i);
            }
            windows.push(GateWindow {
                slug: w.slug.clone(),
                start: w.start.0,
                tokens,
                opened: false,
            });
        }
        let last_window_end = shared.windows.iter().map(|w| w.end.0).max().unwrap_or(0);
        Hub {
            shared,
            cmds,
            shutdown,
            conns: BTreeMap::new(),
            books: Books::default(),
            windows,
            token_window,
            next_time_gate: 0,
            needed,
            first_sub_at: None,
            reconnect: BTreeMap::new(),
            last_window_end,
        }
    }

    /// Runs until shutdown: start gate, replay, then (after the last frame) keeps answering
    /// subscriptions (resync books) until shutdown.
    pub async fn run(mut self, mut frames: mpsc::Receiver<Item>) {
        let max = self.shared.clock.speed().is_max();
        self.shared.clock.set_gate(Some(Gate::Start));
        let gate_wait = self.shared.gate_wait;
        match self
            .wait(|h| h.first_sub_at.map(|t| t + gate_wait), Hub::start_ready)
            .await
        {
            Waited::Shutdown => return,
            Waited::Timeout => {
                bump(&self.shared.counters.gate_timeouts);
                tracing::info!(
                    "sandbox: start gate passed after --gate-wait; not every endpoint has a subscriber"
                );
            }
            Waited::Ready => {}
        }
        self.shared.clock.set_gate(None);
        self.shared.clock.start();
        tracing::info!("sandbox: clock started");
        loop {
            let item = tokio::select! {
                biased;
                _ = self.shutdown.changed() => return,
                cmd = self.cmds.recv() => {
                    match cmd {
                        Some(c) => self.handle(c).await,
                        None => return,
                    }
                    continue;
                }
                item = frames.recv() => item,
            };
            let Some(item) = item else { break };
            let ok = if max {
                self.gates(&item).await
            } else {
                self.until_due(item.recv_ns).await
            };
            if !ok {
                return;
            }
            self.dispatch(item).await;
        }
        self.shared
            .clock
            .finish(self.last_window_end.saturating_add(1));
        tracing::info!(
            now = %polyedge_core::UnixNanos(self.shared.clock.now()),
            "sandbox: replay finished (every recorded frame handed out)"
        );
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return,
                cmd = self.cmds.recv() => match cmd {
                    Some(c) => self.handle(c).await,
                    None => return,
                },
            }
        }
    }

    fn start_ready(&self) -> bool {
        self.needed.iter().all(|ep| {
            self.conns
                .values()
                .any(|c| c.endpoint == *ep && !c.subs.is_empty())
        })
    }

    /// Processes commands until `ready`, the deadline, or shutdown.
    async fn wait(
        &mut self,
        deadline: impl Fn(&Self) -> Option<Instant>,
        ready: impl Fn(&Self) -> bool,
    ) -> Waited {
        loop {
            if ready(self) {
                return Waited::Ready;
            }
            let dl = deadline(self);
            if dl.is_some_and(|d| Instant::now() >= d) {
                return Waited::Timeout;
            }
            let sleep = async {
                match dl {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return Waited::Shutdown,
                cmd = self.cmds.recv() => match cmd {
                    Some(c) => self.handle(c).await,
                    None => return Waited::Shutdown,
                },
                () = sleep => {}
            }
        }
    }

    /// Factor speeds: waits (handling commands) until `recv_ns` is due. `false` on shutdown.
    async fn until_due(&mut self, recv_ns: u64) -> bool {
        let Some(due) = self.shared.clock.due(recv_ns) else {
            return true;
        };
        !matches!(self.wait(|_| Some(due), |_| false).await, Waited::Shutdown)
    }

    /// Max speed: waits at the reconnect and window gates `item` meets. `false` on shutdown.
    async fn gates(&mut self, item: &Item) -> bool {
        // Drain pending commands first so gates see the latest subscriptions.
        while let Ok(c) = self.cmds.try_recv() {
            self.handle(c).await;
        }
        while let Some((&ep, &(_, deadline))) = self.reconnect.iter().next() {
            self.shared
                .clock
                .set_gate(Some(Gate::Reconnect(ep.label())));
            match self
                .wait(|_| Some(deadline), |h| !h.reconnect.contains_key(&ep))
                .await
            {
                Waited::Shutdown => return false,
                Waited::Timeout => {
                    bump(&self.shared.counters.gate_timeouts);
                    tracing::info!(
                        endpoint = ep.label(),
                        "sandbox: no reconnect within --gate-wait; replay goes on"
                    );
                    self.reconnect.remove(&ep);
                }
                Waited::Ready => {}
            }
            self.shared.clock.set_gate(None);
        }
        while self.next_time_gate < self.windows.len()
            && self.windows[self.next_time_gate].start <= item.recv_ns
        {
            if !self.open_window(self.next_time_gate).await {
                return false;
            }
            self.next_time_gate += 1;
        }
        if let Route::Market { assets, .. } = &item.route {
            let wins: Vec<usize> = assets
                .iter()
                .filter_map(|a| self.token_window.get(a).copied())
                .collect();
            for wi in wins {
                if !self.open_window(wi).await {
                    return false;
                }
            }
        }
        true
    }

    fn market_ready(&self, wi: usize) -> bool {
        let tokens = &self.windows[wi].tokens;
        let mut market = self
            .conns
            .values()
            .filter(|c| c.endpoint == Endpoint::Market)
            .peekable();
        market.peek().is_some() && market.all(|c| c.subs.has_any_asset(tokens))
    }

    /// Holds at window `wi`'s gate until the market clients subscribed to it (or timeout).
    async fn open_window(&mut self, wi: usize) -> bool {
        if self.windows[wi].opened {
            return true;
        }
        if !self.windows[wi].tokens.is_empty() {
            let slug = self.windows[wi].slug.clone();
            self.shared.clock.set_gate(Some(Gate::Window(slug.clone())));
            let deadline = Instant::now() + self.shared.gate_wait;
            match self.wait(|_| Some(deadline), |h| h.market_ready(wi)).await {
                Waited::Shutdown => return false,
                Waited::Timeout => {
                    bump(&self.shared.counters.gate_timeouts);
                    tracing::info!(%slug, "sandbox: window gate passed after --gate-wait (not every market client subscribed)");
                }
                Waited::Ready => {}
            }
            self.shared.clock.set_gate(None);
        }
        self.windows[wi].opened = true;
        true
    }

    async fn dispatch(&mut self, item: Item) {
        self.shared.clock.advance_to(item.recv_ns);
        let out = Out {
            bytes: item.bytes.clone(),
            stream: item.stream.clone(),
            recv_ns: item.recv_ns,
            kind: FrameKind::Recorded,
        };
        let targets: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.endpoint == item.endpoint && c.subs.matches(item.endpoint, &item.route)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in targets {
            self.send(id, out.clone()).await;
        }
        if let Route::Market { books, .. } = &item.route {
            let recorded = books
                .iter()
                .map(|(asset, range)| (asset.clone(), item.bytes.slice(range.clone())));
            self.books
                .apply(&item.updates, recorded, item.recv_ns, &item.stream);
            if !item.updates.is_empty() {
                let now = polyedge_core::UnixNanos(item.recv_ns);
                self.shared.exchange.on_book_updates(&item.updates, now);
            }
        }
        bump(&self.shared.counters.frames_dispatched);
    }

    /// Queues `out` for connection `id` (waits while its queue is full); forgets the connection
    /// if it has gone.
    async fn send(&mut self, id: u64, out: Out) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        let tx = c.tx.clone();
        if tx.send(out).await.is_err() {
            self.conns.remove(&id);
        }
    }

    async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Open { conn, endpoint, tx } => {
                self.conns.insert(
                    conn,
                    ConnState {
                        endpoint,
                        subs: Subs::default(),
                        tx,
                    },
                );
            }
            Cmd::Sub { conn, change } => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let endpoint = c.endpoint;
                let added = c.subs.apply(change);
                if !c.subs.is_empty() {
                    self.first_sub_at.get_or_insert_with(Instant::now);
                    if self
                        .reconnect
                        .get(&endpoint)
                        .is_some_and(|(dropped, _)| conn > *dropped)
                    {
                        self.reconnect.remove(&endpoint);
                    }
                }
                for asset in added {
                    let Some(r) = self.books.resync(&asset) else {
                        continue;
                    };
                    let out = Out {
                        bytes: r.bytes,
                        stream: r.stream,
                        recv_ns: r.recv_ns,
                        kind: FrameKind::Resync,
                    };
                    self.send(conn, out).await;
                }
            }
            Cmd::Closed {
                conn,
                endpoint,
                injected,
            } => {
                self.conns.remove(&conn);
                if injected && self.shared.clock.speed().is_max() {
                    let deadline = Instant::now() + self.shared.gate_wait;
                    self.reconnect.insert(endpoint, (conn, deadline));
                }
            }
        }
    }
}
