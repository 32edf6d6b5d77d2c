"""Run a Python Lambda handler from its deployment package, without Docker.

The package is unzipped into a temporary task root and the handler (``module.function``,
``package/module.function`` allowed) is called in a child process of this interpreter with the
runtime's contract: ``handler(event, context)``, where ``context`` has ``function_name``,
``function_version``, ``invoked_function_arn``, ``memory_limit_in_mb``, ``aws_request_id``,
``log_group_name``, ``log_stream_name`` and ``get_remaining_time_in_millis()``; the function's
environment variables plus the runtime's own (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``,
``LAMBDA_TASK_ROOT``, ``_HANDLER``, ...) and the emulator's endpoint, so ``boto3`` in the handler
reaches the emulator. The child is killed at the function's timeout.

An exception becomes the payload ``{"errorMessage", "errorType", "requestId", "stackTrace"}``
with FunctionError ``Unhandled``; a timeout becomes ``Sandbox.Timedout`` "Task timed out after
N.NN seconds"; stdout and stderr are the function's log lines, framed by START / END / REPORT.

Stand-in, not the runtime: the handler runs on drlib's own Python (3.11) with drlib's installed
packages visible after the package's own, whatever ``Runtime`` says (any ``python3.x``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

CHILD = r"""
import importlib, json, sys, time, traceback
task_root, request_path = sys.argv[1], sys.argv[2]
with open(request_path) as f:
    request = json.load(f)
sys.path.insert(0, task_root)

class Context:
    def __init__(self, spec):
        self.__dict__.update(spec["fields"])
        self._deadline = time.monotonic() + spec["timeout"]
        self.identity = None
        self.client_context = None
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

context = Context(request["context"])
try:
    module_path, _, name = request["handler"].rpartition(".")
    module = importlib.import_module(module_path.replace("/", "."))
    handler = getattr(module, name)
    result = handler(request["event"], context)
    answer = {"ok": True, "payload": json.dumps(result)}
except Exception as exc:
    frames = traceback.extract_tb(exc.__traceback__)
    answer = {"ok": False, "payload": json.dumps({
        "errorMessage": str(exc), "errorType": type(exc).__name__,
        "requestId": request["context"]["fields"]["aws_request_id"],
        "stackTrace": [line.rstrip("\n") for line in traceback.format_list(frames)]})}
    traceback.print_exc()
sys.stdout.flush()
sys.stderr.flush()
with open(request_path + ".result", "w") as f:
    json.dump(answer, f)
"""


@dataclass
class Invocation:
    """The outcome of one invocation, as Lambda reports it."""

    request_id: str
    payload: str
    function_error: str | None
    log_lines: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to know about the function."""

    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    region: str
    environment: dict[str, str]
    log_group_name: str
    code: bytes


class UnsupportedRuntime(ValueError):
    """The function's runtime is not one the emulator runs."""


def check_runtime(runtime: str | None) -> None:
    """Refuse every runtime but Python 3."""
    if not str(runtime or "").startswith("python3"):
        raise UnsupportedRuntime(
            f"Runtime {runtime} is not run by the drlib emulator: it runs Python 3 Lambda "
            "functions only (no Docker here)")


def log_stream_name(version: str, request_id: str) -> str:
    """A log stream name in Lambda's format: ``YYYY/MM/DD/[$LATEST]<hex>``."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]{request_id.replace('-', '')}"


def invoke(spec: FunctionSpec, event: Any, endpoint_url: str) -> Invocation:
    """Run the handler once with ``event``; never raises for the handler's own failures."""
    check_runtime(spec.runtime)
    request_id = str(uuid.uuid4())
    stream = log_stream_name(spec.version, request_id)
    with tempfile.TemporaryDirectory(prefix="drlib-lambda-") as work:
        task_root = Path(work, "task")
        task_root.mkdir()
        with zipfile.ZipFile(BytesIO(spec.code)) as package:
            package.extractall(task_root)
        request = Path(work, "request.json")
        request.write_text(json.dumps({
            "handler": spec.handler, "event": event,
            "context": {"timeout": spec.timeout, "fields": {
                "function_name": spec.name, "function_version": spec.version,
                "invoked_function_arn": spec.arn, "memory_limit_in_mb": str(spec.memory_size),
                "aws_request_id": request_id, "log_group_name": spec.log_group_name,
                "log_stream_name": stream}}}))
        environment = _environment(spec, str(task_root), endpoint_url, stream)
        began = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", CHILD, str(task_root), str(request)],
                                   cwd=task_root, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = process.communicate(timeout=spec.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            timed_out = True
        duration_ms = (time.monotonic() - began) * 1000
        lines = [f"START RequestId: {request_id} Version: {spec.version}",
                 *(output or "").splitlines()]
        result_file = Path(str(request) + ".result")
        if timed_out:
            message = f"Task timed out after {spec.timeout:.2f} seconds"
            payload = json.dumps({"errorType": "Sandbox.Timedout",
                                  "errorMessage": f"RequestId: {request_id} Error: {message}"})
            error: str | None = "Unhandled"
            lines.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} "
                         f"{message}")
        elif not result_file.exists():
            payload = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": (
                f"RequestId: {request_id} Error: Runtime exited with error: exit status "
                f"{process.returncode}")})
            error = "Unhandled"
        else:
            answer = json.loads(result_file.read_text())
            payload, error = answer["payload"], None if answer["ok"] else "Unhandled"
        lines += [f"END RequestId: {request_id}",
                  f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                  f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: "
                  f"{spec.memory_size} MB"]
    return Invocation(request_id=request_id, payload=payload, function_error=error,
                      log_lines=lines, duration_ms=duration_ms)


def _environment(spec: FunctionSpec, task_root: str, endpoint_url: str,
                 stream: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items()
                   if k in ("PATH", "LANG", "HOME", "TMPDIR", "SYSTEMROOT")}
    environment.update({
        "AWS_ENDPOINT_URL": endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region, "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name, "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}", "LAMBDA_TASK_ROOT": task_root,
        "_HANDLER": spec.handler, "PYTHONUNBUFFERED": "1",
    })
    environment.update({str(k): str(v) for k, v in spec.environment.items()})
    return environment
