//! Reads a site mapping (a site file with its policies merged in, or a policy's partial
//! `defaults`) into a typed [`Site`], reporting every problem at its own location.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::keys;
use crate::spec::{
    CertificateManage, CertificateSpec, Check, DEFAULT_MIN_DAYS_LEFT, HeaderName, HeaderRule,
    HeaderValue, Manage, Package, Redirect, SecretRef, ServerManage, ServerProvider, Site,
    Software, SoftwareManage, SortedMap, SyncMode, Transport, WebUrl,
};
use crate::yaml::{Node, Reader};

/// Whether a mapping is a whole site or a policy's partial `defaults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteShape {
    Whole,
    Defaults,
}

/// Reads a site. Returns `None` when anything was wrong (every problem is in `r`), and always
/// for [`SiteShape::Defaults`], which is only checked.
pub fn read_site(r: &mut Reader, node: &Node, shape: SiteShape) -> Option<Site> {
    let before = r.problems.len();
    let what = if shape == SiteShape::Whole {
        "site"
    } else {
        "policy defaults"
    };
    let f = r.map(node, what, keys::SITE)?;
    if shape == SiteShape::Defaults {
        for key in ["name", "url", "policies"] {
            if let Some(e) = f.entry(key) {
                r.report(
                    &e.key_loc,
                    format!("`{key}` belongs in the site file, not in policy defaults"),
                );
            }
        }
    }
    let name = match shape {
        SiteShape::Whole => f
            .require(r, "name", "site")
            .and_then(|n| r.parse(n, "name")),
        SiteShape::Defaults => None,
    };
    let url: Option<WebUrl> = match shape {
        SiteShape::Whole => f.require(r, "url", "site").and_then(|n| r.parse(n, "url")),
        SiteShape::Defaults => None,
    };
    let allow_http = f
        .get("allow_http")
        .and_then(|n| r.bool(n, "allow_http"))
        .unwrap_or(false);
    if let (Some(u), Some(n)) = (&url, f.get("url"))
        && !u.is_https()
        && !allow_http
    {
        r.report(
            &n.loc,
            format!("url: `{u}` must be https (set `allow_http: true` for an intranet site)"),
        );
    }
    let owner = f.get("owner").and_then(|n| read_line(r, n, "owner"));
    let description = f
        .get("description")
        .and_then(|n| read_printable(r, n, "description", "\n\t"));
    let labels = f
        .get("labels")
        .map(|n| read_labels(r, n))
        .unwrap_or_default();
    let policies = f
        .get("policies")
        .and_then(|n| r.list(n, "policies"))
        .map(|items| {
            items
                .iter()
                .filter_map(|n| r.parse(n, "policies"))
                .collect()
        })
        .unwrap_or_default();
    let sync = f
        .get("sync")
        .and_then(|n| r.parse(n, "sync"))
        .unwrap_or(SyncMode::Observe);
    let connect = f.get("connect").and_then(|n| r.parse(n, "connect"));
    let connect_http = f
        .get("connect_http")
        .and_then(|n| r.parse(n, "connect_http"));
    let ca = f.get("ca").and_then(|n| read_file_path(r, n, "ca"));
    let insecure_skip_verify = f
        .get("insecure_skip_verify")
        .and_then(|n| r.bool(n, "insecure_skip_verify"))
        .unwrap_or(false);
    let headers = f
        .get("headers")
        .map(|n| read_headers(r, n))
        .unwrap_or_default();
    let certificate = f.get("certificate").and_then(|n| read_certificate(r, n));
    // Redirect sources are requested like the site itself, so they must be the site's own
    // names: its URL's host, or a name its certificate lists (policy defaults have neither
    // and are checked once merged into a site).
    let own_hosts = url.as_ref().map(|u| {
        let mut hosts = vec![u.host().to_ascii_lowercase()];
        if let Some(c) = &certificate {
            hosts.extend(c.domains.iter().map(|d| d.to_ascii_lowercase()));
        }
        hosts
    });
    let redirects = f
        .get("redirects")
        .map(|n| read_redirects(r, n, own_hosts.as_deref()))
        .unwrap_or_default();
    let software = f.get("software").and_then(|n| read_software(r, n));
    let checks = f
        .get("checks")
        .map(|n| read_checks(r, n))
        .unwrap_or_default();
    let manage = f
        .get("manage")
        .map(|n| read_manage(r, n))
        .unwrap_or_default();
    if let (Some(u), Some(m), Some(n)) = (&url, &manage.software, f.get("manage"))
        && m.via == crate::spec::WordpressVia::Rest
        && !u.is_https()
    {
        r.report(
            &n.loc,
            "manage.software: `via: rest` sends the application password, so the site's `url` \
             must be https",
        );
    }
    let windows = f
        .get("windows")
        .map(|n| super::windows::read_windows(r, n))
        .unwrap_or_default();

    if r.problems.len() != before {
        return None;
    }
    let mut site = Site {
        name: name?,
        url: url?,
        owner,
        labels,
        description,
        policies,
        sync,
        connect,
        connect_http,
        ca,
        insecure_skip_verify,
        allow_http,
        headers,
        redirects,
        certificate,
        software,
        checks,
        manage,
        windows,
    };
    shrink(&mut site);
    Some(site)
}

