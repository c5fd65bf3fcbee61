//! The terminal: colour and a progress bar, only where someone watches.
//!
//! Colour goes only to a terminal and never when `NO_COLOR` is set (see
//! no-color.org); a progress bar only to a terminal, and not under CI,
//! whose logs would fill with redraws.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether `NO_COLOR` asks for no colour.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether stdout may be coloured.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && !no_color()
}

/// Whether to draw a progress bar on stderr.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// ANSI styles, or none.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Styles when `on`, plain text otherwise.
    pub fn new(on: bool) -> Paint {
        Paint { on }
    }

    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Passed.
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    /// Failed.
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    /// Not known.
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    /// Headings.
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// Details.
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// A progress bar that is a no-op when hidden.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `total` steps, drawn only if `visible`.
    pub fn new(total: u64, visible: bool) -> Progress {
        let bar = if visible {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let style =
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} runs {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    /// Says what is happening now.
    pub fn message(&self, msg: impl Into<String>) {
        self.bar.set_message(msg.into());
    }

    /// One step done.
    pub fn step(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
