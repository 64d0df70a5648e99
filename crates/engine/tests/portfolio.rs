//! Portfolio: settlement, unknown outcomes, merges, oversells, and the accounting invariant under
//! random fill sequences.

#![allow(clippy::unwrap_used)]

use polyedge_core::{
    Cash, FeeSchedule, Fill, Fixed18, Liquidity, OrderId, Outcome, Price, Side, Size, UnixNanos,
};
use polyedge_engine::{Portfolio, PortfolioError};
use proptest::prelude::*;

const W: &str = "btc-updown-5m-1776081600";
const AT: UnixNanos = UnixNanos(1_776_081_700_000_000_000);

fn fill(window: &str, outcome: Outcome, side: Side, price: &str, size: Size, fee: Cash) -> Fill {
    Fill {
        order: OrderId(1),
        window: window.to_string(),
        outcome,
        side,
        price: Price::parse(price).unwrap(),
        size,
        fee,
        liquidity: Liquidity::Taker,
        at: AT,
    }
}

fn v2_fee(price: &str, size: Size) -> Cash {
    FeeSchedule::CRYPTO_V2.taker_fee(size, Price::parse(price).unwrap())
}

#[test]
fn settle_up_pays_up_holders() {
    let mut pf = Portfolio::new(Cash::parse("100").unwrap());
    let sh = Size::from_shares;
    let f1 = fill(
        W,
        Outcome::Up,
        Side::Buy,
        "0.40",
        sh(10),
        v2_fee("0.40", sh(10)),
    );
    let f2 = fill(
        W,
        Outcome::Down,
        Side::Buy,
        "0.55",
        sh(5),
        v2_fee("0.55", sh(5)),
    );
    pf.apply_fill(&f1).unwrap();
    pf.apply_fill(&f2).unwrap();
    assert_eq!(f1.fee, Cash(168_000)); // 10 × 0.07 × 0.24
    assert_eq!(f2.fee, Cash(86_620)); // 5 × 0.07 × 0.2475 = 0.086625 → 0.08662 (half-even)
    assert_eq!(pf.cash(), Cash::parse("92.99538").unwrap());
    assert_eq!(
        pf.position(W, Outcome::Up).avg_cost(),
        Price::parse("0.40").ok()
    );
    pf.check_invariant().unwrap();
    // A tie resolves Up; that is the resolver's rule, the portfolio just applies the outcome.
    let start = Fixed18::parse("65000").unwrap();
    let outcome = Outcome::from_prices(start, start);
    assert_eq!(outcome, Outcome::Up);
    let s = pf.settle(W, Some(outcome), AT).unwrap();
    assert_eq!(s.payout, Cash::parse("10").unwrap());
    assert_eq!(s.cost, Cash::parse("6.75").unwrap());
    assert_eq!(s.pnl, Cash::parse("3.25").unwrap());
    assert_eq!(pf.cash(), Cash::parse("102.99538").unwrap());
    assert_eq!(pf.realized_pnl(), Cash::parse("2.99538").unwrap());
    assert_eq!(pf.fees_paid(), Cash(254_620));
    assert_eq!(pf.open_cost(), Cash::ZERO);
    assert_eq!(pf.window_pnl(W), pf.realized_pnl());
    assert_eq!(pf.realized_on_day(AT), pf.realized_pnl());
    pf.check_invariant().unwrap();
    assert_eq!(pf.cash(), pf.start_cash() + pf.realized_pnl());
    assert_eq!(
        pf.settle(W, Some(Outcome::Down), AT),
        Err(PortfolioError::WindowClosed(W.to_string()))
    );
    // A fill learned after settlement (live: a trade recovered by reconciliation) is booked and
    // settled at once: 10 Up at 0.40 + 0.168 fee, redeemed at 1 → +10 − 4 − 0.168.
    let before = pf.cash();
    pf.apply_fill(&f1).unwrap();
    assert_eq!(pf.cash() - before, Cash::parse("5.832").unwrap());
    assert_eq!(pf.cash(), pf.start_cash() + pf.realized_pnl());
    pf.check_invariant().unwrap();
    // A late sell gives back what the settlement paid for the shares it sold: 5 Down sold at
    // 0.55 (Down lost: nothing was paid for them) → + 2.75 − fee.
    let sell = fill(W, Outcome::Down, Side::Sell, "0.55", sh(5), Cash(86_620));
    let before = pf.cash();
    pf.apply_fill(&sell).unwrap();
    assert_eq!(pf.cash() - before, Cash::parse("2.66338").unwrap());
    pf.check_invariant().unwrap();
    // A window the account never traded, resolved Up: a fill learned later settles at once too,
    // and marking it changed nothing else.
    let mut idle = Portfolio::new(Cash::parse("10").unwrap());
    idle.mark_resolved("late", Outcome::Up);
    assert_eq!(idle.realized_pnl(), Cash::ZERO);
    assert_eq!(idle.unsettled_count(), 0);
    idle.apply_fill(&fill(
        "late",
        Outcome::Up,
        Side::Buy,
        "0.40",
        sh(5),
        Cash::ZERO,
    ))
    .unwrap();
    assert_eq!(idle.cash(), Cash::parse("13").unwrap());
    assert_eq!(idle.open_cost(), Cash::ZERO);
    idle.check_invariant().unwrap();
    // With an unknown outcome the shares have no known value: refused.
    let mut unknown = Portfolio::new(Cash::parse("10").unwrap());
    unknown.settle("other", None, AT).unwrap();
    let f3 = fill("other", Outcome::Up, Side::Buy, "0.40", sh(1), Cash::ZERO);
    assert_eq!(
        unknown.apply_fill(&f3),
        Err(PortfolioError::WindowClosed("other".to_string()))
    );
}

