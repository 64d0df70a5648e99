//! End-to-end tests of `polyedge tables`, `polyedge backfill` and `polyedge replay
//! --clickhouse` through the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../tables/tests/common/mod.rs"]
mod common;

use common::ch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyedge"))
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run polyedge")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "polyedge failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

fn import_sample(out: &Path) {
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(out),
    );
}

#[test]
fn tables_writes_parquet_and_reports_a_damaged_segment_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import_sample(&rec);
    let report = run_ok(bin().arg("tables").arg(&rec));
    assert!(report.contains("33715 frames (0 not parsed)"), "{report}");
    assert!(report.contains("klines: 65 rows"), "{report}");
    assert!(report.contains("windows: 10 rows"), "{report}");
    let f = rec.join("tables/book_snapshots/20260415T12.polymarket-market.parquet");
    assert!(f.is_file());

    // A segment that is not zstd at all: named in the error, the rest still exported.
    let bad = rec.join("capture/polymarket-market/20260415T14.seg.zst");
    std::fs::write(&bad, b"this is not a segment").unwrap();
    let out_dir = tmp.path().join("out");
    let out = run(bin().arg("tables").arg(&rec).arg("--out").arg(&out_dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("20260415T14.seg.zst"), "{stdout}");
    assert!(stderr.contains("damaged segment"), "{stderr}");
    assert!(
        out_dir
            .join("book_snapshots/20260415T13.polymarket-market.parquet")
            .is_file()
    );

    let out = run(bin().arg("tables").arg(tmp.path().join("missing")));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

#[test]
#[cfg_attr(
    not(feature = "clickhouse-tests"),
    ignore = "needs Debian's clickhouse-server (scripts/test installs it, or apt-get install clickhouse-server)"
)]
fn backfill_then_replay_from_clickhouse_prints_what_replay_from_files_prints() {
    let server = ch::ChServer::start();
    // The hand-built recording (a frame for every table; the sample is loaded by the
    // library's ClickHouse test).
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("hand-rec");
    common::write_hand_recording(&rec);
    let url = server.url("pe_cli");
    let report = run_ok(bin().arg("backfill").arg(&rec).args(["--clickhouse", &url]));
    assert!(
        report.contains("recording hand-rec: 5 segments loaded"),
        "{report}"
    );
    assert!(
        report.contains("13 frames (1 not parsed), 1 windows"),
        "{report}"
    );
    assert!(report.contains("book_snapshots: 4 rows"), "{report}");
    let again = run_ok(bin().arg("backfill").arg(&rec).args(["--clickhouse", &url]));
    assert!(
        again.contains("0 segments loaded (5 already loaded, skipped"),
        "{again}"
    );

    for args in [
        &[][..],
        &["--window", common::SLUG][..],
        &["--from", "1776257401", "--to", "1776258000.6"][..],
    ] {
        let files = run_ok(bin().arg("replay").arg(&rec).args(args));
        let from_ch = run_ok(
            bin()
                .args(["replay", "--clickhouse", &url, "hand-rec"])
                .args(args),
        );
        assert!(files.lines().count() >= 3, "{args:?}: {files}");
        assert_eq!(
            files, from_ch,
            "{args:?}: replay from ClickHouse differs from replay from files"
        );
    }

    let out = run(bin().args(["replay", "--clickhouse", &url, "nope"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no recording \"nope\""));
}

/// Issue 15: `backfill` and `replay --clickhouse` against a server that accepts connections but
/// never answers fail after their time limit, naming the server and what they were doing,
/// instead of waiting forever.
#[test]
fn backfill_and_replay_give_up_on_a_server_that_never_answers() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/pe_silent", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(std::io::Read::read(&mut c, &mut buf), Ok(n) if n > 0) {}
                std::thread::sleep(std::time::Duration::from_mins(10));
            });
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import_sample(&rec);
    let t0 = std::time::Instant::now();
    for args in [
        vec![
            "backfill".to_string(),
            rec.display().to_string(),
            "--clickhouse".into(),
            url.clone(),
            "--clickhouse-timeout".into(),
            "1".into(),
        ],
        vec![
            "replay".to_string(),
            "--clickhouse".into(),
            url.clone(),
            "--clickhouse-timeout".into(),
            "1".into(),
        ],
    ] {
        let out = run(bin().args(&args));
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no answer within 1 s") && err.contains("127.0.0.1"),
            "{args:?}: {err}"
        );
    }
    assert!(t0.elapsed() < std::time::Duration::from_mins(1));
}
