//! Tables of a running collection: every segment `collect` closes is exported to Parquet and/or
//! loaded into ClickHouse on worker threads, off the recorder's write path.
//!
//! [`CollectTables::start`] spawns one thread per store; [`CollectTables::hook`] is the
//! `on_segment_closed` hook of `polyedge_feeds::Collector` (it only queues the closed segment,
//! so the writer thread never waits for a conversion); [`CollectTables::finish`], called after
//! the recording finished, waits until every queued segment is done and writes the window index
//! (Parquet `windows/windows.parquet`, ClickHouse `windows`) one last time.
//!
//! * **Parquet** — [`crate::parquet::export_segment`] of each closed segment into
//!   `<recording>/tables/`, then `windows.parquet` from the current `windows.jsonl` (so the
//!   window index is at most one segment close behind). A failure is logged with the segment
//!   file and counted; it never stops recording; `polyedge tables <recording>` redoes it all.
//! * **ClickHouse** — [`crate::clickhouse::load_segment`] of each closed segment (the same
//!   path as `polyedge backfill`, marked in `loaded_segments` with source `collect`), plus the
//!   windows that changed since the last load. Rows appear when their hourly segment closes.
//!   ClickHouse down (or refusing) ⇒ a warning with the segment file, counters, and the segment
//!   stays queued: it is retried at every later segment close and once at finish. What is still
//!   not loaded at the end is listed in the report: the capture files have it and
//!   `polyedge backfill` loads exactly what is missing (it skips segments in
//!   `loaded_segments`). Nothing is lost.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use polyedge_store::{ClosedSegment, Recording};

use crate::TableError;
use crate::clickhouse::{ChConfig, ChDb, SegmentLoadOptions, load_segment, manifest_json};
use crate::convert::{ConvertStats, now_ns, window_row};
use crate::parquet::{TABLES_DIR, export_segment, export_windows};
use polyedge_store::segment::ReadOptions;

/// What to do with the closed segments of a collection.
#[derive(Debug, Clone)]
pub struct CollectTablesOptions {
    /// The recording directory `collect` writes (it may not exist yet when the workers start).
    pub recording_dir: PathBuf,
    /// Export each closed segment to Parquet under `<recording_dir>/tables/`.
    pub parquet: bool,
    /// Load each closed segment into this ClickHouse database.
    pub clickhouse: Option<ChConfig>,
    /// Name of the recording in ClickHouse; default the directory's name (what
    /// `polyedge backfill` uses by default, so a later backfill continues it).
    pub clickhouse_name: Option<String>,
    /// Longest wait for one ClickHouse call (creating the schema, registering the recording,
    /// inserting the window index, loading one segment). A call that takes longer counts as
    /// failed and is retried at the next segment close, so a hung server cannot stall
    /// `collect`'s shutdown. [`DEFAULT_CLICKHOUSE_TIMEOUT`] is a sane value.
    pub clickhouse_timeout: Duration,
}

/// Default [`CollectTablesOptions::clickhouse_timeout`]: 600 s, enough to load an hourly
/// segment of a busy collection on a slow server.
pub const DEFAULT_CLICKHOUSE_TIMEOUT: Duration = Duration::from_mins(10);

/// What the Parquet worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParquetReport {
    /// The output directory.
    pub tables_dir: PathBuf,
    /// Segments exported (damaged ones included: their readable records were exported).
    pub segments: u64,
    /// Frames read.
    pub frames: u64,
    /// Rows written per event table.
    pub rows: BTreeMap<String, u64>,
    /// Files written (window index rewrites not counted).
    pub files: u64,
    /// Rows of the last `windows.parquet` written (`None` if the last attempt failed).
    pub windows: Option<u64>,
    /// Why the last window-index export failed (it is retried at every segment close and at
    /// finish; `None` once one succeeded).
    pub windows_error: Option<String>,
    /// Segment failures, each naming the segment file: an export that could not be written, a
    /// damaged segment (records before the damage exported).
    pub failures: Vec<String>,
}

