#!/usr/bin/env bash
# Benchmark of notifications at fleet scale: N HTTPS virtual hosts on one local nginx, a state
# repo with K earlier `plan --record` runs on its audit branch, and a webhook receiver on
# loopback (python3). Times `plan --record` (0) without `notify:`, then with a target for every
# event but `grade_dropped` (1) when nothing changed — the scheduled run's case: the baselines
# are read and nothing is sent — and (2) when every site's desired state changed: N
# `drift_started` events in one POST; (3) adds a `grade_dropped` target, which makes the run
# fetch what the web grade looks at. Prints wall times and siteward's peak RSS.
# A script, not a timed test.
#
# Usage: benches/notify.sh [N=1000] [K=30]   (needs nginx, openssl, curl, git, python3, bc,
# /usr/bin/time; builds --release)
set -euo pipefail

N=${1:-1000}
K=${2:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/fleet.sh
source "$ROOT/benches/fleet.sh"
bench_workdir
start_fleet "$N" "$T"
HOOK_PORT=$(free_port)

# The receiver: answers 200 and keeps each body's size and event count.
cat > "$T/hook.py" <<PY
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with open("$T/hook.log", "a") as f:
            f.write("%d bytes, %d events\n" % (len(body), len(json.loads(body)["events"])))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", $HOOK_PORT), H).serve_forever()
PY
python3 "$T/hook.py" &
EXTRA_PIDS+=($!)

site() { # site FILE HOST VALUE
  printf 'name: %s\nurl: https://%s:%s/\nconnect: 127.0.0.1:%s\nca: ca.pem\nheaders:\n  X-Frame-Options: %s\n' \
    "$2" "$2" "$PORT" "$PORT" "$3" > "$1"
}
for i in $(seq -w 1 "$N"); do site "$T/repo/sites/s$i.bench.test.yaml" "s$i.bench.test" DENY; done
git -C "$T/repo" init -q -b main
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost add -A
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost commit -qm sites

(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/siteward"
plan() { "$BIN" --repo "$T/repo" plan --record --format json --concurrency 32 > /dev/null || true; }

for _ in $(seq "$K"); do plan; done   # history (and warm-up), not measured

now() { date +%s.%N; }
timed() { # timed LABEL
  local t0 t1 rss
  t0=$(now)
  /usr/bin/time -v -o "$T/time.txt" "$BIN" --repo "$T/repo" plan --record --format json --concurrency 32 > /dev/null || true
  t1=$(now)
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/time.txt")
  printf '%-44s %6.2f s   peak RSS %6.1f MB\n' "$1" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}

EVENTS="drift_started, drift_resolved, apply_failed, site_down, site_up, certificate_expiring, proposal_opened"
target() { printf '  - {name: %s, url: "http://127.0.0.1:%s/hook", events: [%s]}\n' "$1" "$HOOK_PORT" "$2"; }
timed "(0) plan --record, no notify:"
{ echo "notify:"; target bench "$EVENTS"; } > "$T/repo/siteward.yaml"
timed "(1) notify, nothing changed:"
for i in $(seq -w 1 "$N"); do site "$T/repo/sites/s$i.bench.test.yaml" "s$i.bench.test" SAMEORIGIN; done
timed "(2) notify, $N sites start drifting:"
{ echo "notify:"; target bench "$EVENTS"; target grades grade_dropped; } > "$T/repo/siteward.yaml"
timed "(3) also grade_dropped (grading), no change:"
echo "sites: $N, earlier runs on the audit branch: $K"
echo "receiver got: $(cat "$T/hook.log" 2>/dev/null || echo nothing)"
