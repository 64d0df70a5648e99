//! Parsed events → table rows ([`TableRows`]), the one conversion used by Parquet export and
//! ClickHouse loading alike.

use std::collections::BTreeMap;

use polyedge_core::event::{ReferenceSource, Venue};
use polyedge_core::market::{BookSide, Side};
use polyedge_core::{EventKind, Fixed18, MarketEvent, Price, Size, UnixNanos, Window};

use crate::schema::Dec18;
use crate::tables::{
    BestBidAskRow, BookDeltaRow, BookSnapshotRow, KlineRow, ReferencePriceRow, SpotQuoteRow,
    SpotTradeRow, TradeRow, WindowRow,
};

/// Counters of a conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertStats {
    /// `*_e8` values that had more than 8 decimals and were rounded (half away from zero).
    pub rounded_e8: u64,
    /// Events not tabled because a value does not fit its column (e.g. a price ≥ 9.2e10 in an
    /// `_e8` column).
    pub out_of_range: u64,
    /// Events of kinds that have no table (tick size changes, depth, liquidations, …), by kind.
    pub untabled: BTreeMap<String, u64>,
}

impl ConvertStats {
    /// Adds `other`'s counters to `self`.
    pub fn add(&mut self, other: &ConvertStats) {
        self.rounded_e8 += other.rounded_e8;
        self.out_of_range += other.out_of_range;
        for (k, v) in &other.untabled {
            *self.untabled.entry(k.clone()).or_default() += v;
        }
    }
}

/// Where a frame sits in its recording: the key columns of every row made from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePos<'a> {
    /// Recording name (ClickHouse only; empty for Parquet).
    pub recording: &'a str,
    /// Stream name.
    pub stream: &'a str,
    /// Hour of the segment file, hours since the Unix epoch.
    pub segment_hour: u32,
    /// Collision suffix of the segment file.
    pub segment_seq: u32,
    /// 0-based index of the frame in the segment file.
    pub record: u32,
}

/// Rows of every event table, accumulated from parsed frames.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRows {
    /// `book_snapshots` rows.
    pub book_snapshots: Vec<BookSnapshotRow>,
    /// `book_deltas` rows.
    pub book_deltas: Vec<BookDeltaRow>,
    /// `trades` rows.
    pub trades: Vec<TradeRow>,
    /// `best_bid_ask` rows.
    pub best_bid_ask: Vec<BestBidAskRow>,
    /// `spot_trades` rows.
    pub spot_trades: Vec<SpotTradeRow>,
    /// `spot_quotes` rows.
    pub spot_quotes: Vec<SpotQuoteRow>,
    /// `reference_prices` rows.
    pub reference_prices: Vec<ReferencePriceRow>,
    /// `klines` rows.
    pub klines: Vec<KlineRow>,
}

/// Names of the event tables, in the order of [`TableRows`]'s fields.
pub const EVENT_TABLES: [&str; 8] = [
    "book_snapshots",
    "book_deltas",
    "trades",
    "best_bid_ask",
    "spot_trades",
    "spot_quotes",
    "reference_prices",
    "klines",
];

/// ns since epoch as `i64` (saturating; `u64` times overflow `i64` only after year 2262).
pub(crate) fn ns(t: UnixNanos) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

/// Wall-clock now, ns since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn price_e6(p: Price) -> i64 {
    i64::from(p.micros())
}

fn size_e6(s: Size) -> i64 {
    i64::try_from(s.micros()).unwrap_or(i64::MAX)
}

const E10: i128 = 10_000_000_000;

/// `v × 1e8` as `i64`, rounded half away from zero; `None` if it does not fit.
pub fn fixed18_to_e8(v: Fixed18, rounded: &mut u64) -> Option<i64> {
    let mut q = v.0 / E10;
    let r = v.0 % E10;
    if r != 0 {
        *rounded += 1;
        if r.abs() >= E10 / 2 {
            q += r.signum();
        }
    }
    i64::try_from(q).ok()
}

fn book_side_name(s: BookSide) -> &'static str {
    match s {
        BookSide::Bid => "bid",
        BookSide::Ask => "ask",
    }
}

/// The table name of a venue (`binance_spot`, …), as in the events' JSON.
pub fn venue_name(v: Venue) -> &'static str {
    match v {
        Venue::BinanceSpot => "binance_spot",
        Venue::BinanceUsdm => "binance_usdm",
        Venue::Coinbase => "coinbase",
        Venue::Deribit => "deribit",
    }
}

/// The table name of a reference source, as in the events' JSON.
pub fn reference_source_name(s: ReferenceSource) -> &'static str {
    match s {
        ReferenceSource::RtdsBinance => "rtds_binance",
        ReferenceSource::Chainlink => "chainlink",
        ReferenceSource::ChainlinkTwap30 => "chainlink_twap30",
        ReferenceSource::ChainlinkTwap60 => "chainlink_twap60",
    }
}

