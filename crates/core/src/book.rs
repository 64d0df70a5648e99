//! L2 order book of one outcome token.
//!
//! Prices live on the venue's finest grid, 0.0001 (Polymarket tick sizes are 0.1, 0.01, 0.001 or
//! 0.0001), so each side is a flat array of 10 001 slots indexed by `price / 0.0001` plus an
//! occupancy bitset. Best bid/ask are cached (O(1) to read); removing the best level finds the next
//! one by scanning the bitset (at most 157 words). Snapshots clear only occupied slots.
//!
//! The book does not reject levels that are finer than its current tick size: real recordings show
//! `book` frames declaring `tick_size` 0.01 with 0.001-priced levels near the extremes after the
//! venue's automatic tick change (protocols.md §6.2). It does reject prices off the 0.0001 grid and
//! prices outside (0, 1).

use crate::event::{BookDelta, BookSnapshot, Level};
use crate::fixed::{Price, Size, notional_e12};
use crate::ids::TokenId;
use crate::market::BookSide;
use crate::time::UnixNanos;

/// Grid step in micro-pUSD (0.0001).
pub const GRID_MICROS: u32 = 100;
/// Number of grid slots: prices 0.0000 … 1.0000.
pub const GRID_SLOTS: usize = 10_001;
const WORDS: usize = GRID_SLOTS.div_ceil(64);

/// Why a book update was refused. The book is unchanged when an error is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// Price is not a multiple of 0.0001.
    #[error("price {price} is off the 0.0001 grid")]
    OffGrid {
        /// The price.
        price: Price,
    },
    /// Price is 0 or 1 (or beyond): no order can rest there.
    #[error("price {price} is outside (0, 1)")]
    OutOfRange {
        /// The price.
        price: Price,
    },
    /// The update is for another token.
    #[error("update for token {got} applied to the book of {expected}")]
    WrongToken {
        /// This book's token.
        expected: TokenId,
        /// The update's token.
        got: TokenId,
    },
}

fn slot(price: Price) -> Result<usize, BookError> {
    let m = price.micros();
    if !m.is_multiple_of(GRID_MICROS) {
        return Err(BookError::OffGrid { price });
    }
    let idx = (m / GRID_MICROS) as usize;
    if idx == 0 || idx >= GRID_SLOTS - 1 {
        return Err(BookError::OutOfRange { price });
    }
    Ok(idx)
}

fn price_of(idx: usize) -> Price {
    // idx < GRID_SLOTS, so the product fits in u32 and is ≤ 1e6.
    #[allow(clippy::cast_possible_truncation)]
    Price::from_micros(idx as u32 * GRID_MICROS).unwrap_or(Price::ZERO)
}

/// One side of the book on the 0.0001 grid.
#[derive(Clone)]
struct Ladder {
    sizes: Box<[u64]>,
    occupied: [u64; WORDS],
    /// Words of `occupied` that may be non-zero: `span.0..span.1` (a superset; empty when
    /// `span.0 >= span.1`). Lets a snapshot visit only that part of the bitset.
    span: (usize, usize),
    best: Option<usize>,
    count: u32,
    is_bid: bool,
}

impl Ladder {
    fn new(is_bid: bool) -> Self {
        Ladder {
            sizes: vec![0u64; GRID_SLOTS].into_boxed_slice(),
            occupied: [0; WORDS],
            span: (0, 0),
            best: None,
            count: 0,
            is_bid,
        }
    }

