//! `polyedge train`: out-of-sample evaluation by purged walk-forward cross-validation, then the
//! final model on all the data.
//!
//! # Procedure
//! 1. Rows are grouped by window; windows are split by [`crate::cv::walk_forward`] (`folds`,
//!    `embargo_s`).
//! 2. In each fold the training windows are split by time into a fitting part and a later
//!    calibration part (the last `calib_frac`, embargoed the same way). The trees
//!    ([`Gbt`]) and the logistic baseline ([`Logistic`]) are fitted on the first; an isotonic map
//!    of each is fitted on its predictions for the second. With fewer than `min_calib_windows`
//!    calibration windows (or only one outcome among them) the fold fits on all its training
//!    windows and uses the raw output (reported).
//! 3. Test rows get `gbt` (calibrated), `gbt_raw`, `logistic` (calibrated) and, from the row
//!    itself, `bs_digital` (the `bs_p_up` feature: `polyedge_model`'s Black–Scholes digital) and
//!    `market_mid` (the market's Up mid). Scores compare forecasters **on the same rows**: every
//!    row where the BS digital exists (model vs BS), and every row where the market mid exists too
//!    (model vs BS vs market), pooled and per decision time, with window-clustered standard errors
//!    ([`crate::score`]).
//! 4. Permutation importance: in each test fold, each feature's column is shuffled among the test
//!    rows (`permutation_repeats` times, seeded) and the increase of the calibrated model's log
//!    loss is averaged over folds, weighted by test rows. Gain importance comes from the final
//!    ensemble.
//! 5. The final model: the same fit/calibration split over all windows; written with its schema
//!    and training span ([`DirectionalModel`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::cv::{Span, split_for_calibration, walk_forward};
use crate::dataset::Dataset;
use crate::isotonic::Isotonic;
use crate::model_file::{DirectionalModel, TrainingSpan};
use crate::models::{Gbt, GbtParams, Logistic, Rows};
use crate::score::{ForecasterScores, PairedDiff, Scored, log_score, paired, score};

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Walk-forward folds (test blocks).
    pub folds: usize,
    /// Embargo between training and test (and fitting and calibration), seconds.
    pub embargo_s: u64,
    /// Fraction of each training set (the latest windows) held for the isotonic calibration.
    pub calib_frac: f64,
    /// Fewest calibration windows for calibrating.
    pub min_calib_windows: usize,
    /// Tree learner.
    pub gbt: GbtParams,
    /// L2 penalty of the logistic baseline (on standardized inputs, summed log loss).
    pub logistic_alpha: f64,
    /// Shuffles per feature and fold for permutation importance.
    pub permutation_repeats: usize,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            folds: 5,
            embargo_s: 900,
            calib_frac: 0.3,
            min_calib_windows: 20,
            gbt: GbtParams::default(),
            logistic_alpha: 1.0,
            permutation_repeats: 3,
            seed: 7,
        }
    }
}

/// One fold of the cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldReport {
    /// Fold number.
    pub fold: usize,
    /// Training windows after purge and embargo.
    pub train_windows: usize,
    /// Windows purged or embargoed.
    pub purged: usize,
    /// Windows the learners were fitted on.
    pub fit_windows: usize,
    /// Windows the calibration was fitted on (0: not calibrated).
    pub calib_windows: usize,
    /// Test windows.
    pub test_windows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// First test window start (RFC 3339).
    pub test_from: String,
    /// Last test window start.
    pub test_to: String,
}

/// Scores of one row set at one decision time (`t_left_s = None`: all times pooled).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    /// Seconds left, or `None` for all.
    pub t_left_s: Option<u32>,
    /// Scores per forecaster.
    pub scores: Vec<ForecasterScores>,
    /// Paired differences.
    pub paired: Vec<PairedDiff>,
}

/// Scores on one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreTable {
    /// Which rows (`rows with the BS digital`, …).
    pub rows: String,
    /// Pooled, then per decision time.
    pub by_t: Vec<ScoreRow>,
}

/// A feature's importance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    /// Feature name.
    pub feature: String,
    /// Share of the final ensemble's average split gain (`None`: never split on).
    pub gain: Option<f64>,
    /// Mean out-of-sample log-loss increase when the feature is shuffled (nats).
    pub permutation: Option<f64>,
    /// Rows where the feature is present, fraction.
    pub present: f64,
}

