#!/usr/bin/env bash
# Benchmark of `siteward log` on a long audit history: seeds N run records (default 10,000)
# into a temporary repo with the library (examples/seed_audit.rs), then times
# `siteward log --format json > /dev/null` with /usr/bin/time for wall time and peak RSS.
#
# Usage: benches/log.sh [N]     PROFILE=dev benches/log.sh   (default profile: release)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
profile=${PROFILE:-release}
outdir=$([ "$profile" = dev ] && echo debug || echo "$profile")

cargo build --quiet --profile "$profile" --bin siteward --example seed_audit
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git init -q "$dir"

start=$(date +%s.%N)
"target/$outdir/examples/seed_audit" "$dir" "$n"
echo "seeded $n runs in $(echo "$(date +%s.%N) - $start" | bc) s"

run() {
  # shellcheck disable=SC2086
  /usr/bin/time -v "target/$outdir/siteward" --repo "$dir" log $1 >/dev/null 2>"$dir.time"
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir.time")
  echo "$2 siteward log $1: wall $wall, peak RSS ${rss} KiB"
}
queries=("--format json" "--format json --site shop.example.nl --since 2026-03-01 --until 2026-03-08" "--limit 20")
# libgit2 writes loose objects (the worst case); a clone or `git gc` packs them.
for q in "${queries[@]}"; do run "$q" "[loose]"; done
git -C "$dir" gc --quiet
for q in "${queries[@]}"; do run "$q" "[packed]"; done
rm -f "$dir.time"
entries=$("target/$outdir/siteward" --repo "$dir" log --format json | grep -o '"run":' | wc -l)
echo "entries in full log: $entries"
