"""Django settings, derived entirely from the typed ``Env`` object."""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF

from pulseboard.config.env import EmailConfig, email_config, get_env, resolve_keys

ENV = get_env()
SECRET_KEY, ENCRYPTION_KEYS = resolve_keys(ENV)
# Lower case: not a Django setting of its own (Django reads upper-case names only).
email = email_config(ENV)
DEBUG = ENV.debug
ALLOWED_HOSTS = ENV.split(ENV.allowed_hosts)
CSRF_TRUSTED_ORIGINS = ENV.split(ENV.csrf_trusted_origins)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "template_partials",
    "ninja",
    "pulseboard.orgs",
    "pulseboard.indicators",
    "pulseboard.history",
    "pulseboard.audit",
    "pulseboard.connectors",
    "pulseboard.goals",
    "pulseboard.sharing",
    "pulseboard.web",
]

MIDDLEWARE = [
    # First: every later middleware (the HTTPS redirect, CSRF) must see the real scheme.
    "pulseboard.core.client_address.TrustedProxyMiddleware",
    "pulseboard.ops.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pulseboard.api.ApiErrorShapeMiddleware",
    "pulseboard.core.db_outage.DatabaseOutageMiddleware",
    "pulseboard.core.request_guard.NulPathGuardMiddleware",
    "pulseboard.core.request_guard.UriLengthGuardMiddleware",
    # Unchanged live polls end here with a 304 after one query (web/live_poll.py).
    "pulseboard.web.live_poll.LivePollMiddleware",
    # Signed webhook deliveries need none of the browser middleware below.
    "pulseboard.connectors.hook_route.WebhookRouteMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pulseboard.orgs.middleware.SessionIdleMiddleware",
    "pulseboard.orgs.middleware.CurrentOrgMiddleware",
    "pulseboard.orgs.timezone_middleware.OrgTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "pulseboard.config.urls"
WSGI_APPLICATION = "pulseboard.config.wsgi.application"
AUTH_USER_MODEL = "orgs.User"
# Every password check passes the login throttle (orgs/login_throttle.py).
AUTHENTICATION_BACKENDS = ["pulseboard.orgs.login_throttle.ThrottledModelBackend"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pulseboard.orgs.context_processors.current_org",
            ],
        },
    }
]


