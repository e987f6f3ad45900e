"""Domain errors raised by services and mapped to HTTP answers at the edges.

Services raise these instead of framework exceptions so the same rule reads the
same through the web forms, the API and the CLI.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base: a request that cannot be carried out; ``message`` is safe to show."""

    status = 400

    def __init__(self, message: str, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    """Input does not satisfy a rule; ``errors`` maps field names to messages."""

    status = 422


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409
