//! Alerts without Alertmanager: Telegram (Bot API `sendMessage`) and a generic JSON webhook,
//! deduplicated and rate-limited, for users who run only the binary.
//!
//! * **Deduplicated**: an alert has a key (`breaker:fair_value:drawdown`, `feed_silent:rtds`);
//!   while its condition holds it is sent once. When the condition ends a short "resolved"
//!   message is sent, and the next occurrence alerts again.
//! * **Rate-limited**: at most `max_per_minute` messages per rolling minute; what is held back is
//!   counted and announced in the next message that goes out ("(N alerts suppressed)").
//! * **Never blocks the caller**: [`Alerter::fire`] queues; a task sends with a 10 s timeout and
//!   logs failures (the text and the destination host, never the bot token).
//!
//! * **Daily summary**: [`Alerter::notify`] sends a one-off notice (the run's daily summary).
//!
//! Telegram: `POST {api}/bot{token}/sendMessage` with `{"chat_id": …, "text": …}`
//! (<https://core.telegram.org/bots/api#sendmessage>); the token and chat id come from the
//! environment (`POLYEDGE_TELEGRAM_BOT_TOKEN`, `POLYEDGE_TELEGRAM_CHAT_ID`), never from a file
//! in the repository. Webhook: `POST {url}` with `{"key", "state": "firing"|"resolved"|"notice", "text",
//! "at"}` (`at`: RFC 3339 UTC).

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// Where alerts go and how often.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Telegram: (API base URL, bot token, chat id).
    pub telegram: Option<(String, String, String)>,
    /// A URL receiving JSON posts.
    pub webhook: Option<String>,
    /// Most messages per rolling minute.
    pub max_per_minute: usize,
    /// A name put in front of every message (`polyedge run (paper)`).
    pub source: String,
}

impl AlertConfig {
    /// The destinations from the environment and the config: Telegram when both
    /// `POLYEDGE_TELEGRAM_BOT_TOKEN` and `POLYEDGE_TELEGRAM_CHAT_ID` are set (API base
    /// `telegram_api`), the webhook when `webhook` is given. `None` when neither.
    ///
    /// # Errors
    /// Only one of the two Telegram variables is set (named in the message).
    pub fn from_env(
        telegram_api: &str,
        webhook: Option<String>,
        max_per_minute: usize,
        source: &str,
    ) -> Result<Option<Self>, String> {
        let token = std::env::var("POLYEDGE_TELEGRAM_BOT_TOKEN")
            .ok()
            .filter(|s| !s.is_empty());
        let chat = std::env::var("POLYEDGE_TELEGRAM_CHAT_ID")
            .ok()
            .filter(|s| !s.is_empty());
        let telegram = match (token, chat) {
            (Some(t), Some(c)) => Some((telegram_api.trim_end_matches('/').to_string(), t, c)),
            (None, None) => None,
            (Some(_), None) => {
                return Err("POLYEDGE_TELEGRAM_BOT_TOKEN is set but POLYEDGE_TELEGRAM_CHAT_ID is not: set both for Telegram alerts".into());
            }
            (None, Some(_)) => {
                return Err("POLYEDGE_TELEGRAM_CHAT_ID is set but POLYEDGE_TELEGRAM_BOT_TOKEN is not: set both for Telegram alerts".into());
            }
        };
        if telegram.is_none() && webhook.is_none() {
            return Ok(None);
        }
        Ok(Some(AlertConfig {
            telegram,
            webhook,
            max_per_minute: max_per_minute.max(1),
            source: source.to_string(),
        }))
    }
}

/// A condition to alert on, as a watcher sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Stable key (deduplication).
    pub key: String,
    /// What a user reads.
    pub text: String,
}

/// What a message says of its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The condition began.
    Firing,
    /// It ended.
    Resolved,
    /// A one-off notice (the daily summary).
    Notice,
}

impl State {
    /// The webhook's `state` field.
    fn name(self) -> &'static str {
        match self {
            State::Firing => "firing",
            State::Resolved => "resolved",
            State::Notice => "notice",
        }
    }

    /// The mark in front of the text a user reads.
    fn mark(self) -> &'static str {
        match self {
            State::Firing => "🔴",
            State::Resolved => "✅",
            State::Notice => "📊",
        }
    }
}

#[derive(Debug)]
struct Msg {
    key: String,
    state: State,
    text: String,
}

/// Queues alerts for sending; cheap to clone.
#[derive(Debug, Clone)]
pub struct Alerter {
    tx: mpsc::UnboundedSender<Msg>,
    /// Keys firing now.
    active: Arc<Mutex<BTreeSet<String>>>,
    /// Keys of the notices sent.
    notified: Arc<Mutex<BTreeSet<String>>>,
    source: String,
}

