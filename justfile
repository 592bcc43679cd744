# CRM API — common tasks. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") / ".cache/crm-target")

# List the recipes.
default:
    @just --list

# Run the server in debug mode on the private database (plain-HTTP cookies for local use).
dev:
    CRM_COOKIE_SECURE=false cargo run -p crm-server

# Run the server in release mode.
run:
    cargo run --release -p crm-server

# Run the whole test suite.
test:
    cargo test --workspace

# Formatting, clippy and the layering rule.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    scripts/check-layering.sh

# schemathesis against a real server: every operation of openapi.json, with and without a token (FUZZ_SECONDS per run, default 120).
fuzz-api:
    scripts/api-fuzz.sh

# Everything CI runs.
ci:
    bash .ci/run

# Load benchmarks against a release server on a throwaway database: HTTP under wrk (installs wrk
# if missing), then WebSocket fan-out (bench-ws).
bench:
    bench/run.sh
    bench/ws.sh
    bench/import-export.sh
    bench/files.sh

# WebSocket fan-out: N clients on one board and their own deal rooms (BENCH_WS_CLIENTS="1000 10000").
bench-ws:
    bench/ws.sh

# Import of a generated 1 M-row contacts CSV and export as CSV and XLSX, beside COPY FROM / COPY TO (BENCH_ROWS to change the size).
bench-import-export:
    bench/import-export.sh

# Upload and download of a 1 GiB file beside cp, with the server's RSS (BENCH_FILE_MIB).
bench-files:
    bench/files.sh

# Core CRM benchmark on 100 k contacts / 200 k deals (10 custom fields each) / 200 k tasks, with the pgbench ratio per endpoint.
bench-crm:
    bench/crm.sh

# Apply migrations to the configured database and exit.
migrate:
    cargo run -p crm-server -- migrate

# psql into the private development database (server must have started it once).
db:
    psql "postgresql://postgres@/crm?host=$(realpath .data/pg)"

# Stop the private development cluster.
db-stop:
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl" -D .data/pg stop -m fast; else pg_ctl -D .data/pg stop -m fast; fi

# Delete the private development database (stops it first).
db-reset: db-stop
    rm -rf .data/pg
