//! The lessons and the README as students get them: without the
//! solutions' mentions.
//!
//! The course's Markdown is written for its authors as well as for
//! students: it says how to run the reference solutions
//! (`cargo run -p locked-bank-solution`), grade them (`--solutions`), or
//! read them (`solutions/`). In the student edition those would point at
//! nothing, or tell a student where the answers are kept. So:
//!
//! - a solution's package is renamed to the exercise's own, which runs the
//!   same program once the student has written it
//!   (`cargo run -p locked-bank`);
//! - a unit that still mentions what the edition leaves out
//!   (`--solutions`, `solutions/`, `tests/`, a section left out) is left
//!   out whole: a paragraph or a list item, so that no sentence is cut in
//!   half, or one line of a code block (a block left empty goes too);
//! - in the README, the sections written for instructors and for the
//!   course's authors are left out whole.
//!
//! Everything left out is listed (file and line), for the instructor to
//! review.

/// What to leave out, and what to rename.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// `(from, to)`: each solution's package name and its exercise's.
    pub renames: Vec<(String, String)>,
    /// Paths the edition does not hold (`solutions/`, `tests/`,
    /// `grader/benches/`): a mention of one leaves its unit out.
    pub paths: Vec<String>,
    /// Headings whose sections are left out whole (README only).
    pub sections: Vec<String>,
}

/// One thing left out of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Its first line, 1-based.
    pub line: usize,
    /// What it was: a section's heading, or a unit's first line.
    pub what: String,
}

/// A file scrubbed.
#[derive(Clone, Debug)]
pub struct Scrubbed {
    /// The text the student gets.
    pub text: String,
    /// What was left out.
    pub dropped: Vec<Dropped>,
    /// Lines where a solution's package was renamed (1-based).
    pub renamed: Vec<usize>,
}

/// What a unit of Markdown is, for deciding what to leave out with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Blank,
    Heading(usize),
    /// A paragraph or a list item, with its continuation lines.
    Prose,
    /// A table row.
    Row,
    /// A fenced code block, fences included.
    Code,
}

struct Unit {
    kind: Kind,
    /// 1-based number of its first line.
    line: usize,
    lines: Vec<String>,
}

/// Scrubs one Markdown file (see the module's documentation).
pub fn scrub(text: &str, rules: &Rules) -> Scrubbed {
    let mut renamed = Vec::new();
    let lines: Vec<String> = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            let mut line = line.to_string();
            for (from, to) in &rules.renames {
                if line.contains(from.as_str()) {
                    line = line.replace(from.as_str(), to);
                    if renamed.last() != Some(&(i + 1)) {
                        renamed.push(i + 1);
                    }
                }
            }
            line
        })
        .collect();
    let units = units(&lines);
    let anchors: Vec<String> = units
        .iter()
        .filter_map(|u| match u.kind {
            Kind::Heading(_) => {
                let title = heading_text(&u.lines[0]);
                is_listed(&title, &rules.sections).then(|| anchor(&title))
            }
            _ => None,
        })
        .collect();
    let mut out = String::new();
    let mut dropped = Vec::new();
    let mut skipping: Option<usize> = None;
    for unit in units {
        if let Kind::Heading(level) = unit.kind {
            if skipping.is_some_and(|l| level <= l) {
                skipping = None;
            }
            let title = heading_text(&unit.lines[0]);
            if skipping.is_none() && is_listed(&title, &rules.sections) {
                skipping = Some(level);
                dropped.push(Dropped {
                    line: unit.line,
                    what: format!("the section \"{title}\""),
                });
            }
        }
        if skipping.is_some() {
            continue;
        }
        match unit.kind {
            Kind::Code => {
                let inner = unit.lines.len().saturating_sub(2);
                let mut kept = Vec::new();
                let mut gone = 0;
                for (i, line) in unit.lines.iter().enumerate() {
                    let fence = i == 0 || i + 1 == unit.lines.len();
                    if !fence && mentions(line, rules, &anchors) {
                        gone += 1;
                        dropped.push(Dropped {
                            line: unit.line + i,
                            what: line.trim().to_string(),
                        });
                    } else {
                        kept.push(line.as_str());
                    }
                }
                if inner == 0 || gone < inner {
                    out.extend(kept);
                }
            }
            _ if unit.lines.iter().any(|l| mentions(l, rules, &anchors)) => {
                dropped.push(Dropped {
                    line: unit.line,
                    what: unit.lines[0].trim().to_string(),
                });
            }
            _ => out.extend(unit.lines.iter().map(String::as_str)),
        }
    }
    Scrubbed {
        text: squeeze_blank_lines(&out),
        dropped,
        renamed,
    }
}

/// Splits Markdown lines into units (see [`Kind`]).
fn units(lines: &[String]) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if let Some(marker) = fence {
            units
                .last_mut()
                .expect("a code block is open")
                .lines
                .push(line.clone());
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        let kind = if let Some(marker) = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m))
        {
            fence = Some(marker);
            Kind::Code
        } else if trimmed.is_empty() {
            Kind::Blank
        } else if let Some(level) = heading_level(trimmed) {
            Kind::Heading(level)
        } else if trimmed.starts_with('|') {
            Kind::Row
        } else if starts_list_item(trimmed) {
            Kind::Prose
        } else if units.last().is_some_and(|u| u.kind == Kind::Prose) {
            // A paragraph's or a list item's next line.
            units.last_mut().expect("checked").lines.push(line.clone());
            continue;
        } else {
            Kind::Prose
        };
        units.push(Unit {
            kind,
            line: i + 1,
            lines: vec![line.clone()],
        });
    }
    units
}

