//! Providers: the execution layer that turns a site's desired web-server state into files and
//! commands on a target. The core decides what to change (the plan stage, [`crate::stage`]);
//! a provider renders, reads and applies its own file. One provider is one file under
//! `src/provider/` implementing [`ServerConfig`] plus one line in [`kind`]:
//!
//! - [`ServerConfig::render`]: the content siteward owns, from the desired state,
//! - [`ServerConfig::view`]: what the file on the target sets now (read during observation),
//! - [`ServerConfig::can_apply`]: whether it can make one planned change true, and why not,
//! - [`ServerConfig::advice`]: the lines an operator would write by hand, in its own syntax.
//!
//! [`Provider`] joins a kind with its target and runs the shared sequence (`sequence.rs`):
//! back up, write, test, reload, verify (by observing and diffing again, [`crate::verify`]),
//! and restore on any failure. The target is a file on a host (`config`, local or over ssh)
//! for every kind but `exec`, whose target is a program: reading it is the program's
//! `observe`, writing it the program's `apply` (`exec.rs`), so the same sequence serves both.
//!
//! # Guarantees
//! - Apply is idempotent: when the file already holds the rendered config and it is served,
//!   nothing is written, tested or reloaded.
//! - A failed test, reload or verification never leaves the new config in place: the previous
//!   file is restored (or the new one removed) and, after a reload, the server reloaded again.
//! - Secret header values are written to the target file only; every returned text, outcome
//!   and error shows them as `<secret sha256:…>`.

mod apache;
pub mod batch;
mod block;
mod desired;
mod exec;
mod headers_file;
mod htaccess;
mod nginx;
mod sequence;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::plan::{Action, Change, Resource};
use crate::secret::{Secret, SiteSecrets};
use crate::spec::{ServerManage, ServerProvider, Site, SiteName};
use crate::transport::Transport;
use crate::verify::Verify;

pub use desired::{DesiredHeader, redacted};

/// The step of an apply that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Observe,
    Render,
    Write,
    Test,
    Reload,
    Verify,
    Rollback,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Observe => "observe",
            Stage::Render => "render",
            Stage::Write => "write",
            Stage::Test => "test",
            Stage::Reload => "reload",
            Stage::Verify => "verify",
            Stage::Rollback => "rollback",
        })
    }
}

/// Why a provider could not do its job. `detail` carries the tool's own words (e.g. the stderr
/// of `nginx -t`) and never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// One step failed; the target holds what it held before the apply.
    #[error("site `{site}`: {provider} {stage} failed{}: {detail}", restored_note(*restored))]
    Failed {
        site: SiteName,
        provider: &'static str,
        stage: Stage,
        detail: String,
        /// Whether a written file had to be restored (false: nothing had been written yet).
        restored: bool,
    },
    /// A step failed and restoring the previous state failed too: a person must look.
    #[error(
        "site `{site}`: {provider} {stage} failed: {detail}; rollback failed too, \
         check `{path}` by hand: {rollback}"
    )]
    RollbackFailed {
        site: SiteName,
        provider: &'static str,
        stage: Stage,
        detail: String,
        path: PathBuf,
        rollback: String,
    },
}

fn restored_note(restored: bool) -> &'static str {
    if restored {
        " (previous config restored)"
    } else {
        ""
    }
}

impl ProviderError {
    /// The site the error is about.
    pub fn site(&self) -> &SiteName {
        match self {
            ProviderError::Failed { site, .. } | ProviderError::RollbackFailed { site, .. } => site,
        }
    }

    /// The failed stage; [`Stage::Rollback`] when restoring failed too.
    pub fn stage(&self) -> Stage {
        match self {
            ProviderError::Failed { stage, .. } => *stage,
            ProviderError::RollbackFailed { .. } => Stage::Rollback,
        }
    }
}

