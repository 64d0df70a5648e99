//! `polyedge train <dataset>… [--model-out FILE]`: the directional model from `polyedge features`
//! datasets — purged walk-forward cross-validation, out-of-sample scores beside the
//! Black–Scholes digital and the market mid on the same rows, importance, and the final model
//! file. The procedure: `polyedge_ml::train`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polyedge_ml::train::{ScoreTable, TrainReport};
use polyedge_ml::{Dataset, TrainConfig, train};

/// Arguments of `polyedge train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Datasets: `features.parquet` files or `polyedge features` output directories.
    #[arg(required = true)]
    pub datasets: Vec<PathBuf>,
    /// Where to write the model (default: model.json beside the first dataset).
    #[arg(long)]
    pub model_out: Option<PathBuf>,
    /// Walk-forward folds.
    #[arg(long, default_value_t = TrainConfig::default().folds)]
    pub folds: usize,
    /// Embargo between training and test windows, seconds.
    #[arg(long, default_value_t = TrainConfig::default().embargo_s)]
    pub embargo_s: u64,
    /// Share of each training set (its latest windows) used to fit the isotonic calibration.
    #[arg(long, default_value_t = TrainConfig::default().calib_frac)]
    pub calib_frac: f64,
    /// Trees in the ensemble.
    #[arg(long, default_value_t = TrainConfig::default().gbt.iterations)]
    pub trees: usize,
    /// Maximum tree depth.
    #[arg(long, default_value_t = TrainConfig::default().gbt.max_depth)]
    pub max_depth: usize,
    /// Learning rate.
    #[arg(long, default_value_t = TrainConfig::default().gbt.learning_rate)]
    pub learning_rate: f32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// How many features the importance table lists.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Train only on windows that end at or before this time (RFC 3339 UTC or unix seconds),
    /// holding the later ones out, e.g. for a backtest with `--from` at the same time.
    #[arg(long)]
    pub until: Option<String>,
}

fn dataset_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("features.parquet")
    } else {
        p.to_path_buf()
    }
}

/// Runs the command.
///
/// # Errors
/// Unreadable or mismatched datasets, too little data, an unwritable model file.
pub fn run(args: &TrainArgs) -> Result<()> {
    let mut ds: Option<Dataset> = None;
    for p in &args.datasets {
        let path = dataset_path(p);
        let d = Dataset::read_parquet(&path).with_context(|| format!("read {}", path.display()))?;
        match &mut ds {
            None => ds = Some(d),
            Some(acc) => {
                if acc.feature_names != d.feature_names || acc.schema_hash != d.schema_hash {
                    bail!(
                        "{}: feature schema {} differs from {} of the first dataset",
                        path.display(),
                        d.schema_hash,
                        acc.schema_hash
                    );
                }
                let have: std::collections::HashSet<String> =
                    acc.rows.iter().map(|r| r.slug.clone()).collect();
                acc.rows
                    .extend(d.rows.into_iter().filter(|r| !have.contains(&r.slug)));
            }
        }
    }
    let Some(mut ds) = ds else {
        bail!("no dataset given");
    };
    if let Some(until) = &args.until {
        let until = crate::parse_time(until).context("--until")?;
        let before = ds.rows.len();
        ds.rows
            .retain(|r| r.window_start_ns + u64::from(r.duration_s) * 1_000_000_000 <= until.0);
        eprintln!(
            "--until {until}: {} of {before} rows (windows ending at or before it)",
            ds.rows.len()
        );
        if ds.rows.is_empty() {
            bail!("--until {until}: no window of the datasets ends at or before it");
        }
    }
    if !(0.0..1.0).contains(&args.calib_frac) {
        bail!("--calib-frac must be in [0, 1)");
    }
    let mut cfg = TrainConfig {
        folds: args.folds,
        embargo_s: args.embargo_s,
        calib_frac: args.calib_frac,
        ..TrainConfig::default()
    };
    cfg.gbt.iterations = args.trees;
    cfg.gbt.max_depth = args.max_depth;
    cfg.gbt.learning_rate = args.learning_rate;
    let (report, model) = train(&ds, &cfg).context("train")?;
    let out = args.model_out.clone().unwrap_or_else(|| {
        dataset_path(&args.datasets[0])
            .parent()
            .map_or_else(|| PathBuf::from("model.json"), |d| d.join("model.json"))
    });
    model
        .save(&out)
        .with_context(|| format!("write {}", out.display()))?;
    let report_path = out.with_extension("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("write {}", report_path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, args.top));
        println!(
            "model → {} (schema {}); report → {}",
            out.display(),
            model.doc().schema_hash,
            report_path.display()
        );
    }
    Ok(())
}

