//! Fair value of an Up/Down window: the probability that the settlement price ends at or above
//! the window's opening price, priced as a cash-or-nothing digital option.
//!
//! # Conventions
//! - `spot` S and `strike` K in USD (> 0; any common positive unit works, only `ln(S/K)` enters).
//!   The strike is the window's "price to beat" ([`Window::strike`]).
//! - `tau_s` τ: seconds until the window ends (≥ 0); see [`seconds_left`].
//! - Volatility: a [`VolEstimate`], the mean per-second variance `v = σ²` (1/s) of log returns
//!   over the remaining window.
//! - Drift μ: per second, the drift of the **price** (`dS = μS dt + σS dW`), 0 by default, so
//!   that `S` is a martingale and `ln S` drifts down by `σ²/2` — hence `P(Up) < ½` at `S = K`.
//!   Over a 5-minute window at 60 % annual volatility that is 0.04 percentage points.
//! - Tie rule: Up wins on `S_T ≥ K` (crypto Up/Down resolution, [`Outcome::from_prices`]). For a
//!   continuous distribution the tie has probability zero; it matters only when the outcome is
//!   already determined: at `τ = 0` or with zero variance the result is exactly 1 if the
//!   (drifted) price is `≥ K` and 0 otherwise.
//!
//! Neither model accounts for the discreteness of the settlement feed (a price that does not
//! update during the window settles exactly at the strike, which is a win for Up).
//!
//! [`Window::strike`]: polyedge_core::Window::strike
//! [`Outcome::from_prices`]: polyedge_core::Outcome::from_prices

use polyedge_core::{UnixNanos, Window};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::ln_gamma;

use crate::error::{ModelError, finite, non_negative, positive};
use crate::vol::{SECONDS_PER_YEAR, VolEstimate};

/// A model of `P(Up) = P(S_T ≥ K)` for a window.
pub trait FairValueModel {
    /// Probability in `[0, 1]` that the price `tau_s` seconds from now is `≥ strike`, given the
    /// current `spot` (USD), `strike` (USD), the time left `tau_s` (seconds, ≥ 0) and the
    /// volatility `vol` over that time.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] for a NaN/∞ input; [`ModelError::OutOfDomain`] for
    /// `spot ≤ 0`, `strike ≤ 0`, `tau_s < 0`, a negative variance or invalid model parameters;
    /// model-specific errors otherwise. Never returns `Ok(NaN)`.
    fn p_up(
        &self,
        spot: f64,
        strike: f64,
        tau_s: f64,
        vol: &VolEstimate,
    ) -> Result<f64, ModelError>;
}

/// Seconds left in `window` at time `now` (`(end − now)/1e9`), 0 once the window has ended.
pub fn seconds_left(window: &Window, now: UnixNanos) -> f64 {
    window.end.saturating_sub(now) as f64 / 1e9
}

/// Checks the common inputs; returns `ln(S/K)` computed as `ln S − ln K` (no overflow).
fn check_inputs(spot: f64, strike: f64, tau_s: f64, var_per_s: f64) -> Result<f64, ModelError> {
    positive("spot", spot)?;
    positive("strike", strike)?;
    non_negative("tau_s", tau_s)?;
    non_negative("var_per_s", var_per_s)?;
    Ok(spot.ln() - strike.ln())
}

/// `P(ln(S_T/S) ≥ ln(K/S))` for `ln(S_T/S) ~ N(mean, var)`: `N((ln(S/K) + mean)/√var)`.
/// With `var = 0` the outcome is deterministic; with `mean = 0` too it is `S ≥ K` exactly.
fn gaussian_up(
    spot: f64,
    strike: f64,
    log_moneyness: f64,
    mean: f64,
    var: f64,
) -> Result<f64, ModelError> {
    if var <= 0.0 {
        let up = if mean == 0.0 {
            spot >= strike
        } else {
            log_moneyness + mean >= 0.0
        };
        return Ok(if up { 1.0 } else { 0.0 });
    }
    let d2 = (log_moneyness + mean) / var.sqrt();
    if d2.is_nan() {
        return Err(ModelError::NonFinite {
            name: "d2",
            value: d2,
        });
    }
    Ok(Normal::standard().cdf(d2))
}

