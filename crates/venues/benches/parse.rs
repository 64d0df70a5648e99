//! Parse (+ apply) benchmarks for the hot feed messages.
//!
//! Inputs are real frames: a full-depth `book` from the cronos recording (bundled sample), the real
//! `price_change` frame of `shared/data/fixtures_rsahn_clob_ws_2026-09-21`, and Binance's documented
//! `aggTrade` example. Run with `cargo bench -p polyedge-venues`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::io::BufRead as _;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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
    let book = cronos_book_frame();
    let mut out = Vec::with_capacity(8);
    let t = UnixNanos(1);

    let mut g = c.benchmark_group("polymarket");
    g.throughput(Throughput::Bytes(book.len() as u64));
    Feed::PolymarketMarket
        .parse(&book, t, &mut out)
        .expect("book parses");
    let token = out[0].kind.token().expect("token");
    let mut ob = OrderBook::new(token);
    g.bench_function("book_parse_apply", |b| {
        b.iter(|| {
            out.clear();
            Feed::PolymarketMarket
                .parse(black_box(&book), t, &mut out)
                .expect("parse");
            if let EventKind::Book(s) = &out[0].kind {
                ob.apply_snapshot(s, t).expect("apply");
            }
            black_box(ob.best_bid())
        });
    });

    for (name, frame) in [
        ("price_change_1_parse_apply", price_change_one_entry()),
        ("price_change_2_parse_apply", price_change_frame()),
    ] {
        out.clear();
        Feed::PolymarketMarket
            .parse(&frame, t, &mut out)
            .expect("price_change parses");
        let up = out[0].kind.token().expect("token");
        let down = out
            .get(1)
            .and_then(|e| e.kind.token())
            .filter(|d| *d != up)
            .unwrap_or(TokenId::synthetic("x", "down"));
        let mut wb = WindowBook::new(up, down);
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                Feed::PolymarketMarket
                    .parse(black_box(&frame), t, &mut out)
                    .expect("parse");
                for e in &out {
                    wb.apply(e).expect("apply");
                }
                black_box(wb.best_ask(polyedge_core::Outcome::Up))
            });
        });
    }
    g.finish();

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

criterion_group!(benches, bench);
criterion_main!(benches);
