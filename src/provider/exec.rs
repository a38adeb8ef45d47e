//! The `exec` provider: a program of the operator's (a hosting provider's API client, a
//! control-panel script) that speaks a small JSON protocol on stdin/stdout, so that siteward
//! can manage sites it has no file for. The protocol is documented in the README and as a JSON
//! Schema in `examples/providers/exec-protocol.schema.json`; `examples/providers/` holds an
//! example program.
//!
//! The program is the target: what it reports (`capabilities` + `observe`) is the provider's
//! content, one canonical JSON document of the headers and redirects it sets; writing that
//! content is an `apply` request with the desired resources and the changes between what it
//! reported and what is desired. So the shared sequence (`sequence.rs`) runs unchanged: back up
//! (observe), write (apply), verify over HTTP, restore on failure (apply the state observed
//! before).
//!
//! # Guarantees
//! - The program runs from an argument vector, never a shell, with a deadline (`timeout`,
//!   default 60 s) after which its process group is killed, and a bounded answer (1 MiB).
//! - It does not inherit siteward's environment: it gets `PATH`, `HOME`, the locale, `TMPDIR`,
//!   `TZ`, the site's `env` secrets and, for an apply, one `SITEWARD_SECRET_n` variable per
//!   secret header value — for that run only. Secret values are never on its command line or
//!   stdin, and are replaced by their digest in anything it prints that becomes an error.
//! - An answer that is not the protocol (not JSON, another protocol version, a change without
//!   a result) is an error naming the program and the request: nothing is recorded as applied.
//! - Only programs listed in `SITEWARD_EXEC_ALLOW` (absolute paths, `:`-separated, set where
//!   siteward runs) are run: `plan` runs on pull requests, and a pull request must not choose
//!   a program to run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::desired::{self, DesiredHeader};
use super::{ServerConfig, View};
use crate::plan::{Action, Change, Resource};
use crate::report::escape::fenced;
use crate::secret::Secret;
use crate::spec::{SecretRef, ServerManage, Site};

/// The protocol name and version, sent in every request and required in every answer.
pub const PROTOCOL: &str = "siteward-exec/1";

/// The environment variable listing the programs `exec` providers may run.
pub const ALLOW_VAR: &str = "SITEWARD_EXEC_ALLOW";

/// Largest answer read from the program.
const MAX_ANSWER: usize = 1024 * 1024;

/// Deadline of one program run when the site sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest message of the program's kept in an error.
const MAX_MESSAGE: usize = 2000;

/// The `exec` kind.
pub struct Exec;

/// One redirect as the protocol carries it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectDoc {
    from: String,
    to: String,
    status: u16,
}

/// The content of an exec target: what the program's configuration sets (lowercased header
/// names), and which resources it accepts (from `capabilities`; absent in rendered content).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resources: Option<BTreeSet<String>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    redirects: BTreeSet<RedirectDoc>,
}

impl State {
    fn parse(text: &str) -> Result<State, String> {
        serde_json::from_str(text).map_err(|e| format!("exec state is not valid: {e}"))
    }

    fn text(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }

    /// The state with secret header values as digests.
    fn public(&self, site: &Site) -> State {
        let mut out = self.clone();
        for (name, value) in &mut out.headers {
            if desired::is_secret(site, name) {
                *value = desired::redacted(value);
            }
        }
        out
    }
}

impl ServerConfig for Exec {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn render(
        &self,
        site: &Site,
        headers: &[DesiredHeader],
        reveal: bool,
    ) -> Result<String, String> {
        let state = State {
            resources: None,
            headers: headers
                .iter()
                .map(|h| {
                    let value = if reveal { h.value.clone() } else { h.shown() };
                    (h.name.lower(), value)
                })
                .collect(),
            redirects: site
                .redirects
                .iter()
                .map(|r| RedirectDoc {
                    from: r.from.as_str().to_owned(),
                    to: r.to.as_str().to_owned(),
                    status: r.status,
                })
                .collect(),
        };
        Ok(state.text())
    }

