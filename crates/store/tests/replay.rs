//! Replay: merge order, filters, torn tails, corruption, parse errors, bounded memory.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::type_complexity
)]

mod common;

use std::path::{Path, PathBuf};

use common::{json_parser, reference};

use polyedge_core::event::{BookDelta, Gap, SpotTrade, Venue};
use polyedge_core::{
    Asset, BookSide, ConditionId, EventKind, Fixed18, MarketEvent, Price, Size, Symbol, TokenId,
    UnixNanos, Window, WindowDuration,
};
use polyedge_store::segment::READ_BUF;
use polyedge_store::{
    EventReplay, Frame, FrameReplay, Recording, RecordingMeta, RecordingWriter, ReplayFilter,
    StoreError, StreamId,
};
use polyedge_venues::Feed;

const T0_S: u64 = 1_776_081_600; // 2026-04-13T12:00:00Z
const T0: u64 = T0_S * 1_000_000_000;
const SEC: u64 = 1_000_000_000;
const HOUR: u64 = 3_600 * SEC;

fn meta() -> RecordingMeta {
    RecordingMeta {
        created_by: "replay tests".into(),
        ..RecordingMeta::default()
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes frames `(stream, recv_ns, bytes)` in the given order into a new recording.
fn write_recording(dir: &Path, frames: &[(StreamId, u64, Vec<u8>)], windows: &[Window]) {
    let mut w = RecordingWriter::create(dir, meta()).unwrap();
    for (s, t, b) in frames {
        w.append(s, UnixNanos(*t), b).unwrap();
    }
    for win in windows {
        w.upsert_window(win.clone());
    }
    w.finish().unwrap();
}

fn collect(replay: FrameReplay) -> Vec<Frame> {
    replay.collect::<Result<Vec<_>, _>>().unwrap()
}

fn key(f: &Frame) -> (String, u64, Vec<u8>) {
    (f.stream.name.clone(), f.recv_ns.0, f.bytes.clone())
}

/// Two streams over three hours with random gaps and some equal timestamps across streams.
fn two_streams_three_hours(seed: u64) -> Vec<(StreamId, u64, Vec<u8>)> {
    let pm = StreamId::of(Feed::PolymarketMarket);
    let bn = StreamId::of(Feed::BinanceSpot);
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let (mut ta, mut tb) = (T0, T0);
    for i in 0..3_000u64 {
        ta += rng.below(7 * SEC);
        tb = if rng.below(5) == 0 && ta >= tb {
            ta
        } else {
            tb + rng.below(7 * SEC)
        };
        out.push((pm.clone(), ta, format!("pm-{i}").into_bytes()));
        out.push((bn.clone(), tb, format!("bn-{i}").into_bytes()));
    }
    assert!(ta > T0 + 2 * HOUR && tb > T0 + 2 * HOUR, "spans 3 hours");
    out
}

/// Expected merge: stable sort by (recv_ns, recording, stream name); within a stream the write
/// order (which is time order here).
fn expected(recs: &[&[(StreamId, u64, Vec<u8>)]]) -> Vec<(String, u64, Vec<u8>)> {
    let mut all: Vec<(u64, usize, String, usize, Vec<u8>)> = Vec::new();
    for (ri, frames) in recs.iter().enumerate() {
        for (i, (s, t, b)) in frames.iter().enumerate() {
            all.push((*t, ri, s.name.clone(), i, b.clone()));
        }
    }
    all.sort();
    all.into_iter().map(|(t, _, s, _, b)| (s, t, b)).collect()
}

#[test]
fn round_trip_in_receive_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let frames = two_streams_three_hours(1);
    write_recording(&dir, &frames, &[]);
    let rec = Recording::open(&dir).unwrap();
    assert_eq!(rec.segments().count(), 6);
    let mut replay = FrameReplay::open(&[rec], ReplayFilter::default()).unwrap();
    let mut got = Vec::new();
    while let Some(f) = replay.next_frame() {
        let f = f.unwrap();
        got.push((f.stream.name.clone(), f.recv_ns.0, f.bytes.to_vec()));
    }
    assert_eq!(got, expected(&[&frames]));
    let st = replay.stats();
    assert_eq!(st.frames, 6_000);
    assert_eq!(st.segments, 6);
    assert_eq!((st.out_of_order, st.torn_tails, st.errors), (0, 0, 0));
    assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
}

#[test]
fn merge_across_two_recordings_is_ordered_and_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("a"), tmp.path().join("b"));
    let f1 = two_streams_three_hours(2);
    // The second recording shares timestamps with the first (ties) and has a third stream.
    let rt = StreamId::of(Feed::Rtds);
    let mut f2: Vec<_> = f1
        .iter()
        .step_by(3)
        .map(|(s, t, _)| (s.clone(), *t, b"second".to_vec()))
        .collect();
    f2.extend((0..500).map(|i| (rt.clone(), T0 + i * 20 * SEC, b"rtds".to_vec())));
    write_recording(&d1, &f1, &[]);
    write_recording(&d2, &f2, &[]);
    let got: Vec<_> =
        collect(FrameReplay::open_dirs(&[&d1, &d2], ReplayFilter::default()).unwrap())
            .iter()
            .map(key)
            .collect();
    assert_eq!(got.len(), f1.len() + f2.len());
    assert_eq!(got, expected(&[&f1, &f2]));
    // Swapping the recordings swaps who wins ties.
    let swapped: Vec<_> =
        collect(FrameReplay::open_dirs(&[&d2, &d1], ReplayFilter::default()).unwrap())
            .iter()
            .map(key)
            .collect();
    assert_eq!(swapped, expected(&[&f2, &f1]));
}

