//! `siteward proposals`: the open proposals across the fleet, read from the
//! `siteward-proposals/<site>` branches — drift change requests (`PROPOSAL.md`) and version bumps
//! (`UPDATES.md`). Read-only. `--format markdown` prints each proposal's Markdown, ready to be a
//! pull-request description.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::cli::Format;
use crate::exit::Exit;
use crate::proposal::list::{Listed, list};
use crate::report::escape::text;
use crate::survey;

/// Runs `siteward proposals`.
pub fn run(repo: &Path, sites: &[String], all: bool, format: Format) -> anyhow::Result<Exit> {
    // The prefix comes from siteward.yaml: invalid input stops here.
    let Some(state) = survey::load_or_report(repo, "nothing was listed")? else {
        return Ok(Exit::Error);
    };
    if let Some(unknown) = sites
        .iter()
        .find(|s| !state.sites.keys().any(|k| k.as_str() == s.as_str()))
    {
        anyhow::bail!("no site `{unknown}` in the state repo");
    }
    let git = crate::git::Repo::open(repo)?;
    let found: Vec<Listed> = list(&git, &state.settings.proposals_prefix)?
        .into_iter()
        .filter(|p| all || p.status == "open")
        .filter(|p| sites.is_empty() || sites.contains(&p.site))
        .collect();
    let out = match format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                version: u32,
                proposals: &'a [Listed],
            }
            let mut s = serde_json::to_string_pretty(&Out {
                version: 1,
                proposals: &found,
            })?;
            s.push('\n');
            s
        }
        Format::Markdown => {
            found
                .iter()
                .map(|p| p.markdown.trim_end().to_owned())
                .collect::<Vec<_>>()
                .join("\n\n---\n\n")
                + if found.is_empty() { "" } else { "\n" }
        }
        Format::Text => render_text(&found, all),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(Exit::Ok)
}

fn render_text(found: &[Listed], all: bool) -> String {
    let mut out = String::new();
    for p in found {
        let _ = writeln!(
            out,
            "{}  {}  {}  {}  ({} at {}, {})",
            text(&p.site),
            p.kind,
            p.status,
            text(&p.title),
            text(&p.branch),
            &p.commit[..12.min(p.commit.len())],
            p.updated
        );
        for b in &p.bumps {
            let security = if b.security.is_empty() {
                String::new()
            } else {
                format!("  security: fixes {}", b.security.join(", "))
            };
            let _ = writeln!(
                out,
                "    {} {}: {} → {}{}",
                b.kind.as_str(),
                text(&b.slug),
                text(&b.from),
                text(&b.to),
                text(&security)
            );
        }
    }
    let open = found.iter().filter(|p| p.status == "open").count();
    let _ = writeln!(
        out,
        "{open} open proposal(s){}",
        if all {
            format!(", {} resolved", found.len() - open)
        } else {
            String::new()
        }
    );
    out
}
