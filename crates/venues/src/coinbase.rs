//! Coinbase parser: Exchange `ws-feed` messages and Advanced Trade envelopes (protocols.md §8.2).
//!
//! **Exchange** (`wss://ws-feed.exchange.coinbase.com`), dispatched on `type`:
//!
//! | `type` | event |
//! |---|---|
//! | `match`, `last_match` | [`EventKind::SpotTrade`]; `side` is the **maker** side, taker = opposite |
//! | `ticker` | [`EventKind::SpotQuote`] only (`best_bid`, `best_bid_size`, `best_ask`, `best_ask_size`; `update_id` = `sequence`) |
//! | `snapshot` | [`EventKind::SpotDepth`] snapshot (`bids`/`asks` `[[price, size]]`) |
//! | `l2update` | [`EventKind::SpotDepth`] diff (`changes` `[[side, price, size]]`, size `0` removes) |
//! | `heartbeat`, `subscriptions` | nothing (`Ok(0)`) |
//! | `error` | [`ParseError::VenueError`] (`message: reason`) |
//!
//! **Advanced Trade** (`wss://advanced-trade-ws.coinbase.com`), envelope
//! `{channel, client_id, timestamp, sequence_num, events:[…]}`, dispatched on `channel`:
//!
//! | `channel` | event |
//! |---|---|
//! | `market_trades` | one [`EventKind::SpotTrade`] per `events[].trades[]` |
//! | `ticker`, `ticker_batch` | one [`EventKind::SpotQuote`] per `events[].tickers[]` (`update_id` = `sequence_num`) |
//! | `l2_data` | one [`EventKind::SpotDepth`] per event (`type` `snapshot`/`update`; `last_update_id` = `sequence_num`) |
//! | `heartbeats`, `subscriptions` | nothing (`Ok(0)`) |
//!
//! **Taker side of Advanced Trade `market_trades`.** The reported `side` is taken to be the
//! **maker** side (as on the Exchange `match` channel), so the taker is the opposite side. Evidence:
//! protocols.md §8.2 says so, and independent open-source integrations that measured live prints
//! against the top of book found the raw `side` contradicted the aggressor in ~90 % of cases.
//! Note that the source protocols.md cites for it, NautilusTrader's `coinbase_side_to_aggressor`,
//! actually maps `BUY` → buyer aggressor directly (no flip) — the two disagree; this parser follows
//! the measured behaviour. An `UNKNOWN_ORDER_SIDE` side gives `taker_side: None`.
//!
//! Forward compatibility ([`crate::unknown`]): an Exchange `type` or Advanced Trade `channel`
//! this parser does not know, and an Advanced Trade `events[]` element whose `type` is neither
//! `snapshot` nor `update`, are skipped and counted, not errors; the frame's other events are
//! kept. Unknown fields are ignored.
//!
//! Times are RFC 3339 strings parsed exactly to nanoseconds ([`parse_rfc3339`]). `venue_ns` is the
//! trade's `time` for trades, otherwise the message `time` (Exchange) or envelope `timestamp`
//! (Advanced Trade); `None` when absent. Symbols are the `product_id` as sent (`BTC-USD`).

use polyedge_core::event::{EventKind, SpotDepth, SpotLevel, SpotQuote, SpotTrade, Venue};
use polyedge_core::{MarketEvent, Side, UnixNanos};
use serde::Deserialize;

use crate::ParseError;
use crate::binance::json::{
    RawField, Scalar, each_row, guarded, levels, non_neg, opposite, side_word, symbol, utf8,
};

/// Every top-level key of an Exchange message or Advanced Trade envelope the parser reads.
#[derive(Deserialize, Default)]
struct Frame<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Scalar<'a>,
    #[serde(borrow, default)]
    channel: Scalar<'a>,
    #[serde(borrow, default)]
    product_id: Scalar<'a>,
    #[serde(borrow, default)]
    price: Scalar<'a>,
    #[serde(borrow, default)]
    size: Scalar<'a>,
    #[serde(borrow, default)]
    side: Scalar<'a>,
    #[serde(borrow, default)]
    time: Scalar<'a>,
    #[serde(borrow, default)]
    trade_id: Scalar<'a>,
    #[serde(borrow, default)]
    sequence: Scalar<'a>,
    #[serde(borrow, default)]
    best_bid: Scalar<'a>,
    #[serde(borrow, default)]
    best_bid_size: Scalar<'a>,
    #[serde(borrow, default)]
    best_ask: Scalar<'a>,
    #[serde(borrow, default)]
    best_ask_size: Scalar<'a>,
    #[serde(borrow, default)]
    bids: RawField<'a>,
    #[serde(borrow, default)]
    asks: RawField<'a>,
    #[serde(borrow, default)]
    changes: RawField<'a>,
    #[serde(borrow, default)]
    message: Scalar<'a>,
    #[serde(borrow, default)]
    reason: Scalar<'a>,
    #[serde(borrow, default)]
    timestamp: Scalar<'a>,
    #[serde(borrow, default)]
    sequence_num: Scalar<'a>,
    #[serde(borrow, default)]
    events: RawField<'a>,
}

