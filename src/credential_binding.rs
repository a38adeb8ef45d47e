//! A credential goes only where the trusted revision sends it.
//!
//! `plan` on a pull request reads site files the pull request wrote. A site with
//! `manage.software.via: rest` sends its application password to `url` while observing; a pull
//! request could point `url` (or `connect`, or `ca`, or the certificate check) at a server it
//! controls, or point `app_password` at another secret, and read the password there. With
//! `plan --changed-since REV` (the base branch, in a pull request), a site's password is sent
//! only when REV's desired state sends the same secret reference to the same destination:
//! otherwise it is withheld, and the site's software is `unknown` with the reason.
//!
//! The destination is everything that decides where the bytes go and whom TLS trusts: the
//! origin of `url`, `connect`, `connect_http`, `insecure_skip_verify` and `ca` — its path,
//! and, for a CA file inside the state repo, its content at REV against the working tree's.

use std::collections::HashMap;
use std::path::{Component, Path};

use crate::git::{CommitId, Repo};
use crate::secret::RunSecrets;
use crate::spec::{ConnectTo, DesiredState, SecretRef, Site};

/// Where a site sends its application password, and which one.
#[derive(Debug, PartialEq, Eq)]
struct Destination<'s> {
    secret: &'s SecretRef,
    origin: url::Origin,
    connect: Option<&'s ConnectTo>,
    connect_http: Option<&'s ConnectTo>,
    insecure_skip_verify: bool,
    ca: Option<&'s Path>,
}

impl<'s> Destination<'s> {
    /// `None` when `site` sends no application password.
    fn of(site: &'s Site) -> Option<Destination<'s>> {
        let secret = site.manage.software.as_ref()?.app_password.as_ref()?;
        Some(Destination {
            secret,
            origin: site.url.url().origin(),
            connect: site.connect.as_ref(),
            connect_http: site.connect_http.as_ref(),
            insecure_skip_verify: site.insecure_skip_verify,
            ca: site.ca.as_deref(),
        })
    }
}

/// Withholds from `secrets` the application password of every site in `sites` whose
/// destination differs from the one `before` (the desired state at `rev`) gives the same site.
/// `repo` is the state repo's work tree, `git` its repository.
pub fn withhold_unbound(
    secrets: &mut RunSecrets,
    sites: &[&Site],
    before: &DesiredState,
    rev: &str,
    git: &Repo,
    repo: &Path,
) {
    // A CA file shared by many sites is compared once.
    let commit = git.resolve(rev).ok();
    let mut ca_checked: HashMap<&Path, Option<String>> = HashMap::new();
    for site in sites {
        let Some(now) = Destination::of(site) else {
            continue;
        };
        let trusted = before.sites.get(&site.name).and_then(Destination::of);
        let reason = match trusted {
            None => Some(format!(
                "`{rev}` sends no application password to `{}`",
                site.name
            )),
            Some(then) if then != now => Some(format!(
                "this revision changes where `{}` sends its application password, or which \
                 one, against `{rev}` ({})",
                site.name,
                differences(&then, &now).join(", ")
            )),
            Some(_) => now
                .ca
                .and_then(|ca| {
                    ca_checked
                        .entry(ca)
                        .or_insert_with(|| ca_changed(ca, commit, git, repo))
                        .clone()
                })
                .map(|what| {
                    format!("this revision changes the `ca` file `{what}` against `{rev}`")
                }),
        };
        if let Some(reason) = reason {
            secrets.withhold_app_password(
                site.name.as_str(),
                format!(
                    "application password withheld: {reason}; a change under review cannot \
                     send a credential to a new destination — it is used once merged"
                ),
            );
        }
    }
}

/// The fields that differ, by their key in the site file.
fn differences(then: &Destination, now: &Destination) -> Vec<&'static str> {
    [
        (then.secret != now.secret, "manage.software.app_password"),
        (then.origin != now.origin, "url"),
        (then.connect != now.connect, "connect"),
        (then.connect_http != now.connect_http, "connect_http"),
        (
            then.insecure_skip_verify != now.insecure_skip_verify,
            "insecure_skip_verify",
        ),
        (then.ca != now.ca, "ca"),
    ]
    .into_iter()
    .filter_map(|(differs, key)| differs.then_some(key))
    .collect()
}

/// The repo-relative CA path when the file at `ca` inside the state repo differs between
/// `commit` (the trusted revision; `None` when it could not be resolved) and the work tree, or
/// cannot be compared. An absolute path names a file of the machine, which no revision changes.
fn ca_changed(ca: &Path, commit: Option<CommitId>, git: &Repo, repo: &Path) -> Option<String> {
    if ca.is_absolute() {
        return None;
    }
    let rel: Vec<String> = ca
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let rel = rel.join("/");
    let then = commit.and_then(|commit| git.read_file_at(commit, &rel).ok().flatten());
    let now = crate::load::file::read(
        &repo.join(ca),
        crate::load::file::MAX_PEM_BYTES,
        crate::load::file::Links::Follow,
    )
    .ok();
    match (then, now) {
        (Some(then), Some(now)) if then == now => None,
        _ => Some(rel),
    }
}
