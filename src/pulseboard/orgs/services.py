"""Writes for organizations and memberships (org creation, admins, roles)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, ValidationFailed
from pulseboard.orgs.models import Membership, Organization, User
from pulseboard.orgs.roles import Role


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
