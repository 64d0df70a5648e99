//! The CLOB REST routes under `/clob` (`docs/protocols.md` §2–§3; `docs/sandbox.md` §9): public
//! market data the SDK's order builder reads (`/time`, `/version`, `/tick-size`, `/neg-risk`,
//! `/fee-rate`, `/book`), L1 key creation and derivation, and the L2 trading and account routes.
//! Every L2 request is checked in this order, each failure answered as the venue does (401
//! `{"error": …}`): known API key, passphrase, `POLY_ADDRESS` of the key's wallet, timestamp
//! within the allowed skew of the wall clock, HMAC of `timestamp + method + path + body`.

use std::str::FromStr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, U256};
use hyper::HeaderMap;
use polyedge_core::{Side, TokenId, UnixNanos};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Exchange;
use super::sig::{self, ExchangeKind, OrderV2};
use super::state::{OrderRec, State, trade_json};

/// An answer: HTTP status and JSON body.
pub type Answer = (u16, Value);

fn err(status: u16, msg: impl Into<String>) -> Answer {
    (status, json!({ "error": msg.into() }))
}

fn wall_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    })
}

/// One request to the CLOB routes.
#[derive(Debug)]
pub struct ClobRequest<'a> {
    /// HTTP method (`GET`, `POST`, `DELETE`).
    pub method: &'a str,
    /// Path after `/clob` (`/order`).
    pub path: &'a str,
    /// The path as received (`/clob/order`): what the client signed.
    pub full_path: &'a str,
    /// Query string.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// Body bytes.
    pub body: &'a [u8],
    /// Sandbox clock.
    pub now: UnixNanos,
}

/// Answers one request to `/clob{path}`.
pub fn answer(ex: &Exchange, req: &ClobRequest<'_>) -> Answer {
    let ClobRequest {
        method,
        path,
        full_path,
        query,
        headers,
        body,
        now,
    } = *req;
    let body_text = String::from_utf8_lossy(body);
    match (method, path) {
        ("GET", "/" | "") => (200, json!("OK")),
        ("GET", "/time") => (200, json!(wall_secs())),
        ("GET", "/version") => (200, json!({ "version": 2 })),
        ("GET", "/tick-size") => with_token(ex, query, |st, token| {
            let (w, o) = st.window_of(&token)?;
            let tick = st
                .book(&w.slug)
                .and_then(|b| b.book(o).tick_size())
                .or(w.tick_size)
                .unwrap_or(polyedge_engine::SimConfig::default().default_tick);
            Some(json!({ "minimum_tick_size": tick.to_f64() }))
        }),
        ("GET", "/neg-risk") => with_token(ex, query, |st, token| {
            st.window_of(&token).map(|_| json!({ "neg_risk": false }))
        }),
        ("GET", "/fee-rate") => with_token(ex, query, |st, token| {
            // V2 fees are set at match time (protocols.md §5); the signed order carries none.
            st.window_of(&token).map(|_| json!({ "base_fee": 0 }))
        }),
        ("GET", "/book") => with_token(ex, query, book_json),
        ("POST", "/auth/api-key") => l1(ex, headers, true),
        ("GET", "/auth/derive-api-key") => l1(ex, headers, false),
        _ => {
            let key = match l2(ex, method, full_path, headers, &body_text) {
                Ok(k) => k,
                Err(a) => return a,
            };
            l2_route(ex, &key, method, path, query, &body_text, now)
        }
    }
}

fn with_token(
    ex: &Exchange,
    query: Option<&str>,
    f: impl FnOnce(&State, TokenId) -> Option<Value>,
) -> Answer {
    let Some(t) = query_param(query, "token_id").or_else(|| query_param(query, "asset_id")) else {
        return err(400, "missing token_id");
    };
    let Ok(token) = TokenId::parse(&t) else {
        return err(400, format!("invalid token_id {t}"));
    };
    let st = ex.lock();
    match f(&st, token) {
        Some(v) => (200, v),
        None => err(404, format!("market not found for token id {t}")),
    }
}

