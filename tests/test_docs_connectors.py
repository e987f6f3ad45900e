"""The webhook examples of docs/connectors.md, run as written against a live server.

The shell example runs in bash with the real curl and openssl, the Python example in
this interpreter, the ``pulseboard push`` line with this virtualenv's command. Each
reads the endpoint and the secret from the environment, as the docs say. The docs'
copies must also equal the examples the source page shows (``connectors.examples``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.connectors.signing import bind_webhook
from tests.factories import KpiFactory

from pulseboard.connectors.examples import CURL_EXAMPLE, PYTHON_EXAMPLE
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi

DOC = Path(__file__).resolve().parents[1] / "docs" / "connectors.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
PLACEHOLDER_EXPORTS = "export PULSEBOARD_WEBHOOK_URL="
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def webhook_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## Webhook\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(lang: str) -> list[str]:
    return [m["code"] for m in FENCE.finditer(webhook_section()) if m["lang"] == lang]


def runnable_shell_blocks() -> list[str]:
    return [code for code in blocks("sh") if not code.startswith(PLACEHOLDER_EXPORTS)]


def test_the_docs_show_the_examples_the_source_page_shows() -> None:
    assert CURL_EXAMPLE in runnable_shell_blocks()
    assert blocks("python") == [PYTHON_EXAMPLE]


def test_every_runnable_example_of_the_webhook_section_is_run_below() -> None:
    push_lines = [code for code in runnable_shell_blocks() if code.startswith("pulseboard push")]
    assert sorted(runnable_shell_blocks()) == sorted([CURL_EXAMPLE, *push_lines])
    assert len(push_lines) == 1


@pytest.fixture
def kpi(transactional_db: None) -> Kpi:
    return KpiFactory()


@pytest.fixture
def sender_env(kpi: Kpi, live_server: Any) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PULSEBOARD_WEBHOOK_URL": f"{live_server.url}/hooks/kpis/{kpi.pk}",
        "PULSEBOARD_WEBHOOK_SECRET": bind_webhook(kpi),
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def recorded(kpi: Kpi) -> list[float]:
    return list(KpiHistory.objects.filter(kpi=kpi).values_list("value", flat=True))


needs_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "curl", "openssl", "od")),
    reason="the shell example needs bash, curl, openssl and od",
)


@needs_tools
def test_the_curl_and_openssl_example_delivers_a_value(
    kpi: Kpi, sender_env: dict[str, str]
) -> None:
    done = run(["bash", "-euo", "pipefail", "-c", CURL_EXAMPLE], sender_env)
    assert done.returncode == 0, done.stderr
    assert '"accepted": true' in done.stdout
    assert recorded(kpi) == [12.5]


@needs_tools
def test_the_curl_example_fails_loudly_with_a_wrong_secret(
    kpi: Kpi, sender_env: dict[str, str]
) -> None:
    env = {**sender_env, "PULSEBOARD_WEBHOOK_SECRET": OTHER_SECRET}
    done = run(["bash", "-euo", "pipefail", "-c", CURL_EXAMPLE], env)
    assert done.returncode != 0
    assert "signature does not match" in done.stdout
    assert recorded(kpi) == []


def test_the_python_example_delivers_a_value(kpi: Kpi, sender_env: dict[str, str]) -> None:
    done = run([sys.executable, "-c", PYTHON_EXAMPLE], sender_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("200 ")
    assert recorded(kpi) == [12.5]


def test_the_python_example_raises_on_a_wrong_secret(kpi: Kpi, sender_env: dict[str, str]) -> None:
    env = {**sender_env, "PULSEBOARD_WEBHOOK_SECRET": OTHER_SECRET}
    done = run([sys.executable, "-c", PYTHON_EXAMPLE], env)
    assert done.returncode != 0
    assert done.stdout.startswith("401 ")
    assert recorded(kpi) == []


def test_the_pulseboard_push_example_delivers_a_value(kpi: Kpi, sender_env: dict[str, str]) -> None:
    (push_line,) = [c for c in runnable_shell_blocks() if c.startswith("pulseboard push")]
    done = run(["bash", "-c", push_line], sender_env)
    assert done.returncode == 0, done.stderr
    assert "accepted: 12.5" in done.stdout
    assert recorded(kpi) == [12.5]
