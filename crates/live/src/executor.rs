//! [`LiveExecutor`]: the engine's [`Executor`] on the real CLOB (or the sandbox exchange).
//!
//! The engine is synchronous and never waits on the network; the executor hands each order to a
//! task on the run's tokio runtime and learns what happened from three sources, all drained in
//! [`Executor::poll`] into [`ExecReport`]s stamped with the engine's clock:
//!
//! 1. **the REST answer** of `POST /order`: accepted (→ `Accepted`), refused (→ `Rejected` with
//!    the venue's text), busy (425/429/503: sent again, rebuilt, up to 4 times, after pauses
//!    from 0.25 s doubling with jitter; then `Rejected`), or *ambiguous* (timeout, dropped connection, 5xx: the task then asks
//!    `GET /data/order/{hash}` — the hash is known before sending — until the venue says whether
//!    it has the order);
//! 2. **the user channel** (`/ws/user`, parsed by `polyedge_venues::polymarket_user`): trades
//!    become `Filled` once per trade id (at `MATCHED`; a later `FAILED` halts the executor: the
//!    venue's books no longer match ours), order cancellations become `Cancelled`;
//! 3. **REST reconciliation** after the user channel dropped: the trades the venue reports that
//!    the channel did not deliver, and cancellations of orders no longer open.
//!
//! Fees are not on the wire (V2 sets them at match time): a fill's fee is the taker fee of the
//! window's schedule at the fill (`fee_schedule_at`), the same function the simulated venue and
//! the sandbox charge with. Sizes are sent rounded down to the venue's lot (0.01 share); what
//! the rounding leaves is reported `Cancelled` when the order is done.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use polyedge_core::{
    ExecReport, Fill, Liquidity, OrderId, OrderIntent, Outcome, Price, RejectReason, Size, TokenId,
    UnixNanos, Window, WindowBook, book_tokens, fee_schedule_at,
};
use polyedge_engine::{ExecError, Executor, ExecutorKind, RiskApproved};
use polyedge_venues::polymarket_user::{self, OrderEventType, TradeStatus, UserEvent};
use polymarket_client_sdk_v2::clob::types::TradeStatusType;
use polymarket_client_sdk_v2::types::U256;
use tokio_tungstenite::tungstenite::Message;

use crate::venue::{BATCH_MAX, Venue, VenueError};

/// What the executor has done (for the status line, metrics and tests).
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Orders sent.
    pub submitted: AtomicU64,
    /// Refused by the venue.
    pub rejected: AtomicU64,
    /// Submits without a clear answer, later resolved by the order hash.
    pub ambiguous: AtomicU64,
    /// Fills booked.
    pub fills: AtomicU64,
    /// Fills learned from REST reconciliation (the user channel missed them).
    pub fills_reconciled: AtomicU64,
    /// User-channel (re)connections.
    pub user_connects: AtomicU64,
    /// User-channel frames our parser refused (counted, logged, skipped).
    pub user_malformed: AtomicU64,
    /// Trades the venue reported `FAILED` after we booked them.
    pub failed_trades: AtomicU64,
    /// Submits sent again after a 425/429/503 answer.
    pub busy_retries: AtomicU64,
    /// Requests that carried several orders (`POST /orders`: the orders one strategy callback
    /// sent, up to 15 per request).
    pub batches: AtomicU64,
    /// Position checks done (the venue's positions of running windows compared with our
    /// orders' trades).
    pub position_checks: AtomicU64,
    /// Position checks that found the venue's positions unexplained by our fills twice in a
    /// row (each halts the executor).
    pub position_mismatches: AtomicU64,
    /// Windows whose positions were redeemed on chain (`redeemPositions` mined with success).
    pub redeems: AtomicU64,
    /// Redeems given up (reverted, or not resolved on chain within [`REDEEM_PATIENCE`]).
    pub redeem_failures: AtomicU64,
    /// Merges of complete sets mined with success.
    pub merges: AtomicU64,
    /// Merges that failed on chain after the engine booked them (each halts the executor).
    pub merge_failures: AtomicU64,
}

/// Metric: the executor's events (the [`LiveStats`] counters), by `kind` (`submitted`,
/// `rejected`, `ambiguous`, `fills`, `fills_reconciled`, `user_connects`, `user_malformed`,
/// `failed_trades`, `busy_retries`, `batches`, `position_checks`, `position_mismatches`,
/// `redeems`, `redeem_failures`, `merges`, `merge_failures`).
pub const LIVE_EVENTS: &str = "polyedge_live_events_total";

/// Counts one event in `counter` and in the [`LIVE_EVENTS`] metric.
fn bump(counter: &AtomicU64, kind: &'static str) {
    counter.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(LIVE_EVENTS, "kind" => kind).increment(1);
}

/// Metric: `POST /order` sent → the venue's answer (or the timeout), seconds, by `answer`
/// (`accepted`, `rejected`, `busy`, `ambiguous`, `error`). Recorded only when a metrics recorder
/// is installed (`polyedge run --control`).
pub const ORDER_ROUNDTRIP: &str = "polyedge_order_roundtrip_seconds";

