//! The screen of `grader play`, drawn with ratatui from the game's view.
//!
//! Everything on it comes from [`View`]: the processes and their next
//! operations, the shared values and the locks held (from the same
//! [`Timeline`](crate::timeline::Timeline) that the HTML pictures draw),
//! the trace so far, and the invariants broken, in the grade report's
//! words.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::game::{Phase, Status, View};

/// What the screen shows beyond the view.
pub struct Ui<'a> {
    /// What is played (`locked-bank --demo unlocked, seed 1`).
    pub title: &'a str,
    /// The process the cursor is on.
    pub selected: usize,
    /// A message for the last key (why a move was refused, say).
    pub message: Option<&'a str>,
    /// How many moves undo can take back.
    pub moves: usize,
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, view: &View, ui: &Ui) {
    let procs = view.procs.len().max(1) as u16;
    let areas = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(procs + 3),
        Constraint::Min(4),
        Constraint::Length(verdict_height(view, frame.area().width)),
        Constraint::Length(2),
    ])
    .split(frame.area());
    header(frame, areas[0], view, ui);
    let top = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
        .split(areas[1]);
    processes(frame, top[0], view, ui);
    shared(frame, top[1], view);
    trace(frame, areas[2], view);
    verdict(frame, areas[3], view);
    help(frame, areas[4], view, ui);
}

fn header(frame: &mut Frame, area: Rect, view: &View, ui: &Ui) {
    let phase = match &view.phase {
        Phase::Paused => "your move".to_string(),
        Phase::Finished => "the program ran to its end".to_string(),
        Phase::Deadlocked => "DEADLOCK: nobody can run".to_string(),
        Phase::Broken(why) => format!("the run went wrong: {why}"),
    };
    let line = Line::from(vec![
        Span::styled(
            format!("play {}", ui.title),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" · {} operations · ", view.timeline.steps.len())),
        Span::styled(phase, Style::default().fg(Color::Yellow)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn processes(frame: &mut Frame, area: Rect, view: &View, ui: &Ui) {
    let lines: Vec<Line> = view
        .procs
        .iter()
        .map(|p| {
            let cursor = if p.slot == ui.selected { "▶" } else { " " };
            let (what, style) = match &p.status {
                Status::Next(op) => (format!("next: {op}"), Style::default().fg(Color::Green)),
                Status::Waits(w) => (format!("waits: {w}"), Style::default().fg(Color::Yellow)),
                Status::Ended => ("ended".to_string(), Style::default().fg(Color::DarkGray)),
                Status::Died(how) => (how.clone(), Style::default().fg(Color::Red)),
                Status::Hung(how) => (format!("hung: {how}"), Style::default().fg(Color::Red)),
            };
            Line::from(vec![
                Span::raw(format!("{cursor} [{}] ", p.slot)),
                Span::styled(
                    format!("{:<12} ", p.name),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::styled(what, style),
            ])
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Processes (press a number to move it) ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn shared(frame: &mut Frame, area: Rect, view: &View) {
    let t = &view.timeline;
    let mut lines: Vec<Line> = t
        .values
        .iter()
        .map(|(name, v)| Line::from(format!("{name} = {v}")))
        .collect();
    let held: Vec<_> = t.holdings.iter().filter(|h| h.to.is_none()).collect();
    if held.is_empty() {
        lines.push(Line::from("no lock held"));
    }
    for h in held {
        let depth = if h.depth > 1 {
            format!(" (depth {})", h.depth)
        } else {
            String::new()
        };
        lines.push(Line::from(format!(
            "{} held by {}{depth}",
            h.lock, t.lanes[h.lane].name
        )));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Shared values and locks ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn trace(frame: &mut Frame, area: Rect, view: &View) {
    let t = &view.timeline;
    let room = area.height.saturating_sub(2) as usize;
    let marks = t.breaking.as_ref();
    let start = t.steps.len().saturating_sub(room);
    let lines: Vec<Line> = t.steps[start..]
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let i = start + k;
            let style = match marks {
                Some(b) if b.at == Some(i) || b.overwriter == Some(i) => {
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
                }
                Some(b) if b.overwritten == Some(i) => Style::default().fg(Color::Yellow),
                _ => Style::default(),
            };
            Line::styled(format!("#{:<5} {}", s.seq, s.text), style)
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" Trace so far ({} operations) ", t.steps.len()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The verdict's lines: each broken invariant, the lost update, the
/// panics, the stuck processes.
fn verdict_lines(view: &View) -> Vec<Line<'static>> {
    let red = Style::default().fg(Color::Red);
    let mut lines = Vec::new();
    for (name, v) in &view.broken {
        lines.push(Line::styled(
            format!("✗ {name}: {}", v.seen),
            red.add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(b) = &view.timeline.breaking {
        for l in b
            .lines
            .iter()
            .filter(|l| !l.starts_with("expected") && !l.starts_with("seen"))
        {
            lines.push(Line::styled(l.clone(), red));
        }
    }
    for p in &view.panics {
        lines.push(Line::styled(p.clone(), red));
    }
    if lines.is_empty() {
        let ok = match view.phase {
            Phase::Finished => "✓ every invariant held in this run",
            _ => "✓ no invariant broken so far",
        };
        lines.push(Line::styled(ok, Style::default().fg(Color::Green)));
    }
    lines
}

/// The verdict's height: its lines as wrapped inside the box, at most 8.
fn verdict_height(view: &View, width: u16) -> u16 {
    let inner = (width as usize).saturating_sub(2).max(1);
    let rows: usize = verdict_lines(view)
        .iter()
        .map(|l| l.width().div_ceil(inner).max(1))
        .sum();
    rows.min(8) as u16 + 2
}

fn verdict(frame: &mut Frame, area: Rect, view: &View) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" The grader's invariants, checked as you go ");
    frame.render_widget(
        Paragraph::new(verdict_lines(view))
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn help(frame: &mut Frame, area: Rect, view: &View, ui: &Ui) {
    let message = ui.message.map_or_else(
        || {
            format!(
                "schedule: {}",
                if view.schedule.is_empty() {
                    "(no choice made yet)"
                } else {
                    &view.schedule
                }
            )
        },
        str::to_string,
    );
    let keys = format!(
        "0-9 move it · ↑↓ Enter move the selected · g until it blocks · u undo ({}) · \
         r restart · q quit",
        ui.moves
    );
    let lines = vec![
        Line::styled(message, Style::default().fg(Color::Cyan)),
        Line::styled(keys, Style::default().fg(Color::DarkGray)),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

/// A buffer as plain text, one line per row, trailing spaces cut: what a
/// test snapshots.
pub fn text(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    let mut out = String::new();
    for row in buffer.content.chunks(width) {
        let line: String = row.iter().map(|c| c.symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
