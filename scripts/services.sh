#!/usr/bin/env bash
# Sourced by test.sh: the real servers some tests need, from Debian's packages.
# - PostgreSQL: a throwaway cluster on a Unix socket (and 127.0.0.1), started as the postgres user;
#   exports ROLLOUT_TEST_POSTGRES (a libpq URL) for the store tests on the PostgreSQL backend.
# - Chromium: headless, for the HTML report tests; exports ROLLOUT_TEST_CHROMIUM.
# As root (CI, a fresh machine) missing packages are installed with apt-get; otherwise the tests
# that need them skip with the command that provides them (under CI=true they fail instead).
set -euo pipefail

_rollout_have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
_rollout_have_chromium() { command -v chromium >/dev/null 2>&1; }

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && { ! _rollout_have_pg || ! _rollout_have_chromium; }; then
  echo "services: installing postgresql and chromium from Debian's packages (one time)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql chromium >&2
fi

if _rollout_have_pg && [ "$(id -u)" = "0" ]; then
  PG_BIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
  PG_DIR="${ROLLOUT_PG_DIR:-/tmp/rollout-pg}"
  PG_PORT="${ROLLOUT_PG_PORT:-55432}"
  mkdir -p "$PG_DIR" && chown postgres "$PG_DIR"
  if ! su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$PG_DIR/data' status" >/dev/null 2>&1; then
    rm -rf "$PG_DIR/data"
    su postgres -s /bin/sh -c "'$PG_BIN/initdb' -D '$PG_DIR/data' --auth=trust -U postgres" >/dev/null
    su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$PG_DIR/data' -l '$PG_DIR/log' -w -o \"-k '$PG_DIR' -p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off\" start" >/dev/null
  fi
  export ROLLOUT_TEST_POSTGRES="postgresql://postgres@127.0.0.1:${PG_PORT}/postgres"
fi

if _rollout_have_chromium; then
  export ROLLOUT_TEST_CHROMIUM="$(command -v chromium)"
fi
