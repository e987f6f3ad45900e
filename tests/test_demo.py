"""The demo shows the whole product (DESIGN §12, issue 13 item 6).

The data: every status, a stale KPI, a failing pull source with its error, a KPI tree,
teams, annotations, status changes that follow the history. The feed: ``pulseboard serve
--demo-feed`` (what ``make run`` runs) in a subprocess moves the webhook KPI's value through
the real signed webhook path, seen through the API.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from tests.smtp_server import free_port
from tests.test_cli_serve import cli, pulseboard_env

from pulseboard import demo
from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import PullAttempt
from pulseboard.history.models import Annotation, KpiHistory
from pulseboard.indicators.durations import parse_duration
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.status import is_stale
from pulseboard.orgs.models import Organization, Team


@pytest.mark.django_db
def test_the_demo_covers_every_status_staleness_a_failing_source_a_tree_teams_and_notes() -> None:
    now = timezone.now()
    assert demo.demo_create(now=now)
    org = Organization.objects.get(name=demo.DEMO_ORG)
    kpis = {kpi.title: kpi for kpi in Kpi.objects.filter(org=org).select_related("source")}
    assert set(kpis) == {spec.fields["title"] for spec in demo.DEMO_KPIS}
    assert all(kpi.published for kpi in kpis.values())
    assert {kpi.status for kpi in kpis.values()} == {"green", "yellow", "red", "unknown"}
    assert kpis["Deploys per day"].current_value is None

    stale = [
        title
        for title, kpi in kpis.items()
        if is_stale(
            observed_at=kpi.observed_at,
            now=now,
            expected_every=parse_duration(kpi.expected_every) if kpi.expected_every else None,
            pull_interval=None,
            last_success_at=None,
        )
    ]
    assert stale == ["Weekly active teams"]

    failing = kpis[demo.FAILING_KPI].source
    assert failing.kind == "https_get" and failing.failing
    assert "503" in failing.last_error and failing.consecutive_failures >= 3
    assert PullAttempt.objects.filter(source=failing, ok=False).count() == 5
    assert sum(kpi.source.failing for kpi in kpis.values()) == 1

    feed = kpis[demo.FEED_KPI].source
    assert feed.kind == "webhook" and feed.secret_encrypted and feed.secret_hint

    # A tree: outcomes on top (lagging), drivers below, some KPIs outside any tree.
    children = {title: kpi.parent_id for title, kpi in kpis.items()}
    assert children["Monthly churn"] == kpis["ARR"].pk
    assert children["p95 API latency"] == kpis["Monthly churn"].pk
    assert children["MTTR"] == kpis["Uptime"].pk
    assert children["ARR"] is None and children["Sessions per user"] is None
    assert {kpi.category for kpi in kpis.values()} == {"leading", "lagging"}

    teams = {team.slug: team for team in Team.objects.filter(org=org)}
    assert set(teams) == set(demo.TEAMS)
    assert Kpi.objects.filter(team=teams["platform"]).count() >= 3
    assert Kpi.objects.filter(team=teams["growth"]).count() >= 3
    assert Kpi.objects.filter(org=org, team=None).exists()

    notes = Annotation.objects.filter(org=org)
    assert notes.count() >= 3 and all(note.author_id for note in notes)
    assert all(note.at <= now for note in notes)
    assert AuditEvent.objects.filter(org_id=org.pk, action="annotation.added").count() == (
        notes.count()
    )


@pytest.mark.django_db
def test_status_changes_follow_each_kpis_history_and_status_since_is_the_last() -> None:
    now = timezone.now()
    assert demo.demo_create(now=now)
    for kpi in Kpi.objects.filter(org__name=demo.DEMO_ORG):
        rows = KpiHistory.objects.filter(kpi=kpi).order_by("observed_at")
        statuses = ["unknown", *rows.values_list("status", flat=True)]
        transitions = [(a, b) for a, b in itertools.pairwise(statuses) if a != b]
        changes = list(StatusChange.objects.filter(kpi=kpi).order_by("at"))
        assert [(c.from_status, c.to_status) for c in changes] == transitions, kpi.title
        if changes:
            assert changes[-1].to_status == kpi.status
            assert kpi.status_since == changes[-1].at
        else:
            assert kpi.status == "unknown" and kpi.status_since is None
    churn = Kpi.objects.get(org__name=demo.DEMO_ORG, title="Monthly churn")
    # Off track since the first of its two red days.
    assert churn.status == "red" and now - churn.status_since == timedelta(days=1)


@pytest.mark.django_db
def test_the_history_of_a_demo_kpi_is_its_days_cut_and_pinned() -> None:
    now = timezone.now()
    assert demo.demo_create(now=now)
    expected = sum(spec.history_days for spec in demo.DEMO_KPIS)
    assert KpiHistory.objects.filter(kpi__org__name=demo.DEMO_ORG).count() == expected
    latency = Kpi.objects.get(org__name=demo.DEMO_ORG, title="p95 API latency")
    assert latency.current_value == 436 and latency.status == "yellow"
    stale = Kpi.objects.get(org__name=demo.DEMO_ORG, title="Weekly active teams")
    assert stale.observed_at == now - timedelta(days=3)


def test_the_feed_walks_within_its_bounds_and_comes_back_to_the_middle() -> None:
    rng = random.Random(7)
    value, seen = demo.FEED_HIGH, []
    for _ in range(400):
        value = demo.next_feed_value(value, rng)
        seen.append(value)
    assert all(demo.FEED_LOW <= v <= demo.FEED_HIGH for v in seen)
    assert len(set(seen)) > 20  # it moves
    assert abs(sum(seen[100:]) / len(seen[100:]) - demo.FEED_MIDDLE) < 25


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
        ("pulse.internal", "http://pulse.internal:8000"),
    ],
)
def test_the_feed_posts_to_where_the_server_listens(host: str, url: str) -> None:
    assert demo.feed_base_url(host, 8000) == url


@pytest.mark.slow
def test_make_runs_server_moves_the_demo_webhook_kpi_through_the_signed_path(
    tmp_path: Path,
) -> None:
    env = pulseboard_env(tmp_path)
    cli(env, "demo")
    token = cli(
        env, "token", "create", "--org", "acme-demo", "--name", "feed test", "--scope", "read"
    )
    headers = {"Authorization": f"Bearer {token.strip()}"}
    port = free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "pulseboard.cli", "serve", "--no-worker", "--demo-feed"]
    command += ["--port", str(port), "--workers", "1", "--threads", "2"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as api:
            kpi = _feed_kpi(api, process, log)
            first = kpi["current_value"]
            deadline = time.monotonic() + 20  # the feed posts every 4 s
            while time.monotonic() < deadline:
                now_value = api.get(f"/api/v1/kpis/{kpi['id']}").json()["current_value"]
                if now_value != first:
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(f"the demo KPI stayed at {first}:\n{log.read_text()}")
            # It came through the signed webhook endpoint, as an integrator's value would.
            rows = api.get(f"/api/v1/kpis/{kpi['id']}/history").json()["history"]
            assert rows[-1]["source"] == "webhook", rows[-1]
            assert "Demo feed: a new" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=20)


def _feed_kpi(api: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            listed = api.get("/api/v1/kpis")
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        assert listed.status_code == 200, listed.text
        items = listed.json()
        items = items["items"] if isinstance(items, dict) else items
        return next(k for k in items if k["title"] == demo.FEED_KPI)
    raise AssertionError("serve did not answer:\n" + log.read_text())


@pytest.mark.django_db
def test_the_feed_target_is_the_webhook_kpi_with_its_own_secret_and_none_without_the_demo() -> None:
    assert demo.demo_feed_target(base_url="http://127.0.0.1:8000") is None
    assert demo.demo_create(now=timezone.now())
    target = demo.demo_feed_target(base_url="http://127.0.0.1:8000")
    assert target is not None
    kpi = Kpi.objects.get(org__name=demo.DEMO_ORG, title=demo.FEED_KPI)
    assert target.url == f"http://127.0.0.1:8000/hooks/kpis/{kpi.pk}"
    assert target.secret.startswith("whsec_") and target.secret.endswith(kpi.source.secret_hint)
    assert target.value == kpi.current_value


def test_the_feed_hooks_keep_the_servers_own_hooks_and_start_and_stop_the_feed() -> None:
    calls: list[str] = []
    feed = demo.DemoFeed(
        demo.FeedTarget(url="http://127.0.0.1:9/hooks/kpis/x", secret="whsec_eA==", value=200),
        interval=3600,
    )
    hooks = demo.demo_feed_hooks(
        {"when_ready": lambda server: calls.append("ready"), "post_fork": print}, feed
    )
    assert hooks["post_fork"] is print
    hooks["when_ready"](None)
    assert calls == ["ready"] and feed.running
    hooks["on_exit"](None)
    assert not feed.running and feed.sent == 0
