//! Messages clients send on each endpoint, and what the sandbox does about them
//! (`docs/sandbox.md` §2.1–2.3).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::route::{Endpoint, normalize_binance_stream};
use crate::stats::FrameKind;
use crate::subs::{RtdsSub, SubChange};

/// RTDS topics the venue knows (others make it reject the whole subscription array).
pub const RTDS_TOPICS: [&str; 5] = [
    "crypto_prices",
    "crypto_prices_chainlink",
    "crypto_prices_twap_thirty",
    "crypto_prices_twap_sixty",
    "equity_prices",
];

/// The sandbox's reaction to one client text message.
#[derive(Debug, Default, PartialEq)]
pub struct Reaction {
    /// A text frame to send back, and its served-log kind.
    pub reply: Option<(String, FrameKind)>,
    /// Subscription changes for the hub.
    pub changes: Vec<SubChange>,
    /// Why the message was ignored, if it was.
    pub ignored: Option<String>,
}

impl Reaction {
    fn ignored(why: impl Into<String>) -> Self {
        Reaction {
            ignored: Some(why.into()),
            ..Reaction::default()
        }
    }
}

#[derive(Deserialize)]
struct MarketReq {
    #[serde(default)]
    assets_ids: Option<Vec<String>>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    operation: Option<String>,
}

#[derive(Deserialize)]
struct RtdsReqSub {
    topic: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    filters: Option<Value>,
}

#[derive(Deserialize)]
struct RtdsReq {
    action: String,
    #[serde(default)]
    subscriptions: Vec<RtdsReqSub>,
}

#[derive(Deserialize)]
struct BinanceReq {
    method: String,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    id: Value,
}

/// Reacts to `text` from a client of `endpoint`. `binance_streams` is the connection's current
/// Binance subscription (for `LIST_SUBSCRIPTIONS`; updated here).
pub fn react(endpoint: Endpoint, text: &str, binance_streams: &mut BTreeSet<String>) -> Reaction {
    match endpoint {
        Endpoint::Market => market(text),
        Endpoint::Rtds => rtds(text),
        Endpoint::BinanceSpot | Endpoint::BinanceUsdm => binance(text, binance_streams),
    }
}

fn market(text: &str) -> Reaction {
    if text.trim() == "PING" {
        return Reaction {
            reply: Some(("PONG".into(), FrameKind::Pong)),
            ..Reaction::default()
        };
    }
    let Ok(req) = serde_json::from_str::<MarketReq>(text) else {
        return Reaction::ignored("not a market-channel request");
    };
    let ids = req.assets_ids.unwrap_or_default();
    match req.operation.as_deref() {
        Some("unsubscribe") => Reaction {
            changes: vec![SubChange::MarketRemove(ids)],
            ..Reaction::default()
        },
        Some("subscribe") => Reaction {
            changes: vec![SubChange::MarketAdd(ids)],
            ..Reaction::default()
        },
        None if req
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("market")) =>
        {
            Reaction {
                changes: vec![SubChange::MarketAdd(ids)],
                ..Reaction::default()
            }
        }
        _ => Reaction::ignored(
            "market-channel request without `type: market` or a known `operation`",
        ),
    }
}

fn rtds(text: &str) -> Reaction {
    let t = text.trim();
    if t.eq_ignore_ascii_case("ping") {
        // The venue does not answer (protocols.md §7.1, observed).
        return Reaction::default();
    }
    let Ok(req) = serde_json::from_str::<RtdsReq>(t) else {
        return Reaction::ignored("not an RTDS request");
    };
    if let Some(bad) = req
        .subscriptions
        .iter()
        .find(|s| !RTDS_TOPICS.contains(&s.topic.as_str()))
    {
        let body = json!({
            "body": {"message": format!("leger GetTopics error: topic {:?} not found", bad.topic)},
            "statusCode": 401,
        });
        return Reaction {
            reply: Some((body.to_string(), FrameKind::Ack)),
            ..Reaction::default()
        };
    }
    let subs: Vec<RtdsSub> = req
        .subscriptions
        .into_iter()
        .map(|s| {
            let filters = match s.filters {
                None | Some(Value::Null) => None,
                Some(Value::String(f)) => Some(f),
                Some(other) => Some(other.to_string()),
            };
            RtdsSub {
                topic: s.topic,
                kind: s.kind.unwrap_or_else(|| "*".into()),
                symbols: RtdsSub::parse_filters(filters.as_deref()),
            }
        })
        .collect();
    match req.action.as_str() {
        "subscribe" => Reaction {
            changes: vec![SubChange::RtdsAdd(subs)],
            ..Reaction::default()
        },
        "unsubscribe" => Reaction {
            changes: vec![SubChange::RtdsRemove(subs)],
            ..Reaction::default()
        },
        other => Reaction::ignored(format!("unknown RTDS action {other:?}")),
    }
}

