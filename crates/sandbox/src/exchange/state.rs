//! The exchange's books, accounts and orders: what the REST routes and the user channel read
//! and change, behind one lock.
//!
//! * **Accounts** are keyed by API key (made by L1 `POST /auth/api-key`, found again by
//!   `GET /auth/derive-api-key` for the same address and nonce). Each holds a pUSD balance and
//!   positions in the engine's own [`Portfolio`] (the same accounting as the engine, so a
//!   client's books and the exchange's ledger can be compared to the micro-pUSD), the pUSD and
//!   shares its open orders hold, and its orders and trades.
//! * **Matching** is the engine's fill model: each account's orders go to its own
//!   [`SimExecutor`] (zero latency: the request has already travelled), which is shown every
//!   replayed book and advanced on the sandbox clock. One fill model, one implementation: the
//!   backtest, paper mode and the sandbox exchange fill the same order the same way. Accounts do
//!   not trade with each other (the replayed book is the market, as in the backtest).
//! * **Settlement**: once a window's outcome is known (the recording's index) and its end has
//!   passed on the sandbox clock, its condition is resolved: a holder's `redeemPositions` on the
//!   chain ([`super::chain`]) then pays winning shares 1 pUSD and losing shares nothing (with
//!   `auto_redeem`, every position is paid at once); cancelled orders release what they held.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use alloy_primitives::Address;
use polyedge_core::{
    Cash, ExecReport, Fill, Liquidity, MarketEvent, OrderId, OrderIntent, Outcome, Price, Side,
    Size, TimeInForce, TokenId, UnixNanos, Window, WindowBook,
};
use polyedge_engine::{Portfolio, SimConfig, SimExecutor};
use serde_json::{Value, json};

use crate::books::BookUpdate;

/// The venue's GTD security threshold (s): an order rests until `expiration − 60 s`.
pub const GTD_THRESHOLD_S: u64 = 60;

/// A message for one account's user channel (`/ws/user`).
#[derive(Debug, Clone)]
pub struct UserMsg {
    /// The account's API key.
    pub api_key: String,
    /// The condition id (`market`) the event concerns, for the subscription filter.
    pub market: String,
    /// The event as the venue sends it (one JSON object).
    pub json: String,
}

/// An order as the exchange keeps it.
#[derive(Debug, Clone)]
pub struct OrderRec {
    /// The engine-side id inside this account's matcher.
    pub id: OrderId,
    /// The venue id: the EIP-712 order hash (`0x…`).
    pub hash: String,
    /// What was asked (price, size, side, outcome, window, time in force).
    pub intent: OrderIntent,
    /// Token traded.
    pub token: TokenId,
    /// `market` (condition id; the zero hash when the recording has none).
    pub market: String,
    /// The signed order's maker (the funder: the EOA itself, or its proxy, Safe or deposit
    /// wallet); `None` until the REST layer sets it (then the account's address is shown).
    pub maker: Option<alloy_primitives::Address>,
    /// The signed order's signature type (0 EOA, 1 POLY_PROXY, 2 GNOSIS_SAFE, 3 POLY_1271).
    pub signature_type: u8,
    /// Shares matched so far.
    pub matched: Size,
    /// `LIVE`, `MATCHED`, `CANCELED`, `CANCELED_<reason>`, `UNMATCHED`.
    pub status: String,
    /// Venue order type: `GTC`, `GTD`, `FOK`, `FAK`.
    pub order_type: &'static str,
    /// Seconds since epoch (sandbox clock) when placed.
    pub created_s: u64,
    /// GTD expiry in seconds, 0 otherwise.
    pub expiration_s: u64,
    /// Ids of the trades it took part in.
    pub trades: Vec<String>,
    /// Still working.
    pub open: bool,
}

/// A trade as the exchange keeps it (`GET /data/trades`).
#[derive(Debug, Clone)]
pub struct TradeRec {
    /// Trade id.
    pub id: String,
    /// Our order's hash.
    pub order: String,
    /// The fill.
    pub fill: Fill,
    /// Token traded.
    pub token: TokenId,
    /// Condition id (the zero hash when unknown).
    pub market: String,
}

