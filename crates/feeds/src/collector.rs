//! The recorder: builds every enabled feed from a [`Config`], runs them with discovery and the
//! health reporter until stopped, and finishes the recording.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyedge_core::Asset;
use polyedge_store::{ClosedSegment, RecordingMeta, RecordingWriter, StreamId};
use polyedge_venues::Feed;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::FeedError;
use crate::binance::{Binance, Market};
use crate::clock::Clock;
use crate::coinbase::Coinbase;
use crate::config::{BinanceConfig, Config, secs};
use crate::deribit::Deribit;
use crate::discovery::{Discovery, DiscoveryOptions};
use crate::gamma::Gamma;
use crate::http::{Http, install_crypto_provider};
use crate::polymarket::MarketChannel;
use crate::rtds::Rtds;
use crate::sink::{RecvClock, SegmentHook, Sink, Tap, WriterOptions, WriterReport, spawn_writer};
use crate::stats::{Registry, StreamSnapshot, health_line};
use crate::ws::{Protocol, Runner, SessionOptions};

/// What a finished collection did.
#[derive(Debug, Clone)]
pub struct CollectOutcome {
    /// The writer's report (frames per stream, segments, windows).
    pub writer: WriterReport,
    /// Final counters per stream.
    pub streams: BTreeMap<String, StreamSnapshot>,
}

/// `polyedge collect` as a library. See the [crate docs](crate).
pub struct Collector {
    cfg: Config,
    out: PathBuf,
    hook: Option<SegmentHook>,
    tap: Option<Box<dyn Tap>>,
    created_by: String,
    follow: Vec<polyedge_core::Window>,
    health: crate::metrics::FeedHealth,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

fn binance_symbols(assets: &[Asset]) -> Vec<String> {
    assets
        .iter()
        .map(|a| format!("{}usdt", a.ticker()))
        .collect()
}

impl Collector {
    /// A collector writing a new recording into `out` (must not exist or be empty).
    pub fn new(cfg: Config, out: &Path) -> Self {
        Collector {
            cfg,
            out: out.to_path_buf(),
            hook: None,
            tap: None,
            created_by: "polyedge collect".into(),
            follow: Vec::new(),
            health: crate::metrics::FeedHealth::default(),
        }
    }

    /// The recorder's health (updated every second once [`Collector::run`] runs), for the
    /// control port's `/health/live` and `/health/ready`.
    pub fn health(&self) -> crate::metrics::FeedHealth {
        self.health.clone()
    }

    /// Has discovery follow `windows` (listed before this collector started) until their official
    /// resolution is recorded ([`Discovery::follow_listed`]).
    pub fn follow_windows(mut self, windows: Vec<polyedge_core::Window>) -> Self {
        self.follow = windows;
        self
    }

    /// Hands everything written to `tap`, in write order, on the writer thread (how `polyedge
    /// run` feeds its engine what its recording holds; see [`Tap`]). `created_by` names the
    /// writer in the recording's metadata.
    pub fn with_tap(mut self, tap: Box<dyn Tap>, created_by: &str) -> Self {
        self.tap = Some(tap);
        self.created_by = created_by.to_string();
        self
    }

