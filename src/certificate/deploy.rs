//! Deploying an issued certificate: back up certificate and key, write both atomically (the
//! key with mode 0600), test the server config, reload, verify over TLS that the new
//! certificate is served; on any failure put both files back and reload again.

use std::path::Path;

use secrecy::{ExposeSecret, SecretSlice};

use super::issue::Issued;
use super::{Acme, AcmeError};
use crate::spec::Site;
use crate::transport::Transport;
use crate::verify::Verify;

/// Mode of every private key siteward writes.
const KEY_MODE: u32 = 0o600;

/// Writes `issued` where `acme` says, then test → reload → verify; restores on failure.
pub(super) async fn deploy(
    acme: &Acme,
    site: &Site,
    transport: &Transport,
    issued: &Issued,
    verify: &Verify<'_>,
) -> Result<(), AcmeError> {
    // 1. Back up what is there now (kept in memory only).
    let old_cert = transport.read(&acme.cert_path).await?;
    let old_key = transport.read(&acme.key_path).await?.map(SecretSlice::from);
    let job = Job {
        acme,
        transport,
        old_cert: old_cert.as_deref(),
        old_key: old_key.as_ref().map(ExposeSecret::expose_secret),
    };
    // 2. Write key, then certificate, atomically.
    let written = async {
        transport
            .write_mode(&acme.key_path, issued.key_pem.expose().as_bytes(), KEY_MODE)
            .await?;
        transport
            .write(&acme.cert_path, issued.chain_pem.as_bytes())
            .await
    }
    .await;
    if let Err(e) = written {
        return Err(job.rollback("write", e.to_string(), false).await);
    }
    tracing::info!(path = %acme.cert_path.display(), "certificate and key written");
    // 3. Test the server config with the new files.
    if let Err(detail) = job.command(&acme.test).await {
        return Err(job.rollback("test", detail, false).await);
    }
    // 4. Reload.
    if let Err(detail) = job.command(&acme.reload).await {
        return Err(job.rollback("reload", detail, true).await);
    }
    // 5. Verify over TLS: the new serial, and no applied certificate change left.
    if let Err(detail) = verify.until_served(site).await {
        return Err(job.rollback("verify", detail, true).await);
    }
    Ok(())
}

/// One deploy in progress: where to put things back.
struct Job<'a> {
    acme: &'a Acme,
    transport: &'a Transport,
    old_cert: Option<&'a [u8]>,
    old_key: Option<&'a [u8]>,
}

impl Job<'_> {
    /// Runs a test or reload command; the error is the tool's own output.
    async fn command(&self, argv: &[String]) -> Result<(), String> {
        let out = self.transport.run(argv).await.map_err(|e| e.to_string())?;
        if out.success() {
            Ok(())
        } else {
            Err(format!("`{}`: {}", argv.join(" "), out.message()))
        }
    }

    /// Puts both files back (or removes new ones), reloads when the new files may have been
    /// loaded, and builds the error for the failed `stage`.
    async fn rollback(&self, stage: &'static str, detail: String, reload: bool) -> AcmeError {
        tracing::warn!(
            stage,
            "certificate deploy failed; restoring the previous files"
        );
        let mut problems = Vec::new();
        let key = self.restore(&self.acme.key_path, self.old_key, Some(KEY_MODE));
        if let Err(e) = key.await {
            problems.push(e);
        }
        if let Err(e) = self
            .restore(&self.acme.cert_path, self.old_cert, None)
            .await
        {
            problems.push(e);
        }
        // A reload that failed once may fail again; the server then still runs the old files.
        if reload
            && stage != "reload"
            && let Err(e) = self.command(&self.acme.reload).await
        {
            problems.push(format!("reload after restoring failed: {e}"));
        }
        if problems.is_empty() {
            AcmeError::Deploy { stage, detail }
        } else {
            AcmeError::RollbackFailed {
                stage,
                detail,
                rollback: problems.join("; "),
                path: self.acme.cert_path.clone(),
            }
        }
    }

    async fn restore(
        &self,
        path: &Path,
        old: Option<&[u8]>,
        mode: Option<u32>,
    ) -> Result<(), String> {
        let done = match (old, mode) {
            (Some(data), Some(mode)) => self.transport.write_mode(path, data, mode).await,
            (Some(data), None) => self.transport.write(path, data).await,
            (None, _) => self.transport.remove(path).await,
        };
        done.map_err(|e| e.to_string())
    }
}
