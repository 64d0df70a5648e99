//! The CLOB through `polymarket_client_sdk_v2`: connect (L1 create-or-derive of the API key, or
//! the given credentials), and per order: the SDK's limit-order builder (tick size, amounts,
//! salt, V2 struct; ExchangeV3 where the server says so), the SDK's EIP-712 signing, and
//! `POST /order`. Failures are classified ([`VenueError`]) so the executor knows whether an order
//! certainly did not reach the book (a 4xx answer) or might have (a timeout, a dropped
//! connection, a 5xx): the ambiguous case is resolved by the order hash, which is known before
//! sending ([`Prepared::hash`]).

use std::str::FromStr as _;
use std::time::Duration;

use alloy_signer::Signer as _;
use polyedge_core::{OrderIntent, Price, Side, Size, TimeInForce, TokenId};
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{Credentials, Normal};
use polymarket_client_sdk_v2::clob::types::request::{BalanceAllowanceRequest, OrdersRequest};
use polymarket_client_sdk_v2::clob::types::response::{
    OpenOrderResponse, PostOrderResponse, TradeResponse,
};
use polymarket_client_sdk_v2::clob::types::{
    AssetType, OrderPayload, OrderType, Side as SdkSide, SignatureType, SignedOrder,
};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::error::Kind;
use polymarket_client_sdk_v2::types::{Decimal, U256};

use crate::config::WalletKind;
use crate::rate::{Bucket, RateLimitConfig, RateLimits};
use crate::secrets::LiveSecrets;
use crate::signer::FastSigner;

/// The authenticated SDK client.
pub type ClobClient = Client<Authenticated<Normal>>;

/// Where the venue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueConfig {
    /// CLOB REST base URL, ending in `/` (venue: `https://clob.polymarket.com/`; sandbox:
    /// `http://ADDR/clob/`).
    pub clob_url: String,
    /// User channel URL (venue: `wss://ws-subscriptions-clob.polymarket.com/ws/user`; sandbox:
    /// `ws://ADDR/ws/user`).
    pub user_ws_url: String,
    /// Chain id (137 Polygon, 80002 Amoy).
    pub chain_id: u64,
    /// Nonce of the API key to create or derive.
    pub key_nonce: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Interval of the CLOB heartbeat (venue: orders are cancelled 10 s after the last one;
    /// the SDK's default is 5 s).
    pub heartbeat_interval: Duration,
    /// Client-side rate limits ([`crate::rate`]).
    pub rate_limits: RateLimitConfig,
    /// Which wallet signs and holds the funds.
    pub signature_type: WalletKind,
    /// Polygon JSON-RPC node for redeem and merge ([`crate::chain`]); `None`: neither.
    pub rpc_url: Option<String>,
}

/// How a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue answered and refused (HTTP 4xx other than 425/429): the order is not on the
    /// book. The text is the venue's.
    #[error("rejected by the venue (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The venue's answer.
        message: String,
    },
    /// Try again later (HTTP 425 engine restart, 429 rate limit, 503): not on the book.
    #[error("venue busy (HTTP {status}): {message}")]
    Busy {
        /// HTTP status.
        status: u16,
        /// The venue's answer.
        message: String,
    },
    /// No answer or a 5xx: the order may or may not be on the book.
    #[error("no clear answer from the venue: {0}")]
    Ambiguous(String),
    /// The order could not be built or signed (nothing was sent).
    #[error("order not built: {0}")]
    Build(String),
    /// Connecting or authenticating failed.
    #[error("connect: {0}")]
    Connect(String),
}

fn classify(e: &polymarket_client_sdk_v2::error::Error) -> VenueError {
    if e.kind() == Kind::Status
        && let Some(s) = e
            .inner()
            .and_then(|i| i.downcast_ref::<polymarket_client_sdk_v2::error::Status>())
    {
        let status = s.status_code.as_u16();
        let message = s.message.clone();
        return match status {
            425 | 429 | 503 => VenueError::Busy { status, message },
            400..=499 => VenueError::Rejected { status, message },
            _ => VenueError::Ambiguous(format!("HTTP {status}: {message}")),
        };
    }
    match e.kind() {
        Kind::Validation => VenueError::Build(e.to_string()),
        _ => VenueError::Ambiguous(e.to_string()),
    }
}