#[test]
fn settle_down_pays_nothing_to_up() {
    let mut pf = Portfolio::new(Cash::parse("10").unwrap());
    pf.apply_fill(&fill(
        W,
        Outcome::Up,
        Side::Buy,
        "0.30",
        Size::from_shares(10),
        Cash::ZERO,
    ))
    .unwrap();
    let s = pf.settle(W, Some(Outcome::Down), AT).unwrap();
    assert_eq!((s.payout, s.pnl), (Cash::ZERO, Cash::parse("-3").unwrap()));
    assert_eq!(pf.cash(), Cash::parse("7").unwrap());
    pf.check_invariant().unwrap();
}

#[test]
fn unknown_outcome_is_excluded_and_counted() {
    let mut pf = Portfolio::new(Cash::parse("50").unwrap());
    pf.apply_fill(&fill(
        W,
        Outcome::Up,
        Side::Buy,
        "0.60",
        Size::from_shares(10),
        Cash(100),
    ))
    .unwrap();
    let before = pf.realized_pnl();
    let s = pf.settle(W, None, AT).unwrap();
    assert_eq!((s.outcome, s.payout, s.pnl), (None, Cash::ZERO, Cash::ZERO));
    assert_eq!(pf.realized_pnl(), before, "no PnL from an unknown outcome");
    assert_eq!(pf.unsettled_count(), 1);
    assert_eq!(pf.unsettled_windows(), vec![W]);
    assert_eq!(pf.unsettled_cost(), Cash::parse("6").unwrap());
    assert_eq!(pf.open_cost(), Cash::ZERO);
    pf.check_invariant().unwrap();
    assert!(pf.is_settled(W));
}

