#!/usr/bin/env bash
# Benchmark of `siteward plan` over N HTTPS virtual hosts on one local nginx, against
# `curl --parallel --parallel-max 32` fetching the same URLs in the same run.
# Prints both wall times, their ratio and siteward's peak RSS. A script, not a timed test.
# curl reads its URLs from a config file and reaches every host through one global
# `--connect-to` (one `resolve` line per host made each of N transfers walk N entries: at
# 10,000 sites curl stalled), with per-transfer timeouts so one slow vhost cannot hang it.
#
# Usage: benches/plan.sh [N=1000]   (needs nginx, openssl, curl, /usr/bin/time; builds --release)
set -euo pipefail

N=${1:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/fleet.sh
source "$ROOT/benches/fleet.sh"
bench_workdir
start_fleet "$N" "$T"
: > "$T/curl.cfg"
for i in $(seq -w 1 "$N"); do
  printf 'url = "https://s%s.bench.test:%s/"\noutput = "/dev/null"\n' "$i" "$PORT" >> "$T/curl.cfg"
done
(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/siteward"

now() { date +%s.%N; }
CURL=(curl --no-progress-meter --parallel --parallel-max 32 --cacert "$T/ca.pem"
  --connect-to "::127.0.0.1:$PORT" --connect-timeout 5 --max-time 30 -K "$T/curl.cfg")
# Warm-up (page cache, nginx workers), not measured.
"${CURL[@]}" -s >/dev/null

t0=$(now)
set +e
"${CURL[@]}" -sS -w '%{http_code}\n' > "$T/curl.codes"
set -e
t1=$(now)
set +e
/usr/bin/time -v -o "$T/time.txt" "$BIN" --repo "$T/repo" plan --format json --concurrency 32 > "$T/plan.json"
rc=$?
set -e
t2=$(now)

curl_s=$(echo "$t1 - $t0" | bc -l)
sw_s=$(echo "$t2 - $t1" | bc -l)
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/time.txt")
summary=$(python3 -c "import json,sys; print(json.load(open('$T/plan.json'))['summary'])")
ok=$(grep -c '^200$' "$T/curl.codes" || true)
printf 'sites: %s\nplan summary: %s (exit %s)\ncurl: %s of %s answered 200\n' "$N" "$summary" "$rc" "$ok" "$N"
printf 'curl --parallel-max 32: %.2f s\nsiteward plan:          %.2f s\nratio:                  %.2f\nsiteward peak RSS:      %.1f MB\n' \
  "$curl_s" "$sw_s" "$(echo "$sw_s / $curl_s" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)"
