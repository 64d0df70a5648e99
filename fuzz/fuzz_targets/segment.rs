//! Fuzz target: the segment reader on arbitrary file contents, in every mode (a lone segment;
//! a closed segment, strict and skipping damage; the last segment of an unfinished recording).
//! Checks that it never panics, never loops, and that skipping damage never yields an error
//! while reading. See docs/reliability.md.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use polyedge_store::segment::{ReadOptions, SegmentReader};

/// One scratch file per fuzzing process, on tmpfs when there is one.
fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("polyedge-fuzz-{}.seg.zst", std::process::id()))
    })
}

fn read(path: &std::path::Path, opts: ReadOptions) {
    let Ok(mut r) = SegmentReader::open_with(path, opts) else {
        assert!(!opts.skip_corrupt, "skipping damage: only I/O errors may fail open");
        return;
    };
    let mut n = 0u64;
    loop {
        match r.advance() {
            Ok(Some(_)) => {
                n += 1;
                let _ = r.payload().len();
            }
            Ok(None) => break,
            Err(_) => {
                assert!(!opts.skip_corrupt, "skipping damage never yields an error");
                break;
            }
        }
        // A record takes at least 16 bytes of decompressed data; this bounds any loop.
        assert!(n < 1 << 32);
    }
    assert_eq!(r.records_read(), n);
    for s in r.skipped() {
        let _ = s.to_string();
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    for opts in [
        ReadOptions::LONE,
        ReadOptions { tail_allowed: false, skip_corrupt: false },
        ReadOptions { tail_allowed: false, skip_corrupt: true },
        ReadOptions { tail_allowed: true, skip_corrupt: true },
    ] {
        read(path, opts);
    }
});
