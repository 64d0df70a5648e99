//! `polyedge verify`: the health of recordings (every CRC and checksum, counts against the
//! manifest), as a table or JSON; non-zero exit if anything is damaged or missing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use polyedge_store::Recording;
use polyedge_store::verify::{VerifyReport, verify};

use crate::progress;

/// Runs `polyedge verify` over `paths`.
pub fn cmd(paths: &[PathBuf], json: bool) -> Result<()> {
    let mut reports = Vec::new();
    for p in paths {
        let rec = Recording::open(p).with_context(|| format!("open recording {}", p.display()))?;
        let bar = progress::Bar::new();
        let r = verify(&rec, &bar).with_context(|| format!("verify {}", p.display()))?;
        bar.finish();
        reports.push(r);
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &reports)?;
        writeln!(out)?;
    } else {
        for r in &reports {
            write!(out, "{}", render(r))?;
        }
    }
    let bad: Vec<String> = reports
        .iter()
        .filter(|r| !r.healthy())
        .map(|r| r.dir.display().to_string())
        .collect();
    if !bad.is_empty() {
        bail!(
            "damaged or incomplete: {} (the other reading commands fail on it; --skip-corrupt reads around the damage)",
            bad.join(", ")
        );
    }
    Ok(())
}

/// The health table of one recording.
pub fn render(r: &VerifyReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "recording {} ({})",
        r.dir.display(),
        if r.finished {
            "finished"
        } else {
            "unfinished: the last segment of each stream may end in a torn tail"
        }
    );
    let _ = writeln!(
        s,
        "{:<22} {:<18} {:>8} {:>10} {:>12} {:>8} {:>11} {:>6} {:>10}  status",
        "stream",
        "feed",
        "segments",
        "frames",
        "bytes",
        "damaged",
        "frames lost",
        "torn",
        "manifest"
    );
    for st in &r.streams {
        let lost = if st.frames_lost == 0 {
            "0".to_string()
        } else if st.lost_exact {
            st.frames_lost.to_string()
        } else {
            format!("≥{}", st.frames_lost)
        };
        let _ = writeln!(
            s,
            "{:<22} {:<18} {:>8} {:>10} {:>12} {:>8} {:>11} {:>6} {:>10}  {}",
            st.stream,
            st.feed,
            st.segments,
            st.frames,
            st.file_bytes,
            st.damaged_segments,
            lost,
            st.torn_tails,
            st.manifest_frames
                .map_or_else(|| "-".to_string(), |m| m.to_string()),
            if st.ok() { "ok" } else { "DAMAGED" }
        );
    }
    let segs = r.segments.len();
    let described = r.segments.iter().filter(|x| x.descriptors > 0).count();
    let _ = writeln!(
        s,
        "{segs} segments read ({described} with frame descriptors; older ones are checked by record CRC only)"
    );
    for seg in r.segments.iter().filter(|x| x.torn_tail.is_some()) {
        if let Some(t) = &seg.torn_tail {
            let _ = writeln!(s, "torn tail (legitimate): {t}");
        }
    }
    if r.problems.is_empty() {
        let _ = writeln!(s, "healthy: every record read and checked");
    } else {
        let _ = writeln!(s, "PROBLEMS ({}):", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(s, "  {p}");
        }
    }
    s
}
