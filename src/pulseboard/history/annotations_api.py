"""Annotations API: `GET/POST /kpis/{id}/annotations`, `DELETE /annotations/{id}` (DESIGN §13).

Any token reads the notes of a KPI it can see (read tokens: published KPIs only, like
every KPI route). Writing needs an admin-scope token: an API token belongs to the org,
not to a member, so it is no "any member" and its notes have no author; an admin token
may delete any note of its org, like an admin in the web app. Another org's KPI or note
is a 404, like one that does not exist; so is a note on a draft for a read token.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, model_validator

from pulseboard.core.api_errors import ERRORS
from pulseboard.core.api_input import ApiDatetime
from pulseboard.history.annotations import (
    MAX_TEXT,
    annotation_add,
    annotation_delete,
    annotation_get,
    annotation_list,
)
from pulseboard.history.models import Annotation
from pulseboard.indicators.api import ADMIN, kpi_for
from pulseboard.orgs.api_auth import principal, require_admin

router = Router(tags=["Annotations"])

LIST_LIMIT = 500


class AnnotationIn(Schema):
    """A note: ``text`` (1 to 500 characters once stripped), ``at`` (default now)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description=f"why the number moved: 1 to {MAX_TEXT} characters")
    at: ApiDatetime | None = Field(
        default=None, description="the moment the note is about (default now; at most 1 day ahead)"
    )


class AnnotationOut(Schema):
    id: str
    kpi_id: str
    at: datetime
    text: str
    author_id: int | None = Field(description="the member who wrote it; null when a token did")
    author_name: str | None = Field(description="their name (or e-mail); null when a token did")
    created_at: datetime

    @classmethod
    def of(cls, note: Annotation) -> AnnotationOut:
        author = note.author
        return cls(
            id=note.pk,
            kpi_id=note.kpi_id,
            at=note.at,
            text=note.text,
            author_id=note.author_id,
            author_name=author.display_name if author is not None else None,
            created_at=note.created_at,
        )


class AnnotationQuery(Schema):
    since: ApiDatetime | None = Field(default=None, description="notes dated at or after")
    until: ApiDatetime | None = Field(default=None, description="notes dated before")
    limit: int = Field(default=100, ge=1, le=LIST_LIMIT, description="at most this many")

    @model_validator(mode="after")
    def _ordered(self) -> AnnotationQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


@router.get(
    "/kpis/{kpi_id}/annotations",
    response={200: list[AnnotationOut], **ERRORS},
    operation_id="kpi_annotations",
    url_name="kpi-annotations",
    summary="Notes on a KPI, newest first (?since=&until=&limit=)",
)
def kpi_annotations_endpoint(
    request: HttpRequest, kpi_id: str, query: Query[AnnotationQuery]
) -> list[AnnotationOut]:
    caller = principal(request)
    kpi = kpi_for(caller, kpi_id)
    notes = annotation_list(org=caller.org, kpi=kpi, since=query.since, until=query.until)
    return [AnnotationOut.of(note) for note in notes[: query.limit]]


@router.post(
    "/kpis/{kpi_id}/annotations",
    auth=ADMIN,
    response={201: AnnotationOut, **ERRORS},
    operation_id="kpi_annotation_add",
    url_name="kpi-annotations",
    summary="Add a note to a KPI (admin token): why the number moved",
)
def kpi_annotation_add_endpoint(
    request: HttpRequest, kpi_id: str, payload: AnnotationIn
) -> Status[AnnotationOut]:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    note = annotation_add(kpi=kpi, actor=caller.actor, text=payload.text, at=payload.at)
    return Status(201, AnnotationOut.of(note))


@router.delete(
    "/annotations/{annotation_id}",
    auth=ADMIN,
    response={204: None, **ERRORS},
    operation_id="annotation_delete",
    url_name="annotation-detail",
    summary="Delete a note (admin token)",
)
def annotation_delete_endpoint(request: HttpRequest, annotation_id: str) -> Status[None]:
    caller = require_admin(request)
    # Admin tokens see drafts too: no visibility check beyond the org.
    note = annotation_get(org=caller.org, annotation_id=annotation_id)
    annotation_delete(annotation=note, actor=caller.actor, is_admin=caller.is_admin)
    return Status(204, None)