    /// The desired state, keeping what the program said it accepts (so that an unchanged
    /// state is byte for byte what was observed, and nothing is applied).
    fn splice(&self, current: Option<&str>, owned: &str) -> Result<String, String> {
        let mut state = State::parse(owned)?;
        state.resources = match current {
            Some(c) => State::parse(c)?.resources,
            None => None,
        };
        Ok(state.text())
    }

    fn view(&self, site: &Site, current: &str) -> Result<View, String> {
        let state = State::parse(current)?;
        let owned = State {
            resources: None,
            ..state.public(site)
        };
        Ok(View {
            text: Some(owned.text()),
            headers: state.headers.keys().cloned().collect(),
            redirects: state.redirects.iter().map(|r| r.from.clone()).collect(),
            resources: state.resources.map(|r| {
                r.iter()
                    .filter_map(|name| match name.as_str() {
                        "header" => Some(Resource::Header),
                        "redirect" => Some(Resource::Redirect),
                        _ => None,
                    })
                    .collect()
            }),
        })
    }

    /// The program decides; which resources it takes is checked against its capabilities.
    fn can_apply(&self, _site: &Site, _change: &Change) -> Result<(), String> {
        Ok(())
    }

    fn advice(&self, changes: &[Change]) -> String {
        let mut out = String::new();
        for c in changes {
            if !matches!(c.resource, Resource::Header | Resource::Redirect) {
                continue;
            }
            let want = match (c.action, c.desired.as_deref()) {
                (Action::Remove, _) | (_, None) => "remove".to_owned(),
                (_, Some(v)) => format!("set to {v}"),
            };
            let _ = writeln!(out, "{} {}: {want}", c.resource.as_str(), c.key);
        }
        if out.is_empty() {
            return out;
        }
        format!(
            "At the hosting provider (control panel, API or a support request):\n\n{}",
            fenced(&out, "")
        )
    }
}

/// The program of a site's `exec` provider, as configured.
#[derive(Debug, Clone)]
pub struct Program {
    argv: Vec<String>,
    env: BTreeMap<String, SecretRef>,
    timeout: Duration,
    repo: PathBuf,
}

impl Program {
    /// The program of `m` (`None` without `command`); a relative program path is relative to
    /// the state repo `repo`.
    pub fn new(m: &ServerManage, repo: &Path) -> Option<Program> {
        let mut argv = m.command.as_ref()?.words().to_vec();
        if let Some(first) = argv.first_mut()
            && first.contains('/')
        {
            *first = crate::load::site::resolve(repo, Path::new(first.as_str()))
                .display()
                .to_string();
        }
        Some(Program {
            argv,
            env: m.env.clone(),
            timeout: m.timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            repo: repo.to_path_buf(),
        })
    }

    /// The program's path (or name, looked up on `PATH`).
    pub fn path(&self) -> &Path {
        Path::new(self.argv.first().map_or("", String::as_str))
    }

    /// Refuses a program that `SITEWARD_EXEC_ALLOW` does not list.
    fn allowed(&self) -> Result<(), String> {
        let list = std::env::var_os(ALLOW_VAR).unwrap_or_default();
        let me = canonical(self.path());
        if std::env::split_paths(&list).any(|p| p.is_absolute() && canonical(&p) == me) {
            return Ok(());
        }
        Err(format!(
            "the exec program `{}` is not allowed on this machine: add its absolute path to \
             `{ALLOW_VAR}` (`:`-separated) in the environment that runs siteward, never in the \
             state repo",
            self.path().display()
        ))
    }

    /// The site's `env` secrets, resolved for one run.
    fn secrets(&self) -> Result<Vec<(String, Secret)>, String> {
        self.env
            .iter()
            .map(|(name, r)| {
                crate::secret::resolve(r, &self.repo)
                    .map(|v| (name.clone(), Secret::new(v)))
                    .map_err(|e| format!("env `{name}`: {}", crate::error_text::chain(&e)))
            })
            .collect()
    }