fn pm(x: f64, se: f64) -> String {
    if se.is_finite() {
        format!("{x:.4} ± {se:.4}")
    } else {
        format!("{x:.4}")
    }
}

fn render_table(out: &mut String, t: &ScoreTable) {
    let n = t
        .by_t
        .first()
        .and_then(|r| r.scores.first())
        .map_or(0, |s| s.n);
    let _ = writeln!(
        out,
        "\n{} (n = {n}; ± = standard error, clustered by window):",
        t.rows
    );
    let _ = writeln!(
        out,
        "{:<5} {:<11} {:>5}  {:>17}  {:>17}",
        "t", "forecaster", "n", "Brier", "log loss"
    );
    for row in &t.by_t {
        let key = row
            .t_left_s
            .map_or_else(|| "all".to_string(), |t| t.to_string());
        for s in &row.scores {
            let _ = writeln!(
                out,
                "{key:<5} {:<11} {:>5}  {:>17}  {:>17}",
                s.name,
                s.n,
                pm(s.brier, s.brier_se),
                pm(s.log_loss, s.log_loss_se)
            );
        }
    }
    let _ = writeln!(out, "paired differences a − b (negative: a better):");
    for row in &t.by_t {
        let key = row
            .t_left_s
            .map_or_else(|| "all".to_string(), |t| t.to_string());
        for d in &row.paired {
            let _ = writeln!(
                out,
                "{key:<5} {:<26} Brier {:>17}  log loss {:>17}",
                format!("{} − {}", d.a, d.b),
                pm(d.brier_diff, d.brier_diff_se),
                pm(d.log_loss_diff, d.log_loss_diff_se)
            );
        }
    }
}

/// The printed report.
pub fn render(r: &TrainReport, top: usize) -> String {
    let mut out = String::new();
    let c = &r.config;
    let _ = writeln!(
        out,
        "{} rows, {} windows, {} features; walk-forward {} folds, embargo {} s, calibration on the last {:.0} % of each training set; {} trees, depth {}, learning rate {}",
        r.rows,
        r.windows,
        r.features,
        c.folds,
        c.embargo_s,
        c.calib_frac * 100.0,
        c.gbt.iterations,
        c.gbt.max_depth,
        c.gbt.learning_rate
    );
    let _ = writeln!(
        out,
        "{:<5} {:>6} {:>7} {:>5} {:>6} {:>5} {:>6}  test windows",
        "fold", "train", "purged", "fit", "calib", "test", "rows"
    );
    for f in &r.folds {
        let _ = writeln!(
            out,
            "{:<5} {:>6} {:>7} {:>5} {:>6} {:>5} {:>6}  {} .. {}",
            f.fold,
            f.train_windows,
            f.purged,
            f.fit_windows,
            f.calib_windows,
            f.test_windows,
            f.test_rows,
            f.test_from,
            f.test_to
        );
    }
    let _ = writeln!(out, "out-of-sample rows: {}", r.oos_rows);
    render_table(&mut out, &r.vs_bs);
    match &r.vs_market {
        Some(t) => render_table(&mut out, t),
        None => {
            let _ = writeln!(
                out,
                "\nno out-of-sample row has a market mid (no books in the data)"
            );
        }
    }
    let _ = writeln!(
        out,
        "\nimportance (top {top} by permutation: mean out-of-sample log-loss increase when shuffled; gain: share of the final ensemble's average split gain):"
    );
    let _ = writeln!(
        out,
        "{:<22} {:>8} {:>12} {:>8}",
        "feature", "present", "permutation", "gain"
    );
    for i in r.importance.iter().take(top) {
        let _ = writeln!(
            out,
            "{:<22} {:>7.1}% {:>12} {:>8}",
            i.feature,
            i.present * 100.0,
            i.permutation
                .map_or_else(|| "—".to_string(), |p| format!("{p:+.5}")),
            i.gain
                .map_or_else(|| "—".to_string(), |g| format!("{g:.3}"))
        );
    }
    let never: Vec<&str> = r
        .importance
        .iter()
        .filter(|i| i.present == 0.0)
        .map(|i| i.feature.as_str())
        .collect();
    if !never.is_empty() {
        let _ = writeln!(out, "never present ({}): {}", never.len(), never.join(", "));
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let s = &r.final_span;
    let _ = writeln!(
        out,
        "final model: {} windows, {} rows, {} .. {}, t = {:?}, outcomes {:?}",
        s.windows, s.rows, s.from, s.to, s.decision_times_s, s.outcome_sources
    );
    out
}
