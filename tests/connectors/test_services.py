"""Binding, secrets, deliveries and key rotation, through the services, on the test database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from cryptography.fernet import Fernet
from pydantic import Field, SecretStr
from tests.factories import KpiFactory, OrganizationFactory, UserFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors import registry
from pulseboard.connectors.base import (
    BindContext,
    Binding,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
)
from pulseboard.connectors.models import GoogleConnection, Source, WebhookDelivery
from pulseboard.connectors.selectors import webhook_target_get
from pulseboard.connectors.services import (
    DeliveryTargetGone,
    deliveries_prune,
    pull_context_for,
    secrets_rotate_keys,
    source_bind,
    webhook_deliver,
    webhook_secret_rotate,
)
from pulseboard.connectors.webhook import Payload, WebhookConnector
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import cipher
from pulseboard.core.errors import Conflict, DomainError, ValidationFailed
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


class TokenConfig(PullConfig):
    url: str
    token: SecretStr | None = Field(default=None)


class TokenPull(PullConnector[TokenConfig]):
    """Stands in for https_get: a pull kind with a URL and an optional bearer token."""

    kind: ClassVar[str] = "https_get"
    label: ClassVar[str] = "Token pull"
    summary: ClassVar[str] = "test"
    config_model = TokenConfig

    async def pull(self, context: PullContext, session: Any) -> Observation:
        raise PullError("not used here")


@pytest.fixture
def token_pull(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.CONNECTORS, "https_get", TokenPull())


@pytest.fixture
def kpi() -> Kpi:
    made = KpiFactory()
    value_record(kpi=made, value=42.0, observed_at=None, source="manual", actor=ACTOR)
    made.refresh_from_db()
    return made


def source_of(kpi: Kpi) -> Source:
    return Source.objects.get(kpi=kpi)


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("before", "after", "target_label")))


def actions(kpi: Kpi) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=kpi.pk)
        .exclude(action="value.recorded")
        .order_by("pk")
        .values_list("action", flat=True)
    )


# --- binding a webhook ------------------------------------------------------------------------


def test_binding_a_webhook_mints_a_secret_stored_encrypted_and_shown_once(kpi: Kpi) -> None:
    bound = source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    assert bound.changed and bound.secret is not None
    source = source_of(kpi)
    assert source.kind == "webhook"
    assert bound.secret not in source.secret_encrypted
    assert cipher().decrypt(source.secret_encrypted) == bound.secret
    assert source.secret_hint == bound.secret[-4:]
    assert source.config == {}
    assert actions(kpi) == ["source.bound", "source.secret_minted"]
    assert bound.secret not in audit_text()


def test_switching_the_source_keeps_the_current_value(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    source_bind(kpi=kpi, actor=ACTOR, kind="manual", config={})
    kpi.refresh_from_db()
    assert kpi.current_value == 42.0
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1


def test_binding_the_same_webhook_again_changes_and_audits_nothing(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    stored = source_of(kpi).secret_encrypted
    again = source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    assert (again.changed, again.secret) == (False, None)
    assert source_of(kpi).secret_encrypted == stored
    assert actions(kpi) == ["source.bound", "source.secret_minted"]


def test_switching_back_to_manual_retires_the_secret_and_is_audited(kpi: Kpi) -> None:
    secret = source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={}).secret
    source_bind(kpi=kpi, actor=ACTOR, kind="manual", config={})
    source = source_of(kpi)
    assert (source.kind, source.secret_encrypted, source.secret_hint) == ("manual", "", "")
    event = AuditEvent.objects.filter(action="source.bound").last()
    assert event is not None
    assert event.before == {"kind": "webhook", "config": {}, "secret_hint": secret[-4:]}
    assert event.after == {"kind": "manual", "config": {}, "secret_hint": None}


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("ftp", {}, "kind"),
        ("webhook", {"secret": "mine"}, "secret"),
        ("manual", {"value": 1}, "value"),
    ],
)
def test_a_refused_binding_writes_nothing(
    kpi: Kpi, kind: str, config: dict[str, Any], field: str
) -> None:
    before = (Source.objects.values().get(kpi=kpi), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed) as caught:
        source_bind(kpi=kpi, actor=ACTOR, kind=kind, config=config)
    assert field in caught.value.errors
    assert (Source.objects.values().get(kpi=kpi), AuditEvent.objects.count()) == before


def test_a_source_changed_during_validation_is_a_conflict(
    kpi: Kpi, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Racing(WebhookConnector):
        def bind(self, config: Any, *, context: BindContext) -> Binding:
            # Another admin binds the KPI to a webhook while this request validates.
            Source.objects.filter(kpi=kpi).update(kind="webhook", secret_encrypted="theirs")
            return super().bind(config, context=context)

    monkeypatch.setitem(registry.CONNECTORS, "webhook", Racing())
    with pytest.raises(Conflict):
        source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    assert source_of(kpi).secret_encrypted == "theirs"
    assert actions(kpi) == []


def test_the_binding_user_reaches_the_connector(kpi: Kpi, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int | None] = []

    class Watching(WebhookConnector):
        def bind(self, config: Any, *, context: BindContext) -> Binding:
            seen.append(context.user_id)
            return super().bind(config, context=context)

    monkeypatch.setitem(registry.CONNECTORS, "webhook", Watching())
    user = UserFactory()
    source_bind(kpi=kpi, actor=Actor.for_user(user), kind="webhook", config={})
    assert seen == [user.pk]


# --- rotation ---------------------------------------------------------------------------------


def test_rotation_replaces_the_secret_and_audits_only_hints(kpi: Kpi) -> None:
    first = source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={}).secret
    assert first is not None
    rotation = webhook_secret_rotate(kpi=kpi, actor=ACTOR)
    assert rotation.secret != first
    assert cipher().decrypt(source_of(kpi).secret_encrypted) == rotation.secret
    event = AuditEvent.objects.get(action="source.secret_rotated")
    assert event.before == {"secret_hint": first[-4:]}
    assert event.after == {"secret_hint": rotation.secret[-4:]}
    assert first not in audit_text() and rotation.secret not in audit_text()


def test_rotating_a_source_that_is_not_a_webhook_is_a_409(kpi: Kpi) -> None:
    with pytest.raises(Conflict) as caught:
        webhook_secret_rotate(kpi=kpi, actor=ACTOR)
    assert caught.value.status == 409
    assert "manual" in caught.value.message


# --- a pull kind with a typed secret ----------------------------------------------------------


@pytest.mark.usefixtures("token_pull")
def test_a_pull_binding_stores_its_token_encrypted_and_is_due_at_once(kpi: Kpi) -> None:
    bound = source_bind(
        kpi=kpi,
        actor=ACTOR,
        kind="https_get",
        config={"url": "https://x.test/v", "token": "tok-12345678", "interval_seconds": 300},
    )
    assert bound.secret is None  # typed by the admin: never echoed back
    source = source_of(kpi)
    assert source.config == {"url": "https://x.test/v"}
    assert cipher().decrypt(source.secret_encrypted) == "tok-12345678"
    assert (source.secret_hint, source.interval_seconds) == ("5678", 300)
    assert source.next_pull_at is not None
    assert "tok-12345678" not in audit_text()
    event = AuditEvent.objects.get(action="source.bound")
    assert event.after["interval_seconds"] == 300


@pytest.mark.usefixtures("token_pull")
def test_editing_a_pull_binding_without_the_token_keeps_it(kpi: Kpi) -> None:
    config = {"url": "https://x.test/v", "token": "tok-12345678"}
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=config)
    stored = source_of(kpi).secret_encrypted
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config={"url": "https://x.test/w"})
    source = source_of(kpi)
    assert source.secret_encrypted == stored
    assert source.config == {"url": "https://x.test/w"}
    assert AuditEvent.objects.filter(action="source.config_changed").count() == 1


@pytest.mark.usefixtures("token_pull")
def test_retyping_the_same_token_changes_nothing(kpi: Kpi) -> None:
    config = {"url": "https://x.test/v", "token": "tok-12345678"}
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=config)
    assert not source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=config).changed


@pytest.mark.usefixtures("token_pull")
def test_a_new_token_with_the_same_last_characters_is_still_audited(kpi: Kpi) -> None:
    source_bind(
        kpi=kpi, actor=ACTOR, kind="https_get", config={"url": "https://x.test", "token": "a-5678"}
    )
    changed = source_bind(
        kpi=kpi, actor=ACTOR, kind="https_get", config={"url": "https://x.test", "token": "b-5678"}
    )
    assert changed.changed
    event = AuditEvent.objects.get(action="source.config_changed")
    assert event.after["secret_replaced"] is True
    assert "b-5678" not in audit_text()


@pytest.mark.usefixtures("token_pull")
def test_an_empty_token_removes_the_stored_one(kpi: Kpi) -> None:
    source_bind(
        kpi=kpi, actor=ACTOR, kind="https_get", config={"url": "https://x.test", "token": "t-1"}
    )
    source_bind(
        kpi=kpi, actor=ACTOR, kind="https_get", config={"url": "https://x.test", "token": ""}
    )
    assert (source_of(kpi).secret_encrypted, source_of(kpi).secret_hint) == ("", "")


@pytest.mark.usefixtures("token_pull")
def test_leaving_a_pull_kind_clears_its_schedule_and_failure_state(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config={"url": "https://x.test"})
    Source.objects.filter(kpi=kpi).update(
        consecutive_failures=3,
        last_error="HTTP 500",
        last_error_at=datetime.now(UTC),
        last_pulled_at=datetime.now(UTC),
        leased_until=datetime.now(UTC),
        lease_owner="worker-1",
    )
    source_bind(kpi=kpi, actor=ACTOR, kind="manual", config={})
    source = source_of(kpi)
    assert source.next_pull_at is None and source.leased_until is None
    assert (source.consecutive_failures, source.last_error, source.lease_owner) == (0, "", "")
    assert source.last_pulled_at is None
    kpi.refresh_from_db()
    assert kpi.current_value == 42.0


@pytest.mark.usefixtures("token_pull")
def test_the_pull_context_carries_the_decrypted_token(kpi: Kpi) -> None:
    config = {"url": "https://x.test", "token": "tok-1"}
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=config)
    now = datetime.now(UTC)
    context = pull_context_for(source_of(kpi), now=now)
    assert (context.secret, context.config, context.kpi_id, context.now) == (
        "tok-1",
        {"url": "https://x.test"},
        kpi.pk,
        now,
    )
    assert "tok-1" not in repr(context)


def test_a_secret_no_key_decrypts_is_a_pull_error(kpi: Kpi) -> None:
    Source.objects.filter(kpi=kpi).update(secret_encrypted="not-a-fernet-token")
    with pytest.raises(PullError) as caught:
        pull_context_for(source_of(kpi), now=datetime.now(UTC))
    assert "encryption key" in caught.value.message


# --- deliveries -------------------------------------------------------------------------------


def target_of(kpi: Kpi) -> Any:
    target = webhook_target_get(kpi_id=kpi.pk)
    assert target is not None
    return target


def test_a_delivery_checked_against_a_secret_rotated_since_writes_nothing(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    target = target_of(kpi)
    webhook_secret_rotate(kpi=kpi, actor=ACTOR)
    with pytest.raises(DeliveryTargetGone):
        webhook_deliver(target=target, webhook_id="m1", payload=Payload(1.0, None), ip=None)
    assert not WebhookDelivery.objects.exists()
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1


def test_a_delivery_for_a_deleted_kpi_writes_nothing(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    target = target_of(kpi)
    Kpi.objects.filter(pk=kpi.pk).delete()
    with pytest.raises(DeliveryTargetGone):
        webhook_deliver(target=target, webhook_id="m1", payload=Payload(1.0, None), ip=None)
    assert not WebhookDelivery.objects.exists()


def test_a_delivery_value_record_refuses_rolls_back_the_delivery_row(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    future = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(ValidationFailed):
        webhook_deliver(
            target=target_of(kpi), webhook_id="m1", payload=Payload(1.0, future), ip=None
        )
    assert not WebhookDelivery.objects.exists()


def test_a_delivery_is_audited_as_the_webhook_connector_with_the_senders_ip(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    target = target_of(kpi)
    webhook_deliver(target=target, webhook_id="m1", payload=Payload(1.0, None), ip="192.0.2.7")
    event = AuditEvent.objects.filter(action="value.recorded").last()
    assert event is not None
    assert (event.actor_kind, event.actor_id, event.ip) == (
        "connector",
        target.source_id,
        "192.0.2.7",
    )


def deliveries(kpi: Kpi, prefix: str, count: int, age: timedelta) -> None:
    """``count`` deliveries received ``age`` ago and then one minute apart, newest first."""
    now = datetime.now(UTC)
    for index in range(count):
        WebhookDelivery.objects.create(
            org=kpi.org,
            kpi=kpi,
            webhook_id=f"{prefix}-{index}",
            received_at=now - age - timedelta(minutes=index),
            value=1,
            observed_at=now,
        )


def test_pruning_keeps_the_last_20_and_everything_from_the_last_24_hours(kpi: Kpi) -> None:
    deliveries(kpi, "old", 30, timedelta(days=2))
    deliveries(kpi, "new", 25, timedelta(0))
    assert deliveries_prune(kpi_id=kpi.pk, now=datetime.now(UTC)) == 30
    assert WebhookDelivery.objects.filter(kpi=kpi).count() == 25


def test_pruning_with_few_recent_deliveries_keeps_20_older_ones(kpi: Kpi) -> None:
    deliveries(kpi, "old", 30, timedelta(days=2))
    assert deliveries_prune(kpi_id=kpi.pk, now=datetime.now(UTC)) == 10
    kept = set(WebhookDelivery.objects.filter(kpi=kpi).values_list("webhook_id", flat=True))
    assert kept == {f"old-{index}" for index in range(20)}


# --- key rotation -----------------------------------------------------------------------------


def test_rotate_keys_reencrypts_every_secret_with_the_first_key(kpi: Kpi, settings: Any) -> None:
    old_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    secret = source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={}).secret
    org = kpi.org
    connection = GoogleConnection.objects.create(
        org=org,
        user=UserFactory(),
        access_token_encrypted=cipher().encrypt("access"),
        refresh_token_encrypted=cipher().encrypt("refresh"),
    )
    untouched_org_source = KpiFactory(org=OrganizationFactory())
    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, old_key]

    done = secrets_rotate_keys()

    assert (done.sources, done.connections) == (1, 1)
    settings.ENCRYPTION_KEYS = [new_key]
    assert cipher().decrypt(source_of(kpi).secret_encrypted) == secret
    connection.refresh_from_db()
    assert cipher().decrypt(connection.access_token_encrypted) == "access"
    assert cipher().decrypt(connection.refresh_token_encrypted) == "refresh"
    assert source_of(untouched_org_source).secret_encrypted == ""


def test_rotate_keys_changes_nothing_when_a_secret_cannot_be_decrypted(
    kpi: Kpi, settings: Any
) -> None:
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    source_bind(kpi=kpi, actor=ACTOR, kind="webhook", config={})
    other = KpiFactory()
    Source.objects.filter(kpi=other).update(secret_encrypted="garbage", kind="webhook")
    before = dict(Source.objects.values_list("pk", "secret_encrypted"))
    with pytest.raises(DomainError) as caught:
        secrets_rotate_keys()
    assert source_of(other).pk in caught.value.message
    assert dict(Source.objects.values_list("pk", "secret_encrypted")) == before
