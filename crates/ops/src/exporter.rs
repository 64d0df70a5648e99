//! The Prometheus recorder of the process (the `metrics` facade's global recorder).
//!
//! Histograms whose name ends in `_seconds` are exported as Prometheus histograms with the
//! buckets of [`LATENCY_BUCKETS`] (so quantiles can be aggregated and computed by PromQL's
//! `histogram_quantile`); the exporter's own upkeep (draining histogram samples) runs on a
//! background thread every 5 s.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket upper bounds (seconds) of every `*_seconds` histogram: 10 µs to 10 s, roughly ×2.5
/// per step (decision latency lives in the microseconds, order round trips in the hundreds of
/// milliseconds).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 1.0, 10.0,
];

/// The installed recorder: renders `/metrics`.
#[derive(Clone, Debug)]
pub struct Exporter {
    handle: PrometheusHandle,
}

static INSTALLED: OnceLock<Result<Exporter, String>> = OnceLock::new();

impl Exporter {
    /// Installs the process-wide recorder (once; later calls return the same exporter).
    ///
    /// # Errors
    /// Another `metrics` recorder was installed first (by something other than this function),
    /// or the bucket configuration was refused; the message says which.
    pub fn install() -> Result<Exporter, String> {
        INSTALLED
            .get_or_init(|| {
                let handle = PrometheusBuilder::new()
                    .set_buckets_for_metric(
                        Matcher::Suffix("_seconds".to_string()),
                        &LATENCY_BUCKETS,
                    )
                    .map_err(|e| format!("metrics exporter: {e}"))?
                    .install_recorder()
                    .map_err(|e| format!("metrics exporter: {e}"))?;
                let upkeep = handle.clone();
                std::thread::Builder::new()
                    .name("polyedge-metrics".into())
                    .spawn(move || {
                        loop {
                            std::thread::sleep(Duration::from_secs(5));
                            upkeep.run_upkeep();
                        }
                    })
                    .map_err(|e| format!("metrics exporter: cannot start its thread: {e}"))?;
                Ok(Exporter { handle })
            })
            .clone()
    }

    /// The exposition text (Prometheus text format 0.0.4) of every metric recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}
