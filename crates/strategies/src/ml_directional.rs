//! Directional model: trade the outcome a trained classifier favours when its calibrated
//! confidence is high enough, post-only one tick inside the ask, or as a taker when it is very
//! confident late in the window; one position per window; paused when its rolling accuracy fails.
//!
//! **Idea** (seeds): `poly-edge-sprint-plan.md` Sprint 6, "Directional Strategy": "If
//! confidence above 0.58 … PostOnly buy YES at best_ask − $0.01 … If confidence above 0.65 AND
//! seconds_remaining under 120: FOK taker order instead. One position per window max. Hold to
//! resolution." Sizing quarter-Kelly, "edge = model_confidence − market_price, kelly_fraction =
//! edge / (1 − market_price)". "Rolling 100-window accuracy counter. If accuracy drops below 50%
//! for 50+ windows: pause strategy." The seed polls its model every 3 s.
//!
//! **Model and features.** The model is a file written by `polyedge train` (`docs/features.md`
//! §4): a gradient-boosted ensemble with its isotonic calibration, checked at load against the
//! feature schema of this build ([`DirectionalModel::load_for_engine`]; another schema is
//! refused, naming the first difference). The features come from a
//! [`FeatureEngine`] the strategy feeds every market event it receives — the same code
//! `polyedge features` builds the training rows with, so backtest, shadow, paper and live compute
//! them identically and cannot see ahead. The Polymarket book features are read from the
//! engine's own book of the window ([`FeatureEngine::snapshot_with_book`]).
//!
//! **Rule.** At most every `decide_every_ms` per window (on an event bearing on it), while the
//! time left is inside the span the model was trained on (its decision times, e.g. 240 … 30 s):
//! the model gives `P(Up)`; the favoured outcome is Up when `P(Up) ≥ 0.5`, with confidence
//! `p = max(P(Up), 1 − P(Up))`. Below `maker_confidence` nothing is done (`low_confidence`).
//! Otherwise:
//! * with `p ≥ taker_confidence` and at most `taker_max_time_left_s` left: a FAK buy at the worst
//!   ask whose edge `p − price − taker fee` is above `min_edge_bps` (the seed's FOK taker; FAK so
//!   that a partly visible depth still fills what it can), sized on the all-in cost of that level;
//! * else a post-only GTC buy one tick inside the best ask (maker: no fee under CLOB V2,
//!   protocols.md §7), if `p − price` is above `min_edge_bps`.
//!
//! Size: `kelly_fraction × f* × bankroll`, `f* = (p − c)/(1 − c)` at the all-in cost `c`
//! ([`crate::sizing`]), capped by the per-trade and per-window limits (and by visible depth for
//! the taker). A working maker order is cancelled when the model turns to the other outcome or
//! below the threshold, or after `maker_ttl_s`; a window where the strategy holds shares is done
//! (`entries_used`), and so is one where the risk check refused its order (`risk_refused`: the
//! same order would be refused again). Each order carries `p` as its fair value.
//!
//! **Rolling accuracy.** The first confident prediction of each window (the side it would buy)
//! is scored when the window resolves. Once `pause_min_windows` windows are scored, an accuracy of
//! the last `accuracy_window` below `pause_below` pauses the strategy for the rest of the run:
//! working orders are cancelled, every later decision is skipped as `paused`.
//!
//! **Limitations.** The model is only as good as the data it was trained on: on the shared
//! recordings that is a few hundred BTC 5-minute windows with coarse spot data
//! (`docs/features.md` §5). Decisions outside the trained decision times are not made.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::path::PathBuf;

use polyedge_core::{
    ExecReport, MarketEvent, OrderId, OrderIntent, Outcome, Price, RejectReason, Side, Size,
    TimeInForce, UnixNanos, Window,
};
use polyedge_features::FeatureEngine;
use polyedge_ml::DirectionalModel;
use polyedge_model::OnlineConfig;
use serde::{Deserialize, Serialize};