#[test]
fn time_filter_and_segment_skipping() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let frames = two_streams_three_hours(3);
    write_recording(&dir, &frames, &[]);
    let from = T0 + HOUR + 600 * SEC;
    let to = T0 + 2 * HOUR; // exclusive; the third hour is never opened
    let filter = ReplayFilter {
        from: Some(UnixNanos(from)),
        to: Some(UnixNanos(to)),
        ..ReplayFilter::default()
    };
    let mut replay = FrameReplay::open_dirs(&[&dir], filter).unwrap();
    let got: Vec<_> = replay.by_ref().map(|f| key(&f.unwrap())).collect();
    let want: Vec<_> = expected(&[&frames])
        .into_iter()
        .filter(|(_, t, _)| (from..to).contains(t))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert_eq!(replay.stats().segments, 2);
    assert_eq!(replay.stats().segments_skipped, 4);

    let bad = ReplayFilter {
        from: Some(UnixNanos(to)),
        to: Some(UnixNanos(from)),
        ..ReplayFilter::default()
    };
    assert!(matches!(
        FrameReplay::open_dirs(&[&dir], bad),
        Err(StoreError::Usage(_))
    ));
}

#[test]
fn backwards_records_are_emitted_in_file_order_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let s = StreamId::of(Feed::Coinbase);
    let times = [10, 20, 15, 30, 5, 40];
    let frames: Vec<_> = times
        .iter()
        .map(|&t| (s.clone(), T0 + t, t.to_string().into_bytes()))
        .collect();
    write_recording(&dir, &frames, &[]);
    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default()).unwrap();
    let got: Vec<u64> = replay.by_ref().map(|f| f.unwrap().recv_ns.0 - T0).collect();
    assert_eq!(got, times);
    assert_eq!(replay.stats().out_of_order, 2);
}

#[test]
fn killed_writer_replays_exactly_the_flushed_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let pm = StreamId::of(Feed::PolymarketMarket);
    let rt = StreamId::of(Feed::Rtds);
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    let mut flushed = Vec::new();
    for i in 0..2_000u64 {
        let (s, t) = if i % 2 == 0 {
            (&pm, T0 + i * SEC)
        } else {
            (&rt, T0 + i * SEC)
        };
        let b = format!("frame-{i}").into_bytes();
        w.append(s, UnixNanos(t), &b).unwrap();
        flushed.push((s.name.clone(), t, b));
    }
    w.flush().unwrap();
    for i in 2_000..2_500u64 {
        w.append(&pm, UnixNanos(T0 + i * SEC), b"unflushed")
            .unwrap();
    }
    let snap = tmp.path().join("snap");
    copy_dir(&dir, &snap);
    // Also tear the last rtds segment mid-frame: append half of a real zstd frame.
    let rtds_dir = snap.join("capture/rtds");
    let mut last = std::fs::read_dir(&rtds_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<PathBuf>>();
    last.sort();
    let last = last.pop().unwrap();
    let junk = zstd::encode_all(&[0x55u8; 5000][..], 3).unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.extend_from_slice(&junk[..junk.len() / 2]);
    std::fs::write(&last, bytes).unwrap();
    std::mem::forget(w);

    let mut replay = FrameReplay::open_dirs(&[&snap], ReplayFilter::default()).unwrap();
    let got: Vec<_> = replay.by_ref().map(|f| key(&f.unwrap())).collect();
    assert_eq!(got, flushed);
    assert_eq!(replay.stats().torn_tails, 1);
    assert_eq!(replay.stats().torn_tail_details[0].path, last);
    assert_eq!(replay.stats().errors, 0);
}

