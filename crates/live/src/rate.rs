//! Client-side rate limits: token buckets ([`governor`], GCRA) in front of the venue's, so a
//! burst of orders waits here instead of earning 429 answers.
//!
//! Three buckets, from the venue's published limits (`docs/protocols.md` §2.3):
//!
//! * **orders** — `POST /order` costs 1, `POST /orders` one per order: the per-signer order
//!   bucket of the lowest ("Standard") tier, 40 per second refill, burst 60;
//! * **cancels** — `DELETE /order` 1, `DELETE /cancel-all` 1: the Standard tier's cancel bucket,
//!   80 per second, burst 120;
//! * **reads** — `GET /data/order`, `/data/orders`, `/data/trades`, `/balance-allowance`: the
//!   tightest of their IP limits, `balance-allowance` GET at 200 per 10 s, i.e. 20 per second,
//!   burst 40.
//!
//! A call that finds its bucket empty waits for its turn (the venue's own IP limits also queue
//! rather than refuse); each wait is counted in [`RateStats`] and logged at `debug`. A higher
//! tier sets larger numbers in `[live.rate_limits]`.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

/// `[live.rate_limits]`: refill per second and burst of each bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Orders per second (refill of the order bucket). Default 40 (Standard tier).
    pub orders_per_sec: u32,
    /// Orders in one burst (the order bucket's size). Default 60.
    pub order_burst: u32,
    /// Cancels per second. Default 80.
    pub cancels_per_sec: u32,
    /// Cancels in one burst. Default 120.
    pub cancel_burst: u32,
    /// Authenticated reads (order lookups, open orders, trades, balances) per second.
    /// Default 20 (`balance-allowance`: 200 per 10 s).
    pub reads_per_sec: u32,
    /// Reads in one burst. Default 40.
    pub read_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            orders_per_sec: 40,
            order_burst: 60,
            cancels_per_sec: 80,
            cancel_burst: 120,
            reads_per_sec: 20,
            read_burst: 40,
        }
    }
}

impl RateLimitConfig {
    /// Checks that every number is at least 1.
    ///
    /// # Errors
    /// The first zero, named by its key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("orders_per_sec", self.orders_per_sec),
            ("order_burst", self.order_burst),
            ("cancels_per_sec", self.cancels_per_sec),
            ("cancel_burst", self.cancel_burst),
            ("reads_per_sec", self.reads_per_sec),
            ("read_burst", self.read_burst),
        ] {
            if v == 0 {
                return Err(format!("[live.rate_limits] {key} = 0: must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Order placement.
    Orders,
    /// Cancels.
    Cancels,
    /// Authenticated reads.
    Reads,
}

/// How often a request had to wait for its bucket, per bucket.
#[derive(Debug, Default)]
pub struct RateStats {
    /// Order placements that waited.
    pub orders_waited: AtomicU64,
    /// Cancels that waited.
    pub cancels_waited: AtomicU64,
    /// Reads that waited.
    pub reads_waited: AtomicU64,
}

/// The three buckets of the [module docs](self).
#[derive(Debug)]
pub struct RateLimits {
    orders: DefaultDirectRateLimiter,
    cancels: DefaultDirectRateLimiter,
    reads: DefaultDirectRateLimiter,
    stats: RateStats,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let one = NonZeroU32::MIN;
    Quota::per_second(NonZeroU32::new(per_sec).unwrap_or(one))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(one))
}

impl RateLimits {
    /// Buckets with `config`'s numbers (a zero counts as 1; [`RateLimitConfig::validate`]
    /// refuses it first).
    pub fn new(config: &RateLimitConfig) -> Self {
        RateLimits {
            orders: RateLimiter::direct(quota(config.orders_per_sec, config.order_burst)),
            cancels: RateLimiter::direct(quota(config.cancels_per_sec, config.cancel_burst)),
            reads: RateLimiter::direct(quota(config.reads_per_sec, config.read_burst)),
            stats: RateStats::default(),
        }
    }

    /// Waits until `bucket` has `n` tokens and takes them (`n` above the burst is taken in
    /// burst-sized steps, so it waits longer rather than never).
    pub async fn acquire(&self, bucket: Bucket, n: u32) {
        let (limiter, waited, kind) = match bucket {
            Bucket::Orders => (&self.orders, &self.stats.orders_waited, "orders_throttled"),
            Bucket::Cancels => (
                &self.cancels,
                &self.stats.cancels_waited,
                "cancels_throttled",
            ),
            Bucket::Reads => (&self.reads, &self.stats.reads_waited, "reads_throttled"),
        };
        let n = n.max(1);
        let take = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let fits = match limiter.check_n(take) {
            Ok(Ok(())) => return,
            Ok(Err(_)) => true,
            // More than the bucket holds: taken one token at a time.
            Err(_) => false,
        };
        waited.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(crate::executor::LIVE_EVENTS, "kind" => kind).increment(1);
        tracing::debug!(?bucket, n, "live: rate limit: waiting for the bucket");
        if fits && limiter.until_n_ready(take).await.is_ok() {
            return;
        }
        for _ in 0..n {
            limiter.until_ready().await;
        }
    }

    /// How often requests waited.
    pub fn stats(&self) -> &RateStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_zero_is_refused_by_name() {
        let c = RateLimitConfig {
            cancel_burst: 0,
            ..RateLimitConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("cancel_burst"));
        assert!(RateLimitConfig::default().validate().is_ok());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_burst_beyond_the_bucket_waits_for_the_refill() {
        // 10 per second, burst 5: 5 at once, the next 10 at 10 per second (≈ 1 s).
        let limits = RateLimits::new(&RateLimitConfig {
            orders_per_sec: 10,
            order_burst: 5,
            ..RateLimitConfig::default()
        });
        let t0 = Instant::now();
        for _ in 0..5 {
            limits.acquire(Bucket::Orders, 1).await;
        }
        let burst = t0.elapsed();
        for _ in 0..10 {
            limits.acquire(Bucket::Orders, 1).await;
        }
        let all = t0.elapsed();
        assert!(
            burst < Duration::from_millis(50),
            "the burst waited {burst:?}"
        );
        assert!(all >= Duration::from_millis(900), "15 orders in {all:?}");
        assert_eq!(limits.stats().orders_waited.load(Ordering::Relaxed), 10);
        // The other buckets are untouched.
        limits.acquire(Bucket::Cancels, 1).await;
        limits.acquire(Bucket::Reads, 1).await;
        assert_eq!(limits.stats().cancels_waited.load(Ordering::Relaxed), 0);
        // A batch larger than the burst is taken in steps, not refused.
        limits.acquire(Bucket::Orders, 8).await;
    }
}
