"""The pull worker inside ``pulseboard serve``: a child process the gunicorn master looks after.

Decision: the embedded worker is a separate process (``pulseboard worker --parent-pid``),
started from gunicorn's ``when_ready`` hook and stopped from ``on_exit``, not a thread of
the master. The master forks web processes whenever one is replaced; a thread holding
database connections (and SQLite handles) in the master would hand copies of them to
every fork. A fresh interpreter started with ``subprocess`` shares nothing, runs exactly
the code a scale-out ``pulseboard worker`` runs, and inherits the environment (settings,
and the metrics directory so ``/metrics`` counts its pulls).

A small supervisor thread in the master only starts, watches and restarts that process
(never touching the database); it restarts a crashed worker with a growing delay. The
child stops by itself when the master disappears (its parent pid changes), so even a
SIGKILLed ``serve`` leaves no orphan pulling forever.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

logger = logging.getLogger(__name__)

RESTART_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0)
# A child that ran this long before dying gets the shortest restart delay again.
HEALTHY_RUN_SECONDS: Final = 60.0
STOP_TIMEOUT_SECONDS: Final = 25.0  # the worker's own grace (15 s) plus the write of outcomes


def worker_command(parent_pid: int) -> list[str]:
    return [sys.executable, "-m", "pulseboard.cli", "worker", "--parent-pid", str(parent_pid)]


class EmbeddedWorker:
    """Starts ``command`` as a child process and keeps it running until ``stop``."""

    def __init__(self, command: list[str], *, restart_delays: tuple[float, ...] = RESTART_DELAYS):
        self._command = command
        self._restart_delays = restart_delays
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._supervise, name="pulseboard-worker-supervisor", daemon=True
        )
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            self._process = subprocess.Popen(self._command)
            self.starts += 1
            return self._process

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            process = self._spawn()
            if process is None:
                return
            logger.info("pull worker started (pid %s)", process.pid)
            # gunicorn's master reaps any child on SIGCHLD, so poll() may report 0 for a
            # worker that crashed; either way it is gone and gets restarted.
            while process.poll() is None and not self._stopping.wait(0.5):
                pass
            if self._stopping.is_set():
                return
            failures = 0 if time.monotonic() - started > HEALTHY_RUN_SECONDS else failures + 1
            delay = self._restart_delays[min(max(failures - 1, 0), len(self._restart_delays) - 1)]
            logger.warning(
                "pull worker (pid %s) exited with code %s; restarting in %.0f s",
                process.pid,
                process.returncode,
                delay,
            )
            if self._stopping.wait(delay):
                return

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM the worker (it finishes or releases its pulls), SIGKILL it if it hangs."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("pull worker did not stop within %.0f s; killing it", timeout)
                process.kill()
                process.wait(5)
        if self._thread is not None:
            self._thread.join(5)


def gunicorn_hooks() -> dict[str, Callable[..., Any]]:
    """``when_ready`` starts the worker process beside the web processes; ``on_exit`` stops it."""
    holder: dict[str, EmbeddedWorker] = {}

    def when_ready(server: Any) -> None:
        worker = EmbeddedWorker(worker_command(os.getpid()))
        holder["worker"] = worker
        worker.start()

    def on_exit(server: Any) -> None:
        worker = holder.get("worker")
        if worker is not None:
            worker.stop()

    return {"when_ready": when_ready, "on_exit": on_exit}
