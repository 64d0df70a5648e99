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
//! The [`SegmentWriter`] buffers records and writes one whole zstd frame at a time (on
//! [`SegmentWriter::flush`], when the block reaches [`BLOCK_TARGET`] bytes, and on close), so a
//! process killed mid-write loses at most the unflushed block and leaves at most one partial zstd
//! frame at the end of the file. The [`SegmentReader`] streams the file with bounded memory, and
//! treats such a partial tail as a [`TornTail`]: every complete, CRC-valid record before it is
//! returned, then iteration ends cleanly.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use polyedge_core::UnixNanos;
use polyedge_venues::Feed;
use serde::{Deserialize, Serialize};

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

/// What a closed [`SegmentWriter`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Records (frames) written.
    pub records: u64,
    /// Payload bytes written (uncompressed, without framing).
    pub payload_bytes: u64,
    /// Compressed bytes written to the file, header included.
    pub file_bytes: u64,
    /// zstd frames written, the header's included.
    pub zstd_frames: u64,
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
    out: Vec<u8>,
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
    /// Creates a new segment file at `path` (which must not exist) and writes its header as the
    /// first zstd frame.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file exists or cannot be created or written.
    pub fn create(path: &Path, header: &SegmentHeader) -> Result<Self, StoreError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(StoreError::io(path))?;
        let cctx = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(StoreError::io(path))?;
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
            out: Vec::new(),
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
        self.stats.records += 1;
        self.stats.payload_bytes += payload.len() as u64;
        if self.block.len() >= BLOCK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the current block: compresses the buffered records into one zstd frame and writes it
    /// to the file with a single `write_all` (no fsync). Does nothing if nothing is buffered.
    ///
    /// # Errors
    /// [`StoreError::Io`] on compression or write errors.
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
        file.write_all(&self.out)
            .map_err(StoreError::io(&self.path))?;
        self.stats.file_bytes += self.out.len() as u64;
        self.stats.zstd_frames += 1;
        self.block.clear();
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

/// Why a segment ended early: the file stops mid-zstd-frame or mid-record (a process was killed
/// while writing), or trailing bytes are not a zstd frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Complete, CRC-valid records returned before the tear.
    pub records: u64,
    /// Decompressed bytes after the last complete record that were discarded (an incomplete
    /// record or header). Compressed bytes of a partial zstd frame are not counted.
    pub bytes_dropped: u64,
    /// What was found: the decoder's error, or which structure was incomplete.
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

/// Streams the records of one segment file with bounded memory.
///
/// Two APIs: the allocation-free [`advance`](SegmentReader::advance) +
/// [`payload`](SegmentReader::payload) pair (the payload borrows the reader's buffer), and an
/// [`Iterator`] of owned `(recv_ns, payload)` pairs.
///
/// Memory: one zstd decoding context plus one buffer of [`READ_BUF`] bytes (larger only to hold a
/// single larger record), whatever the file size.
pub struct SegmentReader {
    path: PathBuf,
    header: Option<SegmentHeader>,
    decoder: Option<zstd::stream::read::Decoder<'static, BufReader<File>>>,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// The current record's payload: `buf[cur_off..cur_off + cur_len]`.
    cur_off: usize,
    cur_len: usize,
    /// No more input will come (clean end, decoder error, or stopped after an error).
    input_done: bool,
    /// The decoder failed (error message), if so.
    decode_error: Option<io::Error>,
    /// Iteration is over (end, torn tail or error reported).
    finished: bool,
    records: u64,
    /// Decompressed bytes consumed (header and complete records).
    consumed: u64,
    torn: Option<TornTail>,
}

impl std::fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("records", &self.records)
            .field("torn", &self.torn)
            .finish_non_exhaustive()
    }
}

