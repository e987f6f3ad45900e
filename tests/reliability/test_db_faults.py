"""PostgreSQL killed and restarted under load: 503 while down, recovery by itself, nothing lost.

The test starts its own PostgreSQL cluster, ``pulseboard serve --no-worker`` and a
``pulseboard worker`` (production settings) with https_get sources on a local trustme
HTTPS server. Sender threads post signed webhook deliveries without pause, retrying a 503
with the same ``webhook-id`` as Standard Webhooks senders do; a prober reads the API,
renders Home with a logged-in session and asks ``/readyz``. Mid-stream the database is
stopped with ``pg_ctl -m immediate`` (every backend killed, as in a crash), left down a
few seconds, and started again.

Checked: nothing ever answers 500 (only 503 while the database is down, with
Retry-After); ``/readyz`` answers 503 during the outage; every kind of request and the
worker's pulls come back without restarting anything; every delivery ends up accepted
exactly once and stored exactly once (accepted == stored == sent); and value, history and
audit agree for every KPI. Figures are printed (run with ``-s``) and copied by hand into
docs/reliability.md.

Skipped with a reason when no cluster can be started here (no PostgreSQL 15 binaries, or
root without a ``postgres`` user); with ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from standardwebhooks import Webhook
from tests.json_endpoint import JsonEndpoint, Reply, make_certificates
from tests.reliability.pg_cluster import Cluster, unavailable_reason
from tests.reliability.stack import Stack, bind, kpi_create, pulseboard_env

pytestmark = pytest.mark.slow

WEBHOOK_KPIS = 6
SENDERS = 3
PULL_KPIS = 4
OUTAGE_SECONDS = 6.0
RECOVERY_LIMIT = 45.0
NO_RETRY_AFTER = 1  # recorded instead of 503 when the answer lacks Retry-After


@dataclass
class Answer:
    kind: str
    at: float
    status: int  # 0: no HTTP answer at all


@dataclass
class Tally:
    answers: list[Answer] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)  # distinct webhook-ids tried
    accepted: set[str] = field(default_factory=set)  # distinct webhook-ids answered 2xx
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, status: int) -> None:
        with self.lock:
            self.answers.append(Answer(kind, time.monotonic(), status))

    def statuses(self, kind: str) -> Counter[int]:
        with self.lock:
            return Counter(a.status for a in self.answers if a.kind == kind)

    def first_ok_after(self, kind: str, moment: float) -> float | None:
        with self.lock:
            oks = [
                a.at
                for a in self.answers
                if a.kind == kind and a.at >= moment and 200 <= a.status < 300
            ]
        return min(oks) if oks else None

    def between(self, kind: str, start: float, end: float) -> Counter[int]:
        with self.lock:
            return Counter(
                a.status for a in self.answers if a.kind == kind and start <= a.at <= end
            )


def answered(response: httpx.Response) -> int:
    """The status, or ``NO_RETRY_AFTER`` for an app 503 that does not say when to retry."""
    probe = response.request.url.path == "/readyz"
    if response.status_code == 503 and not probe and not response.headers.get("Retry-After"):
        return NO_RETRY_AFTER
    return response.status_code


def guarded(target: Callable[..., None], failures: list[BaseException]) -> Callable[..., None]:
    """A thread body whose exception fails the test instead of vanishing with the thread."""

    def run(*args: object) -> None:
        try:
            target(*args)
        except BaseException as exc:
            failures.append(exc)
            raise

    return run


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the database fault test: {reason}")
        pytest.skip(reason)
    with Cluster() as started:
        yield started


def send_deliveries(
    stack: Stack,
    hooks: list[tuple[str, str]],
    tally: Tally,
    stop: threading.Event,
    sender: int,
) -> None:
    """Post deliveries to ``hooks`` in turn until stopped; retry each until it is accepted."""
    base = datetime.now(UTC) - timedelta(hours=1)
    signers = [(kpi_id, Webhook(secret)) for kpi_id, secret in hooks]
    number = 0
    with httpx.Client(base_url=stack.base, timeout=15) as client:
        while not stop.is_set():
            kpi_id, signer = signers[number % len(signers)]
            webhook_id = f"msg_{sender}_{number}"
            # Strictly increasing per KPI, so "newest" is never a tie.
            body = json.dumps(
                {
                    "value": float(number),
                    "observed_at": (base + timedelta(milliseconds=number)).isoformat(),
                }
            )
            with tally.lock:
                tally.sent.add(webhook_id)
            while True:
                moment = datetime.now(UTC)
                headers = {
                    "content-type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(int(moment.timestamp())),
                    "webhook-signature": signer.sign(webhook_id, moment, body),
                }
                try:
                    status = answered(
                        client.post(f"/hooks/kpis/{kpi_id}", content=body, headers=headers)
                    )
                except httpx.HTTPError:
                    status = 0
                with tally.lock:
                    tally.requests += 1
                tally.note("webhook", status)
                if 200 <= status < 300:
                    with tally.lock:
                        tally.accepted.add(webhook_id)
                    break
                if status not in (0, 503):
                    return  # an unexpected answer: the assertions report it
                time.sleep(0.05)
            number += 1


def probe(stack: Stack, tally: Tally, stop: threading.Event) -> None:
    """API reads, Home renders (logged in) and readiness checks, round and round."""
    api, browser = stack.api(), stack.browser()
    plain = httpx.Client(base_url=stack.base, timeout=15)
    checks: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("api", lambda: api.get("/kpis")),
        ("home", lambda: browser.get("/")),
        ("readyz", lambda: plain.get("/readyz")),
    ]
    try:
        while not stop.is_set():
            for kind, check in checks:
                try:
                    status = answered(check())
                except httpx.HTTPError:
                    status = 0
                tally.note(kind, status)
            time.sleep(0.05)
    finally:
        for client in (api, browser, plain):
            client.close()


def keep_sources_due(url: str, stop: threading.Event) -> None:
    """Make every unleased pull source due again: pulls every poll instead of every minute.

    The shortest real interval is one minute; this keeps the worker busy through a
    seconds-long test. Errors (the database is down) are expected and ignored.
    """
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
                while not stop.is_set():
                    conn.execute(
                        "UPDATE connectors_source SET next_pull_at = now() "
                        "WHERE kind = 'https_get' "
                        "AND (leased_until IS NULL OR leased_until <= now())"
                    )
                    time.sleep(0.3)
        except psycopg.Error:
            time.sleep(0.3)


def newest_attempt(url: str) -> datetime | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(started_at) FROM connectors_pullattempt WHERE ok").fetchone()
    return row[0] if row else None


def wait_until(check: Callable[[], bool], limit: float, what: str) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < limit, f"not within {limit:.0f} s: {what}"
        time.sleep(0.1)
    return time.monotonic() - began


def consistency_problems(url: str) -> list[str]:
    """Each KPI: current value = newest history row; each history row has its audit event."""
    problems = []
    with psycopg.connect(url) as conn:
        kpis = conn.execute("SELECT id, current_value, observed_at FROM indicators_kpi").fetchall()
        history: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for kpi_id, observed_at, value in conn.execute(
            "SELECT kpi_id, observed_at, value FROM kpi_history ORDER BY observed_at, id"
        ):
            history[kpi_id].append((observed_at, value))
        audited: dict[str, Counter[tuple[str, float]]] = defaultdict(Counter)
        for target_id, after in conn.execute(
            "SELECT target_id, after FROM audit_auditevent WHERE action = 'value.recorded'"
        ):
            audited[target_id][(after["observed_at"], float(after["value"]))] += 1
    for kpi_id, current, observed_at in kpis:
        rows = history.get(kpi_id, [])
        if not rows:
            if current is not None:
                problems.append(f"{kpi_id}: a value without any history row")
            continue
        newest_at, newest_value = rows[-1]
        if (current, observed_at) != (newest_value, newest_at):
            problems.append(
                f"{kpi_id}: current {current}@{observed_at} but newest history "
                f"{newest_value}@{newest_at}"
            )
        recorded = Counter((at.isoformat(), float(value)) for at, value in rows)
        if recorded != audited.get(kpi_id, Counter()):
            problems.append(
                f"{kpi_id}: {sum(recorded.values())} history rows but "
                f"{sum(audited.get(kpi_id, Counter()).values())} matching audit events"
            )
    return problems


def test_database_killed_mid_stream_answers_503_recovers_alone_and_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    url = cluster.create_database("pb_rel_faults")
    certificates = make_certificates(tmp_path)
    env = pulseboard_env(database_url=url, data_dir=tmp_path / "data", ca_path=certificates.ca_path)
    with (
        JsonEndpoint(
            certificates.server, default=Reply(body=lambda n: b'{"value": %d}' % n)
        ) as endpoint,
        Stack(env, tmp_path) as stack,
    ):
        stack.prepare()
        stack.start_server()
        with stack.api() as api:
            hooks = []
            for n in range(WEBHOOK_KPIS):
                kpi_id = kpi_create(api, f"Hook {n}")
                secret = bind(api, kpi_id, "webhook", {})["secret"]
                hooks.append((kpi_id, secret))
            for n in range(PULL_KPIS):
                bind(
                    api,
                    kpi_create(api, f"Pulled {n}"),
                    "https_get",
                    {"url": endpoint.url(f"/pulled/{n}"), "json_path": "$.value"},
                )
        worker = stack.start_worker(
            "--poll-seconds", "0.2", "--lease-seconds", "5", "--concurrency", "4"
        )

        tally, stop_senders, stop_probe = Tally(), threading.Event(), threading.Event()
        failures: list[BaseException] = []
        threads = [
            threading.Thread(
                target=guarded(send_deliveries, failures),
                args=(stack, hooks[n::SENDERS], tally, stop_senders, n),
                name=f"sender-{n}",
            )
            for n in range(SENDERS)
        ]
        threads.append(
            threading.Thread(target=guarded(probe, failures), args=(stack, tally, stop_probe))
        )
        threads.append(
            threading.Thread(target=guarded(keep_sources_due, failures), args=(url, stop_probe))
        )
        for thread in threads:
            thread.start()
        try:
            warm = wait_until(lambda: newest_attempt(url) is not None, 30, "first pull")
            time.sleep(max(0.0, 3.0 - warm))
            down_at = time.monotonic()
            cluster.stop("immediate")
            time.sleep(OUTAGE_SECONDS)
            # pg_ctl polls for readiness, so the server may answer a little before it
            # returns: the outage window for the assertions ends when the start begins.
            restart_at = time.monotonic()
            start_seconds = cluster.start()
            up_at = time.monotonic()
            restarted = datetime.now(UTC)

            recovery = {
                kind: wait_until(
                    lambda kind=kind: tally.first_ok_after(kind, up_at) is not None,  # type: ignore[misc]
                    RECOVERY_LIMIT,
                    kind,
                )
                for kind in ("webhook", "api", "home", "readyz")
            }
            recovery["pull"] = wait_until(
                lambda: (newest_attempt(url) or restarted) > restarted, RECOVERY_LIMIT, "pulls"
            )
            first_ok = {
                kind: (tally.first_ok_after(kind, up_at) or up_at) - up_at
                for kind in ("webhook", "api", "home", "readyz")
            }
            time.sleep(2.0)
        finally:
            stop_senders.set()
            for thread in threads[:SENDERS]:
                thread.join(60)
            stop_probe.set()
            for thread in threads[SENDERS:]:
                thread.join(30)
        worker_alive = worker.poll() is None
        worker_exit = stack.stop("worker")
        worker_log = stack.log("worker")

    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM kpi_history WHERE source = 'webhook'"
        ).fetchone()
        deliveries = conn.execute("SELECT count(*) FROM connectors_webhookdelivery").fetchone()
        pulls = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE ok) FROM connectors_pullattempt"
        ).fetchone()
        leased = conn.execute(
            "SELECT count(*) FROM connectors_source WHERE lease_owner <> ''"
        ).fetchone()
    assert stored and deliveries and pulls and leased
    outage = {kind: tally.between(kind, down_at + 0.5, restart_at) for kind in tally_kinds(tally)}
    figures = {
        "webhook requests": tally.requests,
        "deliveries sent (distinct ids)": len(tally.sent),
        "deliveries accepted": len(tally.accepted),
        "history rows stored (webhook)": stored[0],
        "delivery rows": deliveries[0],
        "pull attempts (ok)": f"{pulls[0]} ({pulls[1]})",
        "statuses by kind": {k: dict(tally.statuses(k)) for k in tally_kinds(tally)},
        "statuses while down": {k: dict(v) for k, v in outage.items()},
        "outage seconds": OUTAGE_SECONDS,
        "pg_ctl start seconds": round(start_seconds, 2),
        "recovery seconds after start (first 2xx / pull)": {
            **{k: round(v, 2) for k, v in first_ok.items()},
            "pull": round(recovery["pull"], 2),
        },
    }
    print("\nDatabase fault figures:")
    for name, value in figures.items():
        print(f"  {name}: {value}")

    assert failures == []
    every_status = Counter(a.status for a in tally.answers)
    # Load balancers read /readyz's status only; every other 503 tells clients when to retry.
    assert every_status[NO_RETRY_AFTER] == 0, "a 503 without Retry-After"
    assert every_status[500] == 0, figures
    assert {s for s in every_status if s >= 500} <= {503}, figures
    assert every_status[0] == 0, "the web server stopped answering HTTP during the outage"
    for kind in ("webhook", "api", "home", "readyz"):
        assert outage[kind][503] > 0, f"{kind} never answered 503 while the database was down"
        assert set(outage[kind]) <= {503}, f"{kind} while down: {outage[kind]}"
    assert len(tally.sent) == len(tally.accepted), "a delivery was never accepted"
    assert stored[0] == len(tally.accepted) == deliveries[0], figures
    assert consistency_problems(url) == []
    assert worker_alive, "the worker died during the outage:\n" + worker_log
    assert worker_exit == 0, worker_log
    assert leased[0] == 0, "a lease survived the worker's graceful stop"


def tally_kinds(tally: Tally) -> list[str]:
    with tally.lock:
        return sorted({a.kind for a in tally.answers})
