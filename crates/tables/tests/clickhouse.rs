//! ClickHouse against a real server (Debian's clickhouse-server 18.16, started by the test on
//! 127.0.0.1): backfill, the live sink (also with ClickHouse down), and replay from ClickHouse
//! compared frame by frame and event by event with replay from the files.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::ch::ChServer;
use common::*;
use polyedge_core::{MarketEvent, UnixNanos};
use polyedge_store::{
    EventReplay, FrameReplay, NoProgress, Recording, RecordingMeta, RecordingWriter, ReplayFilter,
    ReplayStats, StreamId,
};
use polyedge_tables::clickhouse::{
    BackfillOptions, BlockingEventReplay, BlockingFrameReplay, ChConfig, ChDb, ChFrameReplay,
    ChSink, backfill,
};
use serde::Deserialize;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

type FrameKey = (String, u64, Vec<u8>);

fn file_frames(dirs: &[&Path], filter: &ReplayFilter) -> (Vec<FrameKey>, ReplayStats) {
    let mut r = FrameReplay::open_dirs(dirs, filter.clone()).unwrap();
    let mut v = Vec::new();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        v.push((f.stream.name.clone(), f.recv_ns.0, f.bytes.to_vec()));
    }
    (v, r.stats().clone())
}

fn ch_frames(db: &ChDb, names: &[&str], filter: &ReplayFilter) -> (Vec<FrameKey>, ReplayStats) {
    let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    let r = BlockingFrameReplay::open(db, &names, filter).unwrap();
    let mut r = r;
    let v = r
        .by_ref()
        .map(|f| {
            let f = f.unwrap();
            (f.stream.name, f.recv_ns.0, f.bytes)
        })
        .collect();
    (v, r.stats().clone())
}

fn file_events(dirs: &[&Path], filter: &ReplayFilter) -> (Vec<MarketEvent>, ReplayStats) {
    let mut r = EventReplay::open_dirs(dirs, filter.clone()).unwrap();
    let v = r.by_ref().map(Result::unwrap).collect();
    (v, r.stats().clone())
}

fn ch_events(db: &ChDb, names: &[&str], filter: &ReplayFilter) -> (Vec<MarketEvent>, ReplayStats) {
    let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    let mut r = BlockingEventReplay::open(db, &names, filter).unwrap();
    let v = r.by_ref().map(Result::unwrap).collect();
    (v, r.stats().clone())
}

/// Replay from ClickHouse equals replay from the files: frames (stream, recv_ns, bytes) and
/// events, and the counters that apply to both.
fn assert_same_replay(db: &ChDb, dirs: &[&Path], names: &[&str], filter: &ReplayFilter) -> usize {
    let (ff, fs) = file_frames(dirs, filter);
    let (cf, cs) = ch_frames(db, names, filter);
    assert_eq!(ff.len(), cf.len(), "frame counts, filter {filter:?}");
    for (i, (a, b)) in ff.iter().zip(&cf).enumerate() {
        assert_eq!(a, b, "frame #{i} differs, filter {filter:?}");
    }
    assert_eq!(
        (fs.frames, fs.bytes, fs.out_of_order),
        (cs.frames, cs.bytes, cs.out_of_order)
    );
    let (fe, fs) = file_events(dirs, filter);
    let (ce, cs) = ch_events(db, names, filter);
    assert_eq!(fe.len(), ce.len(), "event counts, filter {filter:?}");
    for (i, (a, b)) in fe.iter().zip(&ce).enumerate() {
        assert_eq!(a, b, "event #{i} differs, filter {filter:?}");
    }
    assert_eq!(
        (
            fs.events,
            fs.filtered_events,
            fs.parse_errors,
            &fs.parse_errors_by_stream
        ),
        (
            cs.events,
            cs.filtered_events,
            cs.parse_errors,
            &cs.parse_errors_by_stream
        )
    );
    ff.len()
}

#[derive(Debug, Deserialize, clickhouse::Row)]
struct Count {
    n: u64,
}

fn count(db: &ChDb, sql: &str) -> u64 {
    rt().block_on(async {
        db.client()
            .query(sql)
            .fetch_one::<Count>()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .n
    })
}

#[derive(Debug, Deserialize, clickhouse::Row)]
struct Text {
    s: String,
}

