//! The decision log: every order and cancel a strategy sent, with what it saw and what the risk
//! check and the executor said ([`crate::Engine::log_decisions`]). Written as JSON lines by
//! `polyedge run` (shadow mode's whole output), and comparable decision by decision between a run
//! and a backtest of the recording it made.

use polyedge_core::{OrderId, OrderIntent, Outcome, Price, RejectReason, UnixNanos, WindowBook};
use serde::{Deserialize, Serialize};

/// What became of an order at the moment it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Approved by the risk check and handed to the executor.
    Sent,
    /// Refused before reaching the venue (risk limit, unknown window, executor unavailable).
    Refused(RejectReason),
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Decision time (ns since epoch).
    pub at: UnixNanos,
    /// The lane (strategy position in the run).
    pub lane: usize,
    /// The strategy's name.
    pub strategy: String,
    /// What it decided.
    pub kind: DecisionKind,
}

/// What a strategy decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Send an order.
    Submit {
        /// The order (its id is the strategy's order id).
        intent: OrderIntent,
        /// The strategy's fair value of one share of the outcome (micro-pUSD), if given.
        fair_value: Option<Price>,
        /// Best bid of the order's outcome at decision time (micro-pUSD per share).
        best_bid: Option<Price>,
        /// Best ask of the order's outcome at decision time.
        best_ask: Option<Price>,
        /// Risk verdict.
        verdict: Verdict,
    },
    /// Cancel a working order.
    Cancel {
        /// The order.
        order: OrderId,
    },
    /// Looked at a window and did not trade (logged when the window's skip reason changes:
    /// the first of a run of identical skips).
    Skip {
        /// The window.
        window: String,
        /// The strategy's reason code (`polyedge_strategy::skip`).
        reason: String,
        /// The trade it considered, if it had one.
        signal: Option<SkipSignal>,
    },
}

/// The trade behind a skip ([`DecisionKind::Skip`]): one share of `outcome` at `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipSignal {
    /// The outcome token.
    pub outcome: Outcome,
    /// Buy or sell.
    pub side: polyedge_core::Side,
    /// The price it would have traded at (micro-pUSD per share).
    pub price: Price,
    /// The strategy's fair value of one share of `outcome`, if it had one.
    pub fair_value: Option<Price>,
}

/// What skipped and refused signals would have earned at resolution, per reason code.
///
/// Each signal counts as one share bought (or sold) at its price, held to resolution: a buy of
/// the winning outcome earns `1 − price`, of the losing one `−price` (a sell the opposite); fees,
/// queue and depth are ignored, so this is an upper bound of what the signal could have made
/// per share, not a fill simulation. Signals of windows without a known outcome are counted as
/// unresolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterfactual {
    /// `skipped` (a strategy's skip with a signal) or `refused` (an order the risk check or the
    /// executor refused).
    pub kind: String,
    /// The strategy.
    pub strategy: String,
    /// The skip reason code or the rejection code.
    pub reason: String,
    /// Signals.
    pub signals: u64,
    /// Of those, in windows with a known outcome.
    pub resolved: u64,
    /// Of those, on the side that won.
    pub wins: u64,
    /// Σ PnL per share of the resolved signals (pUSD).
    pub pnl_per_share_sum: f64,
    /// Mean PnL per share of the resolved signals (pUSD; 0 when none).
    pub pnl_per_share_mean: f64,
}

/// One signal of the counterfactual table: (kind, strategy, reason, window, outcome, side,
/// price).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterSignal {
    kind: &'static str,
    strategy: String,
    reason: String,
    window: String,
    outcome: Outcome,
    side: polyedge_core::Side,
    price: Price,
}

impl CounterSignal {
    /// The signal of a decision: a skip with a signal, or a refused order; `None` otherwise.
    pub fn of(d: &Decision) -> Option<Self> {
        match &d.kind {
            DecisionKind::Skip {
                window,
                reason,
                signal: Some(sig),
            } => Some(CounterSignal {
                kind: "skipped",
                strategy: d.strategy.clone(),
                reason: reason.clone(),
                window: window.clone(),
                outcome: sig.outcome,
                side: sig.side,
                price: sig.price,
            }),
            DecisionKind::Submit {
                intent,
                verdict: Verdict::Refused(r),
                ..
            } => Some(CounterSignal {
                kind: "refused",
                strategy: d.strategy.clone(),
                reason: r.code().to_string(),
                window: intent.window.clone(),
                outcome: intent.outcome,
                side: intent.side,
                price: intent.price,
            }),
            _ => None,
        }
    }
}

