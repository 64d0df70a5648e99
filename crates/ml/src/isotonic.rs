//! Isotonic calibration: a non-decreasing map from a raw score to a probability, fitted by the
//! pool-adjacent-violators algorithm (Ayer et al. 1955; Zadrozny & Elkan 2002 for classifier
//! calibration).
//!
//! Fit: sort the `(score, outcome)` pairs by score, pool equal scores, then merge adjacent blocks
//! while a block's mean outcome exceeds the next one's. Each block keeps its lowest and highest
//! score; prediction interpolates linearly between the blocks' end points and is constant beyond
//! the first and last (scikit-learn's `IsotonicRegression(out_of_bounds="clip")`), then clipped
//! to `[CLIP, 1 − CLIP]` so that one calibration block of all-Up or all-Down cannot produce a
//! certain forecast out of sample.
//!
//! Why not `linfa-linear`'s `IsotonicRegression`: it picks increasing or decreasing from the sign
//! of the correlation (a calibration map must be increasing whatever a fold shows) and builds its
//! breakpoints from the rows in input order rather than sorted order.

use serde::{Deserialize, Serialize};

use crate::MlError;

/// Output clip of the calibrated probability.
pub const CLIP: f64 = 0.005;

/// A fitted isotonic map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    /// Knot scores, non-decreasing.
    pub x: Vec<f64>,
    /// Knot probabilities, non-decreasing.
    pub y: Vec<f64>,
}

impl Isotonic {
    /// Fits the map to `(score, outcome)` pairs.
    ///
    /// # Errors
    /// [`MlError::Data`] for no pairs or a non-finite score.
    pub fn fit(pairs: &[(f64, bool)]) -> Result<Self, MlError> {
        if pairs.is_empty() {
            return Err(MlError::Data("isotonic fit: no pairs".into()));
        }
        if pairs.iter().any(|p| !p.0.is_finite()) {
            return Err(MlError::Data("isotonic fit: non-finite score".into()));
        }
        let mut v: Vec<(f64, f64)> = pairs
            .iter()
            .map(|&(s, o)| (s, if o { 1.0 } else { 0.0 }))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks: (x_lo, x_hi, sum_y, weight).
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::with_capacity(v.len());
        for (x, y) in v {
            match blocks.last_mut() {
                Some(b) if b.1.total_cmp(&x).is_eq() => {
                    b.2 += y;
                    b.3 += 1.0;
                }
                _ => blocks.push((x, x, y, 1.0)),
            }
            while blocks.len() >= 2 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.2 / a.3 <= b.2 / b.3 {
                    break;
                }
                blocks.truncate(n - 2);
                blocks.push((a.0, b.1, a.2 + b.2, a.3 + b.3));
            }
        }
        let mut x = Vec::with_capacity(2 * blocks.len());
        let mut y = Vec::with_capacity(2 * blocks.len());
        for (lo, hi, s, w) in blocks {
            let m = s / w;
            x.push(lo);
            y.push(m);
            if hi > lo {
                x.push(hi);
                y.push(m);
            }
        }
        Ok(Isotonic { x, y })
    }

    /// The calibrated probability of `score`, in `[CLIP, 1 − CLIP]`.
    pub fn predict(&self, score: f64) -> f64 {
        let p = self.raw(score);
        p.clamp(CLIP, 1.0 - CLIP)
    }

    fn raw(&self, s: f64) -> f64 {
        let n = self.x.len();
        if n == 0 {
            return 0.5;
        }
        if s.is_nan() {
            return 0.5;
        }
        if s <= self.x[0] {
            return self.y[0];
        }
        if s >= self.x[n - 1] {
            return self.y[n - 1];
        }
        let i = self.x.partition_point(|&k| k <= s); // x[i-1] ≤ s < x[i]
        let (x0, x1, y0, y1) = (self.x[i - 1], self.x[i], self.y[i - 1], self.y[i]);
        if x1 > x0 {
            y0 + (y1 - y0) * (s - x0) / (x1 - x0)
        } else {
            y1
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn pav_by_hand() {
        // Scores 1..=6 with outcomes 0,1,0,1,1,0: PAV pools (2,3) → 0.5 and (5,6) → 0.5, then
        // (4) = 1 > (5,6) = 0.5 pools to (4,5,6) = 2/3.
        let pairs: Vec<(f64, bool)> = [0, 1, 0, 1, 1, 0]
            .iter()
            .enumerate()
            .map(|(i, &o)| ((i + 1) as f64, o == 1))
            .collect();
        let m = Isotonic::fit(&pairs).unwrap();
        assert_eq!(m.x, vec![1.0, 2.0, 3.0, 4.0, 6.0]);
        let two_thirds = 2.0 / 3.0;
        assert_eq!(m.y, vec![0.0, 0.5, 0.5, two_thirds, two_thirds]);
        assert_eq!(m.predict(0.0), CLIP);
        assert_eq!(m.predict(2.5), 0.5);
        assert!((m.predict(3.5) - f64::midpoint(0.5, two_thirds)).abs() < 1e-12);
        assert_eq!(m.predict(100.0), two_thirds);
        // Monotone everywhere.
        let mut last = 0.0;
        for k in 0..700 {
            let p = m.predict(f64::from(k) / 100.0);
            assert!(p >= last);
            last = p;
        }
    }

    #[test]
    fn a_decreasing_relation_gives_a_flat_map_not_a_flipped_one() {
        let pairs = [(0.1, true), (0.2, true), (0.8, false), (0.9, false)];
        let m = Isotonic::fit(&pairs).unwrap();
        assert_eq!(m.predict(0.1), 0.5);
        assert_eq!(m.predict(0.9), 0.5);
        assert!(Isotonic::fit(&[]).is_err());
    }
}
