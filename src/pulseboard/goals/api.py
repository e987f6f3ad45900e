"""REST endpoints for goals (DESIGN §11): cycles, objectives, key results, check-ins, progress.

Every handler scopes to the calling token's org, so another org's cycle,
objective or key result is a 404 like one that does not exist (an id that could
not name anything is a 404 without a query). Any token reads; writes need an
admin token. Check-ins need an admin token too: a token belongs to the
organization, not to a person, so "the key result's owner" exists on the web only.
Reads return the cards built by ``goals.selectors``, the code the web pages use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS, ErrorOut
from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.goals.schemas import (
    CheckInIn,
    CheckInOut,
    CycleIn,
    CycleOut,
    CyclePatch,
    KeyResultIn,
    KeyResultOut,
    KeyResultPatch,
    ObjectiveIn,
    ObjectiveOut,
    ObjectivePatch,
    ProgressOut,
    ProgressPointOut,
)
from pulseboard.goals.selectors import (
    cycle_get,
    cycle_list,
    key_result_cards,
    key_result_get,
    key_result_progress,
    objective_cards,
    objective_get,
    objective_list,
    window_of,
)
from pulseboard.goals.services import (
    check_in_record,
    cycle_create,
    cycle_delete,
    cycle_update,
    key_result_create,
    key_result_delete,
    key_result_update,
    objective_create,
    objective_delete,
    objective_update,
)
from pulseboard.orgs.api_auth import AdminTokenAuth, ApiPrincipal, principal, require_admin
from pulseboard.orgs.teams import MAX_TEAM_SLUG, team_find

ADMIN = AdminTokenAuth()
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}  # a cycle with objectives; a check-in on a KPI's KR
router = Router(tags=["Goals"])


def cycle_out(caller: ApiPrincipal, cycle: Cycle) -> CycleOut:
    return CycleOut(
        id=cycle.pk,
        name=cycle.name,
        starts_on=cycle.starts_on,
        ends_on=cycle.ends_on,
        state=window_of(caller.org, cycle).state(clock.now()).value,
        timezone=caller.org.timezone,
        created_at=cycle.created_at,
        updated_at=cycle.updated_at,
    )


def objective_out(caller: ApiPrincipal, objective: Objective) -> ObjectiveOut:
    fresh = objective_get(org=caller.org, objective_id=objective.pk)
    (card,) = objective_cards(org=caller.org, objectives=[fresh], now=clock.now())
    return ObjectiveOut.from_card(card)


def key_result_out(caller: ApiPrincipal, key_result: KeyResult) -> KeyResultOut:
    fresh = key_result_get(org=caller.org, key_result_id=key_result.pk)
    (card,) = key_result_cards(org=caller.org, key_results=[fresh], now=clock.now())
    return KeyResultOut.from_card(card)


def _detail_routes(
    name: str,
    path: str,
    schemas: tuple[type[Schema], type[Schema]],
    rows: tuple[Callable[..., Any], Callable[..., Schema]],
    writes: tuple[Callable[..., Any], Callable[..., None]],
    summaries: tuple[str, str, str],
    delete_errors: dict[int, Any],
) -> None:
    """GET, PATCH and DELETE ``path``, the one object of the kind ``name`` (e.g. ``cycle``).

    ``schemas`` are (out, patch); ``rows`` (get, to_out): the selector that finds the
    caller's object by ``{name}_id`` and what the answer makes of it; ``writes`` (update,
    delete): the services, which take the object as ``{name}=``; ``summaries`` (get, patch,
    delete). The handlers take ``{name}_id`` from the path, so the OpenAPI document names it.
    """
    out, patch = schemas
    get, to_out = rows
    update, delete = writes
    key = f"{name}_id"
    url_name = f"{name.replace('_', '-')}-detail"
    path_id = inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str)
    request_param = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HttpRequest
    )
    payload = inspect.Parameter(
        "payload", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=patch
    )

    def get_endpoint(request: HttpRequest, **path_ids: str) -> Schema:
        caller = principal(request)
        return to_out(caller, get(org=caller.org, **path_ids))

    def patch_endpoint(request: HttpRequest, payload: Schema, **path_ids: str) -> Schema:
        caller = require_admin(request)
        row = get(org=caller.org, **path_ids)
        data = payload.model_dump(exclude_unset=True)
        return to_out(caller, update(**{name: row}, actor=caller.actor, data=data))

    def delete_endpoint(request: HttpRequest, **path_ids: str) -> Status[None]:
        caller = require_admin(request)
        delete(**{name: get(org=caller.org, **path_ids)}, actor=caller.actor)
        return Status(204, None)

    # Ninja reads the parameters from the signature: the path's id and the patch body by name.
    get_endpoint.__signature__ = inspect.Signature([request_param, path_id])  # type: ignore[attr-defined]
    patch_endpoint.__signature__ = inspect.Signature([request_param, path_id, payload])  # type: ignore[attr-defined]
    delete_endpoint.__signature__ = inspect.Signature([request_param, path_id])  # type: ignore[attr-defined]
    get_summary, patch_summary, delete_summary = summaries
    router.get(
        path,
        response={200: out, **ERRORS},
        operation_id=f"{name}_get",
        url_name=url_name,
        summary=get_summary,
    )(get_endpoint)
    router.patch(
        path,
        auth=ADMIN,
        response={200: out, **ERRORS},
        operation_id=f"{name}_patch",
        url_name=url_name,
        summary=patch_summary,
    )(patch_endpoint)
    router.delete(
        path,
        auth=ADMIN,
        response={204: None, **delete_errors},
        operation_id=f"{name}_delete",
        url_name=url_name,
        summary=delete_summary,
    )(delete_endpoint)


# --- cycles ---------------------------------------------------------------------------------


@router.get(
    "/cycles",
    response={200: list[CycleOut], **ERRORS},
    operation_id="cycle_list",
    url_name="cycle-list",
    summary="Every cycle, the newest start first",
)
def cycle_list_endpoint(request: HttpRequest) -> list[CycleOut]:
    caller = principal(request)
    return [cycle_out(caller, cycle) for cycle in cycle_list(org=caller.org)]


@router.post(
    "/cycles",
    auth=ADMIN,
    response={201: CycleOut, **ERRORS},
    operation_id="cycle_create",
    url_name="cycle-list",
    summary="Create a cycle (admin)",
)
def cycle_create_endpoint(request: HttpRequest, payload: CycleIn) -> Status[CycleOut]:
    caller = require_admin(request)
    cycle = cycle_create(org=caller.org, actor=caller.actor, data=payload.model_dump())
    return Status(201, cycle_out(caller, cycle))


_detail_routes(
    "cycle",
    "/cycles/{cycle_id}",
    (CycleOut, CyclePatch),
    (cycle_get, cycle_out),
    (cycle_update, cycle_delete),
    (
        "One cycle",
        "Rename a cycle or move its dates (admin)",
        "Delete a cycle without objectives (admin); 409 while it has some",
    ),
    WRITE_ERRORS,
)


# --- objectives -----------------------------------------------------------------------------


class ObjectiveListQuery(Schema):
    cycle: str | None = Field(default=None, max_length=100, description="a cycle id")
    team: str | None = Field(
        default=None,
        max_length=MAX_TEAM_SLUG,
        description="only this team's objectives (team id or slug)",
    )


@router.get(
    "/objectives",
    response={200: list[ObjectiveOut], **ERRORS},
    operation_id="objective_list",
    url_name="objective-list",
    summary="Objectives with their key results, progress and status (?cycle= one cycle's, "
    "?team=<team id or slug> one team's)",
)
def objective_list_endpoint(
    request: HttpRequest, filters: Query[ObjectiveListQuery]
) -> list[ObjectiveOut]:
    caller = principal(request)
    cycle = cycle_get(org=caller.org, cycle_id=filters.cycle) if filters.cycle else None
    # An unknown team (or another org's) is a 404: a mistyped slug must not read as "none".
    team = team_find(org=caller.org, key=filters.team) if filters.team is not None else None
    objectives = list(objective_list(org=caller.org, cycle=cycle, team=team))
    cards = objective_cards(org=caller.org, objectives=objectives, now=clock.now())
    return [ObjectiveOut.from_card(card) for card in cards]


@router.post(
    "/objectives",
    auth=ADMIN,
    response={201: ObjectiveOut, **ERRORS},
    operation_id="objective_create",
    url_name="objective-list",
    summary="Create an objective in a cycle (admin)",
)
def objective_create_endpoint(request: HttpRequest, payload: ObjectiveIn) -> Status[ObjectiveOut]:
    caller = require_admin(request)
    objective = objective_create(org=caller.org, actor=caller.actor, data=payload.model_dump())
    return Status(201, objective_out(caller, objective))


_detail_routes(
    "objective",
    "/objectives/{objective_id}",
    (ObjectiveOut, ObjectivePatch),
    (objective_get, objective_out),
    (objective_update, objective_delete),
    (
        "One objective with its key results",
        "Edit an objective or move it to another cycle (admin)",
        "Delete an objective with its key results and their check-ins (admin)",
    ),
    ERRORS,
)


# --- key results ----------------------------------------------------------------------------


@router.post(
    "/objectives/{objective_id}/key-results",
    auth=ADMIN,
    response={201: KeyResultOut, **ERRORS},
    operation_id="key_result_create",
    url_name="objective-key-results",
    summary="Add a key result to an objective (admin); with kpi_id it follows that KPI",
)
def key_result_create_endpoint(
    request: HttpRequest, objective_id: str, payload: KeyResultIn
) -> Status[KeyResultOut]:
    caller = require_admin(request)
    objective = objective_get(org=caller.org, objective_id=objective_id)
    key_result = key_result_create(
        objective=objective, actor=caller.actor, data=payload.model_dump(exclude_unset=True)
    )
    return Status(201, key_result_out(caller, key_result))


_detail_routes(
    "key_result",
    "/key-results/{key_result_id}",
    (KeyResultOut, KeyResultPatch),
    (key_result_get, key_result_out),
    (key_result_update, key_result_delete),
    (
        "One key result with its current value, progress and status",
        "Edit a key result, link or unlink a KPI, move it to another objective (admin)",
        "Delete a key result and its check-ins (admin)",
    ),
    ERRORS,
)


@router.post(
    "/key-results/{key_result_id}/check-ins",
    auth=ADMIN,
    response={201: CheckInOut, **WRITE_ERRORS},
    operation_id="check_in_create",
    url_name="key-result-check-ins",
    summary="Check in a value on a manual key result (admin); 409 when it follows a KPI",
)
def check_in_create_endpoint(
    request: HttpRequest, key_result_id: str, payload: CheckInIn
) -> Status[CheckInOut]:
    caller = require_admin(request)
    key_result = key_result_get(org=caller.org, key_result_id=key_result_id)
    check_in = check_in_record(
        key_result=key_result, actor=caller.actor, value=payload.value, note=payload.note
    )
    return Status(201, CheckInOut.of(check_in, key_result_out(caller, key_result)))


@router.get(
    "/key-results/{key_result_id}/progress",
    response={200: ProgressOut, **ERRORS},
    operation_id="key_result_progress",
    url_name="key-result-progress",
    summary="The key result's progress over its cycle (check-ins or KPI history), oldest first",
)
def key_result_progress_endpoint(request: HttpRequest, key_result_id: str) -> ProgressOut:
    caller = principal(request)
    key_result = key_result_get(org=caller.org, key_result_id=key_result_id)
    window = window_of(caller.org, key_result.objective.cycle)
    points = key_result_progress(org=caller.org, key_result=key_result, now=clock.now())
    return ProgressOut(
        key_result_id=key_result.pk,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        points=[ProgressPointOut.from_point(point) for point in points],
    )
