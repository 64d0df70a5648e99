//! Binance parsers: spot and USDⓈ-M futures WebSocket streams (raw or combined-stream wrapped),
//! plus the REST responses used to sync books and backfill (protocols.md §8.1).
//!
//! | payload | event |
//! |---|---|
//! | `trade`, `aggTrade` | [`EventKind::SpotTrade`]; `m = true` ⇒ buyer was maker ⇒ taker **sold** |
//! | `bookTicker` (spot: no `e`, detected by keys `u,s,b,B,a,A`) | [`EventKind::SpotQuote`] |
//! | `depthUpdate` | [`EventKind::SpotDepth`] diff (`U`, `u`, `pu`) |
//! | `{lastUpdateId,bids,asks}` (spot `@depth<N>`) | [`EventKind::SpotDepth`] snapshot |
//! | `kline` | [`EventKind::Kline`] |
//! | `forceOrder` (USD-M) | [`EventKind::Liquidation`] |
//! | `markPriceUpdate` (USD-M) | [`EventKind::MarkPrice`] |
//! | `{"result":…,"id":…}`, `serverShutdown` | nothing (`Ok(0)`) |
//! | `{"error":{code,msg}}` / `{code,msg,id}` | [`ParseError::VenueError`] |
//!
//! `venue_ns` is the event time `E` (milliseconds; falls back to the trade/transaction time `T`
//! where the payload has no `E`); spot `bookTicker` and spot partial depth carry no time, so it is
//! `None` there. Timestamps are taken as milliseconds: a connection opened with
//! `timeUnit=MICROSECOND` must not be fed to these parsers (such values overflow and are rejected).
//!
//! Prices and quantities are decimal strings parsed straight to [`Fixed18`]; negative values are
//! rejected. Unknown keys (`st`, `ps`, `M`, `X`, …) are ignored.
//!
//! Forward compatibility ([`crate::unknown`]): an event type (`e`) this parser does not know —
//! including the USD-M-only `forceOrder`/`markPriceUpdate` on a spot stream — is skipped and
//! counted, not an error. A frame that is a JSON array (the `…@arr` streams batch events) is
//! parsed element by element: known events are kept, unknown ones (and elements that are not
//! objects) skipped and counted.
//!
//! USD-M partial depth (`@depth<5|10|20>`) has the same shape as a diff; it is reported as a
//! snapshot only when the combined-stream wrapper names the stream (raw `/ws/…@depth20` frames
//! cannot be told apart from diffs and come out as diffs).
//!
//! Performance: `aggTrade`, `trade`, `bookTicker` and `depthUpdate` first take a typed fast path
//! (borrowed `&str` fields, levels parsed straight into `SpotLevel`s, no `serde_json::Value`);
//! anything it does not accept goes through the generic path, which names the bad field.

use polyedge_core::event::{
    EventKind, Kline, Liquidation, MarkPrice, SpotDepth, SpotQuote, SpotTrade, Venue,
};
use polyedge_core::{Fixed18, MarketEvent, Side, Symbol, UnixNanos};
use serde::Deserialize;

use crate::ParseError;
use crate::error::id_err;
use json::{RawField, Scalar, each_row, levels, ms_to_ns, non_neg, signed, symbol, utf8};

/// Shared JSON helpers for the spot-venue parsers (Binance, Coinbase, Deribit).
///
/// Fields are read as [`Scalar`]s (any JSON value, strings borrowed from the frame) or
/// [`RawField`]s (the raw text of a nested value, parsed later), so that a value of the wrong type
/// never fails inside serde: the parser reports it itself, naming the field.
pub(crate) mod json {
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    use polyedge_core::event::SpotLevel;
    use polyedge_core::{Fixed18, Side, Symbol, UnixNanos};
    use serde::Deserialize;
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    use crate::ParseError;
    use crate::error::{field_err, id_err};

