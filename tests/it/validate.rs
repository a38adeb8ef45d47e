//! `siteward validate`, `schema` and the CLI surface: the bad-input table, the shipped examples,
//! merge semantics through the real loader, JSON output and exit codes of the real binary.

use std::path::Path;

use siteward::load::{LoadError, load_repo};

use super::support::{Repo, siteward};

const SITE: &str = "name: a\nurl: https://a.example/\n";
const POLICY: &str = "name: baseline\nrules:\n  - id: frame\n    severity: low\n    header_present: X-Frame-Options\n";

/// One bad input: extra files over a valid base repo, and the problem it must produce.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    at: &'static str,
    fragment: &'static str,
}

const fn case(
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    at: &'static str,
    fragment: &'static str,
) -> Case {
    Case {
        name,
        files,
        at,
        fragment,
    }
}

const CASES: &[Case] = &[
    case(
        "yaml syntax",
        &[("sites/a.yaml", "name: a\nurl: [x\n")],
        "sites/a.yaml:3:1",
        "invalid YAML",
    ),
    case(
        "tab indentation",
        &[("sites/a.yaml", "name: a\n\turl: x\n")],
        "sites/a.yaml:1:7",
        "invalid YAML: while scanning a plain scalar, found a tab",
    ),
    case(
        "key indented deeper than its siblings",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"1\"\n   X-B: \"2\"\n",
        )],
        "sites/a.yaml:5:7",
        "did not find expected key; hint: indent this line like its siblings",
    ),
    case(
        "key indented less than its siblings",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"1\"\n X-B: \"2\"\n",
        )],
        "sites/a.yaml:5:5",
        "hint: indent this line like its siblings (the keys of one mapping start in the same column, with spaces)",
    ),
    case(
        "key of a list item indented unlike its siblings",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - name: home\n   path: /\n",
        )],
        "sites/a.yaml:5:8",
        "did not find expected '-' indicator; hint: indent this line like its siblings",
    ),
    case(
        "key indented deeper after a plain value",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: one\n   X-B: two\n",
        )],
        "sites/a.yaml:5:7",
        "mapping values are not allowed in this context; hint: indent this line like its siblings",
    ),
    case(
        "colon space in a plain value",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: a: b\n",
        )],
        "sites/a.yaml:4:9",
        "hint: a value that holds `: ` must be quoted",
    ),
    case(
        "double quote inside a double-quoted value",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  Content-Security-Policy: \"default-src \"self\"\"\n",
        )],
        "sites/a.yaml:4:42",
        "hint: the `\"` before this point ends the value; write a value that holds double quotes in single quotes (`'default-src \"self\"'`) or escape them as `\\\"`",
    ),
    case(
        "single quote inside a single-quoted value",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  Content-Security-Policy: 'default-src 'self''\n",
        )],
        "sites/a.yaml:4:42",
        "in double quotes (`\"default-src 'self'\"`) or double them as `''`",
    ),
    case(
        "unclosed quote",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"open\n",
        )],
        "sites/a.yaml:4:8",
        "hint: the quote that starts here is never closed",
    ),
    case(
        "unknown key suggests",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheders: {}\n",
        )],
        "sites/a.yaml:3:1",
        "unknown key `heders` in site; did you mean `headers`?",
    ),
    case(
        "unknown key lists",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nzzzzzzzz: 1\n",
        )],
        "sites/a.yaml:3:1",
        "expected one of: name, url",
    ),
    case(
        "nested unknown key",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ncertificate:\n  min_day_left: 3\n",
        )],
        "sites/a.yaml:4:3",
        "did you mean `min_days_left`?",
    ),
    case(
        "wrong type",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nlabels: [a]\n",
        )],
        "sites/a.yaml:3:9",
        "labels: expected a mapping, found a list",
    ),
    case(
        "duplicate key",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nname: a\n",
        )],
        "sites/a.yaml:3:1",
        "duplicate key `name` (first defined at line 1)",
    ),
    case(
        "stem differs",
        &[("sites/a.yaml", "name: b\nurl: https://a.example/\n")],
        "sites/a.yaml:1:7",
        "name `b` differs from the file name `a.yaml`",
    ),
    case(
        "duplicate site name",
        &[("sites/x/a.yaml", SITE)],
        "sites/x/a.yaml:1:7",
        "duplicate site name `a` (also defined in sites/a.yaml)",
    ),
    case(
        "unknown policy",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\npolicies: [basline]\n",
        )],
        "sites/a.yaml:3:12",
        "unknown policy `basline`; did you mean `baseline`?",
    ),
    case(
        "invalid url",
        &[("sites/a.yaml", "name: a\nurl: not a url\n")],
        "sites/a.yaml:2:6",
        "is not a valid URL",
    ),
    case(
        "http url",
        &[("sites/a.yaml", "name: a\nurl: http://a.example/\n")],
        "sites/a.yaml:2:6",
        "must be https (set `allow_http: true`",
    ),
    case(
        "url credentials",
        &[("sites/a.yaml", "name: a\nurl: https://u:p@a.example/\n")],
        "sites/a.yaml:2:6",
        "contains credentials",
    ),
    case(
        "missing url",
        &[("sites/a.yaml", "name: a\n")],
        "sites/a.yaml:1:1",
        "site: missing required key `url`",
    ),
    case(
        "empty file",
        &[("sites/a.yaml", "")],
        "sites/a.yaml:1:1",
        "site: expected a mapping, found null",
    ),
    case(
        "header name token",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  \"X Bad\": v\n",
        )],
        "sites/a.yaml:4:3",
        "is not a valid header name",
    ),
    case(
        "header name colon",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  \"X-A:\": v\n",
        )],
        "sites/a.yaml:4:3",
        "is not a valid header name",
    ),
    case(
        "header value CRLF",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"a\\r\\nSet-Cookie: x\"\n",
        )],
        "sites/a.yaml:4:8",
        "control character",
    ),
    case(
        "header value NUL",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"a\\0b\"\n",
        )],
        "sites/a.yaml:4:8",
        "control character",
    ),
    case(
        "header value escape",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"a\\x1bb\"\n",
        )],
        "sites/a.yaml:4:8",
        "control character",
    ),
    case(
        "header twice",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-A: \"1\"\n  x-a: \"2\"\n",
        )],
        "sites/a.yaml:5:3",
        "listed twice",
    ),
    case(
        "bad secret ref",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-Key: env:1BAD\n",
        )],
        "sites/a.yaml:4:10",
        "not a valid environment variable name",
    ),
    case(
        "site name case",
        &[(
            "sites/Bad_Name.yaml",
            "name: Bad_Name\nurl: https://a.example/\n",
        )],
        "sites/Bad_Name.yaml:1:7",
        "not a valid site name",
    ),
    case(
        "site name escapes",
        &[("sites/x.yaml", "name: ../etc/x\nurl: https://a.example/\n")],
        "sites/x.yaml:1:7",
        "not a valid site name",
    ),
    case(
        "version constraint",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  core: \">=6.4, banana\"\n",
        )],
        "sites/a.yaml:5:9",
        "is not a version",
    ),
    case(
        "plugin version",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  plugins:\n    woocommerce: latest\n",
        )],
        "sites/a.yaml:6:18",
        "`latest` is not a version or constraint",
    ),
    case(
        "plugin sha256",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  plugins:\n    woo: {version: \"1.0\", sha256: abc}\n",
        )],
        "sites/a.yaml:6:35",
        "is not a sha256 digest",
    ),
    case(
        "core sha256",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  core: \"6.4\"\n  core_sha256: abc\n",
        )],
        "sites/a.yaml:6:16",
        "is not a sha256 digest",
    ),
    case(
        "core sha256 without core",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  core_sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        )],
        "sites/a.yaml:5:16",
        "set `core` too",
    ),
    case(
        "software without platform",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsoftware:\n  core: \"6.4\"\n",
        )],
        "sites/a.yaml:4:3",
        "set `platform`",
    ),
    case(
        "sync keyword",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nsync: always\n",
        )],
        "sites/a.yaml:3:7",
        "`always` is not one of: observe, propose, auto",
    ),
    case(
        "connect",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nconnect: \"a b:1\"\n",
        )],
        "sites/a.yaml:3:10",
        "is not `ADDR[:PORT]`",
    ),
    case(
        "connect port",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nconnect: 127.0.0.1:99999\n",
        )],
        "sites/a.yaml:3:10",
        "is not `ADDR[:PORT]`",
    ),
    case(
        "bool",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ninsecure_skip_verify: yes\n",
        )],
        "sites/a.yaml:3:23",
        "expected `true` or `false`, found a string",
    ),
    case(
        "redirect status",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nredirects:\n  - {from: \"http://a.example/\", to: \"https://a.example/\", status: 200}\n",
        )],
        "sites/a.yaml:4:67",
        "out of range 300..=399",
    ),
    case(
        "redirect missing to",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nredirects:\n  - from: http://a.example/\n",
        )],
        "sites/a.yaml:4:5",
        "redirect: missing required key `to`",
    ),
    case(
        "check path",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: home, path: home}\n",
        )],
        "sites/a.yaml:4:24",
        "must start with `/`",
    ),
    case(
        "check path names another host (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: c1, path: \"//127.0.0.2:8080/c1\"}\n",
        )],
        "sites/a.yaml:4:22",
        "check.path: `//127.0.0.2:8080/c1` starts with `//`, which names another host",
    ),
    case(
        "check path with a backslash (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: c1, path: '/\\127.0.0.2:8080/c1'}\n",
        )],
        "sites/a.yaml:4:22",
        "contains a backslash",
    ),
    case(
        "redirect source on another host (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nredirects:\n  - {from: \"http://169.254.169.254/latest/\", to: \"https://a.example/\"}\n",
        )],
        "sites/a.yaml:4:12",
        "redirect.from: `http://169.254.169.254/latest/` is not on this site: its host must be the url's host or a name in `certificate.domains` (a.example)",
    ),
    case(
        "redirect source not among the certificate's names (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ncertificate: {domains: [a.example, \"*.a.example\"]}\nredirects:\n  - {from: \"http://www.a.example/\", to: \"https://a.example/\"}\n  - {from: \"http://x.www.a.example/\", to: \"https://a.example/\"}\n",
        )],
        "sites/a.yaml:6:12",
        "`http://x.www.a.example/` is not on this site",
    ),
    case(
        "owner with a terminal escape (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nowner: \"ops\\e[2J\"\n",
        )],
        "sites/a.yaml:3:8",
        "owner: `ops\\u{1b}[2J` contains the control character \\u{1b}; remove it",
    ),
    case(
        "description with a terminal escape (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ndescription: \"a\\eb\"\n",
        )],
        "sites/a.yaml:3:14",
        "description: `a\\u{1b}b` contains the control character",
    ),
    case(
        "check name with a bell (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: \"c\\a1\", path: /}\n",
        )],
        "sites/a.yaml:4:12",
        "check.name: `c\\u{7}1` contains the control character \\u{7}",
    ),
    case(
        "label value with a terminal escape (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nlabels:\n  team: \"x\\e]0;pwned\\a\"\n",
        )],
        "sites/a.yaml:4:9",
        "labels.team: `x\\u{1b}]0;pwned\\u{7}` contains the control character",
    ),
    case(
        "check status",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: home, status: 700}\n",
        )],
        "sites/a.yaml:4:26",
        "out of range 100..=599",
    ),
    case(
        "check names unique",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: home}\n  - {name: home}\n",
        )],
        "sites/a.yaml:5:12",
        "used by two checks",
    ),
    case(
        "certificate key",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ncertificate:\n  key: dsa-1024\n",
        )],
        "sites/a.yaml:4:8",
        "`dsa-1024` is not one of",
    ),
    case(
        "negative days",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ncertificate:\n  min_days_left: -5\n",
        )],
        "sites/a.yaml:4:18",
        "expected a whole number, found a number",
    ),
    case(
        "certificate domain",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ncertificate:\n  domains: [\"a b.example\"]\n",
        )],
        "sites/a.yaml:4:13",
        "is not a DNS name",
    ),
    case(
        "provider",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: apache2, config: /etc/x.conf}\n",
        )],
        "sites/a.yaml:4:22",
        "`apache2` is not one of: nginx, headers-file, apache, htaccess, exec",
    ),
    case(
        "provider missing config",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx}\n",
        )],
        "sites/a.yaml:4:12",
        "manage.server: missing required key `config`",
    ),
    case(
        "ssh target",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: /x.conf, host: \"https://web01\"}\n",
        )],
        "sites/a.yaml:4:52",
        "the scheme must be `ssh`",
    ),
    case(
        "ssh option injection",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: /x.conf, host: \"ssh://-oProxyCommand=x@h\"}\n",
        )],
        "sites/a.yaml:4:52",
        "not a valid `ssh://user@host[:port]` target",
    ),
    case(
        "path escapes repo",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: ../../etc/x.conf}\n",
        )],
        "sites/a.yaml:4:37",
        "leaves the state repo",
    ),
    case(
        "command quote",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: /x.conf, test_command: \"nginx -t 'x\"}\n",
        )],
        "sites/a.yaml:4:60",
        "unterminated quote",
    ),
    case(
        "literal secret",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  software: {provider: wordpress, via: rest, app_password: hunter2}\n",
        )],
        "sites/a.yaml:4:60",
        "secrets are never written in YAML",
    ),
    case(
        "rest over http",
        &[(
            "sites/a.yaml",
            "name: a\nurl: http://a.example/\nallow_http: true\nmanage:\n  software: {provider: wordpress, via: rest, username: u, app_password: env:P}\n",
        )],
        "sites/a.yaml:5:3",
        "`via: rest` sends the application password, so the site's `url` must be https",
    ),
    case(
        "php keys with rest",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  software:\n    provider: wordpress\n    via: rest\n    path: /srv/wp\n",
        )],
        "sites/a.yaml:7:5",
        "manage.software.path: not used by `via: rest`",
    ),
    case(
        "labels key",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nlabels:\n  \"bad key\": x\n",
        )],
        "sites/a.yaml:4:3",
        "not a valid label key",
    ),
    case(
        "rule without condition",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n",
        )],
        "policies/p.yaml:3:5",
        "rule has no condition",
    ),
    case(
        "rule two conditions",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n    header_present: X-A\n    header_absent: X-B\n",
        )],
        "policies/p.yaml:6:5",
        "more than one condition",
    ),
    case(
        "rule severity",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: urgent\n    header_present: X-A\n",
        )],
        "policies/p.yaml:4:15",
        "`urgent` is not one of: low, medium, high, critical",
    ),
    case(
        "rule condition asking for nothing",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n    cert_ocsp_stapled: false\n",
        )],
        "policies/p.yaml:5:24",
        "`false` asks for nothing; write `true`, or remove the rule",
    ),
    case(
        "rule lifetime word",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n    cert_max_lifetime: forever\n",
        )],
        "policies/p.yaml:5:24",
        "expected `cabf` (the CA/Browser Forum maximum at the issue date) or a number of days, found `forever`",
    ),
    case(
        "rule rsa bits",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n    cert_min_rsa_bits: 512\n",
        )],
        "policies/p.yaml:5:24",
        "512 is out of range 1024..=16384",
    ),
    case(
        "rule unknown condition",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n    header_presnt: X-A\n",
        )],
        "policies/p.yaml:5:5",
        "did you mean `header_present`?",
    ),
    case(
        "policy stem",
        &[("policies/p.yaml", "name: q\n")],
        "policies/p.yaml:1:7",
        "name `q` differs from the file name `p.yaml`",
    ),
    case(
        "defaults name",
        &[("policies/p.yaml", "name: p\ndefaults:\n  name: x\n")],
        "policies/p.yaml:3:3",
        "`name` belongs in the site file",
    ),
    case(
        "defaults bad header",
        &[(
            "policies/p.yaml",
            "name: p\ndefaults:\n  headers:\n    X-A: \"\\r\"\n",
        )],
        "policies/p.yaml:4:10",
        "control character",
    ),
    case(
        "exception expires",
        &[(
            "policies/p.yaml",
            "name: p\nexceptions:\n  - {rule: frame, site: a, reason: legacy, expires: soon}\n",
        )],
        "policies/p.yaml:3:53",
        "`soon` is not a date; write `YYYY-MM-DD`",
    ),
    case(
        "exception date",
        &[(
            "policies/p.yaml",
            "name: p\nexceptions:\n  - {rule: frame, site: a, reason: legacy, expires: 2026-02-30}\n",
        )],
        "policies/p.yaml:3:53",
        "is not a date",
    ),
    case(
        "exception unknown rule",
        &[(
            "policies/p.yaml",
            "name: p\nexceptions:\n  - {rule: frme, site: a, reason: legacy, expires: 2027-01-01}\n",
        )],
        "policies/p.yaml:3:12",
        "unknown rule `frme`; did you mean `frame`?",
    ),
    case(
        "exception unknown site",
        &[(
            "policies/p.yaml",
            "name: p\nexceptions:\n  - {rule: frame, site: b, reason: legacy, expires: 2027-01-01}\n",
        )],
        "policies/p.yaml:3:25",
        "unknown site `b`",
    ),
    case(
        "settings key",
        &[("siteward.yaml", "concurency: 3\n")],
        "siteward.yaml:1:1",
        "did you mean `concurrency`?",
    ),
    case(
        "settings timeout",
        &[("siteward.yaml", "timeout: soon\n")],
        "siteward.yaml:1:10",
        "is not a duration",
    ),
    case(
        "settings timeout too long",
        &[("siteward.yaml", "timeout: 2h\n")],
        "siteward.yaml:1:10",
        "timeout: `2h` is out of range 1ms..=1h",
    ),
    case(
        "settings timeout too short",
        &[("siteward.yaml", "timeout: 500us\n")],
        "siteward.yaml:1:10",
        "timeout: `500us` is out of range 1ms..=1h",
    ),
    case(
        // Issue #8: passed validate, then `plan` panicked on a duration overflow.
        "settings timeout u64 max",
        &[("siteward.yaml", "timeout: 18446744073709551615\n")],
        "siteward.yaml:1:10",
        "timeout: `18446744073709551615` is out of range 1ms..=1h",
    ),
    case(
        "settings timeout hour overflow",
        &[("siteward.yaml", "timeout: 5124095576030432h\n")],
        "siteward.yaml:1:10",
        "timeout: `5124095576030432h` is too long a duration",
    ),
    case(
        "settings concurrency zero",
        &[("siteward.yaml", "concurrency: 0\n")],
        "siteward.yaml:1:14",
        "concurrency: 0 is out of range 1..=4096",
    ),
    case(
        "settings concurrency too many",
        &[("siteward.yaml", "concurrency: 100000\n")],
        "siteward.yaml:1:14",
        "concurrency: 100000 is out of range 1..=4096",
    ),
    case(
        "settings concurrency beyond u64",
        &[("siteward.yaml", "concurrency: 18446744073709551616\n")],
        "siteward.yaml:1:14",
        "concurrency: 18446744073709551616 is out of range 1..=4096",
    ),
    case(
        "settings per_host zero",
        &[("siteward.yaml", "per_host: 0\n")],
        "siteward.yaml:1:11",
        "per_host: 0 is out of range 1..=256",
    ),
    case(
        "settings per_host too many",
        &[("siteward.yaml", "per_host: 257\n")],
        "siteward.yaml:1:11",
        "per_host: 257 is out of range 1..=256",
    ),
    case(
        "min_days_left too many",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\ncertificate:\n  min_days_left: 3651\n",
        )],
        "sites/a.yaml:4:18",
        "certificate.min_days_left: 3651 is out of range 0..=3650",
    ),
    case(
        "policy cert_min_days_left too many",
        &[(
            "policies/p.yaml",
            "name: p\nrules:\n  - id: r\n    severity: low\n    cert_min_days_left: 99999999999999999999\n",
        )],
        "policies/p.yaml:5:25",
        "rule.cert_min_days_left: 99999999999999999999 is out of range 0..=3650",
    ),
    case(
        "check max_response_ms too long",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nchecks:\n  - {name: home, max_response_ms: 600001}\n",
        )],
        "sites/a.yaml:4:35",
        "check.max_response_ms: 600001 is out of range 1..=600000",
    ),
    case(
        "settings branch",
        &[("siteward.yaml", "audit:\n  branch: a..b\n")],
        "siteward.yaml:2:11",
        "not a valid git branch name",
    ),
    case(
        "two documents",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\n---\nname: b\n",
        )],
        "sites/a.yaml:3:1",
        "more than one YAML document",
    ),
    case(
        "yml extension",
        &[("sites/b.yml", SITE)],
        "sites/b.yml:1:1",
        "use the `.yaml` extension",
    ),
    case(
        "secret path escapes",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nheaders:\n  X-Key: file:../../etc/hostname\n",
        )],
        "sites/a.yaml:4:10",
        "leaves the state repo",
    ),
    case(
        "ssh option runs local code",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [\"PKCS11Provider=./evil.so\"]\n",
        )],
        "sites/a.yaml:7:19",
        "load local code",
    ),
    case(
        "ssh option unpins host keys",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [StrictHostKeyChecking=no]\n",
        )],
        "sites/a.yaml:7:19",
        "host-key checking off",
    ),
    case(
        "ssh option: host keys unpinned with `false` (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [StrictHostKeyChecking=false]\n",
        )],
        "sites/a.yaml:7:19",
        "StrictHostKeyChecking takes one of `yes`; turning host-key checking off",
    ),
    case(
        "ssh option: known hosts on /dev//null (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [UserKnownHostsFile=/dev//null]\n",
        )],
        "sites/a.yaml:7:19",
        "`UserKnownHostsFile` is not an ssh option a site file may set (it could turn host-key checking off",
    ),
    case(
        "ssh option: environment sent (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [\"SendEnv=*\"]\n",
        )],
        "sites/a.yaml:7:19",
        "`SendEnv` is not an ssh option a site file may set; allowed: AddressFamily, Compression, ConnectionAttempts, ConnectTimeout, IPQoS, LogLevel, ProxyJump, ServerAliveCountMax, ServerAliveInterval, StrictHostKeyChecking, TCPKeepAlive",
    ),
    case(
        "ssh option: agent forwarded (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [forwardagent yes]\n",
        )],
        "sites/a.yaml:7:19",
        "`forwardagent` is not an ssh option",
    ),
    case(
        "ssh option: another destination (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [\"Hostname = evil.example\"]\n",
        )],
        "sites/a.yaml:7:19",
        "`Hostname` is not an ssh option",
    ),
    case(
        "ssh option: remote forward (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [\"RemoteForward=2222 localhost:22\"]\n",
        )],
        "sites/a.yaml:7:19",
        "`RemoteForward` is not an ssh option",
    ),
    case(
        "ssh option: quoted key (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: ['\"ProxyCommand\"=sh']\n",
        )],
        "sites/a.yaml:7:19",
        "`ProxyCommand` is not an ssh option a site file may set (it makes ssh run local commands",
    ),
    case(
        "ssh option: jump host that is an option (issue 16)",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    ssh_options: [ProxyJump=-oProxyCommand=sh]\n",
        )],
        "sites/a.yaml:7:19",
        "ProxyJump takes `none` or up to 4",
    ),
    case(
        "ca missing",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nca: certs/none.pem\n",
        )],
        "sites/a.yaml:3:5",
        "ca: `certs/none.pem` does not exist in the state repo",
    ),
    case(
        "ca is a directory",
        &[
            ("certs/x/readme.txt", "not a certificate\n"),
            (
                "sites/a.yaml",
                "name: a\nurl: https://a.example/\nca: certs/x\n",
            ),
        ],
        "sites/a.yaml:3:5",
        "ca: `certs/x`: file is a directory, not a regular file",
    ),
    case(
        "ca from policy defaults missing",
        &[
            (
                "policies/p.yaml",
                "name: p\ndefaults:\n  ca: certs/gone.pem\n",
            ),
            (
                "sites/a.yaml",
                "name: a\nurl: https://a.example/\npolicies: [p]\n",
            ),
        ],
        "policies/p.yaml:3:7",
        "ca: `certs/gone.pem` does not exist in the state repo",
    ),
    case(
        "identity missing",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server:\n    provider: nginx\n    config: /x.conf\n    host: ssh://deploy@web01\n    identity: keys/deploy\n",
        )],
        "sites/a.yaml:8:15",
        "manage.server.identity: `keys/deploy` does not exist in the state repo",
    ),
    case(
        "known_hosts missing",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  software:\n    provider: wordpress\n    host: ssh://deploy@web01\n    known_hosts: ssh/known_hosts\n",
        )],
        "sites/a.yaml:7:18",
        "manage.software.known_hosts: `ssh/known_hosts` does not exist in the state repo",
    ),
    case(
        "via wp-cli",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  software: {provider: wordpress, via: wp-cli, path: /srv/wp}\n",
        )],
        "sites/a.yaml:4:40",
        "manage.software.via: `wp-cli` is not supported (WP-CLI is not needed); write `via: php`, which runs siteward's own scripts with the site's `php`",
    ),
    case(
        "wordpress php not a PHP CLI",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  software: {provider: wordpress, path: /srv/wp, php: /bin/sh}\n",
        )],
        "sites/a.yaml:4:55",
        "manage.software.php: not a PHP CLI; write `php`, `php8.2` or an absolute path ending in one of them",
    ),
    case(
        "wordpress user not a user name",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  software: {provider: wordpress, path: /srv/wp, user: \"#0\"}\n",
        )],
        "sites/a.yaml:4:56",
        "manage.software.user: not a user name (lowercase letters, digits, `_`, `.`, `-`; at most 32)",
    ),
    case(
        "directory_ca missing",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  certificate: {provider: acme, directory_ca: acme-ca.pem}\n",
        )],
        "sites/a.yaml:4:47",
        "manage.certificate.directory_ca: `acme-ca.pem` does not exist in the state repo",
    ),
    case(
        "config empty",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: \"\"}\n",
        )],
        "sites/a.yaml:4:37",
        "manage.server.config: the path is empty",
    ),
    case(
        "config dot",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: .}\n",
        )],
        "sites/a.yaml:4:37",
        "manage.server.config: `.` does not name a file",
    ),
    case(
        "config root",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  server: {provider: nginx, config: /}\n",
        )],
        "sites/a.yaml:4:37",
        "manage.server.config: `/` does not name a file",
    ),
    case(
        "webroot empty",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  certificate: {provider: acme, webroot: \"\"}\n",
        )],
        "sites/a.yaml:4:42",
        "manage.certificate.webroot: the path is empty",
    ),
    case(
        "cert_path directory",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nmanage:\n  certificate: {provider: acme, cert_path: /etc/ssl/}\n",
        )],
        "sites/a.yaml:4:44",
        "manage.certificate.cert_path: `/etc/ssl/` does not name a file",
    ),
    case(
        "audit branch master",
        &[("siteward.yaml", "audit: {branch: master}\n")],
        "siteward.yaml:1:17",
        "audit.branch: `master` is refused: siteward's commits would land on the main line",
    ),
    case(
        "audit branch main",
        &[("siteward.yaml", "audit: {branch: main}\n")],
        "siteward.yaml:1:17",
        "audit.branch: `main` is refused",
    ),
    case(
        "audit branch HEAD",
        &[("siteward.yaml", "audit: {branch: HEAD}\n")],
        "siteward.yaml:1:17",
        "audit.branch: `HEAD` is refused: it names whatever is checked out",
    ),
    case(
        "audit branch tag ref",
        &[("siteward.yaml", "audit: {branch: refs/tags/v1}\n")],
        "siteward.yaml:1:17",
        "audit.branch: `refs/tags/v1` is refused: write the branch name without `refs/`",
    ),
    case(
        "audit branch remote-tracking",
        &[("siteward.yaml", "audit: {branch: origin/main}\n")],
        "siteward.yaml:1:17",
        "audit.branch: `origin/main` is refused: it reads as the branch `main` of the remote `origin`",
    ),
    case(
        "proposals prefix master",
        &[("siteward.yaml", "proposals: {branch_prefix: master}\n")],
        "siteward.yaml:1:28",
        "proposals.branch_prefix: `master` is refused",
    ),
    case(
        "proposals prefix HEAD",
        &[("siteward.yaml", "proposals: {branch_prefix: HEAD}\n")],
        "siteward.yaml:1:28",
        "proposals.branch_prefix: `HEAD` is refused",
    ),
    case(
        "merge key",
        &[(
            "sites/a.yaml",
            "name: a\nurl: https://a.example/\nlabels:\n  <<: {a: b}\n",
        )],
        "sites/a.yaml:4:3",
        "merge keys (`<<`) are not supported",
    ),
];

