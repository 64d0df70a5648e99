//! Which connections a recorded frame goes to: the endpoint kind of its feed, and what in the
//! frame a subscription can select (asset ids, RTDS topic/symbol, Binance stream name).
//! Rules: `docs/sandbox.md` §2.

use std::borrow::Cow;
use std::ops::Range;

use polyedge_venues::Feed;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// A kind of WebSocket endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// Polymarket market channel `/ws/market`.
    Market,
    /// Polymarket RTDS `/rtds`.
    Rtds,
    /// Binance spot `/binance…`.
    BinanceSpot,
    /// Binance USDⓈ-M `/binance-usdm…`.
    BinanceUsdm,
}

impl Endpoint {
    /// All endpoint kinds.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Market,
        Endpoint::Rtds,
        Endpoint::BinanceSpot,
        Endpoint::BinanceUsdm,
    ];

    /// The endpoint serving frames of `feed`, if any.
    pub fn of_feed(feed: Feed) -> Option<Endpoint> {
        match feed {
            Feed::PolymarketMarket => Some(Endpoint::Market),
            Feed::Rtds => Some(Endpoint::Rtds),
            Feed::BinanceSpot => Some(Endpoint::BinanceSpot),
            Feed::BinanceUsdm => Some(Endpoint::BinanceUsdm),
            _ => None,
        }
    }

    /// The feed of the frames served here.
    pub fn feed(self) -> Feed {
        match self {
            Endpoint::Market => Feed::PolymarketMarket,
            Endpoint::Rtds => Feed::Rtds,
            Endpoint::BinanceSpot => Feed::BinanceSpot,
            Endpoint::BinanceUsdm => Feed::BinanceUsdm,
        }
    }

    /// Short name for logs and gates (`market`, `rtds`, `binance`, `binance-usdm`).
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Market => "market",
            Endpoint::Rtds => "rtds",
            Endpoint::BinanceSpot => "binance",
            Endpoint::BinanceUsdm => "binance-usdm",
        }
    }

    /// `true` for the two Binance hosts.
    pub fn is_binance(self) -> bool {
        matches!(self, Endpoint::BinanceSpot | Endpoint::BinanceUsdm)
    }
}

/// What a subscription can select in a recorded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A market-channel frame.
    Market {
        /// Asset ids the frame concerns (empty: names none, goes to every subscriber).
        assets: Vec<String>,
        /// `book` events in it: asset id and the byte range of the event object in the frame.
        books: Vec<(String, Range<usize>)>,
    },
    /// An RTDS frame.
    Rtds {
        /// Effective topic (`None`: no topic, goes to every subscriber).
        topic: Option<String>,
        /// Envelope `type`.
        kind: Option<String>,
        /// `payload.symbol`, lowercased.
        symbol: Option<String>,
    },
    /// A Binance frame.
    Binance {
        /// Normalized stream name (see [`normalize_binance_stream`]); `None`: unknown, goes to
        /// every connection of the host.
        stream: Option<String>,
    },
}

/// Recorded heartbeat texts: not replayed (the sandbox answers heartbeats itself).
pub fn is_heartbeat(bytes: &[u8]) -> bool {
    matches!(bytes, b"PING" | b"PONG" | b"ping" | b"pong")
}

/// Classifies a recorded frame of `endpoint`. `None`: a control frame that is not replayed
/// (heartbeats; Binance `{"result":…,"id":…}` replies to a recorder's requests).
pub fn classify(endpoint: Endpoint, bytes: &[u8]) -> Option<Route> {
    if is_heartbeat(bytes) {
        return None;
    }
    match endpoint {
        Endpoint::Market => Some(classify_market(bytes)),
        Endpoint::Rtds => Some(classify_rtds(bytes)),
        Endpoint::BinanceSpot | Endpoint::BinanceUsdm => classify_binance(bytes),
    }
}

