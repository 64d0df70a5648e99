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
    // The header is known once its frame's content is in (the last 4 bytes of a zstd frame are
    // its content checksum, after the content).
    if cut + 4 < bounds[0].0 {
        assert!(c.header.is_none(), "cut at {cut}");
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

// ---- Damage: strict reading fails, skip_corrupt reads around it and says what was lost ----

use polyedge_store::segment::{
    CorruptSpan, DESCRIPTOR_FRAME_LEN, FrameDescriptor, ReadOptions, read_all_with,
};

const STRICT_CLOSED: ReadOptions = ReadOptions {
    tail_allowed: false,
    skip_corrupt: false,
};
const SKIP_CLOSED: ReadOptions = ReadOptions {
    tail_allowed: false,
    skip_corrupt: true,
};

/// A closed segment of `n` records with a block flushed every `every` records; returns the
/// records and, per zstd data frame, (file offset of its descriptor, end offset, record range).
fn closed_segment(
    path: &Path,
    n: usize,
    every: usize,
) -> (
    Vec<(UnixNanos, Vec<u8>)>,
    Vec<(u64, u64, std::ops::Range<usize>)>,
) {
    let mut rng = Rng(42);
    let mut w = SegmentWriter::create(path, &header()).unwrap();
    let mut records = Vec::new();
    let mut frames = Vec::new();
    let mut from = (w.stats().file_bytes, 0usize);
    for i in 0..n {
        let p = payload(&mut rng, i);
        let t = UnixNanos(T0 + i as u64 * 1_000_000);
        w.append(t, &p).unwrap();
        records.push((t, p));
        if (i + 1) % every == 0 {
            w.flush().unwrap();
            frames.push((from.0, w.stats().file_bytes, from.1..i + 1));
            from = (w.stats().file_bytes, i + 1);
        }
    }
    w.flush().unwrap();
    if from.1 < n {
        frames.push((from.0, w.stats().file_bytes, from.1..n));
    }
    w.finish().unwrap();
    (records, frames)
}

#[test]
fn every_zstd_frame_has_a_descriptor_and_a_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.seg.zst");
    let (records, frames) = closed_segment(&path, 1000, 300);
    let bytes = std::fs::read(&path).unwrap();
    // The header frame: descriptor with no records, then a zstd frame.
    let d0 = FrameDescriptor::decode(&bytes).unwrap();
    assert_eq!(d0.records, 0);
    assert_eq!(
        &bytes[DESCRIPTOR_FRAME_LEN..DESCRIPTOR_FRAME_LEN + 4],
        &[0x28, 0xB5, 0x2F, 0xFD]
    );
    for (start, end, range) in &frames {
        let d = FrameDescriptor::decode(&bytes[*start as usize..]).unwrap();
        assert_eq!(d.records as usize, range.len());
        assert_eq!(d.min_recv_ns, records[range.start].0.0);
        assert_eq!(d.max_recv_ns, records[range.end - 1].0.0);
        assert_eq!(
            u64::from(d.compressed_len),
            end - start - DESCRIPTOR_FRAME_LEN as u64
        );
        let z = &bytes[*start as usize + DESCRIPTOR_FRAME_LEN..*end as usize];
        // Frame header descriptor byte: bit 2 = content checksum flag.
        assert_eq!(z[..4], [0x28, 0xB5, 0x2F, 0xFD]);
        assert_ne!(z[4] & 0b100, 0, "content checksum flag");
    }
    // Standard zstd decoders skip the descriptors.
    let raw = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(&raw[..8], b"PEDGSEG1");
    let total: usize = records.iter().map(|(_, p)| 16 + p.len()).sum();
    let hl = u32::from_le_bytes(raw[8..12].try_into().unwrap()) as usize;
    assert_eq!(raw.len(), 12 + hl + total);
}