/// The result of [`train`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    /// Settings.
    pub config: TrainConfig,
    /// Rows in the dataset.
    pub rows: usize,
    /// Windows in the dataset.
    pub windows: usize,
    /// Features.
    pub features: usize,
    /// Folds.
    pub folds: Vec<FoldReport>,
    /// Rows with an out-of-sample prediction.
    pub oos_rows: usize,
    /// Model vs the BS digital on every OOS row that has it.
    pub vs_bs: ScoreTable,
    /// Model vs BS vs the market mid on the OOS rows that have both (`None`: no such rows).
    pub vs_market: Option<ScoreTable>,
    /// Importance, by permutation (then gain) descending.
    pub importance: Vec<Importance>,
    /// What the final model was trained on.
    pub final_span: TrainingSpan,
    /// Notes on the run (folds without calibration, …).
    pub notes: Vec<String>,
}

struct Prepared {
    spans: Vec<Span>,
    /// Window of each row.
    win: Vec<usize>,
    /// Rows of each window.
    rows_of: Vec<Vec<usize>>,
    x: Rows,
    y: Vec<bool>,
}

fn prepare(ds: &Dataset) -> Prepared {
    let mut idx: HashMap<&str, usize> = HashMap::new();
    let mut spans = Vec::new();
    let mut win = Vec::with_capacity(ds.rows.len());
    let mut rows_of: Vec<Vec<usize>> = Vec::new();
    let mut x = Rows::new(ds.feature_names.len());
    let mut y = Vec::with_capacity(ds.rows.len());
    for (i, r) in ds.rows.iter().enumerate() {
        let w = *idx.entry(r.slug.as_str()).or_insert_with(|| {
            spans.push(Span {
                start_ns: r.window_start_ns,
                end_ns: r.window_start_ns + u64::from(r.duration_s) * 1_000_000_000,
            });
            rows_of.push(Vec::new());
            spans.len() - 1
        });
        win.push(w);
        rows_of[w].push(i);
        x.push(&r.features);
        y.push(r.outcome_up);
    }
    Prepared {
        spans,
        win,
        rows_of,
        x,
        y,
    }
}

fn rows_for(p: &Prepared, windows: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = windows.iter().flat_map(|&w| p.rows_of[w].clone()).collect();
    v.sort_unstable();
    v
}

fn subset(p: &Prepared, rows: &[usize]) -> (Rows, Vec<bool>) {
    let mut x = Rows::new(p.x.cols);
    let mut y = Vec::with_capacity(rows.len());
    for &i in rows {
        x.push(p.x.row(i));
        y.push(p.y[i]);
    }
    (x, y)
}

/// The learners of one training set.
struct Fitted {
    gbt: Gbt,
    gbt_cal: Option<Isotonic>,
    lr: Option<Logistic>,
    lr_cal: Option<Isotonic>,
    fit_windows: usize,
    calib_windows: usize,
}

fn fit_all(p: &Prepared, train: &[usize], cfg: &TrainConfig) -> Result<Fitted, MlError> {
    let embargo = cfg.embargo_s * 1_000_000_000;
    let (fit_w, cal_w) = split_for_calibration(&p.spans, train, cfg.calib_frac, embargo);
    let cal_rows = rows_for(p, &cal_w);
    let two_classes = {
        let ups = cal_rows.iter().filter(|&&i| p.y[i]).count();
        ups > 0 && ups < cal_rows.len()
    };
    let calibrate = cal_w.len() >= cfg.min_calib_windows && !fit_w.is_empty() && two_classes;
    let fit_w = if calibrate { fit_w } else { train.to_vec() };
    let (fx, fy) = subset(p, &rows_for(p, &fit_w));
    let gbt = Gbt::fit(&fx, &fy, &cfg.gbt)?;
    let lr = Logistic::fit(&fx, &fy, cfg.logistic_alpha).ok();
    let (mut gbt_cal, mut lr_cal) = (None, None);
    if calibrate {
        let (cx, cy) = subset(p, &cal_rows);
        let g: Vec<(f64, bool)> = gbt
            .predict(&cx)
            .into_iter()
            .zip(cy.iter().copied())
            .collect();
        gbt_cal = Some(Isotonic::fit(&g)?);
        if let Some(l) = &lr {
            let v: Vec<(f64, bool)> = (0..cx.len())
                .map(|i| (l.predict_one(cx.row(i)), cy[i]))
                .collect();
            lr_cal = Some(Isotonic::fit(&v)?);
        }
    }
    Ok(Fitted {
        gbt,
        gbt_cal,
        lr,
        lr_cal,
        fit_windows: fit_w.len(),
        calib_windows: if calibrate { cal_w.len() } else { 0 },
    })
}

fn cal(c: Option<&Isotonic>, p: f64) -> f64 {
    c.map_or(p, |c| c.predict(p))
}

fn rfc(ns: u64) -> String {
    polyedge_core::UnixNanos(ns).to_rfc3339()
}

/// Out-of-sample predictions of one row.
#[derive(Debug, Clone, Copy)]
struct Oos {
    gbt: f64,
    gbt_raw: f64,
    logistic: Option<f64>,
}

