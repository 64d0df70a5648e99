//! Parser for Polymarket **RTDS** (`wss://ws-live-data.polymarket.com`, protocols.md §7.1): the
//! reference prices relayed by Polymarket.
//!
//! Envelope `{"topic", "type", "timestamp" (send time, ms), "payload"}` (+ an undocumented
//! `connection_id`). Topics and the [`ReferenceSource`] they map to:
//!
//! | `topic` | source | `full_accuracy_value` |
//! |---|---|---|
//! | `crypto_prices` | [`ReferenceSource::RtdsBinance`] (symbols like `btcusdt`) | plain decimal (`"79697.73000000"`) |
//! | `crypto_prices_chainlink` | [`ReferenceSource::Chainlink`] | E18 integer (`"79696948174287960000000"`) |
//! | `crypto_prices_twap_thirty` | [`ReferenceSource::ChainlinkTwap30`] | E18 integer |
//! | `crypto_prices_twap_sixty` | [`ReferenceSource::ChainlinkTwap60`] | E18 integer |
//!
//! The server mislabels the Chainlink-spot backfill as `topic:"crypto_prices"`; a
//! `crypto_prices` frame whose symbol contains a `/` (`btc/usd`, Chainlink's format) is therefore
//! read as [`ReferenceSource::Chainlink`], one without (`btcusdt`) as Binance.
//!
//! - `type:"update"`: `payload {symbol, timestamp (observation time, ms), value, full_accuracy_value}`
//!   → one [`ReferenceTick`] with `backfill: false`, `venue_ns` = `payload.timestamp`.
//! - `type:"subscribe"` (history sent on subscribe): `payload {symbol, data: [{timestamp, value[,
//!   full_accuracy_value]}]}` → one tick per point with `backfill: true`, `venue_ns` = the point's
//!   timestamp. A `subscribe` frame without `data` is an acknowledgement (`Ok(0)`).
//!
//! The price is `full_accuracy_value` when present (and non-empty), otherwise the JSON number
//! `value` read exactly from its text (exponent notation included) — never through `f64`. Prices
//! must be positive.
//!
//! Forward compatibility ([`crate::unknown`]): a topic other than the four above, a `type` other
//! than `update`/`subscribe`, and a backfill element that is not an object are skipped and
//! counted, never an error; the other points of the frame are kept. Unknown fields are ignored.

use polyedge_core::event::{ReferenceSource, ReferenceTick};
use polyedge_core::fixed::parse_scaled;
use polyedge_core::{DecimalError, EventKind, Fixed18, MarketEvent, Symbol, UnixNanos};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ParseError;
use crate::error::{field_err, id_err};
use crate::polymarket::Scalar;