/// Overwrites `len` bytes at `at` with pseudo-random garbage (what a failing disk returns).
fn bad_block(path: &Path, at: usize, len: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut rng = Rng(at as u64 + 1);
    for b in &mut bytes[at..at + len] {
        *b = rng.next() as u8;
    }
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn a_bad_block_in_a_closed_segment_is_an_error_and_skip_corrupt_reads_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("20260413T12.seg.zst");
    let (records, frames) = closed_segment(&path, 30_000, 2_000);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    let at = len / 3;
    bad_block(&path, at, 512);
    // The frames the bad block touches.
    let hit: Vec<_> = frames
        .iter()
        .filter(|(s, e, _)| (*s as usize) < at + 512 && (*e as usize) > at)
        .cloned()
        .collect();
    assert!(!hit.is_empty());
    let first_lost = hit[0].2.start;
    let last_lost = hit.last().unwrap().2.end;

    // Strict: an error naming the file, the record and the frame's offset — also with a torn
    // tail allowed (the damage is mid-file, not a tail).
    for opts in [STRICT_CLOSED, ReadOptions::LONE] {
        let mut r = SegmentReader::open_with(&path, opts).unwrap();
        let mut n = 0;
        let err = loop {
            match r.advance() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("damage not detected; {n} records read"),
                Err(e) => break e,
            }
        };
        let msg = err.to_string();
        assert!(msg.contains("20260413T12.seg.zst"), "{msg}");
        assert!(msg.contains(&format!("record #{n}")), "{msg}");
        assert!(
            msg.contains(&format!(
                "file offset {}",
                hit[0].0 + DESCRIPTOR_FRAME_LEN as u64
            )),
            "{msg}"
        );
        assert!(
            n <= first_lost + 2_000 && n >= first_lost,
            "{n} vs {first_lost}"
        );
        assert!(r.torn_tail().is_none());
        assert_eq!(
            r.advance().unwrap(),
            None,
            "the segment is over after the error"
        );
    }

    // Skipping: everything outside the damaged frames is read, in order; the span says exactly
    // which records were lost.
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert!(c.torn_tail.is_none());
    assert_eq!(c.skipped.len(), 1, "{:?}", c.skipped);
    let s: &CorruptSpan = &c.skipped[0];
    let read_in_hit = c.records.len() - (records.len() - (last_lost - first_lost));
    assert!(s.exact, "{s}");
    assert!(s.resumed);
    assert_eq!(s.frames_lost as usize, last_lost - first_lost - read_in_hit);
    assert_eq!(s.record as usize, first_lost + read_in_hit);
    // The descriptor's min, raised to the last record read from the damaged frame.
    let min = if read_in_hit > 0 {
        records[s.record as usize - 1].0
    } else {
        records[first_lost].0
    };
    assert_eq!(s.lost_min_ns, Some(min));
    assert_eq!(s.lost_max_ns, Some(records[last_lost - 1].0));
    assert_eq!(s.after_ns, Some(records[s.record as usize - 1].0));
    assert_eq!(s.before_ns, Some(records[last_lost].0));
    let expected: Vec<_> = records[..s.record as usize]
        .iter()
        .chain(&records[last_lost..])
        .cloned()
        .collect();
    assert_eq!(c.records, expected);
    // Two thirds of the file lie after the bad block: they are read, not dropped.
    assert!(records.len() - last_lost > 15_000);
    let shown = s.to_string();
    assert!(
        shown.contains("skipped") && shown.contains("frames"),
        "{shown}"
    );
}

