//! Brier score and log loss of several forecasters on the same rows, with standard errors.
//!
//! Rows of one window share its outcome and are not independent, so standard errors are
//! **clustered by window** (the sandwich estimator of a mean): for per-row losses `ℓ_i` with mean
//! `m` over `N` rows in `G` windows,
//! `SE² = G/(G − 1) · Σ_g (Σ_{i∈g} (ℓ_i − m))² / N²`.
//! With one row per window (a single decision time) this is the usual `s/√N`. Paired differences
//! (`a − b` per row) use the same estimator: negative means `a` is better. Log loss clips the
//! probability of the realized outcome to `[1e-12, 1 − 1e-12]` (`polyedge_model::LOG_LOSS_CLIP`),
//! as `polyedge calibrate` does.

use std::collections::HashMap;

use polyedge_model::LOG_LOSS_CLIP;
use serde::Serialize;

/// One scored row: its window (cluster), outcome and one probability per forecaster.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Window index (the cluster).
    pub window: usize,
    /// `true` = Up.
    pub up: bool,
    /// One `P(Up)` per forecaster.
    pub p: Vec<f64>,
}

/// A forecaster's scores on a set of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecasterScores {
    /// Forecaster name.
    pub name: String,
    /// Rows.
    pub n: usize,
    /// Mean Brier score.
    pub brier: f64,
    /// Its standard error (clustered by window).
    pub brier_se: f64,
    /// Mean log loss, nats.
    pub log_loss: f64,
    /// Its standard error.
    pub log_loss_se: f64,
}

/// Paired loss differences `a − b` on the same rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedDiff {
    /// Forecaster `a`.
    pub a: String,
    /// Forecaster `b`.
    pub b: String,
    /// Rows.
    pub n: usize,
    /// Mean Brier difference (negative: `a` better).
    pub brier_diff: f64,
    /// Its standard error.
    pub brier_diff_se: f64,
    /// Mean log-loss difference.
    pub log_loss_diff: f64,
    /// Its standard error.
    pub log_loss_diff_se: f64,
}

/// Squared error of `p` for outcome `up`.
pub fn brier(p: f64, up: bool) -> f64 {
    let o = if up { 1.0 } else { 0.0 };
    (p - o) * (p - o)
}

/// `−ln` of the (clipped) probability given to what happened.
pub fn log_score(p: f64, up: bool) -> f64 {
    let q = if up { p } else { 1.0 - p };
    -q.clamp(LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP).ln()
}

/// Mean of `v` and its window-clustered standard error (`NaN` SE with fewer than 2 windows).
pub fn clustered_mean(v: &[f64], windows: &[usize]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n as f64;
    let mut by: HashMap<usize, f64> = HashMap::new();
    for (x, w) in v.iter().zip(windows) {
        *by.entry(*w).or_default() += x - m;
    }
    let g = by.len() as f64;
    if by.len() < 2 {
        return (m, f64::NAN);
    }
    let s: f64 = by.values().map(|d| d * d).sum();
    (m, (g / (g - 1.0) * s).sqrt() / n as f64)
}

/// Scores of every forecaster (`names[k]` is `rows[i].p[k]`).
pub fn score(names: &[&str], rows: &[Scored]) -> Vec<ForecasterScores> {
    let w: Vec<usize> = rows.iter().map(|r| r.window).collect();
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let b: Vec<f64> = rows.iter().map(|r| brier(r.p[k], r.up)).collect();
            let l: Vec<f64> = rows.iter().map(|r| log_score(r.p[k], r.up)).collect();
            let (brier, brier_se) = clustered_mean(&b, &w);
            let (log_loss, log_loss_se) = clustered_mean(&l, &w);
            ForecasterScores {
                name: (*name).to_string(),
                n: rows.len(),
                brier,
                brier_se,
                log_loss,
                log_loss_se,
            }
        })
        .collect()
}

/// Paired differences of forecaster `a` minus `b` (indices into each row's `p`).
pub fn paired(names: &[&str], rows: &[Scored], a: usize, b: usize) -> PairedDiff {
    let w: Vec<usize> = rows.iter().map(|r| r.window).collect();
    let db: Vec<f64> = rows
        .iter()
        .map(|r| brier(r.p[a], r.up) - brier(r.p[b], r.up))
        .collect();
    let dl: Vec<f64> = rows
        .iter()
        .map(|r| log_score(r.p[a], r.up) - log_score(r.p[b], r.up))
        .collect();
    let (brier_diff, brier_diff_se) = clustered_mean(&db, &w);
    let (log_loss_diff, log_loss_diff_se) = clustered_mean(&dl, &w);
    PairedDiff {
        a: names[a].to_string(),
        b: names[b].to_string(),
        n: rows.len(),
        brier_diff,
        brier_diff_se,
        log_loss_diff,
        log_loss_diff_se,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_window_is_the_plain_standard_error() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let (m, se) = clustered_mean(&v, &[0, 1, 2, 3]);
        assert!((m - 2.5).abs() < 1e-12);
        // s = sqrt(5/3), s/√n = sqrt(5/12); the cluster formula gives the same.
        assert!((se - (5.0f64 / 12.0).sqrt()).abs() < 1e-12);
        // Two identical rows per window: the same mean, a larger SE than pretending 8 rows.
        let v2 = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0];
        let (m2, se2) = clustered_mean(&v2, &[0, 0, 1, 1, 2, 2, 3, 3]);
        assert!((m2 - 2.5).abs() < 1e-12);
        assert!((se2 - se).abs() < 1e-12);
    }

    #[test]
    fn scores_by_hand() {
        let rows = vec![
            Scored {
                window: 0,
                up: true,
                p: vec![0.8, 0.5],
            },
            Scored {
                window: 1,
                up: false,
                p: vec![0.3, 0.5],
            },
        ];
        let s = score(&["m", "half"], &rows);
        assert!((s[0].brier - f64::midpoint(0.04, 0.09)).abs() < 1e-12);
        assert!((s[1].brier - 0.25).abs() < 1e-12);
        assert!((s[1].log_loss - std::f64::consts::LN_2).abs() < 1e-12);
        let d = paired(&["m", "half"], &rows, 0, 1);
        assert!((d.brier_diff - (0.065 - 0.25)).abs() < 1e-12);
    }
}
