"""The ``drlib`` command line.

Every subcommand is a thin call into drlib. A :class:`~drlib.errors.DrError` is printed without a
traceback (unless ``--debug``) and the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from drlib.errors import DrError

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
    from drlib.emulator.fault_cli import add_fault_commands
    add_fault_commands(emulator_commands)
    from drlib.evidence.cli import add_evidence_commands
    add_evidence_commands(commands)
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
