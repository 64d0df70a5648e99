//! Replaying several recordings that overlap: which recording supplies each event.
//!
//! Two recordings of the same time (two collectors, a collection and an import of the same
//! days, the same recording copied) hold the same market twice. Merged naively, every trade is
//! seen twice and a book is rebuilt from two interleaved sources. [`SourceDedup`] applies one
//! rule, in the order the recordings were given (earlier = preferred):
//!
//! * **Window data** (Polymarket book, price change, trade, tick size, best bid/ask, listing,
//!   resolution, the recorder's window records): a window belongs to the first recording whose
//!   window index names it (by slug, condition id or token id). Its events from any other
//!   recording are dropped. Events of a market no index names are kept.
//! * **Everything else** (spot trades, quotes and depth, candles, reference prices, liquidations,
//!   mark prices, volatility indices, gaps): keyed by (stream name, kind, symbol). An event of
//!   recording *j* is dropped while an earlier recording *i* < *j* is *live* on that key — it
//!   delivered an event of the key less than [`LIVE_GAP_NS`] before. When the earlier recording
//!   falls silent (a gap, its end), the later one supplies the key until the earlier one comes
//!   back. A gap marker is dropped while an earlier recording is live on its stream.
//!
//! With one recording nothing is checked and nothing dropped.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use polyedge_core::{ConditionId, EventKind, MarketEvent, TokenId, Window};

/// How long an earlier recording stays the supplier of a (stream, kind, symbol) key after its
/// last event on it: 5 s, in ns. Longer than any quiet spell of a healthy spot feed (trades and
/// quotes of BTC arrive many times a second), shorter than a reconnect gap.
pub const LIVE_GAP_NS: u64 = 5_000_000_000;

/// The rule of the [module docs](self), with its counters.
#[derive(Debug, Default)]
pub struct SourceDedup {
    slugs: HashMap<String, usize>,
    conditions: HashMap<ConditionId, usize>,
    tokens: HashMap<TokenId, usize>,
    /// Last receive time per (stream, kind, symbol) key (by its hash: no allocation per
    /// event), per recording.
    last: HashMap<u64, Vec<Option<u64>>>,
    /// Last receive time per stream name (by its hash), per recording (for gap markers).
    last_on_stream: HashMap<u64, Vec<Option<u64>>>,
    recordings: usize,
    dropped: Vec<u64>,
}

impl SourceDedup {
    /// The rule over recordings whose window indices are `windows` (one slice per recording,
    /// in the order given: earlier recordings are preferred).
    pub fn new<'a, I, W>(windows: I) -> Self
    where
        I: IntoIterator<Item = W>,
        W: IntoIterator<Item = &'a Window>,
    {
        let mut d = SourceDedup::default();
        for (i, ws) in windows.into_iter().enumerate() {
            d.recordings = i + 1;
            for w in ws {
                d.slugs.entry(w.slug.clone()).or_insert(i);
                if let Some(c) = w.condition_id {
                    d.conditions.entry(c).or_insert(i);
                }
                for t in [w.up_token, w.down_token].into_iter().flatten() {
                    d.tokens.entry(t).or_insert(i);
                }
            }
        }
        d.dropped = vec![0; d.recordings];
        d
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

    /// Whether `event`, read from stream `stream` of recording `recording` (index in the order
    /// given), is kept. Events must be offered in replay (receive-time) order.
    pub fn keeps(&mut self, recording: usize, stream: &str, event: &MarketEvent) -> bool {
        if !self.active() {
            return true;
        }
        let keep = match self.owner(&event.kind) {
            Owner::Recording(owner) => owner == recording,
            Owner::Unindexed => true,
            Owner::NotWindowData => self.live_rule(recording, stream, event),
        };
        if !keep && let Some(n) = self.dropped.get_mut(recording) {
            *n += 1;
        }
        keep
    }

    /// Which recording supplies `kind`'s window, if it is window data.
    fn owner(&self, kind: &EventKind) -> Owner {
        let market = |token: &TokenId, market: Option<&ConditionId>| {
            self.tokens
                .get(token)
                .or_else(|| market.and_then(|m| self.conditions.get(m)))
                .copied()
        };
        let found = match kind {
            EventKind::Book(b) => market(&b.token, Some(&b.market)),
            EventKind::BookDelta(d) => market(&d.token, Some(&d.market)),
            EventKind::LastTrade(t) => market(&t.token, Some(&t.market)),
            EventKind::TickSizeChange(t) => market(&t.token, Some(&t.market)),
            EventKind::BestBidAsk(b) => market(&b.token, b.market.as_ref()),
            EventKind::MarketResolved(m) => market(&m.winning_token, Some(&m.market)),
            EventKind::NewMarket(m) => self
                .slugs
                .get(&m.slug)
                .or_else(|| self.conditions.get(&m.market))
                .or_else(|| m.tokens.iter().find_map(|t| self.tokens.get(t)))
                .copied(),
            EventKind::WindowUpdate(w) => self.slugs.get(&w.slug).copied(),
            _ => return Owner::NotWindowData,
        };
        found.map_or(Owner::Unindexed, Owner::Recording)
    }

    fn live_rule(&mut self, recording: usize, stream: &str, event: &MarketEvent) -> bool {
        let t = event.recv_ns.0;
        let n = self.recordings;
        let live = |last: &[Option<u64>]| {
            last[..recording.min(n)]
                .iter()
                .any(|l| l.is_some_and(|l| t.saturating_sub(l) < LIVE_GAP_NS))
        };
        if let EventKind::Gap(g) = &event.kind {
            return !self
                .last_on_stream
                .get(&hash_of(&g.stream))
                .is_some_and(|l| live(l));
        }
        let slot = self
            .last
            .entry(hash_of(&(stream, key_of(&event.kind))))
            .or_insert_with(|| vec![None; n]);
        let keep = !live(slot);
        if let Some(l) = slot.get_mut(recording) {
            *l = Some(t);
        }
        let on_stream = self
            .last_on_stream
            .entry(hash_of(stream))
            .or_insert_with(|| vec![None; n]);
        if let Some(l) = on_stream.get_mut(recording) {
            *l = Some(t);
        }
        keep
    }
}

/// Who supplies an event.
enum Owner {
    /// Window data of a window first indexed by this recording.
    Recording(usize),
    /// Window data of a market no recording's index names: kept from every recording.
    Unindexed,
    /// Not window data: the liveness rule decides.
    NotWindowData,
}

/// A deterministic 64-bit hash (SipHash with fixed keys); a collision would only merge two
/// keys' liveness.
fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// (kind, symbol) of an event that is not window data.
fn key_of(kind: &EventKind) -> (&'static str, &str) {
    match kind {
        EventKind::Reference(r) => ("reference", r.symbol.as_str()),
        EventKind::SpotTrade(t) => ("spot_trade", t.symbol.as_str()),
        EventKind::SpotQuote(q) => ("spot_quote", q.symbol.as_str()),
        EventKind::SpotDepth(d) => ("spot_depth", d.symbol.as_ref().map_or("", |s| s.as_str())),
        EventKind::Kline(k) => ("kline", k.symbol.as_str()),
        EventKind::Liquidation(l) => ("liquidation", l.symbol.as_str()),
        EventKind::MarkPrice(m) => ("mark_price", m.symbol.as_str()),
        EventKind::VolIndex(v) => ("vol_index", v.index.as_str()),
        _ => ("other", ""),
    }
}

#[cfg(test)]
mod tests {
    use polyedge_core::event::{Gap, LastTrade, SpotTrade, Venue};
    use polyedge_core::{Asset, Fixed18, Price, Side, Size, Symbol, UnixNanos, WindowDuration};