/// What the ClickHouse worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClickHouseReport {
    /// Server and database, without credentials.
    pub url: String,
    /// Name of the recording in ClickHouse.
    pub recording: String,
    /// Segments loaded (and marked in `loaded_segments` when undamaged).
    pub segments_loaded: u64,
    /// Frames inserted.
    pub frames: u64,
    /// Rows inserted per event table.
    pub rows: BTreeMap<String, u64>,
    /// Window rows inserted (a window is sent again whenever it changed).
    pub windows: u64,
    /// Failed attempts (schema, registration, windows or a segment), each logged.
    pub failed_attempts: u64,
    /// The last error, if any attempt failed.
    pub last_error: Option<String>,
    /// Damaged segments (message names the file): records before the damage were loaded, the
    /// segment is not marked loaded.
    pub damaged: Vec<String>,
    /// Closed segments not loaded at finish (ClickHouse unreachable): load them with
    /// `polyedge backfill`.
    pub not_loaded: Vec<PathBuf>,
    /// The window index could not be sent at finish (backfill sends it).
    pub windows_pending: bool,
}

/// What [`CollectTables::finish`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectTablesReport {
    /// Parquet export, if enabled.
    pub parquet: Option<ParquetReport>,
    /// ClickHouse loading, if enabled.
    pub clickhouse: Option<ClickHouseReport>,
}

enum Msg {
    Segment(ClosedSegment),
    Finish,
}

/// A worker thread fed closed segments.
struct Worker<R> {
    tx: mpsc::Sender<Msg>,
    join: JoinHandle<R>,
}

fn spawn_worker<J: Job>(name: &str, mut job: J) -> Result<Worker<J::Report>, TableError> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let join = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            job.start();
            // A closed channel (the collector went away without `finish`) also finishes.
            while let Ok(Msg::Segment(seg)) = rx.recv() {
                job.segment(&seg);
            }
            job.finish()
        })
        .map_err(|e| TableError::Usage(format!("cannot start the {name} thread: {e}")))?;
    Ok(Worker { tx, join })
}

trait Job: Send + 'static {
    type Report: Send + 'static;
    fn start(&mut self) {}
    fn segment(&mut self, seg: &ClosedSegment);
    fn finish(self) -> Self::Report;
}

/// The running table workers of one collection.
pub struct CollectTables {
    parquet: Option<Worker<ParquetReport>>,
    clickhouse: Option<Worker<ClickHouseReport>>,
}

impl std::fmt::Debug for CollectTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectTables")
            .field("parquet", &self.parquet.is_some())
            .field("clickhouse", &self.clickhouse.is_some())
            .finish()
    }
}

impl CollectTables {
    /// Starts the workers `opts` asks for (none: the hook does nothing). The ClickHouse worker
    /// creates the schema right away (a failure is only a warning: it is retried).
    ///
    /// # Errors
    /// [`TableError::Usage`] if a thread cannot be started or no ClickHouse name can be derived
    /// from the directory.
    pub fn start(opts: &CollectTablesOptions) -> Result<Self, TableError> {
        let parquet = if opts.parquet {
            Some(spawn_worker(
                "polyedge-parquet",
                ParquetJob {
                    rec_dir: opts.recording_dir.clone(),
                    report: ParquetReport {
                        tables_dir: opts.recording_dir.join(TABLES_DIR),
                        ..ParquetReport::default()
                    },
                },
            )?)
        } else {
            None
        };
        let clickhouse = match &opts.clickhouse {
            Some(cfg) => {
                let name = match &opts.clickhouse_name {
                    Some(n) => n.clone(),
                    None => dir_name(&opts.recording_dir)?,
                };
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| TableError::Usage(format!("cannot start async runtime: {e}")))?;
                Some(spawn_worker(
                    "polyedge-clickhouse",
                    ChJob {
                        db: ChDb::new(cfg.clone()),
                        rt,
                        timeout: opts.clickhouse_timeout,
                        rec_dir: opts.recording_dir.clone(),
                        schema: false,
                        registered: false,
                        pending: VecDeque::new(),
                        sent_windows: HashMap::new(),
                        report: ClickHouseReport {
                            url: cfg.display(),
                            recording: name,
                            ..ClickHouseReport::default()
                        },
                    },
                )?)
            }
            None => None,
        };
        Ok(CollectTables {
            parquet,
            clickhouse,
        })
    }

    /// The segment-closed hook: queues the segment for every worker and returns at once.
    pub fn hook(&self) -> impl FnMut(&ClosedSegment) + Send + 'static {
        let txs: Vec<mpsc::Sender<Msg>> = self
            .parquet
            .iter()
            .map(|w| w.tx.clone())
            .chain(self.clickhouse.iter().map(|w| w.tx.clone()))
            .collect();
        move |seg: &ClosedSegment| {
            for tx in &txs {
                if tx.send(Msg::Segment(seg.clone())).is_err() {
                    tracing::warn!(file = %seg.path.display(), "table worker gone; segment not converted (run polyedge tables / backfill)");
                }
            }
        }
    }

    /// Waits until every queued segment is exported/loaded, writes the window index a last time
    /// and reports. Call after the recording finished (the hook has seen every segment).
    pub fn finish(self) -> CollectTablesReport {
        let parquet = self.parquet.map(|w| join(w, "parquet"));
        let clickhouse = self.clickhouse.map(|w| join(w, "clickhouse"));
        CollectTablesReport {
            parquet: parquet.flatten(),
            clickhouse: clickhouse.flatten(),
        }
    }
}