    fn clear(&mut self) {
        let (lo, hi) = self.span;
        for (w, word) in (lo..).zip(&mut self.occupied[lo..hi]) {
            let mut bits = *word;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                self.sizes[w * 64 + b] = 0;
                bits &= bits - 1;
            }
            *word = 0;
        }
        self.span = (0, 0);
        self.best = None;
        self.count = 0;
    }

    /// Replaces the whole side with the levels `plan` was made from (zero sizes skipped; a
    /// price given twice keeps its last size). Writes the new sizes, zeroes only the slots that
    /// were occupied and are no longer, and visits only the bitset words that were or become
    /// occupied, instead of clearing every level and setting each one again.
    fn replace(&mut self, levels: &[Level], plan: &Plan) {
        for l in levels {
            let size = l.size.micros();
            if size != 0 {
                // On the grid and in range: checked by `Plan::of`.
                self.sizes[(l.price.micros() / GRID_MICROS) as usize] = size;
            }
        }
        let new_span = plan.span();
        let (from, to) = if self.span.0 >= self.span.1 {
            new_span
        } else if new_span.0 >= new_span.1 {
            self.span
        } else {
            (self.span.0.min(new_span.0), self.span.1.max(new_span.1))
        };
        let words = self.occupied[from..to].iter_mut().zip(&plan.bits[from..to]);
        for (w, (old, &new)) in (from..).zip(words) {
            let mut gone = *old & !new;
            while gone != 0 {
                self.sizes[w * 64 + gone.trailing_zeros() as usize] = 0;
                gone &= gone - 1;
            }
            *old = new;
        }
        self.span = new_span;
        self.count = plan.count;
        self.best = (plan.count > 0).then_some(if self.is_bid { plan.hi } else { plan.lo });
    }

    fn set(&mut self, idx: usize, size: u64) {
        let (w, b) = (idx / 64, idx % 64);
        let was = self.occupied[w] >> b & 1 == 1;
        self.sizes[idx] = size;
        if size == 0 {
            if was {
                self.occupied[w] &= !(1 << b);
                self.count -= 1;
                if self.best == Some(idx) {
                    self.best = if self.is_bid {
                        self.next_below(idx)
                    } else {
                        self.next_above(idx)
                    };
                }
            }
        } else if !was {
            self.occupied[w] |= 1 << b;
            self.count += 1;
            self.span = if self.span.0 >= self.span.1 {
                (w, w + 1)
            } else {
                (self.span.0.min(w), self.span.1.max(w + 1))
            };
            self.best = match self.best {
                None => Some(idx),
                Some(cur) if (self.is_bid && idx > cur) || (!self.is_bid && idx < cur) => Some(idx),
                keep => keep,
            };
        }
    }

    /// Highest occupied slot strictly below `idx`.
    fn next_below(&self, idx: usize) -> Option<usize> {
        if idx == 0 {
            return None;
        }
        let i = idx - 1;
        let (mut w, b) = (i / 64, i % 64);
        let mut bits = self.occupied[w] & (u64::MAX >> (63 - b));
        loop {
            if bits != 0 {
                return Some(w * 64 + 63 - bits.leading_zeros() as usize);
            }
            // Words below the span are empty.
            if w <= self.span.0 {
                return None;
            }
            w -= 1;
            bits = self.occupied[w];
        }
    }

    /// Lowest occupied slot strictly above `idx`.
    fn next_above(&self, idx: usize) -> Option<usize> {
        let i = idx + 1;
        if i >= GRID_SLOTS {
            return None;
        }
        let (mut w, b) = (i / 64, i % 64);
        let mut bits = self.occupied[w] & (u64::MAX << b);
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            // Words from the span's end on are empty.
            if w >= self.span.1.min(WORDS) {
                return None;
            }
            bits = self.occupied[w];
        }
    }

    /// Occupied slots from best outward.
    fn iter(&self) -> LadderIter<'_> {
        LadderIter {
            ladder: self,
            next: self.best,
        }
    }
}

/// The occupancy a snapshot side will have, worked out (and its prices checked) before the
/// book is touched.
struct Plan {
    bits: [u64; WORDS],
    lo: usize,
    hi: usize,
    count: u32,
}

