"""One pull of one source, start to finish: fetch through its connector, then record.

The worker's loop (``worker.runner``) calls ``pull_one`` for each source it claimed; the
"Pull now" button and API call ``pull_now``, which claims, pulls and records a single
source synchronously. A pull never raises: every failure becomes a readable error on
the outcome, and a connector bug costs one pull, not the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final, TypeVar

from aiohttp.abc import AbstractResolver
from django.conf import settings

from pulseboard.connectors.base import Observation, PullConnector, PullError
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


async def _observe(source: Source, session: SafeSession, *, now: datetime) -> Observation:
    connector = CONNECTORS.get(source.kind)
    if not isinstance(connector, PullConnector):
        raise PullError(f"{source.kind} sources are not pulled")
    return await connector.pull(pull_context_for(source, now=now), session)


async def pull_one(source: Source, session: SafeSession) -> PullOutcome:
    """Pull ``source`` once; never raises: every failure becomes a readable error."""
    started_at = clock.now()
    started = time.perf_counter()
    value: float | None = None
    observed_at: datetime | None = None
    error = ""
    try:
        observation = await _observe(source, session, now=started_at)
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
            return await pull_one(claimed, session)

    try:
        outcome = _run_sync(pull)
    except BaseException:
        lease_release(owner=owner)
        raise
    return pull_outcome_record(claimed=claimed, owner=owner, outcome=outcome)


def _run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # Called from inside a running loop (an async view or test): a fresh loop needs a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