/// A rendered config. `text` is safe to show (secrets as digests); the real content is private.
#[derive(Clone)]
pub struct Rendered {
    /// The desired config as it may be printed, diffed and digested.
    pub text: String,
    full: String,
}

impl Rendered {
    /// The content as written to the target, secrets included (tests of the plan stage).
    #[cfg(test)]
    pub(crate) fn full(&self) -> &str {
        &self.full
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("text", &self.text)
            .finish()
    }
}

/// What [`Provider::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// False when the target already held the desired config (nothing was touched).
    pub changed: bool,
    /// The provider's view before the apply (`None`: no file / no block).
    pub before: Option<String>,
    /// The provider's view now (equal to [`Rendered::text`]).
    pub after: String,
    /// Whether the result was checked over HTTP.
    pub verified: bool,
}

/// What siteward's own file (or block) on the target sets now: the provider's view, read
/// during observation so that the plan stage can judge every change before anything runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// The owned content as it may be shown (secret values as digests); `None`: no file or
    /// no block yet.
    pub text: Option<String>,
    /// Lowercased names of the headers it sets.
    pub headers: BTreeSet<String>,
    /// The redirect sources (`from` URLs) it serves.
    pub redirects: BTreeSet<String>,
    /// The resources the target accepts, when it says so (an `exec` program's capabilities);
    /// `None`: whatever the kind can write.
    pub resources: Option<BTreeSet<Resource>>,
}

/// One kind of web-server configuration siteward can own (`manage.server.provider`). A kind
/// is pure: it renders and reads text and judges changes; [`Provider`] does the I/O.
pub trait ServerConfig: Send + Sync {
    /// The keyword of `manage.server.provider`, shown in plans as the change's provider.
    fn name(&self) -> &'static str;

    /// `test_command` and `reload_command` when the site sets none.
    fn default_commands(
        &self,
    ) -> (
        Option<&'static [&'static str]>,
        Option<&'static [&'static str]>,
    ) {
        (None, None)
    }

    /// The content siteward owns, from the desired headers (absent ones left out, secrets
    /// resolved) and the site; with `reveal` false secret values appear as digests.
    fn render(
        &self,
        site: &Site,
        headers: &[DesiredHeader],
        reveal: bool,
    ) -> Result<String, String>;

    /// The whole new file from the current one (`None`: no file) and the owned content. By
    /// default the owned content is the whole file.
    fn splice(&self, current: Option<&str>, owned: &str) -> Result<String, String> {
        let _ = current;
        Ok(owned.to_owned())
    }

    /// What the current file text sets.
    fn view(&self, site: &Site, current: &str) -> Result<View, String>;

    /// Whether an `add` or `change` of a header or redirect can be made true by this kind.
    /// (Removals and other resources are judged by [`Provider::can_apply`] for every kind.)
    fn can_apply(&self, site: &Site, change: &Change) -> Result<(), String>;

    /// Whether a change is live once the commands ran; `false` when the kind cannot know (a
    /// `_headers` file without a deploy `reload_command`).
    fn verifiable(&self, has_reload: bool) -> bool {
        let _ = has_reload;
        true
    }

    /// The configuration an operator would write by hand for `changes`, in this kind's
    /// syntax, with a one-line heading (for proposals); empty when nothing applies.
    fn advice(&self, changes: &[Change]) -> String;
}

/// The first line of a file siteward owns whole: whoever opens it learns not to edit it.
pub(super) fn managed_line(site: &Site) -> String {
    format!("# managed by siteward — do not edit; site {}\n", site.name)
}

/// The registry: the kind that serves a `manage.server.provider` keyword. Adding a provider
/// is one file and one line here.
pub fn kind(keyword: ServerProvider) -> &'static dyn ServerConfig {
    match keyword {
        ServerProvider::Nginx => &nginx::Nginx,
        ServerProvider::HeadersFile => &headers_file::HeadersFile,
        ServerProvider::Apache => &apache::Apache,
        ServerProvider::Htaccess => &htaccess::Htaccess,
        ServerProvider::Exec => &exec::Exec,
    }
}

