"""pulseboard backup: a consistent, restorable snapshot, even while the server writes."""

from __future__ import annotations

import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.maintenance.installation import (
    WEBHOOK_SECRET,
    Installation,
    PairWriter,
    writer_numbers,
)

from pulseboard.maintenance.backup import BackupFailed, backup_sqlite, default_backup_path

RESTORED_CHECK = r"""
import sys

import django

django.setup()
from pulseboard.connectors.models import Source
from pulseboard.core.crypto import cipher
from pulseboard.history.models import KpiHistory

print(cipher().decrypt(Source.objects.get(pk=sys.argv[1]).secret_encrypted))
print(KpiHistory.objects.count())
"""


def tables(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def contents(db: sqlite3.Connection, table: str, where: str = "") -> Counter[tuple[Any, ...]]:
    return Counter(db.execute(f'SELECT * FROM "{table}" {where}').fetchall())


def test_backup_during_writes_is_a_consistent_snapshot_that_restores(
    installation_factory: Callable[..., Installation], tmp_path: Path
) -> None:
    installation = installation_factory()
    writer = PairWriter(installation.database)
    writer.start()
    assert writer.first_commit.wait(timeout=30)
    made = backup_sqlite(database=installation.database, output=tmp_path / "snap.sqlite3")
    at_backup = writer.committed
    while writer.committed < at_backup + 5 and writer.is_alive():
        writer.stop.wait(0.01)
    writer.finish()

    with sqlite3.connect(made.path) as snap, sqlite3.connect(installation.database) as live:
        assert snap.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        history, audit = writer_numbers(lambda query: snap.execute(query).fetchall())
        # Every transaction whole and in order: both rows of the first N, nothing else.
        in_snapshot = len(history)
        assert history == audit == list(range(1, in_snapshot + 1))
        assert 1 <= in_snapshot <= at_backup + 1 < writer.committed
        assert tables(snap) == tables(live)
        # The AUTOINCREMENT counters moved on with the writer; in the snapshot they
        # must agree with the snapshot's own rows.
        for table in ("kpi_history", "audit_auditevent"):
            (counter,) = snap.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
            ).fetchone()
            assert snap.execute(f'SELECT max(id) FROM "{table}"').fetchone() == (counter,)
        later = {
            "kpi_history": f"WHERE NOT (status = 'writer' AND value > {in_snapshot})",
            "audit_auditevent": (
                f"WHERE NOT (action = 'test.writer' AND CAST(target_id AS INTEGER) > {in_snapshot})"
            ),
        }
        for table in set(tables(live)) - {"sqlite_sequence"}:
            expected = contents(live, table, later.get(table, ""))
            assert contents(snap, table) == expected, table

    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(made.path, restored / "pulseboard.sqlite3")
    for key_file in ("secret_key", "encryption_keys"):
        shutil.copy(installation.data_dir / key_file, restored / key_file)
    check = subprocess.run(
        [sys.executable, "-c", RESTORED_CHECK, installation.webhook_source_id],
        env=Installation(data_dir=restored, webhook_source_id="").env(
            DJANGO_SETTINGS_MODULE="pulseboard.config.settings"
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    with sqlite3.connect(made.path) as snap:
        (history_rows,) = snap.execute("SELECT count(*) FROM kpi_history").fetchone()
    assert check.stdout.split() == [WEBHOOK_SECRET, str(history_rows)]


@pytest.fixture
def installation(installation_factory: Callable[..., Installation]) -> Installation:
    return installation_factory()


def test_backup_cli_writes_a_private_timestamped_file_in_the_data_dir_and_prints_its_path(
    installation: Installation,
) -> None:
    result = installation.run("backup")
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.parent == (installation.data_dir / "backups").resolve()
    assert re.fullmatch(r"pulseboard-\d{8}T\d{6}Z\.sqlite3", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # One self-contained file: no WAL beside it, no partial left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert db.execute("SELECT count(*) FROM indicators_kpi").fetchone()[0] > 0
    assert "encryption_keys" in result.stderr
    assert all(key not in result.stdout + result.stderr for key in installation.keys)


def test_backup_refuses_to_overwrite_an_existing_file(
    installation: Installation, tmp_path: Path
) -> None:
    existing = tmp_path / "keep.sqlite3"
    existing.write_text("precious")
    result = installation.run("backup", "--output", str(existing))
    assert result.returncode != 0 and "exists already" in result.stderr
    assert existing.read_text() == "precious"


def test_backup_of_a_data_dir_without_database_fails_clearly(tmp_path: Path) -> None:
    result = Installation(data_dir=tmp_path, webhook_source_id="").run("backup")
    assert result.returncode != 0 and "no database" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "backups").exists() or not any((tmp_path / "backups").iterdir())


def test_backup_in_postgresql_mode_prints_pg_dump_guidance_and_fails(tmp_path: Path) -> None:
    result = Installation(data_dir=tmp_path, webhook_source_id="").run(
        "backup",
        DATABASE_URL="postgresql://pb:s3cret-pw@db.internal:6432/pulseboard",
        PULSEBOARD_SECRET_KEY="k" * 60,
        PULSEBOARD_ENCRYPTION_KEYS="x1vNjyq8YwqG0yKk1pZrZsbq2Lq3kq6Zc2eXl3Rk2bU=",
    )
    assert result.returncode != 0
    assert "pg_dump --host=db.internal --port=6432 --username=pb --format=custom" in result.stderr
    assert "pulseboard" in result.stderr and "pg_restore" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_failed_backup_leaves_no_file_behind(tmp_path: Path) -> None:
    database = tmp_path / "not-a-database.sqlite3"
    database.write_bytes(b"this is not SQLite" * 100)
    output = tmp_path / "out.sqlite3"
    with pytest.raises(BackupFailed, match="failed"):
        backup_sqlite(database=database, output=output)
    assert sorted(p.name for p in tmp_path.iterdir()) == [database.name]


@pytest.mark.parametrize(
    ("database", "output", "message"),
    [
        ("missing.sqlite3", "out.sqlite3", "There is no database"),
        (None, "/proc/no-such-dir/out.sqlite3", "failed"),
    ],
)
def test_backup_problems_are_clear_failures(
    tmp_path: Path, database: str | None, output: str, message: str
) -> None:
    source = tmp_path / (database or "real.sqlite3")
    if database is None:
        sqlite3.connect(source).close()
    with pytest.raises(BackupFailed, match=message):
        backup_sqlite(database=source, output=tmp_path / output)


@pytest.mark.parametrize(
    ("now", "name"),
    [
        (datetime(2025, 3, 9, 8, 7, 6, tzinfo=UTC), "pulseboard-20250309T080706Z.sqlite3"),
        (
            datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
            "pulseboard-20241231T223000Z.sqlite3",
        ),
    ],
)
def test_default_backup_path_is_in_the_data_dirs_backups_folder_stamped_in_utc(
    now: datetime, name: str
) -> None:
    assert default_backup_path(Path("/data"), now) == Path("/data/backups") / name
