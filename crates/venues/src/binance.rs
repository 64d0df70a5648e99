//! Binance parser (being written).

use polyedge_core::{MarketEvent, UnixNanos};

use crate::ParseError;

/// Parses one raw Binance spot frame.
///
/// # Errors
/// Always, until implemented.
pub fn parse_spot(
    _frame: &[u8],
    _recv_ns: UnixNanos,
    _out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    Err(ParseError::UnknownEvent("parser not implemented".into()))
}

/// Parses one raw Binance USDⓈ-M frame.
///
/// # Errors
/// Always, until implemented.
pub fn parse_usdm(
    _frame: &[u8],
    _recv_ns: UnixNanos,
    _out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    Err(ParseError::UnknownEvent("parser not implemented".into()))
}
