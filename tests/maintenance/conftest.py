"""Fixtures for the maintenance tests: fresh installations in the test's temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.maintenance.installation import Installation, make_installation


@pytest.fixture(scope="session")
def template_installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """Demo data and secrets, made once; tests get copies."""
    return make_installation(tmp_path_factory.mktemp("template") / "data", extra_history=0)


@pytest.fixture
def installation_factory(
    tmp_path: Path, template_installation: Installation
) -> Callable[..., Installation]:
    def make(name: str = "install", *, extra_history: int = 0) -> Installation:
        if extra_history:
            return make_installation(tmp_path / name, extra_history=extra_history)
        return template_installation.copy_to(tmp_path / name)

    return make
