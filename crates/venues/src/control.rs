//! Parser for the **control** stream a recorder writes beside the venue streams
//! (`docs/recording-format.md` §4.7): one JSON object per record, `{"type": …, …}`.
//!
//! | `type` | fields | events |
//! |---|---|---|
//! | `gap` | `stream`, `reason` | one [`EventKind::Gap`]: continuity on `stream` was lost at this record's receive time |
//! | `rest` | `stream`, `venue` (`binance-spot`/`binance-usdm`), `endpoint` (`depth`), `symbol`, `body` (the response, verbatim) | the parsed REST snapshot (one [`EventKind::SpotDepth`] snapshot) |
//! | `window` | `window` (a window as in `windows.jsonl`) | one [`EventKind::WindowUpdate`]: what the recorder knew about the window at this receive time |
//! | `connect`, `gamma`, `health`, `flush` | informational (`flush`: a run's flush marker, §4.7) | none (`Ok(0)`) |
//! | anything else | not known to this version | none (`Ok(0)`), counted |
//!
//! Unknown `type`s append nothing so that newer recorders' control records do not count as parse
//! errors in older readers; they are counted in [`crate::unknown`]. A `rest` record whose
//! `venue`/`endpoint` is not known here is counted and skipped the same way.

use polyedge_core::event::Gap;
use polyedge_core::{EventKind, MarketEvent, UnixNanos, Window};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{ParseError, binance};

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default, borrow)]
    venue: Option<&'a str>,
    #[serde(default, borrow)]
    endpoint: Option<&'a str>,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default, borrow)]
    body: Option<&'a RawValue>,
    #[serde(default)]
    window: Option<Box<Window>>,
}

/// Parses one control record and appends its events to `out`; returns how many.
///
/// # Errors
/// Nothing is appended on error.
/// - [`ParseError::Json`]: not a JSON object with a string `type`.
/// - [`ParseError::MissingField`]: a `gap` without `stream`, or a known `rest` record without
///   `symbol` or `body`.
/// - Errors of the REST parser ([`binance::parse_rest_depth`]) for a malformed snapshot body.
pub fn parse(
    frame: &[u8],
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    let rec: Record<'_> = serde_json::from_slice(frame)?;
    match rec.kind {
        "gap" => {
            let stream = rec.stream.ok_or(ParseError::MissingField("stream"))?;
            out.push(MarketEvent {
                recv_ns,
                venue_ns: None,
                kind: EventKind::Gap(Gap {
                    stream,
                    reason: rec.reason.unwrap_or_default(),
                }),
            });
            Ok(1)
        }
        "rest" => {
            let parser = match (rec.venue, rec.endpoint) {
                (Some("binance-spot"), Some("depth")) => binance::parse_rest_depth,
                (Some("binance-usdm"), Some("depth")) => binance::parse_usdm_rest_depth,
                (venue, endpoint) => {
                    crate::unknown::note(|| {
                        format!("control rest record of {venue:?}/{endpoint:?}")
                    });
                    return Ok(0);
                }
            };
            let symbol = rec.symbol.ok_or(ParseError::MissingField("symbol"))?;
            let body = rec.body.ok_or(ParseError::MissingField("body"))?;
            out.push(parser(body.get().as_bytes(), &symbol, recv_ns)?);
            Ok(1)
        }
        "window" => {
            let window = rec.window.ok_or(ParseError::MissingField("window"))?;
            out.push(MarketEvent {
                recv_ns,
                venue_ns: None,
                kind: EventKind::WindowUpdate(window),
            });
            Ok(1)
        }
        "connect" | "gamma" | "health" | "flush" => Ok(0),
        other => {
            crate::unknown::note(|| format!("control record type {other:?}"));
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_record_becomes_a_gap_event() {
        let mut out = Vec::new();
        let n = parse(
            br#"{"type":"gap","stream":"polymarket-market","reason":"disconnected: reset"}"#,
            UnixNanos(5),
            &mut out,
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(out[0].recv_ns, UnixNanos(5));
        match &out[0].kind {
            EventKind::Gap(g) => {
                assert_eq!(g.stream, "polymarket-market");
                assert_eq!(g.reason, "disconnected: reset");
            }
            k => panic!("not a gap: {k:?}"),
        }
    }

    #[test]
    fn rest_depth_record_becomes_a_snapshot() {
        let mut out = Vec::new();
        let rec = br#"{"type":"rest","stream":"binance-spot","venue":"binance-spot","endpoint":"depth","symbol":"BTCUSDT","body":{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}}"#;
        assert_eq!(parse(rec, UnixNanos(7), &mut out).unwrap(), 1);
        match &out[0].kind {
            EventKind::SpotDepth(d) => {
                assert!(d.is_snapshot);
                assert_eq!(d.last_update_id, Some(1_027_024));
                assert_eq!(
                    d.symbol.as_ref().map(polyedge_core::Symbol::as_str),
                    Some("BTCUSDT")
                );
            }
            k => panic!("not depth: {k:?}"),
        }
    }

    #[test]
    fn informational_and_unknown_records_append_nothing() {
        let mut out = Vec::new();
        let before = crate::unknown::skipped();
        for rec in [
            &br#"{"type":"connect","stream":"rtds","url":"ws://x"}"#[..],
            br#"{"type":"gamma","slug":"btc-updown-5m-1","body":[]}"#,
            br#"{"type":"health","interval_s":60}"#,
        ] {
            assert_eq!(parse(rec, UnixNanos(1), &mut out).unwrap(), 0);
        }
        assert_eq!(
            crate::unknown::skipped(),
            before,
            "informational, not unknown"
        );
        for rec in [
            &br#"{"type":"from-the-future","x":1}"#[..],
            br#"{"type":"rest","venue":"okx","endpoint":"depth","symbol":"BTC","body":{}}"#,
        ] {
            assert_eq!(parse(rec, UnixNanos(1), &mut out).unwrap(), 0);
        }
        assert_eq!(crate::unknown::skipped() - before, 2);
        assert!(crate::unknown::last().contains("okx"));
        assert!(out.is_empty());
    }

    #[test]
    fn malformed_records_are_errors() {
        let mut out = Vec::new();
        assert!(matches!(
            parse(b"{nope", UnixNanos(1), &mut out),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse(br#"{"type":"gap"}"#, UnixNanos(1), &mut out),
            Err(ParseError::MissingField("stream"))
        ));
        assert!(
            parse(
                br#"{"type":"rest","venue":"binance-spot","endpoint":"depth","symbol":"BTCUSDT","body":{"bids":"x"}}"#,
                UnixNanos(1),
                &mut out
            )
            .is_err()
        );
        assert!(out.is_empty());
    }
}
