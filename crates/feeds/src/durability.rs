//! What the recorder promises about a crash and a full disk (docs/collect.md, docs/reliability.md):
//!
//! * **Time-bounded loss.** A `kill -9` loses at most the frames received in the last
//!   [`DurabilityOptions::max_loss`] (1 s by default), however far the writer lags
//!   ([`LossBound`]): a feed task queues a frame only if the oldest frame not yet written, plus
//!   the time the writer needs for what is queued before it (queued bytes × the writer's
//!   measured ns per byte, with a 1.5× margin), stays under `max_loss − 3 × flush`. Waiting stops it reading its
//!   socket, so a lagging disk slows the intake (TCP back-pressure) instead of piling up seconds
//!   of frames in memory. (The byte budget `queue_bytes` still bounds memory.)
//! * **Free space.** The writer checks the free space of the recording's filesystem every
//!   [`DurabilityOptions::space_check_every`]: below `warn_free_bytes` it logs a warning (once a
//!   minute), below `min_free_bytes` it stops cleanly — writes what is queued, closes and syncs
//!   every segment, writes the manifest — and the collector exits with an error naming the free
//!   space. A write that fails anyway (the disk filled faster than the check) stops the writer
//!   too; what was written stays readable (a torn tail only at the end of each stream's last
//!   segment).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Probe of the bytes available to unprivileged writers on the filesystem holding a path.
pub type FreeSpaceProbe = Box<dyn FnMut(&Path) -> std::io::Result<u64> + Send>;

/// Durability settings of the writer thread.
pub struct DurabilityOptions {
    /// Most receive time a crash may lose (default 1 s). Must be at least four flush intervals.
    pub max_loss: Duration,
    /// Stop cleanly when fewer bytes than this are free (default 512 MiB; 0 = never).
    pub min_free_bytes: u64,
    /// Warn when fewer bytes than this are free (default 4 GiB; 0 = never).
    pub warn_free_bytes: u64,
    /// How often free space is checked (default 1 s).
    pub space_check_every: Duration,
    /// How free space is measured (default: `statvfs`, [`available_bytes`]).
    pub free_space: Option<FreeSpaceProbe>,
    /// Drills and tests only: sleep this long per frame written, as a slow disk would
    /// (default `None`).
    pub slow_disk: Option<Duration>,
}

impl Default for DurabilityOptions {
    fn default() -> Self {
        DurabilityOptions {
            max_loss: Duration::from_secs(1),
            min_free_bytes: 512 << 20,
            warn_free_bytes: 4 << 30,
            space_check_every: Duration::from_secs(1),
            free_space: None,
            slow_disk: None,
        }
    }
}

impl std::fmt::Debug for DurabilityOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurabilityOptions")
            .field("max_loss", &self.max_loss)
            .field("min_free_bytes", &self.min_free_bytes)
            .field("warn_free_bytes", &self.warn_free_bytes)
            .field("space_check_every", &self.space_check_every)
            .field("free_space", &self.free_space.as_ref().map(|_| "custom"))
            .field("slow_disk", &self.slow_disk)
            .finish()
    }
}

