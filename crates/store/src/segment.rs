//! Capture segments: append-only, zstd-compressed files of raw frames with receive timestamps.
//!
//! The exact byte layout is documented in `docs/recording-format.md`. In short, a segment file is
//! a concatenation of zstd frames whose decompressed bytes are
//!
//! ```text
//! "PEDGSEG1" | u32 LE header_len | header JSON (header_len bytes)
//! { u32 LE payload_len | u64 LE recv_ns | payload | u32 LE crc32(recv_ns bytes ++ payload) }*
//! ```
//!
//! Each zstd frame carries zstd's own content checksum and is preceded by a 44-byte zstd
//! *skippable* frame, the [`FrameDescriptor`] (compressed and decompressed length, record count,
//! receive-time span, CRC), which standard zstd decoders skip.
//!
//! The [`SegmentWriter`] buffers records and writes one descriptor + zstd frame at a time (on
//! [`SegmentWriter::flush`], when the block reaches [`BLOCK_TARGET`] bytes, and on close), so a
//! process killed mid-write loses at most the unflushed block and leaves at most one partial
//! frame at the end of the file.
//!
//! The [`SegmentReader`] streams the file frame by frame with bounded memory and tells apart:
//! * a **torn tail** — the file ends inside a frame or descriptor, or is followed only by zero
//!   bytes: what a killed writer leaves. Legitimate only at the end of the last segment of each
//!   stream of a recording whose writer did not finish ([`ReadOptions::tail_allowed`]);
//! * **corruption** — a zstd frame that does not decode or fails its checksum, bytes that are
//!   neither a frame nor zero fill, a record CRC mismatch, an impossible record length, a
//!   descriptor that disagrees with its frame, a truncation where no tail may be torn. Strict
//!   reading reports it as an error naming the file, record and offset;
//!   [`ReadOptions::skip_corrupt`] skips the damaged frames instead (resuming at the next intact
//!   frame) and records exactly what was lost as a [`CorruptSpan`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use polyedge_core::UnixNanos;
use polyedge_venues::Feed;
use serde::{Deserialize, Serialize};
use zstd::zstd_safe::{self, DParameter, InBuffer, OutBuffer, ResetDirective};

use crate::StoreError;

/// The 8 magic bytes that open the decompressed stream of every segment.
pub const MAGIC: [u8; 8] = *b"PEDGSEG1";

/// Version of the segment layout written into the header (`format_version`).
pub const FORMAT_VERSION: u32 = 1;

/// Bytes of framing around each record's payload: `u32` length + `u64` recv_ns + `u32` CRC.
pub const RECORD_OVERHEAD: usize = 16;

/// Largest accepted payload (bytes). Larger frames are refused by the writer; a larger length
/// field in a file is reported as corruption by the reader (this bounds the reader's memory).
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// Largest accepted header JSON (bytes).
pub const MAX_HEADER_LEN: usize = 1 << 20;

/// Uncompressed size (bytes) at which the writer ends the current zstd frame on its own.
pub const BLOCK_TARGET: usize = 1 << 20;

/// zstd compression level of the writer.
pub const ZSTD_LEVEL: i32 = 3;

/// Initial size (bytes) of the reader's decompressed-data buffer. It only grows beyond this to
/// hold a single record larger than it.
pub const READ_BUF: usize = 128 << 10;

/// Size (bytes) of the reader's compressed-input buffer.
pub const INPUT_BUF: usize = 64 << 10;

/// The magic number that starts every zstd frame (little-endian `u32`, RFC 8878 §3.1.1).
pub const ZSTD_MAGIC: u32 = 0xFD2F_B528;

/// The magic number of the skippable frame that carries a [`FrameDescriptor`]: one of zstd's
/// sixteen skippable-frame magics `0x184D2A50..=0x184D2A5F` (RFC 8878 §3.1.2), which every zstd
/// decoder skips.
pub const DESCRIPTOR_MAGIC: u32 = 0x184D_2A5E;

/// The first four payload bytes of a descriptor.
pub const DESCRIPTOR_TAG: [u8; 4] = *b"PEFD";

/// Payload bytes of a descriptor (after the 8-byte skippable-frame header).
pub const DESCRIPTOR_LEN: usize = 36;

/// Bytes a descriptor occupies in the file: magic, size, payload.
pub const DESCRIPTOR_FRAME_LEN: usize = 8 + DESCRIPTOR_LEN;

/// Largest zstd window (log₂ bytes) the reader accepts. The writer's frames need at most 2²¹
/// (level 3); the limit keeps a corrupt frame header from making the decoder allocate more.
pub const WINDOW_LOG_MAX: u32 = 24;

/// The JSON header at the start of every segment's decompressed stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    /// Segment layout version; this crate reads and writes [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Feed whose parser reads the payloads (kebab-case name, e.g. `polymarket-market`).
    pub feed: Feed,
    /// [`Feed::code`] of `feed`, redundant for readers that do not know the names.
    pub feed_code: u8,
    /// Stream name (the directory name under `capture/`).
    pub stream: String,
    /// When the segment was created (ns since epoch, writer's wall clock).
    pub created_ns: UnixNanos,
}

impl SegmentHeader {
    /// A version-1 header for `feed` and `stream`.
    pub fn new(feed: Feed, stream: &str, created_ns: UnixNanos) -> Self {
        SegmentHeader {
            format_version: FORMAT_VERSION,
            feed,
            feed_code: feed.code(),
            stream: stream.to_string(),
            created_ns,
        }
    }
}

/// What the writer knows about the zstd frame that follows it, stored in a skippable frame just
/// before it (`docs/recording-format.md` §4.3). Lets a reader skip a damaged frame exactly and
/// say how many records and which receive times were lost with it.
///
/// Layout (all little-endian): `u32` [`DESCRIPTOR_MAGIC`], `u32` 36, then the payload:
/// [`DESCRIPTOR_TAG`], `u32 compressed_len`, `u32 decompressed_len`, `u32 records`,
/// `u64 min_recv_ns`, `u64 max_recv_ns`, `u32` CRC-32 of the 32 payload bytes before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameDescriptor {
    /// Bytes of the zstd frame that follows (compressed, on disk).
    pub compressed_len: u32,
    /// Bytes it decompresses to.
    pub decompressed_len: u32,
    /// Whole records in it.
    pub records: u32,
    /// Smallest receive time of those records (ns since epoch; 0 if none).
    pub min_recv_ns: u64,
    /// Largest receive time of those records (ns since epoch; 0 if none).
    pub max_recv_ns: u64,
}

