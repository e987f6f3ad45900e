"""Writes for organizations and memberships: org creation, admins, roles, invites, API tokens.

Membership changes keep one rule everywhere: an organization always has at least one
admin, so the last admin can be neither demoted nor removed. Invites are single-use
links that expire; only the hash of the link's token is stored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils.text import slugify

from pulseboard.core import clock
from pulseboard.core.actors import Actor, ActorKind
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.core.tokens import hash_token, mint_token
from pulseboard.orgs.actions import OrgAction
from pulseboard.orgs.audit_hook import audit_record
from pulseboard.orgs.invite_throttle import accept_slot_take
from pulseboard.orgs.localization import (
    MAX_NAME,
    SettingInvalid,
    locale_canonical,
    timezone_canonical,
)
from pulseboard.orgs.member_hooks import admin_power_ended, member_removed
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


def password_check(password: object, *, user: User) -> str:
    """``password`` when Django's validators accept it for ``user``; ValidationFailed if not.

    ``user`` may be unsaved (``User(email=...)``): the similarity check compares the
    password with the account's e-mail address either way.
    """
    if not isinstance(password, str) or not password:
        raise ValidationFailed("password: required", errors={"password": "a password is required"})
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        message = " ".join(exc.messages)
        raise ValidationFailed(f"password: {message}", errors={"password": message}) from None
    return password


def user_get_or_create(*, email: str, password: str | None) -> tuple[User, bool]:
    """The account with this address, or a new one with ``password`` (validated).

    An existing account's password is never changed here: one address is one login
    across every org, so a reset must be asked for (``admin_bootstrap(reset_password=True)``).
    """
    address = _email(email, required=True)
    user = User.objects.filter(email=address).first()
    if user is not None:
        return user, False
    checked = password_check(password, user=User(email=address))
    return User.objects.create_user(email=address, password=checked), True


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


def admin_bootstrap(
    *,
    email: str,
    password: str | None,
    org_name: str,
    reset_password: bool = False,
    check_password: bool = True,
) -> tuple[Organization, User]:
    """``pulseboard createadmin``: the org (created if new) with this user as an admin.

    A new account gets ``password`` once Django's validators accept it. An existing
    account keeps its password (it logs in to every org it belongs to) unless
    ``reset_password`` asks for the new one, validated the same way. ``check_password``
    is False only for the demo account, whose password is published in the README.
    """
    actor = Actor.system("createadmin")
    address = _email(email, required=True)
    with transaction.atomic():
        org = Organization.objects.filter(name=org_name.strip()).first() or org_create(
            name=org_name, actor=actor
        )
        user = User.objects.select_for_update().filter(email=address).first()
        if user is None or reset_password:
            account = user or User(email=address)
            checked = password_check(password, user=account) if check_password else password
            if user is None:
                user = User.objects.create_user(email=address, password=checked)
            else:
                user.set_password(checked)
                user.save(update_fields=["password"])
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


def _answers_to(*, org: Organization, actor: Actor) -> int | None:
    """The person a new token's power comes from: the user, or the minting token's person.

    A token minted through the API answers to whoever made the token that minted it, so
    revoking that person's tokens (``member_role_change``) reaches the whole chain. None:
    minted by the operator (``pulseboard token create``) or a token of theirs.
    """
    if actor.kind == ActorKind.TOKEN:
        return (
            ApiToken.objects.filter(org=org, pk=actor.id)
            .values_list("created_by_id", flat=True)
            .first()
        )
    return actor.user_id


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
            created_by_id=_answers_to(org=org, actor=actor),
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


def token_revoke(*, token: ApiToken, actor: Actor, reason: str = "") -> ApiToken:
    """Revoke a token from the next request on; ``reason`` (audited) when not asked for."""
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
            after={"reason": reason} if reason else None,
        )
    return token


def token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The active token with this plaintext, or None; marks it used (at most once a minute).

    A token acts with at most the power its person still has in the org: an admin token
    whose person is no longer an admin there, or any token whose person left, does not
    authenticate. Losing the role revokes those tokens (``member_role_change``,
    ``member_remove``); this check, in the same query, also covers one minted while the
    role was being taken away. Operator tokens (no person) are not affected.
    """
    if not plaintext or len(plaintext) > 200:
        return None
    person = Membership.objects.filter(org_id=OuterRef("org_id"), user_id=OuterRef("created_by_id"))
    token = (
        ApiToken.objects.filter(token_digest=hash_token(plaintext), revoked_at__isnull=True)
        .annotate(
            person_member=Exists(person),
            person_admin=Exists(person.filter(role=Role.ADMIN)),
        )
        .select_related("org")
        .first()
    )
    if token is None:
        return None
    if token.created_by_id is not None:
        allowed = token.person_admin if token.scope == TokenScope.ADMIN else token.person_member  # type: ignore[attr-defined]
        if not allowed:
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


def invite_revoke(*, invite: Invite, actor: Actor, reason: str = "") -> Invite:
    """End an unused invite's lifetime now; a used invite cannot be revoked (it is spent).

    ``reason`` (audited) when the revocation was not asked for.
    """
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
            after={"reason": reason} if reason else None,
        )
    return current


