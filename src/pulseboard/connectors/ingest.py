"""The webhook's fast write path: a signed delivery in as few round trips as it can take.

Before (profiled with ``bench/ingest_profile.py``, see docs/performance.md) a delivery
cost ten round trips: source lookup, BEGIN, replay + binding check, KPI row lock,
schedule, history INSERT, KPI UPDATE, audit INSERT, delivery INSERT, COMMIT. Now:

1. **No query for the source** (``target_for``): the KPI's webhook target and its
   decrypted secret are kept in a small in-process cache (``MAX_CACHED`` entries, LRU).
   The cache is never trusted for a write: step 2 checks, under the row lock, that
   the source still holds the very ``secret_encrypted`` the request was verified with.
   A rotation, an unbinding or a re-encryption (``secrets_rotate_keys``) therefore
   wins at once; the caller then forgets the entry and tries once more from the
   database (``target_forget``), so a valid request is never refused for a stale entry
   and a request signed with a retired secret never writes.
2. **One SELECT … FOR UPDATE** (``_locked``) locks the KPI row and answers, in the same
   round trip, "is the source still bound to this secret", "was this ``webhook-id``
   accepted before" and "has this KPI scheduled targets" (only then is the schedule read:
   one more query, as is a rolling baseline's history lookup). The ORM builds and
   compiles that query once per connection (``_LockQuery``); each delivery only binds
   its values.
3. The status, rollup, ``reevaluate_at`` and audit payload come from ``value_plan``
   (``history/services.py``): the same Python as every other value write.
4. **One write statement** (``_write``): on PostgreSQL the history, status-change,
   audit and delivery INSERTs are data-modifying CTEs of the KPI's UPDATE; SQLite (no
   such CTEs, and no network between the app and the file) runs the same statements
   one after the other, without the ORM's per-save work.

Guarantees kept (DESIGN §5, §6): everything happens in one transaction; the row lock
orders writers, so a late delivery goes to history only; a replay found under the lock
answers from the stored delivery and writes nothing, and a replay racing its twin hits
the unique (kpi, webhook_id) constraint, which aborts the whole statement (the caller
turns that into the replay answer); every rejection raises before the write statement.
The round trips left: BEGIN, the locking SELECT, the write, COMMIT (plus the schedule
or baseline read when the KPI has one).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, Model, OuterRef, QuerySet, Subquery

from pulseboard.connectors.models import Source, WebhookDelivery
from pulseboard.connectors.selectors import WebhookTarget, webhook_target_get
from pulseboard.connectors.webhook import REPLAY_WINDOW, WebhookConnector
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import DecryptionFailed, cipher
from pulseboard.history.services import VALUE_FIELDS, ValuePlan, value_plan
from pulseboard.indicators.evaluation import schedule_of
from pulseboard.indicators.models import Kpi, TargetEntry
from pulseboard.indicators.targets import Schedule

# --- the target cache -----------------------------------------------------------------------

MAX_CACHED: Final = 10_000


@dataclass(frozen=True)
class CachedTarget:
    target: WebhookTarget
    secret: str | None  # None: the stored secret decrypts with no configured key


_cache: OrderedDict[str, CachedTarget] = OrderedDict()
_cache_lock = threading.Lock()


def _decrypt(secret_encrypted: str) -> str | None:
    try:
        return cipher().decrypt(secret_encrypted)
    except DecryptionFailed:
        return None


def target_for(kpi_id: str, *, fresh: bool = False) -> tuple[CachedTarget | None, bool]:
    """The KPI's webhook target and secret, and whether they came from the cache.

    ``fresh`` skips the cache (and refreshes it). None: no such KPI, or not a webhook
    with a secret (never cached, so binding a KPI later needs no invalidation).
    """
    if not fresh:
        with _cache_lock:
            cached = _cache.get(kpi_id)
            if cached is not None:
                _cache.move_to_end(kpi_id)
                return cached, True
    target = webhook_target_get(kpi_id=kpi_id)
    if target is None:
        target_forget(kpi_id)
        return None, False
    entry = CachedTarget(target=target, secret=_decrypt(target.secret_encrypted))
    with _cache_lock:
        _cache[kpi_id] = entry
        _cache.move_to_end(kpi_id)
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    return entry, False


def target_forget(kpi_id: str) -> None:
    with _cache_lock:
        _cache.pop(kpi_id, None)


def targets_forget_all() -> None:
    """Empty the cache (tests; nothing in the app needs it: see step 1 above)."""
    with _cache_lock:
        _cache.clear()


# --- the delivery ---------------------------------------------------------------------------


class TargetChanged(Exception):
    """The source no longer holds the secret the request was verified with (or is gone)."""


@dataclass(frozen=True)
class Replayed:
    """The ``webhook-id`` was accepted in the replay window: this is what it wrote."""

    delivery: WebhookDelivery


@dataclass(frozen=True)
class Written:
    plan: ValuePlan


# Placeholders the locking query is compiled with, once per database connection; each
# delivery binds its own values in their places (see ``_LockQuery``).
_SLOT_TEXT: Final = {
    "kpi_id": "__pb_slot_kpi__",
    "source_id": "__pb_slot_source__",
    "secret_encrypted": "__pb_slot_secret__",
    "webhook_id": "__pb_slot_webhook_id__",
}
_SLOT_ORG: Final = -424_242


def _lock_queryset() -> QuerySet[Kpi]:
    """The KPI row, locked, annotated with ``still_bound``, ``previous_id`` and ``scheduled``."""
    kpi = OuterRef("pk")
    return (
        Kpi.objects.select_for_update()
        .filter(pk=_SLOT_TEXT["kpi_id"], org_id=_SLOT_ORG)
        .annotate(
            still_bound=Exists(
                Source.objects.filter(
                    pk=_SLOT_TEXT["source_id"],
                    kpi_id=kpi,
                    kind=WebhookConnector.kind,
                    secret_encrypted=_SLOT_TEXT["secret_encrypted"],
                )
            ),
            previous_id=Subquery(
                WebhookDelivery.objects.filter(
                    kpi_id=kpi, webhook_id=_SLOT_TEXT["webhook_id"]
                ).values("pk")[:1]
            ),
            scheduled=Exists(TargetEntry.objects.filter(kpi_id=kpi, org_id=_SLOT_ORG)),
        )[:1]
    )


class _LockQuery:
    """``_lock_queryset`` compiled once for one connection, run with each delivery's values.

    Building and compiling that queryset took more CPU than everything else a delivery
    does (pyinstrument, docs/performance.md); the SQL, the order of its parameters, the
    columns and the ORM's value converters are the same every time, so they are kept.
    """

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        self.db = db
        compiler = _lock_queryset().query.get_compiler(connection=db)
        self.sql, params = compiler.as_sql()
        slots = {text: name for name, text in _SLOT_TEXT.items()}
        self.params: list[tuple[str | None, Any]] = [
            ("org_id", None)
            if p == _SLOT_ORG
            else (slots.get(p) if isinstance(p, str) else None, p)
            for p in params
        ]
        select = compiler.select
        indexes = compiler.klass_info["select_fields"]  # type: ignore[index]
        self.field_names = [select[i][0].target.attname for i in indexes]
        self.field_indexes = list(indexes)
        self.annotations = dict(compiler.annotation_col_map)
        self.converters = compiler.get_converters([column for column, _, _ in select])

    def fetch(self, values: dict[str, Any]) -> Kpi | None:
        params = [value if name is None else values[name] for name, value in self.params]
        with self.db.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, (functions, expression) in self.converters.items():
            for convert in functions:
                row[position] = convert(row[position], expression, self.db)
        kpi = Kpi.from_db(self.db.alias, self.field_names, [row[i] for i in self.field_indexes])
        for name, position in self.annotations.items():
            setattr(kpi, name, row[position])
        return kpi


_lock_queries: WeakKeyDictionary[BaseDatabaseWrapper, _LockQuery] = WeakKeyDictionary()


def _locked(target: WebhookTarget, webhook_id: str) -> Kpi | None:
    """The KPI row, locked, annotated with ``still_bound``, ``previous_id`` and ``scheduled``."""
    db = connections[DEFAULT_DB_ALIAS]
    query = _lock_queries.get(db)
    if query is None:
        query = _lock_queries[db] = _LockQuery(db)
    return query.fetch(
        {
            "kpi_id": target.kpi_id,
            "org_id": target.org_id,
            "source_id": target.source_id,
            "secret_encrypted": target.secret_encrypted,
            "webhook_id": webhook_id,
        }
    )


def deliver(
    *,
    target: WebhookTarget,
    webhook_id: str,
    number: float,
    when: datetime,
    now: datetime,
    actor: Actor,
) -> Replayed | Written:
    """Record one verified, checked delivery (``number`` finite, ``when`` allowed).

    Must run inside the caller's transaction. Raises ``TargetChanged`` before writing
    anything when the KPI, its binding or its secret changed since the request was
    verified; ``IntegrityError`` when a concurrent twin committed the same id first.
    """
    locked = _locked(target, webhook_id)
    previous_id = None if locked is None else locked.previous_id  # type: ignore[attr-defined]
    if previous_id is not None:
        previous = WebhookDelivery.objects.filter(pk=previous_id).first()
        if previous is not None:
            if previous.received_at >= now - REPLAY_WINDOW:
                return Replayed(previous)
            previous.delete()
    if locked is None or not locked.still_bound:  # type: ignore[attr-defined]
        raise TargetChanged
    schedule = schedule_of(locked) if locked.scheduled else Schedule()  # type: ignore[attr-defined]
    plan = value_plan(
        locked,
        number=number,
        when=when,
        now=now,
        source=WebhookConnector.kind,
        actor=actor,
        schedule=schedule,
    )
    delivery = WebhookDelivery(
        org_id=target.org_id,
        kpi_id=target.kpi_id,
        webhook_id=webhook_id,
        received_at=now,
        value=number,
        observed_at=when,
        applied=not plan.late,
    )
    rows: list[Model] = [plan.history, plan.audit, delivery]
    if plan.status_change is not None:
        rows.append(plan.status_change)
    _write(rows, plan.kpi, VALUE_FIELDS)
    return Written(plan=plan)


# --- SQL from model instances ---------------------------------------------------------------

Statement = tuple[str, list[Any]]


def _insert(row: Model) -> Statement:
    """``INSERT`` of an unsaved instance: every concrete column but an auto primary key."""
    meta = row._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    columns = ", ".join(quote(str(field.column)) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    # Only the model's own table and column names are spliced in, quoted; values are bound.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})", params  # noqa: S608


def _update(row: Model, names: Sequence[str]) -> Statement:
    """``UPDATE`` of ``names`` (and any ``auto_now`` column, as ``save`` would) by primary key."""
    meta = row._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    fields += [
        field
        for field in meta.concrete_fields
        if getattr(field, "auto_now", False) and field not in fields
    ]
    sets = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)  # type: ignore[union-attr]
    params = [
        field.get_db_prep_save(field.pre_save(row, False), connection)  # type: ignore[union-attr]
        for field in fields
    ]
    params.append(meta.pk.get_db_prep_save(row.pk, connection))  # type: ignore[union-attr]
    pk = quote(str(meta.pk.column))  # type: ignore[union-attr]
    return f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {pk} = %s", params  # noqa: S608


def _write(rows: Sequence[Model], kpi: Kpi, fields: Sequence[str]) -> None:
    """Insert ``rows`` and update ``kpi``'s ``fields``: one statement on PostgreSQL."""
    statements = [_insert(row) for row in rows]
    update_sql, update_params = _update(kpi, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ctes = ", ".join(f"w{index} AS ({sql})" for index, (sql, _) in enumerate(statements))
            params = [param for _, values in statements for param in values]
            cursor.execute(f"WITH {ctes} {update_sql}", [*params, *update_params])
            return
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute(update_sql, update_params)
