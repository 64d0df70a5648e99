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
//!
//! Either needs at least [`MIN_RETURNS`] = 10 returns. The horizon is `τ = end − now`, or with
//! [`EstimateSpec::tau_from_spot`] `τ = end − (price time of the spot)`. For Merton the jump part
//! (`λ_J(μ_J² + δ²)` per second) is subtracted from the variance first (floored at 0), since both
//! estimators measure total variance.

use std::collections::{HashMap, VecDeque};

use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::{Asset, EventKind, Fixed18, MarketEvent, UnixNanos, Window};
use serde::{Deserialize, Serialize};

use crate::digital::{BlackScholesDigital, FairValueModel, MertonJumpDigital};
use crate::error::ModelError;
use crate::vol::{Ewma, PricePoint, VolEstimate, realized_var};

/// A tick (or sampled spot) series whose last point is older than this is unusable (60 s).
pub const MAX_TICK_AGE_NS: u64 = 60 * UnixNanos::PER_SEC;
/// A kline series whose last close is older than this is unusable (2 min).
pub const MAX_KLINE_AGE_NS: u64 = 120 * UnixNanos::PER_SEC;
/// Strike fallback from ticks: the last tick at or before the window start, at most this old (5 s).
pub const STRIKE_MAX_TICK_AGE_NS: u64 = 5 * UnixNanos::PER_SEC;
/// Fewest returns a volatility estimate needs.
pub const MIN_RETURNS: usize = 10;

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
}

/// One reference price series (one asset, one source), as received so far.
#[derive(Debug, Clone)]
pub struct RefSeries {
    kind: SeriesKind,
    /// Points with strictly increasing price time, trimmed to `retention_ns` behind the newest.
    points: VecDeque<PricePoint>,
    /// Kline series: `(open_time, open)` of the candles, same trimming.
    opens: VecDeque<(UnixNanos, f64)>,
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
    fn push(&mut self, p: PricePoint, open: Option<(UnixNanos, f64)>) {
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
        self.points.push_back(p);
        if let Some(o) = open {
            self.opens.push_back(o);
        }
        let cutoff = p.t.0.saturating_sub(self.retention_ns);
        while self.points.front().is_some_and(|f| f.t.0 < cutoff) {
            self.points.pop_front();
        }
        while self.opens.front().is_some_and(|f| f.0.0 < cutoff) {
            self.opens.pop_front();
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

    /// The volatility estimate now by `method`, if there are at least [`MIN_RETURNS`] returns.
    pub fn vol(&self, method: VolMethod, lookback_s: u64) -> Option<VolEstimate> {
        match method {
            VolMethod::Ewma => (self.ewma.n_returns() >= MIN_RETURNS)
                .then(|| self.ewma.estimate())
                .flatten(),
            VolMethod::Realized => {
                let last = self.points.back()?.t;
                let cutoff = last
                    .0
                    .saturating_sub(lookback_s.saturating_mul(UnixNanos::PER_SEC));
                let from = self.points.partition_point(|p| p.t.0 < cutoff);
                let points: Vec<PricePoint> = self.points.range(from..).copied().collect();
                let rv = realized_var(&points, lookback_s).ok()?;
                (rv.n_returns >= MIN_RETURNS).then(|| rv.estimate())
            }
        }
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
}

/// The digital model pricing `P(Up)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pricing {
    /// Black–Scholes digital `N(d2)`, zero drift.
    BlackScholes,
    /// Merton jump-diffusion digital; the jump variance is subtracted from the estimate first.
    Merton(MertonJumpDigital),
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
            Pricing::Merton(m) => {
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
}

/// Every reference series of every asset, fed event by event. See the module docs.
#[derive(Debug, Clone)]
pub struct ReferenceSet {
    config: SeriesConfig,
    series: HashMap<(Asset, SeriesKind), RefSeries>,
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
                self.push_point(asset, SeriesKind::Kline(k.venue), spacing_s, p, Some(open));
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
            .push(p, open);
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
        let vol = series.vol(spec.vol, spec.lookback_s);
        e.var_per_s = vol.map(|v| v.var_per_s());
        match (e.spot, strike, vol) {
            (_, None, _) => e.skip = Some(SkipReason::NoStrike),
            (_, _, None) => e.skip = Some(SkipReason::NoVol),
            (Some(spot), Some((k, _)), Some(v)) => {
                let tau_s = match (spec.tau_from_spot, e.spot_time) {
                    (true, Some(st)) => window.end.saturating_sub(st) as f64 / 1e9,
                    _ => window.end.saturating_sub(at) as f64 / 1e9,
                };
                e.tau_s = Some(tau_s);
                match spec.pricing.p_up(spot, k, tau_s, v) {
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
            ModelChoice::Merton => Pricing::Merton(MertonJumpDigital::new(
                self.jumps_per_hour / 3600.0,
                self.jump_mean,
                self.jump_vol,
            )?),
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
