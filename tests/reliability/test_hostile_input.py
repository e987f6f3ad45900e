"""Hostile input: every JSON body, every validating web form, odd headers, paths and sizes.

The rule (DESIGN.md §9): bad input gets a clear 4xx and writes nothing. Each request
here is built to be invalid in exactly one place of an otherwise valid request (one field
of a valid body made hostile), or to be hostile as a whole (random JSON, invalid UTF-8,
10 MB, 10,000 levels of nesting, odd bytes in headers and paths). After every request the
content of every table is compared with a snapshot taken before, except the bookkeeping
that any request may touch: sessions, the rate-limit counters and a token's
``last_used_at``.

Web forms follow Post/Redirect/Get where a form is one button (role change, org switch):
there a refusal is a redirect back with an error message, and that is accepted as long as
nothing was written. Pages that only read (login, password reset, the KPI form's live
suggestion and preview) must never answer 5xx and write nothing. The schema-conformance
side of the API (every documented status and shape) is ``tests/test_schemathesis.py``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import string
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec

import pytest
from django.apps import apps
from django.db import models, transaction
from django.http import HttpResponse
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.factories import PASSWORD, KpiFactory, MembershipFactory

from pulseboard.connectors.registry import CONNECTORS
from pulseboard.connectors.services import source_bind
from pulseboard.core.actors import Actor
from pulseboard.indicators.models import (
    BaselineModeChoice,
    CategoryChoice,
    DirectionChoice,
    DisplayFormatChoice,
    Kpi,
    ShapeChoice,
    UnitTypeChoice,
)
from pulseboard.orgs.models import Membership
from pulseboard.orgs.roles import Role, TokenScope
from pulseboard.orgs.services import token_create
from pulseboard.web.forms import FORMAT_LABELS, UNIT_LABELS

pytestmark = pytest.mark.django_db

EXAMPLES = 40
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any request may touch these; they are not data (sessions, rate-limit windows).
BOOKKEEPING = {"sessions.session", "orgs.apiwritewindow", "orgs.loginfailurewindow"}
IGNORED_COLUMNS = {"orgs.apitoken": {"last_used_at"}}
TEN_MB = 10 * 1024 * 1024
DEPTH = 10_000


# --- the database must not change -----------------------------------------------------------


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every data table, as plain tuples in primary-key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in BOOKKEEPING:
            continue
        skip = IGNORED_COLUMNS.get(label, set())
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        manager: models.Manager[Any] = model._default_manager
        tables[label] = [
            tuple(map(repr, row)) for row in manager.order_by("pk").values_list(*columns)
        ]
    return tables


@contextmanager
def rolled_back() -> Iterator[None]:
    """Each example starts from the same database, so a failing one replays the same way."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


P = ParamSpec("P")


def isolated(check: Callable[P, None]) -> Callable[P, None]:
    """Run one example inside ``rolled_back``."""

    @functools.wraps(check)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with rolled_back():
            check(*args, **kwargs)

    return run


