"""The full default drill on the emulator: total time, each stage, and the measured RTO.

    uv run python bench/drill.py [--runs 1] [--scenario planned-switchover] [--aws-timing]

Runs `drlib drill` (deploy, readiness, drill, lag, cost, failback, report, evidence), each
run a new process as `make drill` runs it, into a temporary outputs folder, and reports the
median total; the median of each notebook, split into its cells and the rest (taking over its
kernel, started ahead, or starting one); the runner's own time (the process's start and imports,
the emulator's start and stop, the lock, sealing); the RTO measured by the drill with the time
scale it ran at; and the ratio of the total to the 111 s a default drill took before the
declared time scale (issue 14's baseline). The aim is 30 s. Last, the part of the total that is
fixed observation windows and emulated AWS waits (at the declared time scale), which no faster
code shortens, and the rest; and the CPU time the run used (user and system, of `drlib drill` and
every process it waited for: kernels, Locust, Sceptre; not the PostgreSQL servers, which run
detached), with the shortest wall time that much work could take on this machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

BASELINE_S = 111.0
"""The default drill's wall time on these machines before the declared time scale."""
AIM_S = 30.0
"""Issue 14's aim for the whole default chain on these machines."""


def cell_seconds(notebook: Path) -> float:
    """Seconds the notebook's cells ran (papermill's per-cell durations); the rest of the
    notebook's time is papermill's and its kernel's (taken over, or started)."""
    if not notebook.exists():
        return 0.0
    nb = json.loads(notebook.read_text())
    return sum(float(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
               for cell in nb["cells"])


WAITS = {"baseline canaries": "the canaries' baseline before the switch",
         "DNS answers the secondary": "Route 53 detection and TTL, to the secondary",
         "observe": "the canaries after the switch",
         "DNS answers the primary": "Route 53 detection and TTL, back to the primary"}
"""Steps of the drill's timeline that are fixed observation windows or emulated AWS waits (at
the declared time scale): no faster emulator or runner shortens them."""


def fixed_waits(run_dir: Path) -> dict[str, float]:
    """Seconds of the run spent in fixed windows and emulated waits: the timeline's
    :data:`WAITS` and the load's writing window (``load/load.json``)."""
    from datetime import datetime

    metrics = json.loads((run_dir / "metrics.json").read_text())
    waits: dict[str, float] = {}
    for step in metrics.get("timeline") or []:
        if step.get("step") in WAITS and step.get("started_at") and step.get("ended_at"):
            waits[WAITS[step["step"]]] = (datetime.fromisoformat(step["ended_at"])
                                          - datetime.fromisoformat(step["started_at"])
                                          ).total_seconds()
    load = run_dir / "load" / "load.json"
    if load.exists():
        waits["the load's writing window"] = float(
            json.loads(load.read_text())["window"]["seconds"])
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--scenario", default="planned-switchover")
    parser.add_argument("--aws-timing", action="store_true",
                        help="Route 53 detection and DNS TTLs at AWS's pace (time scale 1.0)")
    args = parser.parse_args()
    totals: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    cells: dict[str, list[float]] = defaultdict(list)
    outside: list[float] = []
    cpu: list[float] = []
    waits: dict[str, list[float]] = defaultdict(list)
    rtos: list[float] = []
    statuses: list[str] = []
    drlib = str(Path(sys.executable).parent / "drlib")
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            # `drlib drill` as `make drill` runs it: a new process each time (imports, the
            # emulator, Sceptre's clients: nothing carried over from the run before)
            outputs = Path(tmp) / str(run)
            began = time.perf_counter()
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([drlib, "drill", "--scenario", args.scenario, "--outputs",
                            str(outputs), *(["--aws-timing"] if args.aws_timing else [])],
                           stdout=subprocess.DEVNULL, check=False)
            totals.append(time.perf_counter() - began)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime)
            run_dir = next(p for p in outputs.iterdir() if (p / "chain.json").exists())
            metrics = json.loads((run_dir / "metrics.json").read_text())
            scale = (metrics.get("time_scale") or {}).get("factor")
            chain_record = json.loads((run_dir / "chain.json").read_text())
            statuses.append(chain_record["status"])
            chain = chain_record["notebooks"]
            for nb in chain:
                name = nb["notebook"]
                stages[name].append(nb["seconds"])
                cells[name].append(cell_seconds(run_dir / f"{name}.ipynb"))
            outside.append(totals[-1] - sum(nb["seconds"] for nb in chain))
            for what, seconds in fixed_waits(run_dir).items():
                waits[what].append(seconds)
            rto = (metrics.get("measured") or {}).get("rto_seconds")
            if rto is not None:
                rtos.append(float(rto))
    print(f"scenario {args.scenario}, {args.runs} run(s), statuses {statuses}")
    print(f"{'stage':<22} {'median s':>9} {'in cells':>9} {'kernel':>7}")
    for stage, values in stages.items():
        inside = statistics.median(cells[stage])
        print(f"{stage:<22} {statistics.median(values):>9.1f} {inside:>9.1f} "
              f"{statistics.median(values) - inside:>7.1f}")
    print(f"{'runner (no notebook)':<22} {statistics.median(outside):>9.1f}")
    total = statistics.median(totals)
    print(f"{'total':<22} {total:>9.1f}   ratio to the 111 s baseline: {total / BASELINE_S:.2f}")
    if rtos:
        print(f"measured RTO (median): {statistics.median(rtos):.2f} s at time scale {scale} "
              "(a rehearsal figure, not AWS's, unless the scale is 1.0)")
    if waits:
        floor = sum(statistics.median(v) for v in waits.values())
        print(f"fixed windows and emulated waits (medians), which no faster code shortens: "
              f"{floor:.1f} s")
        for what, values in waits.items():
            print(f"  {what:<50} {statistics.median(values):>5.1f}")
        print(f"everything else (deploy, checks, runbooks, kernels, charts, evidence): "
              f"{total - floor:.1f} s")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    used_cpu = statistics.median(cpu)
    print(f"CPU time used (median; the drill's processes, not PostgreSQL's): {used_cpu:.1f} s; "
          f"on {cores} cores that work alone needs at least {used_cpu / (cores or 1):.1f} s of "
          "wall time")
    print(f"aim: whole drill <= {AIM_S:.0f} s -> {'met' if total <= AIM_S else 'NOT met'}")


if __name__ == "__main__":
    main()
