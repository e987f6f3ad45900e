"""Real installations for the maintenance tests: the CLI run in subprocesses.

An installation is a data directory made by ``pulseboard demo``, optionally with
many extra history rows and encrypted secrets, exactly as an operator has it. A
``PairWriter`` keeps writing to it like a busy server while a command runs.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WEBHOOK_SECRET = "whsec_move-me-byte-for-byte"
GOOGLE_REFRESH = "1//refresh-token-for-the-move"

# Runs inside the installation (Django set up on its data dir): bulk history rows, an
# encrypted webhook secret and Google tokens, and an audit event with awkward values.
SEED = r"""
import sys
from datetime import timedelta

import django

django.setup()
from django.db import transaction
from django.utils import timezone

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import GoogleConnection, Source
from pulseboard.core.crypto import cipher
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import User

extra, webhook_secret, google_refresh = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kpis = list(Kpi.objects.order_by("pk"))
start = timezone.now() - timedelta(days=400)
with transaction.atomic():
    KpiHistory.objects.bulk_create(
        [
            KpiHistory(
                org_id=kpis[i % len(kpis)].org_id,
                kpi=kpis[i % len(kpis)],
                value=i / 7,
                observed_at=start + timedelta(seconds=37 * i, microseconds=i % 999_999),
                recorded_at=start + timedelta(seconds=37 * i + 1),
                status="green",
                source="api",
            )
            for i in range(extra)
        ],
        batch_size=5000,
    )
    kpi = kpis[0]
    Source.objects.filter(kpi=kpi).update(
        kind="webhook",
        secret_encrypted=cipher().encrypt(webhook_secret),
        secret_hint=webhook_secret[-4:],
        config={"note": "ünïcode", "big": 1e16, "small": 0.1},
    )
    GoogleConnection.objects.create(
        org_id=kpi.org_id,
        user=User.objects.order_by("pk").first(),
        google_email="ada@example.com",
        access_token_encrypted=cipher().encrypt("ya29.access-token"),
        refresh_token_encrypted=cipher().encrypt(google_refresh),
        expires_at=timezone.now() + timedelta(hours=1),
        scope="https://www.googleapis.com/auth/spreadsheets.readonly",
    )
    AuditEvent.objects.create(
        org_id=kpi.org_id,
        actor_kind="user",
        actor_id="1",
        actor_label="Ädä Lövelace",
        action="test.seeded",
        target_type="kpi",
        target_id=kpi.pk,
        before={"value": 0.1, "big": 1e16, "nested": [1, None, True]},
        after=None,
        ip="::ffff:10.1.2.3",
        created_at=timezone.now(),
    )
print(Source.objects.get(kpi=kpi).pk)
"""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Pulseboard or database setting, plus ``extra``."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PULSEBOARD_")
        and key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    return {**kept, **extra}


@dataclass(frozen=True)
class Installation:
    data_dir: Path
    webhook_source_id: str

    @property
    def database(self) -> Path:
        return self.data_dir / "pulseboard.sqlite3"

    @property
    def keys(self) -> list[str]:
        return (self.data_dir / "encryption_keys").read_text().strip().split(",")

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(PULSEBOARD_DATA_DIR=str(self.data_dir), **extra)

    def copy_to(self, data_dir: Path) -> Installation:
        """An identical installation in ``data_dir`` (nothing may be running on this one)."""
        shutil.copytree(self.data_dir, data_dir)
        return Installation(data_dir=data_dir, webhook_source_id=self.webhook_source_id)

    def run(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """``pulseboard <args>`` in this installation."""
        return subprocess.run(
            [sys.executable, "-m", "pulseboard.cli", *args],
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def make_installation(data_dir: Path, *, extra_history: int) -> Installation:
    data_dir.mkdir(parents=True, exist_ok=True)
    made = Installation(data_dir=data_dir, webhook_source_id="")
    demo = made.run("demo")
    assert demo.returncode == 0, demo.stderr
    seeded = subprocess.run(
        [sys.executable, "-c", SEED, str(extra_history), WEBHOOK_SECRET, GOOGLE_REFRESH],
        env=made.env(DJANGO_SETTINGS_MODULE="pulseboard.config.settings"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    return Installation(data_dir=data_dir, webhook_source_id=seeded.stdout.strip())


WRITER_ACTION = "test.writer"
WRITER_STATUS = "writer"


class PairWriter(threading.Thread):
    """Commits, again and again, one transaction of two rows in two tables.

    Transaction n adds a history row (status ``writer``, value n) and an audit
    event (action ``test.writer``, target id n). The audit table is copied and
    backed up long before the history table, so a copy that is not one snapshot
    shows up as differing sets of n.
    """

    def __init__(self, database: Path) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.committed = 0
        self.first_commit = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def _write(self) -> None:
        db = sqlite3.connect(self.database, timeout=20)
        try:
            org_id, kpi_id = db.execute("SELECT org_id, id FROM indicators_kpi LIMIT 1").fetchone()
            while not self.stop.is_set():
                number = self.committed + 1
                moment = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
                with db:
                    db.execute(
                        "INSERT INTO kpi_history (org_id, kpi_id, value, observed_at,"
                        " recorded_at, status, source) VALUES (?, ?, ?, ?, ?, ?, 'api')",
                        (org_id, kpi_id, number, moment, moment, WRITER_STATUS),
                    )
                    db.execute(
                        "INSERT INTO audit_auditevent (org_id, actor_kind, actor_id, actor_label,"
                        " action, target_type, target_id, target_label, created_at)"
                        " VALUES (?, 'system', 'writer', 'writer', ?, 'kpi', ?, '', ?)",
                        (org_id, WRITER_ACTION, str(number), moment),
                    )
                self.committed = number
                self.first_commit.set()
                self.stop.wait(0.002)  # a busy server, not a benchmark hogging the lock
        finally:
            db.close()

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=30)
        assert self.error is None, self.error


def writer_numbers(fetch: Callable[[str], list[tuple[Any, ...]]]) -> tuple[list[int], list[int]]:
    """The n of every writer transaction seen in history and in audit, sorted."""
    history = fetch(f"SELECT value FROM kpi_history WHERE status = '{WRITER_STATUS}'")
    audit = fetch(f"SELECT target_id FROM audit_auditevent WHERE action = '{WRITER_ACTION}'")
    return sorted(int(value) for (value,) in history), sorted(int(n) for (n,) in audit)
