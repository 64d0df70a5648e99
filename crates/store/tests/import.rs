//! Importer tests: pure row → frame/window conversions on literal rows (exact bytes), and full
//! imports of the real datasets in `../shared/data` checked against their PROVENANCE counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::{Path, PathBuf};

use polyedge_core::event::EventKind;
use polyedge_core::{
    ConditionId, FeeSchedule, Fixed18, Outcome, OutcomeSource, Price, Size, TokenId, UnixNanos,
};
use polyedge_store::import::common::{self, Candle};
use polyedge_store::import::{
    ImportKind, ImportReport, cronos, dry_run, felixdoteth, herbalclaw, import, jo267x, ligengxin,
    thevalerka,
};
use polyedge_store::{FrameReplay, NoProgress, Progress, Recording, ReplayFilter, StoreError};
use polyedge_venues::Feed;

fn shared(folder: &str) -> PathBuf {
    let p =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(folder);
    assert!(p.is_dir(), "dataset folder {} not found", p.display());
    p
}

fn sample() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample"))
}

fn tok(s: &str) -> TokenId {
    TokenId::parse(s).unwrap()
}

/// Imports into a fresh temp dir; checks the writer's summary agrees with the report.
fn import_real(kind: ImportKind, src: &Path) -> (tempfile::TempDir, ImportReport, Recording) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rec");
    let report = import(kind, src, &out, &NoProgress).unwrap();
    let summary = report.recording.clone().expect("writer summary");
    assert_eq!(summary.frames, report.frames, "writer frames vs report");
    assert_eq!(summary.windows, report.windows);
    let rec = Recording::open(&out).unwrap();
    assert_eq!(rec.windows().len() as u64, report.windows);
    assert_eq!(
        rec.meta().created_by,
        format!("polyedge import {}", kind.name())
    );
    assert!(!rec.meta().sources.is_empty() && !rec.meta().caveats.is_empty());
    // Everything an importer writes must replay through the real venue parsers: every frame
    // read back, none rejected.
    let mut replay =
        polyedge_store::EventReplay::open(std::slice::from_ref(&rec), ReplayFilter::default())
            .unwrap();
    for ev in replay.by_ref() {
        ev.unwrap();
    }
    let st = replay.stats();
    assert_eq!(st.parse_errors, 0, "{kind:?}: {:?}", st.parse_error_samples);
    assert_eq!(
        st.frames,
        report.frames.values().sum::<u64>(),
        "{kind:?}: frames replayed"
    );
    assert_eq!(st.torn_tails, 0);
    (tmp, report, rec)
}

fn frames(r: &ImportReport, stream: &str) -> u64 {
    r.frames.get(stream).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

#[test]
fn import_kind_parses_short_and_folder_names() {
    for k in ImportKind::ALL {
        assert_eq!(k.name().parse::<ImportKind>(), Ok(k));
        assert_eq!(k.folder().parse::<ImportKind>(), Ok(k));
        assert_eq!(k.to_string(), k.name());
    }
    assert_eq!("cronos".parse(), Ok(ImportKind::Cronos));
    assert_eq!("cronos_btc5m_books".parse(), Ok(ImportKind::Cronos));
    assert_eq!(
        "Herbalclaw_btc5m_bbo_2026-02/".parse(),
        Ok(ImportKind::Herbalclaw)
    );
    assert!("nope".parse::<ImportKind>().unwrap_err().contains("cronos"));
}

// ---------------------------------------------------------------------------------------------
// Shared frame builders
// ---------------------------------------------------------------------------------------------

#[test]
fn best_bid_ask_frame_exact() {
    let m =
        ConditionId::parse("0x0caeb05adad5adc4092885b50be90842f690b3671036d33be1929eed6c07859d")
            .unwrap();
    let t = tok("123");
    assert_eq!(
        common::best_bid_ask_frame(
            Some(&m),
            &t,
            Some(Price::parse("0.52").unwrap()),
            Some(Price::parse("0.53").unwrap()),
            1_771_358_973_999
        ),
        r#"{"event_type":"best_bid_ask","market":"0x0caeb05adad5adc4092885b50be90842f690b3671036d33be1929eed6c07859d","asset_id":"123","best_bid":"0.52","best_ask":"0.53","spread":"0.01","timestamp":"1771358973999"}"#
    );
    // Empty bid side: no best_bid, no spread.
    assert_eq!(
        common::best_bid_ask_frame(None, &t, None, Some(Price::parse("0.01").unwrap()), 5),
        r#"{"event_type":"best_bid_ask","asset_id":"123","best_ask":"0.01","timestamp":"5"}"#
    );
    assert_eq!(common::format_micros(525_000), "0.525");
    assert_eq!(common::format_micros(1_000_000), "1");
    assert_eq!(common::format_micros(10_000), "0.01");
}

#[test]
fn synthesized_best_bid_ask_parses_with_the_real_parser() {
    let t = tok("70874672685351035308711333458813263466575013099739521439219267449548875491599");
    let frame = common::best_bid_ask_frame(
        None,
        &t,
        Some(Price::parse("0.52").unwrap()),
        None,
        1_771_358_973_999,
    );
    let mut out = Vec::new();
    let n = Feed::PolymarketMarket
        .parse(frame.as_bytes(), UnixNanos(7), &mut out)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        out[0].venue_ns,
        Some(UnixNanos::from_millis(1_771_358_973_999))
    );
    let EventKind::BestBidAsk(b) = &out[0].kind else {
        panic!("{:?}", out[0].kind)
    };
    assert_eq!(b.token, t);
    assert_eq!(b.market, None);
    assert_eq!(b.bid, Some(Price::parse("0.52").unwrap()));
    assert_eq!(b.ask, None);
}