fn join<R>(w: Worker<R>, what: &str) -> Option<R> {
    let _ = w.tx.send(Msg::Finish);
    let r = w.join.join().ok();
    if r.is_none() {
        tracing::error!("the {what} table worker panicked; run polyedge tables / backfill");
    }
    r
}

fn dir_name(dir: &Path) -> Result<String, TableError> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(TableError::io(dir))?
            .join(dir)
    };
    abs.components()
        .next_back()
        .and_then(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .ok_or_else(|| {
            TableError::Usage(format!(
                "{}: cannot name the recording in ClickHouse from its path",
                dir.display()
            ))
        })
}

struct ParquetJob {
    rec_dir: PathBuf,
    report: ParquetReport,
}

impl ParquetJob {
    fn windows(&mut self) {
        let res = Recording::open(&self.rec_dir)
            .map_err(TableError::from)
            .and_then(|rec| {
                export_windows(&rec, &self.report.tables_dir, &mut ConvertStats::default())
            });
        match res {
            Ok((_, n)) => {
                self.report.windows = Some(n);
                self.report.windows_error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Parquet: window index not exported (retried at the next segment close)");
                self.report.windows = None;
                self.report.windows_error = Some(e.to_string());
            }
        }
    }
}

impl Job for ParquetJob {
    type Report = ParquetReport;

    fn segment(&mut self, seg: &ClosedSegment) {
        // A closed segment is complete and synced: no torn tail is legitimate in it.
        let read = ReadOptions {
            tail_allowed: false,
            skip_corrupt: false,
        };
        match export_segment(&seg.path, &seg.stream, &self.report.tables_dir, read) {
            Ok(e) => {
                self.report.segments += 1;
                self.report.frames += e.frames;
                self.report.files += e.files.len() as u64;
                for (t, n) in &e.rows {
                    *self.report.rows.entry(t.clone()).or_default() += n;
                }
                if let Some(err) = e.error {
                    tracing::warn!(file = %seg.path.display(), error = %err, "Parquet: damaged segment; exported the records before the damage");
                    self.report.failures.push(err);
                }
                tracing::debug!(file = %seg.path.display(), frames = e.frames, files = e.files.len(), "Parquet: segment exported");
            }
            Err(e) => {
                tracing::warn!(file = %seg.path.display(), error = %e, "Parquet: segment not exported (recording continues; polyedge tables redoes it)");
                self.report
                    .failures
                    .push(format!("{}: {e}", seg.path.display()));
            }
        }
        self.windows();
    }

    fn finish(mut self) -> ParquetReport {
        self.windows();
        self.report
    }
}

struct ChJob {
    db: ChDb,
    rt: tokio::runtime::Runtime,
    /// Longest wait for one call.
    timeout: Duration,
    rec_dir: PathBuf,
    schema: bool,
    registered: bool,
    /// Closed segments not loaded yet, oldest first.
    pending: VecDeque<ClosedSegment>,
    /// slug → window JSON last inserted.
    sent_windows: HashMap<String, String>,
    report: ClickHouseReport,
}

