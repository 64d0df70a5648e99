//! Hand-written fast path of the market-channel parser.
//!
//! A byte scanner specialised to the shapes the venue sends: a top-level event object (or a
//! one-level array of them) whose values are strings without escapes, `null`, small integers,
//! booleans, `bids`/`asks` arrays of `{"price":"…","size":"…"}` objects, `price_changes` arrays of
//! flat objects, and `assets_ids`/`outcomes` arrays of strings, keys in any order, JSON
//! whitespace anywhere. It fills the same [`RawEvent`] the serde visitor fills and converts it
//! with the same [`convert`], so a frame it accepts gives exactly the events of the serde path.
//!
//! It never reports an error: on anything unexpected (escapes, nested values under unknown keys,
//! duplicate keys, exponents, invalid JSON, a value the conversion rejects, a decimal outside the
//! quick shapes) it returns `None` with `out` untouched and the caller re-parses the frame with
//! serde_json, which produces the error (or the result) with its usual wording.

use polyedge_core::book::GRID_MICROS;
use polyedge_core::event::{BookDelta, Level};
use polyedge_core::{BookSide, ConditionId, EventKind, MarketEvent, Price, Size, UnixNanos};

use super::{At, Changes, Key, Levels, Parsed, RawEvent, Scalar, Seq, cached_token, convert};
use crate::ParseError;

