//! The report's charts as data: each [`Chart`] is serialized into `report.html` and drawn in the
//! browser by uPlot (vendored, `assets/uplot`), which gives zoom (drag across the plot; double
//! click resets) and the values under the cursor in the legend (click a legend entry to hide or
//! show a line). Everything a chart shows is computed here, so the page's script only hands it to
//! uPlot.
//!
//! * [`cumulative_pnl`] — realized PnL since the start (step line, one step per settlement of a
//!   traded window) of every strategy that traded, in distinct colours and dash patterns; twins
//!   in the strategy's own section. PnL rather than equity: the lines start together at 0 and
//!   each strategy's scale stays readable.
//! * [`drawdown`] — the fall of realized equity from its running peak, same series;
//! * [`window_pnl`] — PnL per window of one strategy (bars) and its twin (dots), by window
//!   number in start order (the legend shows the window's slug);
//! * [`calibration`] — every filled order with a fair value: its fair value against the outcome
//!   (won = 1, lost = 0, spread vertically so they do not cover one another), the same for the
//!   market's price at entry, and both forecasters' bin frequencies with the diagonal of perfect
//!   calibration. On a small sample the individual orders stay visible, which a binned curve of
//!   two dots did not show.

use polyedge_core::{Cash, UnixNanos, Window};
use polyedge_engine::StrategyResult;
use serde::Serialize;

use crate::metrics::Calibration;

/// Strategy colours (Tableau 10), by run position.
pub const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Dash patterns, by run position (so lines of equal colour blindness stay apart).
const DASHES: &[&[f64]] = &[
    &[],
    &[8.0, 4.0],
    &[2.0, 3.0],
    &[10.0, 3.0, 2.0, 3.0],
    &[5.0, 5.0],
];

/// The colour of the strategy at run position `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Straight segments.
    Line,
    /// Steps (the value holds until the next point).
    Step,
    /// Bars from 0.
    Bars,
    /// Points only.
    Points,
}

/// One series of a chart: a value (or none) at every x of the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartSeries {
    /// Legend label.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// Dash pattern (empty: solid).
    pub dash: Vec<f64>,
    /// Line width, px.
    pub width: f64,
    /// How it is drawn.
    pub kind: Kind,
    /// Point size, px (points and bars' hover markers).
    pub point_size: f64,
    /// Decimals in the legend.
    pub digits: usize,
    /// One value per x (`None`: no point there).
    pub values: Vec<Option<f64>>,
}

/// A chart for uPlot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// Element id in the page.
    pub id: String,
    /// Title.
    pub title: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// x is unix seconds (shown as UTC times).
    pub x_time: bool,
    /// The x values, ascending.
    pub x: Vec<f64>,
    /// Names shown for x in the legend (x is then an index into them).
    pub x_names: Option<Vec<String>>,
    /// Fixed x range.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range.
    pub y_range: Option<(f64, f64)>,
    /// Height, px.
    pub height: u32,
    /// The series.
    pub series: Vec<ChartSeries>,
}

fn secs(t: UnixNanos) -> f64 {
    t.0 as f64 / 1e9
}

/// `(time s, cumulative realized PnL)` of `s`: `(t0, 0)`, then one point per settlement.
pub fn pnl_points(s: &StrategyResult, t0: UnixNanos) -> Vec<(f64, f64)> {
    let mut v = vec![(secs(t0), 0.0)];
    v.extend(
        s.equity
            .iter()
            .map(|p| (secs(p.at), p.realized_pnl.to_f64())),
    );
    v
}

/// `(time s, −drawdown)` of `s` (≤ 0: pUSD below the running peak of realized equity).
pub fn drawdown_points(s: &StrategyResult, t0: UnixNanos) -> Vec<(f64, f64)> {
    let mut peak = Cash::ZERO;
    let mut v = vec![(secs(t0), 0.0)];
    for p in &s.equity {
        peak = peak.max(p.realized_pnl);
        v.push((secs(p.at), -(peak - p.realized_pnl).to_f64()));
    }
    v
}

