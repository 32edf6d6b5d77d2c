"""Run a Python handler ``handler(events, context)`` in a subprocess, as aws:executeScript does.

The child is this interpreter (``sys.executable``) with the environment the step gives it (the
emulator's endpoint, dummy credentials, the execution's region), so ``boto3`` inside the script
reaches the emulator in the right region (and, with ``DRLIB_EMULATOR_ACCOUNT_ID``, the right
account: the default boto3 session sends it). The handler's return value must be JSON-serialisable;
an exception is reported as ``<type>: <message>`` with its traceback. The child is killed at the
step's deadline or when the execution is stopped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHILD = r"""
import json, os, sys, traceback
if os.environ.get("DRLIB_EMULATOR_ACCOUNT_ID"):
    # an execution in another account of the emulator: the default session sends that account
    import boto3
    boto3.setup_default_session()
    def _in_account(request, **_):
        request.headers["x-moto-account-id"] = os.environ["DRLIB_EMULATOR_ACCOUNT_ID"]
    boto3.DEFAULT_SESSION.events.register("before-sign.*.*", _in_account)
work = sys.argv[1]
with open(work + "/request.json") as f:
    request = json.load(f)
namespace = {"__name__": "script"}
try:
    exec(compile(request["script"], "script.py", "exec"), namespace)
    handler = namespace.get(request["handler"])
    if not callable(handler):
        raise NameError(f"Handler {request['handler']} is not defined in the script")
    result = handler(request["event"], request["context"])
    answer = {"ok": True, "result": json.loads(json.dumps(result, default=str))}
except BaseException as exc:
    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
              "traceback": traceback.format_exc()}
with open(work + "/result.json", "w") as f:
    json.dump(answer, f)
"""


@dataclass
class ScriptOutcome:
    """What the handler did."""

    result: Any = None
    error: str | None = None
    traceback: str = ""
    output: str = ""
    timed_out: bool = False
    cancelled: bool = False


def run_handler(*, script: str, handler: str, event: Any, context: Any,
                environment: dict[str, str], timeout: float | None,
                cancelled: threading.Event) -> ScriptOutcome:
    """Run ``handler`` from ``script`` with ``event`` and ``context``; never raises for the
    script's own errors."""
    with tempfile.TemporaryDirectory(prefix="drlib-script-") as work:
        Path(work, "request.json").write_text(json.dumps(
            {"script": script, "handler": handler, "event": event, "context": context},
            default=str))
        deadline = None if timeout is None else time.monotonic() + timeout
        process = subprocess.Popen([sys.executable, "-c", CHILD, work], env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        outcome = ScriptOutcome()
        while process.poll() is None:
            if cancelled.is_set():
                outcome.cancelled = True
            elif deadline is not None and time.monotonic() >= deadline:
                outcome.timed_out = True
            if outcome.cancelled or outcome.timed_out:
                process.kill()
                break
            cancelled.wait(0.05)
        output, _ = process.communicate()
        outcome.output = output or ""
        if outcome.cancelled or outcome.timed_out:
            return outcome
        result_file = Path(work, "result.json")
        if not result_file.exists():
            outcome.error = (f"the script process exited with code {process.returncode} "
                             f"without a result: {outcome.output[-500:]}")
            return outcome
        answer = json.loads(result_file.read_text())
        if answer["ok"]:
            outcome.result = answer["result"]
        else:
            outcome.error, outcome.traceback = answer["error"], answer["traceback"]
        return outcome
