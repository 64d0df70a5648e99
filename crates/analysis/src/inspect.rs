//! The inspector behind `polyedge inspect`: per-window coverage and book statistics of a recording.
//!
//! Definitions (also in the README):
//! * **frames** — raw Polymarket frames attributed to the window (by token id, else condition id),
//!   wherever they fall in time (recorders subscribe before a window opens).
//! * **covered** — seconds of `[start, end]` spanned by the window's frames, minus every
//!   inter-frame gap longer than 5 s.
//! * **gaps > 5 s** — number of intervals longer than 5 s without a frame inside `[start, end]`,
//!   counting the stretch from `start` to the first frame and from the last frame to `end`.
//! * **median spread** — median over in-window book updates of the Up spread (best ask − best bid),
//!   in cents; the Down spread is the same by the mirror.
//! * **min U+D ask** — minimum over in-window updates of best ask Up + best ask Down (the cost of a
//!   complete set before fees); below $1.00 would be an arbitrage.
//! * **final bid/ask** — the Up best bid/ask after the last update at or before `end`.

use std::collections::BTreeMap;

use polyedge_core::event::{BestBidAsk, EventKind};
use polyedge_core::{
    MarketEvent, Outcome, OutcomeSource, Price, TokenId, UnixNanos, Window, WindowBook,
    WindowIndex, book_tokens,
};
use serde::Serialize;

/// Longest silence that still counts as covered (5 s).
pub const GAP_NS: u64 = 5 * UnixNanos::PER_SEC;

/// Top of book from `best_bid_ask` events, for recordings that have no depth.
#[derive(Debug, Clone, Copy, Default)]
struct Tob {
    bid: Option<Price>,
    ask: Option<Price>,
    at: Option<UnixNanos>,
}

/// Best bid and ask of both outcomes at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Top {
    up_bid: Option<Price>,
    up_ask: Option<Price>,
    down_ask: Option<Price>,
}

#[derive(Debug)]
struct WinState {
    frames: u64,
    in_first: Option<UnixNanos>,
    in_last: Option<UnixNanos>,
    gaps: u32,
    gap_ns: u64,
    book: WindowBook,
    has_depth: bool,
    tob: [Tob; 2],
    spreads: Vec<i64>,
    min_set_ask: Option<u32>,
    final_top: Top,
    book_errors: u64,
    ref_frames: u64,
}

/// Statistics of one window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowStats {
    /// Slug.
    pub slug: String,
    /// Window start, RFC 3339 UTC.
    pub start_utc: String,
    /// Frames attributed to the window.
    pub frames: u64,
    /// Seconds of the window covered (see module docs).
    pub covered_s: f64,
    /// Gaps longer than 5 s inside the window.
    pub gaps_over_5s: u32,
    /// Median Up spread over in-window updates, in cents.
    pub median_spread_cents: Option<f64>,
    /// Minimum of best ask Up + best ask Down over in-window updates, in dollars.
    pub min_up_plus_down_ask: Option<f64>,
    /// Final Up best bid, dollars.
    pub final_up_bid: Option<f64>,
    /// Final Up best ask, dollars.
    pub final_up_ask: Option<f64>,
    /// Outcome, when known.
    pub outcome: Option<Outcome>,
    /// Where the outcome came from.
    pub outcome_source: Option<OutcomeSource>,
    /// Book updates the book refused (off-grid prices …).
    pub book_errors: u64,
    /// Reference and spot frames (Chainlink, Binance, …) received inside `[start, end]`.
    pub ref_frames: u64,
}

