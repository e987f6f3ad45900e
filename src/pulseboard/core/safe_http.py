"""The SSRF-safe outbound HTTP client: the only way Pulseboard talks to URLs that users type.

It owns the rules of DESIGN.md §6 (https_get): https only, no userinfo, no reserved names,
every resolved address public unicast (unless inside an operator-allowed private network),
the connection made to the very address that was validated (a validating aiohttp resolver,
so there is no second DNS lookup to rebind), redirects re-validated hop by hop, the body
and the total time capped, and every failure turned into a short readable message that
never carries a query string or a header value. Domain-free: settings come in as a
``SafeFetchPolicy``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH: Final = 2048
USER_AGENT: Final = "Pulseboard"
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Headers that identify the caller to the original origin only; a redirect to another
# origin must not carry the KPI's bearer token along (the same rule browsers apply).
ORIGIN_BOUND_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
READ_CHUNK: Final = 64 * 1024
ERROR_BODY_BYTES: Final = 64 * 1024


class UnsafeURLError(ValueError):
    """A URL (or an address it resolves to) that the SSRF rules refuse; ``reason`` is readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchError(Exception):
    """A fetch that failed after the URL was accepted; the message is safe to show an admin.

    ``status`` is the HTTP status when the server answered with a non-2xx one, so callers
    that know the API behind the URL (the Sheets connector) can say what it means.
    """

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        # The start of a non-2xx answer's body (at most ``ERROR_BODY_BYTES``), for callers
        # that know the API and can quote its error (Prometheus explains a bad query there).
        self.body = body