impl SegmentReader {
    /// Opens a segment and reads its header.
    ///
    /// A file that ends inside the header (empty file, partial first zstd frame) is not an
    /// error: the reader then has no [`header`](Self::header), yields no records and reports a
    /// [`torn_tail`](Self::torn_tail).
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file cannot be opened; [`StoreError::Format`] naming the file if
    /// it is not a zstd stream, does not start with [`MAGIC`], or has an invalid or unsupported
    /// header.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = File::open(path).map_err(StoreError::io(path))?;
        let decoder = zstd::stream::read::Decoder::new(file).map_err(StoreError::io(path))?;
        let mut r = SegmentReader {
            path: path.to_path_buf(),
            header: None,
            decoder: Some(decoder),
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            cur_off: 0,
            cur_len: 0,
            input_done: false,
            decode_error: None,
            finished: false,
            records: 0,
            consumed: 0,
            torn: None,
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

    fn read_header(&mut self) -> Result<(), StoreError> {
        if !self.ensure(12) {
            return self.header_incomplete("the segment preamble (magic + header length)");
        }
        let pre = &self.buf[self.start..self.start + 12];
        if pre[..8] != MAGIC {
            let got = pre[..8].to_vec();
            self.finished = true;
            return Err(self.format_err(format!(
                "not a polyedge segment: bad magic {} (expected \"PEDGSEG1\")",
                String::from_utf8_lossy(&got).escape_debug()
            )));
        }
        let header_len = u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize;
        if header_len > MAX_HEADER_LEN {
            self.finished = true;
            return Err(self.format_err(format!(
                "segment header length {header_len} exceeds {MAX_HEADER_LEN} bytes"
            )));
        }
        if !self.ensure(12 + header_len) {
            return self.header_incomplete("the segment header JSON");
        }
        let json = &self.buf[self.start + 12..self.start + 12 + header_len];
        let header: SegmentHeader = match serde_json::from_slice(json) {
            Ok(h) => h,
            Err(e) => {
                self.finished = true;
                return Err(self.format_err(format!("bad segment header JSON: {e}")));
            }
        };
        if header.format_version != FORMAT_VERSION {
            self.finished = true;
            return Err(self.format_err(format!(
                "unsupported segment format_version {} (this reader knows {FORMAT_VERSION})",
                header.format_version
            )));
        }
        if Feed::from_code(header.feed_code) != Some(header.feed) {
            self.finished = true;
            return Err(self.format_err(format!(
                "segment header feed {:?} does not match feed_code {}",
                header.feed.name(),
                header.feed_code
            )));
        }
        self.start += 12 + header_len;
        self.consumed = (12 + header_len) as u64;
        self.header = Some(header);
        Ok(())
    }

    /// The file ended (or the decoder failed) inside the header. `Format` if the data is not zstd
    /// at all, else a torn tail.
    fn header_incomplete(&mut self, what: &str) -> Result<(), StoreError> {
        if let Some(e) = &self.decode_error
            && e.kind() != io::ErrorKind::UnexpectedEof
            && self.end == 0
        {
            let msg = e.to_string();
            self.finished = true;
            return Err(self.format_err(format!("not a zstd-compressed segment: {msg}")));
        }
        self.set_torn(format!("file ends inside {what}"));
        Ok(())
    }

    fn set_torn(&mut self, what: String) {
        let reason = match &self.decode_error {
            Some(e) => format!("{what} ({e})"),
            None => what,
        };
        let torn = TornTail {
            path: self.path.clone(),
            records: self.records,
            bytes_dropped: (self.end - self.start) as u64,
            reason,
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
        self.decoder = None;
    }

    /// Makes at least `n` unconsumed bytes available in `buf[start..end]`, reading from the
    /// decoder as needed. Returns `false` if the input ends (or fails) first.
    fn ensure(&mut self, n: usize) -> bool {
        while self.end - self.start < n {
            if self.input_done {
                return false;
            }
            if self.start + n > self.buf.len() {
                // Not enough room after `start`: move the unconsumed bytes to the front, and grow
                // only if a single record needs more than the whole buffer.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if n > self.buf.len() {
                    let new_len = n.div_ceil(64 << 10) * (64 << 10);
                    self.buf.resize(new_len, 0);
                }
            }
            let Some(decoder) = self.decoder.as_mut() else {
                self.input_done = true;
                return false;
            };
            match decoder.read(&mut self.buf[self.end..]) {
                Ok(0) => self.input_done = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.input_done = true;
                    self.decode_error = Some(e);
                }
            }
        }
        true
    }

