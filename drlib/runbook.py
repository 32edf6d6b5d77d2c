"""The DR procedure as SSM Automation runbooks: start one, follow its steps, stop it.

What is drilled is what would be run (DESIGN.md section 5): the planned switchover, the unplanned
failover and the failback are runbooks of the templates (``dr-automation.yaml``), held by the
secondary region so they run while the primary region is down. :func:`start_runbook` starts the
one a purpose names (the workload's ``runbooks``, from the stack outputs); a
:class:`RunbookExecution` polls ``GetAutomationExecution`` and
``DescribeAutomationStepExecutions`` and keeps one timeline step per step execution, under the
runbook's own step name, with AWS's start and end times, outcome and failure message, as the
execution goes (so the world watch sees which step runs). An execution that does not succeed
raises :class:`~drlib.errors.DrillAborted` naming the failing step and AWS's message;
:meth:`RunbookExecution.stop` cancels one that still runs (the abort path).

Nothing here knows the target: the emulator answers these APIs as AWS does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drlib.errors import ConfigError, DrError, DrillAborted
from drlib.timeline import OUTCOMES, Outcome, StepRecord, Timeline, iso, to_utc, utc_now
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

RUNNING = frozenset({"Pending", "InProgress", "Waiting", "Cancelling", "PendingApproval",
                     "Approved", "Scheduled", "RunbookInProgress"})
SUCCEEDED = frozenset({"Success", "CompletedWithSuccess"})
ENDED_BADLY = frozenset({"Failed", "TimedOut", "Cancelled", "Rejected", "CompletedWithFailure",
                         "Exited"})
"""AWS's Automation statuses reduced to running, succeeded and ended badly; any other raises."""

STEP_OUTCOMES: Mapping[str, Outcome] = {
    "Success": "ok", "CompletedWithSuccess": "ok", "Failed": "failed", "TimedOut": "failed",
    "Rejected": "failed", "CompletedWithFailure": "failed", "Cancelled": "aborted",
    "Exited": "aborted",
}

EXECUTION_POLL_S = 0.25
"""How often the execution is read while it runs (its step times are AWS's own, not the poll's)."""


def simplified(status: str) -> str:
    """``running``, ``succeeded`` or ``ended badly`` for an Automation status; unknown raises."""
    if status in RUNNING:
        return "running"
    if status in SUCCEEDED:
        return "succeeded"
    if status in ENDED_BADLY:
        return "ended badly"
    raise DrError(f"Unknown SSM Automation status {status!r}",
                  expected=", ".join(sorted(RUNNING | SUCCEEDED | ENDED_BADLY)),
                  found=status, fix="extend drlib.runbook's status sets to the new status")


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return to_utc(value)


def _outputs_text(outputs: Mapping[str, Any] | None) -> str:
    if not outputs:
        return ""
    return ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in sorted(outputs.items()))[:300]


def runbook_name(workload: Any, purpose: str) -> str:
    """The runbook of ``purpose`` among the workload's stack outputs; raises when absent."""
    name = (getattr(workload, "runbooks", None) or {}).get(purpose)
    if not name:
        raise ConfigError(f"No {purpose} runbook among the secondary stacks' outputs",
                          expected="the dr-automation stack of the secondary region with its "
                                   "PlannedSwitchoverRunbookName, UnplannedFailoverRunbookName "
                                   "and FailbackRunbookName outputs",
                          found=", ".join(sorted(getattr(workload, "runbooks", {}) or {}))
                          or "none",
                          fix="deploy the secondary stack group (drlib stacks launch --env <env> "
                              "--group secondary)")
    return str(name)