@dataclass(frozen=True)
class SafeFetchPolicy:
    """What an outbound fetch may reach and how much it may take."""

    allow_private: tuple[IPNetwork, ...] = ()
    max_bytes: int = 1024 * 1024
    total_timeout: float = 10.0
    connect_timeout: float = 3.0
    ca_bundle: str | None = None
    max_redirects: int = 3

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if self.total_timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the static checks, in the exact form aiohttp will be handed."""

    url: URL
    host: str
    port: int
    ip: IPAddress | None


@dataclass(frozen=True)
class FetchResult:
    status: int
    body: bytes
    content_type: str
    url: str


def parse_allowed_cidrs(text: str) -> tuple[IPNetwork, ...]:
    """Parse ``PULSEBOARD_ALLOW_PRIVATE_CIDRS``: networks separated by commas or spaces."""
    networks: list[IPNetwork] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(
                f"{item!r} is not a network in CIDR form (e.g. 10.0.0.0/8): {exc}"
            ) from None
    return tuple(networks)


# --- addresses -------------------------------------------------------------------------

_V4_RANGES: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = tuple(
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", "link-local, cloud metadata service"),
        ("100.100.100.200/32", "CGNAT range, cloud metadata service"),
        ("192.0.0.192/32", "IETF protocol assignment, cloud metadata service"),
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "'this network' 0.0.0.0/8"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "CGNAT shared address space 100.64.0.0/10"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "IETF protocol assignments 192.0.0.0/24"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking 198.18.0.0/15"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved 240.0.0.0/4"),
    )
)

_V6_RANGES: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = tuple(
    (ipaddress.IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("2001::/32", "Teredo tunnelling address"),
        ("::ffff:0:0:0/96", "IPv4-translated address"),
        ("100::/64", "discard-only"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("2001:2::/48", "benchmarking 2001:2::/48"),
        ("2001:10::/28", "ORCHID"),
        ("2001:20::/28", "ORCHIDv2"),
        ("2001::/23", "IETF protocol assignments 2001::/23"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
        ("5f00::/16", "reserved for SRv6"),
    )
)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")


def _allowed_by_policy(ip: IPAddress, policy: SafeFetchPolicy) -> IPNetwork | None:
    for network in policy.allow_private:
        if ip.version == network.version and ip in network:
            return network
    return None


def _v4_not_public_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_RANGES:
        if ip in network:
            return reason
    # The stdlib properties catch whatever a later IANA registry adds that the table lacks.
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    return None


def _v6_not_public_reason(ip: ipaddress.IPv6Address, policy: SafeFetchPolicy) -> str | None:
    embedded = _embedded_v4(ip)
    if embedded is not None:
        v4, form = embedded
        # These forms reach the embedded IPv4 host (directly, or through a NAT64 or 6to4
        # gateway), so the embedded address decides.
        if form == "IPv4-mapped" and _allowed_by_policy(v4, policy) is not None:
            return None
        inner = _v4_not_public_reason(v4)
        return None if inner is None else f"{form} form of {v4}, {inner}"
    if 1 < int(ip) <= 0xFFFFFFFF:
        # ::a.b.c.d, deprecated by RFC 4291: never a valid destination, whatever it embeds.
        v4 = ipaddress.IPv4Address(int(ip))
        inner = _v4_not_public_reason(v4)
        suffix = "" if inner is None else f", {inner}"
        return f"deprecated IPv4-compatible form of {v4}{suffix}"
    for network, reason in _V6_RANGES:
        if ip in network:
            return reason
    if ip not in _GLOBAL_UNICAST:
        return "reserved (outside global unicast 2000::/3)"
    if ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def address_is_public(ip: IPAddress | str, policy: SafeFetchPolicy) -> tuple[bool, str]:
    """Whether a fetch may connect to ``ip``; the second item says why not (or why allowed)."""
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip)
        except ValueError:
            return False, "not an IP address"
    network = _allowed_by_policy(ip, policy)
    if network is not None:
        return True, f"inside allowed network {network}"
    if isinstance(ip, ipaddress.IPv4Address):
        reason = _v4_not_public_reason(ip)
    else:
        reason = _v6_not_public_reason(ip, policy)
    if reason is None:
        return True, "public"
    return False, reason


def _require_public(ip: IPAddress, policy: SafeFetchPolicy) -> None:
    public, reason = address_is_public(ip, policy)
    if not public:
        raise UnsafeURLError(f"{ip} is not a public address ({reason})")


# --- static URL checks -----------------------------------------------------------------

# Exact names and suffixes that name the local machine, the local network or a cloud
# metadata service (RFC 6761, RFC 6762, RFC 7686, RFC 8375, ICANN's .internal).
_RESERVED_SUFFIXES: Final = (
    "localhost",
    "localdomain",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "invalid",
    "onion",
    "arpa",
)
_RESERVED_NAMES: Final = frozenset(
    {
        "metadata",
        "instance-data",
        "metadata.google.internal",
        "metadata.goog",
        "kubernetes.default",
        "kubernetes.default.svc",
    }
)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_HOST_CHARS = re.compile(r"[a-z0-9._-]+")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")


def _parse_legacy_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """Parse the numeric IPv4 forms that inet_aton (and so getaddrinfo) accepts.

    WHATWG URL rule: a host whose last label is numeric is an IPv4 address, parts may be
    decimal, octal (leading 0) or hex (0x), and the last part fills the remaining bytes.
    """
    parts = name.split(".")
    if len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        if not _NUMERIC_LABEL.fullmatch(part):
            return None
        if part.startswith("0x"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, n in enumerate(leading):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _is_reserved_name(name: str) -> bool:
    if name in _RESERVED_NAMES:
        return True
    return any(name == s or name.endswith("." + s) for s in _RESERVED_SUFFIXES)


def _check_ipv4_literal(host: str, name: str) -> ipaddress.IPv4Address:
    ip = _parse_legacy_ipv4(name)
    if ip is None:
        raise UnsafeURLError(f"host {host!r} is neither a valid IPv4 address nor a domain name")
    if name != str(ip):
        public, reason = address_is_public(ip, SafeFetchPolicy())
        detail = "" if public else f", which is not a public address ({reason})"
        raise UnsafeURLError(
            f"host {host!r} is a non-canonical form of {ip}{detail}; "
            "write IP addresses as four decimal numbers"
        )
    return ip


def _check_domain_name(host: str, name: str) -> None:
    if _is_reserved_name(name):
        raise UnsafeURLError(f"host {host!r} is a reserved name")
    labels = name.split(".")
    if len(labels) < 2:
        raise UnsafeURLError(f"host {host!r} is not a fully qualified domain name")
    if len(name) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        raise UnsafeURLError(f"host {host!r} is not a valid domain name")
    if any(label.startswith("-") or label.endswith("-") for label in labels):
        raise UnsafeURLError(f"host {host!r} is not a valid domain name")


def check_url(
    url: str, policy: SafeFetchPolicy | None = None, *, allow_http: bool = False
) -> CheckedURL:
    """Static checks (no DNS): scheme, userinfo, host form, reserved names, IP literals, port.

    ``allow_http`` admits plain http too (the prometheus kind: Prometheus rarely speaks
    TLS inside a private network); every address rule stays the same. IP literals are
    judged against ``policy`` (default: nothing private allowed); names are judged after
    resolution by ``validate_url`` and by the session's resolver.
    """
    policy = policy or SafeFetchPolicy()
    if not isinstance(url, str):
        raise UnsafeURLError("the URL must be text")
    text = url.strip()
    if not text:
        raise UnsafeURLError("the URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if _CONTROL.search(text):
        raise UnsafeURLError("the URL contains spaces or control characters")
    try:
        split = urllib.parse.urlsplit(text)
        parsed = URL(text)
    except (ValueError, UnicodeError) as exc:
        raise UnsafeURLError(f"not a valid URL ({exc})") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if split.scheme.lower() not in schemes or parsed.scheme not in schemes:
        raise UnsafeURLError(
            "only http and https URLs are allowed" if allow_http else "only https URLs are allowed"
        )
    # yarl drops an empty userinfo ("https://@host"), urlsplit keeps the "@": check both.
    if "@" in split.netloc or parsed.raw_user is not None or parsed.raw_password is not None:
        raise UnsafeURLError("URLs must not contain a user name or password")
    raw_host = parsed.raw_host
    if not raw_host:
        raise UnsafeURLError("the URL has no host")
    port = parsed.explicit_port
    if port is not None and not 0 < port <= 65535:
        raise UnsafeURLError(f"port {port} is out of range (1-65535)")

    host = raw_host.lower()
    ip: IPAddress | None
    if ":" in host:
        try:
            ip = ipaddress.IPv6Address(parsed.host or "")
        except ValueError:
            raise UnsafeURLError(f"host {host!r} is not a valid IPv6 address") from None
        _require_public(ip, policy)
    else:
        name = host.rstrip(".")
        if not name or not _HOST_CHARS.fullmatch(name):
            raise UnsafeURLError(f"host {host!r} contains characters not allowed in a host name")
        if _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
            ip = _check_ipv4_literal(host, name)
            _require_public(ip, policy)
        else:
            ip = None
            _check_domain_name(host, name)
        if name != host:
            raise UnsafeURLError(f"host {host!r} must not end with a dot")
    default_port = 443 if parsed.scheme == "https" else 80
    return CheckedURL(
        url=parsed.with_fragment(None), host=host, port=parsed.port or default_port, ip=ip
    )


# --- resolution ------------------------------------------------------------------------


def _validated_addresses(
    host: str, results: Sequence[ResolveResult], policy: SafeFetchPolicy
) -> list[str]:
    if not results:
        raise UnsafeURLError(f"host {host!r} has no addresses")
    addresses: list[str] = []
    for result in results:
        try:
            ip = ipaddress.ip_address(result["host"])
        except (KeyError, TypeError, ValueError):
            raise UnsafeURLError(f"host {host!r} resolved to something not an address") from None
        public, reason = address_is_public(ip, policy)
        if not public:
            raise UnsafeURLError(f"host {host!r} resolves to {ip}, not a public address ({reason})")
        if str(ip) not in addresses:
            addresses.append(str(ip))
    return addresses


class _ValidatingResolver(AbstractResolver):
    """Hands aiohttp only addresses that passed ``address_is_public``.

    aiohttp connects to exactly what its resolver returns while keeping the URL's name for
    the Host header, SNI and certificate checks, so validating here leaves no second
    lookup for a rebinding DNS server to answer differently.
    """

    def __init__(
        self, inner: AbstractResolver, policy: SafeFetchPolicy, *, owns_inner: bool
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._owns_inner = owns_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        _validated_addresses(host, results, self._policy)
        return list(results)

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


async def validate_url(
    url: str,
    policy: SafeFetchPolicy,
    resolver: AbstractResolver | None = None,
    *,
    allow_http: bool = False,
) -> list[str]:
    """Check ``url`` statically, resolve its host and refuse if ANY address is not public.

    Returns the validated addresses. Used when a URL is saved; every fetch re-validates.
    """
    checked = check_url(url, policy, allow_http=allow_http)
    if checked.ip is not None:
        return [str(checked.ip)]
    own = resolver is None
    active = resolver if resolver is not None else DefaultResolver()
    try:
        async with asyncio.timeout(policy.total_timeout):
            results = await active.resolve(checked.host, checked.port, socket.AF_UNSPEC)
    except TimeoutError:
        raise UnsafeURLError(
            f"host {checked.host!r} did not resolve within {policy.total_timeout:g} s"
        ) from None
    except OSError as exc:
        detail = exc.strerror or type(exc).__name__
        raise UnsafeURLError(f"host {checked.host!r} could not be resolved ({detail})") from None
    finally:
        if own:
            await active.close()
    return _validated_addresses(checked.host, results, policy)


def validate_url_sync(
    url: str,
    policy: SafeFetchPolicy,
    resolver: AbstractResolver | None = None,
    *,
    allow_http: bool = False,
) -> list[str]:
    """``validate_url`` for synchronous callers (Django forms and API validation)."""
    checking = validate_url(url, policy, resolver, allow_http=allow_http)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(checking)
    # Called from inside a running loop (an async view): a fresh loop needs its own thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, checking).result()


# --- fetching --------------------------------------------------------------------------


def _format_size(size: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the CA bundle {ca_bundle!r}: {exc}") from None
    return context


def _tls_detail(exc: BaseException) -> str:
    # aiohttp's certificate error subclasses ssl.CertificateError without its attributes;
    # the ssl module's own error hangs off ``certificate_error`` / ``os_error``.
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            break
        nested = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        if isinstance(nested, BaseException) and nested is not current:
            current = nested
            continue
        for attribute in ("verify_message", "reason"):
            detail = getattr(current, attribute, None)
            if isinstance(detail, str) and detail:
                return detail.rstrip(".")
        current = current.__cause__
    return "handshake failed"


def _connect_detail(exc: aiohttp.ClientConnectorError) -> str:
    error = exc.os_error
    if isinstance(error, ConnectionRefusedError) or "refused" in str(error).lower():
        return "connection refused"
    return (error.strerror or type(error).__name__).lower()


def _fetch_error(exc: Exception, checked: CheckedURL, policy: SafeFetchPolicy) -> FetchError:
    """Translate a client failure into a message naming the host only (never the query)."""
    where = checked.host if checked.port == 443 else f"{checked.host}:{checked.port}"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return FetchError(f"TLS error: {_tls_detail(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(f"could not resolve {checked.host}")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchError(f"could not connect to {where} within {policy.connect_timeout:g} s")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(f"could not connect to {where} ({_connect_detail(exc)})")
    if isinstance(exc, TimeoutError):
        return FetchError(f"timed out after {policy.total_timeout:g} s")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError(f"{where} closed the connection without a complete response")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError(f"incomplete or malformed response body from {where}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return FetchError(f"invalid HTTP response from {where}")
    return FetchError(f"request to {where} failed ({type(exc).__name__})")


def _origin(checked: CheckedURL) -> tuple[str, int]:
    return checked.host, checked.port


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise FetchError("header names and values must be text")
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise FetchError(f"header name {name!r} is not valid")
        # The value may be a bearer token: name the header, never echo the value.
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value):
            raise FetchError(f"header {name!r} contains control characters")
        clean[name] = value
    return clean


async def _error_body(resp: aiohttp.ClientResponse) -> bytes:
    """The start of a refusal's body, best effort: an unreadable one is just empty."""
    try:
        async with asyncio.timeout(2):
            return await resp.content.read(ERROR_BODY_BYTES)
    except Exception:
        return b""


