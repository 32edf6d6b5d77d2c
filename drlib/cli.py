"""The ``drlib`` command line.

Every subcommand is a thin call into drlib. A :class:`~drlib.errors.DrError` is printed without a
traceback (unless ``--debug``) and the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from drlib.errors import DrError

if TYPE_CHECKING:
    from drlib.stacks import SceptreProject, StackDrift

Command = Callable[[argparse.Namespace], int]


def _emulator_start(args: argparse.Namespace) -> int:
    from drlib.emulator import daemon

    proc = daemon.start(port=args.port, state_dir=args.state_dir)
    print(daemon.describe_environment(proc.endpoint_url))
    print(f"pid {proc.pid}; log {proc.state_dir / daemon.LOG_FILE}; stop with: drlib emulator stop")
    return 0


def _emulator_stop(args: argparse.Namespace) -> int:
    from drlib.emulator import daemon

    proc = daemon.stop(state_dir=args.state_dir)
    print("no emulator was running" if proc is None else f"stopped the emulator (pid {proc.pid})")
    return 0


def _emulator_status(args: argparse.Namespace) -> int:
    from drlib.emulator import daemon

    proc = daemon.read_state(args.state_dir)
    if proc is None:
        print("not running")
        return 1
    state = "answering" if proc.answers() else "NOT answering"
    print(f"running: pid {proc.pid}, {proc.endpoint_url}, {state}; state in {proc.state_dir}")
    print(f"dns: {proc.dns_address or 'not serving'}")
    return 0 if proc.answers() else 1


def _emulator_reset(args: argparse.Namespace) -> int:
    from drlib.emulator import daemon

    proc = daemon.reset(state_dir=args.state_dir)
    print(f"reset the emulator on {proc.endpoint_url}")
    return 0


def _emulator_serve(args: argparse.Namespace) -> int:
    from drlib.emulator import daemon

    daemon.serve(port=args.port, state_dir=args.state_dir)
    return 0


def _drill(args: argparse.Namespace) -> int:
    from drlib.notebook_params import ENVIRONMENTS
    from drlib.runner import DrillRequest, chain_parameters, preflight_drill, run_drill

    if args.env == "prod" and not args.yes and not args.dry_run:
        raise DrError("A production drill needs explicit confirmation",
                      expected="--yes together with --env prod", found="no --yes",
                      fix="re-run with --yes once the change is approved, or use --dry-run")
    if args.env not in ENVIRONMENTS:
        raise DrError(f"Unknown environment {args.env!r}", expected=", ".join(ENVIRONMENTS))
    request = DrillRequest(environment=args.env, scenario=args.scenario, target=args.target,
                           confirm_production=args.yes, dry_run=args.dry_run,
                           outputs_dir=args.outputs.resolve(), upload=args.upload,
                           aws_timing=args.aws_timing)
    if args.dry_run:
        from drlib.drill import describe_plan
        from drlib.rto_model import model_from_settings

        project = preflight_drill(request)
        print(describe_plan(args.scenario, args.env, args.target))
        if args.scenario != "data-corruption":  # the model is of a failover's RTO
            print("\n".join(model_from_settings(args.env, project.variables,
                                                args.scenario).lines()))
        print("notebook chain (parameters validated):")
        for notebook, params in chain_parameters(request, Path("<run folder>")).items():
            shown = {k: v for k, v in params.items() if k != "run_dir"}
            print(f"  {notebook}: {shown}")
        print("dry run: nothing was changed")
        return 0
    result = run_drill(request)
    print(_summary(result))
    return result.exit_code


def _summary(result: object) -> str:
    from drlib.runner import RunResult

    assert isinstance(result, RunResult)
    return "\n".join([f"verdict: {result.status.upper()}",
                      *measured_summary_lines(result.metrics),
                      *[f"  notebook {nb.notebook} failed: {nb.error}"
                        for nb in result.notebooks if nb.outcome == "failed"],
                      f"evidence: {result.run_dir}",
                      # The auditor's report, rendered from the sealed manifest: one file.
                      *[f"report:   {path}" for path in [result.run_dir / "report.html"]
                        if path.is_file()]])


def _seconds(value: object) -> str:
    """A duration as the console shows them (milliseconds), or what was recorded instead."""
    return f"{value:.3f} s" if isinstance(value, int | float) else f"{value} s"


def measured_summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per store: writes counted, write outage, RTO and RPO (with what it rests on); then the
    verdict's findings. Reads metrics.json's blocks only."""
    measured = metrics.get("measured") or {}
    assert isinstance(measured, dict)
    rto = measured.get("rto_seconds")
    slowest = (measured.get("rto") or {}).get("store")
    time_scale = metrics.get("time_scale") or {}
    assert isinstance(time_scale, dict)
    scale = time_scale.get("factor", 1.0)
    pace = "" if scale == 1.0 else f"; time scale {scale:g}, a rehearsal figure, not AWS's"
    lines = [f"RTO: {rto:.2f} s (slowest store: {slowest}{pace})"
             if isinstance(rto, int | float) else "RTO: not measured"]
    writes = measured.get("writes") or {}
    outage = measured.get("write_outage") or {}
    rto_per_store = measured.get("rto_per_store") or {}
    evidence = measured.get("rpo_evidence") or {}
    for store in sorted(set(writes) | set(measured.get("rpo") or {})):
        w = writes.get(store) or {}
        if w:
            classes = ", ".join(f"{n} {c}" for c, n in (w.get("rejected_by_class") or {}).items())
            lines.append(f"{store}: {w.get('attempted')} writes, {w.get('acknowledged')} "
                         f"acknowledged, {w.get('rejected')} rejected"
                         f"{f' ({classes})' if classes else ''}, {w.get('timed_out')} timed out")
        o = outage.get(store) or {}
        if o.get("seconds") is not None:
            resolution = _seconds(o.get("resolution_s"))
            lines.append(f"  write outage {o['seconds']:.3f} s: last ack {o.get('last_ack_region')}"
                         f" #{o.get('last_ack_seq')}, first ack {o.get('first_ack_region')} "
                         f"#{o.get('first_ack_seq')} (resolution {resolution})")
        r = (rto_per_store.get(store) or {}).get("rto_seconds")
        if r is not None:
            lines.append(f"  RTO {r:.3f} s")
        value = (measured.get("rpo") or {}).get(store)
        if value:
            proof = evidence.get(store) or {}
            rests = (f"; {proof.get('acknowledged_in_window')} acknowledged in the "
                     f"{proof.get('window_s')} s before the cutover" if proof else "")
            if value.get("tested", True):
                lines.append(f"  RPO {value.get('lost_records')} lost of "
                             f"{value.get('acknowledged')} acknowledged, span "
                             f"{value.get('span_seconds', 0):.3f} s{rests}")
            else:
                lines.append(f"  RPO NOT TESTED: {proof.get('reason')}")
    verdict = metrics.get("verdict") or {}
    assert isinstance(verdict, dict)
    for finding in verdict.get("findings", []):
        lines.append(f"  [{finding.get('severity')}] {finding.get('message')}")
    return lines


