//! `polyedge.toml`: what `polyedge collect` records and where it connects. Every field has a
//! default (BTC 5m + 15m, the real venue endpoints), so an empty file is a valid config.
//! The reference with all defaults is `docs/collect.md`.

use std::path::Path;
use std::time::Duration;

use polyedge_core::{Asset, WindowDuration};
use serde::Deserialize;

use crate::FeedError;

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Recorder settings.
    pub collect: CollectConfig,
    /// Where each venue lives (real by default; point them at `polyedge sandbox` for tests).
    pub endpoints: Endpoints,
    /// Which feeds to record and their options.
    pub feeds: FeedsConfig,
    /// What `collect` makes of each closed segment (Parquet, ClickHouse).
    pub tables: TablesConfig,
    /// Alerts without Alertmanager (Telegram, webhook; docs/operations.md).
    pub alerts: AlertsConfig,
}

/// `[alerts]`: Telegram and webhook alerts of `collect` and `run` (docs/operations.md). Telegram
/// is on when `POLYEDGE_TELEGRAM_BOT_TOKEN` and `POLYEDGE_TELEGRAM_CHAT_ID` are set in the
/// environment (never in this file); the webhook when `webhook` is given.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// URL receiving a JSON post per alert (`{"key","state","text","at"}`).
    pub webhook: Option<String>,
    /// Telegram Bot API base URL.
    pub telegram_api: String,
    /// A feed that has sent nothing for this long (s) raises an alert.
    pub feed_silent_secs: f64,
    /// Most alert messages per rolling minute (the rest are counted and announced).
    pub max_per_minute: usize,
    /// `polyedge run`: send a daily summary (PnL, trades, win rate, fees, breaker events, data
    /// gaps) when the run's clock passes this UTC time of day (`HH:MM`); `""` = never.
    pub daily_summary_utc: String,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook: None,
            telegram_api: "https://api.telegram.org".into(),
            feed_silent_secs: 30.0,
            max_per_minute: 20,
            daily_summary_utc: "00:00".into(),
        }
    }
}