/// One element of an Advanced Trade `events` array.
#[derive(Deserialize, Default)]
struct AtEvent<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Scalar<'a>,
    #[serde(borrow, default)]
    product_id: Scalar<'a>,
    #[serde(borrow, default)]
    trades: RawField<'a>,
    #[serde(borrow, default)]
    tickers: RawField<'a>,
    #[serde(borrow, default)]
    updates: RawField<'a>,
}

/// One `market_trades` trade.
#[derive(Deserialize, Default)]
struct AtTrade<'a> {
    #[serde(borrow, default)]
    trade_id: Scalar<'a>,
    #[serde(borrow, default)]
    product_id: Scalar<'a>,
    #[serde(borrow, default)]
    price: Scalar<'a>,
    #[serde(borrow, default)]
    size: Scalar<'a>,
    #[serde(borrow, default)]
    side: Scalar<'a>,
    #[serde(borrow, default)]
    time: Scalar<'a>,
}

/// One `ticker` entry.
#[derive(Deserialize, Default)]
struct AtTicker<'a> {
    #[serde(borrow, default)]
    product_id: Scalar<'a>,
    #[serde(borrow, default)]
    best_bid: Scalar<'a>,
    #[serde(borrow, default)]
    best_bid_quantity: Scalar<'a>,
    #[serde(borrow, default)]
    best_ask: Scalar<'a>,
    #[serde(borrow, default)]
    best_ask_quantity: Scalar<'a>,
}

/// One `l2_data` level update.
#[derive(Deserialize, Default)]
struct AtLevel<'a> {
    #[serde(borrow, default)]
    side: Scalar<'a>,
    #[serde(borrow, default)]
    price_level: Scalar<'a>,
    #[serde(borrow, default)]
    new_quantity: Scalar<'a>,
}

/// Parses one raw Coinbase frame — an Exchange `ws-feed` message or an Advanced Trade envelope
/// (told apart by the presence of `channel`) — appending its events to `out` (venue
/// [`Venue::Coinbase`]) and returning how many it appended. See the module docs for the mapping.
///
/// An unknown Exchange `type`, Advanced Trade `channel` or `events[].type` appends nothing for
/// that message or element and is counted in [`crate::unknown`].
///
/// # Errors
/// [`ParseError::Json`] for invalid JSON or a field of the wrong JSON type;
/// [`ParseError::MissingField`] / [`ParseError::BadField`] for absent or invalid fields (negative
/// or malformed decimals, bad RFC 3339 times, a side that is not buy/sell); nested fields are
/// named like `events[0].trades[1].price`; [`ParseError::VenueError`] for an `error` message.
/// Nothing is appended on error.
pub fn parse(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    guarded(out, |out| {
        let f: Frame<'_> = serde_json::from_str(utf8(frame)?)?;
        if f.channel.is_absent() {
            exchange(&f, recv_ns, out)
        } else {
            advanced(&f, recv_ns, out)
        }
    })
}

fn push(
    out: &mut Vec<MarketEvent>,
    recv_ns: UnixNanos,
    venue_ns: Option<UnixNanos>,
    kind: EventKind,
) {
    out.push(MarketEvent {
        recv_ns,
        venue_ns,
        kind,
    });
}

