"""Pure: roles and what each may do (no Django)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class TokenScope(StrEnum):
    ADMIN = "admin"
    READ = "read"


def can_administer(role: str) -> bool:
    """Publish/edit KPIs, bind connectors, mint secrets, invite, read the audit log."""
    return role == Role.ADMIN


def can_view(role: str) -> bool:
    return role in (Role.ADMIN, Role.MEMBER)
