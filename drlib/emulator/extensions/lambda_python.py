"""Lambda ``Invoke`` runs Python functions from their deployment package, without Docker.

moto runs functions in Docker containers (absent here). This replaces the invocation of a function
with :mod:`drlib.emulator.lambda_runtime`: the handler runs in a child process with the runtime's
contract, the payload and ``FunctionError`` are what Lambda returns, ``LogType=Tail`` gives the
last 4 KB of the log, and every invocation's log lines go to the function's CloudWatch Logs group
``/aws/lambda/<name>`` in a stream of Lambda's format. ``InvocationType=Event`` returns 202 at once
and runs the function in the background; ``DryRun`` runs nothing. Functions of any other runtime
(or container images) are refused with ``InvalidRuntimeException`` naming the runtime. While the
function's region is down (``faults.region_down``) Invoke answers HTTP 503 ``ServiceException``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any

from drlib.emulator import faults, state
from drlib.emulator.extensions.region_outage import outage_message
from drlib.emulator.lambda_runtime import (
    FunctionSpec,
    Invocation,
    UnsupportedRuntime,
    check_runtime,
    invoke,
    log_stream_name,
)
from drlib.emulator.lazy_patch import when_imported

log = logging.getLogger(__name__)

LOG_TAIL_BYTES = 4096


def spec_of(function: Any) -> FunctionSpec:
    """What the runtime needs from moto's function model."""
    version = str(function.version)
    return FunctionSpec(
        name=function.function_name, arn=function.function_arn,
        version="$LATEST" if version in ("1", "$LATEST") else version,
        handler=str(function.handler), runtime=str(function.run_time),
        timeout=float(function.timeout or 3), memory_size=int(function.memory_size or 128),
        region=function.region, environment=dict(function.environment_vars or {}),
        log_group_name=function.logs_group_name, code=function.code_bytes)


def write_logs(function: Any, invocation: Invocation, version: str) -> None:
    """Put the invocation's log lines into the function's log group, one stream per call."""
    from moto.core.utils import unix_time_millis

    backend = function.logs_backend
    backend.ensure_log_group(function.logs_group_name)
    stream = log_stream_name(version, invocation.request_id)
    backend.create_log_stream(function.logs_group_name, stream)
    now = unix_time_millis()
    backend.put_log_events(function.logs_group_name, stream,
                           [{"timestamp": now, "message": line}
                            for line in invocation.log_lines])


def run(function: Any, event: Any) -> Invocation:
    """Invoke ``function`` with ``event`` and log it."""
    spec = spec_of(function)
    invocation = invoke(spec, event, state.current.endpoint_url or "")
    try:
        write_logs(function, invocation, spec.version)
    except Exception:  # logging must never change the invocation's answer
        log.exception("could not write the logs of %s", spec.name)
    log.info("lambda %s in %s: %s in %.0f ms", spec.name, spec.region,
             invocation.function_error or "ok", invocation.duration_ms)
    return invocation


def _invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    from moto.awslambda.exceptions import LambdaClientError

    if faults.region_down(self.region):
        error = LambdaClientError("ServiceException", outage_message(self.region))
        error.code = 503
        raise error
    try:
        if getattr(self, "package_type", "Zip") != "Zip":
            raise UnsupportedRuntime("Container-image functions are not run by the drlib "
                                     "emulator (no Docker here)")
        check_runtime(self.run_time)
    except UnsupportedRuntime as exc:
        raise LambdaClientError("InvalidRuntimeException", str(exc)) from exc
    event = json.loads(body) if body else {}
    invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(target=run, args=(self, event), daemon=True,
                         name=f"lambda-{self.function_name}").start()
        return b""
    invocation = run(self, event)
    if invocation.function_error:
        response_headers["x-amz-function-error"] = invocation.function_error
    tail = "\n".join(invocation.log_lines).encode("utf-8")[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    response_headers["x-amz-executed-version"] = spec_of(self).version
    return invocation.payload.encode("utf-8")


def _patch() -> None:
    from moto.awslambda.models import LambdaFunction

    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]


_installed = False


def install() -> None:
    """Replace moto's Docker invocation of a function by the subprocess runtime (when moto loads
    its Lambda models)."""
    global _installed
    if _installed:
        return
    when_imported("moto.awslambda.models", _patch)
    _installed = True
