//! Hot path of the market-channel parser: one `book` or current-schema `price_change` event
//! object, read from the frame's bytes straight into events.
//!
//! These two events are nearly all of the channel's traffic, so they get a reader that does
//! nothing else: it works on bytes (no UTF-8 validation pass: it accepts ASCII frames only, and
//! every byte it accepts is checked against an ASCII literal, a digit, whitespace or the
//! word-at-a-time string scan), finds the market and token ids by comparing the frame with the
//! per-thread id caches in place (no scan of the 66- and 77-character strings on a hit), keeps
//! no intermediate event, and parses prices and sizes where they stand — except the book levels
//! written exactly as in the same token's previous snapshot, which it copies from there
//! ([`LevelMemo`]).
//!
//! What it takes: a single top-level object (no array wrapper) whose `event_type` is `book` or
//! `price_change`; keys in any order, each at most once, from `market`, `asset_id`,
//! `timestamp`, `hash`, `bids`, `asks`, `tick_size`, `last_trade_price` (book) or `market`,
//! `price_changes`, `timestamp` (price_change), plus keys the parser does not know whose values
//! are strings or `null`/`true`/`false`; ids, prices, sizes and timestamps in the quick shapes of
//! the fast path; levels written `{"price":"…","size":"…"}` without whitespace; `price_changes`
//! entries with `asset_id`, `price`, `size`, `side` and optional `best_bid`/`best_ask` (other
//! keys skipped as above). Anything else — including every invalid frame — returns `None` with
//! `out` untouched, and the caller hands the frame to the general fast path (then to serde).
//! What it accepts it converts exactly as the serde path's `convert` does: the tests compare the
//! two on every real frame and on random mutations.

use std::cell::{Cell, RefCell};

use polyedge_core::event::{BookDelta, BookSnapshot, Level};
use polyedge_core::{BookSide, ConditionId, EventKind, MarketEvent, Price, TokenId, UnixNanos};

use super::fast::{
    decimal, eight_digits, load8, price_decimal, price_of, size_of, string_end, string_stops,
};
use super::{Key, condition_at, token_at};

