#!/usr/bin/env bash
# Benchmark of `siteward report` over N live sites (1,000 HTTPS virtual hosts on one local nginx,
# benches/fleet.sh) with R recorded runs on the audit branch (10,000 reconcile runs, each a shard of
# 20 sites, so every site has 200 entries: examples/seed_audit.rs). Times the whole command —
# observe and grade every site, read the history, write the pages — with /usr/bin/time (wall time,
# peak RSS), prints the command's own breakdown (`-v`) and the report's size, and times
# `siteward check` on the same fleet: the same observation and grading, without history or
# pages, so the difference is what the report itself costs. A script, not a timed test; builds
# --release.
#
# Usage: benches/report.sh [N=1000] [R=10000]   (needs nginx, openssl, curl, git, /usr/bin/time)
set -euo pipefail

N=${1:-1000}
R=${2:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/fleet.sh
source "$ROOT/benches/fleet.sh"
bench_workdir
start_fleet "$N" "$T"
# Owners and labels, for the table's filter.
k=0
for f in "$T"/repo/sites/*.yaml; do
  k=$((k + 1))
  printf 'owner: team %d\nlabels: {env: %s, team: t%d}\n' $((k % 17)) \
    "$([ $((k % 3)) -eq 0 ] && echo staging || echo prod)" $((k % 17)) >> "$f"
done

(cd "$ROOT" && cargo build --release --quiet --bin siteward --example seed_audit)
BIN="$ROOT/target/release/siteward"
git -C "$T/repo" init -q
git -C "$T/repo" add -A
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost commit -q -m fleet
t0=$(date +%s.%N)
"$ROOT/target/release/examples/seed_audit" "$T/repo" "$R" "$N"
echo "seeded $R runs over $N sites in $(echo "$(date +%s.%N) - $t0" | bc) s"

set +e
/usr/bin/time -v -o "$T/time.txt" "$BIN" --repo "$T/repo" -v report --out "$T/report" \
  --concurrency 32 > "$T/out.txt" 2> "$T/err.txt"
rc=$?
set -e
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/time.txt")
cat "$T/out.txt"
grep -E '^(info: )?(observed|read the history|wrote)' "$T/err.txt" || true
printf 'siteward report: exit %s, wall %s, peak RSS %.1f MB\n' "$rc" "$wall" "$(echo "$rss_kb / 1024" | bc -l)"
set +e
/usr/bin/time -v -o "$T/check-time.txt" "$BIN" --repo "$T/repo" check --format json \
  --concurrency 32 > /dev/null 2>&1
set -e
check_wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/check-time.txt")
printf 'siteward check (same observation and grading): wall %s\n' "$check_wall"
printf 'report: %s pages, %s (index.html %s)\n' "$(find "$T/report" -name '*.html' | wc -l)" \
  "$(du -sh "$T/report" | cut -f1)" "$(du -h "$T/report/index.html" | cut -f1)"
