//! Order build + EIP-712 sign through `polymarket_client_sdk_v2`, as the live executor does it:
//! `limit_order()…build()` (tick size, amounts, salt, V2 struct; the tick size, neg-risk flag
//! and server version cached after the first order, as in a running session) then
//! `Client::sign` (secp256k1 over the EIP-712 digest), with alloy's k256 `PrivateKeySigner` and
//! with our libsecp256k1 `FastSigner` (what the live executor uses). A tiny loopback server answers the one
//! `/version` request the first build makes. Target (issue 10): median ≤ 25 µs.
//!
//! `cargo bench -p polyedge-live --bench sign`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use alloy_signer::Signer as _;
use alloy_signer_local::PrivateKeySigner;
use criterion::{Criterion, criterion_group, criterion_main};
use polymarket_client_sdk_v2::auth::Credentials;
use polymarket_client_sdk_v2::clob::types::{OrderType, Side, TickSize};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Decimal, U256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

async fn version_server() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let body = if req.contains("/tick-size") {
                    r#"{"minimum_tick_size":0.01}"#
                } else if req.contains("/neg-risk") {
                    r#"{"neg_risk":false}"#
                } else {
                    r#"{"version":2}"#
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signer = PrivateKeySigner::from_str(KEY)
        .unwrap()
        .with_chain_id(Some(137));
    let token = U256::from_str(
        "71321045679252212594626385532706912750332728571942532289631379312455583992563",
    )
    .unwrap();
    let client = rt.block_on(async {
        let host = version_server().await;
        let creds = Credentials::new(
            uuid::Uuid::nil(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
            "pass".into(),
        );
        let c = Client::new(&host, Config::default())
            .unwrap()
            .authentication_builder(&signer)
            .credentials(creds)
            .authenticate()
            .await
            .unwrap();
        c.set_tick_size(token, TickSize::Hundredth);
        c.set_neg_risk(token, false);
        // Prime the version cache.
        c.limit_order()
            .token_id(token)
            .price(Decimal::new(52, 2))
            .size(Decimal::new(1000, 2))
            .side(Side::Buy)
            .build()
            .await
            .unwrap();
        c
    });
    let mut g = c.benchmark_group("clob_v2_order");
    // The benchmarked order: a limit BUY of 10 shares at 0.52, GTC.
    let order = || {
        client
            .limit_order()
            .token_id(token)
            .price(Decimal::new(52, 2))
            .size(Decimal::new(1000, 2))
            .side(Side::Buy)
            .order_type(OrderType::GTC)
    };
    g.bench_function("build", |b| {
        b.iter(|| rt.block_on(order().build()).unwrap());
    });
    g.bench_function("build_and_sign", |b| {
        b.iter(|| {
            rt.block_on(async {
                let o = order().build().await.unwrap();
                client.sign(&signer, o).await.unwrap()
            })
        });
    });
    let fast = polyedge_live::signer::FastSigner::from_hex(KEY)
        .unwrap()
        .with_chain_id(Some(137));
    g.bench_function("build_and_sign_libsecp256k1", |b| {
        b.iter(|| {
            rt.block_on(async {
                let o = order().build().await.unwrap();
                client.sign(&fast, o).await.unwrap()
            })
        });
    });
    let digest = polymarket_client_sdk_v2::types::B256::repeat_byte(7);
    g.bench_function("ecdsa_only_libsecp256k1", |b| {
        b.iter(|| fast.sign_digest(&digest));
    });
    let k = PrivateKeySigner::from_str(KEY).unwrap();
    g.bench_function("ecdsa_only_k256", |b| {
        b.iter(|| alloy_signer::SignerSync::sign_hash_sync(&k, &digest).unwrap());
    });
    // Intent → request body, as the live executor does it (`Venue::prepare`: lot rounding, the
    // SDK's builder, libsecp256k1 signing, the order hash; then the JSON body).
    let venue = rt.block_on(async {
        let host = version_server().await;
        let secrets = polyedge_live::LiveSecrets::from_lookup(|k| match k {
            "POLYMARKET_PRIVATE_KEY" => Some(KEY.to_string()),
            "POLYMARKET_API_KEY" => Some("00000000-0000-4000-8000-000000000000".into()),
            "POLYMARKET_API_SECRET" => Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
            "POLYMARKET_API_PASSPHRASE" => Some("pass".into()),
            _ => None,
        })
        .unwrap();
        let cfg = polyedge_live::LiveConfig {
            clob_url: host,
            heartbeat_interval_ms: 3_600_000,
            ..Default::default()
        };
        polyedge_live::venue::Venue::connect(cfg.venue(), &secrets)
            .await
            .unwrap()
    });
    let intent = polyedge_core::OrderIntent {
        id: polyedge_core::OrderId(1),
        window: "btc-updown-5m-1776257400".into(),
        outcome: polyedge_core::Outcome::Up,
        side: polyedge_core::Side::Buy,
        price: polyedge_core::Price::from_micros(520_000).unwrap(),
        size: polyedge_core::Size::from_shares(10),
        tif: polyedge_core::TimeInForce::Gtc,
        post_only: false,
    };
    let tok = polyedge_core::TokenId::parse(&token.to_string()).unwrap();
    rt.block_on(venue.prepare(&intent, tok)).unwrap();
    g.bench_function("intent_to_request_body", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = venue.prepare(&intent, tok).await.unwrap();
                serde_json::to_vec(&p.signed).unwrap()
            })
        });
    });
    g.bench_function("build_sign_serialize", |b| {
        b.iter(|| {
            rt.block_on(async {
                let o = order().build().await.unwrap();
                let signed = client.sign(&signer, o).await.unwrap();
                serde_json::to_vec(&signed).unwrap()
            })
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