/// Totals over the recording.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Windows in the index.
    pub windows: u64,
    /// Windows with at least one frame.
    pub windows_with_frames: u64,
    /// Frames attributed to windows.
    pub window_frames: u64,
    /// Frames read, per stream.
    pub frames_by_stream: BTreeMap<String, u64>,
    /// Polymarket frames matching no window of the index.
    pub unattributed_frames: u64,
    /// Frames whose events were not Polymarket (spot, reference …).
    pub other_frames: u64,
    /// Windows with a known outcome, by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Windows with a known outcome, by source.
    pub outcome_sources: BTreeMap<String, u64>,
    /// Frames that failed to parse.
    pub parse_errors: u64,
    /// Elements of a kind the parsers do not know (newer event types, topics, channels),
    /// skipped per stream while the frames' known events were kept.
    pub unknown_elements: BTreeMap<String, u64>,
    /// Segments that ended in a legitimate torn tail (last segment of an unfinished recording).
    pub torn_tails: u64,
    /// Damaged data skipped (`--skip-corrupt`): frames lost, their receive-time span, the
    /// windows it overlaps.
    pub skipped: Vec<polyedge_store::SkippedSpan>,
    /// Frames lost to skipped damage (a lower bound unless every span is exact).
    pub frames_skipped: u64,
    /// Gap markers recorded by the collector (control stream), per stream whose continuity was
    /// lost.
    pub gap_markers_by_stream: BTreeMap<String, u64>,
    /// The first [`MAX_GAPS_LISTED`] gap markers, in replay order.
    pub gap_markers: Vec<GapMarker>,
    /// First and last receive time (RFC 3339) per stream.
    pub stream_span: BTreeMap<String, (String, String)>,
}

/// Most gap markers listed individually in [`Totals::gap_markers`].
pub const MAX_GAPS_LISTED: usize = 50;

/// One recorded gap marker.
#[derive(Debug, Clone, Serialize)]
pub struct GapMarker {
    /// When continuity was found lost (RFC 3339).
    pub at: String,
    /// Stream that lost continuity.
    pub stream: String,
    /// Why.
    pub reason: String,
}

/// The full inspect report.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    /// One row per window, by start time.
    pub windows: Vec<WindowStats>,
    /// Totals.
    pub totals: Totals,
}

/// Accumulates statistics frame by frame.
pub struct Inspector {
    /// The windows, routing token and condition ids to their position.
    index: WindowIndex,
    states: Vec<WinState>,
    /// Window indices sorted by start, and the longest window, to find windows by time.
    by_start: Vec<usize>,
    max_len_ns: u64,
    totals: Totals,
}

impl Inspector {
    /// An inspector for the windows of a recording's index.
    pub fn new(windows: &[Window]) -> Self {
        let index = WindowIndex::from_windows(windows.iter().cloned());
        let windows = index.windows();
        let mut states = Vec::with_capacity(windows.len());
        for w in windows {
            // The window's book, on the stand-in id of a missing side (`book_tokens`); a window
            // without any token id gets stand-ins for both (no event routes to it by token).
            let (up, down) = book_tokens(w).unwrap_or_else(|| {
                (
                    TokenId::synthetic(&w.slug, "up"),
                    TokenId::synthetic(&w.slug, "down"),
                )
            });
            states.push(WinState {
                frames: 0,
                in_first: None,
                in_last: None,
                gaps: 0,
                gap_ns: 0,
                book: WindowBook::new(up, down),
                has_depth: false,
                tob: [Tob::default(); 2],
                spreads: Vec::new(),
                min_set_ask: None,
                final_top: Top::default(),
                book_errors: 0,
                ref_frames: 0,
            });
        }
        let mut by_start: Vec<usize> = (0..windows.len()).collect();
        by_start.sort_by_key(|&i| windows[i].start);
        let max_len_ns = windows
            .iter()
            .map(|w| w.end.saturating_sub(w.start))
            .max()
            .unwrap_or(0);
        Inspector {
            index,
            states,
            by_start,
            max_len_ns,
            totals: Totals::default(),
        }
    }

    /// Counts a frame that failed to parse.
    pub fn on_parse_error(&mut self, stream: &str) {
        self.totals.parse_errors += 1;
        *self
            .totals
            .frames_by_stream
            .entry(stream.to_string())
            .or_default() += 1;
    }

    /// Counts `n` elements of an unknown kind skipped in a frame of `stream`.
    pub fn on_unknown(&mut self, stream: &str, n: u64) {
        *self
            .totals
            .unknown_elements
            .entry(stream.to_string())
            .or_default() += n;
    }

    /// Records the number of torn segment tails seen by the replay.
    pub fn set_torn_tails(&mut self, n: u64) {
        self.totals.torn_tails = n;
    }

    /// Records the damage the replay skipped (`--skip-corrupt`).
    pub fn set_skipped(&mut self, spans: &[polyedge_store::SkippedSpan]) {
        self.totals.frames_skipped = spans.iter().map(|s| s.frames_lost).sum();
        self.totals.skipped = spans.to_vec();
    }

