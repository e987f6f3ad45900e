"""The CLI: createadmin and demo against the test database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from django.utils import timezone
from tests.factories import PASSWORD, MembershipFactory, UserFactory

from pulseboard import demo
from pulseboard.audit.models import AuditEvent
from pulseboard.cli import cli
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Organization, User

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


def _createadmin(*args: str, email: str = "ada@example.com", stdin: str | None = None) -> Result:
    argv = ["createadmin", "--email", email, "--org", "Acme", "--password-stdin", *args]
    return CliRunner().invoke(cli, argv, input=stdin)


@pytest.mark.parametrize(
    ("password", "said"),
    [
        ("password", "too common"),
        ("ada@example.com", "too similar to the email"),
        ("ada-example", "too similar to the email"),
        ("4815162342", "entirely numeric"),
        ("", "password: required"),
    ],
)
def test_createadmin_refuses_weak_passwords_clearly_and_writes_nothing(
    password: str, said: str
) -> None:
    result = _createadmin(stdin=password + "\n")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: password:") and said in result.output
    assert not User.objects.exists() and not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_createadmin_never_changes_an_existing_accounts_password_unasked() -> None:
    """Issue 12 item 6: an existing address was silently given the new password."""
    existing = MembershipFactory(user=UserFactory(email="ada@example.com")).user
    result = _createadmin(stdin="an-attackers-new-password\n")
    assert result.exit_code == 0, result.output
    assert "password is unchanged" in result.output and "--reset-password" in result.output
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert not existing.check_password("an-attackers-new-password")
    assert Membership.objects.get(user=existing, org__name="Acme").role == "admin"
    assert Membership.objects.filter(user=existing).count() == 2  # the other org is untouched


def test_createadmin_promotes_an_existing_account_without_asking_for_a_password() -> None:
    existing = UserFactory(email="ada@example.com")
    result = CliRunner().invoke(cli, ["createadmin", "--email", "ADA@example.com", "--org", "Acme"])
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output  # no prompt: nothing would be done with it
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)


def test_createadmin_reset_password_validates_then_sets_the_new_password() -> None:
    existing = UserFactory(email="ada@example.com")
    weak = _createadmin("--reset-password", stdin="ada@example.com\n")
    assert weak.exit_code == 1 and "too similar" in weak.output
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert not Organization.objects.exists()  # the refusal wrote nothing
    done = _createadmin("--reset-password", stdin="a-brand-new-passphrase\n")
    assert done.exit_code == 0 and "password was changed" in done.output
    existing.refresh_from_db()
    assert existing.check_password("a-brand-new-passphrase")


def test_createadmin_refuses_a_bad_address() -> None:
    result = _createadmin(email="not-an-address", stdin="a-long-enough-passphrase\n")
    assert result.exit_code == 1 and "e-mail" in result.output
    assert not User.objects.exists()


def test_demo_creates_kpis_of_every_shape_with_six_months_history_once() -> None:
    assert demo.demo_create(now=timezone.now())
    kpis = Kpi.objects.filter(org__name=demo.DEMO_ORG)
    assert {k.shape for k in kpis} == {"stay_above", "stay_below", "stay_between", "trend"}
    assert kpis.count() == len(demo.DEMO_KPIS)
    assert KpiHistory.objects.filter(kpi__in=kpis).count() == sum(
        spec.history_days for spec in demo.DEMO_KPIS
    )
    assert max(spec.history_days for spec in demo.DEMO_KPIS) == demo.DAYS
    # Only the KPI with no value yet is unknown (tests/test_demo.py covers the rest).
    assert [k.title for k in kpis if k.status == "unknown"] == ["Deploys per day"]
    assert not demo.demo_create(now=timezone.now())
    assert Kpi.objects.filter(org__name=demo.DEMO_ORG).count() == len(demo.DEMO_KPIS)
