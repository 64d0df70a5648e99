//! The session loop against small servers on 127.0.0.1 that the tests start: staleness →
//! gap marker → reconnect → resubscribe; Binance depth: REST snapshot recorded after connect and
//! after a sequence break, with a gap marker for the break.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err,
    missing_docs
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use polyedge_core::{Asset, EventKind};
use polyedge_feeds::binance::{Binance, Market};
use polyedge_feeds::http::Http;
use polyedge_feeds::rtds::Rtds;
use polyedge_feeds::sink::{WriterOptions, spawn_writer};
use polyedge_feeds::stats::StreamStats;
use polyedge_feeds::ws::{Protocol, Runner, SessionOptions};
use polyedge_store::{
    EventReplay, FrameReplay, RecordingMeta, RecordingWriter, ReplayFilter, StreamId,
};
use polyedge_venues::Feed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

fn opts(stale_ms: u64) -> SessionOptions {
    SessionOptions {
        stale: Duration::from_millis(stale_ms),
        max_frame_bytes: 1 << 20,
        validate: true,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
    }
}

/// Runs `protocol` on `stream` into a new recording at `dir` until `done(stats)` or 10 s.
async fn record<P: Protocol>(
    dir: &Path,
    stream: StreamId,
    protocol: P,
    stale_ms: u64,
    done: impl Fn(&StreamStats) -> bool,
) -> Arc<StreamStats> {
    let writer = RecordingWriter::create(dir, RecordingMeta::default()).unwrap();
    let (sink, handle) = spawn_writer(
        writer,
        WriterOptions {
            flush: Duration::from_millis(50),
            fsync: None,
            queue_bytes: 1 << 20,
            clock: std::sync::Arc::new(polyedge_feeds::sink::RecvClock::wall()),
            window_records: false,
            tap: None,
            on_closed: Box::new(|_| {}),
            // No free-space stop: test machines may have little disk (the stop has its own
            // tests in durability.rs, with an injected probe).
            durability: polyedge_feeds::durability::DurabilityOptions {
                min_free_bytes: 0,
                warn_free_bytes: 0,
                ..Default::default()
            },
        },
    )
    .unwrap();
    let stats = Arc::new(StreamStats::default());
    let (tx, rx) = watch::channel(false);
    let runner = Runner {
        stream: Arc::new(stream),
        protocol,
        sink,
        stats: stats.clone(),
        opts: opts(stale_ms),
        http: Http::new(Duration::from_secs(2)).unwrap(),
        commands: None,
        shutdown: rx,
    };
    let task = tokio::spawn(runner.run());
    let t0 = Instant::now();
    while !done(&stats) && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Give in-flight snapshots a moment to be recorded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(true).unwrap();
    task.await.unwrap();
    tokio::task::spawn_blocking(move || handle.join().unwrap())
        .await
        .unwrap();
    stats
}

fn frames(dir: &Path, stream: &str) -> Vec<String> {
    FrameReplay::open_dirs(&[dir], ReplayFilter::default())
        .unwrap()
        .map(Result::unwrap)
        .filter(|f| f.stream.name == stream)
        .map(|f| String::from_utf8(f.bytes).unwrap())
        .collect()
}

fn gap_reasons(dir: &Path) -> Vec<(String, String)> {
    EventReplay::open_dirs(&[dir], ReplayFilter::default())
        .unwrap()
        .filter_map(|e| match e.unwrap().kind {
            EventKind::Gap(g) => Some((g.stream, g.reason)),
            _ => None,
        })
        .collect()
}

