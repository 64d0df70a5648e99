//! The probabilistic and the deflated Sharpe ratio: how likely is a backtest's Sharpe ratio to
//! reflect a true Sharpe above a benchmark, given its sample length, the non-normality of its
//! returns, and — for the deflated ratio — how many configurations were tried to find it.
//!
//! Sources: D. H. Bailey & M. López de Prado, "The Sharpe Ratio Efficient Frontier", Journal of
//! Risk 15(2), 2012 (the probabilistic Sharpe ratio, PSR), and "The Deflated Sharpe Ratio:
//! Correcting for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
//! Management 40(5), 2014 (the DSR), eq. (1)–(2):
//!
//! ```text
//! PSR(SR*) = Φ( (SR̂ − SR*) · √(T − 1) / √(1 − γ̂₃·SR̂ + (γ̂₄ − 1)/4 · SR̂²) )
//! SR₀      = √V[SR̂ₙ] · ( (1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)) )
//! DSR      = PSR(SR₀)
//! ```
//!
//! with `SR̂` the per-observation (here: per-window, not annualized) Sharpe ratio of the
//! configuration, `T` its number of observations (windows), `γ̂₃` the skewness and `γ̂₄` the
//! (non-excess) kurtosis of its returns, `N` the number of configurations tried, `V[SR̂ₙ]` the
//! variance of their Sharpe ratios, `γ ≈ 0.5772` the Euler–Mascheroni constant and `Φ` the
//! standard normal distribution function (statrs). `SR₀` is the expected maximum Sharpe ratio
//! of `N` unskilled trials: a DSR above 0.95 says the best configuration's Sharpe ratio is
//! unlikely to be the luck of having tried `N`.
//!
//! Here `N` counts every configuration of the sweep. The configurations of a grid are strongly
//! correlated, so the number of *independent* trials is smaller and `SR₀` is then overstated:
//! the DSR as computed is conservative.

use statrs::distribution::{ContinuousCDF, Normal};

/// The Euler–Mascheroni constant.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Sample moments of a return series needed by the PSR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Observations.
    pub n: u64,
    /// Sharpe ratio: mean / sample standard deviation (n − 1).
    pub sharpe: f64,
    /// Skewness `m₃ / m₂^{3/2}` (population moments).
    pub skewness: f64,
    /// Kurtosis `m₄ / m₂²` (non-excess: 3 for a normal distribution).
    pub kurtosis: f64,
}

/// The moments of `x`, or `None` with fewer than 2 observations or zero variance.
pub fn moments(x: &[f64]) -> Option<Moments> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for v in x {
        let d = v - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let sd = (m2 / (nf - 1.0)).sqrt();
    let (m2, m3, m4) = (m2 / nf, m3 / nf, m4 / nf);
    if !(m2 > 0.0 && sd.is_finite()) {
        return None;
    }
    Some(Moments {
        n: n as u64,
        sharpe: mean / sd,
        skewness: m3 / m2.powf(1.5),
        kurtosis: m4 / (m2 * m2),
    })
}

fn std_normal() -> Normal {
    // Mean 0, sd 1 are valid parameters.
    Normal::standard()
}

/// The probabilistic Sharpe ratio `PSR(sr_star)` of a series with moments `m` (module docs);
/// `None` when `T < 2` or the variance term is not positive.
pub fn psr(m: &Moments, sr_star: f64) -> Option<f64> {
    if m.n < 2 {
        return None;
    }
    let sr = m.sharpe;
    let denom = 1.0 - m.skewness * sr + (m.kurtosis - 1.0) / 4.0 * sr * sr;
    if !(denom > 0.0 && denom.is_finite()) {
        return None;
    }
    let z = (sr - sr_star) * ((m.n - 1) as f64).sqrt() / denom.sqrt();
    Some(std_normal().cdf(z))
}

/// The expected maximum Sharpe ratio `SR₀` of `trials` unskilled configurations whose Sharpe
/// ratios have variance `var_sharpe` (module docs); 0 for fewer than 2 trials.
pub fn expected_max_sharpe(trials: u64, var_sharpe: f64) -> f64 {
    if trials < 2 || var_sharpe.is_nan() || var_sharpe <= 0.0 {
        return 0.0;
    }
    let n = trials as f64;
    let z = std_normal();
    var_sharpe.sqrt()
        * ((1.0 - EULER_GAMMA) * z.inverse_cdf(1.0 - 1.0 / n)
            + EULER_GAMMA * z.inverse_cdf(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// Sample variance (n − 1) of `x`; 0 with fewer than 2 values.
pub fn variance(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn moments_of_a_known_series() {
        let m = moments(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        // mean 2.5, sample sd √(5/3).
        assert!((m.sharpe - 2.5 / (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(m.skewness.abs() < 1e-12);
        // m2 = 1.25, m4 = (2·5.0625 + 2·0.0625)/4 = 2.5625 → 1.64.
        assert!((m.kurtosis - 1.64).abs() < 1e-12);
        assert!(moments(&[1.0, 1.0]).is_none());
    }

    #[test]
    fn psr_and_expected_max_match_the_papers_examples() {
        // Normal returns (skew 0, kurtosis 3): PSR(0) = Φ(SR·√(T−1)/√(1 + SR²/2)).
        let m = Moments {
            n: 101,
            sharpe: 0.1,
            skewness: 0.0,
            kurtosis: 3.0,
        };
        let want = std_normal().cdf(0.1 * 10.0 / (1.0f64 + 0.005).sqrt());
        assert!((psr(&m, 0.0).unwrap() - want).abs() < 1e-12);
        // The approximation of E[max of N standard normals]: for N = 100 the exact value is
        // 2.5076 (order-statistics tables); the formula gives ≈ 2.53.
        let sr0 = expected_max_sharpe(100, 1.0);
        assert!((sr0 - 2.5076).abs() < 0.05, "{sr0}");
        assert!((expected_max_sharpe(100, 4.0) - 2.0 * sr0).abs() < 1e-12);
        assert!(expected_max_sharpe(1, 1.0).abs() < f64::EPSILON);
        // More trials deflate more.
        assert!(expected_max_sharpe(1000, 1.0) > sr0);
        // A PSR against a higher benchmark is lower.
        assert!(psr(&m, 0.05).unwrap() < psr(&m, 0.0).unwrap());
    }
}
