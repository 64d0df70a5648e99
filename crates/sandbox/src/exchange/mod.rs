//! The sandbox as an exchange: Polymarket's CLOB REST under `/clob` and the user channel at
//! `/ws/user`, on loopback, checking every signature as the venue does ([`sig`]) and matching
//! with the engine's fill model against the replayed books ([`state`]). Routes: [`rest`];
//! design and limits: `docs/sandbox.md` §9.

pub mod chain;
pub mod rest;
pub mod sig;
pub mod state;
pub(crate) mod user_ws;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use polyedge_core::{Cash, UnixNanos, Window};
use tokio::sync::broadcast;

pub use state::{State, UserMsg};

/// Settings of the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// Chain id the signatures are checked for (Polygon: 137).
    pub chain_id: u64,
    /// pUSD every new API key starts with (micro-pUSD).
    pub start_cash: Cash,
    /// Largest allowed distance between an auth header's `POLY_TIMESTAMP` and the wall clock,
    /// in seconds (the venue checks freshness but does not document the bound; 30 s here).
    pub max_skew_s: u64,
    /// Open orders of a key are cancelled when no heartbeat came for this long after its first
    /// one (venue: 10 s, protocols.md §2.2).
    pub heartbeat_timeout: Duration,
    /// Mixed into the derived API credentials, so two sandboxes give different keys.
    pub key_salt: String,
    /// Fault: every Nth request accepted by `POST /order` or `POST /orders` is carried out, but
    /// the connection is closed without an answer (the client cannot tell whether its orders are
    /// on the book).
    pub drop_after_accept_every: Option<u64>,
    /// Fault: the user channel is closed after every N events written on a connection.
    pub user_drop_every: Option<u64>,
    /// Fault: every Nth `POST /order` or `POST /orders` is answered 429 (rate limited) and
    /// nothing in it is placed.
    pub busy_every: Option<u64>,
    /// Fault: every Nth trade (over all accounts) is booked — the account's balance and
    /// position change — but never reported: no user-channel event, not in `GET /data/trades`
    /// (a venue whose books no longer match the client's; the client must notice and halt).
    pub hide_trade_every: Option<u64>,
    /// The exchange redeems every position itself when its window resolves, instead of waiting
    /// for its holder's `redeemPositions` transaction on `POST /rpc` (the venue's way, and the
    /// default: `false`). For clients that do not redeem.
    pub auto_redeem: bool,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            chain_id: 137,
            start_cash: Cash(1_000_000_000),
            max_skew_s: 30,
            heartbeat_timeout: Duration::from_secs(10),
            key_salt: "polyedge-sandbox".into(),
            drop_after_accept_every: None,
            user_drop_every: None,
            busy_every: None,
            hide_trade_every: None,
            auto_redeem: false,
        }
    }
}

/// A fault that fires on every Nth event (never when N is unset or 0), counting its hits.
#[derive(Debug)]
struct EveryNth {
    n: Option<u64>,
    seen: AtomicU64,
    hits: AtomicU64,
}

