//! Volatility estimators on price series.
//!
//! # Units
//! Every estimator returns a **per-second variance** of log returns (`var_per_s`, in 1/s: the
//! variance of `ln(S_{t+τ}/S_t)` is `var_per_s · τ` for τ in seconds) or its square root, the
//! **per-√second volatility**. Crypto trades 24/7, so the conversion to the conventional
//! annualized volatility uses a calendar year of [`SECONDS_PER_YEAR`] = 365 × 24 × 3600 s:
//! `σ_annual = σ_per_√s · √SECONDS_PER_YEAR` ([`annualize_vol`], [`deannualize_vol`]). Prices are
//! in USD (any positive quote unit works: only ratios enter), times are [`UnixNanos`] or seconds.
//!
//! All estimators assume a zero mean log return (standard for horizons of minutes: the drift is
//! orders of magnitude below the noise).
//!
//! # Estimators
//! - [`Ewma`] — exponentially weighted moving average of squared returns (J.P. Morgan/Reuters,
//!   *RiskMetrics — Technical Document*, 4th ed., 1996, ch. 5), with irregular time steps.
//! - [`realized_var`] / [`realized_vars`] — realized variance over one or several lookbacks
//!   (Andersen, Bollerslev, Diebold & Labys, "The distribution of realized exchange rate
//!   volatility", JASA 96, 2001).
//! - [`parkinson_var_per_s`] — high–low range estimator (M. Parkinson, "The extreme value method
//!   for estimating the variance of the rate of return", J. Business 53(1), 1980).
//! - [`garman_klass_var_per_s`] — OHLC estimator (M. B. Garman & M. J. Klass, "On the estimation
//!   of security price volatilities from historical data", J. Business 53(1), 1980).
//! - [`Garch11`] — GARCH(1,1) (T. Bollerslev, "Generalized autoregressive conditional
//!   heteroskedasticity", J. Econometrics 31, 1986) fit by Gaussian maximum likelihood, with
//!   one-step and τ-ahead variance forecasts.

use polyedge_core::{Fixed18, UnixNanos};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, finite, non_negative, positive};
use crate::optim::{Tolerances, nelder_mead};

/// Seconds in the (calendar, 24/7) year used to annualize: 365 × 24 × 3600 = 31 536 000 s.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 24.0 * 3600.0;

/// Per-√second volatility → annualized volatility (fraction per √year):
/// `σ_annual = σ · √SECONDS_PER_YEAR`.
pub fn annualize_vol(vol_per_sqrt_s: f64) -> f64 {
    vol_per_sqrt_s * SECONDS_PER_YEAR.sqrt()
}

/// Annualized volatility (fraction per √year) → per-√second volatility:
/// `σ = σ_annual / √SECONDS_PER_YEAR`.
pub fn deannualize_vol(vol_annual: f64) -> f64 {
    vol_annual / SECONDS_PER_YEAR.sqrt()
}

/// Per-second variance (1/s) → annualized variance (1/year): `v · SECONDS_PER_YEAR`.
pub fn annualize_var(var_per_s: f64) -> f64 {
    var_per_s * SECONDS_PER_YEAR
}

/// Annualized variance (1/year) → per-second variance (1/s): `v / SECONDS_PER_YEAR`.
pub fn deannualize_var(var_annual: f64) -> f64 {
    var_annual / SECONDS_PER_YEAR
}

/// A volatility input to a fair-value model: the **mean per-second variance rate of log returns
/// expected over the remaining window** (1/s).
///
/// For a constant-volatility estimate (EWMA, realized, range-based) this is just the estimate;
/// for a term-structured forecast ([`Garch11::forecast`]) it is the integrated variance over the
/// horizon divided by the horizon, so that `var_per_s · τ` is the variance of `ln(S_T/S_t)`.
///
/// Invariant: finite and `≥ 0` (checked by every constructor; models re-check deserialized values).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct VolEstimate {
    var_per_s: f64,
}

impl VolEstimate {
    /// Zero volatility (a deterministic price path).
    pub const ZERO: VolEstimate = VolEstimate { var_per_s: 0.0 };

    /// From a per-second variance (1/s).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] unless finite and `≥ 0`.
    pub fn from_var_per_s(var_per_s: f64) -> Result<Self, ModelError> {
        non_negative("var_per_s", var_per_s)?;
        Ok(VolEstimate { var_per_s })
    }

    /// From a per-√second volatility (1/√s).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] unless finite and `≥ 0`.
    pub fn from_vol_per_sqrt_s(vol_per_sqrt_s: f64) -> Result<Self, ModelError> {
        non_negative("vol_per_sqrt_s", vol_per_sqrt_s)?;
        Self::from_var_per_s(vol_per_sqrt_s * vol_per_sqrt_s)
    }

    /// From an annualized volatility (fraction per √year, 24/7 year; e.g. `0.6` for 60 %).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] unless finite and `≥ 0`.
    pub fn from_annualized(vol_annual: f64) -> Result<Self, ModelError> {
        non_negative("vol_annual", vol_annual)?;
        Self::from_var_per_s(deannualize_var(vol_annual * vol_annual))
    }

    /// Per-second variance of log returns (1/s).
    pub fn var_per_s(&self) -> f64 {
        self.var_per_s
    }

    /// Per-√second volatility (1/√s).
    pub fn vol_per_sqrt_s(&self) -> f64 {
        self.var_per_s.sqrt()
    }

    /// Annualized volatility (fraction per √year, 24/7 year).
    pub fn annualized(&self) -> f64 {
        annualize_vol(self.vol_per_sqrt_s())
    }

    /// Variance of `ln(S_{t+τ}/S_t)` over `tau_s` seconds: `var_per_s · τ` (dimensionless).
    pub fn variance_over(&self, tau_s: f64) -> f64 {
        self.var_per_s * tau_s
    }
}

