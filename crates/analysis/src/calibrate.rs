//! The calibrator behind `polyedge calibrate`: how well calibrated is the fair-value model's `P(Up)` — and the market's
//! Up mid, where the recording has books — on a recording's settled windows?
//!
//! One streaming pass over the replay feeds a [`Calibrator`] event by event. For every window
//! with a known outcome and every time-left `t` of `--times` it takes a **snapshot** at
//! `s = end − t` and scores the forecasts against the outcome ([`Scorecard`] keyed by `t`).
//!
//! # No look-ahead
//! A snapshot sees the **last state at or before `s`**: every event received at `recv_ns ≤ s`
//! and nothing received later. The replay is in receive-time order; the snapshot is taken when
//! the first event with `recv_ns > s` arrives, *before* that event is applied (or at the end of
//! the replay). Prices, volatility, strike fallback and books are all built from received data
//! only, so a tick received after `s` can never leak in, even if its own (venue) timestamp is
//! earlier.
//!
//! # Reference price series
//! The series, strike, volatility and estimate rules below are implemented once in
//! `polyedge_model::online` ([`ReferenceSet`]) and shared with the strategies, so calibration and
//! backtests never disagree; calibrate leaves that module's optional spot-trade series off.
//!
//! Per asset, one series per source, from
//! * [`EventKind::Reference`] ticks — Chainlink data stream, Chainlink 30 s/60 s TWAP, or Binance
//!   relayed by RTDS. The price time of a tick is its venue timestamp (`venue_ns`, the feed's own
//!   second), else its receive time;
//! * closed [`EventKind::Kline`] candles (Binance): one point per candle, the **close** at its
//!   `close_time`. This is **coarse**: 1-minute resolution (the spot can be up to a minute old,
//!   and the volatility comes from 1-minute returns), and in the cronos data it is the Binance
//!   USD-M **futures** price, not the Chainlink settlement feed (a basis of a few dollars, and
//!   small moves can disagree in sign).
//!
//! A snapshot uses the most preferred series of the window's asset that is **fresh** (its last
//! point at most `polyedge_model::online::MAX_TICK_AGE_NS` = 60 s old for ticks, [`MAX_KLINE_AGE_NS`] = 2 min for
//! klines): first the feed the window settles on (Chainlink data stream before 2026-08-07,
//! Chainlink 30 s TWAP from 2026-08-07, 60 s TWAP from 2026-08-14 00:00 UTC; protocols.md §1.6),
//! then the other Chainlink feeds, then Binance via RTDS, then Binance spot klines, then any other
//! klines (Binance USD-M among them). Otherwise the snapshot is skipped as `no_reference`. A TWAP is
//! modelled as if it were a spot price (it is smoother: this overstates its short-horizon
//! variance).
//!
//! # Strike
//! The window's `strike` from the recording's index (the official price to beat) when present
//! (`strike_source = index`); otherwise read from the chosen series
//! (`strike_source = reference_at_start`): for ticks the last point with price time `≤ start`,
//! if at most `polyedge_model::online::STRIKE_MAX_TICK_AGE_NS` = 5 s older than `start` (the importers' rule for the
//! final price); for klines the **open** of the candle that opens at `start`, or if that candle
//! has not been received yet the close of the candle that closes at or before `start` (at most
//! 2 min old). Else the snapshot is skipped as `no_strike`.
//!
//! # Volatility (per second)
//! Both estimators work on log returns of the chosen series with their actual time steps and
//! return a **per-second variance** (polyedge_model's convention):
//! * `ewma` (default): `Ewma` fed every point as it is received; each return `r` over `Δt`
//!   seconds enters as `z² = r²/Δt`, so the average is a per-second variance. The decay per
//!   observation is `λ = 1 − Δ/L` with `Δ` the nominal spacing of the series (1 s for reference
//!   ticks, the candle length for klines) and `L` the lookback (`--lookback-s`, default 900 s):
//!   the mean age of the weights is then ≈ `L`. `--lambda` overrides `λ` for every series.
//! * `realized`: `realized_var` over the points of the last `L` seconds:
//!   `Σ r² / (time covered)`.
//!
//! Either needs at least `polyedge_model::online::MIN_RETURNS` = 10 returns, else the snapshot is skipped as `no_vol`.
//! The model is evaluated at `τ = t` seconds: `p_model = model.p_up(spot, strike, t, vol)`. With
//! `--tau-from-spot` the horizon is instead `τ = end − (price time of the spot)`, i.e. `t` plus the
//! spot's age: the price can move over that age too, which matters for klines (a 5-minute window
//! at `t = 30` has a spot from `t = 60`, so `τ = 60` instead of 30). For `--model merton` the jump
//! part (`λ_J(μ_J² + δ²)` per second) is subtracted from the estimate first (floored at 0), since
//! both estimators measure total variance.
//!
//! # Market forecaster
//! Where the recording has books for the window, the market's forecast is the **Up mid** of
//! [`WindowBook`] (the fresher of the Up book and the mirrored Down book; cronos follows mostly
//! the Down token), or of the top of book from `best_bid_ask` events when the window has no depth.
//! It is missing as `no_book` when the window has no book data yet, `stale_book` when the last
//! update is more than [`MAX_BOOK_AGE_NS`] = 5 s before `s`, `one_sided_book` when the Up bid or
//! ask side is empty (common once a window is all but decided: the paired set then leans towards
//! undecided windows, which is why model and market are compared only on the same snapshots),
//! and `crossed_book` when best bid ≥ best ask.
//!
//! # Scoring
//! Two scorecards keyed by `t`:
//! * **model** — every snapshot with a model forecast (the "model-only" counts);
//! * **paired** — forecasters `model` and `market_mid` on the same snapshots: a snapshot enters
//!   only if **every** forecaster has a value, so the two are compared on identical snapshots
//!   ([`Scorecard::compare`]: mean paired loss difference `model − market` with its standard
//!   error; negative = model better).
//!
//! There is one snapshot per window and `t`, so within one `t` the snapshots are independent
//! across windows. Reliability tables pooled over all `t` mix several snapshots of the same
//! window (same outcome): their Wilson intervals are too narrow.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use polyedge_core::event::{BestBidAsk, ReferenceSource, Venue};
use polyedge_core::{
    EventKind, MarketEvent, Outcome, OutcomeSource, Price, UnixNanos, Window, WindowBook,
    WindowIndex, book_tokens,
};
use polyedge_model::{
    EstimateSpec, Ewma, ForecasterScore, JumpFit, MertonJumpDigital, PairedComparison, Platt,
    Pricing, ReferenceSet, ReliabilityBin, Scorecard, SeriesConfig, VolEstimate, VolMethod,
    reliability_table,
};
use serde::Serialize;

use crate::recalibrate::{DEFAULT_MIN_TRAIN, WalkForward};

/// Default times left at which windows are scored, seconds.
pub const DEFAULT_TIMES_S: [u32; 4] = [240, 120, 60, 30];
/// Default volatility lookback, seconds (15 min).
pub const DEFAULT_LOOKBACK_S: u64 = 900;
/// Default number of reliability bins.
pub const DEFAULT_BINS: usize = 10;
/// A book whose last update is older than this at the snapshot is stale (5 s).
pub const MAX_BOOK_AGE_NS: u64 = 5 * UnixNanos::PER_SEC;
pub use polyedge_model::online::{MAX_KLINE_AGE_NS, SeriesKind, SkipReason, StrikeSource};
/// Default Merton jump intensity, jumps per hour (illustrative, not fitted).
pub const DEFAULT_JUMPS_PER_HOUR: f64 = 1.0;
/// Default Merton mean log jump (illustrative, not fitted).
pub const DEFAULT_JUMP_MEAN: f64 = 0.0;
/// Default Merton log-jump standard deviation: 20 bp (illustrative, not fitted).
pub const DEFAULT_JUMP_VOL: f64 = 0.002;

/// Forecaster names in the scorecards.
pub const MODEL: &str = "model";
/// Name of the market-mid forecaster.
pub const MARKET_MID: &str = "market_mid";
/// Name of the isotonic-recalibrated model.
pub const ISOTONIC: &str = "isotonic";
/// Name of the Platt-recalibrated model.
pub const PLATT: &str = "platt";

/// A calibration setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Which fair-value model to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Black–Scholes digital `N(d2)`, zero drift.
    Bs,
    /// Merton jump-diffusion digital (jump parameters from the options).
    Merton,
}

impl ModelKind {
    /// The name (`bs`, `merton`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Bs => "bs",
            ModelKind::Merton => "merton",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bs" => Ok(ModelKind::Bs),
            "merton" => Ok(ModelKind::Merton),
            _ => Err(format!("{s:?}: expected bs or merton")),
        }
    }
}

