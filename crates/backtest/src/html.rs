//! `report.html`: one self-contained file (inline CSS and SVG, no scripts, no external
//! resources) with the metrics table — each strategy beside its random twin —, the plots, the
//! data caveats and the conventions.

use std::fmt::Write as _;

use polyedge_core::UnixNanos;

use crate::metrics::Metrics;
use crate::plots::{self, PlotError, Series};
use crate::runner::Backtest;
use crate::summary::Summary;

/// `s` with `& < > "` escaped for HTML text and attributes.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".to_string(), |x| format!("{x:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |x| format!("{:.1} %", x * 100.0))
}

/// The rows of the metrics table: label and the cell of one strategy's figures.
type Row = (&'static str, fn(&Metrics) -> String);

const ROWS: &[Row] = &[
    ("net PnL (pUSD)", |m| m.net_pnl.to_string()),
    ("return on start cash", |m| format!("{:.3} %", m.return_pct)),
    ("fees paid (pUSD)", |m| m.fees_paid.to_string()),
    ("estimated rebates (pUSD, not in PnL)", |m| {
        m.rebates_estimated.to_string()
    }),
    ("trades (fills)", |m| m.trades.to_string()),
    ("orders sent / rejected", |m| {
        format!("{} / {}", m.orders, m.orders_rejected)
    }),
    ("rejections by reason", |m| {
        m.rejections
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("<br>")
    }),
    ("maker fills", |m| m.maker_fills.to_string()),
    ("fill ratio (shares)", |m| pct(m.fill_ratio)),
    ("traded notional (pUSD)", |m| m.traded_notional.to_string()),
    ("windows traded (settled)", |m| {
        format!("{} ({})", m.windows_traded, m.windows_traded_settled)
    }),
    ("win rate, windows", |m| pct(m.win_rate_windows)),
    ("win rate, buy fills", |m| pct(m.win_rate_buy_fills)),
    ("avg edge at entry (pUSD/share)", |m| {
        m.edge.avg_edge_at_entry.clone().unwrap_or("–".into())
    }),
    ("  same fills: entry → realized", |m| {
        format!(
            "{} → {}",
            m.edge
                .avg_edge_at_entry_same_fills
                .clone()
                .unwrap_or("–".into()),
            m.edge
                .avg_realized_edge_same_fills
                .clone()
                .unwrap_or("–".into())
        )
    }),
    ("avg realized edge, all fills (pUSD/share)", |m| {
        m.edge
            .avg_realized_edge_all_fills
            .clone()
            .unwrap_or("–".into())
    }),
    ("Sharpe per window (not annualized)", |m| {
        f(m.sharpe_per_window, 4)
    }),
    ("Sortino per window (not annualized)", |m| {
        f(m.sortino_per_window, 4)
    }),
    ("max drawdown (pUSD)", |m| {
        format!("{} ({:.2} %)", m.max_drawdown, m.max_drawdown_pct)
    }),
    ("profit factor", |m| f(m.profit_factor, 3)),
    ("max exposure (pUSD)", |m| m.max_exposure.to_string()),
    ("mean exposure (pUSD, time-weighted)", |m| {
        m.mean_exposure.to_string()
    }),
    ("unknown-outcome windows traded (cost excluded)", |m| {
        format!("{} ({})", m.unsettled_windows, m.unsettled_cost)
    }),
    ("PnL by outcome source", |m| {
        m.by_outcome_source
            .iter()
            .map(|(k, v)| format!("{k}: {} ({} w)", v.pnl, v.windows_traded))
            .collect::<Vec<_>>()
            .join("<br>")
    }),
    ("Σ window PnL = net; cash identity", |m| {
        format!(
            "{}; {}",
            if m.consistency.window_pnl_sums_to_net {
                "yes"
            } else {
                "NO"
            },
            if m.consistency.cash_identity_holds {
                "yes"
            } else {
                "NO"
            }
        )
    }),
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-size:.86em}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}\
td:first-child,th:first-child{text-align:left}th.base,td.base{color:#666;background:#fafafa}\
.caveats li{margin:.25em 0}.warn{background:#fff7e0;border:1px solid #eed58a;padding:8px 12px}\
code{font-size:.92em}svg{max-width:100%;height:auto}";

/// Builds `report.html` for `bt` and its `summary`.
///
/// # Errors
/// [`PlotError`] when a plot cannot be drawn.
pub fn render(bt: &Backtest, summary: &Summary) -> Result<String, PlotError> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>polyedge backtest</title><style>{STYLE}</style></head><body>\n<h1>polyedge backtest</h1>\n"
    );
    // Data.
    h.push_str("<h2>Data</h2>\n<table><tr><th>recording</th><th>written by</th><th>frames</th><th>windows</th></tr>\n");
    for r in &summary.recordings {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.name),
            escape(&r.created_by),
            r.frames,
            r.windows
        );
    }
    h.push_str("</table>\n");
    let d = &summary.data;
    let by_src = d
        .windows_by_outcome_source
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        h,
        "<p>Range: {} → {} (first event {}, end {}). Seed {}. {} frames replayed, {} events, \
{} parse errors, {} torn tails, {} refused book events.</p>\n<p>{} windows in the run — by \
outcome source: {}. <b>{} windows have no known outcome</b> and are excluded from PnL; {} \
know only one token id (traded on its book and the mirror) and {} none (not tradable).</p>",
        escape(summary.range.from.as_deref().unwrap_or("start")),
        escape(summary.range.to.as_deref().unwrap_or("end")),
        escape(summary.range.first_event.as_deref().unwrap_or("–")),
        escape(&summary.range.end),
        summary.seed,
        d.replay.frames,
        d.replay.events,
        d.replay.parse_errors,
        d.replay.torn_tails,
        d.book_errors,
        d.windows,
        escape(&by_src),
        d.windows_without_outcome,
        d.windows_with_one_token,
        d.windows_without_tokens,
    );
    h.push_str("<div class=\"warn\"><b>Caveats</b><ul class=\"caveats\">\n");
    for c in &summary.caveats {
        let _ = writeln!(h, "<li>{}</li>", escape(c));
    }
    h.push_str("</ul></div>\n");

    // Metrics, each strategy beside its twin.
    h.push_str("<h2>Results — each strategy beside its random twin</h2>\n<table><tr><th></th>");
    for s in &summary.strategies {
        let _ = write!(h, "<th>{}</th>", escape(&s.name));
        if s.baseline.is_some() {
            h.push_str("<th class=\"base\">random twin</th>");
        }
    }
    h.push_str("</tr>\n");
    for (label, cell) in ROWS {
        let _ = write!(h, "<tr><td>{}</td>", escape(label));
        for s in &summary.strategies {
            let _ = write!(h, "<td>{}</td>", cell(&s.metrics));
            if let Some(b) = &s.baseline {
                let _ = write!(h, "<td class=\"base\">{}</td>", cell(&b.metrics));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    if summary.strategies.iter().any(|s| s.baseline.is_some()) {
        h.push_str("<p>Twin orders copied / not sent (no ask): ");
        let parts: Vec<String> = summary
            .strategies
            .iter()
            .filter_map(|s| {
                s.baseline.as_ref().map(|b| {
                    format!(
                        "{}: {} / {}",
                        escape(&s.name),
                        b.copied_orders,
                        b.skipped_orders
                    )
                })
            })
            .collect();
        h.push_str(&parts.join("; "));
        h.push_str(".</p>\n");
    }

    // Plots.
    let t0 = bt.main.first_event_ns.unwrap_or(UnixNanos(0));
    let mut eq = Vec::new();
    let mut dd = Vec::new();
    for (i, s) in bt.main.strategies.iter().enumerate() {
        let twin = bt.baselines.as_ref().and_then(|b| b.strategies.get(i));
        eq.push(Series {
            name: s.name.clone(),
            color: i,
            faded: false,
            points: plots::equity_points(s, t0),
        });
        dd.push(Series {
            name: s.name.clone(),
            color: i,
            faded: false,
            points: plots::drawdown_points(s, t0),
        });
        if let Some(t) = twin {
            eq.push(Series {
                name: t.name.clone(),
                color: i,
                faded: true,
                points: plots::equity_points(t, t0),
            });
            dd.push(Series {
                name: t.name.clone(),
                color: i,
                faded: true,
                points: plots::drawdown_points(t, t0),
            });
        }
    }
    h.push_str("<h2>Equity and drawdown</h2>\n<p>Faded lines are the random twins.</p>\n");
    h.push_str(&plots::equity(&eq, bt.engine.start_cash)?);
    h.push_str(&plots::drawdown(&dd)?);
    h.push_str("<h2>PnL per window</h2>\n");
    for (i, s) in bt.main.strategies.iter().enumerate() {
        let per = |r: &polyedge_engine::StrategyResult| -> Vec<f64> {
            bt.windows
                .iter()
                .map(|w| r.window_pnl.get(&w.slug).map_or(0.0, |c| c.to_f64()))
                .collect()
        };
        let twin = bt
            .baselines
            .as_ref()
            .and_then(|b| b.strategies.get(i))
            .map(per);
        h.push_str(&plots::window_pnl(&s.name, i, &per(s), twin.as_deref())?);
    }
    h.push_str("<h2>Calibration of fair value at entry</h2>\n");
    let cals: Vec<(String, usize, &crate::metrics::Calibration)> = summary
        .strategies
        .iter()
        .enumerate()
        .filter(|(_, s)| s.metrics.calibration.n > 0)
        .map(|(i, s)| (s.name.clone(), i, &s.metrics.calibration))
        .collect();
    if cals.is_empty() {
        h.push_str("<p>No strategy in this run gave a fair value with its orders.</p>\n");
    } else {
        h.push_str(
            "<p>Filled orders that carried the strategy's fair value, in windows with a known \
outcome: mean fair value per 0.1 bin vs the fraction whose token won.</p>\n",
        );
        h.push_str(&plots::calibration(&cals)?);
    }

    // Conventions and parameters.
    h.push_str("<h2>Conventions</h2>\n<table>\n");
    for (k, v) in &summary.conventions {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    h.push_str("</table>\n<h2>Parameters</h2>\n<table>\n");
    for s in &summary.strategies {
        let p = serde_json::to_string(&s.params).unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td style=\"text-align:left\"><code>{}</code></td></tr>",
            escape(&s.name),
            escape(&p)
        );
    }
    let engine = serde_json::to_string(&summary.config.engine).unwrap_or_default();
    let _ = writeln!(
        h,
        "<tr><td>engine</td><td style=\"text-align:left\"><code>{}</code></td></tr>\n</table>",
        escape(&engine)
    );
    h.push_str(
        "<p>Files beside this one: <code>summary.json</code> (every figure), <code>trades.csv</code>, \
<code>equity.csv</code>, <code>windows.csv</code>. Definitions: <code>docs/backtest.md</code>.</p>\n\
</body></html>\n",
    );
    Ok(h)
}
