//! Property tests of [`WindowBook`]: mirroring one token's book into the other outcome, agreement
//! of direct and mirrored answers, source selection by freshness, and `mirror_mismatch`.

// A test crate: a failed `unwrap` is a test failure, and helpers outside `#[test]` fns use it too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use polyedge_core::book::{GRID_MICROS, Sweep};
use polyedge_core::event::{BookDelta, BookSnapshot, Level, TickSizeChange};
use polyedge_core::window_book::SourcedLevel;
use polyedge_core::{
    BookSide, ConditionId, EventKind, LevelSource, MarketEvent, Outcome, Price, Size, TokenId,
    UnixNanos, WindowBook,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const ONE: u32 = 1_000_000;
const MAX_IDX: u32 = 9_999;
const SIDES: [BookSide; 2] = [BookSide::Bid, BookSide::Ask];
const OUTCOMES: [Outcome; 2] = [Outcome::Up, Outcome::Down];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn token(o: Outcome) -> TokenId {
    match o {
        Outcome::Up => TokenId::parse("1").unwrap(),
        Outcome::Down => TokenId::parse("2").unwrap(),
    }
}

fn px(micros: u32) -> Price {
    Price::from_micros(micros).unwrap()
}

fn lv(micros: u32, size: u64) -> Level {
    Level {
        price: px(micros),
        size: Size::from_micros(size),
    }
}

/// One token's book: price (micros) → size (micros, > 0) per side.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sides {
    bids: BTreeMap<u32, u64>,
    asks: BTreeMap<u32, u64>,
}

impl Sides {
    fn side(&self, side: BookSide) -> &BTreeMap<u32, u64> {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    fn set(&mut self, side: BookSide, micros: u32, size: u64) {
        let m = match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        if size == 0 {
            m.remove(&micros);
        } else {
            m.insert(micros, size);
        }
    }

    fn levels(&self, side: BookSide) -> Vec<Level> {
        let it = self.side(side).iter().map(|(&p, &s)| lv(p, s));
        match side {
            BookSide::Bid => it.rev().collect(),
            BookSide::Ask => it.collect(),
        }
    }

    fn best(&self, side: BookSide) -> Option<Level> {
        self.levels(side).first().copied()
    }

    /// The same liquidity seen from the other token: a bid at `p` is an ask at `1 − p`.
    fn mirror(&self) -> Sides {
        let flip = |m: &BTreeMap<u32, u64>| m.iter().map(|(&p, &s)| (ONE - p, s)).collect();
        Sides {
            bids: flip(&self.asks),
            asks: flip(&self.bids),
        }
    }
}

fn book_event(o: Outcome, t: u64, s: &Sides) -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(t),
        venue_ns: None,
        kind: EventKind::Book(BookSnapshot {
            market: ConditionId::default(),
            token: token(o),
            bids: s.levels(BookSide::Bid),
            asks: s.levels(BookSide::Ask),
            hash: None,
            tick_size: None,
            last_trade_price: None,
        }),
    }
}

fn delta_event(o: Outcome, t: u64, side: BookSide, micros: u32, size: u64) -> MarketEvent {
    MarketEvent {
        recv_ns: UnixNanos(t),
        venue_ns: None,
        kind: EventKind::BookDelta(BookDelta {
            market: ConditionId::default(),
            token: token(o),
            side,
            price: px(micros),
            size: Size::from_micros(size),
            best_bid: None,
            best_ask: None,
        }),
    }
}

fn within(side: BookSide, price: Price, limit: Price) -> bool {
    match side {
        BookSide::Ask => price <= limit,
        BookSide::Bid => price >= limit,
    }
}