impl Alerter {
    /// Starts the sender task on the current tokio runtime.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn start(cfg: AlertConfig) -> Result<Self, String> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("alerts: cannot build the HTTP client: {e}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let source = cfg.source.clone();
        tokio::spawn(send_loop(cfg, http, rx));
        Ok(Alerter {
            tx,
            active: Arc::default(),
            notified: Arc::default(),
            source,
        })
    }

    /// Queues `text` for `key` as `state` if `changed` (the caller's set said the state is new).
    fn send_if(&self, changed: bool, key: &str, state: State, text: &str) {
        if changed {
            let _ = self.tx.send(Msg {
                key: key.to_string(),
                state,
                text: format!("{} {}: {text}", state.mark(), self.source),
            });
        }
    }

    /// The condition `key` holds: sends `text` unless it is already firing.
    pub fn fire(&self, key: &str, text: &str) {
        let new = self
            .active
            .lock()
            .is_ok_and(|mut a| a.insert(key.to_string()));
        self.send_if(new, key, State::Firing, text);
    }

    /// A one-off notice (the daily summary): sent once per `key` over the alerter's life.
    pub fn notify(&self, key: &str, text: &str) {
        let new = self
            .notified
            .lock()
            .is_ok_and(|mut n| n.insert(key.to_string()));
        self.send_if(new, key, State::Notice, text);
    }

    /// The condition `key` no longer holds: sends "resolved" if it was firing.
    pub fn resolve(&self, key: &str, text: &str) {
        let was = self.active.lock().is_ok_and(|mut a| a.remove(key));
        self.send_if(was, key, State::Resolved, text);
    }

    /// Fires every condition in `now`, resolves every firing key of `scope` (a key prefix such
    /// as `feed_silent:`) that is no longer in it.
    pub fn reconcile(&self, scope: &str, now: &[Condition]) {
        for c in now {
            self.fire(&c.key, &c.text);
        }
        let gone: Vec<String> = self
            .active
            .lock()
            .map(|a| {
                a.iter()
                    .filter(|k| k.starts_with(scope) && !now.iter().any(|c| &c.key == *k))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for k in gone {
            self.resolve(&k, &format!("resolved: {k}"));
        }
    }
}

/// At most `max` messages in any rolling minute; what is held back is counted.
#[derive(Debug)]
struct RateLimit {
    max: usize,
    sent: VecDeque<Instant>,
    held: usize,
}

impl RateLimit {
    fn new(max: usize) -> Self {
        RateLimit {
            max: max.max(1),
            sent: VecDeque::new(),
            held: 0,
        }
    }

    /// A message at `now`: `Some(n)` — send it, and say that `n` were held back since the last
    /// one sent; `None` — hold it (counted).
    fn admit(&mut self, now: Instant) -> Option<usize> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_mins(1))
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.max {
            self.held += 1;
            return None;
        }
        self.sent.push_back(now);
        Some(std::mem::take(&mut self.held))
    }
}

async fn send_loop(cfg: AlertConfig, http: reqwest::Client, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut limit = RateLimit::new(cfg.max_per_minute);
    while let Some(m) = rx.recv().await {
        let Some(held) = limit.admit(Instant::now()) else {
            tracing::warn!(key = %m.key, held = limit.held, "alert held back by the rate limit");
            continue;
        };
        let text = if held > 0 {
            format!("{} ({held} alerts suppressed by the rate limit)", m.text)
        } else {
            m.text
        };
        if let Some((api, token, chat)) = &cfg.telegram {
            let url = format!("{api}/bot{token}/sendMessage");
            let body = serde_json::json!({ "chat_id": chat, "text": text });
            report(http.post(&url).json(&body).send().await, "telegram", api);
        }
        if let Some(url) = &cfg.webhook {
            let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let body = serde_json::json!({
                "key": m.key,
                "state": m.state.name(),
                "text": text,
                "at": at,
            });
            report(http.post(url).json(&body).send().await, "webhook", url);
        }
    }
}

fn report(r: Result<reqwest::Response, reqwest::Error>, kind: &str, dest: &str) {
    // The destination without path (a Telegram URL carries the token in its path).
    let host = dest.split('/').take(3).collect::<Vec<_>>().join("/");
    match r {
        Ok(resp) if resp.status().is_success() => {}
        Ok(resp) => tracing::warn!(kind, %host, status = %resp.status(), "alert not accepted"),
        Err(e) => tracing::warn!(kind, %host, error = %e.without_url(), "alert not sent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_holds_back_past_max_per_minute_and_counts_what_it_held() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = RateLimit::new(2);
        assert_eq!(l.admit(t0), Some(0));
        assert_eq!(l.admit(t0 + s), Some(0));
        assert_eq!(l.admit(t0 + 2 * s), None);
        assert_eq!(l.admit(t0 + 3 * s), None);
        // A minute after the first, one slot is free again: sent, announcing the two held.
        assert_eq!(l.admit(t0 + Duration::from_mins(1)), Some(2));
        assert_eq!(l.admit(t0 + Duration::from_mins(1)), None);
        assert_eq!(l.admit(t0 + Duration::from_secs(61)), Some(1));
    }
}
