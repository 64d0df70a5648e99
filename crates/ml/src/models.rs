//! The two learners behind one interface: rows of `f64` features (`NaN` = missing) → `P(Up)`.
//!
//! * [`Gbt`] — gradient-boosted trees with the log-loss objective, [`forust_ml`] 0.8 (the
//!   XGBoost algorithm, pure Rust: no C++ toolchain, no system library, a few seconds to build).
//!   Missing values are native: each split learns which side `NaN` goes to.
//! * [`Logistic`] — L2-regularized logistic regression, [`linfa_logistic`] (L-BFGS). Inputs are
//!   standardized with the training rows' mean and standard deviation; a missing value is
//!   replaced by the training mean (0 after standardizing) and, for every feature missing in some
//!   training row, a 0/1 "present" indicator is added, so missing never reads as a real value.
//!   Features constant (or absent) in the training rows are left out.

use forust_ml::gradientbooster::ImportanceMethod;
use forust_ml::{GradientBooster, Matrix};
use linfa::prelude::DatasetBase;
use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::MlError;

/// Row-major feature matrix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// `n × p` values, row after row.
    pub data: Vec<f64>,
    /// Number of columns `p`.
    pub cols: usize,
}

impl Rows {
    /// An empty matrix of `cols` columns.
    pub fn new(cols: usize) -> Self {
        Rows {
            data: Vec::new(),
            cols,
        }
    }

    /// Appends a row (must have `cols` values).
    pub fn push(&mut self, row: &[f64]) {
        debug_assert_eq!(row.len(), self.cols);
        self.data.extend_from_slice(row);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.cols).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    fn column_major(&self) -> Vec<f64> {
        let n = self.len();
        let mut out = vec![0.0; n * self.cols];
        for i in 0..n {
            for j in 0..self.cols {
                out[j * n + i] = self.data[i * self.cols + j];
            }
        }
        out
    }
}

/// Settings of the tree learner (defaults: shallow, slow learning, for a few thousand rows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbtParams {
    /// Number of trees.
    pub iterations: usize,
    /// Shrinkage per tree.
    pub learning_rate: f32,
    /// Maximum depth of a tree.
    pub max_depth: usize,
    /// Minimum sum of hessians `p(1 − p)` in a leaf (≈ rows/4 near `p = ½`).
    pub min_leaf_weight: f32,
    /// L2 penalty on leaf weights.
    pub l2: f32,
    /// Seed of the learner.
    pub seed: u64,
}

impl Default for GbtParams {
    fn default() -> Self {
        GbtParams {
            iterations: 150,
            learning_rate: 0.05,
            max_depth: 3,
            min_leaf_weight: 10.0,
            l2: 1.0,
            seed: 0,
        }
    }
}

/// A fitted tree ensemble.
pub struct Gbt {
    booster: GradientBooster,
    cols: usize,
}

