//! `report.html`: one self-contained file — inline CSS, the chart data as JSON, and uPlot 1.6.32
//! (MIT, vendored in `assets/uplot`, embedded inline: no CDN, no network) — that a trader can
//! send to a colleague:
//!
//! 1. the headline table, one row per strategy and one per its random twin, with 95 %
//!    intervals, the permutation p-value against the twin, and tail risk; laid out to fit a
//!    laptop screen (1 400 px) without cutting columns;
//! 2. overview charts (cumulative PnL and drawdown of the strategies that traded; zoom by
//!    dragging, values on hover, click a legend entry to hide a line);
//! 3. one section per strategy: every figure beside its twin's, and — only if it traded — its
//!    PnL against its twin's, PnL per window, and the calibration of its fair values; a strategy
//!    that did not trade says why instead (orders, rejections by reason);
//! 4. the data (recordings, range, windows, caveats), the conventions and the parameters.
//!
//! Without JavaScript the tables still read; the charts need it (a `<noscript>` note says so).

use std::fmt::Write as _;

use polyedge_core::UnixNanos;
use polyedge_engine::StrategyResult;
use serde::Serialize;

use crate::metrics::Metrics;
use crate::plots::{self, Chart};
use crate::runner::Backtest;
use crate::stats::{Interval, VsTwin};
use crate::summary::{StrategySummary, Summary};

/// uPlot's script, vendored (`assets/uplot`, MIT).
const UPLOT_JS: &str = include_str!("../assets/uplot/uPlot.iife.min.js");
/// uPlot's stylesheet.
const UPLOT_CSS: &str = include_str!("../assets/uplot/uPlot.min.css");
/// Version of the vendored uPlot.
pub const UPLOT_VERSION: &str = "1.6.32";

/// Why the report could not be built (kept for the report writer's error type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report: {0}")]
pub struct HtmlError(pub String);

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

fn ci(v: Option<Interval>, digits: usize, scale: f64) -> String {
    v.map_or(String::new(), |i| {
        format!(
            "<small>[{:.digits$}, {:.digits$}]</small>",
            i.lo * scale,
            i.hi * scale
        )
    })
}