fn rtds_frame(i: u64) -> String {
    format!(
        r#"{{"topic":"crypto_prices","type":"update","timestamp":{i},"payload":{{"symbol":"btcusdt","timestamp":{i},"value":1.5,"full_accuracy_value":"{i}.5"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_connection_is_gap_marked_and_resubscribed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut subs = Vec::new();
        for conn in 0..2u64 {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let Some(Ok(Message::Text(sub))) = ws.next().await else {
                panic!("no subscription")
            };
            subs.push(sub.to_string());
            for i in 0..3 {
                ws.send(Message::text(rtds_frame(conn * 10 + i)))
                    .await
                    .unwrap();
            }
            // The first connection goes silent (no close): the client must notice and reconnect.
            // The second stays open until the client leaves.
            tokio::spawn(async move {
                if conn == 0 {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                } else {
                    while let Some(Ok(_)) = ws.next().await {}
                }
                drop(ws);
            });
        }
        subs
    });
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let rtds = Rtds::new(
        &format!("ws://{addr}/rtds"),
        &["crypto_prices".into()],
        &[Asset::Btc],
        None,
    );
    let stats = record(&rec, StreamId::of(Feed::Rtds), rtds, 300, |s| {
        s.frames.load(Ordering::Relaxed) >= 6
    })
    .await;
    assert_eq!(stats.stale.load(Ordering::Relaxed), 1);
    assert_eq!(stats.connects.load(Ordering::Relaxed), 2);
    let subs = server.await.unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        subs[0], subs[1],
        "the same subscription is sent again after the reconnect"
    );
    let got = frames(&rec, "rtds");
    let want: Vec<String> = [0, 1, 2, 10, 11, 12].into_iter().map(rtds_frame).collect();
    assert_eq!(got, want);
    let gaps = gap_reasons(&rec);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].0, "rtds");
    assert!(
        gaps[0].1.starts_with("stale: no frame for 0.3 s"),
        "{gaps:?}"
    );
    // The gap lies between the two connections' frames.
    let evs: Vec<EventKind> = EventReplay::open_dirs(&[&rec], ReplayFilter::default())
        .unwrap()
        .map(|e| e.unwrap().kind)
        .collect();
    let gap_at = evs
        .iter()
        .position(|k| matches!(k, EventKind::Gap(_)))
        .unwrap();
    assert_eq!(gap_at, 3, "three ticks, the gap, three ticks");
}

/// Answers every HTTP request on `listener` with `bodies[i]` (the last one repeated).
async fn http_server(listener: TcpListener, bodies: Vec<&'static str>) {
    let mut i = 0;
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        let mut buf = vec![0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let body = bodies[i.min(bodies.len() - 1)];
        i += 1;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tcp.write_all(resp.as_bytes()).await;
        let _ = tcp.shutdown().await;
    }
}

fn diff(first: u64, last: u64) -> String {
    format!(
        r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1776081600000,"s":"BTCUSDT","U":{first},"u":{last},"b":[["100.0","1.0"]],"a":[]}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_depth_gets_snapshots_and_sequence_breaks_are_marked() {
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_addr = ws_listener.local_addr().unwrap();
    let http_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http_listener.local_addr().unwrap();
    tokio::spawn(http_server(
        http_listener,
        vec![
            r#"{"lastUpdateId":11,"bids":[["99.0","2.0"]],"asks":[["101.0","3.0"]]}"#,
            r#"{"lastUpdateId":21,"bids":[["99.5","2.0"]],"asks":[["101.5","3.0"]]}"#,
        ],
    ));
    let (path_tx, path_rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let (tcp, _) = ws_listener.accept().await.unwrap();
        let mut path_tx = Some(path_tx);
        let cb =
            |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
             resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                if let Some(tx) = path_tx.take() {
                    let _ = tx.send(req.uri().to_string());
                }
                Ok(resp)
            };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, cb).await.unwrap();
        for (a, b) in [(10, 12), (13, 15), (20, 22), (23, 24)] {
            ws.send(Message::text(diff(a, b))).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let b = Binance::new(
        Market::Spot,
        &format!("ws://{ws_addr}"),
        &format!("http://{http_addr}"),
        &["btcusdt".into()],
        &["depth@100ms".into()],
        true,
    );
    let stats = record(&rec, StreamId::of(Feed::BinanceSpot), b, 5000, |s| {
        s.frames.load(Ordering::Relaxed) >= 4 && s.resyncs.load(Ordering::Relaxed) >= 2
    })
    .await;
    assert_eq!(
        path_rx.await.unwrap(),
        "/stream?streams=btcusdt@depth@100ms"
    );
    assert_eq!(stats.resyncs.load(Ordering::Relaxed), 2);
    assert_eq!(frames(&rec, "binance-spot").len(), 4);
    let control = frames(&rec, "control");
    let rest: Vec<&String> = control
        .iter()
        .filter(|c| c.contains(r#""type":"rest""#))
        .collect();
    assert_eq!(rest.len(), 2, "{control:?}");
    assert!(
        rest[0].contains(r#""body":{"lastUpdateId":11,"#),
        "body embedded verbatim: {}",
        rest[0]
    );
    let gaps = gap_reasons(&rec);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].0, "binance-spot");
    assert!(gaps[0].1.contains("sequence break"), "{gaps:?}");
    // Replay turns the recorded REST bodies into depth snapshots of BTCUSDT.
    let snaps = EventReplay::open_dirs(&[&rec], ReplayFilter::default())
        .unwrap()
        .filter(|e| {
            matches!(&e.as_ref().unwrap().kind, EventKind::SpotDepth(d) if d.is_snapshot
                && d.symbol.as_ref().is_some_and(|s| s.as_str() == "BTCUSDT"))
        })
        .count();
    assert_eq!(snaps, 2);
}