#[derive(Deserialize)]
struct AssetOnly<'a> {
    #[serde(borrow, default)]
    asset_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MarketEvent<'a> {
    #[serde(borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    asset_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    price_changes: Option<Vec<AssetOnly<'a>>>,
    #[serde(borrow, default)]
    assets_ids: Option<Vec<Cow<'a, str>>>,
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// Adds the assets of one market event object (`raw`, at `range` in the frame).
fn market_object(
    raw: &str,
    range: Range<usize>,
    assets: &mut Vec<String>,
    books: &mut Vec<(String, Range<usize>)>,
) {
    let Ok(ev) = serde_json::from_str::<MarketEvent<'_>>(raw) else {
        return;
    };
    if let Some(a) = ev.asset_id.as_deref() {
        push_unique(assets, a);
        if ev.event_type.as_deref() == Some("book") {
            books.push((a.to_owned(), range));
        }
    }
    for pc in ev.price_changes.iter().flatten() {
        if let Some(a) = pc.asset_id.as_deref() {
            push_unique(assets, a);
        }
    }
    for a in ev.assets_ids.iter().flatten() {
        push_unique(assets, a);
    }
}

/// Byte offset of `part` (a subslice of `whole`) in `whole`.
fn offset_in(whole: &[u8], part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

fn classify_market(bytes: &[u8]) -> Route {
    let mut assets = Vec::new();
    let mut books = Vec::new();
    if let Ok(text) = std::str::from_utf8(bytes) {
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) {
                for item in items {
                    let raw = item.get();
                    let start = offset_in(bytes, raw);
                    market_object(raw, start..start + raw.len(), &mut assets, &mut books);
                }
            }
        } else if trimmed.starts_with('{') {
            market_object(text, 0..bytes.len(), &mut assets, &mut books);
        }
    }
    Route::Market { assets, books }
}

#[derive(Deserialize)]
struct RtdsPayload<'a> {
    #[serde(borrow, default)]
    symbol: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RtdsEnvelope<'a> {
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<RtdsPayload<'a>>,
}

fn classify_rtds(bytes: &[u8]) -> Route {
    let Ok(env) = serde_json::from_slice::<RtdsEnvelope<'_>>(bytes) else {
        return Route::Rtds {
            topic: None,
            kind: None,
            symbol: None,
        };
    };
    let symbol = env
        .payload
        .and_then(|p| p.symbol)
        .map(|s| s.to_ascii_lowercase());
    let topic = env.topic.map(|t| {
        // The venue labels the Chainlink backfill `crypto_prices` (protocols.md §7.1).
        if t == "crypto_prices" && symbol.as_deref().is_some_and(|s| s.contains('/')) {
            "crypto_prices_chainlink".to_owned()
        } else {
            t.into_owned()
        }
    });
    Route::Rtds {
        topic,
        kind: env.kind.map(Cow::into_owned),
        symbol,
    }
}

#[derive(Deserialize)]
struct KlineInner<'a> {
    #[serde(borrow, default)]
    i: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OrderInner<'a> {
    #[serde(borrow, default)]
    s: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(clippy::struct_field_names)]
struct BinanceFrame<'a> {
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(default)]
    result: Option<IgnoredAny>,
    #[serde(default)]
    id: Option<IgnoredAny>,
    #[serde(borrow, default)]
    e: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    s: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    k: Option<KlineInner<'a>>,
    #[serde(borrow, default)]
    o: Option<OrderInner<'a>>,
    #[serde(default)]
    u: Option<IgnoredAny>,
    #[serde(default)]
    b: Option<IgnoredAny>,
    #[serde(default)]
    a: Option<IgnoredAny>,
}

fn classify_binance(bytes: &[u8]) -> Option<Route> {
    let Ok(f) = serde_json::from_slice::<BinanceFrame<'_>>(bytes) else {
        return Some(Route::Binance { stream: None });
    };
    if f.id.is_some() && f.e.is_none() && f.stream.is_none() {
        // `{"result":null,"id":1}`: the recorder's own SUBSCRIBE answered; not replayed.
        let _ = f.result;
        return None;
    }
    if let Some(s) = f.stream {
        return Some(Route::Binance {
            stream: Some(normalize_binance_stream(&s)),
        });
    }
    let sym = f.s.as_deref().map(str::to_ascii_lowercase);
    let stream = match (f.e.as_deref(), sym) {
        (Some("kline"), Some(sym)) => f.k.and_then(|k| k.i).map(|i| format!("{sym}@kline_{i}")),
        (Some("forceOrder"), _) => {
            f.o.and_then(|o| o.s)
                .map(|s| format!("{}@forceOrder", s.to_ascii_lowercase()))
        }
        (Some(e), Some(sym)) => Some(match e {
            "depthUpdate" => format!("{sym}@depth"),
            "markPriceUpdate" => format!("{sym}@markPrice"),
            "24hrTicker" => format!("{sym}@ticker"),
            "24hrMiniTicker" => format!("{sym}@miniTicker"),
            other => format!("{sym}@{other}"),
        }),
        (None, Some(sym)) if f.u.is_some() && f.b.is_some() && f.a.is_some() => {
            Some(format!("{sym}@bookTicker"))
        }
        _ => None,
    };
    Some(Route::Binance {
        stream: stream.map(|s| normalize_binance_stream(&s)),
    })
}

