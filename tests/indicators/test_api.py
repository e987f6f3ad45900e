"""KPI endpoints: every operation, every error status, tenancy, scopes, hostile bodies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from tests.api_client import ApiClient, api_token
from tests.factories import KpiFactory, KpiHistoryFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_cards
from pulseboard.orgs.services import token_revoke

pytestmark = pytest.mark.django_db

# DESIGN §10: "A KPI reads back as at least" these.
DESIGN_FIELDS = {
    "id", "title", "description", "shape", "threshold", "lower", "upper", "direction",
    "baseline", "baseline_mode", "baseline_period", "warn_at", "warn_margin", "unit_type",
    "unit_label", "display_format", "published", "position", "category", "parent_id",
    "expected_every", "compare_period", "stale", "change_abs", "change_pct", "current_value",
    "observed_at", "status", "formatted_value", "target_phrase", "source_kind",
    "last_pulled_at", "source_failing",
}  # fmt: skip
NPS = {"title": "NPS", "shape": "stay_above", "threshold": 35}


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def admin(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "admin")


@pytest.fixture
def reader(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "read")


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "pb_not-a-token", "x" * 500])
def test_missing_or_unknown_token_is_401_with_bearer_challenge(token: str | None) -> None:
    response = ApiClient(token).get("/kpis")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "token" in response.json()["detail"]


def test_revoked_token_is_401(org: Any) -> None:
    plaintext = api_token(org)
    token_revoke(token=org.api_tokens.get(), actor=Actor.system("test"))
    assert ApiClient(plaintext).get("/kpis").status_code == 401


def test_using_a_token_records_last_used_at(org: Any, admin: ApiClient) -> None:
    assert org.api_tokens.get().last_used_at is None
    admin.get("/kpis")
    assert org.api_tokens.get().last_used_at is not None


# --- list ---------------------------------------------------------------------------------


def test_list_returns_published_kpis_of_own_org_in_home_order(org: Any, reader: ApiClient) -> None:
    second = KpiFactory(org=org, position=2)
    first = KpiFactory(org=org, position=1)
    KpiFactory(org=org, position=0, published=False)
    KpiFactory()  # another org
    response = reader.get("/kpis")
    assert response.status_code == 200
    assert [k["id"] for k in response.json()] == [first.pk, second.pk]


def test_admin_lists_drafts_with_include_drafts(org: Any, admin: ApiClient) -> None:
    draft = KpiFactory(org=org, published=False)
    assert admin.get("/kpis").json() == []
    assert [k["id"] for k in admin.get("/kpis", {"include": "drafts"}).json()] == [draft.pk]


def test_read_token_asking_for_drafts_is_403(reader: ApiClient) -> None:
    response = reader.get("/kpis", {"include": "drafts"})
    assert response.status_code == 403 and "admin" in response.json()["detail"]


def test_list_rejects_an_unknown_include_value(admin: ApiClient) -> None:
    response = admin.get("/kpis", {"include": "everything"})
    assert response.status_code == 422 and "query.include" in response.json()["errors"]


def test_list_query_count_does_not_grow_with_kpis(
    org: Any, admin: ApiClient, django_assert_max_num_queries: Any
) -> None:
    KpiFactory(org=org)
    admin.get("/kpis")  # warm: last_used_at is written at most once a minute
    with django_assert_max_num_queries(6) as few:
        admin.get("/kpis")
    for _ in range(6):
        KpiFactory(org=org, compare_period="7d")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(admin.get("/kpis").json()) == 7


# --- read ---------------------------------------------------------------------------------


def test_kpi_reads_back_every_design_field_matching_the_web_card(
    org: Any, reader: ApiClient
) -> None:
    kpi = KpiFactory(org=org, unit_type="percentage", display_format="decimal_2", threshold=99.9)
    now = timezone.now()
    KpiHistoryFactory(kpi=kpi, value=99.0, observed_at=now - timedelta(days=8))
    value_record(kpi=kpi, value=99.95, observed_at=now, source="api", actor=Actor.system("t"))
    body = reader.get(f"/kpis/{kpi.pk}").json()
    assert set(body) >= DESIGN_FIELDS
    (card,) = kpi_cards(org=org, kpis=[Kpi.objects.get(pk=kpi.pk)], now=timezone.now())
    assert body["formatted_value"] == card.formatted_value == "99.95%"
    assert body["target_phrase"] == card.target_phrase
    assert (body["stale"], body["status"]) == (card.stale, "green")
    assert body["change_abs"] == pytest.approx(0.95)
    assert body["change_pct"] == pytest.approx(card.change_pct)
    assert body["change_text"] == card.change_text
    assert body["source_kind"] == "manual" and body["source_failing"] is False


def test_empty_optional_text_fields_read_back_as_null(org: Any, reader: ApiClient) -> None:
    kpi = KpiFactory(org=org)
    body = reader.get(f"/kpis/{kpi.pk}").json()
    assert [body[f] for f in ("direction", "category", "baseline_period", "expected_every")] == [
        None
    ] * 4
    assert body["current_value"] is None and body["status"] == "unknown"


def test_other_orgs_kpi_is_404_for_every_operation(admin: ApiClient) -> None:
    foreign = KpiFactory()
    path = f"/kpis/{foreign.pk}"
    answers = [
        admin.get(path),
        admin.patch(path, {"title": "mine now"}),
        admin.put(path + "/value", {"value": 1}),
        admin.delete(path),
        admin.get(path + "/history"),
    ]
    assert [r.status_code for r in answers] == [404] * 5
    assert all(r.json() == {"detail": "KPI not found"} for r in answers)
    foreign.refresh_from_db()
    assert foreign.title != "mine now" and foreign.current_value is None


def test_draft_is_404_for_read_token_and_visible_to_admin(org: Any) -> None:
    draft = KpiFactory(org=org, published=False)
    assert ApiClient.for_org(org, "read").get(f"/kpis/{draft.pk}").status_code == 404
    assert ApiClient.for_org(org, "admin").get(f"/kpis/{draft.pk}").status_code == 200


@pytest.mark.parametrize("kpi_id", ["nope", "a%00b", "%F0%9F%98%80", "x" * 40, "..", "a.b"])
def test_unknown_or_malformed_id_is_404(admin: ApiClient, kpi_id: str) -> None:
    response = admin.get(f"/kpis/{kpi_id}")
    assert response.status_code == 404 and response.json()["detail"] == "KPI not found"


# --- create -------------------------------------------------------------------------------


def test_admin_creates_kpi_audited_as_the_token(org: Any, admin: ApiClient) -> None:
    response = admin.post(
        "/kpis", {**NPS, "unit_type": "number", "published": True, "category": "lagging"}
    )
    assert response.status_code == 201
    body = response.json()
    kpi = Kpi.objects.get(pk=body["id"], org=org)
    assert (kpi.threshold, kpi.published, kpi.category) == (35, True, "lagging")
    assert body["target_phrase"] and body["status"] == "unknown"
    event = AuditEvent.objects.get(org=org, action="kpi.created")
    assert (event.actor_kind, event.actor_label) == ("token", "token:test")


def test_read_token_cannot_create(org: Any, reader: ApiClient) -> None:
    response = reader.post("/kpis", NPS)
    assert response.status_code == 403 and "admin scope" in response.json()["detail"]
    assert not Kpi.objects.filter(org=org).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shape": "stay_above", "threshold": 1}, "title"),
        ({"title": "x", "threshold": 1}, "shape"),
        ({**NPS, "shape": "sideways"}, "shape"),
        ({**NPS, "threshold": "35"}, "threshold"),
        ({**NPS, "threshold": True}, "threshold"),
        ({**NPS, "colour": "red"}, "colour"),
        ({**NPS, "title": "x" * 201}, "title"),
        ({**NPS, "position": -1}, "position"),
        ({**NPS, "position": 2**40}, "position"),
        ({**NPS, "unit_type": "smiles"}, "unit_type"),
        ({**NPS, "compare_period": "soon"}, "compare_period"),
        ({"title": "x", "shape": "stay_above"}, "threshold"),
        ({"title": "x", "shape": "stay_between", "lower": 5, "upper": 1}, "upper"),
        ({**NPS, "warn_at": 10}, "warn_at"),
        ({"title": "x", "shape": "trend"}, "direction"),
        ({**NPS, "parent_id": "nope"}, "parent_id"),
    ],
)
def test_create_answers_422_naming_the_bad_field_and_writes_nothing(
    org: Any, admin: ApiClient, body: dict[str, Any], field: str
) -> None:
    response = admin.post("/kpis", body)
    assert response.status_code == 422, response.content
    answer = response.json()
    assert field in answer["errors"], answer
    assert field in answer["detail"]
    assert not Kpi.objects.filter(org=org).exists()


def test_create_with_parent_from_other_org_is_refused(org: Any, admin: ApiClient) -> None:
    response = admin.post("/kpis", {**NPS, "parent_id": KpiFactory().pk})
    assert response.status_code == 422 and "parent_id" in response.json()["errors"]


# --- hostile bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"title": "NPS", "shape": "stay_above", "threshold": NaN}', 400, "NaN"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nest"),
        (b'{"title": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "nest"),
        (b'{"title": "a\\u0000b", "shape": "stay_above", "threshold": 1}', 400, "NUL"),
        (b'{"title": "\\ud800", "shape": "stay_above", "threshold": 1}', 400, "surrogate"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b'{"title": "x", "shape": "stay_above", "threshold": 1' + b"0" * 5000 + b"}", 400, "JSON"),
        (b'{"title": "x", "shape": "stay_above", "threshold": 1e999}', 422, "finite"),
        (b"[1, 2]", 422, ""),
        (b'"just a string"', 422, ""),
        (b'{"title": "' + b"x" * 300_000 + b'"}', 413, "256 KiB"),
    ],
)  # fmt: skip
def test_hostile_bodies_get_a_4xx_with_detail_never_500(
    org: Any, admin: ApiClient, raw: bytes, status: int, says: str
) -> None:
    response = admin.send("POST", "/kpis", raw=raw)
    assert response.status_code == status, response.content[:300]
    assert says in response.json()["detail"]
    assert not Kpi.objects.filter(org=org).exists()


# --- patch --------------------------------------------------------------------------------


def test_patch_changes_only_the_sent_fields(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, description="keep me")
    response = admin.patch(f"/kpis/{kpi.pk}", {"title": "Renamed", "unit_label": "pts"})
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["unit_label"], body["description"]) == (
        "Renamed",
        "pts",
        "keep me",
    )
    assert AuditEvent.objects.filter(org=org, action="kpi.updated").count() == 1


def test_patch_shape_change_recomputes_status(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, shape="stay_above", threshold=10)
    value_record(kpi=kpi, value=20, observed_at=None, source="api", actor=Actor.system("t"))
    response = admin.patch(f"/kpis/{kpi.pk}", {"shape": "stay_below", "threshold": 15})
    assert response.json()["status"] == "red"
    assert AuditEvent.objects.filter(org=org, action="kpi.shape_changed").exists()


def test_patch_of_fields_and_published_audits_both(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, published=False)
    response = admin.patch(f"/kpis/{kpi.pk}", {"title": "Renamed", "published": True})
    assert response.status_code == 200
    actions = list(
        AuditEvent.objects.filter(target_id=kpi.pk).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["kpi.updated", "kpi.published"]


def test_patch_with_a_bad_field_publishes_nothing(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, published=False)
    response = admin.patch(f"/kpis/{kpi.pk}", {"compare_period": "soon", "published": True})
    assert response.status_code == 422 and "compare_period" in response.json()["errors"]
    assert not Kpi.objects.get(pk=kpi.pk).published


def test_patch_published_is_audited_as_publishing(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, published=False)
    response = admin.patch(f"/kpis/{kpi.pk}", {"published": True})
    assert response.status_code == 200 and response.json()["published"] is True
    assert AuditEvent.objects.filter(org=org, action="kpi.published").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"shape": None}, "shape"),
        ({"published": None}, "published"),
        ({"threshold": None}, "threshold"),
        ({"id": "new-id"}, "id"),
        ({"status": "green"}, "status"),
    ],
)
def test_patch_rejects_bad_fields_and_changes_nothing(
    org: Any, admin: ApiClient, body: dict[str, Any], field: str
) -> None:
    kpi = KpiFactory(org=org, title="Before")
    response = admin.patch(f"/kpis/{kpi.pk}", body)
    assert response.status_code == 422 and field in response.json()["errors"]
    kpi.refresh_from_db()
    assert kpi.title == "Before" and kpi.threshold == 10


def test_patch_that_loops_the_parent_chain_is_refused(org: Any, admin: ApiClient) -> None:
    parent = KpiFactory(org=org)
    child = KpiFactory(org=org, parent=parent)
    response = admin.patch(f"/kpis/{parent.pk}", {"parent_id": child.pk})
    assert response.status_code == 422 and "parent_id" in response.json()["errors"]


def test_read_token_cannot_patch_or_delete(org: Any, reader: ApiClient) -> None:
    kpi = KpiFactory(org=org)
    assert reader.patch(f"/kpis/{kpi.pk}", {"title": "x"}).status_code == 403
    assert reader.delete(f"/kpis/{kpi.pk}").status_code == 403
    assert Kpi.objects.filter(pk=kpi.pk, title=kpi.title).exists()


# --- delete -------------------------------------------------------------------------------


def test_delete_removes_kpi_and_history_and_is_audited(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org)
    KpiHistoryFactory(kpi=kpi)
    response = admin.delete(f"/kpis/{kpi.pk}")
    assert response.status_code == 204 and response.content == b""
    assert not Kpi.objects.filter(pk=kpi.pk).exists()
    assert not KpiHistory.objects.filter(kpi_id=kpi.pk).exists()
    assert AuditEvent.objects.filter(org=org, action="kpi.deleted", target_id=kpi.pk).exists()
    assert admin.delete(f"/kpis/{kpi.pk}").status_code == 404


# --- value --------------------------------------------------------------------------------


def test_put_value_records_it_with_source_api(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, threshold=10)
    response = admin.put(f"/kpis/{kpi.pk}/value", {"value": 12.5})
    assert response.status_code == 200
    body = response.json()
    assert (body["applied"], body["value"], body["status"]) == (True, 12.5, "green")
    assert body["kpi"]["current_value"] == 12.5 and body["kpi"]["formatted_value"]
    row = KpiHistory.objects.get(kpi=kpi)
    assert (row.value, row.source) == (12.5, "api")
    event = AuditEvent.objects.get(org=org, action="value.recorded")
    assert event.actor_kind == "token"


def test_put_value_older_than_current_goes_to_history_only(org: Any, admin: ApiClient) -> None:
    kpi = KpiFactory(org=org, threshold=10)
    now = timezone.now()
    admin.put(f"/kpis/{kpi.pk}/value", {"value": 20, "observed_at": now.isoformat()})
    late = (now - timedelta(hours=1)).isoformat()
    response = admin.put(f"/kpis/{kpi.pk}/value", {"value": 1, "observed_at": late})
    body = response.json()
    assert (body["applied"], body["status"], body["kpi"]["current_value"]) == (False, "red", 20)
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"value": "12"}, "value"),
        ({"value": True}, "value"),
        ({"value": None}, "value"),
        ({"value": 1, "observed_at": "2024-01-01T00:00:00"}, "observed_at"),
        ({"value": 1, "observed_at": "yesterday"}, "observed_at"),
        ({"value": 1, "observed_at": 1735689600}, "observed_at"),
        ({"value": 1, "observed_at": "1960-01-01T00:00:00Z"}, "observed_at"),
        ({"value": 1, "observed_at": "9999-12-31T23:59:59-01:00"}, "observed_at"),
        ({"value": 1, "observed_at": "2999-01-01T00:00:00Z"}, "observed_at"),
        ({"value": 1, "source": "webhook"}, "source"),
    ],
)
def test_put_value_rejects_bad_input_and_records_nothing(
    org: Any, admin: ApiClient, body: dict[str, Any], field: str
) -> None:
    kpi = KpiFactory(org=org)
    response = admin.put(f"/kpis/{kpi.pk}/value", body)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_read_token_cannot_write_values(org: Any, reader: ApiClient) -> None:
    kpi = KpiFactory(org=org)
    assert reader.put(f"/kpis/{kpi.pk}/value", {"value": 1}).status_code == 403
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


# --- parse-title --------------------------------------------------------------------------


def test_parse_title_returns_the_detected_fields(reader: ApiClient) -> None:
    response = reader.post("/parse-title", {"title": "ARR trending up from $1.2M"})
    assert response.status_code == 200
    body = response.json()
    assert (body["shape"], body["direction"], body["baseline"]) == ("trend", "up", 1_200_000)
    assert (body["unit_type"], body["unit_label"], body["metric"]) == ("currency", "USD", "ARR")
    fields = {name: value for name, value in body["fields"].items() if value is not None}
    assert fields == {
        "title": "ARR",
        "shape": "trend",
        "direction": "up",
        "baseline": 1_200_000,
        "baseline_mode": "fixed",
        "unit_type": "currency",
        "unit_label": "USD",
        "display_format": "integer",
    }


def test_parse_title_fields_create_the_kpi_they_describe(org: Any, admin: ApiClient) -> None:
    fields = admin.post("/parse-title", {"title": "Churn trending down"}).json()["fields"]
    body = {name: value for name, value in fields.items() if value is not None}
    response = admin.post("/kpis", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["title"], created["baseline_mode"], created["baseline_period"]) == (
        "Churn",
        "prior_period",
        "30d",
    )


def test_parse_title_without_a_shape_answers_shape_null(reader: ApiClient) -> None:
    body = reader.post("/parse-title", {"title": "Just a name"}).json()
    assert body["shape"] is None and set(body.values()) == {None}


@pytest.mark.parametrize("body", [{}, {"title": 5}, {"title": "x" * 1001}, {"title": "x", "a": 1}])
def test_parse_title_rejects_bad_input(reader: ApiClient, body: dict[str, Any]) -> None:
    assert reader.post("/parse-title", body).status_code == 422


# --- unknown paths ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nothing-here", "/kpis/", "/kpis/x/y/z"])
def test_unknown_api_path_is_json_404(admin: ApiClient, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 404 and "no API endpoint" in response.json()["detail"]


def test_read_token_is_refused_before_its_body_is_read(org: Any, reader: ApiClient) -> None:
    response = reader.send("POST", "/kpis", raw=b"{not json")
    assert response.status_code == 403