impl EveryNth {
    fn new(n: Option<u64>) -> Self {
        EveryNth {
            n: n.filter(|n| *n > 0),
            seen: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Counts one event; `true` on every Nth.
    fn hit(&self) -> bool {
        let Some(n) = self.n else {
            return false;
        };
        let k = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let fire = k.is_multiple_of(n);
        if fire {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        fire
    }

    /// How often it fired.
    fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// The exchange: state behind one lock, and the user-channel broadcast.
#[derive(Debug)]
pub struct Exchange {
    state: Mutex<State>,
    events: broadcast::Sender<UserMsg>,
    pub(crate) chain_id: u64,
    pub(crate) max_skew_s: u64,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) key_salt: String,
    withhold: EveryNth,
    pub(crate) user_drop_every: Option<u64>,
    busy: EveryNth,
    /// User-channel connections closed by `user_drop_every`.
    pub user_drops: std::sync::atomic::AtomicU64,
    /// Orders whose answer `drop_after_accept_every` withheld (a withheld batch counts each
    /// of its orders).
    pub orders_withheld: std::sync::atomic::AtomicU64,
}

impl Exchange {
    /// An exchange listing `windows`.
    pub fn new(windows: Vec<Window>, config: &ExchangeConfig) -> Self {
        let (events, _) = broadcast::channel(4096);
        Exchange {
            state: Mutex::new(
                State::new(windows, config.start_cash)
                    .with_hidden_trades(config.hide_trade_every.filter(|n| *n > 0))
                    .with_auto_redeem(config.auto_redeem),
            ),
            events,
            chain_id: config.chain_id,
            max_skew_s: config.max_skew_s,
            heartbeat_timeout: config.heartbeat_timeout,
            key_salt: config.key_salt.clone(),
            withhold: EveryNth::new(config.drop_after_accept_every),
            user_drop_every: config.user_drop_every.filter(|n| *n > 0),
            busy: EveryNth::new(config.busy_every),
            user_drops: std::sync::atomic::AtomicU64::new(0),
            orders_withheld: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether this `POST /order` or `POST /orders` is to be answered 429 without being placed
    /// (the fault `busy_every`).
    pub(crate) fn busy_now(&self) -> bool {
        self.busy.hit()
    }

    /// Whether the answer to this accepted `POST /order` or `POST /orders` is to be withheld
    /// (the fault `drop_after_accept_every`).
    pub(crate) fn withhold_answer(&self) -> bool {
        self.withhold.hit()
    }

    /// The state (poisoning is ignored: a panicked request leaves the state as it was between
    /// two whole operations).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends events to the user channels.
    pub(crate) fn publish(&self, msgs: Vec<UserMsg>) {
        for m in msgs {
            let _ = self.events.send(m);
        }
    }

    /// A receiver of every user-channel event.
    pub fn subscribe(&self) -> broadcast::Receiver<UserMsg> {
        self.events.subscribe()
    }

    /// A replayed market frame's book changes, received at `now` (sandbox clock).
    pub(crate) fn on_book_updates(&self, updates: &[crate::books::BookUpdate], now: UnixNanos) {
        let mut st = self.lock();
        st.on_book_updates(updates, now);
        let out = std::mem::take(&mut st.outbox);
        drop(st);
        self.publish(out);
    }

    /// The clock reached `now`: expiries, taker delays, window closes, settlement, heartbeats.
    pub(crate) fn tick(&self, now: UnixNanos) {
        let mut st = self.lock();
        st.advance(now);
        st.expire_heartbeats(Instant::now(), now);
        let out = std::mem::take(&mut st.outbox);
        drop(st);
        self.publish(out);
    }

    /// Answers a JSON-RPC request body on the sandbox's chain at `now` (sandbox clock):
    /// [`chain`].
    pub fn rpc(&self, body: &[u8], now: UnixNanos) -> serde_json::Value {
        self.lock().rpc(body, self.chain_id, now)
    }

    /// The ledger: per API key, pUSD balance, pUSD held by open orders, positions, fees paid,
    /// orders and trades (`GET /sandbox/ledger`).
    pub fn ledger(&self) -> serde_json::Value {
        let st = self.lock();
        let accounts: Vec<serde_json::Value> = st
            .accounts
            .values()
            .map(|a| {
                let positions: Vec<serde_json::Value> = a
                    .portfolio
                    .positions()
                    .filter(|(_, _, p)| !p.shares.is_zero())
                    .map(|(w, o, p)| {
                        serde_json::json!({"window": w, "outcome": o, "shares": p.shares.to_string()})
                    })
                    .collect();
                serde_json::json!({
                    "api_key": a.api_key,
                    "address": a.address.to_checksum(None),
                    "balance_micros": a.portfolio.cash().micros(),
                    "balance": a.portfolio.cash().to_string(),
                    "reserved_micros": a.reserved_cash.micros(),
                    "fees_paid_micros": a.portfolio.fees_paid().micros(),
                    "positions": positions,
                    "orders": a.orders.len(),
                    "open_orders": a.orders.values().filter(|r| r.open).count(),
                    "trades": a.trades.len(),
                    "heartbeat_id": a.heartbeat.as_ref().map(|(id, _)| id.clone()),
                    "fills": a.trades.iter().map(|t| serde_json::json!({
                        "trade": t.id,
                        "order": t.order,
                        "window": t.fill.window,
                        "outcome": t.fill.outcome,
                        "side": t.fill.side.name(),
                        "price": t.fill.price.to_string(),
                        "size": t.fill.size.to_string(),
                        "fee": t.fill.fee.to_string(),
                        "at": t.fill.at.0,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "accounts": accounts,
            "requests": {
                "single_orders": st.single_orders,
                "batches": st.batches,
                "batched_orders": st.batched_orders,
            },
            "faults": {
                "answers_withheld": self.withhold.hits(),
                "orders_withheld": self.orders_withheld.load(std::sync::atomic::Ordering::Relaxed),
                "user_channel_drops": self.user_drops.load(std::sync::atomic::Ordering::Relaxed),
                "busy_answers": self.busy.hits(),
                "hidden_trades": st.hidden_trades,
            },
            "chain": {
                "redeems": st.chain.redeems,
                "merges": st.chain.merges,
                "reverted": st.chain.reverted,
                "refused": st.chain.refused,
                "paid_micros": st.chain.paid_micros,
            },
        })
    }
}