/// Runs the procedure of the [module docs](self) on `ds`; returns the report and the final model.
///
/// # Errors
/// Too few windows for the folds, or a learner error.
pub fn train(ds: &Dataset, cfg: &TrainConfig) -> Result<(TrainReport, DirectionalModel), MlError> {
    let p = prepare(ds);
    let embargo = cfg.embargo_s * 1_000_000_000;
    let folds = walk_forward(&p.spans, cfg.folds, embargo);
    if folds.is_empty() {
        return Err(MlError::Data(format!(
            "{} windows: too few for {} walk-forward folds with a {} s embargo",
            p.spans.len(),
            cfg.folds,
            cfg.embargo_s
        )));
    }
    let nf = p.x.cols;
    let mut notes = Vec::new();
    let mut oos: Vec<Option<Oos>> = vec![None; ds.rows.len()];
    let mut fold_reports = Vec::new();
    let mut perm_sum = vec![0.0f64; nf];
    let mut perm_rows = vec![0usize; nf];
    for f in &folds {
        let fitted = fit_all(&p, &f.train, cfg)?;
        if fitted.calib_windows == 0 {
            notes.push(format!(
                "fold {}: {} training windows — too few (or one outcome) for a separate calibration set; raw outputs used",
                f.fold,
                f.train.len()
            ));
        }
        let test_rows = rows_for(&p, &f.test);
        let (tx, ty) = subset(&p, &test_rows);
        let raw = fitted.gbt.predict(&tx);
        for (k, &i) in test_rows.iter().enumerate() {
            oos[i] = Some(Oos {
                gbt: cal(fitted.gbt_cal.as_ref(), raw[k]),
                gbt_raw: raw[k],
                logistic: fitted
                    .lr
                    .as_ref()
                    .map(|l| cal(fitted.lr_cal.as_ref(), l.predict_one(tx.row(k)))),
            });
        }
        // Permutation importance on this fold's test rows.
        let base: f64 = raw
            .iter()
            .zip(&ty)
            .map(|(&q, &o)| log_score(cal(fitted.gbt_cal.as_ref(), q), o))
            .sum::<f64>()
            / ty.len() as f64;
        for j in 0..nf {
            let col: Vec<f64> = (0..tx.len()).map(|i| tx.row(i)[j]).collect();
            if col.iter().all(|v| v.is_nan()) {
                continue;
            }
            let mut total = 0.0;
            for r in 0..cfg.permutation_repeats.max(1) {
                let mut rng = StdRng::seed_from_u64(
                    cfg.seed ^ ((f.fold as u64) << 32) ^ ((j as u64) << 8) ^ r as u64,
                );
                let mut shuffled = col.clone();
                shuffled.shuffle(&mut rng);
                let mut px = tx.clone();
                for (i, v) in shuffled.iter().enumerate() {
                    px.data[i * nf + j] = *v;
                }
                let pr = fitted.gbt.predict(&px);
                total += pr
                    .iter()
                    .zip(&ty)
                    .map(|(&q, &o)| log_score(cal(fitted.gbt_cal.as_ref(), q), o))
                    .sum::<f64>()
                    / ty.len() as f64
                    - base;
            }
            perm_sum[j] += total / cfg.permutation_repeats.max(1) as f64 * ty.len() as f64;
            perm_rows[j] += ty.len();
        }
        let starts: Vec<u64> = f.test.iter().map(|&w| p.spans[w].start_ns).collect();
        fold_reports.push(FoldReport {
            fold: f.fold,
            train_windows: f.train.len(),
            purged: f.purged,
            fit_windows: fitted.fit_windows,
            calib_windows: fitted.calib_windows,
            test_windows: f.test.len(),
            test_rows: test_rows.len(),
            test_from: rfc(starts.iter().copied().min().unwrap_or(0)),
            test_to: rfc(starts.iter().copied().max().unwrap_or(0)),
        });
    }

    // Scores on the same rows.
    let bs_col = ds.feature_names.iter().position(|n| n == "bs_p_up");
    let mut vs_bs = Vec::new();
    let mut vs_mkt = Vec::new();
    for (i, o) in oos.iter().enumerate() {
        let Some(o) = o else { continue };
        let r = &ds.rows[i];
        let Some(bs) = bs_col.map(|c| r.features[c]).filter(|v| v.is_finite()) else {
            continue;
        };
        let lr = o.logistic.unwrap_or(f64::NAN);
        vs_bs.push((
            r.t_left_s,
            Scored {
                window: p.win[i],
                up: r.outcome_up,
                p: vec![o.gbt, o.gbt_raw, lr, bs],
            },
        ));
        if let Some(m) = r.market_mid {
            vs_mkt.push((
                r.t_left_s,
                Scored {
                    window: p.win[i],
                    up: r.outcome_up,
                    p: vec![o.gbt, lr, bs, m],
                },
            ));
        }
    }
    let has_lr = oos.iter().flatten().all(|o| o.logistic.is_some());
    if !has_lr {
        notes.push("the logistic baseline failed in some fold (one outcome in its training rows): its scores are left out".into());
    }
    let table = |name: &str, rows: &[(u32, Scored)], names: &[&str], pairs: &[(usize, usize)]| {
        let mut ts: BTreeSet<u32> = rows.iter().map(|r| r.0).collect::<BTreeSet<_>>();
        let mut by_t = Vec::new();
        let keys: Vec<Option<u32>> = std::iter::once(None)
            .chain(std::mem::take(&mut ts).into_iter().rev().map(Some))
            .collect();
        for key in keys {
            let sel: Vec<Scored> = rows
                .iter()
                .filter(|r| key.is_none_or(|t| r.0 == t))
                .map(|r| r.1.clone())
                .collect();
            if sel.is_empty() {
                continue;
            }
            let keep: Vec<usize> = (0..names.len())
                .filter(|&k| has_lr || names[k] != "logistic")
                .collect();
            let scores = score(names, &sel)
                .into_iter()
                .enumerate()
                .filter(|(k, _)| keep.contains(k))
                .map(|(_, s)| s)
                .collect();
            let paired = pairs
                .iter()
                .filter(|(a, b)| keep.contains(a) && keep.contains(b))
                .map(|&(a, b)| paired(names, &sel, a, b))
                .collect();
            by_t.push(ScoreRow {
                t_left_s: key,
                scores,
                paired,
            });
        }
        ScoreTable {
            rows: name.to_string(),
            by_t,
        }
    };
    let vs_bs_t = table(
        "out-of-sample rows with the BS digital",
        &vs_bs,
        &["gbt", "gbt_raw", "logistic", "bs_digital"],
        &[(0, 3), (2, 3), (0, 2)],
    );
    let vs_mkt_t = (!vs_mkt.is_empty()).then(|| {
        table(
            "out-of-sample rows with the BS digital and the market mid",
            &vs_mkt,
            &["gbt", "logistic", "bs_digital", "market_mid"],
            &[(0, 3), (2, 3), (0, 2), (1, 3)],
        )
    });
    if bs_col.is_none() {
        notes.push("the dataset has no bs_p_up column: no BS comparison".into());
    }

    // Final model on everything.
    let all: Vec<usize> = (0..p.spans.len()).collect();
    let fitted = fit_all(&p, &all, cfg)?;
    let gain: HashMap<usize, f64> = fitted.gbt.gain_importance().into_iter().collect();
    let mut importance: Vec<Importance> = (0..nf)
        .map(|j| {
            let present = (0..p.x.len())
                .filter(|&i| p.x.row(i)[j].is_finite())
                .count() as f64
                / p.x.len().max(1) as f64;
            Importance {
                feature: ds.feature_names[j].clone(),
                gain: gain.get(&j).copied(),
                permutation: (perm_rows[j] > 0).then(|| perm_sum[j] / perm_rows[j] as f64),
                present,
            }
        })
        .collect();
    importance.sort_by(|a, b| {
        b.permutation
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.permutation.unwrap_or(f64::NEG_INFINITY))
            .then(b.gain.unwrap_or(0.0).total_cmp(&a.gain.unwrap_or(0.0)))
    });
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    for r in &ds.rows {
        *sources.entry(r.outcome_source.clone()).or_default() += 1;
    }
    let span = TrainingSpan {
        from: rfc(p.spans.iter().map(|s| s.start_ns).min().unwrap_or(0)),
        to: rfc(p.spans.iter().map(|s| s.end_ns).max().unwrap_or(0)),
        windows: p.spans.len(),
        rows: ds.rows.len(),
        decision_times_s: ds
            .rows
            .iter()
            .map(|r| r.t_left_s)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .rev()
            .collect(),
        recordings: ds
            .rows
            .iter()
            .map(|r| r.recording.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        outcome_sources: sources,
    };
    if fitted.calib_windows == 0 {
        notes.push("final model: too few windows for a calibration set; raw output".into());
    }
    let model = DirectionalModel::new(
        ds.feature_names.clone(),
        ds.schema_hash.clone(),
        span.clone(),
        cfg.gbt,
        fitted.gbt,
        fitted.gbt_cal,
    )?;
    let report = TrainReport {
        config: cfg.clone(),
        rows: ds.rows.len(),
        windows: p.spans.len(),
        features: nf,
        folds: fold_reports,
        oos_rows: oos.iter().flatten().count(),
        vs_bs: vs_bs_t,
        vs_market: vs_mkt_t,
        importance,
        final_span: span,
        notes,
    };
    Ok((report, model))
}
