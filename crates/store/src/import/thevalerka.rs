//! `thevalerka_btc15m_1hz_2026-02-02`: 1 Hz Polymarket BTC 15-minute best bid/ask, 2026-02-02
//! (license: none stated).
//!
//! One `btc15m_bbo_1hz_*.csv.zst` with a `source_file` column `prices_YYYYMMDD_HHMM.csv`: the
//! window start (UTC), so the slug is `btc-updown-15m-<unix of that time>`. `call` = Up,
//! `put` = Down. No token ids: [`TokenId::synthetic`]`(slug, "up" | "down")`, flagged. Each row
//! becomes two synthesized `best_bid_ask` frames on stream `polymarket-bbo`, received at
//! `timestamp_ms`; a `0` price is an empty side. The outcome is inferred from the final row of
//! each window ([`infer_outcome`], [`OutcomeSource::Inferred`]), `None` if undecided.

use std::collections::BTreeMap;
use std::path::Path;

use polyedge_core::{Outcome, OutcomeSource, Price, TokenId, UnixNanos, Window};
use polyedge_venues::Feed;
use serde::Deserialize;

use super::Out;
use super::common::{self, days_from_civil};
use crate::{Progress, StoreError, StreamId};

/// Stream name of the top-of-book frames.
pub const BBO_STREAM: &str = "polymarket-bbo";
/// A side wins when its final bid or mid is at least this (micro-units).
pub const WIN_THRESHOLD_MICROS: u32 = 900_000;
/// The final row must be at most this many seconds before expiry to decide the outcome.
pub const MAX_FINAL_SECONDS_TO_EXPIRY: u64 = 5;

const SOURCE_NOTE: &str = "source=thevalerka_btc15m_1hz_2026-02-02 (no license stated)";

/// A row of the CSV (the columns the importer uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Row {
    /// Original file name, `prices_YYYYMMDD_HHMM.csv` (window start, UTC).
    pub source_file: String,
    /// Collector time, epoch ms.
    pub timestamp_ms: u64,
    /// Up best bid.
    pub call_bid: String,
    /// Up best ask.
    pub call_ask: String,
    /// Up mid.
    pub call_mid: String,
    /// Down best bid.
    pub put_bid: String,
    /// Down best ask.
    pub put_ask: String,
    /// Down mid.
    pub put_mid: String,
    /// Seconds to the window end (decimal text).
    pub seconds_to_expiry: String,
}

/// The slug and start (unix s) of a `prices_YYYYMMDD_HHMM.csv` file name:
/// `btc-updown-15m-<start>`.
pub fn slug_of_source_file(name: &str) -> Option<(String, u64)> {
    let stem = name.strip_prefix("prices_")?.strip_suffix(".csv")?;
    let (date, hm) = stem.split_once('_')?;
    if date.len() != 8
        || hm.len() != 4
        || !date.bytes().chain(hm.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let y: i64 = date[..4].parse().ok()?;
    let m: u32 = date[4..6].parse().ok()?;
    let d: u32 = date[6..].parse().ok()?;
    let hh: i64 = hm[..2].parse().ok()?;
    let mm: i64 = hm[2..].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 {
        return None;
    }
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60;
    let secs = u64::try_from(secs).ok()?;
    Some((format!("btc-updown-15m-{secs}"), secs))
}

fn price(text: &str, what: &str) -> Result<Price, String> {
    Price::parse(text).map_err(|e| format!("{what} {text:?}: {e}"))
}

fn side(text: &str, what: &str) -> Result<Option<Price>, String> {
    let p = price(text, what)?;
    Ok(if p == Price::ZERO { None } else { Some(p) })
}

/// The synthetic `(up, down)` token ids of a slug.
pub fn synthetic_tokens(slug: &str) -> (TokenId, TokenId) {
    (
        TokenId::synthetic(slug, "up"),
        TokenId::synthetic(slug, "down"),
    )
}

/// The two synthesized `best_bid_ask` frames (Up = call, then Down = put) of a row of window
/// `slug`, and its receive time (`timestamp_ms`).
///
/// # Errors
/// A message if a price is malformed or outside `[0, 1]`.
pub fn row_frames(row: &Row, slug: &str) -> Result<(UnixNanos, [String; 2]), String> {
    let (up, down) = synthetic_tokens(slug);
    let ms = row.timestamp_ms;
    Ok((
        UnixNanos::from_millis(ms),
        [
            common::best_bid_ask_frame(
                None,
                &up,
                side(&row.call_bid, "call_bid")?,
                side(&row.call_ask, "call_ask")?,
                ms,
            ),
            common::best_bid_ask_frame(
                None,
                &down,
                side(&row.put_bid, "put_bid")?,
                side(&row.put_ask, "put_ask")?,
                ms,
            ),
        ],
    ))
}

/// The outcome shown by a window's final row: the side whose bid or mid is ≥ 0.9 when exactly
/// one side is, and the row is at most [`MAX_FINAL_SECONDS_TO_EXPIRY`] s before expiry; else
/// `None` (undecided).
pub fn infer_outcome(last: &Row) -> Option<Outcome> {
    let ste = polyedge_core::fixed::parse_scaled(&last.seconds_to_expiry, 6).ok()?;
    if ste > i128::from(MAX_FINAL_SECONDS_TO_EXPIRY) * 1_000_000 {
        return None;
    }
    let wins = |bid: &str, mid: &str| -> Option<bool> {
        let b = price(bid, "bid").ok()?;
        let m = price(mid, "mid").ok()?;
        Some(b.micros() >= WIN_THRESHOLD_MICROS || m.micros() >= WIN_THRESHOLD_MICROS)
    };
    match (
        wins(&last.call_bid, &last.call_mid)?,
        wins(&last.put_bid, &last.put_mid)?,
    ) {
        (true, false) => Some(Outcome::Up),
        (false, true) => Some(Outcome::Down),
        _ => None,
    }
}

/// Sources and caveats for the recording metadata.
pub(crate) fn provenance(src: &Path) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "thevalerka_btc15m_1hz_2026-02-02 (read from {}): github.com/thevalerka/PolyMarket_15MIN_Bot_Collection \
             commit c81479b9f00eabb2552b72c25ae7c0be0145bce1, bot016_react/simulators/csv_data/prices_20260202_HHMM.csv \
             (27 files concatenated with a source_file column); license: none stated",
            src.display()
        )],
        vec![
            format!(
                "{BBO_STREAM} frames are SYNTHESIZED `best_bid_ask` messages from a ~1 Hz best bid/ask table (BTC 15-minute \
                 windows): no sizes, no depth, no trades; 0 = empty side (field omitted); no condition id."
            ),
            "Token ids are SYNTHETIC (TokenId::synthetic(slug, \"up\"|\"down\"); token_ids_synthetic=true): they match \
             no real market."
                .into(),
            "Outcomes are INFERRED from each window's final row (a side with bid or mid >= 0.9 within 5 s of expiry); \
             undecided windows have none. The first and last windows are partial; the first ~5 s of a window can show \
             0.00/0.01 placeholder books."
                .into(),
        ],
    )
}

