//! `polyedge verify`: reads every record of every segment of a recording (zstd checksums,
//! frame descriptors, record CRCs), checks the frame counts against the manifest, and reports
//! the health of each stream and segment without parsing the payloads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::segment::{CorruptSpan, TornTail};
use crate::{Progress, Recording, StoreError};

/// The health of one segment file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentHealth {
    /// Stream name.
    pub stream: String,
    /// The file.
    pub path: PathBuf,
    /// File size (bytes, compressed).
    pub file_bytes: u64,
    /// Records read (CRC-valid).
    pub frames: u64,
    /// zstd frames met (the header's included).
    pub zstd_frames: u64,
    /// Intact frame descriptors met (0 for segments written before descriptors).
    pub descriptors: u64,
    /// Whether the header was read.
    pub header: bool,
    /// A torn tail where one is legitimate (the last segment of a stream of an unfinished
    /// recording).
    pub torn_tail: Option<TornTail>,
    /// Damage found (every segment is read to its end, around the damage).
    pub damage: Vec<CorruptSpan>,
    /// The file could not be opened or read at all (I/O error).
    pub unreadable: Option<String>,
}

impl SegmentHealth {
    /// `true` if the segment has no damage (a legitimate torn tail is not damage).
    pub fn ok(&self) -> bool {
        self.damage.is_empty() && self.unreadable.is_none()
    }
}

/// The health of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamHealth {
    /// Stream name.
    pub stream: String,
    /// Feed name.
    pub feed: String,
    /// Segment files found.
    pub segments: u64,
    /// Records read.
    pub frames: u64,
    /// Compressed bytes of its segment files.
    pub file_bytes: u64,
    /// Segments with damage (or unreadable).
    pub damaged_segments: u64,
    /// Records known lost to damage (a lower bound unless `lost_exact`).
    pub frames_lost: u64,
    /// Whether `frames_lost` is exact (descriptors intact around every damage, or the
    /// manifest's count closes the books).
    pub lost_exact: bool,
    /// Legitimate torn tails.
    pub torn_tails: u64,
    /// Frames the manifest counts (finished recordings only).
    pub manifest_frames: Option<u64>,
    /// Segments the manifest counts (finished recordings only).
    pub manifest_segments: Option<u64>,
}

impl StreamHealth {
    /// `true` if no segment is damaged and the counts agree with the manifest.
    pub fn ok(&self) -> bool {
        self.damaged_segments == 0
            && self.manifest_frames.is_none_or(|m| m == self.frames)
            && self.manifest_segments.is_none_or(|m| m == self.segments)
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The recording.
    pub dir: PathBuf,
    /// Whether its writer finished (only then do the manifest's counts exist).
    pub finished: bool,
    /// Per stream, by name.
    pub streams: Vec<StreamHealth>,
    /// Per segment, by stream then replay order.
    pub segments: Vec<SegmentHealth>,
    /// Every problem, one line each (empty when healthy).
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// `true` if nothing is damaged or missing.
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads every record of every segment of `rec` (reporting progress in file bytes) and checks
/// the counts against the manifest. Damage does not stop it: each segment is read around its
/// damage to its end, and everything found is in the report.
///
/// # Errors
/// None today for damage (it is reported); the signature leaves room for I/O failures of the
/// recording directory itself.
pub fn verify(rec: &Recording, progress: &dyn Progress) -> Result<VerifyReport, StoreError> {
    let total: u64 = rec.segments().map(|(_, s)| s.len).sum();
    progress.set_total(total, "bytes");
    let mut report = VerifyReport {
        dir: rec.dir().to_path_buf(),
        finished: rec.is_finished(),
        streams: Vec::new(),
        segments: Vec::new(),
        problems: Vec::new(),
    };
    let mut by_stream: BTreeMap<String, StreamHealth> = BTreeMap::new();
    for stream in rec.streams() {
        let sh = by_stream
            .entry(stream.id.name.clone())
            .or_insert_with(|| StreamHealth {
                stream: stream.id.name.clone(),
                feed: stream.id.feed.name().to_string(),
                lost_exact: true,
                manifest_frames: stream.manifest.as_ref().map(|m| m.frames),
                manifest_segments: stream.manifest.as_ref().map(|m| m.segments),
                ..StreamHealth::default()
            });
        for seg in &stream.segments {
            progress.message(&format!("{}/{}", stream.id.name, seg.path.display()));
            let mut h = SegmentHealth {
                stream: stream.id.name.clone(),
                path: seg.path.clone(),
                file_bytes: seg.len,
                frames: 0,
                zstd_frames: 0,
                descriptors: 0,
                header: false,
                torn_tail: None,
                damage: Vec::new(),
                unreadable: None,
            };
            match rec.open_segment(stream, seg, true) {
                Err(e) => h.unreadable = Some(e.to_string()),
                Ok(mut r) => {
                    loop {
                        match r.advance() {
                            Ok(Some(_)) => h.frames += 1,
                            Ok(None) => break,
                            Err(e) => {
                                h.unreadable = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    h.header = r.header().is_some();
                    if let Some(hd) = r.header()
                        && hd.feed != stream.id.feed
                    {
                        h.unreadable = Some(format!(
                            "segment is of feed {} but its stream is of feed {}",
                            hd.feed, stream.id.feed
                        ));
                    }
                    h.zstd_frames = r.zstd_frames();
                    h.descriptors = r.descriptors();
                    h.torn_tail = r.torn_tail().cloned();
                    h.damage = r.take_skipped();
                }
            }
            progress.inc(seg.len);
            sh.segments += 1;
            sh.frames += h.frames;
            sh.file_bytes += seg.len;
            sh.torn_tails += u64::from(h.torn_tail.is_some());
            if !h.ok() {
                sh.damaged_segments += 1;
                if h.unreadable.is_some() {
                    sh.lost_exact = false;
                }
                for d in &h.damage {
                    sh.frames_lost += d.frames_lost;
                    sh.lost_exact &= d.exact;
                    report.problems.push(d.to_string());
                }
                if let Some(u) = &h.unreadable {
                    report.problems.push(format!("{}: {u}", seg.path.display()));
                }
            }
            report.segments.push(h);
        }
        if let Some(m) = sh.manifest_frames {
            let accounted = sh.frames + sh.frames_lost;
            if accounted != m {
                report.problems.push(format!(
                    "stream {:?}: the manifest counts {m} frames; the segments hold {} read{}",
                    sh.stream,
                    sh.frames,
                    if sh.frames_lost > 0 {
                        format!(" and at least {} lost to damage", sh.frames_lost)
                    } else {
                        String::new()
                    }
                ));
            }
            // The manifest closes the books: exactly this many frames are gone.
            sh.frames_lost = m.saturating_sub(sh.frames);
            sh.lost_exact = m >= sh.frames;
        }
        if let Some(m) = sh.manifest_segments
            && m != sh.segments
        {
            report.problems.push(format!(
                "stream {:?}: the manifest counts {m} segment files, {} found",
                sh.stream, sh.segments
            ));
        }
    }
    if report.finished {
        for name in rec.manifest().streams.keys() {
            if !by_stream.contains_key(name) {
                report.problems.push(format!(
                    "stream {name:?} is in the manifest but has no capture directory"
                ));
            }
        }
    }
    report.streams = by_stream.into_values().collect();
    Ok(report)
}
