//! Parser for the Polymarket CLOB **market channel** (`wss://ws-subscriptions-clob.polymarket.com/ws/market`,
//! protocols.md §6).
//!
//! A frame is one JSON event object, or a JSON array of them (the initial book dump arrives
//! array-wrapped), or the plain-text `PONG` heartbeat answer. Every event carries `event_type`:
//!
//! | `event_type` | produces |
//! |---|---|
//! | `book` | one [`EventKind::Book`]; levels re-ordered best-first (the wire has bids ascending, asks descending, best last) |
//! | `price_change` | one [`EventKind::BookDelta`] per `price_changes[]` entry (`BUY` ⇒ bid, `SELL` ⇒ ask, `size` = new total at the level); the legacy (pre-Sept-2025) single-level form with `asset_id`/`price`/`side`/`size` at the top level gives one |
//! | `last_trade_price` | one [`EventKind::LastTrade`] (`side` = taker side) |
//! | `tick_size_change` | one [`EventKind::TickSizeChange`] |
//! | `best_bid_ask` | one [`EventKind::BestBidAsk`] (`best_bid`/`best_ask` absent, `null` or `""` ⇒ empty side; optional non-venue `best_bid_size`/`best_ask_size`) |
//! | `new_market` | one [`EventKind::NewMarket`] |
//! | `market_resolved` | one [`EventKind::MarketResolved`] |
//!
//! `venue_ns` is the event's `timestamp` (epoch milliseconds, a string or a JSON integer) when
//! present.
//!
//! Forward compatibility: the venue adds event types over time. In an array-wrapped frame, an
//! element whose `event_type` is not in the table above, or that is not a JSON object at all, is
//! skipped — whatever its other fields hold — and counted, and the frame's known events are
//! kept ([`parse_with_skips`] returns the count and the first unknown type; [`parse`] adds it to a
//! per-thread total, [`skipped_elements`]). A frame with no known element (a single unknown
//! event, or an array of unknown elements only) is still [`ParseError::UnknownEvent`] (or
//! [`ParseError::Json`] when no element is an object), which callers count per stream. Unknown
//! fields of known events have always been ignored.
//!
//! Prices must be decimal strings in `[0, 1]` on the venue's finest grid (0.0001); sizes decimal
//! strings ≥ 0 with at most 6 decimals; token ids decimal uint256 strings; condition ids `0x` + 64
//! hex digits. Errors name the offending field with a dotted path (`price_changes[1].price`,
//! `bids[3].size`; events of an array-wrapped frame are prefixed `[i].`). A `null` field counts
//! as absent.
//!
//! Speed: frames of the usual shapes (every value an escape-free string, `null`, small integer
//! or boolean, plus the `bids`/`asks`, `price_changes`, `assets_ids`/`outcomes` arrays; keys in
//! any order) are read by a hand-written byte scanner (`polymarket_fast.rs`) that matches the
//! compact `{"price":"…","size":"…"}` level as literal bytes and parses the decimals straight to
//! micro-units; it fills the same intermediate event and runs the same conversion as the serde
//! path below, so its events are identical. On anything else — including every invalid frame —
//! it gives up and the frame is parsed again by serde_json, which produces the errors
//! described above.
//!
//! Serde path: one pass of serde_json over the frame with a hand-written map visitor that borrows
//! strings from the frame, converts `bids`/`asks` and `price_changes[]` entries while they are
//! read (no intermediate buffers, no `serde_json::Value`), and parses the common decimal shapes
//! without going through `i128`. Token and condition ids are memoized per thread (a 77-digit
//! uint256 parse costs more than the rest of a `price_change`).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;

use polyedge_core::book::GRID_MICROS;
use polyedge_core::event::{
    BestBidAsk, BookDelta, BookSnapshot, LastTrade, Level, MarketResolved, NewMarket,
    TickSizeChange,
};
use polyedge_core::{
    BookSide, ConditionId, DecimalError, EventKind, IdError, MarketEvent, Price, Side, Size,
    TokenId, UnixNanos,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::ParseError;

#[path = "polymarket_fast.rs"]
mod fast;
#[path = "polymarket_hot.rs"]
mod hot;

/// Parses one raw market-channel frame and appends its events to `out`.
///
/// `recv_ns` (ns since the Unix epoch) becomes every event's `recv_ns`; `venue_ns` is the
/// event's `timestamp` (epoch ms) when present. Returns the number of events appended.
/// Empty (all-whitespace) frames, the `PONG` heartbeat answer and an empty JSON array append
/// nothing and return `Ok(0)`. Unknown elements of an array-wrapped frame are skipped and added
/// to this thread's [`skipped_elements`] total (see the module docs); [`parse_with_skips`] reports
/// them per frame instead.
///
/// # Errors
/// Nothing is appended on error.
/// - [`ParseError::Json`]: not valid JSON (truncated, bad syntax, trailing bytes), a frame that
///   is not an object or array, an array none of whose elements is an object, a duplicate key,
///   or an item of a nested array (`bids[i]`, `price_changes[i]`) that is not an object.
/// - [`ParseError::MissingField`]: a required top-level field (`event_type`, `asset_id`,
///   `market`, …) is absent. Absent fields inside `price_changes[i]` / `bids[i]` and in events of
///   an array-wrapped frame are reported as [`ParseError::BadField`] with the full path instead.
/// - [`ParseError::UnknownEvent`]: an `event_type` this parser does not know, when the frame has
///   no known event (the first unknown type is named).
/// - [`ParseError::BadField`]: a field of the wrong JSON type (e.g. a price given as an object or
///   a number) or with an unacceptable value: price outside `[0, 1]` or off the 0.0001 grid,
///   negative or over-precise size, malformed token/condition id, side other than `BUY`/`SELL`,
///   bad timestamp, `outcomes` not matching `assets_ids`. `field` is the dotted path.
pub fn parse(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let frame = frame.trim_ascii();
    if frame.is_empty() || frame.eq_ignore_ascii_case(b"PONG") {
        return Ok(0);
    }
    // The hot path (single objects, so nothing to skip) before any bookkeeping.
    if let Some(n) = hot::parse(frame, recv_ns, out) {
        return Ok(n);
    }
    let p = parse_cold(frame, recv_ns, out)?;
    if p.skipped > 0 {
        record_skips(&p);
    }
    Ok(p.events)
}

/// What one frame gave: events appended and unknown elements skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Events appended to `out`.
    pub events: usize,
    /// Elements of an array-wrapped frame skipped because their `event_type` is unknown or they
    /// are not JSON objects (see the module docs).
    pub skipped: u64,
    /// The first skipped element's `event_type`, if it had one.
    pub skipped_type: Option<String>,
}

