//! The JSON plan (SPEC's shape, `"version": 1`), pretty-printed.

use crate::plan::Plan;

/// The plan as pretty JSON with a trailing newline.
pub fn render(plan: &Plan) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(plan)?;
    s.push('\n');
    Ok(s)
}
