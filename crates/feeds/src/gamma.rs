//! Gamma REST (protocols.md §1): one market or event by slug, turned into a [`Window`] with its
//! tokens, tick size, minimum size, fee schedule and, once resolved, the official outcome and
//! the event's `priceToBeat` / `finalPrice`.
//!
//! Numbers are read from their raw JSON text (never through `f64`). Gamma's JSON-encoded string
//! arrays (`outcomes`, `clobTokenIds`, `outcomePrices`) are decoded twice. For a market with
//! `version: "v2"` the token ids come from `positionIds`. `version`, `cryptoMarketConfig`,
//! `feeType`, `resolutionSource` and the Gamma id go to the window's `notes`; the raw responses
//! are recorded on the control stream by [`discovery`](crate::discovery).

use bytes::Bytes;
use polyedge_core::{
    ConditionId, Fixed18, Outcome, OutcomeSource, Price, Size, TokenId, UnixNanos, Window,
};
use polyedge_store::import::ligengxin::parse_fee_schedule;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::FeedError;
use crate::http::Http;

/// A Gamma market as the collector uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketInfo {
    /// The window, filled from the market object.
    pub window: Window,
    /// `active && !closed && enableOrderBook && acceptingOrders` (a missing flag does not
    /// exclude); the end-time part of the tradable filter is checked by discovery.
    pub tradable: bool,
    /// `closed`.
    pub closed: bool,
    /// `outcomePrices` decided the outcome (`["1","0"]` / `["0","1"]`).
    pub resolved: bool,
}

/// Event-level data: the strike and final price, published after the window ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventInfo {
    /// `eventMetadata.priceToBeat`.
    pub price_to_beat: Option<Fixed18>,
    /// `eventMetadata.finalPrice`.
    pub final_price: Option<Fixed18>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMarket<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    condition_id: Option<String>,
    #[serde(default)]
    outcomes: Option<String>,
    #[serde(borrow, default)]
    clob_token_ids: Option<&'a RawValue>,
    #[serde(borrow, default)]
    position_ids: Option<&'a RawValue>,
    #[serde(borrow, default)]
    outcome_prices: Option<&'a RawValue>,
    #[serde(borrow, default)]
    order_price_min_tick_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    order_min_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    fee_schedule: Option<&'a RawValue>,
    #[serde(default)]
    fee_type: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    closed: Option<bool>,
    #[serde(default)]
    accepting_orders: Option<bool>,
    #[serde(default)]
    enable_order_book: Option<bool>,
    #[serde(default)]
    event_start_time: Option<String>,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(borrow, default)]
    crypto_market_config: Option<&'a RawValue>,
    #[serde(default)]
    resolution_source: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    event_metadata: Option<RawEventMetadata<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEventMetadata<'a> {
    #[serde(borrow, default)]
    price_to_beat: Option<&'a RawValue>,
    #[serde(borrow, default)]
    final_price: Option<&'a RawValue>,
}

/// A list of strings given either as a JSON array or as a JSON string holding one.
fn string_list(v: &RawValue) -> Result<Vec<String>, String> {
    let text = v.get();
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).map_err(|e| e.to_string())?;
        serde_json::from_str(&inner).map_err(|e| format!("{inner}: {e}"))
    } else {
        serde_json::from_str(text).map_err(|e| format!("{text}: {e}"))
    }
}

/// A number given as JSON number or string, as its decimal text.
fn number_text(v: &RawValue) -> String {
    v.get().trim_matches('"').to_string()
}

fn rfc3339_ns(s: &str) -> Option<UnixNanos> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    u64::try_from(t.timestamp_nanos_opt()?).ok().map(UnixNanos)
}