#[test]
fn cut_segment_at_many_offsets_never_returns_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let s = StreamId::of(Feed::Deribit);
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    let mut frames = Vec::new();
    let mut rng = Rng(17);
    for i in 0..400u64 {
        let b: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        w.append(&s, UnixNanos(T0 + i), &b).unwrap();
        frames.push(("deribit".to_string(), T0 + i, b));
        if rng.below(20) == 0 {
            w.flush().unwrap();
        }
    }
    w.finish().unwrap();
    let seg = Recording::open(&dir).unwrap().streams()[0].segments[0]
        .path
        .clone();
    let len = std::fs::metadata(&seg).unwrap().len();
    // The same recording as if its writer had been killed: the manifest says not finished.
    let unfinished = tmp.path().join("u");
    copy_dir(&dir, &unfinished);
    let manifest = unfinished.join("recording.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m["finished_ns"] = serde_json::Value::Null;
    m["streams"] = serde_json::json!({});
    std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    let useg = unfinished.join(seg.strip_prefix(&dir).unwrap());
    // Shrink in place, from the end towards 0 (cheap, unlike rewriting the file).
    for cut in (0..len).rev().step_by(7) {
        for (rec, path) in [(&dir, &seg), (&unfinished, &useg)] {
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(cut).unwrap();
            drop(f);
            let mut replay = FrameReplay::open_dirs(&[rec], ReplayFilter::default()).unwrap();
            let mut got = Vec::new();
            let mut errors = Vec::new();
            for f in replay.by_ref() {
                match f {
                    Ok(f) => got.push(key(&f)),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            assert_eq!(got[..], frames[..got.len()], "cut at {cut}");
            let st = replay.stats();
            if rec == &unfinished {
                // Its last segment may end early: a torn tail, never an error.
                assert!(st.torn_tails <= 1, "cut at {cut}");
                assert_eq!(st.errors, 0, "cut at {cut}: {errors:?}");
            } else {
                // A finished recording's segments were closed whole: a cut is damage, even
                // one exactly at a frame boundary (the manifest's frame count tells).
                assert_eq!(st.torn_tails, 0, "cut at {cut}");
                assert_eq!(errors.len(), 1, "cut at {cut}: {errors:?}");
                assert_eq!(st.errors, 1, "cut at {cut}");
                let e = &errors[0];
                assert!(
                    e.contains("truncated")
                        || e.contains("no frame")
                        || e.contains("manifest counts 400"),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn corrupt_segment_yields_an_error_naming_the_file_and_replay_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let frames = two_streams_three_hours(4);
    write_recording(&dir, &frames, &[]);
    // Corrupt one record of the polymarket stream's second hour.
    let seg = dir.join("capture/polymarket-market/20260413T13.seg.zst");
    let mut raw = zstd::decode_all(std::fs::File::open(&seg).unwrap()).unwrap();
    let mid = raw.len() / 2;
    let pos = mid + raw[mid..].windows(3).position(|w| w == b"pm-").unwrap();
    raw[pos + 1] ^= 0xff; // inside a payload: only the CRC can notice
    std::fs::write(&seg, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();

    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default()).unwrap();
    let mut errors = Vec::new();
    let mut last_pm_hour = 0;
    let mut count = 0;
    for f in replay.by_ref() {
        match f {
            Ok(f) => {
                count += 1;
                if f.stream.name == "polymarket-market" {
                    last_pm_hour = (f.recv_ns.0 - T0) / HOUR;
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("20260413T13.seg.zst") && errors[0].contains("CRC"),
        "{errors:?}"
    );
    assert_eq!(
        last_pm_hour, 2,
        "the stream continues with its next segment"
    );
    assert!(count < frames.len() && count > frames.len() / 2);
    assert_eq!(replay.stats().errors, 1);
}

#[test]
fn replay_memory_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let streams = [
        StreamId::of(Feed::PolymarketMarket),
        StreamId::of(Feed::BinanceSpot),
        StreamId::of(Feed::Rtds),
    ];
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    let mut rng = Rng(23);
    let mut t = T0;
    let mut sum: u64 = 0;
    let n = 200_000u64;
    for i in 0..n {
        t += rng.below(120_000_000); // ~3.3 h in total
        let len = 50 + rng.below(450) as usize;
        let b: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
        sum = sum.wrapping_add(b.iter().map(|&x| u64::from(x)).sum::<u64>());
        w.append(&streams[(i % 3) as usize], UnixNanos(t), &b)
            .unwrap();
    }
    let summary = w.finish().unwrap();
    assert!(summary.segments >= 9);
    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default()).unwrap();
    let bound = replay.cursor_count() * READ_BUF;
    let (mut frames, mut got_sum, mut last, mut peak) = (0u64, 0u64, 0u64, 0usize);
    while let Some(f) = replay.next_frame() {
        let f = f.unwrap();
        assert!(f.recv_ns.0 >= last);
        last = f.recv_ns.0;
        got_sum = got_sum.wrapping_add(f.bytes.iter().map(|&x| u64::from(x)).sum::<u64>());
        frames += 1;
        if frames % 1_000 == 0 {
            peak = peak.max(replay.buffered_bytes());
            assert!(replay.open_segments() <= replay.cursor_count());
        }
    }
    assert_eq!(frames, n);
    assert_eq!(got_sum, sum);
    assert!(peak > 0 && peak <= bound, "peak {peak} > bound {bound}");
}

// ---- EventReplay ----------------------------------------------------------------------------

fn token(n: u64) -> TokenId {
    TokenId::parse(&n.to_string()).unwrap()
}

fn cond(n: u8) -> ConditionId {
    ConditionId::parse(&format!("0x{}", format!("{n:02x}").repeat(32))).unwrap()
}

fn window(slug: &str, asset: Asset, start_s: u64, up: u64, down: u64, c: u8) -> Window {
    let mut w = Window::new(slug, asset, WindowDuration::M5, start_s);
    w.up_token = Some(token(up));
    w.down_token = Some(token(down));
    w.condition_id = Some(cond(c));
    w
}

fn delta(t: u64, tok: u64, c: u8) -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(t),
        venue_ns: None,
        kind: EventKind::BookDelta(BookDelta {
            market: cond(c),
            token: token(tok),
            side: BookSide::Bid,
            price: Price::parse("0.5").unwrap(),
            size: Size::from_shares(10),
            best_bid: None,
            best_ask: None,
        }),
    }
}

fn spot(t: u64, sym: &str) -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(t),
        venue_ns: None,
        kind: EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceSpot,
            symbol: Symbol::new(sym).unwrap(),
            price: Fixed18::parse("3000").unwrap(),
            qty: Fixed18::parse("1").unwrap(),
            taker_side: None,
            trade_id: Some(1),
        }),
    }
}

fn gap(t: u64) -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(t),
        venue_ns: None,
        kind: EventKind::Gap(Gap {
            stream: "binance-spot".into(),
            reason: "reconnect".into(),
        }),
    }
}