fn book_json(st: &State, token: TokenId) -> Option<Value> {
    let (w, o) = st.window_of(&token)?;
    let book = st.book(&w.slug)?;
    let side = |s: polyedge_core::BookSide| -> Vec<Value> {
        book.book(o)
            .levels(s)
            .map(|l| json!({"price": l.price.to_string(), "size": l.size.to_string()}))
            .collect()
    };
    let mut bids = side(polyedge_core::BookSide::Bid);
    bids.reverse();
    let mut asks = side(polyedge_core::BookSide::Ask);
    asks.reverse();
    Some(json!({
        "market": w.condition_id.as_ref().map_or_else(|| format!("0x{:064x}", 0), ToString::to_string),
        "asset_id": token.to_string(),
        "timestamp": (book.last_update().map_or(0, |t| t.0) / 1_000_000).to_string(),
        "hash": "sandbox",
        "bids": bids,
        "asks": asks,
        "min_order_size": w.min_order_size.map_or_else(|| "5".into(), |s| s.to_string()),
        "tick_size": w.tick_size.map_or_else(|| "0.01".into(), |t| t.to_string()),
        "neg_risk": false,
    }))
}

/// Deterministic credentials for `(address, nonce)`: the same key every time it is derived
/// (the venue's key is random but fixed once created; the sandbox has no other state to keep).
fn credentials_for(ex: &Exchange, address: Address, nonce: u64) -> (String, String, String) {
    let mut h = Sha256::new();
    h.update(ex.key_salt.as_bytes());
    h.update(address.as_slice());
    h.update(nonce.to_be_bytes());
    let d = h.finalize();
    let key = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
        u16::from_be_bytes([d[4], d[5]]),
        u16::from_be_bytes([d[6], d[7]]) & 0x0fff,
        u16::from_be_bytes([d[8], d[9]]) & 0x0fff,
        u64::from_be_bytes([0, 0, d[10], d[11], d[12], d[13], d[14], d[15]])
    );
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::URL_SAFE.encode(&d[16..32]);
    let passphrase = format!("{:x}", Sha256::digest(&d[..]));
    (key, secret, passphrase[..32].to_string())
}

fn l1(ex: &Exchange, headers: &HeaderMap, create: bool) -> Answer {
    let (Some(addr), Some(signature), Some(ts)) = (
        header(headers, "POLY_ADDRESS"),
        header(headers, "POLY_SIGNATURE"),
        header(headers, "POLY_TIMESTAMP"),
    ) else {
        return err(401, "Unauthorized/Invalid api key: missing L1 headers");
    };
    let nonce = header(headers, "POLY_NONCE").unwrap_or("0");
    let Ok(nonce) = nonce.parse::<u64>() else {
        return err(400, format!("invalid nonce {nonce}"));
    };
    let Ok(address) = Address::from_str(addr) else {
        return err(400, format!("invalid address {addr}"));
    };
    if let Err(a) = fresh(ex, ts) {
        return a;
    }
    if let Err(e) = sig::verify_l1(address, ts, nonce, ex.chain_id, signature) {
        return err(401, format!("Invalid L1 Request headers: {e}"));
    }
    let mut st = ex.lock();
    let existing = st.keys.get(&(address, nonce)).cloned();
    let (key, secret, pass) = match (existing, create) {
        (Some(k), _) => {
            let a = &st.accounts[&k];
            (k.clone(), a.secret.clone(), a.passphrase.clone())
        }
        (None, false) => return err(400, "Could not derive api key!"),
        (None, true) => {
            let (k, s, p) = credentials_for(ex, address, nonce);
            st.add_account(address, nonce, k.clone(), s.clone(), p.clone());
            tracing::info!(api_key = %k, %address, "sandbox exchange: API key created");
            (k, s, p)
        }
    };
    (
        200,
        json!({ "apiKey": key, "secret": secret, "passphrase": pass }),
    )
}

fn fresh(ex: &Exchange, ts: &str) -> Result<(), Answer> {
    let Ok(t) = ts.parse::<u64>() else {
        return Err(err(
            401,
            format!("Unauthorized/Invalid api key: bad timestamp {ts}"),
        ));
    };
    let now = wall_secs();
    if now.abs_diff(t) > ex.max_skew_s {
        return Err(err(
            401,
            format!(
                "Unauthorized/Invalid api key: timestamp {t} is {} s from the server's {now} (allowed {} s)",
                now.abs_diff(t),
                ex.max_skew_s
            ),
        ));
    }
    Ok(())
}

