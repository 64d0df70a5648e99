//! ClickHouse: the tables of [`crate::tables`] plus `frames` (every raw frame), `windows`,
//! `recordings` and `loaded_segments`, in one database.
//!
//! * [`ChConfig`] / [`ChDb`] — connection (`http://[user[:password]@]host:8123/db`) and schema
//!   creation ([`ChDb::create_schema`]; idempotent). Every request has a time limit
//!   ([`ChDb::with_timeouts`]; per request, per insert chunk and per page of a replay cursor), so
//!   a server that accepts connections but never answers fails the call with
//!   [`TableError::Timeout`] instead of hanging its caller.
//! * [`ChSink`] — buffering live sink for `collect`: push every frame written to the capture
//!   files, flush in batches. ClickHouse down ⇒ `flush` returns the error and nothing is lost:
//!   the capture files are the source of truth, and `backfill` loads what the sink could not.
//! * [`backfill()`] — loads a recording's segments, skipping those already complete in
//!   `loaded_segments` (re-running it is safe).
//! * [`ChFrameReplay`] / [`ChEventReplay`] (async) and [`BlockingFrameReplay`] /
//!   [`BlockingEventReplay`] — replay from ClickHouse as a data source: the same frames in the
//!   same order as [`polyedge_store::FrameReplay`] over the files (docs/recording-format.md §5),
//!   parsed by the same parsers.
//!
//! # Compatibility
//! The schema uses only types and syntax that ClickHouse 18.16 (Debian's `clickhouse-server`)
//! has: `Int64`/`UInt*` integer epoch timestamps (ns), `String`, `Nullable`, `Decimal128(18)`,
//! `ReplacingMergeTree` with `PARTITION BY`/`ORDER BY`; no `LowCardinality`, `DateTime64`, JSON
//! or other experimental types. The `clickhouse` crate is used with validation off (18.16 has no
//! `RowBinaryWithNamesAndTypes`), so rows travel as plain `RowBinary`; queries bind values
//! client-side (18.16 has no server-side query parameters).
//!
//! # Duplicates
//! Every table is a `ReplacingMergeTree` keyed by the row's place in the capture files. Loading
//! the same frames twice (a retried insert, `backfill` of a segment the sink had partly
//! inserted) leaves duplicates until ClickHouse merges them; replay skips them (it reads in key
//! order and drops repeated keys), and analytic queries use `FINAL` or `OPTIMIZE TABLE … FINAL`.

mod backfill;
mod replay;
mod sink;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use ::clickhouse::Client;
use polyedge_core::Window;
use polyedge_store::Manifest;
use serde::Deserialize;

use crate::TableError;
use crate::convert::TableRows;
use crate::schema::TableRow;
use crate::tables::{
    BestBidAskRow, BookDeltaRow, BookSnapshotRow, DecisionRow, FrameRow, KlineRow,
    LoadedSegmentRow, RecordingRow, ReferencePriceRow, SpotQuoteRow, SpotTradeRow, TradeRow,
    WindowRow,
};

pub use backfill::{
    BackfillOptions, BackfillReport, SegmentLoad, SegmentLoadOptions, backfill, load_segment,
};
pub use replay::{BlockingEventReplay, BlockingFrameReplay, ChEventReplay, ChFrameReplay, runtime};
pub use sink::{ChSink, SinkStats};

/// Database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "polyedge";

/// Default time limit of one request (a query, an insert's end, schema statements): 300 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_mins(5);

/// Default time limit of one fetch (a page of a replay cursor, one chunk of an insert): 120 s.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_mins(2);