use crate::sizing::{
    SizingParams, accepted_asks, fee_per_share, open_buy_shares, price_of_prob, tick_size,
};
use crate::{Ctx, Signal, Strategy, WindowPhase, affected_windows, skip};

/// Parameters (serde/TOML: every field optional except `model`; `[sizing]` is a sub-table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlDirectionalParams {
    /// The model file written by `polyedge train` (a path, relative to the working directory).
    /// Required.
    pub model: Option<PathBuf>,
    /// Sizing (quarter-Kelly, capped; [`SizingParams`]).
    pub sizing: SizingParams,
    /// Least confidence for a post-only entry (default 0.58, the seed's).
    pub maker_confidence: f64,
    /// Least confidence for a taker entry (default 0.65, the seed's).
    pub taker_confidence: f64,
    /// Taker entries only with at most this many seconds left (default 120, the seed's).
    pub taker_max_time_left_s: u64,
    /// Shortest interval between two decisions on a window, milliseconds (default 3 000: the
    /// seed asks its model every 3 s).
    pub decide_every_ms: u64,
    /// No decisions with more than this many seconds left (default: the model's longest
    /// decision time).
    pub max_time_left_s: Option<u64>,
    /// No decisions with less than this many seconds left (default: the model's shortest
    /// decision time).
    pub min_time_left_s: Option<u64>,
    /// Least edge per share over the all-in cost, basis points of the $1 payout (default 0: the
    /// seed trades on confidence and lets Kelly size the edge).
    pub min_edge_bps: u32,
    /// A working maker order is cancelled after this many seconds (default 30).
    pub maker_ttl_s: u64,
    /// Windows in the rolling accuracy (default 100, the seed's).
    pub accuracy_window: usize,
    /// Scored windows needed before the accuracy can pause the strategy (default 50).
    pub pause_min_windows: usize,
    /// Pause when the rolling accuracy is below this (default 0.50).
    pub pause_below: f64,
    /// Append the features and `P(Up)` of every decision tick inside the trained span (traded,
    /// skipped or after the window's entry) as JSON lines to this file (created or truncated at
    /// start; for checks and research; default none).
    pub feature_log: Option<PathBuf>,
}

impl Default for MlDirectionalParams {
    fn default() -> Self {
        MlDirectionalParams {
            model: None,
            sizing: SizingParams::default(),
            maker_confidence: 0.58,
            taker_confidence: 0.65,
            taker_max_time_left_s: 120,
            decide_every_ms: 3_000,
            max_time_left_s: None,
            min_time_left_s: None,
            min_edge_bps: 0,
            maker_ttl_s: 30,
            accuracy_window: 100,
            pause_min_windows: 50,
            pause_below: 0.50,
            feature_log: None,
        }
    }
}

