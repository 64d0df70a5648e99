//! Segment files: round trip, torn tails at every cut offset, corruption, bad headers.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::type_complexity
)]

use std::path::{Path, PathBuf};

use polyedge_core::UnixNanos;
use polyedge_store::StoreError;
use polyedge_store::segment::{
    self, BLOCK_TARGET, MAX_RECORD_LEN, SegmentHeader, SegmentReader, SegmentWriter,
};
use polyedge_venues::Feed;

const T0: u64 = 1_776_081_600_000_000_000; // 2026-04-13T12:00:00Z

/// Deterministic pseudo-random numbers (xorshift64*), no dependency.
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

/// A payload: compressible JSON-ish text or incompressible noise (to get raw zstd blocks).
fn payload(rng: &mut Rng, i: usize) -> Vec<u8> {
    if i.is_multiple_of(3) {
        let n = 20 + rng.below(300) as usize;
        (0..n).map(|_| rng.next() as u8).collect()
    } else {
        format!(
            r#"{{"event_type":"price_change","i":{i},"price":"0.{:02}","size":"{}"}}"#,
            rng.below(100),
            rng.below(100_000)
        )
        .into_bytes()
    }
}

fn header() -> SegmentHeader {
    SegmentHeader::new(Feed::PolymarketMarket, "polymarket-market", UnixNanos(T0))
}

fn read_ok(path: &Path) -> segment::SegmentContents {
    segment::read_all(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn round_trip_with_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.seg.zst");
    let mut rng = Rng(7);
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    let mut written = Vec::new();
    for i in 0..5_000 {
        let p = payload(&mut rng, i);
        let t = UnixNanos(T0 + i as u64 * 1_000_000);
        w.append(t, &p).unwrap();
        written.push((t, p));
        if i % 777 == 0 {
            w.flush().unwrap();
        }
    }
    w.append(UnixNanos(T0 + 1), b"").unwrap(); // empty payloads are fine
    written.push((UnixNanos(T0 + 1), Vec::new()));
    let stats = w.finish().unwrap();
    assert_eq!(stats.records, 5_001);
    assert_eq!(stats.file_bytes, std::fs::metadata(&path).unwrap().len());

    let c = read_ok(&path);
    assert_eq!(c.header.as_ref(), Some(&header()));
    assert!(c.torn_tail.is_none());
    assert_eq!(c.records, written);

    // The borrowing API sees the same records, and the Iterator API too.
    let mut r = SegmentReader::open(&path).unwrap();
    let mut n = 0;
    while let Some(t) = r.advance().unwrap() {
        assert_eq!((t, r.payload()), (written[n].0, written[n].1.as_slice()));
        n += 1;
    }
    assert_eq!(n, written.len());
    assert_eq!(r.advance().unwrap(), None, "stays at the end");
    let owned: Vec<_> = SegmentReader::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(owned, written);
}

#[test]
fn decompressed_layout_is_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.seg.zst");
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    w.append(UnixNanos(0x0102_0304_0506_0708), b"hi").unwrap();
    w.finish().unwrap();
    let raw = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(&raw[..8], b"PEDGSEG1");
    let hl = u32::from_le_bytes(raw[8..12].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&raw[12..12 + hl]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"format_version": 1, "feed": "polymarket-market", "feed_code": 1,
                           "stream": "polymarket-market", "created_ns": T0})
    );
    let rec = &raw[12 + hl..];
    assert_eq!(rec.len(), 16 + 2);
    assert_eq!(&rec[..4], &2u32.to_le_bytes());
    assert_eq!(&rec[4..12], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&rec[12..14], b"hi");
    let crc = crc32fast::hash(&rec[4..14]);
    assert_eq!(&rec[14..18], &crc.to_le_bytes());
}

#[test]
fn blocks_end_at_the_target_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.seg.zst");
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    let p = vec![b'x'; 10_000];
    for i in 0..300u64 {
        w.append(UnixNanos(T0 + i), &p).unwrap();
        assert!(w.buffered() < BLOCK_TARGET);
    }
    let s = w.stats();
    assert!(s.zstd_frames >= 3, "{s:?}"); // header + two 1 MiB blocks
    let s = w.finish().unwrap();
    assert_eq!(s.records, 300);
    assert_eq!(read_ok(&path).records.len(), 300);
}

#[test]
fn oversized_frame_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.seg.zst");
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    let big = vec![0u8; MAX_RECORD_LEN + 1];
    assert!(matches!(
        w.append(UnixNanos(T0), &big),
        Err(StoreError::Usage(_))
    ));
    w.append(UnixNanos(T0), b"ok").unwrap();
    drop(w); // Drop flushes.
    assert_eq!(
        read_ok(&path).records,
        vec![(UnixNanos(T0), b"ok".to_vec())]
    );
}

#[test]
fn create_refuses_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.seg.zst");
    std::fs::write(&path, b"x").unwrap();
    assert!(matches!(
        SegmentWriter::create(&path, &header()),
        Err(StoreError::Io { .. })
    ));
}

