"""The demo organization: the whole product on the first page a newcomer opens (DESIGN §12).

Realistic KPIs across all four shapes with months of history, in every status (green,
yellow, red, unknown), one stale (``expected_every`` run out), one whose pull source keeps
failing with its error, one fed by a signed webhook; a KPI tree (drivers under the outcome
they move, leading and lagging), two teams, annotations saying why numbers moved, status
changes that follow the history, and goals for this quarter and the last one with
KPI-linked and manual key results in every status.

The demo feed (``DemoFeed``): while ``make run`` serves (``pulseboard serve --demo-feed``),
a thread in the server process posts a new value of the webhook KPI every few seconds to
the server's own ``/hooks/kpis/{id}``, signed with the KPI's secret like any integrator's
sender (``connectors.push``), so the value moves on Home through the real signed path.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import transaction

from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.push import PushFailed, push
from pulseboard.connectors.services import source_bind
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import DecryptionFailed, cipher
from pulseboard.goals.models import Objective
from pulseboard.goals.services import (
    check_in_record,
    cycle_create,
    key_result_create,
    objective_create,
)
from pulseboard.history.annotations import annotation_add
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import history_backfill
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.services import kpi_create, kpi_spec, kpi_update
from pulseboard.indicators.spec import KpiSpec
from pulseboard.orgs.models import Organization, Team
from pulseboard.orgs.services import admin_bootstrap

logger = logging.getLogger(__name__)

DEMO_ORG = "Acme Demo"
DEMO_EMAIL = "demo@pulseboard.local"
DEMO_PASSWORD = "pulseboard-demo"
DAYS = 182
FEED_KPI = "Active users now"
FAILING_KPI = "Trial signups"
TEAMS = {"platform": "Platform", "growth": "Growth"}


@dataclass(frozen=True)
class DemoKpi:
    fields: dict[str, Any]
    # day index (0 = oldest) -> value; None: no value yet (status unknown)
    series: Callable[[int, random.Random], float] | None
    # The newest values, pinned so the status the demo shows is certain.
    tail: tuple[float, ...] = ()
    # History stops this many days before now (with ``expected_every``: a stale KPI).
    ends_days_ago: int = 0
    parent: str | None = None  # the title of the KPI this one drives (the KPI tree)
    team: str | None = None  # a slug of TEAMS

    @property
    def history_days(self) -> int:
        return 0 if self.series is None else DAYS - self.ends_days_ago


def _wave(day: int, period: float) -> float:
    return math.sin(2 * math.pi * day / period)


DEMO_KPIS = [
    DemoKpi(
        {
            "title": "Uptime",
            "shape": "stay_above",
            "threshold": 99.9,
            "warn_at": 99.95,
            "unit_type": "percentage",
            "display_format": "decimal_2",
            "category": "lagging",
            "expected_every": "1d",
            "description": "Share of minutes the public API answered health checks.",
        },
        lambda d, r: round(min(100.0, 99.965 + 0.02 * _wave(d, 30) + r.gauss(0, 0.012)), 3),
        tail=(99.97,),
        team="platform",
    ),
    DemoKpi(
        {
            "title": "ARR",
            "shape": "trend",
            "direction": "up",
            "baseline": 1_200_000,
            "unit_type": "currency",
            "unit_label": "USD",
            "display_format": "integer",
            "category": "lagging",
            "description": "Annual recurring revenue, from billing.",
        },
        lambda d, r: round(1_050_000 + d * 4_400 + r.gauss(0, 6_000), -2),
        team="growth",
    ),
    DemoKpi(
        {
            "title": "NPS",
            "shape": "stay_above",
            "threshold": 35,
            "warn_at": 40,
            "unit_type": "number",
            "display_format": "integer",
            "category": "lagging",
        },
        lambda d, r: round(41 + 4 * _wave(d, 60) + r.gauss(0, 1.5)),
        tail=(44, 45),
        parent="Monthly churn",
        team="growth",
    ),
    DemoKpi(
        {
            "title": "p95 API latency",
            "shape": "stay_below",
            "threshold": 500,
            "warn_at": 400,
            "unit_type": "time",
            "unit_label": "ms",
            "display_format": "integer",
            "category": "leading",
        },
        lambda d, r: round(360 + 40 * _wave(d, 21) + r.gauss(0, 18)),
        tail=(388, 412, 425, 436),  # at risk since three days ago
        parent="Monthly churn",
        team="platform",
    ),
    DemoKpi(
        {
            "title": "Monthly churn",
            "shape": "stay_below",
            "threshold": 3.0,
            "warn_at": 2.5,
            "unit_type": "percentage",
            "display_format": "decimal_1",
            "category": "lagging",
        },
        lambda d, r: round(2.6 - d * 0.003 + r.gauss(0, 0.08), 2),
        tail=(2.2, 3.1, 3.4),  # off track since two days ago
        parent="ARR",
        team="growth",
    ),
    DemoKpi(
        {
            "title": "Sessions per user",
            "shape": "stay_between",
            "lower": 3,
            "upper": 7,
            "warn_margin": 0.5,
            "unit_type": "number",
            "display_format": "decimal_1",
            "category": "leading",
        },
        lambda d, r: round(4.4 + 0.6 * _wave(d, 45) + r.gauss(0, 0.2), 2),
        tail=(4.6,),
    ),
    DemoKpi(
        {
            "title": "Support backlog",
            "shape": "trend",
            "direction": "down",
            "baseline_mode": "prior_period",
            "baseline_period": "30d",
            "unit_type": "number",
            "display_format": "integer",
            "category": "leading",
        },
        lambda d, r: max(0.0, round(140 - d * 0.35 + 12 * _wave(d, 14) + r.gauss(0, 5))),
        parent="Monthly churn",
    ),
    DemoKpi(
        {
            "title": "MTTR",
            "shape": "stay_below",
            "threshold": 4,
            "warn_at": 3,
            "unit_type": "time",
            "unit_label": "h",
            "display_format": "decimal_1",
            "category": "lagging",
            "description": "Mean time to restore after an incident.",
        },
        lambda d, r: round(max(0.5, 2.8 + 0.7 * _wave(d, 40) + r.gauss(0, 0.3)), 1),
        tail=(2.1,),
        parent="Uptime",
        team="platform",
    ),
    DemoKpi(
        {
            "title": FEED_KPI,
            "shape": "stay_above",
            "threshold": 150,
            "warn_at": 180,
            "unit_type": "number",
            "display_format": "integer",
            "category": "leading",
            "compare_period": "1d",
            "description": (
                "Users signed in over the last five minutes, pushed by the product through "
                "a signed webhook (with `make run`, the demo feed pushes one every few seconds)."
            ),
        },
        lambda d, r: round(205 + 15 * _wave(d, 7) + r.gauss(0, 6)),
        tail=(205,),
        parent="ARR",
        team="growth",
    ),
    DemoKpi(
        {
            "title": FAILING_KPI,
            "shape": "stay_above",
            "threshold": 40,
            "warn_at": 50,
            "unit_type": "number",
            "display_format": "integer",
            "category": "leading",
            "description": "New trials a day, pulled from the signup service's metrics API.",
        },
        lambda d, r: round(58 + d * 0.05 + 6 * _wave(d, 7) + r.gauss(0, 3)),
        tail=(63,),
        ends_days_ago=1,
        parent="ARR",
        team="growth",
    ),
    DemoKpi(
        {
            "title": "Weekly active teams",
            "shape": "stay_above",
            "threshold": 120,
            "warn_at": 140,
            "unit_type": "number",
            "display_format": "integer",
            "category": "lagging",
            "expected_every": "1d",
            "description": "Teams with a session this week; the product-analytics export is late.",
        },
        lambda d, r: round(150 + d * 0.2 + r.gauss(0, 4)),
        tail=(186,),
        ends_days_ago=3,  # expected every day: stale
    ),
    DemoKpi(
        {
            "title": "Deploys per day",
            "shape": "stay_above",
            "threshold": 3,
            "warn_at": 5,
            "unit_type": "number",
            "display_format": "integer",
            "category": "leading",
            "description": "Production deploys a day; the CI webhook is not wired yet.",
        },
        None,  # no value yet: unknown
        parent="Uptime",
        team="platform",
    ),
]


def demo_exists() -> bool:
    return Organization.objects.filter(name=DEMO_ORG).exists()


def _points(spec: DemoKpi, now: datetime, rng: random.Random) -> list[tuple[datetime, float]]:
    if spec.series is None:
        return []
    start = now - timedelta(days=DAYS - 1)
    # Every day's value is drawn (the random sequence stays the same), then cut and pinned.
    values = [float(spec.series(day, rng)) for day in range(DAYS)][: spec.history_days]
    if spec.tail:
        values[-len(spec.tail) :] = [float(v) for v in spec.tail]
    return [(start + timedelta(days=day), value) for day, value in enumerate(values)]


def demo_create(*, now: datetime, progress: Callable[[int], object] | None = None) -> bool:
    """Create the demo org, admin and KPIs; False (and nothing written) if it exists."""
    if demo_exists():
        return False
    rng = random.Random(20261124)
    actor = Actor.system("demo")
    kpis: dict[str, Kpi] = {}
    with transaction.atomic():
        # The demo's password is published (README): the password rules would refuse it.
        org, owner = admin_bootstrap(
            email=DEMO_EMAIL, password=DEMO_PASSWORD, org_name=DEMO_ORG, check_password=False
        )
        teams = {
            slug: Team.objects.create(org=org, name=name, slug=slug) for slug, name in TEAMS.items()
        }
        for spec in DEMO_KPIS:
            kpi = kpi_create(org=org, actor=actor, spec=KpiSpec(**spec.fields, published=True))
            history_backfill(kpi=kpi, points=_points(spec, now, rng), actor=actor, source="demo")
            if spec.team:
                Kpi.objects.filter(pk=kpi.pk).update(team=teams[spec.team], owner=owner)
            kpis[kpi.title] = Kpi.objects.get(pk=kpi.pk)
            if progress:
                progress(1)
        for spec in DEMO_KPIS:
            if spec.parent:
                kpi = kpis[spec.fields["title"]]
                parent_id = kpis[spec.parent].pk
                kpis[kpi.title] = kpi_update(
                    kpi=kpi, actor=actor, spec=replace(kpi_spec(kpi), parent_id=parent_id)
                )
        for kpi in kpis.values():
            demo_status_changes(kpi=kpi, now=now)
        demo_sources(kpis=kpis, now=now, actor=actor)
        demo_annotations(kpis=kpis, now=now, actor=Actor.for_user(owner))
        demo_goals_create(org=org, kpis=kpis, owner_id=owner.pk, now=now, actor=actor)
    return True


def demo_status_changes(*, kpi: Kpi, now: datetime) -> list[StatusChange]:
    """Every status change the KPI's history tells (from unknown at its first value), and
    ``status_since``: the demo's charts shade six months of status periods.

    A backfill keeps only the change into the newest status (it writes months at once), so
    the KPI's changes are replaced by the full sequence read from its history rows; a status
    the KPI has now that its newest row does not (judged by time) stays the last change.
    """
    kpi.refresh_from_db()
    changes: list[StatusChange] = []
    status = "unknown"
    rows = KpiHistory.objects.filter(kpi_id=kpi.pk).order_by("observed_at")
    for observed_at, written in rows.values_list("observed_at", "status"):
        if written != status:
            changes.append(
                StatusChange(
                    org_id=kpi.org_id,
                    kpi_id=kpi.pk,
                    from_status=status,
                    to_status=written,
                    at=observed_at,
                    cause="value",
                )
            )
            status = written
    if kpi.status != status:
        at = kpi.status_since or now
        changes.append(
            StatusChange(
                org_id=kpi.org_id,
                kpi_id=kpi.pk,
                from_status=status,
                to_status=kpi.status,
                at=at,
                cause="time",
            )
        )
    StatusChange.objects.filter(kpi_id=kpi.pk).delete()
    StatusChange.objects.bulk_create(changes)
    Kpi.objects.filter(pk=kpi.pk).update(status_since=changes[-1].at if changes else None)
    return changes


def demo_sources(*, kpis: dict[str, Kpi], now: datetime, actor: Actor) -> None:
    """The feed KPI bound to a webhook (through the service: a secret minted, audited); the
    failing KPI on an https_get source whose last pulls failed with an error."""
    source_bind(kpi=kpis[FEED_KPI], actor=actor, kind="webhook", config={})
    # Written directly: binding through the service would resolve the host and pull it.
    failing = kpis[FAILING_KPI]
    error = "HTTP 503 Service Unavailable from metrics.acme.example (upstream maintenance)"
    last_success = failing.observed_at or now
    Source.objects.filter(kpi_id=failing.pk).update(
        kind="https_get",
        config={"url": "https://metrics.acme.example/api/trials", "json_path": "$.today"},
        interval_seconds=3600,
        next_pull_at=now + timedelta(hours=1),
        last_pulled_at=now - timedelta(minutes=12),
        last_success_at=last_success,
        last_error=error,
        last_error_at=now - timedelta(minutes=12),
        consecutive_failures=5,
    )
    source = Source.objects.get(kpi_id=failing.pk)
    PullAttempt.objects.bulk_create(
        PullAttempt(
            org_id=failing.org_id,
            source=source,
            started_at=now - timedelta(minutes=12 + 60 * n),
            duration_ms=240 + 30 * n,
            ok=False,
            error=error,
        )
        for n in range(5)
    )


def demo_annotations(*, kpis: dict[str, Kpi], now: datetime, actor: Actor) -> None:
    """Notes saying why numbers moved, each on the day it happened."""
    for title, days_ago, text in (
        ("p95 API latency", 3, "Search index rebuilt on the old cluster; latency climbing."),
        ("Monthly churn", 2, "Starter plan price change took effect."),
        ("Uptime", 40, "EU database failover: 38 minutes of errors."),
        ("ARR", 75, "Enterprise tier launched."),
        ("NPS", 20, "New onboarding checklist for every new account."),
    ):
        annotation_add(kpi=kpis[title], actor=actor, text=text, at=now - timedelta(days=days_ago))


def _spread(low: float, high: float, fraction: float) -> float:
    """The value ``fraction`` of the way from ``low`` to ``high``."""
    return low + (high - low) * fraction


def demo_goals_create(
    *, org: Organization, kpis: dict[str, Kpi], owner_id: int, now: datetime, actor: Actor
) -> None:
    """A running quarter and the one before it, with objectives whose key results cover
    every status: KPI-linked ones set around the KPIs' current values (so they land where
    intended whatever the demo's numbers), manual ones with check-ins, one with none."""
    today = now.date()
    current = cycle_create(
        org=org,
        actor=actor,
        data={
            "name": "This quarter",
            "starts_on": today - timedelta(days=45),
            "ends_on": today + timedelta(days=44),
        },
    )
    last = cycle_create(
        org=org,
        actor=actor,
        data={
            "name": "Last quarter",
            "starts_on": today - timedelta(days=135),
            "ends_on": today - timedelta(days=46),
        },
    )
    customers = objective_create(
        org=org,
        actor=actor,
        data={
            "title": "Customers love the product and stay",
            "description": "Retention is the growth lever for this year.",
            "cycle_id": current.pk,
            "owner_id": owner_id,
        },
    )
    Objective.objects.filter(pk=customers.pk).update(team=Team.objects.get(org=org, slug="growth"))
    nps = kpis["NPS"].current_value or 0.0
    churn = kpis["Monthly churn"].current_value or 0.0
    for data in (
        # Half the quarter gone: progress 0.5 is on track, 0.33 at risk.
        {"title": "NPS up by 10 points", "kind": "increase_to", "kpi_id": kpis["NPS"].pk,
         "start_value": round(nps - 5), "target_value": round(nps - 5) + 10, "weight": 2},
        {"title": "Monthly churn down by a point", "kind": "decrease_to",
         "kpi_id": kpis["Monthly churn"].pk, "start_value": round(churn + 0.33, 2),
         "target_value": round(churn + 0.33 - 1, 2)},
        {"title": "Uptime stays above 99.9%", "kind": "stay_above",
         "kpi_id": kpis["Uptime"].pk, "target_value": 99.9},
    ):  # fmt: skip
        key_result_create(objective=customers, actor=actor, data={**data, "owner_id": owner_id})
    product = objective_create(
        org=org,
        actor=actor,
        data={"title": "Ship a calmer, faster product", "cycle_id": current.pk},
    )
    Objective.objects.filter(pk=product.pk).update(team=Team.objects.get(org=org, slug="platform"))
    started = datetime.combine(current.starts_on, datetime.min.time(), tzinfo=now.tzinfo)
    for title, target, check_ins in (
        ("Onboarding redesign shipped (%)", 100, [20, 45, 55]),  # on track
        ("Docs pages rewritten", 60, [12, 20]),  # at risk
        ("Enterprise deals signed", 10, [1, 2]),  # behind
        ("Accessibility findings fixed", 40, []),  # no check-in yet: no data
    ):
        key_result = key_result_create(
            objective=product,
            actor=actor,
            data={"title": title, "kind": "increase_to", "start_value": 0,
                  "target_value": target, "display_format": "integer"},
        )  # fmt: skip
        for n, value in enumerate(check_ins, start=1):
            at = _spread(0, 44, n / len(check_ins))
            check_in_record(
                key_result=key_result, actor=actor, value=value, at=started + timedelta(days=at)
            )
    revenue = objective_create(
        org=org, actor=actor, data={"title": "Grow recurring revenue", "cycle_id": last.pk}
    )
    key_result_create(
        objective=revenue,
        actor=actor,
        data={"title": "ARR past $1.45M", "kind": "increase_to", "kpi_id": kpis["ARR"].pk,
              "start_value": 1_200_000, "target_value": 1_450_000},
    )  # fmt: skip
    partners = key_result_create(
        objective=revenue,
        actor=actor,
        data={"title": "Reseller partners signed", "kind": "increase_to", "start_value": 0,
              "target_value": 5, "display_format": "integer"},
    )  # fmt: skip
    check_in_record(
        key_result=partners, actor=actor, value=3, at=now - timedelta(days=50), note="two in talks"
    )