    fn window_of(&self, ev: &MarketEvent) -> Option<usize> {
        if let Some((i, _)) = ev.kind.token().and_then(|t| self.index.route_token(t)) {
            return Some(i);
        }
        let market = match &ev.kind {
            EventKind::NewMarket(m) => Some(m.market),
            EventKind::MarketResolved(m) => Some(m.market),
            EventKind::Book(b) => Some(b.market),
            EventKind::BookDelta(d) => Some(d.market),
            EventKind::LastTrade(t) => Some(t.market),
            EventKind::BestBidAsk(b) => b.market,
            _ => None,
        }?;
        self.index.position_of_condition(market)
    }

    /// Counts a reference/spot frame in every window whose `[start, end]` contains `t`.
    fn count_reference(&mut self, t: UnixNanos) {
        // Windows starting at or before t, scanned back while they could still contain t.
        let upto = self
            .by_start
            .partition_point(|&i| self.index.windows()[i].start <= t);
        for &i in self.by_start[..upto].iter().rev() {
            let w = &self.index.windows()[i];
            if t.saturating_sub(w.start) > self.max_len_ns {
                break;
            }
            if t <= w.end {
                self.states[i].ref_frames += 1;
            }
        }
    }

    /// Feeds one parsed frame: its stream, receive time and events.
    pub fn on_frame(&mut self, stream: &str, recv_ns: UnixNanos, events: &[MarketEvent]) {
        *self
            .totals
            .frames_by_stream
            .entry(stream.to_string())
            .or_default() += 1;
        let t = recv_ns.to_rfc3339();
        self.totals
            .stream_span
            .entry(stream.to_string())
            .and_modify(|e| e.1.clone_from(&t))
            .or_insert_with(|| (t.clone(), t.clone()));
        let mut gap = false;
        for ev in events {
            if let EventKind::Gap(g) = &ev.kind {
                gap = true;
                *self
                    .totals
                    .gap_markers_by_stream
                    .entry(g.stream.clone())
                    .or_default() += 1;
                if self.totals.gap_markers.len() < MAX_GAPS_LISTED {
                    self.totals.gap_markers.push(GapMarker {
                        at: ev.recv_ns.to_rfc3339(),
                        stream: g.stream.clone(),
                        reason: g.reason.clone(),
                    });
                }
            }
        }
        if gap {
            return;
        }
        let Some(first) = events.first() else { return };
        let is_pm = first.kind.token().is_some()
            || matches!(
                first.kind,
                EventKind::NewMarket(_) | EventKind::MarketResolved(_)
            );
        if !is_pm {
            self.totals.other_frames += 1;
            self.count_reference(recv_ns);
            return;
        }
        let Some(wi) = events.iter().find_map(|e| self.window_of(e)) else {
            self.totals.unattributed_frames += 1;
            return;
        };
        let (start, end) = (self.index.windows()[wi].start, self.index.windows()[wi].end);
        let st = &mut self.states[wi];
        st.frames += 1;
        for ev in events {
            match &ev.kind {
                EventKind::Book(_) | EventKind::BookDelta(_) | EventKind::TickSizeChange(_) => {
                    st.has_depth = true;
                    if st.book.apply(ev).is_err() {
                        st.book_errors += 1;
                    }
                }
                EventKind::BestBidAsk(b) => apply_tob(st, b, ev.recv_ns),
                _ => {}
            }
        }
        if recv_ns < start || recv_ns > end {
            if recv_ns < start {
                // Pre-window state is the starting point of the window.
                st.final_top = top_of(st);
            }
            return;
        }
        // Coverage and gaps.
        let prev = st.in_last.unwrap_or(start);
        let silence = recv_ns.saturating_sub(prev);
        if silence > GAP_NS {
            st.gaps += 1;
            if st.in_last.is_some() {
                st.gap_ns += silence;
            }
        }
        if st.in_first.is_none() {
            st.in_first = Some(recv_ns);
        }
        st.in_last = Some(recv_ns);
        // Book statistics at this instant.
        let top = top_of(st);
        st.final_top = top;
        if let (Some(b), Some(a)) = (top.up_bid, top.up_ask) {
            st.spreads
                .push(i64::from(a.micros()) - i64::from(b.micros()));
        }
        if let (Some(u), Some(d)) = (top.up_ask, top.down_ask) {
            let s = u.micros() + d.micros();
            st.min_set_ask = Some(st.min_set_ask.map_or(s, |m| m.min(s)));
        }
    }

