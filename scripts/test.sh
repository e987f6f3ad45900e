#!/usr/bin/env bash
# `make test`: lint, types, import contracts, then pytest on SQLite and on PostgreSQL.
set -uo pipefail
bin=.venv/bin
status=0
step() { echo; echo "==> $*"; }

step "ruff (lint + format check)"
lint_dirs=$(ls -d src tests bench scripts 2>/dev/null)
"$bin/ruff" check $lint_dirs || status=1
"$bin/ruff" format --check $lint_dirs || status=1
step "mypy"
"$bin/mypy" || status=1
step "import-linter"
"$bin/lint-imports" || status=1
if [ "${1:-}" = "--lint-only" ]; then exit $status; fi

# Browser tests need Chromium from Debian; install it when we can, and never skip on CI.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    step "installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "chromium could not be installed"
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "${CI:-}" = "true" ]; then echo "FAIL: CI needs /usr/bin/chromium for the browser tests"; exit 1; fi
  echo "NOTE: browser tests SKIPPED: /usr/bin/chromium is missing (install Debian's chromium)."
fi
# The prometheus connector is tested against a real Prometheus: same rule as Chromium.
if [ ! -x /usr/bin/prometheus ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    step "installing Debian's prometheus for the prometheus connector tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null) \
      || echo "prometheus could not be installed"
  fi
fi
if [ ! -x /usr/bin/prometheus ]; then
  if [ "${CI:-}" = "true" ]; then echo "FAIL: CI needs /usr/bin/prometheus for the prometheus connector tests"; exit 1; fi
  echo "NOTE: prometheus leg SKIPPED: /usr/bin/prometheus is missing (install Debian's prometheus)."
fi

# The accessibility tests inject axe-core (from npm, pinned here) into Chromium: same rule.
axe_version=4.14.1
axe_js=.venv/node/node_modules/axe-core/axe.min.js
if ! head -c 100 "$axe_js" 2>/dev/null | grep -q "axe v$axe_version"; then
  if command -v npm >/dev/null; then
    step "installing axe-core $axe_version from npm for the accessibility tests"
    npm install --no-save --no-audit --no-fund --silent --prefix .venv/node "axe-core@$axe_version" \
      || echo "axe-core could not be installed"
  fi
fi
if [ ! -f "$axe_js" ]; then
  if [ "${CI:-}" = "true" ]; then echo "FAIL: CI needs axe-core ($axe_js) for the accessibility tests"; exit 1; fi
  echo "NOTE: accessibility tests SKIPPED: npm is missing, so axe-core could not be installed."
fi

data_dir=$(mktemp -d)
pg_data_dir=$(mktemp -d)
pg_log="$pg_data_dir/pytest-postgresql.log"
trap 'rm -rf "$data_dir" "$pg_data_dir"' EXIT
unset DATABASE_URL

pg_url=${PULSEBOARD_TEST_POSTGRES_URL:-}
if [ -z "$pg_url" ] && "$bin/python" scripts/pg_probe.py postgresql://postgres@127.0.0.1:5432/postgres; then
  pg_url=postgresql://postgres@127.0.0.1:5432/test
fi
if [ -n "$pg_url" ] && ! "$bin/python" scripts/pg_probe.py "$pg_url"; then
  echo "FAIL: PULSEBOARD_TEST_POSTGRES_URL is set but PostgreSQL does not answer at it"
  exit 1
fi

pg_leg() {
  PULSEBOARD_DATA_DIR="$pg_data_dir" \
  DATABASE_URL="$pg_url" \
  PULSEBOARD_SECRET_KEY=test-only-secret-key-not-for-production \
  PULSEBOARD_ENCRYPTION_KEYS=$("$bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
    "$bin/pytest" -q --db-only "$@"
}

# The two legs share nothing (own data directory, own database), so by default they run
# side by side, one per core; PULSEBOARD_TEST_LEGS=serial runs them one after the other.
pg_pid=""
if [ -n "$pg_url" ] && [ "${PULSEBOARD_TEST_LEGS:-parallel}" != "serial" ]; then
  step "pytest on PostgreSQL (database tests) started alongside; its output follows the SQLite leg"
  pg_leg "$@" >"$pg_log" 2>&1 &
  pg_pid=$!
fi

step "pytest on SQLite"
PULSEBOARD_DATA_DIR="$data_dir" "$bin/pytest" -q "$@"
rc=$?
[ $rc -eq 0 ] || status=1

if [ -n "$pg_url" ]; then
  step "pytest on PostgreSQL (database tests)"
  if [ -n "$pg_pid" ]; then
    wait "$pg_pid"
    rc=$?
    cat "$pg_log"
  else
    pg_leg "$@"
    rc=$?
  fi
  [ $rc -eq 0 ] || status=1
else
  echo
  echo "NOTE: PostgreSQL leg SKIPPED: nothing answers at 127.0.0.1:5432 and"
  echo "      PULSEBOARD_TEST_POSTGRES_URL is not set. Only SQLite was tested."
fi
echo
if [ $status -eq 0 ]; then echo "make test: all green"; else echo "make test: FAILED"; fi
exit $status
