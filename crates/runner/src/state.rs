//! The state directory of a run: what lets a restart resume without double counting.
//!
//! ```text
//! <state>/
//! ├── run.json          mode, config digest, seed, strategies: a restart must match them
//! ├── recordings/
//! │   ├── 000001/       the first session's recording (docs/recording-format.md)
//! │   └── 000002/       the next session's, after a restart
//! ├── decisions.jsonl   rewritten by every session (the rebuild logs the earlier decisions again)
//! ├── state.json        positions, working orders, PnL (rewritten with the status line)
//! └── results.json      every order and fill, at the end of a session
//! ```
//!
//! The state is not stored as a snapshot to load: it is **rebuilt** by replaying the recordings
//! in order through a fresh engine with the same configuration and seed ([`rebuild`]). The
//! engine is deterministic, so this reaches exactly the state of the earlier sessions as far as
//! their recordings are durable.

use std::path::{Path, PathBuf};

use polyedge_core::Window;
use polyedge_store::{EventReplay, Recording, ReplayFilter};
use serde::{Deserialize, Serialize};

use crate::engine_loop::EngineLoop;
use crate::{Mode, RunError};

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Mode.
    pub mode: Mode,
    /// SHA-256 of the configuration file.
    pub config_digest: String,
    /// Seed.
    pub seed: u64,
    /// Strategies, in lane order.
    pub strategies: Vec<String>,
}

/// An opened state directory.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens (creating if needed) `dir` for a run described by `meta`.
    ///
    /// # Errors
    /// [`RunError::State`] if it cannot be created, or holds a run with another mode,
    /// configuration, seed or strategy list (a restart must use the same ones).
    pub fn open(dir: &Path, meta: &RunMeta) -> Result<Self, RunError> {
        let err = |message: String| RunError::State {
            dir: dir.to_path_buf(),
            message,
        };
        std::fs::create_dir_all(dir.join("recordings")).map_err(|e| err(e.to_string()))?;
        let path = dir.join("run.json");
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
            let old: RunMeta = serde_json::from_str(&text)
                .map_err(|e| err(format!("run.json is not a polyedge run's: {e}")))?;
            if &old != meta {
                return Err(err(format!(
                    "it belongs to another run (mode {}, seed {}, strategies {:?}, config sha256 {}); this one is mode {}, seed {}, strategies {:?}, config sha256 {}. Restart with the same configuration, or use another --state directory",
                    old.mode.name(),
                    old.seed,
                    old.strategies,
                    old.config_digest,
                    meta.mode.name(),
                    meta.seed,
                    meta.strategies,
                    meta.config_digest
                )));
            }
        } else {
            let text = serde_json::to_string_pretty(meta).map_err(|e| err(e.to_string()))?;
            std::fs::write(&path, text).map_err(|e| err(e.to_string()))?;
        }
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn parts(&self) -> Result<Vec<(u32, PathBuf)>, RunError> {
        let rd = std::fs::read_dir(self.dir.join("recordings")).map_err(|e| RunError::State {
            dir: self.dir.clone(),
            message: e.to_string(),
        })?;
        let mut v: Vec<(u32, PathBuf)> = rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n: u32 = e.file_name().to_str()?.parse().ok()?;
                Some((n, e.path()))
            })
            .collect();
        v.sort();
        Ok(v)
    }

    /// The earlier sessions' recordings, in order (empty parts — a session that died before
    /// writing anything — are skipped).
    ///
    /// # Errors
    /// [`RunError::State`] if the directory cannot be listed.
    pub fn recordings(&self) -> Result<Vec<PathBuf>, RunError> {
        Ok(self
            .parts()?
            .into_iter()
            .map(|p| p.1)
            .filter(|p| p.join("recording.json").exists())
            .collect())
    }

    /// Where this session records: the next part number.
    ///
    /// # Errors
    /// [`RunError::State`] if the directory cannot be listed.
    pub fn next_recording(&self) -> Result<PathBuf, RunError> {
        let n = self.parts()?.last().map_or(1, |p| p.0 + 1);
        Ok(self.dir.join("recordings").join(format!("{n:06}")))
    }
}

/// Replays `recordings` (in receive order, all of them merged) through `lp`.
///
/// # Errors
/// [`RunError::Rebuild`] if a recording cannot be opened or read.
pub fn rebuild(lp: &mut EngineLoop, recordings: &[PathBuf]) -> Result<(), RunError> {
    let recs = recordings
        .iter()
        .map(|p| {
            Recording::open(p).map_err(|e| RunError::Rebuild {
                dir: p.clone(),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut replay =
        EventReplay::open(&recs, ReplayFilter::default()).map_err(|e| RunError::Rebuild {
            dir: recordings.first().cloned().unwrap_or_default(),
            message: e.to_string(),
        })?;
    for ev in &mut replay {
        match ev {
            Ok(ev) => lp.replay_event(ev),
            Err(e) => {
                return Err(RunError::Rebuild {
                    dir: recordings.last().cloned().unwrap_or_default(),
                    message: e.to_string(),
                });
            }
        }
    }
    lp.flush();
    Ok(())
}

/// Windows the run listed without a recorded resolution: discovery takes them up again (it
/// subscribes those still open and follows the others until their outcome is known).
pub fn unresolved(lp: &EngineLoop) -> Vec<Window> {
    lp.tracker()
        .windows()
        .into_iter()
        .filter(|w| w.outcome.is_none())
        .cloned()
        .collect()
}
