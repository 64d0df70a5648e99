//! The exchange's own checks of what a client signs, written from the venue's definitions rather
//! than taken from the SDK that signs (so that a bug in one is caught by the other):
//!
//! * **L1** (`POLY_ADDRESS`, `POLY_SIGNATURE`, `POLY_TIMESTAMP`, `POLY_NONCE`): an EIP-712
//!   `ClobAuth{address,timestamp,nonce,message}` in the domain `ClobAuthDomain` / `"1"` /
//!   chain id, signed by the address (`docs/protocols.md` §3.1);
//! * **L2** (`POLY_API_KEY`, `POLY_PASSPHRASE`, `POLY_SIGNATURE`, `POLY_TIMESTAMP`):
//!   base64url(HMAC-SHA256(base64url-decoded secret, timestamp + method + path + body))
//!   (`docs/protocols.md` §3.2; the clients replace `'` by `"` in the body before hashing);
//! * **orders**: the V2 `Order` struct hashed under the domain `Polymarket CTF Exchange` with
//!   version `"2"` at the exchange (or neg-risk exchange) address, or `"3"` at ExchangeV3 for
//!   markets whose Gamma `version` is `"v2"`, and the signer recovered from the 65-byte
//!   signature (`docs/protocols.md` §4). Signature types 0–2 carry a plain ECDSA signature by
//!   `signer`; type 3 (POLY_1271) carries the deposit wallet's ERC-7739 wrapper, whose inner
//!   signature is checked against the signer and whose embedded domain separator, contents hash
//!   and type string must be the order's.

use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain, sol};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use sha2::Sha256;

sol! {
    /// The L1 authentication message.
    struct ClobAuth {
        address address;
        string timestamp;
        uint256 nonce;
        string message;
    }
}

mod v2 {
    alloy_sol_types::sol! {
        /// The CLOB V2 order as the exchange contract hashes it (`expiration` is not signed).
        #[derive(Debug, PartialEq, Eq)]
        struct Order {
            uint256 salt;
            address maker;
            address signer;
            uint256 tokenId;
            uint256 makerAmount;
            uint256 takerAmount;
            uint8 side;
            uint8 signatureType;
            uint256 timestamp;
            bytes32 metadata;
            bytes32 builder;
        }
    }
}

pub use v2::Order as OrderV2;

/// The text an L1 signature attests.
pub const CLOB_AUTH_MESSAGE: &str = "This message attests that I control the given wallet";

/// The V2 order type string (its keccak is the typehash in the fixtures).
pub const ORDER_V2_TYPE: &str = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)";

/// Polygon's exchange contracts (`docs/protocols.md` §4.1): CTF Exchange V2, its neg-risk twin,
/// and ExchangeV3 (domain version `"3"`).
pub const EXCHANGE_V2: Address = Address::new(hex32("e111180000d2663c0091e4f400237545b87b996b"));
/// Neg-risk CTF Exchange V2.
pub const NEG_RISK_EXCHANGE_V2: Address =
    Address::new(hex32("e2222d279d744050d28e00520010520000310f59"));
/// ExchangeV3 (markets whose Gamma `version` is `"v2"`).
pub const EXCHANGE_V3: Address = Address::new(hex32("e3333700ca9d93003f00f0f71f8515005f6c00aa"));

const fn hex32(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not lowercase hex"),
    }
}

/// Which exchange contract an order is signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// CTF Exchange V2, domain version `"2"`.
    V2,
    /// Neg-risk CTF Exchange V2, domain version `"2"`.
    NegRiskV2,
    /// ExchangeV3, domain version `"3"`.
    V3,
}