    /// Runs one request; the answer's object, or an error in the user's terms. `extra` are
    /// more secret variables for this run (secret header values).
    async fn call(
        &self,
        action: &str,
        mut request: serde_json::Map<String, Value>,
        extra: &[(String, Secret)],
    ) -> Result<serde_json::Map<String, Value>, String> {
        self.allowed()?;
        let mut secrets = self.secrets()?;
        secrets.extend(extra.iter().cloned());
        let env: Vec<(String, String)> = secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect();
        let scrub = |text: &str| scrub(text, &secrets);
        request.insert("protocol".into(), PROTOCOL.into());
        request.insert("action".into(), action.into());
        let stdin = serde_json::to_vec(&Value::Object(request)).unwrap_or_default();
        let program = self.path().display().to_string();
        let out = crate::transport::process::run_with_env(
            "local",
            &self.argv,
            Some(&stdin),
            Some(&env),
            self.timeout,
        )
        .await
        .map_err(|e| format!("exec `{action}`: {}", crate::error_text::chain(&e)))?;
        if out.stdout.len() > MAX_ANSWER {
            return Err(format!(
                "exec program `{program}` answered `{action}` with more than {MAX_ANSWER} bytes"
            ));
        }
        let answer: Option<serde_json::Map<String, Value>> =
            serde_json::from_slice(&out.stdout).ok();
        let answer = answer.filter(|a| a.get("protocol").and_then(Value::as_str) == Some(PROTOCOL));
        if let Some(error) = answer
            .as_ref()
            .and_then(|a| a.get("error"))
            .and_then(Value::as_str)
        {
            return Err(format!(
                "exec program `{program}` refused `{action}`: {}",
                scrub(error)
            ));
        }
        if !out.success() {
            return Err(format!(
                "exec program `{program}` failed on `{action}`: {}",
                scrub(&out.message())
            ));
        }
        answer.ok_or_else(|| {
            let got = String::from_utf8_lossy(&out.stdout);
            format!(
                "exec program `{program}` answered `{action}` with something that is not the \
                 exec protocol (one JSON object with \"protocol\": \"{PROTOCOL}\"): `{}`",
                scrub(got.trim()).chars().take(200).collect::<String>()
            )
        })
    }

    /// The program's content: `capabilities` and `observe`, as one canonical document with the
    /// real values (they are the backup an apply restores).
    pub async fn read(&self, site: &Site) -> Result<Vec<u8>, String> {
        let program = self.path().display().to_string();
        let caps = self.call("capabilities", base(site), &[]).await?;
        let resources: BTreeSet<String> = match caps.get("resources") {
            Some(r) => serde_json::from_value(r.clone()).map_err(|e| {
                format!("exec program `{program}`: `capabilities` `resources` is not a list of names: {e}")
            })?,
            None => BTreeSet::new(),
        };
        let seen = self.call("observe", base(site), &[]).await?;
        let mut state: State = serde_json::from_value(json!({
            "headers": seen.get("headers").cloned().unwrap_or(json!({})),
            "redirects": seen.get("redirects").cloned().unwrap_or(json!([])),
        }))
        .map_err(|e| {
            format!("exec program `{program}`: `observe` answer is not the exec protocol: {e}")
        })?;
        state.headers = state
            .headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        state.resources = Some(resources);
        Ok(state.text().into_bytes())
    }