/// Where the ClickHouse server is and which database to use.
#[derive(Clone, PartialEq, Eq)]
pub struct ChConfig {
    /// `http(s)://host:port` of the HTTP interface.
    pub http_url: String,
    /// Database name (`[A-Za-z0-9_]+`).
    pub database: String,
    /// User, if any (from the URL or `CLICKHOUSE_USER`).
    pub user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for ChConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChConfig")
            .field("http_url", &self.http_url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl ChConfig {
    /// Parses `http://[user[:password]@]host[:port]/database` (`https` too; database default
    /// [`DEFAULT_DATABASE`]). Without credentials in the URL, `CLICKHOUSE_USER` and
    /// `CLICKHOUSE_PASSWORD` from the environment are used when set. The password is never
    /// printed ([`display`](Self::display), `Debug`).
    ///
    /// # Errors
    /// [`TableError::Usage`] for a malformed URL, another scheme or a bad database name.
    pub fn parse(url: &str) -> Result<Self, TableError> {
        let bad = |why: &str| {
            TableError::Usage(format!(
                "bad ClickHouse URL {:?}: {why} (expected http://host:8123/database)",
                redact(url)
            ))
        };
        let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(bad("scheme must be http or https"));
        }
        let host = u.host_str().ok_or_else(|| bad("no host"))?;
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        let db = u.path().trim_matches('/');
        let database = if db.is_empty() {
            DEFAULT_DATABASE.to_string()
        } else {
            db.to_string()
        };
        if !database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(bad("database name must be [A-Za-z0-9_]+"));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let (user, password) = if u.username().is_empty() {
            (
                std::env::var("CLICKHOUSE_USER").ok(),
                std::env::var("CLICKHOUSE_PASSWORD").ok(),
            )
        } else {
            (decode(u.username()), u.password().and_then(decode))
        };
        Ok(ChConfig {
            http_url: format!("{}://{host}{port}", u.scheme()),
            database,
            user,
            password,
        })
    }

    /// `http://host:port/database`, without credentials (for messages and logs).
    pub fn display(&self) -> String {
        format!("{}/{}", self.http_url, self.database)
    }
}

/// `url` with any `user:password@` removed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(a)) if a > s => format!("{}{}", &url[..s + 3], &url[a + 1..]),
        _ => url.to_string(),
    }
}

/// A ClickHouse database holding polyedge tables. Cheap to clone (shares the HTTP client).
#[derive(Clone)]
pub struct ChDb {
    client: Client,
    admin: Client,
    cfg: ChConfig,
    request_timeout: Duration,
    fetch_timeout: Duration,
}

impl std::fmt::Debug for ChDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChDb")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, ::clickhouse::Row)]
struct OneString {
    s: String,
}

#[derive(Debug, Deserialize, ::clickhouse::Row)]
struct OneI64 {
    v: i64,
}

