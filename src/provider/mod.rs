//! Providers: the execution layer that turns a site's desired web-server state into files and
//! commands on a target. The core decides what to change; a provider only executes:
//!
//! - [`Provider::render`]: the desired config text (secrets shown as digests),
//! - [`Provider::observe`]: the current config text, the provider's own view,
//! - [`Provider::applicable_to`]: whether it can apply one planned change,
//! - [`Provider::apply`]: back up, write, test, reload, verify; roll back on any failure,
//! - [`Provider::verify`]: check over HTTP that the desired state is served.
//!
//! # Guarantees
//! - Apply is idempotent: when the file already holds the rendered config nothing is written,
//!   tested or reloaded.
//! - A failed test, reload or verification never leaves the new config in place: the previous
//!   file is restored (or the new one removed) and, after a reload, the server reloaded again.
//! - Secret header values are written to the target file only; every returned text, outcome
//!   and error shows them as `<secret sha256:…>`.

mod desired;
mod headers_file;
mod nginx;
mod sequence;
mod verify;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::plan::{Action, Change, Resource};
use crate::spec::{ServerManage, ServerProvider, Site, SiteName};
use crate::transport::Transport;

pub use desired::redacted;
pub use nginx::quoted as nginx_quoted;

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

/// Whether a provider can apply a change, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applicability {
    Yes,
    No(String),
}

impl Applicability {
    /// For the plan's `applicable` field.
    pub fn is_yes(&self) -> bool {
        matches!(self, Applicability::Yes)
    }
}

/// What both providers share: where the file is and which commands run around a write.
#[derive(Debug, Clone)]
struct Target {
    site: SiteName,
    path: PathBuf,
    repo: PathBuf,
    test: Option<Vec<String>>,
    reload: Option<Vec<String>>,
}

/// How a site's web-server configuration is managed (`manage.server.provider`).
#[derive(Debug, Clone)]
pub enum Provider {
    /// An nginx include file inside the site's `server {}` block.
    Nginx(Nginx),
    /// A `_headers` file for static hosting.
    HeadersFile(HeadersFile),
}

/// The nginx provider (see `nginx.rs` for the include contract).
#[derive(Debug, Clone)]
pub struct Nginx(Target);

/// The `_headers` provider (see `headers_file.rs` for the block contract).
#[derive(Debug, Clone)]
pub struct HeadersFile(Target);

/// Within this time a change must be served after reload.
const VERIFY_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

impl Provider {
    /// The provider of `site`'s `manage.server`; `None` when the site has none. `repo` is the
    /// state repo root: relative `config` and `file:` secret paths are relative to it.
    pub fn for_site(site: &Site, repo: &Path) -> Result<Option<Provider>, ProviderError> {
        let Some(m) = &site.manage.server else {
            return Ok(None);
        };
        let target = Target::new(site, m, repo)?;
        Ok(Some(match m.provider {
            ServerProvider::Nginx => {
                let words = |d: &[&str]| d.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
                Provider::Nginx(Nginx(Target {
                    test: target.test.or_else(|| Some(words(nginx::TEST))),
                    reload: target.reload.or_else(|| Some(words(nginx::RELOAD))),
                    ..target
                }))
            }
            ServerProvider::HeadersFile => Provider::HeadersFile(HeadersFile(target)),
        }))
    }

    fn target(&self) -> &Target {
        match self {
            Provider::Nginx(Nginx(t)) | Provider::HeadersFile(HeadersFile(t)) => t,
        }
    }

