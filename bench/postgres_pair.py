"""The Aurora stand-in's costs: pair start, commit-to-visible lag, promotion, switchover, failover.

    uv run python bench/postgres_pair.py [--runs 5] [--lag-samples 50]

Measured directly on the pair manager (:mod:`drlib.emulator.pgpair`):

* **template**: ``initdb`` plus configuration, paid once per emulator process;
* **pair start**: a new primary (template copy, start) plus a hot standby (``pg_basebackup -R``,
  start), until both accept connections;
* **commit to visible**: a heartbeat committed on the primary until a reader polling the standby
  every 2 ms sees it;
* **promotion**: ``pg_promote`` of a caught-up standby.

And through the RDS API of an in-process emulator (what a drill sees):

* **global database**: ``create_db_cluster`` of the writer plus the secondary, both returned;
* **switchover**: ``switchover_global_cluster`` until ``describe_global_clusters`` says
  ``available`` (alternating direction, polled every 20 ms);
* **failover**: ``failover_global_cluster(AllowDataLoss=True)`` until ``available``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drlib.aws import AwsClients
from drlib.emulator.pgpair import (
    LagProbe,
    PgRuntime,
    PgServer,
    start_primary,
    start_standby,
    wait_caught_up,
)
from drlib.emulator.server import running_emulator
from drlib.waiting import wait_until

GLOBAL_ID = "bench-gdb"


def timed(action: Callable[[], Any]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def pair_figures(runs: int, lag_samples: int) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp(prefix="drlib-pgbench-"))
    runtime = PgRuntime(root=root, socket_dir=root / ".s")
    runtime.prepare()
    figures: dict[str, list[float]] = {"template": [timed(runtime.template)],
                                       "pair start": [], "commit to visible": [],
                                       "promotion": []}
    for run in range(runs):
        primary = PgServer(runtime, f"p{run}", root / str(run) / "east")
        standby = PgServer(runtime, f"s{run}", root / str(run) / "west")
        figures["pair start"].append(timed(lambda p=primary, s=standby: (
            start_primary(p), start_standby(s, p))))
        if run == 0:
            probe = LagProbe()
            for _ in range(lag_samples):
                probe.beat(primary)
                lag = probe.measure(standby, poll_for=2.0)
                if lag is not None:
                    figures["commit to visible"].append(lag)
        wait_caught_up(standby, primary)
        figures["promotion"].append(timed(standby.promote))
        primary.remove()
        standby.remove()
    shutil.rmtree(root, ignore_errors=True)
    return figures


def api_figures(runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"global database": [], "switchover": [], "failover": []}
    with tempfile.TemporaryDirectory() as state_dir, running_emulator(
            state_dir=Path(state_dir)) as emulator:
        aws = AwsClients(endpoint_url=emulator.endpoint_url,
                         credentials={"aws_access_key_id": "testing",
                                      "aws_secret_access_key": "testing"})
        east, west = aws.client("rds", "us-east-1"), aws.client("rds", "us-west-2")

        def available() -> bool:
            gc = east.describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)
            return gc["GlobalClusters"][0]["Status"] == "available"

        def wait() -> None:
            wait_until(available, description="the global cluster", timeout=120,
                       interval=0.02, backoff=1.0)

        def create() -> list[str]:
            return [east.create_db_cluster(
                        DBClusterIdentifier="bench-east", Engine="aurora-postgresql",
                        GlobalClusterIdentifier=GLOBAL_ID, MasterUsername="bench",
                        MasterUserPassword="bench-password")["DBCluster"]["DBClusterArn"],
                    west.create_db_cluster(
                        DBClusterIdentifier="bench-west", Engine="aurora-postgresql",
                        GlobalClusterIdentifier=GLOBAL_ID)["DBCluster"]["DBClusterArn"]]

        for _ in range(runs):
            emulator.reset()
            east.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID,
                                       Engine="aurora-postgresql")
            began = time.perf_counter()
            east_arn, west_arn = create()
            figures["global database"].append(time.perf_counter() - began)
            began = time.perf_counter()
            east.switchover_global_cluster(GlobalClusterIdentifier=GLOBAL_ID,
                                           TargetDbClusterIdentifier=west_arn)
            wait()
            figures["switchover"].append(time.perf_counter() - began)
            began = time.perf_counter()
            east.failover_global_cluster(GlobalClusterIdentifier=GLOBAL_ID,
                                         TargetDbClusterIdentifier=east_arn, AllowDataLoss=True)
            wait()
            figures["failover"].append(time.perf_counter() - began)
        emulator.reset()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lag-samples", type=int, default=50)
    args = parser.parse_args()
    figures = {**pair_figures(args.runs, args.lag_samples), **api_figures(args.runs)}
    print(f"{'measure':<18} {'n':>3} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'max ms':>8}")
    for name, values in figures.items():
        ms = sorted(v * 1000 for v in values)
        p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
        print(f"{name:<18} {len(ms):>3} {statistics.median(ms):>10.1f} {p90:>8.1f} "
              f"{ms[0]:>8.1f} {ms[-1]:>8.1f}")


if __name__ == "__main__":
    main()