impl ChDb {
    /// A handle on the database of `cfg` (no request is made yet).
    pub fn new(cfg: ChConfig) -> Self {
        let mut admin = Client::default()
            .with_url(cfg.http_url.clone())
            .with_validation(false);
        if let Some(u) = &cfg.user {
            admin = admin.with_user(u.clone());
        }
        if let Some(p) = &cfg.password {
            admin = admin.with_password(p.clone());
        }
        let client = admin.clone().with_database(cfg.database.clone());
        ChDb {
            client,
            admin,
            cfg,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    /// Sets the time limits: `request` for one request (query, insert end, DDL), `fetch` for
    /// one page of a replay cursor or one chunk of an insert. Defaults:
    /// [`DEFAULT_REQUEST_TIMEOUT`], [`DEFAULT_FETCH_TIMEOUT`].
    pub fn with_timeouts(mut self, request: Duration, fetch: Duration) -> Self {
        self.request_timeout = request;
        self.fetch_timeout = fetch;
        self
    }

    /// The time limit of one request.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The time limit of one fetch (replay page, insert chunk).
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }

    /// Runs one request with the request time limit; a late answer is a
    /// [`TableError::Timeout`] naming `context`.
    pub(crate) async fn timed<T>(
        &self,
        context: &str,
        fut: impl Future<Output = Result<T, ::clickhouse::error::Error>>,
    ) -> Result<T, TableError> {
        self.limit(self.request_timeout, context, fut).await
    }

    /// As [`timed`](Self::timed) with the fetch time limit.
    pub(crate) async fn timed_fetch<T>(
        &self,
        context: &str,
        fut: impl Future<Output = Result<T, ::clickhouse::error::Error>>,
    ) -> Result<T, TableError> {
        self.limit(self.fetch_timeout, context, fut).await
    }

    async fn limit<T>(
        &self,
        limit: Duration,
        context: &str,
        fut: impl Future<Output = Result<T, ::clickhouse::error::Error>>,
    ) -> Result<T, TableError> {
        match tokio::time::timeout(limit, fut).await {
            Ok(r) => r.map_err(self.err(context)),
            Err(_) => Err(TableError::Timeout {
                url: self.cfg.display(),
                context: context.to_string(),
                secs: limit.as_secs_f64(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ChConfig {
        &self.cfg
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.cfg.database
    }

    /// The underlying `clickhouse` client (database selected), for ad-hoc queries.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn err(
        &self,
        context: &str,
    ) -> impl FnOnce(::clickhouse::error::Error) -> TableError {
        let url = self.cfg.display();
        let context = context.to_string();
        move |source| TableError::ClickHouse {
            url,
            context,
            source,
        }
    }

    fn insert_err(&self, context: &str, e: ::clickhouse::error::Error) -> TableError {
        if matches!(e, ::clickhouse::error::Error::TimedOut) {
            TableError::Timeout {
                url: self.cfg.display(),
                context: context.to_string(),
                secs: self.request_timeout.as_secs_f64(),
            }
        } else {
            self.err(context)(e)
        }
    }

    /// The server's version (`SELECT version()`): a cheap liveness check.
    ///
    /// # Errors
    /// [`TableError::ClickHouse`] if the server cannot be reached or refuses.
    pub async fn version(&self) -> Result<String, TableError> {
        let r: OneString = self
            .timed(
                "SELECT version()",
                self.admin.query("SELECT version() AS s").fetch_one(),
            )
            .await?;
        Ok(r.s)
    }

    /// Creates the database and every table if missing (never alters or drops anything).
    ///
    /// # Errors
    /// [`TableError::ClickHouse`] if a statement fails.
    pub async fn create_schema(&self) -> Result<(), TableError> {
        let db = &self.cfg.database;
        self.timed(
            "CREATE DATABASE",
            self.admin
                .query(&format!("CREATE DATABASE IF NOT EXISTS `{db}`"))
                .execute(),
        )
        .await?;
        for sql in schema_sql(db) {
            self.timed(
                &format!("create table: {}", first_line(&sql)),
                self.admin.query(&sql).execute(),
            )
            .await?;
        }
        Ok(())
    }

    /// Inserts `rows` into `T`'s table in one `INSERT` (nothing for an empty slice).
    ///
    /// # Errors
    /// [`TableError::ClickHouse`] if the insert fails (then none or only some rows were
    /// inserted; inserting them again is safe, see the module docs on duplicates).
    pub async fn insert<T: TableRow>(&self, rows: &[T]) -> Result<(), TableError> {
        if rows.is_empty() {
            return Ok(());
        }
        let ctx = format!("INSERT INTO {} ({} rows)", T::TABLE, rows.len());
        let ins = self.timed(&ctx, self.client.insert::<T>(T::TABLE)).await?;
        // The client's own limits: per chunk sent, and for the server's answer at the end.
        let mut ins = ins.with_timeouts(Some(self.fetch_timeout), Some(self.request_timeout));
        for r in rows {
            ins.write(r).await.map_err(|e| self.insert_err(&ctx, e))?;
        }
        ins.end().await.map_err(|e| self.insert_err(&ctx, e))
    }

    /// Inserts the rows of every event table.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn insert_tables(&self, rows: &TableRows) -> Result<(), TableError> {
        self.insert::<BookSnapshotRow>(&rows.book_snapshots).await?;
        self.insert::<BookDeltaRow>(&rows.book_deltas).await?;
        self.insert::<TradeRow>(&rows.trades).await?;
        self.insert::<BestBidAskRow>(&rows.best_bid_ask).await?;
        self.insert::<SpotTradeRow>(&rows.spot_trades).await?;
        self.insert::<SpotQuoteRow>(&rows.spot_quotes).await?;
        self.insert::<ReferencePriceRow>(&rows.reference_prices)
            .await?;
        self.insert::<KlineRow>(&rows.klines).await
    }

    /// Registers recording `name` (manifest `created_ns` identifies it) in `recordings`.
    ///
    /// # Errors
    /// [`TableError::Usage`] if `name` is already used by a recording with another
    /// `created_ns`; [`TableError::ClickHouse`] on request failures.
    pub async fn register_recording(
        &self,
        name: &str,
        created_ns: i64,
        created_by: &str,
        manifest_json: String,
    ) -> Result<(), TableError> {
        let existing: Vec<OneI64> = self
            .timed(
                "look up recording",
                self.client
                    .query("SELECT created_ns AS v FROM recordings FINAL WHERE recording = ?")
                    .bind(name)
                    .fetch_all(),
            )
            .await?;
        if let Some(other) = existing.iter().find(|r| r.v != created_ns) {
            return Err(TableError::Usage(format!(
                "ClickHouse {}: recording name {name:?} is already used by another recording \
                 (created_ns {} ≠ {created_ns}); load this one under another name (--as NAME)",
                self.cfg.display(),
                other.v
            )));
        }
        if existing.is_empty() {
            let row = RecordingRow {
                recording: name.to_string(),
                loaded_ns: crate::convert::now_ns(),
                created_ns,
                created_by: created_by.to_string(),
                manifest_json,
            };
            self.insert(&[row]).await?;
        }
        Ok(())
    }

    /// Names of the recordings in the database, sorted.
    ///
    /// # Errors
    /// [`TableError::ClickHouse`] on request failures.
    pub async fn recordings(&self) -> Result<Vec<String>, TableError> {
        let rows: Vec<OneString> = self
            .timed(
                "list recordings",
                self.client
                    .query("SELECT DISTINCT recording AS s FROM recordings ORDER BY s")
                    .fetch_all(),
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.s).collect())
    }

    /// The recordings `names` stands for: every recording in the database (by name) when it is
    /// empty, else `names` as given.
    ///
    /// # Errors
    /// [`TableError::Usage`] naming a recording that is not in the database (and the ones that
    /// are); [`TableError::ClickHouse`] on request failures.
    pub async fn resolve_recordings(&self, names: &[String]) -> Result<Vec<String>, TableError> {
        let known = self.recordings().await?;
        if names.is_empty() {
            return Ok(known);
        }
        if let Some(missing) = names.iter().find(|n| !known.contains(n)) {
            return Err(TableError::Usage(format!(
                "ClickHouse {}: no recording {missing:?} (recordings: {})",
                self.cfg.display(),
                if known.is_empty() {
                    "none; load one with `polyedge backfill DIR --clickhouse URL`".into()
                } else {
                    known.join(", ")
                }
            )));
        }
        Ok(names.to_vec())
    }

    /// The manifest of `recording` as it was when loaded (`recordings.manifest_json`): its
    /// description, caveats, streams and frame counts.
    ///
    /// # Errors
    /// [`TableError::Usage`] for a recording not in the database; [`TableError::ClickHouse`] on
    /// request failures; [`TableError::Data`] if the stored JSON is not a manifest.
    pub async fn manifest(&self, recording: &str) -> Result<Manifest, TableError> {
        let rows: Vec<OneString> = self
            .timed(
                "read manifest",
                self.client
                    .query(
                        "SELECT manifest_json AS s FROM recordings FINAL WHERE recording = ? \
                         ORDER BY loaded_ns DESC LIMIT 1",
                    )
                    .bind(recording)
                    .fetch_all(),
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Err(TableError::Usage(format!(
                "ClickHouse {}: no recording {recording:?}",
                self.cfg.display()
            )));
        };
        serde_json::from_str(&row.s).map_err(|e| TableError::Data {
            url: self.cfg.display(),
            message: format!("recording {recording}: bad manifest JSON: {e}"),
        })
    }

    /// The window index of `recording` (latest row per slug), sorted by start then slug.
    ///
    /// # Errors
    /// [`TableError::ClickHouse`] on request failures; [`TableError::Data`] for a row whose
    /// JSON is not a window.
    pub async fn windows(&self, recording: &str) -> Result<Vec<Window>, TableError> {
        let rows: Vec<OneString> = self
            .timed(
                "read windows",
                self.client
                    .query(
                        "SELECT json AS s FROM windows FINAL WHERE recording = ? ORDER BY start_ns, slug",
                    )
                    .bind(recording)
                    .fetch_all(),
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_str(&r.s).map_err(|e| TableError::Data {
                    url: self.cfg.display(),
                    message: format!("windows of {recording}: bad window JSON: {e}"),
                })
            })
            .collect()
    }

    /// Segments of `recording` recorded as completely loaded: (stream, hour, seq) → frames.
    ///
    /// # Errors
    /// [`TableError::ClickHouse`] on request failures.
    pub async fn loaded_segments(
        &self,
        recording: &str,
    ) -> Result<HashMap<(String, u32, u32), u64>, TableError> {
        let rows: Vec<LoadedSegmentRow> = self
            .timed(
                "read loaded_segments",
                self.client
                    .query("SELECT ?fields FROM loaded_segments FINAL WHERE recording = ?")
                    .bind(recording)
                    .fetch_all(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.stream, r.segment_hour, r.segment_seq), r.frames))
            .collect())
    }
}

