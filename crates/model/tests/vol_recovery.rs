//! Volatility estimators recover known parameters on simulated paths (fixed seeds).

mod common;

use common::Rng;
use polyedge_core::UnixNanos;
use polyedge_model::{
    Ewma, Garch11, GarchParams, PricePoint, bars_from_points, ewma_var_per_s,
    garman_klass_var_per_s, parkinson_var_per_s, realized_var_per_s, realized_vars,
};

const T0_NS: u64 = 1_776_081_600 * UnixNanos::PER_SEC;

/// Driftless-price GBM sampled at the given steps (ns): log increments N(−σ²dt/2, σ²dt).
fn gbm(rng: &mut Rng, var_per_s: f64, steps_ns: impl IntoIterator<Item = u64>) -> Vec<PricePoint> {
    let mut t = T0_NS;
    let mut x = 100_000.0_f64.ln();
    let mut out = vec![PricePoint::new(UnixNanos(t), x.exp())];
    for dt_ns in steps_ns {
        let dt = dt_ns as f64 / 1e9;
        x += -0.5 * var_per_s * dt + (var_per_s * dt).sqrt() * rng.normal();
        t += dt_ns;
        out.push(PricePoint::new(UnixNanos(t), x.exp()));
    }
    out
}

fn rel_err(est: f64, truth: f64) -> f64 {
    (est / truth - 1.0).abs()
}

#[test]
fn ewma_recovers_constant_variance_with_irregular_steps() {
    let var = 1e-8; // ≈ 56 % annualized
    let mut rng = Rng::new(1);
    // Steps uniform in [0.2 s, 5 s].
    let steps: Vec<u64> = (0..30_000)
        .map(|_| 200_000_000 + rng.next_u64() % 4_800_000_000)
        .collect();
    let pts = gbm(&mut rng, var, steps);

    // Long memory: the final value alone is within a few standard errors (≈ 3 %).
    let slow = ewma_var_per_s(&pts, 0.999).unwrap();
    assert!(rel_err(slow, var) < 0.12, "λ=0.999: {slow:e}");

    // Default λ = 0.94 is noisy per value but unbiased: its path average is close.
    let mut e = Ewma::default();
    let mut sum = 0.0;
    let mut n = 0.0;
    for (i, p) in pts.iter().enumerate() {
        e.update(*p).unwrap();
        if i > 100 {
            sum += e.var_per_s().unwrap();
            n += 1.0;
        }
    }
    assert!(rel_err(sum / n, var) < 0.03, "λ=0.94 mean: {:e}", sum / n);
    assert_eq!(e.n_returns(), pts.len() - 1);

    // Realized variance over the whole series and a few lookbacks.
    let rv = realized_var_per_s(&pts).unwrap();
    assert!(rel_err(rv, var) < 0.03, "realized {rv:e}");
    for r in realized_vars(&pts, &[900, 3600, 14_400]).unwrap() {
        let r = r.unwrap();
        assert!(r.elapsed_s <= r.lookback_s as f64);
        // ≥ 350 returns even for the 15-minute lookback: within ~5 standard errors.
        assert!(rel_err(r.var_per_s, var) < 0.4, "{r:?}");
    }
}

#[test]
fn range_estimators_on_bars_from_a_known_process() {
    let var = 4e-8;
    let mut rng = Rng::new(2);
    // 500 one-minute bars of 400 ticks each (150 ms apart).
    let pts = gbm(&mut rng, var, std::iter::repeat_n(150_000_000, 500 * 400));
    let bars = bars_from_points(&pts, 60).unwrap();
    assert!((500..=501).contains(&bars.len()), "{}", bars.len());
    let pk = parkinson_var_per_s(&bars).unwrap();
    let gk = garman_klass_var_per_s(&bars).unwrap();
    // Discrete ticks miss the true extremes (≈ −7 % on the variance at 400 ticks per bar);
    // sampling error with 500 bars is ≈ 3 %.
    for (name, est) in [("parkinson", pk), ("garman-klass", gk)] {
        let ratio = est / var;
        assert!((0.82..1.05).contains(&ratio), "{name}: {ratio}");
    }
    // Close-to-close on the same path for reference.
    let rv = realized_var_per_s(&pts).unwrap();
    assert!(rel_err(rv, var) < 0.03, "{rv:e}");
}

#[test]
fn garch_fit_recovers_parameters() {
    let step_s = 1.0;
    let truth = GarchParams::new(2e-10, 0.08, 0.90).unwrap(); // V_L = 1e-8 per second
    let mut rng = Rng::new(3);
    let n = 8_000;
    let mut h = truth.long_run_var_per_s();
    let mut returns = Vec::with_capacity(n);
    for _ in 0..n {
        let r = (h * step_s).sqrt() * rng.normal();
        returns.push(r);
        h = truth.omega + truth.alpha * r * r / step_s + truth.beta * h;
    }
    let fit = Garch11::fit(&returns, step_s).unwrap();
    let p = fit.model.params();
    assert!((p.alpha - truth.alpha).abs() < 0.03, "{fit:?}");
    assert!((p.beta - truth.beta).abs() < 0.04, "{fit:?}");
    assert!(
        (p.persistence() - truth.persistence()).abs() < 0.03,
        "{fit:?}"
    );
    assert!(
        rel_err(p.long_run_var_per_s(), truth.long_run_var_per_s()) < 0.3,
        "{fit:?}"
    );
    assert_eq!(fit.n_obs, n);

    // The fit is a maximum: the true parameters do not have a higher likelihood.
    let ll_truth = truth.log_likelihood(&returns, step_s).unwrap();
    assert!(
        fit.log_likelihood >= ll_truth - 1e-6,
        "{} < {ll_truth}",
        fit.log_likelihood
    );

    // The end state matches replaying the recursion with the fitted parameters.
    let replay = Garch11::from_returns(p, &returns, step_s).unwrap();
    let rel = rel_err(replay.one_step_var_per_s(), fit.model.one_step_var_per_s());
    assert!(rel < 1e-9);

    // The τ-ahead forecast lies between the next-step and long-run variances.
    let next = fit.model.one_step_var_per_s();
    let lr = p.long_run_var_per_s();
    let f300 = fit.model.forecast(300.0).unwrap().var_per_s();
    assert!(
        f300 >= next.min(lr) && f300 <= next.max(lr),
        "{next:e} {f300:e} {lr:e}"
    );
}
