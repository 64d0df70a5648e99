//! Decimal serde for money, share and price parameters: the strategy API's
//! ([`polyedge_strategy::decimal`]), so engine and strategy configs read the same way (`"20"`
//! or `20`, `"0.5"` or `0.5`; exact, at most 6 decimals; written as decimal strings).

pub use polyedge_strategy::decimal::{cash, fraction_map, price, size};
