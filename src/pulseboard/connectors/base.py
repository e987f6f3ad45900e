"""The connector interface: what every source kind implements, and the values it trades in.

A connector is one object per kind, listed in ``registry.CONNECTORS``. It declares a
typed configuration (a pydantic model, validated whenever a binding is saved), turns a
validated configuration into a ``Binding`` (what to store on the ``Source`` row: the
non-secret JSON, what happens to the one encrypted secret, the Google connection, the
pull interval), and describes a bound source's state in words. Pull kinds subclass
``PullConnector`` and add ``async pull(context, session) -> Observation``, raising
``PullError`` with a message an admin can act on.

Secrets: a configuration model may declare at most one ``SecretStr`` field (a bearer
token, say). The framework never stores it in the JSON config; it lands encrypted in
``Source.secret_encrypted`` with a four-character hint, is redacted from audit events,
and reaches ``pull`` decrypted in ``PullContext.secret``. Absent or null on a later save
of the same kind keeps the stored secret; an empty string removes it. A connector that
mints its own secret (the webhook) returns ``SecretSet(minted, shown_once=True)``.

Pull kinds: their configuration model extends ``PullConfig`` (``interval_seconds``,
at least one minute), which ``PullConnector.bind`` moves to ``Source.interval_seconds``.

Audit: what an audit event keeps of a stored configuration is ``redacted_config`` (by
default ``redaction.config_redacted``: no URL query value, header value, DSN password or
token), so the log never holds a secret whoever reads it.

Adding a kind: one module with a ``Connector`` (or ``PullConnector``) subclass, one line
in ``registry.CONNECTORS``, one test file.
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from pulseboard.connectors.redaction import config_redacted
from pulseboard.connectors.schedule import DEFAULT_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS
from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators.durations import format_duration, humanize_ago

if TYPE_CHECKING:
    from pulseboard.core.safe_http import SafeSession

SECRET_HINT_LENGTH: Final = 4


class ConnectorConfig(BaseModel):
    """Base of every configuration model: unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class PullConfig(ConnectorConfig):
    """Base of pull kinds' configuration: how often the worker reads the source."""

    interval_seconds: int = Field(
        default=DEFAULT_INTERVAL_SECONDS,
        ge=MIN_INTERVAL_SECONDS,
        le=7 * 24 * 3600,
        title="Pull every (seconds)",
        description="At least 60; the default is 900 (15 minutes).",
        json_schema_extra={"widget": "number"},
    )


ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)
PullConfigT = TypeVar("PullConfigT", bound=PullConfig)


# --- what a binding does to the stored secret -------------------------------------------


@dataclass(frozen=True)
class SecretKeep:
    """Leave the stored secret as it is (also: no secret stays no secret)."""


@dataclass(frozen=True)
class SecretClear:
    """Remove the stored secret."""


@dataclass(frozen=True)
class SecretSet:
    """Store this secret. Typed by the admin: never shown back, they have it already.
    Minted by the connector (``shown_once``): the bind response shows it, once."""

    value: str = field(repr=False)
    shown_once: bool = False
    # What admins see of it; None: its last four characters. A connector whose secret
    # bundles several credentials (https_get's headers) says which part to hint at.
    hint: str | None = None


SecretChange = SecretKeep | SecretClear | SecretSet


@dataclass(frozen=True)
class BindContext:
    """What a connector may consult while validating a binding (no database handles)."""

    org_id: int
    user_id: int | None  # the binding user; None for API tokens and the CLI
    kpi_id: str
    current_kind: str
    current_config: Mapping[str, Any]
    has_secret: bool
    now: datetime
    # The stored secret, decrypted, when the source is of this kind already: a connector
    # keeping several credentials in its one secret merges what a save leaves out.
    current_secret: str | None = field(default=None, repr=False)
    # The binding user's own account connections in this org, (id, label): a kind that
    # reads through one (sheets) may be bound only to one of these.
    connections: tuple[tuple[str, str], ...] = ()

    def same_kind(self, kind: str) -> bool:
        return self.current_kind == kind


@dataclass(frozen=True)
class Binding:
    """A validated binding, ready to be stored on the ``Source`` row by ``source_bind``."""

    config: dict[str, Any]  # JSON stored in Source.config: never a secret
    secret: SecretChange = field(default_factory=SecretClear)
    connection_id: str | None = None
    interval_seconds: int | None = None  # pull kinds only


# --- describing a bound source ------------------------------------------------------------


@dataclass(frozen=True)
class SourceState:
    """A snapshot of a ``Source`` row, so ``describe_status`` needs no database."""

    kind: str
    config: Mapping[str, Any]
    secret_hint: str
    interval_seconds: int
    next_pull_at: datetime | None
    last_pulled_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    consecutive_failures: int


@dataclass(frozen=True)
class SourceStatus:
    """How a source is doing, in words: one summary line and labelled details."""

    summary: str
    failing: bool = False
    details: tuple[tuple[str, str], ...] = ()