/// `CREATE TABLE IF NOT EXISTS` of every table, in `database`.
pub fn schema_sql(database: &str) -> Vec<String> {
    vec![
        FrameRow::create_table_sql(database),
        BookSnapshotRow::create_table_sql(database),
        BookDeltaRow::create_table_sql(database),
        TradeRow::create_table_sql(database),
        BestBidAskRow::create_table_sql(database),
        SpotTradeRow::create_table_sql(database),
        SpotQuoteRow::create_table_sql(database),
        ReferencePriceRow::create_table_sql(database),
        KlineRow::create_table_sql(database),
        WindowRow::create_table_sql(database),
        DecisionRow::create_table_sql(database),
        RecordingRow::create_table_sql(database),
        LoadedSegmentRow::create_table_sql(database),
    ]
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The manifest as JSON (for `recordings.manifest_json`).
pub(crate) fn manifest_json(m: &Manifest) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing_and_redaction() {
        let c = ChConfig::parse("http://127.0.0.1:8123/mydb").unwrap();
        assert_eq!(c.http_url, "http://127.0.0.1:8123");
        assert_eq!(c.database, "mydb");
        assert_eq!(c.display(), "http://127.0.0.1:8123/mydb");
        let c = ChConfig::parse("http://bob:s%40cret@host:9000/").unwrap();
        assert_eq!(c.database, DEFAULT_DATABASE);
        assert_eq!(c.user.as_deref(), Some("bob"));
        assert_eq!(c.password.as_deref(), Some("s@cret"));
        assert!(!format!("{c:?}").contains("cret"));
        assert!(!c.display().contains("cret"));
        let e = ChConfig::parse("tcp://bob:pw@host:9000/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheme") && !e.contains("pw"), "{e}");
        assert!(ChConfig::parse("http://h/bad-name").is_err());
    }

    #[test]
    fn ddl_uses_only_old_clickhouse_types() {
        for sql in schema_sql("db") {
            assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS `db`."), "{sql}");
            for banned in [
                "LowCardinality",
                "DateTime64",
                "JSON",
                "Object(",
                "Bool",
                "UUID",
            ] {
                assert!(!sql.contains(banned), "{banned} in {sql}");
            }
            assert!(sql.contains("ReplacingMergeTree"), "{sql}");
        }
    }
}
