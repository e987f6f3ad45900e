"""The CLI: createadmin and demo against the test database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from django.utils import timezone

from pulseboard import demo
from pulseboard.cli import cli
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db


def test_createadmin_reads_password_from_stdin_and_makes_admin() -> None:
    result = CliRunner().invoke(
        cli,
        ["createadmin", "--email", "Ada@Example.com", "--org", "Acme", "--password-stdin"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    membership = Membership.objects.get(user__email="ada@example.com")
    assert membership.role == "admin" and membership.org.name == "Acme"
    assert membership.user.check_password("a-long-password")


def test_createadmin_refuses_short_password() -> None:
    result = CliRunner().invoke(
        cli, ["createadmin", "--email", "a@b.co", "--org", "Acme", "--password-stdin"], input="x\n"
    )
    assert result.exit_code != 0 and "at least 8" in result.output
    assert not Membership.objects.exists()


def test_demo_creates_kpis_of_every_shape_with_six_months_history_once() -> None:
    assert demo.demo_create(now=timezone.now())
    kpis = Kpi.objects.filter(org__name=demo.DEMO_ORG)
    assert {k.shape for k in kpis} == {"stay_above", "stay_below", "stay_between", "trend"}
    assert kpis.count() == len(demo.DEMO_KPIS)
    assert KpiHistory.objects.filter(kpi__in=kpis).count() == len(demo.DEMO_KPIS) * demo.DAYS
    assert all(k.status != "unknown" for k in kpis)
    assert not demo.demo_create(now=timezone.now())
    assert Kpi.objects.filter(org__name=demo.DEMO_ORG).count() == len(demo.DEMO_KPIS)