/// Every registered kind, for advice to a site that no provider manages.
pub fn kinds() -> impl Iterator<Item = &'static dyn ServerConfig> {
    ServerProvider::ALL
        .iter()
        .filter_map(|k| k.parse().ok())
        .map(kind)
}

/// What every provider shares: where its content lives and which commands run around a write.
#[derive(Debug, Clone)]
struct Target {
    site: SiteName,
    place: Place,
    test: Option<Vec<String>>,
    reload: Option<Vec<String>>,
}

/// Where a provider's content lives.
#[derive(Debug, Clone)]
enum Place {
    /// A file (or the file holding siteward's block) at `config`, through the transport.
    File(PathBuf),
    /// A program that reports and applies the content (`exec`); it runs where siteward runs.
    Program(exec::Program),
}

/// A site's `manage.server`: its kind and its target.
#[derive(Clone)]
pub struct Provider {
    kind: &'static dyn ServerConfig,
    target: Target,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("kind", &self.kind.name())
            .field("target", &self.target)
            .finish()
    }
}

impl Provider {
    /// The provider of `site`'s `manage.server`; `None` when the site has none. `repo` is the
    /// state repo root: relative `config` and `file:` secret paths are relative to it.
    pub fn for_site(site: &Site, repo: &Path) -> Result<Option<Provider>, ProviderError> {
        let Some(m) = &site.manage.server else {
            return Ok(None);
        };
        let kind = kind(m.provider);
        let mut target = Target::new(site, m, repo)?;
        let words = |d: &[&str]| d.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let (test, reload) = kind.default_commands();
        target.test = target.test.or_else(|| test.map(words));
        target.reload = target.reload.or_else(|| reload.map(words));
        Ok(Some(Provider { kind, target }))
    }

    /// The provider's name as in `manage.server.provider` and the plan's `provider` field.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The managed file on the target (for `exec`: the program).
    pub fn config_path(&self) -> &Path {
        match &self.target.place {
            Place::File(path) => path,
            Place::Program(p) => p.path(),
        }
    }

    /// Reads the content on the target (`None`: no file yet).
    async fn read(&self, site: &Site, transport: &Transport) -> Result<Option<Vec<u8>>, String> {
        match &self.target.place {
            Place::File(path) => transport.read(path).await.map_err(|e| e.to_string()),
            Place::Program(p) => p.read(site).await.map(Some),
        }
    }

    /// Replaces the content on the target with `to`.
    async fn write(&self, site: &Site, transport: &Transport, to: &[u8]) -> Result<(), String> {
        match &self.target.place {
            Place::File(path) => transport.write(path, to).await.map_err(|e| e.to_string()),
            Place::Program(p) => p.write(site, to).await,
        }
    }

    /// Removes the content from the target (a file that was not there before).
    async fn remove(&self, site: &Site, transport: &Transport) -> Result<(), String> {
        match &self.target.place {
            Place::File(path) => transport.remove(path).await.map_err(|e| e.to_string()),
            Place::Program(p) => p.write(site, b"{}").await,
        }
    }

    /// Whether sites on one server may be applied together as one batch
    /// ([`batch`]): providers that own files; a program applies on its own.
    pub fn batchable(&self) -> bool {
        !self.partial_writes()
    }

    /// Whether a failed write may have changed part of the target (a program applies change
    /// by change; a file is replaced atomically or not at all).
    fn partial_writes(&self) -> bool {
        matches!(self.target.place, Place::Program(_))
    }

    fn fail(&self, stage: Stage, detail: impl fmt::Display) -> ProviderError {
        ProviderError::Failed {
            site: self.target.site.clone(),
            provider: self.name(),
            stage,
            detail: detail.to_string(),
            restored: false,
        }
    }

