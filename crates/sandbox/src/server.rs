//! The HTTP side: one listener, path routing (`docs/sandbox.md` §2), WebSocket upgrades handed to
//! [`conn::run`](crate::conn::run), Gamma and the sandbox's own routes answered here.
//!
//! New REST routes (the trading issue's CLOB REST side: `/clob/…`) are added in [`route`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, CONTENT_TYPE, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::Shared;
use crate::clock::Gate;
use crate::conn::{self, ConnInfo};
use crate::gamma;
use crate::route::Endpoint;
use crate::stats::bump;

/// Largest client message the sandbox accepts (bytes).
pub const MAX_CLIENT_MESSAGE: usize = 1 << 20;

type Resp = Response<Full<Bytes>>;

/// Accepts connections until shutdown.
pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                async move { route(req, &shared).await }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await
            {
                tracing::debug!(%peer, error = %e, "sandbox: HTTP connection ended with an error");
            }
        });
    }
}

fn json_response(status: u16, body: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn not_found(path: &str) -> Resp {
    json_response(404, &json!({"error": format!("no such route: {path}")}))
}

/// Which WebSocket endpoint a path names, with the Binance streams in the URL.
fn ws_endpoint(path: &str, query: Option<&str>) -> Option<(Endpoint, Vec<String>)> {
    match path {
        "/ws/market" => return Some((Endpoint::Market, Vec::new())),
        "/rtds" | "/rtds/ws" => return Some((Endpoint::Rtds, Vec::new())),
        _ => {}
    }
    let (endpoint, rest) = if let Some(r) = path.strip_prefix("/binance-usdm") {
        let r = r
            .strip_prefix("/public")
            .or_else(|| r.strip_prefix("/market"))
            .unwrap_or(r);
        (Endpoint::BinanceUsdm, r)
    } else if let Some(r) = path.strip_prefix("/binance") {
        (Endpoint::BinanceSpot, r)
    } else {
        return None;
    };
    if rest == "/ws" || rest == "/stream" {
        let streams = if rest == "/stream" {
            query
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .filter(|(k, _)| k == "streams")
                        .flat_map(|(_, v)| {
                            v.split('/')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned)
                                .collect::<Vec<_>>()
                        })
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        return Some((endpoint, streams));
    }
    let stream = rest.strip_prefix("/ws/")?;
    let streams = stream
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Some((endpoint, streams))
}

fn is_ws_upgrade(req: &Request<Incoming>) -> bool {
    let has_token = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has_token(CONNECTION, "upgrade") && has_token(UPGRADE, "websocket")
}

/// The connection is closed without an answer (the exchange's `drop_after_accept_every`).
#[derive(Debug)]
struct Withheld;

impl std::fmt::Display for Withheld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer withheld (fault injection)")
    }
}

impl std::error::Error for Withheld {}

/// Routes one request; `Err` closes the connection without an answer.
async fn route(req: Request<Incoming>, shared: &Arc<Shared>) -> Result<Resp, Withheld> {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/clob") {
        let query = req.uri().query().map(str::to_owned);
        return clob(req, rest.to_owned(), &path, query.as_deref(), shared).await;
    }
    if path == "/rpc" {
        return Ok(rpc(req, shared).await);
    }
    Ok(route_other(req, shared))
}

/// Every route but the CLOB's.
fn route_other(mut req: Request<Incoming>, shared: &Arc<Shared>) -> Resp {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    if path == "/ws/user" {
        if !is_ws_upgrade(&req) {
            return json_response(426, &json!({"error": "/ws/user is a WebSocket endpoint"}));
        }
        let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).cloned() else {
            return json_response(400, &json!({"error": "missing Sec-WebSocket-Key"}));
        };
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut req);
        let shared = shared.clone();
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(up) => crate::exchange::user_ws::run(server_ws(up).await, shared).await,
                Err(e) => tracing::warn!(error = %e, "sandbox: user-channel upgrade failed"),
            }
        });
        return switching(&accept);
    }
    if let Some((endpoint, streams)) = ws_endpoint(&path, query.as_deref()) {
        if !is_ws_upgrade(&req) {
            return json_response(
                426,
                &json!({"error": format!("{path} is a WebSocket endpoint")}),
            );
        }
        let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).cloned() else {
            return json_response(400, &json!({"error": "missing Sec-WebSocket-Key"}));
        };
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut req);
        let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        bump(&shared.counters.connections_total);
        shared
            .counters
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        let info = ConnInfo {
            conn,
            endpoint,
            path: path.clone(),
            initial_streams: streams,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(up) => conn::run(server_ws(up).await, info, shared).await,
                Err(e) => {
                    shared
                        .counters
                        .connections_open
                        .fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "sandbox: WebSocket upgrade failed");
                }
            }
        });
        return switching(&accept);
    }
    if req.method() != Method::GET {
        return json_response(405, &json!({"error": "only GET is served here"}));
    }
    if let Some(rest) = path.strip_prefix("/gamma") {
        let (status, body) =
            gamma::answer(rest, query.as_deref(), &shared.windows, shared.clock.now());
        return json_response(status, &body);
    }
    match path.as_str() {
        "/sandbox/time" => json_response(200, &time_json(shared)),
        "/sandbox/status" => json_response(200, &json!(shared.status())),
        "/sandbox/ledger" => json_response(200, &shared.exchange.ledger()),
        _ => not_found(&path),
    }
}

