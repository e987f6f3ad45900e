"""Writes of the connector framework: binding a KPI's source, webhook secrets and deliveries.

Every configuration change is audited with the secret redacted (a four-character
hint at most) and the rest of the configuration through its connector's
``redacted_config`` (``_audited``: the one place a source snapshot becomes an audit
event, so no URL query value, header value, DSN password or token is ever stored).
A webhook delivery, the value it carries, the history row, the
KPI's status and the audit event commit in one transaction (``value_record`` inside
``webhook_deliver``), so a rejected delivery leaves nothing behind. ``secrets_rotate_keys``
re-encrypts every stored secret with the first key of ``PULSEBOARD_ENCRYPTION_KEYS``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from django.db import IntegrityError, transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.connectors import ingest
from pulseboard.connectors.base import (
    BindContext,
    Binding,
    PullContext,
    PullError,
    SecretClear,
    SecretKeep,
    SecretSet,
    secret_hint,
)
from pulseboard.connectors.models import GoogleConnection, Source, WebhookDelivery
from pulseboard.connectors.redaction import config_redacted
from pulseboard.connectors.registry import CONNECTORS, connector_for
from pulseboard.connectors.selectors import DELIVERIES_SHOWN, WebhookTarget
from pulseboard.connectors.sheets.selectors import connection_choices
from pulseboard.connectors.sheets.services import connection_access_prepare
from pulseboard.connectors.webhook import REPLAY_WINDOW, Payload, WebhookConnector, secret_mint
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import DecryptionFailed, cipher
from pulseboard.core.errors import Conflict, DomainError, NotFound
from pulseboard.history.services import check_observed_at, check_value
from pulseboard.indicators.models import Kpi

# Fields reset whenever a source starts over (new kind or new settings).
_PULL_STATE_RESET: Final[dict[str, Any]] = {
    "leased_until": None,
    "lease_owner": "",
    "last_pulled_at": None,
    "last_success_at": None,
    "last_error": "",
    "last_error_at": None,
    "consecutive_failures": 0,
}


# Deliveries prune their KPI's old rows one time in this many (see webhook_deliver).
PRUNE_ONE_IN: Final = 32


@dataclass(frozen=True)
class BindResult:
    source: Source
    changed: bool
    secret: str | None  # a minted secret, to show once; never stored in plain text


@dataclass(frozen=True)
class SecretRotation:
    source: Source
    secret: str


@dataclass(frozen=True)
class DeliveryOutcome:
    replay: bool  # the webhook-id was accepted before: nothing was written now
    applied: bool  # became the current value (False: older than it, history only)
    value: float
    observed_at: datetime


@dataclass(frozen=True)
class KeyRotation:
    sources: int
    connections: int


class DeliveryTargetGone(DomainError):
    """The KPI was deleted or unbound, or its secret rotated, since the request was checked."""

    status = 401


def _snapshot(source: Source) -> dict[str, Any]:
    """The audited shape of a binding: never a secret, only its hint."""
    snapshot: dict[str, Any] = {
        "kind": source.kind,
        "config": source.config,
        "secret_hint": source.secret_hint or None,
    }
    if source.connection_id:
        snapshot["connection_id"] = source.connection_id
    if source.is_pull:
        snapshot["interval_seconds"] = source.interval_seconds
    return snapshot


def _audited(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A ``_snapshot`` as an audit event may hold it: the config redacted by its kind.

    A kind no longer registered (a plug-in removed) still gets the default redaction.
    """
    connector = CONNECTORS.get(snapshot["kind"])
    redact = connector.redacted_config if connector is not None else config_redacted
    return {**snapshot, "config": redact(snapshot.get("config") or {})}


def _same_secret(source: Source, value: str) -> bool:
    if not source.secret_encrypted:
        return False
    try:
        return cipher().decrypt(source.secret_encrypted) == value
    except DecryptionFailed:
        return False


def _decrypted(source: Source) -> str | None:
    if not source.secret_encrypted:
        return None
    try:
        return cipher().decrypt(source.secret_encrypted)
    except DecryptionFailed:
        return None


def _apply_secret(source: Source, binding: Binding) -> tuple[bool, str | None]:
    """Store the binding's secret change; returns (replaced, secret to show once)."""
    change = binding.secret
    if isinstance(change, SecretKeep):
        return False, None
    if isinstance(change, SecretClear):
        replaced = bool(source.secret_encrypted)
        source.secret_encrypted = ""
        source.secret_hint = ""
        return replaced, None
    assert isinstance(change, SecretSet)
    if _same_secret(source, change.value):
        return False, None
    source.secret_encrypted = cipher().encrypt(change.value)
    source.secret_hint = change.hint if change.hint is not None else secret_hint(change.value)
    return True, change.value if change.shown_once else None