fn text(db: &ChDb, sql: &str) -> String {
    rt().block_on(async {
        db.client()
            .query(sql)
            .fetch_one::<Text>()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .s
    })
}

fn opts(name: &str) -> BackfillOptions {
    BackfillOptions {
        name: Some(name.to_string()),
        ..BackfillOptions::default()
    }
}

#[test]
#[cfg_attr(
    not(feature = "clickhouse-tests"),
    ignore = "needs Debian's clickhouse-server (scripts/test installs it, or apt-get install clickhouse-server)"
)]
fn backfill_then_replay_from_clickhouse_equals_replay_from_files() {
    let server = ChServer::start();
    let db = ChDb::new(ChConfig::parse(&server.url("pe_test")).unwrap());
    let version = rt().block_on(db.version()).unwrap();
    eprintln!("ClickHouse server version {version}");

    let tmp = tempfile::tempdir().unwrap();
    let hand = tmp.path().join("hand");
    write_hand_recording(&hand);
    let sample = tmp.path().join("sample");
    import_sample(&sample);

    let r = rt()
        .block_on(backfill(&db, &hand, &opts("hand"), &NoProgress))
        .unwrap();
    assert_eq!(r.frames, hand_frames().len() as u64, "{r}");
    assert_eq!(r.parse_errors, 1);
    assert_eq!(r.windows, 1);
    assert_eq!(r.segments_loaded, 5, "{r}");
    assert!(r.errors.is_empty() && r.torn_tails.is_empty(), "{r}");
    assert_eq!(count(&db, "SELECT count() AS n FROM frames"), 13);
    assert_eq!(count(&db, "SELECT count() AS n FROM book_snapshots"), 4);
    assert_eq!(
        count(&db, "SELECT count() AS n FROM loaded_segments FINAL"),
        5
    );
    assert_eq!(
        text(
            &db,
            "SELECT toString(price_e18) AS s FROM reference_prices WHERE source = 'chainlink'"
        ),
        "79696.948174287960000000"
    );
    assert_eq!(
        count(
            &db,
            "SELECT toUInt64(price_e8) AS n FROM reference_prices WHERE source = 'chainlink'"
        ),
        7_969_694_817_429
    );
    assert_eq!(
        text(
            &db,
            "SELECT assumeNotNull(outcome) AS s FROM windows FINAL WHERE recording = 'hand'"
        ),
        "Up"
    );

    let r = rt()
        .block_on(backfill(&db, &sample, &opts("sample"), &NoProgress))
        .unwrap();
    assert_eq!(r.frames, 33_650 + 65, "{r}");

    // Whole recordings, merged, and with filters.
    let n = assert_same_replay(&db, &[&hand], &["hand"], &ReplayFilter::default());
    assert_eq!(n, 13);
    let n = assert_same_replay(
        &db,
        &[&sample, &hand],
        &["sample", "hand"],
        &ReplayFilter::default(),
    );
    assert_eq!(n, 33_650 + 65 + 13);
    let window = Recording::open(&sample).unwrap().windows()[3].clone();
    let filtered = ReplayFilter {
        from: Some(UnixNanos(window.start.0 - 60_000_000_000)),
        to: Some(window.end),
        windows: Some(vec![window.slug.clone()]),
        ..ReplayFilter::default()
    };
    let n = assert_same_replay(&db, &[&sample], &["sample"], &filtered);
    assert!(n > 1000 && n < 33_650, "{n}");

    // Backfill again: nothing to do. With --force: duplicate rows, which replay skips.
    let r = rt()
        .block_on(backfill(&db, &hand, &opts("hand"), &NoProgress))
        .unwrap();
    assert_eq!(
        (r.segments_loaded, r.segments_skipped, r.frames),
        (0, 5, 0),
        "{r}"
    );
    let r = rt()
        .block_on(backfill(
            &db,
            &hand,
            &BackfillOptions {
                force: true,
                ..opts("hand")
            },
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(r.frames, 13);
    assert_eq!(
        count(
            &db,
            "SELECT count() AS n FROM frames WHERE recording = 'hand'"
        ),
        26,
        "the forced load duplicated every frame (until a merge)"
    );
    assert_same_replay(&db, &[&hand], &["hand"], &ReplayFilter::default());

    // The recording name is tied to its manifest: another recording cannot take it.
    let err = rt()
        .block_on(backfill(&db, &sample, &opts("hand"), &NoProgress))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already used") && err.contains("--as"),
        "{err}"
    );
}

/// Feeds `frames` to a RecordingWriter and to a ChSink the way `collect` does.
fn record_with_sink(
    dir: &Path,
    sink: &mut ChSink,
    frames: &[(&'static str, polyedge_venues::Feed, u64, String)],
) -> Vec<String> {
    let rt = rt();
    let mut errors = Vec::new();
    let mut w = RecordingWriter::create(dir, RecordingMeta::default()).unwrap();
    for (i, (name, feed, t, payload)) in frames.iter().enumerate() {
        let s = StreamId::named(*feed, name).unwrap();
        w.append(&s, UnixNanos(*t), payload.as_bytes()).unwrap();
        sink.push(&s, UnixNanos(*t), payload.as_bytes());
        if i % 4 == 3
            && let Err(e) = rt.block_on(sink.flush())
        {
            errors.push(e.to_string());
        }
    }
    w.upsert_window(hand_window());
    sink.upsert_window(&hand_window());
    w.finish().unwrap();
    if let Err(e) = rt.block_on(sink.finish()) {
        errors.push(e.to_string());
    }
    errors
}

#[test]
#[cfg_attr(
    not(feature = "clickhouse-tests"),
    ignore = "needs Debian's clickhouse-server (scripts/test installs it, or apt-get install clickhouse-server)"
)]
fn live_sink_matches_the_files_and_clickhouse_down_loses_nothing() {
    let server = ChServer::start();
    let db = ChDb::new(ChConfig::parse(&server.url("pe_sink")).unwrap());
    rt().block_on(db.create_schema()).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // The hand frames plus one that goes back to the first hour after the second hour began:
    // the writer then opens 20260415T12-1, and the sink must name it the same.
    let mut frames = hand_frames();
    frames.push((
        "polymarket-market",
        polyedge_venues::Feed::PolymarketMarket,
        T0 + 8 * MS,
        "PONG".to_string(),
    ));
    let live = tmp.path().join("live");
    let mut sink = ChSink::new(db.clone(), "live", 0);
    let errors = record_with_sink(&live, &mut sink, &frames);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        live.join("capture/polymarket-market/20260415T12-1.seg.zst")
            .is_file()
    );
    let st = sink.stats().clone();
    assert_eq!(st.frames_inserted, frames.len() as u64);
    assert_eq!((st.parse_errors, st.frames_dropped), (1, 0));
    assert_eq!(st.segments_marked, 6, "{st:?}");
    let n = assert_same_replay(&db, &[&live], &["live"], &ReplayFilter::default());
    assert_eq!(n, frames.len());
    // Everything was marked loaded by the sink, so backfill has nothing to do…
    let r = rt()
        .block_on(backfill(&db, &live, &opts("live-b"), &NoProgress))
        .unwrap();
    assert_eq!(
        r.segments_loaded, 6,
        "a different name is a different recording"
    );

    // ClickHouse down: every flush fails, the sink drops its buffer (limit 0), and nothing
    // is marked; the capture files have everything and backfill loads it afterwards.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead =
        ChDb::new(ChConfig::parse(&format!("http://127.0.0.1:{dead_port}/pe_sink")).unwrap());
    let down = tmp.path().join("down");
    let mut sink = ChSink::new(dead, "down", 0);
    sink.max_buffered_bytes = 0;
    let errors = record_with_sink(&down, &mut sink, &frames);
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| e.contains(&format!("127.0.0.1:{dead_port}/pe_sink"))),
        "{errors:?}"
    );
    let st = sink.stats();
    assert_eq!(st.frames_inserted, 0);
    assert_eq!(st.frames_dropped, frames.len() as u64, "{st:?}");
    let r = rt()
        .block_on(backfill(
            &db,
            &down,
            &BackfillOptions {
                name: Some("down".into()),
                ..BackfillOptions::default()
            },
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(r.frames, frames.len() as u64, "{r}");
    assert_same_replay(&db, &[&down], &["down"], &ReplayFilter::default());

    // The async API gives the same frames as the blocking one.
    let n = rt().block_on(async {
        let mut r = ChFrameReplay::open(&db, &["down".to_string()], &ReplayFilter::default())
            .await
            .unwrap();
        let mut n = 0;
        while let Some(f) = r.next_frame().await {
            f.unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(n, frames.len());
}
