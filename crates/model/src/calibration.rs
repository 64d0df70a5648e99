//! Scoring probability forecasts of binary outcomes: Brier score, log loss, reliability tables
//! with Wilson intervals, and a [`Scorecard`] that scores several forecasters (e.g. the model
//! and the market mid) on the same snapshots, grouped by a key such as seconds left.
//!
//! A forecast is a pair `(p, happened)`: `p ∈ [0, 1]` the forecast probability of the event and
//! `happened` whether it occurred. For Up/Down windows the event is "Up" and `p = P(Up)`.
//!
//! Sources: G. W. Brier, "Verification of forecasts expressed in terms of probability", Monthly
//! Weather Review 78(1), 1950; I. J. Good, "Rational decisions", JRSS B 14(1), 1952 (log score);
//! A. H. Murphy & R. L. Winkler, "Reliability of subjective probability forecasts of precipitation
//! and temperature", JRSS C 26(1), 1977 (reliability diagrams); E. B. Wilson, "Probable inference,
//! the law of succession, and statistical inference", JASA 22, 1927 (score interval);
//! F. X. Diebold & R. S. Mariano, "Comparing predictive accuracy", JBES 13(3), 1995 (paired
//! loss differences).

use std::collections::BTreeMap;

use polyedge_core::Outcome;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{ModelError, probability};

/// Probabilities are clipped to `[LOG_LOSS_CLIP, 1 − LOG_LOSS_CLIP]` before taking logs in
/// [`log_loss`], so a confident miss costs at most `−ln(1e-12) ≈ 27.6` nats instead of ∞.
pub const LOG_LOSS_CLIP: f64 = 1e-12;

fn check_forecasts(forecasts: &[(f64, bool)]) -> Result<(), ModelError> {
    if forecasts.is_empty() {
        return Err(ModelError::InsufficientData { needed: 1, got: 0 });
    }
    for &(p, _) in forecasts {
        probability("p", p)?;
    }
    Ok(())
}

fn squared_error(p: f64, happened: bool) -> f64 {
    let o = if happened { 1.0 } else { 0.0 };
    (p - o) * (p - o)
}

/// `−ln` of the probability given to what happened, clipped to `[1e-12, 1 − 1e-12]`. Clipping
/// the probability of the realized outcome rather than `p` itself is the same clip, but keeps it
/// symmetric in floating point (`1 − (1 − 1e-12)` is not exactly `1e-12`).
fn log_score(p: f64, happened: bool) -> f64 {
    let p_realized = if happened { p } else { 1.0 - p };
    -p_realized.clamp(LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP).ln()
}

/// Brier (1950) score: `(1/n) Σ (p_i − o_i)²` with `o_i ∈ {0, 1}`. Range `[0, 1]`, lower is
/// better; always forecasting ½ scores 0.25.
///
/// # Errors
/// [`ModelError::InsufficientData`] for no forecasts; [`ModelError::NonFinite`] /
/// [`ModelError::OutOfDomain`] for a `p` outside `[0, 1]`.
pub fn brier_score(forecasts: &[(f64, bool)]) -> Result<f64, ModelError> {
    check_forecasts(forecasts)?;
    let sum: f64 = forecasts.iter().map(|&(p, o)| squared_error(p, o)).sum();
    Ok(sum / forecasts.len() as f64)
}

/// Log loss (Good 1952), in nats: `−(1/n) Σ [o_i ln p_i + (1 − o_i) ln(1 − p_i)]`, with each `p_i`
/// first clipped to `[1e-12, 1 − 1e-12]` ([`LOG_LOSS_CLIP`]) so that a forecast of exactly 0 or 1
/// that turns out wrong gives a finite (≈ 27.6) rather than infinite loss. Lower is better;
/// always forecasting ½ scores `ln 2 ≈ 0.693`.
///
/// # Errors
/// As [`brier_score`].
pub fn log_loss(forecasts: &[(f64, bool)]) -> Result<f64, ModelError> {
    check_forecasts(forecasts)?;
    let sum: f64 = forecasts.iter().map(|&(p, o)| log_score(p, o)).sum();
    Ok(sum / forecasts.len() as f64)
}

