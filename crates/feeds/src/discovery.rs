//! Window discovery: every `discovery_secs`, for each configured asset × duration, find the
//! current and the next window on Gamma by slug, record it in the window index, and subscribe
//! its tokens on the market channel — so the next window is subscribed before it opens. Ended
//! windows are unsubscribed after `unsubscribe_grace_secs` (to catch `market_resolved`), and
//! polled on Gamma until the official resolution (`outcomePrices`, `eventMetadata.priceToBeat` /
//! `finalPrice`) is in the index or `resolution_timeout_secs` passed.
//!
//! Tradable filter (protocols.md §1.3): a window is subscribed only if
//! `active && !closed && enableOrderBook && acceptingOrders` and its end is in the future.
//! Every Gamma answer is recorded raw on the control stream (`{"type":"gamma",…}`).
//!
//! "Now" comes from the [`Clock`] (wall time, or the sandbox's clock).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use polyedge_core::{Asset, UnixNanos, Window, WindowDuration};
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::gamma::{Gamma, RawAnswer, object_for_slug, parse_event, parse_market};
use crate::sink::{Sink, SinkClosed};
use crate::slugs::current_and_next;
use crate::stats::should_log;
use crate::ws::Command;

/// Discovery settings.
#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// Assets.
    pub assets: Vec<Asset>,
    /// Durations.
    pub durations: Vec<WindowDuration>,
    /// Tick interval.
    pub every: Duration,
    /// Keep tokens subscribed this long after the end.
    pub unsubscribe_grace: Duration,
    /// Poll an ended window's resolution this often.
    pub resolution_poll: Duration,
    /// Stop following a window this long after its end.
    pub resolution_timeout: Duration,
}

#[derive(Debug, Clone)]
struct Tracked {
    window: Window,
    subscribed: bool,
    tokens: Vec<String>,
    resolved: bool,
    final_known: bool,
    next_poll: u64,
}

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The discovery task's state. See the [module docs](self).
pub struct Discovery {
    opts: DiscoveryOptions,
    gamma: Gamma,
    clock: Clock,
    sink: Sink,
    market: Option<mpsc::UnboundedSender<Command>>,
    tracked: BTreeMap<String, Tracked>,
    /// Slugs Gamma did not know yet: consecutive misses.
    misses: HashMap<String, u64>,
    /// Windows handed over by [`Discovery::follow_listed`], taken at the next pass.
    pending: Vec<Window>,
    errors: u64,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("tracked", &self.tracked.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// A discovery task; `market` receives the (un)subscriptions (none when the market channel is
    /// not recorded).
    pub fn new(
        opts: DiscoveryOptions,
        gamma: Gamma,
        clock: Clock,
        sink: Sink,
        market: Option<mpsc::UnboundedSender<Command>>,
    ) -> Self {
        Discovery {
            opts,
            gamma,
            clock,
            sink,
            market,
            tracked: BTreeMap::new(),
            misses: HashMap::new(),
            pending: Vec::new(),
            errors: 0,
        }
    }

    /// Follows `window` (already listed elsewhere, e.g. by an earlier run of the same state):
    /// at the next pass it is discovered and subscribed as usual if it has not ended, otherwise
    /// followed (without subscribing) until its official resolution is recorded. How a restarted
    /// `polyedge run` learns the outcomes of windows that ended while it was down.
    pub fn follow_listed(&mut self, window: Window) {
        self.pending.push(window);
    }

    /// The windows being followed, by slug.
    pub fn tracked(&self) -> Vec<&Window> {
        self.tracked.values().map(|t| &t.window).collect()
    }

    /// Runs until shutdown or until the sink closes.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.opts.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if self.tick().await.is_err() {
                        return;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One discovery pass.
    ///
    /// # Errors
    /// [`SinkClosed`] if the recording writer stopped.
    pub async fn tick(&mut self) -> Result<(), SinkClosed> {
        let now = match self.clock.now().await {
            Ok(t) => t,
            Err(e) => {
                self.errors += 1;
                if should_log(self.errors) {
                    tracing::warn!(error = %e, "discovery: clock unavailable");
                }
                return Ok(());
            }
        };
        let mut wanted = Vec::new();
        for &asset in &self.opts.assets {
            for &dur in &self.opts.durations {
                match current_and_next(asset, dur, now.secs()) {
                    Some(ws) => wanted.extend(ws),
                    None => {
                        if should_log(1) {
                            tracing::debug!(%asset, duration = dur.label(), "no slug rule for this window kind");
                        }
                    }
                }
            }
        }
        for w in std::mem::take(&mut self.pending) {
            if w.end > now {
                wanted.push(w);
            } else if !self.tracked.contains_key(&w.slug) {
                self.tracked.insert(
                    w.slug.clone(),
                    Tracked {
                        subscribed: false,
                        tokens: Vec::new(),
                        resolved: w.outcome.is_some(),
                        final_known: w.final_price.is_some(),
                        next_poll: w.end.0,
                        window: w,
                    },
                );
            }
        }
        for w in wanted {
            if !self.tracked.contains_key(&w.slug) && w.end > now {
                self.discover(w, now).await?;
            }
        }
        let slugs: Vec<String> = self.tracked.keys().cloned().collect();
        for slug in slugs {
            self.follow(&slug, now).await?;
        }
        Ok(())
    }

    async fn record(&self, slug: &str, kind: &str, a: &RawAnswer) -> Result<(), SinkClosed> {
        let head = serde_json::json!({"type": "gamma", "slug": slug, "kind": kind, "url": a.url, "status": a.status});
        let rec = crate::ws::embed_body(&head, &a.body);
        let t = self.sink.clock().now();
        self.sink.frame(self.sink.control_stream(), t, rec).await
    }

    async fn fetch_market(
        &mut self,
        base: &Window,
    ) -> Result<Option<crate::gamma::MarketInfo>, SinkClosed> {
        let a = match self.gamma.market_raw(&base.slug).await {
            Ok(a) => a,
            Err(e) => {
                self.errors += 1;
                if should_log(self.errors) {
                    tracing::warn!(slug = %base.slug, error = %e, "discovery: Gamma request failed");
                }
                return Ok(None);
            }
        };
        if a.status == 404 {
            return Ok(None);
        }
        self.record(&base.slug, "market", &a).await?;
        if a.status != 200 {
            self.errors += 1;
            if should_log(self.errors) {
                tracing::warn!(slug = %base.slug, status = a.status, "discovery: Gamma answered an error");
            }
            return Ok(None);
        }
        let obj = match object_for_slug(&a.body, &base.slug) {
            Ok(Some(o)) => o,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(slug = %base.slug, error = %e, "discovery: unusable Gamma answer");
                return Ok(None);
            }
        };
        match parse_market(base, &obj) {
            Ok(m) => Ok(Some(m)),
            Err(e) => {
                tracing::warn!(error = %e, "discovery: unusable Gamma market");
                Ok(None)
            }
        }
    }

