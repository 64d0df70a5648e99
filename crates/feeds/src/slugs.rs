//! Which windows exist at a given time, and their Gamma slugs (protocols.md §1.2).
//!
//! | duration | slug | start |
//! |---|---|---|
//! | 5m, 15m | `{asset}-updown-{5m|15m}-{start_unix_s}` | multiple of 300 / 900 s |
//! | 1h | `{name}-up-or-down-{month}-{day}-{year}-{h}{am|pm}-et` (`bitcoin-up-or-down-june-19-2026-8am-et`) | the UTC hour (ET offsets are whole hours) |
//! | 4h | `{asset}-updown-4h-{start_unix_s}` | **assumed** 00/04/08/12/16/20 h US Eastern (UNCERTAIN in protocols.md) |
//!
//! Names for hourly slugs: `bitcoin`, `ethereum`, `solana`, `xrp` (others have no hourly slug here).

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::America::New_York;
use polyedge_core::{Asset, Window, WindowDuration};

/// The hourly-slug name of an asset.
pub fn hourly_name(asset: Asset) -> Option<&'static str> {
    match asset {
        Asset::Btc => Some("bitcoin"),
        Asset::Eth => Some("ethereum"),
        Asset::Sol => Some("solana"),
        Asset::Xrp => Some("xrp"),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The hourly slug of the window starting at `start_secs` (unix s, on a UTC hour).
pub fn hourly_slug(asset: Asset, start_secs: u64) -> Option<String> {
    let name = hourly_name(asset)?;
    let et = New_York
        .timestamp_opt(i64::try_from(start_secs).ok()?, 0)
        .single()?;
    let h = et.hour();
    let (h12, ampm) = match h {
        0 => (12, "am"),
        1..=11 => (h, "am"),
        12 => (12, "pm"),
        _ => (h - 12, "pm"),
    };
    let month = MONTHS[et.month0() as usize];
    Some(format!(
        "{name}-up-or-down-{month}-{}-{}-{h12}{ampm}-et",
        et.day(),
        et.year()
    ))
}

/// Start (unix s) of the 4-hour window containing `now_secs`, on the assumed US-Eastern grid.
pub fn four_hour_start(now_secs: u64) -> Option<u64> {
    let et = New_York
        .timestamp_opt(i64::try_from(now_secs).ok()?, 0)
        .single()?;
    let back = u64::from((et.hour() % 4) * 3600 + et.minute() * 60 + et.second());
    Some(now_secs - back)
}

/// The window of `asset` and `duration` that contains `now_secs`, and the one after it.
/// `None` for combinations without a known slug (hourly for assets without a name, 1d).
pub fn current_and_next(
    asset: Asset,
    duration: WindowDuration,
    now_secs: u64,
) -> Option<[Window; 2]> {
    let t = asset.ticker();
    let make = |start: u64| -> Option<Window> {
        let slug = match duration {
            WindowDuration::M5 | WindowDuration::M15 | WindowDuration::H4 => {
                format!("{t}-updown-{}-{start}", duration.label())
            }
            WindowDuration::H1 => hourly_slug(asset, start)?,
            WindowDuration::D1 => return None,
        };
        Some(Window::new(slug, asset, duration, start))
    };
    let d = duration.secs();
    let start = match duration {
        WindowDuration::H4 => four_hour_start(now_secs)?,
        _ => now_secs - now_secs % d,
    };
    Some([make(start)?, make(start + d)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_fifteen_minute_slugs() {
        let [a, b] = current_and_next(Asset::Btc, WindowDuration::M5, 1_784_851_000).unwrap();
        assert_eq!(a.slug, "btc-updown-5m-1784850900");
        assert_eq!(b.slug, "btc-updown-5m-1784851200");
        assert_eq!(a.end, b.start);
        let [a, _] = current_and_next(Asset::Eth, WindowDuration::M15, 1_784_851_000).unwrap();
        assert_eq!(a.slug, "eth-updown-15m-1784850300");
    }

    #[test]
    fn hourly_slugs_use_eastern_time() {
        // 2026-06-19 12:00 UTC = 8 am EDT (protocols.md example slug).
        assert_eq!(
            hourly_slug(Asset::Btc, 1_781_870_400).as_deref(),
            Some("bitcoin-up-or-down-june-19-2026-8am-et")
        );
        // 2026-08-30 16:00 UTC = 12 pm EDT.
        assert_eq!(
            hourly_slug(Asset::Btc, 1_788_105_600).as_deref(),
            Some("bitcoin-up-or-down-august-30-2026-12pm-et")
        );
        // Winter: 2026-12-02 05:00 UTC = 12 am EST.
        assert_eq!(
            hourly_slug(Asset::Eth, 1_796_187_600).as_deref(),
            Some("ethereum-up-or-down-december-2-2026-12am-et")
        );
        assert!(hourly_slug(Asset::Doge, 1_796_187_600).is_none());
    }

    #[test]
    fn four_hour_grid_is_eastern() {
        // 2026-12-02 06:30 UTC = 01:30 EST → block starts 00:00 EST = 05:00 UTC.
        assert_eq!(four_hour_start(1_796_193_000), Some(1_796_187_600));
        let [a, b] = current_and_next(Asset::Btc, WindowDuration::H4, 1_796_193_000).unwrap();
        assert_eq!(a.slug, "btc-updown-4h-1796187600");
        assert_eq!(b.start.secs(), 1_796_187_600 + 14_400);
    }
}
