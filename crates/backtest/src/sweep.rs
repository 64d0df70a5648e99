//! `polyedge sweep`: one strategy's backtest over a grid (or a random sample) of its TOML
//! parameters, run in parallel, with the deflated Sharpe ratio correcting the best result for
//! the number of configurations tried.
//!
//! # Configurations
//! Each [`Axis`] names a parameter of the strategy's `[strategies.<name>]` table by its dotted
//! path (`threshold_bps`, `sizing.kelly_fraction`, `fair.lookback_s`) and the values it takes
//! (TOML values: `500`, `0.25`, `"20"`, `true`). A **grid** is the cartesian product of the axes,
//! the first axis varying slowest; configuration `i` is the `i`-th element of that product. A
//! **random search** draws `samples` configurations, each axis independently: a list
//! uniformly, a range `lo:hi` uniformly on `[lo, hi]` (integers when both bounds are integers),
//! from ChaCha8 seeded by the sweep's seed ([`crate::stats::stream_seed`]). Either way the list
//! of configurations is a pure function of the axes, the search and the seed.
//!
//! Every configuration is one [`crate::run`] of the strategy with the base configuration's
//! table plus the configuration's values, over the same recordings, range and seed. Runs are
//! independent and run in parallel on a rayon pool (all cores by default). Baselines are off
//! unless asked for (`baseline = true` adds each configuration's random twin and the
//! permutation p-value).
//!
//! # Sharding
//! `--shard I/N` runs the configurations whose index `i` satisfies `i mod N = I` (`0 ≤ I < N`),
//! so a batch scheduler can spread a sweep over machines; [`merge`] combines the shards into the
//! table a single run gives (checked: same spec, every configuration exactly once). The
//! sweep-wide columns (`psr`, `dsr`, `rank`) need every configuration, so a shard's table leaves
//! them empty and [`finalize`] fills them — a single run goes through the same function.
//!
//! # The table
//! One row per configuration in index order: its parameter values, then net PnL (pUSD, exact),
//! return %, per-window Sharpe ratio with its 95 % bootstrap interval, window win rate, trades,
//! windows traded, max drawdown, fees, profit factor, the skewness and kurtosis of its per-window
//! returns and their count, the p-value against its twin (with baselines), then PSR(0), the DSR
//! ([`crate::deflated`]) and the rank by the objective. Floats are written in Rust's shortest
//! round-trip form, so the CSV read back gives the same numbers and a merge the same bytes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use polyedge_store::{NoProgress, Progress};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::deflated::{self, Moments};
use crate::runner::{BacktestError, Inputs};
use crate::stats;
use crate::summary;

/// Format name of `sweep.json`.
pub const FORMAT: &str = "polyedge-sweep";
/// Format version of `sweep.json` and the table.
pub const FORMAT_VERSION: u32 = 1;

/// Why a sweep could not run or merge.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A bad axis, search, shard or objective.
    #[error("{0}")]
    Spec(String),
    /// A configuration's backtest failed (its index and parameters are in the message).
    #[error("configuration {index} ({params}): {error}")]
    Run {
        /// Configuration index.
        index: usize,
        /// Its parameters, `path=value` joined by spaces.
        params: String,
        /// The backtest's error.
        error: BacktestError,
    },
    /// A shard table could not be read or does not belong with the others.
    #[error("{0}")]
    Merge(String),
}

/// The values one parameter takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AxisValues {
    /// These values (grid: each; random: uniformly one).
    List {
        /// The values, as TOML.
        values: Vec<String>,
    },
    /// A range (grid: `lo, lo+step, …, ≤ hi`; random: uniform on `[lo, hi]`, or on the grid
    /// points when `step` is given).
    Range {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
        /// Grid step.
        step: Option<f64>,
        /// Both bounds (and the step) are integers: values are integers.
        integer: bool,
    },
}

/// One swept parameter: its dotted path in the strategy's table and its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// Dotted path, e.g. `sizing.kelly_fraction`.
    pub path: String,
    /// Its values.
    pub values: AxisValues,
}