def _failback(args: argparse.Namespace) -> int:
    from drlib.notebook_params import ENVIRONMENTS
    from drlib.runner import DrillRequest, run_drill

    if args.env == "prod" and not args.yes:
        raise DrError("A production failback needs explicit confirmation",
                      expected="--yes together with --env prod", found="no --yes",
                      fix="re-run with --yes once the change is approved")
    if args.env not in ENVIRONMENTS:
        raise DrError(f"Unknown environment {args.env!r}", expected=", ".join(ENVIRONMENTS))
    request = DrillRequest(environment=args.env, scenario="failback", target=args.target,
                           confirm_production=args.yes, outputs_dir=args.outputs.resolve(),
                           chain=("30_failback",))
    result = run_drill(request)
    print(f"failback: {'COMPLETED' if result.status == 'passed' else result.status.upper()}")
    print(f"evidence: {result.run_dir}")
    return 0 if result.status == "passed" else 2


def _failover(args: argparse.Namespace) -> int:
    from drlib.incident import FailoverRequest, run_failover
    from drlib.notebook_params import ENVIRONMENTS

    if args.env not in ENVIRONMENTS:
        raise DrError(f"Unknown environment {args.env!r}", expected=", ".join(ENVIRONMENTS))
    request = FailoverRequest(environment=args.env, target=args.target, confirmed=args.yes,
                              outputs_dir=args.outputs.resolve(),
                              require_approval=args.require_approval)
    result = run_failover(request, ask=input if sys.stdin.isatty() else None)
    return result.exit_code


LAB_CONFIG_DIR = Path(__file__).resolve().parent / "jupyter_config"
"""Jupyter configuration `drlib lab` adds in front of the user's (JUPYTER_CONFIG_PATH)."""


