//! `via: rest`: WordPress's own REST API, for hosted sites without a shell. siteward logs in
//! as `username` with an application password (an `env:`/`file:` reference resolved once per
//! run in [`RunSecrets`], sent only as the `Authorization` header, never shown) and asks the
//! site over the very clients it is observed with (trust roots, `ca:`, `connect:`; TLS
//! verification on; no redirect followed), so every request stays on the site's origin.
//!
//! REST lists plugins (`/wp-json/wp/v2/plugins`: id `dir/file`, version, status) and themes
//! (`/wp-json/wp/v2/themes`: stylesheet, version, status). A site without pretty permalinks
//! has no `/wp-json/` path: when that answers 404 and the answer is not WordPress's own, the
//! same route is asked as `?rest_route=/wp/v2/…`, as WordPress documents, from then on.
//!
//! REST does not expose the core version, which is read from the home page's
//! `<meta name="generator">` or the feed's `<generator>` (unknown when the site hides both),
//! nor the PHP version, must-use plugins or maintenance mode: those are unknown in the
//! [`Inventory`], never assumed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::Observed;
use super::inventory::{Inventory, Plugin, Theme};
use crate::probe::http::{FetchError, Http};
use crate::secret::{RunSecrets, Secret};
use crate::spec::{Site, Version, WordpressVia};

/// The source plans show for an inventory read through REST.
pub const LABEL: &str = "wordpress via rest";