impl FrameDescriptor {
    /// The descriptor as it is written to the file ([`DESCRIPTOR_FRAME_LEN`] bytes).
    pub fn encode(&self) -> [u8; DESCRIPTOR_FRAME_LEN] {
        let mut b = [0u8; DESCRIPTOR_FRAME_LEN];
        b[0..4].copy_from_slice(&DESCRIPTOR_MAGIC.to_le_bytes());
        #[allow(clippy::cast_possible_truncation)] // 36
        b[4..8].copy_from_slice(&(DESCRIPTOR_LEN as u32).to_le_bytes());
        b[8..12].copy_from_slice(&DESCRIPTOR_TAG);
        b[12..16].copy_from_slice(&self.compressed_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.decompressed_len.to_le_bytes());
        b[20..24].copy_from_slice(&self.records.to_le_bytes());
        b[24..32].copy_from_slice(&self.min_recv_ns.to_le_bytes());
        b[32..40].copy_from_slice(&self.max_recv_ns.to_le_bytes());
        let crc = crc32fast::hash(&b[8..40]);
        b[40..44].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a descriptor from the first [`DESCRIPTOR_FRAME_LEN`] bytes of `b`; `None` if they
    /// are not an intact descriptor (wrong magic, size or tag, CRC mismatch, too short).
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..DESCRIPTOR_FRAME_LEN)?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if u32_at(0) != DESCRIPTOR_MAGIC
            || u32_at(4) as usize != DESCRIPTOR_LEN
            || b[8..12] != DESCRIPTOR_TAG
            || crc32fast::hash(&b[8..40]) != u32_at(40)
        {
            return None;
        }
        Some(FrameDescriptor {
            compressed_len: u32_at(12),
            decompressed_len: u32_at(16),
            records: u32_at(20),
            min_recv_ns: u64_at(24),
            max_recv_ns: u64_at(32),
        })
    }
}

/// What a closed [`SegmentWriter`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Records (frames) written.
    pub records: u64,
    /// Payload bytes written (uncompressed, without framing).
    pub payload_bytes: u64,
    /// Bytes written to the file (descriptors, zstd frames and header included).
    pub file_bytes: u64,
    /// zstd frames written, the header's included (each preceded by its descriptor).
    pub zstd_frames: u64,
}

/// `fsync` of a directory, so that the entries created or renamed in it survive a power loss.
///
/// # Errors
/// The I/O error of opening or syncing `dir`.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes one segment file. See the [module docs](self).
///
/// Dropping a writer without [`finish`](SegmentWriter::finish) still writes the buffered block
/// (best effort; errors are logged).
pub struct SegmentWriter {
    path: PathBuf,
    file: Option<File>,
    cctx: zstd::bulk::Compressor<'static>,
    block: Vec<u8>,
    block_records: u32,
    block_min: u64,
    block_max: u64,
    out: Vec<u8>,
    frame: Vec<u8>,
    stats: SegmentStats,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("path", &self.path)
            .field("buffered", &self.block.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SegmentWriter {
    /// Creates a new segment file at `path` (which must not exist), syncs its directory (so the
    /// new entry survives a power loss) and writes its header as the first zstd frame.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file exists or cannot be created or written.
    pub fn create(path: &Path, header: &SegmentHeader) -> Result<Self, StoreError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(StoreError::io(path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir).map_err(StoreError::io(dir))?;
        }
        let mut cctx = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(StoreError::io(path))?;
        cctx.set_parameter(zstd_safe::CParameter::ChecksumFlag(true))
            .map_err(StoreError::io(path))?;
        let json = serde_json::to_vec(header).map_err(|e| StoreError::Format {
            path: path.to_path_buf(),
            reason: format!("cannot encode segment header: {e}"),
        })?;
        let header_len = u32::try_from(json.len()).map_err(|_| StoreError::Format {
            path: path.to_path_buf(),
            reason: "segment header too long".into(),
        })?;
        let mut w = SegmentWriter {
            path: path.to_path_buf(),
            file: Some(file),
            cctx,
            block: Vec::with_capacity(BLOCK_TARGET + (64 << 10)),
            block_records: 0,
            block_min: u64::MAX,
            block_max: 0,
            out: Vec::new(),
            frame: Vec::new(),
            stats: SegmentStats::default(),
        };
        w.block.extend_from_slice(&MAGIC);
        w.block.extend_from_slice(&header_len.to_le_bytes());
        w.block.extend_from_slice(&json);
        w.flush()?;
        Ok(w)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters so far (records buffered but not yet flushed are counted).
    pub fn stats(&self) -> SegmentStats {
        self.stats
    }

    /// Uncompressed bytes buffered and not yet written to the file.
    pub fn buffered(&self) -> usize {
        self.block.len()
    }

    /// Appends one record. The record reaches the file at the next flush (explicit, when the
    /// block reaches [`BLOCK_TARGET`] bytes, or on close).
    ///
    /// # Errors
    /// [`StoreError::Usage`] if the payload is larger than [`MAX_RECORD_LEN`];
    /// [`StoreError::Io`] if an automatic flush fails.
    pub fn append(&mut self, recv_ns: UnixNanos, payload: &[u8]) -> Result<(), StoreError> {
        if payload.len() > MAX_RECORD_LEN {
            return Err(StoreError::Usage(format!(
                "{}: frame of {} bytes exceeds the {MAX_RECORD_LEN}-byte record limit",
                self.path.display(),
                payload.len()
            )));
        }
        // Checked above: fits in u32.
        #[allow(clippy::cast_possible_truncation)]
        let len = payload.len() as u32;
        let ts = recv_ns.0.to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&ts);
        crc.update(payload);
        self.block.extend_from_slice(&len.to_le_bytes());
        self.block.extend_from_slice(&ts);
        self.block.extend_from_slice(payload);
        self.block.extend_from_slice(&crc.finalize().to_le_bytes());
        self.block_records += 1;
        self.block_min = self.block_min.min(recv_ns.0);
        self.block_max = self.block_max.max(recv_ns.0);
        self.stats.records += 1;
        self.stats.payload_bytes += payload.len() as u64;
        if self.block.len() >= BLOCK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the current block: compresses the buffered records into one zstd frame (with
    /// content size and checksum) and writes its descriptor and the frame to the file with a
    /// single `write_all` (no fsync). Does nothing if nothing is buffered.
    ///
    /// # Errors
    /// [`StoreError::Io`] on compression or write errors. After a write error the block is
    /// dropped (the file may end in a partial frame, which readers report as a torn tail).
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.block.is_empty() {
            return Ok(());
        }
        let Some(file) = self.file.as_mut() else {
            return Err(StoreError::Usage(format!(
                "{}: segment already closed",
                self.path.display()
            )));
        };
        self.out.clear();
        self.out
            .reserve(zstd::zstd_safe::compress_bound(self.block.len()));
        self.cctx
            .compress_to_buffer(&self.block, &mut self.out)
            .map_err(StoreError::io(&self.path))?;
        let too_big = |_| StoreError::Usage(format!("{}: block too large", self.path.display()));
        let desc = FrameDescriptor {
            compressed_len: u32::try_from(self.out.len()).map_err(too_big)?,
            decompressed_len: u32::try_from(self.block.len()).map_err(too_big)?,
            records: self.block_records,
            min_recv_ns: if self.block_records == 0 {
                0
            } else {
                self.block_min
            },
            max_recv_ns: self.block_max,
        };
        self.frame.clear();
        self.frame.extend_from_slice(&desc.encode());
        self.frame.extend_from_slice(&self.out);
        self.block.clear();
        self.block_records = 0;
        self.block_min = u64::MAX;
        self.block_max = 0;
        file.write_all(&self.frame)
            .map_err(StoreError::io(&self.path))?;
        self.stats.file_bytes += self.frame.len() as u64;
        self.stats.zstd_frames += 1;
        Ok(())
    }

    /// Flushes the buffered block (as [`flush`](Self::flush)) and then asks the OS to write the
    /// file's data to the storage device (`fsync` of the data). A flush alone already survives the
    /// process being killed (the bytes are in the OS page cache); the sync also survives an OS
    /// crash or power loss.
    ///
    /// # Errors
    /// [`StoreError::Io`] on write or sync errors.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        if let Some(file) = self.file.as_ref() {
            file.sync_data().map_err(StoreError::io(&self.path))?;
        }
        Ok(())
    }

