"""Webhook deliveries are answered early, past the request guards, without the browser stack."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_delivery_is_answered_without_session_or_csrf_and_keeps_its_headers() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/hooks/kpis/nosuchkpi", data=b"{}", content_type="application/json")
    assert response.status_code == 401  # the view's own answer, not a CSRF 403
    assert "Cookie" not in response.get("Vary", "")  # the session middleware never ran
    assert not response.cookies
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"  # the security middleware did run
    assert response["Cache-Control"] == "no-store"


def test_only_the_exact_route_is_taken_early() -> None:
    client = Client()
    assert client.get("/hooks/kpis/abc").status_code == 405
    assert (
        client.post("/hooks/kpis/abc/", data=b"{}", content_type="application/json").status_code
        == 404
    )
    assert (
        client.post("/hooks/kpis/", data=b"{}", content_type="application/json").status_code == 404
    )


def test_an_odd_kpi_id_answers_like_any_unknown_kpi() -> None:
    # The view checks its own ids (a NUL byte takes the decoy path without a query).
    client = Client()
    odd = client.post("/hooks/kpis/a%00b", data=b"{}", content_type="application/json")
    unknown = client.post("/hooks/kpis/nosuchkpi", data=b"{}", content_type="application/json")
    assert odd.status_code == unknown.status_code == 401
    assert odd.content == unknown.content


def test_an_over_long_url_is_still_refused_by_the_guard_before_it() -> None:
    response = Client().post(
        "/hooks/kpis/" + "a" * 5000, data=b"{}", content_type="application/json"
    )
    assert response.status_code == 414


def test_metrics_label_the_early_route_by_its_name() -> None:
    from pulseboard.core.metrics import PROCESS_REGISTRY as REGISTRY

    before = REGISTRY.get_sample_value(
        "pulseboard_http_request_duration_seconds_count",
        {"method": "POST", "view": "hooks-kpi", "status": "401"},
    )
    Client().post("/hooks/kpis/nosuchkpi", data=b"{}", content_type="application/json")
    after = REGISTRY.get_sample_value(
        "pulseboard_http_request_duration_seconds_count",
        {"method": "POST", "view": "hooks-kpi", "status": "401"},
    )
    assert (after or 0) == (before or 0) + 1
