//! polyedge-venues (under construction).
