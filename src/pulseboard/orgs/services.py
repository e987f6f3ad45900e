"""Writes for organizations and memberships (org creation, admins, roles)."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, ValidationFailed
from pulseboard.core.tokens import hash_token, mint_token
from pulseboard.orgs.models import ApiToken, Membership, Organization, User
from pulseboard.orgs.roles import Role, TokenScope

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def org_create(
    *, name: str, actor: Actor, slug: str | None = None, locale: str = "en_US"
) -> Organization:
    name = name.strip()
    if not name:
        raise ValidationFailed("name: an organization needs a name", errors={"name": "required"})
    with transaction.atomic():
        org = Organization.objects.create(
            name=name[:120], slug=slug or _unique_slug(name), locale=locale
        )
        audit_record(
            org_id=org.pk,
            actor=actor,
            action=Action.ORG_CREATED,
            target_type="org",
            target_id=str(org.pk),
            target_label=org.name,
            after={"name": org.name, "slug": org.slug},
        )
    return org


def user_get_or_create(*, email: str, password: str | None) -> tuple[User, bool]:
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("email: not an e-mail address", errors={"email": "invalid"})
    user = User.objects.filter(email=email).first()
    if user is not None:
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user, False
    return User.objects.create_user(email=email, password=password), True


def member_add(*, org: Organization, user: User, role: Role, actor: Actor) -> Membership:
    try:
        with transaction.atomic():
            membership = Membership.objects.create(org=org, user=user, role=role)
            audit_record(
                org_id=org.pk,
                actor=actor,
                action=Action.MEMBER_JOINED,
                target_type="user",
                target_id=str(user.pk),
                target_label=user.email,
                after={"role": role.value},
            )
    except IntegrityError as exc:
        raise Conflict(f"{user.email} is already a member of {org.name}") from exc
    return membership


def admin_bootstrap(*, email: str, password: str, org_name: str) -> tuple[Organization, User]:
    """``pulseboard createadmin``: the org (created if new) with this user as an admin."""
    actor = Actor.system("createadmin")
    with transaction.atomic():
        org = Organization.objects.filter(name=org_name.strip()).first() or org_create(
            name=org_name, actor=actor
        )
        user, _ = user_get_or_create(email=email, password=password)
        membership = Membership.objects.filter(org=org, user=user).first()
        if membership is None:
            member_add(org=org, user=user, role=Role.ADMIN, actor=actor)
        elif membership.role != Role.ADMIN:
            membership.role = Role.ADMIN
            membership.save(update_fields=["role"])
            audit_record(
                org_id=org.pk,
                actor=actor,
                action=Action.MEMBER_ROLE_CHANGED,
                target_type="user",
                target_id=str(user.pk),
                target_label=user.email,
                before={"role": Role.MEMBER.value},
                after={"role": Role.ADMIN.value},
            )
    return org, user


def token_create(*, org: Organization, actor: Actor, name: str, scope: str) -> tuple[ApiToken, str]:
    """Mint an API token; the plaintext is returned once and never stored."""
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 100:
        errors["name"] = "a name of 1 to 100 characters is required"
    if scope not in TokenScope.__members__.values():
        errors["scope"] = "scope must be 'admin' or 'read'"
    if errors:
        raise ValidationFailed("; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)
    minted = mint_token("pb")
    with transaction.atomic():
        token = ApiToken.objects.create(
            org=org,
            name=name,
            prefix=minted.prefix,
            token_digest=minted.digest,
            scope=scope,
            created_by_id=actor.user_id,
        )
        audit_record(
            org_id=org.pk,
            actor=actor,
            action=Action.TOKEN_CREATED,
            target_type="token",
            target_id=token.pk,
            target_label=name,
            after={"name": name, "scope": scope, "prefix": minted.prefix},
        )
    return token, minted.plaintext


def token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    if token.revoked_at is not None:
        return token
    with transaction.atomic():
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            org_id=token.org_id,
            actor=actor,
            action=Action.TOKEN_REVOKED,
            target_type="token",
            target_id=token.pk,
            target_label=token.name,
        )
    return token


def token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The active token with this plaintext, or None; marks it used (at most once a minute)."""
    if not plaintext or len(plaintext) > 200:
        return None
    token = (
        ApiToken.objects.filter(token_digest=hash_token(plaintext), revoked_at__isnull=True)
        .select_related("org")
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
