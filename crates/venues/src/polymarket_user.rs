//! Polymarket CLOB **user channel** (`wss://ws-subscriptions-clob.polymarket.com/ws/user`): our
//! own orders and trades, the events that drive fills in live trading (docs/protocols.md §6.3).
//!
//! A frame is one JSON object or an array of them; each has an `event_type` (where it is missing,
//! as in some captures, an object with `taker_order_id` is a trade and one with `original_size`
//! an order):
//!
//! * `order` ([`OrderUpdate`]): `type` `PLACEMENT`, `UPDATE` or `CANCELLATION`; `status`
//!   `LIVE`, `MATCHED`, `CANCELED`, `CANCELED_<reason>` (a killed FOK/FAK, the reason kept),
//!   `INVALID` (cancelled by the venue);
//! * `trade` ([`TradeUpdate`]): `status` `MATCHED` → `MINED` → `CONFIRMED`, or `RETRYING` →
//!   `FAILED` (also `MATCHED_NOT_BROADCASTED`). For a maker fill the top-level `side`, `price`
//!   and `outcome` are the taker's; our side of it is the matching `maker_orders[]` entry.
//!
//! The same contract as every parser of this crate: `Ok(n)` appended `n` events; an error
//! appended nothing and names the field; `PONG` and empty arrays are `Ok(0)`. Forward
//! compatible ([`crate::unknown`]): an element of an unknown `event_type` is skipped and
//! counted while the known ones of the frame are kept, and a status or order type the parser
//! does not know is kept as [`OrderStatus::Other`] / [`TradeStatus::Other`] (and counted), never
//! an error: the venue has added statuses before. Unknown fields are ignored.
//!
//! Numbers arrive as strings (sometimes as JSON numbers, sometimes `""` for "not yet"): prices
//! are exact micro-pUSD ([`Price`], in `[0, 1]`), sizes micro-shares ([`Size`], at most
//! [`Size::MAX`]); `timestamp` is epoch milliseconds on orders and seconds on some trades
//! (values below 10¹² are taken as seconds); `created_at`, `match_time`, `last_update` are
//! seconds.

use polyedge_core::{Price, Side, Size, UnixNanos};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ParseError;
use crate::unknown;

/// `type` of an order event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEventType {
    /// The order was placed.
    Placement,
    /// It (partly) matched.
    Update,
    /// It was cancelled (by us, by the venue, or killed).
    Cancellation,
    /// A type this parser does not know (kept verbatim).
    Other(String),
}

/// `status` of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Resting on the book.
    Live,
    /// Matched (fully or partly: see `size_matched`).
    Matched,
    /// Cancelled; for a killed FOK/FAK the venue's reason (`CANCELED_<reason>`).
    Canceled(Option<String>),
    /// Cancelled by the venue as invalid.
    Invalid,
    /// A status this parser does not know (kept verbatim).
    Other(String),
}

/// `status` of a trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradeStatus {
    /// Matched off-chain; may still fail on-chain.
    Matched,
    /// Matched, not yet broadcast.
    MatchedNotBroadcasted,
    /// Included in a block.
    Mined,
    /// Final.
    Confirmed,
    /// The on-chain transaction is being retried.
    Retrying,
    /// Failed on-chain: the fill did not happen.
    Failed,
    /// A status this parser does not know (kept verbatim).
    Other(String),
}

/// Which side of the trade we were on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraderSide {
    /// Our order took liquidity.
    Taker,
    /// Our resting order was hit.
    Maker,
}

/// An `order` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// The order hash (`id`).
    pub order_id: String,
    /// Condition id (`market`).
    pub market: String,
    /// Outcome token id (`asset_id`, decimal string).
    pub asset_id: String,
    /// Buy or sell.
    pub side: Side,
    /// Limit price, micro-pUSD per share.
    pub price: Price,
    /// Order size, micro-shares.
    pub original_size: Size,
    /// Filled so far, micro-shares (0 when the venue sends `""`).
    pub size_matched: Size,
    /// `type`.
    pub event: OrderEventType,
    /// `status`.
    pub status: OrderStatus,
    /// `order_type` (`GTC`, `GTD`, `FOK`, `FAK`), if given.
    pub order_type: Option<String>,
    /// `outcome` label (`Up`, `Down`, `Yes`, …), if given and not empty.
    pub outcome: Option<String>,
    /// Trade ids of its fills (`associate_trades`).
    pub associate_trades: Vec<String>,
    /// `created_at` (seconds), if given.
    pub created_at: Option<UnixNanos>,
    /// The venue's `timestamp`, if given.
    pub venue_ns: Option<UnixNanos>,
    /// When we received the frame.
    pub recv_ns: UnixNanos,
}

