//! End-to-end tests of `polyedge collect` (the built binary):
//!
//! * against the sandbox (`polyedge_sandbox`, in-process) serving the bundled cronos sample: the
//!   new recording holds exactly the frames the sandbox wrote (by SHA-256, in order, per
//!   stream) — also with injected disconnects, where every drop is followed by a gap marker and
//!   a `book` resync, and with malformed / unknown / oversize frames, which are counted and
//!   logged with the stream name while the collector keeps running; with stalls shorter than
//!   the stale limit (nothing lost, no gap) and longer (a `stale` gap per stall, everything the
//!   connection delivered before it went silent recorded, then `book` resyncs);
//! * a SIGKILL mid-run against a local RTDS-like server that stamps every frame with its send
//!   time: the recording reads back every frame sent up to 1 s before the kill, in order.
//! * tables while collecting: the Parquet tables of the closed segments read back by pyarrow
//!   (`crates/tables/tests/check_parquet.py`) with the counts and values the recording replays;
//!   `--clickhouse` to a private `clickhouse-server` on 127.0.0.1, where replay equals replay
//!   from the files; ClickHouse unreachable during the whole run, then `polyedge backfill`, and
//!   again replay from ClickHouse equals replay from the files; a ClickHouse that accepts
//!   connections but never answers: every call times out, collect still finishes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polyedge_core::EventKind;
use polyedge_sandbox::{Faults, Sandbox, SandboxConfig, Speed};
use polyedge_store::{EventReplay, FrameReplay, NoProgress, Recording, ReplayFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{http_get, metric};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyedge"))
}

fn sample_recording(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let out = dir.join("sample-rec");
    polyedge_store::import::import(
        polyedge_store::import::ImportKind::Cronos,
        &src,
        &out,
        &NoProgress,
    )
    .expect("import the bundled sample");
    out
}

