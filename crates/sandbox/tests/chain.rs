//! The sandbox's chain (`POST /rpc`): signed transactions decoded and checked as a node does,
//! the CTF's redeem and merge booked on the account of the recovered sender, reverts refused at
//! the gas estimate and mined with status 0 when sent anyway.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy::consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718 as _;
use alloy::network::TxSignerSync as _;
use alloy::primitives::{B256, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy_sol_types::{SolCall as _, sol};
use polyedge_core::{
    Asset, Cash, ConditionId, Fill, Liquidity, OrderId, Outcome, Price, Side, Size, TokenId,
    UnixNanos, Window, WindowDuration,
};
use polyedge_sandbox::exchange::State;
use polyedge_sandbox::exchange::chain::{CONDITIONAL_TOKENS, PUSD};
use serde_json::{Value, json};

sol! {
    interface Ctf {
        function mergePositions(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] partition, uint256 amount) external;
        function redeemPositions(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] indexSets) external;
    }
}

/// Hardhat accounts #0 and #1 (public test keys).
const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const CONDITION: &str = "0xcf30093c782b720f7b2272d758967e4a9cd6168b25b7dce084b0a74281802b8f";
const SLUG: &str = "btc-updown-5m-1776257400";
const START: u64 = 1_776_257_400;
const CHAIN: u64 = 137;

fn window() -> Window {
    let mut w = Window::new(SLUG, Asset::Btc, WindowDuration::M5, START);
    w.condition_id = Some(ConditionId::parse(CONDITION).unwrap());
    w.up_token = Some(TokenId::synthetic(SLUG, "up"));
    w.down_token = Some(TokenId::synthetic(SLUG, "down"));
    w.outcome = Some(Outcome::Up);
    w
}

fn buy(outcome: Outcome, price: &str, shares: u64) -> Fill {
    Fill {
        order: OrderId(1),
        window: SLUG.into(),
        outcome,
        side: Side::Buy,
        price: Price::parse(price).unwrap(),
        size: Size::from_shares(shares),
        fee: Cash::ZERO,
        liquidity: Liquidity::Taker,
        at: UnixNanos::from_secs(START + 10),
    }
}

/// A state with one account (key #0's address) holding 10 Up at 0.40 and 6 Down at 0.50.
fn state() -> (State, String) {
    let mut st = State::new(vec![window()], Cash::parse("100").unwrap());
    let me: PrivateKeySigner = KEY0.parse().unwrap();
    st.add_account(me.address(), 0, "k0".into(), "s".into(), "p".into());
    let a = st.accounts.get_mut("k0").unwrap();
    a.portfolio
        .apply_fill(&buy(Outcome::Up, "0.40", 10))
        .unwrap();
    a.portfolio
        .apply_fill(&buy(Outcome::Down, "0.50", 6))
        .unwrap();
    (st, "k0".into())
}

fn cash(st: &State, key: &str) -> Cash {
    st.accounts[key].portfolio.cash()
}

fn call(st: &mut State, method: &str, params: &Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let now = UnixNanos::from_secs(START + 400);
    let answer = st.rpc(body.to_string().as_bytes(), CHAIN, now);
    assert_eq!(answer["id"], 7, "{answer}");
    answer
}

fn redeem_input(condition: B256) -> Bytes {
    Ctf::redeemPositionsCall {
        collateralToken: PUSD,
        parentCollectionId: B256::ZERO,
        conditionId: condition,
        indexSets: vec![U256::from(1), U256::from(2)],
    }
    .abi_encode()
    .into()
}

fn merge_input(amount_micros: u64) -> Bytes {
    Ctf::mergePositionsCall {
        collateralToken: PUSD,
        parentCollectionId: B256::ZERO,
        conditionId: CONDITION.parse().unwrap(),
        partition: vec![U256::from(1), U256::from(2)],
        amount: U256::from(amount_micros),
    }
    .abi_encode()
    .into()
}