/// A signed order ready to send, with its venue id.
#[derive(Debug)]
pub struct Prepared {
    /// The signed order.
    pub signed: SignedOrder,
    /// The venue's order id: the EIP-712 order hash, `0x…` lowercase.
    pub hash: String,
    /// Shares actually sent: the intent's size rounded down to the venue's lot (0.01 share).
    pub size: Size,
}

/// The venue's GTD security threshold in seconds: a GTD order rests until `expiration − 60 s`.
pub const GTD_THRESHOLD_S: u64 = 60;

/// Most orders in one `POST /orders` (protocols.md §2.2: "max 15").
pub const BATCH_MAX: usize = 15;

/// The venue's lot: sizes are whole hundredths of a share (protocols.md §4.4).
pub const LOT: Size = Size::from_micros(10_000);

/// `size` rounded down to the lot.
pub fn lot_floor(size: Size) -> Size {
    Size::from_micros(size.micros() / LOT.micros() * LOT.micros())
}

fn dec_price(p: Price) -> Decimal {
    Decimal::new(i64::from(p.micros()), 6).normalize()
}

fn dec_size(s: Size) -> Decimal {
    Decimal::new(i64::try_from(s.micros()).unwrap_or(i64::MAX), 6).normalize()
}

/// The SDK's token id (both are 256-bit little-endian limbs).
pub fn sdk_token(t: TokenId) -> U256 {
    U256::from_limbs(t.limbs())
}

/// The most pages of `GET /data/orders` [`Venue::open_orders`] reads.
pub const MAX_ORDER_PAGES: usize = 50;

/// The connected venue: SDK client and signer, and the heartbeat task (stopped when the venue
/// is dropped).
pub struct Venue {
    client: ClobClient,
    signer: FastSigner,
    config: VenueConfig,
    limits: RateLimits,
    heartbeat: tokio::task::JoinHandle<()>,
    chain: Option<crate::chain::Chain>,
}

impl Drop for Venue {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// The CLOB's dead-man switch (`POST /v1/heartbeats` every `every`; the venue cancels a key's
/// open orders 10 s after its last heartbeat, protocols.md §2.2).
///
/// Ours rather than the SDK's: with its `heartbeats` feature (0.9.0) every order builder holds
/// a clone of the client's cancellation token, and dropping the builder after `build()` cancels
/// it — the SDK's heartbeat stops after the first order, and the venue then cancels every open
/// order 10 s later. Found with the sandbox exchange (`crates/live/tests/sandbox_exchange.rs`,
/// cancel-on-disconnect) and left for an upstream report.
async fn heartbeats(client: ClobClient, every: Duration) {
    let mut id = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match client.post_heartbeat(id).await {
            Ok(r) => id = Some(r.heartbeat_id),
            Err(e) => {
                tracing::warn!(error = %classify(&e), "live: heartbeat failed");
                id = None;
            }
        }
    }
}

impl std::fmt::Debug for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Venue")
            .field("address", &self.signer.address())
            .field("clob_url", &self.config.clob_url)
            .finish_non_exhaustive()
    }
}

