"""Following an SSM Automation execution onto the timeline (drlib.runbook), against a scripted
SSM client: statuses, step records, the failure's message, stopping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import RegionPair
from drlib.errors import ConfigError, DrError, DrillAborted
from drlib.runbook import RunbookExecution, runbook_name, simplified, start_runbook
from drlib.timeline import Timeline

T0 = 1_700_000_000.0


def step(name: str, status: str, start: float | None, end: float | None = None,
         **extra: Any) -> dict[str, Any]:
    shape: dict[str, Any] = {"StepName": name, "StepStatus": status, "Action": "aws:executeAwsApi",
                             "StepExecutionId": f"id-{name}", "TimeoutSeconds": 60, **extra}
    if start is not None:
        shape["ExecutionStartTime"] = T0 + start
    if end is not None:
        shape["ExecutionEndTime"] = T0 + end
    return shape


class ScriptedSsm:
    """Answers each read with the next (status, steps) of a script; the last one repeats."""

    def __init__(self, script: list[tuple[str, list[dict[str, Any]]]],
                 failures: Iterator[Exception] | None = None) -> None:
        self.script = script
        self.reads = 0
        self.stopped: list[str] = []
        self.started: list[dict[str, Any]] = []
        self.failures = failures

    def _now(self) -> tuple[str, list[dict[str, Any]]]:
        return self.script[min(self.reads, len(self.script) - 1)]

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        if self.failures is not None:
            failure = next(self.failures, None)
            if failure is not None:
                raise failure
        self.reads += 1
        status, _ = self._now()
        found: dict[str, Any] = {"AutomationExecutionStatus": status,
                                 "ExecutionStartTime": T0}
        if status == "Failed":
            found["FailureMessage"] = "Step fails when it is executing."
        return {"AutomationExecution": found}

    def describe_automation_step_executions(self, AutomationExecutionId: str,
                                            **kwargs: Any) -> dict[str, Any]:
        _, steps = self.script[min(self.reads - 1, len(self.script) - 1)]
        return {"StepExecutions": steps}

    def stop_automation_execution(self, AutomationExecutionId: str, Type: str) -> dict[str, Any]:
        status, _ = self._now()
        if status in ("Success", "Failed", "Cancelled"):
            raise ClientError({"Error": {"Code": "InvalidAutomationStatusUpdateException",
                                         "Message": "already ended"}},
                              "StopAutomationExecution")
        self.stopped.append(AutomationExecutionId)
        return {}

    def start_automation_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"AutomationExecutionId": "exec-1"}


def execution(ssm: ScriptedSsm, timeline: Timeline | None = None) -> RunbookExecution:
    return RunbookExecution(ssm=ssm, region="us-west-2", document="acme-dev-dr-failback",
                            execution_id="exec-1", timeline=timeline)


@pytest.mark.parametrize(("status", "simple"), [
    ("Pending", "running"), ("InProgress", "running"), ("Waiting", "running"),
    ("Cancelling", "running"), ("Success", "succeeded"), ("Failed", "ended badly"),
    ("TimedOut", "ended badly"), ("Cancelled", "ended badly"),
])
def test_statuses_reduce_to_three_states(status: str, simple: str) -> None:
    """Every Automation status the drill can see is running, succeeded or ended badly."""
    assert simplified(status) == simple


def test_an_unknown_status_raises() -> None:
    """A status drlib does not know is an error, never guessed."""
    with pytest.raises(DrError, match="Unknown SSM Automation status 'Sleeping'"):
        simplified("Sleeping")


def test_the_timeline_gets_the_runbooks_steps_with_aws_times() -> None:
    """Each step execution becomes a timeline step under its own name, with AWS's start and end,
    its outcome and timeout; pending steps are not on it yet; running ones have no end."""
    timeline = Timeline()
    ssm = ScriptedSsm([
        ("InProgress", [step("DescribeMembers", "Success", 0.0, 0.2),
                        step("FailoverGlobalCluster", "InProgress", 0.2),
                        step("WaitForFailover", "Pending", None)]),
        ("Success", [step("DescribeMembers", "Success", 0.0, 0.2),
                     step("FailoverGlobalCluster", "Success", 0.2, 0.5,
                          Outputs={"Status": ["failing-over"]}),
                     step("WaitForFailover", "Success", 0.5, 3.0)]),
    ])
    followed = execution(ssm, timeline)
    followed.read()
    assert [(s.step, s.outcome) for s in timeline.steps] == [
        ("DescribeMembers", "ok"), ("FailoverGlobalCluster", None)]
    final = followed.wait(timeout=5)
    assert final["AutomationExecutionStatus"] == "Success"
    records = timeline.to_records()
    assert [r["step"] for r in records] == ["DescribeMembers", "FailoverGlobalCluster",
                                            "WaitForFailover"]
    assert {r["runbook"] for r in records} == {"acme-dev-dr-failback"}
    assert [r["outcome"] for r in records] == ["ok"] * 3
    assert timeline.steps[2].duration_s == pytest.approx(2.5)
    assert timeline.steps[1].timeout_s == 60
    assert "Status=failing-over" in timeline.steps[1].detail


def test_a_failed_step_raises_naming_it_and_awss_message() -> None:
    """An execution that fails raises DrillAborted with the failing step and its message, and
    the step is failed on the timeline."""
    message = ("Step fails when it is Execute/Cancelling action. An error occurred "
               "(GlobalClusterNotFoundFault) when calling the DescribeGlobalClusters operation: "
               "Global cluster nope not found.")
    timeline = Timeline()
    ssm = ScriptedSsm([("Failed", [step("CheckGlobalCluster", "Failed", 0.0, 0.1,
                                        FailureMessage=message)])])
    with pytest.raises(DrillAborted) as caught:
        execution(ssm, timeline).wait(timeout=5)
    rendered = caught.value.render()
    assert "Runbook acme-dev-dr-failback Failed at step CheckGlobalCluster" in rendered
    assert "Global cluster nope not found" in rendered
    assert "describe-automation-step-executions --automation-execution-id exec-1" in rendered
    assert caught.value.data["runbook"]["steps"][0]["status"] == "Failed"
    [failed] = timeline.steps
    assert (failed.step, failed.outcome) == ("CheckGlobalCluster", "failed")
    assert "GlobalClusterNotFoundFault" in failed.detail


def test_a_wait_that_runs_out_ends_the_running_step_and_raises() -> None:
    """When drlib's bound runs out the running step ends failed, saying why."""
    timeline = Timeline()
    ssm = ScriptedSsm([("Waiting", [step("ApproveFailback", "Waiting", 0.0)])])
    with pytest.raises(DrError, match="Timed out"):
        execution(ssm, timeline).wait(timeout=0.5)
    [waiting] = timeline.steps
    assert waiting.outcome == "failed"
    assert "Timed out" in waiting.detail


