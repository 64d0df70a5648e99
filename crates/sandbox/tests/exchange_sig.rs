//! The exchange's verifier against the signing vectors in `fixtures/polymarket/signing`
//! (official ones from Polymarket's clients and NautilusTrader, derived ones from eth-account):
//! every L1, L2 and V2 order vector verifies, and a one-bit change of any signed field or of
//! the signature is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256, keccak256};
use polyedge_sandbox::exchange::sig::{
    ExchangeKind, ORDER_V2_TYPE, OrderV2, SigError, clob_auth_hash, l2_signature, order_domain,
    order_hash, verify_l1, verify_l2, verify_order,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/polymarket/signing/test_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn u(v: &Value) -> U256 {
    match v {
        Value::String(t) => U256::from_str(t).unwrap(),
        Value::Number(n) => U256::from(n.as_u64().unwrap()),
        _ => panic!("not a number: {v}"),
    }
}

fn addr(v: &Value) -> Address {
    Address::from_str(s(v)).unwrap()
}

fn b32(v: &Value) -> B256 {
    B256::from_str(s(v)).unwrap()
}

#[test]
fn the_v2_typehash_is_the_fixtures() {
    let v = vectors();
    assert_eq!(ORDER_V2_TYPE, s(&v["typehashes"]["v2_order_type_string"]));
    assert_eq!(
        format!("{}", keccak256(ORDER_V2_TYPE.as_bytes())),
        s(&v["typehashes"]["v2_order_typehash"])
    );
}

#[test]
fn l1_vectors_verify_and_a_changed_field_does_not() {
    let v = vectors();
    let mut n = 0;
    for case in v["clob_auth_l1"].as_array().unwrap() {
        let a = addr(&case["message"]["address"]);
        let ts = s(&case["message"]["timestamp"]);
        let nonce = case["message"]["nonce"].as_u64().unwrap();
        let chain = case["domain"]["chainId"].as_u64().unwrap();
        let sig = s(&case["signature"]);
        if let Some(d) = case.get("digest") {
            assert_eq!(clob_auth_hash(a, ts, nonce, chain), b32(d));
        }
        verify_l1(a, ts, nonce, chain, sig).unwrap();
        // One bit off in each signed field.
        let mut a2 = a;
        a2.0[19] ^= 1;
        assert!(verify_l1(a2, ts, nonce, chain, sig).is_err());
        assert!(verify_l1(a, &format!("{ts}1"), nonce, chain, sig).is_err());
        assert!(verify_l1(a, ts, nonce ^ 1, chain, sig).is_err());
        assert!(verify_l1(a, ts, nonce, chain ^ 1, sig).is_err());
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn l2_vectors_verify_and_a_changed_byte_does_not() {
    let v = vectors();
    let cases = v["hmac_l2"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let secret = s(&case["secret"]);
        let ts = s(&case["timestamp"]);
        let method = s(&case["method"]);
        let path = s(&case["path"]);
        let body = case["body"].as_str().unwrap_or("");
        let sig = s(&case["signature"]);
        assert_eq!(l2_signature(secret, ts, method, path, body).unwrap(), sig);
        verify_l2(secret, ts, method, path, body, sig).unwrap();
        assert_eq!(
            verify_l2(secret, &format!("{ts}0"), method, path, body, sig),
            Err(SigError::BadHmac)
        );
        assert_eq!(
            verify_l2(secret, ts, method, &format!("{path}/"), body, sig),
            Err(SigError::BadHmac)
        );
        assert_eq!(
            verify_l2(secret, ts, method, path, &format!("{body} "), sig),
            Err(SigError::BadHmac)
        );
    }
}

fn order_of(common: &Value, case: &Value) -> OrderV2 {
    let pick = |k: &str| case.get(k).unwrap_or(&common[k]);
    OrderV2 {
        salt: u(pick("salt")),
        maker: addr(pick("maker")),
        signer: addr(pick("signer")),
        tokenId: u(pick("tokenId")),
        makerAmount: u(pick("makerAmount")),
        takerAmount: u(pick("takerAmount")),
        side: u8::try_from(pick("side").as_u64().unwrap()).unwrap(),
        signatureType: u8::try_from(pick("signatureType").as_u64().unwrap()).unwrap(),
        timestamp: u(pick("timestamp")),
        metadata: b32(pick("metadata")),
        builder: b32(pick("builder")),
    }
}

/// Each signed field changed by one bit.
fn one_bit_changes(o: &OrderV2) -> Vec<(&'static str, OrderV2)> {
    let flip_u = |x: U256| x ^ U256::from(1);
    let flip_a = |mut a: Address| {
        a.0[0] ^= 0x80;
        a
    };
    let flip_b = |mut b: B256| {
        b.0[31] ^= 1;
        b
    };
    let base = || OrderV2 { ..o.clone() };
    vec![
        (
            "salt",
            OrderV2 {
                salt: flip_u(o.salt),
                ..base()
            },
        ),
        (
            "maker",
            OrderV2 {
                maker: flip_a(o.maker),
                ..base()
            },
        ),
        (
            "signer",
            OrderV2 {
                signer: flip_a(o.signer),
                ..base()
            },
        ),
        (
            "tokenId",
            OrderV2 {
                tokenId: flip_u(o.tokenId),
                ..base()
            },
        ),
        (
            "makerAmount",
            OrderV2 {
                makerAmount: flip_u(o.makerAmount),
                ..base()
            },
        ),
        (
            "takerAmount",
            OrderV2 {
                takerAmount: flip_u(o.takerAmount),
                ..base()
            },
        ),
        (
            "side",
            OrderV2 {
                side: o.side ^ 1,
                ..base()
            },
        ),
        (
            "signatureType",
            OrderV2 {
                signatureType: o.signatureType ^ 1,
                ..base()
            },
        ),
        (
            "timestamp",
            OrderV2 {
                timestamp: flip_u(o.timestamp),
                ..base()
            },
        ),
        (
            "metadata",
            OrderV2 {
                metadata: flip_b(o.metadata),
                ..base()
            },
        ),
        (
            "builder",
            OrderV2 {
                builder: flip_b(o.builder),
                ..base()
            },
        ),
    ]
}

fn flip_sig(sig: &str, byte: usize) -> String {
    let mut b = alloy_primitives::hex::decode(sig.trim_start_matches("0x")).unwrap();
    b[byte] ^= 1;
    format!("0x{}", alloy_primitives::hex::encode(b))
}

#[test]
fn every_v2_order_vector_verifies_and_no_one_bit_change_does() {
    let v = vectors();
    let owner = addr(&v["address"]);
    let cur = &v["order_v2_current"];
    let mut checked = 0;
    for case in cur["cases"].as_array().unwrap() {
        let o = order_of(&cur["common"], case);
        let kind = if case["neg_risk"].as_bool().unwrap() {
            ExchangeKind::NegRiskV2
        } else {
            ExchangeKind::V2
        };
        let sig = s(&case["signature"]);
        let name = s(&case["name"]);
        assert_eq!(order_hash(&o, kind, 137), b32(&case["hash"]), "{name}");
        assert_eq!(
            verify_order(&o, kind, 137, sig, owner).unwrap(),
            b32(&case["hash"]),
            "{name}"
        );
        for (field, changed) in one_bit_changes(&o) {
            // POLY_PROXY/SAFE orders are signed by the signer; flipping the signature type to 3
            // asks for a wrapper, which a 65-byte signature is not: refused either way.
            assert!(
                verify_order(&changed, kind, 137, sig, owner).is_err(),
                "{name}: one bit of {field} changed and the order still verified"
            );
        }
        for byte in [0, 31, 32, 63] {
            assert!(
                verify_order(&o, kind, 137, &flip_sig(sig, byte), owner).is_err(),
                "{name}: signature byte {byte} changed and it still verified"
            );
        }
        // The wrong exchange or chain.
        for (k, chain) in [(ExchangeKind::V3, 137), (kind, 80002)] {
            assert!(verify_order(&o, k, chain, sig, owner).is_err());
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
    // The domain separators the fixtures derived.
    let seps = &cur["domain_separators_derived"];
    for (key, kind, chain) in [
        ("standard_137", ExchangeKind::V2, 137),
        ("neg_risk_137", ExchangeKind::NegRiskV2, 137),
        ("standard_80002", ExchangeKind::V2, 80002),
        ("exchangeV3_137_version3", ExchangeKind::V3, 137),
    ] {
        assert_eq!(
            order_domain(kind, chain).hash_struct(),
            b32(&seps[key]),
            "{key}"
        );
    }
    // The derived extra cases: EOA over four domains, including ExchangeV3 "3".
    let extra = &v["order_v2_derived_extra"][0];
    let o = OrderV2 {
        salt: U256::from(479_249_096_354_u64),
        maker: owner,
        signer: owner,
        tokenId: U256::from(1234),
        makerAmount: U256::from(100_000_000),
        takerAmount: U256::from(50_000_000),
        side: 0,
        signatureType: 0,
        timestamp: U256::from(1_710_000_000_000_u64),
        metadata: B256::ZERO,
        builder: B256::ZERO,
    };
    let kinds = [
        (ExchangeKind::V2, 137),
        (ExchangeKind::NegRiskV2, 137),
        (ExchangeKind::V2, 80002),
        (ExchangeKind::V3, 137),
    ];
    for (case, (kind, chain)) in extra["cases"].as_array().unwrap().iter().zip(kinds) {
        assert_eq!(order_hash(&o, kind, chain), b32(&case["hash"]));
        verify_order(&o, kind, chain, s(&case["signature"]), owner).unwrap();
    }
}

#[test]
fn the_poly1271_wrapper_verifies_and_no_one_bit_change_does() {
    let v = vectors();
    let owner = addr(&v["address"]);
    let case = &v["order_v2_poly1271_official"];
    let o = order_of(&case["order"], &Value::Null);
    let sig = s(&case["signature"]);
    verify_order(&o, ExchangeKind::V2, 80002, sig, owner).unwrap();
    for (field, changed) in one_bit_changes(&o) {
        assert!(
            verify_order(&changed, ExchangeKind::V2, 80002, sig, owner).is_err(),
            "POLY_1271: one bit of {field} changed and the order still verified"
        );
    }
    // Inner signature, separator, contents hash, type string and its length each changed.
    for byte in [0, 64, 65, 97, 129, 129 + ORDER_V2_TYPE.len() + 1] {
        assert!(
            verify_order(&o, ExchangeKind::V2, 80002, &flip_sig(sig, byte), owner).is_err(),
            "wrapper byte {byte} changed and it still verified"
        );
    }
    let mut other = owner;
    other.0[5] ^= 1;
    assert!(verify_order(&o, ExchangeKind::V2, 80002, sig, other).is_err());
}
