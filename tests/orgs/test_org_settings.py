"""Organization settings (DESIGN §15): ``org_update`` and ``GET``/``PATCH /api/v1/org``.

Name, locale and time zone change together or not at all, in canonical form, audited;
any token reads its own org, only an admin token changes it, and never another org.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.api_client import ApiClient
from tests.factories import MembershipFactory, OrganizationFactory

from pulseboard.api import api
from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.orgs.models import Organization
from pulseboard.orgs.services import org_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def admin(org: Organization) -> ApiClient:
    return ApiClient.for_org(org, "admin")


def _state(org: Organization) -> tuple[str, str, str]:
    org.refresh_from_db()
    return org.name, org.locale, org.timezone


def test_update_stores_canonical_values_and_audits_before_and_after(org: Organization) -> None:
    user = MembershipFactory(org=org, role="admin").user
    actor = Actor.for_user(user, "192.0.2.7")
    updated = org_update(
        org=org, actor=actor, name="  Acme GmbH ", locale="de-de", timezone="europe/berlin"
    )
    assert (updated.name, updated.locale, updated.timezone) == (
        "Acme GmbH",
        "de_DE",
        "Europe/Berlin",
    )
    assert _state(org) == ("Acme GmbH", "de_DE", "Europe/Berlin")
    event = AuditEvent.objects.get(org=org, action="org.updated")
    assert event.before == {"name": "Acme", "locale": "en_US", "timezone": "UTC"}
    assert event.after == {"name": "Acme GmbH", "locale": "de_DE", "timezone": "Europe/Berlin"}
    assert event.target_type == "org" and event.target_id == str(org.pk)
    assert event.actor_id == str(user.pk) and event.ip == "192.0.2.7"


def test_update_audits_only_what_changed_and_nothing_when_nothing_did(org: Organization) -> None:
    actor = Actor.system("test")
    org_update(org=org, actor=actor, name="Acme", locale="en_US", timezone="Asia/Tokyo")
    event = AuditEvent.objects.get(org=org, action="org.updated")
    assert event.before == {"timezone": "UTC"} and event.after == {"timezone": "Asia/Tokyo"}
    org_update(org=org, actor=actor, name="Acme", locale="en-us", timezone="asia/tokyo")
    org_update(org=org, actor=actor)
    assert AuditEvent.objects.filter(org=org, action="org.updated").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Acme\x00"}, "name"),
        ({"name": "Acme\nInc"}, "name"),
        ({"name": "Acme \ud800"}, "name"),
        ({"locale": "xx_YY"}, "locale"),
        ({"locale": "de_DE\x00"}, "locale"),
        ({"locale": "../../etc"}, "locale"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"timezone": "../etc"}, "timezone"),
        ({"timezone": "x" * 10_000}, "timezone"),
    ],
)
def test_a_bad_field_is_refused_and_nothing_is_written(
    org: Organization, changes: dict[str, Any], field: str
) -> None:
    # Every other field is valid and would change: all or nothing.
    wanted = {"name": "New name", "locale": "fr_FR", "timezone": "Europe/Paris", **changes}
    with pytest.raises(ValidationFailed) as caught:
        org_update(org=org, actor=Actor.system("test"), **wanted)
    assert set(caught.value.errors) == {field}
    assert caught.value.message.startswith(f"{field}: ")
    assert _state(org) == ("Acme", "en_US", "UTC")
    assert not AuditEvent.objects.filter(org=org, action="org.updated").exists()


def test_every_bad_field_is_named_at_once(org: Organization) -> None:
    with pytest.raises(ValidationFailed) as caught:
        org_update(org=org, actor=Actor.system("test"), name="", locale="xx", timezone="Nowhere")
    assert set(caught.value.errors) == {"name", "locale", "timezone"}


def test_any_token_reads_its_own_org(org: Organization) -> None:
    OrganizationFactory(name="Other", slug="other", locale="fr_FR")
    for scope in ("read", "admin"):
        response = ApiClient.for_org(org, scope).get("/org")
        assert response.status_code == 200
        assert response.json() == {
            "name": "Acme",
            "slug": "acme",
            "locale": "en_US",
            "timezone": "UTC",
        }


def test_an_admin_token_patches_only_the_fields_sent(org: Organization, admin: ApiClient) -> None:
    response = admin.patch("/org", {"locale": "de-DE"})
    assert response.status_code == 200
    assert response.json() == {"name": "Acme", "slug": "acme", "locale": "de_DE", "timezone": "UTC"}
    response = admin.patch("/org", {"name": "Acme AG", "timezone": "Europe/Zurich"})
    assert response.json()["timezone"] == "Europe/Zurich"
    assert _state(org) == ("Acme AG", "de_DE", "Europe/Zurich")
    events = AuditEvent.objects.filter(org=org, action="org.updated").order_by("created_at", "pk")
    assert [e.actor_kind for e in events] == ["token", "token"]
    assert events[0].after == {"locale": "de_DE"}


def test_patch_changes_the_callers_org_only(org: Organization) -> None:
    other = OrganizationFactory(name="Other", slug="other")
    response = ApiClient.for_org(other, "admin").patch("/org", {"name": "Taken over"})
    assert response.status_code == 200 and response.json()["slug"] == "other"
    assert _state(org) == ("Acme", "en_US", "UTC")
    assert not AuditEvent.objects.filter(org=org, action="org.updated").exists()


def test_a_read_token_cannot_patch(org: Organization) -> None:
    response = ApiClient.for_org(org, "read").patch("/org", {"name": "Mine now"})
    assert response.status_code == 403
    assert _state(org) == ("Acme", "en_US", "UTC")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"locale": "klingon"}, 422, "locale"),
        ({"locale": "de_DE@euro"}, 422, "locale"),
        ({"locale": "x" * 21}, 422, "locale"),
        ({"locale": 5}, 422, "locale"),
        ({"locale": None}, 422, "locale"),
        ({"timezone": "Europe/Atlantis"}, 422, "timezone"),
        ({"timezone": "../../../etc/passwd"}, 422, "timezone"),
        ({"timezone": "/etc/passwd"}, 422, "timezone"),
        ({"timezone": "localtime"}, 422, "timezone"),
        ({"timezone": "x" * 61}, 422, "timezone"),
        ({"timezone": ["UTC"]}, 422, "timezone"),
        ({"name": ""}, 422, "name"),
        ({"name": " "}, 422, "name"),
        ({"name": "x" * 121}, 422, "name"),
        ({"name": None}, 422, "name"),
        ({"slug": "mine"}, 422, "slug"),
        ({"name": "NUL \u0000 inside"}, 400, None),
    ],
)
def test_bad_patches_get_a_clear_4xx_and_write_nothing(
    org: Organization, admin: ApiClient, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = admin.patch("/org", body)
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["detail"]
    if field is not None:
        assert field in answer["errors"]
    assert _state(org) == ("Acme", "en_US", "UTC")
    assert not AuditEvent.objects.filter(org=org, action="org.updated").exists()


def test_the_schema_describes_both_operations() -> None:
    schema = api.get_openapi_schema()
    operations = schema["paths"]["/api/v1/org"]
    assert operations["get"]["operationId"] == "org_get"
    assert operations["patch"]["operationId"] == "org_patch"
    patch_body = operations["patch"]["requestBody"]["content"]["application/json"]["schema"]
    ref = patch_body["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][ref]["properties"]
    assert set(properties) == {"name", "locale", "timezone"}
    assert all("default" not in prop for prop in properties.values())
