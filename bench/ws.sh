#!/usr/bin/env bash
# Realtime benchmark: a release crm-server on a throwaway private PostgreSQL; for each N in
# BENCH_WS_CLIENTS, N WebSocket clients subscribe to one board and each to its own deal room
# while deals are updated at BENCH_WS_RATE per second for BENCH_WS_SECONDS. Reports
# commit-to-delivery latency of deal.updated (p50/p99/max), deliveries (must equal
# updates × (N + 1): every board subscriber plus the deal's own), and server RSS per connection.
# Env: BENCH_WS_CLIENTS ("1000 10000"), BENCH_WS_RATE (20), BENCH_WS_SECONDS (20).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${BENCH_WS_CLIENTS:-1000 10000}
RATE=${BENCH_WS_RATE:-20}
SECONDS_=${BENCH_WS_SECONDS:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/crm-target}
EMAIL=bench-admin@example.com PASSWORD=bench-password-1234
log() { echo "[bench-ws] $*" >&2; }

# Two sockets per client on this machine (client and server side), plus slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log "building crm-server and crm-ws-load (release)"
cargo build --release -p crm-server -p crm-ws-load >&2
BIN=$CARGO_TARGET_DIR/release/crm-server
LOAD=$CARGO_TARGET_DIR/release/crm-ws-load

WORK=/tmp/crm-bws-$$
mkdir -m 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PID=
cleanup() {
  if [[ -n $PID ]]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export CRM_DATA_DIR=$WORK CRM_LISTEN=127.0.0.1:$PORT CRM_COOKIE_SECURE=false RUST_LOG=warn
export CRM_ADMIN_EMAIL=$EMAIL CRM_ADMIN_PASSWORD=$PASSWORD CRM_INSECURE_FAST_PASSWORD_HASHING=true
export CRM_WS_MAX_ROOMS=10

ROWS=
for n in $CLIENTS; do
  rm -rf "${WORK:?}"/* # a fresh database per size
  "$BIN" >>"$WORK/../crm-bws-$$.log" 2>&1 &
  PID=$!
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/api/health/ready") == 200 ]]; do
    kill -0 "$PID" 2>/dev/null || { log "server died"; tail -20 "$WORK/../crm-bws-$$.log" >&2; exit 1; }
    sleep 0.05
  done
  TOKEN=$(curl -fsS -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
    "$URL/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')
  PIPELINE=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/pipelines" |
    python3 -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin)["data"] if p["isDefault"]][0])')
  log "$n clients, $RATE updates/s for ${SECONDS_}s"
  ROW=$(WS_URL=$URL WS_TOKEN=$TOKEN WS_PIPELINE=$PIPELINE WS_CLIENTS=$n WS_RATE=$RATE \
    WS_SECONDS=$SECONDS_ WS_SERVER_PID=$PID "$LOAD") || { ROWS+="${ROW:-| $n | failed |}"$'\n'; FAILED=1; }
  ROWS+="$ROW"$'\n'
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
rm -f "$WORK/../crm-bws-$$.log"

cat <<EOF_REPORT

## Realtime benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))

Each client: one WebSocket, subscribed to the default pipeline's board and to its own deal's room.
Deals updated round-robin at $RATE/s for ${SECONDS_}s over HTTP (16 in flight). Latency: from the
deal's \`updatedAt\` (set in the transaction, just before COMMIT) to receipt of \`deal.updated\`,
over every delivery. RSS per connection: (RSS with all clients subscribed − RSS before) / N.

| clients | updates | deliveries expected | received | p50 | p99 | max | server RSS | connect time |
|---|---|---|---|---|---|---|---|---|
${ROWS}
- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM; server, PostgreSQL
  and the load generator share them, so figures are a lower bound.
EOF_REPORT
[[ -z ${FAILED:-} ]]
