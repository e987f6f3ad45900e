"""The worker inside ``pulseboard serve``: a supervised child process, stopped with SIGTERM.

The supervision rules run against tiny stand-in commands; the last tests start the real
``pulseboard worker`` child against the test database (SQLite or PostgreSQL) and a local
HTTPS server, then stop it the way ``serve`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from tests.factories import KpiFactory
from tests.json_endpoint import Certificates, JsonEndpoint, make_certificates

from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.core import clock
from pulseboard.worker.embedded import EmbeddedWorker, gunicorn_hooks, worker_command


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_crashed_worker_is_started_again() -> None:
    supervisor = EmbeddedWorker(python("raise SystemExit(3)"), restart_delays=(0.05,))
    supervisor.start()
    try:
        wait_for(lambda: supervisor.starts >= 3)
    finally:
        supervisor.stop(timeout=5)


def test_stop_sends_sigterm_and_waits_for_the_worker_to_finish(tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    code = (
        "import signal, sys, time, pathlib\n"
        "def stop(*_):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('graceful')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "time.sleep(60)\n"
    )
    supervisor = EmbeddedWorker(python(code), restart_delays=(0.05,))
    supervisor.start()
    wait_for(lambda: supervisor.pid is not None)
    time.sleep(0.5)  # let the child install its handler
    supervisor.stop(timeout=10)
    assert marker.read_text() == "graceful"
    assert supervisor.starts == 1


def test_a_worker_ignoring_sigterm_is_killed_after_the_timeout() -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n"
    supervisor = EmbeddedWorker(python(code))
    supervisor.start()
    wait_for(lambda: supervisor.pid is not None)
    time.sleep(0.5)
    pid = supervisor.pid
    supervisor.stop(timeout=0.5)
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_gunicorn_hooks_start_on_ready_and_stop_on_exit() -> None:
    hooks = gunicorn_hooks()
    assert set(hooks) == {"when_ready", "on_exit"}
    hooks["on_exit"](None)  # before when_ready: nothing to stop, no error


def test_the_embedded_command_is_the_scale_out_worker_watching_its_parent() -> None:
    command = worker_command(4242)
    assert command[:4] == [sys.executable, "-m", "pulseboard.cli", "worker"]
    assert command[-2:] == ["--parent-pid", "4242"]


# --- the real worker process --------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(certificates.server) as server:
        yield server


@pytest.fixture
def worker_env(
    transactional_db: None,
    certificates: Certificates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Point child processes at this test database, as ``serve``'s environment would."""
    db = connection.settings_dict
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if connection.vendor == "sqlite":
        # The embedded database lives at <data dir>/pulseboard.sqlite3.
        (data_dir / "pulseboard.sqlite3").symlink_to(db["NAME"])
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        user = quote(str(db["USER"] or ""), safe="")
        if db["PASSWORD"]:
            user += ":" + quote(str(db["PASSWORD"]), safe="")
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or "5432"
        monkeypatch.setenv("DATABASE_URL", f"postgresql://{user}@{host}:{port}/{db['NAME']}")
    monkeypatch.setenv("PULSEBOARD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PULSEBOARD_SECRET_KEY", settings.SECRET_KEY)
    monkeypatch.setenv("PULSEBOARD_ENCRYPTION_KEYS", ",".join(settings.ENCRYPTION_KEYS))
    monkeypatch.setenv("PULSEBOARD_ALLOW_PRIVATE_CIDRS", "127.0.0.1/32")
    monkeypatch.setenv("PULSEBOARD_CA_BUNDLE", certificates.ca_path)
    monkeypatch.setenv("PULSEBOARD_WORKER_POLL_SECONDS", "0.1")
    monkeypatch.setenv("PULSEBOARD_LOG_LEVEL", "WARNING")


def https_source(endpoint: JsonEndpoint, path: str, *, due_in: float = 0) -> Source:
    kpi = KpiFactory()
    Source.objects.filter(kpi=kpi).update(
        kind="https_get",
        config={"url": endpoint.url(path), "json_path": "$.value"},
        next_pull_at=clock.now() + timedelta(seconds=due_in),
    )
    return Source.objects.get(kpi=kpi)


@pytest.mark.usefixtures("worker_env")
def test_embedded_worker_pulls_and_on_sigterm_finishes_the_pull_in_flight(
    endpoint: JsonEndpoint,
) -> None:
    pulled = https_source(endpoint, "/embedded/ok")
    held = https_source(endpoint, "/embedded/held", due_in=3600)
    supervisor = EmbeddedWorker(worker_command(os.getpid()))
    supervisor.start()
    stopper = threading.Thread(target=supervisor.stop)
    try:
        wait_for(lambda: PullAttempt.objects.filter(source=pulled).exists(), timeout=60)
        assert Source.objects.get(pk=pulled.pk).last_success_at is not None

        endpoint.hold()
        Source.objects.filter(pk=held.pk).update(next_pull_at=clock.now())
        wait_for(lambda: endpoint.count("/embedded/held") == 1)
        pid = supervisor.pid
        stopper.start()  # serve's on_exit: SIGTERM, then wait for the worker
        time.sleep(1.0)
        assert pid is not None
        os.kill(pid, 0)  # still alive: waiting for the pull in flight
        endpoint.release()
        stopper.join(30)
        assert not stopper.is_alive()
    finally:
        endpoint.release()
        supervisor.stop(timeout=5)
    source = Source.objects.get(pk=held.pk)
    assert (source.lease_owner, source.leased_until) == ("", None)
    assert source.last_success_at is not None
    assert PullAttempt.objects.get(source=held).ok


@pytest.mark.usefixtures("worker_env")
def test_worker_stops_by_itself_when_its_parent_is_gone() -> None:
    # A pid that is not our parent stands for a master that died (we were re-parented).
    result = subprocess.run(
        [*worker_command(os.getpid())[:-1], "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "stopped: 0 pulls" in result.stderr
