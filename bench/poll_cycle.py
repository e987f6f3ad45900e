"""Benchmark: one worker (or ``--workers N``) refreshes 10,000 due https_get sources.

The same local HTTPS server (its own process, trustme certificate) is first
read by a bare aiohttp loop with the same concurrency (the baseline), then by
``pulseboard worker --once`` (``--workers N``: N of them started together, sharing
the due sources through ``SKIP LOCKED`` claims). Reported: throughput of both and
their ratio, the workers' peak RSS (the highest of any one), their CPU per pull, and
the lag from due to pulled (p50/p99).

    python bench/poll_cycle.py --db postgresql --sources 10000 [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import trustme

from common import (
    bench_env,
    drop_pg_database,
    fresh_pg_database,
    percentile,
    print_table,
    setup_django,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def certificates(directory: Path) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return ca_path, cert_path, key_path


def start_server(cert: Path, key: Path, port: int) -> subprocess.Popen[bytes]:
    here = Path(__file__).resolve().parent
    process = subprocess.Popen(
        [sys.executable, str(here / "json_server.py"), str(cert), str(key), str(port)]
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the JSON server did not start")


async def bare_loop(urls: list[str], ca: Path, concurrency: int) -> float:
    context = ssl.create_default_context(cafile=str(ca))
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=context)
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> None:
            async with semaphore, session.get(url) as response:
                await response.json()

        start = time.perf_counter()
        await asyncio.gather(*(one(url) for url in urls))
        return time.perf_counter() - start


def create_sources(count: int, base_url: str) -> object:
    """One real binding through the service, then its stored form cloned in bulk."""
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from pulseboard.connectors.models import Source
    from pulseboard.connectors.services import source_bind
    from pulseboard.core.actors import Actor
    from pulseboard.indicators.models import Kpi
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import org_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    org = org_create(name="Poll Co", actor=actor)
    first = kpi_create(
        org=org, actor=actor, spec=KpiSpec(title="P0", shape="stay_above", threshold=1)
    )
    source_bind(
        kpi=first,
        actor=actor,
        kind="https_get",
        config={"url": f"{base_url}/v/0", "json_path": "$.value"},
    )
    template = Source.objects.get(kpi=first)
    due = timezone.now()
    with transaction.atomic():
        kpis = Kpi.objects.bulk_create(
            [Kpi(org=org, title=f"P{n}", shape="stay_above", threshold=1) for n in range(1, count)],
            batch_size=2000,
        )
        Source.objects.bulk_create(
            [
                Source(
                    org=org,
                    kpi=kpi,
                    kind=template.kind,
                    config={**template.config, "url": f"{base_url}/v/{n}"},
                    interval_seconds=template.interval_seconds,
                    next_pull_at=due,
                )
                for n, kpi in enumerate(kpis, start=1)
            ],
            batch_size=2000,
        )
        Source.objects.filter(pk=template.pk).update(next_pull_at=due)
    return due


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_workers(
    env: dict[str, str],
    concurrency: int,
    workers: int = 1,
    profile: str | None = None,
) -> tuple[float, float, float]:
    """Start ``workers`` copies of ``pulseboard worker --once`` together; wait for all of them.

    Returns the wall time until the last one exits, the highest peak RSS of any one
    of them, and their CPU time (user + system) summed.
    """
    # --profile: the worker under pyinstrument (its text report to that file).
    profiler = (
        [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", profile, "--show-all"]
        if profile
        else []
    )
    command = [
        *profiler,
        str(Path(sys.executable).parent / "pulseboard"),
        "worker",
        "--once",
        "--concurrency",
        str(concurrency),
    ]
    start = time.perf_counter()
    running = {p.pid: p for p in (subprocess.Popen(command, env=env) for _ in range(workers))}
    peak = 0.0
    cpu = 0.0
    failures: list[int] = []
    while running:
        for pid in list(running):
            # wait4, not Popen.poll: it also returns the worker's CPU time (less noisy
            # than wall time on a shared machine: the worker is CPU-bound).
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                # Reaped here, so tell Popen (it would warn the child is still running).
                worker = running.pop(pid)
                worker.returncode = os.waitstatus_to_exitcode(status)
                cpu += usage.ru_utime + usage.ru_stime
                if worker.returncode != 0:
                    failures.append(worker.returncode)
                continue
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                peak = max(peak, peak_rss_mb(pid))
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"worker exited with {failures}")
    return elapsed, peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", help="write the figures as JSON to this file")
    parser.add_argument("--profile", help="run the worker under pyinstrument; report to this file")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes started together (PostgreSQL: they share the sources by SKIP LOCKED)",
    )
    args = parser.parse_args()
    if args.workers < 1 or (args.workers > 1 and args.db != "postgresql"):
        parser.error("--workers above 1 needs --db postgresql (SQLite runs one worker)")
    work = Path(tempfile.mkdtemp(prefix="pb-bench-poll-"))
    ca, cert, key = certificates(work)
    port = free_port()
    server = start_server(cert, key, port)
    base_url = f"https://127.0.0.1:{port}"
    name = "pb_bench_poll"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    env = bench_env(url)
    env["PULSEBOARD_ALLOW_PRIVATE_CIDRS"] = "127.0.0.1/32"
    env["PULSEBOARD_CA_BUNDLE"] = str(ca)
    try:
        setup_django(env)
        due = create_sources(args.sources, base_url)
        urls = [f"{base_url}/v/{n}" for n in range(args.sources)]
        asyncio.run(bare_loop(urls[:500], ca, args.concurrency))
        bare_seconds = asyncio.run(bare_loop(urls, ca, args.concurrency))
        worker_seconds, peak, worker_cpu = run_workers(
            env, args.concurrency, args.workers, args.profile
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    from pulseboard.connectors.models import Source

    pulled = list(
        Source.objects.filter(last_success_at__isnull=False).values_list(
            "last_pulled_at", flat=True
        )
    )
    failed = Source.objects.filter(consecutive_failures__gt=0).count()
    lags = [(when - due).total_seconds() for when in pulled]  # type: ignore[operator]
    bare_rate = args.sources / bare_seconds
    worker_rate = len(pulled) / worker_seconds
    print_table(
        f"Poll cycle on {args.db}: {args.sources:,} https_get sources, concurrency {args.concurrency}"
        f" per worker, {args.workers} worker process(es)",
        ["client", "seconds", "pulls/s", "x bare", "peak RSS MB", "ok", "failed"],
        [
            ["bare aiohttp loop", bare_seconds, bare_rate, "1.00", "-", args.sources, 0],
            [
                f"pulseboard worker x {args.workers}",
                worker_seconds,
                worker_rate,
                f"{worker_rate / bare_rate:.2f}",
                peak,
                len(pulled),
                failed,
            ],
        ],
    )
    print(
        f"  lag from due to pulled: p50 {percentile(lags, 50):.1f} s, p99 {percentile(lags, 99):.1f} s"
    )
    cpu_ms = 1000 * worker_cpu / max(len(pulled), 1)
    print(
        f"  worker CPU (user + system, start-up included, all workers): {worker_cpu:.1f} s,"
        f" {cpu_ms:.2f} ms per pull"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "workers": args.workers,
                    "bare_rate": bare_rate,
                    "worker_rate": worker_rate,
                    "ratio": worker_rate / bare_rate,
                    "peak_rss_mb": peak,
                    "lag_p50": percentile(lags, 50),
                    "lag_p99": percentile(lags, 99),
                    "worker_cpu_seconds": worker_cpu,
                    "worker_cpu_ms_per_pull": cpu_ms,
                    "ok": len(pulled),
                    "failed": failed,
                }
            )
        )
    from django.db import connections

    connections.close_all()
    if args.db == "postgresql":
        drop_pg_database(name)


if __name__ == "__main__":
    main()
