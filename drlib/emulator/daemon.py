"""Run the emulator as a background process: ``drlib emulator start|stop|status|reset``.

``start`` launches ``python -m drlib.emulator serve`` detached, logging to
``<state-dir>/emulator.log``; the serving process writes ``<state-dir>/emulator.json`` (pid, port,
URL) once it answers, and removes it when it stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from drlib.emulator.patching import pid_alive
from drlib.emulator.server import Emulator, client_environment, default_state_dir
from drlib.errors import EmulatorError
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
    dns_address: str | None = None

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
    data = json.loads(path.read_text())
    proc = EmulatorProcess(pid=int(data["pid"]), port=int(data["port"]),
                           endpoint_url=data["endpoint_url"], state_dir=state_dir,
                           dns_address=data.get("dns"))
    if not _alive(proc.pid):
        path.unlink(missing_ok=True)  # a crashed emulator: forget it
        return None
    return proc


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
    os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(proc.pid):
        os.kill(proc.pid, signal.SIGKILL)
    (proc.state_dir / STATE_FILE).unlink(missing_ok=True)
    return proc


def reset(state_dir: Path | None = None) -> EmulatorProcess:
    """Reset the background emulator's state (every region, every extension)."""
    proc = read_state(state_dir)
    if proc is None:
        raise EmulatorError("No emulator is running", fix="start one: drlib emulator start")
    for path in ("/moto-api/reset", "/_drlib/reset"):
        requests.post(f"{proc.endpoint_url}{path}", timeout=60).raise_for_status()
    return proc


def serve(port: int | None = None, state_dir: Path | None = None) -> None:
    """Run the emulator in the foreground until SIGTERM or Ctrl-C, then stop it cleanly."""
    emulator = Emulator(port=port, state_dir=state_dir).start()
    state_path = emulator.state_dir / STATE_FILE
    state_path.write_text(json.dumps({"pid": os.getpid(), "port": emulator.port,
                                      "endpoint_url": emulator.endpoint_url,
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