/// Gives back the spare room of a site's lists: collected through `filter_map`, each starts
/// with room for four items, and a fleet's sites are all held at once.
fn shrink(site: &mut Site) {
    site.policies.shrink_to_fit();
    site.redirects.shrink_to_fit();
    site.checks.shrink_to_fit();
    site.windows.shrink_to_fit();
    if let Some(c) = &mut site.certificate {
        c.domains.shrink_to_fit();
    }
}

fn read_labels(r: &mut Reader, node: &Node) -> SortedMap<String, String> {
    let mut labels = Vec::new();
    for e in r.any_map(node, "labels").unwrap_or_default() {
        let key_ok = !e.key.is_empty()
            && e.key.len() <= 63
            && e.key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        if !key_ok {
            r.report(
                &e.key_loc,
                format!(
                    "labels: `{}` is not a valid label key (letters, digits, `-_./`)",
                    e.key
                ),
            );
        }
        if let Some(v) = read_line(r, &e.value, &format!("labels.{}", e.key)) {
            labels.push((e.key.clone(), v));
        }
    }
    labels.into_iter().collect()
}

/// An operational path: not empty; absolute, or relative to the state repo without `..`.
pub fn read_path(r: &mut Reader, node: &Node, what: &str) -> Option<PathBuf> {
    let text = r.text(node, what)?;
    let path = PathBuf::from(&text);
    if text.is_empty() {
        r.report(&node.loc, format!("{what}: the path is empty"));
        return None;
    }
    if text.contains('\0') || text.contains('\n') {
        r.report(
            &node.loc,
            format!("{what}: path contains a control character"),
        );
        return None;
    }
    if path.is_relative() && path.components().any(|c| matches!(c, Component::ParentDir)) {
        r.report(
            &node.loc,
            format!("{what}: relative path `{text}` leaves the state repo; write an absolute path"),
        );
        return None;
    }
    Some(path)
}

/// An operational path that must name a file (siteward reads or writes it as one): not ending
/// in `/`, `.` or `..` (`manage.server.config: /` would name the root directory).
pub fn read_file_path(r: &mut Reader, node: &Node, what: &str) -> Option<PathBuf> {
    let path = read_path(r, node, what)?;
    let text = path.to_string_lossy();
    let last = text.rsplit('/').next().unwrap_or_default();
    if matches!(last, "" | "." | "..") {
        r.report(
            &node.loc,
            format!("{what}: `{text}` does not name a file (it ends in `/`, `.` or `..`)"),
        );
        return None;
    }
    Some(path)
}

