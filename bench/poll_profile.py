"""Profile of the worker's write side: where a poll cycle's time goes.

Runs one worker in this process (``Worker(once=True)``) against ``--sources`` due
``https_get`` sources on the local HTTPS server of ``poll_cycle.py`` and prints: pulls/s,
the time spent claiming and recording (the calls the worker makes on its database
threads), every SQL statement kind with its count and time (a
``connection.execute_wrapper`` on each thread's connection), and optionally the
cProfile of the recording calls (``--cprofile``). docs/performance.md quotes it.

    python bench/poll_profile.py --sources 2000 [--cprofile]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import pstats
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import poll_cycle
from common import bench_env, drop_pg_database, fresh_pg_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cprofile", action="store_true", help="also profile the recording")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pb-bench-poll-profile-"))
    ca, cert, key = poll_cycle.certificates(work)
    port = poll_cycle.free_port()
    server = poll_cycle.start_server(cert, key, port)
    name = "pb_bench_poll_profile"
    env = bench_env(fresh_pg_database(name))
    env["PULSEBOARD_ALLOW_PRIVATE_CIDRS"] = "127.0.0.1/32"
    env["PULSEBOARD_CA_BUNDLE"] = str(ca)
    try:
        setup_django(env)
        poll_cycle.create_sources(args.sources, f"https://127.0.0.1:{port}")
        run(args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        from django.db import connections

        connections.close_all()
        drop_pg_database(name)


def run(args: argparse.Namespace) -> None:
    from django.db.backends.signals import connection_created

    from pulseboard.connectors.outbound import fetch_policy
    from pulseboard.worker import runner

    lock = threading.Lock()
    calls: dict[str, list[float]] = collections.defaultdict(list)
    profile = cProfile.Profile() if args.cprofile else None

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            profiling = profile is not None and name == "pull_outcomes_record" and lock.acquire()
            if profiling:
                profile.enable()  # type: ignore[union-attr]
            try:
                return function(*a, **k)
            finally:
                if profiling:
                    profile.disable()  # type: ignore[union-attr]
                    lock.release()
                calls[name].append(time.perf_counter() - start)

        return call

    for name in ("pull_outcomes_record", "source_claim_due"):
        setattr(runner, name, timed(name, getattr(runner, name)))
    count: collections.Counter[str] = collections.Counter()
    spent: collections.Counter[str] = collections.Counter()

    def statement(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = sql.split(" ")
            table = sql.split('"')[1] if '"' in sql else ""
            key = f"{words[0]} {table}"
            count[key] += 1
            spent[key] += time.perf_counter() - start

    def install(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
        connection.execute_wrappers.append(statement)

    connection_created.connect(install)
    options = runner.WorkerOptions(
        owner="profile", policy=fetch_policy(), concurrency=args.concurrency, once=True
    )
    start = time.perf_counter()
    stats = asyncio.run(runner.Worker(options).run())
    seconds = time.perf_counter() - start
    print(f"{stats.pulls} pulls ({stats.ok} ok) in {seconds:.1f} s: {stats.pulls / seconds:.0f}/s")
    for name, times in calls.items():
        print(f"  {name}: {len(times)} calls, {sum(times):.2f} s")
    print("  statements (count, seconds inside execute):")
    for key, n in count.most_common(15):
        print(f"    {n:7d} {spent[key]:7.2f} s  {key}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
