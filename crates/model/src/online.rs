//! Online fair value: reference price series built event by event, and `P(Up)` for a window at
//! any instant from the data received so far.
//!
//! This is the one implementation of the rules `polyedge calibrate` scores and the strategies
//! trade on, so the two never disagree. Feed every [`MarketEvent`] in receive order to
//! [`ReferenceSet::on_event`] (or [`OnlineFairValue::on_event`]); ask for a window's estimate
//! with [`ReferenceSet::estimate`]. Nothing received after the instant asked about can enter:
//! the set only holds what was fed, and callers feed events in receive order up to "now".
//!
//! # Reference price series
//! Per asset, one series per source, from
//! * [`EventKind::Reference`] ticks — Chainlink data stream, Chainlink 30 s/60 s TWAP, or Binance
//!   relayed by RTDS. The price time of a tick is its venue timestamp (`venue_ns`, the feed's own
//!   second), else its receive time;
//! * closed [`EventKind::Kline`] candles (Binance): one point per candle, the **close** at its
//!   `close_time`. This is **coarse**: 1-minute resolution (the spot can be up to a minute old,
//!   and the volatility comes from 1-minute returns), and in the cronos data it is the Binance
//!   USD-M **futures** price, not the Chainlink settlement feed;
//! * optionally ([`SeriesConfig::spot_series`]) spot trades and quote mids
//!   ([`EventKind::SpotTrade`], [`EventKind::SpotQuote`]), sampled per second: the price time is
//!   the event's time floored to the second, a later event of the same second replaces the
//!   price (the volatility keeps the first of the second). `polyedge calibrate` leaves this off.
//!
//! An estimate uses the most preferred series of the window's asset that is **fresh** (its last
//! point at most [`MAX_TICK_AGE_NS`] = 60 s old for ticks and spot, [`MAX_KLINE_AGE_NS`] = 2 min
//! for klines): first the feed the window settles on (Chainlink data stream before 2026-08-07,
//! Chainlink 30 s TWAP from 2026-08-07, 60 s TWAP from 2026-08-14 00:00 UTC; protocols.md §1.6),
//! then the other Chainlink feeds, then Binance via RTDS, then spot trades/quotes (Binance spot
//! first), then Binance spot klines, then any other klines (Binance USD-M among them); equal
//! ranks are broken by the series name. A TWAP is modelled as if it were a spot price.
//!
//! # Strike
//! The window's `strike` (the official price to beat) when present ([`StrikeSource::Index`]);
//! otherwise read from the chosen series ([`StrikeSource::ReferenceAtStart`]): for ticks the last
//! point with price time `≤ start`, if at most [`STRIKE_MAX_TICK_AGE_NS`] = 5 s older than
//! `start`; for klines the **open** of the candle that opens at `start`, or if that candle has not
//! been received yet the close of the candle that closes at or before `start` (at most 2 min old).
//!
//! # Volatility (per second)
//! * [`VolMethod::Ewma`]: [`Ewma`] fed every point as it is received; a return `r` over `Δt`
//!   seconds enters as `r²/Δt`. The decay per observation is `λ = 1 − Δ/L` (clamped to
//!   `[0.5, 0.999999]`) with `Δ` the nominal spacing of the series (1 s for ticks and sampled
//!   spot, the candle length for klines) and `L` the lookback ([`SeriesConfig::lookback_s`]): the
//!   mean age of the weights is then ≈ `L`. [`SeriesConfig::lambda`] overrides `λ`.
//! * [`VolMethod::Realized`]: [`realized_var`] over the points of the last `L` seconds.
//! * [`VolMethod::Parkinson`], [`VolMethod::GarmanKlass`]: the range estimators of [`crate::vol`]
//!   over the OHLC bars of the last `L` seconds — a kline series' own candles (high and low from
//!   the exchange), a tick series' [`RANGE_BAR_S`] = 60 s bars built from its points (the
//!   extremes between ticks are missed: biased low). At least [`MIN_BARS`] = 5 bars.
//! * [`VolMethod::Garch`]: GARCH(1,1) on the series' returns resampled to a regular grid of its
//!   nominal spacing (the price holds between points; a gap over 10 min restarts the grid), fitted
//!   by maximum likelihood once [`Garch11::MIN_FIT_OBS`] = 50 returns are in, refitted every hour
//!   of data (at least every 300 returns) on the last [`GARCH_MAX_RETURNS`], filtered return by
//!   return in between; the estimate is the mean forecast variance over the horizon `τ`.
//! * [`VolMethod::Dvol`]: Deribit's DVOL of the window's asset (`VolIndex` events; 30-day
//!   implied, annualized % over a 365-day year), at most 5 min old — an option-implied
//!   volatility where recorded; `no_vol` elsewhere.
//!
//! EWMA and realized variance need at least [`MIN_RETURNS`] = 10 returns. The horizon is `τ = end − now`, or with
//! [`EstimateSpec::tau_from_spot`] `τ = end − (price time of the spot)`. For Merton the jump part
//! (`λ_J(μ_J² + δ²)` per second) is subtracted from the variance first (floored at 0), since both
//! estimators measure total variance. With [`OnlineConfig::fit_jumps`] ([`Pricing::MertonFitted`])
//! the jump parameters are those estimated from the chosen series so far ([`crate::jumps`]),
//! the configured ones until it has seen enough jumps.

use std::collections::{HashMap, VecDeque};

use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::{Asset, EventKind, Fixed18, MarketEvent, UnixNanos, Window};
use serde::{Deserialize, Serialize};

use crate::digital::{BlackScholesDigital, FairValueModel, MertonJumpDigital};
use crate::error::ModelError;
use crate::jumps::{JumpEstimator, JumpFit};
use crate::vol::{
    Bar, Ewma, Garch11, PricePoint, VolEstimate, bars_from_points, garman_klass_var_per_s,
    parkinson_var_per_s, realized_var,
};

