"""Run the emulator as a background process: ``drlib emulator start|stop|status|reset``.

``start`` launches ``python -m drlib.emulator serve`` detached, logging to
``<state-dir>/emulator.log``; the serving process writes ``<state-dir>/emulator.json`` (pid, port,
URL, and the process's start time and command line) once it answers, and removes it when it
stops. ``stop`` signals the recorded pid only while it is still that process, serving this state
dir (:mod:`drlib.processes`): after a crash and pid reuse it never signals an unrelated process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from drlib.emulator.patching import pid_alive
from drlib.emulator.server import Emulator, client_environment, default_state_dir
from drlib.errors import EmulatorError
from drlib.processes import ProcessIdentity, identify, same_process
from drlib.waiting import wait_until

STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"


@dataclass(frozen=True)
class EmulatorProcess:
    """A running background emulator as recorded in its state file."""

    pid: int
    port: int
    endpoint_url: str
    state_dir: Path
    process: ProcessIdentity | None = None
    dns_address: str | None = None
    kind: str = "background"
    """``background`` (``drlib emulator start``) or ``drill`` (the emulator a ``drlib drill``
    runs in its own process: faults reach it, ``stop`` leaves it to its drill)."""

    def is_ours(self) -> bool:
        """Whether the recorded pid is still this state dir's emulator: the same process (start
        time, command line) as recorded, an emulator ``serve`` for this state dir."""
        if self.process is None or same_process(self.process) is not True:
            return False
        if self.kind == "drill":
            return True
        args = list(self.process.cmdline)
        named = _arg_after(args, "--state-dir")
        return "serve" in args and (named is None or Path(named).resolve() == self.state_dir)

    def answers(self) -> bool:
        """Whether the emulator answers its health route right now."""
        try:
            return requests.get(f"{self.endpoint_url}/_drlib/health", timeout=2).ok
        except requests.RequestException:
            return False


def read_state(state_dir: Path | None = None) -> EmulatorProcess | None:
    """The background emulator recorded in ``state_dir``, or None when there is none alive."""
    state_dir = (state_dir or default_state_dir()).resolve()
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        recorded = data.get("process")
        proc = EmulatorProcess(pid=int(data["pid"]), port=int(data["port"]),
                               endpoint_url=str(data["endpoint_url"]), state_dir=state_dir,
                               process=ProcessIdentity.from_json(recorded) if recorded else None,
                               dns_address=data.get("dns"),
                               kind=str(data.get("kind") or "background"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EmulatorError(
            f"The emulator state file {path} is unreadable",
            expected="a JSON document with pid, port, endpoint_url and process",
            found=f"{type(exc).__name__}: {exc}",
            fix=f"check no emulator serves from {state_dir} (ps -ef | grep 'drlib.emulator "
                f"serve'), stop it by its pid if one does, then delete {path}") from exc
    if not _alive(proc.pid) or (proc.process is not None and not proc.is_ours()):
        path.unlink(missing_ok=True)  # crashed (its pid gone, or reused): forget it
        return None
    return proc


def _arg_after(args: list[str], flag: str) -> str | None:
    for index, arg in enumerate(args[:-1]):
        if arg == flag:
            return args[index + 1]
    return None


def _alive(pid: int) -> bool:
    try:  # reap it first if it is our own exited child, or kill(0) would see the zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    return pid_alive(pid)


def start(port: int | None = None, state_dir: Path | None = None,
          timeout: float = 60.0) -> EmulatorProcess:
    """Start a background emulator and return once it answers."""
    state_dir = (state_dir or default_state_dir()).resolve()
    running = read_state(state_dir)
    if running is not None:
        raise EmulatorError(
            f"An emulator is already running from {state_dir}",
            found=f"pid {running.pid} on {running.endpoint_url}",
            fix="use it (drlib emulator status), or stop it first (drlib emulator stop)",
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "drlib.emulator", "serve", "--state-dir", str(state_dir)]
    if port:
        command += ["--port", str(port)]
    with open(state_dir / LOG_FILE, "ab") as log_file:
        child = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)

    def started() -> EmulatorProcess | None:
        if child.poll() is not None:
            raise EmulatorError(
                "The emulator process exited while starting",
                found=f"exit status {child.returncode}",
                fix=f"read {state_dir / LOG_FILE}",
            )
        proc = read_state(state_dir)
        return proc if proc is not None and proc.answers() else None

    proc: EmulatorProcess = wait_until(started, description="the background emulator to answer",
                                       timeout=timeout, interval=0.02, backoff=1.1,
                                       max_interval=0.25)
    return proc


def stop(state_dir: Path | None = None, timeout: float = 30.0) -> EmulatorProcess | None:
    """Stop the background emulator (SIGTERM, then SIGKILL after ``timeout``)."""
    proc = read_state(state_dir)
    if proc is None:
        return None
    if proc.kind == "drill" and proc.is_ours():
        raise EmulatorError(
            f"The emulator in {proc.state_dir} belongs to a running drill (pid {proc.pid})",
            expected="a background emulator (drlib emulator start)",
            found=f"drill pid {proc.pid} on {proc.endpoint_url}",
            fix="stop the drill itself (Ctrl-C or SIGTERM: it aborts safely and seals)")
    if not proc.is_ours():
        raise EmulatorError(
            f"Not stopping pid {proc.pid}: it cannot be confirmed as the emulator of "
            f"{proc.state_dir}",
            expected="the recorded process (same start time and command line) serving this "
                     "state dir",
            found=f"pid {proc.pid}: {' '.join(_cmdline_of(proc.pid)) or 'unreadable'}",
            fix=f"if that is the emulator, stop it by hand (kill {proc.pid}); then delete "
                f"{proc.state_dir / STATE_FILE}")
    os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(proc.pid) and proc.is_ours():
        os.kill(proc.pid, signal.SIGKILL)
    (proc.state_dir / STATE_FILE).unlink(missing_ok=True)
    return proc


def reset(state_dir: Path | None = None) -> EmulatorProcess:
    """Reset the background emulator's state (every region, every extension)."""
    proc = read_state(state_dir)
    if proc is None:
        raise EmulatorError("No emulator is running", fix="start one: drlib emulator start")
    requests.post(f"{proc.endpoint_url}/moto-api/reset", timeout=60).raise_for_status()
    return proc