fn base_repo() -> Repo {
    let repo = Repo::new();
    repo.write("sites/a.yaml", SITE)
        .write("policies/baseline.yaml", POLICY);
    repo
}

fn problems(root: &Path) -> Vec<String> {
    match load_repo(root) {
        Ok(_) => Vec::new(),
        Err(LoadError::Invalid(ps)) => ps.iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn base_repo_is_valid() {
    assert_eq!(problems(base_repo().path()), Vec::<String>::new());
}

#[test]
fn every_bad_input_is_located_and_explained() {
    assert!(CASES.len() >= 40);
    let mut failures = Vec::new();
    for c in CASES {
        let repo = base_repo();
        for (path, text) in c.files {
            repo.write(path, text);
        }
        let found = problems(repo.path());
        let hit = found
            .iter()
            .any(|p| p.starts_with(&format!("{}: ", c.at)) && p.contains(c.fragment));
        if !hit {
            failures.push(format!(
                "{}: expected `{}: …{}…`, got {found:#?}",
                c.name, c.at, c.fragment
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn oversized_and_non_utf8_files_are_reported_at_1_1() {
    let repo = base_repo();
    let big = format!(
        "name: a\nurl: https://a.example/\ndescription: \"{}\"\n",
        "x".repeat(1024 * 1024)
    );
    repo.write("sites/a.yaml", &big);
    std::fs::write(repo.path().join("sites/b.yaml"), b"name: b\xff\n").expect("write");
    let found = problems(repo.path());
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("sites/a.yaml:1:1: file is") && p.contains("limit is 1 MiB")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("sites/b.yaml:1:1: file is not valid UTF-8")),
        "{found:#?}"
    );
}

/// `mkfifo PATH` (the tests avoid `nix`/`libc` for this one call).
#[track_caller]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn issue_16_fifo_and_dev_zero_as_siteward_yaml_fail_fast() {
    // A FIFO blocked `validate` forever; a link to /dev/zero read until memory ran out.
    let started = std::time::Instant::now();
    let repo = base_repo();
    mkfifo(&repo.path().join("siteward.yaml"));
    let found = problems(repo.path());
    assert_eq!(
        found,
        ["siteward.yaml:1:1: file is a named pipe (FIFO), not a regular file"]
    );
    // `log` reads siteward.yaml alone, for its audit branch: the same rule, the same reason.
    let log = repo.run(&["log"]);
    log.expect_code(1);
    assert!(
        log.stderr.contains(
            "siteward.yaml:1:1: file is a named pipe (FIFO), not a regular file; fix siteward.yaml"
        ),
        "{}",
        log.stderr
    );

    let repo = base_repo();
    std::os::unix::fs::symlink("/dev/zero", repo.path().join("siteward.yaml")).expect("link");
    let found = problems(repo.path());
    assert_eq!(
        found,
        [
            "siteward.yaml:1:1: symbolic links are not followed; keep the file itself in the state repo"
        ]
    );

    let repo = base_repo();
    mkfifo(&repo.path().join("sites/b.yaml"));
    std::os::unix::fs::symlink("/dev/zero", repo.path().join("policies/z.yaml")).expect("link");
    let found = problems(repo.path());
    assert_eq!(
        found,
        [
            "policies/z.yaml:1:1: symbolic links are not followed; keep the file itself in the state repo",
            "sites/b.yaml:1:1: file is a named pipe (FIFO), not a regular file",
        ]
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn issue_16_fifo_and_dev_zero_as_a_file_secret_fail_fast() {
    // `plan` resolves the header secret before it observes: the site is unknown, with the reason.
    let repo = base_repo();
    repo.write(
        "sites/a.yaml",
        "name: a\nurl: https://a.example/\nconnect: 127.0.0.1:9\nheaders:\n  X-Key: file:secrets/key\n",
    );
    std::fs::create_dir(repo.path().join("secrets")).expect("mkdir");
    let key = repo.path().join("secrets/key");
    for (make, kind) in [
        (
            Box::new(|p: &Path| mkfifo(p)) as Box<dyn Fn(&Path)>,
            "a named pipe (FIFO)",
        ),
        (
            Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).expect("link")),
            "a character device",
        ),
    ] {
        let _ = std::fs::remove_file(&key);
        make(&key);
        let started = std::time::Instant::now();
        let out = repo.run(&["plan", "--timeout", "1", "--format", "json"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        out.expect_code(1);
        assert_eq!(
            out.json()["sites"][0]["error"],
            format!(
                "header `X-Key`: secret `file:secrets/key` cannot be used: file is {kind}, not a regular file"
            )
        );
    }
}

#[test]
fn issue_16_symlinked_state_dirs_must_stay_inside_the_repo() {
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        outside.path().join("x.yaml"),
        "name: x\nurl: https://x.example/\n",
    )
    .expect("write");
    let repo = base_repo();
    std::fs::remove_dir_all(repo.path().join("sites")).expect("rm");
    std::os::unix::fs::symlink(outside.path(), repo.path().join("sites")).expect("link");
    assert_eq!(
        problems(repo.path()),
        [
            "sites:1:1: `sites` is a symbolic link that does not lead to a directory inside the state repo; keep the directory itself in the repo"
        ]
    );

    // A link to a directory inside the repo is followed.
    let repo = base_repo();
    std::fs::rename(repo.path().join("sites"), repo.path().join("conf")).expect("mv");
    std::os::unix::fs::symlink("conf", repo.path().join("sites")).expect("link");
    let state = load_repo(repo.path()).expect("valid");
    assert_eq!(state.sites.len(), 1);

    // A linked subdirectory of `sites/` is reported, not skipped in silence.
    let repo = base_repo();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("sites/team")).expect("link");
    assert_eq!(
        problems(repo.path()),
        [
            "sites/team:1:1: symbolic links are not followed; keep the directory itself in the state repo"
        ]
    );
}

#[test]
fn issue_16_the_checked_out_branch_is_not_a_branch_siteward_commits_to() {
    let repo = base_repo();
    repo.write("siteward.yaml", "audit: {branch: ops}\n");
    repo.commit_all("state");
    repo.git(&["checkout", "-q", "-b", "ops"]);
    repo.git(&["remote", "add", "upstream", "https://git.example/state.git"]);
    assert_eq!(
        problems(repo.path()),
        [
            "siteward.yaml:1:17: audit.branch: `ops` is the branch checked out in the state repo; siteward would commit onto it — name a branch of siteward's own"
        ]
    );
    repo.write(
        "siteward.yaml",
        "audit: {branch: upstream/audit}\nproposals: {branch_prefix: ops}\n",
    );
    assert_eq!(
        problems(repo.path()),
        [
            "siteward.yaml:1:17: audit.branch: `upstream/audit` reads as the branch `audit` of the remote `upstream`; name a local branch of siteward's own",
            "siteward.yaml:2:28: proposals.branch_prefix: `ops` is the branch checked out in the state repo; siteward would commit onto it — name a branch of siteward's own",
        ]
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.write("siteward.yaml", "audit: {branch: ops}\n");
    assert_eq!(problems(repo.path()), Vec::<String>::new());
}

#[test]
fn alias_bomb_fails_fast_with_a_clear_message() {
    let repo = base_repo();
    let mut text = String::from(
        "name: a\nurl: https://a.example/\nlabels:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..12 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        text.push_str(&format!("  l{i}: &l{i} [{refs}]\n"));
    }
    repo.write("sites/a.yaml", &text);
    let started = std::time::Instant::now();
    let found = problems(repo.path());
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("sites/a.yaml:") && p.contains("alias bomb")),
        "{found:#?}"
    );
    // 10^12 nodes if expanded (hours); refusing must not even try. Generous for a loaded
    // machine, yet far below any expansion.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn all_problems_in_all_files_in_one_run_sorted() {
    let repo = base_repo();
    repo.write(
        "sites/a.yaml",
        "name: a\nurl: http://a.example/\nsync: sometimes\nheders: {}\n",
    );
    repo.write(
        "sites/b.yaml",
        "name: b\nurl: https://b.example/\nchecks: {}\n",
    );
    repo.write(
        "policies/p.yaml",
        "name: p\nrules: [{id: r, severity: low}]\n",
    );
    let found = problems(repo.path());
    let paths: Vec<&str> = found
        .iter()
        .map(|p| p.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(found.len(), 5, "{found:#?}");
    assert_eq!(
        paths,
        [
            "policies/p.yaml",
            "sites/a.yaml",
            "sites/a.yaml",
            "sites/a.yaml",
            "sites/b.yaml"
        ]
    );
    assert!(found[1].starts_with("sites/a.yaml:2:6:"));
    assert!(found[2].starts_with("sites/a.yaml:3:7:"));
    assert!(found[3].starts_with("sites/a.yaml:4:1:"));
}

#[test]
fn policy_defaults_merge_under_sites_in_order() {
    let repo = Repo::new();
    repo.write(
        "policies/one.yaml",
        "name: one\ndefaults:\n  sync: propose\n  headers:\n    X-Frame-Options: DENY\n    Referrer-Policy: no-referrer\n  checks: [{name: a}, {name: b}]\n  certificate: {min_days_left: 10, key: rsa-2048}\n",
    );
    repo.write("policies/two.yaml", "name: two\ndefaults:\n  headers:\n    referrer-policy: same-origin\n  certificate: {key: ecdsa-p256}\n");
    repo.write(
        "sites/s.yaml",
        "name: s\nurl: https://s.example/\npolicies: [one, two]\nheaders:\n  x-frame-options: SAMEORIGIN\nchecks: [{name: c}]\n",
    );
    let state = load_repo(repo.path()).expect("valid");
    let site = state.sites.values().next().expect("one site");
    assert_eq!(
        site.sync,
        siteward::spec::SyncMode::Propose,
        "policy scalar applies"
    );
    let headers: Vec<(String, String)> = site
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.lower(),
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        headers,
        [
            ("referrer-policy".into(), "same-origin".into()),
            ("x-frame-options".into(), "SAMEORIGIN".into())
        ],
        "later policy beats earlier, site beats all, header names ignore case"
    );
    assert_eq!(
        site.checks.len(),
        1,
        "a list written in the site replaces the policy's"
    );
    assert_eq!(site.checks[0].name, "c");
    let cert = site.certificate.as_ref().expect("certificate merged");
    assert_eq!(
        (cert.min_days_left, cert.key.map(|k| k.as_str())),
        (10, Some("ecdsa-p256")),
        "maps merge deeply"
    );
}

#[test]
fn shipped_examples_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = problems(root);
    assert!(found.is_empty(), "{found:#?}");
    let state = load_repo(root).expect("valid");
    assert!(state.sites.len() >= 5);
    assert!(state.policies.len() >= 2);
}

#[test]
fn validate_cli_text_and_json() {
    let repo = base_repo();
    repo.run(&["validate"]).expect_code(0);
    repo.write(
        "sites/a.yaml",
        "name: a\nurl: https://a.example/\nheders: {}\n",
    );
    let text = repo.run(&["validate"]);
    text.expect_code(1);
    assert!(
        text.stdout
            .contains("sites/a.yaml:3:1: unknown key `heders` in site; did you mean `headers`?"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .trim_end()
            .ends_with("invalid: 1 problem(s) in 1 file(s)"),
        "{}",
        text.stdout
    );
    let json = repo.run(&["validate", "--format", "json"]);
    json.expect_code(1);
    let doc = json.json();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["problems"][0]["path"], "sites/a.yaml");
    assert_eq!(doc["problems"][0]["line"], 3);
    assert_eq!(doc["problems"][0]["column"], 1);
}

#[test]
fn schema_accepts_examples_and_rejects_unknown_keys() {
    let out = siteward(&["schema"]);
    out.expect_code(0);
    let schema = out.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for dir in ["sites", "policies"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("read dir") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            let doc: serde_json::Value = serde_norway::from_str(&text).expect("yaml");
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{} fails the schema: {errors:#?}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 7);
    let bad: serde_json::Value =
        serde_norway::from_str("name: a\nurl: https://a.example/\nheders: {}\n").expect("yaml");
    assert!(
        !validator.is_valid(&bad),
        "an unknown key must fail the schema"
    );
    let bad_policy: serde_json::Value =
        serde_norway::from_str("name: p\nrules: [{id: r, severity: low, header_presnt: X}]\n")
            .expect("yaml");
    assert!(!validator.is_valid(&bad_policy));
}

#[test]
fn schema_properties_match_loader_keys() {
    let schema = siteward::schema::json_schema();
    let keys_of = |def: &str| -> Vec<String> {
        let mut k: Vec<String> = schema["$defs"][def]["properties"]
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    let sorted = |keys: &[&str]| -> Vec<String> {
        let mut k: Vec<String> = keys.iter().map(|s| (*s).to_owned()).collect();
        k.sort();
        k
    };
    use siteward::load::keys;
    assert_eq!(keys_of("site"), sorted(keys::SITE));
    assert_eq!(keys_of("policy"), sorted(keys::POLICY));
    assert_eq!(keys_of("settings"), sorted(keys::SETTINGS));
}

#[test]
fn help_and_version() {
    let bad = siteward(&["plan", "--format", "yaml"]);
    assert_eq!(
        bad.code, 1,
        "a usage error is invalid input (exit 1), never drift (2)"
    );
    assert!(
        bad.stderr.contains("invalid value 'yaml'"),
        "{}",
        bad.stderr
    );
    let out = siteward(&["--version"]);
    out.expect_code(0);
    assert!(out.stdout.starts_with("siteward "));
    for cmd in [
        "validate",
        "plan",
        "apply",
        "reconcile",
        "check",
        "log",
        "schema",
        "demo",
    ] {
        let out = siteward(&[cmd, "--help"]);
        out.expect_code(0);
        assert!(
            out.stdout.contains("Example"),
            "`{cmd} --help` has no example:\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_committed_schema_file_is_current() {
    // Site and policy files point editors at `../siteward.schema.json`; it must match the binary.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed =
        std::fs::read_to_string(root.join("siteward.schema.json")).expect("siteward.schema.json");
    let out = siteward(&["schema"]);
    out.expect_code(0);
    assert_eq!(
        committed, out.stdout,
        "regenerate with `cargo run -- schema > siteward.schema.json`"
    );
}
