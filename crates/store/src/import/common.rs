//! Helpers shared by the importers: the venue frame builders used where a source has only
//! tabular data, exact number checks and formatting, and (crate-internal) input readers that
//! decompress by extension and report progress.
//!
//! The frame builders write the venue's own JSON field order and formats (prices as decimal
//! strings, timestamps as the venue sends them) so that replay runs the real parsers. Every
//! number that goes into a frame is either an exact integer or a decimal text that has been
//! checked with [`is_json_decimal`]; nothing goes through `f64`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use csv::StringRecord;
use polyedge_core::fixed::format_scaled;
use polyedge_core::{ConditionId, Price, TokenId, UnixNanos};
use serde::de::DeserializeOwned;

use super::Out;
use crate::{Progress, StoreError};

/// Topic of RTDS Chainlink price updates.
pub const TOPIC_CHAINLINK: &str = "crypto_prices_chainlink";
/// Topic of RTDS Binance price updates.
pub const TOPIC_BINANCE: &str = "crypto_prices";

/// `true` if `text` is a plain decimal that is also a valid JSON number: an optional `-`, an
/// integer part without superfluous leading zeros, and an optional `.` followed by at least one
/// digit. No exponent, no `+`, no leading or trailing dot.
pub fn is_json_decimal(text: &str) -> bool {
    let b = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let int_ok =
        !int.is_empty() && int.iter().all(u8::is_ascii_digit) && (int.len() == 1 || int[0] != b'0');
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit));
    int_ok && frac_ok
}

/// Formats an integer number of millionths exactly (`525_000` → `"0.525"`, `1_000_000` → `"1"`).
pub fn format_micros(micros: i64) -> String {
    format_scaled(i128::from(micros), 6)
}