/// Update-speed suffixes ignored when matching Binance stream names.
const SPEED_SUFFIXES: [&str; 5] = ["@100ms", "@250ms", "@500ms", "@1000ms", "@1s"];

/// A Binance stream name for matching: ASCII-lowercased, without an update-speed suffix
/// (`BTCUSDT@depth@100ms` → `btcusdt@depth`).
pub fn normalize_binance_stream(name: &str) -> String {
    let mut s = name.trim().to_ascii_lowercase();
    for suf in SPEED_SUFFIXES {
        if s.len() > suf.len() && s.ends_with(suf) {
            s.truncate(s.len() - suf.len());
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_frames_name_their_assets_and_books() {
        let one = br#"{"market":"0x1","asset_id":"123","bids":[],"asks":[],"event_type":"book"}"#;
        assert_eq!(
            classify(Endpoint::Market, one),
            Some(Route::Market {
                assets: vec!["123".into()],
                books: vec![("123".into(), 0..one.len())]
            })
        );
        let arr = br#"[{"asset_id":"1","event_type":"book","bids":[]}, {"asset_id":"2","event_type":"book"}]"#;
        let Some(Route::Market { assets, books }) = classify(Endpoint::Market, arr) else {
            panic!("market route")
        };
        assert_eq!(assets, ["1", "2"]);
        let (a, r) = &books[1];
        assert_eq!(a, "2");
        assert_eq!(&arr[r.clone()], br#"{"asset_id":"2","event_type":"book"}"#);
        let pc = br#"{"market":"0x1","price_changes":[{"asset_id":"7","price":"0.5"},{"asset_id":"8"}],"event_type":"price_change"}"#;
        assert_eq!(
            classify(Endpoint::Market, pc),
            Some(Route::Market {
                assets: vec!["7".into(), "8".into()],
                books: vec![]
            })
        );
        assert_eq!(classify(Endpoint::Market, b"PONG"), None);
        assert_eq!(
            classify(Endpoint::Market, b"{not json"),
            Some(Route::Market {
                assets: vec![],
                books: vec![]
            })
        );
    }

    #[test]
    fn rtds_backfill_of_chainlink_is_routed_to_the_chainlink_topic() {
        let f = br#"{"topic":"crypto_prices","type":"subscribe","payload":{"symbol":"btc/usd","data":[]}}"#;
        assert_eq!(
            classify(Endpoint::Rtds, f),
            Some(Route::Rtds {
                topic: Some("crypto_prices_chainlink".into()),
                kind: Some("subscribe".into()),
                symbol: Some("btc/usd".into())
            })
        );
    }

    #[test]
    fn binance_stream_names_are_derived() {
        let k = br#"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":0,"i":"1m","x":true}}"#;
        assert_eq!(
            classify(Endpoint::BinanceUsdm, k),
            Some(Route::Binance {
                stream: Some("btcusdt@kline_1m".into())
            })
        );
        let bt = br#"{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}"#;
        assert_eq!(
            classify(Endpoint::BinanceSpot, bt),
            Some(Route::Binance {
                stream: Some("btcusdt@bookticker".into())
            })
        );
        let w = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate"}}"#;
        assert_eq!(
            classify(Endpoint::BinanceSpot, w),
            Some(Route::Binance {
                stream: Some("btcusdt@depth".into())
            })
        );
        assert_eq!(
            classify(Endpoint::BinanceSpot, br#"{"result":null,"id":1}"#),
            None
        );
        assert_eq!(
            normalize_binance_stream("BTCUSDT@markPrice@1s"),
            "btcusdt@markprice"
        );
    }
}
