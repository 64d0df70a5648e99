//! The live status page of a run (`GET /status` on the control port; live updates over
//! server-sent events at `GET /events`, a JSON snapshot at `GET /status.json`).
//!
//! The engine thread builds the snapshot ([`StatusPage::publish`], once a second) into a shared
//! [`StatusView`]; the control port serves it. The page (`assets/status.html`) is embedded in the
//! binary: no CDN, no external request, and it lays out on a phone (one column below 700 px).
//!
//! Snapshot (JSON): `mode`, `now_ns`, `now_utc`; `windows` (active windows: slug, seconds left,
//! both books' best bid/ask with sizes and mid, each strategy's last fair value, P(Up) and edge
//! there); `strategies` (cash, realized PnL, realized today, unrealized, equity, exposure,
//! positions with their marks, open orders, breakers in force); `fills` and `decisions` (the
//! last 20 of each, newest first); `equity_today` (`[ns, pUSD]` per minute of engine time since
//! 00:00 UTC, all strategies together); `counters`. Money in pUSD (decimal strings for exact
//! amounts, numbers for marks), prices in pUSD per share.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polyedge_core::{Outcome, Side, UnixNanos, WindowBook};
use polyedge_engine::Engine;
use polyedge_engine::decisions::{Decision, DecisionKind, Verdict};
use serde_json::{Value, json};

use crate::engine_loop::LoopStats;
use crate::metrics::{fair_and_edge, market_of, marks};

/// The page, embedded.
pub const PAGE: &str = include_str!("../assets/status.html");

/// The latest snapshot, shared with the control port.
pub type StatusView = Arc<Mutex<Value>>;

/// How many fills and decisions the page lists.
const RECENT: usize = 20;
const NS_PER_MIN: u64 = 60_000_000_000;
const NS_PER_DAY: u64 = 86_400_000_000_000;

/// Builds the snapshot on the engine thread.
#[derive(Debug)]
pub struct StatusPage {
    view: StatusView,
    mode: &'static str,
    decisions: VecDeque<Value>,
    /// (strategy, window) → (fair value, P(Up), edge) at its last order decision.
    fair: BTreeMap<(String, String), (f64, f64, Option<f64>)>,
    curve: Vec<(u64, f64)>,
    curve_day: u64,
    last: Option<Instant>,
}

fn px(p: polyedge_core::Price) -> f64 {
    p.to_f64()
}

fn side_of(book: &WindowBook, o: Outcome) -> Value {
    let bid = book.best_bid(o).map(|l| l.level);
    let ask = book.best_ask(o).map(|l| l.level);
    json!({
        "bid": bid.map(|l| px(l.price)),
        "bid_size": bid.map(|l| l.size.to_f64()),
        "ask": ask.map(|l| px(l.price)),
        "ask_size": ask.map(|l| l.size.to_f64()),
        "mid": book.mid(o).map(px),
    })
}

impl StatusPage {
    /// A builder publishing into `view` for a run in `mode`.
    pub fn new(view: StatusView, mode: &'static str) -> Self {
        StatusPage {
            view,
            mode,
            decisions: VecDeque::new(),
            fair: BTreeMap::new(),
            curve: Vec::new(),
            curve_day: 0,
            last: None,
        }
    }

    /// Remembers `decisions` (the newest [`RECENT`] and each strategy's last fair value per
    /// window).
    pub fn decisions(&mut self, decisions: &[Decision]) {
        for d in decisions {
            let v = match &d.kind {
                DecisionKind::Submit {
                    intent,
                    fair_value,
                    best_bid,
                    best_ask,
                    verdict,
                } => {
                    if let Some((fv, p_up, edge)) =
                        fair_and_edge(intent, *fair_value, *best_bid, *best_ask)
                    {
                        self.fair.insert(
                            (d.strategy.clone(), intent.window.clone()),
                            (fv, p_up, edge),
                        );
                    }
                    json!({
                        "at_utc": d.at.to_rfc3339(),
                        "strategy": d.strategy,
                        "window": intent.window,
                        "what": format!(
                            "{} {} {} @ {}",
                            intent.side.name(),
                            intent.size,
                            intent.outcome,
                            intent.price
                        ),
                        "fair_value": fair_value.map(px),
                        "best_bid": best_bid.map(px),
                        "best_ask": best_ask.map(px),
                        "verdict": match verdict {
                            Verdict::Sent => "sent".to_string(),
                            Verdict::Refused(r) => format!("refused: {}", r.code()),
                        },
                    })
                }
                DecisionKind::Skip {
                    window,
                    reason,
                    signal,
                } => json!({
                    "at_utc": d.at.to_rfc3339(),
                    "strategy": d.strategy,
                    "window": window,
                    "what": format!("skip: {reason}"),
                    "fair_value": signal.and_then(|g| g.fair_value).map(px),
                    "best_bid": Value::Null,
                    "best_ask": signal.map(|g| px(g.price)),
                    "verdict": "skipped",
                }),
                DecisionKind::Cancel { order } => json!({
                    "at_utc": d.at.to_rfc3339(),
                    "strategy": d.strategy,
                    "window": "",
                    "what": format!("cancel order {}", order.0),
                    "verdict": "sent",
                }),
            };
            self.decisions.push_front(v);
            self.decisions.truncate(RECENT);
        }
    }

