//! `cronos_btc5m_books`: Polymarket BTC 5-minute full-depth `book` messages (CC BY 4.0,
//! "Polymarket BTC Orderbook Dataset © 2026 by CronosVirus00") and Binance USD-M BTCUSDT 1-minute
//! klines.
//!
//! * `books_*.jsonl.zst` — one `{"recv_ts":<decimal s>,"slug":…,"raw":{…}}` per line. The `raw`
//!   object is the server's market-channel message byte-for-byte; it is appended **verbatim**
//!   (the exact bytes of the line) to stream `polymarket-market` at `recv_ts` (parsed exactly).
//!   Files in name order, lines in file order; receive times that go backwards are kept in file
//!   order and counted.
//! * `windows.csv` — one [`Window`] per row with the inferred token sides and outcome
//!   (`token_sides_inferred`, [`OutcomeSource::Inferred`]) and the derivation notes;
//!   `assets.csv` (optional) adds each token's side-inference method to the notes.
//! * `binance_um_btcusdt_1m.csv` — synthesized Binance kline frames (see
//!   [`common::binance_kline_frame`]) on stream `binance-usdm-kline`, received at candle close.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use polyedge_core::{ConditionId, Outcome, OutcomeSource, TokenId, UnixNanos, Window};
use polyedge_venues::Feed;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Out;
use super::common::{self, Candle};
use crate::{Progress, StoreError, StreamId};

/// Stream name of the kline frames.
pub const KLINE_STREAM: &str = "binance-usdm-kline";
/// Binance symbol of the klines.
pub const KLINE_SYMBOL: &str = "BTCUSDT";

const LICENSE: &str = "CC BY 4.0, \"Polymarket BTC Orderbook Dataset © 2026 by CronosVirus00\"";

/// One line of a `books_*.jsonl` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookLine<'a> {
    /// Recorder receive time (`recv_ts`, decimal seconds, parsed exactly).
    pub recv_ns: UnixNanos,
    /// Window slug.
    pub slug: Cow<'a, str>,
    /// The `raw` server message, exactly as it appears in the line.
    pub raw: &'a str,
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow)]
    recv_ts: &'a RawValue,
    #[serde(borrow)]
    slug: Cow<'a, str>,
    #[serde(borrow)]
    raw: &'a RawValue,
}

/// Parses one books line. `raw` borrows the exact bytes of the line (no re-serialization).
///
/// # Errors
/// A message if the line is not such a JSON object or `recv_ts` is not a plain decimal number
/// of seconds.
pub fn parse_book_line(line: &str) -> Result<BookLine<'_>, String> {
    let l: RawLine<'_> = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let ts = l.recv_ts.get();
    let recv_ns = UnixNanos::parse_secs_decimal(ts).map_err(|e| format!("recv_ts {ts}: {e}"))?;
    Ok(BookLine {
        recv_ns,
        slug: l.slug,
        raw: l.raw.get(),
    })
}

/// A row of `windows.csv` (the columns the importer uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WindowRow {
    /// Window slug.
    pub slug: String,
    /// Window start, unix s.
    pub window_start_unix: u64,
    /// Window end, unix s.
    pub window_end_unix: u64,
    /// Condition id (`market` of the book messages).
    pub condition_id: String,
    /// Book messages recorded for the window.
    pub n_book_msgs: u64,
    /// Seconds of the window covered by messages (text).
    pub coverage_s: String,
    /// `True` when coverage ≥ 250 s.
    pub full_window: String,
    /// Inferred Up token id (may be empty).
    pub up_token_id_inferred: String,
    /// Inferred Down token id (may be empty).
    pub down_token_id_inferred: String,
    /// `Up`, `Down` or empty.
    pub outcome_inferred: String,
    /// How the outcome was inferred.
    pub outcome_method: String,
    /// Binance move over the window in USD (text).
    pub binance_move_usd: String,
}