/// Black–Scholes cash-or-nothing digital: `P(Up) = N(d2)`,
/// `d2 = (ln(S/K) + (μ − v/2)τ) / √(vτ)` with `v = σ²` per second.
///
/// Source: F. Black & M. Scholes, "The pricing of options and corporate liabilities", J. Political
/// Economy 81(3), 1973; J. C. Hull, *Options, Futures, and Other Derivatives*, ch. "Exotic
/// options" (binary/cash-or-nothing options: value `Q·e^{−rT}·N(d2)`; here `Q = 1`, `r = 0`, and
/// `N(d2)` is read as the probability under drift μ rather than the risk-neutral one).
///
/// At `τ = 0` returns 1 if `S ≥ K` else 0 (the tie rule); with `v = 0` the path is deterministic,
/// `S_T = S·e^{μτ}`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BlackScholesDigital {
    /// Drift μ of the price, per second (1/s); 0 by default. Must be finite.
    pub drift_per_s: f64,
}

impl BlackScholesDigital {
    /// The driftless model (μ = 0).
    pub const fn driftless() -> Self {
        BlackScholesDigital { drift_per_s: 0.0 }
    }

    /// With drift μ per second (1/s).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] for NaN/∞.
    pub fn with_drift_per_s(drift_per_s: f64) -> Result<Self, ModelError> {
        finite("drift_per_s", drift_per_s)?;
        Ok(BlackScholesDigital { drift_per_s })
    }

    /// With an annualized drift (fraction per 24/7 year), converted to per second.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] for NaN/∞.
    pub fn with_annual_drift(drift_annual: f64) -> Result<Self, ModelError> {
        finite("drift_annual", drift_annual)?;
        Self::with_drift_per_s(drift_annual / SECONDS_PER_YEAR)
    }
}

impl FairValueModel for BlackScholesDigital {
    fn p_up(
        &self,
        spot: f64,
        strike: f64,
        tau_s: f64,
        vol: &VolEstimate,
    ) -> Result<f64, ModelError> {
        bs_digital_up(spot, strike, tau_s, vol.var_per_s(), self.drift_per_s)
    }
}

/// [`BlackScholesDigital`] as a function: `N(d2)` for spot and strike in USD, `tau_s` seconds,
/// per-second variance `var_per_s` (1/s) and drift `drift_per_s` (1/s).
///
/// # Errors
/// As [`FairValueModel::p_up`].
pub fn bs_digital_up(
    spot: f64,
    strike: f64,
    tau_s: f64,
    var_per_s: f64,
    drift_per_s: f64,
) -> Result<f64, ModelError> {
    let lm = check_inputs(spot, strike, tau_s, var_per_s)?;
    finite("drift_per_s", drift_per_s)?;
    if tau_s == 0.0 {
        return Ok(if spot >= strike { 1.0 } else { 0.0 });
    }
    let mean = (drift_per_s - 0.5 * var_per_s) * tau_s;
    gaussian_up(spot, strike, lm, mean, var_per_s * tau_s)
}