/// A tick (or sampled spot) series whose last point is older than this is unusable (60 s).
pub const MAX_TICK_AGE_NS: u64 = 60 * UnixNanos::PER_SEC;
/// A kline series whose last close is older than this is unusable (2 min).
pub const MAX_KLINE_AGE_NS: u64 = 120 * UnixNanos::PER_SEC;
/// Strike fallback from ticks: the last tick at or before the window start, at most this old (5 s).
pub const STRIKE_MAX_TICK_AGE_NS: u64 = 5 * UnixNanos::PER_SEC;
/// Fewest returns a volatility estimate needs.
pub const MIN_RETURNS: usize = 10;
/// Fewest OHLC bars a range estimator (Parkinson, Garman–Klass) needs.
pub const MIN_BARS: usize = 5;
/// Bar length of range estimators on tick series, seconds (klines use their own candles).
pub const RANGE_BAR_S: u64 = 60;
/// A DVOL value older than this is unusable (5 min).
pub const MAX_DVOL_AGE_NS: u64 = 300 * UnixNanos::PER_SEC;
/// Most returns a series keeps for GARCH(1,1) fits.
pub const GARCH_MAX_RETURNS: usize = 2_000;
/// A gap longer than this in a series restarts its GARCH grid (the move across it is dropped).
pub const GARCH_MAX_GAP_NS: u64 = 600 * UnixNanos::PER_SEC;

/// Start of the Chainlink 30 s TWAP settlement era (2026-08-07 00:00 UTC), unix seconds.
const TWAP30_FROM_S: u64 = 1_786_060_800;
/// Start of the Chainlink 60 s TWAP settlement era (2026-08-14 00:00 UTC), unix seconds.
const TWAP60_FROM_S: u64 = 1_786_665_600;

/// The source of a reference price series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeriesKind {
    /// A reference feed ([`EventKind::Reference`]).
    Reference(ReferenceSource),
    /// Closed klines of a venue ([`EventKind::Kline`]).
    Kline(Venue),
    /// Spot trades and quote mids of a venue, sampled per second.
    Spot(Venue),
}

impl SeriesKind {
    /// Stable name for reports (`chainlink`, `chainlink_twap60`, `kline_binance_usdm`, …).
    pub fn name(self) -> &'static str {
        match self {
            SeriesKind::Reference(ReferenceSource::Chainlink) => "chainlink",
            SeriesKind::Reference(ReferenceSource::ChainlinkTwap30) => "chainlink_twap30",
            SeriesKind::Reference(ReferenceSource::ChainlinkTwap60) => "chainlink_twap60",
            SeriesKind::Reference(ReferenceSource::RtdsBinance) => "rtds_binance",
            SeriesKind::Kline(Venue::BinanceSpot) => "kline_binance_spot",
            SeriesKind::Kline(Venue::BinanceUsdm) => "kline_binance_usdm",
            SeriesKind::Kline(Venue::Coinbase) => "kline_coinbase",
            SeriesKind::Kline(Venue::Deribit) => "kline_deribit",
            SeriesKind::Spot(Venue::BinanceSpot) => "spot_binance_spot",
            SeriesKind::Spot(Venue::BinanceUsdm) => "spot_binance_usdm",
            SeriesKind::Spot(Venue::Coinbase) => "spot_coinbase",
            SeriesKind::Spot(Venue::Deribit) => "spot_deribit",
        }
    }

    /// One-line description with its resolution and caveats, for report headers.
    pub fn description(self) -> &'static str {
        match self {
            SeriesKind::Reference(ReferenceSource::Chainlink) => {
                "Chainlink data stream ticks (~1 Hz; the settlement feed before 2026-08-07)"
            }
            SeriesKind::Reference(ReferenceSource::ChainlinkTwap30) => {
                "Chainlink 30 s TWAP ticks (modelled as a spot price)"
            }
            SeriesKind::Reference(ReferenceSource::ChainlinkTwap60) => {
                "Chainlink 60 s TWAP ticks (settlement since 2026-08-14; modelled as a spot price)"
            }
            SeriesKind::Reference(ReferenceSource::RtdsBinance) => {
                "Binance spot relayed by RTDS (not the settlement feed)"
            }
            SeriesKind::Kline(_) => {
                "1-minute klines, close at close time: COARSE (spot up to 60 s old, vol from \
                 1-minute returns), an exchange price (Binance USD-M = futures), not the Chainlink \
                 settlement feed"
            }
            SeriesKind::Spot(_) => {
                "spot trades and quote mids sampled per second: an exchange price, not the \
                 Chainlink settlement feed"
            }
        }
    }

    /// `true` for kline series.
    pub fn is_kline(self) -> bool {
        matches!(self, SeriesKind::Kline(_))
    }

    /// The freshness limit of the series: [`MAX_KLINE_AGE_NS`] for klines, else
    /// [`MAX_TICK_AGE_NS`].
    pub fn max_age_ns(self) -> u64 {
        if self.is_kline() {
            MAX_KLINE_AGE_NS
        } else {
            MAX_TICK_AGE_NS
        }
    }

    /// Preference for a window starting at `start_s` (unix seconds; lower is better): the
    /// settlement feed of the date first, then the other Chainlink feeds, Binance via RTDS, spot
    /// trades/quotes, Binance spot klines, other klines.
    pub fn rank(self, start_s: u64) -> u8 {
        let settlement = if start_s >= TWAP60_FROM_S {
            ReferenceSource::ChainlinkTwap60
        } else if start_s >= TWAP30_FROM_S {
            ReferenceSource::ChainlinkTwap30
        } else {
            ReferenceSource::Chainlink
        };
        match self {
            SeriesKind::Reference(s) if s == settlement => 0,
            SeriesKind::Reference(ReferenceSource::Chainlink) => 1,
            SeriesKind::Reference(ReferenceSource::ChainlinkTwap60) => 2,
            SeriesKind::Reference(ReferenceSource::ChainlinkTwap30) => 3,
            SeriesKind::Reference(ReferenceSource::RtdsBinance) => 4,
            SeriesKind::Spot(Venue::BinanceSpot) => 5,
            SeriesKind::Spot(_) => 6,
            SeriesKind::Kline(Venue::BinanceSpot) => 7,
            SeriesKind::Kline(_) => 8,
        }
    }
}

