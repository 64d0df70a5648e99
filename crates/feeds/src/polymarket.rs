//! Polymarket CLOB market channel (protocols.md §6): subscribe by token id, dynamic
//! (un)subscribe on the open socket, text `PING` every 10 s (the server answers `PONG`, which is
//! recorded like every frame and keeps the staleness timer alive).
//!
//! After a reconnect the full token set is subscribed again and the server sends a fresh `book`
//! for every token before any `price_change`: the book resync the replay needs after a gap.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::ws::{Command, Protocol};

/// Tokens per connection the venue accepts (undocumented; protocols.md §6.1). Above it the
/// collector warns.
pub const MAX_ASSETS_PER_CONNECTION: usize = 500;

/// The market-channel protocol.
#[derive(Debug, Clone)]
pub struct MarketChannel {
    url: String,
    assets: BTreeSet<String>,
    custom_features: bool,
    ping_every: Duration,
}

impl MarketChannel {
    /// A channel at `url` that pings every `ping_every` and asks for the custom events when
    /// `custom_features`.
    pub fn new(url: &str, ping_every: Duration, custom_features: bool) -> Self {
        MarketChannel {
            url: url.to_string(),
            assets: BTreeSet::new(),
            custom_features,
            ping_every,
        }
    }

    /// The tokens currently subscribed (or to subscribe on connect).
    pub fn assets(&self) -> &BTreeSet<String> {
        &self.assets
    }

    fn initial(&self) -> String {
        let ids: Vec<&String> = self.assets.iter().collect();
        if self.custom_features {
            serde_json::json!({"assets_ids": ids, "type": "market", "custom_feature_enabled": true})
        } else {
            serde_json::json!({"assets_ids": ids, "type": "market"})
        }
        .to_string()
    }
}

impl Protocol for MarketChannel {
    fn url(&self) -> Option<String> {
        (!self.assets.is_empty()).then(|| self.url.clone())
    }

    fn on_connect(&mut self) -> Vec<String> {
        vec![self.initial()]
    }

    fn on_command(&mut self, cmd: Command) -> Vec<String> {
        match cmd {
            Command::Subscribe(ids) => {
                let new: Vec<String> = ids
                    .into_iter()
                    .filter(|id| self.assets.insert(id.clone()))
                    .collect();
                if self.assets.len() > MAX_ASSETS_PER_CONNECTION {
                    tracing::warn!(
                        assets = self.assets.len(),
                        "more than {MAX_ASSETS_PER_CONNECTION} tokens on one market-channel connection; the venue may refuse"
                    );
                }
                if new.is_empty() {
                    return Vec::new();
                }
                let mut m = serde_json::json!({"operation": "subscribe", "assets_ids": new});
                if self.custom_features {
                    m["custom_feature_enabled"] = serde_json::Value::Bool(true);
                }
                vec![m.to_string()]
            }
            Command::Unsubscribe(ids) => {
                let gone: Vec<String> = ids
                    .into_iter()
                    .filter(|id| self.assets.remove(id))
                    .collect();
                if gone.is_empty() {
                    return Vec::new();
                }
                vec![
                    serde_json::json!({"operation": "unsubscribe", "assets_ids": gone}).to_string(),
                ]
            }
        }
    }

    fn ping(&self) -> Option<(Duration, String)> {
        Some((self.ping_every, "PING".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribes_incrementally_and_resubscribes_everything_on_connect() {
        let mut p = MarketChannel::new("ws://x/ws/market", Duration::from_secs(10), true);
        assert_eq!(p.url(), None);
        assert!(
            p.on_command(Command::Subscribe(vec!["1".into(), "2".into()]))
                .len()
                == 1
        );
        assert!(
            p.on_command(Command::Subscribe(vec!["2".into()]))
                .is_empty()
        );
        let m = p.on_command(Command::Subscribe(vec!["3".into()]));
        assert_eq!(
            m,
            vec![r#"{"assets_ids":["3"],"custom_feature_enabled":true,"operation":"subscribe"}"#]
        );
        let m = p.on_command(Command::Unsubscribe(vec!["1".into(), "9".into()]));
        assert_eq!(m, vec![r#"{"assets_ids":["1"],"operation":"unsubscribe"}"#]);
        assert_eq!(
            p.on_connect(),
            vec![r#"{"assets_ids":["2","3"],"custom_feature_enabled":true,"type":"market"}"#]
        );
        assert_eq!(p.url().as_deref(), Some("ws://x/ws/market"));
        assert_eq!(p.ping().map(|p| p.1).as_deref(), Some("PING"));
    }
}