    /// Finishes and builds the report.
    pub fn finish(mut self) -> InspectReport {
        let mut rows = Vec::with_capacity(self.index.len());
        for (w, st) in self.index.windows().iter().zip(self.states.iter_mut()) {
            let (covered_s, gaps) = match (st.in_first, st.in_last) {
                (Some(f), Some(l)) => {
                    let mut gaps = st.gaps;
                    if w.end.saturating_sub(l) > GAP_NS {
                        gaps += 1;
                    }
                    let span = l.saturating_sub(f).saturating_sub(st.gap_ns);
                    (span as f64 / 1e9, gaps)
                }
                _ => (0.0, 1),
            };
            let median = median(&mut st.spreads).map(|m| m / 10_000.0);
            if st.frames > 0 {
                self.totals.windows_with_frames += 1;
            }
            self.totals.window_frames += st.frames;
            if let Some(o) = w.outcome {
                *self.totals.outcomes.entry(o.to_string()).or_default() += 1;
                let src = w.outcome_source.map_or("unknown".to_string(), |s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                });
                *self.totals.outcome_sources.entry(src).or_default() += 1;
            }
            rows.push(WindowStats {
                slug: w.slug.clone(),
                start_utc: w.start.to_rfc3339(),
                frames: st.frames,
                covered_s: (covered_s * 10.0).round() / 10.0,
                gaps_over_5s: gaps,
                median_spread_cents: median,
                min_up_plus_down_ask: st.min_set_ask.map(|m| f64::from(m) / 1e6),
                final_up_bid: st.final_top.up_bid.map(Price::to_f64),
                final_up_ask: st.final_top.up_ask.map(Price::to_f64),
                outcome: w.outcome,
                outcome_source: w.outcome_source,
                book_errors: st.book_errors,
                ref_frames: st.ref_frames,
            });
        }
        self.totals.windows = self.index.len() as u64;
        InspectReport {
            windows: rows,
            totals: self.totals,
        }
    }
}

fn apply_tob(st: &mut WinState, b: &BestBidAsk, at: UnixNanos) {
    let Some(o) = st.book.outcome_of(b.token) else {
        return;
    };
    st.tob[o as usize] = Tob {
        bid: b.bid,
        ask: b.ask,
        at: Some(at),
    };
}

/// Up best bid/ask and Down best ask now, from depth if the window has any, else from top-of-book
/// events (fresher token wins, the other mirrored).
fn top_of(st: &WinState) -> Top {
    if st.has_depth {
        return Top {
            up_bid: st.book.best_bid(Outcome::Up).map(|l| l.level.price),
            up_ask: st.book.best_ask(Outcome::Up).map(|l| l.level.price),
            down_ask: st.book.best_ask(Outcome::Down).map(|l| l.level.price),
        };
    }
    let (up, down) = (st.tob[Outcome::Up as usize], st.tob[Outcome::Down as usize]);
    let use_up = match (up.at, down.at) {
        (None, None) => return Top::default(),
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a >= b,
    };
    let use_down = match (up.at, down.at) {
        (Some(a), Some(b)) => b >= a,
        (None, Some(_)) => true,
        _ => false,
    };
    Top {
        up_bid: if use_up {
            up.bid
        } else {
            down.ask.map(Price::complement)
        },
        up_ask: if use_up {
            up.ask
        } else {
            down.bid.map(Price::complement)
        },
        down_ask: if use_down {
            down.ask
        } else {
            up.bid.map(Price::complement)
        },
    }
}