impl Config {
    /// Parses a config from TOML text.
    ///
    /// # Errors
    /// [`FeedError::Config`] naming `origin` (file name) and the TOML error (line, column, key).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, FeedError> {
        let cfg: Config = toml::from_str(text).map_err(|e| FeedError::Config {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Reads and parses a config file.
    ///
    /// # Errors
    /// [`FeedError::Config`] if the file cannot be read or is invalid.
    pub fn load(path: &Path) -> Result<Self, FeedError> {
        let text = std::fs::read_to_string(path).map_err(|e| FeedError::Config {
            origin: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Checks the values (durations, sizes) that TOML accepts but the collector cannot use.
    ///
    /// # Errors
    /// [`FeedError::Config`] naming `origin` and the setting.
    pub fn validate(&self, origin: &str) -> Result<(), FeedError> {
        let bad = |message: String| {
            Err(FeedError::Config {
                origin: origin.to_string(),
                message,
            })
        };
        let c = &self.collect;
        if c.flush_ms == 0 || c.flush_ms > 1000 {
            return bad(format!(
                "collect.flush_ms = {}: must be in 1..=1000 (the recorder flushes at least every second)",
                c.flush_ms
            ));
        }
        if c.health_secs <= 0.0 || c.discovery_secs <= 0.0 {
            return bad("collect.health_secs and collect.discovery_secs must be > 0".into());
        }
        if c.max_frame_bytes == 0 || c.max_frame_bytes > polyedge_store::segment::MAX_RECORD_LEN {
            return bad(format!(
                "collect.max_frame_bytes = {}: must be in 1..={}",
                c.max_frame_bytes,
                polyedge_store::segment::MAX_RECORD_LEN
            ));
        }
        if c.queue_bytes < c.max_frame_bytes + 1024 {
            return bad("collect.queue_bytes must exceed collect.max_frame_bytes".into());
        }
        let d = &self.alerts.daily_summary_utc;
        if !d.is_empty() {
            let ok = d.split_once(':').is_some_and(|(h, m)| {
                h.parse::<u8>().is_ok_and(|h| h < 24) && m.parse::<u8>().is_ok_and(|m| m < 60)
            });
            if !ok {
                return bad(format!(
                    "alerts.daily_summary_utc = \"{d}\": expected HH:MM (UTC), e.g. \"00:00\", or \"\" for none"
                ));
            }
        }
        if !(self.alerts.feed_silent_secs.is_finite() && self.alerts.feed_silent_secs > 0.0) {
            return bad("alerts.feed_silent_secs must be a positive number of seconds".into());
        }
        if let Some(a) = c.control
            && !a.ip().is_loopback()
        {
            return bad(format!(
                "collect.control = \"{a}\": not a loopback address (the control port accepts commands without authentication: use 127.0.0.1 or ::1)"
            ));
        }
        if c.max_loss_ms < 4 * c.flush_ms || c.max_loss_ms > 60_000 {
            return bad(format!(
                "collect.max_loss_ms = {}: must be at least 4 × flush_ms ({}) and at most 60000",
                c.max_loss_ms,
                4 * c.flush_ms
            ));
        }
        if c.warn_free_mb != 0 && c.warn_free_mb < c.min_free_mb {
            return bad("collect.warn_free_mb must be at least collect.min_free_mb (or 0)".into());
        }
        if c.simulate_slow_disk_us > 1_000_000 {
            return bad("collect.simulate_slow_disk_us must be at most 1000000".into());
        }
        if c.assets.is_empty() {
            return bad("collect.assets is empty".into());
        }
        let f = &self.feeds;
        let durations = [
            ("collect.fsync_secs", c.fsync_secs),
            ("collect.health_secs", c.health_secs),
            ("collect.discovery_secs", c.discovery_secs),
            ("collect.unsubscribe_grace_secs", c.unsubscribe_grace_secs),
            ("collect.resolution_poll_secs", c.resolution_poll_secs),
            ("collect.resolution_timeout_secs", c.resolution_timeout_secs),
            ("collect.connect_timeout_secs", c.connect_timeout_secs),
            ("feeds.polymarket.ping_secs", f.polymarket.ping_secs),
            ("feeds.polymarket.stale_secs", f.polymarket.stale_secs),
            ("feeds.rtds.ping_secs", f.rtds.ping_secs),
            ("feeds.rtds.stale_secs", f.rtds.stale_secs),
            ("feeds.binance_spot.stale_secs", f.binance_spot.stale_secs),
            ("feeds.binance_usdm.stale_secs", f.binance_usdm.stale_secs),
            (
                "feeds.binance_usdm_market.stale_secs",
                f.binance_usdm_market.stale_secs,
            ),
            ("feeds.coinbase.stale_secs", f.coinbase.stale_secs),
            ("feeds.deribit.stale_secs", f.deribit.stale_secs),
            (
                "tables.clickhouse_timeout_secs",
                self.tables.clickhouse_timeout_secs,
            ),
        ];
        for (name, v) in durations {
            // TOML accepts `inf` and `nan`; `Duration` does not (it would panic).
            if !(0.0..=MAX_CONFIG_SECS).contains(&v) {
                return bad(format!(
                    "{name} = {v}: must be a number of seconds in 0..={MAX_CONFIG_SECS}"
                ));
            }
        }
        Ok(())
    }
}

/// Largest accepted value of any `*_secs` setting (one year, s).
pub const MAX_CONFIG_SECS: f64 = 365.0 * 86_400.0;

/// `[collect]`: recorder behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// Assets whose windows and reference prices are recorded (`btc`, `eth`, `sol`, `xrp`).
    pub assets: Vec<Asset>,
    /// Window durations to discover (`5m`, `15m`, `1h`, `4h`).
    pub durations: Vec<WindowDuration>,
    /// Buffered frames are written to the segment files at least this often (ms, 1..=1000).
    pub flush_ms: u64,
    /// Open segments are fsynced this often (s); 0 = only when a segment is closed.
    pub fsync_secs: f64,
    /// The health line is logged (and recorded on the control stream) this often (s).
    pub health_secs: f64,
    /// How often discovery looks for new windows and resolutions (s).
    pub discovery_secs: f64,
    /// Frames larger than this (bytes) are counted as oversize, logged, not recorded, and
    /// replaced by a gap marker.
    pub max_frame_bytes: usize,
    /// Memory budget (bytes) of frames received but not yet written; feed tasks wait when it is
    /// used up (back-pressure on the sockets), so memory stays bounded.
    pub queue_bytes: usize,
    /// Most receive time a crash (`kill -9`) may lose (ms, ≥ 4 × `flush_ms`): feed tasks wait
    /// while the oldest frame not yet written is older than about this, however far the writer
    /// lags (docs/collect.md "Durability").
    pub max_loss_ms: u64,
    /// Stop cleanly (segments closed and synced, manifest written) when the recording's
    /// filesystem has less than this free (MiB; 0 = never).
    pub min_free_mb: u64,
    /// Warn (once a minute) when the recording's filesystem has less than this free (MiB;
    /// 0 = never).
    pub warn_free_mb: u64,
    /// Drills and tests only: sleep this long per frame written, as a slow disk would (µs;
    /// 0 = off). Never set it in production.
    pub simulate_slow_disk_us: u64,
    /// Parse every frame on receipt to count malformed and unknown frames and measure lag.
    pub validate: bool,
    /// Keep a window's tokens subscribed this long after its end (s), for `market_resolved`.
    pub unsubscribe_grace_secs: f64,
    /// Poll Gamma for an ended window's official resolution this often (s).
    pub resolution_poll_secs: f64,
    /// Give up on a window's resolution this long after its end (s).
    pub resolution_timeout_secs: f64,
    /// Reconnect backoff: first delay (ms).
    pub backoff_min_ms: u64,
    /// Reconnect backoff: largest delay (ms).
    pub backoff_max_ms: u64,
    /// Timeout of one connection attempt or HTTP request (s).
    pub connect_timeout_secs: f64,
    /// The loopback control port (`"127.0.0.1:9464"`): `/metrics` (Prometheus), `/health/live`,
    /// `/health/ready`, and for `polyedge run` the kill switch. Off when absent; `--control`
    /// overrides it. Only loopback addresses are accepted (docs/operations.md).
    pub control: Option<std::net::SocketAddr>,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            assets: vec![Asset::Btc],
            durations: vec![WindowDuration::M5, WindowDuration::M15],
            flush_ms: 200,
            fsync_secs: 5.0,
            health_secs: 60.0,
            discovery_secs: 5.0,
            max_frame_bytes: 8 << 20,
            queue_bytes: 256 << 20,
            max_loss_ms: 1000,
            min_free_mb: 512,
            warn_free_mb: 4096,
            simulate_slow_disk_us: 0,
            validate: true,
            unsubscribe_grace_secs: 120.0,
            resolution_poll_secs: 30.0,
            resolution_timeout_secs: 3600.0,
            backoff_min_ms: 100,
            backoff_max_ms: 30_000,
            connect_timeout_secs: 10.0,
            control: None,
        }
    }
}

impl CollectConfig {
    /// `flush_ms` as a duration.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_ms)
    }

    /// The writer's durability settings from this config (see [`crate::durability`]).
    pub fn durability(&self) -> crate::durability::DurabilityOptions {
        crate::durability::DurabilityOptions {
            max_loss: Duration::from_millis(self.max_loss_ms),
            min_free_bytes: self.min_free_mb << 20,
            warn_free_bytes: self.warn_free_mb << 20,
            slow_disk: (self.simulate_slow_disk_us > 0)
                .then(|| Duration::from_micros(self.simulate_slow_disk_us)),
            ..crate::durability::DurabilityOptions::default()
        }
    }
}

/// `[tables]`: conversion of closed segments while collecting (`polyedge-tables`; done by
/// `polyedge collect`, not by the feeds themselves).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TablesConfig {
    /// Export each closed segment to Parquet under `<recording>/tables/` (default `true`).
    pub parquet: bool,
    /// Load each closed segment into ClickHouse: `http://host:8123/database` (default none;
    /// `--clickhouse` overrides). Credentials belong in `CLICKHOUSE_USER` /
    /// `CLICKHOUSE_PASSWORD`, not in the config file.
    pub clickhouse: Option<String>,
    /// Longest wait for one ClickHouse call (s; default 600): creating the schema, inserting
    /// the window index, loading one hourly segment. A call that takes longer counts as failed
    /// and is retried at the next segment close (the capture files keep everything).
    pub clickhouse_timeout_secs: f64,
}