#[test]
fn rtds_and_kline_frames_exact() {
    assert_eq!(
        common::rtds_update_frame(
            common::TOPIC_CHAINLINK,
            1_784_851_201_160,
            "btc/usd",
            1_784_851_200_000,
            "65048.078902260626",
            Some("65048078902260626000000")
        ),
        r#"{"topic":"crypto_prices_chainlink","type":"update","timestamp":1784851201160,"payload":{"symbol":"btc/usd","timestamp":1784851200000,"value":65048.078902260626,"full_accuracy_value":"65048078902260626000000"}}"#
    );
    let c = Candle {
        open_time_ms: 1_776_079_860_000,
        open: "70844.40",
        high: "70844.50",
        low: "70839.90",
        close: "70844.00",
        volume: "19.587",
    };
    assert_eq!(
        common::binance_kline_frame("BTCUSDT", &c),
        r#"{"e":"kline","E":1776079920000,"s":"BTCUSDT","k":{"t":1776079860000,"T":1776079919999,"s":"BTCUSDT","i":"1m","o":"70844.40","c":"70844.00","h":"70844.50","l":"70839.90","v":"19.587","x":true}}"#
    );
}

#[test]
fn synthesized_rtds_parses_with_the_real_parser() {
    let f = ligengxin::chainlink_frame(&ligengxin::ChainlinkRow {
        feed_ts_ms: 1_784_851_200_000,
        value: "65048.078902260626".into(),
        full_accuracy_value: "65048078902260626000000".into(),
        server_ts_ms: 1_784_851_201_160,
        recv_ms: 1_784_851_201_377,
    })
    .unwrap()
    .1;
    let mut out = Vec::new();
    assert_eq!(
        Feed::Rtds
            .parse(f.as_bytes(), UnixNanos(1), &mut out)
            .unwrap(),
        1
    );
    let EventKind::Reference(r) = &out[0].kind else {
        panic!("{:?}", out[0].kind)
    };
    assert_eq!(r.price, Fixed18::parse("65048.078902260626").unwrap());
    assert!(r.symbol.eq_ignore_case("btc/usd"));
    // herbalclaw: value only, no full_accuracy_value.
    let f = herbalclaw::binance_frame(1_771_358_973_999, "67567.72");
    out.clear();
    assert_eq!(
        Feed::Rtds
            .parse(f.as_bytes(), UnixNanos(1), &mut out)
            .unwrap(),
        1
    );
    let EventKind::Reference(r) = &out[0].kind else {
        panic!("{:?}", out[0].kind)
    };
    assert_eq!(r.price, Fixed18::parse("67567.72").unwrap());
}

#[test]
fn synthesized_kline_parses_with_the_real_parser() {
    let (_, f) = cronos::kline_frame(&cronos::KlineRow {
        open_time_ms: 1_776_079_860_000,
        open: "70844.40".into(),
        high: "70844.50".into(),
        low: "70839.90".into(),
        close: "70844.00".into(),
        volume_btc: "19.587".into(),
    })
    .unwrap();
    let mut out = Vec::new();
    assert_eq!(
        Feed::BinanceUsdm
            .parse(f.as_bytes(), UnixNanos(1), &mut out)
            .unwrap(),
        1
    );
    let EventKind::Kline(k) = &out[0].kind else {
        panic!("{:?}", out[0].kind)
    };
    assert_eq!(k.open_time, UnixNanos::from_millis(1_776_079_860_000));
    assert_eq!(k.close, Fixed18::parse("70844").unwrap());
    assert_eq!(k.volume, Fixed18::parse("19.587").unwrap());
    assert!(k.closed);
}

// ---------------------------------------------------------------------------------------------
// cronos
// ---------------------------------------------------------------------------------------------