/// Windows: btc 12:00–12:05 (tokens 1/2), eth 12:05–12:10 (tokens 3/4); events on all streams.
fn event_recording(dir: &Path) -> Vec<MarketEvent> {
    let pm = StreamId::of(Feed::PolymarketMarket);
    let rt = StreamId::of(Feed::Rtds);
    let bn = StreamId::of(Feed::BinanceSpot);
    let windows = [
        window("btc-updown-5m-1776081600", Asset::Btc, T0_S, 1, 2, 0xaa),
        window(
            "eth-updown-5m-1776081900",
            Asset::Eth,
            T0_S + 300,
            3,
            4,
            0xbb,
        ),
    ];
    let mut frames = Vec::new();
    let mut events = Vec::new();
    let mut push = |s: &StreamId, evs: Vec<MarketEvent>| {
        let t = evs[0].recv_ns.0;
        frames.push((s.clone(), t, serde_json::to_vec(&evs).unwrap()));
        events.extend(evs);
    };
    for k in 0..12u64 {
        let t = T0 - 60 * SEC + k * 60 * SEC; // 11:59 … 12:10
        push(&pm, vec![delta(t, 1, 0xaa), delta(t, 3, 0xbb)]);
        push(&pm, vec![delta(t + 1, 99, 0xcc)]); // a token of no window
        push(
            &rt,
            vec![reference(t + 2, "btc/usd"), reference(t + 2, "eth/usd")],
        );
        push(&bn, vec![spot(t + 3, "ETHUSDT"), spot(t + 3, "BTCUSDT")]);
    }
    push(&bn, vec![gap(T0 + HOUR)]);
    write_recording(dir, &frames, &windows);
    events
}