/// A row of `assets.csv` (the columns the importer uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AssetRow {
    /// Window slug.
    pub slug: String,
    /// Token id.
    pub asset_id: String,
    /// `Up` or `Down` (inferred).
    pub token_side_inferred: String,
    /// How the side was inferred.
    pub side_method: String,
}

fn opt_token(text: &str, what: &str) -> Result<Option<TokenId>, String> {
    if text.is_empty() {
        Ok(None)
    } else {
        TokenId::parse(text)
            .map(Some)
            .map_err(|e| format!("{what}: {e}"))
    }
}

/// The [`Window`] of a `windows.csv` row: condition id, inferred token ids
/// (`token_sides_inferred = true` when any is set), inferred outcome ([`OutcomeSource::Inferred`],
/// `None` when empty) and notes (`outcome_method`, `full_window`, `coverage_s`, `n_book_msgs`,
/// `binance_move_usd`).
///
/// # Errors
/// A message if the slug is not an Up/Down slug, disagrees with the start/end columns, or an id
/// or outcome is malformed.
pub fn window_from_row(row: &WindowRow) -> Result<Window, String> {
    let mut w = Window::from_slug(&row.slug)
        .ok_or_else(|| format!("slug {:?} is not an Up/Down slug", row.slug))?;
    if w.start.secs() != row.window_start_unix || w.end.secs() != row.window_end_unix {
        return Err(format!(
            "slug {} disagrees with window_start_unix/window_end_unix {}/{}",
            row.slug, row.window_start_unix, row.window_end_unix
        ));
    }
    if !row.condition_id.is_empty() {
        w.condition_id =
            Some(ConditionId::parse(&row.condition_id).map_err(|e| format!("condition_id: {e}"))?);
    }
    w.up_token = opt_token(&row.up_token_id_inferred, "up_token_id_inferred")?;
    w.down_token = opt_token(&row.down_token_id_inferred, "down_token_id_inferred")?;
    w.token_sides_inferred = w.up_token.is_some() || w.down_token.is_some();
    if !row.outcome_inferred.is_empty() {
        let o: Outcome = row.outcome_inferred.parse()?;
        w.outcome = Some(o);
        w.outcome_source = Some(OutcomeSource::Inferred);
    }
    w.notes
        .push(format!("source=cronos_btc5m_books ({LICENSE})"));
    w.notes
        .push("token sides and outcome inferred by the dataset curators (windows.csv)".into());
    if !row.outcome_method.is_empty() {
        w.notes
            .push(format!("outcome_method={}", row.outcome_method));
    }
    w.notes.push(format!("full_window={}", row.full_window));
    w.notes.push(format!("coverage_s={}", row.coverage_s));
    w.notes.push(format!("n_book_msgs={}", row.n_book_msgs));
    if !row.binance_move_usd.is_empty() {
        w.notes
            .push(format!("binance_move_usd={}", row.binance_move_usd));
    }
    Ok(w)
}

/// A row of `binance_um_btcusdt_1m.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KlineRow {
    /// Open time, epoch ms.
    pub open_time_ms: u64,
    /// Open price text.
    pub open: String,
    /// High price text.
    pub high: String,
    /// Low price text.
    pub low: String,
    /// Close price text.
    pub close: String,
    /// Volume in BTC (text).
    pub volume_btc: String,
}

/// The synthesized Binance USD-M kline frame of a row and its receive time (the candle's close,
/// `open_time + 60 s`). Prices and volume are copied as text.
///
/// # Errors
/// A message if a price or the volume is not a plain decimal.
pub fn kline_frame(row: &KlineRow) -> Result<(UnixNanos, String), String> {
    for (name, v) in [
        ("open", &row.open),
        ("high", &row.high),
        ("low", &row.low),
        ("close", &row.close),
        ("volume_btc", &row.volume_btc),
    ] {
        if !common::is_json_decimal(v) {
            return Err(format!("{name} {v:?} is not a plain decimal"));
        }
    }
    let c = Candle {
        open_time_ms: row.open_time_ms,
        open: &row.open,
        high: &row.high,
        low: &row.low,
        close: &row.close,
        volume: &row.volume_btc,
    };
    let recv = UnixNanos::from_millis(row.open_time_ms + 60_000);
    Ok((recv, common::binance_kline_frame(KLINE_SYMBOL, &c)))
}