/// Turns one Gamma market object into a [`MarketInfo`], starting from `base` (the window the
/// slug names: asset, duration, start and end).
///
/// # Errors
/// [`FeedError::Gamma`] if the object is not JSON, names another slug, or its token ids or
/// outcomes are unusable. Unusable optional fields (tick, min size, fees) become notes.
pub fn parse_market(base: &Window, json: &str) -> Result<MarketInfo, FeedError> {
    let err = |message: String| FeedError::Gamma {
        slug: base.slug.clone(),
        message,
    };
    let m: RawMarket<'_> =
        serde_json::from_str(json).map_err(|e| err(format!("market object: {e}")))?;
    if let Some(s) = &m.slug
        && s != &base.slug
    {
        return Err(err(format!("Gamma answered with market {s}")));
    }
    let mut w = base.clone();
    w.notes.clear();
    if let Some(id) = m.id {
        w.notes.push(format!("gamma_id={}", number_text(id)));
    }
    if let Some(start) = m.event_start_time.as_deref().and_then(rfc3339_ns)
        && start != w.start
    {
        w.notes.push(format!(
            "eventStartTime {} differs from the slug's start {}; Gamma's used",
            start.to_rfc3339(),
            w.start.to_rfc3339()
        ));
        w.start = start;
    }
    if let Some(end) = m.end_date.as_deref().and_then(rfc3339_ns)
        && end != w.end
    {
        w.notes.push(format!(
            "endDate {} differs from start + duration {}; Gamma's used",
            end.to_rfc3339(),
            w.end.to_rfc3339()
        ));
        w.end = end;
    }
    if let Some(c) = &m.condition_id {
        w.condition_id = Some(ConditionId::parse(c).map_err(|e| err(format!("conditionId: {e}")))?);
    }
    let version = m.version.clone().unwrap_or_else(|| "v1".into());
    w.notes.push(format!("version={version}"));
    let labels: Vec<Outcome> = if let Some(text) = &m.outcomes {
        let names: Vec<String> =
            serde_json::from_str(text).map_err(|e| err(format!("outcomes {text:?}: {e}")))?;
        let labels = names
            .iter()
            .map(|n| n.parse::<Outcome>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(format!("outcomes: {e}")))?;
        if labels.len() != 2 || labels[0] == labels[1] {
            return Err(err(format!(
                "outcomes {text:?} is not [Up, Down] in some order"
            )));
        }
        labels
    } else {
        w.notes
            .push("outcomes missing: token order assumed [Up, Down]".into());
        w.token_sides_inferred = true;
        vec![Outcome::Up, Outcome::Down]
    };
    let ids_field = if version == "v2" {
        m.position_ids.or(m.clob_token_ids)
    } else {
        m.clob_token_ids
    };
    if let Some(ids) = ids_field {
        let ids = string_list(ids).map_err(|e| err(format!("token ids: {e}")))?;
        if ids.len() != 2 {
            return Err(err(format!("{} token ids, expected 2", ids.len())));
        }
        for (id, label) in ids.iter().zip(&labels) {
            let t = TokenId::parse(id).map_err(|e| err(format!("token id {id:?}: {e}")))?;
            match label {
                Outcome::Up => w.up_token = Some(t),
                Outcome::Down => w.down_token = Some(t),
            }
        }
    }
    if let Some(t) = m.order_price_min_tick_size {
        match Price::parse(&number_text(t)) {
            Ok(p) => w.tick_size = Some(p),
            Err(e) => w
                .notes
                .push(format!("orderPriceMinTickSize {} unusable: {e}", t.get())),
        }
    }
    if let Some(s) = m.order_min_size {
        match Size::parse(&number_text(s)) {
            Ok(v) => w.min_order_size = Some(v),
            Err(e) => w
                .notes
                .push(format!("orderMinSize {} unusable: {e}", s.get())),
        }
    }
    if let Some(f) = m.fee_schedule {
        match parse_fee_schedule(f.get()) {
            Ok(fs) => w.fee_schedule = Some(fs),
            Err(e) => w.notes.push(format!("{e}: fee_schedule unset")),
        }
    }
    if let Some(ft) = &m.fee_type {
        w.notes.push(format!("fee_type={ft}"));
    }
    if let Some(c) = m.crypto_market_config {
        w.notes.push(format!("cryptoMarketConfig={}", c.get()));
    }
    if let Some(r) = &m.resolution_source {
        w.notes.push(format!("resolutionSource={r}"));
    }
    let closed = m.closed.unwrap_or(false);
    let tradable = m.active.unwrap_or(true)
        && !closed
        && m.enable_order_book.unwrap_or(true)
        && m.accepting_orders.unwrap_or(true);
    let mut resolved = false;
    if closed && let Some(p) = m.outcome_prices {
        let prices = string_list(p).map_err(|e| err(format!("outcomePrices: {e}")))?;
        let parsed: Vec<Option<Price>> = prices.iter().map(|t| Price::parse(t).ok()).collect();
        let winner = match parsed.as_slice() {
            [Some(a), Some(b)] if *a == Price::ONE && *b == Price::ZERO => Some(labels[0]),
            [Some(a), Some(b)] if *a == Price::ZERO && *b == Price::ONE => Some(labels[1]),
            _ => None,
        };
        if let Some(o) = winner {
            w.outcome = Some(o);
            w.outcome_source = Some(OutcomeSource::Official);
            resolved = true;
        }
    }
    Ok(MarketInfo {
        window: w,
        tradable,
        closed,
        resolved,
    })
}