/// Parses one raw RTDS frame and appends its reference ticks to `out`.
///
/// `recv_ns` (ns since the Unix epoch) becomes every event's `recv_ns`; `venue_ns` is the
/// observation time of the point (`payload.timestamp` or `payload.data[i].timestamp`, epoch ms).
/// Returns the number of events appended. Empty frames, the `ping`/`pong` texts (any case), JSON
/// objects without `topic` (acknowledgements) and `subscribe` frames without `data` append nothing
/// and return `Ok(0)`; so do frames of an unknown topic or type (counted in
/// [`crate::unknown`]).
///
/// # Errors
/// Nothing is appended on error.
/// - [`ParseError::VenueError`]: the error envelope `{"body":{"message":…},"statusCode":401}`
///   (any `statusCode` ≥ 400, or a `body.message` without `statusCode`); carries the message.
/// - [`ParseError::Json`]: not valid JSON, not a JSON object, or a nested value of the wrong shape.
/// - [`ParseError::MissingField`]: `type`, `payload`, `payload.symbol`, `payload.timestamp`, or
///   both `payload.full_accuracy_value` and `payload.value` absent on an update.
/// - [`ParseError::BadField`]: a malformed value, named by its dotted path
///   (`payload.data[2].value`): a number that is not a decimal, a Chainlink
///   `full_accuracy_value` that is not an E18 integer, a non-positive price, a bad timestamp or
///   symbol, or a backfill point missing a field.
pub fn parse(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let frame = frame.trim_ascii();
    if frame.is_empty()
        || frame.eq_ignore_ascii_case(b"pong")
        || frame.eq_ignore_ascii_case(b"ping")
    {
        return Ok(0);
    }
    if frame.starts_with(b"[") {
        return Err(ParseError::Json(
            "RTDS frame is a JSON array; expected an object".into(),
        ));
    }
    let text = std::str::from_utf8(frame)
        .map_err(|e| ParseError::Json(format!("frame is not UTF-8: {e}")))?;
    let env: Envelope<'_> = serde_json::from_str(text)?;
    if let Some(message) = venue_error(&env)? {
        return Err(ParseError::VenueError(message));
    }
    let topic = match &env.topic {
        Scalar::Absent => return Ok(0),
        t => t.as_str().ok_or_else(|| expected_string("topic", t))?,
    };
    if !matches!(
        topic,
        "crypto_prices"
            | "crypto_prices_chainlink"
            | "crypto_prices_twap_thirty"
            | "crypto_prices_twap_sixty"
    ) {
        crate::unknown::note(|| format!("RTDS topic {topic:?}"));
        return Ok(0);
    }
    let kind = match &env.kind {
        Scalar::Absent => return Err(ParseError::MissingField("type")),
        k => k.as_str().ok_or_else(|| expected_string("type", k))?,
    };
    let backfill = match kind {
        "update" => false,
        "subscribe" => true,
        other => {
            crate::unknown::note(|| format!("RTDS type {topic:?}/{other:?}"));
            return Ok(0);
        }
    };
    let Some(payload) = &env.payload else {
        if backfill {
            return Ok(0);
        }
        return Err(ParseError::MissingField("payload"));
    };
    let symbol_text = match &payload.symbol {
        Scalar::Absent => return Err(ParseError::MissingField("payload.symbol")),
        s => s
            .as_str()
            .ok_or_else(|| expected_string("payload.symbol", s))?,
    };
    let source = source_of(topic, symbol_text);
    let symbol = Symbol::new(symbol_text).map_err(id_err("payload.symbol"))?;
    let tick = |price: Fixed18| ReferenceTick {
        source,
        symbol,
        price,
        backfill,
    };

    if !backfill {
        let venue_ns = match &payload.timestamp {
            Scalar::Absent => return Err(ParseError::MissingField("payload.timestamp")),
            t => millis(t, "payload.timestamp")?,
        };
        let Some(price) = price(
            source,
            &payload.full_accuracy_value,
            payload.value,
            "payload.",
        )?
        else {
            return Err(ParseError::MissingField("payload.value"));
        };
        out.push(MarketEvent {
            recv_ns,
            venue_ns: Some(venue_ns),
            kind: EventKind::Reference(tick(price)),
        });
        return Ok(1);
    }

    let points: Vec<&RawValue> = match payload.data {
        None => return Ok(0),
        Some(raw) if raw.get() == "null" => return Ok(0),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
            ParseError::bad(
                "payload.data",
                format!(
                    "expected an array, got {}",
                    raw.get().chars().take(40).collect::<String>()
                ),
            )
        })?,
    };
    // Convert everything first so that nothing is appended on error.
    let mut ticks = Vec::with_capacity(points.len());
    for (i, raw) in points.iter().enumerate() {
        if !raw.get().starts_with('{') {
            // A point of a shape this parser does not know: skipped, the others kept.
            crate::unknown::note(|| {
                format!(
                    "RTDS backfill element {}",
                    raw.get().chars().take(40).collect::<String>()
                )
            });
            continue;
        }
        let p: Point<'_> = serde_json::from_str(raw.get())
            .map_err(|e| ParseError::bad(format!("payload.data[{i}]"), e))?;
        let prefix = format!("payload.data[{i}].");
        let venue_ns = match &p.timestamp {
            Scalar::Absent => {
                return Err(ParseError::bad(
                    format!("{prefix}timestamp"),
                    "required field is missing",
                ));
            }
            t => millis(t, &format!("{prefix}timestamp"))?,
        };
        let Some(price) = price(source, &p.full_accuracy_value, p.value, &prefix)? else {
            return Err(ParseError::bad(
                format!("{prefix}value"),
                "required field is missing",
            ));
        };
        ticks.push(MarketEvent {
            recv_ns,
            venue_ns: Some(venue_ns),
            kind: EventKind::Reference(tick(price)),
        });
    }
    let n = ticks.len();
    out.append(&mut ticks);
    Ok(n)
}

#[derive(Deserialize, Default)]
#[serde(default, expecting = "an RTDS message object")]
struct Envelope<'a> {
    #[serde(borrow)]
    topic: Scalar<'a>,
    #[serde(borrow, rename = "type")]
    kind: Scalar<'a>,
    #[serde(borrow)]
    payload: Option<Payload<'a>>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
    #[serde(borrow, rename = "statusCode")]
    status_code: Scalar<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, expecting = "a payload object")]
struct Payload<'a> {
    #[serde(borrow)]
    symbol: Scalar<'a>,
    #[serde(borrow)]
    timestamp: Scalar<'a>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    full_accuracy_value: Scalar<'a>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// One backfill point.
#[derive(Deserialize, Default)]
#[serde(default, expecting = "a backfill point object")]
struct Point<'a> {
    #[serde(borrow)]
    timestamp: Scalar<'a>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    full_accuracy_value: Scalar<'a>,
}

/// The error body's message.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Body<'a> {
    #[serde(borrow)]
    message: Scalar<'a>,
}

fn expected_string(field: &str, v: &Scalar<'_>) -> ParseError {
    ParseError::bad(field, format!("expected a string, got {}", v.kind()))
}