    /// One JSON value as far as a parser needs it: scalars are kept (strings borrowed when they
    /// have no escapes), arrays and objects are skipped and only their kind is kept.
    #[derive(Debug, Default)]
    pub(crate) enum Scalar<'a> {
        /// The key was not in the object.
        #[default]
        Absent,
        /// `null`.
        Null,
        /// `true` / `false`.
        Bool(bool),
        /// A non-negative integer that fits `u64`.
        U64(u64),
        /// A negative integer.
        Neg(i64),
        /// A number with a fraction or exponent, or an integer too large for `u64`.
        Float,
        /// A string.
        Str(Cow<'a, str>),
        /// An array (contents skipped).
        Array,
        /// An object (contents skipped).
        Object,
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ScalarVisitor(PhantomData))
        }
    }

    struct ScalarVisitor<'a>(PhantomData<&'a ()>);

    impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
        type Value = Scalar<'a>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Bool(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
            Ok(Scalar::U64(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
            Ok(u64::try_from(v).map_or(Scalar::Neg(v), Scalar::U64))
        }
        fn visit_f64<E>(self, _v: f64) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Float)
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E>(self, v: String) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Str(Cow::Owned(v)))
        }
        fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Null)
        }
        fn visit_none<E>(self) -> Result<Scalar<'a>, E> {
            Ok(Scalar::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'a>, D::Error> {
            Scalar::deserialize(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Scalar::Array)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Scalar::Object)
        }
    }

    impl Scalar<'_> {
        /// `true` when the key was not present.
        pub(crate) fn is_absent(&self) -> bool {
            matches!(self, Scalar::Absent)
        }

        /// What kind of JSON value this is, for error messages.
        pub(crate) fn describe(&self) -> String {
            match self {
                Scalar::Absent => "nothing".into(),
                Scalar::Null => "null".into(),
                Scalar::Bool(b) => format!("boolean `{b}`"),
                Scalar::U64(v) => format!("integer `{v}`"),
                Scalar::Neg(v) => format!("integer `{v}`"),
                Scalar::Float => "a non-integer number".into(),
                Scalar::Str(s) => format!("string {:?}", clip(s)),
                Scalar::Array => "an array".into(),
                Scalar::Object => "an object".into(),
            }
        }

        /// A required string.
        pub(crate) fn str(&self, field: &'static str) -> Result<&str, ParseError> {
            match self {
                Scalar::Str(s) => Ok(s),
                Scalar::Absent => Err(ParseError::MissingField(field)),
                other => Err(type_err(field, "a string", other)),
            }
        }

        /// An optional string (`null` counts as absent).
        pub(crate) fn opt_str(&self, field: &'static str) -> Result<Option<&str>, ParseError> {
            match self {
                Scalar::Absent | Scalar::Null => Ok(None),
                other => other.str(field).map(Some),
            }
        }

        /// A required non-negative integer.
        pub(crate) fn u64(&self, field: &'static str) -> Result<u64, ParseError> {
            match self {
                Scalar::U64(v) => Ok(*v),
                Scalar::Neg(v) => Err(ParseError::bad(field, format!("{v} is negative"))),
                Scalar::Float => Err(ParseError::bad(
                    field,
                    "not an integer in 0..=18446744073709551615",
                )),
                Scalar::Absent => Err(ParseError::MissingField(field)),
                other => Err(type_err(field, "an integer", other)),
            }
        }

        /// An optional non-negative integer (`null` counts as absent).
        pub(crate) fn opt_u64(&self, field: &'static str) -> Result<Option<u64>, ParseError> {
            match self {
                Scalar::Absent | Scalar::Null => Ok(None),
                other => other.u64(field).map(Some),
            }
        }

        /// A required boolean.
        pub(crate) fn bool(&self, field: &'static str) -> Result<bool, ParseError> {
            match self {
                Scalar::Bool(b) => Ok(*b),
                Scalar::Absent => Err(ParseError::MissingField(field)),
                other => Err(type_err(field, "a boolean", other)),
            }
        }

        /// An id that may be sent as an integer or as a string: `Some` when it is a non-negative
        /// integer (or a string of one), `None` when absent, null or non-numeric text.
        pub(crate) fn numeric_id(&self, field: &'static str) -> Result<Option<u64>, ParseError> {
            match self {
                Scalar::U64(v) => Ok(Some(*v)),
                Scalar::Str(s) => Ok(s.parse::<u64>().ok()),
                Scalar::Absent | Scalar::Null => Ok(None),
                Scalar::Neg(v) => Err(ParseError::bad(field, format!("{v} is negative"))),
                other => Err(type_err(field, "an integer or a string", other)),
            }
        }
    }

    fn clip(s: &str) -> String {
        s.chars().take(64).collect()
    }

    /// A [`ParseError::Json`] for a value of the wrong JSON type.
    pub(crate) fn type_err(field: &str, expected: &str, got: &Scalar<'_>) -> ParseError {
        ParseError::Json(format!(
            "field `{field}`: expected {expected}, found {}",
            got.describe()
        ))
    }

    /// The raw JSON text of a nested value, parsed later by the handler that knows its shape.
    /// Unlike `Option<&RawValue>`, an explicit `null` is kept (as the text `null`).
    #[derive(Debug, Default, Clone, Copy)]
    pub(crate) struct RawField<'a>(pub(crate) Option<&'a RawValue>);

    impl<'de: 'a, 'a> Deserialize<'de> for RawField<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            <&'a RawValue>::deserialize(d).map(|r| RawField(Some(r)))
        }
    }

    impl<'a> RawField<'a> {
        /// `true` when the key was present.
        pub(crate) fn is_present(self) -> bool {
            self.0.is_some()
        }

        /// The raw value, or [`ParseError::MissingField`].
        pub(crate) fn get(self, field: &'static str) -> Result<&'a RawValue, ParseError> {
            self.0.ok_or(ParseError::MissingField(field))
        }

        /// The value read as a [`Scalar`] (absent → [`Scalar::Absent`]).
        pub(crate) fn scalar(self, field: &'static str) -> Result<Scalar<'a>, ParseError> {
            match self.0 {
                None => Ok(Scalar::Absent),
                Some(raw) => from_raw(raw, field),
            }
        }

        /// The value deserialized as `T` (an object struct); absent → missing field.
        pub(crate) fn parse<T: Deserialize<'a>>(
            self,
            field: &'static str,
        ) -> Result<T, ParseError> {
            from_raw(self.get(field)?, field)
        }
    }

    /// Deserializes a nested raw value, naming the field in the error.
    pub(crate) fn from_raw<'a, T: Deserialize<'a>>(
        raw: &'a RawValue,
        field: &'static str,
    ) -> Result<T, ParseError> {
        serde_json::from_str(raw.get())
            .map_err(|e| ParseError::Json(format!("field `{field}`: {e}")))
    }

    /// The frame as UTF-8 text.
    pub(crate) fn utf8(frame: &[u8]) -> Result<&str, ParseError> {
        std::str::from_utf8(frame).map_err(|e| ParseError::Json(format!("frame is not UTF-8: {e}")))
    }

    /// Calls `f(row, index)` for each element of the JSON array `raw`, deserializing rows one at a
    /// time (no intermediate vector). Returns the number of rows. An error from `f` is returned
    /// as is, with the last `[]` of its field name filled with the row index.
    pub(crate) fn each_row<'a, R, F>(
        raw: &'a RawValue,
        field: &'static str,
        f: F,
    ) -> Result<usize, ParseError>
    where
        R: Deserialize<'a>,
        F: FnMut(R, usize) -> Result<(), ParseError>,
    {
        struct Rows<'s, R, F> {
            f: F,
            err: &'s mut Option<ParseError>,
            row: PhantomData<R>,
        }
        impl<'de, R, F> Visitor<'de> for Rows<'_, R, F>
        where
            R: Deserialize<'de>,
            F: FnMut(R, usize) -> Result<(), ParseError>,
        {
            type Value = usize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<usize, A::Error> {
                let mut i = 0;
                while let Some(row) = seq.next_element::<R>()? {
                    if let Err(e) = (self.f)(row, i) {
                        *self.err = Some(at_index(e, i));
                        return Err(de::Error::custom("row rejected"));
                    }
                    i += 1;
                }
                Ok(i)
            }
        }
        let mut err = None;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let res = de.deserialize_seq(Rows {
            f,
            err: &mut err,
            row: PhantomData,
        });
        res.map_err(|e| {
            err.take()
                .unwrap_or_else(|| ParseError::Json(format!("field `{field}`: {e}")))
        })
    }

    /// Fills the last `[]` in a field name (or JSON error message) with `i`.
    pub(crate) fn at_index(e: ParseError, i: usize) -> ParseError {
        fn fill(s: &str, i: usize) -> String {
            match s.rfind("[]") {
                Some(p) => format!("{}[{i}]{}", &s[..p], &s[p + 2..]),
                None => s.to_owned(),
            }
        }
        match e {
            ParseError::BadField { field, reason } => ParseError::BadField {
                field: fill(&field, i),
                reason,
            },
            ParseError::Json(m) => ParseError::Json(fill(&m, i)),
            other => other,
        }
    }

    /// Names of a level list and of its price and quantity columns, for errors.
    pub(crate) type LevelNames = (&'static str, &'static str, &'static str);

    /// Reads `[[price, qty], …]` (decimal strings, non-negative) into [`SpotLevel`]s.
    pub(crate) fn levels(raw: &RawValue, names: LevelNames) -> Result<Vec<SpotLevel>, ParseError> {
        let mut v = Vec::new();
        each_row(raw, names.0, |(p, q): (Scalar<'_>, Scalar<'_>), _| {
            v.push(SpotLevel {
                price: non_neg(&p, names.1)?,
                qty: non_neg(&q, names.2)?,
            });
            Ok(())
        })?;
        Ok(v)
    }

    /// A decimal-string field as [`Fixed18`], any sign.
    pub(crate) fn signed(s: &Scalar<'_>, field: &'static str) -> Result<Fixed18, ParseError> {
        Fixed18::parse(s.str(field)?).map_err(field_err(field))
    }

    /// A decimal-string field as a non-negative [`Fixed18`].
    pub(crate) fn non_neg(s: &Scalar<'_>, field: &'static str) -> Result<Fixed18, ParseError> {
        let text = s.str(field)?;
        let v = Fixed18::parse(text).map_err(field_err(field))?;
        if v.0 < 0 {
            return Err(ParseError::bad(
                field,
                format!("{:?} is negative", clip(text)),
            ));
        }
        Ok(v)
    }

    /// Milliseconds since the epoch → [`UnixNanos`], rejecting overflow.
    pub(crate) fn ms_to_ns(ms: u64, field: &'static str) -> Result<UnixNanos, ParseError> {
        ms.checked_mul(UnixNanos::PER_MS)
            .map(UnixNanos)
            .ok_or_else(|| ParseError::bad(field, format!("{ms} ms does not fit u64 nanoseconds")))
    }

    /// A string field as a [`Symbol`].
    pub(crate) fn symbol(s: &Scalar<'_>, field: &'static str) -> Result<Symbol, ParseError> {
        Symbol::new(s.str(field)?).map_err(id_err(field))
    }

    /// `buy`/`sell` in any case → [`Side`].
    pub(crate) fn side_word(text: &str, field: &'static str) -> Result<Side, ParseError> {
        if text.eq_ignore_ascii_case("buy") {
            Ok(Side::Buy)
        } else if text.eq_ignore_ascii_case("sell") {
            Ok(Side::Sell)
        } else {
            Err(ParseError::bad(
                field,
                format!("{:?} is not buy or sell", clip(text)),
            ))
        }
    }

    /// The opposite side (maker side → taker side).
    pub(crate) const fn opposite(side: Side) -> Side {
        match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Runs a multi-event parser and guarantees that nothing stays appended when it fails.
    pub(crate) fn guarded(
        out: &mut Vec<polyedge_core::MarketEvent>,
        f: impl FnOnce(&mut Vec<polyedge_core::MarketEvent>) -> Result<usize, ParseError>,
    ) -> Result<usize, ParseError> {
        let before = out.len();
        let res = f(out);
        if res.is_err() {
            out.truncate(before);
        }
        res
    }
}

/// Every key any Binance stream payload (or REST depth response) uses that the parser reads.
/// Keys whose type differs between events (`a`, `b`, `k`, `o`) are kept raw.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Frame<'a> {
    #[serde(borrow)]
    e: Scalar<'a>,
    #[serde(borrow, rename = "E")]
    event_time: Scalar<'a>,
    #[serde(borrow, rename = "T")]
    time: Scalar<'a>,
    #[serde(borrow)]
    s: Scalar<'a>,
    #[serde(borrow)]
    p: Scalar<'a>,
    #[serde(borrow)]
    q: Scalar<'a>,
    #[serde(borrow)]
    t: Scalar<'a>,
    #[serde(borrow)]
    m: Scalar<'a>,
    #[serde(borrow)]
    a: RawField<'a>,
    #[serde(borrow)]
    b: RawField<'a>,
    #[serde(borrow, rename = "A")]
    ask_qty: Scalar<'a>,
    #[serde(borrow, rename = "B")]
    bid_qty: Scalar<'a>,
    #[serde(borrow, rename = "U")]
    first_id: Scalar<'a>,
    #[serde(borrow)]
    u: Scalar<'a>,
    #[serde(borrow)]
    pu: Scalar<'a>,
    #[serde(borrow)]
    i: Scalar<'a>,
    #[serde(borrow)]
    r: Scalar<'a>,
    #[serde(borrow)]
    k: RawField<'a>,
    #[serde(borrow)]
    o: RawField<'a>,
    #[serde(borrow, rename = "lastUpdateId")]
    last_update_id: Scalar<'a>,
    #[serde(borrow)]
    bids: RawField<'a>,
    #[serde(borrow)]
    asks: RawField<'a>,
    #[serde(borrow)]
    stream: Scalar<'a>,
    #[serde(borrow)]
    data: RawField<'a>,
    #[serde(borrow)]
    result: Scalar<'a>,
    #[serde(borrow)]
    error: RawField<'a>,
    #[serde(borrow)]
    code: Scalar<'a>,
    #[serde(borrow)]
    msg: Scalar<'a>,
}

