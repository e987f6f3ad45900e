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
print(plain_page.status_code, plain_page.get("Location"))
print(plain_probe.status_code)
print(proxied.status_code, proxied.get("Strict-Transport-Security"))
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
    page, probe, proxied = result.stdout.splitlines()
    assert page == "301 https://testserver/login/"
    assert probe == "200"
    assert proxied == "200 max-age=600; includeSubDomains"