macro_rules! key {
    ($pos:expr, $ev:expr, $idx:expr) => {
        (
            $pos.recording.to_string(),
            $pos.segment_hour,
            $pos.segment_seq,
            ns($ev.recv_ns),
            $ev.venue_ns.map(ns),
            $pos.stream.to_string(),
            $pos.record,
            $idx,
        )
    };
}

impl TableRows {
    /// Total rows over all tables.
    pub fn len(&self) -> usize {
        self.counts().iter().sum()
    }

    /// `true` if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows per table, in the order of [`EVENT_TABLES`].
    pub fn counts(&self) -> [usize; 8] {
        [
            self.book_snapshots.len(),
            self.book_deltas.len(),
            self.trades.len(),
            self.best_bid_ask.len(),
            self.spot_trades.len(),
            self.spot_quotes.len(),
            self.reference_prices.len(),
            self.klines.len(),
        ]
    }

    /// Removes all rows (keeping the allocations).
    pub fn clear(&mut self) {
        self.book_snapshots.clear();
        self.book_deltas.clear();
        self.trades.clear();
        self.best_bid_ask.clear();
        self.spot_trades.clear();
        self.spot_quotes.clear();
        self.reference_prices.clear();
        self.klines.clear();
    }

    /// Appends the rows of one frame's events (`events` as the frame's parser produced them,
    /// in order; `event` column = index in that slice).
    pub fn push_frame(
        &mut self,
        pos: &FramePos<'_>,
        events: &[MarketEvent],
        st: &mut ConvertStats,
    ) {
        for (i, ev) in events.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            if self.push_event(pos, idx, ev, st).is_none() {
                st.out_of_range += 1;
            }
        }
    }

    /// One event; `None` if a value does not fit (nothing appended then).
    fn push_event(
        &mut self,
        pos: &FramePos<'_>,
        idx: u32,
        ev: &MarketEvent,
        st: &mut ConvertStats,
    ) -> Option<()> {
        let (recording, segment_hour, segment_seq, recv_ns, venue_ns, stream, record, event) =
            key!(pos, ev, idx);
        let mut e8 = |v: Fixed18| fixed18_to_e8(v, &mut st.rounded_e8);
        match &ev.kind {
            EventKind::Book(b) => {
                let market = b.market.to_string();
                let token = b.token.to_string();
                let tick = b.tick_size.map(price_e6);
                let row =
                    |side: &str, level: i32, px: Option<i64>, sz: Option<i64>| BookSnapshotRow {
                        recording: recording.clone(),
                        segment_hour,
                        segment_seq,
                        recv_ns,
                        venue_ns,
                        stream: stream.clone(),
                        record,
                        event,
                        market: market.clone(),
                        token: token.clone(),
                        side: side.to_string(),
                        level,
                        price_e6: px,
                        size_e6: sz,
                        hash: b.hash.clone(),
                        tick_size_e6: tick,
                    };
                if b.bids.is_empty() && b.asks.is_empty() {
                    self.book_snapshots.push(row("", -1, None, None));
                }
                for (side, levels) in [("bid", &b.bids), ("ask", &b.asks)] {
                    for (l, lv) in levels.iter().enumerate() {
                        let level = i32::try_from(l).unwrap_or(i32::MAX);
                        self.book_snapshots.push(row(
                            side,
                            level,
                            Some(price_e6(lv.price)),
                            Some(size_e6(lv.size)),
                        ));
                    }
                }
            }
            EventKind::BookDelta(d) => self.book_deltas.push(BookDeltaRow {
                recording,
                segment_hour,
                segment_seq,
                recv_ns,
                venue_ns,
                stream,
                record,
                event,
                market: d.market.to_string(),
                token: d.token.to_string(),
                side: book_side_name(d.side).to_string(),
                price_e6: price_e6(d.price),
                size_e6: size_e6(d.size),
                best_bid_e6: d.best_bid.map(price_e6),
                best_ask_e6: d.best_ask.map(price_e6),
            }),
            EventKind::LastTrade(t) => self.trades.push(TradeRow {
                recording,
                segment_hour,
                segment_seq,
                recv_ns,
                venue_ns,
                stream,
                record,
                event,
                market: t.market.to_string(),
                token: t.token.to_string(),
                price_e6: price_e6(t.price),
                size_e6: size_e6(t.size),
                taker_side: Side::name(t.taker_side).to_string(),
                fee_rate_bps: t.fee_rate_bps,
            }),
            EventKind::BestBidAsk(b) => self.best_bid_ask.push(BestBidAskRow {
                recording,
                segment_hour,
                segment_seq,
                recv_ns,
                venue_ns,
                stream,
                record,
                event,
                market: b.market.map(|m| m.to_string()),
                token: b.token.to_string(),
                bid_e6: b.bid.map(price_e6),
                ask_e6: b.ask.map(price_e6),
                bid_size_e6: b.bid_size.map(size_e6),
                ask_size_e6: b.ask_size.map(size_e6),
            }),
            EventKind::SpotTrade(t) => {
                let row = SpotTradeRow {
                    recording,
                    segment_hour,
                    segment_seq,
                    recv_ns,
                    venue_ns,
                    stream,
                    record,
                    event,
                    venue: venue_name(t.venue).to_string(),
                    symbol: t.symbol.as_str().to_string(),
                    price_e8: e8(t.price)?,
                    qty_e8: e8(t.qty)?,
                    taker_side: t.taker_side.map(|s| Side::name(s).to_string()),
                    trade_id: t.trade_id,
                };
                self.spot_trades.push(row);
            }
            EventKind::SpotQuote(q) => {
                let row = SpotQuoteRow {
                    recording,
                    segment_hour,
                    segment_seq,
                    recv_ns,
                    venue_ns,
                    stream,
                    record,
                    event,
                    venue: venue_name(q.venue).to_string(),
                    symbol: q.symbol.as_str().to_string(),
                    bid_e8: e8(q.bid)?,
                    bid_qty_e8: e8(q.bid_qty)?,
                    ask_e8: e8(q.ask)?,
                    ask_qty_e8: e8(q.ask_qty)?,
                    update_id: q.update_id,
                };
                self.spot_quotes.push(row);
            }
            EventKind::Reference(r) => {
                let row = ReferencePriceRow {
                    recording,
                    segment_hour,
                    segment_seq,
                    recv_ns,
                    venue_ns,
                    stream,
                    record,
                    event,
                    source: reference_source_name(r.source).to_string(),
                    symbol: r.symbol.as_str().to_string(),
                    price_e8: e8(r.price)?,
                    price_e18: Dec18(r.price.0),
                    backfill: r.backfill,
                };
                self.reference_prices.push(row);
            }
            EventKind::Kline(k) => {
                let row = KlineRow {
                    recording,
                    segment_hour,
                    segment_seq,
                    recv_ns,
                    venue_ns,
                    stream,
                    record,
                    event,
                    venue: venue_name(k.venue).to_string(),
                    symbol: k.symbol.as_str().to_string(),
                    open_time_ns: ns(k.open_time),
                    close_time_ns: ns(k.close_time),
                    open_e8: e8(k.open)?,
                    high_e8: e8(k.high)?,
                    low_e8: e8(k.low)?,
                    close_e8: e8(k.close)?,
                    volume_e8: e8(k.volume)?,
                    closed: k.closed,
                };
                self.klines.push(row);
            }
            other => {
                *st.untabled.entry(other.name().to_string()).or_default() += 1;
            }
        }
        Some(())
    }
}

