//! `grader play`: be the scheduler of an exercise's real processes.
//!
//! The student picks which runnable process moves next, one scheduling
//! point at a time, and sees each process's next operation, the shared
//! values, the locks held and the waits, with the grader's invariants
//! checked after every move. The processes are the exercise's own program
//! (the student's code, the lesson's buggy program with `--demo`, or the
//! reference with `--solutions`), built and run in its box as grading runs
//! it: see [`game`] for how a move is made.
//!
//! On the way out it prints the schedule played and the command that
//! replays it. `--keys` (for tests) plays a scripted list of keys and
//! prints every frame instead of taking the terminal.

pub mod game;
pub mod screen;

use std::process::ExitCode;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::catalog::{Exercise, Source};
use crate::course::Course;
use crate::grade::Workbench;
use crate::mode::ModeKind;
use crate::run::runner::{self, Plan};
use game::{Game, Status};

/// What to play.
pub struct Options {
    /// The exercise.
    pub exercise: &'static Exercise,
    /// Where its program comes from.
    pub source: Source,
    /// The lesson's buggy program to play instead, if any.
    pub demo: Option<String>,
    /// The seed of the scenario's parameters.
    pub seed: u64,
    /// The deadline of each move's run.
    pub timeout: Duration,
    /// The build's deadline.
    pub build_timeout: Duration,
    /// The staged copy to build in.
    pub stage: String,
    /// Whether the language boundary is enforced.
    pub boundary: bool,
    /// Whether builds and runs are boxed.
    pub sandbox: bool,
    /// Keys to play instead of reading the terminal, space-separated
    /// (`1 1 2 g u q`; `enter`, `up`, `down`, `esc`, `ctrl-c` by name).
    pub keys: Option<String>,
    /// The size of the screen the scripted keys are drawn on.
    pub size: (u16, u16),
}

/// A key, from the terminal or a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Char(char),
    Enter,
    Up,
    Down,
    Quit,
}

impl Key {
    fn from_event(k: KeyEvent) -> Option<Key> {
        if k.kind != KeyEventKind::Press {
            return None;
        }
        Some(match k.code {
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Quit,
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Enter => Key::Enter,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Esc => Key::Quit,
            _ => return None,
        })
    }

    fn from_word(w: &str) -> Option<Key> {
        Some(match w {
            "enter" => Key::Enter,
            "up" => Key::Up,
            "down" => Key::Down,
            "esc" | "ctrl-c" => Key::Quit,
            w if w.chars().count() == 1 => Key::Char(w.chars().next()?),
            _ => return None,
        })
    }
}

/// The game and what the screen keeps around it.
struct Play {
    game: Game,
    title: String,
    selected: usize,
    message: Option<String>,
}

impl Play {
    /// Applies one key; returns false to quit.
    fn key(&mut self, key: Key) -> bool {
        self.message = None;
        let result = match key {
            Key::Quit | Key::Char('q') => return false,
            Key::Char(c @ '0'..='9') => {
                let slot = c as usize - '0' as usize;
                self.selected = slot;
                self.game.step(slot)
            }
            Key::Enter | Key::Char(' ') => self.game.step(self.selected),
            Key::Char('g') => self.game.run_until_blocked(self.selected),
            Key::Char('u') => {
                if !self.game.undo() {
                    self.message = Some("nothing to undo".into());
                }
                Ok(())
            }
            Key::Char('r') => {
                self.game.restart();
                Ok(())
            }
            Key::Up => {
                self.selected = self.selected.saturating_sub(1);
                Ok(())
            }
            Key::Down => {
                self.selected = (self.selected + 1).min(self.game.view.procs.len().max(1) - 1);
                Ok(())
            }
            Key::Char(c) => Err(format!("{c}: no such key")),
        };
        if let Err(why) = result {
            self.message = Some(why);
        }
        // Keep the cursor on someone who can move, when the one under it
        // cannot any more.
        let view = &self.game.view;
        let stuck = view
            .procs
            .get(self.selected)
            .is_none_or(|p| !matches!(p.status, Status::Next(_)));
        if stuck {
            if let Some(&slot) = view.runnable().first() {
                self.selected = slot;
            }
        }
        true
    }