/// How many times a submit answered 425/429/503 is tried again before it is reported rejected.
pub const BUSY_RETRIES: usize = 4;
/// The first pause before such a retry (doubling with jitter, at most 5 s: the project's
/// `polyedge_feeds::ws::backoff`).
pub const BUSY_FIRST_PAUSE: Duration = Duration::from_millis(250);

/// How long a redeem is tried while the condition is not resolved on chain (the venue's
/// resolution of an Up/Down window usually lands minutes after its end).
pub const REDEEM_PATIENCE: Duration = Duration::from_hours(6);
/// Tries of a redeem or merge that failed for another reason (node, transport) before it is
/// given up.
pub const CHAIN_TRIES: usize = 5;

enum Event {
    /// A merge the engine booked failed on chain: the books no longer match the venue's.
    MergeFailed(String),
    Prepared {
        id: OrderId,
        hash: String,
        sent: Size,
    },
    Posted {
        id: OrderId,
        result: Result<(), VenueError>,
    },
    Resolved {
        id: OrderId,
        on_venue: bool,
    },
    User(UserEvent),
    /// The venue's trades and open orders (200 ms after a user-channel reconnect, then every second);
    /// `upto`: how many acceptances the executor had booked before the request went out (later
    /// ones may not be in `open` yet).
    Reconciled {
        trades: Vec<polyedge_venues::polymarket_user::TradeUpdate>,
        open: HashSet<String>,
        upto: u64,
        /// The venue's balance of each outcome token of a window still running (micro-shares),
        /// read after `trades` and before a second read of the trades that found them
        /// unchanged; `None` when a trade arrived between the two reads or a request failed.
        positions: Option<Vec<(TokenId, i64)>>,
    },
}

struct LiveOrder {
    intent: OrderIntent,
    /// The outcome token the order trades.
    token: TokenId,
    /// The window's length and recorded fee schedule (what the fee of a fill needs).
    duration: polyedge_core::WindowDuration,
    fee_schedule: Option<polyedge_core::FeeSchedule>,
    hash: Option<String>,
    sent: Size,
    filled: Size,
    accepted: bool,
    /// The executor's acceptance count when this order was accepted.
    accept_seq: u64,
    done: bool,
}

/// Shared by the executor and its tasks.
struct Shared {
    venue: Arc<Venue>,
    tx: Sender<Event>,
    pending: AtomicBool,
    stats: LiveStats,
    /// Acceptances booked so far (see [`Event::Reconciled`]).
    accepts: AtomicU64,
    /// Outcome tokens traded, with the end of their window: the ones whose window runs past
    /// the engine's clock plus [`POSITION_CHECK_MARGIN`] are checked against the venue.
    tracked: std::sync::Mutex<HashMap<TokenId, UnixNanos>>,
    /// The engine's clock at the last poll (ns since epoch).
    engine_now: AtomicU64,
    /// One chain transaction at a time (the wallet's nonce is read from the node per send).
    chain_lock: tokio::sync::Mutex<()>,
}

impl Shared {
    fn send(&self, e: Event) {
        let _ = self.tx.send(e);
        self.pending.store(true, Ordering::Release);
    }
}

/// The live executor of one engine lane. See the [module docs](self).
pub struct LiveExecutor {
    shared: Arc<Shared>,
    rt: tokio::runtime::Handle,
    rx: Receiver<Event>,
    orders: BTreeMap<OrderId, LiveOrder>,
    by_hash: HashMap<String, OrderId>,
    trades_seen: HashSet<(String, OrderId)>,
    /// Tokens whose venue position our orders' trades did not explain at the last check; the
    /// same tokens unexplained again halt the executor.
    suspect: Vec<TokenId>,
    halted: Option<String>,
    /// Orders submitted in the current strategy callback, sent at [`Executor::flush`].
    pending: Vec<(OrderId, OrderIntent, TokenId)>,
    /// The condition id of each window ordered in (what redeem and merge name on chain).
    conditions: HashMap<String, alloy_primitives::B256>,
}

impl std::fmt::Debug for LiveExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveExecutor")
            .field("orders", &self.orders.len())
            .field("halted", &self.halted)
            .finish_non_exhaustive()
    }
}

