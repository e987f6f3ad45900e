"""The registry: one connector per stored kind, and a clear error for any other kind."""

from __future__ import annotations

import pytest

from pulseboard.connectors.base import Connector
from pulseboard.connectors.models import SourceKind
from pulseboard.connectors.registry import CONNECTORS, connector_for
from pulseboard.core.errors import ValidationFailed


def test_each_key_is_a_stored_kind_and_names_its_connector() -> None:
    for kind, connector in CONNECTORS.items():
        assert kind in SourceKind.values
        assert connector.kind == kind
        assert isinstance(connector, Connector)


def test_pull_kinds_are_the_ones_the_source_model_treats_as_pulled() -> None:
    for kind, connector in CONNECTORS.items():
        assert connector.is_pull == (kind in (SourceKind.HTTPS_GET, SourceKind.SHEETS))


def test_manual_and_webhook_are_registered() -> None:
    assert {"manual", "webhook"} <= set(CONNECTORS)


@pytest.mark.parametrize("kind", ["", "ftp", "Manual", None, 3, ["webhook"]])
def test_an_unknown_kind_is_refused_listing_the_known_ones(kind: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        connector_for(kind)
    assert "manual" in caught.value.errors["kind"]
    assert "webhook" in caught.value.errors["kind"]
