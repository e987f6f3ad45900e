"""Who is on the other end of a request: the client address and the scheme, proxy-aware.

Behind a TLS-terminating proxy every connection comes from the proxy, so ``REMOTE_ADDR``
alone would put the proxy's address in the audit log and make the login throttle one
shared counter (anyone could lock anyone out). ``X-Forwarded-For`` names the real client,
but any client can send that header: it is believed only when the connection comes from
a network listed in ``PULSEBOARD_TRUSTED_PROXIES`` (DESIGN §15), and then only as far as
the chain of trusted proxies reaches. The client is the rightmost address of
``REMOTE_ADDR`` + ``X-Forwarded-For`` that is not a trusted proxy: everything left of it
was written by someone we do not trust.

``client_address`` is the pure rule (values in, value out). ``client_ip`` applies it to a
Django request and is the only place the code base reads a client address; the audit
log, the login and password-reset throttles and the webhook endpoint all call it.
``TrustedProxyMiddleware`` does the same for ``X-Forwarded-Proto``: Django's
``SECURE_PROXY_SSL_HEADER`` trusts the header from every peer, so the scheme is set
here, per request, only for trusted peers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Final, TypeAlias

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_FOR: Final = "HTTP_X_FORWARDED_FOR"
FORWARDED_PROTO: Final = "HTTP_X_FORWARDED_PROTO"


def networks_parse(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (or single addresses) -> networks; ValueError names a bad one."""
    found: list[Network] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"{part!r} is not an IP network: use CIDR notation such as 10.0.0.0/8 "
                "or a single address such as 192.0.2.10"
            ) from None
    return tuple(found)


def address_parse(text: str) -> Address | None:
    """One hop of a forwarded chain (``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:80``)."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # IPv4 with a port; a bare IPv6 has several colons
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 for every network test
    return address


def _trusted(address: Address, trusted: Iterable[Network]) -> bool:
    return any(address in net for net in trusted)


def client_address(
    *, peer: str, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The client's address: the rightmost hop not in ``trusted``. Pure.

    ``peer`` is the connection's address (``REMOTE_ADDR``). The forwarded chain is read
    only while every hop to its right is trusted; a hop that is not an IP address ends
    the walk and the last address we could vouch for is the answer (a garbled header
    must not become an audit entry). When every hop is trusted, the leftmost is the client.
    """
    current = address_parse(peer)
    if current is None:
        return None
    if not forwarded_for or not _trusted(current, trusted):
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        address = address_parse(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


def forwarded_scheme(
    *, peer: str, forwarded_proto: str | None, trusted: Sequence[Network]
) -> str | None:
    """``"https"``/``"http"`` as a trusted proxy reports it, None when it may not. Pure."""
    address = address_parse(peer)
    if not forwarded_proto or address is None or not _trusted(address, trusted):
        return None
    # A list means several proxies; the leftmost is the one the client spoke to (as Django
    # reads SECURE_PROXY_SSL_HEADER).
    first = forwarded_proto.split(",", 1)[0].strip().lower()
    return first if first in ("http", "https") else None


@lru_cache(maxsize=4)
def _networks(text: str) -> tuple[Network, ...]:
    return networks_parse(text)


def trusted_proxies() -> tuple[Network, ...]:
    """The configured networks (validated at start-up by ``config/env.py``)."""
    return _networks(str(settings.PULSEBOARD["TRUSTED_PROXIES"]))


def client_ip(request: HttpRequest | None) -> str | None:
    """The client address of a request (``client_address`` with the configured proxies)."""
    if request is None:
        return None
    return client_address(
        peer=str(request.META.get("REMOTE_ADDR") or ""),
        forwarded_for=request.META.get(FORWARDED_FOR),
        trusted=trusted_proxies(),
    )


class TrustedProxyMiddleware:
    """Sets the request's scheme from ``X-Forwarded-Proto``, for trusted peers only.

    First in the chain, so ``SecurityMiddleware``'s HTTPS redirect and HSTS, CSRF's
    origin check and ``build_absolute_uri`` all see the scheme the client used.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scheme = forwarded_scheme(
            peer=str(request.META.get("REMOTE_ADDR") or ""),
            forwarded_proto=request.META.get(FORWARDED_PROTO),
            trusted=trusted_proxies(),
        )
        if scheme is not None:
            # WSGIRequest reads its scheme from the environ (request.META is that dict).
            request.META["wsgi.url_scheme"] = scheme
        return self.get_response(request)