    use super::*;

    fn window(slug: &str, token: u64) -> Window {
        let mut w = Window::new(slug, Asset::Btc, WindowDuration::M5, 1_776_081_600);
        w.up_token = Some(TokenId::parse(&token.to_string()).unwrap());
        w
    }

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

    #[test]
    fn one_recording_keeps_everything() {
        let w = [window("a", 1)];
        let mut d = SourceDedup::new([w.iter()]);
        assert!(!d.active());
        assert!(d.keeps(0, "s", &at(10, trade(1))));
        assert!(d.keeps(0, "s", &at(10, trade(1))));
        assert_eq!(d.dropped_total(), 0);
    }

    #[test]
    fn a_window_comes_from_the_first_recording_that_indexes_it() {
        // Recording 0 indexes window a; recording 1 indexes a and b.
        let (w0, w1) = ([window("a", 1)], [window("a", 1), window("b", 2)]);
        let mut d = SourceDedup::new([w0.iter(), w1.iter()]);
        assert!(d.keeps(0, "pm", &at(10, trade(1))));
        assert!(
            !d.keeps(1, "pm", &at(10, trade(1))),
            "a's copy from recording 1"
        );
        assert!(
            d.keeps(1, "pm", &at(10, trade(2))),
            "b is only in recording 1"
        );
        assert!(
            d.keeps(1, "pm", &at(10, trade(3))),
            "an unindexed market is kept"
        );
        assert_eq!(d.dropped(), &[0, 1]);
    }

    #[test]
    fn other_data_comes_from_the_earliest_live_recording() {
        let none: [Window; 0] = [];
        let mut d = SourceDedup::new([none.iter(), none.iter()]);
        // Only recording 1 has data at first: it supplies.
        assert!(d.keeps(1, "binance", &at(0, spot())));
        // Recording 0 starts: it is preferred at once, recording 1 is dropped.
        assert!(d.keeps(0, "binance", &at(10, spot())));
        assert!(!d.keeps(1, "binance", &at(11, spot())));
        assert!(!d.keeps(1, "binance", &at(59, spot())));
        // Recording 0 silent for 5 s: recording 1 takes over until 0 comes back.
        assert!(d.keeps(1, "binance", &at(60, spot())));
        assert!(d.keeps(0, "binance", &at(70, spot())));
        assert!(!d.keeps(1, "binance", &at(75, spot())));
        // Another stream name is another key.
        assert!(d.keeps(1, "coinbase", &at(75, spot())));
        // A gap marker of a stream recording 0 supplies is dropped; of another, kept.
        let gap = |s: &str| {
            EventKind::Gap(Gap {
                stream: s.to_string(),
                reason: "reconnect".to_string(),
            })
        };
        assert!(!d.keeps(1, "binance", &at(80, gap("binance"))));
        assert!(d.keeps(1, "coinbase", &at(80, gap("coinbase"))));
        assert_eq!(d.dropped(), &[0, 4]);
    }
}
