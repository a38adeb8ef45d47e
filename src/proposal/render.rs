//! A proposal's Markdown: a change request a person or a hosting provider can act on — what to
//! change with the exact values and config lines, why (the desired field), and how siteward will
//! verify it. Pure: no I/O. Values from servers and YAML are escaped for Markdown
//! ([`crate::report::escape`]): verbatim values in code spans, prose as escaped text.

use std::fmt::Write;

use crate::plan::{Change, Resource, SitePlan};
use crate::report::escape::{code_span, markdown as text, table_code};
use crate::spec::Site;

/// Line that carries the proposal's state; read back to resolve it.
pub const STATUS_OPEN: &str = "Status: open";
/// Line that marks a proposal resolved.
pub const STATUS_RESOLVED: &str = "Status: resolved";
/// Prefix of the line that carries the drift digest (dedupe key).
pub const DRIFT_PREFIX: &str = "Drift: sha256:";

/// Renders the change request for `changes` (each with the reason it is proposed).
pub fn markdown(
    site: &Site,
    plan: &SitePlan,
    changes: &[(Change, String)],
    drift: &str,
    run_id: &str,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Change request: {}\n", site.name);
    let _ = writeln!(md, "{STATUS_OPEN}  ");
    let _ = writeln!(md, "{DRIFT_PREFIX}{drift}  ");
    let _ = writeln!(md, "Site: <{}>  ", site.url);
    if let Some(owner) = &site.owner {
        let _ = writeln!(md, "Owner: {}  ", text(owner));
    }
    let health = serde_json::to_value(plan.health)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "Raised by siteward run `{run_id}`; health at that time: {health}.\n"
    );
    // Header names as the site file spells them (the plan keys are lowercase).
    let changes: Vec<(Change, String)> = changes
        .iter()
        .map(|(c, why)| {
            let mut c = c.clone();
            if c.resource == Resource::Header
                && let Some(name) = site
                    .headers
                    .keys()
                    .find(|n| n.as_str().eq_ignore_ascii_case(&c.key))
            {
                c.key = name.to_string();
            }
            (c, why.clone())
        })
        .collect();
    let changes = changes.as_slice();

    md.push_str("## What to change\n\n| resource | key | now | should be | why siteward did not apply it |\n|---|---|---|---|---|\n");
    for (c, why) in changes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            resource(c.resource),
            table_code(&c.key),
            value_cell(c.live.as_deref()),
            value_cell(c.desired.as_deref()),
            text(why)
        );
    }

    md.push_str("\n## Why\n\n");
    // Site files may live in subdirectories of `sites/`; the name is what identifies them.
    let source = format!("`{}.yaml` under `sites/`", site.name);
    let via = if site.policies.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = site
            .policies
            .iter()
            .map(|p| format!("`policies/{p}.yaml`"))
            .collect();
        format!(" (with defaults from {})", names.join(", "))
    };
    let _ = writeln!(md, "The desired state in {source}{via} says:\n");
    for (c, _) in changes {
        let _ = writeln!(md, "- {}", field(c));
    }

    let mut config = config(site, changes);
    if changes
        .iter()
        .any(|(c, _)| c.resource == Resource::Certificate)
    {
        if !config.is_empty() {
            config.push('\n');
        }
        config.push_str(&crate::certificate::advice::markdown(site));
    }
    if !config.is_empty() {
        let _ = write!(md, "\n## Exact configuration\n\n{config}");
    }
    if changes.iter().any(|(c, _)| {
        c.desired
            .as_deref()
            .is_some_and(|d| d.starts_with("<secret sha256:"))
    }) {
        md.push_str("\nValues shown as `<secret sha256:…>` come from a secret reference in the site file; ask the site's owner for the value through your usual secure channel.\n");
    }

    let _ = write!(
        md,
        "\n## How siteward verifies\n\nOn every scheduled run siteward requests <{}> (and each redirect source) without following \
         redirects, and compares the response headers, redirects, certificate and software it observes with the desired state. \
         When the live site matches, this proposal is marked resolved on this branch automatically; until then the same drift \
         does not raise a second proposal.\n",
        site.url
    );
    md
}

/// Marks a rendered proposal resolved, noting the run that saw the site in sync.
pub fn resolved(markdown: &str, run_id: &str) -> String {
    let body = markdown.replacen(STATUS_OPEN, STATUS_RESOLVED, 1);
    format!(
        "{body}\n## Resolved\n\nRun `{run_id}` observed the site in sync with its desired state.\n"
    )
}

fn resource(r: Resource) -> &'static str {
    match r {
        Resource::Header => "header",
        Resource::Redirect => "redirect",
        Resource::Certificate => "certificate",
        Resource::Core => "core",
        Resource::Plugin => "plugin",
        Resource::Theme => "theme",
    }
}

fn value_cell(v: Option<&str>) -> String {
    match v {
        Some(v) => table_code(v),
        None => "*(absent)*".to_owned(),
    }
}

/// The desired field a change comes from.
fn field(c: &Change) -> String {
    let want = c
        .desired
        .as_deref()
        .map_or_else(|| "must be absent".to_owned(), code_span);
    let key = &c.key;
    match c.resource {
        Resource::Header => format!("{}: {want}", code_span(&format!("headers.{key}"))),
        Resource::Redirect => format!("`redirects` from {}: {want}", code_span(key)),
        Resource::Certificate => format!("`certificate` ({}): {want}", code_span(key)),
        Resource::Core => format!("`software.core`: {want}"),
        Resource::Plugin => format!("{}: {want}", code_span(&format!("software.plugins.{key}"))),
        Resource::Theme => format!("{}: {want}", code_span(&format!("software.themes.{key}"))),
    }
}

/// The configuration for the header and redirect changes: in the syntax of the site's own
/// provider when it has one (a `_headers` site is never told to edit nginx); otherwise in
/// every provider's syntax.
fn config(site: &Site, changes: &[(Change, String)]) -> String {
    let changes: Vec<Change> = changes.iter().map(|(c, _)| c.clone()).collect();
    if let Some(m) = &site.manage.server {
        return crate::provider::kind(m.provider).advice(&changes);
    }
    let out: Vec<String> = crate::provider::kinds()
        .map(|k| k.advice(&changes))
        .filter(|a| !a.is_empty())
        .collect();
    out.join("\n")
}
