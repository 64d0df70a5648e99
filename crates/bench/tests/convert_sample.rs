//! Smoke test of the hftbacktest converter on the bundled sample (`data/sample`): the file it
//! writes, read back and replayed the way hftbacktest's local processor applies these events,
//! gives the best bid/ask checksum that polyedge's own books gave.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use polyedge_bench::hbt::{self, TokenChoice};
use polyedge_bench::npy::{
    self, BUY_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, EXCH_EVENT, LOCAL_EVENT, SELL_EVENT,
};
use polyedge_store::NoProgress;
use polyedge_store::import::{self, ImportKind};

fn sample_recording(dir: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let rec = dir.join("rec");
    import::import(ImportKind::Cronos, &src, &rec, &NoProgress).expect("import the sample");
    rec
}

#[test]
fn converted_sample_reproduces_polyedge_best_bid_ask() {
    let dir = tempfile::tempdir().unwrap();
    let rec = sample_recording(dir.path());
    for choice in [TokenChoice::MostRecorded, TokenChoice::All] {
        let out = dir.path().join("events.npy");
        let conv = hbt::convert(&rec, &out, choice).expect("convert");
        assert!(conv.frames > 1000, "{conv:?}");
        assert_eq!(conv.refused, 0);
        assert_eq!(conv.parse_errors, 0);
        assert_eq!(conv.events, conv.frames + conv.levels + 1);
        // cronos prices are cents, with tenths of a cent near the extremes.
        assert_eq!(conv.tick_micros, 1000);
        match choice {
            TokenChoice::MostRecorded => {
                assert_eq!(conv.tokens_selected, conv.windows);
                assert!(conv.frames <= conv.book_frames_total);
            }
            TokenChoice::All => {
                assert_eq!(conv.tokens_selected, conv.tokens_total);
                assert_eq!(conv.frames, conv.book_frames_total);
            }
        }
        assert_eq!(conv.checksum.frames, conv.frames);
        // The books have levels on both sides.
        assert!(conv.checksum.bid_tick_sum > 0 && conv.checksum.ask_tick_sum > 0);

        let events = npy::read_events(&out).expect("read back");
        assert_eq!(events.len() as u64, conv.events);
        // Shapes: a clear opens every frame, timestamps strictly increase between frames.
        let mut last = i64::MIN;
        let mut clears = 0;
        let (end, events_only) = events.split_last().expect("events");
        assert_eq!(end.ev, EXCH_EVENT | LOCAL_EVENT, "end marker");
        assert_eq!(
            end.local_ts,
            events_only.last().expect("frames").local_ts + 1
        );
        for e in events_only {
            assert_eq!(e.ev & (EXCH_EVENT | LOCAL_EVENT), EXCH_EVENT | LOCAL_EVENT);
            assert_eq!(e.exch_ts, e.local_ts);
            match e.ev & 0xff {
                DEPTH_CLEAR_EVENT => {
                    assert!(e.local_ts > last);
                    last = e.local_ts;
                    clears += 1;
                }
                DEPTH_SNAPSHOT_EVENT => {
                    assert_eq!(e.local_ts, last);
                    assert_ne!(e.ev & (BUY_EVENT | SELL_EVENT), 0);
                    assert!(e.px > 0.0 && e.px < 1.0 && e.qty > 0.0, "{e:?}");
                }
                other => panic!("unexpected event kind {other}"),
            }
        }
        assert_eq!(clears, conv.frames);
        assert_eq!(
            hbt::checksum_of_events(&events, conv.tick_micros),
            conv.checksum
        );
    }
}

#[test]
fn checksum_sees_a_changed_best_price() {
    let dir = tempfile::tempdir().unwrap();
    let rec = sample_recording(dir.path());
    let out = dir.path().join("events.npy");
    let conv = hbt::convert(&rec, &out, TokenChoice::MostRecorded).expect("convert");
    let mut events = npy::read_events(&out).expect("read back");
    // Move the first bid level of the 500th frame one tick higher than every other bid.
    let clear = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.ev & 0xff == DEPTH_CLEAR_EVENT)
        .nth(500)
        .map(|(i, _)| i)
        .expect("500 frames");
    let e = &mut events[clear + 1];
    assert_ne!(e.ev & BUY_EVENT, 0);
    e.px = 0.999;
    assert_ne!(
        hbt::checksum_of_events(&events, conv.tick_micros),
        conv.checksum
    );
}
