"""Schemas every API router shares: the error body and the error statuses operations document.

Every error the API returns has this shape (``api.py`` maps each failure to
it), and every operation lists these statuses so the OpenAPI schema describes
all answers a client can get.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field


class ErrorOut(Schema):
    detail: str = Field(description="what is wrong, in one sentence")
    errors: dict[str, str] | None = Field(
        default=None, description="field name -> message, when specific fields are wrong"
    )


ERRORS: dict[int, Any] = {
    400: ErrorOut,  # the body is not acceptable JSON
    401: ErrorOut,  # no valid token
    403: ErrorOut,  # the token's scope does not allow this
    404: ErrorOut,  # no such object in the token's organization
    413: ErrorOut,  # the body is larger than 256 KiB
    414: ErrorOut,  # the URL (path and query) is longer than 4096 characters
    422: ErrorOut,  # a field is invalid (see "errors")
    429: ErrorOut,  # too many writes with this token (see Retry-After)
}
