//! SimExecutor on hand-built books: walking, TIFs, validation, queue position, latency, taker
//! delay, consumption overlay, expiry, window close, determinism.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use polyedge_core::{
    Cash, ExecReport, FeeSchedule, Liquidity, OrderId, Outcome, RejectReason, Side, Size,
    TimeInForce, UnixNanos,
};
use polyedge_engine::latency::LatencyConfig;
use polyedge_engine::{OrderStage, ShrinkFill, SimConfig, SimExecutor};

fn instant() -> SimExecutor {
    SimExecutor::new(SimConfig {
        latency: LatencyConfig::zero(),
        ..SimConfig::default()
    })
}

const ASKS3: &[(&str, &str)] = &[
    ("0.50", "10"),
    ("0.51", "20"),
    ("0.52", "30"),
    ("0.53", "100"),
];

#[test]
fn walk_three_levels_with_partial_last_level() {
    let mut ex = instant();
    let b = up_book(t(10, 0), &[("0.48", "100")], ASKS3);
    ex.place(
        buy_up(1, "0.52", sh(45), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(
        r[0],
        ExecReport::Accepted {
            order: OrderId(1),
            at: t(10, 0)
        }
    );
    assert_eq!(
        fill_legs(&r),
        vec![
            (p("0.50"), sh(10)),
            (p("0.51"), sh(20)),
            (p("0.52"), sh(15))
        ]
    );
    let f = fills(&r);
    // 2026-04-13: crypto V2, rate 0.07 exponent 1: C × 0.07 × p(1−p), 5 dp.
    assert_eq!(f[0].fee, Cash(175_000)); // 10 × 0.07 × 0.25
    assert_eq!(f[1].fee, Cash(349_860)); // 20 × 0.07 × 0.2499
    assert_eq!(f[2].fee, Cash(262_080)); // 15 × 0.07 × 0.2496
    assert!(
        f.iter()
            .all(|f| f.liquidity == Liquidity::Taker && f.at == t(10, 0))
    );
    assert_eq!(r.len(), 4);
    assert!(
        ex.order(OrderId(1)).is_none(),
        "fully filled orders are done"
    );
}

#[test]
fn fok_kill_has_no_fills_and_consumes_nothing() {
    let mut ex = instant();
    let b = up_book(t(10, 0), &[], &[("0.50", "10"), ("0.51", "20")]);
    ex.place(
        buy_up(1, "0.51", sh(40), TimeInForce::Fok),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(
        r,
        vec![ExecReport::Rejected {
            order: OrderId(1),
            reason: RejectReason::FokNotFilled,
            at: t(10, 0)
        }]
    );
    // The killed FOK took nothing: 30 are still there for the next FOK.
    ex.place(
        buy_up(2, "0.51", sh(30), TimeInForce::Fok),
        t(10, 1),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 1), &b);
    assert_eq!(
        fill_legs(&r),
        vec![(p("0.50"), sh(10)), (p("0.51"), sh(20))]
    );
}

#[test]
fn fak_fills_what_it_can_and_cancels_the_rest() {
    let mut ex = instant();
    let b = up_book(
        t(10, 0),
        &[],
        &[("0.50", "10"), ("0.51", "20"), ("0.60", "99")],
    );
    ex.place(
        buy_up(1, "0.51", sh(40), TimeInForce::Fak),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(
        fill_legs(&r),
        vec![(p("0.50"), sh(10)), (p("0.51"), sh(20))]
    );
    assert_eq!(
        r.last(),
        Some(&ExecReport::Cancelled {
            order: OrderId(1),
            unfilled: sh(10),
            at: t(10, 0)
        })
    );
    // A FAK with nothing to take is cancelled whole, without an Accepted.
    ex.place(
        buy_up(2, "0.45", sh(5), TimeInForce::Fak),
        t(11, 0),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(11, 0), &b);
    assert_eq!(
        r,
        vec![ExecReport::Cancelled {
            order: OrderId(2),
            unfilled: sh(5),
            at: t(11, 0)
        }]
    );
}

#[test]
fn gtc_marketable_remainder_rests_as_maker() {
    let mut ex = instant();
    let b = up_book(
        t(10, 0),
        &[("0.49", "7")],
        &[("0.50", "10"), ("0.52", "30")],
    );
    ex.place(
        buy_up(1, "0.50", sh(25), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(fill_legs(&r), vec![(p("0.50"), sh(10))]);
    let v = ex.order(OrderId(1)).unwrap();
    assert_eq!(v.stage, OrderStage::Resting);
    assert_eq!(v.remaining, sh(15));
    assert_eq!(v.filled, sh(10));
    // Same recorded book again: the 0.50 ask we took is still shown but consumed: no fill.
    let r = ex.on_book(
        SLUG,
        t(10, 30),
        &up_book(
            t(10, 30),
            &[("0.49", "7")],
            &[("0.50", "10"), ("0.52", "30")],
        ),
    );
    assert!(r.is_empty(), "{r:?}");
}

#[test]
fn post_only_that_would_cross_is_rejected() {
    let mut ex = instant();
    let b = up_book(t(10, 0), &[("0.48", "50")], &[("0.50", "10")]);
    let mut o = buy_up(1, "0.50", sh(10), TimeInForce::Gtc);
    o.post_only = true;
    ex.place(o, t(10, 0), &window(), &b).unwrap();
    let mut ok = buy_up(2, "0.49", sh(10), TimeInForce::Gtc);
    ok.post_only = true;
    ex.place(ok, t(10, 0), &window(), &b).unwrap();
    let mut fok = buy_up(3, "0.40", sh(10), TimeInForce::Fok);
    fok.post_only = true;
    ex.place(fok, t(10, 0), &window(), &b).unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(
        r[0],
        ExecReport::Rejected {
            order: OrderId(1),
            reason: RejectReason::PostOnlyWouldCross,
            at: t(10, 0)
        }
    );
    assert_eq!(
        r[1],
        ExecReport::Accepted {
            order: OrderId(2),
            at: t(10, 0)
        }
    );
    assert!(matches!(
        &r[2],
        ExecReport::Rejected { order: OrderId(3), reason: RejectReason::Other(m), .. } if m.contains("post-only")
    ));
    assert_eq!(ex.order(OrderId(2)).unwrap().queue_ahead, Size::ZERO);
}

#[test]
fn off_tick_out_of_range_and_below_min_size_rejects() {
    let mut ex = instant();
    let b = up_book(t(10, 0), &[("0.02", "50")], &[("0.98", "10")]);
    let cases = [
        (1, "0.505", sh(10)),
        (2, "0.031", sh(10)), // 0.001 grid allowed below 0.04
        (3, "0.0305", sh(10)),
        (4, "0.5", sz("4.99")),
        (5, "0", sh(10)),
        (6, "1", sh(10)),
        (7, "0.971", sh(10)), // above 0.96: 0.001 grid allowed
    ];
    for (id, price, size) in cases {
        ex.place(
            buy_up(id, price, size, TimeInForce::Gtc),
            t(10, 0),
            &window(),
            &b,
        )
        .unwrap();
    }
    let r = ex.on_book(SLUG, t(10, 0), &b);
    let tick = RejectReason::OffTick { tick: p("0.01") };
    let expect = |id: u64, reason: RejectReason| ExecReport::Rejected {
        order: OrderId(id),
        reason,
        at: t(10, 0),
    };
    assert_eq!(r[0], expect(1, tick.clone()));
    assert_eq!(
        r[1],
        ExecReport::Accepted {
            order: OrderId(2),
            at: t(10, 0)
        }
    );
    assert_eq!(r[2], expect(3, tick));
    assert_eq!(r[3], expect(4, RejectReason::BelowMinSize { min: sh(5) }));
    assert_eq!(r[4], expect(5, RejectReason::PriceOutOfRange));
    assert_eq!(r[5], expect(6, RejectReason::PriceOutOfRange));
    assert_eq!(
        r[6],
        ExecReport::Accepted {
            order: OrderId(7),
            at: t(10, 0)
        }
    );

    // The window's own minimum and tick win over the defaults.
    let mut w = window();
    w.min_order_size = Some(sh(10));
    w.tick_size = Some(p("0.001"));
    let mut ex = instant();
    ex.place(
        buy_up(8, "0.505", sh(9), TimeInForce::Gtc),
        t(10, 0),
        &w,
        &b,
    )
    .unwrap();
    ex.place(
        buy_up(9, "0.505", sh(10), TimeInForce::Gtc),
        t(10, 0),
        &w,
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(r[0], expect(8, RejectReason::BelowMinSize { min: sh(10) }));
    assert_eq!(
        r[1],
        ExecReport::Accepted {
            order: OrderId(9),
            at: t(10, 0)
        }
    );
}

#[test]
fn queue_position_shrink_does_not_fill_but_trade_through_does() {
    let mut ex = instant();
    let b0 = up_book(t(10, 0), &[("0.48", "100")], &[("0.50", "50")]);
    ex.place(
        buy_up(1, "0.48", sh(10), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 0), &b0);
    assert_eq!(
        r,
        vec![ExecReport::Accepted {
            order: OrderId(1),
            at: t(10, 0)
        }]
    );
    assert_eq!(ex.order(OrderId(1)).unwrap().queue_ahead, sh(100));

    // The level shrinks by 60: queue ahead 40, no fill.
    let b1 = up_book(t(10, 100), &[("0.48", "40")], &[("0.50", "50")]);
    assert!(ex.on_book(SLUG, t(10, 100), &b1).is_empty());
    assert_eq!(ex.order(OrderId(1)).unwrap().queue_ahead, sh(40));

    // The ask comes down to our bid: trade-through, filled at our price as maker.
    let b2 = up_book(t(10, 200), &[("0.47", "40")], &[("0.48", "50")]);
    let r = ex.on_book(SLUG, t(10, 200), &b2);
    let f = fills(&r);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].price, f[0].size), (p("0.48"), sh(10)));
    assert_eq!(f[0].liquidity, Liquidity::Maker);
    assert_eq!(f[0].fee, Cash::ZERO, "crypto V2 is taker-only");
    assert_eq!(f[0].at, t(10, 200));
    // Rebate estimate: 10 × 0.07 × 0.48 × 0.52 × 0.2 = 0.034944, kept apart from the fee.
    assert_eq!(ex.rebate_estimate(&f[0]), Cash(34_944));
    assert_eq!(ex.estimated_rebates().get(SLUG), Some(&Cash(34_944)));
    assert!(ex.order(OrderId(1)).is_none());
    assert_eq!(ex.stats().trade_through_fills, 1);
}

#[test]
fn trade_through_fills_at_most_the_crossing_depth() {
    let mut ex = instant();
    let b0 = up_book(t(10, 0), &[("0.48", "100")], &[("0.50", "50")]);
    ex.place(
        buy_up(1, "0.48", sh(30), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    ex.on_book(SLUG, t(10, 0), &b0);
    let b1 = up_book(
        t(10, 100),
        &[("0.46", "10")],
        &[("0.47", "8"), ("0.48", "4"), ("0.49", "9")],
    );
    let r = ex.on_book(SLUG, t(10, 100), &b1);
    assert_eq!(fill_legs(&r), vec![(p("0.48"), sh(12))]);
    let v = ex.order(OrderId(1)).unwrap();
    assert_eq!((v.remaining, v.queue_ahead), (sh(18), Size::ZERO));
    // The crossing asks are now consumed: the same book does not fill us again.
    let b2 = up_book(
        t(10, 130),
        &[("0.46", "10")],
        &[("0.47", "8"), ("0.48", "4"), ("0.49", "9")],
    );
    assert!(ex.on_book(SLUG, t(10, 130), &b2).is_empty());
}

#[test]
fn shrink_fills_only_after_the_queue_ahead_is_gone() {
    let run = |rule: ShrinkFill| {
        let mut ex = SimExecutor::new(SimConfig {
            latency: LatencyConfig::zero(),
            shrink_fill: rule,
            ..SimConfig::default()
        });
        let asks = &[("0.50", "50")];
        let b = |ms_: u64, bid: &str| up_book(t(10, ms_), &[("0.48", bid)], asks);
        ex.place(
            buy_up(1, "0.48", sh(10), TimeInForce::Gtc),
            t(10, 0),
            &window(),
            &b(0, "100"),
        )
        .unwrap();
        let mut all = ex.on_book(SLUG, t(10, 0), &b(0, "100"));
        // 100 → 40 → 0: the queue ahead is eaten; this does not fill us yet.
        all.extend(ex.on_book(SLUG, t(10, 10), &b(10, "40")));
        all.extend(ex.on_book(SLUG, t(10, 20), &up_book(t(10, 20), &[("0.47", "5")], asks)));
        // Others join behind us (30), then the level keeps shrinking by 6.
        all.extend(ex.on_book(SLUG, t(10, 30), &b(30, "30")));
        all.extend(ex.on_book(SLUG, t(10, 40), &b(40, "24")));
        (fill_legs(&all), ex.order(OrderId(1)).map(|v| v.remaining))
    };
    assert_eq!(
        run(ShrinkFill::AfterQueueExhausted),
        (vec![(p("0.48"), sh(6))], Some(sh(4)))
    );
    assert_eq!(run(ShrinkFill::Never), (vec![], Some(sh(10))));
}

#[test]
fn latency_moves_the_fill_to_the_book_at_arrival() {
    let mut ex = SimExecutor::new(SimConfig {
        latency: LatencyConfig {
            order_latency_ms: 50,
            taker_delay_enabled: false,
            ..LatencyConfig::default()
        },
        ..SimConfig::default()
    });
    // Book A at decision: would fill at 0.50.
    let a = up_book(t(10, 0), &[], &[("0.50", "100")]);
    ex.place(
        buy_up(1, "0.60", sh(10), TimeInForce::Fak),
        t(10, 0),
        &window(),
        &a,
    )
    .unwrap();
    assert_eq!(
        ex.order(OrderId(1)).unwrap().decision_touch,
        Some(p("0.50"))
    );
    assert!(ex.on_book(SLUG, t(10, 0), &a).is_empty(), "not arrived yet");
    assert!(
        ex.on_book(SLUG, t(10, 40), &a).is_empty(),
        "still in flight at +40 ms"
    );
    // Book B, the first at or after arrival (+50 ms), has 0.55.
    let b = up_book(t(10, 60), &[], &[("0.55", "100")]);
    let r = ex.on_book(SLUG, t(10, 60), &b);
    assert_eq!(
        r[0],
        ExecReport::Accepted {
            order: OrderId(1),
            at: t(10, 50)
        }
    );
    assert_eq!(fill_legs(&r), vec![(p("0.55"), sh(10))]);
    assert_eq!(fills(&r)[0].at, t(10, 60));
}

/// Runs a marketable buy decided at `start + 10 s` on a window starting at `start`, with books
/// every 10 ms whose ask rises by 0.01 every 100 ms, and returns the fill price and the time.
fn delayed_fill(start: u64) -> (polyedge_core::Price, UnixNanos) {
    let slug = format!("btc-updown-5m-{start}");
    let w = window_at(&slug);
    let mut ex = SimExecutor::default(); // 50 ms order latency, taker delay by date
    let at = |ms_: u64| UnixNanos((start + 10) * UnixNanos::PER_SEC + ms(ms_));
    let ask = |ms_: u64| format!("0.{}", 50 + ms_ / 100);
    let book = |ms_: u64| up_book(at(ms_), &[], &[(ask(ms_).as_str(), "100")]);
    let mut o = buy_up(1, "0.99", sh(10), TimeInForce::Fak);
    o.window.clone_from(&slug);
    ex.place(o, at(0), &w, &book(0)).unwrap();
    for step in 0..100 {
        let r = ex.on_book(&slug, at(step * 10), &book(step * 10));
        if let Some(f) = fills(&r).first() {
            return (f.price, f.at);
        }
    }
    panic!("no fill");
}

#[test]
fn taker_delay_depends_on_the_date() {
    // Before the first reported delay (2025-10): arrival +50 ms only.
    let start = 1_760_000_100;
    let base = |ms_: u64| UnixNanos((start + 10) * UnixNanos::PER_SEC + ms(ms_));
    assert_eq!(delayed_fill(start), (p("0.50"), base(50)));
    // 2026-04-13 (assumed 250 ms): +50 ms latency + 250 ms hold.
    let base = |ms_: u64| t(10, ms_);
    assert_eq!(delayed_fill(START), (p("0.53"), base(300)));
    // After 2026-09-04: 150 ms.
    let start = 1_788_483_600;
    let base = |ms_: u64| UnixNanos((start + 10) * UnixNanos::PER_SEC + ms(ms_));
    assert_eq!(delayed_fill(start), (p("0.52"), base(200)));
}

#[test]
fn held_orders_cannot_be_cancelled_but_resting_ones_can() {
    let mut ex = SimExecutor::default();
    let b = up_book(t(10, 0), &[("0.40", "10")], &[("0.50", "5")]);
    ex.place(
        buy_up(1, "0.50", sh(20), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 60), &b);
    assert_eq!(
        r,
        vec![ExecReport::Accepted {
            order: OrderId(1),
            at: t(10, 50)
        }]
    );
    assert_eq!(ex.order(OrderId(1)).unwrap().stage, OrderStage::TakerDelay);
    // Cancel at +100 ms takes effect at +150 ms, inside the hold (until +300 ms): refused.
    assert!(ex.cancel(OrderId(1), t(10, 100)));
    assert!(ex.on_book(SLUG, t(10, 160), &b).is_empty());
    assert_eq!(ex.stats().cancels_refused_in_delay, 1);
    // The hold ends: 5 fill, 15 rest.
    let r = ex.on_book(SLUG, t(10, 310), &b);
    assert_eq!(fill_legs(&r), vec![(p("0.50"), sh(5))]);
    assert_eq!(ex.order(OrderId(1)).unwrap().stage, OrderStage::Resting);
    // Now a cancel works, 50 ms after the request; it needs no book.
    assert!(ex.cancel(OrderId(1), t(11, 0)));
    assert!(ex.advance_to(t(11, 40)).is_empty());
    assert_eq!(
        ex.advance_to(t(11, 50)),
        vec![ExecReport::Cancelled {
            order: OrderId(1),
            unfilled: sh(15),
            at: t(11, 50)
        }]
    );
    assert!(!ex.cancel(OrderId(1), t(12, 0)), "no longer working");
}

#[test]
fn our_consumption_is_not_double_counted() {
    let mut ex = instant();
    let asks = &[("0.50", "10"), ("0.51", "20")];
    let b0 = up_book(t(10, 0), &[], asks);
    ex.place(
        buy_up(1, "0.50", sh(10), TimeInForce::Fak),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    assert_eq!(
        fill_legs(&ex.on_book(SLUG, t(10, 0), &b0)),
        vec![(p("0.50"), sh(10))]
    );
    // The next snapshot still shows the 10 we took (the recording never saw our order).
    let b1 = up_book(t(10, 30), &[], asks);
    ex.place(
        buy_up(2, "0.51", sh(15), TimeInForce::Fak),
        t(10, 30),
        &window(),
        &b1,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 30), &b1);
    assert_eq!(fill_legs(&r), vec![(p("0.51"), sh(15))]);
    // Growth of a consumed level does not release it (conservative): 20 shown, 15 ours.
    let b2 = up_book(t(10, 60), &[], &[("0.50", "12"), ("0.51", "20")]);
    ex.place(
        buy_up(3, "0.51", sh(10), TimeInForce::Fak),
        t(10, 60),
        &window(),
        &b2,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 60), &b2);
    assert_eq!(fill_legs(&r), vec![(p("0.50"), sh(2)), (p("0.51"), sh(5))]);
    // Once a level has vanished from a book, what reappears there is new liquidity.
    let b3 = up_book(t(10, 90), &[], &[("0.51", "20")]);
    ex.on_book(SLUG, t(10, 90), &b3);
    let b4 = up_book(t(10, 120), &[], asks);
    ex.place(
        buy_up(4, "0.50", sh(10), TimeInForce::Fak),
        t(10, 120),
        &window(),
        &b4,
    )
    .unwrap();
    assert_eq!(
        fill_legs(&ex.on_book(SLUG, t(10, 120), &b4)),
        vec![(p("0.50"), sh(10))]
    );
}

#[test]
fn up_and_down_books_are_one_pool() {
    let mut ex = instant();
    // Only the Down token is recorded (as in cronos): Down bid 0.50 × 10 = Up ask 0.50 × 10.
    let b = down_book(t(10, 0), &[("0.50", "10")], &[("0.52", "10")]);
    ex.place(
        buy_up(1, "0.50", sh(10), TimeInForce::Fak),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    assert_eq!(
        fill_legs(&ex.on_book(SLUG, t(10, 0), &b)),
        vec![(p("0.50"), sh(10))]
    );
    // Selling Down into the Down bid at 0.50 meets the same, already taken, liquidity.
    let b = down_book(t(10, 30), &[("0.50", "10")], &[("0.52", "10")]);
    ex.place(
        order(
            2,
            Outcome::Down,
            Side::Sell,
            "0.50",
            sh(10),
            TimeInForce::Fak,
        ),
        t(10, 30),
        &window(),
        &b,
    )
    .unwrap();
    assert_eq!(
        ex.on_book(SLUG, t(10, 30), &b),
        vec![ExecReport::Cancelled {
            order: OrderId(2),
            unfilled: sh(10),
            at: t(10, 30)
        }]
    );
    // Buying Down walks the Down asks directly.
    ex.place(
        order(
            3,
            Outcome::Down,
            Side::Buy,
            "0.52",
            sh(10),
            TimeInForce::Fok,
        ),
        t(10, 30),
        &window(),
        &b,
    )
    .unwrap();
    assert_eq!(
        fill_legs(&ex.on_book(SLUG, t(10, 30), &b)),
        vec![(p("0.52"), sh(10))]
    );
}

#[test]
fn gtd_expires_and_window_end_closes_everything() {
    let mut ex = instant();
    let b = up_book(t(10, 0), &[("0.40", "10")], &[("0.60", "10")]);
    ex.place(
        buy_up(1, "0.45", sh(5), TimeInForce::Gtd(t(20, 0))),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    ex.place(
        buy_up(2, "0.44", sh(5), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    ex.on_book(SLUG, t(10, 0), &b);
    assert_eq!(
        ex.advance_to(t(25, 0)),
        vec![ExecReport::Cancelled {
            order: OrderId(1),
            unfilled: sh(5),
            at: t(20, 0)
        }]
    );
    // An order decided at the very end arrives after it.
    let mut late = SimExecutor::default();
    late.place(
        buy_up(3, "0.60", sh(5), TimeInForce::Fak),
        t(299, 980),
        &window(),
        &b,
    )
    .unwrap();
    ex.place(
        buy_up(4, "0.60", sh(5), TimeInForce::Fak),
        t(299, 999),
        &window(),
        &b,
    )
    .unwrap();
    // Window end (START + 300 s): the resting GTC is cancelled; order 4 never met a book.
    let r = ex.advance_to(t(301, 0));
    assert_eq!(
        r,
        vec![
            ExecReport::Rejected {
                order: OrderId(4),
                reason: RejectReason::MarketClosed,
                at: t(300, 0)
            },
            ExecReport::Cancelled {
                order: OrderId(2),
                unfilled: sh(5),
                at: t(300, 0)
            },
        ]
    );
    // Arrival at +300.030 s: after the end.
    let r = late.on_book(SLUG, t(300, 40), &b);
    assert_eq!(
        r,
        vec![ExecReport::Rejected {
            order: OrderId(3),
            reason: RejectReason::MarketClosed,
            at: t(300, 30)
        }]
    );
    // A GTD already expired at arrival is refused.
    let mut ex = instant();
    ex.place(
        buy_up(5, "0.45", sh(5), TimeInForce::Gtd(t(10, 0))),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    assert!(matches!(
        &ex.on_book(SLUG, t(10, 0), &b)[0],
        ExecReport::Rejected { reason: RejectReason::Other(m), .. } if m.contains("GTD")
    ));
}

#[test]
fn fee_regime_by_fill_date_and_market_schedule() {
    // A 15-minute window on 2026-01-10: the Q1 curve (0.25, e 2): 100 @ 0.50 → 1.5625.
    let start = 1_768_003_200; // 2026-01-10 00:00 UTC
    let slug = format!("btc-updown-15m-{start}");
    let w = window_at(&slug);
    let at = UnixNanos((start + 10) * UnixNanos::PER_SEC);
    let b = up_book(at, &[], &[("0.50", "100")]);
    let mut ex = instant();
    let mut o = buy_up(1, "0.50", sh(100), TimeInForce::Fok);
    o.window.clone_from(&slug);
    ex.place(o.clone(), at, &w, &b).unwrap();
    assert_eq!(fills(&ex.on_book(&slug, at, &b))[0].fee, Cash(1_562_500));
    // The same trade in a 5-minute window that day was free.
    let slug5 = format!("btc-updown-5m-{start}");
    let w5 = window_at(&slug5);
    let mut ex = instant();
    o.window.clone_from(&slug5);
    ex.place(o.clone(), at, &w5, &b).unwrap();
    assert_eq!(fills(&ex.on_book(&slug5, at, &b))[0].fee, Cash::ZERO);
    // A market schedule on the window wins.
    let mut wm = window_at(&slug5);
    wm.fee_schedule = Some(FeeSchedule::CRYPTO_V2);
    let mut ex = instant();
    ex.place(o, at, &wm, &b).unwrap();
    assert_eq!(fills(&ex.on_book(&slug5, at, &b))[0].fee, Cash(1_750_000));
}

#[test]
fn replay_is_deterministic() {
    let run = || {
        let mut ex = SimExecutor::default();
        let mut all = Vec::new();
        for k in 0..40u64 {
            let bid = format!("0.{}", 40 + (k * 7) % 9);
            let ask = format!("0.{}", 50 + (k * 5) % 7);
            let b = up_book(
                t(10, k * 30),
                &[(bid.as_str(), "50"), ("0.39", "80")],
                &[(ask.as_str(), "40"), ("0.58", "90")],
            );
            if k % 3 == 0 {
                let tif = if k % 2 == 0 {
                    TimeInForce::Gtc
                } else {
                    TimeInForce::Fak
                };
                let price = format!("0.{}", 44 + k % 10);
                ex.place(
                    buy_up(k, &price, sh(5 + k % 7), tif),
                    t(10, k * 30),
                    &window(),
                    &b,
                )
                .unwrap();
            }
            if k % 5 == 4 {
                ex.cancel(OrderId(k - 4), t(10, k * 30));
            }
            all.extend(ex.on_book(SLUG, t(10, k * 30), &b));
            all.extend(ex.advance_to(t(10, k * 30)));
        }
        all.extend(ex.advance_to(t(400, 0)));
        (all, *ex.stats())
    };
    let (a, sa) = run();
    let (b, sb) = run();
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert!(a.len() > 20, "{}", a.len());
}

#[test]
fn api_misuse_is_an_error() {
    let mut ex = instant();
    let b = up_book(t(10, 0), &[], &[]);
    ex.place(
        buy_up(1, "0.50", sh(5), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b,
    )
    .unwrap();
    assert!(
        ex.place(
            buy_up(1, "0.50", sh(5), TimeInForce::Gtc),
            t(10, 0),
            &window(),
            &b
        )
        .is_err()
    );
    let w = window_at("btc-updown-5m-1776081900");
    assert!(
        ex.place(buy_up(2, "0.50", sh(5), TimeInForce::Gtc), t(10, 0), &w, &b)
            .is_err()
    );
    let _ = Side::Buy;
}

#[test]
fn after_the_taker_delay_the_book_may_have_moved_away() {
    let mut ex = SimExecutor::default(); // 50 ms + 250 ms on 2026-04-13
    let b0 = up_book(t(10, 0), &[("0.45", "30")], &[("0.50", "10")]);
    ex.place(
        buy_up(1, "0.50", sh(10), TimeInForce::Fak),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    ex.place(
        buy_up(2, "0.50", sh(10), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    ex.place(
        buy_up(3, "0.50", sh(10), TimeInForce::Fok),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 50), &b0);
    assert_eq!(r.len(), 3, "all three accepted into the hold: {r:?}");
    // By the end of the hold the ask moved to 0.55 and a bid of 40 sits at 0.50.
    let b1 = up_book(t(10, 300), &[("0.50", "40")], &[("0.55", "10")]);
    let r = ex.on_book(SLUG, t(10, 300), &b1);
    assert_eq!(
        r,
        vec![
            ExecReport::Cancelled {
                order: OrderId(1),
                unfilled: sh(10),
                at: t(10, 300)
            },
            ExecReport::Rejected {
                order: OrderId(3),
                reason: RejectReason::FokNotFilled,
                at: t(10, 300)
            },
        ]
    );
    let v = ex.order(OrderId(2)).unwrap();
    assert_eq!((v.stage, v.queue_ahead), (OrderStage::Resting, sh(40)));
}

#[test]
fn resting_on_the_mirrored_side() {
    let mut ex = instant();
    // Only the Down book is recorded: Up bid 0.48 × 70 is the Down ask 0.52 × 70.
    let b0 = down_book(t(10, 0), &[("0.45", "20")], &[("0.52", "70")]);
    ex.place(
        buy_up(1, "0.48", sh(10), TimeInForce::Gtc),
        t(10, 0),
        &window(),
        &b0,
    )
    .unwrap();
    ex.on_book(SLUG, t(10, 0), &b0);
    assert_eq!(ex.order(OrderId(1)).unwrap().queue_ahead, sh(70));
    // A Down bid at 0.52 (= an Up ask at 0.48) appears: our Up bid is traded through.
    let b1 = down_book(t(10, 50), &[("0.52", "15")], &[("0.53", "70")]);
    let r = ex.on_book(SLUG, t(10, 50), &b1);
    let f = fills(&r);
    assert_eq!(
        (f[0].outcome, f[0].price, f[0].size),
        (Outcome::Up, p("0.48"), sh(10))
    );
    assert_eq!(f[0].liquidity, Liquidity::Maker);
    // That Down bid liquidity is now ours: a Down sell into it finds 5 left.
    ex.place(
        order(
            2,
            Outcome::Down,
            Side::Sell,
            "0.52",
            sh(15),
            TimeInForce::Fak,
        ),
        t(10, 60),
        &window(),
        &b1,
    )
    .unwrap();
    let r = ex.on_book(SLUG, t(10, 60), &b1);
    assert_eq!(fill_legs(&r), vec![(p("0.52"), sh(5))]);
}