    /// Flushes the last block, syncs the file to disk and closes it.
    ///
    /// # Errors
    /// [`StoreError::Io`] on write or sync errors.
    pub fn finish(mut self) -> Result<SegmentStats, StoreError> {
        self.flush()?;
        if let Some(file) = self.file.take() {
            file.sync_data().map_err(StoreError::io(&self.path))?;
        }
        Ok(self.stats)
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if self.file.is_some()
            && let Err(e) = self.flush()
        {
            tracing::warn!(file = %self.path.display(), error = %e, "segment writer dropped: final flush failed");
        }
    }
}

/// Why a segment ended early: the file stops inside a frame, a descriptor or a record (a process
/// was killed while writing), or is followed only by zero bytes (blocks allocated but never
/// written before a crash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Complete, CRC-valid records returned before the tear.
    pub records: u64,
    /// Decompressed bytes after the last complete record that were discarded (an incomplete
    /// record or header). Compressed bytes of a partial zstd frame are not counted.
    pub bytes_dropped: u64,
    /// What was found: which structure was incomplete, at which file offset.
    pub reason: String,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: torn tail after {} records ({} decompressed bytes dropped): {}",
            self.path.display(),
            self.records,
            self.bytes_dropped,
            self.reason
        )
    }
}

/// Damaged data that a reader in [`ReadOptions::skip_corrupt`] mode skipped: where, why, and
/// exactly what was lost with it.
///
/// Consecutive damage with no record read in between is merged into one span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptSpan {
    /// The segment file.
    pub path: PathBuf,
    /// Records read from this segment before the damage (= 0-based index of the first record
    /// not read).
    pub record: u64,
    /// File offset (compressed bytes) of the damaged zstd frame or of the bytes that are not a
    /// frame.
    pub offset: u64,
    /// What was wrong (decoder or checksum error, CRC mismatch, truncation …).
    pub reason: String,
    /// Records lost, as far as the frame descriptors tell: exact when [`exact`](Self::exact).
    pub frames_lost: u64,
    /// `true` when every lost frame's descriptor was intact and reading resumed right after
    /// them: [`frames_lost`](Self::frames_lost) and the `lost_*` times are then exact. `false`
    /// means at least `frames_lost` records were lost, and the span is bounded by
    /// [`after_ns`](Self::after_ns)/[`before_ns`](Self::before_ns).
    pub exact: bool,
    /// Smallest receive time among the lost records (from the descriptors, raised to the last
    /// record read from the damaged frame when some were), ns since epoch. With records in
    /// receive-time order (as every writer here writes them) every lost record lies in
    /// `lost_min_ns ..= lost_max_ns`.
    pub lost_min_ns: Option<UnixNanos>,
    /// Largest receive time among the lost records (from the descriptors), ns since epoch.
    pub lost_max_ns: Option<UnixNanos>,
    /// Receive time of the last record read before the damage (`None`: none in this segment).
    pub after_ns: Option<UnixNanos>,
    /// Receive time of the first record read after the damage (`None`: none in this segment —
    /// the rest of it was lost; callers may bound the span by the segment's hour).
    pub before_ns: Option<UnixNanos>,
    /// Compressed bytes skipped.
    pub bytes_skipped: u64,
    /// `true` if reading resumed after the damage (`false`: the rest of the segment was lost).
    pub resumed: bool,
}

impl CorruptSpan {
    /// The receive-time span the lost records lie in, ns since epoch, inclusive: the
    /// descriptors' exact span when [`exact`](Self::exact), else from the last record before the
    /// damage to the first after it (either end `None` when unknown).
    pub fn span(&self) -> (Option<UnixNanos>, Option<UnixNanos>) {
        if self.exact {
            (self.lost_min_ns, self.lost_max_ns)
        } else {
            (self.after_ns, self.before_ns)
        }
    }
}

impl std::fmt::Display for CorruptSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |x: Option<UnixNanos>| x.map_or_else(|| "?".to_string(), UnixNanos::to_rfc3339);
        let (a, b) = self.span();
        write!(
            f,
            "{}: skipped {}{} frames ({} .. {}) after record #{} at file offset {}: {}{}",
            self.path.display(),
            if self.exact { "" } else { "at least " },
            self.frames_lost,
            t(a),
            t(b),
            self.record,
            self.offset,
            self.reason,
            if self.resumed {
                ""
            } else {
                "; the rest of the segment is lost"
            }
        )
    }
}

/// How a [`SegmentReader`] treats a torn tail and damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// A torn tail is legitimate here (the last segment of a stream whose writer did not
    /// finish): report it ([`SegmentReader::torn_tail`]) and end cleanly. Otherwise a torn tail
    /// is damage like any other.
    pub tail_allowed: bool,
    /// Skip damage instead of failing: record a [`CorruptSpan`], resume at the next intact frame
    /// and go on.
    pub skip_corrupt: bool,
}

