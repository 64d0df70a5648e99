//! The files of a sweep directory: `sweep.csv` (the table), `sweep.parquet` (the same table for
//! pandas/polars/DuckDB), `sweep.json` (the spec, the data, the shard and the sweep-wide
//! summary) and `sweep.html` (a heatmap of the objective over two parameters, the best
//! configurations and the deflated Sharpe ratio). A shard writes the same files with its rows
//! only and no summary; `polyedge sweep merge` reads shard directories back ([`read_dir`]) and
//! writes the complete table, byte-identical to a single run's.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use serde::{Deserialize, Serialize};

use crate::html::escape;
use crate::sweep::{Objective, Shard, SweepError, SweepRow, SweepSpec, SweepSummary, SweepTable};

/// The files of a sweep directory, in the order written.
pub const SWEEP_FILES: &[&str] = &["sweep.csv", "sweep.parquet", "sweep.json", "sweep.html"];

/// What data the sweep ran on (no paths: recordings by directory name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SweepData {
    /// Recording names.
    pub recordings: Vec<String>,
    /// `--from` (RFC 3339 UTC).
    pub from: Option<String>,
    /// `--to` (RFC 3339 UTC).
    pub to: Option<String>,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    /// [`crate::sweep::FORMAT`].
    pub format: String,
    /// [`crate::sweep::FORMAT_VERSION`].
    pub format_version: u32,
    /// The sweep.
    pub spec: SweepSpec,
    /// The data.
    pub data: SweepData,
    /// Configurations of the whole sweep.
    pub total: usize,
    /// The shard these files hold (`null`: the whole sweep).
    pub shard: Option<Shard>,
    /// Sweep-wide figures (`null` in a shard).
    pub summary: Option<SweepSummary>,
}

const FIXED: &[&str] = &[
    "net_pnl",
    "net_pnl_lo",
    "net_pnl_hi",
    "return_pct",
    "sharpe_per_window",
    "sharpe_lo",
    "sharpe_hi",
    "win_rate_windows",
    "trades",
    "windows_traded",
    "windows",
    "max_drawdown",
    "fees",
    "profit_factor",
    "skewness",
    "kurtosis",
    "p_vs_twin",
    "psr",
    "dsr",
    "rank",
];

fn f(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn row_cells(r: &SweepRow) -> Vec<String> {
    let mut v = vec![r.index.to_string()];
    v.extend(r.params.iter().cloned());
    v.extend([
        r.net_pnl.clone(),
        f(r.net_pnl_lo),
        f(r.net_pnl_hi),
        r.return_pct.to_string(),
        f(r.sharpe_per_window),
        f(r.sharpe_lo),
        f(r.sharpe_hi),
        f(r.win_rate_windows),
        r.trades.to_string(),
        r.windows_traded.to_string(),
        r.windows.to_string(),
        r.max_drawdown.clone(),
        r.fees.clone(),
        f(r.profit_factor),
        f(r.skewness),
        f(r.kurtosis),
        f(r.p_vs_twin),
        f(r.psr),
        f(r.dsr),
        r.rank.map(|x| x.to_string()).unwrap_or_default(),
    ]);
    v
}

/// Writes the table as CSV: `index`, one column per parameter path, then the figures.
///
/// # Errors
/// Write errors.
pub fn write_csv<W: std::io::Write>(t: &SweepTable, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["index".to_string()];
    header.extend(t.spec.axes.iter().map(|a| a.path.clone()));
    header.extend(FIXED.iter().map(|s| (*s).to_string()));
    w.write_record(&header)?;
    for r in &t.rows {
        w.write_record(row_cells(r))?;
    }
    w.flush()?;
    Ok(())
}

fn parse_opt<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("column {what}: bad value {s:?}"))
}

