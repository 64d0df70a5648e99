//! # polyedge-core
//!
//! The domain core of polyedge: exact fixed-point money types in Polymarket's 6-decimal units,
//! identifiers, nanosecond timestamps, the [`Window`] of an Up/Down market, the L2
//! [`OrderBook`](book::OrderBook) of one outcome token, the two-sided [`WindowBook`](window_book::WindowBook)
//! view of a window, the venue fee schedule, and the normalized [`MarketEvent`](event::MarketEvent).
//!
//! Nothing here does I/O. Accounting never touches `f64`.

pub mod book;
pub mod clock;
pub mod event;
pub mod fee_regime;
pub mod fees;
pub mod fixed;
pub mod ids;
pub mod market;
pub mod order;
pub mod time;
pub mod window_book;
pub mod window_index;

pub use book::{BookError, OrderBook};
pub use clock::{Clock, FollowClock, ReplayClock, WallClock};
pub use event::{EventKind, MarketEvent};
pub use fee_regime::fee_schedule_at;
pub use fees::{FeeSchedule, FeeScheduleError};
pub use fixed::{Cash, DecimalError, Fixed18, Price, Size};
pub use ids::{ConditionId, IdError, Symbol, TokenId};
pub use market::{Asset, BookSide, Outcome, OutcomeSource, Side, Window, WindowDuration};
pub use order::{ExecReport, Fill, Liquidity, OrderId, OrderIntent, RejectReason, TimeInForce};
pub use time::UnixNanos;
pub use window_book::{LevelSource, WindowBook};
pub use window_index::{WindowIndex, book_tokens};
