"""Pure: the audit action names (stable strings, ``<entity>.<past tense>``)."""

from enum import StrEnum


class Action(StrEnum):
    ORG_CREATED = "org.created"
    KPI_CREATED = "kpi.created"
    KPI_UPDATED = "kpi.updated"
    KPI_SHAPE_CHANGED = "kpi.shape_changed"
    KPI_PUBLISHED = "kpi.published"
    KPI_UNPUBLISHED = "kpi.unpublished"
    KPI_REORDERED = "kpi.reordered"
    KPI_DELETED = "kpi.deleted"
    VALUE_RECORDED = "value.recorded"
    HISTORY_BACKFILLED = "history.backfilled"
    SOURCE_BOUND = "source.bound"
    SOURCE_CONFIG_CHANGED = "source.config_changed"
    SOURCE_SECRET_MINTED = "source.secret_minted"
    SOURCE_SECRET_ROTATED = "source.secret_rotated"
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    INVITE_REVOKED = "invite.revoked"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    CONNECTION_CREATED = "connection.created"
    CONNECTION_REMOVED = "connection.removed"
