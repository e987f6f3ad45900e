"""The API as tests call it: Django's test client with a bearer token and JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.test import Client

from pulseboard.core.actors import Actor
from pulseboard.orgs.models import Organization
from pulseboard.orgs.services import token_create

BASE = "/api/v1"


def api_token(org: Organization, scope: str = "admin", name: str = "test") -> str:
    """A fresh token of ``org``; returns the plaintext."""
    _, plaintext = token_create(org=org, actor=Actor.system("test"), name=name, scope=scope)
    return plaintext


class ApiClient:
    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    @classmethod
    def for_org(cls, org: Organization, scope: str = "admin") -> ApiClient:
        return cls(api_token(org, scope))

    def get(self, path: str, params: dict[str, Any] | None = None) -> HttpResponse:
        return self.client.get(BASE + path, params or {}, headers=self.headers)  # type: ignore[return-value]

    def send(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.client.generic(
            method, BASE + path, data, content_type="application/json", headers=self.headers
        )

    def post(self, path: str, body: Any = None) -> Any:
        return self.send("POST", path, body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.send("PUT", path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.send("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.send("DELETE", path)