fn median(v: &mut [i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

/// Renders the report as a fixed-width table with totals.
pub fn render_table(r: &InspectReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<26} {:<20} {:>7} {:>8} {:>5} {:>7} {:>7} {:>11} {:>6} {:<18}",
        "slug",
        "start (UTC)",
        "frames",
        "covered",
        "gaps",
        "med spr",
        "min U+D",
        "final b/a Up",
        "ref",
        "outcome (source)"
    );
    let f2 = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
    for w in &r.windows {
        let outcome = match (w.outcome, w.outcome_source) {
            (Some(o), Some(src)) => format!("{o} ({})", source_name(src)),
            (Some(o), None) => o.to_string(),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            s,
            "{:<26} {:<20} {:>7} {:>7.1}s {:>5} {:>7} {:>7} {:>5}/{:<5} {:>6} {:<18}",
            w.slug,
            &w.start_utc[..19],
            w.frames,
            w.covered_s,
            w.gaps_over_5s,
            w.median_spread_cents
                .map_or("-".to_string(), |x| format!("{x:.1}¢")),
            f2(w.min_up_plus_down_ask),
            f2(w.final_up_bid),
            f2(w.final_up_ask),
            w.ref_frames,
            outcome
        );
    }
    let t = &r.totals;
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "windows: {} ({} with frames)   frames in windows: {}   unattributed Polymarket frames: {}   other frames: {}",
        t.windows, t.windows_with_frames, t.window_frames, t.unattributed_frames, t.other_frames
    );
    let streams: Vec<String> = t
        .frames_by_stream
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(s, "frames by stream: {}", streams.join(", "));
    let outs: Vec<String> = t.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let srcs: Vec<String> = t
        .outcome_sources
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        s,
        "outcomes: {} (sources: {})",
        outs.join(", "),
        srcs.join(", ")
    );
    let _ = writeln!(
        s,
        "parse errors: {}   torn segment tails: {}",
        t.parse_errors, t.torn_tails
    );
    if !t.unknown_elements.is_empty() {
        let by: Vec<String> = t
            .unknown_elements
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            s,
            "elements of an unknown kind skipped (known events of their frames kept): {}",
            by.join(", ")
        );
    }
    if !t.skipped.is_empty() {
        let exact = t.skipped.iter().all(|x| x.exact);
        let _ = writeln!(
            s,
            "SKIPPED DAMAGE (--skip-corrupt): {}{} frames lost in {} span(s); the statistics above exclude them",
            if exact { "" } else { "at least " },
            t.frames_skipped,
            t.skipped.len()
        );
        for sp in &t.skipped {
            let _ = writeln!(s, "  {sp}");
        }
    }
    for (name, (a, b)) in &t.stream_span {
        let _ = writeln!(s, "stream {name}: {a} .. {b}");
    }
    let total_gaps: u64 = t.gap_markers_by_stream.values().sum();
    let by: Vec<String> = t
        .gap_markers_by_stream
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        s,
        "recorded gap markers: {total_gaps}{}",
        if by.is_empty() {
            String::new()
        } else {
            format!(" ({})", by.join(", "))
        }
    );
    for g in &t.gap_markers {
        let _ = writeln!(s, "  gap {} {}: {}", g.at, g.stream, g.reason);
    }
    let listed = t.gap_markers.len() as u64;
    if total_gaps > listed {
        let _ = writeln!(s, "  … ({} more)", total_gaps - listed);
    }
    s
}

