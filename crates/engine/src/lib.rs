//! # polyedge-engine
//!
//! The one state machine every mode drives (architecture: "one engine, four drivers"):
//!
//! * [`engine`] — [`Engine`]: [`Engine::process`] one [`Input`] at a time (market events, clock
//!   ticks, execution reports, window listings, published strikes, resolutions); market state,
//!   one lane per strategy (its executor, portfolio, ledger, working orders), pre-trade risk,
//!   settlement; results readable at any time.
//! * [`executor`] — the [`Executor`] seam ([`RiskApproved`] orders only): [`SimExecutor`]
//!   (backtest, paper), [`NoopExecutor`] (shadow); the live CLOB executor is in `polyedge-live`.
//! * [`windows`] and [`replay`] — windows listed and resolved as they happened, and the replay
//!   driver the backtest runs on.
//! * [`sim_exec`] — [`SimExecutor`]: deterministic matching of our orders against recorded L2
//!   books, with latency, taker delay, queue position, partial fills, fees and estimated rebates.
//! * [`portfolio`] — [`Portfolio`]: exact fixed-point positions, cash, fees, merges, settlement, PnL.
//! * [`risk`] — [`RiskConfig`]: pre-trade limits with defaults from the seed documents.
//! * [`decisions`] — the decision log.
//! * [`latency`] — order latency and the venue taker delay, by date; [`fee_regime`] (re-exported
//!   from `polyedge-core`) — which fee schedule applied to a fill, by date.
//!
//! The fill model, its assumptions and what the recorded data lacks are described in
//! `docs/fill-model.md`. Money never touches `f64`.

pub mod breakers;
pub mod decimal;
pub mod decisions;
pub mod engine;
pub mod executor;
pub mod input;
pub mod latency;
pub mod portfolio;
pub mod replay;
pub mod risk;
pub mod sim_exec;
pub mod windows;

/// Which fee schedule applied to a fill, by date (moved to `polyedge_core::fee_regime`).
pub use polyedge_core::fee_regime;
pub use polyedge_core::fee_schedule_at;

pub use breakers::{
    BreakerConfig, BreakerKind, Deployment, LaneBreakers, Phase as DeploymentPhase, Trip,
};
pub use decisions::{
    CounterSignal, Counterfactual, Decision, DecisionKind, SkipSignal, Verdict, counterfactuals,
};
pub use engine::{
    Engine, EngineConfig, EngineStats, EquityPoint, MergeRecord, OrderRecord, RunResult,
    StrategyResult,
};
pub use executor::{ExecError, Executor, ExecutorKind, NoopExecutor, RiskApproved};
pub use input::{Input, Resolution};
pub use latency::LatencyConfig;
pub use portfolio::{Portfolio, PortfolioError, Position, Settlement};
pub use replay::{ReplayDriver, backtest};
pub use risk::RiskConfig;
pub use sim_exec::{
    FillModelReport, OrderStage, OrderView, QueueModel, SimConfig, SimError, SimExecutor, SimStats,
};
pub use windows::{WindowTracker, index_schedule};

/// Why an engine could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine configuration was refused ([`EngineConfig::validate`]).
    #[error("engine configuration: {0}")]
    Config(String),
    /// A strategy's settings were refused.
    #[error("strategy {name}: {message}")]
    Strategy {
        /// The strategy.
        name: String,
        /// What was wrong.
        message: String,
    },
}