#[test]
fn cronos_book_line_is_verbatim() {
    // Odd spacing and key order inside `raw` must survive byte-for-byte.
    let raw = r#"{"market":"0x13422fd58f5afa5cd9792fd5c7036bc04377d5996e0597f253df2725bd044ddb", "asset_id":"104472376509976988766346716475120511145011517755906344501669377783651998139803","timestamp":"1776153610672","hash":"52afcae590bdca530ad679b2f4e164ec8e68bedd","bids":[{"price":"0.01","size":"12584.58"}],"asks":[{"price":"0.99","size":"3550.50"}],"event_type":"book"}"#;
    let line =
        format!(r#"{{"recv_ts":1776153610.610981,"slug":"btc-updown-5m-1776153600","raw":{raw}}}"#);
    let b = cronos::parse_book_line(&line).unwrap();
    assert_eq!(b.raw, raw);
    assert_eq!(b.recv_ns, UnixNanos(1_776_153_610_610_981_000));
    assert_eq!(b.slug, "btc-updown-5m-1776153600");
    assert!(cronos::parse_book_line(r#"{"recv_ts":1.7e9,"slug":"x","raw":{}}"#).is_err());
    assert!(cronos::parse_book_line(r#"{"recv_ts":1,"slug":"x""#).is_err());
}

fn cronos_row() -> cronos::WindowRow {
    cronos::WindowRow {
        slug: "btc-updown-5m-1776081600".into(),
        window_start_unix: 1_776_081_600,
        window_end_unix: 1_776_081_900,
        condition_id: "0x0caeb05adad5adc4092885b50be90842f690b3671036d33be1929eed6c07859d".into(),
        n_book_msgs: 4362,
        coverage_s: "300.0".into(),
        full_window: "True".into(),
        up_token_id_inferred:
            "83242783566024582653898817627629416044720116365730152507002565876511000801714".into(),
        down_token_id_inferred:
            "76749653936013921365546287415768593012625655716270825060317350902247751903470".into(),
        outcome_inferred: "Down".into(),
        outcome_method: "final_book_of_Down_token".into(),
        binance_move_usd: "-75.8".into(),
    }
}

#[test]
fn cronos_window_row() {
    let w = cronos::window_from_row(&cronos_row()).unwrap();
    assert_eq!(w.slug, "btc-updown-5m-1776081600");
    assert_eq!(w.start, UnixNanos::from_secs(1_776_081_600));
    assert_eq!(
        w.condition_id.unwrap().to_string(),
        "0x0caeb05adad5adc4092885b50be90842f690b3671036d33be1929eed6c07859d"
    );
    assert_eq!(
        w.up_token,
        Some(tok(
            "83242783566024582653898817627629416044720116365730152507002565876511000801714"
        ))
    );
    assert!(w.token_sides_inferred && !w.token_ids_synthetic);
    assert_eq!(w.outcome, Some(Outcome::Down));
    assert_eq!(w.outcome_source, Some(OutcomeSource::Inferred));
    for n in [
        "outcome_method=final_book_of_Down_token",
        "full_window=True",
        "coverage_s=300.0",
        "n_book_msgs=4362",
    ] {
        assert!(w.notes.iter().any(|x| x == n), "{n} in {:?}", w.notes);
    }
    assert!(w.notes.iter().any(|x| x.contains("CC BY 4.0")));

    // One token only, no outcome.
    let mut r = cronos_row();
    r.up_token_id_inferred.clear();
    r.outcome_inferred.clear();
    let w = cronos::window_from_row(&r).unwrap();
    assert_eq!(w.up_token, None);
    assert!(w.down_token.is_some() && w.token_sides_inferred);
    assert_eq!((w.outcome, w.outcome_source), (None, None));

    let mut r = cronos_row();
    r.window_start_unix += 1;
    assert!(cronos::window_from_row(&r).is_err());
}

#[test]
fn cronos_kline_row_exact() {
    let (recv, f) = cronos::kline_frame(&cronos::KlineRow {
        open_time_ms: 1_776_079_920_000,
        open: "70844.00".into(),
        high: "70844.10".into(),
        low: "70805.90".into(),
        close: "70815.40".into(),
        volume_btc: "20.475".into(),
    })
    .unwrap();
    assert_eq!(recv, UnixNanos::from_millis(1_776_079_980_000));
    assert_eq!(
        f,
        r#"{"e":"kline","E":1776079980000,"s":"BTCUSDT","k":{"t":1776079920000,"T":1776079979999,"s":"BTCUSDT","i":"1m","o":"70844.00","c":"70815.40","h":"70844.10","l":"70805.90","v":"20.475","x":true}}"#
    );
    let bad = cronos::KlineRow {
        open: "7e4".into(),
        ..cronos::KlineRow::default()
    };
    assert!(cronos::kline_frame(&bad).is_err());
}

/// The one full cronos import (~1.5 GB of JSON decompressed).
#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn cronos_full_import() {
    let t = std::time::Instant::now();
    let (_tmp, r, rec) = import_real(ImportKind::Cronos, &shared("cronos_btc5m_books"));
    eprintln!("cronos full import: {:?}\n{r}", t.elapsed());
    assert_eq!(frames(&r, "polymarket-market"), 435_480);
    assert_eq!(frames(&r, "binance-usdm-kline"), 952);
    assert_eq!(r.windows, 161);
    assert_eq!(r.total_skipped(), 0, "{:?}", r.skipped);
    assert_eq!(r.counter("windows: outcome Up (inferred)"), 68);
    assert_eq!(r.counter("windows: outcome Down (inferred)"), 58);
    assert_eq!(r.counter("windows: no outcome"), 35);
    assert_eq!(
        r.counter("book messages per slug matching windows.csv n_book_msgs"),
        161
    );
    let w = rec.window_by_slug("btc-updown-5m-1776081600").unwrap();
    assert!(w.token_sides_inferred);
    assert_eq!(w.outcome_source, Some(OutcomeSource::Inferred));
    assert!(rec.meta().caveats.iter().any(|c| c.contains("SYNTHESIZED")));
    assert!(rec.meta().sources.iter().any(|c| c.contains("CC BY 4.0")));
}

/// The bundled 10-window sample: the stored book frames are the source's `raw` bytes, in order.
#[test]
fn cronos_sample_frames_are_verbatim() {
    let src = sample();
    let (tmp, r, _rec) = import_real(ImportKind::Cronos, &src);
    assert_eq!(frames(&r, "polymarket-market"), 33_650);
    assert_eq!(frames(&r, "binance-usdm-kline"), 65);
    assert_eq!(r.windows, 10);
    assert_eq!(r.counter("windows: outcome Down (inferred)"), 7);
    assert_eq!(r.counter("windows: outcome Up (inferred)"), 3);

    let text =
        zstd::decode_all(std::fs::File::open(src.join("books_2026-04-15.jsonl.zst")).unwrap())
            .unwrap();
    let text = String::from_utf8(text).unwrap();
    let mut expected = text.lines().map(|l| cronos::parse_book_line(l).unwrap());
    let replay =
        FrameReplay::open_dirs(&[tmp.path().join("rec")], ReplayFilter::default()).unwrap();
    let mut n = 0;
    for f in replay {
        let f = f.unwrap();
        if f.stream.name != "polymarket-market" {
            continue;
        }
        let e = expected.next().expect("more frames than lines");
        assert_eq!(f.recv_ns, e.recv_ns);
        assert_eq!(f.bytes, e.raw.as_bytes(), "frame {n}");
        n += 1;
    }
    assert_eq!(n, 33_650);
    assert!(expected.next().is_none());
}

/// A failed import leaves nothing behind (no half-written recording that readers would take for
/// a valid empty one), and running it again works.
#[test]
fn a_failed_import_leaves_nothing_and_can_be_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for e in std::fs::read_dir(sample()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), src.join(e.file_name())).unwrap();
    }
    let books = src.join("books_2026-04-15.jsonl.zst");
    let full = std::fs::read(&books).unwrap();
    // Half the compressed books file: the import fails part-way, after writing frames.
    std::fs::write(&books, &full[..full.len() / 2]).unwrap();
    let out = tmp.path().join("rec");
    let err = import(ImportKind::Cronos, &src, &out, &NoProgress).unwrap_err();
    assert!(
        err.to_string().contains("books_2026-04-15.jsonl.zst"),
        "{err}"
    );
    assert!(!out.exists(), "no half-written recording");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["src"], "no temporary directory left: {left:?}");
    // An empty directory given as the target stays usable too.
    std::fs::create_dir(&out).unwrap();
    assert!(import(ImportKind::Cronos, &src, &out, &NoProgress).is_err());
    assert!(out.is_dir() && std::fs::read_dir(&out).unwrap().next().is_none());
    // A killed import's temporary directory (its process gone) is removed by the next run.
    let stale = tmp.path().join(".rec.importing-999999999");
    std::fs::create_dir_all(stale.join("capture")).unwrap();
    std::fs::write(&books, &full).unwrap();
    let r = import(ImportKind::Cronos, &src, &out, &NoProgress).unwrap();
    assert_eq!(frames(&r, "polymarket-market"), 33_650);
    assert!(!stale.exists());
    let rec = Recording::open(&out).unwrap();
    assert!(rec.is_finished());
    assert_eq!(rec.windows().len(), 10);
    let summary = r.recording.unwrap();
    assert!(summary.closed.iter().all(|c| c.path.starts_with(&out)));
}

