//! A local Binance depth book built from recorded depth diffs and snapshots.
//!
//! Binance's rule for a local book (protocols.md §8.1, "How to manage a local order book"):
//! take a snapshot with `lastUpdateId = L`; drop diffs with `u ≤ L`; the first diff applied must
//! straddle `L` (spot: `U ≤ L + 1 ≤ u`; USDⓈ-M: `U ≤ L ≤ u`); every later diff must follow the
//! previous one (spot: `U = previous u + 1`; USDⓈ-M: `pu = previous u`). A diff that does not
//! follow is a sequence break: the book is dropped and rebuilt from the next snapshot.
//!
//! In a recording the REST snapshot (`rest` control record, `docs/recording-format.md` §4.7) is
//! received **after** the diffs that followed the request, so diffs received while the book is
//! not synced are buffered (up to [`MAX_BUFFERED`]) and replayed onto the next snapshot. A
//! WebSocket partial-depth snapshot (`@depth<N>`) is a snapshot like any other: it replaces the
//! book. A gap marker on the stream drops the book and the buffer ([`SpotBook::drop_state`]).
//! Quantities of 0 remove a level.

use std::collections::{BTreeMap, VecDeque};

use polyedge_core::UnixNanos;
use polyedge_core::event::{SpotDepth, SpotLevel, Venue};

/// Diffs kept while waiting for a snapshot.
pub const MAX_BUFFERED: usize = 2_000;

/// Counters of a book.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookStats {
    /// Snapshots applied.
    pub snapshots: u64,
    /// Diffs applied.
    pub diffs: u64,
    /// Diffs dropped as already covered by the book (`u ≤ last id`).
    pub stale_diffs: u64,
    /// Sequence breaks (book dropped).
    pub breaks: u64,
    /// Diffs dropped because the buffer was full.
    pub overflow: u64,
    /// Times the book was dropped by a gap marker.
    pub gaps: u64,
}

/// A local depth book of one symbol on one venue.
#[derive(Debug, Clone)]
pub struct SpotBook {
    venue: Venue,
    /// Price (E18) → quantity (E18); bids are read from the highest key.
    bids: BTreeMap<i128, i128>,
    asks: BTreeMap<i128, i128>,
    /// `Some(u)` while synced: the last update id applied.
    last_id: Option<u64>,
    /// The snapshot id the next diff must straddle, until one has.
    straddle: Option<u64>,
    buffer: VecDeque<SpotDepth>,
    updated: Option<UnixNanos>,
    stats: BookStats,
}

impl SpotBook {
    /// An empty, unsynced book.
    pub fn new(venue: Venue) -> Self {
        SpotBook {
            venue,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            last_id: None,
            straddle: None,
            buffer: VecDeque::new(),
            updated: None,
            stats: BookStats::default(),
        }
    }

    /// Whether the book is synced (a snapshot applied and every diff since followed).
    pub fn is_synced(&self) -> bool {
        self.last_id.is_some()
    }

    /// Receive time of the last change applied.
    pub fn updated(&self) -> Option<UnixNanos> {
        self.updated
    }

    /// Counters.
    pub fn stats(&self) -> BookStats {
        self.stats
    }

    /// Drops the book and the buffered diffs (a gap marker on the stream).
    pub fn drop_state(&mut self) {
        self.clear_book();
        self.buffer.clear();
        self.stats.gaps += 1;
    }

    fn clear_book(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.last_id = None;
        self.straddle = None;
        self.updated = None;
    }

    /// Applies a snapshot or diff received at `at`.
    pub fn apply(&mut self, d: &SpotDepth, at: UnixNanos) {
        if d.is_snapshot {
            self.apply_snapshot(d, at);
        } else {
            self.apply_diff(d, at);
        }
    }

    fn apply_snapshot(&mut self, d: &SpotDepth, at: UnixNanos) {
        self.bids.clear();
        self.asks.clear();
        set_levels(&mut self.bids, &d.bids);
        set_levels(&mut self.asks, &d.asks);
        self.stats.snapshots += 1;
        self.updated = Some(at);
        // A snapshot without an id cannot be continued by diffs: it stands alone.
        let Some(l) = d.last_update_id else {
            self.last_id = None;
            self.straddle = None;
            return;
        };
        self.last_id = Some(l);
        self.straddle = Some(l);
        let buffered: Vec<SpotDepth> = self.buffer.drain(..).collect();
        for (i, b) in buffered.iter().enumerate() {
            self.apply_diff(b, at);
            if self.last_id.is_none() {
                // A break: `b` went back into the buffer; the rest waits with it.
                self.buffer.extend(buffered[i + 1..].iter().cloned());
                break;
            }
        }
    }

    fn apply_diff(&mut self, d: &SpotDepth, at: UnixNanos) {
        let (Some(first), Some(last)) = (d.first_update_id, d.last_update_id) else {
            return;
        };
        let Some(prev) = self.last_id else {
            if self.buffer.len() >= MAX_BUFFERED {
                self.buffer.pop_front();
                self.stats.overflow += 1;
            }
            self.buffer.push_back(d.clone());
            return;
        };
        if last <= prev {
            self.stats.stale_diffs += 1;
            return;
        }
        let follows = match self.straddle {
            Some(l) => match self.venue {
                Venue::BinanceUsdm => first <= l && l <= last,
                _ => first <= l + 1 && l < last,
            },
            None => match self.venue {
                Venue::BinanceUsdm => d.prev_update_id.map_or(first == prev + 1, |pu| pu == prev),
                _ => first == prev + 1,
            },
        };
        if !follows {
            self.stats.breaks += 1;
            self.clear_book();
            self.buffer.push_back(d.clone());
            return;
        }
        self.straddle = None;
        set_levels(&mut self.bids, &d.bids);
        set_levels(&mut self.asks, &d.asks);
        self.last_id = Some(last);
        self.updated = Some(at);
        self.stats.diffs += 1;
    }