    async fn discover(&mut self, base: Window, now: UnixNanos) -> Result<(), SinkClosed> {
        let Some(m) = self.fetch_market(&base).await? else {
            let n = self.misses.entry(base.slug.clone()).or_insert(0);
            *n += 1;
            if *n == 1 || n.is_power_of_two() {
                tracing::info!(slug = %base.slug, tries = *n, "discovery: window not on Gamma (yet)");
            }
            return Ok(());
        };
        self.misses.remove(&base.slug);
        let tokens: Vec<String> = [m.window.up_token, m.window.down_token]
            .into_iter()
            .flatten()
            .map(|t| t.to_string())
            .collect();
        let subscribe = m.tradable && m.window.end > now && !tokens.is_empty();
        tracing::info!(
            slug = %m.window.slug,
            tradable = m.tradable,
            subscribe,
            tokens = tokens.len(),
            "discovery: window found"
        );
        // The window record goes first: the sink is one queue, so the listing is written before
        // any frame the subscription brings (a replay routes those frames to a listed window).
        self.sink.window(m.window.clone())?;
        if subscribe && let Some(tx) = &self.market {
            let _ = tx.send(Command::Subscribe(tokens.clone()));
        }
        self.tracked.insert(
            m.window.slug.clone(),
            Tracked {
                resolved: m.resolved,
                final_known: m.window.final_price.is_some(),
                next_poll: m.window.end.0,
                subscribed: subscribe,
                tokens,
                window: m.window,
            },
        );
        Ok(())
    }

    async fn follow(&mut self, slug: &str, now: UnixNanos) -> Result<(), SinkClosed> {
        let Some(t) = self.tracked.get(slug).cloned() else {
            return Ok(());
        };
        let end = t.window.end.0;
        if t.subscribed && now.0 >= end.saturating_add(dur_ns(self.opts.unsubscribe_grace)) {
            if let Some(tx) = &self.market {
                let _ = tx.send(Command::Unsubscribe(t.tokens.clone()));
            }
            if let Some(x) = self.tracked.get_mut(slug) {
                x.subscribed = false;
            }
            tracing::info!(slug, "discovery: window ended; unsubscribed");
        }
        if now.0 >= end.saturating_add(dur_ns(self.opts.resolution_timeout)) {
            if !(t.resolved && t.final_known) {
                tracing::warn!(
                    slug,
                    resolved = t.resolved,
                    final_price = t.final_known,
                    "discovery: gave up waiting for the official resolution"
                );
            }
            self.tracked.remove(slug);
            return Ok(());
        }
        if now.0 < end || now.0 < t.next_poll || (t.resolved && t.final_known) {
            return Ok(());
        }
        // Poll the resolution.
        let mut w = t.window.clone();
        let mut resolved = t.resolved;
        if !resolved && let Some(m) = self.fetch_market(&t.window).await? {
            resolved = m.resolved;
            w.outcome = m.window.outcome;
            w.outcome_source = m.window.outcome_source;
        }
        let mut final_known = t.final_known;
        match self.gamma.event_raw(slug).await {
            Ok(a) => {
                self.record(slug, "event", &a).await?;
                if a.status == 200
                    && let Ok(Some(obj)) = object_for_slug(&a.body, slug)
                {
                    match parse_event(slug, &obj) {
                        Ok(e) => {
                            if e.price_to_beat.is_some() {
                                w.strike = e.price_to_beat;
                            }
                            if e.final_price.is_some() {
                                w.final_price = e.final_price;
                                final_known = true;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "discovery: unusable Gamma event"),
                    }
                }
            }
            Err(e) => tracing::warn!(slug, error = %e, "discovery: Gamma event request failed"),
        }
        let changed = w != t.window;
        if changed {
            tracing::info!(slug, outcome = ?w.outcome, strike = ?w.strike.map(|s| s.to_string()), final_price = ?w.final_price.map(|s| s.to_string()), "discovery: resolution recorded");
            self.sink.window(w.clone())?;
        }
        if let Some(x) = self.tracked.get_mut(slug) {
            x.window = w;
            x.resolved = resolved;
            x.final_known = final_known;
            x.next_poll = now.0.saturating_add(dur_ns(self.opts.resolution_poll));
        }
        Ok(())
    }
}
