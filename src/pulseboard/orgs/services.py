"""Writes for organizations and memberships: org creation, admins, roles, invites, API tokens.

Membership changes keep one rule everywhere: an organization always has at least one
admin, so the last admin can be neither demoted nor removed. Invites are single-use
links that expire; only the hash of the link's token is stored.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.core.tokens import hash_token, mint_token
from pulseboard.orgs.actions import OrgAction
from pulseboard.orgs.audit_hook import audit_record
from pulseboard.orgs.localization import (
    MAX_NAME,
    SettingInvalid,
    locale_canonical,
    timezone_canonical,
)
from pulseboard.orgs.models import ApiToken, Invite, Membership, Organization, User
from pulseboard.orgs.roles import Role, TokenScope

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
INVITE_LIFETIME = timedelta(days=7)
MAX_INVITE_LIFETIME = timedelta(days=30)
MAX_TOKEN_LENGTH = 200


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
            action=OrgAction.ORG_CREATED,
            target_type="org",
            target_id=str(org.pk),
            target_label=org.name,
            after={"name": org.name, "slug": org.slug},
        )
    return org


def _org_name(raw: object) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name or len(name) > MAX_NAME:
        raise SettingInvalid(f"a name of 1 to {MAX_NAME} characters is required")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise SettingInvalid("a name cannot hold control characters (NUL, line breaks, tabs)")
    return name


def org_update(
    *,
    org: Organization,
    actor: Actor,
    name: str | None = None,
    locale: str | None = None,
    timezone: str | None = None,
) -> Organization:
    """Change the org's name, locale and time zone (``None`` keeps one); audited, all or nothing.

    A locale or time zone is stored in its canonical form (``orgs/localization.py``); a
    change to nothing new writes nothing and records no event.
    """
    checks = {"name": _org_name, "locale": locale_canonical, "timezone": timezone_canonical}
    wanted: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field, raw in (("name", name), ("locale", locale), ("timezone", timezone)):
        if raw is None:
            continue
        try:
            wanted[field] = checks[field](raw)
        except SettingInvalid as exc:
            errors[field] = exc.message
    if errors:
        raise ValidationFailed("; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)
    with transaction.atomic():
        current = Organization.objects.select_for_update().get(pk=org.pk)
        before = {k: getattr(current, k) for k, v in wanted.items() if getattr(current, k) != v}
        if not before:
            return current
        for field in before:
            setattr(current, field, wanted[field])
        current.save(update_fields=list(before))
        audit_record(
            org_id=current.pk,
            actor=actor,
            action=OrgAction.ORG_UPDATED,
            target_type="org",
            target_id=str(current.pk),
            target_label=current.name,
            before=before,
            after={field: wanted[field] for field in before},
        )
    return current


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
                action=OrgAction.MEMBER_JOINED,
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
                action=OrgAction.MEMBER_ROLE_CHANGED,
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
            action=OrgAction.TOKEN_CREATED,
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
            action=OrgAction.TOKEN_REVOKED,
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


def _role(raw: object) -> Role:
    if raw not in (Role.ADMIN.value, Role.MEMBER.value):
        raise ValidationFailed(
            "role: must be 'admin' or 'member'", errors={"role": "must be 'admin' or 'member'"}
        )
    return Role(str(raw))


def _email(raw: object, *, required: bool) -> str:
    text = raw.strip().lower() if isinstance(raw, str) else ""
    if not text:
        if required:
            raise ValidationFailed(
                "email: required", errors={"email": "an e-mail address is required"}
            )
        return ""
    try:
        validate_email(text)
    except DjangoValidationError:
        raise ValidationFailed(
            "email: not an e-mail address", errors={"email": "not an e-mail address"}
        ) from None
    return text


def invite_problem(invite: Invite, *, now: datetime) -> str | None:
    """Why the invite can no longer be accepted, or None while it is usable."""
    if invite.used_at is not None:
        return "This invite link has already been used. Ask an admin for a new one."
    if invite.expires_at <= now:
        return "This invite link has expired. Ask an admin for a new one."
    return None


def member_invite(
    *,
    org: Organization,
    actor: Actor,
    role: str,
    email: str = "",
    lifetime: timedelta = INVITE_LIFETIME,
) -> tuple[Invite, str]:
    """A single-use invite link; returns the invite and the link's token, shown once.

    ``email`` is optional: when given, only an account with that address can accept.
    """
    checked_role = _role(role)
    address = _email(email, required=False)
    if not timedelta(0) < lifetime <= MAX_INVITE_LIFETIME:
        raise ValidationFailed(
            "lifetime: an invite lives between a minute and 30 days",
            errors={"lifetime": "must be more than 0 and at most 30 days"},
        )
    if address and Membership.objects.filter(org=org, user__email=address).exists():
        raise Conflict(f"{address} is already a member of {org.name}")
    minted = mint_token("pbi")
    with transaction.atomic():
        invite = Invite.objects.create(
            org=org,
            email=address,
            role=checked_role,
            token_digest=minted.digest,
            created_by_id=actor.user_id,
            expires_at=clock.now() + lifetime,
        )
        audit_record(
            org_id=org.pk,
            actor=actor,
            action=OrgAction.MEMBER_INVITED,
            target_type="invite",
            target_id=invite.pk,
            target_label=address or "invite link",
            after={
                "email": address,
                "role": checked_role.value,
                "expires_at": invite.expires_at.isoformat(),
            },
        )
    return invite, minted.plaintext


def invite_revoke(*, invite: Invite, actor: Actor) -> Invite:
    """End an unused invite's lifetime now; a used invite cannot be revoked (it is spent)."""
    with transaction.atomic():
        current = Invite.objects.select_for_update().get(pk=invite.pk)
        if current.used_at is not None:
            raise Conflict("This invite has already been used; remove the member instead.")
        now = clock.now()
        if current.expires_at <= now:
            return current
        current.expires_at = now
        current.save(update_fields=["expires_at"])
        audit_record(
            org_id=current.org_id,
            actor=actor,
            action=OrgAction.INVITE_REVOKED,
            target_type="invite",
            target_id=current.pk,
            target_label=current.email or "invite link",
        )
    return current