def source_bind(
    *,
    kpi: Kpi,
    actor: Actor,
    kind: str,
    config: dict[str, Any],
) -> BindResult:
    """Bind ``kpi`` to a source of ``kind``; the KPI's current value is never touched.

    Saving the same binding again changes nothing and audits nothing. A webhook bound
    anew gets a fresh secret, returned once in ``BindResult.secret``.
    """
    connector = connector_for(kind)
    current = Source.objects.filter(kpi_id=kpi.pk, org_id=kpi.org_id).first()
    if current is None:
        raise NotFound("KPI not found")
    context = BindContext(
        org_id=kpi.org_id,
        user_id=actor.user_id,
        kpi_id=kpi.pk,
        current_kind=current.kind,
        current_config=dict(current.config or {}),
        has_secret=bool(current.secret_encrypted),
        now=clock.now(),
        current_secret=_decrypted(current) if current.kind == connector.kind else None,
        connections=connection_choices(org_id=kpi.org_id, user_id=actor.user_id),
    )
    # Outside the transaction: a connector may resolve names or ask Google.
    binding = connector.binding_validate(config, context=context)
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=current.pk)
        if source.kind != current.kind or source.secret_encrypted != current.secret_encrypted:
            raise Conflict("the source was changed by someone else meanwhile; load it and retry")
        before = _snapshot(source)
        kind_changed = source.kind != connector.kind
        source.kind = connector.kind
        source.config = binding.config
        source.connection_id = binding.connection_id
        if binding.interval_seconds is not None:
            source.interval_seconds = binding.interval_seconds
        secret_replaced, shown = _apply_secret(source, binding)
        after = _snapshot(source)
        if before == after and not secret_replaced:
            return BindResult(source=source, changed=False, secret=None)
        for name, value in _PULL_STATE_RESET.items():
            setattr(source, name, value)
        # A pull kind reads soon after it is bound; the worker takes it from there.
        source.next_pull_at = context.now if connector.is_pull else None
        source.save()
        audited_before, audited_after = _audited(before), _audited(after)
        if secret_replaced and before.get("secret_hint") == after.get("secret_hint"):
            audited_after["secret_replaced"] = True
        if (
            before["config"] != after["config"]
            and audited_before["config"] == audited_after["config"]
        ):
            # Only masked values changed (a query value, a header value): say so, or the
            # event would read as a save that changed nothing.
            audited_after["masked_values_changed"] = True
        audit_record(
            org_id=kpi.org_id,
            actor=actor,
            action=Action.SOURCE_BOUND if kind_changed else Action.SOURCE_CONFIG_CHANGED,
            target_type="kpi",
            target_id=kpi.pk,
            target_label=kpi.title,
            before=audited_before,
            after=audited_after,
        )
        if shown is not None:
            audit_record(
                org_id=kpi.org_id,
                actor=actor,
                action=Action.SOURCE_SECRET_MINTED,
                target_type="kpi",
                target_id=kpi.pk,
                target_label=kpi.title,
                after={"kind": source.kind, "secret_hint": source.secret_hint},
            )
    return BindResult(source=source, changed=True, secret=shown)


def webhook_secret_rotate(*, kpi: Kpi, actor: Actor) -> SecretRotation:
    """A new webhook secret, returned once; the old one stops verifying at commit."""
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(kpi_id=kpi.pk, org_id=kpi.org_id).first()
        if source is None:
            raise NotFound("KPI not found")
        if source.kind != WebhookConnector.kind:
            raise Conflict(
                f"this KPI's source is {source.kind}, not webhook: bind it to webhook first",
                errors={"kind": "must be webhook to rotate its secret"},
            )
        secret = secret_mint()
        old_hint = source.secret_hint
        source.secret_encrypted = cipher().encrypt(secret)
        source.secret_hint = secret_hint(secret)
        source.save(update_fields=["secret_encrypted", "secret_hint", "updated_at"])
        audit_record(
            org_id=kpi.org_id,
            actor=actor,
            action=Action.SOURCE_SECRET_ROTATED,
            target_type="kpi",
            target_id=kpi.pk,
            target_label=kpi.title,
            before={"secret_hint": old_hint or None},
            after={"secret_hint": source.secret_hint},
        )
    return SecretRotation(source=source, secret=secret)


def _replay(previous: WebhookDelivery) -> DeliveryOutcome:
    return DeliveryOutcome(
        replay=True,
        applied=previous.applied,
        value=previous.value,
        observed_at=previous.observed_at,
    )