fn read_headers(r: &mut Reader, node: &Node) -> SortedMap<HeaderName, HeaderRule> {
    let mut headers = Vec::new();
    let mut seen = BTreeSet::new();
    for e in r.any_map(node, "headers").unwrap_or_default() {
        let name = match e.key.parse::<HeaderName>() {
            Ok(n) => n,
            Err(msg) => {
                r.report(&e.key_loc, format!("headers: {msg}"));
                continue;
            }
        };
        let what = format!("headers.{}", e.key);
        let Some(text) = r.text(&e.value, &what) else {
            continue;
        };
        let rule = if text == "absent" {
            HeaderRule::Absent
        } else if let Some(reference) = SecretRef::parse_ref(&text) {
            match reference {
                Ok(s) => HeaderRule::Secret(s),
                Err(msg) => {
                    r.report(&e.value.loc, format!("{what}: {msg}"));
                    continue;
                }
            }
        } else {
            match text.parse::<HeaderValue>() {
                Ok(v) => HeaderRule::Value(v),
                Err(msg) => {
                    r.report(&e.value.loc, format!("{what}: {msg}"));
                    continue;
                }
            }
        };
        if seen.insert(name.clone()) {
            headers.push((name, rule));
        } else {
            r.report(
                &e.key_loc,
                format!(
                    "headers: `{}` is listed twice (header names ignore case)",
                    e.key
                ),
            );
        }
    }
    headers.into_iter().collect()
}

/// Reads a one-line text: no control characters (it reaches terminals, Markdown and proposals).
fn read_line(r: &mut Reader, node: &Node, what: &str) -> Option<String> {
    read_printable(r, node, what, "")
}

/// Reads a text with no control characters other than those in `allowed`.
fn read_printable(r: &mut Reader, node: &Node, what: &str, allowed: &str) -> Option<String> {
    let text = r.text(node, what)?;
    match text
        .chars()
        .find(|c| c.is_control() && !allowed.contains(*c))
    {
        Some(c) => {
            r.report(
                &node.loc,
                format!(
                    "{what}: `{}` contains the control character {}; remove it",
                    text.escape_debug(),
                    c.escape_unicode()
                ),
            );
            None
        }
        None => Some(text),
    }
}

/// Whether `host` is one of the site's own names (`*.example.nl` covers one label).
fn own_host(own: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    own.iter().any(|name| match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => *name == host,
    })
}

fn read_redirects(r: &mut Reader, node: &Node, own: Option<&[String]>) -> Vec<Redirect> {
    let items = r.list(node, "redirects").unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let f = r.map(item, "redirect", keys::REDIRECT)?;
            let from: Option<WebUrl> = f.require(r, "from", "redirect").and_then(|n| {
                let from: WebUrl = r.parse(n, "redirect.from")?;
                if let Some(own) = own.filter(|own| !own_host(own, from.host())) {
                    r.report(
                        &n.loc,
                        format!(
                            "redirect.from: `{from}` is not on this site: its host must be the \
                             url's host or a name in `certificate.domains` ({})",
                            own.join(", ")
                        ),
                    );
                    return None;
                }
                Some(from)
            });
            let to = f.require(r, "to", "redirect").and_then(|n| r.parse(n, "redirect.to"));
            let status = match f.get("status") {
                Some(n) => {
                    let s = r.uint(n, "redirect.status", 300, 399)? as u16;
                    if ![301, 302, 303, 307, 308].contains(&s) {
                        r.report(&n.loc, format!("redirect.status: {s} is not a redirect status (301, 302, 303, 307, 308)"));
                        return None;
                    }
                    s
                }
                None => 301,
            };
            Some(Redirect { from: from?, to: to?, status })
        })
        .collect()
}

