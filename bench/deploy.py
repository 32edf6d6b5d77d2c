"""Deploy time of both stack groups on the emulator: drlib (Sceptre's Python API, adaptive
polling) against the `sceptre` command line (4 s polls).

    uv run python bench/deploy.py [--runs 3] [--env dev]

Each run is a fresh process with a fresh emulator (Sceptre caches its boto3 clients per
process); the Lambda package is built once beforehand (cached), so the figures are the deployment
itself. Reports medians; the goal is the drlib path under 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drlib.emulator.server import running_emulator
from drlib.stacks import DEFAULT_PROJECT_DIR, SceptreProject


def drlib_deploy(env: str, state_dir: Path) -> float:
    with running_emulator(state_dir=state_dir, set_environment=True):
        began = time.perf_counter()
        SceptreProject(env).launch("")
        return time.perf_counter() - began


def cli_deploy(env: str, state_dir: Path) -> float:
    sceptre = str(Path(sys.executable).parent / "sceptre")
    with running_emulator(state_dir=state_dir, set_environment=True):
        began = time.perf_counter()
        subprocess.run([sceptre, "--var-file", f"vars/{env}.yaml", "launch", "--yes", ""],
                       cwd=DEFAULT_PROJECT_DIR, check=True, env=dict(os.environ),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - began


def one_run(path: str, env: str) -> float:
    """One deployment in a child process (fresh emulator, fresh Sceptre caches)."""
    done = subprocess.run([sys.executable, __file__, "--one", path, "--env", env],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", default="dev")
    parser.add_argument("--one", choices=["api", "cli"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            deploy = drlib_deploy if args.one == "api" else cli_deploy
            print(f"{deploy(args.env, Path(tmp)):.3f}")
        return
    one_run("api", args.env)  # builds and caches the Lambda package
    api = [one_run("api", args.env) for _ in range(args.runs)]
    cli = [one_run("cli", args.env) for _ in range(args.runs)]
    print(f"{'path':<14} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in (("drlib (API)", api), ("sceptre CLI", cli)):
        print(f"{name:<14} {len(values):>4} {statistics.median(values):>9.2f} "
              f"{min(values):>7.2f} {max(values):>7.2f}")
    ratio = statistics.median(cli) / statistics.median(api)
    print(f"sceptre CLI / drlib: {ratio:.2f}x; goal drlib < 10 s -> "
          f"{'met' if statistics.median(api) < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