/// The `windows` row of `w` (`recording`/`loaded_ns` as given).
///
/// # Errors
/// A serde error if the window cannot be serialized (not expected).
pub fn window_row(
    w: &Window,
    recording: &str,
    loaded_ns: i64,
    st: &mut ConvertStats,
) -> Result<WindowRow, serde_json::Error> {
    let mut e8 = |v: Fixed18| fixed18_to_e8(v, &mut st.rounded_e8);
    Ok(WindowRow {
        recording: recording.to_string(),
        loaded_ns,
        slug: w.slug.clone(),
        asset: w.asset.ticker().to_string(),
        duration: w.duration.label().to_string(),
        start_ns: ns(w.start),
        end_ns: ns(w.end),
        condition_id: w.condition_id.map(|c| c.to_string()),
        up_token: w.up_token.map(|t| t.to_string()),
        down_token: w.down_token.map(|t| t.to_string()),
        tick_size_e6: w.tick_size.map(price_e6),
        min_order_size_e6: w.min_order_size.map(size_e6),
        strike_e8: w.strike.and_then(&mut e8),
        final_price_e8: w.final_price.and_then(&mut e8),
        outcome: w.outcome.map(|o| o.to_string()),
        outcome_source: w.outcome_source.map(|s| {
            match s {
                polyedge_core::OutcomeSource::Official => "official",
                polyedge_core::OutcomeSource::ChainlinkDerived => "chainlink_derived",
                polyedge_core::OutcomeSource::Inferred => "inferred",
            }
            .to_string()
        }),
        token_sides_inferred: w.token_sides_inferred,
        token_ids_synthetic: w.token_ids_synthetic,
        json: serde_json::to_string(w)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_is_exact_up_to_8_decimals_and_rounds_beyond() {
        let mut r = 0;
        let f = |s: &str| Fixed18::parse(s).unwrap();
        assert_eq!(
            fixed18_to_e8(f("67234.12345678"), &mut r),
            Some(6_723_412_345_678)
        );
        assert_eq!(r, 0);
        assert_eq!(fixed18_to_e8(f("-0.00000001"), &mut r), Some(-1));
        assert_eq!(fixed18_to_e8(f("1.000000015"), &mut r), Some(100_000_002));
        assert_eq!(
            fixed18_to_e8(f("1.000000014999"), &mut r),
            Some(100_000_001)
        );
        assert_eq!(fixed18_to_e8(f("-1.000000015"), &mut r), Some(-100_000_002));
        assert_eq!(r, 3);
        assert_eq!(fixed18_to_e8(f("100000000000"), &mut r), None);
    }
}