impl Default for TablesConfig {
    fn default() -> Self {
        TablesConfig {
            parquet: true,
            clickhouse: None,
            clickhouse_timeout_secs: 600.0,
        }
    }
}

/// A duration from seconds (clamped to ≥ 1 ms).
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}

/// `[endpoints]`: base URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Endpoints {
    /// Gamma REST base (`/markets?slug=` and `/events?slug=` are appended).
    pub gamma: String,
    /// Polymarket CLOB market channel.
    pub polymarket_ws: String,
    /// Polymarket RTDS.
    pub rtds_ws: String,
    /// Binance spot WS base (`/stream?streams=…` is appended).
    pub binance_ws: String,
    /// Binance spot REST base (`/api/v3/depth` is appended).
    pub binance_rest: String,
    /// Binance USDⓈ-M WS base of the `public` tier (book streams).
    pub binance_usdm_ws: String,
    /// Binance USDⓈ-M WS base of the `market` tier (trades, liquidations).
    pub binance_usdm_market_ws: String,
    /// Binance USDⓈ-M REST base (`/fapi/v1/depth` is appended).
    pub binance_usdm_rest: String,
    /// Coinbase Exchange WS feed.
    pub coinbase_ws: String,
    /// Deribit JSON-RPC WS.
    pub deribit_ws: String,
    /// Sandbox only: `GET` returns `{"now_ns": …}`; discovery then uses this clock instead of wall
    /// time (receive timestamps are always wall time).
    pub clock: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            gamma: "https://gamma-api.polymarket.com".into(),
            polymarket_ws: "wss://ws-subscriptions-clob.polymarket.com/ws/market".into(),
            rtds_ws: "wss://ws-live-data.polymarket.com".into(),
            binance_ws: "wss://stream.binance.com:9443".into(),
            binance_rest: "https://api.binance.com".into(),
            binance_usdm_ws: "wss://fstream.binance.com/public".into(),
            binance_usdm_market_ws: "wss://fstream.binance.com/market".into(),
            binance_usdm_rest: "https://fapi.binance.com".into(),
            coinbase_ws: "wss://ws-feed.exchange.coinbase.com".into(),
            deribit_ws: "wss://www.deribit.com/ws/api/v2".into(),
            clock: None,
        }
    }
}

