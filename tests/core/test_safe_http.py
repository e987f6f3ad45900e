"""SSRF rules and the safe outbound client, against real TLS servers on 127.0.0.1/127.0.0.2.

No client is patched: names are answered by an injected resolver, servers are started
by the tests with trustme certificates, and "no socket opened" is proven by trap
listeners that count every accepted connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.core.safe_http import (
    FetchError,
    SafeFetchPolicy,
    SafeSession,
    UnsafeURLError,
    address_is_public,
    check_url,
    parse_allowed_cidrs,
    validate_url,
    validate_url_sync,
)

LOOPBACK_ONLY = (ipaddress.IPv4Network("127.0.0.1/32"),)
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


# --- resolvers and servers the tests control -------------------------------------------


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return {
        "hostname": host,
        "host": address,
        "port": port,
        "family": family,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST,
    }


class ScriptedResolver(AbstractResolver):
    """Answers from a script and records every lookup; never touches real DNS.

    ``answers[name]`` is a list of answers, one per lookup (the last one repeats); each
    answer is a list of (address, port) pairs, or an OSError to raise.
    """

    def __init__(self, answers: dict[str, list[list[tuple[str, int]] | OSError]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        script = self.answers.get(host)
        if not script:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = script[min(len(self.calls_for(host)) - 1, len(script) - 1)]
        if isinstance(answer, OSError):
            raise answer
        return [_result(host, address, answer_port or port) for address, answer_port in answer]

    def calls_for(self, host: str) -> list[str]:
        return [call for call in self.calls if call == host]

    async def close(self) -> None:
        return None


def resolver_for(names: dict[str, Sequence[str]] | None = None) -> ScriptedResolver:
    """A resolver giving each name one fixed answer (port taken from the URL)."""
    return ScriptedResolver(
        {
            name: [[(address, 0) for address in addresses]]
            for name, addresses in (names or {}).items()
        }
    )


@dataclass
class Trap:
    """A TCP listener that only counts connections: it must stay at zero."""

    host: str
    port: int = 0
    connections: int = 0


@contextlib.asynccontextmanager
async def trap(host: str = "127.0.0.2") -> AsyncIterator[Trap]:
    record = Trap(host)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record.connections += 1
        writer.close()

    server = await asyncio.start_server(on_connect, host, 0)
    record.port = server.sockets[0].getsockname()[1]
    try:
        yield record
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Seen:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


@dataclass(frozen=True)
class Certificates:
    ca_path: str
    server: ssl.SSLContext
    untrusted: ssl.SSLContext


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    ca = trustme.CA()
    ca_path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(
        "pulse.test", "other.test", "rebind.test", "127.0.0.1", "127.0.0.2"
    ).configure_cert(server)
    untrusted = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("pulse.test", "127.0.0.1").configure_cert(untrusted)
    return Certificates(ca_path=str(ca_path), server=server, untrusted=untrusted)


def policy_for(certificates: Certificates, **overrides: Any) -> SafeFetchPolicy:
    values: dict[str, Any] = {
        "allow_private": LOOPBACK_ONLY,
        "ca_bundle": certificates.ca_path,
        "total_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    values.update(overrides)
    return SafeFetchPolicy(**values)


async def _handle(request: web.Request, seen: Seen, stop: asyncio.Event) -> web.StreamResponse:
    seen.requests.append(
        {
            "host": request.host,
            "path": request.path,
            "query": request.query_string,
            "authorization": request.headers.get("Authorization"),
            "user_agent": request.headers.get("User-Agent"),
        }
    )
    path = request.path
    if path == "/ok":
        return web.json_response({"value": 12.5})
    if path.startswith("/status/"):
        return web.Response(status=int(path.rsplit("/", 1)[1]), text="nope")
    if path == "/sleep":
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 10)
        return web.Response(text="late")
    if path == "/slow-body":
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        await response.write(b'{"value": ')
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 10)
        return response
    if path == "/sized":
        return web.Response(body=b"x" * int(request.query["size"]))
    if path == "/chunked":
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.query["chunks"])):
            await response.write(b"y" * 1000)
        await response.write_eof()
        return response
    if path == "/redirect":
        raise web.HTTPFound(request.query["to"])
    if path == "/loop":
        raise web.HTTPFound("/loop")
    return web.Response(status=404)


@contextlib.asynccontextmanager
async def https_server(context: ssl.SSLContext, host: str = "127.0.0.1") -> AsyncIterator[Seen]:
    seen = Seen()
    stop = asyncio.Event()
    context.sni_callback = lambda _socket, name, _context: seen.sni.append(name)  # type: ignore[assignment]

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _handle(request, seen, stop)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=context)
    await site.start()
    seen.port = runner.addresses[0][1]
    try:
        yield seen
    finally:
        stop.set()
        await runner.cleanup()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


# --- static refusals -------------------------------------------------------------------

HOSTILE_URLS: list[tuple[str, str]] = [
    ("http://example.com/", "only https"),
    ("HTTP://example.com/", "only https"),
    ("ftp://example.com/", "only https"),
    ("file:///etc/passwd", "only https"),
    ("gopher://127.0.0.1:6379/_INFO", "only https"),
    ("javascript:alert(1)", "only https"),
    ("//example.com/x", "only https"),
    ("https://user:pw@example.com/", "user name or password"),
    ("https://user@example.com/", "user name or password"),
    ("https://@example.com/", "user name or password"),
    ("https://example.com@127.0.0.1/", "user name or password"),
    ("https:///path", "no host"),
    ("https://localhost/", "reserved name"),
    ("https://localhost./", "reserved name"),
    ("https://LOCALHOST/", "reserved name"),
    ("https://api.localhost/", "reserved name"),
    ("https://printer.local/", "reserved name"),
    ("https://foo.internal/", "reserved name"),
    ("https://metadata.google.internal/computeMetadata/v1/", "reserved name"),
    ("https://metadata/", "reserved name"),
    ("https://instance-data/", "reserved name"),
    ("https://instance-data.ec2.internal/", "reserved name"),
    ("https://router.lan/", "reserved name"),
    ("https://nas.home.arpa/", "reserved name"),
    ("https://1.0.0.127.in-addr.arpa/", "reserved name"),
    ("https://hidden.onion/", "reserved name"),
    ("https://kubernetes.default.svc/", "reserved name"),
    ("https://db.svc.cluster.local/", "reserved name"),
    ("https://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3/", "reserved name"),
    ("https://wiki/", "not a fully qualified domain name"),
    ("https://127.0.0.1/", "127.0.0.1 is not a public address (loopback)"),
    ("https://127.0.0.1./", "127.0.0.1 is not a public address (loopback)"),
    ("https://127.255.255.254/", "loopback"),
    ("https://0/", "0.0.0.0"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://2130706433/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://017700000001/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://0x7f000001/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://0x7f.1/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://0177.0.0.1/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://127.1/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://127.0.1/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://0x7f.0x0.0x0.0x1/", "127.0.0.1, which is not a public address (loopback)"),
    ("https://127\u30020\u30020\u30021/", "127.0.0.1 is not a public address (loopback)"),
    ("https://1572395042/", "non-canonical form of 93.184.216.34"),
    ("https://10.0.0.1/", "(private)"),
    ("https://172.16.5.4/", "(private)"),
    ("https://192.168.1.1/", "(private)"),
    ("https://100.64.0.1/", "CGNAT"),
    (
        "https://169.254.169.254/latest/meta-data/",
        "169.254.169.254 is not a public address (link-local",
    ),
    ("https://100.100.100.200/", "cloud metadata"),
    ("https://192.0.0.192/", "cloud metadata"),
    ("https://192.0.2.10/", "documentation"),
    ("https://198.51.100.7/", "documentation"),
    ("https://203.0.113.9/", "documentation"),
    ("https://198.18.0.1/", "benchmarking"),
    ("https://224.0.0.1/", "multicast"),
    ("https://240.0.0.1/", "reserved"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://0.1.2.3/", "0.0.0.0/8"),
    ("https://[::1]/", "loopback"),
    ("https://[::]/", "unspecified"),
    ("https://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, loopback"),
    ("https://[::ffff:7f00:1]:8443/", "IPv4-mapped form of 127.0.0.1, loopback"),
    ("https://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254, link-local"),
    ("https://[64:ff9b::a9fe:a9fe]/", "NAT64 form of 169.254.169.254, link-local"),
    ("https://[64:ff9b::10.0.0.1]/", "NAT64 form of 10.0.0.1, private"),
    ("https://[64:ff9b:1::1]/", "local-use NAT64"),
    ("https://[2002:7f00:1::]/", "6to4 form of 127.0.0.1, loopback"),
    ("https://[2002:c0a8:101::1]/", "6to4 form of 192.168.1.1, private"),
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("https://[::127.0.0.1]/", "IPv4-compatible form of 127.0.0.1"),
    ("https://[::ffff:0:127.0.0.1]/", "IPv4-translated"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fe80::1%25eth0]/", "link-local"),
    ("https://[fc00::1]/", "unique-local"),
    ("https://[fd00:ec2::254]/", "unique-local"),
    ("https://[fec0::1]/", "site-local"),
    ("https://[ff02::1]/", "multicast"),
    ("https://[2001:db8::1]/", "documentation"),
    ("https://[2001:2::1]/", "benchmarking"),
    ("https://[100::1]/", "discard-only"),
    ("https://[4000::1]/", "outside global unicast"),
    ("https://example.com./", "must not end with a dot"),
    ("https://example.com:0/", "port 0"),
    ("https://example.com:99999/", "not a valid URL"),
    ("https://exa mple.com/", "spaces or control characters"),
    ("https://exa\tmple.com/", "spaces or control characters"),
    ("https://example.com\x00.evil.com/", "spaces or control characters"),
    ("https://%6c%6fcalhost/", "not allowed in a host name"),
    ("https://evil.com\\@127.0.0.1/", "not a valid URL"),
    ("https://[::1/", "not a valid URL"),
    ("https://a..b.com/", "not a valid domain name"),
    ("https://-bad.com/", "not a valid domain name"),
    ("https://1.2.3.4.5/", "neither a valid IPv4 address nor a domain name"),
    ("https://256.0.0.1/", "neither a valid IPv4 address nor a domain name"),
    ("https://example.123/", "neither a valid IPv4 address nor a domain name"),
    ("", "empty"),
    ("https://" + "a" * 2100 + ".com/", "longer than 2048"),
]


def test_the_hostile_table_is_large() -> None:
    assert len(HOSTILE_URLS) >= 60


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS)
def test_check_url_refuses_hostile_urls_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        check_url(url)
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS)
def test_validate_url_refuses_hostile_urls_before_any_lookup(url: str, reason: str) -> None:
    resolver = resolver_for()

    async def scenario() -> None:
        with pytest.raises(UnsafeURLError) as info:
            await validate_url(url, SafeFetchPolicy(), resolver)
        assert reason in info.value.reason

    run(scenario)
    assert resolver.calls == []


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS)
def test_safe_session_refuses_hostile_urls_before_any_socket_opens(url: str, reason: str) -> None:
    async def scenario() -> None:
        async with trap("127.0.0.1") as listener:
            # Every name this resolver knows points at the trap: a connection would count.
            resolver = ScriptedResolver(
                {
                    host: [[("127.0.0.1", listener.port)]]
                    for host in ("example.com", "exa.mple.com", "wiki", "a..b.com")
                }
            )
            async with SafeSession(SafeFetchPolicy(), resolver=resolver) as session:
                with pytest.raises(UnsafeURLError) as info:
                    await session.get(url)
            assert reason in info.value.reason
            assert listener.connections == 0
            assert resolver.calls == []

    run(scenario)


RESOLVES_TO_NON_PUBLIC: list[tuple[list[str], str]] = [
    (["127.0.0.1"], "resolves to 127.0.0.1, not a public address (loopback)"),
    ([PUBLIC_V4, "10.0.0.5"], "resolves to 10.0.0.5, not a public address (private)"),
    (["10.0.0.5", PUBLIC_V4], "10.0.0.5"),
    ([PUBLIC_V4, "::1"], "::1, not a public address (loopback)"),
    ([PUBLIC_V6, "fd12::1"], "unique-local"),
    (["169.254.169.254"], "link-local"),
    (["::ffff:10.0.0.1"], "IPv4-mapped form of 10.0.0.1, private"),
    (["100.64.1.1"], "CGNAT"),
    (["0.0.0.0"], "unspecified"),
    (["fe80::1%eth0"], "link-local"),
    ([], "has no addresses"),
    (["not-an-address"], "not an address"),
]


@pytest.mark.parametrize(("addresses", "reason"), RESOLVES_TO_NON_PUBLIC)
def test_validate_url_refuses_a_name_if_any_address_is_not_public(
    addresses: list[str], reason: str
) -> None:
    resolver = ScriptedResolver({"status.example.com": [[(a, 443) for a in addresses]]})
    with pytest.raises(UnsafeURLError) as info:
        validate_url_sync("https://status.example.com/health", SafeFetchPolicy(), resolver)
    assert reason in info.value.reason
    assert resolver.calls == ["status.example.com"]


def test_validate_url_refuses_a_wildcard_dns_name_that_points_home() -> None:
    resolver = resolver_for({"127.0.0.1.nip.io": ["127.0.0.1"]})
    with pytest.raises(UnsafeURLError, match="loopback"):
        validate_url_sync("https://127.0.0.1.nip.io/", SafeFetchPolicy(), resolver)


def test_validate_url_reports_a_name_that_does_not_resolve() -> None:
    resolver = resolver_for()
    with pytest.raises(UnsafeURLError, match=r"'nowhere\.example\.com' could not be resolved"):
        validate_url_sync("https://nowhere.example.com/", SafeFetchPolicy(), resolver)


# --- accepted URLs (validated only, nothing fetched) ------------------------------------


def test_validate_url_accepts_a_public_ip_literal_without_a_lookup() -> None:
    resolver = resolver_for()
    assert validate_url_sync(f"https://{PUBLIC_V4}/x", SafeFetchPolicy(), resolver) == [PUBLIC_V4]
    assert validate_url_sync(f"https://[{PUBLIC_V6}]/x", SafeFetchPolicy(), resolver) == [PUBLIC_V6]
    assert resolver.calls == []


def test_validate_url_accepts_a_name_whose_every_address_is_public() -> None:
    resolver = ScriptedResolver(
        {"status.example.com": [[(PUBLIC_V4, 443), (PUBLIC_V6, 443), (PUBLIC_V4, 443)]]}
    )
    addresses = validate_url_sync(
        "https://Status.Example.com/health?token=x#frag", SafeFetchPolicy(), resolver
    )
    assert addresses == [PUBLIC_V4, PUBLIC_V6]


def test_validate_url_sync_works_inside_a_running_event_loop() -> None:
    resolver = resolver_for({"status.example.com": [PUBLIC_V4]})

    async def scenario() -> None:
        result = validate_url_sync("https://status.example.com/", SafeFetchPolicy(), resolver)
        assert result == [PUBLIC_V4]

    run(scenario)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{PUBLIC_V4}/x",
        "https://status.example.com/v1/metrics?id=3",
        "https://EXAMPLE.com:8443/",
        "https://xn--r8jz45g.jp/",
        "https://\u4f8b\u3048.jp/",
        "https://sub_domain.example.com/",
        f"https://[::ffff:{PUBLIC_V4}]/",
        "https://[64:ff9b::808:808]/",
    ],
)
def test_check_url_accepts_ordinary_public_urls(url: str) -> None:
    checked = check_url(url)
    assert checked.url.scheme == "https"
    assert checked.url.fragment == ""


def test_check_url_keeps_the_port_and_normalises_the_host() -> None:
    checked = check_url("https://Status.Example.COM:8443/a?b=1#c")
    assert (checked.host, checked.port, checked.ip) == ("status.example.com", 8443, None)
    assert str(checked.url) == "https://status.example.com:8443/a?b=1"


def test_check_url_lets_an_allowed_private_network_through() -> None:
    policy = SafeFetchPolicy(allow_private=LOOPBACK_ONLY)
    assert check_url("https://127.0.0.1:8443/", policy).ip == ipaddress.IPv4Address("127.0.0.1")
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.2"):
        check_url("https://127.0.0.2/", policy)


# --- addresses and policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC_V4, True),
        ("1.1.1.1", True),
        (PUBLIC_V6, True),
        ("2001:4860:4860::8888", True),
        (f"::ffff:{PUBLIC_V4}", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("127.0.0.1", False),
        ("172.31.255.255", False),
        ("172.32.0.1", True),
        ("100.63.255.255", True),
        ("100.128.0.0", True),
        ("198.20.0.1", True),
        ("::8.8.8.8", False),
        ("3fff::1", False),
        ("not an address", False),
    ],
)
def test_address_is_public_classifies_addresses(address: str, public: bool) -> None:
    assert address_is_public(address, SafeFetchPolicy())[0] is public


def test_address_is_public_honours_the_allowed_private_networks() -> None:
    policy = SafeFetchPolicy(allow_private=parse_allowed_cidrs("127.0.0.1/32, 10.0.0.0/8"))
    assert address_is_public("127.0.0.1", policy) == (True, "inside allowed network 127.0.0.1/32")
    assert address_is_public("10.2.3.4", policy)[0] is True
    assert address_is_public("::ffff:127.0.0.1", policy)[0] is True
    assert address_is_public("127.0.0.2", policy) == (False, "loopback")
    assert address_is_public("169.254.169.254", policy)[0] is False


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_numeric_spelling_of_an_ipv4_address_is_refused(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    for spelling in (str(value), hex(value), f"0{value:o}"):
        with pytest.raises(UnsafeURLError, match=str(address).replace(".", r"\.")):
            check_url(f"https://{spelling}/")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_a_dotted_quad_is_accepted_exactly_when_the_address_is_public(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    public, _ = address_is_public(address, SafeFetchPolicy())
    try:
        check_url(f"https://{address}/")
    except UnsafeURLError:
        assert not public
    else:
        assert public
        assert address_is_public(ipaddress.IPv6Address(f"::ffff:{address}"), SafeFetchPolicy())[0]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv6_forms_of_a_non_public_ipv4_address_are_refused(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    if address_is_public(address, SafeFetchPolicy())[0]:
        return
    for form in (
        f"::ffff:{address}",
        f"64:ff9b::{address}",
        f"2002:{value >> 16:x}:{value & 0xFFFF:x}::1",
    ):
        assert address_is_public(form, SafeFetchPolicy())[0] is False


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_check_url_raises_nothing_but_unsafe_url_error(text: str) -> None:
    for candidate in (text, "https://" + text):
        with contextlib.suppress(UnsafeURLError):
            check_url(candidate)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("  ", ()),
        ("127.0.0.1/32", (ipaddress.IPv4Network("127.0.0.1/32"),)),
        ("127.0.0.1", (ipaddress.IPv4Network("127.0.0.1/32"),)),
        (
            "127.0.0.1/32, 10.0.0.0/8",
            (ipaddress.IPv4Network("127.0.0.1/32"), ipaddress.IPv4Network("10.0.0.0/8")),
        ),
        ("::1/128 fd00::/8", (ipaddress.IPv6Network("::1/128"), ipaddress.IPv6Network("fd00::/8"))),
    ],
)
def test_parse_allowed_cidrs_reads_a_list_of_networks(text: str, expected: tuple[Any, ...]) -> None:
    assert parse_allowed_cidrs(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.1/8", "nope", "10.0.0.0/33", "127.0.0.1/32,,x"])
def test_parse_allowed_cidrs_refuses_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="not a network in CIDR form"):
        parse_allowed_cidrs(text)


def test_policy_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        SafeFetchPolicy(max_bytes=0)
    with pytest.raises(ValueError, match="timeouts"):
        SafeFetchPolicy(total_timeout=0)


def test_an_unreadable_ca_bundle_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot load the CA bundle"):
        SafeSession(SafeFetchPolicy(ca_bundle=str(tmp_path / "missing.pem")))


# --- real HTTPS fetches -----------------------------------------------------------------


def pulse_resolver(port: int, address: str = "127.0.0.1") -> ScriptedResolver:
    return ScriptedResolver(
        {
            "pulse.test": [[(address, port)]],
            "other.test": [[(address, port)]],
        }
    )


def test_get_fetches_through_the_validated_address_with_the_real_host_and_sni(
    certificates: Certificates,
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            policy = policy_for(certificates)
            async with SafeSession(policy, resolver=resolver) as session:
                result = await session.get(
                    f"https://pulse.test:{seen.port}/ok?token=abc",
                    headers={"Authorization": "Bearer s3cret"},
                )
        assert result.status == 200
        assert result.content_type == "application/json"
        assert result.body == b'{"value": 12.5}'
        assert result.url == f"https://pulse.test:{seen.port}/ok?token=abc"
        assert seen.requests == [
            {
                "host": f"pulse.test:{seen.port}",
                "path": "/ok",
                "query": "token=abc",
                "authorization": "Bearer s3cret",
                "user_agent": "Pulseboard",
            }
        ]
        assert seen.sni == ["pulse.test"]
        assert resolver.calls == ["pulse.test"]

    run(scenario)


def test_get_reuses_one_session_for_many_concurrent_fetches(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port), limit=5) as session:
                url = f"https://pulse.test:{seen.port}/ok"
                results = await asyncio.gather(*(session.get(url) for _ in range(30)))
        assert {result.status for result in results} == {200}
        assert len(seen.requests) == 30

    run(scenario)


def test_get_reaches_an_allowed_ip_literal_without_a_lookup(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                result = await session.get(f"https://127.0.0.1:{seen.port}/ok")
        assert result.status == 200
        assert resolver.calls == []

    run(scenario)


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
def test_a_non_2xx_answer_is_a_fetch_error_naming_status_and_host(
    certificates: Certificates, status: int
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                with pytest.raises(FetchError) as info:
                    await session.get(f"https://pulse.test:{seen.port}/status/{status}?key=secret")
        assert str(info.value) == f"HTTP {status} from pulse.test"

    run(scenario)


@pytest.mark.parametrize("path", ["/sleep", "/slow-body"])
def test_a_slow_server_is_cut_off_at_the_total_timeout(
    certificates: Certificates, path: str
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates, total_timeout=0.5)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port)) as session:
                with pytest.raises(FetchError) as info:
                    await session.get(f"https://pulse.test:{seen.port}{path}?key=secret")
        assert str(info.value) == "timed out after 0.5 s"

    run(scenario)


@pytest.mark.parametrize("path", ["/sized?size=1001", "/sized?size=50000", "/chunked?chunks=3"])
def test_a_body_over_the_cap_is_refused(certificates: Certificates, path: str) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates, max_bytes=1000)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port)) as session:
                with pytest.raises(FetchError) as info:
                    await session.get(f"https://pulse.test:{seen.port}{path}")
        assert str(info.value) == "response larger than 1000 bytes"

    run(scenario)


def test_a_body_at_the_cap_is_accepted(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates, max_bytes=1000)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port)) as session:
                sized = await session.get(f"https://pulse.test:{seen.port}/sized?size=1000")
                chunked = await session.get(f"https://pulse.test:{seen.port}/chunked?chunks=1")
        assert len(sized.body) == 1000
        assert len(chunked.body) == 1000

    run(scenario)


def test_the_default_cap_reads_as_one_mebibyte(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port)) as session:
                with pytest.raises(FetchError, match=r"^response larger than 1 MiB$"):
                    await session.get(f"https://pulse.test:{seen.port}/sized?size=1048577")

    run(scenario)


def test_a_redirect_to_an_allowed_target_is_followed(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                absolute = await session.get(
                    f"https://pulse.test:{seen.port}/redirect?to=https://other.test:{seen.port}/ok"
                )
                relative = await session.get(f"https://pulse.test:{seen.port}/redirect?to=/ok")
        assert absolute.url == f"https://other.test:{seen.port}/ok"
        assert relative.url == f"https://pulse.test:{seen.port}/ok"
        assert [r["path"] for r in seen.requests] == ["/redirect", "/ok", "/redirect", "/ok"]

    run(scenario)


def test_a_redirect_to_another_origin_does_not_carry_the_bearer_token(
    certificates: Certificates,
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                auth = {"Authorization": "Bearer s3cret"}
                await session.get(f"https://pulse.test:{seen.port}/redirect?to=/ok", headers=auth)
                await session.get(
                    f"https://pulse.test:{seen.port}/redirect?to=https://other.test:{seen.port}/ok",
                    headers=auth,
                )
        sent = [(r["host"].split(":")[0], r["authorization"]) for r in seen.requests]
        assert sent == [
            ("pulse.test", "Bearer s3cret"),
            ("pulse.test", "Bearer s3cret"),
            ("pulse.test", "Bearer s3cret"),
            ("other.test", None),
        ]

    run(scenario)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("https://127.0.0.2:{trap}/", "127.0.0.2 is not a public address (loopback)"),
        ("https://evil.test:{trap}/", "resolves to 127.0.0.2"),
        ("http://pulse.test:{port}/ok", "only https"),
        ("https://localhost:{trap}/", "reserved name"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://user:pw@pulse.test:{port}/ok", "user name or password"),
    ],
)
def test_a_redirect_to_a_refused_target_is_refused_before_connecting(
    certificates: Certificates, target: str, reason: str
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen, trap("127.0.0.2") as listener:
            resolver = pulse_resolver(seen.port)
            resolver.answers["evil.test"] = [[("127.0.0.2", listener.port)]]
            location = target.format(trap=listener.port, port=seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                with pytest.raises(UnsafeURLError) as info:
                    await session.get(f"https://pulse.test:{seen.port}/redirect?to={location}")
        assert info.value.reason.startswith("redirect refused: ")
        assert reason in info.value.reason
        assert listener.connections == 0
        assert [r["path"] for r in seen.requests] == ["/redirect"]

    run(scenario)


def test_redirects_stop_after_the_limit(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                with pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
                    await session.get(f"https://pulse.test:{seen.port}/loop")
        assert len(seen.requests) == 4

    run(scenario)


def test_redirects_are_refused_when_the_limit_is_zero(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates, max_redirects=0)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port)) as session:
                with pytest.raises(FetchError, match="redirects are not followed"):
                    await session.get(f"https://pulse.test:{seen.port}/redirect?to=/ok")
        assert len(seen.requests) == 1

    run(scenario)


def test_an_untrusted_certificate_is_a_tls_error(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.untrusted) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                with pytest.raises(FetchError) as info:
                    await session.get(f"https://pulse.test:{seen.port}/ok")
        assert str(info.value).startswith("TLS error: ")
        assert "certificate" in str(info.value)
        assert seen.requests == []

    run(scenario)


def test_a_certificate_for_another_name_is_a_tls_error(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = ScriptedResolver({"wrong.test": [[("127.0.0.1", seen.port)]]})
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                with pytest.raises(FetchError) as info:
                    await session.get(f"https://wrong.test:{seen.port}/ok")
        assert str(info.value).startswith("TLS error: ")
        assert "wrong.test" in str(info.value)
        assert seen.requests == []

    run(scenario)


def test_without_the_extra_ca_the_test_certificate_is_not_trusted(
    certificates: Certificates,
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            policy = policy_for(certificates, ca_bundle=None)
            async with SafeSession(policy, resolver=pulse_resolver(seen.port)) as session:
                with pytest.raises(FetchError, match=r"^TLS error: "):
                    await session.get(f"https://pulse.test:{seen.port}/ok")

    run(scenario)


def test_a_closed_port_is_a_readable_connect_error(certificates: Certificates) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        async with SafeSession(policy_for(certificates), resolver=pulse_resolver(port)) as session:
            with pytest.raises(FetchError) as info:
                await session.get(f"https://pulse.test:{port}/ok?key=secret")
        assert str(info.value) == f"could not connect to pulse.test:{port} (connection refused)"

    run(scenario)


def test_a_failed_lookup_is_a_readable_error(certificates: Certificates) -> None:
    async def scenario() -> None:
        resolver = ScriptedResolver({"pulse.test": [OSError("lookup failed")]})
        async with SafeSession(policy_for(certificates), resolver=resolver) as session:
            with pytest.raises(FetchError, match=r"^could not resolve pulse\.test$"):
                await session.get("https://pulse.test/ok")

    run(scenario)


@pytest.mark.parametrize(
    "headers",
    [{"X-Token": "a\r\nInjected: 1"}, {"Bad Name": "x"}, {"X-Zero": "a\x00b"}],
)
def test_headers_with_control_characters_are_refused_before_sending(
    certificates: Certificates, headers: dict[str, str]
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen:
            resolver = pulse_resolver(seen.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                with pytest.raises(FetchError) as info:
                    await session.get(f"https://pulse.test:{seen.port}/ok", headers=headers)
        assert "Injected" not in str(info.value)
        assert seen.requests == []

    run(scenario)


def test_get_outside_the_context_manager_is_a_programming_error() -> None:
    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="outside 'async with'"):
            await SafeSession(SafeFetchPolicy()).get("https://example.com/")

    run(scenario)


# --- DNS rebinding ----------------------------------------------------------------------


def rebinding_resolver(public_port: int, private_port: int) -> ScriptedResolver:
    # 127.0.0.1 plays the public address (allowed by the policy), 127.0.0.2 the private one.
    return ScriptedResolver(
        {"rebind.test": [[("127.0.0.1", public_port)], [("127.0.0.2", private_port)]]}
    )


def test_a_rebinding_answer_after_validation_is_refused_at_fetch_time(
    certificates: Certificates,
) -> None:
    async def scenario() -> None:
        async with https_server(certificates.server) as seen, trap("127.0.0.2") as listener:
            resolver = rebinding_resolver(seen.port, listener.port)
            policy = policy_for(certificates)
            assert await validate_url(f"https://rebind.test:{seen.port}/ok", policy, resolver) == [
                "127.0.0.1"
            ]
            async with SafeSession(policy, resolver=resolver) as session:
                with pytest.raises(UnsafeURLError, match=r"resolves to 127\.0\.0\.2"):
                    await session.get(f"https://rebind.test:{seen.port}/ok")
        assert listener.connections == 0
        assert seen.requests == []

    run(scenario)


def test_a_fetch_connects_to_the_address_it_validated_with_a_single_lookup(
    certificates: Certificates,
) -> None:
    async def scenario() -> None:
        async with (
            https_server(certificates.server, "127.0.0.2") as private,
            https_server(certificates.server) as public,
        ):
            resolver = rebinding_resolver(public.port, private.port)
            async with SafeSession(policy_for(certificates), resolver=resolver) as session:
                first = await session.get(f"https://rebind.test:{public.port}/ok")
                # One lookup per connection: had the client looked up the name a second time
                # to connect, the second answer (127.0.0.2) would have been used.
                assert resolver.calls == ["rebind.test"]
                outcomes: list[str] = []
                for _ in range(3):
                    try:
                        await session.get(f"https://rebind.test:{public.port}/ok")
                        outcomes.append("ok")
                    except UnsafeURLError as exc:
                        assert "127.0.0.2" in exc.reason
                        outcomes.append("refused")
        assert first.status == 200
        assert private.requests == []
        assert len(public.requests) == 1 + outcomes.count("ok")

    run(scenario)
