//! The report's CSV files: `trades.csv`, `equity.csv`, `windows.csv` (columns in
//! `docs/backtest.md`). Money and prices are exact decimal strings; times are both nanoseconds
//! since the epoch and RFC 3339 UTC. Strategies come in run order, their random twins
//! (`baseline:<name>`) after them.

use std::collections::BTreeMap;
use std::io::Write;

use polyedge_core::{Cash, OrderId, Window};
use polyedge_engine::{RunResult, StrategyResult};

use crate::metrics::{FillEdge, per_share};
use crate::runner::{Backtest, source_name};

fn all_results(bt: &Backtest) -> Vec<&StrategyResult> {
    let mut v: Vec<&StrategyResult> = bt.main.strategies.iter().collect();
    if let Some(b) = &bt.baselines {
        v.extend(b.strategies.iter());
    }
    v
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes `trades.csv`: one row per fill.
///
/// # Errors
/// Write errors.
pub fn write_trades<W: Write>(bt: &Backtest, out: W) -> csv::Result<()> {
    let by_slug: BTreeMap<&str, &Window> =
        bt.windows.iter().map(|w| (w.slug.as_str(), w)).collect();
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "strategy",
        "order_id",
        "window",
        "outcome",
        "side",
        "liquidity",
        "price",
        "shares",
        "notional",
        "fee",
        "at_ns",
        "at_utc",
        "decided_at_ns",
        "fair_value",
        "edge_at_entry_per_share",
        "window_outcome",
        "outcome_source",
        "payout_per_share",
        "realized_edge_per_share",
    ])?;
    for s in all_results(bt) {
        let orders: BTreeMap<OrderId, _> = s.orders.iter().map(|o| (o.intent.id, o)).collect();
        for f in &s.fills {
            let win = by_slug.get(f.window.as_str());
            let outcome = win.and_then(|w| w.outcome);
            let order = orders.get(&f.order);
            let fv = order.and_then(|o| o.fair_value);
            let e = FillEdge::of(f, fv, outcome);
            w.write_record([
                s.name.clone(),
                f.order.0.to_string(),
                f.window.clone(),
                f.outcome.to_string(),
                f.side.name().to_string(),
                f.liquidity.name().to_string(),
                f.price.to_string(),
                f.size.to_string(),
                f.price.notional(f.size).to_string(),
                f.fee.to_string(),
                f.at.0.to_string(),
                f.at.to_rfc3339(),
                opt(order.map(|o| o.decided_at.0)),
                opt(fv),
                opt(e.entry_e12.and_then(|x| per_share(x, f.size))),
                opt(outcome),
                win.map(|w| source_name(w).to_string()).unwrap_or_default(),
                opt(e.payout),
                opt(e.realized_e12.and_then(|x| per_share(x, f.size))),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes `equity.csv`: per strategy, a start row, then one row after each settlement of a
/// window it traded.
///
/// # Errors
/// Write errors.
pub fn write_equity<W: Write>(bt: &Backtest, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "strategy",
        "at_ns",
        "at_utc",
        "window",
        "cash",
        "open_cost",
        "unsettled_cost",
        "realized_pnl",
        "equity",
        "drawdown",
    ])?;
    for (s, run) in all_results(bt).into_iter().zip(runs(bt)) {
        let start_at = run.first_event_ns.unwrap_or(run.end_ns);
        w.write_record([
            s.name.clone(),
            start_at.0.to_string(),
            start_at.to_rfc3339(),
            String::new(),
            s.start_cash.to_string(),
            "0".into(),
            "0".into(),
            "0".into(),
            s.start_cash.to_string(),
            "0".into(),
        ])?;
        let mut peak = s.start_cash;
        for p in &s.equity {
            let eq = s.start_cash + p.realized_pnl;
            peak = peak.max(eq);
            w.write_record([
                s.name.clone(),
                p.at.0.to_string(),
                p.at.to_rfc3339(),
                p.window.clone(),
                p.cash.to_string(),
                p.open_cost.to_string(),
                p.unsettled_cost.to_string(),
                p.realized_pnl.to_string(),
                eq.to_string(),
                (peak - eq).to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The run each result of [`all_results`] belongs to.
fn runs(bt: &Backtest) -> Vec<&RunResult> {
    let mut v: Vec<&RunResult> = bt.main.strategies.iter().map(|_| &bt.main).collect();
    if let Some(b) = &bt.baselines {
        v.extend(b.strategies.iter().map(|_| b));
    }
    v
}

/// Writes `windows.csv`: one row per window of the run with its outcome and each strategy's
/// (then each twin's) PnL in it (0 when it did not trade it).
///
/// # Errors
/// Write errors.
pub fn write_windows<W: Write>(bt: &Backtest, out: W) -> csv::Result<()> {
    let results = all_results(bt);
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "slug",
        "start_ns",
        "start_utc",
        "end_utc",
        "outcome",
        "outcome_source",
        "strike",
        "final_price",
        "tokens",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    header.extend(results.iter().map(|s| format!("pnl:{}", s.name)));
    w.write_record(&header)?;
    for win in &bt.windows {
        let mut row = vec![
            win.slug.clone(),
            win.start.0.to_string(),
            win.start.to_rfc3339(),
            win.end.to_rfc3339(),
            opt(win.outcome),
            source_name(win).to_string(),
            opt(win.strike),
            opt(win.final_price),
            match (win.up_token.is_some(), win.down_token.is_some()) {
                (true, true) => "both",
                (true, false) => "up_only",
                (false, true) => "down_only",
                (false, false) => "none",
            }
            .to_string(),
        ];
        row.extend(results.iter().map(|s| {
            s.window_pnl
                .get(&win.slug)
                .copied()
                .unwrap_or(Cash::ZERO)
                .to_string()
        }));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
