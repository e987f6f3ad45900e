"""The manual connector, every KPI's default: admins type the value (web inline edit or API).

It has no settings and no secret; binding a KPI back to manual keeps its last value.
"""

from __future__ import annotations

from typing import ClassVar

from pulseboard.connectors.base import Connector, ConnectorConfig


class ManualConfig(ConnectorConfig):
    """Nothing to configure."""


class ManualConnector(Connector[ManualConfig]):
    kind: ClassVar[str] = "manual"
    label: ClassVar[str] = "Manual"
    summary: ClassVar[str] = "Admins type the value (inline on Home and in settings, or the API)."
    config_model = ManualConfig
