//! `polyedge tables`: a recording's capture segments → Parquet tables.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::progress;

/// Converts the recording at `dir` into Parquet under `out` (default `<dir>/tables`) and prints
/// what was written. Fails (after writing everything readable) if a segment was corrupt.
pub fn cmd_tables(dir: &Path, out: Option<&Path>) -> Result<()> {
    let bar = progress::Bar::new();
    let sum = polyedge_tables::parquet::export_recording(dir, out, &bar)
        .with_context(|| format!("export tables of {}", dir.display()))?;
    bar.finish();
    print!("{sum}");
    if !sum.errors.is_empty() {
        bail!(
            "{} damaged segment(s) (listed above); everything readable was exported",
            sum.errors.len()
        );
    }
    Ok(())
}
