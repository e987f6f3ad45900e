"""Benchmark: the worker's time pass (DESIGN §12) over 10,000 time-dependent KPIs.

Half the KPIs are rolling trends (baseline: their own value 7 days back, three history
rows each, so the baseline has moved and some turn red), half have ``expected_every``
(their value has just run out, so each turns stale). All are due. Timed, in one process
on one database:

- the first pass (``reevaluate_all_due``, batches of 500): judges every KPI, records the
  transitions, audits them, touches ``updated_at`` and sets the next moment;
- a repeat pass over the same KPIs made due again (no transition left to record);
- the same-run baseline: one bare SELECT of the same rows as model instances, in the
  same batches (what a pass cannot do with less).

Figures are printed (and written as JSON); nothing is asserted but that every KPI was
judged. ``--profile`` runs one more first pass and one more repeat pass (on a fresh set
of due KPIs) with every SQL statement timed through ``connection.execute_wrapper`` and
prints the statements grouped by kind and table: how many, and how long they took.

    python bench/reevaluate_pass.py --db postgresql --kpis 10000
    python bench/reevaluate_pass.py --db sqlite --kpis 10000 --profile
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import bench_env, drop_pg_database, fresh_pg_database, print_table, setup_django

BATCH = 500
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


def prepare(count: int) -> None:
    """An org with ``count`` KPIs, half rolling trends, half with ``expected_every``: all due."""
    from django.core.management import call_command
    from django.db import transaction

    from pulseboard.core.actors import Actor
    from pulseboard.history.models import KpiHistory
    from pulseboard.indicators.models import Kpi
    from pulseboard.orgs.services import org_create

    call_command("migrate", interactive=False, verbosity=0)
    org = org_create(name="Pass Co", actor=Actor.system("bench"))
    kpis = []
    for n in range(count):
        common = {
            "org": org,
            "title": f"KPI {n}",
            "published": True,
            "position": n,
            "current_value": 70.0,
            "status": "green",
            "status_since": NOW - 30 * DAY,
            "reevaluate_at": NOW - timedelta(minutes=1),
        }
        if n % 2:
            kpis.append(
                Kpi(
                    **common,
                    shape="stay_above",
                    threshold=10,
                    expected_every="1d",
                    observed_at=NOW - DAY - timedelta(minutes=1),
                )
            )
        else:
            kpis.append(
                Kpi(
                    **common,
                    shape="trend",
                    direction="up",
                    baseline_mode="prior_period",
                    baseline_period="7d",
                    observed_at=NOW - DAY,
                )
            )
    with transaction.atomic():
        Kpi.objects.bulk_create(kpis, batch_size=1000)
        rows = []
        for n, kpi in enumerate(kpis):
            if n % 2 == 0:
                # The baseline is now 90 (6 d ago, more than 7 d before the next minute ... )
                # for every other trend, 50 for the rest: half of the trends turn red.
                back = 90.0 if n % 4 == 0 else 50.0
                for when, value in ((NOW - 10 * DAY, 60.0), (NOW - 8 * DAY, back)):
                    rows.append(
                        KpiHistory(
                            org=org,
                            kpi=kpi,
                            value=value,
                            observed_at=when,
                            recorded_at=when,
                            status="green",
                            source="api",
                        )
                    )
                rows.append(
                    KpiHistory(
                        org=org,
                        kpi=kpi,
                        value=70.0,
                        observed_at=NOW - DAY,
                        recorded_at=NOW - DAY,
                        status="green",
                        source="api",
                    )
                )
        KpiHistory.objects.bulk_create(rows, batch_size=2000)


def timed_pass() -> tuple[float, object]:
    from pulseboard.indicators.reevaluation import reevaluate_all_due

    started = time.perf_counter()
    outcome = reevaluate_all_due(now=NOW, batch=BATCH)
    return time.perf_counter() - started, outcome


def bare_select(count: int) -> float:
    """The same rows, as model instances, in the pass's batches, inside one transaction each."""
    from django.db import transaction

    from pulseboard.indicators.models import Kpi

    ids = list(Kpi.objects.order_by("reevaluate_at", "id").values_list("id", flat=True))
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        with transaction.atomic():
            list(Kpi.objects.filter(id__in=ids[start : start + BATCH]))
    return time.perf_counter() - started


