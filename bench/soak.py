"""Soak: minutes of mixed load on the production stack; errors, p99 and memory per minute.

One ``pulseboard serve --no-worker`` (gunicorn gthread) and one ``pulseboard worker`` on a
fresh PostgreSQL database (``pb_bench_soak``), 1,000 https_get sources on a local HTTPS
server (trustme certificate; every tenth source answers 503, so back-off runs too), and an
open-loop aiohttp client at fixed rates: signed webhook deliveries, API reads and Home
renders by a logged-in admin. Each minute prints requests and errors by kind, p99
latency, pulls done, and the RSS of every process (gunicorn master and workers, pull
worker). The end prints a verdict: errors, webhook accepted == stored, and whether each
process's memory stayed flat after the warm-up minute (growth within 10 % and 16 MiB).

    python bench/soak.py --minutes 10        # make soak
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psycopg

from common import (
    ROOT,
    bench_env,
    drop_pg_database,
    fresh_pg_database,
    percentile,
    pg_available,
    print_table,
    setup_django,
)
from webhook_ingest import free_port

sys.path.insert(0, str(ROOT))
from tests.json_endpoint import JsonEndpoint, Reply, make_certificates

DATABASE = "pb_bench_soak"
PULL_SOURCES = 1000
ORGS = 50  # 20 KPIs each; the first org is the one the load reads
FAILING_EVERY = 10  # every tenth source answers 503
HOOKS = 20
INTERVAL_SECONDS = 60  # the shortest allowed: each source is pulled every minute
RATES = {"webhook": 15.0, "api": 8.0, "home": 2.0}  # requests per second
ADMIN_EMAIL = "soak@example.com"
ADMIN_PASSWORD = "soak-admin-password-1"
GROWTH_FRACTION = 0.10
GROWTH_BYTES = 16 * 1024 * 1024


@dataclass
class Minute:
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class Load:
    started: float
    minutes: dict[int, Minute] = field(default_factory=lambda: defaultdict(Minute))
    accepted: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # requests without an answer

    def note(self, kind: str, status: int, seconds: float, ok: bool) -> None:
        minute = self.minutes[int((time.monotonic() - self.started) // 60)]
        minute.counts[kind] += 1
        minute.statuses[kind][status] += 1
        minute.latencies[kind].append(seconds * 1000)
        if not ok:
            minute.errors[kind] += 1


def prepare(endpoint: JsonEndpoint) -> tuple[list[tuple[str, str]], list[str], str]:
    """Migrate and create the orgs, KPIs and sources; returns hooks, KPI ids, API token."""
    from django.core.management import call_command
    from django.db import connection

    from pulseboard.connectors.services import source_bind
    from pulseboard.core.actors import Actor
    from pulseboard.indicators.services import kpi_create
    from pulseboard.indicators.spec import KpiSpec
    from pulseboard.orgs.services import admin_bootstrap, org_create, token_create

    call_command("migrate", interactive=False, verbosity=0)
    actor = Actor.system("soak")
    main, _ = admin_bootstrap(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, org_name="Soak Co")
    orgs = [main, *(org_create(name=f"Tenant {n}", actor=actor) for n in range(1, ORGS))]
    hooks: list[tuple[str, str]] = []
    main_ids: list[str] = []
    per_org = PULL_SOURCES // ORGS
    pulled = 0
    for org in orgs:
        for _ in range(per_org):
            kpi = kpi_create(
                org=org,
                actor=actor,
                spec=KpiSpec(title=f"Pulled {pulled}", shape="stay_above", threshold=10,
                         published=True),
            )  # fmt: skip
            source_bind(
                kpi=kpi,
                actor=actor,
                kind="https_get",
                config={
                    "url": endpoint.url(f"/v/{pulled}"),
                    "json_path": "$.value",
                    "interval_seconds": INTERVAL_SECONDS,
                },
            )
            if pulled % FAILING_EVERY == 0:
                endpoint.replies[f"/v/{pulled}"] = Reply(status=503, body=b'{"error": "down"}')
            if org.pk == main.pk:
                main_ids.append(kpi.pk)
            pulled += 1
    for n in range(HOOKS):
        kpi = kpi_create(
            org=main,
            actor=actor,
            spec=KpiSpec(title=f"Pushed {n}", shape="stay_above", threshold=10,
                     published=True),
        )  # fmt: skip
        bound = source_bind(kpi=kpi, actor=actor, kind="webhook", config={})
        assert bound.secret is not None
        hooks.append((kpi.pk, bound.secret))
        main_ids.append(kpi.pk)
    _, token = token_create(org=main, actor=actor, name="soak", scope="read")
    connection.close()
    return hooks, main_ids, token


def spawn(env: dict[str, str], directory: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (directory / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "pulseboard"), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pulseboard serve exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"pulseboard serve did not become ready:\n{log.read_text()}")


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (psutil when installed, else /proc)."""
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return sorted(int(child) for child in text.split())