/// The counterfactual table of `signals`, with `outcome_of(window)` the resolved outcome (or
/// `None`), sorted by kind, strategy, reason.
pub fn counterfactuals(
    signals: &[CounterSignal],
    outcome_of: impl Fn(&str) -> Option<Outcome>,
) -> Vec<Counterfactual> {
    let mut rows: std::collections::BTreeMap<(&str, &str, &str), Counterfactual> =
        std::collections::BTreeMap::new();
    for s in signals {
        let row = rows
            .entry((s.kind, s.strategy.as_str(), s.reason.as_str()))
            .or_insert_with(|| Counterfactual {
                kind: s.kind.to_string(),
                strategy: s.strategy.clone(),
                reason: s.reason.clone(),
                signals: 0,
                resolved: 0,
                wins: 0,
                pnl_per_share_sum: 0.0,
                pnl_per_share_mean: 0.0,
            });
        row.signals += 1;
        let Some(won) = outcome_of(&s.window) else {
            continue;
        };
        row.resolved += 1;
        let payout = if won == s.outcome { 1.0 } else { 0.0 };
        let p = s.price.to_f64();
        let pnl = match s.side {
            polyedge_core::Side::Buy => payout - p,
            polyedge_core::Side::Sell => p - payout,
        };
        if pnl > 0.0 {
            row.wins += 1;
        }
        row.pnl_per_share_sum += pnl;
    }
    rows.into_values()
        .map(|mut r| {
            if r.resolved > 0 {
                r.pnl_per_share_mean = r.pnl_per_share_sum / r.resolved as f64;
            }
            r
        })
        .collect()
}

impl Decision {
    /// A submit decision.
    pub fn submit(
        at: UnixNanos,
        lane: usize,
        strategy: &str,
        intent: &OrderIntent,
        fair_value: Option<Price>,
        book: Option<&WindowBook>,
        verdict: &Verdict,
    ) -> Self {
        let top = |outcome: Outcome| {
            book.map_or((None, None), |b| {
                (
                    b.best_bid(outcome).map(|l| l.level.price),
                    b.best_ask(outcome).map(|l| l.level.price),
                )
            })
        };
        let (best_bid, best_ask) = top(intent.outcome);
        Decision {
            at,
            lane,
            strategy: strategy.to_string(),
            kind: DecisionKind::Submit {
                intent: intent.clone(),
                fair_value,
                best_bid,
                best_ask,
                verdict: verdict.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::{OrderIntent, Side, Size, TimeInForce};

    fn skip(strategy: &str, window: &str, reason: &str, outcome: Outcome, price: u32) -> Decision {
        Decision {
            at: UnixNanos(1),
            lane: 0,
            strategy: strategy.into(),
            kind: DecisionKind::Skip {
                window: window.into(),
                reason: reason.into(),
                signal: Some(SkipSignal {
                    outcome,
                    side: Side::Buy,
                    price: Price::from_micros(price).unwrap(),
                    fair_value: None,
                }),
            },
        }
    }

    #[test]
    fn counterfactuals_pay_one_minus_price_on_the_winner_and_minus_price_on_the_loser() {
        let refused = Decision {
            at: UnixNanos(2),
            lane: 0,
            strategy: "fv".into(),
            kind: DecisionKind::Submit {
                intent: OrderIntent {
                    id: OrderId(1),
                    window: "w1".into(),
                    outcome: Outcome::Down,
                    side: Side::Sell,
                    price: Price::from_micros(300_000).unwrap(),
                    size: Size::from_shares(5),
                    tif: TimeInForce::Gtc,
                    post_only: false,
                },
                fair_value: None,
                best_bid: None,
                best_ask: None,
                verdict: Verdict::Refused(RejectReason::Risk("cap".into())),
            },
        };
        let ds = [
            skip("fv", "w1", "edge_below_threshold", Outcome::Up, 400_000),
            skip("fv", "w2", "edge_below_threshold", Outcome::Up, 700_000),
            skip("fv", "w3", "edge_below_threshold", Outcome::Up, 500_000),
            refused,
            Decision {
                at: UnixNanos(3),
                lane: 0,
                strategy: "fv".into(),
                kind: DecisionKind::Skip {
                    window: "w1".into(),
                    reason: "too_late".into(),
                    signal: None,
                },
            },
        ];
        let signals: Vec<CounterSignal> = ds.iter().filter_map(CounterSignal::of).collect();
        assert_eq!(
            signals.len(),
            4,
            "a skip without a signal has no counterfactual"
        );
        // w1: Up won; w2: Down won; w3: unknown.
        let rows = counterfactuals(&signals, |w| match w {
            "w1" => Some(Outcome::Up),
            "w2" => Some(Outcome::Down),
            _ => None,
        });
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!((r.kind.as_str(), r.reason.as_str()), ("refused", "risk"));
        // Selling Down at 0.30 when Down lost: +0.30 per share.
        assert_eq!((r.signals, r.resolved, r.wins), (1, 1, 1));
        assert!((r.pnl_per_share_sum - 0.3).abs() < 1e-12);
        let s = &rows[1];
        assert_eq!(
            (s.kind.as_str(), s.reason.as_str()),
            ("skipped", "edge_below_threshold")
        );
        // +0.60 (w1 won) − 0.70 (w2 lost); w3 unresolved.
        assert_eq!((s.signals, s.resolved, s.wins), (3, 2, 1));
        assert!((s.pnl_per_share_sum - (0.6 - 0.7)).abs() < 1e-12);
        assert!((s.pnl_per_share_mean - (-0.05)).abs() < 1e-12);
    }
}
