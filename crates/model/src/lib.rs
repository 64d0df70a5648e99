//! # polyedge-model
//!
//! Fair-value models, volatility estimators and calibration metrics for Polymarket crypto
//! Up/Down windows (a window pays $1 to Up if the Chainlink price at its end is ≥ the price at
//! its start).
//!
//! - [`digital`] — `P(Up)` as a cash-or-nothing digital: Black–Scholes `N(d2)` and Merton
//!   jump-diffusion, behind the [`FairValueModel`] trait.
//! - [`vol`] — per-second variance estimators: EWMA, realized variance, Parkinson,
//!   Garman–Klass, GARCH(1,1) with forecasts; [`VolEstimate`] is the model input. All of
//!   them, and Deribit's DVOL, are selectable online as [`VolMethod`].
//! - [`online`] — reference price series built event by event (preference and freshness rules,
//!   strike, volatility) and `P(Up)` of a window at any instant from data received so far: the
//!   one implementation `polyedge calibrate` and the strategies share.
//! - [`jumps`] — Merton jump parameters estimated from a price series (threshold estimator).
//! - [`recalibration`] — isotonic regression and Platt scaling of probability forecasts.
//! - [`calibration`] — Brier score, log loss, reliability tables with Wilson intervals, and a
//!   [`Scorecard`] comparing forecasters on the same snapshots.
//!
//! # Units
//! Prices in USD (`f64`; only ratios matter), times in seconds (`f64`) or [`UnixNanos`],
//! variances per second (1/s) and volatilities per √second unless a name says `annual`; the
//! annualizing year is [`SECONDS_PER_YEAR`] = 365 × 24 × 3600 s since crypto trades 24/7.
//! Probabilities are `f64` in `[0, 1]`. Money is not handled here (see `polyedge-core`).
//!
//! # Example
//! ```
//! use polyedge_model::{BlackScholesDigital, Ewma, FairValueModel, PricePoint, VolEstimate};
//! use polyedge_core::UnixNanos;
//!
//! // Volatility from a tick stream (here: a fixed 60 % annualized for brevity).
//! let mut ewma = Ewma::new(0.99)?;
//! ewma.update(PricePoint::new(UnixNanos::from_secs(1_776_081_600), 100_000.0))?;
//! ewma.update(PricePoint::new(UnixNanos::from_secs(1_776_081_601), 100_004.0))?;
//! assert!(ewma.estimate().is_some());
//! let vol = VolEstimate::from_annualized(0.6)?;
//!
//! // 2 minutes left, spot $50 above the price to beat.
//! let p_up = BlackScholesDigital::default().p_up(100_050.0, 100_000.0, 120.0, &vol)?;
//! assert!(p_up > 0.6 && p_up < 0.7);
//! # Ok::<(), polyedge_model::ModelError>(())
//! ```
//!
//! [`UnixNanos`]: polyedge_core::UnixNanos

pub mod calibration;
pub mod digital;
pub mod error;
pub mod jumps;
pub mod online;
mod optim;
pub mod recalibration;
#[cfg(test)]
mod test_rng;
pub mod vol;

pub use calibration::{
    ForecasterScore, LOG_LOSS_CLIP, PairedComparison, ReliabilityBin, ScoreRow, Scorecard,
    brier_score, log_loss, reliability_table, seconds_left_bucket, wilson_interval,
};
pub use digital::{
    BlackScholesDigital, FairValueModel, MertonJumpDigital, bs_digital_up, merton_digital_up,
    seconds_left,
};
pub use error::ModelError;
pub use jumps::{JumpEstimator, JumpFit, fit_jumps};
pub use online::{
    Estimate, EstimateSpec, ModelChoice, OnlineConfig, OnlineFairValue, Pricing, RefSeries,
    ReferenceSet, SeriesConfig, SeriesKind, SkipReason, StrikeSource, VolMethod,
};
pub use recalibration::{Isotonic, Platt};
pub use vol::{
    Bar, Ewma, Garch11, GarchFit, GarchParams, LogReturn, PricePoint, RealizedVar,
    SECONDS_PER_YEAR, VolEstimate, annualize_var, annualize_vol, bars_from_points, deannualize_var,
    deannualize_vol, ewma_var_per_s, garman_klass_var_per_s, log_returns, parkinson_var_per_s,
    realized_var, realized_var_per_s, realized_vars,
};
