//! # polyedge-bench
//!
//! Tools for measuring polyedge beside other backtesters on the same data (`bench/anchors/`):
//!
//! * [`npy`] — hftbacktest's 64-byte event records in NumPy's `.npy` format.
//! * [`hbt`] — a recording's `book` frames converted into hftbacktest events (a clear plus the
//!   levels per frame), with the best bid/ask checksum both tools must reproduce.
//!
//! The `polyedge-bench` binary wraps them; the side-by-side run itself is
//! `bench/anchors/run.sh`. Nothing here is on polyedge's own data path.

pub mod hbt;
pub mod npy;
