"""Audit endpoint: admin only, own org only, filters, and cursor paging that never skips."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.api_client import ApiClient
from tests.factories import OrganizationFactory

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core.actors import Actor

pytestmark = pytest.mark.django_db
T0 = datetime.fromisoformat("2025-03-01T12:00:00+00:00")


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


def _events(
    org: Any, count: int, *, same_time: bool = False, start: datetime = T0, **fields: Any
) -> list[Any]:
    made = []
    for i in range(count):
        with time_machine.travel(start if same_time else start + timedelta(minutes=i), tick=False):
            made.append(
                audit_record(
                    org_id=org.pk,
                    actor=fields.get("actor", Actor.system("test")),
                    action=fields.get("action", Action.KPI_UPDATED),
                    target_type="kpi",
                    target_id=fields.get("target_id", f"kpi{i}"),
                    before={"n": i},
                    after={"n": i + 1},
                )
            )
    return made


def _ids(response: Any) -> list[int]:
    return [event["id"] for event in response.json()["items"]]


def test_admin_reads_own_org_events_newest_first(org: Any) -> None:
    events = _events(org, 3)
    _events(OrganizationFactory(), 2)
    response = ApiClient.for_org(org).get("/audit")
    assert response.status_code == 200
    # token.created of the client's own token is the newest event.
    assert _ids(response)[1:] == [e.pk for e in reversed(events)]
    first = response.json()["items"][1]
    assert first["action"] == "kpi.updated" and first["after"] == {"n": 3}
    assert first["actor_kind"] == "system" and first["actor_label"] == "test"


def test_read_token_cannot_read_audit(org: Any) -> None:
    response = ApiClient.for_org(org, "read").get("/audit")
    assert response.status_code == 403 and response.json()["detail"]


@pytest.mark.parametrize(("same_time", "limit"), [(False, 2), (False, 7), (True, 3)])
def test_cursor_pages_visit_every_event_once_even_with_equal_times(
    org: Any, same_time: bool, limit: int
) -> None:
    client = ApiClient.for_org(org)
    events = _events(org, 10, same_time=same_time, action=Action.VALUE_RECORDED)
    seen: list[int] = []
    params: dict[str, Any] = {"limit": limit, "action": "value.recorded"}
    while True:
        page = client.get("/audit", params).json()
        assert len(page["items"]) <= limit
        seen += [event["id"] for event in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
        # Events recorded while paging are newer: they must not shift the pages.
        _events(org, 1, action=Action.VALUE_RECORDED, start=T0 + timedelta(days=1))
    assert seen == sorted((e.pk for e in events), reverse=True)


def test_filters_by_kpi_action_actor_and_time(org: Any) -> None:
    client = ApiClient.for_org(org)
    ada = Actor(kind="user", id="7", label="ada@example.com")  # type: ignore[arg-type]
    _events(org, 2, target_id="k1")
    (by_ada,) = _events(org, 1, actor=ada, action=Action.KPI_DELETED, target_id="k2")
    assert _ids(client.get("/audit", {"kpi": "k2"})) == [by_ada.pk]
    assert _ids(client.get("/audit", {"action": "kpi.deleted"})) == [by_ada.pk]
    assert _ids(client.get("/audit", {"actor": "ada@"})) == [by_ada.pk]
    assert _ids(client.get("/audit", {"actor": "7"})) == [by_ada.pk]
    window = {"since": "2025-03-01T12:00:00Z", "until": "2025-03-01T12:01:00Z", "kpi": "k1"}
    assert len(_ids(client.get("/audit", window))) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"action": "kpi.exploded"},
        {"since": "2025-03-01T12:00:00"},
        {"kpi": "a\x00b"},
        {"actor": "a\x00b"},
        {"cursor": "not-a-cursor"},
        {"cursor": base64.urlsafe_b64encode(b"2025-01-01T00:00:00|1").decode()},
        {"cursor": base64.urlsafe_b64encode(b"2025-01-01T00:00:00+00:00|" + b"9" * 20).decode()},
        {"cursor": base64.urlsafe_b64encode(b"9999-12-31T23:59:59-01:00|1").decode()},
    ],
)  # fmt: skip
def test_bad_filters_or_cursors_are_422(org: Any, params: dict[str, Any]) -> None:
    response = ApiClient.for_org(org).get("/audit", params)
    assert response.status_code == 422, response.content
    assert response.json()["errors"]