/// One account.
#[derive(Debug)]
pub struct Account {
    /// API key (UUID text).
    pub api_key: String,
    /// API secret (base64url).
    pub secret: String,
    /// Passphrase.
    pub passphrase: String,
    /// The wallet that made the key.
    pub address: Address,
    /// Balance and positions, booked with the engine's accounting.
    pub portfolio: Portfolio,
    /// pUSD held by open buy orders (micro-pUSD).
    pub reserved_cash: Cash,
    /// Shares held by open sell orders, per (window, outcome).
    pub reserved_shares: HashMap<(String, Outcome), Size>,
    /// Matcher.
    sim: SimExecutor,
    next_id: u64,
    by_id: HashMap<OrderId, String>,
    /// Orders by hash.
    pub orders: BTreeMap<String, OrderRec>,
    /// Trades, oldest first.
    pub trades: Vec<TradeRec>,
    /// Last heartbeat id and when it expires (wall clock); `None` until the first heartbeat.
    pub heartbeat: Option<(String, Instant)>,
}

impl Account {
    /// Free pUSD (balance − what open buys hold), micro-pUSD.
    pub fn free_cash(&self) -> Cash {
        self.portfolio.cash() - self.reserved_cash
    }
}

/// Why an order was refused before it reached the book, with the venue's wording
/// (`docs/protocols.md` §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// Not a multiple of the tick size.
    OffTick {
        /// Price asked.
        price: Price,
        /// Tick in force.
        tick: Price,
    },
    /// Below the minimum order size.
    BelowMinSize {
        /// Shares asked.
        size: Size,
        /// Minimum.
        min: Size,
    },
    /// Not enough pUSD (buy) or shares (sell) free.
    Insufficient {
        /// Needed (micro-units).
        needed: i64,
        /// Free (micro-units).
        available: i64,
    },
    /// The same order hash was placed before.
    Duplicate(String),
    /// The token is no window's.
    UnknownToken(String),
    /// The window's market has closed.
    MarketClosed,
    /// Amounts that give no exact price, or a zero size.
    BadAmounts(String),
    /// A GTD expiry inside the venue's one-minute threshold.
    BadExpiration(String),
    /// The matcher refused it (should not happen after the checks above).
    Matcher(String),
}

impl OrderError {
    /// The venue's error text.
    pub fn message(&self) -> String {
        match self {
            OrderError::OffTick { price, tick } => format!(
                "invalid price ({price}), min tick size: {tick} — price must be a multiple of the tick size"
            ),
            OrderError::BelowMinSize { size, min } => {
                format!("Size ({size}) lower than the minimum: {min}")
            }
            OrderError::Insufficient { needed, available } => format!(
                "not enough balance / allowance: needed {}, available {}",
                Cash(*needed),
                Cash(*available)
            ),
            OrderError::Duplicate(h) => format!("order {h} already exists"),
            OrderError::UnknownToken(t) => format!("market not found for token id {t}"),
            OrderError::MarketClosed => "market is closed".into(),
            OrderError::BadAmounts(m) => format!("invalid order amounts: {m}"),
            OrderError::BadExpiration(m) => format!("invalid expiration: {m}"),
            OrderError::Matcher(m) => m.clone(),
        }
    }

    /// A short machine code for tests and logs.
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::OffTick { .. } => "INVALID_ORDER_MIN_TICK_SIZE",
            OrderError::BelowMinSize { .. } => "INVALID_ORDER_MIN_SIZE",
            OrderError::Insufficient { .. } => "INVALID_ORDER_NOT_ENOUGH_BALANCE",
            OrderError::Duplicate(_) => "INVALID_ORDER_DUPLICATED",
            OrderError::UnknownToken(_) => "MARKET_NOT_FOUND",
            OrderError::MarketClosed => "MARKET_NOT_READY",
            OrderError::BadAmounts(_) => "INVALID_ORDER_AMOUNTS",
            OrderError::BadExpiration(_) => "INVALID_ORDER_EXPIRATION",
            OrderError::Matcher(_) => "INVALID_ORDER",
        }
    }
}

