//! Binance spot and USDⓈ-M combined streams (protocols.md §8.1) with local-book continuity.
//!
//! The connection URL carries the subscription (`<base>/stream?streams=btcusdt@trade/…`); the
//! server pings and tungstenite answers. For depth diff streams (`@depth`, `@depth@100ms`):
//!
//! * after every (re)connect, and after every sequence break, a REST depth snapshot
//!   (`/api/v3/depth?limit=5000`, `/fapi/v1/depth?limit=1000`) is fetched and recorded on the
//!   control stream (`{"type":"rest",…}`), so replay can build the book: snapshot first, then the
//!   diffs with `u > lastUpdateId`;
//! * each diff is checked against the previous one of its symbol — spot `U == prev_u + 1`,
//!   USDⓈ-M `pu == prev_u` — and a break is recorded as a gap marker followed by a new snapshot;
//! * a snapshot older than the first diff received since the (re)sync (`lastUpdateId + 1 < U`)
//!   cannot be bridged: a new one is fetched.

use std::collections::HashMap;

use polyedge_core::{EventKind, MarketEvent};
use serde::Deserialize;

use crate::ws::{Action, Protocol, SnapshotRequest};

/// Spot or USDⓈ-M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Market {
    /// Spot (`U == prev_u + 1`).
    Spot,
    /// USDⓈ-M futures (`pu == prev_u`).
    Usdm,
}

#[derive(Debug, Clone, Default)]
struct DepthState {
    /// `u` of the last diff.
    last_u: Option<u64>,
    /// `U` of the first diff since the last (re)sync request.
    first_u: Option<u64>,
    /// A snapshot request is outstanding.
    pending: bool,
}

/// A Binance combined-stream connection.
#[derive(Debug, Clone)]
pub struct Binance {
    market: Market,
    ws_base: String,
    rest_base: String,
    symbols: Vec<String>,
    streams: Vec<String>,
    snapshots: bool,
    depth: HashMap<String, DepthState>,
}

#[derive(Deserialize)]
struct SnapshotHead {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
}

fn is_diff_stream(s: &str) -> bool {
    s == "depth" || s.starts_with("depth@")
}

impl Binance {
    /// A connection to `ws_base` (`…/stream?streams=` is appended) for `symbols` (lowercase,
    /// `btcusdt`) × `streams` (`trade`, `depth@100ms`, …); REST snapshots from `rest_base` when
    /// `snapshots` and a diff stream is subscribed.
    pub fn new(
        market: Market,
        ws_base: &str,
        rest_base: &str,
        symbols: &[String],
        streams: &[String],
        snapshots: bool,
    ) -> Self {
        let snapshots = snapshots && streams.iter().any(|s| is_diff_stream(s));
        Binance {
            market,
            ws_base: ws_base.trim_end_matches('/').to_string(),
            rest_base: rest_base.trim_end_matches('/').to_string(),
            symbols: symbols.iter().map(|s| s.to_ascii_lowercase()).collect(),
            streams: streams.to_vec(),
            snapshots,
            depth: HashMap::new(),
        }
    }

    fn venue(&self) -> &'static str {
        match self.market {
            Market::Spot => "binance-spot",
            Market::Usdm => "binance-usdm",
        }
    }

    /// The REST depth snapshot request of `symbol` (upper case).
    pub fn snapshot_request(&self, symbol: &str) -> SnapshotRequest {
        let url = match self.market {
            Market::Spot => format!("{}/api/v3/depth?symbol={symbol}&limit=5000", self.rest_base),
            Market::Usdm => format!(
                "{}/fapi/v1/depth?symbol={symbol}&limit=1000",
                self.rest_base
            ),
        };
        SnapshotRequest {
            symbol: symbol.to_string(),
            url,
            venue: self.venue(),
            endpoint: "depth",
        }
    }

    fn resync(&mut self, symbol: &str, out: &mut Vec<Action>) {
        let st = self.depth.entry(symbol.to_string()).or_default();
        st.first_u = None;
        st.last_u = None;
        if !st.pending {
            st.pending = true;
            out.push(Action::Snapshot(self.snapshot_request(symbol)));
        }
    }
}

impl Protocol for Binance {
    fn url(&self) -> Option<String> {
        let names: Vec<String> = self
            .symbols
            .iter()
            .flat_map(|sym| self.streams.iter().map(move |s| format!("{sym}@{s}")))
            .collect();
        (!names.is_empty()).then(|| format!("{}/stream?streams={}", self.ws_base, names.join("/")))
    }

    fn on_connect(&mut self) -> Vec<String> {
        Vec::new()
    }

    fn snapshots_on_connect(&mut self) -> Vec<SnapshotRequest> {
        self.depth.clear();
        if !self.snapshots {
            return Vec::new();
        }
        let symbols: Vec<String> = self
            .symbols
            .iter()
            .map(|s| s.to_ascii_uppercase())
            .collect();
        symbols
            .iter()
            .map(|s| {
                self.depth.entry(s.clone()).or_default().pending = true;
                self.snapshot_request(s)
            })
            .collect()
    }