impl LiveExecutor {
    /// An executor sending through `venue`, running its tasks on `rt`, and listening on the
    /// user channel of `venue.config().user_ws_url` (reconnecting, and reconciling over REST
    /// after every reconnect).
    pub fn new(venue: Arc<Venue>, rt: tokio::runtime::Handle) -> Self {
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            venue,
            tx,
            pending: AtomicBool::new(false),
            stats: LiveStats::default(),
            accepts: AtomicU64::new(0),
            tracked: std::sync::Mutex::new(HashMap::new()),
            engine_now: AtomicU64::new(0),
            chain_lock: tokio::sync::Mutex::new(()),
        });
        rt.spawn(user_channel(shared.clone()));
        LiveExecutor {
            shared,
            rt,
            rx,
            orders: BTreeMap::new(),
            by_hash: HashMap::new(),
            trades_seen: HashSet::new(),
            suspect: Vec::new(),
            halted: None,
            pending: Vec::new(),
            conditions: HashMap::new(),
        }
    }

    /// Remembers `window`'s condition id, which redeem and merge name on chain. Done by
    /// [`Executor::submit`] for every window the executor orders in; for positions of a window
    /// it did not order in (bought by another client, or a test), call it first.
    pub fn know_window(&mut self, window: &Window) {
        if let Some(c) = &window.condition_id
            && let Ok(c) = c.to_string().parse()
        {
            self.conditions.insert(window.slug.clone(), c);
        }
    }

    /// Counters.
    pub fn stats(&self) -> &LiveStats {
        &self.shared.stats
    }

    /// Compares the venue's `positions` with the shares the venue's own list of `trades` says
    /// our orders bought and sold (the positions were read after that list and before a second
    /// read found it unchanged, so nothing else should have moved them). Tokens unexplained at
    /// two checks in a row halt the executor (the engine then trips `venue_mismatch`). A
    /// position the venue reports as zero where ours is not is not counted: the venue may have
    /// redeemed it at resolution.
    fn check_positions(
        &mut self,
        trades: &[polyedge_venues::polymarket_user::TradeUpdate],
        positions: &[(TokenId, i64)],
    ) {
        bump(&self.shared.stats.position_checks, "position_checks");
        let mut ours: HashMap<TokenId, i64> = HashMap::new();
        for t in trades
            .iter()
            .filter(|t| !matches!(t.status, TradeStatus::Failed))
        {
            let parts = std::iter::once((&t.taker_order_id, t.size)).chain(
                t.maker_orders
                    .iter()
                    .map(|m| (&m.order_id, m.matched_amount)),
            );
            for (hash, size) in parts {
                let Some(o) = self.by_hash.get(hash).and_then(|id| self.orders.get(id)) else {
                    continue;
                };
                let micros = i64::try_from(size.micros()).unwrap_or(i64::MAX);
                *ours.entry(o.token).or_default() += match o.intent.side {
                    polyedge_core::Side::Buy => micros,
                    polyedge_core::Side::Sell => -micros,
                };
            }
        }
        let mut diff: Vec<(TokenId, i64, i64)> = positions
            .iter()
            .map(|&(t, venue)| (t, ours.get(&t).copied().unwrap_or(0), venue))
            .filter(|&(_, ours, venue)| ours != venue && !(venue == 0 && ours > 0))
            .collect();
        diff.sort_unstable();
        let tokens: Vec<TokenId> = diff.iter().map(|d| d.0).collect();
        if tokens.is_empty() || tokens != self.suspect {
            if !tokens.is_empty() {
                tracing::warn!(
                    tokens = tokens.len(),
                    "live: the venue's positions differ from our orders' trades; checking again"
                );
            }
            self.suspect = tokens;
            return;
        }
        if self.halted.is_none() {
            let shares = |m: i64| {
                let sign = if m < 0 { "-" } else { "" };
                format!("{sign}{}", Size::from_micros(m.unsigned_abs()))
            };
            let list = diff
                .iter()
                .map(|(t, ours, venue)| {
                    format!(
                        "token {t}: venue {}, ours {}",
                        shares(*venue),
                        shares(*ours)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let why = format!(
                "the venue's positions do not match our fills at two checks in a row ({list}); trading halted — look at the account before restarting"
            );
            bump(
                &self.shared.stats.position_mismatches,
                "position_mismatches",
            );
            tracing::error!("live: {why}");
            self.halted = Some(why);
        }
    }

    fn drain(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>) {
        self.shared.engine_now.store(now.0, Ordering::Release);
        self.shared.pending.store(false, Ordering::Release);
        while let Ok(e) = self.rx.try_recv() {
            self.apply(e, now, out);
        }
    }

    fn apply(&mut self, e: Event, now: UnixNanos, out: &mut Vec<ExecReport>) {
        match e {
            Event::MergeFailed(why) => {
                tracing::error!("live: {why}");
                if self.halted.is_none() {
                    self.halted = Some(why);
                }
            }
            Event::Prepared { id, hash, sent } => {
                if let Some(o) = self.orders.get_mut(&id) {
                    o.hash = Some(hash.clone());
                    o.sent = sent;
                }
                self.by_hash.insert(hash, id);
            }
            Event::Posted { id, result } => match result {
                Ok(()) => self.accept(id, now, out),
                Err(VenueError::Ambiguous(why)) => {
                    tracing::warn!(order = id.0, %why, "live: no clear answer to a submit; resolving by the order hash");
                }
                Err(e) => {
                    bump(&self.shared.stats.rejected, "rejected");
                    self.finish_rejected(id, &e.to_string(), now, out);
                }
            },
            Event::Resolved { id, on_venue } => {
                if on_venue {
                    self.accept(id, now, out);
                } else {
                    self.finish_rejected(
                        id,
                        "not on the venue after a submit without a clear answer",
                        now,
                        out,
                    );
                }
            }
            Event::User(UserEvent::Trade(t)) => self.on_trade(&t, false, now, out),
            Event::User(UserEvent::Order(o)) => {
                let Some(&id) = self.by_hash.get(&o.order_id) else {
                    return;
                };
                match o.event {
                    OrderEventType::Placement => self.accept(id, now, out),
                    OrderEventType::Cancellation => self.finish_cancelled(id, now, out),
                    _ => {}
                }
            }
            Event::Reconciled {
                trades,
                open,
                upto,
                positions,
            } => {
                for t in &trades {
                    self.on_trade(t, true, now, out);
                }
                if let Some(p) = positions {
                    self.check_positions(&trades, &p);
                }
                let gone: Vec<OrderId> = self
                    .orders
                    .iter()
                    .filter(|(_, o)| o.accepted && !o.done && o.accept_seq <= upto)
                    .filter(|(_, o)| o.hash.as_ref().is_some_and(|h| !open.contains(h)))
                    .map(|(id, _)| *id)
                    .collect();
                for id in gone {
                    self.finish_cancelled(id, now, out);
                }
            }
        }
    }

    fn accept(&mut self, id: OrderId, now: UnixNanos, out: &mut Vec<ExecReport>) {
        if let Some(o) = self.orders.get_mut(&id)
            && !o.accepted
            && !o.done
        {
            o.accepted = true;
            o.accept_seq = self.shared.accepts.fetch_add(1, Ordering::AcqRel) + 1;
            out.push(ExecReport::Accepted { order: id, at: now });
        }
    }

    fn finish_rejected(
        &mut self,
        id: OrderId,
        why: &str,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        if let Some(o) = self.orders.get_mut(&id)
            && !o.done
        {
            o.done = true;
            out.push(ExecReport::Rejected {
                order: id,
                reason: RejectReason::Other(why.to_string()),
                at: now,
            });
        }
    }

    fn finish_cancelled(&mut self, id: OrderId, now: UnixNanos, out: &mut Vec<ExecReport>) {
        if let Some(o) = self.orders.get_mut(&id)
            && !o.done
        {
            if !o.accepted {
                o.accepted = true;
                o.accept_seq = self.shared.accepts.fetch_add(1, Ordering::AcqRel) + 1;
                out.push(ExecReport::Accepted { order: id, at: now });
            }
            o.done = true;
            out.push(ExecReport::Cancelled {
                order: id,
                unfilled: o.intent.size.saturating_sub(o.filled),
                at: now,
            });
        }
    }

    /// Our part of a trade: the taker order, or our entry among `maker_orders`.
    fn on_trade(
        &mut self,
        t: &polyedge_venues::polymarket_user::TradeUpdate,
        reconciled: bool,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        let mut ours: Vec<(OrderId, Size, Price, Liquidity)> = Vec::new();
        if let Some(&id) = self.by_hash.get(&t.taker_order_id) {
            ours.push((id, t.size, t.price, Liquidity::Taker));
        }
        for m in &t.maker_orders {
            if let Some(&id) = self.by_hash.get(&m.order_id) {
                ours.push((id, m.matched_amount, m.price, Liquidity::Maker));
            }
        }
        for (id, size, price, liquidity) in ours {
            let key = (t.trade_id.clone(), id);
            if matches!(t.status, TradeStatus::Failed) {
                if self.trades_seen.contains(&key) {
                    bump(&self.shared.stats.failed_trades, "failed_trades");
                    let why = format!(
                        "trade {} of order {} FAILED on chain after it was booked; trading halted until reconciled",
                        t.trade_id, id.0
                    );
                    tracing::error!("live: {why}");
                    self.halted = Some(why);
                }
                continue;
            }
            if !self.trades_seen.insert(key) {
                continue;
            }
            let Some(o) = self.orders.get_mut(&id) else {
                continue;
            };
            if !o.accepted {
                o.accepted = true;
                o.accept_seq = self.shared.accepts.fetch_add(1, Ordering::AcqRel) + 1;
                out.push(ExecReport::Accepted { order: id, at: now });
            }
            let schedule = fee_schedule_at(now, o.duration, o.fee_schedule.as_ref());
            let fee = match liquidity {
                Liquidity::Taker => schedule.taker_fee(size, price),
                Liquidity::Maker => schedule.maker_fee(size, price),
            };
            o.filled = o.filled.saturating_add(size);
            out.push(ExecReport::Filled(Fill {
                order: id,
                window: o.intent.window.clone(),
                outcome: o.intent.outcome,
                side: o.intent.side,
                price,
                size,
                fee,
                liquidity,
                at: now,
            }));
            bump(&self.shared.stats.fills, "fills");
            if reconciled {
                bump(&self.shared.stats.fills_reconciled, "fills_reconciled");
            }
            // Completely matched at the lot-rounded size: the rounding remainder is done.
            if o.filled >= o.sent && !o.done {
                o.done = true;
                if o.filled < o.intent.size {
                    out.push(ExecReport::Cancelled {
                        order: id,
                        unfilled: o.intent.size.saturating_sub(o.filled),
                        at: now,
                    });
                }
            }
        }
    }
}

fn token_of(window: &Window, outcome: Outcome) -> Option<TokenId> {
    book_tokens(window).map(|(u, d)| match outcome {
        Outcome::Up => u,
        Outcome::Down => d,
    })
}

impl Executor for LiveExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Live
    }

    fn submit(
        &mut self,
        order: RiskApproved,
        window: &Window,
        _book: &WindowBook,
        _now: UnixNanos,
    ) -> Result<(), ExecError> {
        if let Some(why) = &self.halted {
            return Err(ExecError::Unavailable(why.clone()));
        }
        let intent = order.into_intent();
        if intent.window != window.slug {
            return Err(ExecError::WindowMismatch {
                intent: intent.window,
                window: window.slug.clone(),
            });
        }
        if self.orders.contains_key(&intent.id) {
            return Err(ExecError::DuplicateOrder(intent.id));
        }
        let Some(token) = token_of(window, intent.outcome) else {
            return Err(ExecError::Unavailable(format!(
                "window {} has no token ids",
                window.slug
            )));
        };
        self.know_window(window);
        let id = intent.id;
        self.orders.insert(
            id,
            LiveOrder {
                intent: intent.clone(),
                token,
                duration: window.duration,
                fee_schedule: window.fee_schedule,
                hash: None,
                sent: Size::ZERO,
                filled: Size::ZERO,
                accepted: false,
                accept_seq: 0,
                done: false,
            },
        );
        self.shared
            .tracked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(token, window.end);
        bump(&self.shared.stats.submitted, "submitted");
        self.pending.push((id, intent, token));
        Ok(())
    }

    fn flush(&mut self, _now: UnixNanos) {
        self.send_pending();
    }

    fn cancel(&mut self, order: OrderId, _now: UnixNanos) {
        let Some(hash) = self
            .orders
            .get(&order)
            .filter(|o| !o.done)
            .and_then(|o| o.hash.clone())
        else {
            return;
        };
        let shared = self.shared.clone();
        self.rt.spawn(async move {
            if let Err(e) = shared.venue.cancel(&hash).await {
                tracing::warn!(order = order.0, error = %e, "live: cancel failed");
            }
        });
    }

    fn market_update(
        &mut self,
        _window: &str,
        _book: &WindowBook,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        self.drain(now, out);
    }

    fn poll(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>) {
        // Nothing waits for a flush that did not come.
        self.send_pending();
        self.drain(now, out);
    }

    fn next_wakeup(&self) -> Option<UnixNanos> {
        // Something arrived from the network: poll at once.
        self.shared
            .pending
            .load(Ordering::Acquire)
            .then_some(UnixNanos(0))
    }

    fn open_orders(&self) -> Vec<OrderIntent> {
        self.orders
            .values()
            .filter(|o| !o.done)
            .map(|o| OrderIntent {
                size: o.intent.size.saturating_sub(o.filled),
                ..o.intent.clone()
            })
            .collect()
    }

    /// Why the executor stopped taking orders, if it did (a trade that failed on chain after
    /// it was booked; the venue's positions unexplained by our fills at two checks in a row).
    fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Sends the CTF merge of `shares` sets of `window` and answers at once (the engine books
    /// the merge now); a merge that then fails on chain halts the executor.
    fn merge(&mut self, window: &str, shares: Size, _now: UnixNanos) -> Result<(), ExecError> {
        if let Some(why) = &self.halted {
            return Err(ExecError::Unavailable(why.clone()));
        }
        let Some(chain) = self.shared.venue.chain().cloned() else {
            return Err(ExecError::Unavailable(format!(
                "merging complete sets of {window} on chain needs [live] polygon_rpc_url and the eoa wallet; the sets are held to resolution"
            )));
        };
        let Some(&condition) = self.conditions.get(window) else {
            return Err(ExecError::Unavailable(format!(
                "window {window} has no condition id; the sets are held to resolution"
            )));
        };
        let shared = self.shared.clone();
        let window = window.to_string();
        self.rt.spawn(async move {
            let _one = shared.chain_lock.lock().await;
            let mut last = String::new();
            let mut pauses = polyedge_feeds::ws::backoff(Duration::from_millis(500), Duration::from_secs(10));
            for _ in 0..CHAIN_TRIES {
                match chain.merge(condition, shares.micros()).await {
                    Ok(tx) => {
                        bump(&shared.stats.merges, "merges");
                        tracing::info!(window, sets = %shares, %tx, "live: complete sets merged on chain");
                        return;
                    }
                    Err(
                        e @ (crate::chain::ChainError::Reverted { .. }
                        | crate::chain::ChainError::Refused(_)),
                    ) => {
                        last = e.to_string();
                        break;
                    }
                    Err(e) => {
                        last = e.to_string();
                        tracing::warn!(window, error = %e, "live: merge failed; trying again");
                    }
                }
                if let Some(p) = pauses.next() {
                    tokio::time::sleep(p).await;
                }
            }
            bump(&shared.stats.merge_failures, "merge_failures");
            shared.send(Event::MergeFailed(format!(
                "the merge of {shares} complete sets of {window} failed on chain ({last}) after the engine booked it; trading halted — look at the wallet before restarting"
            )));
        });
        Ok(())
    }

    /// Redeems the window's positions on chain, trying until the condition is resolved there
    /// (at most [`REDEEM_PATIENCE`]).
    fn settled(&mut self, window: &str, _outcome: Option<Outcome>, _now: UnixNanos) {
        let Some(chain) = self.shared.venue.chain().cloned() else {
            return;
        };
        let Some(&condition) = self.conditions.get(window) else {
            tracing::warn!(
                window,
                "live: no condition id for the window; its positions are not redeemed"
            );
            return;
        };
        let shared = self.shared.clone();
        let window = window.to_string();
        self.rt.spawn(async move {
            let start = std::time::Instant::now();
            let mut pauses = polyedge_feeds::ws::backoff(Duration::from_millis(500), Duration::from_secs(30));
            let mut failures = 0;
            loop {
                let result = {
                    let _one = shared.chain_lock.lock().await;
                    chain.redeem(condition).await
                };
                let why = match result {
                    Ok(tx) => {
                        bump(&shared.stats.redeems, "redeems");
                        tracing::info!(window, %tx, "live: positions redeemed on chain");
                        return;
                    }
                    Err(crate::chain::ChainError::NotResolved) if start.elapsed() < REDEEM_PATIENCE => None,
                    Err(e @ crate::chain::ChainError::Failed(_)) if failures + 1 < CHAIN_TRIES => {
                        failures += 1;
                        tracing::warn!(window, error = %e, "live: redeem failed; trying again");
                        None
                    }
                    Err(e) => Some(e.to_string()),
                };
                if let Some(why) = why {
                    bump(&shared.stats.redeem_failures, "redeem_failures");
                    tracing::error!(window, error = %why, "live: redeem given up; the window's pUSD stays in its tokens until redeemed by hand");
                    return;
                }
                if let Some(p) = pauses.next() {
                    tokio::time::sleep(p).await;
                }
            }
        });
    }
}

/// Asks the venue for `hash` until it answers (found or not): at most 20 tries, backing off
/// from 200 ms to 5 s with jitter.
impl LiveExecutor {
    /// Sends the orders of the callback: one alone as `POST /order`, several in batches of at
    /// most [`BATCH_MAX`] (`POST /orders`), in submission order.
    fn send_pending(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(BATCH_MAX));
            let batch = std::mem::replace(&mut pending, rest);
            if batch.len() > 1 {
                bump(&self.shared.stats.batches, "batches");
            }
            let shared = self.shared.clone();
            self.rt
                .spawn(async move { post_orders(&shared, batch).await });
        }
    }
}

