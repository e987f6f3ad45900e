"""``pulseboard import --kpi ID FILE``: the history import of the API, from a shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.cli import cli
from pulseboard.history.models import KpiHistory

pytestmark = pytest.mark.django_db


def csv_file(tmp_path: Path, rows: int, name: str = "history.csv") -> Path:
    path = tmp_path / name
    lines = [f"2024-01-01T00:{m // 60:02d}:{m % 60:02d}Z,{m}" for m in range(rows)]
    path.write_text("observed_at,value\n" + "\n".join(lines) + "\n")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["import", *args])


def test_import_writes_the_rows_shows_progress_and_reports(tmp_path: Path) -> None:
    kpi: Any = KpiFactory(title="Signups")
    result = run("--kpi", kpi.pk, str(csv_file(tmp_path, 2500)))
    assert result.exit_code == 0, result.output
    assert "Imported 2500 of 2500 rows into Signups" in result.output
    assert "it is now the current value" in result.output
    assert "Importing into Signups" in result.output and "2500/2500" in result.output
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2500
    assert set(KpiHistory.objects.values_list("source", flat=True)) == {"manual"}
    (event,) = AuditEvent.objects.filter(action="history.imported")
    assert event.actor_label == "cli"
    kpi.refresh_from_db()
    assert kpi.current_value == 2499.0


def test_a_second_run_skips_what_is_there(tmp_path: Path) -> None:
    kpi: Any = KpiFactory()
    path = csv_file(tmp_path, 10)
    assert run("--kpi", kpi.pk, str(path), "--no-progress").exit_code == 0
    again = run("--kpi", kpi.pk, str(path), "--no-progress")
    assert again.exit_code == 0
    assert "Imported 0 of 10 rows" in again.output and "10 already in history" in again.output
    assert KpiHistory.objects.filter(kpi=kpi).count() == 10


def test_a_bad_file_lists_its_errors_and_writes_nothing(tmp_path: Path) -> None:
    kpi: Any = KpiFactory()
    path = tmp_path / "bad.csv"
    path.write_text("observed_at,value\n2024-01-01 00:00,1\n2024-01-02T00:00:00Z,NaN\n")
    result = run("--kpi", kpi.pk, str(path), "--no-progress")
    assert result.exit_code == 1
    assert "line 2: observed_at '2024-01-01 00:00' needs a UTC offset" in result.output
    assert "line 3: value 'NaN' is not a finite number" in result.output
    assert "the file has 2 errors; nothing was imported" in result.output
    assert not KpiHistory.objects.exists()


def test_an_unknown_kpi_is_refused(tmp_path: Path) -> None:
    result = run("--kpi", "nosuchkpi", str(csv_file(tmp_path, 1)))
    assert result.exit_code == 1 and "no KPI has this id: nosuchkpi" in result.output
    assert run("--kpi", "bad id\x00", str(csv_file(tmp_path, 1))).exit_code == 1


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    kpi: Any = KpiFactory()
    result = run("--kpi", kpi.pk, str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "does not exist" in result.output