fn money2(c: polyedge_core::Cash) -> String {
    format!("{:.2}", c.to_f64())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

/// The rows of a strategy's figure table: label and the cell of one strategy's figures.
type Row = (&'static str, fn(&Metrics) -> String);

const ROWS: &[Row] = &[
    ("net PnL (pUSD)", |m| m.net_pnl.to_string()),
    ("  95 % interval (block bootstrap)", |m| {
        m.uncertainty.net_pnl.map_or("–".into(), |i| i.fmt(2))
    }),
    ("return on start cash", |m| format!("{:.3} %", m.return_pct)),
    ("  95 % interval", |m| {
        m.uncertainty
            .return_pct
            .map_or("–".into(), |i| format!("[{:.3} %, {:.3} %]", i.lo, i.hi))
    }),
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
    ("  95 % interval", |m| {
        m.uncertainty.win_rate_windows.map_or("–".into(), |i| {
            format!("[{:.1} %, {:.1} %]", i.lo * 100.0, i.hi * 100.0)
        })
    }),
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
    ("  95 % interval", |m| {
        m.uncertainty
            .sharpe_per_window
            .map_or("–".into(), |i| i.fmt(4))
    }),
    ("Sortino per window (not annualized)", |m| {
        f(m.sortino_per_window, 4)
    }),
    ("max drawdown (pUSD)", |m| {
        format!("{} ({:.2} %)", m.max_drawdown, m.max_drawdown_pct)
    }),
    ("longest drawdown (windows; hours)", |m| {
        let t = &m.tail_risk;
        format!(
            "{}{}; {:.1} h",
            t.max_drawdown_duration_windows,
            if t.max_drawdown_unrecovered {
                " (not recovered)"
            } else {
                ""
            },
            t.max_drawdown_duration_secs as f64 / 3600.0
        )
    }),
    ("VaR / CVaR 95 % of a traded window (pUSD)", |m| {
        format!(
            "{} / {} (n = {})",
            f(m.tail_risk.var_95_window, 2),
            f(m.tail_risk.cvar_95_window, 2),
            m.tail_risk.traded_windows
        )
    }),
    ("longest losing streak (traded windows)", |m| {
        m.tail_risk.longest_losing_streak.to_string()
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
            yes_no(m.consistency.window_pnl_sums_to_net),
            yes_no(m.consistency.cash_identity_holds)
        )
    }),
];

const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1360px;padding:16px 20px;color:#222;line-height:1.35}\
h1{font-size:1.45em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:2px}\
h3{font-size:1.02em;margin:1.2em 0 .4em}\
nav{font-size:.88em;margin:.4em 0 1em}nav a{margin-right:.9em}\
table{border-collapse:collapse;font-size:.84em}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}\
th{background:#f6f6f6;font-weight:600}td:first-child,th:first-child{text-align:left}\
table.results{width:100%;font-size:.8em}table.results td{white-space:nowrap;padding:2px 4px}\
table.results th{white-space:normal;padding:2px 4px;min-width:3.5em}\
table.results td.note{white-space:normal;text-align:left;color:#555;font-size:.95em;min-width:12em;max-width:200px}\
tr.twin td{color:#666;background:#fafafa}small{color:#777;font-size:.86em}\
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}\
.good{color:#1a7f37;font-weight:600}.warn{background:#fff7e0;border:1px solid #eed58a;padding:8px 12px}\
.caveats li{margin:.25em 0}.muted{color:#666}.chart{width:100%;min-height:120px;margin:6px 0 14px}\
.cols{display:grid;grid-template-columns:minmax(340px,420px) 1fr;gap:18px;align-items:start}\
@media (max-width:1000px){.cols{grid-template-columns:1fr}}\
code{font-size:.92em;overflow-wrap:anywhere}.strategy{border-top:3px solid #eee;margin-top:1.4em}\
.uplot .u-title{font-size:14px;font-weight:600}.uplot .u-legend{font-size:12px}";

/// The chart-drawing script: hands each chart of the `chart-data` JSON to uPlot.
const SCRIPT: &str = r"(function(){
var D=JSON.parse(document.getElementById('chart-data').textContent);
function fx(v,d){return v==null?'\u2013':Number(v).toFixed(d);}
function utc(s){return new Date(s*1000).toISOString().replace('T',' ').slice(0,19)+' UTC';}
var made=[];
D.forEach(function(c){
  var el=document.getElementById(c.id); if(!el) return;
  var xs={label:c.x_label,value:function(u,v){
    if(v==null) return '\u2013';
    if(c.x_names){var n=c.x_names[Math.round(v)];return n===undefined?'':n;}
    return c.x_time?utc(v):fx(v,3);}};
  var ser=[xs];
  c.series.forEach(function(s){
    var o={label:s.label,stroke:s.color,width:s.width,spanGaps:true,
      value:(function(d){return function(u,v){return fx(v,d);};})(s.digits)};
    if(s.dash.length) o.dash=s.dash;
    if(s.kind==='step') o.paths=uPlot.paths.stepped({align:1});
    if(s.kind==='bars'){o.paths=uPlot.paths.bars({size:[0.7,40]});o.fill=s.color+'cc';o.points={show:false};}
    if(s.kind==='points'){o.paths=function(){return null;};o.spanGaps=false;
      o.points={show:true,size:s.point_size,width:1,stroke:s.color,fill:s.color+'99'};}
    ser.push(o);
  });
  var sx={time:c.x_time};
  if(c.x_range) sx.range=function(){return c.x_range;};
  var sy={};
  if(c.y_range) sy.range=function(){return c.y_range;};
  var opts={width:Math.max(320,el.clientWidth||900),height:c.height,title:c.title,series:ser,
    scales:{x:sx,y:sy},focus:{alpha:0.35},cursor:{drag:{x:true,y:false},focus:{prox:24}},
    axes:[{label:c.x_label},{label:c.y_label,size:64}]};
  if(c.x_time) opts.tzDate=function(ts){return uPlot.tzDate(new Date(ts*1e3),'Etc/UTC');};
  var data=[c.x].concat(c.series.map(function(s){return s.values;}));
  made.push([new uPlot(opts,data,el),el]);
});
var t;window.addEventListener('resize',function(){clearTimeout(t);t=setTimeout(function(){
  made.forEach(function(p){p[0].setSize({width:Math.max(320,p[1].clientWidth),height:p[0].height});});},100);});
document.body.setAttribute('data-charts-rendered',String(made.length));
})();";

/// JSON for a `<script type="application/json">` block: every `<` written as `\u003c` (valid
/// JSON, since `<` only occurs inside strings), so the data can never close the block.
fn json_for_script<T: Serialize>(v: &T) -> Result<String, HtmlError> {
    let s = serde_json::to_string(v).map_err(|e| HtmlError(e.to_string()))?;
    Ok(s.replace('<', "\\u003c"))
}

fn slug_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Why a strategy has no fills, in words (orders, rejections by reason).
fn no_trade_note(m: &Metrics) -> String {
    if m.orders == 0 {
        "placed no order (its conditions never held on this data; see docs/strategies.md)".into()
    } else {
        let reasons = m
            .rejections
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} order(s), none filled{}",
            m.orders,
            if reasons.is_empty() {
                String::new()
            } else {
                format!("; rejected: {reasons}")
            }
        )
    }
}

fn results_row(
    h: &mut String,
    label: &str,
    m: &Metrics,
    vs: Option<&VsTwin>,
    twin: bool,
    color: Option<&str>,
) {
    let u = &m.uncertainty;
    let t = &m.tail_risk;
    let sw = color.map_or(String::new(), |c| {
        format!("<span class=\"swatch\" style=\"background:{c}\"></span>")
    });
    // No window where strategy and twin differ (nothing traded): no p-value to show.
    let p = vs
        .filter(|v| v.differing_windows > 0)
        .map_or("–".to_string(), |v| {
            let cls = if v.p_value_greater < 0.05 {
                " class=\"good\""
            } else {
                ""
            };
            format!("<span{cls}>{:.3}</span>", v.p_value_greater)
        });
    let note = if m.trades == 0 {
        escape(&no_trade_note(m))
    } else {
        String::new()
    };
    let _ = writeln!(
        h,
        "<tr{}><td>{sw}{}</td><td>{}<br>{}</td><td>{:.3} %</td><td>{}<br>{}</td><td>{}<br>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}<br><small>{} w{}</small></td><td>{} / {}</td><td>{}</td><td class=\"note\">{}</td></tr>",
        if twin { " class=\"twin\"" } else { "" },
        escape(label),
        money2(m.net_pnl),
        ci(u.net_pnl, 2, 1.0),
        m.return_pct,
        f(m.sharpe_per_window, 3),
        ci(u.sharpe_per_window, 3, 1.0),
        pct(m.win_rate_windows),
        ci(u.win_rate_windows, 0, 100.0),
        p,
        m.trades,
        pct(m.fill_ratio),
        money2(m.fees_paid),
        money2(m.max_drawdown),
        t.max_drawdown_duration_windows,
        if t.max_drawdown_unrecovered { "+" } else { "" },
        f(t.var_95_window, 2),
        f(t.cvar_95_window, 2),
        t.longest_losing_streak,
        note,
    );
}

fn figure_table(h: &mut String, s: &StrategySummary) {
    let _ = write!(h, "<table><tr><th>figure</th><th>{}</th>", escape(&s.name));
    if s.baseline.is_some() {
        h.push_str("<th>random twin</th>");
    }
    h.push_str("</tr>\n");
    for (label, cell) in ROWS {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>",
            escape(label),
            cell(&s.metrics)
        );
        if let Some(b) = &s.baseline {
            let _ = write!(h, "<td>{}</td>", cell(&b.metrics));
        }
        h.push_str("</tr>\n");
    }
    if let Some(v) = &s.vs_twin {
        let _ = writeln!(
            h,
            "<tr><td>beats its twin? (permutation test)</td><td colspan=\"2\">Σ difference {:.2} pUSD over {} differing windows; p (better) = {:.4}, p (two-sided) = {:.4}; {} {} sign patterns</td></tr>",
            v.total_difference,
            v.differing_windows,
            v.p_value_greater,
            v.p_value_two_sided,
            if v.exact { "all" } else { "random" },
            v.permutations
        );
    }
    if let Some(b) = &s.baseline {
        let _ = writeln!(
            h,
            "<tr><td>twin orders copied / not sent</td><td colspan=\"2\">{} / {}</td></tr>",
            b.copied_orders, b.skipped_orders
        );
    }
    h.push_str("</table>\n");
}