impl ChJob {
    /// Runs one ClickHouse call to completion, or fails it after `self.timeout`.
    fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, TableError>>,
    ) -> Result<T, TableError> {
        let limit = self.timeout;
        // The timer must be created inside the runtime.
        match self
            .rt
            .block_on(async move { tokio::time::timeout(limit, fut).await })
        {
            Ok(r) => r,
            Err(_) => Err(TableError::Timeout {
                url: self.report.url.clone(),
                context: what.to_string(),
                secs: limit.as_secs_f64(),
            }),
        }
    }

    fn failed(&mut self, what: &str, file: Option<&Path>, e: &TableError) {
        self.report.failed_attempts += 1;
        self.report.last_error = Some(e.to_string());
        let file = file.map(|f| f.display().to_string()).unwrap_or_default();
        tracing::warn!(
            url = %self.report.url, file = %file, error = %e, pending = self.pending.len(),
            "ClickHouse: {what} failed; retried at the next segment close — the capture files keep everything (polyedge backfill loads it)"
        );
    }

    /// Creates the schema unless done; `false` if ClickHouse failed.
    fn ensure_schema(&mut self) -> bool {
        const WHAT: &str = "creating the schema";
        if !self.schema {
            match self.call(WHAT, self.db.create_schema()) {
                Ok(()) => self.schema = true,
                Err(e) => self.failed(WHAT, None, &e),
            }
        }
        self.schema
    }

    /// Schema, registration and changed windows; `false` if ClickHouse failed.
    fn prepare(&mut self) -> bool {
        if !self.ensure_schema() {
            return false;
        }
        let rec = match Recording::open(&self.rec_dir) {
            Ok(r) => r,
            Err(e) => {
                let dir = self.rec_dir.clone();
                self.failed("reading the recording", Some(&dir), &e.into());
                return false;
            }
        };
        if !self.registered {
            let m = rec.manifest();
            const WHAT: &str = "registering the recording";
            let res = self.call(
                WHAT,
                self.db.register_recording(
                    &self.report.recording,
                    crate::convert::ns(m.created_ns),
                    &m.meta.created_by,
                    manifest_json(m),
                ),
            );
            match res {
                Ok(()) => self.registered = true,
                Err(e) => {
                    self.failed(WHAT, None, &e);
                    return false;
                }
            }
        }
        let now = now_ns();
        let mut rows = Vec::new();
        let mut changed = Vec::new();
        for w in rec.windows() {
            let json = serde_json::to_string(w).unwrap_or_default();
            if self.sent_windows.get(&w.slug) == Some(&json) {
                continue;
            }
            match window_row(w, &self.report.recording, now, &mut ConvertStats::default()) {
                Ok(r) => {
                    rows.push(r);
                    changed.push((w.slug.clone(), json));
                }
                Err(e) => {
                    tracing::warn!(slug = %w.slug, error = %e, "window not sent to ClickHouse");
                }
            }
        }
        const WINDOWS: &str = "inserting windows";
        if let Err(e) = self.call(WINDOWS, self.db.insert(&rows)) {
            self.failed(WINDOWS, None, &e);
            return false;
        }
        self.report.windows += rows.len() as u64;
        self.sent_windows.extend(changed);
        true
    }

    /// Loads the pending segments, oldest first, until one fails.
    fn drain(&mut self) {
        if self.pending.is_empty() || !self.prepare() {
            return;
        }
        let opts = SegmentLoadOptions {
            mark: true,
            source: "collect",
            batch_frames: 50_000,
            batch_bytes: 32 << 20,
            read: ReadOptions {
                tail_allowed: false,
                skip_corrupt: false,
            },
        };
        const WHAT: &str = "loading a segment";
        while let Some(seg) = self.pending.front().cloned() {
            let res = self.call(
                WHAT,
                load_segment(
                    &self.db,
                    &self.report.recording,
                    &seg.stream,
                    &seg.path,
                    &opts,
                ),
            );
            match res {
                Ok(load) => {
                    self.pending.pop_front();
                    self.report.segments_loaded += 1;
                    self.report.frames += load.frames;
                    for (t, n) in load.rows {
                        *self.report.rows.entry(t).or_default() += n;
                    }
                    if let Some(err) = load.error {
                        tracing::warn!(file = %seg.path.display(), error = %err, "ClickHouse: damaged segment; loaded the records before the damage, not marked loaded");
                        self.report.damaged.push(err);
                    }
                    tracing::debug!(file = %seg.path.display(), frames = load.frames, "ClickHouse: segment loaded");
                }
                Err(e) => {
                    self.failed(WHAT, Some(&seg.path), &e);
                    return;
                }
            }
        }
    }
}

impl Job for ChJob {
    type Report = ClickHouseReport;

    fn start(&mut self) {
        self.ensure_schema();
    }

    fn segment(&mut self, seg: &ClosedSegment) {
        self.pending.push_back(seg.clone());
        self.drain();
    }

    fn finish(mut self) -> ClickHouseReport {
        // Once more: loads what is pending and sends the final window index.
        let ok = if self.pending.is_empty() {
            self.prepare()
        } else {
            self.drain();
            self.pending.is_empty()
        };
        self.report.windows_pending = !ok;
        self.report.not_loaded = self.pending.iter().map(|s| s.path.clone()).collect();
        if !self.report.not_loaded.is_empty() {
            tracing::warn!(
                url = %self.report.url, segments = self.report.not_loaded.len(),
                "ClickHouse: closed segments not loaded; the capture files keep them: run polyedge backfill"
            );
        }
        self.report
    }
}
