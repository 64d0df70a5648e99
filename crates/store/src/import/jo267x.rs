//! `jo267x_btc5m_1hz_2026-05`: 1 Hz Polymarket BTC 5m best bid/ask recorded live by the
//! "polybench" harness, with the harness's recorded resolutions (MIT per the upstream README).
//!
//! Three CSVs (`overnight.csv`, `live2.csv`, `my_live_event.csv`). The source has no token ids,
//! so windows use [`TokenId::synthetic`]`(slug, "up" | "down")` and are flagged
//! `token_ids_synthetic`. Each row becomes two synthesized `best_bid_ask` frames (Up, Down) on
//! stream `polymarket-bbo`, received at `ts` (decimal seconds, exact); a `0.0` price is an empty
//! side (field omitted). All rows of all files are written in `ts` order (stable).
//! `resolved_outcome` `UP`/`DOWN` gives the outcome ([`OutcomeSource::Official`]: the harness's
//! recorded resolution, noted); `UNKNOWN` leaves it unset. Windows are deduplicated by slug.

use std::collections::BTreeMap;
use std::path::Path;

use polyedge_core::{Outcome, OutcomeSource, Price, TokenId, UnixNanos, Window};
use polyedge_venues::Feed;
use serde::Deserialize;

use super::Out;
use super::common;
use crate::{Progress, StoreError, StreamId};

/// Stream name of the top-of-book frames.
pub const BBO_STREAM: &str = "polymarket-bbo";
/// The dataset's files, in chronological order.
pub const FILES: [&str; 3] = ["my_live_event.csv", "live2.csv", "overnight.csv"];

const SOURCE_NOTE: &str = "source=jo267x_btc5m_1hz_2026-05 (MIT per upstream README)";

/// A row of the CSVs (the columns the importer uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Row {
    /// Harness time, unix seconds (decimal text).
    pub ts: String,
    /// Gamma event id.
    #[serde(default)]
    pub event_id: String,
    /// Window slug.
    pub slug: String,
    /// Up best bid (`0.0` = empty).
    pub up_bid: String,
    /// Up best ask (`0.0` = empty).
    pub up_ask: String,
    /// Down best bid (`0.0` = empty).
    pub down_bid: String,
    /// Down best ask (`0.0` = empty).
    pub down_ask: String,
    /// `UP`, `DOWN`, `UNKNOWN` or empty.
    #[serde(default)]
    pub resolved_outcome: String,
}

fn side_price(text: &str, what: &str) -> Result<Option<Price>, String> {
    let p = Price::parse(text).map_err(|e| format!("{what} {text:?}: {e}"))?;
    Ok(if p == Price::ZERO { None } else { Some(p) })
}

/// The synthetic `(up, down)` token ids of a slug.
pub fn synthetic_tokens(slug: &str) -> (TokenId, TokenId) {
    (
        TokenId::synthetic(slug, "up"),
        TokenId::synthetic(slug, "down"),
    )
}

/// The two synthesized `best_bid_ask` frames (Up, then Down) of a row and its receive time.
/// Prices are parsed exactly and written in the venue's canonical form (`0.99`, `1`).
///
/// # Errors
/// A message if `ts` or a price is malformed.
pub fn row_frames(row: &Row) -> Result<(UnixNanos, [String; 2]), String> {
    let recv = common::parse_secs(&row.ts, "ts")?;
    let ms = recv.millis();
    let (up, down) = synthetic_tokens(&row.slug);
    let up_frame = common::best_bid_ask_frame(
        None,
        &up,
        side_price(&row.up_bid, "up_bid")?,
        side_price(&row.up_ask, "up_ask")?,
        ms,
    );
    let down_frame = common::best_bid_ask_frame(
        None,
        &down,
        side_price(&row.down_bid, "down_bid")?,
        side_price(&row.down_ask, "down_ask")?,
        ms,
    );
    Ok((recv, [up_frame, down_frame]))
}

/// The window of a slug: synthetic token ids (flagged), provenance notes, no outcome yet.
///
/// # Errors
/// A message if the slug is not an Up/Down slug.
pub fn window_for(slug: &str, event_id: &str) -> Result<Window, String> {
    let mut w =
        Window::from_slug(slug).ok_or_else(|| format!("slug {slug:?} is not an Up/Down slug"))?;
    let (up, down) = synthetic_tokens(slug);
    w.up_token = Some(up);
    w.down_token = Some(down);
    w.token_ids_synthetic = true;
    w.notes.push(SOURCE_NOTE.into());
    w.notes.push(
        "token ids synthetic (TokenId::synthetic(slug, up|down)): the source has none".into(),
    );
    if !event_id.is_empty() {
        w.notes.push(format!("gamma_event_id={event_id}"));
    }
    Ok(w)
}

