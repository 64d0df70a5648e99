//! The sandbox's Polygon: a JSON-RPC node at `POST /rpc` with one contract, the Conditional
//! Tokens (CTF, `0x4D97…6045`), as far as a client redeeming and merging Up/Down positions needs
//! it (`docs/protocols.md` §9; `docs/sandbox.md` §9).
//!
//! * **Transactions** (`eth_sendRawTransaction`) are decoded as EIP-2718 envelopes, their sender
//!   recovered from the signature, their chain id and nonce checked, and executed at once in a
//!   block of their own: `redeemPositions(pUSD, 0, conditionId, [1, 2])` pays each winning share
//!   1 pUSD to every API key of the sender once the condition is resolved (the window ended and
//!   the recording knows its outcome) — before that it reverts with the CTF's own message,
//!   `result for condition not received yet`; `mergePositions(pUSD, 0, conditionId, [1, 2],
//!   amount)` turns `amount` micro-shares of each outcome into as many micro-pUSD, or reverts
//!   with `ERC1155: burn amount exceeds balance` when the key holds fewer sets outside its open
//!   sell orders.
//! * **Dry runs** (`eth_estimateGas`) execute the same code without booking, so a call that
//!   would revert is refused before it is sent (error code 3, `execution reverted: …`), as a
//!   node does.
//! * **Reads** a client's provider makes: `eth_chainId`, `net_version`, `eth_blockNumber`,
//!   `eth_getBlockByNumber`, `eth_getTransactionCount`, `eth_gasPrice`,
//!   `eth_maxPriorityFeePerGas`, `eth_feeHistory`, `eth_getBalance`, `eth_getTransactionReceipt`;
//!   blocks and receipts are alloy's own RPC types, serialized as a node writes them.
//!
//! Not modelled: gas is not charged (POL is not pUSD; `eth_getBalance` answers 1,000 POL), no
//! logs are emitted, only the binary partition `[1, 2]` is accepted, and only the CTF's
//! collateral pUSD holds positions (any other collateral or parent collection holds nothing: a
//! redeem of it pays 0, a merge reverts). An address with several API keys redeems for all of
//! them and merges from the first key (by key) that holds the sets.

use std::collections::HashMap;

use alloy::consensus::transaction::SignerRecoverable as _;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718 as _;
use alloy::primitives::{Address, B256, Bloom, Bytes, U256, address, keccak256};
use alloy::rpc::types::eth::{
    Block, BlockTransactions, FeeHistory, Header, Log, TransactionReceipt,
};
use alloy_sol_types::{SolCall as _, SolValue as _, sol};
use polyedge_core::{Outcome, Size, UnixNanos};
use serde_json::{Value, json};

use super::state::State;

sol! {
    /// The two CTF functions the sandbox executes (Gnosis `ConditionalTokens.sol`).
    interface IConditionalTokens {
        function mergePositions(
            address collateralToken,
            bytes32 parentCollectionId,
            bytes32 conditionId,
            uint256[] partition,
            uint256 amount
        ) external;
        function redeemPositions(
            address collateralToken,
            bytes32 parentCollectionId,
            bytes32 conditionId,
            uint256[] indexSets
        ) external;
    }
}

/// The Conditional Tokens contract on Polygon (protocols.md §9).
pub const CONDITIONAL_TOKENS: Address = address!("4D97DCd97eC945f40cF65F87097ACe5EA0476045");
/// pUSD, the CTF collateral of CLOB V2 markets (protocols.md §9).
pub const PUSD: Address = address!("C011a7E12a19f7B1f670d46F03B03f3342E82DFB");
/// Gas every executed transaction uses (a constant; gas is not charged).
const GAS_USED: u64 = 150_000;
/// Base fee of every block, wei (30 gwei).
const BASE_FEE: u128 = 30_000_000_000;
/// The priority fee suggested, wei (30 gwei).
const TIP: u128 = 30_000_000_000;

/// One block: its hash, time (s since epoch) and transactions.
#[derive(Debug, Clone)]
struct BlockRec {
    hash: B256,
    timestamp: u64,
    txs: Vec<B256>,
}