/// Aligns point series on the union of their x values (ascending): each series gets its value
/// at its own x and `None` elsewhere.
pub fn align(series: &[Vec<(f64, f64)>]) -> (Vec<f64>, Vec<Vec<Option<f64>>>) {
    let mut x: Vec<f64> = series.iter().flatten().map(|p| p.0).collect();
    x.sort_by(f64::total_cmp);
    x.dedup();
    let cols = series
        .iter()
        .map(|s| {
            let mut col = vec![None; x.len()];
            for &(px, py) in s {
                if let Ok(i) = x.binary_search_by(|v| v.total_cmp(&px)) {
                    // A later point at the same x wins (the value after the step).
                    col[i] = Some(py);
                }
            }
            col
        })
        .collect();
    (x, cols)
}

fn series(
    label: &str,
    color: &str,
    dash: &[f64],
    kind: Kind,
    values: Vec<Option<f64>>,
) -> ChartSeries {
    ChartSeries {
        label: label.to_string(),
        color: color.to_string(),
        dash: dash.to_vec(),
        width: 2.0,
        kind,
        point_size: 5.0,
        digits: 2,
        values,
    }
}

/// One strategy's line: `(name, run position, points)`.
pub type Line<'a> = (&'a str, usize, Vec<(f64, f64)>);

/// A step chart of several strategies' lines (distinct colour and dash per run position).
pub fn step_chart(id: &str, title: &str, y_label: &str, lines: &[Line<'_>]) -> Chart {
    let pts: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| l.2.clone()).collect();
    let (x, cols) = align(&pts);
    Chart {
        id: id.to_string(),
        title: title.to_string(),
        x_label: "time (UTC)".into(),
        y_label: y_label.to_string(),
        x_time: true,
        x,
        x_names: None,
        x_range: None,
        y_range: None,
        height: 300,
        series: lines
            .iter()
            .zip(cols)
            .map(|((name, i, _), col)| {
                series(name, colour(*i), DASHES[i % DASHES.len()], Kind::Step, col)
            })
            .collect(),
    }
}

/// Cumulative realized PnL of the strategies that traded (`results` with their run positions).
pub fn cumulative_pnl(id: &str, results: &[(usize, &StrategyResult)], t0: UnixNanos) -> Chart {
    let lines: Vec<Line<'_>> = results
        .iter()
        .map(|(i, s)| (s.name.as_str(), *i, pnl_points(s, t0)))
        .collect();
    step_chart(id, "Cumulative realized PnL", "pUSD", &lines)
}

/// Drawdown of the strategies that traded.
pub fn drawdown(id: &str, results: &[(usize, &StrategyResult)], t0: UnixNanos) -> Chart {
    let lines: Vec<Line<'_>> = results
        .iter()
        .map(|(i, s)| (s.name.as_str(), *i, drawdown_points(s, t0)))
        .collect();
    step_chart(
        id,
        "Drawdown of realized equity from its running peak",
        "pUSD",
        &lines,
    )
}

/// One strategy's cumulative PnL beside its twin's (dashed, grey).
pub fn strategy_vs_twin(
    id: &str,
    pos: usize,
    s: &StrategyResult,
    twin: Option<&StrategyResult>,
    t0: UnixNanos,
) -> Chart {
    let mut pts = vec![pnl_points(s, t0)];
    if let Some(t) = twin {
        pts.push(pnl_points(t, t0));
    }
    let (x, mut cols) = align(&pts);
    let mut out = vec![series(
        &s.name,
        colour(pos),
        &[],
        Kind::Step,
        cols.remove(0),
    )];
    if twin.is_some() {
        out.push(series(
            &format!("{} (random twin)", s.name),
            "#888888",
            &[6.0, 4.0],
            Kind::Step,
            cols.remove(0),
        ));
    }
    Chart {
        id: id.to_string(),
        title: format!("{}: cumulative realized PnL vs its random twin", s.name),
        x_label: "time (UTC)".into(),
        y_label: "pUSD".into(),
        x_time: true,
        x,
        x_names: None,
        x_range: None,
        y_range: None,
        height: 280,
        series: out,
    }
}

