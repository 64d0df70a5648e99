//! Purged and embargoed walk-forward cross-validation by time (López de Prado 2018, ch. 7).
//!
//! The unit is the **window**: all rows of a window (its decision times) share one label, so they
//! always fall on the same side of a split. Windows are ordered by start time and cut into
//! `folds + 1` consecutive blocks of (nearly) equal count. Fold `i` (1…`folds`) tests on block `i`
//! and trains on the windows **before** it (an expanding window: never on the future), **purged**
//! of every window whose label is not yet known when the test block starts (window end after the
//! test start) and **embargoed** for `embargo` more: a training window must end at or before
//! `test start − embargo`, so features that look back (1 h trend, volatility) and the serial
//! correlation of prices do not tie the two sides together.

use serde::Serialize;

/// A window as the splitter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Window start, ns.
    pub start_ns: u64,
    /// Window end (when its label becomes known), ns.
    pub end_ns: u64,
}

/// One fold: indices into the window list given to [`walk_forward`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fold {
    /// Fold number, from 1.
    pub fold: usize,
    /// Training windows.
    pub train: Vec<usize>,
    /// Test windows.
    pub test: Vec<usize>,
    /// Windows before the test block left out by the purge and embargo.
    pub purged: usize,
}

/// Walk-forward folds over `windows` (any order; they are sorted by start here).
///
/// Folds whose training set would be empty are left out.
pub fn walk_forward(windows: &[Span], folds: usize, embargo_ns: u64) -> Vec<Fold> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| (windows[i].start_ns, windows[i].end_ns, i));
    let n = order.len();
    let blocks = folds + 1;
    if folds == 0 || n < blocks {
        return Vec::new();
    }
    let bound = |b: usize| b * n / blocks;
    let mut out = Vec::new();
    for i in 1..=folds {
        let test: Vec<usize> = order[bound(i)..bound(i + 1)].to_vec();
        let test_start = test.iter().map(|&w| windows[w].start_ns).min().unwrap_or(0);
        let cutoff = test_start.saturating_sub(embargo_ns);
        let before = &order[..bound(i)];
        let train: Vec<usize> = before
            .iter()
            .copied()
            .filter(|&w| windows[w].end_ns <= cutoff)
            .collect();
        let purged = before.len() - train.len();
        if !train.is_empty() && !test.is_empty() {
            out.push(Fold {
                fold: i,
                train,
                test,
                purged,
            });
        }
    }
    out
}

/// Splits training windows (indices into `windows`) by time into a fitting part (the first
/// `1 − calib_frac`) and a calibration part (the rest), with the same purge and embargo between
/// them. Returns `(fit, calib)`.
pub fn split_for_calibration(
    windows: &[Span],
    train: &[usize],
    calib_frac: f64,
    embargo_ns: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut t = train.to_vec();
    t.sort_by_key(|&i| (windows[i].start_ns, i));
    // Round half up without a float → integer cast: the smallest count ≥ frac · len − ½.
    let frac = calib_frac.clamp(0.0, 1.0);
    let n_cal = (0..=t.len())
        .find(|&k| k as f64 + 0.5 > frac * t.len() as f64)
        .unwrap_or(t.len());
    let cut = t.len() - n_cal;
    let calib: Vec<usize> = t[cut..].to_vec();
    let cal_start = calib.iter().map(|&w| windows[w].start_ns).min();
    let fit: Vec<usize> = match cal_start {
        Some(s) => t[..cut]
            .iter()
            .copied()
            .filter(|&w| windows[w].end_ns <= s.saturating_sub(embargo_ns))
            .collect(),
        None => t,
    };
    (fit, calib)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(n: u64) -> Vec<Span> {
        // 5-minute windows back to back, listed in reverse to check the sorting.
        (0..n)
            .rev()
            .map(|i| Span {
                start_ns: i * 300,
                end_ns: i * 300 + 300,
            })
            .collect()
    }

    #[test]
    fn folds_train_only_on_the_past_and_purge_the_embargo() {
        let w = spans(12);
        let folds = walk_forward(&w, 3, 600);
        assert_eq!(folds.len(), 3);
        for f in &folds {
            let test_start = f.test.iter().map(|&i| w[i].start_ns).min().unwrap();
            for &i in &f.train {
                assert!(w[i].end_ns + 600 <= test_start, "fold {}", f.fold);
            }
            assert_eq!(f.test.len(), 3);
        }
        // Fold 1 tests windows 3..6 (start 900); training needs end ≤ 300: window 0 only; the
        // two before the test block are purged.
        assert_eq!(folds[0].train.len(), 1);
        assert_eq!(folds[0].purged, 2);
        // No embargo: only the past, nothing purged (back-to-back windows end at the next start).
        let f0 = walk_forward(&w, 3, 0);
        assert_eq!(f0[2].train.len(), 9);
        assert_eq!(f0[2].purged, 0);
        assert!(walk_forward(&w[..3], 3, 0).is_empty());
    }

    #[test]
    fn calibration_split_is_later_and_embargoed() {
        let w = spans(20);
        let train: Vec<usize> = (0..20).collect();
        let (fit, cal) = split_for_calibration(&w, &train, 0.25, 300);
        assert_eq!(cal.len(), 5);
        let cal_start = cal.iter().map(|&i| w[i].start_ns).min().unwrap();
        assert!(fit.iter().all(|&i| w[i].end_ns + 300 <= cal_start));
        assert_eq!(fit.len(), 14);
    }
}