impl ReadOptions {
    /// A segment read on its own ([`SegmentReader::open`]): a torn tail is reported, not an
    /// error; damage is an error.
    pub const LONE: ReadOptions = ReadOptions {
        tail_allowed: true,
        skip_corrupt: false,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Between frames: the next input bytes start a descriptor, a zstd frame, or end the file.
    Boundary,
    /// Inside the zstd frame that starts at `frame_start`.
    InFrame,
}

/// Why the decoder produces no more data.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EndKind {
    /// The file ended at a frame boundary.
    Clean,
    /// The file ended early (inside a frame or descriptor) or in zero fill.
    Torn(String),
    /// Damage at file offset `offset` (in the frame starting there, when `in_frame`).
    Corrupt {
        offset: u64,
        in_frame: bool,
        reason: String,
    },
}

/// A zstd frame the decoder started: where its output begins, where it is in the file, and its
/// descriptor.
#[derive(Debug, Clone, Copy)]
struct FrameMark {
    out_start: u64,
    offset: u64,
    desc: Option<FrameDescriptor>,
}

/// Where damage was found.
#[derive(Debug, Clone, Copy)]
enum DamageAt {
    /// In the frame the decoder is in (`frame`), or at `offset` between frames (`frame: None`).
    Frame {
        offset: u64,
        frame: Option<FrameMark>,
    },
    /// In the frame holding the record the parser is at.
    Record,
}

/// Streams the records of one segment file with bounded memory. See the [module docs](self)
/// for torn tails and damage.
///
/// Two APIs: the allocation-free [`advance`](SegmentReader::advance) +
/// [`payload`](SegmentReader::payload) pair (the payload borrows the reader's buffer), and an
/// [`Iterator`] of owned `(recv_ns, payload)` pairs.
///
/// Memory: one zstd decoding context (window ≤ 2^[`WINDOW_LOG_MAX`]), an input buffer of
/// [`INPUT_BUF`] bytes and an output buffer of [`READ_BUF`] bytes (larger only to hold a single
/// larger record, and grown only as its bytes arrive), whatever the file size.
pub struct SegmentReader {
    path: PathBuf,
    opts: ReadOptions,
    header: Option<SegmentHeader>,
    file: File,
    file_len: u64,
    inbuf: Vec<u8>,
    in_pos: usize,
    in_end: usize,
    /// File offset of `inbuf[0]`.
    in_base: u64,
    file_eof: bool,
    dctx: zstd_safe::DCtx<'static>,
    stage: Stage,
    /// The frame the decoder is in (or last finished).
    frame: Option<FrameMark>,
    /// A descriptor read at the boundary, for the frame that follows it: (its offset, it).
    pending_desc: Option<(u64, FrameDescriptor)>,
    /// Frames started by the decoder that the parser has not reached yet.
    marks: VecDeque<FrameMark>,
    /// The frame the parser is in, and the records read before it.
    parse_frame: Option<FrameMark>,
    records_before_parse_frame: u64,
    /// Decompressed bytes produced since the last (re)start.
    produced: u64,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// The current record's payload: `buf[cur_off..cur_off + cur_len]`.
    cur_off: usize,
    cur_len: usize,
    /// No more output will come; `end_kind` says why.
    input_done: bool,
    end_kind: Option<EndKind>,
    /// Iteration is over (end, torn tail or error reported).
    finished: bool,
    records: u64,
    /// Decompressed bytes consumed since the last (re)start (header and complete records).
    consumed: u64,
    torn: Option<TornTail>,
    skips: Vec<CorruptSpan>,
    /// Index in `skips` of a span waiting for the next record's receive time.
    pending_before: Option<usize>,
    last_recv: Option<UnixNanos>,
    zstd_frames: u64,
    descriptors: u64,
}

impl std::fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("records", &self.records)
            .field("torn", &self.torn)
            .field("skips", &self.skips)
            .finish_non_exhaustive()
    }
}

