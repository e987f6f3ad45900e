"""A real HTTPS JSON server on 127.0.0.1 for pull tests, with trustme certificates.

It runs in a thread with its own event loop, so synchronous tests, in-process workers
and worker subprocesses can all reach it. Each path answers with a scripted ``Reply``
(status, body, delay before the headers, a body trickled out slowly); every request is
counted per path with its arrival time and its headers. ``hold()`` makes
requests wait until ``release()``, to catch a worker mid-batch.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

NAMES = ("127.0.0.1", "status.example.com", "metrics.example.org")


@dataclass(frozen=True)
class Certificates:
    ca_path: str
    server: ssl.SSLContext
    untrusted_server: ssl.SSLContext


def make_certificates(directory: Path) -> Certificates:
    ca = trustme.CA()
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*NAMES).configure_cert(server)
    untrusted = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert(*NAMES).configure_cert(untrusted)
    return Certificates(ca_path=str(ca_path), server=server, untrusted_server=untrusted)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | Callable[[int], bytes] = b'{"value": 1}'  # callable: gets the hit number
    delay: float = 0.0  # seconds before the headers
    trickle: float = 0.0  # seconds between 16-byte chunks of the body
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)  # e.g. a redirect's Location


@dataclass
class Hit:
    at: float
    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)  # every request header received


@dataclass
class JsonEndpoint:
    ssl_context: ssl.SSLContext
    default: Reply = field(default_factory=Reply)
    replies: dict[str, Reply] = field(default_factory=dict)
    hits: dict[str, list[Hit]] = field(default_factory=lambda: defaultdict(list))
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _gate: asyncio.Event | None = None
    _runner: web.AppRunner | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return len(self.hits.get(path, []))

    def total(self) -> int:
        with self._lock:
            return sum(len(hits) for hits in self.hits.values())

    def hold(self) -> None:
        """Make every new request wait (headers unsent) until ``release``."""
        assert self._loop is not None and self._gate is not None
        self._loop.call_soon_threadsafe(self._gate.clear)

    def release(self) -> None:
        assert self._loop is not None and self._gate is not None
        self._loop.call_soon_threadsafe(self._gate.set)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        with self._lock:
            hits = self.hits[path]
            hits.append(
                Hit(
                    at=time.time(),
                    authorization=request.headers.get("Authorization"),
                    headers=dict(request.headers),
                )
            )
            number = len(hits)
        assert self._gate is not None
        await self._gate.wait()
        reply = self.replies.get(path, self.default)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        body = reply.body(number) if callable(reply.body) else reply.body
        if not reply.trickle:
            return web.Response(
                status=reply.status,
                body=body,
                content_type=reply.content_type,
                headers=reply.headers,
            )
        response = web.StreamResponse(status=reply.status)
        response.content_type = reply.content_type
        await response.prepare(request)
        for start in range(0, len(body), 16):
            await response.write(body[start : start + 16])
            await asyncio.sleep(reply.trickle)
        await response.write_eof()
        return response

    def __enter__(self) -> JsonEndpoint:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._gate = asyncio.Event()
            self._gate.set()
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
            loop.run_until_complete(self._runner.setup())
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            self.port = listener.getsockname()[1]
            site = web.SockSite(self._runner, listener, ssl_context=self.ssl_context)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="json-endpoint", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the test HTTPS server did not start"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._loop is not None and self._thread is not None
        self.release()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class StaticResolver(AbstractResolver):
    """Answers the names it was given with 127.0.0.1; never asks real DNS."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            {
                "hostname": host,
                "host": self.names[host],
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None
