"""The registry: one connector per stored kind, a clear error for any other kind, and a
kind registered at run time works end to end with no other module changed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pydantic import Field
from tests.api_client import ApiClient
from tests.factories import KpiFactory

from pulseboard.connectors.base import (
    Connector,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
)
from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.pull_selectors import source_state_by_kind
from pulseboard.connectors.registry import (
    BUILT_IN,
    CONNECTORS,
    KIND_MAX_LENGTH,
    connector_for,
    is_pull_kind,
    kind_choices,
    pull_kinds,
    register,
    unregister,
)
from pulseboard.core import clock
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import SafeFetchPolicy, SafeSession
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.worker.runner import Worker, WorkerOptions


def test_each_key_names_its_connector_and_fits_the_kind_columns() -> None:
    for kind, connector in CONNECTORS.items():
        assert connector.kind == kind
        assert isinstance(connector, Connector)
        assert len(kind) <= KIND_MAX_LENGTH
    assert Source._meta.get_field("kind").max_length == KIND_MAX_LENGTH
    assert KpiHistory._meta.get_field("source").max_length == KIND_MAX_LENGTH


def test_pull_kinds_and_choices_derive_from_the_registry() -> None:
    assert set(pull_kinds()) == {c.kind for c in BUILT_IN if isinstance(c, PullConnector)}
    assert {"https_get", "sheets"} <= set(pull_kinds())
    assert not {"manual", "webhook"} & set(pull_kinds())
    assert [kind for kind, _ in kind_choices()] == list(CONNECTORS)
    assert Source._meta.get_field("kind").choices == kind_choices()


def test_manual_and_webhook_are_registered() -> None:
    assert {"manual", "webhook"} <= set(CONNECTORS)


@pytest.mark.parametrize("kind", ["", "ftp", "Manual", None, 3, ["webhook"]])
def test_an_unknown_kind_is_refused_listing_the_known_ones(kind: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        connector_for(kind)
    assert "manual" in caught.value.errors["kind"]
    assert "webhook" in caught.value.errors["kind"]


# --- a throwaway pull kind, registered at run time ------------------------------------------


class CounterConfig(PullConfig):
    number: float = Field(description="the value every pull reads")


class CounterConnector(PullConnector[CounterConfig]):
    """Reads the number in its configuration: a kind no module of the product knows."""

    kind: ClassVar[str] = "test_counter"
    label: ClassVar[str] = "Test counter"
    summary: ClassVar[str] = "Reads a fixed number (tests only)."
    config_model = CounterConfig

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        return Observation(value=float(context.config["number"]))


@pytest.fixture
def counter_kind() -> Iterator[str]:
    register(CounterConnector())
    try:
        yield CounterConnector.kind
    finally:
        unregister(CounterConnector.kind)


def test_a_kind_name_is_registered_once_and_must_fit_the_column(counter_kind: str) -> None:
    with pytest.raises(ValueError, match="registered already"):
        register(CounterConnector())

    class Wide(CounterConnector):
        kind: ClassVar[str] = "x" * (KIND_MAX_LENGTH + 1)

    with pytest.raises(ValueError, match="at most 32"):
        register(Wide())


@pytest.mark.django_db(transaction=True)
def test_a_registered_pull_kind_binds_through_the_api_and_the_worker_pulls_it(
    counter_kind: str,
) -> None:
    kpi: Kpi = KpiFactory(title="Throwaway")
    api = ApiClient.for_org(kpi.org)
    assert is_pull_kind(counter_kind)

    bound = api.put(
        f"/kpis/{kpi.pk}/source",
        {"kind": counter_kind, "config": {"number": 41.5, "interval_seconds": 60}},
    )
    assert bound.status_code == 200, bound.content
    assert bound.json()["kind"] == counter_kind
    assert bound.json()["interval_seconds"] == 60

    Source.objects.filter(kpi=kpi).update(next_pull_at=clock.now())
    options = WorkerOptions(
        owner="registry-test", policy=SafeFetchPolicy(), poll_seconds=0.05, once=True
    )
    stats = asyncio.run(Worker(options).run())

    assert stats.ok == 1
    kpi.refresh_from_db()
    assert kpi.current_value == 41.5
    (row,) = KpiHistory.objects.filter(kpi=kpi)
    assert row.source == counter_kind
    assert PullAttempt.objects.get(source__kpi=kpi).ok
    states = {state.kind: state for state in source_state_by_kind(now=clock.now())}
    assert states[counter_kind].sources == 1
    read_back: Any = api.get(f"/kpis/{kpi.pk}/source").json()
    assert read_back["kind"] == counter_kind
