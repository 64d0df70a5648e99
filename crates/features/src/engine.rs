//! The feature engine: fed every [`MarketEvent`] in receive order, asked for a window's
//! [`FeatureVector`] at any instant not before the last event.
//!
//! It holds only what was fed to it, so a snapshot at `at` can only use events received up to
//! `at` (callers that want "strictly before `at`" take the snapshot before feeding the event
//! received at `at`, as `polyedge features` does). It reads the [`Window`] as the engine shows it
//! to strategies: only the slug, asset, times and token ids, and the `strike` when present — a
//! window without one gets the reference price at its start from `polyedge_model::online`
//! ([`OnlineFairValue`]), the same code the fair-value strategy and `polyedge calibrate` use.
//! `outcome`, `final_price` and `outcome_source` are never read.
//!
//! # Gap markers
//! A [`EventKind::Gap`] drops the derived state of its stream (`docs/recording-format.md` §4.7):
//! `binance-spot` / `binance-usdm` — that venue's local depth book (until the next snapshot), its
//! trade-flow windows, its open trade candle and, for USDⓈ-M, the liquidation window;
//! `coinbase` — its trade-flow and open candle; `polymarket-market` — every window's books (until
//! the next `book`); `deribit` — the last DVOL. Reference series (`rtds`) are governed by their
//! freshness rules in `polyedge_model::online` and are not cleared.

use std::collections::HashMap;

use polyedge_core::Fixed18;
use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::{
    Asset, BookSide, EventKind, MarketEvent, Outcome, TokenId, UnixNanos, Window, WindowBook,
};
use polyedge_model::online::{
    OnlineConfig, OnlineFairValue, SeriesKind, StrikeSource, asset_of_symbol,
};
use polyedge_model::vol::PricePoint;
use serde::Serialize;

use crate::candles::{Candle, CandleBuilder, Closed, Indicators, MAX_FILL_MINUTES};
use crate::flow::{LiqFlow, TradeFlow};
use crate::rolling::RollingSums;
use crate::schema::{Feature, FeatureVector};
use crate::spot_book::{BookStats, SpotBook};

/// A Polymarket book older than this is stale (5 s, as in `polyedge calibrate`).
pub const PM_MAX_BOOK_AGE_NS: u64 = 5 * UnixNanos::PER_SEC;
/// A local spot book not updated for this long is not used (10 s).
pub const SPOT_BOOK_MAX_AGE_NS: u64 = 10 * UnixNanos::PER_SEC;
/// Trade flow of a venue is used while its last trade is at most this old (60 s).
pub const TRADES_MAX_AGE_NS: u64 = 60 * UnixNanos::PER_SEC;
/// Mark price / funding / liquidation presence: a mark-price update at most this old (60 s).
pub const MARK_MAX_AGE_NS: u64 = 60 * UnixNanos::PER_SEC;
/// DVOL at most this old (120 s).
pub const DVOL_MAX_AGE_NS: u64 = 120 * UnixNanos::PER_SEC;
/// Consensus inputs at most this old (5 s).
pub const CONSENSUS_MAX_AGE_NS: u64 = 5 * UnixNanos::PER_SEC;
/// Consensus divergence threshold, bp.
pub const DIVERGENCE_BP: f64 = 10.0;
/// A candle series is used while its last closed candle ended at most this long ago (180 s).
pub const CANDLE_MAX_AGE_S: u64 = 180;
/// Fewest points for an R².
pub const MIN_R2_POINTS: usize = 5;

/// Where a candle series comes from, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandleSource {
    /// Binance spot trades.
    BinanceSpotTrades,
    /// Binance spot klines.
    BinanceSpotKlines,
    /// Binance USDⓈ-M trades.
    BinanceUsdmTrades,
    /// Binance USDⓈ-M klines.
    BinanceUsdmKlines,
    /// Coinbase trades.
    CoinbaseTrades,
    /// Chainlink data-stream ticks (no volume).
    ChainlinkTicks,
    /// Other reference ticks (Chainlink TWAPs, Binance via RTDS; no volume).
    OtherTicks,
}

