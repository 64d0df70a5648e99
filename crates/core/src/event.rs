//! The normalized market event: what every parser produces and every consumer reads.

use serde::{Deserialize, Serialize};

use crate::fixed::{Fixed18, Price, Size};
use crate::ids::{ConditionId, Symbol, TokenId};
use crate::market::{BookSide, Side, Window};
use crate::time::UnixNanos;

/// One price level: price and total size resting there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// Price of the level.
    pub price: Price,
    /// Total size at the level (shares, micro units).
    pub size: Size,
}

/// One price level of a spot venue (prices and quantities in [`Fixed18`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotLevel {
    /// Price in the quote currency.
    pub price: Fixed18,
    /// Quantity in the base currency (0 removes the level in a diff).
    pub qty: Fixed18,
}

/// A normalized market event: venue time, our receive time, and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketEvent {
    /// When our process received the frame (ns since epoch). Replay orders by this.
    pub recv_ns: UnixNanos,
    /// The venue's own timestamp of the event (ns since epoch), when the message carries one.
    pub venue_ns: Option<UnixNanos>,
    /// The event.
    pub kind: EventKind,
}

/// What happened. Polymarket variants carry the token/condition ids; spot variants a [`Venue`]
/// and symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    /// Polymarket `book`: full L2 snapshot of one outcome token.
    Book(BookSnapshot),
    /// Polymarket `price_change` entry: the new total size at one level of one token.
    BookDelta(BookDelta),
    /// Polymarket `last_trade_price`: a trade on one token.
    LastTrade(LastTrade),
    /// Polymarket `tick_size_change`.
    TickSizeChange(TickSizeChange),
    /// Polymarket `best_bid_ask` (also produced by importers of top-of-book series).
    BestBidAsk(BestBidAsk),
    /// Polymarket `new_market`.
    NewMarket(NewMarket),
    /// Polymarket `market_resolved`.
    MarketResolved(MarketResolved),
    /// A reference price (RTDS Binance relay, Chainlink, Chainlink TWAP).
    Reference(ReferenceTick),
    /// A spot or perpetual trade.
    SpotTrade(SpotTrade),
    /// Best bid/ask of a spot or perpetual book.
    SpotQuote(SpotQuote),
    /// Spot or perpetual depth: a snapshot (partial or full) or a diff.
    SpotDepth(SpotDepth),
    /// A candle (Binance kline).
    Kline(Kline),
    /// A forced liquidation (Binance USD-M `forceOrder`).
    Liquidation(Liquidation),
    /// Mark/index price and funding (Binance USD-M `markPriceUpdate`).
    MarkPrice(MarkPrice),
    /// A volatility index value (Deribit DVOL).
    VolIndex(VolIndex),
    /// Continuity was lost on a stream: anything between the last event and the next may be missing.
    Gap(Gap),
    /// The recorder's record of what it knew about a window at this receive time (a control
    /// record `{"type":"window",…}`: written when the window was listed and whenever discovery
    /// learned more — the published price to beat, the resolution). Drivers turn the first one
    /// into a listing and later ones into published strikes and resolutions, at their receive
    /// times.
    WindowUpdate(Box<Window>),
}

impl EventKind {
    /// Short name of the variant, for counters and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            EventKind::Book(_) => "book",
            EventKind::BookDelta(_) => "book_delta",
            EventKind::LastTrade(_) => "last_trade",
            EventKind::TickSizeChange(_) => "tick_size_change",
            EventKind::BestBidAsk(_) => "best_bid_ask",
            EventKind::NewMarket(_) => "new_market",
            EventKind::MarketResolved(_) => "market_resolved",
            EventKind::Reference(_) => "reference",
            EventKind::SpotTrade(_) => "spot_trade",
            EventKind::SpotQuote(_) => "spot_quote",
            EventKind::SpotDepth(_) => "spot_depth",
            EventKind::Kline(_) => "kline",
            EventKind::Liquidation(_) => "liquidation",
            EventKind::MarkPrice(_) => "mark_price",
            EventKind::VolIndex(_) => "vol_index",
            EventKind::Gap(_) => "gap",
            EventKind::WindowUpdate(_) => "window_update",
        }
    }

    /// The Polymarket token this event is about, if any.
    pub fn token(&self) -> Option<TokenId> {
        match self {
            EventKind::Book(b) => Some(b.token),
            EventKind::BookDelta(d) => Some(d.token),
            EventKind::LastTrade(t) => Some(t.token),
            EventKind::TickSizeChange(t) => Some(t.token),
            EventKind::BestBidAsk(b) => Some(b.token),
            _ => None,
        }
    }
}

