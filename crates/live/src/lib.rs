//! # polyedge-live
//!
//! Live trading on Polymarket's CLOB V2 (`docs/live.md`): the engine's
//! [`Executor`](polyedge_engine::Executor) carried out by Polymarket's own client crate,
//! `polymarket_client_sdk_v2` (L1/L2 auth, V2 order building and EIP-712 signing, REST), with
//! fills from the user channel parsed by `polyedge_venues::polymarket_user`.
//!
//! * [`secrets`] — the private key and API credentials, from the environment or `.env` only.
//! * [`chain`] — [`chain::Chain`], redeem and merge on Polygon through the SDK's CTF client.
//! * [`config`] — the `[live]` section of `polyedge.toml`.
//! * [`executor`] — [`LiveExecutor`], the engine's executor on the venue.
//! * [`signer`] — [`signer::FastSigner`], libsecp256k1 behind alloy's `Signer`.
//! * [`rate`] — client-side rate limits (token buckets per kind of request).
//! * [`venue`] — the SDK client: connect, build + sign + post, cancel, open orders, balance.

pub mod chain;
pub mod config;
pub mod executor;
pub mod rate;
pub mod secrets;
pub mod signer;
pub mod venue;

pub use config::LiveConfig;
pub use executor::{LiveExecutor, LiveStats};
pub use secrets::{LiveSecrets, SecretsError};