    /// The provider's name as in `manage.server.provider` and the plan's `provider` field.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Nginx(_) => ServerProvider::Nginx.as_str(),
            Provider::HeadersFile(_) => ServerProvider::HeadersFile.as_str(),
        }
    }

    /// The managed file on the target.
    pub fn config_path(&self) -> &Path {
        &self.target().path
    }

    fn fail(&self, stage: Stage, detail: impl fmt::Display) -> ProviderError {
        ProviderError::Failed {
            site: self.target().site.clone(),
            provider: self.name(),
            stage,
            detail: detail.to_string(),
            restored: false,
        }
    }

    /// The desired config for `site`, with secrets resolved (they stay out of `text`).
    pub fn render(&self, site: &Site) -> Result<Rendered, ProviderError> {
        let fail = |e| self.fail(Stage::Render, e);
        let headers = desired::headers(site, &self.target().repo).map_err(fail)?;
        let (text, full) = match self {
            Provider::Nginx(_) => (
                nginx::render(site, &headers, false).map_err(fail)?,
                nginx::render(site, &headers, true).map_err(fail)?,
            ),
            Provider::HeadersFile(_) => (
                headers_file::render(site, &headers, false),
                headers_file::render(site, &headers, true),
            ),
        };
        Ok(Rendered { text, full })
    }

    /// The provider's own view of what is on the target now (`None`: nothing managed yet).
    pub async fn observe(
        &self,
        site: &Site,
        transport: &Transport,
    ) -> Result<Option<String>, ProviderError> {
        let current = transport
            .read(self.config_path())
            .await
            .map_err(|e| self.fail(Stage::Observe, e))?;
        self.view(site, current.as_deref())
            .map_err(|e| self.fail(Stage::Observe, e))
    }

    /// The public view of file content `current`.
    fn view(&self, site: &Site, current: Option<&[u8]>) -> Result<Option<String>, String> {
        let Some(bytes) = current else {
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("`{}` is not UTF-8 text", self.config_path().display()))?;
        match self {
            Provider::Nginx(_) => Ok(Some(nginx::public_view(site, text))),
            Provider::HeadersFile(_) => headers_file::public_view(site, text),
        }
    }

    /// The whole new file: the include itself, or the `_headers` file with the block spliced in.
    fn new_file(&self, rendered: &Rendered, current: Option<&[u8]>) -> Result<Vec<u8>, String> {
        match self {
            Provider::Nginx(_) => Ok(rendered.full.clone().into_bytes()),
            Provider::HeadersFile(_) => {
                let text = match current {
                    Some(b) => std::str::from_utf8(b).map_err(|_| {
                        format!("`{}` is not UTF-8 text", self.config_path().display())
                    })?,
                    None => "",
                };
                headers_file::splice(text, &rendered.full).map(String::into_bytes)
            }
        }
    }

    /// Whether this provider can apply `change` for `site`, given its current view `observed`
    /// (from [`Provider::observe`]).
    pub fn applicable_to(
        &self,
        site: &Site,
        change: &Change,
        observed: Option<&str>,
    ) -> Applicability {
        let observed = observed.unwrap_or("");
        let elsewhere = || {
            Applicability::No(format!(
                "`{}` is not set by siteward's file `{}`; it comes from elsewhere \
                 (server config or application): remove it there",
                change.key,
                self.config_path().display()
            ))
        };
        match (change.resource, self) {
            (Resource::Header, _) if change.action == Action::Remove => {
                let ours = match self {
                    Provider::Nginx(_) => nginx::sets_header(observed, &change.key),
                    Provider::HeadersFile(_) => headers_file::sets_header(observed, &change.key),
                };
                if ours {
                    Applicability::Yes
                } else {
                    elsewhere()
                }
            }
            (Resource::Header, Provider::Nginx(_)) => {
                match change
                    .desired
                    .as_deref()
                    .map(|v| nginx::quoted(v, &change.key))
                {
                    Some(Err(why)) => Applicability::No(why),
                    _ => Applicability::Yes,
                }
            }
            (Resource::Header, Provider::HeadersFile(_)) => Applicability::Yes,
            (Resource::Redirect, Provider::Nginx(_)) if change.action == Action::Remove => {
                if nginx::has_redirect(observed) {
                    Applicability::Yes
                } else {
                    elsewhere()
                }
            }
            (Resource::Redirect, Provider::Nginx(_)) => {
                let served = nginx::redirect(site).is_some_and(|r| r.from.as_str() == change.key);
                if served {
                    Applicability::Yes
                } else {
                    Applicability::No(format!(
                        "nginx manages only the redirect from `http://{}/` to https inside the \
                         site's server block; set up `{}` in the server config",
                        site.url.host(),
                        change.key
                    ))
                }
            }
            (Resource::Redirect, Provider::HeadersFile(_)) => Applicability::No(
                "a `_headers` file cannot redirect; use the host's `_redirects` file".to_owned(),
            ),
            (r, _) => Applicability::No(format!(
                "{} manages headers{}, not {r:?} changes",
                self.name(),
                if matches!(self, Provider::Nginx(_)) {
                    " and redirects"
                } else {
                    ""
                },
            )),
        }
    }

    /// What to check over HTTP after an apply; `None` when this provider cannot know when the
    /// change goes live (a `_headers` file without a deploy `reload_command`).
    fn expectations(&self, site: &Site) -> Result<Option<verify::Expect>, String> {
        let headers = desired::headers(site, &self.target().repo)?;
        Ok(match self {
            Provider::Nginx(_) => Some(verify::Expect {
                headers,
                redirects: nginx::redirect(site).into_iter().cloned().collect(),
            }),
            Provider::HeadersFile(HeadersFile(t)) => t.reload.as_ref().map(|_| verify::Expect {
                headers,
                redirects: Vec::new(),
            }),
        })
    }

    /// Checks over HTTP that the desired headers (and nginx redirect) are served, retrying for
    /// up to 5 s.
    pub async fn verify(&self, site: &Site) -> Result<(), ProviderError> {
        let fail = |e| self.fail(Stage::Verify, e);
        let expect = self.expectations(site).map_err(fail)?.unwrap_or_default();
        verify::until_served(site, &self.target().repo, &expect, VERIFY_BUDGET)
            .await
            .map_err(fail)
    }

    /// Applies the desired config: back up, write atomically, test, reload, verify; on any
    /// failure restore the backup (or remove the new file) and reload again.
    pub async fn apply(
        &self,
        site: &Site,
        transport: &Transport,
    ) -> Result<ApplyOutcome, ProviderError> {
        use tracing::Instrument;
        let span = tracing::info_span!("apply", site = %self.target().site, provider = self.name());
        self.apply_steps(site, transport, false)
            .instrument(span)
            .await
    }

    /// As [`Provider::apply`], for a site whose previous apply was killed (the crash journal
    /// says so): a file that run left behind and that fails the config test may be removed.
    pub async fn recover(
        &self,
        site: &Site,
        transport: &Transport,
    ) -> Result<ApplyOutcome, ProviderError> {
        use tracing::Instrument;
        let span =
            tracing::info_span!("recover", site = %self.target().site, provider = self.name());
        self.apply_steps(site, transport, true)
            .instrument(span)
            .await
    }

    async fn apply_steps(
        &self,
        site: &Site,
        transport: &Transport,
        recovering: bool,
    ) -> Result<ApplyOutcome, ProviderError> {
        let t = self.target();
        // 1. Render the desired config, secrets resolved.
        let rendered = self.render(site)?;
        let expect = self
            .expectations(site)
            .map_err(|e| self.fail(Stage::Render, e))?;
        // 2. Back up: read what is there now.
        let backup = transport
            .read(&t.path)
            .await
            .map_err(|e| self.fail(Stage::Write, e))?;
        let before = self
            .view(site, backup.as_deref())
            .map_err(|e| self.fail(Stage::Render, e))?;
        // 3. Build the new file; nothing to do when it is already there.
        let new = self
            .new_file(&rendered, backup.as_deref())
            .map_err(|e| self.fail(Stage::Render, e))?;
        // Resolved secret values, scrubbed from any command output that becomes an error.
        let secrets: Vec<String> = desired::headers(site, &t.repo)
            .map_err(|e| self.fail(Stage::Render, e))?
            .into_iter()
            .filter(|h| h.secret)
            .map(|h| h.value)
            .collect();
        let job = sequence::Job {
            provider: self,
            site,
            transport,
            backup: backup.as_deref(),
            expect: expect.as_ref(),
            recovering,
            secrets: &secrets,
        };
        if backup.as_deref() == Some(new.as_slice()) {
            // The file is right; when the server serves it too there is nothing to do. When it
            // does not (a run was killed before its reload, or another layer overrides it),
            // test, reload and verify.
            let served = match expect.as_ref() {
                Some(e) => verify::until_served(site, &t.repo, e, std::time::Duration::ZERO)
                    .await
                    .is_ok(),
                None => true,
            };
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
            verified: expect.is_some(),
        })
    }
}

