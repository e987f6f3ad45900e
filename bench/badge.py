"""Benchmark: share-link badge rendering against the bare endpoint on the same server.

One ``pulseboard serve`` (gunicorn gthread, production settings) started here on
127.0.0.1 answers, in one run: ``GET /healthz`` (the bare floor), badge SVGs
(``/s/<token>/kpis/<id>.svg``: token lookup, one KPI's card, the SVG) and tile SVGs
(with the sparkline). KPIs carry 90 days of history. Requests are spread over
several links so the per-link rate limit (600/minute per process,
``sharing/rate_limit.py``) is never what is measured; any 429 would show in the
statuses. Printed: req/s of each, the ratio badge / healthz and whether it meets
the target (>= 0.3).

    python bench/badge.py --db postgresql --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from common import (
    bench_env,
    drop_pg_database,
    fresh_pg_database,
    print_table,
    setup_django,
)
from loadgen import LoadResult, Prepared, closed_loop, load_rows
from webhook_ingest import free_port, start_server

KPIS = 10
TARGET = 0.3
# Requests per link in one run: well under the per-link rate of each process.
PER_LINK = 400


def prepare(links: int) -> list[tuple[str, str]]:
    """Migrate, create an org with KPIs and history, and ``links`` links; (token, kpi_id) pairs."""
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from pulseboard.core.actors import Actor
    from pulseboard.history.services import value_record
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import org_create
    from pulseboard.sharing.services import share_link_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    org = org_create(name="Badge Co", actor=actor)
    now = timezone.now()
    kpis = []
    for n in range(KPIS):
        spec = KpiSpec(
            title=f"Uptime {n}",
            shape="stay_above",
            threshold=99.0,
            unit_type="percentage",
            published=True,
        )
        kpi = kpi_create(org=org, actor=actor, spec=spec)
        for day in range(90, -1, -3):
            value = 98.5 + (day % 7) / 5
            value_record(
                kpi=kpi,
                value=value,
                observed_at=now - timedelta(days=day),
                source="api",
                actor=actor,
            )
        kpis.append(kpi)
    pairs = []
    for n in range(links):
        _, token = share_link_create(org=org, actor=actor, name=f"Badges {n}")
        pairs += [(token, kpi.pk) for kpi in kpis]
    return pairs


def badge_requests(
    pairs: list[tuple[str, str]], count: int, offset: int, suffix: str
) -> list[Prepared]:
    return [
        Prepared("GET", f"/s/{token}/kpis/{kpi_id}{suffix}")
        for token, kpi_id in (pairs[(offset + i) % len(pairs)] for i in range(count))
    ]


def run(args: argparse.Namespace) -> dict[str, LoadResult]:
    name = "pb_bench_badge"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    env = bench_env(url)
    setup_django(env)
    # Each link serves at most PER_LINK requests of the whole run (both kinds, warm-ups too).
    links = (args.requests * 2 + args.requests // 5) // PER_LINK + 1
    pairs = prepare(max(links, 2))
    port = free_port()
    server = start_server(env, port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, LoadResult] = {}
    try:
        bare = [Prepared("GET", "/healthz")] * args.requests
        runs = {
            "bare /healthz": (bare[: args.requests // 10], bare),
            "badge .svg": (
                badge_requests(pairs, args.requests // 10, 0, ".svg"),
                badge_requests(pairs, args.requests, args.requests // 10, ".svg"),
            ),
            "tile .svg": (
                badge_requests(pairs, args.requests // 10, 0, "/tile.svg"),
                badge_requests(pairs, args.requests, args.requests // 10, "/tile.svg"),
            ),
        }
        for label, (warm, timed) in runs.items():
            asyncio.run(closed_loop(base, warm, args.concurrency))
            results[label] = asyncio.run(closed_loop(base, timed, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)
        from django.db import connection

        connection.close()
        if args.db == "postgresql":
            drop_pg_database(name)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    results = run(args)
    bare = results["bare /healthz"].throughput
    rows = load_rows(results, bare)
    print_table(
        f"Share badges on {args.db} (closed loop, {args.requests} requests, "
        f"concurrency {args.concurrency}, {args.workers}x{args.threads} gthread)",
        ["endpoint", "req/s", "x bare", "p50 ms", "p99 ms", "statuses", "errors"],
        rows,
    )
    ratio = results["badge .svg"].throughput / bare
    all_ok = all(set(r.statuses) == {200} and not r.errors for r in results.values())
    print(
        f"  badge / healthz = {ratio:.2f} (target >= {TARGET}): {'yes' if ratio >= TARGET else 'NO'}"
        f"; every answer 200: {'yes' if all_ok else 'NO'}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "throughput": {k: v.throughput for k, v in results.items()},
                    "ratio_badge": ratio,
                    "ratio_tile": results["tile .svg"].throughput / bare,
                    "all_ok": all_ok,
                }
            )
        )


if __name__ == "__main__":
    main()
