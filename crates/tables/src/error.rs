//! Errors of the tables crate.

use std::path::PathBuf;

use polyedge_store::StoreError;

/// What went wrong. Messages name the file, table or server and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Reading the recording failed (message names the file).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An I/O error on an output file or directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a Parquet file failed.
    #[error("{path}: writing Parquet: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet/Arrow error.
        message: String,
    },
    /// A ClickHouse request failed (server down, refused query, bad data).
    #[error("ClickHouse {url}: {context}: {source}")]
    ClickHouse {
        /// Server and database (without credentials).
        url: String,
        /// What polyedge was doing.
        context: String,
        /// The client's error.
        #[source]
        source: ::clickhouse::error::Error,
    },
    /// A ClickHouse request got no answer within the configured time (a server that accepts
    /// connections but hangs, a half-open connection, …).
    #[error("ClickHouse {url}: {context}: no answer within {secs} s")]
    Timeout {
        /// Server and database (without credentials).
        url: String,
        /// What polyedge was doing.
        context: String,
        /// The limit (s).
        secs: f64,
    },
    /// Data read back from ClickHouse is not what polyedge wrote (unknown feed code, …).
    #[error("ClickHouse {url}: {message}")]
    Data {
        /// Server and database (without credentials).
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The caller asked for something that cannot be done (bad URL, name clash, …).
    #[error("{0}")]
    Usage(String),
}

impl TableError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TableError {
        let path = path.into();
        move |source| TableError::Io { path, source }
    }
}