def webhook_deliver(
    *, target: WebhookTarget, webhook_id: str, payload: Payload, ip: str | None
) -> DeliveryOutcome:
    """Record a verified delivery, or recognise a replay of one accepted in the last 24 h.

    Raises ``ValidationFailed`` (422) for a value ``value_record`` would refuse and
    ``DeliveryTargetGone`` when the KPI, its webhook binding or the secret the request
    was checked against changed meanwhile. Nothing is written in either case. The write
    itself is ``connectors/ingest.py``'s: one locking SELECT and one write statement.
    """
    now = clock.now()
    number = check_value(payload.value)
    when = check_observed_at(payload.observed_at or now, now=now)
    actor = replace(Actor.connector(WebhookConnector.kind, target.source_id), ip=ip)
    try:
        with transaction.atomic():
            result = ingest.deliver(
                target=target, webhook_id=webhook_id, number=number, when=when, now=now, actor=actor
            )
            if isinstance(result, ingest.Replayed):
                return _replay(result.delivery)
            # Pruning on a sample keeps its DELETE off most deliveries; the table holds at
            # most about PRUNE_ONE_IN rows per KPI beyond the window between prunes.
            if PRUNE_ONE_IN <= 1 or secrets.randbelow(PRUNE_ONE_IN) == 0:
                deliveries_prune(kpi_id=target.kpi_id, now=now)
    except ingest.TargetChanged:
        ingest.target_forget(target.kpi_id)
        raise DeliveryTargetGone("the webhook signature does not match") from None
    except IntegrityError:
        # The same webhook-id committed by a concurrent request first (PostgreSQL).
        previous = WebhookDelivery.objects.filter(
            kpi_id=target.kpi_id, webhook_id=webhook_id
        ).first()
        if previous is None:
            raise
        return _replay(previous)
    return DeliveryOutcome(
        replay=False, applied=not result.plan.late, value=number, observed_at=when
    )


def deliveries_prune(*, kpi_id: str, now: datetime, keep: int = DELIVERIES_SHOWN) -> int:
    """Forget deliveries older than the replay window, except the last ``keep`` shown to admins."""
    shown = (
        WebhookDelivery.objects.filter(kpi_id=kpi_id)
        .order_by("-received_at", "-pk")
        .values("pk")[:keep]
    )
    deleted, _ = (
        WebhookDelivery.objects.filter(kpi_id=kpi_id, received_at__lt=now - REPLAY_WINDOW)
        .exclude(pk__in=shown)
        .delete()
    )
    return deleted


def pull_context_for(
    source: Source, *, now: datetime, fresh_credentials: bool = False
) -> PullContext:
    """What ``PullConnector.pull`` gets for ``source``, its secret decrypted; synchronous.

    Runs before the pull awaits anything, with the pull's other database work: a source
    bound to a Google connection gets a live access token here, refreshed (and stored)
    when it is about to expire, or in any case with ``fresh_credentials`` (the pull was
    refused one before its announced expiry). A secret no configured key decrypts is a
    ``PullError`` the admin can fix by re-entering it; so is a refused refresh.
    """
    secret = None
    if source.secret_encrypted:
        try:
            secret = cipher().decrypt(source.secret_encrypted)
        except DecryptionFailed:
            raise PullError(
                "the stored secret cannot be decrypted (an encryption key was removed): "
                "enter it again"
            ) from None
    return PullContext(
        source_id=source.pk,
        org_id=source.org_id,
        kpi_id=source.kpi_id,
        kind=source.kind,
        config=dict(source.config or {}),
        secret=secret,
        connection_id=source.connection_id,
        now=now,
        connection=connection_access_prepare(
            org_id=source.org_id,
            connection_id=source.connection_id,
            actor=Actor.connector(source.kind, source.pk),
            now=now,
            fresh=fresh_credentials,
        )
        if source.connection_id
        else None,
    )


def secrets_rotate_keys() -> KeyRotation:
    """Re-encrypt every stored secret with the first key; all or nothing.

    Refuses (``DomainError``, nothing written) when some value no configured key
    decrypts, naming the rows, so an operator never loses a secret by rotating.
    """
    box = cipher()
    unreadable: list[str] = []

    def rotated(label: str, token: str) -> str:
        if not token:
            return token
        try:
            return box.rotate(token)
        except DecryptionFailed:
            unreadable.append(label)
            return token

    with transaction.atomic():
        sources = list(
            Source.objects.select_for_update()
            .exclude(secret_encrypted="")
            .only("pk", "secret_encrypted")
        )
        for source in sources:
            source.secret_encrypted = rotated(f"source {source.pk}", source.secret_encrypted)
        connections = list(
            GoogleConnection.objects.select_for_update().only(
                "pk", "access_token_encrypted", "refresh_token_encrypted"
            )
        )
        for connection in connections:
            label = f"Google connection {connection.pk}"
            connection.access_token_encrypted = rotated(label, connection.access_token_encrypted)
            connection.refresh_token_encrypted = rotated(label, connection.refresh_token_encrypted)
        if unreadable:
            shown = ", ".join(sorted(set(unreadable))[:10])
            raise DomainError(
                f"no configured key decrypts {len(set(unreadable))} stored secret(s) ({shown}); "
                "add the old key back to PULSEBOARD_ENCRYPTION_KEYS. Nothing was changed."
            )
        Source.objects.bulk_update(sources, ["secret_encrypted"], batch_size=500)
        GoogleConnection.objects.bulk_update(
            connections, ["access_token_encrypted", "refresh_token_encrypted"], batch_size=500
        )
    return KeyRotation(sources=len(sources), connections=len(connections))