# --- the demo feed ------------------------------------------------------------------------

FEED_SECONDS: Final = 4.0
FEED_LOW, FEED_HIGH, FEED_MIDDLE = 130.0, 260.0, 205.0


def feed_base_url(host: str, port: int) -> str:
    """Where the server answers on this machine: a wildcard address is reached on loopback."""
    try:
        unspecified = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        unspecified = False
    if unspecified:
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True)
class FeedTarget:
    url: str
    secret: str
    value: float


def demo_feed_target(*, base_url: str) -> FeedTarget | None:
    """The demo's webhook KPI: its endpoint on ``base_url``, its secret (decrypted as the
    receiving view does) and its current value; None without the demo org or that webhook."""
    source = (
        Source.objects.filter(org__name=DEMO_ORG, kpi__title=FEED_KPI, kind="webhook")
        .select_related("kpi")
        .first()
    )
    if source is None or not source.secret_encrypted:
        return None
    try:
        secret = cipher().decrypt(source.secret_encrypted)
    except DecryptionFailed:
        return None
    return FeedTarget(
        url=f"{base_url}/hooks/kpis/{source.kpi_id}",
        secret=secret,
        value=source.kpi.current_value if source.kpi.current_value is not None else FEED_MIDDLE,
    )


def next_feed_value(value: float, rng: random.Random) -> float:
    """A random walk pulled back to the middle: mostly on track, now and then at risk."""
    step = rng.gauss(0, 9) + (FEED_MIDDLE - value) * 0.15
    return float(round(min(FEED_HIGH, max(FEED_LOW, value + step))))


