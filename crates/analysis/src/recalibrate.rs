//! Walk-forward recalibration of the model's `P(Up)`: isotonic regression and Platt scaling
//! ([`polyedge_model::recalibration`]) refitted as outcomes become known, and applied only to
//! later snapshots.
//!
//! A model snapshot of a window becomes **training data at the window's end** (the settlement
//! price is published then; the official resolution follows minutes later, so this is, if
//! anything, a few minutes early — never later than a trader could know it). A snapshot taken at
//! `s` is recalibrated by maps fitted on the snapshots of windows that ended at or before `s`,
//! all `t` pooled, once there are at least `min_train` of them; the maps are refitted whenever
//! new training data arrived. Before that the snapshot has no recalibrated forecast and is left
//! out of the recalibration scorecards (which compare the raw model, both recalibrations and the
//! market mid on the same snapshots).

use polyedge_core::UnixNanos;
use polyedge_model::{Isotonic, Platt};

/// Default training size before the first recalibration (model snapshots).
pub const DEFAULT_MIN_TRAIN: usize = 100;

/// The walk-forward state. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct WalkForward {
    min_train: usize,
    /// `(usable from, forecast, won)`, not yet training data.
    pending: Vec<(UnixNanos, f64, bool)>,
    train: Vec<(f64, bool)>,
    isotonic: Option<Isotonic>,
    platt: Option<Platt>,
    dirty: bool,
    fits: u64,
}

impl WalkForward {
    /// Recalibrates once `min_train` (at least 2) training snapshots are in.
    pub fn new(min_train: usize) -> Self {
        WalkForward {
            min_train: min_train.max(2),
            ..WalkForward::default()
        }
    }

    /// Records a model forecast `p` of an event (`won`) whose outcome is usable from
    /// `usable_from` on.
    pub fn observe(&mut self, usable_from: UnixNanos, p: f64, won: bool) {
        self.pending.push((usable_from, p, won));
    }

    /// The isotonic and Platt recalibrations of `p` at `now`, fitted on everything usable by
    /// then; `None` while fewer than `min_train` snapshots are.
    pub fn forecast(&mut self, now: UnixNanos, p: f64) -> Option<(f64, f64)> {
        let mut k = 0;
        while k < self.pending.len() {
            if self.pending[k].0 <= now {
                let (_, q, y) = self.pending.swap_remove(k);
                self.train.push((q, y));
                self.dirty = true;
            } else {
                k += 1;
            }
        }
        if self.dirty && self.train.len() >= self.min_train {
            // Fit on a copy in a canonical order, so the fit does not depend on arrival order.
            let mut t = self.train.clone();
            t.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            if let (Ok(i), Ok(pl)) = (Isotonic::fit(&t), Platt::fit(&t)) {
                self.isotonic = Some(i);
                self.platt = Some(pl);
                self.fits += 1;
            }
            self.dirty = false;
        }
        match (&self.isotonic, &self.platt) {
            (Some(i), Some(pl)) => Some((i.apply(p), pl.apply(p))),
            _ => None,
        }
    }

    /// Fits made so far.
    pub fn fits(&self) -> u64 {
        self.fits
    }

    /// Training snapshots so far.
    pub fn trained_on(&self) -> usize {
        self.train.len()
    }

    /// The last Platt fit.
    pub fn platt(&self) -> Option<Platt> {
        self.platt
    }

    /// The last isotonic fit.
    pub fn isotonic(&self) -> Option<&Isotonic> {
        self.isotonic.as_ref()
    }

    /// The minimum training size.
    pub fn min_train(&self) -> usize {
        self.min_train
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outcomes_known_by_then_train_the_maps() {
        let mut wf = WalkForward::new(4);
        let t = UnixNanos::from_secs;
        // Four overconfident forecasts whose windows end at 100..=400.
        for (k, won) in [true, false, false, true].into_iter().enumerate() {
            wf.observe(t(100 * (k as u64 + 1)), 0.9, won);
        }
        assert_eq!(wf.forecast(t(399), 0.9), None, "only 3 known at 399");
        assert_eq!(wf.trained_on(), 3);
        let (iso, platt) = wf.forecast(t(400), 0.9).unwrap_or((f64::NAN, f64::NAN));
        assert!((iso - 0.5).abs() < 1e-12, "{iso}");
        assert!(platt < 0.9, "{platt}");
        assert_eq!(wf.fits(), 1);
        // No new data: no refit.
        let _ = wf.forecast(t(500), 0.5);
        assert_eq!(wf.fits(), 1);
    }
}
