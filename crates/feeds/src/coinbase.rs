//! Coinbase Exchange WS feed (protocols.md §8.2): one subscribe within 5 s of connecting, with
//! the `heartbeat` channel so that a quiet product still shows the connection is alive.

use polyedge_core::Asset;

use crate::ws::Protocol;

/// The Coinbase Exchange protocol.
#[derive(Debug, Clone)]
pub struct Coinbase {
    url: String,
    products: Vec<String>,
    channels: Vec<String>,
}

impl Coinbase {
    /// Coinbase at `url` for `assets` (`BTC-USD`, …) and `channels`.
    pub fn new(url: &str, assets: &[Asset], channels: &[String]) -> Self {
        Coinbase {
            url: url.to_string(),
            products: assets
                .iter()
                .map(|a| format!("{}-USD", a.ticker().to_ascii_uppercase()))
                .collect(),
            channels: channels.to_vec(),
        }
    }
}

impl Protocol for Coinbase {
    fn url(&self) -> Option<String> {
        (!self.products.is_empty() && !self.channels.is_empty()).then(|| self.url.clone())
    }

    fn on_connect(&mut self) -> Vec<String> {
        vec![
            serde_json::json!({"type": "subscribe", "product_ids": self.products, "channels": self.channels})
                .to_string(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribes_products_and_channels() {
        let mut c = Coinbase::new(
            "ws://x",
            &[Asset::Btc],
            &["matches".into(), "heartbeat".into()],
        );
        assert_eq!(
            c.on_connect(),
            vec![
                r#"{"channels":["matches","heartbeat"],"product_ids":["BTC-USD"],"type":"subscribe"}"#
            ]
        );
    }
}
