//! A ClickHouse that accepts connections but never answers (a hung server, a half-open
//! connection): every `ChDb` call fails after its time limit instead of hanging the caller.
//! No ClickHouse needed: the "server" is a TCP listener on 127.0.0.1 that reads and never writes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use polyedge_store::ReplayFilter;
use polyedge_tables::TableError;
use polyedge_tables::clickhouse::{BlockingFrameReplay, ChConfig, ChDb};
use polyedge_tables::tables::{FrameRow, Payload};

/// Starts the silent server; returns its URL.
fn silent_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Read everything, answer nothing, keep the connection open.
                while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
                std::thread::sleep(Duration::from_mins(10));
            });
        }
    });
    format!("http://{addr}/pe_silent")
}

fn is_timeout(r: Result<impl std::fmt::Debug, TableError>, what: &str) {
    match r {
        Err(TableError::Timeout { context, secs, .. }) => {
            assert!(secs < 1.0, "{what}: {secs}");
            assert!(!context.is_empty());
        }
        other => panic!("{what}: expected a timeout, got {other:?}"),
    }
}

#[test]
fn every_call_times_out_on_a_server_that_never_answers() {
    let url = silent_server();
    let limit = Duration::from_millis(300);
    let db = ChDb::new(ChConfig::parse(&url).unwrap()).with_timeouts(limit, limit);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    is_timeout(rt.block_on(db.version()), "version");
    is_timeout(rt.block_on(db.create_schema()), "create_schema");
    is_timeout(rt.block_on(db.recordings()), "recordings");
    is_timeout(rt.block_on(db.windows("r")), "windows");
    is_timeout(rt.block_on(db.loaded_segments("r")), "loaded_segments");
    let row = FrameRow {
        recording: "r".into(),
        segment_hour: 1,
        segment_seq: 0,
        stream: "rtds".into(),
        feed_code: 2,
        record: 0,
        recv_ns: 1,
        payload: Payload(b"{}".to_vec()),
    };
    is_timeout(rt.block_on(db.insert(&[row])), "insert");
    drop(rt);
    // The blocking replay (what `polyedge replay --clickhouse` uses) too.
    let Err(err) = BlockingFrameReplay::open(&db, &["r".to_string()], &ReplayFilter::default())
    else {
        panic!("replay must fail");
    };
    assert!(matches!(err, TableError::Timeout { .. }), "{err}");
    // Seven calls of 300 ms each, not forever.
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}
