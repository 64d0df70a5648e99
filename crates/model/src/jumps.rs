//! Merton jump parameters estimated from a price series, instead of a fixed illustrative
//! default: a **threshold (truncation) estimator** on standardized log returns.
//!
//! Each return `r` over `Δt` seconds is standardized as `z = r / √Δt` and compared with the
//! local diffusion volatility `σ̂`, an EWMA (decay [`BV_DECAY`] per return) of the bipower
//! products `(π/2)·|z_t|·|z_{t−1}|` — bipower variation, which an isolated jump does not inflate
//! (Barndorff-Nielsen & Shephard, "Power and bipower variation with stochastic volatility and
//! jumps", J. Financial Econometrics 2(1), 2004). A return with `|z| > k·σ̂`, `k =`
//! [`THRESHOLD_SD`], is counted as a jump of log size `r` (Mancini, "Non-parametric threshold
//! estimation for models with stochastic diffusion coefficient and jumps", Scand. J. Statist.
//! 36(2), 2009; the bipower-standardized test statistic of Lee & Mykland, "Jumps in financial
//! markets: a new nonparametric test and jump dynamics", Rev. Financial Studies 21(6), 2008).
//! Then
//!
//! ```text
//! λ̂ = jumps / seconds observed,   μ̂_J = mean(r | jump),   δ̂ = sample sd(r | jump)
//! ```
//!
//! (`δ̂ = |μ̂_J|` with a single jump). The first [`WARMUP`] returns only prime `σ̂`. A fit needs
//! at least [`MIN_JUMPS`] jumps. The estimate is an **expanding window** over everything fed so
//! far — online, it uses only data received before the instant priced.
//!
//! Caveats: the whole return is attributed to the jump (the diffusion part of that one return is
//! small at these thresholds); on coarse data (1-minute klines) several jumps within a minute
//! count as one, and `k = 4` trades missed small jumps against false ones from fat-tailed
//! diffusion.

use serde::{Deserialize, Serialize};

use crate::digital::MertonJumpDigital;
use crate::error::ModelError;

/// Jump threshold in local standard deviations.
pub const THRESHOLD_SD: f64 = 4.0;
/// EWMA decay per return of the bipower variance.
pub const BV_DECAY: f64 = 0.98;
/// Returns that only prime the local variance.
pub const WARMUP: u64 = 30;
/// Fewest jumps for a fit.
pub const MIN_JUMPS: u64 = 3;

/// A fitted set of jump parameters, with the counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JumpFit {
    /// Returns examined (after the warm-up).
    pub returns: u64,
    /// Of those, jumps.
    pub jumps: u64,
    /// Seconds covered by the examined returns.
    pub span_s: f64,
    /// λ̂, jumps per second.
    pub intensity_per_s: f64,
    /// μ̂_J, mean log jump.
    pub jump_mean: f64,
    /// δ̂, standard deviation of the log jump.
    pub jump_vol: f64,
}

impl JumpFit {
    /// The fitted jump-diffusion digital (driftless).
    ///
    /// # Errors
    /// As [`MertonJumpDigital::new`].
    pub fn merton(&self) -> Result<MertonJumpDigital, ModelError> {
        MertonJumpDigital::new(self.intensity_per_s, self.jump_mean, self.jump_vol)
    }
}

/// The online estimator (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JumpEstimator {
    seen: u64,
    bv: Option<f64>,
    prev_abs_z: Option<f64>,
    returns: u64,
    span_s: f64,
    jumps: u64,
    sum: f64,
    sum_sq: f64,
}

impl JumpEstimator {
    /// An empty estimator.
    pub fn new() -> Self {
        JumpEstimator::default()
    }

    /// Feeds one log return `r` over `dt_s` seconds (ignored unless both are finite and
    /// `dt_s > 0`).
    pub fn update(&mut self, r: f64, dt_s: f64) {
        if !(r.is_finite() && dt_s.is_finite() && dt_s > 0.0) {
            return;
        }
        let z = r / dt_s.sqrt();
        let az = z.abs();
        self.seen += 1;
        if self.seen > WARMUP
            && let Some(bv) = self.bv
        {
            self.returns += 1;
            self.span_s += dt_s;
            if az > THRESHOLD_SD * bv.sqrt() {
                self.jumps += 1;
                self.sum += r;
                self.sum_sq += r * r;
            }
        }
        if let Some(prev) = self.prev_abs_z {
            let x = std::f64::consts::FRAC_PI_2 * az * prev;
            self.bv = Some(match self.bv {
                None => x,
                Some(v) => BV_DECAY * v + (1.0 - BV_DECAY) * x,
            });
        }
        self.prev_abs_z = Some(az);
    }

    /// The fit so far, or `None` with fewer than [`MIN_JUMPS`] jumps.
    pub fn fit(&self) -> Option<JumpFit> {
        if self.jumps < MIN_JUMPS || self.span_s <= 0.0 {
            return None;
        }
        let n = self.jumps as f64;
        let mean = self.sum / n;
        let var = ((self.sum_sq - n * mean * mean) / (n - 1.0)).max(0.0);
        Some(JumpFit {
            returns: self.returns,
            jumps: self.jumps,
            span_s: self.span_s,
            intensity_per_s: n / self.span_s,
            jump_mean: mean,
            jump_vol: var.sqrt(),
        })
    }

    /// Jumps counted so far.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }
}

/// Fits jump parameters to `(log return, seconds)` pairs in time order (module docs).
pub fn fit_jumps(returns: &[(f64, f64)]) -> Option<JumpFit> {
    let mut e = JumpEstimator::new();
    for &(r, dt) in returns {
        e.update(r, dt);
    }
    e.fit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng as TestRng;

    #[test]
    fn recovers_planted_jumps() {
        // 1-second returns with σ = 5e-5 per √s, and a ±0.004 jump every 1000 s.
        let mut rng = TestRng::new(7);
        let mut v = Vec::new();
        let mut planted = 0;
        for i in 0..20_000u32 {
            let mut r = 5e-5 * rng.normal();
            if i % 1000 == 500 {
                r += if (i / 1000) % 2 == 0 { 0.004 } else { -0.002 };
                planted += 1;
            }
            v.push((r, 1.0));
        }
        let f = fit_jumps(&v).unwrap();
        assert!(
            f.jumps >= planted && f.jumps <= planted + 3,
            "{} jumps found, {planted} planted",
            f.jumps
        );
        // λ ≈ 1/1000 s, mean ≈ (0.004 − 0.002)/2, sd ≈ 0.003.
        assert!((f.intensity_per_s - 1e-3).abs() < 2e-4, "{f:?}");
        assert!((f.jump_mean - 0.001).abs() < 5e-4, "{f:?}");
        assert!((f.jump_vol - 0.003).abs() < 6e-4, "{f:?}");
        assert!(f.merton().is_ok());
        // Pure diffusion: (almost) no jumps, no fit.
        let mut rng = TestRng::new(3);
        let calm: Vec<(f64, f64)> = (0..5_000).map(|_| (5e-5 * rng.normal(), 1.0)).collect();
        assert!(fit_jumps(&calm).is_none_or(|f| f.jumps <= 3));
    }
}