    fn needs_events(&self) -> bool {
        self.snapshots
    }

    fn on_frame(&mut self, _frame: &[u8], events: &[MarketEvent], out: &mut Vec<Action>) {
        if !self.snapshots {
            return;
        }
        for ev in events {
            let EventKind::SpotDepth(d) = &ev.kind else {
                continue;
            };
            if d.is_snapshot {
                continue;
            }
            let (Some(sym), Some(first), Some(last)) =
                (d.symbol.as_ref(), d.first_update_id, d.last_update_id)
            else {
                continue;
            };
            let sym = sym.as_str().to_string();
            let st = self.depth.entry(sym.clone()).or_default();
            let broken = match (self.market, st.last_u) {
                (Market::Spot, Some(prev)) => first != prev + 1,
                (Market::Usdm, Some(prev)) => d.prev_update_id.is_some_and(|pu| pu != prev),
                (_, None) => false,
            };
            if broken {
                let prev = st.last_u.unwrap_or_default();
                out.push(Action::Gap(format!(
                    "depth sequence break on {sym}: previous u={prev}, this U={first} pu={:?}",
                    d.prev_update_id
                )));
                self.resync(&sym, out);
                let st = self.depth.entry(sym).or_default();
                st.first_u = Some(first);
                st.last_u = Some(last);
                continue;
            }
            if st.first_u.is_none() {
                st.first_u = Some(first);
            }
            st.last_u = Some(last);
        }
    }

    fn on_snapshot(&mut self, req: &SnapshotRequest, body: &[u8], out: &mut Vec<Action>) {
        let st = self.depth.entry(req.symbol.clone()).or_default();
        st.pending = false;
        let Ok(head) = serde_json::from_slice::<SnapshotHead>(body) else {
            tracing::warn!(symbol = %req.symbol, "depth snapshot without lastUpdateId; fetching another");
            st.pending = true;
            out.push(Action::Snapshot(req.clone()));
            return;
        };
        if let Some(first) = st.first_u
            && head.last_update_id + 1 < first
        {
            out.push(Action::Gap(format!(
                "depth snapshot of {} too old (lastUpdateId {} < first diff U {first}); fetching another",
                req.symbol, head.last_update_id
            )));
            st.pending = true;
            st.first_u = None;
            out.push(Action::Snapshot(req.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::UnixNanos;

    fn diff(u0: u64, u1: u64) -> Vec<MarketEvent> {
        let f = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{u0},"u":{u1},"b":[],"a":[]}}}}"#
        );
        let mut out = Vec::new();
        polyedge_venues::Feed::BinanceSpot
            .parse(f.as_bytes(), UnixNanos(1), &mut out)
            .unwrap();
        out
    }

    #[test]
    fn url_and_snapshots() {
        let mut b = Binance::new(
            Market::Spot,
            "ws://h/binance/",
            "http://h/api",
            &["btcusdt".into()],
            &["trade".into(), "depth@100ms".into()],
            true,
        );
        assert_eq!(
            b.url().as_deref(),
            Some("ws://h/binance/stream?streams=btcusdt@trade/btcusdt@depth@100ms")
        );
        let s = b.snapshots_on_connect();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].url,
            "http://h/api/api/v3/depth?symbol=BTCUSDT&limit=5000"
        );
    }

    #[test]
    fn sequence_break_gives_gap_and_resync() {
        let mut b = Binance::new(
            Market::Spot,
            "ws://h",
            "http://h",
            &["btcusdt".into()],
            &["depth@100ms".into()],
            true,
        );
        let reqs = b.snapshots_on_connect();
        let mut out = Vec::new();
        b.on_frame(b"", &diff(10, 12), &mut out);
        b.on_frame(b"", &diff(13, 15), &mut out);
        assert!(out.is_empty());
        b.on_snapshot(
            &reqs[0],
            br#"{"lastUpdateId":11,"bids":[],"asks":[]}"#,
            &mut out,
        );
        assert!(
            out.is_empty(),
            "snapshot inside the first diff bridges: {out:?}"
        );
        b.on_frame(b"", &diff(17, 18), &mut out);
        assert!(matches!(&out[0], Action::Gap(r) if r.contains("sequence break")));
        assert!(matches!(&out[1], Action::Snapshot(r) if r.symbol == "BTCUSDT"));
        out.clear();
        b.on_snapshot(
            &reqs[0],
            br#"{"lastUpdateId":3,"bids":[],"asks":[]}"#,
            &mut out,
        );
        assert!(
            matches!(&out[0], Action::Gap(r) if r.contains("too old")),
            "{out:?}"
        );
        assert!(matches!(&out[1], Action::Snapshot(_)));
    }
}
