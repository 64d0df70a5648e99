//! polyedge-store (under construction).
