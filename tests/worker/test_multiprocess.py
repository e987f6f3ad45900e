"""Two real ``pulseboard worker`` processes sharing one PostgreSQL database.

PostgreSQL only: scale-out workers coordinate through its row locks (``FOR UPDATE SKIP
LOCKED``) and leases; the embedded SQLite mode runs one worker. The workers are started
as subprocesses against the live test database; a local HTTPS server counts the requests
per source, so "pulled exactly once" is measured where it matters, at the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from tests.factories import KpiFactory, OrganizationFactory
from tests.json_endpoint import Certificates, JsonEndpoint, Reply, make_certificates

from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.core import clock
from pulseboard.indicators.models import Kpi

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="scale-out workers coordinate through PostgreSQL row locks; "
        "the SQLite (embedded) mode runs a single worker",
    ),
    pytest.mark.slow,
    pytest.mark.usefixtures("transactional_db"),
]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(
        certificates.server, default=Reply(body=lambda n: b'{"value": %d}' % n)
    ) as server:
        yield server


def database_url() -> str:
    db = connection.settings_dict
    credentials = quote(str(db["USER"] or ""), safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(str(db["PASSWORD"]), safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or "5432"
    return f"postgresql://{credentials}@{host}:{port}/{db['NAME']}"


class Workers:
    """Starts ``pulseboard worker`` subprocesses and makes sure none outlives the test."""

    def __init__(self, certificates: Certificates, directory: Path) -> None:
        self.directory = directory
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PULSEBOARD_SECRET_KEY": settings.SECRET_KEY,
            "PULSEBOARD_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
            "PULSEBOARD_ALLOW_PRIVATE_CIDRS": "127.0.0.1/32",
            "PULSEBOARD_CA_BUNDLE": certificates.ca_path,
            "PULSEBOARD_DATA_DIR": str(directory / "data"),
            "PULSEBOARD_LOG_LEVEL": "WARNING",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def start(self, *flags: str) -> subprocess.Popen[bytes]:
        log = self.directory / f"worker-{len(self.processes)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "pulseboard.cli", "worker", "--poll-seconds", "0.1", *flags],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        self.logs[process.pid] = log
        return process

    def terminate(self, process: subprocess.Popen[bytes]) -> str:
        """SIGTERM (graceful stop) and return what the worker printed."""
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, self.logs[process.pid].read_text()
        return self.logs[process.pid].read_text()

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def workers(certificates: Certificates, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(certificates, tmp_path)
    try:
        yield started
    finally:
        started.cleanup()


def bind_many(endpoint: JsonEndpoint, prefix: str, count: int, interval: int) -> list[Source]:
    """``count`` https_get sources, each with its own path, due now as a fresh bind leaves them."""
    org = OrganizationFactory()
    kpis = [KpiFactory(org=org) for _ in range(count)]
    now = clock.now()
    sources = list(Source.objects.filter(kpi__in=kpis).order_by("kpi__position"))
    for number, source in enumerate(sources):
        source.kind = "https_get"
        source.config = {"url": endpoint.url(f"/{prefix}/{number}"), "json_path": "$.value"}
        source.interval_seconds = interval
        source.next_pull_at = now
    Source.objects.bulk_update(sources, ["kind", "config", "interval_seconds", "next_pull_at"])
    return sources


def wait_for(check: Callable[[], bool], timeout: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def pulled_count(prefix: str, count: int, endpoint: JsonEndpoint) -> list[int]:
    return [endpoint.count(f"/{prefix}/{n}") for n in range(count)]


def stopped_pulls(output: str) -> int:
    line = next(line for line in output.splitlines() if " stopped: " in line)
    return int(line.split(" stopped: ")[1].split(" pulls")[0])


def test_two_workers_pull_each_of_500_sources_exactly_once_per_interval(
    endpoint: JsonEndpoint, workers: Workers
) -> None:
    count = 500
    sources = bind_many(endpoint, "fleet", count, interval=3600)
    ids = [source.pk for source in sources]
    flags = ("--concurrency", "25", "--batch-size", "25", "--lease-seconds", "30")
    first, second = workers.start(*flags), workers.start(*flags)

    def all_pulled(times: int) -> Callable[[], bool]:
        return lambda: PullAttempt.objects.filter(source_id__in=ids).count() >= count * times

    wait_for(all_pulled(1), what="the first interval's pulls")
    time.sleep(1.0)  # anything pulled twice would show up now
    assert pulled_count("fleet", count, endpoint) == [1] * count
    for source in Source.objects.filter(pk__in=ids):
        attempt = source.attempts.get()
        assert attempt.ok
        assert source.next_pull_at == attempt.started_at + timedelta(seconds=3600)
        assert source.lease_owner == ""

    # The interval has passed: every source is due again, once.
    Source.objects.filter(pk__in=ids).update(next_pull_at=clock.now())
    wait_for(all_pulled(2), what="the second interval's pulls")
    time.sleep(1.0)
    assert pulled_count("fleet", count, endpoint) == [2] * count
    assert Kpi.objects.filter(source__pk__in=ids, current_value=2).count() == count

    shares = [stopped_pulls(workers.terminate(first)), stopped_pulls(workers.terminate(second))]
    assert sum(shares) == 2 * count
    assert all(share > 0 for share in shares), f"one worker did all the work: {shares}"


def test_sources_of_a_worker_killed_mid_batch_are_pulled_by_the_other_after_the_lease(
    endpoint: JsonEndpoint, workers: Workers
) -> None:
    count = 40
    sources = bind_many(endpoint, "orphaned", count, interval=3600)
    ids = [source.pk for source in sources]
    lease = 3.0
    flags = ("--concurrency", "40", "--batch-size", "40", "--lease-seconds", str(lease))
    endpoint.hold()
    try:
        doomed = workers.start(*flags)
        wait_for(
            lambda: sum(pulled_count("orphaned", count, endpoint)) == count,
            what="the first worker's requests",
        )
        leases = dict(Source.objects.filter(pk__in=ids).values_list("pk", "leased_until"))
        owners = set(Source.objects.filter(pk__in=ids).values_list("lease_owner", flat=True))
        assert len(owners) == 1 and f":{doomed.pid}:" in owners.pop()

        survivor = workers.start(*flags)
        time.sleep(1.0)  # the survivor is polling, but every source is leased
        assert pulled_count("orphaned", count, endpoint) == [1] * count

        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        endpoint.release()

    wait_for(
        lambda: PullAttempt.objects.filter(source_id__in=ids, ok=True).count() == count,
        what="the survivor to pull the orphaned sources",
    )
    assert pulled_count("orphaned", count, endpoint) == [2] * count
    for number, source in enumerate(Source.objects.filter(pk__in=ids).order_by("kpi__position")):
        retried = endpoint.hits[f"/orphaned/{number}"][1].at
        lease_end = leases[source.pk]
        assert lease_end is not None
        assert retried >= lease_end.timestamp() - 0.05, "pulled again before the lease ran out"
        assert source.lease_owner == ""
        assert source.consecutive_failures == 0
    assert Kpi.objects.filter(source__pk__in=ids, current_value=2).count() == count
    assert stopped_pulls(workers.terminate(survivor)) == count
