"""``pulseboard backup``: a consistent snapshot of the embedded SQLite database.

SQLite's online backup API copies the database in one step inside one read
transaction, so the snapshot is consistent while the server keeps writing (WAL
readers never block writers). The copy is written under a temporary name with
mode 0600, checked with ``PRAGMA integrity_check``, switched to a single
self-contained file (no ``-wal``), then renamed into place: a file at the
final path is always a complete backup. The keys are not part of it; the
operator keeps the data directory's ``secret_key`` and ``encryption_keys``
beside it (docs/operations.md).
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BACKUP_DIR = "backups"


class BackupFailed(Exception):
    """No backup was written; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    seconds: float


def default_backup_path(data_dir: Path, now: datetime) -> Path:
    """``<data dir>/backups/pulseboard-YYYYMMDDTHHMMSSZ.sqlite3`` for the moment ``now``."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return data_dir / BACKUP_DIR / f"pulseboard-{stamp}.sqlite3"


def _create_private(path: Path) -> None:
    # O_EXCL: never write into a file someone else is also writing.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def backup_sqlite(*, database: Path, output: Path) -> Backup:
    """Snapshot ``database`` into the new file ``output``; raises ``BackupFailed``."""
    started = time.monotonic()
    if not database.is_file():
        raise BackupFailed(f"There is no database at {database} to back up.")
    if output.exists():
        raise BackupFailed(f"{output} exists already; choose another --output.")
    partial = output.with_name(output.name + ".partial")
    created = False
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        _create_private(partial)
        created = True
        with (
            closing(sqlite3.connect(database, timeout=20)) as source,
            closing(sqlite3.connect(partial)) as copy,
        ):
            # pages=-1 (all in one step): one read transaction, one consistent snapshot.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchone()
        if not verdict or verdict[0] != "ok":
            raise BackupFailed(f"The backup failed its integrity check: {verdict}")
        os.replace(partial, output)
    except (OSError, sqlite3.Error) as exc:
        raise BackupFailed(f"Backing up {database} to {output} failed: {exc}") from exc
    finally:
        if created:
            partial.unlink(missing_ok=True)
    return Backup(path=output, size=output.stat().st_size, seconds=time.monotonic() - started)


def pg_dump_guidance(*, host: str, port: str, user: str, database: str, now: datetime) -> str:
    """What to run instead when the installation runs on PostgreSQL (no password in it)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    options = [f"--host={host}" if host else "", f"--port={port}" if port else ""]
    options.append(f"--username={user}" if user else "")
    connection = " ".join(option for option in options if option)
    return (
        "pulseboard backup snapshots the embedded SQLite database only. This installation "
        "runs on PostgreSQL: back it up with pg_dump (a consistent snapshot while the "
        "server runs), e.g.\n\n"
        f"  pg_dump {connection} --format=custom --file=pulseboard-{stamp}.dump {database}\n\n"
        "with the password in PGPASSWORD or ~/.pgpass, and keep PULSEBOARD_SECRET_KEY and "
        "PULSEBOARD_ENCRYPTION_KEYS with it. Restore with pg_restore; see docs/operations.md."
    )