impl Parsed {
    fn events(events: usize) -> Parsed {
        Parsed {
            events,
            ..Parsed::default()
        }
    }

    /// Counts one skipped element.
    fn skip(&mut self, event_type: Option<String>) {
        self.skipped += 1;
        if self.skipped_type.is_none() {
            self.skipped_type = event_type;
        }
    }
}

/// [`parse`], reporting the frame's skipped unknown elements in the result instead of adding
/// them to the per-thread total.
///
/// # Errors
/// As [`parse`].
pub fn parse_with_skips(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<Parsed, ParseError> {
    let frame = frame.trim_ascii();
    if frame.is_empty() || frame.eq_ignore_ascii_case(b"PONG") {
        return Ok(Parsed::default());
    }
    if let Some(n) = hot::parse(frame, recv_ns, out) {
        return Ok(Parsed::events(n));
    }
    parse_cold(frame, recv_ns, out)
}

/// A trimmed, non-empty frame the hot path did not take: the general fast path, then serde.
fn parse_cold(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<Parsed, ParseError> {
    // Validating UTF-8 once for the whole frame is cheaper than serde_json's per-string check.
    let frame = std::str::from_utf8(frame)
        .map_err(|e| ParseError::Json(format!("frame is not UTF-8: {e}")))?;
    if let Some(p) = fast::parse(frame, recv_ns, out) {
        return Ok(p);
    }
    parse_json(frame, recv_ns, out)
}

thread_local! {
    static SKIPPED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static LAST_SKIPPED_TYPE: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn record_skips(p: &Parsed) {
    SKIPPED.with(|c| c.set(c.get() + p.skipped));
    if let Some(t) = &p.skipped_type {
        LAST_SKIPPED_TYPE.with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                l.clone_from(&Some(t.clone()));
            }
        });
    }
}

/// Unknown elements that [`parse`] has skipped on this thread so far (a running total; see the
/// module docs). Read it just before and after a parse, on the same thread, and log the
/// difference with the stream's name, or read it periodically.
pub fn skipped_elements() -> u64 {
    SKIPPED.with(std::cell::Cell::get)
}

/// The `event_type` of the last unknown element [`parse`] skipped on this thread, if any had one.
pub fn last_skipped_type() -> Option<String> {
    LAST_SKIPPED_TYPE.with(|l| l.try_borrow().ok().and_then(|l| l.clone()))
}

/// [`parse`] without the hand-written fast path: every frame goes through serde_json. Same
/// contract and results as [`parse`] (it does not touch the per-thread skip total); exposed so
/// that tests can check the two against each other.
///
/// # Errors
/// As [`parse`].
#[doc(hidden)]
pub fn parse_serde(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    parse_serde_with_skips(frame, recv_ns, out).map(|p| p.events)
}

