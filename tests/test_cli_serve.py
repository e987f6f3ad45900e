"""``pulseboard serve`` end to end (issue 12 items 3, 8, 12): the real server on a free port.

Without ``PULSEBOARD_BASE_URL`` the links a served page or mail carries name the port
``serve`` listens on, not the default 8000. The test runs ``serve`` (gunicorn) in a
subprocess with e-mail pointed at an SMTP server it starts on 127.0.0.1, asks for a
password reset over HTTP, completes it with the link from the received mail, and checks
that a too-long API URL is answered in the API's JSON shape by the real server stack.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.smtp_server import Inbox, free_port, smtp_server

from pulseboard.core.request_guard import MAX_URI_LENGTH

pytestmark = pytest.mark.slow

ADMIN_EMAIL = "ops@example.com"
ADMIN_PASSWORD = "serve-test-admin-password"
NEW_PASSWORD = "a-brand-new-passphrase"


def pulseboard_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PULSEBOARD_")
        and key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(PULSEBOARD_DATA_DIR=str(data_dir), PULSEBOARD_LOG_LEVEL="WARNING", **settings)
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pulseboard.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"pulseboard {args[0]}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[tuple[str, Path]]:
    """``pulseboard serve --port <free>`` with no PULSEBOARD_BASE_URL; yields its URL and log."""
    tmp_path = tmp_path_factory.mktemp("serve")
    env = pulseboard_env(
        tmp_path,
        PULSEBOARD_EMAIL_URL=inbox.url(),
        PULSEBOARD_EMAIL_FROM="Pulseboard <kpi@example.com>",
    )
    cli(env, "migrate")
    cli(
        env,
        "createadmin",
        "--email",
        ADMIN_EMAIL,
        "--org",
        "Serve",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    port = free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "pulseboard.cli", "serve", "--no-worker"]
    command += ["--port", str(port), "--workers", "1", "--threads", "2"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError("serve did not answer:\n" + log.read_text())
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def csrf_post(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found is not None
    return client.post(path, data={**data, "csrfmiddlewaretoken": found.group(1)})


def test_serve_derives_links_from_its_port_and_the_mailed_reset_link_works(
    served: tuple[str, Path], inbox: Inbox
) -> None:
    base, log = served
    assert f"use {base}/" in log.read_text()  # serve says which URL links use
    with httpx.Client(base_url=base, timeout=30) as browser:
        asked = csrf_post(browser, "/password-reset/", {"email": ADMIN_EMAIL})
        assert asked.status_code == 302, asked.text[:500]
        assert asked.headers["location"] == "/password-reset/sent/"
        link = inbox.link(r"http://\S+/password-reset/[^/\s]+/[^/\s]+/")
        assert link.startswith(f"{base}/password-reset/"), link  # not :8000
        chosen = browser.get(link.removeprefix(base))
        assert chosen.status_code == 302
        done = csrf_post(
            browser,
            chosen.headers["location"],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert done.status_code == 302
        assert done.headers["location"] == "/password-reset/done/"
    with httpx.Client(base_url=base, timeout=30) as browser:
        login = csrf_post(browser, "/login/", {"username": ADMIN_EMAIL, "password": NEW_PASSWORD})
        assert login.status_code == 302 and login.headers["location"] == "/"


def test_the_real_server_answers_a_too_long_api_url_in_json(served: tuple[str, Path]) -> None:
    base, _ = served
    response = httpx.get(f"{base}/api/v1/kpis?q=" + "x" * (MAX_URI_LENGTH + 100), timeout=30)
    assert response.status_code == 414
    assert response.json() == {"detail": f"the URL is longer than {MAX_URI_LENGTH} characters"}
