//! Parquet export, checked by an independent reader (Python pyarrow, `check_parquet.py`):
//! a hand-built recording with every table, the bundled cronos sample, damaged segments.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use polyedge_core::{EventKind, UnixNanos};
use polyedge_store::{
    EventReplay, NoProgress, RecordingMeta, RecordingWriter, ReplayFilter, StreamId,
};
use polyedge_tables::parquet::export_recording;
use polyedge_venues::Feed;
use serde_json::{Value, json};

/// Runs `check_parquet.py` on `spec`; panics with its report on any mismatch. pyarrow is
/// required (`.ci/run` installs it): a missing reader fails the test, it is never skipped.
fn check_with_pyarrow(spec: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(spec).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_parquet.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&spec_path)
        .output()
        .expect("python3 must be installed (with pyarrow: pip install pyarrow==26.0.1)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pyarrow check failed ({}):\n{stdout}\n{stderr}\n(pyarrow missing? pip install pyarrow==26.0.1)",
        out.status
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    eprintln!("{stdout}");
}

#[test]
#[cfg_attr(
    not(feature = "pyarrow-tests"),
    ignore = "needs Python's pyarrow (scripts/test installs it, or pip install pyarrow==26.0.1)"
)]
fn hand_built_recording_every_table_read_back_by_pyarrow() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    write_hand_recording(&rec);
    let sum = export_recording(&rec, None, false, &NoProgress).unwrap();
    assert_eq!(sum.frames, hand_frames().len() as u64);
    assert_eq!(sum.parse_errors, 1, "the order_book_v9 frame");
    assert!(sum.errors.is_empty() && sum.torn_tails.is_empty(), "{sum}");
    let rows = |t: &str| sum.rows.get(t).copied().unwrap_or(0);
    assert_eq!(
        [
            rows("book_snapshots"),
            rows("book_deltas"),
            rows("trades"),
            rows("best_bid_ask"),
            rows("reference_prices"),
            rows("spot_trades"),
            rows("spot_quotes"),
            rows("klines"),
            rows("windows"),
        ],
        [4, 2, 2, 1, 2, 1, 1, 1, 1]
    );
    let tables = rec.join("tables");
    assert!(
        tables
            .join("trades/20260415T12.polymarket-market.parquet")
            .is_file()
    );
    assert!(
        tables
            .join("trades/20260415T13.polymarket-market.parquet")
            .is_file()
    );

    let t0 = i64::try_from(T0).unwrap();
    let ms = i64::try_from(MS).unwrap();
    let spec = json!({"dir": tables, "tables": {
        "book_snapshots": {"rows": 4, "files": 1,
            "types": {"recv_ns": "int64", "venue_ns": "int64", "price_e6": "int64", "token": "string", "level": "int32", "record": "uint32"},
            "rows_eq": [
                {"where": {"side": "bid", "level": 0}, "expect": {
                    "price_e6": 480_000, "size_e6": 100_000_000, "record": 0, "event": 0, "stream": "polymarket-market",
                    "recv_ns": t0 + ms, "venue_ns": 1_776_257_400_001_000_000_i64, "token": UP, "market": MARKET,
                    "hash": "0123456789abcdef0123456789abcdef01234567", "tick_size_e6": 10_000}},
                {"where": {"side": "bid", "level": 1}, "expect": {"price_e6": 470_000, "size_e6": 50_500_000}},
                {"where": {"side": "ask", "level": 0}, "expect": {"price_e6": 520_000, "size_e6": 10_000_000}},
                {"where": {"level": -1}, "expect": {"side": "", "price_e6": null, "size_e6": null, "token": DOWN, "record": 4}},
            ]},
        "book_deltas": {"rows": 2, "rows_eq": [
            {"where": {"event": 0}, "expect": {"record": 1, "side": "bid", "price_e6": 490_000, "size_e6": 20_000_000, "best_bid_e6": 490_000, "best_ask_e6": 520_000, "recv_ns": t0 + 2 * ms}},
            {"where": {"event": 1}, "expect": {"record": 1, "side": "ask", "price_e6": 520_000, "size_e6": 0, "best_ask_e6": 530_000}},
        ]},
        "trades": {"rows": 2, "files": 2, "rows_eq": [
            {"where": {"token": UP}, "expect": {"price_e6": 530_000, "size_e6": 12_500_000, "taker_side": "buy", "fee_rate_bps": 1000, "record": 2}},
            {"where": {"token": DOWN}, "expect": {"price_e6": 400_000, "size_e6": 3_000_000, "taker_side": "sell", "fee_rate_bps": null, "record": 0, "recv_ns": i64::try_from(T1).unwrap() + 500 * ms}},
        ]},
        "best_bid_ask": {"rows": 1, "rows_eq": [
            {"where": {"token": UP}, "expect": {"bid_e6": 490_000, "ask_e6": 530_000, "bid_size_e6": 20_000_000, "ask_size_e6": null, "market": MARKET}},
        ]},
        "reference_prices": {"rows": 2, "types": {"price_e18": "decimal128(38, 18)", "backfill": "bool"}, "rows_eq": [
            {"where": {"source": "chainlink"}, "expect": {"symbol": "btc/usd", "price_e8": 7_969_694_817_429_i64, "price_e18": "79696.948174287960000000", "backfill": false, "venue_ns": 1_776_257_401_000_000_000_i64}},
            {"where": {"source": "rtds_binance"}, "expect": {"symbol": "btcusdt", "price_e8": 7_969_773_000_000_i64, "price_e18": "79697.730000000000000000"}},
        ]},
        "spot_trades": {"rows": 1, "rows_eq": [
            {"where": {"symbol": "BTCUSDT"}, "expect": {"venue": "binance_spot", "price_e8": 7_970_012_000_000_i64, "qty_e8": 150_000, "taker_side": "sell", "trade_id": 12345, "stream": "binance-spot"}},
        ]},
        "spot_quotes": {"rows": 1, "rows_eq": [
            {"where": {"symbol": "BTCUSDT"}, "expect": {"bid_e8": 7_970_001_000_000_i64, "bid_qty_e8": 125_000_000, "ask_e8": 7_970_002_000_000_i64, "ask_qty_e8": 50_000_000, "update_id": 400_900_217}},
        ]},
        "klines": {"rows": 1, "rows_eq": [
            {"where": {"symbol": "BTCUSDT"}, "expect": {"venue": "binance_usdm", "open_time_ns": 1_776_257_400_000_000_000_i64, "close_time_ns": 1_776_257_459_999_000_000_i64,
                "open_e8": 7_969_010_000_000_i64, "high_e8": 7_971_000_000_000_i64, "low_e8": 7_968_000_000_000_i64, "close_e8": 7_970_150_000_000_i64, "volume_e8": 1_234_500_000, "closed": true}},
        ]},
        "windows": {"rows": 1, "rows_eq": [
            {"where": {"slug": SLUG}, "expect": {"asset": "btc", "duration": "5m", "start_ns": t0, "end_ns": t0 + 300_000 * ms,
                "up_token": UP, "down_token": DOWN, "condition_id": MARKET, "outcome": "Up", "outcome_source": "official",
                "strike_e8": 7_969_694_817_429_i64, "token_sides_inferred": false}},
        ]},
    }});
    check_with_pyarrow(&spec);
}

