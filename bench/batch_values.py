"""Benchmark: 1,000 values in one ``POST /api/v1/values`` against 1,000 single writes.

Both through the API of one ``pulseboard serve`` started here on 127.0.0.1 (gunicorn
gthread, production settings, the write rate limit raised out of the way), from one
client over one keep-alive connection, in the same run: 1,000 ``PUT /kpis/{id}/value``
one after the other, then ``--batches`` batches of 1,000 items. Values spread over 10
KPIs. Every write is a history row and an audit event either way; the figures compare
the cost per value. Nothing is asserted except that every value landed.

    python bench/batch_values.py --db postgresql
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    bench_env,
    drop_pg_database,
    fresh_pg_database,
    percentile,
    print_table,
    setup_django,
)
from webhook_ingest import free_port, start_server

KPIS = 10
BATCH = 1000


def prepare() -> tuple[list[str], str]:
    from django.core.management import call_command
    from django.db import connection

    from pulseboard.core.actors import Actor
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import org_create, token_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    org = org_create(name="Batch Co", actor=actor)
    ids = [
        kpi_create(
            org=org,
            actor=actor,
            spec=KpiSpec(title=f"Meter {n}", shape="stay_above", threshold=50, published=True),
        ).pk
        for n in range(KPIS)
    ]
    _, token = token_create(org=org, actor=actor, name="bench", scope="admin")
    connection.close()
    return ids, token


def request(
    connection: http.client.HTTPConnection, method: str, path: str, body: object, token: str
) -> float:
    started = time.perf_counter()
    connection.request(
        method,
        path,
        body=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    answer = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {answer[:300]!r}")
    return elapsed


def run(args: argparse.Namespace) -> dict[str, object]:
    name = "pb_bench_batch"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    env = bench_env(url)
    # One client writing as fast as it can: the per-token limit would only measure itself.
    env["PULSEBOARD_API_WRITE_RATE"] = "1000000/minute"
    setup_django(env)
    ids, token = prepare()
    port = free_port()
    server = start_server(env, port, workers=1, threads=2)
    base = datetime.now(UTC) - timedelta(days=2)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        # Warm-up: the first requests load code and open the database connection.
        for n in range(20):
            request(connection, "PUT", f"/api/v1/kpis/{ids[0]}/value", {"value": n}, token)
        singles = []
        started = time.perf_counter()
        for n in range(BATCH):
            body = {"value": n % 100, "observed_at": (base + timedelta(seconds=n)).isoformat()}
            path = f"/api/v1/kpis/{ids[n % KPIS]}/value"
            singles.append(request(connection, "PUT", path, body, token))
        singles_total = time.perf_counter() - started
        batches = []
        for b in range(args.batches):
            items = [
                {
                    "kpi_id": ids[n % KPIS],
                    "value": n % 100,
                    "observed_at": (base + timedelta(hours=b + 1, seconds=n)).isoformat(),
                }
                for n in range(BATCH)
            ]
            batches.append(request(connection, "POST", "/api/v1/values", items, token))
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    from django.db import connection as db

    from pulseboard.history.models import KpiHistory

    stored = KpiHistory.objects.count()
    db.close()
    if args.db == "postgresql":
        drop_pg_database(name)
    return {
        "singles_ms": singles,
        "singles_total_s": singles_total,
        "batches_ms": batches,
        "stored": stored,
        "expected": 20 + BATCH + args.batches * BATCH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--batches", type=int, default=5, help="batches of 1,000 to time")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    out = run(args)
    singles: list[float] = out["singles_ms"]  # type: ignore[assignment]
    batches: list[float] = out["batches_ms"]  # type: ignore[assignment]
    singles_s = float(out["singles_total_s"])  # type: ignore[arg-type]
    batch_s = statistics.median(batches) / 1000
    rows = [
        [
            f"{BATCH} x PUT /kpis/{{id}}/value",
            f"{singles_s:.2f}",
            f"{BATCH / singles_s:,.0f}",
            f"p50 {percentile(singles, 50):.1f} / p99 {percentile(singles, 99):.1f}",
        ],
        [
            f"1 x POST /values ({BATCH} items), median of {len(batches)}",
            f"{batch_s:.2f}",
            f"{BATCH / batch_s:,.0f}",
            f"min {min(batches):.0f} / max {max(batches):.0f}",
        ],
    ]
    print_table(
        f"Batch values vs single writes on {args.db} (one client, keep-alive, same run)",
        ["requests", "seconds", "values/s", "ms per request"],
        rows,
    )
    print(
        f"  the batch is {singles_s / batch_s:.1f} x faster per value; history rows "
        f"{out['stored']:,} == {out['expected']:,}: {'yes' if out['stored'] == out['expected'] else 'NO'}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "single_values_per_s": BATCH / singles_s,
                    "batch_values_per_s": BATCH / batch_s,
                    "speedup": singles_s / batch_s,
                    "single_p50_ms": percentile(singles, 50),
                    "batch_median_ms": statistics.median(batches),
                    "stored_ok": out["stored"] == out["expected"],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
