"""Share link services and selectors: create (checked, hashed, audited), revoke, resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.tokens import hash_token
from pulseboard.indicators.services import kpi_delete
from pulseboard.orgs.models import Team
from pulseboard.orgs.rates import Rate
from pulseboard.sharing.models import ShareLink
from pulseboard.sharing.rate_limit import LinkWindows
from pulseboard.sharing.selectors import (
    share_link_kpi,
    share_link_kpis,
    share_link_resolve,
    share_url,
)
from pulseboard.sharing.services import share_link_create, share_link_revoke

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def _create(org: Any, **fields: Any) -> tuple[ShareLink, str]:
    return share_link_create(org=org, actor=ACTOR, **{"name": "Lobby", **fields})


def test_create_stores_only_the_hash_and_audits_without_the_token() -> None:
    org = OrganizationFactory()
    admin = MembershipFactory(org=org, role="admin").user
    link, token = share_link_create(org=org, actor=Actor.for_user(admin), name="  Lobby  ")
    assert token.startswith("pbs_") and len(token) == 47
    assert link.name == "Lobby" and link.created_by_id == admin.pk
    assert link.token_digest == hash_token(token) and token not in link.prefix
    assert token.startswith(link.prefix)
    event = AuditEvent.objects.get(action="share_link.created")
    assert event.target_id == link.pk and event.org_id == org.pk
    assert token not in str(event.after) and hash_token(token) not in str(event.after)
    assert event.after["kpi_ids"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": 5}, "name"),
        ({"kpi_ids": []}, "kpi_ids"),
        ({"kpi_ids": "abc"}, "kpi_ids"),
        ({"kpi_ids": [1, 2]}, "kpi_ids"),
        ({"kpi_ids": ["nosuchkpi", "bad\x00id"]}, "kpi_ids"),
        ({"team_id": "nosuchteam"}, "team_id"),
        ({"team_id": "\x00"}, "team_id"),
        ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "expires_at"),
        ({"expires_at": datetime(2999, 1, 1)}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
    ],
)
def test_bad_input_is_refused_by_field_and_writes_nothing(
    fields: dict[str, Any], field: str
) -> None:
    org = OrganizationFactory()
    with pytest.raises(ValidationFailed) as refused:
        _create(org, **fields)
    assert field in refused.value.errors
    assert not ShareLink.objects.exists() and not AuditEvent.objects.exists()


def test_kpis_of_another_org_are_refused_by_name() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    mine, theirs = KpiFactory(org=org), KpiFactory(org=other)
    with pytest.raises(ValidationFailed) as refused:
        _create(org, kpi_ids=[mine.pk, theirs.pk])
    assert (
        theirs.pk in refused.value.errors["kpi_ids"]
        and mine.pk not in refused.value.errors["kpi_ids"]
    )
    assert not ShareLink.objects.exists()


def test_a_team_of_another_org_is_refused_and_kpis_with_a_team_too() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    theirs = Team.objects.create(org=other, name="B", slug="b")
    with pytest.raises(ValidationFailed) as refused:
        _create(org, team_id=theirs.pk)
    assert "team_id" in refused.value.errors
    team = Team.objects.create(org=org, name="A", slug="a")
    with pytest.raises(ValidationFailed) as both:
        _create(org, team_id=team.pk, kpi_ids=[KpiFactory(org=org).pk])
    assert "team_id" in both.value.errors
    assert not ShareLink.objects.exists()


def test_default_link_shows_every_published_kpi_as_it_is_at_each_request() -> None:
    org = OrganizationFactory()
    first = KpiFactory(org=org)
    KpiFactory(org=OrganizationFactory())
    link, _ = _create(org)
    assert share_link_kpis(link=link) == [first]
    later, draft = KpiFactory(org=org), KpiFactory(org=org, published=False)
    assert share_link_kpis(link=link) == [first, later]
    assert share_link_kpi(link=link, kpi_id=draft.pk) is None


def test_chosen_link_shows_exactly_its_kpis_while_published() -> None:
    org = OrganizationFactory()
    a, b, _c = KpiFactory(org=org), KpiFactory(org=org), KpiFactory(org=org)
    link, _ = _create(org, kpi_ids=[b.pk, a.pk, a.pk])
    assert share_link_kpis(link=link) == [a, b]
    b.published = False
    b.save()
    assert share_link_kpis(link=link) == [a]
    assert share_link_kpi(link=link, kpi_id=b.pk) is None
    assert share_link_kpi(link=link, kpi_id=_c.pk) is None


def test_team_link_shows_the_teams_published_kpis() -> None:
    org = OrganizationFactory()
    team = Team.objects.create(org=org, name="Ops", slug="ops")
    ops = KpiFactory(org=org, team=team)
    KpiFactory(org=org)
    link, _ = _create(org, team_id=team.pk)
    assert share_link_kpis(link=link) == [ops]


def test_deleting_the_only_chosen_kpi_revokes_the_link_instead_of_widening_it() -> None:
    org = OrganizationFactory()
    only, other = KpiFactory(org=org), KpiFactory(org=org)
    link, token = _create(org, kpi_ids=[only.pk])
    _pair, pair_token = _create(org, kpi_ids=[only.pk, other.pk])
    kpi_delete(kpi=only, actor=ACTOR)
    assert share_link_resolve(token=token, now=timezone.now()) is None
    revoked = AuditEvent.objects.get(action="share_link.revoked")
    assert revoked.target_id == link.pk and "was deleted" in revoked.after["reason"]
    # A link that still has a chosen KPI stays, showing what is left.
    resolved = share_link_resolve(token=pair_token, now=timezone.now())
    assert resolved is not None and share_link_kpis(link=resolved) == [other]


def test_resolve_is_one_query_and_none_for_unknown_revoked_expired_and_malformed() -> None:
    org = OrganizationFactory()
    now = timezone.now()
    link, token = _create(org, expires_at=now + timedelta(hours=1))
    with CaptureQueriesContext(connection) as queries:
        found = share_link_resolve(token=token, now=now, stamp=True)
    assert found == link and len(queries) == 1
    assert found is not None and found.org == org
    later = now + timedelta(hours=2)
    assert share_link_resolve(token=token, now=later) is None
    for bad in [
        "",
        "pbs_",
        token[:-1],
        token + "x",
        "pb_" + token[4:],
        token.upper(),
        None,
        42,
        token[:-1] + "\x00",
        "pbs_" + "é" * 43,
        "x" * 5000,
    ]:
        with CaptureQueriesContext(connection) as queries:
            assert share_link_resolve(token=bad, now=now) is None
        assert len(queries) == 0
    unknown = "pbs_" + "A" * 43
    assert share_link_resolve(token=unknown, now=now) is None
    share_link_revoke(link=link, actor=ACTOR)
    assert share_link_resolve(token=token, now=now) is None


def test_revoke_is_audited_once_and_idempotent() -> None:
    link, _ = _create(OrganizationFactory())
    share_link_revoke(link=link, actor=ACTOR)
    first = link.revoked_at
    share_link_revoke(link=link, actor=ACTOR)
    link.refresh_from_db()
    assert link.revoked_at == first
    assert AuditEvent.objects.filter(action="share_link.revoked").count() == 1


def test_share_url_uses_the_base_url(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "BASE_URL": "https://kpi.example.com/"}
    assert share_url("pbs_abc") == "https://kpi.example.com/s/pbs_abc/"


def test_link_windows_count_per_link_and_reset_with_the_window() -> None:
    windows = LinkWindows(Rate(limit=3, period_seconds=60))
    start = 1_800_000_000.0  # on a minute boundary
    assert [windows.take("a", timestamp=start + i) for i in range(3)] == [None, None, None]
    assert windows.take("a", timestamp=start + 10) == 50
    assert windows.take("b", timestamp=start + 10) is None
    assert windows.take("a", timestamp=start + 60) is None


def test_expiry_is_compared_with_the_clock() -> None:
    org = OrganizationFactory()
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        _, token = _create(org, expires_at=moment + timedelta(minutes=5))
        assert share_link_resolve(token=token, now=timezone.now()) is not None
    with time_machine.travel(moment + timedelta(minutes=5), tick=False):
        assert share_link_resolve(token=token, now=timezone.now()) is None