def _lab(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    from drlib.emulator.server import client_environment
    from drlib.runner import new_run_dir_name

    env = dict(os.environ)
    # drlib/jupyter_config/labconfig/page_config.json disables JupyterLab's announcements plugin:
    # no "Would you like to receive official Jupyter news?" over the first notebook, and the lab
    # fetches no news or update check from the internet.
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(LAB_CONFIG_DIR), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])])
    # One run folder for the whole session (created when a notebook first opens its session),
    # marked interactive: scratch work, not a drill; seal it with `drlib evidence seal`.
    env["DRLIB_RUN_DIR"] = str(args.outputs.resolve() / new_run_dir_name("lab", "interactive"))
    print(f"this session's evidence folder: {env['DRLIB_RUN_DIR']}")
    started = None
    if args.target == "local":
        from drlib.emulator import daemon

        running = daemon.read_state()
        proc = running or daemon.start()
        started = None if running else proc
        env.update(client_environment(proc.endpoint_url, dns_address=proc.dns_address))
        print(f"emulator on {proc.endpoint_url}" + (
            " (started for this lab; stopped when the lab stops)" if started else
            " (already running; left running)"))
    notebooks = (args.notebook_dir or Path(__file__).resolve().parents[1] / "notebooks").resolve()
    command = [sys.executable, "-m", "jupyter", "lab", "--ip", "127.0.0.1", "--no-browser",
               f"--notebook-dir={notebooks}", f"--port={args.port}",
               "--ServerApp.port_retries=0"]
    if args.token is not None:
        command.append(f"--IdentityProvider.token={args.token}")
    if os.geteuid() == 0:  # containers and CI machines often run as root
        command.append("--allow-root")

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    lab = subprocess.Popen(command, env=env)
    try:
        return lab.wait()
    except KeyboardInterrupt:
        lab.terminate()
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if started is not None:
            from drlib.emulator import daemon

            daemon.stop()
            print(f"stopped the emulator this lab started (pid {started.pid})")


def _stacks(args: argparse.Namespace) -> int:
    from drlib.stacks import SceptreProject

    project = SceptreProject(args.env)
    path = "" if args.group == "all" else args.group
    if args.action == "drift":
        return _print_drift(project.drift(path))
    if args.action == "launch":
        _preflight_launch(project)
        infos = project.launch(path)
    elif args.action == "delete":
        project.delete(path)
        infos = project.status(path)
    else:
        infos = project.status(path)
    for info in infos:
        print(f"{info.path:<28} {info.region:<10} {info.status:<12} {info.stack_name}")
    return 0


def _print_drift(drifts: list[StackDrift]) -> int:
    """Each stack's drift status, each drifted resource and its differences; exit status 0
    when every deployed stack is in sync, 1 when one drifted or could not be fully checked."""
    clean = True
    for stack in drifts:
        print(f"{stack.path:<28} {stack.region:<10} {stack.status:<12} {stack.stack_name}")
        for resource in stack.drifted:
            print(f"    {resource.logical_id} ({resource.resource_type}): {resource.status}")
            for difference in resource.differences:
                print(f"        {difference.describe()}")
        if stack.not_checked:
            types = ", ".join(sorted({r.resource_type for r in stack.not_checked}))
            print(f"    {len(stack.not_checked)} not checked (no drift detection for {types})")
        if stack.detection == "DETECTION_FAILED":
            print(f"    detection failed: {stack.reason}")
        clean = clean and stack.status in ("IN_SYNC", "ABSENT") and \
            stack.detection != "DETECTION_FAILED"
    return 0 if clean else 1


