"""move-db: an embedded installation lands in PostgreSQL complete, verified, and only once.

The end-to-end tests run the real CLI in subprocesses against a data directory
made by ``pulseboard demo`` plus 100k history rows, and copy into a throwaway
PostgreSQL database (``pb_move_<random>``) created and dropped here. They skip
when no PostgreSQL answers at the suite's server (127.0.0.1:5432 by default).
"""

from __future__ import annotations

import ipaddress
import secrets
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.db import connection
from psycopg import sql
from tests.factories import KpiFactory, KpiHistoryFactory
from tests.maintenance.installation import (
    GOOGLE_REFRESH,
    WEBHOOK_SECRET,
    Installation,
    PairWriter,
    make_installation,
    writer_numbers,
)

from pulseboard.core.crypto import Cipher
from pulseboard.maintenance.move import (
    MoveRefused,
    copy_order,
    move_database,
    redacted,
    table_digest_of,
    tables_with_rows,
)

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXTRA_HISTORY = 100_000
SQLITE_ONLY_TABLES = {"sqlite_sequence", "django_migrations"}


def server_url() -> str:
    """The PostgreSQL server the suite runs on, or the local default."""
    params = connection.settings_dict
    if connection.vendor != "postgresql":
        return DEFAULT_SERVER_URL
    user = quote(str(params.get("USER") or "postgres"), safe="")
    password = str(params.get("PASSWORD") or "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = params.get("HOST") or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"postgresql://{auth}@{host}:{params.get('PORT') or 5432}/postgres"


@pytest.fixture(scope="module")
def pg_server() -> str:
    url = server_url()
    try:
        with psycopg.connect(url, connect_timeout=3):
            pass
    except psycopg.Error as exc:
        pytest.skip(f"move-db needs PostgreSQL and none answers at {redacted(url)}: {exc}")
    return url


@contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    name = f"pb_move_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def target(pg_server: str) -> Iterator[str]:
    with throwaway_database(pg_server) as url:
        yield url


@dataclass(frozen=True)
class Moved:
    installation: Installation
    url: str
    result: subprocess.CompletedProcess[str]
    source_before: dict[str, Counter[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def moved(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moved]:
    installation = make_installation(
        tmp_path_factory.mktemp("move") / "data", extra_history=EXTRA_HISTORY
    )
    before = sqlite_contents(installation.database)
    with throwaway_database(pg_server) as url:
        result = installation.run("move-db", "--to", url)
        yield Moved(installation=installation, url=url, result=result, source_before=before)


def sqlite_tables(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return [name for name in names if name not in SQLITE_ONLY_TABLES]


def sqlite_contents(database: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    with sqlite3.connect(database) as db:
        return {
            table: Counter(db.execute(f'SELECT * FROM "{table}"').fetchall())
            for table in sqlite_tables(database)
        }


def sqlite_all(database: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as db:
        return db.execute(query, params).fetchall()


def pg_all(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as db:
        return db.execute(query, params).fetchall()  # type: ignore[arg-type]


def pg_count(url: str, table: str) -> int:
    with psycopg.connect(url) as db:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = db.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_move_db_reports_every_table_ok_for_demo_plus_100k_history_rows(moved: Moved) -> None:
    assert moved.result.returncode == 0, moved.result.stderr
    lines = moved.result.stdout.splitlines()
    table = lines[1 : next(i for i, line in enumerate(lines) if line.startswith("Moved "))]
    assert table and all(line.split()[-1] == "ok" for line in table)
    history = next(line.split() for line in table if line.startswith("kpi_history "))
    assert int(history[1]) == int(history[2]) > EXTRA_HISTORY


def test_move_db_leaves_the_sqlite_source_untouched(moved: Moved) -> None:
    assert moved.result.returncode == 0, moved.result.stderr
    assert sqlite_contents(moved.installation.database) == moved.source_before


def test_every_sqlite_table_has_the_same_row_count_in_postgresql(moved: Moved) -> None:
    database = moved.installation.database
    tables = sqlite_tables(database)
    assert {"kpi_history", "audit_auditevent", "connectors_source", "orgs_user"} <= set(tables)
    for table in tables:
        (expected,) = sqlite_all(database, f'SELECT count(*) FROM "{table}"')[0]
        assert pg_count(moved.url, table) == expected, table


def test_history_rows_are_identical_in_postgresql(moved: Moved) -> None:
    query = "SELECT id, kpi_id, value, observed_at, status FROM kpi_history"
    before = set(sqlite_all(moved.installation.database, query))
    after = {
        # Django keeps SQLite datetimes as naive UTC text, str() of the naive datetime.
        (id_, kpi, value, str(observed.astimezone(UTC).replace(tzinfo=None)), status)
        for id_, kpi, value, observed, status in pg_all(moved.url, query)
    }
    assert len(before) > EXTRA_HISTORY
    assert after == before


def test_json_and_addresses_keep_their_values(moved: Moved) -> None:
    query = "SELECT before, ip FROM audit_auditevent WHERE action = 'test.seeded'"
    ((before, ip),) = pg_all(moved.url, query)
    assert before == {"value": 0.1, "big": 1e16, "nested": [1, None, True]}
    assert ip == ipaddress.ip_address("::ffff:10.1.2.3")


def test_encrypted_secrets_are_copied_byte_for_byte_and_decrypt_with_the_same_keys(
    moved: Moved,
) -> None:
    installation = moved.installation
    query = "SELECT secret_encrypted FROM connectors_source WHERE id = {}"
    source_id = installation.webhook_source_id
    ((stored,),) = sqlite_all(installation.database, query.format("?"), source_id)
    ((copied,),) = pg_all(moved.url, query.format("%s"), source_id)
    assert copied == stored
    keys = Cipher(installation.keys)
    assert keys.decrypt(copied) == WEBHOOK_SECRET
    ((refresh,),) = pg_all(
        moved.url, "SELECT refresh_token_encrypted FROM connectors_googleconnection"
    )
    assert keys.decrypt(refresh) == GOOGLE_REFRESH


def test_output_says_to_keep_the_same_keys_without_printing_them(moved: Moved) -> None:
    output = moved.result.stdout + moved.result.stderr
    assert "not re-encrypted" in output and "PULSEBOARD_ENCRYPTION_KEYS" in output
    assert all(key not in output for key in moved.installation.keys)


def test_sequences_continue_after_the_copied_ids(moved: Moved) -> None:
    with psycopg.connect(moved.url) as db:
        row = db.execute(
            "INSERT INTO kpi_history"
            " (org_id, kpi_id, value, observed_at, recorded_at, status, source)"
            " SELECT org_id, kpi_id, value, observed_at, recorded_at, status, source"
            " FROM kpi_history LIMIT 1 RETURNING id, (SELECT max(id) FROM kpi_history)"
        ).fetchone()
        db.rollback()
    assert row is not None
    new_id, highest_copied = row
    assert new_id > highest_copied


def test_second_move_into_the_now_non_empty_target_is_refused(moved: Moved) -> None:
    assert moved.result.returncode == 0, moved.result.stderr
    rows = pg_count(moved.url, "kpi_history")
    again = moved.installation.run("move-db", "--no-progress", "--to", moved.url)
    assert again.returncode != 0
    assert "is not empty" in again.stderr and "orgs_organization" in again.stderr
    assert "Traceback" not in again.stderr
    assert pg_count(moved.url, "kpi_history") == rows


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        # SQLite does not enforce max_length; PostgreSQL's varchar(120) does.
        ("orgs_organization", "name", "x" * 500),
        # SQLite's loose typing keeps text in a REAL or a datetime column.
        ("kpi_history", "value", "not a number"),
        ("kpi_history", "observed_at", "yesterday"),
        # PostgreSQL text cannot hold NUL characters.
        ("orgs_user", "email", "ada\x00@example.com"),
    ],
)
def test_a_copy_that_fails_writes_nothing_and_names_the_table(
    installation_factory: Callable[..., Installation],
    target: str,
    table: str,
    column: str,
    value: str,
) -> None:
    installation = installation_factory()
    with sqlite3.connect(installation.database) as db:
        db.execute(
            f'UPDATE "{table}" SET "{column}" = ? WHERE id = (SELECT min(id) FROM "{table}")',
            (value,),
        )
    result = installation.run("move-db", "--no-progress", "--to", target)
    assert result.returncode != 0
    assert table in result.stderr and "Nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert pg_count(target, "orgs_organization") == 0
    assert pg_count(target, "kpi_history") == 0


def test_move_while_something_still_writes_copies_one_consistent_snapshot(
    installation_factory: Callable[..., Installation], target: str
) -> None:
    installation = installation_factory(extra_history=10_000)
    writer = PairWriter(installation.database)
    writer.start()
    assert writer.first_commit.wait(timeout=30)
    result = installation.run("move-db", "--no-progress", "--to", target)
    writer.finish()
    assert result.returncode == 0, result.stderr
    # Audit is copied long before history: only one snapshot has the same n in both.
    history, audit = writer_numbers(lambda query: pg_all(target, query))
    assert history == audit == list(range(1, len(history) + 1))
    assert len(history) < writer.committed


# Runs move-db with the target's checksum of kpi_history falsified, as if PostgreSQL
# had read back something else.
TAMPERED_MOVE = r"""
import sys

from pulseboard.maintenance import move
from pulseboard.maintenance.checksum import TableDigest

honest = move.table_digest_of


def tampered(model, alias):
    digest = honest(model, alias)
    if alias == move.TARGET_ALIAS and model._meta.db_table == "kpi_history":
        return TableDigest(rows=digest.rows, digest="f" * 64)
    return digest


move.table_digest_of = tampered
from pulseboard.cli import cli

cli(["move-db", "--no-progress", "--to", sys.argv[1]])
"""


def test_verification_mismatch_exits_non_zero_and_commits_nothing(
    installation_factory: Callable[..., Installation], target: str
) -> None:
    installation = installation_factory()
    tampered = subprocess.run(
        [sys.executable, "-c", TAMPERED_MOVE, target],
        env=installation.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert tampered.returncode != 0
    assert "MISMATCH" in tampered.stdout and "nothing was committed" in tampered.stderr
    assert pg_count(target, "kpi_history") == 0 and pg_count(target, "orgs_organization") == 0

    honest = installation.run("move-db", "--no-progress", "--to", target)
    assert honest.returncode == 0, honest.stderr
    assert pg_count(target, "kpi_history") > 0


@pytest.mark.django_db
def test_move_refuses_when_the_installation_already_runs_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only the PostgreSQL leg has a non-SQLite source")
    with pytest.raises(MoveRefused, match="runs on postgresql already"):
        move_database(target_url=DEFAULT_SERVER_URL, show_progress=False)


def test_move_refuses_in_postgresql_mode_from_the_cli(tmp_path: Path) -> None:
    result = Installation(data_dir=tmp_path, webhook_source_id="").run(
        "move-db",
        "--to",
        "postgresql://postgres@127.0.0.1:5432/pb_move_unused",
        DATABASE_URL="postgresql://postgres@127.0.0.1:5432/pb_move_unused",
        PULSEBOARD_SECRET_KEY="k" * 60,
        PULSEBOARD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode != 0 and "runs on postgresql already" in result.stderr


def test_move_refuses_a_data_dir_without_a_database(tmp_path: Path) -> None:
    result = Installation(data_dir=tmp_path, webhook_source_id="").run(
        "move-db", "--to", "postgresql://postgres@127.0.0.1:5432/pb_move_unused"
    )
    assert result.returncode != 0 and "no embedded database" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///elsewhere.sqlite3", "must be a PostgreSQL URL"),
        ("mysql://root@127.0.0.1/pulseboard", "must be a PostgreSQL URL"),
        ("", "must be a PostgreSQL URL"),
        ("postgresql://[::1", "not a valid database URL"),
        ("postgresql://127.0.0.1:notaport/db", "not a valid database URL"),
        ("postgresql://postgres@127.0.0.1:5432", "must name the database"),
    ],
)
def test_bad_target_url_is_refused_before_anything_is_read(url: str, message: str) -> None:
    with pytest.raises(MoveRefused, match=message):
        move_database(target_url=url, show_progress=False)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@db:5432/pb", "postgresql://u:***@db:5432/pb"),
        ("postgresql://u:p%40ss@db/pb", "postgresql://u:***@db/pb"),
        ("postgresql://u@db/pb", "postgresql://u@db/pb"),
        ("postgresql://db/pb", "postgresql://db/pb"),
        ("postgresql://[::1", "(an unparsable URL)"),
    ],
)
def test_redacted_url_never_shows_the_password(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_copy_order_lists_every_table_after_the_tables_it_references() -> None:
    order = copy_order()
    tables = [model._meta.db_table for model in order]
    assert len(tables) == len(set(tables))
    assert {
        "orgs_organization",
        "orgs_user",
        "orgs_user_groups",
        "indicators_kpi",
        "connectors_source",
        "connectors_googleconnection",
        "kpi_history",
        "audit_auditevent",
        "django_content_type",
        "auth_permission",
        "django_session",
    } <= set(tables)
    assert "auth_user" not in tables  # swapped out for orgs.User
    position = {model: index for index, model in enumerate(order)}
    for model in order:
        for related in references(model) - {model}:
            if model not in references(related):  # a cycle has no valid order; FKs defer
                assert position[related] < position[model], (model, related)


def references(model: Any) -> set[Any]:
    return {
        field.related_model
        for field in model._meta.local_concrete_fields
        if field.is_relation and field.related_model is not None
    }


@pytest.mark.django_db
def test_tables_with_rows_names_project_tables_and_ignores_regenerated_ones() -> None:
    order = copy_order()
    assert "kpi_history" not in tables_with_rows(connection, order)
    KpiHistoryFactory(kpi=KpiFactory())
    busy = tables_with_rows(connection, order)
    assert {"kpi_history", "indicators_kpi", "orgs_organization"} <= set(busy)
    assert not {"django_content_type", "auth_permission"} & set(busy)


@pytest.mark.django_db
def test_table_digest_of_a_real_table_follows_its_contents() -> None:
    row = KpiHistoryFactory(kpi=KpiFactory(), value=1.5)
    model = type(row)
    first = table_digest_of(model, "default")
    model.objects.filter(pk=row.pk).update(value=1.5000000000000002)
    changed = table_digest_of(model, "default")
    model.objects.filter(pk=row.pk).update(value=1.5)
    assert changed.rows == first.rows == 1
    assert changed != first
    assert table_digest_of(model, "default") == first
