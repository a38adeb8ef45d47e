//! Reads a policy file: rules with one typed condition each, and dated exceptions. The policy's
//! `defaults` are checked as a partial site here and merged under sites in [`super::merge`].

use std::collections::BTreeMap;

use super::keys;
use super::site::{SiteShape, read_site};
use crate::spec::{Condition, Exception, HeaderValue, LifetimeLimit, Policy, Rule};
use crate::yaml::{Fields, Kind, Node, Reader};

/// Reads a policy mapping. `None` when its shape is too broken to use.
pub fn read_policy(r: &mut Reader, node: &Node) -> Option<Policy> {
    let f = r.map(node, "policy", keys::POLICY)?;
    let name = f
        .require(r, "name", "policy")
        .and_then(|n| r.parse(n, "name"));
    let description = f.get("description").and_then(|n| r.text(n, "description"));
    if let Some(d) = f.get("defaults") {
        read_site(r, d, SiteShape::Defaults);
    }
    let mut rules: Vec<Rule> = Vec::new();
    for item in f
        .get("rules")
        .and_then(|n| r.list(n, "rules"))
        .unwrap_or_default()
    {
        if let Some(rule) = read_rule(r, item) {
            if rules.iter().any(|x| x.id == rule.id) {
                r.report(
                    &item.loc,
                    format!("rule id `{}` is used twice in this policy", rule.id),
                );
            }
            rules.push(rule);
        }
    }
    let exceptions = f
        .get("exceptions")
        .and_then(|n| r.list(n, "exceptions"))
        .unwrap_or_default()
        .iter()
        .filter_map(|n| read_exception(r, n))
        .collect();
    Some(Policy {
        name: name?,
        description,
        rules,
        exceptions,
    })
}

fn read_rule(r: &mut Reader, node: &Node) -> Option<Rule> {
    let f = r.map(node, "rule", &keys::with(keys::RULE, keys::CONDITIONS))?;
    let id = f
        .require(r, "id", "rule")
        .and_then(|n| r.text(n, "rule.id"));
    let severity = f
        .require(r, "severity", "rule")
        .and_then(|n| r.parse(n, "rule.severity"));
    let present: Vec<&str> = keys::CONDITIONS
        .iter()
        .copied()
        .filter(|k| f.get(k).is_some())
        .collect();
    let condition = match present.as_slice() {
        [key] => read_condition(r, &f, key),
        [] => {
            let msg = format!(
                "rule has no condition; add one of: {}",
                keys::CONDITIONS.join(", ")
            );
            r.report(&node.loc, msg);
            None
        }
        [_, second, ..] => {
            let loc = &f.entry(second).map_or(&node.loc, |e| &e.key_loc);
            r.report(
                loc,
                format!(
                    "rule has more than one condition ({}); split it into one rule each",
                    present.join(", ")
                ),
            );
            None
        }
    };
    Some(Rule {
        id: id?,
        severity: severity?,
        description: f
            .get("description")
            .and_then(|n| r.text(n, "rule.description")),
        advice: f.get("advice").and_then(|n| r.text(n, "rule.advice")),
        condition: condition?,
    })
}

fn read_condition(r: &mut Reader, f: &Fields<'_>, key: &str) -> Option<Condition> {
    let node = f.get(key)?;
    let what = format!("rule.{key}");
    Some(match key {
        "header_present" => Condition::HeaderPresent(r.parse(node, &what)?),
        "header_absent" => Condition::HeaderAbsent(r.parse(node, &what)?),
        "header_value" => {
            let hv = r.map(node, &what, keys::HEADER_VALUE)?;
            let name = hv
                .require(r, "name", &what)
                .and_then(|n| r.parse(n, &format!("{what}.name")));
            let value: Option<HeaderValue> = hv
                .require(r, "value", &what)
                .and_then(|n| r.parse(n, &format!("{what}.value")));
            Condition::HeaderValue {
                name: name?,
                value: value?,
            }
        }
        "hsts_min_max_age" => {
            Condition::HstsMinMaxAge(r.uint(node, &what, 0, u64::from(u32::MAX))?)
        }
        "csp_requires" => {
            let mut req = BTreeMap::new();
            for e in r.any_map(node, &what)? {
                let sources = if e.value.is_null() {
                    Vec::new()
                } else {
                    let items = r.list(&e.value, &format!("{what}.{}", e.key))?;
                    items.iter().filter_map(|n| r.text(n, &what)).collect()
                };
                req.insert(e.key.to_ascii_lowercase(), sources);
            }
            Condition::CspRequires(req)
        }
        "cert_min_days_left" => Condition::CertMinDaysLeft(r.uint(node, &what, 0, 3650)? as u32),
        "cert_min_key" => Condition::CertMinKey(r.parse(node, &what)?),
        "cert_ocsp_stapled" => only_true(r, node, &what, Condition::CertOcspStapled)?,
        "cert_max_lifetime" => Condition::CertMaxLifetime(match &node.kind {
            Kind::Scalar { text, plain: true } if text == "cabf" => LifetimeLimit::Cabf,
            Kind::Scalar { text, plain: true } if !text.bytes().all(|b| b.is_ascii_digit()) => {
                r.report(
                    &node.loc,
                    format!(
                        "{what}: expected `cabf` (the CA/Browser Forum maximum at the issue \
                         date) or a number of days, found `{text}`"
                    ),
                );
                return None;
            }
            _ => LifetimeLimit::Days(r.uint(node, &what, 1, 3650)? as u32),
        }),
        "cert_min_rsa_bits" => Condition::CertMinRsaBits(r.uint(node, &what, 1024, 16384)? as u32),
        "cert_no_sha1" => only_true(r, node, &what, Condition::CertNoSha1)?,
        "plugin_deny" => {
            let items = r.list(node, &what)?;
            Condition::PluginDeny(items.iter().filter_map(|n| r.text(n, &what)).collect())
        }
        "min_core_version" => Condition::MinCoreVersion(r.parse(node, &what)?),
        "checks_pass" => {
            let items = r.list(node, &what)?;
            Condition::ChecksPass(items.iter().filter_map(|n| r.text(n, &what)).collect())
        }
        _ => return None,
    })
}

/// A condition written as `key: true`; `false` would ask for nothing, so it is refused.
fn only_true(r: &mut Reader, node: &Node, what: &str, condition: Condition) -> Option<Condition> {
    if r.bool(node, what)? {
        return Some(condition);
    }
    r.report(
        &node.loc,
        format!("{what}: `false` asks for nothing; write `true`, or remove the rule"),
    );
    None
}

fn read_exception(r: &mut Reader, node: &Node) -> Option<Exception> {
    let f = r.map(node, "exception", keys::EXCEPTION)?;
    let rule = f
        .require(r, "rule", "exception")
        .and_then(|n| r.text(n, "exception.rule"));
    let site = f
        .require(r, "site", "exception")
        .and_then(|n| r.parse(n, "exception.site"));
    let reason = f
        .require(r, "reason", "exception")
        .and_then(|n| r.text(n, "exception.reason"));
    let expires = f
        .require(r, "expires", "exception")
        .and_then(|n| r.parse(n, "exception.expires"));
    Some(Exception {
        rule: rule?,
        site: site?,
        reason: reason?,
        expires: expires?,
    })
}
