//! 1-minute candles and the technical indicators computed on them.
//!
//! # Candles
//! [`CandleBuilder`] aggregates prices (and quantities) into 1-minute OHLCV candles by the time
//! they were **received** (minute `m` holds what was received in `[m, m + 60 s)`), so a candle
//! never holds anything received after the moment it is read. A candle is closed when time
//! reaches the end of its minute (an event received later, or the instant a snapshot is taken).
//! A minute with no input after one with input is filled with a flat candle at the last close
//! and zero volume (the convention of trade-built candles), up to [`MAX_FILL_MINUTES`]; a longer
//! silence is a data gap and resets the indicators. Closed Binance klines enter as they are.
//!
//! # Indicators
//! [`Indicators`] is updated once per closed candle with [`yata`]'s O(1) methods (EMA, Wilder's
//! RMA, SMA, sample standard deviation, highest/lowest, true range, past value). Each yata method
//! starts from its first input (pandas' `ewm(adjust=False)` convention for the EMAs and RMAs), and
//! an indicator counts as **present** only once it has seen its full period (see each feature's
//! definition in [`crate::schema`]). Formulas: Wilder (1978) for RSI and ATR, Appel for MACD
//! (12, 26, 9), Lane for stochastic %K, Bollinger for %B.

use yata::core::{Method, OHLCV, ValueType};
use yata::methods::{EMA, Highest, Lowest, Past, RMA, SMA, StDev, TR};

use polyedge_core::UnixNanos;

/// Longest run of empty minutes filled with flat candles; a longer silence resets indicators.
pub const MAX_FILL_MINUTES: u64 = 5;

/// One closed 1-minute candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    /// Start of the minute, unix seconds (a multiple of 60).
    pub open_s: u64,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Summed quantity (0 where the source has none).
    pub volume: f64,
}

impl OHLCV for Candle {
    fn open(&self) -> ValueType {
        self.open
    }
    fn high(&self) -> ValueType {
        self.high
    }
    fn low(&self) -> ValueType {
        self.low
    }
    fn close(&self) -> ValueType {
        self.close
    }
    fn volume(&self) -> ValueType {
        self.volume
    }
}

/// What rolling the builder forward produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Closed {
    /// A candle closed (a real one or a flat fill).
    Candle(Candle),
    /// Input stopped for longer than [`MAX_FILL_MINUTES`]: indicators must restart.
    Gap,
}

/// Aggregates prices into 1-minute candles by receive time.
///
/// The output depends only on the inputs and their times, not on how often [`Self::roll`] is
/// called: fills are emitted only for minutes that have fully passed, and the gap is declared
/// when the `MAX_FILL_MINUTES + 1`-th empty minute after the last real candle has passed.
#[derive(Debug, Clone, Default)]
pub struct CandleBuilder {
    current: Option<Candle>,
    /// Open time and close of the last candle emitted (real or fill).
    last: Option<(u64, f64)>,
    /// Open time of the last real candle.
    last_real: u64,
}

impl CandleBuilder {
    /// Closes every minute that ended at or before `now`, appending the closed candles (and flat
    /// fills, or one [`Closed::Gap`]) to `out`.
    pub fn roll(&mut self, now: UnixNanos, out: &mut Vec<Closed>) {
        let minute = now.secs() / 60 * 60;
        if let Some(c) = self.current
            && c.open_s < minute
        {
            out.push(Closed::Candle(c));
            self.last = Some((c.open_s, c.close));
            self.last_real = c.open_s;
            self.current = None;
        }
        if self.current.is_some() {
            return;
        }
        // Flat fills for the empty minutes that have fully passed.
        while let Some((last_open, close)) = self.last {
            let open_s = last_open + 60;
            if open_s >= minute {
                break;
            }
            if open_s - self.last_real > 60 * MAX_FILL_MINUTES {
                out.push(Closed::Gap);
                self.last = None;
                break;
            }
            out.push(Closed::Candle(Candle {
                open_s,
                open: close,
                high: close,
                low: close,
                close,
                volume: 0.0,
            }));
            self.last = Some((open_s, close));
        }
    }

    /// Adds a price (and quantity) received at `t`; first closes what ended (into `out`).
    pub fn add(&mut self, t: UnixNanos, price: f64, qty: f64, out: &mut Vec<Closed>) {
        if !(price.is_finite() && price > 0.0) {
            return;
        }
        self.roll(t, out);
        let minute = t.secs() / 60 * 60;
        match &mut self.current {
            Some(c) => {
                c.high = c.high.max(price);
                c.low = c.low.min(price);
                c.close = price;
                c.volume += qty;
            }
            None => {
                self.current = Some(Candle {
                    open_s: minute,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: qty,
                });
            }
        }
    }