    /// The segment's header; `None` only if the file ends inside it (see [`open`](Self::open)).
    pub fn header(&self) -> Option<&SegmentHeader> {
        self.header.as_ref()
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete records returned so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Size (bytes) of the decompressed-data buffer: [`READ_BUF`], or the largest record + 16 if
    /// larger. Does not include zstd's own decoding context.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.len()
    }

    /// The torn tail, once iteration has reached it; `None` for a cleanly ended segment.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// Moves to the next record and returns its receive time (ns since epoch); its payload is
    /// then [`payload`](Self::payload). `Ok(None)` at the end of the segment, including at a torn
    /// tail (see [`torn_tail`](Self::torn_tail)); every later call returns `Ok(None)` too.
    ///
    /// # Errors
    /// [`StoreError::Format`] naming the file and the 0-based record index if a record's CRC does
    /// not match or its length field exceeds [`MAX_RECORD_LEN`]. The segment is then over: later
    /// calls return `Ok(None)`.
    pub fn advance(&mut self) -> Result<Option<UnixNanos>, StoreError> {
        if self.finished {
            return Ok(None);
        }
        if !self.ensure(4) {
            if self.end > self.start || self.decode_error.is_some() {
                self.set_torn(format!(
                    "file ends inside record #{} (length field)",
                    self.records
                ));
            } else {
                self.finished = true;
                self.decoder = None;
            }
            return Ok(None);
        }
        let s = self.start;
        let len = u32::from_le_bytes([
            self.buf[s],
            self.buf[s + 1],
            self.buf[s + 2],
            self.buf[s + 3],
        ]) as usize;
        if len > MAX_RECORD_LEN {
            self.finished = true;
            self.decoder = None;
            return Err(self.format_err(format!(
                "record #{} at decompressed offset {}: length {len} exceeds the {MAX_RECORD_LEN}-byte limit (corrupt segment)",
                self.records, self.consumed
            )));
        }
        let need = RECORD_OVERHEAD + len;
        if !self.ensure(need) {
            self.set_torn(format!(
                "file ends inside record #{} ({} of {need} bytes present)",
                self.records,
                self.end - self.start
            ));
            return Ok(None);
        }
        let s = self.start;
        let b = &self.buf[s..s + need];
        let recv = u64::from_le_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]);
        let stored = u32::from_le_bytes([b[need - 4], b[need - 3], b[need - 2], b[need - 1]]);
        let actual = crc32fast::hash(&b[4..need - 4]);
        if stored != actual {
            self.finished = true;
            self.decoder = None;
            return Err(self.format_err(format!(
                "record #{} at decompressed offset {}: CRC mismatch (stored {stored:08x}, computed {actual:08x}); segment is corrupt",
                self.records, self.consumed
            )));
        }
        self.cur_off = s + 12;
        self.cur_len = len;
        self.start += need;
        self.consumed += need as u64;
        self.records += 1;
        Ok(Some(UnixNanos(recv)))
    }

    /// The payload of the record last returned by [`advance`](Self::advance) (empty before the
    /// first record). Valid until the next call to `advance`.
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.cur_off..self.cur_off + self.cur_len]
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
}

/// Reads a whole segment into memory: header and all records. For tests and tools; replay
/// streams instead.
///
/// # Errors
/// As [`SegmentReader::open`] and [`SegmentReader::advance`].
pub fn read_all(path: &Path) -> Result<SegmentContents, StoreError> {
    let mut r = SegmentReader::open(path)?;
    let mut records = Vec::new();
    while let Some(t) = r.advance()? {
        records.push((t, r.payload().to_vec()));
    }
    Ok(SegmentContents {
        header: r.header.take(),
        records,
        torn_tail: r.torn.take(),
    })
}
