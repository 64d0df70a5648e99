//! Deribit parser: JSON-RPC 2.0 notifications and responses on `wss://www.deribit.com/ws/api/v2`
//! (protocols.md §8.3).
//!
//! | message | event |
//! |---|---|
//! | `subscription` on `deribit_volatility_index.<index>` | [`EventKind::VolIndex`] (`volatility`, index from `index_name`) |
//! | `subscription` on `trades.<…>` | one [`EventKind::SpotTrade`] per trade; `direction` is the taker side |
//! | `subscription` on `quote.<instrument>` | [`EventKind::SpotQuote`] (`update_id` `None`) |
//! | `heartbeat` / `test_request` notifications | nothing (`Ok(0)`) |
//! | responses `{"id":…,"result":…}` | nothing (`Ok(0)`) |
//! | `{"error":{code,message,data}}` | [`ParseError::VenueError`] |
//!
//! Deribit sends numbers as JSON numbers. They are read from the number's raw text (serde_json
//! `RawValue`) straight into [`Fixed18`] — exponent forms such as `1e-05` included — so no value
//! goes through `f64`. Timestamps are integer milliseconds; `venue_ns` is the data's `timestamp`
//! (per trade for trades).
//!
//! Units as sent: a trade's `amount` is in **USD for inverse instruments** (`BTC-PERPETUAL`,
//! `BTC-27DEC24`: contracts × 10 USD) and in the base currency for linear ones; it is passed
//! through unchanged as [`SpotTrade::qty`](polyedge_core::event::SpotTrade::qty), as are the
//! quote's `best_*_amount`. A `null` best price or amount (an empty side) reads as zero.
//!
//! A `test_request` heartbeat must be answered with `public/test` by the connection; the parser
//! only acknowledges it (`Ok(0)`).

use polyedge_core::event::{EventKind, SpotQuote, SpotTrade, Venue, VolIndex};
use polyedge_core::{Fixed18, MarketEvent, Symbol, UnixNanos};
use serde::Deserialize;

use crate::ParseError;
use crate::binance::json::{RawField, Scalar, each_row, guarded, side_word, symbol, utf8};
use crate::error::{field_err, id_err};

/// Top level of a JSON-RPC message.
#[derive(Deserialize, Default)]
struct Frame<'a> {
    #[serde(borrow, default)]
    method: Scalar<'a>,
    #[serde(borrow, default)]
    params: RawField<'a>,
    #[serde(borrow, default)]
    result: Scalar<'a>,
    #[serde(borrow, default)]
    error: RawField<'a>,
}

/// `params` of a notification.
#[derive(Deserialize, Default)]
struct Params<'a> {
    #[serde(borrow, default)]
    channel: Scalar<'a>,
    #[serde(borrow, default)]
    data: RawField<'a>,
}

/// JSON-RPC error object.
#[derive(Deserialize, Default)]
struct ErrorObject<'a> {
    #[serde(borrow, default)]
    code: RawField<'a>,
    #[serde(borrow, default)]
    message: Scalar<'a>,
    #[serde(borrow, default)]
    data: RawField<'a>,
}

/// `deribit_volatility_index.*` data.
#[derive(Deserialize, Default)]
struct VolData<'a> {
    #[serde(borrow, default)]
    timestamp: RawField<'a>,
    #[serde(borrow, default)]
    volatility: RawField<'a>,
    #[serde(borrow, default)]
    index_name: Scalar<'a>,
}

/// One trade of a `trades.*` notification.
#[derive(Deserialize, Default)]
struct TradeData<'a> {
    #[serde(borrow, default)]
    timestamp: RawField<'a>,
    #[serde(borrow, default)]
    price: RawField<'a>,
    #[serde(borrow, default)]
    amount: RawField<'a>,
    #[serde(borrow, default)]
    direction: Scalar<'a>,
    #[serde(borrow, default)]
    instrument_name: Scalar<'a>,
    #[serde(borrow, default)]
    trade_id: Scalar<'a>,
}

/// `quote.*` data.
#[derive(Deserialize, Default)]
struct QuoteData<'a> {
    #[serde(borrow, default)]
    timestamp: RawField<'a>,
    #[serde(borrow, default)]
    instrument_name: Scalar<'a>,
    #[serde(borrow, default)]
    best_bid_price: RawField<'a>,
    #[serde(borrow, default)]
    best_bid_amount: RawField<'a>,
    #[serde(borrow, default)]
    best_ask_price: RawField<'a>,
    #[serde(borrow, default)]
    best_ask_amount: RawField<'a>,
}