@dataclass
class RunbookExecution:
    """One execution of a runbook, followed onto a timeline."""

    ssm: Any
    region: str
    document: str
    execution_id: str
    timeline: Timeline | None = None
    parameters: Mapping[str, list[str]] = field(default_factory=dict)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    """The timeline's step of every step execution seen, by StepExecutionId."""
    last: dict[str, Any] = field(default_factory=dict)
    """The execution as last read (GetAutomationExecution)."""
    step_executions: list[dict[str, Any]] = field(default_factory=list)

    # --- reading ---

    def read(self) -> dict[str, Any]:
        """Read the execution and its step executions; bring the timeline's steps up to date."""
        found: dict[str, Any] = self.ssm.get_automation_execution(
            AutomationExecutionId=self.execution_id)["AutomationExecution"]
        steps: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.ssm.describe_automation_step_executions(
                AutomationExecutionId=self.execution_id, **({"NextToken": token} if token else {}))
            steps.extend(page.get("StepExecutions", []))
            token = page.get("NextToken")
            if not token:
                break
        self.last, self.step_executions = found, steps
        self._record(steps)
        return found

    @property
    def status(self) -> str:
        return str(self.last.get("AutomationExecutionStatus", "Pending"))

    def step_started_at(self, name: str) -> datetime | None:
        """When the step execution ``name`` started (AWS's time), once it has."""
        for step in self.step_executions:
            if step.get("StepName") == name and step.get("ExecutionStartTime") is not None:
                return _time(step["ExecutionStartTime"])
        return None

    def step_names(self) -> list[str]:
        """The names of the step executions, in the order they ran."""
        return [str(s["StepName"]) for s in self.step_executions]

    def _record(self, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            started = _time(step.get("ExecutionStartTime"))
            if started is None:
                continue  # Pending: not begun
            key = str(step.get("StepExecutionId") or step["StepName"])
            record = self.steps.get(key)
            if record is None:
                record = StepRecord(step=str(step["StepName"]), started_at=started,
                                    timeout_s=float(step.get("TimeoutSeconds") or 0.0),
                                    runbook=self.document)
                self.steps[key] = record
                if self.timeline is not None:
                    self.timeline.steps.append(record)
                log.info("runbook %s step %s started", self.document, record.step)
            status = str(step.get("StepStatus", ""))
            outcome = STEP_OUTCOMES.get(status)
            ended = _time(step.get("ExecutionEndTime"))
            if outcome is None or record.outcome is not None:
                continue
            assert outcome in OUTCOMES
            record.ended_at = ended or utc_now()
            record.outcome = outcome
            record.timed_out = status == "TimedOut"
            action = step.get("Action", "")
            detail = step.get("FailureMessage") or _outputs_text(step.get("Outputs"))
            record.detail = f"{action} {status}" + (f": {detail}" if detail else "")
            log.info("runbook %s step %s %s", self.document, record.step, status)

    # --- waiting ---

    def wait(self, *, timeout: float, on_poll: Callable[[], object] | None = None,
             interval: float = 0.05) -> dict[str, Any]:
        """Follow the execution until it ends and return it; raises :class:`DrillAborted`
        unless it succeeded. ``on_poll`` runs every ``interval`` (the drill stamps what clients
        see with it); the execution is read every :data:`EXECUTION_POLL_S`. A region answering
        5xx for a moment does not end the wait (the world watch and the timeout do)."""
        next_read = 0.0

        def probe() -> dict[str, Any] | None:
            nonlocal next_read
            if on_poll is not None:
                on_poll()
            now = time.monotonic()
            if now < next_read:
                return None
            next_read = now + EXECUTION_POLL_S
            try:
                found = self.read()
            except Exception as exc:
                if transient_error(exc):
                    log.warning("reading automation %s failed: %s", self.execution_id, exc)
                    return None
                raise
            return found if simplified(self.status) != "running" else None

        try:
            final = wait_until(probe, description=f"runbook {self.document} (execution "
                               f"{self.execution_id} in {self.region}) to end", timeout=timeout,
                               interval=interval, backoff=1.0, max_interval=interval)
        except BaseException as exc:
            self.close_open_steps(exc)
            raise
        if simplified(self.status) != "succeeded":
            raise self.failure(final)
        return final

    def close_open_steps(self, exc: BaseException) -> None:
        """Steps still running when drlib stopped following them end now, with the reason."""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for record in self.steps.values():
            if record.outcome is None:
                record.ended_at = utc_now()
                record.outcome = "aborted" if isinstance(exc, DrillAborted) else "failed"
                record.timed_out = record.duration_s is not None and record.timeout_s > 0 and \
                    record.duration_s > record.timeout_s
                record.detail = f"{record.detail}; {first}" if record.detail else first

    def failure(self, found: Mapping[str, Any]) -> DrillAborted:
        """The error of an execution that did not succeed: its failing step and AWS's message."""
        failing = next((s for s in reversed(self.step_executions)
                        if s.get("StepStatus") in ENDED_BADLY), None)
        step = failing.get("StepName") if failing else found.get("CurrentStepName")
        message = (failing or {}).get("FailureMessage") or found.get("FailureMessage") or \
            "no failure message"
        status = found.get("AutomationExecutionStatus")
        return DrillAborted(
            f"Runbook {self.document} {status} at step {step or '(none)'}: {message}",
            expected=f"execution {self.execution_id} in {self.region} to end Success",
            found=f"{status} at step {step} ({(failing or {}).get('Action', '?')}): {message}",
            fix=f"read the step in the console (Systems Manager > Automation > "
                f"{self.execution_id}, region {self.region}) or `aws ssm "
                f"describe-automation-step-executions --automation-execution-id "
                f"{self.execution_id} --region {self.region}`; correct the cause and run again",
            data={"runbook": self.to_record()})

    # --- stopping ---

    def stop(self) -> bool:
        """Cancel the execution if it still runs (StopAutomationExecution); True when it was
        asked to stop. An execution that already ended is left alone."""
        try:
            self.read()
        except Exception as exc:
            log.warning("reading automation %s before stopping it failed: %s",
                        self.execution_id, exc)
        if self.last and simplified(self.status) != "running":
            return False
        try:
            self.ssm.stop_automation_execution(AutomationExecutionId=self.execution_id,
                                               Type="Cancel")
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code == "InvalidAutomationStatusUpdateException":  # it ended meanwhile
                return False
            raise DrError(f"Runbook execution not stopped; stop it once {self.region} answers: "
                          f"aws ssm stop-automation-execution --automation-execution-id "
                          f"{self.execution_id} --region {self.region}",
                          expected="StopAutomationExecution to succeed",
                          found=f"{type(exc).__name__}: {str(exc)[:200]}",
                          fix="or run `drlib failback`, which stops it first") from exc
        log.warning("runbook %s execution %s stopped", self.document, self.execution_id)
        return True

    def to_record(self) -> dict[str, Any]:
        """The execution for metrics.json: document, id, region, status, parameters, steps."""
        return {
            "document": self.document, "execution_id": self.execution_id,
            "region": self.region, "status": self.last.get("AutomationExecutionStatus"),
            "started_at": iso(_time(self.last.get("ExecutionStartTime"))),
            "ended_at": iso(_time(self.last.get("ExecutionEndTime"))),
            "failure_message": self.last.get("FailureMessage"),
            "parameters": dict(self.parameters),
            "outputs": self.last.get("Outputs") or {},
            "steps": [{"step": s.get("StepName"), "action": s.get("Action"),
                       "status": s.get("StepStatus"),
                       "started_at": iso(_time(s.get("ExecutionStartTime"))),
                       "ended_at": iso(_time(s.get("ExecutionEndTime"))),
                       "timeout_s": s.get("TimeoutSeconds"),
                       "failure_message": s.get("FailureMessage"),
                       "outputs": s.get("Outputs") or {}} for s in self.step_executions],
        }


def transient_error(exc: Exception) -> bool:
    """A 5xx, a throttle or a connection error: worth another poll."""
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError):
        return True
    response = getattr(exc, "response", None) or {}
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(response.get("Error", {}).get("Code", ""))
    return status >= 500 or code in ("ThrottlingException", "Throttling")