/// Reads `eventMetadata.priceToBeat` / `finalPrice` from one Gamma event object.
///
/// # Errors
/// [`FeedError::Gamma`] if it is not a JSON object or a price is not a plain decimal.
pub fn parse_event(slug: &str, json: &str) -> Result<EventInfo, FeedError> {
    let err = |message: String| FeedError::Gamma {
        slug: slug.to_string(),
        message,
    };
    let e: RawEvent<'_> =
        serde_json::from_str(json).map_err(|e| err(format!("event object: {e}")))?;
    let mut out = EventInfo::default();
    if let Some(md) = e.event_metadata {
        let num = |v: Option<&RawValue>, what: &str| -> Result<Option<Fixed18>, FeedError> {
            match v {
                None => Ok(None),
                Some(v) if v.get() == "null" => Ok(None),
                Some(v) => Fixed18::parse(&number_text(v))
                    .map(Some)
                    .map_err(|e| err(format!("eventMetadata.{what} {}: {e}", v.get()))),
            }
        };
        out.price_to_beat = num(md.price_to_beat, "priceToBeat")?;
        out.final_price = num(md.final_price, "finalPrice")?;
    }
    Ok(out)
}

/// The object for `slug` in a Gamma answer: from a JSON array body (Gamma answers `?slug=`
/// queries with an array) the element whose `slug` is `slug` — or, when no element names a slug
/// at all, the first object; the body itself if it is an object. `None` when nothing matches.
///
/// Forward compatibility: elements that are not objects are skipped and counted
/// ([`polyedge_venues::unknown`]); the matching market is still found among them.
///
/// # Errors
/// A message if the body is neither an array nor an object.
pub fn object_for_slug(body: &[u8], slug: &str) -> Result<Option<String>, String> {
    #[derive(Deserialize)]
    struct Slug<'a> {
        #[serde(borrow, default)]
        slug: Option<&'a str>,
    }
    let v: &RawValue = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let text = v.get();
    if text.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut first = None;
        let mut any_slug = false;
        for item in items {
            if !item.get().starts_with('{') {
                polyedge_venues::unknown::note(|| {
                    format!(
                        "Gamma answer element {}",
                        item.get().chars().take(40).collect::<String>()
                    )
                });
                continue;
            }
            let named = serde_json::from_str::<Slug<'_>>(item.get())
                .ok()
                .and_then(|s| s.slug);
            any_slug |= named.is_some();
            if named == Some(slug) {
                return Ok(Some(item.get().to_string()));
            }
            first.get_or_insert(item);
        }
        Ok(if any_slug {
            None
        } else {
            first.map(|i| i.get().to_string())
        })
    } else if text.starts_with('{') {
        Ok(Some(text.to_string()))
    } else {
        Err(format!(
            "expected an array or object, got {}",
            &text[..text.len().min(40)]
        ))
    }
}

