//! Recording directories: writer, rotation, manifest, window index, reopening.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::type_complexity
)]

use std::path::Path;

use polyedge_core::{Asset, TokenId, UnixNanos, Window, WindowDuration};
use polyedge_store::recording::{
    NANOS_PER_HOUR, hour_of, parse_segment_file_name, segment_file_name,
};
use polyedge_store::segment;
use polyedge_store::{Recording, RecordingMeta, RecordingWriter, StoreError, StreamId};
use polyedge_venues::Feed;

const T0_S: u64 = 1_776_081_600; // 2026-04-13T12:00:00Z
const T0: u64 = T0_S * 1_000_000_000;
const MIN: u64 = 60 * 1_000_000_000;

fn meta() -> RecordingMeta {
    RecordingMeta {
        created_by: "store tests".into(),
        sources: vec!["synthetic".into()],
        caveats: vec!["made up".into()],
    }
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn segment_names_round_trip() {
    let h = hour_of(UnixNanos(T0));
    assert_eq!(segment_file_name(h, 0), "20260413T12.seg.zst");
    assert_eq!(segment_file_name(h + 13, 2), "20260414T01-2.seg.zst");
    assert_eq!(parse_segment_file_name("20260413T12.seg.zst"), Some((h, 0)));
    assert_eq!(
        parse_segment_file_name("20260414T01-2.seg.zst"),
        Some((h + 13, 2))
    );
    assert_eq!(
        parse_segment_file_name("20240229T23.seg.zst").map(|x| x.0 % 24),
        Some(23)
    );
    for bad in [
        "20260413T12.seg",
        "20260413T24.seg.zst",
        "20260231T01.seg.zst",
        "20260413T12-0.seg.zst",
        "20260413T12-.seg.zst",
        "2026041T12.seg.zst",
        "x0260413T12.seg.zst",
    ] {
        assert_eq!(parse_segment_file_name(bad), None, "{bad}");
    }
    for hour in [0, 1, 400_000, 493_356, 500_000] {
        assert_eq!(
            parse_segment_file_name(&segment_file_name(hour, 7)),
            Some((hour, 7))
        );
    }
}

#[test]
fn round_trip_two_streams_three_hours() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let pm = StreamId::of(Feed::PolymarketMarket);
    let bn = StreamId::named(Feed::BinanceSpot, "binance-spot-trades").unwrap();
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    let mut expect_pm = Vec::new();
    let mut expect_bn = Vec::new();
    // 3 hours, a frame every 9 s on each stream.
    for i in 0..1_200u64 {
        let t = UnixNanos(T0 + i * 9_000_000_000);
        let a = format!("pm-{i}").into_bytes();
        let b = format!("bn-{i}").into_bytes();
        w.append(&pm, t, &a).unwrap();
        w.append(&bn, UnixNanos(t.0 + 1), &b).unwrap();
        expect_pm.push((t, a));
        expect_bn.push((UnixNanos(t.0 + 1), b));
        if i % 100 == 0 {
            w.flush().unwrap();
        }
    }
    let mut win = Window::new(
        "btc-updown-5m-1776081600",
        Asset::Btc,
        WindowDuration::M5,
        T0_S,
    );
    win.up_token = Some(TokenId::parse("123").unwrap());
    w.upsert_window(win.clone());
    let summary = w.finish().unwrap();
    assert_eq!(summary.frames["polymarket-market"], 1_200);
    assert_eq!(summary.frames["binance-spot-trades"], 1_200);
    assert_eq!(summary.segments, 6);
    assert_eq!(summary.windows, 1);
    assert_eq!(
        summary.bytes["polymarket-market"],
        expect_pm.iter().map(|x| x.1.len() as u64).sum::<u64>()
    );

    // Rotation created exactly the expected files.
    assert_eq!(
        files_of(&dir),
        vec!["capture", "recording.json", "windows.jsonl"]
    );
    assert_eq!(
        files_of(&dir.join("capture")),
        vec!["binance-spot-trades", "polymarket-market"]
    );
    let hours = vec![
        "20260413T12.seg.zst",
        "20260413T13.seg.zst",
        "20260413T14.seg.zst",
    ];
    assert_eq!(files_of(&dir.join("capture/polymarket-market")), hours);
    assert_eq!(files_of(&dir.join("capture/binance-spot-trades")), hours);

    // Each hour's segment holds exactly that hour's frames.
    let seg =
        segment::read_all(&dir.join("capture/polymarket-market/20260413T13.seg.zst")).unwrap();
    let h13: Vec<_> = expect_pm
        .iter()
        .filter(|(t, _)| hour_of(*t) == hour_of(UnixNanos(T0)) + 1)
        .cloned()
        .collect();
    assert_eq!(seg.records, h13);
    assert_eq!(seg.header.unwrap().feed, Feed::PolymarketMarket);

    let rec = Recording::open(&dir).unwrap();
    assert!(rec.is_finished());
    assert_eq!(rec.meta(), &meta());
    assert_eq!(rec.dir(), dir.as_path());
    assert_eq!(rec.windows(), &[win.clone()]);
    assert_eq!(
        rec.window_by_token(TokenId::parse("123").unwrap()),
        Some(&win)
    );
    assert_eq!(rec.window_by_slug("btc-updown-5m-1776081600"), Some(&win));
    let names: Vec<_> = rec.streams().iter().map(|s| s.id.clone()).collect();
    assert_eq!(names, vec![bn.clone(), pm.clone()]);
    assert_eq!(rec.segments().count(), 6);
    let pm_info = rec.stream("polymarket-market").unwrap();
    assert_eq!(pm_info.manifest.as_ref().unwrap().frames, 1_200);
    assert_eq!(pm_info.segments[0].start(), UnixNanos(T0));
    assert_eq!(pm_info.segments[0].end(), UnixNanos(T0 + NANOS_PER_HOUR));
    let mut all = Vec::new();
    for s in &pm_info.segments {
        all.extend(segment::read_all(&s.path).unwrap().records);
    }
    assert_eq!(all, expect_pm);

    // The manifest is as documented.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("recording.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "polyedge-recording");
    assert_eq!(m["format_version"], 1);
    assert_eq!(m["created_by"], "store tests");
    assert_eq!(m["sources"][0], "synthetic");
    assert_eq!(m["streams"]["polymarket-market"]["frames"], 1_200);
    assert_eq!(
        m["streams"]["polymarket-market"]["feed"],
        "polymarket-market"
    );
    assert_eq!(m["streams"]["binance-spot-trades"]["feed_code"], 3);
    assert_eq!(m["streams"]["binance-spot-trades"]["segments"], 3);
    assert!(m["created_ns"].is_u64() && m["finished_ns"].is_u64());
}

