"""The sql connector against the real PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306).

Each engine gets a throwaway table (PostgreSQL: in a schema of its own in the
``postgres`` database; MariaDB: in ``test``) dropped afterwards. A server that does not
answer skips its leg with a clear line, except on CI (``CI=true``), where it fails.
PostgreSQL trusts local logins here, so the DSN's password is never checked by the
server; the tests still give one, to prove it never comes back out.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pymysql
import pytest
from django.conf import settings
from django.test import override_settings
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.base import BindContext, PullContext, PullError, SecretKeep, SecretSet
from pulseboard.connectors.models import Source
from pulseboard.connectors.sql import SqlConnector, parse_dsn
from pulseboard.core.crypto import cipher
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import SafeFetchPolicy, SafeSession

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LOOPBACK_POLICY = SafeFetchPolicy(allow_private=(ipaddress.IPv4Network("127.0.0.1/32"),))
CONNECTOR = SqlConnector()
PASSWORD = "Pw-s3cr3t/with:odd@chars"
QUOTED_PASSWORD = "Pw-s3cr3t%2Fwith%3Aodd%40chars"


def _unavailable(leg: str, why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the {leg} server: {why}")
    pytest.skip(f"{leg} leg SKIPPED: {why}")


@dataclass(frozen=True)
class Database:
    """A real server with a throwaway ``orders`` table: 3 rows, amounts 10 + 20 + 12.5."""

    engine: str
    dsn: str  # as an admin would paste it, password included
    table: str

    def count_and_sum(self) -> tuple[int, float]:
        if self.engine == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                row = conn.execute(f"SELECT count(*), sum(amount) FROM {self.table}").fetchone()
        else:
            conn = pymysql.connect(**MY_ADMIN)
            try:
                with conn.cursor() as cursor:
                    cursor.execute(f"SELECT count(*), sum(amount) FROM {self.table}")
                    row = cursor.fetchone()
            finally:
                conn.close()
        assert row is not None
        return int(row[0]), float(row[1])

    def has_table(self, name: str) -> bool:
        if self.engine == "postgresql":
            schema = self.table.split(".")[0]
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                found = conn.execute(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
                    " AND table_name = %s",
                    (schema, name),
                ).fetchone()
            return found is not None
        conn = pymysql.connect(**MY_ADMIN)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW TABLES LIKE %s", (name,))
                return cursor.fetchone() is not None
        finally:
            conn.close()


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MY_ADMIN: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 3306,
    "user": "root",
    "password": "",
    "database": "test",
    "connect_timeout": 5,
    "autocommit": True,
}


@pytest.fixture(scope="module")
def postgresql() -> Iterator[Database]:
    schema = f"pb_sql_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _unavailable("PostgreSQL", f"127.0.0.1:5432 does not answer ({type(exc).__name__})")
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.orders (id int, amount numeric, note text)")
        admin.execute(
            f"INSERT INTO {schema}.orders VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 12.5, NULL)"
        )
        try:
            yield Database(
                "postgresql",
                f"postgresql://postgres:{QUOTED_PASSWORD}@127.0.0.1:5432/postgres",
                f"{schema}.orders",
            )
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Database]:
    table = f"pb_sql_{uuid.uuid4().hex[:12]}"
    try:
        admin = pymysql.connect(**MY_ADMIN)
    except pymysql.MySQLError as exc:
        _unavailable("MariaDB", f"127.0.0.1:3306 (root, database test) does not answer ({exc})")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {table} (id int, amount decimal(10,2), note text)")
            cursor.execute(
                f"INSERT INTO {table} VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 12.5, NULL)"
            )
        # root has no password here; the DSN carries one only for the leak tests below.
        yield Database("mysql", "mysql://root@127.0.0.1:3306/test", table)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"DROP TABLE IF EXISTS {table}_new")
        admin.close()


@pytest.fixture(params=["postgresql", "mariadb"])
def database(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue(str(request.param))  # type: ignore[no-any-return]


def context(dsn: str, query: str) -> PullContext:
    return PullContext(
        source_id="src",
        org_id=1,
        kpi_id="kpi",
        kind="sql",
        config={"query": query, "interval_seconds": 900, "dsn_hint": "ignored"},
        secret=dsn,
        connection_id=None,
        now=NOW,
    )


def pull(dsn: str, query: str, policy: SafeFetchPolicy = LOOPBACK_POLICY) -> float:
    async def run() -> float:
        async with SafeSession(policy) as session:
            return (await CONNECTOR.pull(context(dsn, query), session)).value

    return asyncio.run(run())


def pull_error(dsn: str, query: str, policy: SafeFetchPolicy = LOOPBACK_POLICY) -> str:
    with pytest.raises(PullError) as caught:
        pull(dsn, query, policy)
    message = caught.value.message
    assert PASSWORD not in message and QUOTED_PASSWORD not in message
    return message


def allow_loopback() -> Any:
    return override_settings(
        PULSEBOARD={**settings.PULSEBOARD, "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32"}
    )


def bind_context(current_secret: str | None = None) -> BindContext:
    return BindContext(
        org_id=1,
        user_id=None,
        kpi_id="kpi",
        current_kind="sql" if current_secret else "manual",
        current_config={},
        has_secret=current_secret is not None,
        now=NOW,
        current_secret=current_secret,
    )


# --- results ----------------------------------------------------------------------------


def test_one_row_with_one_number_is_the_value(database: Database) -> None:
    assert pull(database.dsn, f"SELECT count(*) FROM {database.table}") == 3.0
    assert pull(database.dsn, f"SELECT sum(amount) FROM {database.table}") == 42.5
    assert pull(database.dsn, f"SELECT amount FROM {database.table} WHERE id = 3") == 12.5
    assert pull(database.dsn, "SELECT 1 = 1") == 1.0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT id FROM {t} WHERE id > 99", "the query returned no rows; it must return"),
        ("SELECT id FROM {t}", "the query returned more than one row; it must return"),
        ("SELECT id, amount FROM {t} WHERE id = 1", "the query returned 2 columns; it must"),
        ("SELECT note FROM {t} WHERE id = 1", "the column note is text, not a number"),
        ("SELECT note AS n FROM {t} WHERE id = 3", "the query returned NULL in n; wrap it"),
        ("SELECT max(id) FROM {t} WHERE id > 99", "the query returned NULL in"),
    ],
)
def test_a_result_that_is_not_one_number_is_a_readable_error(
    database: Database, query: str, expected: str
) -> None:
    assert pull_error(database.dsn, query.format(t=database.table)).startswith(expected)


def test_nan_and_infinity_are_not_numbers(postgresql: Database) -> None:
    for query, shown in (("SELECT 'NaN'::numeric", "NaN"), ("SELECT 'Infinity'::float8", "inf")):
        message = pull_error(postgresql.dsn, query)
        assert message.startswith("the query returned "), message
        assert message.endswith("not a finite number") and shown in message, message


def test_a_syntax_error_is_the_server_s_own_words(database: Database) -> None:
    assert pull_error(database.dsn, "SELEC 1").startswith("the query failed: ")


# --- read only, timeouts ------------------------------------------------------------------


def _writes(database: Database) -> list[str]:
    t = database.table
    writes = [
        f"DELETE FROM {t}",
        f"UPDATE {t} SET amount = 0",
        f"INSERT INTO {t} VALUES (4, 1, 'x')",
        f"CREATE TABLE {t}_new (a int)",
        f"DROP TABLE {t}",
    ]
    if database.engine == "postgresql":
        writes.append(f"WITH d AS (DELETE FROM {t} RETURNING 1) SELECT count(*) FROM d")
        writes.append(
            f"WITH i AS (INSERT INTO {t} VALUES (5, 1, 'y') RETURNING 1) SELECT count(*) FROM i"
        )
    return writes


def test_writes_fail_inside_the_read_only_transaction_and_change_nothing(
    database: Database,
) -> None:
    for query in _writes(database):
        message = pull_error(database.dsn, query)
        assert message.startswith("the query tried to write ("), (query, message)
        assert message.endswith("a KPI query may only read"), message
    assert database.count_and_sum() == (3, 42.5)
    assert not database.has_table(database.table.split(".")[-1] + "_new")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1; DELETE FROM {t}",
        "COMMIT; DELETE FROM {t}; SELECT 1",
        "SET TRANSACTION READ WRITE; UPDATE {t} SET amount = 0; SELECT 1",
    ],
)
def test_several_statements_are_refused_and_change_nothing(database: Database, query: str) -> None:
    message = pull_error(database.dsn, query.format(t=database.table))
    assert message.startswith("the query failed: "), message
    assert database.count_and_sum() == (3, 42.5)


def test_a_long_query_stops_at_the_statement_timeout(database: Database) -> None:
    sleep = "SELECT pg_sleep(10)" if database.engine == "postgresql" else "SELECT SLEEP(10)"
    assert pull_error(database.dsn, sleep) == "the query ran longer than 5 s and was stopped"


# --- the password never leaves -----------------------------------------------------------


def test_connection_failures_never_carry_the_password(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    scheme = "postgresql" if database.engine == "postgresql" else "mysql"
    caplog.set_level(logging.DEBUG)
    refused = pull_error(f"{scheme}://u:{QUOTED_PASSWORD}@127.0.0.1:{closed_port}/db", "SELECT 1")
    assert refused == f"could not connect to 127.0.0.1:{closed_port}: connection refused"
    if database.engine == "mysql":
        # MariaDB checks passwords: a wrong one is refused, and the refusal is scrubbed.
        login = pull_error(f"mysql://nobody:{QUOTED_PASSWORD}@127.0.0.1:3306/test", "SELECT 1")
        assert login.startswith("127.0.0.1:3306 refused the login: ")
    else:
        unknown = pull_error(
            f"postgresql://postgres:{QUOTED_PASSWORD}@127.0.0.1:5432/pb_no_such_db_x", "SELECT 1"
        )
        assert "pb_no_such_db_x" in unknown
        # The server quotes the password back (a table named like it): scrubbed.
        echoed = pull_error(database.dsn, f'SELECT 1 FROM "{PASSWORD}"')
        assert echoed == 'the query failed: relation "•••" does not exist'
    assert PASSWORD not in caplog.text and QUOTED_PASSWORD not in caplog.text


# --- binding ------------------------------------------------------------------------------


def test_binding_encrypts_the_dsn_and_keeps_a_hint_without_the_password() -> None:
    dsn = f"postgresql://reader:{QUOTED_PASSWORD}@127.0.0.1:5432/sales?sslmode=disable"
    with allow_loopback():
        binding = CONNECTOR.binding_validate(
            {"dsn": dsn, "query": "SELECT count(*) FROM orders"}, context=bind_context()
        )
        again = CONNECTOR.binding_validate(
            {"query": "SELECT 2", "dsn_hint": "whatever"}, context=bind_context(dsn)
        )
    assert binding.config == {
        "query": "SELECT count(*) FROM orders",
        "dsn_hint": "postgresql://reader@127.0.0.1:5432/sales?sslmode=disable",
    }
    assert binding.secret == SecretSet(dsn, hint="")
    assert again.secret == SecretKeep()
    assert again.config["dsn_hint"] == binding.config["dsn_hint"]
    assert parse_dsn("mariadb://r:x@db.example.com/shop").hint == (
        "mariadb://r@db.example.com:3306/shop"
    )


@pytest.mark.parametrize(
    ("dsn", "fragment"),
    [
        ("sqlite:///var/lib/pulseboard/db.sqlite3", "not sqlite:"),
        ("file:/etc/passwd", "not file:"),
        ("https://127.0.0.1/x", "not https:"),
        (f"postgresql://u:{QUOTED_PASSWORD}@/db?host=/var/run/postgresql", "no host"),
        (f"postgresql://u:{QUOTED_PASSWORD}@127.0.0.1/db?host=/tmp", "'host' is not supported"),
        (f"postgresql://u:{QUOTED_PASSWORD}@127.0.0.1/db?sslmode=nope", "sslmode must be"),
        (f"postgresql://u:{QUOTED_PASSWORD}@127.0.0.1:99999/db", "not a valid URL"),
        (f"postgresql://:{QUOTED_PASSWORD}@127.0.0.1/db", "names no user"),
        (f"mysql://u:{QUOTED_PASSWORD}@127.0.0.1/db?local_infile=1", "not supported"),
        (f"mysql://u:{QUOTED_PASSWORD}@localhost/db", "reserved name"),
        (f"mysql://u:{QUOTED_PASSWORD}@db/x", "not a fully qualified"),
        ("", "a DSN is required"),
    ],
)
def test_binding_refuses_other_schemes_and_unsafe_dsns_without_echoing_them(
    dsn: str, fragment: str
) -> None:
    with allow_loopback(), pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate({"dsn": dsn, "query": "SELECT 1"}, context=bind_context())
    assert set(caught.value.errors) == {"dsn"}
    assert fragment in caught.value.message, caught.value.message
    assert QUOTED_PASSWORD not in caught.value.message and PASSWORD not in caught.value.message


def test_binding_refuses_an_empty_or_oversized_query() -> None:
    for query, fragment in (("", "empty"), ("   ", "empty"), ("x" * 9000, "8 KiB")):
        with allow_loopback(), pytest.raises(ValidationFailed) as caught:
            CONNECTOR.binding_validate(
                {"dsn": "postgresql://u@127.0.0.1/db", "query": query}, context=bind_context()
            )
        assert fragment in caught.value.errors["query"]


def test_a_loopback_host_is_refused_at_bind_and_at_pull_before_any_socket_opens() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        dsn = f"postgresql://u:{QUOTED_PASSWORD}@127.0.0.1:{port}/db"
        with pytest.raises(ValidationFailed) as caught:
            CONNECTOR.binding_validate({"dsn": dsn, "query": "SELECT 1"}, context=bind_context())
        assert caught.value.errors["dsn"] == (
            "host refused: 127.0.0.1 is not a public address (loopback)"
        )
        for scheme in ("postgresql", "mysql"):
            message = pull_error(dsn.replace("postgresql", scheme), "SELECT 1", SafeFetchPolicy())
            assert message == "host refused: 127.0.0.1 is not a public address (loopback)"
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked


# --- the whole way: API bind, pulled, read back, audited ---------------------------------


@pytest.mark.django_db
def test_bound_through_the_api_pulled_and_the_password_never_shown(
    postgresql: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org: Any = OrganizationFactory()
    kpi: Any = KpiFactory(org=org)
    api: Any = ApiClient.for_org(org)
    config = {"dsn": postgresql.dsn, "query": f"SELECT sum(amount) FROM {postgresql.table}"}
    with allow_loopback():
        bound = api.put(f"/kpis/{kpi.pk}/source", {"kind": "sql", "config": config})
        assert bound.status_code == 200, bound.content
        pulled = api.post(f"/kpis/{kpi.pk}/source/pull").json()
        read = api.get(f"/kpis/{kpi.pk}/source").json()
        # Saving again as the form does (no dsn) keeps the saved one.
        again = api.put(
            f"/kpis/{kpi.pk}/source",
            {"kind": "sql", "config": {**read["config"], "query": "SELECT 1 WHERE false"}},
        )
        assert again.status_code == 200, again.content
        failed = api.post(f"/kpis/{kpi.pk}/source/pull").json()
        attempts = api.get(f"/kpis/{kpi.pk}/source/attempts").json()
    assert pulled["ok"] is True and pulled["value"] == 42.5, pulled
    assert failed["ok"] is False and failed["error"].startswith("the query returned no rows")
    kpi.refresh_from_db()
    assert kpi.current_value == 42.5
    assert read["config"]["dsn_hint"] == "postgresql://postgres@127.0.0.1:5432/postgres"
    source = Source.objects.get(kpi=kpi)
    assert cipher().decrypt(source.secret_encrypted) == postgresql.dsn
    texts = [bound.content.decode(), json.dumps([pulled, read, failed, attempts])]
    texts.append(json.dumps(source.config))
    texts += [json.dumps([e.before, e.after]) for e in AuditEvent.objects.filter(target_id=kpi.pk)]
    texts.append(caplog.text)
    for text in texts:
        assert QUOTED_PASSWORD not in text and PASSWORD not in text
