"""Minted tokens in logged request paths are redacted before any handler writes them."""

from __future__ import annotations

import logging

import pytest

from pulseboard.core.log_redaction import RedactTokens, redact
from pulseboard.core.tokens import mint_token


@pytest.mark.parametrize("kind", ["pb", "pbi"])
def test_a_minted_token_is_replaced_by_its_kind(kind: str) -> None:
    token = mint_token(kind).plaintext
    assert redact(f"Gone: /invite/{token}/") == f"Gone: /invite/{kind}_[redacted]/"


@pytest.mark.parametrize(
    "text",
    [
        "Not Found: /kpis/4yt9AjFdPr8GL3yE/",
        "Unauthorized: /hooks/kpis/cqs9YfHNdQ7GbLbl",
        "source abc_def failed: value 'n/a' is not a number",
    ],
)
def test_ordinary_ids_and_words_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_filter_rewrites_message_and_arguments_and_keeps_the_record() -> None:
    token = mint_token("pbi").plaintext
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "%s: %s",
        ("Gone", f"/invite/{token}/"),
        None,
    )
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == "Gone: /invite/pbi_[redacted]/"


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_django_request_log_is_redacted_through_settings() -> None:
    token = mint_token("pbi").plaintext
    kept = Kept()
    root = logging.getLogger()
    root.addHandler(kept)
    try:
        logging.getLogger("django.request").warning("%s: %s", "Gone", f"/invite/{token}/")
    finally:
        root.removeHandler(kept)
    assert kept.lines == ["Gone: /invite/pbi_[redacted]/"]


def test_a_webhook_secret_is_redacted_whole() -> None:
    secret = "whsec_" + "ab+/cd" * 6 + "=="
    assert redact(f"secret {secret} end") == "secret whsec_[redacted] end"
