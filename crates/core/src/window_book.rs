//! The two books of a window seen as one market.
//!
//! On Polymarket, buying Up at `p` and buying Down at `1 − p` match each other (a MINT match,
//! protocols.md §9), so a Down bid at `p` is an Up ask at `1 − p` and the venue publishes mirrored
//! books: an order on one token shows up on both feeds. The two token books are therefore two views
//! of **one** pool of liquidity, not two pools: adding them would double count.
//!
//! [`WindowBook`] answers "best ask to buy Up" and "best ask to buy Down" from whichever token's
//! book is the fresher (most recently updated; the direct book wins ties), mirroring the other one
//! when needed, and says which it used ([`LevelSource`]). Recordings that followed only one token
//! (cronos follows the Down token) thus still give both sides.

use serde::{Deserialize, Serialize};

use crate::book::{BookError, OrderBook, Sweep, sweep_levels};
use crate::event::{EventKind, Level, MarketEvent};
use crate::fixed::{Price, Size};
use crate::ids::TokenId;
use crate::market::{BookSide, Outcome};
use crate::time::UnixNanos;

/// Where a level of an outcome's book came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelSource {
    /// From the outcome's own token book.
    Direct,
    /// Mirrored from the other token's book (`1 − p`, opposite side).
    Mirrored,
}

/// A price level and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcedLevel {
    /// The level, expressed in the asked outcome's price.
    pub level: Level,
    /// Which token's book supplied it.
    pub source: LevelSource,
}

/// The Up and Down books of one window.
#[derive(Debug, Clone)]
pub struct WindowBook {
    up: OrderBook,
    down: OrderBook,
}

impl WindowBook {
    /// Empty books for the window's Up and Down tokens.
    pub fn new(up_token: TokenId, down_token: TokenId) -> Self {
        WindowBook {
            up: OrderBook::new(up_token),
            down: OrderBook::new(down_token),
        }
    }

    /// The raw book of `outcome`'s own token.
    pub fn book(&self, outcome: Outcome) -> &OrderBook {
        match outcome {
            Outcome::Up => &self.up,
            Outcome::Down => &self.down,
        }
    }

    /// Mutable raw book of `outcome`'s own token.
    pub fn book_mut(&mut self, outcome: Outcome) -> &mut OrderBook {
        match outcome {
            Outcome::Up => &mut self.up,
            Outcome::Down => &mut self.down,
        }
    }

    /// Which outcome `token` is, if it is one of this window's tokens.
    pub fn outcome_of(&self, token: TokenId) -> Option<Outcome> {
        if token == self.up.token() {
            Some(Outcome::Up)
        } else if token == self.down.token() {
            Some(Outcome::Down)
        } else {
            None
        }
    }

