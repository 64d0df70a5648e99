//! One WebSocket connection: answers the client's requests, writes the frames the hub queues for
//! it, logs every data frame written, and injects this connection's faults
//! (`docs/sandbox.md` §5, §7).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::Shared;
use crate::client_msg::react;
use crate::hub::{CONN_QUEUE, Cmd, Out};
use crate::inject::{malformed_frame, oversize_frame};
use crate::route::{Endpoint, normalize_binance_stream};
use crate::served_log::{FrameLine, kind_name, sha256_hex};
use crate::stats::{FrameKind, bump};
use crate::subs::SubChange;

/// Wall-clock period of the Binance server pings.
const BINANCE_PING: Duration = Duration::from_secs(20);
/// Frames a stalled connection holds at factor speeds before it is closed as overflowing.
const STALL_BUFFER: usize = 100_000;

/// Who the connection is.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Connection number.
    pub conn: u64,
    /// Endpoint kind.
    pub endpoint: Endpoint,
    /// Request path without query.
    pub path: String,
    /// Binance streams named in the URL.
    pub initial_streams: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    DropEvery,
    ClientClosed,
    Error,
    Overflow,
    Shutdown,
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::DropEvery => "drop-every",
            End::ClientClosed => "client-closed",
            End::Error => "error",
            End::Overflow => "overflow",
            End::Shutdown => "shutdown",
        }
    }
}

struct Conn {
    info: ConnInfo,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    faults_apply: bool,
    seq: u64,
    data_written: u64,
    recorded_written: u64,
    rng: StdRng,
    binance_streams: BTreeSet<String>,
    pending: VecDeque<Out>,
    overflow: bool,
}

/// Serves one upgraded connection until it ends.
pub async fn run<S>(mut ws: WebSocketStream<S>, info: ConnInfo, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let t = &shared.faults.targets;
    let faults_apply = match info.endpoint {
        Endpoint::Market => t.market,
        Endpoint::Rtds => t.rtds,
        Endpoint::BinanceSpot | Endpoint::BinanceUsdm => t.binance,
    };
    let mut c = Conn {
        rng: StdRng::seed_from_u64(shared.faults.seed ^ info.conn),
        shutdown: shared.shutdown.clone(),
        faults_apply,
        seq: 0,
        data_written: 0,
        recorded_written: 0,
        binance_streams: BTreeSet::new(),
        pending: VecDeque::new(),
        overflow: false,
        info,
        shared,
    };
    let end = c.serve(&mut ws).await;
    if end != End::DropEvery {
        c.closed(false);
    }
    if matches!(end, End::Shutdown | End::Overflow) {
        close_ws(&mut ws, "sandbox closing").await;
    }
    c.shared
        .log
        .event(c.info.conn, &c.info.path, "drop", Some(end.name()));
    c.shared
        .counters
        .connections_open
        .fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(conn = c.info.conn, path = %c.info.path, reason = end.name(), "sandbox: connection ended");
}

