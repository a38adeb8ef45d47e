# Sourced by the benchmarks that need a live fleet (plan.sh, report.sh): N HTTPS virtual hosts
# `s0001.bench.test` … on one local nginx (one CA, one wildcard leaf), and a state repo of
# N site files pointing at them. Needs nginx, openssl, python3, curl.
#
# Also `bench_workdir` (a work directory T cleaned up on exit, with nginx and EXTRA_PIDS) for
# every benchmark, and `free_port` and `bench_pki DIR` for those that build their own nginx
# (apply.sh).
#
# Usage: source benches/fleet.sh; start_fleet N DIR   (sets PORT and NGINX_PID; DIR/repo is the
# state repo, DIR/ca.pem its trust root; `bench_workdir`'s clean-up stops nginx)

# A fresh work directory in T, removed on exit together with the nginx of NGINX_PID and the
# processes listed in EXTRA_PIDS (a benchmark's own helpers).
bench_workdir() {
  T=$(mktemp -d)
  NGINX_PID=
  EXTRA_PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [ -n "${NGINX_PID:-}" ]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; fi
  for pid in "${EXTRA_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$T"
}

# A loopback port nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# DIR/ca.pem (key ca.key) and one wildcard leaf for *.bench.test, DIR/leaf.pem + leaf.key
# (CA:FALSE, as rustls requires).
bench_pki() {
  local t=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench.test \
    -keyout "$t/leaf.key" -out "$t/leaf.csr" 2>/dev/null
  printf 'subjectAltName=DNS:*.bench.test\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$t/ext"
  openssl x509 -req -in "$t/leaf.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 30 -extfile "$t/ext" -out "$t/leaf.pem" 2>/dev/null
}

start_fleet() {
  local n=$1 t=$2
  chmod 755 "$t"
  mkdir -p "$t"/{logs,tmp,www,repo/sites}
  echo ok > "$t/www/index.html"
  PORT=$(free_port)

  bench_pki "$t"

  {
    echo "worker_processes 2; pid $t/nginx.pid; error_log $t/logs/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off; server_names_hash_bucket_size 128; server_names_hash_max_size $((n * 2 > 4096 ? n * 2 : 4096));"
    echo "  client_body_temp_path $t/tmp/b; proxy_temp_path $t/tmp/p; fastcgi_temp_path $t/tmp/f;"
    echo "  uwsgi_temp_path $t/tmp/u; scgi_temp_path $t/tmp/s;"
    echo "  ssl_certificate $t/leaf.pem; ssl_certificate_key $t/leaf.key;"
    for i in $(seq -w 1 "$n"); do
      echo "  server { listen 127.0.0.1:$PORT ssl http2; server_name s$i.bench.test; root $t/www;"
      echo "    add_header X-Frame-Options DENY always; add_header X-Content-Type-Options nosniff always; }"
    done
    echo "}"
  } > "$t/nginx.conf"
  nginx -p "$t/" -c "$t/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
  # nginx reads 10,000 server blocks in seconds, not milliseconds: wait up to 2 minutes.
  local up=
  for _ in $(seq 1200); do
    if curl -s -o /dev/null "https://127.0.0.1:$PORT/" -k; then up=1; break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] || { echo "nginx did not start; see $t/logs/error.log" >&2; cat "$t/logs/error.log" >&2; return 1; }

  cp "$t/ca.pem" "$t/repo/ca.pem"
  for i in $(seq -w 1 "$n"); do
    host="s$i.bench.test"
    printf 'name: %s\nurl: https://%s:%s/\nconnect: 127.0.0.1:%s\nca: ca.pem\nheaders:\n  X-Frame-Options: DENY\n  X-Content-Type-Options: nosniff\n' \
      "$host" "$host" "$PORT" "$PORT" > "$t/repo/sites/$host.yaml"
  done
}