/// Settings of a calibration run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Times left at which windows are scored, seconds.
    pub times_s: Vec<u32>,
    /// Model.
    pub model: ModelKind,
    /// Jump parameters, used when `model` is Merton.
    pub merton: MertonJumpDigital,
    /// Volatility estimator.
    pub vol: VolMethod,
    /// Volatility lookback, seconds.
    pub lookback_s: u64,
    /// EWMA decay per observation for every series, overriding `1 − Δ/lookback`.
    pub lambda: Option<f64>,
    /// Reliability bins.
    pub bins: usize,
    /// Horizon `τ = end − (price time of the spot)` instead of `τ = t`: adds the spot's age,
    /// which matters for klines (up to 60 s).
    pub tau_from_spot: bool,
    /// Merton: estimate the jump parameters from the reference series received so far
    /// (`polyedge_model::jumps`); `merton` is the fallback until enough jumps were seen.
    pub fit_jumps: bool,
    /// Walk-forward isotonic and Platt recalibration ([`crate::recalibrate`]) after this many
    /// training snapshots; `None`: off.
    pub recalibrate_min_train: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            times_s: DEFAULT_TIMES_S.to_vec(),
            model: ModelKind::Bs,
            merton: MertonJumpDigital::default(),
            vol: VolMethod::Ewma,
            lookback_s: DEFAULT_LOOKBACK_S,
            lambda: None,
            bins: DEFAULT_BINS,
            tau_from_spot: false,
            fit_jumps: false,
            recalibrate_min_train: Some(DEFAULT_MIN_TRAIN),
        }
    }
}

impl Config {
    /// Checks the settings.
    ///
    /// # Errors
    /// No times, a time of 0, 0 bins, a lookback under 2 s or a `lambda` outside `(0, 1)`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bail = |m: &str| Err(ConfigError(m.to_string()));
        if self.times_s.is_empty() || self.times_s.contains(&0) {
            return bail(
                "--times: give one or more positive times left in seconds (e.g. 240,120,60,30)",
            );
        }
        if self.bins == 0 {
            return bail("--bins must be at least 1");
        }
        if self.lookback_s < 2 {
            return bail("--lookback-s must be at least 2 s");
        }
        if let Some(l) = self.lambda {
            Ewma::new(l).map_err(|e| ConfigError(format!("--lambda: {e}")))?;
        }
        if self.model == ModelKind::Merton {
            MertonJumpDigital::new(
                self.merton.jump_intensity_per_s,
                self.merton.jump_mean,
                self.merton.jump_vol,
            )
            .map_err(|e| ConfigError(format!("Merton jump parameters: {e}")))?;
        }
        Ok(())
    }

    /// The model as [`Pricing`] (shared with the strategies, `polyedge_model::online`).
    fn pricing(&self) -> Pricing {
        match self.model {
            ModelKind::Bs => Pricing::BlackScholes,
            ModelKind::Merton if self.fit_jumps => Pricing::MertonFitted(self.merton),
            ModelKind::Merton => Pricing::Merton(self.merton),
        }
    }

    /// The estimate settings of `polyedge_model::online`.
    fn estimate_spec(&self) -> EstimateSpec {
        EstimateSpec {
            pricing: self.pricing(),
            vol: self.vol,
            lookback_s: self.lookback_s,
            tau_from_spot: self.tau_from_spot,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference series: `polyedge_model::online` (SeriesKind, ReferenceSet), shared with strategies.
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Books
// ---------------------------------------------------------------------------------------------

/// Top of book of one token from `best_bid_ask` events.
#[derive(Debug, Clone, Copy, Default)]
struct Tob {
    bid: Option<Price>,
    ask: Option<Price>,
    at: Option<UnixNanos>,
}

#[derive(Debug)]
struct BookState {
    book: WindowBook,
    has_depth: bool,
    tob: [Tob; 2],
}

/// Why the market forecast of a snapshot is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketSkip {
    /// No book data for the window yet (`no_book`).
    #[serde(rename = "no_book")]
    Missing,
    /// The Up bid or ask side is empty (`one_sided_book`): typical once a window is decided.
    #[serde(rename = "one_sided_book")]
    OneSided,
    /// Last book update more than 5 s before the snapshot (`stale_book`).
    #[serde(rename = "stale_book")]
    Stale,
    /// Best bid ≥ best ask (`crossed_book`).
    #[serde(rename = "crossed_book")]
    Crossed,
}

impl BookState {
    /// Up mid (dollars) at `now`, or why there is none.
    fn up_mid(&self, now: UnixNanos) -> Result<f64, MarketSkip> {
        let (bid, ask, at) = if self.has_depth {
            let bid = self.book.best_bid(Outcome::Up).map(|l| l.level.price);
            let ask = self.book.best_ask(Outcome::Up).map(|l| l.level.price);
            (bid, ask, self.book.last_update())
        } else {
            let (up, down) = (self.tob[0], self.tob[1]);
            let use_up = match (up.at, down.at) {
                (None, None) => return Err(MarketSkip::Missing),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(a), Some(b)) => a >= b,
            };
            if use_up {
                (up.bid, up.ask, up.at)
            } else {
                (
                    down.ask.map(Price::complement),
                    down.bid.map(Price::complement),
                    down.at,
                )
            }
        };
        let Some(at) = at else {
            return Err(MarketSkip::Missing);
        };
        if now.saturating_sub(at) > MAX_BOOK_AGE_NS {
            return Err(MarketSkip::Stale);
        }
        let (Some(bid), Some(ask)) = (bid, ask) else {
            return Err(MarketSkip::OneSided);
        };
        if bid >= ask {
            return Err(MarketSkip::Crossed);
        }
        Ok(f64::from(u32::midpoint(bid.micros(), ask.micros())) / 1e6)
    }

    fn apply_tob(&mut self, b: &BestBidAsk, at: UnixNanos) {
        if let Some(o) = self.book.outcome_of(b.token) {
            self.tob[usize::from(o == Outcome::Down)] = Tob {
                bid: b.bid,
                ask: b.ask,
                at: Some(at),
            };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

/// One evaluated snapshot (kept for tests and diagnostics; not in the report).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRecord {
    /// Window slug.
    pub slug: String,
    /// Seconds left.
    pub t_s: u32,
    /// Snapshot instant `end − t`.
    pub at: UnixNanos,
    /// Realized outcome.
    pub outcome: Outcome,
    /// Reference series used.
    pub reference: Option<&'static str>,
    /// Spot (USD): the series' last price at or before `at`.
    pub spot: Option<f64>,
    /// Price time of that spot.
    pub spot_time: Option<UnixNanos>,
    /// Strike (USD).
    pub strike: Option<f64>,
    /// Where the strike came from.
    pub strike_source: Option<StrikeSource>,
    /// Volatility used (per-second variance, before any jump adjustment).
    pub var_per_s: Option<f64>,
    /// Horizon given to the model, seconds (`t`, or `end − spot time` with `tau_from_spot`).
    pub tau_s: Option<f64>,
    /// Model `P(Up)`.
    pub p_model: Option<f64>,
    /// Why the model has no forecast.
    pub skip: Option<SkipReason>,
    /// Market Up mid.
    pub p_market: Option<f64>,
    /// Why the market has no forecast.
    pub market_skip: Option<MarketSkip>,
    /// The model's `P(Up)` recalibrated by isotonic regression fitted walk-forward.
    pub p_isotonic: Option<f64>,
    /// The same by Platt scaling.
    pub p_platt: Option<f64>,
}

#[derive(Debug)]
struct WinState {
    book: Option<BookState>,
    pending: usize,
    model_snapshots: u64,
    paired_snapshots: u64,
    reasons: Vec<SkipReason>,
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

/// Snapshots not scored at one `t`, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimeSkips {
    /// `t` longer than the window (no snapshot).
    pub t_exceeds_window: u64,
    /// No fresh reference series (model not evaluated).
    pub no_reference: u64,
    /// No strike.
    pub no_strike: u64,
    /// Not enough returns for the volatility.
    pub no_vol: u64,
    /// Model error.
    pub model_error: u64,
    /// Market: no book data for the window yet.
    pub no_book: u64,
    /// Market: the Up bid or ask side empty.
    pub one_sided_book: u64,
    /// Market: book older than 5 s.
    pub stale_book: u64,
    /// Market: crossed book.
    pub crossed_book: u64,
    /// Market mid present but no model forecast (not paired).
    pub market_without_model: u64,
}

/// Model and market scored on the same snapshots of one `t`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedScores {
    /// Number of paired snapshots.
    pub n: usize,
    /// The model on them.
    pub model: ForecasterScore,
    /// The market Up mid on them.
    pub market_mid: ForecasterScore,
    /// Paired loss differences `model − market_mid` (negative = model better), with standard errors.
    pub model_minus_market: PairedComparison<u32>,
}

/// A reliability table of one forecaster on one set of snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityTable {
    /// Forecaster (`model`, `market_mid`).
    pub forecaster: String,
    /// Snapshot set: `all_model` (every model snapshot) or `paired` (model and market both present).
    pub snapshots: String,
    /// Number of snapshots.
    pub n: usize,
    /// Equal-width bins on `[0, 1]`.
    pub bins: Vec<ReliabilityBin>,
}