fn binance(text: &str, streams: &mut BTreeSet<String>) -> Reaction {
    let Ok(req) = serde_json::from_str::<BinanceReq>(text) else {
        return Reaction::ignored("not a Binance request");
    };
    let id = req.id;
    match req.method.as_str() {
        "SUBSCRIBE" => {
            streams.extend(req.params.iter().map(|p| normalize_binance_stream(p)));
            Reaction {
                reply: Some((format!(r#"{{"result":null,"id":{id}}}"#), FrameKind::Ack)),
                changes: vec![SubChange::BinanceAdd(req.params)],
                ignored: None,
            }
        }
        "UNSUBSCRIBE" => {
            for p in &req.params {
                streams.remove(&normalize_binance_stream(p));
            }
            Reaction {
                reply: Some((format!(r#"{{"result":null,"id":{id}}}"#), FrameKind::Ack)),
                changes: vec![SubChange::BinanceRemove(req.params)],
                ignored: None,
            }
        }
        "LIST_SUBSCRIPTIONS" => Reaction {
            reply: Some((
                format!(r#"{{"result":{},"id":{id}}}"#, json!(streams.iter().collect::<Vec<_>>())),
                FrameKind::Ack,
            )),
            ..Reaction::default()
        },
        other => Reaction {
            reply: Some((
                json!({"error": {"code": 2, "msg": format!("Invalid request: unknown method {other}")}, "id": id})
                    .to_string(),
                FrameKind::Ack,
            )),
            ..Reaction::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_requests() {
        let mut none = BTreeSet::new();
        let r = react(Endpoint::Market, "PING", &mut none);
        assert_eq!(r.reply, Some(("PONG".into(), FrameKind::Pong)));
        let r = react(
            Endpoint::Market,
            r#"{"assets_ids":["1","2"],"type":"market","custom_feature_enabled":true}"#,
            &mut none,
        );
        assert_eq!(
            r.changes,
            vec![SubChange::MarketAdd(vec!["1".into(), "2".into()])]
        );
        let r = react(
            Endpoint::Market,
            r#"{"operation":"unsubscribe","assets_ids":["1"]}"#,
            &mut none,
        );
        assert_eq!(r.changes, vec![SubChange::MarketRemove(vec!["1".into()])]);
        assert!(
            react(Endpoint::Market, "hello", &mut none)
                .ignored
                .is_some()
        );
    }

    #[test]
    fn rtds_rejects_unknown_topics_and_ignores_ping() {
        let mut none = BTreeSet::new();
        assert_eq!(
            react(Endpoint::Rtds, "PING", &mut none),
            Reaction::default()
        );
        let r = react(
            Endpoint::Rtds,
            r#"{"action":"subscribe","subscriptions":[{"topic":"crypto_prices","type":"update"},{"topic":"nope","type":"*"}]}"#,
            &mut none,
        );
        assert!(r.changes.is_empty());
        assert_eq!(r.reply.map(|x| x.1), Some(FrameKind::Ack));
    }

    #[test]
    fn binance_subscribe_and_list() {
        let mut s = BTreeSet::new();
        let r = react(
            Endpoint::BinanceSpot,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":7}"#,
            &mut s,
        );
        assert_eq!(
            r.reply,
            Some((r#"{"result":null,"id":7}"#.into(), FrameKind::Ack))
        );
        let r = react(
            Endpoint::BinanceSpot,
            r#"{"method":"LIST_SUBSCRIPTIONS","id":8}"#,
            &mut s,
        );
        assert_eq!(
            r.reply,
            Some((
                r#"{"result":["btcusdt@aggtrade"],"id":8}"#.into(),
                FrameKind::Ack
            ))
        );
    }
}
