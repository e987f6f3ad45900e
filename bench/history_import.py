"""Benchmark: importing 100,000 history rows from CSV, in process and through the API.

In process: the file is parsed and checked (``history_import_parse``) and then written
(``history_import``: one transaction, bulk INSERTs, one audit event), each phase timed.
Through the API: the same file POSTed to ``/api/v1/kpis/{id}/history/import`` on a
``pulseboard serve`` started here on 127.0.0.1 (gunicorn gthread, production settings),
timed from the first byte sent to the answer. Rows/s are printed, nothing is asserted
except that every row landed.

    python bench/history_import.py --db postgresql --rows 100000
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import bench_env, drop_pg_database, fresh_pg_database, print_table, setup_django
from webhook_ingest import free_port, start_server


def csv_body(rows: int, end: datetime) -> bytes:
    start = end - timedelta(minutes=rows)
    lines = ["observed_at,value"]
    for n in range(rows):
        moment = start + timedelta(minutes=n)
        lines.append(f"{moment.isoformat()},{1000 + (n % 977) / 7:.4f}")
    return ("\n".join(lines) + "\n").encode()


def prepare() -> tuple[object, object, object, str]:
    from django.core.management import call_command

    from pulseboard.core.actors import Actor
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import org_create, token_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    org = org_create(name="Import Co", actor=actor)
    kpis = [
        kpi_create(
            org=org,
            actor=actor,
            spec=KpiSpec(title=title, shape="stay_above", threshold=1000, published=True),
        )
        for title in ("In process", "Over HTTP")
    ]
    in_process, over_http = kpis
    _, token = token_create(org=org, actor=actor, name="bench", scope="admin")
    return org, in_process, over_http, token


def in_process_import(kpi: object, body: bytes) -> dict[str, float]:
    from pulseboard.core.actors import Actor
    from pulseboard.history.services import history_import, history_import_parse

    chunk = 64 * 1024
    started = time.perf_counter()
    parsed = history_import_parse(body[n : n + chunk] for n in range(0, len(body), chunk))
    parsed_at = time.perf_counter()
    assert parsed.ok, parsed.summary()
    outcome = history_import(
        kpi=kpi,  # type: ignore[arg-type]
        points=parsed.points,
        actor=Actor.system("bench"),
        source="api",
    )
    done = time.perf_counter()
    assert outcome.imported == parsed.rows
    return {"rows": parsed.rows, "parse_s": parsed_at - started, "write_s": done - parsed_at}


def http_import(port: int, token: str, kpi_id: str, body: bytes) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request(
        "POST",
        f"/api/v1/kpis/{kpi_id}/history/import",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    connection.close()
    assert response.status == 200, answer
    return {"rows": float(answer["imported"]), "total_s": elapsed}


def run(args: argparse.Namespace) -> dict[str, object]:
    name = "pb_bench_import"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    env = bench_env(url)
    setup_django(env)
    _, in_process, over_http, token = prepare()
    body = csv_body(args.rows, datetime.now(UTC) - timedelta(days=1))
    local = in_process_import(in_process, body)

    from django.db import connection

    connection.close()
    port = free_port()
    server = start_server(env, port, workers=1, threads=2)
    try:
        remote = http_import(port, token, over_http.pk, body)  # type: ignore[attr-defined]
    finally:
        server.terminate()
        server.wait(timeout=30)

    from pulseboard.history.models import KpiHistory

    stored = KpiHistory.objects.count()
    connection.close()
    if args.db == "postgresql":
        drop_pg_database(name)
    return {"local": local, "remote": remote, "stored": stored, "bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    out = run(args)
    local: dict[str, float] = out["local"]  # type: ignore[assignment]
    remote: dict[str, float] = out["remote"]  # type: ignore[assignment]
    rows = local["rows"]
    local_total = local["parse_s"] + local["write_s"]
    table = [
        [
            "parse and check (in process)",
            f"{local['parse_s']:.2f}",
            f"{rows / local['parse_s']:,.0f}",
        ],
        ["write (in process)", f"{local['write_s']:.2f}", f"{rows / local['write_s']:,.0f}"],
        ["parse + write (in process)", f"{local_total:.2f}", f"{rows / local_total:,.0f}"],
        [
            "POST .../history/import (HTTP)",
            f"{remote['total_s']:.2f}",
            f"{rows / remote['total_s']:,.0f}",
        ],
    ]
    print_table(
        f"History import on {args.db}: {rows:,.0f} rows, {out['bytes'] / 1e6:.1f} MB of CSV",
        ["phase", "seconds", "rows/s"],
        table,
    )
    expected = 2 * rows
    print(
        f"  history rows stored {out['stored']:,} == {expected:,.0f}: "
        f"{'yes' if out['stored'] == expected else 'NO'}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "rows": rows,
                    "parse_rows_per_s": rows / local["parse_s"],
                    "write_rows_per_s": rows / local["write_s"],
                    "in_process_rows_per_s": rows / local_total,
                    "http_rows_per_s": rows / remote["total_s"],
                    "http_seconds": remote["total_s"],
                    "stored_ok": out["stored"] == expected,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
