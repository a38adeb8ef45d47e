//! The write → test → reload → verify sequence of an apply, and its rollback. Shared by every
//! provider so that the safety rule lives in one place: a config that failed any step is never
//! left in place. "Write" is the provider's (`Provider::write`): a file replaced atomically, or
//! an `exec` program's apply.

use super::{Provider, ProviderError, Stage};
use crate::spec::Site;
use crate::transport::Transport;
use crate::verify::Verify;

/// One apply in progress: the backup taken and what to check afterwards.
pub(super) struct Job<'a> {
    pub provider: &'a Provider,
    pub site: &'a Site,
    pub transport: &'a Transport,
    /// The file as it was before (`None`: there was none).
    pub backup: Option<&'a [u8]>,
    /// How to check that the change is served afterwards (`None`: not verifiable).
    pub verify: Option<&'a Verify<'a>>,
    /// The crash journal says a killed run was applying this site.
    pub recovering: bool,
    /// Resolved secret values: replaced by their digest in any command output.
    pub secrets: &'a [&'a str],
}

/// Runs a test or reload command on `transport`; the error is the tool's own output, with any
/// of `secrets` (a hook may echo the file it deploys) replaced by its digest.
pub(super) async fn command(
    transport: &Transport,
    argv: &[String],
    secrets: &[&str],
) -> Result<(), String> {
    let out = transport.run(argv).await.map_err(|e| e.to_string())?;
    if out.success() {
        return Ok(());
    }
    let mut message = out.message();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret, &super::redacted(secret));
    }
    Err(message)
}

impl Job<'_> {
    /// Writes `new` and takes it through test, reload and verification.
    pub async fn run(&self, new: &[u8]) -> Result<(), ProviderError> {
        let p = self.provider;
        // 1. Write atomically; a failed write leaves the old file untouched. A program may
        //    have applied part of it: that is restored like any later failure.
        if let Err(e) = p.write(self.site, self.transport, new).await {
            return Err(if p.partial_writes() {
                self.rollback(Stage::Write, e, false).await
            } else {
                p.fail(Stage::Write, e)
            });
        }
        tracing::info!(path = %p.config_path().display(), "config written");
        self.test_reload_verify(true).await
    }

    /// The file already holds the desired config but the server does not serve it (a run was
    /// killed between write and reload): test, reload and verify without writing. Nothing was
    /// written by this run, so there is nothing to roll back.
    pub async fn settle(&self) -> Result<(), ProviderError> {
        self.test_reload_verify(false).await
    }

    /// Test, reload and verify; `written`: this run wrote (so a failure rolls back).
    async fn test_reload_verify(&self, written: bool) -> Result<(), ProviderError> {
        let t = &self.provider.target;
        let fail = |stage, detail: String, reload| async move {
            if written {
                self.rollback(stage, detail, reload).await
            } else if stage == Stage::Test && self.recovering {
                self.drop_leftover(detail).await
            } else {
                self.provider.fail(stage, detail)
            }
        };
        // 2. Test the whole server config with the new file in place.
        if let Some(test) = &t.test
            && let Err(detail) = self.command(test).await
        {
            return Err(fail(Stage::Test, detail, false).await);
        }
        // 3. Reload; after a failed reload the server may have half-loaded, so reload again.
        if let Some(reload) = &t.reload
            && let Err(detail) = self.command(reload).await
        {
            return Err(fail(Stage::Reload, detail, true).await);
        }
        // 4. Verify that the change is served.
        if let Some(verify) = self.verify
            && let Err(detail) = verify.until_served(self.site).await
        {
            return Err(fail(Stage::Verify, detail, true).await);
        }
        Ok(())
    }

    /// Runs a test or reload command; the error is the tool's own output, with any secret
    /// value (a hook may echo the file it deploys) replaced by its digest.
    async fn command(&self, argv: &[String]) -> Result<(), String> {
        command(self.transport, argv, self.secrets).await
    }

    /// The config test fails with the file a killed run left behind. Its previous content died
    /// with that run, so the file is moved aside and the test run again: when the server's
    /// config passes without it, it stays removed (a broken file is never left in place); when
    /// the test fails anyway, the cause is elsewhere and the file is put back untouched.
    async fn drop_leftover(&self, detail: String) -> ProviderError {
        let (t, p) = (&self.provider.target, self.provider);
        let Some(content) = self.backup else {
            return self.provider.fail(Stage::Test, detail);
        };
        if let Err(e) = p.remove(self.site, self.transport).await {
            return self.provider.fail(
                Stage::Test,
                format!("{detail}; removing the file an interrupted run left failed: {e}"),
            );
        }
        let without = match &t.test {
            Some(test) => self.command(test).await,
            None => Ok(()),
        };
        match without {
            Ok(()) => self.provider.fail(
                Stage::Test,
                format!("{detail} (the file an interrupted run left failed the config test and was removed)"),
            ),
            Err(_) => match p.write(self.site, self.transport, content).await {
                Ok(()) => self.provider.fail(
                    Stage::Test,
                    format!("{detail} (the config test fails without this site's file too; the file was left in place)"),
                ),
                Err(e) => ProviderError::RollbackFailed {
                    site: t.site.clone(),
                    provider: self.provider.name(),
                    stage: Stage::Test,
                    detail,
                    path: p.config_path().to_path_buf(),
                    rollback: format!("putting the file back failed: {e}"),
                },
            },
        }
    }

    /// Restores the backup (or removes the new file), reloads when `reload` says the new
    /// config may have been loaded, and builds the error for the failed `stage`.
    async fn rollback(&self, stage: Stage, detail: String, reload: bool) -> ProviderError {
        let (t, p) = (&self.provider.target, self.provider);
        tracing::warn!(%stage, "apply failed; restoring the previous config");
        let restored = match self.backup {
            Some(old) => p.write(self.site, self.transport, old).await,
            None => p.remove(self.site, self.transport).await,
        };
        let reloaded = match (&t.reload, reload) {
            (Some(cmd), true) => self.command(cmd).await,
            _ => Ok(()),
        };
        let failed = |rollback: String| ProviderError::RollbackFailed {
            site: t.site.clone(),
            provider: self.provider.name(),
            stage,
            detail: detail.clone(),
            path: p.config_path().to_path_buf(),
            rollback,
        };
        match (restored, reloaded) {
            (Err(e), _) => failed(e.to_string()),
            // The reload that just failed failing again changes nothing: the server never left
            // the old config, and the file is the old one again.
            (Ok(()), Err(e)) if stage != Stage::Reload => {
                failed(format!("reload after restoring failed: {e}"))
            }
            _ => ProviderError::Failed {
                site: t.site.clone(),
                provider: self.provider.name(),
                stage,
                detail,
                restored: true,
            },
        }
    }
}