/// Parses a trimmed, non-empty, UTF-8 frame. `None` ⇒ not handled (nothing appended); the
/// caller falls back to serde_json.
pub(super) fn parse(frame: &str, recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Option<Parsed> {
    let before = out.len();
    let Some(mut p) = frame_events(frame, recv_ns, out) else {
        out.truncate(before);
        return None;
    };
    p.events = out.len() - before;
    Some(p)
}

fn frame_events(frame: &str, recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Option<Parsed> {
    let mut sc = Scan {
        s: frame,
        b: frame.as_bytes(),
        i: 0,
    };
    let mut p = Parsed::default();
    if sc.peek()? == b'[' {
        sc.i += 1;
        sc.ws();
        if sc.peek()? == b']' {
            sc.i += 1;
        } else {
            let mut item = 0;
            let mut known = 0;
            loop {
                let at = At {
                    item: Some(item),
                    list: None,
                };
                // An element of an unknown type is skipped (see the parser's docs); one that is
                // not an object is left to serde.
                match event(&mut sc, at, recv_ns, out)? {
                    Event::Known => known += 1,
                    Event::Unknown(t) => p.skip(Some(t)),
                }
                item += 1;
                sc.ws();
                match sc.next()? {
                    b',' => sc.ws(),
                    b']' => break,
                    _ => return None,
                }
            }
            // Nothing known: serde reports the error.
            if known == 0 {
                return None;
            }
        }
    } else if let Event::Unknown(_) = event(&mut sc, At::TOP, recv_ns, out)? {
        return None;
    }
    sc.ws();
    (sc.i == sc.b.len()).then_some(p)
}

/// What [`event`] read.
enum Event {
    /// A known event, converted and appended.
    Known,
    /// An event of this unknown type: nothing appended.
    Unknown(String),
}

/// One event object at the cursor (no leading whitespace), converted and appended to `out`.
fn event(
    sc: &mut Scan<'_>,
    at: At,
    recv_ns: UnixNanos,
    out: &mut Vec<MarketEvent>,
) -> Option<Event> {
    let start = out.len();
    let mut ev = RawEvent::default();
    sc.object(|sc, key| {
        let key = Key::from_name(key);
        let slot = match key {
            Key::EventType => &mut ev.event_type,
            Key::AssetId => &mut ev.asset_id,
            Key::Market => &mut ev.market,
            Key::Timestamp => &mut ev.timestamp,
            Key::Hash => &mut ev.hash,
            Key::TickSize => &mut ev.tick_size,
            Key::LastTradePrice => &mut ev.last_trade_price,
            Key::Price => &mut ev.price,
            Key::Side => &mut ev.side,
            Key::Size => &mut ev.size,
            Key::FeeRateBps => &mut ev.fee_rate_bps,
            Key::OldTickSize => &mut ev.old_tick_size,
            Key::NewTickSize => &mut ev.new_tick_size,
            Key::BestBid => &mut ev.best_bid,
            Key::BestAsk => &mut ev.best_ask,
            Key::BestBidSize => &mut ev.best_bid_size,
            Key::BestAskSize => &mut ev.best_ask_size,
            Key::Id => &mut ev.id,
            Key::Question => &mut ev.question,
            Key::Slug => &mut ev.slug,
            Key::ConditionId => &mut ev.condition_id,
            Key::WinningAssetId => &mut ev.winning_asset_id,
            Key::WinningOutcome => &mut ev.winning_outcome,
            Key::Bids | Key::Asks => {
                let slot = if matches!(key, Key::Bids) {
                    &mut ev.bids
                } else {
                    &mut ev.asks
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(levels(sc)?);
                return Some(());
            }
            Key::PriceChanges => {
                if ev.price_changes.is_some() {
                    return None;
                }
                ev.price_changes = Some(changes(sc, recv_ns, out)?);
                return Some(());
            }
            Key::AssetsIds | Key::Outcomes => {
                let slot = if matches!(key, Key::AssetsIds) {
                    &mut ev.assets_ids
                } else {
                    &mut ev.outcomes
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(scalars(sc)?);
                return Some(());
            }
            Key::Other => return sc.skip_scalar(),
        };
        // The serde path refuses a second value for a field that already holds one.
        if !matches!(slot, Scalar::Absent) {
            return None;
        }
        *slot = sc.scalar()?;
        Some(())
    })?;
    match convert(&mut ev, at, recv_ns, start, out) {
        Ok(()) => Some(Event::Known),
        Err(ParseError::UnknownEvent(t)) => {
            out.truncate(start);
            Some(Event::Unknown(t))
        }
        Err(_) => None,
    }
}

/// A `bids`/`asks` array, best-first.
fn levels(sc: &mut Scan<'_>) -> Option<Levels> {
    if sc.next()? != b'[' {
        return None;
    }
    // A full-depth side has ~50-100 levels of ~33 bytes; size the buffer from the frame.
    let mut levels = Vec::with_capacity((sc.b.len().saturating_sub(sc.i) / 80).clamp(4, 256));
    sc.ws();
    if sc.peek()? == b']' {
        sc.i += 1;
    } else {
        loop {
            levels.push(level(sc)?);
            sc.ws();
            match sc.next()? {
                b',' => sc.ws(),
                b']' => break,
                _ => return None,
            }
        }
    }
    levels.reverse();
    Some(Levels {
        levels,
        error: None,
    })
}

/// One `{"price":"…","size":"…"}` level: the compact key order the venue sends is matched as
/// literal bytes, anything else goes through the general object reader.
fn level(sc: &mut Scan<'_>) -> Option<Level> {
    const HEAD: &[u8] = br#"{"price":""#;
    const MID: &[u8] = br#"","size":""#;
    let b = sc.b;
    if b.get(sc.i..)?.starts_with(HEAD) {
        let (price, i) = decimal(b, sc.i + HEAD.len())?;
        if b.get(i..)?.starts_with(MID) {
            let (size, i) = decimal(b, i + MID.len())?;
            if b.get(i..i + 2)? == br#""}"# {
                sc.i = i + 2;
                return Some(Level {
                    price: price_of(price)?,
                    size: size_of(size)?,
                });
            }
        }
    }
    let (mut price, mut size) = (None, None);
    sc.object(|sc, key| {
        let slot = match key {
            "price" => &mut price,
            "size" => &mut size,
            _ => return None,
        };
        if slot.is_some() || sc.next()? != b'"' {
            return None;
        }
        let (v, i) = decimal(sc.b, sc.i)?;
        if sc.b.get(i) != Some(&b'"') {
            return None;
        }
        sc.i = i + 1;
        *slot = Some(v);
        Some(())
    })?;
    Some(Level {
        price: price_of(price?)?,
        size: size_of(size?)?,
    })
}

/// Largest size the quick routes accept, in micro-shares: 10⁹ shares, the cap `Size::parse`
/// applies to wire sizes (issue 15 item 4). A larger size is declined here and goes to
/// `Size::parse`, which decides (and names the field if it refuses).
pub(super) const SIZE_MAX_MICROS: u64 = 1_000_000_000 * 1_000_000;

/// A size in micro-units as the quick routes accept it: at most [`SIZE_MAX_MICROS`].
#[inline]
pub(super) fn size_of(micros: u64) -> Option<Size> {
    (micros <= SIZE_MAX_MICROS).then_some(Size::from_micros(micros))
}

/// A price in micro-units as the serde path's quick route accepts it: in `[0, 1]`, on the grid.
pub(super) fn price_of(micros: u64) -> Option<Price> {
    if micros > 1_000_000 || !micros.is_multiple_of(u64::from(GRID_MICROS)) {
        return None;
    }
    Price::from_micros(u32::try_from(micros).ok()?).ok()
}

/// The body of a decimal string starting at `i`: `digits[.digits]` with 1-13 integer digits
/// and 1-6 decimals (exactly what `quick_micros` accepts), in micro-units, and the index of the
/// first byte after it. The caller checks that byte is the closing quote.
///
/// One byte at a time: a word-at-a-time version (one 8-byte load, digit mask, multiply-shift
/// digit folding) measured slower on real book frames, whose numbers are 3-8 bytes long.
#[inline]
pub(super) fn decimal(b: &[u8], i: usize) -> Option<(u64, usize)> {
    const POW10: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    let s = b.get(i..)?;
    // Runs longer than the limits are refused after the loop, so their (wrapped) value is never
    // used; 13 + 6 digits fit a u64.
    let mut v: u64 = 0;
    let mut n = 0;
    while let Some(&c) = s.get(n) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    if n == 0 || n > 13 {
        return None;
    }
    if s.get(n) != Some(&b'.') {
        return Some((v * 1_000_000, i + n));
    }
    let frac = n + 1;
    let mut m = frac;
    while let Some(&c) = s.get(m) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        m += 1;
    }
    let k = m - frac;
    if k == 0 || k > 6 {
        return None;
    }
    Some((v * POW10[6 - k], i + m))
}

/// [`decimal`] with a shortcut for the usual price shapes `0.d` and `0.dd` (the venue's cent
/// tick); anything else goes through [`decimal`].
#[inline]
pub(super) fn price_decimal(b: &[u8], i: usize) -> Option<(u64, usize)> {
    if let Some(&[b'0', b'.', d1, d2, d3, ..]) = b.get(i..) {
        let (d1, d2) = (
            u64::from(d1.wrapping_sub(b'0')),
            u64::from(d2.wrapping_sub(b'0')),
        );
        if d1 <= 9 {
            // `decimal` stops at the first non-digit just the same.
            if d2 > 9 {
                return Some((d1 * 100_000, i + 3));
            }
            if !d3.is_ascii_digit() {
                return Some(((d1 * 10 + d2) * 10_000, i + 4));
            }
        }
    }
    decimal(b, i)
}

/// The eight bytes at `i` as a little-endian word (first byte lowest), if there are eight.
#[inline]
pub(super) fn load8(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The value of eight ASCII digits (first byte most significant), `None` if any byte of the
/// word is not a digit.
#[inline]
pub(super) fn eight_digits(x: u64) -> Option<u64> {
    // All digits iff every high nibble is 3 and every high nibble of byte + 6 is 3 (no byte
    // carries then); then fold pairs, quads and halves (Lemire's SWAR digit parsing).
    let all = (x & (0xF0 * ONES)) | (((x.wrapping_add(0x06 * ONES)) & (0xF0 * ONES)) >> 4);
    if all != 0x33 * ONES {
        return None;
    }
    let mut v = x - 0x30 * ONES;
    v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((v * 10_000 + (v >> 32)) & 0xFFFF_FFFF)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `x` that ends a string body: `"`, `\\`, a control character
/// (< 0x20), and with `ASCII` any byte ≥ 0x80. Bytes above the lowest flagged one may be flagged
/// wrongly; the lowest flag is exact.
#[inline]
pub(super) fn string_stops<const ASCII: bool>(x: u64) -> u64 {
    // `(v − n × ONES) & !v & HIGHS` flags the bytes of v below n (n ≤ 0x80). With
    // y = x ^ 0x02 per byte, the bytes of y below 0x21 are exactly `"` (0x22 → 0x20) and the
    // control characters (a permutation of 0x00-0x1F); e = x ^ `\\` is zero exactly at
    // backslashes. A borrow runs only upwards, from a flagged byte.
    let y = x ^ (0x02 * ONES);
    let e = x ^ (u64::from(b'\\') * ONES);
    let mut m = (y.wrapping_sub(0x21 * ONES) & !y) | (e.wrapping_sub(ONES) & !e);
    if ASCII {
        m |= x;
    }
    m & HIGHS
}

/// Index of the first byte at or after `i` that is `"`, `\\` or a control character (< 0x20),
/// and with `ASCII` also any byte ≥ 0x80; eight bytes at a time.
#[inline]
pub(super) fn string_end<const ASCII: bool>(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?;
    let mut words = rest.chunks_exact(8);
    for (k, w) in words.by_ref().enumerate() {
        let m = string_stops::<ASCII>(u64::from_le_bytes(w.try_into().ok()?));
        if m != 0 {
            return Some(i + 8 * k + (m.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20 || (ASCII && c >= 0x80))
        .map(|p| i + (rest.len() - tail.len()) + p)
}

/// A `price_changes` array: its entries are converted and appended to `out` as the serde path
/// does; any entry the conversion rejects abandons the fast path.
fn changes(sc: &mut Scan<'_>, recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Option<Changes> {
    let start = out.len();
    if sc.next()? != b'[' {
        return None;
    }
    sc.ws();
    if sc.peek()? == b']' {
        sc.i += 1;
        return Some(Changes { start, error: None });
    }
    loop {
        out.push(MarketEvent {
            recv_ns,
            venue_ns: None,
            kind: EventKind::BookDelta(change(sc)?),
        });
        sc.ws();
        match sc.next()? {
            b',' => sc.ws(),
            b']' => return Some(Changes { start, error: None }),
            _ => return None,
        }
    }
}

/// One `price_changes[]` entry, converted as the serde path's `delta` converts it (`market` is filled in
/// later). `None` for anything `delta` would refuse and for values outside the quick shapes.
fn change(sc: &mut Scan<'_>) -> Option<BookDelta> {
    let (mut token, mut side, mut price, mut size) = (None, None, None, None);
    let (mut best_bid, mut best_ask) = (None, None);
    // serde's derive refuses any repeated field, even after a `null`.
    let mut seen = 0u8;
    sc.object(|sc, key| {
        let bit = match key {
            "asset_id" => 1,
            "price" => 2,
            "size" => 4,
            "side" => 8,
            "best_bid" => 16,
            "best_ask" => 32,
            _ => return sc.skip_scalar(),
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        // A `null` in a required field is a missing field: left to serde, like every error.
        match bit {
            1 => token = Some(cached_token(sc.string()?).ok()?),
            2 => price = Some(sc.price()?),
            4 => size = Some(sc.size()?),
            8 => side = Some(sc.side()?),
            16 => best_bid = sc.opt_price()?,
            _ => best_ask = sc.opt_price()?,
        }
        Some(())
    })?;
    Some(BookDelta {
        market: ConditionId::default(),
        token: token?,
        side: side?,
        price: price?,
        size: size?,
        best_bid,
        best_ask,
    })
}

/// An `assets_ids`/`outcomes` array of scalars.
fn scalars<'a>(sc: &mut Scan<'a>) -> Option<Seq<Scalar<'a>>> {
    if sc.next()? != b'[' {
        return None;
    }
    let mut items = Vec::new();
    sc.ws();
    if sc.peek()? == b']' {
        sc.i += 1;
        return Some(Seq::Items(items));
    }
    loop {
        items.push(sc.scalar()?);
        sc.ws();
        match sc.next()? {
            b',' => sc.ws(),
            b']' => return Some(Seq::Items(items)),
            _ => return None,
        }
    }
}

/// A skipped JSON number.
enum Number {
    /// A non-negative integer (no sign, no fraction).
    UInt(u64),
    /// Negative or fractional.
    Other,
}

/// A cursor over the frame. Every method returns `None` on input it does not handle.
struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    /// Skips JSON whitespace (exactly serde_json's set).
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    /// An object at the cursor: `{`, then for each key `f(self, key)` with the cursor on the
    /// value (whitespace skipped), which must consume the value; then `}`.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.next()? != b'{' {
            return None;
        }
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            if self.next()? != b'"' {
                return None;
            }
            let key = self.string_body()?;
            self.ws();
            if self.next()? != b':' {
                return None;
            }
            self.ws();
            f(self, key)?;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The rest of a string whose opening quote was consumed; `None` on an escape, a control
    /// character or a missing closing quote.
    fn string_body(&mut self) -> Option<&'a str> {
        let start = self.i;
        let end = string_end::<false>(self.b, start)?;
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        // Quotes are never inside a multi-byte character, so this always succeeds.
        self.s.get(start..end)
    }

    /// An escape-free string value (cursor on its opening quote).
    fn string(&mut self) -> Option<&'a str> {
        if self.next()? != b'"' {
            return None;
        }
        self.string_body()
    }

    /// A decimal string value in micro-units (the quick shapes of [`decimal`]).
    fn micros(&mut self) -> Option<u64> {
        if self.next()? != b'"' {
            return None;
        }
        let (v, i) = decimal(self.b, self.i)?;
        if self.b.get(i) != Some(&b'"') {
            return None;
        }
        self.i = i + 1;
        Some(v)
    }

    /// A price string: in `[0, 1]` on the 0.0001 grid.
    fn price(&mut self) -> Option<Price> {
        price_of(self.micros()?)
    }

    /// A size string.
    fn size(&mut self) -> Option<Size> {
        size_of(self.micros()?)
    }

    /// An optional price: `null` or `""` ⇒ `Some(None)`.
    // Outer `None`: not handled here; inner `None`: the value is null (or empty).
    #[allow(clippy::option_option)]
    fn opt_price(&mut self) -> Option<Option<Price>> {
        match (self.peek()?, self.b.get(self.i + 1)) {
            (b'n', _) => self.literal(b"null").map(|()| None),
            (b'"', Some(b'"')) => {
                self.i += 2;
                Some(None)
            }
            _ => self.price().map(Some),
        }
    }

    /// `BUY`/`SELL` (any case) as the book side it updates.
    fn side(&mut self) -> Option<BookSide> {
        let s = self.string()?;
        if s.eq_ignore_ascii_case("BUY") {
            Some(BookSide::Bid)
        } else if s.eq_ignore_ascii_case("SELL") {
            Some(BookSide::Ask)
        } else {
            None
        }
    }

    /// A value stored as a [`Scalar`]: an escape-free string, `null`, or a small non-negative
    /// integer. Anything else is left to serde.
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string_body().map(Scalar::Str)
            }
            b'n' => self.literal(b"null").map(|()| Scalar::Absent),
            b'0'..=b'9' => match self.number()? {
                Number::UInt(v) => Some(Scalar::UInt(v)),
                Number::Other => None,
            },
            _ => None,
        }
    }

    /// Skips the value of a key nobody reads: a string, number, boolean or `null`.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string_body().map(|_| ())
            }
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..)?.starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// A JSON number without exponent and with at most 18 integer and 18 fractional digits
    /// (bounds inside which serde_json never fails).
    fn number(&mut self) -> Option<Number> {
        let b = self.b;
        let neg = b.get(self.i) == Some(&b'-');
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = b.get(self.i) {
            v = v * 10 + u64::from(c - b'0');
            self.i += 1;
            if self.i - start > 18 {
                return None;
            }
        }
        let digits = self.i - start;
        // No digits, or a leading zero followed by more digits: invalid JSON.
        if digits == 0 || (digits > 1 && b.get(start) == Some(&b'0')) {
            return None;
        }
        let mut int_only = !neg;
        if b.get(self.i) == Some(&b'.') {
            self.i += 1;
            let frac = self.i;
            while let Some(b'0'..=b'9') = b.get(self.i) {
                self.i += 1;
            }
            if self.i == frac || self.i - frac > 18 {
                return None;
            }
            int_only = false;
        }
        if let Some(b'e' | b'E') = b.get(self.i) {
            return None;
        }
        Some(if int_only {
            Number::UInt(v)
        } else {
            Number::Other
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte-at-a-time references of the word-at-a-time helpers.
    fn naive_string_end(b: &[u8], i: usize, ascii: bool) -> Option<usize> {
        b.get(i..)?
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20 || (ascii && c >= 0x80))
            .map(|p| i + p)
    }

    fn check_string_end(b: &[u8], i: usize) {
        assert_eq!(
            string_end::<false>(b, i),
            naive_string_end(b, i, false),
            "{b:?} {i}"
        );
        assert_eq!(
            string_end::<true>(b, i),
            naive_string_end(b, i, true),
            "{b:?} {i}"
        );
    }

    /// A small deterministic generator (no dependency): xorshift64*.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn word_helpers_agree_with_byte_loops() {
        // Every byte value in every position of a word, around digits, dots and quotes.
        for pos in 0..10 {
            for c in 0..=255u8 {
                let mut b = *b"12.4567.90123456";
                b[pos] = c;
                for i in 0..b.len() {
                    check_string_end(&b, i);
                }
            }
        }
        // Random frames over an alphabet dense in the bytes that matter.
        let alphabet = b"0123456789\"\\.\x00\x1f \x7f\x80\xfa\xff\x2f\x3a";
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200_000 {
            let len = rng.below(24);
            let b: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            for i in 0..=len {
                check_string_end(&b, i);
            }
        }
    }

    #[test]
    fn eight_digits_word() {
        let w = |s: &[u8; 8]| eight_digits(u64::from_le_bytes(*s));
        assert_eq!(w(b"17899879"), Some(17_899_879));
        assert_eq!(w(b"00000000"), Some(0));
        assert_eq!(w(b"99999999"), Some(99_999_999));
        for pos in 0..8 {
            for c in (0..=255u8).filter(|c| !c.is_ascii_digit()) {
                let mut b = *b"12345678";
                b[pos] = c;
                assert_eq!(w(&b), None, "{b:?}");
            }
        }
    }

    #[test]
    fn price_shortcut_agrees_with_decimal() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        let alphabet = b"0123456789.\"x";
        for _ in 0..200_000 {
            let len = rng.below(9);
            let mut b: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            if rng.below(2) == 0 {
                b.splice(0..0, *b"0.");
            }
            assert_eq!(price_decimal(&b, 0), decimal(&b, 0), "{b:?}");
        }
        for s in ["0.53\"", "0.5\"", "0.535\"", "0.\"", "0.5", "1\"", "0.53x"] {
            assert_eq!(
                price_decimal(s.as_bytes(), 0),
                decimal(s.as_bytes(), 0),
                "{s}"
            );
        }
    }

    #[test]
    fn decimal_shapes() {
        let d = |s: &str| decimal(s.as_bytes(), 0);
        assert_eq!(d("0.53\""), Some((530_000, 4)));
        assert_eq!(d("12541.33\""), Some((12_541_330_000, 8)));
        assert_eq!(d("7\""), Some((7_000_000, 1)));
        assert_eq!(
            d("1234567890123.123456\""),
            Some((1_234_567_890_123_123_456, 20))
        );
        assert_eq!(d("12345678901234\""), None, "14 integer digits");
        assert_eq!(d("0.1234567\""), None, "7 decimals");
        assert_eq!(d("5.\""), None);
        assert_eq!(d(".5\""), None);
        assert_eq!(d("007.50"), Some((7_500_000, 6)), "at the end of the input");
    }
}
