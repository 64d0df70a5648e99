//! `polyedge sandbox` as a process: ready file, frames over a real socket, served log, SIGTERM
//! shutdown with the final counters on stdout; and bad arguments.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use polyedge_store::{FrameReplay, Recording, ReplayFilter};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyedge"))
}

fn import_sample(out: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let st = bin()
        .args(["import", "cronos"])
        .arg(&src)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

fn sha(b: &[u8]) -> String {
    polyedge_sandbox::sha256_hex(b)
}

#[test]
fn sandbox_process_serves_logs_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    import_sample(&rec);
    let ready = dir.path().join("ready.json");
    let log = dir.path().join("served.jsonl");
    let child = bin()
        .arg("sandbox")
        .arg(&rec)
        .args(["--speed", "max", "--gate-wait", "200", "--ready-file"])
        .arg(&ready)
        .arg("--served-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ready.exists() {
        assert!(t0.elapsed() < Duration::from_mins(1), "no ready file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr: Value = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    let addr = addr["addr"].as_str().unwrap().to_owned();

    // The first 20 frames of the first window's recorded token, byte-identical.
    let w = Recording::open(&rec).unwrap().windows()[0].clone();
    let token = w.down_token.or(w.up_token).unwrap().to_string();
    let mut want = Vec::new();
    let mut r = FrameReplay::open_dirs(&[&rec], ReplayFilter::default()).unwrap();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        let v: Value = serde_json::from_slice(f.bytes).unwrap();
        if f.stream.name == "polymarket-market" && v["asset_id"] == json!(token) {
            want.push(sha(f.bytes));
            if want.len() == 20 {
                break;
            }
        }
    }
    let pid = child.id().to_string();
    let (got, closed_by_server) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/market"))
            .await
            .unwrap();
        let sub = json!({"assets_ids": [token], "type": "market"}).to_string();
        ws.send(Message::text(sub)).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 20 {
            match tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .unwrap()
            {
                Some(Ok(Message::Text(t))) => got.push(sha(t.as_bytes())),
                Some(Ok(_)) => {}
                other => panic!("{other:?}"),
            }
        }
        // SIGTERM while the client is connected: the sandbox closes the socket itself.
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let mut closed = false;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            if let Ok(Message::Close(Some(c))) = m {
                closed = c.reason.as_str() == "sandbox closing";
            }
        }
        (got, closed)
    });
    assert_eq!(got, want);
    assert!(closed_by_server);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("sandbox listening on http://{addr}")),
        "{stderr}"
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        status["written"]["recorded"].as_u64().unwrap() >= 20,
        "{status}"
    );
    assert_eq!(status["connections_total"], json!(1));

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shas: Vec<String> = lines
        .iter()
        .filter(|l| l.get("sha").is_some())
        .take(20)
        .map(|l| l["sha"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        shas, want,
        "the served log names the frames written, in order"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == json!("drop") && l["reason"] == json!("shutdown"))
    );
}

#[test]
fn sandbox_rejects_bad_arguments_with_clear_errors() {
    let out = bin()
        .args(["sandbox", "/nonexistent/recording", "--speed", "max"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("/nonexistent/recording"), "{e}");

    let out = bin()
        .args(["sandbox", "x", "--speed", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("speed") && e.contains("positive"), "{e}");

    let out = bin()
        .args(["sandbox", "x", "--malformed-rate", "1.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed rate"));
}