/// A placed order's first answer.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Hash.
    pub hash: String,
    /// `live`, `matched`, `delayed` or `unmatched`.
    pub status: &'static str,
    /// What we gave so far (pUSD for a buy, shares for a sell), decimal text.
    pub making: String,
    /// What we got so far, decimal text.
    pub taking: String,
    /// Trade ids so far.
    pub trades: Vec<String>,
}

/// The exchange state.
#[derive(Debug)]
pub struct State {
    /// Accounts by API key.
    pub accounts: BTreeMap<String, Account>,
    /// API key by (address, nonce).
    pub keys: HashMap<(Address, u64), String>,
    books: HashMap<String, WindowBook>,
    tokens: HashMap<TokenId, (usize, Outcome)>,
    /// The recordings' windows.
    pub windows: Vec<Window>,
    /// Windows resolved on the chain (their end passed and the recording knows the outcome):
    /// from then on their positions can be redeemed.
    pub(crate) settled: HashSet<String>,
    /// The chain (`POST /rpc`): redeems and merges of the CTF ([`super::chain`]).
    pub chain: super::chain::Chain,
    /// Every position is redeemed by the exchange itself when its window resolves (`true`), or
    /// only by a `redeemPositions` transaction of its holder (`false`, as on Polygon).
    auto_redeem: bool,
    trade_seq: u64,
    start_cash: Cash,
    /// Every order hash ever placed (duplicates are refused).
    hashes: HashSet<String>,
    /// Events for the user channels, drained by the caller after each change.
    pub outbox: Vec<UserMsg>,
    /// The fault `hide_trade_every`: every Nth trade is booked but never reported.
    hide_trade_every: Option<u64>,
    /// Trades booked but never reported (the fault `hide_trade_every`).
    pub hidden_trades: u64,
    /// `POST /orders` requests answered, and the orders they carried.
    pub batches: u64,
    /// Orders that came in `POST /orders` requests.
    pub batched_orders: u64,
    /// `POST /order` requests answered.
    pub single_orders: u64,
}

/// The window's condition id, or the zero hash when the recording has none (the `market` field
/// is a 32-byte hash on the wire).
fn market_of(w: &Window) -> String {
    w.condition_id
        .as_ref()
        .map_or_else(|| format!("0x{:064x}", 0), ToString::to_string)
}

fn secs(t: UnixNanos) -> u64 {
    t.0 / 1_000_000_000
}

impl State {
    /// An exchange over `windows`, every new account starting with `start_cash`.
    pub fn new(windows: Vec<Window>, start_cash: Cash) -> Self {
        let mut tokens = HashMap::new();
        let mut books = HashMap::new();
        for (i, w) in windows.iter().enumerate() {
            // A window with one recorded token trades its other side on a stand-in id, as the
            // engine does (`book_tokens`).
            if let Some((up, down)) = polyedge_core::book_tokens(w) {
                tokens.insert(up, (i, Outcome::Up));
                tokens.insert(down, (i, Outcome::Down));
                books.insert(w.slug.clone(), WindowBook::new(up, down));
            }
        }
        State {
            accounts: BTreeMap::new(),
            keys: HashMap::new(),
            books,
            tokens,
            windows,
            settled: HashSet::new(),
            chain: super::chain::Chain::default(),
            auto_redeem: false,
            trade_seq: 0,
            start_cash,
            hashes: HashSet::new(),
            outbox: Vec::new(),
            hide_trade_every: None,
            hidden_trades: 0,
            batches: 0,
            batched_orders: 0,
            single_orders: 0,
        }
    }

    /// With the fault `hide_trade_every` = `n` (`None`: off).
    pub fn with_hidden_trades(mut self, n: Option<u64>) -> Self {
        self.hide_trade_every = n;
        self
    }

    /// With positions redeemed by the exchange when their window resolves (`true`) instead of
    /// by their holders' `redeemPositions` transactions (`false`, the default, as on Polygon).
    pub fn with_auto_redeem(mut self, on: bool) -> Self {
        self.auto_redeem = on;
        self
    }

