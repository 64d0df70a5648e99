//! How sure is a figure? Confidence intervals, a test against the random twin, and tail risk,
//! all computed from a strategy's **per-window PnL** over every window of the run (start order;
//! 0 for windows it did not trade).
//!
//! # Confidence intervals: circular block bootstrap over windows
//! Net PnL, return, per-window Sharpe and window win rate get a 95 % percentile interval from a
//! **circular moving-block bootstrap** (Künsch, "The jackknife and the bootstrap for general
//! stationary observations", Ann. Statist. 17(3), 1989; circular variant: Politis & Romano, "A
//! circular block-resampling procedure for stationary data", 1992): a resample of the `n`
//! windows is built from blocks of `ℓ = ⌈n^{1/3}⌉` consecutive windows (wrapping around the end)
//! starting at uniformly drawn windows, until it holds `n` windows; each figure is recomputed on
//! it. Blocks keep neighbouring windows together, so short-range dependence between consecutive
//! windows (a trending hour, a daily loss limit carried over) stays in the resamples; `n^{1/3}`
//! is the order of the MSE-optimal block length for variance estimation (Hall, Horowitz & Jing,
//! Biometrika 82(3), 1995). [`RESAMPLES`] = 2 000 resamples; the interval is the
//! 2.5 % and 97.5 % quantiles of the resampled figures (statrs' `quantile`, Hyndman & Fan type 8).
//! A resample in which a figure is undefined (no settled traded window for the win rate, zero
//! variance for the Sharpe) is left out of that figure's interval; when more than half are, the
//! interval is `None`.
//!
//! The random numbers come from ChaCha8 seeded from the run's seed mixed with the strategy's
//! name ([`stream_seed`]), so the same run gives the same intervals, byte for byte.
//!
//! # Against the random twin: paired sign-flip permutation test
//! With `d_w = PnL_w(strategy) − PnL_w(twin)` per window, the null hypothesis "the strategy's
//! choice of side is worth no more than its twin's coin" makes the two labels exchangeable within
//! each window, so every sign pattern of the `d_w` is equally likely (Fisher's randomization test
//! for paired data; Good, *Permutation, Parametric and Bootstrap Tests of Hypotheses*, 3rd ed.,
//! 2005, §3.7). The statistic is `T = Σ d_w`, computed exactly in micro-pUSD. With at most
//! [`EXACT_PERMUTATION_MAX`] non-zero differences every one of the `2^m` sign patterns is
//! enumerated (exact p-value); otherwise [`PERMUTATIONS`] random patterns are drawn and
//! `p = (1 + #{T* ≥ T}) / (B + 1)` (Phipson & Smyth, "Permutation p-values should never be
//! zero", Stat. Appl. Genet. Mol. Biol. 9(1), 2010). One-sided `p_value_greater` (strategy
//! better than its twin) and two-sided `p_value_two_sided` (`|T*| ≥ |T|`).
//!
//! Caveat: the twin is always a taker at the touch (see `docs/backtest.md` §3), so a maker
//! strategy differs from it in fees as well as in side choice; the test then measures both.
//!
//! # Tail risk
//! * **VaR / CVaR per window** at 95 %, historical, over the windows the strategy **traded**:
//!   `VaR = −Q_{0.05}(PnL_w)` (Q: statrs type-8 quantile) and `CVaR = −mean(PnL_w | PnL_w ≤
//!   Q_{0.05})`, the expected shortfall (Acerbi & Tasche, "On the coherence of expected
//!   shortfall", J. Banking & Finance 26(7), 2002). Positive = a loss. With fewer than 20 traded
//!   windows the 5 % tail holds at most one window: read them as "worst window".
//! * **Drawdown duration**: the longest run of consecutive windows of the run after which
//!   cumulative PnL stood below its running peak, in windows and in seconds (from the end of the
//!   peak window — or the first window's start when the peak is the start — to the end of the
//!   last window below it).
//! * **Longest losing streak**: most consecutive traded windows (in start order, untraded
//!   windows skipped) with PnL < 0.

use polyedge_core::{Cash, Window};
use polyedge_engine::StrategyResult;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, OrderStatistics};

/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Bootstrap resamples per strategy.
pub const RESAMPLES: usize = 2_000;
/// Random sign patterns of the permutation test when it is not exact.
pub const PERMUTATIONS: usize = 10_000;
/// Up to this many non-zero paired differences, the permutation test enumerates every pattern.
pub const EXACT_PERMUTATION_MAX: usize = 16;
/// Level of VaR and CVaR.
pub const VAR_LEVEL: f64 = 0.95;

