//! The user channel `/ws/user` (`docs/protocols.md` §6.3): the client's first message carries
//! `auth` (`apiKey`, `secret`, `passphrase`) and `markets` (condition ids; empty = all). Wrong
//! credentials close the connection with a policy-violation close frame. Afterwards the
//! connection receives the account's `order` and `trade` events as the exchange makes them,
//! one JSON object per frame, and answers `PING` with `PONG`. Nothing is replayed after a
//! reconnect (as at the venue): a client that lost its connection reconciles over REST.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::Shared;

/// Serves one user-channel connection until either side closes it or the sandbox shuts down.
pub(crate) async fn run<S>(mut ws: WebSocketStream<S>, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ex = &shared.exchange;
    let mut events = ex.subscribe();
    let mut shutdown = shared.shutdown.clone();
    let mut key: Option<String> = None;
    let mut markets: BTreeSet<String> = BTreeSet::new();
    let mut written: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                let _ = ws.close(None).await;
                return;
            }
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { return };
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Ping(p) => { let _ = ws.send(Message::Pong(p)).await; continue; }
                    Message::Close(_) => return,
                    _ => continue,
                };
                if text.trim().eq_ignore_ascii_case("ping") {
                    if ws.send(Message::text("PONG")).await.is_err() { return; }
                    continue;
                }
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    let _ = ws.send(Message::text("INVALID MESSAGE")).await;
                    continue;
                };
                if let Some(auth) = v.get("auth") {
                    let api = auth.get("apiKey").and_then(Value::as_str).unwrap_or("");
                    let secret = auth.get("secret").and_then(Value::as_str).unwrap_or("");
                    let pass = auth.get("passphrase").and_then(Value::as_str).unwrap_or("");
                    let ok = ex.lock().accounts.get(api).is_some_and(|a| a.secret == secret && a.passphrase == pass);
                    if !ok {
                        let _ = ws.close(Some(CloseFrame { code: CloseCode::Policy, reason: "invalid auth".into() })).await;
                        return;
                    }
                    key = Some(api.to_string());
                }
                let unsub = v.get("operation").and_then(Value::as_str) == Some("unsubscribe");
                if let Some(ms) = v.get("markets").and_then(Value::as_array) {
                    for m in ms.iter().filter_map(Value::as_str) {
                        if unsub { markets.remove(&m.to_ascii_lowercase()); } else { markets.insert(m.to_ascii_lowercase()); }
                    }
                }
            }
            ev = events.recv() => {
                let m = match ev {
                    Ok(m) => m,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "sandbox exchange: a user-channel connection fell behind; closing it");
                        let _ = ws.close(None).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                if key.as_deref() != Some(m.api_key.as_str()) { continue; }
                if !markets.is_empty() && !markets.contains(&m.market.to_ascii_lowercase()) { continue; }
                if ws.send(Message::text(m.json)).await.is_err() { return; }
                written += 1;
                if ex.user_drop_every.is_some_and(|n| written.is_multiple_of(n)) {
                    ex.user_drops.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(written, "sandbox exchange: user channel dropped (fault)");
                    return;
                }
            }
        }
    }
}