def _database() -> dict[str, Any]:
    if ENV.uses_postgres:
        config: dict[str, Any] = dict(dj_database_url.parse(ENV.database_url, conn_max_age=60))
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["connect_timeout"] = 5
        return config
    ENV.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(ENV.data_dir / "pulseboard.sqlite3"),
        # Keep a thread's connection across requests, as on PostgreSQL. With one per
        # request, connecting and closing stretched the time writers held the lock, so
        # they collided and slept in SQLite's busy handler (up to 100 ms a retry):
        # webhook p99 at 200 req/s, median of 6 runs, 49.8 -> 10.7 ms (docs/performance.md).
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            # IMMEDIATE: a write transaction takes the lock up front, so two writers
            # queue on busy_timeout instead of one failing mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
        # A file (not :memory:) so live-server and concurrency tests share one database;
        # unique per process so parallel test runs never collide.
        "TEST": {
            "NAME": str(tempfile.gettempdir() + f"/pulseboard-test-{uuid.uuid4().hex[:12]}.sqlite3")
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every place a password is set runs these with the user (orgs.services.password_check,
# Django's reset form): a password like the e-mail address is refused too.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = str(ENV.data_dir / "static")
# WhiteNoise serves from the finders; an existing (empty) root keeps it from warning.
(ENV.data_dir / "static").mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Secure whenever clients reach us over HTTPS: a cookie sent once over plain HTTP (a
# mistyped http:// link) could be read on the way.
SESSION_COOKIE_SECURE = ENV.public_https
CSRF_COOKIE_SECURE = ENV.public_https
if ENV.https:
    SECURE_SSL_REDIRECT = True
    # Load balancers probe the processes (and Prometheus scrapes them) directly over
    # plain HTTP; a redirect would read as "down".
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    # `pulseboard serve` speaks plain HTTP, so HTTPS means a TLS-terminating proxy in
    # front that sets X-Forwarded-Proto (docs/operations.md). Not SECURE_PROXY_SSL_HEADER:
    # that believes every peer; core.client_address believes PULSEBOARD_TRUSTED_PROXIES.
    SECURE_HSTS_SECONDS = ENV.hsts_seconds
    # Covers only subdomains of Pulseboard's own host name.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = ENV.hsts_preload
    # Preloading commits the whole registrable domain in browsers' built-in lists;
    # that is the operator's decision (PULSEBOARD_HSTS_PRELOAD), not a missing setting.
    SILENCED_SYSTEM_CHECKS = [] if ENV.hsts_preload else ["security.W021"]
# An idle timeout, not an absolute one: orgs.middleware.SessionIdleMiddleware re-saves an
# active session (and so pushes this age forward) at most every SESSION_REFRESH_SECONDS.
SESSION_COOKIE_AGE = ENV.session_idle_minutes * 60
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}


def email_settings(config: EmailConfig | None) -> dict[str, Any]:
    """Django's e-mail settings for ``PULSEBOARD_EMAIL_URL`` (tests apply them the same way)."""
    if config is None:
        # No e-mail configured: nothing is sent and nothing goes to a log either (a reset
        # link in a log is an account for whoever reads it). The pages say mail is off.
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    return {
        "EMAIL_BACKEND": "pulseboard.orgs.mail.SmtpEmailBackend",
        "EMAIL_HOST": config.host,
        "EMAIL_PORT": config.port,
        "EMAIL_HOST_USER": config.username,
        "EMAIL_HOST_PASSWORD": config.password,
        "EMAIL_USE_TLS": config.use_starttls,
        "EMAIL_USE_SSL": config.use_implicit_tls,
        "DEFAULT_FROM_EMAIL": config.from_address,
        "SERVER_EMAIL": config.from_address,
    }


globals().update(email_settings(email))
# A page that sends mail waits for the mail server: never longer than this.
EMAIL_TIMEOUT = 10

PULSEBOARD = {
    "BASE_URL": ENV.base_url.rstrip("/"),
    "EMAIL_ENABLED": email is not None,
    "TRUSTED_PROXIES": ENV.trusted_proxies,
    "METRICS_TOKEN": ENV.metrics_token.get_secret_value() if ENV.metrics_token else "",
    # How often an active session is re-saved (its idle clock reset): a tenth of the idle
    # timeout, at most an hour, so an active user costs one session write per interval,
    # not one per request.
    "SESSION_REFRESH_SECONDS": min(ENV.session_idle_minutes * 6, 3600),
    "ALLOW_PRIVATE_CIDRS": ENV.allow_private_cidrs,
    "CA_BUNDLE": ENV.ca_bundle,
    "WORKER_CONCURRENCY": ENV.worker_concurrency,
    "WORKER_BATCH_SIZE": ENV.worker_batch_size,
    "WORKER_POLL_SECONDS": ENV.worker_poll_seconds,
    "WORKER_LEASE_SECONDS": ENV.worker_lease_seconds,
    "API_WRITE_RATE": ENV.api_write_rate,
    "GOOGLE_CLIENT_ID": ENV.google_client_id,
    "GOOGLE_CLIENT_SECRET": (
        ENV.google_client_secret.get_secret_value() if ENV.google_client_secret else ""
    ),
    "GOOGLE_AUTH_URL": ENV.google_auth_url,
    "GOOGLE_TOKEN_URL": ENV.google_token_url,
    "GOOGLE_REVOKE_URL": ENV.google_revoke_url,
    "GOOGLE_SHEETS_URL": ENV.google_sheets_url.rstrip("/"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": ENV.log_level},
    # Request paths can carry a live credential (invite links): redact before any handler.
    "filters": {"redact_tokens": {"()": "pulseboard.core.log_redaction.RedactTokens"}},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["redact_tokens"]},
        "django.server": {"filters": ["redact_tokens"]},
    },
}
