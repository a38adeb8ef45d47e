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
T=$(mktemp -d)
NGINX_PID=
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"
mkdir -p "$T"/{logs,tmp,www,repo/sites}
echo ok > "$T/www/index.html"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)

# One CA and one wildcard leaf (CA:FALSE, as rustls requires) for every vhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE \
  -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench.test \
  -keyout "$T/leaf.key" -out "$T/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:*.bench.test\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$T/ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
  -days 30 -extfile "$T/ext" -out "$T/leaf.pem" 2>/dev/null

{
  echo "worker_processes 2; pid $T/nginx.pid; error_log $T/logs/error.log warn;"
  echo "events { worker_connections 4096; }"
  echo "http { access_log off; server_names_hash_bucket_size 128; server_names_hash_max_size $((N * 2 > 4096 ? N * 2 : 4096));"
  echo "  client_body_temp_path $T/tmp/b; proxy_temp_path $T/tmp/p; fastcgi_temp_path $T/tmp/f;"
  echo "  uwsgi_temp_path $T/tmp/u; scgi_temp_path $T/tmp/s;"
  echo "  ssl_certificate $T/leaf.pem; ssl_certificate_key $T/leaf.key;"
  for i in $(seq -w 1 "$N"); do
    echo "  server { listen 127.0.0.1:$PORT ssl http2; server_name s$i.bench.test; root $T/www;"
    echo "    add_header X-Frame-Options DENY always; add_header X-Content-Type-Options nosniff always; }"
  done
  echo "}"
} > "$T/nginx.conf"
nginx -p "$T/" -c "$T/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
# nginx reads 10,000 server blocks in seconds, not milliseconds: wait up to 2 minutes.
up=
for _ in $(seq 1200); do
  if curl -s -o /dev/null "https://127.0.0.1:$PORT/" -k; then up=1; break; fi
  kill -0 "$NGINX_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$up" ] || { echo "nginx did not start; see $T/logs/error.log" >&2; cat "$T/logs/error.log" >&2; exit 1; }

cp "$T/ca.pem" "$T/repo/ca.pem"
: > "$T/curl.cfg"
for i in $(seq -w 1 "$N"); do
  host="s$i.bench.test"
  printf 'name: %s\nurl: https://%s:%s/\nconnect: 127.0.0.1:%s\nca: ca.pem\nheaders:\n  X-Frame-Options: DENY\n  X-Content-Type-Options: nosniff\n' \
    "$host" "$host" "$PORT" "$PORT" > "$T/repo/sites/$host.yaml"
  printf 'url = "https://%s:%s/"\noutput = "/dev/null"\n' "$host" "$PORT" >> "$T/curl.cfg"
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
