//! Progress bars on stderr (hidden automatically when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use polyedge_store::Progress;

/// An indicatif progress bar that implements the store's [`Progress`].
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar with no total yet (spinner until `set_total`).
    pub fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar { bar }
    }

    /// Sets the total in frames for a replay, if known.
    pub fn set_total_frames(&self, total: Option<u64>) {
        if let Some(t) = total {
            self.set_total(t, "frames");
        }
    }

    /// One more frame replayed.
    pub fn inc_frame(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn set_total(&self, total: u64, unit: &str) {
        self.bar.set_length(total);
        let template = if unit == "bytes" {
            "{spinner} {msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})"
        } else {
            "{spinner} {msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, eta {eta})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
    }

    fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    fn message(&self, msg: &str) {
        self.bar.set_message(msg.to_string());
    }
}