/// A [`Fixed18`] as `f64`, converting the integer and fractional parts separately so that
/// whole-dollar values (and anything with few decimals) convert to the nearest `f64`
/// (`Fixed18::to_f64` divides the E18 integer by 1e18, which can be off by one ulp).
pub fn fixed_to_f64(x: Fixed18) -> f64 {
    let int = x.0 / Fixed18::SCALE;
    let frac = x.0 % Fixed18::SCALE;
    int as f64 + frac as f64 / 1e18
}

/// The asset a feed symbol (`btc/usd`, `BTCUSDT`, `btcusdt`) is about, by ticker prefix.
pub fn asset_of_symbol(symbol: &str) -> Option<Asset> {
    const ALL: [Asset; 8] = [
        Asset::Btc,
        Asset::Eth,
        Asset::Sol,
        Asset::Xrp,
        Asset::Doge,
        Asset::Bnb,
        Asset::Hype,
        Asset::Zec,
    ];
    ALL.into_iter().find(|a| {
        let t = a.ticker();
        symbol
            .get(..t.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(t))
    })
}

/// How series are built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesConfig {
    /// Volatility lookback `L`, seconds (EWMA: `λ = 1 − spacing/L`; realized: the span).
    pub lookback_s: u64,
    /// EWMA decay per observation for every series, overriding `1 − spacing/L`; must be in
    /// `(0, 1)` (checked by [`ReferenceSet::new`]).
    pub lambda: Option<f64>,
    /// Points older than this behind a series' newest point are dropped (ns).
    pub retention_ns: u64,
    /// Also build series from spot trades and quote mids (module docs).
    pub spot_series: bool,
    /// Keep a regular return grid per series and fit GARCH(1,1) on it ([`VolMethod::Garch`]).
    #[serde(default)]
    pub garch: bool,
    /// Estimate Merton jump parameters per series ([`crate::jumps`]).
    #[serde(default)]
    pub fit_jumps: bool,
}

/// A series' GARCH(1,1) state: returns on a regular grid, the last fit advanced through them.
#[derive(Debug, Clone)]
struct GarchState {
    step_ns: u64,
    next_grid: Option<u64>,
    grid_price: f64,
    returns: VecDeque<f64>,
    model: Option<Garch11>,
    since_fit: usize,
    refit_every: usize,
    fits: u64,
}

impl GarchState {
    fn new(spacing_s: f64) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let step_ns = ((spacing_s * 1e9).round() as u64).max(UnixNanos::PER_MS);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let refit_every = ((3600.0 / spacing_s).round() as usize).max(300);
        GarchState {
            step_ns,
            next_grid: None,
            grid_price: 0.0,
            returns: VecDeque::new(),
            model: None,
            since_fit: 0,
            refit_every,
            fits: 0,
        }
    }

    /// Advances the grid to `p` (the previous point's price holds between points), updates
    /// the model with each new grid return, and refits every `refit_every` returns.
    fn push(&mut self, p: PricePoint, prev: Option<PricePoint>) {
        let t = p.t.0;
        let next = match self.next_grid {
            Some(n) if t <= n.saturating_add(GARCH_MAX_GAP_NS) => n,
            _ => {
                self.grid_price = p.price;
                self.next_grid = Some(t + self.step_ns);
                return;
            }
        };
        let mut n = next;
        while n <= t {
            let price = if n == t {
                p.price
            } else {
                prev.map_or(p.price, |q| q.price)
            };
            let r = (price / self.grid_price).ln();
            if r.is_finite() {
                self.returns.push_back(r);
                if self.returns.len() > GARCH_MAX_RETURNS {
                    self.returns.pop_front();
                }
                if let Some(m) = &mut self.model {
                    let _ = m.update(r);
                }
                self.since_fit += 1;
            }
            self.grid_price = price;
            n += self.step_ns;
        }
        self.next_grid = Some(n);
        if self.returns.len() >= Garch11::MIN_FIT_OBS
            && (self.model.is_none() || self.since_fit >= self.refit_every)
        {
            let r: Vec<f64> = self.returns.iter().copied().collect();
            if let Ok(fit) = Garch11::fit(&r, self.step_ns as f64 / 1e9) {
                self.model = Some(fit.model);
                self.fits += 1;
            }
            self.since_fit = 0;
        }
    }
}

/// One reference price series (one asset, one source), as received so far.
#[derive(Debug, Clone)]
pub struct RefSeries {
    kind: SeriesKind,
    /// Points with strictly increasing price time, trimmed to `retention_ns` behind the newest.
    points: VecDeque<PricePoint>,
    /// Kline series: `(open_time, open)` of the candles, same trimming.
    opens: VecDeque<(UnixNanos, f64)>,
    /// Kline series: `(close_time, OHLC bar)` of the candles, same trimming.
    bars: VecDeque<(UnixNanos, Bar)>,
    garch: Option<GarchState>,
    jumps: Option<JumpEstimator>,
    ewma: Ewma,
    lambda: f64,
    retention_ns: u64,
    received: u64,
    corrections: u64,
    dropped: u64,
}

impl RefSeries {
    fn new(kind: SeriesKind, spacing_s: f64, config: &SeriesConfig) -> Self {
        let lambda = config
            .lambda
            .unwrap_or_else(|| (1.0 - spacing_s / config.lookback_s as f64).clamp(0.5, 0.999_999));
        // λ ∈ [0.5, 0.999999] or a validated override: Ewma::new cannot fail.
        let ewma = Ewma::new(lambda).unwrap_or_default();
        RefSeries {
            kind,
            points: VecDeque::new(),
            opens: VecDeque::new(),
            bars: VecDeque::new(),
            garch: config.garch.then(|| GarchState::new(spacing_s)),
            jumps: config.fit_jumps.then(JumpEstimator::new),
            ewma,
            lambda,
            retention_ns: config.retention_ns,
            received: 0,
            corrections: 0,
            dropped: 0,
        }
    }

