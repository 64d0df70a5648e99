//! The sandbox over real sockets: every test starts its own sandbox on 127.0.0.1 over the
//! bundled cronos sample (10 BTC 5-minute windows, `data/sample`) and talks to it with
//! tokio-tungstenite and a hyper HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use polyedge_core::{UnixNanos, Window};
use polyedge_sandbox::{EventLine, Faults, FrameLine, Sandbox, SandboxConfig, Speed, sha256_hex};
use polyedge_store::import::{self, ImportKind};
use polyedge_store::{FrameReplay, NoProgress, Recording, ReplayFilter};
use polyedge_venues::Feed;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const KLINES: &str = "/binance-usdm/ws/btcusdt@kline_1m";

/// The bundled sample imported once per test binary.
fn sample() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("sandbox-sample-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
        let kind: ImportKind = "cronos".parse().expect("kind");
        import::import(kind, &src, &out, &NoProgress).expect("import the bundled sample");
        out
    })
}

fn windows() -> Vec<Window> {
    Recording::open(sample()).expect("open").windows().to_vec()
}

/// One recorded frame as the tests compare it.
#[derive(Debug, Clone)]
struct Rec {
    recv_ns: u64,
    sha: String,
    asset: Option<String>,
}

#[derive(Deserialize)]
struct AssetOf {
    asset_id: Option<String>,
}

/// Every frame of `stream` in replay order, within `filter`'s time range.
fn recorded(stream: &str, filter: &ReplayFilter) -> Vec<Rec> {
    let mut replay = FrameReplay::open_dirs(&[sample()], filter.clone()).expect("replay");
    let mut out = Vec::new();
    while let Some(f) = replay.next_frame() {
        let f = f.expect("frame");
        if f.stream.name != stream {
            continue;
        }
        let asset = serde_json::from_slice::<AssetOf>(f.bytes)
            .ok()
            .and_then(|a| a.asset_id);
        out.push(Rec {
            recv_ns: f.recv_ns.0,
            sha: sha256_hex(f.bytes),
            asset,
        });
    }
    out
}

fn all_assets(recs: &[Rec]) -> Vec<String> {
    let set: BTreeSet<&String> = recs.iter().filter_map(|r| r.asset.as_ref()).collect();
    set.into_iter().cloned().collect()
}

fn config(speed: Speed) -> SandboxConfig {
    let mut c = SandboxConfig::new(vec![sample().to_path_buf()], speed);
    c.gate_wait = Duration::from_secs(30);
    c
}

async fn ws(sb: &Sandbox, path: &str) -> Ws {
    let (ws, _) = connect_async(format!("ws://{}{path}", sb.addr()))
        .await
        .expect("connect");
    ws
}

async fn subscribe_market(ws: &mut Ws, assets: &[String]) {
    let msg = json!({"assets_ids": assets, "type": "market", "custom_feature_enabled": true});
    ws.send(Message::text(msg.to_string()))
        .await
        .expect("subscribe");
}

