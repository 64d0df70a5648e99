//! `herbalclaw_btc5m_bbo_2026-02`: Polymarket BTC 5m top of book polled over REST (MIT per the
//! collector's README), Feb 17–18 2026, with Binance and Chainlink BTC prices on 02-18.
//!
//! * `markets.csv` → one [`Window`] per row: token ids from the collector (read from Gamma, not
//!   inferred), the outcome joined from `felixdoteth_btc5m_outcomes` (which took it from Gamma:
//!   [`OutcomeSource::Official`], noted), Binance open/close in the notes. No condition id.
//! * `price_updates_*.csv.zst` → synthesized `best_bid_ask` frames on stream `polymarket-bbo`
//!   (prices are integers ×1e6, formatted exactly; a 0 bid or ask is an empty side, its field
//!   omitted; `market` omitted), received at `timestamp_ms`. Rows are stably sorted by
//!   `timestamp_ms` (the 02-18 file has a few out of order; counted).
//! * 02-18 only: RTDS frames on stream `rtds` — `crypto_prices_chainlink` (`btc/usd`) from
//!   `chainlink_btc_price` and `crypto_prices` (`btcusdt`) from `binance_btc_price`, value text
//!   copied as is (no `full_accuracy_value`: the source is a float text), written only when the
//!   value is > 0 and differs from the last one written for that feed (counted).

use std::collections::BTreeMap;
use std::path::Path;

use polyedge_core::{Fixed18, Outcome, OutcomeSource, Price, TokenId, UnixNanos, Window};
use polyedge_venues::Feed;
use serde::Deserialize;

use super::Out;
use super::common::{self, TOPIC_BINANCE, TOPIC_CHAINLINK};
use crate::{Progress, StoreError, StreamId};

/// Stream name of the top-of-book frames.
pub const BBO_STREAM: &str = "polymarket-bbo";

const SOURCE_NOTE: &str = "source=herbalclaw_btc5m_bbo_2026-02 (MIT per the collector's README)";

/// A row of `markets.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MarketRow {
    /// Window start, unix s.
    pub window_start_unix: u64,
    /// Window slug.
    pub slug: String,
    /// Up token id.
    pub up_token_id: String,
    /// Down token id.
    pub down_token_id: String,
    /// The collector's DB file.
    #[serde(default)]
    pub source_db: String,
    /// `up` / `down` (from felixdoteth, i.e. Gamma), possibly empty.
    #[serde(default)]
    pub outcome_felixdoteth: String,
    /// Binance open (felixdoteth), text.
    #[serde(default)]
    pub binance_open_felixdoteth: String,
    /// Binance close (felixdoteth), text.
    #[serde(default)]
    pub binance_close_felixdoteth: String,
}

/// The [`Window`] of a `markets.csv` row.
///
/// # Errors
/// A message if the slug or a token id is malformed or the slug disagrees with the start.
pub fn window_from_market(row: &MarketRow) -> Result<Window, String> {
    let mut w = Window::from_slug(&row.slug)
        .ok_or_else(|| format!("slug {:?} is not an Up/Down slug", row.slug))?;
    if w.start.secs() != row.window_start_unix {
        return Err(format!(
            "slug {} disagrees with window_start_unix {}",
            row.slug, row.window_start_unix
        ));
    }
    w.up_token = Some(TokenId::parse(&row.up_token_id).map_err(|e| format!("up_token_id: {e}"))?);
    w.down_token =
        Some(TokenId::parse(&row.down_token_id).map_err(|e| format!("down_token_id: {e}"))?);
    w.notes.push(SOURCE_NOTE.into());
    if !row.source_db.is_empty() {
        w.notes.push(format!("source_db={}", row.source_db));
    }
    if row.outcome_felixdoteth.is_empty() {
        w.notes.push("no outcome in markets.csv".into());
    } else {
        w.outcome = Some(row.outcome_felixdoteth.parse()?);
        w.outcome_source = Some(OutcomeSource::Official);
        w.notes.push(
            "outcome from felixdoteth_btc5m_outcomes (Gamma resolution), joined by the dataset curators"
                .into(),
        );
    }
    if !row.binance_open_felixdoteth.is_empty() {
        w.notes.push(format!(
            "binance_open={} binance_close={} (Binance BTCUSDT spot, felixdoteth)",
            row.binance_open_felixdoteth, row.binance_close_felixdoteth
        ));
    }
    Ok(w)
}

/// A row of `price_updates_*.csv` (the columns the importer uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PriceRow {
    /// Poll time, epoch ms.
    pub timestamp_ms: u64,
    /// Window start, unix s.
    pub market_ts: u64,
    /// `up`/`YES` or `down`/`NO`.
    pub side: String,
    /// Best bid ×1e6 (0 = empty side).
    pub bid: i64,
    /// Best ask ×1e6 (0 = empty side).
    pub ask: i64,
    /// Binance BTCUSDT price text (02-18 only; `0.0` = missing).
    #[serde(default)]
    pub binance_btc_price: Option<String>,
    /// Chainlink BTC/USD price text (02-18 only; `0.0` = missing).
    #[serde(default)]
    pub chainlink_btc_price: Option<String>,
}