/// Reference sweep over best-first levels.
fn ref_sweep(levels: &[Level], side: BookSide, shares: u64, limit: Option<Price>) -> Sweep {
    let mut out = Sweep {
        filled: Size::ZERO,
        notional_e12: 0,
        worst_price: None,
        levels: 0,
    };
    let mut left = shares;
    for l in levels {
        if left == 0 || limit.is_some_and(|lim| !within(side, l.price, lim)) {
            break;
        }
        let take = left.min(l.size.micros());
        left -= take;
        out.filled = Size::from_micros(out.filled.micros() + take);
        out.notional_e12 += u128::from(l.price.micros()) * u128::from(take);
        out.worst_price = Some(l.price);
        out.levels += 1;
    }
    out
}

/// Top-of-book disagreement between the two books as `mirror_mismatch` defines it.
fn tops_disagree(up: &Sides, down: &Sides) -> bool {
    let price = |l: Option<Level>| l.map(|l| l.price.micros());
    let cprice = |l: Option<Level>| l.map(|l| ONE - l.price.micros());
    price(up.best(BookSide::Ask)) != cprice(down.best(BookSide::Bid))
        || price(up.best(BookSide::Bid)) != cprice(down.best(BookSide::Ask))
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn grid_idx() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => Just(1u32),
        2 => Just(MAX_IDX),
        2 => 1..=40u32,
        2 => (MAX_IDX - 39)..=MAX_IDX,
        6 => 4_980..=5_020u32,
        4 => 1..=MAX_IDX,
    ]
}

fn grid_micros() -> impl Strategy<Value = u32> {
    grid_idx().prop_map(|i| i * GRID_MICROS)
}

fn any_micros() -> impl Strategy<Value = u32> {
    prop_oneof![3 => grid_micros(), 1 => 0..=ONE]
}

fn level_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => Just(0u64),
        1 => Just(1u64),
        3 => 1..=1_000_000u64,
        3 => 1..=1_000_000_000_000_000u64,
    ]
}

fn book_side() -> impl Strategy<Value = BookSide> {
    prop_oneof![Just(BookSide::Bid), Just(BookSide::Ask)]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![Just(Outcome::Up), Just(Outcome::Down)]
}

fn sides() -> impl Strategy<Value = Sides> {
    let side = || prop::collection::btree_map(grid_micros(), 1..=1_000_000_000_000_000u64, 0..14);
    (side(), side()).prop_map(|(bids, asks)| Sides { bids, asks })
}

fn deltas() -> impl Strategy<Value = Vec<(BookSide, u32, u64)>> {
    prop::collection::vec((book_side(), grid_micros(), level_size()), 0..20)
}

#[derive(Debug, Clone)]
struct Probe {
    shares: u64,
    limit: Option<u32>,
}