/// The `k` object of a `kline` event.
#[derive(Deserialize, Default)]
#[serde(default)]
struct KlineFields<'a> {
    #[serde(borrow)]
    t: Scalar<'a>,
    #[serde(borrow, rename = "T")]
    close_time: Scalar<'a>,
    #[serde(borrow)]
    s: Scalar<'a>,
    #[serde(borrow)]
    o: Scalar<'a>,
    #[serde(borrow)]
    h: Scalar<'a>,
    #[serde(borrow)]
    l: Scalar<'a>,
    #[serde(borrow)]
    c: Scalar<'a>,
    #[serde(borrow)]
    v: Scalar<'a>,
    #[serde(borrow)]
    x: Scalar<'a>,
}

/// The `o` object of a `forceOrder` event.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ForceOrderFields<'a> {
    #[serde(borrow)]
    s: Scalar<'a>,
    #[serde(borrow, rename = "S")]
    side: Scalar<'a>,
    #[serde(borrow)]
    p: Scalar<'a>,
    #[serde(borrow)]
    ap: Scalar<'a>,
    #[serde(borrow)]
    q: Scalar<'a>,
    #[serde(borrow)]
    z: Scalar<'a>,
    #[serde(borrow, rename = "T")]
    time: Scalar<'a>,
}

/// `{"code":…, "msg":…}` of an error envelope.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorFields<'a> {
    #[serde(borrow)]
    code: Scalar<'a>,
    #[serde(borrow)]
    msg: Scalar<'a>,
}

/// Parses one raw Binance **spot** frame (raw stream payload or combined-stream wrapper):
/// `trade`, `aggTrade`, `bookTicker`, `depthUpdate`, partial depth, `kline`. Appends at most one
/// event (venue [`Venue::BinanceSpot`]) and returns how many it appended.
///
/// Subscription responses (`{"result":null,"id":1}`) and `serverShutdown` return `Ok(0)`; so does
/// an event type this parser does not know (including the USD-M-only `forceOrder` and
/// `markPriceUpdate`), counted in [`crate::unknown`]. A JSON array of events appends one event
/// per known element.
///
/// # Errors
/// [`ParseError::Json`] for invalid JSON or a field of the wrong JSON type,
/// [`ParseError::MissingField`] / [`ParseError::BadField`] for absent or invalid fields (negative
/// or malformed decimals, bad symbols), [`ParseError::VenueError`] for an error response.
/// Nothing is appended on error.
pub fn parse_spot(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    parse(frame, Venue::BinanceSpot, recv_ns, out)
}

/// Parses one raw Binance **USDⓈ-M futures** frame (raw stream payload or combined-stream
/// wrapper): `trade`, `aggTrade`, `bookTicker`, `depthUpdate`, `kline`, `forceOrder`,
/// `markPriceUpdate`. Appends at most one event (venue [`Venue::BinanceUsdm`]) and returns how
/// many it appended. A `depthUpdate` whose combined-stream name is a partial-depth stream
/// (`btcusdt@depth20@100ms`) is reported as a snapshot.
///
/// Subscription responses and `serverShutdown` return `Ok(0)`.
///
/// # Errors
/// As [`parse_spot`]. Nothing is appended on error.
pub fn parse_usdm(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    parse(frame, Venue::BinanceUsdm, recv_ns, out)
}

