"""The full default drill on the emulator: total time, each stage, and the measured RTO.

    uv run python bench/drill.py [--runs 1] [--scenario planned-switchover]

Runs `drlib drill` (deploy, readiness, drill, lag, cost, failback, report, evidence) into a
temporary outputs folder and reports the median total, the median of each notebook, and the
RTO measured by the drill. The goal is the whole drill under 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from drlib.runner import DrillRequest, run_drill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--scenario", default="planned-switchover")
    args = parser.parse_args()
    totals: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    rtos: list[float] = []
    statuses: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            began = time.perf_counter()
            result = run_drill(DrillRequest(scenario=args.scenario, outputs_dir=Path(tmp)),
                               progress=lambda line: None)
            totals.append(time.perf_counter() - began)
            statuses.append(result.status)
            for nb in json.loads((result.run_dir / "chain.json").read_text())["notebooks"]:
                stages[nb["notebook"]].append(nb["seconds"])
            rto = (result.metrics.get("measured") or {}).get("rto_seconds")
            if rto is not None:
                rtos.append(float(rto))
    print(f"scenario {args.scenario}, {args.runs} run(s), statuses {statuses}")
    print(f"{'stage':<22} {'median s':>9}")
    for stage, values in stages.items():
        print(f"{stage:<22} {statistics.median(values):>9.1f}")
    print(f"{'total':<22} {statistics.median(totals):>9.1f}")
    if rtos:
        print(f"measured RTO (median): {statistics.median(rtos):.2f} s")
    print(f"goal: whole drill < 60 s -> {'met' if statistics.median(totals) < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