def changed_tables(before: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    after = snapshot()
    return [label for label in before if before[label] != after[label]]


def refused(response: HttpResponse, before: dict[str, list[tuple[Any, ...]]], what: str) -> None:
    assert 400 <= response.status_code < 500, (
        f"{what}: answered {response.status_code}: {response.content[:300]!r}"
    )
    assert changed_tables(before) == [], f"{what}: wrote to the database"


def harmless(response: HttpResponse, before: dict[str, list[tuple[Any, ...]]], what: str) -> None:
    assert response.status_code < 500, f"{what}: answered {response.status_code}"
    assert changed_tables(before) == [], f"{what}: wrote to the database"


# --- the org under attack -------------------------------------------------------------------


@dataclass
class Target:
    admin: Membership
    member: Membership
    kpi: Kpi
    hook: Kpi
    secret: str
    token: str
    browser: Client
    api: Client

    def api_send(self, method: str, path: str, body: bytes, **headers: str) -> HttpResponse:
        return self.api.generic(  # type: ignore[return-value]
            method, "/api/v1" + path, body, content_type="application/json", **headers
        )


@pytest.fixture
def target(db: None, settings: Any) -> Target:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Every request here is a write; the per-token limit would turn them all into 429s.
    settings.PULSEBOARD = {**settings.PULSEBOARD, "API_WRITE_RATE": "1000000/minute"}
    admin = MembershipFactory(role="admin")
    member = MembershipFactory(org=admin.org)
    kpi = KpiFactory(org=admin.org)
    hook = KpiFactory(org=admin.org)
    bound = source_bind(kpi=hook, actor=Actor.system("test"), kind="webhook", config={})
    assert bound.secret is not None
    _, token = token_create(org=admin.org, actor=Actor.system("test"), name="fuzz", scope="admin")
    browser = Client()
    browser.force_login(admin.user)
    return Target(
        admin=admin,
        member=member,
        kpi=kpi,
        hook=hook,
        secret=bound.secret,
        token=token,
        browser=browser,
        api=Client(HTTP_AUTHORIZATION=f"Bearer {token}"),
    )


# --- hostile JSON fragments, by the type a field expects --------------------------------------

HOLE = "__HOSTILE_FRAGMENT__"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", '"NaN"', '"Infinity"']
HUGE = ["1" + "0" * 400, "-" + "9" * 400, "9" * 5000, "1e308" + "0" * 10]
WRONG_SHAPE = ["[]", "{}", "[1, 2]", '{"value": 1}']
NUL_AND_SURROGATE = ['"a\\u0000b"', '"\\ud800"', '"\\udfff tail"']
DEEP = "[" * DEPTH + "]" * DEPTH


def json_text(value: Any) -> str:
    return json.dumps(value)


def fragments(kind: str) -> st.SearchStrategy[str]:
    """Raw JSON text that a field of ``kind`` must refuse."""
    common = st.sampled_from([*WRONG_SHAPE, *NUL_AND_SURROGATE, DEEP[:2000] + DEEP[-2000:]])
    by_kind: dict[str, st.SearchStrategy[str]] = {
        # Strict numbers: any string, boolean, non-finite or out-of-range number is wrong.
        "number": st.one_of(
            st.sampled_from([*NON_FINITE, *HUGE, "true", "false"]),
            st.text(max_size=30).map(json_text),
        ),
        "required_number": st.one_of(
            st.sampled_from([*NON_FINITE, *HUGE, "true", "null"]),
            st.text(max_size=30).map(json_text),
        ),
        "text": st.one_of(
            st.integers().map(str),
            st.floats(allow_nan=False, allow_infinity=False).map(json_text),
            st.sampled_from(["true", json_text("x" * 100_000)]),
        ),
        "bool": st.sampled_from(['"maybe"', "2", "-1", '"NaN"', "1.5", '"yes please"']),
        "int": st.sampled_from(['"1"', "1.5", "-1", str(2**63), "1e3", "true", "9" * 5000]),
        "duration": st.sampled_from(['"forever"', '"-1d"', '"1x"', "12", '"0d"', '"d1"']),
        "datetime": st.sampled_from(
            [
                '"yesterday"',
                '"2020-01-01T00:00:00"',
                '"9999-12-31T23:59:59-01:00"',
                '"2020-13-45T00:00:00Z"',
                '"2999-01-01T00:00:00Z"',
                '"0001-01-01T00:00:00+14:00"',
                "12",
            ]
        ),
        "object": st.sampled_from(['"x"', "1", "null", "true", "[]", "[{}]"]),
    }
    if kind.startswith("enum:"):
        allowed = set(kind[5:].split(","))
        return st.one_of(
            common,
            st.text(max_size=25).filter(lambda text: text not in allowed).map(json_text),
            st.integers().map(str),
        )
    if kind == "object":
        return by_kind[kind]  # an object is what it takes; the common fragments include some
    return st.one_of(common, by_kind[kind])


def enum(values: Iterable[str], *, blank: bool = False) -> str:
    """The kind of a field that takes one of ``values`` (and "" when ``blank``)."""
    return "enum:" + ",".join([*([""] if blank else []), *(str(v) for v in values)])


SHAPES = enum(ShapeChoice.values)
KINDS = enum(CONNECTORS)
KPI_FIELDS = {
    "title": "text",
    "description": "text",
    "shape": SHAPES,
    "threshold": "number",
    "lower": "number",
    "upper": "number",
    "direction": enum(DirectionChoice.values),
    "baseline": "number",
    "baseline_mode": enum(BaselineModeChoice.values),
    "baseline_period": "duration",
    "warn_at": "number",
    "warn_margin": "number",
    "unit_type": enum(UnitTypeChoice.values),
    "unit_label": "text",
    "display_format": enum(DisplayFormatChoice.values),
    "published": "bool",
    "position": "int",
    "category": enum(CategoryChoice.values),
    "expected_every": "duration",
    "compare_period": "duration",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: Callable[[Target], str]
    base: dict[str, Any]
    fields: dict[str, str]


# A trend against the prior period: the one shape that reads every duration field.
TREND = {
    "shape": "trend",
    "direction": "up",
    "baseline_mode": "prior_period",
    "baseline_period": "30d",
}
OPERATIONS = {
    "POST /kpis": Operation("POST", lambda t: "/kpis", {"title": "Fuzzed", **TREND}, KPI_FIELDS),
    "PATCH /kpis/{id}": Operation(
        "PATCH", lambda t: f"/kpis/{t.kpi.pk}", {"title": "Renamed", **TREND}, KPI_FIELDS
    ),
    "PUT /kpis/{id}/value": Operation(
        "PUT", lambda t: f"/kpis/{t.kpi.pk}/value", {"value": 1.5},
        {"value": "required_number", "observed_at": "datetime"},
    ),
    "POST /parse-title": Operation(
        "POST", lambda t: "/parse-title", {"title": "NPS above 35"}, {"title": "text"}
    ),
    "POST /tokens": Operation(
        "POST", lambda t: "/tokens", {"name": "ci", "scope": "read"},
        {"name": "text", "scope": enum(TokenScope)},
    ),
    "PUT /kpis/{id}/source": Operation(
        "PUT", lambda t: f"/kpis/{t.kpi.pk}/source", {"kind": "manual", "config": {}},
        {"kind": KINDS, "config": "object"},
    ),
}  # fmt: skip


def with_fragment(base: dict[str, Any], field: str, fragment: str) -> bytes:
    """``base`` as JSON with ``field`` set to the raw JSON text ``fragment``."""
    text = json.dumps({**base, field: HOLE})
    return text.replace(json.dumps(HOLE), fragment, 1).encode("utf-8", "surrogatepass")


def one_hostile_field(operation: Operation) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.sampled_from(sorted(operation.fields)).flatmap(
        lambda field: fragments(operation.fields[field]).map(
            lambda fragment: (field, with_fragment(operation.base, field, fragment))
        )
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def wrong_bodies(operation: Operation, *, unknown_keys: bool = True) -> st.SearchStrategy[bytes]:
    """Whole bodies of the wrong shape: not an object, unknown keys, not JSON at all.

    ``unknown_keys=False`` for webhooks: senders add metadata, so a valid body with
    extra top-level fields is accepted (they are named in ``ignored_fields``).
    """
    not_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: json.dumps(v).encode()
    )
    extra_keys = (
        st.dictionaries(st.text(max_size=12), json_values, min_size=1, max_size=4)
        .filter(lambda d: not set(d) <= set(operation.fields))
        .map(lambda d: json.dumps({**operation.base, **d}).encode())
    )
    not_json = st.one_of(
        st.binary(max_size=200).filter(lambda raw: not _is_json(raw)),
        st.sampled_from([b"", b"{", b'{"title": ', b"\xef\xbb\xbf[1]", b"{'a': 1}", b"\xff\xfe{}"]),
    )
    if not unknown_keys:
        return st.one_of(not_objects, not_json)
    return st.one_of(not_objects, extra_keys, not_json)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_api_body_with_one_hostile_field_is_refused_and_writes_nothing(
    target: Target, name: str
) -> None:
    operation = OPERATIONS[name]
    path = operation.path(target)
    before = snapshot()

    @FUZZ
    @given(case=one_hostile_field(operation))
    @isolated
    def run(case: tuple[str, bytes]) -> None:
        field, body = case
        response = target.api_send(operation.method, path, body)
        refused(response, before, f"{name} with hostile {field}: {body[:120]!r}")

    run()


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_api_body_of_the_wrong_shape_is_refused_and_writes_nothing(
    target: Target, name: str
) -> None:
    operation = OPERATIONS[name]
    path = operation.path(target)
    before = snapshot()

    @FUZZ
    @given(body=wrong_bodies(operation))
    @isolated
    def run(body: bytes) -> None:
        response = target.api_send(operation.method, path, body)
        refused(response, before, f"{name} with {body[:120]!r}")

    run()


@pytest.mark.parametrize(
    ("label", "body", "status"),
    [
        pytest.param("10 MB", b'{"title": "' + b"x" * TEN_MB + b'"}', 413, id="10MB"),
        pytest.param("deep array", DEEP.encode(), 400, id="deep-array"),
        pytest.param(
            "deep object", ('{"a":' * DEPTH + "1" + "}" * DEPTH).encode(), 400, id="deep-object"
        ),
        pytest.param(
            "deep field",
            with_fragment({"title": "x", "shape": "stay_above", "threshold": 1}, "title", DEEP),
            400,
            id="deep-field",
        ),
        pytest.param("5000-digit number", b'{"threshold": ' + b"9" * 5000 + b"}", 400, id="digits"),
    ],
)
def test_huge_and_deeply_nested_api_bodies_are_refused(
    target: Target, label: str, body: bytes, status: int
) -> None:
    before = snapshot()
    response = target.api_send("POST", "/kpis", body)
    refused(response, before, label)
    assert response.status_code in (status, 422), label
    assert "detail" in json.loads(response.content)


# --- webhooks: signed correctly, hostile inside -----------------------------------------------


def signed(secret: str, body: bytes, webhook_id: str = "msg_fuzz") -> dict[str, str]:
    """Standard Webhooks headers over the raw bytes (the library signs text, not bytes)."""
    timestamp = str(int(datetime.now(UTC).timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "HTTP_WEBHOOK_ID": webhook_id,
        "HTTP_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_WEBHOOK_SIGNATURE": "v1," + base64.b64encode(mac.digest()).decode(),
    }


def webhook_bodies() -> st.SearchStrategy[bytes]:
    base = {"value": 1.5}
    fields = {"value": "required_number", "observed_at": "datetime"}
    operation = Operation("POST", lambda t: "", base, fields)
    return st.one_of(
        one_hostile_field(operation).map(lambda case: case[1]),
        wrong_bodies(operation, unknown_keys=False),
        st.just(DEEP.encode()),
        st.just(b'{"value": 1, "observed_at": "' + b"\xff" * 8 + b'"}'),
    )


def test_signed_webhook_deliveries_with_hostile_bodies_are_refused_and_write_nothing(
    target: Target,
) -> None:
    path = f"/hooks/kpis/{target.hook.pk}"
    client = Client()
    before = snapshot()

    @FUZZ
    @given(body=webhook_bodies())
    @isolated
    def run(body: bytes) -> None:
        response = client.post(
            path, body, content_type="application/json", **signed(target.secret, body)
        )
        refused(response, before, f"webhook body {body[:120]!r}")

    run()
    big = b'{"value": 1, "pad": "' + b"x" * TEN_MB + b'"}'
    response = client.post(path, big, content_type="application/json", **signed(target.secret, big))
    assert response.status_code == 413
    refused(response, before, "10 MB delivery")


# --- odd bytes in headers and paths -------------------------------------------------------------

# WSGI hands header values over as latin-1 text: every byte value can arrive.
odd_header_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=300)


def test_odd_bytes_in_credential_and_signature_headers_are_refused(target: Target) -> None:
    hook_path = f"/hooks/kpis/{target.hook.pk}"
    body = b'{"value": 2}'
    before = snapshot()
    anonymous = Client()

    @FUZZ
    @given(text=odd_header_text, which=st.sampled_from(["id", "timestamp", "signature", "all"]))
    @isolated
    def run(text: str, which: str) -> None:
        response = anonymous.get("/api/v1/kpis", HTTP_AUTHORIZATION="Bearer " + text)
        refused(response, before, f"Authorization: Bearer {text!r}")
        assert response.status_code == 401
        response = anonymous.post(
            "/api/v1/kpis", b"{}", content_type="application/json", HTTP_AUTHORIZATION=text
        )
        refused(response, before, f"Authorization: {text!r}")
        headers = signed(target.secret, body)
        names = ["id", "timestamp", "signature"] if which == "all" else [which]
        for name in names:
            headers[f"HTTP_WEBHOOK_{name.upper()}"] = text
        response = anonymous.post(hook_path, body, content_type="application/json", **headers)
        refused(response, before, f"webhook-{which}: {text!r}")

    run()


def test_odd_bytes_in_other_headers_never_cause_a_server_error_or_a_write(
    target: Target,
) -> None:
    before = snapshot()

    @FUZZ
    @given(
        text=odd_header_text,
        header=st.sampled_from(
            ["HTTP_COOKIE", "HTTP_HOST", "CONTENT_TYPE", "HTTP_X_FORWARDED_PROTO", "HTTP_REFERER",
             "HTTP_ACCEPT_LANGUAGE", "HTTP_HX_REQUEST", "HTTP_USER_AGENT", "CONTENT_LENGTH"]
        ),
        path=st.sampled_from(["/", "/login/", "/api/v1/kpis", "/settings/kpis/", "/readyz"]),
    )  # fmt: skip
    @isolated
    def run(text: str, header: str, path: str) -> None:
        response = target.browser.get(path, **{header: text})
        harmless(response, before, f"{header}: {text!r} on {path}")
        if header == "HTTP_HOST" and text not in ("testserver", "localhost", "127.0.0.1"):
            assert response.status_code == 400, "an unknown Host must be refused"

    run()


def percent_encoded(raw: bytes) -> str:
    return urllib.parse.quote_from_bytes(raw, safe="")


path_segments = st.one_of(
    st.binary(min_size=1, max_size=60).map(percent_encoded),
    st.text(alphabet=string.ascii_letters + "-_", min_size=33, max_size=200),
    st.sampled_from(["%00", "%ff%fe", "%c0%af", "..%2f..%2fetc", "%e2%80%ae", "%F0%9F%92%A9"]),
)


def test_odd_bytes_in_object_ids_of_paths_are_refused_and_write_nothing(target: Target) -> None:
    before = snapshot()
    anonymous = Client()

    @FUZZ
    @given(segment=path_segments)
    @isolated
    def run(segment: str) -> None:
        answers: list[tuple[str, HttpResponse]] = []
        for method, path in (
            ("GET", f"/kpis/{segment}"),
            ("PATCH", f"/kpis/{segment}"),
            ("DELETE", f"/kpis/{segment}"),
            ("PUT", f"/kpis/{segment}/value"),
            ("DELETE", f"/tokens/{segment}"),
        ):
            body = b'{"value": 1, "title": "x"}'
            answers.append((f"{method} /api/v1{path}", target.api_send(method, path, body)))
        for path in (
            f"/kpis/{segment}/",
            f"/kpis/{segment}/history.csv",
            f"/kpis/{segment}/value/",
            f"/settings/kpis/{segment}/edit/",
            f"/settings/kpis/{segment}/source/",
            f"/settings/kpis/{segment}/delete/",
            f"/settings/tokens/{segment}/revoke/",
            f"/settings/members/invites/{segment}/revoke/",
            f"/profile/connections/{segment}/disconnect/",
            f"/invite/{segment}/",
        ):
            answers.append((f"GET {path}", target.browser.get(path)))
            answers.append((f"POST {path}", target.browser.post(path, {"title": "x"})))
        hook = f"/hooks/kpis/{segment}"
        answers.append((f"POST {hook}", anonymous.post(hook, b'{"value": 1}', "application/json")))
        for what, response in answers:
            assert 400 <= response.status_code < 500, f"{what}: {response.status_code}"
        assert changed_tables(before) == [], f"a request with {segment!r} wrote"

    run()


# --- web forms (admin session) ------------------------------------------------------------------


def form_fragments(kind: str) -> st.SearchStrategy[str]:
    """Form text that a field of ``kind`` must refuse."""
    nul = st.text(max_size=10).map(lambda t: t + "\x00" + t)
    by_kind: dict[str, st.SearchStrategy[str]] = {
        "number": st.one_of(
            st.sampled_from(["NaN", "nan", "inf", "-Infinity", "1e999", "abc", "1,5,5", "0x10"]),
            st.text(alphabet=string.ascii_letters + "%$#!", min_size=1, max_size=20),
            nul,
        ),
        "required_text": st.one_of(st.sampled_from(["", "   ", "x" * 5000]), nul),
        "email": st.one_of(st.sampled_from(["nobody", "a@", "@b", "a b@c.d", "x" * 300]), nul),
        "duration": st.sampled_from(["forever", "-1d", "1x", "d1", "\x00"]),
    }
    if kind.startswith("enum:"):
        # A blank choice means "the default" on these forms; anything else must be a choice.
        allowed = set(kind[5:].split(","))
        chosen = st.text(min_size=1, max_size=25).filter(lambda t: t.strip() and t not in allowed)
        return st.one_of(chosen, nul)
    return by_kind[kind]


KPI_FORM = {
    "title": "Fuzzed",
    "shape": "stay_above",
    "threshold": "1",
    "baseline_mode": "fixed",
    "unit_type": "number",
    "display_format": "decimal_1",
    "compare_period": "7d",
}
KPI_FORM_FIELDS = {
    "title": "required_text",
    "shape": SHAPES,
    "threshold": "number",
    "warn_at": "number",
    "lower": "number",
    "upper": "number",
    "baseline": "number",
    "direction": enum(DirectionChoice.values, blank=True),
    "baseline_mode": enum(BaselineModeChoice.values),
    "unit_type": enum(UNIT_LABELS),
    "display_format": enum(FORMAT_LABELS),
    "category": enum(CategoryChoice.values, blank=True),
    "compare_period": "duration",
    "expected_every": "duration",
}
HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass(frozen=True)
class WebForm:
    path: Callable[[Target], str]
    base: dict[str, str]
    fields: dict[str, str]
    headers: dict[str, str]
    redirect_back: bool = False  # Post/Redirect/Get with an error message


WEB_FORMS = {
    "kpi create": WebForm(lambda t: "/settings/kpis/new/", KPI_FORM, KPI_FORM_FIELDS, {}),
    "kpi edit": WebForm(
        lambda t: f"/settings/kpis/{t.kpi.pk}/edit/", KPI_FORM, KPI_FORM_FIELDS, {}
    ),
    "inline value": WebForm(
        lambda t: f"/kpis/{t.kpi.pk}/value/", {"value": "12"}, {"value": "number"}, HTMX
    ),
    "source bind": WebForm(
        lambda t: f"/settings/kpis/{t.kpi.pk}/source/", {"kind": "manual"},
        {"kind": KINDS}, {},
    ),
    "member invite": WebForm(
        lambda t: "/settings/members/invite/", {"email": "new@example.com", "role": "member"},
        {"email": "email", "role": enum(Role)}, {},
    ),
    "member role": WebForm(
        lambda t: f"/settings/members/{t.member.pk}/role/", {"role": "admin"},
        {"role": enum(Role)}, {}, redirect_back=True,
    ),
    "token create": WebForm(
        lambda t: "/settings/tokens/new/", {"name": "ci", "scope": "read"},
        {"name": "required_text", "scope": enum(TokenScope)}, {},
    ),
    "org switch": WebForm(
        lambda t: "/org/switch/", {"org_id": "1"}, {"org_id": "number"}, {}, redirect_back=True
    ),
}  # fmt: skip


def hostile_form(form: WebForm) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    return st.sampled_from(sorted(form.fields)).flatmap(
        lambda field: form_fragments(form.fields[field]).map(
            lambda text: (field, {**form.base, field: text})
        )
    )


@pytest.mark.parametrize("name", sorted(WEB_FORMS))
def test_each_web_form_with_one_hostile_field_is_refused_and_writes_nothing(
    target: Target, name: str
) -> None:
    form = WEB_FORMS[name]
    path = form.path(target)
    before = snapshot()

    @FUZZ
    @given(case=hostile_form(form))
    @isolated
    def run(case: tuple[str, dict[str, str]]) -> None:
        field, data = case
        response = target.browser.post(path, data, **form.headers)
        what = f"{name} with hostile {field}={data[field][:80]!r}"
        if form.redirect_back and response.status_code == 302:
            harmless(response, before, what)
        else:
            refused(response, before, what)

    run()


HTTPS_URLS = [
    "http://example.com/metrics",
    "ftp://example.com/x",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "https://user:pass@example.com/x",
    "https://localhost/x",
    "https://metrics.internal/x",
    "https://printer.local/x",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://127.0.0.1/x",
    "https://10.0.0.8/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://0x7f.1/x",
    "https://2130706433/x",
    "https://\x00/x",
    "",
    "https://" + "a" * 3000 + ".com/",
]


@pytest.mark.parametrize("url", HTTPS_URLS)
def test_hostile_https_get_urls_are_refused_on_save_from_form_and_api(
    target: Target, url: str
) -> None:
    before = snapshot()
    response = target.browser.post(
        f"/settings/kpis/{target.kpi.pk}/source/",
        {"kind": "https_get", "https_get-url": url, "https_get-json_path": "$.value"},
    )
    refused(response, before, f"form url {url[:60]!r}")
    body = json.dumps({"kind": "https_get", "config": {"url": url, "json_path": "$.value"}})
    response = target.api_send("PUT", f"/kpis/{target.kpi.pk}/source", body.encode())
    refused(response, before, f"api url {url[:60]!r}")


@pytest.mark.parametrize(
    "name", ["/settings/kpis/new/", "/settings/tokens/new/", "/settings/members/invite/"]
)
def test_a_10_mb_form_post_is_refused(target: Target, name: str) -> None:
    before = snapshot()
    response = target.browser.post(name, {"title": "x" * TEN_MB, "name": "y", "email": "z"})
    refused(response, before, f"10 MB form to {name}")


def test_read_only_forms_never_fail_or_write_whatever_they_are_sent(target: Target) -> None:
    before = snapshot()
    anonymous = Client()
    text = st.text(max_size=200)

    @FUZZ
    @given(
        path=st.sampled_from(["/settings/kpis/suggest/", "/settings/kpis/preview/"]),
        data=st.dictionaries(st.sampled_from([*KPI_FORM_FIELDS, "preview_value"]), text),
    )
    @isolated
    def run(path: str, data: dict[str, str]) -> None:
        harmless(target.browser.post(path, data), before, f"{path} {data!r}")

    run()

    @FUZZ
    @given(email=text, password=text)
    @isolated
    def login(email: str, password: str) -> None:
        response = anonymous.post("/login/", {"username": email, "password": password})
        harmless(response, before, f"login {email!r}")
        response = anonymous.post("/password-reset/", {"email": email})
        harmless(response, before, f"password reset {email!r}")

    login()
    # The real password still works from another address: guessing locked only the pair.
    assert Client(REMOTE_ADDR="198.51.100.1").login(
        username=target.admin.user.email, password=PASSWORD
    )


def test_snapshot_sees_a_write(target: Target) -> None:
    """The guard itself: a real write shows up as a changed table."""
    before = snapshot()
    response = target.api_send("PUT", f"/kpis/{target.kpi.pk}/value", b'{"value": 3}')
    assert response.status_code == 200
    assert "history.kpihistory" in changed_tables(before)