fn sha(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().fold(String::new(), |mut s, x| {
        use std::fmt::Write as _;
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn write_config(dir: &Path, addr: &str, extra: &str) -> PathBuf {
    let cfg = format!(
        r#"
[collect]
assets = ["btc"]
durations = ["5m"]
flush_ms = 100
health_secs = 1
discovery_secs = 0.05
resolution_poll_secs = 0.2
unsubscribe_grace_secs = 600
max_frame_bytes = 1048576
backoff_min_ms = 20
backoff_max_ms = 200
# Test machines may have little disk (CI has had ~500 MiB free): the free-space stop is tested
# on its own (`crates/feeds`, with an injected probe), not by every recording test.
min_free_mb = 0
warn_free_mb = 0
{extra}

[endpoints]
gamma = "http://{addr}/gamma"
polymarket_ws = "ws://{addr}/ws/market"
rtds_ws = "ws://{addr}/rtds"
binance_ws = "ws://{addr}/binance"
binance_usdm_ws = "ws://{addr}/binance-usdm/public"
binance_usdm_market_ws = "ws://{addr}/binance-usdm/market"
clock = "http://{addr}/sandbox/time"

[feeds.rtds]
enabled = false
[feeds.binance_spot]
enabled = false
[feeds.binance_usdm]
enabled = false
[feeds.binance_usdm_market]
enabled = true
streams = ["kline_1m"]
[feeds.coinbase]
enabled = false
[feeds.deribit]
enabled = false
"#
    );
    let p = dir.join("polyedge.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

/// A child process with its stderr collected on a thread.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn spawn_collect(config: &Path, out: &Path, extra: &[String]) -> Running {
    let mut child = bin()
        .arg("collect")
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out)
        .arg("--duration")
        .arg("300")
        .args(extra)
        .env("RUST_LOG", "warn,polyedge_feeds=info,polyedge::health=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start polyedge collect");
    let stderr = Arc::new(Mutex::new(String::new()));
    let err = child.stderr.take().unwrap();
    let s2 = stderr.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut s = s2.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    Running {
        child,
        stderr,
        reader: Some(reader),
    }
}

impl Running {
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then wait (at most 60 s: a collector that does not finish by then is killed
    /// and the test fails); returns stdout.
    fn terminate(mut self) -> String {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > Duration::from_mins(1) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "collect did not finish within 60 s of SIGTERM\nstderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        assert!(
            status.success(),
            "collect failed: {status}\nstdout: {out}\nstderr: {}",
            self.stderr()
        );
        out
    }
}

/// Served-log frame lines by path, in connection then seq order, with connection boundaries.
#[derive(Debug, Default)]
struct Served {
    /// path → [(conn, kind, sha)]
    frames: BTreeMap<String, Vec<(u64, String, String)>>,
    /// path → [conn] of drops injected by the sandbox
    drops: BTreeMap<String, Vec<u64>>,
}

fn read_served(path: &Path, kinds: &[&str]) -> Served {
    let mut s = Served::default();
    let mut lines: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|v| (v["conn"].as_u64().unwrap(), v["seq"].as_u64().unwrap_or(0)));
    for v in lines {
        let p = v["path"].as_str().unwrap().to_string();
        let conn = v["conn"].as_u64().unwrap();
        if v["event"] == "drop" && v["reason"] == "drop-every" {
            s.drops.entry(p).or_default().push(conn);
        } else if let Some(kind) = v["kind"].as_str()
            && kinds.contains(&kind)
        {
            s.frames.entry(p).or_default().push((
                conn,
                kind.to_string(),
                v["sha"].as_str().unwrap().to_string(),
            ));
        }
    }
    s
}

/// (recv_ns, sha, bytes) of every recorded frame per stream, in replay order.
fn recorded(rec: &Path) -> BTreeMap<String, Vec<(u64, String, Vec<u8>)>> {
    let mut m: BTreeMap<String, Vec<(u64, String, Vec<u8>)>> = BTreeMap::new();
    let mut r = FrameReplay::open_dirs(&[rec], ReplayFilter::default()).unwrap();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        m.entry(f.stream.name.clone()).or_default().push((
            f.recv_ns.0,
            sha(f.bytes),
            f.bytes.to_vec(),
        ));
    }
    m
}

/// Gap events of the recording: (recv_ns, stream, reason).
fn gaps(rec: &Path) -> Vec<(u64, String, String)> {
    EventReplay::open_dirs(&[rec], ReplayFilter::default())
        .unwrap()
        .filter_map(|e| match e.unwrap() {
            polyedge_core::MarketEvent {
                recv_ns,
                kind: EventKind::Gap(g),
                ..
            } => Some((recv_ns.0, g.stream, g.reason)),
            _ => None,
        })
        .collect()
}

struct Run {
    served: Served,
    rec: PathBuf,
    stdout: String,
    stderr: String,
    status: polyedge_sandbox::Status,
}

/// Serves the sample with `faults`, records it with `polyedge collect`, stops both.
fn run_against_sandbox(faults: Faults, kinds: &[&str]) -> (tempfile::TempDir, Run) {
    run_against_sandbox_with(faults, kinds, &[])
}

/// As [`run_against_sandbox`], with `extra` arguments to `polyedge collect`.
fn run_against_sandbox_with(
    faults: Faults,
    kinds: &[&str],
    extra: &[String],
) -> (tempfile::TempDir, Run) {
    run_against_sandbox_cfg(faults, kinds, extra, "")
}

/// As [`run_against_sandbox_with`], with `config_extra` TOML appended to the collector's
/// `[collect]` section (it may open further tables, e.g. `[feeds.polymarket]`).
fn run_against_sandbox_cfg(
    faults: Faults,
    kinds: &[&str],
    extra: &[String],
    config_extra: &str,
) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_recording(dir.path());
    let log = dir.path().join("served.jsonl");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = SandboxConfig::new(vec![sample], Speed::Max);
    cfg.served_log = Some(log.clone());
    cfg.faults = faults;
    cfg.gate_wait = Duration::from_secs(5);
    let sandbox = rt.block_on(Sandbox::start(cfg)).unwrap();
    let addr = sandbox.addr().to_string();
    let config = write_config(dir.path(), &addr, config_extra);
    let rec = dir.path().join("collected");
    let running = spawn_collect(&config, &rec, extra);
    let t0 = Instant::now();
    loop {
        let st = sandbox.status();
        if st.finished {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_mins(4),
            "sandbox did not finish: {st:?}\ncollector stderr:\n{}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the last frames reach the collector, its resolution polls run, and a flush happen.
    std::thread::sleep(Duration::from_millis(1500));
    let stderr_before = running.stderr();
    let stdout = running.terminate();
    let status = rt.block_on(sandbox.shutdown()).unwrap();
    let served = read_served(&log, kinds);
    (
        dir,
        Run {
            served,
            rec,
            stdout,
            stderr: stderr_before,
            status,
        },
    )
}

fn assert_same_frames(run: &Run, path: &str, stream: &str) -> Vec<(u64, String, Vec<u8>)> {
    let rec = recorded(&run.rec);
    let got = rec.get(stream).cloned().unwrap_or_default();
    let want = run.served.frames.get(path).cloned().unwrap_or_default();
    assert!(!want.is_empty(), "sandbox served nothing on {path}");
    let got_sha: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    let want_sha: Vec<&str> = want.iter().map(|w| w.2.as_str()).collect();
    if got_sha != want_sha {
        let first = got_sha
            .iter()
            .zip(&want_sha)
            .position(|(a, b)| a != b)
            .unwrap_or(got_sha.len().min(want_sha.len()));
        panic!(
            "{stream}: recorded {} frames, served {} on {path}; first difference at {first} (served kind {:?})\nstderr:\n{}",
            got_sha.len(),
            want_sha.len(),
            want.get(first).map(|w| &w.1),
            run.stderr
        );
    }
    got
}

#[test]
fn collect_records_exactly_what_the_sandbox_served() {
    let (_dir, run) = run_against_sandbox(Faults::default(), &["recorded", "resync", "pong"]);
    let market = assert_same_frames(&run, "/ws/market", "polymarket-market");
    let klines = assert_same_frames(&run, "/binance-usdm/market/stream", "binance-usdm-market");
    assert!(market.len() > 1000, "only {} market frames", market.len());
    assert!(!klines.is_empty());
    // No continuity was lost, so no gap markers.
    assert_eq!(gaps(&run.rec), vec![], "stderr:\n{}", run.stderr);
    // Discovery recorded the windows with tokens, fees, and (the sandbox clock being past the
    // end) the official outcome where the index knows it.
    let rec = Recording::open(&run.rec).unwrap();
    assert!(rec.is_finished());
    let served_windows = rec.windows();
    assert!(
        served_windows.len() >= 9,
        "{} windows",
        served_windows.len()
    );
    for w in served_windows {
        assert!(w.up_token.is_some() && w.down_token.is_some(), "{w:?}");
        assert!(w.fee_schedule.is_some() && w.tick_size.is_some(), "{w:?}");
    }
    assert!(
        served_windows.iter().any(|w| w.outcome.is_some()),
        "no resolution recorded: {served_windows:?}"
    );
    // Health lines were logged with the per-stream rates.
    assert!(run.stderr.contains("health: "), "{}", run.stderr);
    assert!(run.stdout.contains("polymarket-market"), "{}", run.stdout);
}

#[test]
fn disconnects_are_gap_marked_and_books_resynced() {
    let mut faults = Faults {
        drop_every: Some(700),
        ..Faults::default()
    };
    faults.targets.binance = false;
    faults.targets.rtds = false;
    let (_dir, run) = run_against_sandbox(faults, &["recorded", "resync", "pong"]);
    let market = assert_same_frames(&run, "/ws/market", "polymarket-market");
    let drops = run
        .served
        .drops
        .get("/ws/market")
        .cloned()
        .unwrap_or_default();
    assert!(drops.len() >= 3, "only {} drops injected", drops.len());
    assert_eq!(run.status.drops_injected, drops.len() as u64);
    let gaps: Vec<(u64, String, String)> = gaps(&run.rec)
        .into_iter()
        .filter(|g| g.1 == "polymarket-market")
        .collect();
    assert_eq!(gaps.len(), drops.len(), "one gap per drop: {gaps:?}");
    // Each connection boundary: the gap lies between the last frame of the dropped connection
    // and the first of the next, and the next starts with resync books.
    let served = &run.served.frames["/ws/market"];
    let mut boundaries = Vec::new();
    for i in 1..served.len() {
        if served[i].0 != served[i - 1].0 {
            boundaries.push(i);
        }
    }
    assert_eq!(boundaries.len(), drops.len());
    for (k, &i) in boundaries.iter().enumerate() {
        let (before, after) = (market[i - 1].0, market[i].0);
        assert!(
            before <= gaps[k].0 && gaps[k].0 <= after,
            "gap {k} at {} not between {before} and {after}",
            gaps[k].0
        );
        assert_eq!(
            served[i].1, "resync",
            "connection after drop {k} starts with {:?}",
            served[i].1
        );
        let first: Value = serde_json::from_slice(&market[i].2).unwrap();
        assert_eq!(
            first["event_type"], "book",
            "resync frame is a book snapshot"
        );
    }
    // `polyedge inspect` shows the gaps of the collection.
    let out = bin().arg("inspect").arg(&run.rec).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "recorded gap markers: {} (polymarket-market={})",
        drops.len(),
        drops.len()
    );
    assert!(text.contains(&want), "{want:?} not in:\n{text}");
    assert!(text.contains("stream polymarket-market: "), "{text}");
    assert!(
        gaps.iter().all(|g| g.2.contains("closed by server")),
        "{gaps:?}"
    );
}

/// Faults for the market channel only.
fn market_faults(f: Faults) -> Faults {
    let mut f = f;
    f.targets.binance = false;
    f.targets.rtds = false;
    f
}

#[test]
fn a_stall_shorter_than_the_stale_limit_loses_nothing_and_marks_no_gap() {
    // 300 ms of silence every 2000 data frames; the collector's stale limit is its default 30 s.
    let faults = market_faults(Faults {
        stall: Some(Duration::from_millis(300)),
        stall_every: 2000,
        ..Faults::default()
    });
    let (_dir, run) = run_against_sandbox(faults, &["recorded", "resync", "pong"]);
    assert!(
        run.status.stalls_injected >= 2,
        "only {} stalls injected",
        run.status.stalls_injected
    );
    // Frames held during a stall are written after it: all recorded, in order, once.
    assert_same_frames(&run, "/ws/market", "polymarket-market");
    let gaps = gaps(&run.rec);
    assert!(gaps.is_empty(), "no continuity was lost: {gaps:?}");
    let served = &run.served.frames["/ws/market"];
    assert!(
        served.iter().all(|f| f.0 == served[0].0),
        "one market connection throughout"
    );
}

#[test]
fn a_stall_past_the_stale_limit_is_gap_marked_and_the_book_resynced() {
    // 1.5 s of silence every 3000 data frames against a stale limit of 0.5 s: the collector must
    // give the connection up, mark a gap, reconnect and start again from `book` snapshots.
    const EVERY: usize = 3000;
    let faults = market_faults(Faults {
        stall: Some(Duration::from_millis(1500)),
        stall_every: EVERY as u64,
        ..Faults::default()
    });
    let (_dir, run) = run_against_sandbox_cfg(
        faults,
        &["recorded", "resync", "pong"],
        &[],
        // PINGs every 0.1 s: the sandbox answers them whenever it is not stalled (also while
        // it holds the replay at a window boundary), so only a stall makes the line go quiet.
        "\n[feeds.polymarket]\nping_secs = 0.1\nstale_secs = 0.5\n",
    );
    let stalls = run.status.stalls_injected;
    assert!(stalls >= 2, "only {stalls} stalls injected");
    let gaps: Vec<(u64, String, String)> = gaps(&run.rec)
        .into_iter()
        .filter(|g| g.1 == "polymarket-market")
        .collect();
    assert_eq!(gaps.len() as u64, stalls, "one gap per stall: {gaps:?}");
    assert!(
        gaps.iter()
            .all(|g| g.2.starts_with("stale: no frame for 0.5 s")),
        "{gaps:?}"
    );
    // The served frames by connection, and the recorded frames split at the gap markers.
    let served = &run.served.frames["/ws/market"];
    // (conn, kind, sha), in connection order.
    let conns: Vec<&[(u64, String, String)]> = served.chunk_by(|a, b| a.0 == b.0).collect();
    let recorded = recorded(&run.rec)
        .remove("polymarket-market")
        .unwrap_or_default();
    let mut parts: Vec<Vec<&(u64, String, Vec<u8>)>> = vec![Vec::new(); gaps.len() + 1];
    for f in &recorded {
        let k = gaps.iter().filter(|g| g.0 <= f.0).count();
        parts[k].push(f);
    }
    assert_eq!(
        conns.len(),
        parts.len(),
        "a connection per gap-separated part"
    );
    let lost: Vec<usize> = conns
        .iter()
        .zip(&parts)
        .map(|(c, p)| c.len().saturating_sub(p.len()))
        .collect();
    eprintln!(
        "{stalls} stalls, {} gaps, {} connections, {} frames recorded; served but not read per connection: {lost:?}",
        gaps.len(),
        conns.len(),
        recorded.len()
    );
    for (k, (conn, part)) in conns.iter().zip(&parts).enumerate() {
        // Everything the connection delivered before it went silent was recorded, in order;
        // what the sandbox wrote into it after the collector gave up is lost inside the gap.
        let want: Vec<&str> = conn.iter().map(|c| c.2.as_str()).collect();
        let got: Vec<&str> = part.iter().map(|p| p.1.as_str()).collect();
        assert!(
            want.starts_with(&got),
            "part {k}: {} recorded frames are not a prefix of the {} served",
            got.len(),
            want.len()
        );
        if k < gaps.len() {
            let data = conn[..got.len()].iter().filter(|c| c.1 != "pong").count();
            assert!(
                data >= EVERY,
                "part {k}: only {data} data frames before the stall"
            );
        } else {
            assert_eq!(
                got.len(),
                want.len(),
                "the last connection is recorded whole"
            );
        }
        if k > 0 {
            // The first data frame (PONGs to our PINGs may come before it) is a resync book.
            let j = conn.iter().position(|c| c.1 != "pong").unwrap();
            assert_eq!(
                conn[j].1, "resync",
                "connection {k} starts with {:?}",
                conn[j].1
            );
            assert!(part.len() > j, "part {k}: resync not recorded");
            let first: Value = serde_json::from_slice(&part[j].2).unwrap();
            assert_eq!(
                first["event_type"], "book",
                "resync frame is a book snapshot"
            );
        }
    }
}

#[test]
fn bad_frames_are_counted_logged_and_survived() {
    let faults = Faults {
        malformed_rate: 0.02,
        seed: 7,
        oversize_every: Some(500),
        ..Faults::default()
    };
    let (_dir, run) = run_against_sandbox(faults, &["recorded", "resync", "pong", "malformed"]);
    // Malformed and unknown frames are recorded raw; oversize ones are not (gap instead).
    let market = assert_same_frames(&run, "/ws/market", "polymarket-market");
    assert!(run.status.malformed_injected > 0 && run.status.oversize_injected > 0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("polymarket-market"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let cols: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect();
    let (frames, gaps_n, malformed, unknown, oversize) =
        (cols[0], cols[2], cols[3], cols[4], cols[5]);
    assert_eq!(frames, market.len() as u64);
    assert!(malformed > 0 && unknown > 0, "{line}");
    // Oversize frames on every endpoint (the Binance one too) are counted per stream.
    let oversize_all: u64 = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("polymarket-market") || l.starts_with("binance-usdm-market"))
        .map(|l| l.split_whitespace().nth(6).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(oversize_all, run.status.oversize_injected, "{}", run.stdout);
    assert!(oversize > 0);
    assert_eq!(
        gaps_n, oversize,
        "one gap marker per dropped oversize frame"
    );
    let injected_market = run.served.frames["/ws/market"]
        .iter()
        .filter(|f| f.1 == "malformed")
        .count() as u64;
    assert_eq!(malformed + unknown, injected_market, "{line}");
    for what in [
        "kind=\"malformed\"",
        "kind=\"unknown\"",
        "oversize frame not recorded",
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(what) && l.contains("polymarket-market")),
            "no log line with {what} and the stream name"
        );
    }
    // It kept running: frames after the last injected fault were recorded.
    let last_fault = run.served.frames["/ws/market"]
        .iter()
        .rposition(|f| f.1 == "malformed")
        .unwrap();
    assert!(last_fault + 1 < run.served.frames["/ws/market"].len());
}

/// A WebSocket server on 127.0.0.1 that, after the first client message, sends an RTDS
/// `crypto_prices` update every 2 ms, each carrying its sequence number; it records the wall
/// time each frame was written.
fn rtds_server() -> (String, Arc<Mutex<Vec<u64>>>, std::thread::JoinHandle<()>) {
    rtds_server_every(Some(Duration::from_millis(2)))
}

/// As [`rtds_server`], sending a frame every `period` (`None`: as fast as the socket takes
/// them).
fn rtds_server_every(
    period: Option<Duration>,
) -> (String, Arc<Mutex<Vec<u64>>>, std::thread::JoinHandle<()>) {
    use futures_util::{SinkExt, StreamExt};
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sent2 = sent.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let Ok((tcp, _)) = listener.accept().await else { return };
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
            let _ = ws.next().await;
            let start = Instant::now();
            for seq in 0u64.. {
                let ms = 1_776_081_600_000 + seq;
                let f = format!(
                    r#"{{"topic":"crypto_prices","type":"update","timestamp":{ms},"payload":{{"symbol":"btcusdt","timestamp":{ms},"value":{seq}.5,"full_accuracy_value":"{seq}.5"}}}}"#
                );
                if ws.send(tokio_tungstenite::tungstenite::Message::text(f)).await.is_err() {
                    return;
                }
                sent2.lock().unwrap().push(polyedge_feeds::sink::wall_ns());
                if start.elapsed() > Duration::from_mins(1) {
                    return;
                }
                match period {
                    Some(p) => tokio::time::sleep(p).await,
                    None if seq % 64 == 0 => tokio::task::yield_now().await,
                    None => {}
                }
            }
        });
    });
    (addr, sent, h)
}

