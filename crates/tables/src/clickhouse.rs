//! ClickHouse (todo)
