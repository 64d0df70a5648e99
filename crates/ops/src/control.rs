//! The loopback control port of `polyedge collect` and `polyedge run`.
//!
//! | route | answer |
//! |---|---|
//! | `GET /metrics` | Prometheus text format 0.0.4 ([`crate::Exporter`]) |
//! | `GET /health/live` | 200 while the process does its work (its loops are turning), else 503 |
//! | `GET /health/ready` (and `/health`) | 200 when it is doing what it is for (feeds connected, engine running), else 503 |
//! | `GET /` | the routes, as JSON |
//! | `GET /events` | server-sent events: a command's snapshot ([`Control::events`]) as `data:` every second |
//! | others | what the command adds ([`Routes`]: `POST /kill`, `POST /resume`, `GET /breakers` for `run`) |
//!
//! Health answers carry a JSON body (`{"status": "ok"|"unavailable", ...details}`) naming what is
//! wrong. The port accepts commands without authentication, so only loopback addresses
//! (127.0.0.0/8, ::1) are accepted.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use hyper::Method;

use crate::Exporter;

/// An answer of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: String) -> Self {
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }
}

/// Routes a command adds: `(method, path, body as text (first 500 bytes, trimmed))` → an answer,
/// or `None` (not one of its routes: 404).
pub type Routes = Arc<dyn Fn(&Method, &str, &str) -> Option<Reply> + Send + Sync>;

/// Which health question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Is the process doing its work (restart it if not)?
    Live,
    /// Is it doing what it is for (send it traffic, count on its data)?
    Ready,
}

/// Answers a health question: healthy or not, and the details (a JSON object) that say why.
pub type HealthProbe = Arc<dyn Fn(Probe) -> (bool, serde_json::Value) + Send + Sync>;

/// A snapshot for `GET /events` (one JSON document, without newlines).
pub type EventSource = Arc<dyn Fn() -> String + Send + Sync>;

/// What the control port serves.
#[derive(Clone, Default)]
pub struct Control {
    /// `GET /events`: sent at once, then every second, until the client goes away.
    pub events: Option<EventSource>,
    /// `/metrics` (absent: 404 naming why).
    pub exporter: Option<Exporter>,
    /// `/health/*` (absent: always healthy while the port answers).
    pub health: Option<HealthProbe>,
    /// The command's own routes.
    pub routes: Option<Routes>,
    /// The command's routes as `"METHOD /path"`, for `GET /` and 404 answers.
    pub route_names: Vec<&'static str>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("metrics", &self.exporter.is_some())
            .field("health", &self.health.is_some())
            .field("events", &self.events.is_some())
            .field("route_names", &self.route_names)
            .finish_non_exhaustive()
    }
}

impl Control {
    fn names(&self) -> Vec<&'static str> {
        let mut v = vec![
            "GET /metrics",
            "GET /events",
            "GET /health/live",
            "GET /health/ready",
            "GET /health",
        ];
        v.extend(self.route_names.iter().copied());
        v
    }

    /// Answers one request (the server's whole logic, callable without a socket).
    pub fn answer(&self, method: &Method, path: &str, body: &str) -> Reply {
        match (method, path) {
            (&Method::GET, "/metrics") => match &self.exporter {
                Some(e) => Reply {
                    status: 200,
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    body: e.render(),
                },
                None => Reply::json(404, r#"{"error":"metrics are off"}"#.into()),
            },
            (&Method::GET, "/health/live") => self.health(Probe::Live),
            (&Method::GET, "/health/ready" | "/health") => self.health(Probe::Ready),
            (&Method::GET, "/") => Reply::json(
                200,
                serde_json::json!({ "routes": self.names() }).to_string(),
            ),
            _ => self
                .routes
                .as_ref()
                .and_then(|r| r(method, path, body))
                .unwrap_or_else(|| {
                    Reply::json(
                        404,
                        serde_json::json!({
                            "error": format!("unknown route {method} {path}"),
                            "routes": self.names(),
                        })
                        .to_string(),
                    )
                }),
        }
    }

    fn health(&self, probe: Probe) -> Reply {
        let (ok, mut detail) = match &self.health {
            Some(h) => h(probe),
            None => (true, serde_json::json!({})),
        };
        if !detail.is_object() {
            detail = serde_json::json!({ "detail": detail });
        }
        if let Some(o) = detail.as_object_mut() {
            o.insert(
                "status".into(),
                serde_json::Value::from(if ok { "ok" } else { "unavailable" }),
            );
        }
        Reply::json(if ok { 200 } else { 503 }, detail.to_string())
    }
}