fn parse_toml_value(s: &str) -> Result<toml::Value, String> {
    let t: toml::Table = toml::from_str(&format!("v = {s}"))
        .map_err(|e| format!("{s:?} is not a TOML value ({})", e.to_string().trim()))?;
    t.get("v")
        .cloned()
        .ok_or_else(|| format!("{s:?} is not a TOML value"))
}

/// Renders a float with at most 10 decimals (so `0.1 + 0.2` prints `0.3`) in TOML form.
fn float_value(x: f64) -> toml::Value {
    toml::Value::Float((x * 1e10).round() / 1e10)
}

fn is_int(s: &str) -> bool {
    s.trim().parse::<i64>().is_ok()
}

impl Axis {
    /// Parses `path=v1,v2,…` (a list of TOML values) or `path=lo:hi[:step]` (a range).
    ///
    /// # Errors
    /// A missing `=`, an empty path, a value that is not TOML, a range with `lo > hi`, a
    /// non-positive step, or a grid range of more than 10 000 points.
    pub fn parse(spec: &str) -> Result<Axis, String> {
        let (path, vals) = spec
            .split_once('=')
            .ok_or_else(|| format!("--param {spec:?}: expected path=values (e.g. threshold_bps=100,200 or sizing.kelly_fraction=0.05:0.5:0.05)"))?;
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("--param {spec:?}: empty parameter path"));
        }
        let vals = vals.trim();
        let parts: Vec<&str> = vals.split(':').collect();
        let numeric = parts.iter().all(|p| p.trim().parse::<f64>().is_ok());
        let values = if (parts.len() == 2 || parts.len() == 3) && numeric {
            let num = |p: &str| p.trim().parse::<f64>().unwrap_or(f64::NAN);
            let (lo, hi) = (num(parts[0]), num(parts[1]));
            let step = parts.get(2).map(|p| num(p));
            if lo.is_nan() || hi.is_nan() || lo > hi {
                return Err(format!("--param {spec:?}: range lo {lo} > hi {hi}"));
            }
            if let Some(s) = step {
                if s.is_nan() || s <= 0.0 {
                    return Err(format!("--param {spec:?}: step must be > 0"));
                }
                if (hi - lo) / s > 10_000.0 {
                    return Err(format!("--param {spec:?}: more than 10 000 grid points"));
                }
            }
            AxisValues::Range {
                lo,
                hi,
                step,
                integer: parts.iter().all(|p| is_int(p)),
            }
        } else {
            let values: Vec<String> = split_top_level(vals);
            for v in &values {
                parse_toml_value(v).map_err(|e| format!("--param {spec:?}: {e}"))?;
            }
            if values.is_empty() {
                return Err(format!("--param {spec:?}: no values"));
            }
            AxisValues::List { values }
        };
        Ok(Axis {
            path: path.to_string(),
            values,
        })
    }

    /// The grid values of the axis.
    ///
    /// # Errors
    /// A range without a step (only random search can draw from it).
    pub fn grid(&self) -> Result<Vec<toml::Value>, String> {
        match &self.values {
            AxisValues::List { values } => values.iter().map(|v| parse_toml_value(v)).collect(),
            AxisValues::Range {
                lo,
                hi,
                step: Some(step),
                integer,
            } => {
                let mut out = Vec::new();
                let mut k = 0u32;
                loop {
                    let x = lo + f64::from(k) * step;
                    if x > hi + step * 1e-9 {
                        break;
                    }
                    out.push(if *integer {
                        #[allow(clippy::cast_possible_truncation)]
                        toml::Value::Integer(x.round() as i64)
                    } else {
                        float_value(x)
                    });
                    k += 1;
                }
                Ok(out)
            }
            AxisValues::Range { step: None, .. } => Err(format!(
                "--param {}: a range without a step (lo:hi) needs --search random; give lo:hi:step for a grid",
                self.path
            )),
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<toml::Value, String> {
        if let AxisValues::Range {
            lo,
            hi,
            step: None,
            integer,
        } = &self.values
        {
            return Ok(if *integer {
                #[allow(clippy::cast_possible_truncation)]
                toml::Value::Integer(rng.gen_range(lo.round() as i64..=hi.round() as i64))
            } else if lo >= hi {
                float_value(*lo)
            } else {
                float_value(rng.gen_range(*lo..=*hi))
            });
        }
        let g = self.grid()?;
        Ok(g[rng.gen_range(0..g.len())].clone())
    }
}

/// Splits `a,b,[c,d],"e,f"` at top-level commas (not inside brackets or quotes).
fn split_top_level(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in s.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(o)) if q == o => quote = None,
            ('[' | '{', None) => depth += 1,
            (']' | '}', None) => depth -= 1,
            (',', None) if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Grid or random search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Search {
    /// Every combination.
    Grid,
    /// `samples` random combinations.
    Random {
        /// How many.
        samples: usize,
    },
}

/// What ranks the configurations (and what walk-forward selects on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Per-window Sharpe ratio (undefined ranks last).
    #[default]
    Sharpe,
    /// Net PnL.
    NetPnl,
}