# --- pulling ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionAccess:
    """The account connection a source reads through, ready for one pull (no database)."""

    account: str  # how messages name the account (an e-mail address), "" if unknown
    access_token: str = field(repr=False)  # decrypted, live for this pull
    refreshed: bool  # obtained for this pull: a refusal now means the grant is gone


@dataclass(frozen=True)
class PullContext:
    """Everything one pull needs, loaded (and the secret decrypted) before the await."""

    source_id: str
    org_id: int
    kpi_id: str
    kind: str
    config: Mapping[str, Any]
    secret: str | None = field(repr=False)
    connection_id: str | None
    now: datetime
    connection: ConnectionAccess | None = None  # sources bound to an account connection


@dataclass(frozen=True)
class Observation:
    """One value read from a source; ``observed_at`` None means "as of the pull"."""

    value: float
    observed_at: datetime | None = None


class PullError(Exception):
    """A pull that produced no value; ``message`` is shown to admins as the source's error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CredentialRejected(PullError):
    """The remote refused the connection's access token before its announced expiry.

    The pull is prepared once more with a freshly refreshed token and retried; raised
    again (or with a token already refreshed for the pull) it is an ordinary pull error.
    """


# --- form fields derived from the configuration model -----------------------------------

FieldWidget = Literal["text", "url", "number", "password", "select"]


@dataclass(frozen=True)
class ConfigField:
    """One configuration input as a form shows it (the web derives its form from these)."""

    name: str
    label: str
    help: str
    widget: FieldWidget
    required: bool
    secret: bool
    choices: tuple[tuple[str, str], ...] = ()


def config_errors(exc: PydanticValidationError) -> dict[str, str]:
    """Pydantic's errors as ``{field: message}`` in the API's error shape."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ())) or "config"
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a setting of this connector"
        errors.setdefault(location, message)
    return errors


def secret_field_of(model: type[ConnectorConfig]) -> str | None:
    """The name of the model's ``SecretStr`` field, if it has one."""
    names = [
        name
        for name, info in model.model_fields.items()
        if info.annotation in (SecretStr, SecretStr | None)
    ]
    if len(names) > 1:
        raise TypeError(f"{model.__name__} declares several secrets; a source stores one")
    return names[0] if names else None


@functools.lru_cache(maxsize=10_000)
def _stored_config(model: type[ConnectorConfig], text: str) -> ConnectorConfig:
    """``model`` validated from the JSON ``text``; kept, as models are frozen."""
    return model.model_validate(json.loads(text))