/// A Polymarket market-channel `best_bid_ask` frame, fields in the venue's order:
///
/// ```text
/// {"event_type":"best_bid_ask","market":"0x…","asset_id":"…","best_bid":"0.52","best_ask":"0.53","spread":"0.01","timestamp":"1771358973999"}
/// ```
///
/// `market` is omitted when the condition id is unknown; an empty side (`None`) omits its
/// `best_*` field and `spread` (which is `ask − bid`, exact, only when both sides are present).
pub fn best_bid_ask_frame(
    market: Option<&ConditionId>,
    asset_id: &TokenId,
    bid: Option<Price>,
    ask: Option<Price>,
    timestamp_ms: u64,
) -> String {
    let mut s = String::with_capacity(200);
    s.push_str(r#"{"event_type":"best_bid_ask""#);
    if let Some(m) = market {
        s.push_str(&format!(r#","market":"{m}""#));
    }
    s.push_str(&format!(r#","asset_id":"{asset_id}""#));
    if let Some(b) = bid {
        s.push_str(&format!(r#","best_bid":"{b}""#));
    }
    if let Some(a) = ask {
        s.push_str(&format!(r#","best_ask":"{a}""#));
    }
    if let (Some(b), Some(a)) = (bid, ask) {
        let spread = i128::from(a.micros()) - i128::from(b.micros());
        s.push_str(&format!(r#","spread":"{}""#, format_scaled(spread, 6)));
    }
    s.push_str(&format!(r#","timestamp":"{timestamp_ms}"}}"#));
    s
}

/// A Polymarket RTDS `update` frame:
///
/// ```text
/// {"topic":"crypto_prices_chainlink","type":"update","timestamp":<server ms>,"payload":{"symbol":"btc/usd","timestamp":<feed ms>,"value":<value>,"full_accuracy_value":"<text>"}}
/// ```
///
/// `value` is written as a JSON number with the given text (check it with [`is_json_decimal`]
/// first); `full_accuracy_value` is omitted when `None`.
pub fn rtds_update_frame(
    topic: &str,
    server_ts_ms: u64,
    symbol: &str,
    feed_ts_ms: u64,
    value: &str,
    full_accuracy_value: Option<&str>,
) -> String {
    let mut s = format!(
        r#"{{"topic":"{topic}","type":"update","timestamp":{server_ts_ms},"payload":{{"symbol":"{symbol}","timestamp":{feed_ts_ms},"value":{value}"#
    );
    if let Some(fav) = full_accuracy_value {
        s.push_str(&format!(r#","full_accuracy_value":"{fav}""#));
    }
    s.push_str("}}");
    s
}

/// One closed 1-minute candle, prices and volume as decimal texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle<'a> {
    /// Open time, epoch ms.
    pub open_time_ms: u64,
    /// Open price text.
    pub open: &'a str,
    /// High price text.
    pub high: &'a str,
    /// Low price text.
    pub low: &'a str,
    /// Close price text.
    pub close: &'a str,
    /// Base-asset volume text.
    pub volume: &'a str,
}

/// A Binance kline stream frame (raw stream form) of a closed 1-minute candle:
///
/// ```text
/// {"e":"kline","E":<T+1>,"s":"BTCUSDT","k":{"t":<open>,"T":<open+59999>,"s":"BTCUSDT","i":"1m","o":"…","c":"…","h":"…","l":"…","v":"…","x":true}}
/// ```
///
/// The event time `E` is the close time + 1 ms, the moment the final update is sent. Fields the
/// tabular source lacks (`f`, `L`, `n`, `q`, `V`, `Q`, `B`) are absent.
pub fn binance_kline_frame(symbol: &str, c: &Candle<'_>) -> String {
    let t = c.open_time_ms;
    let close_time = t + 59_999;
    format!(
        r#"{{"e":"kline","E":{},"s":"{symbol}","k":{{"t":{t},"T":{close_time},"s":"{symbol}","i":"1m","o":"{}","c":"{}","h":"{}","l":"{}","v":"{}","x":true}}}}"#,
        close_time + 1,
        c.open,
        c.close,
        c.high,
        c.low,
        c.volume
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a decimal-seconds column exactly.
pub(crate) fn parse_secs(text: &str, what: &str) -> Result<UnixNanos, String> {
    UnixNanos::parse_secs_decimal(text).map_err(|e| format!("{what} {text:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Input files
// ---------------------------------------------------------------------------------------------

/// A reader that reports the bytes it reads (compressed bytes on disk) to a [`Progress`].
struct Counting<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// Size of a file in bytes (for progress totals).
pub(crate) fn file_len(path: &Path) -> Result<u64, StoreError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(StoreError::io(path))
}

/// Opens an input file, decompressing `.zst` / `.gz` by extension, reporting compressed bytes
/// read to `progress`.
pub(crate) fn open_input<'p>(
    path: &Path,
    progress: &'p dyn Progress,
) -> Result<Box<dyn BufRead + 'p>, StoreError> {
    let file = File::open(path).map_err(StoreError::io(path))?;
    let counting = Counting {
        inner: file,
        progress,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    const CAP: usize = 1 << 20;
    Ok(if ext == "zst" {
        let dec = zstd::stream::read::Decoder::new(counting).map_err(StoreError::io(path))?;
        Box::new(BufReader::with_capacity(CAP, dec))
    } else if ext == "gz" {
        Box::new(BufReader::with_capacity(
            CAP,
            flate2::read::MultiGzDecoder::new(BufReader::new(counting)),
        ))
    } else {
        Box::new(BufReader::with_capacity(CAP, counting))
    })
}

/// The file name of `path` for messages and report keys.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Files in `dir` whose names start with `prefix` and end with one of `suffixes`, sorted by name.
pub(crate) fn list_files(
    dir: &Path,
    prefix: &str,
    suffixes: &[&str],
) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(prefix) && suffixes.iter().any(|s| name.ends_with(s)) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// `dir/name`, which must exist.
pub(crate) fn required(dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(StoreError::Input {
            path: p,
            line: None,
            reason: "required input file not found".into(),
        })
    }
}

fn input_err(path: &Path, line: Option<u64>, reason: impl Into<String>) -> StoreError {
    StoreError::Input {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Streams the lines of a (possibly compressed) text file with bounded memory. Calls `f` with
/// the 1-based line number and the line without its line terminator. Lines that are empty or
/// not UTF-8 are counted as skipped; a read or decompression error is fatal
/// ([`StoreError::Input`] with the line number).
pub(crate) fn for_each_line(
    path: &Path,
    progress: &dyn Progress,
    out: &mut Out<'_>,
    mut f: impl FnMut(&mut Out<'_>, u64, &str) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let name = file_name(path);
    let mut reader = open_input(path, progress)?;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| {
            input_err(
                path,
                Some(line_no + 1),
                format!("read/decompression failed: {e}"),
            )
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        out.report.rows_read += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.is_empty() {
            out.skip(&name, line_no, "empty line", "");
            continue;
        }
        match std::str::from_utf8(&buf) {
            Ok(line) => f(out, line_no, line)?,
            Err(e) => out.skip(&name, line_no, "not UTF-8", e),
        }
    }
    Ok(())
}

/// Reads a CSV file with a header row, deserializing each record into `T` by column name.
/// The header must contain every column in `required_cols` (else the file is unusable:
/// [`StoreError::Input`] at line 1). Records that do not deserialize are counted as skipped
/// with the reason; `f` gets the 1-based line number and the row.
pub(crate) fn for_each_csv<T: DeserializeOwned>(
    path: &Path,
    required_cols: &[&str],
    progress: &dyn Progress,
    out: &mut Out<'_>,
    mut f: impl FnMut(&mut Out<'_>, u64, T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let name = file_name(path);
    let reader = open_input(path, progress)?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| input_err(path, Some(1), format!("unreadable header: {e}")))?
        .clone();
    let missing: Vec<&str> = required_cols
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        return Err(input_err(
            path,
            Some(1),
            format!("header lacks column(s) {}", missing.join(", ")),
        ));
    }
    let mut rec = StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                out.report.rows_read += 1;
                let line = rec.position().map_or(0, csv::Position::line);
                match rec.deserialize::<T>(Some(&headers)) {
                    Ok(row) => f(out, line, row)?,
                    Err(e) => out.skip(&name, line, "unparseable CSV row", e),
                }
            }
            Err(e) => {
                let line = e.position().map(csv::Position::line);
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(input_err(
                        path,
                        line,
                        format!("read/decompression failed: {e}"),
                    ));
                }
                out.report.rows_read += 1;
                out.skip(&name, line.unwrap_or(0), "malformed CSV record", e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_decimals() {
        for ok in ["0", "1.5", "-2.25", "65048.078902260626", "67600.0", "10"] {
            assert!(is_json_decimal(ok), "{ok}");
        }
        for bad in [
            "", "-", ".5", "5.", "01", "1e5", "+1", "1.2.3", "nan", "1,5",
        ] {
            assert!(!is_json_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 2, 2) * 86_400, 1_769_990_400);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }
}