    /// Calls `hook` on the writer thread for every segment closed (hourly rotation, idle close,
    /// finish): the place to convert closed segments (Parquet export). Without a hook closed
    /// segments are logged at debug level.
    pub fn on_segment_closed(mut self, hook: impl FnMut(&ClosedSegment) + Send + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    fn sources(&self) -> Vec<String> {
        let e = &self.cfg.endpoints;
        let f = &self.cfg.feeds;
        let mut s = vec![format!("gamma {}", e.gamma)];
        let mut add = |on: bool, what: &str, url: &str| {
            if on {
                s.push(format!("{what} {url}"));
            }
        };
        add(f.polymarket.enabled, "polymarket-market", &e.polymarket_ws);
        add(f.rtds.enabled, "rtds", &e.rtds_ws);
        add(f.binance_spot.enabled, "binance-spot", &e.binance_ws);
        add(f.binance_usdm.enabled, "binance-usdm", &e.binance_usdm_ws);
        add(
            f.binance_usdm_market.enabled,
            "binance-usdm-market",
            &e.binance_usdm_market_ws,
        );
        add(f.coinbase.enabled, "coinbase", &e.coinbase_ws);
        add(f.deribit.enabled, "deribit", &e.deribit_ws);
        if let Some(c) = &e.clock {
            s.push(format!("discovery clock {c} (sandbox)"));
        }
        s
    }

    /// Records until `stop` completes (or the writer fails), then finishes the recording.
    ///
    /// Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`FeedError`] if the recording cannot be created, the HTTP client cannot be built, or
    /// the writer failed (frames written before the failure stay readable).
    pub async fn run(
        mut self,
        stop: impl Future<Output = ()>,
    ) -> Result<CollectOutcome, FeedError> {
        install_crypto_provider();
        let cfg = self.cfg.clone();
        let c = &cfg.collect;
        let follow = cfg.endpoints.clock.is_some();
        let meta = RecordingMeta {
            created_by: self.created_by.clone(),
            sources: self.sources(),
            caveats: vec![if follow {
                "receive timestamps are the sandbox's clock (the time it announced before each \
                 frame); gaps in continuity are recorded as control-stream gap markers"
                    .into()
            } else {
                "receive timestamps are this machine's wall clock; gaps in continuity are \
                 recorded as control-stream gap markers"
                    .into()
            }],
        };
        let recv_clock = Arc::new(if follow {
            RecvClock::follow()
        } else {
            RecvClock::wall()
        });
        let writer = RecordingWriter::create(&self.out, meta)?;
        let hook: SegmentHook = self.hook.unwrap_or_else(|| {
            Box::new(|s: &ClosedSegment| {
                tracing::debug!(stream = %s.stream.name, file = %s.path.display(), frames = s.frames, "segment closed");
            })
        });
        let (sink, writer) = spawn_writer(
            writer,
            WriterOptions {
                flush: c.flush_interval(),
                fsync: (c.fsync_secs > 0.0).then(|| secs(c.fsync_secs)),
                queue_bytes: c.queue_bytes,
                on_closed: hook,
                durability: c.durability(),
                clock: recv_clock.clone(),
                window_records: true,
                tap: self.tap,
            },
        )?;
        let http = Http::new(secs(c.connect_timeout_secs))?;
        if let Some(url) = &cfg.endpoints.clock {
            // Stamp nothing before the sandbox clock is known (records written before the first
            // frame, such as discovery's, would otherwise carry time 0).
            let remote = Clock::Remote {
                url: url.clone(),
                http: http.clone(),
            };
            recv_clock.observe(remote.now().await?);
        }
        let registry = Registry::default();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let session = |stale: f64| SessionOptions {
            stale: secs(stale),
            max_frame_bytes: c.max_frame_bytes,
            validate: c.validate,
            backoff_min: Duration::from_millis(c.backoff_min_ms),
            backoff_max: Duration::from_millis(c.backoff_max_ms.max(c.backoff_min_ms)),
            connect_timeout: secs(c.connect_timeout_secs),
        };
        let spawn =
            |tasks: &mut JoinSet<()>,
             stream: StreamId,
             protocol: Box<dyn ProtocolBox>,
             stale: f64,
             commands: Option<mpsc::UnboundedReceiver<crate::ws::Command>>| {
                let stats = registry.stream(&stream.name);
                protocol.spawn(
                    tasks,
                    Arc::new(stream),
                    sink.clone(),
                    stats,
                    session(stale),
                    http.clone(),
                    commands,
                    shutdown_rx.clone(),
                );
            };
        let e = &cfg.endpoints;
        let f = &cfg.feeds;
        let mut market_tx = None;
        if f.polymarket.enabled {
            let (tx, rx) = mpsc::unbounded_channel();
            market_tx = Some(tx);
            spawn(
                &mut tasks,
                StreamId::of(Feed::PolymarketMarket),
                Box::new(MarketChannel::new(
                    &e.polymarket_ws,
                    secs(f.polymarket.ping_secs),
                    f.polymarket.custom_features,
                )),
                f.polymarket.stale_secs,
                Some(rx),
            );
        }
        if f.rtds.enabled {
            spawn(
                &mut tasks,
                StreamId::of(Feed::Rtds),
                Box::new(Rtds::new(
                    &e.rtds_ws,
                    &f.rtds.topics,
                    &c.assets,
                    (f.rtds.ping_secs > 0.0).then(|| secs(f.rtds.ping_secs)),
                )),
                f.rtds.stale_secs,
                None,
            );
        }
        let symbols = binance_symbols(&c.assets);
        let binance = |b: &BinanceConfig, market: Market, ws: &str, rest: &str| {
            Box::new(Binance::new(
                market,
                ws,
                rest,
                &symbols,
                &b.streams,
                b.depth_snapshot,
            ))
        };
        if f.binance_spot.enabled {
            spawn(
                &mut tasks,
                StreamId::of(Feed::BinanceSpot),
                binance(
                    &f.binance_spot,
                    Market::Spot,
                    &e.binance_ws,
                    &e.binance_rest,
                ),
                f.binance_spot.stale_secs,
                None,
            );
        }
        if f.binance_usdm.enabled {
            spawn(
                &mut tasks,
                StreamId::of(Feed::BinanceUsdm),
                binance(
                    &f.binance_usdm,
                    Market::Usdm,
                    &e.binance_usdm_ws,
                    &e.binance_usdm_rest,
                ),
                f.binance_usdm.stale_secs,
                None,
            );
        }
        if f.binance_usdm_market.enabled {
            spawn(
                &mut tasks,
                StreamId::named(Feed::BinanceUsdm, "binance-usdm-market")?,
                binance(
                    &f.binance_usdm_market,
                    Market::Usdm,
                    &e.binance_usdm_market_ws,
                    &e.binance_usdm_rest,
                ),
                f.binance_usdm_market.stale_secs,
                None,
            );
        }
        if f.coinbase.enabled {
            spawn(
                &mut tasks,
                StreamId::of(Feed::Coinbase),
                Box::new(Coinbase::new(
                    &e.coinbase_ws,
                    &c.assets,
                    &f.coinbase.channels,
                )),
                f.coinbase.stale_secs,
                None,
            );
        }
        if f.deribit.enabled {
            spawn(
                &mut tasks,
                StreamId::of(Feed::Deribit),
                Box::new(Deribit::new(
                    &e.deribit_ws,
                    &c.assets,
                    f.deribit.heartbeat_secs,
                )),
                f.deribit.stale_secs,
                None,
            );
        }
        let clock = match &e.clock {
            Some(url) => {
                tasks.spawn(crate::clock::follow_poller(
                    url.clone(),
                    http.clone(),
                    recv_clock.clone(),
                    shutdown_rx.clone(),
                ));
                Clock::Remote {
                    url: url.clone(),
                    http: http.clone(),
                }
            }
            None => Clock::Wall,
        };
        let mut discovery = Discovery::new(
            DiscoveryOptions {
                assets: c.assets.clone(),
                durations: c.durations.clone(),
                every: secs(c.discovery_secs),
                unsubscribe_grace: secs(c.unsubscribe_grace_secs),
                resolution_poll: secs(c.resolution_poll_secs),
                resolution_timeout: secs(c.resolution_timeout_secs),
            },
            Gamma::new(&e.gamma, http.clone()),
            clock,
            sink.clone(),
            market_tx,
        );
        for w in std::mem::take(&mut self.follow) {
            discovery.follow_listed(w);
        }
        tasks.spawn(discovery.run(shutdown_rx.clone()));
        tasks.spawn(health(
            registry.clone(),
            sink.clone(),
            secs(c.health_secs),
            shutdown_rx.clone(),
        ));
        tasks.spawn(crate::metrics::publish(
            registry.clone(),
            sink.clone(),
            c.queue_bytes,
            self.health.clone(),
            shutdown_rx.clone(),
        ));
        drop(sink);

        // Run until stopped, or until the writer dies.
        tokio::pin!(stop);
        let mut watch_writer = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = watch_writer.tick() => {
                    if writer.is_finished() {
                        tracing::error!("recording writer stopped; shutting down");
                        self.health.writer_stopped();
                        break;
                    }
                }
            }
        }
        self.health.stopping();
        let _ = shutdown_tx.send(true);
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                r = tasks.join_next() => if r.is_none() { break },
                () = &mut deadline => {
                    tracing::warn!("feed tasks did not stop within 10 s; aborting them");
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
        let streams = registry.snapshot();
        let report = tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| FeedError::Io(format!("writer join failed: {e}")))??;
        Ok(CollectOutcome {
            writer: report,
            streams,
        })
    }
}

