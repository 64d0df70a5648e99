//! The daily summary of a run, sent through the alerts (Telegram, webhook) when the run's clock
//! passes the configured UTC time of day (`[alerts] daily_summary_utc`, default `"00:00"`):
//! per strategy the realized PnL, trades (fills), fees, windows won of windows settled, and for
//! the run the breaker events and data gaps of the period. The period is the 24 hours before the
//! boundary (from the run's start for the first summary). Computed on the engine thread, on the
//! engine's clock: a run following a sandbox gets its summaries on the recording's time axis.

use polyedge_core::{Cash, UnixNanos};
use polyedge_engine::Engine;
use polyedge_ops::Alerter;

const NS_PER_SEC: u64 = 1_000_000_000;
const NS_PER_DAY: u64 = 86_400 * NS_PER_SEC;

/// Parses `HH:MM` into seconds after midnight.
///
/// # Errors
/// Not `HH:MM` with HH < 24 and MM < 60.
pub fn parse_time_of_day(s: &str) -> Result<u64, String> {
    let bad =
        || format!("alerts.daily_summary_utc = \"{s}\": expected HH:MM (UTC), e.g. \"00:00\"");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let h: u64 = h.parse().map_err(|_| bad())?;
    let m: u64 = m.parse().map_err(|_| bad())?;
    if h >= 24 || m >= 60 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// The summary's state.
#[derive(Debug)]
pub struct DailySummary {
    alerter: Alerter,
    time_of_day_ns: u64,
    /// The next boundary (ns since epoch), once the clock is known.
    next: Option<u64>,
    /// The period's start (the previous boundary, or the run's first time).
    start: u64,
    /// Realized PnL per lane at the period's start and at the last input before the boundary.
    realized_start: Vec<Cash>,
    realized_last: Vec<Cash>,
    gaps: u64,
}

impl DailySummary {
    /// A summary at `time_of_day_secs` after 00:00 UTC, sent through `alerter`.
    pub fn new(alerter: Alerter, time_of_day_secs: u64) -> Self {
        DailySummary {
            alerter,
            time_of_day_ns: time_of_day_secs * NS_PER_SEC,
            next: None,
            start: 0,
            realized_start: Vec::new(),
            realized_last: Vec::new(),
            gaps: 0,
        }
    }

    /// A data gap was recorded.
    pub fn gap(&mut self) {
        self.gaps += 1;
    }

    fn realized(engine: &Engine) -> Vec<Cash> {
        let mut v = Vec::new();
        Self::realized_into(engine, &mut v);
        v
    }

    /// Realized PnL per lane into `v`, reusing its allocation (this runs after every input).
    fn realized_into(engine: &Engine, v: &mut Vec<Cash>) {
        v.clear();
        v.extend((0..engine.lanes()).map(|k| {
            engine
                .portfolio(k)
                .map_or(Cash::ZERO, polyedge_engine::Portfolio::realized_pnl)
        }));
    }

    /// After each input: sends the summary when the engine's clock has passed the boundary.
    pub fn check(&mut self, engine: &Engine) {
        let now = engine.now().0;
        if now == 0 {
            return;
        }
        let next = *self.next.get_or_insert_with(|| {
            self.start = now;
            self.realized_start = Self::realized(engine);
            let day = now / NS_PER_DAY * NS_PER_DAY;
            let b = day + self.time_of_day_ns;
            if b > now { b } else { b + NS_PER_DAY }
        });
        if now < next {
            Self::realized_into(engine, &mut self.realized_last);
            return;
        }
        let text = self.text(engine, next);
        let key = format!("daily:{}", UnixNanos(next).to_rfc3339());
        self.alerter.notify(&key, &text);
        self.start = next;
        self.realized_start = std::mem::take(&mut self.realized_last);
        self.gaps = 0;
        let mut n = next + NS_PER_DAY;
        while n <= now {
            n += NS_PER_DAY;
        }
        self.next = Some(n);
        self.realized_last = Self::realized(engine);
    }

    fn text(&self, engine: &Engine, end: u64) -> String {
        let start = self.start;
        let in_period = |t: UnixNanos| t.0 >= start && t.0 < end;
        let mut lines = vec![format!(
            "daily summary {} → {}",
            UnixNanos(start).to_rfc3339(),
            UnixNanos(end).to_rfc3339()
        )];
        let mut total = Cash::ZERO;
        let mut trades = 0usize;
        let mut breaker_events = Vec::new();
        for k in 0..engine.lanes() {
            let name = engine.strategy_name(k).unwrap_or_default();
            let Some(p) = engine.portfolio(k) else {
                continue;
            };
            let pnl_end = self
                .realized_last
                .get(k)
                .copied()
                .unwrap_or_else(|| p.realized_pnl());
            let pnl_start = self.realized_start.get(k).copied().unwrap_or(Cash::ZERO);
            let pnl = pnl_end - pnl_start;
            total += pnl;
            let fills: Vec<_> = engine.fills(k).iter().filter(|f| in_period(f.at)).collect();
            trades += fills.len();
            let fees = fills.iter().fold(Cash::ZERO, |a, f| a + f.fee);
            let settled: Vec<_> = engine
                .equity(k)
                .iter()
                .filter(|e| in_period(e.at))
                .collect();
            let won = settled
                .iter()
                .filter(|e| p.window_pnl(&e.window).micros() > 0)
                .count();
            let win_rate = if settled.is_empty() {
                "–".to_string()
            } else {
                format!("{:.0} %", 100.0 * won as f64 / settled.len() as f64)
            };
            lines.push(format!(
                "{name}: PnL {pnl} pUSD, {} trades, fees {} pUSD, windows won {won}/{} ({win_rate})",
                fills.len(),
                fees,
                settled.len()
            ));
            if let Some(b) = engine.breakers(k) {
                for t in b.trips().iter().filter(|t| in_period(t.since)) {
                    breaker_events.push(format!("{name} {}", t.breaker.name()));
                }
            }
        }
        lines.push(format!(
            "total: PnL {total} pUSD, {trades} trades; breaker events {}{}; data gaps {}",
            breaker_events.len(),
            if breaker_events.is_empty() {
                String::new()
            } else {
                format!(" ({})", breaker_events.join(", "))
            },
            self.gaps
        ));
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_and_bad_ones_are_named() {
        assert_eq!(parse_time_of_day("00:00"), Ok(0));
        assert_eq!(parse_time_of_day("13:05"), Ok(13 * 3600 + 5 * 60));
        for bad in ["24:00", "12:60", "noon", "12", ""] {
            let e = parse_time_of_day(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("HH:MM"), "{e}");
        }
    }
}