/// Parses one raw Deribit frame, appending its events to `out` (venue [`Venue::Deribit`]) and
/// returning how many it appended. See the module docs for the mapping.
///
/// # Errors
/// [`ParseError::Json`] for invalid JSON or a field of the wrong JSON type (e.g. a price sent as a
/// string); [`ParseError::MissingField`] / [`ParseError::BadField`] for absent or invalid fields (negative
/// prices, amounts or volatility, non-integer timestamps, a `direction` that is not buy/sell),
/// nested fields named like `params.data[1].price`; [`ParseError::VenueError`] for a JSON-RPC
/// error object. Nothing is appended on error.
pub fn parse(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    guarded(out, |out| {
        let f: Frame<'_> = serde_json::from_str(utf8(frame)?)?;
        if f.error.is_present() {
            return Err(venue_error(f.error)?);
        }
        match f.method.opt_str("method")? {
            Some("subscription") => {
                let p: Params<'_> = f.params.parse("params")?;
                notification(&p, recv_ns, out)
            }
            Some("heartbeat" | "test_request") => Ok(0),
            Some(other) => {
                crate::unknown::note(|| format!("Deribit method {other:?}"));
                Ok(0)
            }
            None if !f.result.is_absent() => Ok(0),
            None => Err(ParseError::MissingField("method")),
        }
    })
}

fn venue_error(raw: RawField<'_>) -> Result<ParseError, ParseError> {
    let e: ErrorObject<'_> = raw.parse("error")?;
    let code = e.code.0.map_or("?", |c| c.get());
    let message = e
        .message
        .opt_str("error.message")?
        .unwrap_or("(no message)");
    Ok(ParseError::VenueError(match e.data.0 {
        Some(data) => format!(
            "code {code}: {message} ({})",
            data.get().chars().take(200).collect::<String>()
        ),
        None => format!("code {code}: {message}"),
    }))
}