/// An optional RFC 3339 time field.
fn opt_time(s: &Scalar<'_>, field: &'static str) -> Result<Option<UnixNanos>, ParseError> {
    s.opt_str(field)?
        .map(|t| parse_rfc3339(t).map_err(|why| ParseError::bad(field, format!("{t:?}: {why}"))))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// Exchange ws-feed
// ---------------------------------------------------------------------------------------------

fn exchange(
    f: &Frame<'_>,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let kind = f.kind.str("type")?;
    match kind {
        "match" | "last_match" => {
            let maker = side_word(f.side.str("side")?, "side")?;
            let t = SpotTrade {
                venue: Venue::Coinbase,
                symbol: symbol(&f.product_id, "product_id")?,
                price: non_neg(&f.price, "price")?,
                qty: non_neg(&f.size, "size")?,
                taker_side: Some(opposite(maker)),
                trade_id: f.trade_id.numeric_id("trade_id")?,
            };
            push(
                out,
                recv_ns,
                opt_time(&f.time, "time")?,
                EventKind::SpotTrade(t),
            );
            Ok(1)
        }
        "ticker" => {
            let q = SpotQuote {
                venue: Venue::Coinbase,
                symbol: symbol(&f.product_id, "product_id")?,
                bid: non_neg(&f.best_bid, "best_bid")?,
                bid_qty: non_neg(&f.best_bid_size, "best_bid_size")?,
                ask: non_neg(&f.best_ask, "best_ask")?,
                ask_qty: non_neg(&f.best_ask_size, "best_ask_size")?,
                update_id: f.sequence.opt_u64("sequence")?,
            };
            push(
                out,
                recv_ns,
                opt_time(&f.time, "time")?,
                EventKind::SpotQuote(q),
            );
            Ok(1)
        }
        "snapshot" => {
            let d = SpotDepth {
                venue: Venue::Coinbase,
                symbol: Some(symbol(&f.product_id, "product_id")?),
                is_snapshot: true,
                first_update_id: None,
                last_update_id: None,
                prev_update_id: None,
                bids: levels(f.bids.get("bids")?, ("bids", "bids[].price", "bids[].size"))?,
                asks: levels(f.asks.get("asks")?, ("asks", "asks[].price", "asks[].size"))?,
            };
            push(
                out,
                recv_ns,
                opt_time(&f.time, "time")?,
                EventKind::SpotDepth(d),
            );
            Ok(1)
        }
        "l2update" => {
            let mut bids = Vec::new();
            let mut asks = Vec::new();
            each_row(
                f.changes.get("changes")?,
                "changes",
                |(side, price, size): (Scalar<'_>, Scalar<'_>, Scalar<'_>), _| {
                    let level = SpotLevel {
                        price: non_neg(&price, "changes[].price")?,
                        qty: non_neg(&size, "changes[].size")?,
                    };
                    match side_word(side.str("changes[].side")?, "changes[].side")? {
                        Side::Buy => bids.push(level),
                        Side::Sell => asks.push(level),
                    }
                    Ok(())
                },
            )?;
            let d = SpotDepth {
                venue: Venue::Coinbase,
                symbol: Some(symbol(&f.product_id, "product_id")?),
                is_snapshot: false,
                first_update_id: None,
                last_update_id: None,
                prev_update_id: None,
                bids,
                asks,
            };
            push(
                out,
                recv_ns,
                opt_time(&f.time, "time")?,
                EventKind::SpotDepth(d),
            );
            Ok(1)
        }
        "heartbeat" | "subscriptions" => Ok(0),
        "error" => {
            let message = f.message.opt_str("message")?.unwrap_or("(no message)");
            Err(ParseError::VenueError(
                match f.reason.opt_str("reason")? {
                    Some(reason) => format!("{message}: {reason}"),
                    None => message.to_owned(),
                },
            ))
        }
        other => {
            crate::unknown::note(|| format!("Coinbase message type {other:?}"));
            Ok(0)
        }
    }
}

/// `true` if an Advanced Trade `events[]` element is of a known `type` (`snapshot`, `update`,
/// or none given); otherwise it is counted as unknown and skipped.
fn known_at_event(ev: &AtEvent<'_>, channel: &str) -> Result<bool, ParseError> {
    match ev.kind.opt_str("events[].type")? {
        None | Some("snapshot" | "update") => Ok(true),
        Some(other) => {
            crate::unknown::note(|| format!("Coinbase {channel} event type {other:?}"));
            Ok(false)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Advanced Trade
// ---------------------------------------------------------------------------------------------

fn advanced(
    f: &Frame<'_>,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let channel = f.channel.str("channel")?;
    let envelope_ns = opt_time(&f.timestamp, "timestamp")?;
    let seq = f.sequence_num.opt_u64("sequence_num")?;
    let before = out.len();
    match channel {
        "heartbeats" | "subscriptions" => return Ok(0),
        "market_trades" => {
            each_row(f.events.get("events")?, "events", |ev: AtEvent<'_>, _| {
                if !known_at_event(&ev, channel)? {
                    return Ok(());
                }
                each_row(
                    ev.trades.get("events[].trades")?,
                    "events[].trades",
                    |t: AtTrade<'_>, _| at_trade(&t, envelope_ns, recv_ns, out),
                )
                .map(drop)
            })?;
        }
        "ticker" | "ticker_batch" => {
            each_row(f.events.get("events")?, "events", |ev: AtEvent<'_>, _| {
                if !known_at_event(&ev, channel)? {
                    return Ok(());
                }
                each_row(
                    ev.tickers.get("events[].tickers")?,
                    "events[].tickers",
                    |t: AtTicker<'_>, _| {
                        let q = SpotQuote {
                            venue: Venue::Coinbase,
                            symbol: symbol(&t.product_id, "events[].tickers[].product_id")?,
                            bid: non_neg(&t.best_bid, "events[].tickers[].best_bid")?,
                            bid_qty: non_neg(
                                &t.best_bid_quantity,
                                "events[].tickers[].best_bid_quantity",
                            )?,
                            ask: non_neg(&t.best_ask, "events[].tickers[].best_ask")?,
                            ask_qty: non_neg(
                                &t.best_ask_quantity,
                                "events[].tickers[].best_ask_quantity",
                            )?,
                            update_id: seq,
                        };
                        push(out, recv_ns, envelope_ns, EventKind::SpotQuote(q));
                        Ok(())
                    },
                )
                .map(drop)
            })?;
        }
        "l2_data" => {
            each_row(f.events.get("events")?, "events", |ev: AtEvent<'_>, _| {
                if !known_at_event(&ev, channel)? {
                    return Ok(());
                }
                let d = at_depth(&ev, seq)?;
                push(out, recv_ns, envelope_ns, EventKind::SpotDepth(d));
                Ok(())
            })?;
        }
        other => {
            crate::unknown::note(|| format!("Coinbase channel {other:?}"));
            return Ok(0);
        }
    }
    Ok(out.len() - before)
}

