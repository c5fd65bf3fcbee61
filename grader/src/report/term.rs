//! The terminal: colour, width and a progress bar, only where someone
//! watches.
//!
//! Whether to colour is anstream's decision, the one most command-line
//! tools make: `--color always|never` wins; otherwise `NO_COLOR` turns
//! colour off, `CLICOLOR_FORCE` turns it on even into a pipe, and
//! without either only a terminal gets colour. A progress bar goes only to
//! a terminal, and not under CI, whose logs would fill with redraws.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anstream::ColorChoice;
use anstyle::{AnsiColor, Effects, Style};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::interrupt;

/// When to colour the output (`--color`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set; also into a pipe with
    /// CLICOLOR_FORCE.
    #[default]
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

/// Makes `when` the choice for every stream of this process.
pub fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether stdout gets colour.
pub fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never
}

/// Whether stderr gets colour.
pub fn stderr_color() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != ColorChoice::Never
}

/// Whether stdout is a terminal someone reads as it comes.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether to draw a progress bar on stderr.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// The width to wrap long lines to: the terminal's, when stdout is one;
/// otherwise `COLUMNS`, if set; otherwise none (a file or a log keeps
/// each line whole, for grep).
pub fn width() -> Option<usize> {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stdout()) {
        return Some(w as usize);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w >= 20)
}

/// Styles, or none.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    on: bool,
    /// The width to wrap long lines to, if any.
    pub width: Option<usize>,
}

impl Paint {
    /// Styles when `on`, plain text otherwise; no wrapping.
    pub fn new(on: bool) -> Paint {
        Paint { on, width: None }
    }

    /// The same, wrapping long lines to `width`.
    pub fn with_width(self, width: Option<usize>) -> Paint {
        Paint { width, ..self }
    }

    fn wrap(&self, style: Style, s: &str) -> String {
        if self.on {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_string()
        }
    }

    /// Passed.
    pub fn green(&self, s: &str) -> String {
        self.wrap(AnsiColor::Green.on_default(), s)
    }
    /// Failed.
    pub fn red(&self, s: &str) -> String {
        self.wrap(AnsiColor::Red.on_default(), s)
    }
    /// Not known.
    pub fn yellow(&self, s: &str) -> String {
        self.wrap(AnsiColor::Yellow.on_default(), s)
    }
    /// Headings.
    pub fn bold(&self, s: &str) -> String {
        self.wrap(Style::new().effects(Effects::BOLD), s)
    }
    /// Details.
    pub fn dim(&self, s: &str) -> String {
        self.wrap(Style::new().effects(Effects::DIMMED), s)
    }
}

/// A progress bar that is a no-op when hidden.
///
/// It says what is being done: which exercise is building, or which one
/// the runs are on and how many of its runs are done. Once the grader is
/// interrupted it takes itself off the screen at once, so that the report
/// of the runs that finished (or the shell's prompt, after a second
/// Ctrl-C) is not drawn under a stale bar.
pub struct Progress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
}

impl Progress {
    /// A bar of `total` runs, drawn only if `visible`.
    pub fn new(total: u64, visible: bool) -> Progress {
        let bar = if visible {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template("{spinner} [{bar:25}] {msg}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let stop = Arc::new(AtomicBool::new(false));
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
            let (bar, stop) = (bar.clone(), stop.clone());
            let _ = std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if interrupt::interrupted() {
                            bar.finish_and_clear();
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                });
        }
        Progress { bar, stop }
    }

    /// Whether the bar is gone for good: interrupted, it is not drawn
    /// again, whatever is still reported to it.
    fn gone(&self) -> bool {
        interrupt::interrupted() || self.stop.load(Ordering::Relaxed)
    }

    /// Says what is happening now.
    pub fn message(&self, msg: impl Into<String>) {
        if !self.gone() {
            self.bar.set_message(msg.into());
        }
    }

    /// One run done; `msg` says where the runs stand.
    pub fn step(&self, msg: impl Into<String>) {
        if !self.gone() {
            self.bar.set_message(msg.into());
            self.bar.inc(1);
        }
    }

    /// Runs `f` with the bar off the screen, for printing under it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.gone() {
            self.bar.finish_and_clear();
            return f();
        }
        self.bar.suspend(f)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