/// `Some(message)` when the envelope is an error report.
fn venue_error(env: &Envelope<'_>) -> Result<Option<String>, ParseError> {
    let status = match &env.status_code {
        Scalar::Absent => None,
        Scalar::UInt(n) => Some(*n),
        s => s.as_str().and_then(|t| t.trim().parse::<u64>().ok()),
    };
    let message = match env.body {
        None => None,
        Some(raw) => {
            let text = raw.get().trim_start();
            if text.starts_with('{') {
                let body: Body<'_> = serde_json::from_str(raw.get())?;
                body.message.as_str().map(str::to_owned)
            } else if text.starts_with('"') {
                Some(serde_json::from_str::<String>(raw.get())?)
            } else {
                None
            }
        }
    };
    Ok(match (status, message) {
        (Some(code), msg) if code >= 400 => {
            Some(msg.unwrap_or_else(|| format!("status code {code}")))
        }
        (None, Some(msg)) if env.topic.get().is_none() => Some(msg),
        _ => None,
    })
}

/// Which feed a frame of `topic` with `symbol` belongs to (the Chainlink backfill arrives
/// mislabelled `crypto_prices`; Chainlink symbols contain a `/`).
fn source_of(topic: &str, symbol: &str) -> ReferenceSource {
    match topic {
        "crypto_prices_chainlink" => ReferenceSource::Chainlink,
        "crypto_prices_twap_thirty" => ReferenceSource::ChainlinkTwap30,
        "crypto_prices_twap_sixty" => ReferenceSource::ChainlinkTwap60,
        _ if symbol.contains('/') => ReferenceSource::Chainlink,
        _ => ReferenceSource::RtdsBinance,
    }
}

/// The price of a point: `full_accuracy_value` (E18 integer for Chainlink sources, decimal for
/// Binance) if present and non-empty, else `value`. `None` if neither is there. `prefix` is the
/// dotted path of the enclosing object (`"payload."`).
fn price(
    source: ReferenceSource,
    full: &Scalar<'_>,
    value: Option<&RawValue>,
    prefix: &str,
) -> Result<Option<Fixed18>, ParseError> {
    let from_full = match full {
        Scalar::Absent => None,
        f => match f.as_str() {
            Some("") => None,
            Some(text) => {
                let field = format!("{prefix}full_accuracy_value");
                let v = match source {
                    ReferenceSource::RtdsBinance => {
                        Fixed18::parse(text).map_err(field_err(field.clone()))?
                    }
                    _ => Fixed18::parse_e18_integer(text).map_err(|e| {
                        ParseError::bad(
                            field.clone(),
                            format!("{e} (Chainlink values are E18 integer strings)"),
                        )
                    })?,
                };
                Some((v, field))
            }
            None => {
                return Err(expected_string(&format!("{prefix}full_accuracy_value"), f));
            }
        },
    };
    let (price, field) = match (from_full, value) {
        (Some(pf), _) => pf,
        (None, None) => return Ok(None),
        (None, Some(raw)) => {
            let field = format!("{prefix}value");
            let text = raw.get().trim();
            let v = if text.starts_with('"') {
                let s: &str = serde_json::from_str(text)
                    .map_err(|e| ParseError::bad(&field, format!("bad string: {e}")))?;
                Fixed18::parse(s).map_err(field_err(field.clone()))?
            } else {
                json_number(text).map_err(field_err(field.clone()))?
            };
            (v, field)
        }
    };
    if price.0 <= 0 {
        return Err(ParseError::bad(
            field,
            format!("price {price} is not positive"),
        ));
    }
    Ok(Some(price))
}

/// A JSON number's text (`79697.73`, `6.1E4`, `1.5e-7`) read exactly into a [`Fixed18`].
fn json_number(text: &str) -> Result<Fixed18, DecimalError> {
    let Some(e) = text.find(['e', 'E']) else {
        return Fixed18::parse(text);
    };
    let (mantissa, exp) = (&text[..e], &text[e + 1..]);
    let clip = || text.chars().take(64).collect::<String>();
    let exp: i32 = exp.parse().map_err(|_| DecimalError::InvalidChar {
        ch: 'e',
        text: clip(),
    })?;
    // mantissa × 10^exp × 10^18 = mantissa scaled by 10^(18 + exp).
    let scale = u32::try_from(18_i64 + i64::from(exp)).map_err(|_| DecimalError::TooPrecise {
        text: clip(),
        scale: 18,
    })?;
    parse_scaled(mantissa, scale).map(Fixed18)
}

/// Epoch milliseconds (JSON integer or digit string) to nanoseconds.
fn millis(v: &Scalar<'_>, field: &str) -> Result<UnixNanos, ParseError> {
    match v {
        Scalar::UInt(ms) => ms
            .checked_mul(UnixNanos::PER_MS)
            .map(UnixNanos)
            .ok_or_else(|| ParseError::bad(field, format!("{ms} ms is out of range"))),
        v => match v.as_str() {
            Some(s) => UnixNanos::parse_millis(s).map_err(field_err(field)),
            None => Err(ParseError::bad(
                field,
                format!("expected epoch milliseconds, got {}", v.kind()),
            )),
        },
    }
}
