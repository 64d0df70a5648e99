//! hftbacktest's event records in NumPy's `.npy` format (version 1.0).
//!
//! hftbacktest (2.x) feeds its backtester with a one-dimensional array of 64-byte records of the
//! aligned dtype `[('ev', '<u8'), ('exch_ts', '<i8'), ('local_ts', '<i8'), ('px', '<f8'),
//! ('qty', '<f8'), ('order_id', '<u8'), ('ival', '<i8'), ('fval', '<f8')]`
//! (`hftbacktest.types.event_dtype`). [`NpyWriter`] streams such records to a `.npy` file that
//! `numpy.load` reads (the header is rewritten with the final length on [`NpyWriter::finish`]);
//! [`read_events`] reads one back (tests, checks).
//!
//! Format: NumPy's "NPY format" specification, version 1.0 — magic `\x93NUMPY`, version bytes
//! `1 0`, a little-endian u16 header length, an ASCII Python-dict header padded with spaces and
//! ending in `\n` so that the data starts at a multiple of 64 bytes, then the raw records.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// `DEPTH_CLEAR_EVENT`: the market depth is cleared (with neither side flag: both sides).
pub const DEPTH_CLEAR_EVENT: u64 = 3;
/// `DEPTH_SNAPSHOT_EVENT`: one level of a depth snapshot.
pub const DEPTH_SNAPSHOT_EVENT: u64 = 4;
/// `EXCH_EVENT`: handled by the exchange processor at `exch_ts`.
pub const EXCH_EVENT: u64 = 1 << 31;
/// `LOCAL_EVENT`: handled by the local processor at `local_ts`.
pub const LOCAL_EVENT: u64 = 1 << 30;
/// `BUY_EVENT`: with a depth event, the bid side.
pub const BUY_EVENT: u64 = 1 << 29;
/// `SELL_EVENT`: with a depth event, the ask side.
pub const SELL_EVENT: u64 = 1 << 28;

/// Size of one record in bytes.
pub const RECORD_BYTES: usize = 64;

const MAGIC: &[u8] = b"\x93NUMPY";
const DESCR: &str = "[('ev', '<u8'), ('exch_ts', '<i8'), ('local_ts', '<i8'), ('px', '<f8'), \
                     ('qty', '<f8'), ('order_id', '<u8'), ('ival', '<i8'), ('fval', '<f8')]";
/// Header bytes (magic to the end of the padded dict): fixed, so that the final length can be
/// written in place. 20 digits hold any `u64`.
const HEADER_BYTES: usize = 256;

/// One hftbacktest event record.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Event {
    /// Event kind and flags (`DEPTH_*_EVENT | EXCH_EVENT | LOCAL_EVENT | BUY/SELL_EVENT`).
    pub ev: u64,
    /// Exchange timestamp, ns since the Unix epoch.
    pub exch_ts: i64,
    /// Local (receive) timestamp, ns since the Unix epoch.
    pub local_ts: i64,
    /// Price (pUSD per share).
    pub px: f64,
    /// Quantity (shares).
    pub qty: f64,
    /// Order id (L3 data only; 0 here).
    pub order_id: u64,
    /// Integer payload (unused here).
    pub ival: i64,
    /// Float payload (unused here).
    pub fval: f64,
}