/// Which outcome a `side` value names (`up`/`YES` → Up, `down`/`NO` → Down).
pub fn side_outcome(side: &str) -> Option<Outcome> {
    side.parse().ok()
}

/// Grid of the venue's prices in micro-units (0.0001).
const GRID: u32 = 100;

/// A ×1e6 price; 0 is an empty side. Values within 1 micro of the venue's 0.0001 grid are snapped
/// to it (the upstream collector computed Down prices as `1 − p` in floating point and truncated,
/// e.g. 339999 for 0.34); the bool says whether that happened.
fn micros_price(v: i64, what: &str) -> Result<(Option<Price>, bool), String> {
    if v == 0 {
        return Ok((None, false));
    }
    let m = u32::try_from(v)
        .ok()
        .filter(|m| *m <= 1_000_000)
        .ok_or_else(|| format!("{what} {v} is outside 0..=1000000"))?;
    let rem = m % GRID;
    let snapped = match rem {
        0 => m,
        1 => m - 1,
        r if r == GRID - 1 => m + 1,
        _ => {
            return Err(format!(
                "{what} {v} is off the 0.0001 grid by more than 1e-6"
            ));
        }
    };
    let p = Price::from_micros(snapped).map_err(|e| format!("{what} {v}: {e}"))?;
    Ok((Some(p), snapped != m))
}

/// The synthesized `best_bid_ask` frame of a row for `token` (the row's side), received at
/// `timestamp_ms`, and how many of its two prices were snapped to the 0.0001 grid.
///
/// # Errors
/// A message if a price is outside `[0, 1]` or off the grid by more than 1e-6.
pub fn bbo_frame(row: &PriceRow, token: &TokenId) -> Result<(UnixNanos, String, u8), String> {
    let (bid, sb) = micros_price(row.bid, "bid")?;
    let (ask, sa) = micros_price(row.ask, "ask")?;
    Ok((
        UnixNanos::from_millis(row.timestamp_ms),
        common::best_bid_ask_frame(None, token, bid, ask, row.timestamp_ms),
        u8::from(sb) + u8::from(sa),
    ))
}

/// The RTDS `crypto_prices_chainlink` frame of a Chainlink price text at `ts_ms` (server and
/// feed timestamps both the poll time).
pub fn chainlink_frame(ts_ms: u64, value: &str) -> String {
    common::rtds_update_frame(TOPIC_CHAINLINK, ts_ms, "btc/usd", ts_ms, value, None)
}

/// The RTDS `crypto_prices` (Binance relay) frame of a Binance price text at `ts_ms`.
pub fn binance_frame(ts_ms: u64, value: &str) -> String {
    common::rtds_update_frame(TOPIC_BINANCE, ts_ms, "btcusdt", ts_ms, value, None)
}

/// Sources and caveats for the recording metadata.
pub(crate) fn provenance(src: &Path) -> (Vec<String>, Vec<String>) {
    (
        vec![
            format!(
                "herbalclaw_btc5m_bbo_2026-02 (read from {}): github.com/herbalclaw/polymarket-data-collector \
                 (MIT per README); SQLite DBs data/raw/btc_hf_2026-02-17_PM.db (commit 839b403b3fc66d68ba3cc681289ba86e138f3a8f) \
                 and data/raw/btc_hf_2026-02-18_AM.db (commit 32264d6df92941ec77e274455c401e9295a9fadc), exported to CSV",
                src.display()
            ),
            "outcomes in markets.csv joined from felixdoteth_btc5m_outcomes: github.com/felixdoteth/polymarket-btc-5m-dataset- \
             commit e7fda9632cfa30342ff80513fad5b06497990e47 (MIT)"
                .into(),
        ],
        vec![
            format!(
                "{BBO_STREAM} frames are SYNTHESIZED `best_bid_ask` messages from REST-polled top of book: L1 only, no \
                 sizes, no depth, no trades; a 0 bid/ask is an empty side (field omitted); no condition id (`market` \
                 omitted); spread computed exactly."
            ),
            "recv time = the collector's poll time; rows were stored only on change (gaps are not outages); books \
             right after a window opens are the 0.01/0.99 placeholder."
                .into(),
            "rtds frames (2026-02-18 only) are SYNTHESIZED from float columns: value text copied as is, no \
             full_accuracy_value, payload timestamp = poll time (not the oracle's observation time); written only when \
             the value changed."
                .into(),
            "Outcomes come from felixdoteth's dataset (Gamma resolutions), marked official.".into(),
            "Some source prices are float artifacts off the venue's 0.0001 grid by 1e-6 (e.g. 339999 for 0.34, Down side \
             computed as 1 - p upstream); they are snapped to the grid and counted in the import report."
                .into(),
        ],
    )
}

/// State of one RTDS feed synthesized from a price column.
struct SpotCol {
    last: Option<Fixed18>,
    key_zero: &'static str,
    key_unchanged: &'static str,
    key_bad: &'static str,
    key_frames: &'static str,
}

