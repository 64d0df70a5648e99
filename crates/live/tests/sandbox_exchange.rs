//! The live client (`polyedge_live::venue`, i.e. Polymarket's SDK) against the sandbox exchange
//! on 127.0.0.1, over the bundled cronos sample at real speed: API keys created with an L1
//! signature and derived again, V2 orders signed by the SDK and accepted by the sandbox's own
//! verifier, a fill reported on the user channel (parsed by our user-channel parser), a resting
//! order cancelled, and each of the venue's refusals — bad signature, wrong API key, stale
//! timestamp, off-tick price, below-minimum size, insufficient balance, duplicate submit —
//! answered as the venue does. The client's balance equals the sandbox ledger's.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use polyedge_core::{
    OrderId, OrderIntent, Outcome, Price, Side, Size, TimeInForce, TokenId, Window,
};
use polyedge_live::LiveSecrets;
use polyedge_live::venue::{Venue, VenueConfig, VenueError};
use polyedge_sandbox::exchange::sig::l2_signature;
use polyedge_sandbox::{Sandbox, SandboxConfig, Speed};
use polyedge_store::NoProgress;
use polyedge_store::import::{self, ImportKind};
use polyedge_venues::polymarket_user::{self, TradeStatus, UserEvent};
use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// Hardhat accounts #0 and #1 (public test keys).
const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn sample() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("live-sample-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
        let kind: ImportKind = "cronos".parse().unwrap();
        import::import(kind, &src, &out, &NoProgress).expect("import the bundled sample");
        out
    })
}

fn secrets(key: &str) -> LiveSecrets {
    LiveSecrets::from_lookup(|k| {
        (k == polyedge_live::secrets::PRIVATE_KEY_VAR).then(|| key.to_string())
    })
    .unwrap()
}

fn venue_config(sb: &Sandbox) -> VenueConfig {
    VenueConfig {
        clob_url: format!("http://{}/clob/", sb.addr()),
        user_ws_url: format!("ws://{}/ws/user", sb.addr()),
        chain_id: 137,
        key_nonce: 0,
        timeout: Duration::from_secs(10),
        // The sandbox in this test cancels a key's orders 1 s after its last heartbeat.
        heartbeat_interval: Duration::from_millis(200),
        rate_limits: polyedge_live::rate::RateLimitConfig::default(),
        signature_type: polyedge_live::config::WalletKind::Eoa,
        rpc_url: Some(format!("http://{}/rpc", sb.addr())),
    }
}

