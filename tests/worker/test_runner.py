"""The pull worker against a real HTTPS server: claims, leases, outcomes, back-off, shutdown.

Runs on SQLite and PostgreSQL (``transactional_db``: the worker's database threads use
their own connections and must see committed rows). Pull now is exercised through the API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory
from tests.json_endpoint import Certificates, JsonEndpoint, Reply, make_certificates

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.pull_services import (
    PullOutcome,
    pull_outcome_record,
    source_claim_due,
)
from pulseboard.connectors.services import source_bind
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.safe_http import SafeFetchPolicy
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_cards
from pulseboard.worker import runner
from pulseboard.worker.runner import Worker, WorkerOptions, WorkerStats

LOOPBACK = (ipaddress.IPv4Network("127.0.0.1/32"),)
ADMIN = Actor.system("test admin")

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(certificates.server) as server:
        yield server


@pytest.fixture
def policy(certificates: Certificates) -> SafeFetchPolicy:
    return SafeFetchPolicy(
        allow_private=LOOPBACK, ca_bundle=certificates.ca_path, total_timeout=1.0
    )


@pytest.fixture
def pull_settings(certificates: Certificates) -> Iterator[None]:
    """The operator allows loopback and trusts the test CA (as PULSEBOARD_* would)."""
    with override_settings(
        PULSEBOARD={
            **settings.PULSEBOARD,
            "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32",
            "CA_BUNDLE": certificates.ca_path,
        }
    ):
        yield


@pytest.fixture
def bind(endpoint: JsonEndpoint, pull_settings: None) -> Callable[..., Kpi]:
    def bind_to(path: str, *, kpi: Kpi | None = None, **config: Any) -> Kpi:
        target = kpi or KpiFactory()
        source_bind(
            kpi=target,
            actor=ADMIN,
            kind="https_get",
            config={"url": endpoint.url(path), "json_path": "$.value", **config},
        )
        target.refresh_from_db()
        return target

    return bind_to


def run(policy: SafeFetchPolicy, **overrides: Any) -> WorkerStats:
    options = WorkerOptions(
        owner=overrides.pop("owner", "test-worker"),
        policy=policy,
        poll_seconds=0.05,
        lease_seconds=30,
        once=True,
        **overrides,
    )
    return asyncio.run(Worker(options).run())


def make_due(kpi: Kpi) -> None:
    Source.objects.filter(kpi=kpi).update(next_pull_at=clock.now())


def source_of(kpi: Kpi) -> Source:
    return Source.objects.get(kpi=kpi)


# --- a pull from bind to value -------------------------------------------------------------


def test_bound_source_is_due_at_once_and_its_pull_writes_an_audited_value(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/ok"] = Reply(body=b'{"value": "99.5%"}')
    kpi = bind("/ok", interval_seconds=300)
    assert source_of(kpi).next_pull_at is not None
    assert source_of(kpi).next_pull_at <= clock.now()

    stats = run(policy)

    kpi.refresh_from_db()
    source = source_of(kpi)
    attempt = PullAttempt.objects.get(source=source)
    assert (stats.pulls, stats.ok, stats.failed) == (1, 1, 0)
    assert kpi.current_value == 99.5
    assert KpiHistory.objects.get(kpi=kpi).source == "https_get"
    event = AuditEvent.objects.get(target_id=kpi.pk, action="value.recorded")
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        "connector",
        source.pk,
        "connector:https_get",
    )
    assert attempt.ok and attempt.value == 99.5 and attempt.error == ""
    assert source.next_pull_at == attempt.started_at + timedelta(seconds=300)
    assert (source.lease_owner, source.leased_until) == ("", None)
    assert source.last_success_at is not None and source.last_pulled_at is not None
    assert source.consecutive_failures == 0


def test_unchanged_value_refreshes_freshness_without_history_or_audit(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/steady"] = Reply(body=b'{"value": 7}')
    kpi = bind("/steady")
    run(policy)
    first_observed = Kpi.objects.get(pk=kpi.pk).observed_at
    make_due(kpi)
    run(policy)

    kpi.refresh_from_db()
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1
    assert AuditEvent.objects.filter(target_id=kpi.pk, action="value.recorded").count() == 1
    assert first_observed is not None and kpi.observed_at is not None
    assert kpi.observed_at > first_observed
    assert PullAttempt.objects.filter(source__kpi=kpi, ok=True).count() == 2


def test_source_not_yet_due_is_left_alone(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    kpi = bind("/later")
    Source.objects.filter(kpi=kpi).update(next_pull_at=clock.now() + timedelta(minutes=5))
    assert run(policy).pulls == 0
    assert endpoint.count("/later") == 0


def test_live_lease_of_another_worker_blocks_and_an_expired_one_does_not(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    kpi = bind("/leased")
    Source.objects.filter(kpi=kpi).update(
        lease_owner="other:1", leased_until=clock.now() + timedelta(minutes=1)
    )
    assert run(policy).pulls == 0
    Source.objects.filter(kpi=kpi).update(leased_until=clock.now() - timedelta(seconds=1))
    assert run(policy).pulls == 1
    assert endpoint.count("/leased") == 1
    assert source_of(kpi).lease_owner == ""


# --- failures: last value kept, error recorded, back-off -----------------------------------


SLOW_BODY = b'{"value": 1, "pad": "' + b"x" * 400 + b'"}'
FAILURES = [
    (Reply(status=503), "HTTP 503 from 127.0.0.1"),
    (Reply(status=404), "HTTP 404 from 127.0.0.1"),
    (Reply(delay=3.0), "timed out after 1 s"),
    (
        Reply(body=b'{"value": 1, "pad": "' + b"x" * 400 + b'"}', trickle=0.05),
        "timed out after 1 s",
    ),
    (Reply(body=b'{"value": "' + b"1" * (1024 * 1024) + b'"}'), "response larger than 1 MiB"),
    (Reply(body=b"not json"), "response is not JSON"),
    (Reply(body=b'{"other": 1}'), "$.value matched nothing"),
    (Reply(body=b'{"value": "n/a"}'), "value 'n/a' is not a number"),
]
FAILURE_IDS = [
    "503",
    "404",
    "timeout",
    "slow-body",
    "over-cap",
    "bad-json",
    "path-miss",
    "not-a-number",
]


@pytest.mark.parametrize(("reply", "message"), FAILURES, ids=FAILURE_IDS)
def test_failed_pull_keeps_the_last_value_and_records_the_error_each_time(
    endpoint: JsonEndpoint,
    policy: SafeFetchPolicy,
    bind: Callable[..., Kpi],
    request: pytest.FixtureRequest,
    reply: Reply,
    message: str,
) -> None:
    path = f"/fail/{request.node.callspec.id}"
    endpoint.replies[path] = Reply(body=b'{"value": 42}')
    kpi = bind(path, interval_seconds=60)
    run(policy)
    endpoint.replies[path] = reply

    for failures in (1, 2, 3):
        make_due(kpi)
        stats = run(policy)
        kpi.refresh_from_db()
        source = source_of(kpi)
        assert stats.failed == 1
        assert kpi.current_value == 42
        assert source.last_error.startswith(message)
        assert source.consecutive_failures == failures
        assert source.failing

    attempts = list(PullAttempt.objects.filter(source__kpi=kpi).order_by("started_at"))
    assert [a.ok for a in attempts] == [True, False, False, False]
    assert all(a.error.startswith(message) and a.value is None for a in attempts[1:])
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1


def test_failures_back_off_doubling_up_to_eight_intervals_and_success_resets(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/backoff"] = Reply(status=500)
    kpi = bind("/backoff", interval_seconds=60)
    delays = []
    for _ in range(6):
        make_due(kpi)
        run(policy)
        source = source_of(kpi)
        started = PullAttempt.objects.filter(source=source).latest("started_at").started_at
        assert source.next_pull_at is not None
        delays.append(round((source.next_pull_at - started).total_seconds()))
    assert delays == [60, 120, 240, 480, 480, 480]

    endpoint.replies["/backoff"] = Reply(body=b'{"value": 3}')
    make_due(kpi)
    run(policy)
    source = source_of(kpi)
    assert (source.consecutive_failures, source.last_error, source.failing) == (0, "", False)


def test_failing_source_shows_on_the_kpi_card_with_its_last_pull(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/card"] = Reply(status=502)
    kpi = bind("/card")
    run(policy)
    card = kpi_cards(org=kpi.org, kpis=[Kpi.objects.get(pk=kpi.pk)], now=clock.now())[0]
    assert card.source_failing
    assert card.source_kind == "https_get"
    assert card.last_pulled_at is not None


def test_switching_a_failing_source_back_to_manual_keeps_the_value_and_it_is_editable(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/to-manual"] = Reply(body=b'{"value": 5}')
    kpi = bind("/to-manual")
    run(policy)
    endpoint.replies["/to-manual"] = Reply(status=503)
    make_due(kpi)
    run(policy)
    assert source_of(kpi).failing

    source_bind(kpi=kpi, actor=ADMIN, kind="manual", config={})
    kpi.refresh_from_db()
    source = source_of(kpi)
    assert kpi.current_value == 5
    assert source.kind == "manual" and not source.failing and source.next_pull_at is None
    assert run(policy).pulls == 0

    value_record(kpi=kpi, value=6, observed_at=None, source="manual", actor=ADMIN)
    kpi.refresh_from_db()
    assert kpi.current_value == 6


# --- outcomes that arrive after the world changed -----------------------------------------


def test_outcome_for_a_binding_changed_during_the_pull_is_dropped(
    bind: Callable[..., Kpi],
) -> None:
    kpi = bind("/rebound")
    (claimed,) = source_claim_due(owner="w1", now=clock.now(), limit=10, lease_seconds=30)
    bind("/rebound-elsewhere", kpi=kpi)
    outcome = PullOutcome(
        source_id=claimed.pk, kind="https_get", started_at=clock.now(), duration_ms=5, value=99
    )
    record = pull_outcome_record(claimed=claimed, owner="w1", outcome=outcome)
    kpi.refresh_from_db()
    assert not record.recorded
    assert kpi.current_value is None
    assert not PullAttempt.objects.filter(source=claimed).exists()


def test_value_of_a_pull_whose_lease_was_taken_over_is_kept_but_the_schedule_is_not_touched(
    bind: Callable[..., Kpi],
) -> None:
    kpi = bind("/overtaken")
    now = clock.now()
    (claimed,) = source_claim_due(owner="slow", now=now, limit=10, lease_seconds=1)
    later = now + timedelta(seconds=5)
    assert source_claim_due(owner="fast", now=later, limit=10, lease_seconds=30)
    outcome = PullOutcome(
        source_id=claimed.pk, kind="https_get", started_at=now, duration_ms=4000, value=12
    )
    record = pull_outcome_record(claimed=claimed, owner="slow", outcome=outcome)
    kpi.refresh_from_db()
    source = source_of(kpi)
    assert record.recorded and kpi.current_value == 12
    assert source.lease_owner == "fast"
    assert source.last_success_at is None


# --- claiming ---------------------------------------------------------------------------


def test_concurrent_claims_never_hand_one_source_to_two_workers(
    bind: Callable[..., Kpi],
) -> None:
    kpis = [bind(f"/claim/{n}") for n in range(40)]
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claim(owner: str) -> None:
        try:
            barrier.wait()
            taken: list[str] = []
            for _ in range(5):
                batch = source_claim_due(owner=owner, now=clock.now(), limit=4, lease_seconds=30)
                taken += [source.pk for source in batch]
            results[owner] = taken
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [source_id for taken in results.values() for source_id in taken]
    assert len(claimed) == len(set(claimed)) == len(kpis)
    owners = dict(Source.objects.filter(kpi__in=kpis).values_list("pk", "lease_owner"))
    for owner, taken in results.items():
        assert all(owners[source_id] == owner for source_id in taken)


# --- stopping -----------------------------------------------------------------------------


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_stop_releases_the_leases_of_pulls_cut_off_after_the_grace_period(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    kpis = [bind(f"/held/{n}") for n in range(5)]
    due_before = {s.pk: s.next_pull_at for s in Source.objects.filter(kpi__in=kpis)}
    endpoint.hold()
    try:

        async def scenario() -> WorkerStats:
            worker = Worker(
                WorkerOptions(owner="stopping", policy=policy, poll_seconds=0.05, grace_seconds=0.2)
            )
            task = asyncio.create_task(worker.run())
            await _until(lambda: sum(endpoint.count(f"/held/{n}") for n in range(5)) == 5)
            worker.request_stop()
            return await task

        stats = asyncio.run(scenario())
    finally:
        endpoint.release()
    assert stats.released == 5
    for source in Source.objects.filter(kpi__in=kpis):
        assert (source.lease_owner, source.leased_until) == ("", None)
        assert source.next_pull_at == due_before[source.pk]  # still due: the next worker takes it
    assert not PullAttempt.objects.filter(source__kpi__in=kpis).exists()


def test_stop_lets_in_flight_pulls_finish_within_the_grace_period(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    for n in range(3):
        endpoint.replies[f"/finishing/{n}"] = Reply(body=b'{"value": 8}', delay=0.3)
    kpis = [bind(f"/finishing/{n}") for n in range(3)]

    async def scenario() -> WorkerStats:
        worker = Worker(
            WorkerOptions(owner="graceful", policy=policy, poll_seconds=0.05, grace_seconds=5)
        )
        task = asyncio.create_task(worker.run())
        await _until(lambda: sum(endpoint.count(f"/finishing/{n}") for n in range(3)) == 3)
        worker.request_stop()
        return await task

    stats = asyncio.run(scenario())
    assert (stats.ok, stats.released) == (3, 0)
    assert all(k.current_value == 8 for k in Kpi.objects.filter(pk__in=[k.pk for k in kpis]))


def test_a_second_stop_request_skips_the_grace_period(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy, bind: Callable[..., Kpi]
) -> None:
    kpi = bind("/impatient")
    endpoint.hold()
    try:

        async def scenario() -> WorkerStats:
            worker = Worker(
                WorkerOptions(owner="impatient", policy=policy, poll_seconds=0.05, grace_seconds=60)
            )
            task = asyncio.create_task(worker.run())
            await _until(lambda: endpoint.count("/impatient") == 1)
            worker.request_stop()
            await asyncio.sleep(0.1)
            worker.request_stop()
            return await asyncio.wait_for(task, timeout=10)

        stats = asyncio.run(scenario())
    finally:
        endpoint.release()
    assert stats.released == 1
    assert source_of(kpi).lease_owner == ""


# --- pull now (API) -----------------------------------------------------------------------


def test_pull_now_waits_for_the_pull_and_returns_its_outcome(
    endpoint: JsonEndpoint, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/now"] = Reply(body=b'{"value": "1,234.5"}')
    kpi = bind("/now", interval_seconds=600)
    Source.objects.filter(kpi=kpi).update(next_pull_at=clock.now() + timedelta(hours=1))
    api = ApiClient.for_org(kpi.org)

    response = api.post(f"/kpis/{kpi.pk}/source/pull")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["value"] == 1234.5 and body["error"] is None
    assert body["changed"] is True and body["consecutive_failures"] == 0
    kpi.refresh_from_db()
    assert kpi.current_value == 1234.5
    assert endpoint.count("/now") == 1


def test_pull_now_reports_a_failure_and_records_it(
    endpoint: JsonEndpoint, bind: Callable[..., Kpi]
) -> None:
    endpoint.replies["/now-bad"] = Reply(body=b'{"data": {}}')
    kpi = bind("/now-bad", json_path="$.data.uptime")
    body = ApiClient.for_org(kpi.org).post(f"/kpis/{kpi.pk}/source/pull").json()
    assert body["ok"] is False
    assert body["error"] == "$.data.uptime matched nothing"
    assert body["consecutive_failures"] == 1
    assert source_of(kpi).last_error == "$.data.uptime matched nothing"


def test_pull_now_refuses_with_409_while_a_worker_holds_the_source(
    bind: Callable[..., Kpi],
) -> None:
    kpi = bind("/now-busy")
    Source.objects.filter(kpi=kpi).update(
        lease_owner="w", leased_until=clock.now() + timedelta(minutes=1)
    )
    response = ApiClient.for_org(kpi.org).post(f"/kpis/{kpi.pk}/source/pull")
    assert response.status_code == 409
    assert "pulling this source right now" in response.json()["detail"]


@pytest.mark.parametrize(
    ("scope", "same_org", "status"),
    [("read", True, 403), ("admin", False, 404)],
)
def test_pull_now_needs_an_admin_token_of_the_kpis_org(
    endpoint: JsonEndpoint, bind: Callable[..., Kpi], scope: str, same_org: bool, status: int
) -> None:
    kpi = bind("/now-denied")
    org = kpi.org if same_org else OrganizationFactory()
    response = ApiClient.for_org(org, scope=scope).post(f"/kpis/{kpi.pk}/source/pull")
    assert response.status_code == status
    assert endpoint.count("/now-denied") == 0


def test_pull_now_on_a_manual_source_is_a_conflict_with_a_reason() -> None:
    kpi = KpiFactory()
    response = ApiClient.for_org(kpi.org).post(f"/kpis/{kpi.pk}/source/pull")
    assert response.status_code == 409
    assert "manual" in response.json()["detail"]


def test_a_fetch_slot_frees_when_the_fetch_ends_not_when_its_outcome_is_written(
    endpoint: JsonEndpoint,
    policy: SafeFetchPolicy,
    bind: Callable[..., Kpi],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one slot, the second source is fetched while the first outcome is still being
    written: had the write held the slot, the second fetch could not start until it ended."""
    endpoint.replies["/slot/first"] = Reply(body=b'{"value": 1}')
    endpoint.replies["/slot/second"] = Reply(body=b'{"value": 2}')
    first, second = bind("/slot/first"), bind("/slot/second")
    Source.objects.filter(kpi=second).update(next_pull_at=clock.now() + timedelta(seconds=1))
    fetched_meanwhile: list[bool] = []
    calls: list[int] = []
    real_record = runner.pull_outcomes_record

    def slow_record(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            # The first write waits (at most 10 s) for the second fetch to reach the server.
            for _ in range(500):
                if endpoint.count("/slot/second"):
                    break
                threading.Event().wait(0.02)
            fetched_meanwhile.append(endpoint.count("/slot/second") == 1)
        return real_record(**kwargs)

    monkeypatch.setattr(runner, "pull_outcomes_record", slow_record)
    stats = run(policy, concurrency=1, batch_size=1)
    assert fetched_meanwhile == [True]
    assert stats.ok == 2
    assert {k.current_value for k in Kpi.objects.filter(pk__in=[first.pk, second.pk])} == {1, 2}