fn run(dir: &Path, filter: ReplayFilter) -> (Vec<MarketEvent>, polyedge_store::ReplayStats) {
    let mut r = EventReplay::open_dirs(&[dir], filter)
        .unwrap()
        .with_parser(json_parser);
    let evs: Vec<_> = r.by_ref().collect::<Result<_, _>>().unwrap();
    (evs, r.stats().clone())
}

fn sorted_by_time(mut evs: Vec<MarketEvent>) -> Vec<MarketEvent> {
    evs.sort_by_key(|e| e.recv_ns);
    evs
}

#[test]
fn events_unfiltered_come_in_order_with_their_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let all = event_recording(&dir);
    let (evs, st) = run(&dir, ReplayFilter::default());
    assert_eq!(evs, sorted_by_time(all.clone()));
    assert_eq!(st.events, all.len() as u64);
    assert_eq!(st.filtered_events, 0);

    let mut r = EventReplay::open_dirs(&[&dir], ReplayFilter::default())
        .unwrap()
        .with_parser(json_parser);
    while let Some(ev) = r.next() {
        let ev = ev.unwrap();
        let stream = r.current_stream().unwrap();
        let expect = match ev.kind {
            EventKind::BookDelta(_) => Feed::PolymarketMarket,
            EventKind::Reference(_) => Feed::Rtds,
            _ => Feed::BinanceSpot,
        };
        assert_eq!(stream.feed, expect);
    }
}

#[test]
fn window_filter_uses_the_window_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let all = event_recording(&dir);
    let filter = ReplayFilter {
        windows: Some(vec!["btc-updown-5m-1776081600".into()]),
        ..ReplayFilter::default()
    };
    let (evs, st) = run(&dir, filter);
    let (start, end) = (T0, T0 + 300 * SEC);
    let want: Vec<_> = sorted_by_time(all.clone())
        .into_iter()
        .filter(|e| match &e.kind {
            EventKind::BookDelta(d) => d.token == token(1),
            EventKind::Gap(_) => true,
            _ => (start..=end).contains(&e.recv_ns.0),
        })
        .collect();
    assert_eq!(evs, want);
    assert_eq!(st.events + st.filtered_events, all.len() as u64);
    // Spot/reference events of any symbol inside the window's time are kept (windows only).
    assert!(
        evs.iter()
            .any(|e| matches!(&e.kind, EventKind::SpotTrade(t) if t.symbol.as_str() == "ETHUSDT"))
    );

    let unknown = ReplayFilter {
        windows: Some(vec!["sol-updown-5m-1".into()]),
        ..ReplayFilter::default()
    };
    let err = EventReplay::open_dirs(&[&dir], unknown).unwrap_err();
    assert!(err.to_string().contains("sol-updown-5m-1"), "{err}");
}

