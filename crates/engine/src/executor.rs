//! The [`Executor`] seam: where risk-approved orders go.
//!
//! The engine decides; an executor carries orders out and reports back with [`ExecReport`]s.
//! Three implementations, one per kind of mode (architecture: "one state machine, four drivers"):
//!
//! | executor | modes | reports come from |
//! |---|---|---|
//! | [`SimExecutor`](crate::SimExecutor) | backtest, paper | matching against the books it is shown ([`Executor::market_update`]) and its own queue of due events ([`Executor::poll`]) |
//! | [`NoopExecutor`] | shadow | itself: every order is answered `Rejected` ("shadow mode: not sent") at once |
//! | the live CLOB executor (crate `polyedge-live`) | live | the venue (REST answers, user channel), handed to the engine as [`Input::Exec`](crate::Input::Exec) or drained in [`Executor::poll`] |
//!
//! Nothing in the engine assumes simulation: it never looks inside an executor, keeps its own
//! record of working orders from the reports, and learns when the executor wants to be woken up
//! from [`Executor::next_wakeup`].
//!
//! An executor only accepts a [`RiskApproved`] order: a value that only the engine's pre-trade
//! risk check can make, so an order cannot reach a venue around the limits.

use polyedge_core::{
    Cash, ExecReport, Fill, OrderId, OrderIntent, Outcome, RejectReason, Size, UnixNanos, Window,
    WindowBook,
};

/// An order that passed the engine's pre-trade risk check. Only the engine can make one
/// ([`crate::RiskConfig::approve`]); executors read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskApproved {
    intent: OrderIntent,
    approved_at: UnixNanos,
}

impl RiskApproved {
    /// Made by the risk check only.
    pub(crate) fn new(intent: OrderIntent, approved_at: UnixNanos) -> Self {
        RiskApproved {
            intent,
            approved_at,
        }
    }

    /// The order.
    pub fn intent(&self) -> &OrderIntent {
        &self.intent
    }

    /// When the risk check approved it (the decision time, ns since epoch).
    pub fn approved_at(&self) -> UnixNanos {
        self.approved_at
    }

    /// The order, consuming the approval.
    pub fn into_intent(self) -> OrderIntent {
        self.intent
    }
}

/// What kind of executor runs a lane (reports and summaries say which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// Simulated matching against the books (backtest, paper).
    Sim,
    /// Nothing is sent (shadow).
    Noop,
    /// The venue (live).
    Live,
}

/// Why an executor could not take an order at all (distinct from a venue rejection, which comes
/// back as [`ExecReport::Rejected`]). The engine turns it into a rejection of the order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The order id was already used.
    #[error("order id {0:?} was already submitted")]
    DuplicateOrder(OrderId),
    /// The order names another window than the one passed along.
    #[error("order is for window {intent:?} but was submitted with window {window:?}")]
    WindowMismatch {
        /// The intent's window.
        intent: String,
        /// The window passed.
        window: String,
    },
    /// The executor cannot send now (not connected, halted, …).
    #[error("executor unavailable: {0}")]
    Unavailable(String),
}

impl ExecError {
    /// The rejection the strategy is told.
    pub fn reject_reason(&self) -> RejectReason {
        RejectReason::Other(self.to_string())
    }
}

/// Carries out risk-approved orders. See the [module docs](self).
///
/// Every method takes the engine's current time `now` (ns since epoch); an executor never reads
/// a clock of its own, so a run is reproducible from its inputs. Reports are appended to `out` in
/// the order they happened.
pub trait Executor: Send {
    /// Which kind of executor this is.
    fn kind(&self) -> ExecutorKind;

    /// Sends `order` for `window`, decided now on `book` (the book the strategy saw).
    ///
    /// # Errors
    /// [`ExecError`] if the executor cannot take the order at all; the executor is unchanged.
    fn submit(
        &mut self,
        order: RiskApproved,
        window: &Window,
        book: &WindowBook,
        now: UnixNanos,
    ) -> Result<(), ExecError>;

    /// Asks to cancel `order` (the answer, if any, is a later [`ExecReport::Cancelled`]).
    fn cancel(&mut self, order: OrderId, now: UnixNanos);

    /// Market update: the book of `window` changed (received now).
    fn market_update(
        &mut self,
        window: &str,
        book: &WindowBook,
        now: UnixNanos,
        out: &mut Vec<ExecReport>,
    );

    /// The clock reached `now`: report whatever became due.
    fn poll(&mut self, now: UnixNanos, out: &mut Vec<ExecReport>);

