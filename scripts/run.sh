#!/usr/bin/env bash
# `make run`: demo data on first start, then the server with the in-process worker.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
bin=.venv/bin
data_dir=${PULSEBOARD_DATA_DIR:-pulseboard-data}
if [ ! -e "$data_dir/pulseboard.sqlite3" ]; then
  echo "First start: creating the demo organization in $data_dir/ ..."
  "$bin/pulseboard" demo
fi
echo
echo "  Pulseboard: http://$host:$port/"
echo "  Demo login: demo@pulseboard.local / pulseboard-demo"
echo
# --demo-feed: the demo's webhook KPI gets a signed value every few seconds (README, Try it).
exec "$bin/pulseboard" serve --host "$host" --port "$port" --demo-feed
