//! The JSON plan (SPEC's shape, `"version": 1`), pretty-printed.

use std::io::Write;

use crate::plan::Plan;

/// Writes the plan as pretty JSON with a trailing newline, streamed site by site into `out`:
/// at fleet scale the plan is not held a second time as text.
pub fn write(plan: &Plan, out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, plan)?;
    out.write_all(b"\n")?;
    out.flush()
}
