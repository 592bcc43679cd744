#!/usr/bin/env bash
# Installs moto's S3-compatible server (pinned, into a virtualenv of its own) for the tests of
# S3 file storage, and prints the path of its `moto_server`. Idempotent: an installed pinned
# version is reused. Env: CRM_TOOLS_DIR (default ~/.cache/crm-tools).
set -euo pipefail
MOTO_VERSION=5.2.5
VENV=${CRM_TOOLS_DIR:-$HOME/.cache/crm-tools}/moto-$MOTO_VERSION
if [[ ! -x $VENV/bin/moto_server ]]; then
  echo "[install-moto] installing moto[server]==$MOTO_VERSION into $VENV" >&2
  # A failed install leaves nothing behind, so the next run tries again.
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2; then
    rm -rf "$VENV"
    exit 1
  fi
fi
echo "$VENV/bin/moto_server"