#[test]
fn asset_filter_keeps_that_assets_tokens_and_symbols() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let all = event_recording(&dir);
    let filter = ReplayFilter {
        assets: Some(vec![Asset::Eth]),
        ..ReplayFilter::default()
    };
    let (evs, _) = run(&dir, filter);
    let want: Vec<_> = sorted_by_time(all.clone())
        .into_iter()
        .filter(|e| match &e.kind {
            EventKind::BookDelta(d) => d.token == token(3),
            EventKind::Reference(r) => r.symbol.as_str() == "eth/usd",
            EventKind::SpotTrade(t) => t.symbol.as_str() == "ETHUSDT",
            _ => true,
        })
        .collect();
    assert_eq!(evs, want);

    // Both: eth's events, spot only within the btc window's time… which selects no eth window.
    let both = ReplayFilter {
        assets: Some(vec![Asset::Btc]),
        windows: Some(vec![
            "btc-updown-5m-1776081600".into(),
            "eth-updown-5m-1776081900".into(),
        ]),
        ..ReplayFilter::default()
    };
    let (evs, _) = run(&dir, both);
    for e in &evs {
        match &e.kind {
            EventKind::BookDelta(d) => assert_eq!(d.token, token(1)),
            EventKind::Reference(r) => {
                assert_eq!(r.symbol.as_str(), "btc/usd");
                assert!((T0..=T0 + 300 * SEC).contains(&e.recv_ns.0));
            }
            EventKind::SpotTrade(t) => assert_eq!(t.symbol.as_str(), "BTCUSDT"),
            EventKind::Gap(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        evs.iter()
            .any(|e| matches!(e.kind, EventKind::SpotTrade(_)))
    );
}

#[test]
fn parse_errors_are_counted_sampled_and_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let pm = StreamId::of(Feed::PolymarketMarket);
    let rt = StreamId::of(Feed::Rtds);
    let mut frames = Vec::new();
    for i in 0..30u64 {
        frames.push((pm.clone(), T0 + i * SEC, b"bad frame".to_vec()));
        let ok = serde_json::to_vec(&vec![reference(T0 + i * SEC + 1, "btc/usd")]).unwrap();
        frames.push((rt.clone(), T0 + i * SEC + 1, ok));
    }
    frames.push((rt.clone(), T0 + 100 * SEC, b"bad too".to_vec()));
    write_recording(&dir, &frames, &[]);
    let (evs, st) = run(&dir, ReplayFilter::default());
    assert_eq!(evs.len(), 30);
    assert_eq!(st.parse_errors, 31);
    assert_eq!(st.parse_errors_by_stream["polymarket-market"], 30);
    assert_eq!(st.parse_errors_by_stream["rtds"], 1);
    assert_eq!(st.parse_error_samples.len(), 10);
    assert_eq!(st.parse_error_samples[0].stream, "polymarket-market");
    assert_eq!(st.parse_error_samples[0].recv_ns, UnixNanos(T0));
    assert!(
        st.parse_error_samples[0]
            .message
            .contains("test: bad frame")
    );
    assert_eq!(st.frames, 61);
}

#[test]
fn default_parser_is_the_feed_parser() {
    // Whatever the venue parsers accept, they must reject this frame; the replay counts it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let frames = vec![(
        StreamId::of(Feed::PolymarketMarket),
        T0,
        b"\x00 not json".to_vec(),
    )];
    write_recording(&dir, &frames, &[]);
    let mut r = EventReplay::open_dirs(&[&dir], ReplayFilter::default()).unwrap();
    assert!(r.next().is_none());
    assert_eq!(r.stats().parse_errors, 1);
    assert_eq!(r.stats().frames, 1);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

// ---- Damage: strict replay fails, --skip-corrupt replays around it and lists what was lost ----

/// One stream with 40 000 frames over the hour 12:00–13:00 (large enough for many zstd
/// frames), and the 5-minute windows of that hour.
fn big_hour(dir: &Path) -> (Vec<(StreamId, u64, Vec<u8>)>, Vec<Window>) {
    let s = StreamId::of(Feed::PolymarketMarket);
    let mut rng = Rng(8);
    let frames: Vec<_> = (0..40_000u64)
        .map(|i| {
            let b: Vec<u8> = format!("{{\"i\":{i},\"noise\":{}}}", rng.next()).into_bytes();
            (s.clone(), T0 + i * (HOUR / 40_000), b)
        })
        .collect();
    let windows: Vec<Window> = (0..12)
        .map(|k| {
            let start = T0_S + k * 300;
            Window::from_slug(&format!("btc-updown-5m-{start}")).unwrap()
        })
        .collect();
    write_recording(dir, &frames, &windows);
    (frames, windows)
}