/// `input` to the CTF signed by `key` with `nonce` for `chain_id`, EIP-2718 encoded.
fn signed(key: &str, nonce: u64, chain_id: u64, input: Bytes) -> Vec<u8> {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 30_000_000_000,
        to: TxKind::Call(CONDITIONAL_TOKENS),
        value: U256::ZERO,
        access_list: alloy::eips::eip2930::AccessList::default(),
        input,
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

fn send(st: &mut State, raw: &[u8]) -> Value {
    call(
        st,
        "eth_sendRawTransaction",
        &json!([Bytes::copy_from_slice(raw).to_string()]),
    )
}

fn receipt_status(st: &mut State, answer: &Value) -> String {
    let hash = answer["result"].as_str().expect("a transaction hash");
    let r = call(st, "eth_getTransactionReceipt", &json!([hash]));
    r["result"]["status"].as_str().unwrap().to_string()
}

#[test]
fn a_redeem_before_resolution_reverts_and_after_it_pays_the_winning_shares() {
    let (mut st, k) = state();
    let me: PrivateKeySigner = KEY0.parse().unwrap();
    let before = cash(&st, &k);
    // The gas estimate refuses it with the CTF's message, as a node does.
    let est = call(
        &mut st,
        "eth_estimateGas",
        &json!([{"from": me.address(), "to": CONDITIONAL_TOKENS, "input": redeem_input(CONDITION.parse().unwrap())}]),
    );
    assert_eq!(est["error"]["code"], 3, "{est}");
    assert_eq!(
        est["error"]["message"],
        "execution reverted: result for condition not received yet"
    );
    // Sent anyway: mined, status 0, nothing paid; the nonce is used.
    let a = send(
        &mut st,
        &signed(KEY0, 0, CHAIN, redeem_input(CONDITION.parse().unwrap())),
    );
    assert_eq!(receipt_status(&mut st, &a), "0x0");
    assert_eq!(cash(&st, &k), before);
    assert_eq!(st.chain.reverted, 1);

    // The window ends; the recording says Up: resolved on chain, not redeemed by the exchange.
    st.advance(UnixNanos::from_secs(START + 301));
    assert!(st.is_settled(SLUG));
    assert_eq!(cash(&st, &k), before, "nobody redeemed yet");
    let est = call(
        &mut st,
        "eth_estimateGas",
        &json!([{"from": me.address(), "to": CONDITIONAL_TOKENS, "input": redeem_input(CONDITION.parse().unwrap())}]),
    );
    assert_eq!(est["result"], "0x249f0", "{est}");
    let a = send(
        &mut st,
        &signed(KEY0, 1, CHAIN, redeem_input(CONDITION.parse().unwrap())),
    );
    assert_eq!(receipt_status(&mut st, &a), "0x1");
    // 10 winning Up shares pay 10 pUSD; the 6 Down pay nothing.
    assert_eq!(cash(&st, &k), before + Cash::parse("10").unwrap());
    assert!(st.accounts[&k].portfolio.is_settled(SLUG));
    assert_eq!(st.chain.redeems, 1);
    assert_eq!(st.chain.paid_micros, 10_000_000);
    // Redeeming again pays nothing more.
    let a = send(
        &mut st,
        &signed(KEY0, 2, CHAIN, redeem_input(CONDITION.parse().unwrap())),
    );
    assert_eq!(receipt_status(&mut st, &a), "0x1");
    assert_eq!(cash(&st, &k), before + Cash::parse("10").unwrap());
    // An unknown condition is never resolved.
    let est = call(
        &mut st,
        "eth_estimateGas",
        &json!([{"from": me.address(), "to": CONDITIONAL_TOKENS, "input": redeem_input(B256::repeat_byte(7))}]),
    );
    assert_eq!(est["error"]["code"], 3, "{est}");
}

#[test]
fn a_merge_takes_the_sets_asked_for_and_reverts_beyond_what_is_held_outside_open_sells() {
    let (mut st, k) = state();
    let before = cash(&st, &k);
    let a = send(&mut st, &signed(KEY0, 0, CHAIN, merge_input(2_500_000)));
    assert_eq!(receipt_status(&mut st, &a), "0x1");
    assert_eq!(cash(&st, &k), before + Cash::parse("2.5").unwrap());
    let pf = &st.accounts[&k].portfolio;
    assert_eq!(
        pf.position(SLUG, Outcome::Up).shares,
        Size::parse("7.5").unwrap()
    );
    assert_eq!(
        pf.position(SLUG, Outcome::Down).shares,
        Size::parse("3.5").unwrap()
    );
    // 3.5 sets are left; 2 of the Down shares are held by an open sell: 1.5 can be merged.
    st.accounts
        .get_mut(&k)
        .unwrap()
        .reserved_shares
        .insert((SLUG.into(), Outcome::Down), Size::from_shares(2));
    let a = send(&mut st, &signed(KEY0, 1, CHAIN, merge_input(1_600_000)));
    assert_eq!(receipt_status(&mut st, &a), "0x0", "more than free");
    let me: PrivateKeySigner = KEY0.parse().unwrap();
    let est = call(
        &mut st,
        "eth_estimateGas",
        &json!([{"from": me.address(), "to": CONDITIONAL_TOKENS, "data": merge_input(1_600_000)}]),
    );
    assert_eq!(
        est["error"]["message"],
        "execution reverted: ERC1155: burn amount exceeds balance"
    );
    let a = send(&mut st, &signed(KEY0, 2, CHAIN, merge_input(1_500_000)));
    assert_eq!(receipt_status(&mut st, &a), "0x1");
    assert_eq!(cash(&st, &k), before + Cash::parse("4").unwrap());
    assert_eq!(st.chain.merges, 2);
    assert_eq!(st.chain.reverted, 1);
    // Another wallet holds nothing: its merge reverts, our books do not move.
    let a = send(&mut st, &signed(KEY1, 0, CHAIN, merge_input(1_000_000)));
    assert_eq!(receipt_status(&mut st, &a), "0x0");
    assert_eq!(cash(&st, &k), before + Cash::parse("4").unwrap());
}

#[test]
fn transactions_a_node_would_refuse_are_refused_and_change_nothing() {
    let (mut st, k) = state();
    let before = cash(&st, &k);
    // Wrong chain.
    let a = send(&mut st, &signed(KEY0, 0, 80_002, merge_input(1_000_000)));
    assert_eq!(a["error"]["code"], -32000, "{a}");
    assert!(a["error"]["message"].as_str().unwrap().contains("chain id"));
    // A nonce from the future, then the right one, then the same one again.
    let a = send(&mut st, &signed(KEY0, 5, CHAIN, merge_input(1_000_000)));
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonce too high"),
        "{a}"
    );
    let raw = signed(KEY0, 0, CHAIN, merge_input(1_000_000));
    assert!(send(&mut st, &raw)["result"].is_string());
    let a = send(&mut st, &raw);
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonce too low"),
        "{a}"
    );
    assert_eq!(
        cash(&st, &k),
        before + Cash::parse("1").unwrap(),
        "booked once"
    );
    // Not a transaction.
    let a = send(&mut st, b"\x02\x01\x02");
    assert_eq!(a["error"]["code"], -32602, "{a}");
    // One bit of the signature's `s` flipped: another sender (or none) — never ours.
    let mut raw = signed(KEY0, 1, CHAIN, merge_input(1_000_000));
    let n = raw.len();
    raw[n - 5] ^= 1;
    let a = send(&mut st, &raw);
    if a["result"].is_string() {
        assert_eq!(
            receipt_status(&mut st, &a),
            "0x0",
            "a stranger holds no sets"
        );
    }
    assert_eq!(cash(&st, &k), before + Cash::parse("1").unwrap());
    assert!(st.chain.refused >= 4);
    // Unknown methods and bad JSON get JSON-RPC errors.
    assert_eq!(
        call(&mut st, "eth_mine", &json!([]))["error"]["code"],
        -32601
    );
    let bad = st.rpc(b"{", CHAIN, UnixNanos::from_secs(START));
    assert_eq!(bad["error"]["code"], -32700);
}