impl SegmentReader {
    /// Opens a segment read on its own ([`ReadOptions::LONE`]) and reads its header.
    ///
    /// A file that ends inside the header (empty file, partial first frame) is not an error:
    /// the reader then has no [`header`](Self::header), yields no records and reports a
    /// [`torn_tail`](Self::torn_tail).
    ///
    /// # Errors
    /// As [`open_with`](Self::open_with).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, ReadOptions::LONE)
    }

    /// Opens a segment with `opts` and reads its header.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file cannot be opened. Unless `opts.skip_corrupt`:
    /// [`StoreError::Format`] naming the file if it is not a zstd stream, does not start with
    /// [`MAGIC`], has an invalid or unsupported header, or (without `opts.tail_allowed`) ends
    /// inside the header. With `opts.skip_corrupt` such damage is recorded
    /// ([`skipped`](Self::skipped)), the header is `None`, and reading resumes at the next
    /// intact frame.
    pub fn open_with(path: &Path, opts: ReadOptions) -> Result<Self, StoreError> {
        let file = File::open(path).map_err(StoreError::io(path))?;
        let file_len = file.metadata().map_err(StoreError::io(path))?.len();
        let mut dctx = zstd_safe::DCtx::create();
        dctx.set_parameter(DParameter::WindowLogMax(WINDOW_LOG_MAX))
            .map_err(|c| StoreError::Format {
                path: path.to_path_buf(),
                reason: format!("zstd: {}", zstd_safe::get_error_name(c)),
            })?;
        let mut r = SegmentReader {
            path: path.to_path_buf(),
            opts,
            header: None,
            file,
            file_len,
            inbuf: vec![0; INPUT_BUF],
            in_pos: 0,
            in_end: 0,
            in_base: 0,
            file_eof: false,
            dctx,
            stage: Stage::Boundary,
            frame: None,
            pending_desc: None,
            marks: VecDeque::new(),
            parse_frame: None,
            records_before_parse_frame: 0,
            produced: 0,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            cur_off: 0,
            cur_len: 0,
            input_done: false,
            end_kind: None,
            finished: false,
            records: 0,
            consumed: 0,
            torn: None,
            skips: Vec::new(),
            pending_before: None,
            last_recv: None,
            zstd_frames: 0,
            descriptors: 0,
        };
        r.read_header()?;
        Ok(r)
    }

    fn format_err(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Format {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    // ---- compressed input ---------------------------------------------------------------

    /// File offset of the next unread input byte.
    fn in_offset(&self) -> u64 {
        self.in_base + self.in_pos as u64
    }

    /// Makes at least `n` input bytes available (`n` ≤ [`INPUT_BUF`]) unless the file ends
    /// first; returns how many are available.
    fn want_input(&mut self, n: usize) -> io::Result<usize> {
        while self.in_end - self.in_pos < n && !self.file_eof {
            if self.in_pos > 0 {
                self.inbuf.copy_within(self.in_pos..self.in_end, 0);
                self.in_base += self.in_pos as u64;
                self.in_end -= self.in_pos;
                self.in_pos = 0;
            }
            match self.file.read(&mut self.inbuf[self.in_end..]) {
                Ok(0) => self.file_eof = true,
                Ok(k) => self.in_end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.in_end - self.in_pos)
    }

    /// Moves the input to file offset `offset` (discarding buffered input).
    fn seek_input(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.in_base = offset;
        self.in_pos = 0;
        self.in_end = 0;
        self.file_eof = offset >= self.file_len;
        Ok(())
    }

    /// `true` if every byte from file offset `from` to the end is zero.
    fn zeros_to_end(&mut self, from: u64) -> io::Result<bool> {
        self.seek_input(from)?;
        loop {
            let n = self.want_input(INPUT_BUF)?;
            if n == 0 {
                return Ok(true);
            }
            if self.inbuf[self.in_pos..self.in_end].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            self.in_pos = self.in_end;
        }
    }

    fn end_input(&mut self, kind: EndKind) {
        self.input_done = true;
        self.end_kind = Some(kind);
    }

    fn io_damage(&mut self, e: &io::Error) {
        let offset = self.in_offset();
        self.end_input(EndKind::Corrupt {
            offset,
            in_frame: false,
            reason: format!("read error: {e}"),
        });
    }

    // ---- decoding -------------------------------------------------------------------------

    /// At a frame boundary: reads a descriptor, starts a zstd frame, or ends the input.
    fn boundary(&mut self) {
        let offset = self.in_offset();
        let avail = match self.want_input(DESCRIPTOR_FRAME_LEN) {
            Ok(n) => n,
            Err(e) => return self.io_damage(&e),
        };
        if avail == 0 {
            let kind = match self.pending_desc {
                Some((at, _)) => EndKind::Torn(format!(
                    "file ends after the frame descriptor at offset {at}, before its frame"
                )),
                None => EndKind::Clean,
            };
            return self.end_input(kind);
        }
        let b = &self.inbuf[self.in_pos..self.in_end];
        if avail < 4 {
            let what = if b.iter().all(|&x| x == 0) {
                "zero fill"
            } else {
                "a partial frame header"
            };
            return self.end_input(EndKind::Torn(format!(
                "file ends in {what} at offset {offset}"
            )));
        }
        let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if magic == ZSTD_MAGIC {
            let desc = match self.pending_desc.take() {
                Some((at, d)) if at + DESCRIPTOR_FRAME_LEN as u64 == offset => Some(d),
                _ => None,
            };
            let mark = FrameMark {
                out_start: self.produced,
                offset,
                desc,
            };
            self.frame = Some(mark);
            self.marks.push_back(mark);
            self.zstd_frames += 1;
            self.stage = Stage::InFrame;
            return;
        }
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            if avail < 8 {
                return self.end_input(EndKind::Torn(format!(
                    "file ends inside the skippable frame at offset {offset}"
                )));
            }
            let size = u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
            if magic == DESCRIPTOR_MAGIC && size == DESCRIPTOR_LEN as u64 {
                if avail < DESCRIPTOR_FRAME_LEN {
                    return self.end_input(EndKind::Torn(format!(
                        "file ends inside the frame descriptor at offset {offset}"
                    )));
                }
                let Some(d) = FrameDescriptor::decode(b) else {
                    return self.end_input(EndKind::Corrupt {
                        offset,
                        in_frame: false,
                        reason: format!("frame descriptor at offset {offset} fails its CRC"),
                    });
                };
                if let Some((at, _)) = self.pending_desc {
                    return self.end_input(EndKind::Corrupt {
                        offset: at,
                        in_frame: false,
                        reason: format!(
                            "frame descriptor at offset {at} is followed by another descriptor, not by its frame"
                        ),
                    });
                }
                self.pending_desc = Some((offset, d));
                self.descriptors += 1;
                self.in_pos += DESCRIPTOR_FRAME_LEN;
                return;
            }
            // Another skippable frame (none is written, but the format allows them): skip it.
            let next = offset + 8 + size;
            if next > self.file_len {
                return self.end_input(EndKind::Torn(format!(
                    "file ends inside the skippable frame at offset {offset}"
                )));
            }
            if let Err(e) = self.seek_input(next) {
                self.io_damage(&e);
            }
            return;
        }
        match self.zeros_to_end(offset) {
            Ok(true) => self.end_input(EndKind::Torn(format!("zero fill from offset {offset}"))),
            Ok(false) => self.end_input(EndKind::Corrupt {
                offset,
                in_frame: false,
                reason: format!(
                    "the bytes at offset {offset} are neither a zstd frame nor a frame descriptor"
                ),
            }),
            Err(e) => self.io_damage(&e),
        }
    }

    /// Decodes more output into `buf[end..]` (which must have room), or ends the input.
    fn fill(&mut self) {
        let mut stalls = 0;
        loop {
            if self.input_done || self.end == self.buf.len() {
                return;
            }
            if self.stage == Stage::Boundary {
                self.boundary();
                continue;
            }
            let frame_offset = self.frame.map_or(0, |f| f.offset);
            if self.in_pos == self.in_end {
                match self.want_input(1) {
                    Ok(0) => {
                        return self.end_input(EndKind::Torn(format!(
                            "file ends inside the zstd frame at offset {frame_offset}"
                        )));
                    }
                    Ok(_) => {}
                    Err(e) => return self.io_damage(&e),
                }
            }
            let mut input = InBuffer::around(&self.inbuf[self.in_pos..self.in_end]);
            let mut output = OutBuffer::around(&mut self.buf[self.end..]);
            let res = self.dctx.decompress_stream(&mut output, &mut input);
            let (used, made) = (input.pos(), output.pos());
            self.in_pos += used;
            self.end += made;
            self.produced += made as u64;
            match res {
                Err(code) => {
                    return self.end_input(EndKind::Corrupt {
                        offset: frame_offset,
                        in_frame: true,
                        reason: format!(
                            "zstd frame at offset {frame_offset} does not decode: {}",
                            zstd_safe::get_error_name(code)
                        ),
                    });
                }
                Ok(0) => {
                    // Frame complete (and its checksum verified).
                    self.stage = Stage::Boundary;
                    if let Some(f) = self.frame
                        && let Some(d) = f.desc
                        && u64::from(d.decompressed_len) != self.produced - f.out_start
                    {
                        return self.end_input(EndKind::Corrupt {
                            offset: f.offset,
                            in_frame: true,
                            reason: format!(
                                "zstd frame at offset {} decodes to {} bytes but its descriptor says {}",
                                f.offset,
                                self.produced - f.out_start,
                                d.decompressed_len
                            ),
                        });
                    }
                }
                Ok(_) => {}
            }
            if made > 0 {
                return;
            }
            if used == 0 && self.stage == Stage::InFrame {
                stalls += 1;
                if stalls > 2 {
                    return self.end_input(EndKind::Corrupt {
                        offset: frame_offset,
                        in_frame: true,
                        reason: format!(
                            "zstd frame at offset {frame_offset}: the decoder makes no progress"
                        ),
                    });
                }
            }
        }
    }

    /// Makes at least `n` unconsumed bytes available in `buf[start..end]`, decoding as needed.
    /// Returns `false` if the input ends first.
    fn ensure(&mut self, n: usize) -> bool {
        while self.end - self.start < n {
            if self.input_done {
                return false;
            }
            if self.end == self.buf.len() {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                } else {
                    // A record larger than the buffer: grow as its bytes arrive (at most
                    // doubling), never straight to a length field's claim.
                    let target = n.div_ceil(64 << 10) * (64 << 10);
                    let new_len = (self.buf.len() * 2).min(target).max(self.buf.len() + 1);
                    self.buf.resize(new_len, 0);
                }
            }
            self.fill();
        }
        true
    }

    /// Catches the parser's frame up with its position.
    fn sync_parse_frame(&mut self) {
        while let Some(m) = self.marks.front() {
            if m.out_start > self.consumed {
                break;
            }
            self.parse_frame = self.marks.pop_front();
            self.records_before_parse_frame = self.records;
        }
    }

    // ---- damage ---------------------------------------------------------------------------

    /// Handles damage: an error (strict), or a recorded [`CorruptSpan`] and a resync
    /// (`skip_corrupt`).
    fn damage(&mut self, at: DamageAt, reason: String) -> Result<(), StoreError> {
        self.sync_parse_frame();
        let (offset, frame) = match at {
            DamageAt::Frame { offset, frame } => (offset, frame),
            DamageAt::Record => {
                let f = self.parse_frame;
                (f.map_or(0, |f| f.offset), f)
            }
        };
        if !self.opts.skip_corrupt {
            self.finished = true;
            self.input_done = true;
            return Err(self.format_err(format!(
                "record #{} (zstd frame at file offset {offset}): {reason}; the segment is corrupt \
                 (polyedge verify lists the damage; --skip-corrupt reads around it)",
                self.records
            )));
        }
        // Records of the damaged frame already read (it can be only the parser's frame).
        let read_from_frame = match (frame, self.parse_frame) {
            (Some(f), Some(p)) if f.offset == p.offset => {
                self.records - self.records_before_parse_frame
            }
            _ => 0,
        };
        let (lost, mut exact, lost_min, lost_max, target) = match frame {
            Some(FrameMark {
                offset: fo,
                desc: Some(d),
                ..
            }) => {
                let lost = u64::from(d.records).saturating_sub(read_from_frame);
                // Records of a frame are in write order, normally by receive time: those read
                // before the damage bound the lost ones from below.
                let min = if read_from_frame > 0 {
                    self.last_recv
                        .map_or(d.min_recv_ns, |t| t.0.max(d.min_recv_ns))
                } else {
                    d.min_recv_ns
                };
                (
                    lost,
                    true,
                    (lost > 0).then_some(UnixNanos(min)),
                    (lost > 0).then_some(UnixNanos(d.max_recv_ns)),
                    Some(fo + u64::from(d.compressed_len)),
                )
            }
            _ => (0, false, None, None, None),
        };
        // Where reading resumes: after the damaged frame if its descriptor says where and an
        // intact frame starts there, else at the next intact-looking frame found by scanning.
        let scan_from = frame.map_or(offset, |f| f.offset) + 1;
        // Reading always moves forward: a descriptor claiming an empty frame is not trusted.
        let trusted = target.filter(|&t| t >= scan_from);
        if target.is_some() && trusted.is_none() {
            exact = false;
        }
        let target = trusted;
        let mut at_end = false;
        let resume = match target {
            Some(t) if t == self.file_len => {
                // The damaged frame was the file's last: nothing after it to lose.
                at_end = true;
                None
            }
            Some(t) if self.frame_starts_at(t) => Some(t),
            Some(t) => {
                exact = false;
                self.scan_for_frame(t.max(scan_from))
            }
            None => {
                let found = self.scan_for_frame(scan_from);
                // A damaged descriptor followed right away by its intact frame loses nothing.
                if frame.is_none()
                    && read_from_frame == 0
                    && found == Some(offset + DESCRIPTOR_FRAME_LEN as u64)
                {
                    exact = true;
                }
                found
            }
        };
        if resume.is_none() && !at_end {
            // The rest of the file is lost; descriptors after the damage are not read.
            exact = false;
        }
        let skipped_to = resume.unwrap_or(self.file_len);
        if let Some(i) = self.pending_before {
            // No record between this damage and the previous one: one span.
            let s = &mut self.skips[i];
            s.frames_lost += lost;
            s.exact &= exact;
            s.lost_min_ns = min_opt(s.lost_min_ns, lost_min);
            s.lost_max_ns = s.lost_max_ns.max(lost_max);
            s.bytes_skipped = skipped_to.saturating_sub(s.offset);
            s.resumed = resume.is_some();
            if !s.reason.contains(&reason) {
                s.reason.push_str("; then ");
                s.reason.push_str(&reason);
            }
        } else {
            self.skips.push(CorruptSpan {
                path: self.path.clone(),
                record: self.records,
                offset,
                reason,
                frames_lost: lost,
                exact,
                lost_min_ns: lost_min,
                lost_max_ns: lost_max,
                after_ns: self.last_recv,
                before_ns: None,
                bytes_skipped: skipped_to.saturating_sub(offset),
                resumed: resume.is_some(),
            });
            self.pending_before = Some(self.skips.len() - 1);
        }
        if let Some(s) = self.skips.last() {
            tracing::debug!(span = %s, "segment damage skipped");
        }
        self.restart_at(resume);
        Ok(())
    }

    /// Resets decoding to start at file offset `at` (a frame boundary), or ends the input.
    fn restart_at(&mut self, at: Option<u64>) {
        self.start = 0;
        self.end = 0;
        self.cur_off = 0;
        self.cur_len = 0;
        self.produced = 0;
        self.consumed = 0;
        self.marks.clear();
        self.parse_frame = None;
        self.records_before_parse_frame = self.records;
        self.pending_desc = None;
        self.frame = None;
        self.stage = Stage::Boundary;
        self.end_kind = None;
        let _ = self.dctx.reset(ResetDirective::SessionOnly);
        match at {
            Some(off) => match self.seek_input(off) {
                Ok(()) => self.input_done = false,
                Err(e) => self.io_damage(&e),
            },
            None => self.end_input(EndKind::Clean),
        }
    }

    /// `true` if an intact descriptor or a zstd frame magic starts at file offset `at`.
    fn frame_starts_at(&mut self, at: u64) -> bool {
        if at >= self.file_len || self.seek_input(at).is_err() {
            return false;
        }
        let Ok(n) = self.want_input(DESCRIPTOR_FRAME_LEN) else {
            return false;
        };
        let b = &self.inbuf[self.in_pos..self.in_pos + n];
        n >= 4
            && (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) == ZSTD_MAGIC
                || FrameDescriptor::decode(b).is_some())
    }

    /// The first file offset at or after `from` where an intact descriptor or a zstd frame
    /// magic starts.
    fn scan_for_frame(&mut self, from: u64) -> Option<u64> {
        let zstd = ZSTD_MAGIC.to_le_bytes();
        let desc = DESCRIPTOR_MAGIC.to_le_bytes();
        let mut at = from;
        while at < self.file_len {
            if self.seek_input(at).is_err() {
                return None;
            }
            let Ok(n) = self.want_input(INPUT_BUF) else {
                return None;
            };
            if n < 4 {
                return None;
            }
            let b = &self.inbuf[self.in_pos..self.in_pos + n];
            for i in 0..=n - 4 {
                let w = &b[i..i + 4];
                if w == zstd {
                    return Some(at + i as u64);
                }
                if w == desc {
                    if n - i >= DESCRIPTOR_FRAME_LEN {
                        if FrameDescriptor::decode(&b[i..]).is_some() {
                            return Some(at + i as u64);
                        }
                    } else if n == INPUT_BUF {
                        // Re-read from here to see the whole candidate.
                        break;
                    }
                }
            }
            // Continue after the last position fully examined (keep 3 bytes of overlap and a
            // possible partial descriptor).
            let step = if n == INPUT_BUF {
                (n - DESCRIPTOR_FRAME_LEN).max(1)
            } else {
                n
            };
            at += step as u64;
        }
        None
    }

    // ---- header and records ---------------------------------------------------------------

    fn read_header(&mut self) -> Result<(), StoreError> {
        // Any damage skipped here leaves the header unknown; records follow from wherever
        // reading resumed.
        if !self.ensure(12) {
            return self.header_end("the segment preamble (magic + header length)");
        }
        let pre = &self.buf[self.start..self.start + 12];
        if pre[..8] != MAGIC {
            let got = String::from_utf8_lossy(&pre[..8])
                .escape_debug()
                .to_string();
            return self.damage(
                DamageAt::Record,
                format!("not a polyedge segment: bad magic {got} (expected \"PEDGSEG1\")"),
            );
        }
        let header_len = u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize;
        if header_len > MAX_HEADER_LEN {
            return self.damage(
                DamageAt::Record,
                format!("segment header length {header_len} exceeds {MAX_HEADER_LEN} bytes"),
            );
        }
        if !self.ensure(12 + header_len) {
            return self.header_end("the segment header JSON");
        }
        let json = &self.buf[self.start + 12..self.start + 12 + header_len];
        let header: SegmentHeader = match serde_json::from_slice(json) {
            Ok(h) => h,
            Err(e) => {
                return self.damage(DamageAt::Record, format!("bad segment header JSON: {e}"));
            }
        };
        if header.format_version != FORMAT_VERSION {
            return self.damage(
                DamageAt::Record,
                format!(
                    "unsupported segment format_version {} (this reader knows {FORMAT_VERSION})",
                    header.format_version
                ),
            );
        }
        if Feed::from_code(header.feed_code) != Some(header.feed) {
            return self.damage(
                DamageAt::Record,
                format!(
                    "segment header feed {:?} does not match feed_code {}",
                    header.feed.name(),
                    header.feed_code
                ),
            );
        }
        self.start += 12 + header_len;
        self.consumed = (12 + header_len) as u64;
        self.header = Some(header);
        Ok(())
    }

    /// The input ended inside the header: a torn tail, or damage (a file that is not zstd at
    /// all is named so).
    fn header_end(&mut self, what: &str) -> Result<(), StoreError> {
        if self.produced == 0 {
            match &mut self.end_kind {
                Some(EndKind::Corrupt { reason, .. }) => {
                    *reason = format!("not a zstd-compressed polyedge segment: {reason}");
                }
                Some(kind @ EndKind::Clean) => {
                    // Created, but killed before the header frame was written.
                    *kind = EndKind::Torn("the file has no frame".into());
                }
                _ => {}
            }
        }
        let partial = (self.end - self.start) as u64;
        self.at_end(&format!("file ends inside {what}"), partial)?;
        Ok(())
    }

    /// `true` if nothing more can be read.
    fn finished_input(&self) -> bool {
        self.finished || (self.input_done && self.end_kind == Some(EndKind::Clean))
    }

    fn set_torn(&mut self, what: String, bytes_dropped: u64) {
        let torn = TornTail {
            path: self.path.clone(),
            records: self.records,
            bytes_dropped,
            reason: what,
        };
        tracing::warn!(
            file = %self.path.display(),
            records = torn.records,
            bytes_dropped = torn.bytes_dropped,
            reason = %torn.reason,
            "segment has a torn tail; complete records before it are kept"
        );
        self.torn = Some(torn);
        self.finished = true;
    }

    /// The input is over and fewer bytes than a record remain: a clean end, a torn tail, or
    /// damage. Returns `Ok(true)` when reading is over, `Ok(false)` when damage was skipped and
    /// reading resumed.
    fn at_end(&mut self, inside: &str, partial: u64) -> Result<bool, StoreError> {
        let kind = self.end_kind.take().unwrap_or(EndKind::Clean);
        match kind {
            EndKind::Clean if partial == 0 => {
                self.finished = true;
                Ok(true)
            }
            EndKind::Clean => {
                self.damage(
                    DamageAt::Record,
                    format!(
                        "{inside}, after complete zstd frames: the writer never splits a record \
                         across frames"
                    ),
                )?;
                Ok(self.finished_input())
            }
            EndKind::Torn(what) if self.opts.tail_allowed => {
                self.set_torn(format!("{inside}: {what}"), partial);
                Ok(true)
            }
            EndKind::Torn(what) => {
                let why =
                    "only the last segment of a stream whose writer did not finish may end early";
                self.damage(
                    DamageAt::Frame {
                        offset: self.frame.map_or(self.in_offset(), |f| f.offset),
                        frame: if self.stage == Stage::InFrame {
                            self.frame
                        } else {
                            None
                        },
                    },
                    format!("segment is truncated ({inside}: {what}); {why}"),
                )?;
                Ok(self.finished_input())
            }
            EndKind::Corrupt {
                offset,
                in_frame,
                reason,
            } => {
                let frame = if in_frame { self.frame } else { None };
                self.damage(DamageAt::Frame { offset, frame }, reason)?;
                Ok(self.finished_input())
            }
        }
    }

    /// The segment's header; `None` if the file ends inside it or (with
    /// [`ReadOptions::skip_corrupt`]) it was damaged.
    pub fn header(&self) -> Option<&SegmentHeader> {
        self.header.as_ref()
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the reader was opened with.
    pub fn options(&self) -> ReadOptions {
        self.opts
    }

    /// Complete records returned so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// zstd frames started so far (the header's included).
    pub fn zstd_frames(&self) -> u64 {
        self.zstd_frames
    }

    /// Intact frame descriptors read so far (0 for segments written before descriptors).
    pub fn descriptors(&self) -> u64 {
        self.descriptors
    }

    /// Size (bytes) of the decompressed-data buffer: [`READ_BUF`], or more if a larger record
    /// needed it. Does not include zstd's own decoding context or the input buffer.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.len()
    }

    /// The torn tail, once iteration has reached it; `None` for a cleanly ended segment.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The damage skipped so far ([`ReadOptions::skip_corrupt`] only), in file order.
    pub fn skipped(&self) -> &[CorruptSpan] {
        &self.skips
    }

    /// Takes the damage skipped so far (later calls return only newer spans). A span whose
    /// [`before_ns`](CorruptSpan::before_ns) is still open is completed only if it is taken
    /// after the next record.
    pub fn take_skipped(&mut self) -> Vec<CorruptSpan> {
        self.pending_before = None;
        std::mem::take(&mut self.skips)
    }

    /// Moves to the next record and returns its receive time (ns since epoch); its payload is
    /// then [`payload`](Self::payload). `Ok(None)` at the end of the segment, including at a
    /// legitimate torn tail (see [`torn_tail`](Self::torn_tail)); every later call returns
    /// `Ok(None)` too.
    ///
    /// # Errors
    /// Unless [`ReadOptions::skip_corrupt`]: [`StoreError::Format`] naming the file, the 0-based
    /// record index and the file offset of the damaged frame, for any damage (module docs). The
    /// segment is then over: later calls return `Ok(None)`.
    pub fn advance(&mut self) -> Result<Option<UnixNanos>, StoreError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if !self.ensure(4) {
                let partial = (self.end - self.start) as u64;
                let inside = if partial == 0 {
                    format!("end of record #{}", self.records)
                } else {
                    format!("record #{} (length field)", self.records)
                };
                if self.at_end(&format!("file ends at the {inside}"), partial)? {
                    return Ok(None);
                }
                continue;
            }
            // A record starts here: note the frame it is in before reading it.
            self.sync_parse_frame();
            let s = self.start;
            let len = u32::from_le_bytes([
                self.buf[s],
                self.buf[s + 1],
                self.buf[s + 2],
                self.buf[s + 3],
            ]) as usize;
            if len > MAX_RECORD_LEN {
                self.damage(
                    DamageAt::Record,
                    format!("length {len} exceeds the {MAX_RECORD_LEN}-byte record limit"),
                )?;
                continue;
            }
            let need = RECORD_OVERHEAD + len;
            if !self.ensure(need) {
                let partial = (self.end - self.start) as u64;
                if self.at_end(
                    &format!(
                        "file ends inside record #{} ({partial} of {need} bytes present)",
                        self.records
                    ),
                    partial,
                )? {
                    return Ok(None);
                }
                continue;
            }
            let s = self.start;
            let b = &self.buf[s..s + need];
            let recv = u64::from_le_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]);
            let stored = u32::from_le_bytes([b[need - 4], b[need - 3], b[need - 2], b[need - 1]]);
            let actual = crc32fast::hash(&b[4..need - 4]);
            if stored != actual {
                self.damage(
                    DamageAt::Record,
                    format!("CRC mismatch (stored {stored:08x}, computed {actual:08x})"),
                )?;
                continue;
            }
            self.cur_off = s + 12;
            self.cur_len = len;
            self.start += need;
            self.consumed += need as u64;
            self.records += 1;
            let t = UnixNanos(recv);
            if let Some(i) = self.pending_before.take()
                && let Some(span) = self.skips.get_mut(i)
            {
                span.before_ns = Some(t);
            }
            self.last_recv = Some(t);
            return Ok(Some(t));
        }
    }

    /// The payload of the record last returned by [`advance`](Self::advance) (empty before the
    /// first record). Valid until the next call to `advance`.
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.cur_off..self.cur_off + self.cur_len]
    }
}