/// `[feeds]`: which feeds to record.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedsConfig {
    /// Polymarket market channel for the discovered windows' tokens.
    pub polymarket: PolymarketConfig,
    /// RTDS reference prices.
    pub rtds: RtdsConfig,
    /// Binance spot.
    pub binance_spot: BinanceConfig,
    /// Binance USDⓈ-M `public` tier (book).
    pub binance_usdm: BinanceConfig,
    /// Binance USDⓈ-M `market` tier (trades, liquidations).
    pub binance_usdm_market: BinanceConfig,
    /// Coinbase Exchange.
    pub coinbase: CoinbaseConfig,
    /// Deribit DVOL.
    pub deribit: DeribitConfig,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            polymarket: PolymarketConfig::default(),
            rtds: RtdsConfig::default(),
            binance_spot: BinanceConfig {
                enabled: true,
                streams: ["trade", "aggTrade", "bookTicker", "depth@100ms"]
                    .map(String::from)
                    .to_vec(),
                depth_snapshot: true,
                stale_secs: 30.0,
            },
            binance_usdm: BinanceConfig {
                enabled: true,
                streams: ["bookTicker", "depth@100ms"].map(String::from).to_vec(),
                depth_snapshot: true,
                stale_secs: 30.0,
            },
            binance_usdm_market: BinanceConfig {
                enabled: true,
                streams: ["aggTrade", "forceOrder"].map(String::from).to_vec(),
                depth_snapshot: false,
                stale_secs: 60.0,
            },
            coinbase: CoinbaseConfig::default(),
            deribit: DeribitConfig::default(),
        }
    }
}

/// `[feeds.polymarket]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolymarketConfig {
    /// Record the market channel.
    pub enabled: bool,
    /// Send the text `PING` this often (s); the server answers `PONG` (protocols.md §6.1).
    pub ping_secs: f64,
    /// No frame (PONG included) for this long (s) = stale: reconnect and mark a gap.
    pub stale_secs: f64,
    /// Ask for `best_bid_ask`, `new_market`, `market_resolved` (`custom_feature_enabled`).
    pub custom_features: bool,
}

impl Default for PolymarketConfig {
    fn default() -> Self {
        PolymarketConfig {
            enabled: true,
            ping_secs: 10.0,
            stale_secs: 30.0,
            custom_features: true,
        }
    }
}

/// `[feeds.rtds]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtdsConfig {
    /// Record RTDS.
    pub enabled: bool,
    /// Topics, each subscribed in its own message (one unknown topic kills a whole array).
    pub topics: Vec<String>,
    /// Send the text `PING` this often (s); 0 = never.
    pub ping_secs: f64,
    /// No frame for this long (s) = stale.
    pub stale_secs: f64,
}

impl Default for RtdsConfig {
    fn default() -> Self {
        RtdsConfig {
            enabled: true,
            topics: [
                "crypto_prices",
                "crypto_prices_chainlink",
                "crypto_prices_twap_sixty",
            ]
            .map(String::from)
            .to_vec(),
            ping_secs: 5.0,
            stale_secs: 20.0,
        }
    }
}

/// `[feeds.binance_*]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinanceConfig {
    /// Record this connection.
    pub enabled: bool,
    /// Stream suffixes per symbol (`trade`, `aggTrade`, `bookTicker`, `depth@100ms`, `forceOrder`, …).
    pub streams: Vec<String>,
    /// Fetch a REST depth snapshot after each (re)connect and sequence break, recorded on the
    /// control stream, so replay can sync a local book from the diffs.
    pub depth_snapshot: bool,
    /// No frame for this long (s) = stale.
    pub stale_secs: f64,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        BinanceConfig {
            enabled: false,
            streams: Vec::new(),
            depth_snapshot: false,
            stale_secs: 30.0,
        }
    }
}

