"""Users (e-mail login), organizations, memberships, invites and API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.orgs.roles import Role, TokenScope


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Organization(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    locale = models.CharField(max_length=20, default="en_US")
    timezone = models.CharField(max_length=60, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A group in an org with its own board (``/teams/{slug}/``); KPIs and objectives join one."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["org", "slug"], name="team_unique_org_slug")
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=[(r.value, r.value) for r in Role])
    # The board this member lands on: None is the org board, else one of the org's teams.
    default_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_unique_org_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.org_id} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class Invite(models.Model):
    """A single-use, expiring invitation link; only the token's hash is stored."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=10, choices=[(r.value, r.value) for r in Role])
    token_digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"invite {self.pk} ({self.role})"


class ApiToken(models.Model):
    """An org's bearer token for the REST API: shown once, stored hashed."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=[(s.value, s.value) for s in TokenScope])
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiWriteWindow(models.Model):
    """One API token's write counter for the current fixed window (see ``orgs/rate_limit.py``).

    One row per token, reused window after window, so the table never grows past
    the number of tokens.
    """

    token = models.OneToOneField(
        ApiToken, on_delete=models.CASCADE, primary_key=True, related_name="write_window"
    )
    window_start = models.BigIntegerField()  # Unix seconds, aligned to the rate's period
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.token_id}: {self.count} since {self.window_start}"


class LoginFailureWindow(models.Model):
    """A 15-minute throttle window (``orgs/login_throttle.py``): failed password checks of
    one (e-mail, client address) pair, or password-reset requests for one e-mail address
    or from one client address (``failures`` counts the attempts either way).

    The key is a keyed hash of the purpose and the parts, so neither the address typed
    (sometimes a password pasted into the wrong box) nor the client's IP is stored. One
    row per key while it has recent attempts; a successful login deletes its pair's row.
    """

    key = models.CharField(max_length=64, primary_key=True)
    window_start = models.DateTimeField(db_index=True)  # the first failure of the window
    failures = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key[:8]}…: {self.failures} since {self.window_start:%Y-%m-%d %H:%M}"
