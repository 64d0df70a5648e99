//! Deribit DVOL over JSON-RPC (protocols.md §8.3): `public/set_heartbeat` then
//! `public/subscribe` to `deribit_volatility_index.<asset>_usd`; every `test_request` heartbeat
//! is answered with `public/test`, or the server drops the connection.

use polyedge_core::{Asset, MarketEvent};
use serde::Deserialize;

use crate::ws::{Action, Protocol};

/// Assets with a Deribit volatility index.
pub const DVOL_ASSETS: [Asset; 2] = [Asset::Btc, Asset::Eth];

/// The Deribit DVOL protocol.
#[derive(Debug, Clone)]
pub struct Deribit {
    url: String,
    channels: Vec<String>,
    heartbeat_secs: u64,
    next_id: u64,
}

#[derive(Deserialize)]
struct Notification<'a> {
    #[serde(borrow)]
    method: Option<&'a str>,
    params: Option<HeartbeatParams<'a>>,
}

#[derive(Deserialize)]
struct HeartbeatParams<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
}

impl Deribit {
    /// Deribit at `url` for those of `assets` that have a DVOL index.
    pub fn new(url: &str, assets: &[Asset], heartbeat_secs: u64) -> Self {
        Deribit {
            url: url.to_string(),
            channels: assets
                .iter()
                .filter(|a| DVOL_ASSETS.contains(a))
                .map(|a| format!("deribit_volatility_index.{}_usd", a.ticker()))
                .collect(),
            heartbeat_secs: heartbeat_secs.max(10),
            next_id: 1,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

impl Protocol for Deribit {
    fn url(&self) -> Option<String> {
        (!self.channels.is_empty()).then(|| self.url.clone())
    }

    fn on_connect(&mut self) -> Vec<String> {
        let hb = self.id();
        let sub = self.id();
        vec![
            serde_json::json!({"jsonrpc": "2.0", "id": hb, "method": "public/set_heartbeat",
                "params": {"interval": self.heartbeat_secs}})
            .to_string(),
            serde_json::json!({"jsonrpc": "2.0", "id": sub, "method": "public/subscribe",
                "params": {"channels": self.channels}})
            .to_string(),
        ]
    }

    fn on_frame(&mut self, frame: &[u8], _events: &[MarketEvent], out: &mut Vec<Action>) {
        // Cheap pre-check: only heartbeat notifications are parsed here.
        if !frame.windows(12).any(|w| w == b"test_request") {
            return;
        }
        if let Ok(n) = serde_json::from_slice::<Notification<'_>>(frame)
            && n.method == Some("heartbeat")
            && n.params.and_then(|p| p.kind) == Some("test_request")
        {
            let id = self.id();
            out.push(Action::Send(
                serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "public/test", "params": {}})
                    .to_string(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_test_requests_only() {
        let mut d = Deribit::new("ws://x", &[Asset::Btc, Asset::Sol], 5);
        let m = d.on_connect();
        assert!(
            m[0].contains(r#""interval":10"#),
            "heartbeat floor is 10 s: {}",
            m[0]
        );
        assert!(m[1].contains("deribit_volatility_index.btc_usd") && !m[1].contains("sol"));
        let mut out = Vec::new();
        d.on_frame(
            br#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#,
            &[],
            &mut out,
        );
        assert!(matches!(&out[..], [Action::Send(s)] if s.contains("public/test")));
        out.clear();
        d.on_frame(
            br#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}"#,
            &[],
            &mut out,
        );
        assert!(out.is_empty());
    }
}
