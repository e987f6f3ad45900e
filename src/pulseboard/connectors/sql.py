"""The sql connector: a KPI read by one SQL query on PostgreSQL or MySQL/MariaDB (§14).

Owns the binding (``dsn``: ``postgresql://``/``postgres://`` or ``mysql://``/``mariadb://``,
the secret, kept encrypted and read back only as ``dsn_hint`` without its password; the
``query``; the interval) and the pull: the DSN's host resolved and judged by https_get's
address rules (``PULSEBOARD_ALLOW_PRIVATE_CIDRS``) at bind and before every pull's first
socket, the connection made to the checked address (psycopg's ``hostaddr``; PyMySQL to
the IP), ``CONNECT_TIMEOUT`` to connect, the query run inside a read-only transaction
with a ``STATEMENT_TIMEOUT`` statement timeout and rolled back, and its result required
to be one row of one numeric column.

Secrets: no message leaves this module without ``_scrubbed`` removing the password (and
the DSN) from it, because drivers echo connection strings in their errors. Local
credentials of the machine Pulseboard runs on (``~/.pgpass``, client certificates,
Kerberos tickets) are never offered to a server a tenant admin named.
"""

from __future__ import annotations

import asyncio
import decimal
import math
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

import psycopg
import pymysql
from pydantic import Field, SecretStr, field_validator

from pulseboard.connectors.base import (
    BindContext,
    Binding,
    ConfigField,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
    SecretChange,
    SecretKeep,
    SecretSet,
    SourceState,
    checked_query_text,
    text_details,
)
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import (
    SafeFetchPolicy,
    SafeSession,
    UnsafeURLError,
    validate_url,
    validate_url_sync,
)

CONNECT_TIMEOUT: Final = 5
STATEMENT_TIMEOUT: Final = 5
MAX_DSN_LENGTH: Final = 2048
MAX_QUERY_BYTES: Final = 8 * 1024
MAX_MESSAGE: Final = 300
# A socket stalled past the statement timeout (a server that stops answering).
_READ_TIMEOUT: Final = 15
_SCHEMES: Final = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
_DEFAULT_PORTS: Final = {"postgresql": 5432, "mysql": 3306}
_PG_SSLMODES: Final = frozenset(
    {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
)
# libpq reads ~/.pgpass when no password is given: point it at a file that cannot exist.
_NO_PASSFILE: Final = "/nonexistent/pulseboard-never-reads-a-pgpass"
_ONE_NUMBER: Final = "it must return exactly one row with one number"
# PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers this module explains.
_PG_READ_ONLY: Final = "25006"
_PG_CANCELED: Final = "57014"
_MY_READ_ONLY: Final = 1792
_MY_TIMEOUTS: Final = frozenset({1969, 3024})  # MariaDB max_statement_time, MySQL's

Engine = Literal["postgresql", "mysql"]


class DsnError(ValueError):
    """A DSN Pulseboard will not use; the message never contains the password."""


@dataclass(frozen=True)
class Target:
    """A parsed DSN: where to connect and as whom."""

    engine: Engine
    scheme: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    sslmode: str | None

    @property
    def hint(self) -> str:
        """The DSN without its password, e.g. ``postgresql://reader@db.example.com:5432/sales``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = urllib.parse.quote(self.user, safe="")
        path = f"/{urllib.parse.quote(self.database, safe='')}" if self.database else ""
        query = f"?sslmode={self.sslmode}" if self.sslmode else ""
        return f"{self.scheme}://{user}@{host}:{self.port}{path}{query}"

    @property
    def check_url(self) -> str:
        """An https URL of the same host, so https_get's address rules judge it unchanged."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_dsn(dsn: str) -> Target:
    """The DSN as a ``Target``, or ``DsnError`` saying what is wrong (never echoing it)."""
    text = dsn.strip()
    if not text:
        raise DsnError("the DSN is empty")
    if len(text) > MAX_DSN_LENGTH:
        raise DsnError(f"the DSN is longer than {MAX_DSN_LENGTH} characters")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in text):
        raise DsnError("the DSN contains spaces or control characters")
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme not in _SCHEMES:
        shown = f"{scheme}:" if scheme.isascii() and scheme.isalnum() and scheme else "it"
        raise DsnError(
            f"only postgresql://, postgres://, mysql:// and mariadb:// DSNs are supported, "
            f"not {shown}"
        )
    engine: Engine = "postgresql" if _SCHEMES[scheme] == "postgresql" else "mysql"
    try:
        split = urllib.parse.urlsplit(text)
        port = split.port
        host = split.hostname or ""
    except ValueError:
        raise DsnError("the DSN is not a valid URL (check the host and the port)") from None
    if not host:
        raise DsnError("the DSN has no host (sockets and host= parameters are not supported)")
    if split.fragment:
        raise DsnError("the DSN must not have a #fragment")
    user = urllib.parse.unquote(split.username or "")
    if not user:
        raise DsnError("the DSN names no user, e.g. postgresql://reader:…@db.example.com/sales")
    password = urllib.parse.unquote(split.password or "")
    database = urllib.parse.unquote(split.path.removeprefix("/"))
    if "/" in database:
        raise DsnError("the DSN's path must be just the database name")
    sslmode: str | None = None
    for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
        if engine == "postgresql" and name == "sslmode" and value in _PG_SSLMODES:
            sslmode = value
        elif engine == "postgresql" and name == "sslmode":
            raise DsnError(f"sslmode must be one of: {', '.join(sorted(_PG_SSLMODES))}")
        else:
            allowed = "only sslmode" if engine == "postgresql" else "none"
            raise DsnError(f"the DSN parameter {name!r} is not supported ({allowed} is)")
    return Target(
        engine=engine,
        scheme=scheme,
        host=host,
        port=port or _DEFAULT_PORTS[engine],
        user=user,
        password=password,
        database=database,
        sslmode=sslmode,
    )