    /// Appends a point received now. A point at the same price time as the last one replaces
    /// its price (a same-second correction; the EWMA keeps the first value); an older one or a
    /// non-positive price is dropped.
    fn push(&mut self, p: PricePoint, open: Option<(UnixNanos, f64)>, bar: Option<Bar>) {
        self.received += 1;
        if let Some(last) = self.points.back_mut()
            && p.t <= last.t
        {
            if p.t == last.t && p.price.is_finite() && p.price > 0.0 {
                last.price = p.price;
                self.corrections += 1;
            } else {
                self.dropped += 1;
            }
            return;
        }
        if self.ewma.update(p).is_err() {
            self.dropped += 1;
            return;
        }
        let prev = self.points.back().copied();
        if let (Some(j), Some(q)) = (&mut self.jumps, prev) {
            j.update(
                (p.price / q.price).ln(),
                p.t.saturating_sub(q.t) as f64 / 1e9,
            );
        }
        if let Some(g) = &mut self.garch {
            g.push(p, prev);
        }
        self.points.push_back(p);
        if let Some(o) = open {
            self.opens.push_back(o);
        }
        if let Some(b) = bar {
            self.bars.push_back((p.t, b));
        }
        let cutoff = p.t.0.saturating_sub(self.retention_ns);
        while self.points.front().is_some_and(|f| f.t.0 < cutoff) {
            self.points.pop_front();
        }
        while self.opens.front().is_some_and(|f| f.0.0 < cutoff) {
            self.opens.pop_front();
        }
        while self.bars.front().is_some_and(|f| f.0.0 < cutoff) {
            self.bars.pop_front();
        }
    }

    /// Which source this series is.
    pub fn kind(&self) -> SeriesKind {
        self.kind
    }

    /// The newest point.
    pub fn last(&self) -> Option<PricePoint> {
        self.points.back().copied()
    }

    /// The retained points, oldest first, with strictly increasing price times.
    pub fn points(&self) -> &VecDeque<PricePoint> {
        &self.points
    }

    /// The EWMA decay per observation of this series.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Points received (including corrections and dropped ones).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Points at the same price time as their predecessor that replaced its price.
    pub fn corrections(&self) -> u64 {
        self.corrections
    }

    /// Points dropped (older than the last one, or a bad price).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The price at `start` (USD; module docs, "Strike"), if the series has one.
    pub fn value_at_start(&self, start: UnixNanos) -> Option<f64> {
        if self.kind.is_kline()
            && let Some(&(_, open)) = self.opens.iter().rev().find(|o| o.0 == start)
        {
            return Some(open);
        }
        let i = self.points.partition_point(|p| p.t <= start);
        let p = self.points.get(i.checked_sub(1)?)?;
        let max_age = if self.kind.is_kline() {
            MAX_KLINE_AGE_NS
        } else {
            STRIKE_MAX_TICK_AGE_NS
        };
        (start.saturating_sub(p.t) <= max_age).then_some(p.price)
    }

    /// The volatility estimate now by `method` for a horizon of `tau_s` seconds (GARCH's
    /// forecast depends on it), if the series has enough data: [`MIN_RETURNS`] returns for EWMA
    /// and realized variance, [`MIN_BARS`] bars in the lookback for the range estimators, a
    /// fitted model for GARCH. [`VolMethod::Dvol`] is not a series estimate (`None`; see
    /// [`ReferenceSet::dvol`]).
    pub fn vol(&self, method: VolMethod, lookback_s: u64, tau_s: f64) -> Option<VolEstimate> {
        let last = self.points.back()?.t;
        let cutoff = last
            .0
            .saturating_sub(lookback_s.saturating_mul(UnixNanos::PER_SEC));
        match method {
            VolMethod::Ewma => (self.ewma.n_returns() >= MIN_RETURNS)
                .then(|| self.ewma.estimate())
                .flatten(),
            VolMethod::Realized => {
                let from = self.points.partition_point(|p| p.t.0 < cutoff);
                let points: Vec<PricePoint> = self.points.range(from..).copied().collect();
                let rv = realized_var(&points, lookback_s).ok()?;
                (rv.n_returns >= MIN_RETURNS).then(|| rv.estimate())
            }
            VolMethod::Parkinson | VolMethod::GarmanKlass => {
                let bars: Vec<Bar> = if self.kind.is_kline() {
                    self.bars
                        .iter()
                        .filter(|(t, _)| t.0 > cutoff)
                        .map(|(_, b)| *b)
                        .collect()
                } else {
                    let from = self.points.partition_point(|p| p.t.0 < cutoff);
                    let points: Vec<PricePoint> = self.points.range(from..).copied().collect();
                    bars_from_points(&points, RANGE_BAR_S).ok()?
                };
                if bars.len() < MIN_BARS {
                    return None;
                }
                let var = if method == VolMethod::Parkinson {
                    parkinson_var_per_s(&bars)
                } else {
                    garman_klass_var_per_s(&bars)
                };
                VolEstimate::from_var_per_s(var.ok()?).ok()
            }
            VolMethod::Garch => self
                .garch
                .as_ref()?
                .model
                .as_ref()?
                .forecast(tau_s.max(0.0))
                .ok(),
            VolMethod::Dvol => None,
        }
    }

    /// GARCH(1,1) fits made so far (0 unless the series keeps a GARCH grid).
    pub fn garch_fits(&self) -> u64 {
        self.garch.as_ref().map_or(0, |g| g.fits)
    }

    /// The jump parameters estimated so far, when the series fits them and has enough jumps.
    pub fn jump_fit(&self) -> Option<JumpFit> {
        self.jumps.as_ref()?.fit()
    }
}