/// The server side of an upgraded connection, with the sandbox's message size limits.
async fn server_ws(
    up: hyper::upgrade::Upgraded,
) -> WebSocketStream<TokioIo<hyper::upgrade::Upgraded>> {
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(MAX_CLIENT_MESSAGE))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE));
    WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, Some(cfg)).await
}

/// The `101 Switching Protocols` answer to a WebSocket upgrade.
fn switching(accept: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

/// A JSON-RPC request to the sandbox's chain (`POST /rpc`): its body read (at most
/// [`MAX_CLIENT_MESSAGE`] bytes), then answered on the sandbox clock.
async fn rpc(req: Request<Incoming>, shared: &Arc<Shared>) -> Resp {
    use http_body_util::BodyExt as _;
    if req.method() != Method::POST {
        return json_response(
            405,
            &json!({"error": "/rpc takes JSON-RPC requests by POST"}),
        );
    }
    match http_body_util::Limited::new(req.into_body(), MAX_CLIENT_MESSAGE)
        .collect()
        .await
    {
        Ok(b) => {
            let now = polyedge_core::UnixNanos(shared.clock.now());
            json_response(200, &shared.exchange.rpc(&b.to_bytes(), now))
        }
        Err(e) => json_response(413, &json!({"error": format!("request body: {e}")})),
    }
}

/// A CLOB REST request (`/clob…`): its body read (at most [`MAX_CLIENT_MESSAGE`] bytes), then
/// answered by the exchange on the sandbox clock.
async fn clob(
    req: Request<Incoming>,
    rest: String,
    full_path: &str,
    query: Option<&str>,
    shared: &Arc<Shared>,
) -> Result<Resp, Withheld> {
    use http_body_util::BodyExt as _;
    let method = req.method().as_str().to_owned();
    let headers = req.headers().clone();
    let body = match http_body_util::Limited::new(req.into_body(), MAX_CLIENT_MESSAGE)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(json_response(
                413,
                &json!({"error": format!("request body: {e}")}),
            ));
        }
    };
    let now = polyedge_core::UnixNanos(shared.clock.now());
    let posts_orders = method == "POST" && (rest == "/order" || rest == "/orders");
    if posts_orders && shared.exchange.busy_now() {
        return Ok(json_response(
            429,
            &json!({"error": "Too Many Requests: rate limited (fault injection)"}),
        ));
    }
    let req = crate::exchange::rest::ClobRequest {
        method: &method,
        path: &rest,
        full_path,
        query,
        headers: &headers,
        body: &body,
        now,
    };
    let (status, value) = crate::exchange::rest::answer(&shared.exchange, &req);
    if status == 200 && posts_orders && shared.exchange.withhold_answer() {
        // A batch's answer is withheld whole: every order in it is left in doubt.
        let orders = value.as_array().map_or(1, Vec::len) as u64;
        shared
            .exchange
            .orders_withheld
            .fetch_add(orders, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            orders,
            "sandbox exchange: order(s) accepted, answer withheld (fault)"
        );
        return Err(Withheld);
    }
    Ok(json_response(status, &value))
}

fn time_json(shared: &Shared) -> Value {
    let r = shared.clock.reading();
    let gate = r.gate.map(|(g, since_ms)| match g {
        Gate::Start => json!({"kind": "start", "since_ms": since_ms}),
        Gate::Window(slug) => json!({"kind": "window", "slug": slug, "since_ms": since_ms}),
        Gate::Reconnect(ep) => json!({"kind": "reconnect", "endpoint": ep, "since_ms": since_ms}),
    });
    json!({
        "now_ns": r.now_ns,
        "speed": shared.clock.speed().to_string(),
        "started": r.started,
        "finished": r.finished,
        "gate": gate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_paths() {
        assert_eq!(
            ws_endpoint("/ws/market", None),
            Some((Endpoint::Market, vec![]))
        );
        assert_eq!(
            ws_endpoint("/binance/ws/btcusdt@aggTrade", None),
            Some((Endpoint::BinanceSpot, vec!["btcusdt@aggTrade".into()]))
        );
        assert_eq!(
            ws_endpoint(
                "/binance-usdm/market/stream",
                Some("streams=btcusdt@kline_1m/btcusdt@aggTrade")
            ),
            Some((
                Endpoint::BinanceUsdm,
                vec!["btcusdt@kline_1m".into(), "btcusdt@aggTrade".into()]
            ))
        );
        assert_eq!(
            ws_endpoint("/binance-usdm/ws", None),
            Some((Endpoint::BinanceUsdm, vec![]))
        );
        assert_eq!(ws_endpoint("/binance/nope", None), None);
        assert_eq!(ws_endpoint("/gamma/markets", None), None);
    }
}
