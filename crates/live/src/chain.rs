//! Settlement on Polygon: redeeming resolved positions and merging complete sets through the
//! SDK's CTF client (`polymarket_client_sdk_v2::ctf`, feature `ctf`), so pUSD returns to the
//! wallet (`docs/protocols.md` §9: "Redemption is an explicit action").
//!
//! * `redeemPositions(pUSD, 0, conditionId, [1, 2])` after a window resolved: winning shares pay
//!   1 pUSD each, losing ones are burned.
//! * `mergePositions(pUSD, 0, conditionId, [1, 2], amount)`: `amount` micro-shares of Up and of
//!   Down become `amount` micro-pUSD, any time before redemption.
//!
//! Transactions are signed locally by the run's key (alloy's `PrivateKeySigner` in an
//! `EthereumWallet`) and sent to `[live] polygon_rpc_url`; nonce, gas and fees are filled by
//! alloy's recommended fillers (`eth_getTransactionCount`, `eth_estimateGas`, `eth_feeHistory`).
//! A call that would revert is refused at the gas estimate, so nothing is paid for it.
//!
//! Only the EOA wallet (`signature_type = "eoa"`) holds its positions at the key's own address;
//! a proxy, Safe or deposit wallet redeems through Polymarket's relayer, which is not
//! implemented: [`Chain`] is not built for them and the run says so at start.
//!
//! **SDK gap**: `redeem_positions` and `merge_positions` (0.9.0) return `Ok` for a mined
//! transaction whatever its status; [`Chain`] reads the receipt again and reports a reverted one
//! as [`ChainError::Reverted`].

use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use polymarket_client_sdk_v2::ctf;
use polymarket_client_sdk_v2::ctf::types::{
    BINARY_PARTITION, MergePositionsRequest, RedeemPositionsRequest,
};

/// Why a chain operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The client could not be built (URL, key, chain id); the text names what.
    #[error("chain setup: {0}")]
    Setup(String),
    /// The condition is not resolved on chain yet (the CTF's `result for condition not received
    /// yet`): try again later.
    #[error("the condition is not resolved on chain yet")]
    NotResolved,
    /// The transaction was mined and reverted.
    #[error("transaction {tx} reverted")]
    Reverted {
        /// Its hash.
        tx: B256,
    },
    /// The node refused the call at the gas estimate (`execution reverted: …`): as things stand
    /// on chain it cannot succeed, so it is not tried again. The node's text.
    #[error("{0}")]
    Refused(String),
    /// Anything else (transport, node errors): may succeed if tried again. The node's text.
    #[error("{0}")]
    Failed(String),
}

/// The CTF client of one wallet on one chain.
#[derive(Clone)]
pub struct Chain {
    ctf: ctf::Client<DynProvider>,
    provider: DynProvider,
    collateral: Address,
    address: Address,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// A client for the wallet of `private_key` (hex, with or without `0x`) on `chain_id`
    /// through the JSON-RPC node at `rpc_url`. Nothing is sent yet.
    ///
    /// # Errors
    /// [`ChainError::Setup`] for a bad URL or key (never quoting the key), or a chain id the
    /// SDK has no contract addresses for.
    pub fn connect(rpc_url: &str, chain_id: u64, private_key: &str) -> Result<Chain, ChainError> {
        let signer: PrivateKeySigner = private_key
            .trim()
            .parse()
            .map_err(|_| ChainError::Setup("the private key is not 32 bytes of hex".into()))?;
        let address = signer.address();
        let url = rpc_url
            .parse()
            .map_err(|e| ChainError::Setup(format!("polygon_rpc_url {rpc_url:?}: {e}")))?;
        // The nonce is read from the node for every transaction: alloy's default (cached)
        // nonce manager counts a nonce as used even when the gas estimate then refuses the call,
        // and every later transaction is "nonce too high" (seen with redeems retried before
        // resolution).
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .with_chain_id(chain_id)
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        let ctf = ctf::Client::new(provider.clone(), chain_id)
            .map_err(|e| ChainError::Setup(e.to_string()))?;
        let collateral = polymarket_client_sdk_v2::contract_config(chain_id, false)
            .map(|c| c.collateral)
            .ok_or_else(|| {
                ChainError::Setup(format!("no contract addresses for chain {chain_id}"))
            })?;
        Ok(Chain {
            ctf,
            provider,
            collateral,
            address,
        })
    }

