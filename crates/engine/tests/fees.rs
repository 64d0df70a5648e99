//! Fee values against the official SDK vectors and the protocols.md worked example, through the
//! date regime the executor uses.

#![allow(clippy::unwrap_used)]

use polyedge_core::fixed::parse_scaled;
use polyedge_core::{Cash, FeeSchedule, Fixed18, Price, Size, UnixNanos, WindowDuration};
use polyedge_engine::fee_regime::{CRYPTO_2026Q1, fee_schedule_at};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/polymarket/signing/test_vectors.json"
));

/// A JSON number as the decimal string it was written as (shortest round-trip form).
fn dec(v: &serde_json::Value) -> String {
    assert!(v.is_number(), "{v}");
    v.to_string()
}

/// `x` (18-dp fixed) rounded half-to-even to 5 dp, in micro-pUSD.
fn round5_micros(x: i128) -> i64 {
    let d: i128 = 10_000_000_000_000; // 1e13: 1e-18 → 1e-5
    let (q, r) = (x / d, x % d);
    let q = match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 == 1 => q + 1,
        _ => q,
    };
    i64::try_from(q * 10).unwrap()
}

#[test]
fn official_sdk_fee_cases() {
    let json: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let cases = json["fees_official"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    // The vectors use rate 0.25 exponent 2: the schedule our regime table applies to 15-minute
    // windows in Jan–Mar 2026.
    let jan = UnixNanos::from_secs(1_768_003_200); // 2026-01-10
    let regime = fee_schedule_at(jan, WindowDuration::M15, None);
    assert_eq!(regime, CRYPTO_2026Q1);
    for c in cases {
        let rate_ppm = u32::try_from(parse_scaled(&dec(&c["rate"]), 6).unwrap()).unwrap();
        let exponent = u8::try_from(c["exponent"].as_u64().unwrap()).unwrap();
        assert_eq!((rate_ppm, exponent), (regime.rate_ppm, regime.exponent));
        let shares = Size::parse(&dec(&c["shares"])).unwrap();
        let price = Price::parse(&dec(&c["price"])).unwrap();
        let fee = Fixed18::parse(&dec(&c["fee"])).unwrap();
        assert_eq!(regime.taker_fee_exact(shares, price), fee, "{c}");
        // What the venue charges: rounded to 5 decimals.
        assert_eq!(
            regime.taker_fee(shares, price),
            Cash(round5_micros(fee.0)),
            "{c}"
        );
        // Makers pay nothing on this taker-only schedule.
        assert_eq!(regime.maker_fee(shares, price), Cash::ZERO);
    }
}

#[test]
fn crypto_v2_worked_example() {
    // protocols.md §5.2: taker BUY 100 Up @ 0.45 → 100 × 0.07 × 0.45 × 0.55 = 1.73250 pUSD.
    let day = UnixNanos::from_secs(1_776_081_600); // 2026-04-13
    let s = fee_schedule_at(day, WindowDuration::M5, None);
    assert_eq!(s, FeeSchedule::CRYPTO_V2);
    let fee = s.taker_fee(Size::from_shares(100), Price::parse("0.45").unwrap());
    assert_eq!(fee, Cash::parse("1.73250").unwrap());
    // Total cost 46.7325, proceeds of the sell 43.2675.
    let notional = Price::parse("0.45")
        .unwrap()
        .notional(Size::from_shares(100));
    assert_eq!(notional + fee, Cash::parse("46.7325").unwrap());
    assert_eq!(notional - fee, Cash::parse("43.2675").unwrap());
    let json: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    assert!(
        json["fees_official"]["current_crypto_docs_table"]
            .as_str()
            .unwrap()
            .contains("rate 0.07 exponent 1")
    );
}
