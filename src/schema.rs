//! `siteward schema`: a JSON Schema (draft 2020-12) of site and policy files for editors. Every
//! object's properties are exactly the loader's allowed keys ([`crate::load::keys`]); a test
//! checks both that the examples pass and that the two key lists agree.

use serde_json::{Map, Value, json};

use crate::load::keys;
use crate::spec::{Issuer, KeyType, Severity, SyncMode};

/// Schema id used in `$id` and documentation.
pub const SCHEMA_ID: &str = "https://siteward.dev/schema/v1.json";

/// The full schema: a site file, a policy file or `siteward.yaml` (chosen by shape).
pub fn json_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "siteward state file",
        "description": "A siteward site file (sites/<name>.yaml), policy file (policies/<name>.yaml) or siteward.yaml.",
        "anyOf": [{"$ref": "#/$defs/site"}, {"$ref": "#/$defs/policy"}, {"$ref": "#/$defs/settings"}],
        "$defs": defs(),
    })
}

/// An object schema with exactly `keys` as properties (descriptions from `props`).
fn object(keys: &[&str], props: Value, required: &[&str]) -> Value {
    let props = props.as_object().cloned().unwrap_or_default();
    let mut properties = Map::new();
    for k in keys {
        properties.insert(
            (*k).to_owned(),
            props.get(*k).cloned().unwrap_or_else(|| json!({})),
        );
    }
    json!({"type": "object", "additionalProperties": false, "properties": properties, "required": required})
}

/// `manage.server` needs `command` with `provider: exec` and `config` with every other kind.
fn server_kinds(mut schema: Value) -> Value {
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "if".into(),
            json!({"properties": {"provider": {"const": "exec"}}, "required": ["provider"]}),
        );
        o.insert("then".into(), json!({"required": ["command"]}));
        o.insert("else".into(), json!({"required": ["config"]}));
    }
    schema
}

/// `updates: {source, min_age}` (siteward.yaml and a site's `software`).
fn updates() -> Value {
    object(
        keys::UPDATES,
        json!({
            "source": string("release list (JSON) or package directory; default: packages"),
            "min_age": {"type": ["string", "integer"], "description": "minimum release age before a bump is proposed, e.g. 3d; security fixes skip it"},
        }),
        &[],
    )
}

fn windows() -> Value {
    json!({"type": "array", "description": "change windows: apply and reconcile hold the site's changes inside one", "items": object(
        keys::WINDOW,
        json!({
            "deny": {"type": "string", "pattern": "^\\s*[A-Za-z]+\\s+\\d{1,2}:\\d{2}\\s*-\\s*[A-Za-z]+\\s+\\d{1,2}:\\d{2}\\s*$", "description": "every week, e.g. `Fri 16:00 - Mon 08:00` (local time in `timezone`)"},
            "from": {"type": "string", "format": "date", "description": "first day of a freeze (YYYY-MM-DD)"},
            "to": {"type": "string", "format": "date", "description": "last day of a freeze (YYYY-MM-DD)"},
            "timezone": string("IANA time zone, e.g. Europe/Amsterdam; default UTC"),
            "reason": string("why changes are held, shown in plans and records"),
        }),
        &[],
    )})
}

/// `notify:` (siteward.yaml): webhook targets told about transitions.
fn notify() -> Value {
    json!({"type": "array", "description": "webhook targets told once per transition", "items": object(
        keys::NOTIFY,
        json!({
            "name": string("how the target is shown in output and records (never the URL)"),
            "url": string("https URL (http only to a loopback host), or env:NAME / file:PATH when it holds a token"),
            "format": keywords(crate::spec::values::NotifyFormat::ALL, "json (default) | slack | teams | mattermost"),
            "events": {"type": "array", "minItems": 1, "items": keywords(crate::spec::values::NotifyEvent::ALL, "a transition"), "description": "events to tell (grade_dropped makes recording runs also fetch what the web grade looks at)"},
            "days": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "certificate_expiring: days left at or under which to tell (default 14)"},
        }),
        &["name", "url", "events"],
    )})
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn keywords(all: &[&str], description: &str) -> Value {
    json!({"type": "string", "enum": all, "description": description})
}

fn transport_props() -> Value {
    json!({
        "host": {"type": "string", "pattern": "^s(sh|ftp)://", "description": "ssh://user@host[:port] (sftp:// for files only); absent means local"},
        "identity": string("SSH identity file"),
        "known_hosts": string("SSH known_hosts file"),
        "ssh_options": {"type": "array", "items": {"type": "string"}, "description": "extra `-o` options for ssh"},
    })
}

