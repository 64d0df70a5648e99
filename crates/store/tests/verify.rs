//! `verify`: every record of every segment is read; damage and missing frames are reported,
//! a legitimate torn tail is not.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::path::Path;

use polyedge_core::UnixNanos;
use polyedge_store::verify::verify;
use polyedge_store::{NoProgress, Recording, RecordingMeta, RecordingWriter, StreamId};
use polyedge_venues::Feed;

const T0: u64 = 1_776_081_600_000_000_000; // 2026-04-13T12:00:00Z
const HOUR: u64 = 3_600_000_000_000;

/// Two streams, two hours each, 30 000 frames per stream-hour (several zstd frames per segment).
fn write(dir: &Path, finish: bool) {
    let mut w = RecordingWriter::create(
        dir,
        RecordingMeta {
            created_by: "verify tests".into(),
            ..RecordingMeta::default()
        },
    )
    .unwrap();
    let streams = [
        StreamId::of(Feed::PolymarketMarket),
        StreamId::of(Feed::Rtds),
    ];
    let mut x: u64 = 1;
    for i in 0..60_000u64 {
        for s in &streams {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = T0 + i * (2 * HOUR / 60_000);
            w.append(
                s,
                UnixNanos(t),
                format!("{{\"i\":{i},\"x\":{x}}}").as_bytes(),
            )
            .unwrap();
        }
    }
    if finish {
        w.finish().unwrap();
    } else {
        w.flush().unwrap();
        std::mem::forget(w);
    }
}

#[test]
fn a_healthy_recording_is_healthy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    write(&dir, true);
    let r = verify(&Recording::open(&dir).unwrap(), &NoProgress).unwrap();
    assert!(r.healthy(), "{:?}", r.problems);
    assert_eq!(r.streams.len(), 2);
    for s in &r.streams {
        assert_eq!(s.frames, 60_000);
        assert_eq!(s.manifest_frames, Some(60_000));
        assert_eq!(s.segments, 2);
        assert!(s.ok());
    }
    assert!(
        r.segments
            .iter()
            .all(|s| s.descriptors == s.zstd_frames && s.zstd_frames > 2)
    );
}

#[test]
fn damage_and_missing_segments_are_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    write(&dir, true);
    // A bad block in the first rtds segment, and the second polymarket segment deleted.
    let bad = dir.join("capture/rtds/20260413T12.seg.zst");
    let mut b = std::fs::read(&bad).unwrap();
    let at = b.len() / 3;
    for (i, x) in b[at..at + 300].iter_mut().enumerate() {
        *x = (i as u8).wrapping_mul(97) ^ 0x3c;
    }
    std::fs::write(&bad, &b).unwrap();
    std::fs::remove_file(dir.join("capture/polymarket-market/20260413T13.seg.zst")).unwrap();

    let r = verify(&Recording::open(&dir).unwrap(), &NoProgress).unwrap();
    assert!(!r.healthy());
    let text = r.problems.join("\n");
    assert!(text.contains("rtds/20260413T12.seg.zst"), "{text}");
    assert!(
        text.contains("manifest counts 2 segment files, 1 found"),
        "{text}"
    );
    let pm = r
        .streams
        .iter()
        .find(|s| s.stream == "polymarket-market")
        .unwrap();
    assert_eq!(pm.frames, 30_000);
    assert_eq!((pm.frames_lost, pm.lost_exact), (30_000, true));
    let rt = r.streams.iter().find(|s| s.stream == "rtds").unwrap();
    assert_eq!(rt.damaged_segments, 1);
    assert!(rt.lost_exact);
    assert_eq!(rt.frames + rt.frames_lost, 60_000);
    // The rest of the damaged segment was read: only its damaged zstd frame is lost.
    let seg = r.segments.iter().find(|s| s.path == bad).unwrap();
    assert_eq!(seg.damage.len(), 1);
    assert!(seg.damage[0].resumed && seg.damage[0].exact);
}

#[test]
fn an_unfinished_recording_may_end_in_torn_tails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    write(&dir, false);
    // Tear the last segment of each stream mid-frame, as a kill during a write does.
    for s in ["polymarket-market", "rtds"] {
        let p = dir.join(format!("capture/{s}/20260413T13.seg.zst"));
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    }
    let r = verify(&Recording::open(&dir).unwrap(), &NoProgress).unwrap();
    assert!(!r.finished);
    assert!(r.healthy(), "{:?}", r.problems);
    assert!(r.streams.iter().all(|s| s.torn_tails == 1));
    // The same tear in a segment that is not the stream's last is damage.
    let p = dir.join("capture/rtds/20260413T12.seg.zst");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    let r = verify(&Recording::open(&dir).unwrap(), &NoProgress).unwrap();
    assert!(!r.healthy());
    assert!(r.problems[0].contains("truncated"), "{:?}", r.problems);
}