impl Objective {
    /// Parses `sharpe` or `net_pnl`.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "sharpe" => Ok(Objective::Sharpe),
            "net_pnl" | "pnl" => Ok(Objective::NetPnl),
            _ => Err(format!("objective {s:?}: expected sharpe or net_pnl")),
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Sharpe => "sharpe",
            Objective::NetPnl => "net_pnl",
        }
    }

    /// The row's score (higher is better; `-inf` when undefined).
    pub fn score(self, r: &SweepRow) -> f64 {
        match self {
            Objective::Sharpe => r.sharpe_per_window.unwrap_or(f64::NEG_INFINITY),
            Objective::NetPnl => r.net_pnl_f64(),
        }
    }
}

/// A sweep: which strategy, which parameters, how searched. Everything that decides the table
/// (with the recordings, range and base configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// Registry name of the strategy.
    pub strategy: String,
    /// The swept parameters.
    pub axes: Vec<Axis>,
    /// Grid or random.
    pub search: Search,
    /// Seed of the random search and of every run (twins, seeded strategies, bootstrap).
    pub seed: u64,
    /// Ranking objective.
    pub objective: Objective,
    /// Run each configuration's random twin too.
    pub baseline: bool,
}

/// One configuration: its index and its values, one per axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// Index in the sweep.
    pub index: usize,
    /// Values, in axis order.
    pub values: Vec<toml::Value>,
}

impl SweepSpec {
    /// Every configuration of the sweep, in index order (module docs).
    ///
    /// # Errors
    /// No axis, a repeated path, a range without a step in a grid, zero random samples, or
    /// more than 1 000 000 configurations.
    pub fn configurations(&self) -> Result<Vec<Configuration>, SweepError> {
        if self.axes.is_empty() {
            return Err(SweepError::Spec(
                "give at least one --param path=values".into(),
            ));
        }
        for (i, a) in self.axes.iter().enumerate() {
            if self.axes[..i].iter().any(|b| b.path == a.path) {
                return Err(SweepError::Spec(format!(
                    "--param {} is given twice",
                    a.path
                )));
            }
        }
        match self.search {
            Search::Grid => {
                let grids: Vec<Vec<toml::Value>> = self
                    .axes
                    .iter()
                    .map(Axis::grid)
                    .collect::<Result<_, _>>()
                    .map_err(SweepError::Spec)?;
                let total = grids
                    .iter()
                    .try_fold(1usize, |acc, g| acc.checked_mul(g.len()))
                    .filter(|&t| t <= 1_000_000)
                    .ok_or_else(|| SweepError::Spec("more than 1 000 000 configurations".into()))?;
                Ok((0..total)
                    .map(|index| {
                        let mut rest = index;
                        let mut values = vec![toml::Value::Boolean(false); grids.len()];
                        for (k, g) in grids.iter().enumerate().rev() {
                            values[k] = g[rest % g.len()].clone();
                            rest /= g.len();
                        }
                        Configuration { index, values }
                    })
                    .collect())
            }
            Search::Random { samples } => {
                if samples == 0 || samples > 1_000_000 {
                    return Err(SweepError::Spec(
                        "--samples must be between 1 and 1 000 000".into(),
                    ));
                }
                let mut rng = ChaCha8Rng::seed_from_u64(stats::stream_seed(
                    self.seed,
                    "sweep",
                    &self.strategy,
                ));
                (0..samples)
                    .map(|index| {
                        let values = self
                            .axes
                            .iter()
                            .map(|a| a.draw(&mut rng))
                            .collect::<Result<_, _>>()
                            .map_err(SweepError::Spec)?;
                        Ok(Configuration { index, values })
                    })
                    .collect()
            }
        }
    }