    /// The window and outcome of `token`.
    pub fn window_of(&self, token: &TokenId) -> Option<(&Window, Outcome)> {
        self.tokens.get(token).map(|(i, o)| (&self.windows[*i], *o))
    }

    /// The book of `slug`, if the exchange lists it.
    pub fn book(&self, slug: &str) -> Option<&WindowBook> {
        self.books.get(slug)
    }

    /// Adds an account (an L1-authenticated `POST /auth/api-key`).
    pub fn add_account(
        &mut self,
        address: Address,
        nonce: u64,
        api_key: String,
        secret: String,
        passphrase: String,
    ) {
        self.keys.insert((address, nonce), api_key.clone());
        self.accounts.insert(
            api_key.clone(),
            Account {
                api_key,
                secret,
                passphrase,
                address,
                portfolio: Portfolio::new(self.start_cash),
                reserved_cash: Cash::ZERO,
                reserved_shares: HashMap::new(),
                sim: SimExecutor::new(zero_latency()),
                next_id: 0,
                by_id: HashMap::new(),
                orders: BTreeMap::new(),
                trades: Vec::new(),
                heartbeat: None,
            },
        );
    }

    /// Applies a replayed frame's book changes (received at `now`, sandbox clock) and shows the
    /// changed books to every account's matcher.
    pub fn on_book_updates(&mut self, updates: &[BookUpdate], now: UnixNanos) {
        let mut changed: Vec<String> = Vec::new();
        for u in updates {
            let (token, kind) = match u {
                BookUpdate::Snapshot(s) => (s.token, polyedge_core::EventKind::Book((**s).clone())),
                BookUpdate::Delta(d) => (d.token, polyedge_core::EventKind::BookDelta(*d)),
            };
            let Some((i, _)) = self.tokens.get(&token) else {
                continue;
            };
            let slug = self.windows[*i].slug.clone();
            let Some(book) = self.books.get_mut(&slug) else {
                continue;
            };
            let ev = MarketEvent {
                recv_ns: now,
                venue_ns: None,
                kind,
            };
            if book.apply(&ev).unwrap_or(false) && !changed.contains(&slug) {
                changed.push(slug);
            }
        }
        if changed.is_empty() || self.accounts.is_empty() {
            return;
        }
        let keys: Vec<String> = self.accounts.keys().cloned().collect();
        for slug in changed {
            for key in &keys {
                let (Some(a), Some(book)) = (self.accounts.get_mut(key), self.books.get(&slug))
                else {
                    continue;
                };
                let reports = a.sim.on_book(&slug, now, book);
                self.apply_reports(key, reports, now);
            }
        }
    }

    /// Advances every matcher to `now` (expiries, taker delays, window closes) and resolves the
    /// windows whose end has passed and whose outcome the recording knows: their positions can
    /// then be redeemed on the chain, or are redeemed at once with `auto_redeem`.
    pub fn advance(&mut self, now: UnixNanos) {
        let keys: Vec<String> = self.accounts.keys().cloned().collect();
        for key in &keys {
            let reports = match self.accounts.get_mut(key) {
                Some(a) => a.sim.advance_to(now),
                None => continue,
            };
            self.apply_reports(key, reports, now);
        }
        let due: Vec<(String, Option<Outcome>)> = self
            .windows
            .iter()
            .filter(|w| w.end <= now && w.outcome.is_some() && !self.settled.contains(&w.slug))
            .map(|w| (w.slug.clone(), w.outcome))
            .collect();
        for (slug, outcome) in due {
            if self.auto_redeem {
                for a in self.accounts.values_mut() {
                    if !a.portfolio.is_settled(&slug) {
                        // Redeem: winning shares pay 1 pUSD each (protocols.md §9).
                        let _ = a.portfolio.settle(&slug, outcome, now);
                    }
                }
            }
            self.settled.insert(slug);
        }
    }

    /// `true` once `slug` was resolved (redeemable).
    pub fn is_settled(&self, slug: &str) -> bool {
        self.settled.contains(slug)
    }