/// Simulates a kill: the file as it is on disk while the writer still holds an unflushed block.
#[test]
fn killed_writer_loses_only_the_unflushed_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.seg.zst");
    let copy = dir.path().join("copy.seg.zst");
    let mut rng = Rng(3);
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    let mut flushed = Vec::new();
    for i in 0..1_000 {
        let p = payload(&mut rng, i);
        w.append(UnixNanos(T0 + i as u64), &p).unwrap();
        flushed.push((UnixNanos(T0 + i as u64), p));
    }
    w.flush().unwrap();
    for i in 1_000..1_500 {
        w.append(UnixNanos(T0 + i), b"not flushed").unwrap();
    }
    std::fs::copy(&path, &copy).unwrap();
    std::mem::forget(w); // no final flush, as after SIGKILL

    let c = read_ok(&copy);
    assert_eq!(c.records, flushed);
    assert!(c.torn_tail.is_none(), "the file ends on a frame boundary");
}

/// Writes a segment whose blocks end at known places; returns the file bytes, the records,
/// and `(file offset of the end of each zstd frame, records in the file up to it)`.
fn segment_with_known_blocks(
    path: &Path,
    seed: u64,
    n: usize,
) -> (Vec<u8>, Vec<(UnixNanos, Vec<u8>)>, Vec<(u64, usize)>) {
    let mut rng = Rng(seed);
    let mut w = SegmentWriter::create(path, &header()).unwrap();
    let mut records = Vec::new();
    let mut bounds = vec![(w.stats().file_bytes, 0)];
    for i in 0..n {
        let p = payload(&mut rng, i);
        let t = UnixNanos(T0 + i as u64 * 7);
        w.append(t, &p).unwrap();
        records.push((t, p));
        if rng.below(10) == 0 {
            w.flush().unwrap();
            bounds.push((w.stats().file_bytes, records.len()));
        }
    }
    w.flush().unwrap();
    bounds.push((w.stats().file_bytes, records.len()));
    w.finish().unwrap();
    (std::fs::read(path).unwrap(), records, bounds)
}

/// Cuts the file at `path` to `cut` bytes in place and checks what a reader gets. The file must
/// be at least `cut` bytes long: callers go through cuts in decreasing order. (Shrinking in place
/// is much cheaper than rewriting the file, which on ext4 forces a flush on close.)
fn check_cut(path: &PathBuf, cut: u64, records: &[(UnixNanos, Vec<u8>)], bounds: &[(u64, usize)]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    assert!(f.metadata().unwrap().len() >= cut);
    f.set_len(cut).unwrap();
    drop(f);
    let c =
        segment::read_all(path).unwrap_or_else(|e| panic!("cut at {cut}: unexpected error {e}"));
    // Records of frames wholly before the cut must all be there...
    let min = bounds
        .iter()
        .filter(|(end, _)| *end <= cut)
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    // ...and nothing from frames starting at or after the cut.
    let max = bounds
        .iter()
        .find(|(end, _)| *end >= cut)
        .map_or(records.len(), |(_, n)| *n);
    let k = c.records.len();
    assert!(
        (min..=max).contains(&k),
        "cut at {cut}: {k} records, expected {min}..={max}"
    );
    assert_eq!(
        c.records[..],
        records[..k],
        "cut at {cut}: records differ (garbage?)"
    );
    let on_boundary = bounds.iter().any(|(end, _)| *end == cut);
    assert_eq!(
        c.torn_tail.is_none(),
        on_boundary,
        "cut at {cut}: torn tail {:?}",
        c.torn_tail
    );
    if let Some(t) = &c.torn_tail {
        assert_eq!(t.records, k as u64);
        assert_eq!(&t.path, path);
    }
    if cut < bounds[0].0 {
        assert!(c.header.is_none());
    }
}

#[test]
fn torn_tail_at_every_offset_of_a_small_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.seg.zst");
    let (bytes, records, bounds) = segment_with_known_blocks(&path, 11, 60);
    for cut in (0..=bytes.len() as u64).rev() {
        check_cut(&path, cut, &records, &bounds);
    }
}

#[test]
fn torn_tail_at_random_offsets_of_a_larger_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.seg.zst");
    let (bytes, records, bounds) = segment_with_known_blocks(&path, 5, 4_000);
    let len = bytes.len() as u64;
    let mut rng = Rng(99);
    let mut cuts: Vec<u64> = (0..400).map(|_| rng.below(len + 1)).collect();
    // Frame boundaries themselves, and one byte either side.
    for &(end, _) in &bounds {
        cuts.extend([end.saturating_sub(1), end, (end + 1).min(len)]);
    }
    cuts.sort_unstable();
    cuts.dedup();
    for &cut in cuts.iter().rev() {
        check_cut(&path, cut, &records, &bounds);
    }
}

#[test]
fn trailing_garbage_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, records, _) =
        segment_with_known_blocks(&dir.path().join("src.seg.zst"), 1, 200);
    bytes.extend_from_slice(&[0u8; 4096]); // e.g. zero-filled blocks after a crash
    let path = dir.path().join("zeros.seg.zst");
    std::fs::write(&path, &bytes).unwrap();
    let c = read_ok(&path);
    assert_eq!(c.records, records);
    assert!(c.torn_tail.is_some());
}