    /// Best bid `(price, qty)` as `f64`.
    pub fn best_bid(&self) -> Option<(f64, f64)> {
        self.bids
            .iter()
            .next_back()
            .map(|(p, q)| (e18(*p), e18(*q)))
    }

    /// Best ask `(price, qty)` as `f64`.
    pub fn best_ask(&self) -> Option<(f64, f64)> {
        self.asks.iter().next().map(|(p, q)| (e18(*p), e18(*q)))
    }

    /// Bid levels best first, as `f64` `(price, qty)`.
    pub fn bids(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.bids.iter().rev().map(|(p, q)| (e18(*p), e18(*q)))
    }

    /// Ask levels best first.
    pub fn asks(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.asks.iter().map(|(p, q)| (e18(*p), e18(*q)))
    }

    /// Number of levels `(bids, asks)`.
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }
}

/// An E18 integer as `f64`: one conversion and one division (no `i128` division on the hot
/// path; within an ulp of `polyedge_model::online::fixed_to_f64`, which only the features read).
fn e18(x: i128) -> f64 {
    x as f64 / 1e18
}

fn set_levels(side: &mut BTreeMap<i128, i128>, levels: &[SpotLevel]) {
    for l in levels {
        if l.qty.0 == 0 {
            side.remove(&l.price.0);
        } else {
            side.insert(l.price.0, l.qty.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::{Fixed18, Symbol};

    fn lv(p: i64, q: i64) -> SpotLevel {
        SpotLevel {
            price: Fixed18(i128::from(p) * Fixed18::SCALE),
            qty: Fixed18(i128::from(q) * Fixed18::SCALE),
        }
    }

    fn depth(snap: bool, ids: (u64, u64), bids: Vec<SpotLevel>, asks: Vec<SpotLevel>) -> SpotDepth {
        SpotDepth {
            venue: Venue::BinanceSpot,
            symbol: Some(Symbol::new("BTCUSDT").unwrap()),
            is_snapshot: snap,
            first_update_id: (!snap).then_some(ids.0),
            last_update_id: Some(ids.1),
            prev_update_id: None,
            bids,
            asks,
        }
    }

    #[test]
    fn diffs_before_the_snapshot_are_buffered_and_replayed_after_it() {
        let mut b = SpotBook::new(Venue::BinanceSpot);
        let t = UnixNanos(1);
        // Received before the snapshot: 95..=99 (covered by it), 100..=104 (straddles 100), 105..=107.
        b.apply(&depth(false, (95, 99), vec![lv(1, 9)], vec![]), t);
        b.apply(
            &depth(false, (100, 104), vec![lv(99, 2)], vec![lv(101, 0)]),
            t,
        );
        b.apply(&depth(false, (105, 107), vec![], vec![lv(102, 7)]), t);
        assert!(!b.is_synced());
        b.apply(
            &depth(
                true,
                (0, 100),
                vec![lv(99, 1), lv(98, 1)],
                vec![lv(101, 1), lv(103, 1)],
            ),
            t,
        );
        assert!(b.is_synced());
        assert_eq!(b.best_bid(), Some((99.0, 2.0)));
        assert_eq!(b.best_ask(), Some((102.0, 7.0)));
        assert_eq!(b.stats().stale_diffs, 1);
        assert_eq!(b.stats().diffs, 2);
        // A diff that skips ids breaks the sequence: the book is dropped.
        b.apply(&depth(false, (110, 111), vec![], vec![]), t);
        assert!(!b.is_synced());
        assert_eq!(b.best_bid(), None);
        assert_eq!(b.stats().breaks, 1);
    }

    #[test]
    fn a_gap_drops_the_book_and_the_buffer() {
        let mut b = SpotBook::new(Venue::BinanceSpot);
        let t = UnixNanos(1);
        b.apply(&depth(true, (0, 10), vec![lv(5, 1)], vec![lv(6, 1)]), t);
        b.apply(&depth(false, (11, 11), vec![lv(5, 3)], vec![]), t);
        assert_eq!(b.best_bid(), Some((5.0, 3.0)));
        b.drop_state();
        assert!(!b.is_synced());
        assert_eq!(b.best_bid(), None);
        // A diff after the gap waits for a snapshot; an old snapshot does not bridge it.
        b.apply(&depth(false, (20, 21), vec![lv(4, 1)], vec![]), t);
        b.apply(&depth(true, (0, 15), vec![lv(5, 1)], vec![lv(6, 1)]), t);
        assert!(
            !b.is_synced(),
            "snapshot 15 cannot be continued by diff 20..21"
        );
        assert_eq!(b.stats().breaks, 1);
    }

    #[test]
    fn usdm_follows_pu() {
        let mut b = SpotBook::new(Venue::BinanceUsdm);
        let t = UnixNanos(1);
        let mut snap = depth(true, (0, 100), vec![lv(5, 1)], vec![lv(6, 1)]);
        snap.venue = Venue::BinanceUsdm;
        b.apply(&snap, t);
        let mut d1 = depth(false, (98, 103), vec![lv(5, 2)], vec![]);
        d1.prev_update_id = Some(97);
        b.apply(&d1, t);
        let mut d2 = depth(false, (104, 108), vec![lv(5, 4)], vec![]);
        d2.prev_update_id = Some(103);
        b.apply(&d2, t);
        assert_eq!(b.best_bid(), Some((5.0, 4.0)));
        let mut d3 = depth(false, (110, 112), vec![], vec![]);
        d3.prev_update_id = Some(109);
        b.apply(&d3, t);
        assert!(!b.is_synced());
    }
}