/// Wilson (1927) score interval for a binomial proportion: `successes` out of `n` at two-sided
/// `confidence` (e.g. 0.95), with `z = Φ⁻¹(1 − (1−confidence)/2)` from statrs' normal quantile:
///
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`.
///
/// Returns `(low, high)` within `[0, 1]`.
///
/// # Errors
/// [`ModelError::InsufficientData`] for `n = 0`; [`ModelError::OutOfDomain`] if
/// `successes > n` or `confidence ∉ (0, 1)`.
pub fn wilson_interval(
    successes: usize,
    n: usize,
    confidence: f64,
) -> Result<(f64, f64), ModelError> {
    if n == 0 {
        return Err(ModelError::InsufficientData { needed: 1, got: 0 });
    }
    if successes > n {
        return Err(ModelError::OutOfDomain {
            name: "successes",
            value: successes as f64,
            expected: "<= n",
        });
    }
    probability("confidence", confidence)?;
    if confidence <= 0.0 || confidence >= 1.0 {
        return Err(ModelError::OutOfDomain {
            name: "confidence",
            value: confidence,
            expected: "0 < confidence < 1",
        });
    }
    let z = Normal::standard().inverse_cdf(1.0 - 0.5 * (1.0 - confidence));
    let n_f = n as f64;
    let p_hat = successes as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let center = (p_hat + z2 / (2.0 * n_f)) / denom;
    let half = z / denom * (p_hat * (1.0 - p_hat) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    // At 0 or n successes the bound is exactly 0 or 1; rounding must not exclude p̂.
    let low = if successes == 0 {
        0.0
    } else {
        (center - half).clamp(0.0, p_hat)
    };
    let high = if successes == n {
        1.0
    } else {
        (center + half).clamp(p_hat, 1.0)
    };
    Ok((low, high))
}

/// One bin of a reliability table: forecasts with `lower ≤ p < upper` (the last bin includes
/// `p = 1`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (probability).
    pub lower: f64,
    /// Upper edge of the bin (probability).
    pub upper: f64,
    /// Number of forecasts in the bin.
    pub count: usize,
    /// Mean forecast probability in the bin; `None` if empty.
    pub mean_predicted: Option<f64>,
    /// Observed frequency of the event in the bin; `None` if empty.
    pub observed_frequency: Option<f64>,
    /// Wilson 95 % interval of the observed frequency; `None` if empty.
    pub wilson_95: Option<(f64, f64)>,
}

/// Reliability table (Murphy & Winkler 1977): `n_bins` equal-width bins of forecast probability
/// on `[0, 1]`, each with its count, mean forecast, observed frequency and Wilson 95 % interval.
/// All bins are returned (empty ones with `count = 0`), so counts sum to `forecasts.len()`.
/// A calibrated forecaster has `observed_frequency ≈ mean_predicted` in every bin.
///
/// # Errors
/// As [`brier_score`]; [`ModelError::OutOfDomain`] for `n_bins = 0`.
pub fn reliability_table(
    forecasts: &[(f64, bool)],
    n_bins: usize,
) -> Result<Vec<ReliabilityBin>, ModelError> {
    check_forecasts(forecasts)?;
    if n_bins == 0 {
        return Err(ModelError::OutOfDomain {
            name: "n_bins",
            value: 0.0,
            expected: ">= 1",
        });
    }
    let b = n_bins as f64;
    let mut sums = vec![(0_usize, 0.0_f64, 0_usize); n_bins]; // (count, Σp, successes)
    for &(p, o) in forecasts {
        // p ∈ [0, 1] was validated, so p·b ∈ [0, b]: non-negative and at most n_bins.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = ((p * b).floor() as usize).min(n_bins - 1);
        let s = &mut sums[i];
        s.0 += 1;
        s.1 += p;
        s.2 += usize::from(o);
    }
    sums.iter()
        .enumerate()
        .map(|(i, &(count, sum_p, hits))| {
            let (mean_predicted, observed_frequency, wilson_95) = if count == 0 {
                (None, None, None)
            } else {
                let c = count as f64;
                (
                    Some(sum_p / c),
                    Some(hits as f64 / c),
                    Some(wilson_interval(hits, count, 0.95)?),
                )
            };
            Ok(ReliabilityBin {
                lower: i as f64 / b,
                upper: (i + 1) as f64 / b,
                count,
                mean_predicted,
                observed_frequency,
                wilson_95,
            })
        })
        .collect()
}

/// The bucket of a snapshot by seconds left: the smallest edge `e` of `edges_s` with
/// `tau_s ≤ e` (so with edges `[30, 60, 120, 240]`, τ = 240 → 240, τ = 121 → 240, τ = 45 → 60);
/// `None` if `tau_s` exceeds every edge or is not finite. Edges may be given in any order.
pub fn seconds_left_bucket(tau_s: f64, edges_s: &[u32]) -> Option<u32> {
    if !tau_s.is_finite() {
        return None;
    }
    edges_s
        .iter()
        .copied()
        .filter(|&e| tau_s <= f64::from(e))
        .min()
}

/// Scores of one forecaster on one group of snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecasterScore {
    /// Forecaster name.
    pub forecaster: String,
    /// Number of snapshots.
    pub n: usize,
    /// Brier score ([`brier_score`]).
    pub brier: f64,
    /// Log loss in nats ([`log_loss`]).
    pub log_loss: f64,
    /// Mean forecast probability.
    pub mean_predicted: f64,
    /// Observed frequency of the event (Up) in the group.
    pub base_rate: f64,
}

/// The scores of every forecaster on one key's snapshots, side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow<K> {
    /// The group key.
    pub key: K,
    /// One score per forecaster, in the scorecard's forecaster order.
    pub scores: Vec<ForecasterScore>,
}

/// Paired comparison of forecasters `a` and `b` on the same snapshots of one key
/// (Diebold–Mariano 1995 style, i.i.d. version): differences `a − b` of per-snapshot losses.
/// Negative means `a` is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison<K> {
    /// The group key.
    pub key: K,
    /// Number of paired snapshots.
    pub n: usize,
    /// Mean of `(p_a − o)² − (p_b − o)²`.
    pub brier_diff: f64,
    /// Standard error of `brier_diff` (`s_d/√n`); `None` for `n < 2`.
    pub brier_diff_se: Option<f64>,
    /// Mean of the per-snapshot log-loss differences (nats).
    pub log_loss_diff: f64,
    /// Standard error of `log_loss_diff`; `None` for `n < 2`.
    pub log_loss_diff_se: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Group {
    outcomes: Vec<bool>,
    /// `probs[f][i]`: forecaster `f`'s probability on snapshot `i`.
    probs: Vec<Vec<f64>>,
}

/// Accumulates `(P(Up) per forecaster, outcome)` snapshots grouped by a key `K` (e.g. the
/// seconds-left bucket from [`seconds_left_bucket`]: 240/120/60/30) and scores all forecasters
/// on exactly the same snapshots.
///
/// Every record carries one probability per forecaster; a snapshot where some forecaster has no
/// probability (e.g. no market mid) must be skipped by the caller so that comparisons stay
/// paired. Snapshots of the same window share its outcome and are not independent: keying by a
/// seconds-left bucket with one snapshot per window and bucket keeps them independent across
/// windows within a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard<K: Ord> {
    forecasters: Vec<String>,
    groups: BTreeMap<K, Group>,
}

impl<K: Ord + Clone> Scorecard<K> {
    /// An empty scorecard for the named forecasters (e.g. `["model", "market_mid"]`).
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] if no forecaster is named.
    pub fn new<S: Into<String>>(
        forecasters: impl IntoIterator<Item = S>,
    ) -> Result<Self, ModelError> {
        let forecasters: Vec<String> = forecasters.into_iter().map(Into::into).collect();
        if forecasters.is_empty() {
            return Err(ModelError::InsufficientData { needed: 1, got: 0 });
        }
        Ok(Scorecard {
            forecasters,
            groups: BTreeMap::new(),
        })
    }

    /// Forecaster names, in order.
    pub fn forecasters(&self) -> &[String] {
        &self.forecasters
    }

    /// Records one snapshot under `key`: the realized `outcome` and `p_up[f]`, forecaster `f`'s
    /// probability of Up.
    ///
    /// # Errors
    /// [`ModelError::LengthMismatch`] unless there is exactly one probability per forecaster;
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for a probability outside `[0, 1]`.
    /// Nothing is recorded on error.
    pub fn record(&mut self, key: K, outcome: Outcome, p_up: &[f64]) -> Result<(), ModelError> {
        if p_up.len() != self.forecasters.len() {
            return Err(ModelError::LengthMismatch {
                name: "p_up",
                expected: self.forecasters.len(),
                got: p_up.len(),
            });
        }
        for &p in p_up {
            probability("p_up", p)?;
        }
        let n_f = self.forecasters.len();
        let group = self.groups.entry(key).or_insert_with(|| Group {
            outcomes: Vec::new(),
            probs: vec![Vec::new(); n_f],
        });
        group.outcomes.push(outcome == Outcome::Up);
        for (column, &p) in group.probs.iter_mut().zip(p_up) {
            column.push(p);
        }
        Ok(())
    }

    /// Total number of snapshots recorded.
    pub fn len(&self) -> usize {
        self.groups.values().map(|g| g.outcomes.len()).sum()
    }

    /// `true` if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys seen, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.groups.keys()
    }

    fn index_of(&self, name: &str) -> Result<usize, ModelError> {
        self.forecasters
            .iter()
            .position(|f| f == name)
            .ok_or_else(|| ModelError::UnknownForecaster {
                name: name.to_owned(),
            })
    }

    fn score(&self, f: usize, pairs: &[(f64, bool)]) -> Result<ForecasterScore, ModelError> {
        let n = pairs.len() as f64;
        Ok(ForecasterScore {
            forecaster: self.forecasters[f].clone(),
            n: pairs.len(),
            brier: brier_score(pairs)?,
            log_loss: log_loss(pairs)?,
            mean_predicted: pairs.iter().map(|&(p, _)| p).sum::<f64>() / n,
            base_rate: pairs.iter().filter(|&&(_, o)| o).count() as f64 / n,
        })
    }

    fn pairs(group: &Group, f: usize) -> Vec<(f64, bool)> {
        group.probs[f]
            .iter()
            .copied()
            .zip(group.outcomes.iter().copied())
            .collect()
    }

    /// Per key, the scores of every forecaster on that key's snapshots, side by side.
    pub fn rows(&self) -> Vec<ScoreRow<K>> {
        self.groups
            .iter()
            .filter_map(|(key, group)| {
                let scores = (0..self.forecasters.len())
                    .map(|f| self.score(f, &Self::pairs(group, f)))
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?; // groups are never empty and probabilities were validated
                Some(ScoreRow {
                    key: key.clone(),
                    scores,
                })
            })
            .collect()
    }

    /// The scores of every forecaster over all keys pooled; empty if nothing was recorded.
    pub fn overall(&self) -> Vec<ForecasterScore> {
        (0..self.forecasters.len())
            .filter_map(|f| {
                let pairs: Vec<(f64, bool)> = self
                    .groups
                    .values()
                    .flat_map(|g| Self::pairs(g, f))
                    .collect();
                self.score(f, &pairs).ok()
            })
            .collect()
    }

    /// Paired loss differences of forecaster `a` minus forecaster `b`, per key.
    ///
    /// # Errors
    /// [`ModelError::UnknownForecaster`] for a name not in the scorecard.
    pub fn compare(&self, a: &str, b: &str) -> Result<Vec<PairedComparison<K>>, ModelError> {
        let (ia, ib) = (self.index_of(a)?, self.index_of(b)?);
        Ok(self
            .groups
            .iter()
            .map(|(key, g)| {
                let pa = &g.probs[ia];
                let pb = &g.probs[ib];
                let brier: Vec<f64> = g
                    .outcomes
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| squared_error(pa[i], o) - squared_error(pb[i], o))
                    .collect();
                let logl: Vec<f64> = g
                    .outcomes
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| log_score(pa[i], o) - log_score(pb[i], o))
                    .collect();
                let (brier_diff, brier_diff_se) = mean_and_se(&brier);
                let (log_loss_diff, log_loss_diff_se) = mean_and_se(&logl);
                PairedComparison {
                    key: key.clone(),
                    n: g.outcomes.len(),
                    brier_diff,
                    brier_diff_se,
                    log_loss_diff,
                    log_loss_diff_se,
                }
            })
            .collect())
    }

    /// Reliability table ([`reliability_table`]) of forecaster `name` on `key`'s snapshots.
    ///
    /// # Errors
    /// [`ModelError::UnknownForecaster`]; [`ModelError::InsufficientData`] if `key` has no
    /// snapshots; as [`reliability_table`] otherwise.
    pub fn reliability(
        &self,
        key: &K,
        name: &str,
        n_bins: usize,
    ) -> Result<Vec<ReliabilityBin>, ModelError> {
        let f = self.index_of(name)?;
        let group = self
            .groups
            .get(key)
            .ok_or(ModelError::InsufficientData { needed: 1, got: 0 })?;
        reliability_table(&Self::pairs(group, f), n_bins)
    }
}

/// Mean and standard error of the mean (`s/√n`, `s` with `n − 1`); SE is `None` for `n < 2`.
fn mean_and_se(x: &[f64]) -> (f64, Option<f64>) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, None);
    }
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, Some((var / n).sqrt()))
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values (tie rule, closed forms) are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn brier_and_log_loss_by_hand() {
        let f = [(0.8, true), (0.3, false), (0.5, true), (1.0, false)];
        // (0.04 + 0.09 + 0.25 + 1.0)/4
        assert!((brier_score(&f).unwrap() - 0.345).abs() < 1e-15);
        let expect = (-(0.8f64).ln() - (0.7f64).ln() - (0.5f64).ln() - (1e-12f64).ln()) / 4.0;
        assert!((log_loss(&f).unwrap() - expect).abs() < 1e-9);
        assert!((log_loss(&[(0.5, false)]).unwrap() - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(brier_score(&[(1.0, true), (0.0, false)]).unwrap(), 0.0);
        assert!(log_loss(&[(1.0, true)]).unwrap() < 1e-11);
        assert!(brier_score(&[]).is_err());
        assert!(brier_score(&[(1.2, true)]).is_err());
        assert!(log_loss(&[(f64::NAN, true)]).is_err());
    }

    #[test]
    fn wilson_known_values() {
        // 5/10 at 95 %: z = 1.959964, interval (0.2366, 0.7634).
        let (lo, hi) = wilson_interval(5, 10, 0.95).unwrap();
        assert!((lo - 0.236_593).abs() < 1e-5, "{lo}");
        assert!((hi - 0.763_407).abs() < 1e-5, "{hi}");
        let (lo, hi) = wilson_interval(0, 20, 0.95).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.161_13).abs() < 1e-4, "{hi}");
        assert!(wilson_interval(3, 2, 0.95).is_err());
        assert!(wilson_interval(0, 0, 0.95).is_err());
        assert!(wilson_interval(1, 2, 1.0).is_err());
    }

    #[test]
    fn reliability_bins() {
        let f = [
            (0.05, false),
            (0.1, true),
            (0.55, true),
            (0.59, false),
            (0.95, true),
            (1.0, true),
        ];
        let t = reliability_table(&f, 10).unwrap();
        assert_eq!(t.len(), 10);
        assert_eq!(t.iter().map(|b| b.count).sum::<usize>(), f.len());
        assert_eq!(t[0].count, 1);
        assert_eq!(t[1].count, 1); // 0.1 falls in [0.1, 0.2)
        assert_eq!(t[5].count, 2);
        assert!((t[5].mean_predicted.unwrap() - 0.57).abs() < 1e-15);
        assert_eq!(t[5].observed_frequency, Some(0.5));
        assert_eq!(t[9].count, 2); // 1.0 goes to the last bin
        assert_eq!(t[3].count, 0);
        assert_eq!(t[3].mean_predicted, None);
        let (lo, hi) = t[9].wilson_95.unwrap();
        assert!(lo > 0.3 && hi == 1.0);
        assert!((t[4].lower - 0.4).abs() < 1e-15 && (t[4].upper - 0.5).abs() < 1e-15);
        assert!(reliability_table(&f, 0).is_err());
    }

    #[test]
    fn buckets() {
        let e = [240, 120, 60, 30];
        assert_eq!(seconds_left_bucket(240.0, &e), Some(240));
        assert_eq!(seconds_left_bucket(121.0, &e), Some(240));
        assert_eq!(seconds_left_bucket(120.0, &e), Some(120));
        assert_eq!(seconds_left_bucket(45.0, &e), Some(60));
        assert_eq!(seconds_left_bucket(0.0, &e), Some(30));
        assert_eq!(seconds_left_bucket(241.0, &e), None);
        assert_eq!(seconds_left_bucket(f64::NAN, &e), None);
    }

    #[test]
    fn scorecard_side_by_side() {
        let mut sc = Scorecard::new(["model", "market"]).unwrap();
        sc.record(60, Outcome::Up, &[0.9, 0.6]).unwrap();
        sc.record(60, Outcome::Down, &[0.2, 0.5]).unwrap();
        sc.record(240, Outcome::Up, &[0.5, 0.5]).unwrap();
        assert!(matches!(
            sc.record(60, Outcome::Up, &[0.5]),
            Err(ModelError::LengthMismatch { .. })
        ));
        assert!(sc.record(60, Outcome::Up, &[0.5, 1.5]).is_err());
        assert_eq!(sc.len(), 3);
        assert_eq!(sc.keys().copied().collect::<Vec<_>>(), vec![60, 240]);

        let rows = sc.rows();
        assert_eq!(rows.len(), 2);
        let r60 = &rows[0];
        assert_eq!(r60.key, 60);
        assert_eq!(r60.scores[0].forecaster, "model");
        assert_eq!(r60.scores[0].n, 2);
        assert!((r60.scores[0].brier - 0.05 / 2.0).abs() < 1e-15);
        assert!((r60.scores[1].brier - 0.41 / 2.0).abs() < 1e-15);
        assert_eq!(r60.scores[0].base_rate, 0.5);
        assert!((r60.scores[0].mean_predicted - 0.55).abs() < 1e-15);

        let cmp = sc.compare("model", "market").unwrap();
        assert!((cmp[0].brier_diff - -0.36 / 2.0).abs() < 1e-15);
        let se = cmp[0].brier_diff_se.unwrap();
        assert!((se - (0.0018f64 / 2.0).sqrt()).abs() < 1e-12, "{se}");
        assert!(cmp[0].log_loss_diff < 0.0);
        assert_eq!(cmp[1].n, 1);
        assert_eq!(cmp[1].brier_diff, 0.0);
        assert_eq!(cmp[1].brier_diff_se, None);
        assert!(matches!(
            sc.compare("model", "nobody"),
            Err(ModelError::UnknownForecaster { .. })
        ));

        let all = sc.overall();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].n, 3);
        assert!((all[1].brier - (0.16 + 0.25 + 0.25) / 3.0).abs() < 1e-15);

        let rel = sc.reliability(&60, "market", 4).unwrap();
        assert_eq!(rel.iter().map(|b| b.count).sum::<usize>(), 2);
        assert!(sc.reliability(&30, "market", 4).is_err());
        assert!(Scorecard::<u32>::new(Vec::<String>::new()).is_err());
    }
}
