//! What `collect` and `run` alert on ([`polyedge_ops::alerts`]): a silent feed (nothing for
//! `alerts.feed_silent_secs`) and, for a run, every breaker trip and the kill switch. Checked
//! once a second; each condition is sent once while it holds and "resolved" when it ends.

use std::time::Duration;

use polyedge_feeds::config::AlertsConfig;
use polyedge_feeds::metrics::FeedHealth;
use polyedge_ops::{AlertConfig, Alerter, Condition};

use crate::kill::BreakerView;

/// Key prefix of the feed conditions.
pub const FEED_SCOPE: &str = "feed_silent:";
/// Key prefix of the breaker conditions.
pub const BREAKER_SCOPE: &str = "breaker:";

/// The alerter of `cfg`, started on the current tokio runtime; `None` when no destination is
/// configured (neither the Telegram variables nor a webhook).
///
/// # Errors
/// Half of the Telegram variables set, or the HTTP client cannot be built.
pub fn start(cfg: &AlertsConfig, source: &str) -> Result<Option<Alerter>, String> {
    let Some(ac) = AlertConfig::from_env(
        &cfg.telegram_api,
        cfg.webhook.clone(),
        cfg.max_per_minute,
        source,
    )?
    else {
        return Ok(None);
    };
    Alerter::start(ac).map(Some)
}

/// Silent feeds now.
pub fn feed_conditions(health: &FeedHealth, limit_secs: f64) -> Vec<Condition> {
    health
        .silent(limit_secs)
        .into_iter()
        .map(|(name, age, state)| Condition {
            key: format!("{FEED_SCOPE}{name}"),
            text: format!(
                "feed {name} has sent nothing for {age:.0} s (limit {limit_secs:.0} s; connection {state})"
            ),
        })
        .collect()
}

/// Breakers tripped now (the kill switch among them), from the run's breaker view.
pub fn breaker_conditions(view: &BreakerView) -> Vec<Condition> {
    let v = view.lock().map(|v| v.clone()).unwrap_or_default();
    let mut out = Vec::new();
    if v["kill_switch"].as_bool() == Some(true) {
        out.push(Condition {
            key: format!("{BREAKER_SCOPE}kill_switch"),
            text: "kill switch engaged: resting orders cancelled, no new orders, positions held to resolution".into(),
        });
    }
    for s in v["strategies"].as_array().into_iter().flatten() {
        let strategy = s["strategy"].as_str().unwrap_or("?");
        for t in s["active"].as_array().into_iter().flatten() {
            let breaker = t["breaker"].as_str().unwrap_or("?");
            if breaker == "kill_switch" {
                continue;
            }
            let reason = t["reason"].as_str().unwrap_or("");
            out.push(Condition {
                key: format!("{BREAKER_SCOPE}{strategy}:{breaker}"),
                text: format!("{strategy}: breaker {breaker} tripped: {reason}"),
            });
        }
    }
    out
}

/// Checks the conditions every second on the current tokio runtime (breakers only when `view`
/// is given) until the runtime ends.
pub fn watch(alerter: Alerter, health: FeedHealth, view: Option<BreakerView>, cfg: &AlertsConfig) {
    let limit = cfg.feed_silent_secs;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            alerter.reconcile(FEED_SCOPE, &feed_conditions(&health, limit));
            if let Some(v) = &view {
                alerter.reconcile(BREAKER_SCOPE, &breaker_conditions(v));
            }
        }
    });
}
