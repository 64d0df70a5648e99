//! Helpers shared by the integration tests: the crate's deterministic test RNG.

// Not every test file uses every helper.
#![allow(dead_code)]

#[path = "../../src/test_rng.rs"]
mod test_rng;

pub use test_rng::Rng;
