//! HTTP and Prometheus-text helpers shared by the CLI tests that talk to a control port, to
//! Prometheus or to Chromium's DevTools (all on 127.0.0.1).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::time::Duration;

/// A raw HTTP/1.1 request; returns (status code, body). Reads exactly `Content-Length` bytes
/// when the answer gives it (DevTools keeps the connection open), decodes a chunked answer
/// (Prometheus), else reads to the end.
pub fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_len, content_length) = loop {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the end of the headers");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            });
            break (i + 4, len);
        }
    };
    match content_length {
        Some(len) => {
            while buf.len() < head_len + len {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "connection closed before the end of the body");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        None => {
            s.read_to_end(&mut buf).unwrap();
        }
    }
    let out = String::from_utf8_lossy(&buf).into_owned();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, body.to_string());
    }
    // Chunked: <hex size>\r\n<data>\r\n ... 0\r\n\r\n
    let mut rest = body;
    let mut data = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        data.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    (status, data)
}

/// `GET path`: (status code, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    request(addr, "GET", path, "")
}

/// The sum of the samples of metric `name` whose labels contain `labels` (Prometheus text
/// format); `None` if there is none.
pub fn metric(text: &str, name: &str, labels: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (n, l) = series.split_once('{').unwrap_or((series, ""));
        if n == name && l.contains(labels) {
            *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
        }
    }
    found
}
