"""``pulseboard move-db``: copy the embedded SQLite installation into an empty PostgreSQL database.

Every table of every installed app (organizations, users, KPIs, sources with
their encrypted secrets, history, audit, auth, content types, sessions) is
copied in dependency order with PostgreSQL's COPY, inside one target
transaction that commits only when every table's row count and checksum match
the source; on any mismatch or error nothing is committed. Encrypted columns
are copied as stored, never re-encrypted, so the PostgreSQL deployment must
run with the same keys. The source is read inside one SQLite read
transaction, so the copy is a consistent snapshot even if something still
writes (such writes are not moved: stop the server first).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connections,
    models,
    router,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from tqdm import tqdm

from pulseboard.maintenance.checksum import TableDigest, json_text, table_digest

SOURCE_ALIAS = DEFAULT_DB_ALIAS
TARGET_ALIAS = "pulseboard_move_target"
# migrate fills these on the target (post_migrate signal). They are replaced by the
# source's rows so that content-type and permission ids stay what other rows reference.
REGENERATED_TABLES = ("auth_permission", "django_content_type")
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
_CHUNK = 2000
_PROGRESS_EVERY = 1000

Model = type[models.Model]


class MoveRefused(Exception):
    """move-db will not (or could not) copy; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TableCheck:
    table: str
    source: TableDigest
    target: TableDigest

    @property
    def ok(self) -> bool:
        return self.source == self.target


@dataclass(frozen=True)
class MoveReport:
    target: str  # the target URL with its password masked
    checks: list[TableCheck]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def rows(self) -> int:
        return sum(check.source.rows for check in self.checks)


def redacted(url: str) -> str:
    """The URL with its password replaced, fit for output and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable URL)"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def copy_order() -> list[Model]:
    """Every table-backed model, each after the models its foreign keys point to."""
    candidates = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    ]
    known = set(candidates)
    ordered: list[Model] = []
    seen: set[Model] = set()

    def visit(model: Model) -> None:
        if model in seen:
            return
        seen.add(model)
        for field in model._meta.local_concrete_fields:
            related = field.related_model
            if field.is_relation and isinstance(related, type) and related in known:
                # Cycles (and self-references such as Kpi.parent) are cut here; the
                # copy stays valid because PostgreSQL checks Django's FKs at commit.
                visit(related)
        ordered.append(model)

    for model in sorted(candidates, key=lambda m: m._meta.label):
        visit(model)
    return ordered


def _fields(model: Model) -> list[models.Field[Any, Any]]:
    return list(model._meta.local_concrete_fields)


def _ip_address(value: object) -> object:
    # PostgreSQL's inet may print an address differently from the text SQLite kept.
    if not isinstance(value, str):
        return value
    try:
        return ipaddress.ip_interface(value).ip.compressed
    except ValueError:
        return value


def _keep(value: object) -> object:
    return value


def _json_document(value: object) -> object:
    # A JSON column may hold a bare number, which jsonb may read back as another type.
    return None if value is None else json_text(value)


def _comparable(field: models.Field[Any, Any]) -> Callable[[object], object]:
    kind = field.get_internal_type()
    if kind in ("GenericIPAddressField", "IPAddressField"):
        return _ip_address
    if kind == "JSONField":
        return _json_document
    return _keep


def _rows(model: Model, alias: str) -> Iterator[tuple[Any, ...]]:
    attnames = [field.attname for field in _fields(model)]
    # _base_manager: a custom default manager must not hide rows from the copy.
    query = model._base_manager.using(alias).order_by().values_list(*attnames)
    return query.iterator(chunk_size=_CHUNK)


def _comparable_rows(model: Model, rows: Iterator[tuple[Any, ...]]) -> Iterator[Sequence[object]]:
    forms = [_comparable(field) for field in _fields(model)]
    for row in rows:
        yield [form(value) for form, value in zip(forms, row, strict=True)]


def table_digest_of(model: Model, alias: str) -> TableDigest:
    """Row count and checksum of one model's table in the database ``alias``."""
    return table_digest(_comparable_rows(model, _rows(model, alias)))


def _check_source(source: BaseDatabaseWrapper) -> None:
    if source.vendor != "sqlite":
        raise MoveRefused(
            f"move-db copies the embedded SQLite database, but this installation runs on "
            f"{source.vendor} already. Unset DATABASE_URL and point PULSEBOARD_DATA_DIR at "
            "the data directory of the SQLite installation."
        )
    path = Path(str(source.settings_dict["NAME"]))
    if not path.is_file():
        raise MoveRefused(
            f"There is no embedded database at {path}: set PULSEBOARD_DATA_DIR to the data "
            "directory of the installation to move."
        )
    executor = MigrationExecutor(source)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise MoveRefused(
            "The SQLite database has migrations that are not applied yet: run "
            "`pulseboard migrate` first, then move-db again."
        )