fn read_certificate(r: &mut Reader, node: &Node) -> Option<CertificateSpec> {
    let before = r.problems.len();
    let f = r.map(node, "certificate", keys::CERTIFICATE)?;
    let mut domains = Vec::new();
    for n in f
        .get("domains")
        .and_then(|n| r.list(n, "certificate.domains"))
        .unwrap_or_default()
    {
        let Some(d) = r.text(n, "certificate.domains") else {
            continue;
        };
        let bare = d.strip_prefix("*.").unwrap_or(&d);
        if bare.parse::<crate::spec::SiteName>().is_err() {
            r.report(
                &n.loc,
                format!("certificate.domains: `{d}` is not a DNS name"),
            );
        }
        domains.push(d);
    }
    let min_days_left = f
        .get("min_days_left")
        .and_then(|n| r.uint(n, "certificate.min_days_left", 0, 3650))
        .map_or(DEFAULT_MIN_DAYS_LEFT, |d| d as u32);
    let key = f.get("key").and_then(|n| r.parse(n, "certificate.key"));
    let issuer = f
        .get("issuer")
        .and_then(|n| r.parse(n, "certificate.issuer"));
    (r.problems.len() == before).then_some(CertificateSpec {
        domains,
        min_days_left,
        key,
        issuer,
    })
}

fn read_software(r: &mut Reader, node: &Node) -> Option<Software> {
    let before = r.problems.len();
    let f = r.map(node, "software", keys::SOFTWARE)?;
    let platform = f
        .get("platform")
        .and_then(|n| r.text(n, "software.platform"));
    let core = f.get("core").and_then(|n| r.parse(n, "software.core"));
    let core_sha256 = f
        .get("core_sha256")
        .and_then(|n| r.parse(n, "software.core_sha256"));
    if let Some(n) = f.get("core_sha256")
        && f.get("core").is_none()
    {
        r.report(
            &n.loc,
            "software.core_sha256: pins the core zip of `software.core`; set `core` too",
        );
    }
    let plugins = f
        .get("plugins")
        .map(|n| read_packages(r, n, "plugins"))
        .unwrap_or_default();
    let themes = f
        .get("themes")
        .map(|n| read_packages(r, n, "themes"))
        .unwrap_or_default();
    let packages = f
        .get("packages")
        .and_then(|n| r.text(n, "software.packages"));
    let updates = f
        .get("updates")
        .and_then(|n| super::settings::read_updates(r, n, "software.updates"));
    let allow_unpinned = f
        .get("allow_unpinned")
        .and_then(|n| r.bool(n, "software.allow_unpinned"))
        .unwrap_or(false);
    if platform.is_none() && (core.is_some() || !plugins.is_empty() || !themes.is_empty()) {
        r.report(
            &node.loc,
            "software: set `platform` (e.g. `wordpress`) when naming a core, plugins or themes",
        );
    }
    if r.problems.len() != before {
        return None;
    }
    Some(Software {
        platform: platform.unwrap_or_default(),
        core,
        core_sha256,
        plugins,
        themes,
        packages,
        allow_unpinned,
        updates,
    })
}

fn read_packages(r: &mut Reader, node: &Node, group: &str) -> SortedMap<String, Package> {
    let mut out = Vec::new();
    for e in r
        .any_map(node, &format!("software.{group}"))
        .unwrap_or_default()
    {
        let what = format!("software.{group}.{}", e.key);
        let slug_ok = !e.key.is_empty()
            && e.key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !e.key.starts_with('-');
        if !slug_ok {
            r.report(&e.key_loc, format!("software.{group}: `{}` is not a valid slug (lowercase letters, digits, `-`, `_`)", e.key));
            continue;
        }
        let package = if e.value.entries().is_some() {
            let Some(f) = r.map(&e.value, &what, keys::PACKAGE) else {
                continue;
            };
            let version = f
                .require(r, "version", &what)
                .and_then(|n| r.parse(n, &format!("{what}.version")));
            let sha256 = f
                .get("sha256")
                .and_then(|n| r.parse(n, &format!("{what}.sha256")));
            let active = f
                .get("active")
                .and_then(|n| r.bool(n, &format!("{what}.active")));
            let Some(version) = version else { continue };
            Package::Present {
                version,
                sha256,
                active,
            }
        } else {
            match r.text(&e.value, &what) {
                Some(t) if t == "absent" => Package::Absent,
                Some(t) => match t.parse() {
                    Ok(version) => Package::Present {
                        version,
                        sha256: None,
                        active: None,
                    },
                    Err(msg) => {
                        r.report(&e.value.loc, format!("{what}: {msg}"));
                        continue;
                    }
                },
                None => continue,
            }
        };
        out.push((e.key.clone(), package));
    }
    out.into_iter().collect()
}