/// [`parse_with_skips`] without the hand-written fast path (for tests).
///
/// # Errors
/// As [`parse`].
#[doc(hidden)]
pub fn parse_serde_with_skips(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<Parsed, ParseError> {
    let frame = frame.trim_ascii();
    if frame.is_empty() || frame.eq_ignore_ascii_case(b"PONG") {
        return Ok(Parsed::default());
    }
    let frame = std::str::from_utf8(frame)
        .map_err(|e| ParseError::Json(format!("frame is not UTF-8: {e}")))?;
    parse_json(frame, recv_ns, out)
}

/// Only the hand-written paths of [`parse`] (hot path, then the general fast path): `Some(n)`
/// when they handled the frame (with the events [`parse`] gives), `None` when [`parse`] would
/// hand the frame to serde_json (nothing is appended then). Exposed so that tests can check how
/// much the fast paths cover.
#[doc(hidden)]
pub fn parse_fast_only(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Option<usize> {
    let frame = frame.trim_ascii();
    if frame.is_empty() || frame.eq_ignore_ascii_case(b"PONG") {
        return Some(0);
    }
    if let Some(n) = hot::parse(frame, recv_ns, out) {
        return Some(n);
    }
    fast::parse(std::str::from_utf8(frame).ok()?, recv_ns, out).map(|p| p.events)
}

/// Book levels the hot path of [`parse`] has read on the calling thread since it started, and
/// how many of them it copied from the same side's previous snapshot of the same token instead
/// of parsing them (a level written byte for byte as at the same index there). Exposed so that
/// tests can check that the copy happens; the events are the same either way.
#[doc(hidden)]
#[must_use]
pub fn level_memo_stats() -> (u64, u64) {
    hot::level_memo_stats()
}

/// Only the hot path of [`parse`] (single `book` and `price_change` objects): `Some(n)` when it
/// handled the frame (with the events [`parse`] gives), `None` otherwise (nothing appended).
/// Exposed so that tests can check it against the serde path and how much it covers.
#[doc(hidden)]
pub fn parse_hot_only(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Option<usize> {
    let frame = frame.trim_ascii();
    if frame.is_empty() {
        return None;
    }
    hot::parse(frame, recv_ns, out)
}

/// The serde_json path for a trimmed, non-empty, UTF-8 frame.
fn parse_json(
    frame: &str,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<Parsed, ParseError> {
    let before = out.len();
    let res = if frame.starts_with('[') {
        parse_array(frame, recv_ns, out)
    } else {
        // An unknown event is reported as such even when its fields would not parse.
        parse_object(frame, At::TOP, recv_ns, out)
            .map(|()| Parsed::default())
            .map_err(|e| match element(frame) {
                Element::Unknown(Some(t)) => ParseError::UnknownEvent(t),
                _ => e,
            })
    };
    match res {
        Ok(mut p) => {
            p.events = out.len() - before;
            Ok(p)
        }
        Err(e) => {
            out.truncate(before);
            Err(e)
        }
    }
}

/// One event object (`text` is the whole JSON value), converted and appended to `out`.
fn parse_object(
    text: &str,
    at: At,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<(), ParseError> {
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_str(text);
    EventSeed {
        at,
        recv_ns,
        out,
        failure: &mut failure,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    // A conversion error is smuggled through serde as a placeholder; report the real one.
    .map_err(|e| failure.unwrap_or_else(|| e.into()))
}

/// An array-wrapped frame: each element is classified first, so that an unknown one is skipped
/// whatever its fields hold (serde_json checks the whole array's syntax first).
fn parse_array(
    frame: &str,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<Parsed, ParseError> {
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(frame)?;
    let mut p = Parsed::default();
    let mut known = 0;
    for (i, item) in items.iter().enumerate() {
        let text = item.get();
        match element(text) {
            Element::Event => {
                let at = At {
                    item: Some(i),
                    list: None,
                };
                parse_object(text, at, recv_ns, out)?;
                known += 1;
            }
            Element::Unknown(event_type) => p.skip(event_type),
        }
    }
    if known == 0 && p.skipped > 0 {
        return Err(match p.skipped_type {
            Some(t) => ParseError::UnknownEvent(t),
            None => ParseError::Json(format!(
                "no market-channel event object in the array ({} elements of other JSON types)",
                p.skipped
            )),
        });
    }
    Ok(p)
}

/// What an element of an array-wrapped frame is.
enum Element {
    /// An object to parse as an event (a known or missing `event_type`; errors are reported
    /// by the parse).
    Event,
    /// Skipped: an object with this unknown `event_type`, or (`None`) not an object.
    Unknown(Option<String>),
}

/// The `event_type` values this parser knows.
const KNOWN_EVENTS: [&str; 7] = [
    "book",
    "price_change",
    "last_trade_price",
    "tick_size_change",
    "best_bid_ask",
    "new_market",
    "market_resolved",
];

fn element(text: &str) -> Element {
    /// Only the event type; every other field ignored.
    #[derive(Deserialize)]
    struct TypeOnly<'a> {
        #[serde(borrow, default)]
        event_type: Scalar<'a>,
    }
    if !text.starts_with('{') {
        return Element::Unknown(None);
    }
    match serde_json::from_str::<TypeOnly<'_>>(text) {
        Ok(t) => match t.event_type.as_str() {
            Some(name) if !KNOWN_EVENTS.contains(&name) => Element::Unknown(Some(name.to_owned())),
            _ => Element::Event,
        },
        // A duplicate `event_type`, say: the full parse reports it.
        Err(_) => Element::Event,
    }
}

// ---------------------------------------------------------------------------------------------
// Tolerant JSON building blocks (shared with the RTDS parser).
// ---------------------------------------------------------------------------------------------

/// A JSON scalar as sent: a (usually borrowed) string, a non-negative integer, or a note of the
/// JSON type found instead, so that a wrong type can be reported with the field's name rather
/// than as an anonymous serde error. `null` and absence are both [`Scalar::Absent`].
#[derive(Debug, Clone, Default)]
pub(crate) enum Scalar<'a> {
    /// Field absent or `null`.
    #[default]
    Absent,
    /// A JSON string without escapes, borrowed from the frame.
    Str(&'a str),
    /// A JSON string that contained escapes (rare), unescaped.
    Owned(Box<str>),
    /// A non-negative JSON integer.
    UInt(u64),
    /// Any other JSON value; the text names its type (`"an object"`, `"a boolean"`, …).
    Other(&'static str),
}

impl Scalar<'_> {
    /// `None` when absent/`null`.
    pub(crate) fn get(&self) -> Option<&Self> {
        match self {
            Scalar::Absent => None,
            v => Some(v),
        }
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            Scalar::Owned(s) => Some(s),
            _ => None,
        }
    }

    /// What kind of JSON value this was, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Scalar::Absent => "null",
            Scalar::Str(_) | Scalar::Owned(_) => "a string",
            Scalar::UInt(_) => "a number",
            Scalar::Other(k) => k,
        }
    }
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON string or number")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Owned(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Scalar::Other("a negative number"), Scalar::UInt))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other("a non-integer number"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Absent)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Absent)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("an array"))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("an object"))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

/// Values that can stand for "a JSON value of the wrong type was here".
trait Wrong {
    fn wrong(kind: &'static str) -> Self;
}

/// Implements every `visit_*` method except `visit_seq` as "wrong JSON type": the value is
/// consumed and `Ok(Wrong::wrong(kind))` returned.
macro_rules! wrong_unless_seq {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Wrong::wrong("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Wrong::wrong("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Wrong::wrong("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Wrong::wrong("a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Wrong::wrong("a string"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Wrong::wrong("null"))
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Wrong::wrong("an object"))
        }
    };
}

/// A JSON array of `T`, or a note of the JSON type found instead.
#[derive(Debug)]
pub(crate) enum Seq<T> {
    /// The array's items.
    Items(Vec<T>),
    /// Not an array; the text names the JSON type.
    Other(&'static str),
}

impl<T> Wrong for Seq<T> {
    fn wrong(kind: &'static str) -> Self {
        Seq::Other(kind)
    }
}

struct SeqVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
    type Value = Seq<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(256));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Seq::Items(items))
    }
    wrong_unless_seq!();
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SeqVisitor(PhantomData))
    }
}

/// Fast path for the common decimal shapes (`"0.53"`, `"12584.58"`, `"7"`): at most 13 integer
/// digits and 6 decimals, no sign, to micro-units. `None` ⇒ let the general (exact, error
/// reporting) parser decide.
fn quick_micros(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let dot = b.iter().position(|&c| c == b'.').unwrap_or(b.len());
    let (int, frac) = (&b[..dot], b.get(dot + 1..).unwrap_or(&[]));
    if int.is_empty() || int.len() > 13 || frac.len() > 6 || (dot < b.len() && frac.is_empty()) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in int.iter().chain(frac) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    for _ in frac.len()..6 {
        v *= 10;
    }
    Some(v)
}

// ---------------------------------------------------------------------------------------------
// Wire structs.
// ---------------------------------------------------------------------------------------------

/// Every field any market-channel event may carry; which are required depends on `event_type`.
/// Unknown fields (`event_message`, `tags`, `spread`, …) are skipped.
#[derive(Default)]
struct RawEvent<'a> {
    event_type: Scalar<'a>,
    asset_id: Scalar<'a>,
    market: Scalar<'a>,
    timestamp: Scalar<'a>,
    // book
    hash: Scalar<'a>,
    bids: Option<Levels>,
    asks: Option<Levels>,
    tick_size: Scalar<'a>,
    last_trade_price: Scalar<'a>,
    // price_change (current): entries already converted into `out`
    price_changes: Option<Changes>,
    // price_change (legacy), last_trade_price
    price: Scalar<'a>,
    side: Scalar<'a>,
    size: Scalar<'a>,
    fee_rate_bps: Scalar<'a>,
    // tick_size_change
    old_tick_size: Scalar<'a>,
    new_tick_size: Scalar<'a>,
    // best_bid_ask (+ legacy price_change)
    best_bid: Scalar<'a>,
    best_ask: Scalar<'a>,
    best_bid_size: Scalar<'a>,
    best_ask_size: Scalar<'a>,
    // new_market, market_resolved
    id: Scalar<'a>,
    question: Scalar<'a>,
    slug: Scalar<'a>,
    condition_id: Scalar<'a>,
    assets_ids: Option<Seq<Scalar<'a>>>,
    outcomes: Option<Seq<Scalar<'a>>>,
    winning_asset_id: Scalar<'a>,
    winning_outcome: Scalar<'a>,
}