async fn close_ws<S>(ws: &mut WebSocketStream<S>, why: &'static str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Away,
        reason: Utf8Bytes::from_static(why),
    };
    if ws.close(Some(frame)).await.is_ok() {
        // Let the client answer the close so it reads everything sent before it.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

enum Flow {
    Go,
    End(End),
}

impl Conn {
    fn hub(&self, cmd: Cmd) {
        let _ = self.shared.hub.send(cmd);
    }

    fn closed(&self, injected: bool) {
        self.hub(Cmd::Closed {
            conn: self.info.conn,
            endpoint: self.info.endpoint,
            injected,
        });
    }

    fn feed_name(&self) -> &'static str {
        self.info.endpoint.feed().name()
    }

    async fn serve<S>(&mut self, ws: &mut WebSocketStream<S>) -> End
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (tx, mut rx) = mpsc::channel(CONN_QUEUE);
        self.hub(Cmd::Open {
            conn: self.info.conn,
            endpoint: self.info.endpoint,
            tx,
        });
        self.shared
            .log
            .event(self.info.conn, &self.info.path, "open", None);
        if !self.info.initial_streams.is_empty() {
            let streams = self.info.initial_streams.clone();
            self.binance_streams
                .extend(streams.iter().map(|s| normalize_binance_stream(s)));
            self.hub(Cmd::Sub {
                conn: self.info.conn,
                change: SubChange::BinanceAdd(streams),
            });
        }
        let mut ping = self
            .info
            .endpoint
            .is_binance()
            .then(|| tokio::time::interval_at(Instant::now() + BINANCE_PING, BINANCE_PING));
        loop {
            if *self.shutdown.borrow() {
                return End::Shutdown;
            }
            if self.overflow {
                return End::Overflow;
            }
            if let Some(out) = self.pending.pop_front() {
                if let Flow::End(e) = self.write_item(ws, out, &mut rx).await {
                    return e;
                }
                continue;
            }
            let tick = async {
                match ping.as_mut() {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Shutdown,
                msg = ws.next() => match msg {
                    None | Some(Ok(Message::Close(_))) => return End::ClientClosed,
                    Some(Err(e)) => {
                        tracing::debug!(conn = self.info.conn, error = %e, "sandbox: read error");
                        return End::Error;
                    }
                    Some(Ok(Message::Text(t))) => {
                        if let Flow::End(e) = self.on_text(ws, t.as_str()).await {
                            return e;
                        }
                    }
                    Some(Ok(_)) => {}
                },
                out = rx.recv() => match out {
                    None => return End::Shutdown,
                    Some(out) => {
                        if let Flow::End(e) = self.write_item(ws, out, &mut rx).await {
                            return e;
                        }
                    }
                },
                () = tick => {
                    if ws.send(Message::Ping(Bytes::new())).await.is_err() {
                        return End::Error;
                    }
                }
            }
        }
    }

    async fn on_text<S>(&mut self, ws: &mut WebSocketStream<S>, text: &str) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let r = react(self.info.endpoint, text, &mut self.binance_streams);
        if let Some(why) = r.ignored {
            let shown: String = text.chars().take(200).collect();
            tracing::warn!(conn = self.info.conn, path = %self.info.path, message = %shown, "sandbox: client message ignored: {why}");
        }
        for change in r.changes {
            self.hub(Cmd::Sub {
                conn: self.info.conn,
                change,
            });
        }
        if let Some((reply, kind)) = r.reply {
            let now = self.shared.clock.now();
            let stream = self.feed_name();
            if self
                .write(ws, Bytes::from(reply), kind, stream, now)
                .await
                .is_err()
            {
                return Flow::End(End::Error);
            }
        }
        Flow::Go
    }

    /// Writes one data or reply frame and logs it.
    async fn write<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        bytes: Bytes,
        kind: FrameKind,
        stream: &str,
        recv_ns: u64,
    ) -> Result<(), ()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let len = bytes.len();
        let sha = self.shared.log.enabled().then(|| sha256_hex(&bytes));
        let msg = match Utf8Bytes::try_from(bytes.clone()) {
            Ok(t) => Message::Text(t),
            Err(_) => Message::Binary(bytes),
        };
        // The sandbox time of this frame, announced in-band just before it (a WebSocket Ping
        // that clients answer with a Pong and otherwise ignore; followers stamp the frame with
        // it: docs/sandbox.md §3).
        let ping = Message::Ping(Bytes::from(polyedge_core::clock::clock_ping_payload(
            polyedge_core::UnixNanos(recv_ns),
        )));
        if let Err(e) = ws.feed(ping).await {
            tracing::debug!(conn = self.info.conn, error = %e, "sandbox: write failed");
            return Err(());
        }
        if let Err(e) = ws.send(msg).await {
            tracing::debug!(conn = self.info.conn, error = %e, "sandbox: write failed");
            return Err(());
        }
        self.shared.counters.written(kind);
        if let Some(sha) = sha {
            self.shared.log.frame(&FrameLine {
                conn: self.info.conn,
                path: self.info.path.clone(),
                stream: stream.to_owned(),
                recv_ns,
                seq: self.seq,
                len,
                sha,
                kind: kind_name(kind).to_owned(),
                clock_ns: self.shared.clock.now(),
            });
        }
        self.seq += 1;
        if kind.is_data() {
            self.data_written += 1;
        }
        Ok(())
    }

    /// Writes a queued frame with the faults around it.
    async fn write_item<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        out: Out,
        rx: &mut mpsc::Receiver<Out>,
    ) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let faults = &self.shared.faults;
        let rate = faults.malformed_rate;
        if out.kind == FrameKind::Recorded
            && self.faults_apply
            && rate > 0.0
            && self.rng.gen_bool(rate)
        {
            let now = self.shared.clock.now();
            let bad = malformed_frame(self.info.endpoint, &mut self.rng, &out.bytes, now);
            bump(&self.shared.counters.malformed_injected);
            let stream = self.feed_name();
            if self
                .write(ws, bad, FrameKind::Malformed, stream, now)
                .await
                .is_err()
            {
                return Flow::End(End::Error);
            }
            if let Flow::End(e) = self.after_data(ws, rx).await {
                return Flow::End(e);
            }
        }
        let kind = out.kind;
        if self
            .write(ws, out.bytes, kind, &out.stream, out.recv_ns)
            .await
            .is_err()
        {
            return Flow::End(End::Error);
        }
        if let Flow::End(e) = self.after_data(ws, rx).await {
            return Flow::End(e);
        }
        self.recorded_written += 1;
        if let Some(n) = self.shared.faults.oversize_every
            && self.faults_apply
            && self.recorded_written.is_multiple_of(n)
        {
            let big = oversize_frame(self.shared.faults.oversize_bytes);
            bump(&self.shared.counters.oversize_injected);
            let now = self.shared.clock.now();
            let stream = self.feed_name();
            if self
                .write(ws, big, FrameKind::Oversize, stream, now)
                .await
                .is_err()
            {
                return Flow::End(End::Error);
            }
            if let Flow::End(e) = self.after_data(ws, rx).await {
                return Flow::End(e);
            }
        }
        Flow::Go
    }

    /// After a data frame: drop or stall if due.
    async fn after_data<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        rx: &mut mpsc::Receiver<Out>,
    ) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if !self.faults_apply {
            return Flow::Go;
        }
        let f = &self.shared.faults;
        if let Some(n) = f.drop_every
            && self.data_written.is_multiple_of(n)
        {
            bump(&self.shared.counters.drops_injected);
            // Tell the hub first, so that at max speed it holds for the reconnect.
            self.closed(true);
            close_ws(ws, "sandbox drop-every").await;
            return Flow::End(End::DropEvery);
        }
        if let Some(d) = f.stall
            && self.data_written.is_multiple_of(f.stall_every)
        {
            bump(&self.shared.counters.stalls_injected);
            self.stall(d, rx).await;
        }
        Flow::Go
    }

    /// Neither reads nor writes for `d`. At factor speeds frames queued meanwhile are held
    /// (up to [`STALL_BUFFER`], beyond that the connection is closed as overflowing); at max
    /// speed the queue simply fills and the replay waits.
    async fn stall(&mut self, d: Duration, rx: &mut mpsc::Receiver<Out>) {
        let until = Instant::now() + d;
        let mut shutdown = self.shutdown.clone();
        if self.shared.clock.speed().is_max() {
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                _ = shutdown.changed() => {}
            }
            return;
        }
        loop {
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(until) => return,
                _ = shutdown.changed() => return,
                o = rx.recv() => match o {
                    Some(o) if self.pending.len() < STALL_BUFFER => self.pending.push_back(o),
                    Some(_) => self.overflow = true,
                    None => return,
                },
            }
        }
    }
}