impl Plan {
    /// The plan of one side's levels (zero sizes skipped).
    ///
    /// # Errors
    /// [`BookError`] for the first price off the grid or outside (0, 1).
    fn of(levels: &[Level]) -> Result<Plan, BookError> {
        let mut p = Plan {
            bits: [0; WORDS],
            lo: usize::MAX,
            hi: 0,
            count: 0,
        };
        for l in levels {
            let i = slot(l.price)?;
            if l.size.is_zero() {
                continue;
            }
            let (w, bit) = (i / 64, 1u64 << (i % 64));
            p.count += u32::from(p.bits[w] & bit == 0);
            p.bits[w] |= bit;
            p.lo = p.lo.min(i);
            p.hi = p.hi.max(i);
        }
        Ok(p)
    }

    /// The words holding the levels (empty when there are none).
    fn span(&self) -> (usize, usize) {
        if self.count == 0 {
            (0, 0)
        } else {
            (self.lo / 64, self.hi / 64 + 1)
        }
    }
}

/// The levels of one side of an [`OrderBook`], best first ([`OrderBook::levels`]); walks the
/// occupancy bitmap, allocation-free.
#[derive(Clone)]
pub struct LadderIter<'a> {
    ladder: &'a Ladder,
    next: Option<usize>,
}

impl std::fmt::Debug for LadderIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LadderIter")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Iterator for LadderIter<'_> {
    type Item = Level;
    fn next(&mut self) -> Option<Level> {
        let idx = self.next?;
        self.next = if self.ladder.is_bid {
            self.ladder.next_below(idx)
        } else {
            self.ladder.next_above(idx)
        };
        Some(Level {
            price: price_of(idx),
            size: Size::from_micros(self.ladder.sizes[idx]),
        })
    }
}

/// The result of walking one side of the book for a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Shares available and taken (≤ requested).
    pub filled: Size,
    /// Exact `Σ price × size` in 1e-12 pUSD.
    pub notional_e12: u128,
    /// The last (worst) price touched, `None` if nothing was filled.
    pub worst_price: Option<Price>,
    /// Number of levels touched.
    pub levels: u32,
}

impl Sweep {
    /// Volume-weighted average price in micro-pUSD per share as `f64` (display/models), `None` if empty.
    pub fn vwap_f64(&self) -> Option<f64> {
        if self.filled.is_zero() {
            return None;
        }
        Some(self.notional_e12 as f64 / self.filled.micros() as f64 / 1e6)
    }
}

/// Walks `levels` (one side of a book, best first) to take up to `shares`, not beyond `limit` if
/// given: asks priced ≤ `limit` when `side` is [`BookSide::Ask`], bids priced ≥ `limit` otherwise.
/// Shared by [`OrderBook::sweep`] and the mirrored view of
/// [`WindowBook::sweep`](crate::window_book::WindowBook::sweep).
pub fn sweep_levels(
    levels: impl Iterator<Item = Level>,
    side: BookSide,
    shares: Size,
    limit: Option<Price>,
) -> Sweep {
    let mut left = shares.micros();
    let mut out = Sweep {
        filled: Size::ZERO,
        notional_e12: 0,
        worst_price: None,
        levels: 0,
    };
    for l in levels {
        if left == 0 {
            break;
        }
        let within = limit.is_none_or(|lim| match side {
            BookSide::Ask => l.price <= lim,
            BookSide::Bid => l.price >= lim,
        });
        if !within {
            break;
        }
        let take = l.size.micros().min(left);
        left -= take;
        out.filled += Size::from_micros(take);
        out.notional_e12 += notional_e12(l.price, Size::from_micros(take));
        out.worst_price = Some(l.price);
        out.levels += 1;
    }
    out
}

/// L2 order book of one outcome token.
#[derive(Clone)]
pub struct OrderBook {
    token: TokenId,
    tick: Option<Price>,
    bids: Ladder,
    asks: Ladder,
    last_update: Option<UnixNanos>,
    updates: u64,
}