#[test]
fn sigkill_loses_at_most_the_last_second() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, sent, server) = rtds_server();
    let cfg = rtds_only_config(&addr, "");
    let config = dir.path().join("polyedge.toml");
    std::fs::write(&config, cfg).unwrap();
    let rec = dir.path().join("killed");
    let mut running = spawn_collect(&config, &rec, &[]);
    let t0 = Instant::now();
    while sent.lock().unwrap().len() < 1000 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "server sent too little: {}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    running.child.kill().unwrap(); // SIGKILL
    let kill_ns = polyedge_feeds::sink::wall_ns();
    running.child.wait().unwrap();
    server.join().unwrap();
    let sent = sent.lock().unwrap().clone();
    let frames = recorded(&rec).remove("rtds").unwrap_or_default();
    // In order, no duplicates, nothing invented: frame k carries sequence number k.
    for (k, f) in frames.iter().enumerate() {
        let v: Value = serde_json::from_slice(&f.2).unwrap();
        assert_eq!(v["payload"]["full_accuracy_value"], format!("{k}.5"));
    }
    let must_have = sent
        .iter()
        .filter(|&&t| t + 1_000_000_000 <= kill_ns)
        .count();
    assert!(must_have >= 500, "test too short: {must_have}");
    assert!(
        frames.len() >= must_have,
        "recorded {} frames, but {must_have} were sent more than 1 s before the kill",
        frames.len()
    );
    // The unfinished recording still opens and reports no finish; inspect reads it.
    assert!(!Recording::open(&rec).unwrap().is_finished());
    let out = bin().arg("inspect").arg(&rec).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("stream rtds: "));
}