/// Which volatility estimator feeds the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolMethod {
    /// EWMA of per-second squared returns, memory ≈ the lookback.
    #[default]
    Ewma,
    /// Realized variance over the lookback.
    Realized,
    /// Parkinson (1980) high–low estimator over the lookback's OHLC bars (the candles of a
    /// kline series, [`RANGE_BAR_S`]-second bars of a tick series).
    Parkinson,
    /// Garman–Klass (1980) OHLC estimator, same bars.
    GarmanKlass,
    /// GARCH(1,1) (Bollerslev 1986) fitted by maximum likelihood on the series' returns on a
    /// regular grid (its nominal spacing; the last [`GARCH_MAX_RETURNS`]), refitted every hour of
    /// data and filtered return by return in between; the forecast is the mean variance over the
    /// horizon τ ([`Garch11::forecast`]).
    Garch,
    /// Deribit's DVOL index of the asset (30-day implied volatility, annualized %, 365-day
    /// year), where recorded and at most [`MAX_DVOL_AGE_NS`] old: an option-implied input
    /// instead of a historical estimate.
    Dvol,
}

impl VolMethod {
    /// Every method, in documentation order.
    pub const ALL: [VolMethod; 6] = [
        VolMethod::Ewma,
        VolMethod::Realized,
        VolMethod::Parkinson,
        VolMethod::GarmanKlass,
        VolMethod::Garch,
        VolMethod::Dvol,
    ];

    /// Stable name (`ewma`, `realized`, `parkinson`, `garman_klass`, `garch`, `dvol`).
    pub fn name(self) -> &'static str {
        match self {
            VolMethod::Ewma => "ewma",
            VolMethod::Realized => "realized",
            VolMethod::Parkinson => "parkinson",
            VolMethod::GarmanKlass => "garman_klass",
            VolMethod::Garch => "garch",
            VolMethod::Dvol => "dvol",
        }
    }
}

impl std::str::FromStr for VolMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let k = s.replace('-', "_");
        VolMethod::ALL
            .into_iter()
            .find(|m| m.name() == k)
            .ok_or_else(|| {
                format!(
                    "{s:?}: expected one of {}",
                    VolMethod::ALL.map(VolMethod::name).join(", ")
                )
            })
    }
}

/// The digital model pricing `P(Up)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pricing {
    /// Black–Scholes digital `N(d2)`, zero drift.
    BlackScholes,
    /// Merton jump-diffusion digital; the jump variance is subtracted from the estimate first.
    Merton(MertonJumpDigital),
    /// Merton with jump parameters estimated from the chosen series so far
    /// ([`crate::jumps`]); these parameters until it has enough jumps.
    MertonFitted(MertonJumpDigital),
}

impl Pricing {
    /// `P(Up)` for `spot` and `strike` (USD), `tau_s` seconds left and the total variance `vol`.
    ///
    /// # Errors
    /// As [`FairValueModel::p_up`].
    pub fn p_up(
        &self,
        spot: f64,
        strike: f64,
        tau_s: f64,
        vol: VolEstimate,
    ) -> Result<f64, ModelError> {
        match self {
            Pricing::BlackScholes => BlackScholesDigital::default().p_up(spot, strike, tau_s, &vol),
            Pricing::Merton(m) | Pricing::MertonFitted(m) => {
                let diffusion = (vol.var_per_s() - m.jump_var_per_s()).max(0.0);
                m.p_up(
                    spot,
                    strike,
                    tau_s,
                    &VolEstimate::from_var_per_s(diffusion)?,
                )
            }
        }
    }
}

/// How an estimate is computed from the series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateSpec {
    /// The model.
    pub pricing: Pricing,
    /// The volatility estimator.
    pub vol: VolMethod,
    /// Volatility lookback, seconds (realized variance span).
    pub lookback_s: u64,
    /// Horizon `τ = end − (price time of the spot)` instead of `end − now`.
    pub tau_from_spot: bool,
}

/// Why an estimate has no `P(Up)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No fresh reference series for the window's asset.
    NoReference,
    /// No strike in the index and none derivable from the reference series.
    NoStrike,
    /// Fewer than [`MIN_RETURNS`] returns for the volatility.
    NoVol,
    /// The model refused its inputs.
    ModelError,
}

impl SkipReason {
    /// Stable name for reports.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NoReference => "no_reference",
            SkipReason::NoStrike => "no_strike",
            SkipReason::NoVol => "no_vol",
            SkipReason::ModelError => "model_error",
        }
    }
}

/// Where a strike came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrikeSource {
    /// The window's `strike` in the recording's index (official price to beat).
    Index,
    /// The reference series at the window start (see the module docs).
    ReferenceAtStart,
}

impl StrikeSource {
    /// Stable name for reports.
    pub fn name(self) -> &'static str {
        match self {
            StrikeSource::Index => "index",
            StrikeSource::ReferenceAtStart => "reference_at_start",
        }
    }
}

/// A fair-value estimate with every input, filled as far as the data allowed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    /// The series used.
    pub series: Option<SeriesKind>,
    /// Spot (USD): the series' newest point.
    pub spot: Option<f64>,
    /// Price time of that spot.
    pub spot_time: Option<UnixNanos>,
    /// Strike (USD).
    pub strike: Option<f64>,
    /// Where the strike came from.
    pub strike_source: Option<StrikeSource>,
    /// Volatility (per-second variance, before any jump adjustment).
    pub var_per_s: Option<f64>,
    /// Horizon given to the model, seconds.
    pub tau_s: Option<f64>,
    /// `P(Up)` in `[0, 1]`.
    pub p_up: Option<f64>,
    /// Why `p_up` is missing.
    pub skip: Option<SkipReason>,
    /// The jump parameters estimated from the series, when the model fits them and had
    /// enough jumps (else the fallback parameters priced).
    pub jump_fit: Option<JumpFit>,
}

/// Every reference series of every asset, fed event by event. See the module docs.
#[derive(Debug, Clone)]
pub struct ReferenceSet {
    config: SeriesConfig,
    series: HashMap<(Asset, SeriesKind), RefSeries>,
    /// Latest DVOL per asset: `(receive time, annualized volatility in %)`.
    dvol: HashMap<Asset, (UnixNanos, f64)>,
}

