#!/usr/bin/env bash
# The layering rule: no crate below crm-http may depend on actix (normal or build dependencies).
# Every crate under crates/ except http itself is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for manifest in crates/*/Cargo.toml; do
  crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
  [ "$crate" = "crm-http" ] && continue
  if cargo tree -p "$crate" -e normal,build --prefix none 2>/dev/null | grep -qE '^actix'; then
    echo "layering violation: $crate depends on actix:"
    cargo tree -p "$crate" -e normal,build -i actix-web 2>/dev/null | head -20
    status=1
  fi
done
# The realtime hub knows no record crate: rooms are authorized through the gate the binary
# hands in.
records='^crm-(pipelines|contacts|companies|deals|tasks|comments|files|imports|tags|custom-fields|record-events) '
if cargo tree -p crm-realtime -e normal --prefix none 2>/dev/null | grep -qE "$records"; then
  echo "layering violation: crm-realtime depends on a record crate:"
  cargo tree -p crm-realtime -e normal --prefix none 2>/dev/null | grep -E "$records" | sort -u
  status=1
fi
# Deals sit above pipelines and own every deal rule (bulk moves included).
if cargo tree -p crm-pipelines -e normal --prefix none 2>/dev/null | grep -qE '^crm-deals '; then
  echo "layering violation: crm-pipelines depends on crm-deals"
  status=1
fi
[ "$status" -eq 0 ] && echo "layering ok: no actix below crm-http, no record crate below crm-realtime, pipelines below deals"
exit "$status"