def _scrubbed(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` on one line, shortened, without any of ``secrets`` in any common spelling."""
    for secret in secrets:
        if len(secret) < 1:
            continue
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}:
            text = text.replace(form, "•••")
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def number_of(columns: list[str], rows: list[tuple[Any, ...]]) -> float:
    """The one number of a result, or ``PullError`` saying what is off with its shape."""
    if not rows:
        raise PullError(f"the query returned no rows; {_ONE_NUMBER}")
    if len(rows) > 1:
        raise PullError(f"the query returned more than one row; {_ONE_NUMBER}")
    if len(columns) != 1:
        raise PullError(f"the query returned {len(columns)} columns; {_ONE_NUMBER}")
    value = rows[0][0]
    name = columns[0]
    if value is None:
        raise PullError(f"the query returned NULL in {name}; wrap it, e.g. COALESCE(x, 0)")
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise PullError(f"the query returned {value} in {name}, not a finite number")
        return number
    kind = "text" if isinstance(value, str | bytes) else type(value).__name__
    raise PullError(
        f"the column {name} is {kind}, not a number; cast it, e.g. CAST(x AS DECIMAL(20, 4))"
    )


class SqlConfig(PullConfig):
    dsn: SecretStr | None = Field(
        default=None,
        title="DSN",
        description=(
            "postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db, "
            "with a read-only user. Stored encrypted; leave empty to keep the saved one."
        ),
    )
    query: str = Field(
        title="SQL query",
        description=(
            "One statement returning one row with one number, e.g. SELECT count(*) FROM orders"
        ),
        json_schema_extra={"widget": "text"},
    )
    dsn_hint: str | None = Field(
        default=None,
        title="Database",
        description="Read only: the saved DSN without its password; ignored.",
    )

    @field_validator("query")
    @classmethod
    def _query_is_short_text(cls, value: str) -> str:
        return checked_query_text(value, max_bytes=MAX_QUERY_BYTES)


async def _checked_address(target: Target, policy: SafeFetchPolicy) -> str:
    try:
        return (await validate_url(target.check_url, policy))[0]
    except UnsafeURLError as exc:
        raise PullError(f"host refused: {exc.reason}") from None


async def _postgresql_result(
    target: Target, address: str, query: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    options = f"-c statement_timeout={STATEMENT_TIMEOUT * 1000} -c default_transaction_read_only=on"
    conn = await psycopg.AsyncConnection.connect(
        host=target.host,
        hostaddr=address,
        port=target.port,
        user=target.user,
        password=target.password,
        dbname=target.database or target.user,
        connect_timeout=CONNECT_TIMEOUT,
        sslmode=target.sslmode or "prefer",
        passfile=_NO_PASSFILE,
        # No client certificate or Kerberos ticket of this machine.
        sslcertmode="disable",
        gssencmode="disable",
        require_auth="password,md5,scram-sha-256,none",
        application_name="pulseboard",
        options=options,
    )
    try:
        await conn.set_read_only(True)
        async with conn.cursor() as cursor:
            # Prepared: the extended protocol takes one statement, so no "COMMIT; DELETE …"
            # can end the read-only transaction and write after it.
            await cursor.execute(query, prepare=True)  # type: ignore[arg-type]
            if cursor.description is None:
                raise PullError(
                    f"the query returned no result (it must be a SELECT); {_ONE_NUMBER}"
                )
            columns = [column.name for column in cursor.description]
            rows = [tuple(row) for row in await cursor.fetchmany(2)]
        await conn.rollback()
        return columns, rows
    finally:
        await conn.close()


def _mysql_result(
    target: Target, address: str, query: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = pymysql.connect(
        host=address,
        port=target.port,
        user=target.user,
        password=target.password,
        database=target.database or None,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        write_timeout=_READ_TIMEOUT,
        autocommit=False,
        local_infile=False,
        charset="utf8mb4",
        read_default_file=None,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            version = str((cursor.fetchone() or ("",))[0])
            if "mariadb" in version.lower():
                cursor.execute(f"SET SESSION max_statement_time={STATEMENT_TIMEOUT}")
            else:
                cursor.execute(f"SET SESSION MAX_EXECUTION_TIME={STATEMENT_TIMEOUT * 1000}")
            # The session too: DDL commits implicitly and would run outside the transaction.
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("START TRANSACTION READ ONLY")
            # One statement: PyMySQL does not ask for CLIENT_MULTI_STATEMENTS.
            cursor.execute(query)
            if cursor.description is None:
                raise PullError(
                    f"the query returned no result (it must be a SELECT); {_ONE_NUMBER}"
                )
            columns = [str(column[0]) for column in cursor.description]
            rows = [tuple(row) for row in cursor.fetchmany(2)]
        conn.rollback()
        return columns, rows
    finally:
        conn.close()


def _postgresql_error(exc: psycopg.Error, target: Target) -> str:
    state = exc.sqlstate or ""
    lines = str(exc).strip().splitlines()
    primary = exc.diag.message_primary or (lines[0] if lines else type(exc).__name__)
    if state == _PG_CANCELED:
        return f"the query ran longer than {STATEMENT_TIMEOUT} s and was stopped"
    if state == _PG_READ_ONLY:
        return f"the query tried to write ({primary}); a KPI query may only read"
    if isinstance(exc, psycopg.OperationalError) and not state:
        return f"could not connect to {target.where}: {_connect_detail(str(exc))}"
    if state.startswith("28"):
        return f"{target.where} refused the login: {primary}"
    return f"the query failed: {primary}"


def _connect_detail(text: str) -> str:
    # libpq: 'connection to server at "h" (ip), port p failed: <reason>' on several lines.
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    reason = first.rsplit("failed: ", 1)[-1]
    if "timeout expired" in reason.lower():
        return f"no answer within {CONNECT_TIMEOUT} s"
    if "refused" in reason.lower():
        return "connection refused"
    return reason


def _mysql_error(exc: pymysql.MySQLError, target: Target) -> str:
    args = exc.args
    code = args[0] if args and isinstance(args[0], int) else None
    detail = str(args[1]) if len(args) > 1 else str(exc)
    if code in _MY_TIMEOUTS:
        return f"the query ran longer than {STATEMENT_TIMEOUT} s and was stopped"
    if code == _MY_READ_ONLY:
        return f"the query tried to write ({detail}); a KPI query may only read"
    if code in (2003, 2006, 2013):
        if "timed out" in detail.lower():
            return f"could not connect to {target.where}: no answer within {CONNECT_TIMEOUT} s"
        reason = "connection refused" if "refused" in detail.lower() else "connection failed"
        return f"could not connect to {target.where}: {reason}"
    if code in (1044, 1045, 1049, 1698):
        return f"{target.where} refused the login: {detail}"
    return f"the query failed: {detail}"


class SqlConnector(PullConnector[SqlConfig]):
    kind: ClassVar[str] = "sql"
    label: ClassVar[str] = "SQL query"
    summary: ClassVar[str] = (
        "Read a number with a read-only SQL query on PostgreSQL or MySQL/MariaDB."
    )
    config_model = SqlConfig

    def bind(self, config: SqlConfig, *, context: BindContext) -> Binding:
        same_kind = context.same_kind(self.kind)
        given = config.dsn.get_secret_value().strip() if config.dsn is not None else None
        dsn = given if given else (context.current_secret if same_kind else None)
        if not dsn:
            message = "a DSN is required, e.g. postgresql://reader:…@db.example.com:5432/sales"
            raise ValidationFailed(f"invalid sql settings: dsn: {message}", errors={"dsn": message})
        try:
            target = parse_dsn(dsn)
            validate_url_sync(target.check_url, fetch_policy())
        except DsnError as exc:
            reason = _scrubbed(str(exc), (dsn,))
            raise ValidationFailed(
                f"invalid sql settings: dsn: {reason}", errors={"dsn": reason}
            ) from None
        except UnsafeURLError as exc:
            reason = _scrubbed(f"host refused: {exc.reason}", (target.password, dsn))
            raise ValidationFailed(
                f"invalid sql settings: dsn: {reason}", errors={"dsn": reason}
            ) from None
        binding = super().bind(config, context=context)
        stored = {k: v for k, v in binding.config.items() if k not in ("dsn", "dsn_hint")}
        stored["dsn_hint"] = target.hint
        secret: SecretChange
        if not given or (same_kind and given == context.current_secret):
            secret = SecretKeep()
        else:
            secret = SecretSet(given, hint="")
        return Binding(config=stored, secret=secret, interval_seconds=binding.interval_seconds)

    def form_fields(self, **kwargs: Any) -> list[ConfigField]:
        return [entry for entry in super().form_fields(**kwargs) if entry.name != "dsn_hint"]

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        config = self.stored_config({k: v for k, v in context.config.items() if k != "dsn_hint"})
        if not context.secret:
            raise PullError("no DSN is saved: bind the source again with its dsn")
        secrets: tuple[str, ...] = (context.secret,)
        try:
            target = parse_dsn(context.secret)
        except DsnError as exc:
            raise PullError(
                f"the saved DSN is not usable: {_scrubbed(str(exc), secrets)}"
            ) from None
        secrets = (context.secret, target.password)
        address = await _checked_address(target, session.policy)
        try:
            if target.engine == "postgresql":
                async with asyncio.timeout(CONNECT_TIMEOUT + STATEMENT_TIMEOUT + _READ_TIMEOUT):
                    columns, rows = await _postgresql_result(target, address, config.query)
            else:
                columns, rows = await asyncio.to_thread(
                    _mysql_result, target, address, config.query
                )
        except PullError as exc:
            raise PullError(_scrubbed(exc.message, secrets)) from None
        except TimeoutError:
            raise PullError(f"no answer from {target.where} in time") from None
        except psycopg.Error as exc:
            raise PullError(_scrubbed(_postgresql_error(exc, target), secrets)) from None
        except pymysql.MySQLError as exc:
            raise PullError(_scrubbed(_mysql_error(exc, target), secrets)) from None
        except Exception as exc:
            # A driver failure we did not foresee: its type only, its text may hold the DSN.
            raise PullError(f"the query failed ({type(exc).__name__})") from None
        try:
            return Observation(value=number_of(columns, rows))
        except PullError as exc:
            raise PullError(_scrubbed(exc.message, secrets)) from None

    def config_details(self, state: SourceState) -> list[tuple[str, str]]:
        return text_details(
            state.config,
            ("dsn_hint", "Database", str),
            ("query", "Query", lambda query: _scrubbed(query, ())),
        )
