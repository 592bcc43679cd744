#!/usr/bin/env bash
# Upload and download of one large file (BENCH_FILE_MIB, default 1024) through the API against
# a release crm-server on a throwaway private PostgreSQL, beside `cp` of the same file on the
# same disk: MiB/s of each, their ratio, the server's peak RSS during each transfer, and a
# byte-for-byte check of what came back.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${BENCH_FILE_MIB:-1024}
EMAIL=bench-admin@example.com PASSWORD=bench-password-1234
log() { echo "[bench-files] $*" >&2; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
# On the disk the server stores files on, so `cp` and the API write to the same place.
bench_setup "${BENCH_WORK_DIR:-$PWD/.bench-files-$$}"
export CRM_MAX_UPLOAD_MB=$((MIB + 16))
bench_start
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['data']['$1'])"; }
CONTACT=$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"fullName": "File holder"}' "$URL/api/contacts" | json_field id)

log "writing $MIB MiB of random bytes"
head -c "$((MIB * 1048576))" /dev/urandom >"$WORK/big.bin"
BYTES=$(stat -c %s "$WORK/big.bin")
sync

# Runs "$@" in the background while sampling the server's RSS: "ms peak_kb".
measured() {
  local t0 peak=0 r pid_job
  t0=$(now_ms)
  "$@" &
  pid_job=$!
  while kill -0 "$pid_job" 2>/dev/null; do
    r=$(rss_kb "$PID" VmRSS); ((r > peak)) && peak=$r
    sleep 0.05
  done
  wait "$pid_job"
  echo "$(($(now_ms) - t0)) $peak"
}

IDLE=$(rss_kb "$PID" VmRSS)
log "cp of the file"
read -r CP_MS _ < <(measured cp "$WORK/big.bin" "$WORK/copy.bin")
rm -f "$WORK/copy.bin"
sync
log "upload through the API"
upload() {
  curl -fsS -H "Authorization: Bearer $TOKEN" -F entityType=contact -F "entityId=$CONTACT" \
    -F "file=@$WORK/big.bin;filename=big.bin" -o "$WORK/uploaded.json" "$URL/api/files"
}
read -r UP_MS UP_PEAK < <(measured upload)
FILE=$(json_field id <"$WORK/uploaded.json")
sync
log "download through the API"
download() {
  curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/down.bin" "$URL/api/files/$FILE/download"
}
read -r DOWN_MS DOWN_PEAK < <(measured download)
# The same without writing the copy: the server's own pace.
discard() {
  curl -fsS -H "Authorization: Bearer $TOKEN" -o /dev/null "$URL/api/files/$FILE/download"
}
read -r NULL_MS NULL_PEAK < <(measured discard)
cmp -s "$WORK/big.bin" "$WORK/down.bin" && SAME=identical || SAME=DIFFERENT
SHA_OK=$(python3 - "$WORK" <<'PY'
import hashlib, json, sys
work = sys.argv[1]
h = hashlib.sha256()
with open(f"{work}/big.bin", "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
stored = json.load(open(f"{work}/uploaded.json"))["data"]["sha256"]
print("matches" if stored == h.hexdigest() else "DIFFERS")
PY
)

rate() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f", b / 1048576 / (ms / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.0f MiB", kb / 1024 }'; }
CP_RATE=$(rate "$BYTES" "$CP_MS")
UP_RATE=$(rate "$BYTES" "$UP_MS")
DOWN_RATE=$(rate "$BYTES" "$DOWN_MS")
NULL_RATE=$(rate "$BYTES" "$NULL_MS")
echo
echo "## Files ($MIB MiB, local storage; $(nproc) cores; idle server RSS $(mib "$IDLE"))"
echo
echo "| run | time | MiB/s | vs cp | server RSS peak |"
echo "|---|---|---|---|---|"
echo "| cp | $CP_MS ms | $CP_RATE | 1.00 | – |"
echo "| upload (multipart, sha256 $SHA_OK) | $UP_MS ms | $UP_RATE | $(ratio "$UP_RATE" "$CP_RATE") | $(mib "$UP_PEAK") |"
echo "| download ($SAME) | $DOWN_MS ms | $DOWN_RATE | $(ratio "$DOWN_RATE" "$CP_RATE") | $(mib "$DOWN_PEAK") |"
echo "| download to /dev/null | $NULL_MS ms | $NULL_RATE | $(ratio "$NULL_RATE" "$CP_RATE") | $(mib "$NULL_PEAK") |"