    /// The desired config for `site`, with its secret values (they stay out of `text`).
    pub fn render(&self, site: &Site, secrets: &SiteSecrets) -> Result<Rendered, ProviderError> {
        let fail = |e| self.fail(Stage::Render, e);
        let headers = desired::headers(site, secrets).map_err(fail)?;
        Ok(Rendered {
            text: self.kind.render(site, &headers, false).map_err(fail)?,
            full: self.kind.render(site, &headers, true).map_err(fail)?,
        })
    }

    /// The provider's own view of what is on the target now.
    pub async fn observe(&self, site: &Site, transport: &Transport) -> Result<View, ProviderError> {
        let current = self
            .read(site, transport)
            .await
            .map_err(|e| self.fail(Stage::Observe, e))?;
        self.view(site, current.as_deref())
            .map_err(|e| self.fail(Stage::Observe, e))
    }

    /// The view of a file's text, as [`Provider::observe`] reads it (tests of the plan stage).
    #[cfg(test)]
    pub(crate) fn observe_text(&self, site: &Site, text: &str) -> Result<View, String> {
        self.view(site, Some(text.as_bytes()))
    }

    /// The view of file content `current` (`None`: no file).
    fn view(&self, site: &Site, current: Option<&[u8]>) -> Result<View, String> {
        match current {
            None => Ok(View::default()),
            Some(bytes) => self.kind.view(site, self.utf8(bytes)?),
        }
    }

    fn utf8<'a>(&self, bytes: &'a [u8]) -> Result<&'a str, String> {
        std::str::from_utf8(bytes)
            .map_err(|_| format!("`{}` is not UTF-8 text", self.config_path().display()))
    }

    /// Whether this provider can make `change` true for `site`, given what its file sets now
    /// (`view`, from [`Provider::observe`]); the error says why not, in the user's terms.
    pub fn can_apply(&self, site: &Site, change: &Change, view: &View) -> Result<(), String> {
        match (change.resource, change.action) {
            (Resource::Header | Resource::Redirect, Action::Remove) => {
                let ours = match change.resource {
                    Resource::Header => view.headers.contains(&change.key),
                    _ => view.redirects.contains(&change.key),
                };
                if ours {
                    Ok(())
                } else {
                    Err(format!(
                        "`{}` is not set by siteward's file `{}`; it comes from elsewhere \
                         (server config or application): remove it there",
                        change.key,
                        self.config_path().display()
                    ))
                }
            }
            (Resource::Header | Resource::Redirect, _)
                if view
                    .resources
                    .as_ref()
                    .is_some_and(|r| !r.contains(&change.resource)) =>
            {
                Err(format!(
                    "`{}` does not manage {}s (its capabilities)",
                    self.config_path().display(),
                    change.resource.as_str()
                ))
            }
            (Resource::Header | Resource::Redirect, _) => self.kind.can_apply(site, change),
            (r, _) => Err(format!(
                "the {} provider manages headers and redirects, not {}",
                self.name(),
                r.as_str()
            )),
        }
    }

    /// The lines an operator would write for `changes`, in this provider's syntax.
    pub fn advice(&self, changes: &[Change]) -> String {
        self.kind.advice(changes)
    }

    /// Whether an apply is checked over HTTP afterwards.
    fn verifiable(&self) -> bool {
        self.kind.verifiable(self.target.reload.is_some())
    }

    /// Applies the desired config: back up, write atomically, test, reload, verify with
    /// `verify`; on any failure restore the backup (or remove the new file) and reload again.
    pub async fn apply(
        &self,
        site: &Site,
        transport: &Transport,
        secrets: &SiteSecrets,
        verify: &Verify<'_>,
    ) -> Result<ApplyOutcome, ProviderError> {
        use tracing::Instrument;
        let span = tracing::info_span!("apply", site = %self.target.site, provider = self.name());
        self.apply_steps(site, transport, secrets, verify, false)
            .instrument(span)
            .await
    }

    /// As [`Provider::apply`], for a site whose previous apply was killed (the crash journal
    /// says so): a file that run left behind and that fails the config test may be removed.
    pub async fn recover(
        &self,
        site: &Site,
        transport: &Transport,
        secrets: &SiteSecrets,
        verify: &Verify<'_>,
    ) -> Result<ApplyOutcome, ProviderError> {
        use tracing::Instrument;
        let span = tracing::info_span!("recover", site = %self.target.site, provider = self.name());
        self.apply_steps(site, transport, secrets, verify, true)
            .instrument(span)
            .await
    }

    async fn apply_steps(
        &self,
        site: &Site,
        transport: &Transport,
        secrets: &SiteSecrets,
        verify: &Verify<'_>,
        recovering: bool,
    ) -> Result<ApplyOutcome, ProviderError> {
        // 1. Render the desired config, secret values included.
        let rendered = self.render(site, secrets)?;
        // 2. Back up: read what is there now.
        let backup = self
            .read(site, transport)
            .await
            .map_err(|e| self.fail(Stage::Write, e))?;
        let before = self
            .view(site, backup.as_deref())
            .map_err(|e| self.fail(Stage::Render, e))?
            .text;
        // 3. Build the new file; nothing to do when it is already there.
        let current = backup
            .as_deref()
            .map(|b| self.utf8(b))
            .transpose()
            .map_err(|e| self.fail(Stage::Render, e))?;
        let new = self
            .kind
            .splice(current, &rendered.full)
            .map_err(|e| self.fail(Stage::Render, e))?
            .into_bytes();
        // Secret values, scrubbed from any command output that becomes an error.
        let scrub: Vec<&str> = secrets.values().map(Secret::expose).collect();
        let verifiable = self.verifiable();
        let job = sequence::Job {
            provider: self,
            site,
            transport,
            backup: backup.as_deref(),
            verify: verifiable.then_some(verify),
            recovering,
            secrets: &scrub,
        };
        if backup.as_deref() == Some(new.as_slice()) {
            // The file is right; when the server serves it too there is nothing to do. When it
            // does not (a run was killed before its reload, or another layer overrides it),
            // test, reload and verify.
            let served = !verifiable || verify.once(site).await.is_ok();
            if !served {
                job.settle().await?;
            }
            tracing::info!("file already in sync; nothing written");
            return Ok(ApplyOutcome {
                changed: false,
                before,
                after: rendered.text,
                verified: !served,
            });
        }
        // 4. Write, test, reload, verify; roll back on failure.
        job.run(&new).await?;
        Ok(ApplyOutcome {
            changed: true,
            before,
            after: rendered.text,
            verified: verifiable,
        })
    }
}

