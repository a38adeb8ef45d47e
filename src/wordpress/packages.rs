//! Package sources: a directory (relative to the state repo, or absolute) or an https URL
//! holding `<slug>-<version>.zip` (core: `wordpress-<version>.zip`). A zip is chosen for a desired version, its sha256 is checked
//! against the pin before anything is installed, and an unpinned zip is refused unless the
//! desired state allows it (`software.allow_unpinned: true`). The bytes installed are read
//! again at apply time and must have the digest judged at plan time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::inventory::Kind;
use crate::spec::{Sha256Hex, Version, VersionSpec};

/// Where zips come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    Https(String),
}

impl Source {
    /// The source a site's `software.packages` (or `packages` in siteward.yaml) names.
    pub fn parse(text: &str, repo: &Path) -> Result<Source, String> {
        if text.starts_with("https://") {
            return Ok(Source::Https(text.trim_end_matches('/').to_owned()));
        }
        if text.contains("://") {
            return Err(format!(
                "package source `{text}`: only a directory or an https URL is allowed"
            ));
        }
        Ok(Source::Dir(crate::load::site::resolve(
            repo,
            Path::new(text),
        )))
    }

    fn show(&self) -> String {
        match self {
            Source::Dir(d) => d.display().to_string(),
            Source::Https(u) => u.clone(),
        }
    }
}

/// A zip chosen for a desired plugin or theme, with the digest it had when judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub kind: Kind,
    pub slug: String,
    pub version: Version,
    /// sha256 (hex) of the zip.
    pub sha256: String,
    /// Whether the desired state pinned that digest (else `allow_unpinned` let it through).
    pub pinned: bool,
}

impl Package {
    /// `<slug>-<version>.zip`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.zip", self.slug, self.version)
    }
}

/// What the desired state asks of one package's zip.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    pub kind: Kind,
    pub slug: &'a str,
    pub version: &'a VersionSpec,
    pub pin: Option<&'a Sha256Hex>,
    pub allow_unpinned: bool,
}

/// Chooses and checks the zip for `want`: the exact version, or the newest version in a
/// directory that satisfies a constraint. The error says why it cannot be installed.
pub async fn resolve(
    source: &Source,
    want: Want<'_>,
    timeout: Duration,
) -> Result<Package, String> {
    let version = choose(source, want)?;
    let mut package = Package {
        kind: want.kind,
        slug: want.slug.to_owned(),
        version,
        sha256: String::new(),
        pinned: want.pin.is_some(),
    };
    let bytes = read(source, &package, timeout).await?;
    package.sha256 = hex::encode(Sha256::digest(&bytes));
    let name = package.file_name();
    match want.pin {
        Some(pin) if pin.as_str() != package.sha256 => Err(format!(
            "`{name}` has sha256 {}, but the desired state pins {}: refused",
            package.sha256,
            pin.as_str()
        )),
        None if !want.allow_unpinned => Err(format!(
            "`{name}` is not pinned: write its `sha256` ({}) in the desired state, or allow \
             unpinned zips with `software.allow_unpinned: true`",
            package.sha256
        )),
        _ => Ok(package),
    }
}

/// The zip's bytes, which must still have the digest `package` was judged with.
pub async fn fetch(
    source: &Source,
    package: &Package,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let bytes = read(source, package, timeout).await?;
    let now = hex::encode(Sha256::digest(&bytes));
    if now != package.sha256 {
        return Err(format!(
            "`{}` changed since it was checked (sha256 {now}, was {}): refused",
            package.file_name(),
            package.sha256
        ));
    }
    Ok(bytes)
}

fn choose(source: &Source, want: Want<'_>) -> Result<Version, String> {
    if let Some(v) = want.version.exact() {
        return Ok(v.clone());
    }
    let Source::Dir(dir) = source else {
        return Err(format!(
            "`{}` is a constraint; an https package source cannot be listed, so write an exact \
             version",
            want.version
        ));
    };
    let releases = crate::updates::releases::from_packages(dir)
        .map_err(|e| format!("cannot list package directory `{}`: {e}", dir.display()))?;
    let list = match want.kind {
        Kind::Plugin => releases.plugins.get(want.slug),
        Kind::Theme => releases.themes.get(want.slug),
        Kind::Core => Some(&releases.core),
    };
    list.into_iter()
        .flatten()
        .map(|r| &r.version)
        .filter(|v| want.version.matches(v))
        .max()
        .cloned()
        .ok_or_else(|| {
            format!(
                "no `{}-<version>.zip` in `{}` satisfies `{}`",
                want.slug,
                dir.display(),
                want.version
            )
        })
}