def _target_settings(url: str) -> dict[str, Any]:
    invalid = f"--to is not a valid database URL: {redacted(url)}"
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:
        raise MoveRefused(invalid) from exc
    if scheme not in POSTGRES_SCHEMES:
        raise MoveRefused(
            "--to must be a PostgreSQL URL, e.g. postgresql://user:password@host:5432/pulseboard"
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as exc:
        raise MoveRefused(invalid) from exc
    if not config.get("NAME"):
        raise MoveRefused("--to must name the database: postgresql://user@host:5432/<database>")
    config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config


@contextmanager
def _target(url: str, config: dict[str, Any]) -> Iterator[BaseDatabaseWrapper]:
    """A second database alias, configured at run time for the target URL."""
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: {}, TARGET_ALIAS: config})
    connections.settings[TARGET_ALIAS] = configured[TARGET_ALIAS]
    try:
        target = connections[TARGET_ALIAS]
        try:
            target.ensure_connection()
        except DatabaseError as exc:
            raise MoveRefused(f"Cannot connect to {redacted(url)}: {exc}".strip()) from exc
        yield target
    finally:
        if TARGET_ALIAS in {c.alias for c in connections.all(initialized_only=True)}:
            connections[TARGET_ALIAS].close()
            del connections[TARGET_ALIAS]
        connections.settings.pop(TARGET_ALIAS, None)


def tables_with_rows(target: BaseDatabaseWrapper, order: Sequence[Model]) -> list[str]:
    """The project's tables that already hold rows in ``target`` (missing tables are empty)."""
    busy = []
    quote = target.ops.quote_name
    with target.cursor() as cursor:
        existing = set(target.introspection.table_names(cursor))
        for model in order:
            table = model._meta.db_table
            if table in REGENERATED_TABLES or table not in existing:
                continue
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")  # noqa: S608
            row = cursor.fetchone()
            if row and row[0]:
                busy.append(table)
    return busy


def _refuse_non_empty(target: BaseDatabaseWrapper, order: Sequence[Model], url: str) -> None:
    busy = tables_with_rows(target, order)
    if busy:
        shown = ", ".join(busy[:5]) + (f" and {len(busy) - 5} more" if len(busy) > 5 else "")
        raise MoveRefused(
            f"The target database {redacted(url)} is not empty: {shown} already hold rows. "
            "move-db only copies into an empty database, so that nothing is merged or "
            "overwritten. Create a new database (e.g. `createdb pulseboard`) and run it again."
        )


class _TargetRouter:
    def db_for_read(self, model: Model, **hints: Any) -> str:
        return TARGET_ALIAS

    def db_for_write(self, model: Model, **hints: Any) -> str:
        return TARGET_ALIAS


@contextmanager
def _orm_routed_to_target() -> Iterator[None]:
    """Send ORM queries that name no database to the target while it is migrated.

    A data migration that forgets ``.using(schema_editor.connection.alias)`` would
    otherwise read and write the SQLite source while the target is migrated.
    """
    routers = router.routers
    sending = _TargetRouter()
    routers.insert(0, sending)
    try:
        yield
    finally:
        routers.remove(sending)


@contextmanager
def _read_snapshot(source: BaseDatabaseWrapper) -> Iterator[None]:
    """One SQLite read transaction around the whole copy and its verification."""
    with source.cursor() as cursor:
        # DEFERRED, not the IMMEDIATE the settings ask for: a reader must not take the
        # write lock. The first SELECT fixes the WAL snapshot every later read sees.
        cursor.execute("BEGIN DEFERRED")
        cursor.execute("SELECT count(*) FROM sqlite_master")
    try:
        yield
    finally:
        with source.cursor() as cursor:
            cursor.execute("ROLLBACK")


# Column types whose values, as the ORM read them from SQLite, are what psycopg writes
# for PostgreSQL already; Django's preparation of them only re-validates, and was most
# of move-db's CPU time on history (measured, 100k rows).
_AS_READ = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "FloatField",
        "BooleanField",
        "CharField",
        "TextField",
        "SlugField",
        "EmailField",
        "URLField",
        "DateTimeField",
        "DateField",
        "UUIDField",
    }
)


