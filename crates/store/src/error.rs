//! Errors of the store.

use std::path::PathBuf;

/// What went wrong reading or writing a recording. Messages name the file (and line/offset where
/// it applies) and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not in the expected format (bad magic, bad header, corrupt record …).
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Bad input data for an importer, with the line (1-based) when known.
    #[error("{path}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The source file.
        path: PathBuf,
        /// 1-based line (or row) number.
        line: Option<u64>,
        /// What was wrong.
        reason: String,
    },
    /// The caller asked for something that cannot be done (e.g. writing into an existing recording).
    #[error("{0}")]
    Usage(String),
}

impl StoreError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