/// The keys [`RawEvent`] knows.
#[derive(Clone, Copy)]
enum Key {
    EventType,
    AssetId,
    Market,
    Timestamp,
    Hash,
    Bids,
    Asks,
    TickSize,
    LastTradePrice,
    PriceChanges,
    Price,
    Side,
    Size,
    FeeRateBps,
    OldTickSize,
    NewTickSize,
    BestBid,
    BestAsk,
    BestBidSize,
    BestAskSize,
    Id,
    Question,
    Slug,
    ConditionId,
    AssetsIds,
    Outcomes,
    WinningAssetId,
    WinningOutcome,
    Other,
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key::from_name(v))
    }
}

impl Key {
    /// The key named `v` ([`Key::Other`] for names [`RawEvent`] does not know).
    fn from_name(v: &str) -> Key {
        match v {
            "event_type" => Key::EventType,
            "asset_id" => Key::AssetId,
            "market" => Key::Market,
            "timestamp" => Key::Timestamp,
            "hash" => Key::Hash,
            "bids" => Key::Bids,
            "asks" => Key::Asks,
            "tick_size" => Key::TickSize,
            "last_trade_price" => Key::LastTradePrice,
            "price_changes" => Key::PriceChanges,
            "price" => Key::Price,
            "side" => Key::Side,
            "size" => Key::Size,
            "fee_rate_bps" => Key::FeeRateBps,
            "old_tick_size" => Key::OldTickSize,
            "new_tick_size" => Key::NewTickSize,
            "best_bid" => Key::BestBid,
            "best_ask" => Key::BestAsk,
            "best_bid_size" => Key::BestBidSize,
            "best_ask_size" => Key::BestAskSize,
            "id" => Key::Id,
            "question" => Key::Question,
            "slug" => Key::Slug,
            "condition_id" => Key::ConditionId,
            "assets_ids" => Key::AssetsIds,
            "outcomes" => Key::Outcomes,
            "winning_asset_id" => Key::WinningAssetId,
            "winning_outcome" => Key::WinningOutcome,
            _ => Key::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Reads one event object, converts it and appends its events to `out`.
struct EventSeed<'o> {
    at: At,
    recv_ns: UnixNanos,
    out: &'o mut Vec<MarketEvent>,
    /// Where a conversion error is left for [`parse`] (serde only carries its own error type).
    failure: &'o mut Option<ParseError>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// Stores a scalar field, refusing duplicates.
fn put<'de, M: MapAccess<'de>>(
    slot: &mut Scalar<'de>,
    map: &mut M,
    name: &'static str,
) -> Result<(), M::Error> {
    if !matches!(slot, Scalar::Absent) {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = map.next_value()?;
    Ok(())
}

/// Stores a structured field, refusing duplicates.
fn put_opt<'de, M: MapAccess<'de>, T: Deserialize<'de>>(
    slot: &mut Option<T>,
    map: &mut M,
    name: &'static str,
) -> Result<(), M::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a market-channel event object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let start = self.out.len();
        let mut ev = RawEvent::default();
        while let Some(key) = map.next_key::<Key>()? {
            let m = &mut map;
            match key {
                Key::EventType => put(&mut ev.event_type, m, "event_type")?,
                Key::AssetId => put(&mut ev.asset_id, m, "asset_id")?,
                Key::Market => put(&mut ev.market, m, "market")?,
                Key::Timestamp => put(&mut ev.timestamp, m, "timestamp")?,
                Key::Hash => put(&mut ev.hash, m, "hash")?,
                Key::Bids => put_opt(&mut ev.bids, m, "bids")?,
                Key::Asks => put_opt(&mut ev.asks, m, "asks")?,
                Key::TickSize => put(&mut ev.tick_size, m, "tick_size")?,
                Key::LastTradePrice => put(&mut ev.last_trade_price, m, "last_trade_price")?,
                Key::PriceChanges => {
                    if ev.price_changes.is_some() {
                        return Err(de::Error::duplicate_field("price_changes"));
                    }
                    ev.price_changes = Some(map.next_value_seed(ChangesSeed {
                        at: self.at,
                        recv_ns: self.recv_ns,
                        out: &mut *self.out,
                    })?);
                }
                Key::Price => put(&mut ev.price, m, "price")?,
                Key::Side => put(&mut ev.side, m, "side")?,
                Key::Size => put(&mut ev.size, m, "size")?,
                Key::FeeRateBps => put(&mut ev.fee_rate_bps, m, "fee_rate_bps")?,
                Key::OldTickSize => put(&mut ev.old_tick_size, m, "old_tick_size")?,
                Key::NewTickSize => put(&mut ev.new_tick_size, m, "new_tick_size")?,
                Key::BestBid => put(&mut ev.best_bid, m, "best_bid")?,
                Key::BestAsk => put(&mut ev.best_ask, m, "best_ask")?,
                Key::BestBidSize => put(&mut ev.best_bid_size, m, "best_bid_size")?,
                Key::BestAskSize => put(&mut ev.best_ask_size, m, "best_ask_size")?,
                Key::Id => put(&mut ev.id, m, "id")?,
                Key::Question => put(&mut ev.question, m, "question")?,
                Key::Slug => put(&mut ev.slug, m, "slug")?,
                Key::ConditionId => put(&mut ev.condition_id, m, "condition_id")?,
                Key::AssetsIds => put_opt(&mut ev.assets_ids, m, "assets_ids")?,
                Key::Outcomes => put_opt(&mut ev.outcomes, m, "outcomes")?,
                Key::WinningAssetId => put(&mut ev.winning_asset_id, m, "winning_asset_id")?,
                Key::WinningOutcome => put(&mut ev.winning_outcome, m, "winning_outcome")?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        convert(&mut ev, self.at, self.recv_ns, start, self.out).map_err(|e| {
            *self.failure = Some(e);
            de::Error::custom("invalid event")
        })
    }
}

/// One `price_changes[]` entry as sent.
#[derive(Deserialize, Default)]
#[serde(default, expecting = "a price change object")]
struct RawChange<'a> {
    #[serde(borrow)]
    asset_id: Scalar<'a>,
    #[serde(borrow)]
    price: Scalar<'a>,
    #[serde(borrow)]
    size: Scalar<'a>,
    #[serde(borrow)]
    side: Scalar<'a>,
    #[serde(borrow)]
    best_bid: Scalar<'a>,
    #[serde(borrow)]
    best_ask: Scalar<'a>,
}

/// `price_changes[]` after reading: its entries were appended to `out` (from `start`) as
/// [`BookDelta`]s whose `market` and `venue_ns` are filled in once the whole object is read.
struct Changes {
    start: usize,
    /// The first bad entry (with its full path), or the array itself being of the wrong type.
    error: Option<ParseError>,
}

struct ChangesSeed<'o> {
    at: At,
    recv_ns: UnixNanos,
    out: &'o mut Vec<MarketEvent>,
}

impl<'de> DeserializeSeed<'de> for ChangesSeed<'_> {
    type Value = Changes;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Changes, D::Error> {
        d.deserialize_any(self)
    }
}

