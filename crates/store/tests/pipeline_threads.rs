//! A pipelined replay dropped early stops its reader thread. In a test binary of its own: it lists
//! the process's threads, which other tests running in parallel would add to.

#![allow(clippy::unwrap_used)]

mod common;

use common::{json_parser, reference};
use polyedge_core::UnixNanos;
use polyedge_store::{
    EventReplay, PipelinedEvents, RecordingMeta, RecordingWriter, ReplayFilter, StreamId,
};
use polyedge_venues::Feed;

const T0: u64 = 1_776_081_600 * 1_000_000_000;

fn replay_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .filter(|n| n.starts_with("replay-"))
        .collect()
}

#[test]
fn dropping_a_pipelined_replay_early_stops_its_reader_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let rt = StreamId::of(Feed::Rtds);
    let mut w = RecordingWriter::create(
        &dir,
        RecordingMeta {
            created_by: "pipeline tests".into(),
            ..RecordingMeta::default()
        },
    )
    .unwrap();
    for i in 0..20_000u64 {
        let t = T0 + i * 1_000_000_000;
        w.append(
            &rt,
            UnixNanos(t),
            &serde_json::to_vec(&vec![reference(t, "btc/usd")]).unwrap(),
        )
        .unwrap();
    }
    w.finish().unwrap();
    let replay = EventReplay::open_dirs(&[&dir], ReplayFilter::default())
        .unwrap()
        .with_parser(json_parser);
    let mut p = PipelinedEvents::spawn(replay).unwrap();
    let first: Vec<_> = p.by_ref().take(10).collect::<Result<_, _>>().unwrap();
    assert_eq!(first.len(), 10);
    assert_eq!(replay_threads(), ["replay-reader"], "the reader runs");
    // It is blocked on a full channel, far from the end: dropping must wake and join it (a
    // hang here is the failure), and it may not remain. The kernel lists a joined thread for a
    // moment after the join returns (its task is reaped a little later): give it a second.
    drop(p);
    let t0 = std::time::Instant::now();
    while !replay_threads().is_empty() && t0.elapsed() < std::time::Duration::from_secs(1) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        replay_threads(),
        Vec::<String>::new(),
        "a replay thread outlived its replay"
    );
}