fn probes() -> impl Strategy<Value = Vec<Probe>> {
    let one = (
        prop_oneof![
            Just(0u64),
            1..=5_000_000u64,
            1..=5_000_000_000_000_000u64,
            Just(u64::MAX)
        ],
        prop::option::of(any_micros()),
    )
        .prop_map(|(shares, limit)| Probe { shares, limit });
    prop::collection::vec(one, 1..5)
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// Asserts that `wb` answers for `o` exactly as the book `want` would, citing `source`.
fn check_view(
    wb: &WindowBook,
    o: Outcome,
    want: &Sides,
    source: LevelSource,
    probes: &[Probe],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(wb.source_for(o), Some(source));
    let sourced = |side| want.best(side).map(|level| SourcedLevel { level, source });
    prop_assert_eq!(wb.best_ask(o), sourced(BookSide::Ask), "best_ask({:?})", o);
    prop_assert_eq!(wb.best_bid(o), sourced(BookSide::Bid), "best_bid({:?})", o);
    for side in SIDES {
        let levels = want.levels(side);
        let got: Vec<Level> = wb.levels(o, side).collect();
        prop_assert_eq!(&got, &levels, "levels({:?}, {:?})", o, side);
        for pr in probes.iter().chain([&Probe {
            shares: u64::MAX,
            limit: None,
        }]) {
            let limit = pr.limit.map(px);
            prop_assert_eq!(
                wb.sweep(o, side, Size::from_micros(pr.shares), limit),
                ref_sweep(&levels, side, pr.shares, limit),
                "sweep({:?}, {:?}, {:?})",
                o,
                side,
                pr
            );
        }
    }
    if let (Some(b), Some(a)) = (want.best(BookSide::Bid), want.best(BookSide::Ask)) {
        let (b, a) = (b.price.micros(), a.price.micros());
        prop_assert_eq!(wb.mid(o), Some(px(u32::midpoint(a, b))));
        prop_assert_eq!(wb.spread_micros(o), Some(i64::from(a) - i64::from(b)));
    } else {
        prop_assert_eq!(wb.mid(o), None);
        prop_assert_eq!(wb.spread_micros(o), None);
    }
    Ok(())
}

/// `complete_set_ask_micros` = best ask Up + best ask Down, from the views.
fn check_complete_set(wb: &WindowBook, up: &Sides, down: &Sides) -> Result<(), TestCaseError> {
    let want = match (up.best(BookSide::Ask), down.best(BookSide::Ask)) {
        (Some(u), Some(d)) => Some(u.price.micros() + d.price.micros()),
        _ => None,
    };
    prop_assert_eq!(wb.complete_set_ask_micros(), want);
    Ok(())
}

/// Every answer of `a` equals that of `b` (levels, sweeps, mid, spread, complete set); only the
/// cited sources may differ.
fn same_answers(a: &WindowBook, b: &WindowBook, probes: &[Probe]) -> Result<(), TestCaseError> {
    for o in OUTCOMES {
        prop_assert_eq!(
            a.best_ask(o).map(|l| l.level),
            b.best_ask(o).map(|l| l.level)
        );
        prop_assert_eq!(
            a.best_bid(o).map(|l| l.level),
            b.best_bid(o).map(|l| l.level)
        );
        prop_assert_eq!(a.mid(o), b.mid(o));
        prop_assert_eq!(a.spread_micros(o), b.spread_micros(o));
        for side in SIDES {
            prop_assert!(a.levels(o, side).eq(b.levels(o, side)));
            for pr in probes {
                let (n, lim) = (Size::from_micros(pr.shares), pr.limit.map(px));
                prop_assert_eq!(a.sweep(o, side, n, lim), b.sweep(o, side, n, lim));
            }
        }
    }
    prop_assert_eq!(a.complete_set_ask_micros(), b.complete_set_ask_micros());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Perturb {
    /// Remove the top level of `outcome`'s `side` (no-op if empty).
    RemoveTop(Outcome, BookSide),
    /// Add a level `ticks` grid steps better than the top of `outcome`'s `side`.
    ImproveTop(Outcome, BookSide, u32, u64),
    /// Any delta.
    Set(Outcome, BookSide, u32, u64),
}

fn perturb() -> impl Strategy<Value = Perturb> {
    prop_oneof![
        (outcome(), book_side()).prop_map(|(o, s)| Perturb::RemoveTop(o, s)),
        (outcome(), book_side(), 1..30u32, 1..=1_000_000u64)
            .prop_map(|(o, s, t, z)| Perturb::ImproveTop(o, s, t, z)),
        (outcome(), book_side(), grid_micros(), level_size())
            .prop_map(|(o, s, p, z)| Perturb::Set(o, s, p, z)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Property 4a: with only one token's book, the other outcome is its mirror image.
    #[test]
    fn single_book_is_mirrored(
        given in outcome(),
        snap in sides(),
        ds in deltas(),
        t0 in 0..1_000_000_000u64,
        probes in probes(),
    ) {
        let other = given.other();
        let mut wb = WindowBook::new(token(Outcome::Up), token(Outcome::Down));
        prop_assert_eq!(wb.source_for(Outcome::Up), None);
        prop_assert_eq!(wb.best_ask(Outcome::Up), None);
        prop_assert_eq!(wb.levels(Outcome::Down, BookSide::Bid).count(), 0);
        prop_assert_eq!(wb.complete_set_ask_micros(), None);

        prop_assert_eq!(wb.apply(&book_event(given, t0, &snap)), Ok(true));
        let mut model = snap;
        for (i, &(side, p, s)) in (1u64..).zip(&ds) {
            prop_assert_eq!(wb.apply(&delta_event(given, t0 + i, side, p, s)), Ok(true));
            model.set(side, p, s);
        }
        prop_assert_eq!(wb.book(other).last_update(), None);

        let mirrored = model.mirror();
        check_view(&wb, given, &model, LevelSource::Direct, &probes)?;
        check_view(&wb, other, &mirrored, LevelSource::Mirrored, &probes)?;
        let (up, down) = match given {
            Outcome::Up => (&model, &mirrored),
            Outcome::Down => (&mirrored, &model),
        };
        check_complete_set(&wb, up, down)?;

        // Explicit mirror relations against the raw book of the given token.
        let raw = wb.book(given);
        let cmic = |l: Option<Level>| l.map(|l| lv(ONE - l.price.micros(), l.size.micros()));
        prop_assert_eq!(wb.best_ask(other).map(|s| s.level), cmic(raw.best_bid()));
        prop_assert_eq!(wb.best_bid(other).map(|s| s.level), cmic(raw.best_ask()));
        for side in SIDES {
            let want: Vec<Level> = raw
                .levels(side.opposite())
                .map(|l| lv(ONE - l.price.micros(), l.size.micros()))
                .collect();
            prop_assert!(wb.levels(other, side).eq(want));
            for pr in &probes {
                let n = Size::from_micros(pr.shares);
                let s = wb.sweep(other, side, n, pr.limit.map(px));
                let r = raw.sweep(side.opposite(), n, pr.limit.map(|l| px(l).complement()));
                prop_assert_eq!(s.filled, r.filled);
                prop_assert_eq!(s.levels, r.levels);
                prop_assert_eq!(s.worst_price, r.worst_price.map(Price::complement));
                // Σ (1 − p)·q = 10^6·Σq − Σ p·q, exactly.
                prop_assert_eq!(
                    s.notional_e12,
                    u128::from(r.filled.micros()) * u128::from(ONE) - r.notional_e12
                );
            }
        }
        if let (Some(m), Some(sp)) = (raw.mid(), raw.spread_micros()) {
            prop_assert_eq!(wb.mid(other), Some(m.complement()));
            prop_assert_eq!(wb.spread_micros(other), Some(sp));
            // Up ask + Down ask = (1 − bid) + ask = 1 + spread of the given book.
            prop_assert_eq!(
                wb.complete_set_ask_micros().map(i64::from),
                Some(i64::from(ONE) + sp)
            );
        }
        prop_assert!(!wb.mirror_mismatch());
    }

    /// Property 4b: both books carrying the same mirrored content at the same time agree with
    /// each other and with either single-book view; any top-of-book difference at the same
    /// time is flagged, a difference in time is not.
    #[test]
    fn mirrored_books_agree_and_mismatch_is_flagged(
        down in sides(),
        t in 0..1_000_000_000u64,
        up_first in any::<bool>(),
        probes in probes(),
        perturbs in prop::collection::vec(perturb(), 1..6),
    ) {
        let up = down.mirror();
        let mut both = WindowBook::new(token(Outcome::Up), token(Outcome::Down));
        let (ev_up, ev_down) = (book_event(Outcome::Up, t, &up), book_event(Outcome::Down, t, &down));
        if up_first {
            both.apply(&ev_up).unwrap();
            both.apply(&ev_down).unwrap();
        } else {
            both.apply(&ev_down).unwrap();
            both.apply(&ev_up).unwrap();
        }
        prop_assert!(!both.mirror_mismatch());
        // Ties go to the direct book.
        check_view(&both, Outcome::Up, &up, LevelSource::Direct, &probes)?;
        check_view(&both, Outcome::Down, &down, LevelSource::Direct, &probes)?;
        check_complete_set(&both, &up, &down)?;

        let mut down_only = WindowBook::new(token(Outcome::Up), token(Outcome::Down));
        down_only.apply(&ev_down).unwrap();
        let mut up_only = WindowBook::new(token(Outcome::Up), token(Outcome::Down));
        up_only.apply(&ev_up).unwrap();
        check_view(&down_only, Outcome::Up, &up, LevelSource::Mirrored, &probes)?;
        check_view(&up_only, Outcome::Down, &down, LevelSource::Mirrored, &probes)?;
        same_answers(&both, &down_only, &probes)?;
        same_answers(&both, &up_only, &probes)?;

        // Perturb one book at the same instant: flagged iff the tops now disagree.
        let (mut up_m, mut down_m) = (up, down);
        for pt in &perturbs {
            // `moves_top`: the perturbation changes the top price of one book only, so books
            // that agreed before must now be flagged.
            let (o, side, price, size, moves_top) = match *pt {
                Perturb::RemoveTop(o, side) => {
                    let m = if o == Outcome::Up { &up_m } else { &down_m };
                    let Some(top) = m.best(side) else { continue };
                    (o, side, top.price.micros(), 0, true)
                }
                Perturb::ImproveTop(o, side, ticks, size) => {
                    let m = if o == Outcome::Up { &up_m } else { &down_m };
                    let Some(top) = m.best(side) else { continue };
                    let step = ticks * GRID_MICROS;
                    let p = match side {
                        BookSide::Bid => top.price.micros() + step,
                        BookSide::Ask => top.price.micros().saturating_sub(step),
                    };
                    if p == 0 || p >= ONE {
                        continue;
                    }
                    (o, side, p, size, true)
                }
                Perturb::Set(o, side, p, s) => (o, side, p, s, false),
            };
            let agreed_before = !tops_disagree(&up_m, &down_m);
            both.apply(&delta_event(o, t, side, price, size)).unwrap();
            let m = if o == Outcome::Up { &mut up_m } else { &mut down_m };
            m.set(side, price, size);
            let want = tops_disagree(&up_m, &down_m);
            prop_assert_eq!(both.mirror_mismatch(), want, "after {:?}", pt);
            if moves_top && agreed_before {
                prop_assert!(both.mirror_mismatch(), "{:?} on agreeing books not flagged", pt);
            }
            // The books still answer directly, each from its own content.
            check_view(&both, Outcome::Up, &up_m, LevelSource::Direct, &probes)?;
            check_view(&both, Outcome::Down, &down_m, LevelSource::Direct, &probes)?;
        }

        // A later update to one book ends the comparison (different instants) and makes that
        // book the source for both outcomes.
        let (fresh, stale) = if up_first { (Outcome::Up, Outcome::Down) } else { (Outcome::Down, Outcome::Up) };
        let fresh_m = if fresh == Outcome::Up { up_m.clone() } else { down_m.clone() };
        both.apply(&book_event(fresh, t + 1, &fresh_m)).unwrap();
        prop_assert!(!both.mirror_mismatch());
        check_view(&both, fresh, &fresh_m, LevelSource::Direct, &probes)?;
        check_view(&both, stale, &fresh_m.mirror(), LevelSource::Mirrored, &probes)?;
    }

    /// Property 4c: two independent books at arbitrary times: each outcome is answered by the
    /// fresher book (direct on ties), and a mismatch is reported only for equal times.
    #[test]
    fn fresher_book_answers(
        up in sides(),
        down in sides(),
        tu in 0..4u64,
        td in 0..4u64,
        probes in probes(),
    ) {
        let mut wb = WindowBook::new(token(Outcome::Up), token(Outcome::Down));
        wb.apply(&book_event(Outcome::Up, tu, &up)).unwrap();
        wb.apply(&book_event(Outcome::Down, td, &down)).unwrap();
        let (up_view, up_src) = if tu >= td {
            (up.clone(), LevelSource::Direct)
        } else {
            (down.mirror(), LevelSource::Mirrored)
        };
        let (down_view, down_src) = if td >= tu {
            (down.clone(), LevelSource::Direct)
        } else {
            (up.mirror(), LevelSource::Mirrored)
        };
        check_view(&wb, Outcome::Up, &up_view, up_src, &probes)?;
        check_view(&wb, Outcome::Down, &down_view, down_src, &probes)?;
        check_complete_set(&wb, &up_view, &down_view)?;
        prop_assert_eq!(wb.mirror_mismatch(), tu == td && tops_disagree(&up, &down));
        prop_assert_eq!(wb.last_update(), Some(UnixNanos(tu.max(td))));

        // Events for other tokens and non-book events change nothing.
        let before: Vec<Vec<Level>> = OUTCOMES
            .iter()
            .flat_map(|&o| SIDES.map(|s| wb.levels(o, s).collect()))
            .collect();
        let mut foreign = book_event(Outcome::Up, 99, &Sides::default());
        if let EventKind::Book(b) = &mut foreign.kind {
            b.token = TokenId::parse("3").unwrap();
        }
        prop_assert_eq!(wb.apply(&foreign), Ok(false));
        let gap = MarketEvent {
            recv_ns: UnixNanos(99),
            venue_ns: None,
            kind: EventKind::Gap(polyedge_core::event::Gap {
                stream: "x".into(),
                reason: "y".into(),
            }),
        };
        prop_assert_eq!(wb.apply(&gap), Ok(false));
        let after: Vec<Vec<Level>> = OUTCOMES
            .iter()
            .flat_map(|&o| SIDES.map(|s| wb.levels(o, s).collect()))
            .collect();
        prop_assert_eq!(before, after);
        prop_assert_eq!(wb.last_update(), Some(UnixNanos(tu.max(td))));
    }

    /// A rejected update (off-grid price) through `WindowBook::apply` leaves both books as they were.
    #[test]
    fn rejected_event_changes_nothing(
        down in sides(),
        side in book_side(),
        idx in 0..10_000u32,
        r in 1..GRID_MICROS,
        probes in probes(),
    ) {
        let mut wb = WindowBook::new(token(Outcome::Up), token(Outcome::Down));
        wb.apply(&book_event(Outcome::Down, 5, &down)).unwrap();
        let bad = MarketEvent {
            recv_ns: UnixNanos(6),
            venue_ns: None,
            kind: EventKind::BookDelta(BookDelta {
                market: ConditionId::default(),
                token: token(Outcome::Down),
                side,
                price: px(idx * GRID_MICROS + r),
                size: Size::from_micros(1),
                best_bid: None,
                best_ask: None,
            }),
        };
        prop_assert!(wb.apply(&bad).is_err());
        prop_assert_eq!(wb.last_update(), Some(UnixNanos(5)));
        check_view(&wb, Outcome::Down, &down, LevelSource::Direct, &probes)?;
        check_view(&wb, Outcome::Up, &down.mirror(), LevelSource::Mirrored, &probes)?;
        // A tick-size change is applied but is not a book update (freshness is unchanged).
        let tick = MarketEvent {
            recv_ns: UnixNanos(7),
            venue_ns: None,
            kind: EventKind::TickSizeChange(TickSizeChange {
                market: ConditionId::default(),
                token: token(Outcome::Up),
                old_tick: px(10_000),
                new_tick: px(1_000),
            }),
        };
        prop_assert_eq!(wb.apply(&tick), Ok(true));
        prop_assert_eq!(wb.book(Outcome::Up).tick_size(), Some(px(1_000)));
        prop_assert_eq!(wb.source_for(Outcome::Up), Some(LevelSource::Mirrored));
    }
}
