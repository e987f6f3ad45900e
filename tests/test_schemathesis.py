"""Property-based test of the served API against its own OpenAPI schema (schemathesis).

For every operation of ``/api/v1/openapi.json`` as served by a live server,
schemathesis generates valid and invalid requests with an admin token and
checks that no answer is a 5xx, that every status, content type, header and
body is the one the schema documents, and that invalid input is rejected.
Path ids are pinned to real objects of the token's org so the happy paths run
too; ``token_id`` names a spare token, never the one the requests carry.
Bounded to a few examples per operation so it stays well under a minute.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.factories import KeyResultFactory, KpiFactory, KpiHistoryFactory, OrganizationFactory

from pulseboard.api import api
from pulseboard.core.actors import Actor
from pulseboard.orgs.services import token_create
from pulseboard.orgs.teams import team_create

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Read from the API object so the list is fixed at import; the test loads the served schema.
# DELETEs go last so they do not remove the pinned KPI from under the other operations.
OPERATIONS = sorted(
    (
        (
            path,
            method.upper(),
            "requestBody" in spec or any(p["in"] != "path" for p in spec.get("parameters", [])),
        )
        for path, methods in api.get_openapi_schema()["paths"].items()
        for method, spec in methods.items()
    ),
    key=lambda operation: operation[1] == "DELETE",
)


@pytest.fixture
def pinned(live_server: Any, settings: Any) -> dict[str, str]:
    """An admin token, and real ids of its org for the path parameters."""
    # Generated writes would otherwise meet the per-token limit and see only 429s.
    settings.PULSEBOARD = {**settings.PULSEBOARD, "API_WRITE_RATE": "100000/minute"}
    org = OrganizationFactory()
    kpi = KpiFactory(org=org)
    KpiHistoryFactory(kpi=kpi)
    actor = Actor.system("schemathesis")
    _, token = token_create(org=org, actor=actor, name="schemathesis", scope="admin")
    spare, _ = token_create(org=org, actor=actor, name="spare", scope="read")
    key_result = KeyResultFactory(objective__cycle__org=org)
    team = team_create(org=org, actor=actor, name="Schemathesis team")
    return {
        "token": token,
        "kpi_id": kpi.pk,
        "token_id": spare.pk,
        "cycle_id": key_result.objective.cycle_id,
        "objective_id": key_result.objective_id,
        "key_result_id": key_result.pk,
        "team_id": team.pk,
    }


def _fuzz(operation: Any, mode: GenerationMode, pinned: dict[str, str], base_url: str) -> None:
    names = {p.name for p in operation.path_parameters}
    strategy = operation.as_strategy(
        mode,
        path_parameters={name: pinned[name] for name in names if name in pinned},
        headers={"Authorization": f"Bearer {pinned['token']}"},
    )

    # The fixtures only pin ids and a token, which every example may share.
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS)

    check()


# One test per mode, every operation inside: a live-server test costs a database
# flush, which on PostgreSQL would dominate a test per operation.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_api_conforms_to_its_schema_and_never_fails(
    live_server: Any, pinned: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    failures = []
    for path, method, has_input in OPERATIONS:
        # Invalid input needs input besides the pinned path ids to be invalid in.
        if mode == GenerationMode.NEGATIVE and not has_input:
            continue
        try:
            _fuzz(schema[path][method], mode, pinned, live_server.url)
        except Exception as exc:  # hypothesis raises with the failing example and a curl line
            failures.append(f"{method} {path} ({mode.value}):\n{exc}")
    assert not failures, "\n\n".join(failures)