impl ReferenceSet {
    /// An empty set.
    ///
    /// # Errors
    /// [`ModelError::OutOfDomain`] for a `lambda` outside `(0, 1)` or a lookback of 0.
    pub fn new(config: SeriesConfig) -> Result<Self, ModelError> {
        if let Some(l) = config.lambda {
            Ewma::new(l)?;
        }
        if config.lookback_s == 0 {
            return Err(ModelError::OutOfDomain {
                name: "lookback_s",
                value: 0.0,
                expected: "> 0",
            });
        }
        Ok(ReferenceSet {
            config,
            series: HashMap::new(),
            dvol: HashMap::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SeriesConfig {
        &self.config
    }

    /// Feeds one event (in receive order); events that are not prices are ignored.
    pub fn on_event(&mut self, ev: &MarketEvent) {
        match &ev.kind {
            EventKind::Reference(r) => {
                if let Some(asset) = asset_of_symbol(r.symbol.as_str()) {
                    let t = ev.venue_ns.unwrap_or(ev.recv_ns);
                    let p = PricePoint::new(t, fixed_to_f64(r.price));
                    self.push_point(asset, SeriesKind::Reference(r.source), 1.0, p, None);
                }
            }
            EventKind::Kline(k) => {
                if !k.closed {
                    return;
                }
                let Some(asset) = asset_of_symbol(k.symbol.as_str()) else {
                    return;
                };
                let spacing_s =
                    (k.close_time.saturating_sub(k.open_time) + UnixNanos::PER_MS) as f64 / 1e9;
                let p = PricePoint::new(k.close_time, fixed_to_f64(k.close));
                let open = (k.open_time, fixed_to_f64(k.open));
                let bar = Bar {
                    open: open.1,
                    high: fixed_to_f64(k.high),
                    low: fixed_to_f64(k.low),
                    close: p.price,
                    duration_s: spacing_s,
                };
                let kind = SeriesKind::Kline(k.venue);
                self.series
                    .entry((asset, kind))
                    .or_insert_with(|| RefSeries::new(kind, spacing_s, &self.config))
                    .push(p, Some(open), Some(bar));
            }
            EventKind::VolIndex(v) => {
                if let Some(asset) = asset_of_symbol(v.index.as_str()) {
                    let x = fixed_to_f64(v.value);
                    if x.is_finite() && x > 0.0 {
                        self.dvol.insert(asset, (ev.recv_ns, x));
                    }
                }
            }
            EventKind::SpotTrade(t) if self.config.spot_series => {
                self.push_spot(ev, t.venue, t.symbol.as_str(), t.price);
            }
            EventKind::SpotQuote(q) if self.config.spot_series => {
                let mid = Fixed18(i128::midpoint(q.bid.0, q.ask.0));
                self.push_spot(ev, q.venue, q.symbol.as_str(), mid);
            }
            _ => {}
        }
    }

    fn push_spot(&mut self, ev: &MarketEvent, venue: Venue, symbol: &str, price: Fixed18) {
        if let Some(asset) = asset_of_symbol(symbol) {
            let t = ev.venue_ns.unwrap_or(ev.recv_ns);
            let t = UnixNanos(t.0 - t.0 % UnixNanos::PER_SEC);
            let p = PricePoint::new(t, fixed_to_f64(price));
            self.push_point(asset, SeriesKind::Spot(venue), 1.0, p, None);
        }
    }

    /// Appends a point to the `(asset, kind)` series, creating it with nominal spacing
    /// `spacing_s` seconds (for its EWMA decay) if new; `open` is a kline's `(open_time, open)`.
    pub fn push_point(
        &mut self,
        asset: Asset,
        kind: SeriesKind,
        spacing_s: f64,
        p: PricePoint,
        open: Option<(UnixNanos, f64)>,
    ) {
        let config = &self.config;
        self.series
            .entry((asset, kind))
            .or_insert_with(|| RefSeries::new(kind, spacing_s, config))
            .push(p, open, None);
    }

    /// The preferred fresh series of `asset` at `at` for a window starting at `start`
    /// (module docs), if any.
    pub fn choose(&self, asset: Asset, at: UnixNanos, start: UnixNanos) -> Option<&RefSeries> {
        let start_s = start.secs();
        self.series
            .iter()
            .filter(|((a, _), s)| {
                *a == asset
                    && s.last()
                        .is_some_and(|p| at.saturating_sub(p.t) <= s.kind.max_age_ns())
            })
            .min_by_key(|((_, kind), _)| (kind.rank(start_s), kind.name()))
            .map(|(_, s)| s)
    }

    /// The DVOL of `asset` at `at` (annualized, 365-day year), if one at most
    /// [`MAX_DVOL_AGE_NS`] old was received.
    pub fn dvol(&self, asset: Asset, at: UnixNanos) -> Option<VolEstimate> {
        let &(t, pct) = self.dvol.get(&asset)?;
        (at.saturating_sub(t) <= MAX_DVOL_AGE_NS)
            .then(|| VolEstimate::from_annualized(pct / 100.0).ok())
            .flatten()
    }

    /// Every series, sorted by asset and series name.
    pub fn series(&self) -> Vec<(Asset, &RefSeries)> {
        let mut v: Vec<(Asset, &RefSeries)> =
            self.series.iter().map(|((a, _), s)| (*a, s)).collect();
        v.sort_by_key(|(a, s)| (*a, s.kind.name()));
        v
    }

    /// The fair-value estimate of `window` at `at` (module docs). `at` must not be earlier than
    /// the receive time of any event fed (the caller's "now").
    pub fn estimate(&self, window: &Window, at: UnixNanos, spec: &EstimateSpec) -> Estimate {
        let mut e = Estimate::default();
        let Some(series) = self.choose(window.asset, at, window.start) else {
            e.skip = Some(SkipReason::NoReference);
            return e;
        };
        e.series = Some(series.kind);
        let last = series.last();
        e.spot = last.map(|p| p.price);
        e.spot_time = last.map(|p| p.t);
        let strike = match window.strike {
            Some(k) => Some((fixed_to_f64(k), StrikeSource::Index)),
            None => series
                .value_at_start(window.start)
                .map(|k| (k, StrikeSource::ReferenceAtStart)),
        };
        e.strike = strike.map(|s| s.0);
        e.strike_source = strike.map(|s| s.1);
        let tau_s = match (spec.tau_from_spot, e.spot_time) {
            (true, Some(st)) => window.end.saturating_sub(st) as f64 / 1e9,
            _ => window.end.saturating_sub(at) as f64 / 1e9,
        };
        let vol = match spec.vol {
            VolMethod::Dvol => self.dvol(window.asset, at),
            m => series.vol(m, spec.lookback_s, tau_s),
        };
        e.var_per_s = vol.map(|v| v.var_per_s());
        let pricing = match spec.pricing {
            Pricing::MertonFitted(fallback) => {
                e.jump_fit = series.jump_fit();
                Pricing::MertonFitted(e.jump_fit.and_then(|f| f.merton().ok()).unwrap_or(fallback))
            }
            p => p,
        };
        match (e.spot, strike, vol) {
            (_, None, _) => e.skip = Some(SkipReason::NoStrike),
            (_, _, None) => e.skip = Some(SkipReason::NoVol),
            (Some(spot), Some((k, _)), Some(v)) => {
                e.tau_s = Some(tau_s);
                match pricing.p_up(spot, k, tau_s, v) {
                    Ok(p) if (0.0..=1.0).contains(&p) => e.p_up = Some(p),
                    _ => e.skip = Some(SkipReason::ModelError),
                }
            }
            (None, ..) => e.skip = Some(SkipReason::NoReference),
        }
        e
    }
}

/// Which model an [`OnlineConfig`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Black–Scholes digital `N(d2)`.
    #[default]
    Bs,
    /// Merton jump-diffusion digital with [`OnlineConfig`]'s jump parameters.
    Merton,
}

/// Settings of an [`OnlineFairValue`] (serde/TOML: every field optional; defaults are those of
/// `polyedge calibrate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnlineConfig {
    /// Model (`"bs"` default, or `"merton"`).
    pub model: ModelChoice,
    /// Volatility estimator (`"ewma"` default, or `"realized"`).
    pub vol: VolMethod,
    /// Volatility lookback, seconds (default 900).
    pub lookback_s: u64,
    /// EWMA decay per observation overriding `1 − spacing/lookback` (default none).
    pub lambda: Option<f64>,
    /// Horizon from the spot's price time instead of now (default false; consider true on
    /// 1-minute klines, whose spot can be a minute old).
    pub tau_from_spot: bool,
    /// Merton: expected jumps per hour (default 1, illustrative, not fitted).
    pub jumps_per_hour: f64,
    /// Merton: mean log jump (default 0).
    pub jump_mean: f64,
    /// Merton: log-jump standard deviation (default 0.002 = 20 bp).
    pub jump_vol: f64,
    /// Merton: estimate the jump parameters from the reference series received so far
    /// ([`crate::jumps`]; expanding window, no look-ahead); the three above are the fallback
    /// until enough jumps were seen (default false).
    pub fit_jumps: bool,
    /// Also build series from spot trades/quotes (default true; calibrate uses false).
    pub spot_series: bool,
    /// History kept per series beyond the lookback, seconds (default 3 600: the longest
    /// window, for strategies reading the path since the strike).
    pub history_s: u64,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        OnlineConfig {
            model: ModelChoice::Bs,
            vol: VolMethod::Ewma,
            lookback_s: 900,
            lambda: None,
            tau_from_spot: false,
            jumps_per_hour: 1.0,
            jump_mean: 0.0,
            jump_vol: 0.002,
            fit_jumps: false,
            spot_series: true,
            history_s: 3_600,
        }
    }
}

