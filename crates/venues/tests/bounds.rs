//! Issue 15 item 4: sizes from the wire are capped where they enter. A Polymarket level or trade
//! of more than 10⁹ shares (`Size::MAX`) is refused with an error naming the field — the frame is
//! counted as a parse error on its stream — instead of entering books whose sums could overflow.

#![allow(clippy::unwrap_used, missing_docs)]

use polyedge_core::{Size, UnixNanos};
use polyedge_venues::{Feed, ParseError};

const MARKET: &str = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1";
const TOKEN: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

fn book(size: &str) -> String {
    format!(
        r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{TOKEN}","timestamp":"1729084877448","hash":"ab","bids":[{{"price":"0.5","size":"{size}"}}],"asks":[]}}"#
    )
}

#[test]
fn sizes_above_the_cap_are_refused_naming_the_field() {
    let mut out = Vec::new();
    // The largest accepted size parses.
    assert_eq!(
        Feed::PolymarketMarket
            .parse(book("1000000000").as_bytes(), UnixNanos(1), &mut out)
            .unwrap(),
        1
    );
    assert_eq!(Size::parse("1000000000"), Ok(Size::MAX));
    // u64::MAX micro-shares (accepted before the cap) and anything above 10⁹ shares: refused.
    for size in ["18446744073709.551615", "1000000000.000001", "99999999999"] {
        let mut out = Vec::new();
        let err = Feed::PolymarketMarket
            .parse(book(size).as_bytes(), UnixNanos(1), &mut out)
            .unwrap_err();
        assert!(out.is_empty());
        match &err {
            ParseError::BadField { field, reason } => {
                assert!(field.contains("bids") && field.contains("size"), "{err}");
                assert!(reason.contains("out of range"), "{err}");
            }
            other => panic!("{size}: expected a bad field, got {other:?}"),
        }
    }
    // A trade too.
    let trade = format!(
        r#"{{"event_type":"last_trade_price","asset_id":"{TOKEN}","market":"{MARKET}","price":"0.5","size":"5000000000","side":"BUY","fee_rate_bps":"0","timestamp":"1729084877448"}}"#
    );
    assert!(
        Feed::PolymarketMarket
            .parse(trade.as_bytes(), UnixNanos(1), &mut Vec::new())
            .is_err()
    );
}
