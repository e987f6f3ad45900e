"""Benchmark: webhook ingest against two baselines on the same server.

Signed deliveries with unique ids spread over 100 KPIs, compared with a bare
endpoint (``GET /healthz``) and the durable-write floor (``POST /bench/one-row``:
one INSERT in one transaction), all on one ``pulseboard serve`` (gunicorn
gthread, production settings) started here on 127.0.0.1. Then a fixed 200 req/s
for latency, and a count of history rows against accepted deliveries.

    python bench/webhook_ingest.py --db postgresql --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    ROOT,
    bench_env,
    drop_pg_database,
    fresh_pg_database,
    print_table,
    setup_django,
    summary,
)
from loadgen import LoadResult, Prepared, closed_loop, fixed_rate, load_rows

KPIS = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(env: dict[str, str]) -> list[tuple[str, str]]:
    """Migrate, create the org and 100 webhook KPIs; return (kpi_id, secret) pairs."""
    from django.core.management import call_command
    from django.db import connection

    from pulseboard.connectors.services import source_bind
    from pulseboard.core.actors import Actor
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import org_create

    call_command("migrate", interactive=False, verbosity=0)
    pk = "BIGSERIAL PRIMARY KEY" if connection.vendor == "postgresql" else "INTEGER PRIMARY KEY"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS bench_floor (id {pk}, at TEXT NOT NULL, body TEXT NOT NULL)"
        )
    actor = Actor.system("bench")
    org = org_create(name="Ingest Co", actor=actor)
    pairs = []
    for n in range(KPIS):
        kpi = kpi_create(
            org=org,
            actor=actor,
            spec=KpiSpec(title=f"Hook {n}", shape="stay_above", threshold=1, published=True),
        )
        bound = source_bind(kpi=kpi, actor=actor, kind="webhook", config={})
        assert bound.secret
        pairs.append((kpi.pk, bound.secret))
    connection.close()
    return pairs


def signed_deliveries(pairs: list[tuple[str, str]], count: int, tag: str) -> list[Prepared]:
    from standardwebhooks import Webhook

    hooks = [(kpi_id, Webhook(secret)) for kpi_id, secret in pairs]
    base = datetime.now(UTC) - timedelta(hours=1)
    prepared = []
    for n in range(count):
        kpi_id, hook = hooks[n % len(hooks)]
        msg_id = f"msg_{tag}_{n}"
        observed = (base + timedelta(milliseconds=n)).isoformat()
        body = json.dumps({"value": float(n % 97), "observed_at": observed})
        now = datetime.now(UTC)
        signature = hook.sign(msg_id, now, body)
        prepared.append(
            Prepared(
                "POST",
                f"/hooks/kpis/{kpi_id}",
                body.encode(),
                {
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signature,
                },
            )
        )
    return prepared


def start_server(
    env: dict[str, str], port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    server_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), env.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pulseboard"),
            "serve",
            "--no-worker",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


def run(args: argparse.Namespace) -> dict[str, object]:
    name = "pb_bench_ingest"
    url = fresh_pg_database(name) if args.db == "postgresql" else None
    env = bench_env(url)
    setup_django(env)
    pairs = prepare(env)
    port = free_port()
    server = start_server(env, port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    try:
        bare = [Prepared("GET", "/healthz")] * args.requests
        floor = [Prepared("POST", "/bench/one-row", b'{"value": 1}')] * args.requests
        hooks = signed_deliveries(pairs, args.requests, "tp")
        results: dict[str, LoadResult] = {}
        warm_up = {
            "bare /healthz": bare[: args.requests // 10],
            "one-row floor": floor[: args.requests // 10],
            "webhook": signed_deliveries(pairs, args.requests // 10, "warm"),
        }
        for label, requests in (
            ("bare /healthz", bare),
            ("one-row floor", floor),
            ("webhook", hooks),
        ):
            asyncio.run(closed_loop(base, warm_up[label], args.concurrency))
            results[label] = asyncio.run(closed_loop(base, requests, args.concurrency))
        warm_hooks = signed_deliveries(pairs, 200, "latency-warm")
        asyncio.run(fixed_rate(base, warm_hooks, args.rate))
        latency_hooks = signed_deliveries(pairs, int(args.rate * args.seconds), "latency")
        latency = asyncio.run(fixed_rate(base, latency_hooks, args.rate))
    finally:
        server.terminate()
        server.wait(timeout=30)

    from django.db import connection

    from pulseboard.history.models import KpiHistory

    stored = KpiHistory.objects.count()
    sent = (args.requests // 10) + args.requests + 200 + len(latency_hooks)
    accepted = sum(
        r.statuses.get(200, 0) + r.statuses.get(202, 0) for r in (results["webhook"], latency)
    )
    warm_accepted = sent - args.requests - len(latency_hooks)  # warm-up runs, all expected 200
    connection.close()
    if args.db == "postgresql":
        drop_pg_database(name)
    return {
        "results": results,
        "latency": latency,
        "stored": stored,
        "accepted": accepted,
        "warm_sent": warm_accepted,
        "sent": sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    out = run(args)
    results: dict[str, LoadResult] = out["results"]  # type: ignore[assignment]
    floor = results["one-row floor"].throughput
    bare = results["bare /healthz"].throughput
    rows = load_rows(results, floor, bare)
    print_table(
        f"Webhook ingest on {args.db} (closed loop, {args.requests} requests, "
        f"concurrency {args.concurrency}, {args.workers}x{args.threads} gthread)",
        ["endpoint", "req/s", "x floor", "x bare", "p50 ms", "p99 ms", "statuses", "errors"],
        rows,
    )
    latency: LoadResult = out["latency"]  # type: ignore[assignment]
    s = summary(latency.latencies_ms)
    print(
        f"  fixed {args.rate:.0f} req/s for {args.seconds:.0f} s: p50 {s['p50']:.1f} ms, "
        f"p99 {s['p99']:.1f} ms (target <= 30), statuses {dict(latency.statuses)}, "
        f"errors {latency.errors}"
    )
    # Every accepted delivery (timed runs plus warm-ups) must have left one history row.
    expected = out["accepted"] + out["warm_sent"]  # type: ignore[operator]
    print(
        f"  accepted deliveries {expected:,} == history rows {out['stored']:,}: "
        f"{'yes' if expected == out['stored'] else 'NO'}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "db": args.db,
                    "throughput": {k: v.throughput for k, v in results.items()},
                    "ratio_floor": results["webhook"].throughput / floor,
                    "ratio_bare": results["webhook"].throughput / bare,
                    "latency_p99": s["p99"],
                    "latency_p50": s["p50"],
                    "accepted": expected,
                    "stored": out["stored"],
                }
            )
        )


if __name__ == "__main__":
    main()