/// Runs the import.
pub(crate) fn run(
    src: &Path,
    out: &mut Out<'_>,
    progress: &dyn Progress,
) -> Result<(), StoreError> {
    let markets_csv = common::required(src, "markets.csv")?;
    let files = common::list_files(src, "price_updates_", &[".csv.zst", ".csv.gz", ".csv"])?;
    if files.is_empty() {
        return Err(StoreError::Input {
            path: src.join("price_updates_*.csv.zst"),
            line: None,
            reason: "no price_updates files".into(),
        });
    }
    let mut total = common::file_len(&markets_csv)?;
    for p in &files {
        total += common::file_len(p)?;
    }
    progress.set_total(total, "bytes");

    progress.message("markets.csv");
    let mname = common::file_name(&markets_csv);
    let mut tokens: BTreeMap<u64, (TokenId, TokenId)> = BTreeMap::new();
    common::for_each_csv(
        &markets_csv,
        &["window_start_unix", "slug", "up_token_id", "down_token_id"],
        progress,
        out,
        |out, line, row: MarketRow| {
            match window_from_market(&row) {
                Ok(w) => {
                    if let (Some(u), Some(d)) = (w.up_token, w.down_token) {
                        tokens.insert(row.window_start_unix, (u, d));
                    }
                    out.window(w);
                }
                Err(e) => out.skip(&mname, line, "bad market row", e),
            }
            Ok(())
        },
    )?;

    let bbo = StreamId::named(Feed::PolymarketMarket, BBO_STREAM)?;
    let rtds = StreamId::of(Feed::Rtds);
    let mut chainlink = SpotCol {
        last: None,
        key_zero: "rtds: rows with chainlink_btc_price 0 (no frame)",
        key_unchanged: "rtds: rows with unchanged chainlink_btc_price (no frame)",
        key_bad: "chainlink_btc_price not a plain decimal",
        key_frames: "rtds: crypto_prices_chainlink frames",
    };
    let mut binance = SpotCol {
        last: None,
        key_zero: "rtds: rows with binance_btc_price 0 (no frame)",
        key_unchanged: "rtds: rows with unchanged binance_btc_price (no frame)",
        key_bad: "binance_btc_price not a plain decimal",
        key_frames: "rtds: crypto_prices (binance) frames",
    };
    for path in &files {
        let name = common::file_name(path);
        progress.message(&name);
        let mut rows: Vec<(u64, PriceRow)> = Vec::new();
        common::for_each_csv(
            path,
            &["timestamp_ms", "market_ts", "side", "bid", "ask"],
            progress,
            out,
            |_, line, row: PriceRow| {
                rows.push((line, row));
                Ok(())
            },
        )?;
        let unsorted = rows
            .windows(2)
            .filter(|p| p[1].1.timestamp_ms < p[0].1.timestamp_ms)
            .count() as u64;
        if unsorted > 0 {
            out.count(
                &format!("{name}: rows out of timestamp_ms order (stably sorted)"),
                unsorted,
            );
        }
        rows.sort_by_key(|(_, r)| r.timestamp_ms);
        for (line, row) in &rows {
            let Some(&(up, down)) = tokens.get(&row.market_ts) else {
                out.skip(
                    &name,
                    *line,
                    "market_ts not in markets.csv (no token ids)",
                    row.market_ts,
                );
                continue;
            };
            let token = match side_outcome(&row.side) {
                Some(Outcome::Up) => up,
                Some(Outcome::Down) => down,
                None => {
                    out.skip(&name, *line, "unknown side", &row.side);
                    continue;
                }
            };
            match bbo_frame(row, &token) {
                Ok((recv, frame, snapped)) => {
                    if snapped > 0 {
                        out.count("bbo prices snapped to the 0.0001 grid (float artifact in source, e.g. 339999)", u64::from(snapped));
                    }
                    if row.bid > 0 && row.ask > 0 && row.bid >= row.ask {
                        out.count("bbo rows with a crossed/locked book (bid >= ask)", 1);
                    }
                    out.append(&bbo, recv, frame.as_bytes())?;
                }
                Err(e) => {
                    out.skip(&name, *line, "price out of range", e);
                    continue;
                }
            }
            for (col, text, frame_of) in [
                (
                    &mut chainlink,
                    row.chainlink_btc_price.as_deref(),
                    chainlink_frame as fn(u64, &str) -> String,
                ),
                (
                    &mut binance,
                    row.binance_btc_price.as_deref(),
                    binance_frame,
                ),
            ] {
                let Some(text) = text else { continue };
                let value = match Fixed18::parse(text) {
                    Ok(v) if common::is_json_decimal(text) => v,
                    _ => {
                        out.skip(&name, *line, col.key_bad, text);
                        continue;
                    }
                };
                if value <= Fixed18(0) {
                    out.count(col.key_zero, 1);
                    continue;
                }
                if col.last == Some(value) {
                    out.count(col.key_unchanged, 1);
                    continue;
                }
                col.last = Some(value);
                out.count(col.key_frames, 1);
                out.append(
                    &rtds,
                    UnixNanos::from_millis(row.timestamp_ms),
                    frame_of(row.timestamp_ms, text).as_bytes(),
                )?;
            }
        }
        out.flush()?;
    }
    Ok(())
}
