"""Settings → KPIs: list with drafts, create/edit through the form, publish, reorder, delete,
the quick-create suggestion and the live preview fragments."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.api_client import ApiClient
from tests.factories import KpiFactory
from tests.web.conftest import HTMX

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators import services as kpi_services
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.shapes import PARAM_NAMES, SHAPE_PARAMS, Shape, params_of
from pulseboard.orgs.models import Membership
from pulseboard.web.tiles import tile_cache_clear

pytestmark = pytest.mark.django_db

FORM = {
    "title": "NPS",
    "description": "",
    "shape": "stay_above",
    "threshold": "35",
    "warn_at": "",
    "lower": "",
    "upper": "",
    "warn_margin": "",
    "direction": "",
    "baseline_mode": "fixed",
    "baseline": "",
    "baseline_period": "",
    "unit_type": "number",
    "unit_label": "",
    "display_format": "integer",
    "category": "",
    "parent": "",
    "expected_every": "",
    "compare_period": "7d",
    "published": "on",
}


def form(**changes: Any) -> dict[str, Any]:
    data = {**FORM, **changes}
    return {k: v for k, v in data.items() if v is not None}


def test_the_list_shows_drafts_and_published_kpis_in_order(
    admin_client: Client, admin: Membership
) -> None:
    KpiFactory(org=admin.org, title="Beta", position=2, published=False)
    KpiFactory(org=admin.org, title="Alpha", position=1)
    KpiFactory(title="Not ours")
    page = admin_client.get(reverse("web:settings-kpis")).content.decode()
    assert page.index("Alpha") < page.index("Beta")
    assert "Draft" in page and "Published" in page and "Not ours" not in page


def test_the_list_notes_when_more_than_eight_are_published(
    admin_client: Client, admin: Membership
) -> None:
    for _ in range(8):
        KpiFactory(org=admin.org)
    KpiFactory(org=admin.org, published=False)
    assert (
        "KPIs are published" not in admin_client.get(reverse("web:settings-kpis")).content.decode()
    )
    KpiFactory(org=admin.org)
    assert "9 KPIs are published" in admin_client.get(reverse("web:settings-kpis")).content.decode()


def test_an_empty_list_offers_to_create_the_first_kpi(admin_client: Client) -> None:
    assert (
        "Create your first KPI" in admin_client.get(reverse("web:settings-kpis")).content.decode()
    )


def test_the_list_query_count_does_not_grow_with_kpis(
    admin_client: Client, admin: Membership
) -> None:
    kpis = [KpiFactory(org=admin.org) for _ in range(2)]
    for kpi in kpis:
        value_record(kpi=kpi, value=1, observed_at=None, source="manual", actor=Actor.system())
    admin_client.get(reverse("web:settings-kpis"))
    tile_cache_clear()  # measure the cold page: every tile built
    with CaptureQueriesContext(connection) as two:
        admin_client.get(reverse("web:settings-kpis"))
    for _ in range(10):
        kpi = KpiFactory(org=admin.org, published=False)
        value_record(kpi=kpi, value=1, observed_at=None, source="manual", actor=Actor.system())
    tile_cache_clear()  # measure the cold page: every tile built
    with CaptureQueriesContext(connection) as twelve:
        response = admin_client.get(reverse("web:settings-kpis"))
    assert response.content.decode().count('<tr id="row-') == 12
    assert len(twelve) == len(two)


def test_create_makes_the_kpi_and_audits_it(admin_client: Client, admin: Membership) -> None:
    response = admin_client.post(reverse("web:kpi-create"), form(category="leading"))
    assert response.status_code == 302 and response["Location"] == reverse("web:settings-kpis")
    kpi = Kpi.objects.get(org=admin.org)
    assert (kpi.title, kpi.shape, kpi.threshold, kpi.published) == ("NPS", "stay_above", 35, True)
    assert kpi.category == "leading"
    assert AuditEvent.objects.filter(action="kpi.created", target_id=kpi.pk).exists()


def test_fields_of_another_shape_are_ignored(admin_client: Client, admin: Membership) -> None:
    # A value left in a hidden field (warn_margin belongs to stay_between) must not block saving.
    admin_client.post(reverse("web:kpi-create"), form(warn_margin="3", lower="1", upper="9"))
    kpi = Kpi.objects.get(org=admin.org)
    assert (kpi.lower, kpi.upper, kpi.warn_margin) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"threshold": ""}, "threshold"),
        ({"threshold": "abc"}, "threshold"),
        ({"warn_at": "30"}, "warn_at"),
        ({"shape": "stay_between", "lower": "9", "upper": "1"}, "upper"),
        ({"shape": "trend", "direction": ""}, "direction"),
        ({"shape": "trend", "direction": "up", "baseline": ""}, "baseline"),
        ({"expected_every": "soon"}, "expected_every"),
        ({"title": ""}, "title"),
        ({"shape": "sideways"}, "shape"),
    ],
)
def test_a_bad_form_shows_the_error_on_its_field_and_writes_nothing(
    admin_client: Client, admin: Membership, changes: dict[str, str], field: str
) -> None:
    response = admin_client.post(reverse("web:kpi-create"), form(**changes))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert field in errors, errors
    assert not Kpi.objects.exists()
    assert not AuditEvent.objects.filter(action="kpi.created").exists()


def test_a_prior_period_trend_uses_the_period_not_the_baseline(
    admin_client: Client, admin: Membership
) -> None:
    admin_client.post(
        reverse("web:kpi-create"),
        form(
            title="Backlog",
            shape="trend",
            direction="down",
            baseline_mode="prior_period",
            baseline="99",
            baseline_period="30d",
        ),
    )
    kpi = Kpi.objects.get(org=admin.org)
    assert (kpi.baseline_mode, kpi.baseline_period, kpi.baseline) == ("prior_period", "30d", None)


def test_edit_shows_current_values_and_saves_changes(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org, title="Uptime", threshold=99.9)
    page = admin_client.get(reverse("web:kpi-edit", args=[kpi.pk])).content.decode()
    assert 'value="Uptime"' in page and 'value="99.9"' in page
    response = admin_client.post(
        reverse("web:kpi-edit", args=[kpi.pk]), form(title="Uptime", threshold="99.95")
    )
    assert response.status_code == 302
    assert Kpi.objects.get(pk=kpi.pk).threshold == 99.95
    assert AuditEvent.objects.filter(action="kpi.shape_changed", target_id=kpi.pk).exists()


def test_unpublishing_through_the_form_is_audited_as_unpublished(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org, title="NPS", threshold=35)
    data = form(display_format="decimal_1", published=None)
    admin_client.post(reverse("web:kpi-edit", args=[kpi.pk]), data)
    assert not Kpi.objects.get(pk=kpi.pk).published
    assert AuditEvent.objects.filter(action="kpi.unpublished", target_id=kpi.pk).exists()


def test_an_edit_of_fields_and_publishing_saves_both_and_audits_each(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org, title="NPS", threshold=35, published=False)
    response = admin_client.post(
        reverse("web:kpi-edit", args=[kpi.pk]), form(title="Net promoters")
    )
    assert response.status_code == 302
    stored = Kpi.objects.get(pk=kpi.pk)
    assert (stored.title, stored.published) == ("Net promoters", True)
    actions = list(
        AuditEvent.objects.filter(target_id=kpi.pk).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["kpi.updated", "kpi.published"]


def test_an_edit_is_one_transaction_fields_and_publishing_together(
    admin_client: Client, admin: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The publishing half fails: the title change of the same save must not stay behind.
    kpi = KpiFactory(org=admin.org, title="NPS", threshold=35, published=False)
    real_record = kpi_services.audit_record

    def failing_on_publish(**kwargs: Any) -> Any:
        if kwargs["action"] == "kpi.published":
            raise RuntimeError("audit store down")
        return real_record(**kwargs)

    monkeypatch.setattr(kpi_services, "audit_record", failing_on_publish)
    with pytest.raises(RuntimeError):
        admin_client.post(reverse("web:kpi-edit", args=[kpi.pk]), form(title="Net promoters"))
    stored = Kpi.objects.get(pk=kpi.pk)
    assert (stored.title, stored.published) == ("NPS", False)
    assert not AuditEvent.objects.filter(target_id=kpi.pk).exists()


def field_shapes(page: str) -> dict[str, tuple[set[str], set[str], bool]]:
    """Each shape parameter field of the form page: its data-shapes, data-modes, hidden."""
    found = {}
    for match in re.finditer(
        r'<div class="field" data-shapes="([^"]*)"(?: data-modes="([^"]*)")?( hidden)?>\s*'
        r'.*?name="(\w+)"',
        page,
        re.DOTALL,
    ):
        shapes, modes, hidden, name = match.groups()
        found[name] = (set(shapes.split()), set((modes or "").split()), bool(hidden))
    return found


@pytest.mark.parametrize(
    ("shape", "mode"),
    [
        ("stay_above", "fixed"),
        ("stay_between", "fixed"),
        ("trend", "fixed"),
        ("trend", "prior_period"),
    ],
)
def test_the_forms_per_shape_map_is_shape_params(
    admin_client: Client, admin: Membership, shape: str, mode: str
) -> None:
    kpi = KpiFactory(
        org=admin.org,
        shape=shape,
        threshold=1 if shape == "stay_above" else None,
        lower=1 if shape == "stay_between" else None,
        upper=2 if shape == "stay_between" else None,
        direction="up" if shape == "trend" else "",
        baseline_mode=mode,
        baseline=1 if shape == "trend" and mode == "fixed" else None,
        baseline_period="30d" if mode == "prior_period" else "",
    )
    page = admin_client.get(reverse("web:kpi-edit", args=[kpi.pk])).content.decode()
    fields = field_shapes(page)
    assert list(fields) == list(PARAM_NAMES)
    for name, (shapes, modes, hidden) in fields.items():
        owners = [s for s, params in SHAPE_PARAMS.items() for p in params if p.name == name]
        assert shapes == {s.value for s in owners}
        assert modes == {
            p.baseline_mode.value
            for params in SHAPE_PARAMS.values()
            for p in params
            if p.name == name and p.baseline_mode
        }
        assert hidden == (name not in params_of(shape, mode))
    assert {name for name, (_, _, hidden) in fields.items() if not hidden} == set(
        params_of(shape, mode)
    )


def test_the_shape_choices_are_the_shape_vocabulary(admin_client: Client) -> None:
    choices = admin_client.get(reverse("web:kpi-create")).context["form"]["shape"].field.choices
    assert [value for value, _ in choices] == [shape.value for shape in Shape]


def test_a_kpi_cannot_become_its_own_parents_parent(
    admin_client: Client, admin: Membership
) -> None:
    top = KpiFactory(org=admin.org, title="Revenue")
    child = KpiFactory(org=admin.org, title="Leads", parent=top)
    response = admin_client.post(
        reverse("web:kpi-edit", args=[top.pk]), form(title="Revenue", parent=child.pk)
    )
    assert response.status_code == 422 and "parent" in response.context["form"].errors


def test_the_parent_list_offers_only_this_orgs_other_kpis(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org, title="Self")
    KpiFactory(org=admin.org, title="Sibling")
    KpiFactory(title="Foreign")
    choices = dict(
        admin_client.get(reverse("web:kpi-edit", args=[kpi.pk]))
        .context["form"]["parent"]
        .field.choices
    )
    assert "Sibling" in choices.values()
    assert "Self" not in choices.values() and "Foreign" not in choices.values()


def test_publish_and_unpublish(admin_client: Client, admin: Membership) -> None:
    kpi = KpiFactory(org=admin.org, published=False)
    admin_client.post(reverse("web:kpi-publish", args=[kpi.pk]), {"published": "1"})
    assert Kpi.objects.get(pk=kpi.pk).published
    admin_client.post(reverse("web:kpi-publish", args=[kpi.pk]), {"published": "0"})
    assert not Kpi.objects.get(pk=kpi.pk).published
    actions = list(AuditEvent.objects.filter(target_id=kpi.pk).values_list("action", flat=True))
    assert set(actions) == {"kpi.published", "kpi.unpublished"}


def test_move_up_and_down_reorders_and_keeps_focus_on_the_button(
    admin_client: Client, admin: Membership
) -> None:
    a, b, c = (KpiFactory(org=admin.org, title=t, position=i) for i, t in enumerate("ABC"))
    response = admin_client.post(reverse("web:kpi-move", args=[c.pk]), {"direction": "up"})
    assert response["Location"].endswith(f"?moved={c.pk}&dir=up")
    order = list(Kpi.objects.order_by("position").values_list("title", flat=True))
    assert order == ["A", "C", "B"]
    page = admin_client.get(response["Location"]).content.decode()
    assert 'aria-label="Move C up" autofocus' in page
    admin_client.post(reverse("web:kpi-move", args=[a.pk]), {"direction": "down"})
    assert list(Kpi.objects.order_by("position").values_list("title", flat=True)) == ["C", "A", "B"]
    assert b.pk


def test_delete_asks_first_then_deletes(admin_client: Client, admin: Membership) -> None:
    kpi = KpiFactory(org=admin.org, title="Churn")
    page = admin_client.get(reverse("web:kpi-delete", args=[kpi.pk])).content.decode()
    assert "Delete “Churn”?" in page and "cannot be undone" in page
    assert Kpi.objects.filter(pk=kpi.pk).exists()
    response = admin_client.post(reverse("web:kpi-delete", args=[kpi.pk]), follow=True)
    assert not Kpi.objects.filter(pk=kpi.pk).exists()
    assert "Deleted “Churn”" in response.content.decode()
    assert AuditEvent.objects.filter(action="kpi.deleted", target_id=kpi.pk).exists()


@pytest.mark.parametrize(
    ("title", "phrase", "fields"),
    [
        (
            "NPS above 35",
            "stay above 35",
            {"shape": "stay_above", "threshold": 35.0, "title": "NPS"},
        ),
        (
            "Keep MTTR below 4h",
            "stay below 4.0 h",
            {"shape": "stay_below", "unit_type": "time", "unit_label": "h", "title": "MTTR"},
        ),
        (
            "Uptime stay above 99.9%",
            "stay above 99.9%",
            {"unit_type": "percentage", "display_format": "percentage"},
        ),
        (
            "ARR trending up from $1.2M",
            "trending up from $1.2M",
            {"baseline": 1200000.0, "baseline_mode": "fixed", "display_format": "integer"},
        ),
        (
            "Churn trending down",
            "trending down vs 30d ago",
            {"baseline_mode": "prior_period", "baseline_period": "30d"},
        ),
    ],
)
def test_the_suggestion_fragment_offers_apply_with_the_parsed_fields(
    admin_client: Client, title: str, phrase: str, fields: dict[str, Any]
) -> None:
    response = admin_client.post(reverse("web:kpi-suggest"), {"title": title}, headers=HTMX)
    body = response.content.decode()
    assert phrase in body and "Apply" in body and "<html" not in body
    attribute = re.search(r'data-apply="([^"]*)"', body)
    assert attribute is not None
    applied = json.loads(html.unescape(attribute.group(1)))
    assert fields.items() <= applied.items()


def applied_fields(client: Client, title: str) -> dict[str, Any] | None:
    body = client.post(reverse("web:kpi-suggest"), {"title": title}, headers=HTMX)
    attribute = re.search(r'data-apply="([^"]*)"', body.content.decode())
    return None if attribute is None else json.loads(html.unescape(attribute.group(1)))


@pytest.mark.parametrize(
    "title",
    [
        "NPS above 35",
        "Keep MTTR below 4h",
        "Uptime stay above 99.9%",
        "ARR trending up from $1.2M",
        "Churn trending down",
        "Revenue in EUR over 50k",
        "Latency between 100 and 300 ms",
        "Error rate below 1% but above 0.1%",
        "Signups increase",
        "More signups",
        "20 ± 2 deploys per week",
        "Cost per lead under €12.50",
        "Build time (min) at most 15",
        "Revenue",
        "",
    ],
)
def test_apply_fills_the_fields_the_api_suggests_for_the_same_title(
    admin_client: Client, admin: Membership, title: str
) -> None:
    answer = ApiClient.for_org(admin.org, "read").post("/parse-title", {"title": title})
    assert answer.status_code == 200
    suggested = answer.json()["fields"]
    applied = applied_fields(admin_client, title)
    if suggested is None:
        assert applied is None
        return
    assert applied == {name: value for name, value in suggested.items() if value is not None}


def test_applied_fields_save_as_a_kpi(admin_client: Client, admin: Membership) -> None:
    applied = applied_fields(admin_client, "Churn trending down")
    assert applied is not None
    response = admin_client.post(reverse("web:kpi-create"), {**FORM, **applied})
    assert response.status_code == 302
    kpi = Kpi.objects.get(org=admin.org)
    assert (kpi.title, kpi.shape, kpi.baseline_mode, kpi.baseline_period) == (
        "Churn",
        "trend",
        "prior_period",
        "30d",
    )


@pytest.mark.parametrize("title", ["", "Revenue", "x" * 5000, "\x00<script>"])
def test_no_suggestion_for_a_title_without_a_target(admin_client: Client, title: str) -> None:
    body = admin_client.post(reverse("web:kpi-suggest"), {"title": title}).content.decode()
    assert "Apply" not in body and "<script>" not in body


@pytest.mark.parametrize(
    ("changes", "value", "status", "target"),
    [
        ({"preview_value": "41"}, "41", "On track", "stay above 35"),
        ({"preview_value": "1234.5", "display_format": "decimal_1"}, "1,234.5", "On track", ""),
        ({"preview_value": ""}, "35", "On track", "stay above 35"),
        (
            {
                "preview_value": "3.5",
                "unit_type": "currency",
                "unit_label": "EUR",
                "threshold": "4",
            },
            "€4",
            "Off track",
            "stay above €4",
        ),
    ],
)
def test_the_preview_formats_the_sample_and_the_target(
    admin_client: Client, changes: dict[str, str], value: str, status: str, target: str
) -> None:
    body = admin_client.post(reverse("web:kpi-preview"), form(**changes), headers=HTMX)
    text = body.content.decode()
    assert f'<strong class="preview-value">{value}' in text
    assert status in text and target in text


def test_the_preview_asks_for_a_target_while_there_is_nothing_to_show(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("web:kpi-preview"), form(preview_value="oops", threshold="nope"), headers=HTMX
    )
    assert "fill in the target" in response.content.decode()
