"""Shared kit for the benchmarks: throwaway databases, Django set-up, percentiles, tables.

Benchmarks connect only to 127.0.0.1 servers they start themselves (or the local
PostgreSQL), run bounded loads, and print figures: nothing here asserts a time.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("PULSEBOARD_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def pg_available() -> bool:
    try:
        psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _own(name: str) -> str:
    """``name`` plus ``PULSEBOARD_BENCH_DB_SUFFIX``: two people benchmarking on one server
    at once must not drop each other's databases."""
    return name + os.environ.get("PULSEBOARD_BENCH_DB_SUFFIX", "")


def fresh_pg_database(name: str) -> str:
    """Drop and create ``name`` on the local server; return its URL."""
    assert name.startswith("pb_bench"), "benchmarks only touch their own databases"
    name = _own(name)
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def drop_pg_database(name: str) -> None:
    name = _own(name)
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(database_url: str | None, data_dir: str | None = None) -> dict[str, str]:
    """Environment for a benchmark process: production settings on the given database."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEBOARD_")}
    env.pop("DATABASE_URL", None)
    env["PULSEBOARD_DATA_DIR"] = data_dir or tempfile.mkdtemp(prefix="pb-bench-")
    env["PULSEBOARD_SECRET_KEY"] = "bench-secret-key-not-for-production-use-0123456789"
    env["PULSEBOARD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    env["PULSEBOARD_LOG_LEVEL"] = "WARNING"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulseboard.config.settings")
    import django

    django.setup()


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times in milliseconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(times),
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
        "p99": percentile(times, 99),
        "mean": statistics.fmean(times) if times else float("nan"),
    }


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    rows = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