/// Orders prepared (signed) and posted in one request — `POST /order` for one, `POST /orders`
/// for several — each order's answer booked as its own. 425/429/503 mean nothing of the request
/// is on the book: all of it is rebuilt (a new salt, so new hashes) and sent again after a
/// growing pause; an ambiguous answer (timeout, dropped connection) is resolved order by order
/// by the order hash.
async fn post_orders(shared: &Shared, batch: Vec<(OrderId, OrderIntent, TokenId)>) {
    let mut pauses =
        polyedge_feeds::ws::backoff(BUSY_FIRST_PAUSE, Duration::from_secs(5)).take(BUSY_RETRIES);
    loop {
        let mut ids = Vec::with_capacity(batch.len());
        let mut prepared = Vec::with_capacity(batch.len());
        for (id, intent, token) in &batch {
            match shared.venue.prepare(intent, *token).await {
                Ok(p) => {
                    shared.send(Event::Prepared {
                        id: *id,
                        hash: p.hash.clone(),
                        sent: p.size,
                    });
                    ids.push((*id, p.hash.clone()));
                    prepared.push(p);
                }
                Err(e) => shared.send(Event::Posted {
                    id: *id,
                    result: Err(e),
                }),
            }
        }
        if prepared.is_empty() {
            return;
        }
        let sent = std::time::Instant::now();
        let result = if prepared.len() == 1 {
            let one = prepared.remove(0);
            shared.venue.post(one).await.map(|_| vec![Ok(())])
        } else {
            shared.venue.post_batch(prepared).await
        };
        record_roundtrip(result.as_ref().err(), sent);
        match result {
            Err(VenueError::Busy { status, message }) => {
                if let Some(pause) = pauses.next() {
                    bump(&shared.stats.busy_retries, "busy_retries");
                    tracing::warn!(orders = ids.len(), status, %message, pause_ms = pause.as_millis(), "live: venue busy; retrying");
                    tokio::time::sleep(pause).await;
                    continue;
                }
                for (id, _) in ids {
                    shared.send(Event::Posted {
                        id,
                        result: Err(VenueError::Busy {
                            status,
                            message: message.clone(),
                        }),
                    });
                }
            }
            Err(VenueError::Ambiguous(why)) => {
                for (id, _) in &ids {
                    shared.send(Event::Posted {
                        id: *id,
                        result: Err(VenueError::Ambiguous(why.clone())),
                    });
                }
                for (id, hash) in &ids {
                    bump(&shared.stats.ambiguous, "ambiguous");
                    resolve_by_hash(shared, *id, hash).await;
                }
            }
            Err(e) => {
                for (id, _) in ids {
                    shared.send(Event::Posted {
                        id,
                        result: Err(e.clone()),
                    });
                }
            }
            Ok(answers) => {
                for ((id, _), result) in ids.into_iter().zip(answers) {
                    shared.send(Event::Posted { id, result });
                }
            }
        }
        return;
    }
}

