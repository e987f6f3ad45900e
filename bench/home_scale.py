"""Benchmark: Home at scale.

An org with 30 published KPIs, each with a year of daily history and 30 days of
5-minute pushes, in a database that also holds ``--other-rows`` history rows of
other orgs. Home's server time (in-process, no network) is compared with the
same page for an org with zero KPIs, measured interleaved in the same run.

    python bench/home_scale.py --db postgresql --other-rows 10000000
"""

from __future__ import annotations

import argparse
import json
import time

from common import (
    bench_env,
    drop_pg_database,
    fresh_pg_database,
    print_table,
    setup_django,
    summary,
)

KPIS = 30
DAILY_DAYS = 365
PUSH_DAYS = 30
PUSHES_PER_DAY = 24 * 12
OTHER_KPIS_PER_ORG = 10


def build(other_rows: int) -> tuple[object, object]:
    from django.core.management import call_command
    from django.db import connection, transaction

    from pulseboard.connectors.models import Source
    from pulseboard.core.actors import Actor
    from pulseboard.indicators.models import Kpi
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.models import Organization
    from pulseboard.orgs.roles import Role
    from pulseboard.orgs.services import member_add, org_create, user_get_or_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    big = org_create(name="Scale Co", actor=actor)
    empty = org_create(name="Empty Co", actor=actor)
    big_user, _ = user_get_or_create(email="big@bench.local", password="bench-password")
    empty_user, _ = user_get_or_create(email="empty@bench.local", password="bench-password")
    member_add(org=big, user=big_user, role=Role.MEMBER, actor=actor)
    member_add(org=empty, user=empty_user, role=Role.MEMBER, actor=actor)
    shapes = [
        {"shape": "stay_above", "threshold": 40, "warn_at": 45},
        {"shape": "stay_below", "threshold": 60, "warn_at": 55},
        {"shape": "stay_between", "lower": 40, "upper": 60, "warn_margin": 2},
        {"shape": "trend", "direction": "up", "baseline": 48},
    ]
    for i in range(KPIS):
        kpi_create(
            org=big,
            actor=actor,
            spec=KpiSpec(title=f"KPI {i}", published=True, **shapes[i % 4]),
        )

    started = time.perf_counter()
    other_orgs = max(1, other_rows // (OTHER_KPIS_PER_ORG * 5000))
    per_kpi = max(1, other_rows // (other_orgs * OTHER_KPIS_PER_ORG))
    with transaction.atomic():
        orgs = Organization.objects.bulk_create(
            [Organization(name=f"Other {n}", slug=f"other-{n}") for n in range(other_orgs)]
        )
        kpis = Kpi.objects.bulk_create(
            [
                Kpi(org=o, title=f"K{n}", shape="stay_above", threshold=1, published=True)
                for o in orgs
                for n in range(OTHER_KPIS_PER_ORG)
            ]
        )
        Source.objects.bulk_create([Source(org_id=k.org_id, kpi=k) for k in kpis])
    _fill(connection, [o.pk for o in orgs], per_kpi, step_minutes=60)
    # The big org: a year of daily values, then 30 days of 5-minute pushes.
    _fill(connection, [big.pk], DAILY_DAYS, step_minutes=24 * 60, offset_minutes=PUSH_DAYS * 1440)
    _fill(connection, [big.pk], PUSH_DAYS * PUSHES_PER_DAY, step_minutes=5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE indicators_kpi SET current_value = 50, observed_at = %s, status = 'green' "
            "WHERE org_id = %s",
            [_now(), big.pk],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM kpi_history")
        total = cursor.fetchone()[0]
    from pulseboard.history.services import sparkline_rebuild

    for kpi in Kpi.objects.filter(org=big):
        sparkline_rebuild(kpi=kpi)
    print(f"  data: {total:,} history rows in {time.perf_counter() - started:.0f} s")
    return big_user, empty_user


def _now():  # type: ignore[no-untyped-def]
    from django.utils import timezone

    return timezone.now()


def _fill(connection, org_ids, count, *, step_minutes, offset_minutes=0):  # type: ignore[no-untyped-def]
    """Insert ``count`` rows per KPI of the given orgs, newest first, in SQL."""
    now = _now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO kpi_history (org_id, kpi_id, value, observed_at, recorded_at, status, source) "
                "SELECT k.org_id, k.id, 50 + 10 * sin(g / 50.0) + random(), "
                "%s - make_interval(mins => %s + g * %s), %s, 'green', 'api' "
                "FROM indicators_kpi k CROSS JOIN generate_series(1, %s) g "
                "WHERE k.org_id = ANY(%s)",
                [now, offset_minutes, step_minutes, now, count, list(org_ids)],
            )
        else:
            placeholders = ",".join("%s" for _ in org_ids)
            cursor.execute(
                "WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < %s) "
                "INSERT INTO kpi_history (org_id, kpi_id, value, observed_at, recorded_at, status, source) "
                "SELECT k.org_id, k.id, 45 + (abs(random()) % 1000) / 100.0, "
                "strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '-' || (%s + g * %s) || ' minutes'), "
                "%s, 'green', 'api' FROM indicators_kpi k CROSS JOIN seq "
                f"WHERE k.org_id IN ({placeholders})",
                [
                    count,
                    now.strftime("%Y-%m-%d %H:%M:%S"),
                    offset_minutes,
                    step_minutes,
                    now,
                    *org_ids,
                ],
            )


def measure(big_user: object, empty_user: object, requests: int) -> dict[str, object]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clients = {"30 KPIs": Client(HTTP_HOST="127.0.0.1"), "0 KPIs": Client(HTTP_HOST="127.0.0.1")}
    clients["30 KPIs"].force_login(big_user)
    clients["0 KPIs"].force_login(empty_user)
    for client in clients.values():
        for _ in range(20):
            assert client.get("/").status_code == 200
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(requests):
        for name, client in clients.items():
            start = time.perf_counter()
            response = client.get("/")
            times[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    queries = {}
    for name, client in clients.items():
        with CaptureQueriesContext(connection) as captured:
            client.get("/")
        queries[name] = len(captured)
    big, empty = summary(times["30 KPIs"]), summary(times["0 KPIs"])
    return {
        "big": big,
        "empty": empty,
        "ratio_p95": big["p95"] / empty["p95"],
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--other-rows", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", help="write the result as JSON to this file")
    parser.add_argument(
        "--no-tile-cache",
        action="store_true",
        help="build every tile on every request (the figures before the tile cache)",
    )
    args = parser.parse_args()
    name = "pb_bench_home"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    setup_django(bench_env(url))
    if args.no_tile_cache:
        import pulseboard.web.tiles as tiles

        tiles.tile_parts.size = 0  # every tile is forgotten as it is built
        tiles.rendered_tiles.size = 0  # and so is its markup
    print(f"Home at scale on {args.db}: building data ...")
    big_user, empty_user = build(args.other_rows)
    result = measure(big_user, empty_user, args.requests)
    print_table(
        f"Home server time on {args.db} (ms, in-process, {args.requests} requests each"
        f"{', tile cache off' if args.no_tile_cache else ''})",
        ["org", "p50", "p95", "p99", "queries"],
        [
            [
                "30 KPIs",
                result["big"]["p50"],
                result["big"]["p95"],
                result["big"]["p99"],
                result["queries"]["30 KPIs"],
            ],
            [
                "0 KPIs",
                result["empty"]["p50"],
                result["empty"]["p95"],
                result["empty"]["p99"],
                result["queries"]["0 KPIs"],
            ],
        ],
    )
    print(f"  p95 ratio 30 KPIs / 0 KPIs: {result['ratio_p95']:.2f} (target <= 3)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"db": args.db, **result}, handle, default=str)
    if args.db == "postgresql":
        from django.db import connections

        connections.close_all()
        drop_pg_database(name)


if __name__ == "__main__":
    main()
