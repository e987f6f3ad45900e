"""Profile of one signed webhook delivery: every SQL statement it sends, timed.

In process (Django test client, no network): an org with 20 webhook KPIs, then
``--deliveries`` signed deliveries through ``POST /hooks/kpis/{id}`` under a
``connection.execute_wrapper`` that records each statement's shape and time. Prints
statements per delivery (BEGIN/COMMIT counted: the wrapper does not see them, so they
are added as the round trips they are) and each statement's share of the SQL time.
``--pyinstrument FILE`` also writes a pyinstrument text profile of the deliveries.

    python bench/ingest_profile.py --db postgresql --deliveries 200
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from common import bench_env, drop_pg_database, fresh_pg_database, setup_django

_LITERALS = re.compile(r"'[^']*'|\b\d+(\.\d+)?\b")


def shape(sql: str) -> str:
    """The statement with literals and long column lists folded, for grouping."""
    text = _LITERALS.sub("?", " ".join(sql.split()))
    text = re.sub(r"SELECT .*? FROM", "SELECT … FROM", text, count=1)
    text = re.sub(r"SET .*? WHERE", "SET … WHERE", text, count=1)
    return text[:150]


def run(args: argparse.Namespace) -> dict[str, Any]:
    name = "pb_bench_profile"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    setup_django(bench_env(url))
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from standardwebhooks import Webhook

    from pulseboard.connectors.services import source_bind
    from pulseboard.core.actors import Actor
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import org_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    org = org_create(name="Profile Co", actor=actor)
    hooks = []
    for n in range(20):
        kpi = kpi_create(
            org=org,
            actor=actor,
            spec=KpiSpec(title=f"Hook {n}", shape="stay_above", threshold=1, published=True),
        )
        bound = source_bind(kpi=kpi, actor=actor, kind="webhook", config={})
        assert bound.secret
        hooks.append((kpi.pk, Webhook(bound.secret)))

    client = Client(HTTP_HOST="127.0.0.1")
    base = datetime.now(UTC) - timedelta(hours=1)

    def deliver(n: int, tag: str) -> int:
        kpi_id, hook = hooks[n % len(hooks)]
        body = json.dumps(
            {"value": float(n % 97), "observed_at": (base + timedelta(seconds=n)).isoformat()}
        )
        now = datetime.now(UTC)
        response = client.post(
            f"/hooks/kpis/{kpi_id}",
            data=body,
            content_type="application/json",
            headers={
                "webhook-id": f"msg_{tag}_{n}",
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": hook.sign(f"msg_{tag}_{n}", now, body),
            },
        )
        return response.status_code

    for n in range(40):  # warm caches and the connection
        assert deliver(n, "warm") == 200

    times: dict[str, list[float]] = defaultdict(list)

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            times[shape(sql)].append((time.perf_counter() - start) * 1000)

    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with connection.execute_wrapper(wrapper):
        if profiler:
            profiler.start()
        statuses = [deliver(n, "p") for n in range(args.deliveries)]
        if profiler:
            profiler.stop()
    wall = (time.perf_counter() - started) * 1000
    assert set(statuses) == {200}, statuses
    if profiler:
        with open(args.pyinstrument, "w") as out:
            out.write(profiler.output_text(unicode=True, show_all=False))
    connection.close()
    if args.db == "postgresql":
        drop_pg_database(name)
    return {"times": times, "wall_ms": wall, "deliveries": args.deliveries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--pyinstrument", help="write a pyinstrument text profile here")
    args = parser.parse_args()
    out = run(args)
    n = out["deliveries"]
    times: dict[str, list[float]] = out["times"]
    sql_total = sum(sum(v) for v in times.values())
    print(f"{args.db}: {n} deliveries, {out['wall_ms'] / n:.2f} ms each in process")
    print(f"  SQL {sql_total / n:.2f} ms per delivery; statements per delivery (+ BEGIN/COMMIT):")
    for text, values in sorted(times.items(), key=lambda item: -sum(item[1])):
        print(
            f"  {len(values) / n:5.2f} x {sum(values) / len(values):6.3f} ms "
            f"({sum(values) / sql_total:4.0%})  {text}"
        )
    count = sum(len(v) for v in times.values()) / n
    print(f"  = {count:.2f} statements per delivery + BEGIN + COMMIT")


if __name__ == "__main__":
    main()