/// The config of the kill and disk tests: RTDS from `addr`, everything else off; `extra` is
/// added to `[collect]`.
fn rtds_only_config(addr: &str, extra: &str) -> String {
    rtds_config(addr, extra, None)
}

/// As [`rtds_only_config`], with Coinbase on at `coinbase_ws` when given.
fn rtds_config(addr: &str, extra: &str, coinbase_ws: Option<&str>) -> String {
    let (coinbase_endpoint, coinbase_on) = match coinbase_ws {
        Some(url) => (format!("coinbase_ws = \"{url}\""), true),
        None => (String::new(), false),
    };
    format!(
        r#"
[collect]
flush_ms = 200
discovery_secs = 60
min_free_mb = 0
warn_free_mb = 0
{extra}
[endpoints]
gamma = "http://127.0.0.1:9/gamma"
rtds_ws = "ws://{addr}/rtds"
{coinbase_endpoint}
[feeds.polymarket]
enabled = false
[feeds.rtds]
topics = ["crypto_prices"]
[feeds.binance_spot]
enabled = false
[feeds.binance_usdm]
enabled = false
[feeds.binance_usdm_market]
enabled = false
[feeds.coinbase]
enabled = {coinbase_on}
[feeds.deribit]
enabled = false
"#
    )
}

