//! Order build + EIP-712 sign through `polymarket_client_sdk_v2`, as the live executor does it:
//! `limit_order()…build()` (tick size, amounts, salt, V2 struct; the tick size, neg-risk flag
//! and server version cached after the first order, as in a running session) then
//! `Client::sign` (secp256k1 over the EIP-712 digest). A tiny loopback server answers the one
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
                let _ = s.read(&mut buf).await;
                let body = r#"{"version":2}"#;
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
    g.bench_function("build", |b| {
        b.iter(|| {
            rt.block_on(
                client
                    .limit_order()
                    .token_id(token)
                    .price(Decimal::new(52, 2))
                    .size(Decimal::new(1000, 2))
                    .side(Side::Buy)
                    .order_type(OrderType::GTC)
                    .build(),
            )
            .unwrap()
        });
    });
    g.bench_function("build_and_sign", |b| {
        b.iter(|| {
            rt.block_on(async {
                let o = client
                    .limit_order()
                    .token_id(token)
                    .price(Decimal::new(52, 2))
                    .size(Decimal::new(1000, 2))
                    .side(Side::Buy)
                    .order_type(OrderType::GTC)
                    .build()
                    .await
                    .unwrap();
                client.sign(&signer, o).await.unwrap()
            })
        });
    });
    g.bench_function("build_sign_serialize", |b| {
        b.iter(|| {
            rt.block_on(async {
                let o = client
                    .limit_order()
                    .token_id(token)
                    .price(Decimal::new(52, 2))
                    .size(Decimal::new(1000, 2))
                    .side(Side::Buy)
                    .order_type(OrderType::GTC)
                    .build()
                    .await
                    .unwrap();
                let signed = client.sign(&signer, o).await.unwrap();
                serde_json::to_vec(&signed).unwrap()
            })
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