/// Results at one time left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeRow {
    /// Seconds left.
    pub t_s: u32,
    /// Snapshots attempted (windows with an outcome).
    pub snapshots: u64,
    /// The model on every snapshot where it has a forecast.
    pub model: Option<ForecasterScore>,
    /// Model and market on the snapshots where both have a forecast.
    pub paired: Option<PairedScores>,
    /// Mean annualized volatility fed to the model (24/7 year).
    pub mean_vol_annual: Option<f64>,
    /// Model snapshots by reference series.
    pub reference_series: BTreeMap<String, u64>,
    /// Snapshots not scored, by reason.
    pub skipped: TimeSkips,
    /// Reliability tables at this `t`: model on all its snapshots, then both on the paired ones.
    pub reliability: Vec<ReliabilityTable>,
}

/// Totals over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Windows in the recordings' index (deduplicated by slug).
    pub windows: u64,
    /// Windows with at least one model snapshot.
    pub windows_used: u64,
    /// Windows with at least one paired (model + market) snapshot.
    pub windows_paired: u64,
    /// Windows with no model snapshot, by reason: `no_outcome`, else the first of `no_reference`,
    /// `no_strike`, `no_vol`, `model_error` that hit one of its snapshots.
    pub windows_skipped: BTreeMap<String, u64>,
    /// Windows used by the model that never had a usable market mid ("no book").
    pub windows_without_book: u64,
    /// Used windows by outcome source.
    pub outcome_sources: BTreeMap<String, u64>,
    /// Used windows by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Model snapshots by strike source.
    pub strike_sources: BTreeMap<String, u64>,
    /// Model snapshots by reference series.
    pub reference_series: BTreeMap<String, u64>,
    /// Points received per series (`asset/series`).
    pub reference_points: BTreeMap<String, u64>,
    /// Points at the same price time as their predecessor that replaced its price, all series.
    pub reference_corrections: u64,
    /// Reference points dropped (older than the series' last point, or a bad price).
    pub reference_dropped: u64,
    /// EWMA decay per observation of each series (`asset/series`).
    pub ewma_lambdas: BTreeMap<String, f64>,
    /// Snapshots attempted.
    pub snapshots: u64,
    /// Snapshots with a model forecast.
    pub model_snapshots: u64,
    /// Snapshots with both forecasts.
    pub paired_snapshots: u64,
    /// Book events the window books refused.
    pub book_errors: u64,
    /// Merton jump parameters estimated per series (`asset/series`) at the end, with
    /// `fit_jumps`.
    pub jump_fits: BTreeMap<String, JumpFit>,
    /// GARCH(1,1) fits per series (`asset/series`), with `vol = garch`.
    pub garch_fits: BTreeMap<String, u64>,
}

/// Raw model, its two recalibrations (and the market mid) at one `t`, on the same snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecalRow {
    /// Seconds left.
    pub t_s: u32,
    /// `model`, `isotonic`, `platt` on every snapshot with a recalibrated forecast.
    pub scores: Vec<ForecasterScore>,
    /// Paired differences `isotonic − model` (negative: recalibration helped).
    pub isotonic_minus_model: Option<PairedComparison<u32>>,
    /// Paired differences `platt − model`.
    pub platt_minus_model: Option<PairedComparison<u32>>,
    /// `model`, `isotonic`, `platt`, `market_mid` on those of them with a market mid.
    pub with_market: Vec<ForecasterScore>,
    /// Paired differences `platt − market_mid` on those.
    pub platt_minus_market: Option<PairedComparison<u32>>,
}

/// Walk-forward recalibration results ([`crate::recalibrate`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recalibration {
    /// How the maps were fitted.
    pub method: &'static str,
    /// Training snapshots before the first recalibrated forecast.
    pub min_train: usize,
    /// Times the maps were refitted.
    pub fits: u64,
    /// Training snapshots at the end.
    pub trained_on: usize,
    /// All `t` pooled: `model`, `isotonic`, `platt`.
    pub pooled: Vec<ForecasterScore>,
    /// All `t` pooled, with a market mid: `model`, `isotonic`, `platt`, `market_mid`.
    pub pooled_with_market: Vec<ForecasterScore>,
    /// Per `t`, decreasing.
    pub by_t: Vec<RecalRow>,
    /// The last Platt fit (`a`: slope on the log-odds, `b`: intercept).
    pub final_platt: Option<Platt>,
    /// Blocks of the last isotonic fit.
    pub final_isotonic_blocks: Option<usize>,
}

/// The full calibration report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// Caveats of the data and method, one per line.
    pub caveats: Vec<String>,
    /// Settings used.
    pub config: Config,
    /// One row per time left, in decreasing `t`.
    pub by_t: Vec<TimeRow>,
    /// Reliability tables over all `t` pooled (see the module docs on independence).
    pub reliability: Vec<ReliabilityTable>,
    /// Walk-forward recalibration (`None` when off).
    pub recalibration: Option<Recalibration>,
    /// Totals.
    pub totals: Totals,
}

// ---------------------------------------------------------------------------------------------
// Calibrator
// ---------------------------------------------------------------------------------------------

/// Merges duplicate windows (same slug in several recordings): the first by `(start, slug)` is
/// kept and its missing strike, outcome and token ids are filled from the others.
pub fn merge_windows(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by(|a, b| (a.start, &a.slug).cmp(&(b.start, &b.slug)));
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for w in windows {
        match out.last_mut() {
            Some(k) if k.slug == w.slug => {
                if k.strike.is_none() {
                    k.strike = w.strike;
                }
                if k.outcome.is_none() {
                    k.outcome = w.outcome;
                    k.outcome_source = w.outcome_source;
                }
                if k.up_token.is_none() && k.down_token.is_none() {
                    k.up_token = w.up_token;
                    k.down_token = w.down_token;
                }
                if k.condition_id.is_none() {
                    k.condition_id = w.condition_id;
                }
            }
            _ => out.push(w),
        }
    }
    out
}

/// Scores the model (and the market mid) on snapshots of settled windows, fed event by event in
/// receive-time order. See the [module docs](self).
#[derive(Debug)]
pub struct Calibrator {
    config: Config,
    /// The windows (merged by slug), routing token ids to their window's position.
    index: WindowIndex,
    states: Vec<WinState>,
    /// `(instant, window, t)`, sorted; `next` is the first not yet taken.
    schedule: Vec<(UnixNanos, usize, u32)>,
    next: usize,
    refs: ReferenceSet,
    model_card: Scorecard<u32>,
    paired_card: Scorecard<u32>,
    /// Walk-forward recalibration, with its scorecards (`model`, `isotonic`, `platt`[,
    /// `market_mid`]).
    recal: Option<(WalkForward, Scorecard<u32>, Scorecard<u32>)>,
    snapshots: Vec<SnapshotRecord>,
    skips: BTreeMap<u32, TimeSkips>,
    attempted: BTreeMap<u32, u64>,
    no_outcome: u64,
    book_errors: u64,
}

