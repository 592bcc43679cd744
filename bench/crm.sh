#!/usr/bin/env bash
# Core CRM benchmark: a release crm-server on a throwaway private PostgreSQL seeded with
# 100 k contacts, 200 k deals (each with ten custom field values, one of each type) and 200 k
# tasks; wrk per endpoint, and pgbench running the SQL the endpoint runs on the same database.
# ratio = our req/s ÷ pgbench tps: how close the API is to what the database alone can do on
# this machine. The plans of the custom field filters are printed at the end.
# Env: BENCH_DURATION (default 10s), BENCH_SEED ("--contacts 100000 --deals 200000 ...").
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${BENCH_DURATION:-10s}
SECS=${DURATION%s}
SEED=${BENCH_SEED:---users 20 --companies 10000 --contacts 100000 --deals 200000 --tasks 200000 --deal-custom-fields}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/crm-target}
EMAIL=bench-admin@example.com PASSWORD=bench-password-1234
log() { echo "[bench-crm] $*" >&2; }

command -v wrk >/dev/null || { apt-get update >/dev/null; apt-get install -y wrk >/dev/null; }
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_BIN=${PG_BIN:-$(pg_config --bindir)}
log "building crm-server (release)"
cargo build --release -p crm-server >&2
BIN=$CARGO_TARGET_DIR/release/crm-server

