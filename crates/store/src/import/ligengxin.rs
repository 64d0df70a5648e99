//! `ligengxin_btc5m_markets_chainlink`: Gamma market objects of every BTC 5m market of two UTC
//! days, with official outcomes and strikes, and the Chainlink BTC/USD settlement feed as relayed
//! by Polymarket RTDS (~1 Hz). License: none stated (free evaluation samples).
//!
//! * `BTC-5m-markets-<day>.jsonl.gz` → one [`Window`] per slug (deduplicated across days) with
//!   everything the Gamma object gives: condition id, token ids in `outcomes` order, tick size,
//!   minimum order size, fee schedule (numbers read from their JSON text), strike (`strike_value`,
//!   E18), official outcome (`outcome_prices`).
//! * `BTCUSD-prices-<day>.csv.gz` → RTDS `crypto_prices_chainlink` update frames on stream
//!   `rtds-chainlink` (texts copied verbatim), received at `recv_ms`, sorted by `recv_ms`
//!   (stable). Each window's `final_price` is the last tick at or before its end (pre-TWAP rule;
//!   both days are before 2026-08-07); a window whose recomputed outcome (`final ≥ strike` ⇒ Up)
//!   disagrees with the official one gets a note.

use std::collections::BTreeMap;
use std::path::Path;

use polyedge_core::fixed::parse_scaled;
use polyedge_core::{
    ConditionId, FeeSchedule, Fixed18, Outcome, OutcomeSource, Price, Size, TokenId, UnixNanos,
    Window,
};
use polyedge_venues::Feed;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Out;
use super::common::{self, TOPIC_CHAINLINK};
use crate::{Progress, StoreError, StreamId};

/// Stream name of the Chainlink frames.
pub const STREAM: &str = "rtds-chainlink";
/// RTDS symbol of the feed.
pub const SYMBOL: &str = "btc/usd";
/// A final tick older than this before the window end is not used for `final_price` (ms).
pub const FINAL_TICK_MAX_AGE_MS: u64 = 5_000;

const SOURCE_NOTE: &str = "source=ligengxin_btc5m_markets_chainlink (no license stated)";

#[derive(Deserialize)]
struct MarketLine<'a> {
    slug: String,
    condition_id: Option<String>,
    token_ids: Option<Vec<String>>,
    start_sec: Option<u64>,
    end_sec: Option<u64>,
    resolved: Option<bool>,
    outcome_prices: Option<Vec<String>>,
    strike_value: Option<String>,
    #[serde(borrow)]
    raw: Option<Gamma<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Gamma<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    outcomes: Option<String>,
    clob_token_ids: Option<String>,
    fee_type: Option<String>,
    #[serde(borrow)]
    fee_schedule: Option<&'a RawValue>,
    #[serde(borrow)]
    order_price_min_tick_size: Option<&'a RawValue>,
    #[serde(borrow)]
    order_min_size: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeeRaw<'a> {
    #[serde(borrow)]
    rate: &'a RawValue,
    #[serde(borrow)]
    exponent: &'a RawValue,
    taker_only: Option<bool>,
    #[serde(borrow)]
    rebate_rate: Option<&'a RawValue>,
}

fn ppm(text: &str, what: &str) -> Result<u32, String> {
    let v = parse_scaled(text, 6).map_err(|e| format!("{what} {text}: {e}"))?;
    u32::try_from(v).map_err(|_| format!("{what} {text} out of range"))
}

/// Parses a Gamma `feeSchedule` object from its JSON text, reading each number from its raw
/// text (`0.07` → 70 000 ppm, never via `f64`). A missing `rebateRate` is 0; a missing
/// `takerOnly` is `true`.
///
/// # Errors
/// A message if a field is missing or not an exact decimal in range, or the schedule is out of
/// the bounds of [`FeeSchedule::validate`] (exponent above
/// [`MAX_EXPONENT`](polyedge_core::fees::MAX_EXPONENT), a rate above 100 %).
pub fn parse_fee_schedule(json: &str) -> Result<FeeSchedule, String> {
    let f: FeeRaw<'_> = serde_json::from_str(json).map_err(|e| format!("feeSchedule: {e}"))?;
    let exponent: u8 = f.exponent.get().parse().map_err(|_| {
        format!(
            "feeSchedule.exponent {} is not a small integer",
            f.exponent.get()
        )
    })?;
    FeeSchedule::new(
        ppm(f.rate.get(), "feeSchedule.rate")?,
        exponent,
        f.taker_only.unwrap_or(true),
        match f.rebate_rate {
            Some(r) => ppm(r.get(), "feeSchedule.rebateRate")?,
            None => 0,
        },
    )
    .map_err(|e| format!("feeSchedule refused: {e}"))
}

