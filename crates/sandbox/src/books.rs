//! The resync book of each asset (`docs/sandbox.md` §2.1): what a client that (re)subscribes
//! is sent first.
//!
//! The hub keeps, per token, the latest recorded `book` event (its exact bytes) and the book
//! state (a [`polyedge_core::OrderBook`]) after every recorded `book` and `price_change` handed
//! out. If no delta came after the latest recorded `book`, the resync is those recorded bytes;
//! otherwise the sandbox serializes the current state as a `book` event in the venue's shape
//! (bids ascending, asks descending, decimal strings, `hash` `"sandbox-resync"`), because a
//! client resyncing from the stale snapshot would hold a wrong book.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use polyedge_core::event::{BookDelta, BookSnapshot};
use polyedge_core::{BookSide, ConditionId, EventKind, OrderBook, TokenId, UnixNanos};

/// A book change found in a recorded market-channel frame.
#[derive(Debug, Clone)]
pub enum BookUpdate {
    /// A `book` snapshot.
    Snapshot(Box<BookSnapshot>),
    /// One `price_change` level.
    Delta(BookDelta),
}

/// The book changes of a market-channel frame, parsed with the venue parser (an unparseable
/// frame has none).
pub fn updates_of(bytes: &[u8], recv_ns: u64) -> Vec<BookUpdate> {
    let mut events = Vec::new();
    if polyedge_venues::polymarket::parse(bytes, UnixNanos(recv_ns), &mut events).is_err() {
        return Vec::new();
    }
    events
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Book(s) => Some(BookUpdate::Snapshot(Box::new(s))),
            EventKind::BookDelta(d) => Some(BookUpdate::Delta(d)),
            _ => None,
        })
        .collect()
}

/// A frame to resend.
#[derive(Debug, Clone)]
pub struct Resync {
    /// Payload.
    pub bytes: Bytes,
    /// Recorded receive time of the recorded book, or of the last delta applied.
    pub recv_ns: u64,
    /// Recorded stream name.
    pub stream: Arc<str>,
}

struct Entry {
    recorded: Option<Resync>,
    book: Option<(OrderBook, ConditionId)>,
    deltas_since_recorded: u64,
    last_ns: u64,
    stream: Arc<str>,
}

/// Resync books by token.
#[derive(Default)]
pub struct Books {
    map: HashMap<TokenId, Entry>,
}

impl Books {
    fn entry(&mut self, token: TokenId, stream: &Arc<str>) -> &mut Entry {
        self.map.entry(token).or_insert_with(|| Entry {
            recorded: None,
            book: None,
            deltas_since_recorded: 0,
            last_ns: 0,
            stream: stream.clone(),
        })
    }

    /// Applies a frame's parsed changes, then remembers its recorded `book` events
    /// (`asset` id string, exact bytes).
    pub fn apply(
        &mut self,
        updates: &[BookUpdate],
        recorded_books: impl IntoIterator<Item = (String, Bytes)>,
        recv_ns: u64,
        stream: &Arc<str>,
    ) {
        for u in updates {
            match u {
                BookUpdate::Snapshot(s) => {
                    let e = self.entry(s.token, stream);
                    let mut b = OrderBook::new(s.token);
                    e.book = b
                        .apply_snapshot(s, UnixNanos(recv_ns))
                        .is_ok()
                        .then_some((b, s.market));
                    e.deltas_since_recorded = 0;
                    e.last_ns = recv_ns;
                }
                BookUpdate::Delta(d) => {
                    let e = self.entry(d.token, stream);
                    if let Some((b, _)) = e.book.as_mut()
                        && b.apply_delta(d, UnixNanos(recv_ns)).is_err()
                    {
                        e.book = None;
                    }
                    e.deltas_since_recorded += 1;
                    e.last_ns = recv_ns;
                }
            }
        }
        for (asset, bytes) in recorded_books {
            let Ok(token) = TokenId::parse(&asset) else {
                continue;
            };
            let e = self.entry(token, stream);
            e.recorded = Some(Resync {
                bytes,
                recv_ns,
                stream: stream.clone(),
            });
            e.deltas_since_recorded = 0;
        }
    }

