"""The production profile: ``check --deploy`` is clean with PULSEBOARD_HTTPS on, in both modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

POSTGRES_MODE = {
    "DATABASE_URL": "postgresql://pulseboard@127.0.0.1:5432/pulseboard",
    # check --deploy judges the signing key too: a real one, as `keys generate` makes.
    "PULSEBOARD_SECRET_KEY": "Vq3x-8kP2mZr_N7tL0wYc5Hj9Ub4Fs6Ae1Gd2Ko3Ri4Tn5Wm6Xp7Qy8Zs9Lb0Cv1",
    "PULSEBOARD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


# Requests through the full middleware stack with the settings the environment made.
HTTPS_REQUESTS = r"""
import django

django.setup()
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
client = Client()
plain_page = client.get("/login/")
plain_probe = client.get("/healthz")
proxied = client.get("/login/", headers={"x-forwarded-proto": "https"})
# The same header from a peer that is not a trusted proxy changes nothing.
spoofed = Client(REMOTE_ADDR="203.0.113.9").get("/login/", headers={"x-forwarded-proto": "https"})
print(plain_page.status_code, plain_page.get("Location"))
print(plain_probe.status_code)
print(proxied.status_code, proxied.get("Strict-Transport-Security"))
print(spoofed.status_code, spoofed.get("Location"))
"""


def run_python(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PULSEBOARD_")
        and key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(PULSEBOARD_DATA_DIR=str(data_dir), **settings)
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_deploy(data_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    command = ["check", "--deploy", "--fail-level", "WARNING"]
    return run_python(
        data_dir, "-m", "django", *command, "--settings=pulseboard.config.settings", **settings
    )


@pytest.mark.parametrize("mode", [{}, POSTGRES_MODE], ids=["embedded", "postgresql"])
def test_check_deploy_reports_no_issues_in_the_https_profile(
    tmp_path: Path, mode: dict[str, str]
) -> None:
    result = check_deploy(tmp_path, PULSEBOARD_HTTPS="true", **mode)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout + result.stderr
    assert "WARNINGS" not in result.stderr


@pytest.mark.parametrize(
    ("settings", "warning"),
    [
        ({}, "security.W004"),  # no HSTS
        ({}, "security.W008"),  # no HTTPS redirect
        ({"PULSEBOARD_HTTPS": "true", "PULSEBOARD_HSTS_SECONDS": "0"}, "security.W004"),
        ({"PULSEBOARD_HTTPS": "true", "PULSEBOARD_DEBUG": "true"}, "security.W018"),
    ],
)
def test_check_deploy_still_warns_when_the_profile_is_incomplete(
    tmp_path: Path, settings: dict[str, str], warning: str
) -> None:
    result = check_deploy(tmp_path, **settings)
    assert result.returncode != 0
    assert warning in result.stderr


def test_preload_is_sent_only_when_the_operator_opts_in(tmp_path: Path) -> None:
    result = check_deploy(tmp_path, PULSEBOARD_HTTPS="true", PULSEBOARD_HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stderr
    assert "0 silenced" in result.stdout + result.stderr


def test_https_profile_redirects_pages_but_not_health_probes_and_trusts_the_proxy(
    tmp_path: Path,
) -> None:
    result = run_python(
        tmp_path,
        "-c",
        HTTPS_REQUESTS,
        PULSEBOARD_HTTPS="true",
        PULSEBOARD_HSTS_SECONDS="600",
        DJANGO_SETTINGS_MODULE="pulseboard.config.settings",
    )
    assert result.returncode == 0, result.stderr
    page, probe, proxied, spoofed = result.stdout.splitlines()
    assert page == "301 https://testserver/login/"
    assert probe == "200"
    assert proxied == "200 max-age=600; includeSubDomains"
    assert spoofed == "301 https://testserver/login/"


SHOW_SETTINGS = r"""
import django

django.setup()
from django.conf import settings

print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)
print(settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), settings.EMAIL_PORT)
print(settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL, settings.DEFAULT_FROM_EMAIL)
print(settings.SESSION_COOKIE_AGE, settings.PULSEBOARD["SESSION_REFRESH_SECONDS"])
"""


def show_settings(data_dir: Path, **settings: str) -> list[str]:
    result = run_python(
        data_dir,
        "-c",
        SHOW_SETTINGS,
        DJANGO_SETTINGS_MODULE="pulseboard.config.settings",
        **settings,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_cookies_are_secure_when_the_public_url_is_https(tmp_path: Path) -> None:
    assert show_settings(tmp_path)[0] == "False False"
    secure = show_settings(tmp_path, PULSEBOARD_BASE_URL="https://kpi.example.com")
    assert secure[0] == "True True"


def test_without_an_email_url_nothing_is_sent_or_printed(tmp_path: Path) -> None:
    backend = show_settings(tmp_path)[1]
    assert backend.startswith("django.core.mail.backends.dummy.EmailBackend")


def test_an_email_url_configures_smtp(tmp_path: Path) -> None:
    shown = show_settings(
        tmp_path,
        PULSEBOARD_EMAIL_URL="smtp+starttls://mailer:pw@smtp.example.com:2587",
        PULSEBOARD_EMAIL_FROM="Pulseboard <kpi@example.com>",
    )
    assert shown[1] == "pulseboard.orgs.mail.SmtpEmailBackend smtp.example.com 2587"
    assert shown[2] == "True False Pulseboard <kpi@example.com>"


def test_the_idle_timeout_sets_the_session_age_and_its_refresh(tmp_path: Path) -> None:
    assert show_settings(tmp_path)[3] == f"{14 * 24 * 3600} 3600"
    assert show_settings(tmp_path, PULSEBOARD_SESSION_IDLE_MINUTES="30")[3] == "1800 180"


def test_a_bad_email_url_stops_the_start_without_showing_the_password(tmp_path: Path) -> None:
    result = run_python(
        tmp_path,
        "-m",
        "pulseboard.cli",
        "serve",
        "--port",
        "1",
        PULSEBOARD_EMAIL_URL="smtps://mailer:hunter2-secret@mail.example.com:0x19",
        PULSEBOARD_EMAIL_FROM="kpi@example.com",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "PULSEBOARD_EMAIL_URL is not a valid URL" in output
    assert "hunter2" not in output
    assert "Traceback" not in output
