//! # polyedge-backtest
//!
//! `polyedge backtest`: runs strategies over recorded data through the same [`Engine`] and
//! strategy code that will run live, and reports — honestly — whether they make money after fees
//! and realistic fills, beside a random baseline.
//!
//! * [`config`] — the TOML configuration (`[engine]`, `[strategies.<name>]`, `run`, `seed`).
//! * [`runner`] — recordings → replay → engine (pass 1: strategies; pass 2: random twins).
//! * [`source`] — where the recordings are read: directories or ClickHouse.
//! * [`baseline`] — the random twin of each strategy.
//! * [`metrics`] — every figure of a strategy (definitions and conventions there and in
//!   `docs/backtest.md`).
//! * [`stats`] — bootstrap confidence intervals, the permutation test against the random twin,
//!   VaR/CVaR, drawdown duration and losing streaks.
//! * [`summary`] — `summary.json` (deterministic); [`fill_report`] — its fill-model, skip and
//!   merge sections.
//! * [`sweep`], [`sweep_files`], [`deflated`] — `polyedge sweep`: a strategy over a grid or a
//!   random sample of its parameters in parallel, shards and their merge, and the deflated
//!   Sharpe ratio.
//! * [`walkforward`] — `polyedge walk-forward`: parameters chosen in sample by the sweep,
//!   judged out of sample, fold by fold.
//! * [`tables`] — `trades.csv`, `equity.csv`, `windows.csv`.
//! * [`plots`] and [`html`] — the self-contained `report.html` with inline SVG plots.
//! * [`terminal`] — the summary table printed at the end of a run.
//! * [`report`] — writes the report directory.
//!
//! [`Engine`]: polyedge_engine::Engine

pub mod baseline;
pub mod config;
pub mod deflated;
pub mod fill_report;
pub mod html;
pub mod metrics;
pub mod plots;
pub mod report;
pub mod runner;
pub mod source;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod sweep_files;
pub mod tables;
pub mod terminal;
pub mod walkforward;

pub use config::{BacktestConfig, ConfigError};
pub use report::{REPORT_FILES, ReportError, write_report};
pub use runner::{Backtest, BacktestError, Inputs, run};
pub use source::ClickHouseSource;
pub use summary::Summary;