impl std::fmt::Debug for OrderBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderBook")
            .field("token", &self.token)
            .field("best_bid", &self.best_bid())
            .field("best_ask", &self.best_ask())
            .field("bid_levels", &self.bids.count)
            .field("ask_levels", &self.asks.count)
            .finish_non_exhaustive()
    }
}

impl OrderBook {
    /// An empty book for `token`.
    pub fn new(token: TokenId) -> Self {
        OrderBook {
            token,
            tick: None,
            bids: Ladder::new(true),
            asks: Ladder::new(false),
            last_update: None,
            updates: 0,
        }
    }

    /// The token this book belongs to.
    pub fn token(&self) -> TokenId {
        self.token
    }

    /// Current tick size, if the venue has told us (first `book` frame or `tick_size_change`).
    pub fn tick_size(&self) -> Option<Price> {
        self.tick
    }

    /// Records a tick-size change. Existing levels are kept (the venue re-sends the book).
    pub fn set_tick_size(&mut self, tick: Price) {
        self.tick = Some(tick);
    }

    /// Replaces the whole book with a snapshot received at `at`.
    ///
    /// # Errors
    /// [`BookError`] if the snapshot is for another token or any level is off the 0.0001 grid or
    /// outside (0, 1); the book is then left unchanged. Zero-size levels are ignored.
    pub fn apply_snapshot(&mut self, snap: &BookSnapshot, at: UnixNanos) -> Result<(), BookError> {
        if snap.token != self.token {
            return Err(BookError::WrongToken {
                expected: self.token,
                got: snap.token,
            });
        }
        let bids = Plan::of(&snap.bids)?;
        let asks = Plan::of(&snap.asks)?;
        self.bids.replace(&snap.bids, &bids);
        self.asks.replace(&snap.asks, &asks);
        if let Some(t) = snap.tick_size {
            self.tick = Some(t);
        }
        self.touch(at);
        Ok(())
    }

    /// Sets the total size at one level (`size` 0 removes it), received at `at`.
    ///
    /// # Errors
    /// [`BookError`] if the delta is for another token or its price is off-grid or outside (0, 1).
    pub fn apply_delta(&mut self, delta: &BookDelta, at: UnixNanos) -> Result<(), BookError> {
        if delta.token != self.token {
            return Err(BookError::WrongToken {
                expected: self.token,
                got: delta.token,
            });
        }
        self.set_level(delta.side, delta.price, delta.size)?;
        self.touch(at);
        Ok(())
    }

    /// Sets the total size at one level directly.
    ///
    /// # Errors
    /// [`BookError::OffGrid`] / [`BookError::OutOfRange`] for a bad price.
    pub fn set_level(&mut self, side: BookSide, price: Price, size: Size) -> Result<(), BookError> {
        let i = slot(price)?;
        match side {
            BookSide::Bid => self.bids.set(i, size.micros()),
            BookSide::Ask => self.asks.set(i, size.micros()),
        }
        Ok(())
    }

