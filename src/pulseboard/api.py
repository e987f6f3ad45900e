"""The single NinjaAPI under ``/api/v1/``; each domain adds its router here.

Every error leaves as ``{"detail": "<what is wrong>"}`` (plus ``errors`` with
field messages where useful) and the status that fits.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from pulseboard.audit.api import router as audit_router
from pulseboard.connectors.api import router as sources_router
from pulseboard.core.api_input import BodyRejected, JsonBodyParser
from pulseboard.core.errors import DomainError
from pulseboard.goals.api import router as goals_router
from pulseboard.history.annotations_api import router as annotations_router
from pulseboard.history.api import router as history_router
from pulseboard.indicators.api import router as indicators_router
from pulseboard.indicators.targets_api import router as targets_router
from pulseboard.indicators.tree_api import router as tree_router
from pulseboard.orgs.api import router as tokens_router
from pulseboard.orgs.api_auth import ApiTokenAuth
from pulseboard.orgs.members_api import router as members_router
from pulseboard.orgs.rate_limit import TokenWriteThrottle
from pulseboard.orgs.teams_api import router as teams_router
from pulseboard.sharing.api import router as share_links_router

API_PREFIX = "/api/v1/"

api = NinjaAPI(
    title="Pulseboard API",
    version="1",
    description="KPIs, values, history, connectors and audit of one organization.",
    urls_namespace="api",
    auth=ApiTokenAuth(),
    parser=JsonBodyParser(),
    throttle=TokenWriteThrottle(),
)
# Before the KPI routes: ``/kpis/tree`` must not be read as ``/kpis/{id}``.
api.add_router("", tree_router)
api.add_router("", indicators_router)
api.add_router("", targets_router)
api.add_router("", annotations_router)
api.add_router("", history_router)
api.add_router("", audit_router)
api.add_router("", tokens_router)
api.add_router("", sources_router)
api.add_router("", goals_router)
api.add_router("", teams_router)
api.add_router("", members_router)
api.add_router("", share_links_router)


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
    # Ninja wraps every body-parser failure as "Cannot parse request body"; ours say why.
    if isinstance(exc.__cause__, BodyRejected):
        return api.create_response(request, {"detail": exc.__cause__.message}, status=400)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    detail = "too many writes with this API token (PULSEBOARD_API_WRITE_RATE)"
    if exc.wait is not None:
        detail += f"; retry in {exc.wait} s"
    return api.create_response(request, {"detail": detail}, status=429)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(
        request, {"detail": "the request body is larger than 256 KiB"}, status=413
    )


@api.exception_handler(ProtectedError)
def _protected(request: HttpRequest, exc: ProtectedError) -> HttpResponse:
    # A delete refused by a PROTECT foreign key (a KPI that key results follow), named
    # here so the lower package need not know what refers to it (DESIGN §16).
    held_by = ", ".join(sorted({str(obj) for obj in exc.protected_objects}))
    detail = f"cannot delete it: {held_by} still refer to it; unlink or delete them first"
    return api.create_response(request, {"detail": detail}, status=409)


class ApiErrorShapeMiddleware:
    """Errors under /api/v1/ that no handler above shaped get the API's shape too.

    Django answers an unknown path with an HTML 404 and ninja a method a path does
    not take with a plain-text 405; API clients get ``{"detail": ...}`` for those
    as for every other error (the 405 keeps its ``Allow`` header).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        shaped = response.get("Content-Type", "").startswith("application/json")
        if response.status_code < 400 or shaped or not request.path.startswith(API_PREFIX):
            return response
        if response.status_code == 404:
            detail = f"no API endpoint at {request.path}"
        elif response.status_code == 405:
            detail = f"{request.method} is not allowed here; allowed: {response.get('Allow', '')}"
        else:
            detail = HTTPStatus(response.status_code).phrase
        reshaped = JsonResponse({"detail": detail}, status=response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                reshaped[header] = response[header]
        return reshaped