#[test]
fn cronos_bad_rows_are_counted_and_missing_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    // No windows.csv and no books: unusable.
    let err = dry_run(ImportKind::Cronos, src, &NoProgress).unwrap_err();
    assert!(matches!(err, StoreError::Input { .. }), "{err}");

    let good = r#"{"recv_ts":1776081409.871942,"slug":"btc-updown-5m-1776081600","raw":{"event_type":"book"}}"#;
    std::fs::write(
        src.join("books_2026-04-13.jsonl"),
        format!("{good}\nnot json\n{good}\n{{\"recv_ts\":-1,\"slug\":\"s\",\"raw\":{{}}}}\n"),
    )
    .unwrap();
    let err = dry_run(ImportKind::Cronos, src, &NoProgress).unwrap_err();
    let StoreError::Input { path, .. } = &err else {
        panic!("{err}")
    };
    assert!(path.ends_with("windows.csv"), "{err}");

    // A header without the needed columns: unusable, line 1.
    std::fs::write(src.join("windows.csv"), "slug,foo\nx,1\n").unwrap();
    let err = dry_run(ImportKind::Cronos, src, &NoProgress).unwrap_err();
    assert!(
        matches!(err, StoreError::Input { line: Some(1), .. }),
        "{err}"
    );
    assert!(err.to_string().contains("windows.csv:1"), "{err}");

    let row = cronos_row();
    std::fs::write(
        src.join("windows.csv"),
        format!(
            "slug,window_start_unix,window_end_unix,condition_id,n_book_msgs,coverage_s,full_window,up_token_id_inferred,down_token_id_inferred,outcome_inferred,outcome_method,binance_move_usd\n\
             {},{},{},{},2,300.0,True,{},{},Down,final_book_of_Down_token,-75.8\n\
             btc-updown-5m-1,1,301,0x00,1,1,False,,,,,\n",
            row.slug,
            row.window_start_unix,
            row.window_end_unix,
            row.condition_id,
            row.up_token_id_inferred,
            row.down_token_id_inferred
        ),
    )
    .unwrap();
    let r = dry_run(ImportKind::Cronos, src, &NoProgress).unwrap();
    assert_eq!(frames(&r, "polymarket-market"), 2);
    assert_eq!(
        r.skipped.get("books_2026-04-13.jsonl: bad book line"),
        Some(&2)
    );
    assert_eq!(r.skipped.get("windows.csv: bad window row"), Some(&1));
    assert_eq!(r.windows, 1);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("books_2026-04-13.jsonl:2"))
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("assets.csv not found"))
    );
}

// ---------------------------------------------------------------------------------------------
// ligengxin
// ---------------------------------------------------------------------------------------------

const GAMMA_LINE: &str = r#"{"slug":"btc-updown-5m-1780876500","asset":"btc","interval_sec":300,"condition_id":"0x6fa121d31b5ed65b5c34b32ae646e4751b37ffd49c3cbcc379b055e22e27094c","token_ids":["106853212325739234269605042620856745942429109258639927166403506431703417105118","34549038436775387767555351401981287096280193432851657723404876503687402605441"],"start_sec":1780876500,"end_sec":1780876800,"resolved":true,"outcome_prices":["1","0"],"strike_value":"63123544863797618000000","raw":{"id":"2458626","feeType":"crypto_fees_v2","outcomes":"[\"Up\", \"Down\"]","description":"x \"Up\"","feeSchedule":{"rate":0.07,"exponent":1,"takerOnly":true,"rebateRate":0.2},"clobTokenIds":"[\"106853212325739234269605042620856745942429109258639927166403506431703417105118\", \"34549038436775387767555351401981287096280193432851657723404876503687402605441\"]","makerBaseFee":1000,"orderMinSize":5,"outcomePrices":"[\"1\", \"0\"]","orderPriceMinTickSize":0.001}}"#;