/// Merton (1976) jump-diffusion digital.
///
/// Log price: `ln S_T = ln S + (μ − λκ − σ²/2)τ + σW_τ + Σ_{i≤N_τ} Y_i`, `N_τ ~ Poisson(λτ)`,
/// `Y_i ~ N(μ_J, δ²)`, `κ = E[e^Y − 1] = e^{μ_J + δ²/2} − 1` (the `−λκ` compensates the jumps so
/// that the price drift stays μ). Conditioning on `N_τ = n`:
///
/// `P(Up) = Σ_n e^{−λτ}(λτ)^n/n! · N(d2_n)`,
/// `d2_n = (ln(S/K) + (μ − λκ − σ²/2)τ + nμ_J) / √(σ²τ + nδ²)`,
///
/// i.e. `σ_n² = σ² + nδ²/τ` and `r_n = μ − λκ + n·ln(1+κ)/τ` in Merton's notation. The series is
/// truncated once the remaining Poisson mass is provably `< 1e-12` ([`Self::TAIL_TOLERANCE`];
/// bound `P(N > n) ≤ w_{n+1}/(1 − λτ/(n+2))`), so the truncation error is below that.
///
/// Source: R. C. Merton, "Option pricing when underlying stock returns are discontinuous",
/// J. Financial Economics 3, 1976 (the conditioning on the number of jumps, applied to a digital
/// payoff; cf. Hull, ch. "More on models and numerical procedures", jump-diffusion).
///
/// The [`VolEstimate`] passed to [`FairValueModel::p_up`] is the **diffusion** part σ² only;
/// realized variance includes jumps, so subtract [`Self::jump_var_per_s`] from it first.
/// With `λ = 0` this is exactly [`BlackScholesDigital`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MertonJumpDigital {
    /// Drift μ of the price, per second (1/s); 0 by default. Finite.
    pub drift_per_s: f64,
    /// Jump intensity λ, expected jumps per second (1/s, ≥ 0).
    pub jump_intensity_per_s: f64,
    /// Mean μ_J of the log jump size `Y` (dimensionless, finite).
    pub jump_mean: f64,
    /// Standard deviation δ of the log jump size `Y` (dimensionless, ≥ 0).
    pub jump_vol: f64,
}

impl MertonJumpDigital {
    /// Truncation tolerance of the Poisson series (bound on the omitted probability mass).
    pub const TAIL_TOLERANCE: f64 = 1e-12;
    /// Maximum number of series terms (λτ must be below ≈ 9·10⁴).
    pub const MAX_TERMS: usize = 100_000;

    /// Driftless model with jump intensity `λ` (1/s), log-jump mean `μ_J` and std `δ`.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for NaN/∞, `λ < 0`, `δ < 0`, or a
    /// jump size so large that `κ` overflows.
    pub fn new(
        jump_intensity_per_s: f64,
        jump_mean: f64,
        jump_vol: f64,
    ) -> Result<Self, ModelError> {
        let m = MertonJumpDigital {
            drift_per_s: 0.0,
            jump_intensity_per_s,
            jump_mean,
            jump_vol,
        };
        m.validate()?;
        Ok(m)
    }

    /// The same model with price drift μ per second (1/s).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] for NaN/∞.
    pub fn with_drift_per_s(mut self, drift_per_s: f64) -> Result<Self, ModelError> {
        finite("drift_per_s", drift_per_s)?;
        self.drift_per_s = drift_per_s;
        Ok(self)
    }

    fn validate(&self) -> Result<f64, ModelError> {
        finite("drift_per_s", self.drift_per_s)?;
        non_negative("jump_intensity_per_s", self.jump_intensity_per_s)?;
        finite("jump_mean", self.jump_mean)?;
        non_negative("jump_vol", self.jump_vol)?;
        finite("kappa", self.kappa())
    }

    /// Mean relative jump size `κ = E[e^Y − 1] = e^{μ_J + δ²/2} − 1` (dimensionless).
    pub fn kappa(&self) -> f64 {
        (self.jump_mean + 0.5 * self.jump_vol * self.jump_vol).exp_m1()
    }

    /// Per-second variance of log returns contributed by jumps, `λ(μ_J² + δ²)` (1/s): the total
    /// log-return variance rate is `σ² + λ(μ_J² + δ²)`.
    pub fn jump_var_per_s(&self) -> f64 {
        self.jump_intensity_per_s
            * (self.jump_mean * self.jump_mean + self.jump_vol * self.jump_vol)
    }
}