impl ChangesSeed<'_> {
    fn wrong(self, kind: &'static str) -> Changes {
        Changes {
            start: self.out.len(),
            error: Some(
                self.at
                    .bad("price_changes", format!("expected an array, got {kind}")),
            ),
        }
    }
}

impl<'de> Visitor<'de> for ChangesSeed<'_> {
    type Value = Changes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of price changes")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Changes, S::Error> {
        let start = self.out.len();
        let mut error = None;
        let mut i = 0;
        while let Some(c) = seq.next_element::<RawChange<'de>>()? {
            if error.is_none() {
                match delta(&c, self.at.in_list("price_changes", i)) {
                    Ok(d) => self.out.push(MarketEvent {
                        recv_ns: self.recv_ns,
                        venue_ns: None,
                        kind: EventKind::BookDelta(d),
                    }),
                    Err(e) => error = Some(e),
                }
            }
            i += 1;
        }
        Ok(Changes { start, error })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Changes, E> {
        Ok(self.wrong("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Changes, E> {
        Ok(self.wrong("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Changes, E> {
        Ok(self.wrong("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Changes, E> {
        Ok(self.wrong("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Changes, E> {
        Ok(self.wrong("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Changes, E> {
        Ok(self.wrong("null"))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Changes, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.wrong("an object"))
    }
}

/// One `{price, size}` level as sent.
#[derive(Deserialize, Default)]
#[serde(default, expecting = "a {price, size} level object")]
struct RawLevel<'a> {
    #[serde(borrow)]
    price: Scalar<'a>,
    #[serde(borrow)]
    size: Scalar<'a>,
}

/// A `bids`/`asks` array converted to [`Level`]s while it is read (one allocation), reversed to
/// best-first at the end. The first bad level is remembered, not thrown, so that the error can
/// name the side and index.
struct Levels {
    levels: Vec<Level>,
    error: Option<LevelError>,
}

struct LevelError {
    /// Index on the wire; `None` when the whole field had the wrong JSON type.
    index: Option<usize>,
    /// `"price"`, `"size"`, or `""` for the field itself.
    field: &'static str,
    reason: String,
}

impl Wrong for Levels {
    fn wrong(kind: &'static str) -> Self {
        Levels {
            levels: Vec::new(),
            error: Some(LevelError {
                index: None,
                field: "",
                reason: format!("expected an array of {{price, size}} levels, got {kind}"),
            }),
        }
    }
}

struct LevelsVisitor;

impl<'de> Visitor<'de> for LevelsVisitor {
    type Value = Levels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of {price, size} levels")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Levels, S::Error> {
        let mut levels = Vec::with_capacity(seq.size_hint().unwrap_or(64).min(1024));
        let mut error = None;
        let mut index = 0;
        while let Some(raw) = seq.next_element::<RawLevel<'de>>()? {
            if error.is_none() {
                match level(&raw) {
                    Ok(l) => levels.push(l),
                    Err((field, reason)) => {
                        error = Some(LevelError {
                            index: Some(index),
                            field,
                            reason,
                        });
                    }
                }
            }
            index += 1;
        }
        levels.reverse();
        Ok(Levels { levels, error })
    }
    wrong_unless_seq!();
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LevelsVisitor)
    }
}

fn level(raw: &RawLevel<'_>) -> Result<Level, (&'static str, String)> {
    let price = match &raw.price {
        Scalar::Absent => return Err(("price", MISSING.to_owned())),
        v => match v.as_str() {
            Some(s) => parse_price(s).map_err(|r| ("price", r))?,
            None => return Err(("price", expected_string(v))),
        },
    };
    let size = match &raw.size {
        Scalar::Absent => return Err(("size", MISSING.to_owned())),
        v => match v.as_str() {
            Some(s) => parse_size(s).map_err(|r| ("size", r))?,
            None => return Err(("size", expected_string(v))),
        },
    };
    Ok(Level { price, size })
}

// ---------------------------------------------------------------------------------------------
// Field validation.
// ---------------------------------------------------------------------------------------------

const MISSING: &str = "required field is missing";

fn expected_string(v: &Scalar<'_>) -> String {
    format!("expected a decimal string, got {}", v.kind())
}

/// A price: decimal string in `[0, 1]` on the 0.0001 grid. The error is the reason text.
fn parse_price(text: &str) -> Result<Price, String> {
    if let Some(m) = quick_micros(text)
        && m <= 1_000_000
        && m % u64::from(GRID_MICROS) == 0
    {
        // m ≤ 1e6 fits u32.
        #[allow(clippy::cast_possible_truncation)]
        return Price::from_micros(m as u32).map_err(|e| e.to_string());
    }
    match Price::parse(text) {
        Ok(p) if p.micros().is_multiple_of(GRID_MICROS) => Ok(p),
        Ok(_) | Err(DecimalError::TooPrecise { .. }) => {
            Err(format!("price {text:?} is off the venue's 0.0001 grid"))
        }
        Err(DecimalError::OutOfRange { .. }) => Err(format!("price {text:?} is outside [0, 1]")),
        Err(e) => Err(e.to_string()),
    }
}

/// A size: non-negative decimal string with at most 6 decimals.
fn parse_size(text: &str) -> Result<Size, String> {
    if let Some(m) = quick_micros(text)
        && m <= fast::SIZE_MAX_MICROS
    {
        return Ok(Size::from_micros(m));
    }
    Size::parse(text).map_err(|e| {
        if text.trim_start().starts_with('-') && matches!(e, DecimalError::OutOfRange { .. }) {
            format!("size {text:?} is negative")
        } else {
            e.to_string()
        }
    })
}

/// Epoch milliseconds as a string of digits.
fn parse_millis(text: &str) -> Result<UnixNanos, DecimalError> {
    let b = text.as_bytes();
    // At most 13 digits: 10^13 ms in ns still fits a u64 (longer strings take the checked path).
    if !b.is_empty() && b.len() <= 13 && b.iter().all(u8::is_ascii_digit) {
        let ms = b.iter().fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
        return Ok(UnixNanos::from_millis(ms));
    }
    UnixNanos::parse_millis(text)
}

/// Where a field sits in the frame, to name it in errors.
#[derive(Clone, Copy)]
struct At {
    /// Index of the event in an array-wrapped frame.
    item: Option<usize>,
    /// Enclosing list and index, e.g. `("price_changes", 1)`.
    list: Option<(&'static str, usize)>,
}

impl At {
    const TOP: At = At {
        item: None,
        list: None,
    };

    fn in_list(self, name: &'static str, index: usize) -> At {
        At {
            item: self.item,
            list: Some((name, index)),
        }
    }

    fn path(self, field: &str) -> String {
        let mut s = String::new();
        if let Some(i) = self.item {
            let _ = write!(s, "[{i}]");
            if self.list.is_some() || !field.is_empty() {
                s.push('.');
            }
        }
        if let Some((name, j)) = self.list {
            let _ = write!(s, "{name}[{j}]");
            if !field.is_empty() {
                s.push('.');
            }
        }
        s.push_str(field);
        s
    }

    fn bad(self, field: &str, reason: impl fmt::Display) -> ParseError {
        ParseError::bad(self.path(field), reason)
    }

    /// [`ParseError::MissingField`] when the bare field name is the whole path, else a
    /// [`ParseError::BadField`] carrying the full path.
    fn missing(self, field: &'static str) -> ParseError {
        if self.item.is_none() && self.list.is_none() {
            ParseError::MissingField(field)
        } else {
            self.bad(field, MISSING)
        }
    }

    fn req<'r, 'a>(
        self,
        v: &'r Scalar<'a>,
        field: &'static str,
    ) -> Result<&'r Scalar<'a>, ParseError> {
        v.get().ok_or_else(|| self.missing(field))
    }

    /// The string value of a required field.
    fn req_str<'r>(self, v: &'r Scalar<'_>, field: &'static str) -> Result<&'r str, ParseError> {
        let v = self.req(v, field)?;
        v.as_str()
            .ok_or_else(|| self.bad(field, format!("expected a string, got {}", v.kind())))
    }

    /// An optional string field.
    fn opt_str<'r>(
        self,
        v: &'r Scalar<'_>,
        field: &'static str,
    ) -> Result<Option<&'r str>, ParseError> {
        match v {
            Scalar::Absent => Ok(None),
            _ => self.req_str(v, field).map(Some),
        }
    }

    /// A string or integer identifier (`id`), as text.
    fn req_id(self, v: &Scalar<'_>, field: &'static str) -> Result<String, ParseError> {
        match self.req(v, field)? {
            Scalar::UInt(n) => Ok(n.to_string()),
            v => v.as_str().map(str::to_owned).ok_or_else(|| {
                self.bad(
                    field,
                    format!("expected a string or integer, got {}", v.kind()),
                )
            }),
        }
    }

    fn price(self, v: &Scalar<'_>, field: &'static str) -> Result<Price, ParseError> {
        let v = self.req(v, field)?;
        match v.as_str() {
            Some(s) => parse_price(s).map_err(|r| self.bad(field, r)),
            None => Err(self.bad(field, expected_string(v))),
        }
    }

    /// An optional price: absent, `null` or `""` ⇒ `None`.
    fn opt_price(self, v: &Scalar<'_>, field: &'static str) -> Result<Option<Price>, ParseError> {
        match v {
            Scalar::Absent => Ok(None),
            v if v.as_str() == Some("") => Ok(None),
            v => self.price(v, field).map(Some),
        }
    }

    fn size(self, v: &Scalar<'_>, field: &'static str) -> Result<Size, ParseError> {
        let v = self.req(v, field)?;
        match v.as_str() {
            Some(s) => parse_size(s).map_err(|r| self.bad(field, r)),
            None => Err(self.bad(field, expected_string(v))),
        }
    }

    /// An optional size: absent, `null` or `""` ⇒ `None`.
    fn opt_size(self, v: &Scalar<'_>, field: &'static str) -> Result<Option<Size>, ParseError> {
        match v {
            Scalar::Absent => Ok(None),
            v if v.as_str() == Some("") => Ok(None),
            v => self.size(v, field).map(Some),
        }
    }

    fn token(self, v: &Scalar<'_>, field: &'static str) -> Result<TokenId, ParseError> {
        let s = self.req_str(v, field)?;
        cached_token(s).map_err(|e| self.bad(field, e))
    }

    fn condition(self, v: &Scalar<'_>, field: &'static str) -> Result<ConditionId, ParseError> {
        let s = self.req_str(v, field)?;
        cached_condition(s).map_err(|e| self.bad(field, e))
    }

    /// `BUY`/`SELL` (any case).
    fn side(self, v: &Scalar<'_>, field: &'static str) -> Result<Side, ParseError> {
        let s = self.req_str(v, field)?;
        if s.eq_ignore_ascii_case("BUY") {
            Ok(Side::Buy)
        } else if s.eq_ignore_ascii_case("SELL") {
            Ok(Side::Sell)
        } else {
            Err(self.bad(field, format!("side {s:?} is neither BUY nor SELL")))
        }
    }

    /// Optional epoch milliseconds (string or integer) to nanoseconds.
    fn opt_millis(
        self,
        v: &Scalar<'_>,
        field: &'static str,
    ) -> Result<Option<UnixNanos>, ParseError> {
        match v {
            Scalar::Absent => Ok(None),
            Scalar::UInt(ms) => ms
                .checked_mul(UnixNanos::PER_MS)
                .map(|ns| Some(UnixNanos(ns)))
                .ok_or_else(|| self.bad(field, format!("{ms} ms is out of range"))),
            v => match v.as_str() {
                Some(s) => parse_millis(s).map(Some).map_err(|e| self.bad(field, e)),
                None => Err(self.bad(
                    field,
                    format!("expected epoch milliseconds, got {}", v.kind()),
                )),
            },
        }
    }

    fn list_of<'r, T>(
        self,
        v: Option<&'r Seq<T>>,
        field: &'static str,
    ) -> Result<&'r [T], ParseError> {
        match v {
            None => Err(self.missing(field)),
            Some(Seq::Items(items)) => Ok(items),
            Some(Seq::Other(kind)) => {
                Err(self.bad(field, format!("expected an array, got {kind}")))
            }
        }
    }

    fn tokens(
        self,
        v: Option<&Seq<Scalar<'_>>>,
        field: &'static str,
    ) -> Result<Vec<TokenId>, ParseError> {
        let items = self.list_of(v, field)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = self.in_list(field, i);
            let s = at.req_str(item, "")?;
            out.push(cached_token(s).map_err(|e| at.bad("", e))?);
        }
        Ok(out)
    }

    fn strings(
        self,
        v: Option<&Seq<Scalar<'_>>>,
        field: &'static str,
    ) -> Result<Vec<String>, ParseError> {
        let items = self.list_of(v, field)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(self.in_list(field, i).req_str(item, "")?.to_owned());
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Id caches: a connection sees the same few ids over and over, and parsing a 77-digit uint256
// costs more than the rest of a `price_change`.
// ---------------------------------------------------------------------------------------------

const CACHE_SLOTS: usize = 8;

struct IdCache<T: Copy> {
    slots: [Option<(Box<str>, T)>; CACHE_SLOTS],
    next: usize,
}

impl<T: Copy> IdCache<T> {
    const fn new() -> Self {
        IdCache {
            slots: [const { None }; CACHE_SLOTS],
            next: 0,
        }
    }

    fn get_or<E>(&mut self, text: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, E> {
        for (key, value) in self.slots.iter().flatten() {
            if **key == *text {
                return Ok(*value);
            }
        }
        let value = parse(text)?;
        self.slots[self.next] = Some((text.into(), value));
        self.next = (self.next + 1) % CACHE_SLOTS;
        Ok(value)
    }
}

impl<T: Copy> IdCache<T> {
    /// The value of the cached id that `b` holds at `i`, closed by a quote right after it, and
    /// the index after that quote. Cached ids are valid ids (digits or `0x` + hex), so such a
    /// string has no escapes and is exactly the cached text.
    #[inline]
    fn probe(&self, b: &[u8], i: usize) -> Option<(T, usize)> {
        let rest = b.get(i..)?;
        for (key, value) in self.slots.iter().flatten() {
            let k = key.as_bytes();
            if rest.get(k.len()) == Some(&b'"') && rest.starts_with(k) {
                return Some((*value, i + k.len() + 1));
            }
        }
        None
    }

    /// [`probe`](Self::probe), else the ASCII string at `i` parsed (and cached): the value and
    /// the index after the closing quote. `None` if there is no such string or it does not parse.
    fn at<E>(
        &mut self,
        b: &[u8],
        i: usize,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<(T, usize)> {
        if let Some(hit) = self.probe(b, i) {
            return Some(hit);
        }
        let end = fast::string_end::<true>(b, i)?;
        if b.get(end) != Some(&b'"') {
            return None;
        }
        let text = std::str::from_utf8(b.get(i..end)?).ok()?;
        let value = self.get_or(text, parse).ok()?;
        Some((value, end + 1))
    }
}

thread_local! {
    static TOKENS: RefCell<IdCache<TokenId>> = const { RefCell::new(IdCache::new()) };
    static CONDITIONS: RefCell<IdCache<ConditionId>> = const { RefCell::new(IdCache::new()) };
}

/// [`TokenId::parse`] memoized in a small per-thread cache of recently seen ids.
pub(crate) fn cached_token(text: &str) -> Result<TokenId, IdError> {
    TOKENS.with(|c| match c.try_borrow_mut() {
        Ok(mut cache) => cache.get_or(text, TokenId::parse),
        Err(_) => TokenId::parse(text),
    })
}

/// The token id string whose body starts at `b[i]` (after the opening quote), through the
/// per-thread cache: the id and the index after the closing quote. `None` if the string is not
/// an escape-free ASCII string or not a valid token id.
fn token_at(b: &[u8], i: usize) -> Option<(TokenId, usize)> {
    TOKENS.with(|c| c.try_borrow_mut().ok()?.at(b, i, TokenId::parse))
}

/// As [`token_at`], for a condition id.
fn condition_at(b: &[u8], i: usize) -> Option<(ConditionId, usize)> {
    CONDITIONS.with(|c| c.try_borrow_mut().ok()?.at(b, i, ConditionId::parse))
}

/// [`ConditionId::parse`] memoized in a small per-thread cache of recently seen ids.
pub(crate) fn cached_condition(text: &str) -> Result<ConditionId, IdError> {
    CONDITIONS.with(|c| match c.try_borrow_mut() {
        Ok(mut cache) => cache.get_or(text, ConditionId::parse),
        Err(_) => ConditionId::parse(text),
    })
}

// ---------------------------------------------------------------------------------------------
// Events.
// ---------------------------------------------------------------------------------------------

/// A `price_changes[]` entry; `market` is filled in by [`convert`].
fn delta(c: &RawChange<'_>, at: At) -> Result<BookDelta, ParseError> {
    Ok(BookDelta {
        market: ConditionId::default(),
        token: at.token(&c.asset_id, "asset_id")?,
        side: book_side(at.side(&c.side, "side")?),
        price: at.price(&c.price, "price")?,
        size: at.size(&c.size, "size")?,
        best_bid: at.opt_price(&c.best_bid, "best_bid")?,
        best_ask: at.opt_price(&c.best_ask, "best_ask")?,
    })
}

/// Turns one read event into [`MarketEvent`]s. `out[start..]` already holds the converted
/// `price_changes[]` entries, if the object had any.
fn convert(
    ev: &mut RawEvent<'_>,
    at: At,
    recv_ns: UnixNanos,
    start: usize,
    out: &mut Vec<MarketEvent>,
) -> Result<(), ParseError> {
    let kind = at.req_str(&ev.event_type, "event_type")?;
    // An unknown event is reported as such whatever its other fields hold.
    if !KNOWN_EVENTS.contains(&kind) {
        return Err(ParseError::UnknownEvent(kind.to_owned()));
    }
    let venue_ns = at.opt_millis(&ev.timestamp, "timestamp")?;
    if kind == "price_change"
        && let Some(changes) = ev.price_changes.take()
    {
        if let Some(e) = changes.error {
            return Err(e);
        }
        let market = at.condition(&ev.market, "market")?;
        for e in &mut out[changes.start..] {
            e.venue_ns = venue_ns;
            if let EventKind::BookDelta(d) = &mut e.kind {
                d.market = market;
            }
        }
        return Ok(());
    }
    // Entries of a stray `price_changes` field of another event type are not events.
    out.truncate(start);
    let kind = match kind {
        // Legacy (pre-Sept-2025) single-level schema: the level's fields at the top level.
        "price_change" if ev.asset_id.get().is_some() || ev.price.get().is_some() => {
            EventKind::BookDelta(BookDelta {
                market: at.condition(&ev.market, "market")?,
                token: at.token(&ev.asset_id, "asset_id")?,
                side: book_side(at.side(&ev.side, "side")?),
                price: at.price(&ev.price, "price")?,
                size: at.size(&ev.size, "size")?,
                best_bid: at.opt_price(&ev.best_bid, "best_bid")?,
                best_ask: at.opt_price(&ev.best_ask, "best_ask")?,
            })
        }
        "price_change" => return Err(at.missing("price_changes")),
        "book" => EventKind::Book(BookSnapshot {
            market: at.condition(&ev.market, "market")?,
            token: at.token(&ev.asset_id, "asset_id")?,
            bids: levels(ev.bids.take(), at, "bids")?,
            asks: levels(ev.asks.take(), at, "asks")?,
            hash: at.opt_str(&ev.hash, "hash")?.map(str::to_owned),
            tick_size: at.opt_price(&ev.tick_size, "tick_size")?,
            last_trade_price: at.opt_price(&ev.last_trade_price, "last_trade_price")?,
        }),
        "last_trade_price" => EventKind::LastTrade(LastTrade {
            market: at.condition(&ev.market, "market")?,
            token: at.token(&ev.asset_id, "asset_id")?,
            price: at.price(&ev.price, "price")?,
            size: at.size(&ev.size, "size")?,
            taker_side: at.side(&ev.side, "side")?,
            fee_rate_bps: fee_rate(&ev.fee_rate_bps, at)?,
        }),
        "best_bid_ask" => EventKind::BestBidAsk(BestBidAsk {
            market: match at.opt_str(&ev.market, "market")? {
                None | Some("") => None,
                Some(_) => Some(at.condition(&ev.market, "market")?),
            },
            token: at.token(&ev.asset_id, "asset_id")?,
            bid: at.opt_price(&ev.best_bid, "best_bid")?,
            ask: at.opt_price(&ev.best_ask, "best_ask")?,
            bid_size: at.opt_size(&ev.best_bid_size, "best_bid_size")?,
            ask_size: at.opt_size(&ev.best_ask_size, "best_ask_size")?,
        }),
        "tick_size_change" => EventKind::TickSizeChange(TickSizeChange {
            market: at.condition(&ev.market, "market")?,
            token: at.token(&ev.asset_id, "asset_id")?,
            old_tick: at.price(&ev.old_tick_size, "old_tick_size")?,
            new_tick: at.price(&ev.new_tick_size, "new_tick_size")?,
        }),
        "new_market" => new_market(ev, at)?,
        "market_resolved" => {
            at.req_id(&ev.id, "id")?;
            at.req(&ev.timestamp, "timestamp")?;
            let market = at.condition(&ev.market, "market")?;
            at.tokens(ev.assets_ids.as_ref(), "assets_ids")?;
            EventKind::MarketResolved(MarketResolved {
                market,
                winning_token: at.token(&ev.winning_asset_id, "winning_asset_id")?,
                winning_outcome: at
                    .req_str(&ev.winning_outcome, "winning_outcome")?
                    .to_owned(),
            })
        }
        other => return Err(ParseError::UnknownEvent(other.to_owned())),
    };
    out.push(MarketEvent {
        recv_ns,
        venue_ns,
        kind,
    });
    Ok(())
}

fn new_market(ev: &RawEvent<'_>, at: At) -> Result<EventKind, ParseError> {
    // `market` is the condition id; newer frames repeat it as `condition_id`.
    let market = if ev.market.get().is_none() && ev.condition_id.get().is_some() {
        at.condition(&ev.condition_id, "condition_id")?
    } else {
        at.condition(&ev.market, "market")?
    };
    let tokens = at.tokens(ev.assets_ids.as_ref(), "assets_ids")?;
    let outcomes = at.strings(ev.outcomes.as_ref(), "outcomes")?;
    if outcomes.len() != tokens.len() {
        return Err(at.bad(
            "outcomes",
            format!(
                "{} outcomes for {} assets_ids",
                outcomes.len(),
                tokens.len()
            ),
        ));
    }
    Ok(EventKind::NewMarket(NewMarket {
        market,
        slug: at.req_str(&ev.slug, "slug")?.to_owned(),
        question: at
            .opt_str(&ev.question, "question")?
            .unwrap_or("")
            .to_owned(),
        tokens,
        outcomes,
    }))
}

fn book_side(side: Side) -> BookSide {
    match side {
        Side::Buy => BookSide::Bid,
        Side::Sell => BookSide::Ask,
    }
}

fn fee_rate(v: &Scalar<'_>, at: At) -> Result<Option<u32>, ParseError> {
    const FIELD: &str = "fee_rate_bps";
    match v {
        Scalar::Absent => Ok(None),
        Scalar::UInt(n) => u32::try_from(*n)
            .map(Some)
            .map_err(|_| at.bad(FIELD, format!("{n} is out of range"))),
        v => match v.as_str() {
            Some("") => Ok(None),
            Some(s) => s.parse::<u32>().map(Some).map_err(|_| {
                at.bad(
                    FIELD,
                    format!("{s:?} is not a whole number of basis points"),
                )
            }),
            None => Err(at.bad(FIELD, format!("expected a string, got {}", v.kind()))),
        },
    }
}

fn levels(v: Option<Levels>, at: At, side: &'static str) -> Result<Vec<Level>, ParseError> {
    let l = v.ok_or_else(|| at.missing(side))?;
    match l.error {
        None => Ok(l.levels),
        Some(e) => {
            let path = match e.index {
                None => at.path(side),
                Some(i) => at.in_list(side, i).path(e.field),
            };
            Err(ParseError::bad(path, e.reason))
        }
    }
}