impl Calibrator {
    /// A calibrator for `windows` (deduplicated by slug; see [`merge_windows`]).
    ///
    /// # Errors
    /// An invalid [`Config`].
    pub fn new(windows: &[Window], config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let index = WindowIndex::from_windows(merge_windows(windows.to_vec()));
        let windows = index.windows();
        let mut states = Vec::with_capacity(windows.len());
        let mut schedule = Vec::new();
        let mut skips: BTreeMap<u32, TimeSkips> = BTreeMap::new();
        let mut attempted: BTreeMap<u32, u64> = BTreeMap::new();
        let mut no_outcome = 0;
        let mut max_duration_ns = 0;
        for (i, w) in windows.iter().enumerate() {
            let mut pending = 0;
            let duration_ns = w.end.saturating_sub(w.start);
            max_duration_ns = max_duration_ns.max(duration_ns);
            if w.outcome.is_some() {
                for &t in &config.times_s {
                    *attempted.entry(t).or_default() += 1;
                    let t_ns = u64::from(t) * UnixNanos::PER_SEC;
                    if t_ns > duration_ns {
                        skips.entry(t).or_default().t_exceeds_window += 1;
                        continue;
                    }
                    schedule.push((UnixNanos(w.end.0 - t_ns), i, t));
                    pending += 1;
                }
            } else {
                no_outcome += 1;
            }
            // Windows with a snapshot to take and a known token get a book (on the stand-in
            // token of a missing side, as everywhere: `book_tokens`).
            let book = book_tokens(w)
                .filter(|_| pending > 0)
                .map(|(up, down)| BookState {
                    book: WindowBook::new(up, down),
                    has_depth: false,
                    tob: [Tob::default(); 2],
                });
            states.push(WinState {
                book,
                pending,
                model_snapshots: 0,
                paired_snapshots: 0,
                reasons: Vec::new(),
            });
        }
        schedule.sort_unstable();
        for &t in &config.times_s {
            skips.entry(t).or_default();
            attempted.entry(t).or_default();
        }
        let retention_ns =
            (config.lookback_s * UnixNanos::PER_SEC).max(max_duration_ns) + 3 * MAX_KLINE_AGE_NS;
        // Calibration scores the settlement-side reference feeds only: no spot-trade series.
        let refs = ReferenceSet::new(SeriesConfig {
            lookback_s: config.lookback_s,
            lambda: config.lambda,
            retention_ns,
            spot_series: false,
            garch: config.vol == VolMethod::Garch,
            fit_jumps: config.fit_jumps && config.model == ModelKind::Merton,
        })
        .map_err(|e| ConfigError(e.to_string()))?;
        let card = |names: &[&str]| {
            Scorecard::new(names.iter().copied()).map_err(|e| ConfigError(e.to_string()))
        };
        let recal = match config.recalibrate_min_train {
            Some(n) => Some((
                WalkForward::new(n),
                card(&[MODEL, ISOTONIC, PLATT])?,
                card(&[MODEL, ISOTONIC, PLATT, MARKET_MID])?,
            )),
            None => None,
        };
        Ok(Calibrator {
            model_card: card(&[MODEL])?,
            paired_card: card(&[MODEL, MARKET_MID])?,
            recal,
            config,
            index,
            states,
            schedule,
            next: 0,
            refs,
            snapshots: Vec::new(),
            skips,
            attempted,
            no_outcome,
            book_errors: 0,
        })
    }

    /// Snapshots evaluated so far, in the order taken.
    pub fn snapshots(&self) -> &[SnapshotRecord] {
        &self.snapshots
    }

    /// Takes every snapshot whose instant is before `now` (strictly): the state is then the
    /// last at or before the instant.
    pub fn advance_to(&mut self, now: UnixNanos) {
        while let Some(&(at, wi, t)) = self.schedule.get(self.next) {
            if at >= now {
                break;
            }
            self.next += 1;
            self.take_snapshot(at, wi, t);
        }
    }

    /// Feeds one event (in receive-time order).
    pub fn on_event(&mut self, ev: &MarketEvent) {
        self.advance_to(ev.recv_ns);
        match &ev.kind {
            EventKind::Reference(_) | EventKind::Kline(_) => self.refs.on_event(ev),
            EventKind::Book(_) | EventKind::BookDelta(_) | EventKind::TickSizeChange(_) => {
                if let Some(st) = self.book_for(ev) {
                    st.has_depth = true;
                    if st.book.apply(ev).is_err() {
                        self.book_errors += 1;
                    }
                }
            }
            EventKind::BestBidAsk(b) => {
                if let Some(st) = self.book_for(ev)
                    && !st.has_depth
                {
                    st.apply_tob(b, ev.recv_ns);
                }
            }
            _ => {}
        }
    }

    fn book_for(&mut self, ev: &MarketEvent) -> Option<&mut BookState> {
        let (wi, _) = self.index.route_token(ev.kind.token()?)?;
        self.states[wi].book.as_mut()
    }

    fn take_snapshot(&mut self, at: UnixNanos, wi: usize, t: u32) {
        let w = &self.index.windows()[wi];
        let Some(outcome) = w.outcome else { return };
        let mut rec = SnapshotRecord {
            slug: w.slug.clone(),
            t_s: t,
            at,
            outcome,
            reference: None,
            spot: None,
            spot_time: None,
            strike: None,
            strike_source: None,
            var_per_s: None,
            tau_s: None,
            p_model: None,
            skip: None,
            p_market: None,
            market_skip: None,
            p_isotonic: None,
            p_platt: None,
        };
        // Model: the shared online estimate (`polyedge_model::online`) at the snapshot instant.
        let e = self.refs.estimate(w, at, &self.config.estimate_spec());
        rec.reference = e.series.map(SeriesKind::name);
        rec.spot = e.spot;
        rec.spot_time = e.spot_time;
        rec.strike = e.strike;
        rec.strike_source = e.strike_source;
        rec.var_per_s = e.var_per_s;
        rec.tau_s = e.tau_s;
        rec.p_model = e.p_up;
        rec.skip = e.skip;
        // Walk-forward recalibration: maps fitted on windows ended by now, then this snapshot
        // becomes training data at its window's end.
        if let (Some(pm), Some((wf, _, _))) = (rec.p_model, self.recal.as_mut()) {
            if let Some((iso, platt)) = wf.forecast(at, pm) {
                rec.p_isotonic = Some(iso);
                rec.p_platt = Some(platt);
            }
            wf.observe(w.end, pm, outcome == Outcome::Up);
        }
        // Market.
        match self.states[wi].book.as_ref().map(|b| b.up_mid(at)) {
            Some(Ok(mid)) => rec.p_market = Some(mid),
            Some(Err(e)) => rec.market_skip = Some(e),
            None => rec.market_skip = Some(MarketSkip::Missing),
        }
        self.record(wi, &rec);
        self.snapshots.push(rec);
        let st = &mut self.states[wi];
        st.pending = st.pending.saturating_sub(1);
        if st.pending == 0 {
            st.book = None; // the window is done: free its book
        }
    }

    fn record(&mut self, wi: usize, rec: &SnapshotRecord) {
        let skips = self.skips.entry(rec.t_s).or_default();
        let st = &mut self.states[wi];
        if let Some(r) = rec.skip {
            st.reasons.push(r);
            match r {
                SkipReason::NoReference => skips.no_reference += 1,
                SkipReason::NoStrike => skips.no_strike += 1,
                SkipReason::NoVol => skips.no_vol += 1,
                SkipReason::ModelError => skips.model_error += 1,
            }
        }
        match rec.market_skip {
            Some(MarketSkip::Missing) => skips.no_book += 1,
            Some(MarketSkip::Stale) => skips.stale_book += 1,
            Some(MarketSkip::OneSided) => skips.one_sided_book += 1,
            Some(MarketSkip::Crossed) => skips.crossed_book += 1,
            None => {}
        }
        let Some(pm) = rec.p_model else {
            if rec.p_market.is_some() {
                skips.market_without_model += 1;
            }
            return;
        };
        // Probabilities were range-checked above, so recording cannot fail.
        if self.model_card.record(rec.t_s, rec.outcome, &[pm]).is_ok() {
            st.model_snapshots += 1;
        }
        if let Some(pk) = rec.p_market
            && self
                .paired_card
                .record(rec.t_s, rec.outcome, &[pm, pk])
                .is_ok()
        {
            st.paired_snapshots += 1;
        }
        if let (Some(iso), Some(pl), Some((_, card, mkt))) =
            (rec.p_isotonic, rec.p_platt, self.recal.as_mut())
        {
            let _ = card.record(rec.t_s, rec.outcome, &[pm, iso, pl]);
            if let Some(pk) = rec.p_market {
                let _ = mkt.record(rec.t_s, rec.outcome, &[pm, iso, pl, pk]);
            }
        }
    }

