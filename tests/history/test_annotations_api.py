"""Annotations API: read with any token, write with an admin token, bad input refused with
nothing written, another org's KPI or note a 404, drafts hidden from read tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.api_client import ApiClient
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.annotations import annotation_add
from pulseboard.history.models import Annotation
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Organization

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory()


@pytest.fixture
def kpi(org: Organization) -> Kpi:
    return KpiFactory(org=org)


@pytest.fixture
def admin_api(org: Organization) -> ApiClient:
    return ApiClient.for_org(org, "admin")


@pytest.fixture
def read_api(org: Organization) -> ApiClient:
    return ApiClient.for_org(org, "read")


def written() -> tuple[int, int]:
    return Annotation.objects.count(), AuditEvent.objects.filter(
        action__startswith="annotation."
    ).count()


def test_an_admin_token_adds_a_note_and_reads_it_back(admin_api: ApiClient, kpi: Kpi) -> None:
    response = admin_api.post(
        f"/kpis/{kpi.pk}/annotations", {"text": " Deploy v2.3 ", "at": "2025-06-10T09:30:00+02:00"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "Deploy v2.3" and body["kpi_id"] == kpi.pk
    assert datetime.fromisoformat(body["at"]) == datetime(2025, 6, 10, 7, 30, tzinfo=UTC)
    assert body["author_id"] is None and body["author_name"] is None  # a token is no person
    event = AuditEvent.objects.get(action="annotation.added")
    assert event.actor_kind == "token" and event.target_id == kpi.pk


def test_at_defaults_to_now(admin_api: ApiClient, kpi: Kpi) -> None:
    response = admin_api.post(f"/kpis/{kpi.pk}/annotations", {"text": "now"})
    assert response.status_code == 201
    assert datetime.fromisoformat(response.json()["at"]) == NOW


def test_any_token_lists_notes_newest_first_with_since_until_and_limit(
    read_api: ApiClient, kpi: Kpi
) -> None:
    member = MembershipFactory(org=kpi.org)
    member.user.name = "Ana"
    member.user.save()
    for hours in (5, 1, 30):
        annotation_add(
            kpi=kpi,
            actor=Actor.for_user(member.user),
            text=f"{hours} h",
            at=NOW - timedelta(hours=hours),
        )
    every = read_api.get(f"/kpis/{kpi.pk}/annotations")
    assert every.status_code == 200
    assert [n["text"] for n in every.json()] == ["1 h", "5 h", "30 h"]
    assert every.json()[0]["author_id"] == member.user_id
    assert every.json()[0]["author_name"] == "Ana"
    ranged = read_api.get(
        f"/kpis/{kpi.pk}/annotations",
        {"since": "2025-06-10T06:00:00Z", "until": "2025-06-10T11:00:00Z"},
    )
    assert [n["text"] for n in ranged.json()] == ["5 h"]
    assert [
        n["text"] for n in read_api.get(f"/kpis/{kpi.pk}/annotations", {"limit": 1}).json()
    ] == ["1 h"]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2025-06-10T06:00:00"},  # no zone
        {"since": "yesterday"},
        {"since": "2025-06-10T12:00:00Z", "until": "2025-06-09T12:00:00Z"},
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
    ],
)
def test_a_bad_list_query_is_a_422(read_api: ApiClient, kpi: Kpi, query: dict[str, Any]) -> None:
    response = read_api.get(f"/kpis/{kpi.pk}/annotations", query)
    assert response.status_code == 422 and response.json()["detail"]


def test_a_read_token_may_not_add_or_delete(read_api: ApiClient, kpi: Kpi) -> None:
    note = annotation_add(kpi=kpi, actor=Actor.system(), text="kept")
    assert read_api.post(f"/kpis/{kpi.pk}/annotations", {"text": "no"}).status_code == 403
    assert read_api.delete(f"/annotations/{note.pk}").status_code == 403
    assert written() == (1, 1)


def test_an_admin_token_deletes_any_note_of_its_org(admin_api: ApiClient, kpi: Kpi) -> None:
    member = MembershipFactory(org=kpi.org)
    note = annotation_add(kpi=kpi, actor=Actor.for_user(member.user), text="theirs")
    response = admin_api.delete(f"/annotations/{note.pk}")
    assert response.status_code == 204
    assert not Annotation.objects.exists()
    event = AuditEvent.objects.get(action="annotation.deleted")
    assert event.actor_kind == "token" and event.before["text"] == "theirs"  # type: ignore[index]
    assert admin_api.delete(f"/annotations/{note.pk}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"text": "tab\tand\nline are fine but bell \u0007 is not"}, "text"),
        ({"text": "escape \u001b[2J"}, "text"),
        ({"text": 12}, "text"),
        ({"text": None}, "text"),
        ({"text": "ok", "at": "2025-06-11T12:00:01Z"}, "at"),  # more than a day ahead
        ({"text": "ok", "at": "2100-01-01T00:00:00Z"}, "at"),
        ({"text": "ok", "at": "2025-06-10T09:30:00"}, "at"),  # no zone
        ({"text": "ok", "at": "last tuesday"}, "at"),
        ({"text": "ok", "at": 1749550000}, "at"),  # a Unix time is not ISO 8601
        ({"text": "ok", "at": "9999-12-31T23:59:59-01:00"}, "at"),  # out of range in UTC
        ({"text": "ok", "at": "1969-12-31T23:59:59Z"}, "at"),
        ({"text": "ok", "author_id": 1}, "author_id"),  # unknown field
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    admin_api: ApiClient, kpi: Kpi, body: dict[str, Any], field: str
) -> None:
    response = admin_api.post(f"/kpis/{kpi.pk}/annotations", body)
    assert response.status_code == 422, response.content
    detail = response.json()
    assert field in detail["detail"] or field in (detail.get("errors") or {})
    assert written() == (0, 0)


def test_a_nul_character_is_refused_before_anything_is_read(admin_api: ApiClient, kpi: Kpi) -> None:
    response = admin_api.post(f"/kpis/{kpi.pk}/annotations", {"text": "a\u0000b"})
    assert response.status_code in (400, 422) and "NUL" in response.json()["detail"]
    assert written() == (0, 0)


def test_another_orgs_kpi_and_note_are_404_for_every_route(kpi: Kpi) -> None:
    note = annotation_add(kpi=kpi, actor=Actor.system(), text="private")
    stranger = ApiClient.for_org(OrganizationFactory(), "admin")
    for response in (
        stranger.get(f"/kpis/{kpi.pk}/annotations"),
        stranger.post(f"/kpis/{kpi.pk}/annotations", {"text": "hi"}),
        stranger.delete(f"/annotations/{note.pk}"),
    ):
        assert response.status_code == 404
        assert "private" not in response.content.decode()
    assert written() == (1, 1)


@pytest.mark.parametrize("bad_id", ["nope", "x" * 40, "a%00b", "..%2F"])
def test_unknown_or_malformed_ids_are_404(admin_api: ApiClient, kpi: Kpi, bad_id: str) -> None:
    assert admin_api.get(f"/kpis/{bad_id}/annotations").status_code == 404
    assert admin_api.post(f"/kpis/{bad_id}/annotations", {"text": "x"}).status_code == 404
    assert admin_api.delete(f"/annotations/{bad_id}").status_code == 404


def test_a_draft_kpis_notes_are_hidden_from_read_tokens_not_from_admin_tokens(
    org: Organization, read_api: ApiClient, admin_api: ApiClient
) -> None:
    draft = KpiFactory(org=org, published=False)
    annotation_add(kpi=draft, actor=Actor.system(), text="draft note")
    assert read_api.get(f"/kpis/{draft.pk}/annotations").status_code == 404
    assert [n["text"] for n in admin_api.get(f"/kpis/{draft.pk}/annotations").json()] == [
        "draft note"
    ]
    assert admin_api.post(f"/kpis/{draft.pk}/annotations", {"text": "ok"}).status_code == 201


def test_without_a_token_every_route_is_a_401(kpi: Kpi) -> None:
    note = annotation_add(kpi=kpi, actor=Actor.system(), text="kept")
    anonymous = ApiClient(None)
    assert anonymous.get(f"/kpis/{kpi.pk}/annotations").status_code == 401
    assert anonymous.post(f"/kpis/{kpi.pk}/annotations", {"text": "x"}).status_code == 401
    assert anonymous.delete(f"/annotations/{note.pk}").status_code == 401
    assert written() == (1, 1)