/// `[feeds.coinbase]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoinbaseConfig {
    /// Record Coinbase.
    pub enabled: bool,
    /// Channels (`matches`, `ticker`, `heartbeat`).
    pub channels: Vec<String>,
    /// No frame for this long (s) = stale (the heartbeat channel ticks every second).
    pub stale_secs: f64,
}

impl Default for CoinbaseConfig {
    fn default() -> Self {
        CoinbaseConfig {
            enabled: true,
            channels: ["matches", "ticker", "heartbeat"]
                .map(String::from)
                .to_vec(),
            stale_secs: 15.0,
        }
    }
}

/// `[feeds.deribit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeribitConfig {
    /// Record Deribit DVOL (`deribit_volatility_index.<asset>_usd`, BTC and ETH only).
    pub enabled: bool,
    /// `public/set_heartbeat` interval (s, ≥ 10); the collector answers `test_request`s.
    pub heartbeat_secs: u64,
    /// No frame for this long (s) = stale.
    pub stale_secs: f64,
}

impl Default for DeribitConfig {
    fn default() -> Self {
        DeribitConfig {
            enabled: true,
            heartbeat_secs: 15,
            stale_secs: 45.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_btc_5m_15m() {
        let c = Config::from_toml("", "t").unwrap();
        assert_eq!(c.collect.assets, vec![Asset::Btc]);
        assert_eq!(
            c.collect.durations,
            vec![WindowDuration::M5, WindowDuration::M15]
        );
        assert!(c.collect.flush_ms <= 1000);
        assert!(c.feeds.polymarket.enabled && c.feeds.binance_spot.enabled);
        assert!(c.endpoints.clock.is_none());
        assert!(c.tables.parquet && c.tables.clickhouse.is_none());
    }

    #[test]
    fn tables_section() {
        let c = Config::from_toml(
            "[tables]\nparquet = false\nclickhouse = \"http://127.0.0.1:8123/pe\"\n",
            "t",
        )
        .unwrap();
        assert!(!c.tables.parquet);
        assert_eq!(
            c.tables.clickhouse.as_deref(),
            Some("http://127.0.0.1:8123/pe")
        );
        let e = Config::from_toml("[tables]\nparket = true\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("parket"), "{e}");
    }

    #[test]
    fn endpoints_and_feeds_are_overridable() {
        let c = Config::from_toml(
            r#"
[collect]
assets = ["btc", "eth"]
durations = ["5m"]
health_secs = 0.5
[endpoints]
gamma = "http://127.0.0.1:9/gamma"
clock = "http://127.0.0.1:9/sandbox/time"
[feeds.coinbase]
enabled = false
"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.collect.assets, vec![Asset::Btc, Asset::Eth]);
        assert_eq!(c.endpoints.gamma, "http://127.0.0.1:9/gamma");
        assert!(!c.feeds.coinbase.enabled);
        assert!(c.feeds.deribit.enabled);
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let e = Config::from_toml("[collect]\nflush_ms = 5000\n", "my.toml").unwrap_err();
        assert!(e.to_string().contains("my.toml") && e.to_string().contains("flush_ms"));
        let e = Config::from_toml("[collect]\nassets = [\"btx\"]\n", "my.toml").unwrap_err();
        assert!(e.to_string().contains("btx"), "{e}");
        let e = Config::from_toml("[colect]\n", "my.toml").unwrap_err();
        assert!(e.to_string().contains("colect"), "{e}");
        // Durations that `std::time::Duration` cannot hold are refused, not a panic later.
        for (toml, name) in [
            (
                "[feeds.polymarket]\nstale_secs = inf\n",
                "feeds.polymarket.stale_secs",
            ),
            ("[feeds.rtds]\nping_secs = nan\n", "feeds.rtds.ping_secs"),
            ("[collect]\nhealth_secs = 1e300\n", "collect.health_secs"),
            (
                "[feeds.deribit]\nstale_secs = -1.0\n",
                "feeds.deribit.stale_secs",
            ),
        ] {
            let e = Config::from_toml(toml, "my.toml").unwrap_err().to_string();
            assert!(e.contains("my.toml") && e.contains(name), "{toml}: {e}");
        }
        // The edge of the range is accepted.
        let ok = format!("[feeds.coinbase]\nstale_secs = {MAX_CONFIG_SECS}\n");
        Config::from_toml(&ok, "my.toml").unwrap();
    }
}