/// The EIP-712 domain of orders for `kind` on `chain_id`.
pub fn order_domain(kind: ExchangeKind, chain_id: u64) -> Eip712Domain {
    let (version, contract) = match kind {
        ExchangeKind::V2 => ("2", EXCHANGE_V2),
        ExchangeKind::NegRiskV2 => ("2", NEG_RISK_EXCHANGE_V2),
        ExchangeKind::V3 => ("3", EXCHANGE_V3),
    };
    eip712_domain! {
        name: "Polymarket CTF Exchange",
        version: version,
        chain_id: chain_id,
        verifying_contract: contract,
    }
}

/// Why a signature or header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Not hex, wrong length, or not a valid secp256k1 signature.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// Recovered another address than the one claimed.
    #[error("invalid signature: recovered {recovered}, expected {expected}")]
    WrongSigner {
        /// Recovered from the signature.
        recovered: Address,
        /// The address that should have signed.
        expected: Address,
    },
    /// The POLY_1271 wrapper does not describe this order.
    #[error("invalid POLY_1271 wrapper: {0}")]
    Wrapper(&'static str),
    /// The HMAC does not match.
    #[error("invalid L2 signature")]
    BadHmac,
    /// The API secret is not base64url.
    #[error("API secret is not base64url")]
    BadSecret,
}

fn parse_hex(s: &str) -> Result<Vec<u8>, SigError> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    alloy_primitives::hex::decode(h).map_err(|e| SigError::Malformed(e.to_string()))
}

fn recover(hash: &B256, sig65: &[u8]) -> Result<Address, SigError> {
    if sig65.len() != 65 {
        return Err(SigError::Malformed(format!(
            "{} bytes, expected 65",
            sig65.len()
        )));
    }
    let sig = Signature::try_from(sig65).map_err(|e| SigError::Malformed(e.to_string()))?;
    sig.recover_address_from_prehash(hash)
        .map_err(|e| SigError::Malformed(e.to_string()))
}

/// The L1 digest a wallet signs for `(address, timestamp, nonce)` on `chain_id`.
pub fn clob_auth_hash(address: Address, timestamp: &str, nonce: u64, chain_id: u64) -> B256 {
    let auth = ClobAuth {
        address,
        timestamp: timestamp.to_owned(),
        nonce: U256::from(nonce),
        message: CLOB_AUTH_MESSAGE.to_owned(),
    };
    let domain = eip712_domain! {
        name: "ClobAuthDomain",
        version: "1",
        chain_id: chain_id,
    };
    auth.eip712_signing_hash(&domain)
}

/// Checks an L1 signature (`POLY_SIGNATURE`, hex) by `address`.
///
/// # Errors
/// [`SigError::Malformed`] or [`SigError::WrongSigner`].
pub fn verify_l1(
    address: Address,
    timestamp: &str,
    nonce: u64,
    chain_id: u64,
    signature: &str,
) -> Result<(), SigError> {
    let hash = clob_auth_hash(address, timestamp, nonce, chain_id);
    let recovered = recover(&hash, &parse_hex(signature)?)?;
    if recovered == address {
        Ok(())
    } else {
        Err(SigError::WrongSigner {
            recovered,
            expected: address,
        })
    }
}