def serve(port: int | None = None, state_dir: Path | None = None) -> None:
    """Run the emulator in the foreground until SIGTERM or Ctrl-C, then stop it cleanly."""
    emulator = Emulator(port=port, state_dir=state_dir).start()
    state_path = emulator.state_dir / STATE_FILE
    state_path.write_text(json.dumps({"pid": os.getpid(), "port": emulator.port,
                                      "endpoint_url": emulator.endpoint_url,
                                      "process": identify().to_json(),
                                      "dns": emulator.dns_address}))
    stopping = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(describe_environment(emulator.endpoint_url, emulator.dns_address), flush=True)
    try:
        while not stopping["now"]:
            time.sleep(0.2)
    finally:
        emulator.stop()
        state_path.unlink(missing_ok=True)


def describe_environment(endpoint_url: str, dns_address: str | None = None) -> str:
    """How to point boto3, the AWS CLI, Sceptre and a notebook at the emulator."""
    exports = "\n".join(f"export {k}={v}" for k, v in
                        client_environment(endpoint_url, dns_address=dns_address).items())
    return (
        f"drlib emulator answering on {endpoint_url}\n\n"
        "Point boto3, the AWS CLI, Sceptre and notebook kernels at it with:\n\n"
        f"{exports}\n\n"
        "Then, for example:\n"
        "  aws sts get-caller-identity\n"
        "  aws ec2 describe-regions --region us-west-2\n"
        "  (cd sceptre && sceptre --var-file config/dev.yaml launch --yes primary)\n"
    )


def _cmdline_of(pid: int) -> tuple[str, ...]:
    from drlib.processes import cmdline

    return cmdline(pid)


DRILL_STATE_DIR_VARIABLE = "DRLIB_DRILL_STATE_DIR"


def drill_state_dir() -> Path:
    """Where ``drlib drill`` runs its own emulator (when no emulator is exported):
    ``$DRLIB_DRILL_STATE_DIR``, else ``.drlib/drill-emulator`` in the project. Two drills at once
    need two of these (their PostgreSQL data directories live there)."""
    configured = os.environ.get(DRILL_STATE_DIR_VARIABLE)
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parents[2] / ".drlib" / "drill-emulator"


@contextlib.contextmanager
def recorded_in_process(endpoint_url: str, port: int, state_dir: Path,
                        dns_address: str | None = None) -> Iterator[None]:
    """Record an emulator served by this process in ``state_dir`` (kind ``drill``) so that
    ``drlib emulator fault`` and ``status`` reach it (``status`` prints ``dns_address``);
    forget it afterwards."""
    path = state_dir.resolve() / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "port": port, "endpoint_url": endpoint_url,
                                "process": identify().to_json(), "kind": "drill",
                                "dns": dns_address}))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