/// Binds `addr` (loopback only) and serves `control` on the current tokio runtime until the
/// runtime ends. Returns the bound address (port 0 picks a free one).
///
/// # Errors
/// `addr` is not a loopback address, or cannot be bound (the message names it).
pub async fn serve(addr: SocketAddr, control: Control) -> Result<SocketAddr, String> {
    if !addr.ip().is_loopback() {
        return Err(format!(
            "control address {addr} is not a loopback address: the control port accepts commands without authentication and must stay on 127.0.0.1 or ::1"
        ));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("control address {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("control address {addr}: {e}"))?;
    let control = Arc::new(control);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "control port: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let control = control.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(req, control.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(bound)
}

type Body = BoxBody<Bytes, Infallible>;

async fn handle(
    req: Request<hyper::body::Incoming>,
    control: Arc<Control>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if method == Method::GET
        && path == "/events"
        && let Some(events) = control.events.clone()
    {
        return Ok(sse(events));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let text = String::from_utf8_lossy(&body[..body.len().min(500)])
        .trim()
        .to_string();
    let reply = control.answer(&method, &path, &text);
    let mut r = Response::new(Full::new(Bytes::from(reply.body)).boxed());
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(reply.content_type),
    );
    Ok(r)
}

/// A server-sent-events answer: `data: <snapshot>` at once and every second after.
fn sse(events: EventSource) -> Response<Body> {
    let stream = futures_util::stream::unfold(true, move |first| {
        let events = events.clone();
        async move {
            if !first {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let data = events().replace('\n', " ");
            let frame = hyper::body::Frame::data(Bytes::from(format!("data: {data}\n\n")));
            Some((Ok::<_, Infallible>(frame), false))
        }
    });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_answers_503_with_the_reason_and_routes_fall_through_to_the_command() {
        let c = Control {
            events: None,
            exporter: None,
            health: Some(Arc::new(|p| match p {
                Probe::Live => (true, serde_json::json!({"beat_age_s": 0.1})),
                Probe::Ready => (false, serde_json::json!({"down": ["rtds"]})),
            })),
            routes: Some(Arc::new(|m, p, b| {
                (m == Method::POST && p == "/kill").then(|| Reply::json(200, format!("\"{b}\"")))
            })),
            route_names: vec!["POST /kill"],
        };
        let live = c.answer(&Method::GET, "/health/live", "");
        assert_eq!(live.status, 200);
        assert!(live.body.contains(r#""status":"ok""#), "{}", live.body);
        let ready = c.answer(&Method::GET, "/health/ready", "");
        assert_eq!(ready.status, 503);
        assert!(ready.body.contains(r#""down":["rtds"]"#), "{}", ready.body);
        assert!(ready.body.contains(r#""status":"unavailable""#));
        assert_eq!(c.answer(&Method::GET, "/health", "").status, 503);
        let k = c.answer(&Method::POST, "/kill", "why");
        assert_eq!((k.status, k.body.as_str()), (200, "\"why\""));
        let nf = c.answer(&Method::GET, "/nope", "");
        assert_eq!(nf.status, 404);
        assert!(nf.body.contains("POST /kill"), "{}", nf.body);
        assert_eq!(c.answer(&Method::GET, "/metrics", "").status, 404);
    }

    #[tokio::test]
    async fn a_non_loopback_address_is_refused() {
        let e = serve("0.0.0.0:0".parse().unwrap(), Control::default())
            .await
            .unwrap_err();
        assert!(e.contains("not a loopback address"), "{e}");
    }
}