impl CandleSource {
    /// Stable name (`binance_spot_trades`, …).
    pub const fn name(self) -> &'static str {
        match self {
            CandleSource::BinanceSpotTrades => "binance_spot_trades",
            CandleSource::BinanceSpotKlines => "binance_spot_klines",
            CandleSource::BinanceUsdmTrades => "binance_usdm_trades",
            CandleSource::BinanceUsdmKlines => "binance_usdm_klines",
            CandleSource::CoinbaseTrades => "coinbase_trades",
            CandleSource::ChainlinkTicks => "chainlink_ticks",
            CandleSource::OtherTicks => "other_ticks",
        }
    }

    fn of_trades(v: Venue) -> Option<Self> {
        match v {
            Venue::BinanceSpot => Some(CandleSource::BinanceSpotTrades),
            Venue::BinanceUsdm => Some(CandleSource::BinanceUsdmTrades),
            Venue::Coinbase => Some(CandleSource::CoinbaseTrades),
            Venue::Deribit => None,
        }
    }

    fn of_klines(v: Venue) -> Option<Self> {
        match v {
            Venue::BinanceSpot => Some(CandleSource::BinanceSpotKlines),
            Venue::BinanceUsdm => Some(CandleSource::BinanceUsdmKlines),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct CandleSeries {
    source: CandleSource,
    builder: CandleBuilder,
    ind: Indicators,
}

impl CandleSeries {
    fn new(source: CandleSource) -> Self {
        CandleSeries {
            source,
            builder: CandleBuilder::default(),
            ind: Indicators::default(),
        }
    }

    fn take(&mut self, closed: &mut Vec<Closed>) {
        for c in closed.drain(..) {
            match c {
                Closed::Candle(c) => self.ind.push(&c),
                Closed::Gap => self.ind.reset(),
            }
        }
    }

    /// A closed kline: enters as is; a repeat is ignored; after a silence longer than the fill
    /// limit the indicators restart.
    fn push_kline(&mut self, c: &Candle) {
        if let Some(last) = self.ind.last() {
            if c.open_s <= last.open_s {
                return;
            }
            if c.open_s - last.open_s > 60 * (MAX_FILL_MINUTES + 1) {
                self.ind.reset();
            }
        }
        self.ind.push(c);
    }
}

/// A [`Fixed18`] as `f64`: one conversion and one division, within an ulp of
/// `polyedge_model::online::fixed_to_f64` (whose two `i128` divisions cost ~100 ns per value on
/// the hot path); the features are ratios, so an ulp does not matter.
fn fixed_to_f64(x: Fixed18) -> f64 {
    x.0 as f64 / 1e18
}

/// Last price of a consensus input: `(receive time, price)`.
type Stamped = Option<(UnixNanos, f64)>;

#[derive(Debug, Clone)]
struct AssetState {
    candles: Vec<CandleSeries>,
    /// Trade flow per venue (Binance spot, Binance USDⓈ-M, Coinbase).
    flow: [TradeFlow; 3],
    spot_book: Option<SpotBook>,
    usdm_book: Option<SpotBook>,
    /// Best levels `(bid px, bid qty, ask px, ask qty)` of the spot book after the last update.
    prev_best: Option<(f64, f64, f64, f64)>,
    ofi: RollingSums<1>,
    liq: LiqFlow,
    /// `(receive time, mark, index, funding)`.
    mark: Option<(UnixNanos, f64, f64, f64)>,
    dvol: Stamped,
    binance: Stamped,
    coinbase: Stamped,
    chainlink: Stamped,
}

impl AssetState {
    fn new() -> Self {
        AssetState {
            candles: Vec::new(),
            flow: [
                TradeFlow::default(),
                TradeFlow::default(),
                TradeFlow::default(),
            ],
            spot_book: None,
            usdm_book: None,
            prev_best: None,
            ofi: RollingSums::new(&[60]),
            liq: LiqFlow::default(),
            mark: None,
            dvol: None,
            binance: None,
            coinbase: None,
            chainlink: None,
        }
    }

    fn series(&mut self, source: CandleSource) -> &mut CandleSeries {
        let i = if let Some(i) = self.candles.iter().position(|c| c.source == source) {
            i
        } else {
            self.candles.push(CandleSeries::new(source));
            self.candles.sort_by_key(|c| c.source);
            self.candles
                .iter()
                .position(|c| c.source == source)
                .unwrap_or_default()
        };
        &mut self.candles[i]
    }

    fn flow_mut(&mut self, v: Venue) -> Option<&mut TradeFlow> {
        match v {
            Venue::BinanceSpot => Some(&mut self.flow[0]),
            Venue::BinanceUsdm => Some(&mut self.flow[1]),
            Venue::Coinbase => Some(&mut self.flow[2]),
            Venue::Deribit => None,
        }
    }

    fn clear_venue(&mut self, v: Venue) {
        if let Some(f) = self.flow_mut(v) {
            f.clear();
        }
        if let Some(src) = CandleSource::of_trades(v) {
            for c in &mut self.candles {
                if c.source == src {
                    c.builder.clear();
                }
            }
        }
        match v {
            Venue::BinanceSpot => {
                if let Some(b) = &mut self.spot_book {
                    b.drop_state();
                }
                self.prev_best = None;
                self.ofi.clear();
                self.binance = None;
            }
            Venue::BinanceUsdm => {
                if let Some(b) = &mut self.usdm_book {
                    b.drop_state();
                }
                self.liq.clear();
                self.mark = None;
            }
            Venue::Coinbase => self.coinbase = None,
            Venue::Deribit => self.dvol = None,
        }
    }
}

#[derive(Debug, Clone)]
struct WinSlot {
    book: WindowBook,
    tokens: Vec<TokenId>,
}

/// Counters of what the engine was fed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Events fed.
    pub events: u64,
    /// Events about a symbol no asset could be read from (skipped).
    pub unknown_symbol: u64,
    /// Depth events without a symbol (Binance partial depth outside a combined stream; skipped).
    pub depth_without_symbol: u64,
    /// Polymarket book events the window books refused.
    pub pm_book_errors: u64,
    /// Gap markers seen, and those whose stream named nothing the engine derives state from.
    pub gaps: u64,
    /// Gap markers of streams the engine keeps no state of.
    pub gaps_ignored: u64,
    /// Events received out of order (earlier than the last; applied as of the last).
    pub out_of_order: u64,
}

/// What a snapshot was built from, for the dataset and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SnapshotMeta {
    /// Reference series of the strike, volatility and momentum (`polyedge_model::online` name).
    pub reference: Option<&'static str>,
    /// Where the strike came from (`index` = the window's, `reference_at_start`).
    pub strike_source: Option<StrikeSource>,
    /// Strike (USD).
    pub strike: Option<f64>,
    /// Reference spot (USD).
    pub spot: Option<f64>,
    /// Candle series of the indicators.
    pub candles: Option<&'static str>,
    /// Closed candles behind the indicators.
    pub candle_count: usize,
}