_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """``SELECT indicators_kpi``, ``INSERT audit_auditevent``, …: verb and first table."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1) if table else ''}".strip()


@contextmanager
def statements_timed() -> Iterator[dict[str, list[float]]]:
    """Every statement run on the default connection meanwhile: kind -> [seconds, …]."""
    from django.db import connection

    seen: dict[str, list[float]] = defaultdict(list)

    def wrapper(
        execute: Callable[..., object], sql: str, params: object, many: bool, context: object
    ) -> object:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen[statement_kind(sql)].append(time.perf_counter() - started)

    with connection.execute_wrapper(wrapper):
        yield seen


def print_profile(title: str, seconds: float, seen: dict[str, list[float]]) -> None:
    total_sql = sum(sum(times) for times in seen.values())
    rows = [
        [kind, len(times), f"{sum(times):.2f}", f"{1000 * sum(times) / len(times):.2f}"]
        for kind, times in sorted(seen.items(), key=lambda item: -sum(item[1]))
    ]
    rows.append(["(Python outside SQL)", "", f"{seconds - total_sql:.2f}", ""])
    print_table(
        f"{title}: {seconds:.2f} s, {sum(len(t) for t in seen.values()):,} statements",
        ["statement", "count", "seconds", "ms each"],
        rows,
    )


def profiled_passes(count: int) -> None:
    """A first pass over freshly due KPIs (back to green) and a repeat pass, statements timed."""
    from pulseboard.indicators.models import Kpi

    Kpi.objects.update(status="green", status_since=NOW - 30 * DAY)
    make_due()
    with statements_timed() as seen:
        seconds, _ = timed_pass()
    print_profile(f"Profile: first pass over {count:,} KPIs", seconds, seen)
    make_due()
    with statements_timed() as seen:
        seconds, _ = timed_pass()
    print_profile(f"Profile: repeat pass over {count:,} KPIs", seconds, seen)


def make_due() -> None:
    from pulseboard.indicators.models import Kpi

    Kpi.objects.update(reevaluate_at=NOW - timedelta(minutes=1))


def run(args: argparse.Namespace) -> dict[str, object]:
    name = "pb_bench_reevaluate"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    setup_django(bench_env(url))
    prepare(args.kpis)
    first_s, first = timed_pass()
    repeats = []
    for _ in range(args.repeat):
        make_due()
        seconds, outcome = timed_pass()
        repeats.append(seconds)
    bare = [bare_select(args.kpis) for _ in range(args.repeat)]
    if args.profile:
        profiled_passes(args.kpis)
    from django.db import connection

    connection.close()
    if args.db == "postgresql":
        drop_pg_database(name)
    return {
        "db": args.db,
        "kpis": args.kpis,
        "first_s": first_s,
        "first_claimed": first.claimed,  # type: ignore[attr-defined]
        "first_changed": first.changed,  # type: ignore[attr-defined]
        "first_touched": first.touched,  # type: ignore[attr-defined]
        "repeat_s": statistics.median(repeats),
        "repeat_claimed": outcome.claimed,  # type: ignore[attr-defined]
        "bare_select_s": statistics.median(bare),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--kpis", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="repeat passes to time")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    parser.add_argument(
        "--profile", action="store_true", help="then time every statement of two more passes"
    )
    args = parser.parse_args()
    out = run(args)
    kpis = int(out["kpis"])  # type: ignore[call-overload]
    first_s, repeat_s = float(out["first_s"]), float(out["repeat_s"])  # type: ignore[arg-type]
    bare_s = float(out["bare_select_s"])  # type: ignore[arg-type]
    rows = [
        [
            "first pass (transitions recorded)",
            f"{first_s:.2f}",
            f"{kpis / first_s:,.0f}",
            f"{out['first_changed']} changed, {out['first_touched']} touched",
        ],
        ["repeat pass (nothing changes)", f"{repeat_s:.2f}", f"{kpis / repeat_s:,.0f}", ""],
        ["bare SELECT of the same rows", f"{bare_s:.2f}", f"{kpis / bare_s:,.0f}", "baseline"],
    ]
    print_table(
        f"Time pass over {kpis:,} due KPIs on {args.db} (batches of {BATCH}, same run)",
        ["what", "seconds", "KPIs/s", "notes"],
        rows,
    )
    print(
        f"  judged {out['first_claimed']:,} then {out['repeat_claimed']:,} of {kpis:,}; "
        f"a repeat pass costs {repeat_s / bare_s:.1f} x the bare SELECT"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