    /// Takes the remaining snapshots (the replay is over) and builds the report.
    pub fn finish(mut self) -> CalibrationReport {
        self.advance_to(UnixNanos(u64::MAX));
        let bins = self.config.bins;

        // Per t.
        let model_rows: BTreeMap<u32, ForecasterScore> = self
            .model_card
            .rows()
            .into_iter()
            .filter_map(|r| Some((r.key, r.scores.into_iter().next()?)))
            .collect();
        let paired_rows: BTreeMap<u32, Vec<ForecasterScore>> = self
            .paired_card
            .rows()
            .into_iter()
            .map(|r| (r.key, r.scores))
            .collect();
        let comparisons: BTreeMap<u32, PairedComparison<u32>> = self
            .paired_card
            .compare(MODEL, MARKET_MID)
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.key, c))
            .collect();
        let mut times = self.config.times_s.clone();
        times.sort_unstable_by(|a, b| b.cmp(a));
        times.dedup();
        let mut by_t = Vec::with_capacity(times.len());
        for &t in &times {
            let snaps: Vec<&SnapshotRecord> =
                self.snapshots.iter().filter(|s| s.t_s == t).collect();
            let paired = match (paired_rows.get(&t), comparisons.get(&t)) {
                (Some(scores), Some(cmp)) if scores.len() == 2 => Some(PairedScores {
                    n: cmp.n,
                    model: scores[0].clone(),
                    market_mid: scores[1].clone(),
                    model_minus_market: cmp.clone(),
                }),
                _ => None,
            };
            let vols: Vec<f64> = snaps
                .iter()
                .filter(|s| s.p_model.is_some())
                .filter_map(|s| s.var_per_s)
                .filter_map(|v| VolEstimate::from_var_per_s(v).ok())
                .map(|v| v.annualized())
                .collect();
            let mut reference_series = BTreeMap::new();
            for s in snaps.iter().filter(|s| s.p_model.is_some()) {
                if let Some(r) = s.reference {
                    *reference_series.entry(r.to_string()).or_default() += 1;
                }
            }
            by_t.push(TimeRow {
                t_s: t,
                snapshots: self.attempted.get(&t).copied().unwrap_or(0),
                model: model_rows.get(&t).cloned(),
                paired,
                mean_vol_annual: (!vols.is_empty())
                    .then(|| vols.iter().sum::<f64>() / vols.len() as f64),
                reference_series,
                skipped: self.skips.get(&t).cloned().unwrap_or_default(),
                reliability: reliability_tables(&snaps, bins),
            });
        }
        let all: Vec<&SnapshotRecord> = self.snapshots.iter().collect();
        let reliability = reliability_tables(&all, bins);

        // Totals.
        let mut totals = Totals {
            windows: self.index.len() as u64,
            book_errors: self.book_errors,
            ..Totals::default()
        };
        if self.no_outcome > 0 {
            totals
                .windows_skipped
                .insert("no_outcome".into(), self.no_outcome);
        }
        for (w, st) in self.index.windows().iter().zip(&self.states) {
            if st.model_snapshots > 0 {
                totals.windows_used += 1;
                if st.paired_snapshots > 0 {
                    totals.windows_paired += 1;
                } else {
                    totals.windows_without_book += 1;
                }
                *totals
                    .outcome_sources
                    .entry(outcome_source_name(w.outcome_source).into())
                    .or_default() += 1;
                if let Some(o) = w.outcome {
                    *totals.outcomes.entry(o.to_string()).or_default() += 1;
                }
            } else if w.outcome.is_some() {
                let reason = st
                    .reasons
                    .iter()
                    .min()
                    .map_or("t_exceeds_window", |r| r.name());
                *totals.windows_skipped.entry(reason.into()).or_default() += 1;
            }
        }
        for s in &self.snapshots {
            if s.p_model.is_some() {
                totals.model_snapshots += 1;
                if let Some(src) = s.strike_source {
                    *totals.strike_sources.entry(src.name().into()).or_default() += 1;
                }
                if let Some(r) = s.reference {
                    *totals.reference_series.entry(r.into()).or_default() += 1;
                }
                if s.p_market.is_some() {
                    totals.paired_snapshots += 1;
                }
            }
        }
        totals.snapshots = self.attempted.values().sum();
        for (asset, s) in self.refs.series() {
            let key = format!("{asset}/{}", s.kind().name());
            totals.reference_points.insert(key.clone(), s.received());
            totals.ewma_lambdas.insert(key, s.lambda());
            totals.reference_corrections += s.corrections();
            totals.reference_dropped += s.dropped();
        }
        for (asset, s) in self.refs.series() {
            let key = format!("{asset}/{}", s.kind().name());
            if let Some(f) = s.jump_fit() {
                totals.jump_fits.insert(key.clone(), f);
            }
            if s.garch_fits() > 0 {
                totals.garch_fits.insert(key, s.garch_fits());
            }
        }
        let recalibration = self
            .recal
            .as_ref()
            .map(|(wf, card, mkt)| recalibration_report(wf, card, mkt, &times));
        let caveats = caveats(&self.config, &totals);
        CalibrationReport {
            caveats,
            config: self.config,
            by_t,
            reliability,
            recalibration,
            totals,
        }
    }
}

fn recalibration_report(
    wf: &WalkForward,
    card: &Scorecard<u32>,
    mkt: &Scorecard<u32>,
    times: &[u32],
) -> Recalibration {
    let by_key = |sc: &Scorecard<u32>| -> BTreeMap<u32, Vec<ForecasterScore>> {
        sc.rows().into_iter().map(|r| (r.key, r.scores)).collect()
    };
    let cmp = |sc: &Scorecard<u32>, a: &str, b: &str| -> BTreeMap<u32, PairedComparison<u32>> {
        sc.compare(a, b)
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.key, c))
            .collect()
    };
    let (rows, rows_m) = (by_key(card), by_key(mkt));
    let (iso_m, pl_m, pl_k) = (
        cmp(card, ISOTONIC, MODEL),
        cmp(card, PLATT, MODEL),
        cmp(mkt, PLATT, MARKET_MID),
    );
    Recalibration {
        method: "isotonic regression (pool-adjacent-violators) and Platt scaling on log-odds, fitted on the model snapshots of windows that ended by the snapshot (all t pooled), refitted as outcomes arrive",
        min_train: wf.min_train(),
        fits: wf.fits(),
        trained_on: wf.trained_on(),
        pooled: card.overall(),
        pooled_with_market: mkt.overall(),
        by_t: times
            .iter()
            .filter_map(|t| {
                Some(RecalRow {
                    t_s: *t,
                    scores: rows.get(t)?.clone(),
                    isotonic_minus_model: iso_m.get(t).cloned(),
                    platt_minus_model: pl_m.get(t).cloned(),
                    with_market: rows_m.get(t).cloned().unwrap_or_default(),
                    platt_minus_market: pl_k.get(t).cloned(),
                })
            })
            .collect(),
        final_platt: wf.platt(),
        final_isotonic_blocks: wf.isotonic().map(|i| i.knots.len()),
    }
}

fn outcome_source_name(s: Option<OutcomeSource>) -> &'static str {
    match s {
        Some(OutcomeSource::Official) => "official",
        Some(OutcomeSource::ChainlinkDerived) => "chainlink_derived",
        Some(OutcomeSource::Inferred) => "inferred",
        None => "unknown",
    }
}

/// Model on all its snapshots, then model and market on the paired ones (if any).
fn reliability_tables(snaps: &[&SnapshotRecord], bins: usize) -> Vec<ReliabilityTable> {
    let up = |s: &SnapshotRecord| s.outcome == Outcome::Up;
    let model: Vec<(f64, bool)> = snaps
        .iter()
        .filter_map(|s| Some((s.p_model?, up(s))))
        .collect();
    let paired: Vec<(f64, f64, bool)> = snaps
        .iter()
        .filter_map(|s| Some((s.p_model?, s.p_market?, up(s))))
        .collect();
    let mut out = Vec::new();
    let mut push = |forecaster: &str, set: &str, pairs: &[(f64, bool)]| {
        if let Ok(bins) = reliability_table(pairs, bins) {
            out.push(ReliabilityTable {
                forecaster: forecaster.into(),
                snapshots: set.into(),
                n: pairs.len(),
                bins,
            });
        }
    };
    push(MODEL, "all_model", &model);
    let pm: Vec<(f64, bool)> = paired.iter().map(|&(m, _, o)| (m, o)).collect();
    let pk: Vec<(f64, bool)> = paired.iter().map(|&(_, k, o)| (k, o)).collect();
    push(MODEL, "paired", &pm);
    push(MARKET_MID, "paired", &pk);
    out
}

fn caveats(config: &Config, t: &Totals) -> Vec<String> {
    let mut c = Vec::new();
    let kv = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    c.push(format!(
        "outcomes of the {} windows used: {} ({})",
        t.windows_used,
        kv(&t.outcomes),
        kv(&t.outcome_sources)
    ));
    if t.outcome_sources.contains_key("inferred") {
        c.push(
            "inferred outcomes are labels of good but imperfect quality (from final books and \
             Binance moves), not the official resolution"
                .into(),
        );
    }
    let kinds: Vec<SeriesKind> = [
        ReferenceSource::Chainlink,
        ReferenceSource::ChainlinkTwap30,
        ReferenceSource::ChainlinkTwap60,
        ReferenceSource::RtdsBinance,
    ]
    .into_iter()
    .map(SeriesKind::Reference)
    .chain(
        [
            Venue::BinanceSpot,
            Venue::BinanceUsdm,
            Venue::Coinbase,
            Venue::Deribit,
        ]
        .map(SeriesKind::Kline),
    )
    .collect();
    for k in kinds {
        if let Some(n) = t.reference_series.get(k.name()) {
            c.push(format!(
                "reference {} ({n} model snapshots): {}",
                k.name(),
                k.description()
            ));
        }
    }
    if t.reference_series.is_empty() {
        c.push("no reference price data usable: the model was not evaluated".into());
    }
    if let Some(n) = t.strike_sources.get("reference_at_start") {
        c.push(format!(
            "{n} model snapshots use a strike read from the reference series at the window start, \
             not the official price to beat"
        ));
    }
    if t.paired_snapshots == 0 {
        c.push("no usable order books: the market-mid forecaster is absent".into());
    }
    c.push(format!(
        "vol {}: per-second variance of log returns of the reference series over a {} s lookback \
         (see --help); model {}",
        config.vol.name(),
        config.lookback_s,
        match (config.model, config.fit_jumps) {
            (ModelKind::Bs, _) => "Black-Scholes digital N(d2), zero drift",
            (ModelKind::Merton, false) =>
                "Merton jump-diffusion digital (jump parameters given, not fitted)",
            (ModelKind::Merton, true) =>
                "Merton jump-diffusion digital, jump parameters estimated from the reference series so far (threshold estimator, expanding window)",
        }
    ));
    c.push(
        "reliability pooled over t mixes several snapshots of the same window: its intervals are \
         too narrow"
            .into(),
    );
    c
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.prec$}"))
}

