//! The feature schema: every feature's name, group, unit and definition, in one table.
//!
//! [`Feature`] enumerates the features in column order; [`Feature::info`] gives the one
//! definition of each (the same text `docs/features.md` expands on). A [`FeatureVector`] holds one
//! value per feature: `NaN` when the input is missing, with a presence bit beside it — a missing
//! input is never written as zero. [`schema_names`] and [`schema_hash`] identify the schema, so a
//! trained model can refuse a vector built by a different one.

use serde::{Deserialize, Serialize};

/// Where a feature's inputs come from (the data-quality table is per group and per feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// The window itself and the clock (always present).
    Window,
    /// The reference price series of `polyedge_model::online` (Chainlink, RTDS Binance, spot
    /// trades/quotes sampled per second, klines): strike, volatility, Black–Scholes, momentum.
    Reference,
    /// 1-minute candles and the indicators computed on them.
    Candles,
    /// Binance trades (aggressor side, volume).
    Trades,
    /// The local Binance spot depth book.
    SpotBook,
    /// Binance USDⓈ-M liquidations, mark price and funding; Deribit DVOL.
    Derivatives,
    /// The window's Polymarket Up and Down books.
    Polymarket,
    /// Binance + Coinbase + Chainlink consensus price.
    Consensus,
}

impl Group {
    /// Stable name (`reference`, `spot_book`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Group::Window => "window",
            Group::Reference => "reference",
            Group::Candles => "candles",
            Group::Trades => "trades",
            Group::SpotBook => "spot_book",
            Group::Derivatives => "derivatives",
            Group::Polymarket => "polymarket",
            Group::Consensus => "consensus",
        }
    }
}

/// One feature's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureInfo {
    /// Column name.
    pub name: &'static str,
    /// Input group.
    pub group: Group,
    /// Unit (`s`, `log return`, `bp`, `0..1`, …).
    pub unit: &'static str,
    /// Definition, with its source where it follows one.
    pub doc: &'static str,
}