/// Full L2 snapshot of one outcome token (Polymarket `book`).
///
/// Levels are stored best-first (bids descending, asks ascending) whatever the wire order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookSnapshot {
    /// Condition id (`market`).
    pub market: ConditionId,
    /// Outcome token (`asset_id`).
    pub token: TokenId,
    /// Bids, best (highest) first.
    pub bids: Vec<Level>,
    /// Asks, best (lowest) first.
    pub asks: Vec<Level>,
    /// The venue's book hash (40 hex chars), if sent.
    pub hash: Option<String>,
    /// Tick size, sent on the first snapshot of a subscription.
    pub tick_size: Option<Price>,
    /// Last trade price, sent on the first snapshot of a subscription.
    pub last_trade_price: Option<Price>,
}

/// One level change (Polymarket `price_change` entry).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BookDelta {
    /// Condition id.
    pub market: ConditionId,
    /// Outcome token.
    pub token: TokenId,
    /// Which side of the book changed (`BUY` = bid, `SELL` = ask).
    pub side: BookSide,
    /// Price of the level.
    pub price: Price,
    /// New total size at the level; zero removes it.
    pub size: Size,
    /// Best bid after the change, if the venue sent it.
    pub best_bid: Option<Price>,
    /// Best ask after the change, if the venue sent it.
    pub best_ask: Option<Price>,
}

/// A trade print (Polymarket `last_trade_price`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LastTrade {
    /// Condition id.
    pub market: ConditionId,
    /// Outcome token.
    pub token: TokenId,
    /// Trade price.
    pub price: Price,
    /// Trade size (shares).
    pub size: Size,
    /// Taker side.
    pub taker_side: Side,
    /// Fee rate in basis points as reported on the trade (informational; protocols.md §5.4).
    pub fee_rate_bps: Option<u32>,
}

/// Tick size change (Polymarket `tick_size_change`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TickSizeChange {
    /// Condition id.
    pub market: ConditionId,
    /// Outcome token.
    pub token: TokenId,
    /// Previous tick.
    pub old_tick: Price,
    /// New tick.
    pub new_tick: Price,
}

/// Top of book (Polymarket `best_bid_ask`, or a top-of-book series row).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestBidAsk {
    /// Condition id, when known.
    pub market: Option<ConditionId>,
    /// Outcome token.
    pub token: TokenId,
    /// Best bid, `None` when the bid side is empty.
    pub bid: Option<Price>,
    /// Best ask, `None` when the ask side is empty.
    pub ask: Option<Price>,
    /// Size at the best bid, when known.
    pub bid_size: Option<Size>,
    /// Size at the best ask, when known.
    pub ask_size: Option<Size>,
}

/// A market was created (Polymarket `new_market`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMarket {
    /// Condition id.
    pub market: ConditionId,
    /// Slug.
    pub slug: String,
    /// Question text.
    pub question: String,
    /// Token ids, in the order of `outcomes`.
    pub tokens: Vec<TokenId>,
    /// Outcome labels (`Up`/`Down`, `Yes`/`No`).
    pub outcomes: Vec<String>,
}

/// A market was resolved (Polymarket `market_resolved`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketResolved {
    /// Condition id.
    pub market: ConditionId,
    /// The winning token.
    pub winning_token: TokenId,
    /// The winning outcome's label as sent (`Up`, `Yes`, …).
    pub winning_outcome: String,
}

/// Which reference feed a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSource {
    /// RTDS `crypto_prices`: Binance spot relayed by Polymarket.
    RtdsBinance,
    /// RTDS `crypto_prices_chainlink`: the Chainlink data stream (settlement source until 2026-08).
    Chainlink,
    /// RTDS `crypto_prices_twap_thirty`: Chainlink 30 s TWAP.
    ChainlinkTwap30,
    /// RTDS `crypto_prices_twap_sixty`: Chainlink 60 s TWAP (settlement source since 2026-08-14).
    ChainlinkTwap60,
}

