//! Parse (+ apply) benchmarks for the hot feed messages.
//!
//! Inputs are real frames: 1,000 consecutive full-depth `book` frames from the cronos recording
//! (bundled sample; each iteration parses and applies the next one, cycling), the real
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

/// Raw `book` frames 1000 to 1999 of the bundled cronos sample, in recorded order: both tokens
/// of one window (btc-updown-5m-1776257400) in mid-window, as a replay meets them. Consecutive
/// frames, not one frame over and over, because the parser remembers each side's levels and
/// copies those written exactly as in the side's previous frame: one repeated frame would be
/// nothing but copies.
fn cronos_book_frames() -> Vec<Vec<u8>> {
    let f = std::fs::File::open(repo_path("data/sample/books_2026-04-15.jsonl.zst"))
        .expect("bundled sample");
    let rd = std::io::BufReader::new(zstd::stream::read::Decoder::new(f).expect("zstd"));
    rd.lines()
        .skip(1000)
        .take(1000)
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line.expect("utf8")).expect("json");
            serde_json::to_vec(&v["raw"]).expect("raw")
        })
        .collect()
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
        g.throughput(Throughput::Bytes(case.frame_len()));
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
    /// The frames, parsed in turn (one for the `price_change` cases).
    frames: Vec<Vec<u8>>,
    /// The next frame's index.
    next: usize,
    out: Vec<polyedge_core::MarketEvent>,
    /// One book per token (the `book` case).
    books: Vec<OrderBook>,
    window: Option<WindowBook>,
}

impl Case {
    fn new(name: &str) -> Case {
        let frames = match name {
            "book" => cronos_book_frames(),
            "price_change_1" => vec![price_change_one_entry()],
            "price_change_2" => vec![price_change_frame()],
            other => panic!("unknown benchmark {other:?} (book, price_change_1, price_change_2)"),
        };
        let mut out = Vec::with_capacity(8);
        let mut tokens = Vec::new();
        for frame in &frames {
            out.clear();
            Feed::PolymarketMarket
                .parse(frame, UnixNanos(1), &mut out)
                .expect("parses");
            for e in &out {
                let token = e.kind.token().expect("token");
                if !tokens.contains(&token) {
                    tokens.push(token);
                }
            }
        }
        let (books, window) = if name == "book" {
            (tokens.into_iter().map(OrderBook::new).collect(), None)
        } else {
            let up = tokens[0];
            let down = tokens
                .get(1)
                .copied()
                .unwrap_or(TokenId::synthetic("x", "down"));
            (Vec::new(), Some(WindowBook::new(up, down)))
        };
        Case {
            frames,
            next: 0,
            out,
            books,
            window,
        }
    }

    /// Mean length of the frames (bytes).
    fn frame_len(&self) -> u64 {
        (self.frames.iter().map(Vec::len).sum::<usize>() / self.frames.len()) as u64
    }

    /// Parses the next frame and applies its events; returns something derived from the book.
    #[inline]
    fn run(&mut self, t: UnixNanos) -> Option<polyedge_core::Price> {
        self.out.clear();
        let frame = &self.frames[self.next];
        self.next = (self.next + 1) % self.frames.len();
        Feed::PolymarketMarket
            .parse(black_box(frame), t, &mut self.out)
            .expect("parse");
        if !self.books.is_empty() {
            let EventKind::Book(s) = &self.out[0].kind else {
                return None;
            };
            let ob = self.books.iter_mut().find(|b| b.token() == s.token)?;
            ob.apply_snapshot(s, t).expect("apply");
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
            "{name}: {n} iterations of parse+apply ({} frames, {} bytes on average)",
            case.frames.len(),
            case.frame_len()
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