fn min_opt(a: Option<UnixNanos>, b: Option<UnixNanos>) -> Option<UnixNanos> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

impl Iterator for SegmentReader {
    type Item = Result<(UnixNanos, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.advance() {
            Ok(Some(t)) => Some(Ok((t, self.payload().to_vec()))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A whole segment read into memory by [`read_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentContents {
    /// The header (`None` if the file ends inside it).
    pub header: Option<SegmentHeader>,
    /// Every complete record: receive time (ns since epoch) and payload.
    pub records: Vec<(UnixNanos, Vec<u8>)>,
    /// The torn tail, if the segment has one.
    pub torn_tail: Option<TornTail>,
    /// Damage skipped ([`read_all_with`] with [`ReadOptions::skip_corrupt`]).
    pub skipped: Vec<CorruptSpan>,
}

/// Reads a whole segment into memory ([`ReadOptions::LONE`]): header and all records. For tests
/// and tools; replay streams instead.
///
/// # Errors
/// As [`SegmentReader::open`] and [`SegmentReader::advance`].
pub fn read_all(path: &Path) -> Result<SegmentContents, StoreError> {
    read_all_with(path, ReadOptions::LONE)
}

/// Reads a whole segment into memory with `opts`.
///
/// # Errors
/// As [`SegmentReader::open_with`] and [`SegmentReader::advance`].
pub fn read_all_with(path: &Path, opts: ReadOptions) -> Result<SegmentContents, StoreError> {
    let mut r = SegmentReader::open_with(path, opts)?;
    let mut records = Vec::new();
    while let Some(t) = r.advance()? {
        records.push((t, r.payload().to_vec()));
    }
    Ok(SegmentContents {
        header: r.header.take(),
        records,
        torn_tail: r.torn.take(),
        skipped: std::mem::take(&mut r.skips),
    })
}
