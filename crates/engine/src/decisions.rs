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