#[test]
fn merge_complete_sets() {
    let mut pf = Portfolio::new(Cash::parse("100").unwrap());
    let sh = Size::from_shares;
    pf.apply_fill(&fill(W, Outcome::Up, Side::Buy, "0.45", sh(10), Cash::ZERO))
        .unwrap();
    pf.apply_fill(&fill(
        W,
        Outcome::Down,
        Side::Buy,
        "0.50",
        sh(6),
        Cash::ZERO,
    ))
    .unwrap();
    assert_eq!(pf.merge_complete_sets(W, AT), Ok(sh(6)));
    // 6 sets → 6 pUSD; cost removed 6 × 0.45 + 6 × 0.50 = 5.7; realized 0.3.
    assert_eq!(pf.realized_pnl(), Cash::parse("0.3").unwrap());
    assert_eq!(
        pf.cash(),
        Cash::parse("100").unwrap() - Cash::parse("7.5").unwrap() + Cash::parse("6").unwrap()
    );
    assert_eq!(pf.position(W, Outcome::Up).shares, sh(4));
    assert_eq!(
        pf.position(W, Outcome::Up).cost,
        Cash::parse("1.8").unwrap()
    );
    assert_eq!(pf.position(W, Outcome::Down).shares, Size::ZERO);
    assert_eq!(pf.merge_complete_sets(W, AT), Ok(Size::ZERO));
    pf.check_invariant().unwrap();
}

#[test]
fn merging_an_amount_takes_that_many_sets_and_no_more_than_held() {
    let mut pf = Portfolio::new(Cash::parse("100").unwrap());
    let sh = Size::from_shares;
    pf.apply_fill(&fill(W, Outcome::Up, Side::Buy, "0.40", sh(10), Cash::ZERO))
        .unwrap();
    pf.apply_fill(&fill(
        W,
        Outcome::Down,
        Side::Buy,
        "0.50",
        sh(8),
        Cash::ZERO,
    ))
    .unwrap();
    // 2 of 8 sets: 2 pUSD; cost removed 2 × 0.40 + 2 × 0.50 = 1.8; realized 0.2.
    assert_eq!(pf.merge_sets(W, Some(sh(2)), AT), Ok(sh(2)));
    assert_eq!(pf.realized_pnl(), Cash::parse("0.2").unwrap());
    assert_eq!(pf.position(W, Outcome::Up).shares, sh(8));
    assert_eq!(pf.position(W, Outcome::Down).shares, sh(6));
    assert_eq!(
        pf.position(W, Outcome::Down).cost,
        Cash::parse("3").unwrap()
    );
    // Asking for more than held merges what is held (6).
    assert_eq!(pf.merge_sets(W, Some(sh(50)), AT), Ok(sh(6)));
    assert_eq!(pf.position(W, Outcome::Down).shares, Size::ZERO);
    assert_eq!(
        pf.cash(),
        Cash::parse("100").unwrap() - Cash::parse("8").unwrap() + Cash::parse("8").unwrap()
    );
    pf.check_invariant().unwrap();
}

