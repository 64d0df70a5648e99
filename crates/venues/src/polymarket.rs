//! polymarket parser (being written).

use polyedge_core::{MarketEvent, UnixNanos};

use crate::ParseError;

/// Parses one raw frame.
///
/// # Errors
/// Always, until implemented.
pub fn parse(
    _frame: &[u8],
    _recv_ns: UnixNanos,
    _out: &mut Vec<MarketEvent>,
) -> Result<usize, ParseError> {
    Err(ParseError::UnknownEvent("parser not implemented".into()))
}
