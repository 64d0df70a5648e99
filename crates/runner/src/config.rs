//! `polyedge.toml` for `polyedge run`: the recorder's sections (`[collect]`, `[endpoints]`,
//! `[feeds.*]`, `[tables]`, exactly as `polyedge collect` reads them, docs/collect.md) and the
//! backtest's (`run`, `seed`, `[engine]`, `[strategies.*]`, exactly as `polyedge backtest` reads
//! them, docs/backtest.md) in one file, so a run and a backtest of its recording use the same
//! strategies, parameters, fill model, latency and fees.

use std::collections::BTreeMap;
use std::path::Path;

use polyedge_backtest::BacktestConfig;
use polyedge_engine::EngineConfig;
use polyedge_feeds::Config as FeedsConfig;
use polyedge_feeds::config::{
    AlertsConfig, CollectConfig, Endpoints, FeedsConfig as Feeds, TablesConfig,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A configuration error: the file and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// The file (or `<defaults>`).
    pub origin: String,
    /// What was wrong (TOML errors name line, column and key).
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RunFile {
    collect: CollectConfig,
    endpoints: Endpoints,
    feeds: Feeds,
    tables: TablesConfig,
    alerts: AlertsConfig,
    live: polyedge_live::LiveConfig,
    run: Option<Vec<String>>,
    seed: Option<u64>,
    baseline: Option<bool>,
    engine: EngineConfig,
    strategies: BTreeMap<String, toml::Spanned<toml::Table>>,
}

/// The whole configuration of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Feeds, endpoints, discovery and recorder settings.
    pub feeds: FeedsConfig,
    /// Strategies, their parameters, the engine (start cash, risk, simulated venue).
    pub strategies: BacktestConfig,
    /// `[live]`: the CLOB's URLs, chain, API key nonce (secrets come from the environment).
    pub live: polyedge_live::LiveConfig,
    /// SHA-256 of the file's text (hex; the defaults' text is empty): a restart checks that the
    /// state directory was made with the same configuration.
    pub digest: String,
}

impl RunConfig {
    /// The defaults: every recorder default (the real venues, BTC 5m + 15m) and every strategy
    /// with its defaults.
    pub fn defaults() -> Self {
        RunConfig {
            feeds: FeedsConfig::default(),
            strategies: BacktestConfig::default(),
            live: polyedge_live::LiveConfig::default(),
            digest: hex(&Sha256::digest(b"")),
        }
    }

    /// Reads and checks `path`.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has an unknown key or a wrong value (the error
    /// names the file, and where TOML knows it the line and key), or names an unknown strategy.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses `text` (from `origin`) as [`RunConfig::load`].
    ///
    /// # Errors
    /// As [`RunConfig::load`].
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            origin: origin.to_string(),
            message,
        };
        let f: RunFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let feeds = FeedsConfig {
            collect: f.collect,
            endpoints: f.endpoints,
            feeds: f.feeds,
            tables: f.tables,
            alerts: f.alerts,
        };
        feeds.validate(origin).map_err(|e| err(e.to_string()))?;
        let strategies = BacktestConfig::assemble(
            f.run,
            f.seed,
            f.baseline.unwrap_or(true),
            f.engine,
            f.strategies,
            text,
            origin,
        )
        .map_err(|e| err(e.message))?;
        Ok(RunConfig {
            feeds,
            strategies,
            live: f.live,
            digest: hex(&Sha256::digest(text.as_bytes())),
        })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            use std::fmt::Write as _;
            let _ = write!(s, "{x:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_carries_both_the_recorder_and_the_strategies() {
        let text = r#"
seed = 7
run = ["fair_value"]
[collect]
assets = ["btc"]
durations = ["5m"]
[endpoints]
clock = "http://127.0.0.1:1/sandbox/time"
[engine]
start_cash = "500"
[strategies.fair_value]
threshold_bps = 300
"#;
        let c = RunConfig::parse(text, "t.toml").unwrap();
        assert_eq!(c.strategies.seed, Some(7));
        assert_eq!(c.strategies.engine.start_cash.to_string(), "500");
        assert!(c.feeds.endpoints.clock.is_some());
        assert_eq!(c.digest.len(), 64);
        let e = RunConfig::parse("[strategies.nope]\n", "t.toml").unwrap_err();
        assert!(e.message.contains("unknown strategy"), "{e}");
        let e = RunConfig::parse("[collect]\nbogus = 1\n", "t.toml").unwrap_err();
        assert!(e.message.contains("bogus"), "{e}");
    }
}