    /// Places a verified order for `api_key` at `now` (sandbox clock).
    ///
    /// # Errors
    /// [`OrderError`] with the venue's reason; nothing changes then.
    #[allow(clippy::too_many_arguments)]
    pub fn place(
        &mut self,
        api_key: &str,
        hash: String,
        token: TokenId,
        side: Side,
        maker_amount: u128,
        taker_amount: u128,
        order_type: &'static str,
        expiration_s: u64,
        post_only: bool,
        now: UnixNanos,
    ) -> Result<Placed, OrderError> {
        if self.hashes.contains(&hash) {
            return Err(OrderError::Duplicate(hash));
        }
        let Some((window, outcome)) = self.window_of(&token) else {
            return Err(OrderError::UnknownToken(token.to_string()));
        };
        let window = window.clone();
        if now >= window.end || self.settled.contains(&window.slug) {
            return Err(OrderError::MarketClosed);
        }
        // Amounts → price and size (protocols.md §4.4): a buy gives pUSD for shares, a sell
        // shares for pUSD; both in 6-decimal units.
        let (cash_amt, shares_amt) = match side {
            Side::Buy => (maker_amount, taker_amount),
            Side::Sell => (taker_amount, maker_amount),
        };
        if shares_amt == 0 {
            return Err(OrderError::BadAmounts("zero size".into()));
        }
        let num = cash_amt * 1_000_000;
        if num % shares_amt != 0 {
            return Err(OrderError::BadAmounts(format!(
                "{cash_amt}/{shares_amt} is not an exact price"
            )));
        }
        let price = u32::try_from(num / shares_amt)
            .ok()
            .and_then(|m| Price::from_micros(m).ok())
            .filter(|p| *p > Price::ZERO && *p < Price::ONE)
            .ok_or_else(|| OrderError::BadAmounts("price outside (0, 1)".into()))?;
        let size = u64::try_from(shares_amt)
            .ok()
            .map(Size::from_micros)
            .filter(|s| *s <= Size::MAX)
            .ok_or_else(|| OrderError::BadAmounts("size too large".into()))?;
        let cfg = SimConfig::default();
        let tick = self
            .books
            .get(&window.slug)
            .and_then(|b| b.book(outcome).tick_size())
            .or(window.tick_size)
            .unwrap_or(cfg.default_tick);
        if tick.micros() == 0 || price.micros() % tick.micros() != 0 {
            return Err(OrderError::OffTick { price, tick });
        }
        let min = window.min_order_size.unwrap_or(cfg.default_min_size);
        if size < min {
            return Err(OrderError::BelowMinSize { size, min });
        }
        let tif = match order_type {
            "GTD" => {
                // The venue's one-minute security threshold (protocols.md §2.2): an order with
                // `expiration` E rests until E − 60 s, and E must be at least a minute ahead.
                let min_exp = secs(now) + GTD_THRESHOLD_S;
                if expiration_s <= min_exp {
                    return Err(OrderError::BadExpiration(format!(
                        "{expiration_s} is not more than one minute after {} (the order would expire at once)",
                        secs(now)
                    )));
                }
                TimeInForce::Gtd(UnixNanos(
                    (expiration_s - GTD_THRESHOLD_S).saturating_mul(1_000_000_000),
                ))
            }
            "FOK" => TimeInForce::Fok,
            "FAK" => TimeInForce::Fak,
            _ => TimeInForce::Gtc,
        };
        let key = (window.slug.clone(), outcome);
        let Some(acct) = self.accounts.get_mut(api_key) else {
            return Err(OrderError::Matcher("unknown API key".into()));
        };
        match side {
            Side::Buy => {
                // The most a buy can cost: notional plus the taker fee at its price.
                let needed = price.notional(size);
                let free = acct.free_cash();
                if needed > free {
                    return Err(OrderError::Insufficient {
                        needed: needed.micros(),
                        available: free.micros(),
                    });
                }
            }
            Side::Sell => {
                let held = acct.portfolio.position(&window.slug, outcome).shares;
                let reserved = acct
                    .reserved_shares
                    .get(&key)
                    .copied()
                    .unwrap_or(Size::ZERO);
                let free = held.saturating_sub(reserved);
                if size > free {
                    return Err(OrderError::Insufficient {
                        needed: i64::try_from(size.micros()).unwrap_or(i64::MAX),
                        available: i64::try_from(free.micros()).unwrap_or(i64::MAX),
                    });
                }
            }
        }
        acct.next_id += 1;
        let id = OrderId(acct.next_id);
        let intent = OrderIntent {
            id,
            window: window.slug.clone(),
            outcome,
            side,
            price,
            size,
            tif,
            post_only,
        };
        // Every window with token ids has a book (`State::new`), and `token` is one of them.
        let Some(book) = self.books.get(&window.slug) else {
            return Err(OrderError::UnknownToken(token.to_string()));
        };
        acct.sim
            .place(intent.clone(), now, &window, book)
            .map_err(|e| OrderError::Matcher(e.to_string()))?;
        match side {
            Side::Buy => acct.reserved_cash += price.notional(size),
            Side::Sell => {
                let e = acct.reserved_shares.entry(key).or_insert(Size::ZERO);
                *e = e.saturating_add(size);
            }
        }
        acct.by_id.insert(id, hash.clone());
        acct.orders.insert(
            hash.clone(),
            OrderRec {
                id,
                hash: hash.clone(),
                intent,
                token,
                market: market_of(&window),
                maker: None,
                signature_type: 0,
                matched: Size::ZERO,
                status: "LIVE".into(),
                order_type,
                created_s: secs(now),
                expiration_s,
                trades: Vec::new(),
                open: true,
            },
        );
        self.hashes.insert(hash.clone());
        let reports = acct.sim.advance_to(now);
        self.apply_reports(api_key, reports, now);
        let acct = &self.accounts[api_key];
        let rec = &acct.orders[&hash];
        let filled = rec.matched;
        let notional = price.notional(filled);
        let (making, taking) = match side {
            Side::Buy => (notional.to_string(), filled.to_string()),
            Side::Sell => (filled.to_string(), notional.to_string()),
        };
        let status = if !filled.is_zero() {
            "matched"
        } else if rec.open {
            if acct
                .sim
                .order(id)
                .is_some_and(|v| v.stage == polyedge_engine::OrderStage::TakerDelay)
            {
                "delayed"
            } else {
                "live"
            }
        } else {
            "unmatched"
        };
        Ok(Placed {
            hash,
            status,
            making,
            taking,
            trades: rec.trades.clone(),
        })
    }

