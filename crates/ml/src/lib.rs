//! # polyedge-ml
//!
//! The directional model of issue 13, from the labelled feature dataset to a calibrated,
//! schema-checked model file.
//!
//! - [`dataset`] — the Parquet dataset `polyedge features` writes (one row per window and
//!   decision time) and reads back.
//! - [`cv`] — purged and embargoed walk-forward cross-validation by time, by window.
//! - [`models`] — gradient-boosted trees ([`forust_ml`], the XGBoost algorithm in pure Rust) and
//!   the logistic-regression baseline ([`linfa_logistic`]) behind one interface.
//! - [`isotonic`] — isotonic calibration (pool-adjacent-violators).
//! - [`score`] — Brier score and log loss with standard errors, clustered by window.
//! - [`train`] — the procedure of `polyedge train`: out-of-sample predictions, scores beside the
//!   Black–Scholes digital and the market mid on the same rows, gain and permutation importance.
//! - [`model_file`] — the model file: trees + calibration + feature schema + training span;
//!   refuses to load against a different schema.

pub mod cv;
pub mod dataset;
pub mod isotonic;
pub mod model_file;
pub mod models;
pub mod score;
pub mod train;

pub use dataset::{Dataset, Row};
pub use model_file::{DirectionalModel, TrainingSpan};
pub use train::{TrainConfig, TrainReport, train};

use std::path::Path;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// File I/O, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Parquet reading or writing.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Arrow.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A schema mismatch (dataset columns, model vs features).
    #[error("schema: {0}")]
    Schema(String),
    /// Data unusable for the requested operation.
    #[error("data: {0}")]
    Data(String),
    /// The tree learner failed.
    #[error("gradient boosting: {0}")]
    Gbt(String),
    /// The logistic regression failed.
    #[error("logistic regression: {0}")]
    Logistic(String),
}

impl MlError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        MlError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