fn l2(
    ex: &Exchange,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<String, Answer> {
    let (Some(key), Some(pass), Some(addr), Some(signature), Some(ts)) = (
        header(headers, "POLY_API_KEY"),
        header(headers, "POLY_PASSPHRASE"),
        header(headers, "POLY_ADDRESS"),
        header(headers, "POLY_SIGNATURE"),
        header(headers, "POLY_TIMESTAMP"),
    ) else {
        return Err(err(401, "Unauthorized/Invalid api key"));
    };
    let st = ex.lock();
    let Some(acct) = st.accounts.get(key) else {
        return Err(err(401, "Unauthorized/Invalid api key"));
    };
    if acct.passphrase != pass {
        return Err(err(401, "Unauthorized/Invalid api key: wrong passphrase"));
    }
    if Address::from_str(addr).ok() != Some(acct.address) {
        return Err(err(
            401,
            "Unauthorized/Invalid api key: address is not the key's",
        ));
    }
    fresh(ex, ts)?;
    if sig::verify_l2(&acct.secret, ts, method, path, body, signature).is_err() {
        return Err(err(
            401,
            "Unauthorized/Invalid api key: invalid L2 signature",
        ));
    }
    Ok(key.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    salt: Value,
    maker: String,
    signer: String,
    token_id: String,
    maker_amount: String,
    taker_amount: String,
    side: String,
    #[serde(default)]
    expiration: Option<String>,
    signature_type: u8,
    timestamp: String,
    metadata: String,
    builder: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostOrder {
    order: WireOrder,
    owner: String,
    #[serde(default)]
    order_type: Option<String>,
    #[serde(default)]
    post_only: Option<bool>,
}

fn u256(v: &str, field: &str) -> Result<U256, String> {
    U256::from_str(v).map_err(|_| format!("invalid {field}: {v}"))
}

fn place_one(
    ex: &Exchange,
    key: &str,
    p: &PostOrder,
    now: UnixNanos,
) -> Result<Value, (u16, String)> {
    let bad = |m: String| (400u16, m);
    if p.owner != key {
        return Err((401, "the order's owner is not the API key".into()));
    }
    let o = &p.order;
    let salt = match &o.salt {
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| bad("invalid salt".into()))?,
        Value::String(s) => u256(s, "salt").map_err(bad)?,
        _ => return Err(bad("invalid salt".into())),
    };
    let side_n: u8 = match o.side.as_str() {
        "BUY" | "buy" => 0,
        "SELL" | "sell" => 1,
        s => return Err(bad(format!("invalid side {s}"))),
    };
    let order = OrderV2 {
        salt,
        maker: Address::from_str(&o.maker)
            .map_err(|_| bad(format!("invalid maker {}", o.maker)))?,
        signer: Address::from_str(&o.signer)
            .map_err(|_| bad(format!("invalid signer {}", o.signer)))?,
        tokenId: u256(&o.token_id, "tokenId").map_err(bad)?,
        makerAmount: u256(&o.maker_amount, "makerAmount").map_err(bad)?,
        takerAmount: u256(&o.taker_amount, "takerAmount").map_err(bad)?,
        side: side_n,
        signatureType: o.signature_type,
        timestamp: u256(&o.timestamp, "timestamp").map_err(bad)?,
        metadata: B256::from_str(&o.metadata).map_err(|_| bad("invalid metadata".into()))?,
        builder: B256::from_str(&o.builder).map_err(|_| bad("invalid builder".into()))?,
    };
    let order_type: &'static str = match p.order_type.as_deref().unwrap_or("GTC") {
        "GTC" | "gtc" => "GTC",
        "GTD" | "gtd" => "GTD",
        "FOK" | "fok" => "FOK",
        "FAK" | "fak" => "FAK",
        t => return Err(bad(format!("invalid order type {t}"))),
    };
    let post_only = p.post_only.unwrap_or(false);
    if post_only && matches!(order_type, "FOK" | "FAK") {
        return Err(bad(
            "post only orders are only allowed with GTC and GTD".into()
        ));
    }
    let token =
        TokenId::parse(&o.token_id).map_err(|_| bad(format!("invalid tokenId {}", o.token_id)))?;
    let owner_addr = {
        let st = ex.lock();
        st.accounts.get(key).map(|a| a.address)
    }
    .ok_or((401u16, "Unauthorized/Invalid api key".to_string()))?;
    if o.signature_type < 3 && order.signer != owner_addr {
        return Err(bad(format!(
            "invalid signature: signer {} is not the API key's address {}",
            order.signer, owner_addr
        )));
    }
    if o.signature_type == 0 && order.maker != order.signer {
        return Err(bad(
            "invalid order: an EOA order's maker must be its signer".into(),
        ));
    }
    if o.signature_type > 3 {
        return Err(bad(format!("invalid signature type {}", o.signature_type)));
    }
    let hash = sig::verify_order(
        &order,
        ExchangeKind::V2,
        ex.chain_id,
        &o.signature,
        owner_addr,
    )
    .map_err(|e| bad(format!("invalid signature: {e}")))?;
    let expiration = o
        .expiration
        .as_deref()
        .unwrap_or("0")
        .parse::<u64>()
        .map_err(|_| bad("invalid expiration".into()))?;
    let side = if side_n == 0 { Side::Buy } else { Side::Sell };
    let maker_amount =
        u128::try_from(order.makerAmount).map_err(|_| bad("makerAmount too large".into()))?;
    let taker_amount =
        u128::try_from(order.takerAmount).map_err(|_| bad("takerAmount too large".into()))?;
    let mut st = ex.lock();
    let placed = st
        .place(
            key,
            format!("{hash}"),
            token,
            side,
            maker_amount,
            taker_amount,
            order_type,
            expiration,
            post_only,
            now,
        )
        .map_err(|e| (400u16, format!("{}: {}", e.code(), e.message())))?;
    if let Some(r) = st
        .accounts
        .get_mut(key)
        .and_then(|a| a.orders.get_mut(&placed.hash))
    {
        r.maker = Some(order.maker);
        r.signature_type = o.signature_type;
    }
    let out = std::mem::take(&mut st.outbox);
    drop(st);
    ex.publish(out);
    Ok(json!({
        "success": true,
        "errorMsg": "",
        "orderID": placed.hash,
        "status": placed.status,
        "makingAmount": placed.making,
        "takingAmount": placed.taking,
        "transactionsHashes": [],
        "tradeIDs": placed.trades,
    }))
}

fn order_json(acct_key: &str, address: Address, r: &OrderRec) -> Value {
    json!({
        "id": r.hash,
        "status": r.status,
        "owner": acct_key,
        "maker_address": r.maker.unwrap_or(address).to_checksum(None),
        "signature_type": r.signature_type,
        "market": if r.market.is_empty() { format!("0x{:064x}", 0) } else { r.market.clone() },
        "asset_id": r.token.to_string(),
        "side": r.intent.side.name().to_ascii_uppercase(),
        "original_size": r.intent.size.to_string(),
        "size_matched": r.matched.to_string(),
        "price": r.intent.price.to_string(),
        "associate_trades": r.trades,
        "outcome": r.intent.outcome.to_string(),
        "created_at": r.created_s,
        "expiration": r.expiration_s.to_string(),
        "order_type": r.order_type,
    })
}

fn cancel_many(ex: &Exchange, key: &str, hashes: &[String], now: UnixNanos) -> Answer {
    let mut st = ex.lock();
    let mut canceled = Vec::new();
    let mut not = serde_json::Map::new();
    for h in hashes {
        match st.cancel(key, h, now) {
            Ok(()) => canceled.push(h.clone()),
            Err(why) => {
                not.insert(h.clone(), json!(why));
            }
        }
    }
    let out = std::mem::take(&mut st.outbox);
    drop(st);
    ex.publish(out);
    (200, json!({ "canceled": canceled, "not_canceled": not }))
}

fn l2_route(
    ex: &Exchange,
    key: &str,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &str,
    now: UnixNanos,
) -> Answer {
    match (method, path) {
        ("POST", "/order") => {
            let p: PostOrder = match serde_json::from_str(body) {
                Ok(p) => p,
                Err(e) => return err(400, format!("invalid order payload: {e}")),
            };
            ex.lock().single_orders += 1;
            match place_one(ex, key, &p, now) {
                Ok(v) => (200, v),
                Err((s, m)) => err(s, m),
            }
        }
        ("POST", "/orders") => {
            let list: Vec<PostOrder> = match serde_json::from_str(body) {
                Ok(p) => p,
                Err(e) => return err(400, format!("invalid orders payload: {e}")),
            };
            if list.len() > 15 {
                return err(
                    400,
                    format!("too many orders in a batch: {} (max 15)", list.len()),
                );
            }
            {
                let mut st = ex.lock();
                st.batches += 1;
                st.batched_orders += list.len() as u64;
            }
            let answers: Vec<Value> = list
                .into_iter()
                .map(|p| match place_one(ex, key, &p, now) {
                    Ok(v) => v,
                    Err((_, m)) => json!({"success": false, "errorMsg": m, "orderID": "", "status": "unmatched", "makingAmount": "", "takingAmount": ""}),
                })
                .collect();
            (200, Value::Array(answers))
        }
        ("DELETE", "/order") => {
            #[derive(Deserialize)]
            struct C {
                #[serde(rename = "orderID")]
                order_id: String,
            }
            match serde_json::from_str::<C>(body) {
                Ok(c) => cancel_many(ex, key, &[c.order_id], now),
                Err(e) => err(400, format!("invalid cancel payload: {e}")),
            }
        }
        ("DELETE", "/orders") => match serde_json::from_str::<Vec<String>>(body) {
            Ok(ids) => cancel_many(ex, key, &ids, now),
            Err(e) => err(400, format!("invalid cancel payload: {e}")),
        },
        ("DELETE", "/cancel-all") => {
            let ids = ex.lock().open_hashes(key, None, None);
            cancel_many(ex, key, &ids, now)
        }
        ("DELETE", "/cancel-market-orders") => {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let market = v.get("market").and_then(Value::as_str);
            let asset = v.get("asset_id").and_then(Value::as_str);
            let ids = ex.lock().open_hashes(key, market, asset);
            cancel_many(ex, key, &ids, now)
        }
        ("GET", "/data/orders") => {
            let st = ex.lock();
            let Some(a) = st.accounts.get(key) else {
                return err(401, "Unauthorized/Invalid api key");
            };
            let id = query_param(query, "id");
            let market = query_param(query, "market");
            let asset = query_param(query, "asset_id");
            let data: Vec<Value> = a
                .orders
                .values()
                .filter(|r| r.open)
                .filter(|r| id.as_ref().is_none_or(|i| &r.hash == i))
                .filter(|r| {
                    market
                        .as_ref()
                        .is_none_or(|m| r.market.eq_ignore_ascii_case(m))
                })
                .filter(|r| asset.as_ref().is_none_or(|t| &r.token.to_string() == t))
                .map(|r| order_json(key, a.address, r))
                .collect();
            (
                200,
                json!({"limit": data.len(), "count": data.len(), "next_cursor": "LTE=", "data": data}),
            )
        }
        ("GET", p) if p.starts_with("/data/order/") => {
            let id = &p["/data/order/".len()..];
            let st = ex.lock();
            let a = &st.accounts[key];
            match a.orders.get(id) {
                Some(r) => (200, order_json(key, a.address, r)),
                None => err(404, format!("order {id} not found")),
            }
        }
        ("GET", "/data/trades") => {
            let st = ex.lock();
            let a = &st.accounts[key];
            let market = query_param(query, "market");
            let data: Vec<Value> = a
                .trades
                .iter()
                .filter(|t| {
                    market
                        .as_ref()
                        .is_none_or(|m| t.market.eq_ignore_ascii_case(m))
                })
                .map(|t| trade_json(key, a.address, t, "CONFIRMED", now))
                .collect();
            (
                200,
                json!({"limit": data.len(), "count": data.len(), "next_cursor": "LTE=", "data": data}),
            )
        }
        ("GET", "/balance-allowance") => {
            let st = ex.lock();
            let a = &st.accounts[key];
            let asset = query_param(query, "asset_type").unwrap_or_else(|| "COLLATERAL".into());
            let balance = if asset.eq_ignore_ascii_case("COLLATERAL") {
                a.portfolio.cash().micros()
            } else {
                let Some(token) =
                    query_param(query, "token_id").and_then(|t| TokenId::parse(&t).ok())
                else {
                    return err(400, "token_id is required for CONDITIONAL");
                };
                st.window_of(&token).map_or(0, |(w, o)| {
                    i64::try_from(a.portfolio.position(&w.slug, o).shares.micros())
                        .unwrap_or(i64::MAX)
                })
            };
            (
                200,
                json!({"balance": balance.to_string(), "allowances": {
                    format!("{:?}", sig::EXCHANGE_V2): "115792089237316195423570985008687907853269984665640564039457584007913129639935"
                }}),
            )
        }
        ("GET", "/balance-allowance/update") => (200, json!({})),
        ("POST", "/v1/heartbeats" | "/heartbeats") => {
            // The venue answers a UUID (the SDK parses one).
            let id = format!("00000000-0000-4000-8000-{:012x}", wall_secs());
            let mut st = ex.lock();
            if let Some(a) = st.accounts.get_mut(key) {
                a.heartbeat = Some((id.clone(), Instant::now() + ex.heartbeat_timeout));
            }
            (200, json!({ "heartbeat_id": id }))
        }
        ("GET", "/auth/api-keys") => (200, json!({ "apiKeys": [key] })),
        ("GET", "/auth/ban-status/closed-only") => (200, json!({ "closed_only": false })),
        _ => err(404, format!("no such CLOB route: {method} {path}")),
    }
}
