//! A polyedge recording's `book` frames as hftbacktest events, and the best bid/ask checksum that
//! both tools must agree on.
//!
//! Every selected `book` frame becomes one `DEPTH_CLEAR_EVENT` (both sides) followed by one
//! `DEPTH_SNAPSHOT_EVENT` per non-empty level (`BUY_EVENT` for bids, `SELL_EVENT` for asks), all
//! flagged `EXCH_EVENT | LOCAL_EVENT` and stamped with the frame's receive time as both
//! `exch_ts` and `local_ts` (ns since the Unix epoch). hftbacktest's `wait_next_feed` processes
//! every event of one local timestamp before it returns, so a frame is seen whole; two frames
//! received in the same nanosecond would be seen as one, so a frame whose receive time is not
//! after the previous frame's gets the previous time + 1 ns (counted in
//! [`Conversion::bumped_ts`]). `wait_next_feed` reports the last timestamp of the data as "end
//! of data" rather than as a feed, so the file ends with one event of no kind (flags only) 1 ns
//! after the last frame, which changes nothing and lets the last frame be seen as a feed.
//!
//! Which frames: by default the most-recorded token of each window (the set hftbacktest was
//! first measured on, see BENCHMARKS.md: one hftbacktest asset, windows back to back, each frame
//! a full snapshot), or every token's frames. The frames are read with polyedge's own
//! replay and parser ([`EventReplay`]) and applied to polyedge's [`OrderBook`]; after each frame
//! the book's best bid and ask, in ticks of [`Conversion::tick_micros`], go into a
//! [`BboChecksum`]. hftbacktest, fed the file, must produce the same checksum from its own depth.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use polyedge_core::{ConditionId, EventKind, OrderBook, TokenId};
use polyedge_store::{EventReplay, ReplayFilter};
use serde::Serialize;

use crate::npy::{
    BUY_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, EXCH_EVENT, Event, LOCAL_EVENT, NpyWriter,
    SELL_EVENT,
};

/// Which tokens' `book` frames to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenChoice {
    /// The token with the most `book` frames in each window (ties: the smaller token id).
    MostRecorded,
    /// Every token.
    All,
}

/// FNV-1a-style 64-bit hash of a sequence of (best bid tick, best ask tick) pairs, one per
/// frame; an empty side counts as tick 0 (no level can rest at price 0).
///
/// `hash = (hash ^ bid) * P; hash = (hash ^ ask) * P` (wrapping), starting from the FNV-1a
/// 64-bit offset basis, with `P` the FNV 64-bit prime. The Python side of `bench/anchors`
/// computes the same in numba.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BboChecksum {
    /// Frames hashed.
    pub frames: u64,
    /// The hash.
    pub hash: u64,
    /// Σ best bid ticks (a readable cross-check).
    pub bid_tick_sum: u64,
    /// Σ best ask ticks.
    pub ask_tick_sum: u64,
}

impl Default for BboChecksum {
    fn default() -> Self {
        BboChecksum {
            frames: 0,
            hash: Self::BASIS,
            bid_tick_sum: 0,
            ask_tick_sum: 0,
        }
    }
}

impl BboChecksum {
    /// FNV-1a 64-bit offset basis.
    pub const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    /// FNV 64-bit prime.
    pub const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// Adds one frame's best bid and ask ticks (0 = empty side).
    pub fn push(&mut self, bid_tick: u64, ask_tick: u64) {
        self.frames += 1;
        self.hash = (self.hash ^ bid_tick).wrapping_mul(Self::PRIME);
        self.hash = (self.hash ^ ask_tick).wrapping_mul(Self::PRIME);
        self.bid_tick_sum += bid_tick;
        self.ask_tick_sum += ask_tick;
    }
}

