//! # polyedge-analysis
//!
//! Analyses of recordings that are not trading: the library behind `polyedge calibrate` and
//! `polyedge inspect` (the command-line tool keeps only argument parsing, the replay loop's
//! progress bar and printing).
//!
//! * [`calibrate`] — [`Calibrator`]: scores the fair-value model's `P(Up)` (and the market's Up
//!   mid) on snapshots of settled windows, fed event by event with no look-ahead; walk-forward
//!   recalibration ([`recalibrate`]) scored beside the raw model.
//! * [`recalibrate`] — isotonic regression and Platt scaling of probabilities.
//! * [`inspect`] — [`Inspector`]: per-window coverage, gaps, spreads and set cost, fed frame by
//!   frame.
//!
//! Windows and token ids are routed through [`polyedge_core::WindowIndex`] (and
//! [`polyedge_core::book_tokens`] for windows that know one token), the same table the engine
//! uses.
//!
//! # Why not an engine observer
//! The engine (`polyedge_engine`'s drivers) shows strategies windows as they are listed
//! and outcomes only at resolution, which is the right rule for trading; these analyses are fed
//! the replay directly instead because (1) the inspector counts raw *frames* (and parse errors)
//! per window and stream, which the engine never sees, and (2) the calibrator's snapshot at
//! `end − t` takes the state after every event received at or before that instant — the
//! engine fires timers *before* same-time inputs — and keeps its own reference-series settings
//! (lookback, λ, no spot series), windows without books, and a scorecard that needs every
//! window's outcome. Its no-look-ahead rule is enforced by its own snapshot schedule
//! (`calibrate` module docs) and tested there.
//!
//! [`Calibrator`]: calibrate::Calibrator
//! [`Inspector`]: inspect::Inspector

pub mod calibrate;
pub mod inspect;
pub mod recalibrate;