impl FairValueModel for MertonJumpDigital {
    fn p_up(
        &self,
        spot: f64,
        strike: f64,
        tau_s: f64,
        vol: &VolEstimate,
    ) -> Result<f64, ModelError> {
        let var_per_s = vol.var_per_s();
        let lm = check_inputs(spot, strike, tau_s, var_per_s)?;
        let kappa = self.validate()?;
        if tau_s == 0.0 {
            return Ok(if spot >= strike { 1.0 } else { 0.0 });
        }
        let lambda = self.jump_intensity_per_s;
        let drift = self.drift_per_s - lambda * kappa;
        let base_mean = (drift - 0.5 * var_per_s) * tau_s;
        let base_var = var_per_s * tau_s;
        let term = |n: f64| {
            gaussian_up(
                spot,
                strike,
                lm,
                base_mean + n * self.jump_mean,
                base_var + n * self.jump_vol * self.jump_vol,
            )
        };

        let m = lambda * tau_s; // expected number of jumps
        finite("jump_intensity_per_s * tau_s", m)?;
        if m == 0.0 {
            return term(0.0);
        }
        let ln_m = m.ln();
        let log_weight = |n: f64| -m + n * ln_m - ln_gamma(n + 1.0);
        let mut p = 0.0;
        let mut n = 0.0_f64;
        for _ in 0..Self::MAX_TERMS {
            p += log_weight(n).exp() * term(n)?;
            // Tail P(N > n) ≤ w_{n+1} / (1 − m/(n+2)) once n + 2 > m.
            let next = n + 1.0;
            if next + 1.0 > m {
                let tail = log_weight(next).exp() / (1.0 - m / (next + 1.0));
                if tail < Self::TAIL_TOLERANCE {
                    return Ok(p.clamp(0.0, 1.0));
                }
            }
            n = next;
        }
        Err(ModelError::NoConvergence {
            what: "Merton Poisson series",
            max_terms: Self::MAX_TERMS,
        })
    }
}

