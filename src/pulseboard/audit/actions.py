"""Pure: the audit action names (stable strings, ``<entity>.<past tense>``).

The org, membership, invite and token actions are named by ``orgs/actions.py``: orgs sits
below the audit log (DESIGN §16) and records through ``orgs/audit_hook.py``.
"""

from enum import StrEnum


class Action(StrEnum):
    KPI_CREATED = "kpi.created"
    KPI_UPDATED = "kpi.updated"
    KPI_SHAPE_CHANGED = "kpi.shape_changed"
    KPI_PUBLISHED = "kpi.published"
    KPI_UNPUBLISHED = "kpi.unpublished"
    KPI_REORDERED = "kpi.reordered"
    KPI_DELETED = "kpi.deleted"
    # Time alone (a rolling baseline, a scheduled target) changed the status (DESIGN §12).
    KPI_STATUS_CHANGED = "kpi.status_changed"
    KPI_TARGETS_CHANGED = "kpi.targets_changed"
    VALUE_RECORDED = "value.recorded"
    HISTORY_BACKFILLED = "history.backfilled"
    HISTORY_IMPORTED = "history.imported"
    SOURCE_BOUND = "source.bound"
    SOURCE_CONFIG_CHANGED = "source.config_changed"
    SOURCE_SECRET_MINTED = "source.secret_minted"
    SOURCE_SECRET_ROTATED = "source.secret_rotated"
    CONNECTION_CREATED = "connection.created"
    CONNECTION_REFRESHED = "connection.refreshed"
    CONNECTION_REMOVED = "connection.removed"
    CYCLE_CREATED = "cycle.created"
    CYCLE_UPDATED = "cycle.updated"
    CYCLE_DELETED = "cycle.deleted"
    OBJECTIVE_CREATED = "objective.created"
    OBJECTIVE_UPDATED = "objective.updated"
    OBJECTIVE_DELETED = "objective.deleted"
    KEY_RESULT_CREATED = "key_result.created"
    KEY_RESULT_UPDATED = "key_result.updated"
    KEY_RESULT_DELETED = "key_result.deleted"
    KEY_RESULT_CHECKED_IN = "key_result.checked_in"
    SHARE_LINK_CREATED = "share_link.created"
    SHARE_LINK_REVOKED = "share_link.revoked"
    ANNOTATION_ADDED = "annotation.added"
    ANNOTATION_DELETED = "annotation.deleted"
