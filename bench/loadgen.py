"""A small aiohttp load generator: closed-loop throughput and fixed-rate latency.

Requests are prepared (and signed) before the clock starts, so the generator's
own work per request is one send and one read.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from common import summary


@dataclass(frozen=True)
class Prepared:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    sent: int
    seconds: float
    statuses: Counter[int]
    latencies_ms: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def _send(
    session: aiohttp.ClientSession, base: str, request: Prepared, result: LoadResult
) -> None:
    start = time.perf_counter()
    try:
        async with session.request(
            request.method, base + request.path, data=request.body, headers=request.headers
        ) as response:
            await response.read()
            result.statuses[response.status] += 1
    except (TimeoutError, aiohttp.ClientError):
        result.errors += 1
    result.latencies_ms.append((time.perf_counter() - start) * 1000)


async def closed_loop(base: str, requests: list[Prepared], concurrency: int) -> LoadResult:
    """Send every request with ``concurrency`` in flight; as fast as the server answers."""
    result = LoadResult(len(requests), 0.0, Counter(), [], 0)
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for request in queue:
                await _send(session, base, request, result)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - start
    return result


async def fixed_rate(base: str, requests: list[Prepared], rate: float) -> LoadResult:
    """Start one request every 1/rate seconds regardless of answers (open loop)."""
    result = LoadResult(len(requests), 0.0, Counter(), [], 0)
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        tasks = []
        for index, request in enumerate(requests):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, base, request, result)))
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - start
    return result


def load_rows(results: dict[str, LoadResult], *baselines: float) -> list[list[object]]:
    """One table row per endpoint: req/s, its ratio to each baseline, p50, p99, statuses, errors."""
    rows: list[list[object]] = []
    for label, result in results.items():
        s = summary(result.latencies_ms)
        ratios = [f"{result.throughput / baseline:.2f}" for baseline in baselines]
        rows.append(
            [
                label,
                f"{result.throughput:,.0f}",
                *ratios,
                s["p50"],
                s["p99"],
                dict(result.statuses),
                result.errors,
            ]
        )
    return rows