/// Starts the sandbox at real speed and a market-channel client that subscribes to every token
/// (the sandbox clock starts when the market channel has a subscriber) and drains it.
async fn start() -> (Sandbox, Vec<Window>) {
    let rec = polyedge_store::Recording::open(sample()).unwrap();
    let windows: Vec<Window> = rec.windows().to_vec();
    let mut cfg = SandboxConfig::new(vec![sample().to_path_buf()], Speed::Factor(1.0));
    cfg.gate_wait = Duration::from_millis(200);
    cfg.exchange.heartbeat_timeout = Duration::from_secs(1);
    // Start at the first window's start (the recording's klines begin minutes earlier).
    cfg.filter.from = Some(windows[0].start);
    let sb = Sandbox::start(cfg).await.unwrap();
    let tokens: Vec<String> = windows
        .iter()
        .filter_map(polyedge_core::book_tokens)
        .flat_map(|(u, d)| [u.to_string(), d.to_string()])
        .collect();
    let (mut ws, _) = connect_async(format!("ws://{}/ws/market", sb.addr()))
        .await
        .unwrap();
    ws.send(Message::text(
        json!({"assets_ids": tokens, "type": "market"}).to_string(),
    ))
    .await
    .unwrap();
    tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    (sb, windows)
}

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The window open now on the sandbox clock whose recorded token has a two-sided book, and that
/// token, waiting up to 60 s.
async fn open_window(sb: &Sandbox, windows: &[Window]) -> (Window, TokenId, Outcome, Value) {
    let t0 = Instant::now();
    loop {
        let now = sb.now();
        for w in windows {
            if w.start.0 <= now && now + 60_000_000_000 < w.end.0 {
                let Some((up, down)) = polyedge_core::book_tokens(w) else {
                    continue;
                };
                for (token, outcome) in [(up, Outcome::Up), (down, Outcome::Down)] {
                    let book =
                        get(&format!("http://{}/clob/book?token_id={token}", sb.addr())).await;
                    // A book two-sided and no wider than 10 cents (the first books of a window
                    // are often 0.01 / 0.99). A recording's missing side has no book of its own.
                    let two_sided = matches!(
                        (best(&book, "bids"), best(&book, "asks")),
                        (Some(b), Some(a)) if a.micros() - b.micros() <= 100_000
                    );
                    if two_sided {
                        return (w.clone(), token, outcome, book);
                    }
                }
            }
        }
        if t0.elapsed() > Duration::from_mins(1) {
            let first = &windows[0];
            let t = polyedge_core::book_tokens(first).unwrap();
            panic!(
                "no open window with a book: now {now}, first window {} {}..{}, books {} / {}, status {:?}",
                first.slug,
                first.start.0,
                first.end.0,
                get(&format!("http://{}/clob/book?token_id={}", sb.addr(), t.0)).await,
                get(&format!("http://{}/clob/book?token_id={}", sb.addr(), t.1)).await,
                sb.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The best price of a `/book` side: the venue lists bids ascending and asks descending, so the
/// best is the last entry.
fn best(book: &Value, side: &str) -> Option<Price> {
    book[side]
        .as_array()
        .and_then(|l| l.last())
        .and_then(|l| l["price"].as_str())
        .and_then(|p| Price::parse(p).ok())
}

fn intent(id: u64, w: &Window, outcome: Outcome, side: Side, p: Price, shares: u64) -> OrderIntent {
    OrderIntent {
        id: OrderId(id),
        window: w.slug.clone(),
        outcome,
        side,
        price: p,
        size: Size::from_shares(shares),
        tif: TimeInForce::Gtc,
        post_only: false,
    }
}

/// L2 headers for a raw request, made with the sandbox's own HMAC (so a test can send what the
/// SDK never would).
fn l2(
    rb: reqwest::RequestBuilder,
    auth: &(String, String, String),
    address: &str,
    ts: u64,
    method: &str,
    path: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    let sig = l2_signature(&auth.1, &ts.to_string(), method, path, body).unwrap();
    rb.header("POLY_ADDRESS", address)
        .header("POLY_API_KEY", &auth.0)
        .header("POLY_PASSPHRASE", &auth.2)
        .header("POLY_SIGNATURE", sig)
        .header("POLY_TIMESTAMP", ts.to_string())
        .header("content-type", "application/json")
}

fn wall() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_orders_fills_cancels_and_every_venue_refusal_against_the_sandbox_exchange() {
    let (sb, windows) = start().await;
    let cfg = venue_config(&sb);
    let venue = Venue::connect(cfg.clone(), &secrets(KEY0)).await.unwrap();
    let auth = venue.ws_auth();
    // The same key is derived again (create → exists → derive).
    let again = Venue::connect(cfg.clone(), &secrets(KEY0)).await.unwrap();
    assert_eq!(
        again.ws_auth(),
        auth,
        "derive gives the key that create made"
    );
    let start_balance = venue.balance_micros().await.unwrap();
    assert_eq!(start_balance, 1_000_000_000, "1,000 pUSD to start");

    // The user channel, authenticated.
    let (mut user, _) = connect_async(cfg.user_ws_url.clone()).await.unwrap();
    user.send(Message::text(
        json!({"auth": {"apiKey": auth.0, "secret": auth.1, "passphrase": auth.2}, "markets": [], "type": "user"}).to_string(),
    ))
    .await
    .unwrap();

    let (w, token, outcome, book) = open_window(&sb, &windows).await;
    let best_ask = best(&book, "asks").unwrap();
    let best_bid = best(&book, "bids").unwrap();
    eprintln!(
        "window {} token {token} bid {best_bid} ask {best_ask}",
        w.slug
    );

    // A marketable buy of 5 shares at the best ask fills (possibly after the taker delay of the
    // recording's date).
    let buy = venue
        .prepare(&intent(1, &w, outcome, Side::Buy, best_ask, 5), token)
        .await
        .unwrap();
    let buy_hash = buy.hash.clone();
    let r = venue.post(buy).await.unwrap();
    assert_eq!(
        r.order_id, buy_hash,
        "the venue id is the EIP-712 hash we computed"
    );

    // A resting buy far below the book, then cancelled.
    let low = Price::from_micros(10_000).unwrap();
    let rest = venue
        .prepare(&intent(2, &w, outcome, Side::Buy, low, 5), token)
        .await
        .unwrap();
    let rest_hash = rest.hash.clone();
    venue.post(rest).await.unwrap();
    let open = venue.open_orders().await.unwrap();
    assert!(
        open.iter().any(|o| o.id == rest_hash),
        "the resting order is open"
    );
    assert!(venue.cancel(&rest_hash).await.unwrap());
    let open = venue.open_orders().await.unwrap();
    assert!(
        !open.iter().any(|o| o.id == rest_hash),
        "cancelled order still open"
    );

    // The fill arrives on the user channel, in the venue's shape, and our parser reads it.
    let mut statuses = Vec::new();
    let mut placements = 0;
    let t0 = Instant::now();
    while statuses.len() < 3 && t0.elapsed() < Duration::from_secs(15) {
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(5), user.next()).await
        else {
            continue;
        };
        let mut evs = Vec::new();
        polymarket_user::parse(t.as_bytes(), polyedge_core::UnixNanos(0), &mut evs)
            .unwrap_or_else(|e| panic!("our parser refused the sandbox's {t}: {e}"));
        for e in evs {
            match e {
                UserEvent::Trade(tr) if tr.taker_order_id == buy_hash => {
                    assert_eq!(tr.size, Size::from_shares(5));
                    statuses.push(tr.status);
                }
                UserEvent::Order(o) if o.order_id == buy_hash => placements += 1,
                _ => {}
            }
        }
    }
    assert_eq!(
        statuses,
        vec![
            TradeStatus::Matched,
            TradeStatus::Mined,
            TradeStatus::Confirmed
        ],
        "trade lifecycle of the buy"
    );
    assert!(placements >= 1, "order events of the buy");
    // The same trade over REST, read as the executor reconciles it.
    let rest = venue
        .client()
        .trades(
            &polymarket_client_sdk_v2::clob::types::request::TradesRequest::default(),
            None,
        )
        .await
        .unwrap()
        .data;
    assert_eq!(rest.len(), 1);
    let t = polyedge_live::executor::trade_update_of(&rest[0]).unwrap();
    assert_eq!(t.taker_order_id, buy_hash);
    assert_eq!(t.size, Size::from_shares(5));

    // The venue's refusals, each with its reason, none of them changing the account.
    let refused = |r: Result<_, VenueError>, what: &str, needle: &str| match r {
        Err(VenueError::Rejected { status, message }) => {
            assert!(
                message.contains(needle),
                "{what}: expected '{needle}' in HTTP {status} '{message}'"
            );
        }
        other => panic!("{what}: expected a rejection, got {other:?}"),
    };
    // Off tick: the client believes the tick is 0.001; the venue's is 0.01.
    venue.client().set_tick_size(
        polyedge_live::venue::sdk_token(token),
        polymarket_client_sdk_v2::clob::types::TickSize::Thousandth,
    );
    let off = Price::from_micros(low.micros() + 5_000).unwrap();
    let p = venue
        .prepare(&intent(3, &w, outcome, Side::Buy, off, 5), token)
        .await
        .unwrap();
    refused(
        venue.post(p).await,
        "off tick",
        "INVALID_ORDER_MIN_TICK_SIZE",
    );
    venue.client().invalidate_internal_caches();
    // Below the minimum size (5 shares).
    let p = venue
        .prepare(&intent(4, &w, outcome, Side::Buy, low, 1), token)
        .await
        .unwrap();
    refused(
        venue.post(p).await,
        "below minimum size",
        "lower than the minimum",
    );
    // Insufficient balance: 100,000 shares at 0.01 = 1,000 pUSD + what the first buy spent.
    let p = venue
        .prepare(&intent(5, &w, outcome, Side::Buy, low, 100_000), token)
        .await
        .unwrap();
    refused(
        venue.post(p).await,
        "insufficient balance",
        "not enough balance",
    );
    // Selling shares we do not have (the other outcome).
    let other = venue
        .prepare(
            &intent(6, &w, outcome.other(), Side::Sell, best_bid, 5),
            polyedge_core::book_tokens(&w)
                .map(|(u, d)| if outcome == Outcome::Up { d } else { u })
                .unwrap(),
        )
        .await
        .unwrap();
    refused(
        venue.post(other).await,
        "sell without shares",
        "not enough balance",
    );

    // Raw requests: a duplicate, a bad signature, a wrong key, a stale timestamp.
    let http = reqwest::Client::new();
    let url = format!("http://{}/clob/order", sb.addr());
    let p = venue
        .prepare(&intent(7, &w, outcome, Side::Buy, low, 5), token)
        .await
        .unwrap();
    let body = serde_json::to_string(&p.signed).unwrap();
    let send = |body: String, auth: (String, String, String), ts: u64| {
        let rb = l2(
            http.post(&url),
            &auth,
            &venue.address(),
            ts,
            "POST",
            "/clob/order",
            &body,
        );
        async move {
            let r = rb.body(body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s1, t1) = send(body.clone(), auth.clone(), wall()).await;
    assert_eq!(s1, 200, "first submit: {t1}");
    let (s2, t2) = send(body.clone(), auth.clone(), wall()).await;
    assert_eq!(s2, 400, "duplicate: {t2}");
    assert!(t2.contains("INVALID_ORDER_DUPLICATED"), "{t2}");
    // One bit of the signature changed.
    let mut v: Value = serde_json::from_str(&body).unwrap();
    let sig = v["order"]["signature"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        &sig[..10],
        if &sig[10..11] == "0" { "1" } else { "0" }
    ) + &sig[11..];
    v["order"]["signature"] = json!(flipped);
    v["order"]["salt"] = json!(12345);
    let (s3, t3) = send(v.to_string(), auth.clone(), wall()).await;
    assert_eq!(s3, 400, "bad signature: {t3}");
    assert!(t3.contains("invalid signature"), "{t3}");
    // A key the venue never issued.
    let wrong = (
        "00000000-0000-4000-8000-000000000000".to_string(),
        auth.1.clone(),
        auth.2.clone(),
    );
    let (s4, t4) = send(body.clone(), wrong, wall()).await;
    assert_eq!(s4, 401, "wrong key: {t4}");
    // A timestamp an hour old.
    let (s5, t5) = send(body.clone(), auth.clone(), wall() - 3600).await;
    assert_eq!(s5, 401, "stale timestamp: {t5}");
    assert!(t5.contains("timestamp"), "{t5}");
    // The wrong secret (HMAC does not match).
    let bad_secret = (
        auth.0.clone(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string(),
        auth.2.clone(),
    );
    let (s6, t6) = send(body.clone(), bad_secret, wall()).await;
    assert_eq!(s6, 401, "bad HMAC: {t6}");

    // Cancel-all clears the one accepted raw order; the ledger equals the client's view.
    let cancelled = venue.cancel_all().await.unwrap();
    assert_eq!(cancelled, vec![p.hash.clone()]);
    let ledger = sb.ledger();
    let acct = ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["api_key"] == json!(auth.0))
        .unwrap()
        .clone();
    assert_eq!(
        acct["balance_micros"].as_i64().unwrap(),
        venue.balance_micros().await.unwrap()
    );
    assert!(
        acct["balance_micros"].as_i64().unwrap() < start_balance,
        "the buy spent pUSD"
    );
    assert_eq!(acct["open_orders"], json!(0));
    assert_eq!(acct["trades"], json!(1));

    // Cancel-on-disconnect: a second key rests an order, then its client goes away (its
    // heartbeats stop); the exchange cancels the order within its 1 s timeout.
    let other = Venue::connect(cfg.clone(), &secrets(KEY1)).await.unwrap();
    let p = other
        .prepare(&intent(8, &w, outcome, Side::Buy, low, 5), token)
        .await
        .unwrap();
    let hash = p.hash.clone();
    other.post(p).await.unwrap();
    let open_of = |key: &str| {
        sb.ledger()["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["api_key"] == json!(key))
            .map(|a| a["open_orders"].as_u64().unwrap())
    };
    let key1 = other.ws_auth().0;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        open_of(&key1),
        Some(1),
        "heartbeats keep the order alive: {hash}"
    );
    drop(other);
    let t0 = Instant::now();
    while open_of(&key1) != Some(0) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the order outlived its client's heartbeats"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("cancel-on-disconnect after {:?}", t0.elapsed());
    sb.shutdown().await.unwrap();
}

/// Signature types 1–3 through `[live] signature_type` and `POLYMARKET_FUNDER`: the SDK signs
/// for the proxy wallet and the Safe (derived from the key when no funder is given) and for a
/// deposit wallet (POLY_1271, funder required); the sandbox verifies each signature and books
/// the order with the wallet as its maker. Misconfigurations are refused before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_safe_and_deposit_wallet_orders_are_signed_and_accepted_with_their_maker() {
    use polyedge_live::config::WalletKind;
    use polymarket_client_sdk_v2::{derive_proxy_wallet, derive_safe_wallet};
    let (sb, windows) = start().await;
    let deposit_wallet = "0x00000000000000000000000000000000000000d1";
    let with_funder = |key: &str, funder: Option<&str>| {
        let (key, funder) = (key.to_string(), funder.map(str::to_string));
        LiveSecrets::from_lookup(move |k| match k {
            polyedge_live::secrets::PRIVATE_KEY_VAR => Some(key.clone()),
            polyedge_live::secrets::FUNDER_VAR => funder.clone(),
            _ => None,
        })
        .unwrap()
    };
    // Refused before anything is sent: a funder with an EOA, POLY_1271 without one, a bad address.
    for (kind, funder, expect) in [
        (
            WalletKind::Eoa,
            Some(deposit_wallet),
            "signature_type is \"eoa\"",
        ),
        (
            WalletKind::Poly1271,
            None,
            "needs the deposit wallet's address",
        ),
        (WalletKind::GnosisSafe, Some("0x12"), "is not an address"),
    ] {
        let cfg = VenueConfig {
            signature_type: kind,
            ..venue_config(&sb)
        };
        let err = Venue::connect(cfg, &with_funder(KEY1, funder))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{kind:?}: {err}");
        assert!(err.contains("POLYMARKET_FUNDER"), "{err}");
    }

    let (w, token, outcome, book) = open_window(&sb, &windows).await;
    let bid = best(&book, "bids").unwrap();
    // Far below the best bid: it rests.
    let price = Price::from_micros(bid.micros().saturating_sub(200_000).max(10_000)).unwrap();
    let signer = {
        use alloy_signer::Signer as _;
        polyedge_live::signer::FastSigner::from_hex(KEY1)
            .unwrap()
            .address()
    };
    for (n, (kind, funder, maker)) in [
        (
            WalletKind::PolyProxy,
            None,
            derive_proxy_wallet(signer, 137).unwrap(),
        ),
        (
            WalletKind::GnosisSafe,
            None,
            derive_safe_wallet(signer, 137).unwrap(),
        ),
        (
            WalletKind::Poly1271,
            Some(deposit_wallet),
            alloy_primitives::Address::from_str(deposit_wallet).unwrap(),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let cfg = VenueConfig {
            signature_type: kind,
            ..venue_config(&sb)
        };
        let venue = Venue::connect(cfg, &with_funder(KEY1, funder))
            .await
            .unwrap();
        let i = intent(900 + n as u64, &w, outcome, Side::Buy, price, 5);
        let prepared = venue.prepare(&i, token).await.unwrap();
        let hash = prepared.hash.clone();
        venue
            .post(prepared)
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let o = venue.order(&hash).await.unwrap().expect("on the book");
        assert_eq!(o.maker_address, maker, "{kind:?}: the order's maker");
        let raw = l2(
            reqwest::Client::new().get(format!("http://{}/clob/data/order/{hash}", sb.addr())),
            &venue.ws_auth(),
            &venue.address(),
            wall(),
            "GET",
            &format!("/clob/data/order/{hash}"),
            "",
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
        assert_eq!(raw["signature_type"], n + 1, "{kind:?}: {raw}");
        assert!(venue.cancel(&hash).await.unwrap(), "{kind:?}: cancelled");
    }
    sb.shutdown().await.unwrap();
}

/// The key's shares of `outcome` in `slug` on the sandbox's ledger, micro-shares.
fn ledger_shares(ledger: &Value, slug: &str, outcome: Outcome) -> u64 {
    ledger["accounts"][0]["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["window"] == slug && p["outcome"] == json!(outcome))
        .map(|p| Size::parse(p["shares"].as_str().unwrap()).unwrap().micros())
        .sum()
}

/// Buys 5 of the recorded token at its best ask and 5 of the other at the complement of the
/// best bid (the mirrored book: a buy of the other side at 1 − bid meets the bid); waits for
/// both fills on the ledger and returns the key's Up and Down shares (micro-shares).
async fn buy_both_sides(
    sb: &Sandbox,
    venue: &Venue,
    w: &Window,
    token: TokenId,
    outcome: Outcome,
    book: &Value,
) -> (u64, u64) {
    let other = outcome.other();
    let (up, down) = polyedge_core::book_tokens(w).unwrap();
    let other_token = if other == Outcome::Up { up } else { down };
    let ask = best(book, "asks").unwrap();
    let bid = best(book, "bids").unwrap();
    let complement = Price::from_micros(1_000_000 - bid.micros()).unwrap();
    for (id, o, t, p) in [
        (1, outcome, token, ask),
        (2, other, other_token, complement),
    ] {
        let prepared = venue
            .prepare(&intent(id, w, o, Side::Buy, p, 5), t)
            .await
            .unwrap();
        venue.post(prepared).await.unwrap();
    }
    let t0 = Instant::now();
    loop {
        let l = sb.ledger();
        let key = venue.ws_auth().0;
        let mine = l["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["api_key"] == key.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        let one = json!({"accounts": [mine]});
        let (u, d) = (
            ledger_shares(&one, &w.slug, Outcome::Up),
            ledger_shares(&one, &w.slug, Outcome::Down),
        );
        if u > 0 && d > 0 {
            return (u, d);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no fills on both sides: {l}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SDK's CTF client (`polyedge_live::chain`) against the sandbox's chain at `/rpc`: a
/// redeem before the window resolved is told apart (the executor waits and tries again), sets
/// bought on both sides are merged into pUSD on the ledger, and a merge of more than is held is
/// refused at the gas estimate without a transaction mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_ctf_client_merges_sets_and_redeems_only_after_resolution_on_the_sandbox_chain() {
    use polyedge_live::chain::ChainError;
    let (sb, windows) = start().await;
    let venue = Venue::connect(venue_config(&sb), &secrets(KEY0))
        .await
        .unwrap();
    let chain = venue
        .chain()
        .expect("an eoa wallet with an rpc url")
        .clone();
    let (w, token, outcome, book) = open_window(&sb, &windows).await;
    let condition: alloy_primitives::B256 = w.condition_id.unwrap().to_string().parse().unwrap();
    // Tried again and again before resolution, as the executor does: no nonce is used up.
    for _ in 0..3 {
        assert_eq!(chain.redeem(condition).await, Err(ChainError::NotResolved));
    }

    let (held_up, held_down) = buy_both_sides(&sb, &venue, &w, token, outcome, &book).await;
    let sets = held_up.min(held_down);
    let before = sb.ledger()["accounts"][0]["balance_micros"]
        .as_i64()
        .unwrap();
    let balance = venue.balance_micros().await.unwrap();
    assert_eq!(balance, before, "the CLOB's balance is the ledger's");

    // More than held: refused before anything is mined.
    let err = chain.merge(condition, sets + 1).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Refused(t) if t.contains("burn amount exceeds balance")),
        "{err}"
    );
    assert_eq!(sb.ledger()["chain"]["reverted"], 0);
    // Every set held: merged, paid to the ledger, the positions down by as many shares.
    let tx = chain.merge(condition, sets).await.unwrap();
    let l = sb.ledger();
    eprintln!(
        "merged {sets} micro-sets in {tx}; ledger chain {}",
        l["chain"]
    );
    assert_eq!(l["chain"]["merges"], 1);
    assert_eq!(
        l["accounts"][0]["balance_micros"].as_i64().unwrap(),
        before + i64::try_from(sets).unwrap()
    );
    assert_eq!(ledger_shares(&l, &w.slug, Outcome::Up), held_up - sets);
    assert_eq!(ledger_shares(&l, &w.slug, Outcome::Down), held_down - sets);
    assert_eq!(
        venue.balance_micros().await.unwrap(),
        before + i64::try_from(sets).unwrap(),
        "the CLOB sees the merged pUSD"
    );
    sb.shutdown().await.unwrap();
}

/// The executor's side of a merge (`Executor::merge`, what the engine calls for
/// `Action::Merge`): sent on chain and paid on the ledger; a merge the engine booked but the
/// chain refuses halts the executor with the reason, and nothing more is taken after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_executor_merges_on_chain_and_halts_when_a_booked_merge_fails() {
    use polyedge_engine::Executor as _;
    let (sb, windows) = start().await;
    let venue = std::sync::Arc::new(
        Venue::connect(venue_config(&sb), &secrets(KEY1))
            .await
            .unwrap(),
    );
    let (w, token, outcome, book) = open_window(&sb, &windows).await;
    let (held_up, held_down) = buy_both_sides(&sb, &venue, &w, token, outcome, &book).await;
    let sets = held_up.min(held_down) / 2;
    let before = venue.balance_micros().await.unwrap();
    let mut exec =
        polyedge_live::LiveExecutor::new(venue.clone(), tokio::runtime::Handle::current());
    let now = polyedge_core::UnixNanos(sb.now());
    // A window the executor never ordered in has no condition id to name: refused.
    assert!(exec.merge(&w.slug, Size::from_micros(sets), now).is_err());
    exec.know_window(&w);
    exec.merge(&w.slug, Size::from_micros(sets), now).unwrap();
    let t0 = Instant::now();
    while exec
        .stats()
        .merges
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(t0.elapsed() < Duration::from_secs(20), "merge not mined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        venue.balance_micros().await.unwrap(),
        before + i64::try_from(sets).unwrap()
    );
    // Ten times what is held: the engine would book it; the chain refuses; the executor halts.
    exec.merge(&w.slug, Size::from_micros(sets * 10), now)
        .unwrap();
    let t0 = Instant::now();
    let mut out = Vec::new();
    let why = loop {
        exec.poll(now, &mut out);
        if let Some(why) = exec.halted() {
            break why.to_string();
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no halt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("halted: {why}");
    assert!(
        why.contains("failed on chain") && why.contains("burn amount exceeds balance"),
        "{why}"
    );
    assert_eq!(
        exec.stats()
            .merge_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(
        exec.merge(&w.slug, Size::from_micros(1), now).is_err(),
        "halted: no more merges"
    );
    assert_eq!(sb.ledger()["chain"]["merges"], 1);
    assert_eq!(
        venue.balance_micros().await.unwrap(),
        before + i64::try_from(sets).unwrap(),
        "the refused merge moved nothing"
    );
    sb.shutdown().await.unwrap();
}
