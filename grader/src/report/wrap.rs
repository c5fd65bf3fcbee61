//! Long lines wrapped to the terminal's width, their indentation kept.
//!
//! A trace is one long line of steps joined by " · "; left to the
//! terminal it breaks mid-word at the right edge and its continuation
//! starts in column 0, under the labels. Wrapped here, it breaks between
//! steps, after a " · " (so each line ends on its separator, none starts
//! with one, and a step such as "deposit load 600" stays on one line),
//! and its continuation lines start under the first line's text.

/// The separator of a trace's steps.
const STEP: &str = " · ";
/// A space that breaks nothing, holding a separator to the step before it
/// while the text is wrapped.
const GLUE: char = '\u{a0}';
/// A step longer than this may break inside.
const LONG_STEP: usize = 40;

/// `text` in lines of at most `width` columns (when there is a width),
/// the first after `first` (whose visible width is `indent`, escape codes
/// aside), the others after `indent` spaces. A word longer than a line is
/// kept whole.
pub fn hanging(first: &str, indent: usize, text: &str, width: Option<usize>) -> Vec<String> {
    let pad = " ".repeat(indent);
    let Some(width) = width.filter(|&w| w > indent + 10) else {
        return vec![format!("{first}{text}")];
    };
    let glued = glue(text);
    let options = textwrap::Options::new(width - indent)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .break_words(false);
    textwrap::wrap(&glued, options)
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let line = line.replace(GLUE, " ");
            if i == 0 {
                format!("{first}{line}")
            } else {
                format!("{pad}{line}")
            }
        })
        .collect()
}

/// A trace with its breaks only after a step's separator: each step's
/// own spaces (`deposit load 600`) glued, as long as a step is short
/// enough to keep whole, and each separator glued to the step before it.
/// Text that is no trace breaks at any space.
fn glue(text: &str) -> String {
    if !text.contains(STEP) {
        return text.to_string();
    }
    text.split(STEP)
        .map(|step| {
            if step.chars().count() <= LONG_STEP {
                step.replace(' ', &GLUE.to_string())
            } else {
                step.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(&format!("{GLUE}· "))
}

/// One line of a table whose last column is long text (`  #12    deposit
/// load 720 · store 727 …`), wrapped with its continuation lines under
/// that last column: the text after the last gap of two or more spaces
/// that comes before the first step separator.
pub fn table_line(line: &str, width: Option<usize>) -> Vec<String> {
    let head_end = line.find(STEP).unwrap_or(line.len());
    let body = gaps(&line[..head_end]).last().copied().unwrap_or_else(|| {
        // No columns: keep the line's own indentation.
        line.len() - line.trim_start().len()
    });
    let (first, text) = line.split_at(body);
    hanging(first, first.chars().count(), text, width)
}

/// The byte offsets just after each run of two or more spaces that is
/// followed by text.
fn gaps(s: &str) -> Vec<usize> {
    let bytes = s.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            let start = i;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i - start >= 2 && i < bytes.len() && start > 0 {
                found.push(i);
            }
        } else {
            i += 1;
        }
    }
    found
}

/// The first line of `text`, at most `max` characters (cut with an
/// ellipsis): a note in a table or a list.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str =
        "deposit load 600 · withdraw load 600 · deposit store 605 · withdraw store 595";

    #[test]
    fn without_a_width_a_line_stays_whole() {
        assert_eq!(
            hanging("trace  ", 7, TRACE, None),
            vec![format!("trace  {TRACE}")]
        );
    }

    #[test]
    fn continuation_lines_start_under_the_text_and_end_on_a_separator() {
        let lines = hanging("    trace     ", 14, TRACE, Some(50));
        assert!(lines.len() > 1, "{lines:?}");
        for line in &lines {
            assert!(line.chars().count() <= 50, "{line:?}");
        }
        assert!(lines[0].starts_with("    trace     deposit load 600 ·"));
        for line in &lines[1..] {
            assert!(line.starts_with(&" ".repeat(14)), "{line:?}");
            assert!(!line.trim_start().starts_with('·'), "{line:?}");
        }
        for line in &lines[..lines.len() - 1] {
            assert!(line.ends_with('·'), "{line:?}");
        }
        let joined: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
        assert_eq!(joined.join(" "), format!("trace     {TRACE}"));
    }

    #[test]
    fn a_table_line_continues_under_its_last_column() {
        let line = format!("  #12    deposit      {TRACE}");
        let lines = table_line(&line, Some(60));
        assert!(lines.len() > 1, "{lines:?}");
        let column = "  #12    deposit      ".len();
        for l in &lines[1..] {
            assert_eq!(l.len() - l.trim_start().len(), column, "{l:?}");
        }
    }

    #[test]
    fn a_word_longer_than_the_line_is_kept_whole() {
        let long = "x".repeat(80);
        let lines = hanging("  ", 2, &long, Some(40));
        assert_eq!(lines, vec![format!("  {long}")]);
    }
}
