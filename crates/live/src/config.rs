//! `[live]` of `polyedge.toml`: where the CLOB is and how to authenticate. No secrets here: the
//! key and API credentials come from the environment ([`crate::secrets`]).
//!
//! ```toml
//! [live]
//! clob_url = "https://clob.polymarket.com/"                              # default
//! user_ws_url = "wss://ws-subscriptions-clob.polymarket.com/ws/user"    # default
//! chain_id = 137            # Polygon (80002: Amoy)
//! key_nonce = 0             # nonce of the API key created or derived with the private key
//! request_timeout_ms = 10000
//! heartbeat_interval_ms = 5000 # the venue cancels open orders 10 s after the last heartbeat
//! i_understand_live = false # the config equivalent of --i-understand-live
//! signature_type = "eoa"    # eoa | poly_proxy | gnosis_safe | poly_1271 (funder: POLYMARKET_FUNDER)
//! polygon_rpc_url = "https://polygon-rpc.com" # redeem and merge on chain (eoa only); "" = off
//!
//! [live.rate_limits]        # client-side token buckets (crate::rate); defaults: Standard tier
//! orders_per_sec = 40
//! order_burst = 60
//! cancels_per_sec = 80
//! cancel_burst = 120
//! reads_per_sec = 20        # balance-allowance: 200 per 10 s
//! read_burst = 40
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::rate::RateLimitConfig;
use crate::venue::VenueConfig;

/// Which wallet signs and holds the funds (the order's `signatureType`, protocols.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum WalletKind {
    /// 0: the key's own address (maker = signer).
    #[default]
    #[serde(rename = "eoa")]
    Eoa,
    /// 1: Polymarket's proxy wallet (email/Magic accounts); maker = the proxy.
    #[serde(rename = "poly_proxy")]
    PolyProxy,
    /// 2: a Gnosis Safe (browser-wallet accounts); maker = the Safe.
    #[serde(rename = "gnosis_safe")]
    GnosisSafe,
    /// 3: a deposit wallet verified with ERC-1271; maker = signer = the wallet.
    #[serde(rename = "poly_1271")]
    Poly1271,
}

impl WalletKind {
    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            WalletKind::Eoa => "eoa",
            WalletKind::PolyProxy => "poly_proxy",
            WalletKind::GnosisSafe => "gnosis_safe",
            WalletKind::Poly1271 => "poly_1271",
        }
    }
}

/// The `[live]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// CLOB REST base URL (a trailing `/` is added if missing).
    pub clob_url: String,
    /// User channel URL.
    pub user_ws_url: String,
    /// Chain id the orders are signed for.
    pub chain_id: u64,
    /// API key nonce.
    pub key_nonce: u32,
    /// Per-request timeout (ms): a submit without an answer by then is resolved by its hash.
    pub request_timeout_ms: u64,
    /// Interval of the CLOB heartbeat (ms); the venue cancels a key's orders 10 s after the
    /// last one.
    pub heartbeat_interval_ms: u64,
    /// Confirms that live trading places real orders (as `--i-understand-live`).
    pub i_understand_live: bool,
    /// Which wallet holds the funds and signs: `eoa` (the key's own address), `poly_proxy`
    /// (Polymarket's proxy wallet of email/Magic accounts), `gnosis_safe` (the Safe of browser
    /// wallet accounts) or `poly_1271` (a deposit wallet, ERC-1271). The funder address comes
    /// from `POLYMARKET_FUNDER`; for the proxy and the Safe it may be left out (derived from
    /// the key with CREATE2 by the SDK), for `poly_1271` it is required.
    pub signature_type: WalletKind,
    /// Polygon JSON-RPC node for redeeming resolved positions and merging complete sets
    /// ([`crate::chain`]; the EOA wallet only). Empty: neither is done — positions stay on the
    /// wallet until redeemed by other means, and merges are refused.
    pub polygon_rpc_url: String,
    /// `[live.rate_limits]`: client-side rate limits.
    pub rate_limits: RateLimitConfig,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            clob_url: "https://clob.polymarket.com/".into(),
            user_ws_url: "wss://ws-subscriptions-clob.polymarket.com/ws/user".into(),
            chain_id: 137,
            key_nonce: 0,
            request_timeout_ms: 10_000,
            heartbeat_interval_ms: 5_000,
            i_understand_live: false,
            signature_type: WalletKind::Eoa,
            polygon_rpc_url: "https://polygon-rpc.com".into(),
            rate_limits: RateLimitConfig::default(),
        }
    }
}

impl LiveConfig {
    /// The venue settings.
    pub fn venue(&self) -> VenueConfig {
        let mut clob_url = self.clob_url.clone();
        if !clob_url.ends_with('/') {
            clob_url.push('/');
        }
        VenueConfig {
            clob_url,
            user_ws_url: self.user_ws_url.clone(),
            chain_id: self.chain_id,
            key_nonce: self.key_nonce,
            timeout: Duration::from_millis(self.request_timeout_ms.max(1)),
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval_ms.clamp(100, 9_000)),
            rate_limits: self.rate_limits,
            signature_type: self.signature_type,
            rpc_url: Some(self.polygon_rpc_url.trim().to_string()).filter(|u| !u.is_empty()),
        }
    }
}
