//! Forward compatibility: what the parsers skip because they do not know it.
//!
//! Venues add event types, topics, channels and fields over time. A parser never drops the known
//! events of a frame because of an unknown one:
//!
//! * an unknown **element** — an event type in a batch, a topic, a channel, an array element of
//!   a shape the parser does not know — is skipped and counted here; the frame's known events
//!   are kept (a frame of nothing but unknown elements parses to no events, `Ok(0)`);
//! * an unknown **field** of a known object is ignored (not counted: spotting one would cost
//!   every frame a scan of all its keys, and new fields are routine);
//! * a *known* element with a bad value is still an error ([`ParseError`](crate::ParseError)):
//!   that is malformed data, not a newer protocol.
//!
//! The count is per thread and only grows. A caller reads it around its own parse calls and
//! logs the difference with the stream name:
//!
//! ```
//! # use polyedge_core::UnixNanos;
//! # use polyedge_venues::{Feed, unknown};
//! let before = unknown::skipped();
//! let mut out = Vec::new();
//! Feed::Rtds.parse(br#"{"topic":"crypto_prices_new","type":"update","payload":{}}"#, UnixNanos(1), &mut out).unwrap();
//! assert_eq!(unknown::skipped() - before, 1);
//! assert!(unknown::last().contains("crypto_prices_new"));
//! ```

use std::cell::{Cell, RefCell};

thread_local! {
    static SKIPPED: Cell<u64> = const { Cell::new(0) };
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Unknown elements the parsers skipped on this thread so far (never decreases).
pub fn skipped() -> u64 {
    SKIPPED.with(Cell::get)
}

/// What the parser skipped last on this thread (`RTDS topic "x"`, `Binance event "y"` …);
/// empty if nothing was skipped yet.
pub fn last() -> String {
    LAST.with(|l| l.borrow().clone())
}

/// Counts one skipped unknown element, described by `what` (called only then).
pub fn note(what: impl FnOnce() -> String) {
    SKIPPED.with(|c| c.set(c.get() + 1));
    let w = what();
    LAST.with(|l| {
        let mut l = l.borrow_mut();
        l.clear();
        l.extend(w.chars().take(200));
    });
}