/// What [`convert`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Conversion {
    /// Token selection used.
    pub tokens_choice: TokenChoice,
    /// `book` frames in the recording (all tokens).
    pub book_frames_total: u64,
    /// Tokens with `book` frames, and how many were selected.
    pub tokens_total: usize,
    /// Tokens selected.
    pub tokens_selected: usize,
    /// Windows (condition ids) with `book` frames.
    pub windows: usize,
    /// Selected frames converted.
    pub frames: u64,
    /// Records written (one clear per frame, one per non-empty level, one end marker).
    pub events: u64,
    /// Non-empty levels written.
    pub levels: u64,
    /// Coarsest tick (micro-pUSD) on which every price of the selected frames lies: the tick
    /// size to give hftbacktest.
    pub tick_micros: u32,
    /// Frames whose timestamp was moved 1 ns after the previous frame's.
    pub bumped_ts: u64,
    /// Frames polyedge's book refused (left out of file and checksum).
    pub refused: u64,
    /// Frames the parser could not read (replay statistics).
    pub parse_errors: u64,
    /// Best bid/ask checksum of polyedge's books after each converted frame.
    pub checksum: BboChecksum,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Converts the `book` frames of `recording` into hftbacktest events in `out` (`.npy`).
///
/// Two passes over the recording: the first counts frames and finds the price grid per token,
/// the second writes the events and the checksum.
///
/// # Errors
/// The recording cannot be opened or read, `out` cannot be written, or the recording has no
/// `book` frames.
pub fn convert(recording: &Path, out: &Path, choice: TokenChoice) -> Result<Conversion> {
    // Pass 1: frames and price grid (gcd of the prices) per (window, token).
    let mut counts: BTreeMap<(ConditionId, TokenId), (u64, u32)> = BTreeMap::new();
    for ev in replay(recording)? {
        let ev = ev.with_context(|| format!("read {}", recording.display()))?;
        if let EventKind::Book(s) = &ev.kind {
            let e = counts.entry((s.market, s.token)).or_insert((0, 1_000_000));
            e.0 += 1;
            for l in s.bids.iter().chain(&s.asks) {
                e.1 = gcd(e.1, l.price.micros());
            }
        }
    }
    if counts.is_empty() {
        bail!("{}: no book frames", recording.display());
    }
    let book_frames_total = counts.values().map(|c| c.0).sum();
    let mut best: BTreeMap<ConditionId, (u64, TokenId)> = BTreeMap::new();
    for (&(market, token), &(n, _)) in &counts {
        let e = best.entry(market).or_insert((n, token));
        // Iteration is in token order, so a tie keeps the smaller token id.
        if n > e.0 {
            *e = (n, token);
        }
    }
    let selected: Vec<TokenId> = match choice {
        TokenChoice::MostRecorded => best.values().map(|&(_, t)| t).collect(),
        TokenChoice::All => counts.keys().map(|&(_, t)| t).collect(),
    };
    let mut books: HashMap<TokenId, OrderBook> =
        selected.iter().map(|&t| (t, OrderBook::new(t))).collect();
    let tick = counts
        .iter()
        .filter(|((_, t), _)| books.contains_key(t))
        .fold(1_000_000, |g, (_, &(_, t))| gcd(g, t))
        .max(1);

    // Pass 2: events and checksum.
    let mut w = NpyWriter::create(out).with_context(|| format!("create {}", out.display()))?;
    let mut conv = Conversion {
        tokens_choice: choice,
        book_frames_total,
        tokens_total: counts.len(),
        tokens_selected: books.len(),
        windows: best.len(),
        frames: 0,
        events: 0,
        levels: 0,
        tick_micros: tick,
        bumped_ts: 0,
        refused: 0,
        parse_errors: 0,
        checksum: BboChecksum::default(),
    };
    let mut last_ts = i64::MIN;
    let mut replay = replay(recording)?;
    for ev in replay.by_ref() {
        let ev = ev?;
        let EventKind::Book(s) = &ev.kind else {
            continue;
        };
        let Some(book) = books.get_mut(&s.token) else {
            continue;
        };
        if book.apply_snapshot(s, ev.recv_ns).is_err() {
            conv.refused += 1;
            continue;
        }
        let mut ts = i64::try_from(ev.recv_ns.0).context("receive time beyond year 2262")?;
        if ts <= last_ts {
            ts = last_ts + 1;
            conv.bumped_ts += 1;
        }
        last_ts = ts;
        let flags = EXCH_EVENT | LOCAL_EVENT;
        let rec = |ev: u64, px: f64, qty: f64| Event {
            ev,
            exch_ts: ts,
            local_ts: ts,
            px,
            qty,
            ..Event::default()
        };
        w.push(rec(DEPTH_CLEAR_EVENT | flags, 0.0, 0.0))?;
        for (side, levels) in [(BUY_EVENT, &s.bids), (SELL_EVENT, &s.asks)] {
            for l in levels.iter().filter(|l| !l.size.is_zero()) {
                w.push(rec(
                    DEPTH_SNAPSHOT_EVENT | flags | side,
                    f64::from(l.price.micros()) / 1e6,
                    l.size.micros() as f64 / 1e6,
                ))?;
                conv.levels += 1;
            }
        }
        conv.frames += 1;
        let tick_of = |l: Option<polyedge_core::event::Level>| {
            l.map_or(0, |l| u64::from(l.price.micros() / tick))
        };
        conv.checksum
            .push(tick_of(book.best_bid()), tick_of(book.best_ask()));
    }
    conv.parse_errors = replay.stats().parse_errors;
    // End marker (see the module docs).
    w.push(Event {
        ev: EXCH_EVENT | LOCAL_EVENT,
        exch_ts: last_ts.saturating_add(1),
        local_ts: last_ts.saturating_add(1),
        ..Event::default()
    })?;
    conv.events = w
        .finish()
        .with_context(|| format!("write {}", out.display()))?;
    Ok(conv)
}