def processes(serve: int, worker: int) -> dict[str, int]:
    named = {"web master": serve}
    for number, child in enumerate(children(serve)):
        named[f"web worker {number + 1}"] = child
    named["pull worker"] = worker
    return named


async def login(session: aiohttp.ClientSession, base: str) -> None:
    async with session.get(base + "/login/") as page:
        text = await page.text()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    assert token is not None, "no CSRF token on the login page"
    form = {"csrfmiddlewaretoken": token.group(1), "username": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD}  # fmt: skip
    async with session.post(base + "/login/", data=form, allow_redirects=False) as answer:
        assert answer.status == 302, f"login failed: {answer.status}"


async def one(
    load: Load,
    kind: str,
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    **options: object,
) -> None:
    began = time.perf_counter()
    try:
        async with session.request(method, url, allow_redirects=False, **options) as answer:  # type: ignore[arg-type]
            await answer.read()
            status = answer.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        status = 0
        load.failures[f"{kind}: {exc.__class__.__name__}"] += 1
    ok = status == 200
    if kind == "webhook" and ok:
        load.accepted += 1
    load.note(kind, status, time.perf_counter() - began, ok)


async def drive(
    base: str,
    hooks: list[tuple[str, str]],
    kpi_ids: list[str],
    token: str,
    load: Load,
    until: float,
) -> None:
    from standardwebhooks import Webhook

    signers = [(kpi_id, Webhook(secret)) for kpi_id, secret in hooks]
    timeout = aiohttp.ClientTimeout(total=30)
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1

    def pool() -> aiohttp.TCPConnector:
        # gunicorn closes a keep-alive connection after 2 idle seconds; dropping ours
        # after 1 keeps the client from reusing one the server is closing (a client race,
        # not a server error).
        return aiohttp.TCPConnector(keepalive_timeout=1.0)

    async with (
        aiohttp.ClientSession(timeout=timeout, connector=pool()) as plain,
        aiohttp.ClientSession(timeout=timeout, connector=pool(), cookie_jar=jar) as browser,
    ):
        await login(browser, base)
        tasks: set[asyncio.Task[None]] = set()

        def webhook() -> asyncio.Task[None]:
            kpi_id, signer = random.choice(signers)
            webhook_id = f"msg_{uuid.uuid4().hex}"
            body = json.dumps({"value": round(random.uniform(0, 100), 2)})
            moment = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(moment.timestamp())),
                "webhook-signature": signer.sign(webhook_id, moment, body),
            }
            return asyncio.create_task(
                one(load, "webhook", plain, "POST", f"{base}/hooks/kpis/{kpi_id}",
                    data=body.encode(), headers=headers)
            )  # fmt: skip

        def api() -> asyncio.Task[None]:
            auth = {"Authorization": f"Bearer {token}"}
            path = "/api/v1/kpis"
            if random.random() < 0.5:
                path += "/" + random.choice(kpi_ids)
            return asyncio.create_task(one(load, "api", plain, "GET", base + path, headers=auth))

        def home() -> asyncio.Task[None]:
            return asyncio.create_task(one(load, "home", browser, "GET", base + "/"))

        makers = {"webhook": webhook, "api": api, "home": home}

        async def at_rate(kind: str) -> None:
            interval = 1.0 / RATES[kind]
            next_at = time.monotonic()
            while next_at < until:
                task = makers[kind]()
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        await asyncio.gather(*(at_rate(kind) for kind in makers))
        if tasks:
            await asyncio.gather(*tasks)


def pulls(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok) "
            "FROM connectors_pullattempt"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def monitor(
    load: Load, url: str, named: dict[str, int], minutes: int, memory: list[dict[str, int]]
) -> None:
    seen = (0, 0)
    for number in range(minutes):
        await asyncio.sleep(max(0.0, load.started + 60 * (number + 1) - time.monotonic()))
        done = await asyncio.to_thread(pulls, url)
        ok, failed = done[0] - seen[0], done[1] - seen[1]
        seen = done
        rss = {name: rss_bytes(pid) for name, pid in named.items()}
        memory.append(rss)
        minute = load.minutes[number]
        rows = [
            [
                kind,
                minute.counts[kind],
                minute.errors[kind],
                dict(minute.statuses[kind]),
                percentile(minute.latencies[kind], 50),
                percentile(minute.latencies[kind], 99),
            ]
            for kind in RATES
        ]
        print_table(
            f"minute {number + 1}: pulls {ok} ok, {failed} failed; RSS "
            + ", ".join(f"{name} {value / 2**20:.1f} MiB" for name, value in rss.items()),
            ["kind", "requests", "errors", "statuses", "p50 ms", "p99 ms"],
            rows,
        )


