//! The served log (`docs/sandbox.md` §5): one JSON line per data frame written to a client
//! socket, plus connection open/drop lines. Written by a dedicated thread that flushes whenever
//! it has nothing queued, so the file is complete shortly after the sandbox goes idle.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SandboxError;
use crate::stats::FrameKind;

/// One data-frame line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameLine {
    /// Connection number (1, 2, … in accept order).
    pub conn: u64,
    /// Request path without the query.
    pub path: String,
    /// Recorded stream name, or the endpoint's feed name for injected and reply frames.
    pub stream: String,
    /// Recorded receive time (ns since epoch), or the sandbox clock for injected/reply frames.
    pub recv_ns: u64,
    /// 0-based index among this connection's data lines.
    pub seq: u64,
    /// Payload length in bytes.
    pub len: usize,
    /// SHA-256 of the payload, lowercase hex.
    pub sha: String,
    /// What the frame is.
    pub kind: String,
    /// Sandbox clock when written (ns since epoch).
    pub clock_ns: u64,
}

/// One connection open/end line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    /// Connection number.
    pub conn: u64,
    /// Request path without the query.
    pub path: String,
    /// `open` or `drop`.
    pub event: String,
    /// Why a connection ended: `drop-every`, `client-closed`, `error`, `overflow`, `shutdown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Handle of the log writer (cheap to clone the sender side via [`ServedLog::sender`]).
pub(crate) struct ServedLog {
    path: PathBuf,
    tx: Option<mpsc::Sender<Msg>>,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

/// Sends lines to the writer; a no-op when there is no log.
#[derive(Clone, Default)]
pub(crate) struct LogSender(Option<mpsc::Sender<Msg>>);

/// What the writer thread receives.
pub(crate) enum Msg {
    Line(String),
    /// Write what came before, flush, sync and stop.
    Stop,
}

impl LogSender {
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    pub fn frame(&self, line: &FrameLine) {
        if let Some(tx) = &self.0
            && let Ok(s) = serde_json::to_string(line)
        {
            let _ = tx.send(Msg::Line(s));
        }
    }

    pub fn event(&self, conn: u64, path: &str, event: &str, reason: Option<&str>) {
        if let Some(tx) = &self.0 {
            let line = EventLine {
                conn,
                path: path.to_owned(),
                event: event.to_owned(),
                reason: reason.map(str::to_owned),
            };
            if let Ok(s) = serde_json::to_string(&line) {
                let _ = tx.send(Msg::Line(s));
            }
        }
    }
}

impl ServedLog {
    /// Creates (truncates) `path` and starts the writer thread.
    pub fn create(path: &Path) -> Result<Self, SandboxError> {
        let err = |source| SandboxError::ServedLog {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(err)?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let join = std::thread::Builder::new()
            .name("sandbox-served-log".into())
            .spawn(move || write_loop(file, &rx))
            .map_err(err)?;
        Ok(ServedLog {
            path: path.to_path_buf(),
            tx: Some(tx),
            join: Some(join),
        })
    }

    pub fn sender(&self) -> LogSender {
        LogSender(self.tx.clone())
    }

    /// Stops the writer after everything sent so far is written (lines sent later are lost).
    pub fn close(mut self) -> Result<(), SandboxError> {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Stop);
        }
        match self.join.take().map(JoinHandle::join) {
            Some(Ok(Err(source))) => Err(SandboxError::ServedLog {
                path: self.path.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }
}

fn write_loop(file: File, rx: &mpsc::Receiver<Msg>) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, file);
    // Blocks for the next line; after each burst (nothing more queued) flushes.
    'outer: while let Ok(msg) = rx.recv() {
        let mut next = Some(msg);
        while let Some(m) = next {
            match m {
                Msg::Line(line) => {
                    w.write_all(line.as_bytes())?;
                    w.write_all(b"\n")?;
                }
                Msg::Stop => break 'outer,
            }
            next = rx.try_recv().ok();
        }
        w.flush()?;
    }
    w.flush()?;
    w.get_ref().sync_all()
}

/// Kind name as in the log.
pub(crate) fn kind_name(kind: FrameKind) -> &'static str {
    match kind {
        FrameKind::Recorded => "recorded",
        FrameKind::Resync => "resync",
        FrameKind::Malformed => "malformed",
        FrameKind::Oversize => "oversize",
        FrameKind::Pong => "pong",
        FrameKind::Ack => "ack",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_is_sha256_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