fn with_transport(props: Value) -> Value {
    let mut all = transport_props();
    if let (Some(a), Some(b)) = (all.as_object_mut(), props.as_object()) {
        a.extend(b.clone());
    }
    all
}

fn site_props() -> Value {
    let version = json!({"type": ["string", "number"], "description": "exact version (\"6.4.3\") or constraint (\">=6.4, <7\")"});
    let package = json!({"anyOf": [
        version.clone(),
        {"const": "absent"},
        object(keys::PACKAGE, json!({
            "version": version,
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "active": {"type": "boolean"},
        }), &["version"]),
    ]});
    let packages = json!({"type": "object", "additionalProperties": package});
    let command =
        string("command line, split like a POSIX shell but run without one; `sudo` may be first");
    json!({
        "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$", "description": "DNS-like id; equals the file stem"},
        "url": {"type": "string", "format": "uri", "pattern": "^https?://", "description": "canonical https URL (http only with allow_http)"},
        "owner": string("who runs the site"),
        "labels": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}, "description": "selectable with --selector key=value"},
        "description": string("free text"),
        "policies": {"type": "array", "items": {"type": "string"}, "description": "policy names, applied in order"},
        "sync": keywords(SyncMode::ALL, "observe (default) | propose | auto"),
        "connect": string("ADDR[:PORT] to connect to instead of DNS (like curl --resolve)"),
        "connect_http": string("ADDR[:PORT] for plain-http requests"),
        "ca": string("PEM trust root for this site only"),
        "insecure_skip_verify": {"type": "boolean", "description": "turns TLS verification off; reported on every run"},
        "allow_http": {"type": "boolean", "description": "allow an http:// url (intranet sites)"},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number"]}, "description": "response header -> value, `absent`, or env:/file: reference"},
        "redirects": {"type": "array", "items": object(keys::REDIRECT, json!({
            "from": {"type": "string", "format": "uri"},
            "to": {"type": "string", "format": "uri"},
            "status": {"enum": [301, 302, 303, 307, 308]},
        }), &["from", "to"])},
        "certificate": object(keys::CERTIFICATE, json!({
            "domains": {"type": "array", "items": {"type": "string"}},
            "min_days_left": {"type": "integer", "minimum": 0, "maximum": 3650},
            "key": keywords(KeyType::ALL, "key algorithm and size"),
            "issuer": keywords(Issuer::ALL, "acme | manual"),
        }), &[]),
        "software": object(keys::SOFTWARE, json!({
            "platform": string("wordpress, ..."),
            "core": version,
            "plugins": packages,
            "themes": packages,
            "packages": string("directory or https URL holding <slug>-<version>.zip"),
            "updates": updates(),
            "allow_unpinned": {"type": "boolean"},
            "core_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "sha256 of wordpress-<version>.zip"},
        }), &[]),
        "checks": {"type": "array", "items": object(keys::CHECK, json!({
            "name": {"type": "string"},
            "path": {"type": "string", "pattern": "^/"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "body_contains": {"type": "string"},
            "max_response_ms": {"type": "integer", "minimum": 1, "maximum": 600_000},
        }), &["name"])},
        "windows": windows(),
        "manage": object(keys::MANAGE, json!({
            "server": server_kinds(object(&keys::with(keys::MANAGE_SERVER, keys::TRANSPORT), with_transport(json!({
                "provider": {"enum": crate::spec::ServerProvider::ALL},
                "config": string("file on the target that siteward owns (or holding its block); not for `exec`"),
                "test_command": command,
                "reload_command": command,
                "command": string("`exec` only: the program speaking the exec protocol, split like a POSIX shell but run without one"),
                "env": {"type": "object", "description": "`exec` only: environment variables for the program, as secret references", "additionalProperties": {"type": "string", "pattern": "^(env|file):"}},
                "timeout": {"type": "integer", "minimum": 1, "maximum": 3600, "description": "`exec` only: seconds one run of the program may take (default 60)"},
            })), &["provider"])),
            "certificate": object(&keys::with(keys::MANAGE_CERTIFICATE, keys::TRANSPORT), with_transport(json!({
                "provider": {"enum": crate::spec::CertificateProvider::ALL},
                "directory": {"type": "string", "format": "uri"},
                "directory_ca": {"type": "string"},
                "email": {"type": "string"},
                "account_key": {"type": "string", "pattern": "^(env|file):"},
                "challenge": {"enum": ["http-01"]},
                "webroot": {"type": "string"},
                "cert_path": {"type": "string"},
                "key_path": {"type": "string"},
                "test_command": command,
                "reload_command": command,
            })), &["provider"]),
            "software": object(&keys::with(keys::MANAGE_SOFTWARE, keys::TRANSPORT), with_transport(json!({
                "provider": {"enum": crate::spec::SoftwareProvider::ALL},
                "via": {"enum": crate::spec::WordpressVia::ALL},
                "path": {"type": "string"},
                "php": {"type": "string"},
                "user": {"type": "string"},
                "username": {"type": "string"},
                "app_password": {"type": "string", "pattern": "^(env|file):"},
            })), &["provider"]),
        }), &[]),
    })
}

