//! Parse (+ apply) benchmarks for the hot feed messages.
//!
//! Inputs are real frames: a full-depth `book` from the cronos recording (bundled sample), the real
//! `price_change` frame of `shared/data/fixtures_rsahn_clob_ws_2026-09-21`, and Binance's documented
//! `aggTrade` example. Run with `cargo bench -p polyedge-venues`.
//!
//! Instruction counts: with `POLYEDGE_PARSE_LOOP=<benchmark>:<iterations>` set, the binary runs
//! that benchmark's body in a plain loop (inside `parse_loop`, which nothing else calls) instead
//! of criterion, for `valgrind --tool=callgrind --toggle-collect='*parse_loop*'` (instructions
//! per iteration = the collected total ÷ iterations). Benchmark names: `book`,
//! `price_change_1`, `price_change_2`.
//!
//! On a loaded machine: `POLYEDGE_PARSE_MIN=<benchmark>[,…]` times 300 batches of 2,000
//! iterations each and prints the fastest batch's time per iteration (interference from other
//! processes only ever adds time, so the minimum estimates the unloaded cost) beside the median.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::io::BufRead as _;

use criterion::{Criterion, Throughput};
use polyedge_core::event::EventKind;
use polyedge_core::{OrderBook, TokenId, UnixNanos, WindowBook};
use polyedge_venues::Feed;

fn repo_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The 1000th raw `book` frame of the bundled cronos sample (a typical mid-window full book).
fn cronos_book_frame() -> Vec<u8> {
    let f = std::fs::File::open(repo_path("data/sample/books_2026-04-15.jsonl.zst"))
        .expect("bundled sample");
    let rd = std::io::BufReader::new(zstd::stream::read::Decoder::new(f).expect("zstd"));
    let line = rd.lines().nth(1000).expect("line").expect("utf8");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    serde_json::to_vec(&v["raw"]).expect("raw")
}

/// One price_change frame as the venue sends it (two entries: the Up and Down legs of one order).
fn price_change_frame() -> Vec<u8> {
    let p = repo_path("../shared/data/fixtures_rsahn_clob_ws_2026-09-21/raw_frames_sample.jsonl");
    let text = std::fs::read_to_string(p).expect("rsahn fixture");
    let line = text.lines().nth(1).expect("second line");
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    v["raw"].as_str().expect("raw string").as_bytes().to_vec()
}

/// A one-entry price_change (the benchmark target's shape), real values from the fixture above.
fn price_change_one_entry() -> Vec<u8> {
    let full: serde_json::Value = serde_json::from_slice(&price_change_frame()).expect("json");
    let mut one = full.clone();
    let first = full["price_changes"][0].clone();
    one["price_changes"] = serde_json::Value::Array(vec![first]);
    serde_json::to_vec(&one).expect("ser")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("polymarket");
    for (name, case) in [
        ("book_parse_apply", "book"),
        ("price_change_1_parse_apply", "price_change_1"),
        ("price_change_2_parse_apply", "price_change_2"),
    ] {
        let mut case = Case::new(case);
        g.throughput(Throughput::Bytes(case.frame.len() as u64));
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                black_box(case.run(UnixNanos(i)))
            });
        });
    }
    g.finish();

    let mut out = Vec::with_capacity(8);
    let t = UnixNanos(1);
    let agg = std::fs::read(repo_path(
        "../shared/fixtures/binance/spot_ws_aggTrade_docexample.json",
    ))
    .expect("fixture");
    let mut g = c.benchmark_group("binance");
    g.throughput(Throughput::Bytes(agg.len() as u64));
    g.bench_function("aggTrade_parse", |b| {
        b.iter(|| {
            out.clear();
            Feed::BinanceSpot
                .parse(black_box(&agg), t, &mut out)
                .expect("parse");
            black_box(out.len())
        });
    });
    g.finish();
}

/// The body of one parse+apply benchmark, prepared outside the timed loop.
struct Case {
    frame: Vec<u8>,
    out: Vec<polyedge_core::MarketEvent>,
    book: Option<OrderBook>,
    window: Option<WindowBook>,
}

impl Case {
    fn new(name: &str) -> Case {
        let frame = match name {
            "book" => cronos_book_frame(),
            "price_change_1" => price_change_one_entry(),
            "price_change_2" => price_change_frame(),
            other => panic!("unknown benchmark {other:?} (book, price_change_1, price_change_2)"),
        };
        let mut out = Vec::with_capacity(8);
        Feed::PolymarketMarket
            .parse(&frame, UnixNanos(1), &mut out)
            .expect("parses");
        let first = out[0].kind.token().expect("token");
        let (book, window) = if name == "book" {
            (Some(OrderBook::new(first)), None)
        } else {
            let down = out
                .get(1)
                .and_then(|e| e.kind.token())
                .filter(|d| *d != first)
                .unwrap_or(TokenId::synthetic("x", "down"));
            (None, Some(WindowBook::new(first, down)))
        };
        Case {
            frame,
            out,
            book,
            window,
        }
    }

    /// Parses the frame and applies its events; returns something derived from the book.
    #[inline]
    fn run(&mut self, t: UnixNanos) -> Option<polyedge_core::Price> {
        self.out.clear();
        Feed::PolymarketMarket
            .parse(black_box(&self.frame), t, &mut self.out)
            .expect("parse");
        if let Some(ob) = &mut self.book {
            if let EventKind::Book(s) = &self.out[0].kind {
                ob.apply_snapshot(s, t).expect("apply");
            }
            ob.best_bid().map(|l| l.price)
        } else if let Some(wb) = &mut self.window {
            for e in &self.out {
                wb.apply(e).expect("apply");
            }
            wb.best_ask(polyedge_core::Outcome::Up)
                .map(|l| l.level.price)
        } else {
            None
        }
    }
}

#[inline(never)]
fn parse_loop(case: &mut Case, iterations: u64) {
    for i in 0..iterations {
        black_box(case.run(UnixNanos(i + 1)));
    }
}

fn main() {
    if let Ok(spec) = std::env::var("POLYEDGE_PARSE_LOOP") {
        let (name, n) = spec
            .split_once(':')
            .expect("POLYEDGE_PARSE_LOOP=<benchmark>:<iterations>");
        let n: u64 = n.parse().expect("iterations");
        let mut case = Case::new(name);
        // One untimed, uncollected warm-up pass (id caches, first-touch of the book).
        black_box(case.run(UnixNanos(1)));
        parse_loop(&mut case, n);
        println!(
            "{name}: {n} iterations of parse+apply ({} bytes)",
            case.frame.len()
        );
        return;
    }
    if let Ok(names) = std::env::var("POLYEDGE_PARSE_MIN") {
        for name in names.split(',') {
            let mut case = Case::new(name);
            let mut per_iter: Vec<f64> = (0..300)
                .map(|_| {
                    let t = std::time::Instant::now();
                    parse_loop(&mut case, 2_000);
                    t.elapsed().as_secs_f64() * 1e9 / 2_000.0
                })
                .collect();
            per_iter.sort_by(f64::total_cmp);
            println!(
                "{name}: min {:.1} ns, median {:.1} ns per parse+apply (300 batches of 2,000)",
                per_iter[0], per_iter[150]
            );
        }
        return;
    }
    bench(&mut Criterion::default().configure_from_args());
    Criterion::default().configure_from_args().final_summary();
}
