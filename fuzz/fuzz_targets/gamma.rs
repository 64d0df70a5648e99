//! Fuzz target: the Gamma REST parsers of discovery (`object_for_slug`, `parse_market`,
//! `parse_event`) on arbitrary bytes (one response body). See docs/reliability.md.

#![no_main]

use polyedge_core::Window;
use polyedge_feeds::gamma::{object_for_slug, parse_event, parse_market};

const SLUG: &str = "btc-updown-5m-1784851200";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(base) = Window::from_slug(SLUG) else {
        return;
    };
    if let Ok(Some(obj)) = object_for_slug(data, SLUG) {
        let _ = parse_market(&base, &obj);
        let _ = parse_event(SLUG, &obj);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_market(&base, text);
        let _ = parse_event(SLUG, text);
    }
});