#[test]
fn the_reads_a_provider_makes_are_answered_with_alloys_types() {
    let (mut st, _) = state();
    assert_eq!(call(&mut st, "eth_chainId", &json!([]))["result"], "0x89");
    let me: PrivateKeySigner = KEY0.parse().unwrap();
    assert_eq!(
        call(
            &mut st,
            "eth_getTransactionCount",
            &json!([me.address(), "pending"])
        )["result"],
        "0x0"
    );
    let raw = signed(KEY0, 0, CHAIN, merge_input(1_000_000));
    let a = send(&mut st, &raw);
    assert_eq!(
        call(&mut st, "eth_blockNumber", &json!([]))["result"],
        "0x1"
    );
    assert_eq!(
        call(
            &mut st,
            "eth_getTransactionCount",
            &json!([me.address(), "latest"])
        )["result"],
        "0x1"
    );
    let block: alloy::rpc::types::eth::Block = serde_json::from_value(
        call(&mut st, "eth_getBlockByNumber", &json!(["latest", false]))["result"].clone(),
    )
    .unwrap();
    assert_eq!(block.header.number, 1);
    assert_eq!(
        block.transactions.hashes().next().map(|h| h.to_string()),
        a["result"].as_str().map(str::to_string)
    );
    let receipt: alloy::rpc::types::eth::TransactionReceipt = serde_json::from_value(
        call(&mut st, "eth_getTransactionReceipt", &json!([a["result"]]))["result"].clone(),
    )
    .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, me.address());
    assert_eq!(receipt.to, Some(CONDITIONAL_TOKENS));
    let fees: alloy::rpc::types::eth::FeeHistory = serde_json::from_value(
        call(&mut st, "eth_feeHistory", &json!(["0xa", "latest", [20.0]]))["result"].clone(),
    )
    .unwrap();
    assert!(fees.latest_block_base_fee().is_some());
    assert_eq!(
        call(&mut st, "eth_getTransactionReceipt", &json!([B256::ZERO]))["result"],
        Value::Null
    );
}
