"""Every source kind Pulseboard knows, by name: the one place a kind is registered.

Adding a kind is one module (or package) implementing ``base.Connector`` (or
``base.PullConnector``) and one line in ``BUILT_IN``. Everything else derives from
here: the stored ``Source.kind`` values and their choices, which kinds the worker pulls,
the history source name of a value a connector brought (its kind), the kind picker and
the API's error listing the kinds there are. ``register`` adds a kind at run time (the
tests register a throwaway pull kind this way).
"""

from __future__ import annotations

import re
from typing import Any, Final

from pulseboard.connectors.base import Connector, PullConnector
from pulseboard.connectors.https_get import HttpsGetConnector
from pulseboard.connectors.manual import ManualConnector
from pulseboard.connectors.prometheus import PrometheusConnector
from pulseboard.connectors.sheets.connector import SheetsConnector
from pulseboard.connectors.sql import SqlConnector
from pulseboard.connectors.webhook import WebhookConnector
from pulseboard.core.errors import ValidationFailed

# Stored in Source.kind and KpiHistory.source (32 characters wide).
KIND_MAX_LENGTH: Final = 32
_KIND_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

BUILT_IN: Final[tuple[Connector[Any], ...]] = (
    ManualConnector(),
    WebhookConnector(),
    HttpsGetConnector(),
    SheetsConnector(),
    PrometheusConnector(),
    SqlConnector(),
)

CONNECTORS: Final[dict[str, Connector[Any]]] = {}


def register(connector: Connector[Any]) -> Connector[Any]:
    """Make ``connector``'s kind known; a kind name is lower-case and registered once."""
    kind = connector.kind
    if not _KIND_NAME.fullmatch(kind):
        raise ValueError(f"kind {kind!r}: lower-case letters, digits and _, at most 32")
    if kind in CONNECTORS:
        raise ValueError(f"kind {kind!r} is registered already")
    CONNECTORS[kind] = connector
    return connector


def unregister(kind: str) -> None:
    """Forget a kind registered at run time (tests clean up with this)."""
    CONNECTORS.pop(kind, None)


for _connector in BUILT_IN:
    register(_connector)


def connector_for(kind: object) -> Connector[Any]:
    """The connector of ``kind``, or ``ValidationFailed`` listing the kinds there are."""
    connector = CONNECTORS.get(kind) if isinstance(kind, str) else None
    if connector is None:
        known = ", ".join(CONNECTORS)
        raise ValidationFailed(
            f"unknown source kind; use one of: {known}", errors={"kind": f"must be one of: {known}"}
        )
    return connector


def kind_choices() -> list[tuple[str, str]]:
    """``(kind, label)`` for every registered kind: the choices of ``Source.kind``."""
    return [(kind, connector.label) for kind, connector in CONNECTORS.items()]


def pull_kinds() -> tuple[str, ...]:
    """The kinds the worker pulls on a schedule."""
    return tuple(kind for kind, connector in CONNECTORS.items() if connector.is_pull)


def is_pull_kind(kind: str) -> bool:
    return isinstance(CONNECTORS.get(kind), PullConnector)