fn read_checks(r: &mut Reader, node: &Node) -> Vec<Check> {
    let mut names: Vec<String> = Vec::new();
    let items = r.list(node, "checks").unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let f = r.map(item, "check", keys::CHECK)?;
            let name = f
                .require(r, "name", "check")
                .and_then(|n| read_line(r, n, "check.name"));
            if let (Some(n), Some(node)) = (&name, f.get("name")) {
                if names.contains(n) {
                    r.report(
                        &node.loc,
                        format!("check.name: `{n}` is used by two checks"),
                    );
                }
                names.push(n.clone());
            }
            let path = f.get("path").and_then(|n| {
                let p = r.text(n, "check.path")?;
                if let Some(why) = crate::probe::checks::path_problem(&p) {
                    r.report(&n.loc, format!("check.path: {why}"));
                    return None;
                }
                Some(p)
            });
            let status = f
                .get("status")
                .and_then(|n| r.uint(n, "check.status", 100, 599))
                .unwrap_or(200) as u16;
            let body_contains = f
                .get("body_contains")
                .and_then(|n| r.text(n, "check.body_contains"));
            let max_response_ms = f
                .get("max_response_ms")
                .and_then(|n| r.uint(n, "check.max_response_ms", 1, 600_000));
            Some(Check {
                name: name?,
                path: path.unwrap_or_else(|| "/".into()),
                status,
                body_contains,
                max_response_ms,
            })
        })
        .collect()
}

fn read_manage(r: &mut Reader, node: &Node) -> Manage {
    let Some(f) = r.map(node, "manage", keys::MANAGE) else {
        return Manage::default();
    };
    Manage {
        server: f
            .get("server")
            .and_then(|n| read_server(r, n))
            .map(Box::new),
        certificate: f
            .get("certificate")
            .and_then(|n| read_cert_manage(r, n))
            .map(Box::new),
        software: f
            .get("software")
            .and_then(|n| read_software_manage(r, n))
            .map(Box::new),
    }
}

fn read_transport(r: &mut Reader, f: &crate::yaml::Fields<'_>, what: &str) -> Transport {
    let ssh_options = f
        .get("ssh_options")
        .and_then(|n| r.list(n, &format!("{what}.ssh_options")))
        .unwrap_or_default()
        .iter()
        .filter_map(|n| r.parse(n, &format!("{what}.ssh_options")))
        .collect();
    Transport {
        host: f
            .get("host")
            .and_then(|n| r.parse(n, &format!("{what}.host"))),
        identity: f
            .get("identity")
            .and_then(|n| read_file_path(r, n, &format!("{what}.identity"))),
        known_hosts: f
            .get("known_hosts")
            .and_then(|n| read_file_path(r, n, &format!("{what}.known_hosts"))),
        ssh_options,
    }
}