/// One window of a strategy's run, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPnl {
    /// PnL of the window, micro-pUSD (0 if not traded).
    pub pnl: i64,
    /// The strategy had a fill in it.
    pub traded: bool,
    /// Its outcome is known.
    pub settled: bool,
    /// Window end, ns since epoch.
    pub end_ns: u64,
}

/// The per-window series of `s` over `windows` (start order).
pub fn window_series(s: &StrategyResult, windows: &[Window]) -> Vec<WindowPnl> {
    windows
        .iter()
        .map(|w| {
            let pnl = s.window_pnl.get(&w.slug);
            WindowPnl {
                pnl: pnl.map_or(0, |c| c.micros()),
                traded: pnl.is_some(),
                settled: w.outcome.is_some(),
                end_ns: w.end.0,
            }
        })
        .collect()
}

/// A two-sided interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl Interval {
    /// `[lo, hi]` formatted with `digits` decimals.
    pub fn fmt(&self, digits: usize) -> String {
        format!("[{:.digits$}, {:.digits$}]", self.lo, self.hi)
    }
}

/// 95 % bootstrap intervals of a strategy's headline figures (module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uncertainty {
    /// How they were computed.
    pub method: &'static str,
    /// Confidence level (0.95).
    pub confidence: f64,
    /// Resamples drawn.
    pub resamples: u64,
    /// Block length, windows.
    pub block_windows: u64,
    /// Seed of the resampling (run seed mixed with the strategy's name).
    pub seed: u64,
    /// Net PnL, pUSD.
    pub net_pnl: Option<Interval>,
    /// Return on start cash, %.
    pub return_pct: Option<Interval>,
    /// Per-window Sharpe ratio.
    pub sharpe_per_window: Option<Interval>,
    /// Window win rate (fraction).
    pub win_rate_windows: Option<Interval>,
}

/// Tail risk and losing runs (module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TailRisk {
    /// Traded windows the VaR and CVaR are computed over.
    pub traded_windows: u64,
    /// 95 % historical VaR of the PnL of a traded window, pUSD (positive = loss).
    pub var_95_window: Option<f64>,
    /// 95 % CVaR (expected shortfall) of a traded window, pUSD (positive = loss).
    pub cvar_95_window: Option<f64>,
    /// Longest stretch below the running peak of cumulative PnL, windows of the run.
    pub max_drawdown_duration_windows: u64,
    /// The same in seconds (peak window's end to the end of the last window below the peak).
    pub max_drawdown_duration_secs: u64,
    /// Whether that stretch was still open at the end of the run.
    pub max_drawdown_unrecovered: bool,
    /// Most consecutive traded windows with PnL < 0.
    pub longest_losing_streak: u64,
}

/// Paired permutation test of a strategy against its random twin (module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VsTwin {
    /// The test.
    pub test: &'static str,
    /// Windows where the two PnLs differ.
    pub differing_windows: u64,
    /// `Σ (PnL strategy − PnL twin)`, pUSD.
    pub total_difference: f64,
    /// Mean difference per window of the run, pUSD.
    pub mean_difference_per_window: f64,
    /// P(T* ≥ T): small when the strategy beats its twin by more than luck.
    pub p_value_greater: f64,
    /// P(|T*| ≥ |T|).
    pub p_value_two_sided: f64,
    /// Sign patterns evaluated.
    pub permutations: u64,
    /// Every pattern enumerated (exact p-values).
    pub exact: bool,
}

/// A stream seed for `purpose` of `name` from the run's `seed`: SplitMix64 of `seed` XOR the
/// FNV-1a hash of `purpose:name` (so different strategies and statistics draw independent
/// streams).
pub fn stream_seed(seed: u64, purpose: &str, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in purpose.bytes().chain([b':']).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    splitmix64(seed ^ h)
}

/// One step of SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Block length `⌈n^{1/3}⌉` (at least 1, at most `n`).
pub fn block_len(n: usize) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let l = (n as f64).cbrt().ceil() as usize;
    l.clamp(1, n.max(1))
}

