//! # polyedge-strategies
//!
//! The strategies polyedge ships, on the one strategy API of `polyedge-strategy` (the same code
//! runs in backtest, shadow, paper and live), and the [`registry`] that builds them by name with
//! parameters from TOML. Each is documented in its module and in `docs/strategies.md`:
//! [`complete_set`] (pair and accumulation variants, with leg-risk handling), [`fair_value`],
//! [`momentum`], [`market_maker`], [`ml_directional`] (a trained model's calibrated `P(Up)`) and
//! the [`random`] baseline. [`sizing`] holds the shared Kelly
//! sizing and book helpers; the fair value itself comes from the engine's reference state through
//! `MarketView::fair_value` (the same `polyedge_model::online` code `polyedge calibrate` scores).

pub mod complete_set;
pub mod fair_value;
pub mod market_maker;
pub mod ml_directional;
pub mod momentum;
pub mod params;
pub mod random;
pub mod registry;
pub mod sizing;

pub use complete_set::{CompleteSet, CompleteSetMode, CompleteSetParams, LegAction, LegStats};
pub use fair_value::{FairValue, FairValueParams};
pub use market_maker::{MarketMaker, MarketMakerParams};
pub use ml_directional::{MlDirectional, MlDirectionalError, MlDirectionalParams};
pub use momentum::{Momentum, MomentumParams};
pub use polyedge_strategy::{
    Action, Ctx, Ledger, Leg, MarketView, Signal, Skip, Strategy, Strike, StrikeSource,
    WindowPhase, affected_windows, skip,
};
pub use random::{RandomBaseline, RandomParams, XorShift64, splitmix64};
pub use sizing::{SizingParams, kelly_fraction};
