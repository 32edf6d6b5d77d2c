"""``drlib emulator fault ACTION ...``: inject and list faults in the running background emulator.

The command talks HTTP to the emulator recorded by :func:`drlib.emulator.daemon.read_state`
(``POST /_drlib/faults``, ``GET /_drlib/faults``), so it works from any shell while a drill or a
notebook uses the same emulator; with no background emulator it reaches the one a running
``drlib drill`` serves in its own process (recorded in ``.drlib/drill-emulator``). Actions::

    pause-replication STORE      resume-replication STORE     set-delay STORE SECONDS
    region-down REGION           region-up REGION
    fail-health-check ID         restore-health-check ID
    health-check-time-scale SCALE (Route 53 timing: 1.0 is AWS's, 0.05 twenty times faster)
    clear                        list
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from drlib.emulator.faults import STORES
from drlib.errors import EmulatorError

FAULTS_ROUTE = "/_drlib/faults"
TIME_SCALE_ROUTE = "/_drlib/route53/health-check-time-scale"
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+")


def region_name(value: str) -> str:
    """An AWS region name such as us-east-1; argparse reports anything else."""
    if not _REGION.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an AWS region name (expected e.g. us-east-1, us-west-2)")
    return value


_ACTIONS: dict[str, tuple[str, list[tuple[str, dict[str, Any]]]]] = {
    "pause-replication": ("stop applying replicated writes of STORE (they queue)",
                          [("store", {"choices": STORES})]),
    "resume-replication": ("apply the queued and future replicated writes of STORE",
                           [("store", {"choices": STORES})]),
    "set-delay": ("make replicated writes of STORE wait SECONDS",
                  [("store", {"choices": STORES}), ("seconds", {"type": float})]),
    "region-down": ("take REGION's data plane down (its stores refuse clients)",
                    [("region", {"type": region_name})]),
    "region-up": ("bring REGION's data plane back", [("region", {"type": region_name})]),
    "fail-health-check": ("make Route 53 health check ID report failure",
                          [("health_check_id", {"metavar": "ID"})]),
    "restore-health-check": ("remove the injected failure from health check ID",
                             [("health_check_id", {"metavar": "ID"})]),
    "clear": ("remove every injected fault (the log is kept)", []),
}


def add_fault_commands(emulator_commands: Any) -> argparse.ArgumentParser:
    """Add ``fault`` and its actions to the ``drlib emulator`` subcommands."""
    fault = emulator_commands.add_parser(
        "fault", help="inject, remove and list faults in the background emulator",
        description="Inject, remove and list faults in the background emulator started with "
                    "`drlib emulator start`; every change is logged with a UTC timestamp.")
    actions = fault.add_subparsers(dest="fault_action", required=True, metavar="ACTION")
    for name, (helptext, arguments) in _ACTIONS.items():
        sub = actions.add_parser(name, help=helptext, description=helptext)
        for dest, options in arguments:
            sub.add_argument(dest, **options)
        _add_state_dir(sub)
        sub.set_defaults(func=run_fault_action)
    scale = actions.add_parser(
        "health-check-time-scale", help="scale Route 53 health-check timing (1.0 = AWS's)",
        description="Route 53 changes a health check's status after FailureThreshold x "
                    "RequestInterval seconds; the emulator multiplies that by SCALE.")
    scale.add_argument("scale", type=float)
    _add_state_dir(scale)
    scale.set_defaults(func=run_time_scale)
    listing = actions.add_parser("list", help="show the current faults and the fault log")
    _add_state_dir(listing)
    listing.set_defaults(func=run_list)
    return fault


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the background emulator's state directory (default .drlib/emulator)")


def emulator_url(state_dir: Path | None) -> str:
    """The endpoint of the running background emulator, or an error saying how to start one."""
    from drlib.emulator import daemon

    proc = daemon.read_state(state_dir)
    if proc is None and state_dir is None:
        # No background emulator: the one a running `drlib drill` serves itself.
        proc = daemon.read_state(daemon.drill_state_dir())
    if proc is None:
        where = state_dir or ("the default state directory (.drlib/emulator) or a running "
                              "drill's (.drlib/drill-emulator)")
        raise EmulatorError(
            "No emulator is running",
            expected=f"a background emulator recorded in {where}",
            found="no running emulator",
            fix="start one with: drlib emulator start"
                + (f" --state-dir {state_dir}" if state_dir else ""),
        )
    return proc.endpoint_url


def call_control(endpoint_url: str, method: str, route: str,
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One control-API request; a refusal or an unreachable emulator becomes an EmulatorError."""
    try:
        answer = requests.request(method, f"{endpoint_url}{route}", json=body, timeout=30)
    except requests.RequestException as exc:
        raise EmulatorError(f"The emulator on {endpoint_url} does not answer",
                            found=str(exc), fix="check it with: drlib emulator status") from exc
    payload = answer.json() if answer.content else {}
    if not answer.ok:
        raise EmulatorError(f"The emulator refused {method} {route}",
                            expected="a valid fault request",
                            found=f"HTTP {answer.status_code}: {payload.get('error', answer.text)}",
                            fix="see: drlib emulator fault --help")
    return dict(payload)


def fault_request(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON body of ``POST /_drlib/faults`` for the parsed action."""
    body: dict[str, Any] = {"action": args.fault_action}
    for dest, _ in _ACTIONS[args.fault_action][1]:
        body[dest] = getattr(args, dest)
    return body


def run_fault_action(args: argparse.Namespace) -> int:
    """Apply one fault action and print what changed and what is now injected."""
    answer = call_control(emulator_url(args.state_dir), "POST", FAULTS_ROUTE, fault_request(args))
    event = answer["event"]
    detail = "".join(f" {k}={v}" for k, v in event.get("detail", {}).items())
    print(f"{event['at']}  {event['action']} {event['target']}{detail}")
    print(render_current(answer["faults"]))
    return 0


def run_time_scale(args: argparse.Namespace) -> int:
    """Set the Route 53 health-check time scale."""
    answer = call_control(emulator_url(args.state_dir), "POST", TIME_SCALE_ROUTE,
                          {"scale": args.scale})
    print(f"Route 53 health-check time scale: {answer['scale']:g}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the current faults and the log as tables."""
    url = emulator_url(args.state_dir)
    snapshot = call_control(url, "GET", FAULTS_ROUTE)
    scale = call_control(url, "GET", TIME_SCALE_ROUTE)["scale"]
    print(render_current(snapshot))
    print(f"Route 53 health-check time scale: {scale:g}")
    print()
    print(render_log(snapshot["log"]))
    return 0


def render_current(snapshot: dict[str, Any]) -> str:
    """The faults injected right now, one row per kind."""
    delays = ", ".join(f"{store} {seconds:g} s"
                       for store, seconds in sorted(snapshot["replication_delay"].items()))
    rows = [
        ("replication paused", ", ".join(snapshot["paused_stores"])),
        ("replication delay", delays),
        ("regions down", ", ".join(snapshot["regions_down"])),
        ("failed health checks", ", ".join(snapshot["failed_health_checks"])),
    ]
    return render_table(("fault", "now"), [(k, v or "-") for k, v in rows])


def render_log(log: list[dict[str, Any]]) -> str:
    """The fault log, oldest first."""
    if not log:
        return "fault log: empty"
    rows = [(e["at"], e["action"], e["target"],
             " ".join(f"{k}={v}" for k, v in e.get("detail", {}).items()) or "-") for e in log]
    return render_table(("at (UTC)", "action", "target", "detail"), rows)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned text table with a rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)
