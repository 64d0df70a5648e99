//! Date-aware latency parameters of the simulated venue.
//!
//! Two delays separate a decision from a match:
//!
//! 1. **Order latency** (ours, configurable): decision → the order reaches the matching engine
//!    (signing, HTTP, network to AWS eu-west-2 where the CLOB matches, protocols.md §2.2). Default
//!    [`DEFAULT_ORDER_LATENCY_MS`] = 50 ms: a bot in or near London with a warm HTTP connection. From
//!    farther away 100–300 ms is typical; sweep it. Cancels travel the same path
//!    ([`DEFAULT_CANCEL_LATENCY_MS`]).
//! 2. **Venue taker delay** (the venue's): crypto Up/Down markets with `itode: true` hold
//!    *marketable* orders before matching them and refuse cancels meanwhile (protocols.md §1.5).
//!    Its length changed over time ([`TAKER_DELAY_HISTORY`]) and is **UNCERTAIN**: it is a parameter
//!    ([`LatencyConfig::taker_delay_override_ms`]).
//!
//! Post-only and non-marketable orders are never held: only orders that would take liquidity when
//! they arrive are.

use serde::{Deserialize, Serialize};

use polyedge_core::UnixNanos;

/// Default decision → venue latency, milliseconds.
pub const DEFAULT_ORDER_LATENCY_MS: u64 = 50;
/// Default cancel-request → venue latency, milliseconds.
pub const DEFAULT_CANCEL_LATENCY_MS: u64 = 50;

/// How well a row of [`TAKER_DELAY_HISTORY`] is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// protocols.md states it (from the venue changelog via a third-party note).
    Protocols,
    /// Third-party reports only (news, research pages); not in protocols.md.
    ThirdParty,
    /// An assumption of ours where the sources are silent.
    Assumed,
}

/// One step of the venue taker-delay history: from `from` on, marketable orders on crypto Up/Down
/// markets wait `delay_ms` before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakerDelayStep {
    /// First instant the step applies (inclusive, 00:00 UTC of the source's date).
    pub from: UnixNanos,
    /// The hold, milliseconds.
    pub delay_ms: u64,
    /// How well it is supported.
    pub evidence: Evidence,
    /// Where it comes from.
    pub source: &'static str,
}

/// 2025-11-14 00:00 UTC: first reported taker delay (500 ms).
pub const D_2025_11_14: UnixNanos = UnixNanos::from_secs(1_763_078_400);
/// 2026-02-18 00:00 UTC: the 500 ms delay reported removed.
pub const D_2026_02_18: UnixNanos = UnixNanos::from_secs(1_771_372_800);
/// 2026-08-17 00:00 UTC: 250 ms → 50 ms.
pub const D_2026_08_17: UnixNanos = UnixNanos::from_secs(1_786_924_800);
/// 2026-09-04 00:00 UTC: 50 ms → 150 ms.
pub const D_2026_09_04: UnixNanos = UnixNanos::from_secs(1_788_480_000);

/// The venue taker delay on crypto Up/Down markets over time, oldest first; the last step with
/// `from ≤ t` applies.
///
/// | from (00:00 UTC) | delay | evidence | source |
/// |---|---|---|---|
/// | (start) | 0 ms | **assumed** | no delay reported before 2025-11-14 |
/// | 2025-11-14 | 500 ms | third party | Capitola Research "500ms Taker Speedbump" (15m and 1h markets) |
/// | 2026-02-18 | 250 ms | **assumed** | 500 ms reported removed 2026-02-18 (news); a 250 ms window in force by 2026-06-03 (news of the 06-05 no-cancel rule); protocols.md §1.5 "250 ms → 50 ms (2026-08-17)" |
/// | 2026-08-17 | 50 ms | protocols.md §1.5 | \[R2\] §3.1 changelog |
/// | 2026-09-04 | 150 ms | protocols.md §1.5 | \[R2\] §3.1 changelog; \[R3\] (2026-09-23) says 50 ms — UNCERTAIN |
///
/// The 2026-02-18 row is the weakest: the 500 ms hold was reported removed that day, and the date
/// the 250 ms hold began is unknown (somewhere before June 2026). polyedge assumes 250 ms for the
/// whole gap, which covers the cronos recordings (2026-04-13..16): a hold can only make a taker see
/// a later, usually worse, book, so assuming it is the conservative choice. Run with
/// `taker_delay_override_ms = Some(0)` to see the other case.
pub const TAKER_DELAY_HISTORY: &[TakerDelayStep] = &[
    TakerDelayStep {
        from: UnixNanos(0),
        delay_ms: 0,
        evidence: Evidence::Assumed,
        source: "assumption: no taker delay reported on crypto Up/Down before 2025-11-14",
    },
    TakerDelayStep {
        from: D_2025_11_14,
        delay_ms: 500,
        evidence: Evidence::ThirdParty,
        source: "research.capitola.xyz 'Polymarket 500ms Taker Speedbump' (introduced 2025-11-14 on 15m/1h crypto up/down; applied to all durations here)",
    },
    TakerDelayStep {
        from: D_2026_02_18,
        delay_ms: 250,
        evidence: Evidence::Assumed,
        source: "assumption: 500 ms reported removed 2026-02-18 (htx.com news 'Polymarket Quietly Removed the 500ms Delay'); 250 ms window in force by 2026-06-03 (Jinse/Bitget news of the 06-05 no-cancel rule); protocols.md §1.5",
    },
    TakerDelayStep {
        from: D_2026_08_17,
        delay_ms: 50,
        evidence: Evidence::Protocols,
        source: "protocols.md §1.5: 250 ms → 50 ms (2026-08-17) [R2 §3.1]",
    },
    TakerDelayStep {
        from: D_2026_09_04,
        delay_ms: 150,
        evidence: Evidence::Protocols,
        source: "protocols.md §1.5: → 150 ms (2026-09-04) [R2 §3.1]; [R3] says 50 ms (UNCERTAIN)",
    },
];