def start_runbook(clients: Any, workload: Any, purpose: str, *,
                  timeline: Timeline | None = None,
                  parameters: Mapping[str, str] | None = None,
                  require_approval: bool = False) -> RunbookExecution:
    """Start the workload's ``purpose`` runbook in the secondary region.

    ``RequireApproval`` is passed explicitly: false when the person starting it takes the
    decision (a confirmed drill or ``drlib failover --yes``; recorded in the execution's
    parameters), true to leave it to the runbook's approvers.
    """
    document = runbook_name(workload, purpose)
    region = workload.regions.secondary
    ssm = clients.client("ssm", region)
    values = {"RequireApproval": ["true" if require_approval else "false"],
              **{k: [v] for k, v in (parameters or {}).items()}}
    execution_id = ssm.start_automation_execution(DocumentName=document,
                                                  Parameters=values)["AutomationExecutionId"]
    log.warning("runbook %s started in %s: execution %s", document, region, execution_id)
    return RunbookExecution(ssm=ssm, region=region, document=document,
                            execution_id=str(execution_id), timeline=timeline,
                            parameters=values)


def stop_running(clients: Any, workload: Any) -> list[str]:
    """Stop every execution of the workload's procedure runbooks that still runs in the
    secondary region (one an abort could not stop while that region was down); returns their
    ids."""
    ssm = clients.client("ssm", workload.regions.secondary)
    stopped: list[str] = []
    for document in sorted(set((getattr(workload, "runbooks", None) or {}).values())):
        token: str | None = None
        while True:
            page = ssm.describe_automation_executions(
                Filters=[{"Key": "DocumentNamePrefix", "Values": [document]},
                         {"Key": "ExecutionStatus",
                          "Values": sorted(RUNNING - {"Cancelling"})}],
                **({"NextToken": token} if token else {}))
            for found in page.get("AutomationExecutionMetadataList", []):
                if found.get("DocumentName") != document:
                    continue  # a longer name with the same prefix
                execution = RunbookExecution(ssm=ssm, region=workload.regions.secondary,
                                             document=document,
                                             execution_id=str(found["AutomationExecutionId"]))
                if execution.stop():
                    stopped.append(execution.execution_id)
            token = page.get("NextToken")
            if not token:
                break
    return stopped
