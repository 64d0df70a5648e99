//! Every V2 order vector of `fixtures/polymarket/signing/test_vectors.json` signed through the
//! SDK's own path (`Client::sign`: EIP-712 under the V2, neg-risk V2 or ExchangeV3 domain, and
//! the POLY_1271 deposit-wallet wrapper) reproduces the expected signature byte for byte. The
//! client is authenticated with given credentials and told the neg-risk flag, so nothing is
//! sent over the network. Each vector is signed twice, by alloy's k256 signer and by our
//! libsecp256k1 `FastSigner`, which must agree. Each vector is signed twice, by alloy's k256 signer and by our
//! libsecp256k1 `FastSigner`, which must agree.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::str::FromStr;

use alloy_signer::Signer as _;
use alloy_signer_local::PrivateKeySigner;
use polyedge_live::signer::FastSigner;
use polymarket_client_sdk_v2::auth::Credentials;
use polymarket_client_sdk_v2::clob::types::{OrderPayload, OrderType, OrderV2, SignableOrder};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, U256};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/polymarket/signing/test_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn u(v: &Value) -> U256 {
    match v {
        Value::String(t) => U256::from_str(t).unwrap(),
        Value::Number(n) => U256::from(n.as_u64().unwrap()),
        _ => panic!("{v}"),
    }
}

fn order(common: &Value, case: &Value) -> OrderV2 {
    let pick = |k: &str| case.get(k).unwrap_or(&common[k]);
    let mut o = OrderV2::default();
    o.salt = u(pick("salt"));
    o.maker = Address::from_str(s(pick("maker"))).unwrap();
    o.signer = Address::from_str(s(pick("signer"))).unwrap();
    o.tokenId = u(pick("tokenId"));
    o.makerAmount = u(pick("makerAmount"));
    o.takerAmount = u(pick("takerAmount"));
    o.side = u8::try_from(pick("side").as_u64().unwrap()).unwrap();
    o.signatureType = u8::try_from(pick("signatureType").as_u64().unwrap()).unwrap();
    o.timestamp = u(pick("timestamp"));
    o.metadata = B256::from_str(s(pick("metadata"))).unwrap();
    o.builder = B256::from_str(s(pick("builder"))).unwrap();
    o
}

async fn client<S: alloy_signer::Signer + Sync>(
    signer: &S,
) -> Client<
    polymarket_client_sdk_v2::auth::state::Authenticated<polymarket_client_sdk_v2::auth::Normal>,
> {
    let creds = Credentials::new(
        uuid::Uuid::nil(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        "pass".into(),
    );
    Client::new("http://127.0.0.1:9/", Config::default())
        .unwrap()
        .authentication_builder(signer)
        .credentials(creds)
        .authenticate()
        .await
        .unwrap()
}

/// Signs `payload` with alloy's `PrivateKeySigner` (k256) and with our `FastSigner`
/// (libsecp256k1); both must give the same signature, which is returned.
async fn sign(
    signer: &PrivateKeySigner,
    payload: OrderPayload,
    neg_risk: bool,
    token: U256,
) -> String {
    let signable = || {
        SignableOrder::builder()
            .payload(payload.clone())
            .order_type(OrderType::GTC)
            .build()
    };
    let c = client(signer).await;
    c.set_neg_risk(token, neg_risk);
    let k256 = c
        .sign(signer, signable())
        .await
        .unwrap()
        .signature
        .to_string();
    let hex = alloy_primitives::hex::encode(signer.to_bytes().0);
    let fast = FastSigner::from_hex(&hex)
        .unwrap()
        .with_chain_id(signer.chain_id());
    let c = client(&fast).await;
    c.set_neg_risk(token, neg_risk);
    let secp = c
        .sign(&fast, signable())
        .await
        .unwrap()
        .signature
        .to_string();
    assert_eq!(secp, k256, "libsecp256k1 and k256 signatures differ");
    k256
}

#[tokio::test]
async fn the_sdk_reproduces_every_v2_vector_byte_for_byte() {
    let v = vectors();
    let key = s(&v["private_key"]);
    let mut checked = 0;

    let cur = &v["order_v2_current"];
    let signer = PrivateKeySigner::from_str(key)
        .unwrap()
        .with_chain_id(Some(137));
    for case in cur["cases"].as_array().unwrap() {
        let o = order(&cur["common"], case);
        let token = o.tokenId;
        let sig = sign(
            &signer,
            OrderPayload::new(o, U256::ZERO),
            case["neg_risk"].as_bool().unwrap(),
            token,
        )
        .await;
        assert_eq!(sig, s(&case["signature"]), "{}", s(&case["name"]));
        checked += 1;
    }

    // The derived EOA cases over the standard, neg-risk, Amoy and ExchangeV3 domains.
    let extra = &v["order_v2_derived_extra"][0];
    let addr = s(&v["address"]);
    let base = serde_json::json!({
        "salt": "479249096354", "maker": addr, "signer": addr, "tokenId": "1234",
        "makerAmount": "100000000", "takerAmount": "50000000", "side": 0, "signatureType": 0,
        "timestamp": "1710000000000",
        "metadata": format!("0x{}", "0".repeat(64)), "builder": format!("0x{}", "0".repeat(64)),
    });
    let domains = [
        (137, false, false),
        (137, true, false),
        (80002, false, false),
        (137, false, true),
    ];
    for (case, (chain, neg, v3)) in extra["cases"].as_array().unwrap().iter().zip(domains) {
        let signer = PrivateKeySigner::from_str(key)
            .unwrap()
            .with_chain_id(Some(chain));
        let o = order(&base, &Value::Null);
        let payload = if v3 {
            OrderPayload::new_v3(o, U256::ZERO)
        } else {
            OrderPayload::new(o, U256::ZERO)
        };
        let sig = sign(&signer, payload, neg, U256::from(1234)).await;
        assert_eq!(sig, s(&case["signature"]), "{}", s(&case["domain"]));
        checked += 1;
    }

    // POLY_1271: the deposit wallet's ERC-7739 wrapper, official vector (Amoy).
    let p = &v["order_v2_poly1271_official"];
    let signer = PrivateKeySigner::from_str(key)
        .unwrap()
        .with_chain_id(Some(80002));
    let o = order(&p["order"], &Value::Null);
    let sig = sign(
        &signer,
        OrderPayload::new(o, U256::ZERO),
        false,
        U256::from(1234),
    )
    .await;
    assert_eq!(sig, s(&p["signature"]));
    checked += 1;

    assert_eq!(checked, 10, "every V2 vector");
}
