#!/usr/bin/env bash
# Benchmark of `siteward apply` of new header values to N sites that share one local nginx,
# against the same physical work done by hand in the same run: write N include files, one
# `nginx -t`, one reload, then fetch every site with `curl --parallel` until all serve the new
# value. Prints both wall times and their ratio (goal: ≤ 2). A script, not a timed test.
#
# Usage: benches/apply.sh [N=200]   (needs nginx, openssl, curl, git, bc; builds --release)
set -euo pipefail

N=${1:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/fleet.sh
source "$ROOT/benches/fleet.sh"
bench_workdir
chmod 755 "$T"
mkdir -p "$T"/{logs,tmp,www,siteward,repo/sites}
echo ok > "$T/www/index.html"

# A port nothing listens on now; nginx fails loudly below if another process takes it.
PORT=$(free_port)
bench_pki "$T"

{
  echo "worker_processes 2; pid $T/nginx.pid; error_log $T/logs/error.log warn;"
  echo "events { worker_connections 4096; }"
  echo "http { access_log off; server_names_hash_bucket_size 128; server_names_hash_max_size 4096;"
  echo "  client_body_temp_path $T/tmp/b; proxy_temp_path $T/tmp/p; fastcgi_temp_path $T/tmp/f;"
  echo "  uwsgi_temp_path $T/tmp/u; scgi_temp_path $T/tmp/s;"
  echo "  ssl_certificate $T/leaf.pem; ssl_certificate_key $T/leaf.key;"
  for i in $(seq -w 1 "$N"); do
    echo "  server { listen 127.0.0.1:$PORT ssl; server_name s$i.bench.test; root $T/www;"
    echo "    include $T/siteward/s$i.bench.test[.]conf; }"
  done
  echo "}"
} > "$T/nginx.conf"
NGX="nginx -p $T/ -c $T/nginx.conf"
$NGX -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "https://127.0.0.1:$PORT/" -k && break; sleep 0.05; done

cp "$T/ca.pem" "$T/repo/ca.pem"
site() { # host value
  printf 'name: %s\nurl: https://%s:%s/\nsync: auto\nconnect: 127.0.0.1:%s\nca: ca.pem\nheaders:\n  X-Bench: "%s"\nmanage:\n  server:\n    provider: nginx\n    config: %s\n    test_command: "%s -t"\n    reload_command: "%s -s reload"\n' \
    "$1" "$1" "$PORT" "$PORT" "$2" "$T/siteward/$1.conf" "$NGX" "$NGX" > "$T/repo/sites/$1.yaml"
}
: > "$T/curl.cfg"
for i in $(seq -w 1 "$N"); do
  host="s$i.bench.test"
  site "$host" v1
  printf 'url = "https://%s:%s/"\noutput = "/dev/null"\nresolve = "%s:%s:127.0.0.1"\n' \
    "$host" "$PORT" "$host" "$PORT" >> "$T/curl.cfg"
done
git -C "$T/repo" init -q -b main
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost add -A
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost commit -qm v1

(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/siteward"
# Not measured: the first apply writes every file (v1).
"$BIN" --repo "$T/repo" apply --concurrency 32 -q >/dev/null

for i in $(seq -w 1 "$N"); do site "s$i.bench.test" v2; done
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost commit -qam v2

now() { date +%s.%N; }
served() { # value: how many sites serve X-Bench: value
  curl -s --no-progress-meter --parallel --parallel-max 32 --cacert "$T/ca.pem" -K "$T/curl.cfg" \
    -D - 2>/dev/null | grep -ci "^x-bench: $1" || true
}

# siteward: apply v2 to every site (write, test, reload, verify, record).
t0=$(now)
set +e
"$BIN" --repo "$T/repo" apply --concurrency 32 -q > "$T/apply.txt"
rc=$?
set -e
t1=$(now)

# The physical work by hand: write v3, one test, one reload, fetch until all serve v3.
for i in $(seq -w 1 "$N"); do
  printf 'add_header X-Bench "v3" always;\n' > "$T/siteward/s$i.bench.test.conf"
done
$NGX -t 2>/dev/null
$NGX -s reload
until [ "$(served v3)" -eq "$N" ]; do :; done
t2=$(now)

sw_s=$(echo "$t1 - $t0" | bc -l)
hand_s=$(echo "$t2 - $t1" | bc -l)
printf 'sites: %s\napply: %s (exit %s)\n' "$N" "$(head -1 "$T/apply.txt")" "$rc"
printf 'by hand (write, test, reload, fetch): %.2f s\nsiteward apply:                       %.2f s\nratio:                                %.2f\n' \
  "$hand_s" "$sw_s" "$(echo "$sw_s / $hand_s" | bc -l)"