/// Sample mean and standard deviation (n − 1) of `x`; `None` for fewer than 2 values.
pub fn mean_sd(x: impl Iterator<Item = f64> + Clone) -> Option<(f64, f64)> {
    let (n, sum) = x.clone().fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    if n < 2 {
        return None;
    }
    let m = sum / n as f64;
    let ss: f64 = x.map(|v| (v - m) * (v - m)).sum();
    Some((m, (ss / (n - 1) as f64).sqrt()))
}

/// Mean / sample standard deviation, `None` when undefined.
pub fn sharpe(x: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let (m, sd) = mean_sd(x)?;
    (sd > 0.0 && sd.is_finite()).then(|| m / sd)
}

/// The percentile interval at [`CONFIDENCE`] of `values` (type-8 quantiles), or `None` when
/// fewer than half of `total` resamples gave a value.
pub fn percentile_interval(values: Vec<f64>, total: usize) -> Option<Interval> {
    if values.is_empty() || values.len() * 2 < total {
        return None;
    }
    let mut d = Data::new(values);
    let a = (1.0 - CONFIDENCE) / 2.0;
    Some(Interval {
        lo: d.quantile(a),
        hi: d.quantile(1.0 - a),
    })
}

/// Bootstrap intervals of `series` for a strategy with `start_cash`, seeded by `seed` (module
/// docs).
pub fn uncertainty(series: &[WindowPnl], start_cash: Cash, seed: u64) -> Uncertainty {
    let n = series.len();
    let l = block_len(n);
    let mut out = Uncertainty {
        method: "circular moving-block bootstrap over the run's windows (block = ceil(n^(1/3)) windows), percentile intervals",
        confidence: CONFIDENCE,
        resamples: RESAMPLES as u64,
        block_windows: l as u64,
        seed,
        net_pnl: None,
        return_pct: None,
        sharpe_per_window: None,
        win_rate_windows: None,
    };
    if n == 0 {
        return out;
    }
    let start = start_cash.to_f64();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut pnl, mut ret, mut sh, mut win) = (
        Vec::with_capacity(RESAMPLES),
        Vec::with_capacity(RESAMPLES),
        Vec::with_capacity(RESAMPLES),
        Vec::with_capacity(RESAMPLES),
    );
    let mut idx = Vec::with_capacity(n + l);
    for _ in 0..RESAMPLES {
        idx.clear();
        while idx.len() < n {
            let s = rng.gen_range(0..n);
            idx.extend((0..l).map(|k| (s + k) % n));
        }
        idx.truncate(n);
        let total: i64 = idx.iter().map(|&i| series[i].pnl).sum();
        let total = total as f64 / 1e6;
        pnl.push(total);
        if start > 0.0 {
            ret.push(total / start * 100.0);
        }
        if let Some(s) = sharpe(idx.iter().map(|&i| series[i].pnl as f64)) {
            sh.push(s);
        }
        let (mut settled, mut won) = (0u32, 0u32);
        for &i in &idx {
            let w = &series[i];
            if w.traded && w.settled {
                settled += 1;
                won += u32::from(w.pnl > 0);
            }
        }
        if settled > 0 {
            win.push(f64::from(won) / f64::from(settled));
        }
    }
    out.net_pnl = percentile_interval(pnl, RESAMPLES);
    out.return_pct = percentile_interval(ret, RESAMPLES);
    out.sharpe_per_window = percentile_interval(sh, RESAMPLES);
    out.win_rate_windows = percentile_interval(win, RESAMPLES);
    out
}