    /// The base parameter table of the strategy with `c`'s values set at their paths.
    ///
    /// # Errors
    /// A path that runs through a value that is not a table.
    pub fn table_for(
        &self,
        base: &toml::Table,
        c: &Configuration,
    ) -> Result<toml::Table, SweepError> {
        let mut t = base.clone();
        for (axis, v) in self.axes.iter().zip(&c.values) {
            set_path(&mut t, &axis.path, v.clone()).map_err(SweepError::Spec)?;
        }
        Ok(t)
    }
}

/// Sets `path` (dotted) in `t` to `v`, creating tables on the way.
///
/// # Errors
/// A path component that exists and is not a table.
pub fn set_path(t: &mut toml::Table, path: &str, v: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut cur = t;
    for p in parts {
        let e = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = e
            .as_table_mut()
            .ok_or_else(|| format!("parameter {path}: {p} is not a table"))?;
    }
    cur.insert(last.to_string(), v);
    Ok(())
}

/// A shard `I/N` (`0 ≤ I < N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N`.
    ///
    /// # Errors
    /// Not two integers, `N = 0` or `I ≥ N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether configuration `i` belongs to this shard.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// The figures of one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// Configuration index.
    pub index: usize,
    /// Parameter values (TOML), in axis order.
    pub params: Vec<String>,
    /// Net PnL, pUSD (exact decimal string).
    pub net_pnl: String,
    /// Return on start cash, %.
    pub return_pct: f64,
    /// Per-window Sharpe ratio.
    pub sharpe_per_window: Option<f64>,
    /// Its 95 % bootstrap interval, lower bound.
    pub sharpe_lo: Option<f64>,
    /// Upper bound.
    pub sharpe_hi: Option<f64>,
    /// Net PnL 95 % interval, lower bound (pUSD).
    pub net_pnl_lo: Option<f64>,
    /// Upper bound.
    pub net_pnl_hi: Option<f64>,
    /// Window win rate.
    pub win_rate_windows: Option<f64>,
    /// Fills.
    pub trades: u64,
    /// Windows traded.
    pub windows_traded: u64,
    /// Windows in the return series.
    pub windows: u64,
    /// Max drawdown, pUSD (exact).
    pub max_drawdown: String,
    /// Fees, pUSD (exact).
    pub fees: String,
    /// Profit factor.
    pub profit_factor: Option<f64>,
    /// Skewness of the per-window returns.
    pub skewness: Option<f64>,
    /// Kurtosis (non-excess).
    pub kurtosis: Option<f64>,
    /// One-sided permutation p-value against the random twin (with baselines).
    pub p_vs_twin: Option<f64>,
    /// PSR(0) (sweep-wide column; empty in a shard).
    pub psr: Option<f64>,
    /// Deflated Sharpe ratio (sweep-wide).
    pub dsr: Option<f64>,
    /// Rank by the objective, 1 = best (sweep-wide).
    pub rank: Option<usize>,
}

