//! # polyedge-engine
//!
//! The execution side of the engine, shared by backtest and paper modes:
//!
//! * [`fee_regime`] — which fee schedule applied to a fill, by date (the market's own schedule wins).
//! * [`latency`] — order latency and the venue taker delay, by date.
//! * [`sim_exec`] — [`SimExecutor`]: deterministic matching of our orders against recorded L2
//!   books, with latency, taker delay, queue position, partial fills, fees and estimated rebates.
//! * [`portfolio`] — [`Portfolio`]: exact fixed-point positions, cash, fees, merges, settlement, PnL.
//! * [`risk`] — [`RiskConfig`]: pre-trade limits with defaults from the seed documents.
//! * [`run`] — [`Engine`]: the deterministic event loop running strategies over a data source.
//!
//! The fill model, its assumptions and what the recorded data lacks are described in
//! `docs/fill-model.md`. Money never touches `f64`.

pub mod decimal;
pub mod fee_regime;
pub mod latency;
pub mod portfolio;
pub mod risk;
pub mod run;
pub mod sim_exec;

pub use fee_regime::fee_schedule_at;
pub use latency::LatencyConfig;
pub use portfolio::{Portfolio, PortfolioError, Position, Settlement};
pub use risk::RiskConfig;
pub use run::{Engine, EngineConfig, EquityPoint, OrderRecord, RunResult, StrategyResult};
pub use sim_exec::{OrderStage, OrderView, ShrinkFill, SimConfig, SimError, SimExecutor, SimStats};