#[test]
fn bad_block_in_a_closed_segment_is_an_error_and_skip_corrupt_names_the_span() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let (frames, _) = big_hour(&dir);
    let seg = dir.join("capture/polymarket-market/20260413T12.seg.zst");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 3;
    for (i, b) in bytes[at..at + 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    std::fs::write(&seg, &bytes).unwrap();

    // Strict: an error naming the file; nothing after the damage is silently dropped as a tail.
    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default()).unwrap();
    let mut n = 0;
    let mut errors = Vec::new();
    for f in replay.by_ref() {
        match f {
            Ok(_) => n += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("20260413T12.seg.zst") && errors[0].contains("file offset"));
    assert_eq!(replay.stats().torn_tails, 0);
    assert!(n < frames.len() / 2);

    // Skipping: the two thirds after the bad block are replayed, and the span is exact.
    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default())
        .unwrap()
        .with_skip_corrupt(true);
    let got: Vec<_> = replay.by_ref().map(|f| key(&f.unwrap())).collect();
    let st = replay.stats();
    assert_eq!(st.errors, 0);
    assert_eq!(st.skipped.len(), 1, "{:?}", st.skipped);
    let sp = &st.skipped[0];
    assert!(sp.exact, "{sp}");
    assert_eq!(got.len() as u64 + sp.frames_lost, frames.len() as u64);
    // Only the damaged zstd frame (a 1 MiB block here) is lost; what follows it is read.
    assert!(
        got.len() > frames.len() / 2,
        "{} of {}",
        got.len(),
        frames.len()
    );
    let last = frames
        .last()
        .map(|(s, t, b)| (s.name.clone(), *t, b.clone()));
    assert_eq!(got.last(), last.as_ref());
    // Every lost frame lies in [from, to].
    let kept: std::collections::HashSet<u64> = got.iter().map(|(_, t, _)| *t).collect();
    let lost: Vec<u64> = frames
        .iter()
        .map(|(_, t, _)| *t)
        .filter(|t| !kept.contains(t))
        .collect();
    assert!(lost.iter().all(|t| *t >= sp.from_ns.0 && *t <= sp.to_ns.0));
    let lost = lost.len() as u64;
    assert_eq!(lost, sp.frames_lost);
    // The windows overlapping that span are named.
    assert!(!sp.windows.is_empty());
    for slug in &sp.windows {
        let w = Window::from_slug(slug).unwrap();
        assert!(w.start <= sp.to_ns && w.end >= sp.from_ns, "{slug}");
    }
    assert_eq!(st.frames_skipped(), sp.frames_lost);
    let shown = sp.to_string();
    assert!(
        shown.contains("windows affected") && shown.contains("20260413T12.seg.zst"),
        "{shown}"
    );
}

#[test]
fn a_deleted_segment_of_a_finished_recording_is_found_by_the_manifest_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let frames = two_streams_three_hours(6);
    write_recording(&dir, &frames, &[]);
    let gone = dir.join("capture/binance-spot/20260413T13.seg.zst");
    let in_gone = frames
        .iter()
        .filter(|(s, t, _)| s.name == "binance-spot" && (t - T0) / HOUR == 1)
        .count() as u64;
    std::fs::remove_file(&gone).unwrap();

    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default()).unwrap();
    let errors: Vec<String> = replay
        .by_ref()
        .filter_map(Result::err)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("manifest counts"), "{errors:?}");

    let mut replay = FrameReplay::open_dirs(&[&dir], ReplayFilter::default())
        .unwrap()
        .with_skip_corrupt(true);
    let n = replay.by_ref().flatten().count() as u64;
    let st = replay.stats();
    assert_eq!(n + in_gone, frames.len() as u64);
    assert_eq!(st.skipped.len(), 1);
    assert_eq!(st.skipped[0].frames_lost, in_gone);
    assert!(st.skipped[0].exact);

    // With a time filter the count is not checked (the filter drops frames on purpose).
    let filtered = ReplayFilter {
        from: Some(UnixNanos(T0)),
        ..ReplayFilter::default()
    };
    let replay = FrameReplay::open_dirs(&[&dir], filtered).unwrap();
    assert!(replay.into_iter().all(|f| f.is_ok()));
}

// ---- PipelinedEvents: the same replay on a reader thread ------------------------------------

/// The replay of `dir` with `filter` (and `skip_corrupt`) on one thread and pipelined: same
/// events in the same order, same errors at the same places, same final counters.
fn assert_pipeline_is_the_replay(
    dir: &Path,
    filter: &ReplayFilter,
    skip_corrupt: bool,
) -> (
    Vec<Result<MarketEvent, String>>,
    polyedge_store::ReplayStats,
) {
    let open = || {
        EventReplay::open_dirs(&[dir], filter.clone())
            .unwrap()
            .with_parser(json_parser)
            .with_skip_corrupt(skip_corrupt)
    };
    let mut one = open();
    let one_items: Vec<_> = one.by_ref().map(|r| r.map_err(|e| e.to_string())).collect();
    let mut two = polyedge_store::PipelinedEvents::spawn(open()).unwrap();
    let mut mid_frames = Vec::new();
    let mut two_items = Vec::new();
    while let Some(r) = two.next() {
        mid_frames.push(two.stats().frames);
        two_items.push(r.map_err(|e| e.to_string()));
    }
    assert_eq!(two_items.len(), one_items.len());
    for (i, (a, b)) in one_items.iter().zip(&two_items).enumerate() {
        assert_eq!(a, b, "item {i}");
    }
    assert_eq!(two.stats(), one.stats(), "final counters");
    assert!(two.next().is_none(), "the end is final");
    // While running, the frame count only grows and never passes the final one.
    assert!(mid_frames.windows(2).all(|w| w[0] <= w[1]));
    assert!(mid_frames.iter().all(|&f| f <= one.stats().frames));
    (one_items, one.stats().clone())
}

