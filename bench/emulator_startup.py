"""Emulator start-up time: median of several starts, cold (new process) and warm (in-process).

    uv run python bench/emulator_startup.py [--runs 5]

Cold: ``drlib emulator start`` in a new process until it answers (imports included), as a user
or CI sees it. Warm: ``Emulator().start()`` again in a process that has already imported moto.
The goal is a cold start under 2 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from drlib.emulator import daemon
from drlib.emulator.server import Emulator


def cold_start(state_dir: Path) -> float:
    began = time.perf_counter()
    daemon.start(state_dir=state_dir)
    elapsed = time.perf_counter() - began
    daemon.stop(state_dir=state_dir)
    return elapsed


def warm_start(state_dir: Path) -> float:
    began = time.perf_counter()
    emulator = Emulator(state_dir=state_dir).start()
    elapsed = time.perf_counter() - began
    emulator.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cold = [cold_start(Path(tmp) / f"cold{i}") for i in range(args.runs)]
        warm = [warm_start(Path(tmp) / f"warm{i}") for i in range(args.runs)]
    print(f"{'start':<6} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in (("cold", cold), ("warm", warm)):
        print(f"{name:<6} {len(values):>4} {statistics.median(values):>9.3f} "
              f"{min(values):>7.3f} {max(values):>7.3f}")
    print(f"goal: cold median < 2 s -> {'met' if statistics.median(cold) < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
