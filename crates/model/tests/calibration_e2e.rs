//! Calibration metrics: properties, and an end-to-end check that Black–Scholes with the true
//! volatility is calibrated on simulated windows and beats a mis-specified forecaster.

mod common;

use common::Rng;
use polyedge_core::Outcome;
use polyedge_model::{
    BlackScholesDigital, FairValueModel, Scorecard, VolEstimate, brier_score, log_loss,
    reliability_table, seconds_left_bucket,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn reliability_bins_partition_the_forecasts(
        forecasts in prop::collection::vec((0.0..=1.0_f64, any::<bool>()), 1..200),
        n_bins in 1..25_usize,
    ) {
        let t = reliability_table(&forecasts, n_bins).unwrap();
        prop_assert_eq!(t.len(), n_bins);
        prop_assert_eq!(t.iter().map(|b| b.count).sum::<usize>(), forecasts.len());
        for b in &t {
            if let (Some(mean), Some((lo, hi)), Some(freq)) =
                (b.mean_predicted, b.wilson_95, b.observed_frequency)
            {
                prop_assert!(mean >= b.lower - 1e-12 && mean <= b.upper + 1e-12);
                prop_assert!(lo <= freq && freq <= hi);
            }
        }
    }

    #[test]
    fn scores_are_bounded(
        forecasts in prop::collection::vec((0.0..=1.0_f64, any::<bool>()), 1..200),
    ) {
        let b = brier_score(&forecasts).unwrap();
        let l = log_loss(&forecasts).unwrap();
        prop_assert!((0.0..=1.0).contains(&b));
        prop_assert!((0.0..=-(1e-12_f64).ln() + 1e-9).contains(&l));
    }
}

#[test]
fn bs_with_true_vol_is_calibrated_and_beats_a_wrong_vol() {
    let vol = VolEstimate::from_annualized(0.6).unwrap();
    let wrong = VolEstimate::from_annualized(1.5).unwrap();
    let var = vol.var_per_s();
    let model = BlackScholesDigital::default();
    let mut rng = Rng::new(11);
    let mut card = Scorecard::new(["model", "wrong_vol"]).unwrap();
    let window_s = 300.0;
    let snapshots = [240.0, 120.0, 60.0, 30.0];
    let n_windows = 5_000;
    for _ in 0..n_windows {
        let strike = 100_000.0_f64;
        let mut s = strike;
        let mut t_left = window_s;
        let mut probs = Vec::new();
        for &snap in &snapshots {
            let dt = t_left - snap;
            s *= (-0.5 * var * dt + (var * dt).sqrt() * rng.normal()).exp();
            t_left = snap;
            let key = seconds_left_bucket(snap, &[30, 60, 120, 240]).unwrap();
            probs.push((
                key,
                model.p_up(s, strike, snap, &vol).unwrap(),
                model.p_up(s, strike, snap, &wrong).unwrap(),
            ));
        }
        let dt = t_left;
        let end = s * (-0.5 * var * dt + (var * dt).sqrt() * rng.normal()).exp();
        let outcome = if end >= strike {
            Outcome::Up
        } else {
            Outcome::Down
        };
        for (key, p_model, p_wrong) in probs {
            card.record(key, outcome, &[p_model, p_wrong]).unwrap();
        }
    }
    assert_eq!(card.len(), 4 * n_windows);

    let rows = card.rows();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(row.scores[0].n, n_windows);
        // Calibration in the large: mean forecast ≈ base rate.
        let s = &row.scores[0];
        assert!((s.mean_predicted - s.base_rate).abs() < 0.03, "{row:?}");
    }
    for cmp in card.compare("model", "wrong_vol").unwrap() {
        let se = cmp.brier_diff_se.unwrap();
        assert!(cmp.brier_diff < 0.0, "{cmp:?}");
        assert!(cmp.brier_diff < -2.0 * se, "{cmp:?}");
        assert!(cmp.log_loss_diff < 0.0, "{cmp:?}");
    }

    // Reliability: the observed frequency lies in the model's bin or within its Wilson
    // interval of the bin's mean forecast in (almost) every populated bin.
    for key in [30, 60, 120, 240] {
        let table = card.reliability(&key, "model", 10).unwrap();
        assert_eq!(table.iter().map(|b| b.count).sum::<usize>(), n_windows);
        let misses = table
            .iter()
            .filter(|b| b.count >= 30)
            .filter(|b| {
                let (lo, hi) = b.wilson_95.unwrap_or((0.0, 1.0));
                let mean = b.mean_predicted.unwrap_or(0.5);
                mean < lo - 0.01 || mean > hi + 0.01
            })
            .count();
        assert!(misses <= 1, "key {key}: {table:?}");
    }
}