class Connector(ABC, Generic[ConfigT]):
    """One source kind. Instances are stateless and shared; see the module docstring."""

    kind: ClassVar[str]
    label: ClassVar[str]
    summary: ClassVar[str]  # one sentence for the kind picker
    config_model: type[ConfigT]
    is_pull: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = cls.__dict__.get("config_model")
        if model is not None:
            # Fail at import, not at the first save, when a model declares two secrets.
            secret_field_of(model)

    def config_parse(self, raw: Mapping[str, Any]) -> ConfigT:
        """The typed configuration, or ``ValidationFailed`` naming each wrong field."""
        if not isinstance(raw, Mapping):
            raise ValidationFailed("config must be an object", errors={"config": "not an object"})
        try:
            return self.config_model.model_validate(dict(raw))
        except PydanticValidationError as exc:
            errors = config_errors(exc)
            summary = "; ".join(f"{name}: {message}" for name, message in errors.items())
            raise ValidationFailed(
                f"invalid {self.kind} settings: {summary}", errors=errors
            ) from None

    def binding_validate(self, raw: Mapping[str, Any], *, context: BindContext) -> Binding:
        """Parse and check a configuration about to be saved (may resolve names, etc.)."""
        return self.bind(self.config_parse(raw), context=context)

    def bind(self, config: ConfigT, *, context: BindContext) -> Binding:
        """The default binding: non-secret fields as JSON, the secret field set, kept or cleared.

        Subclasses add their own checks (raising ``ValidationFailed``) and call this.
        """
        secret_name = secret_field_of(self.config_model)
        stored = config.model_dump(mode="json", exclude={secret_name} if secret_name else set())
        if secret_name is None:
            return Binding(config=stored, secret=SecretClear())
        given = getattr(config, secret_name)
        secret: SecretChange
        if given is None:
            secret = SecretKeep() if context.same_kind(self.kind) else SecretClear()
        elif given.get_secret_value() == "":
            secret = SecretClear()
        else:
            secret = SecretSet(given.get_secret_value())
        return Binding(config=stored, secret=secret)

    def stored_config(self, config: Mapping[str, Any]) -> ConfigT:
        """The configuration as stored, typed again (for ``pull``); a bad one is a pull error.

        Every pull of a source validates the same stored JSON again; the validators are
        static (URL form, JSONPath syntax: no DNS, no settings), so a validated, frozen
        configuration is reused for the same text (``_stored_config``). Validation took
        about a fifth of a pull's CPU before (py-spy over ``bench/poll_profile.py``).
        """
        try:
            text = json.dumps(config, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            text = None
        try:
            if text is None:
                return self.config_model.model_validate(dict(config))
            return cast(ConfigT, _stored_config(self.config_model, text))
        except PydanticValidationError as exc:
            fields = ", ".join(config_errors(exc))
            raise PullError(
                f"the saved settings are no longer valid ({fields}): bind the source again"
            ) from None

    def form_fields(
        self,
        *,
        org_id: int,
        user_id: int | None,
        connections: tuple[tuple[str, str], ...] = (),
    ) -> list[ConfigField]:
        """The inputs of the binding form, derived from the configuration model.

        ``json_schema_extra={"widget": "url"}`` on a field picks its input; connectors
        that offer choices (``connections``: the form user's own Google connections,
        (id, label)) override this.
        """
        fields = []
        for name, info in self.config_model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            secret = info.annotation in (SecretStr, SecretStr | None)
            widget = extra.get("widget") or ("password" if secret else "text")
            fields.append(
                ConfigField(
                    name=name,
                    label=info.title or name.replace("_", " ").capitalize(),
                    help=info.description or "",
                    widget=widget,  # type: ignore[arg-type]
                    required=info.is_required(),
                    secret=secret,
                )
            )
        return fields

    def redacted_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The stored configuration as an audit event may hold it: never a secret.

        The default (``redaction.config_redacted``) masks URL query values, fragments
        and passwords, and the value of every field named like a secret (``*token*``,
        ``*secret*``, ``*password*``, ``headers``, ``dsn``, ``*key*``, …; a mapping keeps
        its keys). A kind keeping a secret under another name overrides this.
        """
        return config_redacted(config)

    def describe_status(self, state: SourceState, *, now: datetime) -> SourceStatus:
        """How the source is doing; push kinds have nothing scheduled to report."""
        details: tuple[tuple[str, str], ...] = ()
        if state.secret_hint:
            details = (("Secret", f"…{state.secret_hint}"),)
        return SourceStatus(summary=self.label, details=details)


class PullConnector(Connector[PullConfigT]):
    """A kind the worker pulls on a schedule."""

    is_pull: ClassVar[bool] = True

    def bind(self, config: PullConfigT, *, context: BindContext) -> Binding:
        binding = super().bind(config, context=context)
        stored = dict(binding.config)
        interval = int(stored.pop("interval_seconds"))
        return Binding(
            config=stored,
            secret=binding.secret,
            connection_id=binding.connection_id,
            interval_seconds=interval,
        )

    @abstractmethod
    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        """Read one value. Raise ``PullError`` (never anything else) when there is none.

        ``session`` is the worker's shared SSRF-safe client: the only way to reach the
        network. ``context.now`` is the pull's start; no clock reads inside.
        """

    def config_details(self, state: SourceState) -> list[tuple[str, str]]:
        """What the kind shows of its binding, first in ``describe_status``; none by default."""
        return []

    def describe_status(self, state: SourceState, *, now: datetime) -> SourceStatus:
        failing = state.consecutive_failures > 0
        details: list[tuple[str, str]] = self.config_details(state)
        details.append(("Every", format_duration(timedelta(seconds=state.interval_seconds))))
        if state.last_pulled_at is not None:
            details.append(("Last pulled", humanize_ago(state.last_pulled_at, now)))
        if state.last_success_at is not None:
            details.append(("Last success", humanize_ago(state.last_success_at, now)))
        if failing:
            details.append(("Failed attempts in a row", str(state.consecutive_failures)))
            details.append(("Last error", state.last_error))
        summary = f"{self.label}: failing" if failing else self.label
        return SourceStatus(summary=summary, failing=failing, details=tuple(details))


def text_details(
    config: Mapping[str, Any], *rows: tuple[str, str, Callable[[str], str]]
) -> list[tuple[str, str]]:
    """Status rows ``(label, shown value)`` for the text settings of ``rows`` that are set.

    Each row is ``(config key, label, how to show the value)``; a key missing or not text
    (an old or hand-edited configuration) is left out rather than shown wrong.
    """
    return [
        (label, show(value))
        for key, label, show in rows
        if isinstance(value := config.get(key), str)
    ]


def checked_query_text(value: str, *, max_bytes: int) -> str:
    """A config validator body for a kind's query text: not empty, short, no NUL."""
    if not value:
        raise PydanticCustomError("query", "the query is empty")
    if len(value.encode()) > max_bytes:
        raise PydanticCustomError("query", f"the query is longer than {max_bytes // 1024} KiB")
    if "\x00" in value:
        raise PydanticCustomError("query", "the query contains a NUL character")
    return value


def secret_hint(secret: str) -> str:
    """The last characters of a secret: enough to tell two apart, too few to matter."""
    return secret[-SECRET_HINT_LENGTH:]
