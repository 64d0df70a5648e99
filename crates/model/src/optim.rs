//! A small derivative-free minimizer (Nelder–Mead), used by the GARCH maximum-likelihood fit.
//!
//! Algorithm: J. A. Nelder & R. Mead, "A simplex method for function minimization", The Computer
//! Journal 7(4), 1965; coefficients and tie-breaking as in J. C. Lagarias, J. A. Reeds, M. H. Wright
//! & P. E. Wright, "Convergence properties of the Nelder–Mead simplex method in low dimensions",
//! SIAM J. Optim. 9(1), 1998 (reflection 1, expansion 2, contraction ½, shrink ½).
//!
//! Kept private: it is a tool for this crate, not a general optimization library.

/// Result of [`nelder_mead`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    /// Best point found.
    pub x: Vec<f64>,
    /// Objective at `x`.
    pub f: f64,
    /// Iterations used.
    pub iterations: usize,
    /// `true` if the tolerances were met before `max_iter`.
    pub converged: bool,
}

/// Stopping rule of [`nelder_mead`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerances {
    /// Stop when the objective values of the simplex differ by at most this (absolute)…
    pub f_abs: f64,
    /// …and every vertex is within this (max-norm) of the best vertex.
    pub x_abs: f64,
    /// Iteration cap.
    pub max_iter: usize,
}

/// Minimizes `f` from `x0` with an initial simplex of `x0` plus `step` along each axis.
///
/// Non-finite objective values are treated as +∞ (the simplex moves away from them), so the
/// objective may encode constraints by returning `f64::INFINITY`.
pub(crate) fn nelder_mead<F>(mut f: F, x0: &[f64], step: f64, tol: Tolerances) -> Minimum
where
    F: FnMut(&[f64]) -> f64,
{
    let n = x0.len();
    let mut eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    simplex.push((x0.to_vec(), eval(x0)));
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += step;
        let fx = eval(&x);
        simplex.push((x, fx));
    }

    let mut iterations = 0;
    let mut converged = false;
    while iterations < tol.max_iter {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best = &simplex[0];
        let worst_f = simplex[n].1;
        let f_spread = if worst_f.is_finite() {
            worst_f - best.1
        } else {
            f64::INFINITY
        };
        let x_spread = simplex[1..]
            .iter()
            .flat_map(|(x, _)| x.iter().zip(&best.0).map(|(a, b)| (a - b).abs()))
            .fold(0.0_f64, f64::max);
        if f_spread <= tol.f_abs && x_spread <= tol.x_abs {
            converged = true;
            break;
        }
        iterations += 1;

        // Centroid of all vertices but the worst.
        let mut centroid = vec![0.0; n];
        for (x, _) in &simplex[..n] {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi;
            }
        }
        let n_f = n as f64;
        for c in &mut centroid {
            *c /= n_f;
        }
        let along = |t: f64, worst: &[f64]| -> Vec<f64> {
            centroid
                .iter()
                .zip(worst)
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };

        let worst = simplex[n].0.clone();
        let second_worst_f = simplex[n - 1].1;
        let best_f = simplex[0].1;

        let xr = along(1.0, &worst);
        let fr = eval(&xr);
        if fr < best_f {
            let xe = along(2.0, &worst);
            let fe = eval(&xe);
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            continue;
        }
        if fr < second_worst_f {
            simplex[n] = (xr, fr);
            continue;
        }
        // Contraction: outside if the reflection improved on the worst, else inside.
        let (xc, fc) = if fr < worst_f {
            let xc = along(0.5, &worst);
            let fc = eval(&xc);
            (xc, fc)
        } else {
            let xc = along(-0.5, &worst);
            let fc = eval(&xc);
            (xc, fc)
        };
        if fc < fr.min(worst_f) {
            simplex[n] = (xc, fc);
            continue;
        }
        // Shrink towards the best vertex.
        let best_x = simplex[0].0.clone();
        for vertex in simplex.iter_mut().skip(1) {
            let x: Vec<f64> = best_x
                .iter()
                .zip(&vertex.0)
                .map(|(b, v)| b + 0.5 * (v - b))
                .collect();
            let fx = eval(&x);
            *vertex = (x, fx);
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, f) = simplex.swap_remove(0);
    Minimum {
        x,
        f,
        iterations,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: Tolerances = Tolerances {
        f_abs: 1e-12,
        x_abs: 1e-7,
        max_iter: 5000,
    };

    #[test]
    fn minimizes_a_quadratic() {
        let m = nelder_mead(
            |x| (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2) + 0.5,
            &[0.0, 0.0],
            0.5,
            TOL,
        );
        assert!(m.converged);
        assert!((m.x[0] - 1.0).abs() < 1e-5, "{m:?}");
        assert!((m.x[1] + 2.0).abs() < 1e-5, "{m:?}");
        assert!((m.f - 0.5).abs() < 1e-10);
    }

    #[test]
    fn minimizes_rosenbrock() {
        let m = nelder_mead(
            |x| 100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2),
            &[-1.2, 1.0],
            0.5,
            TOL,
        );
        assert!((m.x[0] - 1.0).abs() < 1e-4, "{m:?}");
        assert!((m.x[1] - 1.0).abs() < 1e-4, "{m:?}");
    }

    #[test]
    fn avoids_infeasible_region() {
        // Minimum of x² subject to x ≥ 1 encoded as +∞ outside.
        let m = nelder_mead(
            |x| if x[0] < 1.0 { f64::NAN } else { x[0] * x[0] },
            &[3.0],
            0.5,
            TOL,
        );
        assert!((m.x[0] - 1.0).abs() < 1e-5, "{m:?}");
    }
}