fn range_line(summary: &Summary) -> String {
    let r = &summary.range;
    let first = r.first_event.as_deref().unwrap_or("no event");
    match (&r.from, &r.to) {
        (None, None) => format!(
            "Range: the whole recordings (no --from/--to): first event {}, end {}.",
            escape(first),
            escape(&r.end)
        ),
        (from, to) => format!(
            "Range: {} → {} (first event {}, end {}).",
            escape(from.as_deref().unwrap_or("start of the recordings")),
            escape(to.as_deref().unwrap_or("end of the recordings")),
            escape(first),
            escape(&r.end)
        ),
    }
}

/// Builds `report.html` for `bt` and its `summary`.
///
/// # Errors
/// [`HtmlError`] if the chart data cannot be serialized (not expected).
pub fn render(bt: &Backtest, summary: &Summary) -> Result<String, HtmlError> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>polyedge backtest</title><style>{UPLOT_CSS}</style><style>{STYLE}</style>\
<script>{UPLOT_JS}</script></head><body>\n<h1>polyedge backtest</h1>\n"
    );
    let d = &summary.data;
    let _ = writeln!(
        h,
        "<p class=\"muted\">{} windows, {} strategies, seed {}. {}</p>",
        d.windows,
        summary.strategies.len(),
        summary.seed,
        range_line(summary)
    );
    h.push_str("<nav><a href=\"#results\">Results</a><a href=\"#overview\">Charts</a>");
    for s in &summary.strategies {
        let _ = write!(
            h,
            "<a href=\"#s-{}\">{}</a>",
            slug_id(&s.name),
            escape(&s.name)
        );
    }
    h.push_str("<a href=\"#data\">Data &amp; caveats</a><a href=\"#conventions\">Conventions</a></nav>\n<noscript><p class=\"warn\">The charts need JavaScript; the tables below read without it.</p></noscript>\n");

    // 1. Results.
    h.push_str("<h2 id=\"results\">Results — each strategy above its random twin</h2>\n<table class=\"results\"><tr><th>strategy</th>\
<th>net PnL (pUSD)<br><small>95 % CI</small></th><th>return</th><th>Sharpe / window<br><small>95 % CI</small></th>\
<th>win rate (windows)<br><small>95 % CI</small></th><th>p (beats twin)</th><th>trades</th><th>fill</th><th>fees</th>\
<th>max DD<br><small>duration</small></th><th>VaR / CVaR 95 %<br><small>per traded window</small></th><th>losing streak</th><th>note</th></tr>\n");
    for (i, s) in summary.strategies.iter().enumerate() {
        results_row(
            &mut h,
            &s.name,
            &s.metrics,
            s.vs_twin.as_ref(),
            false,
            Some(plots::colour(i)),
        );
        if let Some(b) = &s.baseline {
            results_row(&mut h, "random twin", &b.metrics, None, true, None);
        }
    }
    h.push_str("</table>\n<p class=\"muted\"><small>95 % CI: circular block bootstrap over the run's windows (seeded). \
p (beats twin): one-sided paired permutation test of per-window PnL against the random twin — below 0.05 (green) the \
strategy beat its twin by more than luck would explain. Sharpe per window, not annualized. Max DD duration in windows \
(+ = not recovered). VaR/CVaR: historical, of the PnL of one traded window, loss positive. Definitions: Conventions below \
and docs/backtest.md.</small></p>\n");
    if let Some(a) = &summary.account {
        let _ = write!(
            h,
            "<h3 id=\"account\">One account: the capital split</h3>\n<p>The strategies share one account of {} pUSD \
(<code>engine.capital_split</code>): each trades its share of the cash and of the additive risk limits.</p>\n<table>\
<tr><th>strategy</th><th>share</th><th>start cash (pUSD)</th><th>net PnL (pUSD)</th><th>fees (pUSD)</th><th>part of the total PnL</th></tr>\n",
            a.start_cash
        );
        for p in &a.strategies {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td></tr>",
                escape(&p.name),
                escape(&p.share),
                p.start_cash,
                p.net_pnl,
                p.fees,
                p.pnl_share_pct
            );
        }
        let _ = writeln!(
            h,
            "<tr><th>total</th><th>{} allocated</th><th>{}</th><th>{}</th><th>{}</th><th>{:.2} % of the account</th></tr>\n</table>",
            a.allocated, a.start_cash, a.net_pnl, a.fees, a.return_pct
        );
    }

    // 2. Overview charts.
    let t0 = bt.main.first_event_ns.unwrap_or(UnixNanos(0));
    let traded: Vec<(usize, &StrategyResult)> = bt
        .main
        .strategies
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.fills.is_empty())
        .collect();
    let mut charts: Vec<Chart> = Vec::new();
    h.push_str("<h2 id=\"overview\">Charts</h2>\n");
    if traded.is_empty() {
        h.push_str("<p>No strategy traded in this run, so there is nothing to chart; the notes in the results table say why.</p>\n");
    } else {
        let quiet: Vec<&str> = bt
            .main
            .strategies
            .iter()
            .filter(|s| s.fills.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"muted\">Drag across a chart to zoom (double-click resets); hover for values; click a legend entry to hide or show its line.{}</p>",
            if quiet.is_empty() {
                String::new()
            } else {
                format!(" Not shown (no fills): {}.", escape(&quiet.join(", ")))
            }
        );
        h.push_str(
            "<div id=\"c-pnl\" class=\"chart\"></div>\n<div id=\"c-dd\" class=\"chart\"></div>\n",
        );
        charts.push(plots::cumulative_pnl("c-pnl", &traded, t0));
        charts.push(plots::drawdown("c-dd", &traded, t0));
    }

    // 3. Per strategy.
    for (i, s) in summary.strategies.iter().enumerate() {
        let id = slug_id(&s.name);
        let result = &bt.main.strategies[i];
        let twin = bt.baselines.as_ref().and_then(|b| b.strategies.get(i));
        let _ = writeln!(
            h,
            "<section class=\"strategy\" id=\"s-{id}\"><h2><span class=\"swatch\" style=\"background:{}\"></span>{}</h2>",
            plots::colour(i),
            escape(&s.name)
        );
        if result.fills.is_empty() {
            let _ = writeln!(
                h,
                "<p><b>No fills</b>: {}. No charts for it.</p>",
                escape(&no_trade_note(&s.metrics))
            );
            figure_table(&mut h, s);
            h.push_str("</section>\n");
            continue;
        }
        h.push_str("<div class=\"cols\"><div>");
        figure_table(&mut h, s);
        let _ = write!(
            h,
            "</div><div><div id=\"c-{id}-pnl\" class=\"chart\"></div><div id=\"c-{id}-win\" class=\"chart\"></div>"
        );
        charts.push(plots::strategy_vs_twin(
            &format!("c-{id}-pnl"),
            i,
            result,
            twin,
            t0,
        ));
        charts.push(plots::window_pnl(
            &format!("c-{id}-win"),
            i,
            result,
            twin,
            &bt.windows,
        ));
        let cal = &s.metrics.calibration;
        if cal.n > 0 {
            let _ = write!(h, "<div id=\"c-{id}-cal\" class=\"chart\"></div>");
            charts.push(plots::calibration(&format!("c-{id}-cal"), i, &s.name, cal));
            let _ = write!(
                h,
                "<p class=\"muted\"><small>Each filled order that carried a fair value, in a window with a known outcome, \
is a dot at its fair value (colour) and at its entry price (grey) against what happened (1 won, 0 lost; spread vertically). \
Black: frequency won per 0.1 bin of fair value. Brier {} (fair value) vs {} (entry price){}.</small></p>",
                f(cal.brier, 4),
                f(cal.brier_entry_price, 4),
                if cal.n < 30 {
                    format!(
                        "; with n = {} orders, read it as a list of cases, not a curve",
                        cal.n
                    )
                } else {
                    String::new()
                }
            );
        }
        h.push_str("</div></div></section>\n");
    }

    // 4. Data, caveats, conventions, parameters.
    h.push_str("<h2 id=\"data\">Data</h2>\n<table><tr><th>recording</th><th>written by</th><th>frames</th><th>windows</th></tr>\n");
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
    let by_src = d
        .windows_by_outcome_source
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        h,
        "<p>{} Seed {}. {} frames replayed, {} events, {} parse errors, {} torn tails, {} refused book events.</p>\n<p>{} windows in the run — by \
outcome source: {}. <b>{} windows have no known outcome</b> and are excluded from PnL; {} \
know only one token id (traded on its book and the mirror) and {} none (not tradable).</p>",
        range_line(summary),
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
    if !summary.counterfactuals.is_empty() {
        h.push_str(
            "<h2 id=\"counterfactuals\">Counterfactuals: signals not taken</h2>\n<p>What each strategy's skipped signals (it passed on a trade it had priced) and refused orders (risk check or venue) would have earned at resolution, per reason: one share at the signal's price held to the end, fees, queue and depth ignored — an upper bound per share, not a fill simulation. From <code>decisions.jsonl</code>.</p>\n<table>\n<tr><th>kind</th><th>strategy</th><th>reason</th><th>signals</th><th>resolved</th><th>won</th><th>PnL / share (mean)</th><th>PnL / share (sum)</th></tr>\n",
        );
        for c in &summary.counterfactuals {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td></tr>",
                escape(&c.kind),
                escape(&c.strategy),
                escape(&c.reason),
                c.signals,
                c.resolved,
                c.wins,
                c.pnl_per_share_mean,
                c.pnl_per_share_sum
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<div class=\"warn\"><b>Caveats</b><ul class=\"caveats\">\n");
    for c in &summary.caveats {
        let _ = writeln!(h, "<li>{}</li>", escape(c));
    }
    h.push_str("</ul></div>\n<h2 id=\"conventions\">Conventions</h2>\n<table>\n");
    for (k, v) in &summary.conventions {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td style=\"text-align:left;white-space:normal\">{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    h.push_str("</table>\n<h2>Parameters</h2>\n<table>\n");
    for s in &summary.strategies {
        let p = serde_json::to_string(&s.params).unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td style=\"text-align:left;white-space:normal\"><code>{}</code></td></tr>",
            escape(&s.name),
            escape(&p)
        );
    }
    let engine = serde_json::to_string(&summary.config.engine).unwrap_or_default();
    let _ = writeln!(
        h,
        "<tr><td>engine</td><td style=\"text-align:left;white-space:normal\"><code>{}</code></td></tr>\n</table>",
        escape(&engine)
    );
    let _ = write!(
        h,
        "<p class=\"muted\">Files beside this one: <code>summary.json</code> (every figure), <code>trades.csv</code>, \
<code>equity.csv</code>, <code>windows.csv</code>. Definitions: <code>docs/backtest.md</code>. Charts: uPlot {UPLOT_VERSION} \
(MIT licence, © Leon Sorokin), embedded.</p>\n<script type=\"application/json\" id=\"chart-data\">{}</script>\n<script>{SCRIPT}</script>\n</body></html>\n",
        json_for_script(&charts)?
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_a_script_block_cannot_close_it() {
        let s = json_for_script(&vec!["</script><!--x"]).unwrap_or_default();
        assert!(!s.contains('<'), "{s}");
        let back: Vec<String> = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back, vec!["</script><!--x".to_string()]);
        assert_eq!(escape("a<b>&\"c"), "a&lt;b&gt;&amp;&quot;c");
    }

    #[test]
    fn the_vendored_chart_library_is_inline_safe() {
        assert!(UPLOT_JS.starts_with("/*! https://github.com/leeoniya/uPlot (v1.6.32) */"));
        assert!(!UPLOT_JS.contains("</script"));
        assert!(!UPLOT_CSS.contains("</style"));
    }
}
