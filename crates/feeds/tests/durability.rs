//! The writer's durability promises, in process: a lagging writer keeps the oldest unwritten
//! frame within the loss bound (feed tasks are held back, not the queue grown), and a disk
//! running out of space stops the writer cleanly with everything written readable.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyedge_core::UnixNanos;
use polyedge_feeds::FeedError;
use polyedge_feeds::durability::DurabilityOptions;
use polyedge_feeds::sink::{WriterOptions, spawn_writer, wall_ns};
use polyedge_store::verify::verify;
use polyedge_store::{
    FrameReplay, NoProgress, Recording, RecordingMeta, RecordingWriter, ReplayFilter, StreamId,
};
use polyedge_venues::Feed;

fn meta() -> RecordingMeta {
    RecordingMeta {
        created_by: "durability tests".into(),
        ..RecordingMeta::default()
    }
}

/// A frame of ~`len` bytes that compresses poorly, carrying its sequence number.
fn frame(seq: u64, len: usize) -> Bytes {
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut s = format!("{{\"seq\":{seq},\"pad\":\"");
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(char::from(b'a' + (x % 26) as u8));
    }
    s.push_str("\"}");
    Bytes::from(s)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        n += if p.is_dir() {
            dir_bytes(&p)
        } else {
            e.metadata().map_or(0, |m| m.len())
        };
    }
    n
}

/// A writer 100 × slower than its producer: the oldest unwritten frame never gets older than
/// the loss bound, because the producer is held back (its intake drops to the writer's pace).
#[test]
fn a_lagging_writer_holds_producers_back_within_the_loss_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let max_loss = Duration::from_millis(400);
    let writer = RecordingWriter::create(&tmp.path().join("rec"), meta()).unwrap();
    let (sink, handle) = spawn_writer(
        writer,
        WriterOptions {
            flush: Duration::from_millis(50),
            fsync: None,
            queue_bytes: 256 << 20,
            clock: std::sync::Arc::new(polyedge_feeds::sink::RecvClock::wall()),
            window_records: false,
            tap: None,
            on_closed: Box::new(|_| {}),
            durability: DurabilityOptions {
                max_loss,
                slow_disk: Some(Duration::from_micros(300)),
                min_free_bytes: 0,
                warn_free_bytes: 0,
                ..DurabilityOptions::default()
            },
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stream = Arc::new(StreamId::of(Feed::Rtds));
    let (sent, worst) = rt.block_on(async {
        let monitor = {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_secs(3) {
                    worst = worst.max(sink.oldest_unwritten().unwrap_or_default());
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                worst
            })
        };
        let t0 = Instant::now();
        let mut sent = 0u64;
        while t0.elapsed() < Duration::from_secs(3) {
            sink.frame(&stream, UnixNanos(wall_ns()), frame(sent, 200))
                .await
                .unwrap();
            sent += 1;
        }
        (sent, monitor.await.unwrap())
    });
    drop(sink);
    let report = handle.join().unwrap();
    eprintln!("lagging writer: {sent} frames in 3 s, oldest unwritten frame at most {worst:?}");
    assert!(
        worst <= max_loss,
        "the oldest unwritten frame reached {worst:?} (bound {max_loss:?})"
    );
    // The writer did lag: ~3 300 frames/s at 300 µs each, while an unthrottled producer queues
    // hundreds of thousands per second. The producer was held to the writer's pace.
    assert!(sent < 20_000, "producer was not held back: {sent} frames");
    assert_eq!(report.summary.frames["rtds"], sent);
}

/// The filesystem "fills up" (a probe reporting the space left on a 64 MiB disk): below the
/// stop threshold the writer stops cleanly — queued frames written, every segment closed and
/// synced, the manifest finished — and reports the free space; the recording verifies healthy.
#[test]
fn low_disk_space_stops_the_writer_cleanly_and_keeps_everything_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let disk: u64 = 64 << 20;
    let probe_dir = dir.clone();
    let writer = RecordingWriter::create(&dir, meta()).unwrap();
    let (sink, handle) = spawn_writer(
        writer,
        WriterOptions {
            flush: Duration::from_millis(20),
            fsync: None,
            queue_bytes: 8 << 20,
            clock: std::sync::Arc::new(polyedge_feeds::sink::RecvClock::wall()),
            window_records: false,
            tap: None,
            on_closed: Box::new(|_| {}),
            durability: DurabilityOptions {
                min_free_bytes: disk - (2 << 20),
                warn_free_bytes: disk - (1 << 20),
                space_check_every: Duration::from_millis(20),
                free_space: Some(Box::new(move |_| Ok(disk - dir_bytes(&probe_dir)))),
                ..DurabilityOptions::default()
            },
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = Arc::new(StreamId::of(Feed::Rtds));
    let accepted = rt.block_on(async {
        let mut n = 0u64;
        let t0 = Instant::now();
        while sink
            .frame(&stream, UnixNanos(wall_ns()), frame(n, 2000))
            .await
            .is_ok()
        {
            n += 1;
            assert!(
                t0.elapsed() < Duration::from_mins(1),
                "the writer never stopped"
            );
            if n.is_multiple_of(256) {
                tokio::task::yield_now().await;
            }
        }
        n
    });
    drop(sink);
    let err = handle.join().unwrap_err();
    let FeedError::DiskFull { free_bytes, .. } = &err else {
        panic!("expected DiskFull, got {err}");
    };
    assert!(*free_bytes < disk - (2 << 20));
    assert!(err.to_string().contains("stopped cleanly"), "{err}");
    let rec = Recording::open(&dir).unwrap();
    assert!(rec.is_finished(), "the manifest was written");
    let health = verify(&rec, &NoProgress).unwrap();
    assert!(health.healthy(), "{:?}", health.problems);
    // Written frames are the first ones sent, in order, nothing invented.
    let frames: Vec<_> = FrameReplay::open(&[rec], ReplayFilter::default())
        .unwrap()
        .map(|f| f.unwrap().bytes)
        .collect();
    assert!(
        frames.len() as u64 * 2000 > 2 << 20,
        "{} frames",
        frames.len()
    );
    assert!(frames.len() as u64 <= accepted);
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f, &frame(k as u64, 2000).to_vec());
    }
}