def verdict(memory: list[dict[str, int]]) -> list[tuple[str, float, float, float, bool]]:
    """Per process: RSS after the warm-up minute, at the end, growth, and whether it is flat."""
    if len(memory) < 2:
        return []
    warm, last = memory[0], memory[-1]
    rows = []
    for name, start in warm.items():
        end = last.get(name, 0)
        peak_late = max(sample.get(name, 0) for sample in memory[len(memory) // 2 :])
        growth = max(end, peak_late) - start
        flat = growth <= max(GROWTH_FRACTION * start, GROWTH_BYTES)
        rows.append((name, start / 2**20, end / 2**20, growth / 2**20, flat))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=10, help="length of the load (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.minutes < 2:
        parser.error("--minutes must be at least 2 (the first minute is the warm-up)")
    if not pg_available():
        print("The soak needs PostgreSQL on 127.0.0.1:5432 (PULSEBOARD_BENCH_POSTGRES).")
        return 1

    directory = Path(tempfile.mkdtemp(prefix="pb-soak-"))
    certificates = make_certificates(directory)
    url = fresh_pg_database(DATABASE)
    env = bench_env(url, str(directory / "data"))
    env.update(
        PULSEBOARD_ALLOW_PRIVATE_CIDRS="127.0.0.1/32",
        PULSEBOARD_CA_BUNDLE=certificates.ca_path,
    )
    setup_django(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = worker = None
    with JsonEndpoint(
        certificates.server, default=Reply(body=lambda n: b'{"value": %d}' % (n % 50))
    ) as endpoint:
        try:
            began = time.monotonic()
            hooks, kpi_ids, token = prepare(endpoint)
            print(f"Prepared {PULL_SOURCES} pull sources and {HOOKS} webhook KPIs in "
                  f"{time.monotonic() - began:.0f} s; logs in {directory}")  # fmt: skip
            serve = spawn(env, directory, "serve", "serve", "--no-worker", "--port", str(port))
            wait_ready(base, serve, directory / "serve.log")
            worker = spawn(env, directory, "worker", "worker")
            named = processes(serve.pid, worker.pid)
            load = Load(started=time.monotonic())
            memory: list[dict[str, int]] = []

            async def run() -> None:
                until = load.started + 60 * args.minutes
                await asyncio.gather(
                    drive(base, hooks, kpi_ids, token, load, until),
                    monitor(load, url, named, args.minutes, memory),
                )

            asyncio.run(run())
        finally:
            for process in (worker, serve):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(30)
                    except subprocess.TimeoutExpired:
                        process.kill()

    with psycopg.connect(url) as conn:
        stored_row = conn.execute(
            "SELECT count(*) FROM kpi_history WHERE source = 'webhook'"
        ).fetchone()
    stored = int(stored_row[0]) if stored_row else -1
    done_ok, done_failed = pulls(url)
    if not args.keep:
        drop_pg_database(DATABASE)

    totals: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    p99s: dict[str, list[float]] = defaultdict(list)
    for minute in load.minutes.values():
        totals.update(minute.counts)
        errors.update(minute.errors)
        for kind, values in minute.latencies.items():
            p99s[kind].append(percentile(values, 99))
    memory_rows = verdict(memory)
    print_table(
        f"Soak verdict after {args.minutes} minutes ({os.cpu_count()} CPUs)",
        ["kind", "requests", "errors", "worst minute p99 ms"],
        [[kind, totals[kind], errors[kind], max(p99s[kind] or [0.0])] for kind in RATES],
    )
    print(f"  pulls: {done_ok} ok, {done_failed} failed "
          f"({done_failed / max(1, done_ok + done_failed):.0%}; {PULL_SOURCES // FAILING_EVERY} "
          f"of {PULL_SOURCES} sources answer 503)")  # fmt: skip
    if load.failures:
        print(f"  requests without an answer: {dict(load.failures)}")
    print(f"  webhook deliveries accepted {load.accepted} == history rows {stored}: "
          f"{'yes' if load.accepted == stored else 'NO'}")  # fmt: skip
    print_table(
        "Memory after the warm-up minute (RSS, MiB)",
        ["process", "after warm-up", "at the end", "growth", "flat"],
        [[name, start, end, growth, "yes" if flat else "NO"]
         for name, start, end, growth, flat in memory_rows],
    )  # fmt: skip
    healthy = (
        sum(errors.values()) == 0 and load.accepted == stored and all(row[4] for row in memory_rows)
    )
    print(f"\nSoak: {'PASS' if healthy else 'FAIL'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
