//! The summary table printed at the end of a run: one line per strategy and one per its random
//! twin, then the notes a reader must not miss (excluded windows, caveats' count, conventions).

use std::fmt::Write as _;

use crate::metrics::Metrics;
use crate::stats::VsTwin;
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

fn ci(v: Option<crate::stats::Interval>, digits: usize, scale: f64) -> String {
    v.map_or("-".to_string(), |i| {
        format!("[{:.digits$}, {:.digits$}]", i.lo * scale, i.hi * scale)
    })
}

/// The permutation p-value against the twin; `-` when there is none, or when the strategy and
/// its twin differ in no window (nothing traded: the test has nothing to say, and `1.000` would
/// read as "certainly no better").
fn pval(v: Option<&VsTwin>) -> String {
    v.filter(|t| t.differing_windows > 0)
        .map_or("-".to_string(), |t| format!("{:.3}", t.p_value_greater))
}

/// First table: performance with 95 % intervals and the test against the twin.
fn perf_row(label: &str, m: &Metrics, vs: Option<&VsTwin>) -> String {
    let u = &m.uncertainty;
    format!(
        "{label:<22} {:>9} {:>19} {:>8} {:>8} {:>17} {:>6} {:>15} {:>7} {:>6} {:>8}",
        money(m.net_pnl),
        ci(u.net_pnl, 2, 1.0),
        format!("{:.2}%", m.return_pct),
        opt(m.sharpe_per_window, 3),
        ci(u.sharpe_per_window, 3, 1.0),
        pct(m.win_rate_windows),
        ci(u.win_rate_windows, 0, 100.0),
        pval(vs),
        m.trades,
        money(m.fees_paid),
    )
}

/// Second table: execution, edge and risk.
fn risk_row(label: &str, m: &Metrics) -> String {
    let t = &m.tail_risk;
    format!(
        "{label:<22} {:>6} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>6} {:>6} {:>8}",
        pct(m.fill_ratio),
        edge(m.edge.avg_edge_at_entry.as_ref()),
        edge(m.edge.avg_realized_edge_all_fills.as_ref()),
        money(m.max_drawdown),
        format!(
            "{}{}",
            t.max_drawdown_duration_windows,
            if t.max_drawdown_unrecovered { "+" } else { "" }
        ),
        opt(t.var_95_window, 2),
        opt(t.cvar_95_window, 2),
        t.longest_losing_streak,
        opt(m.profit_factor, 2),
        money(m.rebates_estimated),
    )
}

/// The table for `summary`, ready to print.
pub fn render(summary: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<22} {:>9} {:>19} {:>8} {:>8} {:>17} {:>6} {:>15} {:>7} {:>6} {:>8}",
        "strategy",
        "net PnL",
        "95% CI",
        "return",
        "Sharpe/w",
        "95% CI",
        "win/w",
        "95% CI",
        "p>twin",
        "trades",
        "fees",
    );
    for s in &summary.strategies {
        o.push_str(&perf_row(&s.name, &s.metrics, s.vs_twin.as_ref()));
        o.push('\n');
        if let Some(b) = &s.baseline {
            o.push_str(&perf_row("  random twin", &b.metrics, None));
            o.push('\n');
        }
    }
    let _ = writeln!(
        o,
        "\n{:<22} {:>6} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>6} {:>6} {:>8}",
        "strategy",
        "fill",
        "edge@in",
        "edge@out",
        "max DD",
        "DD dur",
        "VaR95/w",
        "CVaR95/w",
        "lose",
        "PF",
        "rebate~",
    );
    for s in &summary.strategies {
        o.push_str(&risk_row(&s.name, &s.metrics));
        o.push('\n');
        if let Some(b) = &s.baseline {
            o.push_str(&risk_row("  random twin", &b.metrics));
            o.push('\n');
        }
    }
    if let Some(a) = &summary.account {
        let parts: Vec<String> = a
            .strategies
            .iter()
            .map(|s| {
                format!(
                    "{} {} ({} pUSD): net {}",
                    s.name, s.share, s.start_cash, s.net_pnl
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "\naccount (capital split, one set of limits): {}; total net PnL {} pUSD on {} pUSD ({:.2}%), fees {}",
            parts.join("; "),
            a.net_pnl,
            a.start_cash,
            a.return_pct,
            a.fees
        );
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
        "pUSD. 95% CI: block bootstrap over windows; p>twin: permutation test that the strategy beats its \
random twin (one-sided); Sharpe per window, not annualized; win/w = winning traded windows; fill = shares \
filled / submitted; edge = pUSD/share (fair value at entry, payout realized); DD dur = windows below the \
peak (+ = not recovered); VaR/CVaR 95% of a traded window's PnL (loss > 0); lose = longest losing streak \
(traded windows); rebates estimated, not in PnL."
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vs(differing_windows: u64, p: f64) -> VsTwin {
        VsTwin {
            test: "paired sign-flip permutation",
            differing_windows,
            total_difference: 0.0,
            mean_difference_per_window: 0.0,
            p_value_greater: p,
            p_value_two_sided: p,
            permutations: 0,
            exact: true,
        }
    }

    #[test]
    fn no_p_value_where_strategy_and_twin_never_differ() {
        assert_eq!(pval(None), "-");
        assert_eq!(pval(Some(&vs(0, 1.0))), "-", "nothing traded: no test");
        assert_eq!(pval(Some(&vs(3, 0.25))), "0.250");
    }
}
