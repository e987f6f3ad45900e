"""Suite-wide test set-up: the PostgreSQL leg's selection, Chromium launch, factories."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pulseboard.core.actors import Actor

DB_FIXTURES = {
    "db",
    "transactional_db",
    "live_server",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db-only",
        action="store_true",
        help="run only tests that touch the database (the PostgreSQL leg of make test)",
    )


def _uses_db(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & DB_FIXTURES) or item.get_closest_marker("django_db") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db-only"):
        kept = [item for item in items if _uses_db(item)]
        config.hook.pytest_deselected(items=[i for i in items if not _uses_db(i)])
        items[:] = kept
    if not os.path.exists(CHROMIUM):
        skip = pytest.mark.skip(reason=f"browser test skipped: {CHROMIUM} is missing")
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_FLAGS,
    }


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system("test")
