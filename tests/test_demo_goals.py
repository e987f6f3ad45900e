"""The demo's goals (demo.py): a running quarter and the last one, KPI-linked and manual key
results in every status, and a second demo run that writes nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from pulseboard import demo
from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.goals.progress import GoalStatus
from pulseboard.goals.selectors import goal_board, objective_cards, objective_list
from pulseboard.orgs.models import Organization

pytestmark = pytest.mark.django_db


def test_the_demo_has_goals_in_every_status_and_runs_once() -> None:
    now = timezone.now()
    assert demo.demo_create(now=now)
    org = Organization.objects.get(name=demo.DEMO_ORG)
    cards = objective_cards(org=org, objectives=list(objective_list(org=org)), now=now)
    key_results = [kr for card in cards for kr in card.key_results]
    assert {kr.status for kr in key_results} == {status.value for status in GoalStatus}
    linked = [kr for kr in key_results if kr.key_result.kpi_id]
    assert {kr.status for kr in linked} >= {"on_track", "at_risk", "achieved"}
    manual = [kr for kr in key_results if not kr.key_result.kpi_id]
    assert {kr.status for kr in manual} >= {"on_track", "at_risk", "behind", "unknown", "missed"}
    shown, others = goal_board(org=org, now=now)
    assert [b.cycle.name for b in shown] == ["This quarter"] and len(shown[0].objectives) == 2
    assert [b.cycle.name for b in others] == ["Last quarter"]
    counts = (Cycle.objects.count(), Objective.objects.count(), KeyResult.objects.count())
    assert not demo.demo_create(now=now)
    assert (Cycle.objects.count(), Objective.objects.count(), KeyResult.objects.count()) == counts
