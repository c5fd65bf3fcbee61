//! The session as JSON, for tools. The shape is documented field by field
//! in `grader/SCHEMA.md`; `schema` names its version.

use crate::judge::verdict::Session;

/// Renders the session as pretty-printed JSON.
pub fn render(s: &Session) -> String {
    let mut text =
        serde_json::to_string_pretty(s).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