fn diff(d: f64, se: Option<f64>) -> String {
    match se {
        Some(se) => format!("{d:+.4}±{se:.4}"),
        None => format!("{d:+.4}"),
    }
}

/// Renders the report as text: header with caveats, a table per `t`, pooled reliability tables
/// and totals.
pub fn render_table(r: &CalibrationReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "calibration of P(Up): model {}, vol {} (lookback {} s), {} windows in index",
        r.config.model.name(),
        r.config.vol.name(),
        r.config.lookback_s,
        r.totals.windows
    );
    for c in &r.caveats {
        let _ = writeln!(s, "  * {c}");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:>5} | {:>6} {:>7} {:>7} {:>6} | {:>6} {:>7} {:>7} {:>16} {:>7} {:>7} {:>16} | skipped",
        "t (s)",
        "n",
        "Brier",
        "logloss",
        "σ ann",
        "paired",
        "B model",
        "B mkt",
        "ΔBrier±se",
        "LL mdl",
        "LL mkt",
        "ΔLL±se"
    );
    for row in &r.by_t {
        let m = row.model.as_ref();
        let (pn, bm, bk, db, lm, lk, dl) = if let Some(p) = &row.paired {
            (
                p.n.to_string(),
                format!("{:.4}", p.model.brier),
                format!("{:.4}", p.market_mid.brier),
                diff(
                    p.model_minus_market.brier_diff,
                    p.model_minus_market.brier_diff_se,
                ),
                format!("{:.4}", p.model.log_loss),
                format!("{:.4}", p.market_mid.log_loss),
                diff(
                    p.model_minus_market.log_loss_diff,
                    p.model_minus_market.log_loss_diff_se,
                ),
            )
        } else {
            let d = || "-".to_string();
            ("0".into(), d(), d(), d(), d(), d(), d())
        };
        let k = &row.skipped;
        let mut sk = Vec::new();
        for (name, v) in [
            ("no_ref", k.no_reference),
            ("no_strike", k.no_strike),
            ("no_vol", k.no_vol),
            ("model_err", k.model_error),
            ("t>window", k.t_exceeds_window),
            ("no_book", k.no_book),
            ("one_sided", k.one_sided_book),
            ("stale_book", k.stale_book),
            ("crossed", k.crossed_book),
        ] {
            if v > 0 {
                sk.push(format!("{name}={v}"));
            }
        }
        let _ = writeln!(
            s,
            "{:>5} | {:>6} {:>7} {:>7} {:>6} | {:>6} {:>7} {:>7} {:>16} {:>7} {:>7} {:>16} | {}",
            row.t_s,
            m.map_or(0, |m| m.n),
            opt(m.map(|m| m.brier), 4),
            opt(m.map(|m| m.log_loss), 4),
            opt(row.mean_vol_annual.map(|v| v * 100.0), 1)
                + if row.mean_vol_annual.is_some() {
                    "%"
                } else {
                    ""
                },
            pn,
            bm,
            bk,
            db,
            lm,
            lk,
            dl,
            sk.join(" ")
        );
    }
    let _ = writeln!(
        s,
        "(Brier: 0.25 = always ½; logloss in nats, ln 2 = 0.693 = always ½; Δ = model − market on \
         the same snapshots, negative = model better; ± one standard error)"
    );
    if let Some(rc) = &r.recalibration {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "walk-forward recalibration of the model (fitted on windows ended before each snapshot, \
             after {} training snapshots; {} fits, {} at the end{}):",
            rc.min_train,
            rc.fits,
            rc.trained_on,
            rc.final_platt.map_or(String::new(), |p| format!(
                "; last Platt a = {:.3}, b = {:.3}",
                p.a, p.b
            ))
        );
        let _ = writeln!(
            s,
            "{:>5} | {:>6} {:>8} {:>8} {:>8} {:>16} {:>16} | {:>6} {:>8} {:>8} {:>8} {:>8} {:>16}",
            "t (s)",
            "n",
            "B model",
            "B iso",
            "B platt",
            "Δ iso±se",
            "Δ platt±se",
            "w/mkt",
            "B model",
            "B iso",
            "B platt",
            "B mkt",
            "Δ platt−mkt"
        );
        let score = |v: &[ForecasterScore], name: &str| {
            v.iter()
                .find(|f| f.forecaster == name)
                .map_or("-".to_string(), |f| format!("{:.4}", f.brier))
        };
        let d = |c: &Option<PairedComparison<u32>>| {
            c.as_ref()
                .map_or("-".to_string(), |c| diff(c.brier_diff, c.brier_diff_se))
        };
        // (t, scores, isotonic−model, platt−model, scores with market, platt−market)
        type Row<'a> = (
            String,
            &'a [ForecasterScore],
            String,
            String,
            &'a [ForecasterScore],
            String,
        );
        let mut rows: Vec<Row<'_>> = rc
            .by_t
            .iter()
            .map(|row| {
                (
                    row.t_s.to_string(),
                    row.scores.as_slice(),
                    d(&row.isotonic_minus_model),
                    d(&row.platt_minus_model),
                    row.with_market.as_slice(),
                    d(&row.platt_minus_market),
                )
            })
            .collect();
        rows.push((
            "all".into(),
            rc.pooled.as_slice(),
            String::new(),
            String::new(),
            rc.pooled_with_market.as_slice(),
            String::new(),
        ));
        for (t, sc, di, dp, wm, dk) in rows {
            let _ = writeln!(
                s,
                "{:>5} | {:>6} {:>8} {:>8} {:>8} {:>16} {:>16} | {:>6} {:>8} {:>8} {:>8} {:>8} {:>16}",
                t,
                sc.first().map_or(0, |f| f.n),
                score(sc, MODEL),
                score(sc, ISOTONIC),
                score(sc, PLATT),
                di,
                dp,
                wm.first().map_or(0, |f| f.n),
                score(wm, MODEL),
                score(wm, ISOTONIC),
                score(wm, PLATT),
                score(wm, MARKET_MID),
                dk
            );
        }
        let _ = writeln!(
            s,
            "(Brier scores on the same snapshots; Δ = recalibrated − raw model (negative = recalibration helped), \
             Δ platt−mkt = Platt-recalibrated model − market mid; ± one standard error)"
        );
    }
    for table in &r.reliability {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "reliability — {} on {} snapshots ({}, all t pooled):",
            table.forecaster,
            table.n,
            if table.snapshots == "paired" {
                "paired with the other forecaster"
            } else {
                "every model snapshot"
            }
        );
        let _ = writeln!(
            s,
            "  {:<11} {:>6} {:>8} {:>9}   {:<16}",
            "bin", "n", "mean p", "observed", "Wilson 95%"
        );
        for b in &table.bins {
            let ci = b
                .wilson_95
                .map_or_else(|| "-".into(), |(lo, hi)| format!("[{lo:.3}, {hi:.3}]"));
            let _ = writeln!(
                s,
                "  {:<11} {:>6} {:>8} {:>9}   {:<16}",
                format!("{:.2}–{:.2}", b.lower, b.upper),
                b.count,
                opt(b.mean_predicted, 3),
                opt(b.observed_frequency, 3),
                ci
            );
        }
    }
    let t = &r.totals;
    let kv = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "windows: {} in index, {} used by the model, {} paired with a market mid, {} used without a book",
        t.windows, t.windows_used, t.windows_paired, t.windows_without_book
    );
    let _ = writeln!(s, "windows skipped: {}", kv(&t.windows_skipped));
    let _ = writeln!(
        s,
        "snapshots: {} attempted, {} model, {} paired; strikes: {}; reference: {}",
        t.snapshots,
        t.model_snapshots,
        t.paired_snapshots,
        kv(&t.strike_sources),
        kv(&t.reference_series)
    );
    for (k, f) in &t.jump_fits {
        let _ = writeln!(
            s,
            "jumps fitted on {k}: {} jumps in {} returns ({:.1} h): {:.3} per hour, mean log jump {:+.5}, sd {:.5}",
            f.jumps,
            f.returns,
            f.span_s / 3600.0,
            f.intensity_per_s * 3600.0,
            f.jump_mean,
            f.jump_vol
        );
    }
    if !t.garch_fits.is_empty() {
        let _ = writeln!(s, "GARCH(1,1) fits: {}", kv(&t.garch_fits));
    }
    let _ = writeln!(
        s,
        "reference points received: {} ({} same-time corrections, {} dropped); book errors: {}",
        kv(&t.reference_points),
        t.reference_corrections,
        t.reference_dropped,
        t.book_errors
    );
    s
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values (the very tick used) are the point of these tests
mod tests {
    use super::*;
    use polyedge_core::event::{BookSnapshot, Kline, Level, ReferenceTick};
    use polyedge_core::{Asset, ConditionId, Fixed18, Size, Symbol, TokenId};
    use polyedge_model::online::asset_of_symbol;

