//! The training procedure on a synthetic dataset whose label depends on the features, and the
//! model file's schema check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp,
    missing_docs
)]

use polyedge_ml::dataset::{Dataset, Row};
use polyedge_ml::model_file::DirectionalModel;
use polyedge_ml::{TrainConfig, train};

/// `n` back-to-back 5-minute windows, 3 decision times each. The outcome is Up when the latent
/// `z = signal + noise > 0.3` (so most windows are Down); the features are `signal` (informative,
/// missing on every 7th row), `bs_p_up` (a noisier view of the same), and `junk`.
fn dataset(n: usize) -> Dataset {
    let mut s: u64 = 99;
    let mut rnd = move || {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut rows = Vec::new();
    for w in 0..n {
        let start = 1_776_000_000_000_000_000u64 + w as u64 * 300_000_000_000;
        let signal = rnd() * 2.0 - 1.0;
        let up = signal + (rnd() - 0.5) * 0.6 > 0.3;
        for (k, t) in [240u32, 120, 30].into_iter().enumerate() {
            let i = w * 3 + k;
            let bs = (1.0 / (1.0 + (-(signal - 0.3) * 3.0 + (rnd() - 0.5)).exp())).clamp(0.0, 1.0);
            rows.push(Row {
                recording: "synthetic".into(),
                slug: format!("btc-updown-5m-{}", start / 1_000_000_000),
                asset: "btc".into(),
                duration_s: 300,
                window_start_ns: start,
                decision_ns: start + u64::from(300 - t) * 1_000_000_000,
                t_left_s: t,
                outcome_up: up,
                outcome_source: "official".into(),
                market_mid: (w % 2 == 0).then_some(0.5),
                reference: Some("chainlink".into()),
                strike_source: Some("index".into()),
                candles: None,
                features: vec![if i % 7 == 0 { f64::NAN } else { signal }, bs, rnd()],
            });
        }
    }
    Dataset {
        feature_names: vec!["signal".into(), "bs_p_up".into(), "junk".into()],
        schema_hash: polyedge_features::hash_names(1, ["signal", "bs_p_up", "junk"]),
        rows,
    }
}

#[test]
fn walk_forward_training_beats_the_coin_and_reports_on_the_same_rows() {
    let ds = dataset(400);
    let cfg = TrainConfig {
        folds: 4,
        embargo_s: 600,
        ..TrainConfig::default()
    };
    let (r, model) = train(&ds, &cfg).unwrap();
    assert_eq!(r.windows, 400);
    assert_eq!(r.folds.len(), 4);
    // Blocks of 80 windows: fold i tests block i; the embargo purges the 2 windows before it.
    for f in &r.folds {
        assert_eq!(f.test_windows, 80);
        assert_eq!(f.purged, 2);
        assert_eq!(f.train_windows, 80 * f.fold - 2);
        assert!(f.calib_windows > 0, "fold {} not calibrated", f.fold);
    }
    assert_eq!(r.oos_rows, 4 * 80 * 3);
    let pooled = &r.vs_bs.by_t[0];
    assert_eq!(pooled.t_left_s, None);
    let gbt = pooled.scores.iter().find(|s| s.name == "gbt").unwrap();
    assert_eq!(gbt.n, r.oos_rows);
    // Informative features: far better than the constant ½ (0.25) and than the noisier BS view.
    assert!(gbt.brier < 0.15, "gbt Brier {}", gbt.brier);
    let lr = pooled.scores.iter().find(|s| s.name == "logistic").unwrap();
    assert!(lr.brier < 0.2, "logistic Brier {}", lr.brier);
    let d = pooled
        .paired
        .iter()
        .find(|d| d.a == "gbt" && d.b == "bs_digital")
        .unwrap();
    assert!(d.brier_diff < 0.0 && d.brier_diff_se > 0.0);
    // The market comparison uses only the rows with a mid (every other window).
    let m = r.vs_market.as_ref().unwrap();
    assert_eq!(m.by_t[0].scores[0].n, r.oos_rows / 2);
    // Permutation importance ranks the two informative features first, junk near zero.
    let mut top: Vec<&str> = r.importance[..2]
        .iter()
        .map(|i| i.feature.as_str())
        .collect();
    top.sort_unstable();
    assert_eq!(top, vec!["bs_p_up", "signal"]);
    let junk = r.importance.iter().find(|i| i.feature == "junk").unwrap();
    assert!(junk.permutation.unwrap().abs() < 0.02, "{junk:?}");
    // The model file round-trips and refuses another schema.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.json");
    model.save(&p).unwrap();
    let names = ["signal", "bs_p_up", "junk"];
    let back = DirectionalModel::load(&p, &names, &ds.schema_hash).unwrap();
    let row = &ds.rows[10].features;
    assert_eq!(back.predict(row).unwrap(), model.predict(row).unwrap());
    let e = DirectionalModel::load(&p, &["signal", "junk", "bs_p_up"], &ds.schema_hash)
        .unwrap_err()
        .to_string();
    assert!(e.contains("column 1") && e.contains("retrain"), "{e}");
    let e = DirectionalModel::load(&p, &["signal", "bs_p_up"], &ds.schema_hash)
        .unwrap_err()
        .to_string();
    assert!(e.contains("model has 1 more columns"), "{e}");
    assert!(DirectionalModel::load(&p, &names, "v2:0").is_err());
    // Against the feature engine's schema (other names) it refuses too.
    assert!(DirectionalModel::load_for_engine(&p).is_err());
    assert!(back.predict(&[0.1]).is_err());
    assert_eq!(back.doc().training.windows, 400);
}

#[test]
fn too_few_windows_is_a_clear_error() {
    let ds = dataset(3);
    let e = train(&ds, &TrainConfig::default()).unwrap_err().to_string();
    assert!(e.contains("too few"), "{e}");
}