impl OnlineConfig {
    /// How the series behind these settings are built: the lookback and EWMA decay, a retention
    /// of `max(lookback, history)` plus three kline ages, and the spot-series switch.
    pub fn series_config(&self) -> SeriesConfig {
        let retention_ns = self
            .lookback_s
            .max(self.history_s)
            .saturating_mul(UnixNanos::PER_SEC)
            .saturating_add(3 * MAX_KLINE_AGE_NS);
        SeriesConfig {
            lookback_s: self.lookback_s,
            lambda: self.lambda,
            retention_ns,
            spot_series: self.spot_series,
            garch: self.vol == VolMethod::Garch,
            fit_jumps: self.fit_jumps && self.model == ModelChoice::Merton,
        }
    }

    /// How estimates are computed under these settings.
    ///
    /// # Errors
    /// Invalid Merton jump parameters, or a lookback under 2 s.
    pub fn estimate_spec(&self) -> Result<EstimateSpec, ModelError> {
        if self.lookback_s < 2 {
            return Err(ModelError::OutOfDomain {
                name: "lookback_s",
                value: self.lookback_s as f64,
                expected: ">= 2",
            });
        }
        let pricing = match self.model {
            ModelChoice::Bs => Pricing::BlackScholes,
            ModelChoice::Merton => {
                let m = MertonJumpDigital::new(
                    self.jumps_per_hour / 3600.0,
                    self.jump_mean,
                    self.jump_vol,
                )?;
                if self.fit_jumps {
                    Pricing::MertonFitted(m)
                } else {
                    Pricing::Merton(m)
                }
            }
        };
        Ok(EstimateSpec {
            pricing,
            vol: self.vol,
            lookback_s: self.lookback_s,
            tau_from_spot: self.tau_from_spot,
        })
    }
}

/// A [`ReferenceSet`] with the model settings of an [`OnlineConfig`]: one strategy's own copy of
/// the reference state (the engine keeps one shared copy per [`SeriesConfig`] instead and serves
/// estimates through the strategies' market view).
#[derive(Debug, Clone)]
pub struct OnlineFairValue {
    set: ReferenceSet,
    spec: EstimateSpec,
}

impl OnlineFairValue {
    /// Builds it from `config`.
    ///
    /// # Errors
    /// Invalid Merton jump parameters, `lambda` outside `(0, 1)`, a lookback under 2 s.
    pub fn new(config: &OnlineConfig) -> Result<Self, ModelError> {
        let spec = config.estimate_spec()?;
        let set = ReferenceSet::new(config.series_config())?;
        Ok(OnlineFairValue { set, spec })
    }

