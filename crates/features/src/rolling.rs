//! Rolling sums over trailing time windows, in one-second buckets.
//!
//! [`RollingSums`] keeps `K` quantities per one-second bucket (e.g. taker-buy volume, taker-sell
//! volume, price × volume) and, for each configured horizon `h` seconds, the sum over the buckets
//! of the last `h` seconds: the buckets `b` with `now_s − h < b ≤ now_s`, where `now_s` is the
//! current second (the bucket of the latest time seen, partial). Adding a value and advancing the
//! clock are O(1) amortized; reading a sum is O(1). A window with no buckets left is reset to
//! exactly zero so that add/subtract rounding cannot accumulate.

use std::collections::VecDeque;

use polyedge_core::UnixNanos;

/// Rolling sums of `K` quantities over the horizons given at construction.
#[derive(Debug, Clone)]
pub struct RollingSums<const K: usize> {
    /// `(second, values)`, oldest first, strictly increasing seconds.
    buckets: VecDeque<(u64, [f64; K])>,
    /// Absolute index of `buckets[0]`.
    base: usize,
    /// Per horizon: `(seconds, absolute index of the first bucket inside, sums)`.
    windows: Vec<(u64, usize, [f64; K])>,
    /// Longest horizon.
    max_h: u64,
    /// Current second (the latest time seen).
    now_s: u64,
}

impl<const K: usize> RollingSums<K> {
    /// Rolling sums over `horizons_s` (seconds, each ≥ 1).
    pub fn new(horizons_s: &[u64]) -> Self {
        RollingSums {
            buckets: VecDeque::new(),
            base: 0,
            windows: horizons_s
                .iter()
                .map(|&h| (h.max(1), 0, [0.0; K]))
                .collect(),
            max_h: horizons_s.iter().copied().max().unwrap_or(1).max(1),
            now_s: 0,
        }
    }

    /// Forgets everything (e.g. after a gap in the stream).
    pub fn clear(&mut self) {
        self.base += self.buckets.len();
        self.buckets.clear();
        for w in &mut self.windows {
            w.1 = self.base;
            w.2 = [0.0; K];
        }
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Adds `values` at time `t` (a time before the latest one is counted in the latest bucket).
    pub fn add(&mut self, t: UnixNanos, values: [f64; K]) {
        self.advance(t);
        let s = self.now_s;
        match self.buckets.back_mut() {
            Some((bs, v)) if *bs == s => {
                for (a, b) in v.iter_mut().zip(values) {
                    *a += b;
                }
            }
            _ => self.buckets.push_back((s, values)),
        }
        for w in &mut self.windows {
            for (a, b) in w.2.iter_mut().zip(values) {
                *a += b;
            }
        }
    }

    /// Moves the clock to `t` (never backwards) and drops buckets that left every window.
    pub fn advance(&mut self, t: UnixNanos) {
        let s = t.secs();
        if s <= self.now_s && !self.buckets.is_empty() {
            return;
        }
        self.now_s = self.now_s.max(s);
        let end = self.base + self.buckets.len();
        for w in &mut self.windows {
            let cutoff = self.now_s.saturating_sub(w.0); // buckets ≤ cutoff are out
            while w.1 < end {
                let (bs, v) = self.buckets[w.1 - self.base];
                if bs > cutoff {
                    break;
                }
                for (a, b) in w.2.iter_mut().zip(v) {
                    *a -= b;
                }
                w.1 += 1;
            }
            if w.1 == end {
                w.2 = [0.0; K];
            }
        }
        let cutoff = self.now_s.saturating_sub(self.max_h);
        while self.buckets.front().is_some_and(|b| b.0 <= cutoff) {
            self.buckets.pop_front();
            self.base += 1;
        }
    }

    /// Sums over horizon number `i` (in the order given to [`Self::new`]) as of the last
    /// [`Self::advance`]/[`Self::add`].
    pub fn sums(&self, i: usize) -> [f64; K] {
        self.windows.get(i).map_or([0.0; K], |w| w.2)
    }

    /// Number of buckets inside horizon `i`.
    pub fn buckets_in(&self, i: usize) -> usize {
        self.windows
            .get(i)
            .map_or(0, |w| self.base + self.buckets.len() - w.1)
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn at(s: u64, ms: u64) -> UnixNanos {
        UnixNanos(s * UnixNanos::PER_SEC + ms * UnixNanos::PER_MS)
    }

    #[test]
    fn sums_follow_the_trailing_windows() {
        let mut r: RollingSums<2> = RollingSums::new(&[2, 5]);
        r.add(at(100, 0), [1.0, 10.0]);
        r.add(at(100, 500), [1.0, 0.0]);
        r.add(at(101, 0), [2.0, 0.0]);
        assert_eq!(r.sums(0), [4.0, 10.0]);
        assert_eq!(r.sums(1), [4.0, 10.0]);
        // At 102 the 2-s window holds seconds 101, 102 only.
        r.advance(at(102, 10));
        assert_eq!(r.sums(0), [2.0, 0.0]);
        assert_eq!(r.sums(1), [4.0, 10.0]);
        // At 105 the 5-s window holds 101..=105.
        r.advance(at(105, 0));
        assert_eq!(r.sums(0), [0.0, 0.0]);
        assert_eq!(r.sums(1), [2.0, 0.0]);
        assert_eq!(r.buckets_in(1), 1);
        r.advance(at(200, 0));
        assert_eq!(r.sums(1), [0.0, 0.0]);
        assert!(r.is_empty());
        // Brute force over a random-ish sequence.
        let mut r: RollingSums<1> = RollingSums::new(&[3, 7]);
        let mut all = Vec::new();
        for i in 0..200u64 {
            let t = at(1_000 + i / 3 + (i % 7) / 6, i % 1000);
            let t = UnixNanos(t.0.max(all.last().map_or(0, |x: &(UnixNanos, f64)| x.0.0)));
            let v = (i % 5) as f64;
            r.add(t, [v]);
            all.push((t, v));
            for (wi, h) in [3u64, 7].into_iter().enumerate() {
                let now = t.secs();
                let want: f64 = all
                    .iter()
                    .filter(|(x, _)| x.secs() + h > now)
                    .map(|(_, v)| v)
                    .sum();
                assert!((r.sums(wi)[0] - want).abs() < 1e-9, "i={i} h={h}");
            }
        }
    }

    #[test]
    fn clear_forgets() {
        let mut r: RollingSums<1> = RollingSums::new(&[10]);
        r.add(at(5, 0), [3.0]);
        r.clear();
        assert_eq!(r.sums(0), [0.0]);
        r.add(at(6, 0), [1.0]);
        assert_eq!(r.sums(0), [1.0]);
    }
}