/// The round-trip histogram of one request, labelled with its answer (`error`: the request's
/// error, `None` when it was answered).
fn record_roundtrip(error: Option<&VenueError>, sent: std::time::Instant) {
    let answer = match error {
        None => "accepted",
        Some(VenueError::Rejected { .. }) => "rejected",
        Some(VenueError::Busy { .. }) => "busy",
        Some(VenueError::Ambiguous(_)) => "ambiguous",
        Some(VenueError::Build(_) | VenueError::Connect(_)) => "error",
    };
    metrics::histogram!(ORDER_ROUNDTRIP, "answer" => answer).record(sent.elapsed().as_secs_f64());
}

async fn resolve_by_hash(shared: &Shared, id: OrderId, hash: &str) {
    let mut pauses =
        polyedge_feeds::ws::backoff(Duration::from_millis(200), Duration::from_secs(5));
    for _ in 0..20 {
        match shared.venue.order(hash).await {
            Ok(found) => {
                tracing::info!(
                    order = id.0,
                    on_venue = found.is_some(),
                    "live: ambiguous submit resolved by the order hash"
                );
                shared.send(Event::Resolved {
                    id,
                    on_venue: found.is_some(),
                });
                return;
            }
            Err(e) => {
                tracing::warn!(order = id.0, error = %e, "live: order lookup failed; retrying");
            }
        }
        if let Some(pause) = pauses.next() {
            tokio::time::sleep(pause).await;
        }
    }
    tracing::error!(
        order = id.0,
        "live: the venue never said whether it has the order"
    );
}