/// Tail risk of `series` (module docs); `first_start_ns` is the first window's start (the time
/// of the initial peak).
pub fn tail_risk(series: &[WindowPnl], first_start_ns: u64) -> TailRisk {
    let traded: Vec<f64> = series
        .iter()
        .filter(|w| w.traded)
        .map(|w| w.pnl as f64 / 1e6)
        .collect();
    let (var, cvar) = if traded.is_empty() {
        (None, None)
    } else {
        let mut d = Data::new(traded.clone());
        let q = d.quantile(1.0 - VAR_LEVEL);
        let tail: Vec<f64> = traded.iter().copied().filter(|&x| x <= q).collect();
        let cvar = if tail.is_empty() {
            -q
        } else {
            -tail.iter().sum::<f64>() / tail.len() as f64
        };
        (Some(-q), Some(cvar))
    };
    // Drawdown duration over cumulative PnL in start order.
    let (mut cum, mut peak) = (0i64, 0i64);
    let (mut peak_at, mut peak_i) = (first_start_ns, None::<usize>);
    let (mut best_w, mut best_s, mut open) = (0u64, 0u64, false);
    for (i, w) in series.iter().enumerate() {
        cum += w.pnl;
        if cum >= peak {
            peak = cum;
            peak_at = w.end_ns;
            peak_i = Some(i);
        } else {
            let dw = (i + 1 - peak_i.map_or(0, |p| p + 1)) as u64;
            let ds = w.end_ns.saturating_sub(peak_at) / 1_000_000_000;
            if dw > best_w || (dw == best_w && ds > best_s) {
                best_w = dw;
                best_s = ds;
                open = i + 1 == series.len();
            }
        }
    }
    let mut streak = 0u64;
    let mut longest = 0u64;
    for w in series.iter().filter(|w| w.traded) {
        if w.pnl < 0 {
            streak += 1;
            longest = longest.max(streak);
        } else {
            streak = 0;
        }
    }
    TailRisk {
        traded_windows: traded.len() as u64,
        var_95_window: var,
        cvar_95_window: cvar,
        max_drawdown_duration_windows: best_w,
        max_drawdown_duration_secs: best_s,
        max_drawdown_unrecovered: open,
        longest_losing_streak: longest,
    }
}

