"""Who did something: a user, an API token, a connector or the system.

Every service takes an explicit ``Actor`` so the audit log can say who acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"
    TOKEN = "token"
    CONNECTOR = "connector"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    label: str
    ip: str | None = None
    user_id: int | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind=ActorKind.SYSTEM, id="system", label=label)

    @classmethod
    def connector(cls, kind: str, source_id: str) -> Actor:
        return cls(kind=ActorKind.CONNECTOR, id=source_id, label=f"connector:{kind}")

    @classmethod
    def for_user(cls, user: object, ip: str | None = None) -> Actor:
        user_id = getattr(user, "pk", None)
        return cls(
            kind=ActorKind.USER,
            id=str(user_id),
            label=str(getattr(user, "email", user_id)),
            ip=ip,
            user_id=user_id,
        )