#[test]
fn a_pipelined_replay_yields_the_same_events_errors_and_counters() {
    // Several batches of events, parse errors, a window filter.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    event_recording(&dir);
    let (items, st) = assert_pipeline_is_the_replay(&dir, &ReplayFilter::default(), false);
    assert!(items.len() > 50, "{}", items.len());
    assert_eq!(st.events, items.len() as u64, "every event counted");
    assert_eq!(st.parse_errors, 0);
    let only_btc = ReplayFilter {
        windows: Some(vec!["btc-updown-5m-1776081600".into()]),
        ..ReplayFilter::default()
    };
    let (_, st) = assert_pipeline_is_the_replay(&dir, &only_btc, false);
    assert!(st.filtered_events > 0, "the filter dropped events");

    let dir = tmp.path().join("many");
    let rt = StreamId::of(Feed::Rtds);
    let pm = StreamId::of(Feed::PolymarketMarket);
    let mut frames = Vec::new();
    for i in 0..3_000u64 {
        let t = T0 + i * SEC;
        let evs = vec![reference(t, "btc/usd"), reference(t, "eth/usd")];
        frames.push((rt.clone(), t, serde_json::to_vec(&evs).unwrap()));
        if i % 97 == 0 {
            frames.push((pm.clone(), t + 1, b"bad frame".to_vec()));
        }
    }
    write_recording(&dir, &frames, &[]);
    let (items, st) = assert_pipeline_is_the_replay(&dir, &ReplayFilter::default(), false);
    assert_eq!(items.len(), 6_000, "more than ten batches");
    assert_eq!(st.parse_errors, 31);
}

#[test]
fn a_pipelined_replay_of_damaged_data_fails_and_skips_exactly_as_the_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let rt = StreamId::of(Feed::Rtds);
    let frames: Vec<_> = (0..20_000u64)
        .map(|i| {
            let t = T0 + i * (HOUR / 10_000);
            let evs = vec![reference(t, "btc/usd")];
            (rt.clone(), t, serde_json::to_vec(&evs).unwrap())
        })
        .collect();
    write_recording(&dir, &frames, &[]);
    // Damage the middle of the first hour's segment.
    let seg = dir.join("capture/rtds/20260413T12.seg.zst");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    for (i, b) in bytes[at..at + 2048].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(29) ^ 0x3c;
    }
    std::fs::write(&seg, &bytes).unwrap();
    // Strict: the error comes at the same place, and the second hour still replays.
    let (items, _) = assert_pipeline_is_the_replay(&dir, &ReplayFilter::default(), false);
    let errors = items.iter().filter(|r| r.is_err()).count();
    assert_eq!(errors, 1, "one error for the damaged segment");
    assert!(
        items.last().is_some_and(Result::is_ok),
        "the next hour follows"
    );
    // --skip-corrupt: the same events and the same skipped spans.
    let (items, st) = assert_pipeline_is_the_replay(&dir, &ReplayFilter::default(), true);
    assert!(items.iter().all(Result::is_ok));
    assert!(!st.skipped.is_empty(), "the damage is listed");
}

#[test]
fn two_overlapping_recordings_with_the_dedup_replay_the_same_pipelined() {
    // The dedup runs on the reader thread with the frame replay's exact state: the events are
    // those of the one-thread replay.
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    event_recording(&a);
    event_recording(&b);
    let open = || {
        EventReplay::open_dirs(&[&a, &b], ReplayFilter::default())
            .unwrap()
            .with_parser(json_parser)
    };
    let mut one = open().with_dedup(true);
    let one_items: Vec<MarketEvent> = one.by_ref().collect::<Result<_, _>>().unwrap();
    assert!(one.stats().duplicate_events > 0, "the copy was dropped");
    let mut two = polyedge_store::PipelinedEvents::spawn(open().with_dedup(true)).unwrap();
    let two_items: Vec<MarketEvent> = two.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(one_items, two_items);
    assert_eq!(one.stats(), two.stats());
    // Without the dedup the copy is replayed too.
    let all_items: Vec<MarketEvent> = open().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        all_items.len() as u64,
        one_items.len() as u64 + one.stats().duplicate_events
    );
}