/// Parses one `BTC-5m-markets-*.jsonl` line into a [`Window`] with the official outcome
/// ([`OutcomeSource::Official`]; `None` with a note when unresolved or not decisive), token ids
/// ordered by the Gamma `outcomes` array, tick size, min order size, fee schedule and strike.
/// `final_price` is left unset (it comes from the feed).
///
/// # Errors
/// A message if the line is not JSON, the slug is not an Up/Down slug, or the ids/outcomes are
/// inconsistent.
pub fn window_from_market_line(line: &str) -> Result<Window, String> {
    let m: MarketLine<'_> = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let mut w = Window::from_slug(&m.slug)
        .ok_or_else(|| format!("slug {:?} is not an Up/Down slug", m.slug))?;
    if m.start_sec.is_some_and(|s| s != w.start.secs())
        || m.end_sec.is_some_and(|e| e != w.end.secs())
    {
        return Err(format!(
            "start_sec/end_sec {:?}/{:?} disagree with slug {}",
            m.start_sec, m.end_sec, m.slug
        ));
    }
    w.notes.push(SOURCE_NOTE.into());
    if let Some(c) = &m.condition_id {
        w.condition_id = Some(ConditionId::parse(c).map_err(|e| format!("condition_id: {e}"))?);
    }
    let raw = m.raw.as_ref();
    if let Some(id) = raw.and_then(|r| r.id) {
        w.notes
            .push(format!("gamma_id={}", id.get().trim_matches('"')));
    }
    // Outcome labels, in the order of token_ids / outcome_prices.
    let labels: Vec<Outcome> = if let Some(text) = raw.and_then(|r| r.outcomes.as_deref()) {
        let names: Vec<String> =
            serde_json::from_str(text).map_err(|e| format!("raw.outcomes {text:?}: {e}"))?;
        let labels = names
            .iter()
            .map(|n| n.parse::<Outcome>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("raw.outcomes: {e}"))?;
        if labels.len() != 2 || labels[0] == labels[1] {
            return Err(format!(
                "raw.outcomes {text:?} is not [Up, Down] in some order"
            ));
        }
        labels
    } else {
        w.notes
            .push("raw.outcomes missing: token order assumed [Up, Down]".into());
        vec![Outcome::Up, Outcome::Down]
    };
    if let Some(ids) = &m.token_ids {
        if ids.len() != 2 {
            return Err(format!("token_ids has {} entries", ids.len()));
        }
        for (id, label) in ids.iter().zip(&labels) {
            let t = TokenId::parse(id).map_err(|e| format!("token_ids: {e}"))?;
            match label {
                Outcome::Up => w.up_token = Some(t),
                Outcome::Down => w.down_token = Some(t),
            }
        }
        if let Some(clob) = raw.and_then(|r| r.clob_token_ids.as_deref()) {
            let clob: Vec<String> = serde_json::from_str(clob)
                .map_err(|e| format!("raw.clobTokenIds {clob:?}: {e}"))?;
            if &clob != ids {
                w.notes
                    .push("token_ids differ from raw.clobTokenIds (token_ids used)".into());
            }
        }
    }
    // Outcome.
    match (&m.outcome_prices, m.resolved) {
        (_, Some(false)) => w.notes.push("unresolved (resolved=false)".into()),
        (None, _) => w.notes.push("no outcome_prices".into()),
        (Some(p), _) => {
            let prices: Vec<Option<Price>> = p.iter().map(|t| Price::parse(t).ok()).collect();
            let winner = match prices.as_slice() {
                [Some(a), Some(b)] if *a == Price::ONE && *b == Price::ZERO => Some(labels[0]),
                [Some(a), Some(b)] if *a == Price::ZERO && *b == Price::ONE => Some(labels[1]),
                _ => None,
            };
            match winner {
                Some(o) => {
                    w.outcome = Some(o);
                    w.outcome_source = Some(OutcomeSource::Official);
                    w.notes
                        .push(format!("outcome from Gamma outcome_prices {p:?}"));
                }
                None => w
                    .notes
                    .push(format!("outcome_prices {p:?} not decisive: no outcome")),
            }
        }
    }
    // Strike.
    match &m.strike_value {
        Some(s) => match Fixed18::parse_e18_integer(s) {
            Ok(v) => w.strike = Some(v),
            Err(e) => w.notes.push(format!("strike_value {s:?} unusable: {e}")),
        },
        None => w
            .notes
            .push("strike_value null (no Chainlink tick at the start second)".into()),
    }
    // Market parameters.
    if let Some(r) = raw {
        if let Some(t) = r.order_price_min_tick_size {
            match Price::parse(t.get()) {
                Ok(p) => w.tick_size = Some(p),
                Err(e) => w
                    .notes
                    .push(format!("orderPriceMinTickSize {} unusable: {e}", t.get())),
            }
        }
        if let Some(s) = r.order_min_size {
            match Size::parse(s.get()) {
                Ok(v) => w.min_order_size = Some(v),
                Err(e) => w
                    .notes
                    .push(format!("orderMinSize {} unusable: {e}", s.get())),
            }
        }
        match r.fee_schedule {
            Some(f) => match parse_fee_schedule(f.get()) {
                Ok(fs) => w.fee_schedule = Some(fs),
                Err(e) => w.notes.push(format!("{e}: fee_schedule unset")),
            },
            None => w.notes.push("no feeSchedule in the Gamma object".into()),
        }
        if let Some(ft) = &r.fee_type {
            w.notes.push(format!("fee_type={ft}"));
        }
    } else {
        w.notes.push("no raw Gamma object".into());
    }
    Ok(w)
}

