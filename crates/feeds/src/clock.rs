//! The discovery clock: wall time in real mode; in the sandbox, the sandbox's replay clock
//! (`GET <clock>` → `{"now_ns": …}`), because the served recording is from the past.
//!
//! Window discovery uses this clock. Receive timestamps come from the
//! [`RecvClock`](crate::sink::RecvClock): wall time, or against a sandbox the sandbox time it
//! announces in-band before each frame, and [`follow_poller`]'s readings of the sandbox clock when
//! nothing arrives.

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

/// Against a sandbox: when no frame arrived for 250 ms (wall time), reads `url` (the sandbox's
/// `/sandbox/time`) every 100 ms and lets `recv` observe it, so a follower's clock moves on when
/// the sandbox's does without data (between windows, after the last frame). Runs until shutdown.
pub async fn follow_poller(
    url: String,
    http: Http,
    recv: std::sync::Arc<crate::sink::RecvClock>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let remote = Clock::Remote { url, http };
    let mut every = tokio::time::interval(std::time::Duration::from_millis(100));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut errors: u64 = 0;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        let idle_ns = crate::sink::wall_ns().saturating_sub(recv.last_frame_wall());
        if idle_ns < 250_000_000 {
            continue;
        }
        match remote.now().await {
            Ok(t) => recv.observe(t),
            Err(e) => {
                errors += 1;
                if crate::stats::should_log(errors) {
                    tracing::warn!(error = %e, "sandbox clock unavailable");
                }
            }
        }
    }
}
