"""``drlib lock status|release --env E``: who holds an environment's drill lock, and freeing a
dead holder's lock.

``release`` frees only a lock whose holder is known to be dead (same host, its pid no longer that
process) or whose lock has expired, and only after confirmation (``--yes``, or typing the run id
when asked). A live holder's lock, or one held from another host, is refused: that drill is still
acting on the environment, or could be.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from drlib.errors import ConfigError, DrError
from drlib.timeline import iso, utc_now


def add_lock_commands(commands: Any) -> None:
    """Add ``lock status`` and ``lock release`` to the ``drlib`` subcommands."""
    lock = commands.add_parser("lock", help="show or free an environment's drill lock")
    actions = lock.add_subparsers(dest="lock_command", required=True, metavar="ACTION")
    for name, func, helptext in [
        ("status", _status, "who holds the environment's drill lock, until when, alive or not"),
        ("release", _release, "free a dead holder's lock (asks for confirmation)"),
    ]:
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("--env", default="dev", help="dev, staging or prod (default dev)")
        sub.add_argument("--target", default="local", choices=["local", "aws"])
        if name == "release":
            sub.add_argument("--yes", action="store_true",
                             help="confirm without the prompt (scripts)")
        sub.set_defaults(func=func)


def holder_alive(info: Any) -> bool | None:
    """Whether the holder process still runs: None when it cannot be told (another host)."""
    from drlib.emulator.patching import pid_alive

    if info.host != socket.gethostname():
        return None
    return pid_alive(info.pid)


def _open_lock(env: str, target_name: str) -> Any:
    from drlib.drill import drill_lock
    from drlib.stacks import SceptreProject
    from drlib.targets import open_target
    from drlib.workload import project_regions, workload_from_outputs

    project = SceptreProject(env)
    regions = project_regions(project.variables)
    target = open_target(target_name, regions)
    try:
        workload = workload_from_outputs(env, regions, project.outputs(""))
    except Exception as exc:
        raise ConfigError(f"The {env} workload is not deployed on {target_name}: no drill lock",
                          expected="the deployed stacks (the lock lives in the workload's table)",
                          found=f"{type(exc).__name__}: {exc}",
                          fix="nothing holds a lock here; deploy with drlib stacks launch") from exc
    return drill_lock(target, workload, run_id="drlib-lock-cli", owner="drlib lock")


def _describe(info: Any) -> str:
    now = utc_now()
    alive = holder_alive(info)
    life = {True: "holder process alive", False: "holder process GONE",
            None: "holder on another host (cannot check)"}[alive]
    expiry = ("EXPIRED at " if info.expired(now) else "expires at ") + str(iso(info.expires_at))
    return (f"{info.environment}: locked by {info.describe()}\n"
            f"  acquired {iso(info.acquired_at)}, {expiry} (renewed while its holder lives)\n"
            f"  {life}")


def _status(args: argparse.Namespace) -> int:
    lock = _open_lock(args.env, args.target)
    info = lock.backend.read(args.env)
    if info is None:
        print(f"{args.env}: not locked")
        return 0
    print(_describe(info))
    return 0


def _release(args: argparse.Namespace) -> int:
    lock = _open_lock(args.env, args.target)
    info = lock.backend.read(args.env)
    if info is None:
        print(f"{args.env}: not locked; nothing to release")
        return 0
    print(_describe(info))
    alive = holder_alive(info)
    if not info.expired(utc_now()) and alive is not False:
        raise DrError(
            f"The {args.env} drill lock is not released: its holder may still be acting",
            expected="a holder known to be dead (same host, process gone) or an expired lock",
            found=("the holder process is alive" if alive else
                   f"the holder runs on {info.host}, which this host cannot check"),
            fix=("stop that drill (Ctrl-C runs its abort path) or wait for it" if alive else
                 f"check on {info.host}; the lock expires by itself at {iso(info.expires_at)} "
                 "once its holder stops renewing it"))
    if not args.yes:
        if not sys.stdin.isatty():
            raise DrError("Releasing a drill lock needs confirmation",
                          expected="--yes, or an answer at the prompt", found="no terminal",
                          fix=f"drlib lock release --env {args.env} --yes")
        answer = input(f"type the run id {info.run_id} to release its lock: ").strip()
        if answer != info.run_id:
            print("not released")
            return 2
    holder = lock.backend.delete(info)
    if holder is not None:
        raise DrError("The lock changed hands while it was being released",
                      found=holder.describe(), fix="run drlib lock status again")
    print(f"released the {args.env} drill lock of {info.run_id}")
    return 0
