//! What a sandbox serves and how: recordings, listen address, speed, gates and faults.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use polyedge_store::ReplayFilter;

/// Replay speed: a factor on wall time, or as fast as the clients read (`max`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Sandbox time runs this many times faster than wall time (`1` = real time). Finite, > 0.
    Factor(f64),
    /// Frames go out as fast as every subscribed client reads them; the clock follows the frames
    /// and holds at gates (`docs/sandbox.md` §3).
    Max,
}

impl Speed {
    /// `true` for [`Speed::Max`].
    pub fn is_max(self) -> bool {
        matches!(self, Speed::Max)
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Factor(x) => write!(f, "{x}"),
            Speed::Max => f.write_str("max"),
        }
    }
}

impl FromStr for Speed {
    type Err = String;

    /// `max`, or a finite positive factor (`1`, `10`, `2.5`).
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Factor(x)),
            _ => Err(format!(
                "speed {s:?}: expected `max` or a positive number such as 1 or 10"
            )),
        }
    }
}

/// Which endpoints faults apply to (`--faults-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct FaultTargets {
    /// The market channel `/ws/market`.
    pub market: bool,
    /// RTDS `/rtds`.
    pub rtds: bool,
    /// Both Binance hosts (`/binance…`, `/binance-usdm…`).
    pub binance: bool,
}

impl Default for FaultTargets {
    fn default() -> Self {
        FaultTargets {
            market: true,
            rtds: true,
            binance: true,
        }
    }
}

impl FromStr for FaultTargets {
    type Err = String;

    /// A comma list of `market`, `rtds`, `binance` (or `all`).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut t = FaultTargets {
            market: false,
            rtds: false,
            binance: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "market" => t.market = true,
                "rtds" => t.rtds = true,
                "binance" => t.binance = true,
                "all" => t = FaultTargets::default(),
                other => {
                    return Err(format!(
                        "fault target {other:?}: expected market, rtds, binance or all"
                    ));
                }
            }
        }
        Ok(t)
    }
}

/// Fault injection (`docs/sandbox.md` §7). All counts are per connection; the default injects
/// nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Close each connection after this many data frames written.
    pub drop_every: Option<u64>,
    /// Pause a connection (no reads, no writes, no `PONG`) for this long …
    pub stall: Option<Duration>,
    /// … after every this many data frames.
    pub stall_every: u64,
    /// Probability (0..=1) of injecting a malformed frame before each recorded frame.
    pub malformed_rate: f64,
    /// Seed of the malformed-frame random choices (xor the connection number).
    pub seed: u64,
    /// Inject one oversize frame after every this many recorded/resync frames.
    pub oversize_every: Option<u64>,
    /// Size in bytes of an injected oversize frame.
    pub oversize_bytes: usize,
    /// Endpoints the faults apply to.
    pub targets: FaultTargets,
}

/// Default [`Faults::stall_every`].
pub const DEFAULT_STALL_EVERY: u64 = 1000;
/// Default [`Faults::oversize_bytes`]: 1 MiB + 1.
pub const DEFAULT_OVERSIZE_BYTES: usize = (1 << 20) + 1;

impl Default for Faults {
    fn default() -> Self {
        Faults {
            drop_every: None,
            stall: None,
            stall_every: DEFAULT_STALL_EVERY,
            malformed_rate: 0.0,
            seed: 0,
            oversize_every: None,
            oversize_bytes: DEFAULT_OVERSIZE_BYTES,
            targets: FaultTargets::default(),
        }
    }
}

/// Default [`SandboxConfig::gate_wait`]: 2 s.
pub const DEFAULT_GATE_WAIT: Duration = Duration::from_secs(2);

/// Everything [`Sandbox::start`](crate::Sandbox::start) needs.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Recording directories, replayed merged (ties go to the earlier one).
    pub recordings: Vec<PathBuf>,
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Replay speed.
    pub speed: Speed,
    /// Longest wall-clock wait at a gate (start, window, reconnect).
    pub gate_wait: Duration,
    /// Fault injection.
    pub faults: Faults,
    /// Where to write the served log (JSON lines), if anywhere.
    pub served_log: Option<PathBuf>,
    /// Time range of the recordings to serve (`from`/`to` only; assets/windows are ignored).
    pub filter: ReplayFilter,
    /// The CLOB exchange's settings (chain id, starting balance, auth skew, heartbeat).
    pub exchange: crate::exchange::ExchangeConfig,
}

impl SandboxConfig {
    /// A configuration serving `recordings` on `127.0.0.1:0` at `speed`, without faults or log.
    pub fn new(recordings: Vec<PathBuf>, speed: Speed) -> Self {
        SandboxConfig {
            recordings,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            speed,
            gate_wait: DEFAULT_GATE_WAIT,
            faults: Faults::default(),
            served_log: None,
            filter: ReplayFilter::default(),
            exchange: crate::exchange::ExchangeConfig::default(),
        }
    }

    /// Checks the values that the types do not.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn validate(&self) -> Result<(), String> {
        if self.recordings.is_empty() {
            return Err("no recording given".into());
        }
        if let Speed::Factor(x) = self.speed
            && !(x.is_finite() && x > 0.0)
        {
            return Err(format!("speed {x}: must be a finite positive factor"));
        }
        let f = &self.faults;
        if !(0.0..=1.0).contains(&f.malformed_rate) {
            return Err(format!(
                "malformed rate {}: must lie in 0..=1",
                f.malformed_rate
            ));
        }
        if f.drop_every == Some(0) || f.oversize_every == Some(0) || f.stall_every == 0 {
            return Err("--drop-every, --stall-every and --oversize-every must be ≥ 1".into());
        }
        Ok(())
    }
}
