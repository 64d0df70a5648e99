//! The `polyedge` binary.
fn main() {}