/// A row of `BTCUSD-prices-*.csv`: texts as in the file, times as integers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ChainlinkRow {
    /// Price time (ms, second-aligned).
    pub feed_ts_ms: u64,
    /// Price as the relay's float text.
    pub value: String,
    /// Price ×1e18 as an integer string.
    pub full_accuracy_value: String,
    /// Relay send time (ms).
    pub server_ts_ms: u64,
    /// Collector receive time (ms).
    pub recv_ms: u64,
}

/// The RTDS `crypto_prices_chainlink` update frame of a row (value and full-accuracy texts
/// copied verbatim) and its receive time (`recv_ms`).
///
/// # Errors
/// A message if `value` is not a plain decimal or `full_accuracy_value` not an integer.
pub fn chainlink_frame(row: &ChainlinkRow) -> Result<(UnixNanos, String), String> {
    if !common::is_json_decimal(&row.value) {
        return Err(format!("value {:?} is not a plain decimal", row.value));
    }
    if row.full_accuracy_value.is_empty()
        || !row.full_accuracy_value.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "full_accuracy_value {:?} is not an integer",
            row.full_accuracy_value
        ));
    }
    Ok((
        UnixNanos::from_millis(row.recv_ms),
        common::rtds_update_frame(
            TOPIC_CHAINLINK,
            row.server_ts_ms,
            SYMBOL,
            row.feed_ts_ms,
            &row.value,
            Some(&row.full_accuracy_value),
        ),
    ))
}

/// Sources and caveats for the recording metadata.
pub(crate) fn provenance(src: &Path) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "ligengxin_btc5m_markets_chainlink (read from {}): github.com/Ligengxin96/polymarket-data-samples, \
             2026-06-08 files at commit 20d724c11023f0ecdffb539e203d80628f786c0f, 2026-07-24 files at commit \
             5e17293a3a9b0e3d22c727de65f4edeea0fefa7c; license: none stated (free evaluation samples of a commercial dataset)",
            src.display()
        )],
        vec![
            "No Polymarket order-book data: windows (Gamma metadata, official outcomes, strikes, fees) and the \
             Chainlink BTC/USD settlement feed only."
                .into(),
            format!(
                "{STREAM} frames are SYNTHESIZED RTDS `crypto_prices_chainlink` update frames built from CSV rows (value and \
                 full_accuracy_value texts copied verbatim; no connection_id); recv time = the collector's recv_ms; \
                 written sorted by recv_ms."
            ),
            format!(
                "final_price = the last Chainlink tick at or before the window end (pre-TWAP rule; both days are before \
                 2026-08-07), only if at most {} s old; windows whose recomputed outcome disagrees with the official one are noted.",
                FINAL_TICK_MAX_AGE_MS / 1000
            ),
            "The feed has coverage gaps (e.g. 2026-06-08 around 00:00-00:15 UTC).".into(),
        ],
    )
}

struct Tick {
    row: ChainlinkRow,
    recv: UnixNanos,
    frame: String,
}

