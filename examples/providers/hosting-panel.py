#!/usr/bin/python3
"""An example `exec` provider for siteward: the siteward-exec/1 protocol on stdin/stdout.

It manages a site's response headers and its http -> https redirect at a (fictional) hosting
control panel whose "API" is a directory: the panel keeps one record per site
(`PANEL/sites/<site>.json`), renders it into an Apache include (`PANEL/sites/<site>.conf`,
which the host's Apache includes) and reloads the web server. To connect a real hosting
provider, replace the `Panel` class with calls to its API; the protocol part stays.

    command: /opt/siteward/hosting-panel.py --panel /srv/panel --reload "apachectl -k graceful"
    env: {PANEL_TOKEN: env:PANEL_TOKEN}

The panel refuses requests without its API token: `PANEL_TOKEN` in the environment must
equal `PANEL/token`. siteward passes it (and secret header values, as `SITEWARD_SECRET_n`)
as environment variables of one run only, never on the command line or stdin.

Protocol (JSON Schema: exec-protocol.schema.json): one request object on stdin, one answer
object on stdout, exit status 0. An answer `{"protocol": ..., "error": "..."}` refuses the
request.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import urllib.parse

PROTOCOL = "siteward-exec/1"


class Refused(Exception):
    """A request the panel cannot serve; the message goes back to siteward."""


def atomic_write(path, text):
    """Replace `path` with `text` through a temporary file in the same directory."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".panel-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def apache_value(value):
    """A header value for `Header always set`: Apache's quoting plus mod_headers' escapes."""
    if "${" in value:
        raise Refused("values containing `${` cannot be written for Apache")
    out = value.replace("\\", "\\\\\\\\").replace('"', '\\"').replace("%", "%%")
    return '"' + out + '"'


class Panel:
    """The hosting control panel: a record per site, rendered for Apache, then a reload."""

    def __init__(self, root, reload):
        self.root = root
        self.reload = reload
        with open(os.path.join(root, "token"), encoding="utf-8") as f:
            token = f.read().strip()
        if not token or os.environ.get("PANEL_TOKEN") != token:
            raise Refused("unauthorized: PANEL_TOKEN does not match the panel's API token")

    def _path(self, site, ext):
        name = site["name"]
        if "/" in name or name.startswith("."):
            raise Refused("invalid site name")
        return os.path.join(self.root, "sites", name + ext)

    def get(self, site):
        try:
            with open(self._path(site, ".json"), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {"headers": {}, "redirects": []}

    def put(self, site, record):
        lines = ["# written by the hosting panel for " + site["name"]]
        for name in sorted(record["headers"]):
            lines.append("Header always set %s %s" % (name, apache_value(record["headers"][name])))
        for r in record["redirects"]:
            source = urllib.parse.urlsplit(r["from"])
            to = r["to"]
            if source.scheme != "http" or not source.hostname:
                raise Refused("only http:// redirect sources can be served: " + r["from"])
            if any(c.isspace() or c in "\"'\\" for c in to):
                raise Refused("redirect target cannot be written: " + to)
            to = to.replace("$", "\\$").replace("%", "\\%")
            lines += [
                "RewriteEngine On",
                "RewriteCond %{HTTPS} !=on",
                "RewriteCond %%{HTTP_HOST} ^%s(:[0-9]+)?$ [NC]" % re.escape(source.hostname),
                "RewriteRule ^ %s [R=%d,L,NE]" % (to, int(r["status"])),
            ]
        os.makedirs(os.path.join(self.root, "sites"), exist_ok=True)
        atomic_write(self._path(site, ".conf"), "\n".join(lines) + "\n")
        atomic_write(self._path(site, ".json"), json.dumps(record, indent=2, sort_keys=True))
        if self.reload:
            done = subprocess.run(shlex.split(self.reload), capture_output=True, text=True)
            if done.returncode != 0:
                raise Refused("reload failed: " + (done.stderr or done.stdout).strip())


def desired_headers(desired):
    """The desired headers; a secret value comes from the variable siteward names."""
    out = {}
    for name, value in desired.get("headers", {}).items():
        if isinstance(value, dict):
            var = value.get("env", "")
            if var not in os.environ:
                raise Refused("secret variable %s was not passed" % var)
            value = os.environ[var]
        out[name.lower()] = value
    return out


def handle(request, panel):
    action = request.get("action")
    site = request.get("site") or {}
    if action == "capabilities":
        return {"resources": ["header", "redirect"]}
    if action == "observe":
        record = panel.get(site)
        return {"headers": record["headers"], "redirects": record["redirects"]}
    if action == "apply":
        desired = request.get("desired") or {}
        record = {
            "headers": desired_headers(desired),
            "redirects": desired.get("redirects", []),
        }
        try:
            panel.put(site, record)
        except Refused as e:
            failed = {"result": "failed", "message": str(e)}
            return {"results": [dict(c, **failed) for c in request.get("changes", [])]}
        ok = {"result": "applied", "message": "saved in the panel"}
        return {"results": [dict(c, **ok) for c in request.get("changes", [])]}
    raise Refused("unknown action %r" % action)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", required=True, help="the panel's directory")
    parser.add_argument("--reload", default="", help="command that reloads the web server")
    args = parser.parse_args()
    try:
        request = json.load(sys.stdin)
        if request.get("protocol") != PROTOCOL:
            raise Refused("expected protocol " + PROTOCOL)
        answer = handle(request, Panel(args.panel, args.reload))
    except Refused as e:
        answer = {"error": str(e)}
    except (ValueError, OSError) as e:
        answer = {"error": "%s: %s" % (type(e).__name__, e)}
    answer["protocol"] = PROTOCOL
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 1 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(main())