/// Tries the typed fast path, then the diagnosing path (which also handles everything else).
fn parse(
    frame: &[u8],
    venue: Venue,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let text = utf8(frame)?;
    if let Some((kind, venue_ns)) = hot::parse(text, venue) {
        out.push(MarketEvent {
            recv_ns,
            venue_ns,
            kind,
        });
        return Ok(1);
    }
    parse_frame(text, venue, recv_ns, out, None)
}

/// The fast path for the high-rate payloads (`aggTrade`, `trade`, `bookTicker`, `depthUpdate`,
/// raw or combined-stream wrapped): the event type is peeked from the first key, then the payload
/// is deserialized into a typed struct with borrowed `&str` fields and levels parsed straight into
/// [`SpotLevel`](polyedge_core::event::SpotLevel)s.
///
/// It returns `None` on anything unexpected — another key order, another event, a wrong type, a
/// bad or negative number, an escaped string — and the caller then runs the generic path, which
/// either accepts the frame the same way or reports exactly what is wrong. So the fast path never
/// decides an error; it only has to agree with the generic path on frames it accepts (checked by
/// the `hot_path_agrees` test).
mod hot {
    use std::fmt;

    use polyedge_core::event::{EventKind, SpotDepth, SpotLevel, SpotQuote, SpotTrade, Venue};
    use polyedge_core::{Fixed18, Symbol, UnixNanos};
    use serde::Deserialize;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    use super::{Built, is_partial_depth_stream, taker_from_buyer_is_maker};

    /// A tiny cursor for peeking at the first keys of a frame.
    struct Cursor<'a> {
        s: &'a str,
        i: usize,
    }

    impl<'a> Cursor<'a> {
        fn ws(&mut self) {
            while self
                .s
                .as_bytes()
                .get(self.i)
                .is_some_and(u8::is_ascii_whitespace)
            {
                self.i += 1;
            }
        }
        fn lit(&mut self, l: &str) -> Option<()> {
            self.ws();
            self.s
                .get(self.i..)?
                .starts_with(l)
                .then(|| self.i += l.len())
        }
        /// A string without escapes.
        fn string(&mut self) -> Option<&'a str> {
            self.lit("\"")?;
            let rest = self.s.get(self.i..)?;
            let end = rest.find('"')?;
            let v = rest.get(..end)?;
            if v.contains('\\') {
                return None;
            }
            self.i += end + 1;
            Some(v)
        }
        fn rest(&self) -> &'a str {
            self.s.get(self.i..).unwrap_or("")
        }
    }

    /// `{"stream":"<name>","data":<payload>}` → (name, payload text).
    fn split_combined(text: &str) -> Option<(&str, &str)> {
        let mut c = Cursor { s: text, i: 0 };
        c.lit("{")?;
        c.lit("\"stream\"")?;
        c.lit(":")?;
        let stream = c.string()?;
        c.lit(",")?;
        c.lit("\"data\"")?;
        c.lit(":")?;
        let data = c.rest().trim_end().strip_suffix('}')?;
        Some((stream, data))
    }

    enum Shape<'a> {
        Event(&'a str),
        /// An object whose first key is `u`: spot `bookTicker`.
        UFirst,
    }

    fn peek(text: &str) -> Option<Shape<'_>> {
        let mut c = Cursor { s: text, i: 0 };
        c.lit("{")?;
        if c.lit("\"u\"").is_some() {
            return Some(Shape::UFirst);
        }
        c.lit("\"e\"")?;
        c.lit(":")?;
        c.string().map(Shape::Event)
    }

    pub(super) fn parse(text: &str, venue: Venue) -> Option<Built> {
        let (stream, payload) = match split_combined(text) {
            Some((stream, data)) => (Some(stream), data),
            None => (None, text),
        };
        match peek(payload)? {
            Shape::Event("aggTrade") => trade(payload, venue, true),
            Shape::Event("trade") => trade(payload, venue, false),
            Shape::Event("bookTicker") | Shape::UFirst => book_ticker(payload, venue),
            Shape::Event("depthUpdate") => depth(payload, venue, stream),
            Shape::Event(_) => None,
        }
    }

    fn fixed(text: &str) -> Option<Fixed18> {
        Fixed18::parse(text).ok().filter(|v| v.0 >= 0)
    }

    /// A millisecond time that does not fit u64 nanoseconds.
    struct Overflow;

    /// `E`, else `T`, else none (ms → ns).
    fn venue_time(e: Option<u64>, t: Option<u64>) -> Result<Option<UnixNanos>, Overflow> {
        e.or(t)
            .map(|v| {
                v.checked_mul(UnixNanos::PER_MS)
                    .map(UnixNanos)
                    .ok_or(Overflow)
            })
            .transpose()
    }

    #[derive(Deserialize)]
    struct Trade<'a> {
        #[serde(rename = "E", default)]
        event_time: Option<u64>,
        #[serde(rename = "T", default)]
        time: Option<u64>,
        s: &'a str,
        p: &'a str,
        q: &'a str,
        m: bool,
        #[serde(default)]
        a: Option<u64>,
        #[serde(default)]
        t: Option<u64>,
    }

    fn trade(text: &str, venue: Venue, agg: bool) -> Option<Built> {
        let r: Trade<'_> = serde_json::from_str(text).ok()?;
        let t = SpotTrade {
            venue,
            symbol: Symbol::new(r.s).ok()?,
            price: fixed(r.p)?,
            qty: fixed(r.q)?,
            taker_side: Some(taker_from_buyer_is_maker(r.m)),
            trade_id: Some(if agg { r.a? } else { r.t? }),
        };
        Some((
            EventKind::SpotTrade(t),
            venue_time(r.event_time, r.time).ok()?,
        ))
    }

    #[derive(Deserialize)]
    struct BookTicker<'a> {
        #[serde(rename = "E", default)]
        event_time: Option<u64>,
        #[serde(rename = "T", default)]
        time: Option<u64>,
        u: u64,
        s: &'a str,
        b: &'a str,
        #[serde(rename = "B")]
        bid_qty: &'a str,
        a: &'a str,
        #[serde(rename = "A")]
        ask_qty: &'a str,
    }

    fn book_ticker(text: &str, venue: Venue) -> Option<Built> {
        let r: BookTicker<'_> = serde_json::from_str(text).ok()?;
        let q = SpotQuote {
            venue,
            symbol: Symbol::new(r.s).ok()?,
            bid: fixed(r.b)?,
            bid_qty: fixed(r.bid_qty)?,
            ask: fixed(r.a)?,
            ask_qty: fixed(r.ask_qty)?,
            update_id: Some(r.u),
        };
        Some((
            EventKind::SpotQuote(q),
            venue_time(r.event_time, r.time).ok()?,
        ))
    }

    /// `[[price, qty], …]` parsed straight into levels; any bad value fails the fast path.
    struct Levels(Vec<SpotLevel>);

    impl<'de> Deserialize<'de> for Levels {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Levels;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("price levels")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Levels, A::Error> {
                    let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                    while let Some((p, q)) = seq.next_element::<(&'de str, &'de str)>()? {
                        match (fixed(p), fixed(q)) {
                            (Some(price), Some(qty)) => v.push(SpotLevel { price, qty }),
                            _ => return Err(de::Error::custom("bad level")),
                        }
                    }
                    Ok(Levels(v))
                }
            }
            d.deserialize_seq(V)
        }
    }

    #[derive(Deserialize)]
    struct Depth<'a> {
        #[serde(rename = "E", default)]
        event_time: Option<u64>,
        #[serde(rename = "T", default)]
        time: Option<u64>,
        s: &'a str,
        #[serde(rename = "U")]
        first: u64,
        u: u64,
        #[serde(default)]
        pu: Option<u64>,
        b: Levels,
        a: Levels,
    }

    fn depth(text: &str, venue: Venue, stream: Option<&str>) -> Option<Built> {
        let r: Depth<'_> = serde_json::from_str(text).ok()?;
        let d = SpotDepth {
            venue,
            symbol: Some(Symbol::new(r.s).ok()?),
            is_snapshot: stream.is_some_and(is_partial_depth_stream),
            first_update_id: Some(r.first),
            last_update_id: Some(r.u),
            prev_update_id: r.pu,
            bids: r.b.0,
            asks: r.a.0,
        };
        Some((
            EventKind::SpotDepth(d),
            venue_time(r.event_time, r.time).ok()?,
        ))
    }
}

