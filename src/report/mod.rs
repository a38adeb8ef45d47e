//! Renderers of a plan: text for people, JSON (SPEC's versioned shape), Markdown for PR
//! comments. Each takes the finished [`Plan`] plus the canonical renderings to diff. The
//! renderers of `siteward check` live in [`check`]. Every value from a server or from YAML
//! goes through [`escape`] for the output it lands in.

pub mod check;
pub mod escape;
pub mod html;
pub mod json;
pub mod markdown;
pub mod svg;
pub mod text;

use std::collections::BTreeMap;

use crate::plan::{Action, Change, Plan, Step};

/// The canonical YAML of both sides of one site, for the text diff.
#[derive(Debug, Clone, Default)]
pub struct SiteYaml {
    pub desired: String,
    /// `None` when the site was not observed.
    pub live: Option<String>,
}

/// A plan and, per site name, its canonical renderings (only sites where they differ: the
/// others have no diff to show).
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

/// What a change is about: `header x-frame-options: SAMEORIGIN → DENY`.
pub fn describe_values(c: &Change) -> String {
    let value = match (&c.live, &c.desired) {
        (Some(l), Some(d)) => format!("{l} → {d}"),
        (None, Some(d)) => d.clone(),
        (Some(l), None) => format!("{l} (remove)"),
        (None, None) => "(remove)".to_owned(),
    };
    format!("{} {}: {value}", c.resource.as_str(), c.key)
}

/// The plan stage's verdict for people: `apply via nginx`, `propose: why`, `skip: why`.
pub fn verdict(c: &Change) -> String {
    match (c.step, &c.provider, &c.reason) {
        (Step::Apply, Some(p), _) => format!("apply via {p}"),
        (step, _, Some(why)) => format!("{}: {why}", step.as_str()),
        (step, _, None) => step.as_str().to_owned(),
    }
}

/// One line describing a change and its step:
/// `~ header x-frame-options: SAMEORIGIN → DENY [apply via nginx]`.
pub fn describe(c: &Change) -> String {
    format!(
        "{} {} [{}]",
        sigil(c.action),
        describe_values(c),
        verdict(c)
    )
}
