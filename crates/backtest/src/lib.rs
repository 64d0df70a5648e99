//! # polyedge-backtest
//!
//! `polyedge backtest`: runs strategies over recorded data through the same [`Engine`] and
//! strategy code that will run live, and reports — honestly — whether they make money after fees
//! and realistic fills, beside a random baseline.
//!
//! * [`config`] — the TOML configuration (`[engine]`, `[strategies.<name>]`, `run`, `seed`).
//! * [`runner`] — recordings → replay → engine (pass 1: strategies; pass 2: random twins).
//! * [`baseline`] — the random twin of each strategy.
//! * [`metrics`] — every figure of a strategy (definitions and conventions there and in
//!   `docs/backtest.md`).
//! * [`summary`] — `summary.json` (deterministic); [`fill_report`] — its fill-model, skip and
//!   merge sections.
//! * [`tables`] — `trades.csv`, `equity.csv`, `windows.csv`.
//! * [`plots`] and [`html`] — the self-contained `report.html` with inline SVG plots.
//! * [`terminal`] — the summary table printed at the end of a run.
//! * [`report`] — writes the report directory.
//!
//! [`Engine`]: polyedge_engine::Engine

pub mod baseline;
pub mod config;
pub mod fill_report;
pub mod html;
pub mod metrics;
pub mod plots;
pub mod report;
pub mod runner;
pub mod summary;
pub mod tables;
pub mod terminal;

pub use config::{BacktestConfig, ConfigError};
pub use report::{REPORT_FILES, ReportError, write_report};
pub use runner::{Backtest, BacktestError, Inputs, run};
pub use summary::Summary;
