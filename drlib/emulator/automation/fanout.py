"""Multi-account, multi-Region and rate-controlled Automation: one parent, one child per target.

``StartAutomationExecution`` with ``TargetLocations`` (accounts x Regions) or with ``Targets``
``ParameterValues`` and ``TargetParameterName`` (rate control) creates a *parent* execution in
the caller's account and Region and one *child* execution per target: per account and Region of
each location, or per parameter value. Children are ordinary executions
(:class:`drlib.emulator.automation.engine.Execution`) of the same-named document in their own
account and Region, carrying ``ParentAutomationExecutionId`` (and ``Target`` for a parameter
value), listed by that account and Region's ``DescribeAutomationExecutions``.

Concurrency and error thresholds are AWS's: at most ``MaxConcurrency`` (a location's
``TargetLocationMaxConcurrency``) children run at once, a number or a percentage of the targets
(at least 1); once more than ``MaxErrors`` (``TargetLocationMaxErrors``) children have failed, no
further child is started (those already running finish); ``0`` stops after the first error. A
child that cannot start (no such document there, its Region down) counts as an error. Location
entries run one after another, each with its own limits; one whose threshold was exceeded stops
the rest. The parent ends ``Success`` when every child succeeded, ``Cancelled`` when stopped
(running children are stopped), else ``Failed`` naming the failed targets and those never
started. Its step executions are one ``aws:executeAutomation`` step per child (named
``ACCOUNT/REGION`` or by the parameter value) with the child's ``ExecutionId`` as output.

Defaults: ``MaxConcurrency`` 10 and ``MaxErrors`` 0 (rate control); ``TargetLocationMaxConcurrency``
1 and ``TargetLocationMaxErrors`` 0 (the emulator's choice: set them explicitly).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drlib.emulator.automation.engine import TERMINAL, Execution

log = logging.getLogger(__name__)

POLL_S = 0.1
LIMIT = re.compile(r"^([1-9][0-9]*|0)(%?)$")


class FanOutError(ValueError):
    """A request the emulator cannot fan out (InvalidAutomationExecutionParameters)."""


def limit(value: Any, total: int, default: str, name: str, *, at_least_one: bool) -> int:
    """``MaxConcurrency``/``MaxErrors``-style value ("10" or "10%") as a count of ``total``."""
    text = default if value in (None, "") else str(value)
    found = LIMIT.match(text)
    if found is None:
        raise FanOutError(f"{name} {text!r} is not a number or a percentage such as 10 or 10%.")
    number = int(found.group(1))
    if found.group(2):
        if number > 100:
            raise FanOutError(f"{name} {text!r} is over 100%.")
        number = math.floor(total * number / 100)
    return max(number, 1) if at_least_one else number


@dataclass
class Child:
    """One target of the parent: where it runs, with what, and how it went."""

    step_name: str
    account_id: str
    region: str
    parameters: dict[str, list[str]]
    target: str | None = None
    location: dict[str, Any] | None = None
    step_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    execution: Execution | None = None
    status: str = "Pending"
    failure_message: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def to_api(self, document_name: str) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "StepName": self.step_name, "Action": "aws:executeAutomation",
            "StepExecutionId": self.step_execution_id, "StepStatus": self.status,
            "OnFailure": "Abort", "MaxAttempts": 1, "IsEnd": False, "IsCritical": True,
            "Inputs": {"DocumentName": json.dumps(document_name),
                       "RuntimeParameters": json.dumps(self.parameters)},
            "Outputs": ({"ExecutionId": [self.execution.execution_id]} if self.execution
                        else {}),
        }
        if self.location is not None:
            shape["TargetLocation"] = self.location
        if self.target is not None:
            shape["Targets"] = [{"Key": "ParameterValues", "Values": [self.target]}]
        if self.start is not None:
            shape["ExecutionStartTime"] = self.start.timestamp()
        if self.end is not None:
            shape["ExecutionEndTime"] = self.end.timestamp()
        if self.failure_message:
            shape["FailureMessage"] = self.failure_message
        return shape


@dataclass
class Group:
    """Children run under one concurrency and error threshold."""

    children: list[Child]
    concurrency: int
    max_errors: int
    errors: int = 0
    exceeded: bool = False


StartChild = Callable[[Child, str], Execution]
"""Start a child's execution (given the parent's id); raises with AWS's message when it can't."""


@dataclass
class ParentExecution:
    """The parent of a multi-target execution, with the API shapes of an execution."""

    execution_id: str
    document_name: str
    document_version: str
    account_id: str
    region: str
    executed_by: str
    parameters: dict[str, list[str]]
    groups: list[Group]
    start_child: StartChild
    request: dict[str, Any]
    status: str = "Pending"
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    failure_message: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    thread: threading.Thread | None = None

    @property
    def children(self) -> list[Child]:
        return [c for g in self.groups for c in g.children]

    # --- API shapes ---

    def metadata(self) -> dict[str, Any]:
        with self.lock:
            shape: dict[str, Any] = {
                "AutomationExecutionId": self.execution_id, "DocumentName": self.document_name,
                "DocumentVersion": self.document_version,
                "AutomationExecutionStatus": self.status,
                "ExecutionStartTime": self.start.timestamp(), "ExecutedBy": self.executed_by,
                "Mode": "Auto", "Outputs": {}, "LogFile": "",
                "AutomationType": ("CrossAccount" if self.request.get("TargetLocations")
                                   else "Local"),
                "ResolvedTargets": {"ParameterValues": [c.target for c in self.children
                                                        if c.target is not None],
                                    "Truncated": False},
            }
            for key in ("Targets", "TargetParameterName", "MaxConcurrency", "MaxErrors"):
                if self.request.get(key) is not None:
                    shape[key] = self.request[key]
            if self.end is not None:
                shape["ExecutionEndTime"] = self.end.timestamp()
            if self.failure_message:
                shape["FailureMessage"] = self.failure_message
            return shape

    def to_api(self) -> dict[str, Any]:
        with self.lock:
            shape = self.metadata()
            shape.pop("LogFile")
            shape.pop("AutomationType")
            shape["Parameters"] = self.parameters
            if self.request.get("TargetLocations"):
                shape["TargetLocations"] = self.request["TargetLocations"]
            steps = [c.to_api(self.document_name) for c in self.children]
            shape["StepExecutions"] = steps
            shape["StepExecutionsTruncated"] = False
            counted = [s["StepStatus"] for s in steps]
            shape["ProgressCounters"] = {
                "TotalSteps": len(counted), "SuccessSteps": counted.count("Success"),
                "FailedSteps": counted.count("Failed"),
                "CancelledSteps": counted.count("Cancelled"),
                "TimedOutSteps": counted.count("TimedOut"),
            }
            return shape

    # --- running ---

    def start_running(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"automation-parent-{self.execution_id[:8]}")
        self.thread.start()

    def _run(self) -> None:
        try:
            with self.lock:
                self.status = "InProgress"
            for group in self.groups:
                self._run_group(group)
                if group.exceeded or self.cancelled.is_set():
                    break
            self._finish()
        except Exception as exc:  # an engine bug must still end the parent visibly
            log.exception("automation parent %s crashed", self.execution_id)
            with self.lock:
                self.status, self.failure_message = "Failed", f"Internal failure: {exc}"
        finally:
            with self.lock:
                self.end = datetime.now(UTC)

    def _run_group(self, group: Group) -> None:
        pending = deque(group.children)
        running: list[Child] = []
        while pending or running:
            if self.cancelled.is_set():
                for child in running:
                    if child.execution is not None and child.execution.status not in TERMINAL:
                        with contextlib.suppress(ValueError):
                            child.execution.stop()
            while (not self.cancelled.is_set() and not group.exceeded and pending
                   and len(running) < group.concurrency):
                child = pending.popleft()
                self._start(child, group)
                if child.status not in TERMINAL:
                    running.append(child)
            for child in list(running):
                self._follow(child, group)
                if child.status in TERMINAL:
                    running.remove(child)
            if (self.cancelled.is_set() or group.exceeded) and not running:
                break
            time.sleep(POLL_S)
        for child in pending:
            with self.lock:
                child.status = "Cancelled"
                child.failure_message = (
                    "Not started: the execution was stopped." if self.cancelled.is_set() else
                    f"Not started: the error threshold was exceeded ({group.errors} errors, "
                    f"at most {group.max_errors} allowed).")

    def _start(self, child: Child, group: Group) -> None:
        with self.lock:
            child.start, child.status = datetime.now(UTC), "InProgress"
        try:
            execution = self.start_child(child, self.execution_id)
        except Exception as exc:
            with self.lock:
                child.status, child.end = "Failed", datetime.now(UTC)
                child.failure_message = f"The child execution could not start: {exc}"
            self._count_error(group)
            return
        with self.lock:
            child.execution = execution

    def _follow(self, child: Child, group: Group) -> None:
        execution = child.execution
        if execution is None:
            return
        with execution.lock:
            status, message, ended = execution.status, execution.failure_message, execution.end
        if status not in TERMINAL or ended is None:
            return
        with self.lock:
            child.status, child.failure_message, child.end = status, message, ended
        if status != "Success":
            self._count_error(group)

    def _count_error(self, group: Group) -> None:
        group.errors += 1
        if group.errors > group.max_errors:
            group.exceeded = True

    def _finish(self) -> None:
        children = self.children
        with self.lock:
            if self.cancelled.is_set():
                self.status = "Cancelled"
                return
            failed = [c for c in children if c.status in ("Failed", "TimedOut")
                      or (c.status == "Cancelled" and c.execution is not None)]
            skipped = [c for c in children if c.execution is None and c.status == "Cancelled"]
            if not failed and not skipped:
                self.status = "Success"
                return
            self.status = "Failed"
            parts = [f"{len(failed)} of {len(children)} target executions did not succeed"
                     + (f" ({', '.join(c.step_name for c in failed)})" if failed else "")]
            if skipped:
                parts.append(f"{len(skipped)} not started because the error threshold was "
                             f"exceeded ({', '.join(c.step_name for c in skipped)})")
            self.failure_message = "; ".join(parts) + "."

    # --- control ---

    def stop(self) -> None:
        with self.lock:
            if self.status in TERMINAL:
                raise ValueError(f"Automation execution {self.execution_id} is already "
                                 f"{self.status}.")
            self.status = "Cancelling"
        self.cancelled.set()

    def signal(self, signal: Any) -> None:
        raise ValueError(f"Automation execution {self.execution_id} runs its targets as child "
                         "executions; send the signal to the child execution waiting for it.")


UNSUPPORTED_LOCATION_KEYS = ("ExcludeAccounts", "IncludeChildOrganizationUnits",
                             "TargetLocationAlarmConfiguration", "Targets", "TargetsMaxConcurrency",
                             "TargetsMaxErrors")


def plan(request: dict[str, Any], caller_account: str, caller_region: str,
         known_regions: Callable[[str], bool]) -> list[Group]:
    """The children of a multi-target request, grouped under their limits; refuses what the
    emulator does not fan out (FanOutError, naming it)."""
    parameters: dict[str, list[str]] = dict(request.get("Parameters") or {})
    locations = request.get("TargetLocations") or []
    targets = request.get("Targets") or []
    if locations and targets:
        raise FanOutError("TargetLocations together with Targets is not supported by the drlib "
                          "emulator: run the rate-controlled execution in each location.")
    if targets:
        return [_rate_controlled(request, parameters, caller_account, caller_region)]
    groups = []
    for number, location in enumerate(locations, start=1):
        for key in UNSUPPORTED_LOCATION_KEYS:
            if location.get(key) not in (None, [], False):
                raise FanOutError(f"TargetLocations[{number}].{key} is not supported by the "
                                  "drlib emulator.")
        accounts = list(location.get("Accounts") or [caller_account])
        regions = list(location.get("Regions") or [caller_region])
        for account in accounts:
            if not re.fullmatch(r"\d{12}", str(account)):
                raise FanOutError(f"TargetLocations[{number}].Accounts {account!r} is not an "
                                  "account ID (organizational units are not supported by the "
                                  "drlib emulator).")
        for region in regions:
            if not known_regions(region):
                raise FanOutError(f"TargetLocations[{number}].Regions {region!r} is not a "
                                  "Region.")
        children = [Child(step_name=f"{account}/{region}", account_id=account, region=region,
                          parameters=parameters,
                          location={"Accounts": [account], "Regions": [region],
                                    "ExecutionRoleName": location.get(
                                        "ExecutionRoleName",
                                        "AWS-SystemsManager-AutomationExecutionRole")})
                    for account in accounts for region in regions]
        groups.append(Group(
            children=children,
            concurrency=limit(location.get("TargetLocationMaxConcurrency"), len(children), "1",
                              "TargetLocationMaxConcurrency", at_least_one=True),
            max_errors=limit(location.get("TargetLocationMaxErrors"), len(children), "0",
                             "TargetLocationMaxErrors", at_least_one=False)))
    return groups


def _rate_controlled(request: dict[str, Any], parameters: dict[str, list[str]],
                     account: str, region: str) -> Group:
    targets = request["Targets"]
    name = request.get("TargetParameterName")
    if not name:
        raise FanOutError("TargetParameterName is required with Targets.")
    if len(targets) != 1 or targets[0].get("Key") != "ParameterValues":
        keys = sorted({str(t.get("Key")) for t in targets})
        raise FanOutError(f"Targets with Key {keys} are not supported by the drlib emulator "
                          "(only one target with Key ParameterValues is: it resolves no tags, "
                          "resource groups or instances).")
    values = [str(v) for v in targets[0].get("Values") or []]
    if not values:
        raise FanOutError("Targets ParameterValues lists no value.")
    children = [Child(step_name=value, account_id=account, region=region,
                      parameters={**parameters, name: [value]}, target=value)
                for value in values]
    return Group(children=children,
                 concurrency=limit(request.get("MaxConcurrency"), len(children), "10",
                                   "MaxConcurrency", at_least_one=True),
                 max_errors=limit(request.get("MaxErrors"), len(children), "0", "MaxErrors",
                                  at_least_one=False))