macro_rules! features {
    ($( $(#[$m:meta])* $variant:ident => ($name:literal, $group:ident, $unit:literal, $doc:literal), )*) => {
        /// Every feature, in column order. The discriminant is the column index.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(usize)]
        pub enum Feature {
            $( $(#[$m])* #[doc = $doc] $variant, )*
        }

        /// Definitions, indexed by [`Feature`] discriminant.
        pub const FEATURES: &[FeatureInfo] = &[
            $( FeatureInfo { name: $name, group: Group::$group, unit: $unit, doc: $doc }, )*
        ];

        /// Every feature in column order.
        pub const ALL: &[Feature] = &[ $( Feature::$variant, )* ];
    };
}

features! {
    TauS => ("tau_s", Window, "s", "Time left in the window: end − now."),
    TauFrac => ("tau_frac", Window, "0..1", "Time left as a fraction of the window's length."),
    TodSin => ("tod_sin", Window, "-1..1", "sin(2π · UTC time of day / 24 h) of now (intraday pattern)."),
    TodCos => ("tod_cos", Window, "-1..1", "cos(2π · UTC time of day / 24 h) of now."),
    RetSinceOpen => ("ret_since_open", Reference, "log return", "ln(S/K): reference spot S over the strike K (the window's strike, else the reference at the window start, polyedge_model::online)."),
    DistSigma => ("dist_sigma", Reference, "σ√τ units", "ln(S/K) / (σ·√τ) with σ² the reference's per-second variance (EWMA, lookback 900 s) and τ the time left: the distance to the strike in standard deviations of the remaining move (d2 without the drift term)."),
    SigmaAnn => ("sigma_ann", Reference, "annualized", "σ of the reference series, annualized over a 365-day year (EWMA of per-second squared log returns)."),
    BsPUp => ("bs_p_up", Reference, "0..1", "Black–Scholes digital P(Up) = N(d2) of polyedge_model::online (the fair_value strategy's and calibrate's model)."),
    RefAgeS => ("ref_age_s", Reference, "s", "Age of the reference spot: now − its price time."),
    Mom30 => ("mom_30s", Reference, "log return", "ln(p(now)/p(now − 30 s)) on the reference series (p(x): last point with price time ≤ x)."),
    Mom60 => ("mom_60s", Reference, "log return", "ln(p(now)/p(now − 60 s)) on the reference series."),
    Mom120 => ("mom_120s", Reference, "log return", "ln(p(now)/p(now − 120 s)) on the reference series."),
    R2_30 => ("r2_30s", Reference, "0..1", "R² of a least-squares line through price vs time over the reference points of the last 30 s (≥ 5 points; seed 004 fits prices)."),
    R2_60 => ("r2_60s", Reference, "0..1", "R² of the line over the last 60 s (≥ 5 points)."),
    R2_120 => ("r2_120s", Reference, "0..1", "R² of the line over the last 120 s (≥ 5 points)."),
    R2SinceOpen => ("r2_since_open", Reference, "0..1", "R² of the line over the points since the window start (seed 004's momentum consistency; ≥ 5 points)."),
    RangeSinceOpen => ("range_since_open", Reference, "fraction", "(high − low)/K of the reference points since the window start (seed 004's volatility)."),
    Rsi7 => ("rsi_7", Candles, "0..100", "RSI(7) of 1-minute closes, Wilder's smoothing (RMA, α = 1/7); present after 7 closes."),
    Rsi14 => ("rsi_14", Candles, "0..100", "RSI(14), as rsi_7; present after 14 closes."),
    Rsi30 => ("rsi_30", Candles, "0..100", "RSI(30), as rsi_7; present after 30 closes."),
    MacdRel => ("macd_rel", Candles, "fraction", "MACD line (EMA12 − EMA26 of closes) / close; present after 26 closes."),
    MacdSignalRel => ("macd_signal_rel", Candles, "fraction", "MACD signal line (EMA9 of the MACD line) / close; present after 34 closes."),
    MacdHistRel => ("macd_hist_rel", Candles, "fraction", "(MACD − signal) / close; present after 34 closes."),
    StochK14 => ("stoch_k_14", Candles, "0..100", "Stochastic %K(14): 100·(close − lowest low)/(highest high − lowest low) over 14 candles."),
    BbPctB20 => ("bb_pct_b_20", Candles, "fraction", "Bollinger %B(20, 2): (close − (SMA20 − 2s))/(4s), s the sample standard deviation of the last 20 closes."),
    AtrRel14 => ("atr_14_rel", Candles, "fraction", "ATR(14) / close: Wilder's RMA (α = 1/14) of the true range; present after 15 candles."),
    Ema9v21 => ("ema_9_21_rel", Candles, "fraction", "(EMA9 − EMA21)/close of 1-minute closes; present after 21 closes."),
    Trend1h => ("trend_1h", Candles, "log return", "ln(close now / close 60 candles ago): the 1-hour trend (seed 000 uses its sign)."),
    Aggr30 => ("aggr_ratio_30s", Trades, "0..1", "Taker-buy volume / total volume of Binance trades in the last 30 s."),
    Aggr60 => ("aggr_ratio_60s", Trades, "0..1", "Taker-buy volume / total volume in the last 60 s."),
    Aggr120 => ("aggr_ratio_120s", Trades, "0..1", "Taker-buy volume / total volume in the last 120 s."),
    Cvd60 => ("cvd_60s", Trades, "base units", "Cumulative volume delta: taker-buy − taker-sell volume in the last 60 s (BTC for BTC)."),
    Volume60 => ("volume_60s", Trades, "base units", "Traded volume in the last 60 s."),
    VwapDev300 => ("vwap_dev_bp_300s", Trades, "bp", "(last trade price − VWAP of the last 300 s) / VWAP × 10⁴."),
    DepthImbL5 => ("depth_imb_l1_5", SpotBook, "0..1", "Σ bid qty / (Σ bid + Σ ask qty) over levels 1–5 of the local Binance spot book (seed 000's order_flow_imbalance_L5)."),
    DepthImbL10 => ("depth_imb_l6_10", SpotBook, "0..1", "The same over levels 6–10."),
    SpotSpreadBp => ("spot_spread_bp", SpotBook, "bp", "(best ask − best bid) / mid × 10⁴ of the local spot book."),
    VwapBidDev => ("book_vwap_bid_bp", SpotBook, "bp", "(mid − VWAP of bid levels 1–10) / mid × 10⁴."),
    VwapAskDev => ("book_vwap_ask_bp", SpotBook, "bp", "(VWAP of ask levels 1–10 − mid) / mid × 10⁴."),
    Ofi60 => ("ofi_60s", SpotBook, "base units", "Order-flow imbalance of Cont, Kukanov & Stoikov (2014) summed over the last 60 s of best-level changes of the local spot book."),
    LiqImb60 => ("liq_imb_60s", Derivatives, "base units", "Long − short liquidated quantity on Binance USDⓈ-M in the last 60 s (a SELL forceOrder liquidates a long); present while mark-price updates arrive (≤ 60 s old)."),
    Funding => ("funding_rate", Derivatives, "fraction", "Last Binance USDⓈ-M funding rate (per funding interval); present ≤ 60 s old."),
    MarkBasisBp => ("mark_basis_bp", Derivatives, "bp", "(mark − index)/index × 10⁴ of the last USDⓈ-M mark-price update; present ≤ 60 s old."),
    Dvol => ("dvol", Derivatives, "vol points", "Last Deribit DVOL of the asset (annualized implied volatility, %); present ≤ 120 s old."),
    PmUpMid => ("pm_up_mid", Polymarket, "0..1", "Up mid of the window's books (fresher token, mirrored; missing if no book, one-sided, crossed or > 5 s old — calibrate's rules)."),
    PmUpSpread => ("pm_up_spread", Polymarket, "dollars", "Up best ask − best bid."),
    PmUpImb5 => ("pm_up_imb_l1_5", Polymarket, "0..1", "Σ bid size / (Σ bid + Σ ask size) over the top 5 levels of the Up book view."),
    PmDownImb5 => ("pm_down_imb_l1_5", Polymarket, "0..1", "The same for the Down book view."),
    PmUpMicro => ("pm_up_micro", Polymarket, "0..1", "Up microprice (bid·ask_size + ask·bid_size)/(bid_size + ask_size) of the best levels."),
    PmDownMicro => ("pm_down_micro", Polymarket, "0..1", "Down microprice."),
    PmBookAgeS => ("pm_book_age_s", Polymarket, "s", "Age of the window's freshest book update."),
    ConsDevBp => ("consensus_dev_bp", Consensus, "bp", "(consensus − reference spot)/reference × 10⁴; consensus = median of the fresh (≤ 5 s) Binance spot, Coinbase and Chainlink prices (≥ 2 needed)."),
    ConsSpreadBp => ("consensus_spread_bp", Consensus, "bp", "(max − min)/median × 10⁴ of the fresh consensus inputs (≥ 2 needed)."),
    ConsDivergent => ("consensus_divergent", Consensus, "0/1", "1 when consensus_spread_bp > 10 bp (seed 004's divergence flag), else 0; missing with < 2 inputs."),
    ConsN => ("consensus_n", Consensus, "count", "Number of fresh consensus inputs (0–3; always present)."),
}

/// Number of features.
pub const N_FEATURES: usize = FEATURES.len();

// The presence mask is a u64.
const _: () = assert!(N_FEATURES <= 64);

/// Version of the schema: bump when a definition changes without its name changing, so that
/// models trained on the old definition refuse the new vectors.
pub const SCHEMA_VERSION: u32 = 1;

impl Feature {
    /// The definition.
    pub const fn info(self) -> &'static FeatureInfo {
        &FEATURES[self as usize]
    }

    /// Column name.
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// Column index.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The column names in order.
pub fn schema_names() -> Vec<&'static str> {
    FEATURES.iter().map(|f| f.name).collect()
}

/// A stable identifier of the schema: `v<SCHEMA_VERSION>:` followed by FNV-1a 64 of the names
/// separated by the byte 0xFF (hex). Two schemas with the same hash have the same columns in the same order
/// and the same definition version.
pub fn schema_hash() -> String {
    hash_names(SCHEMA_VERSION, FEATURES.iter().map(|f| f.name))
}

/// [`schema_hash`] of arbitrary names (for models that carry their own list).
pub fn hash_names<'a>(version: u32, names: impl IntoIterator<Item = &'a str>) -> String {
    // FNV-1a, 64-bit (Fowler–Noll–Vo): offset basis and prime from the reference.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut first = true;
    for n in names {
        if !first {
            // 0xFF never occurs in UTF-8, so no name can imitate the separator.
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        first = false;
        for b in n.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("v{version}:{h:016x}")
}

/// One value per feature (`NaN` when missing) and a presence bit per feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureVector {
    values: [f64; N_FEATURES],
    present: u64,
}

impl Default for FeatureVector {
    fn default() -> Self {
        FeatureVector {
            values: [f64::NAN; N_FEATURES],
            present: 0,
        }
    }
}

impl FeatureVector {
    /// Sets `f` to `v` if `v` is finite (present); a non-finite `v` leaves it missing.
    pub fn set(&mut self, f: Feature, v: f64) {
        if v.is_finite() {
            self.values[f.index()] = v;
            self.present |= 1 << f.index();
        } else {
            self.values[f.index()] = f64::NAN;
            self.present &= !(1 << f.index());
        }
    }

    /// Sets `f` from an option (`None` = missing).
    pub fn set_opt(&mut self, f: Feature, v: Option<f64>) {
        self.set(f, v.unwrap_or(f64::NAN));
    }

    /// The value of `f`, `None` when missing.
    pub fn get(&self, f: Feature) -> Option<f64> {
        self.is_present(f).then(|| self.values[f.index()])
    }

    /// Whether `f` is present.
    pub fn is_present(&self, f: Feature) -> bool {
        self.present & (1 << f.index()) != 0
    }

    /// All values in column order (`NaN` where missing).
    pub fn values(&self) -> &[f64; N_FEATURES] {
        &self.values
    }

    /// Presence bits (bit `i` = column `i`).
    pub fn present_mask(&self) -> u64 {
        self.present
    }

    /// Number of present features.
    pub fn count_present(&self) -> u32 {
        self.present.count_ones()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_indexed_in_order() {
        let mut seen = std::collections::HashSet::new();
        for (i, f) in ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            let n = f.name();
            assert!(seen.insert(n), "duplicate {n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{n}"
            );
            assert!(!f.info().doc.is_empty());
        }
        assert_eq!(ALL.len(), N_FEATURES);
    }

    #[test]
    fn missing_is_nan_and_not_present() {
        let mut v = FeatureVector::default();
        assert_eq!(v.count_present(), 0);
        assert!(v.values().iter().all(|x| x.is_nan()));
        v.set(Feature::Rsi14, 0.0);
        assert_eq!(v.get(Feature::Rsi14), Some(0.0));
        v.set(Feature::Rsi14, f64::INFINITY);
        assert_eq!(v.get(Feature::Rsi14), None);
        assert!(v.values()[Feature::Rsi14.index()].is_nan());
    }

    #[test]
    fn schema_hash_changes_with_names_and_version() {
        let a = hash_names(1, ["a", "b"]);
        assert_ne!(a, hash_names(1, ["b", "a"]));
        assert_ne!(a, hash_names(2, ["a", "b"]));
        assert_ne!(a, hash_names(1, ["a,b"]));
        assert_eq!(schema_hash(), hash_names(SCHEMA_VERSION, schema_names()));
    }
}