fn parse_frame(
    text: &str,
    venue: Venue,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
    stream: Option<&str>,
) -> Result<usize, ParseError> {
    if text.trim_start().starts_with('[') {
        // A batch (`!markPrice@arr`, `!miniTicker@arr`, …): one event per element.
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)?;
        let before = out.len();
        for item in items {
            if item.get().starts_with('{') {
                if let Err(e) = parse_frame(item.get(), venue, recv_ns, out, stream) {
                    out.truncate(before);
                    return Err(e);
                }
            } else {
                crate::unknown::note(|| {
                    format!(
                        "Binance batch element {}",
                        item.get().chars().take(40).collect::<String>()
                    )
                });
            }
        }
        return Ok(out.len() - before);
    }
    let f: Frame<'_> = serde_json::from_str(text)?;

    // A combined-stream wrapper: `data` and no event type of its own.
    if let (Some(data), true) = (f.data.0, f.e.is_absent()) {
        if stream.is_some() {
            return Err(ParseError::Json(
                "field `data`: nested combined-stream wrapper".into(),
            ));
        }
        let name = f.stream.str("stream")?;
        return parse_frame(data.get(), venue, recv_ns, out, Some(name));
    }

    let kind = match &f.e {
        Scalar::Str(e) => e.as_ref(),
        Scalar::Absent => return parse_untyped(&f, venue, recv_ns, out, stream),
        other => return Err(json::type_err("e", "a string", other)),
    };
    let event = match kind {
        "aggTrade" => {
            let id = f.a.scalar("a")?.u64("a")?;
            trade(&f, venue, id)?
        }
        "trade" => trade(&f, venue, f.t.u64("t")?)?,
        "bookTicker" => book_ticker(&f, venue)?,
        "depthUpdate" => depth_update(&f, venue, stream)?,
        "kline" => kline(&f, venue)?,
        "forceOrder" if venue == Venue::BinanceUsdm => force_order(&f, venue)?,
        "markPriceUpdate" if venue == Venue::BinanceUsdm => mark_price(&f, venue)?,
        "serverShutdown" => return Ok(0),
        other => {
            crate::unknown::note(|| format!("Binance event {other:?} on {venue:?}"));
            return Ok(0);
        }
    };
    out.push(MarketEvent {
        recv_ns,
        venue_ns: event.1,
        kind: event.0,
    });
    Ok(1)
}

type Built = (EventKind, Option<UnixNanos>);

/// Frames without `e`: responses, spot partial depth, spot `bookTicker`.
fn parse_untyped(
    f: &Frame<'_>,
    venue: Venue,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
    stream: Option<&str>,
) -> Result<usize, ParseError> {
    if let Some(err) = venue_error(f)? {
        return Err(err);
    }
    if !f.result.is_absent() {
        return Ok(0);
    }
    let event = if !f.last_update_id.is_absent() {
        let symbol = stream.map(stream_symbol).transpose()?;
        (
            EventKind::SpotDepth(depth_snapshot(f, venue, symbol)?),
            None,
        )
    } else if !f.u.is_absent()
        && !f.s.is_absent()
        && f.b.is_present()
        && !f.bid_qty.is_absent()
        && f.a.is_present()
        && !f.ask_qty.is_absent()
    {
        book_ticker(f, venue)?
    } else {
        return Err(ParseError::MissingField("e"));
    };
    out.push(MarketEvent {
        recv_ns,
        venue_ns: event.1,
        kind: event.0,
    });
    Ok(1)
}

/// `{"error":{"code","msg"}}` or top-level `{"code","msg"}` → the venue error.
fn venue_error(f: &Frame<'_>) -> Result<Option<ParseError>, ParseError> {
    let (code, msg) = if f.error.is_present() {
        let e: ErrorFields<'_> = f.error.parse("error")?;
        (
            describe_code(&e.code),
            e.msg.opt_str("error.msg")?.map(str::to_owned),
        )
    } else if !f.msg.is_absent() && !f.code.is_absent() {
        (
            describe_code(&f.code),
            f.msg.opt_str("msg")?.map(str::to_owned),
        )
    } else {
        return Ok(None);
    };
    Ok(Some(ParseError::VenueError(format!(
        "code {code}: {}",
        msg.unwrap_or_default()
    ))))
}

fn describe_code(code: &Scalar<'_>) -> String {
    match code {
        Scalar::U64(v) => v.to_string(),
        Scalar::Neg(v) => v.to_string(),
        Scalar::Str(s) => s.to_string(),
        other => other.describe(),
    }
}

/// `E` (ms), else `T` (ms), else `None`.
fn event_time(f: &Frame<'_>) -> Result<Option<UnixNanos>, ParseError> {
    if let Some(ms) = f.event_time.opt_u64("E")? {
        return ms_to_ns(ms, "E").map(Some);
    }
    f.time.opt_u64("T")?.map(|ms| ms_to_ns(ms, "T")).transpose()
}

/// `m = true` ⇒ the buyer was the maker ⇒ the taker sold.
const fn taker_from_buyer_is_maker(buyer_is_maker: bool) -> Side {
    if buyer_is_maker {
        Side::Sell
    } else {
        Side::Buy
    }
}

fn trade(f: &Frame<'_>, venue: Venue, trade_id: u64) -> Result<Built, ParseError> {
    let t = SpotTrade {
        venue,
        symbol: symbol(&f.s, "s")?,
        price: non_neg(&f.p, "p")?,
        qty: non_neg(&f.q, "q")?,
        taker_side: Some(taker_from_buyer_is_maker(f.m.bool("m")?)),
        trade_id: Some(trade_id),
    };
    Ok((EventKind::SpotTrade(t), event_time(f)?))
}

fn book_ticker(f: &Frame<'_>, venue: Venue) -> Result<Built, ParseError> {
    let q = SpotQuote {
        venue,
        symbol: symbol(&f.s, "s")?,
        bid: non_neg(&f.b.scalar("b")?, "b")?,
        bid_qty: non_neg(&f.bid_qty, "B")?,
        ask: non_neg(&f.a.scalar("a")?, "a")?,
        ask_qty: non_neg(&f.ask_qty, "A")?,
        update_id: Some(f.u.u64("u")?),
    };
    Ok((EventKind::SpotQuote(q), event_time(f)?))
}