/// A REST request failed, or WordPress said no. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(
        "WordPress refused the application password of user `{user}` ({status} {code}: \
         {message}); check `manage.software.username` and `app_password`, and that the user \
         may manage plugins"
    )]
    Login {
        user: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{method} {url} answered {status} {code}: {message}")]
    Refused {
        method: Method,
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{url}: the answer is not what siteward expects: {detail}")]
    Answer { url: String, detail: String },
}

/// Whether `site`'s software is managed through REST.
pub fn applies(site: &Site) -> bool {
    site.manage
        .software
        .as_ref()
        .is_some_and(|m| m.via == WordpressVia::Rest)
}

/// Reads `site`'s inventory through REST (the way [`super::observe`] takes for `via: rest`).
pub async fn observe(site: &Site, http: &Http, secrets: &RunSecrets) -> Result<Observed, String> {
    let rest = Rest::for_site(site, http.clone(), secrets).map_err(|e| e.to_string())?;
    let inventory = rest
        .inventory()
        .await
        .map_err(|e| crate::error_text::chain(&e))?;
    Ok(Observed {
        inventory,
        label: LABEL,
        packages: Vec::new(),
    })
}

/// One WordPress site's REST API, logged in.
#[derive(Debug, Clone)]
pub struct Rest {
    http: Http,
    /// The site's URL, ending in `/`; every request is relative to it.
    base: Url,
    user: String,
    /// `Basic base64(user:password)`.
    auth: Secret,
    /// Routes go through `?rest_route=` (no pretty permalinks), learnt from a 404 at
    /// `/wp-json/` that WordPress did not answer; shared by clones.
    plain_routes: Arc<AtomicBool>,
}

/// One plugin as `/wp/v2/plugins` lists it.
#[derive(Debug, Deserialize)]
struct RestPlugin {
    /// `dir/file` without `.php` (`akismet/akismet`), or `file` for a single-file plugin.
    plugin: String,
    version: String,
    /// `active`, `inactive` or `network-active`.
    status: String,
}

/// One theme as `/wp/v2/themes` lists it.
#[derive(Debug, Deserialize)]
struct RestTheme {
    stylesheet: String,
    version: String,
    status: String,
}

/// WordPress's error answer.
#[derive(Debug, Default, Deserialize)]
struct RestFailure {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl Rest {
    /// The REST way in to `site`, asking over `http` with the password `secrets` resolved.
    pub fn for_site(site: &Site, http: Http, secrets: &RunSecrets) -> Result<Rest, RestError> {
        let m = site.manage.software.as_ref();
        let user = m.and_then(|m| m.username.clone()).ok_or_else(|| {
            RestError::Config("manage.software: `via: rest` needs `username`".to_owned())
        })?;
        let password = secrets
            .app_password(site.name.as_str())
            .map_err(|reason| RestError::Config(reason.to_owned()))?;
        let password = password.ok_or_else(|| {
            RestError::Config(
                "manage.software: `via: rest` needs `app_password` (`env:NAME` or `file:PATH`)"
                    .to_owned(),
            )
        })?;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.expose()));
        let mut base = site.url.url().clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.set_query(None);
        base.set_fragment(None);
        Ok(Rest {
            http,
            base,
            user,
            auth: Secret::new(format!("Basic {token}")),
            plain_routes: Arc::new(AtomicBool::new(false)),
        })
    }

    /// What WordPress says is installed; unknown what REST cannot tell.
    pub async fn inventory(&self) -> Result<Inventory, RestError> {
        let (plugins, themes, core) = tokio::join!(
            self.json::<Vec<RestPlugin>>(Method::GET, "/wp/v2/plugins", None),
            self.json::<Vec<RestTheme>>(Method::GET, "/wp/v2/themes", None),
            self.core(),
        );
        let plugins = plugins?
            .into_iter()
            .map(|p| Plugin {
                slug: slug_of(&p.plugin).to_owned(),
                file: format!("{}.php", p.plugin),
                version: p.version,
                active: p.status != "inactive",
                update: None,
            })
            .collect();
        let themes = themes?
            .into_iter()
            .map(|t| Theme {
                slug: t.stylesheet,
                version: t.version,
                active: t.status == "active",
                update: None,
            })
            .collect();
        Ok(Inventory {
            core: core?,
            php: None,
            plugins,
            themes,
            mu_plugins: None,
            maintenance: None,
            backup_dir: String::new(),
        })
    }

    /// Activates or deactivates the plugin whose main file is `file` (`dir/file.php`).
    pub async fn set_active(&self, file: &str, active: bool) -> Result<(), RestError> {
        let status = if active { "active" } else { "inactive" };
        let route = plugin_route(file)?;
        self.json::<serde_json::Value>(Method::POST, &route, Some(("status", status)))
            .await
            .map(drop)
    }

    /// Deletes the (inactive) plugin whose main file is `file`: WordPress runs its uninstall
    /// routine and removes its files.
    pub async fn delete(&self, file: &str) -> Result<(), RestError> {
        self.json::<serde_json::Value>(Method::DELETE, &plugin_route(file)?, None)
            .await
            .map(drop)
    }

    /// The core version from the home page's generator tag, else the feed's.
    async fn core(&self) -> Result<Option<String>, RestError> {
        for (path, find) in [
            ("", generator_meta as fn(&str) -> Option<&str>),
            ("feed/", feed_generator),
        ] {
            let url = self.url(path)?;
            let got = self.http.get(&url, true).await?;
            let body = got.body.unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            let version = find(&text).filter(|v| v.parse::<Version>().is_ok());
            if let Some(v) = version.filter(|_| got.page.status == 200) {
                return Ok(Some(v.to_owned()));
            }
        }
        Ok(None)
    }

    /// `method` on REST `route` (with one `query` pair) with the application password; the
    /// JSON answer of a 2xx. A 404 at `/wp-json/` that WordPress did not answer is asked again
    /// as `?rest_route=`: it never reached WordPress, so nothing was done.
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        route: &str,
        query: Option<(&str, &str)>,
    ) -> Result<T, RestError> {
        let plain = self.plain_routes.load(Ordering::Relaxed);
        let (mut url, mut status, mut body) = self.send(&method, route, query, plain).await?;
        if status == 404 && !plain && !answered_by_wordpress(&body) {
            self.plain_routes.store(true, Ordering::Relaxed);
            (url, status, body) = self.send(&method, route, query, true).await?;
        }
        if !(200..300).contains(&status) {
            let failure: RestFailure = serde_json::from_slice(&body).unwrap_or_default();
            let code = match failure.code.is_empty() {
                true => "(no WordPress error code)".to_owned(),
                false => failure.code,
            };
            let message = failure.message.chars().take(300).collect();
            return Err(match status {
                // WordPress answers 401 to a request it does not take as the user's.
                401 => RestError::Login {
                    user: self.user.clone(),
                    status,
                    code,
                    message,
                },
                _ => RestError::Refused {
                    method,
                    url: url.to_string(),
                    status,
                    code,
                    message,
                },
            });
        }
        serde_json::from_slice(&body).map_err(|e| RestError::Answer {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// One request with the application password: its URL, status and body.
    async fn send(
        &self,
        method: &Method,
        route: &str,
        query: Option<(&str, &str)>,
        plain: bool,
    ) -> Result<(Url, u16, Vec<u8>), RestError> {
        let url = self.route_url(route, query, plain)?;
        let headers = [
            ("authorization", self.auth.expose()),
            ("accept", "application/json"),
        ];
        let got = self.http.send(method.clone(), &url, &headers, true).await?;
        Ok((url, got.page.status, got.body.unwrap_or_default()))
    }

    /// The URL of REST `route`: `wp-json/<route>` under the site's URL, or the site's URL with
    /// `?rest_route=<route>` when `plain`; `query` added to either.
    fn route_url(
        &self,
        route: &str,
        query: Option<(&str, &str)>,
        plain: bool,
    ) -> Result<Url, RestError> {
        let mut url = if plain {
            let mut url = self.base.clone();
            url.query_pairs_mut().append_pair("rest_route", route);
            url
        } else {
            self.url(&format!("wp-json{route}"))?
        };
        if let Some((key, value)) = query {
            url.query_pairs_mut().append_pair(key, value);
        }
        Ok(url)
    }

    /// `path` under the site's URL; never another origin.
    fn url(&self, path: &str) -> Result<Url, RestError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| RestError::Config(format!("`{path}` is not a URL path: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(RestError::Config(format!(
                "`{path}` leaves the site's origin"
            )));
        }
        Ok(url)
    }
}