impl Target {
    fn new(site: &Site, m: &ServerManage, repo: &Path) -> Result<Target, ProviderError> {
        let fail = |detail: String| ProviderError::Failed {
            site: site.name.clone(),
            provider: m.provider.as_str(),
            stage: Stage::Render,
            detail,
            restored: false,
        };
        // The loader gives a file kind its `config` and `exec` its `command`.
        let place = match (&m.config, exec::Program::new(m, repo)) {
            (_, Some(program)) => Place::Program(program),
            (Some(config), None) if m.transport.host.is_some() && config.is_relative() => {
                return Err(fail(format!(
                    "`manage.server.config` `{}` must be an absolute path when `host` is set",
                    config.display()
                )));
            }
            (Some(config), None) => Place::File(crate::load::site::resolve(repo, config)),
            (None, None) => {
                return Err(fail(
                    "`manage.server` needs `config` (or `command` for `exec`)".to_owned(),
                ));
            }
        };
        Ok(Target {
            site: site.name.clone(),
            place,
            test: m.test_command.as_ref().map(|c| c.words().to_vec()),
            reload: m.reload_command.as_ref().map(|c| c.words().to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Source, load_sources};

    fn site(extra: &str) -> Site {
        let text = format!(
            "name: shop.example\nurl: https://shop.example/\n{extra}manage:\n  server:\n    \
             provider: nginx\n    config: /etc/nginx/siteward/shop.conf\n"
        );
        let (state, problems) = load_sources(&[Source {
            path: "sites/shop.example.yaml".into(),
            text,
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    fn nginx(site: &Site) -> Provider {
        Provider::for_site(site, Path::new("/repo"))
            .expect("valid")
            .expect("managed")
    }

    #[test]
    fn nginx_renders_sorted_headers_and_the_https_redirect() {
        let s = site(
            "headers:\n  X-Frame-Options: DENY\n  Content-Security-Policy: \"default-src 'self'\"\n  \
             Server: absent\nredirects:\n  - {from: 'http://shop.example/', to: 'https://shop.example/', status: 308}\n",
        );
        let r = nginx(&s).render(&s, &Default::default()).expect("render");
        assert_eq!(
            r.text,
            "# managed by siteward — do not edit; site shop.example\n\
             add_header Content-Security-Policy \"default-src 'self'\" always;\n\
             add_header X-Frame-Options \"DENY\" always;\n\
             if ($scheme = http) {\n    return 308 https://$host$request_uri;\n}\n"
        );
    }

    #[test]
    fn nginx_quotes_a_redirect_to_another_place() {
        let s = site(
            "redirects:\n  - {from: 'http://shop.example/', to: 'https://www.shop.example/x'}\n",
        );
        let r = nginx(&s).render(&s, &Default::default()).expect("render");
        assert!(
            r.text
                .contains("return 301 \"https://www.shop.example/x\";"),
            "{}",
            r.text
        );
    }

    fn change(resource: Resource, key: &str, action: Action, desired: Option<&str>) -> Change {
        Change {
            resource,
            key: key.to_owned(),
            action,
            live: None,
            desired: desired.map(str::to_owned),
            provider: Some("nginx".to_owned()),
            applicable: false,
            step: crate::plan::Step::Skip,
            reason: None,
        }
    }

    fn view(p: &Provider, s: &Site, text: &str) -> View {
        p.view(s, Some(text.as_bytes())).expect("view")
    }

    #[test]
    fn absent_headers_from_elsewhere_are_not_applicable() {
        let s = site("headers:\n  Server: absent\n");
        let p = nginx(&s);
        let ours = "add_header Server \"x\" always;\n";
        let remove = change(Resource::Header, "server", Action::Remove, None);
        let none = View::default();
        assert!(p.can_apply(&s, &remove, &view(&p, &s, ours)).is_ok());
        assert!(
            p.can_apply(&s, &remove, &view(&p, &s, "# empty\n"))
                .is_err()
        );
        let add = change(Resource::Header, "x-a", Action::Add, Some("1"));
        assert!(p.can_apply(&s, &add, &none).is_ok());
        let dollar = change(Resource::Header, "x-a", Action::Add, Some("$x"));
        assert!(p.can_apply(&s, &dollar, &none).is_err());
        let plugin = change(Resource::Plugin, "akismet", Action::Add, Some("1.0"));
        assert!(p.can_apply(&s, &plugin, &none).is_err());
        let www = change(
            Resource::Redirect,
            "http://www.shop.example/",
            Action::Add,
            Some("x"),
        );
        assert!(p.can_apply(&s, &www, &none).is_err());
    }

    #[test]
    fn remote_config_must_be_absolute() {
        let text = "name: s\nurl: https://s/\nmanage:\n  server:\n    provider: nginx\n    \
                    host: ssh://deploy@web01\n    config: conf/s.conf\n";
        let (state, problems) = load_sources(&[Source {
            path: "sites/s.yaml".into(),
            text: text.into(),
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        let s = state.sites.into_values().next().expect("site");
        let err = Provider::for_site(&s, Path::new("/repo")).expect_err("relative remote path");
        assert!(
            err.to_string()
                .contains("must be an absolute path when `host` is set"),
            "{err}"
        );
    }
}