    /// Feeds one event (in receive order).
    pub fn on_event(&mut self, ev: &MarketEvent) {
        self.set.on_event(ev);
    }

    /// The estimate for `window` at `now` (see [`ReferenceSet::estimate`]).
    pub fn estimate(&self, window: &Window, now: UnixNanos) -> Estimate {
        self.set.estimate(window, now, &self.spec)
    }

    /// `P(Up)` of `window` at `now`, if the data allows one.
    pub fn p_up(&self, window: &Window, now: UnixNanos) -> Option<f64> {
        self.estimate(window, now).p_up
    }

    /// The series behind the estimates.
    pub fn series(&self) -> &ReferenceSet {
        &self.set
    }

    /// The series behind the estimates, mutably.
    pub fn series_mut(&mut self) -> &mut ReferenceSet {
        &mut self.set
    }

    /// The estimate settings.
    pub fn spec(&self) -> &EstimateSpec {
        &self.spec
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the same computation gives the same bits
mod tests {
    use super::*;
    use polyedge_core::event::{ReferenceTick, SpotTrade};
    use polyedge_core::{Symbol, WindowDuration};

    const START: u64 = 1_776_000_000;

    fn at(ms: u64) -> UnixNanos {
        UnixNanos(START * UnixNanos::PER_SEC + ms * UnixNanos::PER_MS)
    }

    fn trade(ms: u64, price: &str) -> MarketEvent {
        MarketEvent {
            recv_ns: at(ms),
            venue_ns: Some(at(ms)),
            kind: EventKind::SpotTrade(SpotTrade {
                venue: Venue::BinanceSpot,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                price: Fixed18::parse(price).unwrap(),
                qty: Fixed18::parse("0.1").unwrap(),
                taker_side: None,
                trade_id: None,
            }),
        }
    }

    fn chainlink(ms: u64, price: &str) -> MarketEvent {
        MarketEvent {
            recv_ns: at(ms),
            venue_ns: Some(at(ms)),
            kind: EventKind::Reference(ReferenceTick {
                source: ReferenceSource::Chainlink,
                symbol: Symbol::new("btc/usd").unwrap(),
                price: Fixed18::parse(price).unwrap(),
                backfill: false,
            }),
        }
    }

    fn set(spot_series: bool) -> ReferenceSet {
        ReferenceSet::new(SeriesConfig {
            lookback_s: 900,
            lambda: None,
            retention_ns: 3_600 * UnixNanos::PER_SEC,
            spot_series,
            garch: false,
            fit_jumps: false,
        })
        .unwrap()
    }

    #[test]
    fn spot_trades_are_sampled_per_second_and_rank_below_chainlink() {
        let mut s = set(true);
        for (ms, px) in [(100, "100"), (900, "101"), (1_200, "102"), (2_500, "103")] {
            s.on_event(&trade(ms, px));
        }
        let w = Window::new("btc-updown-5m-x", Asset::Btc, WindowDuration::M5, START);
        let spot = s.choose(Asset::Btc, at(3_000), w.start).unwrap();
        assert_eq!(spot.kind(), SeriesKind::Spot(Venue::BinanceSpot));
        // Three seconds → three points; the second of 0 keeps its last price (101).
        let prices: Vec<f64> = spot.points().iter().map(|p| p.price).collect();
        assert_eq!(prices, vec![101.0, 102.0, 103.0]);
        assert_eq!(spot.corrections(), 1);
        // A fresh Chainlink tick wins; once it is stale (> 60 s) the spot series is used again.
        s.on_event(&chainlink(3_000, "100.5"));
        let k = s.choose(Asset::Btc, at(3_000), w.start).unwrap().kind();
        assert_eq!(k, SeriesKind::Reference(ReferenceSource::Chainlink));
        s.on_event(&trade(70_000, "104"));
        let k = s.choose(Asset::Btc, at(70_000), w.start).unwrap().kind();
        assert_eq!(k, SeriesKind::Spot(Venue::BinanceSpot));
        // Off (calibrate): spot trades make no series.
        let mut off = set(false);
        off.on_event(&trade(100, "100"));
        assert!(off.series().is_empty());
    }

    #[test]
    fn estimate_needs_strike_and_vol() {
        let mut s = set(false);
        let mut w = Window::new("btc-updown-5m-x", Asset::Btc, WindowDuration::M5, START);
        let spec = EstimateSpec {
            pricing: Pricing::BlackScholes,
            vol: VolMethod::Ewma,
            lookback_s: 900,
            tau_from_spot: false,
        };
        assert_eq!(
            s.estimate(&w, at(0), &spec).skip,
            Some(SkipReason::NoReference)
        );
        for i in 0..5 {
            s.on_event(&chainlink(
                i * 1_000,
                if i % 2 == 0 { "100" } else { "100.1" },
            ));
        }
        // Strike from the tick at the start, but only 4 returns: no volatility yet.
        let e = s.estimate(&w, at(5_000), &spec);
        assert_eq!(e.strike_source, Some(StrikeSource::ReferenceAtStart));
        assert_eq!(e.skip, Some(SkipReason::NoVol));
        for i in 5..20 {
            s.on_event(&chainlink(
                i * 1_000,
                if i % 2 == 0 { "100" } else { "100.1" },
            ));
        }
        w.strike = Some(Fixed18::parse("99").unwrap());
        let e = s.estimate(&w, at(19_000), &spec);
        assert_eq!(e.strike_source, Some(StrikeSource::Index));
        assert_eq!(e.tau_s, Some(281.0));
        assert_eq!(e.spot, Some(100.1));
        let vol = VolEstimate::from_var_per_s(e.var_per_s.unwrap()).unwrap();
        let direct = BlackScholesDigital::default()
            .p_up(100.1, 99.0, 281.0, &vol)
            .unwrap();
        assert_eq!(e.p_up, Some(direct));
        assert!(direct > 0.5);
    }
}