    /// The earliest time at which [`Executor::poll`] would report something without any new
    /// input (a cancel taking effect after its latency, an expiry, a window close), if any.
    fn next_wakeup(&self) -> Option<UnixNanos>;

    /// The orders the executor still works, with `size` = shares still working (for
    /// reconciliation and diagnostics; the engine keeps its own record from the reports).
    fn open_orders(&self) -> Vec<OrderIntent>;

    /// Estimated maker rebate of `fill` (not cash; reported separately). Default: none.
    fn rebate_estimate(&self, fill: &Fill) -> Cash {
        let _ = fill;
        Cash::ZERO
    }

    /// Carries out a merge of `shares` complete sets of `window` (both outcomes → as many pUSD)
    /// that the engine is about to book. Default: nothing to do (simulated and shadow books are
    /// the engine's own); the live executor sends the CTF merge.
    ///
    /// # Errors
    /// [`ExecError`] if the merge cannot be carried out; the engine then books nothing.
    fn merge(&mut self, window: &str, shares: Size, now: UnixNanos) -> Result<(), ExecError> {
        let _ = (window, shares, now);
        Ok(())
    }

    /// `window` settled in the lane's books with `outcome` (`None`: unknown): an executor on a
    /// venue redeems the lane's positions there (the live one sends the CTF `redeemPositions`
    /// once the condition is resolved on chain). Called once per settlement of a window the
    /// lane traded, and again for a fill learned after it (its shares need redeeming too).
    /// Default: nothing (a simulated venue's settlement is the engine's own).
    fn settled(&mut self, window: &str, outcome: Option<Outcome>, now: UnixNanos) {
        let _ = (window, outcome, now);
    }

    /// Why the executor stopped trading, if it did: the venue's books no longer match ours
    /// (the live executor: a position the venue reports that the booked fills do not explain,
    /// or a booked trade that failed on chain). The engine then trips
    /// [`crate::BreakerKind::VenueMismatch`] for the lane — every order refused, resting ones
    /// cancelled, an alert raised. Default: `None` (a simulated venue is our own book).
    fn halted(&self) -> Option<&str> {
        None
    }

    /// The end of a strategy callback whose orders were all handed to [`Executor::submit`]: an
    /// executor that batches (the live one: up to 15 orders per `POST /orders`) sends what it
    /// collected now. Default: nothing (orders were carried out as they came).
    fn flush(&mut self, now: UnixNanos) {
        let _ = now;
    }

    /// What a simulated executor's fill model did (queue model, counters, how old the books
    /// were that arriving orders met). Default: `None` (nothing simulated).
    fn fill_model_report(&self) -> Option<crate::sim_exec::FillModelReport> {
        None
    }
}

/// The shadow executor: places nothing. Every order is answered at once with
/// `Rejected(Other("shadow mode: not sent"))`, so a strategy's view of its working orders stays
/// true (it has none) and the decision log shows every order it would have sent.
#[derive(Debug, Clone, Default)]
pub struct NoopExecutor {
    pending: Vec<ExecReport>,
    /// Orders received.
    pub received: u64,
}

/// The reason [`NoopExecutor`] gives.
pub const SHADOW_REASON: &str = "shadow mode: not sent";

impl Executor for NoopExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Noop
    }

    fn submit(
        &mut self,
        order: RiskApproved,
        _window: &Window,
        _book: &WindowBook,
        now: UnixNanos,
    ) -> Result<(), ExecError> {
        self.received += 1;
        self.pending.push(ExecReport::Rejected {
            order: order.intent().id,
            reason: RejectReason::Other(SHADOW_REASON.to_string()),
            at: now,
        });
        Ok(())
    }

    fn cancel(&mut self, _order: OrderId, _now: UnixNanos) {}

    fn market_update(
        &mut self,
        _window: &str,
        _book: &WindowBook,
        _now: UnixNanos,
        out: &mut Vec<ExecReport>,
    ) {
        out.append(&mut self.pending);
    }

    fn poll(&mut self, _now: UnixNanos, out: &mut Vec<ExecReport>) {
        out.append(&mut self.pending);
    }

    fn next_wakeup(&self) -> Option<UnixNanos> {
        // Reports are pending only between a submit and the next poll in the same step.
        self.pending.first().map(|r| match r {
            ExecReport::Rejected { at, .. } => *at,
            _ => UnixNanos(0),
        })
    }

    fn open_orders(&self) -> Vec<OrderIntent> {
        Vec::new()
    }
}
