"""The single NinjaAPI under ``/api/v1/``; each domain adds its router here.

Every error leaves as ``{"detail": "<what is wrong>"}`` (plus ``errors`` with
field messages where useful) and the status that fits.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from pulseboard.core.errors import DomainError
from pulseboard.orgs.api_auth import ApiTokenAuth

api = NinjaAPI(
    title="Pulseboard API",
    version="1",
    description="KPIs, values, history, connectors and audit of one organization.",
    urls_namespace="api",
    auth=ApiTokenAuth(),
)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    body: dict[str, object] = {"detail": exc.message}
    if exc.errors:
        body["errors"] = exc.errors
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = {}
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        errors[".".join(location) or "body"] = str(error.get("msg", "invalid"))
    detail = "; ".join(f"{field}: {message}" for field, message in errors.items())
    return api.create_response(
        request, {"detail": detail or "invalid request", "errors": errors}, status=422
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request, {"detail": "a valid API token is required (Authorization: Bearer …)"}, status=401
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
