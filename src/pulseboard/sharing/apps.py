"""Django app config for sharing: share links, their boards, badges and tile images.

A link that chose KPIs shows exactly those; with none chosen it shows every
published KPI. So that deleting a link's last chosen KPI never widens the link to
every KPI, this app revokes such links just before the KPI goes, inside the same
transaction (``pre_delete`` of ``Kpi``: indicators sits below sharing and does not
know links exist).

A link ends with its creator's admin power, like the API tokens and invites they made:
when they are demoted from admin or removed from the org, ``orgs`` (below) calls the
"admin power ended" hook of ``orgs/member_hooks.py``, which this app registers, and their
active links are revoked and audited in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import pre_delete


def _before_kpi_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    from pulseboard.sharing.services import share_links_revoke_emptied

    share_links_revoke_emptied(kpi=instance)


class SharingConfig(AppConfig):
    name = "pulseboard.sharing"
    label = "sharing"

    def ready(self) -> None:
        from pulseboard.indicators.models import Kpi
        from pulseboard.orgs.member_hooks import register_admin_power_ended
        from pulseboard.sharing.services import share_links_revoke_by_creator

        pre_delete.connect(_before_kpi_delete, sender=Kpi, dispatch_uid="sharing.kpi_delete")
        register_admin_power_ended("share link", share_links_revoke_by_creator)