/// Rewrites a segment as one zstd frame of `raw` (decompressed bytes).
fn write_raw(path: &Path, raw: &[u8]) {
    std::fs::write(path, zstd::encode_all(raw, 3).unwrap()).unwrap();
}

#[test]
fn crc_mismatch_in_the_middle_is_an_error_naming_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.seg.zst");
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    for i in 0..10u64 {
        w.append(UnixNanos(T0 + i), format!("payload-{i}").as_bytes())
            .unwrap();
    }
    w.finish().unwrap();
    let mut raw = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    // Flip one payload byte of record #5.
    let pos = raw.windows(9).position(|w| w == b"payload-5").unwrap();
    raw[pos + 3] ^= 0x20;
    write_raw(&path, &raw);

    let mut r = SegmentReader::open(&path).unwrap();
    for i in 0..5u64 {
        assert_eq!(r.advance().unwrap(), Some(UnixNanos(T0 + i)));
    }
    let err = r.advance().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Format { .. }), "{err:?}");
    assert!(msg.contains("c.seg.zst"), "{msg}");
    assert!(msg.contains("record #5") && msg.contains("CRC"), "{msg}");
    assert_eq!(
        r.advance().unwrap(),
        None,
        "segment is over after the error"
    );
    assert!(r.torn_tail().is_none());
}

#[test]
fn corrupt_length_is_an_error_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.seg.zst");
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    w.append(UnixNanos(T0), b"abc").unwrap();
    w.finish().unwrap();
    let mut raw = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    let n = raw.len();
    raw[n - 19..n - 15].copy_from_slice(&u32::MAX.to_le_bytes());
    write_raw(&path, &raw);
    let err = segment::read_all(&path).unwrap_err();
    assert!(err.to_string().contains("record #0"), "{err}");
}

#[test]
fn bad_magic_and_bad_headers_are_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "magic.seg.zst",
            {
                let mut raw = b"NOTASEG!".to_vec();
                raw.extend_from_slice(&2u32.to_le_bytes());
                raw.extend_from_slice(b"{}");
                raw
            },
            "bad magic",
        ),
        (
            "json.seg.zst",
            {
                let mut raw = b"PEDGSEG1".to_vec();
                raw.extend_from_slice(&5u32.to_le_bytes());
                raw.extend_from_slice(b"{nope");
                raw
            },
            "header JSON",
        ),
        (
            "version.seg.zst",
            {
                let h = br#"{"format_version":2,"feed":"rtds","feed_code":2,"stream":"rtds","created_ns":0}"#;
                let mut raw = b"PEDGSEG1".to_vec();
                raw.extend_from_slice(&(h.len() as u32).to_le_bytes());
                raw.extend_from_slice(h);
                raw
            },
            "format_version 2",
        ),
        (
            "code.seg.zst",
            {
                let h = br#"{"format_version":1,"feed":"rtds","feed_code":3,"stream":"rtds","created_ns":0}"#;
                let mut raw = b"PEDGSEG1".to_vec();
                raw.extend_from_slice(&(h.len() as u32).to_le_bytes());
                raw.extend_from_slice(h);
                raw
            },
            "feed_code",
        ),
    ];
    for (name, raw, expect) in cases {
        let path = dir.path().join(name);
        write_raw(&path, &raw);
        let err = SegmentReader::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Format { .. }), "{name}: {err:?}");
        assert!(msg.contains(name) && msg.contains(expect), "{name}: {msg}");
    }
    // Not zstd at all.
    let path = dir.path().join("plain.seg.zst");
    std::fs::write(&path, b"hello, this is not a segment\n").unwrap();
    let err = SegmentReader::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Format { .. }), "{err:?}");
    assert!(err.to_string().contains("plain.seg.zst"), "{err}");
    // Empty file: a torn tail, not an error.
    let path = dir.path().join("empty.seg.zst");
    std::fs::write(&path, b"").unwrap();
    let c = read_ok(&path);
    assert!(c.header.is_none() && c.records.is_empty() && c.torn_tail.is_some());
}

#[test]
fn reader_buffer_stays_small_and_grows_only_for_a_big_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.seg.zst");
    let mut w = SegmentWriter::create(&path, &header()).unwrap();
    for i in 0..20_000u64 {
        w.append(UnixNanos(T0 + i), &[i as u8; 200]).unwrap();
    }
    let big = vec![7u8; 3 << 20];
    w.append(UnixNanos(T0 + 99_999), &big).unwrap();
    w.finish().unwrap();
    let mut r = SegmentReader::open(&path).unwrap();
    let mut n = 0;
    while r.advance().unwrap().is_some() {
        n += 1;
        if n <= 20_000 {
            assert_eq!(r.buffer_capacity(), segment::READ_BUF);
        }
    }
    assert_eq!(n, 20_001);
    assert!(r.buffer_capacity() >= big.len() + 16);
    assert!(r.buffer_capacity() <= big.len() + 16 + (64 << 10));
}