/// PnL per window of `s` (bars, windows it traded) and its twin (dots).
pub fn window_pnl(
    id: &str,
    pos: usize,
    s: &StrategyResult,
    twin: Option<&StrategyResult>,
    windows: &[Window],
) -> Chart {
    let per = |r: &StrategyResult| -> Vec<Option<f64>> {
        windows
            .iter()
            .map(|w| r.window_pnl.get(&w.slug).map(|c| c.to_f64()))
            .collect()
    };
    let mut out = vec![series(&s.name, colour(pos), &[], Kind::Bars, per(s))];
    if let Some(t) = twin {
        let mut d = series(
            &format!("{} (random twin)", s.name),
            "#444444",
            &[],
            Kind::Points,
            per(t),
        );
        d.point_size = 6.0;
        out.push(d);
    }
    let n = windows.len() as f64;
    Chart {
        id: id.to_string(),
        title: format!(
            "{}: PnL per window (bars) and its random twin's (dots)",
            s.name
        ),
        x_label: "window".into(),
        y_label: "pUSD".into(),
        x_time: false,
        x: (0..windows.len()).map(|i| i as f64).collect(),
        x_names: Some(windows.iter().map(|w| w.slug.clone()).collect()),
        x_range: Some((-0.5, n - 0.5)),
        y_range: None,
        height: 240,
        series: out,
    }
}

/// The calibration chart of one strategy (module docs).
pub fn calibration(id: &str, pos: usize, name: &str, cal: &Calibration) -> Chart {
    let n = cal.points.len().max(1) as f64;
    // Spread the 0/1 outcomes vertically by order, and keep x unique with a tiny offset.
    let spread = |k: usize| 0.06 * ((k as f64 + 0.5) / n - 0.5);
    let tiny = |k: usize| 1e-7 * k as f64;
    let model: Vec<(f64, f64)> = cal
        .points
        .iter()
        .enumerate()
        .map(|(k, (p, won))| (p.to_f64() + tiny(k), f64::from(u8::from(*won)) + spread(k)))
        .collect();
    let market: Vec<(f64, f64)> = cal
        .points
        .iter()
        .zip(&cal.entry_prices)
        .enumerate()
        .map(|(k, ((_, won), price))| {
            (
                price + tiny(k) + 5e-8,
                f64::from(u8::from(*won)) - spread(k),
            )
        })
        .collect();
    let bins: Vec<(f64, f64)> = cal
        .bins
        .iter()
        .filter_map(|b| Some((b.mean_fair_value? + 3e-8, b.frequency?)))
        .collect();
    let diag = vec![(0.0, 0.0), (1.0, 1.0)];
    let (x, mut cols) = align(&[diag, model, market, bins]);
    let diag_col: Vec<Option<f64>> = x.iter().map(|v| Some(*v)).collect();
    let _ = cols.remove(0);
    let mut d = series(
        "perfect calibration",
        "#bbbbbb",
        &[4.0, 4.0],
        Kind::Line,
        diag_col,
    );
    d.width = 1.0;
    let mut m = series(
        "order: fair value vs outcome (1 won, 0 lost)",
        colour(pos),
        &[],
        Kind::Points,
        cols.remove(0),
    );
    m.digits = 3;
    let mut k = series(
        "order: entry price vs outcome",
        "#999999",
        &[],
        Kind::Points,
        cols.remove(0),
    );
    k.digits = 3;
    k.point_size = 4.0;
    let mut b = series(
        "fair value: frequency won per 0.1 bin",
        "#222222",
        &[],
        Kind::Points,
        cols.remove(0),
    );
    b.point_size = 10.0;
    b.digits = 3;
    Chart {
        id: id.to_string(),
        title: format!(
            "{name}: calibration of the fair value at entry (n = {}, Brier {} vs entry price {})",
            cal.n,
            cal.brier.map_or("–".into(), |v| format!("{v:.4}")),
            cal.brier_entry_price
                .map_or("–".into(), |v| format!("{v:.4}"))
        ),
        x_label: "probability the token wins (fair value, or price)".into(),
        y_label: "outcome / frequency".into(),
        x_time: false,
        x,
        x_names: None,
        x_range: Some((0.0, 1.0)),
        y_range: Some((-0.1, 1.1)),
        height: 300,
        series: vec![d, m, k, b],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_puts_each_value_at_its_own_x() {
        let (x, cols) = align(&[vec![(0.0, 1.0), (2.0, 3.0)], vec![(1.0, 5.0), (2.0, 6.0)]]);
        assert_eq!(x, vec![0.0, 1.0, 2.0]);
        assert_eq!(cols[0], vec![Some(1.0), None, Some(3.0)]);
        assert_eq!(cols[1], vec![None, Some(5.0), Some(6.0)]);
    }
}