/// A Gamma client for `base` (`https://gamma-api.polymarket.com`, or the sandbox's `/gamma`).
#[derive(Debug, Clone)]
pub struct Gamma {
    base: String,
    http: Http,
}

/// A raw Gamma answer: URL, status and body, for the control stream.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// The URL requested.
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// The body as received.
    pub body: Bytes,
}

impl Gamma {
    /// A client for `base`.
    pub fn new(base: &str, http: Http) -> Self {
        Gamma {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// `GET /markets?slug=…`.
    ///
    /// # Errors
    /// [`FeedError::Http`] on transport errors.
    pub async fn market_raw(&self, slug: &str) -> Result<RawAnswer, FeedError> {
        self.get(&format!("{}/markets?slug={slug}", self.base))
            .await
    }

    /// `GET /events?slug=…`.
    ///
    /// # Errors
    /// [`FeedError::Http`] on transport errors.
    pub async fn event_raw(&self, slug: &str) -> Result<RawAnswer, FeedError> {
        self.get(&format!("{}/events?slug={slug}", self.base)).await
    }

    async fn get(&self, url: &str) -> Result<RawAnswer, FeedError> {
        let r = self.http.get(url).await?;
        Ok(RawAnswer {
            url: url.to_string(),
            status: r.status,
            body: r.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read at run time (never `include_str!`), so that a clone without `../shared` compiles its
    /// tests; the test using it is ignored there (feature `shared-data`).
    const FIXTURE: &str = "../../../shared/fixtures/polymarket/gamma/btc_updown_5m_markets_2026-07-24_vendor_sample.jsonl";

    /// On a real Gamma market object (a vendor's free sample with no stated licence, so it stays
    /// in `../shared`; `fixtures/polymarket/gamma/` has our own hand-made one, tested below).
    #[test]
    #[cfg_attr(
        not(feature = "shared-data"),
        ignore = "needs ../shared/fixtures (the team's unlicensed vendor sample): run scripts/test beside ../shared"
    )]
    fn real_market_object_gives_tokens_fees_and_outcome() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the shared-data tests need ../shared)",
                path.display()
            )
        });
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let raw = line["raw"].to_string();
        let base = Window::from_slug("btc-updown-5m-1784851200").unwrap();
        let m = parse_market(&base, &raw).unwrap();
        assert!(m.closed && m.resolved && !m.tradable);
        assert_eq!(m.window.outcome, Some(Outcome::Down));
        assert_eq!(m.window.outcome_source, Some(OutcomeSource::Official));
        assert_eq!(
            m.window.up_token.unwrap().to_string(),
            "113284799581609751589891550166136992389699845333635525538167662371764318518311"
        );
        assert!(m.window.tick_size.is_some());
        assert_eq!(m.window.min_order_size, Some(Size::parse("5").unwrap()));
        assert_eq!(m.window.fee_schedule.unwrap().rate_ppm, 70_000);
        assert!(
            m.window
                .notes
                .iter()
                .any(|n| n == "fee_type=crypto_fees_v2")
        );
        assert!(m.window.notes.iter().any(|n| n == "version=v1"));
    }

    #[test]
    fn open_market_is_tradable_and_v2_uses_position_ids() {
        let base = Window::from_slug("btc-updown-5m-1784851200").unwrap();
        let json = r#"{"slug":"btc-updown-5m-1784851200","active":true,"closed":false,"acceptingOrders":true,
            "enableOrderBook":true,"outcomes":"[\"Down\",\"Up\"]","version":"v2","positionIds":["11","22"],
            "clobTokenIds":"[\"1\",\"2\"]","orderPriceMinTickSize":0.001,"orderMinSize":"5",
            "cryptoMarketConfig":{"id":"btc-5m-twap-60","twapEnabled":true}}"#;
        let m = parse_market(&base, json).unwrap();
        assert!(m.tradable && !m.resolved);
        assert_eq!(m.window.down_token.unwrap().to_string(), "11");
        assert_eq!(m.window.up_token.unwrap().to_string(), "22");
        assert_eq!(m.window.tick_size, Some(Price::parse("0.001").unwrap()));
        assert!(
            m.window
                .notes
                .iter()
                .any(|n| n.starts_with("cryptoMarketConfig="))
        );
        let e = parse_market(&base, r#"{"slug":"eth-updown-5m-1"}"#).unwrap_err();
        assert!(e.to_string().contains("eth-updown-5m-1"));
    }

    #[test]
    fn event_metadata_prices_are_exact() {
        let e = parse_event(
            "s",
            r#"{"eventMetadata":{"priceToBeat":65048.0789,"finalPrice":"64977.7428"}}"#,
        )
        .unwrap();
        assert_eq!(e.price_to_beat, Some(Fixed18::parse("65048.0789").unwrap()));
        assert_eq!(e.final_price, Some(Fixed18::parse("64977.7428").unwrap()));
        assert_eq!(parse_event("s", "{}").unwrap(), EventInfo::default());
        assert_eq!(object_for_slug(b"[]", "s").unwrap(), None);
        assert_eq!(
            object_for_slug(br#"[{"a":1},{"b":2}]"#, "s")
                .unwrap()
                .as_deref(),
            Some(r#"{"a":1}"#)
        );
    }

    /// Our own hand-made market object (the documented Gamma field set, made-up ids). The path is
    /// this repository's `fixtures/` (tracked), not `../shared`: compiled in, a fresh clone has it.
    const OWN_MARKET: &str =
        include_str!("../../../fixtures/polymarket/gamma/market_btc_updown_5m_synthetic.json");

    #[test]
    fn own_market_fixture_gives_tokens_fees_and_outcome() {
        let base = Window::from_slug("btc-updown-5m-1784851200").unwrap();
        let m = parse_market(&base, OWN_MARKET).unwrap();
        assert!(m.closed && m.resolved && !m.tradable);
        assert_eq!(m.window.outcome, Some(Outcome::Up));
        assert_eq!(m.window.up_token.unwrap().to_string(), "1111");
        assert_eq!(m.window.down_token.unwrap().to_string(), "2222");
        assert_eq!(m.window.tick_size, Some(Price::parse("0.01").unwrap()));
        assert_eq!(
            m.window.fee_schedule,
            Some(polyedge_core::FeeSchedule::CRYPTO_V2)
        );
    }

    /// Issue 15 item 3: an answer mixing elements of an unknown shape and another market with
    /// the market asked for still yields that market; a fee exponent out of range is refused
    /// (a note on the window) without losing the rest.
    #[test]
    fn mixed_answer_finds_the_market_and_counts_unknown_elements() {
        let other = OWN_MARKET.replace("btc-updown-5m-1784851200", "btc-updown-5m-1784851500");
        let body = format!(r#"["maintenance notice", {other}, 7, {OWN_MARKET}]"#);
        let before = polyedge_venues::unknown::skipped();
        let obj = object_for_slug(body.as_bytes(), "btc-updown-5m-1784851200")
            .unwrap()
            .unwrap();
        assert_eq!(polyedge_venues::unknown::skipped() - before, 2);
        let base = Window::from_slug("btc-updown-5m-1784851200").unwrap();
        assert_eq!(
            parse_market(&base, &obj)
                .unwrap()
                .window
                .up_token
                .unwrap()
                .to_string(),
            "1111"
        );
        assert_eq!(
            object_for_slug(body.as_bytes(), "btc-updown-5m-1").unwrap(),
            None,
            "no element for that slug"
        );
        let bad_fee = OWN_MARKET.replace("\"exponent\": 1", "\"exponent\": 7");
        assert_ne!(bad_fee, OWN_MARKET);
        let m = parse_market(&base, &bad_fee).unwrap();
        assert_eq!(m.window.fee_schedule, None);
        assert!(
            m.window.notes.iter().any(|n| n.contains("fee exponent 7")),
            "{:?}",
            m.window.notes
        );
        assert_eq!(m.window.outcome, Some(Outcome::Up));
    }
}