    const START: u64 = 1_776_000_000; // a 2026-04 window: settles on Chainlink spot

    fn window(strike: Option<&str>, outcome: Option<Outcome>) -> Window {
        let mut w = Window::from_slug(&format!("btc-updown-5m-{START}")).unwrap();
        w.strike = strike.map(|s| Fixed18::parse(s).unwrap());
        w.outcome = outcome;
        w.outcome_source = outcome.map(|_| OutcomeSource::Official);
        w.up_token = Some(TokenId::parse("1").unwrap());
        w.down_token = Some(TokenId::parse("2").unwrap());
        w
    }

    fn ns(secs: f64) -> UnixNanos {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        UnixNanos((secs * 1e9).round() as u64)
    }

    /// A Chainlink tick priced at `price_t` (venue time) and received at `recv_t` (seconds).
    fn tick(price_t: f64, recv_t: f64, price: f64) -> MarketEvent {
        MarketEvent {
            recv_ns: ns(recv_t),
            venue_ns: Some(ns(price_t)),
            kind: EventKind::Reference(ReferenceTick {
                source: ReferenceSource::Chainlink,
                symbol: Symbol::new("btc/usd").unwrap(),
                price: Fixed18::parse(&format!("{price:.6}")).unwrap(),
                backfill: false,
            }),
        }
    }

    fn kline(open_s: u64, open: f64, close: f64) -> MarketEvent {
        let f = |x: f64| Fixed18::parse(&format!("{x:.2}")).unwrap();
        MarketEvent {
            recv_ns: UnixNanos::from_secs(open_s + 60),
            venue_ns: Some(UnixNanos::from_secs(open_s + 60)),
            kind: EventKind::Kline(Kline {
                venue: Venue::BinanceUsdm,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                open_time: UnixNanos::from_secs(open_s),
                close_time: UnixNanos(UnixNanos::from_secs(open_s + 60).0 - UnixNanos::PER_MS),
                open: f(open),
                high: f(open.max(close)),
                low: f(open.min(close)),
                close: f(close),
                volume: f(1.0),
                closed: true,
            }),
        }
    }

    /// A Down-token book with one level each side, received at `t` seconds.
    fn down_book(t: f64, bid: &str, ask: &str) -> MarketEvent {
        let lv = |p: &str| Level {
            price: Price::parse(p).unwrap(),
            size: Size::from_shares(10),
        };
        MarketEvent {
            recv_ns: ns(t),
            venue_ns: None,
            kind: EventKind::Book(BookSnapshot {
                market: ConditionId::default(),
                token: TokenId::parse("2").unwrap(),
                bids: vec![lv(bid)],
                asks: vec![lv(ask)],
                hash: None,
                tick_size: None,
                last_trade_price: None,
            }),
        }
    }

    /// Ticks every second (price time `k`, received 0.5 s later) for `k` in `from..=to`, on a
    /// zig-zag around `base` (±$5) so the volatility is positive.
    fn ticks(from: u64, to: u64, base: f64) -> Vec<MarketEvent> {
        (from..=to)
            .map(|k| {
                let p = base + if k % 2 == 0 { 5.0 } else { -5.0 };
                #[allow(clippy::cast_precision_loss)]
                tick(k as f64, k as f64 + 0.5, p)
            })
            .collect()
    }

    fn config(times: &[u32]) -> Config {
        Config {
            times_s: times.to_vec(),
            ..Config::default()
        }
    }

    fn run(
        windows: &[Window],
        cfg: Config,
        events: &[MarketEvent],
    ) -> (Vec<SnapshotRecord>, CalibrationReport) {
        let mut c = Calibrator::new(windows, cfg).unwrap();
        for e in events {
            c.on_event(e);
        }
        c.advance_to(UnixNanos(u64::MAX));
        let snaps = c.snapshots().to_vec();
        (snaps, c.finish())
    }

    #[test]
    fn snapshot_uses_last_state_at_or_before_and_no_look_ahead() {
        let w = window(Some("100000"), Some(Outcome::Up));
        let s = START + 300 - 60; // snapshot instant of t = 60
        // History from 15 min before the window up to the tick received exactly at s.
        let mut evs = ticks(START - 900, s - 2, 100_000.0);
        #[allow(clippy::cast_precision_loss)]
        evs.push(tick((s - 1) as f64, s as f64, 100_040.0)); // received at s: used
        let (before, _) = run(std::slice::from_ref(&w), config(&[60]), &evs);
        // The same plus a big move received 1 ms after s (price time before s!): not used.
        let mut late = evs.clone();
        #[allow(clippy::cast_precision_loss)]
        late.push(tick((s - 1) as f64 + 0.5, s as f64 + 0.001, 90_000.0));
        late.extend(ticks(s + 1, START + 400, 90_000.0));
        let (after, report) = run(&[w], config(&[60]), &late);
        assert_eq!(before.len(), 1);
        assert_eq!(after.len(), 1);
        let a = &after[0];
        assert_eq!(a.at, UnixNanos::from_secs(s));
        assert_eq!(a.spot, Some(100_040.0));
        assert_eq!(a.spot_time, Some(UnixNanos::from_secs(s - 1)));
        assert_eq!(a.strike, Some(100_000.0));
        assert_eq!(a.strike_source, Some(StrikeSource::Index));
        assert_eq!(a.reference, Some("chainlink"));
        // Identical state with or without the later data: spot, vol, probability.
        assert_eq!(before[0], after[0]);
        let p = a.p_model.unwrap();
        assert!(p > 0.5 && p < 1.0, "{p}");
        let row = &report.by_t[0];
        assert_eq!(row.model.as_ref().unwrap().n, 1);
        assert!(row.paired.is_none());
        assert_eq!(row.skipped.no_book, 1);
        assert_eq!(report.totals.windows_used, 1);
        assert_eq!(report.totals.windows_without_book, 1);
    }

    #[test]
    fn strike_fallback_from_ticks_and_klines() {
        // Ticks: the last tick at or before the start (price time), not the first after it.
        let w = window(None, Some(Outcome::Down));
        let mut evs = ticks(START - 900, START - 1, 100_000.0);
        evs.push(tick(START as f64, START as f64 + 0.9, 100_123.0)); // at the start second
        evs.push(tick(START as f64 + 1.0, START as f64 + 1.5, 100_999.0));
        evs.extend(ticks(START + 2, START + 300, 100_000.0));
        let (snaps, report) = run(std::slice::from_ref(&w), config(&[120]), &evs);
        assert_eq!(snaps[0].strike, Some(100_123.0));
        assert_eq!(snaps[0].strike_source, Some(StrikeSource::ReferenceAtStart));
        assert_eq!(report.totals.strike_sources["reference_at_start"], 1);

        // No tick within 5 s before the start: no strike.
        let mut evs = ticks(START - 900, START - 6, 100_000.0);
        evs.extend(ticks(START + 1, START + 300, 100_000.0));
        let (snaps, report) = run(std::slice::from_ref(&w), config(&[120]), &evs);
        assert_eq!(snaps[0].skip, Some(SkipReason::NoStrike));
        assert_eq!(report.by_t[0].skipped.no_strike, 1);
        assert_eq!(report.totals.windows_skipped["no_strike"], 1);

        // Klines: the open of the candle opening at the start (received at start + 60).
        let mut evs: Vec<MarketEvent> = (0..15)
            .map(|i| {
                kline(
                    START - 900 + 60 * i,
                    100_000.0,
                    100_010.0 + (i % 2) as f64 * 20.0,
                )
            })
            .collect();
        evs.push(kline(START, 100_555.0, 100_600.0));
        evs.push(kline(START + 60, 100_600.0, 100_650.0));
        let (snaps, _) = run(std::slice::from_ref(&w), config(&[240, 180]), &evs);
        let s240 = snaps.iter().find(|s| s.t_s == 240).unwrap();
        assert_eq!(s240.reference, Some("kline_binance_usdm"));
        assert_eq!(s240.strike, Some(100_555.0));
        assert_eq!(s240.spot, Some(100_600.0)); // close of the candle that closed at start + 60
        let s180 = snaps.iter().find(|s| s.t_s == 180).unwrap();
        assert_eq!(s180.spot, Some(100_650.0));
        assert_eq!(s180.tau_s, Some(180.0));

        // --tau-from-spot: the horizon runs from the close time of the candle (1 ms before the
        // snapshot here), so τ = t + 0.001 s.
        let mut cfg = config(&[180]);
        cfg.tau_from_spot = true;
        let (snaps, _) = run(std::slice::from_ref(&w), cfg, &evs);
        assert_eq!(snaps[0].spot, Some(100_650.0));
        assert!((snaps[0].tau_s.unwrap() - 180.001).abs() < 1e-9);
    }