impl Event {
    fn to_bytes(self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        let words = [
            self.ev,
            self.exch_ts.cast_unsigned(),
            self.local_ts.cast_unsigned(),
            self.px.to_bits(),
            self.qty.to_bits(),
            self.order_id,
            self.ival.cast_unsigned(),
            self.fval.to_bits(),
        ];
        for (chunk, w) in b.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    fn from_bytes(b: &[u8; RECORD_BYTES]) -> Event {
        let mut w = [0u64; 8];
        for (word, chunk) in w.iter_mut().zip(b.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            *word = u64::from_le_bytes(a);
        }
        Event {
            ev: w[0],
            exch_ts: w[1].cast_signed(),
            local_ts: w[2].cast_signed(),
            px: f64::from_bits(w[3]),
            qty: f64::from_bits(w[4]),
            order_id: w[5],
            ival: w[6].cast_signed(),
            fval: f64::from_bits(w[7]),
        }
    }
}

fn header(len: u64) -> Vec<u8> {
    let dict = format!("{{'descr': {DESCR}, 'fortran_order': False, 'shape': ({len:>20},), }}");
    let mut h = Vec::with_capacity(HEADER_BYTES);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&[1, 0]);
    let body_len = HEADER_BYTES - MAGIC.len() - 4;
    // Fits: the dict is ~230 characters, checked by the assertion below.
    #[allow(clippy::cast_possible_truncation)]
    h.extend_from_slice(&(body_len as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    assert!(h.len() < HEADER_BYTES, "npy header overflow");
    h.resize(HEADER_BYTES - 1, b' ');
    h.push(b'\n');
    h
}

/// Streams [`Event`]s into a `.npy` file.
#[derive(Debug)]
pub struct NpyWriter {
    out: BufWriter<File>,
    len: u64,
}

impl NpyWriter {
    /// Creates (or truncates) `path` and writes a provisional header.
    ///
    /// # Errors
    /// Any I/O error creating or writing the file.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(&header(0))?;
        Ok(NpyWriter { out, len: 0 })
    }

    /// Appends one record.
    ///
    /// # Errors
    /// Any I/O error writing the file.
    pub fn push(&mut self, e: Event) -> io::Result<()> {
        self.out.write_all(&e.to_bytes())?;
        self.len += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// `true` when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the final header (record count) and flushes. Returns the record count.
    ///
    /// # Errors
    /// Any I/O error writing or syncing the file.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        let mut f = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&header(self.len))?;
        f.flush()?;
        Ok(self.len)
    }
}

/// Reads a `.npy` file written by [`NpyWriter`] (same dtype, same header size).
///
/// # Errors
/// An I/O error, or [`io::ErrorKind::InvalidData`] if the header is not the one [`NpyWriter`]
/// writes or the data length disagrees with it.
pub fn read_events(path: &Path) -> io::Result<Vec<Event>> {
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    let mut f = File::open(path)?;
    let mut h = vec![0u8; HEADER_BYTES];
    f.read_exact(&mut h)?;
    if !h.starts_with(MAGIC) || h[MAGIC.len()..MAGIC.len() + 2] != [1, 0] {
        return Err(bad("not a version 1.0 .npy file"));
    }
    let text =
        std::str::from_utf8(&h[MAGIC.len() + 4..]).map_err(|_| bad("header is not ASCII"))?;
    if !text.contains(DESCR) {
        return Err(bad("not hftbacktest's event dtype"));
    }
    let len: usize = text
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| bad("no shape in header"))?;
    let mut data = Vec::new();
    f.read_to_end(&mut data)?;
    if data.len() != len * RECORD_BYTES {
        return Err(bad("data length disagrees with the header's shape"));
    }
    Ok(data
        .chunks_exact(RECORD_BYTES)
        .map(|c| {
            let mut a = [0u8; RECORD_BYTES];
            a.copy_from_slice(c);
            Event::from_bytes(&a)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_64_byte_aligned_and_round_trips() {
        let h = header(12_345);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(h.last(), Some(&b'\n'));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let p = dir.path().join("e.npy");
        let mut w = NpyWriter::create(&p).unwrap_or_else(|e| panic!("create: {e}"));
        let a = Event {
            ev: DEPTH_SNAPSHOT_EVENT | LOCAL_EVENT | BUY_EVENT,
            exch_ts: -5,
            local_ts: 1_776_000_000_000_000_000,
            px: 0.53,
            qty: 12_584.58,
            order_id: 7,
            ival: -1,
            fval: 0.25,
        };
        w.push(a).unwrap_or_else(|e| panic!("push: {e}"));
        w.push(Event::default())
            .unwrap_or_else(|e| panic!("push: {e}"));
        assert_eq!(w.finish().unwrap_or_else(|e| panic!("finish: {e}")), 2);
        let back = read_events(&p).unwrap_or_else(|e| panic!("read: {e}"));
        assert_eq!(back, vec![a, Event::default()]);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("read: {e}"));
        assert_eq!(bytes.len(), HEADER_BYTES + 2 * RECORD_BYTES);
        assert!(
            std::str::from_utf8(&bytes[10..HEADER_BYTES])
                .unwrap_or_default()
                .contains("'shape': (                   2,)")
        );
    }
}
