//! Writes the report directory: `summary.json`, `trades.csv`, `equity.csv`, `windows.csv`,
//! `report.html`. Existing files of those names are replaced; other files are left alone.
//! Each file is written to `<name>.tmp` and renamed, so a crash never leaves a half file under
//! the final name.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::runner::Backtest;
use crate::summary::{self, Summary};
use crate::{html, tables};

/// The files of a report directory, in the order written.
pub const REPORT_FILES: &[&str] = &[
    "summary.json",
    "trades.csv",
    "equity.csv",
    "windows.csv",
    "report.html",
];

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be created or written.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn write_atomic(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> Result<PathBuf, ReportError> {
    let path = dir.join(name);
    let fail = |message: String| ReportError::Write {
        path: path.clone(),
        message,
    };
    let mut buf = Vec::new();
    fill(&mut buf).map_err(fail)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
    f.write_all(&buf).map_err(|e| fail(e.to_string()))?;
    f.sync_all().map_err(|e| fail(e.to_string()))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| fail(e.to_string()))?;
    Ok(path)
}

/// Writes the five report files of `bt` (with its `summary`) into `dir`, creating it.
/// Returns the paths written.
///
/// # Errors
/// [`ReportError`] naming the file that could not be written.
pub fn write_report(
    bt: &Backtest,
    summary: &Summary,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let e = |x: &dyn std::fmt::Display| x.to_string();
    Ok(vec![
        write_atomic(dir, "summary.json", |b| {
            b.extend_from_slice(summary::to_json(summary).map_err(|x| e(&x))?.as_bytes());
            Ok(())
        })?,
        write_atomic(dir, "trades.csv", |b| {
            tables::write_trades(bt, b).map_err(|x| e(&x))
        })?,
        write_atomic(dir, "equity.csv", |b| {
            tables::write_equity(bt, b).map_err(|x| e(&x))
        })?,
        write_atomic(dir, "windows.csv", |b| {
            tables::write_windows(bt, b).map_err(|x| e(&x))
        })?,
        write_atomic(dir, "report.html", |b| {
            b.extend_from_slice(html::render(bt, summary).map_err(|x| e(&x))?.as_bytes());
            Ok(())
        })?,
    ])
}