/// The HMAC-SHA256 state after `timestamp + method + path + body` (the clients replace `'` by
/// `"` in the body first) under the base64url-decoded `secret`.
fn l2_mac(
    secret: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<Hmac<Sha256>, SigError> {
    let key = URL_SAFE.decode(secret).map_err(|_| SigError::BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SigError::BadSecret)?;
    mac.update(timestamp.as_bytes());
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(body.replace('\'', "\"").as_bytes());
    Ok(mac)
}

/// The L2 signature of a request: base64url(HMAC-SHA256(secret, ts + method + path + body)).
///
/// # Errors
/// [`SigError::BadSecret`] if `secret` is not base64url.
pub fn l2_signature(
    secret: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, SigError> {
    let mac = l2_mac(secret, timestamp, method, path, body)?;
    Ok(URL_SAFE.encode(mac.finalize().into_bytes()))
}

/// Checks an L2 signature in constant time.
///
/// # Errors
/// [`SigError::BadSecret`], [`SigError::BadHmac`].
pub fn verify_l2(
    secret: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    body: &str,
    signature: &str,
) -> Result<(), SigError> {
    let mac = l2_mac(secret, timestamp, method, path, body)?;
    let given = URL_SAFE.decode(signature).map_err(|_| SigError::BadHmac)?;
    mac.verify_slice(&given).map_err(|_| SigError::BadHmac)
}

/// The EIP-712 digest of `order` for `kind` on `chain_id`.
pub fn order_hash(order: &OrderV2, kind: ExchangeKind, chain_id: u64) -> B256 {
    order.eip712_signing_hash(&order_domain(kind, chain_id))
}

const DEPOSIT_WALLET_TYPE: &str = "TypedDataSign(Order contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)";

/// Checks `signature` (hex) on `order` for `kind` on `chain_id`, and returns the order hash (the
/// venue's order id).
///
/// Signature types 0 (EOA), 1 (POLY_PROXY) and 2 (GNOSIS_SAFE): a 65-byte ECDSA signature of the
/// digest by `order.signer`. Type 3 (POLY_1271, deposit wallet): the ERC-7739 wrapper
/// `inner(65) ‖ appDomainSeparator(32) ‖ contentsHash(32) ‖ contentsType ‖ uint16(len)`, the
/// inner signature over `keccak(0x1901 ‖ appDomainSeparator ‖ hash(TypedDataSign{contents,
/// "DepositWallet", "1", chainId, signer, 0}))` by the wallet's owner; the sandbox, having no
/// chain, takes the owner to be `owner` (the API key's address).
///
/// # Errors
/// [`SigError`] naming what did not match.
pub fn verify_order(
    order: &OrderV2,
    kind: ExchangeKind,
    chain_id: u64,
    signature: &str,
    owner: Address,
) -> Result<B256, SigError> {
    let domain = order_domain(kind, chain_id);
    let digest = order.eip712_signing_hash(&domain);
    let bytes = parse_hex(signature)?;
    if order.signatureType != 3 {
        let recovered = recover(&digest, &bytes)?;
        if recovered != order.signer {
            return Err(SigError::WrongSigner {
                recovered,
                expected: order.signer,
            });
        }
        return Ok(digest);
    }
    let type_len = ORDER_V2_TYPE.len();
    if bytes.len() != 65 + 32 + 32 + type_len + 2 {
        return Err(SigError::Wrapper("length"));
    }
    let separator = domain.hash_struct();
    let contents = order.eip712_hash_struct();
    if bytes[65..97] != separator[..] {
        return Err(SigError::Wrapper("app domain separator"));
    }
    if bytes[97..129] != contents[..] {
        return Err(SigError::Wrapper("contents hash"));
    }
    if &bytes[129..129 + type_len] != ORDER_V2_TYPE.as_bytes() {
        return Err(SigError::Wrapper("contents type"));
    }
    let len = u16::from_be_bytes([bytes[129 + type_len], bytes[130 + type_len]]);
    if usize::from(len) != type_len {
        return Err(SigError::Wrapper("contents type length"));
    }
    let typed = keccak256(
        (
            keccak256(DEPOSIT_WALLET_TYPE.as_bytes()),
            contents,
            keccak256("DepositWallet".as_bytes()),
            keccak256("1".as_bytes()),
            U256::from(chain_id),
            order.signer,
            B256::ZERO,
        )
            .abi_encode(),
    );
    let mut input = [0u8; 66];
    input[0] = 0x19;
    input[1] = 0x01;
    input[2..34].copy_from_slice(separator.as_slice());
    input[34..66].copy_from_slice(typed.as_slice());
    let inner = keccak256(input);
    let recovered = recover(&inner, &bytes[..65])?;
    if recovered != owner {
        return Err(SigError::WrongSigner {
            recovered,
            expected: owner,
        });
    }
    Ok(digest)
}
