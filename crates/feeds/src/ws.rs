//! The WebSocket session loop shared by every feed.
//!
//! A [`Runner`] owns one logical connection of one stream and runs until shutdown:
//!
//! 1. wait until the [`Protocol`] has something to subscribe ([`Protocol::url`]);
//! 2. connect (timeout), send the protocol's subscription messages, start its REST snapshots;
//! 3. read frames: each data frame is stamped with the wall-clock receive time right away,
//!    checked against `max_frame_bytes`, optionally parsed with the venue parser (malformed /
//!    unknown / venue-error frames are counted and logged with the stream name, and still
//!    recorded raw), shown to the protocol (Binance sequence checks, Deribit heartbeats), and
//!    queued on the [`Sink`];
//! 4. send the protocol's text heartbeat on its interval; WebSocket pings are answered by
//!    tungstenite;
//! 5. the session ends on a read error, a close, or staleness (no frame for `stale`); a **gap
//!    marker** naming the reason is recorded; the runner sleeps an exponential backoff with
//!    jitter ([`backon`]) and goes back to 2, resubscribing the protocol's current state. After a
//!    reconnect the venues send fresh snapshots (Polymarket `book`) or the protocol fetches them
//!    (Binance REST depth), so books resync before deltas.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::BackoffBuilder;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use polyedge_core::{MarketEvent, UnixNanos};
use polyedge_store::StreamId;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::http::Http;
use crate::sink::{Sink, SinkClosed};
use crate::stats::{StreamStats, should_log};

/// A change of what a running feed is subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Add these ids (Polymarket token ids).
    Subscribe(Vec<String>),
    /// Remove these ids.
    Unsubscribe(Vec<String>),
}

/// A REST snapshot to fetch and record on the control stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRequest {
    /// Symbol as the venue's REST API spells it (`BTCUSDT`).
    pub symbol: String,
    /// The URL.
    pub url: String,
    /// Venue tag of the control record (`binance-spot`, `binance-usdm`).
    pub venue: &'static str,
    /// Endpoint tag of the control record (`depth`).
    pub endpoint: &'static str,
}

/// What a protocol asks the runner to do after seeing a frame or a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this text frame.
    Send(String),
    /// Record a gap marker with this reason (at the frame's receive time).
    Gap(String),
    /// Fetch and record this snapshot.
    Snapshot(SnapshotRequest),
    /// Drop the connection (the reason is recorded as a gap) and reconnect.
    Reconnect(String),
}

/// What a venue adds to the generic loop.
pub trait Protocol: Send + Sync + 'static {
    /// URL to connect to; `None` while there is nothing to subscribe (the runner waits for a
    /// [`Command`]).
    fn url(&self) -> Option<String>;
    /// Text frames to send right after connecting: the subscription for the current state.
    fn on_connect(&mut self) -> Vec<String>;
    /// Applies a subscription change; returns the frames to send if connected.
    fn on_command(&mut self, _cmd: Command) -> Vec<String> {
        Vec::new()
    }
    /// Text heartbeat and its interval, if the venue wants one.
    fn ping(&self) -> Option<(Duration, String)> {
        None
    }
    /// REST snapshots to fetch after each connect.
    fn snapshots_on_connect(&mut self) -> Vec<SnapshotRequest> {
        Vec::new()
    }
    /// `true` if [`on_frame`](Self::on_frame) needs parsed events even when validation is off.
    fn needs_events(&self) -> bool {
        false
    }
    /// Sees every data frame and its parsed events (empty when not parsed or malformed).
    fn on_frame(&mut self, _frame: &[u8], _events: &[MarketEvent], _out: &mut Vec<Action>) {}
    /// Sees a fetched snapshot body (already recorded).
    fn on_snapshot(&mut self, _req: &SnapshotRequest, _body: &[u8], _out: &mut Vec<Action>) {}
}

/// Connection settings of a runner.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// No frame for this long = stale (session ends, gap recorded).
    pub stale: Duration,
    /// Frames above this are oversize: counted, logged, not recorded, gap recorded.
    pub max_frame_bytes: usize,
    /// Parse frames on receipt (counters, lag).
    pub validate: bool,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// Timeout of the TCP/TLS/WebSocket handshake.
    pub connect_timeout: Duration,
}

/// The WebSocket library's own size cap: far above `max_frame_bytes` so that oversize frames
/// reach our counter instead of killing the connection.
fn ws_config(max_frame_bytes: usize) -> WebSocketConfig {
    let hard = max_frame_bytes
        .saturating_mul(4)
        .max(polyedge_store::segment::MAX_RECORD_LEN);
    WebSocketConfig::default()
        .max_message_size(Some(hard))
        .max_frame_size(Some(hard))
}