/// One maker order of a trade (`maker_orders[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakerFill {
    /// The maker's order hash.
    pub order_id: String,
    /// Shares of it matched, micro-shares.
    pub matched_amount: Size,
    /// Its price, micro-pUSD per share.
    pub price: Price,
    /// Its outcome token id.
    pub asset_id: String,
    /// Its side, if given (older frames omit it).
    pub side: Option<Side>,
    /// Its outcome label, if given.
    pub outcome: Option<String>,
    /// Fee rate in basis points, if given.
    pub fee_rate_bps: Option<u32>,
    /// The maker's address, if given.
    pub maker_address: Option<String>,
}

/// A `trade` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeUpdate {
    /// The trade id (`id`).
    pub trade_id: String,
    /// The taker's order hash.
    pub taker_order_id: String,
    /// Condition id.
    pub market: String,
    /// The taker's outcome token id.
    pub asset_id: String,
    /// The taker's side.
    pub side: Side,
    /// The taker's price, micro-pUSD per share.
    pub price: Price,
    /// Shares traded, micro-shares.
    pub size: Size,
    /// Fee rate in basis points, if given.
    pub fee_rate_bps: Option<u32>,
    /// `status`.
    pub status: TradeStatus,
    /// `trader_side`, if given.
    pub trader_side: Option<TraderSide>,
    /// The taker's outcome label, if given.
    pub outcome: Option<String>,
    /// On-chain transaction hash, if given.
    pub transaction_hash: Option<String>,
    /// `match_time` (or `matchtime`), seconds.
    pub match_time: Option<UnixNanos>,
    /// `last_update`, seconds.
    pub last_update: Option<UnixNanos>,
    /// The maker orders it matched.
    pub maker_orders: Vec<MakerFill>,
    /// The venue's `timestamp`, if given.
    pub venue_ns: Option<UnixNanos>,
    /// When we received the frame.
    pub recv_ns: UnixNanos,
}

/// One user-channel event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    /// An order event.
    Order(OrderUpdate),
    /// A trade event.
    Trade(TradeUpdate),
}

/// Parses one user-channel frame, appending its events to `out`; returns how many.
///
/// # Errors
/// [`ParseError`] naming the element and field: not JSON, not an object or array of objects, a
/// missing `event_type`, or a known event with a missing or bad required field. Nothing is
/// appended then.
pub fn parse(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<UserEvent>,
) -> Result<usize, ParseError> {
    let text = std::str::from_utf8(frame).map_err(|e| ParseError::Json(e.to_string()))?;
    let t = text.trim();
    if t.is_empty() || t == "PONG" || t == "PING" {
        return Ok(0);
    }
    let v: Value = serde_json::from_str(t)?;
    let start = out.len();
    let res = match &v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| element(item, Some(i), recv_ns, out)),
        Value::Object(_) => element(&v, None, recv_ns, out),
        other => Err(ParseError::Json(format!(
            "expected an object or an array of objects, got {}",
            kind(other)
        ))),
    };
    match res {
        Ok(()) => Ok(out.len() - start),
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field context: the element's index in an array frame.
#[derive(Clone, Copy)]
struct At(Option<usize>);

impl At {
    fn name(self, field: &str) -> String {
        match self.0 {
            Some(i) => format!("[{i}].{field}"),
            None => field.to_string(),
        }
    }

    fn missing(self, field: &'static str) -> ParseError {
        match self.0 {
            None => ParseError::MissingField(field),
            Some(_) => ParseError::bad(self.name(field), "required field is missing"),
        }
    }
}

fn element(
    v: &Value,
    index: Option<usize>,
    recv_ns: UnixNanos,
    out: &mut Vec<UserEvent>,
) -> Result<(), ParseError> {
    let at = At(index);
    let Value::Object(m) = v else {
        return Err(ParseError::Json(format!(
            "{}: expected an object, got {}",
            at.name("element"),
            kind(v)
        )));
    };
    let et = match m.get("event_type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ParseError::bad(at.name("event_type"), "expected a string")),
        // Some captures (and some SDK test data) omit it: an order has `original_size`, a
        // trade a `taker_order_id`.
        None if m.contains_key("taker_order_id") => "trade",
        None if m.contains_key("original_size") => "order",
        None => return Err(at.missing("event_type")),
    };
    match et {
        "order" => out.push(UserEvent::Order(order(m, at, recv_ns)?)),
        "trade" => out.push(UserEvent::Trade(trade(m, at, recv_ns)?)),
        other => unknown::note(|| format!("Polymarket user event_type {other:?}")),
    }
    Ok(())
}

/// A field as text: strings as they are, numbers in their JSON form; `None` when absent or null.
fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    match m.get(key)? {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn required<'a>(
    m: &'a Map<String, Value>,
    key: &'static str,
    at: At,
) -> Result<std::borrow::Cow<'a, str>, ParseError> {
    match m.get(key) {
        None | Some(Value::Null) => Err(at.missing(key)),
        Some(_) => text(m, key).ok_or_else(|| ParseError::bad(at.name(key), "expected a string")),
    }
}

