"""Print the one summary table of ``make bench`` from the scenarios' JSON results.

One row per measure: its figure, the ratio against the baseline measured in the same
run (where it has one), the target and whether it is met ("—" where there is no target,
only a figure to watch). Scenarios whose JSON is missing are left out.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import print_table

Row = list[str]


def load(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / name
    return json.loads(path.read_text()) if path.exists() else None


def met(ok: bool) -> str:
    return "yes" if ok else "no"


def ingest(db: str, data: dict[str, Any]) -> list[Row]:
    throughput = data["throughput"]
    ratio = data["ratio_floor"]
    return [
        [
            db,
            "webhook ingest",
            f"{throughput['webhook']:,.0f} req/s",
            f"{ratio:.2f} x one-row floor ({throughput['one-row floor']:,.0f}/s); "
            f"{data['ratio_bare']:.2f} x bare",
            ">= 0.5 x floor",
            met(ratio >= 0.5),
        ],
        [
            db,
            "webhook p99 at a fixed rate",
            f"{data['latency_p99']:,.1f} ms",
            "",
            "<= 30 ms",
            met(data["latency_p99"] <= 30),
        ],
        [
            db,
            "accepted deliveries == history rows",
            f"{data['accepted']:,} / {data['stored']:,}",
            "",
            "equal",
            met(data["accepted"] == data["stored"]),
        ],
    ]


def poll(db: str, data: dict[str, Any]) -> list[Row]:
    return [
        [
            db,
            "poll cycle",
            f"{data['worker_rate']:,.0f} pulls/s",
            f"{data['ratio']:.2f} x bare aiohttp",
            ">= 0.5 x",
            met(data["ratio"] >= 0.5),
        ],
        [
            db,
            "worker peak RSS",
            f"{data['peak_rss_mb']:.0f} MB",
            "",
            "<= 300 MB",
            met(data["peak_rss_mb"] <= 300),
        ],
        [
            db,
            "worker CPU per pull",
            f"{data['worker_cpu_ms_per_pull']:.2f} ms" if "worker_cpu_ms_per_pull" in data else "-",
            "",
            "—",
            "—",
        ],
        [
            db,
            "poll lag due -> pulled",
            f"p50 {data['lag_p50']:.1f} s, p99 {data['lag_p99']:.1f} s",
            "",
            "—",
            "—",
        ],
    ]


def _queries(value: object) -> str:
    """Query counts: a number, or {"30 KPIs": 7, "0 KPIs": 6} as "7 (30 KPIs), 6 (0 KPIs)"."""
    if isinstance(value, dict):
        return ", ".join(f"{count} ({label})" for label, count in value.items())
    return str(value)


def home(db: str, data: dict[str, Any]) -> list[Row]:
    p95, ratio = data["big"]["p95"], data["ratio_p95"]
    return [
        [
            db,
            "Home p95, 30 KPIs",
            f"{p95:.1f} ms",
            f"{ratio:.2f} x empty org",
            "<= 30 ms and <= 3 x",
            met(p95 <= 30 and ratio <= 3),
        ],
        [db, "Home SQL queries", _queries(data["queries"]), "", "constant in KPIs", "—"],
    ]


def live_poll(db: str, data: dict[str, Any]) -> list[Row]:
    ratio, target = data["ratio"], data.get("target", 0.5)
    throughput = data["throughput"]
    unchanged = next((v for k, v in throughput.items() if "304" in k), 0.0)
    return [
        [
            db,
            "live poll, unchanged (304)",
            f"{unchanged:,.0f} req/s",
            f"{ratio:.2f} x /healthz",
            f">= {target} x",
            met(ratio >= target and data.get("all_304", True)),
        ]
    ]


def badge(db: str, data: dict[str, Any]) -> list[Row]:
    ratio = data["ratio_badge"]
    return [
        [
            db,
            "share badge SVG",
            f"{data['throughput']['badge .svg']:,.0f} req/s",
            f"{ratio:.2f} x /healthz (tile {data['ratio_tile']:.2f} x)",
            ">= 0.3 x",
            met(ratio >= 0.3 and data.get("all_ok", True)),
        ]
    ]


def reevaluate(db: str, data: dict[str, Any]) -> list[Row]:
    kpis = data["kpis"]
    return [
        [
            db,
            f"time pass over {kpis:,} KPIs",
            f"first {data['first_s']:.2f} s, repeat {data['repeat_s']:.2f} s",
            f"repeat {data['repeat_s'] / data['bare_select_s']:.1f} x a bare SELECT of the rows",
            "— (time per pass)",
            "—",
        ]
    ]


def history_import(db: str, data: dict[str, Any]) -> list[Row]:
    return [
        [
            db,
            f"history import ({data['rows']:,} rows, API)",
            f"{data['http_rows_per_s']:,.0f} rows/s",
            f"in process {data['in_process_rows_per_s']:,.0f} rows/s",
            "— (rows/s)",
            "—" if data.get("stored_ok", True) else "NO: rows missing",
        ]
    ]


def batch(db: str, data: dict[str, Any]) -> list[Row]:
    return [
        [
            db,
            "batch values (1,000 per POST /values)",
            f"{data['batch_values_per_s']:,.0f} values/s",
            f"{data['speedup']:.1f} x single PUTs ({data['single_values_per_s']:,.0f}/s)",
            "— (values/s)",
            "—" if data.get("stored_ok", True) else "NO: rows missing",
        ]
    ]


# (file prefix, rows of it), in the order of the table; files are "<prefix>-<db>.json".
SCENARIOS: list[tuple[str, Callable[[str, dict[str, Any]], list[Row]]]] = [
    ("ingest", ingest),
    ("poll", poll),
    ("home", home),
    ("live-poll", live_poll),
    ("badge", badge),
    ("reevaluate", reevaluate),
    ("import", history_import),
    ("batch", batch),
]


def main() -> None:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    rows: list[Row] = []
    for db in ("postgresql", "sqlite"):
        for prefix, rows_of in SCENARIOS:
            data = load(directory, f"{prefix}-{db}.json")
            if data is not None:
                rows.extend(rows_of(db, data))
    print_table(
        "Pulseboard benchmarks (this machine, this run; ratios against same-run baselines)",
        ["db", "scenario", "figure", "ratio, same run", "target", "met"],
        rows,
    )


if __name__ == "__main__":
    main()