fn depth_update(f: &Frame<'_>, venue: Venue, stream: Option<&str>) -> Result<Built, ParseError> {
    let d = SpotDepth {
        venue,
        symbol: Some(symbol(&f.s, "s")?),
        is_snapshot: stream.is_some_and(is_partial_depth_stream),
        first_update_id: Some(f.first_id.u64("U")?),
        last_update_id: Some(f.u.u64("u")?),
        prev_update_id: f.pu.opt_u64("pu")?,
        bids: levels(f.b.get("b")?, ("b", "b[].price", "b[].qty"))?,
        asks: levels(f.a.get("a")?, ("a", "a[].price", "a[].qty"))?,
    };
    Ok((EventKind::SpotDepth(d), event_time(f)?))
}

fn depth_snapshot(
    f: &Frame<'_>,
    venue: Venue,
    symbol: Option<Symbol>,
) -> Result<SpotDepth, ParseError> {
    Ok(SpotDepth {
        venue,
        symbol,
        is_snapshot: true,
        first_update_id: None,
        last_update_id: Some(f.last_update_id.u64("lastUpdateId")?),
        prev_update_id: None,
        bids: levels(f.bids.get("bids")?, ("bids", "bids[].price", "bids[].qty"))?,
        asks: levels(f.asks.get("asks")?, ("asks", "asks[].price", "asks[].qty"))?,
    })
}

fn kline(f: &Frame<'_>, venue: Venue) -> Result<Built, ParseError> {
    let k: KlineFields<'_> = f.k.parse("k")?;
    let sym = if k.s.is_absent() {
        symbol(&f.s, "s")?
    } else {
        symbol(&k.s, "k.s")?
    };
    let kl = Kline {
        venue,
        symbol: sym,
        open_time: ms_to_ns(k.t.u64("k.t")?, "k.t")?,
        close_time: ms_to_ns(k.close_time.u64("k.T")?, "k.T")?,
        open: non_neg(&k.o, "k.o")?,
        high: non_neg(&k.h, "k.h")?,
        low: non_neg(&k.l, "k.l")?,
        close: non_neg(&k.c, "k.c")?,
        volume: non_neg(&k.v, "k.v")?,
        closed: k.x.bool("k.x")?,
    };
    let venue_ns = f
        .event_time
        .opt_u64("E")?
        .map(|ms| ms_to_ns(ms, "E"))
        .transpose()?;
    Ok((EventKind::Kline(kl), venue_ns))
}

fn force_order(f: &Frame<'_>, venue: Venue) -> Result<Built, ParseError> {
    let o: ForceOrderFields<'_> = f.o.parse("o")?;
    let liq = Liquidation {
        venue,
        symbol: symbol(&o.s, "o.s")?,
        side: json::side_word(o.side.str("o.S")?, "o.S")?,
        price: non_neg(&o.p, "o.p")?,
        avg_price: non_neg(&o.ap, "o.ap")?,
        qty: non_neg(&o.q, "o.q")?,
        filled_qty: non_neg(&o.z, "o.z")?,
    };
    let venue_ns = match f.event_time.opt_u64("E")? {
        Some(ms) => Some(ms_to_ns(ms, "E")?),
        None => o
            .time
            .opt_u64("o.T")?
            .map(|ms| ms_to_ns(ms, "o.T"))
            .transpose()?,
    };
    Ok((EventKind::Liquidation(liq), venue_ns))
}

/// `markPriceUpdate`. An empty funding rate `r` (delivery contracts have no funding) reads as 0.
/// `venue_ns` is `E` only: `T` here is the next funding time, not an event time.
fn mark_price(f: &Frame<'_>, venue: Venue) -> Result<Built, ParseError> {
    let funding_rate = match &f.r {
        Scalar::Str(s) if s.is_empty() => Fixed18(0),
        other => signed(other, "r")?,
    };
    let mp = MarkPrice {
        venue,
        symbol: symbol(&f.s, "s")?,
        mark: non_neg(&f.p, "p")?,
        index: non_neg(&f.i, "i")?,
        funding_rate,
        next_funding: ms_to_ns(f.time.u64("T")?, "T")?,
    };
    let venue_ns = f
        .event_time
        .opt_u64("E")?
        .map(|ms| ms_to_ns(ms, "E"))
        .transpose()?;
    Ok((EventKind::MarkPrice(mp), venue_ns))
}

/// `btcusdt@depth20@100ms` → partial depth (a snapshot); `btcusdt@depth@100ms` → diff.
fn is_partial_depth_stream(stream: &str) -> bool {
    stream
        .split('@')
        .nth(1)
        .and_then(|s| s.strip_prefix("depth"))
        .is_some_and(|rest| rest.as_bytes().first().is_some_and(u8::is_ascii_digit))
}

/// The symbol part of a stream name (`btcusdt@depth20` → `BTCUSDT`), upper-cased to match the `s`
/// field of the same symbol's other events.
fn stream_symbol(stream: &str) -> Result<Symbol, ParseError> {
    let name = stream.split_once('@').map_or(stream, |(s, _)| s);
    let mut buf = [0u8; 23];
    match buf.get_mut(..name.len()) {
        Some(dst) if name.is_ascii() => {
            dst.copy_from_slice(name.as_bytes());
            dst.make_ascii_uppercase();
            let upper = std::str::from_utf8(dst).map_err(|e| ParseError::bad("stream", e))?;
            Symbol::new(upper).map_err(id_err("stream"))
        }
        _ => Symbol::new(name).map_err(id_err("stream")),
    }
}

// ---------------------------------------------------------------------------------------------
// REST responses
// ---------------------------------------------------------------------------------------------

/// Parses a spot `GET /api/v3/depth` response (`{lastUpdateId, bids, asks}`) into a
/// [`SpotDepth`] snapshot for `symbol` (venue [`Venue::BinanceSpot`]), used to sync a local book
/// from the diff stream. `venue_ns` is `None` (the response carries no time).
///
/// # Errors
/// [`ParseError::Json`] for invalid JSON or wrong types, [`ParseError::MissingField`] /
/// [`ParseError::BadField`] for absent or invalid fields (including a bad `symbol` argument,
/// reported as field `symbol`), [`ParseError::VenueError`] for a Binance `{code, msg}` error
/// body.
pub fn parse_rest_depth(
    body: &[u8],
    symbol: &str,
    recv_ns: UnixNanos,
) -> Result<MarketEvent, ParseError> {
    rest_depth(body, symbol, Venue::BinanceSpot, recv_ns)
}

/// Parses a USDⓈ-M `GET /fapi/v1/depth` response (`{lastUpdateId, E, T, bids, asks}`) into a
/// [`SpotDepth`] snapshot for `symbol` (venue [`Venue::BinanceUsdm`]); `venue_ns` is `E` (ms).
///
/// # Errors
/// As [`parse_rest_depth`].
pub fn parse_usdm_rest_depth(
    body: &[u8],
    symbol: &str,
    recv_ns: UnixNanos,
) -> Result<MarketEvent, ParseError> {
    rest_depth(body, symbol, Venue::BinanceUsdm, recv_ns)
}