/// Issue 15: a writer that lags far behind its input (a slow disk, simulated at ~300 µs per
/// frame while the server sends as fast as the socket takes) must not let a `kill -9` lose more
/// than the last second of received frames. Before the time bound, the queue grew to its
/// 256 MiB byte budget and a kill lost many seconds.
#[test]
fn sigkill_with_a_lagging_writer_loses_at_most_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, sent, server) = rtds_server_every(None);
    let config = dir.path().join("polyedge.toml");
    std::fs::write(
        &config,
        rtds_only_config(&addr, "max_loss_ms = 1000\nsimulate_slow_disk_us = 300"),
    )
    .unwrap();
    let rec = dir.path().join("killed");
    let mut running = spawn_collect(&config, &rec, &[]);
    let t0 = Instant::now();
    while sent.lock().unwrap().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "server sent nothing: {}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Four seconds of lagging behind a flood.
    std::thread::sleep(Duration::from_secs(4));
    running.child.kill().unwrap(); // SIGKILL
    let kill_ns = polyedge_feeds::sink::wall_ns();
    running.child.wait().unwrap();
    let server_sent = sent.lock().unwrap().len();
    drop(server);
    let frames = recorded(&rec).remove("rtds").unwrap_or_default();
    // In order, no duplicates, nothing invented: frame k carries sequence number k.
    for (k, f) in frames.iter().enumerate() {
        let v: Value = serde_json::from_slice(&f.2).unwrap();
        assert_eq!(v["payload"]["full_accuracy_value"], format!("{k}.5"));
    }
    let last_recv = frames.last().map_or(0, |f| f.0);
    let lost_ns = kill_ns.saturating_sub(last_recv);
    eprintln!(
        "lagging writer: server sent {server_sent} frames, {} recorded; the last recorded frame \
         was received {} ms before the kill",
        frames.len(),
        lost_ns / 1_000_000
    );
    // The writer did lag: the server pushed far more into the socket than was written.
    assert!(
        frames.len() > 1000,
        "too few frames recorded: {}",
        frames.len()
    );
    assert!(server_sent > 2 * frames.len(), "the writer did not lag");
    // Everything received more than 1 s before the kill is in the files. (The collector kept
    // reading at the writer's pace until the kill, so frames received after the last one
    // recorded — the loss — were received within the last `lost_ns`.)
    assert!(
        lost_ns <= 1_000_000_000,
        "the last recorded frame was received {} ms before the kill: more than 1 s lost",
        lost_ns / 1_000_000
    );
    assert!(!Recording::open(&rec).unwrap().is_finished());
    let out = bin().arg("verify").arg(&rec).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A write that fails (the disk filled faster than the free-space check, injected here as the
/// file-size limit `ulimit -f` of the collector, which makes a write fail with EFBIG — no
/// privileges needed) stops collect with an error naming it; everything written stays readable:
/// the recording is unfinished and its streams end at most in torn tails.
#[test]
fn a_failing_write_stops_collect_and_keeps_the_recording_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _sent, _server) = rtds_server_every(None);
    let config = dir.path().join("polyedge.toml");
    // No free-space stop: the write itself must fail.
    std::fs::write(&config, rtds_only_config(&addr, "")).unwrap();
    let rec = dir.path().join("full");
    // 1 MiB per file (ulimit -f counts 1024-byte blocks); SIGXFSZ ignored so the write fails
    // instead of killing the process.
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 1024; exec "$0" collect --config "$1" --out "$2" --duration 120"#)
        .arg(env!("CARGO_BIN_EXE_polyedge"))
        .arg(&config)
        .arg(&rec)
        .env("RUST_LOG", "warn,polyedge_feeds=info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "collect must fail: {stderr}");
    assert!(
        stderr.contains("File too large") && stderr.contains("recording writer failed"),
        "{stderr}"
    );
    let r = Recording::open(&rec).unwrap();
    assert!(!r.is_finished());
    let frames = recorded(&rec).remove("rtds").unwrap_or_default();
    assert!(frames.len() > 1000, "{} frames", frames.len());
    for (k, f) in frames.iter().enumerate() {
        let v: Value = serde_json::from_slice(&f.2).unwrap();
        assert_eq!(v["payload"]["full_accuracy_value"], format!("{k}.5"));
    }
    let out = bin().arg("verify").arg(&rec).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = bin().arg("inspect").arg(&rec).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- Tables while collecting: Parquet (read back by pyarrow) and ClickHouse ----

#[path = "../../tables/tests/common/ch.rs"]
mod ch;

use polyedge_tables::clickhouse::{BlockingEventReplay, BlockingFrameReplay, ChConfig, ChDb};

/// Runs `crates/tables/tests/check_parquet.py` (pyarrow) on `spec`; panics on any mismatch.
/// pyarrow is required (`.ci/run` installs it): a missing reader fails the test.
fn check_with_pyarrow(spec: &Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(spec).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tables/tests/check_parquet.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&spec_path)
        .output()
        .expect("python3 must be installed (with pyarrow: pip install pyarrow==26.0.1)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(" 0 failed"),
        "pyarrow check failed ({}):\n{stdout}\n{}\n(pyarrow missing? pip install pyarrow==26.0.1)",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The Parquet tables `collect` wrote equal what the recording replays: row counts per table
/// from the replayed events (every book snapshot present), the window index, and concrete
/// values of a book level, a kline and a window. Tables without events have no files.
fn check_collected_parquet(rec_dir: &Path) -> String {
    let mut books = 0u64;
    let mut book_rows = 0u64;
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut book_keys: BTreeMap<(u64, String), Vec<Value>> = BTreeMap::new();
    let mut kline_keys: BTreeMap<(u64, String), Vec<Value>> = BTreeMap::new();
    let e8 = |x: polyedge_core::Fixed18| {
        assert_eq!(x.0 % 10_000_000_000, 0, "more than 8 decimals: {x}");
        i64::try_from(x.0 / 10_000_000_000).unwrap()
    };
    for ev in EventReplay::open_dirs(&[rec_dir], ReplayFilter::default()).unwrap() {
        let ev = ev.unwrap();
        let table = match &ev.kind {
            EventKind::Book(b) => {
                books += 1;
                book_rows += (b.bids.len() + b.asks.len()).max(1) as u64;
                book_keys
                    .entry((ev.recv_ns.0, b.token.to_string()))
                    .or_default()
                    .push(b.bids.first().map_or(Value::Null, |l| {
                        json!({"price_e6": i64::from(l.price.micros()),
                               "size_e6": i64::try_from(l.size.micros()).unwrap(),
                               "market": b.market.to_string()})
                    }));
                "book_snapshots"
            }
            EventKind::BookDelta(_) => "book_deltas",
            EventKind::LastTrade(_) => "trades",
            EventKind::BestBidAsk(_) => "best_bid_ask",
            EventKind::SpotTrade(_) => "spot_trades",
            EventKind::SpotQuote(_) => "spot_quotes",
            EventKind::Reference(_) => "reference_prices",
            EventKind::Kline(k) => {
                kline_keys
                    .entry((ev.recv_ns.0, k.symbol.as_str().to_string()))
                    .or_default()
                    .push(json!({
                        "open_time_ns": i64::try_from(k.open_time.0).unwrap(),
                        "close_time_ns": i64::try_from(k.close_time.0).unwrap(),
                        "open_e8": e8(k.open), "high_e8": e8(k.high), "low_e8": e8(k.low),
                        "close_e8": e8(k.close), "volume_e8": e8(k.volume), "closed": k.closed,
                    }));
                "klines"
            }
            _ => continue,
        };
        *counts.entry(table).or_default() += 1;
    }
    assert!(
        books > 0 && counts.get("klines").is_some_and(|&n| n > 0),
        "sample too small: {counts:?}"
    );
    let rec = Recording::open(rec_dir).unwrap();
    let index_lines = std::fs::read_to_string(rec_dir.join("windows.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(index_lines, rec.windows().len());
    assert!(index_lines > 0);
    let w = &rec.windows()[0];
    let (bkey, bval) = book_keys
        .iter()
        .find(|(_, v)| v.len() == 1 && !v[0].is_null())
        .expect("a book with bids alone at its (recv_ns, token)");
    let (kkey, kval) = kline_keys
        .iter()
        .find(|(_, v)| v.len() == 1)
        .expect("a kline alone at its (recv_ns, symbol)");
    let tables_dir = rec_dir.join("tables");
    let mut tables = serde_json::Map::new();
    for t in [
        "book_snapshots",
        "book_deltas",
        "trades",
        "best_bid_ask",
        "spot_trades",
        "spot_quotes",
        "reference_prices",
        "klines",
    ] {
        match counts.get(t) {
            Some(&n) => {
                tables.insert(t.to_string(), json!({"rows": n}));
            }
            None => assert!(
                !tables_dir.join(t).exists(),
                "{t}: no events, but a table directory"
            ),
        }
    }
    tables["book_snapshots"] = json!({
        "rows": book_rows,
        "distinct": {"stream,segment_hour,segment_seq,record,event": books},
        "types": {"recv_ns": "int64", "price_e6": "int64", "token": "string"},
        "rows_eq": [{
            "where": {"recv_ns": i64::try_from(bkey.0).unwrap(), "token": bkey.1,
                      "side": "bid", "level": 0},
            "expect": bval[0],
        }],
    });
    tables["klines"] = json!({
        "rows": counts["klines"],
        "count_where": [[{"stream": "binance-usdm-market"}, counts["klines"]]],
        "rows_eq": [{
            "where": {"recv_ns": i64::try_from(kkey.0).unwrap(), "symbol": kkey.1},
            "expect": kval[0],
        }],
    });
    tables.insert(
        "windows".to_string(),
        json!({"rows": index_lines, "files": 1, "rows_eq": [{
            "where": {"slug": w.slug},
            "expect": {
                "up_token": w.up_token.as_ref().map(ToString::to_string),
                "down_token": w.down_token.as_ref().map(ToString::to_string),
                "condition_id": w.condition_id.as_ref().map(ToString::to_string),
                "start_ns": i64::try_from(w.start.0).unwrap(),
                "end_ns": i64::try_from(w.end.0).unwrap(),
            },
        }]}),
    );
    check_with_pyarrow(&json!({"dir": tables_dir, "tables": tables}))
}

/// Replay from ClickHouse (recording `name`) equals replay from `rec_dir`: every frame
/// (stream, recv_ns, bytes) and every event. Returns the frame count.
fn assert_clickhouse_replay_equals_files(db: &ChDb, name: &str, rec_dir: &Path) -> usize {
    let filter = ReplayFilter::default();
    let mut files = Vec::new();
    let mut r = FrameReplay::open_dirs(&[rec_dir], filter.clone()).unwrap();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        files.push((f.stream.name.clone(), f.recv_ns.0, f.bytes.to_vec()));
    }
    let names = vec![name.to_string()];
    let from_ch: Vec<(String, u64, Vec<u8>)> = BlockingFrameReplay::open(db, &names, &filter)
        .unwrap()
        .map(|f| {
            let f = f.unwrap();
            (f.stream.name, f.recv_ns.0, f.bytes)
        })
        .collect();
    assert_eq!(
        files.len(),
        from_ch.len(),
        "frame counts: files vs ClickHouse"
    );
    for (i, (a, b)) in files.iter().zip(&from_ch).enumerate() {
        assert_eq!(a, b, "frame #{i} differs between files and ClickHouse");
    }
    let ev_files: Vec<polyedge_core::MarketEvent> =
        EventReplay::open_dirs(&[rec_dir], filter.clone())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let db = ChDb::new(db.config().clone()); // a fresh connection pool for the new runtime
    let ev_ch: Vec<polyedge_core::MarketEvent> = BlockingEventReplay::open(&db, &names, &filter)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        ev_files.len(),
        ev_ch.len(),
        "event counts: files vs ClickHouse"
    );
    assert!(
        ev_files == ev_ch,
        "events differ between files and ClickHouse"
    );
    files.len()
}

fn segments_of(rec_dir: &Path) -> usize {
    Recording::open(rec_dir).unwrap().segments().count()
}

#[test]
#[cfg_attr(
    not(all(feature = "pyarrow-tests", feature = "clickhouse-tests")),
    ignore = "needs Python's pyarrow and Debian's clickhouse-server (scripts/test installs both)"
)]
fn collect_converts_closed_segments_to_parquet_and_clickhouse() {
    let server = ch::ChServer::start();
    let url = server.url("pe_collect");
    let extra: Vec<String> = vec!["--clickhouse".to_string(), url.clone()];
    let (_dir, run) =
        run_against_sandbox_with(Faults::default(), &["recorded", "resync", "pong"], &extra);
    eprintln!("collect printed:\n{}", run.stdout);
    let market = assert_same_frames(&run, "/ws/market", "polymarket-market");
    assert!(market.len() > 1000);
    let segments = segments_of(&run.rec);

    // Parquet: every closed segment exported, read back by pyarrow.
    assert!(
        run.stdout
            .contains(&format!("parquet: {segments} segments exported")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" 0 failures"), "{}", run.stdout);
    let checked = check_collected_parquet(&run.rec);
    eprintln!("{checked}");

    // ClickHouse: every segment loaded and marked, replay equals replay from the files.
    assert!(
        run.stdout.contains(&format!(
            "(recording collected): {segments} segments loaded"
        )) && run
            .stdout
            .contains("0 failed attempts, 0 segments not loaded"),
        "{}",
        run.stdout
    );
    // (A ChDb's pooled connections belong to the runtime that used them: one per runtime.)
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = ChDb::new(ChConfig::parse(&url).unwrap());
    let loaded = rt.block_on(db.loaded_segments("collected")).unwrap();
    assert_eq!(loaded.len(), segments, "every segment marked loaded");
    let windows = rt.block_on(db.windows("collected")).unwrap();
    assert_eq!(windows, Recording::open(&run.rec).unwrap().windows());
    let db = ChDb::new(ChConfig::parse(&url).unwrap());
    let n = assert_clickhouse_replay_equals_files(&db, "collected", &run.rec);
    assert!(n > market.len());
    // A later backfill finds nothing missing.
    let out = bin()
        .arg("backfill")
        .arg(&run.rec)
        .args(["--clickhouse", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "0 segments loaded ({segments} already loaded, skipped"
        )),
        "{text}"
    );
}

