"""The production stack as subprocesses: ``pulseboard serve --no-worker`` and ``pulseboard worker``.

Both run with production settings (DEBUG off, explicit keys) against a database URL the
test gives; the test then talks to them only over HTTP (API token, signed webhooks, a
logged-in browser session) and reads the database directly with psycopg to check what
was stored. Every process is killed at exit, whatever happened.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from cryptography.fernet import Fernet
from tests.reliability.pg_cluster import free_port

ADMIN_EMAIL = "ops@example.com"
ADMIN_PASSWORD = "reliability-admin-password"


def pulseboard_env(*, database_url: str, data_dir: Path, ca_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEBOARD_") and k != "CI"}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DATABASE_URL=database_url,
        PULSEBOARD_DATA_DIR=str(data_dir),
        PULSEBOARD_SECRET_KEY="reliability-secret-key-not-for-production-0123456789",
        PULSEBOARD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        PULSEBOARD_ALLOW_PRIVATE_CIDRS="127.0.0.1/32",
        PULSEBOARD_CA_BUNDLE=ca_path,
        PULSEBOARD_API_WRITE_RATE="100000/minute",
        PULSEBOARD_LOG_LEVEL="WARNING",
    )
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pulseboard.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"pulseboard {args[0]} failed: {done.stdout}{done.stderr}"
    return done.stdout


class Stack:
    """Migrate, create an admin and an API token, then run the web server and one worker."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.token = ""

    def prepare(self) -> None:
        cli(self.env, "migrate")
        made = cli(
            self.env,
            "createadmin",
            "--email",
            ADMIN_EMAIL,
            "--org",
            "Reliability",
            "--password-stdin",
            stdin=ADMIN_PASSWORD + "\n",
        )
        slug = re.search(r"slug: ([\w-]+)", made)
        assert slug is not None, made
        self.token = cli(
            self.env, "token", "create", "--org", slug.group(1), "--name", "rel", "--scope", "admin"
        ).strip()

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "pulseboard.cli", *args],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def start_server(self, workers: int = 2, threads: int = 4) -> None:
        self._spawn(
            "serve", "serve", "--no-worker", "--port", str(self.port),
            "--workers", str(workers), "--threads", str(threads),
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.processes["serve"].poll() is None, self.log("serve")
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("pulseboard serve did not become ready:\n" + self.log("serve"))

    def start_worker(self, *flags: str) -> subprocess.Popen[bytes]:
        return self._spawn("worker", "worker", *flags)

    def stop(self, name: str, timeout: float = 30) -> int:
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        return process.returncode

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base + "/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def browser(self) -> httpx.Client:
        """A client logged in through the login form, like a person (session cookie)."""
        client = httpx.Client(base_url=self.base, timeout=30)
        page = client.get("/login/")
        field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert field is not None, page.text
        answer = client.post(
            "/login/",
            data={
                "csrfmiddlewaretoken": field.group(1),
                "username": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
            },
        )
        assert answer.status_code == 302, answer.text
        return client

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name in list(self.processes):
            self.stop(name, timeout=15)
        if exc_type is not None:
            # Shown with the failure (captured stdout): what the processes said.
            for name in self.processes:
                print(f"----- {name} log (tail) -----\n{self.log(name)[-6000:]}")


def kpi_create(api: httpx.Client, title: str) -> str:
    answer = api.post("/kpis", json={"title": title, "shape": "stay_above", "threshold": 1})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def bind(api: httpx.Client, kpi_id: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    answer = api.put(f"/kpis/{kpi_id}/source", json={"kind": kind, "config": config})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