    /// Forgets the open candle and the last close (after a gap in the stream).
    pub fn clear(&mut self) {
        self.current = None;
        self.last = None;
    }
}

/// Indicator values of the last closed candle (`None` until each has seen its period).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IndicatorValues {
    /// RSI(7), 0..100.
    pub rsi7: Option<f64>,
    /// RSI(14).
    pub rsi14: Option<f64>,
    /// RSI(30).
    pub rsi30: Option<f64>,
    /// MACD line / close.
    pub macd_rel: Option<f64>,
    /// Signal line / close.
    pub macd_signal_rel: Option<f64>,
    /// (MACD − signal) / close.
    pub macd_hist_rel: Option<f64>,
    /// Stochastic %K(14), 0..100.
    pub stoch_k14: Option<f64>,
    /// Bollinger %B(20, 2).
    pub bb_pct_b20: Option<f64>,
    /// ATR(14) / close.
    pub atr14_rel: Option<f64>,
    /// (EMA9 − EMA21) / close.
    pub ema9_21_rel: Option<f64>,
    /// ln(close / close 60 candles ago).
    pub trend_1h: Option<f64>,
}

/// Wilder's RSI over `n` closes: RMA of gains and losses.
#[derive(Debug, Clone)]
struct Rsi {
    n: usize,
    gain: RMA,
    loss: RMA,
}

impl Rsi {
    fn new(n: u8, first_diff: f64) -> Self {
        // n ≥ 1 by construction: RMA::new cannot fail.
        let g = first_diff.max(0.0);
        let l = (-first_diff).max(0.0);
        Rsi {
            n: usize::from(n),
            gain: RMA::new(n, &g).unwrap_or_else(|_| unreachable!()),
            loss: RMA::new(n, &l).unwrap_or_else(|_| unreachable!()),
        }
    }

    fn next(&mut self, diff: f64) -> f64 {
        let g = self.gain.next(&diff.max(0.0));
        let l = self.loss.next(&(-diff).max(0.0));
        rsi_of(g, l)
    }
}

/// `100 − 100/(1 + g/l)`; 100 when there were no losses, 50 when nothing moved.
fn rsi_of(g: f64, l: f64) -> f64 {
    if l <= 0.0 {
        if g <= 0.0 { 50.0 } else { 100.0 }
    } else {
        100.0 - 100.0 / (1.0 + g / l)
    }
}

/// The yata state once the first candle has been seen.
#[derive(Debug, Clone)]
struct State {
    /// Candles seen (including the first).
    n: usize,
    prev_close: f64,
    /// Created at the second candle (the first close difference).
    rsi: Option<[Rsi; 3]>,
    ema9: EMA,
    ema12: EMA,
    ema21: EMA,
    ema26: EMA,
    signal: Option<EMA>,
    highest: Highest,
    lowest: Lowest,
    sma20: SMA,
    sd20: StDev,
    tr: TR,
    atr: Option<RMA>,
    past60: Past<f64>,
}

/// The indicator set of one candle series.
#[derive(Debug, Clone, Default)]
pub struct Indicators {
    state: Option<State>,
    values: IndicatorValues,
    last: Option<Candle>,
}

impl Indicators {
    /// Restarts from nothing (after a data gap).
    pub fn reset(&mut self) {
        *self = Indicators::default();
    }

    /// The values after the last closed candle.
    pub fn values(&self) -> &IndicatorValues {
        &self.values
    }

    /// The last closed candle.
    pub fn last(&self) -> Option<&Candle> {
        self.last.as_ref()
    }