fn source_name(s: OutcomeSource) -> &'static str {
    match s {
        OutcomeSource::Official => "official",
        OutcomeSource::ChainlinkDerived => "chainlink",
        OutcomeSource::Inferred => "inferred",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::event::{BookSnapshot, Level};
    use polyedge_core::{ConditionId, Size};

    fn window() -> Window {
        let mut w = Window::from_slug("btc-updown-5m-1000").unwrap();
        w.up_token = Some(TokenId::parse("1").unwrap());
        w.down_token = Some(TokenId::parse("2").unwrap());
        w.outcome = Some(Outcome::Down);
        w.outcome_source = Some(OutcomeSource::Inferred);
        w
    }

    fn book(t_s: u64, token: u64, bid: &str, ask: &str) -> MarketEvent {
        let lv = |p: &str| Level {
            price: Price::parse(p).unwrap(),
            size: Size::from_shares(10),
        };
        MarketEvent {
            recv_ns: UnixNanos::from_secs(t_s),
            venue_ns: None,
            kind: EventKind::Book(BookSnapshot {
                market: ConditionId::default(),
                token: TokenId::parse(&token.to_string()).unwrap(),
                bids: vec![lv(bid)],
                asks: vec![lv(ask)],
                hash: None,
                tick_size: None,
                last_trade_price: None,
            }),
        }
    }

    #[test]
    fn coverage_gaps_spread_and_set_cost() {
        let w = window();
        let mut ins = Inspector::new(std::slice::from_ref(&w));
        // Before the window: counted as a frame, not as coverage.
        let e = book(990, 2, "0.40", "0.42");
        ins.on_frame("pm", e.recv_ns, &[e]);
        // Down book only: Up ask = 1 - 0.40 = 0.60, Up bid = 0.58; U+D = 0.60 + 0.42.
        for t in [1002, 1003, 1004] {
            let e = book(t, 2, "0.40", "0.42");
            ins.on_frame("pm", e.recv_ns, &[e]);
        }
        // 20 s silence → one gap; then a tighter book.
        let e = book(1024, 2, "0.45", "0.46");
        ins.on_frame("pm", e.recv_ns, &[e]);
        let e = book(1299, 2, "0.10", "0.11");
        ins.on_frame("pm", e.recv_ns, &[e]);
        // After the end: not in the final state.
        let e = book(1302, 2, "0.01", "0.02");
        ins.on_frame("pm", e.recv_ns, &[e]);
        let r = ins.finish();
        let row = &r.windows[0];
        assert_eq!(row.frames, 7);
        // in-window frames at 1002..1299: span 297 s minus the 20 s and 275 s silences.
        assert_eq!(row.gaps_over_5s, 2);
        assert!((row.covered_s - 2.0).abs() < 1e-9, "{}", row.covered_s);
        assert_eq!(row.median_spread_cents, Some(2.0));
        assert_eq!(row.min_up_plus_down_ask, Some(1.01));
        assert_eq!(row.final_up_bid, Some(0.89));
        assert_eq!(row.final_up_ask, Some(0.9));
        assert_eq!(r.totals.window_frames, 7);
        assert_eq!(r.totals.outcomes.get("Down"), Some(&1));
        let table = render_table(&r);
        assert!(table.contains("btc-updown-5m-1000"));
        assert!(table.contains("Down (inferred)"));
    }

    #[test]
    fn reference_frames_counted_per_window_by_time() {
        use polyedge_core::event::{ReferenceSource, ReferenceTick};
        use polyedge_core::{Fixed18, Symbol};
        let mut w2 = Window::from_slug("btc-updown-5m-1300").unwrap();
        w2.up_token = Some(TokenId::parse("3").unwrap());
        w2.down_token = Some(TokenId::parse("4").unwrap());
        let mut ins = Inspector::new(&[window(), w2]);
        for t in [999, 1000, 1150, 1300, 1301, 1601] {
            let e = MarketEvent {
                recv_ns: UnixNanos::from_secs(t),
                venue_ns: None,
                kind: EventKind::Reference(ReferenceTick {
                    source: ReferenceSource::Chainlink,
                    symbol: Symbol::new("btc/usd").unwrap(),
                    price: Fixed18::parse("65000").unwrap(),
                    backfill: false,
                }),
            };
            ins.on_frame("rtds", e.recv_ns, &[e]);
        }
        let r = ins.finish();
        // [1000, 1300] holds 1000, 1150, 1300; [1300, 1600] holds 1300 and 1301.
        assert_eq!(r.windows[0].ref_frames, 3);
        assert_eq!(r.windows[1].ref_frames, 2);
        assert_eq!(r.totals.other_frames, 6);
    }

    #[test]
    fn empty_window_is_one_gap() {
        let r = Inspector::new(&[window()]).finish();
        assert_eq!(r.windows[0].gaps_over_5s, 1);
        assert!(r.windows[0].covered_s.abs() < 1e-12);
        assert_eq!(r.totals.windows_with_frames, 0);
    }

    #[test]
    fn bbo_only_window() {
        let w = window();
        let mut ins = Inspector::new(std::slice::from_ref(&w));
        let bbo = |t: u64, token: u64, bid: Option<&str>, ask: Option<&str>| MarketEvent {
            recv_ns: UnixNanos::from_secs(t),
            venue_ns: None,
            kind: EventKind::BestBidAsk(BestBidAsk {
                market: None,
                token: TokenId::parse(&token.to_string()).unwrap(),
                bid: bid.map(|p| Price::parse(p).unwrap()),
                ask: ask.map(|p| Price::parse(p).unwrap()),
                bid_size: None,
                ask_size: None,
            }),
        };
        let e1 = bbo(1001, 1, Some("0.52"), Some("0.53"));
        let e2 = bbo(1001, 2, Some("0.47"), Some("0.48"));
        ins.on_frame("bbo", e1.recv_ns, &[e1, e2]);
        let r = ins.finish();
        assert_eq!(r.windows[0].median_spread_cents, Some(1.0));
        assert_eq!(r.windows[0].min_up_plus_down_ask, Some(1.01));
    }
}