async fn read(source: &Source, package: &Package, timeout: Duration) -> Result<Vec<u8>, String> {
    let name = package.file_name();
    match source {
        Source::Dir(dir) => {
            let path = dir.join(&name);
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("no package `{name}` in `{}`: {e}", source.show()))?;
            if meta.len() > crate::vuln::source::MAX_FILE {
                return Err(format!("`{}` is too large", path.display()));
            }
            std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
        }
        Source::Https(base) => {
            let url = format!("{base}/{name}");
            crate::vuln::source::fetch_bytes(&url, "package", timeout)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip(dir: &Path, name: &str, body: &[u8]) -> String {
        std::fs::write(dir.join(name), body).unwrap();
        hex::encode(Sha256::digest(body))
    }

    fn want<'a>(spec: &'a VersionSpec, pin: Option<&'a Sha256Hex>, allow: bool) -> Want<'a> {
        Want {
            kind: Kind::Plugin,
            slug: "shop",
            version: spec,
            pin,
            allow_unpinned: allow,
        }
    }

    #[tokio::test]
    async fn pins_are_checked_and_unpinned_zips_need_consent() {
        let dir = tempfile::tempdir().unwrap();
        let digest = zip(dir.path(), "shop-1.2.0.zip", b"one");
        let source = Source::Dir(dir.path().to_owned());
        let t = Duration::from_secs(5);
        let exact: VersionSpec = "1.2.0".parse().unwrap();
        let pin: Sha256Hex = digest.parse().unwrap();
        let p = resolve(&source, want(&exact, Some(&pin), false), t)
            .await
            .unwrap();
        assert_eq!((p.sha256.as_str(), p.pinned), (digest.as_str(), true));
        let wrong: Sha256Hex = "0".repeat(64).parse().unwrap();
        let e = resolve(&source, want(&exact, Some(&wrong), true), t)
            .await
            .unwrap_err();
        assert!(e.contains("refused"), "{e}");
        let e = resolve(&source, want(&exact, None, false), t)
            .await
            .unwrap_err();
        assert!(e.contains("allow_unpinned") && e.contains(&digest), "{e}");
        assert!(resolve(&source, want(&exact, None, true), t).await.is_ok());
        // Replaced after it was judged: refused at apply time.
        zip(dir.path(), "shop-1.2.0.zip", b"two");
        assert!(fetch(&source, &p, t).await.unwrap_err().contains("changed"));
    }

    #[tokio::test]
    async fn a_constraint_takes_the_newest_matching_zip_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["1.0.0", "1.4.0", "2.0.0"] {
            zip(dir.path(), &format!("shop-{v}.zip"), v.as_bytes());
        }
        let spec: VersionSpec = ">=1.0, <2".parse().unwrap();
        let source = Source::Dir(dir.path().to_owned());
        let p = resolve(&source, want(&spec, None, true), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(p.version.to_string(), "1.4.0");
        // Core zips are `wordpress-<version>.zip`, listed apart from plugins and themes.
        for v in ["6.1.9", "6.1.10", "6.2.0"] {
            zip(dir.path(), &format!("wordpress-{v}.zip"), v.as_bytes());
        }
        let core: VersionSpec = ">=6.1, <6.2".parse().unwrap();
        let want_core = Want {
            kind: Kind::Core,
            slug: crate::vuln::CORE_SLUG,
            ..want(&core, None, true)
        };
        let p = resolve(&source, want_core, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(p.file_name(), "wordpress-6.1.10.zip");
        let https = Source::parse("https://packages.example/wp/", Path::new("/r")).unwrap();
        let e = choose(&https, want(&spec, None, true)).unwrap_err();
        assert!(e.contains("exact version"), "{e}");
        assert!(Source::parse("http://x/", Path::new("/r")).is_err());
    }
}
