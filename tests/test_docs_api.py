"""docs/api.md and docs/kpis.md cannot rot: their curl and httpx examples run against a live
server, and every operation of the served OpenAPI schema has a section in docs/api.md.

Each fenced ``bash`` or ``python`` block is one script; it reads PULSEBOARD_URL,
PULSEBOARD_TOKEN (an admin token) and PULSEBOARD_KPI (a published KPI with
history) and must exit 0 (curl runs with ``--fail-with-body``, Python with
``raise_for_status`` and asserts).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.api import api
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.orgs.services import token_create

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOC = DOCS / "api.md"
# Guides whose examples run the same way (the admins' guide to KPIs in depth).
GUIDES = [DOCS / "kpis.md"]
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNNERS = {"bash": ["bash", "-euo", "pipefail", "-c"], "python": [sys.executable, "-c"]}
EXAMPLES = [
    pytest.param(language, code, id=f"{language}: {code.splitlines()[0].lstrip('# ')}")
    for language, code in BLOCK.findall(DOC.read_text())
]
GUIDE_EXAMPLES = [
    pytest.param(language, code, id=f"{doc.name} {language}: {code.splitlines()[0].lstrip('# ')}")
    for doc in GUIDES
    if doc.exists()
    for language, code in BLOCK.findall(doc.read_text())
]


def test_docs_have_curl_and_httpx_examples() -> None:
    languages = [param.values[0] for param in EXAMPLES]
    assert languages.count("bash") >= 5 and languages.count("python") >= 4
    assert all("curl" in p.values[1] for p in EXAMPLES if p.values[0] == "bash")
    assert all("httpx" in p.values[1] for p in EXAMPLES if p.values[0] == "python")


def test_every_operation_of_the_schema_has_a_section() -> None:
    text = DOC.read_text()
    missing = []
    for path, methods in api.get_openapi_schema()["paths"].items():
        documented = re.sub(r"\{\w+\}", "{id}", path.removeprefix("/api/v1"))
        missing += [
            f"{method.upper()} {documented}"
            for method in methods
            if f"`{method.upper()} {documented}`" not in text
        ]
    assert not missing, f"docs/api.md has no section for: {missing}"


@pytest.fixture
def environment(live_server: Any, tmp_path: Path) -> dict[str, str]:
    org = OrganizationFactory()
    kpi = KpiFactory(org=org, title="Uptime", unit_type="percentage", threshold=99.9)
    actor, now = Actor.system("docs"), timezone.now()
    for days in (30, 7, 1):  # audited writes, so the audit examples have pages to walk
        when = now - timedelta(days=days)
        value_record(kpi=kpi, value=99.9 + days / 100, observed_at=when, source="api", actor=actor)
    _, token = token_create(org=org, actor=actor, name="docs", scope="admin")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PULSEBOARD_URL": live_server.url,
        "PULSEBOARD_TOKEN": token,
        "PULSEBOARD_KPI": kpi.pk,
    }


def test_the_kpis_guide_has_examples_that_call_the_api() -> None:
    assert GUIDE_EXAMPLES, "docs/kpis.md shows the API at work"
    assert all("curl" in p.values[1] for p in GUIDE_EXAMPLES if p.values[0] == "bash")
    assert all("httpx" in p.values[1] for p in GUIDE_EXAMPLES if p.values[0] == "python")


@pytest.mark.parametrize(("language", "code"), EXAMPLES + GUIDE_EXAMPLES)
def test_example_runs_against_a_live_server(
    environment: dict[str, str], tmp_path: Path, language: str, code: str
) -> None:
    result = subprocess.run(
        [*RUNNERS[language], code],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stdout.strip(), "an example should show what it got"