fn notification(
    p: &Params<'_>,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let channel = p.channel.str("params.channel")?;
    let prefix = channel.split_once('.').map_or(channel, |(head, _)| head);
    match prefix {
        "deribit_volatility_index" => {
            let d: VolData<'_> = p.data.parse("params.data")?;
            let index = if let Some(name) = d.index_name.opt_str("params.data.index_name")? {
                Symbol::new(name).map_err(id_err("params.data.index_name"))?
            } else {
                let suffix = channel.split_once('.').map_or("", |(_, tail)| tail);
                Symbol::new(suffix).map_err(id_err("params.channel"))?
            };
            let v = VolIndex {
                venue: Venue::Deribit,
                index,
                value: non_neg_number(d.volatility, "params.data.volatility")?,
            };
            out.push(MarketEvent {
                recv_ns,
                venue_ns: Some(millis(d.timestamp, "params.data.timestamp")?),
                kind: EventKind::VolIndex(v),
            });
            Ok(1)
        }
        "trades" => {
            let before = out.len();
            each_row(
                p.data.get("params.data")?,
                "params.data",
                |raw: &serde_json::value::RawValue, _| {
                    if !raw.get().starts_with('{') {
                        // An element of a shape this parser does not know: skipped, the others kept.
                        crate::unknown::note(|| {
                            format!(
                                "Deribit trades element {}",
                                raw.get().chars().take(40).collect::<String>()
                            )
                        });
                        return Ok(());
                    }
                    let t: TradeData<'_> = serde_json::from_str(raw.get())
                        .map_err(|e| ParseError::Json(format!("field `params.data[]`: {e}")))?;
                    let direction = t.direction.str("params.data[].direction")?;
                    let trade = SpotTrade {
                        venue: Venue::Deribit,
                        symbol: symbol(&t.instrument_name, "params.data[].instrument_name")?,
                        price: non_neg_number(t.price, "params.data[].price")?,
                        qty: non_neg_number(t.amount, "params.data[].amount")?,
                        taker_side: Some(side_word(direction, "params.data[].direction")?),
                        trade_id: t.trade_id.numeric_id("params.data[].trade_id")?,
                    };
                    out.push(MarketEvent {
                        recv_ns,
                        venue_ns: Some(millis(t.timestamp, "params.data[].timestamp")?),
                        kind: EventKind::SpotTrade(trade),
                    });
                    Ok(())
                },
            )?;
            Ok(out.len() - before)
        }
        "quote" => {
            let d: QuoteData<'_> = p.data.parse("params.data")?;
            let q = SpotQuote {
                venue: Venue::Deribit,
                symbol: symbol(&d.instrument_name, "params.data.instrument_name")?,
                bid: quote_number(d.best_bid_price, "params.data.best_bid_price")?,
                bid_qty: quote_number(d.best_bid_amount, "params.data.best_bid_amount")?,
                ask: quote_number(d.best_ask_price, "params.data.best_ask_price")?,
                ask_qty: quote_number(d.best_ask_amount, "params.data.best_ask_amount")?,
                update_id: None,
            };
            out.push(MarketEvent {
                recv_ns,
                venue_ns: Some(millis(d.timestamp, "params.data.timestamp")?),
                kind: EventKind::SpotQuote(q),
            });
            Ok(1)
        }
        _ => {
            crate::unknown::note(|| format!("Deribit channel {channel:?}"));
            Ok(0)
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A JSON-number field as [`Fixed18`]; `None` for `null`.
fn number(raw: RawField<'_>, field: &'static str) -> Result<Option<Fixed18>, ParseError> {
    let text = raw.get(field)?.get();
    match text.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => json_number_to_fixed(text)
            .map(Some)
            .map_err(|why| ParseError::bad(field, why)),
        _ if text == "null" => Ok(None),
        _ => Err(ParseError::Json(format!(
            "field `{field}`: expected a number, found {}",
            clip(text)
        ))),
    }
}

fn non_negative(v: Fixed18, field: &'static str) -> Result<Fixed18, ParseError> {
    if v.0 < 0 {
        Err(ParseError::bad(field, format!("{v} is negative")))
    } else {
        Ok(v)
    }
}

/// A required, non-null, non-negative JSON number.
fn non_neg_number(raw: RawField<'_>, field: &'static str) -> Result<Fixed18, ParseError> {
    match number(raw, field)? {
        Some(v) => non_negative(v, field),
        None => Err(ParseError::Json(format!(
            "field `{field}`: expected a number, found null"
        ))),
    }
}

/// A quote price/amount: non-negative, `null` (empty side) → 0.
fn quote_number(raw: RawField<'_>, field: &'static str) -> Result<Fixed18, ParseError> {
    number(raw, field)?.map_or(Ok(Fixed18(0)), |v| non_negative(v, field))
}

/// An integer-millisecond JSON number → [`UnixNanos`].
fn millis(raw: RawField<'_>, field: &'static str) -> Result<UnixNanos, ParseError> {
    let text = raw.get(field)?.get();
    match text.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => UnixNanos::parse_millis(text).map_err(field_err(field)),
        _ => Err(ParseError::Json(format!(
            "field `{field}`: expected an integer, found {}",
            clip(text)
        ))),
    }
}

/// Converts the text of a JSON number (`129.36`, `-0.5`, `1e-05`, `2.5E+3`) to [`Fixed18`]
/// exactly, without `f64`: an exponent shifts the decimal point in the text.
///
/// # Errors
/// A reason string when the text is not a plain JSON number, needs more than 18 decimals, has an
/// exponent beyond ±100, or overflows [`Fixed18`].
pub fn json_number_to_fixed(text: &str) -> Result<Fixed18, String> {
    let Some(epos) = text.find(['e', 'E']) else {
        return Fixed18::parse(text).map_err(|e| e.to_string());
    };
    let (mantissa, exp_text) = (&text[..epos], &text[epos + 1..]);
    let exp: i64 = exp_text
        .parse()
        .map_err(|_| format!("bad exponent in {:?}", clip(text)))?;
    if !(-100..=100).contains(&exp) {
        return Err(format!("exponent out of range in {:?}", clip(text)));
    }
    let (neg, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits: String = [int, frac].concat();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a JSON number: {:?}", clip(text)));
    }
    // Position of the decimal point within `digits` after shifting by the exponent.
    let int_len = i64::try_from(int.len()).map_err(|e| e.to_string())?;
    let point = int_len + exp;
    let mut plain = String::with_capacity(digits.len() + 110);
    if neg {
        plain.push('-');
    }
    let n = i64::try_from(digits.len()).map_err(|e| e.to_string())?;
    if point <= 0 {
        plain.push_str("0.");
        for _ in 0..-point {
            plain.push('0');
        }
        plain.push_str(&digits);
    } else if point >= n {
        plain.push_str(&digits);
        for _ in 0..point - n {
            plain.push('0');
        }
    } else {
        let p = usize::try_from(point).map_err(|e| e.to_string())?;
        plain.push_str(&digits[..p]);
        plain.push('.');
        plain.push_str(&digits[p..]);
    }
    Fixed18::parse(&plain).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(s: &str) -> Fixed18 {
        Fixed18::parse(s).unwrap()
    }

    #[test]
    fn json_numbers_exact() {
        assert_eq!(json_number_to_fixed("129.36"), Ok(fx("129.36")));
        assert_eq!(json_number_to_fixed("-0.5"), Ok(fx("-0.5")));
        assert_eq!(json_number_to_fixed("92288.0"), Ok(fx("92288")));
        assert_eq!(json_number_to_fixed("1e-05"), Ok(fx("0.00001")));
        assert_eq!(json_number_to_fixed("2.5E+3"), Ok(fx("2500")));
        assert_eq!(json_number_to_fixed("12.345e1"), Ok(fx("123.45")));
        assert_eq!(json_number_to_fixed("12.345e-2"), Ok(fx("0.12345")));
        assert_eq!(json_number_to_fixed("-7e0"), Ok(fx("-7")));
        assert!(json_number_to_fixed("1e-19").is_err());
        assert!(json_number_to_fixed("1e999").is_err());
        assert!(json_number_to_fixed("1e").is_err());
        assert!(json_number_to_fixed("abc").is_err());
    }
}