@dataclass(frozen=True)
class _Redirect:
    location: str


class SafeSession:
    """One shared aiohttp session for many fetches, every one under the SSRF rules.

    Use as ``async with SafeSession(policy) as session: await session.get(url)``.
    ``get`` raises ``UnsafeURLError`` when a URL, a redirect target or a resolved address is
    refused, and ``FetchError`` for every other failure; both messages are readable.
    """

    def __init__(
        self,
        policy: SafeFetchPolicy,
        *,
        resolver: AbstractResolver | None = None,
        limit: int = 100,
    ) -> None:
        self._policy = policy
        self._injected_resolver = resolver
        self._limit = limit
        self._ssl = _ssl_context(policy.ca_bundle)
        self._session: aiohttp.ClientSession | None = None
        self._resolver: _ValidatingResolver | None = None

    @property
    def policy(self) -> SafeFetchPolicy:
        """The rules this session fetches under (the sql kind judges its hosts by them too)."""
        return self._policy

    async def __aenter__(self) -> SafeSession:
        inner = self._injected_resolver
        self._resolver = _ValidatingResolver(
            inner if inner is not None else DefaultResolver(),
            self._policy,
            owns_inner=inner is None,
        )
        connector = aiohttp.TCPConnector(resolver=self._resolver, ssl=self._ssl, limit=self._limit)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self._policy.total_timeout, sock_connect=self._policy.connect_timeout
            ),
            # The session is shared by every org's pulls: cookies from one must never
            # reach another, and no environment proxy may bypass the address checks.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._resolver is not None:
            await self._resolver.close()
        self._session = None
        self._resolver = None

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        origin_bound: Iterable[str] = (),
        allow_http: bool = False,
        params: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url`` (following at most ``max_redirects`` re-validated redirects).

        A redirect to another origin drops the credential headers (``Authorization``,
        ``Cookie``, …) and those named in ``origin_bound`` (a caller's API-key headers).
        ``allow_http``: plain http is accepted for the URL and its redirects (see
        ``check_url``). ``params`` are added to the query after the URL was checked, so a
        long query (PromQL) is not held to ``MAX_URL_LENGTH``.
        """
        if self._session is None:
            raise RuntimeError("SafeSession.get called outside 'async with'")
        checked = check_url(url, self._policy, allow_http=allow_http)
        if params:
            checked = replace(checked, url=checked.url.update_query(dict(params)))
        sent = _check_headers(headers or {})
        bound = ORIGIN_BOUND_HEADERS | {name.lower() for name in origin_bound}
        try:
            # One deadline for the whole chain of hops, not one per request.
            async with asyncio.timeout(self._policy.total_timeout):
                return await self._follow(
                    self._session, checked, sent, bound, allow_http=allow_http
                )
        except TimeoutError:
            raise FetchError(f"timed out after {self._policy.total_timeout:g} s") from None

    async def post_form(
        self, url: str, *, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> FetchResult:
        """POST an urlencoded form to ``url`` and return the answer whatever its status.

        OAuth token and revocation endpoints explain a refusal in a 4xx JSON body, so the
        caller judges the status. Redirects are not followed: a form may carry credentials.
        """
        if self._session is None:
            raise RuntimeError("SafeSession.post_form called outside 'async with'")
        checked = check_url(url, self._policy)
        sent = _check_headers(headers or {})
        try:
            async with (
                asyncio.timeout(self._policy.total_timeout),
                self._session.post(
                    checked.url, data=dict(data), headers=sent, allow_redirects=False
                ) as resp,
            ):
                body = await self._read_capped(resp)
                return FetchResult(
                    status=resp.status, body=body, content_type=resp.content_type, url=url
                )
        except (FetchError, UnsafeURLError):
            raise
        except TimeoutError:
            raise FetchError(f"timed out after {self._policy.total_timeout:g} s") from None
        except Exception as exc:
            raise _fetch_error(exc, checked, self._policy) from None

    async def _follow(
        self,
        session: aiohttp.ClientSession,
        checked: CheckedURL,
        headers: dict[str, str],
        origin_bound: frozenset[str] = ORIGIN_BOUND_HEADERS,
        *,
        allow_http: bool = False,
    ) -> FetchResult:
        hops = 0
        while True:
            try:
                outcome = await self._fetch_once(session, checked, headers)
            except UnsafeURLError as exc:
                if hops == 0:
                    raise
                raise UnsafeURLError(f"redirect refused: {exc.reason}") from None
            if isinstance(outcome, FetchResult):
                return outcome
            if self._policy.max_redirects == 0:
                raise FetchError(
                    f"{checked.host} answered with a redirect; redirects are not followed"
                )
            if hops >= self._policy.max_redirects:
                raise FetchError(f"too many redirects (more than {self._policy.max_redirects})")
            hops += 1
            try:
                target = str(checked.url.join(URL(outcome.location)))
            except (ValueError, TypeError, UnicodeError):
                raise FetchError(f"{checked.host} redirected to an invalid URL") from None
            try:
                next_checked = check_url(target, self._policy, allow_http=allow_http)
            except UnsafeURLError as exc:
                raise UnsafeURLError(f"redirect refused: {exc.reason}") from None
            if _origin(next_checked) != _origin(checked):
                headers = {k: v for k, v in headers.items() if k.lower() not in origin_bound}
            checked = next_checked

    async def _fetch_once(
        self, session: aiohttp.ClientSession, checked: CheckedURL, headers: dict[str, str]
    ) -> FetchResult | _Redirect:
        try:
            async with session.get(checked.url, headers=headers, allow_redirects=False) as resp:
                if resp.status in REDIRECT_STATUSES and resp.headers.get("Location"):
                    return _Redirect(resp.headers["Location"])
                if not 200 <= resp.status < 300:
                    raise FetchError(
                        f"HTTP {resp.status} from {checked.host}",
                        status=resp.status,
                        body=await _error_body(resp),
                    )
                body = await self._read_capped(resp)
                return FetchResult(
                    status=resp.status,
                    body=body,
                    content_type=resp.content_type,
                    url=str(resp.url),
                )
        except (FetchError, UnsafeURLError):
            raise
        except Exception as exc:
            raise _fetch_error(exc, checked, self._policy) from None

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self._policy.max_bytes
        too_large = FetchError(f"response larger than {_format_size(cap)}")
        if resp.content_length is not None and resp.content_length > cap:
            resp.close()
            raise too_large
        body = bytearray()
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            body += chunk
            if len(body) > cap:
                resp.close()
                raise too_large
        return bytes(body)
