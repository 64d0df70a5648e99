//! The summary table printed at the end of a run: one line per strategy and one per its random
//! twin, then the notes a reader must not miss (excluded windows, caveats' count, conventions).

use std::fmt::Write as _;

use crate::metrics::Metrics;
use crate::summary::Summary;

fn money(c: polyedge_core::Cash) -> String {
    format!("{:.2}", c.to_f64())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".to_string(), |x| format!("{x:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0))
}

fn edge(v: Option<&String>) -> String {
    v.and_then(|s| s.parse::<f64>().ok())
        .map_or("-".to_string(), |x| format!("{x:.4}"))
}

fn row(label: &str, m: &Metrics) -> String {
    format!(
        "{label:<28} {:>10} {:>8} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>6}",
        money(m.net_pnl),
        money(m.fees_paid),
        money(m.rebates_estimated),
        m.trades,
        pct(m.fill_ratio),
        pct(m.win_rate_windows),
        edge(m.edge.avg_edge_at_entry.as_ref()),
        edge(m.edge.avg_realized_edge_all_fills.as_ref()),
        opt(m.sharpe_per_window, 4),
        money(m.max_drawdown),
        opt(m.profit_factor, 2),
    )
}

/// The table for `summary`, ready to print.
pub fn render(summary: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<28} {:>10} {:>8} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "strategy",
        "net PnL",
        "fees",
        "rebate~",
        "trades",
        "fill",
        "win/w",
        "edge@in",
        "edge@out",
        "Sharpe/w",
        "max DD",
        "PF"
    );
    for s in &summary.strategies {
        o.push_str(&row(&s.name, &s.metrics));
        o.push('\n');
        if let Some(b) = &s.baseline {
            o.push_str(&row("  random twin", &b.metrics));
            o.push('\n');
        }
    }
    let d = &summary.data;
    let _ = writeln!(
        o,
        "\n{} windows ({}); {} without a known outcome (excluded from PnL). {} frames, {} parse errors.",
        d.windows,
        d.windows_by_outcome_source
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        d.windows_without_outcome,
        d.replay.frames,
        d.replay.parse_errors,
    );
    let _ = writeln!(
        o,
        "pUSD. fill = shares filled / submitted; win/w = winning traded windows; edge = pUSD/share \
(fair value at entry, payout realized); Sharpe per window, not annualized; rebates estimated, not in PnL."
    );
    let _ = writeln!(
        o,
        "{} data caveats apply (see report.html / summary.json).",
        summary.caveats.len()
    );
    o.push_str(&activity(summary));
    for w in &summary.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    o
}

/// Per strategy: orders sent and refused by the risk checks (apart from fills), and for a
/// strategy that sent none, why (its skip reasons, most frequent first).
fn activity(summary: &Summary) -> String {
    let mut o = String::new();
    for s in &summary.strategies {
        let m = &s.metrics;
        let _ = write!(
            o,
            "{}: {} orders, {} refused (risk or venue)",
            s.name, m.orders, m.orders_rejected
        );
        if !m.rejections.is_empty() {
            let r: Vec<String> = m
                .rejections
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = write!(o, " ({})", r.join(", "));
        }
        if s.activity.merges > 0 {
            let _ = write!(
                o,
                "; {} merges ({} sets)",
                s.activity.merges, s.activity.merged_shares
            );
        }
        if m.orders == 0 {
            let mut skips: Vec<(&String, &u64)> = s.activity.skips.iter().collect();
            skips.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            if skips.is_empty() {
                o.push_str("; no skip reason reported");
            } else {
                let r: Vec<String> = skips.iter().map(|(k, v)| format!("{k} {v}")).collect();
                let _ = write!(o, "; no order because: {}", r.join(", "));
            }
        }
        o.push('\n');
    }
    o
}
