"""Automation executions: parameters, the step loop in a background thread, and API shapes.

One thread per execution walks ``mainSteps`` as Automation does:

- a step's inputs are resolved just before it runs (parameters, earlier step outputs, automation
  variables); its outputs are selected from the action's response and typed;
- ``maxAttempts`` retries a failed attempt; ``timeoutSeconds`` bounds each attempt (status
  ``TimedOut``);
- after success: the branch's choice, else ``nextStep``, else the next step in order; ``isEnd``
  ends the execution after the step whether it succeeded or failed;
- after failure: ``onFailure`` ``Abort`` (the default) ends the execution ``Failed`` (``TimedOut``
  for a timed-out step), ``Continue`` goes on, ``step:NAME`` jumps; a failed step that
  ``isCritical`` (the default) makes the final status ``Failed`` even when the execution went on;
- ``StopAutomationExecution`` sets ``Cancelling``; the running step ends ``Cancelled`` and so does
  the execution.

The execution calls its own region's APIs, through boto3 against the emulator's endpoint. While
the region it runs in is down (``faults.region_down``) it makes no progress: it waits before its
next step, as an execution held by a region's unavailable control plane would.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drlib.emulator.automation import actions
from drlib.emulator.automation.references import (
    UnresolvedReference,
    api_strings,
    resolve,
    select,
    text_of,
    typed_output,
)
from drlib.emulator.automation.validation import AutomationDocument, Step

log = logging.getLogger(__name__)

TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})


class ParameterError(ValueError):
    """Start parameters that do not fit the document (InvalidAutomationExecutionParameters)."""


def typed_parameters(document: AutomationDocument, given: dict[str, list[str]]
                     ) -> dict[str, Any]:
    """The start parameters, defaults filled in and converted to their declared types."""
    unknown = sorted(set(given) - set(document.parameters))
    if unknown:
        raise ParameterError(f"Parameters {unknown} are not defined in the document.")
    values: dict[str, Any] = {}
    for name, spec in document.parameters.items():
        kind = str(spec.get("type", "String"))
        if name in given:
            values[name] = _convert(name, kind, list(given[name]))
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            raise ParameterError(f"Parameter {name} is required and has no default.")
        allowed = spec.get("allowedValues")
        if allowed is not None and text_of(values[name]) not in [text_of(a) for a in allowed]:
            raise ParameterError(f"Parameter {name} value {text_of(values[name])} is not one "
                                 f"of the allowed values {allowed}.")
        pattern = spec.get("allowedPattern")
        if pattern is not None and kind == "String" and not re.search(pattern,
                                                                      str(values[name])):
            raise ParameterError(f"Parameter {name} value {values[name]} does not match the "
                                 f"allowed pattern {pattern}.")
    return values


def _convert(name: str, kind: str, strings: list[str]) -> Any:
    try:
        if kind == "StringList":
            return strings
        if kind == "MapList":
            return [json.loads(s) for s in strings]
        if len(strings) != 1:
            raise ValueError(f"expected one value, got {len(strings)}")
        text = strings[0]
        if kind == "Boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{text} is not true or false")
            return text.lower() == "true"
        if kind == "Integer":
            return int(text)
        if kind == "StringMap":
            return json.loads(text)
        return text
    except ValueError as exc:
        raise ParameterError(f"Parameter {name} is not a valid {kind}: {exc}") from exc


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


@dataclass
class StepRecord:
    """One step execution, as DescribeAutomationStepExecutions shows it."""

    step: Step
    step_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "Pending"
    start: datetime | None = None
    end: datetime | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    failure_message: str | None = None
    failure_details: dict[str, Any] | None = None
    timeout_seconds: int | None = None

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "StepName": self.step.name, "Action": self.step.action,
            "OnFailure": self.step.on_failure, "MaxAttempts": self.step.max_attempts,
            "StepStatus": self.status, "StepExecutionId": self.step_execution_id,
            "Inputs": self.inputs, "IsEnd": self.step.is_end,
            "IsCritical": self.step.is_critical,
            "Outputs": {k: api_strings(v) for k, v in self.outputs.items()},
        }
        if self.timeout_seconds is not None:
            shape["TimeoutSeconds"] = self.timeout_seconds
        if self.step.next_step:
            shape["NextStep"] = self.step.next_step
        if self.start is not None:
            shape["ExecutionStartTime"] = _epoch(self.start)
        if self.end is not None:
            shape["ExecutionEndTime"] = _epoch(self.end)
        if self.failure_message:
            shape["FailureMessage"] = self.failure_message
        if self.failure_details:
            shape["FailureDetails"] = self.failure_details
        return shape


@dataclass
class Execution:
    """One automation execution and its state."""

    execution_id: str
    document_name: str
    document_version: str
    document: AutomationDocument
    account_id: str
    region: str
    parameters: dict[str, Any]
    executed_by: str
    client_factory: Callable[[str, str], Any]
    environment: dict[str, str]
    status: str = "Pending"
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    failure_message: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    signals: queue.Queue[actions.Signal] = field(default_factory=queue.Queue)
    region_down: Callable[[str], bool] = lambda region: False
    lock: threading.RLock = field(default_factory=threading.RLock)
    thread: threading.Thread | None = None
    parent_execution_id: str | None = None
    target: str | None = None

    # --- references ---

    def variables(self) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "automation:EXECUTION_ID": self.execution_id,
            "automation:DOCUMENT_NAME": self.document_name,
            "automation:DOCUMENT_VERSION": self.document_version,
            "global:ACCOUNT_ID": self.account_id, "global:REGION": self.region,
            "global:AWS_PARTITION": "aws", "global:AWS_URL_SUFFIX": "amazonaws.com",
            "global:DATE": now.strftime("%Y-%m-%d"),
            "global:DATE_TIME": now.strftime("%Y-%m-%d_%H.%M.%S"),
            "global:DATE_TIME_ISO": now.isoformat(timespec="seconds"),
        }

    def lookup(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        variables = self.variables()
        if name in variables:
            return variables[name]
        step_name, _, output = name.partition(".")
        for record in reversed(self.steps):
            if record.step.name == step_name and output in record.outputs:
                return record.outputs[output]
        raise UnresolvedReference(f"{{{{ {name} }}}} has no value: step {step_name} has not "
                                  f"produced output {output}")

    # --- API shapes ---

    def outputs(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for entry in self.document.outputs:
            try:
                found[entry] = api_strings(self.lookup(entry))
            except UnresolvedReference:
                continue
        return found

    def current(self) -> StepRecord | None:
        return next((r for r in reversed(self.steps) if r.status not in TERMINAL), None)

    def metadata(self) -> dict[str, Any]:
        with self.lock:
            shape: dict[str, Any] = {
                "AutomationExecutionId": self.execution_id, "DocumentName": self.document_name,
                "DocumentVersion": self.document_version,
                "AutomationExecutionStatus": self.status,
                "ExecutionStartTime": _epoch(self.start), "ExecutedBy": self.executed_by,
                "Mode": "Auto", "AutomationType": "Local", "Outputs": self.outputs(),
                "LogFile": "",
            }
            if self.end is not None:
                shape["ExecutionEndTime"] = _epoch(self.end)
            current = self.current()
            if current is not None:
                shape["CurrentStepName"] = current.step.name
                shape["CurrentAction"] = current.step.action
            if self.failure_message:
                shape["FailureMessage"] = self.failure_message
            if self.parent_execution_id:
                shape["ParentAutomationExecutionId"] = self.parent_execution_id
            if self.target:
                shape["Target"] = self.target
            return shape

    def to_api(self) -> dict[str, Any]:
        with self.lock:
            shape = self.metadata()
            shape.pop("LogFile")
            shape.pop("AutomationType")
            shape["Parameters"] = {k: api_strings(v) for k, v in self.parameters.items()}
            shape["StepExecutions"] = [r.to_api() for r in self.steps]
            shape["StepExecutionsTruncated"] = False
            return shape

    # --- running ---

    def start_running(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"automation-{self.execution_id[:8]}")
        self.thread.start()

    def _set_status(self, status: str) -> None:
        with self.lock:
            if self.status not in TERMINAL:
                self.status = status

    def _run(self) -> None:
        try:
            self._walk()
        except Exception as exc:  # an engine bug must still end the execution visibly
            log.exception("automation %s crashed", self.execution_id)
            with self.lock:
                self.status, self.failure_message = "Failed", f"Internal failure: {exc}"
        finally:
            with self.lock:
                self.end = datetime.now(UTC)
            log.info("automation %s (%s) in %s ended %s", self.execution_id,
                     self.document_name, self.region, self.status)

    def _walk(self) -> None:
        self._set_status("InProgress")
        steps = self.document.steps
        index: int | None = 0
        critical_failure: StepRecord | None = None
        while index is not None:
            while self.region_down(self.region) and not self.cancelled.is_set():
                self.cancelled.wait(0.2)
            if self.cancelled.is_set():
                self._finish("Cancelled", None)
                return
            step = steps[index]
            record = StepRecord(step=step)
            with self.lock:
                self.steps.append(record)
            chosen = self._run_step(record)
            if record.status == "Cancelled":
                self._finish("Cancelled", None)
                return
            following = self._following(index, step)
            if record.status == "Success":
                index = self.document.index_of(chosen) if chosen else following
            else:
                if step.is_critical:
                    critical_failure = record
                if step.on_failure == "Abort":
                    self._finish(record.status, record.failure_message)
                    return
                index = (self.document.index_of(step.on_failure[len("step:"):])
                         if step.on_failure.startswith("step:") else following)
            if step.is_end:
                index = None
        if critical_failure is not None:
            self._finish("Failed", critical_failure.failure_message)
        else:
            self._finish("Success", None)

    def _following(self, index: int, step: Step) -> int | None:
        if step.next_step:
            return self.document.index_of(step.next_step)
        return index + 1 if index + 1 < len(self.document.steps) else None

    def _finish(self, status: str, message: str | None) -> None:
        with self.lock:
            self.status = status
            self.failure_message = message

    def _context(self, record: StepRecord, inputs: dict[str, Any],
                 deadline: float | None) -> actions.StepContext:
        def set_waiting(waiting: bool) -> None:
            with self.lock:
                record.status = "Waiting" if waiting else "InProgress"
                self._set_status("Waiting" if waiting else
                                 ("Cancelling" if self.cancelled.is_set() else "InProgress"))

        return actions.StepContext(
            step_name=record.step.name, inputs=inputs, deadline=deadline,
            cancelled=self.cancelled, signals=self.signals,
            client=lambda service: self.client_factory(service, self.region),
            environment=self.environment, variables=self.variables(),
            set_waiting=set_waiting)

    def _run_step(self, record: StepRecord) -> str | None:
        """Run one step to its end; returns the branch's choice (if any)."""
        step = record.step
        timeout = step.timeout_seconds or actions.DEFAULT_TIMEOUTS.get(step.action)
        with self.lock:
            record.status, record.start, record.timeout_seconds = (
                "InProgress", datetime.now(UTC), timeout)
        chosen: str | None = None
        try:
            try:
                inputs = resolve(step.inputs, self.lookup)
            except UnresolvedReference as exc:
                raise actions.StepFailed(
                    f"Step fails when it is InputValidation. {exc}. {actions.GUIDE}",
                    failure_type="Verification") from exc
            with self.lock:
                record.inputs = {k: text_of(v) if isinstance(v, str) else json.dumps(v)
                                 for k, v in inputs.items()}
            action = actions.SUPPORTED.get(step.action)
            if action is None:
                raise actions.unsupported(step.action)
            result = self._attempts(record, action, inputs, timeout)
            outputs = self._select_outputs(step, result)
            with self.lock:
                record.outputs = outputs
                record.status = "Success"
            chosen = result.next_step
        except actions.StepCancelled:
            self._end_step(record, "Cancelled", None, None)
        except actions.StepTimedOut:
            self._end_step(record, "TimedOut", (
                f"Step timed out while step is executing {step.action}: it did not finish "
                f"within its timeoutSeconds of {timeout}."), {"FailureStage": "Invocation",
                                                              "FailureType": "Action"})
        except actions.StepFailed as exc:
            details: dict[str, Any] = {"FailureStage": "Invocation",
                                       "FailureType": exc.failure_type}
            if exc.details:
                details["Details"] = exc.details
            self._end_step(record, "Failed", str(exc), details)
        with self.lock:
            record.end = datetime.now(UTC)
        return chosen

    def _end_step(self, record: StepRecord, status: str, message: str | None,
                  details: dict[str, Any] | None) -> None:
        with self.lock:
            record.status, record.failure_message, record.failure_details = (
                status, message, details)

    def _attempts(self, record: StepRecord, action: actions.Action, inputs: dict[str, Any],
                  timeout: int | None) -> actions.ActionResult:
        for attempt in range(1, record.step.max_attempts + 1):
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                return action(self._context(record, inputs, deadline))
            except (actions.StepFailed, actions.StepTimedOut):
                if attempt == record.step.max_attempts or self.cancelled.is_set():
                    raise
                log.info("automation %s step %s attempt %d failed; retrying",
                         self.execution_id, record.step.name, attempt)
        raise AssertionError("unreachable: maxAttempts is at least 1")

    @staticmethod
    def _select_outputs(step: Step, result: actions.ActionResult) -> dict[str, Any]:
        outputs: dict[str, Any] = dict(result.built_in)
        for declared in step.outputs:
            name, kind = str(declared["Name"]), str(declared.get("Type", "String"))
            try:
                value = select(result.document, str(declared["Selector"]))
            except UnresolvedReference:
                continue  # AWS leaves an output unset when its selector finds nothing
            try:
                outputs[name] = typed_output(value, kind, f"{step.name}.{name}")
            except UnresolvedReference as exc:
                raise actions.StepFailed(
                    f"Step fails when it is Outputs. {exc}. {actions.GUIDE}",
                    failure_type="Verification") from exc
        return outputs

    # --- control ---

    def stop(self) -> None:
        with self.lock:
            if self.status in TERMINAL:
                raise ValueError(f"Automation execution {self.execution_id} is already "
                                 f"{self.status}.")
            self.status = "Cancelling"
        self.cancelled.set()

    def signal(self, signal: actions.Signal) -> None:
        with self.lock:
            current = self.current()
            waiting_for = {"aws:approve": ("Approve", "Reject"),
                           "aws:pause": ("Resume",)}.get(current.step.action if current else "",
                                                         ())
            if current is None or current.status != "Waiting" or \
                    signal.signal_type not in waiting_for:
                raise ValueError(
                    f"Signal {signal.signal_type} is not valid for automation execution "
                    f"{self.execution_id}: it is {self.status}"
                    + (f" at step {current.step.name} ({current.step.action})" if current
                       else "") + ".")
            self.signals.put(signal)


def new_execution_id() -> str:
    """An AutomationExecutionId in AWS's format (a UUID)."""
    return str(uuid.uuid4())