fn at_trade(
    t: &AtTrade<'_>,
    envelope_ns: Option<UnixNanos>,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<(), ParseError> {
    const SIDE: &str = "events[].trades[].side";
    let side = t.side.str(SIDE)?;
    // The reported side is the maker's; the taker is the opposite (see the module docs).
    let taker_side = if side.eq_ignore_ascii_case("UNKNOWN_ORDER_SIDE")
        || side.eq_ignore_ascii_case("UNKNOWN")
    {
        None
    } else {
        Some(opposite(side_word(side, SIDE)?))
    };
    let trade = SpotTrade {
        venue: Venue::Coinbase,
        symbol: symbol(&t.product_id, "events[].trades[].product_id")?,
        price: non_neg(&t.price, "events[].trades[].price")?,
        qty: non_neg(&t.size, "events[].trades[].size")?,
        taker_side,
        trade_id: t.trade_id.numeric_id("events[].trades[].trade_id")?,
    };
    let venue_ns = opt_time(&t.time, "events[].trades[].time")?.or(envelope_ns);
    push(out, recv_ns, venue_ns, EventKind::SpotTrade(trade));
    Ok(())
}

fn at_depth(ev: &AtEvent<'_>, seq: Option<u64>) -> Result<SpotDepth, ParseError> {
    let is_snapshot = match ev.kind.str("events[].type")? {
        "snapshot" => true,
        "update" => false,
        other => {
            return Err(ParseError::bad(
                "events[].type",
                format!("{other:?} is not snapshot or update"),
            ));
        }
    };
    let mut bids = Vec::new();
    let mut asks = Vec::new();
    each_row(
        ev.updates.get("events[].updates")?,
        "events[].updates",
        |u: AtLevel<'_>, _| {
            let level = SpotLevel {
                price: non_neg(&u.price_level, "events[].updates[].price_level")?,
                qty: non_neg(&u.new_quantity, "events[].updates[].new_quantity")?,
            };
            match u.side.str("events[].updates[].side")? {
                "bid" => bids.push(level),
                "offer" | "ask" => asks.push(level),
                other => {
                    return Err(ParseError::bad(
                        "events[].updates[].side",
                        format!("{other:?} is not bid or offer"),
                    ));
                }
            }
            Ok(())
        },
    )?;
    Ok(SpotDepth {
        venue: Venue::Coinbase,
        symbol: Some(symbol(&ev.product_id, "events[].product_id")?),
        is_snapshot,
        first_update_id: None,
        last_update_id: seq,
        prev_update_id: None,
        bids,
        asks,
    })
}