/// The outcome a `resolved_outcome` value names: `UP`/`DOWN` → `Some`, anything else `None`.
pub fn resolved_outcome(text: &str) -> Option<Outcome> {
    match text {
        "UP" => Some(Outcome::Up),
        "DOWN" => Some(Outcome::Down),
        _ => None,
    }
}

/// Sources and caveats for the recording metadata.
pub(crate) fn provenance(src: &Path) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "jo267x_btc5m_1hz_2026-05 (read from {}): github.com/Jo267x/polymarket-btc-takehome commit \
             0cfb2567b8df47710fc1c1d043479272031c2f37 (MIT per upstream README), tests/fixtures/{{overnight,live2,\
             my_live_event}}.parquet, market columns exported to CSV",
            src.display()
        )],
        vec![
            format!(
                "{BBO_STREAM} frames are SYNTHESIZED `best_bid_ask` messages from a ~1 Hz best bid/ask table: no sizes, no \
                 depth, no trades; 0.0 = empty side (field omitted); no condition id (`market` omitted)."
            ),
            "Token ids are SYNTHETIC (TokenId::synthetic(slug, \"up\"|\"down\"); token_ids_synthetic=true): they match \
             no real market."
                .into(),
            "Outcomes are the harness's recorded resolution (resolved_outcome), marked official; UNKNOWN left unset."
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
    let mut paths = Vec::new();
    for f in FILES {
        let p = src.join(f);
        if p.is_file() {
            paths.push(p);
        } else {
            out.warn(format!("{f} not found"));
        }
    }
    if paths.is_empty() {
        return Err(StoreError::Input {
            path: src.join(FILES[0]),
            line: None,
            reason: format!("none of {} found", FILES.join(", ")),
        });
    }
    let mut total = 0;
    for p in &paths {
        total += common::file_len(p)?;
    }
    progress.set_total(total, "bytes");

    // (recv, file index, line, frames); written sorted by recv.
    let mut frames: Vec<(UnixNanos, usize, u64, [String; 2])> = Vec::new();
    let mut outcomes: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    for (fi, path) in paths.iter().enumerate() {
        let name = common::file_name(path);
        progress.message(&name);
        common::for_each_csv(
            path,
            &["ts", "slug", "up_bid", "up_ask", "down_bid", "down_ask"],
            progress,
            out,
            |out, line, row: Row| {
                let w = match window_for(&row.slug, &row.event_id) {
                    Ok(w) => w,
                    Err(e) => {
                        out.skip(&name, line, "bad slug", e);
                        return Ok(());
                    }
                };
                let (recv, fr) = match row_frames(&row) {
                    Ok(x) => x,
                    Err(e) => {
                        out.skip(&name, line, "bad row", e);
                        return Ok(());
                    }
                };
                frames.push((recv, fi, line, fr));
                if out.window_mut(&row.slug).is_none() {
                    out.window(w);
                }
                if let Some(o) = resolved_outcome(&row.resolved_outcome) {
                    outcomes.entry(row.slug.clone()).or_default().push(o);
                } else if !row.resolved_outcome.is_empty() {
                    *unknown.entry(row.slug.clone()).or_default() += 1;
                }
                Ok(())
            },
        )?;
    }
    let unsorted = frames.windows(2).filter(|p| p[1].0 < p[0].0).count() as u64;
    if unsorted > 0 {
        out.count(
            "rows out of ts order across files (stably sorted)",
            unsorted,
        );
    }
    frames.sort_by_key(|f| f.0);
    let stream = StreamId::named(Feed::PolymarketMarket, BBO_STREAM)?;
    for (recv, _, _, fr) in &frames {
        for f in fr {
            out.append(&stream, *recv, f.as_bytes())?;
        }
    }
    out.flush()?;

    for (slug, os) in &outcomes {
        let Some(w) = out.window_mut(slug) else {
            continue;
        };
        let first = os[0];
        if os.iter().all(|o| *o == first) {
            w.outcome = Some(first);
            w.outcome_source = Some(OutcomeSource::Official);
            w.notes.push(
                "outcome = the polybench harness's recorded resolution (resolved_outcome)".into(),
            );
        } else {
            w.notes.push(format!(
                "conflicting resolved_outcome rows {os:?}: outcome unset"
            ));
            out.warn(format!("{slug}: conflicting resolved_outcome rows {os:?}"));
        }
    }
    for slug in unknown.keys() {
        if let Some(w) = out.window_mut(slug)
            && w.outcome.is_none()
        {
            w.notes
                .push("harness recorded resolved_outcome=UNKNOWN: outcome unset".into());
        }
    }
    Ok(())
}
