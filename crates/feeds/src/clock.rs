//! The discovery clock: wall time in real mode; in the sandbox, the sandbox's replay clock
//! (`GET <clock>` → `{"now_ns": …}`), because the served recording is from the past.
//!
//! Only window discovery uses this clock. Receive timestamps are always wall time
//! ([`RecvClock`](crate::sink::RecvClock)).

use polyedge_core::UnixNanos;
use serde::Deserialize;

use crate::FeedError;
use crate::http::Http;

/// Where "now" comes from for discovery.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system clock.
    Wall,
    /// A remote clock endpoint (the sandbox's `/sandbox/time`).
    Remote {
        /// The URL answering `{"now_ns": u64}`.
        url: String,
        /// Client used for it.
        http: Http,
    },
}

#[derive(Deserialize)]
struct TimeBody {
    now_ns: u64,
}

impl Clock {
    /// The current time.
    ///
    /// # Errors
    /// [`FeedError::Http`] if the remote clock cannot be read or answers something else than
    /// `{"now_ns": …}`.
    pub async fn now(&self) -> Result<UnixNanos, FeedError> {
        match self {
            Clock::Wall => Ok(UnixNanos(crate::sink::wall_ns())),
            Clock::Remote { url, http } => {
                let body = http.get_ok(url).await?;
                let t: TimeBody = serde_json::from_slice(&body).map_err(|e| FeedError::Http {
                    url: url.clone(),
                    message: format!("expected {{\"now_ns\": …}}: {e}"),
                })?;
                Ok(UnixNanos(t.now_ns))
            }
        }
    }
}
