//! Property tests of the digital fair-value models.

use polyedge_model::{
    BlackScholesDigital, FairValueModel, MertonJumpDigital, ModelError, VolEstimate,
};
use proptest::prelude::*;

fn merton() -> impl Strategy<Value = MertonJumpDigital> {
    (0.0..0.05_f64, -0.01..0.01_f64, 0.0..0.02_f64)
        .prop_map(|(l, m, d)| MertonJumpDigital::new(l, m, d).unwrap_or_default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merton_is_a_probability_and_monotone_in_spot(
        model in merton(),
        vol_annual in 0.0..2.0_f64,
        tau in 0.0..3600.0_f64,
        s1 in 90.0..110.0_f64,
        ds in 0.0..5.0_f64,
    ) {
        let v = VolEstimate::from_annualized(vol_annual).unwrap();
        let p1 = model.p_up(s1, 100.0, tau, &v).unwrap();
        let p2 = model.p_up(s1 + ds, 100.0, tau, &v).unwrap();
        prop_assert!((0.0..=1.0).contains(&p1));
        prop_assert!((0.0..=1.0).contains(&p2));
        // Monotone up to the series truncation tolerance.
        prop_assert!(p2 >= p1 - 2e-12, "{} < {}", p2, p1);
    }

    #[test]
    fn merton_without_jumps_equals_bs_bit_for_bit(
        jump_mean in -0.05..0.05_f64,
        jump_vol in 0.0..0.05_f64,
        drift in -1e-6..1e-6_f64,
        vol_annual in 0.0..2.0_f64,
        tau in 0.0..3600.0_f64,
        s in 95.0..105.0_f64,
    ) {
        let v = VolEstimate::from_annualized(vol_annual).unwrap();
        let m = MertonJumpDigital::new(0.0, jump_mean, jump_vol)
            .unwrap()
            .with_drift_per_s(drift)
            .unwrap();
        let bs = BlackScholesDigital::with_drift_per_s(drift).unwrap();
        let a = m.p_up(s, 100.0, tau, &v).unwrap();
        let b = bs.p_up(s, 100.0, tau, &v).unwrap();
        prop_assert_eq!(a.to_bits(), b.to_bits());
    }

    #[test]
    fn bs_monotone_in_spot_and_strike(
        vol_annual in 0.01..2.0_f64,
        tau in 1.0..3600.0_f64,
        s in 50.0..150.0_f64,
        k in 50.0..150.0_f64,
        d in 0.0..10.0_f64,
    ) {
        let bs = BlackScholesDigital::default();
        let v = VolEstimate::from_annualized(vol_annual).unwrap();
        let p = bs.p_up(s, k, tau, &v).unwrap();
        prop_assert!((0.0..=1.0).contains(&p));
        prop_assert!(bs.p_up(s + d, k, tau, &v).unwrap() >= p);
        prop_assert!(bs.p_up(s, k + d, tau, &v).unwrap() <= p);
    }

    #[test]
    fn at_the_money_falls_with_vol_and_time(
        a in 0.01..2.0_f64,
        b in 0.01..2.0_f64,
        tau in 1.0..3600.0_f64,
    ) {
        // d2 = −σ√τ/2 at S = K: more variance, lower P(Up), always below ½.
        let bs = BlackScholesDigital::default();
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let p_lo = bs.p_up(100.0, 100.0, tau, &VolEstimate::from_annualized(lo).unwrap()).unwrap();
        let p_hi = bs.p_up(100.0, 100.0, tau, &VolEstimate::from_annualized(hi).unwrap()).unwrap();
        prop_assert!(p_hi <= p_lo);
        prop_assert!(p_lo < 0.5);
    }

    #[test]
    fn non_finite_inputs_are_typed_errors(
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        which in 0..3_usize,
    ) {
        let v = VolEstimate::from_annualized(0.5).unwrap();
        let mut args = [100.0, 100.0, 60.0];
        args[which] = bad;
        let m = MertonJumpDigital::new(0.01, 0.0, 0.01).unwrap();
        for r in [
            BlackScholesDigital::default().p_up(args[0], args[1], args[2], &v),
            m.p_up(args[0], args[1], args[2], &v),
        ] {
            prop_assert!(matches!(r, Err(ModelError::NonFinite { .. })), "{:?}", r);
        }
    }
}

#[test]
fn works_as_a_trait_object() {
    let models: Vec<Box<dyn FairValueModel>> = vec![
        Box::new(BlackScholesDigital::default()),
        Box::new(MertonJumpDigital::new(1.0 / 300.0, -0.001, 0.003).unwrap()),
    ];
    let v = VolEstimate::from_annualized(0.6).unwrap();
    for m in &models {
        let p = m.p_up(100_000.0, 99_950.0, 120.0, &v).unwrap();
        assert!(p > 0.5 && p < 1.0, "{p}");
    }
}