fn rest_depth(
    body: &[u8],
    symbol: &str,
    venue: Venue,
    recv_ns: UnixNanos,
) -> Result<MarketEvent, ParseError> {
    let f: Frame<'_> = serde_json::from_str(utf8(body)?)?;
    if let Some(err) = venue_error(&f)? {
        return Err(err);
    }
    let sym = Symbol::new(symbol).map_err(id_err("symbol"))?;
    let depth = depth_snapshot(&f, venue, Some(sym))?;
    let venue_ns = f
        .event_time
        .opt_u64("E")?
        .map(|ms| ms_to_ns(ms, "E"))
        .transpose()?;
    Ok(MarketEvent {
        recv_ns,
        venue_ns,
        kind: EventKind::SpotDepth(depth),
    })
}

/// Parses a spot `GET /api/v3/klines` response (rows
/// `[openTime, "open", "high", "low", "close", "volume", closeTime, …]`, times in ms) into one
/// [`Kline`] per row for `symbol` (venue [`Venue::BinanceSpot`]), appended to `out` in row order.
/// Returns the number of rows. A row counts as `closed` when its close time is before `recv_ns`
/// (the last row of a response can be the candle still forming). `venue_ns` is `None`.
///
/// # Errors
/// [`ParseError::Json`] for invalid JSON, a body that is not an array, or wrong types;
/// [`ParseError::MissingField`] for a short row; [`ParseError::BadField`] for invalid values
/// (field named `[row].open` etc.); [`ParseError::VenueError`] for a `{code, msg}` error body.
/// Nothing is appended on error.
pub fn parse_rest_klines(
    body: &[u8],
    symbol: &str,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    json::guarded(out, |out| {
        rest_klines(body, symbol, Venue::BinanceSpot, recv_ns, out)
    })
}

/// As [`parse_rest_klines`] for a USDⓈ-M `GET /fapi/v1/klines` response (same row layout; venue
/// [`Venue::BinanceUsdm`]).
///
/// # Errors
/// As [`parse_rest_klines`]. Nothing is appended on error.
pub fn parse_usdm_rest_klines(
    body: &[u8],
    symbol: &str,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    json::guarded(out, |out| {
        rest_klines(body, symbol, Venue::BinanceUsdm, recv_ns, out)
    })
}

fn rest_klines(
    body: &[u8],
    symbol: &str,
    venue: Venue,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let raw = rest_array(utf8(body)?)?;
    let sym = Symbol::new(symbol).map_err(id_err("symbol"))?;
    each_row(raw, "klines", |row: Vec<Scalar<'_>>, _| {
        let col = |i: usize| row.get(i).unwrap_or(&Scalar::Absent);
        let close_time = ms_to_ns(col(6).u64("[].closeTime")?, "[].closeTime")?;
        let k = Kline {
            venue,
            symbol: sym,
            open_time: ms_to_ns(col(0).u64("[].openTime")?, "[].openTime")?,
            close_time,
            open: non_neg(col(1), "[].open")?,
            high: non_neg(col(2), "[].high")?,
            low: non_neg(col(3), "[].low")?,
            close: non_neg(col(4), "[].close")?,
            volume: non_neg(col(5), "[].volume")?,
            closed: close_time < recv_ns,
        };
        out.push(MarketEvent {
            recv_ns,
            venue_ns: None,
            kind: EventKind::Kline(k),
        });
        Ok(())
    })
}

/// One row of `GET /api/v3/aggTrades`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AggTradeRow<'a> {
    #[serde(borrow)]
    a: Scalar<'a>,
    #[serde(borrow)]
    p: Scalar<'a>,
    #[serde(borrow)]
    q: Scalar<'a>,
    #[serde(borrow, rename = "T")]
    time: Scalar<'a>,
    #[serde(borrow)]
    m: Scalar<'a>,
}

/// Parses a spot `GET /api/v3/aggTrades` response (`[{a,p,q,f,l,T,m,M}]`) into one
/// [`SpotTrade`] per row for `symbol` (venue [`Venue::BinanceSpot`], `trade_id` = aggregate id
/// `a`, taker side from `m`), `venue_ns` = `T` (ms). Returns the number of rows.
///
/// # Errors
/// As [`parse_rest_klines`] (fields named `[row].p` etc.). Nothing is appended on error.
pub fn parse_rest_agg_trades(
    body: &[u8],
    symbol: &str,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    json::guarded(out, |out| {
        let raw = rest_array(utf8(body)?)?;
        let sym = Symbol::new(symbol).map_err(id_err("symbol"))?;
        each_row(raw, "aggTrades", |r: AggTradeRow<'_>, _| {
            let t = SpotTrade {
                venue: Venue::BinanceSpot,
                symbol: sym,
                price: non_neg(&r.p, "[].p")?,
                qty: non_neg(&r.q, "[].q")?,
                taker_side: Some(taker_from_buyer_is_maker(r.m.bool("[].m")?)),
                trade_id: Some(r.a.u64("[].a")?),
            };
            out.push(MarketEvent {
                recv_ns,
                venue_ns: Some(ms_to_ns(r.time.u64("[].T")?, "[].T")?),
                kind: EventKind::SpotTrade(t),
            });
            Ok(())
        })
    })
}

/// One row of `GET /api/v3/trades`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TradeRow<'a> {
    #[serde(borrow)]
    id: Scalar<'a>,
    #[serde(borrow)]
    price: Scalar<'a>,
    #[serde(borrow)]
    qty: Scalar<'a>,
    #[serde(borrow)]
    time: Scalar<'a>,
    #[serde(borrow, rename = "isBuyerMaker")]
    is_buyer_maker: Scalar<'a>,
}

/// Parses a spot `GET /api/v3/trades` (or `historicalTrades`) response
/// (`[{id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch}]`) into one [`SpotTrade`] per
/// row for `symbol` (venue [`Venue::BinanceSpot`]), `venue_ns` = `time` (ms). Returns the number
/// of rows.
///
/// # Errors
/// As [`parse_rest_klines`] (fields named `[row].price` etc.). Nothing is appended on error.
pub fn parse_rest_trades(
    body: &[u8],
    symbol: &str,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    json::guarded(out, |out| {
        let raw = rest_array(utf8(body)?)?;
        let sym = Symbol::new(symbol).map_err(id_err("symbol"))?;
        each_row(raw, "trades", |r: TradeRow<'_>, _| {
            let t = SpotTrade {
                venue: Venue::BinanceSpot,
                symbol: sym,
                price: non_neg(&r.price, "[].price")?,
                qty: non_neg(&r.qty, "[].qty")?,
                taker_side: Some(taker_from_buyer_is_maker(
                    r.is_buyer_maker.bool("[].isBuyerMaker")?,
                )),
                trade_id: Some(r.id.u64("[].id")?),
            };
            out.push(MarketEvent {
                recv_ns,
                venue_ns: Some(ms_to_ns(r.time.u64("[].time")?, "[].time")?),
                kind: EventKind::SpotTrade(t),
            });
            Ok(())
        })
    })
}