fn rule_props() -> Value {
    let header = json!({"type": "string"});
    json!({
        "id": {"type": "string"},
        "severity": keywords(Severity::ALL, "low | medium | high | critical"),
        "description": {"type": "string"},
        "advice": {"type": "string"},
        "header_present": header,
        "header_absent": header,
        "header_value": object(keys::HEADER_VALUE, json!({"name": header, "value": {"type": "string"}}), &["name", "value"]),
        "hsts_min_max_age": {"type": "integer", "minimum": 0, "maximum": u32::MAX},
        "csp_requires": {"type": "object", "additionalProperties": {"type": ["array", "null"], "items": {"type": "string"}}},
        "cert_min_days_left": {"type": "integer", "minimum": 0, "maximum": 3650},
        "cert_min_key": keywords(KeyType::ALL, "weakest acceptable key"),
        "cert_ocsp_stapled": {"const": true, "description": "the server staples an OCSP response"},
        "cert_max_lifetime": {"anyOf": [{"const": "cabf"}, {"type": "integer", "minimum": 1, "maximum": 3650}], "description": "longest certificate lifetime: `cabf` (the CA/Browser Forum maximum at the issue date) or days"},
        "cert_min_rsa_bits": {"type": "integer", "minimum": 1024, "maximum": 16384, "description": "fewest bits of an RSA certificate key; other keys pass"},
        "cert_no_sha1": {"const": true, "description": "the certificate is not signed with SHA-1"},
        "plugin_deny": {"type": "array", "items": {"type": "string"}},
        "min_core_version": {"type": ["string", "number"]},
        "checks_pass": {"type": "array", "items": {"type": "string"}},
    })
}

fn defs() -> Value {
    let mut site = object(keys::SITE, site_props(), &["name", "url"]);
    site["description"] = json!("A site file: sites/<name>.yaml");
    let mut defaults = object(keys::SITE, site_props(), &[]);
    defaults["description"] = json!("A partial site merged under every site that lists the policy");
    let conditions: Vec<Value> = keys::CONDITIONS
        .iter()
        .map(|c| json!({"required": [c]}))
        .collect();
    let mut rule = object(
        &keys::with(keys::RULE, keys::CONDITIONS),
        rule_props(),
        &["id", "severity"],
    );
    rule["oneOf"] = Value::Array(conditions);
    json!({
        "site": site,
        "policy": object(keys::POLICY, json!({
            "name": {"type": "string"},
            "description": {"type": "string"},
            "defaults": defaults,
            "rules": {"type": "array", "items": rule},
            "exceptions": {"type": "array", "items": object(keys::EXCEPTION, json!({
                "rule": {"type": "string"},
                "site": {"type": "string"},
                "reason": {"type": "string"},
                "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            }), &["rule", "site", "reason", "expires"])},
        }), &["name"]),
        "settings": object(keys::SETTINGS, json!({
            "audit": object(keys::AUDIT, json!({"branch": {"type": "string"}, "author": {"type": "string"}}), &[]),
            "proposals": object(keys::PROPOSALS, json!({"branch_prefix": {"type": "string"}}), &[]),
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 4096},
            "per_host": {"type": "integer", "minimum": 1, "maximum": 256},
            "timeout": {"type": ["string", "integer"], "minimum": 1, "maximum": 3600},
            "packages": {"type": "string"},
            "vulnerabilities": string("OSV vulnerability feed: a path or https URL of a JSON file or directory"),
            "updates": updates(),
            "windows": windows(),
            "notify": notify(),
        }), &[]),
    })
}
