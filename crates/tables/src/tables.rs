//! The tables: one struct per table, shared by Parquet and ClickHouse.
//!
//! Units, everywhere: timestamps are **Int64 nanoseconds since the Unix epoch (UTC)**
//! (`*_ns`); Polymarket prices are **micro-pUSD per share** and sizes **micro-shares**
//! (`*_e6`, i.e. value × 10⁶, exact); spot/perp/reference prices are in the quote currency
//! and quantities in the base currency, scaled by 10⁸ (`*_e8`, exact for every venue that sends
//! at most 8 decimals — Binance, Coinbase; a value with more decimals is rounded half away
//! from zero and counted in [`ConvertStats::rounded_e8`](crate::convert::ConvertStats));
//! reference prices also carry the exact value as a decimal with 18 fractional digits
//! (`price_e18`, Chainlink's full accuracy).
//!
//! Every event table starts with the same columns: `recv_ns`, `venue_ns`, `stream`,
//! `segment_hour`, `segment_seq`, `record`, `event` (see [`BookDeltaRow`]); (`stream`,
//! `segment_hour`, `segment_seq`, `record`) is the source frame's place in the capture files
//! and, with `event`, identifies an event. ClickHouse tables additionally carry `recording`;
//! their `ReplacingMergeTree` key is (`recording`, `stream`, `segment_hour`, `segment_seq`,
//! `record`, `event`) (plus `side`, `level` for book levels): loading the same segment twice
//! leaves duplicate rows only until ClickHouse merges them (`SELECT … FINAL` hides them at once).

use crate::schema::{Dec18, table};

/// Weekly partitions of tables keyed by segment hour.
const WEEKLY: Option<&str> = Some("intDiv(`segment_hour`, 168)");

table! {
    /// Every raw frame of a recording (ClickHouse only): what replay from ClickHouse reads. The
    /// key (`recording`, `stream`, `segment_hour`, `segment_seq`, `record`) is the frame's place
    /// in the capture files, so replay can follow the file replay order exactly.
    struct FrameRow / FrameBuilders = "frames";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name (see `docs/tables.md`: the recording directory's name by default).
        recording: String,
        /// Hour of the frame's segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
    }
    columns {
        /// Stream name (capture directory).
        stream: String,
        /// Feed code of the stream's parser (docs/recording-format.md §4.1).
        feed_code: u8,
        /// 0-based index of the frame in its segment file.
        record: u32,
        /// Receive time, ns since the Unix epoch.
        recv_ns: i64,
        /// The frame's bytes exactly as received.
        payload: Payload,
    }
}

/// Frame bytes, stored as a ClickHouse `String` (any bytes). Not a Parquet column type: frames
/// are not exported to Parquet (the capture segments are the raw archive).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload(pub Vec<u8>);

impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Payload, E> {
                Ok(Payload(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
                Ok(Payload(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Payload, E> {
                Ok(Payload(v.as_bytes().to_vec()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Payload, E> {
                Ok(Payload(v.into_bytes()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

impl crate::schema::ColumnValue for Payload {
    type Builder = arrow_array::builder::BinaryBuilder;
    fn builder() -> Self::Builder {
        arrow_array::builder::BinaryBuilder::new()
    }
    fn arrow_type() -> arrow_schema::DataType {
        arrow_schema::DataType::Binary
    }
    fn ch_type() -> String {
        "String".to_string()
    }
    fn append(&self, b: &mut Self::Builder) {
        b.append_value(&self.0);
    }
}

table! {
    /// Polymarket `book` snapshots, **one row per price level** (long format): filter
    /// `level == 0` for the best bid/ask, group by (`stream`, `record`, `event`) for one whole
    /// snapshot. A snapshot with no level on either side is one row with `side = ""`,
    /// `level = -1` and null price/size, so that every snapshot appears.
    struct BookSnapshotRow / BookSnapshotBuilders = "book_snapshots";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`, `side`, `level`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's timestamp of the event, ns since the Unix epoch; null if the message has none.
        venue_ns: Option<i64>,
        /// Stream name (capture directory), e.g. `polymarket-market`.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the events parsed from that frame.
        event: u32,
        /// Condition id, `0x` + 64 hex digits.
        market: String,
        /// Outcome token id (uint256 as a decimal string).
        token: String,
        /// `bid` or `ask` (`""` for the row of an empty book).
        side: String,
        /// 0 = best level of its side, 1 = next, … (-1 for the row of an empty book).
        level: i32,
        /// Level price, micro-pUSD per share (1e-6).
        price_e6: Option<i64>,
        /// Total size resting at the level, micro-shares (1e-6).
        size_e6: Option<i64>,
        /// The venue's book hash, if sent.
        hash: Option<String>,
        /// Tick size sent with the snapshot (first snapshot of a subscription), micro-pUSD.
        tick_size_e6: Option<i64>,
    }
}

table! {
    /// Polymarket `price_change` entries: the new total size at one level of one token.
    struct BookDeltaRow / BookDeltaBuilders = "book_deltas";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's timestamp, ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// Condition id.
        market: String,
        /// Outcome token id (decimal string).
        token: String,
        /// `bid` (venue `BUY`) or `ask` (`SELL`).
        side: String,
        /// Level price, micro-pUSD per share.
        price_e6: i64,
        /// New total size at the level, micro-shares; 0 removes the level.
        size_e6: i64,
        /// Best bid after the change, micro-pUSD, if sent.
        best_bid_e6: Option<i64>,
        /// Best ask after the change, micro-pUSD, if sent.
        best_ask_e6: Option<i64>,
    }
}

table! {
    /// Polymarket `last_trade_price`: trades on one outcome token.
    struct TradeRow / TradeBuilders = "trades";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's timestamp, ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// Condition id.
        market: String,
        /// Outcome token id (decimal string).
        token: String,
        /// Trade price, micro-pUSD per share.
        price_e6: i64,
        /// Trade size, micro-shares.
        size_e6: i64,
        /// Taker side: `buy` or `sell`.
        taker_side: String,
        /// Fee rate in basis points as reported on the trade (informational).
        fee_rate_bps: Option<u32>,
    }
}

table! {
    /// Polymarket `best_bid_ask` (and top-of-book series of imported datasets).
    struct BestBidAskRow / BestBidAskBuilders = "best_bid_ask";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's timestamp, ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// Condition id, when known.
        market: Option<String>,
        /// Outcome token id (decimal string).
        token: String,
        /// Best bid, micro-pUSD per share; null when the bid side is empty.
        bid_e6: Option<i64>,
        /// Best ask, micro-pUSD per share; null when the ask side is empty.
        ask_e6: Option<i64>,
        /// Size at the best bid, micro-shares, when known.
        bid_size_e6: Option<i64>,
        /// Size at the best ask, micro-shares, when known.
        ask_size_e6: Option<i64>,
    }
}

table! {
    /// Spot and perpetual trades (Binance spot/USD-M, Coinbase, Deribit).
    struct SpotTradeRow / SpotTradeBuilders = "spot_trades";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's timestamp (trade time when sent), ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// `binance_spot`, `binance_usdm`, `coinbase` or `deribit`.
        venue: String,
        /// Symbol as sent (`BTCUSDT`, `BTC-USD`, …).
        symbol: String,
        /// Trade price in the quote currency × 1e8.
        price_e8: i64,
        /// Trade quantity in the base currency × 1e8.
        qty_e8: i64,
        /// Aggressor side, `buy` or `sell`, when the venue tells.
        taker_side: Option<String>,
        /// Venue trade id (aggregate id for `aggTrade`), when numeric.
        trade_id: Option<u64>,
    }
}

table! {
    /// Best bid/ask of spot and perpetual books (Binance `bookTicker`, Coinbase ticker, …).
    struct SpotQuoteRow / SpotQuoteBuilders = "spot_quotes";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's timestamp, ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// `binance_spot`, `binance_usdm`, `coinbase` or `deribit`.
        venue: String,
        /// Symbol as sent.
        symbol: String,
        /// Best bid price × 1e8.
        bid_e8: i64,
        /// Quantity at the best bid × 1e8.
        bid_qty_e8: i64,
        /// Best ask price × 1e8.
        ask_e8: i64,
        /// Quantity at the best ask × 1e8.
        ask_qty_e8: i64,
        /// Venue update id, when sent.
        update_id: Option<u64>,
    }
}

table! {
    /// Reference prices: Chainlink (settlement source), Chainlink TWAPs and the RTDS Binance relay.
    struct ReferencePriceRow / ReferencePriceBuilders = "reference_prices";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The price's own timestamp, ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// `chainlink`, `chainlink_twap30`, `chainlink_twap60` or `rtds_binance`.
        source: String,
        /// Symbol as sent (`btc/usd`, `btcusdt`).
        symbol: String,
        /// Price in USD × 1e8 (rounded half away from zero when the source has more decimals).
        price_e8: i64,
        /// The exact price, 18 fractional digits (Parquet Decimal128(38,18), ClickHouse Decimal128(18)).
        price_e18: Dec18,
        /// `true` when the point came from the history sent on subscribe, not a live update.
        backfill: bool,
    }
}

table! {
    /// Candles (Binance klines).
    struct KlineRow / KlineBuilders = "klines";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`, `record`, `event`";
    partition_by: WEEKLY;
    version: None;
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Receive time of the frame, ns since the Unix epoch (UTC).
        recv_ns: i64,
        /// The venue's event time, ns since the Unix epoch; null if none.
        venue_ns: Option<i64>,
        /// Stream name.
        stream: String,
        /// Hour of the source segment file, hours since the Unix epoch (UTC).
        segment_hour: u32,
        /// Collision suffix of the segment file name (0 = none, `T12-1` = 1).
        segment_seq: u32,
        /// 0-based index of the source frame in its segment file.
        record: u32,
        /// 0-based index of the event among the frame's events.
        event: u32,
        /// `binance_spot` or `binance_usdm`.
        venue: String,
        /// Symbol as sent.
        symbol: String,
        /// Candle open time, ns since the Unix epoch.
        open_time_ns: i64,
        /// Candle close time, ns since the Unix epoch.
        close_time_ns: i64,
        /// Open price × 1e8.
        open_e8: i64,
        /// High price × 1e8.
        high_e8: i64,
        /// Low price × 1e8.
        low_e8: i64,
        /// Close price × 1e8.
        close_e8: i64,
        /// Base-asset volume × 1e8.
        volume_e8: i64,
        /// `true` once the candle is final.
        closed: bool,
    }
}

table! {
    /// A run's decision log (`decisions.jsonl` of `polyedge run` or `polyedge backtest`): one
    /// row per decision — an order (with the book top, fair value and risk verdict), a cancel,
    /// or a skip (with its reason and, when the strategy had priced one, the trade considered).
    /// Written by `polyedge report` (`tables/decisions/decisions.parquet`, and ClickHouse with
    /// `--clickhouse`).
    struct DecisionRow / DecisionBuilders = "decisions";
    order_by: "`run`, `seq`";
    partition_by: None;
    version: None;
    ch_only {
        /// The run's name (its state directory's name).
        run: String,
    }
    columns {
        /// 0-based line number in `decisions.jsonl`.
        seq: u64,
        /// Decision time, ns since the Unix epoch (the engine's clock).
        at_ns: i64,
        /// Strategy lane (its position in the run).
        lane: u32,
        /// Strategy name.
        strategy: String,
        /// `submit`, `cancel` or `skip`.
        kind: String,
        /// Window slug (empty for a cancel).
        window: String,
        /// The strategy's order id (submit, cancel).
        order_id: Option<u64>,
        /// `Up` or `Down` (submit, skip with a signal).
        outcome: Option<String>,
        /// `buy` or `sell` (submit, skip with a signal).
        side: Option<String>,
        /// Limit price (submit) or the price considered (skip), micro-pUSD per share.
        price_e6: Option<i64>,
        /// Order size, micro-shares (submit).
        size_e6: Option<i64>,
        /// Time in force: `gtc`, `gtd`, `fok`, `fak`, with `_post_only` when post-only (submit).
        order_type: Option<String>,
        /// The strategy's fair value of one share of the outcome, micro-pUSD.
        fair_value_e6: Option<i64>,
        /// Best bid of the order's outcome at decision time, micro-pUSD (submit).
        best_bid_e6: Option<i64>,
        /// Best ask of the order's outcome at decision time, micro-pUSD (submit).
        best_ask_e6: Option<i64>,
        /// `sent`, `refused` (submit), `skipped` (skip), empty for a cancel.
        verdict: String,
        /// The rejection code (refused) or the skip reason code (skip).
        reason: Option<String>,
    }
}

table! {
    /// The window index (`windows.jsonl`): one row per Up/Down window.
    struct WindowRow / WindowBuilders = "windows";
    order_by: "`recording`, `slug`";
    partition_by: None;
    version: Some("loaded_ns");
    ch_only {
        /// Recording name.
        recording: String,
        /// When the row was loaded, ns since the Unix epoch (the latest row of a slug wins).
        loaded_ns: i64,
    }
    columns {
        /// Market slug, e.g. `btc-updown-5m-1776257400`.
        slug: String,
        /// `btc`, `eth`, `sol`, `xrp`, …
        asset: String,
        /// `5m`, `15m`, `1h`, `4h`, `1d`.
        duration: String,
        /// Window start, ns since the Unix epoch.
        start_ns: i64,
        /// Window end, ns since the Unix epoch.
        end_ns: i64,
        /// Condition id, when known.
        condition_id: Option<String>,
        /// Up token id (decimal string), when known.
        up_token: Option<String>,
        /// Down token id (decimal string), when known.
        down_token: Option<String>,
        /// Tick size, micro-pUSD, when known.
        tick_size_e6: Option<i64>,
        /// Minimum order size, micro-shares, when known.
        min_order_size_e6: Option<i64>,
        /// Price to beat (reference at start) × 1e8, when known.
        strike_e8: Option<i64>,
        /// Reference price at the end × 1e8, when known.
        final_price_e8: Option<i64>,
        /// `Up` or `Down`, when known.
        outcome: Option<String>,
        /// `official`, `chainlink_derived` or `inferred`, when known.
        outcome_source: Option<String>,
        /// `true` if the Up/Down token sides were inferred.
        token_sides_inferred: bool,
        /// `true` if the token ids are synthetic (made up by an importer).
        token_ids_synthetic: bool,
        /// The window as one JSON object (the `windows.jsonl` line): every field, exactly.
        json: String,
    }
}

table! {
    /// Recordings loaded into ClickHouse (ClickHouse only).
    struct RecordingRow / RecordingBuilders = "recordings";
    order_by: "`recording`";
    partition_by: None;
    version: Some("loaded_ns");
    ch_only {
        /// Recording name.
        recording: String,
        /// When the row was written, ns since the Unix epoch.
        loaded_ns: i64,
    }
    columns {
        /// The manifest's `created_ns`: identifies the recording (a name clash with another
        /// `created_ns` is refused).
        created_ns: i64,
        /// The manifest's `created_by`.
        created_by: String,
        /// The whole `recording.json` at load time.
        manifest_json: String,
    }
}

table! {
    /// Segments completely loaded into ClickHouse (ClickHouse only); `backfill` skips them.
    struct LoadedSegmentRow / LoadedSegmentBuilders = "loaded_segments";
    order_by: "`recording`, `stream`, `segment_hour`, `segment_seq`";
    partition_by: None;
    version: Some("loaded_ns");
    ch_only {
        /// Recording name.
        recording: String,
    }
    columns {
        /// Stream name.
        stream: String,
        /// Segment hour, hours since the Unix epoch.
        segment_hour: u32,
        /// Segment collision suffix.
        segment_seq: u32,
        /// Frames loaded from the segment.
        frames: u64,
        /// Payload bytes loaded.
        bytes: u64,
        /// `1` if the segment ended in a torn tail (its readable records were loaded).
        torn: u8,
        /// `backfill`, `collect` (loaded by `collect` when the segment closed) or `sink` (`ChSink`).
        source: String,
        /// When it was loaded, ns since the Unix epoch.
        loaded_ns: i64,
    }
}

/// The column reference of every table as Markdown (one section per table: column, Parquet
/// type, ClickHouse type, meaning). `docs/tables.md` embeds it; a test keeps the two equal.
pub fn schema_markdown() -> String {
    use crate::schema::{Column, TableRow};
    fn section<R: TableRow>(out: &mut String, title: &str) {
        out.push_str(&format!("### `{}`{title}\n\n", R::TABLE));
        out.push_str("| column | Parquet | ClickHouse | meaning |\n|---|---|---|---|\n");
        for Column {
            name,
            ch_type,
            arrow_type,
            nullable,
            ch_only,
            doc,
        } in R::columns()
        {
            let pq = if ch_only {
                "—".to_string()
            } else if nullable {
                format!("{arrow_type} (null)")
            } else {
                arrow_type.to_string()
            };
            out.push_str(&format!(
                "| `{name}` | {pq} | `{ch_type}` | {} |\n",
                doc.trim()
            ));
        }
        out.push('\n');
    }
    let mut s = String::new();
    section::<BookSnapshotRow>(&mut s, "");
    section::<BookDeltaRow>(&mut s, "");
    section::<TradeRow>(&mut s, "");
    section::<BestBidAskRow>(&mut s, "");
    section::<SpotTradeRow>(&mut s, "");
    section::<SpotQuoteRow>(&mut s, "");
    section::<ReferencePriceRow>(&mut s, "");
    section::<KlineRow>(&mut s, "");
    section::<WindowRow>(&mut s, "");
    section::<DecisionRow>(&mut s, " (from a run's decision log)");
    section::<FrameRow>(&mut s, " (ClickHouse only)");
    section::<RecordingRow>(&mut s, " (ClickHouse only)");
    section::<LoadedSegmentRow>(&mut s, " (ClickHouse only)");
    s
}