#[test]
#[cfg_attr(
    not(feature = "pyarrow-tests"),
    ignore = "needs Python's pyarrow (scripts/test installs it, or pip install pyarrow==26.0.1)"
)]
fn bundled_sample_read_back_by_pyarrow_matches_the_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    import_sample(&rec);
    let out = tmp.path().join("tables");
    let sum = export_recording(&rec, Some(&out), false, &NoProgress).unwrap();
    assert_eq!(sum.frames, 33_650 + 65, "{sum}");
    assert_eq!(sum.parse_errors, 0);

    // Expected values from the replay (a different path: EventReplay's merge vs per-segment files).
    let mut books = 0u64;
    let mut level_rows = 0u64;
    let (mut px_sum, mut sz_sum) = (0u64, 0u64);
    let mut first: Option<(UnixNanos, String, u32, u64)> = None;
    let mut klines = 0u64;
    for ev in EventReplay::open_dirs(&[&rec], ReplayFilter::default()).unwrap() {
        let ev = ev.unwrap();
        match &ev.kind {
            EventKind::Book(b) => {
                books += 1;
                let n = (b.bids.len() + b.asks.len()) as u64;
                level_rows += n.max(1);
                for l in b.bids.iter().chain(&b.asks) {
                    px_sum += u64::from(l.price.micros());
                    sz_sum += l.size.micros();
                }
                if first.is_none()
                    && let Some(l) = b.bids.first()
                {
                    first = Some((
                        ev.recv_ns,
                        b.token.to_string(),
                        l.price.micros(),
                        l.size.micros(),
                    ));
                }
            }
            EventKind::Kline(_) => klines += 1,
            _ => {}
        }
    }
    assert_eq!(
        books, 33_650,
        "one book per cronos frame (data/sample/PROVENANCE.md)"
    );
    assert_eq!(klines, 65);
    assert_eq!(sum.rows["book_snapshots"], level_rows);
    let (t, token, px, sz) = first.unwrap();
    let spec = json!({"dir": out, "tables": {
        "book_snapshots": {"rows": level_rows, "files": 2,
            "sums": {"price_e6": px_sum, "size_e6": sz_sum},
            "distinct": {"stream,segment_hour,segment_seq,record,event": books},
            "rows_eq": [{"where": {"recv_ns": t.0, "token": token, "side": "bid", "level": 0},
                         "expect": {"price_e6": px, "size_e6": sz}}]},
        "klines": {"rows": 65, "count_where": [[{"closed": true}, 65]]},
        "windows": {"rows": 10, "count_where": [[{"outcome": "Down"}, 7], [{"outcome": "Up"}, 3], [{"outcome_source": "inferred"}, 10]]},
    }});
    check_with_pyarrow(&spec);
}

