//! Orders as strategies express them and executors report on them.
//!
//! These are venue-neutral: the simulated executor (backtest, paper) and the live CLOB executor
//! take the same [`OrderIntent`] and answer with the same [`ExecReport`]s.

use serde::{Deserialize, Serialize};

use crate::fixed::{Cash, Price, Size};
use crate::market::{Outcome, Side};
use crate::time::UnixNanos;

/// Client-side order id, unique within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub u64);

/// Time in force (protocols.md §2.2: the CLOB's order types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Good till cancelled: rests until filled or cancelled.
    Gtc,
    /// Good till date: rests until filled, cancelled, or the given time.
    Gtd(UnixNanos),
    /// Fill or kill: fills completely at once or not at all.
    Fok,
    /// Fill and kill (IOC): fills what it can at once, the rest is cancelled.
    Fak,
}

/// What a strategy asks for: a limit order on one outcome of one window.
///
/// A marketable order is a limit order whose price crosses the book (e.g. a buy at 0.99).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIntent {
    /// Client id.
    pub id: OrderId,
    /// Window slug.
    pub window: String,
    /// Which outcome token.
    pub outcome: Outcome,
    /// Buy or sell the token.
    pub side: Side,
    /// Limit price (micro-pUSD per share); must be on the window's tick grid.
    pub price: Price,
    /// Size in shares (micro-shares); at least the window's minimum order size.
    pub size: Size,
    /// Time in force.
    pub tif: TimeInForce,
    /// Post-only: reject instead of taking liquidity.
    pub post_only: bool,
}

impl OrderIntent {
    /// The order type as labelled in metrics and tables: `gtc`, `gtd`, `fok`, `fak`, with
    /// `_post_only` appended for a post-only GTC/GTD.
    pub const fn order_type(&self) -> &'static str {
        match (self.tif, self.post_only) {
            (TimeInForce::Gtc, false) => "gtc",
            (TimeInForce::Gtc, true) => "gtc_post_only",
            (TimeInForce::Gtd(_), false) => "gtd",
            (TimeInForce::Gtd(_), true) => "gtd_post_only",
            (TimeInForce::Fok, _) => "fok",
            (TimeInForce::Fak, _) => "fak",
        }
    }
}

/// Why an order was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// Price not a multiple of the tick size in force.
    OffTick {
        /// Tick size in force.
        tick: Price,
    },
    /// Price not strictly inside (0, 1).
    PriceOutOfRange,
    /// Size below the market's minimum order size.
    BelowMinSize {
        /// The minimum.
        min: Size,
    },
    /// Post-only order would have crossed the book.
    PostOnlyWouldCross,
    /// FOK could not be filled completely.
    FokNotFilled,
    /// The window is unknown, not yet open for trading, or already ended.
    MarketClosed,
    /// A pre-trade risk check refused it.
    Risk(String),
    /// The venue (or simulated venue) refused it for another reason.
    Other(String),
}

impl RejectReason {
    /// Every value [`RejectReason::code`] returns, in declaration order.
    pub const CODES: [&'static str; 8] = [
        "off_tick",
        "price_out_of_range",
        "below_min_size",
        "post_only_would_cross",
        "fok_not_filled",
        "market_closed",
        "risk",
        "other",
    ];

    /// A stable code for counting (`off_tick`, `price_out_of_range`, `below_min_size`,
    /// `post_only_would_cross`, `fok_not_filled`, `market_closed`, `risk`, `other`).
    pub fn code(&self) -> &'static str {
        let i = match self {
            RejectReason::OffTick { .. } => 0,
            RejectReason::PriceOutOfRange => 1,
            RejectReason::BelowMinSize { .. } => 2,
            RejectReason::PostOnlyWouldCross => 3,
            RejectReason::FokNotFilled => 4,
            RejectReason::MarketClosed => 5,
            RejectReason::Risk(_) => 6,
            RejectReason::Other(_) => 7,
        };
        Self::CODES[i]
    }
}

/// Maker (resting liquidity) or taker (removed liquidity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Liquidity {
    /// The order rested and was hit.
    Maker,
    /// The order crossed the book.
    Taker,
}

impl Liquidity {
    /// `maker` or `taker`.
    pub const fn name(self) -> &'static str {
        match self {
            Liquidity::Maker => "maker",
            Liquidity::Taker => "taker",
        }
    }
}

/// A fill of (part of) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Order filled.
    pub order: OrderId,
    /// Window slug.
    pub window: String,
    /// Outcome token traded.
    pub outcome: Outcome,
    /// Side of our order.
    pub side: Side,
    /// Fill price.
    pub price: Price,
    /// Shares filled.
    pub size: Size,
    /// Fee charged (micro-pUSD, ≥ 0; 0 for makers on taker-only markets).
    pub fee: Cash,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// When the fill happened (venue time in simulation: the book instant it matched against).
    pub at: UnixNanos,
}

/// What an executor tells the strategy about its orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecReport {
    /// The order reached the venue and was accepted (resting or about to match).
    Accepted {
        /// Order.
        order: OrderId,
        /// When.
        at: UnixNanos,
    },
    /// The order was rejected.
    Rejected {
        /// Order.
        order: OrderId,
        /// Why.
        reason: RejectReason,
        /// When.
        at: UnixNanos,
    },
    /// (Part of) the order filled.
    Filled(Fill),
    /// The order is done without (further) fills: cancelled by us, killed (FAK rest), expired.
    Cancelled {
        /// Order.
        order: OrderId,
        /// Shares left unfilled.
        unfilled: Size,
        /// When.
        at: UnixNanos,
    },
}
