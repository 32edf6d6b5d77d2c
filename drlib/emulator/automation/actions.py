"""The Automation actions the emulator runs, each as AWS documents it.

Every action gets a :class:`StepContext` (resolved inputs, the deadline from ``timeoutSeconds``,
the execution's cancel flag and signals, an AWS client factory for the execution's region) and
returns an :class:`ActionResult` (the document the output selectors read, plus built-in outputs)
or raises :class:`StepFailed` / :class:`StepTimedOut` / :class:`StepCancelled`.

Supported (:data:`SUPPORTED`): ``aws:executeAwsApi``, ``aws:waitForAwsResourceProperty``,
``aws:assertAwsResourceProperty``, ``aws:branch``, ``aws:sleep``, ``aws:pause``,
``aws:approve``, ``aws:executeScript`` (Python runtimes, in a subprocess) and
``aws:invokeLambdaFunction`` (through the region's Lambda ``Invoke`` API). Any other action fails
the step with a message naming it.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drlib.emulator.automation import script_runner
from drlib.emulator.automation.references import UnresolvedReference, plain, select, text_of

POLL_INTERVAL = 0.5
"""Seconds between two reads of aws:waitForAwsResourceProperty (AWS does not publish its own)."""

GUIDE = "Please refer to Automation Service Troubleshooting Guide for more diagnosis details."


class StepFailed(Exception):
    """The action failed; ``message`` is the step's FailureMessage."""

    def __init__(self, message: str, failure_type: str = "Action",
                 details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.failure_type = failure_type
        self.details = details or {}


class StepTimedOut(Exception):
    """The step did not finish within its timeoutSeconds."""


class StepCancelled(Exception):
    """The execution was stopped while the step ran."""


@dataclass
class Signal:
    """One SendAutomationSignal call."""

    signal_type: str
    payload: dict[str, list[str]]
    sender: str


@dataclass
class StepContext:
    """What an action may use."""

    step_name: str
    inputs: dict[str, Any]
    deadline: float | None
    cancelled: threading.Event
    signals: queue.Queue[Signal]
    client: Callable[[str], Any]
    environment: dict[str, str]
    variables: dict[str, str]
    set_waiting: Callable[[bool], None]

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check(self) -> None:
        """Raise if the execution was stopped or the step ran out of time."""
        if self.cancelled.is_set():
            raise StepCancelled()
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise StepTimedOut()

    def pause(self, seconds: float) -> None:
        """Wait up to ``seconds`` (less near the deadline), then :meth:`check`."""
        remaining = self.remaining()
        self.cancelled.wait(seconds if remaining is None else max(0.0, min(seconds, remaining)))
        self.check()


@dataclass
class ActionResult:
    """The document output selectors read, built-in outputs, and the branch decision."""

    document: Any = None
    built_in: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None


def _failure(stage: str, cause: str) -> str:
    return f"Step fails when it is {stage}. {cause.rstrip('.')}. {GUIDE}"


# --- AWS API calls ----------------------------------------------------------------------------

API_CONTROL_INPUTS = frozenset({"Service", "Api", "PropertySelector", "DesiredValues"})


def call_api(ctx: StepContext) -> Any:
    """Call ``inputs.Service`` / ``inputs.Api`` with the other inputs as its parameters."""
    from botocore.exceptions import BotoCoreError, ClientError

    service = str(ctx.inputs["Service"]).lower()
    api = str(ctx.inputs["Api"])
    try:
        client = ctx.client(service)
    except Exception as exc:
        raise StepFailed(_failure("Execution", f"Service {service} is not a valid AWS service "
                                               f"name ({exc})")) from exc
    method = {v: k for k, v in client.meta.method_to_api_mapping.items()}.get(api)
    if method is None:
        raise StepFailed(_failure("Execution", f"Api {api} is not an operation of service "
                                               f"{service}"))
    parameters = {k: v for k, v in ctx.inputs.items() if k not in API_CONTROL_INPUTS}
    try:
        response = getattr(client, method)(**parameters)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise StepFailed(_failure("Execution", str(exc)), details={
            "ErrorCode": [str(error.get("Code", ""))],
            "ExceptionMessage": [str(error.get("Message", ""))]}) from exc
    except BotoCoreError as exc:
        raise StepFailed(_failure("Execution", str(exc))) from exc
    response = plain(response)
    response.pop("ResponseMetadata", None)
    return response


def execute_aws_api(ctx: StepContext) -> ActionResult:
    """aws:executeAwsApi: one call; its response is what the output selectors read."""
    return ActionResult(document=call_api(ctx))


def _property(ctx: StepContext, response: Any) -> str:
    selector = str(ctx.inputs["PropertySelector"])
    try:
        return text_of(select(response, selector))
    except UnresolvedReference as exc:
        raise StepFailed(_failure("Execution", f"PropertySelector {selector}: {exc}")) from exc


def _desired(ctx: StepContext) -> list[str]:
    desired = ctx.inputs["DesiredValues"]
    return [text_of(v) for v in (desired if isinstance(desired, list) else [desired])]


def assert_aws_resource_property(ctx: StepContext) -> ActionResult:
    """aws:assertAwsResourceProperty: the selected property must be one of DesiredValues."""
    value, desired = _property(ctx, call_api(ctx)), _desired(ctx)
    if value not in desired:
        raise StepFailed(_failure("verifying", (
            f"Expected value of {ctx.inputs['PropertySelector']} to be one of {desired} but "
            f"found {value}")), failure_type="Verification")
    return ActionResult()


def wait_for_aws_resource_property(ctx: StepContext) -> ActionResult:
    """aws:waitForAwsResourceProperty: poll until the property is one of DesiredValues."""
    desired = _desired(ctx)
    while True:
        value = _property(ctx, call_api(ctx))
        if value in desired:
            return ActionResult()
        ctx.pause(POLL_INTERVAL)


# --- flow ------------------------------------------------------------------------------------

_NUMERIC = {"NumericEquals": float.__eq__, "NumericGreater": float.__gt__,
            "NumericLesser": float.__lt__, "NumericGreaterOrEquals": float.__ge__,
            "NumericLesserOrEquals": float.__le__}


def choice_holds(choice: dict[str, Any]) -> bool:
    """Whether one aws:branch choice (or And/Or/Not of choices) is true."""
    if "And" in choice:
        return all(choice_holds(c) for c in choice["And"])
    if "Or" in choice:
        return any(choice_holds(c) for c in choice["Or"])
    if "Not" in choice:
        return not choice_holds(choice["Not"])
    variable = choice.get("Variable")
    for operator, expected in choice.items():
        if operator in ("Variable", "NextStep"):
            continue
        if operator == "BooleanEquals":
            return text_of(variable).lower() == text_of(expected).lower()
        if operator == "StringEquals":
            return text_of(variable) == text_of(expected)
        if operator == "EqualsIgnoreCase":
            return text_of(variable).lower() == text_of(expected).lower()
        if operator == "StartsWith":
            return text_of(variable).startswith(text_of(expected))
        if operator == "EndsWith":
            return text_of(variable).endswith(text_of(expected))
        if operator == "Contains":
            return text_of(expected) in (variable if isinstance(variable, list)
                                         else text_of(variable))
        if operator in _NUMERIC:
            return bool(_NUMERIC[operator](float(text_of(variable)), float(text_of(expected))))
        raise StepFailed(_failure("Execution", f"aws:branch operator {operator} is not "
                                               "supported"))
    raise StepFailed(_failure("Execution", "an aws:branch choice has no operator"))


def branch(ctx: StepContext) -> ActionResult:
    """aws:branch: the first true choice's NextStep, else Default, else the step fails."""
    for choice in ctx.inputs["Choices"]:
        if choice_holds(choice):
            return ActionResult(next_step=str(choice["NextStep"]))
    if "Default" in ctx.inputs:
        return ActionResult(next_step=str(ctx.inputs["Default"]))
    raise StepFailed(_failure("Execution", "No choice of the aws:branch step is true and it "
                                           "has no Default"))


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def duration_seconds(text: str) -> float:
    """An ISO 8601 duration (``PT30S``, ``PT5M``, ``P1DT2H``) in seconds."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise StepFailed(_failure("Execution", f"Duration {text} is not an ISO 8601 duration"))
    days, hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def sleep(ctx: StepContext) -> ActionResult:
    """aws:sleep: a Duration, or until a Timestamp (ISO 8601 UTC)."""
    if "Duration" in ctx.inputs:
        seconds = duration_seconds(str(ctx.inputs["Duration"]))
    else:
        until = datetime.fromisoformat(str(ctx.inputs["Timestamp"]).replace("Z", "+00:00"))
        seconds = (until - datetime.now(UTC)).total_seconds()
    end = time.monotonic() + max(0.0, seconds)
    while time.monotonic() < end:
        ctx.pause(min(0.2, end - time.monotonic()))
    return ActionResult()


def _wait_for_signal(ctx: StepContext, accepted: tuple[str, ...]) -> Signal:
    ctx.set_waiting(True)
    try:
        while True:
            try:
                signal = ctx.signals.get(timeout=0.1)
            except queue.Empty:
                ctx.check()
                continue
            if signal.signal_type in accepted:
                return signal
    finally:
        ctx.set_waiting(False)


def pause(ctx: StepContext) -> ActionResult:
    """aws:pause: Waiting until SendAutomationSignal Resume."""
    _wait_for_signal(ctx, ("Resume",))
    return ActionResult()


def approve(ctx: StepContext) -> ActionResult:
    """aws:approve: Waiting until MinRequiredApprovals Approve signals, or one Reject."""
    needed = int(ctx.inputs.get("MinRequiredApprovals", 1))
    topic = ctx.inputs.get("NotificationArn")
    if topic:
        ctx.client("sns").publish(TopicArn=topic, Subject="Automation approval request",
                                  Message=str(ctx.inputs.get("Message") or
                                              f"Approval requested by step {ctx.step_name}"))
    decisions: list[dict[str, str]] = []
    while True:
        signal = _wait_for_signal(ctx, ("Approve", "Reject"))
        decisions.append({
            "Approver": signal.sender, "Decision": signal.signal_type,
            "ApprovalDecisionTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "Comment": " ".join(signal.payload.get("Comment", []))})
        if signal.signal_type == "Reject":
            raise StepFailed(_failure("Execution", f"Step {ctx.step_name} was rejected by "
                                                   f"{signal.sender}: "
                                                   f"{decisions[-1]['Comment'] or 'no comment'}"),
                             details={"ApprovalStatus": ["Rejected"]})
        if sum(d["Decision"] == "Approve" for d in decisions) >= needed:
            return ActionResult(built_in={"ApprovalStatus": "Approved",
                                          "ApproverDecisions": decisions})


# --- code ------------------------------------------------------------------------------------

def execute_script(ctx: StepContext) -> ActionResult:
    """aws:executeScript (Python): ``handler(events, context)`` in a subprocess."""
    runtime = str(ctx.inputs["Runtime"])
    if not runtime.startswith("python3"):
        raise StepFailed(_failure("Execution", f"Runtime {runtime} is not supported by the "
                                               "drlib emulator (Python runtimes only)"))
    if "Script" not in ctx.inputs:
        raise StepFailed(_failure("Execution", "Script attachments are not supported by the "
                                               "drlib emulator; give the Script inline"))
    payload = ctx.inputs.get("InputPayload") or {}
    outcome = script_runner.run_handler(
        script=str(ctx.inputs["Script"]), handler=str(ctx.inputs["Handler"]),
        event=payload, context=ctx.variables, environment=ctx.environment,
        timeout=ctx.remaining(), cancelled=ctx.cancelled)
    if outcome.cancelled:
        raise StepCancelled()
    if outcome.timed_out:
        raise StepTimedOut()
    if outcome.error is not None:
        raise StepFailed(_failure("Execution", f"We encountered an error while executing the "
                                               f"script: {outcome.error}"))
    document = {"Payload": outcome.result}
    return ActionResult(document=document,
                        built_in={"OutputPayload": json.dumps(document, default=str)})


def invoke_lambda_function(ctx: StepContext) -> ActionResult:
    """aws:invokeLambdaFunction: the region's Lambda Invoke API, payload returned as is."""
    from botocore.exceptions import ClientError

    arguments: dict[str, Any] = {"FunctionName": ctx.inputs["FunctionName"]}
    for key in ("InvocationType", "LogType", "ClientContext", "Qualifier"):
        if key in ctx.inputs:
            arguments[key] = ctx.inputs[key]
    if "Payload" in ctx.inputs:
        payload = ctx.inputs["Payload"]
        arguments["Payload"] = payload if isinstance(payload, str) else json.dumps(payload)
    try:
        response = ctx.client("lambda").invoke(**arguments)
    except ClientError as exc:
        raise StepFailed(_failure("Execution", str(exc))) from exc
    body = response["Payload"].read().decode("utf-8", "replace")
    built_in: dict[str, Any] = {"StatusCode": response.get("StatusCode"), "Payload": body}
    if response.get("FunctionError"):
        built_in["FunctionError"] = response["FunctionError"]
    if response.get("LogResult"):
        built_in["LogResult"] = response["LogResult"]
    if response.get("FunctionError"):
        raise StepFailed(_failure("Execution", f"Lambda function {ctx.inputs['FunctionName']} "
                                               f"failed ({response['FunctionError']}): {body}"))
    try:
        document: Any = {"Payload": json.loads(body)} if body else {"Payload": None}
    except ValueError:
        document = {"Payload": body}
    return ActionResult(document=document, built_in=built_in)


Action = Callable[[StepContext], ActionResult]

SUPPORTED: dict[str, Action] = {
    "aws:executeAwsApi": execute_aws_api,
    "aws:waitForAwsResourceProperty": wait_for_aws_resource_property,
    "aws:assertAwsResourceProperty": assert_aws_resource_property,
    "aws:branch": branch,
    "aws:sleep": sleep,
    "aws:pause": pause,
    "aws:approve": approve,
    "aws:executeScript": execute_script,
    "aws:invokeLambdaFunction": invoke_lambda_function,
}

DEFAULT_TIMEOUTS: dict[str, int] = {
    "aws:approve": 604800,
    "aws:executeScript": 600,
    "aws:waitForAwsResourceProperty": 3600,
}
"""AWS's documented default timeoutSeconds where a step gives none."""


def unsupported(action: str) -> StepFailed:
    """The failure of a step whose action the emulator does not run."""
    return StepFailed(_failure("Execution", (
        f"Action {action} is not supported by the drlib emulator; it runs "
        f"{', '.join(sorted(SUPPORTED))}")), failure_type="Internal")