EXISTING_ACCOUNT = (
    "This e-mail address cannot be used to create an account here. If you already have "
    "an account, log in, then open this invite link again."
)


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

    A new account's answer must not tell whether the address already has one (issue
    12): the address and the password are checked first, the same way for every address,
    and only a request that would otherwise create the account learns that the address
    is taken, as a 422 on the e-mail field like any other refusal. That last signal
    cannot go without e-mail verification; it costs a strong password, a usable invite
    link, and an attempt counted against the client and the link
    (``orgs/invite_throttle.py``), and a successful probe spends the link and leaves an
    account and an audit event behind.

    An invite whose creator is no longer an admin of its org is refused: losing admin
    revokes it (``member_role_change``), and this holds even for one created while the
    role was being changed.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("This invite link is not valid.")
    # Outside the transaction below: a refused attempt must still count.
    accept_slot_take(token=token, ip=ip, now=clock.now())
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
        if invite.created_by_id is not None and not _is_admin(invite.org_id, invite.created_by_id):
            raise Conflict("This invite link is no longer valid. Ask an admin for a new one.")
        if user is None:
            address = _email(email, required=True)
            if invite.email and address != invite.email:
                raise ValidationFailed(
                    f"email: this invite is for {invite.email}",
                    errors={"email": f"this invite is for {invite.email}"},
                )
            checked = password_check(password, user=User(email=address))
            if User.objects.filter(email=address).exists():
                raise ValidationFailed(
                    f"email: {EXISTING_ACCOUNT}", errors={"email": EXISTING_ACCOUNT}
                )
            try:
                with transaction.atomic():
                    user = User.objects.create_user(email=address, password=checked)
            except IntegrityError:
                # A racing request created the account first: the same answer as above.
                raise ValidationFailed(
                    f"email: {EXISTING_ACCOUNT}", errors={"email": EXISTING_ACCOUNT}
                ) from None
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


@dataclass(frozen=True)
class Revoked:
    """What a member's lost role took with it: API tokens and pending invites revoked,
    and what the packages above orgs revoked (``others``: e.g. share links, by the name
    their handler registered in ``orgs/member_hooks.py``)."""

    tokens: int = 0
    invites: int = 0
    others: tuple[tuple[str, int], ...] = ()


DEMOTED = "its creator is no longer an admin"
REMOVED = "its creator left the organization"


def _is_admin(org_id: int, user_id: int) -> bool:
    return Membership.objects.filter(org_id=org_id, user_id=user_id, role=Role.ADMIN).exists()


def _creations_revoke(*, membership: Membership, actor: Actor, removed: bool) -> Revoked:
    """Revoke what ``membership``'s person made that would outlive their power.

    Demoted: their admin-scope tokens of the org and every pending invite they created
    (a member cannot invite, so nothing they sent stays valid; member invites too).
    Removed: also their read-scope tokens, since they can no longer read the org
    either. Either way, the "admin power ended" handlers of ``orgs/member_hooks.py``
    revoke what packages above orgs hold for them (their share links). Each revocation
    is audited with its reason, in the caller's transaction.
    """
    now = clock.now()
    tokens = ApiToken.objects.select_for_update().filter(
        org_id=membership.org_id, created_by_id=membership.user_id, revoked_at__isnull=True
    )
    if not removed:
        tokens = tokens.filter(scope=TokenScope.ADMIN)
    invites = Invite.objects.select_for_update().filter(
        org_id=membership.org_id,
        created_by_id=membership.user_id,
        used_at__isnull=True,
        expires_at__gt=now,
    )
    reason = REMOVED if removed else DEMOTED
    revoked_tokens = list(tokens.order_by("pk"))
    revoked_invites = list(invites.order_by("pk"))
    for token in revoked_tokens:
        token_revoke(token=token, actor=actor, reason=reason)
    for invite in revoked_invites:
        invite_revoke(invite=invite, actor=actor, reason=reason)
    others = admin_power_ended(
        org_id=membership.org_id, user_id=membership.user_id, actor=actor, reason=reason
    )
    return Revoked(
        tokens=len(revoked_tokens),
        invites=len(revoked_invites),
        others=tuple((what, n) for what, n in others.items() if n),
    )


def member_role_change(
    *, membership: Membership, role: str, actor: Actor
) -> tuple[Membership, Revoked]:
    """Change a member's role; a demoted admin's admin tokens, pending invites and share
    links are revoked."""
    new_role = _role(role)
    with transaction.atomic():
        if new_role == Role.ADMIN:
            current = _membership_locked(membership)
        else:
            current = _last_admin_guard(membership, "demoted")
        if current.role == new_role:
            return current, Revoked()
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
        revoked = Revoked()
        if before == Role.ADMIN:
            revoked = _creations_revoke(membership=current, actor=actor, removed=False)
    return current, revoked


def member_remove(*, membership: Membership, actor: Actor) -> Revoked:
    """Remove a member; every token of the org they made, their pending invites and their
    share links go too, and what they owned above orgs (KPIs, objectives, key results) is
    left without an owner by the handlers registered in ``orgs/member_hooks.py``, audited,
    in the same transaction."""
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
        revoked = _creations_revoke(membership=current, actor=actor, removed=True)
        member_removed(org_id=current.org_id, user_id=current.user_id, actor=actor)
        current.delete()
    return revoked