#[test]
fn a_clickhouse_that_never_answers_times_out_and_collect_still_finishes() {
    // A listener that never accepts: connections complete in its backlog, requests get no
    // answer — a hung server or a half-open connection, as seen from the client.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/pe_hung", hung.local_addr().unwrap());
    let (_dir, run) = run_against_sandbox_cfg(
        Faults::default(),
        &["recorded", "resync", "pong"],
        &["--clickhouse".to_string(), url, "--no-parquet".to_string()],
        "\n[tables]\nclickhouse_timeout_secs = 1.0\n",
    );
    eprintln!("collect printed:\n{}", run.stdout);
    // The recording is unaffected and complete.
    assert_same_frames(&run, "/ws/market", "polymarket-market");
    assert_nothing_loaded(&run);
    assert!(
        run.stdout.contains("no answer within 1 s"),
        "the timeout is the last error: {}",
        run.stdout
    );
    drop(hung);
}

/// Collect's report and log for a ClickHouse that never took anything: no segment loaded,
/// every segment listed as not loaded, the backfill command printed, the warning logged.
/// Returns the number of segments.
fn assert_nothing_loaded(run: &Run) -> usize {
    let segments = segments_of(&run.rec);
    assert!(
        run.stdout.contains("0 segments loaded (0 frames)")
            && run
                .stdout
                .contains(&format!("{segments} segments not loaded")),
        "{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("polyedge backfill"),
        "the report says how to load the rest: {}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("ClickHouse: creating the schema failed"),
        "warning logged: {}",
        run.stderr
    );
    segments
}