/// Object-safe spawning of a [`Runner`] for any [`Protocol`].
trait ProtocolBox {
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        self: Box<Self>,
        tasks: &mut JoinSet<()>,
        stream: Arc<StreamId>,
        sink: Sink,
        stats: Arc<crate::stats::StreamStats>,
        opts: SessionOptions,
        http: Http,
        commands: Option<mpsc::UnboundedReceiver<crate::ws::Command>>,
        shutdown: watch::Receiver<bool>,
    );
}

impl<P: Protocol> ProtocolBox for P {
    fn spawn(
        self: Box<Self>,
        tasks: &mut JoinSet<()>,
        stream: Arc<StreamId>,
        sink: Sink,
        stats: Arc<crate::stats::StreamStats>,
        opts: SessionOptions,
        http: Http,
        commands: Option<mpsc::UnboundedReceiver<crate::ws::Command>>,
        shutdown: watch::Receiver<bool>,
    ) {
        let runner = Runner {
            stream,
            protocol: *self,
            sink,
            stats,
            opts,
            http,
            commands,
            shutdown,
        };
        tasks.spawn(runner.run());
    }
}

/// Logs the health line every `every` and records it on the control stream.
async fn health(
    registry: Registry,
    sink: Sink,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut prev = registry.snapshot();
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = registry.snapshot();
        let dt = last.elapsed().as_secs_f64();
        last = Instant::now();
        let line = health_line(&prev, &now, dt);
        tracing::info!(target: "polyedge::health", queued_bytes = sink.queued_bytes(), "health: {line}");
        let rec = serde_json::json!({"type": "health", "interval_s": dt, "queued_bytes": sink.queued_bytes(), "streams": now});
        if sink.control(&rec).await.is_err() {
            return;
        }
        prev = now;
    }
}