    fn draw(&self, frame: &mut ratatui::Frame) {
        let ui = screen::Ui {
            title: &self.title,
            selected: self.selected,
            message: self.message.as_deref(),
            moves: self.game.choices.len(),
        };
        screen::draw(frame, &self.game.view, &ui);
    }
}

/// Plays; returns the exit status.
pub fn play_command(course: &Course, opts: Options) -> ExitCode {
    let e = opts.exercise;
    let mut bench = Workbench::new(
        course,
        &opts.source,
        &[e],
        &opts.stage,
        opts.build_timeout,
        opts.boundary,
        opts.sandbox,
    );
    let tmp = match crate::run::sweep::temp_dir() {
        Ok(t) => t,
        Err(err) => {
            eprintln!("grader play: cannot make a temporary directory: {err}");
            return ExitCode::from(1);
        }
    };
    eprintln!("grader play: building {}…", e.slug);
    let program = match bench.prepare_one(e, &tmp.path().join("bin")) {
        Ok(p) => p,
        Err(why) => {
            eprintln!("grader play: {} cannot be played: {why}", e.slug);
            return ExitCode::from(1);
        }
    };
    bench.done_building();
    let plan = Plan {
        exercise: e.slug.to_string(),
        program,
        demo: opts.demo.clone(),
        mode: ModeKind::Controlled,
        sched_override: None,
        base_seed: opts.seed,
        time_scale: 0.0,
        timeout: opts.timeout,
        params: e.params,
        bare: !opts.sandbox,
    };
    let mut title = e.slug.to_string();
    if let Some(d) = &opts.demo {
        title.push_str(&format!(" --demo {d}"));
    }
    title.push_str(&format!(", seed {}", opts.seed));
    let game = Game::new(e, plan);
    // A program that goes wrong before its first operation has nothing to
    // play: say why, and leave.
    if let game::Phase::Broken(why) = &game.view.phase {
        if game.view.timeline.steps.is_empty() {
            runner::close_slot();
            eprintln!("grader play: {} cannot be played: it {why}", e.slug);
            return ExitCode::from(1);
        }
    }
    let selected = game.view.runnable().first().copied().unwrap_or(0);
    let mut play = Play {
        game,
        title,
        selected,
        message: None,
    };
    let outcome = match &opts.keys {
        Some(keys) => scripted(&mut play, keys, opts.size),
        None => interactive(&mut play),
    };
    runner::close_slot();
    drop(tmp);
    if let Err(err) = outcome {
        eprintln!("grader play: the terminal failed: {err}");
        return ExitCode::from(1);
    }
    let source = match &opts.source {
        Source::Exercises => String::new(),
        Source::Solutions => " --solutions".to_string(),
        Source::Workspace(p) => format!(" --workspace {}", p.display()),
    };
    let view = &play.game.view;
    let schedule = if view.schedule.is_empty() {
        "(no choice made)"
    } else {
        &view.schedule
    };
    println!("Schedule played: {schedule}");
    println!("Replay it: {}", play.game.replay_command(&source));
    ExitCode::SUCCESS
}

/// Takes the terminal, and gives it back however the game ends (a
/// panic included: ratatui's hook restores it first).
fn interactive(play: &mut Play) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = (|| loop {
        terminal.draw(|f| play.draw(f))?;
        if let Event::Key(k) = event::read()? {
            if let Some(key) = Key::from_event(k) {
                if !play.key(key) {
                    return Ok(());
                }
            }
        }
    })();
    ratatui::restore();
    result
}

/// Plays `keys` on a test backend, printing each frame.
fn scripted(play: &mut Play, keys: &str, (w, h): (u16, u16)) -> std::io::Result<()> {
    let mut terminal = Terminal::new(TestBackend::new(w, h))?;
    let mut frame = |play: &Play, after: &str| -> std::io::Result<()> {
        terminal.draw(|f| play.draw(f))?;
        println!("── {after} ──");
        print!("{}", screen::text(terminal.backend().buffer()));
        Ok(())
    };
    frame(play, "start")?;
    for word in keys.split_whitespace() {
        let Some(key) = Key::from_word(word) else {
            println!("── {word}: not a key ──");
            continue;
        };
        let go_on = play.key(key);
        frame(play, &format!("key {word}"))?;
        if !go_on {
            break;
        }
    }
    Ok(())
}