fn read_server(r: &mut Reader, node: &Node) -> Option<ServerManage> {
    let what = "manage.server";
    let f = r.map(
        node,
        what,
        &keys::with(keys::MANAGE_SERVER, keys::TRANSPORT),
    )?;
    let transport = read_transport(r, &f, what);
    let provider: Option<ServerProvider> = f
        .require(r, "provider", what)
        .and_then(|n| r.parse(n, "manage.server.provider"));
    // The `exec` kind runs a program instead of owning a file: it takes `command`, `env` and
    // `timeout`, and no `config`, commands or `host`; every other kind the other way round.
    let exec = provider == Some(ServerProvider::Exec);
    let (file_keys, exec_keys): (&[&str], &[&str]) = (
        &["config", "test_command", "reload_command", "host"],
        &["command", "env", "timeout"],
    );
    if let Some(p) = provider {
        let (unused, why) = if exec {
            (
                file_keys,
                "the `exec` program runs where siteward runs and owns no file",
            )
        } else {
            (exec_keys, "only `provider: exec` runs a program")
        };
        for key in unused {
            if let Some(n) = f.get(key) {
                r.report(&n.loc, format!("{what}.{key}: not used by `{p}`; {why}"));
            }
        }
    }
    let config = if exec {
        None
    } else {
        f.require(r, "config", what)
            .and_then(|n| read_file_path(r, n, "manage.server.config"))
    };
    let command = if exec {
        f.require(r, "command", what)
            .and_then(|n| r.parse(n, "manage.server.command"))
    } else {
        None
    };
    let test_command = f
        .get("test_command")
        .and_then(|n| r.parse(n, "manage.server.test_command"));
    let reload_command = f
        .get("reload_command")
        .and_then(|n| r.parse(n, "manage.server.reload_command"));
    let mut env = BTreeMap::new();
    for e in f
        .get("env")
        .and_then(|n| r.any_map(n, "manage.server.env"))
        .unwrap_or_default()
    {
        let name_ok = e
            .key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && e.key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !e.key.starts_with("SITEWARD_");
        if !name_ok {
            r.report(
                &e.key_loc,
                format!(
                    "manage.server.env: `{}` is not an environment variable name (letters, digits, `_`; `SITEWARD_` is reserved)",
                    e.key
                ),
            );
        }
        let value: Option<SecretRef> = r.parse(&e.value, &format!("manage.server.env.{}", e.key));
        if let (true, Some(v)) = (name_ok, value) {
            env.insert(e.key.clone(), v);
        }
    }
    let timeout = f
        .get("timeout")
        .and_then(|n| r.uint(n, "manage.server.timeout", 1, 3600));
    Some(ServerManage {
        provider: provider?,
        transport,
        config: if exec { None } else { Some(config?) },
        test_command,
        reload_command,
        command: if exec { Some(command?) } else { None },
        env,
        timeout,
    })
}

fn read_cert_manage(r: &mut Reader, node: &Node) -> Option<CertificateManage> {
    let what = "manage.certificate";
    let f = r.map(
        node,
        what,
        &keys::with(keys::MANAGE_CERTIFICATE, keys::TRANSPORT),
    )?;
    let transport = read_transport(r, &f, what);
    let provider = f
        .require(r, "provider", what)
        .and_then(|n| r.parse(n, "manage.certificate.provider"));
    let path = |r: &mut Reader, key: &str, read: fn(&mut Reader, &Node, &str) -> _| {
        f.get(key)
            .and_then(|n| read(r, n, &format!("{what}.{key}")))
    };
    let directory_ca = path(r, "directory_ca", read_file_path);
    let webroot = path(r, "webroot", read_path);
    let cert_path = path(r, "cert_path", read_file_path);
    let key_path = path(r, "key_path", read_file_path);
    let challenge = f
        .get("challenge")
        .and_then(|n| r.text(n, "manage.certificate.challenge"));
    if let (Some(c), Some(n)) = (&challenge, f.get("challenge"))
        && c != "http-01"
    {
        r.report(
            &n.loc,
            format!("manage.certificate.challenge: `{c}` is not supported; use `http-01`"),
        );
    }
    Some(CertificateManage {
        provider: provider?,
        transport,
        directory: f
            .get("directory")
            .and_then(|n| r.parse(n, "manage.certificate.directory")),
        directory_ca,
        email: f
            .get("email")
            .and_then(|n| r.text(n, "manage.certificate.email")),
        account_key: f
            .get("account_key")
            .and_then(|n| r.parse(n, "manage.certificate.account_key")),
        challenge: challenge.unwrap_or_else(|| "http-01".into()),
        webroot,
        cert_path,
        key_path,
        test_command: f
            .get("test_command")
            .and_then(|n| r.parse(n, "manage.certificate.test_command")),
        reload_command: f
            .get("reload_command")
            .and_then(|n| r.parse(n, "manage.certificate.reload_command")),
    })
}