fn optional_string(m: &Map<String, Value>, key: &str) -> Option<String> {
    text(m, key)
        .map(std::borrow::Cow::into_owned)
        .filter(|s| !s.is_empty())
}

fn side(m: &Map<String, Value>, key: &'static str, at: At) -> Result<Side, ParseError> {
    match required(m, key, at)?.as_ref() {
        "BUY" | "buy" => Ok(Side::Buy),
        "SELL" | "sell" => Ok(Side::Sell),
        other => Err(ParseError::bad(
            at.name(key),
            format!("expected BUY or SELL, got {other:?}"),
        )),
    }
}

fn price(m: &Map<String, Value>, key: &'static str, at: At) -> Result<Price, ParseError> {
    let t = required(m, key, at)?;
    Price::parse(&t).map_err(|e| ParseError::bad(at.name(key), e))
}

/// A size; `""` (not yet known) is 0.
fn size(m: &Map<String, Value>, key: &'static str, at: At) -> Result<Size, ParseError> {
    let t = required(m, key, at)?;
    if t.is_empty() {
        return Ok(Size::ZERO);
    }
    Size::parse(&t).map_err(|e| ParseError::bad(at.name(key), e))
}

fn optional_size(m: &Map<String, Value>, key: &'static str, at: At) -> Result<Size, ParseError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Size::ZERO),
        Some(_) => size(m, key, at),
    }
}

/// Seconds or milliseconds since the epoch (digits; below 10¹² taken as seconds); `""`, `"0"`,
/// absent or null: `None`.
fn time(m: &Map<String, Value>, key: &str, at: At) -> Result<Option<UnixNanos>, ParseError> {
    let Some(t) = text(m, key) else {
        return match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(ParseError::bad(at.name(key), "expected a string of digits")),
        };
    };
    if t.is_empty() {
        return Ok(None);
    }
    let n: u64 = t.parse().map_err(|_| {
        ParseError::bad(
            at.name(key),
            format!("expected epoch seconds or milliseconds, got {t:?}"),
        )
    })?;
    if n == 0 {
        return Ok(None);
    }
    // Epoch seconds stay below 10¹² until the year 33658; milliseconds are above it since 2001.
    let ns = if n < 1_000_000_000_000 {
        n.checked_mul(1_000_000_000)
    } else {
        n.checked_mul(1_000_000)
    };
    ns.map(|v| Some(UnixNanos(v)))
        .ok_or_else(|| ParseError::bad(at.name(key), format!("time {t} is out of range")))
}

fn fee_bps(m: &Map<String, Value>, key: &str, at: At) -> Result<Option<u32>, ParseError> {
    match text(m, key) {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|b| *b <= 10_000)
            .map(Some)
            .ok_or_else(|| {
                ParseError::bad(at.name(key), format!("fee rate {t:?} is not 0..=10000 bps"))
            }),
    }
}

fn order(m: &Map<String, Value>, at: At, recv_ns: UnixNanos) -> Result<OrderUpdate, ParseError> {
    let event = match optional_string(m, "type").as_deref() {
        Some("PLACEMENT") => OrderEventType::Placement,
        Some("UPDATE") => OrderEventType::Update,
        Some("CANCELLATION") => OrderEventType::Cancellation,
        Some(other) => {
            unknown::note(|| format!("Polymarket user order type {other:?}"));
            OrderEventType::Other(other.to_string())
        }
        None => return Err(at.missing("type")),
    };
    let status = match optional_string(m, "status").as_deref() {
        Some("LIVE") => OrderStatus::Live,
        Some("MATCHED") => OrderStatus::Matched,
        Some("CANCELED" | "CANCELLED") => OrderStatus::Canceled(None),
        Some("INVALID") => OrderStatus::Invalid,
        Some(s) if s.starts_with("CANCELED_") => {
            OrderStatus::Canceled(Some(s["CANCELED_".len()..].to_string()))
        }
        Some(other) => {
            unknown::note(|| format!("Polymarket user order status {other:?}"));
            OrderStatus::Other(other.to_string())
        }
        None => return Err(at.missing("status")),
    };
    let associate_trades = match m.get("associate_trades") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    ParseError::bad(
                        at.name(&format!("associate_trades[{i}]")),
                        "expected a string",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ParseError::bad(
                at.name("associate_trades"),
                "expected an array of trade ids or null",
            ));
        }
    };
    Ok(OrderUpdate {
        order_id: required(m, "id", at)?.into_owned(),
        market: required(m, "market", at)?.into_owned(),
        asset_id: required(m, "asset_id", at)?.into_owned(),
        side: side(m, "side", at)?,
        price: price(m, "price", at)?,
        original_size: size(m, "original_size", at)?,
        size_matched: optional_size(m, "size_matched", at)?,
        event,
        status,
        order_type: optional_string(m, "order_type"),
        outcome: optional_string(m, "outcome"),
        associate_trades,
        created_at: time(m, "created_at", at)?,
        venue_ns: time(m, "timestamp", at)?,
        recv_ns,
    })
}

