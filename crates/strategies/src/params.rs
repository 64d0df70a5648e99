//! Decimal serde for money and prices in strategy parameters, so TOML files say
//! `max_trade = "20"` or `max_trade = 20` (pUSD) and `spread = "0.04"` or `spread = 0.04` (pUSD
//! per share) rather than micro units: the strategy API's [`polyedge_strategy::decimal`].

pub use polyedge_strategy::decimal::{cash, price};
