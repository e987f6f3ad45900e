"""The demo organization: realistic KPIs across all four shapes with months of history, and
goals for this quarter and the last one with key results in every status."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from pulseboard.core.actors import Actor
from pulseboard.goals.services import (
    check_in_record,
    cycle_create,
    key_result_create,
    objective_create,
)
from pulseboard.history.services import history_backfill
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.services import kpi_create
from pulseboard.indicators.spec import KpiSpec
from pulseboard.orgs.models import Organization
from pulseboard.orgs.services import admin_bootstrap

DEMO_ORG = "Acme Demo"
DEMO_EMAIL = "demo@pulseboard.local"
DEMO_PASSWORD = "pulseboard-demo"
DAYS = 182


@dataclass(frozen=True)
class DemoKpi:
    fields: dict[str, Any]
    series: Callable[[int, random.Random], float]  # day index (0 = oldest) -> value


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
    ),
]


def demo_exists() -> bool:
    return Organization.objects.filter(name=DEMO_ORG).exists()


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
        for spec in DEMO_KPIS:
            kpi = kpi_create(org=org, actor=actor, spec=KpiSpec(**spec.fields, published=True))
            start = now - timedelta(days=DAYS - 1)
            points = [
                (start + timedelta(days=day), float(spec.series(day, rng))) for day in range(DAYS)
            ]
            history_backfill(kpi=kpi, points=points, actor=actor, source="demo")
            kpis[kpi.title] = Kpi.objects.get(pk=kpi.pk)
            if progress:
                progress(1)
        demo_goals_create(org=org, kpis=kpis, owner_id=owner.pk, now=now, actor=actor)
    return True


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
