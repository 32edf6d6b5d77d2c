"""Load that scales: acknowledged canary writes per second, lost records and lag percentiles,
one Locust process against a master and two workers on loopback.

    uv run python bench/load.py [--duration 60] [--users 8] [--rate 0] [--modes 0,2]

Starts the emulator in this process (as `drlib drill` does), deploys the dev stacks, then runs
`drlib.load.run_load` once per mode (0: one process; N: a master and N worker processes) for
``--duration`` seconds at ``--rate`` writes/s per store (0: as fast as the users go) with
``--users`` Locust users per store. Prints, per mode: acknowledged writes per second (total and
per store, over the run's window, and the median and minimum of whole seconds), lost records,
lag p50/p95/p99/max per store with the resolution they rest on, and the host's load average
(the machine may be shared: the figures are what this host gave at that load). The aim
(issue 14): 2,000 acknowledged writes/s in total for 60 s on 2 cores, zero lost.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drlib.emulator.server import running_emulator
from drlib.load import run_load
from drlib.session import Session
from drlib.stacks import SceptreProject
from drlib.targets import open_target
from drlib.workload import project_regions, workload_from_outputs

AIM_PER_S = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=0.0, help="writes/s per store; 0: max")
    parser.add_argument("--users", type=int, default=8, help="Locust users per store")
    parser.add_argument("--modes", default="0,2",
                        help="comma-separated worker counts (0: one process)")
    parser.add_argument("--stores", default="aurora,dynamodb,s3")
    args = parser.parse_args()
    stores = args.stores.split(",")
    print(f"host: {os.cpu_count()} cores, load average before "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp, running_emulator(set_environment=True):
        project = SceptreProject("dev")
        project.launch("")
        regions = project_regions(project.variables)
        workload = workload_from_outputs("dev", regions, project.outputs(""))
        session = Session("dev", open_target("local", regions), project, Path(tmp),
                          _workload=workload)
        for workers in (int(m) for m in args.modes.split(",")):
            folder = Path(tmp) / f"load-{workers}"
            run = run_load(session, stores=stores, rate_per_second=args.rate,
                           duration_s=args.duration, users_per_store=args.users,
                           workers=workers, folder=folder,
                           progress=lambda line: print(line, flush=True)
                           if line.startswith("[load]") else None)
            results.append((workers, run.figures))
    print()
    for workers, f in results:
        mode = f"master + {workers} workers" if workers else "1 process"
        total = f["total"]
        met = ((total["acknowledged_per_s"] or 0) >= AIM_PER_S and not total["lost"]
               and f["window"]["seconds"] >= 59)
        print(f"== {mode}: {total['acknowledged']:,} acknowledged of {total['attempted']:,} "
              f"in {f['window']['seconds']:.1f} s = {total['acknowledged_per_s']:,.0f}/s "
              f"(whole seconds: median {total['per_second_median']}, min "
              f"{total['per_second_min']}); lost {total['lost']}; aim {AIM_PER_S:,}/s for 60 s "
              f"-> {'met' if met else 'NOT met'}")
        host = f["host"]
        print(f"   load average 1/5/15 min: before {host['loadavg_1_5_15_before']}, after "
              f"{host['loadavg_1_5_15_after']}; reconciliation "
              f"{f['reconciliation']['seconds']} s")
        print(f"   {'store':<9} {'acked/s':>8} {'acked':>8} {'errors':>7} {'lost':>5} "
              f"{'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7} {'res. med s':>10} "
              f"{'res. max s':>10}")
        for store, s in f["stores"].items():
            lag = s["lag"]

            def fmt(v: float | None) -> str:
                return "-" if v is None else f"{v:.3f}"
            print(f"   {store:<9} {s['acknowledged_per_s'] or 0:>8.0f} {s['acknowledged']:>8,} "
                  f"{s['attempted'] - s['acknowledged']:>7,} {s['lost']:>5} "
                  f"{fmt(lag['p50_s']):>7} {fmt(lag['p95_s']):>7} {fmt(lag['p99_s']):>7} "
                  f"{fmt(lag['max_s']):>7} {fmt(lag['resolution_median_s']):>10} "
                  f"{fmt(lag['resolution_max_s']):>10}")


if __name__ == "__main__":
    main()