impl SweepRow {
    /// Net PnL as a float.
    pub fn net_pnl_f64(&self) -> f64 {
        self.net_pnl.parse().unwrap_or(f64::NAN)
    }

    fn moments(&self) -> Option<Moments> {
        Some(Moments {
            n: self.windows,
            sharpe: self.sharpe_per_window?,
            skewness: self.skewness?,
            kurtosis: self.kurtosis?,
        })
    }
}

/// The sweep-wide figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// Configurations in the table.
    pub configurations: usize,
    /// Of those, with a defined Sharpe ratio.
    pub with_sharpe: usize,
    /// Variance of their Sharpe ratios.
    pub sharpe_variance: f64,
    /// `SR₀`: expected maximum Sharpe ratio of that many unskilled trials.
    pub expected_max_sharpe: f64,
    /// Index of the best configuration by the objective.
    pub best: Option<usize>,
    /// Its parameters (`path = value`).
    pub best_params: BTreeMap<String, String>,
    /// Its Sharpe ratio.
    pub best_sharpe: Option<f64>,
    /// Its net PnL, pUSD.
    pub best_net_pnl: Option<String>,
    /// Its PSR(0).
    pub best_psr: Option<f64>,
    /// Its deflated Sharpe ratio.
    pub best_dsr: Option<f64>,
}

/// A sweep's table: the spec, the rows (index order) and, once final, the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepTable {
    /// The sweep.
    pub spec: SweepSpec,
    /// Total configurations of the sweep (all shards).
    pub total: usize,
    /// The shard this table holds (`None`: all of it).
    pub shard: Option<Shard>,
    /// The rows.
    pub rows: Vec<SweepRow>,
    /// Sweep-wide figures (`None` for a shard).
    pub summary: Option<SweepSummary>,
}

/// Runs the configurations of `spec` (those of `shard`) over `base` on `threads` threads (all
/// cores when `None`), reporting configurations done to `progress`. The table is final
/// ([`finalize`]) unless it is a shard.
///
/// # Errors
/// A bad spec, a parameter the strategy refuses (found before anything runs), or a backtest
/// failure.
pub fn run(
    base: &Inputs,
    spec: &SweepSpec,
    shard: Option<Shard>,
    threads: Option<usize>,
    progress: &(dyn Progress + Sync),
) -> Result<SweepTable, SweepError> {
    let configs = spec.configurations()?;
    let total = configs.len();
    let mine: Vec<&Configuration> = configs
        .iter()
        .filter(|c| shard.is_none_or(|s| s.owns(c.index)))
        .collect();
    let base_table = base.config.params(&spec.strategy);
    // Check every configuration's parameters before running anything.
    let mut inputs_of = Vec::with_capacity(mine.len());
    for c in &mine {
        let table = spec.table_for(&base_table, c)?;
        let mut inputs = base.clone();
        inputs.strategies = Some(vec![spec.strategy.clone()]);
        inputs.seed = Some(spec.seed);
        inputs.config.baseline = spec.baseline;
        // Configurations run side by side on every core: no reader thread per backtest.
        inputs.single_thread = threads != Some(1) && mine.len() > 1;
        inputs
            .config
            .strategies
            .insert(spec.strategy.clone(), toml::Spanned::new(0..0, table));
        inputs
            .config
            .build(&spec.strategy, spec.seed)
            .map_err(|e| SweepError::Run {
                index: c.index,
                params: describe(spec, c),
                error: BacktestError::Config(e),
            })?;
        inputs_of.push((*c, inputs));
    }
    progress.set_total(inputs_of.len() as u64, "configurations");
    let done = AtomicU64::new(0);
    let work = || {
        inputs_of
            .par_iter()
            .map(|(c, inputs)| {
                let bt = crate::run(inputs, &NoProgress).map_err(|error| SweepError::Run {
                    index: c.index,
                    params: describe(spec, c),
                    error,
                })?;
                done.fetch_add(1, Ordering::Relaxed);
                progress.inc(1);
                Ok(row_of(c, &bt))
            })
            .collect::<Result<Vec<SweepRow>, SweepError>>()
    };
    let rows = match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| SweepError::Spec(format!("thread pool: {e}")))?
            .install(work)?,
        None => work()?,
    };
    let table = SweepTable {
        spec: spec.clone(),
        total,
        shard,
        rows,
        summary: None,
    };
    Ok(if shard.is_some_and(|s| s.count > 1) {
        table
    } else {
        finalize(SweepTable {
            shard: None,
            ..table
        })
    })
}