def _preparer(
    field: models.Field[Any, Any], target: BaseDatabaseWrapper
) -> Callable[[Any], Any] | None:
    """How to turn a value read from the source into one COPY writes; None: as read."""
    column = field.target_field if isinstance(field, models.ForeignKey) else field
    # Only Django's own classes: a project subclass may prepare values its own way.
    builtin = type(column).__module__.startswith("django.db.models.fields")
    if builtin and column.get_internal_type() in _AS_READ:
        return None
    # get_db_prep_save, not pre_save: auto_now fields must keep the stored time.
    return lambda value: field.get_db_prep_save(value, target)


def _copy_table(
    model: Model, target: BaseDatabaseWrapper, cursor: Any, show_progress: bool
) -> TableDigest:
    """COPY one table into the target; returns the source's digest of what was written."""
    fields = _fields(model)
    table = model._meta.db_table
    quote = target.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    prepare = [_preparer(field, target) for field in fields]
    as_read = all(prep is None for prep in prepare)
    total = model._base_manager.using(SOURCE_ALIAS).count()
    with (
        tqdm(total=total, desc=table, unit="row", disable=not show_progress) as bar,
        # COPY goes to psycopg directly; this turns its errors into Django's.
        target.wrap_database_errors,
        cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy,
    ):

        def written() -> Iterator[tuple[Any, ...]]:
            for done, row in enumerate(_rows(model, SOURCE_ALIAS), start=1):
                if as_read:
                    copy.write_row(row)
                else:
                    copy.write_row(
                        [
                            value if prep is None else prep(value)
                            for prep, value in zip(prepare, row, strict=True)
                        ]
                    )
                if done % _PROGRESS_EVERY == 0:
                    bar.update(_PROGRESS_EVERY)
                yield row
            bar.update(total - bar.n)

        return table_digest(_comparable_rows(model, written()))


def _copy_all(
    target: BaseDatabaseWrapper, order: Sequence[Model], show_progress: bool
) -> dict[Model, TableDigest]:
    quote = target.ops.quote_name
    tables = {model._meta.db_table for model in order}
    digests = {}
    with target.cursor() as cursor:
        for table in REGENERATED_TABLES:
            if table in tables:
                cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608
        for model in order:
            try:
                digests[model] = _copy_table(model, target, cursor, show_progress)
            # ValueError/TypeError: SQLite's loose typing can hold values that Django
            # cannot read back or PostgreSQL cannot take (and UnsupportedValue).
            except (DatabaseError, ValueError, TypeError) as exc:
                raise MoveRefused(
                    f"Copying {model._meta.db_table} failed: {exc}".strip()
                    + "\nNothing was written to the target."
                ) from exc
        for statement in target.ops.sequence_reset_sql(no_style(), list(order)):
            cursor.execute(statement)
        try:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check them now,
            # while a failure can still be reported table by table.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except DatabaseError as exc:
            raise MoveRefused(
                f"The SQLite data breaks a constraint PostgreSQL enforces: {exc}".strip()
                + "\nNothing was written to the target."
            ) from exc
    return digests


def move_database(*, target_url: str, show_progress: bool = True) -> MoveReport:
    """Copy the default (SQLite) database into the empty PostgreSQL at ``target_url``.

    Raises ``MoveRefused`` with a clear message when the source or target is not
    fit; returns a report whose ``ok`` is False (and nothing committed) when any
    table's count or checksum differs.
    """
    started = time.monotonic()
    config = _target_settings(target_url)
    source = connections[SOURCE_ALIAS]
    _check_source(source)
    order = copy_order()
    with _target(target_url, config) as target:
        _refuse_non_empty(target, order, target_url)
        try:
            with _orm_routed_to_target():
                call_command("migrate", database=TARGET_ALIAS, interactive=False, verbosity=0)
        except DatabaseError as exc:
            raise MoveRefused(f"Migrating the target failed: {exc}".strip()) from exc
        with _read_snapshot(source), transaction.atomic(using=TARGET_ALIAS):
            digests = _copy_all(target, order, show_progress)
            checks = [
                TableCheck(
                    model._meta.db_table, digests[model], table_digest_of(model, TARGET_ALIAS)
                )
                for model in order
            ]
            if not all(check.ok for check in checks):
                transaction.set_rollback(True, using=TARGET_ALIAS)
    return MoveReport(
        target=redacted(target_url), checks=checks, seconds=time.monotonic() - started
    )


def report_lines(report: MoveReport) -> list[str]:
    """The verification table move-db prints."""
    width = max([len("table"), *(len(check.table) for check in report.checks)])
    lines = [f"{'table':<{width}}  {'source rows':>11}  {'target rows':>11}  checksum      result"]
    for check in report.checks:
        result = "ok" if check.ok else "MISMATCH"
        lines.append(
            f"{check.table:<{width}}  {check.source.rows:>11}  {check.target.rows:>11}  "
            f"{check.source.short}  {result}"
        )
    return lines
