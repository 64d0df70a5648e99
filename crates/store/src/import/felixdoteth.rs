//! `felixdoteth_btc5m_outcomes`: resolutions of BTC 5-minute windows (from Gamma) with Binance
//! BTCUSDT spot open/close (MIT). Windows only, no frames: one [`Window`] per row (slug
//! `btc-updown-5m-<timestamp>`), outcome [`OutcomeSource::Official`], Binance open/close and
//! change in the notes. The rows are unsorted in the file; the window index is written sorted
//! by start.

use std::path::Path;

use polyedge_core::{Asset, OutcomeSource, Price, Window, WindowDuration};
use serde::Deserialize;

use super::Out;
use super::common;
use crate::{Progress, StoreError};

/// The dataset's file.
pub const FILE: &str = "polymarket_btc_5m_enriched.csv";

/// A row of `polymarket_btc_5m_enriched.csv` (the columns the importer uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Row {
    /// Window start, unix s.
    pub timestamp: u64,
    /// `up` or `down` (Gamma).
    pub outcome: String,
    /// Final Up price (`1.0`/`0.0`).
    #[serde(default)]
    pub up_price: String,
    /// Final Down price.
    #[serde(default)]
    pub down_price: String,
    /// Binance BTCUSDT spot at window open (text).
    #[serde(default)]
    pub btc_open: String,
    /// Binance BTCUSDT spot at window close (text).
    #[serde(default)]
    pub btc_close: String,
    /// Percent change (text).
    #[serde(default)]
    pub btc_change_pct: String,
}

/// The [`Window`] of a row: `btc-updown-5m-<timestamp>`, official outcome, notes.
///
/// # Errors
/// A message if the start is not on a 5-minute boundary, the outcome is not up/down, or the
/// final prices contradict the outcome.
pub fn window_from_row(row: &Row) -> Result<Window, String> {
    if !row.timestamp.is_multiple_of(300) {
        return Err(format!(
            "timestamp {} is not a 5-minute boundary",
            row.timestamp
        ));
    }
    let slug = format!("btc-updown-5m-{}", row.timestamp);
    let mut w = Window::new(slug, Asset::Btc, WindowDuration::M5, row.timestamp);
    let o = row.outcome.parse()?;
    if !row.up_price.is_empty() && !row.down_price.is_empty() {
        let up = Price::parse(&row.up_price).map_err(|e| format!("up_price: {e}"))?;
        let down = Price::parse(&row.down_price).map_err(|e| format!("down_price: {e}"))?;
        let expected = match o {
            polyedge_core::Outcome::Up => (Price::ONE, Price::ZERO),
            polyedge_core::Outcome::Down => (Price::ZERO, Price::ONE),
        };
        if (up, down) != expected {
            return Err(format!(
                "up_price/down_price {}/{} contradict outcome {}",
                row.up_price, row.down_price, row.outcome
            ));
        }
    }
    w.outcome = Some(o);
    w.outcome_source = Some(OutcomeSource::Official);
    w.notes
        .push("source=felixdoteth_btc5m_outcomes (MIT); outcome from Gamma".into());
    if !row.btc_open.is_empty() {
        w.notes.push(format!(
            "binance_open={} binance_close={} btc_change_pct={} (Binance BTCUSDT spot; settlement uses Chainlink)",
            row.btc_open, row.btc_close, row.btc_change_pct
        ));
    }
    Ok(w)
}

/// Sources and caveats for the recording metadata.
pub(crate) fn provenance(src: &Path) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "felixdoteth_btc5m_outcomes (read from {}): github.com/felixdoteth/polymarket-btc-5m-dataset- commit \
             e7fda9632cfa30342ff80513fad5b06497990e47, {FILE} (MIT)",
            src.display()
        )],
        vec![
            "Outcomes only (official, from Gamma): no frames, no token ids, no strikes.".into(),
            "Binance open/close in the window notes are Binance BTCUSDT spot, not the Chainlink settlement source \
             (~3 % of windows disagree in direction)."
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
    let path = common::required(src, FILE)?;
    progress.set_total(common::file_len(&path)?, "bytes");
    progress.message(FILE);
    common::for_each_csv(
        &path,
        &["timestamp", "outcome"],
        progress,
        out,
        |out, line, row: Row| {
            match window_from_row(&row) {
                Ok(w) => out.window(w),
                Err(e) => out.skip(FILE, line, "bad outcome row", e),
            }
            Ok(())
        },
    )?;
    Ok(())
}
