//! [`WindowIndex`]: the one routing table from slugs, token ids and condition ids to windows.
//!
//! Every consumer of market events needs the same lookups — which window (and which outcome) a
//! Polymarket token belongs to, a window by slug, a window by condition id — and the same rule for
//! windows whose data knows only one token id (most cronos windows: the recorder followed one
//! token): such a window is traded and replayed on that token's book and its mirror, with a
//! stand-in id ([`TokenId::synthetic`]) for the missing side that no recorded event carries
//! ([`WindowIndex::book_tokens`]). The engine, `inspect` and `calibrate` all route through this type.
//!
//! Windows keep the position they were first inserted at ([`WindowIndex::insert`] of a known slug
//! replaces the window in place and re-routes its tokens), so positions are stable handles.

use std::collections::HashMap;

use crate::ids::{ConditionId, TokenId};
use crate::market::{Outcome, Window};

/// Windows by slug, token id and condition id. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct WindowIndex {
    windows: Vec<Window>,
    by_slug: HashMap<String, usize>,
    by_token: HashMap<TokenId, (usize, Outcome)>,
    by_condition: HashMap<ConditionId, usize>,
}

/// The Up and Down token ids a window's [`WindowBook`](crate::WindowBook) is built on: the known
/// ids, with a stand-in ([`TokenId::synthetic`]`(slug, "up" | "down")`) for a missing one; `None`
/// when neither is known (such a window has no book).
pub fn book_tokens(w: &Window) -> Option<(TokenId, TokenId)> {
    match (w.up_token, w.down_token) {
        (Some(u), Some(d)) => Some((u, d)),
        (Some(u), None) => Some((u, TokenId::synthetic(&w.slug, "down"))),
        (None, Some(d)) => Some((TokenId::synthetic(&w.slug, "up"), d)),
        (None, None) => None,
    }
}

impl WindowIndex {
    /// An empty index.
    pub fn new() -> Self {
        WindowIndex::default()
    }

    /// An index of `windows`, in the order given (a repeated slug replaces the earlier window in
    /// its position).
    pub fn from_windows(windows: impl IntoIterator<Item = Window>) -> Self {
        let mut ix = WindowIndex::new();
        for w in windows {
            ix.insert(w);
        }
        ix
    }

    /// Adds `window`, or replaces the window with the same slug (keeping its position); returns
    /// its position. The known token ids (not the stand-ins) and the condition id route to it.
    pub fn insert(&mut self, window: Window) -> usize {
        if let Some(&i) = self.by_slug.get(&window.slug) {
            let old = std::mem::replace(&mut self.windows[i], window);
            for t in [old.up_token, old.down_token].into_iter().flatten() {
                if self.by_token.get(&t).is_some_and(|r| r.0 == i) {
                    self.by_token.remove(&t);
                }
            }
            if let Some(c) = old.condition_id
                && self.by_condition.get(&c) == Some(&i)
            {
                self.by_condition.remove(&c);
            }
            self.route(i);
            return i;
        }
        let i = self.windows.len();
        self.by_slug.insert(window.slug.clone(), i);
        self.windows.push(window);
        self.route(i);
        i
    }

    fn route(&mut self, i: usize) {
        let w = &self.windows[i];
        if let Some(t) = w.up_token {
            self.by_token.insert(t, (i, Outcome::Up));
        }
        if let Some(t) = w.down_token {
            self.by_token.insert(t, (i, Outcome::Down));
        }
        if let Some(c) = w.condition_id {
            self.by_condition.insert(c, i);
        }
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// `true` when there are no windows.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The window at `position` (as returned by [`Self::insert`]).
    pub fn at(&self, position: usize) -> Option<&Window> {
        self.windows.get(position)
    }

    /// Every window, in insertion order.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The position of the window with `slug`.
    pub fn position(&self, slug: &str) -> Option<usize> {
        self.by_slug.get(slug).copied()
    }

    /// The window with `slug`.
    pub fn get(&self, slug: &str) -> Option<&Window> {
        self.position(slug).map(|i| &self.windows[i])
    }

    /// The position of the window `token` belongs to, and which outcome it is.
    pub fn route_token(&self, token: TokenId) -> Option<(usize, Outcome)> {
        self.by_token.get(&token).copied()
    }

    /// The window `token` belongs to, and which outcome it is.
    pub fn by_token(&self, token: TokenId) -> Option<(&Window, Outcome)> {
        self.route_token(token).map(|(i, o)| (&self.windows[i], o))
    }

    /// The position of the window of condition (market) id `condition`.
    pub fn position_of_condition(&self, condition: ConditionId) -> Option<usize> {
        self.by_condition.get(&condition).copied()
    }

    /// The window of condition (market) id `condition`.
    pub fn by_condition(&self, condition: ConditionId) -> Option<&Window> {
        self.position_of_condition(condition)
            .map(|i| &self.windows[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{Asset, WindowDuration};

    fn w(slug: &str, up: Option<&str>, down: Option<&str>) -> Window {
        let mut w = Window::new(slug, Asset::Btc, WindowDuration::M5, 1_776_000_000);
        w.up_token = up.map(|s| TokenId::parse(s).unwrap());
        w.down_token = down.map(|s| TokenId::parse(s).unwrap());
        w
    }

    #[test]
    fn routes_tokens_and_replaces_in_place() {
        let mut ix =
            WindowIndex::from_windows([w("a", Some("1"), Some("2")), w("b", None, Some("3"))]);
        assert_eq!(ix.len(), 2);
        let (win, o) = ix.by_token(TokenId::parse("2").unwrap()).unwrap();
        assert_eq!((win.slug.as_str(), o), ("a", Outcome::Down));
        assert_eq!(
            ix.route_token(TokenId::parse("3").unwrap()),
            Some((1, Outcome::Down))
        );
        // Replacing "a" with other tokens keeps its position and forgets the old tokens.
        assert_eq!(ix.insert(w("a", Some("5"), Some("6"))), 0);
        assert!(ix.route_token(TokenId::parse("1").unwrap()).is_none());
        assert_eq!(
            ix.route_token(TokenId::parse("5").unwrap()),
            Some((0, Outcome::Up))
        );
        assert_eq!(ix.get("b").map(|w| w.slug.as_str()), Some("b"));
    }

    #[test]
    fn book_tokens_stand_in_for_a_missing_side() {
        let only_down = w("b", None, Some("3"));
        let (up, down) = book_tokens(&only_down).unwrap();
        assert_eq!(up, TokenId::synthetic("b", "up"));
        assert_eq!(down, TokenId::parse("3").unwrap());
        assert!(book_tokens(&w("c", None, None)).is_none());
    }
}
