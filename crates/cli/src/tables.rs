//! `polyedge tables` (capture segments → Parquet), `polyedge backfill` (→ ClickHouse) and
//! `polyedge replay --clickhouse`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use polyedge_store::ReplayFilter;
use polyedge_tables::clickhouse::{BackfillOptions, BlockingEventReplay, ChConfig, ChDb, backfill};

use crate::{DamageArgs, progress};

/// Converts the recording at `dir` into Parquet under `out` (default `<dir>/tables`) and prints
/// what was written. Fails (after writing everything readable) if a segment was corrupt.
pub fn cmd_tables(dir: &Path, out: Option<&Path>, damage: DamageArgs) -> Result<()> {
    let bar = progress::Bar::new();
    let sum = polyedge_tables::parquet::export_recording(dir, out, damage.skip_corrupt, &bar)
        .with_context(|| format!("export tables of {}", dir.display()))?;
    bar.finish();
    print!("{sum}");
    if !sum.errors.is_empty() {
        bail!(
            "{} damaged segment(s) (listed above); the records before the damage were exported \
             (--skip-corrupt exports everything readable around it)",
            sum.errors.len()
        );
    }
    Ok(())
}

/// `--clickhouse URL` and `--clickhouse-timeout` of `backtest`, `sweep` and `walk-forward`:
/// read the recordings from ClickHouse (loaded by `polyedge backfill`) instead of directories.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ChSourceArgs {
    /// Read the recordings from ClickHouse (http://host:8123/db, as loaded by `polyedge
    /// backfill`); `--recording` then names recordings in the database (none = all of them).
    #[arg(long, value_name = "URL")]
    pub clickhouse: Option<String>,
    /// With --clickhouse: the longest wait for one ClickHouse request or page, seconds.
    #[arg(long, default_value_t = 300.0)]
    pub clickhouse_timeout: f64,
}

impl ChSourceArgs {
    /// The ClickHouse source named by these arguments and `recordings` (names in the
    /// database), or `None` without `--clickhouse`.
    ///
    /// # Errors
    /// A malformed URL or timeout.
    pub fn source(
        &self,
        recordings: &[PathBuf],
    ) -> Result<Option<polyedge_backtest::ClickHouseSource>> {
        let Some(url) = &self.clickhouse else {
            return Ok(None);
        };
        let wait = timeout(self.clickhouse_timeout)?;
        Ok(Some(polyedge_backtest::ClickHouseSource {
            db: ChDb::new(ChConfig::parse(url)?).with_timeouts(wait, wait),
            names: recordings
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        }))
    }
}

/// `--clickhouse-timeout` seconds as a duration.
pub fn timeout(secs: f64) -> Result<Duration> {
    if !(secs > 0.0 && secs <= 86_400.0) {
        bail!("--clickhouse-timeout {secs}: must be a number of seconds in (0, 86400]");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A single-threaded tokio runtime for the ClickHouse commands.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(polyedge_tables::clickhouse::runtime()?)
}

/// `polyedge backfill`: loads recordings into ClickHouse (only what is not loaded yet).
/// Fails (after loading everything readable) if a segment was corrupt.
pub fn cmd_backfill(
    dirs: &[PathBuf],
    url: &str,
    limit: Duration,
    name: Option<&str>,
    force: bool,
    damage: DamageArgs,
) -> Result<()> {
    if name.is_some() && dirs.len() > 1 {
        bail!("--as names one recording; give one recording directory with it");
    }
    let db = ChDb::new(ChConfig::parse(url)?).with_timeouts(limit, limit);
    let rt = runtime()?;
    let mut damaged = 0;
    for dir in dirs {
        let opts = BackfillOptions {
            name: name.map(str::to_string),
            force,
            skip_corrupt: damage.skip_corrupt,
            ..BackfillOptions::default()
        };
        let bar = progress::Bar::new();
        let report = rt
            .block_on(backfill(&db, dir, &opts, &bar))
            .with_context(|| {
                format!("backfill {} into {}", dir.display(), db.config().display())
            })?;
        bar.finish();
        print!("{report}");
        damaged += report.errors.len();
    }
    if damaged > 0 {
        bail!(
            "{damaged} damaged segment(s) (listed above); the records before the damage were \
             loaded (--skip-corrupt loads everything readable around it)"
        );
    }
    Ok(())
}

/// `polyedge replay --clickhouse URL [NAME…]`: the parsed events of recordings stored in
/// ClickHouse, as JSON lines (the same output as replay from the files).
pub fn cmd_replay_clickhouse(
    url: &str,
    wait: Duration,
    names: &[String],
    limit: Option<u64>,
    filter: &ReplayFilter,
) -> Result<()> {
    let db = ChDb::new(ChConfig::parse(url)?).with_timeouts(wait, wait);
    let mut replay = BlockingEventReplay::open(&db, names, filter)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    for ev in replay.by_ref() {
        if limit.is_some_and(|l| n >= l) {
            break;
        }
        serde_json::to_writer(&mut out, &crate::replay_print::event_json(&ev?)?)?;
        writeln!(out)?;
        n += 1;
    }
    out.flush()?;
    let st = replay.stats();
    eprintln!(
        "{n} events from {} frames ({} parse errors) from ClickHouse {}",
        st.frames,
        st.parse_errors,
        db.config().display()
    );
    Ok(())
}
