"""The API as a whole: the served OpenAPI schema, the docs page's assets, and the error
shape of answers no handler made. (The docs in a browser: tests/web/test_browser_api_docs.py.)
"""

from __future__ import annotations

import pytest
from django.test import Client

from pulseboard.api import api


def test_openapi_schema_is_served_without_a_token_and_lists_every_operation() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["paths"].keys() == api.get_openapi_schema()["paths"].keys()
    operations = [op for methods in served["paths"].values() for op in methods.values()]
    assert all(op.get("security") for op in operations), "every operation needs a token"
    assert all("422" in op["responses"] and "401" in op["responses"] for op in operations)
    assert {"bearer"} == {s["scheme"] for s in served["components"]["securitySchemes"].values()}


def test_docs_page_loads_its_assets_from_this_server_only() -> None:
    html = Client().get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "https://" not in html and "http://" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("GET", "/api/v1/nothing-here", 404, "no API endpoint at /api/v1/nothing-here"),
        ("GET", "/api/v1/kpis/", 404, "no API endpoint"),
        ("GET", "/api/v1/", 404, ""),
        ("POST", "/api/v1/audit", 405, "POST is not allowed here; allowed: GET"),
        ("PUT", "/api/v1/kpis", 405, "PUT is not allowed here"),
    ],
)
def test_errors_outside_the_handlers_have_the_api_shape(
    method: str, path: str, status: int, says: str
) -> None:
    response = Client().generic(method, path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert says in response.json()["detail"]
    if status == 405:
        assert response["Allow"]


def test_web_errors_keep_their_html() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and "application/json" not in response["Content-Type"]
