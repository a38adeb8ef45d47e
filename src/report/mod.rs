//! Renderers of a plan: text for people, JSON (SPEC's versioned shape), Markdown for PR
//! comments. Each takes the finished [`Plan`] plus the canonical renderings to diff. The
//! renderers of `siteward check` live in [`check`].

pub mod check;
pub mod json;
pub mod markdown;
pub mod text;

use std::collections::BTreeMap;

use crate::plan::{Action, Change, Plan};

/// The canonical YAML of both sides of one site, for the text diff.
#[derive(Debug, Clone, Default)]
pub struct SiteYaml {
    pub desired: String,
    /// `None` when the site was not observed.
    pub live: Option<String>,
}

/// A plan and, per site name, its canonical renderings.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub plan: &'a Plan,
    pub yaml: &'a BTreeMap<String, SiteYaml>,
}

/// The unified diff from live to desired (`+` lines are what applying would make true).
pub fn unified(y: &SiteYaml) -> Option<String> {
    let live = y.live.as_deref()?;
    if live == y.desired {
        return None;
    }
    let diff = similar::TextDiff::from_lines(live, y.desired.as_str());
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header("live", "desired")
            .to_string(),
    )
}

/// `add`/`change`/`remove` as `+`/`~`/`-`.
pub fn sigil(a: Action) -> char {
    match a {
        Action::Add => '+',
        Action::Change => '~',
        Action::Remove => '-',
    }
}

/// One line describing a change: `~ header x-frame-options: SAMEORIGIN → DENY [nginx]`.
pub fn describe(c: &Change) -> String {
    let resource = serde_json::to_value(c.resource)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let value = match (&c.live, &c.desired) {
        (Some(l), Some(d)) => format!("{l} → {d}"),
        (None, Some(d)) => d.clone(),
        (Some(l), None) => format!("{l} (remove)"),
        (None, None) => String::new(),
    };
    let by = match (&c.provider, c.applicable) {
        (Some(p), true) => format!(" [{p}]"),
        (Some(p), false) => format!(" [{p}, not applicable]"),
        (None, _) => " [no provider: propose only]".to_owned(),
    };
    format!("{} {resource} {}: {value}{by}", sigil(c.action), c.key)
}
