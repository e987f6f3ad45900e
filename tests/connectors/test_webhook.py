"""The webhook connector's pure rules: Standard Webhooks verification and the body.

Deliveries are signed with the ``standardwebhooks`` library itself, as a sender would.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from pulseboard.connectors.base import BindContext, SecretKeep, SecretSet
from pulseboard.connectors.webhook import (
    MAX_WEBHOOK_ID_LENGTH,
    NO_V1_SIGNATURE,
    SIGNATURE_MISMATCH,
    Payload,
    WebhookConnector,
    WebhookRejected,
    body_of,
    decoy_secret,
    parse_body,
    secret_mint,
    sign_headers,
    v1_signatures,
    verify,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
BODY = b'{"value": 12.5}'


def now() -> datetime:
    return datetime.now(UTC)


def signed(
    body: bytes = BODY,
    *,
    secret: str = SECRET,
    msg_id: str = "msg_1",
    at: datetime | None = None,
) -> dict[str, str]:
    moment = at or now()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body.decode()),
    }


def rejection(**kwargs: object) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        verify(**{"secret": SECRET, "body": BODY, "now": now(), **kwargs})  # type: ignore[arg-type]
    return caught.value


# --- verification ---------------------------------------------------------------------------


def test_a_delivery_signed_with_the_secret_verifies_and_yields_its_id() -> None:
    assert verify(secret=SECRET, body=BODY, headers=signed(msg_id="msg_42"), now=now()) == "msg_42"


def test_header_names_are_matched_without_regard_to_case() -> None:
    headers = {name.upper(): value for name, value in signed().items()}
    assert verify(secret=SECRET, body=BODY, headers=headers, now=now()) == "msg_1"


def test_a_wrong_secret_is_a_401_signature_mismatch() -> None:
    refused = rejection(headers=signed(secret=OTHER_SECRET))
    assert (refused.status, refused.message) == (401, SIGNATURE_MISMATCH)


def test_a_tampered_body_is_a_401_signature_mismatch() -> None:
    refused = rejection(headers=signed(), body=b'{"value": 99.5}')
    assert (refused.status, refused.message) == (401, SIGNATURE_MISMATCH)


def test_a_changed_webhook_id_is_a_401_signature_mismatch() -> None:
    headers = {**signed(msg_id="msg_1"), "webhook-id": "msg_2"}
    assert rejection(headers=headers).message == SIGNATURE_MISMATCH


def test_a_decoy_secret_answers_exactly_like_a_wrong_secret() -> None:
    headers = signed(secret=OTHER_SECRET)
    wrong = rejection(headers=headers)
    decoy = rejection(headers=headers, secret=decoy_secret())
    assert (decoy.status, decoy.message, decoy.outcome) == (
        wrong.status,
        wrong.message,
        wrong.outcome,
    )


@pytest.mark.parametrize(
    ("offset", "word"),
    [(timedelta(minutes=-6), "old"), (timedelta(minutes=6), "future")],
)
def test_a_timestamp_more_than_five_minutes_away_is_a_401(offset: timedelta, word: str) -> None:
    refused = rejection(headers=signed(at=now() + offset))
    assert refused.status == 401
    assert word in refused.message
    assert "5 minutes" in refused.message


@pytest.mark.parametrize("offset", [timedelta(minutes=-4, seconds=-50), timedelta(minutes=4)])
def test_a_timestamp_within_five_minutes_is_accepted(offset: timedelta) -> None:
    assert verify(secret=SECRET, body=BODY, headers=signed(at=now() + offset), now=now())


@pytest.mark.parametrize("timestamp", ["", "abc", "1e9", "nan", "inf", "-5", "17000000.5", " "])
def test_a_timestamp_that_is_not_whole_unix_seconds_is_a_401(timestamp: str) -> None:
    refused = rejection(headers={**signed(), "webhook-timestamp": timestamp})
    assert refused.status == 401


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_a_401_naming_it(missing: str) -> None:
    headers = {name: value for name, value in signed().items() if name != missing}
    refused = rejection(headers=headers)
    assert refused.status == 401
    assert missing in refused.message


def test_no_headers_at_all_is_a_401_naming_all_three() -> None:
    refused = rejection(headers={})
    assert refused.status == 401
    assert "webhook-id, webhook-timestamp, webhook-signature" in refused.message


@pytest.mark.parametrize(
    "signature",
    [
        "garbage",
        "v1",
        "v1,",
        "v1,abc,def",
        "v1,@@@@",
        "v1,abc",  # not a multiple of 4: bad padding
        "v1 ,abcd",
        ",abcd",
        "V1,abcd",  # versions are case-sensitive
        "v1a,abcd v2,abcd",  # only versions this server does not check
    ],
)
def test_a_header_without_a_well_formed_v1_signature_is_a_401_saying_so(signature: str) -> None:
    refused = rejection(headers={**signed(), "webhook-signature": signature})
    assert refused.status == 401
    assert refused.message == NO_V1_SIGNATURE
    assert "v1,<base64 signature>" in refused.message


def test_a_valid_v1_beside_a_signature_of_another_scheme_is_accepted() -> None:
    # Standard Webhooks senders may sign with several schemes at once (v1a: ed25519).
    good = signed()["webhook-signature"]
    asymmetric = "v1a," + base64.b64encode(b"\x01" * 64).decode()
    for header in (f"{asymmetric} {good}", f"{good} {asymmetric}"):
        headers = {**signed(), "webhook-signature": header}
        assert verify(secret=SECRET, body=BODY, headers=headers, now=now()) == "msg_1"


@pytest.mark.parametrize("noise", ["v1,abc", "v1,@@@@", "garbage", "v1,a,b", "v1a,", ",x"])
def test_malformed_entries_beside_a_valid_v1_are_ignored(noise: str) -> None:
    good = signed()["webhook-signature"]
    headers = {**signed(), "webhook-signature": f"{noise} {good}"}
    assert verify(secret=SECRET, body=BODY, headers=headers, now=now()) == "msg_1"


def test_other_schemes_do_not_rescue_a_v1_that_does_not_match() -> None:
    wrong = signed(secret=OTHER_SECRET)["webhook-signature"]
    # The right HMAC under an unknown version name is not checked at all.
    right_digest = signed()["webhook-signature"].removeprefix("v1,")
    header = f"v1a,{right_digest} v2,{right_digest} {wrong}"
    refused = rejection(headers={**signed(), "webhook-signature": header})
    assert (refused.status, refused.message) == (401, SIGNATURE_MISMATCH)


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("v1,AAAA", ["v1,AAAA"]),
        ("  v1,AAAA\tv1a,BBBB  v1,CCCC== ", ["v1,AAAA", "v1,CCCC=="]),
        ("v1,AAA v1,AAAA=== v1,A?AA", []),
        ("", []),
    ],
)
def test_only_well_formed_v1_entries_are_kept(header: str, kept: list[str]) -> None:
    assert v1_signatures(header) == kept


def test_several_signatures_pass_when_one_of_them_is_valid() -> None:
    good = signed()
    wrong = signed(secret=OTHER_SECRET)["webhook-signature"]
    headers = {**good, "webhook-signature": f"{wrong} v2,AAAA {good['webhook-signature']}"}
    assert verify(secret=SECRET, body=BODY, headers=headers, now=now()) == "msg_1"


def test_several_signatures_none_valid_is_a_mismatch() -> None:
    wrong = signed(secret=OTHER_SECRET)["webhook-signature"]
    refused = rejection(headers={**signed(), "webhook-signature": f"{wrong} {wrong}"})
    assert refused.message == SIGNATURE_MISMATCH


def test_a_body_that_is_not_utf8_is_a_422() -> None:
    refused = rejection(body=b"\xff\xfe{}", headers=signed())
    assert refused.status == 422
    assert "UTF-8" in refused.message


def test_an_overlong_webhook_id_is_a_422_once_the_signature_checks_out() -> None:
    msg_id = "m" * (MAX_WEBHOOK_ID_LENGTH + 1)
    refused = rejection(headers=signed(msg_id=msg_id))
    assert refused.status == 422
    assert "webhook-id" in refused.message


@settings(max_examples=200, deadline=None)
@given(
    webhook_id=st.text(max_size=50),
    timestamp=st.text(max_size=20),
    signature=st.text(max_size=120),
    body=st.binary(max_size=200),
)
def test_no_input_raises_anything_but_a_rejection(
    webhook_id: str, timestamp: str, signature: str, body: bytes
) -> None:
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
    }
    with pytest.raises(WebhookRejected) as caught:
        verify(secret=SECRET, body=body, headers=headers, now=now())
    assert caught.value.status in (401, 422)


@settings(max_examples=200, deadline=None)
@given(token=st.from_regex(r"v1,[A-Za-z0-9+/]{0,60}={0,2}", fullmatch=True))
def test_signature_tokens_of_any_shape_never_escape_as_library_errors(token: str) -> None:
    with pytest.raises(WebhookRejected):
        verify(
            secret=SECRET, body=BODY, headers={**signed(), "webhook-signature": token}, now=now()
        )


# --- secrets and the sender side ----------------------------------------------------------


def test_a_minted_secret_is_whsec_and_24_random_bytes_the_library_accepts() -> None:
    secret = secret_mint()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert "=" not in secret  # no padding: the 4-character hint is all signal
    assert secret != secret_mint()
    Webhook(secret).sign("msg", now(), "{}")


def test_sign_headers_make_a_delivery_that_verifies() -> None:
    body = body_of(3.25, "2025-01-31T09:30:00Z")
    headers = sign_headers(secret=SECRET, body=body, webhook_id="msg_cli", now=now())
    assert verify(secret=SECRET, body=body.encode(), headers=headers, now=now()) == "msg_cli"


def test_body_of_refuses_values_json_cannot_carry() -> None:
    with pytest.raises(ValueError):
        body_of(float("nan"))


# --- the body ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"value": 12.5}', Payload(12.5, None)),
        (b'{"value": -3}', Payload(-3.0, None)),
        (b'{"value": 0}', Payload(0.0, None)),
        (b'{"value": 1e300}', Payload(1e300, None)),
        (
            b'{"value": 1, "observed_at": "2025-01-31T09:30:00Z"}',
            Payload(1.0, datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
        ),
        (
            b'{"value": 1, "observed_at": "2025-01-31T11:30:00+02:00"}',
            Payload(1.0, datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
        ),
        (b'{"value": 1, "observed_at": null}', Payload(1.0, None)),
        (
            b'{"value": 1, "source": "ci", "env": {"name": "prod"}}',
            Payload(1.0, None, ignored_fields=("env", "source")),
        ),
    ],
)
def test_a_body_with_a_finite_number_parses(body: bytes, expected: Payload) -> None:
    assert parse_body(body) == expected


def test_unknown_fields_are_ignored_and_named_at_most_20_and_cut_to_100_characters() -> None:
    fields = {f"meta_{n:02}": n for n in range(30)} | {"x" * 300: 1}
    payload = parse_body(json.dumps({"value": 2, **fields}).encode())
    assert payload.value == 2.0
    assert len(payload.ignored_fields) == 20
    assert payload.ignored_fields[0] == "meta_00"
    assert all(len(name) <= 100 for name in payload.ignored_fields)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"unit": "ms", "source": "ci"}', "value is missing"),
        (b'{"value": "12", "source": "ci"}', "not a string"),
        (b'{"value": null, "env": "prod"}', "not null"),
    ],
)
def test_extra_fields_do_not_excuse_a_missing_or_bad_value(body: bytes, says: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_body(body)
    assert caught.value.status == 422
    assert says in caught.value.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "not JSON"),
        (b"value=12.5", "not JSON"),
        (b'{"value": 12.5', "not JSON"),
        (b"[12.5]", "JSON object"),
        (b"12.5", "JSON object"),
        (b'"12.5"', "JSON object"),
        (b"null", "JSON object"),
        (b"{}", "value is missing"),
        (b'{"value": "12.5"}', "not a string"),
        (b'{"value": NaN}', "finite"),
        (b'{"value": Infinity}', "finite"),
        (b'{"value": -Infinity}', "finite"),
        (b'{"value": 1e400}', "finite"),
        (b'{"value": null}', "not null"),
        (b'{"value": true}', "not true or false"),
        (b'{"value": [1]}', "must be a number"),
        (b'{"value": {"n": 1}}', "must be a number"),
        (b'{"value": 1' + b"0" * 400 + b"}", "too large"),
        (b'{"value": 1, "observed_at": "2025-01-31T09:30:00"}', "time zone"),
        (b'{"value": 1, "observed_at": "yesterday"}', "ISO 8601"),
        (b'{"value": 1, "observed_at": 1738315800}', "ISO 8601"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_bad_body_is_a_422_saying_what_is_wrong(body: bytes, says: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_body(body)
    assert caught.value.status == 422
    assert says in caught.value.message


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(), st.lists, max_leaves=5))
def test_any_json_body_parses_or_is_refused_with_a_422(value: object) -> None:
    body = json.dumps({"value": value}).encode()
    try:
        payload = parse_body(body)
    except WebhookRejected as refused:
        assert refused.status == 422
    else:
        assert isinstance(payload.value, float)


# --- binding ---------------------------------------------------------------------------------


def context(kind: str, *, has_secret: bool) -> BindContext:
    return BindContext(
        org_id=1,
        user_id=None,
        kpi_id="k",
        current_kind=kind,
        current_config={},
        has_secret=has_secret,
        now=now(),
    )


@pytest.mark.parametrize(
    ("current", "has_secret"), [("manual", False), ("webhook", False), ("manual", True)]
)
def test_binding_a_webhook_mints_a_secret_shown_once(current: str, has_secret: bool) -> None:
    binding = WebhookConnector().binding_validate(
        {}, context=context(current, has_secret=has_secret)
    )
    assert isinstance(binding.secret, SecretSet)
    assert binding.secret.shown_once
    assert binding.secret.value.startswith("whsec_")
    assert binding.config == {}


def test_saving_a_webhook_again_keeps_its_secret() -> None:
    binding = WebhookConnector().binding_validate({}, context=context("webhook", has_secret=True))
    assert isinstance(binding.secret, SecretKeep)


def test_a_webhook_takes_no_settings() -> None:
    from pulseboard.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        WebhookConnector().binding_validate(
            {"secret": "mine"}, context=context("manual", has_secret=False)
        )
    assert caught.value.errors == {"secret": "is not a setting of this connector"}