/// The user channel: connect, authenticate, forward parsed events; after every reconnect,
/// reconcile over REST. Runs until the runtime stops.
async fn user_channel(shared: Arc<Shared>) {
    let url = shared.venue.config().user_ws_url.clone();
    let (key, secret, passphrase) = shared.venue.ws_auth();
    let sub = serde_json::json!({
        "auth": {"apiKey": key, "secret": secret, "passphrase": passphrase},
        "markets": [],
        "type": "user",
    })
    .to_string();
    let reconnect =
        || polyedge_feeds::ws::backoff(Duration::from_millis(100), Duration::from_secs(5));
    let mut pauses = reconnect();
    let mut first = true;
    loop {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut ws, _)) => {
                bump(&shared.stats.user_connects, "user_connects");
                if ws.send(Message::text(sub.clone())).await.is_ok() {
                    pauses = reconnect();
                    // Reconcile over REST shortly after every (re)connect — once the venue has
                    // taken the subscription, so nothing falls between the two — and then
                    // periodically (events can be lost without the socket closing).
                    let first_after = if first {
                        RECONCILE_EVERY
                    } else {
                        Duration::from_millis(200)
                    };
                    first = false;
                    let mut check = tokio::time::interval_at(
                        tokio::time::Instant::now() + first_after,
                        RECONCILE_EVERY,
                    );
                    let mut ping = tokio::time::interval(Duration::from_secs(10));
                    loop {
                        tokio::select! {
                            _ = ping.tick() => {
                                if ws.send(Message::text("PING")).await.is_err() { break; }
                            }
                            _ = check.tick() => reconcile(&shared).await,
                            m = ws.next() => {
                                let Some(Ok(m)) = m else { break };
                                let bytes = match &m {
                                    Message::Text(t) => t.as_bytes().to_vec(),
                                    Message::Binary(b) => b.to_vec(),
                                    Message::Close(_) => break,
                                    _ => continue,
                                };
                                let mut evs = Vec::new();
                                match polymarket_user::parse(&bytes, UnixNanos(0), &mut evs) {
                                    Ok(_) => {
                                        for e in evs {
                                            shared.send(Event::User(e));
                                        }
                                    }
                                    Err(e) => {
                                        bump(&shared.stats.user_malformed, "user_malformed");
                                        tracing::warn!(error = %e, frame = %String::from_utf8_lossy(&bytes[..bytes.len().min(200)]), "live: user-channel frame not understood; skipped");
                                    }
                                }
                            }
                        }
                    }
                }
                tracing::warn!("live: user channel closed; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, %url, "live: user channel connect failed"),
        }
        if let Some(pause) = pauses.next() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// A trade of `GET /data/trades` as the user channel would have sent it, read by the same
/// parser, so both paths book a trade the same way.
///
/// # Errors
/// The parser's message when a field is missing or malformed.
pub fn trade_update_of(
    t: &polymarket_client_sdk_v2::clob::types::response::TradeResponse,
) -> Result<polyedge_venues::polymarket_user::TradeUpdate, String> {
    let v = serde_json::json!({
        "event_type": "trade",
        "id": t.id,
        "taker_order_id": t.taker_order_id,
        "market": t.market.to_string(),
        "asset_id": t.asset_id.to_string(),
        "side": serde_json::to_value(t.side).unwrap_or_default(),
        "size": t.size.to_string(),
        "price": t.price.to_string(),
        "status": serde_json::to_value(&t.status).unwrap_or_default(),
        "outcome": t.outcome,
        "trader_side": serde_json::to_value(&t.trader_side).unwrap_or_default(),
        "maker_orders": t.maker_orders.iter().map(|m| serde_json::json!({
            "order_id": m.order_id,
            "matched_amount": m.matched_amount.to_string(),
            "price": m.price.to_string(),
            "asset_id": m.asset_id.to_string(),
            "outcome": m.outcome,
            "side": serde_json::to_value(m.side).unwrap_or_default(),
        })).collect::<Vec<_>>(),
    });
    let mut evs = Vec::new();
    polymarket_user::parse(v.to_string().as_bytes(), UnixNanos(0), &mut evs)
        .map_err(|e| format!("{e} in {v}"))?;
    evs.into_iter()
        .find_map(|e| match e {
            UserEvent::Trade(t) => Some(t),
            UserEvent::Order(_) => None,
        })
        .ok_or_else(|| format!("no trade in {v}"))
}

/// How often the executor reconciles with the venue over REST while the user channel is up.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// How far past the engine's clock a window must end for its tokens' positions to be checked
/// against the venue: 30 s (the venue may settle a window as soon as it ends, before the engine
/// has seen the end).
pub const POSITION_CHECK_MARGIN: Duration = Duration::from_secs(30);

/// What the venue knows: its trades (as user-channel trade updates), open order hashes, and
/// the positions of the tokens of windows still running. Open orders are read first and trades
/// second, so an order that left the book between the two requests because it filled has its
/// trade in the list; positions are read after the trades and kept only if a second read of the
/// trades finds no new one (so every position is explained by the trades in the list).
async fn reconcile(shared: &Shared) {
    let upto = shared.accepts.load(Ordering::Acquire);
    let open = match shared.venue.open_orders().await {
        Ok(o) => o.into_iter().map(|o| o.id).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "live: reconcile: open orders request failed");
            return;
        }
    };
    let Some((listed, complete)) = venue_trades(shared).await else {
        return;
    };
    let positions = if complete {
        positions(shared, &listed).await
    } else {
        None
    };
    let trades: Vec<_> = listed
        .iter()
        .filter_map(|t| match trade_update_of(t) {
            Ok(u) => Some(u),
            Err(e) => {
                bump(&shared.stats.user_malformed, "user_malformed");
                tracing::warn!(trade = %t.id, error = %e, "live: reconcile: a REST trade was not understood; skipped");
                None
            }
        })
        .collect();
    tracing::debug!(trades = trades.len(), "live: reconciled over REST");
    shared.send(Event::Reconciled {
        trades,
        open,
        upto,
        positions,
    });
}