    /// What to send an asset's new subscriber: the recorded book if nothing changed since, else
    /// the current state as a `book` event; `None` if the asset has no book yet (or its state is
    /// unknown after an unusable delta and no book was recorded since).
    pub fn resync(&self, asset: &str) -> Option<Resync> {
        let token = TokenId::parse(asset).ok()?;
        let e = self.map.get(&token)?;
        if e.deltas_since_recorded == 0
            && let Some(r) = &e.recorded
        {
            return Some(r.clone());
        }
        let (book, market) = e.book.as_ref()?;
        Some(Resync {
            bytes: Bytes::from(book_json(*market, book, e.last_ns)),
            recv_ns: e.last_ns,
            stream: e.stream.clone(),
        })
    }
}

/// `book` event JSON of `book` in the venue's shape (protocols.md §6.2).
pub fn book_json(market: ConditionId, book: &OrderBook, recv_ns: u64) -> String {
    let side = |s: BookSide| {
        // `levels` is best first; the venue sends bids ascending and asks descending (best last).
        let mut levels: Vec<_> = book.levels(s).collect();
        levels.reverse();
        let mut out = String::new();
        for (i, l) in levels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, r#"{{"price":"{}","size":"{}"}}"#, l.price, l.size);
        }
        out
    };
    format!(
        r#"{{"market":"{market}","asset_id":"{}","timestamp":"{}","hash":"sandbox-resync","bids":[{}],"asks":[{}],"event_type":"book"}}"#,
        book.token(),
        recv_ns / 1_000_000,
        side(BookSide::Bid),
        side(BookSide::Ask)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "1234567890123456789012345";
    const M: &str = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1";

    fn book() -> String {
        format!(
            r#"{{"market":"{M}","asset_id":"{T}","timestamp":"1","hash":"h","bids":[{{"price":"0.4","size":"10"}},{{"price":"0.5","size":"20"}}],"asks":[{{"price":"0.7","size":"5"}},{{"price":"0.6","size":"7"}}],"event_type":"book"}}"#
        )
    }

    #[test]
    fn recorded_book_until_a_delta_then_the_current_state() {
        let stream: Arc<str> = Arc::from("polymarket-market");
        let mut b = Books::default();
        let f = book();
        b.apply(
            &updates_of(f.as_bytes(), 1_000_000),
            [(T.to_owned(), Bytes::from(f.clone()))],
            1_000_000,
            &stream,
        );
        assert_eq!(b.resync(T).expect("book").bytes, f.as_bytes());
        let pc = format!(
            r#"{{"market":"{M}","price_changes":[{{"asset_id":"{T}","price":"0.5","side":"BUY","size":"0","hash":"x","best_bid":"0.4","best_ask":"0.6"}},{{"asset_id":"{T}","price":"0.65","side":"SELL","size":"3.5","hash":"y","best_bid":"0.4","best_ask":"0.6"}}],"event_type":"price_change","timestamp":"2"}}"#
        );
        let ups = updates_of(pc.as_bytes(), 2_000_000);
        assert_eq!(ups.len(), 2);
        b.apply(&ups, [], 2_000_000, &stream);
        let r = b.resync(T).expect("state");
        assert_eq!(r.recv_ns, 2_000_000);
        let text = std::str::from_utf8(&r.bytes).expect("utf8");
        assert_eq!(
            text,
            format!(
                r#"{{"market":"{M}","asset_id":"{T}","timestamp":"2","hash":"sandbox-resync","bids":[{{"price":"0.4","size":"10"}}],"asks":[{{"price":"0.7","size":"5"}},{{"price":"0.65","size":"3.5"}},{{"price":"0.6","size":"7"}}],"event_type":"book"}}"#
            )
        );
        // The venue parser reads it back as the same book.
        assert_eq!(updates_of(&r.bytes, 3).len(), 1);
        assert!(b.resync("999").is_none());
    }
}