/// The [`TAKER_DELAY_HISTORY`] step in force at `at`.
pub fn taker_delay_step_at(at: UnixNanos) -> &'static TakerDelayStep {
    TAKER_DELAY_HISTORY
        .iter()
        .rev()
        .find(|s| s.from <= at)
        .unwrap_or(&TAKER_DELAY_HISTORY[0])
}

/// Latency parameters of the simulated venue (serde: all fields optional, defaults as documented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    /// Decision → order at the venue, milliseconds (default 50).
    pub order_latency_ms: u64,
    /// Cancel request → cancel at the venue, milliseconds (default 50).
    pub cancel_latency_ms: u64,
    /// Apply the venue taker delay at all (default `true`; all crypto Up/Down markets have `itode`).
    pub taker_delay_enabled: bool,
    /// A fixed taker delay in milliseconds instead of [`TAKER_DELAY_HISTORY`] (default `None`).
    pub taker_delay_override_ms: Option<u64>,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            order_latency_ms: DEFAULT_ORDER_LATENCY_MS,
            cancel_latency_ms: DEFAULT_CANCEL_LATENCY_MS,
            taker_delay_enabled: true,
            taker_delay_override_ms: None,
        }
    }
}

impl LatencyConfig {
    /// No latency and no taker delay: orders meet the first book at or after the decision.
    pub fn zero() -> Self {
        LatencyConfig {
            order_latency_ms: 0,
            cancel_latency_ms: 0,
            taker_delay_enabled: false,
            taker_delay_override_ms: None,
        }
    }

    /// Decision → venue, nanoseconds.
    pub fn order_latency_ns(&self) -> u64 {
        self.order_latency_ms.saturating_mul(UnixNanos::PER_MS)
    }

    /// Cancel request → venue, nanoseconds.
    pub fn cancel_latency_ns(&self) -> u64 {
        self.cancel_latency_ms.saturating_mul(UnixNanos::PER_MS)
    }

    /// The venue taker delay for a marketable order arriving at `at`, nanoseconds: 0 when
    /// disabled, the override when set, else [`taker_delay_step_at`].
    pub fn taker_delay_ns(&self, at: UnixNanos) -> u64 {
        if !self.taker_delay_enabled {
            return 0;
        }
        let ms = self
            .taker_delay_override_ms
            .unwrap_or_else(|| taker_delay_step_at(at).delay_ms);
        ms.saturating_mul(UnixNanos::PER_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = UnixNanos::PER_MS;

    #[test]
    fn dates() {
        assert_eq!(D_2025_11_14.to_rfc3339(), "2025-11-14T00:00:00.000Z");
        assert_eq!(D_2026_02_18.to_rfc3339(), "2026-02-18T00:00:00.000Z");
        assert_eq!(D_2026_08_17.to_rfc3339(), "2026-08-17T00:00:00.000Z");
        assert_eq!(D_2026_09_04.to_rfc3339(), "2026-09-04T00:00:00.000Z");
        assert!(
            TAKER_DELAY_HISTORY
                .windows(2)
                .all(|w| w[0].from < w[1].from)
        );
    }

    #[test]
    fn taker_delay_by_date() {
        let c = LatencyConfig::default();
        let just_before = |t: UnixNanos| UnixNanos(t.0 - 1);
        assert_eq!(c.taker_delay_ns(just_before(D_2025_11_14)), 0);
        assert_eq!(c.taker_delay_ns(D_2025_11_14), 500 * MS);
        assert_eq!(c.taker_delay_ns(just_before(D_2026_02_18)), 500 * MS);
        assert_eq!(c.taker_delay_ns(D_2026_02_18), 250 * MS);
        // cronos recording day.
        assert_eq!(
            c.taker_delay_ns(UnixNanos::from_secs(1_776_081_600)),
            250 * MS
        );
        assert_eq!(c.taker_delay_ns(just_before(D_2026_08_17)), 250 * MS);
        assert_eq!(c.taker_delay_ns(D_2026_08_17), 50 * MS);
        assert_eq!(c.taker_delay_ns(just_before(D_2026_09_04)), 50 * MS);
        assert_eq!(c.taker_delay_ns(D_2026_09_04), 150 * MS);
        assert_eq!(
            taker_delay_step_at(D_2026_09_04).evidence,
            Evidence::Protocols
        );
    }

    #[test]
    fn override_and_disable() {
        let mut c = LatencyConfig {
            taker_delay_override_ms: Some(7),
            ..LatencyConfig::default()
        };
        assert_eq!(c.taker_delay_ns(D_2026_09_04), 7 * MS);
        c.taker_delay_enabled = false;
        assert_eq!(c.taker_delay_ns(D_2026_09_04), 0);
        assert_eq!(LatencyConfig::default().order_latency_ns(), 50 * MS);
        assert_eq!(LatencyConfig::zero().taker_delay_ns(D_2026_09_04), 0);
    }

    #[test]
    fn serde_defaults() {
        let c: LatencyConfig = serde_json::from_str(r#"{"order_latency_ms": 120}"#).unwrap();
        assert_eq!(c.order_latency_ms, 120);
        assert_eq!(c.cancel_latency_ms, DEFAULT_CANCEL_LATENCY_MS);
        assert!(c.taker_delay_enabled);
        assert!(serde_json::from_str::<LatencyConfig>(r#"{"bogus": 1}"#).is_err());
    }
}