/// The slug of a REST plugin id: its directory, or the file of a single-file plugin.
fn slug_of(id: &str) -> &str {
    id.split_once('/').map_or(id, |(dir, _)| dir)
}

/// Whether a REST answer is WordPress's own error (`{"code": …}`), not the web server's page.
fn answered_by_wordpress(body: &[u8]) -> bool {
    serde_json::from_slice::<RestFailure>(body).is_ok_and(|f| !f.code.is_empty())
}

/// The route `/wp/v2/plugins/<dir>/<file>` of a plugin's main file (`dir/file.php`); refuses
/// anything but one or two plain name segments.
fn plugin_route(file: &str) -> Result<String, RestError> {
    let id = file.strip_suffix(".php").unwrap_or(file);
    let plain = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let segments: Vec<&str> = id.split('/').collect();
    if segments.len() > 2 || !segments.iter().all(|s| plain(s)) {
        return Err(RestError::Config(format!(
            "plugin `{file}`: not a plugin file siteward sends to the REST API"
        )));
    }
    Ok(format!("/wp/v2/plugins/{id}"))
}

/// `6.1.9` from `<meta name="generator" content="WordPress 6.1.9" />`.
fn generator_meta(html: &str) -> Option<&str> {
    html.split("<meta ")
        .skip(1)
        .filter_map(|tag| tag.split('>').next())
        .filter(|tag| tag.contains("name=\"generator\""))
        .find_map(|tag| {
            let rest = tag.split("content=\"WordPress ").nth(1)?;
            rest.split('"').next()
        })
}

/// `6.1.9` from `<generator>https://wordpress.org/?v=6.1.9</generator>`.
fn feed_generator(xml: &str) -> Option<&str> {
    let rest = xml.split("<generator>https://wordpress.org/?v=").nth(1)?;
    rest.split('<').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_version_is_read_from_the_generator_tags() {
        let html =
            "<head><meta charset=\"utf-8\"><meta name=\"generator\" content=\"WordPress 6.1.9\" />";
        assert_eq!(generator_meta(html), Some("6.1.9"));
        assert_eq!(
            generator_meta("<meta name=\"generator\" content=\"Hugo 0.1\">"),
            None
        );
        let feed = "<channel><generator>https://wordpress.org/?v=6.4.3</generator>";
        assert_eq!(feed_generator(feed), Some("6.4.3"));
        assert_eq!(feed_generator("<rss></rss>"), None);
    }

    #[test]
    fn plugin_ids_are_plain_name_segments_only() {
        assert_eq!(slug_of("akismet/akismet"), "akismet");
        assert_eq!(slug_of("hello"), "hello");
        assert_eq!(
            plugin_route("akismet/akismet.php").unwrap(),
            "/wp/v2/plugins/akismet/akismet"
        );
        assert_eq!(plugin_route("hello.php").unwrap(), "/wp/v2/plugins/hello");
        for bad in [
            "../../x.php",
            "a/../b.php",
            "a/b/c.php",
            "a?b.php",
            "//evil.test/x.php",
            "",
        ] {
            assert!(plugin_route(bad).is_err(), "{bad}");
        }
    }
}