/// Parses a trimmed, non-empty frame. `None` ⇒ not handled (nothing appended).
pub(super) fn parse(frame: &[u8], recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Option<usize> {
    let before = out.len();
    let res = event(frame, recv_ns, out);
    if res.is_none() {
        out.truncate(before);
    }
    res
}

// Keys seen, as bits.
const MARKET: u16 = 1;
const ASSET_ID: u16 = 1 << 1;
const TIMESTAMP: u16 = 1 << 2;
const HASH: u16 = 1 << 3;
const BIDS: u16 = 1 << 4;
const ASKS: u16 = 1 << 5;
const TICK_SIZE: u16 = 1 << 6;
const LAST_TRADE_PRICE: u16 = 1 << 7;
const PRICE_CHANGES: u16 = 1 << 8;
const EVENT_TYPE: u16 = 1 << 9;
/// Keys a `book` may carry here.
const BOOK_KEYS: u16 =
    MARKET | ASSET_ID | TIMESTAMP | HASH | BIDS | ASKS | TICK_SIZE | LAST_TRADE_PRICE | EVENT_TYPE;
/// Keys a current-schema `price_change` may carry here.
const CHANGE_KEYS: u16 = MARKET | PRICE_CHANGES | TIMESTAMP | EVENT_TYPE;

/// A key written compactly, `name":` after its opening quote: the first eight of those bytes as
/// a little-endian word (`mask` covers the ones that exist) and the bytes after them.
struct Pat {
    name: &'static [u8],
    word: u64,
    mask: u64,
    tail: &'static [u8],
    len: usize,
}

/// The [`Pat`] of `name` given as `name":`.
const fn pat(name_colon: &'static [u8]) -> Pat {
    let (mut word, mut mask, mut k) = (0u64, 0u64, 0);
    while k < name_colon.len() && k < 8 {
        word |= (name_colon[k] as u64) << (8 * k);
        mask |= 0xFF << (8 * k);
        k += 1;
    }
    let (name, _) = name_colon.split_at(name_colon.len() - 2);
    let (_, tail) = name_colon.split_at(k);
    Pat {
        name,
        word,
        mask,
        tail,
        len: name_colon.len(),
    }
}

/// Top-level keys, the price_change ones first.
const TOP_KEYS: [Pat; 10] = [
    pat(b"market\":"),
    pat(b"price_changes\":"),
    pat(b"timestamp\":"),
    pat(b"event_type\":"),
    pat(b"asset_id\":"),
    pat(b"hash\":"),
    pat(b"bids\":"),
    pat(b"asks\":"),
    pat(b"tick_size\":"),
    pat(b"last_trade_price\":"),
];

/// `price_changes[]` entry keys, in the venue's order.
const ENTRY_KEYS: [Pat; 7] = [
    pat(b"asset_id\":"),
    pat(b"price\":"),
    pat(b"size\":"),
    pat(b"side\":"),
    pat(b"hash\":"),
    pat(b"best_bid\":"),
    pat(b"best_ask\":"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Book,
    PriceChange,
}

fn event(b: &[u8], recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Option<usize> {
    let start = out.len();
    let mut c = Cur { b, i: 0 };
    c.byte(b'{')?;
    c.ws();
    let mut seen = 0u16;
    let (mut market, mut token, mut venue_ns, mut hash) = (None, None, None, None);
    let (mut bids, mut asks, mut tick, mut last) = (None, None, None, None);
    let mut kind = None;
    loop {
        let key = match c.quick_key(&TOP_KEYS) {
            Some(k) => k,
            None => c.key()?,
        };
        let bit = match key {
            b"market" => {
                market = Some(c.condition()?);
                MARKET
            }
            b"asset_id" => {
                token = Some(c.token()?);
                ASSET_ID
            }
            b"timestamp" => {
                venue_ns = c.millis()?;
                TIMESTAMP
            }
            b"hash" => {
                hash = c.opt_string()?;
                HASH
            }
            b"bids" => {
                bids = Some(c.levels(token.map(|t| (t, BookSide::Bid)))?);
                BIDS
            }
            b"asks" => {
                asks = Some(c.levels(token.map(|t| (t, BookSide::Ask)))?);
                ASKS
            }
            b"tick_size" => {
                tick = c.opt_price()?;
                TICK_SIZE
            }
            b"last_trade_price" => {
                last = c.opt_price()?;
                LAST_TRADE_PRICE
            }
            b"price_changes" => {
                c.changes(recv_ns, out)?;
                PRICE_CHANGES
            }
            b"event_type" => {
                kind = Some(c.event_type()?);
                EVENT_TYPE
            }
            other => {
                // A field other events carry (e.g. the legacy single-level `price`) is left to
                // the general path; a name nobody reads is skipped, as there.
                let name = std::str::from_utf8(other).ok()?;
                if !matches!(Key::from_name(name), Key::Other) {
                    return None;
                }
                c.skip_scalar()?;
                0
            }
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    c.ws();
    if c.i != b.len() {
        return None;
    }
    match kind? {
        Type::PriceChange => {
            if seen & !CHANGE_KEYS != 0 || seen & PRICE_CHANGES == 0 {
                return None;
            }
            let market = market?;
            for e in &mut out[start..] {
                e.venue_ns = venue_ns;
                if let EventKind::BookDelta(d) = &mut e.kind {
                    d.market = market;
                }
            }
        }
        Type::Book => {
            if seen & !BOOK_KEYS != 0 {
                return None;
            }
            out.push(MarketEvent {
                recv_ns,
                venue_ns,
                kind: EventKind::Book(BookSnapshot {
                    market: market?,
                    token: token?,
                    bids: bids?,
                    asks: asks?,
                    hash: hash.map(str::to_owned),
                    tick_size: tick,
                    last_trade_price: last,
                }),
            });
        }
    }
    Some(out.len() - start)
}

thread_local! {
    /// The side being read and the sides read last (see [`Cur::levels`]).
    static LEVELS: RefCell<LevelMemo> = const { RefCell::new(LevelMemo::new()) };
    /// Levels read by [`Cur::levels`] on this thread, and how many of them were copied.
    static MEMO_STATS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Book levels the hot path has read on this thread, and how many of them it copied from the
/// side's previous snapshot instead of parsing them (see [`LevelMemo`]).
pub(super) fn level_memo_stats() -> (u64, u64) {
    MEMO_STATS.with(Cell::get)
}

/// How many book sides [`LevelMemo`] remembers: both sides of 16 tokens.
const MEMO_SIDES: usize = 32;

/// The reader's memory of the book sides it read last, so that a level written exactly as at
/// the same place in its side's previous snapshot is copied instead of parsed again.
///
/// The venue sends the whole depth in every `book` frame and little of it changes from one
/// frame to the next: over the first 60,000 `book` frames of the cronos recording
/// (`books_2026-04-14.jsonl.zst`), 85.5 % of levels are byte for byte the level at the same
/// index of the same token's side in its previous frame. A level is a pure function of its
/// bytes, so reuse cannot change a result: [`Cur::levels`] compares the array from its level
/// `k` on with the remembered text from the remembered level `k` on, copies the levels (and
/// skips the separators between them) that lie wholly inside the bytes that agree, parses the
/// level where they part, and goes on from the next level the same way. Whatever is not a
/// byte-for-byte copy of remembered text (the separator after a run, the array's end) is read
/// as without the memo, and the key under which a side is remembered only decides how often
/// copies happen. Bounded: [`MEMO_SIDES`] sides, replaced round-robin.
struct LevelMemo {
    /// Levels of the side being read, in written order (reused buffer).
    buf: Vec<Level>,
    /// Each level of the side being read: its start and end in the array's text.
    spans: Vec<(u32, u32)>,
    /// Remembered sides.
    sides: Vec<SideMemo>,
    /// The slot the next new side replaces once `sides` is full.
    next: usize,
}

/// One remembered book side: the text of its array and its levels as read.
struct SideMemo {
    token: TokenId,
    side: BookSide,
    /// The array's bytes after `[`, up to and excluding `]`.
    text: Vec<u8>,
    /// Each level's start and end in `text`.
    spans: Vec<(u32, u32)>,
    /// Levels in written order.
    levels: Vec<Level>,
}

impl LevelMemo {
    const fn new() -> Self {
        LevelMemo {
            buf: Vec::new(),
            spans: Vec::new(),
            sides: Vec::new(),
            next: 0,
        }
    }

    /// Remembers the side just read (`buf`, `spans`) as `key`'s, whose array text is `text`.
    fn remember(&mut self, key: (TokenId, BookSide), text: &[u8]) {
        let slot = match self
            .sides
            .iter()
            .position(|m| m.token == key.0 && m.side == key.1)
        {
            Some(k) => k,
            None if self.sides.len() < MEMO_SIDES => {
                self.sides.push(SideMemo {
                    token: key.0,
                    side: key.1,
                    text: Vec::new(),
                    spans: Vec::new(),
                    levels: Vec::new(),
                });
                self.sides.len() - 1
            }
            None => {
                let k = self.next;
                self.next = (k + 1) % MEMO_SIDES;
                let m = &mut self.sides[k];
                m.token = key.0;
                m.side = key.1;
                k
            }
        };
        let m = &mut self.sides[slot];
        m.text.clear();
        m.text.extend_from_slice(text);
        // The side just read becomes the remembered one; the old vectors are reused next.
        std::mem::swap(&mut m.spans, &mut self.spans);
        std::mem::swap(&mut m.levels, &mut self.buf);
    }
}

/// The index of the first non-whitespace byte at or after `i`.
#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    // Compact frames have none: one comparison (every JSON whitespace byte is ≤ b' ').
    if b.get(i).is_some_and(|&c| c > b' ') {
        return i;
    }
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The length of the longest common prefix of `a` and `b`, compared a word at a time in line
/// (runs of book levels are hundreds of bytes; a call to `memcmp` per level cost more than the
/// comparison: 9.5 % of a backtest's samples under `perf`).
#[inline]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let (mut x, mut y) = (a, b);
    let mut n = 0;
    // 32 bytes at a time while they agree (a vector comparison), then the word that differs.
    while let (Some((p, x_rest)), Some((q, y_rest))) =
        (x.split_first_chunk::<32>(), y.split_first_chunk::<32>())
    {
        if p != q {
            break;
        }
        n += 32;
        x = x_rest;
        y = y_rest;
    }
    while let (Some((p, x_rest)), Some((q, y_rest))) =
        (x.split_first_chunk::<8>(), y.split_first_chunk::<8>())
    {
        let diff = u64::from_le_bytes(*p) ^ u64::from_le_bytes(*q);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
        x = x_rest;
        y = y_rest;
    }
    n + x.iter().zip(y).take_while(|(p, q)| p == q).count()
}

/// A cursor over the frame's bytes. Every method returns `None` on input it does not handle.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    /// Skips JSON whitespace (serde_json's set).
    #[inline]
    fn ws(&mut self) {
        self.i = skip_ws(self.b, self.i);
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// `word` at the cursor, consumed.
    #[inline]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..)?.starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// The body of an ASCII string without escapes whose opening quote was consumed.
    #[inline]
    fn string_body(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let end = string_end::<true>(self.b, start)?;
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        self.b.get(start..end)
    }

    /// One of `pats` written compactly at the cursor (on the opening quote): its name, with
    /// the key, its colon and any whitespace after it consumed. `None` (nothing consumed) for
    /// any other key or spelling; [`key`](Self::key) reads those.
    #[inline]
    fn quick_key(&mut self, pats: &[Pat]) -> Option<&'static [u8]> {
        let b = self.b;
        if b.get(self.i) != Some(&b'"') {
            return None;
        }
        let x = load8(b, self.i + 1)?;
        for p in pats {
            if x & p.mask == p.word && b.get(self.i + 9..)?.starts_with(p.tail) {
                self.i += 1 + p.len;
                self.ws();
                return Some(p.name);
            }
        }
        None
    }

    /// A key and its colon; the cursor is left on the value.
    #[inline]
    fn key(&mut self) -> Option<&'a [u8]> {
        self.byte(b'"')?;
        let b = self.b;
        let start = self.i;
        // Keys are short: the closing quote is in the first or second word.
        let end = match load8(b, start) {
            Some(x) if string_stops::<true>(x) != 0 => {
                start + (string_stops::<true>(x).trailing_zeros() / 8) as usize
            }
            Some(_) => match load8(b, start + 8) {
                Some(y) if string_stops::<true>(y) != 0 => {
                    start + 8 + (string_stops::<true>(y).trailing_zeros() / 8) as usize
                }
                _ => string_end::<true>(b, start + 8)?,
            },
            None => string_end::<true>(b, start)?,
        };
        if b.get(end) != Some(&b'"') {
            return None;
        }
        let key = b.get(start..end)?;
        self.i = end + 1;
        if b.get(self.i) == Some(&b':') {
            self.i += 1;
        } else {
            self.ws();
            self.byte(b':')?;
        }
        self.ws();
        Some(key)
    }

    /// A condition id string, through the per-thread cache.
    fn condition(&mut self) -> Option<ConditionId> {
        self.byte(b'"')?;
        let (id, end) = condition_at(self.b, self.i)?;
        self.i = end;
        Some(id)
    }

    /// A token id string, through the per-thread cache.
    fn token(&mut self) -> Option<TokenId> {
        self.byte(b'"')?;
        let (id, end) = token_at(self.b, self.i)?;
        self.i = end;
        Some(id)
    }

    /// `timestamp`: `null` or 1-13 digits of epoch milliseconds in a string.
    // Outer `None`: not handled here; inner `None`: the value is null (or empty).
    #[allow(clippy::option_option)]
    fn millis(&mut self) -> Option<Option<UnixNanos>> {
        if self.b.get(self.i) == Some(&b'n') {
            return self.literal(b"null").map(|()| None);
        }
        self.byte(b'"')?;
        let start = self.i;
        // Epoch milliseconds have 13 digits until the year 2286: two overlapping words.
        if let (Some(hi), Some(lo)) = (load8(self.b, start), load8(self.b, start + 5))
            && self.b.get(start + 13) == Some(&b'"')
            && let (Some(hi), Some(lo)) = (eight_digits(hi), eight_digits(lo))
        {
            self.i = start + 14;
            return Some(Some(UnixNanos::from_millis(hi * 100_000 + lo % 100_000)));
        }
        let mut ms: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if self.i - start == 13 {
                return None;
            }
            ms = ms * 10 + u64::from(d);
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        self.byte(b'"')?;
        Some(Some(UnixNanos::from_millis(ms)))
    }

    /// An optional string (`null` ⇒ `None`).
    // Outer `None`: not handled here; inner `None`: the value is null (or empty).
    #[allow(clippy::option_option)]
    fn opt_string(&mut self) -> Option<Option<&'a str>> {
        if self.b.get(self.i) == Some(&b'n') {
            return self.literal(b"null").map(|()| None);
        }
        self.byte(b'"')?;
        // ASCII, so this always succeeds.
        std::str::from_utf8(self.string_body()?).ok().map(Some)
    }

    /// `"book"` or `"price_change"`.
    fn event_type(&mut self) -> Option<Type> {
        if self.literal(b"\"book\"").is_some() {
            Some(Type::Book)
        } else {
            self.literal(b"\"price_change\"")
                .map(|()| Type::PriceChange)
        }
    }

    /// The value of a key nobody reads: a string, `null`, `true` or `false`.
    fn skip_scalar(&mut self) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => {
                self.i += 1;
                self.string_body().map(|_| ())
            }
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            _ => None,
        }
    }

    /// A decimal string in micro-units (the quick shapes of `decimal`).
    #[inline]
    fn micros(&mut self) -> Option<u64> {
        self.byte(b'"')?;
        let (v, i) = decimal(self.b, self.i)?;
        if self.b.get(i) != Some(&b'"') {
            return None;
        }
        self.i = i + 1;
        Some(v)
    }

    /// A price string: in `[0, 1]` on the 0.0001 grid.
    #[inline]
    fn price(&mut self) -> Option<Price> {
        price_of(self.micros()?)
    }

    /// An optional price: `null` or `""` ⇒ `None`.
    // Outer `None`: not handled here; inner `None`: the value is null (or empty).
    #[allow(clippy::option_option)]
    fn opt_price(&mut self) -> Option<Option<Price>> {
        match (*self.b.get(self.i)?, self.b.get(self.i + 1)) {
            (b'n', _) => self.literal(b"null").map(|()| None),
            (b'"', Some(b'"')) => {
                self.i += 2;
                Some(None)
            }
            _ => self.price().map(Some),
        }
    }

    /// A `bids`/`asks` array of compact `{"price":"…","size":"…"}` levels, best-first. `key`
    /// (the frame's token, when read before the array, and the side) is where the side is
    /// remembered: runs of levels written as at the same indices there are copied (see
    /// [`LevelMemo`]).
    fn levels(&mut self, key: Option<(TokenId, BookSide)>) -> Option<Vec<Level>> {
        const HEAD: &[u8] = br#"{"price":""#;
        const MID: &[u8] = br#"","size":""#;
        self.byte(b'[')?;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Some(Vec::new());
        }
        // Read into a per-thread buffer, then copied out reversed (best-first) into a vector
        // of exactly the right size: one allocation, no growth, no separate reversal.
        LEVELS.with(|memo| {
            let mut memo = memo.try_borrow_mut().ok()?;
            let LevelMemo {
                buf, spans, sides, ..
            } = &mut *memo;
            buf.clear();
            spans.clear();
            let prev = key.and_then(|(token, side)| {
                sides.iter().find(|m| m.token == token && m.side == side)
            });
            let b = self.b;
            let first = self.i;
            let mut i = first;
            let mut copied = 0u64;
            loop {
                let k = buf.len();
                // The run of levels from `k` on whose text (and the separators between them)
                // is the remembered side's from its level `k` on, byte for byte.
                let run = prev.and_then(|m| {
                    let &(start, _) = m.spans.get(k)?;
                    let same = common_prefix(b.get(i..)?, m.text.get(start as usize..)?);
                    let ends = m.spans[k..]
                        .iter()
                        .take_while(|&&(_, e)| (e - start) as usize <= same)
                        .count();
                    (ends > 0).then_some((m, start, k + ends))
                });
                let j = if let Some((m, start, end)) = run {
                    buf.extend_from_slice(&m.levels[k..end]);
                    // Offsets move by where the run starts here and started there.
                    let here = u32::try_from(i - first).ok()?;
                    spans.extend(
                        m.spans[k..end]
                            .iter()
                            .map(|&(s, e)| (s - start + here, e - start + here)),
                    );
                    copied += (end - k) as u64;
                    i + (m.spans[end - 1].1 - start) as usize
                } else {
                    if !b.get(i..)?.starts_with(HEAD) {
                        return None;
                    }
                    let (price, j) = price_decimal(b, i + HEAD.len())?;
                    if !b.get(j..)?.starts_with(MID) {
                        return None;
                    }
                    let (size, j) = decimal(b, j + MID.len())?;
                    if b.get(j..j + 2)? != br#""}"# {
                        return None;
                    }
                    buf.push(Level {
                        price: price_of(price)?,
                        size: size_of(size)?,
                    });
                    spans.push((
                        u32::try_from(i - first).ok()?,
                        u32::try_from(j + 2 - first).ok()?,
                    ));
                    j + 2
                };
                // The separator after the level (or the run), with optional whitespace.
                i = skip_ws(b, j);
                match *b.get(i)? {
                    b',' => i = skip_ws(b, i + 1),
                    b']' => break,
                    _ => return None,
                }
            }
            self.i = i + 1;
            MEMO_STATS.with(|c| {
                let (read, reused) = c.get();
                c.set((read + buf.len() as u64, reused + copied));
            });
            let out = buf.iter().rev().copied().collect();
            if let Some(key) = key {
                memo.remember(key, b.get(first..i)?);
            }
            Some(out)
        })
    }

    /// A `price_changes` array: its entries are appended to `out` as [`BookDelta`]s whose
    /// `market` and `venue_ns` the caller fills in.
    fn changes(&mut self, recv_ns: UnixNanos, out: &mut Vec<MarketEvent>) -> Option<()> {
        self.byte(b'[')?;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Some(());
        }
        loop {
            let delta = self.change()?;
            out.push(MarketEvent {
                recv_ns,
                venue_ns: None,
                kind: EventKind::BookDelta(delta),
            });
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// One `price_changes[]` entry, converted as the serde path's `delta` converts it.
    fn change(&mut self) -> Option<BookDelta> {
        self.byte(b'{')?;
        self.ws();
        let (mut token, mut side, mut price, mut size) = (None, None, None, None);
        let (mut best_bid, mut best_ask) = (None, None);
        // serde's derive refuses a repeated field (even after a `null`) and ignores unknown ones.
        let mut seen = 0u8;
        loop {
            let key = match self.quick_key(&ENTRY_KEYS) {
                Some(k) => k,
                None => self.key()?,
            };
            let bit = match key {
                b"asset_id" => {
                    token = Some(self.token()?);
                    1
                }
                b"price" => {
                    price = Some(self.price()?);
                    2
                }
                b"size" => {
                    size = Some(size_of(self.micros()?)?);
                    4
                }
                b"side" => {
                    side = Some(self.side()?);
                    8
                }
                b"best_bid" => {
                    best_bid = self.opt_price()?;
                    16
                }
                b"best_ask" => {
                    best_ask = self.opt_price()?;
                    32
                }
                _ => {
                    self.skip_scalar()?;
                    0
                }
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => break,
                _ => return None,
            }
        }
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

    /// `BUY`/`SELL` (any case) as the book side it updates.
    fn side(&mut self) -> Option<BookSide> {
        self.byte(b'"')?;
        let s = self.string_body()?;
        if s.eq_ignore_ascii_case(b"BUY") {
            Some(BookSide::Bid)
        } else if s.eq_ignore_ascii_case(b"SELL") {
            Some(BookSide::Ask)
        } else {
            None
        }
    }
}
