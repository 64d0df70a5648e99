//! # polyedge-features
//!
//! The online feature engine of the directional strategy (issue 13): one definition per
//! feature, updated per [`MarketEvent`](polyedge_core::MarketEvent) in receive order, with no
//! look-ahead, and the same code in backtest, shadow, paper and live — it only sees the events
//! fed to it and the window as the engine shows it to strategies.
//!
//! - [`schema`] — the feature list ([`Feature`], [`FEATURES`]): names, groups, units and
//!   definitions; [`FeatureVector`] (`NaN` + a presence bit for a missing input, never 0);
//!   [`schema_hash`] for models that must refuse a different schema.
//! - [`engine`] — [`FeatureEngine`]: `on_event` for every event, `snapshot(window, at)` for a
//!   window's features at an instant; gap markers drop the derived state of their stream.
//! - [`candles`] — 1-minute candles (trades, klines or reference ticks) and the indicators
//!   (RSI 7/14/30, MACD, stochastic, Bollinger %B, ATR, EMA 9/21, 1 h trend) on [`yata`]'s
//!   O(1) methods.
//! - [`spot_book`] — the local Binance depth book from recorded diffs and REST snapshots.
//! - [`flow`] — trade flow (aggressor ratio, CVD, volume, VWAP) and liquidations.
//! - [`rolling`] — trailing-window sums in one-second buckets.
//!
//! The inputs, definitions and what the shared recordings can supply: `docs/features.md`.
//!
//! # Example
//! ```
//! use polyedge_core::{Asset, Window, WindowDuration, UnixNanos};
//! use polyedge_features::{Feature, FeatureEngine};
//! use polyedge_model::online::OnlineConfig;
//!
//! let mut engine = FeatureEngine::new(&OnlineConfig::default())?;
//! let w = Window::new("btc-updown-5m-1776000000", Asset::Btc, WindowDuration::M5, 1_776_000_000);
//! engine.add_window(&w);
//! // … engine.on_event(&event) for every event in receive order …
//! let snap = engine.snapshot(&w, UnixNanos::from_secs(1_776_000_060));
//! assert_eq!(snap.features.get(Feature::TauS), Some(240.0));
//! assert_eq!(snap.features.get(Feature::BsPUp), None); // no reference price fed: missing
//! # Ok::<(), polyedge_model::ModelError>(())
//! ```

pub mod candles;
pub mod engine;
pub mod flow;
pub mod rolling;
pub mod schema;
pub mod spot_book;

pub use engine::{CandleSource, EngineStats, FeatureEngine, Snapshot, SnapshotMeta};
pub use schema::{
    ALL, FEATURES, Feature, FeatureInfo, FeatureVector, Group, N_FEATURES, SCHEMA_VERSION,
    hash_names, schema_hash, schema_names,
};