/// Runs the import.
pub(crate) fn run(
    src: &Path,
    out: &mut Out<'_>,
    progress: &dyn Progress,
) -> Result<(), StoreError> {
    let files = common::list_files(src, "btc15m_bbo_1hz_", &[".csv.zst", ".csv.gz", ".csv"])?;
    if files.is_empty() {
        return Err(StoreError::Input {
            path: src.join("btc15m_bbo_1hz_*.csv.zst"),
            line: None,
            reason: "no btc15m_bbo_1hz_*.csv(.zst) file".into(),
        });
    }
    let mut total = 0;
    for p in &files {
        total += common::file_len(p)?;
    }
    progress.set_total(total, "bytes");
    let stream = StreamId::named(Feed::PolymarketMarket, BBO_STREAM)?;
    // Last row per slug (for the outcome).
    let mut last: BTreeMap<String, Row> = BTreeMap::new();
    for path in &files {
        let name = common::file_name(path);
        progress.message(&name);
        common::for_each_csv(
            path,
            &[
                "source_file",
                "timestamp_ms",
                "call_bid",
                "call_ask",
                "call_mid",
                "put_bid",
                "put_ask",
                "put_mid",
                "seconds_to_expiry",
            ],
            progress,
            out,
            |out, line, row: Row| {
                let Some((slug, _)) = slug_of_source_file(&row.source_file) else {
                    out.skip(
                        &name,
                        line,
                        "source_file is not prices_YYYYMMDD_HHMM.csv",
                        &row.source_file,
                    );
                    return Ok(());
                };
                let (recv, frames) = match row_frames(&row, &slug) {
                    Ok(x) => x,
                    Err(e) => {
                        out.skip(&name, line, "bad price", e);
                        return Ok(());
                    }
                };
                for f in &frames {
                    out.append(&stream, recv, f.as_bytes())?;
                }
                if out.window_mut(&slug).is_none() {
                    let mut w = Window::from_slug(&slug).ok_or_else(|| StoreError::Input {
                        path: path.clone(),
                        line: Some(line),
                        reason: format!("bad derived slug {slug}"),
                    })?;
                    let (up, down) = synthetic_tokens(&slug);
                    w.up_token = Some(up);
                    w.down_token = Some(down);
                    w.token_ids_synthetic = true;
                    w.notes.push(SOURCE_NOTE.into());
                    w.notes.push(format!("source_file={}", row.source_file));
                    w.notes.push(
                        "token ids synthetic (TokenId::synthetic(slug, up|down)): the source has none"
                            .into(),
                    );
                    out.window(w);
                }
                last.insert(slug, row);
                Ok(())
            },
        )?;
        out.flush()?;
    }
    for (slug, row) in &last {
        let Some(w) = out.window_mut(slug) else {
            continue;
        };
        let final_row = format!(
            "final row: call {}/{} put {}/{} at {} s to expiry",
            row.call_bid, row.call_ask, row.put_bid, row.put_ask, row.seconds_to_expiry
        );
        match infer_outcome(row) {
            Some(o) => {
                w.outcome = Some(o);
                w.outcome_source = Some(OutcomeSource::Inferred);
                w.notes.push(
                    "outcome_method=final_row_bid_or_mid>=0.9 (inferred from the last book row)"
                        .into(),
                );
            }
            None => w
                .notes
                .push("outcome undecided by the final row: unset".into()),
        }
        w.notes.push(final_row);
    }
    Ok(())
}
