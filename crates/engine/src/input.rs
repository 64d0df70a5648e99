//! What drives the engine: [`Input`]s, each with the time it happened.

use polyedge_core::{ExecReport, Fixed18, MarketEvent, Outcome, OutcomeSource, UnixNanos, Window};
use serde::{Deserialize, Serialize};

/// A window's resolution as received: the outcome (or that it is declared unknown), where it came
/// from, and when it became known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// The window.
    pub slug: String,
    /// The winning outcome; `None`: declared unknown (the positions are then excluded from PnL
    /// and counted).
    pub outcome: Option<Outcome>,
    /// Where the outcome came from.
    pub source: Option<OutcomeSource>,
    /// The settlement feed's closing price, if the resolution carried it.
    pub final_price: Option<Fixed18>,
    /// When the resolution was received (ns since epoch): settlement happens then (or at the
    /// window end, if that is later).
    pub known_at: UnixNanos,
}

/// One input of [`Engine::process`](crate::Engine::process). Every input carries its time; the
/// engine handles an input dated earlier than its current time at its current time.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A market event, at its receive time.
    Market(MarketEvent),
    /// The clock reached this time: everything due (lifecycle phases, strategy timers, executor
    /// wake-ups) fires, each at its own due time.
    Tick(UnixNanos),
    /// An execution report from an executor that reports asynchronously (live), for lane
    /// `lane`, received at `at`.
    Exec {
        /// The lane (strategy) the order belongs to, as given to [`Engine::new`](crate::Engine::new).
        lane: usize,
        /// The report.
        report: ExecReport,
        /// When it was received.
        at: UnixNanos,
    },
    /// A window was listed (found by discovery live; the recording's listing in replay) at `at`.
    /// Listing a known slug again updates its metadata (token ids, tick size, fees); outcome,
    /// final price and strike are never taken from a listing.
    WindowListed {
        /// The window. Fields known only after the fact (outcome, final price, strike) are
        /// ignored: resolutions and published strikes have inputs of their own.
        window: Box<Window>,
        /// When it was listed.
        at: UnixNanos,
    },
    /// The venue's price to beat of a window was received at `at` (Gamma `priceToBeat`).
    StrikePublished {
        /// The window.
        slug: String,
        /// The strike (USD).
        strike: Fixed18,
        /// When it was received.
        at: UnixNanos,
    },
    /// A window's resolution was received.
    WindowResolved(Resolution),
}

impl Input {
    /// When the input happened (ns since epoch).
    pub fn time(&self) -> UnixNanos {
        match self {
            Input::Market(ev) => ev.recv_ns,
            Input::Tick(t) => *t,
            Input::Exec { at, .. }
            | Input::WindowListed { at, .. }
            | Input::StrikePublished { at, .. } => *at,
            Input::WindowResolved(r) => r.known_at,
        }
    }
}