#[test]
fn revisiting_an_hour_adds_a_numbered_suffix_and_keeps_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let s = StreamId::of(Feed::Rtds);
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    // Alternate between 12:59 and 13:00 twelve times (an importer writing slightly unsorted data).
    let mut written = Vec::new();
    for i in 0..12u64 {
        for t in [T0 + 59 * MIN + i, T0 + 60 * MIN + i] {
            w.append(&s, UnixNanos(t), &t.to_le_bytes()).unwrap();
            written.push(t);
        }
    }
    w.finish().unwrap();
    let files = files_of(&dir.join("capture/rtds"));
    assert_eq!(files.len(), 24);
    assert!(
        files.contains(&"20260413T12-11.seg.zst".to_string()),
        "{files:?}"
    );
    let rec = Recording::open(&dir).unwrap();
    let segs = &rec.stream("rtds").unwrap().segments;
    // Replay order: by hour, then suffix numerically (T12, T12-1, …, T12-11, T13, …).
    let order: Vec<(u64, u32)> = segs
        .iter()
        .map(|s| (s.hour - hour_of(UnixNanos(T0)), s.seq))
        .collect();
    let mut expected: Vec<(u64, u32)> = (0..12).map(|n| (0, n)).collect();
    expected.extend((0..12).map(|n| (1, n)));
    assert_eq!(order, expected);
    let mut read = Vec::new();
    for seg in segs {
        read.extend(
            segment::read_all(&seg.path)
                .unwrap()
                .records
                .into_iter()
                .map(|r| r.0.0),
        );
    }
    let mut sorted = written.clone();
    sorted.sort_unstable();
    assert_eq!(
        read, sorted,
        "hour-then-suffix order reads each hour's frames in write order"
    );
}

#[test]
fn open_without_manifest_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Recording::open(tmp.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Format { .. }), "{err:?}");
    assert!(
        msg.contains("recording.json") && msg.contains("not a polyedge recording"),
        "{msg}"
    );
    let err = Recording::open(&tmp.path().join("missing")).unwrap_err();
    assert!(
        err.to_string().contains("no such recording directory"),
        "{err}"
    );

    std::fs::write(tmp.path().join("recording.json"), b"{\"format\": \"other\"").unwrap();
    let err = Recording::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("recording.json"), "{err}");
    std::fs::write(
        tmp.path().join("recording.json"),
        br#"{"format":"polyedge-recording","format_version":9,"created_by":"x","created_ns":0}"#,
    )
    .unwrap();
    let err = Recording::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("format_version 9"), "{err}");
}

#[test]
fn create_refuses_a_non_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x"), b"").unwrap();
    assert!(matches!(
        RecordingWriter::create(tmp.path(), meta()),
        Err(StoreError::Usage(_))
    ));
    // An existing empty directory is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    RecordingWriter::create(&empty, meta())
        .unwrap()
        .finish()
        .unwrap();
    let rec = Recording::open(&empty).unwrap();
    assert!(rec.streams().is_empty() && rec.windows().is_empty());
}