fn heading_level(trimmed: &str) -> Option<usize> {
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    ((1..=6).contains(&level) && trimmed[level..].starts_with(' ')).then_some(level)
}

fn heading_text(line: &str) -> String {
    line.trim().trim_start_matches('#').trim().to_string()
}

fn starts_list_item(trimmed: &str) -> bool {
    if ["- ", "* ", "+ "].iter().any(|m| trimmed.starts_with(m)) {
        return true;
    }
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (trimmed[digits..].starts_with(". ") || trimmed[digits..].starts_with(") "))
}

fn is_listed(title: &str, sections: &[String]) -> bool {
    sections.iter().any(|s| s.eq_ignore_ascii_case(title))
}

/// The anchor GitHub gives a heading: lower case, spaces to hyphens, other
/// punctuation dropped.
fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Whether a line mentions what the student edition does not hold.
fn mentions(line: &str, rules: &Rules, anchors: &[String]) -> bool {
    line.contains("--solutions")
        || line.contains("-solution")
        || rules.paths.iter().any(|p| mentions_path(line, p))
        || anchors.iter().any(|a| line.contains(&format!("](#{a})")))
}

/// Whether `line` names the path `path` (`tests/`), as a path of its own
/// and not as the end of a longer name (`contests/`).
fn mentions_path(line: &str, path: &str) -> bool {
    line.match_indices(path).any(|(at, _)| {
        line[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || "_-.".contains(c)))
    })
}

/// Two blank lines where something was left out become one.
fn squeeze_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_before = false;
    for line in text.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        if !(blank && blank_before) {
            out.push_str(line);
        }
        blank_before = blank;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            renames: vec![("locked-bank-solution".into(), "locked-bank".into())],
            paths: vec!["solutions/".into(), "tests/".into()],
            sections: vec!["For instructors".into()],
        }
    }

    #[test]
    fn a_solutions_package_becomes_the_exercises_own() {
        let s = scrub(
            "Run `cargo run -p locked-bank-solution` and see:\n",
            &rules(),
        );
        assert_eq!(s.text, "Run `cargo run -p locked-bank` and see:\n");
        assert_eq!(s.renamed, [1]);
        assert!(s.dropped.is_empty());
    }

    #[test]
    fn a_paragraph_or_item_that_mentions_the_solutions_goes_whole() {
        let text = "Intro.\n\nFirst line,\nthen `cargo grade --solutions`\nends here.\n\n\
                    - keep this item\n- grade `solutions/03` too\n  (continued)\n- and this\n\nEnd.\n";
        let s = scrub(text, &rules());
        assert_eq!(s.text, "Intro.\n\n- keep this item\n- and this\n\nEnd.\n");
        let lines: Vec<usize> = s.dropped.iter().map(|d| d.line).collect();
        assert_eq!(lines, [3, 8]);
        assert_eq!(s.dropped[0].what, "First line,");
    }

    #[test]
    fn a_code_block_loses_lines_and_goes_when_empty() {
        let text = "```sh\ncargo grade 3\ncargo grade --solutions\n```\n\n```text\nsolutions/   answers\ntests/       fixtures\n```\n";
        let s = scrub(text, &rules());
        assert_eq!(s.text, "```sh\ncargo grade 3\n```\n\n");
        assert_eq!(s.dropped.len(), 3);
    }

    #[test]
    fn an_instructors_section_goes_with_its_subsections_and_links_to_it() {
        let text = "# Course\n\nSee [below](#for-instructors).\n\n## For students\n\nRead.\n\n\
                    ## For instructors\n\nGrade.\n\n### Batch\n\nMore.\n\n## Layout\n\nFiles.\n";
        let s = scrub(text, &rules());
        assert_eq!(
            s.text,
            "# Course\n\n## For students\n\nRead.\n\n## Layout\n\nFiles.\n"
        );
        assert_eq!(s.dropped[1].what, "the section \"For instructors\"");
    }

    #[test]
    fn a_path_is_a_mention_only_as_a_path() {
        assert!(mentions_path("see `tests/x.rs`", "tests/"));
        assert!(mentions_path("tests/ holds", "tests/"));
        assert!(mentions_path("grader/boundary/tests/a.rs", "tests/"));
        assert!(!mentions_path("the contests/ folder", "tests/"));
        assert!(!mentions_path("unit-tests/", "tests/"));
    }

    #[test]
    fn headings_anchor_as_github_does() {
        assert_eq!(anchor("Batch grading"), "batch-grading");
        assert_eq!(
            anchor("Known-bad variants and how often races show"),
            "known-bad-variants-and-how-often-races-show"
        );
        assert_eq!(anchor("Scoring (Gradescope)"), "scoring-gradescope");
    }
}