class DemoFeed:
    """A daemon thread posting the feed KPI's next value every ``interval`` seconds.

    It holds no database connection (the target is read before the server forks its web
    processes) and sends exactly what an integrator's sender sends: ``connectors.push``.
    """

    def __init__(self, target: FeedTarget, *, interval: float = FEED_SECONDS) -> None:
        self._target = target
        self._interval = interval
        self._value = target.value
        self._rng = random.Random()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pulseboard-demo-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.wait(self._interval):
            value = next_feed_value(self._value, self._rng)
            try:
                push(
                    url=self._target.url,
                    secret=self._target.secret,
                    value=value,
                    observed_at=None,
                    now=clock.now(),
                )
            except PushFailed as exc:
                failures += 1
                # One refused post is a restart or the server stopping; a lasting failure
                # is said, and not again every few seconds.
                if failures in (2, 10, 100):
                    logger.warning("demo feed: %s", exc.message)
                continue
            failures = 0
            self._value = value
            self.sent += 1

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)


def demo_feed_hooks(
    hooks: dict[str, Callable[..., Any]], feed: DemoFeed
) -> dict[str, Callable[..., Any]]:
    """gunicorn hooks that also start the feed once the server listens and stop it at exit."""
    ready, leaving = hooks.get("when_ready"), hooks.get("on_exit")

    def when_ready(server: Any) -> None:
        if ready is not None:
            ready(server)
        feed.start()

    def on_exit(server: Any) -> None:
        feed.stop()
        if leaving is not None:
            leaving(server)

    return {**hooks, "when_ready": when_ready, "on_exit": on_exit}
