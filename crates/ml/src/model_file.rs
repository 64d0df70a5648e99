//! The model file: a JSON document with the tree ensemble, its isotonic calibration, the
//! feature schema it was trained on and the training span.
//!
//! [`DirectionalModel::load`] refuses a file whose feature names (in order) or schema hash differ
//! from the ones the caller's feature engine produces, naming the first difference, so a model
//! can never be fed vectors of another schema. [`DirectionalModel::load_for_engine`] checks
//! against `polyedge_features`' current schema.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::isotonic::Isotonic;
use crate::models::{Gbt, GbtParams};

/// `format` of a model file.
pub const FORMAT: &str = "polyedge-directional-model";
/// Version of the file layout.
pub const VERSION: u32 = 1;

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpan {
    /// First window start (RFC 3339).
    pub from: String,
    /// Last window end (RFC 3339).
    pub to: String,
    /// Windows.
    pub windows: usize,
    /// Rows (windows × decision times).
    pub rows: usize,
    /// Decision times (seconds left).
    pub decision_times_s: Vec<u32>,
    /// Recordings.
    pub recordings: Vec<String>,
    /// Rows by outcome source.
    pub outcome_sources: BTreeMap<String, usize>,
}

/// The serialized model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelDoc {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Feature names in input order.
    pub feature_names: Vec<String>,
    /// Schema hash of the features (`polyedge_features::schema_hash`).
    pub schema_hash: String,
    /// Training span.
    pub training: TrainingSpan,
    /// Learner settings.
    pub params: GbtParams,
    /// The ensemble (forust JSON).
    pub gbt: String,
    /// Calibration of the ensemble's output (`None`: used raw).
    pub isotonic: Option<Isotonic>,
}

/// A loaded model: `P(Up)` from a feature row.
#[derive(Debug)]
pub struct DirectionalModel {
    doc: ModelDoc,
    gbt: Gbt,
}

impl DirectionalModel {
    /// Builds a model from its parts.
    ///
    /// # Errors
    /// The ensemble cannot be serialized.
    pub fn new(
        feature_names: Vec<String>,
        schema_hash: String,
        training: TrainingSpan,
        params: GbtParams,
        gbt: Gbt,
        isotonic: Option<Isotonic>,
    ) -> Result<Self, MlError> {
        let doc = ModelDoc {
            format: FORMAT.into(),
            version: VERSION,
            feature_names,
            schema_hash,
            training,
            params,
            gbt: gbt.to_json()?,
            isotonic,
        };
        Ok(DirectionalModel { doc, gbt })
    }

    /// The document (schema, span, parameters).
    pub fn doc(&self) -> &ModelDoc {
        &self.doc
    }

    /// Calibrated `P(Up)` of a row in the model's feature order (`NaN` = missing).
    ///
    /// # Errors
    /// A row of the wrong length.
    pub fn predict(&self, row: &[f64]) -> Result<f64, MlError> {
        if row.len() != self.doc.feature_names.len() {
            return Err(MlError::Schema(format!(
                "row has {} features, the model {}",
                row.len(),
                self.doc.feature_names.len()
            )));
        }
        let raw = self.gbt.predict_one(row);
        Ok(self.doc.isotonic.as_ref().map_or(raw, |c| c.predict(raw)))
    }

    /// Writes the model as JSON.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self, path: &Path) -> Result<(), MlError> {
        let text = serde_json::to_string_pretty(&self.doc)?;
        std::fs::write(path, text).map_err(|e| MlError::io(path, e))
    }

    /// Loads a model and checks it was trained on exactly `names` (in order) with `schema_hash`.
    ///
    /// # Errors
    /// I/O, JSON, a foreign file, or a schema mismatch (the message names the difference).
    pub fn load(path: &Path, names: &[&str], schema_hash: &str) -> Result<Self, MlError> {
        let text = std::fs::read_to_string(path).map_err(|e| MlError::io(path, e))?;
        let doc: ModelDoc = serde_json::from_str(&text)?;
        if doc.format != FORMAT || doc.version != VERSION {
            return Err(MlError::Schema(format!(
                "{}: not a {FORMAT} v{VERSION} file (format {:?} v{})",
                path.display(),
                doc.format,
                doc.version
            )));
        }
        if let Some(diff) = schema_difference(&doc.feature_names, names) {
            return Err(MlError::Schema(format!(
                "{}: trained on a different feature schema ({diff}); retrain the model",
                path.display()
            )));
        }
        if doc.schema_hash != schema_hash {
            return Err(MlError::Schema(format!(
                "{}: schema hash {} differs from the features' {schema_hash} (a definition changed); retrain the model",
                path.display(),
                doc.schema_hash
            )));
        }
        let gbt = Gbt::from_json(&doc.gbt, doc.feature_names.len())?;
        Ok(DirectionalModel { doc, gbt })
    }

    /// A model over the current `polyedge_features` schema fitted (default [`GbtParams`], no
    /// calibration) on rows where only column `feature` is present, with values `xs` and labels
    /// `up` (every other column missing), declared trained at `decision_times_s` (seconds
    /// left). For tests and examples of the model file and the strategy that trades it, where
    /// the model's answer must be known: real models come from [`crate::train`].
    ///
    /// # Errors
    /// `xs` and `up` of different lengths or empty, a `feature` outside the schema, or the
    /// learner's error.
    pub fn one_feature(
        feature: usize,
        xs: &[f64],
        up: &[bool],
        decision_times_s: Vec<u32>,
    ) -> Result<Self, MlError> {
        let names = polyedge_features::schema_names();
        if feature >= names.len() {
            return Err(MlError::Data(format!(
                "feature {feature}: the schema has {} columns",
                names.len()
            )));
        }
        let mut x = crate::models::Rows::new(names.len());
        for &v in xs {
            let mut row = vec![f64::NAN; names.len()];
            row[feature] = v;
            x.push(&row);
        }
        let params = GbtParams::default();
        let gbt = Gbt::fit(&x, up, &params)?;
        Self::new(
            names.iter().map(|s| (*s).to_string()).collect(),
            polyedge_features::schema_hash(),
            TrainingSpan {
                from: String::new(),
                to: String::new(),
                windows: xs.len(),
                rows: xs.len(),
                decision_times_s,
                recordings: Vec::new(),
                outcome_sources: BTreeMap::new(),
            },
            params,
            gbt,
            None,
        )
    }

    /// [`Self::load`] against the current `polyedge_features` schema.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_for_engine(path: &Path) -> Result<Self, MlError> {
        Self::load(
            path,
            &polyedge_features::schema_names(),
            &polyedge_features::schema_hash(),
        )
    }
}

/// The first difference between a model's feature list and the expected one, in words.
fn schema_difference(model: &[String], expected: &[&str]) -> Option<String> {
    for (i, (m, e)) in model.iter().zip(expected).enumerate() {
        if m != e {
            return Some(format!("column {i}: model has {m:?}, features have {e:?}"));
        }
    }
    match model.len().cmp(&expected.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some(format!(
            "the features have {} more columns, first {:?}",
            expected.len() - model.len(),
            expected[model.len()]
        )),
        std::cmp::Ordering::Greater => Some(format!(
            "the model has {} more columns, first {:?}",
            model.len() - expected.len(),
            model[expected.len()]
        )),
    }
}