def test_a_5xx_while_reading_does_not_end_the_wait() -> None:
    """A region answering 503 for a moment is polled again, not taken as the runbook's end."""
    unavailable = ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"},
                               "ResponseMetadata": {"HTTPStatusCode": 503}},
                              "GetAutomationExecution")
    ssm = ScriptedSsm([("Success", [step("VerifyWriter", "Success", 0.0, 0.1)])],
                      failures=iter([unavailable, unavailable]))
    assert execution(ssm).wait(timeout=5)["AutomationExecutionStatus"] == "Success"


def test_stop_cancels_a_running_execution_and_leaves_an_ended_one() -> None:
    """stop() asks SSM to cancel a running execution; an ended one is left alone."""
    running = ScriptedSsm([("InProgress", [step("WaitForFailover", "InProgress", 0.0)])])
    assert execution(running).stop() is True
    assert running.stopped == ["exec-1"]
    ended = ScriptedSsm([("Success", [step("VerifyWriter", "Success", 0.0, 0.1)])])
    assert execution(ended).stop() is False
    assert ended.stopped == []


class Workload:
    regions = RegionPair(primary="us-east-1", secondary="us-west-2")
    runbooks = {"failback": "acme-dev-dr-failback"}


class Clients:
    def __init__(self, ssm: ScriptedSsm) -> None:
        self.ssm = ssm
        self.regions: list[str] = []

    def client(self, service: str, region: str) -> ScriptedSsm:
        assert service == "ssm"
        self.regions.append(region)
        return self.ssm


def test_start_runs_the_workloads_runbook_in_the_secondary_with_the_decision_explicit() -> None:
    """The runbook is started in the secondary region with RequireApproval passed explicitly
    (false: the confirmed person decides), extra parameters after it."""
    ssm = ScriptedSsm([("Success", [])])
    clients = Clients(ssm)
    started = start_runbook(clients, Workload(), "failback",
                            parameters={"GlobalClusterIdentifier": "g"})
    assert clients.regions == ["us-west-2"]
    assert ssm.started == [{"DocumentName": "acme-dev-dr-failback", "Parameters": {
        "RequireApproval": ["false"], "GlobalClusterIdentifier": ["g"]}}]
    assert started.execution_id == "exec-1"


def test_a_missing_runbook_says_which_stack_to_deploy() -> None:
    """A workload whose outputs name no such runbook is a ConfigError naming the outputs."""
    with pytest.raises(ConfigError, match="No planned-switchover runbook") as caught:
        runbook_name(Workload(), "planned-switchover")
    assert "PlannedSwitchoverRunbookName" in caught.value.render()


class ListingSsm(ScriptedSsm):
    """Also lists executions: one running execution of each named document."""

    def __init__(self, running: dict[str, str]) -> None:
        super().__init__([("InProgress", [step("WaitForAppTier", "InProgress", 0.0)])])
        self.running = running
        self.filters: list[list[dict[str, Any]]] = []

    def describe_automation_executions(self, Filters: list[dict[str, Any]],
                                       **kwargs: Any) -> dict[str, Any]:
        self.filters.append(Filters)
        prefix = Filters[0]["Values"][0]
        return {"AutomationExecutionMetadataList": [
            {"AutomationExecutionId": ident, "DocumentName": name}
            for ident, name in self.running.items() if name.startswith(prefix)]}


def test_stop_running_cancels_only_the_workloads_runbooks_still_running() -> None:
    """stop_running asks for running executions of each procedure runbook and stops exactly
    those (a longer document name sharing the prefix is left alone)."""
    from drlib.runbook import stop_running

    ssm = ListingSsm({"e1": "acme-dev-dr-failback", "e2": "acme-dev-dr-failback-other"})
    assert stop_running(Clients(ssm), Workload()) == ["e1"]
    assert ssm.stopped == ["e1"]
    statuses = ssm.filters[0][1]
    assert statuses["Key"] == "ExecutionStatus"
    assert {"InProgress", "Waiting", "Pending"} <= set(statuses["Values"])
