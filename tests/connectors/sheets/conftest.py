"""Fixtures of the Sheets tests: the Google stand-in with two cells set, an admin, her account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from tests.connectors.google_standin import GoogleStandIn, running_standin
from tests.connectors.sheets.flow import BASE_URL, SHEET_ID, connected
from tests.factories import MembershipFactory

from pulseboard.connectors.models import GoogleConnection
from pulseboard.orgs.models import Membership


@pytest.fixture
def google(tmp_path: Path, settings: Any) -> Iterator[GoogleStandIn]:
    with running_standin(tmp_path) as standin:
        settings.PULSEBOARD = {**settings.PULSEBOARD, **standin.settings(), "BASE_URL": BASE_URL}
        standin.set_cell(SHEET_ID, "Sheet1", "B12", "1,234.5")
        standin.set_cell(SHEET_ID, "Sheet1", "B13", "999")
        yield standin


@pytest.fixture
def alice(db: None) -> Membership:
    return MembershipFactory(role="admin")


@pytest.fixture
def alice_connection(client: Client, google: GoogleStandIn, alice: Membership) -> GoogleConnection:
    return connected(client, google, alice)