/// The chain: blocks, nonces, receipts and what was executed.
#[derive(Debug)]
pub struct Chain {
    blocks: Vec<BlockRec>,
    nonces: HashMap<Address, u64>,
    receipts: HashMap<B256, TransactionReceipt>,
    /// Redeems executed (successful `redeemPositions`).
    pub redeems: u64,
    /// Merges executed (successful `mergePositions`).
    pub merges: u64,
    /// Transactions mined with status 0 (reverted).
    pub reverted: u64,
    /// Raw transactions refused before mining (undecodable, bad signature, wrong chain id or
    /// nonce).
    pub refused: u64,
    /// pUSD paid out by redeems and merges, micro-pUSD.
    pub paid_micros: i64,
}

impl Default for Chain {
    fn default() -> Self {
        Chain {
            blocks: vec![BlockRec {
                hash: keccak256(b"polyedge sandbox genesis"),
                timestamp: 0,
                txs: Vec::new(),
            }],
            nonces: HashMap::new(),
            receipts: HashMap::new(),
            redeems: 0,
            merges: 0,
            reverted: 0,
            refused: 0,
            paid_micros: 0,
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// Code (-32601 unknown method, -32602 bad params, -32000 refused transaction, 3 revert).
    pub code: i64,
    /// Message.
    pub message: String,
    /// Revert data (`Error(string)` ABI-encoded), for code 3.
    pub data: Option<String>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn revert(reason: &str) -> Self {
        // `Error(string)`: selector 0x08c379a0, then the ABI-encoded reason.
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend((reason.to_string(),).abi_encode_params());
        RpcError {
            code: 3,
            message: format!("execution reverted: {reason}"),
            data: Some(Bytes::from(data).to_string()),
        }
    }
}

/// What a CTF call does to the books.
enum Effect {
    /// Redeem `slug` (settle with `outcome`) for these API keys.
    Redeem {
        slug: String,
        outcome: Option<Outcome>,
        keys: Vec<String>,
    },
    /// Merge `sets` in `slug` for this API key.
    Merge {
        slug: String,
        key: String,
        sets: Size,
    },
    /// Nothing held under the call's ids: succeeds, changes nothing.
    Nothing,
}

fn quantity(v: u128) -> Value {
    json!(format!("{v:#x}"))
}

fn param<'a>(params: &'a Value, i: usize, what: &str) -> Result<&'a Value, RpcError> {
    params
        .get(i)
        .ok_or_else(|| RpcError::new(-32602, format!("missing parameter {i} ({what})")))
}

fn parse_address(v: &Value, what: &str) -> Result<Address, RpcError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RpcError::new(-32602, format!("{what}: not an address: {v}")))
}

fn parse_u64(v: &Value, what: &str) -> Result<u64, RpcError> {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .or_else(|| v.as_u64())
        .ok_or_else(|| RpcError::new(-32602, format!("{what}: not a quantity: {v}")))
}

/// `[1, 2]` in either order.
fn is_binary_partition(p: &[U256]) -> bool {
    let mut v: Vec<U256> = p.to_vec();
    v.sort_unstable();
    v == [U256::from(1), U256::from(2)]
}