impl Venue {
    /// Connects: parses the key, and authenticates with the given API credentials or creates
    /// (else derives) them with an L1 signature. Auth headers carry the server's time (`/time`).
    ///
    /// # Errors
    /// [`VenueError::Connect`] naming what failed (never the secret).
    pub async fn connect(config: VenueConfig, secrets: &LiveSecrets) -> Result<Venue, VenueError> {
        let signer = FastSigner::from_hex(&secrets.private_key)
            .map_err(|e| VenueError::Connect(e.to_string()))?
            .with_chain_id(Some(config.chain_id));
        let sdk_config = Config::builder().use_server_time(true).build();
        let unauth = Client::new(&config.clob_url, sdk_config)
            .map_err(|e| VenueError::Connect(format!("{}: {e}", config.clob_url)))?;
        let mut builder =
            unauth
                .authentication_builder(&signer)
                .signature_type(match config.signature_type {
                    WalletKind::Eoa => SignatureType::Eoa,
                    WalletKind::PolyProxy => SignatureType::Proxy,
                    WalletKind::GnosisSafe => SignatureType::GnosisSafe,
                    WalletKind::Poly1271 => SignatureType::Poly1271,
                });
        match (&secrets.funder, config.signature_type) {
            (Some(_), WalletKind::Eoa) => {
                return Err(VenueError::Connect(format!(
                    "{} is set but [live] signature_type is \"eoa\" (the key's own address holds \
                     the funds); set signature_type to poly_proxy, gnosis_safe or poly_1271, or \
                     unset the variable",
                    crate::secrets::FUNDER_VAR
                )));
            }
            (None, WalletKind::Poly1271) => {
                return Err(VenueError::Connect(format!(
                    "[live] signature_type \"poly_1271\" needs the deposit wallet's address in {}",
                    crate::secrets::FUNDER_VAR
                )));
            }
            (Some(f), _) => {
                let funder = alloy_primitives::Address::from_str(f.trim()).map_err(|_| {
                    VenueError::Connect(format!(
                        "{} is not an address (0x and 40 hex digits)",
                        crate::secrets::FUNDER_VAR
                    ))
                })?;
                builder = builder.funder(funder);
            }
            (None, _) => {}
        }
        let builder = match &secrets.api {
            Some(api) => {
                let key = uuid::Uuid::parse_str(&api.key)
                    .map_err(|_| VenueError::Connect("POLYMARKET_API_KEY is not a UUID".into()))?;
                builder.credentials(Credentials::new(
                    key,
                    api.secret.clone(),
                    api.passphrase.clone(),
                ))
            }
            None => builder.nonce(config.key_nonce),
        };
        let client = builder
            .authenticate()
            .await
            .map_err(|e| VenueError::Connect(format!("authenticate: {}", classify(&e))))?;
        let chain = match (&config.rpc_url, config.signature_type) {
            (Some(url), WalletKind::Eoa) => Some(
                crate::chain::Chain::connect(url, config.chain_id, &secrets.private_key)
                    .map_err(|e| VenueError::Connect(e.to_string()))?,
            ),
            (Some(_), kind) => {
                tracing::warn!(
                    signature_type = kind.name(),
                    "live: redeem and merge on chain are done for the eoa wallet only; this                      wallet's resolved positions must be redeemed through Polymarket (its                      relayer or app), and merges are refused"
                );
                None
            }
            (None, _) => {
                tracing::warn!(
                    "live: [live] polygon_rpc_url is empty: resolved positions are not redeemed                      and merges are refused"
                );
                None
            }
        };
        let heartbeat = tokio::spawn(heartbeats(client.clone(), config.heartbeat_interval));
        tracing::info!(address = %signer.address(), api_key = %client.credentials().key(), signature_type = config.signature_type.name(), "live: authenticated with the CLOB");
        Ok(Venue {
            client,
            signer,
            limits: RateLimits::new(&config.rate_limits),
            config,
            heartbeat,
            chain,
        })
    }

    /// The chain client for redeem and merge, when `rpc_url` is set and the wallet is the EOA.
    pub fn chain(&self) -> Option<&crate::chain::Chain> {
        self.chain.as_ref()
    }

    /// The SDK client.
    pub fn client(&self) -> &ClobClient {
        &self.client
    }

    /// The wallet address.
    pub fn address(&self) -> String {
        self.signer.address().to_checksum(None)
    }