/// Reads rows written by [`write_csv`] for a sweep with `spec`.
///
/// # Errors
/// Unreadable CSV, a header that does not match the spec, a bad cell.
pub fn read_csv<R: std::io::Read>(spec: &SweepSpec, input: R) -> Result<Vec<SweepRow>, String> {
    let mut r = csv::Reader::from_reader(input);
    let header: Vec<String> = r
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    let np = spec.axes.len();
    let mut want = vec!["index".to_string()];
    want.extend(spec.axes.iter().map(|a| a.path.clone()));
    want.extend(FIXED.iter().map(|s| (*s).to_string()));
    if header != want {
        return Err(format!(
            "header {header:?} does not match the sweep's {want:?}"
        ));
    }
    let mut rows = Vec::new();
    for (line, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| e.to_string())?;
        let c = |k: usize| rec.get(k).unwrap_or("");
        let at = |e: String| format!("row {}: {e}", line + 2);
        let req = |k: usize, name: &str| -> Result<String, String> {
            let v = c(k);
            if v.is_empty() {
                Err(at(format!("column {name} is empty")))
            } else {
                Ok(v.to_string())
            }
        };
        let b = 1 + np;
        let num = |k: usize, name: &str| -> Result<u64, String> {
            req(k, name)?
                .parse()
                .map_err(|_| at(format!("column {name}: not an integer")))
        };
        let of = |k: usize| parse_opt::<f64>(c(k), FIXED[k - b]).map_err(&at);
        rows.push(SweepRow {
            index: usize::try_from(num(0, "index")?).map_err(|e| at(e.to_string()))?,
            params: (1..=np).map(|k| c(k).to_string()).collect(),
            net_pnl: req(b, "net_pnl")?,
            net_pnl_lo: of(b + 1)?,
            net_pnl_hi: of(b + 2)?,
            return_pct: req(b + 3, "return_pct")?
                .parse()
                .map_err(|_| at("column return_pct: not a number".into()))?,
            sharpe_per_window: of(b + 4)?,
            sharpe_lo: of(b + 5)?,
            sharpe_hi: of(b + 6)?,
            win_rate_windows: of(b + 7)?,
            trades: num(b + 8, "trades")?,
            windows_traded: num(b + 9, "windows_traded")?,
            windows: num(b + 10, "windows")?,
            max_drawdown: req(b + 11, "max_drawdown")?,
            fees: req(b + 12, "fees")?,
            profit_factor: of(b + 13)?,
            skewness: of(b + 14)?,
            kurtosis: of(b + 15)?,
            p_vs_twin: of(b + 16)?,
            psr: of(b + 17)?,
            dsr: of(b + 18)?,
            rank: parse_opt(c(b + 19), "rank").map_err(&at)?,
        });
    }
    Ok(rows)
}

/// Reads one optional float column of a sweep row (Parquet writer).
type FloatColumn = fn(&SweepRow) -> Option<f64>;
/// Reads one integer column of a sweep row (Parquet writer).
type IntColumn = fn(&SweepRow) -> u64;

/// Writes the table as Parquet (parameters and money as strings, figures as float64/uint64).
///
/// # Errors
/// Arrow or Parquet errors, as text.
pub fn write_parquet<W: std::io::Write + Send>(t: &SweepTable, out: W) -> Result<(), String> {
    let mut fields = vec![Field::new("index", DataType::UInt64, false)];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from_iter_values(
        t.rows.iter().map(|r| r.index as u64),
    ))];
    for (k, a) in t.spec.axes.iter().enumerate() {
        fields.push(Field::new(a.path.as_str(), DataType::Utf8, false));
        cols.push(Arc::new(StringArray::from_iter_values(
            t.rows.iter().map(|r| r.params[k].clone()),
        )));
    }
    let mut s = |name: &str, v: Vec<String>| {
        fields.push(Field::new(name, DataType::Utf8, false));
        cols.push(Arc::new(StringArray::from_iter_values(v)));
    };
    s(
        "net_pnl",
        t.rows.iter().map(|r| r.net_pnl.clone()).collect(),
    );
    s(
        "max_drawdown",
        t.rows.iter().map(|r| r.max_drawdown.clone()).collect(),
    );
    s("fees", t.rows.iter().map(|r| r.fees.clone()).collect());
    let floats: [(&str, FloatColumn); 14] = [
        ("net_pnl_lo", |r| r.net_pnl_lo),
        ("net_pnl_hi", |r| r.net_pnl_hi),
        ("return_pct", |r| Some(r.return_pct)),
        ("sharpe_per_window", |r| r.sharpe_per_window),
        ("sharpe_lo", |r| r.sharpe_lo),
        ("sharpe_hi", |r| r.sharpe_hi),
        ("win_rate_windows", |r| r.win_rate_windows),
        ("profit_factor", |r| r.profit_factor),
        ("skewness", |r| r.skewness),
        ("kurtosis", |r| r.kurtosis),
        ("p_vs_twin", |r| r.p_vs_twin),
        ("psr", |r| r.psr),
        ("dsr", |r| r.dsr),
        ("rank", |r| r.rank.map(|x| x as f64)),
    ];
    for (name, get) in floats {
        fields.push(Field::new(name, DataType::Float64, true));
        cols.push(Arc::new(Float64Array::from(
            t.rows.iter().map(get).collect::<Vec<_>>(),
        )));
    }
    let ints: [(&str, IntColumn); 3] = [
        ("trades", |r| r.trades),
        ("windows_traded", |r| r.windows_traded),
        ("windows", |r| r.windows),
    ];
    for (name, get) in ints {
        fields.push(Field::new(name, DataType::UInt64, false));
        cols.push(Arc::new(UInt64Array::from_iter_values(
            t.rows.iter().map(get),
        )));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())?;
    let mut w = ArrowWriter::try_new(out, schema, None).map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(())
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, SweepError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let fail = |e: std::io::Error| SweepError::Merge(format!("{}: {e}", path.display()));
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(path)
}

