//! A private ClickHouse server for a test: Debian's `clickhouse-server` (18.16 in bookworm)
//! started on 127.0.0.1 with a temporary config, data directory and free ports, killed on drop.
//!
//! Only tests built with the `clickhouse-tests` feature start one (`scripts/test` turns it on
//! when the server is installed, and installs it where it can); without the feature those tests
//! are ignored, i.e. reported as not run. With the feature, a missing server fails the test.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; killed (and its directory removed) on drop.
pub struct ChServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub http: String,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find_binary() -> Option<(PathBuf, Vec<String>)> {
    if let Ok(p) = std::env::var("POLYEDGE_CLICKHOUSE_SERVER") {
        return Some((PathBuf::from(p), vec![]));
    }
    for p in ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"] {
        if std::path::Path::new(p).exists() {
            return Some((PathBuf::from(p), vec![]));
        }
    }
    // Newer packages ship one `clickhouse` binary with a `server` subcommand.
    for p in ["/usr/bin/clickhouse", "/usr/local/bin/clickhouse"] {
        if std::path::Path::new(p).exists() {
            return Some((PathBuf::from(p), vec!["server".to_string()]));
        }
    }
    None
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.contains("Ok.")
}

impl ChServer {
    /// Starts a server; panics if none is installed (see the module docs).
    pub fn start() -> ChServer {
        let Some((bin, pre_args)) = find_binary() else {
            panic!(
                "clickhouse-server not found: install Debian's clickhouse-server \
                 (apt-get install clickhouse-server; scripts/test does where it can), or build \
                 the tests without the clickhouse-tests feature to report them as not run"
            );
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["data", "tmp", "log", "user_files", "format_schemas"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let http_port = free_port();
        let tcp_port = free_port();
        let p = d.display();
        std::fs::write(
            d.join("users.xml"),
            r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#,
        )
        .unwrap();
        std::fs::write(
            d.join("config.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{p}/log/server.log</log><errorlog>{p}/log/err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{p}/data/</path>
  <tmp_path>{p}/tmp/</tmp_path>
  <user_files_path>{p}/user_files/</user_files_path>
  <format_schema_path>{p}/format_schemas/</format_schema_path>
  <users_config>{p}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
"#
            ),
        )
        .unwrap();
        let child = Command::new(&bin)
            .args(&pre_args)
            .arg(format!("--config-file={p}/config.xml"))
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("log/stderr")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut server = ChServer {
            child,
            http: format!("http://127.0.0.1:{http_port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_mins(1);
        while !ping(http_port) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "clickhouse-server exited ({status}) before answering:\n{}\n{}",
                    server.log("log/stderr"),
                    server.log("log/err.log")
                );
            }
            assert!(
                Instant::now() < deadline,
                "clickhouse-server did not answer /ping within 60 s:\n{}",
                server.log("log/err.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// `http://127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: &str) -> String {
        format!("{}/{db}", self.http)
    }

    fn log(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).unwrap_or_default()
    }
}

impl Drop for ChServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