WORK=/tmp/crm-b3-$$
mkdir -m 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PID=
cleanup() {
  [[ -n $PID ]] && { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
export CRM_DATA_DIR=$WORK CRM_LISTEN=127.0.0.1:$PORT CRM_COOKIE_SECURE=false RUST_LOG=warn
export CRM_ADMIN_EMAIL=$EMAIL CRM_ADMIN_PASSWORD=$PASSWORD
psql_() { "$PG_BIN/psql" -h "$WORK/pg" -U postgres -d crm -qAtX "$@"; }

log "seeding ($SEED)"
# shellcheck disable=SC2086
"$BIN" seed-demo $SEED >&2
"$BIN" create-admin --email "$EMAIL" --password "$PASSWORD" >&2
"$BIN" >>"$WORK/server.log" 2>&1 &
PID=$!
until [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/api/health/ready") == 200 ]]; do sleep 0.05; done
TOKEN=$(curl -fsS -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
  "$URL/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')

# Lookup tables for pgbench, id files for wrk.
psql_ <<SQL
CREATE TABLE bench_users AS SELECT id FROM users WHERE email = '$EMAIL';
CREATE TABLE bench_deals AS SELECT row_number() OVER () AS n, id FROM deals WHERE deleted_at IS NULL;
CREATE TABLE bench_contacts AS SELECT row_number() OVER () AS n, id FROM contacts WHERE deleted_at IS NULL;
CREATE TABLE bench_stages AS SELECT row_number() OVER (ORDER BY s.position) AS n, s.id FROM stages s
  JOIN pipelines p ON p.id = s.pipeline_id WHERE p.is_default AND s.type = 'OPEN';
CREATE UNIQUE INDEX ON bench_deals (n); CREATE UNIQUE INDEX ON bench_contacts (n);
ANALYZE;
SQL
psql_ -c "SELECT id FROM bench_deals ORDER BY random() LIMIT 5000" >"$WORK/deals.ids"
psql_ -c "SELECT id FROM bench_contacts ORDER BY random() LIMIT 5000" >"$WORK/contacts.ids"
psql_ -c "SELECT id FROM bench_stages" >"$WORK/stages.ids"
for f in ivan kim rossi tanaka; do echo "$f"; done >"$WORK/words.ids"
# Custom fields (seed-demo --deal-custom-fields): the SELECT options, and NUMBER ranges of 10.
printf '%s\n' SMB Mid-Market Enterprise Public+sector Non-profit Startup >"$WORK/segments.ids"
for lo in $(seq 0 10 990); do echo "cf.score.gte=$lo&cf.score.lt=$((lo + 10))"; done >"$WORK/scores.ids"
CF_BODY='{"title":"bench","amount":"100.00","stageId":"{id}","customFields":{"segment":"Enterprise","score":42,"renewal_date":"2027-01-01","signed_at":"2026-05-01T09:30:00Z","strategic":true,"products":["CRM","Support"],"external_ref":"EXT-bench","website":"https://bench.example.com","champion_email":"ann@example.com","champion_phone":"+1 415 555 2671"}}'
DEALS=$(psql_ -c "SELECT count(*) FROM bench_deals")
CONTACTS=$(psql_ -c "SELECT count(*) FROM bench_contacts")
STAGES=$(psql_ -c "SELECT count(*) FROM bench_stages")
FIRST_STAGE=$(head -1 "$WORK/stages.ids")

run_wrk() { # name conns ids-file method path-template body -> "req/s p50 p99 non2xx"
  local out
  out=$(IDS_FILE=$2 METHOD=$3 PATH_TEMPLATE=$4 BODY=$5 TOKEN=$TOKEN \
    wrk -t2 -c"$1" -d"$DURATION" --latency -s bench/lua/ids.lua "$URL" 2>&1)
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ { printf "%d", $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  bad=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  echo "$rps ${p50:-?} ${p99:-?} ${bad:-0}"
}
run_pgbench() { # script -> tps
  "$PG_BIN/pgbench" -h "$WORK/pg" -U postgres -n -c 16 -j 2 -T "$SECS" -D deals="$DEALS" -D contacts="$CONTACTS" \
    -D stages="$STAGES" -f "bench/sql/$1.sql" crm 2>&1 | awk '/^tps/ { printf "%d", $3 }'
}

ROWS=()
bench() { # label conns ids method path body sql
  log "$1"
  local w t
  read -r rps p50 p99 bad <<<"$(run_wrk "$2" "$3" "$4" "$5" "$6")"
  t=$(run_pgbench "$7")
  w=$(awk -v a="$rps" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  ROWS+=("| $1 | $rps | $p50 | $p99 | $bad | $t | $w |")
}
bench "GET /api/deals/{id}" 32 "$WORK/deals.ids" GET "/api/deals/{id}" "" get_deal
bench "GET /api/deals?stageId=…&limit=50" 32 "$WORK/stages.ids" GET "/api/deals?stageId={id}&limit=50" "" list_stage
bench "GET /api/contacts?q=…&limit=50" 32 "$WORK/words.ids" GET "/api/contacts?q={id}&limit=50" "" search_contacts
bench "GET /api/activity (a contact)" 32 "$WORK/contacts.ids" GET "/api/activity?entityType=contact&entityId={id}&limit=50" "" contact_activity
bench "GET /api/deals?cf.segment=…&limit=50 (SELECT)" 32 "$WORK/segments.ids" GET "/api/deals?cf.segment={id}&limit=50" "" list_cf_select
bench "GET /api/deals?cf.score.gte=…&cf.score.lt=…&limit=50 (NUMBER)" 32 "$WORK/scores.ids" GET "/api/deals?{id}&limit=50" "" list_cf_range
bench "POST /api/deals" 16 "$WORK/stages.ids" POST "/api/deals" '{"title":"bench","amount":"100.00","stageId":"{id}"}' create_deal
bench "POST /api/deals (10 custom field values)" 16 "$WORK/stages.ids" POST "/api/deals" "$CF_BODY" create_deal_cf
bench "PATCH /api/deals/{id}" 16 "$WORK/deals.ids" PATCH "/api/deals/{id}" '{"title":"patched"}' patch_deal
bench "POST /api/deals/{id}/move" 16 "$WORK/deals.ids" POST "/api/deals/{id}/move" "{\"stageId\":\"$FIRST_STAGE\",\"position\":0}" move_deal

echo
echo "## Core CRM benchmark ($(date -u +%FT%RZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "Data: $SEED. wrk -t2 --latency, $DURATION (reads 32 connections, writes 16); pgbench -c16 -j2 -T$SECS with bench/sql/*.sql."
echo
echo "| endpoint | req/s | p50 | p99 | non-2xx | pgbench tps | ratio |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); server, PostgreSQL and the load generator share the cores."
echo "- crm-server RSS after the runs: $(awk '/VmRSS/ { printf "%.1f MiB", $2 / 1024 }' /proc/$PID/status)"
if [[ $(psql_ -c "SELECT count(*) FROM custom_field_definitions WHERE entity_type = 'deal' AND key IN ('segment', 'score')") == 2 ]]; then
  echo
  echo "### Plans of the custom field filters (EXPLAIN ANALYZE, $DEALS deals)"
  for q in \
    "SELECT count(*) FROM deals WHERE deleted_at IS NULL AND deals.custom_fields @> '{\"segment\": \"Startup\"}'" \
    "SELECT * FROM deals WHERE deleted_at IS NULL AND deals.custom_fields @> '{\"segment\": \"Startup\"}' ORDER BY created_at, id LIMIT 50" \
    "SELECT count(*) FROM deals WHERE deleted_at IS NULL AND (deals.custom_fields -> 'score') >= '500' AND (deals.custom_fields -> 'score') < '510'" \
    "SELECT * FROM deals WHERE deleted_at IS NULL AND (deals.custom_fields -> 'score') >= '500' AND (deals.custom_fields -> 'score') < '510' ORDER BY created_at, id LIMIT 50" \
    "SELECT * FROM deals WHERE deleted_at IS NULL AND deals.custom_fields @> '{\"products\": [\"Training\"]}' AND (deals.custom_fields -> 'score') < '5' ORDER BY created_at, id LIMIT 50" \
    "SELECT * FROM deals WHERE deleted_at IS NULL ORDER BY (deals.custom_fields -> 'score') DESC NULLS LAST, id LIMIT 50"; do
    echo
    echo '```'
    echo "$q"
    psql_ -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) $q"
    echo '```'
  done
fi
