"""Print the one summary table of ``make bench`` from the scenarios' JSON results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from common import print_table


def load(directory: Path, name: str) -> dict[str, object] | None:
    path = directory / name
    return json.loads(path.read_text()) if path.exists() else None


def main() -> None:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    rows = []
    for db in ("postgresql", "sqlite"):
        ingest = load(directory, f"ingest-{db}.json")
        if ingest:
            throughput = ingest["throughput"]
            rows.append(
                [
                    db,
                    "webhook ingest req/s",
                    f"{throughput['webhook']:,.0f}",
                    f"{ingest['ratio_floor']:.2f} x one-row floor (target >= 0.5); "
                    f"{ingest['ratio_bare']:.2f} x bare",
                ]
            )
            rows.append(
                [
                    db,
                    "webhook p99 @ fixed rate",
                    f"{ingest['latency_p99']:.1f} ms",
                    "target <= 30 ms",
                ]
            )
            rows.append(
                [
                    db,
                    "accepted == stored",
                    f"{ingest['accepted']} / {ingest['stored']}",
                    "yes" if ingest["accepted"] == ingest["stored"] else "NO",
                ]
            )
        home = load(directory, f"home-{db}.json")
        if home:
            rows.append(
                [
                    db,
                    "Home p95 (30 KPIs)",
                    f"{home['big']['p95']:.1f} ms",
                    f"{home['ratio_p95']:.2f} x empty org (target <= 3; <= 30 ms)",
                ]
            )
            rows.append([db, "Home queries", str(home["queries"]), "constant in KPI count"])
        poll = load(directory, f"poll-{db}.json")
        if poll:
            rows.append(
                [
                    db,
                    "poll cycle pulls/s",
                    f"{poll['worker_rate']:,.0f}",
                    f"{poll['ratio']:.2f} x bare aiohttp (target >= 0.5)",
                ]
            )
            rows.append(
                [db, "worker peak RSS", f"{poll['peak_rss_mb']:.0f} MB", "target <= 300 MB"]
            )
            rows.append(
                [
                    db,
                    "due -> pulled lag",
                    f"p50 {poll['lag_p50']:.1f} s / p99 {poll['lag_p99']:.1f} s",
                    "",
                ]
            )
        imported = load(directory, f"import-{db}.json")
        if imported:
            rows.append(
                [
                    db,
                    f"history import rows/s ({imported['rows']:,.0f} rows, API)",
                    f"{imported['http_rows_per_s']:,.0f}",
                    f"in process {imported['in_process_rows_per_s']:,.0f} "
                    f"(parse {imported['parse_rows_per_s']:,.0f}, write "
                    f"{imported['write_rows_per_s']:,.0f})",
                ]
            )
        batch = load(directory, f"batch-{db}.json")
        if batch:
            rows.append(
                [
                    db,
                    "batch values/s (1,000 per POST /values)",
                    f"{batch['batch_values_per_s']:,.0f}",
                    f"{batch['speedup']:.1f} x single PUTs ({batch['single_values_per_s']:,.0f}/s)",
                ]
            )
        passed = load(directory, f"reevaluate-{db}.json")
        if passed:
            rows.append(
                [
                    db,
                    f"time pass, {passed['kpis']:,} due KPIs",
                    f"{passed['repeat_s']:.1f} s",
                    f"{passed['repeat_s'] / passed['bare_select_s']:.1f} x a bare SELECT of "
                    f"the rows; first pass {passed['first_s']:.1f} s",
                ]
            )
    print_table(
        "Pulseboard benchmarks (this machine, this run)", ["db", "measure", "value", "vs"], rows
    )


if __name__ == "__main__":
    main()
