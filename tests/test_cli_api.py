"""The CLI's API companions: ``token create`` (printed once) and ``export`` (streamed history)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.cli import cli
from pulseboard.history.models import KpiHistory
from pulseboard.orgs.models import ApiToken

pytestmark = pytest.mark.django_db
T0 = datetime.fromisoformat("2025-03-01T00:00:00+00:00")


def _run(*args: str) -> Any:
    # mix_stderr is gone in Click 8.2: stdout and stderr are separate attributes.
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("scope", ["admin", "read"])
def test_token_create_prints_the_token_once_and_stores_its_hash(scope: str) -> None:
    org = OrganizationFactory(slug="acme")
    result = _run("token", "create", "--org", "acme", "--name", "ci", "--scope", scope)
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    stored = ApiToken.objects.get(org=org)
    assert (stored.name, stored.scope) == ("ci", scope)
    assert stored.token_digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert "shown once" in result.stderr and plaintext not in result.stderr
    answer = ApiClient(plaintext).get("/tokens")
    assert answer.status_code == (200 if scope == "admin" else 403)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--org", "nope", "--name", "x", "--scope", "read"], "no organization"),
        (["--org", "acme", "--name", " ", "--scope", "read"], "name"),
        (["--org", "acme", "--name", "x", "--scope", "root"], "root"),
    ],
)
def test_token_create_refuses_bad_input(args: list[str], says: str) -> None:
    OrganizationFactory(slug="acme")
    result = _run("token", "create", *args)
    assert result.exit_code != 0 and says in result.output
    assert not ApiToken.objects.exists()


@pytest.fixture
def kpi() -> Any:
    kpi = KpiFactory(org=OrganizationFactory(slug="acme"), title="Uptime")
    KpiHistory.objects.bulk_create(
        KpiHistory(
            org=kpi.org,
            kpi=kpi,
            value=float(i),
            observed_at=T0 + timedelta(hours=i),
            recorded_at=T0,
            status="green",
            source="api",
        )
        for i in range(1200)
    )
    return kpi


def test_export_csv_to_stdout(kpi: Any) -> None:
    result = _run("export", "--org", "acme", "--kpi", kpi.pk)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:2] == ["observed_at", "value"] and len(rows) == 1201
    assert float(rows[-1][1]) == 1199.0


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_to_file_with_range_counts_rows(kpi: Any, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"
    result = _run(
        "export", "--org", "acme", "--kpi", kpi.pk, "--format", fmt, "--output", str(target),
        "--since", "2025-03-01T10:00:00", "--until", "2025-03-02T10:00:00+00:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 24 rows" in result.stderr and "24/24" in result.stderr  # tqdm's bar
    text = target.read_text()
    if fmt == "csv":
        values = [float(r[1]) for r in list(csv.reader(io.StringIO(text)))[1:]]
    else:
        values = [row["value"] for row in json.loads(text)["history"]]
    assert values == [float(i) for i in range(10, 34)]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--org", "other"], "no organization"),
        (["--org", "acme", "--since", "last tuesday"], "ISO 8601"),
        (["--org", "acme", "--format", "xml"], "xml"),
    ],
)
def test_export_refuses_bad_input(kpi: Any, args: list[str], says: str) -> None:
    result = _run("export", "--kpi", kpi.pk, *args)
    assert result.exit_code != 0 and says in result.output


def test_export_never_reads_another_orgs_kpi(kpi: Any) -> None:
    OrganizationFactory(slug="other")
    result = _run("export", "--org", "other", "--kpi", kpi.pk)
    assert result.exit_code != 0 and "KPI not found" in result.output