    /// Cancels `hash` for `api_key` at `now`. `Err` with the reason it was not cancelled.
    ///
    /// # Errors
    /// A text naming why (unknown order, already done, held by the taker delay).
    pub fn cancel(&mut self, api_key: &str, hash: &str, now: UnixNanos) -> Result<(), String> {
        let Some(acct) = self.accounts.get_mut(api_key) else {
            return Err("unknown API key".into());
        };
        let Some(rec) = acct.orders.get(hash) else {
            return Err("order not found".into());
        };
        if !rec.open {
            return Err("order can't be found - already canceled or matched".into());
        }
        let id = rec.id;
        if !acct.sim.cancel(id, now) {
            return Err("order is not working".into());
        }
        let reports = acct.sim.advance_to(now);
        self.apply_reports(api_key, reports, now);
        match self.accounts.get(api_key).and_then(|a| a.orders.get(hash)) {
            Some(r) if r.open => {
                Err("order is in the taker delay and cannot be cancelled now".into())
            }
            _ => Ok(()),
        }
    }

    /// Hashes of `api_key`'s open orders (optionally of one market or token).
    pub fn open_hashes(
        &self,
        api_key: &str,
        market: Option<&str>,
        token: Option<&str>,
    ) -> Vec<String> {
        self.accounts.get(api_key).map_or_else(Vec::new, |a| {
            a.orders
                .values()
                .filter(|r| r.open)
                .filter(|r| market.is_none_or(|m| r.market.eq_ignore_ascii_case(m)))
                .filter(|r| token.is_none_or(|t| r.token.to_string() == t))
                .map(|r| r.hash.clone())
                .collect()
        })
    }