/// One entry of `GET /api/v3/ticker/bookTicker`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct BookTickerRow<'a> {
    #[serde(borrow)]
    symbol: Scalar<'a>,
    #[serde(borrow, rename = "bidPrice")]
    bid_price: Scalar<'a>,
    #[serde(borrow, rename = "bidQty")]
    bid_qty: Scalar<'a>,
    #[serde(borrow, rename = "askPrice")]
    ask_price: Scalar<'a>,
    #[serde(borrow, rename = "askQty")]
    ask_qty: Scalar<'a>,
    #[serde(borrow)]
    code: Scalar<'a>,
    #[serde(borrow)]
    msg: Scalar<'a>,
}

/// Parses a spot `GET /api/v3/ticker/bookTicker` response — one object
/// `{symbol, bidPrice, bidQty, askPrice, askQty}` or an array of them — into one [`SpotQuote`]
/// per object (venue [`Venue::BinanceSpot`], `update_id` and `venue_ns` `None`). Returns the
/// number of quotes.
///
/// # Errors
/// As [`parse_rest_klines`] (fields named `symbol`, `bidPrice`, … or `[row].bidPrice`). Nothing
/// is appended on error.
pub fn parse_rest_book_ticker(
    body: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    fn quote(r: &BookTickerRow<'_>, in_array: bool) -> Result<SpotQuote, ParseError> {
        let n = |plain: &'static str, row: &'static str| if in_array { row } else { plain };
        Ok(SpotQuote {
            venue: Venue::BinanceSpot,
            symbol: symbol(&r.symbol, n("symbol", "[].symbol"))?,
            bid: non_neg(&r.bid_price, n("bidPrice", "[].bidPrice"))?,
            bid_qty: non_neg(&r.bid_qty, n("bidQty", "[].bidQty"))?,
            ask: non_neg(&r.ask_price, n("askPrice", "[].askPrice"))?,
            ask_qty: non_neg(&r.ask_qty, n("askQty", "[].askQty"))?,
            update_id: None,
        })
    }
    let push = |out: &mut Vec<MarketEvent>, q: SpotQuote| {
        out.push(MarketEvent {
            recv_ns,
            venue_ns: None,
            kind: EventKind::SpotQuote(q),
        });
    };
    json::guarded(out, |out| {
        let text = utf8(body)?;
        if text.trim_start().starts_with('[') {
            let raw: &serde_json::value::RawValue = serde_json::from_str(text)?;
            each_row(raw, "bookTicker", |r: BookTickerRow<'_>, _| {
                push(out, quote(&r, true)?);
                Ok(())
            })
        } else {
            let r: BookTickerRow<'_> = serde_json::from_str(text)?;
            if !r.code.is_absent() && !r.msg.is_absent() {
                return Err(ParseError::VenueError(format!(
                    "code {}: {}",
                    describe_code(&r.code),
                    r.msg.opt_str("msg")?.unwrap_or_default()
                )));
            }
            push(out, quote(&r, false)?);
            Ok(1)
        }
    })
}

/// A REST body that must be a JSON array; a `{code, msg}` object becomes the venue error.
fn rest_array(text: &str) -> Result<&serde_json::value::RawValue, ParseError> {
    let raw: &serde_json::value::RawValue = serde_json::from_str(text)?;
    if raw.get().trim_start().starts_with('{') {
        let e: ErrorFields<'_> = serde_json::from_str(raw.get())?;
        if !e.msg.is_absent() {
            return Err(ParseError::VenueError(format!(
                "code {}: {}",
                describe_code(&e.code),
                e.msg.opt_str("msg")?.unwrap_or_default()
            )));
        }
        return Err(ParseError::Json(
            "expected an array, found an object".into(),
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_depth_stream_names() {
        assert!(is_partial_depth_stream("btcusdt@depth20@100ms"));
        assert!(is_partial_depth_stream("btcusdt@depth5"));
        assert!(!is_partial_depth_stream("btcusdt@depth@100ms"));
        assert!(!is_partial_depth_stream("btcusdt@depth"));
        assert!(!is_partial_depth_stream("btcusdt@aggTrade"));
        assert!(!is_partial_depth_stream("btcusdt"));
    }

    #[test]
    fn stream_symbol_uppercases() {
        assert_eq!(
            stream_symbol("btcusdt@depth20").map(|s| s.to_string()),
            Ok("BTCUSDT".to_string())
        );
        assert!(stream_symbol("@depth20").is_err());
        assert!(stream_symbol("abcdefghijklmnopqrstuvwxyz@depth").is_err());
    }

    /// The fast path must produce exactly what the generic path produces, and must engage on
    /// the hot fixtures (pretty-printed or compact, raw or wrapped).
    #[test]
    fn hot_path_agrees() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/binance");
        let mut frames: Vec<(String, bool)> = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let hot = [
                "aggTrade",
                "agg_trade",
                "_trade_",
                "bookTicker",
                "book_ticker_stream",
                "depthUpdate",
                "depth_update",
                "combined",
            ]
            .iter()
            .any(|k| name.contains(k))
                && name.contains("_ws_") | name.starts_with("usdm");
            // Fixture strings hold no whitespace, so dropping it all keeps key order.
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            frames.push((compact, hot));
            frames.push((text, hot));
        }
        let depth = r#"{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1.5","0"]],"a":[]}"#;
        frames.push((depth.to_string(), true));
        frames.push((
            format!(r#"{{"stream":"btcusdt@depth20@100ms","data":{depth}}}"#),
            true,
        ));
        frames.push((
            format!(r#"{{"stream":"btcusdt@depth@100ms","data":{depth}}}"#),
            true,
        ));
        // Escapes, odd key order, wrong types: the fast path declines, the generic path decides.
        frames.push((
            r#"{"e":"aggTrade","E":1,"s":"BTC\u0055SDT","a":1,"p":"1","q":"1","T":1,"m":false}"#
                .into(),
            false,
        ));
        frames.push((
            r#"{"E":1,"e":"aggTrade","s":"BTCUSDT","a":1,"p":"1","q":"1","T":1,"m":false}"#.into(),
            false,
        ));
        frames.push((
            r#"{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"-1","q":"1","T":1,"m":false}"#.into(),
            false,
        ));
        frames.push((
            r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":false,"data":{}}"#
                .into(),
            true,
        ));
        let mut checked_hot = 0;
        for (text, hot) in &frames {
            for venue in [Venue::BinanceSpot, Venue::BinanceUsdm] {
                let fast = hot::parse(text, venue);
                assert_eq!(fast.is_some(), *hot, "{text}");
                let mut out = Vec::new();
                let slow = parse_frame(text, venue, UnixNanos(7), &mut out, None);
                if let Some((kind, venue_ns)) = fast {
                    assert_eq!(slow, Ok(1), "{text}");
                    assert_eq!(out[0].kind, kind, "{text}");
                    assert_eq!(out[0].venue_ns, venue_ns, "{text}");
                    checked_hot += 1;
                }
            }
        }
        assert!(checked_hot >= 20, "{checked_hot}");
    }

    #[test]
    fn index_filling() {
        let e = json::at_index(
            json::at_index(ParseError::bad("events[].trades[].price", "x"), 3),
            1,
        );
        assert_eq!(e, ParseError::bad("events[1].trades[3].price", "x"));
    }
}