impl Chain {
    fn latest(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    fn block_json(&self, number: u64) -> Value {
        let Some(b) = usize::try_from(number)
            .ok()
            .and_then(|i| self.blocks.get(i))
        else {
            return Value::Null;
        };
        let parent = number
            .checked_sub(1)
            .and_then(|p| self.blocks.get(usize::try_from(p).ok()?))
            .map_or(B256::ZERO, |p| p.hash);
        let inner = alloy::consensus::Header {
            parent_hash: parent,
            number,
            timestamp: b.timestamp,
            gas_limit: 30_000_000,
            gas_used: GAS_USED * b.txs.len() as u64,
            base_fee_per_gas: Some(u64::try_from(BASE_FEE).unwrap_or(u64::MAX)),
            ..Default::default()
        };
        let block: Block = Block {
            header: Header {
                hash: b.hash,
                inner,
                total_difficulty: None,
                size: None,
            },
            uncles: Vec::new(),
            transactions: BlockTransactions::Hashes(b.txs.clone()),
            withdrawals: None,
        };
        serde_json::to_value(block).unwrap_or(Value::Null)
    }

    fn fee_history(&self, count: u64, percentiles: usize) -> FeeHistory {
        let count = count.clamp(1, 1024).min(self.latest() + 1);
        let base = u128::from(count) + 1;
        FeeHistory {
            base_fee_per_gas: (0..base).map(|_| BASE_FEE).collect(),
            gas_used_ratio: (0..count).map(|_| 0.5).collect(),
            base_fee_per_blob_gas: Vec::new(),
            blob_gas_used_ratio: Vec::new(),
            oldest_block: self.latest() + 1 - count,
            reward: Some((0..count).map(|_| vec![TIP; percentiles]).collect()),
        }
    }

    /// Mines one block at `now` holding `tx`, with its receipt.
    fn mine(&mut self, tx: &TxEnvelope, from: Address, ok: bool, now: UnixNanos) -> B256 {
        let hash = *tx.tx_hash();
        let number = self.latest() + 1;
        let mut seed = Vec::with_capacity(72);
        seed.extend_from_slice(&number.to_be_bytes());
        seed.extend_from_slice(self.blocks[self.blocks.len() - 1].hash.as_slice());
        seed.extend_from_slice(hash.as_slice());
        let block_hash = keccak256(&seed);
        self.blocks.push(BlockRec {
            hash: block_hash,
            timestamp: now.0 / 1_000_000_000,
            txs: vec![hash],
        });
        let receipt = alloy::consensus::Receipt::<Log> {
            status: alloy::consensus::Eip658Value::Eip658(ok),
            cumulative_gas_used: GAS_USED,
            logs: Vec::new(),
        };
        let with_bloom = alloy::consensus::ReceiptWithBloom {
            receipt,
            logs_bloom: Bloom::ZERO,
        };
        let inner = match tx {
            TxEnvelope::Legacy(_) => alloy::consensus::ReceiptEnvelope::Legacy(with_bloom),
            TxEnvelope::Eip2930(_) => alloy::consensus::ReceiptEnvelope::Eip2930(with_bloom),
            TxEnvelope::Eip4844(_) => alloy::consensus::ReceiptEnvelope::Eip4844(with_bloom),
            TxEnvelope::Eip7702(_) => alloy::consensus::ReceiptEnvelope::Eip7702(with_bloom),
            TxEnvelope::Eip1559(_) => alloy::consensus::ReceiptEnvelope::Eip1559(with_bloom),
        };
        self.receipts.insert(
            hash,
            TransactionReceipt {
                inner,
                transaction_hash: hash,
                transaction_index: Some(0),
                block_hash: Some(block_hash),
                block_number: Some(number),
                gas_used: GAS_USED,
                effective_gas_price: tx
                    .effective_gas_price(Some(u64::try_from(BASE_FEE).unwrap_or(u64::MAX))),
                blob_gas_used: None,
                blob_gas_price: None,
                from,
                to: tx.to(),
                contract_address: None,
            },
        );
        hash
    }
}

impl State {
    /// Answers one JSON-RPC request body (a request or a batch) on `chain_id` at `now` (sandbox
    /// clock); malformed JSON gets the JSON-RPC parse error.
    pub fn rpc(&mut self, body: &[u8], chain_id: u64, now: UnixNanos) -> Value {
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32700, "message": "parse error: the body is not JSON"}});
        };
        match req {
            Value::Array(reqs) => Value::Array(
                reqs.iter()
                    .map(|r| self.rpc_one(r, chain_id, now))
                    .collect(),
            ),
            r => self.rpc_one(&r, chain_id, now),
        }
    }

    fn rpc_one(&mut self, req: &Value, chain_id: u64, now: UnixNanos) -> Value {
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let method = req.get("method").and_then(Value::as_str).unwrap_or("");
        let params = req.get("params").cloned().unwrap_or_else(|| json!([]));
        match self.rpc_call(method, &params, chain_id, now) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(e) => {
                let mut err = json!({"code": e.code, "message": e.message});
                if let Some(d) = e.data {
                    err["data"] = json!(d);
                }
                json!({"jsonrpc": "2.0", "id": id, "error": err})
            }
        }
    }

    fn rpc_call(
        &mut self,
        method: &str,
        params: &Value,
        chain_id: u64,
        now: UnixNanos,
    ) -> Result<Value, RpcError> {
        let chain = &self.chain;
        Ok(match method {
            "eth_chainId" => quantity(chain_id.into()),
            "net_version" => json!(chain_id.to_string()),
            "eth_blockNumber" => quantity(chain.latest().into()),
            "eth_gasPrice" => quantity(BASE_FEE + TIP),
            "eth_maxPriorityFeePerGas" => quantity(TIP),
            "eth_getBalance" => quantity(1_000 * 10u128.pow(18)),
            "eth_getTransactionCount" => {
                let a = parse_address(param(params, 0, "address")?, "address")?;
                quantity(chain.nonces.get(&a).copied().unwrap_or(0).into())
            }
            "eth_getBlockByNumber" => {
                let tag = param(params, 0, "block")?;
                let n = match tag.as_str() {
                    Some("latest" | "pending" | "safe" | "finalized") => chain.latest(),
                    Some("earliest") => 0,
                    _ => parse_u64(tag, "block")?,
                };
                chain.block_json(n)
            }
            "eth_feeHistory" => {
                let count = parse_u64(param(params, 0, "blockCount")?, "blockCount")?;
                let percentiles = params.get(2).and_then(Value::as_array).map_or(0, Vec::len);
                serde_json::to_value(chain.fee_history(count, percentiles))
                    .map_err(|e| RpcError::new(-32603, e.to_string()))?
            }
            "eth_getTransactionReceipt" => {
                let h: B256 = param(params, 0, "hash")?
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| RpcError::new(-32602, "hash: not a 32-byte hash"))?;
                chain
                    .receipts
                    .get(&h)
                    .map_or(Ok(Value::Null), serde_json::to_value)
                    .map_err(|e| RpcError::new(-32603, e.to_string()))?
            }
            "eth_estimateGas" | "eth_call" => {
                let tx = param(params, 0, "transaction")?;
                let from = tx
                    .get("from")
                    .map_or(Ok(Address::ZERO), |v| parse_address(v, "from"))?;
                let to = parse_address(
                    tx.get("to").unwrap_or(&Value::Null),
                    "to (contract creation is not supported)",
                )?;
                let input: Bytes = tx
                    .get("input")
                    .or_else(|| tx.get("data"))
                    .and_then(Value::as_str)
                    .unwrap_or("0x")
                    .parse()
                    .map_err(|_| RpcError::new(-32602, "input: not hex bytes"))?;
                self.effect(from, to, &input)
                    .map_err(|reason| RpcError::revert(&reason))?;
                if method == "eth_call" {
                    json!("0x")
                } else {
                    quantity(GAS_USED.into())
                }
            }
            "eth_sendRawTransaction" => {
                let raw: Bytes = param(params, 0, "raw transaction")?
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| RpcError::new(-32602, "raw transaction: not hex bytes"))?;
                let hash = self.send_raw(&raw, chain_id, now).inspect_err(|_| {
                    self.chain.refused += 1;
                })?;
                json!(hash.to_string())
            }
            _ => {
                return Err(RpcError::new(
                    -32601,
                    format!("the method {method} does not exist/is not available"),
                ));
            }
        })
    }

    /// Decodes, checks and executes a signed transaction; returns its hash (mined, with status
    /// 0 if it reverted).
    fn send_raw(&mut self, raw: &[u8], chain_id: u64, now: UnixNanos) -> Result<B256, RpcError> {
        let tx = TxEnvelope::decode_2718(&mut &raw[..])
            .map_err(|e| RpcError::new(-32602, format!("invalid raw transaction: {e}")))?;
        let from = tx
            .recover_signer()
            .map_err(|e| RpcError::new(-32000, format!("invalid sender: {e}")))?;
        if let Some(c) = tx.chain_id()
            && c != chain_id
        {
            return Err(RpcError::new(
                -32000,
                format!("invalid chain id {c}: this chain is {chain_id}"),
            ));
        }
        let expected = self.chain.nonces.get(&from).copied().unwrap_or(0);
        if tx.nonce() < expected {
            return Err(RpcError::new(
                -32000,
                format!(
                    "nonce too low: next nonce {expected}, tx nonce {}",
                    tx.nonce()
                ),
            ));
        }
        if tx.nonce() > expected {
            return Err(RpcError::new(
                -32000,
                format!(
                    "nonce too high: next nonce {expected}, tx nonce {}",
                    tx.nonce()
                ),
            ));
        }
        self.chain.nonces.insert(from, expected + 1);
        let to = tx.to().unwrap_or(Address::ZERO);
        let ok = match self.effect(from, to, tx.input()) {
            Ok(effect) => {
                self.apply_effect(effect, now);
                true
            }
            Err(reason) => {
                tracing::info!(%from, reason, "sandbox chain: transaction reverted");
                self.chain.reverted += 1;
                false
            }
        };
        Ok(self.chain.mine(&tx, from, ok, now))
    }

    /// What a call from `from` to `to` with `input` would do, or why it reverts.
    fn effect(&self, from: Address, to: Address, input: &[u8]) -> Result<Effect, String> {
        if to != CONDITIONAL_TOKENS {
            return Err(format!(
                "sandbox chain: no contract at {to} (only the Conditional Tokens {CONDITIONAL_TOKENS})"
            ));
        }
        let keys: Vec<String> = self
            .accounts
            .values()
            .filter(|a| a.address == from)
            .map(|a| a.api_key.clone())
            .collect();
        let window_of = |c: &B256| {
            let c = c.to_string();
            self.windows.iter().find(|w| {
                w.condition_id
                    .as_ref()
                    .is_some_and(|id| id.to_string() == c)
            })
        };
        let selector = input.get(..4).unwrap_or_default();
        if selector == IConditionalTokens::redeemPositionsCall::SELECTOR {
            let call = IConditionalTokens::redeemPositionsCall::abi_decode(input)
                .map_err(|e| format!("redeemPositions: bad calldata: {e}"))?;
            if !is_binary_partition(&call.indexSets) {
                return Err("sandbox chain: only indexSets [1, 2] are supported".into());
            }
            let Some(w) = window_of(&call.conditionId) else {
                return Err("result for condition not received yet".into());
            };
            if !self.settled.contains(&w.slug) {
                return Err("result for condition not received yet".into());
            }
            if call.collateralToken != PUSD || !call.parentCollectionId.is_zero() {
                return Ok(Effect::Nothing);
            }
            return Ok(Effect::Redeem {
                slug: w.slug.clone(),
                outcome: w.outcome,
                keys,
            });
        }
        if selector == IConditionalTokens::mergePositionsCall::SELECTOR {
            let call = IConditionalTokens::mergePositionsCall::abi_decode(input)
                .map_err(|e| format!("mergePositions: bad calldata: {e}"))?;
            if !is_binary_partition(&call.partition) {
                return Err("sandbox chain: only the partition [1, 2] is supported".into());
            }
            let Some(w) = window_of(&call.conditionId) else {
                return Err("condition not prepared yet".into());
            };
            let sets = u64::try_from(call.amount)
                .map(Size::from_micros)
                .map_err(|_| "ERC1155: burn amount exceeds balance".to_string())?;
            if sets.is_zero() {
                return Ok(Effect::Nothing);
            }
            if call.collateralToken != PUSD || !call.parentCollectionId.is_zero() {
                return Err("ERC1155: burn amount exceeds balance".into());
            }
            let holder = keys.into_iter().find(|k| {
                let a = &self.accounts[k];
                if a.portfolio.is_settled(&w.slug) {
                    return false;
                }
                let free = |o: Outcome| {
                    let held = a.portfolio.position(&w.slug, o).shares;
                    let reserved = a
                        .reserved_shares
                        .get(&(w.slug.clone(), o))
                        .copied()
                        .unwrap_or(Size::ZERO);
                    held.saturating_sub(reserved)
                };
                free(Outcome::Up).min(free(Outcome::Down)) >= sets
            });
            let Some(key) = holder else {
                return Err("ERC1155: burn amount exceeds balance".into());
            };
            return Ok(Effect::Merge {
                slug: w.slug.clone(),
                key,
                sets,
            });
        }
        Err(format!(
            "sandbox chain: function selector {} is not supported (redeemPositions, mergePositions)",
            Bytes::copy_from_slice(selector)
        ))
    }

    fn apply_effect(&mut self, effect: Effect, now: UnixNanos) {
        match effect {
            Effect::Redeem {
                slug,
                outcome,
                keys,
            } => {
                for k in keys {
                    if let Some(a) = self.accounts.get_mut(&k)
                        && !a.portfolio.is_settled(&slug)
                    {
                        let before = a.portfolio.cash();
                        let _ = a.portfolio.settle(&slug, outcome, now);
                        self.chain.paid_micros += (a.portfolio.cash() - before).micros();
                    }
                }
                self.chain.redeems += 1;
            }
            Effect::Merge { slug, key, sets } => {
                if let Some(a) = self.accounts.get_mut(&key) {
                    let before = a.portfolio.cash();
                    let _ = a.portfolio.merge_sets(&slug, Some(sets), now);
                    self.chain.paid_micros += (a.portfolio.cash() - before).micros();
                }
                self.chain.merges += 1;
            }
            Effect::Nothing => {}
        }
    }
}
