//! Recalibration of probability forecasts: a monotone map `p → p'` fitted on past forecasts
//! and their outcomes, so that among forecasts of `p'` the event happens a fraction `p'` of
//! the time.
//!
//! * [`Isotonic`] — isotonic regression by pool-adjacent-violators (Ayer, Brunk, Ewing, Reid &
//!   Silverman, "An empirical distribution function for sampling with incomplete information",
//!   Ann. Math. Statist. 26(4), 1955; used for probability calibration by Zadrozny & Elkan,
//!   "Transforming classifier scores into accurate multiclass probability estimates", KDD 2002):
//!   the non-decreasing step function of `p` closest to the 0/1 outcomes in squared error. We
//!   predict by linear interpolation between the fitted blocks' mean forecasts (flat beyond the
//!   ends), as scikit-learn's `IsotonicRegression(out_of_bounds="clip")` does.
//! * [`Platt`] — Platt scaling on the log-odds: `p' = σ(a·logit(p) + b)`, fitted by Newton's
//!   method on the Bernoulli log-likelihood with Platt's smoothed targets `(N₊ + 1)/(N₊ + 2)`
//!   and `1/(N₋ + 2)` (J. Platt, "Probabilistic outputs for support vector machines", 1999;
//!   H.-T. Lin, C.-J. Lin & R. Weng, "A note on Platt's probabilistic outputs for support
//!   vector machines", Machine Learning 68, 2007, for the Newton iteration with backtracking).
//!   Two parameters: it corrects over- or under-confidence (`a`) and a bias (`b`), and needs
//!   far fewer points than the isotonic map.
//!
//! Written here rather than taken from a crate: the Rust isotonic crates found are LGPL
//! (`pav_regression`) or part of large ML frameworks (`linfa`, `sklears`) for two small fits.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Forecasts are clamped to `[EPS, 1 − EPS]` before taking log-odds.
const EPS: f64 = 1e-6;

fn check(points: &[(f64, bool)], needed: usize) -> Result<(), ModelError> {
    if points.len() < needed {
        return Err(ModelError::InsufficientData {
            needed,
            got: points.len(),
        });
    }
    if let Some((p, _)) = points.iter().find(|(p, _)| !(0.0..=1.0).contains(p)) {
        return Err(ModelError::OutOfDomain {
            name: "probability",
            value: *p,
            expected: "in [0, 1]",
        });
    }
    Ok(())
}

/// A fitted isotonic map: block knots `(mean forecast, frequency)`, increasing in both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    /// `(x, y)` of each block: mean forecast and fitted (pooled) frequency.
    pub knots: Vec<(f64, f64)>,
}

impl Isotonic {
    /// Fits the map to `(forecast, outcome)` pairs by pool-adjacent-violators.
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] for fewer than 2 points; [`ModelError::OutOfDomain`]
    /// for a forecast outside `[0, 1]`.
    pub fn fit(points: &[(f64, bool)]) -> Result<Self, ModelError> {
        check(points, 2)?;
        let mut sorted: Vec<(f64, f64)> = points
            .iter()
            .map(|&(p, y)| (p, f64::from(u8::from(y))))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks: (Σx, Σy, n). Equal forecasts start in one block (ties pooled).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for (x, y) in sorted {
            match blocks.last_mut() {
                Some(b) if (b.0 / b.2 - x).abs() < 1e-15 => {
                    b.0 += x;
                    b.1 += y;
                    b.2 += 1.0;
                }
                _ => blocks.push((x, y, 1.0)),
            }
            // Pool while the last block's mean is below the previous one's.
            while blocks.len() >= 2 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.1 / a.2 <= b.1 / b.2 {
                    break;
                }
                blocks.pop();
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
            }
        }
        Ok(Isotonic {
            knots: blocks.iter().map(|b| (b.0 / b.2, b.1 / b.2)).collect(),
        })
    }

    /// The recalibrated forecast of `p` (linear between knots, flat beyond the ends).
    pub fn apply(&self, p: f64) -> f64 {
        let k = &self.knots;
        let Some(first) = k.first() else { return p };
        if p <= first.0 {
            return first.1;
        }
        let i = k.partition_point(|q| q.0 <= p);
        if i >= k.len() {
            return k[k.len() - 1].1;
        }
        let (a, b) = (k[i - 1], k[i]);
        if b.0 - a.0 <= 0.0 {
            return b.1;
        }
        a.1 + (b.1 - a.1) * (p - a.0) / (b.0 - a.0)
    }
}