#[test]
#[cfg_attr(
    not(feature = "clickhouse-tests"),
    ignore = "needs Debian's clickhouse-server (scripts/test installs it, or apt-get install clickhouse-server)"
)]
fn clickhouse_down_during_collect_loses_nothing_after_backfill() {
    let server = ch::ChServer::start();
    // A port nobody listens on: ClickHouse "down" for the whole collection.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{dead_port}/pe_down");
    let (_dir, run) = run_against_sandbox_with(
        Faults::default(),
        &["recorded", "resync", "pong"],
        &[
            "--clickhouse".to_string(),
            dead.clone(),
            "--no-parquet".to_string(),
        ],
    );
    eprintln!("collect printed:\n{}", run.stdout);
    // Recording unaffected.
    let market = assert_same_frames(&run, "/ws/market", "polymarket-market");
    assert_same_frames(&run, "/binance-usdm/market/stream", "binance-usdm-market");
    assert!(!run.rec.join("tables").exists(), "--no-parquet");
    let segments = assert_nothing_loaded(&run);
    // Backfill later into the (now reachable) server: everything is there.
    let url = server.url("pe_down");
    let out = bin()
        .arg("backfill")
        .arg(&run.rec)
        .args(["--clickhouse", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("recording collected: {segments} segments loaded")),
        "{text}"
    );
    let db = ChDb::new(ChConfig::parse(&url).unwrap());
    let n = assert_clickhouse_replay_equals_files(&db, "collected", &run.rec);
    assert!(n > market.len());
}