/// The next data frame (text or binary), `None` when the socket closed or after `wait`.
async fn next_data(ws: &mut Ws, wait: Duration) -> Option<Vec<u8>> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.as_bytes().to_vec()),
            Ok(Some(Ok(Message::Binary(b)))) => return Some(b.to_vec()),
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) | Err(_) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn http_get(sb: &Sandbox, path: &str) -> (u16, Value) {
    let stream = TcpStream::connect(sb.addr()).await.expect("tcp");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", sb.addr().to_string())
        .body(Empty::<bytes::Bytes>::new())
        .expect("request");
    let resp = send.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

/// Parsed served log: frame lines by connection (in file order) and event lines.
fn served_log(path: &Path) -> (HashMap<u64, Vec<FrameLine>>, Vec<EventLine>) {
    let text = std::fs::read_to_string(path).expect("served log");
    let mut frames: HashMap<u64, Vec<FrameLine>> = HashMap::new();
    let mut events = Vec::new();
    for line in text.lines() {
        if let Ok(f) = serde_json::from_str::<FrameLine>(line) {
            frames.entry(f.conn).or_default().push(f);
        } else {
            events.push(serde_json::from_str::<EventLine>(line).expect("event line"));
        }
    }
    (frames, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_receive_exactly_the_recorded_frames_in_recorded_order() {
    let market = recorded("polymarket-market", &ReplayFilter::default());
    let klines = recorded("binance-usdm-kline", &ReplayFilter::default());
    assert_eq!(
        (market.len(), klines.len()),
        (33_650, 65),
        "the bundled sample"
    );
    let assets = all_assets(&market);
    let log = tempfile::NamedTempFile::new().expect("tmp");
    let mut cfg = config(Speed::Max);
    cfg.served_log = Some(log.path().to_path_buf());
    let sb = Sandbox::start(cfg).await.expect("start");

    let mut m = ws(&sb, "/ws/market").await;
    subscribe_market(&mut m, &assets).await;
    let mut k = ws(&sb, KLINES).await;
    let kline_task = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(f) = next_data(&mut k, Duration::from_mins(1)).await {
            got.push(sha256_hex(&f));
        }
        got
    });
    let mut got = Vec::new();
    for (i, want) in market.iter().enumerate() {
        let f = next_data(&mut m, Duration::from_mins(1))
            .await
            .unwrap_or_else(|| panic!("market frame {i} of {} missing", market.len()));
        let sha = sha256_hex(&f);
        assert_eq!(
            sha, want.sha,
            "market frame {i} (recv_ns {}) differs",
            want.recv_ns
        );
        got.push(sha);
    }
    tokio::time::timeout(Duration::from_secs(30), sb.wait_finished())
        .await
        .expect("replay finished");
    let status = sb.shutdown().await.expect("shutdown");
    assert!(
        next_data(&mut m, Duration::from_secs(5)).await.is_none(),
        "no frame beyond the recorded ones"
    );
    let kgot = kline_task.await.expect("klines");
    let kwant: Vec<&str> = klines.iter().map(|r| r.sha.as_str()).collect();
    assert_eq!(kgot, kwant, "kline frames, byte-identical, in order");
    assert_eq!(status.written.recorded, 33_650 + 65);
    assert_eq!(
        status.written.resync, 0,
        "nothing was cached before the clock started"
    );
    assert_eq!(status.gate_timeouts, 0);
    // With `max` the clock ends 1 ns after the last window, or at the last frame if later.
    let last_end = windows().iter().map(|w| w.end.0).max().expect("windows");
    let last_frame = market
        .iter()
        .chain(&klines)
        .map(|r| r.recv_ns)
        .max()
        .expect("frames");
    assert_eq!(status.now_ns, (last_end + 1).max(last_frame));

    let (frames, events) = served_log(log.path());
    assert_eq!(frames.len(), 2, "two connections wrote frames");
    let mline = frames
        .values()
        .find(|v| v[0].path == "/ws/market")
        .expect("market lines");
    assert_eq!(
        mline.iter().map(|l| l.sha.as_str()).collect::<Vec<_>>(),
        got
    );
    assert!(mline.iter().enumerate().all(|(i, l)| l.seq == i as u64
        && l.kind == "recorded"
        && l.stream == "polymarket-market"
        && l.clock_ns >= l.recv_ns));
    assert!(events.iter().any(|e| e.event == "open" && e.path == KLINES));
    assert!(
        events
            .iter()
            .filter(|e| e.event == "drop")
            .all(|e| e.reason.as_deref() == Some("shutdown"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_ping_gets_pong_and_rtds_ping_gets_no_answer() {
    let sb = Sandbox::start(config(Speed::Max)).await.expect("start");
    let mut m = ws(&sb, "/ws/market").await;
    m.send(Message::text("PING")).await.expect("ping");
    assert_eq!(
        next_data(&mut m, Duration::from_secs(10)).await.as_deref(),
        Some(&b"PONG"[..])
    );
    let mut r = ws(&sb, "/rtds").await;
    r.send(Message::text("PING")).await.expect("ping");
    let sub = r#"{"action":"subscribe","subscriptions":[{"topic":"crypto_prices_chainlink","type":"*","filters":"{\"symbol\":\"btc/usd\"}"},{"topic":"no_such_topic","type":"*"}]}"#;
    r.send(Message::text(sub)).await.expect("subscribe");
    // The unknown topic makes the venue reject the whole array; the PING got nothing before it.
    let f = next_data(&mut r, Duration::from_secs(10))
        .await
        .expect("error envelope");
    let v: Value = serde_json::from_slice(&f).expect("json");
    assert_eq!(v["statusCode"], json!(401), "{v}");
    assert!(
        v["body"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("no_such_topic"))
    );
    let st = sb.shutdown().await.expect("shutdown");
    assert_eq!((st.written.pong, st.written.ack), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gamma_serves_the_recorded_windows_and_resolves_them_only_after_their_end() {
    let ws_list = windows();
    let w = &ws_list[0];
    let sb = Sandbox::start(config(Speed::Max)).await.expect("start");
    let (_, t) = http_get(&sb, "/sandbox/time").await;
    let now = t["now_ns"].as_u64().expect("now_ns");
    assert!(
        !t["started"].as_bool().expect("started") && now < w.end.0,
        "{t}"
    );
    assert_eq!(t["gate"]["kind"], json!("start"));

    let (status, body) = http_get(&sb, &format!("/gamma/markets?slug={}", w.slug)).await;
    assert_eq!(status, 200);
    let m = &body[0];
    let tokens: Vec<String> =
        serde_json::from_str(m["clobTokenIds"].as_str().expect("ids")).expect("ids json");
    // The sample knows only the Down token of this window: the Up id is the documented stand-in.
    let side = |t: Option<polyedge_core::TokenId>, label| {
        t.unwrap_or_else(|| polyedge_core::TokenId::synthetic(&w.slug, label))
            .to_string()
    };
    assert_eq!(tokens, [side(w.up_token, "up"), side(w.down_token, "down")]);
    // The sample knows only one token of most windows: the other is the documented stand-in.
    assert_eq!(
        m["sandboxSyntheticTokens"].as_bool().unwrap_or(false),
        w.up_token.is_none() || w.down_token.is_none()
    );
    assert_eq!(m["orderPriceMinTickSize"], json!(0.01));
    assert_eq!(
        m["conditionId"],
        json!(w.condition_id.expect("condition").to_string())
    );
    assert_eq!(
        m["eventStartTime"],
        json!(UnixNanos(w.start.0).to_rfc3339().replace(".000Z", "Z"))
    );
    assert_eq!(
        (m["closed"].clone(), m["outcomePrices"].clone()),
        (json!(false), json!(r#"["0.5", "0.5"]"#))
    );
    let (_, ev) = http_get(&sb, &format!("/gamma/events/slug/{}", w.slug)).await;
    assert!(
        ev.get("eventMetadata").is_none(),
        "no resolution data before the end: {ev}"
    );
    assert_eq!(
        http_get(&sb, "/gamma/markets?slug=btc-updown-5m-1").await,
        (200, json!([]))
    );
    assert_eq!(
        http_get(&sb, "/gamma/markets/slug/btc-updown-5m-1").await.0,
        404
    );
    let (_, open) = http_get(&sb, "/gamma/markets?closed=false").await;
    assert_eq!(open.as_array().map(Vec::len), Some(ws_list.len()));

    // Drive the clock to the end of the recording.
    let market = recorded("polymarket-market", &ReplayFilter::default());
    let mut m = ws(&sb, "/ws/market").await;
    subscribe_market(&mut m, &all_assets(&market)).await;
    let mut k = ws(&sb, KLINES).await;
    tokio::spawn(async move { while next_data(&mut k, Duration::from_mins(1)).await.is_some() {} });
    let drain =
        tokio::spawn(
            async move { while next_data(&mut m, Duration::from_mins(1)).await.is_some() {} },
        );
    tokio::time::timeout(Duration::from_mins(1), sb.wait_finished())
        .await
        .expect("finished");
    let (_, after) = http_get(&sb, &format!("/gamma/markets?slug={}", w.slug)).await;
    let a = &after[0];
    assert_eq!(a["closed"], json!(true));
    let want = match w.outcome.expect("sample outcome") {
        polyedge_core::Outcome::Up => r#"["1", "0"]"#,
        polyedge_core::Outcome::Down => r#"["0", "1"]"#,
    };
    assert_eq!(a["outcomePrices"], json!(want));
    assert_eq!(a["umaResolutionStatus"], json!("resolved"));
    let (_, ev) = http_get(&sb, &format!("/gamma/events?slug={}", w.slug)).await;
    assert!(ev[0]["eventMetadata"].is_object(), "{ev}");
    let (_, closed) = http_get(&sb, "/gamma/markets?closed=true&limit=3").await;
    assert_eq!(closed.as_array().map(Vec::len), Some(3));
    sb.shutdown().await.expect("shutdown");
    let _ = drain.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_speed_holds_at_a_window_until_the_market_client_subscribes_to_it() {
    let ws_list = windows();
    let (w0, w1) = (&ws_list[0], &ws_list[1]);
    let t1 = w1.down_token.expect("down").to_string();
    let market = recorded("polymarket-market", &ReplayFilter::default());
    // Where the gate of window 1 must hold: its start or its first frame, whichever is first.
    let first_w1 = market
        .iter()
        .find(|r| r.asset.as_deref() == Some(t1.as_str()))
        .map_or(w1.start.0, |r| r.recv_ns)
        .min(w1.start.0);
    let w0_assets: Vec<String> = market
        .iter()
        .filter(|r| r.recv_ns < first_w1)
        .filter_map(|r| r.asset.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(w0_assets.contains(&w0.down_token.expect("down").to_string()));
    let mut cfg = config(Speed::Max);
    cfg.filter.to = Some(UnixNanos(w1.end.0));
    let sb = Sandbox::start(cfg).await.expect("start");
    let mut k = ws(&sb, KLINES).await;
    tokio::spawn(async move { while next_data(&mut k, Duration::from_mins(1)).await.is_some() {} });
    let mut m = ws(&sb, "/ws/market").await;
    subscribe_market(&mut m, &w0_assets).await;
    // Read everything up to the gate.
    let before: Vec<&Rec> = market
        .iter()
        .filter(|r| r.recv_ns < first_w1 && r.asset.as_ref().is_some_and(|a| w0_assets.contains(a)))
        .collect();
    for want in &before {
        let f = next_data(&mut m, Duration::from_secs(30))
            .await
            .expect("frame before the gate");
        assert_eq!(sha256_hex(&f), want.sha);
    }
    // The replay now waits for window 1 (the gate wait is 30 s; nothing arrives meanwhile).
    let mut gate = Value::Null;
    for _ in 0..200 {
        let (_, t) = http_get(&sb, "/sandbox/time").await;
        if t["gate"]["kind"] == json!("window") {
            gate = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gate["gate"]["slug"], json!(w1.slug), "{gate}");
    assert!(gate["now_ns"].as_u64().expect("now") < first_w1);
    // The gate holds before any frame at or after first_w1: nothing may arrive meanwhile.
    if let Some(f) = next_data(&mut m, Duration::from_millis(300)).await {
        panic!("a frame arrived while the gate held: {} bytes", f.len());
    }
    // Subscribing to window 1 opens the gate.
    m.send(Message::text(
        json!({"operation": "subscribe", "assets_ids": [t1]}).to_string(),
    ))
    .await
    .expect("subscribe w1");
    let f = next_data(&mut m, Duration::from_secs(30))
        .await
        .expect("frames resume");
    let expect_next = market
        .iter()
        .find(|r| {
            r.recv_ns >= first_w1
                && r.asset
                    .as_ref()
                    .is_some_and(|a| w0_assets.contains(a) || *a == t1)
        })
        .expect("a later frame");
    assert_eq!(sha256_hex(&f), expect_next.sha);
    let st = sb.shutdown().await.expect("shutdown");
    assert_eq!(st.gate_timeouts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_every_closes_after_n_frames_and_the_reconnected_client_first_gets_a_book_resync() {
    let market = recorded("polymarket-market", &ReplayFilter::default());
    let assets = all_assets(&market);
    let log = tempfile::NamedTempFile::new().expect("tmp");
    let mut cfg = config(Speed::Max);
    cfg.served_log = Some(log.path().to_path_buf());
    cfg.faults = Faults {
        drop_every: Some(50),
        targets: "market".parse().expect("targets"),
        ..Faults::default()
    };
    let sb = Sandbox::start(cfg).await.expect("start");
    let mut k = ws(&sb, KLINES).await;
    tokio::spawn(async move { while next_data(&mut k, Duration::from_mins(1)).await.is_some() {} });

    let mut a = ws(&sb, "/ws/market").await;
    subscribe_market(&mut a, &assets).await;
    let mut got_a = Vec::new();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(30), a.next())
            .await
            .expect("no stall")
        {
            Some(Ok(Message::Text(t))) => got_a.push(sha256_hex(t.as_bytes())),
            Some(Ok(Message::Close(c))) => break c,
            // The sandbox's in-band clock before each frame (docs/sandbox.md §3).
            Some(Ok(Message::Ping(p))) if polyedge_core::clock::parse_clock_ping(&p).is_some() => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(got_a.len(), 50, "closed after exactly 50 frames");
    assert_eq!(close.map(|c| c.code), Some(CloseCode::Away));
    let want_a: Vec<&str> = market[..50].iter().map(|r| r.sha.as_str()).collect();
    assert_eq!(got_a, want_a);

    let mut b = ws(&sb, "/ws/market").await;
    subscribe_market(&mut b, &assets).await;
    let first = next_data(&mut b, Duration::from_secs(30))
        .await
        .expect("resync");
    let v: Value = serde_json::from_slice(&first).expect("json");
    assert_eq!(v["event_type"], json!("book"));
    assert!(assets.contains(&v["asset_id"].as_str().expect("asset").to_owned()));
    let mut got_b = vec![sha256_hex(&first)];
    for _ in 0..20 {
        got_b.push(sha256_hex(
            &next_data(&mut b, Duration::from_secs(30))
                .await
                .expect("more"),
        ));
    }
    let st = sb.shutdown().await.expect("shutdown");
    assert!(st.drops_injected >= 1 && st.written.resync >= 1, "{st:?}");

    let (frames, events) = served_log(log.path());
    assert!(
        events
            .iter()
            .any(|e| e.event == "drop" && e.reason.as_deref() == Some("drop-every"))
    );
    let lines_b = frames
        .values()
        .find(|l| l.first().is_some_and(|f| f.kind == "resync"))
        .expect("connection B's lines");
    let logged: Vec<&str> = lines_b
        .iter()
        .take(got_b.len())
        .map(|l| l.sha.as_str())
        .collect();
    assert_eq!(logged, got_b, "B received what the log says was written");
    // Resync books first: each a recorded frame, received no later than the sandbox clock.
    let resyncs: Vec<&FrameLine> = lines_b.iter().take_while(|l| l.kind == "resync").collect();
    for r in &resyncs {
        let rec = market
            .iter()
            .find(|m| m.sha == r.sha)
            .expect("resync bytes are a recorded frame");
        assert_eq!(rec.recv_ns, r.recv_ns);
        assert!(r.recv_ns <= r.clock_ns);
    }
    // Then recorded frames, consecutive in recorded order, none older than the resync books.
    let rest: Vec<&FrameLine> = lines_b[resyncs.len()..]
        .iter()
        .take(got_b.len() - resyncs.len())
        .collect();
    assert!(rest.iter().all(|l| l.kind == "recorded"));
    let pos = market
        .iter()
        .position(|m| m.sha == rest[0].sha)
        .expect("recorded");
    for (l, m) in rest.iter().zip(&market[pos..]) {
        assert_eq!(l.sha, m.sha);
    }
    assert!(resyncs.iter().all(|r| market[pos].recv_ns >= r.recv_ns));
    assert!(pos >= 50, "B continues after what A got");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_malformed_and_oversize_frames_are_rejected_by_the_venue_parsers() {
    let w = windows();
    let filter = ReplayFilter {
        to: Some(UnixNanos(w[1].end.0)),
        ..ReplayFilter::default()
    };
    let market = recorded("polymarket-market", &filter);
    let klines = recorded("binance-usdm-kline", &filter);
    let log = tempfile::NamedTempFile::new().expect("tmp");
    let mut cfg = config(Speed::Max);
    cfg.filter = filter;
    cfg.served_log = Some(log.path().to_path_buf());
    cfg.faults = Faults {
        malformed_rate: 0.2,
        seed: 7,
        oversize_every: Some(100),
        oversize_bytes: 2 << 20,
        ..Faults::default()
    };
    let sb = Sandbox::start(cfg).await.expect("start");
    let read_all = |mut ws: Ws| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(f) = next_data(&mut ws, Duration::from_secs(30)).await {
                got.push(f);
            }
            got
        })
    };
    let kt = read_all(ws(&sb, KLINES).await);
    let mut m = ws(&sb, "/ws/market").await;
    subscribe_market(&mut m, &all_assets(&market)).await;
    let mt = read_all(m);
    tokio::time::timeout(Duration::from_mins(1), sb.wait_finished())
        .await
        .expect("finished");
    tokio::time::sleep(Duration::from_millis(500)).await;
    sb.shutdown().await.expect("shutdown");
    let got = mt.await.expect("market reader");
    let kgot = kt.await.expect("kline reader");
    assert!(got.len() > 1_000, "{}", got.len());

    let (frames, _) = served_log(log.path());
    let check = |path: &str, got: &[Vec<u8>], feed: Feed, recorded: &[Rec]| {
        let lines = frames.values().find(|l| l[0].path == path).expect("lines");
        let mut rec = recorded.iter();
        let (mut bad, mut truncated, mut unknown, mut big) = (0, 0, 0, 0);
        let mut since_big = 0;
        for (f, l) in got.iter().zip(lines) {
            assert_eq!(
                sha256_hex(f),
                l.sha,
                "{path}: what was received is what was logged"
            );
            let mut out = Vec::new();
            match l.kind.as_str() {
                "recorded" => {
                    assert_eq!(
                        l.sha,
                        rec.next().expect("recorded").sha,
                        "{path}: recorded order"
                    );
                    since_big += 1;
                }
                "malformed" => {
                    bad += 1;
                    // Truncated JSON is an error; a well-formed frame of an unknown type is either
                    // refused naming it or (forward-compatible parsers) skipped and counted with
                    // no event made of it.
                    match feed.parse(f, UnixNanos(0), &mut out) {
                        Err(_) if serde_json::from_slice::<Value>(f).is_err() => truncated += 1,
                        Err(err) => {
                            unknown += 1;
                            assert!(err.to_string().contains("sandbox"), "{err}");
                        }
                        Ok(n) => {
                            assert!(
                                serde_json::from_slice::<Value>(f).is_ok()
                                    && n == 0
                                    && out.is_empty(),
                                "{path}: a malformed frame made {n} events"
                            );
                            unknown += 1;
                        }
                    }
                }
                "oversize" => {
                    big += 1;
                    assert_eq!(
                        since_big, 100,
                        "{path}: oversize after every 100 recorded frames"
                    );
                    since_big = 0;
                    assert_eq!(f.len(), 2 << 20);
                    assert!(feed.parse(f, UnixNanos(0), &mut out).is_err());
                }
                other => panic!("unexpected kind {other}"),
            }
            assert!(out.is_empty());
        }
        (bad, truncated, unknown, big)
    };
    let (bad, truncated, unknown, big) = check("/ws/market", &got, Feed::PolymarketMarket, &market);
    let share = f64::from(bad) / got.len() as f64;
    assert!(
        (0.1..0.3).contains(&share),
        "about 20 % of the frames: {bad} of {}",
        got.len()
    );
    assert!(
        truncated > 0 && unknown > 0,
        "both malformed kinds: {truncated} {unknown}"
    );
    assert!(big >= 3, "{big}");
    let (kbad, _, _, _) = check(KLINES, &kgot, Feed::BinanceUsdm, &klines);
    assert!(kbad > 0, "malformed frames on Binance too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_one_paces_frames_by_the_sandbox_clock_and_max_does_not_wait() {
    let w = windows();
    let market = recorded("polymarket-market", &ReplayFilter::default());
    let log = tempfile::NamedTempFile::new().expect("tmp");
    let mut cfg = config(Speed::Factor(1.0));
    cfg.served_log = Some(log.path().to_path_buf());
    cfg.gate_wait = Duration::from_millis(200);
    // Start at the first market frame (the klines begin earlier).
    cfg.filter.from = Some(UnixNanos(market[0].recv_ns));
    let sb = Sandbox::start(cfg).await.expect("start");
    let t0 = sb.now();
    let mut m = ws(&sb, "/ws/market").await;
    subscribe_market(&mut m, &all_assets(&market)).await;
    for _ in 0..20 {
        next_data(&mut m, Duration::from_secs(30))
            .await
            .expect("frame");
    }
    let elapsed = sb.now() - t0;
    let st = sb.shutdown().await.expect("shutdown");
    // 20 frames at real time take about a second of sandbox time, far from the 50 minutes of the
    // sample; every frame went out when the clock had reached its receive time.
    assert!(
        elapsed < 120 * 1_000_000_000,
        "speed 1 clock advanced {elapsed} ns"
    );
    assert!(!st.finished);
    let (frames, _) = served_log(log.path());
    let lines = frames.values().next().expect("lines");
    assert!(lines.len() >= 20);
    assert!(lines.iter().all(|l| l.clock_ns >= l.recv_ns), "never early");

    // Max: the whole 50-minute sample in (wall) seconds, clock at the end of the last window.
    let sb = Sandbox::start(config(Speed::Max)).await.expect("start");
    let mut m = ws(&sb, "/ws/market").await;
    subscribe_market(&mut m, &all_assets(&market)).await;
    let mut k = ws(&sb, KLINES).await;
    tokio::spawn(async move { while next_data(&mut k, Duration::from_mins(1)).await.is_some() {} });
    let mut n = 0;
    while n < market.len() && next_data(&mut m, Duration::from_secs(30)).await.is_some() {
        n += 1;
    }
    assert_eq!(n, market.len());
    tokio::time::timeout(Duration::from_secs(30), sb.wait_finished())
        .await
        .expect("finished");
    let last_frame = recorded("binance-usdm-kline", &ReplayFilter::default())
        .iter()
        .chain(&market)
        .map(|r| r.recv_ns)
        .max()
        .expect("frames");
    let end = w.iter().map(|x| x.end.0).max().expect("end") + 1;
    assert_eq!(sb.now(), end.max(last_frame));
    sb.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_after_price_changes_is_the_current_book_not_the_stale_snapshot() {
    use polyedge_core::{EventKind, Price, Size};
    use polyedge_store::{RecordingMeta, RecordingWriter, StreamId};
    const T: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";
    const M: &str = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1";
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("rec");
    let frames = [
        format!(
            r#"{{"market":"{M}","asset_id":"{T}","timestamp":"1","hash":"h","bids":[{{"price":"0.4","size":"10"}},{{"price":"0.5","size":"20"}}],"asks":[{{"price":"0.7","size":"5"}},{{"price":"0.6","size":"7"}}],"event_type":"book"}}"#
        ),
        format!(
            r#"{{"market":"{M}","price_changes":[{{"asset_id":"{T}","price":"0.5","side":"BUY","size":"0","hash":"x","best_bid":"0.4","best_ask":"0.6"}}],"event_type":"price_change","timestamp":"2"}}"#
        ),
        format!(
            r#"{{"market":"{M}","price_changes":[{{"asset_id":"{T}","price":"0.55","side":"SELL","size":"3.5","hash":"y","best_bid":"0.4","best_ask":"0.55"}}],"event_type":"price_change","timestamp":"3"}}"#
        ),
    ];
    let mut w = RecordingWriter::create(&rec, RecordingMeta::default()).expect("writer");
    let stream = StreamId::of(Feed::PolymarketMarket);
    for (i, f) in frames.iter().enumerate() {
        w.append(
            &stream,
            UnixNanos(1_776_000_000_000_000_000 + i as u64 * 1_000_000_000),
            f.as_bytes(),
        )
        .expect("append");
    }
    w.finish().expect("finish");

    let mut cfg = SandboxConfig::new(vec![rec], Speed::Max);
    cfg.gate_wait = Duration::from_secs(30);
    let sb = Sandbox::start(cfg).await.expect("start");
    let mut a = ws(&sb, "/ws/market").await;
    subscribe_market(&mut a, &[T.to_owned()]).await;
    for f in &frames {
        assert_eq!(
            next_data(&mut a, Duration::from_secs(30)).await.as_deref(),
            Some(f.as_bytes())
        );
    }
    tokio::time::timeout(Duration::from_secs(30), sb.wait_finished())
        .await
        .expect("finished");
    let mut b = ws(&sb, "/ws/market").await;
    subscribe_market(&mut b, &[T.to_owned()]).await;
    let resync = next_data(&mut b, Duration::from_secs(30))
        .await
        .expect("resync");
    let mut events = Vec::new();
    Feed::PolymarketMarket
        .parse(&resync, UnixNanos(0), &mut events)
        .expect("the venue parser reads the resync book");
    let EventKind::Book(book) = &events[0].kind else {
        panic!("not a book: {events:?}")
    };
    let lv = |l: &[polyedge_core::event::Level]| -> Vec<(Price, Size)> {
        l.iter().map(|x| (x.price, x.size)).collect()
    };
    let p = |s: &str| Price::parse(s).expect("price");
    let z = |s: &str| Size::parse(s).expect("size");
    // Bid 0.5 removed, ask 0.55 added: the state after both deltas, best first.
    assert_eq!(lv(&book.bids), [(p("0.4"), z("10"))]);
    assert_eq!(
        lv(&book.asks),
        [
            (p("0.55"), z("3.5")),
            (p("0.6"), z("7")),
            (p("0.7"), z("5"))
        ]
    );
    let st = sb.shutdown().await.expect("shutdown");
    assert_eq!((st.written.recorded, st.written.resync), (3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_is_preceded_by_its_sandbox_time() {
    let market = recorded("polymarket-market", &ReplayFilter::default());
    let assets = all_assets(&market);
    let sb = Sandbox::start(config(Speed::Max)).await.expect("start");
    let mut k = ws(&sb, KLINES).await;
    tokio::spawn(async move { while next_data(&mut k, Duration::from_mins(1)).await.is_some() {} });
    let mut a = ws(&sb, "/ws/market").await;
    subscribe_market(&mut a, &assets).await;
    // (clock announced, frame) for the first 200 data frames, in order.
    let mut pairs = Vec::new();
    let mut clock = None;
    while pairs.len() < 200 {
        match tokio::time::timeout(Duration::from_secs(30), a.next())
            .await
            .expect("no stall")
        {
            Some(Ok(Message::Ping(p))) => {
                clock = Some(
                    polyedge_core::clock::parse_clock_ping(&p)
                        .expect("a clock ping")
                        .0,
                );
            }
            Some(Ok(Message::Text(t))) => {
                pairs.push((
                    clock.take().expect("a clock ping before the frame"),
                    sha256_hex(t.as_bytes()),
                ));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Recorded frames are announced with their own receive time, in order.
    for (k, (at, sha)) in pairs.iter().enumerate() {
        assert_eq!(sha, &market[k].sha, "frame {k}");
        assert_eq!(*at, market[k].recv_ns, "frame {k}: announced time");
    }
    sb.shutdown().await.expect("shutdown");
}
