//! The collector ingest benchmark behind `polyedge bench-collect`.
//!
//! A local WebSocket server thread (its own single-threaded runtime) waits for the market-channel
//! subscription and then sends `frames` Polymarket `price_change` frames as fast as the socket
//! takes them. The collector side is the real path: a [`Runner`] with the
//! [`MarketChannel`] protocol on a **single-threaded** runtime (receive, timestamp, size check,
//! parse for validation, queue) and the writer thread (append, compress, flush every 200 ms).
//! Afterwards the recording is replayed and every frame compared byte for byte with what the
//! server sent (zero loss, order kept). Reported: wall-clock frames/s, CPU seconds of the
//! collector threads (from `/proc/self/task/*/schedstat`, minus the server thread) and peak RSS
//! (`VmHWM`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use polyedge_store::{FrameReplay, RecordingMeta, RecordingWriter, ReplayFilter, StreamId};
use polyedge_venues::Feed;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::FeedError;
use crate::http::Http;
use crate::polymarket::MarketChannel;
use crate::sink::{WriterOptions, spawn_writer};
use crate::stats::StreamStats;
use crate::ws::{Command, Runner, SessionOptions};

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Frames to send.
    pub frames: u64,
    /// Recording directory to create.
    pub out: PathBuf,
}

/// Benchmark figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Frames sent by the server.
    pub frames: u64,
    /// Payload bytes sent.
    pub bytes: u64,
    /// Frames found in the recording, byte-identical and in order.
    pub verified: u64,
    /// Seconds from the first frame received to the writer finished.
    pub secs: f64,
    /// CPU seconds of the collector threads (ingest runtime + writer).
    pub collector_cpu_secs: f64,
    /// CPU seconds of the server thread.
    pub server_cpu_secs: f64,
    /// Peak resident set size of the process (bytes).
    pub peak_rss: u64,
    /// Size of the recording's segment files (bytes).
    pub disk_bytes: u64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.frames as f64;
        writeln!(
            f,
            "bench-collect: {} price_change frames (avg {:.0} B) in {:.2} s: {:.0} frames/s, {:.1} MB/s",
            self.frames,
            self.bytes as f64 / n.max(1.0),
            self.secs,
            n / self.secs.max(1e-9),
            self.bytes as f64 / 1e6 / self.secs.max(1e-9)
        )?;
        writeln!(
            f,
            "zero loss: {}/{} frames replayed byte-identical and in order{}",
            self.verified,
            self.frames,
            if self.verified == self.frames {
                ""
            } else {
                "  ** LOSS **"
            }
        )?;
        writeln!(
            f,
            "collector CPU {:.2} s (1 ingest thread + writer thread) = {:.0} frames per CPU-second; server thread CPU {:.2} s",
            self.collector_cpu_secs,
            n / self.collector_cpu_secs.max(1e-9),
            self.server_cpu_secs
        )?;
        write!(
            f,
            "peak RSS {:.1} MiB; segments on disk {:.1} MB ({:.1}x smaller than the payload)",
            self.peak_rss as f64 / f64::from(1u32 << 20),
            self.disk_bytes as f64 / 1e6,
            self.bytes as f64 / (self.disk_bytes.max(1)) as f64
        )
    }
}

const TOKEN: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

/// The `i`-th benchmark frame: a realistic `price_change` whose numbers vary with `i`.
pub fn frame(i: u64) -> String {
    let p = 1 + i % 98;
    let size = 100 + (i * 7919) % 100_000;
    let bid = p.saturating_sub(1).max(1);
    let ask = (p + 1).min(99);
    let hash = format!(
        "{:040x}",
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    );
    format!(
        r#"{{"market":"0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1","price_changes":[{{"asset_id":"{TOKEN}","price":"0.{p:02}","side":"{}","size":"{size}.{:02}","hash":"{hash}","best_bid":"0.{bid:02}","best_ask":"0.{ask:02}"}}],"event_type":"price_change","timestamp":"{}"}}"#,
        if i.is_multiple_of(2) { "BUY" } else { "SELL" },
        i % 100,
        1_776_081_600_000 + i
    )
}

fn cpu_ns(stat: &str) -> u64 {
    stat.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// CPU time of the calling thread (ns), from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat").map_or(0, |s| cpu_ns(&s))
}

/// CPU time of all threads of the process (ns).
fn process_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .map(|s| cpu_ns(&s))
        .sum()
}

