"""Worker faults: SIGTERM mid-batch, and wall-clock jumps under a running worker.

SIGKILL mid-batch (leases run out, another worker takes over) is covered by
``tests/worker/test_multiprocess.py``; this file adds the graceful stop of a real
``pulseboard worker`` process (PostgreSQL, the scale-out mode where standalone workers
run) and clock jumps. The clock jumps run an in-process ``Worker`` under time-machine on
SQLite and PostgreSQL: NTP steps the wall clock, which leases, due times and back-off are
computed from, while asyncio's timers (monotonic) keep running. A local HTTPS server
counts every request per source, so "pulled twice" is measured where it matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from tests.factories import KpiFactory, OrganizationFactory
from tests.json_endpoint import Certificates, JsonEndpoint, Reply, make_certificates
from tests.worker.test_multiprocess import database_url

from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.core import clock
from pulseboard.core.safe_http import SafeFetchPolicy
from pulseboard.worker.runner import Worker, WorkerOptions, WorkerStats

LOOPBACK = (ipaddress.IPv4Network("127.0.0.1/32"),)
INTERVAL = 3600

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(
        certificates.server, default=Reply(body=lambda n: b'{"value": %d}' % n)
    ) as server:
        yield server


@pytest.fixture
def policy(certificates: Certificates) -> SafeFetchPolicy:
    return SafeFetchPolicy(allow_private=LOOPBACK, ca_bundle=certificates.ca_path)


def bind_many(endpoint: JsonEndpoint, prefix: str, count: int) -> list[str]:
    """``count`` https_get sources due now, one path each; returns their ids."""
    org = OrganizationFactory()
    kpis = [KpiFactory(org=org) for _ in range(count)]
    now = clock.now()
    sources = list(Source.objects.filter(kpi__in=kpis).order_by("kpi__position", "pk"))
    for number, source in enumerate(sources):
        source.kind = "https_get"
        source.config = {"url": endpoint.url(f"/{prefix}/{number}"), "json_path": "$.value"}
        source.interval_seconds = INTERVAL
        source.next_pull_at = now
    Source.objects.bulk_update(sources, ["kind", "config", "interval_seconds", "next_pull_at"])
    return [source.pk for source in sources]


def hits(endpoint: JsonEndpoint, prefix: str, count: int) -> list[int]:
    return [endpoint.count(f"/{prefix}/{n}") for n in range(count)]


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def worker(policy: SafeFetchPolicy, owner: str, **overrides: Any) -> Worker:
    options: dict[str, Any] = {"poll_seconds": 0.05, "lease_seconds": 5.0, **overrides}
    return Worker(WorkerOptions(owner=owner, policy=policy, **options))


# --- SIGTERM: a real worker process stops gracefully ----------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="standalone `pulseboard worker` processes are the PostgreSQL scale-out mode; "
    "the embedded worker's SIGTERM is covered by tests/worker/test_embedded.py",
)
def test_sigterm_mid_batch_finishes_quick_pulls_and_releases_the_leases_of_the_rest(
    endpoint: JsonEndpoint, certificates: Certificates, tmp_path: Path
) -> None:
    quick, stuck = 6, 6
    quick_ids = bind_many(endpoint, "quick", quick)
    stuck_ids = bind_many(endpoint, "stuck", stuck)
    for n in range(quick):
        endpoint.replies[f"/quick/{n}"] = Reply(body=b'{"value": 5}', delay=0.5)
    for n in range(stuck):
        endpoint.replies[f"/stuck/{n}"] = Reply(body=b'{"value": 9}', delay=30)
    due_before = dict(Source.objects.filter(pk__in=stuck_ids).values_list("pk", "next_pull_at"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PULSEBOARD_SECRET_KEY": settings.SECRET_KEY,
        "PULSEBOARD_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "PULSEBOARD_ALLOW_PRIVATE_CIDRS": "127.0.0.1/32",
        "PULSEBOARD_CA_BUNDLE": certificates.ca_path,
        "PULSEBOARD_DATA_DIR": str(tmp_path / "data"),
        "PULSEBOARD_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "pulseboard.cli", "worker", "--poll-seconds", "0.1",
                "--lease-seconds", "600", "--grace-seconds", "3",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while sum(hits(endpoint, "quick", quick)) + sum(hits(endpoint, "stuck", stuck)) < 12:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        owners = set(
            Source.objects.filter(pk__in=quick_ids + stuck_ids).values_list(
                "lease_owner", flat=True
            )
        )
        assert len(owners) == 1 and f":{process.pid}:" in owners.pop()
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
        took = time.monotonic() - stopping
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    output_text = log.read_text()
    stopped = re.search(
        r"stopped: (\d+) pulls \((\d+) ok, (\d+) failed\), (\d+) leases", output_text
    )
    assert stopped is not None, output_text
    assert stopped.groups() == (str(quick), str(quick), "0", str(stuck))
    assert took < 10, "the grace period (3 s) was not respected"
    assert PullAttempt.objects.filter(source_id__in=quick_ids, ok=True).count() == quick
    assert not PullAttempt.objects.filter(source_id__in=stuck_ids).exists()
    for source in Source.objects.filter(pk__in=quick_ids + stuck_ids):
        assert (source.lease_owner, source.leased_until) == ("", None)
    for source in Source.objects.filter(pk__in=stuck_ids):
        # Still due: the next worker takes them now, not when a 600 s lease runs out.
        assert source.next_pull_at == due_before[source.pk]


# --- clock jumps ------------------------------------------------------------------------------


def test_clock_jumping_past_the_lease_mid_pull_does_not_pull_a_source_twice(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    count = 8
    ids = bind_many(endpoint, "slow", count)
    for n in range(count):
        endpoint.replies[f"/slow/{n}"] = Reply(body=b'{"value": 3}', delay=1.0)

    with time_machine.travel(clock.now(), tick=True) as traveller:

        async def scenario() -> WorkerStats:
            running = worker(policy, "jumper", lease_seconds=5.0)
            task = asyncio.create_task(running.run())
            await until(lambda: sum(hits(endpoint, "slow", count)) == count)
            # NTP steps the clock 10 minutes ahead while every pull is in flight: the
            # leases look expired, but the pulls are still running.
            traveller.shift(timedelta(minutes=10))
            await asyncio.sleep(2.0)  # the pulls end; the worker keeps polling meanwhile
            running.request_stop()
            return await task

        stats = asyncio.run(scenario())

    assert hits(endpoint, "slow", count) == [1] * count
    assert (stats.pulls, stats.ok) == (count, count)
    assert PullAttempt.objects.filter(source_id__in=ids).count() == count
    for source in Source.objects.filter(pk__in=ids):
        assert (source.lease_owner, source.leased_until) == ("", None)
        attempt = source.attempts.get()
        assert source.next_pull_at == attempt.started_at + timedelta(seconds=INTERVAL)


def test_clock_jumping_back_mid_pull_leaves_no_source_stuck_under_a_lease(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    count = 6
    ids = bind_many(endpoint, "back", count)
    for n in range(count):
        endpoint.replies[f"/back/{n}"] = Reply(body=b'{"value": 4}', delay=0.5)

    with time_machine.travel(clock.now(), tick=True) as traveller:

        async def scenario() -> WorkerStats:
            running = worker(policy, "rewinder", lease_seconds=5.0)
            task = asyncio.create_task(running.run())
            await until(lambda: sum(hits(endpoint, "back", count)) == count)
            traveller.shift(-timedelta(hours=2))
            await asyncio.sleep(1.5)
            running.request_stop()
            return await task

        stats = asyncio.run(scenario())
        rewound_now = clock.now()

        # Every lease was given back when its pull was recorded, although by the rewound
        # clock each one still had two hours to run.
        sources = list(Source.objects.filter(pk__in=ids))
        assert all((s.lease_owner, s.leased_until) == ("", None) for s in sources)
        assert stats.ok == count
        # Due one interval after the pull started (by the clock of then): late by the size
        # of the jump at most, never never.
        for source in sources:
            assert source.next_pull_at is not None
            wait = source.next_pull_at - rewound_now
            assert (
                timedelta(0) < wait <= timedelta(seconds=INTERVAL) + timedelta(hours=2, seconds=5)
            )

        traveller.move_to(
            max(s.next_pull_at for s in sources if s.next_pull_at) + timedelta(seconds=1)
        )
        again = asyncio.run(worker(policy, "rewinder-2", once=True).run())

    assert again.ok == count
    assert hits(endpoint, "back", count) == [2] * count


def test_clock_jumping_ahead_many_intervals_pulls_each_source_once_not_once_per_interval(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    count = 10
    ids = bind_many(endpoint, "ahead", count)
    with time_machine.travel(clock.now(), tick=True) as traveller:
        first = asyncio.run(worker(policy, "sleeper", once=True).run())
        assert first.ok == count
        # The machine was suspended for a day (24 intervals): each source is due once.
        traveller.shift(timedelta(days=1))
        woke = clock.now()
        second = asyncio.run(worker(policy, "sleeper", once=True).run())
        third = asyncio.run(worker(policy, "sleeper", once=True).run())

    assert (second.ok, third.pulls) == (count, 0)
    assert hits(endpoint, "ahead", count) == [2] * count
    for source in Source.objects.filter(pk__in=ids):
        assert source.next_pull_at is not None
        # The cadence restarts from the catch-up pull; no backlog of missed intervals.
        assert source.next_pull_at - woke >= timedelta(seconds=INTERVAL - 5)
        assert source.next_pull_at - woke <= timedelta(seconds=INTERVAL + 60)