/// Writes the four sweep files into `dir` (created). Returns their paths.
///
/// # Errors
/// I/O errors naming the file.
pub fn write_dir(t: &SweepTable, data: &SweepData, dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SweepError::Merge(format!("{}: {e}", dir.display())))?;
    let mut csv = Vec::new();
    write_csv(t, &mut csv).map_err(|e| SweepError::Merge(e.to_string()))?;
    let mut pq = Vec::new();
    write_parquet(t, &mut pq).map_err(SweepError::Merge)?;
    let meta = SweepMeta {
        format: crate::sweep::FORMAT.into(),
        format_version: crate::sweep::FORMAT_VERSION,
        spec: t.spec.clone(),
        data: data.clone(),
        total: t.total,
        shard: t.shard,
        summary: t.summary.clone(),
    };
    let mut json =
        serde_json::to_string_pretty(&meta).map_err(|e| SweepError::Merge(e.to_string()))?;
    json.push('\n');
    let html = render_html(t, data);
    Ok(vec![
        write_atomic(dir, "sweep.csv", &csv)?,
        write_atomic(dir, "sweep.parquet", &pq)?,
        write_atomic(dir, "sweep.json", json.as_bytes())?,
        write_atomic(dir, "sweep.html", html.as_bytes())?,
    ])
}

/// Reads a sweep directory (a shard's or a whole sweep's) back.
///
/// # Errors
/// Missing or unreadable files, a `sweep.json` of another format, rows that do not match.
pub fn read_dir(dir: &Path) -> Result<(SweepTable, SweepData), SweepError> {
    let err = |m: String| SweepError::Merge(format!("{}: {m}", dir.display()));
    let text = std::fs::read_to_string(dir.join("sweep.json"))
        .map_err(|e| err(format!("sweep.json: {e}")))?;
    let meta: SweepMeta =
        serde_json::from_str(&text).map_err(|e| err(format!("sweep.json: {e}")))?;
    if meta.format != crate::sweep::FORMAT || meta.format_version != crate::sweep::FORMAT_VERSION {
        return Err(err(format!(
            "sweep.json: format {} v{} (expected {} v{})",
            meta.format,
            meta.format_version,
            crate::sweep::FORMAT,
            crate::sweep::FORMAT_VERSION
        )));
    }
    let file =
        std::fs::File::open(dir.join("sweep.csv")).map_err(|e| err(format!("sweep.csv: {e}")))?;
    let rows = read_csv(&meta.spec, file).map_err(|e| err(format!("sweep.csv: {e}")))?;
    Ok((
        SweepTable {
            spec: meta.spec,
            total: meta.total,
            shard: meta.shard,
            rows,
            summary: meta.summary,
        },
        meta.data,
    ))
}

/// A background colour for `v` on a diverging scale centred at 0 (red negative, green
/// positive), `scale` the largest |v|.
fn colour(v: Option<f64>, scale: f64) -> String {
    let Some(v) = v.filter(|x| x.is_finite()) else {
        return "#eee".into();
    };
    let a = if scale > 0.0 {
        (v.abs() / scale).min(1.0)
    } else {
        0.0
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let k = (255.0 - 150.0 * a).round() as u8;
    if v >= 0.0 {
        format!("rgb({k},255,{k})")
    } else {
        format!("rgb(255,{k},{k})")
    }
}

fn fmt(v: Option<f64>, d: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.d$}"))
}

/// `sweep.html`: self-contained (inline CSS, no scripts).
pub fn render_html(t: &SweepTable, data: &SweepData) -> String {
    let obj = t.spec.objective;
    let score = |r: &SweepRow| match obj {
        Objective::Sharpe => r.sharpe_per_window,
        Objective::NetPnl => Some(r.net_pnl_f64()),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>polyedge sweep: {}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222;padding:0 16px}}\
