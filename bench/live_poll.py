"""Benchmark: an unchanged live poll (304) against ``GET /healthz`` on the same server.

One ``pulseboard serve`` (gunicorn gthread, production settings) started here on
127.0.0.1; an org with ``--kpis`` published KPIs (each with a value) and a signed-in
member. The member's poll of Home (``GET /live/home/`` with ``If-None-Match`` of the
current board) is answered 304 after the session, user and membership reads every
signed-in request makes, plus the board's one-query change stamp (web/live.py). The
same closed loop is run on ``/healthz`` (no database) in the same run, interleaved
with a warm-up each; the ratio of the two throughputs is printed with "yes" when it
reaches the target (>= 0.5), and a changed poll (200, the board rendered) for scale.

    python bench/live_poll.py --db postgresql --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import re
import urllib.request
from collections import Counter
from pathlib import Path

from common import bench_env, drop_pg_database, fresh_pg_database, print_table, setup_django
from loadgen import LoadResult, Prepared, closed_loop
from webhook_ingest import free_port, start_server

TARGET = 0.5
CHUNKS = 5


def prepare(kpis: int) -> str:
    """Create the org, its KPIs and a member; return the member's session cookie header."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from pulseboard.core import clock
    from pulseboard.core.actors import Actor
    from pulseboard.history.services import value_record
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.roles import Role
    from pulseboard.orgs.services import member_add, org_create, user_get_or_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    org = org_create(name="Live Co", actor=actor)
    user, _ = user_get_or_create(email="live@bench.local", password="bench-password")
    member_add(org=org, user=user, role=Role.MEMBER, actor=actor)
    for i in range(kpis):
        kpi = kpi_create(
            org=org,
            actor=actor,
            spec=KpiSpec(title=f"KPI {i}", published=True, shape="stay_above", threshold=40),
        )
        value_record(kpi=kpi, value=40.0 + i, observed_at=clock.now(), source="api", actor=actor)
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def current_etag(base: str, cookie: str) -> dict[str, str]:
    """The headers the board's next poll sends: its ETag and its poll pass."""
    request = urllib.request.Request(
        base + "/live/home/", headers={"Cookie": cookie, "HX-Request": "true"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        body = response.read().decode()
    found = re.search(r'hx-headers="([^"]*)"', body)
    assert found, "the board carries no poll headers"
    return {str(k): str(v) for k, v in json.loads(html.unescape(found.group(1))).items()}


def run(args: argparse.Namespace) -> dict[str, object]:
    name = "pb_bench_live"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    env = bench_env(url)
    setup_django(env)
    cookie = prepare(args.kpis)
    port = free_port()
    server = start_server(env, port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, LoadResult] = {}
    try:
        # Once: the session's idle-refresh mark is saved by its first request.
        current_etag(base, cookie)
        headers = {"Cookie": cookie, "HX-Request": "true"}
        bare = [Prepared("GET", "/healthz")]
        changed = [Prepared("GET", "/live/home/", headers={**headers, "If-None-Match": '"old"'})]
        for label in ("bare /healthz", "unchanged poll (304)", "changed poll (200)"):
            chunks = []
            for _ in range(CHUNKS):
                # The ETag moves with the minute (relative times), so each chunk asks anew.
                poll_headers = current_etag(base, cookie)
                unchanged = [Prepared("GET", "/live/home/", headers={**headers, **poll_headers})]
                one = {"bare /healthz": bare, "unchanged poll (304)": unchanged}.get(label, changed)
                size = args.requests // CHUNKS
                asyncio.run(closed_loop(base, one * (size // 10), args.concurrency))
                chunks.append(asyncio.run(closed_loop(base, one * size, args.concurrency)))
            results[label] = LoadResult(
                sent=sum(c.sent for c in chunks),
                seconds=sum(c.seconds for c in chunks),
                statuses=sum((c.statuses for c in chunks), Counter()),
                latencies_ms=[ms for c in chunks for ms in c.latencies_ms],
                errors=sum(c.errors for c in chunks),
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    from django.db import connection

    connection.close()
    if args.db == "postgresql":
        drop_pg_database(name)
    return {"results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--kpis", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    results: dict[str, LoadResult] = run(args)["results"]  # type: ignore[assignment]
    bare = results["bare /healthz"].throughput
    rows = [
        [
            label,
            f"{result.throughput:,.0f}",
            f"{result.throughput / bare:.2f}",
            dict(result.statuses),
            result.errors,
        ]
        for label, result in results.items()
    ]
    print_table(
        f"Live poll on {args.db} (closed loop, {args.requests} requests, concurrency "
        f"{args.concurrency}, {args.workers}x{args.threads} gthread, {args.kpis} KPIs)",
        ["endpoint", "req/s", "x /healthz", "statuses", "errors"],
        rows,
    )
    unchanged = results["unchanged poll (304)"]
    ratio = unchanged.throughput / bare if bare else 0.0
    all_304 = set(unchanged.statuses) == {304} and unchanged.errors == 0
    met = ratio >= TARGET and all_304
    print(
        f"  unchanged poll / healthz = {ratio:.2f} (target >= {TARGET}): {'yes' if met else 'no'}"
        + ("" if all_304 else f"; NOT all 304: {dict(unchanged.statuses)}")
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "throughput": {k: v.throughput for k, v in results.items()},
                    "ratio": ratio,
                    "all_304": all_304,
                    "target": TARGET,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