/// Sources and caveats for the recording metadata.
pub(crate) fn provenance(src: &Path) -> (Vec<String>, Vec<String>) {
    (
        vec![
            format!(
                "cronos_btc5m_books (read from {}): Polymarket CLOB market-channel `book` messages from \
                 github.com/CronosVirus00/polymarket-BTC5min-database (HEAD 734d6bbbb2f2b596b6ef0f9957a4ea9bb7d4bf0d); \
                 license {LICENSE} (https://creativecommons.org/licenses/by/4.0/); windows.csv/assets.csv derived by the dataset curators",
                src.display()
            ),
            "Binance USD-M futures BTCUSDT 1m klines: github.com/owlacar-dotcom/isda commit \
             7820b0530f3ca579c3722527116f1e1dbc136497 (Binance Vision dump; Binance terms, no license stated)"
                .into(),
        ],
        vec![
            "polymarket-market frames are the recorded server messages byte-for-byte, but the recorder stored only \
             full `book` snapshots: no price_change, last_trade_price (no trade tape), tick_size_change or best_bid_ask."
                .into(),
            "The recorder mostly followed ONE token per window (usually Down); the other token appears in a minority \
             of windows, often for a single 300-message chunk."
                .into(),
            "Token sides (token_sides_inferred) and outcomes (outcome_source=inferred) are INFERRED from final books \
             and Binance moves, not read from Gamma: good but imperfect labels."
                .into(),
            "recv time = the recorder's clock (recv_ts), which runs ~0-100 ms behind the server timestamp.".into(),
            format!(
                "{KLINE_STREAM} frames are SYNTHESIZED from a 1m kline CSV in Binance's kline stream format (fields f, L, n, \
                 q, V, Q, B absent), received at candle close (open time + 60 s); coarse spot reference, and settlement \
                 uses Chainlink, not Binance."
            ),
        ],
    )
}