/// A reference-price observation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReferenceTick {
    /// Feed.
    pub source: ReferenceSource,
    /// Symbol as sent (`btc/usd`, `btcusdt`).
    pub symbol: Symbol,
    /// Price (full accuracy when the venue sends it).
    pub price: Fixed18,
    /// `true` when this point came from a backfill (history sent on subscribe), not a live update.
    pub backfill: bool,
}

/// A spot or derivatives venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Venue {
    /// Binance spot.
    BinanceSpot,
    /// Binance USDⓈ-M futures.
    BinanceUsdm,
    /// Coinbase (Exchange or Advanced Trade).
    Coinbase,
    /// Deribit.
    Deribit,
}

/// A spot/perp trade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpotTrade {
    /// Venue.
    pub venue: Venue,
    /// Symbol as sent.
    pub symbol: Symbol,
    /// Trade price.
    pub price: Fixed18,
    /// Trade quantity (base currency).
    pub qty: Fixed18,
    /// Aggressor (taker) side, when it can be told.
    pub taker_side: Option<Side>,
    /// Venue trade id (aggregate id for `aggTrade`), when numeric.
    pub trade_id: Option<u64>,
}

/// Best bid/ask of a spot/perp book.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpotQuote {
    /// Venue.
    pub venue: Venue,
    /// Symbol as sent.
    pub symbol: Symbol,
    /// Best bid price.
    pub bid: Fixed18,
    /// Quantity at best bid.
    pub bid_qty: Fixed18,
    /// Best ask price.
    pub ask: Fixed18,
    /// Quantity at best ask.
    pub ask_qty: Fixed18,
    /// Venue update id, when sent.
    pub update_id: Option<u64>,
}

/// Depth of a spot/perp book: snapshot or diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotDepth {
    /// Venue.
    pub venue: Venue,
    /// Symbol as sent (may be empty for Binance partial depth, which names none; see stream).
    pub symbol: Option<Symbol>,
    /// `true` for a snapshot (partial top-N or full), `false` for a diff.
    pub is_snapshot: bool,
    /// First update id in the event (`U`), for diffs.
    pub first_update_id: Option<u64>,
    /// Last update id (`u` or `lastUpdateId`).
    pub last_update_id: Option<u64>,
    /// Previous event's last id (`pu`, USD-M only).
    pub prev_update_id: Option<u64>,
    /// Bid levels (qty 0 removes in a diff).
    pub bids: Vec<SpotLevel>,
    /// Ask levels (qty 0 removes in a diff).
    pub asks: Vec<SpotLevel>,
}

/// A candle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Kline {
    /// Venue.
    pub venue: Venue,
    /// Symbol as sent.
    pub symbol: Symbol,
    /// Open time (ns since epoch).
    pub open_time: UnixNanos,
    /// Close time (ns since epoch).
    pub close_time: UnixNanos,
    /// Open price.
    pub open: Fixed18,
    /// High price.
    pub high: Fixed18,
    /// Low price.
    pub low: Fixed18,
    /// Close price.
    pub close: Fixed18,
    /// Base-asset volume.
    pub volume: Fixed18,
    /// `true` once the candle is final.
    pub closed: bool,
}

/// A forced liquidation order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Liquidation {
    /// Venue.
    pub venue: Venue,
    /// Symbol as sent.
    pub symbol: Symbol,
    /// Side of the liquidation order.
    pub side: Side,
    /// Order price.
    pub price: Fixed18,
    /// Average fill price.
    pub avg_price: Fixed18,
    /// Original quantity.
    pub qty: Fixed18,
    /// Accumulated filled quantity.
    pub filled_qty: Fixed18,
}

/// Mark price and funding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MarkPrice {
    /// Venue.
    pub venue: Venue,
    /// Symbol as sent.
    pub symbol: Symbol,
    /// Mark price.
    pub mark: Fixed18,
    /// Index price.
    pub index: Fixed18,
    /// Funding rate (fraction per funding interval).
    pub funding_rate: Fixed18,
    /// Next funding time (ns since epoch).
    pub next_funding: UnixNanos,
}

/// A volatility index value (annualized, percent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VolIndex {
    /// Venue.
    pub venue: Venue,
    /// Index name (`btc_usd`).
    pub index: Symbol,
    /// Value in volatility points (e.g. 52.3 = 52.3 % annualized).
    pub value: Fixed18,
}

/// A recorded loss of continuity on a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// Stream name.
    pub stream: String,
    /// Why continuity was lost.
    pub reason: String,
}
