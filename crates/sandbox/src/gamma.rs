//! Gamma REST (protocols.md §1) built from the recordings' window index and the sandbox clock
//! (`docs/sandbox.md` §4). JSON shapes follow the venue's market and event objects; values the
//! index does not hold are defaulted as documented.

use polyedge_core::{FeeSchedule, Outcome, TokenId, UnixNanos, Window};
use serde_json::{Value, json};

/// Largest (and default) page size of the listings, as the venue clamps `limit`.
pub const MAX_LIMIT: usize = 100;

/// An HTTP answer: status code and JSON body.
pub type Answer = (u16, Value);

/// Answers `GET /gamma<rest>?<query>` at sandbox time `now_ns`. `windows` sorted by start.
pub fn answer(rest: &str, query: Option<&str>, windows: &[Window], now_ns: u64) -> Answer {
    let q: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let slugs: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "slug")
        .map(|(_, v)| v.as_str())
        .collect();
    let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let rest = rest.trim_end_matches('/');
    let (kind, by_slug) = if let Some(s) = rest.strip_prefix("/markets/slug/") {
        ("markets", Some(s))
    } else if let Some(s) = rest.strip_prefix("/events/slug/") {
        ("events", Some(s))
    } else if rest == "/markets" {
        ("markets", None)
    } else if rest == "/events" {
        ("events", None)
    } else {
        return (
            404,
            json!({"error": format!("no such Gamma route: /gamma{rest}")}),
        );
    };
    let render = |i: usize, w: &Window| {
        if kind == "markets" {
            market_json(i, w, now_ns)
        } else {
            event_json(i, w, now_ns)
        }
    };
    if let Some(slug) = by_slug {
        return match windows.iter().enumerate().find(|(_, w)| w.slug == slug) {
            Some((i, w)) => (200, render(i, w)),
            None => (
                404,
                json!({"error": format!("no {kind} with slug {slug:?}")}),
            ),
        };
    }
    if !slugs.is_empty() {
        let list: Vec<Value> = windows
            .iter()
            .enumerate()
            .filter(|(_, w)| slugs.contains(&w.slug.as_str()))
            .map(|(i, w)| render(i, w))
            .collect();
        return (200, Value::Array(list));
    }
    let closed = match param("closed") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return (
                400,
                json!({"error": format!("closed={other:?}: expected true or false")}),
            );
        }
    };
    let number = |name: &str, default: usize| -> Result<usize, Answer> {
        match param(name) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                (
                    400,
                    json!({"error": format!("{name}={v:?}: expected a non-negative integer")}),
                )
            }),
        }
    };
    let limit = match number("limit", MAX_LIMIT) {
        Ok(l) => l.min(MAX_LIMIT),
        Err(a) => return a,
    };
    let offset = match number("offset", 0) {
        Ok(o) => o,
        Err(a) => return a,
    };
    let list: Vec<Value> = windows
        .iter()
        .enumerate()
        .filter(|(_, w)| closed.is_none_or(|c| is_closed(w, now_ns) == c))
        .skip(offset)
        .take(limit)
        .map(|(i, w)| render(i, w))
        .collect();
    (200, Value::Array(list))
}

/// The window is over at sandbox time `now_ns` (strictly past its end).
pub fn is_closed(w: &Window, now_ns: u64) -> bool {
    now_ns > w.end.0
}

/// RFC 3339 UTC as the venue writes it (`2026-07-23T23:55:00Z`; milliseconds only if non-zero).
fn iso(t: UnixNanos) -> String {
    let s = t.to_rfc3339();
    s.strip_suffix(".000Z")
        .map_or(s.clone(), |p| format!("{p}Z"))
}

fn tokens(w: &Window) -> (TokenId, TokenId, bool) {
    let synthetic = w.up_token.is_none() || w.down_token.is_none();
    (
        w.up_token
            .unwrap_or_else(|| TokenId::synthetic(&w.slug, "up")),
        w.down_token
            .unwrap_or_else(|| TokenId::synthetic(&w.slug, "down")),
        synthetic,
    )
}

fn asset_name(w: &Window) -> &'static str {
    use polyedge_core::Asset;
    match w.asset {
        Asset::Btc => "Bitcoin",
        Asset::Eth => "Ethereum",
        Asset::Sol => "Solana",
        Asset::Xrp => "XRP",
        _ => "Crypto",
    }
}