    /// Builds and publishes the snapshot if a second has passed since the last one (or `force`).
    pub fn publish(&mut self, engine: &Engine, stats: &LoopStats, force: bool) {
        if !force
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last = Some(Instant::now());
        let v = self.snapshot(engine, stats);
        if let Ok(mut slot) = self.view.lock() {
            *slot = v;
        }
    }

    fn snapshot(&mut self, engine: &Engine, stats: &LoopStats) -> Value {
        let now = engine.now();
        let active: Vec<&str> = engine.active_windows();
        // Fair values are shown for trading windows only: forget the ended ones (the map would
        // otherwise grow by a window every few minutes for as long as the run lives).
        self.fair.retain(|(_, w), _| active.contains(&w.as_str()));
        let windows: Vec<Value> = engine
            .windows()
            .iter()
            .filter(|w| active.contains(&w.slug.as_str()))
            .map(|w| {
                let books = engine.book(&w.slug);
                let fair: Vec<Value> = self
                    .fair
                    .iter()
                    .filter(|((_, win), _)| win == &w.slug)
                    .map(|((s, _), (fv, p_up, edge))| {
                        json!({"strategy": s, "fair_value": fv, "p_up": p_up, "edge": edge})
                    })
                    .collect();
                json!({
                    "slug": w.slug,
                    "market": market_of(&w.slug),
                    "ends_in_s": w.end.0.saturating_sub(now.0) / 1_000_000_000,
                    "up": books.map(|b| side_of(b, Outcome::Up)),
                    "down": books.map(|b| side_of(b, Outcome::Down)),
                    "fair": fair,
                })
            })
            .collect();
        let mut total_equity = 0f64;
        let mut fills: Vec<(UnixNanos, Value)> = Vec::new();
        let strategies: Vec<Value> = (0..engine.lanes())
            .filter_map(|k| {
                let p = engine.portfolio(k)?;
                let name = engine.strategy_name(k).unwrap_or_default().to_string();
                let m = marks(engine, k);
                let equity = (i128::from(p.cash().micros()) + m.value) as f64 / 1e6;
                total_equity += equity;
                for f in engine.fills(k).iter().rev().take(RECENT) {
                    fills.push((
                        f.at,
                        json!({
                            "at_utc": f.at.to_rfc3339(),
                            "strategy": name,
                            "window": f.window,
                            "what": format!(
                                "{} {} {} @ {}",
                                match f.side { Side::Buy => "bought", Side::Sell => "sold" },
                                f.size,
                                f.outcome,
                                f.price
                            ),
                            "fee": f.fee.to_string(),
                            "liquidity": f.liquidity.name(),
                        }),
                    ));
                }
                let positions: Vec<Value> = p
                    .positions()
                    .filter(|(_, _, pos)| !pos.shares.is_zero())
                    .map(|(w, o, pos)| {
                        json!({
                            "window": w,
                            "outcome": o.to_string(),
                            "shares": pos.shares.to_string(),
                            "cost": pos.cost.to_string(),
                            "mid": engine.book(w).and_then(|b| b.mid(o)).map(px),
                        })
                    })
                    .collect();
                let orders: Vec<Value> = engine
                    .open_orders(k)
                    .iter()
                    .map(|o| {
                        json!({
                            "window": o.window,
                            "what": format!(
                                "{} {} {} @ {}",
                                o.side.name(),
                                o.size,
                                o.outcome,
                                o.price
                            ),
                        })
                    })
                    .collect();
                let breakers: Vec<Value> = engine
                    .breakers(k)
                    .map(|b| {
                        b.active(now)
                            .map(|t| json!({"breaker": t.breaker.name(), "reason": t.reason}))
                            .collect()
                    })
                    .unwrap_or_default();
                Some(json!({
                    "strategy": name,
                    "cash": p.cash().to_string(),
                    "realized_pnl": p.realized_pnl().to_string(),
                    "realized_today": p.realized_on_day(now).to_string(),
                    "unrealized_pnl": m.unrealized as f64 / 1e6,
                    "equity": equity,
                    "exposure": p.open_cost().to_string(),
                    "positions": positions,
                    "open_orders": orders,
                    "orders": engine.orders(k).len(),
                    "fills": engine.fills(k).len(),
                    "breakers": breakers,
                }))
            })
            .collect();
        fills.sort_by_key(|f| std::cmp::Reverse(f.0));
        fills.truncate(RECENT);
        // The equity curve of today (engine time), one point per minute.
        let day = now.0 / NS_PER_DAY;
        if day != self.curve_day {
            self.curve.clear();
            self.curve_day = day;
        }
        let minute = now.0 / NS_PER_MIN * NS_PER_MIN;
        match self.curve.last_mut() {
            Some(last) if last.0 == minute => last.1 = total_equity,
            _ => self.curve.push((minute, total_equity)),
        }
        json!({
            "mode": self.mode,
            "now_ns": now.0,
            "now_utc": now.to_rfc3339(),
            "kill_switch": engine.killed(),
            "windows": windows,
            "strategies": strategies,
            "fills": fills.into_iter().map(|f| f.1).collect::<Vec<_>>(),
            "decisions": self.decisions.iter().cloned().collect::<Vec<_>>(),
            "equity_today": self.curve,
            "counters": stats,
        })
    }
}