    /// Candles seen since the last reset.
    pub fn count(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.n)
    }

    /// Feeds one closed candle.
    #[allow(clippy::unwrap_used)] // yata constructors only fail on a period of 0 (or 1 for StDev)
    pub fn push(&mut self, c: &Candle) {
        let close = c.close;
        self.last = Some(*c);
        let Some(s) = &mut self.state else {
            self.state = Some(State {
                n: 1,
                prev_close: close,
                rsi: None,
                ema9: EMA::new(9, &close).unwrap(),
                ema12: EMA::new(12, &close).unwrap(),
                ema21: EMA::new(21, &close).unwrap(),
                ema26: EMA::new(26, &close).unwrap(),
                signal: None,
                highest: Highest::new(14, &c.high).unwrap(),
                lowest: Lowest::new(14, &c.low).unwrap(),
                sma20: SMA::new(20, &close).unwrap(),
                sd20: StDev::new(20, &close).unwrap(),
                tr: TR::new(c).unwrap(),
                atr: None,
                past60: Past::new(60, &close).unwrap(),
            });
            self.values = IndicatorValues::default();
            return;
        };
        s.n += 1;
        let n = s.n;
        let diff = close - s.prev_close;
        s.prev_close = close;
        let v = &mut self.values;

        // RSI: the first difference seeds the RMAs, each later one updates them.
        let rsi = match &mut s.rsi {
            None => {
                let r = [Rsi::new(7, diff), Rsi::new(14, diff), Rsi::new(30, diff)];
                let g = diff.max(0.0);
                let l = (-diff).max(0.0);
                s.rsi = Some(r);
                [rsi_of(g, l); 3]
            }
            Some(r) => [r[0].next(diff), r[1].next(diff), r[2].next(diff)],
        };
        let diffs = n - 1;
        let present = |p: usize, x: f64| (diffs >= p).then_some(x);
        if let Some(r) = &s.rsi {
            v.rsi7 = present(r[0].n, rsi[0]);
            v.rsi14 = present(r[1].n, rsi[1]);
            v.rsi30 = present(r[2].n, rsi[2]);
        }

        // EMAs and MACD.
        let e9 = s.ema9.next(&close);
        let e12 = s.ema12.next(&close);
        let e21 = s.ema21.next(&close);
        let e26 = s.ema26.next(&close);
        let macd = e12 - e26;
        let have = |p: usize| n >= p;
        v.ema9_21_rel = have(21).then(|| (e9 - e21) / close);
        v.macd_rel = have(26).then(|| macd / close);
        if have(26) {
            let sig = match &mut s.signal {
                None => {
                    s.signal = Some(EMA::new(9, &macd).unwrap());
                    macd
                }
                Some(e) => e.next(&macd),
            };
            // The signal is an EMA(9) of MACD values: present after 9 of them (n ≥ 34).
            let ok = have(34);
            v.macd_signal_rel = ok.then(|| sig / close);
            v.macd_hist_rel = ok.then(|| (macd - sig) / close);
        }

        // Stochastic %K(14).
        let hh = s.highest.next(&c.high);
        let ll = s.lowest.next(&c.low);
        v.stoch_k14 = (have(14) && hh > ll).then(|| 100.0 * (close - ll) / (hh - ll));

        // Bollinger %B(20, 2).
        let mean = s.sma20.next(&close);
        let sd = s.sd20.next(&close);
        v.bb_pct_b20 = (have(20) && sd > 0.0).then(|| (close - (mean - 2.0 * sd)) / (4.0 * sd));

        // ATR(14): RMA of the true range, seeded by the first true range (second candle).
        let tr = s.tr.next(c);
        let atr = match &mut s.atr {
            None => {
                s.atr = Some(RMA::new(14, &tr).unwrap());
                tr
            }
            Some(a) => a.next(&tr),
        };
        v.atr14_rel = (diffs >= 14).then(|| atr / close);

        // 1-hour trend: the close 60 candles ago leaves the window now.
        let old = s.past60.next(&close);
        v.trend_1h = (n > 60 && old > 0.0).then(|| (close / old).ln());
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn t(s: u64) -> UnixNanos {
        UnixNanos::from_secs(s)
    }

    fn candle(i: u64, close: f64) -> Candle {
        Candle {
            open_s: i * 60,
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1.0,
        }
    }

    #[test]
    fn builder_closes_minutes_fills_short_gaps_and_flags_long_ones() {
        let mut b = CandleBuilder::default();
        let mut out = Vec::new();
        b.add(t(600), 10.0, 1.0, &mut out);
        b.add(t(630), 12.0, 2.0, &mut out);
        b.add(t(659), 9.0, 1.0, &mut out);
        assert!(out.is_empty());
        b.add(t(660), 11.0, 1.0, &mut out);
        assert_eq!(
            out,
            vec![Closed::Candle(Candle {
                open_s: 600,
                open: 10.0,
                high: 12.0,
                low: 9.0,
                close: 9.0,
                volume: 4.0
            })]
        );
        out.clear();
        // Minutes 720 and 780 are empty: at 845 the 660 candle closes and two flat fills follow.
        b.roll(t(845), &mut out);
        assert_eq!(out.len(), 3);
        assert!(
            matches!(out[1], Closed::Candle(c) if c.open_s == 720 && c.close == 11.0 && c.volume == 0.0)
        );
        assert!(matches!(out[2], Closed::Candle(c) if c.open_s == 780));
        out.clear();
        // Rolling again at the same time adds nothing.
        b.roll(t(845), &mut out);
        assert!(out.is_empty());
        // Ten silent minutes: fills up to 5 minutes after the last real candle (660), then a gap;
        // the same whether rolled once or minute by minute.
        let mut once = b.clone();
        let mut out_once = Vec::new();
        once.roll(t(845 + 600), &mut out_once);
        for m in 0..=10 {
            b.roll(t(845 + 60 * m), &mut out);
        }
        assert_eq!(out, out_once);
        let fills: Vec<u64> = out
            .iter()
            .filter_map(|c| match c {
                Closed::Candle(c) => Some(c.open_s),
                Closed::Gap => None,
            })
            .collect();
        assert_eq!(fills, vec![840, 900, 960]);
        assert_eq!(out.last(), Some(&Closed::Gap));
    }

    /// Hand-computed RSI(7) with Wilder's recurrence from the first difference: closes
    /// 100, 101, 100, 102, 103, 101, 104, 105 give differences +1, −1, +2, +1, −2, +3, +1.
    #[test]
    fn rsi7_by_hand() {
        let closes = [100.0, 101.0, 100.0, 102.0, 103.0, 101.0, 104.0, 105.0];
        let mut ind = Indicators::default();
        for (i, &c) in closes.iter().enumerate() {
            ind.push(&candle(i as u64, c));
        }
        // gains: 1,0,2,1,0,3,1 ; losses: 0,1,0,0,2,0,0 ; RMA α = 1/7 seeded with the first.
        let (mut g, mut l) = (1.0f64, 0.0f64);
        for (gi, li) in [
            (0.0, 1.0),
            (2.0, 0.0),
            (1.0, 0.0),
            (0.0, 2.0),
            (3.0, 0.0),
            (1.0, 0.0),
        ] {
            g += (gi - g) / 7.0;
            l += (li - l) / 7.0;
        }
        let want = 100.0 - 100.0 / (1.0 + g / l);
        let got = ind.values().rsi7.unwrap();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        assert!(ind.values().rsi14.is_none());
    }

    #[test]
    fn warm_up_and_constant_series() {
        let mut ind = Indicators::default();
        for i in 0..70u64 {
            ind.push(&candle(i, 100.0));
            let v = ind.values();
            let n = i as usize + 1;
            assert_eq!(v.ema9_21_rel.is_some(), n >= 21, "n={n}");
            assert_eq!(v.macd_rel.is_some(), n >= 26);
            assert_eq!(v.macd_signal_rel.is_some(), n >= 34);
            assert_eq!(v.atr14_rel.is_some(), n >= 15);
            assert_eq!(v.trend_1h.is_some(), n > 60);
            // A flat close: Bollinger has no width, so %B is missing, not 0.5.
            assert!(v.bb_pct_b20.is_none());
        }
        let v = ind.values();
        assert_eq!(v.rsi14, Some(50.0));
        assert_eq!(v.macd_rel, Some(0.0));
        assert_eq!(v.trend_1h, Some(0.0));
        assert_eq!(v.stoch_k14, Some(50.0));
        // ATR of candles with high − low = 2 and no gaps is 2.
        assert!((v.atr14_rel.unwrap() - 0.02).abs() < 1e-12);
    }

    /// Bollinger %B and stochastic %K by hand on a ramp 1..=20 (closes; high = c + 1, low = c − 1).
    #[test]
    fn bollinger_and_stochastic_by_hand() {
        let mut ind = Indicators::default();
        for i in 1..=20u64 {
            ind.push(&candle(i, i as f64));
        }
        let v = ind.values();
        let mean = 10.5;
        let var: f64 = (1..=20).map(|x| (f64::from(x) - mean).powi(2)).sum::<f64>() / 19.0;
        let sd = var.sqrt();
        let want = (20.0 - (mean - 2.0 * sd)) / (4.0 * sd);
        assert!((v.bb_pct_b20.unwrap() - want).abs() < 1e-9);
        // Last 14 candles: lows 6..=20 − 1 → lowest 6; highs → 21. %K = 100·(20 − 6)/(21 − 6).
        let k = 100.0 * (20.0 - 6.0) / (21.0 - 6.0);
        assert!((v.stoch_k14.unwrap() - k).abs() < 1e-9);
        // EMA9 − EMA21 of a ramp from the first value (pandas ewm(adjust=False)).
        let (mut e9, mut e21) = (1.0f64, 1.0f64);
        for x in 2..=20 {
            let x = f64::from(x);
            e9 += (x - e9) * 2.0 / 10.0;
            e21 += (x - e21) * 2.0 / 22.0;
        }
        assert!(v.ema9_21_rel.is_none()); // 20 < 21 candles
        let _ = (e9, e21);
        ind.push(&candle(21, 21.0));
        e9 += (21.0 - e9) * 0.2;
        e21 += (21.0 - e21) * 2.0 / 22.0;
        let got = ind.values().ema9_21_rel.unwrap();
        assert!((got - (e9 - e21) / 21.0).abs() < 1e-12);
    }
}
