//! No look-ahead through window data: a strategy that tries, on every callback, to read a
//! window's outcome, final price, outcome source or strike before it was knowable, or a window
//! before it was listed, gets nothing — with windows from an index (imported datasets) and from
//! window records (what `polyedge collect` and `polyedge run` write), where the venue publishes the
//! price to beat after the window ends.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use polyedge_core::event::{BookSnapshot, Level, ReferenceSource, ReferenceTick};
use polyedge_core::{
    Asset, ConditionId, EventKind, Fixed18, MarketEvent, Outcome, OutcomeSource, Price, Size,
    Symbol, TokenId, UnixNanos, Window, WindowDuration,
};
use polyedge_engine::{Engine, EngineConfig, ReplayDriver};
use polyedge_strategies::{Ctx, Strategy, StrikeSource, WindowPhase};

const S: u64 = 1_780_000_200;

fn secs(s: i64) -> UnixNanos {
    UnixNanos((i128::from(S) * 1_000_000_000 + i128::from(s) * 1_000_000_000) as u64)
}

fn tok(n: u32) -> TokenId {
    TokenId::parse(&n.to_string()).unwrap()
}

/// Window `k` (5 minutes from `S + 300 k`) with everything known after the fact filled in.
fn window(k: u64) -> Window {
    let start = S + k * 300;
    let mut w = Window::new(
        format!("btc-updown-5m-{start}"),
        Asset::Btc,
        WindowDuration::M5,
        start,
    );
    let base = u32::try_from(k).unwrap() * 2 + 1;
    w.up_token = Some(tok(base));
    w.down_token = Some(tok(base + 1));
    w.strike = Some(Fixed18::parse("100000").unwrap());
    w.final_price = Some(Fixed18::parse("100100").unwrap());
    w.outcome = Some(Outcome::Up);
    w.outcome_source = Some(OutcomeSource::Official);
    w
}

fn book(k: u64, at: i64) -> MarketEvent {
    let base = u32::try_from(k).unwrap() * 2 + 1;
    let lv = |px: &str| Level {
        price: Price::parse(px).unwrap(),
        size: Size::from_shares(100),
    };
    MarketEvent {
        recv_ns: secs(at),
        venue_ns: None,
        kind: EventKind::Book(BookSnapshot {
            market: ConditionId::default(),
            token: tok(base),
            bids: vec![lv("0.49")],
            asks: vec![lv("0.51")],
            hash: None,
            tick_size: None,
            last_trade_price: None,
        }),
    }
}

fn chainlink(at: i64, price: &str) -> MarketEvent {
    MarketEvent {
        recv_ns: secs(at),
        venue_ns: Some(secs(at)),
        kind: EventKind::Reference(ReferenceTick {
            source: ReferenceSource::Chainlink,
            symbol: Symbol::new("btc/usd").unwrap(),
            price: Fixed18::parse(price).unwrap(),
            backfill: false,
        }),
    }
}

fn record(w: &Window, at: i64) -> MarketEvent {
    MarketEvent {
        recv_ns: secs(at),
        venue_ns: None,
        kind: EventKind::WindowUpdate(Box::new(w.clone())),
    }
}

/// What the snoop saw, per callback: (now, slug, what it could read).
type Seen = Arc<Mutex<Vec<(UnixNanos, String, String)>>>;

/// Tries to read everything about every window it has heard of (all slugs, listed or not).
struct Snoop {
    slugs: Vec<String>,
    seen: Seen,
    phases: Arc<Mutex<Vec<(UnixNanos, String, WindowPhase)>>>,
}

impl Snoop {
    fn look(&self, ctx: &Ctx<'_>) {
        let v = ctx.view();
        for slug in &self.slugs {
            let mut what = Vec::new();
            if let Some(w) = v.window(slug) {
                what.push("listed".to_string());
                if w.outcome.is_some() {
                    what.push("OUTCOME".into());
                }
                if w.final_price.is_some() {
                    what.push("FINAL_PRICE".into());
                }
                if w.outcome_source.is_some() {
                    what.push("OUTCOME_SOURCE".into());
                }
                if w.strike.is_some() {
                    what.push("window.strike".into());
                }
            }
            if let Some(k) = v.strike(slug) {
                what.push(format!("strike:{:?}@{}", k.source, k.known_at.0));
            }
            if v.book(slug).is_some() {
                what.push("book".into());
            }
            self.seen
                .lock()
                .unwrap()
                .push((ctx.now(), slug.clone(), what.join(",")));
        }
    }
}

impl Strategy for Snoop {
    fn name(&self) -> &'static str {
        "snoop"
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, _ev: &MarketEvent) {
        self.look(ctx);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _now: UnixNanos) {
        self.look(ctx);
    }
    fn on_window(&mut self, ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        assert!(
            window.outcome.is_none() && window.final_price.is_none(),
            "on_window handed a window with hindsight"
        );
        self.phases
            .lock()
            .unwrap()
            .push((ctx.now(), window.slug.clone(), phase));
        self.look(ctx);
    }
}

struct Run {
    seen: Vec<(UnixNanos, String, String)>,
    phases: Vec<(UnixNanos, String, WindowPhase)>,
}