def _check_password(password: object, email: str) -> str:
    if not isinstance(password, str) or not password:
        raise ValidationFailed("password: required", errors={"password": "a password is required"})
    try:
        validate_password(password, user=User(email=email))
    except DjangoValidationError as exc:
        message = " ".join(exc.messages)
        raise ValidationFailed(f"password: {message}", errors={"password": message}) from None
    return password


def invite_accept(
    *,
    token: str,
    user: User | None = None,
    email: str = "",
    password: str = "",
    ip: str | None = None,
) -> Membership:
    """Join the invite's org as ``user``, or as a new account (``email`` + ``password``).

    The invite is locked, checked and spent in the same transaction as the
    membership, so a link can never be used twice, even by two racing requests.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("This invite link is not valid.")
    with transaction.atomic():
        invite = (
            Invite.objects.select_for_update()
            .select_related("org")
            .filter(token_digest=hash_token(token))
            .first()
        )
        if invite is None:
            raise NotFound("This invite link is not valid.")
        now = clock.now()
        problem = invite_problem(invite, now=now)
        if problem:
            raise Conflict(problem)
        if user is None:
            address = _email(email, required=True)
            if invite.email and address != invite.email:
                raise ValidationFailed(
                    f"email: this invite is for {invite.email}",
                    errors={"email": f"this invite is for {invite.email}"},
                )
            if User.objects.filter(email=address).exists():
                raise Conflict(
                    "An account with this e-mail address exists: log in, then open the "
                    "invite link again."
                )
            _check_password(password, address)
            user = User.objects.create_user(email=address, password=password)
        elif invite.email and user.email.lower() != invite.email:
            raise ValidationFailed(
                f"email: this invite is for {invite.email}, you are logged in as {user.email}",
                errors={"email": f"this invite is for {invite.email}"},
            )
        membership = member_add(
            org=invite.org, user=user, role=Role(invite.role), actor=Actor.for_user(user, ip)
        )
        invite.used_at = now
        invite.used_by = user
        invite.save(update_fields=["used_at", "used_by"])
    return membership


def _membership_locked(membership: Membership) -> Membership:
    current = (
        Membership.objects.select_for_update()
        .select_related("user", "org")
        .filter(pk=membership.pk)
        .first()
    )
    if current is None:
        raise NotFound("This person is no longer a member.")
    return current


def _last_admin_guard(membership: Membership, verb: str) -> Membership:
    """Lock the org's admins and refuse to take away its last one."""
    admins = list(
        Membership.objects.select_for_update()
        .filter(org_id=membership.org_id, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )
    current = _membership_locked(membership)
    if current.role == Role.ADMIN and len(admins) <= 1:
        raise Conflict(
            f"{current.user.email} is the last admin of {current.org.name} and cannot be "
            f"{verb}: make another member an admin first."
        )
    return current


def member_role_change(*, membership: Membership, role: str, actor: Actor) -> Membership:
    new_role = _role(role)
    with transaction.atomic():
        if new_role == Role.ADMIN:
            current = _membership_locked(membership)
        else:
            current = _last_admin_guard(membership, "demoted")
        if current.role == new_role:
            return current
        before = current.role
        current.role = new_role
        current.save(update_fields=["role"])
        audit_record(
            org_id=current.org_id,
            actor=actor,
            action=OrgAction.MEMBER_ROLE_CHANGED,
            target_type="user",
            target_id=str(current.user_id),
            target_label=current.user.email,
            before={"role": before},
            after={"role": new_role.value},
        )
    return current


def member_remove(*, membership: Membership, actor: Actor) -> None:
    with transaction.atomic():
        current = _last_admin_guard(membership, "removed")
        audit_record(
            org_id=current.org_id,
            actor=actor,
            action=OrgAction.MEMBER_REMOVED,
            target_type="user",
            target_id=str(current.user_id),
            target_label=current.user.email,
            before={"role": current.role},
        )
        current.delete()
