#!/usr/bin/env bash
# The layering rule: no crate below crm-http may depend on actix (normal or build dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for crate in crm-core crm-db crm-users crm-auth crm-activity crm-tasks crm-comments crm-tags crm-testkit; do
  if cargo tree -p "$crate" -e normal,build --prefix none 2>/dev/null | grep -qE '^actix'; then
    echo "layering violation: $crate depends on actix:"
    cargo tree -p "$crate" -e normal,build -i actix-web 2>/dev/null | head -20
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "layering ok: no actix below crm-http"
exit "$status"