#[test]
fn one_flipped_byte_is_caught_by_the_zstd_checksum_or_the_record_crc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.seg.zst");
    let (records, frames) = closed_segment(&path, 5_000, 1_000);
    let pristine = std::fs::read(&path).unwrap();
    // Flip one bit at many places inside the third data frame's zstd frame.
    let (start, end, range) = frames[2].clone();
    let z0 = start as usize + DESCRIPTOR_FRAME_LEN;
    let mut rng = Rng(5);
    for _ in 0..40 {
        let at = z0 + rng.below((end as usize - z0) as u64) as usize;
        let mut bytes = pristine.clone();
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_all_with(&path, STRICT_CLOSED).unwrap_err();
        assert!(
            matches!(err, StoreError::Format { .. }),
            "flip at {at}: {err:?}"
        );
        let c = read_all_with(&path, SKIP_CLOSED).unwrap();
        assert_eq!(c.skipped.len(), 1, "flip at {at}");
        let s = &c.skipped[0];
        assert!(s.exact && s.resumed, "flip at {at}: {s}");
        assert_eq!(c.records.len() as u64 + s.frames_lost, records.len() as u64);
        assert_eq!(
            &c.records[..s.record as usize],
            &records[..s.record as usize]
        );
        assert_eq!(c.records.last(), records.last());
        assert!(s.record as usize >= range.start && s.record as usize <= range.end);
    }
}

#[test]
fn truncation_zero_fill_and_garbage_where_no_tail_may_be_torn() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.seg.zst");
    let (records, frames) = closed_segment(&src, 3_000, 1_000);
    let bytes = std::fs::read(&src).unwrap();
    let path = dir.path().join("t.seg.zst");

    // Cut in the middle of the second data frame.
    let cut = frames[1].0.midpoint(frames[1].1);
    std::fs::write(&path, &bytes[..cut as usize]).unwrap();
    let lone = read_all_with(&path, ReadOptions::LONE).unwrap();
    assert!(lone.torn_tail.is_some(), "a lone segment: torn tail");
    let err = read_all_with(&path, STRICT_CLOSED).unwrap_err().to_string();
    assert!(
        err.contains("truncated") && err.contains("t.seg.zst"),
        "{err}"
    );
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert_eq!(c.records, records[..c.records.len()]);
    let s = &c.skipped[0];
    assert!(!s.resumed && !s.exact, "{s}");
    assert_eq!(s.frames_lost as usize, 2_000 - c.records.len());
    assert_eq!(s.before_ns, None);

    // Zero fill after the last frame: a torn tail only where one is allowed.
    let mut z = bytes.clone();
    z.extend_from_slice(&[0u8; 8192]);
    std::fs::write(&path, &z).unwrap();
    assert!(
        read_all_with(&path, ReadOptions::LONE)
            .unwrap()
            .torn_tail
            .is_some()
    );
    assert!(read_all_with(&path, STRICT_CLOSED).is_err());
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert_eq!(c.records, records);
    assert_eq!(c.skipped[0].frames_lost, 0);

    // Non-zero bytes after the last frame are damage even in a lone segment.
    let mut g = bytes.clone();
    g.extend_from_slice(b"this is not a zstd frame");
    std::fs::write(&path, &g).unwrap();
    let err = read_all_with(&path, ReadOptions::LONE)
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither a zstd frame"), "{err}");
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert_eq!(c.records, records);
}

#[test]
fn a_damaged_descriptor_loses_nothing_when_its_frame_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dd.seg.zst");
    let (records, frames) = closed_segment(&path, 3_000, 1_000);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[frames[1].0 as usize + 20] ^= 0xFF; // inside the descriptor's payload
    std::fs::write(&path, &bytes).unwrap();
    let err = read_all_with(&path, STRICT_CLOSED).unwrap_err().to_string();
    assert!(err.contains("descriptor") && err.contains("CRC"), "{err}");
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert_eq!(c.records, records);
    assert_eq!(c.skipped.len(), 1);
    assert!(
        c.skipped[0].exact && c.skipped[0].frames_lost == 0,
        "{}",
        c.skipped[0]
    );
}