/// Why [`MlDirectional::new`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MlDirectionalError {
    /// No `model` parameter.
    #[error(
        "`model` is required: the model file written by `polyedge train` (e.g. model = \"ds/model.json\")"
    )]
    NoModel,
    /// The model file could not be loaded or does not fit this build's features.
    #[error("model {path}: {source}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: polyedge_ml::MlError,
    },
    /// A parameter is out of range.
    #[error("{0}")]
    Param(String),
    /// The feature log could not be created.
    #[error("feature_log {path}: {source}")]
    FeatureLog {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Per-window state.
#[derive(Debug, Clone, Default)]
struct WinState {
    /// Earliest time of the next decision.
    next_at: UnixNanos,
    /// The side of the window's first confident prediction (scored at resolution).
    first_signal: Option<Outcome>,
    /// When the working order (if any) was sent.
    order_at: UnixNanos,
    /// The risk check refused an order here: no more entries in this window.
    refused: bool,
}

/// The directional-model strategy. See the module docs.
pub struct MlDirectional {
    params: MlDirectionalParams,
    model: DirectionalModel,
    features: FeatureEngine,
    /// Decisions only with time left in `[min_left, max_left]` (ns).
    min_left: u64,
    max_left: u64,
    windows: BTreeMap<String, WinState>,
    /// The window of each order sent (to find it again from a report).
    orders: BTreeMap<OrderId, String>,
    scored: VecDeque<bool>,
    paused: bool,
    log: Option<std::fs::File>,
}

impl std::fmt::Debug for MlDirectional {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlDirectional")
            .field("params", &self.params)
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

impl MlDirectional {
    /// A strategy with `params`: loads and checks the model file.
    ///
    /// # Errors
    /// No model, a model that does not load or fits another feature schema, parameters out of
    /// range, an uncreatable feature log.
    pub fn new(params: MlDirectionalParams) -> Result<Self, MlDirectionalError> {
        let path = params.model.clone().ok_or(MlDirectionalError::NoModel)?;
        let model = DirectionalModel::load_for_engine(&path)
            .map_err(|source| MlDirectionalError::Model { path, source })?;
        Self::with_model(params, model)
    }

    /// As [`MlDirectional::new`] with a model already loaded (`params.model` is not read).
    ///
    /// # Errors
    /// Parameters out of range, an uncreatable feature log.
    pub fn with_model(
        params: MlDirectionalParams,
        model: DirectionalModel,
    ) -> Result<Self, MlDirectionalError> {
        let bad = |m: &str| Err(MlDirectionalError::Param(m.to_string()));
        let p = &params;
        if !(p.maker_confidence > 0.5 && p.maker_confidence < 1.0) {
            return bad("maker_confidence must be in (0.5, 1)");
        }
        if !(p.taker_confidence >= p.maker_confidence && p.taker_confidence <= 1.0) {
            return bad("taker_confidence must be in [maker_confidence, 1]");
        }
        if p.decide_every_ms == 0 {
            return bad("decide_every_ms must be positive");
        }
        if !(0.0..=1.0).contains(&p.pause_below) {
            return bad("pause_below must be in [0, 1]");
        }
        if p.accuracy_window > 0 && p.pause_min_windows > p.accuracy_window {
            return bad("pause_min_windows must not exceed accuracy_window");
        }
        let times = &model.doc().training.decision_times_s;
        let min_left = p
            .min_time_left_s
            .or_else(|| times.iter().min().map(|&t| u64::from(t)))
            .unwrap_or(30);
        let max_left = p
            .max_time_left_s
            .or_else(|| times.iter().max().map(|&t| u64::from(t)))
            .unwrap_or(240);
        if min_left > max_left {
            return bad("min_time_left_s must not exceed max_time_left_s");
        }
        let log = match &p.feature_log {
            None => None,
            Some(path) => Some(std::fs::File::create(path).map_err(|source| {
                MlDirectionalError::FeatureLog {
                    path: path.clone(),
                    source,
                }
            })?),
        };
        let features = FeatureEngine::new(&OnlineConfig::default())
            .map_err(|e| MlDirectionalError::Param(format!("feature engine: {e}")))?;
        Ok(MlDirectional {
            min_left: min_left * UnixNanos::PER_SEC,
            max_left: max_left * UnixNanos::PER_SEC,
            params,
            model,
            features,
            windows: BTreeMap::new(),
            orders: BTreeMap::new(),
            scored: VecDeque::new(),
            paused: false,
            log,
        })
    }

    /// Whether the rolling accuracy paused the strategy.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The rolling accuracy of the scored windows (`None` before any is scored).
    pub fn accuracy(&self) -> Option<f64> {
        (!self.scored.is_empty())
            .then(|| self.scored.iter().filter(|&&ok| ok).count() as f64 / self.scored.len() as f64)
    }

    fn write_log(&mut self, w: &Window, at: UnixNanos, p_up: Option<f64>, values: &[f64]) {
        let Some(file) = &mut self.log else { return };
        // NaN (missing) serializes as null.
        let line = serde_json::json!({
            "at": at.0,
            "window": w.slug,
            "p_up": p_up,
            "features": values,
        });
        // One write per line; a failing diagnostic log must not stop trading.
        let _ = writeln!(file, "{line}");
    }

    /// The model's calibrated `P(Up)` for `w` now (`None`: not finite or the model refused the
    /// row), its features written to the feature log when there is one.
    fn evaluate(
        &mut self,
        w: &Window,
        now: UnixNanos,
        book: Option<&polyedge_core::WindowBook>,
    ) -> Option<f64> {
        let snap = self.features.snapshot_with_book(w, now, book);
        let values = snap.features.values();
        let p_up = self.model.predict(values).ok().filter(|x| x.is_finite());
        self.write_log(w, now, p_up, values);
        p_up
    }

    #[allow(clippy::too_many_lines)] // one decision, read top to bottom
    fn decide(&mut self, ctx: &mut Ctx<'_>, slug: &str) {
        let now = ctx.now();
        let Some(w) = ctx.view().window(slug).cloned() else {
            return;
        };
        let view = ctx.view();
        let held = [Outcome::Up, Outcome::Down]
            .iter()
            .any(|&o| !view.position(slug, o).is_zero());
        let working = view
            .open_orders()
            .iter()
            .find(|o| o.window == slug)
            .cloned();
        let left = w.end.saturating_sub(now);
        let in_span = (self.min_left..=self.max_left).contains(&left);
        // Why not to trade now, in order, and whether working orders go.
        let stop = if held {
            Some((skip::ENTRIES_USED, false))
        } else if self.windows.get(slug).is_some_and(|s| s.refused) {
            Some((skip::RISK_REFUSED, false))
        } else if self.paused {
            Some((skip::PAUSED, true))
        } else if left > self.max_left {
            Some((skip::TOO_EARLY, false))
        } else if left < self.min_left {
            Some((skip::TOO_LATE, true))
        } else {
            None
        };
        if let Some((reason, cancel)) = stop {
            // The feature log covers every decision tick inside the trained span, traded or not.
            if in_span && self.log.is_some() {
                self.evaluate(&w, now, ctx.view().book(slug));
            }
            if cancel {
                ctx.cancel_window(slug);
            }
            return ctx.skip(slug, reason);
        }
        let p_up = self.evaluate(&w, now, ctx.view().book(slug));
        let Some(p_up) = p_up else {
            return ctx.skip(slug, skip::MODEL_ERROR);
        };
        let (outcome, conf) = if p_up >= 0.5 {
            (Outcome::Up, p_up)
        } else {
            (Outcome::Down, 1.0 - p_up)
        };
        let p = &self.params;
        let state = self.windows.entry(slug.to_string()).or_default();
        if let Some(o) = working {
            let stale = now.saturating_sub(state.order_at) >= p.maker_ttl_s * UnixNanos::PER_SEC;
            if stale || o.outcome != outcome || conf < p.maker_confidence {
                ctx.cancel_window(slug);
            }
            return ctx.skip(slug, skip::ORDER_WORKING);
        }
        let view = ctx.view();
        let Some(book) = view.book(slug) else {
            return ctx.skip(slug, skip::NO_BOOK);
        };
        let Some(ask) = book.best_ask(outcome).map(|l| l.level.price) else {
            return ctx.skip(slug, skip::NO_QUOTE);
        };
        let fair = price_of_prob(conf);
        let signal = |price: Price| Signal {
            outcome,
            side: Side::Buy,
            price,
            fair_value: Some(fair),
        };
        if conf < p.maker_confidence {
            return ctx.skip_signal(slug, skip::LOW_CONFIDENCE, signal(ask));
        }
        state.first_signal.get_or_insert(outcome);
        let min_edge = f64::from(p.min_edge_bps) / 1e4;
        let fees = view.fee_schedule(slug);
        let taker =
            conf >= p.taker_confidence && left <= p.taker_max_time_left_s * UnixNanos::PER_SEC;
        let (price, cost, depth, tif, post_only) = if taker {
            let edge_at = |px: Price| conf - px.to_f64() - fee_per_share(fees, px);
            let Some((limit, depth)) =
                accepted_asks(view, slug, outcome, |px| edge_at(px) > min_edge)
            else {
                return ctx.skip_signal(slug, skip::EDGE_BELOW_THRESHOLD, signal(ask));
            };
            let cost = limit.to_f64() + fee_per_share(fees, limit);
            (limit, cost, depth, TimeInForce::Fak, false)
        } else {
            let tick = tick_size(view, slug).micros();
            let Some(price) = ask
                .micros()
                .checked_sub(tick)
                .filter(|&m| m >= tick)
                .and_then(|m| Price::from_micros(m).ok())
            else {
                return ctx.skip_signal(slug, skip::NO_QUOTE, signal(ask));
            };
            if conf - price.to_f64() <= min_edge {
                return ctx.skip_signal(slug, skip::EDGE_BELOW_THRESHOLD, signal(price));
            }
            // A resting order is not limited by the visible depth.
            let depth = Size::from_shares(p.sizing.max_window_shares);
            (price, price.to_f64(), depth, TimeInForce::Gtc, true)
        };
        let stake = p.sizing.kelly_stake(view, conf, cost);
        let Some(size) = p
            .sizing
            .size_buy(view, slug, outcome, price, cost, stake, depth)
        else {
            return ctx.skip_signal(slug, skip::SIZE_BELOW_MIN, signal(price));
        };
        debug_assert!(open_buy_shares(view, slug, outcome).is_zero());
        state.order_at = now;
        let id = ctx.submit_with_fair_value(
            OrderIntent {
                id: OrderId(0),
                window: slug.to_string(),
                outcome,
                side: Side::Buy,
                price,
                size: Size::from_shares(size.shares),
                tif,
                post_only,
            },
            fair,
        );
        self.orders.insert(id, slug.to_string());
    }

    fn score(&mut self, slug: &str, outcome: Outcome) {
        let Some(side) = self.windows.get(slug).and_then(|s| s.first_signal) else {
            return;
        };
        let p = &self.params;
        if p.accuracy_window == 0 {
            return;
        }
        self.scored.push_back(side == outcome);
        while self.scored.len() > p.accuracy_window {
            self.scored.pop_front();
        }
        if self.scored.len() >= p.pause_min_windows.max(1)
            && self.accuracy().is_some_and(|a| a < p.pause_below)
        {
            self.paused = true;
        }
    }
}

impl Strategy for MlDirectional {
    fn name(&self) -> &'static str {
        "ml_directional"
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ev: &MarketEvent) {
        self.features.on_event(ev);
        let now = ctx.now();
        let step = self.params.decide_every_ms * UnixNanos::PER_MS;
        for slug in affected_windows(ctx.view(), ev) {
            let next_at = UnixNanos(now.0.saturating_add(step));
            match self.windows.get_mut(&slug) {
                Some(state) if now < state.next_at => continue,
                Some(state) => state.next_at = next_at,
                None => {
                    self.windows.insert(
                        slug.clone(),
                        WinState {
                            next_at,
                            ..WinState::default()
                        },
                    );
                }
            }
            self.decide(ctx, &slug);
        }
    }

    fn on_report(&mut self, _ctx: &mut Ctx<'_>, report: &ExecReport) {
        if let ExecReport::Rejected {
            order,
            reason: RejectReason::Risk(_),
            ..
        } = report
            && let Some(slug) = self.orders.get(order)
            && let Some(state) = self.windows.get_mut(slug)
        {
            state.refused = true;
        }
    }

    fn on_window(&mut self, _ctx: &mut Ctx<'_>, window: &Window, phase: WindowPhase) {
        if let WindowPhase::Resolved(outcome) = phase {
            if let Some(o) = outcome {
                self.score(&window.slug, o);
            }
            self.windows.remove(&window.slug);
            self.orders.retain(|_, slug| *slug != window.slug);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> DirectionalModel {
        let xs: Vec<f64> = (0..100).map(|i| f64::from(i) - 49.5).collect();
        let up: Vec<bool> = xs.iter().map(|&x| x > 0.0).collect();
        DirectionalModel::one_feature(4, &xs, &up, vec![200, 50]).unwrap()
    }

    #[test]
    fn rolling_accuracy_pauses_below_the_floor_once_enough_windows_are_scored() {
        let params = MlDirectionalParams {
            accuracy_window: 10,
            pause_min_windows: 6,
            ..MlDirectionalParams::default()
        };
        let mut s = MlDirectional::with_model(params, model()).unwrap();
        // The decision span comes from the model's decision times.
        assert_eq!(
            (s.min_left, s.max_left),
            (50 * UnixNanos::PER_SEC, 200 * UnixNanos::PER_SEC)
        );
        let resolve = |s: &mut MlDirectional, i: usize, right: bool| {
            let slug = format!("w{i}");
            s.windows.insert(
                slug.clone(),
                WinState {
                    first_signal: Some(Outcome::Up),
                    ..WinState::default()
                },
            );
            s.score(&slug, if right { Outcome::Up } else { Outcome::Down });
        };
        // 3 right, 2 wrong: 60 %; then 3 wrong → 3/8 < 50 % with ≥ 6 scored: paused.
        for (i, right) in [true, true, true, false, false].into_iter().enumerate() {
            resolve(&mut s, i, right);
        }
        assert_eq!(s.accuracy(), Some(0.6));
        assert!(!s.paused());
        resolve(&mut s, 5, false);
        // 3/6 = 50 %: not below the floor.
        assert!(!s.paused(), "{:?}", s.accuracy());
        resolve(&mut s, 6, false);
        assert!(s.paused());
        // A window without a confident prediction is not scored.
        let before = s.scored.len();
        s.score("never-seen", Outcome::Up);
        assert_eq!(s.scored.len(), before);
        // The window is capped at accuracy_window.
        for i in 10..30 {
            resolve(&mut s, i, true);
        }
        assert_eq!(s.scored.len(), 10);
        assert_eq!(s.accuracy(), Some(1.0));
        assert!(s.paused(), "a pause lasts the run");
    }

    #[test]
    fn refuses_bad_parameters_and_a_missing_model() {
        let err = MlDirectional::new(MlDirectionalParams::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`model` is required"), "{err}");
        let err = MlDirectional::new(MlDirectionalParams {
            model: Some("/nonexistent/model.json".into()),
            ..MlDirectionalParams::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("/nonexistent/model.json"), "{err}");
        for (bad, what) in [
            (
                MlDirectionalParams {
                    maker_confidence: 0.5,
                    ..MlDirectionalParams::default()
                },
                "maker_confidence",
            ),
            (
                MlDirectionalParams {
                    taker_confidence: 0.55,
                    ..MlDirectionalParams::default()
                },
                "taker_confidence",
            ),
            (
                MlDirectionalParams {
                    decide_every_ms: 0,
                    ..MlDirectionalParams::default()
                },
                "decide_every_ms",
            ),
            (
                MlDirectionalParams {
                    min_time_left_s: Some(300),
                    ..MlDirectionalParams::default()
                },
                "min_time_left_s",
            ),
        ] {
            let err = MlDirectional::with_model(bad, model())
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(what), "{err}");
        }
    }

    #[test]
    fn a_model_of_another_feature_schema_is_refused_naming_the_difference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        model().save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"tau_s\"", "\"tau_ms\"", 1)).unwrap();
        let t: toml::Table =
            toml::from_str(&format!("model = {:?}", path.display().to_string())).unwrap();
        let err = crate::registry::build("ml_directional", Some(&t))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("tau_ms") && err.contains("retrain"), "{err}");
    }
}
