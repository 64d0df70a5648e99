//! Polymarket RTDS (protocols.md §7.1): one subscribe message per topic (an unknown topic in an
//! array kills the whole array), filters without whitespace, optional text `PING`. The server
//! sends no pong and no replay after a disconnect, so staleness is detected from update gaps.

use std::time::Duration;

use polyedge_core::Asset;

use crate::ws::Protocol;

/// The RTDS protocol for a set of topics and assets.
#[derive(Debug, Clone)]
pub struct Rtds {
    url: String,
    topics: Vec<String>,
    assets: Vec<Asset>,
    ping_every: Option<Duration>,
}

impl Rtds {
    /// RTDS at `url` for `topics` × `assets`; `ping_every` `None` = no pings.
    pub fn new(
        url: &str,
        topics: &[String],
        assets: &[Asset],
        ping_every: Option<Duration>,
    ) -> Self {
        Rtds {
            url: url.to_string(),
            topics: topics.to_vec(),
            assets: assets.to_vec(),
            ping_every,
        }
    }

    /// The subscribe message of one topic.
    pub fn subscribe_message(&self, topic: &str) -> String {
        let subs: Vec<serde_json::Value> = self
            .assets
            .iter()
            .map(|a| {
                let (ty, symbol) = if topic == "crypto_prices" {
                    ("update", format!("{}usdt", a.ticker()))
                } else if topic == "crypto_prices_chainlink" {
                    ("*", format!("{}/usd", a.ticker()))
                } else {
                    ("update", format!("{}/usd", a.ticker()))
                };
                let filters = serde_json::json!({"symbol": symbol}).to_string();
                serde_json::json!({"topic": topic, "type": ty, "filters": filters})
            })
            .collect();
        serde_json::json!({"action": "subscribe", "subscriptions": subs}).to_string()
    }
}

impl Protocol for Rtds {
    fn url(&self) -> Option<String> {
        (!self.topics.is_empty() && !self.assets.is_empty()).then(|| self.url.clone())
    }

    fn on_connect(&mut self) -> Vec<String> {
        self.topics
            .iter()
            .map(|t| self.subscribe_message(t))
            .collect()
    }

    fn ping(&self) -> Option<(Duration, String)> {
        self.ping_every.map(|d| (d, "PING".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_topic_with_compact_filters() {
        let mut r = Rtds::new(
            "ws://x/rtds",
            &["crypto_prices".into(), "crypto_prices_chainlink".into()],
            &[Asset::Btc, Asset::Eth],
            None,
        );
        let m = r.on_connect();
        assert_eq!(m.len(), 2);
        assert!(
            m[0].contains(r#""filters":"{\"symbol\":\"btcusdt\"}""#),
            "{}",
            m[0]
        );
        assert!(m[0].contains("ethusdt"));
        assert!(m[1].contains(r#"{\"symbol\":\"eth/usd\"}"#) && m[1].contains(r#""type":"*""#));
        assert!(r.ping().is_none());
    }
}