impl Target {
    fn new(site: &Site, m: &ServerManage, repo: &Path) -> Result<Target, ProviderError> {
        if m.transport.host.is_some() && m.config.is_relative() {
            return Err(ProviderError::Failed {
                site: site.name.clone(),
                provider: m.provider.as_str(),
                stage: Stage::Render,
                detail: format!(
                    "`manage.server.config` `{}` must be an absolute path when `host` is set",
                    m.config.display()
                ),
                restored: false,
            });
        }
        Ok(Target {
            site: site.name.clone(),
            path: crate::load::site::resolve(repo, &m.config),
            repo: repo.to_path_buf(),
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
        let r = nginx(&s).render(&s).expect("render");
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
        let r = nginx(&s).render(&s).expect("render");
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
        }
    }

    #[test]
    fn absent_headers_from_elsewhere_are_not_applicable() {
        let s = site("headers:\n  Server: absent\n");
        let p = nginx(&s);
        let ours = "add_header Server \"x\" always;\n";
        let remove = change(Resource::Header, "server", Action::Remove, None);
        assert!(p.applicable_to(&s, &remove, Some(ours)).is_yes());
        assert!(!p.applicable_to(&s, &remove, Some("# empty\n")).is_yes());
        let add = change(Resource::Header, "x-a", Action::Add, Some("1"));
        assert!(p.applicable_to(&s, &add, None).is_yes());
        let dollar = change(Resource::Header, "x-a", Action::Add, Some("$x"));
        assert!(!p.applicable_to(&s, &dollar, None).is_yes());
        let plugin = change(Resource::Plugin, "akismet", Action::Add, Some("1.0"));
        assert!(!p.applicable_to(&s, &plugin, None).is_yes());
        let www = change(
            Resource::Redirect,
            "http://www.shop.example/",
            Action::Add,
            Some("x"),
        );
        assert!(!p.applicable_to(&s, &www, None).is_yes());
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