#[test]
fn ligengxin_market_line() {
    let w = ligengxin::window_from_market_line(GAMMA_LINE).unwrap();
    assert_eq!(w.slug, "btc-updown-5m-1780876500");
    assert_eq!(
        w.up_token,
        Some(tok(
            "106853212325739234269605042620856745942429109258639927166403506431703417105118"
        ))
    );
    assert_eq!(
        w.down_token,
        Some(tok(
            "34549038436775387767555351401981287096280193432851657723404876503687402605441"
        ))
    );
    assert!(!w.token_sides_inferred && !w.token_ids_synthetic);
    assert_eq!(w.tick_size, Some(Price::parse("0.001").unwrap()));
    assert_eq!(w.min_order_size, Some(Size::from_shares(5)));
    assert_eq!(w.fee_schedule, Some(FeeSchedule::CRYPTO_V2));
    assert_eq!(w.strike, Some(Fixed18(63_123_544_863_797_618_000_000)));
    assert_eq!(w.final_price, None);
    assert_eq!(w.outcome, Some(Outcome::Up));
    assert_eq!(w.outcome_source, Some(OutcomeSource::Official));
    assert!(w.notes.iter().any(|n| n == "gamma_id=2458626"));

    // Reversed outcomes: token ids and prices follow `outcomes`.
    let rev = GAMMA_LINE.replace(r#"[\"Up\", \"Down\"]"#, r#"[\"Down\", \"Up\"]"#);
    let w2 = ligengxin::window_from_market_line(&rev).unwrap();
    assert_eq!(w2.up_token, w.down_token);
    assert_eq!(w2.down_token, w.up_token);
    assert_eq!(w2.outcome, Some(Outcome::Down));

    // Undecided and unresolved.
    let half = GAMMA_LINE.replace(
        r#""outcome_prices":["1","0"]"#,
        r#""outcome_prices":["0.5","0.5"]"#,
    );
    let w3 = ligengxin::window_from_market_line(&half).unwrap();
    assert_eq!((w3.outcome, w3.outcome_source), (None, None));
    assert!(w3.notes.iter().any(|n| n.contains("not decisive")));
    let open = GAMMA_LINE.replace(r#""resolved":true"#, r#""resolved":false"#);
    assert_eq!(
        ligengxin::window_from_market_line(&open).unwrap().outcome,
        None
    );
    let nostrike = GAMMA_LINE.replace(r#""63123544863797618000000""#, "null");
    assert_eq!(
        ligengxin::window_from_market_line(&nostrike)
            .unwrap()
            .strike,
        None
    );
    assert!(ligengxin::window_from_market_line("{").is_err());
}

#[test]
fn ligengxin_fee_schedule_from_raw_text() {
    assert_eq!(
        ligengxin::parse_fee_schedule(r#"{"rate":0.0175,"exponent":2,"takerOnly":true}"#),
        Ok(FeeSchedule {
            rate_ppm: 17_500,
            exponent: 2,
            taker_only: true,
            rebate_rate_ppm: 0
        })
    );
    assert!(ligengxin::parse_fee_schedule(r#"{"rate":7e-2,"exponent":1}"#).is_err());
}

#[test]
fn ligengxin_chainlink_row_exact() {
    let (recv, f) = ligengxin::chainlink_frame(&ligengxin::ChainlinkRow {
        feed_ts_ms: 1_784_851_200_000,
        value: "65048.078902260626".into(),
        full_accuracy_value: "65048078902260626000000".into(),
        server_ts_ms: 1_784_851_201_160,
        recv_ms: 1_784_851_201_377,
    })
    .unwrap();
    assert_eq!(recv, UnixNanos::from_millis(1_784_851_201_377));
    assert_eq!(
        f,
        r#"{"topic":"crypto_prices_chainlink","type":"update","timestamp":1784851201160,"payload":{"symbol":"btc/usd","timestamp":1784851200000,"value":65048.078902260626,"full_accuracy_value":"65048078902260626000000"}}"#
    );
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn ligengxin_full_import() {
    let (_tmp, r, rec) = import_real(
        ImportKind::Ligengxin,
        &shared("ligengxin_btc5m_markets_chainlink"),
    );
    eprintln!("{r}");
    assert_eq!(r.windows, 584); // 292 + 292, no slug on both days
    assert_eq!(frames(&r, "rtds-chainlink"), 84_558 + 78_515);
    assert_eq!(r.total_skipped(), 0, "{:?}", r.skipped);
    assert_eq!(r.counter("windows: outcome Up (official)"), 137 + 140);
    assert_eq!(r.counter("windows: outcome Down (official)"), 155 + 152);
    // PROVENANCE: 284/284 and 266/267 recomputed outcomes agree.
    assert_eq!(
        r.counter("windows: chainlink recomputed outcome agrees with official"),
        284 + 266
    );
    assert_eq!(
        r.counter("windows: chainlink recomputed outcome DISAGREES with official"),
        1
    );
    let w = rec.window_by_slug("btc-updown-5m-1780876500").unwrap();
    assert_eq!(w.strike, Some(Fixed18(63_123_544_863_797_618_000_000)));
    // The tick at exactly the end second (first row of the 06-08 file).
    assert_eq!(w.final_price, Some(Fixed18(63_304_200_301_195_075_000_000)));
    assert_eq!(w.outcome, Some(Outcome::Up));
    assert_eq!(w.fee_schedule, Some(FeeSchedule::CRYPTO_V2));
    let bad = rec.window_by_slug("btc-updown-5m-1784868900").unwrap();
    assert!(
        bad.notes
            .iter()
            .any(|n| n.contains("disagrees with official"))
    );
}

// ---------------------------------------------------------------------------------------------
// herbalclaw
// ---------------------------------------------------------------------------------------------

#[test]
fn herbalclaw_rows_exact() {
    let up = tok("70874672685351035308711333458813263466575013099739521439219267449548875491599");
    let row = herbalclaw::PriceRow {
        timestamp_ms: 1_771_358_973_999,
        market_ts: 1_771_358_700,
        side: "YES".into(),
        bid: 520_000,
        ask: 530_000,
        binance_btc_price: Some("67567.72".into()),
        chainlink_btc_price: Some("67537.44745634674".into()),
    };
    assert_eq!(herbalclaw::side_outcome("YES"), Some(Outcome::Up));
    assert_eq!(herbalclaw::side_outcome("down"), Some(Outcome::Down));
    assert_eq!(herbalclaw::side_outcome("?"), None);
    let (recv, f, _) = herbalclaw::bbo_frame(&row, &up).unwrap();
    assert_eq!(recv, UnixNanos::from_millis(1_771_358_973_999));
    assert_eq!(
        f,
        r#"{"event_type":"best_bid_ask","asset_id":"70874672685351035308711333458813263466575013099739521439219267449548875491599","best_bid":"0.52","best_ask":"0.53","spread":"0.01","timestamp":"1771358973999"}"#
    );
    // 0 bid = empty side; ×1e6 formatting is exact.
    let row2 = herbalclaw::PriceRow {
        bid: 0,
        ask: 525_500,
        ..row.clone()
    };
    assert_eq!(
        herbalclaw::bbo_frame(&row2, &tok("1")).unwrap().1,
        r#"{"event_type":"best_bid_ask","asset_id":"1","best_ask":"0.5255","timestamp":"1771358973999"}"#
    );
    let row3 = herbalclaw::PriceRow {
        ask: 1_000_001,
        ..row.clone()
    };
    assert!(herbalclaw::bbo_frame(&row3, &up).is_err());
    // Float artifacts 1e-6 off the 0.0001 grid are snapped and counted; further off is an error.
    let row4 = herbalclaw::PriceRow {
        bid: 339_999,
        ask: 360_001,
        ..row.clone()
    };
    let (_, f4, snapped) = herbalclaw::bbo_frame(&row4, &tok("1")).unwrap();
    assert_eq!(snapped, 2);
    assert!(
        f4.contains(r#""best_bid":"0.34","best_ask":"0.36""#),
        "{f4}"
    );
    let row5 = herbalclaw::PriceRow {
        bid: 339_998,
        ..row.clone()
    };
    assert!(herbalclaw::bbo_frame(&row5, &tok("1")).is_err());
    assert_eq!(
        herbalclaw::chainlink_frame(1_771_358_973_999, "67537.44745634674"),
        r#"{"topic":"crypto_prices_chainlink","type":"update","timestamp":1771358973999,"payload":{"symbol":"btc/usd","timestamp":1771358973999,"value":67537.44745634674}}"#
    );
    assert_eq!(
        herbalclaw::binance_frame(1_771_358_973_999, "67600.0"),
        r#"{"topic":"crypto_prices","type":"update","timestamp":1771358973999,"payload":{"symbol":"btcusdt","timestamp":1771358973999,"value":67600.0}}"#
    );
    let w = herbalclaw::window_from_market(&herbalclaw::MarketRow {
        window_start_unix: 1_771_306_500,
        slug: "btc-updown-5m-1771306500".into(),
        up_token_id: up.to_string(),
        down_token_id:
            "77760253819246575134313219259732112720116263140867452724940244809905063878295".into(),
        source_db: "btc_hf_2026-02-17_PM.db".into(),
        outcome_felixdoteth: "up".into(),
        binance_open_felixdoteth: "68030.0".into(),
        binance_close_felixdoteth: "68065.05".into(),
    })
    .unwrap();
    assert_eq!(w.up_token, Some(up));
    assert!(!w.token_sides_inferred && !w.token_ids_synthetic);
    assert_eq!(w.outcome, Some(Outcome::Up));
    assert_eq!(w.outcome_source, Some(OutcomeSource::Official));
    assert!(w.notes.iter().any(|n| n.contains("felixdoteth")));
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn herbalclaw_full_import() {
    let (_tmp, r, rec) = import_real(
        ImportKind::Herbalclaw,
        &shared("herbalclaw_btc5m_bbo_2026-02"),
    );
    eprintln!("{r}");
    assert_eq!(r.windows, 73);
    assert_eq!(frames(&r, "polymarket-bbo"), 36_596 + 38_102);
    assert_eq!(r.counter("rtds: crypto_prices_chainlink frames"), 1_189);
    assert_eq!(r.counter("rtds: crypto_prices (binance) frames"), 839);
    assert_eq!(frames(&r, "rtds"), 1_189 + 839);
    assert_eq!(
        r.counter("rtds: rows with chainlink_btc_price 0 (no frame)"),
        340
    );
    assert_eq!(
        r.counter("rtds: rows with binance_btc_price 0 (no frame)"),
        220
    );
    assert_eq!(
        r.counter(
            "price_updates_2026-02-18_AM.csv.zst: rows out of timestamp_ms order (stably sorted)"
        ),
        8
    );
    assert_eq!(r.total_skipped(), 0, "{:?}", r.skipped);
    // 3,234 rows of 02-18 carry a Down bid such as 339999 (1 − p in floats upstream).
    assert!(
        r.counter("bbo prices snapped to the 0.0001 grid (float artifact in source, e.g. 339999)")
            >= 3_234
    );
    assert_eq!(r.counter("windows: outcome Up (official)"), 36);
    assert_eq!(r.counter("windows: outcome Down (official)"), 37);
    assert_eq!(r.counter("windows: with token ids"), 73);
    assert!(
        rec.window_by_slug("btc-updown-5m-1771306500")
            .unwrap()
            .up_token
            .is_some()
    );
}

// ---------------------------------------------------------------------------------------------
// jo267x
// ---------------------------------------------------------------------------------------------

#[test]
fn jo267x_row_exact() {
    let row = jo267x::Row {
        ts: "1777823458.1061444".into(),
        event_id: "441587".into(),
        slug: "btc-updown-5m-1777823400".into(),
        up_bid: "0.12".into(),
        up_ask: "0.13".into(),
        down_bid: "0.99".into(),
        down_ask: "0.0".into(),
        resolved_outcome: String::new(),
    };
    let (recv, [up, down]) = jo267x::row_frames(&row).unwrap();
    assert_eq!(recv, UnixNanos(1_777_823_458_106_144_400));
    let (ut, dt) = jo267x::synthetic_tokens(&row.slug);
    assert_eq!(ut, TokenId::synthetic("btc-updown-5m-1777823400", "up"));
    assert_eq!(
        up,
        format!(
            r#"{{"event_type":"best_bid_ask","asset_id":"{ut}","best_bid":"0.12","best_ask":"0.13","spread":"0.01","timestamp":"1777823458106"}}"#
        )
    );
    assert_eq!(
        down,
        format!(
            r#"{{"event_type":"best_bid_ask","asset_id":"{dt}","best_bid":"0.99","timestamp":"1777823458106"}}"#
        )
    );
    let w = jo267x::window_for(&row.slug, &row.event_id).unwrap();
    assert!(w.token_ids_synthetic);
    assert_eq!((w.up_token, w.down_token), (Some(ut), Some(dt)));
    assert!(w.notes.iter().any(|n| n == "gamma_event_id=441587"));
    assert_eq!(jo267x::resolved_outcome("UP"), Some(Outcome::Up));
    assert_eq!(jo267x::resolved_outcome("DOWN"), Some(Outcome::Down));
    assert_eq!(jo267x::resolved_outcome("UNKNOWN"), None);
    let bad = jo267x::Row {
        up_bid: "0.20500000000000002".into(),
        ..row
    };
    assert!(jo267x::row_frames(&bad).is_err());
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn jo267x_full_import() {
    let (_tmp, r, rec) = import_real(ImportKind::Jo267x, &shared("jo267x_btc5m_1hz_2026-05"));
    eprintln!("{r}");
    assert_eq!(r.rows_read, 7_217 + 903 + 602);
    assert_eq!(frames(&r, "polymarket-bbo"), 2 * (7_217 + 903 + 602));
    assert_eq!(r.windows, 25 + 4 + 3);
    // overnight 13 UP / 10 DOWN, live2 1 UP / 2 DOWN, my_live_event 1 UP.
    assert_eq!(r.counter("windows: outcome Up (official)"), 15);
    assert_eq!(r.counter("windows: outcome Down (official)"), 12);
    assert_eq!(r.counter("windows: no outcome"), 5);
    assert_eq!(r.counter("windows: synthetic token ids"), 32);
    assert_eq!(r.total_skipped(), 0, "{:?}", r.skipped);
    let w = rec.window_by_slug("btc-updown-5m-1777823400").unwrap();
    assert_eq!(w.outcome, Some(Outcome::Down));
    assert!(w.token_ids_synthetic);
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn dry_run_matches_import_and_progress_counts_bytes() {
    struct P {
        total: Cell<u64>,
        done: Cell<u64>,
        messages: Cell<u64>,
    }
    impl Progress for P {
        fn set_total(&self, total: u64, unit: &str) {
            assert_eq!(unit, "bytes");
            self.total.set(total);
        }
        fn inc(&self, n: u64) {
            self.done.set(self.done.get() + n);
        }
        fn message(&self, _msg: &str) {
            self.messages.set(self.messages.get() + 1);
        }
    }
    let src = shared("jo267x_btc5m_1hz_2026-05");
    let p = P {
        total: Cell::new(0),
        done: Cell::new(0),
        messages: Cell::new(0),
    };
    let dry = dry_run(ImportKind::Jo267x, &src, &p).unwrap();
    assert!(p.total.get() > 0);
    assert_eq!(p.done.get(), p.total.get());
    assert_eq!(p.messages.get(), 3);
    assert_eq!(dry.recording, None);
    let (_tmp, real, _) = import_real(ImportKind::Jo267x, &src);
    assert_eq!(dry.frames, real.frames);
    assert_eq!(dry.windows, real.windows);
    assert_eq!(dry.counters, real.counters);
}

// ---------------------------------------------------------------------------------------------
// thevalerka
// ---------------------------------------------------------------------------------------------

fn valerka_row() -> thevalerka::Row {
    thevalerka::Row {
        source_file: "prices_20260202_1045.csv".into(),
        timestamp_ms: 1_770_029_334_839,
        call_bid: "0.310000".into(),
        call_ask: "0.320000".into(),
        call_mid: "0.315000".into(),
        put_bid: "0.680000".into(),
        put_ask: "0.690000".into(),
        put_mid: "0.685000".into(),
        seconds_to_expiry: "665.2".into(),
    }
}

#[test]
fn thevalerka_rows_exact() {
    assert_eq!(
        thevalerka::slug_of_source_file("prices_20260202_1045.csv"),
        Some(("btc-updown-15m-1770029100".to_string(), 1_770_029_100))
    );
    assert_eq!(
        thevalerka::slug_of_source_file("prices_2026022_1045.csv"),
        None
    );
    assert_eq!(
        thevalerka::slug_of_source_file("prices_20260202_2460.csv"),
        None
    );
    let slug = "btc-updown-15m-1770029100";
    let (recv, [up, down]) = thevalerka::row_frames(&valerka_row(), slug).unwrap();
    assert_eq!(recv, UnixNanos::from_millis(1_770_029_334_839));
    let (ut, dt) = thevalerka::synthetic_tokens(slug);
    assert_eq!(
        up,
        format!(
            r#"{{"event_type":"best_bid_ask","asset_id":"{ut}","best_bid":"0.31","best_ask":"0.32","spread":"0.01","timestamp":"1770029334839"}}"#
        )
    );
    assert_eq!(
        down,
        format!(
            r#"{{"event_type":"best_bid_ask","asset_id":"{dt}","best_bid":"0.68","best_ask":"0.69","spread":"0.01","timestamp":"1770029334839"}}"#
        )
    );
    // Outcome from the final row.
    assert_eq!(thevalerka::infer_outcome(&valerka_row()), None); // 665 s before expiry
    let fin = |cb: &str, ca: &str, cm: &str, pb: &str, pa: &str, pm: &str| thevalerka::Row {
        call_bid: cb.into(),
        call_ask: ca.into(),
        call_mid: cm.into(),
        put_bid: pb.into(),
        put_ask: pa.into(),
        put_mid: pm.into(),
        seconds_to_expiry: "1.0".into(),
        ..valerka_row()
    };
    let down_win = fin(
        "0.000000", "0.010000", "0.005000", "0.990000", "1.000000", "0.995000",
    );
    assert_eq!(thevalerka::infer_outcome(&down_win), Some(Outcome::Down));
    let up_win = fin(
        "0.999000", "1.000000", "0.999500", "0.000000", "0.001000", "0.000500",
    );
    assert_eq!(thevalerka::infer_outcome(&up_win), Some(Outcome::Up));
    let undecided = fin(
        "0.790000", "0.820000", "0.805000", "0.170000", "0.510000", "0.340000",
    );
    assert_eq!(thevalerka::infer_outcome(&undecided), None);
    // A 0 bid is an empty side.
    let (_, [up, _]) = thevalerka::row_frames(&down_win, slug).unwrap();
    assert!(!up.contains(r#""best_bid":"#) && up.contains(r#""best_ask":"0.01""#));
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn thevalerka_full_import() {
    let (_tmp, r, rec) = import_real(
        ImportKind::Thevalerka,
        &shared("thevalerka_btc15m_1hz_2026-02-02"),
    );
    eprintln!("{r}");
    assert_eq!(r.rows_read, 23_431);
    assert_eq!(frames(&r, "polymarket-bbo"), 2 * 23_431);
    assert_eq!(r.windows, 27); // prices_20260202_1045 … _1715
    assert_eq!(r.counter("windows: outcome Up (inferred)"), 15);
    assert_eq!(r.counter("windows: outcome Down (inferred)"), 10);
    assert_eq!(r.counter("windows: no outcome"), 2); // 13:00 (0.79 bid at expiry), 17:15 (partial)
    assert_eq!(r.total_skipped(), 0, "{:?}", r.skipped);
    let first = rec.window_by_slug("btc-updown-15m-1770029100").unwrap();
    assert_eq!(first.outcome, Some(Outcome::Down));
    assert_eq!(first.outcome_source, Some(OutcomeSource::Inferred));
    assert!(first.token_ids_synthetic);
    assert_eq!(
        rec.window_by_slug("btc-updown-15m-1770037200")
            .unwrap()
            .outcome,
        None
    );
}

// ---------------------------------------------------------------------------------------------
// felixdoteth
// ---------------------------------------------------------------------------------------------

#[test]
fn felixdoteth_row() {
    let row = felixdoteth::Row {
        timestamp: 1_773_619_200,
        outcome: "up".into(),
        up_price: "1.0".into(),
        down_price: "0.0".into(),
        btc_open: "72815.25".into(),
        btc_close: "72942.17".into(),
        btc_change_pct: "0.1743".into(),
    };
    let w = felixdoteth::window_from_row(&row).unwrap();
    assert_eq!(w.slug, "btc-updown-5m-1773619200");
    assert_eq!(w.end, UnixNanos::from_secs(1_773_619_500));
    assert_eq!(w.outcome, Some(Outcome::Up));
    assert_eq!(w.outcome_source, Some(OutcomeSource::Official));
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("binance_open=72815.25 binance_close=72942.17"))
    );
    let contradiction = felixdoteth::Row {
        outcome: "down".into(),
        ..row.clone()
    };
    assert!(felixdoteth::window_from_row(&contradiction).is_err());
    let off_grid = felixdoteth::Row {
        timestamp: 1_773_619_201,
        ..row
    };
    assert!(felixdoteth::window_from_row(&off_grid).is_err());
}

#[test]
#[cfg_attr(
    not(feature = "shared-data"),
    ignore = "needs ../shared/data (the team's recordings, not in the repo): run scripts/test beside ../shared"
)]
fn felixdoteth_full_import() {
    let (_tmp, r, rec) = import_real(
        ImportKind::Felixdoteth,
        &shared("felixdoteth_btc5m_outcomes"),
    );
    assert_eq!(r.windows, 20_928);
    assert_eq!(r.total_frames(), 0);
    assert_eq!(r.counter("windows: outcome Up (official)"), 10_628);
    assert_eq!(r.counter("windows: outcome Down (official)"), 10_300);
    assert_eq!(r.total_skipped(), 0, "{:?}", r.skipped);
    let ws = rec.windows();
    assert!(
        ws.windows(2).all(|p| p[0].start < p[1].start),
        "sorted by start"
    );
    assert_eq!(ws[0].slug, "btc-updown-5m-1766031900"); // 2025-12-18 04:25 UTC
    assert_eq!(ws[ws.len() - 1].slug, "btc-updown-5m-1773705300"); // 2026-03-16 23:55 UTC
}

#[test]
fn not_a_directory_is_a_usage_error() {
    let err = dry_run(
        ImportKind::Felixdoteth,
        Path::new("/nonexistent/polyedge"),
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::Usage(_)), "{err}");
}