/// Bytes available to unprivileged writers on the filesystem holding `path` (`statvfs`:
/// `f_bavail × f_frsize`).
///
/// # Errors
/// The `statvfs` error.
pub fn available_bytes(path: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(path)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The shared state that bounds a crash's loss by time: the queue time of the oldest frame not
/// yet written to the files (maintained by the writer, and by producers for frames the writer
/// has not seen yet) and the writer's measured cost per queued byte; producers wait on both.
#[derive(Debug)]
pub struct LossBound {
    epoch: Instant,
    /// Monotonic ns since `epoch` (+1) of the oldest frame not yet flushed; 0 = none known.
    oldest: AtomicU64,
    /// Producers wait while the oldest unflushed frame's age plus the predicted time to write
    /// the queue would exceed this (ns).
    max_age_ns: u64,
    /// The writer's cost per queued byte (ns, `f64` bits): busy time / bytes written per flush
    /// period, taken at once when slower and averaged when faster; 10 µs per byte until measured.
    ns_per_byte: AtomicU64,
    progress: Notify,
}

/// Cost per byte assumed before the writer has measured one (ns): 100 kB/s, so that only a
/// small queue builds up before the first measurement (one flush period).
const INITIAL_NS_PER_BYTE: f64 = 10_000.0;

/// Margin on the predicted time to write the queue (the writer's speed varies with load).
const DRAIN_MARGIN: f64 = 1.5;

/// Bytes a flush period must have written for its throughput to count (smaller samples are
/// dominated by the fixed cost of a flush).
const MIN_SAMPLE_BYTES: u64 = 8 << 10;

impl LossBound {
    /// A bound for `max_loss` with the writer flushing every `flush`: producers wait while the
    /// oldest unwritten frame's age plus the predicted time to write the queue would exceed
    /// `max_loss − 3 × flush` (at least one `flush`): one flush interval for the frame queued
    /// last to reach the files, the rest a margin for the writer's speed varying under load.
    pub fn new(max_loss: Duration, flush: Duration) -> Self {
        let age = max_loss.saturating_sub(flush * 3).max(flush);
        LossBound {
            epoch: Instant::now(),
            oldest: AtomicU64::new(0),
            max_age_ns: u64::try_from(age.as_nanos()).unwrap_or(u64::MAX),
            ns_per_byte: AtomicU64::new(INITIAL_NS_PER_BYTE.to_bits()),
            progress: Notify::new(),
        }
    }

    /// The writer's measured cost per queued byte (ns).
    pub fn ns_per_byte(&self) -> f64 {
        f64::from_bits(self.ns_per_byte.load(Ordering::Relaxed))
    }

    /// Writer: it spent `busy` writing `bytes` queued bytes (payload + per-frame overhead) in
    /// the last flush period. Small samples are ignored.
    pub fn record_throughput(&self, bytes: u64, busy: Duration) {
        if bytes < MIN_SAMPLE_BYTES {
            return;
        }
        let sample = busy.as_nanos() as f64 / bytes as f64;
        let old = self.ns_per_byte();
        // Slower at once (a lagging disk must hold producers back now), faster gradually.
        let new = if old == INITIAL_NS_PER_BYTE || sample > old {
            sample
        } else {
            0.8 * old + 0.2 * sample
        };
        self.ns_per_byte.store(new.to_bits(), Ordering::Relaxed);
    }

    /// Monotonic now (ns since this bound was made, +1 so that 0 means "none").
    pub fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// How old the oldest frame not yet written is; `None` if all are written.
    pub fn oldest_age(&self) -> Option<Duration> {
        match self.oldest.load(Ordering::Acquire) {
            0 => None,
            t => Some(Duration::from_nanos(self.now().saturating_sub(t))),
        }
    }

    /// Producer: waits until a frame of `cost` queued bytes may be queued behind `queued()`
    /// bytes: the oldest unwritten frame's age plus the predicted time to write everything
    /// queued must stay under the bound. An empty queue always admits.
    pub async fn admit(&self, cost: usize, queued: impl Fn() -> usize) {
        loop {
            let t = self.oldest.load(Ordering::Acquire);
            let q = queued();
            if t == 0 && q == 0 {
                return;
            }
            let age = if t == 0 {
                0
            } else {
                self.now().saturating_sub(t)
            };
            // Non-negative and saturating: `as` maps NaN to 0 and clamps large values.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let drain = ((q + cost) as f64 * self.ns_per_byte() * DRAIN_MARGIN) as u64;
            if age.saturating_add(drain) < self.max_age_ns {
                return;
            }
            // Woken by the writer's next flush; the timeout only guards against a missed wake.
            let _ = tokio::time::timeout(Duration::from_millis(20), self.progress.notified()).await;
        }
    }

    /// Producer: a frame stamped `queued` (from [`now`](Self::now)) was just sent to the
    /// writer. Makes it visible as the oldest if the writer knows of none.
    pub fn queued(&self, queued: u64) {
        let _ = self
            .oldest
            .compare_exchange(0, queued, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Writer: the first frame applied since the last flush was queued at `queued`.
    pub fn first_unflushed(&self, queued: u64) {
        self.oldest.store(queued, Ordering::Release);
    }

    /// Writer: everything applied so far is in the files. The writer must then look at its
    /// queue again (a frame already queued becomes the oldest when it is applied).
    pub fn flushed(&self) {
        self.oldest.store(0, Ordering::Release);
        self.progress.notify_waiters();
    }
}

/// The free-space check of the writer thread.
pub(crate) struct SpaceCheck {
    probe: FreeSpaceProbe,
    min_free: u64,
    warn_free: u64,
    every: Duration,
    last: Option<Instant>,
    last_warn: Option<Instant>,
}

/// What a free-space check found.
pub(crate) enum Space {
    /// Enough, or not checked this time.
    Ok,
    /// Below the stop threshold: bytes free.
    Stop(u64),
}

impl SpaceCheck {
    pub(crate) fn new(opts: &mut DurabilityOptions) -> Option<Self> {
        if opts.min_free_bytes == 0 && opts.warn_free_bytes == 0 {
            return None;
        }
        let probe = opts
            .free_space
            .take()
            .unwrap_or_else(|| Box::new(available_bytes));
        ::metrics::gauge!(crate::metrics::DISK_STOP_BELOW).set(opts.min_free_bytes as f64);
        Some(SpaceCheck {
            probe,
            min_free: opts.min_free_bytes,
            warn_free: opts.warn_free_bytes,
            every: opts.space_check_every,
            last: None,
            last_warn: None,
        })
    }

    /// Checks `dir`'s filesystem if the interval has passed.
    pub(crate) fn poll(&mut self, dir: &Path) -> Space {
        if self.last.is_some_and(|l| l.elapsed() < self.every) {
            return Space::Ok;
        }
        self.last = Some(Instant::now());
        let free = match (self.probe)(dir) {
            Ok(f) => {
                ::metrics::gauge!(crate::metrics::DISK_FREE).set(f as f64);
                f
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "free-space check failed");
                return Space::Ok;
            }
        };
        if self.min_free > 0 && free < self.min_free {
            return Space::Stop(free);
        }
        if self.warn_free > 0
            && free < self.warn_free
            && self
                .last_warn
                .is_none_or(|w| w.elapsed() >= Duration::from_mins(1))
        {
            self.last_warn = Some(Instant::now());
            tracing::warn!(
                dir = %dir.display(),
                free_mib = free >> 20,
                stop_below_mib = self.min_free >> 20,
                "disk space is running low; the recorder stops cleanly below the stop threshold"
            );
        }
        Space::Ok
    }
}