// ---------------------------------------------------------------------------------------------
// RFC 3339
// ---------------------------------------------------------------------------------------------

/// Parses an RFC 3339 timestamp such as `"2023-02-09T20:32:50.714964855Z"` or
/// `"2026-04-07T14:30:10.5+02:00"` exactly to nanoseconds since the Unix epoch (UTC).
///
/// Strict: `YYYY-MM-DD`, then `T` (or `t` or a space), `HH:MM:SS`, an optional fraction of 1–9
/// digits, then `Z`/`z` or a `±HH:MM` offset; nothing else. Calendar dates are checked (leap
/// years included); leap seconds (`:60`) and instants before 1970 are rejected. No `f64`.
///
/// # Errors
/// A short static reason when the text is not such a timestamp.
pub fn parse_rfc3339(text: &str) -> Result<UnixNanos, &'static str> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Result<u32, &'static str> {
        let part = b.get(from..from + len).ok_or("truncated")?;
        part.iter().try_fold(0u32, |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + u32::from(c - b'0'))
            } else {
                Err("expected a digit")
            }
        })
    };
    let sep = |at: usize, allowed: &[u8]| -> Result<(), &'static str> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err("bad separator (expected YYYY-MM-DDTHH:MM:SS)"),
        }
    };
    let year = digits(0, 4)?;
    sep(4, b"-")?;
    let month = digits(5, 2)?;
    sep(7, b"-")?;
    let day = digits(8, 2)?;
    sep(10, b"Tt ")?;
    let hour = digits(11, 2)?;
    sep(13, b":")?;
    let minute = digits(14, 2)?;
    sep(16, b":")?;
    let second = digits(17, 2)?;

    let mut i = 19;
    let mut nanos: u64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start == 9 {
                return Err("more than 9 fractional digits");
            }
            nanos = nanos * 10 + u64::from(c - b'0');
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err("empty fraction");
        }
        // n is 1..=9 here.
        nanos *= 10u64.pow(u32::try_from(9 - n).unwrap_or(0));
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(i + 1, 2)?;
            sep(i + 3, b":")?;
            let om = digits(i + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err("offset out of range");
            }
            i += 6;
            let v = i64::from(oh * 3600 + om * 60);
            if sign == b'-' { -v } else { v }
        }
        _ => return Err("missing time zone (Z or ±HH:MM)"),
    };
    if i != b.len() {
        return Err("trailing characters");
    }
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let secs = u64::try_from(secs).map_err(|_| "before 1970-01-01")?;
    secs.checked_mul(UnixNanos::PER_SEC)
        .and_then(|s| s.checked_add(nanos))
        .map(UnixNanos)
        .ok_or("out of range")
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian.
/// Algorithm: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms" (`days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_exact() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(UnixNanos(0)));
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Ok(UnixNanos::from_secs(951_782_400))
        );
        assert_eq!(
            parse_rfc3339("2026-04-13T12:00:00.000Z"),
            Ok(UnixNanos::from_secs(1_776_081_600))
        );
        assert_eq!(
            parse_rfc3339("2026-04-13T14:00:00.5+02:00"),
            Ok(UnixNanos(1_776_081_600_500_000_000))
        );
        assert_eq!(
            parse_rfc3339("2026-04-13T11:00:00.000000001-01:00"),
            Ok(UnixNanos(1_776_081_600_000_000_001))
        );
    }

    #[test]
    fn rfc3339_rejects() {
        for bad in [
            "",
            "2026-04-13",
            "2026-04-13T12:00:00",
            "2026-04-13T12:00:00.Z",
            "2026-04-13T12:00:00.0000000001Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-04-13T24:00:00Z",
            "2026-04-13T23:59:60Z",
            "2026-04-13T12:00:00Zx",
            "2026-04-13T12:00:00+2:00",
            "1969-12-31T23:59:59Z",
            "2026/04/13T12:00:00Z",
            "２026-04-13T12:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