#[test]
fn segments_without_descriptors_are_read_and_damage_is_skipped_by_scanning() {
    // The layout before descriptors: plain zstd frames (no checksum), header in the first.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.seg.zst");
    let h = serde_json::to_vec(&header()).unwrap();
    let mut head = b"PEDGSEG1".to_vec();
    head.extend_from_slice(&(h.len() as u32).to_le_bytes());
    head.extend_from_slice(&h);
    let mut file = zstd::encode_all(&head[..], 3).unwrap();
    let mut records = Vec::new();
    let mut bounds = Vec::new();
    for block in 0..5u64 {
        let mut raw = Vec::new();
        for i in 0..500u64 {
            let t = T0 + block * 1000 + i;
            let p = format!("block {block} record {i} {}", "x".repeat((i % 50) as usize));
            let mut crc = crc32fast::Hasher::new();
            crc.update(&t.to_le_bytes());
            crc.update(p.as_bytes());
            raw.extend_from_slice(&(p.len() as u32).to_le_bytes());
            raw.extend_from_slice(&t.to_le_bytes());
            raw.extend_from_slice(p.as_bytes());
            raw.extend_from_slice(&crc.finalize().to_le_bytes());
            records.push((UnixNanos(t), p.into_bytes()));
        }
        let start = file.len();
        file.extend(zstd::encode_all(&raw[..], 3).unwrap());
        bounds.push((start, file.len()));
    }
    std::fs::write(&path, &file).unwrap();
    assert_eq!(
        read_all_with(&path, STRICT_CLOSED).unwrap().records,
        records
    );
    // Garbage in the middle of block 2.
    let (s, e) = bounds[2];
    bad_block(&path, s.midpoint(e), 64);
    assert!(read_all_with(&path, STRICT_CLOSED).is_err());
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert_eq!(c.skipped.len(), 1, "{:?}", c.skipped);
    let sp = &c.skipped[0];
    assert!(!sp.exact && sp.resumed, "{sp}");
    assert_eq!(c.records.last(), records.last(), "blocks 3 and 4 are read");
    assert!(c.records.len() >= 2000 && c.records.len() < 2500);
    assert_eq!(sp.after_ns, Some(c.records[sp.record as usize - 1].0));
    assert_eq!(sp.before_ns, Some(records[1500].0));
}

/// A descriptor that lies (claims its frame is empty) must not make skipping loop on the same
/// damaged frame; and damage in the file's last frame loses exactly that frame's records.
#[test]
fn lying_descriptors_and_damage_in_the_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lie.seg.zst");
    let (records, frames) = closed_segment(&path, 3_000, 1_000);
    let pristine = std::fs::read(&path).unwrap();

    // Damage in the last frame: exact, and the rest of the file is that frame.
    let mut bytes = pristine.clone();
    let (start, end, range) = frames.last().unwrap().clone();
    let mid = start.midpoint(end) as usize;
    for b in &mut bytes[mid..mid + 32] {
        *b ^= 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert_eq!(c.skipped.len(), 1);
    let s = &c.skipped[0];
    assert!(s.exact && !s.resumed, "{s}");
    assert_eq!(c.records.len() as u64 + s.frames_lost, records.len() as u64);
    assert!(c.records.len() >= range.start);

    // The damaged frame's descriptor claims compressed_len 0 (with a valid CRC).
    let mut bytes = pristine.clone();
    let (start, end, _) = frames[1].clone();
    let d = FrameDescriptor::decode(&bytes[start as usize..]).unwrap();
    let lie = FrameDescriptor {
        compressed_len: 0,
        ..d
    };
    bytes[start as usize..start as usize + DESCRIPTOR_FRAME_LEN].copy_from_slice(&lie.encode());
    let mid = start.midpoint(end) as usize;
    for b in &mut bytes[mid..mid + 32] {
        *b ^= 0x5A;
    }
    std::fs::write(&path, &bytes).unwrap();
    let c = read_all_with(&path, SKIP_CLOSED).unwrap();
    assert!(!c.skipped.is_empty());
    assert_eq!(
        c.records.last(),
        records.last(),
        "reading went on to the end"
    );
    assert!(
        c.skipped.iter().all(|s| !s.exact),
        "a lying descriptor is not trusted"
    );
}
