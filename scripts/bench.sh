#!/usr/bin/env bash
# `make bench`: every scenario on PostgreSQL (when it answers) and on SQLite, then one table.
set -euo pipefail
bin=.venv/bin
out=bench/results
mkdir -p "$out"
rm -f "$out"/*.json  # the table shows this run only
other_rows=${BENCH_OTHER_ROWS:-10000000}
sources=${BENCH_SOURCES:-10000}
requests=${BENCH_REQUESTS:-3000}
import_rows=${BENCH_IMPORT_ROWS:-100000}
reevaluate_kpis=${BENCH_REEVALUATE_KPIS:-10000}
dbs="sqlite"
if "$bin/python" scripts/pg_probe.py postgresql://postgres@127.0.0.1:5432/postgres 2>/dev/null; then
  dbs="postgresql sqlite"
else
  echo "NOTE: PostgreSQL does not answer on 127.0.0.1:5432: SQLite only."
fi
for db in $dbs; do
  echo "== $db: webhook ingest"
  "$bin/python" bench/webhook_ingest.py --db "$db" --requests "$requests" --json "$out/ingest-$db.json"
  echo "== $db: poll cycle"
  "$bin/python" bench/poll_cycle.py --db "$db" --sources "$sources" --json "$out/poll-$db.json"
  echo "== $db: Home at scale"
  "$bin/python" bench/home_scale.py --db "$db" --other-rows "$other_rows" --json "$out/home-$db.json"
  echo "== $db: history import"
  "$bin/python" bench/history_import.py --db "$db" --rows "$import_rows" --json "$out/import-$db.json"
  echo "== $db: batch values"
  "$bin/python" bench/batch_values.py --db "$db" --json "$out/batch-$db.json"
  echo "== $db: time pass"
  "$bin/python" bench/reevaluate_pass.py --db "$db" --kpis "$reevaluate_kpis" --json "$out/reevaluate-$db.json"
  echo "== $db: live poll (304)"
  "$bin/python" bench/live_poll.py --db "$db" --requests "$requests" --json "$out/live-poll-$db.json"
  echo "== $db: share badge"
  "$bin/python" bench/badge.py --db "$db" --requests "$requests" --json "$out/badge-$db.json"
done
"$bin/python" bench/report.py "$out"
