//! The one HTTP client (reqwest, rustls) for Gamma, Binance REST snapshots and the sandbox clock.

use std::time::Duration;

use bytes::Bytes;

use crate::FeedError;

/// A GET-only JSON client with a timeout and an explicit User-Agent (Gamma's CDN refuses some
/// default agents, protocols.md §1.1).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

/// A response: status and raw body, exactly as received.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: Bytes,
}

impl Http {
    /// A client whose requests time out after `timeout`.
    ///
    /// # Errors
    /// [`FeedError::Io`] if the TLS backend cannot be initialised.
    pub fn new(timeout: Duration) -> Result<Self, FeedError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("polyedge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FeedError::Io(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client })
    }

    /// `GET url`; any status is returned (callers decide).
    ///
    /// # Errors
    /// [`FeedError::Http`] on connection, timeout or body errors.
    pub async fn get(&self, url: &str) -> Result<Response, FeedError> {
        let err = |e: reqwest::Error| FeedError::Http {
            url: url.to_string(),
            message: e.to_string(),
        };
        let resp = self.client.get(url).send().await.map_err(err)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(err)?;
        Ok(Response { status, body })
    }

    /// `GET url` expecting 200; returns the body.
    ///
    /// # Errors
    /// [`FeedError::Http`] on transport errors or a non-200 status (with the start of the body).
    pub async fn get_ok(&self, url: &str) -> Result<Bytes, FeedError> {
        let r = self.get(url).await?;
        if r.status != 200 {
            let head = String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).into_owned();
            return Err(FeedError::Http {
                url: url.to_string(),
                message: format!("HTTP {}: {head}", r.status),
            });
        }
        Ok(r.body)
    }
}

/// Installs rustls' `ring` provider as the process default (idempotent; both reqwest and
/// tokio-tungstenite use it).
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An Err means another thread installed one first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
