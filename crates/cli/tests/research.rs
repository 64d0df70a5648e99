//! End-to-end tests of the research commands through the built binary, on the bundled sample:
//! `polyedge sweep` (twice: byte-identical), `--shard` + `sweep merge` (the single run's
//! table), `polyedge walk-forward`, and `polyedge replay`'s decimal prices.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run polyedge");
    assert!(
        out.status.success(),
        "polyedge failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

const GRID: [&str; 6] = [
    "--strategy",
    "fair_value",
    "--param",
    "threshold_bps=100,400",
    "--param",
    "sizing.kelly_fraction=0.1,0.25",
];

#[test]
fn sweep_is_reproducible_and_shards_merge_into_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    run_ok(
        bin()
            .args(["import", "cronos"])
            .arg(repo("data/sample"))
            .arg("--out")
            .arg(&rec),
    );
    let sweep = |extra: &[&str], out: &Path| {
        run_ok(
            bin()
                .arg("sweep")
                .arg("--recording")
                .arg(&rec)
                .args(GRID)
                .args(extra)
                .arg("--out")
                .arg(out),
        )
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let out = sweep(&[], &a);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("deflated Sharpe"), "{stdout}");
    assert!(
        stdout.contains("4 configurations of fair_value"),
        "{stdout}"
    );
    sweep(&["--threads", "1"], &b);
    for f in ["sweep.csv", "sweep.parquet", "sweep.json", "sweep.html"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two runs with the same seed"
        );
    }
    let csv = std::fs::read_to_string(a.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("index,threshold_bps,sizing.kelly_fraction,net_pnl,"));

    let (s0, s1, m) = (
        tmp.path().join("s0"),
        tmp.path().join("s1"),
        tmp.path().join("m"),
    );
    sweep(&["--shard", "0/2"], &s0);
    let out = sweep(&["--shard", "1/2"], &s1);
    assert!(
        text(&out.stdout).contains("shard 1/2"),
        "{}",
        text(&out.stdout)
    );
    run_ok(
        bin()
            .args(["sweep", "merge"])
            .arg(&s0)
            .arg(&s1)
            .arg("--out")
            .arg(&m),
    );
    assert_eq!(
        std::fs::read(m.join("sweep.csv")).unwrap(),
        std::fs::read(a.join("sweep.csv")).unwrap(),
        "merged shards differ from the single run"
    );
    // A missing shard is refused.
    let out = bin()
        .args(["sweep", "merge"])
        .arg(&s0)
        .arg("--out")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("missing"),
        "{}",
        text(&out.stderr)
    );

    // Walk-forward in minutes on the sample's 50 minutes.
    let wf = tmp.path().join("wf");
    let out = run_ok(
        bin()
            .arg("walk-forward")
            .arg("--recording")
            .arg(&rec)
            .args(GRID)
            .args(["--train", "20m", "--test", "10m", "--out"])
            .arg(&wf),
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("out of sample, pooled"), "{stdout}");
    assert!(wf.join("walkforward.html").is_file());

    // replay prints prices and sizes as decimal strings.
    let out = run_ok(bin().arg("replay").arg(&rec).args(["--limit", "50"]));
    let stdout = text(&out.stdout);
    let v: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["kind"]["Book"]["bids"][0].is_object())
        .expect("a book event with bids");
    let level = &v["kind"]["Book"]["bids"][0];
    let price = level["price"].as_str().expect("price as a string");
    assert!(price.starts_with("0.") && price.len() <= 8, "{price}");
    assert!(level["size"].is_string(), "{level}");
}