type VenueTrade = polymarket_client_sdk_v2::clob::types::response::TradeResponse;

/// The account's trades (`GET /data/trades`, every page up to [`MAX_TRADE_PAGES`]) and whether
/// that was all of them; `None` if a request failed.
async fn venue_trades(shared: &Shared) -> Option<(Vec<VenueTrade>, bool)> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_TRADE_PAGES {
        match shared.venue.trades(cursor.clone()).await {
            Ok(p) => {
                all.extend(p.data);
                // The venue's last page says "LTE=" (base64 of -1).
                if p.next_cursor.is_empty() || p.next_cursor == "LTE=" {
                    return Some((all, true));
                }
                cursor = Some(p.next_cursor);
            }
            Err(e) => {
                tracing::warn!(error = %e, "live: reconcile: trades request failed");
                return None;
            }
        }
    }
    tracing::warn!(
        pages = MAX_TRADE_PAGES,
        "live: reconcile: the trade list is longer than the pages read; positions not checked"
    );
    Some((all, false))
}

/// The most pages of `GET /data/trades` one reconciliation reads.
pub const MAX_TRADE_PAGES: usize = 50;

/// The venue's positions in the tracked tokens whose window ends more than
/// [`POSITION_CHECK_MARGIN`] after the engine's clock, if the trades did not change while they
/// were read (see [`reconcile`]).
async fn positions(shared: &Shared, before: &[VenueTrade]) -> Option<Vec<(TokenId, i64)>> {
    let now = shared.engine_now.load(Ordering::Acquire);
    let margin = u64::try_from(POSITION_CHECK_MARGIN.as_nanos()).unwrap_or(u64::MAX);
    let tokens: Vec<TokenId> = {
        let mut tracked = shared
            .tracked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Windows that ended are never checked again.
        tracked.retain(|_, end| end.0 > now);
        tracked
            .iter()
            .filter(|(_, end)| end.0 > now.saturating_add(margin))
            .map(|(t, _)| *t)
            .collect()
    };
    // A trade not yet on chain (MATCHED, RETRYING) has not moved the on-chain balance yet: its
    // tokens are compared at a later check.
    let unsettled: HashSet<U256> = before
        .iter()
        .filter(|t| {
            !matches!(
                t.status,
                TradeStatusType::Mined | TradeStatusType::Confirmed | TradeStatusType::Failed
            )
        })
        .flat_map(|t| std::iter::once(t.asset_id).chain(t.maker_orders.iter().map(|m| m.asset_id)))
        .collect();
    let tokens: Vec<TokenId> = tokens
        .into_iter()
        .filter(|t| !unsettled.contains(&crate::venue::sdk_token(*t)))
        .collect();
    if tokens.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        match shared.venue.position_micros(t).await {
            Ok(p) => out.push((t, p)),
            Err(e) => {
                tracing::warn!(error = %e, "live: reconcile: position request failed");
                return None;
            }
        }
    }
    let (after, _) = venue_trades(shared).await?;
    let ids = |ts: &[VenueTrade]| ts.iter().map(|t| t.id.clone()).collect::<HashSet<_>>();
    let steady = ids(before) == ids(&after);
    tracing::debug!(tokens = out.len(), steady, "live: venue positions read");
    steady.then_some(out)
}
