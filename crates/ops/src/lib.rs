//! # polyedge-ops
//!
//! The operations surface that `polyedge collect` and `polyedge run` share:
//!
//! * [`exporter`]: installs the process-wide Prometheus recorder of the `metrics` facade (the
//!   crates that measure — `polyedge-feeds`, `polyedge-runner` — only call `metrics::counter!`
//!   and friends, which cost nothing when no recorder is installed) and renders the exposition
//!   text.
//! * [`control`]: the loopback control port: `GET /metrics` (Prometheus text format 0.0.4),
//!   `GET /health/live` and `GET /health/ready` (200 or 503 with a JSON body saying why, for
//!   supervisors such as systemd, Docker or Kubernetes), plus the routes a command adds (the kill
//!   switch of `polyedge run`).
//! * [`alerts`]: Telegram and webhook alerts, deduplicated and rate-limited, without
//!   Alertmanager.
//!
//! Metric names and what they mean: docs/operations.md.

pub mod alerts;
pub mod control;
pub mod exporter;

pub use alerts::{AlertConfig, Alerter, Condition};
pub use control::{Control, HealthProbe, Probe, Reply, Routes};
pub use exporter::Exporter;