    /// `(api key, secret, passphrase)` for the user channel's `auth`.
    pub fn ws_auth(&self) -> (String, String, String) {
        use polymarket_client_sdk_v2::auth::ExposeSecret as _;
        let c = self.client.credentials();
        (
            c.key().to_string(),
            c.secret().expose_secret().to_string(),
            c.passphrase().expose_secret().to_string(),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &VenueConfig {
        &self.config
    }

    /// The client-side rate limits (how often requests waited).
    pub fn rate_limits(&self) -> &RateLimits {
        &self.limits
    }

    /// One page of the account's trades (`GET /data/trades`; `cursor` from the previous page).
    ///
    /// # Errors
    /// The classified [`VenueError`].
    pub async fn trades(
        &self,
        cursor: Option<String>,
    ) -> Result<polymarket_client_sdk_v2::clob::types::response::Page<TradeResponse>, VenueError>
    {
        use polymarket_client_sdk_v2::clob::types::request::TradesRequest;
        self.limits.acquire(Bucket::Reads, 1).await;
        self.client
            .trades(&TradesRequest::default(), cursor)
            .await
            .map_err(|e| classify(&e))
    }

    /// Builds and signs `intent` for `token` (nothing is sent).
    ///
    /// # Errors
    /// [`VenueError::Build`] (size below one lot, price off the tick the venue reports, …), or
    /// the classified error of the tick-size/neg-risk/version lookups.
    pub async fn prepare(
        &self,
        intent: &OrderIntent,
        token: TokenId,
    ) -> Result<Prepared, VenueError> {
        let size = lot_floor(intent.size);
        if size.is_zero() {
            return Err(VenueError::Build(format!(
                "size {} is below the venue's lot of 0.01 share",
                intent.size
            )));
        }
        let (order_type, expiration) = match intent.tif {
            TimeInForce::Gtc => (OrderType::GTC, None),
            TimeInForce::Gtd(t) => (
                OrderType::GTD,
                chrono::DateTime::from_timestamp(
                    i64::try_from(t.0 / 1_000_000_000).unwrap_or(i64::MAX),
                    0,
                ),
            ),
            TimeInForce::Fok => (OrderType::FOK, None),
            TimeInForce::Fak => (OrderType::FAK, None),
        };
        let mut b = self
            .client
            .limit_order()
            .token_id(sdk_token(token))
            .price(dec_price(intent.price))
            .size(dec_size(size))
            .side(match intent.side {
                Side::Buy => SdkSide::Buy,
                Side::Sell => SdkSide::Sell,
            })
            .order_type(order_type);
        if let Some(e) = expiration {
            b = b.expiration(e);
        }
        if intent.post_only {
            b = b.post_only(true);
        }
        let signable = b.build().await.map_err(|e| classify(&e))?;
        let signed = self
            .client
            .sign(&self.signer, signable)
            .await
            .map_err(|e| classify(&e))?;
        let hash = order_hash(&signed, self.config.chain_id);
        Ok(Prepared { signed, hash, size })
    }

    /// Sends a prepared order.
    ///
    /// # Errors
    /// The classified [`VenueError`].
    pub async fn post(&self, p: Prepared) -> Result<PostOrderResponse, VenueError> {
        self.limits.acquire(Bucket::Orders, 1).await;
        match tokio::time::timeout(self.config.timeout, self.client.post_order(p.signed)).await {
            Err(_) => Err(VenueError::Ambiguous("timed out".into())),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(r)) if r.success => Ok(r),
            Ok(Ok(r)) => Err(VenueError::Rejected {
                status: 200,
                message: r.error_msg.unwrap_or_default(),
            }),
        }
    }

    /// Sends prepared orders in one `POST /orders` (at most [`BATCH_MAX`]); one answer per
    /// order, in order. The outer error concerns the whole request (busy, ambiguous, refused);
    /// an inner one the order it stands for.
    ///
    /// # Errors
    /// The classified [`VenueError`] of the request.
    pub async fn post_batch(
        &self,
        batch: Vec<Prepared>,
    ) -> Result<Vec<Result<(), VenueError>>, VenueError> {
        let n = batch.len();
        if n == 0 || n > BATCH_MAX {
            return Err(VenueError::Build(format!(
                "a batch holds 1 to {BATCH_MAX} orders, not {n}"
            )));
        }
        self.limits
            .acquire(Bucket::Orders, u32::try_from(n).unwrap_or(u32::MAX))
            .await;
        let signed = batch.into_iter().map(|p| p.signed).collect();
        let answers = match tokio::time::timeout(
            self.config.timeout,
            self.client.post_orders(signed),
        )
        .await
        {
            Err(_) => return Err(VenueError::Ambiguous("timed out".into())),
            Ok(Err(e)) => return Err(classify(&e)),
            Ok(Ok(r)) => r,
        };
        if answers.len() != n {
            // Which answer belongs to which order is unknown: every order is ambiguous.
            return Err(VenueError::Ambiguous(format!(
                "{} answers to a batch of {n}",
                answers.len()
            )));
        }
        Ok(answers
            .into_iter()
            .map(|r| {
                if r.success {
                    Ok(())
                } else {
                    Err(VenueError::Rejected {
                        status: 200,
                        message: r.error_msg.unwrap_or_default(),
                    })
                }
            })
            .collect())
    }

    /// Cancels one order by hash. `Ok(true)` if the venue says it was cancelled.
    ///
    /// # Errors
    /// The classified [`VenueError`].
    pub async fn cancel(&self, hash: &str) -> Result<bool, VenueError> {
        self.limits.acquire(Bucket::Cancels, 1).await;
        let r = self
            .client
            .cancel_order(hash)
            .await
            .map_err(|e| classify(&e))?;
        Ok(r.canceled.iter().any(|h| h.eq_ignore_ascii_case(hash)))
    }

    /// Cancels every open order. Returns the hashes cancelled.
    ///
    /// # Errors
    /// The classified [`VenueError`].
    pub async fn cancel_all(&self) -> Result<Vec<String>, VenueError> {
        self.limits.acquire(Bucket::Cancels, 1).await;
        let r = self
            .client
            .cancel_all_orders()
            .await
            .map_err(|e| classify(&e))?;
        Ok(r.canceled)
    }

    /// One order by hash (`GET /data/order/{hash}`); `Ok(None)` if the venue does not know it.
    ///
    /// # Errors
    /// The classified [`VenueError`] other than "not found".
    pub async fn order(&self, hash: &str) -> Result<Option<OpenOrderResponse>, VenueError> {
        self.limits.acquire(Bucket::Reads, 1).await;
        match self.client.order(hash).await {
            Ok(o) => Ok(Some(o)),
            Err(e) => match classify(&e) {
                VenueError::Rejected { status: 404, .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Open orders, every page (`GET /data/orders`, following `next_cursor` up to
    /// [`MAX_ORDER_PAGES`] pages).
    ///
    /// # Errors
    /// The classified [`VenueError`]; [`VenueError::Ambiguous`] if the list has more pages than
    /// that (an incomplete list would make reconciliation take the missing orders for cancelled).
    pub async fn open_orders(&self) -> Result<Vec<OpenOrderResponse>, VenueError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_ORDER_PAGES {
            self.limits.acquire(Bucket::Reads, 1).await;
            let page = self
                .client
                .orders(&OrdersRequest::default(), cursor.take())
                .await
                .map_err(|e| classify(&e))?;
            all.extend(page.data);
            // The venue's last page says "LTE=" (base64 of -1).
            if page.next_cursor.is_empty() || page.next_cursor == "LTE=" {
                return Ok(all);
            }
            cursor = Some(page.next_cursor);
        }
        Err(VenueError::Ambiguous(format!(
            "more than {MAX_ORDER_PAGES} pages of open orders"
        )))
    }

    /// pUSD balance (micro-pUSD).
    ///
    /// # Errors
    /// The classified [`VenueError`].
    pub async fn balance_micros(&self) -> Result<i64, VenueError> {
        self.balance_of(
            BalanceAllowanceRequest::builder()
                .asset_type(AssetType::Collateral)
                .build(),
        )
        .await
    }

    /// The account's balance of outcome token `token` (micro-shares; the venue reports
    /// conditional balances in the token's 6-decimal base units).
    ///
    /// # Errors
    /// The classified [`VenueError`].
    pub async fn position_micros(&self, token: TokenId) -> Result<i64, VenueError> {
        self.balance_of(
            BalanceAllowanceRequest::builder()
                .asset_type(AssetType::Conditional)
                .token_id(sdk_token(token))
                .build(),
        )
        .await
    }

    async fn balance_of(&self, request: BalanceAllowanceRequest) -> Result<i64, VenueError> {
        self.limits.acquire(Bucket::Reads, 1).await;
        let r = self
            .client
            .balance_allowance(request)
            .await
            .map_err(|e| classify(&e))?;
        let micros = (r.balance).trunc();
        micros
            .to_string()
            .parse::<i64>()
            .map_err(|_| VenueError::Ambiguous(format!("balance {micros} is not an integer")))
    }
}

/// The venue id of a signed order: its EIP-712 hash under the domain it was signed for (the
/// exchange addresses from the SDK's own contract table; the Up/Down markets are not neg-risk).
/// Empty for a V1 order or a chain the SDK does not know.
pub fn order_hash(signed: &SignedOrder, chain_id: u64) -> String {
    use alloy_sol_types::{SolStruct as _, eip712_domain};
    let Some(contracts) = polymarket_client_sdk_v2::contract_config(chain_id, false) else {
        return String::new();
    };
    let (order, version, contract) = match &signed.payload {
        OrderPayload::V2(p) => (&p.order, "2", contracts.exchange_v2),
        OrderPayload::V3(p) => (&p.order, "3", contracts.exchange_v3),
        _ => return String::new(),
    };
    let Some(contract) = contract else {
        return String::new();
    };
    let domain = eip712_domain! {
        name: "Polymarket CTF Exchange",
        version: version,
        chain_id: chain_id,
        verifying_contract: contract,
    };
    format!("{}", order.eip712_signing_hash(&domain))
}
