//! [`FastSigner`]: an `alloy` [`Signer`] backed by `libsecp256k1` (the `secp256k1` crate, the
//! C library Bitcoin Core uses) instead of the pure-Rust `k256` of alloy's `PrivateKeySigner`.
//! Both sign with RFC 6979 deterministic nonces and low-s normalisation, so they produce the same
//! signatures byte for byte (the signing vectors are checked with both); libsecp256k1 is several
//! times faster (BENCHMARKS.md, "Order build + sign"), which is the whole of an order's signing
//! cost. The SDK's `Client::sign` takes any `Signer`, so nothing else changes.

use alloy_primitives::{Address, B256, ChainId, Signature, U256};
use alloy_signer::Signer;
use alloy_signer_local::PrivateKeySigner;
use secp256k1::{Message, Secp256k1, SecretKey, SignOnly};

/// A secp256k1 key that signs with libsecp256k1. `Debug` never shows the key.
#[derive(Clone)]
pub struct FastSigner {
    key: SecretKey,
    /// A signing context made once (its precomputed tables are reused by every signature).
    ctx: Secp256k1<SignOnly>,
    address: Address,
    chain_id: Option<ChainId>,
}

impl std::fmt::Debug for FastSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastSigner")
            .field("address", &self.address)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the private key is not a valid secp256k1 key")]
pub struct BadKey;

impl FastSigner {
    /// From a hex private key (with or without `0x`).
    ///
    /// # Errors
    /// [`BadKey`] if it is not 32 bytes of hex forming a valid scalar.
    pub fn from_hex(hex: &str) -> Result<Self, BadKey> {
        let local: PrivateKeySigner = hex.trim().parse().map_err(|_| BadKey)?;
        let bytes = local.to_bytes();
        let key = SecretKey::from_byte_array(bytes.0).map_err(|_| BadKey)?;
        Ok(FastSigner {
            key,
            ctx: Secp256k1::signing_only(),
            address: local.address(),
            chain_id: None,
        })
    }

    /// Signs a 32-byte digest: a recoverable ECDSA signature (RFC 6979 nonce, low s).
    pub fn sign_digest(&self, hash: &B256) -> Signature {
        let msg = Message::from_digest(hash.0);
        let sig = self.ctx.sign_ecdsa_recoverable(msg, &self.key);
        let (rec, bytes) = sig.serialize_compact();
        let r = U256::from_be_slice(&bytes[..32]);
        let s = U256::from_be_slice(&bytes[32..]);
        Signature::new(r, s, i32::from(rec) != 0)
    }
}

#[async_trait::async_trait]
impl Signer for FastSigner {
    async fn sign_hash(&self, hash: &B256) -> alloy_signer::Result<Signature> {
        Ok(self.sign_digest(hash))
    }

    fn address(&self) -> Address {
        self.address
    }

    fn chain_id(&self) -> Option<ChainId> {
        self.chain_id
    }

    fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        self.chain_id = chain_id;
    }
}