/// Platt scaling `p' = σ(a·logit(p) + b)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope on the log-odds (1: no change of confidence).
    pub a: f64,
    /// Intercept (0: no bias).
    pub b: f64,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Platt {
    /// Fits `a, b` to `(forecast, outcome)` pairs (module docs).
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] for fewer than 2 points; [`ModelError::OutOfDomain`]
    /// for a forecast outside `[0, 1]`; [`ModelError::FitFailed`] if Newton's method does not
    /// converge.
    pub fn fit(points: &[(f64, bool)]) -> Result<Self, ModelError> {
        check(points, 2)?;
        let pos = points.iter().filter(|p| p.1).count() as f64;
        let neg = points.len() as f64 - pos;
        let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
        let data: Vec<(f64, f64)> = points
            .iter()
            .map(|&(p, y)| (logit(p), if y { hi } else { lo }))
            .collect();
        // Negative log-likelihood with targets t: Σ −t·ln σ(f) − (1−t)·ln(1−σ(f)), f = a·x + b.
        let nll = |a: f64, b: f64| -> f64 {
            data.iter()
                .map(|&(x, t)| {
                    let f = a * x + b;
                    // ln(1 + e^{−f}) computed stably.
                    let l1p = |z: f64| {
                        if z > 0.0 {
                            z + (-z).exp().ln_1p()
                        } else {
                            z.exp().ln_1p()
                        }
                    };
                    t * l1p(-f) + (1.0 - t) * l1p(f)
                })
                .sum()
        };
        let (mut a, mut b) = (1.0, 0.0);
        let mut f = nll(a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
            for &(x, t) in &data {
                let p = sigmoid(a * x + b);
                let d = p - t;
                let w = p * (1.0 - p);
                ga += d * x;
                gb += d;
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            if ga.abs() < 1e-10 && gb.abs() < 1e-10 {
                return Ok(Platt { a, b });
            }
            let det = haa * hbb - hab * hab;
            if det.abs() <= 0.0 || det.is_nan() {
                break;
            }
            let da = -(hbb * ga - hab * gb) / det;
            let db = -(haa * gb - hab * ga) / det;
            let mut step = 1.0;
            let mut moved = false;
            while step > 1e-10 {
                let (na, nb) = (a + step * da, b + step * db);
                let nf = nll(na, nb);
                if nf.is_finite() && nf <= f + 1e-4 * step * (ga * da + gb * db) {
                    a = na;
                    b = nb;
                    moved = (f - nf).abs() > 0.0;
                    f = nf;
                    break;
                }
                step /= 2.0;
            }
            if !moved {
                return Ok(Platt { a, b });
            }
        }
        if a.is_finite() && b.is_finite() {
            Ok(Platt { a, b })
        } else {
            Err(ModelError::FitFailed {
                reason: "Platt scaling did not converge",
            })
        }
    }

    /// The recalibrated forecast of `p`.
    pub fn apply(&self, p: f64) -> f64 {
        sigmoid(self.a * logit(p) + self.b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        // Outcomes 0,1,0,1 at increasing p: the middle pair violates and is pooled to 0.5.
        let pts = [(0.1, false), (0.3, true), (0.5, false), (0.9, true)];
        let m = Isotonic::fit(&pts).unwrap();
        assert_eq!(m.knots, vec![(0.1, 0.0), (0.4, 0.5), (0.9, 1.0)]);
        assert!(m.apply(0.0).abs() < 1e-12);
        assert!((m.apply(0.25) - 0.25).abs() < 1e-12); // halfway between 0.1 and 0.4
        assert!((m.apply(0.95) - 1.0).abs() < 1e-12);
        // Monotone on a grid.
        let mut last = -1.0;
        for k in 0..=100 {
            let v = m.apply(f64::from(k) / 100.0);
            assert!(v >= last);
            last = v;
        }
        assert!(Isotonic::fit(&[(0.2, true)]).is_err());
        assert!(Isotonic::fit(&[(1.2, true), (0.1, false)]).is_err());
    }

    #[test]
    fn platt_corrects_overconfidence() {
        // A forecaster that says 0.9 / 0.1 but is right only 70 % of the time.
        let mut pts = Vec::new();
        for i in 0..100 {
            pts.push((0.9, i % 10 < 7));
            pts.push((0.1, i % 10 >= 7));
        }
        let m = Platt::fit(&pts).unwrap();
        assert!(m.a > 0.0 && m.a < 1.0, "{m:?}");
        let hi = m.apply(0.9);
        assert!((hi - 0.7).abs() < 0.02, "{hi}");
        assert!((m.apply(0.1) - 0.3).abs() < 0.02);
        // A calibrated forecaster is left (almost) alone.
        let mut cal = Vec::new();
        for i in 0..1000 {
            cal.push((0.8, i % 10 < 8));
            cal.push((0.2, i % 10 < 2));
        }
        let m = Platt::fit(&cal).unwrap();
        assert!((m.apply(0.8) - 0.8).abs() < 0.01, "{m:?}");
    }
}
