//! Errors of starting or running a sandbox.

use std::path::PathBuf;

/// An error of [`Sandbox`](crate::Sandbox).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration is invalid (message names the value).
    #[error("sandbox configuration: {0}")]
    Config(String),
    /// A recording could not be opened.
    #[error("opening recording: {0}")]
    Store(#[from] polyedge_store::StoreError),
    /// Binding the listen address failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The served log could not be created or written.
    #[error("served log {path}: {source}")]
    ServedLog {
        /// The log file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