#[test]
fn selling_more_than_held_is_refused_unchanged() {
    let mut pf = Portfolio::new(Cash::parse("100").unwrap());
    pf.apply_fill(&fill(
        W,
        Outcome::Up,
        Side::Buy,
        "0.45",
        Size::from_shares(5),
        Cash::ZERO,
    ))
    .unwrap();
    let before = pf.clone();
    let err = pf
        .apply_fill(&fill(
            W,
            Outcome::Up,
            Side::Sell,
            "0.50",
            Size::from_shares(6),
            Cash::ZERO,
        ))
        .unwrap_err();
    assert!(matches!(err, PortfolioError::InsufficientShares { .. }));
    assert!(err.to_string().contains("only 5 held"), "{err}");
    assert_eq!(pf, before);
    // Selling all of it realizes exactly proceeds − cost − fee.
    pf.apply_fill(&fill(
        W,
        Outcome::Up,
        Side::Sell,
        "0.50",
        Size::from_shares(5),
        Cash(10),
    ))
    .unwrap();
    assert_eq!(pf.realized_pnl(), Cash::parse("0.25").unwrap() - Cash(10));
    assert_eq!(pf.position(W, Outcome::Up).shares, Size::ZERO);
    assert_eq!(pf.positions().count(), 0);
    pf.accrue_rebate_estimate(Cash(123));
    assert_eq!(pf.rebates_estimated(), Cash(123));
    assert_eq!(
        pf.cash(),
        pf.start_cash() + pf.realized_pnl(),
        "rebates are not cash"
    );
    pf.check_invariant().unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Buy {
        w: usize,
        up: bool,
        tick: u32,
        micros: u64,
        fee: i64,
    },
    Sell {
        w: usize,
        up: bool,
        tick: u32,
        frac: u8,
        fee: i64,
    },
    Merge {
        w: usize,
    },
    Settle {
        w: usize,
        outcome: Option<bool>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, any::<bool>(), 1..1000u32, 1..50_000_000u64, 0..100_000i64)
            .prop_map(|(w, up, tick, micros, fee)| Op::Buy { w, up, tick, micros, fee }),
        3 => (0..3usize, any::<bool>(), 1..1000u32, 1..=100u8, 0..100_000i64)
            .prop_map(|(w, up, tick, frac, fee)| Op::Sell { w, up, tick, frac, fee }),
        1 => (0..3usize).prop_map(|w| Op::Merge { w }),
        1 => (0..3usize, proptest::option::of(any::<bool>()))
            .prop_map(|(w, outcome)| Op::Settle { w, outcome }),
    ]
}

fn slug(w: usize) -> String {
    format!("btc-updown-5m-{}", 1_776_081_600 + 300 * w as u64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn invariant_holds_after_random_fill_sequences(ops in proptest::collection::vec(op(), 1..60)) {
        let mut pf = Portfolio::new(Cash(1_000_000_000));
        for (i, op) in ops.iter().enumerate() {
            let at = UnixNanos(AT.0 + i as u64 * 7_000_000_000_000);
            let outcome = |up: bool| if up { Outcome::Up } else { Outcome::Down };
            let price = |tick: u32| Price::from_micros(tick * 1_000).unwrap();
            match op.clone() {
                Op::Buy { w, up, tick, micros, fee } => {
                    let f = Fill { order: OrderId(i as u64), window: slug(w), outcome: outcome(up), side: Side::Buy,
                        price: price(tick), size: Size::from_micros(micros), fee: Cash(fee), liquidity: Liquidity::Taker, at };
                    // Refused only for a window settled with an unknown outcome; a late fill of a
                    // window with a known outcome is booked and settled at once.
                    let unknown = pf.settlement(&slug(w)) == Some(None);
                    let r = pf.apply_fill(&f);
                    prop_assert_eq!(r.is_err(), unknown);
                }
                Op::Sell { w, up, tick, frac, fee } => {
                    let held = pf.position(&slug(w), outcome(up)).shares;
                    let size = Size::from_micros(held.micros() * u64::from(frac) / 100);
                    if size.is_zero() { continue; }
                    let f = Fill { order: OrderId(i as u64), window: slug(w), outcome: outcome(up), side: Side::Sell,
                        price: price(tick), size, fee: Cash(fee), liquidity: Liquidity::Maker, at };
                    pf.apply_fill(&f).unwrap();
                }
                Op::Merge { w } => { let _ = pf.merge_complete_sets(&slug(w), at); }
                Op::Settle { w, outcome: o } => { let _ = pf.settle(&slug(w), o.map(outcome), at); }
            }
            prop_assert!(pf.check_invariant().is_ok(), "{:?}", pf.check_invariant());
        }
        for w in 0..3 {
            let _ = pf.settle(&slug(w), Some(Outcome::Up), AT);
        }
        prop_assert_eq!(pf.open_cost(), Cash::ZERO);
        prop_assert_eq!(pf.cash() + pf.unsettled_cost(), pf.start_cash() + pf.realized_pnl());
        pf.check_invariant().unwrap();
    }
}