    /// Empties both sides (e.g. after a gap, until the next snapshot).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    fn touch(&mut self, at: UnixNanos) {
        self.last_update = Some(at);
        self.updates += 1;
    }

    /// Best (highest) bid, O(1).
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best.map(|i| Level {
            price: price_of(i),
            size: Size::from_micros(self.bids.sizes[i]),
        })
    }

    /// Best (lowest) ask, O(1).
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best.map(|i| Level {
            price: price_of(i),
            size: Size::from_micros(self.asks.sizes[i]),
        })
    }

    /// Best level of `side`.
    pub fn best(&self, side: BookSide) -> Option<Level> {
        match side {
            BookSide::Bid => self.best_bid(),
            BookSide::Ask => self.best_ask(),
        }
    }

    /// Mid price `(best bid + best ask) / 2` in micro-pUSD (exact: both are on the 0.0001 grid).
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Price::from_micros(u32::midpoint(b.price.micros(), a.price.micros())).ok()
    }

    /// Spread `best ask − best bid` in micro-pUSD; negative when crossed.
    pub fn spread_micros(&self) -> Option<i64> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(i64::from(a.price.micros()) - i64::from(b.price.micros()))
    }

    /// `true` when best bid ≥ best ask — impossible on the venue, so a sign of a missed update.
    pub fn is_crossed(&self) -> bool {
        matches!(self.spread_micros(), Some(s) if s <= 0)
    }

    /// `true` when no update arrived within `max_age_ns` before `now` (or never).
    pub fn is_stale(&self, now: UnixNanos, max_age_ns: u64) -> bool {
        self.last_update
            .is_none_or(|t| now.saturating_sub(t) > max_age_ns)
    }

    /// Receive time of the last applied update.
    pub fn last_update(&self) -> Option<UnixNanos> {
        self.last_update
    }

    /// Number of updates applied (snapshots and deltas).
    pub fn update_count(&self) -> u64 {
        self.updates
    }

    /// Number of non-empty levels on `side`.
    pub fn level_count(&self, side: BookSide) -> usize {
        match side {
            BookSide::Bid => self.bids.count as usize,
            BookSide::Ask => self.asks.count as usize,
        }
    }

    /// Levels of `side`, best first.
    pub fn levels(&self, side: BookSide) -> LadderIter<'_> {
        match side {
            BookSide::Bid => self.bids.iter(),
            BookSide::Ask => self.asks.iter(),
        }
    }

    /// Size at exactly `price` on `side` (zero if empty or off-grid).
    pub fn size_at(&self, side: BookSide, price: Price) -> Size {
        slot(price).map_or(Size::ZERO, |i| {
            Size::from_micros(match side {
                BookSide::Bid => self.bids.sizes[i],
                BookSide::Ask => self.asks.sizes[i],
            })
        })
    }

    /// Total size on `side` at prices at least as good as `limit` for a taker: asks priced
    /// ≤ `limit`, or bids priced ≥ `limit`.
    pub fn depth_up_to(&self, side: BookSide, limit: Price) -> Size {
        let mut total = Size::ZERO;
        for l in self.levels(side) {
            let ok = match side {
                BookSide::Ask => l.price <= limit,
                BookSide::Bid => l.price >= limit,
            };
            if !ok {
                break;
            }
            total += l.size;
        }
        total
    }

    /// Walks `side` from the best level to take up to `shares`, optionally not beyond `limit`.
    /// Buying walks the asks, selling walks the bids.
    pub fn sweep(&self, side: BookSide, shares: Size, limit: Option<Price>) -> Sweep {
        sweep_levels(self.levels(side), side, shares, limit)
    }

    /// A snapshot of the current state (levels best first), e.g. to compare with a venue snapshot.
    pub fn to_snapshot(&self) -> (Vec<Level>, Vec<Level>) {
        (
            self.levels(BookSide::Bid).collect(),
            self.levels(BookSide::Ask).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ConditionId;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn sz(s: &str) -> Size {
        Size::parse(s).unwrap()
    }
    fn lv(price: &str, size: &str) -> Level {
        Level {
            price: p(price),
            size: sz(size),
        }
    }
    fn tok() -> TokenId {
        TokenId::parse("123").unwrap()
    }
    fn snap(bids: Vec<Level>, asks: Vec<Level>) -> BookSnapshot {
        BookSnapshot {
            market: ConditionId::default(),
            token: tok(),
            bids,
            asks,
            hash: None,
            tick_size: Some(p("0.01")),
            last_trade_price: None,
        }
    }
    fn delta(side: BookSide, price: &str, size: &str) -> BookDelta {
        BookDelta {
            market: ConditionId::default(),
            token: tok(),
            side,
            price: p(price),
            size: sz(size),
            best_bid: None,
            best_ask: None,
        }
    }

    #[test]
    fn snapshot_best_and_depth() {
        let mut b = OrderBook::new(tok());
        b.apply_snapshot(
            &snap(
                vec![lv("0.48", "10"), lv("0.47", "20")],
                vec![lv("0.50", "5"), lv("0.52", "7"), lv("0.00005", "1")],
            ),
            UnixNanos(1),
        )
        .unwrap_err();
        b.apply_snapshot(
            &snap(
                vec![lv("0.48", "10"), lv("0.47", "20")],
                vec![lv("0.50", "5"), lv("0.52", "7")],
            ),
            UnixNanos(1),
        )
        .unwrap();
        assert_eq!(b.best_bid(), Some(lv("0.48", "10")));
        assert_eq!(b.best_ask(), Some(lv("0.50", "5")));
        assert_eq!(b.mid(), Some(p("0.49")));
        assert_eq!(b.spread_micros(), Some(20_000));
        assert_eq!(b.depth_up_to(BookSide::Ask, p("0.51")), sz("5"));
        assert_eq!(b.depth_up_to(BookSide::Ask, p("0.52")), sz("12"));
        let s = b.sweep(BookSide::Ask, sz("8"), None);
        assert_eq!(s.filled, sz("8"));
        assert_eq!(
            s.notional_e12,
            5 * 500_000 * 1_000_000 + 3 * 520_000 * 1_000_000
        );
        assert_eq!(s.worst_price, Some(p("0.52")));
        let s = b.sweep(BookSide::Ask, sz("100"), Some(p("0.50")));
        assert_eq!(s.filled, sz("5"));
    }

    #[test]
    fn deltas_move_best_and_detect_crossing() {
        let mut b = OrderBook::new(tok());
        b.apply_snapshot(
            &snap(vec![lv("0.48", "10")], vec![lv("0.50", "5")]),
            UnixNanos(1),
        )
        .unwrap();
        b.apply_delta(&delta(BookSide::Bid, "0.48", "0"), UnixNanos(2))
            .unwrap();
        assert_eq!(b.best_bid(), None);
        b.apply_delta(&delta(BookSide::Bid, "0.30", "1"), UnixNanos(3))
            .unwrap();
        b.apply_delta(&delta(BookSide::Bid, "0.49", "1"), UnixNanos(3))
            .unwrap();
        assert_eq!(b.best_bid().map(|l| l.price), Some(p("0.49")));
        b.apply_delta(&delta(BookSide::Bid, "0.49", "0"), UnixNanos(3))
            .unwrap();
        assert_eq!(b.best_bid().map(|l| l.price), Some(p("0.30")));
        assert!(!b.is_crossed());
        b.apply_delta(&delta(BookSide::Bid, "0.50", "2"), UnixNanos(4))
            .unwrap();
        assert!(b.is_crossed());
        assert!(b.is_stale(UnixNanos(100), 10));
        assert!(!b.is_stale(UnixNanos(10), 10));
    }

    #[test]
    fn rejects_bad_prices_without_change() {
        let mut b = OrderBook::new(tok());
        b.apply_snapshot(&snap(vec![lv("0.48", "10")], vec![]), UnixNanos(1))
            .unwrap();
        assert_eq!(
            b.apply_delta(&delta(BookSide::Bid, "0.48005", "1"), UnixNanos(2)),
            Err(BookError::OffGrid {
                price: p("0.48005")
            })
        );
        assert!(matches!(
            b.apply_delta(&delta(BookSide::Ask, "1", "1"), UnixNanos(2)),
            Err(BookError::OutOfRange { .. })
        ));
        assert!(matches!(
            b.apply_delta(&delta(BookSide::Ask, "0", "1"), UnixNanos(2)),
            Err(BookError::OutOfRange { .. })
        ));
        assert_eq!(b.best_bid(), Some(lv("0.48", "10")));
        assert_eq!(b.update_count(), 1);
    }

    #[test]
    fn snapshot_replaces_levels_far_from_the_new_ones() {
        let mut b = OrderBook::new(tok());
        // Levels at both ends of the grid (first and last bitset words), then a snapshot in
        // the middle: the old ends must be gone, sizes included.
        b.apply_snapshot(
            &snap(
                vec![lv("0.50", "1"), lv("0.0001", "2")],
                vec![lv("0.51", "3"), lv("0.9999", "4")],
            ),
            UnixNanos(1),
        )
        .unwrap();
        b.apply_delta(&delta(BookSide::Bid, "0.0064", "5"), UnixNanos(2))
            .unwrap();
        b.apply_snapshot(
            &snap(
                vec![lv("0.30", "6"), lv("0.31", "0"), lv("0.30", "7")],
                vec![lv("0.70", "8")],
            ),
            UnixNanos(3),
        )
        .unwrap();
        let bids: Vec<Level> = b.levels(BookSide::Bid).collect();
        assert_eq!(
            bids,
            vec![lv("0.30", "7")],
            "a repeated price keeps its last size"
        );
        let asks: Vec<Level> = b.levels(BookSide::Ask).collect();
        assert_eq!(asks, vec![lv("0.70", "8")]);
        assert_eq!(b.level_count(BookSide::Bid), 1);
        for gone in ["0.0001", "0.0064", "0.50"] {
            assert_eq!(b.size_at(BookSide::Bid, p(gone)), Size::ZERO, "{gone}");
        }
        assert_eq!(b.size_at(BookSide::Ask, p("0.9999")), Size::ZERO);
        // Deltas after the snapshot see the new extent: removing the only bid empties the side,
        // a new far level becomes reachable again.
        b.apply_delta(&delta(BookSide::Bid, "0.30", "0"), UnixNanos(4))
            .unwrap();
        assert_eq!(b.best_bid(), None);
        b.apply_delta(&delta(BookSide::Ask, "0.9999", "9"), UnixNanos(5))
            .unwrap();
        b.apply_delta(&delta(BookSide::Ask, "0.70", "0"), UnixNanos(6))
            .unwrap();
        assert_eq!(b.best_ask(), Some(lv("0.9999", "9")));
        // An empty snapshot, then a clear: nothing left, nothing broken.
        b.apply_snapshot(&snap(vec![], vec![]), UnixNanos(7))
            .unwrap();
        assert_eq!((b.best_bid(), b.best_ask()), (None, None));
        b.apply_delta(&delta(BookSide::Bid, "0.0001", "1"), UnixNanos(8))
            .unwrap();
        b.clear();
        assert_eq!(b.levels(BookSide::Bid).count(), 0);
        assert_eq!(b.size_at(BookSide::Bid, p("0.0001")), Size::ZERO);
    }

    #[test]
    fn zero_size_snapshot_levels_are_ignored() {
        let mut b = OrderBook::new(tok());
        b.apply_snapshot(
            &snap(
                vec![lv("0.48", "10"), lv("0.48", "0"), lv("0.47", "0")],
                vec![],
            ),
            UnixNanos(1),
        )
        .unwrap();
        assert_eq!(b.best_bid(), Some(lv("0.48", "10")));
        assert_eq!(b.level_count(BookSide::Bid), 1);
    }

    #[test]
    fn extremes_of_grid() {
        let mut b = OrderBook::new(tok());
        b.apply_snapshot(
            &snap(vec![lv("0.0001", "1")], vec![lv("0.9999", "1")]),
            UnixNanos(1),
        )
        .unwrap();
        assert_eq!(b.best_bid().map(|l| l.price), Some(p("0.0001")));
        assert_eq!(b.best_ask().map(|l| l.price), Some(p("0.9999")));
        b.apply_delta(&delta(BookSide::Ask, "0.9999", "0"), UnixNanos(2))
            .unwrap();
        b.apply_delta(&delta(BookSide::Bid, "0.0001", "0"), UnixNanos(2))
            .unwrap();
        assert_eq!(b.best_ask(), None);
        assert_eq!(b.best_bid(), None);
    }
}