    fn apply_reports(&mut self, api_key: &str, reports: Vec<ExecReport>, now: UnixNanos) {
        for r in reports {
            self.apply_report(api_key, r, now);
        }
    }

    fn apply_report(&mut self, api_key: &str, report: ExecReport, now: UnixNanos) {
        let Some(acct) = self.accounts.get_mut(api_key) else {
            return;
        };
        let api = acct.api_key.clone();
        let address = acct.address;
        let order = match &report {
            ExecReport::Accepted { order, .. }
            | ExecReport::Rejected { order, .. }
            | ExecReport::Cancelled { order, .. } => *order,
            ExecReport::Filled(f) => f.order,
        };
        let Some(hash) = acct.by_id.get(&order).cloned() else {
            return;
        };
        let Some(rec) = acct.orders.get_mut(&hash) else {
            return;
        };
        let key = (rec.intent.window.clone(), rec.intent.outcome);
        match report {
            ExecReport::Accepted { .. } => {
                let msg = order_event(&api, address, rec, "PLACEMENT", now);
                self.outbox.push(msg);
            }
            ExecReport::Filled(fill) => {
                rec.matched = rec.matched.saturating_add(fill.size);
                // Release what the order held for the filled part, then book the fill.
                match fill.side {
                    Side::Buy => acct.reserved_cash -= rec.intent.price.notional(fill.size),
                    Side::Sell => {
                        if let Some(e) = acct.reserved_shares.get_mut(&key) {
                            *e = e.saturating_sub(fill.size);
                        }
                    }
                }
                let _ = acct.portfolio.apply_fill(&fill);
                self.trade_seq += 1;
                let trade_id = format!("sandbox-trade-{:08}", self.trade_seq);
                if rec.matched >= rec.intent.size {
                    rec.status = "MATCHED".into();
                    rec.open = false;
                }
                if self
                    .hide_trade_every
                    .is_some_and(|n| self.trade_seq.is_multiple_of(n))
                {
                    // The fault: booked above, reported nowhere.
                    self.hidden_trades += 1;
                    return;
                }
                rec.trades.push(trade_id.clone());
                let upd = order_event(&api, address, rec, "UPDATE", now);
                let trade = TradeRec {
                    id: trade_id,
                    order: hash.clone(),
                    fill,
                    token: rec.token,
                    market: rec.market.clone(),
                };
                acct.trades.push(trade.clone());
                self.outbox.push(upd);
                for status in ["MATCHED", "MINED", "CONFIRMED"] {
                    self.outbox
                        .push(trade_event(&api, address, &trade, status, now));
                }
            }
            ExecReport::Cancelled { .. } | ExecReport::Rejected { .. } => {
                let left = match &report {
                    ExecReport::Cancelled { unfilled, .. } => *unfilled,
                    _ => rec.intent.size.saturating_sub(rec.matched),
                };
                match rec.intent.side {
                    Side::Buy => acct.reserved_cash -= rec.intent.price.notional(left),
                    Side::Sell => {
                        if let Some(e) = acct.reserved_shares.get_mut(&key) {
                            *e = e.saturating_sub(left);
                        }
                    }
                }
                rec.open = false;
                rec.status = match &report {
                    ExecReport::Rejected { reason, .. } => format!("CANCELED_{}", reason.code()),
                    _ if matches!(rec.intent.tif, TimeInForce::Fok | TimeInForce::Fak)
                        && rec.matched.is_zero() =>
                    {
                        "CANCELED_NO_MATCH".into()
                    }
                    _ => "CANCELED".into(),
                };
                let msg = order_event(&api, address, rec, "CANCELLATION", now);
                self.outbox.push(msg);
            }
        }
    }

    /// Cancels every open order of accounts whose heartbeat expired (cancel-on-disconnect).
    pub fn expire_heartbeats(&mut self, wall: Instant, now: UnixNanos) {
        let expired: Vec<String> = self
            .accounts
            .values()
            .filter(|a| a.heartbeat.as_ref().is_some_and(|(_, t)| *t <= wall))
            .map(|a| a.api_key.clone())
            .collect();
        for key in expired {
            for h in self.open_hashes(&key, None, None) {
                let _ = self.cancel(&key, &h, now);
            }
            if let Some(a) = self.accounts.get_mut(&key) {
                a.heartbeat = None;
            }
            tracing::info!(api_key = %key, "sandbox exchange: heartbeat expired, open orders cancelled");
        }
    }
}