impl std::fmt::Debug for Gbt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gbt")
            .field("trees", &self.booster.trees.len())
            .field("cols", &self.cols)
            .finish()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Gbt {
    /// Fits on `x` and labels `y` (`true` = Up).
    ///
    /// # Errors
    /// No rows, or an error of the learner.
    pub fn fit(x: &Rows, y: &[bool], p: &GbtParams) -> Result<Self, MlError> {
        if x.is_empty() || x.len() != y.len() {
            return Err(MlError::Data(format!(
                "gbt fit: {} rows, {} labels",
                x.len(),
                y.len()
            )));
        }
        let data = x.column_major();
        let m = Matrix::new(&data, x.len(), x.cols);
        let yv: Vec<f64> = y.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
        let mut booster = GradientBooster::default()
            .set_iterations(p.iterations)
            .set_learning_rate(p.learning_rate)
            .set_max_depth(p.max_depth)
            .set_min_leaf_weight(p.min_leaf_weight)
            .set_l2(p.l2)
            .set_seed(p.seed)
            .set_parallel(false);
        booster
            .fit_unweighted(&m, &yv, None)
            .map_err(|e| MlError::Gbt(e.to_string()))?;
        Ok(Gbt {
            booster,
            cols: x.cols,
        })
    }

    /// `P(Up)` of every row.
    pub fn predict(&self, x: &Rows) -> Vec<f64> {
        if x.is_empty() {
            return Vec::new();
        }
        let data = x.column_major();
        let m = Matrix::new(&data, x.len(), x.cols);
        self.booster
            .predict(&m, false)
            .into_iter()
            .map(sigmoid)
            .collect()
    }

    /// `P(Up)` of one row.
    pub fn predict_one(&self, row: &[f64]) -> f64 {
        let m = Matrix::new(row, 1, row.len());
        self.booster
            .predict(&m, false)
            .first()
            .copied()
            .map_or(0.5, sigmoid)
    }

    /// Average split gain per feature (forust's `Gain`), normalized to sum to 1; features never
    /// split on are absent.
    pub fn gain_importance(&self) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = self
            .booster
            .calculate_feature_importance(ImportanceMethod::Gain, true)
            .into_iter()
            .map(|(k, g)| (k, f64::from(g)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// The ensemble as forust's JSON.
    ///
    /// # Errors
    /// A serialization error of the learner.
    pub fn to_json(&self) -> Result<String, MlError> {
        self.booster
            .json_dump()
            .map_err(|e| MlError::Gbt(e.to_string()))
    }

    /// An ensemble from forust's JSON, for `cols` features.
    ///
    /// # Errors
    /// Malformed JSON.
    pub fn from_json(json: &str, cols: usize) -> Result<Self, MlError> {
        let booster = GradientBooster::from_json(json).map_err(|e| MlError::Gbt(e.to_string()))?;
        Ok(Gbt { booster, cols })
    }

    /// Number of features.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// A fitted logistic regression with its input transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    /// Feature columns used.
    pub used: Vec<usize>,
    /// Training mean of each used column.
    pub mean: Vec<f64>,
    /// Training standard deviation of each used column.
    pub sd: Vec<f64>,
    /// For each used column, whether a presence indicator follows it.
    pub indicator: Vec<bool>,
    /// Coefficients on the transformed inputs.
    pub coef: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl Logistic {
    /// Fits with L2 penalty `alpha` (on the summed log loss, intercept unpenalized).
    ///
    /// # Errors
    /// No rows, one class only, or a solver error.
    pub fn fit(x: &Rows, y: &[bool], alpha: f64) -> Result<Self, MlError> {
        let n = x.len();
        if n == 0 || n != y.len() {
            return Err(MlError::Data(format!("logistic fit: {n} rows")));
        }
        let (mut used, mut mean, mut sd, mut indicator) = (vec![], vec![], vec![], vec![]);
        for j in 0..x.cols {
            let vals: Vec<f64> = (0..n)
                .map(|i| x.row(i)[j])
                .filter(|v| v.is_finite())
                .collect();
            if vals.len() < 2 {
                continue;
            }
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (vals.len() - 1) as f64;
            if var.is_nan() || var <= 1e-24 {
                continue;
            }
            used.push(j);
            mean.push(m);
            sd.push(var.sqrt());
            indicator.push(vals.len() < n);
        }
        let mut l = Logistic {
            used,
            mean,
            sd,
            indicator,
            coef: Vec::new(),
            intercept: 0.0,
        };
        let width = l.width();
        let mut flat = Vec::with_capacity(n * width);
        for i in 0..n {
            l.transform(x.row(i), &mut flat);
        }
        let xa = Array2::from_shape_vec((n, width), flat)
            .map_err(|e| MlError::Logistic(e.to_string()))?;
        let ya: Array1<usize> = y.iter().map(|&b| usize::from(b)).collect();
        let ds = DatasetBase::new(xa, ya);
        let fit = LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(200)
            .fit(&ds)
            .map_err(|e| MlError::Logistic(e.to_string()))?;
        // linfa's "positive" class is the more frequent label (not the larger one, whatever its
        // docs say): flip the signs when that is Down so the model always gives P(Up).
        let sign = if fit.labels().pos.class == 1 {
            1.0
        } else {
            -1.0
        };
        l.coef = fit.params().iter().map(|c| sign * c).collect();
        l.intercept = sign * fit.intercept();
        Ok(l)
    }

    fn width(&self) -> usize {
        self.used.len() + self.indicator.iter().filter(|&&b| b).count()
    }

    fn transform(&self, row: &[f64], out: &mut Vec<f64>) {
        for (k, &j) in self.used.iter().enumerate() {
            let v = row[j];
            let present = v.is_finite();
            out.push(if present {
                (v - self.mean[k]) / self.sd[k]
            } else {
                0.0
            });
            if self.indicator[k] {
                out.push(if present { 1.0 } else { 0.0 });
            }
        }
    }

    /// `P(Up)` of one row.
    pub fn predict_one(&self, row: &[f64]) -> f64 {
        let mut t = Vec::with_capacity(self.width());
        self.transform(row, &mut t);
        let z: f64 = self.intercept + t.iter().zip(&self.coef).map(|(a, b)| a * b).sum::<f64>();
        sigmoid(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A separable-ish synthetic problem: y = 1 when x0 + noise > 0; x1 is noise; x2 is missing
    /// half the time and informative when present.
    fn data(n: usize) -> (Rows, Vec<bool>) {
        let mut x = Rows::new(3);
        let mut y = Vec::new();
        let mut s: u64 = 42;
        let mut rnd = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        };
        for i in 0..n {
            let a = rnd();
            let b = rnd();
            let noise = rnd() * 0.5;
            let up = a + noise > 0.0;
            let c = if i % 2 == 0 {
                f64::NAN
            } else if up {
                1.0
            } else {
                -1.0
            };
            x.push(&[a, b, c]);
            y.push(up);
        }
        (x, y)
    }

    fn accuracy(p: &[f64], y: &[bool]) -> f64 {
        p.iter().zip(y).filter(|(p, y)| (**p > 0.5) == **y).count() as f64 / y.len() as f64
    }

    #[test]
    fn both_learners_beat_chance_and_use_missing_values_sensibly() {
        let (x, y) = data(2_000);
        let (xt, yt) = data(500);
        let g = Gbt::fit(&x, &y, &GbtParams::default()).unwrap();
        let pg = g.predict(&xt);
        assert!(accuracy(&pg, &yt) > 0.8, "gbt {}", accuracy(&pg, &yt));
        assert!((g.predict_one(xt.row(3)) - pg[3]).abs() < 1e-12);
        // The informative features carry the gain.
        let imp = g.gain_importance();
        assert!(imp[0].0 == 0 || imp[0].0 == 2, "{imp:?}");
        let json = g.to_json().unwrap();
        let back = Gbt::from_json(&json, 3).unwrap();
        assert_eq!(back.predict(&xt), pg);

        let l = Logistic::fit(&x, &y, 1.0).unwrap();
        assert_eq!(l.used, vec![0, 1, 2]);
        assert_eq!(l.indicator, vec![false, false, true]);
        let pl: Vec<f64> = (0..xt.len()).map(|i| l.predict_one(xt.row(i))).collect();
        assert!(accuracy(&pl, &yt) > 0.8, "logistic {}", accuracy(&pl, &yt));
        assert!(l.coef[0] > 0.0);
    }

    #[test]
    fn one_class_is_an_error_for_the_logistic() {
        let mut x = Rows::new(1);
        x.push(&[1.0]);
        x.push(&[2.0]);
        assert!(Logistic::fit(&x, &[true, true], 1.0).is_err());
    }
}