/// The Gamma market object of window `w` (index `i` by start).
pub fn market_json(i: usize, w: &Window, now_ns: u64) -> Value {
    let (up, down, synthetic) = tokens(w);
    let closed = is_closed(w, now_ns);
    // The market's own schedule when the index has it, else the regime in force at the start.
    let fees = polyedge_engine::fee_schedule_at(w.start, w.duration, w.fee_schedule.as_ref());
    let fee_type = if fees == FeeSchedule::CRYPTO_V2 {
        "crypto_fees_v2"
    } else if fees == polyedge_engine::fee_regime::CRYPTO_2026Q1 {
        "crypto_15_min"
    } else {
        "custom"
    };
    let tick = w.tick_size.map_or(0.01, polyedge_core::Price::to_f64);
    let min_size = w.min_order_size.map_or(5.0, polyedge_core::Size::to_f64);
    let outcome_prices = match (closed, w.outcome) {
        (true, Some(Outcome::Up)) => r#"["1", "0"]"#,
        (true, Some(Outcome::Down)) => r#"["0", "1"]"#,
        _ => r#"["0.5", "0.5"]"#,
    };
    let mut m = json!({
        "id": (i + 1).to_string(),
        "slug": w.slug,
        "question": format!("{} Up or Down - {}", asset_name(w), w.slug),
        "outcomes": r#"["Up", "Down"]"#,
        "clobTokenIds": format!(r#"["{up}", "{down}"]"#),
        "outcomePrices": outcome_prices,
        "eventStartTime": iso(w.start),
        "endDate": iso(w.end),
        "orderPriceMinTickSize": tick,
        "orderMinSize": min_size,
        "feesEnabled": fees.rate_ppm > 0,
        "feeType": fee_type,
        "feeSchedule": {
            "rate": f64::from(fees.rate_ppm) / 1e6,
            "exponent": fees.exponent,
            "takerOnly": fees.taker_only,
            "rebateRate": f64::from(fees.rebate_rate_ppm) / 1e6,
        },
        "negRisk": false,
        "enableOrderBook": true,
        "active": true,
        "acceptingOrders": now_ns < w.end.0,
        "closed": closed,
        "archived": false,
        "automaticallyResolved": true,
        "version": "v1",
    });
    if let Some(c) = w.condition_id {
        m["conditionId"] = json!(c.to_string());
    }
    if synthetic {
        m["sandboxSyntheticTokens"] = json!(true);
    }
    if closed {
        m["closedTime"] = json!(iso(w.end));
        if w.outcome.is_some() {
            m["umaResolutionStatus"] = json!("resolved");
        }
    }
    m
}

/// The Gamma event object of window `w`, with its market nested.
pub fn event_json(i: usize, w: &Window, now_ns: u64) -> Value {
    let closed = is_closed(w, now_ns);
    let mut e = json!({
        "id": (i + 1).to_string(),
        "slug": w.slug,
        "title": format!("{} Up or Down - {}", asset_name(w), w.slug),
        "startTime": iso(w.start),
        "endDate": iso(w.end),
        "active": true,
        "closed": closed,
        "series": [{"slug": format!("{}-up-or-down-{}", w.asset.ticker().to_ascii_lowercase(), w.duration.label())}],
        "markets": [market_json(i, w, now_ns)],
    });
    if closed {
        let mut meta = serde_json::Map::new();
        if let Some(s) = w.strike {
            meta.insert("priceToBeat".into(), json!(s.to_f64()));
        }
        if let Some(f) = w.final_price {
            meta.insert("finalPrice".into(), json!(f.to_f64()));
        }
        e["eventMetadata"] = Value::Object(meta);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::{Asset, WindowDuration};

    fn window() -> Window {
        let mut w = Window::new(
            "btc-updown-5m-1776257400",
            Asset::Btc,
            WindowDuration::M5,
            1_776_257_400,
        );
        w.up_token = Some(TokenId::synthetic("x", "u"));
        w.down_token = Some(TokenId::synthetic("x", "d"));
        w.outcome = Some(Outcome::Down);
        w
    }

    #[test]
    fn resolution_appears_only_after_the_end() {
        let w = window();
        let before = market_json(0, &w, w.end.0);
        assert_eq!(before["closed"], json!(false));
        assert_eq!(before["outcomePrices"], json!(r#"["0.5", "0.5"]"#));
        let after = market_json(0, &w, w.end.0 + 1);
        assert_eq!(after["closed"], json!(true));
        assert_eq!(after["outcomePrices"], json!(r#"["0", "1"]"#));
        assert_eq!(after["eventStartTime"], json!("2026-04-15T12:50:00Z"));
    }

    #[test]
    fn listing_routes() {
        let ws = [window()];
        assert_eq!(
            answer("/markets", Some("slug=nope"), &ws, 0),
            (200, json!([]))
        );
        assert_eq!(answer("/markets/slug/nope", None, &ws, 0).0, 404);
        assert_eq!(
            answer("/events", Some("closed=false"), &ws, 0)
                .1
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(answer("/events", Some("closed=maybe"), &ws, 0).0, 400);
        assert_eq!(answer("/nope", None, &ws, 0).0, 404);
    }
}
