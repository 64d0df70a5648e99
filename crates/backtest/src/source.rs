//! Where a backtest reads its recordings: directories on disk, or recordings loaded into
//! ClickHouse (`polyedge backfill`). Both give the same manifests, window indices and events in
//! the same order ([`polyedge_tables::clickhouse::ChEventReplay`] mirrors
//! [`polyedge_store::EventReplay`]), so a backtest of either gives the same result.
//!
//! Several recordings are merged by receive time and each event is taken from one recording
//! only ([`polyedge_store::dedup`]: from the earliest recording, in the order given, that is
//! live on the event's token, window or feed).

use std::path::PathBuf;

use polyedge_core::{MarketEvent, Window};
use polyedge_store::{
    EventReplay, Manifest, PipelinedEvents, Recording, ReplayFilter, ReplayStats,
};
use polyedge_tables::clickhouse::{BlockingEventReplay, ChDb};

use crate::runner::{BacktestError, dir_name};

/// Recordings stored in ClickHouse.
#[derive(Debug, Clone)]
pub struct ClickHouseSource {
    /// The database.
    pub db: ChDb,
    /// Recording names in it, in the order of preference (empty: every recording, by name).
    pub names: Vec<String>,
}

/// The recordings of a backtest, opened: their names, manifests and window indices, and how to
/// replay them.
pub(crate) struct Opened {
    /// Names for the report (directory names, or names in ClickHouse), in the order given.
    pub names: Vec<String>,
    /// Manifests, in the same order.
    pub manifests: Vec<Manifest>,
    /// Window indices, in the same order.
    pub windows: Vec<Vec<Window>>,
    origin: Origin,
}

enum Origin {
    Files(Vec<Recording>),
    ClickHouse(Box<ClickHouseSource>),
}

impl Opened {
    /// Opens `dirs`, or (when `clickhouse` is given) the named recordings in ClickHouse.
    pub fn open(
        dirs: &[PathBuf],
        clickhouse: Option<&ClickHouseSource>,
    ) -> Result<Opened, BacktestError> {
        if let Some(ch) = clickhouse {
            return Self::open_clickhouse(ch);
        }
        let recs = dirs
            .iter()
            .map(|p| {
                Recording::open(p).map_err(|error| BacktestError::Recording {
                    path: p.clone(),
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Opened {
            names: recs.iter().map(|r| dir_name(r.dir())).collect(),
            manifests: recs.iter().map(|r| r.manifest().clone()).collect(),
            windows: recs.iter().map(|r| r.windows().to_vec()).collect(),
            origin: Origin::Files(recs),
        })
    }

    fn open_clickhouse(ch: &ClickHouseSource) -> Result<Opened, BacktestError> {
        let rt = polyedge_tables::clickhouse::runtime().map_err(BacktestError::ClickHouse)?;
        let (names, manifests, windows) = rt
            .block_on(async {
                let names = ch.db.resolve_recordings(&ch.names).await?;
                let mut manifests = Vec::new();
                let mut windows = Vec::new();
                for n in &names {
                    manifests.push(ch.db.manifest(n).await?);
                    windows.push(ch.db.windows(n).await?);
                }
                Ok((names, manifests, windows))
            })
            .map_err(BacktestError::ClickHouse)?;
        if names.is_empty() {
            return Err(BacktestError::Usage(format!(
                "ClickHouse {} holds no recording; load one with `polyedge backfill DIR --clickhouse URL`",
                ch.db.config().display()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = names.iter().find(|n| !seen.insert(*n)) {
            return Err(BacktestError::Usage(format!(
                "recording {twice} is given twice: its data would be replayed twice"
            )));
        }
        Ok(Opened {
            names: names.clone(),
            manifests,
            windows,
            origin: Origin::ClickHouse(Box::new(ClickHouseSource {
                db: ch.db.clone(),
                names,
            })),
        })
    }

    /// A replay of the recordings with `filter`, each event from one recording only. Files are
    /// read, decompressed and parsed on a reader thread of their own
    /// ([`PipelinedEvents`]) unless `single_thread`; the events are the same either way.
    pub fn events(
        &self,
        filter: &ReplayFilter,
        skip_corrupt: bool,
        single_thread: bool,
    ) -> Result<Events, BacktestError> {
        Ok(match &self.origin {
            Origin::Files(recs) => {
                let replay = EventReplay::open(recs, filter.clone())
                    .map_err(BacktestError::Replay)?
                    .with_skip_corrupt(skip_corrupt)
                    .with_dedup(true);
                if single_thread {
                    Events::Files(Box::new(replay))
                } else {
                    Events::Pipelined(Box::new(
                        PipelinedEvents::spawn(replay).map_err(BacktestError::Replay)?,
                    ))
                }
            }
            Origin::ClickHouse(ch) => Events::ClickHouse(Box::new(
                BlockingEventReplay::open(&ch.db, &ch.names, filter)
                    .map_err(BacktestError::ClickHouse)?
                    .with_dedup(true),
            )),
        })
    }
}

/// Parsed events of the recordings, from files or from ClickHouse.
pub(crate) enum Events {
    Files(Box<EventReplay>),
    Pipelined(Box<PipelinedEvents>),
    ClickHouse(Box<BlockingEventReplay>),
}

impl Events {
    /// Counters so far.
    pub fn stats(&self) -> &ReplayStats {
        match self {
            Events::Files(r) => r.stats(),
            Events::Pipelined(r) => r.stats(),
            Events::ClickHouse(r) => r.stats(),
        }
    }
}

impl Iterator for Events {
    type Item = Result<MarketEvent, BacktestError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Events::Files(r) => r.next().map(|e| e.map_err(BacktestError::Replay)),
            Events::Pipelined(r) => r.next().map(|e| e.map_err(BacktestError::Replay)),
            Events::ClickHouse(r) => r.next().map(|e| e.map_err(BacktestError::ClickHouse)),
        }
    }
}