fn describe(spec: &SweepSpec, c: &Configuration) -> String {
    spec.axes
        .iter()
        .zip(&c.values)
        .map(|(a, v)| format!("{}={v}", a.path))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The row of configuration `c` from its backtest.
pub fn row_of(c: &Configuration, bt: &crate::Backtest) -> SweepRow {
    let s = summary::build(bt);
    let st = &s.strategies[0];
    let m = &st.metrics;
    let series: Vec<f64> = stats::window_series(&bt.main.strategies[0], &bt.windows)
        .iter()
        .map(|w| w.pnl as f64 / 1e6)
        .collect();
    let mo = deflated::moments(&series);
    let u = &m.uncertainty;
    SweepRow {
        index: c.index,
        params: c.values.iter().map(ToString::to_string).collect(),
        net_pnl: m.net_pnl.to_string(),
        return_pct: m.return_pct,
        sharpe_per_window: m.sharpe_per_window,
        sharpe_lo: u.sharpe_per_window.map(|i| i.lo),
        sharpe_hi: u.sharpe_per_window.map(|i| i.hi),
        net_pnl_lo: u.net_pnl.map(|i| i.lo),
        net_pnl_hi: u.net_pnl.map(|i| i.hi),
        win_rate_windows: m.win_rate_windows,
        trades: m.trades,
        windows_traded: m.windows_traded,
        windows: m.return_windows,
        max_drawdown: m.max_drawdown.to_string(),
        fees: m.fees_paid.to_string(),
        profit_factor: m.profit_factor,
        skewness: mo.map(|x| x.skewness),
        kurtosis: mo.map(|x| x.kurtosis),
        p_vs_twin: st.vs_twin.as_ref().map(|v| v.p_value_greater),
        psr: None,
        dsr: None,
        rank: None,
    }
}

/// Fills the sweep-wide columns and the summary of a complete table (rows in index order):
/// PSR(0) of each configuration, its DSR against `SR₀` of all configurations
/// ([`crate::deflated`]), and the rank by the objective (ties by index).
pub fn finalize(mut t: SweepTable) -> SweepTable {
    t.rows.sort_by_key(|r| r.index);
    let sharpes: Vec<f64> = t.rows.iter().filter_map(|r| r.sharpe_per_window).collect();
    let var = deflated::variance(&sharpes);
    let n = t.rows.len() as u64;
    let sr0 = deflated::expected_max_sharpe(n, var);
    for r in &mut t.rows {
        let m = r.moments();
        r.psr = m.and_then(|m| deflated::psr(&m, 0.0));
        r.dsr = m.and_then(|m| deflated::psr(&m, sr0));
    }
    let obj = t.spec.objective;
    let mut order: Vec<usize> = (0..t.rows.len()).collect();
    order.sort_by(|&a, &b| {
        obj.score(&t.rows[b])
            .total_cmp(&obj.score(&t.rows[a]))
            .then(t.rows[a].index.cmp(&t.rows[b].index))
    });
    for (rank, &i) in order.iter().enumerate() {
        t.rows[i].rank = Some(rank + 1);
    }
    let best = order.first().map(|&i| &t.rows[i]);
    t.summary = Some(SweepSummary {
        configurations: t.rows.len(),
        with_sharpe: sharpes.len(),
        sharpe_variance: var,
        expected_max_sharpe: sr0,
        best: best.map(|r| r.index),
        best_params: best
            .map(|r| {
                t.spec
                    .axes
                    .iter()
                    .zip(&r.params)
                    .map(|(a, v)| (a.path.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        best_sharpe: best.and_then(|r| r.sharpe_per_window),
        best_net_pnl: best.map(|r| r.net_pnl.clone()),
        best_psr: best.and_then(|r| r.psr),
        best_dsr: best.and_then(|r| r.dsr),
    });
    t.shard = None;
    t
}

/// Merges shard tables of one sweep into the complete table (module docs).
///
/// # Errors
/// No tables, tables of different sweeps, a configuration missing or present twice.
pub fn merge(tables: Vec<SweepTable>) -> Result<SweepTable, SweepError> {
    let mut it = tables.into_iter();
    let first = it
        .next()
        .ok_or_else(|| SweepError::Merge("no shard tables to merge".into()))?;
    let (spec, total) = (first.spec.clone(), first.total);
    let mut rows = first.rows;
    for t in it {
        if t.spec != spec || t.total != total {
            return Err(SweepError::Merge(
                "the tables belong to different sweeps (strategy, parameters, search, seed, objective or size differ)".into(),
            ));
        }
        rows.extend(t.rows);
    }
    rows.sort_by_key(|r| r.index);
    for (i, r) in rows.iter().enumerate() {
        if r.index != i {
            let what = if r.index < i { "twice" } else { "missing" };
            let which = if r.index < i { r.index } else { i };
            return Err(SweepError::Merge(format!(
                "configuration {which} is {what} (merge every shard of the sweep exactly once)"
            )));
        }
    }
    if rows.len() != total {
        return Err(SweepError::Merge(format!(
            "{} of {total} configurations present (merge every shard of the sweep)",
            rows.len()
        )));
    }
    Ok(finalize(SweepTable {
        spec,
        total,
        shard: None,
        rows,
        summary: None,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(axes: &[&str], search: Search) -> SweepSpec {
        SweepSpec {
            strategy: "fair_value".into(),
            axes: axes.iter().map(|a| Axis::parse(a).unwrap()).collect(),
            search,
            seed: 1,
            objective: Objective::Sharpe,
            baseline: false,
        }
    }

    #[test]
    fn axes_parse_lists_and_ranges() {
        let a = Axis::parse("threshold_bps=100,200,300").unwrap();
        assert_eq!(
            a.grid().unwrap(),
            vec![
                toml::Value::Integer(100),
                toml::Value::Integer(200),
                toml::Value::Integer(300)
            ]
        );
        let a = Axis::parse("sizing.kelly_fraction=0.1:0.3:0.1").unwrap();
        let g: Vec<String> = a.grid().unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(g, vec!["0.1", "0.2", "0.3"]);
        let a = Axis::parse("x=0:100:25").unwrap();
        assert_eq!(a.grid().unwrap().len(), 5);
        assert!(a.grid().unwrap().iter().all(toml::Value::is_integer));
        let a = Axis::parse("sizing.max_trade=\"10\",\"20\"").unwrap();
        assert_eq!(a.grid().unwrap()[1], toml::Value::String("20".into()));
        assert!(Axis::parse("x=0.5:0.1:0.1").is_err());
        assert!(Axis::parse("x").is_err());
        assert!(Axis::parse("x=1:2").unwrap().grid().is_err());
        assert!(Axis::parse("x=abc def").is_err());
    }

    #[test]
    fn grid_order_and_random_search_are_deterministic() {
        let s = spec(&["a=1,2,3", "b=10,20"], Search::Grid);
        let c = s.configurations().unwrap();
        assert_eq!(c.len(), 6);
        let vals: Vec<String> = c
            .iter()
            .map(|c| format!("{}/{}", c.values[0], c.values[1]))
            .collect();
        assert_eq!(vals, ["1/10", "1/20", "2/10", "2/20", "3/10", "3/20"]);
        let r = spec(&["a=0.0:1.0", "b=1:100"], Search::Random { samples: 20 });
        let c1 = r.configurations().unwrap();
        assert_eq!(c1, r.configurations().unwrap());
        assert!(c1.iter().all(|c| c.values[1].is_integer()));
        assert!(c1.iter().all(|c| c.values[0].is_float()));
        let mut r2 = r.clone();
        r2.seed = 2;
        assert_ne!(c1, r2.configurations().unwrap());
        assert!(
            spec(&["a=1", "a=2"], Search::Grid)
                .configurations()
                .is_err()
        );
    }

    #[test]
    fn paths_set_nested_tables() {
        let s = spec(
            &["sizing.kelly_fraction=0.5", "threshold_bps=7"],
            Search::Grid,
        );
        let c = &s.configurations().unwrap()[0];
        let base: toml::Table =
            toml::from_str("threshold_bps = 1\n[sizing]\nmax_trade = \"5\"\n").unwrap();
        let t = s.table_for(&base, c).unwrap();
        assert_eq!(t["threshold_bps"], toml::Value::Integer(7));
        assert_eq!(t["sizing"]["kelly_fraction"], toml::Value::Float(0.5));
        assert_eq!(t["sizing"]["max_trade"], toml::Value::String("5".into()));
        let mut bad = toml::Table::new();
        bad.insert("sizing".into(), toml::Value::Integer(1));
        assert!(s.table_for(&bad, c).is_err());
    }

    #[test]
    fn shards_partition_the_configurations() {
        let s = Shard::parse("1/3").unwrap();
        assert!(s.owns(1) && s.owns(4) && !s.owns(0));
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
    }

    fn row(index: usize, sharpe: Option<f64>) -> SweepRow {
        SweepRow {
            index,
            params: vec![index.to_string()],
            net_pnl: format!("{index}"),
            return_pct: 0.0,
            sharpe_per_window: sharpe,
            sharpe_lo: None,
            sharpe_hi: None,
            net_pnl_lo: None,
            net_pnl_hi: None,
            win_rate_windows: None,
            trades: 1,
            windows_traded: 1,
            windows: 100,
            max_drawdown: "0".into(),
            fees: "0".into(),
            profit_factor: None,
            skewness: sharpe.map(|_| 0.0),
            kurtosis: sharpe.map(|_| 3.0),
            p_vs_twin: None,
            psr: None,
            dsr: None,
            rank: None,
        }
    }

    #[test]
    fn finalize_ranks_and_deflates_and_merge_checks_completeness() {
        let s = spec(&["a=0,1,2,3"], Search::Grid);
        let rows = vec![
            row(0, Some(0.05)),
            row(1, Some(0.2)),
            row(2, None),
            row(3, Some(-0.1)),
        ];
        let whole = finalize(SweepTable {
            spec: s.clone(),
            total: 4,
            shard: None,
            rows: rows.clone(),
            summary: None,
        });
        let sum = whole.summary.as_ref().unwrap();
        assert_eq!(sum.best, Some(1));
        assert_eq!(whole.rows[1].rank, Some(1));
        assert_eq!(whole.rows[2].rank, Some(4)); // undefined Sharpe ranks last
        let b = &whole.rows[1];
        assert!(b.dsr.unwrap() < b.psr.unwrap());
        let shard = |k: usize| SweepTable {
            spec: s.clone(),
            total: 4,
            shard: Some(Shard { index: k, count: 2 }),
            rows: rows.iter().filter(|r| r.index % 2 == k).cloned().collect(),
            summary: None,
        };
        assert_eq!(merge(vec![shard(1), shard(0)]).unwrap(), whole);
        assert!(merge(vec![shard(0)]).is_err());
        assert!(merge(vec![shard(0), shard(0), shard(1)]).is_err());
        let mut other = shard(1);
        other.spec.seed = 9;
        assert!(merge(vec![shard(0), other]).is_err());
    }
}
