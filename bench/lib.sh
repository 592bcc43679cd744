# Shared by the transfer benchmarks (sourced): a release crm-server on a throwaway private
# PostgreSQL in a work directory. Set EMAIL, PASSWORD and log() first; `bench_setup DIR`
# builds the server and sets BIN, WORK, PORT, URL, PG_BIN and the server's environment, and
# on exit stops the server and removes WORK; `bench_start` starts it and sets PID and TOKEN.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/crm-target}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

bench_setup() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  PG_BIN=${PG_BIN:-$(pg_config --bindir)}
  log "building crm-server (release)"
  cargo build --release -p crm-server >&2
  BIN=$CARGO_TARGET_DIR/release/crm-server
  WORK=$1
  mkdir -m 755 "$WORK"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  URL=http://127.0.0.1:$PORT
  PID=
  trap bench_cleanup EXIT
  export CRM_DATA_DIR=$WORK CRM_LISTEN=127.0.0.1:$PORT CRM_COOKIE_SECURE=false RUST_LOG=warn
  export CRM_ADMIN_EMAIL=$EMAIL CRM_ADMIN_PASSWORD=$PASSWORD
}

bench_cleanup() {
  [[ -n $PID ]] && { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}

bench_start() {
  "$BIN" >>"$WORK/server.log" 2>&1 &
  PID=$!
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/api/health/ready") == 200 ]]; do sleep 0.05; done
  TOKEN=$(curl -fsS -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
    "$URL/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')
}

psql_() { "$PG_BIN/psql" -h "$WORK/pg" -U postgres -d crm -qAtX "$@"; }