fn read_software_manage(r: &mut Reader, node: &Node) -> Option<SoftwareManage> {
    let what = "manage.software";
    let f = r.map(
        node,
        what,
        &keys::with(keys::MANAGE_SOFTWARE, keys::TRANSPORT),
    )?;
    let transport = read_transport(r, &f, what);
    let provider = f
        .require(r, "provider", what)
        .and_then(|n| r.parse(n, "manage.software.provider"));
    let via = f
        .get("via")
        .and_then(|n| r.parse(n, "manage.software.via"))
        .unwrap_or(crate::spec::WordpressVia::Php);
    if via == crate::spec::WordpressVia::WpCli
        && let Some(n) = f.get("via")
    {
        r.report(
            &n.loc,
            "manage.software.via: `wp-cli` is not supported (WP-CLI is not needed); write \
             `via: php`, which runs siteward's own scripts with the site's `php`",
        );
    }
    let app_password = f
        .get("app_password")
        .and_then(|n| r.parse(n, "manage.software.app_password"));
    check_software_way(r, &f, via);
    Some(SoftwareManage {
        provider: provider?,
        transport,
        via,
        path: f
            .get("path")
            .and_then(|n| read_path(r, n, "manage.software.path")),
        php: f.get("php").and_then(|n| read_php(r, n)),
        user: f.get("user").and_then(|n| read_run_as(r, n)),
        username: f
            .get("username")
            .and_then(|n| r.text(n, "manage.software.username")),
        app_password,
    })
}

/// `php`: a PHP CLI (`php`, `php8.2`) or an absolute path ending in one. The state repo (a pull
/// request, for `plan`) names the program siteward runs here, so nothing else is accepted.
fn read_php(r: &mut Reader, node: &Node) -> Option<String> {
    let text = r.text(node, "manage.software.php")?;
    let name = match text.strip_prefix('/') {
        Some(_) => text.rsplit('/').next().unwrap_or_default(),
        None => text.as_str(),
    };
    let ok = name
        .strip_prefix("php")
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        && !text.contains("..")
        && !text.contains(char::is_whitespace);
    if !ok {
        r.report(
            &node.loc,
            "manage.software.php: not a PHP CLI; write `php`, `php8.2` or an absolute path \
             ending in one of them",
        );
        return None;
    }
    Some(text)
}

/// `user`: a POSIX user name (what `sudo -u` is given; no `#uid`, no options).
fn read_run_as(r: &mut Reader, node: &Node) -> Option<String> {
    let text = r.text(node, "manage.software.user")?;
    let mut chars = text.chars();
    let ok = text.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if !ok {
        r.report(
            &node.loc,
            "manage.software.user: not a user name (lowercase letters, digits, `_`, `.`, `-`; \
             at most 32)",
        );
        return None;
    }
    Some(text)
}

/// The keys of one way in are errors in the other: `via: rest` has no shell (`path`, `php`,
/// `user`, transport keys) and needs `username` and `app_password`, which only REST uses.
fn check_software_way(r: &mut Reader, f: &crate::yaml::Fields<'_>, via: crate::spec::WordpressVia) {
    let rest = via == crate::spec::WordpressVia::Rest;
    if rest {
        f.require(r, "username", "manage.software (`via: rest`)");
        f.require(r, "app_password", "manage.software (`via: rest`)");
    }
    let shell = ["path", "php", "user"].iter().chain(keys::TRANSPORT);
    let wrong: Vec<&str> = match rest {
        true => shell.copied().collect(),
        false => vec!["username", "app_password"],
    };
    for key in wrong {
        if let Some(e) = f.entry(key) {
            let why = match rest {
                true => "`via: rest` runs nothing on the server",
                false => "only `via: rest` logs in with them",
            };
            r.report(
                &e.key_loc,
                format!(
                    "manage.software.{key}: not used by `via: {}` ({why}); remove it",
                    via.as_str()
                ),
            );
        }
    }
}

/// Resolves an operational path against the state repo root.
pub fn resolve(repo: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        repo.join(path)
    }
}
