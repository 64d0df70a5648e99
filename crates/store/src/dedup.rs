//! Replaying several recordings that overlap: which recording supplies each event.
//!
//! Two recordings of the same time (two collectors, a collection and an import of the same
//! days, the same recording copied) hold the same market twice. Merged naively, every trade is
//! seen twice and a book is rebuilt from two interleaved sources. Recordings that follow one
//! another (the parts of a restarted run) must instead simply be joined. [`SourceDedup`] applies
//! one rule to both, in the order the recordings were given (earlier = preferred):
//!
//! An event is keyed by what it is about — a Polymarket outcome token (book, price change,
//! trade, tick size, best bid/ask, resolution), a window's slug (listing, the recorder's window
//! records), or otherwise (stream name, kind, symbol) (spot trades, quotes and depth, candles,
//! reference prices, liquidations, mark prices, volatility indices). An event of recording *j*
//! is dropped while an earlier recording *i* < *j* is **live** on its key: *i* delivered an
//! event of the key less than [`LIVE_GAP_NS`] before, and *i* has not ended (it still has
//! frames to replay, or its last frame was at this very instant). So a copy is dropped event by
//! event; a later recording fills an earlier one's gaps; and the next part of a restarted run is
//! kept from its first frame, because the part before it has ended. A gap marker is dropped
//! while an earlier recording is live on its stream.
//!
//! With one recording nothing is checked and nothing dropped.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use polyedge_core::{EventKind, MarketEvent};

/// How long an earlier recording stays the supplier of a key after its last event on it: 5 s,
/// in ns. Longer than any quiet spell of a healthy spot feed (trades and quotes of BTC arrive
/// many times a second), shorter than a reconnect gap.
pub const LIVE_GAP_NS: u64 = 5_000_000_000;

/// The rule of the [module docs](self), with its counters.
#[derive(Debug, Default)]
pub struct SourceDedup {
    /// Last receive time per key (by its hash: no allocation per event), per recording.
    last: HashMap<u64, Vec<Option<u64>>>,
    /// Last receive time per stream name (by its hash), per recording (for gap markers).
    last_on_stream: HashMap<u64, Vec<Option<u64>>>,
    /// Last receive time of any event, per recording.
    rec_last: Vec<Option<u64>>,
    recordings: usize,
    dropped: Vec<u64>,
}

impl SourceDedup {
    /// The rule over `recordings` recordings (indices in the order given: earlier ones are
    /// preferred).
    pub fn new(recordings: usize) -> Self {
        SourceDedup {
            recordings,
            rec_last: vec![None; recordings],
            dropped: vec![0; recordings],
            ..SourceDedup::default()
        }
    }

    /// Whether anything can be dropped (more than one recording).
    pub fn active(&self) -> bool {
        self.recordings > 1
    }

    /// Events dropped so far, per recording (index = order given).
    pub fn dropped(&self) -> &[u64] {
        &self.dropped
    }

    /// Events dropped so far, all recordings.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Keeps in `events` (one frame's events, read from stream `stream` of recording
    /// `recording`) those [`SourceDedup::keeps`] keeps, in order; returns how many it dropped.
    pub fn retain(
        &mut self,
        events: &mut Vec<MarketEvent>,
        recording: usize,
        stream: &str,
        has_more: impl Fn(usize) -> bool,
    ) -> u64 {
        let before = events.len();
        events.retain(|e| self.keeps(recording, stream, e, &has_more));
        (before - events.len()) as u64
    }

    /// Whether `event`, read from stream `stream` of recording `recording` (index in the order
    /// given), is kept. `has_more(i)`: recording `i` still has frames to replay. Events must be
    /// offered in replay (receive-time) order.
    pub fn keeps(
        &mut self,
        recording: usize,
        stream: &str,
        event: &MarketEvent,
        has_more: impl Fn(usize) -> bool,
    ) -> bool {
        if !self.active() || recording >= self.recordings {
            return true;
        }
        let t = event.recv_ns.0;
        let rec_last = &self.rec_last;
        let live = |last: &[Option<u64>]| {
            (0..recording).any(|i| {
                last[i].is_some_and(|l| t.saturating_sub(l) < LIVE_GAP_NS)
                    && (has_more(i) || rec_last[i].is_some_and(|l| l >= t))
            })
        };
        let n = self.recordings;
        let keep = if let EventKind::Gap(g) = &event.kind {
            !self
                .last_on_stream
                .get(&hash_of(&g.stream))
                .is_some_and(|l| live(l))
        } else {
            let slot = self
                .last
                .entry(key_of(stream, &event.kind))
                .or_insert_with(|| vec![None; n]);
            let keep = !live(slot);
            slot[recording] = Some(t);
            self.last_on_stream
                .entry(hash_of(stream))
                .or_insert_with(|| vec![None; n])[recording] = Some(t);
            keep
        };
        self.rec_last[recording] = Some(t);
        if !keep {
            self.dropped[recording] += 1;
        }
        keep
    }
}