    /// Applies content `to` (from [`Exec::render`] through [`Exec::splice`], or a backup): an
    /// `apply` request with the desired resources and the changes from what the program reports
    /// now (observed again: after a failed apply, only the program knows what it changed);
    /// every change must come back `applied`.
    pub async fn write(&self, site: &Site, to: &[u8]) -> Result<(), String> {
        let parse = |b: &[u8]| State::parse(&String::from_utf8_lossy(b));
        let from = parse(&self.read(site).await?)?;
        let to = parse(to)?;
        let changes = changes(&from, &to);
        if changes.is_empty() {
            return Ok(());
        }
        // Secret values travel as variables of this run; the request names the variable.
        let mut secrets = Vec::new();
        let mut headers = serde_json::Map::new();
        for (name, value) in &to.headers {
            let v = if desired::is_secret(site, name) {
                let var = format!("SITEWARD_SECRET_{}", secrets.len() + 1);
                secrets.push((var.clone(), Secret::new(value.clone())));
                json!({ "env": var })
            } else {
                json!(value)
            };
            headers.insert(name.clone(), v);
        }
        let shown: Vec<Value> = changes
            .iter()
            .map(|(resource, key, action, value)| {
                let value = match value {
                    Some(v) if *resource == "header" && desired::is_secret(site, key) => {
                        json!(desired::redacted(v))
                    }
                    v => json!(v),
                };
                json!({"resource": resource, "key": key, "action": action, "desired": value})
            })
            .collect();
        let mut request = base(site);
        request.insert(
            "desired".into(),
            json!({"headers": headers, "redirects": to.redirects}),
        );
        request.insert("changes".into(), Value::Array(shown));
        let answer = self.call("apply", request, &secrets).await?;
        // The program's own messages may echo a value it was given.
        secrets.extend(self.secrets()?);
        let scrub = |text: &str| scrub(text, &secrets);
        check_results(self.path(), &answer, &changes, &scrub)
    }
}

/// One change as the protocol names it: resource, key, action and desired value.
type ProtocolChange = (&'static str, String, &'static str, Option<String>);

/// The changes that turn `from` into `to`.
fn changes(from: &State, to: &State) -> Vec<ProtocolChange> {
    let mut out = Vec::new();
    for (name, value) in &to.headers {
        match from.headers.get(name) {
            None => out.push(("header", name.clone(), "add", Some(value.clone()))),
            Some(old) if old != value => {
                out.push(("header", name.clone(), "change", Some(value.clone())))
            }
            Some(_) => {}
        }
    }
    for name in from.headers.keys().filter(|n| !to.headers.contains_key(*n)) {
        out.push(("header", name.clone(), "remove", None));
    }
    let target = |s: &State, from: &str| {
        s.redirects
            .iter()
            .find(|r| r.from == from)
            .map(|r| format!("{} {}", r.status, r.to))
    };
    for r in &to.redirects {
        match target(from, &r.from) {
            None => out.push(("redirect", r.from.clone(), "add", target(to, &r.from))),
            Some(old) if Some(&old) != target(to, &r.from).as_ref() => {
                out.push(("redirect", r.from.clone(), "change", target(to, &r.from)))
            }
            Some(_) => {}
        }
    }
    for r in from
        .redirects
        .iter()
        .filter(|r| target(to, &r.from).is_none())
    {
        out.push(("redirect", r.from.clone(), "remove", None));
    }
    out
}

/// `text` with every secret value replaced by its digest, then cut to [`MAX_MESSAGE`]
/// characters (replaced first, so that no part of a secret survives the cut).
fn scrub(text: &str, secrets: &[(String, Secret)]) -> String {
    let mut text = text.to_owned();
    for (_, s) in secrets {
        if !s.expose().is_empty() {
            text = text.replace(s.expose(), &s.shown());
        }
    }
    text.chars().take(MAX_MESSAGE).collect()
}

/// Every change must have a result, and every result must be `applied`; the program's
/// messages pass through `scrub`.
fn check_results(
    program: &Path,
    answer: &serde_json::Map<String, Value>,
    changes: &[ProtocolChange],
    scrub: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    let program = program.display();
    let results = answer
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("exec program `{program}` answered `apply` without `results`"))?;
    let mut failed = Vec::new();
    for (resource, key, _, _) in changes {
        let found = results.iter().find(|r| {
            r.get("resource").and_then(Value::as_str) == Some(resource)
                && r.get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
        });
        let message = |r: &Value| scrub(r.get("message").and_then(Value::as_str).unwrap_or(""));
        match found.map(|r| (r.get("result").and_then(Value::as_str), r)) {
            Some((Some("applied"), _)) => {}
            Some((Some("failed"), r)) => failed.push(format!("{resource} `{key}`: {}", message(r))),
            Some(_) => failed.push(format!(
                "{resource} `{key}`: result is neither `applied` nor `failed`"
            )),
            None => failed.push(format!("{resource} `{key}`: no result")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "exec program `{program}` did not apply: {}",
            failed.join("; ")
        ))
    }
}