/// Runs the import.
pub(crate) fn run(
    src: &Path,
    out: &mut Out<'_>,
    progress: &dyn Progress,
) -> Result<(), StoreError> {
    let books = common::list_files(src, "books_", &[".jsonl.zst", ".jsonl.gz", ".jsonl"])?;
    if books.is_empty() {
        return Err(StoreError::Input {
            path: src.join("books_*.jsonl.zst"),
            line: None,
            reason: "no books_*.jsonl.zst files".into(),
        });
    }
    let windows_csv = common::required(src, "windows.csv")?;
    let assets_csv = src.join("assets.csv");
    let klines_csv = src.join("binance_um_btcusdt_1m.csv");
    let mut total = common::file_len(&windows_csv)?;
    for p in books.iter().chain([&assets_csv, &klines_csv]) {
        if p.is_file() {
            total += common::file_len(p)?;
        }
    }
    progress.set_total(total, "bytes");

    // Token side methods from assets.csv (optional).
    let mut side_methods: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    if assets_csv.is_file() {
        progress.message("assets.csv");
        common::for_each_csv(
            &assets_csv,
            &["slug", "asset_id", "token_side_inferred", "side_method"],
            progress,
            out,
            |_, _, row: AssetRow| {
                side_methods.insert(
                    (row.slug, row.asset_id),
                    (row.token_side_inferred, row.side_method),
                );
                Ok(())
            },
        )?;
    } else {
        out.warn("assets.csv not found: token side methods not noted");
    }

    // Windows.
    progress.message("windows.csv");
    let wname = common::file_name(&windows_csv);
    let mut expected_msgs: BTreeMap<String, u64> = BTreeMap::new();
    common::for_each_csv(
        &windows_csv,
        &[
            "slug",
            "window_start_unix",
            "window_end_unix",
            "condition_id",
            "up_token_id_inferred",
            "down_token_id_inferred",
            "outcome_inferred",
        ],
        progress,
        out,
        |out, line, row: WindowRow| {
            match window_from_row(&row) {
                Ok(mut w) => {
                    for (tok, label) in [(w.up_token, "up"), (w.down_token, "down")] {
                        let Some(tok) = tok else { continue };
                        if let Some((side, method)) =
                            side_methods.get(&(row.slug.clone(), tok.to_string()))
                        {
                            w.notes.push(format!(
                                "{label}_token side_method={method} (assets.csv says {side})"
                            ));
                        }
                    }
                    expected_msgs.insert(row.slug.clone(), row.n_book_msgs);
                    out.window(w);
                }
                Err(e) => out.skip(&wname, line, "bad window row", e),
            }
            Ok(())
        },
    )?;

    // Books.
    let stream = StreamId::of(Feed::PolymarketMarket);
    let mut per_slug: BTreeMap<String, u64> = BTreeMap::new();
    for path in &books {
        let name = common::file_name(path);
        progress.message(&name);
        common::for_each_line(path, progress, out, |out, line_no, line| {
            match parse_book_line(line) {
                Ok(b) => {
                    out.append(&stream, b.recv_ns, b.raw.as_bytes())?;
                    if let Some(n) = per_slug.get_mut(b.slug.as_ref()) {
                        *n += 1;
                    } else {
                        per_slug.insert(b.slug.into_owned(), 1);
                    }
                }
                Err(e) => out.skip(&name, line_no, "bad book line", e),
            }
            Ok(())
        })?;
        out.flush()?;
    }
    // Cross-check against windows.csv.
    let mut mismatched = 0u64;
    for (slug, n) in &per_slug {
        match expected_msgs.get(slug) {
            Some(exp) if exp == n => {}
            Some(exp) => {
                mismatched += 1;
                out.warn(format!(
                    "{slug}: {n} book messages, windows.csv says n_book_msgs={exp}"
                ));
            }
            None => {
                mismatched += 1;
                out.warn(format!(
                    "{slug}: {n} book messages but no windows.csv row; window created from the slug"
                ));
                if let Some(mut w) = Window::from_slug(slug) {
                    w.notes
                        .push(format!("source=cronos_btc5m_books ({LICENSE})"));
                    w.notes
                        .push("not in windows.csv: no ids, sides or outcome".into());
                    out.window(w);
                }
            }
        }
    }
    for slug in expected_msgs.keys() {
        if !per_slug.contains_key(slug) {
            mismatched += 1;
            out.warn(format!("{slug}: in windows.csv but no book messages"));
        }
    }
    let key = if mismatched == 0 {
        "book messages per slug matching windows.csv n_book_msgs"
    } else {
        "slugs whose book message count disagrees with windows.csv"
    };
    out.count(
        key,
        if mismatched == 0 {
            per_slug.len() as u64
        } else {
            mismatched
        },
    );

    // Klines.
    if klines_csv.is_file() {
        progress.message("binance_um_btcusdt_1m.csv");
        let kname = common::file_name(&klines_csv);
        let kstream = StreamId::named(Feed::BinanceUsdm, KLINE_STREAM)?;
        common::for_each_csv(
            &klines_csv,
            &["open_time_ms", "open", "high", "low", "close", "volume_btc"],
            progress,
            out,
            |out, line, row: KlineRow| {
                match kline_frame(&row) {
                    Ok((recv, frame)) => out.append(&kstream, recv, frame.as_bytes())?,
                    Err(e) => out.skip(&kname, line, "bad kline row", e),
                }
                Ok(())
            },
        )?;
        out.flush()?;
    } else {
        out.warn("binance_um_btcusdt_1m.csv not found: no kline frames");
    }
    Ok(())
}
