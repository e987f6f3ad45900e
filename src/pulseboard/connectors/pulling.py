"""One pull of one source, start to finish: fetch through its connector, then record.

The worker's loop (``worker.runner``) calls ``pull_one`` for each source it claimed; the
"Pull now" button and API call ``pull_now``, which claims, pulls and records a single
source synchronously. A pull never raises: every failure becomes a readable error on
the outcome, and a connector bug costs one pull, not the worker.

A pull's context (the decrypted secret; for a source bound to a Google connection also
its live access token, refreshed when due) is built before the connector awaits
anything. Only a connection needs the database: that work runs through the caller's
``InDatabase`` (the worker's own database threads, or, for ``pull_now``, the calling
request thread); a source without one (https_get, prometheus, …) skips the hop.
Connectors never reach the database themselves.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar

from aiohttp.abc import AbstractResolver
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from pulseboard.connectors.base import CredentialRejected, Observation, PullConnector, PullError
from pulseboard.connectors.models import Source
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.connectors.pull_services import (
    PullOutcome,
    PullRecord,
    lease_release,
    pull_outcome_record,
    source_claim,
)
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.connectors.services import pull_context_for
from pulseboard.core import clock
from pulseboard.core.metrics import record_pull
from pulseboard.core.safe_http import SafeFetchPolicy, SafeSession

logger = logging.getLogger(__name__)

T = TypeVar("T")

INTERNAL_ERROR: Final = "internal error while pulling (details are in the worker log)"


class InDatabase(Protocol):
    """Runs synchronous ORM work for a pull away from the event loop, and awaits it."""

    def __call__(self, function: Callable[[], T], /) -> Awaitable[T]: ...


async def _observe(
    source: Source, session: SafeSession, *, in_database: InDatabase, now: datetime
) -> Observation:
    connector = CONNECTORS.get(source.kind)
    if not isinstance(connector, PullConnector):
        raise PullError(f"{source.kind} sources are not pulled")
    if source.connection_id:
        context = await in_database(functools.partial(pull_context_for, source, now=now))
    else:
        # Without a connection the context needs no database (the secret is decrypted in
        # memory): no hop to the database threads and back for every https_get pull.
        context = pull_context_for(source, now=now)
    try:
        return await connector.pull(context, session)
    except CredentialRejected:
        # An access token ended before its announced expiry (Google does this): one more
        # try with a token refreshed for this pull; a second refusal is the pull's error.
        context = await in_database(
            functools.partial(pull_context_for, source, now=now, fresh_credentials=True)
        )
        return await connector.pull(context, session)


async def pull_one(source: Source, session: SafeSession, *, in_database: InDatabase) -> PullOutcome:
    """Pull ``source`` once; never raises: every failure becomes a readable error."""
    started_at = clock.now()
    started = time.perf_counter()
    value: float | None = None
    observed_at: datetime | None = None
    error = ""
    try:
        observation = await _observe(source, session, in_database=in_database, now=started_at)
        value, observed_at = observation.value, observation.observed_at
    except PullError as exc:
        error = exc.message or "the pull failed without a message"
    except Exception:
        # A connector bug must cost one pull, not the worker: log it, show a plain error.
        logger.exception("source %s: unexpected error while pulling", source.pk)
        error = INTERNAL_ERROR
    seconds = time.perf_counter() - started
    record_pull(kind=source.kind, ok=not error, seconds=seconds)
    return PullOutcome(
        source_id=source.pk,
        kind=source.kind,
        started_at=started_at,
        duration_ms=round(seconds * 1000),
        value=None if error else value,
        observed_at=observed_at,
        error=error,
    )


def pull_now(
    *,
    source: Source,
    policy: SafeFetchPolicy | None = None,
    resolver: AbstractResolver | None = None,
) -> PullRecord:
    """Pull one source immediately and record the outcome ("Pull now"); synchronous.

    Uses the settings' fetch policy and lease unless told otherwise. Raises ``Conflict``
    while a worker holds the source, or when the source is not a pull kind. Called from
    plain (non-async) request threads: the API endpoint and the web button.
    """
    owner = f"pull-now:{uuid.uuid4().hex[:12]}"
    config: Mapping[str, Any] = settings.PULSEBOARD
    lease_seconds = float(config["WORKER_LEASE_SECONDS"])
    claimed = source_claim(source=source, owner=owner, now=clock.now(), lease_seconds=lease_seconds)
    active_policy = policy if policy is not None else fetch_policy()

    async def pull() -> PullOutcome:
        async with SafeSession(active_policy, resolver=resolver, limit=1) as session:
            return await pull_one(claimed, session, in_database=on_calling_thread)

    try:
        # async_to_sync runs the pull's loop beside this thread, which meanwhile serves
        # the pull's database work (on_calling_thread): same connection, same transaction.
        outcome = async_to_sync(pull)()
    except BaseException:
        lease_release(owner=owner)
        raise
    return pull_outcome_record(claimed=claimed, owner=owner, outcome=outcome)


async def on_calling_thread(function: Callable[[], T]) -> T:
    """``InDatabase`` for a pull run under ``async_to_sync``: on the thread that called it."""
    return await sync_to_async(function, thread_sensitive=True)()
