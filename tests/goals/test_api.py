"""The goals API (goals/api.py, DESIGN §11): CRUD, check-ins, progress, KPI-linked key results
moved by a signed webhook delivery, permissions, tenancy and bad input writing nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from tests.api_client import ApiClient
from tests.connectors.signing import bind_webhook, signed_headers
from tests.factories import (
    CycleFactory,
    KeyResultFactory,
    KpiFactory,
    MembershipFactory,
    ObjectiveFactory,
    OrganizationFactory,
)

from pulseboard.audit.models import AuditEvent
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.goals.models import CheckIn, Cycle, KeyResult, Objective
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Organization
from pulseboard.orgs.teams import team_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory()


@pytest.fixture
def admin(org: Organization) -> ApiClient:
    return ApiClient.for_org(org, "admin")


@pytest.fixture
def reader(org: Organization) -> ApiClient:
    return ApiClient.for_org(org, "read")


def running_cycle(org: Organization, **changes: Any) -> Cycle:
    today = clock.now().date()
    fields = {
        "name": "This quarter",
        "starts_on": today - timedelta(days=45),
        "ends_on": today + timedelta(days=44),
    }
    return CycleFactory(org=org, **{**fields, **changes})


def written() -> tuple[int, ...]:
    return (
        Cycle.objects.count(),
        Objective.objects.count(),
        KeyResult.objects.count(),
        CheckIn.objects.count(),
        AuditEvent.objects.count(),
    )


def refused(send: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    before = written()
    response = send()
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.content
    assert written() == before, "a refused request must write nothing"
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


# --- the whole flow -----------------------------------------------------------------------


def test_cycle_objective_key_result_check_in_progress(admin: ApiClient, org: Organization) -> None:
    owner = MembershipFactory(org=org)
    response = admin.post(
        "/cycles", {"name": "Q1 2027", "starts_on": "2027-01-01", "ends_on": "2027-03-31"}
    )
    assert response.status_code == 201, response.content
    cycle = response.json()
    assert cycle["starts_on"] == "2027-01-01" and cycle["timezone"] == org.timezone
    assert cycle["state"] in ("upcoming", "active", "closed")

    response = admin.post(
        "/objectives",
        {"title": "Delight customers", "cycle_id": cycle["id"], "owner_id": owner.user_id},
    )
    assert response.status_code == 201, response.content
    objective = response.json()
    assert objective["status"] == "unknown" and objective["key_results"] == []

    response = admin.post(
        f"/objectives/{objective['id']}/key-results",
        {
            "title": "Onboarding calls",
            "kind": "increase_to",
            "start_value": 0,
            "target_value": 40,
            "owner_id": owner.user_id,
            "weight": 2,
        },
    )
    assert response.status_code == 201, response.content
    key_result = response.json()
    assert key_result["progress"] is None and key_result["status"] == "unknown"
    assert key_result["formatted_target"] == "40.0" and key_result["weight"] == 2

    response = admin.post(
        f"/key-results/{key_result['id']}/check-ins", {"value": 10, "note": "first ten"}
    )
    assert response.status_code == 201, response.content
    check_in = response.json()
    assert check_in["value"] == 10 and check_in["note"] == "first ten"
    assert check_in["key_result"]["current_value"] == 10
    assert check_in["key_result"]["progress"] == 0.25

    got = admin.get(f"/objectives/{objective['id']}").json()
    assert got["progress"] == 0.25 and len(got["key_results"]) == 1
    listed = admin.get("/objectives", {"cycle": cycle["id"]}).json()
    assert [o["id"] for o in listed] == [objective["id"]]

    progress = admin.get(f"/key-results/{key_result['id']}/progress").json()
    assert [p["value"] for p in progress["points"]] == [10]
    assert progress["points"][0]["progress"] == 0.25
    assert progress["starts_at"].startswith("2027-01-01")

    actions = set(AuditEvent.objects.filter(org=org).values_list("action", flat=True))
    assert {
        "cycle.created",
        "objective.created",
        "key_result.created",
        "key_result.checked_in",
    } <= actions


def test_patch_and_delete(admin: ApiClient, org: Organization) -> None:
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running_cycle(org)))
    objective, cycle = key_result.objective, key_result.objective.cycle
    assert admin.patch(f"/cycles/{cycle.pk}", {"name": "Renamed"}).json()["name"] == "Renamed"
    assert admin.patch(f"/objectives/{objective.pk}", {"title": "New"}).json()["title"] == "New"
    patched = admin.patch(f"/key-results/{key_result.pk}", {"target_value": 50}).json()
    assert patched["target_value"] == 50
    body = refused(lambda: admin.delete(f"/cycles/{cycle.pk}"), 409)
    assert objective.title in body["detail"] or "New" in body["detail"]
    assert admin.delete(f"/key-results/{key_result.pk}").status_code == 204
    assert admin.delete(f"/objectives/{objective.pk}").status_code == 204
    assert admin.delete(f"/cycles/{cycle.pk}").status_code == 204
    assert not Cycle.objects.exists()


def test_the_schema_lists_every_goals_operation(admin: ApiClient) -> None:
    paths = admin.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/cycles"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/key-results/{key_result_id}"])
    assert "post" in paths["/api/v1/key-results/{key_result_id}/check-ins"]
    assert "get" in paths["/api/v1/key-results/{key_result_id}/progress"]


# --- KPI-linked key results ---------------------------------------------------------------


def test_a_signed_webhook_delivery_moves_a_linked_key_result(
    admin: ApiClient, org: Organization
) -> None:
    kpi = KpiFactory(org=org, title="Retention", unit_type="percentage")
    objective = ObjectiveFactory(cycle=running_cycle(org))
    created = admin.post(
        f"/objectives/{objective.pk}/key-results",
        {
            "title": "Retention to 92%",
            "kind": "increase_to",
            "start_value": 85,
            "target_value": 92,
            "kpi_id": kpi.pk,
        },
    ).json()
    assert created["unit_type"] == "percentage" and created["status"] == "unknown"
    secret = bind_webhook(kpi)
    body = json.dumps({"value": 91.3})
    delivery = Client().post(
        f"/hooks/kpis/{kpi.pk}",
        body,
        content_type="application/json",
        headers=signed_headers(secret, body),
    )
    assert delivery.status_code == 200, delivery.content
    key_result = admin.get(f"/key-results/{created['id']}").json()
    assert key_result["current_value"] == 91.3
    assert key_result["progress"] == pytest.approx(0.9)
    assert key_result["formatted_current"] == "91.3%" and key_result["status"] == "on_track"


def test_a_check_in_on_a_linked_key_result_is_409_naming_the_kpi(
    admin: ApiClient, org: Organization
) -> None:
    kpi = KpiFactory(org=org, title="Monthly churn")
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running_cycle(org)), kpi=kpi)
    body = refused(lambda: admin.post(f"/key-results/{key_result.pk}/check-ins", {"value": 2}), 409)
    assert "Monthly churn" in body["detail"]


def test_deleting_a_kpi_that_key_results_follow_is_409_naming_them(
    admin: ApiClient, org: Organization
) -> None:
    kpi = KpiFactory(org=org)
    KeyResultFactory(
        objective=ObjectiveFactory(cycle=running_cycle(org)), kpi=kpi, title="Churn to 2%"
    )
    before = AuditEvent.objects.count()
    response = admin.delete(f"/kpis/{kpi.pk}")
    assert response.status_code == 409
    assert "Churn to 2%" in response.json()["detail"]
    assert Kpi.objects.filter(pk=kpi.pk).exists() and AuditEvent.objects.count() == before


# --- permissions and tenancy --------------------------------------------------------------


def test_read_tokens_read_and_cannot_write(reader: ApiClient, org: Organization) -> None:
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running_cycle(org)))
    objective, cycle = key_result.objective, key_result.objective.cycle
    for path in (
        "/cycles",
        f"/cycles/{cycle.pk}",
        "/objectives",
        f"/objectives/{objective.pk}",
        f"/key-results/{key_result.pk}",
        f"/key-results/{key_result.pk}/progress",
    ):
        assert reader.get(path).status_code == 200, path
    for method, path, payload in (
        ("POST", "/cycles", {"name": "x", "starts_on": "2027-01-01", "ends_on": "2027-01-02"}),
        ("PATCH", f"/cycles/{cycle.pk}", {"name": "x"}),
        ("DELETE", f"/objectives/{objective.pk}", None),
        ("POST", f"/objectives/{objective.pk}/key-results", {}),
        ("POST", f"/key-results/{key_result.pk}/check-ins", {"value": 1}),
    ):
        refused(lambda m=method, p=path, b=payload: reader.send(m, p, b), 403)


def test_another_orgs_objects_are_404(admin: ApiClient) -> None:
    theirs = KeyResultFactory()
    objective, cycle = theirs.objective, theirs.objective.cycle
    for method, path, payload in (
        ("GET", f"/cycles/{cycle.pk}", None),
        ("PATCH", f"/cycles/{cycle.pk}", {"name": "mine now"}),
        ("DELETE", f"/cycles/{cycle.pk}", None),
        ("GET", f"/objectives/{objective.pk}", None),
        ("GET", f"/objectives?cycle={cycle.pk}", None),
        ("PATCH", f"/objectives/{objective.pk}", {"title": "mine"}),
        ("DELETE", f"/objectives/{objective.pk}", None),
        (
            "POST",
            f"/objectives/{objective.pk}/key-results",
            {"title": "x", "kind": "stay_above", "target_value": 1},
        ),
        ("GET", f"/key-results/{theirs.pk}", None),
        ("PATCH", f"/key-results/{theirs.pk}", {"title": "mine"}),
        ("DELETE", f"/key-results/{theirs.pk}", None),
        ("POST", f"/key-results/{theirs.pk}/check-ins", {"value": 1}),
        ("GET", f"/key-results/{theirs.pk}/progress", None),
    ):
        body = refused(lambda m=method, p=path, b=payload: admin.send(m, p, b), 404)
        assert theirs.title not in json.dumps(body)
    assert admin.get("/cycles").json() == [] and admin.get("/objectives").json() == []


# --- bad input ----------------------------------------------------------------------------

CYCLE = {"name": "Q1", "starts_on": "2027-01-01", "ends_on": "2027-03-31"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**CYCLE, "ends_on": "2026-12-31"}, "ends_on"),
        ({**CYCLE, "starts_on": "2027-02-30"}, "starts_on"),
        ({**CYCLE, "starts_on": 1798761600}, "starts_on"),
        ({**CYCLE, "starts_on": "2027-01-01T00:00:00Z"}, "starts_on"),
        ({**CYCLE, "ends_on": "99999-01-01"}, "ends_on"),
        ({**CYCLE, "ends_on": "9999-12-31"}, "ends_on"),
        ({**CYCLE, "name": ""}, "name"),
        ({**CYCLE, "name": "\ud800"}, None),
        ({**CYCLE, "extra": 1}, "extra"),
        ({"name": "Q1"}, "starts_on"),
    ],
)
def test_bad_cycles_are_refused(
    admin: ApiClient, payload: dict[str, Any], field: str | None
) -> None:
    raw = json.dumps(payload).encode()
    body = refused(lambda: admin.send("POST", "/cycles", raw=raw), (400, 422))
    if field:
        assert field in body["errors"]


@pytest.fixture
def objective(org: Organization) -> Objective:
    return ObjectiveFactory(cycle=running_cycle(org))


KR = {"title": "KR", "kind": "increase_to", "start_value": 1, "target_value": 2}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**KR, "target_value": 1}, "target_value"),
        ({**KR, "kind": "decrease_to"}, "target_value"),
        ({**KR, "kind": "grow_to"}, "kind"),
        ({**KR, "target_value": 1e300}, "target_value"),
        ({**KR, "target_value": "2"}, "target_value"),
        ({**KR, "target_value": True}, "target_value"),
        ({**KR, "weight": 0}, "weight"),
        ({**KR, "weight": -1}, "weight"),
        ({**KR, "kpi_id": "unknown-kpi-id"}, "kpi_id"),
        ({**KR, "kpi_id": "bad\u0000id"}, None),
        ({**KR, "kpi_id": "é/../x"}, "kpi_id"),
        ({**KR, "owner_id": 424242}, "owner_id"),
        ({**KR, "owner_id": "1"}, "owner_id"),
        ({**KR, "start_value": None}, "start_value"),
        ({"title": "KR", "kind": "increase_to", "start_value": 1}, "target_value"),
        ({**KR, "objective_id": "x"}, "objective_id"),
    ],
)
def test_bad_key_results_are_refused(
    admin: ApiClient, objective: Objective, payload: dict[str, Any], field: str | None
) -> None:
    raw = json.dumps(payload).encode()
    body = refused(
        lambda: admin.send("POST", f"/objectives/{objective.pk}/key-results", raw=raw), (400, 422)
    )
    if field:
        assert field in body["errors"]


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_and_infinity_are_refused(
    admin: ApiClient, objective: Objective, number: bytes
) -> None:
    raw = b'{"title": "KR", "kind": "stay_above", "target_value": ' + number + b"}"
    refused(
        lambda: admin.send("POST", f"/objectives/{objective.pk}/key-results", raw=raw), (400, 422)
    )
    key_result = KeyResultFactory(objective=objective)
    check_in = b'{"value": ' + number + b"}"
    refused(
        lambda: admin.send("POST", f"/key-results/{key_result.pk}/check-ins", raw=check_in),
        (400, 422),
    )


def test_a_kpi_of_another_org_is_refused(admin: ApiClient, objective: Objective) -> None:
    theirs = KpiFactory()
    body = refused(
        lambda: admin.post(f"/objectives/{objective.pk}/key-results", {**KR, "kpi_id": theirs.pk}),
        422,
    )
    assert "of this organization" in body["errors"]["kpi_id"]


def test_a_key_result_cannot_move_to_another_orgs_objective(
    admin: ApiClient, objective: Objective
) -> None:
    key_result = KeyResultFactory(objective=objective)
    theirs = ObjectiveFactory()
    body = refused(
        lambda: admin.patch(f"/key-results/{key_result.pk}", {"objective_id": theirs.pk}), 422
    )
    assert "objective_id" in body["errors"]
    body = refused(
        lambda: admin.patch(f"/objectives/{objective.pk}", {"cycle_id": theirs.cycle_id}), 422
    )
    assert "cycle_id" in body["errors"]


@pytest.mark.parametrize("odd", ["%00", "%FF%FE", "..%2F..%2Fetc", "x" * 40, "%E2%80%AE", "a%20b"])
def test_odd_bytes_in_ids_are_404(admin: ApiClient, odd: str) -> None:
    for method, path in (
        ("GET", f"/cycles/{odd}"),
        ("PATCH", f"/cycles/{odd}"),
        ("GET", f"/objectives/{odd}"),
        ("DELETE", f"/objectives/{odd}"),
        ("POST", f"/objectives/{odd}/key-results"),
        ("GET", f"/key-results/{odd}"),
        ("POST", f"/key-results/{odd}/check-ins"),
        ("GET", f"/key-results/{odd}/progress"),
    ):
        payload = {"value": 1} if path.endswith("check-ins") else {}
        if path.endswith("key-results"):
            payload = {"title": "x", "kind": "stay_above", "target_value": 1}
        if method == "PATCH":
            payload = {"name": "x"}
        response = admin.send(method, path, payload if method != "GET" else None)
        assert response.status_code in (400, 404), (path, response.status_code)
    assert admin.get("/objectives", {"cycle": "\x00"}).status_code == 404


def test_a_closed_cycle_reads_back_achieved_or_missed(admin: ApiClient, org: Organization) -> None:
    cycle = CycleFactory(org=org, starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
    objective = ObjectiveFactory(cycle=cycle)
    KeyResultFactory(objective=objective, current_value=100)
    KeyResultFactory(objective=objective, current_value=20)
    with time_machine.travel("2026-06-01T00:00:00Z", tick=False):
        got = admin.get(f"/objectives/{objective.pk}").json()
        state = admin.get(f"/cycles/{cycle.pk}").json()["state"]
    assert [kr["status"] for kr in got["key_results"]] == ["achieved", "missed"]
    assert got["status"] == "missed" and state == "closed"


# --- one hostile field at a time ----------------------------------------------------------

TEXT = ["12", "true", "[]", "{}", json.dumps("x" * 5000), '"\\u0000"', '"\\ud800"']
NUMBER = ['"1"', "true", "NaN", "Infinity", "-Infinity", "1e999", "1e300", "[]", "{}", '"NaN"']
DATE = ['"2027-02-30"', '"yesterday"', "20270101", '"2027-01-01T00:00:00Z"', '"99999-01-01"']
OBJECT_ID = ["5", '""', json.dumps("x" * 100), '"\\u0000"', '"../x"', '"nosuchthing"', "[]"]
HOSTILE: dict[str, list[str]] = {
    "name": [*TEXT, '""', "null"],
    "title": [*TEXT, '""', "null"],
    "description": TEXT,
    "note": TEXT,
    "unit_label": TEXT,
    "starts_on": [*DATE, "null"],
    "ends_on": [*DATE, '"1999-01-01"'],
    "start_value": NUMBER,
    "target_value": [*NUMBER, "null"],
    "value": [*NUMBER, "null"],
    "weight": [*NUMBER, "0", "-1", "1001"],
    "kind": ['"grow_to"', "1", "null", '""'],
    "unit_type": ['"furlongs"', "1", "null"],
    "display_format": ['"roman"', "null"],
    "cycle_id": [*OBJECT_ID, "null"],
    "objective_id": [*OBJECT_ID, "null"],
    "kpi_id": OBJECT_ID,
    "owner_id": ['"1"', "0", "-1", str(2**63), "1.5", "true", "999999"],
}


def hostile_cases(base: dict[str, Any]) -> list[tuple[str, bytes]]:
    cases = []
    for field in base:
        for fragment in HOSTILE[field]:
            text = json.dumps({**base, field: "HOLE"}).replace('"HOLE"', fragment, 1)
            cases.append((field, text.encode("utf-8", "surrogatepass")))
    return cases


def test_every_goals_body_with_one_hostile_field_is_refused_and_writes_nothing(
    admin: ApiClient, org: Organization, settings: Any
) -> None:
    # Some 200 refused writes: the per-token write limit would answer 429 first.
    settings.PULSEBOARD = {**settings.PULSEBOARD, "API_WRITE_RATE": "100000/minute"}
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running_cycle(org)))
    objective, cycle = key_result.objective, key_result.objective.cycle
    operations = [
        ("POST", "/cycles", {"name": "Q", "starts_on": "2027-01-01", "ends_on": "2027-03-31"}),
        ("PATCH", f"/cycles/{cycle.pk}", {"name": "Q", "ends_on": "2099-01-01"}),
        (
            "POST",
            "/objectives",
            {"title": "T", "description": "", "cycle_id": cycle.pk, "owner_id": None},
        ),
        ("PATCH", f"/objectives/{objective.pk}", {"cycle_id": cycle.pk, "title": "T"}),
        (
            "POST",
            f"/objectives/{objective.pk}/key-results",
            {"title": "K", "kind": "increase_to", "start_value": 1, "target_value": 2,
             "weight": 1, "unit_type": "number", "unit_label": "", "display_format": "integer",
             "kpi_id": None, "owner_id": None},
        ),
        (
            "PATCH",
            f"/key-results/{key_result.pk}",
            {"objective_id": objective.pk, "kind": "increase_to", "target_value": 50},
        ),
        ("POST", f"/key-results/{key_result.pk}/check-ins", {"value": 1, "note": ""}),
    ]  # fmt: skip
    for method, path, base in operations:
        for field, body in hostile_cases(base):
            before = written()
            response = admin.send(method, path, raw=body)
            assert response.status_code in (400, 422), (method, path, field, body[:80])
            assert written() == before, (method, path, field, body[:80])
            assert response.json()["detail"]


# --- teams (DESIGN §13) ---------------------------------------------------------------------


def test_an_objective_joins_a_team_of_its_org_and_leaves_it(
    org: Organization, admin: ApiClient
) -> None:
    team = team_create(org=org, actor=Actor.system("test"), name="Growth")
    cycle = running_cycle(org)
    created = admin.post("/objectives", {"title": "Grow", "cycle_id": cycle.pk, "team_id": team.pk})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["team_id"] == team.pk
    assert admin.get(f"/objectives/{body['id']}").json()["team_id"] == team.pk
    cleared = admin.patch(f"/objectives/{body['id']}", {"team_id": None})
    assert cleared.status_code == 200 and cleared.json()["team_id"] is None
    event = AuditEvent.objects.get(action="objective.updated", target_id=body["id"])
    assert event.before == {"team_id": team.pk} and event.after == {"team_id": None}


@pytest.mark.parametrize("bad", ["theirs", "nosuchteam", "", "bad id!", 7])
def test_an_objective_cannot_join_another_orgs_team_or_no_team(
    org: Organization, admin: ApiClient, bad: Any
) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=Actor.system("test"), name="Theirs")
    team_id = theirs.pk if bad == "theirs" else bad
    cycle = running_cycle(org)
    objective = ObjectiveFactory(cycle=cycle)
    refused(
        lambda: admin.post("/objectives", {"title": "T", "cycle_id": cycle.pk, "team_id": team_id}),
        422,
    )
    refused(lambda: admin.patch(f"/objectives/{objective.pk}", {"team_id": team_id}), 422)
    objective.refresh_from_db()
    assert objective.team_id is None


def test_objectives_filter_by_team_id_or_slug_of_the_org_only(
    org: Organization, reader: ApiClient
) -> None:
    cycle = running_cycle(org)
    growth = team_create(org=org, actor=Actor.system("test"), name="Growth")
    platform = team_create(org=org, actor=Actor.system("test"), name="Platform")
    grow = ObjectiveFactory(cycle=cycle, title="Grow", team=growth)
    ObjectiveFactory(cycle=cycle, title="Stabilize", team=platform)
    ObjectiveFactory(cycle=cycle, title="No team")
    for key in (growth.pk, "growth"):
        listed = reader.get("/objectives", {"team": key})
        assert listed.status_code == 200 and [o["id"] for o in listed.json()] == [grow.pk]
    both = reader.get("/objectives", {"team": "growth", "cycle": cycle.pk}).json()
    assert [o["title"] for o in both] == ["Grow"]
    assert len(reader.get("/objectives").json()) == 3
    theirs = team_create(org=OrganizationFactory(), actor=Actor.system("test"), name="Theirs")
    for key in (theirs.pk, "theirs", "nope", "x" * 60, "a b", "growth\x00"):
        response = reader.get("/objectives", {"team": key})
        assert response.status_code == 404, (key, response.status_code)
        assert "no team" in response.json()["detail"]
    assert reader.get("/objectives", {"team": "x" * 61}).status_code == 422