fn zero_latency() -> SimConfig {
    let mut c = SimConfig::default();
    c.latency.order_latency_ms = 0;
    c.latency.cancel_latency_ms = 0;
    c
}

fn order_event(
    api_key: &str,
    address: Address,
    rec: &OrderRec,
    kind: &str,
    now: UnixNanos,
) -> UserMsg {
    let v = json!({
        "event_type": "order",
        "type": kind,
        "id": rec.hash,
        "owner": api_key,
        "order_owner": api_key,
        "maker_address": address.to_checksum(None),
        "market": rec.market,
        "asset_id": rec.token.to_string(),
        "side": rec.intent.side.name().to_ascii_uppercase(),
        "outcome": rec.intent.outcome.to_string(),
        "price": rec.intent.price.to_string(),
        "original_size": rec.intent.size.to_string(),
        "size_matched": rec.matched.to_string(),
        "status": rec.status,
        "order_type": rec.order_type,
        "expiration": rec.expiration_s.to_string(),
        "associate_trades": rec.trades,
        "created_at": rec.created_s.to_string(),
        "timestamp": (now.0 / 1_000_000).to_string(),
    });
    UserMsg {
        api_key: api_key.to_string(),
        market: rec.market.clone(),
        json: v.to_string(),
    }
}

/// The trade as the venue reports it, from our side (`trader_side` TAKER or MAKER; for a maker
/// fill our order is the one `maker_orders` entry).
pub fn trade_json(
    api_key: &str,
    address: Address,
    t: &TradeRec,
    status: &str,
    now: UnixNanos,
) -> Value {
    let f = &t.fill;
    let side = f.side.name().to_ascii_uppercase();
    let maker = f.liquidity == Liquidity::Maker;
    let fee_bps = if f.size.is_zero() || f.fee == Cash::ZERO {
        "0".to_string()
    } else {
        // Effective rate on the notional, in basis points (informative; the fee is `fee`).
        let notional = f.price.notional(f.size).micros().max(1);
        (f.fee.micros() * 10_000 / notional).to_string()
    };
    let maker_orders = if maker {
        json!([{
            "order_id": t.order,
            "owner": api_key,
            "maker_address": address.to_checksum(None),
            "matched_amount": f.size.to_string(),
            "price": f.price.to_string(),
            "fee_rate_bps": fee_bps,
            "asset_id": t.token.to_string(),
            "outcome": f.outcome.to_string(),
            "side": side,
        }])
    } else {
        json!([])
    };
    json!({
        "event_type": "trade",
        "type": "TRADE",
        "id": t.id,
        "taker_order_id": if maker { "sandbox-book".to_string() } else { t.order.clone() },
        "market": t.market,
        "asset_id": t.token.to_string(),
        "side": side,
        "size": f.size.to_string(),
        "price": f.price.to_string(),
        "fee_rate_bps": fee_bps,
        "fee": f.fee.to_string(),
        "status": status,
        "match_time": secs(f.at).to_string(),
        "last_update": secs(now).to_string(),
        "timestamp": (now.0 / 1_000_000).to_string(),
        "outcome": f.outcome.to_string(),
        "bucket_index": 0,
        "owner": api_key,
        "trade_owner": api_key,
        "maker_address": address.to_checksum(None),
        "maker_orders": maker_orders,
        "transaction_hash": format!("0x{:064x}", 0),
        "trader_side": if maker { "MAKER" } else { "TAKER" },
    })
}

fn trade_event(
    api_key: &str,
    address: Address,
    t: &TradeRec,
    status: &str,
    now: UnixNanos,
) -> UserMsg {
    UserMsg {
        api_key: api_key.to_string(),
        market: t.market.clone(),
        json: trade_json(api_key, address, t, status, now).to_string(),
    }
}
