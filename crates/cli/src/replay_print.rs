//! `polyedge replay`'s output: one JSON object per event, with every price, size and amount as
//! an exact **decimal string** (`"0.51"`, `"74324.5"`) instead of the scaled integers the types
//! store (`510000` micro-units, `74324500000000000000000` 1e-18 units). Times stay integers
//! (nanoseconds since the epoch); everything else is the event's own serde form.

use polyedge_core::event::{Level, SpotLevel};
use polyedge_core::{EventKind, MarketEvent};
use serde_json::{Map, Value};

// Every argument is a small `Copy` number type; by value reads best at the call sites.
#[allow(clippy::needless_pass_by_value)]
fn s<T: ToString>(v: T) -> Value {
    Value::String(v.to_string())
}

fn opt<T: ToString>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |x| s(x))
}

fn set(m: &mut Map<String, Value>, key: &str, v: Value) {
    m.insert(key.to_string(), v);
}

fn levels(ls: &[Level]) -> Value {
    Value::Array(
        ls.iter()
            .map(|l| serde_json::json!({ "price": s(l.price), "size": s(l.size) }))
            .collect(),
    )
}

fn spot_levels(ls: &[SpotLevel]) -> Value {
    Value::Array(
        ls.iter()
            .map(|l| serde_json::json!({ "price": s(l.price), "qty": s(l.qty) }))
            .collect(),
    )
}

/// `ev` as JSON with decimal strings for every price, size and amount (module docs).
///
/// # Errors
/// Serialization failure (not expected).
pub fn event_json(ev: &MarketEvent) -> Result<Value, serde_json::Error> {
    // Through text, not `to_value`: the 1e-18 fixed-point fields are i128, which `Value` cannot
    // hold above u64 ("number out of range"); parsed back they are approximate floats, and
    // every one of them is replaced by its exact decimal string below.
    let mut v: Value = serde_json::from_str(&serde_json::to_string(ev)?)?;
    let Some(Value::Object(kind)) = v.get_mut("kind") else {
        return Ok(v);
    };
    let Some((_, Value::Object(m))) = kind.iter_mut().next() else {
        return Ok(v);
    };
    match &ev.kind {
        EventKind::Book(b) => {
            set(m, "bids", levels(&b.bids));
            set(m, "asks", levels(&b.asks));
            set(m, "tick_size", opt(b.tick_size));
            set(m, "last_trade_price", opt(b.last_trade_price));
        }
        EventKind::BookDelta(d) => {
            set(m, "price", s(d.price));
            set(m, "size", s(d.size));
            set(m, "best_bid", opt(d.best_bid));
            set(m, "best_ask", opt(d.best_ask));
        }
        EventKind::LastTrade(t) => {
            set(m, "price", s(t.price));
            set(m, "size", s(t.size));
        }
        EventKind::TickSizeChange(t) => {
            set(m, "old_tick", s(t.old_tick));
            set(m, "new_tick", s(t.new_tick));
        }
        EventKind::BestBidAsk(b) => {
            set(m, "bid", opt(b.bid));
            set(m, "ask", opt(b.ask));
            set(m, "bid_size", opt(b.bid_size));
            set(m, "ask_size", opt(b.ask_size));
        }
        EventKind::Reference(r) => set(m, "price", s(r.price)),
        EventKind::SpotTrade(t) => {
            set(m, "price", s(t.price));
            set(m, "qty", s(t.qty));
        }
        EventKind::SpotQuote(q) => {
            set(m, "bid", s(q.bid));
            set(m, "bid_qty", s(q.bid_qty));
            set(m, "ask", s(q.ask));
            set(m, "ask_qty", s(q.ask_qty));
        }
        EventKind::SpotDepth(d) => {
            set(m, "bids", spot_levels(&d.bids));
            set(m, "asks", spot_levels(&d.asks));
        }
        EventKind::Kline(k) => {
            for (key, x) in [
                ("open", k.open),
                ("high", k.high),
                ("low", k.low),
                ("close", k.close),
                ("volume", k.volume),
            ] {
                set(m, key, s(x));
            }
        }
        EventKind::Liquidation(l) => {
            for (key, x) in [
                ("price", l.price),
                ("avg_price", l.avg_price),
                ("qty", l.qty),
                ("filled_qty", l.filled_qty),
            ] {
                set(m, key, s(x));
            }
        }
        EventKind::MarkPrice(p) => {
            set(m, "mark", s(p.mark));
            set(m, "index", s(p.index));
            set(m, "funding_rate", s(p.funding_rate));
        }
        EventKind::VolIndex(x) => set(m, "value", s(x.value)),
        EventKind::WindowUpdate(w) => {
            for (key, x) in [("strike", w.strike), ("final_price", w.final_price)] {
                if let Some(x) = x {
                    set(m, key, s(x));
                }
            }
            if let Some(t) = w.tick_size {
                set(m, "tick_size", s(t));
            }
            if let Some(x) = w.min_order_size {
                set(m, "min_order_size", s(x));
            }
        }
        EventKind::NewMarket(_) | EventKind::MarketResolved(_) | EventKind::Gap(_) => {}
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use polyedge_core::event::{BookSnapshot, ReferenceSource, ReferenceTick};
    use polyedge_core::{ConditionId, Fixed18, Price, Size, Symbol, TokenId, UnixNanos};

    #[test]
    fn prices_and_sizes_print_as_decimal_strings() {
        let ev = MarketEvent {
            recv_ns: UnixNanos(5),
            venue_ns: None,
            kind: EventKind::Book(BookSnapshot {
                market: ConditionId::default(),
                token: TokenId::parse("2").unwrap(),
                bids: vec![Level {
                    price: Price::parse("0.51").unwrap(),
                    size: Size::from_shares(12),
                }],
                asks: vec![],
                hash: None,
                tick_size: Some(Price::parse("0.01").unwrap()),
                last_trade_price: None,
            }),
        };
        let v = event_json(&ev).unwrap();
        let text = v.to_string();
        assert!(!text.contains("510000"), "{text}");
        assert_eq!(v["kind"]["Book"]["bids"][0]["price"], "0.51", "{text}");
        assert_eq!(v["kind"]["Book"]["bids"][0]["size"], "12", "{text}");
        assert_eq!(v["kind"]["Book"]["tick_size"], "0.01");
        assert_eq!(v["recv_ns"], 5);
        let ev = MarketEvent {
            recv_ns: UnixNanos(1),
            venue_ns: Some(UnixNanos(1)),
            kind: EventKind::Reference(ReferenceTick {
                source: ReferenceSource::Chainlink,
                symbol: Symbol::new("btc/usd").unwrap(),
                price: Fixed18::parse("74324.5").unwrap(),
                backfill: false,
            }),
        };
        let v = event_json(&ev).unwrap();
        assert_eq!(v["kind"]["Reference"]["price"], "74324.5", "{v}");
    }
}
