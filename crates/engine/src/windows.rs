//! Windows as they happen: turning what a driver learns about windows into engine inputs.
//!
//! * [`WindowTracker`] diffs successive versions of a window — a recorder's window records in
//!   replay ([`EventKind::WindowUpdate`](polyedge_core::EventKind::WindowUpdate)), discovery's
//!   updates live — into [`Input::WindowListed`] (first version), [`Input::StrikePublished`]
//!   (the price to beat appears) and [`Input::WindowResolved`] (the outcome appears), each at the
//!   time it was received.
//! * [`index_schedule`] is the rule for recordings without window records (the importers of
//!   public datasets, recorders older than window records): a window is listed at
//!   `start − duration` (when discovery, which follows the current and the next window, would have
//!   found it), its recorded outcome (or that it is unknown) is known at its end, and a strike from
//!   the index is never shown (it has no receive time; the reference price at the start is).

use std::collections::HashMap;

use polyedge_core::{UnixNanos, Window};

use crate::input::{Input, Resolution};

/// Diffs window versions into inputs. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct WindowTracker {
    known: HashMap<String, Window>,
}

impl WindowTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        WindowTracker::default()
    }

    /// What learning `window` at `at` means for the engine, in order: a listing if the slug is
    /// new (or its metadata changed), a published strike if `strike` appeared (or changed), a
    /// resolution if `outcome` appeared.
    pub fn update(&mut self, window: &Window, at: UnixNanos) -> Vec<Input> {
        let mut out = Vec::new();
        let prev = self.known.get(&window.slug);
        let listed_changed =
            prev.is_none_or(|p| p.without_hindsight() != window.without_hindsight());
        if listed_changed {
            out.push(Input::WindowListed {
                window: Box::new(window.clone()),
                at,
            });
        }
        if let Some(k) = window.strike
            && prev.is_none_or(|p| p.strike != Some(k))
        {
            out.push(Input::StrikePublished {
                slug: window.slug.clone(),
                strike: k,
                at,
            });
        }
        if window.outcome.is_some() && prev.is_none_or(|p| p.outcome.is_none()) {
            out.push(Input::WindowResolved(Resolution {
                slug: window.slug.clone(),
                outcome: window.outcome,
                source: window.outcome_source,
                final_price: window.final_price,
                known_at: at,
            }));
        }
        self.known.insert(window.slug.clone(), window.clone());
        out
    }

    /// Whether `slug` was seen.
    pub fn knows(&self, slug: &str) -> bool {
        self.known.contains_key(slug)
    }

    /// The last version seen of every window, in slug order.
    pub fn windows(&self) -> Vec<&Window> {
        let mut v: Vec<&Window> = self.known.values().collect();
        v.sort_by(|a, b| a.slug.cmp(&b.slug));
        v
    }
}

/// The inputs for `windows` known only from an index (no window records): each listed at
/// `start − duration`, resolved at its end with the index's outcome (`None`: declared unknown).
/// Sorted by time (listings before resolutions at equal times, then by slug).
pub fn index_schedule(windows: &[Window]) -> Vec<Input> {
    let mut v: Vec<(UnixNanos, u8, String, Input)> = Vec::with_capacity(windows.len() * 2);
    for w in windows {
        let listed = UnixNanos(w.start.0.saturating_sub(w.end.0.saturating_sub(w.start.0)));
        v.push((
            listed,
            0,
            w.slug.clone(),
            Input::WindowListed {
                window: Box::new(w.without_hindsight()),
                at: listed,
            },
        ));
        v.push((
            w.end,
            1,
            w.slug.clone(),
            Input::WindowResolved(Resolution {
                slug: w.slug.clone(),
                outcome: w.outcome,
                source: w.outcome_source,
                final_price: w.final_price,
                known_at: w.end,
            }),
        ));
    }
    v.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    v.into_iter().map(|x| x.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyedge_core::{Asset, Fixed18, Outcome, OutcomeSource, WindowDuration};

    #[test]
    fn tracker_turns_versions_into_listing_strike_and_resolution() {
        let mut t = WindowTracker::new();
        let mut w = Window::new(
            "btc-updown-5m-1776000000",
            Asset::Btc,
            WindowDuration::M5,
            1_776_000_000,
        );
        let a = t.update(&w, UnixNanos(1));
        assert!(matches!(
            a.as_slice(),
            [Input::WindowListed {
                at: UnixNanos(1),
                ..
            }]
        ));
        assert!(t.update(&w, UnixNanos(2)).is_empty());
        w.strike = Some(Fixed18::parse("100").unwrap());
        let b = t.update(&w, UnixNanos(3));
        assert!(matches!(
            b.as_slice(),
            [Input::StrikePublished {
                at: UnixNanos(3),
                ..
            }]
        ));
        w.outcome = Some(Outcome::Up);
        w.outcome_source = Some(OutcomeSource::Official);
        let c = t.update(&w, UnixNanos(4));
        match c.as_slice() {
            [Input::WindowResolved(r)] => {
                assert_eq!(r.outcome, Some(Outcome::Up));
                assert_eq!(r.known_at, UnixNanos(4));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn index_schedule_lists_one_duration_ahead_and_resolves_at_the_end() {
        let mut w = Window::new(
            "btc-updown-5m-1776000000",
            Asset::Btc,
            WindowDuration::M5,
            1_776_000_000,
        );
        w.outcome = Some(Outcome::Down);
        w.strike = Some(Fixed18::parse("100").unwrap());
        let s = index_schedule(&[w.clone()]);
        match s.as_slice() {
            [Input::WindowListed { window, at }, Input::WindowResolved(r)] => {
                assert_eq!(*at, UnixNanos::from_secs(1_776_000_000 - 300));
                assert!(window.outcome.is_none() && window.strike.is_none());
                assert_eq!(r.known_at, w.end);
                assert_eq!(r.outcome, Some(Outcome::Down));
            }
            other => panic!("{other:?}"),
        }
    }
}