/// `collect --control`: `/metrics` counts the frames of a live feed, `/health/live` answers 200,
/// and `/health/ready` answers 503 naming the feed that cannot connect (a Coinbase endpoint
/// where nothing listens) while the other one is up.
#[test]
fn the_control_port_exports_feed_metrics_and_names_the_feed_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, sent, _server) = rtds_server_every(Some(Duration::from_millis(5)));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let cfg = rtds_config(
        &addr,
        "backoff_min_ms = 50\nbackoff_max_ms = 200",
        Some(&format!("ws://{dead_addr}/")),
    );
    let config = dir.path().join("polyedge.toml");
    std::fs::write(&config, cfg).unwrap();
    let rec = dir.path().join("rec");
    let running = spawn_collect(&config, &rec, &["--control".into(), "127.0.0.1:0".into()]);
    let t0 = Instant::now();
    let control = loop {
        let err = running.stderr();
        if let Some(rest) = err.split("control port http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no control port announced:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Wait until the RTDS stream has recorded frames and coinbase has failed to connect.
    let (metrics, ready) = loop {
        let (st, m) = http_get(&control, "/metrics");
        assert_eq!(st, 200, "{m}");
        let frames = metric(&m, "polyedge_feed_frames_total", r#"feed="rtds""#).unwrap_or(0.0);
        let failures = metric(
            &m,
            "polyedge_feed_connect_failures_total",
            r#"feed="coinbase""#,
        )
        .unwrap_or(0.0);
        if frames >= 50.0 && failures >= 1.0 {
            break (m, http_get(&control, "/health/ready"));
        }
        assert!(
            t0.elapsed() < Duration::from_mins(1),
            "metrics never showed rtds frames and coinbase failures:\n{m}\n{}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        metrics.contains("# TYPE polyedge_feed_frames_total counter"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# HELP polyedge_feed_frames_total"),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "polyedge_feed_connected", r#"feed="rtds""#),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "polyedge_feed_connected", r#"feed="coinbase""#),
        Some(0.0)
    );
    let frames = metric(&metrics, "polyedge_feed_frames_total", r#"feed="rtds""#).unwrap();
    assert!(
        frames <= sent.lock().unwrap().len() as f64,
        "more frames counted ({frames}) than the server sent"
    );
    assert!(
        metric(
            &metrics,
            "polyedge_feed_last_frame_age_seconds",
            r#"feed="rtds""#
        )
        .unwrap()
            < 5.0
    );
    assert_eq!(ready.0, 503, "{}", ready.1);
    let v: Value = serde_json::from_str(&ready.1).unwrap();
    assert_eq!(v["status"], "unavailable", "{v}");
    assert_eq!(v["down"], serde_json::json!(["coinbase"]), "{v}");
    assert_eq!(v["streams"]["rtds"]["state"], "up", "{v}");
    let (st, live) = http_get(&control, "/health/live");
    assert_eq!(st, 200, "{live}");
    assert!(live.contains(r#""status":"ok""#), "{live}");
    let out = running.terminate();
    assert!(out.contains("rtds"), "{out}");
}
