//! polyedge-engine (being written).