    /// The wallet whose positions are redeemed and merged.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Redeems every position of the wallet in `condition` (both outcomes). Returns the
    /// transaction's hash once it is mined with success.
    ///
    /// # Errors
    /// [`ChainError::NotResolved`] before the condition's payouts are on chain; otherwise
    /// [`ChainError::Refused`], [`ChainError::Reverted`] or [`ChainError::Failed`].
    pub async fn redeem(&self, condition: B256) -> Result<B256, ChainError> {
        let req = RedeemPositionsRequest::builder()
            .collateral_token(self.collateral)
            .condition_id(condition)
            .index_sets(BINARY_PARTITION.iter().map(|&i| U256::from(i)).collect())
            .build();
        let tx = self
            .ctf
            .redeem_positions(&req)
            .await
            .map_err(|e| classify(&e.to_string()))?
            .transaction_hash;
        self.succeeded(tx).await
    }

    /// Merges `micros` micro-shares of each outcome of `condition` into as many micro-pUSD.
    /// Returns the transaction's hash once it is mined with success.
    ///
    /// # Errors
    /// [`ChainError::Refused`] at the gas estimate (fewer sets held than asked, among others),
    /// [`ChainError::Reverted`] or [`ChainError::Failed`].
    pub async fn merge(&self, condition: B256, micros: u64) -> Result<B256, ChainError> {
        let req = MergePositionsRequest::builder()
            .collateral_token(self.collateral)
            .condition_id(condition)
            .partition(BINARY_PARTITION.iter().map(|&i| U256::from(i)).collect())
            .amount(U256::from(micros))
            .build();
        let tx = self
            .ctf
            .merge_positions(&req)
            .await
            .map_err(|e| classify(&e.to_string()))?
            .transaction_hash;
        self.succeeded(tx).await
    }

    /// `tx` if its receipt says it succeeded.
    async fn succeeded(&self, tx: B256) -> Result<B256, ChainError> {
        let receipt = tokio::time::timeout(
            Duration::from_mins(1),
            self.provider.get_transaction_receipt(tx),
        )
        .await
        .map_err(|_| ChainError::Failed(format!("no receipt of {tx} within 60 s")))?
        .map_err(|e| ChainError::Failed(format!("receipt of {tx}: {e}")))?;
        match receipt {
            Some(r) if r.status() => Ok(tx),
            Some(_) => Err(ChainError::Reverted { tx }),
            None => Err(ChainError::Failed(format!("no receipt of {tx}"))),
        }
    }
}

/// The SDK's error text as a [`ChainError`].
fn classify(text: &str) -> ChainError {
    if text.contains("result for condition not received yet") {
        ChainError::NotResolved
    } else if text.contains("execution reverted") {
        ChainError::Refused(text.to_string())
    } else {
        ChainError::Failed(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revert_before_resolution_is_told_apart() {
        assert_eq!(
            classify(
                "Failed to send redeem transaction: server returned an error response: error code 3: execution reverted: result for condition not received yet"
            ),
            ChainError::NotResolved
        );
        assert!(matches!(
            classify("error code 3: execution reverted: ERC1155: burn amount exceeds balance"),
            ChainError::Refused(t) if t.contains("burn amount")
        ));
        assert!(matches!(
            classify("error sending request for url (http://127.0.0.1:1/rpc)"),
            ChainError::Failed(_)
        ));
    }

    #[test]
    fn a_bad_key_or_url_is_refused_without_quoting_the_key() {
        let e = Chain::connect("http://127.0.0.1:1/rpc", 137, "0xnot-a-key").unwrap_err();
        assert!(
            matches!(&e, ChainError::Setup(t) if !t.contains("not-a-key")),
            "{e}"
        );
        let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let e = Chain::connect("not a url", 137, key).unwrap_err();
        assert!(
            matches!(&e, ChainError::Setup(t) if t.contains("polygon_rpc_url")),
            "{e}"
        );
        let c = Chain::connect("http://127.0.0.1:1/rpc", 137, key).unwrap();
        assert_eq!(
            c.address().to_checksum(None),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }
}