#[test]
fn stream_names_and_feeds_are_checked() {
    assert!(StreamId::named(Feed::Rtds, "Bad_Name").is_err());
    assert!(StreamId::named(Feed::Rtds, "").is_err());
    let tmp = tempfile::tempdir().unwrap();
    let mut w = RecordingWriter::create(&tmp.path().join("r"), meta()).unwrap();
    let bad = StreamId {
        feed: Feed::Rtds,
        name: "../escape".into(),
    };
    assert!(matches!(
        w.append(&bad, UnixNanos(T0), b"x"),
        Err(StoreError::Usage(_))
    ));
    w.append(&StreamId::of(Feed::Rtds), UnixNanos(T0), b"x")
        .unwrap();
    let other = StreamId {
        feed: Feed::Coinbase,
        name: "rtds".into(),
    };
    assert!(matches!(
        w.append(&other, UnixNanos(T0), b"x"),
        Err(StoreError::Usage(_))
    ));
}

#[test]
fn windows_index_sorted_upserted_and_line_errors_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    let a = Window::new(
        "eth-updown-5m-1776081900",
        Asset::Eth,
        WindowDuration::M5,
        T0_S + 300,
    );
    let b = Window::new(
        "btc-updown-5m-1776081900",
        Asset::Btc,
        WindowDuration::M5,
        T0_S + 300,
    );
    let c = Window::new(
        "btc-updown-5m-1776081600",
        Asset::Btc,
        WindowDuration::M5,
        T0_S,
    );
    w.upsert_window(a.clone());
    w.upsert_window(b.clone());
    w.upsert_window(c.clone());
    let mut a2 = a.clone();
    a2.notes.push("replaced".into());
    w.upsert_window(a2.clone());
    w.flush().unwrap();
    // flush() already wrote the index (crash safety).
    assert_eq!(
        std::fs::read_to_string(dir.join("windows.jsonl"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    w.finish().unwrap();
    let rec = Recording::open(&dir).unwrap();
    assert_eq!(rec.windows(), &[c, b, a2]);

    let text = std::fs::read_to_string(dir.join("windows.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{not json";
    std::fs::write(dir.join("windows.jsonl"), lines.join("\n")).unwrap();
    let err = Recording::open(&dir).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("windows.jsonl") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn unfinished_recording_opens_from_segment_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let s = StreamId::named(Feed::BinanceUsdm, "binance-usdm-kline").unwrap();
    let mut w = RecordingWriter::create(&dir, meta()).unwrap();
    for i in 0..100u64 {
        w.append(&s, UnixNanos(T0 + i), b"k").unwrap();
    }
    w.flush().unwrap();
    w.append(&s, UnixNanos(T0 + 500), b"lost").unwrap();
    let snapshot = tmp.path().join("snapshot");
    copy_dir(&dir, &snapshot);
    std::mem::forget(w); // as if killed

    let rec = Recording::open(&snapshot).unwrap();
    assert!(!rec.is_finished());
    assert_eq!(rec.streams().len(), 1);
    assert_eq!(rec.streams()[0].id, s);
    assert!(rec.streams()[0].manifest.is_none());
    let seg = &rec.streams()[0].segments[0];
    assert_eq!(segment::read_all(&seg.path).unwrap().records.len(), 100);
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

#[test]
fn idle_segments_close_and_report_to_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let mut w = RecordingWriter::create(&rec, RecordingMeta::default()).unwrap();
    let s = StreamId::of(Feed::Rtds);
    let h = 1_776_081_600_000_000_000u64; // 2026-04-13T12:00Z
    w.append(&s, UnixNanos(h + 1), b"a").unwrap();
    w.append(&s, UnixNanos(h + 2), b"b").unwrap();
    // Same hour: nothing to close.
    assert_eq!(w.close_segments_before(UnixNanos(h + 10)).unwrap(), 0);
    assert!(w.take_closed_segments().is_empty());
    // Next hour: the quiet stream's segment is closed, complete and synced.
    let next = UnixNanos(h + 3_600_000_000_000);
    assert_eq!(w.close_segments_before(next).unwrap(), 1);
    let closed = w.take_closed_segments();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].frames, 2);
    assert_eq!(closed[0].stream, s);
    assert!(closed[0].path.ends_with("20260413T12.seg.zst"));
    let got: Vec<_> = polyedge_store::SegmentReader::open(&closed[0].path)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
    // Rotation closes the previous segment too; finish reports the last one.
    w.append(&s, next, b"c").unwrap();
    w.sync().unwrap();
    w.append(&s, UnixNanos(next.0 + 3_600_000_000_000), b"d")
        .unwrap();
    let rotated = w.take_closed_segments();
    assert_eq!(rotated.len(), 1);
    assert!(rotated[0].path.ends_with("20260413T13.seg.zst"));
    let summary = w.finish().unwrap();
    assert_eq!(summary.closed.len(), 1);
    assert!(summary.closed[0].path.ends_with("20260413T14.seg.zst"));
}