fn run(indexed: &[Window], events: Vec<MarketEvent>, slugs: Vec<String>) -> Run {
    let seen: Seen = Arc::default();
    let phases = Arc::default();
    let snoop = Snoop {
        slugs,
        seen: Arc::clone(&seen),
        phases: Arc::clone(&phases),
    };
    let engine = Engine::simulated(EngineConfig::default(), vec![Box::new(snoop)]).unwrap();
    let _ = ReplayDriver::new(engine, indexed, None, None).run(events);
    let seen = seen.lock().unwrap().clone();
    let phases = phases.lock().unwrap().clone();
    Run { seen, phases }
}

fn forbidden(r: &Run) {
    for (now, slug, what) in &r.seen {
        for bad in ["OUTCOME", "FINAL_PRICE", "OUTCOME_SOURCE"] {
            assert!(!what.contains(bad), "{slug} at {now}: read {bad} ({what})");
        }
    }
}

#[test]
fn index_windows_hide_hindsight_strike_and_unlisted_windows() {
    let w0 = window(0);
    let w1 = window(1);
    // Chainlink every second from 10 s before w0 to its end: the strike becomes knowable at the
    // first tick at or after the start (its price at the start); w1's at w1's start.
    let mut events: Vec<MarketEvent> = (-10..=600)
        .map(|s| chainlink(s, if s < 0 { "99990" } else { "100000" }))
        .collect();
    events.extend([book(0, 5), book(0, 100), book(1, 305)]);
    events.sort_by_key(|e| e.recv_ns);
    let r = run(
        &[w0.clone(), w1.clone()],
        events,
        vec![w0.slug.clone(), w1.slug.clone()],
    );
    assert!(!r.seen.is_empty());
    forbidden(&r);
    // The index's strike (no receive time) is never shown as the window's strike.
    assert!(r.seen.iter().all(|(_, _, w)| !w.contains("window.strike")));
    for (now, slug, what) in &r.seen {
        let w = if *slug == w0.slug { &w0 } else { &w1 };
        // Listed one duration before the start (index rule): never visible before; visible after
        // (a callback due at the listing instant itself may run just before the listing input).
        let listed_at = UnixNanos(w.start.0 - 300_000_000_000);
        if what.contains("listed") {
            assert!(
                *now >= listed_at,
                "{slug} visible at {now}, listed at {listed_at}"
            );
        }
        if *now > listed_at {
            assert!(
                what.contains("listed"),
                "{slug} not visible at {now}: {what}"
            );
        }
        // A strike only once the reference price at the start was received, never before the
        // start.
        if what.contains("strike:") {
            assert!(
                *now >= w.start,
                "{slug}: strike known at {now} before the start"
            );
            assert!(what.contains(&format!("{:?}", StrikeSource::ReferenceAtStart)));
        }
    }
    // The outcome arrives only as the Resolved phase, at the end.
    for (now, slug, phase) in &r.phases {
        if let WindowPhase::Resolved(o) = phase {
            let w = if *slug == w0.slug { &w0 } else { &w1 };
            assert_eq!(*now, w.end);
            assert_eq!(*o, Some(Outcome::Up));
        }
    }
    assert!(
        r.phases
            .iter()
            .any(|p| p.1 == w0.slug && p.2 == WindowPhase::StrikeKnown && p.0 >= w0.start)
    );
}

#[test]
fn recorded_windows_show_the_published_strike_and_outcome_only_from_their_receive_time() {
    let full = window(0);
    // As a recorder writes them: listed 200 s before the start with nothing known after the
    // fact; the resolution with the price to beat and the final price 40 s after the end.
    let listed = full.without_hindsight();
    let resolved_at = 300 + 40;
    let events = vec![
        record(&listed, -200),
        book(0, 10),
        book(0, 200),
        record(&full, resolved_at),
        book(0, resolved_at + 1),
    ];
    // A window that is never listed, although its tokens trade.
    let ghost = window(7);
    let mut evs = events;
    evs.push(book(7, 250));
    evs.sort_by_key(|e| e.recv_ns);
    let r = run(&[], evs, vec![full.slug.clone(), ghost.slug.clone()]);
    forbidden(&r);
    let resolved = secs(resolved_at);
    for (now, slug, what) in &r.seen {
        if *slug == ghost.slug {
            assert!(what.is_empty(), "unlisted window visible at {now}: {what}");
            continue;
        }
        if what.contains("listed") {
            assert!(*now >= secs(-200), "visible at {now} before its listing");
        }
        if *now > secs(-200) {
            assert!(what.contains("listed"), "not visible at {now}: {what}");
        }
        // Published strike (Gamma's priceToBeat comes with the resolution): not before.
        assert_eq!(
            what.contains("window.strike"),
            *now >= resolved,
            "{now}: {what}"
        );
        if what.contains("Published") {
            assert!(*now >= resolved);
        }
    }
    let res: Vec<_> = r
        .phases
        .iter()
        .filter(|p| matches!(p.2, WindowPhase::Resolved(_)))
        .collect();
    assert_eq!(res.len(), 1);
    assert_eq!(
        res[0].0, resolved,
        "settled when the resolution was received"
    );
    assert!(
        r.phases
            .iter()
            .any(|p| p.2 == WindowPhase::Ended && p.0 == full.end),
        "Ended at the end, before the resolution"
    );
}