def _preflight_launch(project: SceptreProject) -> None:
    """Settings, then credentials in both regions, before any stack is touched."""
    from drlib.aws import AwsClients
    from drlib.preflight import require_target_access
    from drlib.workload import project_regions

    project.check_settings()
    regions = project_regions(project.variables)
    variables = project.variables
    clients = AwsClients(profiles={regions.primary: variables.get("primary_profile"),
                                   regions.secondary: variables.get("secondary_profile")})
    require_target_access(clients, [regions.primary, regions.secondary],
                          os.environ.get("AWS_ENDPOINT_URL") or "AWS")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``drlib`` command."""
    parser = argparse.ArgumentParser(prog="drlib", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    emulator = commands.add_parser("emulator", help="the embedded local AWS emulator")
    emulator_commands = emulator.add_subparsers(dest="emulator_command", required=True,
                                                metavar="ACTION")
    for name, func, helptext in [
        ("start", _emulator_start, "start in the background and print the environment to export"),
        ("serve", _emulator_serve, "run in the foreground until Ctrl-C"),
        ("stop", _emulator_stop, "stop the background emulator"),
        ("status", _emulator_status, "say whether the background emulator runs and answers"),
        ("reset", _emulator_reset, "forget every resource in every region"),
    ]:
        sub = emulator_commands.add_parser(name, help=helptext)
        sub.add_argument("--state-dir", type=Path, default=None,
                         help="where the pid file, log and data live (default .drlib/emulator)")
        if name in ("start", "serve"):
            sub.add_argument("--port", type=int, default=None,
                             help="loopback port (default: a free one)")
        sub.set_defaults(func=func)
    drill = commands.add_parser("drill", help="run a DR drill: deploy, readiness, drill, failback, "
                                              "evidence")
    drill.add_argument("--env", default="dev", help="dev, staging or prod (default dev)")
    drill.add_argument("--scenario", default="planned-switchover",
                       choices=["planned-switchover", "unplanned-failover", "data-corruption"])
    drill.add_argument("--target", default="local", choices=["local", "aws"])
    drill.add_argument("--yes", action="store_true", help="confirm a production drill")
    drill.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    drill.add_argument("--outputs", type=Path, default=Path("outputs"),
                       help="evidence folder (default outputs/)")
    drill.add_argument("--aws-timing", action="store_true",
                       help="local target: run Route 53 detection and DNS TTLs at AWS's pace "
                            "(default: a declared time scale of 0.1, recorded with the figures)")
    drill.add_argument("--upload", action="store_true",
                       help="also store the sealed evidence in the evidence bucket "
                            "(S3 Object Lock, compliance mode)")
    drill.set_defaults(func=_drill)

    failback = commands.add_parser("failback", help="return writer, DNS and app tier to the "
                                                    "primary region (the command an abort prints)")
    failback.add_argument("--env", default="dev", help="dev, staging or prod (default dev)")
    failback.add_argument("--target", default="local", choices=["local", "aws"])
    failback.add_argument("--yes", action="store_true", help="confirm a production failback")
    failback.add_argument("--outputs", type=Path, default=Path("outputs"),
                          help="evidence folder (default outputs/)")
    failback.set_defaults(func=_failback)

    failover = commands.add_parser(
        "failover", help="a REAL incident: run the unplanned-failover runbook in the secondary "
                         "region (no canaries, no failback); evidence under outputs/")
    failover.add_argument("--env", required=True, help="dev, staging or prod")
    failover.add_argument("--target", default="local", choices=["local", "aws"])
    failover.add_argument("--yes", action="store_true",
                          help="confirm (required in prod; elsewhere a prompt asks)")
    failover.add_argument("--require-approval", action="store_true",
                          help="leave the decision to the runbook's approvers (it waits at its "
                               "approval step)")
    failover.add_argument("--outputs", type=Path, default=Path("outputs"),
                          help="evidence folder (default outputs/)")
    failover.set_defaults(func=_failover)

    lab = commands.add_parser("lab", help="JupyterLab on the notebooks (starts the emulator "
                                          "for the local target)")
    lab.add_argument("--target", default="local", choices=["local", "aws"])
    lab.add_argument("--port", type=int, default=8888, help="loopback port (default 8888)")
    lab.add_argument("--notebook-dir", type=Path, default=None,
                     help="folder of notebooks to open (default notebooks/; a copy keeps the "
                          "committed notebooks free of outputs)")
    lab.add_argument("--outputs", type=Path, default=Path("outputs"),
                     help="evidence folder (default outputs/)")
    lab.add_argument("--token", default=None,
                     help="access token (default: JupyterLab makes one and prints the URL)")
    lab.set_defaults(func=_lab)

    stacks = commands.add_parser(
        "stacks", help="launch, delete or show the Sceptre stacks, or detect their drift "
                       "(drift exits 1 when a stack drifted)")
    stacks.add_argument("action", choices=["launch", "delete", "status", "drift"])
    stacks.add_argument("--env", default="dev")
    stacks.add_argument("--group", default="all", choices=["all", "primary", "secondary"])
    stacks.set_defaults(func=_stacks)

    from drlib.emulator.fault_cli import add_fault_commands
    add_fault_commands(emulator_commands)
    from drlib.evidence.cli import add_evidence_commands
    add_evidence_commands(commands)
    from drlib.lock_cli import add_lock_commands
    add_lock_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``drlib`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func: Command = args.func
    try:
        return func(args)
    except DrError as exc:
        if args.debug:
            raise
        print(f"drlib: error: {exc.render()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drlib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