/// One observation of a price series: a time and a price in USD (> 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// Observation time (ns since the Unix epoch).
    pub t: UnixNanos,
    /// Price in USD (any positive unit: only ratios are used).
    pub price: f64,
}

impl PricePoint {
    /// A point at `t` with `price` (USD).
    pub const fn new(t: UnixNanos, price: f64) -> Self {
        PricePoint { t, price }
    }

    /// A point from an exact [`Fixed18`] price (e.g. a Chainlink answer), converted to `f64`.
    pub fn from_fixed(t: UnixNanos, price: Fixed18) -> Self {
        PricePoint {
            t,
            price: price.to_f64(),
        }
    }
}

/// A log return `r = ln(P_1/P_0)` over `dt_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogReturn {
    /// Elapsed time between the two prices, seconds (> 0).
    pub dt_s: f64,
    /// Log return (dimensionless).
    pub r: f64,
}

/// Seconds between two timestamps (`later − earlier`), assuming `later ≥ earlier`.
fn secs_between(earlier: UnixNanos, later: UnixNanos) -> f64 {
    later.saturating_sub(earlier) as f64 / 1e9
}

fn check_price(price: f64) -> Result<(), ModelError> {
    positive("price", price).map(|_| ())
}

/// Log returns between consecutive points: `n` points → `n − 1` returns.
///
/// # Errors
/// - [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for a non-finite or non-positive price;
/// - [`ModelError::NonIncreasingTime`] unless timestamps are strictly increasing (deduplicate
///   same-time ticks first; a zero Δt has no per-second meaning).
pub fn log_returns(points: &[PricePoint]) -> Result<Vec<LogReturn>, ModelError> {
    let mut out = Vec::with_capacity(points.len().saturating_sub(1));
    for (i, p) in points.iter().enumerate() {
        check_price(p.price)?;
        if i > 0 {
            let prev = points[i - 1];
            if p.t <= prev.t {
                return Err(ModelError::NonIncreasingTime { index: i });
            }
            out.push(LogReturn {
                dt_s: secs_between(prev.t, p.t),
                r: (p.price / prev.price).ln(),
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// EWMA
// ---------------------------------------------------------------------------------------------

/// Exponentially weighted moving average of squared returns (RiskMetrics 1996, ch. 5):
/// `v_t = λ·v_{t−1} + (1 − λ)·z_t²`, with zero mean.
///
/// Irregular time steps: each log return `r` over `Δt` seconds is normalized to
/// `z = r / √Δt`, whose variance is the per-second variance; `v` is therefore a per-second
/// variance (1/s). `λ` is a decay **per observation** (not per second), default 0.94
/// (RiskMetrics' daily value; a tick-level series usually wants a larger λ, e.g. 0.99 ≈ a
/// 100-observation memory).
///
/// The first return seeds `v = z²` unless an initial variance is given
/// ([`Ewma::with_initial_var_per_s`]).
///
/// Streaming use: feed prices with [`Ewma::update`] (or returns with [`Ewma::update_return`]) and
/// read [`Ewma::var_per_s`] / [`Ewma::estimate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    lambda: f64,
    var_per_s: Option<f64>,
    last: Option<PricePoint>,
    n_points: usize,
    n_returns: usize,
}

impl Default for Ewma {
    /// λ = [`Ewma::DEFAULT_LAMBDA`] (0.94), no state.
    fn default() -> Self {
        Ewma {
            lambda: Self::DEFAULT_LAMBDA,
            var_per_s: None,
            last: None,
            n_points: 0,
            n_returns: 0,
        }
    }
}

impl Ewma {
    /// RiskMetrics' decay factor for daily data (1996, ch. 5): 0.94 per observation.
    pub const DEFAULT_LAMBDA: f64 = 0.94;

    /// An empty estimator with decay `lambda` per observation.
    ///
    /// # Errors
    /// [`ModelError::OutOfDomain`] unless `0 < λ < 1`; [`ModelError::NonFinite`] for NaN/∞.
    pub fn new(lambda: f64) -> Result<Self, ModelError> {
        finite("lambda", lambda)?;
        if !(lambda > 0.0 && lambda < 1.0) {
            return Err(ModelError::OutOfDomain {
                name: "lambda",
                value: lambda,
                expected: "0 < lambda < 1",
            });
        }
        Ok(Ewma {
            lambda,
            ..Ewma::default()
        })
    }

    /// Seeds the variance with `var_per_s` (1/s) instead of the first squared return.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] unless finite and `≥ 0`.
    pub fn with_initial_var_per_s(mut self, var_per_s: f64) -> Result<Self, ModelError> {
        non_negative("initial var_per_s", var_per_s)?;
        self.var_per_s = Some(var_per_s);
        Ok(self)
    }

    /// The decay factor λ (per observation).
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Number of returns folded in so far.
    pub fn n_returns(&self) -> usize {
        self.n_returns
    }

    /// Folds in one log return `r` over `dt_s` seconds (`z = r/√dt_s`).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] for a non-finite input; [`ModelError::OutOfDomain`] for
    /// `dt_s ≤ 0`. The state is unchanged on error.
    pub fn update_return(&mut self, r: f64, dt_s: f64) -> Result<(), ModelError> {
        finite("r", r)?;
        positive("dt_s", dt_s)?;
        let z2 = r * r / dt_s;
        finite("r²/dt_s", z2)?;
        self.var_per_s = Some(match self.var_per_s {
            Some(v) => self.lambda * v + (1.0 - self.lambda) * z2,
            None => z2,
        });
        self.n_returns += 1;
        Ok(())
    }

    /// Folds in the next price of a series (the first price only sets the reference).
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for a bad price;
    /// [`ModelError::NonIncreasingTime`] (with `index` = position in the stream) if `point.t` is
    /// not after the previous point's. The state is unchanged on error.
    pub fn update(&mut self, point: PricePoint) -> Result<(), ModelError> {
        check_price(point.price)?;
        if let Some(prev) = self.last {
            if point.t <= prev.t {
                return Err(ModelError::NonIncreasingTime {
                    index: self.n_points,
                });
            }
            self.update_return(
                (point.price / prev.price).ln(),
                secs_between(prev.t, point.t),
            )?;
        }
        self.last = Some(point);
        self.n_points += 1;
        Ok(())
    }

    /// Current per-second variance (1/s), `None` before the first return (or seed).
    pub fn var_per_s(&self) -> Option<f64> {
        self.var_per_s
    }

    /// Current estimate as a [`VolEstimate`], `None` before the first return (or seed).
    pub fn estimate(&self) -> Option<VolEstimate> {
        self.var_per_s.map(|var_per_s| VolEstimate { var_per_s })
    }
}

/// EWMA per-second variance (1/s) of a whole price series with decay `lambda` per observation
/// (see [`Ewma`]).
///
/// # Errors
/// As [`Ewma::new`] and [`log_returns`]; [`ModelError::InsufficientData`] with fewer than 2 points.
pub fn ewma_var_per_s(points: &[PricePoint], lambda: f64) -> Result<f64, ModelError> {
    let mut ewma = Ewma::new(lambda)?;
    for p in points {
        ewma.update(*p)?;
    }
    ewma.var_per_s().ok_or(ModelError::InsufficientData {
        needed: 2,
        got: points.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// Realized variance
// ---------------------------------------------------------------------------------------------

/// Realized variance over a lookback: `Σ r_i² / elapsed_s` (Andersen et al. 2001), zero mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RealizedVar {
    /// Requested lookback, seconds.
    pub lookback_s: u64,
    /// Per-second variance (1/s).
    pub var_per_s: f64,
    /// Number of returns summed.
    pub n_returns: usize,
    /// Time actually covered (first to last point inside the lookback), seconds; `≤ lookback_s`.
    /// The sum is divided by this, not by `lookback_s`, so a series shorter than the lookback is
    /// not biased low.
    pub elapsed_s: f64,
}

impl RealizedVar {
    /// As a [`VolEstimate`].
    pub fn estimate(&self) -> VolEstimate {
        VolEstimate {
            var_per_s: self.var_per_s,
        }
    }
}

/// Realized per-second variance (1/s) of a whole series: `Σ r_i² / (t_last − t_first)`.
///
/// # Errors
/// As [`log_returns`]; [`ModelError::InsufficientData`] with fewer than 2 points.
pub fn realized_var_per_s(points: &[PricePoint]) -> Result<f64, ModelError> {
    let returns = log_returns(points)?;
    realized_from(&returns, u64::MAX, points.len()).map(|rv| rv.var_per_s)
}

fn realized_from(
    returns: &[LogReturn],
    lookback_s: u64,
    n_points: usize,
) -> Result<RealizedVar, ModelError> {
    if returns.is_empty() {
        return Err(ModelError::InsufficientData {
            needed: 2,
            got: n_points,
        });
    }
    let (sum_sq, elapsed_s) = returns
        .iter()
        .fold((0.0, 0.0), |(s, e), r| (s + r.r * r.r, e + r.dt_s));
    Ok(RealizedVar {
        lookback_s,
        var_per_s: sum_sq / elapsed_s,
        n_returns: returns.len(),
        elapsed_s,
    })
}

/// Realized variance over the last `lookback_s` seconds of `points` (the points with
/// `t ≥ t_last − lookback_s`; returns between consecutive such points).
///
/// # Errors
/// As [`log_returns`] (the whole series is validated); [`ModelError::InsufficientData`] if fewer
/// than 2 points fall inside the lookback.
pub fn realized_var(points: &[PricePoint], lookback_s: u64) -> Result<RealizedVar, ModelError> {
    let returns = log_returns(points)?;
    realized_over(points, &returns, lookback_s)
}

fn realized_over(
    points: &[PricePoint],
    returns: &[LogReturn],
    lookback_s: u64,
) -> Result<RealizedVar, ModelError> {
    let Some(last) = points.last() else {
        return Err(ModelError::InsufficientData { needed: 2, got: 0 });
    };
    let cutoff = last
        .t
        .0
        .saturating_sub(lookback_s.saturating_mul(UnixNanos::PER_SEC));
    let first = points.partition_point(|p| p.t.0 < cutoff);
    let inside = points.len() - first;
    realized_from(&returns[first.min(returns.len())..], lookback_s, inside)
}

/// Realized variance for several lookbacks at once (e.g. `[900, 3600, 14_400, 86_400]`: 15 min,
/// 1 h, 4 h, 24 h as in the roadmap), one result per lookback, in order.
///
/// # Errors
/// The outer error is a validation failure of the series (as [`log_returns`]); an inner
/// [`ModelError::InsufficientData`] marks a lookback with fewer than 2 points.
pub fn realized_vars(
    points: &[PricePoint],
    lookbacks_s: &[u64],
) -> Result<Vec<Result<RealizedVar, ModelError>>, ModelError> {
    let returns = log_returns(points)?;
    Ok(lookbacks_s
        .iter()
        .map(|&l| realized_over(points, &returns, l))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Range-based estimators
// ---------------------------------------------------------------------------------------------

/// An OHLC bar: prices in USD (> 0) over `duration_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Price at the start of the bar.
    pub open: f64,
    /// Highest price during the bar.
    pub high: f64,
    /// Lowest price during the bar.
    pub low: f64,
    /// Price at the end of the bar.
    pub close: f64,
    /// Bar length, seconds (> 0).
    pub duration_s: f64,
}

impl Bar {
    fn validate(&self, index: usize) -> Result<(), ModelError> {
        let bad = |reason| Err(ModelError::InvalidBar { index, reason });
        let all = [self.open, self.high, self.low, self.close, self.duration_s];
        if all.iter().any(|v| !v.is_finite()) {
            return bad("non-finite field");
        }
        if all.iter().any(|&v| v <= 0.0) {
            return bad("non-positive price or duration");
        }
        if self.low > self.open.min(self.close) || self.high < self.open.max(self.close) {
            return bad("low above open/close or high below open/close");
        }
        Ok(())
    }
}

fn range_estimator(bars: &[Bar], per_bar: impl Fn(&Bar) -> f64) -> Result<f64, ModelError> {
    if bars.is_empty() {
        return Err(ModelError::InsufficientData { needed: 1, got: 0 });
    }
    let mut sum_var = 0.0;
    let mut sum_dur = 0.0;
    for (i, b) in bars.iter().enumerate() {
        b.validate(i)?;
        sum_var += per_bar(b);
        sum_dur += b.duration_s;
    }
    Ok(sum_var / sum_dur)
}

/// Parkinson (1980) per-second variance (1/s): `Σ (ln(H/L))² / (4 ln 2 · Σ duration_s)`.
///
/// Unbiased for continuously observed driftless Brownian motion; biased **low** when the high
/// and low come from discrete ticks (the true extremes are missed) — build bars from dense data.
///
/// # Errors
/// [`ModelError::InsufficientData`] for no bars; [`ModelError::InvalidBar`] for an inconsistent bar.
pub fn parkinson_var_per_s(bars: &[Bar]) -> Result<f64, ModelError> {
    let k = 4.0 * std::f64::consts::LN_2;
    range_estimator(bars, |b| (b.high / b.low).ln().powi(2) / k)
}

/// Garman–Klass (1980) per-second variance (1/s):
/// `Σ [½(ln(H/L))² − (2 ln 2 − 1)(ln(C/O))²] / Σ duration_s` — the paper's practical estimator
/// σ̂₅, which drops the cross-product terms of its "best analytic scale-invariant" σ̂₄ at a
/// negligible loss of efficiency.
///
/// Assumes driftless Brownian motion with no gap between a bar's open and the previous close
/// (true for a 24/7 market; see [`bars_from_points`]). A single bar's term can be negative in
/// principle only if `|ln(C/O)|` exceeds `ln(H/L)`, which a consistent bar rules out, so the
/// result is `≥ 0`. Same discrete-sampling caveat as [`parkinson_var_per_s`].
///
/// # Errors
/// [`ModelError::InsufficientData`] for no bars; [`ModelError::InvalidBar`] for an inconsistent bar.
pub fn garman_klass_var_per_s(bars: &[Bar]) -> Result<f64, ModelError> {
    let k = 2.0 * std::f64::consts::LN_2 - 1.0;
    range_estimator(bars, |b| {
        0.5 * (b.high / b.low).ln().powi(2) - k * (b.close / b.open).ln().powi(2)
    })
}

/// Builds OHLC bars of `bar_s` seconds from a tick series, on buckets aligned to multiples of
/// `bar_s` since the epoch (so 300-second bars line up with 5-minute windows).
///
/// A bar is emitted for each bucket holding at least one tick. Its open is the last price
/// **before** the bucket (the prevailing price at the bucket start; the first bar uses its own
/// first tick), so open-to-close returns chain without gaps; high/low include the open. After a
/// data gap the move across the gap lands in the first bar after it. `duration_s = bar_s`.
///
/// # Errors
/// As [`log_returns`]; [`ModelError::OutOfDomain`] for `bar_s = 0`.
pub fn bars_from_points(points: &[PricePoint], bar_s: u64) -> Result<Vec<Bar>, ModelError> {
    if bar_s == 0 {
        return Err(ModelError::OutOfDomain {
            name: "bar_s",
            value: 0.0,
            expected: "> 0",
        });
    }
    log_returns(points)?; // validates prices and time order
    let bar_ns = bar_s.saturating_mul(UnixNanos::PER_SEC);
    let duration_s = bar_s as f64;
    let mut bars: Vec<Bar> = Vec::new();
    let mut current: Option<(u64, Bar)> = None;
    let mut prev_price: Option<f64> = None;
    for p in points {
        let bucket = p.t.0 / bar_ns;
        match &mut current {
            Some((b, bar)) if *b == bucket => {
                bar.high = bar.high.max(p.price);
                bar.low = bar.low.min(p.price);
                bar.close = p.price;
            }
            _ => {
                if let Some((_, bar)) = current.take() {
                    bars.push(bar);
                }
                let open = prev_price.unwrap_or(p.price);
                current = Some((
                    bucket,
                    Bar {
                        open,
                        high: open.max(p.price),
                        low: open.min(p.price),
                        close: p.price,
                        duration_s,
                    },
                ));
            }
        }
        prev_price = Some(p.price);
    }
    if let Some((_, bar)) = current {
        bars.push(bar);
    }
    Ok(bars)
}

// ---------------------------------------------------------------------------------------------
// GARCH(1,1)
// ---------------------------------------------------------------------------------------------

/// GARCH(1,1) parameters (Bollerslev 1986) in per-second units.
///
/// The model is written on per-second-normalized returns `z_t = r_t / √Δ` (Δ = sampling step in
/// seconds), so the conditional variance `h_t` is a per-second variance (1/s):
///
/// `z_t = √h_t · ε_t,  ε_t ~ N(0, 1),  h_{t+1} = ω + α·z_t² + β·h_t`.
///
/// `ω` is in 1/s; `α`, `β` are dimensionless. Constraints: `ω > 0`, `α ≥ 0`, `β ≥ 0`,
/// `α + β < 1` (covariance stationarity; IGARCH is excluded so the long-run variance exists).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GarchParams {
    /// Constant term ω, per-second variance (1/s).
    pub omega: f64,
    /// ARCH coefficient α (reaction to the last squared return).
    pub alpha: f64,
    /// GARCH coefficient β (persistence of the last variance).
    pub beta: f64,
}

impl GarchParams {
    /// Checked constructor.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] unless `ω > 0`, `α ≥ 0`, `β ≥ 0`
    /// and `α + β < 1`.
    pub fn new(omega: f64, alpha: f64, beta: f64) -> Result<Self, ModelError> {
        positive("omega", omega)?;
        non_negative("alpha", alpha)?;
        non_negative("beta", beta)?;
        if alpha + beta >= 1.0 {
            return Err(ModelError::OutOfDomain {
                name: "alpha + beta",
                value: alpha + beta,
                expected: "< 1 (covariance-stationary GARCH)",
            });
        }
        Ok(GarchParams { omega, alpha, beta })
    }

    /// Persistence `α + β` (dimensionless, < 1).
    pub fn persistence(&self) -> f64 {
        self.alpha + self.beta
    }

    /// Long-run (unconditional) per-second variance `ω / (1 − α − β)` (1/s).
    pub fn long_run_var_per_s(&self) -> f64 {
        self.omega / (1.0 - self.persistence())
    }

    /// Conditional variances `h_1 … h_{n+1}` (1/s) for normalized returns `z`, starting from
    /// `h_1 = h0`. The last element is the one-step-ahead forecast.
    fn filter(&self, z: &[f64], h0: f64) -> Vec<f64> {
        let mut h = Vec::with_capacity(z.len() + 1);
        let mut ht = h0;
        h.push(ht);
        for &zt in z {
            ht = self.omega + self.alpha * zt * zt + self.beta * ht;
            h.push(ht);
        }
        h
    }

    /// Gaussian log-likelihood of normalized returns `z`, with `h_1 = h0`:
    /// `−½ Σ [ln 2π + ln h_t + z_t²/h_t]`. Returns the last `h` (the next-step forecast) too.
    fn log_likelihood_z(&self, z: &[f64], h0: f64) -> (f64, f64) {
        let ln_2pi = (2.0 * std::f64::consts::PI).ln();
        let mut ht = h0;
        let mut ll = 0.0;
        for &zt in z {
            ll -= 0.5 * (ln_2pi + ht.ln() + zt * zt / ht);
            ht = self.omega + self.alpha * zt * zt + self.beta * ht;
        }
        (ll, ht)
    }

    /// Gaussian log-likelihood of log returns `returns` sampled every `step_s` seconds, with the
    /// variance initialized at the sample mean of `z²` (the usual "backcast"). This is the
    /// density of the raw returns `r` (it includes the `−½ n ln Δ` Jacobian of `z = r/√Δ`).
    ///
    /// # Errors
    /// As [`Garch11::fit`]'s input checks.
    pub fn log_likelihood(&self, returns: &[f64], step_s: f64) -> Result<f64, ModelError> {
        let (z, h0) = normalized(returns, step_s, 1)?;
        let (ll, _) = self.log_likelihood_z(&z, h0);
        Ok(ll - 0.5 * z.len() as f64 * step_s.ln())
    }
}

/// `z = r/√Δ` and the backcast `mean(z²)`, with input checks.
fn normalized(returns: &[f64], step_s: f64, min_len: usize) -> Result<(Vec<f64>, f64), ModelError> {
    positive("step_s", step_s)?;
    if returns.len() < min_len {
        return Err(ModelError::InsufficientData {
            needed: min_len,
            got: returns.len(),
        });
    }
    let scale = step_s.sqrt();
    let mut z = Vec::with_capacity(returns.len());
    for &r in returns {
        z.push(finite("return", r)? / scale);
    }
    let mean_sq = z.iter().map(|v| v * v).sum::<f64>() / z.len() as f64;
    Ok((z, mean_sq))
}

/// A GARCH(1,1) model with its current state: parameters, sampling step and the conditional
/// per-second variance of the **next** step, `h_{T+1}`.
///
/// Forecasts (Bollerslev 1986; e.g. Tsay, *Analysis of Financial Time Series*, 3rd ed., §3.5):
/// `E[h_{T+k}] = V_L + (α+β)^{k−1} (h_{T+1} − V_L)` with `V_L = ω/(1−α−β)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Garch11 {
    params: GarchParams,
    step_s: f64,
    next_var_per_s: f64,
}

/// The result of [`Garch11::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GarchFit {
    /// Fitted model, its state advanced through the whole sample (ready to forecast).
    pub model: Garch11,
    /// Maximized Gaussian log-likelihood of the returns (see [`GarchParams::log_likelihood`]).
    pub log_likelihood: f64,
    /// Number of returns used.
    pub n_obs: usize,
    /// Nelder–Mead iterations used (all restarts).
    pub iterations: usize,
    /// `true` if the optimizer met its tolerances (otherwise the best point found is returned).
    pub converged: bool,
}

impl Garch11 {
    /// Minimum sample size accepted by [`Garch11::fit`]. Far more (thousands) are needed for
    /// precise parameters.
    pub const MIN_FIT_OBS: usize = 50;

    /// A model in state `next_var_per_s` (= `h_{T+1}`, 1/s) with log returns sampled every
    /// `step_s` seconds.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for `step_s ≤ 0` or
    /// `next_var_per_s ≤ 0`.
    pub fn new(params: GarchParams, step_s: f64, next_var_per_s: f64) -> Result<Self, ModelError> {
        let params = GarchParams::new(params.omega, params.alpha, params.beta)?;
        positive("step_s", step_s)?;
        positive("next_var_per_s", next_var_per_s)?;
        Ok(Garch11 {
            params,
            step_s,
            next_var_per_s,
        })
    }

    /// Runs the variance recursion of `params` through `returns` (log returns every `step_s`
    /// seconds, variance initialized at the sample mean of `z²`) and returns the model in its
    /// end state.
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] for no returns; [`ModelError::NonFinite`] for a bad
    /// return; [`ModelError::FitFailed`] if all returns are zero.
    pub fn from_returns(
        params: GarchParams,
        returns: &[f64],
        step_s: f64,
    ) -> Result<Self, ModelError> {
        let (z, h0) = normalized(returns, step_s, 1)?;
        if h0 <= 0.0 {
            return Err(ModelError::FitFailed {
                reason: "all returns are zero",
            });
        }
        let h = params.filter(&z, h0);
        let next = h.last().copied().unwrap_or(h0);
        Self::new(params, step_s, next)
    }

    /// Fits GARCH(1,1) by Gaussian maximum likelihood to log returns sampled every `step_s`
    /// seconds (resample irregular ticks to a regular grid first).
    ///
    /// Method: returns are normalized to unit sample variance, the parameters are mapped to an
    /// unconstrained space (`ω = e^{x₀}`, `α+β = logistic(x₁)`, `α/(α+β) = logistic(x₂)`, which
    /// enforces all constraints), and the negative log-likelihood is minimized with Nelder–Mead
    /// from three starting points, the best of which is polished by a restart.
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] below [`Garch11::MIN_FIT_OBS`] returns;
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for bad inputs;
    /// [`ModelError::FitFailed`] if all returns are zero or no finite likelihood is found.
    pub fn fit(returns: &[f64], step_s: f64) -> Result<GarchFit, ModelError> {
        let (z, mean_sq) = normalized(returns, step_s, Self::MIN_FIT_OBS)?;
        if mean_sq <= 0.0 {
            return Err(ModelError::FitFailed {
                reason: "all returns are zero",
            });
        }
        let scale = mean_sq.sqrt();
        let u: Vec<f64> = z.iter().map(|v| v / scale).collect();
        let n = u.len() as f64;

        let logistic = |x: f64| 1.0 / (1.0 + (-x).exp());
        let logit = |p: f64| (p / (1.0 - p)).ln();
        let to_params = |x: &[f64]| -> Option<GarchParams> {
            let omega = x[0].exp();
            let p = logistic(x[1]);
            let a = logistic(x[2]);
            GarchParams::new(omega, p * a, p * (1.0 - a)).ok()
        };
        // Mean negative log-likelihood of u (unit backcast variance).
        let objective = |x: &[f64]| -> f64 {
            to_params(x).map_or(f64::INFINITY, |g| -g.log_likelihood_z(&u, 1.0).0 / n)
        };
        let start = |alpha: f64, beta: f64| -> [f64; 3] {
            let p = alpha + beta;
            [(1.0 - p).ln(), logit(p), logit(alpha / p)]
        };
        let tol = Tolerances {
            f_abs: 1e-10,
            x_abs: 1e-6,
            max_iter: 2000,
        };

        let mut iterations = 0;
        let mut best: Option<crate::optim::Minimum> = None;
        for x0 in [start(0.05, 0.90), start(0.15, 0.80), start(0.05, 0.50)] {
            let m = nelder_mead(objective, &x0, 0.5, tol);
            iterations += m.iterations;
            if best.as_ref().is_none_or(|b| m.f < b.f) {
                best = Some(m);
            }
        }
        let Some(best) = best else {
            return Err(ModelError::FitFailed {
                reason: "no starting point",
            });
        };
        let polished = nelder_mead(objective, &best.x, 0.1, tol);
        iterations += polished.iterations;
        let m = if polished.f <= best.f { polished } else { best };
        let Some(unit) = to_params(&m.x).filter(|_| m.f.is_finite()) else {
            return Err(ModelError::FitFailed {
                reason: "no finite likelihood found",
            });
        };

        // Undo the scaling: h scales with mean_sq, α and β are scale-free.
        let params = GarchParams::new(unit.omega * mean_sq, unit.alpha, unit.beta)?;
        let (ll_z, next) = params.log_likelihood_z(&z, mean_sq);
        let model = Self::new(params, step_s, next)?;
        Ok(GarchFit {
            model,
            log_likelihood: ll_z - 0.5 * n * step_s.ln(),
            n_obs: u.len(),
            iterations,
            converged: m.converged,
        })
    }

    /// The parameters.
    pub fn params(&self) -> GarchParams {
        self.params
    }

    /// Sampling step of the returns, seconds.
    pub fn step_s(&self) -> f64 {
        self.step_s
    }

    /// Advances the state by one observed log return `r` over one step:
    /// `h ← ω + α·(r²/Δ) + β·h`.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] for a non-finite return (state unchanged).
    pub fn update(&mut self, r: f64) -> Result<(), ModelError> {
        finite("return", r)?;
        let z2 = r * r / self.step_s;
        let p = self.params;
        self.next_var_per_s = p.omega + p.alpha * z2 + p.beta * self.next_var_per_s;
        Ok(())
    }

    /// One-step-ahead conditional per-second variance `h_{T+1}` (1/s).
    pub fn one_step_var_per_s(&self) -> f64 {
        self.next_var_per_s
    }

    /// Expected per-second variance `k` steps ahead, `E[h_{T+k}] = V_L + (α+β)^{k−1}(h_{T+1} − V_L)`
    /// (1/s). `k = 0` is treated as `k = 1`.
    pub fn var_per_s_ahead(&self, k: u32) -> f64 {
        let v_l = self.params.long_run_var_per_s();
        let phi = self.params.persistence();
        v_l + phi.powf(f64::from(k.saturating_sub(1))) * (self.next_var_per_s - v_l)
    }

    /// Expected variance of the log return over the next `tau_s` seconds (dimensionless):
    /// `Δ · Σ_{j=1}^{⌊k⌋} E[h_{T+j}] + (k − ⌊k⌋)·Δ·E[h_{T+⌊k⌋+1}]` with `k = τ/Δ` steps (the
    /// variance rate is constant within a step), in closed form via the geometric sum.
    ///
    /// # Errors
    /// [`ModelError::NonFinite`] / [`ModelError::OutOfDomain`] for a non-finite or negative `tau_s`.
    pub fn horizon_variance(&self, tau_s: f64) -> Result<f64, ModelError> {
        non_negative("tau_s", tau_s)?;
        let k = tau_s / self.step_s;
        let full = k.floor();
        let frac = k - full;
        let v_l = self.params.long_run_var_per_s();
        let phi = self.params.persistence();
        let dev = self.next_var_per_s - v_l;
        let phi_full = phi.powf(full);
        // Σ_{j=1}^{m} φ^{j−1} = (1 − φ^m)/(1 − φ); φ < 1 by construction.
        let sum_full = full * v_l + dev * (1.0 - phi_full) / (1.0 - phi);
        let partial = frac * (v_l + phi_full * dev);
        Ok(self.step_s * (sum_full + partial))
    }

    /// The mean per-second variance over the next `tau_s` seconds as a [`VolEstimate`] for a
    /// fair-value model: `horizon_variance(τ)/τ`, or `h_{T+1}` at `τ = 0`.
    ///
    /// # Errors
    /// As [`Garch11::horizon_variance`].
    pub fn forecast(&self, tau_s: f64) -> Result<VolEstimate, ModelError> {
        let total = self.horizon_variance(tau_s)?;
        let rate = if tau_s > 0.0 {
            total / tau_s
        } else {
            self.next_var_per_s
        };
        VolEstimate::from_var_per_s(rate.max(0.0))
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values (tie rule, closed forms) are the point of these tests
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    fn series(prices: &[f64], dt_s: u64) -> Vec<PricePoint> {
        prices
            .iter()
            .enumerate()
            .map(|(i, &p)| PricePoint::new(UnixNanos::from_secs(1_000 + i as u64 * dt_s), p))
            .collect()
    }

    #[test]
    fn conversions_round_trip() {
        assert_eq!(SECONDS_PER_YEAR, 31_536_000.0);
        let v = VolEstimate::from_annualized(0.5).unwrap();
        assert!((v.annualized() - 0.5).abs() < 1e-12);
        assert!((annualize_var(v.var_per_s()) - 0.25).abs() < 1e-12);
        assert!((deannualize_vol(annualize_vol(1e-4)) - 1e-4).abs() < 1e-18);
        assert!((v.variance_over(SECONDS_PER_YEAR) - 0.25).abs() < 1e-12);
        assert!(VolEstimate::from_var_per_s(-1.0).is_err());
        assert!(VolEstimate::from_vol_per_sqrt_s(f64::NAN).is_err());
    }

    #[test]
    fn log_returns_validate() {
        let pts = series(&[100.0, 101.0, 99.0], 2);
        let r = log_returns(&pts).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].dt_s, 2.0);
        assert!((r[0].r - (1.01f64).ln()).abs() < 1e-15);
        let mut bad = pts.clone();
        bad[2].t = bad[1].t;
        assert_eq!(
            log_returns(&bad),
            Err(ModelError::NonIncreasingTime { index: 2 })
        );
        let mut bad = pts.clone();
        bad[1].price = 0.0;
        assert!(matches!(
            log_returns(&bad),
            Err(ModelError::OutOfDomain { .. })
        ));
        bad[1].price = f64::INFINITY;
        assert!(matches!(
            log_returns(&bad),
            Err(ModelError::NonFinite { .. })
        ));
    }

    #[test]
    fn ewma_recursion_by_hand() {
        // Returns r over dt: z² = r²/dt.
        let mut e = Ewma::new(0.5).unwrap();
        e.update_return(0.02, 4.0).unwrap(); // z² = 1e-4
        assert_eq!(e.var_per_s(), Some(1e-4));
        e.update_return(0.0, 1.0).unwrap();
        assert!((e.var_per_s().unwrap() - 0.5e-4).abs() < 1e-18);
        e.update_return(0.01, 1.0).unwrap(); // 0.5·0.5e-4 + 0.5·1e-4
        assert!((e.var_per_s().unwrap() - 0.75e-4).abs() < 1e-18);
        assert_eq!(e.n_returns(), 3);
        assert!(e.update_return(0.01, 0.0).is_err());
        assert!(Ewma::new(1.0).is_err());
        assert!(Ewma::new(0.0).is_err());
        assert_eq!(Ewma::default().lambda(), 0.94);
        let seeded = Ewma::new(0.9)
            .unwrap()
            .with_initial_var_per_s(2e-8)
            .unwrap();
        assert_eq!(seeded.estimate().unwrap().var_per_s(), 2e-8);
    }

    #[test]
    fn ewma_stream_rejects_time_travel_without_state_change() {
        let mut e = Ewma::default();
        e.update(PricePoint::new(UnixNanos::from_secs(10), 100.0))
            .unwrap();
        e.update(PricePoint::new(UnixNanos::from_secs(11), 101.0))
            .unwrap();
        let before = e.clone();
        assert_eq!(
            e.update(PricePoint::new(UnixNanos::from_secs(11), 102.0)),
            Err(ModelError::NonIncreasingTime { index: 2 })
        );
        assert_eq!(e, before);
        assert!(ewma_var_per_s(&series(&[1.0], 1), 0.9).is_err());
    }

    #[test]
    fn realized_lookbacks() {
        // Returns of ±1 % every 10 s: Σr² = n·1e-4, elapsed = 10·n.
        let mut prices = vec![100.0];
        for i in 0..100 {
            let last = prices[prices.len() - 1];
            prices.push(if i % 2 == 0 { last * 1.01 } else { last / 1.01 });
        }
        let pts = series(&prices, 10);
        let per_s = (1.01f64).ln().powi(2) / 10.0;
        let whole = realized_var_per_s(&pts).unwrap();
        assert!((whole - per_s).abs() < 1e-15);
        let rv = realized_vars(&pts, &[60, 600, 100_000, 0]).unwrap();
        let r60 = rv[0].as_ref().unwrap();
        assert_eq!(r60.n_returns, 6);
        assert_eq!(r60.elapsed_s, 60.0);
        assert!((r60.var_per_s - per_s).abs() < 1e-15);
        assert_eq!(rv[1].as_ref().unwrap().n_returns, 60);
        let long = rv[2].as_ref().unwrap();
        assert_eq!(long.n_returns, 100);
        assert_eq!(long.elapsed_s, 1000.0);
        assert!(matches!(rv[3], Err(ModelError::InsufficientData { .. })));
        assert!((long.estimate().var_per_s() - per_s).abs() < 1e-15);
    }

    #[test]
    fn range_estimators_by_hand() {
        let bar = Bar {
            open: 100.0,
            high: 100.0 * 0.1f64.exp(),
            low: 100.0,
            close: 100.0 * 0.05f64.exp(),
            duration_s: 60.0,
        };
        let pk = parkinson_var_per_s(&[bar]).unwrap();
        assert!((pk - 0.01 / (4.0 * std::f64::consts::LN_2) / 60.0).abs() < 1e-15);
        let gk = garman_klass_var_per_s(&[bar, bar]).unwrap();
        let expect = (0.5 * 0.01 - (2.0 * std::f64::consts::LN_2 - 1.0) * 0.0025) / 60.0;
        assert!((gk - expect).abs() < 1e-15);
        let mut bad = bar;
        bad.low = 101.0;
        assert_eq!(
            parkinson_var_per_s(&[bar, bad]),
            Err(ModelError::InvalidBar {
                index: 1,
                reason: "low above open/close or high below open/close"
            })
        );
        assert!(garman_klass_var_per_s(&[]).is_err());
    }

    #[test]
    fn bars_from_ticks_carry_the_open() {
        // Ticks at t = 600, 620, 640 (bucket 10 of 60 s), 670, 710 (bucket 11), 850 (bucket 14).
        let t = |s| UnixNanos::from_secs(s);
        let pts = [
            PricePoint::new(t(600), 10.0),
            PricePoint::new(t(620), 12.0),
            PricePoint::new(t(640), 11.0),
            PricePoint::new(t(670), 9.0),
            PricePoint::new(t(710), 10.5),
            PricePoint::new(t(850), 10.0),
        ];
        let bars = bars_from_points(&pts, 60).unwrap();
        assert_eq!(bars.len(), 3);
        assert_eq!(
            bars[0],
            Bar {
                open: 10.0,
                high: 12.0,
                low: 10.0,
                close: 11.0,
                duration_s: 60.0
            }
        );
        assert_eq!(
            bars[1],
            Bar {
                open: 11.0,
                high: 11.0,
                low: 9.0,
                close: 10.5,
                duration_s: 60.0
            }
        );
        assert_eq!(
            bars[2],
            Bar {
                open: 10.5,
                high: 10.5,
                low: 10.0,
                close: 10.0,
                duration_s: 60.0
            }
        );
        assert!(bars_from_points(&pts, 0).is_err());
    }

    #[test]
    fn garch_params_and_forecast_algebra() {
        assert!(GarchParams::new(1e-8, 0.5, 0.5).is_err());
        assert!(GarchParams::new(0.0, 0.1, 0.8).is_err());
        assert!(GarchParams::new(1e-8, -0.1, 0.8).is_err());
        let p = GarchParams::new(1e-9, 0.1, 0.8).unwrap();
        assert!((p.long_run_var_per_s() - 1e-8).abs() < 1e-20);
        let g = Garch11::new(p, 10.0, 3e-8).unwrap();
        // k-step expectations.
        assert_eq!(g.var_per_s_ahead(1), 3e-8);
        assert!((g.var_per_s_ahead(2) - (1e-8 + 0.9 * 2e-8)).abs() < 1e-20);
        assert!((g.var_per_s_ahead(0) - g.var_per_s_ahead(1)).abs() < 1e-24);
        // Horizon variance = Δ·Σ E[h] for integer steps; partial step linear.
        let direct: f64 = (1..=5).map(|k| 10.0 * g.var_per_s_ahead(k)).sum();
        assert!((g.horizon_variance(50.0).unwrap() - direct).abs() < 1e-18);
        let half = direct + 5.0 * g.var_per_s_ahead(6);
        assert!((g.horizon_variance(55.0).unwrap() - half).abs() < 1e-18);
        assert_eq!(g.horizon_variance(0.0).unwrap(), 0.0);
        assert_eq!(g.forecast(0.0).unwrap().var_per_s(), 3e-8);
        assert!((g.forecast(5.0).unwrap().var_per_s() - 3e-8).abs() < 1e-20);
        // Long horizons converge to V_L.
        let far = g.forecast(1e7).unwrap().var_per_s();
        assert!((far - 1e-8).abs() < 1e-11);
        assert!(g.horizon_variance(-1.0).is_err());
        // Streaming update.
        let mut g2 = g;
        g2.update(0.001).unwrap(); // z² = 1e-6/10 = 1e-7
        assert!((g2.one_step_var_per_s() - (1e-9 + 0.1 * 1e-7 + 0.8 * 3e-8)).abs() < 1e-20);
    }

    #[test]
    fn garch_fit_rejects_degenerate_samples() {
        assert!(matches!(
            Garch11::fit(&[0.01; 10], 1.0),
            Err(ModelError::InsufficientData {
                needed: 50,
                got: 10
            })
        ));
        assert!(matches!(
            Garch11::fit(&[0.0; 100], 1.0),
            Err(ModelError::FitFailed { .. })
        ));
        let mut r = vec![0.01; 100];
        r[3] = f64::NAN;
        assert!(matches!(
            Garch11::fit(&r, 1.0),
            Err(ModelError::NonFinite { .. })
        ));
    }

    #[test]
    fn garch_from_returns_matches_update() {
        let p = GarchParams::new(1e-9, 0.1, 0.85).unwrap();
        let mut rng = Rng::new(7);
        let r: Vec<f64> = (0..20).map(|_| 1e-4 * rng.normal()).collect();
        let g = Garch11::from_returns(p, &r, 1.0).unwrap();
        let h0 = r.iter().map(|x| x * x).sum::<f64>() / 20.0;
        let mut s = Garch11::new(p, 1.0, h0).unwrap();
        for &x in &r {
            s.update(x).unwrap();
        }
        assert!((g.one_step_var_per_s() - s.one_step_var_per_s()).abs() < 1e-20);
    }
}