    #[test]
    fn one_sided_book_is_not_a_market_forecast() {
        let w = window(Some("100000"), Some(Outcome::Up));
        let mut evs = ticks(START - 900, START + 300, 100_000.0);
        // The Down token is all but lost: bids at 0.02, no asks → no Up bid, no Up mid.
        let mut e = down_book(START as f64 + 238.0, "0.02", "0.03");
        if let EventKind::Book(b) = &mut e.kind {
            b.asks.clear();
        }
        evs.push(e);
        evs.sort_by_key(|e| e.recv_ns);
        let (snaps, report) = run(&[w], config(&[60]), &evs);
        assert_eq!(snaps[0].market_skip, Some(MarketSkip::OneSided));
        assert!(snaps[0].p_model.is_some());
        assert_eq!(report.by_t[0].skipped.one_sided_book, 1);
        assert!(report.by_t[0].paired.is_none());
    }

    #[test]
    fn market_mid_scored_on_the_same_snapshots() {
        let w = window(Some("100000"), Some(Outcome::Up));
        let mut evs = ticks(START - 900, START + 300, 100_000.0);
        // Down book: bid 0.30 / ask 0.34 → Up mid 0.68 (mirrored), fresh at t = 240 and 120.
        evs.push(down_book(START as f64 + 55.0, "0.30", "0.34"));
        evs.push(down_book(START as f64 + 175.0, "0.40", "0.42"));
        // Nothing after: at t = 60 (s = start + 240) the book is 65 s old → stale.
        evs.sort_by_key(|e| e.recv_ns);
        let (snaps, report) = run(&[w], config(&[240, 120, 60]), &evs);
        let by_t = |t| snaps.iter().find(|s| s.t_s == t).unwrap();
        assert!((by_t(240).p_market.unwrap() - 0.68).abs() < 1e-12);
        assert!((by_t(120).p_market.unwrap() - 0.59).abs() < 1e-12);
        assert_eq!(by_t(60).p_market, None);
        assert_eq!(by_t(60).market_skip, Some(MarketSkip::Stale));
        let row = |t| report.by_t.iter().find(|r| r.t_s == t).unwrap();
        for t in [240, 120] {
            let p = row(t).paired.as_ref().unwrap();
            assert_eq!(p.n, 1);
            // Same snapshot for both forecasters: the model score equals the model-only one.
            assert_eq!(p.model.brier, row(t).model.as_ref().unwrap().brier);
            let pk = by_t(t).p_market.unwrap();
            assert!((p.market_mid.brier - (1.0 - pk).powi(2)).abs() < 1e-12);
            let pm = by_t(t).p_model.unwrap();
            let d = (1.0 - pm).powi(2) - (1.0 - pk).powi(2);
            assert!((p.model_minus_market.brier_diff - d).abs() < 1e-12);
        }
        assert!(row(60).paired.is_none());
        assert_eq!(row(60).model.as_ref().unwrap().n, 1);
        assert_eq!(row(60).skipped.stale_book, 1);
        assert_eq!(report.totals.paired_snapshots, 2);
        assert_eq!(report.totals.model_snapshots, 3);
        assert_eq!(report.totals.windows_paired, 1);
        let tables: Vec<(&str, &str, usize)> = report
            .reliability
            .iter()
            .map(|t| (t.forecaster.as_str(), t.snapshots.as_str(), t.n))
            .collect();
        assert_eq!(
            tables,
            vec![
                ("model", "all_model", 3),
                ("model", "paired", 2),
                ("market_mid", "paired", 2)
            ]
        );
    }

    #[test]
    fn skip_counting() {
        let mut no_outcome = window(Some("100000"), None);
        no_outcome.slug = "btc-updown-5m-1776000300".into();
        no_outcome.start = UnixNanos::from_secs(START + 300);
        no_outcome.end = UnixNanos::from_secs(START + 600);
        let mut no_ref = window(Some("100000"), Some(Outcome::Down));
        no_ref.slug = "btc-updown-5m-1776003000".into();
        no_ref.start = UnixNanos::from_secs(START + 3000);
        no_ref.end = UnixNanos::from_secs(START + 3300);
        let good = window(Some("100000"), Some(Outcome::Up));
        // Only 5 returns before the t = 240 snapshot: no vol there; enough later.
        let evs = ticks(START + 55, START + 300, 100_000.0);
        let (snaps, r) = run(&[good, no_outcome, no_ref], config(&[240, 60, 600]), &evs);
        assert_eq!(snaps.len(), 2 + 2); // t = 600 exceeds both 5-minute windows
        let row = |t| r.by_t.iter().find(|x| x.t_s == t).unwrap();
        assert_eq!(row(240).skipped.no_vol, 1);
        assert_eq!(row(240).skipped.no_reference, 1);
        assert_eq!(row(60).skipped.no_reference, 1);
        assert_eq!(row(60).model.as_ref().unwrap().n, 1);
        assert_eq!(row(600).skipped.t_exceeds_window, 2);
        assert_eq!(row(600).snapshots, 2);
        assert_eq!(r.totals.windows, 3);
        assert_eq!(r.totals.windows_used, 1);
        assert_eq!(r.totals.windows_skipped["no_outcome"], 1);
        assert_eq!(r.totals.windows_skipped["no_reference"], 1);
        assert_eq!(r.totals.snapshots, 6);
        assert_eq!(r.totals.model_snapshots, 1);
        assert_eq!(
            r.by_t.iter().map(|x| x.t_s).collect::<Vec<_>>(),
            vec![600, 240, 60]
        );
        let text = render_table(&r);
        assert!(text.contains("no_outcome=1"), "{text}");
        assert!(
            text.contains("reliability — model on 1 snapshots"),
            "{text}"
        );
    }

    #[test]
    fn chainlink_preferred_over_klines_while_fresh() {
        let w = window(Some("100000"), Some(Outcome::Up));
        let mut evs: Vec<MarketEvent> = (0..20)
            .map(|i| {
                kline(
                    START - 900 + 60 * i,
                    100_000.0,
                    100_010.0 + (i % 2) as f64 * 20.0,
                )
            })
            .collect();
        // Chainlink stops 100 s before the t = 60 snapshot.
        evs.extend(ticks(START - 900, START + 140, 100_000.0));
        evs.sort_by_key(|e| e.recv_ns);
        let (snaps, _) = run(&[w], config(&[240, 60]), &evs);
        let by_t = |t| snaps.iter().find(|s| s.t_s == t).unwrap();
        assert_eq!(by_t(240).reference, Some("chainlink"));
        assert_eq!(by_t(60).reference, Some("kline_binance_usdm"));
    }

    #[test]
    fn realized_vol_and_merton_run() {
        let w = window(Some("100000"), Some(Outcome::Up));
        let evs = ticks(START - 900, START + 300, 100_000.0);
        let mut cfg = config(&[60]);
        cfg.vol = VolMethod::Realized;
        let (snaps, _) = run(std::slice::from_ref(&w), cfg.clone(), &evs);
        // ±5 zig-zag: every return is ±ln(100005/99995) over 1 s.
        let r = (100_005.0f64 / 99_995.0).ln();
        assert!((snaps[0].var_per_s.unwrap() - r * r).abs() < 1e-15);
        cfg.model = ModelKind::Merton;
        cfg.merton = MertonJumpDigital::new(1.0 / 3600.0, 0.0, 0.002).unwrap();
        let (m, _) = run(&[w], cfg, &evs);
        assert!(m[0].p_model.is_some());
        assert!(
            Config {
                bins: 0,
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                times_s: vec![],
                ..Config::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn symbols_map_to_assets() {
        assert_eq!(asset_of_symbol("btc/usd"), Some(Asset::Btc));
        assert_eq!(asset_of_symbol("BTCUSDT"), Some(Asset::Btc));
        assert_eq!(asset_of_symbol("ethusdt"), Some(Asset::Eth));
        assert_eq!(asset_of_symbol("xyz"), None);
    }
}