    /// Applies a book-changing event (`Book`, `BookDelta`, `TickSizeChange`) of one of this
    /// window's tokens; other events are ignored. Returns whether a book changed.
    ///
    /// # Errors
    /// [`BookError`] from the token's book; that book is then unchanged.
    pub fn apply(&mut self, event: &MarketEvent) -> Result<bool, BookError> {
        let Some(token) = event.kind.token() else {
            return Ok(false);
        };
        let Some(outcome) = self.outcome_of(token) else {
            return Ok(false);
        };
        let book = self.book_mut(outcome);
        match &event.kind {
            EventKind::Book(s) => book.apply_snapshot(s, event.recv_ns)?,
            EventKind::BookDelta(d) => book.apply_delta(d, event.recv_ns)?,
            EventKind::TickSizeChange(t) => book.set_tick_size(t.new_tick),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Which token's book answers for `outcome`: the more recently updated one (direct on ties);
    /// `None` if neither has data.
    pub fn source_for(&self, outcome: Outcome) -> Option<LevelSource> {
        let own = self.book(outcome).last_update();
        let other = self.book(outcome.other()).last_update();
        match (own, other) {
            (None, None) => None,
            (Some(_), None) => Some(LevelSource::Direct),
            (None, Some(_)) => Some(LevelSource::Mirrored),
            (Some(a), Some(b)) => Some(if a >= b {
                LevelSource::Direct
            } else {
                LevelSource::Mirrored
            }),
        }
    }

    /// Time of the freshest update to either book.
    pub fn last_update(&self) -> Option<UnixNanos> {
        self.up.last_update().max(self.down.last_update())
    }

    /// Levels of `outcome`'s `side`, best first, from the source chosen by [`Self::source_for`].
    pub fn levels(&self, outcome: Outcome, side: BookSide) -> WindowLevels<'_> {
        match self.source_for(outcome) {
            None => WindowLevels::Empty,
            Some(LevelSource::Direct) => WindowLevels::Direct(self.book(outcome).levels(side)),
            Some(LevelSource::Mirrored) => {
                WindowLevels::Mirrored(self.book(outcome.other()).levels(side.opposite()))
            }
        }
    }

    fn best(&self, outcome: Outcome, side: BookSide) -> Option<SourcedLevel> {
        let source = self.source_for(outcome)?;
        let level = match source {
            LevelSource::Direct => self.book(outcome).best(side)?,
            LevelSource::Mirrored => {
                let l = self.book(outcome.other()).best(side.opposite())?;
                Level {
                    price: l.price.complement(),
                    size: l.size,
                }
            }
        };
        Some(SourcedLevel { level, source })
    }

    /// Best ask to buy `outcome`.
    pub fn best_ask(&self, outcome: Outcome) -> Option<SourcedLevel> {
        self.best(outcome, BookSide::Ask)
    }

    /// Best bid to sell `outcome` into.
    pub fn best_bid(&self, outcome: Outcome) -> Option<SourcedLevel> {
        self.best(outcome, BookSide::Bid)
    }

    /// Mid of `outcome` in micro-pUSD.
    pub fn mid(&self, outcome: Outcome) -> Option<Price> {
        let (b, a) = (self.best_bid(outcome)?, self.best_ask(outcome)?);
        Price::from_micros(u32::midpoint(
            b.level.price.micros(),
            a.level.price.micros(),
        ))
        .ok()
    }

    /// Spread of `outcome` in micro-pUSD (negative when crossed).
    pub fn spread_micros(&self, outcome: Outcome) -> Option<i64> {
        let (b, a) = (self.best_bid(outcome)?, self.best_ask(outcome)?);
        Some(i64::from(a.level.price.micros()) - i64::from(b.level.price.micros()))
    }

    /// Best ask Up + best ask Down in micro-pUSD: the cost of a complete set bought at the top of
    /// book before fees. Below 1 000 000 is a (pre-fee) arbitrage.
    pub fn complete_set_ask_micros(&self) -> Option<u32> {
        Some(
            self.best_ask(Outcome::Up)?.level.price.micros()
                + self.best_ask(Outcome::Down)?.level.price.micros(),
        )
    }

    /// Walks `outcome`'s `side` for up to `shares`, not beyond `limit` if given.
    pub fn sweep(
        &self,
        outcome: Outcome,
        side: BookSide,
        shares: Size,
        limit: Option<Price>,
    ) -> Sweep {
        sweep_levels(self.levels(outcome, side), side, shares, limit)
    }

    /// `true` when both books have data, are updated at the same instant, and disagree at the top
    /// (e.g. Up best ask ≠ 1 − Down best bid). A sign of a missed update on one feed.
    pub fn mirror_mismatch(&self) -> bool {
        let (Some(a), Some(b)) = (self.up.last_update(), self.down.last_update()) else {
            return false;
        };
        if a != b {
            return false;
        }
        let up_ask = self.up.best_ask().map(|l| l.price);
        let down_bid_mirror = self.down.best_bid().map(|l| l.price.complement());
        let up_bid = self.up.best_bid().map(|l| l.price);
        let down_ask_mirror = self.down.best_ask().map(|l| l.price.complement());
        up_ask != down_bid_mirror || up_bid != down_ask_mirror
    }
}

/// The levels of one outcome's side of a [`WindowBook`], best first ([`WindowBook::levels`]):
/// the outcome's own book, or the other outcome's opposite side with prices complemented
/// (`1 − p`). Allocation-free.
#[derive(Debug, Clone)]
pub enum WindowLevels<'a> {
    /// No book for the outcome.
    Empty,
    /// The outcome's own levels.
    Direct(crate::book::LadderIter<'a>),
    /// The other outcome's opposite side, mirrored.
    Mirrored(crate::book::LadderIter<'a>),
}

impl Iterator for WindowLevels<'_> {
    type Item = Level;
    fn next(&mut self) -> Option<Level> {
        match self {
            WindowLevels::Empty => None,
            WindowLevels::Direct(it) => it.next(),
            WindowLevels::Mirrored(it) => it.next().map(|l| Level {
                price: l.price.complement(),
                size: l.size,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::BookSnapshot;
    use crate::ids::ConditionId;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn lv(price: &str, size: u64) -> Level {
        Level {
            price: p(price),
            size: Size::from_shares(size),
        }
    }
    fn ev(token: TokenId, t: u64, bids: Vec<Level>, asks: Vec<Level>) -> MarketEvent {
        MarketEvent {
            recv_ns: UnixNanos(t),
            venue_ns: None,
            kind: EventKind::Book(BookSnapshot {
                market: ConditionId::default(),
                token,
                bids,
                asks,
                hash: None,
                tick_size: None,
                last_trade_price: None,
            }),
        }
    }

    #[test]
    fn down_only_book_answers_for_up() {
        let (up, down) = (TokenId::parse("1").unwrap(), TokenId::parse("2").unwrap());
        let mut wb = WindowBook::new(up, down);
        assert_eq!(wb.best_ask(Outcome::Up), None);
        wb.apply(&ev(
            down,
            1,
            vec![lv("0.40", 10), lv("0.39", 5)],
            vec![lv("0.42", 7)],
        ))
        .unwrap();
        let a = wb.best_ask(Outcome::Up).unwrap();
        assert_eq!(a.level, lv("0.60", 10));
        assert_eq!(a.source, LevelSource::Mirrored);
        assert_eq!(wb.best_bid(Outcome::Up).unwrap().level, lv("0.58", 7));
        assert_eq!(
            wb.best_ask(Outcome::Down).unwrap().source,
            LevelSource::Direct
        );
        assert_eq!(wb.complete_set_ask_micros(), Some(1_020_000));
        let s = wb.sweep(Outcome::Up, BookSide::Ask, Size::from_shares(12), None);
        assert_eq!(s.filled, Size::from_shares(12));
        assert_eq!(s.worst_price, Some(p("0.61")));
        let levels: Vec<Level> = wb.levels(Outcome::Up, BookSide::Ask).collect();
        assert_eq!(levels, vec![lv("0.60", 10), lv("0.61", 5)]);
    }

    #[test]
    fn fresher_book_wins_and_mismatch_detected() {
        let (up, down) = (TokenId::parse("1").unwrap(), TokenId::parse("2").unwrap());
        let mut wb = WindowBook::new(up, down);
        wb.apply(&ev(down, 1, vec![lv("0.40", 10)], vec![lv("0.42", 7)]))
            .unwrap();
        wb.apply(&ev(up, 2, vec![lv("0.57", 3)], vec![lv("0.61", 4)]))
            .unwrap();
        assert_eq!(
            wb.best_ask(Outcome::Up).unwrap().source,
            LevelSource::Direct
        );
        assert_eq!(
            wb.best_ask(Outcome::Down).unwrap().source,
            LevelSource::Mirrored
        );
        assert_eq!(wb.best_ask(Outcome::Down).unwrap().level, lv("0.43", 3));
        assert!(!wb.mirror_mismatch());
        wb.apply(&ev(down, 2, vec![lv("0.40", 10)], vec![lv("0.42", 7)]))
            .unwrap();
        assert!(wb.mirror_mismatch());
        wb.apply(&ev(down, 2, vec![lv("0.39", 4)], vec![lv("0.43", 3)]))
            .unwrap();
        assert!(!wb.mirror_mismatch());
    }
}
