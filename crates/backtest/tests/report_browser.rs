//! `report.html` in a real browser: Debian's headless Chromium (`/usr/bin/chromium`, or
//! `$POLYEDGE_CHROMIUM`) loads the report of a backtest of the bundled sample at a laptop width
//! of 1 400 px. A check script, added to a copy of the report by this test only, records what the
//! page did: scripts that threw, charts uPlot drew, and whether any cell of the results table
//! (or the page) extends past the viewport. The test then takes a screenshot
//! (`target/tmp/report-1400.png`) for a human to look at and checks its size.
//!
//! Needs the `chromium` package (`.ci/run` installs it); fails with a message naming it when
//! the browser is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use polyedge_backtest::{Inputs, summary, write_report};
use polyedge_store::NoProgress;

/// Records script errors from the very start of the page.
const HEAD_PROBE: &str = "<script>window.__errs=[];window.addEventListener('error',function(e){window.__errs.push(String(e.message));});</script>";

/// Measures the page after the report's own scripts ran.
const CHECK: &str = r"<script>(function(){
var vw=window.innerWidth,de=document.documentElement,r=[];
var t=document.querySelector('table.results'),cut=0,cells=0;
t.querySelectorAll('th,td').forEach(function(c){cells++;if(c.getBoundingClientRect().right>vw+0.5)cut++;});
r.push('vw='+vw);r.push('page='+de.scrollWidth);r.push('cells='+cells);r.push('cut='+cut);
r.push('table='+Math.ceil(t.getBoundingClientRect().right));
r.push('uplots='+document.querySelectorAll('.uplot').length);
r.push('canvases='+document.querySelectorAll('.uplot canvas').length);
r.push('errors='+window.__errs.length+(window.__errs.length?':'+window.__errs.join('|'):''));
document.body.setAttribute('data-check',r.join(';'));
})();</script>";

fn chromium() -> PathBuf {
    let p = std::env::var_os("POLYEDGE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        p.is_file(),
        "{} not found: this test needs Debian's headless Chromium (apt-get install chromium; \
         .ci/run installs it) or POLYEDGE_CHROMIUM=/path/to/chromium",
        p.display()
    );
    p
}

/// Runs headless Chromium on `page` with `extra` arguments; returns stdout.
fn run_chromium(page: &Path, profile: &Path, extra: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check_value<'a>(check: &'a str, key: &str) -> &'a str {
    check
        .split(';')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing in {check:?}"))
}

/// Width and height of a PNG from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
#[cfg_attr(
    not(feature = "browser-tests"),
    ignore = "needs headless Chromium: apt-get install chromium, then scripts/test (feature browser-tests)"
)]
fn report_renders_fits_1400px_and_draws_its_charts_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = common::import_cronos(&common::repo().join("data/sample"), tmp.path(), "sample");
    let bt = polyedge_backtest::run(
        &Inputs {
            recordings: vec![rec],
            clickhouse: None,
            ..Inputs::default()
        },
        &NoProgress,
    )
    .unwrap();
    let s = summary::build(&bt);
    let out = tmp.path().join("out");
    write_report(&bt, &s, &out).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();

    // What the page should draw: two overview charts when anything traded, and per strategy
    // with fills its PnL, its PnL per window, and its calibration when it gave fair values.
    let traded: Vec<_> = s
        .strategies
        .iter()
        .filter(|x| x.metrics.trades > 0)
        .collect();
    assert!(!traded.is_empty(), "the sample should have trades");
    let expected = 2 + traded
        .iter()
        .map(|x| 2 + usize::from(x.metrics.calibration.n > 0))
        .sum::<usize>();
    assert_eq!(html.matches("class=\"chart\"").count(), expected);
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external resources"
    );
    // A strategy without fills gets a note and no chart.
    for x in s.strategies.iter().filter(|x| x.metrics.trades == 0) {
        let id = format!(
            "id=\"s-{}\"",
            x.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let sec = &html[html.find(&id).unwrap()..];
        let sec = &sec[..sec.find("</section>").unwrap()];
        assert!(sec.contains("No fills"), "{}", x.name);
        assert!(!sec.contains("class=\"chart\""), "{}", x.name);
    }

    let page = tmp.path().join("check.html");
    let probed = html
        .replacen("<head>", &format!("<head>{HEAD_PROBE}"), 1)
        .replacen("</body>", &format!("{CHECK}</body>"), 1);
    std::fs::write(&page, probed).unwrap();
    let profile = tmp.path().join("profile");
    let dom = run_chromium(&page, &profile, &["--window-size=1400,900", "--dump-dom"]);
    let check = dom
        .split("data-check=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "the check did not run; DOM starts: {}",
                &dom[..dom.len().min(500)]
            )
        });
    assert_eq!(check_value(check, "errors"), "0", "script errors: {check}");
    assert_eq!(check_value(check, "vw"), "1400", "{check}");
    assert_eq!(
        check_value(check, "cut"),
        "0",
        "results table cut at 1400 px: {check}"
    );
    let page_w: u32 = check_value(check, "page").parse().unwrap();
    assert!(
        page_w <= 1400,
        "the page scrolls sideways at 1400 px: {check}"
    );
    assert!(
        check_value(check, "cells").parse::<usize>().unwrap() > 20,
        "{check}"
    );
    assert_eq!(
        check_value(check, "uplots"),
        expected.to_string(),
        "every chart drawn: {check}"
    );
    assert!(check_value(check, "canvases").parse::<usize>().unwrap() >= expected);
    assert!(
        dom.contains(&format!("data-charts-rendered=\"{expected}\"")),
        "the report's own script finished"
    );

    // The screenshot a human looks at.
    let shot_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shot = shot_dir.join("report-1400.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &out.join("report.html"),
        &profile,
        &[
            "--window-size=1400,2600",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (1400, 2600));
    assert!(
        png.len() > 50_000,
        "a blank page compresses to almost nothing"
    );
}
