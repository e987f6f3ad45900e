"""The worker's time pass (DESIGN §12): ``--once`` judges due KPIs; the loop keeps doing it.

``transactional_db``: the worker's database threads use their own connections and must
see committed rows. The clock is moved with time-machine (wall clock only; the loop's
timers run on the monotonic clock).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from tests.factories import KpiFactory

from pulseboard.core.actors import Actor
from pulseboard.core.safe_http import SafeFetchPolicy
from pulseboard.history.services import history_backfill
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.worker.runner import Worker, WorkerOptions

pytestmark = pytest.mark.usefixtures("transactional_db")
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def rolling_kpi() -> Kpi:
    """Green now (70 against 50); red from NOW + 1 day, when 90 becomes the baseline."""
    kpi = KpiFactory(
        shape="trend",
        threshold=None,
        direction="up",
        baseline_mode="prior_period",
        baseline_period="7d",
    )
    points = [(NOW - 10 * DAY, 50.0), (NOW - 6 * DAY, 90.0), (NOW - DAY, 70.0)]
    history_backfill(kpi=kpi, points=points, actor=Actor.system("test"), source="demo")
    kpi.refresh_from_db()
    assert kpi.status == "green"
    return kpi


def options(**overrides: object) -> WorkerOptions:
    return WorkerOptions(
        owner="time-pass",
        policy=SafeFetchPolicy(),
        poll_seconds=0.05,
        **overrides,  # type: ignore[arg-type]
    )


def test_worker_once_runs_one_time_pass() -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        kpi = rolling_kpi()
        clock.move_to(NOW + DAY + timedelta(seconds=10))
        stats = asyncio.run(Worker(options(once=True)).run())
    assert (stats.time_passes, stats.reevaluated, stats.status_changes) == (1, 1, 1)
    kpi.refresh_from_db()
    assert kpi.status == "red"
    change = StatusChange.objects.get(kpi=kpi, cause="time")
    assert change.at == NOW + DAY + timedelta(seconds=10)


def test_the_running_worker_judges_a_kpi_whose_moment_comes_while_it_runs() -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        kpi = rolling_kpi()

        async def scenario() -> None:
            worker = Worker(options(reevaluate_seconds=0.05))
            task = asyncio.create_task(worker.run())
            await asyncio.sleep(0.3)  # a few passes with nothing due
            assert worker.stats.time_passes >= 1 and worker.stats.status_changes == 0
            clock.move_to(NOW + DAY)
            for _ in range(200):
                if worker.stats.status_changes:
                    break
                await asyncio.sleep(0.05)
            worker.request_stop()
            await task

        asyncio.run(scenario())
    kpi.refresh_from_db()
    assert kpi.status == "red"
    assert StatusChange.objects.filter(kpi=kpi, cause="time").count() == 1
