//! The report's plots as SVG strings (plotters' SVG backend; no fonts or files needed — text is
//! SVG `<text>` rendered by the browser).
//!
//! * [`equity`] — realized equity of every strategy (solid) and its random twin (faded), by
//!   hours since the first event;
//! * [`drawdown`] — the fall of realized equity from its running peak, same axes;
//! * [`window_pnl`] — PnL per window of one strategy (bars) and of its twin (dots), by window
//!   number in start order;
//! * [`calibration`] — fair value at entry vs the frequency the token won, per reliability bin,
//!   per strategy that gives fair values, with the diagonal of perfect calibration.

use plotters::coord::Shift;
use plotters::prelude::*;
use polyedge_core::{Cash, UnixNanos};
use polyedge_engine::StrategyResult;

use crate::metrics::Calibration;

/// Width and height of every plot, pixels.
pub const SIZE: (u32, u32) = (920, 340);

/// Why a plot could not be drawn (plotters' error, as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plot {plot}: {message}")]
pub struct PlotError {
    /// Which plot.
    pub plot: String,
    /// What went wrong.
    pub message: String,
}

fn perr<E: std::fmt::Debug>(plot: &str) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError {
        plot: plot.to_string(),
        message: format!("{e:?}"),
    }
}

/// A series to plot: name, color, faded (baseline) or not, and its points.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Palette index.
    pub color: usize,
    /// Drawn faded and thin (the random twins).
    pub faded: bool,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

fn style(color: usize, faded: bool) -> ShapeStyle {
    let c = Palette99::pick(color);
    if faded {
        c.mix(0.35).stroke_width(1)
    } else {
        c.stroke_width(2)
    }
}

/// A `(lo, hi)` range covering `values` and `extra`, never empty, padded by 5 %.
fn span(values: impl Iterator<Item = f64>, extra: &[f64]) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.chain(extra.iter().copied()) {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn hours(at: UnixNanos, t0: UnixNanos) -> f64 {
    (at.0.saturating_sub(t0.0)) as f64 / 3.6e12
}

/// Realized equity of `s` as a step line (start, then a step at each settlement), x in hours
/// since `t0`, y in pUSD.
pub fn equity_points(s: &StrategyResult, t0: UnixNanos) -> Vec<(f64, f64)> {
    let mut v = vec![(0.0, s.start_cash.to_f64())];
    for p in &s.equity {
        let x = hours(p.at, t0);
        let prev = v.last().map_or(0.0, |l| l.1);
        v.push((x, prev));
        v.push((x, (s.start_cash + p.realized_pnl).to_f64()));
    }
    v
}

/// Drawdown of `s` as a step line (≤ 0: pUSD below the running peak of realized equity), x in
/// hours since `t0`.
pub fn drawdown_points(s: &StrategyResult, t0: UnixNanos) -> Vec<(f64, f64)> {
    let mut peak = s.start_cash;
    let mut v = vec![(0.0, 0.0)];
    for p in &s.equity {
        let eq = s.start_cash + p.realized_pnl;
        peak = peak.max(eq);
        let x = hours(p.at, t0);
        let prev = v.last().map_or(0.0, |l| l.1);
        v.push((x, prev));
        v.push((x, -(peak - eq).to_f64()));
    }
    v
}

fn lines(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    y_desc: &str,
    series: &[Series],
    extra_y: &[f64],
) -> Result<(), PlotError> {
    let e = perr(title);
    root.fill(&WHITE).map_err(&e)?;
    let (x0, x1) = span(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        &[0.0],
    );
    let (y0, y1) = span(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        extra_y,
    );
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(x0.max(0.0)..x1, y0..y1)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .x_desc("hours since the first event")
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(&e)?;
    for s in series {
        let st = style(s.color, s.faded);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), st))
            .map_err(&e)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], st));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(())
}

fn svg<F>(draw: F) -> Result<String, PlotError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root)?;
    }
    Ok(out)
}

/// The equity plot.
///
/// # Errors
/// [`PlotError`] from plotters.
pub fn equity(series: &[Series], start_cash: Cash) -> Result<String, PlotError> {
    svg(|root| {
        lines(
            root,
            "Realized equity (start cash + realized PnL)",
            "pUSD",
            series,
            &[start_cash.to_f64()],
        )
    })
}

/// The drawdown plot.
///
/// # Errors
/// [`PlotError`] from plotters.
pub fn drawdown(series: &[Series]) -> Result<String, PlotError> {
    svg(|root| {
        lines(
            root,
            "Drawdown of realized equity from its running peak",
            "pUSD",
            series,
            &[0.0],
        )
    })
}

/// PnL per window of one strategy (`pnl`, bars) and its twin (`twin`, dots), by window number.
///
/// # Errors
/// [`PlotError`] from plotters.
pub fn window_pnl(
    name: &str,
    color: usize,
    pnl: &[f64],
    twin: Option<&[f64]>,
) -> Result<String, PlotError> {
    let title = format!("PnL per window: {name} (bars) and its random twin (dots)");
    svg(|root| {
        let e = perr(&title);
        root.fill(&WHITE).map_err(&e)?;
        let n = pnl.len().max(1) as f64;
        let (y0, y1) = span(
            pnl.iter()
                .copied()
                .chain(twin.unwrap_or(&[]).iter().copied()),
            &[0.0],
        );
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("window (start order)")
            .y_desc("pUSD")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&e)?;
        let c = Palette99::pick(color);
        chart
            .draw_series(pnl.iter().enumerate().map(|(i, v)| {
                let x = i as f64;
                Rectangle::new([(x - 0.4, 0.0), (x + 0.4, *v)], c.filled())
            }))
            .map_err(&e)?;
        if let Some(t) = twin {
            chart
                .draw_series(
                    t.iter()
                        .enumerate()
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(i, v)| Circle::new((i as f64, *v), 2, BLACK.mix(0.6).filled())),
                )
                .map_err(&e)?;
        }
        root.present().map_err(&e)?;
        Ok(())
    })
}

/// The reliability plot of the strategies with fair values: `(name, palette index, calibration)`.
///
/// # Errors
/// [`PlotError`] from plotters.
pub fn calibration(items: &[(String, usize, &Calibration)]) -> Result<String, PlotError> {
    let title = "Fair value at entry vs outcome (reliability; dot area ~ orders)";
    svg(|root| {
        let e = perr(title);
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("mean fair value in bin")
            .y_desc("fraction that won")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&e)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(&e)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
        for (name, color, cal) in items {
            let c = Palette99::pick(*color);
            let total = cal.n.max(1) as f64;
            let pts: Vec<(f64, f64, u64)> = cal
                .bins
                .iter()
                .filter_map(|b| Some((b.mean_fair_value?, b.frequency?, b.n)))
                .collect();
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(1),
                ))
                .map_err(&e)?;
            chart
                .draw_series(pts.iter().map(|p| {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let r = (3.0 + 12.0 * (p.2 as f64 / total).sqrt()) as i32;
                    Circle::new((p.0, p.1), r, c.filled())
                }))
                .map_err(&e)?
                .label(format!(
                    "{name} (n = {}, Brier {})",
                    cal.n,
                    cal.brier.map_or("-".to_string(), |b| format!("{b:.4}"))
                ))
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(&e)?;
        root.present().map_err(&e)?;
        Ok(())
    })
}