fn trade(m: &Map<String, Value>, at: At, recv_ns: UnixNanos) -> Result<TradeUpdate, ParseError> {
    let status = match optional_string(m, "status").as_deref() {
        Some("MATCHED") => TradeStatus::Matched,
        Some("MATCHED_NOT_BROADCASTED") => TradeStatus::MatchedNotBroadcasted,
        Some("MINED") => TradeStatus::Mined,
        Some("CONFIRMED") => TradeStatus::Confirmed,
        Some("RETRYING") => TradeStatus::Retrying,
        Some("FAILED") => TradeStatus::Failed,
        Some(other) => {
            unknown::note(|| format!("Polymarket user trade status {other:?}"));
            TradeStatus::Other(other.to_string())
        }
        None => return Err(at.missing("status")),
    };
    let trader_side = match optional_string(m, "trader_side").as_deref() {
        Some("TAKER") => Some(TraderSide::Taker),
        Some("MAKER") => Some(TraderSide::Maker),
        Some(other) => {
            return Err(ParseError::bad(
                at.name("trader_side"),
                format!("expected TAKER or MAKER, got {other:?}"),
            ));
        }
        None => None,
    };
    let maker_orders = match m.get("maker_orders") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            let mut v = Vec::with_capacity(a.len());
            for (i, mo) in a.iter().enumerate() {
                let Value::Object(mm) = mo else {
                    return Err(ParseError::bad(
                        at.name(&format!("maker_orders[{i}]")),
                        "expected an object",
                    ));
                };
                let inner = At(Some(i));
                let wrap = |e: ParseError| match e {
                    ParseError::BadField { field, reason } => ParseError::bad(
                        at.name(&format!(
                            "maker_orders{}",
                            field.trim_start_matches(|c| c != '[')
                        )),
                        reason,
                    ),
                    other => other,
                };
                v.push(MakerFill {
                    order_id: required(mm, "order_id", inner).map_err(wrap)?.into_owned(),
                    matched_amount: size(mm, "matched_amount", inner).map_err(wrap)?,
                    price: price(mm, "price", inner).map_err(wrap)?,
                    asset_id: required(mm, "asset_id", inner).map_err(wrap)?.into_owned(),
                    side: match mm.get("side") {
                        None | Some(Value::Null) => None,
                        Some(_) => Some(side(mm, "side", inner).map_err(wrap)?),
                    },
                    outcome: optional_string(mm, "outcome"),
                    fee_rate_bps: fee_bps(mm, "fee_rate_bps", inner).map_err(wrap)?,
                    maker_address: optional_string(mm, "maker_address"),
                });
            }
            v
        }
        Some(_) => {
            return Err(ParseError::bad(
                at.name("maker_orders"),
                "expected an array",
            ));
        }
    };
    let match_time = match m.get("match_time") {
        Some(_) => time(m, "match_time", at)?,
        None => time(m, "matchtime", at)?,
    };
    Ok(TradeUpdate {
        trade_id: required(m, "id", at)?.into_owned(),
        taker_order_id: required(m, "taker_order_id", at)?.into_owned(),
        market: required(m, "market", at)?.into_owned(),
        asset_id: required(m, "asset_id", at)?.into_owned(),
        side: side(m, "side", at)?,
        price: price(m, "price", at)?,
        size: size(m, "size", at)?,
        fee_rate_bps: fee_bps(m, "fee_rate_bps", at)?,
        status,
        trader_side,
        outcome: optional_string(m, "outcome"),
        transaction_hash: optional_string(m, "transaction_hash"),
        match_time,
        last_update: time(m, "last_update", at)?,
        maker_orders,
        venue_ns: time(m, "timestamp", at)?,
        recv_ns,
    })
}