/// Runs the import.
pub(crate) fn run(
    src: &Path,
    out: &mut Out<'_>,
    progress: &dyn Progress,
) -> Result<(), StoreError> {
    let markets = common::list_files(src, "BTC-5m-markets-", &[".jsonl.gz", ".jsonl"])?;
    let prices = common::list_files(src, "BTCUSD-prices-", &[".csv.gz", ".csv"])?;
    if markets.is_empty() {
        return Err(StoreError::Input {
            path: src.join("BTC-5m-markets-*.jsonl.gz"),
            line: None,
            reason: "no market files".into(),
        });
    }
    let mut total = 0;
    for p in markets.iter().chain(&prices) {
        total += common::file_len(p)?;
    }
    progress.set_total(total, "bytes");

    // Markets → windows (dedupe by slug across days: a later resolved row wins over an
    // unresolved one, otherwise the first is kept).
    for path in &markets {
        let name = common::file_name(path);
        progress.message(&name);
        common::for_each_line(path, progress, out, |out, line_no, line| {
            match window_from_market_line(line) {
                Ok(w) => {
                    let keep_old = out
                        .window_mut(&w.slug)
                        .is_some_and(|old| old.outcome.is_some() || w.outcome.is_none());
                    if keep_old {
                        out.count("duplicate market rows across days (first kept)", 1);
                    } else {
                        out.window(w);
                    }
                }
                Err(e) => out.skip(&name, line_no, "bad market line", e),
            }
            Ok(())
        })?;
    }

    // Chainlink ticks (small: load, sort by recv_ms, write).
    let mut ticks: Vec<Tick> = Vec::new();
    for path in &prices {
        let name = common::file_name(path);
        progress.message(&name);
        common::for_each_csv(
            path,
            &[
                "feed_ts_ms",
                "value",
                "full_accuracy_value",
                "server_ts_ms",
                "recv_ms",
            ],
            progress,
            out,
            |out, line, row: ChainlinkRow| {
                match chainlink_frame(&row) {
                    Ok((recv, frame)) => ticks.push(Tick { row, recv, frame }),
                    Err(e) => out.skip(&name, line, "bad price row", e),
                }
                Ok(())
            },
        )?;
    }
    let unsorted = ticks
        .windows(2)
        .filter(|p| p[1].row.recv_ms < p[0].row.recv_ms)
        .count() as u64;
    if unsorted > 0 {
        out.count(
            "chainlink rows out of recv_ms order in the files (sorted)",
            unsorted,
        );
    }
    ticks.sort_by_key(|t| t.row.recv_ms);
    let stream = StreamId::named(Feed::Rtds, STREAM)?;
    // feed_ts → value; for the same feed_ts the later recv_ms wins (same-second correction).
    let mut by_feed_ts: BTreeMap<u64, Fixed18> = BTreeMap::new();
    let mut corrections = 0u64;
    for t in &ticks {
        out.append(&stream, t.recv, t.frame.as_bytes())?;
        match Fixed18::parse_e18_integer(&t.row.full_accuracy_value) {
            Ok(v) => {
                if by_feed_ts.insert(t.row.feed_ts_ms, v).is_some() {
                    corrections += 1;
                }
            }
            Err(e) => out.warn(format!(
                "full_accuracy_value {} unusable for final prices: {e}",
                t.row.full_accuracy_value
            )),
        }
    }
    out.flush()?;
    if corrections > 0 {
        out.count(
            "chainlink same-second corrections (later recv wins)",
            corrections,
        );
    }

    // Final prices and the recomputed outcome check.
    let slugs: Vec<String> = out.windows_slugs();
    for slug in slugs {
        let Some(w) = out.window_mut(&slug) else {
            continue;
        };
        let end_ms = w.end.millis();
        let last = by_feed_ts
            .range(end_ms.saturating_sub(FINAL_TICK_MAX_AGE_MS)..=end_ms)
            .next_back()
            .map(|(ts, v)| (*ts, *v));
        let key = match last {
            None => {
                w.notes.push(format!(
                    "no Chainlink tick within {} s before the end: final_price unset",
                    FINAL_TICK_MAX_AGE_MS / 1000
                ));
                "windows: no chainlink tick near end (final_price unset)"
            }
            Some((ts, v)) => {
                w.final_price = Some(v);
                if ts != end_ms {
                    w.notes.push(format!(
                        "final_price from the Chainlink tick {} ms before the end",
                        end_ms - ts
                    ));
                }
                match (w.strike, w.outcome) {
                    (Some(strike), Some(official)) => {
                        let recomputed = Outcome::from_prices(strike, v);
                        if recomputed == official {
                            "windows: chainlink recomputed outcome agrees with official"
                        } else {
                            w.notes.push(format!(
                                "chainlink recomputed outcome {recomputed} (final {v} vs strike {strike}) disagrees with official {official}"
                            ));
                            "windows: chainlink recomputed outcome DISAGREES with official"
                        }
                    }
                    _ => "windows: outcome not recomputable (no strike or no official outcome)",
                }
            }
        };
        out.count(key, 1);
    }
    Ok(())
}