/// A fresh exponential backoff with full jitter: `min`, ×2 per attempt, capped at `max`, endless.
pub fn backoff(min: Duration, max: Duration) -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

enum End {
    Shutdown,
    SinkClosed,
    Lost(String),
}

/// Runs one stream's connection until shutdown. See the [module docs](self).
pub struct Runner<P: Protocol> {
    /// The stream frames are recorded on.
    pub stream: Arc<StreamId>,
    /// The venue specifics.
    pub protocol: P,
    /// Where frames go.
    pub sink: Sink,
    /// This stream's counters.
    pub stats: Arc<StreamStats>,
    /// Settings.
    pub opts: SessionOptions,
    /// HTTP client for REST snapshots.
    pub http: Http,
    /// Subscription changes (Polymarket), if any.
    pub commands: Option<mpsc::UnboundedReceiver<Command>>,
    /// Becomes `true` to stop.
    pub shutdown: watch::Receiver<bool>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_command(c: &mut Option<mpsc::UnboundedReceiver<Command>>) -> Option<Command> {
    match c {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<P: Protocol> Runner<P> {
    fn name(&self) -> &str {
        &self.stream.name
    }

    /// Runs until shutdown or until the sink closes.
    pub async fn run(mut self) {
        let mut delays = backoff(self.opts.backoff_min, self.opts.backoff_max);
        let mut failures: u64 = 0;
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let Some(url) = self.protocol.url() else {
                tokio::select! {
                    cmd = next_command(&mut self.commands) => match cmd {
                        Some(c) => { self.protocol.on_command(c); }
                        None => self.commands = None,
                    },
                    _ = self.shutdown.changed() => return,
                }
                continue;
            };
            let connect = tokio_tungstenite::connect_async_with_config(
                url.as_str(),
                Some(ws_config(self.opts.max_frame_bytes)),
                true,
            );
            let res = tokio::select! {
                r = timeout(self.opts.connect_timeout, connect) => r,
                _ = self.shutdown.changed() => return,
            };
            match res {
                Ok(Ok((ws, _resp))) => {
                    failures = 0;
                    delays = backoff(self.opts.backoff_min, self.opts.backoff_max);
                    self.stats.connects.fetch_add(1, Ordering::Relaxed);
                    self.stats.connected.store(true, Ordering::Relaxed);
                    tracing::info!(stream = self.name(), url = %url, "connected");
                    let end = self.session(ws, &url).await;
                    self.stats.connected.store(false, Ordering::Relaxed);
                    match end {
                        End::Shutdown | End::SinkClosed => return,
                        End::Lost(reason) => {
                            tracing::warn!(stream = self.name(), %reason, "continuity lost; reconnecting");
                            if self.record_gap(&reason, None).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Ok(Err(e)) => {
                    failures += 1;
                    self.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                    if should_log(failures) {
                        tracing::warn!(stream = self.name(), url = %url, attempt = failures, error = %e, "connect failed");
                    }
                }
                Err(_) => {
                    failures += 1;
                    self.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                    if should_log(failures) {
                        tracing::warn!(stream = self.name(), url = %url, attempt = failures, "connect timed out");
                    }
                }
            }
            let delay = delays.next().unwrap_or(self.opts.backoff_max);
            let until = Instant::now() + delay;
            loop {
                tokio::select! {
                    () = sleep_until(until) => break,
                    cmd = next_command(&mut self.commands) => match cmd {
                        Some(c) => { self.protocol.on_command(c); }
                        None => self.commands = None,
                    },
                    _ = self.shutdown.changed() => return,
                }
            }
        }
    }

    async fn record_gap(&self, reason: &str, at: Option<UnixNanos>) -> Result<(), SinkClosed> {
        self.stats.gaps.fetch_add(1, Ordering::Relaxed);
        let rec = serde_json::json!({"type": "gap", "stream": self.name(), "reason": reason});
        match at {
            None => self.sink.control(&rec).await.map(|_| ()),
            Some(t) => self.sink.control_at(&rec, t).await,
        }
    }

    async fn session(&mut self, mut ws: Ws, url: &str) -> End {
        let subs = self.protocol.on_connect();
        let rec =
            serde_json::json!({"type": "connect", "stream": self.name(), "url": url, "sent": subs});
        if self.sink.control(&rec).await.is_err() {
            return End::SinkClosed;
        }
        for m in subs {
            if let Err(e) = ws.send(Message::text(m)).await {
                return End::Lost(format!("send failed: {e}"));
            }
        }
        let (snap_tx, mut snap_rx) =
            mpsc::unbounded_channel::<(SnapshotRequest, Result<Bytes, String>, UnixNanos)>();
        for req in self.protocol.snapshots_on_connect() {
            self.spawn_snapshot(req, &snap_tx);
        }
        let ping = self.protocol.ping();
        let mut ping_tick = ping.as_ref().map(|(every, _)| {
            let mut t = tokio::time::interval_at(Instant::now() + *every, *every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut deadline = Instant::now() + self.opts.stale;
        let mut events: Vec<MarketEvent> = Vec::with_capacity(64);
        let mut actions: Vec<Action> = Vec::new();
        let parse = self.opts.validate || self.protocol.needs_events();
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => {
                    let _ = ws.close(None).await;
                    return End::Shutdown;
                }
                cmd = next_command(&mut self.commands) => match cmd {
                    Some(c) => {
                        for m in self.protocol.on_command(c) {
                            if let Err(e) = ws.send(Message::text(m)).await {
                                return End::Lost(format!("send failed: {e}"));
                            }
                        }
                    }
                    None => self.commands = None,
                },
                Some((req, body, t)) = snap_rx.recv() => {
                    match body {
                        Ok(body) => {
                            let rec = control_rest(self.name(), &req, &body);
                            if self.sink.frame(self.sink.control_stream(), t, rec).await.is_err() {
                                return End::SinkClosed;
                            }
                            self.stats.resyncs.fetch_add(1, Ordering::Relaxed);
                            self.protocol.on_snapshot(&req, &body, &mut actions);
                        }
                        Err(e) => {
                            tracing::warn!(stream = self.name(), url = %req.url, error = %e, "REST snapshot failed; retrying in 1 s");
                            let tx = snap_tx.clone();
                            let http = self.http.clone();
                            let clock = self.sink.clock().clone();
                            tokio::spawn(async move {
                                sleep(Duration::from_secs(1)).await;
                                fetch_snapshot(http, clock, req, tx).await;
                            });
                        }
                    }
                    if let Some(end) = self.do_actions(&mut ws, &mut actions, None, &snap_tx).await {
                        return end;
                    }
                }
                () = async { match ping_tick.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending().await } } => {
                    if let Some((_, text)) = &ping
                        && let Err(e) = ws.send(Message::text(text.clone())).await {
                        return End::Lost(format!("ping send failed: {e}"));
                    }
                }
                () = sleep_until(deadline) => {
                    self.stats.stale.fetch_add(1, Ordering::Relaxed);
                    let _ = ws.close(None).await;
                    return End::Lost(format!("stale: no frame for {:.1} s", self.opts.stale.as_secs_f64()));
                }
                msg = ws.next() => {
                    let recv_ns = self.sink.clock().stamp_frame();
                    deadline = Instant::now() + self.opts.stale;
                    let bytes = match msg {
                        Some(Ok(Message::Text(t))) => Bytes::from(t),
                        Some(Ok(Message::Binary(b))) => b,
                        Some(Ok(Message::Ping(p))) => {
                            // A sandbox announces the sandbox time of the next frame this way.
                            self.sink.clock().observe_ping(&p);
                            continue;
                        }
                        Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
                        Some(Ok(Message::Close(f))) => {
                            return End::Lost(match f {
                                Some(f) => format!("closed by server: {} {}", f.code, f.reason),
                                None => "closed by server".into(),
                            });
                        }
                        Some(Err(e)) => return End::Lost(format!("read error: {e}")),
                        None => return End::Lost("connection ended".into()),
                    };
                    if bytes.len() > self.opts.max_frame_bytes {
                        let n = self.stats.oversize.fetch_add(1, Ordering::Relaxed) + 1;
                        if should_log(n) {
                            tracing::warn!(stream = self.name(), bytes = bytes.len(), limit = self.opts.max_frame_bytes, count = n, "oversize frame not recorded");
                        }
                        let reason = format!("oversize frame of {} bytes not recorded (limit {})", bytes.len(), self.opts.max_frame_bytes);
                        if self.record_gap(&reason, Some(recv_ns)).await.is_err() {
                            return End::SinkClosed;
                        }
                        continue;
                    }
                    events.clear();
                    if parse {
                        let unknown_before = polyedge_venues::unknown::skipped();
                        let res = self.stream.feed.parse(&bytes, recv_ns, &mut events);
                        // Same thread (no await in between): this frame's unknown elements.
                        let unknown = polyedge_venues::unknown::skipped() - unknown_before;
                        if unknown > 0 {
                            let n = self.stats.unknown.fetch_add(unknown, Ordering::Relaxed) + unknown;
                            if should_log(n) {
                                tracing::warn!(stream = self.name(), count = n, last = %polyedge_venues::unknown::last(), "element of an unknown kind skipped (frame recorded raw; its known events kept)");
                            }
                        }
                        match res {
                            Ok(_) => {
                                if let Some(v) = events.iter().filter_map(|e| e.venue_ns).max() {
                                    self.stats.lag(recv_ns.0.saturating_sub(v.0) / 1_000_000);
                                }
                            }
                            Err(e) => {
                                let (kind, n) = self.stats.count_parse_error(&e);
                                if should_log(n) {
                                    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
                                    tracing::warn!(stream = self.name(), kind, count = n, error = %e, frame = %head, "frame not understood (recorded raw)");
                                }
                            }
                        }
                    }
                    self.protocol.on_frame(&bytes, &events, &mut actions);
                    let len = bytes.len() as u64;
                    if self.sink.frame(&self.stream, recv_ns, bytes).await.is_err() {
                        return End::SinkClosed;
                    }
                    self.stats.frames.fetch_add(1, Ordering::Relaxed);
                    self.stats.bytes.fetch_add(len, Ordering::Relaxed);
                    if !actions.is_empty()
                        && let Some(end) = self.do_actions(&mut ws, &mut actions, Some(recv_ns), &snap_tx).await {
                        return end;
                    }
                }
            }
        }
    }

    fn spawn_snapshot(
        &self,
        req: SnapshotRequest,
        tx: &mpsc::UnboundedSender<(SnapshotRequest, Result<Bytes, String>, UnixNanos)>,
    ) {
        tokio::spawn(fetch_snapshot(
            self.http.clone(),
            self.sink.clock().clone(),
            req,
            tx.clone(),
        ));
    }

    async fn do_actions(
        &mut self,
        ws: &mut Ws,
        actions: &mut Vec<Action>,
        at: Option<UnixNanos>,
        snap_tx: &mpsc::UnboundedSender<(SnapshotRequest, Result<Bytes, String>, UnixNanos)>,
    ) -> Option<End> {
        for a in std::mem::take(actions) {
            match a {
                Action::Send(m) => {
                    if let Err(e) = ws.send(Message::text(m)).await {
                        return Some(End::Lost(format!("send failed: {e}")));
                    }
                }
                Action::Gap(reason) => {
                    tracing::warn!(stream = self.name(), %reason, "continuity lost");
                    if self.record_gap(&reason, at).await.is_err() {
                        return Some(End::SinkClosed);
                    }
                }
                Action::Snapshot(req) => self.spawn_snapshot(req, snap_tx),
                Action::Reconnect(reason) => {
                    let _ = ws.close(None).await;
                    return Some(End::Lost(reason));
                }
            }
        }
        None
    }
}

async fn fetch_snapshot(
    http: Http,
    clock: Arc<crate::sink::RecvClock>,
    req: SnapshotRequest,
    tx: mpsc::UnboundedSender<(SnapshotRequest, Result<Bytes, String>, UnixNanos)>,
) {
    let res = http.get_ok(&req.url).await.map_err(|e| e.to_string());
    let t = clock.now();
    let _ = tx.send((req, res, t));
}

/// The control record of a REST snapshot: `{"type":"rest","stream","venue","endpoint","symbol","url","body"}`.
pub fn control_rest(stream: &str, req: &SnapshotRequest, body: &[u8]) -> Bytes {
    let head = serde_json::json!({
        "type": "rest", "stream": stream, "venue": req.venue, "endpoint": req.endpoint,
        "symbol": req.symbol, "url": req.url,
    });
    embed_body(&head, body)
}

/// `head` (a JSON object) with a `body` field holding `body` verbatim when it is JSON, or as a
/// JSON string otherwise.
pub fn embed_body(head: &serde_json::Value, body: &[u8]) -> Bytes {
    let mut out = serde_json::to_vec(head).unwrap_or_default();
    if out.last() != Some(&b'}') {
        return Bytes::from(out);
    }
    out.pop();
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"body\":");
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        out.extend_from_slice(body);
    } else {
        let s = serde_json::to_vec(&String::from_utf8_lossy(body)).unwrap_or_default();
        out.extend_from_slice(&s);
    }
    out.push(b'}');
    Bytes::from(out)
}
