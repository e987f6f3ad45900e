"""503 instead of 500 while the database is unreachable, wherever the failure is raised.

The outage is simulated at the database layer: an ``execute_wrapper`` makes every query
on the connection fail with ``OperationalError``, as a refused or dropped PostgreSQL
connection does. The real thing (a PostgreSQL killed under load) is
``tests/reliability/test_db_faults.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import Client, RequestFactory
from tests.api_client import api_token
from tests.connectors.signing import bind_webhook, signed_headers
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.core.db_outage import RETRY_AFTER_SECONDS, DatabaseOutageMiddleware, server_error

pytestmark = pytest.mark.django_db


@contextmanager
def database_down(error: type[Exception] = OperationalError) -> Iterator[None]:
    def refuse(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        raise error("connection to server at 127.0.0.1 failed: Connection refused")

    with connection.execute_wrapper(refuse):
        yield


def client() -> Client:
    # Outages raised outside a view reach the 500 handler; see its answer, not the exception.
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_an_api_read_answers_503_json_with_retry_after(error: type[Exception]) -> None:
    token = api_token(KpiFactory().org)
    with database_down(error):
        response = client().get("/api/v1/kpis", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"] == "application/json"
    assert "database is unavailable" in json.loads(response.content)["detail"]


def test_a_webhook_delivery_answers_503_so_the_sender_retries() -> None:
    kpi = KpiFactory()
    secret = bind_webhook(kpi)
    body = json.dumps({"value": 4})
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed_headers(secret, body).items()
    }
    with database_down():
        response = client().post(f"/hooks/kpis/{kpi.pk}", body, "application/json", **headers)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert json.loads(response.content)["detail"]


def test_a_page_for_a_signed_in_person_answers_503_although_middleware_hit_the_outage() -> None:
    browser = client()
    browser.force_login(MembershipFactory(role="admin").user)
    with database_down():
        # The session and the current org are loaded by middleware, before any view runs.
        response = browser.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    assert b"briefly unavailable" in response.content


def test_readiness_says_unavailable_during_the_outage() -> None:
    with database_down():
        response = client().get("/readyz")
    assert response.status_code == 503


def test_other_exceptions_are_still_a_500() -> None:
    request = RequestFactory().get("/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500


def test_the_middleware_leaves_other_exceptions_to_django() -> None:
    middleware = DatabaseOutageMiddleware(lambda request: pytest.fail("not called"))
    request = RequestFactory().get("/api/v1/kpis")
    assert middleware.process_exception(request, ValueError("a bug")) is None
    answered = middleware.process_exception(request, OperationalError("gone"))
    assert answered is not None and answered.status_code == 503