/// Peak RSS (bytes) from `/proc/self/status`.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs the benchmark. See the [module docs](self).
///
/// # Errors
/// [`FeedError`] if the server, runtime or recording cannot be set up, or the replay fails.
pub fn run_bench(opts: &BenchOptions) -> Result<BenchReport, FeedError> {
    let io = |e: std::io::Error| FeedError::Io(e.to_string());
    let frames = opts.frames;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let server = std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || -> Result<(u64, u64), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
                let _ = tcp.set_nodelay(true);
                let mut ws = tokio_tungstenite::accept_async(tcp)
                    .await
                    .map_err(|e| e.to_string())?;
                // Wait for the subscription.
                let _ = ws.next().await;
                let mut bytes = 0u64;
                for i in 0..frames {
                    let f = frame(i);
                    bytes += f.len() as u64;
                    ws.feed(Message::text(f)).await.map_err(|e| e.to_string())?;
                    if i % 256 == 255 {
                        ws.flush().await.map_err(|e| e.to_string())?;
                    }
                }
                ws.flush().await.map_err(|e| e.to_string())?;
                // Keep the connection until the client goes away.
                while let Some(Ok(_)) = ws.next().await {}
                Ok((bytes, thread_cpu_ns()))
            })
        })
        .map_err(io)?;

    let writer = RecordingWriter::create(
        &opts.out,
        RecordingMeta {
            created_by: "polyedge bench-collect".into(),
            sources: vec![format!("local benchmark server ws://{addr}")],
            caveats: vec!["synthetic price_change frames".into()],
        },
    )?;
    let (sink, writer) = spawn_writer(
        writer,
        WriterOptions {
            flush: Duration::from_millis(200),
            fsync: None,
            queue_bytes: 256 << 20,
            clock: Arc::new(crate::sink::RecvClock::wall()),
            window_records: false,
            tap: None,
            on_closed: Box::new(|_| {}),
            durability: crate::durability::DurabilityOptions::default(),
        },
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io)?;
    let stats = Arc::new(StreamStats::default());
    let cpu_before = process_cpu_ns();
    let (elapsed, stream) = rt.block_on(async {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let _ = cmd_tx.send(Command::Subscribe(vec![TOKEN.to_string()]));
        let stream = Arc::new(StreamId::of(Feed::PolymarketMarket));
        let runner = Runner {
            stream: stream.clone(),
            protocol: MarketChannel::new(
                &format!("ws://{addr}/ws/market"),
                Duration::from_secs(10),
                true,
            ),
            sink,
            stats: stats.clone(),
            opts: SessionOptions {
                stale: Duration::from_secs(30),
                max_frame_bytes: 1 << 20,
                validate: true,
                backoff_min: Duration::from_millis(50),
                backoff_max: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(5),
            },
            http: Http::new(Duration::from_secs(5))?,
            commands: Some(cmd_rx),
            shutdown: shutdown_rx,
        };
        let task = tokio::spawn(runner.run());
        let mut t0 = None;
        let deadline = Instant::now() + Duration::from_mins(10);
        loop {
            let n = stats.frames.load(Ordering::Relaxed);
            if n > 0 && t0.is_none() {
                t0 = Some(Instant::now());
            }
            if n >= frames || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = shutdown_tx.send(true);
        let _ = task.await;
        Ok::<_, FeedError>((t0, stream))
    })?;
    let report = writer.join()?;
    let secs = elapsed.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let collector_total = process_cpu_ns().saturating_sub(cpu_before);
    let (bytes, server_cpu) = server
        .join()
        .map_err(|_| FeedError::Io("bench server panicked".into()))?
        .map_err(FeedError::Io)?;
    // Verify: every frame, in order, byte-identical.
    let mut verified = 0u64;
    let mut replay = FrameReplay::open_dirs(&[&opts.out], ReplayFilter::default())?;
    while let Some(f) = replay.next_frame() {
        let f = f?;
        if f.stream.name != stream.name {
            continue;
        }
        if f.bytes == frame(verified).as_bytes() {
            verified += 1;
        } else {
            break;
        }
    }
    let disk_bytes = polyedge_store::Recording::open(&opts.out)?
        .segments()
        .map(|(_, s)| s.len)
        .sum();
    let _ = report;
    Ok(BenchReport {
        frames,
        bytes,
        verified,
        secs,
        collector_cpu_secs: collector_total.saturating_sub(server_cpu) as f64 / 1e9,
        server_cpu_secs: server_cpu as f64 / 1e9,
        peak_rss: peak_rss(),
        disk_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_frames_parse_and_differ() {
        let mut out = Vec::new();
        for i in 0..200 {
            out.clear();
            assert_eq!(
                Feed::PolymarketMarket
                    .parse(frame(i).as_bytes(), polyedge_core::UnixNanos(1), &mut out)
                    .unwrap(),
                1,
                "{}",
                frame(i)
            );
        }
        assert_ne!(frame(1), frame(2));
    }

    #[test]
    fn small_bench_run_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_bench(&BenchOptions {
            frames: 5_000,
            out: dir.path().join("rec"),
        })
        .unwrap();
        assert_eq!(r.verified, 5_000, "{r}");
        assert!(r.peak_rss > 0 && r.disk_bytes > 0);
    }
}