fn replay(recording: &Path) -> Result<EventReplay> {
    EventReplay::open_dirs(&[recording], ReplayFilter::default())
        .with_context(|| format!("open recording {}", recording.display()))
}

/// Replays hftbacktest events as its local processor does for this file's shapes — a clear
/// empties both sides, a snapshot level sets the quantity at its price tick — and returns the
/// best bid/ask checksum after each local timestamp that carried a depth event (the end marker
/// carries none). An independent reading of the file for tests; it does not reuse polyedge's
/// book.
pub fn checksum_of_events(events: &[Event], tick_micros: u32) -> BboChecksum {
    let tick = f64::from(tick_micros) / 1e6;
    let mut bids: BTreeMap<i64, f64> = BTreeMap::new();
    let mut asks: BTreeMap<i64, f64> = BTreeMap::new();
    let mut sum = BboChecksum::default();
    let mut i = 0;
    while i < events.len() {
        let ts = events[i].local_ts;
        let mut depth = false;
        while i < events.len() && events[i].local_ts == ts {
            let e = events[i];
            // Price to tick as hftbacktest does: round(px / tick_size).
            #[allow(clippy::cast_possible_truncation)]
            let t = (e.px / tick).round() as i64;
            match e.ev & 0xff {
                DEPTH_CLEAR_EVENT => {
                    depth = true;
                    bids.clear();
                    asks.clear();
                }
                DEPTH_SNAPSHOT_EVENT => {
                    depth = true;
                    let side = if e.ev & BUY_EVENT != 0 {
                        &mut bids
                    } else {
                        &mut asks
                    };
                    if e.qty > 0.0 {
                        side.insert(t, e.qty);
                    } else {
                        side.remove(&t);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if !depth {
            continue;
        }
        let bid = bids.keys().next_back().map_or(0, |&t| t.cast_unsigned());
        let ask = asks.keys().next().map_or(0, |&t| t.cast_unsigned());
        sum.push(bid, ask);
    }
    sum
}