/// A deterministic 64-bit hash (SipHash with fixed keys); a collision would only merge two
/// keys' liveness.
fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The key of an event that is not a gap marker (see the [module docs](self)).
fn key_of(stream: &str, kind: &EventKind) -> u64 {
    match kind {
        EventKind::Book(b) => hash_of(&("token", b.token)),
        EventKind::BookDelta(d) => hash_of(&("token", d.token)),
        EventKind::LastTrade(t) => hash_of(&("token", t.token)),
        EventKind::TickSizeChange(t) => hash_of(&("token", t.token)),
        EventKind::BestBidAsk(b) => hash_of(&("token", b.token)),
        EventKind::MarketResolved(m) => hash_of(&("token", m.winning_token)),
        EventKind::NewMarket(m) => hash_of(&("slug", m.slug.as_str())),
        EventKind::WindowUpdate(w) => hash_of(&("slug", w.slug.as_str())),
        EventKind::Reference(r) => hash_of(&(stream, "reference", r.symbol.as_str())),
        EventKind::SpotTrade(t) => hash_of(&(stream, "spot_trade", t.symbol.as_str())),
        EventKind::SpotQuote(q) => hash_of(&(stream, "spot_quote", q.symbol.as_str())),
        EventKind::SpotDepth(d) => hash_of(&(
            stream,
            "spot_depth",
            d.symbol.as_ref().map_or("", |s| s.as_str()),
        )),
        EventKind::Kline(k) => hash_of(&(stream, "kline", k.symbol.as_str())),
        EventKind::Liquidation(l) => hash_of(&(stream, "liquidation", l.symbol.as_str())),
        EventKind::MarkPrice(m) => hash_of(&(stream, "mark_price", m.symbol.as_str())),
        EventKind::VolIndex(v) => hash_of(&(stream, "vol_index", v.index.as_str())),
        EventKind::Gap(g) => hash_of(&("gap", g.stream.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use polyedge_core::event::{Gap, LastTrade, SpotTrade, Venue};
    use polyedge_core::{ConditionId, Fixed18, Price, Side, Size, Symbol, TokenId, UnixNanos};

    use super::*;

    /// An event at `tenths` tenths of a second.
    fn at(tenths: u64, kind: EventKind) -> MarketEvent {
        MarketEvent {
            recv_ns: UnixNanos(tenths * 100_000_000),
            venue_ns: None,
            kind,
        }
    }

    fn trade(token: u64) -> EventKind {
        EventKind::LastTrade(LastTrade {
            market: ConditionId::default(),
            token: TokenId::parse(&token.to_string()).unwrap(),
            price: Price::from_micros(500_000).unwrap(),
            size: Size::from_shares(5),
            taker_side: Side::Buy,
            fee_rate_bps: None,
        })
    }

    fn spot() -> EventKind {
        EventKind::SpotTrade(SpotTrade {
            venue: Venue::BinanceSpot,
            symbol: Symbol::new("BTCUSDT").unwrap(),
            price: Fixed18::parse("100000").unwrap(),
            qty: Fixed18::parse("1").unwrap(),
            taker_side: None,
            trade_id: None,
        })
    }

    const MORE: fn(usize) -> bool = |_| true;
    const ENDED: fn(usize) -> bool = |_| false;

    #[test]
    fn one_recording_keeps_everything() {
        let mut d = SourceDedup::new(1);
        assert!(!d.active());
        assert!(d.keeps(0, "s", &at(10, trade(1)), MORE));
        assert!(d.keeps(0, "s", &at(10, trade(1)), MORE));
        assert_eq!(d.dropped_total(), 0);
    }

    #[test]
    fn a_copy_is_dropped_event_by_event_up_to_the_last() {
        let mut d = SourceDedup::new(2);
        for t in [10, 11, 50, 51] {
            assert!(d.keeps(0, "pm", &at(t, trade(1)), MORE));
            assert!(!d.keeps(1, "pm", &at(t, trade(1)), MORE), "at {t}");
        }
        // Recording 0's last frame: it has ended, but at this very instant, so the copy's
        // last frame is still a duplicate.
        assert!(d.keeps(0, "pm", &at(60, trade(1)), ENDED));
        assert!(!d.keeps(1, "pm", &at(60, trade(1)), ENDED));
        // Another token is another key.
        assert!(d.keeps(1, "pm", &at(60, trade(2)), MORE));
        assert_eq!(d.dropped(), &[0, 5]);
    }

    #[test]
    fn the_next_part_of_a_restarted_run_is_kept_from_its_first_frame() {
        let mut d = SourceDedup::new(2);
        assert!(d.keeps(0, "pm", &at(10, trade(1)), MORE));
        // Part 0 was killed after its frame at 1.0 s; part 1 starts 0.2 s later (well inside
        // the 5 s gap) — part 0 has no frame left, so part 1 supplies.
        assert!(d.keeps(1, "pm", &at(12, trade(1)), ENDED));
        assert!(d.keeps(1, "pm", &at(13, spot()), ENDED));
        assert_eq!(d.dropped_total(), 0);
    }

    #[test]
    fn other_data_comes_from_the_earliest_live_recording() {
        let mut d = SourceDedup::new(2);
        // Only recording 1 has data at first: it supplies.
        assert!(d.keeps(1, "binance", &at(0, spot()), MORE));
        // Recording 0 starts: it is preferred at once, recording 1 is dropped.
        assert!(d.keeps(0, "binance", &at(10, spot()), MORE));
        assert!(!d.keeps(1, "binance", &at(11, spot()), MORE));
        assert!(!d.keeps(1, "binance", &at(59, spot()), MORE));
        // Recording 0 silent for 5 s: recording 1 takes over until 0 comes back.
        assert!(d.keeps(1, "binance", &at(60, spot()), MORE));
        assert!(d.keeps(0, "binance", &at(70, spot()), MORE));
        assert!(!d.keeps(1, "binance", &at(75, spot()), MORE));
        // Another stream name is another key.
        assert!(d.keeps(1, "coinbase", &at(75, spot()), MORE));
        // A gap marker of a stream recording 0 supplies is dropped; of another, kept.
        let gap = |s: &str| {
            EventKind::Gap(Gap {
                stream: s.to_string(),
                reason: "reconnect".to_string(),
            })
        };
        assert!(!d.keeps(1, "binance", &at(80, gap("binance")), MORE));
        assert!(d.keeps(1, "coinbase", &at(80, gap("coinbase")), MORE));
        assert_eq!(d.dropped(), &[0, 4]);
    }
}
