#!/usr/bin/env bash
# Import and export at database speed: a release crm-server on a throwaway private PostgreSQL.
# - import of a generated contacts CSV (BENCH_ROWS rows, default 1 000 000, 5 % bad rows) through
#   the API, beside PostgreSQL's own `COPY ... FROM` of the same good rows into the same
#   `contacts` table (its indexes included);
# - export of those contacts as CSV and XLSX through the API, beside `COPY (SELECT ...) TO` of
#   the same columns (linked names joined in, social networks out of their JSON);
# rows/s of each, their ratio, and the server's peak RSS (VmHWM) during each API run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${BENCH_ROWS:-1000000}
EMAIL=bench-admin@example.com PASSWORD=bench-password-1234
log() { echo "[bench-import-export] $*" >&2; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup "/tmp/crm-bie-$$"
export CRM_MAX_IMPORT_MB=2048
bench_start

log "generating $ROWS rows"
python3 - "$ROWS" "$WORK" <<'PY'
import sys, uuid
rows, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/import.csv", "w") as api, open(f"{work}/copy.csv", "w") as copy:
    api.write("Full name,E-mail,Phone,Position,Tags,Notes\n")
    for i in range(rows):
        if i % 20 == 19:  # 5 % bad rows: no name, a broken e-mail, a broken phone, a duplicate
            bad = i % 80
            if bad == 19: api.write(f",x{i}@example.com,,,,\n")
            elif bad == 39: api.write(f"Person {i},not-an-email-{i},,,,\n")
            elif bad == 59: api.write(f"Person {i},p{i}@example.com,12,,,\n")
            else: api.write(f"Person {i},p{i-1}@example.com,,,,\n")
            continue
        phone = f"+7999{i:07d}"
        api.write(f"Person {i},p{i}@example.com,{phone},Manager,\"a, b\",Note {i}\n")
        copy.write(f"{uuid.uuid4()},Person {i},copy{i}@example.com,{phone},Manager,\"{{a,b}}\",Note {i}\n")
PY
GOOD=$(wc -l <"$WORK/copy.csv")

log "COPY FROM of the $GOOD good rows"
t0=$(now_ms)
psql_ -c "\\copy contacts (id, full_name, email, phone, position, tags, notes) FROM '$WORK/copy.csv' WITH (FORMAT csv)"
COPY_IN_MS=$(($(now_ms) - t0))
psql_ -c "TRUNCATE contacts CASCADE" 2>/dev/null
psql_ -c "VACUUM ANALYZE contacts"

# CPU seconds (user + system) of the server, and of PostgreSQL's processes, so far.
cpu_s() { awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.1f", t / 100 }' "$@" 2>/dev/null; }
pg_pids() { local pm; pm=$(head -1 "$WORK/pg/postmaster.pid"); echo "/proc/$pm/stat"; ps -o pid= --ppid "$pm" | sed 's|^ *\(.*\)|/proc/\1/stat|'; }

log "import through the API"
HWM0=$(rss_kb "$PID" VmHWM)
SRV_CPU0=$(cpu_s "/proc/$PID/stat")
PROFILE=
if [[ -n ${BENCH_PROFILE:-} ]]; then
  perf record -F 499 -g -p "$PID" -o "$WORK/perf.data" >/dev/null 2>&1 &
  PROFILE=$!
fi
t0=$(now_ms)
LOCATION=$(curl -fsS -D - -o /dev/null -H "Authorization: Bearer $TOKEN" -F entityType=contacts \
  -F "file=@$WORK/import.csv;filename=import.csv" "$URL/api/import-export/imports" |
  awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
PEAK_IMPORT=0
while :; do
  STATUS=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL$LOCATION" |
    python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d["status"], d["createdRows"], d["failedRows"])')
  r=$(rss_kb "$PID" VmRSS); ((r > PEAK_IMPORT)) && PEAK_IMPORT=$r
  [[ $STATUS == succeeded* || $STATUS == failed* ]] && break
  sleep 0.2
done
IMPORT_MS=$(($(now_ms) - t0))
HWM_IMPORT=$(rss_kb "$PID" VmHWM)
SRV_CPU=$(awk -v a="$(cpu_s "/proc/$PID/stat")" -v b="$SRV_CPU0" 'BEGIN { printf "%.1f", a - b }')
# PostgreSQL backends come and go; their CPU is read once, after the import, from the ones alive.
PG_CPU=$(cpu_s $(pg_pids))
if [[ -n $PROFILE ]]; then
  kill -INT "$PROFILE"; wait "$PROFILE" 2>/dev/null || true
  perf report -i "$WORK/perf.data" --stdio --no-children --percent-limit 2 2>/dev/null | grep -E '^ +[0-9]' | head -25 >"$WORK/profile.txt" || true
fi
read -r _ CREATED FAILED <<<"$STATUS"
log "import: $STATUS in $IMPORT_MS ms"
psql_ -c "VACUUM ANALYZE contacts"
# The columns the export writes, as the export writes them: linked names joined in, the social
# networks out of their JSON, custom fields (none here), id and timestamps.
COLS="c.full_name, c.email, c.phone, c.position, co.name, array_to_string(c.tags, ', '), c.notes, \
  c.social->>'telegram', c.social->>'whatsapp', c.social->>'vk', c.social->>'instagram', \
  c.social->>'linkedin', c.social->>'facebook', c.social->>'website', u.email, c.id, c.created_at, c.updated_at"
FROM="contacts c LEFT JOIN companies co ON co.id = c.company_id LEFT JOIN users u ON u.id = c.owner_id"

log "COPY TO of the same columns"
t0=$(now_ms)
psql_ -c "\\copy (SELECT $COLS FROM $FROM WHERE c.deleted_at IS NULL ORDER BY c.created_at, c.id) TO '$WORK/copy-out.csv' WITH (FORMAT csv, HEADER)"
COPY_OUT_MS=$(($(now_ms) - t0))

export_run() { # format -> "ms bytes peak_rss_kb"
  local t0 peak=0 r pid_curl
  t0=$(now_ms)
  curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/export.$1" \
    "$URL/api/import-export/export?entityType=contacts&format=$1" &
  pid_curl=$!
  while kill -0 "$pid_curl" 2>/dev/null; do
    r=$(rss_kb "$PID" VmRSS); ((r > peak)) && peak=$r
    sleep 0.1
  done
  wait "$pid_curl"
  echo "$(($(now_ms) - t0)) $(stat -c %s "$WORK/export.$1") $peak"
}
log "export CSV through the API"
if [[ -n ${BENCH_PROFILE:-} ]]; then
  perf record -F 499 -g -p "$PID" -o "$WORK/perf-export.data" >/dev/null 2>&1 &
  PROFILE=$!
fi
read -r CSV_MS CSV_BYTES CSV_PEAK < <(export_run csv)
if [[ -n ${BENCH_PROFILE:-} ]]; then
  kill -INT "$PROFILE"; wait "$PROFILE" 2>/dev/null || true
  perf report -i "$WORK/perf-export.data" --stdio --no-children --percent-limit 1.5 2>/dev/null | grep -E '^ +[0-9]' | head -30 >"$WORK/profile-export.txt" || true
fi
log "export XLSX through the API"
read -r XLSX_MS XLSX_BYTES XLSX_PEAK < <(export_run xlsx)
EXPORTED=$(($(wc -l <"$WORK/export.csv") - 1))

rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n / (ms / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.0f MiB", kb / 1024 }'; }
[[ -s $WORK/profile.txt ]] && { echo "Server profile of the import (perf, self time):"; cat "$WORK/profile.txt"; }
[[ -s $WORK/profile-export.txt ]] && { echo "Server profile of the CSV export (perf, self time):"; cat "$WORK/profile-export.txt"; }
IMPORT_RATE=$(rate "$ROWS" "$IMPORT_MS")
COPY_IN_RATE=$(rate "$GOOD" "$COPY_IN_MS")
CSV_RATE=$(rate "$EXPORTED" "$CSV_MS")
XLSX_RATE=$(rate "$EXPORTED" "$XLSX_MS")
COPY_OUT_RATE=$(rate "$EXPORTED" "$COPY_OUT_MS")
echo
echo "## Import and export ($ROWS-row contacts CSV, 5 % bad rows; $(nproc) cores)"
echo
echo "| run | rows | time | rows/s | vs COPY | server RSS peak |"
echo "|---|---|---|---|---|---|"
echo "| COPY FROM (good rows) | $GOOD | $COPY_IN_MS ms | $COPY_IN_RATE | 1.00 | – |"
echo "| API import (created $CREATED, failed $FAILED) | $ROWS | $IMPORT_MS ms | $IMPORT_RATE | $(ratio "$IMPORT_RATE" "$COPY_IN_RATE") | $(mib "$PEAK_IMPORT") (VmHWM $(mib "$HWM_IMPORT"), before $(mib "$HWM0")) |"
echo "| COPY TO | $EXPORTED | $COPY_OUT_MS ms | $COPY_OUT_RATE | 1.00 | – |"
echo "| API export CSV ($((CSV_BYTES / 1048576)) MiB) | $EXPORTED | $CSV_MS ms | $CSV_RATE | $(ratio "$CSV_RATE" "$COPY_OUT_RATE") | $(mib "$CSV_PEAK") |"
echo "| import CPU | server $SRV_CPU s, PostgreSQL backends alive at the end $PG_CPU s (since start) | | | | |"
echo "| API export XLSX ($((XLSX_BYTES / 1048576)) MiB) | $EXPORTED | $XLSX_MS ms | $XLSX_RATE | $(ratio "$XLSX_RATE" "$COPY_OUT_RATE") | $(mib "$XLSX_PEAK") |"
