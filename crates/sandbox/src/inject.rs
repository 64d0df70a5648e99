//! Injected frames: malformed (invalid JSON, unknown event types) and oversize
//! (`docs/sandbox.md` §7). Each is a text frame the venue parsers reject.

use bytes::Bytes;
use rand::Rng;

use crate::route::Endpoint;

/// A malformed frame for `endpoint`, chosen with `rng`: a truncated prefix of `next` (the
/// recorded frame it precedes) or a well-formed frame of an unknown event type. `clock_ns` fills
/// timestamps.
pub fn malformed_frame<R: Rng>(
    endpoint: Endpoint,
    rng: &mut R,
    next: &[u8],
    clock_ns: u64,
) -> Bytes {
    let ms = clock_ns / 1_000_000;
    if rng.gen_bool(0.5) {
        Bytes::from(truncated_json(next))
    } else {
        let s = match endpoint {
            Endpoint::Market => format!(
                r#"{{"event_type":"sandbox_unknown","asset_id":"0","market":"0x0","timestamp":"{ms}"}}"#
            ),
            Endpoint::Rtds => format!(
                r#"{{"topic":"sandbox_unknown","type":"update","timestamp":{ms},"payload":{{"symbol":"btcusdt","value":1}}}}"#
            ),
            Endpoint::BinanceSpot | Endpoint::BinanceUsdm => {
                format!(r#"{{"e":"sandboxUnknown","E":{ms},"s":"BTCUSDT"}}"#)
            }
        };
        Bytes::from(s)
    }
}

/// A prefix of a JSON object/array (always invalid JSON: it is unclosed), cut at a UTF-8
/// character boundary; `{"event_type":` when `next` is not such a frame.
fn truncated_json(next: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(next) else {
        return br#"{"event_type":"#.to_vec();
    };
    let t = text.trim();
    if t.len() < 2 || !(t.starts_with('{') || t.starts_with('[')) {
        return br#"{"event_type":"#.to_vec();
    }
    let mut cut = (t.len() / 2).max(1);
    while !t.is_char_boundary(cut) {
        cut -= 1;
    }
    t.as_bytes()[..cut.max(1)].to_vec()
}

/// An oversize text frame of exactly `size` bytes (or the shortest such frame if `size` is
/// smaller): `{"event_type":"sandbox_oversize","pad":"xx…"}`.
pub fn oversize_frame(size: usize) -> Bytes {
    const HEAD: &str = r#"{"event_type":"sandbox_oversize","pad":""#;
    const TAIL: &str = r#""}"#;
    let pad = size.saturating_sub(HEAD.len() + TAIL.len());
    let mut s = String::with_capacity(HEAD.len() + pad + TAIL.len());
    s.push_str(HEAD);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(TAIL);
    Bytes::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversize_has_the_exact_size() {
        assert_eq!(oversize_frame(1_048_577).len(), 1_048_577);
        assert!(serde_json::from_slice::<serde_json::Value>(&oversize_frame(100)).is_ok());
    }

    #[test]
    fn truncation_is_never_valid_json() {
        for f in [
            &br#"{"a":1}"#[..],
            b"[1,2]",
            b"{}",
            b"PONG",
            b"",
            "{\"é\":\"ü\"}".as_bytes(),
        ] {
            let t = truncated_json(f);
            assert!(!t.is_empty());
            assert!(
                serde_json::from_slice::<serde_json::Value>(&t).is_err(),
                "{t:?}"
            );
            assert!(std::str::from_utf8(&t).is_ok());
        }
    }
}