/// One window's features at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The features.
    pub features: FeatureVector,
    /// Their provenance.
    pub meta: SnapshotMeta,
}

/// The online feature engine. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct FeatureEngine {
    fair: OnlineFairValue,
    assets: HashMap<Asset, AssetState>,
    windows: HashMap<String, WinSlot>,
    by_token: HashMap<TokenId, String>,
    now: UnixNanos,
    closed: Vec<Closed>,
    stats: EngineStats,
}

impl FeatureEngine {
    /// An engine whose reference series, strike and volatility follow `online` (use
    /// [`OnlineConfig::default`] for the strategies' settings).
    ///
    /// # Errors
    /// An invalid `online` configuration ([`OnlineFairValue::new`]).
    pub fn new(online: &OnlineConfig) -> Result<Self, polyedge_model::ModelError> {
        Ok(FeatureEngine {
            fair: OnlineFairValue::new(online)?,
            assets: HashMap::new(),
            windows: HashMap::new(),
            by_token: HashMap::new(),
            now: UnixNanos(0),
            closed: Vec::with_capacity(8),
            stats: EngineStats::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Receive time of the latest event fed.
    pub fn now(&self) -> UnixNanos {
        self.now
    }

    /// Local book counters of `asset`'s Binance spot book, if it has one.
    pub fn spot_book_stats(&self, asset: Asset) -> Option<BookStats> {
        self.assets
            .get(&asset)?
            .spot_book
            .as_ref()
            .map(SpotBook::stats)
    }

    /// Starts following `window`'s Polymarket books (its token ids; a window without any gets no
    /// book features). Adding a window twice keeps its books.
    pub fn add_window(&mut self, window: &Window) {
        if self.windows.contains_key(&window.slug)
            || (window.up_token.is_none() && window.down_token.is_none())
        {
            return;
        }
        let up = window
            .up_token
            .unwrap_or_else(|| TokenId::synthetic(&window.slug, "missing-up"));
        let down = window
            .down_token
            .unwrap_or_else(|| TokenId::synthetic(&window.slug, "missing-down"));
        let tokens = vec![up, down];
        for t in &tokens {
            self.by_token.insert(*t, window.slug.clone());
        }
        self.windows.insert(
            window.slug.clone(),
            WinSlot {
                book: WindowBook::new(up, down),
                tokens,
            },
        );
    }

    /// Stops following a window (frees its books).
    pub fn remove_window(&mut self, slug: &str) {
        if let Some(w) = self.windows.remove(slug) {
            for t in w.tokens {
                self.by_token.remove(&t);
            }
        }
    }

    fn asset(&mut self, symbol: &str) -> Option<&mut AssetState> {
        if let Some(a) = asset_of_symbol(symbol) {
            Some(self.assets.entry(a).or_insert_with(AssetState::new))
        } else {
            self.stats.unknown_symbol += 1;
            None
        }
    }

    /// Feeds one event (in receive order).
    pub fn on_event(&mut self, ev: &MarketEvent) {
        self.stats.events += 1;
        if ev.recv_ns < self.now {
            self.stats.out_of_order += 1;
        }
        self.now = self.now.max(ev.recv_ns);
        let at = self.now;
        match &ev.kind {
            EventKind::Reference(r) => {
                self.fair.on_event(ev);
                if r.backfill {
                    return;
                }
                let price = fixed_to_f64(r.price);
                let mut closed = std::mem::take(&mut self.closed);
                if let Some(a) = self.asset(r.symbol.as_str()) {
                    let src = if r.source == ReferenceSource::Chainlink {
                        a.chainlink = Some((at, price));
                        CandleSource::ChainlinkTicks
                    } else {
                        CandleSource::OtherTicks
                    };
                    let s = a.series(src);
                    s.builder.add(at, price, 0.0, &mut closed);
                    s.take(&mut closed);
                }
                self.closed = closed;
            }
            EventKind::Kline(k) => {
                self.fair.on_event(ev);
                let Some(src) = CandleSource::of_klines(k.venue) else {
                    return;
                };
                if !k.closed {
                    return;
                }
                if let Some(a) = self.asset(k.symbol.as_str()) {
                    let c = Candle {
                        open_s: k.open_time.secs() / 60 * 60,
                        open: fixed_to_f64(k.open),
                        high: fixed_to_f64(k.high),
                        low: fixed_to_f64(k.low),
                        close: fixed_to_f64(k.close),
                        volume: fixed_to_f64(k.volume),
                    };
                    a.series(src).push_kline(&c);
                }
            }
            EventKind::SpotTrade(t) => {
                self.fair.on_event(ev);
                let (price, qty) = (fixed_to_f64(t.price), fixed_to_f64(t.qty));
                let mut closed = std::mem::take(&mut self.closed);
                if let Some(a) = self.asset(t.symbol.as_str()) {
                    if let Some(src) = CandleSource::of_trades(t.venue) {
                        let s = a.series(src);
                        s.builder.add(at, price, qty, &mut closed);
                        s.take(&mut closed);
                    }
                    if let Some(f) = a.flow_mut(t.venue) {
                        f.add(at, price, qty, t.taker_side);
                    }
                    match t.venue {
                        Venue::BinanceSpot => a.binance = Some((at, price)),
                        Venue::Coinbase => a.coinbase = Some((at, price)),
                        _ => {}
                    }
                }
                self.closed = closed;
            }
            EventKind::SpotQuote(q) => {
                self.fair.on_event(ev);
                let mid = f64::midpoint(fixed_to_f64(q.bid), fixed_to_f64(q.ask));
                if let Some(a) = self.asset(q.symbol.as_str()) {
                    match q.venue {
                        Venue::BinanceSpot => a.binance = Some((at, mid)),
                        Venue::Coinbase => a.coinbase = Some((at, mid)),
                        _ => {}
                    }
                }
            }
            EventKind::SpotDepth(d) => {
                let Some(sym) = &d.symbol else {
                    self.stats.depth_without_symbol += 1;
                    return;
                };
                let venue = d.venue;
                if let Some(a) = self.asset(sym.as_str()) {
                    match venue {
                        Venue::BinanceSpot => {
                            let b = a
                                .spot_book
                                .get_or_insert_with(|| SpotBook::new(Venue::BinanceSpot));
                            b.apply(d, at);
                            update_ofi(a, at);
                        }
                        Venue::BinanceUsdm => a
                            .usdm_book
                            .get_or_insert_with(|| SpotBook::new(Venue::BinanceUsdm))
                            .apply(d, at),
                        _ => {}
                    }
                }
            }
            EventKind::Liquidation(l) => {
                let qty = fixed_to_f64(l.qty);
                if let Some(a) = self.asset(l.symbol.as_str()) {
                    a.liq.add(at, l.side, qty);
                }
            }
            EventKind::MarkPrice(m) => {
                let v = (
                    at,
                    fixed_to_f64(m.mark),
                    fixed_to_f64(m.index),
                    fixed_to_f64(m.funding_rate),
                );
                if let Some(a) = self.asset(m.symbol.as_str()) {
                    a.mark = Some(v);
                }
            }
            EventKind::VolIndex(v) => {
                let x = fixed_to_f64(v.value);
                if let Some(a) = self.asset(v.index.as_str()) {
                    a.dvol = Some((at, x));
                }
            }
            EventKind::Book(_) | EventKind::BookDelta(_) | EventKind::TickSizeChange(_) => {
                let Some(slug) = ev.kind.token().and_then(|t| self.by_token.get(&t)) else {
                    return;
                };
                if let Some(w) = self.windows.get_mut(slug)
                    && w.book.apply(ev).is_err()
                {
                    self.stats.pm_book_errors += 1;
                }
            }
            EventKind::Gap(g) => {
                self.stats.gaps += 1;
                let venue = match g.stream.as_str() {
                    "binance-spot" => Some(Venue::BinanceSpot),
                    "binance-usdm" | "binance-usdm-market" => Some(Venue::BinanceUsdm),
                    "coinbase" => Some(Venue::Coinbase),
                    "deribit" => Some(Venue::Deribit),
                    "polymarket-market" => {
                        for w in self.windows.values_mut() {
                            w.book = WindowBook::new(w.tokens[0], w.tokens[1]);
                        }
                        return;
                    }
                    _ => {
                        self.stats.gaps_ignored += 1;
                        return;
                    }
                };
                if let Some(v) = venue {
                    for a in self.assets.values_mut() {
                        a.clear_venue(v);
                    }
                }
            }
            EventKind::BestBidAsk(_)
            | EventKind::LastTrade(_)
            | EventKind::NewMarket(_)
            | EventKind::MarketResolved(_)
            | EventKind::WindowUpdate(_) => {}
        }
    }

    /// The features of `window` at `at` (`at` not before the last event fed; an earlier `at` is
    /// taken as the last event's time), its Polymarket features from the books this engine
    /// follows ([`Self::add_window`]).
    pub fn snapshot(&mut self, window: &Window, at: UnixNanos) -> Snapshot {
        let mut s = self.snapshot_market(window, at);
        let at = at.max(self.now);
        if let Some(w) = self.windows.get(&window.slug) {
            pm_features(&w.book, at, &mut s.features);
        }
        s
    }

    /// As [`Self::snapshot`], with the Polymarket features from `book` (the trading engine's
    /// own book of the window, as a strategy reads it through its market view; `None`: the
    /// Polymarket features are missing). A strategy uses this instead of making the engine
    /// keep a second copy of every book; the books are the same [`WindowBook`], fed the same
    /// events.
    pub fn snapshot_with_book(
        &mut self,
        window: &Window,
        at: UnixNanos,
        book: Option<&WindowBook>,
    ) -> Snapshot {
        let mut s = self.snapshot_market(window, at);
        if let Some(b) = book {
            pm_features(b, at.max(self.now), &mut s.features);
        }
        s
    }

    /// Every feature but the Polymarket book's.
    fn snapshot_market(&mut self, window: &Window, at: UnixNanos) -> Snapshot {
        let at = at.max(self.now);
        let mut f = FeatureVector::default();
        let mut meta = SnapshotMeta::default();

        // Window and clock.
        let tau_s = window.end.saturating_sub(at) as f64 / 1e9;
        let len_s = window.end.saturating_sub(window.start) as f64 / 1e9;
        f.set(Feature::TauS, tau_s);
        f.set(
            Feature::TauFrac,
            if len_s > 0.0 { tau_s / len_s } else { f64::NAN },
        );
        let tod = (at.0 % (86_400 * UnixNanos::PER_SEC)) as f64 / 1e9 / 86_400.0;
        let angle = std::f64::consts::TAU * tod;
        f.set(Feature::TodSin, angle.sin());
        f.set(Feature::TodCos, angle.cos());

        // Reference: strike, volatility, Black–Scholes, momentum.
        let e = self.fair.estimate(window, at);
        meta.reference = e.series.map(SeriesKind::name);
        meta.strike_source = e.strike_source;
        meta.strike = e.strike;
        meta.spot = e.spot;
        if let (Some(s), Some(k)) = (e.spot, e.strike)
            && s > 0.0
            && k > 0.0
        {
            let r = (s / k).ln();
            f.set(Feature::RetSinceOpen, r);
            if let Some(v) = e.var_per_s
                && v > 0.0
                && tau_s > 0.0
            {
                f.set(Feature::DistSigma, r / (v * tau_s).sqrt());
            }
        }
        if let Some(v) = e.var_per_s {
            f.set(
                Feature::SigmaAnn,
                (v * polyedge_model::SECONDS_PER_YEAR).sqrt(),
            );
        }
        f.set_opt(Feature::BsPUp, e.p_up);
        f.set_opt(
            Feature::RefAgeS,
            e.spot_time.map(|t| at.saturating_sub(t) as f64 / 1e9),
        );
        if let Some(series) = self
            .fair
            .series_mut()
            .choose(window.asset, at, window.start)
        {
            let pts = series.points();
            for (feat, k) in [
                (Feature::Mom30, 30),
                (Feature::Mom60, 60),
                (Feature::Mom120, 120),
            ] {
                f.set_opt(feat, momentum(pts, at, k));
            }
            for (feat, k) in [
                (Feature::R2_30, 30),
                (Feature::R2_60, 60),
                (Feature::R2_120, 120),
            ] {
                let from = UnixNanos(at.0.saturating_sub(k * UnixNanos::PER_SEC));
                f.set_opt(feat, r_squared(pts, from, at, true));
            }
            if at > window.start {
                f.set_opt(
                    Feature::R2SinceOpen,
                    r_squared(pts, window.start, at, false),
                );
                if let Some(k) = e.strike {
                    f.set_opt(
                        Feature::RangeSinceOpen,
                        range(pts, window.start, at).map(|r| r / k),
                    );
                }
            }
        }

        let mut closed = std::mem::take(&mut self.closed);
        if let Some(a) = self.assets.get_mut(&window.asset) {
            candle_features(a, at, &mut f, &mut meta, &mut closed);
            flow_features(a, at, &mut f);
            book_features(a, at, &mut f);
            derivatives_features(a, at, &mut f);
            consensus_features(a, at, e.spot, &mut f);
        } else {
            f.set(Feature::ConsN, 0.0);
        }
        self.closed = closed;
        Snapshot { features: f, meta }
    }

    /// The market's Up mid of `window` at `at` (calibrate's rules: missing if there is no book,
    /// the book is more than 5 s old, one-sided or crossed).
    pub fn market_mid(&self, window: &Window, at: UnixNanos) -> Option<f64> {
        let w = self.windows.get(&window.slug)?;
        pm_mid(&w.book, at.max(self.now))
    }
}

/// `ln(p(at)/p(at − k))` with `p(x)` the last point at or before `x`; present when the newest point
/// is at most `k/2` old and the lagged one at most `k/2` older than `at − k`.
fn momentum(pts: &std::collections::VecDeque<PricePoint>, at: UnixNanos, k: u64) -> Option<f64> {
    let half = k * UnixNanos::PER_SEC / 2;
    let i = pts.partition_point(|p| p.t <= at);
    let now = pts.get(i.checked_sub(1)?)?;
    if at.saturating_sub(now.t) > half {
        return None;
    }
    let lag_at = UnixNanos(at.0.checked_sub(k * UnixNanos::PER_SEC)?);
    let j = pts.partition_point(|p| p.t <= lag_at);
    let then = pts.get(j.checked_sub(1)?)?;
    if lag_at.saturating_sub(then.t) > half || then.price <= 0.0 {
        return None;
    }
    Some((now.price / then.price).ln())
}

/// R² of the least-squares line of price on time over the points with `from < t ≤ to`
/// (`from ≤ t` when `!open`); 0 for a flat price; `None` under [`MIN_R2_POINTS`] points. (Seed
/// 004 fits the price itself; R² is invariant to shifting and scaling the price, so the result is
/// the same in any currency unit.)
fn r_squared(
    pts: &std::collections::VecDeque<PricePoint>,
    from: UnixNanos,
    to: UnixNanos,
    open: bool,
) -> Option<f64> {
    let lo = if open {
        pts.partition_point(|p| p.t <= from)
    } else {
        pts.partition_point(|p| p.t < from)
    };
    let hi = pts.partition_point(|p| p.t <= to);
    if hi < lo + MIN_R2_POINTS {
        return None;
    }
    let n = (hi - lo) as f64;
    // Centre x on `to` and y on the first price: better conditioned sums.
    let y0 = pts[lo].price;
    let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pts.range(lo..hi) {
        let x = -(to.saturating_sub(p.t) as f64) / 1e9;
        let y = p.price - y0;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    let vx = sxx - sx * sx / n;
    let vy = syy - sy * sy / n;
    let cxy = sxy - sx * sy / n;
    if vx <= 0.0 {
        return None;
    }
    if vy <= 1e-18 * y0 * y0 {
        return Some(0.0);
    }
    Some((cxy * cxy / (vx * vy)).clamp(0.0, 1.0))
}

/// High − low of the points with `from ≤ t ≤ to` (at least 2).
fn range(
    pts: &std::collections::VecDeque<PricePoint>,
    from: UnixNanos,
    to: UnixNanos,
) -> Option<f64> {
    let lo = pts.partition_point(|p| p.t < from);
    let hi = pts.partition_point(|p| p.t <= to);
    if hi < lo + 2 {
        return None;
    }
    let (mut mn, mut mx) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in pts.range(lo..hi) {
        mn = mn.min(p.price);
        mx = mx.max(p.price);
    }
    Some(mx - mn)
}

fn candle_features(
    a: &mut AssetState,
    at: UnixNanos,
    f: &mut FeatureVector,
    meta: &mut SnapshotMeta,
    closed: &mut Vec<Closed>,
) {
    // Close what ended by `at` (trade- and tick-built series), then take the preferred fresh one.
    for s in &mut a.candles {
        if !matches!(
            s.source,
            CandleSource::BinanceSpotKlines | CandleSource::BinanceUsdmKlines
        ) {
            s.builder.roll(at, closed);
            s.take(closed);
        }
    }
    let Some(s) = a.candles.iter().find(|s| {
        s.ind
            .last()
            .is_some_and(|c| at.secs().saturating_sub(c.open_s + 60) <= CANDLE_MAX_AGE_S)
    }) else {
        return;
    };
    meta.candles = Some(s.source.name());
    meta.candle_count = s.ind.count();
    let v = s.ind.values();
    f.set_opt(Feature::Rsi7, v.rsi7);
    f.set_opt(Feature::Rsi14, v.rsi14);
    f.set_opt(Feature::Rsi30, v.rsi30);
    f.set_opt(Feature::MacdRel, v.macd_rel);
    f.set_opt(Feature::MacdSignalRel, v.macd_signal_rel);
    f.set_opt(Feature::MacdHistRel, v.macd_hist_rel);
    f.set_opt(Feature::StochK14, v.stoch_k14);
    f.set_opt(Feature::BbPctB20, v.bb_pct_b20);
    f.set_opt(Feature::AtrRel14, v.atr14_rel);
    f.set_opt(Feature::Ema9v21, v.ema9_21_rel);
    f.set_opt(Feature::Trend1h, v.trend_1h);
}

fn flow_features(a: &mut AssetState, at: UnixNanos, f: &mut FeatureVector) {
    // Binance spot first, then USDⓈ-M: the first venue with a trade in the last 60 s.
    let Some(flow) = a.flow[..2].iter_mut().find(|fl| {
        fl.last_time()
            .is_some_and(|t| at.saturating_sub(t) <= TRADES_MAX_AGE_NS)
    }) else {
        return;
    };
    let v = flow.read(at);
    f.set_opt(Feature::Aggr30, v.aggr[0]);
    f.set_opt(Feature::Aggr60, v.aggr[1]);
    f.set_opt(Feature::Aggr120, v.aggr[2]);
    f.set(Feature::Cvd60, v.cvd60);
    f.set(Feature::Volume60, v.volume60);
    f.set_opt(Feature::VwapDev300, v.vwap_dev_bp);
}

/// Adds the Cont–Kukanov–Stoikov order-flow event of the spot book's best levels.
fn update_ofi(a: &mut AssetState, at: UnixNanos) {
    let Some(b) = &a.spot_book else { return };
    let best = match (b.best_bid(), b.best_ask()) {
        (Some((bp, bq)), Some((ap, aq))) if b.is_synced() || b.updated().is_some() => {
            Some((bp, bq, ap, aq))
        }
        _ => None,
    };
    match (a.prev_best, best) {
        (Some((pbp, pbq, pap, paq)), Some((bp, bq, ap, aq))) => {
            let mut e = 0.0;
            if bp >= pbp {
                e += bq;
            }
            if bp <= pbp {
                e -= pbq;
            }
            if ap <= pap {
                e -= aq;
            }
            if ap >= pap {
                e += paq;
            }
            a.ofi.add(at, [e]);
        }
        (_, None) => a.ofi.clear(),
        (None, Some(_)) => {}
    }
    a.prev_best = best;
}

fn book_features(a: &mut AssetState, at: UnixNanos, f: &mut FeatureVector) {
    let Some(b) = &a.spot_book else { return };
    if b.updated()
        .is_none_or(|t| at.saturating_sub(t) > SPOT_BOOK_MAX_AGE_NS)
    {
        return;
    }
    let (Some((bp, _)), Some((ap, _))) = (b.best_bid(), b.best_ask()) else {
        return;
    };
    let mid = f64::midpoint(bp, ap);
    if !(mid > 0.0 && ap > bp) {
        return;
    }
    f.set(Feature::SpotSpreadBp, (ap - bp) / mid * 1e4);
    let mut bid = [0.0f64; 10];
    let mut ask = [0.0f64; 10];
    let (mut bid_pq, mut ask_pq) = (0.0, 0.0);
    let (mut nb, mut na) = (0, 0);
    for (i, (p, q)) in b.bids().take(10).enumerate() {
        bid[i] = q;
        bid_pq += p * q;
        nb = i + 1;
    }
    for (i, (p, q)) in b.asks().take(10).enumerate() {
        ask[i] = q;
        ask_pq += p * q;
        na = i + 1;
    }
    let imb = |b: &[f64], a: &[f64]| {
        let (sb, sa): (f64, f64) = (b.iter().sum(), a.iter().sum());
        (sb + sa > 0.0).then(|| sb / (sb + sa))
    };
    if nb >= 5 && na >= 5 {
        f.set_opt(Feature::DepthImbL5, imb(&bid[..5], &ask[..5]));
    }
    if nb >= 10 && na >= 10 {
        f.set_opt(Feature::DepthImbL10, imb(&bid[5..], &ask[5..]));
        let (qb, qa): (f64, f64) = (bid.iter().sum(), ask.iter().sum());
        if qb > 0.0 && qa > 0.0 {
            f.set(Feature::VwapBidDev, (mid - bid_pq / qb) / mid * 1e4);
            f.set(Feature::VwapAskDev, (ask_pq / qa - mid) / mid * 1e4);
        }
    }
    if b.is_synced() || a.prev_best.is_some() {
        a.ofi.advance(at);
        f.set(Feature::Ofi60, a.ofi.sums(0)[0]);
    }
}

fn derivatives_features(a: &mut AssetState, at: UnixNanos, f: &mut FeatureVector) {
    if let Some((t, mark, index, funding)) = a.mark
        && at.saturating_sub(t) <= MARK_MAX_AGE_NS
    {
        f.set(Feature::Funding, funding);
        if index > 0.0 {
            f.set(Feature::MarkBasisBp, (mark - index) / index * 1e4);
        }
        f.set(Feature::LiqImb60, a.liq.imbalance(at));
    }
    if let Some((t, v)) = a.dvol
        && at.saturating_sub(t) <= DVOL_MAX_AGE_NS
    {
        f.set(Feature::Dvol, v);
    }
}

fn consensus_features(a: &AssetState, at: UnixNanos, spot: Option<f64>, f: &mut FeatureVector) {
    let mut xs = [0.0f64; 3];
    let mut n = 0;
    for (t, p) in [a.binance, a.coinbase, a.chainlink].into_iter().flatten() {
        if at.saturating_sub(t) <= CONSENSUS_MAX_AGE_NS && p > 0.0 {
            xs[n] = p;
            n += 1;
        }
    }
    f.set(Feature::ConsN, n as f64);
    if n == 0 {
        return;
    }
    let xs = &mut xs[..n];
    xs.sort_by(f64::total_cmp);
    let median = if n == 2 {
        f64::midpoint(xs[0], xs[1])
    } else {
        xs[n / 2]
    };
    if n < 2 {
        return; // one input is not a consensus
    }
    if let Some(s) = spot
        && s > 0.0
    {
        f.set(Feature::ConsDevBp, (median - s) / s * 1e4);
    }
    {
        let spread = (xs[n - 1] - xs[0]) / median * 1e4;
        f.set(Feature::ConsSpreadBp, spread);
        f.set(
            Feature::ConsDivergent,
            if spread > DIVERGENCE_BP { 1.0 } else { 0.0 },
        );
    }
}

fn pm_mid(book: &WindowBook, at: UnixNanos) -> Option<f64> {
    let last = book.last_update()?;
    if at.saturating_sub(last) > PM_MAX_BOOK_AGE_NS {
        return None;
    }
    let bid = book.best_bid(Outcome::Up)?.level.price;
    let ask = book.best_ask(Outcome::Up)?.level.price;
    if bid >= ask {
        return None;
    }
    Some(f64::from(u32::midpoint(bid.micros(), ask.micros())) / 1e6)
}

fn pm_features(book: &WindowBook, at: UnixNanos, f: &mut FeatureVector) {
    let Some(last) = book.last_update() else {
        return;
    };
    f.set(Feature::PmBookAgeS, at.saturating_sub(last) as f64 / 1e9);
    if at.saturating_sub(last) > PM_MAX_BOOK_AGE_NS {
        return;
    }
    f.set_opt(Feature::PmUpMid, pm_mid(book, at));
    for (o, imb_f, micro_f) in [
        (Outcome::Up, Feature::PmUpImb5, Feature::PmUpMicro),
        (Outcome::Down, Feature::PmDownImb5, Feature::PmDownMicro),
    ] {
        let sb: f64 = book
            .levels(o, BookSide::Bid)
            .take(5)
            .map(|l| l.size.to_f64())
            .sum();
        let sa: f64 = book
            .levels(o, BookSide::Ask)
            .take(5)
            .map(|l| l.size.to_f64())
            .sum();
        if sb > 0.0 && sa > 0.0 {
            f.set(imb_f, sb / (sb + sa));
        }
        if let (Some(b), Some(a)) = (book.best_bid(o), book.best_ask(o)) {
            let (bp, bq) = (b.level.price.to_f64(), b.level.size.to_f64());
            let (ap, aq) = (a.level.price.to_f64(), a.level.size.to_f64());
            if bq + aq > 0.0 && bp < ap {
                f.set(micro_f, (bp * aq + ap * bq) / (bq + aq));
            }
            if o == Outcome::Up && bp < ap {
                f.set(Feature::PmUpSpread, ap - bp);
            }
        }
    }
}
