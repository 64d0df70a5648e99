//! A connection's subscriptions, and whether a recorded frame's [`Route`] matches them.

use std::collections::BTreeSet;

use crate::route::{Endpoint, Route, normalize_binance_stream};

/// One RTDS subscription (`{"topic","type","filters"}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RtdsSub {
    /// Topic, e.g. `crypto_prices_chainlink`.
    pub topic: String,
    /// Message type, `*` for all.
    pub kind: String,
    /// Symbols selected by `filters` (lowercased), `None` for all.
    pub symbols: Option<Vec<String>>,
}

impl RtdsSub {
    /// Parses the `filters` string: empty/absent → all symbols; a JSON object with `symbol`;
    /// a JSON array of strings; otherwise a comma list.
    pub fn parse_filters(filters: Option<&str>) -> Option<Vec<String>> {
        let f = filters.map(str::trim).filter(|f| !f.is_empty())?;
        let list: Vec<String> = match serde_json::from_str::<serde_json::Value>(f) {
            Ok(serde_json::Value::Object(o)) => match o.get("symbol") {
                Some(serde_json::Value::String(s)) => vec![s.clone()],
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => return None,
            },
            Ok(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => f.split(',').map(|s| s.trim().to_owned()).collect(),
        };
        Some(list.into_iter().map(|s| s.to_ascii_lowercase()).collect())
    }

    fn matches(&self, topic: &str, kind: Option<&str>, symbol: Option<&str>) -> bool {
        self.topic == topic
            && (self.kind == "*" || kind.is_none_or(|k| k == self.kind || k == "subscribe"))
            && match (&self.symbols, symbol) {
                (Some(list), Some(sym)) => list.iter().any(|s| s == sym),
                _ => true,
            }
    }
}

/// A change of subscriptions requested by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubChange {
    /// Market channel: add these asset ids.
    MarketAdd(Vec<String>),
    /// Market channel: remove these asset ids.
    MarketRemove(Vec<String>),
    /// RTDS: add.
    RtdsAdd(Vec<RtdsSub>),
    /// RTDS: remove (same topic and symbols; no symbols = the whole topic).
    RtdsRemove(Vec<RtdsSub>),
    /// Binance: add these stream names (normalized on apply).
    BinanceAdd(Vec<String>),
    /// Binance: remove these stream names.
    BinanceRemove(Vec<String>),
}

/// A connection's subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subs {
    /// Market channel asset ids.
    pub assets: BTreeSet<String>,
    /// RTDS subscriptions.
    pub rtds: Vec<RtdsSub>,
    /// Binance normalized stream names.
    pub streams: BTreeSet<String>,
}

impl Subs {
    /// `true` if nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty() && self.rtds.is_empty() && self.streams.is_empty()
    }

    /// Applies `change`; returns the asset ids newly added (market channel), in request order.
    pub fn apply(&mut self, change: SubChange) -> Vec<String> {
        let mut added = Vec::new();
        match change {
            SubChange::MarketAdd(ids) => {
                for id in ids {
                    if self.assets.insert(id.clone()) {
                        added.push(id);
                    }
                }
            }
            SubChange::MarketRemove(ids) => {
                for id in ids {
                    self.assets.remove(&id);
                }
            }
            SubChange::RtdsAdd(subs) => {
                for s in subs {
                    if !self.rtds.contains(&s) {
                        self.rtds.push(s);
                    }
                }
            }
            SubChange::RtdsRemove(subs) => {
                for s in subs {
                    self.rtds.retain(|x| {
                        !(x.topic == s.topic && (s.symbols.is_none() || x.symbols == s.symbols))
                    });
                }
            }
            SubChange::BinanceAdd(names) => {
                self.streams
                    .extend(names.iter().map(|n| normalize_binance_stream(n)));
            }
            SubChange::BinanceRemove(names) => {
                for n in names {
                    self.streams.remove(&normalize_binance_stream(&n));
                }
            }
        }
        added
    }

    /// `true` if a frame with `route` on `endpoint` goes to this connection. Frames that name
    /// nothing selectable go to every connection with any subscription.
    pub fn matches(&self, endpoint: Endpoint, route: &Route) -> bool {
        match (endpoint, route) {
            (Endpoint::Market, Route::Market { assets, .. }) => {
                if assets.is_empty() {
                    !self.assets.is_empty()
                } else {
                    assets.iter().any(|a| self.assets.contains(a))
                }
            }
            (
                Endpoint::Rtds,
                Route::Rtds {
                    topic,
                    kind,
                    symbol,
                },
            ) => match topic {
                None => !self.rtds.is_empty(),
                Some(t) => self
                    .rtds
                    .iter()
                    .any(|s| s.matches(t, kind.as_deref(), symbol.as_deref())),
            },
            (Endpoint::BinanceSpot | Endpoint::BinanceUsdm, Route::Binance { stream }) => {
                match stream {
                    None => !self.streams.is_empty(),
                    Some(s) => self.streams.contains(s),
                }
            }
            _ => false,
        }
    }

    /// `true` if a market-channel subscription includes any of `tokens`.
    pub fn has_any_asset(&self, tokens: &[String]) -> bool {
        tokens.iter().any(|t| self.assets.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtds_filters_in_all_three_forms() {
        assert_eq!(
            RtdsSub::parse_filters(Some(r#"{"symbol":"BTC/USD"}"#)),
            Some(vec!["btc/usd".to_owned()])
        );
        assert_eq!(
            RtdsSub::parse_filters(Some(r#"["btcusdt","ethusdt"]"#)),
            Some(vec!["btcusdt".to_owned(), "ethusdt".to_owned()])
        );
        assert_eq!(
            RtdsSub::parse_filters(Some("btcusdt, ethusdt")),
            Some(vec!["btcusdt".to_owned(), "ethusdt".to_owned()])
        );
        assert_eq!(RtdsSub::parse_filters(Some("")), None);
        assert_eq!(RtdsSub::parse_filters(None), None);
    }

    #[test]
    fn matching_by_endpoint() {
        let mut s = Subs::default();
        assert!(s.apply(SubChange::MarketAdd(vec!["1".into(), "1".into()])) == ["1"]);
        let r = Route::Market {
            assets: vec!["2".into(), "1".into()],
            books: vec![],
        };
        assert!(s.matches(Endpoint::Market, &r));
        assert!(!s.matches(Endpoint::Rtds, &r));
        s.apply(SubChange::MarketRemove(vec!["1".into()]));
        assert!(!s.matches(Endpoint::Market, &r));

        s.apply(SubChange::RtdsAdd(vec![RtdsSub {
            topic: "crypto_prices".into(),
            kind: "update".into(),
            symbols: Some(vec!["btcusdt".into()]),
        }]));
        let upd = |sym: &str, kind: &str| Route::Rtds {
            topic: Some("crypto_prices".into()),
            kind: Some(kind.into()),
            symbol: Some(sym.into()),
        };
        assert!(s.matches(Endpoint::Rtds, &upd("btcusdt", "update")));
        assert!(s.matches(Endpoint::Rtds, &upd("btcusdt", "subscribe")));
        assert!(!s.matches(Endpoint::Rtds, &upd("ethusdt", "update")));

        s.apply(SubChange::BinanceAdd(vec!["BTCUSDT@depth@100ms".into()]));
        let d = Route::Binance {
            stream: Some("btcusdt@depth".into()),
        };
        assert!(s.matches(Endpoint::BinanceSpot, &d));
    }
}