/// [`MertonJumpDigital`] as a function (see there for units and formula).
///
/// # Errors
/// As [`FairValueModel::p_up`]; [`ModelError::NoConvergence`] if `λτ` is too large for
/// [`MertonJumpDigital::MAX_TERMS`] terms.
pub fn merton_digital_up(
    spot: f64,
    strike: f64,
    tau_s: f64,
    var_per_s: f64,
    model: &MertonJumpDigital,
) -> Result<f64, ModelError> {
    let vol = VolEstimate::from_var_per_s(var_per_s)?;
    model.p_up(spot, strike, tau_s, &vol)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values (tie rule, closed forms) are the point of these tests
mod tests {
    use super::*;

    fn vol(annual: f64) -> VolEstimate {
        VolEstimate::from_annualized(annual).unwrap()
    }

    #[test]
    fn at_the_money_is_below_half_exactly_n_d2() {
        let v = vol(0.6);
        let tau = 300.0;
        let p = BlackScholesDigital::default()
            .p_up(100_000.0, 100_000.0, tau, &v)
            .unwrap();
        let var = v.var_per_s();
        let d2 = (0.0 + (0.0 - 0.5 * var) * tau) / (var * tau).sqrt();
        assert_eq!(p, Normal::standard().cdf(d2));
        assert!(p < 0.5);
        // Same as N(−σ√τ/2) written the textbook way.
        let sigma = v.vol_per_sqrt_s();
        let textbook = Normal::new(0.0, 1.0)
            .unwrap()
            .cdf(-0.5 * sigma * tau.sqrt());
        assert!((p - textbook).abs() < 1e-15);
    }

    #[test]
    fn tie_rule_and_limits() {
        let bs = BlackScholesDigital::default();
        let v = vol(0.8);
        assert_eq!(bs.p_up(100.0, 100.0, 0.0, &v).unwrap(), 1.0);
        assert_eq!(bs.p_up(100.0, 100.000_001, 0.0, &v).unwrap(), 0.0);
        assert_eq!(bs.p_up(100.000_001, 100.0, 0.0, &v).unwrap(), 1.0);
        // Zero variance: deterministic, ties go Up.
        assert_eq!(
            bs.p_up(100.0, 100.0, 60.0, &VolEstimate::ZERO).unwrap(),
            1.0
        );
        assert_eq!(
            bs.p_up(99.99, 100.0, 60.0, &VolEstimate::ZERO).unwrap(),
            0.0
        );
        // …with drift the deterministic path moves.
        let up = BlackScholesDigital::with_drift_per_s(1e-3).unwrap();
        assert_eq!(
            up.p_up(99.99, 100.0, 60.0, &VolEstimate::ZERO).unwrap(),
            1.0
        );
        // τ → 0+: converges to the indicator away from the strike, to ½ at it.
        assert!(bs.p_up(100.1, 100.0, 1e-6, &v).unwrap() > 1.0 - 1e-12);
        assert!(bs.p_up(99.9, 100.0, 1e-6, &v).unwrap() < 1e-12);
        assert!((bs.p_up(100.0, 100.0, 1e-6, &v).unwrap() - 0.5).abs() < 1e-6);
        // Deep ITM / OTM over a 5-minute window.
        assert!(bs.p_up(110.0, 100.0, 300.0, &v).unwrap() > 1.0 - 1e-9);
        assert!(bs.p_up(90.0, 100.0, 300.0, &v).unwrap() < 1e-9);
    }

    #[test]
    fn rejects_bad_inputs() {
        let bs = BlackScholesDigital::default();
        let v = vol(0.5);
        assert!(matches!(
            bs.p_up(f64::NAN, 100.0, 60.0, &v),
            Err(ModelError::NonFinite { name: "spot", .. })
        ));
        assert!(matches!(
            bs.p_up(100.0, f64::INFINITY, 60.0, &v),
            Err(ModelError::NonFinite { name: "strike", .. })
        ));
        assert!(matches!(
            bs.p_up(100.0, 100.0, -1.0, &v),
            Err(ModelError::OutOfDomain { name: "tau_s", .. })
        ));
        assert!(matches!(
            bs.p_up(0.0, 100.0, 1.0, &v),
            Err(ModelError::OutOfDomain { name: "spot", .. })
        ));
        assert!(bs_digital_up(100.0, 100.0, 1.0, f64::NAN, 0.0).is_err());
        assert!(bs_digital_up(100.0, 100.0, 1.0, 1e-8, f64::NAN).is_err());
        assert!(BlackScholesDigital::with_annual_drift(f64::INFINITY).is_err());
        assert!(MertonJumpDigital::new(-1.0, 0.0, 0.01).is_err());
        assert!(MertonJumpDigital::new(0.1, 0.0, -0.01).is_err());
        assert!(MertonJumpDigital::new(0.1, 1e6, 0.0).is_err()); // κ overflows
        let bad = MertonJumpDigital {
            jump_intensity_per_s: f64::NAN,
            ..MertonJumpDigital::default()
        };
        assert!(bad.p_up(100.0, 100.0, 60.0, &v).is_err());
        // Deserialized (unchecked) variance is re-checked.
        let neg: VolEstimate = serde_json_like_negative();
        assert!(bs.p_up(100.0, 100.0, 60.0, &neg).is_err());
    }

    /// A `VolEstimate` with a negative variance, as deserialization could produce.
    fn serde_json_like_negative() -> VolEstimate {
        use serde::de::value::{Error, MapDeserializer};
        let de = MapDeserializer::<_, Error>::new([("var_per_s", -1.0_f64)].into_iter());
        VolEstimate::deserialize(de).unwrap()
    }

    #[test]
    fn merton_lambda_zero_is_bs_exactly() {
        let m = MertonJumpDigital::new(0.0, -0.01, 0.02).unwrap();
        let bs = BlackScholesDigital::default();
        for (s, tau, a) in [
            (100.0, 300.0, 0.5),
            (100.2, 60.0, 0.9),
            (99.7, 900.0, 0.3),
            (100.0, 0.0, 0.3),
        ] {
            let v = vol(a);
            assert_eq!(
                m.p_up(s, 100.0, tau, &v).unwrap(),
                bs.p_up(s, 100.0, tau, &v).unwrap()
            );
        }
    }

    #[test]
    fn merton_by_hand_one_jump_regime() {
        // σ = 0: with no jump the price is deterministic, S·e^{−λκτ}; with n jumps the log
        // return is N(−λκτ + nμ_J, nδ²).
        let m = MertonJumpDigital::new(1.0 / 600.0, 0.0, 0.01).unwrap();
        let tau = 300.0;
        let lt: f64 = tau / 600.0;
        let p = m.p_up(100.0, 100.0, tau, &VolEstimate::ZERO).unwrap();
        let drift = -lt * m.kappa();
        let mut expect = 0.0;
        let mut w = (-lt).exp();
        for n in 0..40 {
            let nf = f64::from(n);
            let pn = if n == 0 {
                if drift >= 0.0 { 1.0 } else { 0.0 }
            } else {
                Normal::standard().cdf(drift / (nf * 1e-4).sqrt())
            };
            expect += w * pn;
            w *= lt / (nf + 1.0);
        }
        assert!((p - expect).abs() < 1e-12, "{p} vs {expect}");
        // κ > 0 so the compensator pulls the no-jump path below K: only jumps can win.
        assert!(p < 1.0 - (-lt).exp() + 1e-12);
    }

    #[test]
    fn merton_matches_monte_carlo() {
        use crate::test_rng::Rng;
        let m = MertonJumpDigital::new(1.0 / 120.0, -0.002, 0.004).unwrap();
        let v = vol(0.5);
        let (s, k, tau) = (100.0, 100.05, 300.0);
        let p = m.p_up(s, k, tau, &v).unwrap();
        let mut rng = Rng::new(42);
        let n_paths = 200_000;
        let mut wins = 0u32;
        let sd = (v.var_per_s() * tau).sqrt();
        let mean = (-(1.0 / 120.0) * m.kappa() - 0.5 * v.var_per_s()) * tau;
        for _ in 0..n_paths {
            let jumps = rng.poisson(tau / 120.0);
            let mut x = mean + sd * rng.normal();
            for _ in 0..jumps {
                x += -0.002 + 0.004 * rng.normal();
            }
            if s * x.exp() >= k {
                wins += 1;
            }
        }
        let mc = f64::from(wins) / f64::from(n_paths);
        let se = (p * (1.0 - p) / f64::from(n_paths)).sqrt();
        assert!((p - mc).abs() < 4.0 * se, "model {p} vs MC {mc} ± {se}");
    }

    #[test]
    fn merton_large_intensity_converges() {
        // λτ = 5000 expected jumps: weights are computed in log space (e^{−5000} underflows).
        let m = MertonJumpDigital::new(5000.0 / 300.0, 0.0, 1e-4).unwrap();
        let p = m.p_up(100.0, 100.0, 300.0, &vol(0.3)).unwrap();
        assert!(p > 0.3 && p < 0.5, "{p}");
        let too_many = MertonJumpDigital::new(1e6, 0.0, 1e-5).unwrap();
        assert!(matches!(
            too_many.p_up(100.0, 100.0, 300.0, &vol(0.3)),
            Err(ModelError::NoConvergence { .. })
        ));
    }

    #[test]
    fn seconds_left_of_a_window() {
        let w = Window::from_slug("btc-updown-5m-1776081600").unwrap();
        assert_eq!(seconds_left(&w, w.start), 300.0);
        assert_eq!(seconds_left(&w, UnixNanos(w.end.0 - 1_500_000_000)), 1.5);
        assert_eq!(seconds_left(&w, UnixNanos(w.end.0 + 1)), 0.0);
    }

    #[test]
    fn jump_variance_helper() {
        let m = MertonJumpDigital::new(0.01, 0.003, 0.004).unwrap();
        assert!((m.jump_var_per_s() - 0.01 * (9e-6 + 16e-6)).abs() < 1e-18);
        assert!((m.kappa() - (0.003f64 + 8e-6).exp_m1()).abs() < 1e-18);
    }
}