h2{{font-size:1.1em;margin-top:1.5em;border-bottom:1px solid #ddd}}table{{border-collapse:collapse;font-size:.82em}}\
td,th{{border:1px solid #ddd;padding:3px 6px;text-align:right}}th{{background:#f6f6f6}}\
.hm td{{min-width:64px}}.scroll{{overflow-x:auto;max-width:100%}}.note{{color:#555}}</style></head><body>\n",
        escape(&t.spec.strategy)
    );
    let _ = writeln!(
        h,
        "<h1>Sweep of <code>{}</code>: {} configurations</h1>\n<p>Recordings: {}. Range: {} → {}. \
Search: {}. Seed {}. Objective: {}. Baselines: {}.</p>",
        escape(&t.spec.strategy),
        t.rows.len(),
        escape(&data.recordings.join(", ")),
        escape(data.from.as_deref().unwrap_or("first event")),
        escape(data.to.as_deref().unwrap_or("last event")),
        match t.spec.search {
            crate::sweep::Search::Grid => "grid".to_string(),
            crate::sweep::Search::Random { samples } => format!("random, {samples} samples"),
        },
        t.spec.seed,
        obj.name(),
        if t.spec.baseline { "on" } else { "off" },
    );
    if let Some(s) = &t.summary {
        let best = s
            .best_params
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            h,
            "<p><b>Best by {}: configuration {} ({})</b> — Sharpe per window {}, net PnL {} pUSD, \
PSR(0) {}, <b>deflated Sharpe ratio {}</b>. Expected maximum Sharpe of {} unskilled trials \
(SR₀): {:.4} (variance of the trials' Sharpe ratios {:.3e}). A DSR below 0.95 means the best \
result is within what trying {} configurations would give by luck (Bailey &amp; López de Prado, \
2014; N counts every configuration, so this is conservative).</p>",
            obj.name(),
            s.best.map_or("–".into(), |b| b.to_string()),
            escape(&best),
            fmt(s.best_sharpe, 4),
            escape(s.best_net_pnl.as_deref().unwrap_or("–")),
            fmt(s.best_psr, 3),
            fmt(s.best_dsr, 3),
            s.configurations,
            s.expected_max_sharpe,
            s.sharpe_variance,
            s.configurations,
        );
    } else {
        h.push_str("<p class=\"note\">A shard: merge every shard (<code>polyedge sweep merge</code>) for the ranks and the deflated Sharpe ratio.</p>\n");
    }
    // Heatmap over the first two axes (best over any others).
    if t.spec.axes.len() >= 2 && !t.rows.is_empty() {
        let uniq = |k: usize| {
            let mut v: Vec<String> = Vec::new();
            for r in &t.rows {
                if !v.contains(&r.params[k]) {
                    v.push(r.params[k].clone());
                }
            }
            v.sort_by(|a, b| {
                match (
                    a.trim_matches('"').parse::<f64>(),
                    b.trim_matches('"').parse::<f64>(),
                ) {
                    (Ok(x), Ok(y)) => x.total_cmp(&y),
                    _ => a.cmp(b),
                }
            });
            v
        };
        let (xs, ys) = (uniq(0), uniq(1));
        let cell = |x: &str, y: &str| -> Option<&SweepRow> {
            t.rows
                .iter()
                .filter(|r| r.params[0] == x && r.params[1] == y)
                .max_by(|a, b| {
                    obj.score(a)
                        .total_cmp(&obj.score(b))
                        .then(b.index.cmp(&a.index))
                })
        };
        let scale = t
            .rows
            .iter()
            .filter_map(score)
            .filter(|x| x.is_finite())
            .fold(0.0f64, |m, x| m.max(x.abs()));
        let _ = writeln!(
            h,
            "<h2>Heatmap: {} by {} (rows) × {} (columns){}</h2>\n<div class=\"scroll\"><table class=\"hm\"><tr><th>{} \\ {}</th>",
            obj.name(),
            escape(&t.spec.axes[0].path),
            escape(&t.spec.axes[1].path),
            if t.spec.axes.len() > 2 {
                ", best over the other parameters"
            } else {
                ""
            },
            escape(&t.spec.axes[0].path),
            escape(&t.spec.axes[1].path),
        );
        for y in &ys {
            let _ = write!(h, "<th>{}</th>", escape(y));
        }
        h.push_str("</tr>\n");
        for x in &xs {
            let _ = write!(h, "<tr><th>{}</th>", escape(x));
            for y in &ys {
                match cell(x, y) {
                    Some(r) => {
                        let v = score(r);
                        let _ = write!(
                            h,
                            "<td style=\"background:{}\" title=\"configuration {}: Sharpe {}, net PnL {} pUSD, trades {}, DSR {}\">{}</td>",
                            colour(v, scale),
                            r.index,
                            fmt(r.sharpe_per_window, 4),
                            escape(&r.net_pnl),
                            r.trades,
                            fmt(r.dsr, 3),
                            match obj {
                                Objective::Sharpe => fmt(v, 3),
                                Objective::NetPnl => fmt(v, 2),
                            }
                        );
                    }
                    None => h.push_str("<td></td>"),
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></div>\n<p class=\"note\">Green: positive, red: negative; hover a cell for its figures. Grey: undefined (no trades or no variance).</p>\n");
    }
    // Table, best first.
    let mut order: Vec<&SweepRow> = t.rows.iter().collect();
    order.sort_by(|a, b| {
        a.rank
            .unwrap_or(usize::MAX)
            .cmp(&b.rank.unwrap_or(usize::MAX))
            .then(a.index.cmp(&b.index))
    });
    h.push_str("<h2>Configurations, best first</h2>\n<div class=\"scroll\"><table><tr><th>rank</th><th>#</th>");
    for a in &t.spec.axes {
        let _ = write!(h, "<th>{}</th>", escape(&a.path));
    }
    h.push_str("<th>net PnL</th><th>95% CI</th><th>Sharpe/w</th><th>95% CI</th><th>win/w</th><th>trades</th><th>max DD</th><th>p&gt;twin</th><th>PSR(0)</th><th>DSR</th></tr>\n");
    for r in order {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>",
            r.rank.map_or("–".into(), |x| x.to_string()),
            r.index
        );
        for p in &r.params {
            let _ = write!(h, "<td>{}</td>", escape(p));
        }
        let ci = |lo: Option<f64>, hi: Option<f64>, d: usize| match (lo, hi) {
            (Some(l), Some(u)) => format!("[{l:.d$}, {u:.d$}]"),
            _ => "–".into(),
        };
        let _ = writeln!(
            h,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.net_pnl),
            ci(r.net_pnl_lo, r.net_pnl_hi, 2),
            fmt(r.sharpe_per_window, 4),
            ci(r.sharpe_lo, r.sharpe_hi, 3),
            r.win_rate_windows
                .map_or("–".into(), |x| format!("{:.1} %", x * 100.0)),
            r.trades,
            escape(&r.max_drawdown),
            fmt(r.p_vs_twin, 3),
            fmt(r.psr, 3),
            fmt(r.dsr, 3),
        );
    }
    h.push_str("</table></div>\n<p class=\"note\">Definitions: docs/backtest.md (§ sweep). Files beside this one: sweep.csv, sweep.parquet, sweep.json.</p>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sweep::{Axis, Search, finalize};

    #[test]
    fn csv_round_trips_exactly() {
        let spec = SweepSpec {
            strategy: "fair_value".into(),
            axes: vec![
                Axis::parse("threshold_bps=100,200").unwrap(),
                Axis::parse("sizing.max_trade=\"5\",\"1,0\"").unwrap(),
            ],
            search: Search::Grid,
            seed: 3,
            objective: Objective::Sharpe,
            baseline: false,
        };
        let rows: Vec<SweepRow> = spec
            .configurations()
            .unwrap()
            .iter()
            .map(|c| SweepRow {
                index: c.index,
                params: c.values.iter().map(ToString::to_string).collect(),
                net_pnl: "-1.234567".into(),
                return_pct: -0.123_456_7,
                sharpe_per_window: Some(0.1 + c.index as f64 / 3.0),
                sharpe_lo: Some(-0.3),
                sharpe_hi: None,
                net_pnl_lo: Some(1e-9),
                net_pnl_hi: Some(123_456.789),
                win_rate_windows: Some(2.0 / 3.0),
                trades: 7,
                windows_traded: 3,
                windows: 10,
                max_drawdown: "2".into(),
                fees: "0.01".into(),
                profit_factor: None,
                skewness: Some(0.7),
                kurtosis: Some(3.3),
                p_vs_twin: None,
                psr: None,
                dsr: None,
                rank: None,
            })
            .collect();
        let t = finalize(SweepTable {
            spec: spec.clone(),
            total: rows.len(),
            shard: None,
            rows,
            summary: None,
        });
        let mut a = Vec::new();
        write_csv(&t, &mut a).unwrap();
        let back = read_csv(&spec, a.as_slice()).unwrap();
        assert_eq!(back, t.rows);
        let mut b = Vec::new();
        write_parquet(&t, &mut b).unwrap();
        assert!(b.starts_with(b"PAR1"));
        let html = render_html(&t, &SweepData::default());
        assert!(html.contains("Heatmap"), "{html}");
        assert!(html.contains("deflated Sharpe ratio"));
    }
}
