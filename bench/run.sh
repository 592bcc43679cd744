#!/usr/bin/env bash
# Load benchmark: start-up time, memory and wrk throughput/latency of a release crm-server on a
# throwaway private PostgreSQL. Production password hashing (argon2) is kept on purpose.
# Env: BENCH_DURATION (default 10s), BENCH_CONNECTIONS (64), BENCH_LOGIN_CONNECTIONS (8).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=$PWD/bench
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
LOGIN_CONNS=${BENCH_LOGIN_CONNECTIONS:-8}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/crm-target}
export BENCH_EMAIL=bench-admin@example.com BENCH_PASSWORD=bench-password-1234
# The login run signs one admin in over several connections at once; an attempt counts towards
# the per e-mail and IP limit (5) until its password is checked, so that limit is raised here.
export CRM_LOGIN_MAX_FAILURES_PER_EMAIL_IP=1000

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log() { echo "[bench] $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # pid field -> kB
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

# 1. wrk
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

# 2. release binary
log "building crm-server (release)"
cargo build --release -p crm-server >&2
BIN=$CARGO_TARGET_DIR/release/crm-server

# 3. server lifecycle
WORK=/tmp/crm-bench-$$
mkdir -m 755 "$WORK" # fresh; PostgreSQL runs as `postgres` when we are root and must traverse it
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PID=

stop_server() {
  [[ -n $PID ]] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}
cleanup() {
  stop_server
  local pm # a PostgreSQL left behind by a killed server: fast shutdown
  pm=$(head -1 "$WORK/pg/postmaster.pid" 2>/dev/null) || true
  if [[ -n $pm ]] && kill -INT "$pm" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() { # sets PID, and READY_MS: ms from spawn until /api/health/ready answers 200
  local t0
  t0=$(now_ms)
  CRM_DATA_DIR=$WORK CRM_LISTEN=127.0.0.1:$PORT CRM_COOKIE_SECURE=false CRM_LOG_FORMAT=json \
    CRM_ADMIN_EMAIL=$BENCH_EMAIL CRM_ADMIN_PASSWORD=$BENCH_PASSWORD "$BIN" >>"$WORK/server.log" 2>&1 &
  PID=$!
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/api/health/ready") == 200 ]]; do
    if ! kill -0 "$PID" 2>/dev/null || (($(now_ms) - t0 > 120000)); then
      log "server did not become ready; end of its log:"; tail -20 "$WORK/server.log" >&2; return 1
    fi
    sleep 0.02
  done
  READY_MS=$(($(now_ms) - t0))
}

pg_mem() { # RSS and PSS sums of the postmaster and its children
  local pm pids rss=0 pss=0 p
  pm=$(head -1 "$WORK/pg/postmaster.pid")
  pids="$pm $(ps -o pid= --ppid "$pm" || true)"
  for p in $pids; do
    rss=$((rss + $(proc_kb "$p" VmRSS || echo 0)))
    pss=$((pss + $(awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$(mib $rss) RSS sum, $(mib $pss) PSS sum ($(wc -w <<<"$pids") processes)"
}

log "first start (initdb, migrations, admin) in $WORK"
start_server
COLD_MS=$READY_MS
stop_server
log "restart on the same data directory"
start_server
WARM_MS=$READY_MS
sleep 1
IDLE_RSS=$(proc_kb "$PID" VmRSS)
PG_IDLE=$(pg_mem)

# 5. token
TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
  -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" "$URL/api/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')

# 6. wrk runs -> table rows. The machine may be shared: CPU used by other processes during each
# run = all busy CPU time (/proc/stat) - crm-server - our PostgreSQL - wrk (children's `times`).
busy_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
proc_ticks() { awk '{ sub(/^.*\) /, ""); t += $12+$13+$14+$15 } END { print t + 0 }' "${@/%//stat}" 2>/dev/null; }
our_ticks() {
  local pm
  pm=$(head -1 "$WORK/pg/postmaster.pid")
  proc_ticks "/proc/$PID" "/proc/$pm" $(ps -o pid= --ppid "$pm" | sed 's|^ *|/proc/|')
}
kid_ticks() { times >"$WORK/times"; } # in this shell: a subshell would not see wrk's time
kid_val() { awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } } END { printf "%d", t * 100 }' "$WORK/times"; }
ROWS= RSS_STEPS=
FLAGGED=0
bench() { # name, connections, wrk args...
  local name=$1 conns=$2 out=$WORK/wrk-$RANDOM.txt
  shift 2
  log "wrk $name ($conns connections, $DURATION)"
  local b0 all0 o0 k0 b1 all1 o1 k1
  o0=$(our_ticks); kid_ticks; k0=$(kid_val); read -r b0 all0 < <(busy_ticks)
  wrk --latency -t2 -c"$conns" -d"$DURATION" --timeout 10s "$@" >"$out"
  read -r b1 all1 < <(busy_ticks); kid_ticks; k1=$(kid_val); o1=$(our_ticks)
  local other=$(( (b1 - b0) - (o1 - o0) - (k1 - k0) )) row
  row=$(awk -v name="$name" -v other="$((other < 0 ? 0 : other * 100 / (all1 - all0)))" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; return v * 1000 }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { bad = $NF } /Socket errors:/ { sub(/^ *Socket errors: */, ""); err = $0 }
    END { printf "| %s | %.0f | %.2f ms | %.2f ms | %d%s | %d%% |", name, rps, p50, p99, bad,
      (bad || err) ? " ⚠" (err ? " socket errors: " err : "") : "", other }' "$out")
  [[ $row == *⚠* ]] && FLAGGED=1
  ROWS+=$row$'\n'
  RSS_STEPS+="${RSS_STEPS:+, }$name $(mib "$(proc_kb "$PID" VmRSS)")"
}
bench "GET /api/health" "$CONNS" "$URL/api/health"
bench "GET /api/auth/me" "$CONNS" -H "Authorization: Bearer $TOKEN" "$URL/api/auth/me"
bench "POST /api/auth/login" "$LOGIN_CONNS" -s "$BENCH_DIR/login.lua" "$URL/api/auth/login"

# 7. memory after load
LOADED_RSS=$(proc_kb "$PID" VmRSS)
PEAK_RSS=$(proc_kb "$PID" VmHWM)
PG_LOADED=$(pg_mem)

# 8. under attack: a server whose failed-login limits are raised, so that every wrong login of
# a flood really reaches argon2 (the worst case for memory and CPU).
log "restart for the attack runs (failed-login limits raised)"
stop_server
export CRM_LOGIN_MAX_FAILURES_PER_IP=100000000 CRM_LOGIN_MAX_FAILURES_PER_EMAIL=100000000
start_server
unset CRM_LOGIN_MAX_FAILURES_PER_IP CRM_LOGIN_MAX_FAILURES_PER_EMAIL
TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
  -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" "$URL/api/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')
DEAL=$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"title":"Bench deal","amount":"100.00"}' "$URL/api/deals" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
sleep 12 # the hashing thread frees its block after 10 idle seconds
ATTACK_IDLE_RSS=$(proc_kb "$PID" VmRSS)
log "200 wrong logins at once"
BURST=$(python3 "$BENCH_DIR/login_burst.py" "$URL/api/auth/login" 200)
BURST_RSS=$(proc_kb "$PID" VmRSS)
BURST_HWM=$(proc_kb "$PID" VmHWM)
RSS_AFTER=
for s in 10 20 30 40 50 60; do
  sleep 10
  RSS_AFTER+="${RSS_AFTER:+, }${s} s $(mib "$(proc_kb "$PID" VmRSS)")"
done

log "64-connection login flood with reads beside it"
wrk -t1 -c64 -d"$((${DURATION%s} + 6))s" --timeout 10s -s "$BENCH_DIR/wrong-login.lua" \
  "$URL/api/auth/login" >"$WORK/flood.txt" &
FLOOD=$!
sleep 2
ROWS_BEFORE=$ROWS
bench "GET /api/health (during the flood)" 8 "$URL/api/health"
bench "GET /api/deals/{id} (during the flood)" 8 -H "Authorization: Bearer $TOKEN" "$URL/api/deals/$DEAL"
wait "$FLOOD"
ROWS_FLOOD=${ROWS#"$ROWS_BEFORE"}
ROWS=$ROWS_BEFORE
FLOOD_LINE=$(awk '/Requests\/sec:/ { rps = $2 } /^statuses:/ { u = $2; b = $4 }
  END { printf "%.0f attempts/s: %d answered 401 (checked), %d answered 503 server_busy (hashing queue full)", rps, u, b }' "$WORK/flood.txt")

log "50 000-tag contacts"
python3 -c 'import json; print(json.dumps({"fullName": "T", "tags": ["t%d" % i for i in range(50000)]}))' >"$WORK/tags.json"
TAG_N=100
t0=$(proc_ticks "/proc/$PID"); w0=$(now_ms)
for _ in $(seq $TAG_N); do
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data-binary @"$WORK/tags.json" "$URL/api/contacts"
done
t1=$(proc_ticks "/proc/$PID"); w1=$(now_ms)
TAG_STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' --data-binary @"$WORK/tags.json" "$URL/api/contacts")
TAG_CPU=$(awk -v t=$((t1 - t0)) -v n=$TAG_N -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t * 1000 / hz / n }')
TAG_WALL=$(awk -v t=$((w1 - w0)) -v n=$TAG_N 'BEGIN { printf "%.2f", t / n }')

# 9. report
cat <<EOF

## crm-server load benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))

wrk --latency -t2, $DURATION per endpoint; $CONNS connections (login: $LOGIN_CONNS, argon2 hashing at production cost on $(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 )) thread(s)).

| endpoint | req/s | p50 | p99 | non-2xx | other processes' CPU |
|---|---|---|---|---|---|
${ROWS}
- start-up to /api/health/ready: first start (initdb + migrations + admin) **$COLD_MS ms**, restart **$WARM_MS ms**
- crm-server RSS: idle $(mib "$IDLE_RSS"); after load $(mib "$LOADED_RSS"), peak (VmHWM) $(mib "$PEAK_RSS")
- crm-server RSS after each run: $RSS_STEPS
- PostgreSQL: idle $PG_IDLE; after load $PG_LOADED

### Under attack (failed-login limits raised so that every wrong login is hashed)

- 200 wrong logins at once: $BURST; crm-server RSS $(mib "$ATTACK_IDLE_RSS") before, $(mib "$BURST_RSS") right after (peak $(mib "$BURST_HWM")); then $RSS_AFTER
- 64-connection flood of wrong logins: $FLOOD_LINE
- reads beside the flood (8 connections each):

| endpoint | req/s | p50 | p99 | non-2xx | other processes' CPU |
|---|---|---|---|---|---|
${ROWS_FLOOD}
- a contact with 50 000 tags (289 KB): answered $TAG_STATUS, $TAG_CPU ms of server CPU and $TAG_WALL ms wall time per request (mean of $TAG_N, curl start-up included in the wall time)
- machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average before the run: $LOAD_BEFORE
- note: server, PostgreSQL and wrk share the same $(nproc) cores, so figures are a lower bound; "other
  processes' CPU" is the share of all cores used by anything else during the run (0% = quiet machine).
EOF
((FLAGGED == 0)) || { log "some runs had non-2xx responses or socket errors (marked ⚠)"; exit 1; }