/// The request fields every action carries.
fn base(site: &Site) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "site".into(),
        json!({"name": site.name.as_str(), "url": site.url.as_str()}),
    );
    m
}

/// A path with links resolved where it exists (so an allow-list entry matches a link to it).
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(headers: &[(&str, &str)], redirects: &[(&str, &str)]) -> State {
        State {
            resources: None,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            redirects: redirects
                .iter()
                .map(|(f, t)| RedirectDoc {
                    from: (*f).to_owned(),
                    to: (*t).to_owned(),
                    status: 301,
                })
                .collect(),
        }
    }

    #[test]
    fn changes_are_the_difference_of_two_states() {
        let from = state(
            &[("x-a", "1"), ("x-b", "2")],
            &[("http://a/", "https://a/")],
        );
        let to = state(&[("x-a", "1"), ("x-b", "3"), ("x-c", "4")], &[]);
        let got: Vec<(&str, String, &str)> = changes(&from, &to)
            .into_iter()
            .map(|(r, k, a, _)| (r, k, a))
            .collect();
        assert_eq!(
            got,
            [
                ("header", "x-b".to_owned(), "change"),
                ("header", "x-c".to_owned(), "add"),
                ("redirect", "http://a/".to_owned(), "remove"),
            ]
        );
        assert!(changes(&to, &to).is_empty());
    }

    #[test]
    fn every_change_needs_an_applied_result() {
        let to = state(&[("x-a", "1"), ("x-b", "2")], &[]);
        let c = changes(&State::default(), &to);
        let answer = |v: Value| v.as_object().cloned().unwrap();
        let none = |t: &str| t.to_owned();
        let ok = answer(json!({"results": [
            {"resource": "header", "key": "X-A", "result": "applied"},
            {"resource": "header", "key": "x-b", "result": "applied"}]}));
        assert!(check_results(Path::new("p"), &ok, &c, &none).is_ok());
        let bad = answer(json!({"results": [
            {"resource": "header", "key": "x-a", "result": "failed", "message": "quota"},
            {"resource": "header", "key": "x-b", "result": "maybe"}]}));
        let err = check_results(Path::new("p"), &bad, &c, &none).unwrap_err();
        assert!(err.contains("header `x-a`: quota"), "{err}");
        assert!(err.contains("header `x-b`: result is neither"), "{err}");
        let empty = answer(json!({"results": []}));
        let err = check_results(Path::new("p"), &empty, &c, &none).unwrap_err();
        assert!(err.contains("no result"), "{err}");
        assert!(check_results(Path::new("p"), &answer(json!({})), &c, &none).is_err());
    }

    #[test]
    fn secrets_are_scrubbed_before_the_cut() {
        let secrets = [("X".to_owned(), Secret::new("s3cret".into()))];
        let long = format!("{}s3cret", "a".repeat(MAX_MESSAGE - 3));
        let out = scrub(&long, &secrets);
        assert!(
            !out.contains("s3c") && out.chars().count() == MAX_MESSAGE,
            "{out}"
        );
        assert_eq!(
            scrub("x s3cret y", &secrets),
            format!("x {} y", secrets[0].1.shown())
        );
    }

    #[test]
    fn splice_keeps_the_capabilities_so_an_unchanged_state_is_equal() {
        let mut observed = state(&[("x-a", "1")], &[]);
        observed.resources = Some(["header".to_owned()].into());
        let rendered = state(&[("x-a", "1")], &[]).text();
        assert_eq!(
            Exec.splice(Some(&observed.text()), &rendered).unwrap(),
            observed.text()
        );
    }
}