/// Decompresses a segment, applies `edit` to the raw bytes and writes it back as one zstd frame.
fn rewrite_segment(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut raw = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    edit(&mut raw);
    std::fs::write(path, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
}

#[test]
#[cfg_attr(
    not(feature = "pyarrow-tests"),
    ignore = "needs Python's pyarrow (scripts/test installs it, or pip install pyarrow==26.0.1)"
)]
fn damaged_segments_are_reported_by_file_and_the_readable_part_is_exported() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    write_hand_recording(&rec);
    // CRC mismatch in record #2 (the Up trade) of the first polymarket segment.
    let seg = rec.join("capture/polymarket-market/20260415T12.seg.zst");
    rewrite_segment(&seg, |raw| {
        let pos = raw
            .windows(12)
            .position(|w| w == b"\"size\":\"12.5")
            .unwrap();
        raw[pos + 9] = b'9';
    });
    // A torn tail in the rtds segment: rewrite it with one flushed block per frame, then cut
    // the file inside the second block.
    let rtds = rec.join("capture/rtds/20260415T12.seg.zst");
    std::fs::remove_file(&rtds).unwrap();
    let tmp2 = tmp.path().join("rtds-src");
    let mut w = RecordingWriter::create(&tmp2, RecordingMeta::default()).unwrap();
    let s = StreamId::of(Feed::Rtds);
    for (name, _, t, payload) in hand_frames() {
        if name == "rtds" {
            w.append(&s, UnixNanos(t), payload.as_bytes()).unwrap();
            w.flush().unwrap();
        }
    }
    w.finish().unwrap();
    let bytes = std::fs::read(tmp2.join("capture/rtds/20260415T12.seg.zst")).unwrap();
    std::fs::write(&rtds, &bytes[..bytes.len() - 7]).unwrap();

    // Skipping reads around the damage and lists it; the records readable are the same here
    // (the rewritten segment is one zstd frame, the cut one ends the file).
    let skipped = export_recording(&rec, None, true, &NoProgress).unwrap();
    assert!(skipped.errors.is_empty(), "{skipped}");
    assert_eq!(skipped.skipped.len(), 2, "{skipped}");
    assert!(skipped.to_string().contains("skipped (--skip-corrupt)"));

    let sum = export_recording(&rec, None, false, &NoProgress).unwrap();
    assert_eq!(sum.errors.len(), 2, "{sum}");
    let e = &sum.errors[0];
    assert!(
        e.contains("20260415T12.seg.zst") && e.contains("polymarket-market"),
        "{e}"
    );
    assert!(e.contains("record #2") && e.contains("CRC"), "{e}");
    // The recording is finished: a cut segment is damage, not a torn tail.
    assert!(sum.torn_tails.is_empty(), "{sum}");
    assert!(
        sum.errors[1].contains("rtds/20260415T12.seg.zst") && sum.errors[1].contains("truncated"),
        "{sum}"
    );
    let text = sum.to_string();
    assert!(text.contains("error:"), "{text}");
    // Records #0 and #1 of the damaged segment, the next hour's segment, the Chainlink tick
    // before the tear, and the other streams were all exported.
    assert_eq!(sum.rows["book_snapshots"], 3);
    assert_eq!(sum.rows["book_deltas"], 2);
    assert_eq!(sum.rows["trades"], 1);
    assert_eq!(sum.rows["reference_prices"], 1);
    assert_eq!(sum.rows["spot_trades"], 1);
    check_with_pyarrow(&json!({"dir": rec.join("tables"), "tables": {
        "book_snapshots": {"rows": 3, "count_where": [[{"record": 0}, 3]]},
        "trades": {"rows": 1, "rows_eq": [{"where": {"token": DOWN}, "expect": {"price_e6": 400_000}}]},
        "reference_prices": {"rows": 1, "rows_eq": [{"where": {"source": "chainlink"}, "expect": {"price_e8": 7_969_694_817_429_i64}}]},
    }}));
}
