"""The live webhook endpoint: real HTTP, deliveries signed with ``standardwebhooks``.

Every rejection is checked to write nothing (no history row, no delivery, no audit
event, the KPI's value unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from tests.connectors.signing import Written, bind_webhook, deliver, signed_headers
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import WebhookDelivery
from pulseboard.connectors.services import webhook_secret_rotate
from pulseboard.connectors.webhook import MAX_BODY_BYTES, NO_V1_SIGNATURE, SIGNATURE_MISMATCH
from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi

OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


@pytest.fixture
def kpi(transactional_db: None) -> Kpi:
    return KpiFactory(threshold=10.0)


@pytest.fixture
def secret(kpi: Kpi) -> str:
    return bind_webhook(kpi)


@pytest.fixture
def url(live_server: Any, kpi: Kpi) -> str:
    return f"{live_server.url}/hooks/kpis/{kpi.pk}"


def refused_without_writing(kpi: Kpi, send: Callable[[], httpx.Response]) -> httpx.Response:
    before = Written.now(kpi)
    response = send()
    assert Written.now(kpi) == before
    assert response.headers["content-type"] == "application/json"
    return response


def test_a_signed_delivery_becomes_the_value_with_history_and_audit(
    kpi: Kpi, secret: str, url: str
) -> None:
    response = deliver(url, secret, {"value": 12.5}, msg_id="msg_first")
    assert response.status_code == 200
    assert response.json() | {"observed_at": None} == {
        "accepted": True,
        "replay": False,
        "applied": True,
        "value": 12.5,
        "observed_at": None,
        "ignored_fields": [],
    }
    kpi.refresh_from_db()
    assert kpi.current_value == 12.5
    assert kpi.status == "green"
    history = KpiHistory.objects.get(kpi=kpi)
    assert (history.value, history.source) == (12.5, "webhook")
    delivery = WebhookDelivery.objects.get(kpi=kpi)
    assert (delivery.webhook_id, delivery.value, delivery.applied) == ("msg_first", 12.5, True)
    event = AuditEvent.objects.filter(action="value.recorded").get()
    assert (event.actor_kind, event.actor_label) == ("connector", "connector:webhook")
    assert event.ip == "127.0.0.1"
    assert "set-cookie" not in response.headers


def test_observed_at_in_the_body_is_the_observation_time(kpi: Kpi, secret: str, url: str) -> None:
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    response = deliver(url, secret, {"value": 3, "observed_at": moment.isoformat()})
    assert response.status_code == 200
    kpi.refresh_from_db()
    assert kpi.observed_at == moment


def test_a_late_delivery_goes_to_history_without_moving_the_value(
    kpi: Kpi, secret: str, url: str
) -> None:
    now = datetime.now(UTC)
    assert deliver(url, secret, {"value": 20, "observed_at": now.isoformat()}).status_code == 200
    earlier = (now - timedelta(hours=2)).isoformat()
    response = deliver(url, secret, {"value": 5, "observed_at": earlier})
    assert response.status_code == 200
    assert response.json()["applied"] is False
    kpi.refresh_from_db()
    assert kpi.current_value == 20
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2
    assert WebhookDelivery.objects.get(kpi=kpi, value=5).applied is False


def test_a_replayed_webhook_id_answers_200_without_a_second_write(
    kpi: Kpi, secret: str, url: str
) -> None:
    assert deliver(url, secret, {"value": 7}, msg_id="msg_same").status_code == 200
    after_first = Written.now(kpi)
    response = deliver(url, secret, {"value": 7}, msg_id="msg_same")
    assert response.status_code == 200
    assert response.json()["replay"] is True
    assert Written.now(kpi) == after_first


def test_a_replay_with_a_different_value_still_writes_nothing(
    kpi: Kpi, secret: str, url: str
) -> None:
    deliver(url, secret, {"value": 7}, msg_id="msg_same")
    after_first = Written.now(kpi)
    response = deliver(url, secret, {"value": 8}, msg_id="msg_same")
    assert (response.status_code, response.json()["value"]) == (200, 7)
    assert Written.now(kpi) == after_first


def test_a_webhook_id_older_than_24_hours_is_accepted_again(
    kpi: Kpi, secret: str, url: str
) -> None:
    deliver(url, secret, {"value": 7}, msg_id="msg_old")
    WebhookDelivery.objects.filter(kpi=kpi).update(
        received_at=datetime.now(UTC) - timedelta(hours=25)
    )
    response = deliver(url, secret, {"value": 9}, msg_id="msg_old")
    assert response.json()["replay"] is False
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2
    assert list(WebhookDelivery.objects.filter(kpi=kpi).values_list("value", flat=True)) == [9]


def test_a_wrong_secret_is_401_and_writes_nothing(kpi: Kpi, secret: str, url: str) -> None:
    response = refused_without_writing(kpi, lambda: deliver(url, OTHER_SECRET, {"value": 1}))
    assert (response.status_code, response.json()) == (401, {"detail": SIGNATURE_MISMATCH})


def test_a_tampered_body_is_401_and_writes_nothing(kpi: Kpi, secret: str, url: str) -> None:
    headers = signed_headers(secret, b'{"value": 1}')

    def send() -> httpx.Response:
        return httpx.post(url, content=b'{"value": 1000}', headers=headers)

    assert refused_without_writing(kpi, send).status_code == 401


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_timestamp_outside_five_minutes_is_401(
    kpi: Kpi, secret: str, url: str, offset: timedelta
) -> None:
    at = datetime.now(UTC) + offset
    response = refused_without_writing(kpi, lambda: deliver(url, secret, {"value": 1}, at=at))
    assert response.status_code == 401
    assert "5 minutes" in response.json()["detail"]


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_401(kpi: Kpi, secret: str, url: str, missing: str) -> None:
    response = refused_without_writing(
        kpi, lambda: deliver(url, secret, {"value": 1}, headers={missing: None})
    )
    assert response.status_code == 401
    assert missing in response.json()["detail"]


@pytest.mark.parametrize(
    "signature", ["v1", "v1,not base64!", "v1,abc,def", "nonsense", "v1a,AAAA v2,AAAA"]
)
def test_a_signature_header_without_a_well_formed_v1_entry_is_401(
    kpi: Kpi, secret: str, url: str, signature: str
) -> None:
    response = refused_without_writing(
        kpi,
        lambda: deliver(url, secret, {"value": 1}, headers={"webhook-signature": signature}),
    )
    assert response.status_code == 401
    assert response.json()["detail"] == NO_V1_SIGNATURE


def test_a_valid_v1_beside_a_v1a_signature_is_accepted(kpi: Kpi, secret: str, url: str) -> None:
    body = b'{"value": 6}'
    good = signed_headers(secret, body, msg_id="msg_interop")
    other_scheme = "v1a,hnO3f9T8Ytu9HwNZ3PBo9VP4UrXzNDnUD2e4RPc3UYxYZ7z4pVfAqs3fqQPBzhbz"
    headers = {**good, "webhook-signature": f"{other_scheme} {good['webhook-signature']}"}
    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == 200, response.text
    kpi.refresh_from_db()
    assert kpi.current_value == 6.0


def test_a_v1a_signature_beside_a_wrong_v1_is_still_401(kpi: Kpi, secret: str, url: str) -> None:
    body = b'{"value": 6}'
    wrong = signed_headers(OTHER_SECRET, body, msg_id="msg_interop")
    header = f"v1a,AAAA {wrong['webhook-signature']}"
    response = refused_without_writing(
        kpi, lambda: httpx.post(url, content=body, headers={**wrong, "webhook-signature": header})
    )
    assert (response.status_code, response.json()["detail"]) == (401, SIGNATURE_MISMATCH)


def test_unknown_body_fields_are_ignored_and_named_in_the_reply(
    kpi: Kpi, secret: str, url: str
) -> None:
    payload = {"value": 8, "source": "ci", "env": "prod", "observedAt": "2025-01-01T00:00:00Z"}
    response = deliver(url, secret, payload, msg_id="msg_meta")
    assert response.status_code == 200, response.text
    assert response.json()["ignored_fields"] == ["env", "observedAt", "source"]
    kpi.refresh_from_db()
    assert kpi.current_value == 8.0
    # A replay of the same delivery names them again and writes nothing.
    again = refused_without_writing(kpi, lambda: deliver(url, secret, payload, msg_id="msg_meta"))
    assert again.json()["replay"] is True
    assert again.json()["ignored_fields"] == ["env", "observedAt", "source"]


@pytest.mark.parametrize("body", [{"source": "ci"}, {"value": "8", "env": "prod"}])
def test_extra_fields_with_a_missing_or_bad_value_are_422(
    kpi: Kpi, secret: str, url: str, body: dict[str, Any]
) -> None:
    response = refused_without_writing(kpi, lambda: deliver(url, secret, body))
    assert response.status_code == 422
    assert "value" in response.json()["detail"]


def test_several_signatures_with_one_valid_are_accepted(kpi: Kpi, secret: str, url: str) -> None:
    body = b'{"value": 4}'
    good = signed_headers(secret, body, msg_id="msg_multi")
    wrong = signed_headers(OTHER_SECRET, body, msg_id="msg_multi")["webhook-signature"]
    headers = {**good, "webhook-signature": f"{wrong} {good['webhook-signature']}"}
    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == 200


def test_a_body_over_64_kib_is_413_and_writes_nothing(kpi: Kpi, secret: str, url: str) -> None:
    padding = " " * (MAX_BODY_BYTES + 1 - len('{"value": 1}'))
    body = ('{"value": 1}' + padding).encode()
    assert len(body) == MAX_BODY_BYTES + 1
    response = refused_without_writing(kpi, lambda: deliver(url, secret, body=body))
    assert response.status_code == 413
    assert "64 KiB" in response.json()["detail"]


def test_a_body_of_exactly_64_kib_is_read(kpi: Kpi, secret: str, url: str) -> None:
    body = ('{"value": 1}' + " " * (MAX_BODY_BYTES - len('{"value": 1}'))).encode()
    assert deliver(url, secret, body=body).status_code == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"value=12.5", "not JSON"),
        (b'{"value": "12.5"}', "not a string"),
        (b'{"value": NaN}', "finite"),
        (b'{"value": Infinity}', "finite"),
        (b'{"value": null}', "not null"),
        (b"[1]", "JSON object"),
    ],
)
def test_a_signed_body_that_is_not_a_finite_number_is_422(
    kpi: Kpi, secret: str, url: str, body: bytes, says: str
) -> None:
    response = refused_without_writing(kpi, lambda: deliver(url, secret, body=body))
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_an_observed_at_far_in_the_future_is_422(kpi: Kpi, secret: str, url: str) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = refused_without_writing(
        kpi, lambda: deliver(url, secret, {"value": 1, "observed_at": future})
    )
    assert response.status_code == 422
    assert "future" in response.json()["detail"]


def test_an_unknown_kpi_answers_exactly_like_a_bad_signature(
    kpi: Kpi, secret: str, url: str, live_server: Any
) -> None:
    manual = KpiFactory(org=kpi.org)
    headers = signed_headers(secret, b'{"value": 1}', msg_id="msg_probe")
    answers = {
        target: httpx.post(
            f"{live_server.url}/hooks/kpis/{target}", content=b'{"value": 1}', headers=headers
        )
        for target in ("no-such-kpi", manual.pk, "x" * 40, "bad%00id")
    }
    wrong = httpx.post(
        url, content=b'{"value": 1}', headers=signed_headers(OTHER_SECRET, b'{"value": 1}')
    )
    for answer in answers.values():
        assert (answer.status_code, answer.content) == (wrong.status_code, wrong.content)
    assert wrong.status_code == 401


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_an_unknown_kpi_with_a_stale_timestamp_answers_like_a_known_one(
    kpi: Kpi, secret: str, url: str, live_server: Any, offset: timedelta
) -> None:
    at = datetime.now(UTC) + offset
    known = deliver(url, OTHER_SECRET, {"value": 1}, at=at)
    unknown = deliver(f"{live_server.url}/hooks/kpis/nope", OTHER_SECRET, {"value": 1}, at=at)
    assert (unknown.status_code, unknown.content) == (known.status_code, known.content)


def test_rotation_stops_the_old_secret_at_the_very_next_request(
    kpi: Kpi, secret: str, url: str
) -> None:
    assert deliver(url, secret, {"value": 1}).status_code == 200
    new_secret = webhook_secret_rotate(kpi=kpi, actor=Actor.system("test")).secret
    old = refused_without_writing(kpi, lambda: deliver(url, secret, {"value": 2}))
    assert old.status_code == 401
    assert deliver(url, new_secret, {"value": 3}).status_code == 200
    kpi.refresh_from_db()
    assert kpi.current_value == 3


def test_unbinding_the_webhook_stops_deliveries(kpi: Kpi, secret: str, url: str) -> None:
    from pulseboard.connectors.services import source_bind

    source_bind(kpi=kpi, actor=Actor.system("test"), kind="manual", config={})
    assert (
        refused_without_writing(kpi, lambda: deliver(url, secret, {"value": 2})).status_code == 401
    )


def test_the_endpoint_needs_no_csrf_token_or_session(kpi: Kpi, secret: str) -> None:
    client = Client(enforce_csrf_checks=True)
    body = b'{"value": 5}'
    response = client.post(
        reverse("hooks-kpi", kwargs={"kpi_id": kpi.pk}),
        body,
        content_type="application/json",
        headers={k: v for k, v in signed_headers(secret, body).items() if k != "content-type"},
    )
    assert response.status_code == 200
    assert not response.cookies


def test_only_post_is_allowed(kpi: Kpi, secret: str, url: str) -> None:
    response = httpx.get(url)
    assert (response.status_code, response.headers["allow"]) == (405, "POST")


def test_a_rejected_delivery_costs_one_query(
    kpi: Kpi, secret: str, django_assert_num_queries: Any
) -> None:
    client = Client()
    body = b'{"value": 5}'
    headers = {k: v for k, v in signed_headers(OTHER_SECRET, body).items() if k != "content-type"}
    path = reverse("hooks-kpi", kwargs={"kpi_id": kpi.pk})
    with django_assert_num_queries(1):
        response = client.post(path, body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    with django_assert_num_queries(0):
        response = client.post(
            reverse("hooks-kpi", kwargs={"kpi_id": "not.an.id"}),
            body,
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code == 401


def test_an_oversized_body_is_refused_before_any_query(
    kpi: Kpi, secret: str, django_assert_num_queries: Any
) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    with django_assert_num_queries(0):
        response = Client().post(
            reverse("hooks-kpi", kwargs={"kpi_id": kpi.pk}), body, content_type="application/json"
        )
    assert response.status_code == 413


def test_deliveries_beyond_the_last_20_and_older_than_24_hours_are_pruned(
    kpi: Kpi, secret: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pulseboard.connectors.services.PRUNE_ONE_IN", 1)
    for number in range(22):
        deliver(url, secret, {"value": number}, msg_id=f"msg_{number}")
    assert WebhookDelivery.objects.filter(kpi=kpi).count() == 22
    WebhookDelivery.objects.filter(kpi=kpi).update(
        received_at=datetime.now(UTC) - timedelta(hours=30)
    )
    deliver(url, secret, {"value": 99}, msg_id="msg_new")
    kept = set(WebhookDelivery.objects.filter(kpi=kpi).values_list("webhook_id", flat=True))
    assert len(kept) == 20
    assert "msg_new" in kept
