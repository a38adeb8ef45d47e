#!/usr/bin/env bash
# Benchmark of `siteward log` on a long audit history: seeds N run records (default 10,000)
# into a temporary repo with the library (examples/seed_audit.rs), then times
# `siteward log --format json > /dev/null` with /usr/bin/time for wall time and peak RSS.
# With OLD=path/to/an/older/siteward, every query's output (text and JSON, stderr and exit
# code too) is also compared with that binary's, loose and packed; a difference fails.
#
# Usage: benches/log.sh [N]     PROFILE=dev benches/log.sh   (default profile: release)
#        RUNS=3 benches/log.sh  (each query timed 3 times)     OLD=/tmp/siteward benches/log.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
profile=${PROFILE:-release}
runs=${RUNS:-1}
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

# Byte-compares `log` of the new binary and of $OLD over many queries, both formats.
compare() {
  local fmt q differ=0 count=0
  for fmt in "" "--format json" "--diff"; do
    for q in "" "--site shop.example.nl" "--site www.example.com --site nope" "--site nope" \
      "--since 2026-03-01" "--until 2026-03-08" "--since 2026-03-01 --until 2026-03-08" \
      "--site shop.example.nl --since 2026-03-01 --until 2026-03-08" "--limit 20" "--limit 1" \
      "--limit 0" "--since 2026-02-10T10:07:00Z" "--since 2030-01-01" \
      "--site www.example.com --limit 5 --since 2026-02-01"; do
      count=$((count + 1))
      # shellcheck disable=SC2086
      if ! cmp -s <("target/$outdir/siteward" --repo "$dir" log $fmt $q 2>&1; echo "exit $?") \
        <("$OLD" --repo "$dir" log $fmt $q 2>&1; echo "exit $?"); then
        echo "$1 output differs from $OLD: siteward log $fmt $q"
        differ=1
      fi
    done
  done
  echo "$1 $count queries compared with $OLD: $([ $differ = 0 ] && echo identical || echo DIFFERENT)"
  return $differ
}

queries=("--format json" "--format json --site shop.example.nl --since 2026-03-01 --until 2026-03-08" "--limit 20")
# libgit2 writes loose objects (the worst case); a clone or `git gc` packs them.
for q in "${queries[@]}"; do for _ in $(seq "$runs"); do run "$q" "[loose]"; done; done
if [ -n "${OLD:-}" ]; then compare "[loose]"; fi
git -C "$dir" gc --quiet
for q in "${queries[@]}"; do for _ in $(seq "$runs"); do run "$q" "[packed]"; done; done
if [ -n "${OLD:-}" ]; then compare "[packed]"; fi
rm -f "$dir.time"
entries=$("target/$outdir/siteward" --repo "$dir" log --format json | grep -o '"run":' | wc -l)
echo "entries in full log: $entries"
