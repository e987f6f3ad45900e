"""A throwaway PostgreSQL cluster that a test can stop (``-m immediate``) and start again.

``initdb`` into a fresh directory, listening only on 127.0.0.1 at a free port. PostgreSQL
refuses to run as root, so as root every server command runs as the ``postgres`` user
(``runuser``) on a directory owned by it. ``unavailable_reason`` says why a cluster cannot
be made here (no binaries, root without a ``postgres`` user); callers skip with it, or fail
when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(SERVER_USER)


def unavailable_reason() -> str | None:
    """Why no throwaway cluster can be started on this machine, or None when one can."""
    missing = [name for name in ("initdb", "pg_ctl") if not (PG_BIN / name).is_file()]
    if missing:
        return f"PostgreSQL 15 binaries missing in {PG_BIN}: {', '.join(missing)}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no '{SERVER_USER}' user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and `runuser` is missing (needed to run PostgreSQL as postgres)"
    return None


class Cluster:
    """``with Cluster() as pg:`` initdb + start; ``stop()``/``start()`` at will; removed at exit."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not pytest's tmp_path: its parents are private to root, and the server user must
        # be able to reach its data directory.
        self.root = Path(tempfile.mkdtemp(prefix="pb-rel-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._user = _server_user()
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self._user is not None else []
        done = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stdout}{done.stderr}\n"
                f"server log: {self.log.read_text() if self.log.exists() else '(none)'}"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> float:
        """Start the server and wait until it accepts connections; returns the seconds taken."""
        began = time.monotonic()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return time.monotonic() - began

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: every backend is killed at once, like a crash; no checkpoint."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
        except psycopg.Error:
            return False
        return True

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> Cluster:
        try:
            self.init()
            self.start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