/// The paired sign-flip permutation test of `strategy` against `twin` (same windows, same
/// order), seeded by `seed` when not exact (module docs).
pub fn vs_twin(strategy: &[WindowPnl], twin: &[WindowPnl], seed: u64) -> VsTwin {
    let d: Vec<i64> = strategy
        .iter()
        .zip(twin)
        .map(|(a, b)| a.pnl - b.pnl)
        .filter(|&x| x != 0)
        .collect();
    let t: i128 = d.iter().map(|&x| i128::from(x)).sum();
    let n = strategy.len().max(1);
    let mut out = VsTwin {
        test: "paired sign-flip permutation test of per-window PnL (strategy - twin); statistic: sum of differences",
        differing_windows: d.len() as u64,
        total_difference: t as f64 / 1e6,
        mean_difference_per_window: t as f64 / 1e6 / n as f64,
        p_value_greater: 1.0,
        p_value_two_sided: 1.0,
        permutations: 0,
        exact: true,
    };
    if d.is_empty() {
        return out;
    }
    let (mut ge, mut abs_ge, total) = (
        0u64,
        0u64,
        if d.len() <= EXACT_PERMUTATION_MAX {
            1u64 << d.len()
        } else {
            PERMUTATIONS as u64
        },
    );
    let mut count = |s: i128| {
        ge += u64::from(s >= t);
        abs_ge += u64::from(s.abs() >= t.abs());
    };
    if d.len() <= EXACT_PERMUTATION_MAX {
        for mask in 0..total {
            let s: i128 = d
                .iter()
                .enumerate()
                .map(|(k, &x)| {
                    if mask >> k & 1 == 1 {
                        -i128::from(x)
                    } else {
                        i128::from(x)
                    }
                })
                .sum();
            count(s);
        }
        out.p_value_greater = ge as f64 / total as f64;
        out.p_value_two_sided = abs_ge as f64 / total as f64;
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..total {
            let s: i128 = d
                .iter()
                .map(|&x| {
                    if rng.r#gen::<bool>() {
                        -i128::from(x)
                    } else {
                        i128::from(x)
                    }
                })
                .sum();
            count(s);
        }
        out.p_value_greater = (1 + ge) as f64 / (total + 1) as f64;
        out.p_value_two_sided = (1 + abs_ge) as f64 / (total + 1) as f64;
        out.exact = false;
    }
    out.permutations = total;
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn w(pnl: i64) -> WindowPnl {
        WindowPnl {
            pnl,
            traded: pnl != 0,
            settled: true,
            end_ns: 0,
        }
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_estimate() {
        let series: Vec<WindowPnl> = (0..200)
            .map(|i| w(if i % 3 == 0 { -2_000_000 } else { 1_500_000 }))
            .collect();
        let a = uncertainty(&series, Cash(1_000_000_000), 7);
        let b = uncertainty(&series, Cash(1_000_000_000), 7);
        assert_eq!(a, b);
        let c = uncertainty(&series, Cash(1_000_000_000), 8);
        assert_ne!(a.net_pnl, c.net_pnl);
        let total: f64 = series.iter().map(|w| w.pnl as f64 / 1e6).sum();
        let ci = a.net_pnl.unwrap();
        assert!(ci.lo < total && total < ci.hi, "{ci:?} vs {total}");
        let wr = a.win_rate_windows.unwrap();
        assert!(wr.lo < 2.0 / 3.0 && 2.0 / 3.0 < wr.hi, "{wr:?}");
        assert_eq!(a.block_windows, 6); // ceil(200^(1/3)) = 6
        // Return interval is the PnL interval over start cash, in %.
        let r = a.return_pct.unwrap();
        assert!((r.lo - ci.lo / 1000.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn constant_series_has_a_degenerate_pnl_interval_and_no_sharpe() {
        let series = vec![w(1_000_000); 30];
        let u = uncertainty(&series, Cash(1_000_000_000), 1);
        assert_eq!(u.net_pnl, Some(Interval { lo: 30.0, hi: 30.0 }));
        assert_eq!(u.sharpe_per_window, None);
        assert_eq!(u.win_rate_windows, Some(Interval { lo: 1.0, hi: 1.0 }));
    }

    #[test]
    fn exact_permutation_p_values() {
        // Differences +3, +1, −1 (and a tie): T = 3. Patterns with sum ≥ 3: {+3,+1,−1} = 3,
        // {+3,+1,+1} = 5, {+3,−1,+1} = 3 → 3 of 8. |sum| ≥ 3: those and their negatives → 6/8.
        let s = [w(3), w(1), w(0), w(0)];
        let t = [w(0), w(0), w(1), w(0)];
        let r = vs_twin(&s, &t, 1);
        assert!(r.exact);
        assert_eq!(r.permutations, 8);
        assert_eq!(r.differing_windows, 3);
        assert!((r.p_value_greater - 3.0 / 8.0).abs() < 1e-12);
        assert!((r.p_value_two_sided - 6.0 / 8.0).abs() < 1e-12);
        // No difference at all: p = 1.
        let r = vs_twin(&t, &t, 1);
        assert!((r.p_value_greater - 1.0).abs() < f64::EPSILON);
        assert_eq!(r.differing_windows, 0);
    }

    #[test]
    fn monte_carlo_permutation_detects_a_clear_edge_and_not_noise() {
        // 60 windows, each the strategy beats the twin by 1: p ≈ 1/(B+1).
        let s: Vec<WindowPnl> = (0..60).map(|_| w(1_000_000)).collect();
        let t: Vec<WindowPnl> = (0..60).map(|_| w(0)).collect();
        let r = vs_twin(&s, &t, 3);
        assert!(!r.exact);
        assert!(r.p_value_greater < 0.001, "{}", r.p_value_greater);
        // Alternating ±1: T = 0, p(greater) ≈ 0.5+.
        let s: Vec<WindowPnl> = (0..60)
            .map(|i| w(if i % 2 == 0 { 1_000_000 } else { -1_000_000 }))
            .collect();
        let r = vs_twin(&s, &t, 3);
        assert!(r.p_value_greater > 0.4 && r.p_value_greater < 0.7, "{r:?}");
        assert_eq!(r, vs_twin(&s, &t, 3));
    }

    #[test]
    fn tail_risk_figures() {
        let mut series: Vec<WindowPnl> = Vec::new();
        // +5, −1, −2, −3 (3 losses in a row), 0 untraded, +10 (recovers: cum 9 > 5), −1.
        for (i, p) in [5, -1, -2, -3, 0, 10, -1].iter().enumerate() {
            let mut x = w(p * 1_000_000);
            x.end_ns = (i as u64 + 1) * 300 * 1_000_000_000;
            series.push(x);
        }
        let r = tail_risk(&series, 0);
        assert_eq!(r.traded_windows, 6);
        assert_eq!(r.longest_losing_streak, 3);
        // Below the peak (5 after window 0) through windows 1..=4: 4 windows, 1200 s.
        assert_eq!(r.max_drawdown_duration_windows, 4);
        assert_eq!(r.max_drawdown_duration_secs, 1200);
        assert!(!r.max_drawdown_unrecovered);
        // 5 % type-8 quantile of 6 values is the minimum (−3): VaR 3, CVaR 3.
        assert_eq!(r.var_95_window, Some(3.0));
        assert_eq!(r.cvar_95_window, Some(3.0));
        assert!(tail_risk(&[], 0).var_95_window.is_none());
    }
}
