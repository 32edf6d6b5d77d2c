"""The DR procedure runbooks of dr-automation.yaml, executed on the emulator against the dev
environment deployed through drlib: planned switchover, failback, unplanned failover with the
primary region down, approval, stop and a failing step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.server import Emulator
from drlib.stacks import SceptreProject
from drlib.waiting import wait_until
from drlib.workload import Workload, project_regions, workload_from_outputs
from tests.emulator.automation_support import run, statuses, wait_for_status

pytestmark = pytest.mark.slow

PLANNED = ["CheckGlobalCluster", "DescribeMembers", "CheckTarget", "ChooseApproval",
           "ScaleUpAppTier", "WaitForAppTier", "SwitchoverGlobalCluster", "MoveDnsToSecondary",
           "WaitForSwitchover", "DescribeMembersAfter", "VerifyWriter"]
UNPLANNED = ["DescribeMembers", "CheckTarget", "ChooseApproval", "FailoverGlobalCluster",
             "WaitForFailover", "DescribeMembersAfter", "VerifyWriter", "ScaleUpAppTier",
             "WaitForAppTier"]
FAILBACK = ["WaitForPrimarySynchronized", "ChooseSwitchover", "SwitchoverToPrimary",
            "WaitForFailback", "DescribeMembersAfter", "VerifyWriter",
            "RestorePrimaryHealthCheck", "ScaleDownAppTier"]


@pytest.fixture(scope="module")
def deployed(emulator: Emulator) -> Iterator[tuple[AwsClients, Workload, dict[str, str]]]:
    """The dev environment launched once for this module; (clients, workload, runbook names)."""
    emulator.reset()
    project = SceptreProject("dev")
    project.launch("")
    regions = project_regions(project.variables)
    outputs = project.outputs("")
    clients = AwsClients(endpoint_url=emulator.endpoint_url,
                         credentials={"aws_access_key_id": "testing",
                                      "aws_secret_access_key": "testing"})
    automation = outputs["secondary/dr-automation"]
    names = {key: automation[f"{key}RunbookName"]
             for key in ("PlannedSwitchover", "UnplannedFailover", "Failback")}
    yield clients, workload_from_outputs("dev", regions, outputs), names
    faults.clear()


def _ssm(clients: AwsClients, workload: Workload) -> Any:
    return clients.client("ssm", workload.regions.secondary)


def _writer_region(clients: AwsClients, workload: Workload) -> str:
    members = clients.client("rds", workload.regions.secondary).describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0][
        "GlobalClusterMembers"]
    return next(m["DBClusterArn"].split(":")[3] for m in members if m["IsWriter"])


def _desired(clients: AwsClients, workload: Workload) -> int:
    group = clients.client("autoscaling", workload.regions.secondary).describe_auto_scaling_groups(
        AutoScalingGroupNames=[workload.secondary.asg_name])["AutoScalingGroups"][0]
    return int(group["DesiredCapacity"])


def _inverted(clients: AwsClients, workload: Workload) -> bool:
    check = clients.client("route53", workload.regions.primary).get_health_check(
        HealthCheckId=workload.primary.health_check_id)["HealthCheck"]
    return bool(check["HealthCheckConfig"].get("Inverted"))


def test_the_runbooks_live_in_the_secondary_region_only(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """The three procedure runbooks are Automation documents of the secondary region."""
    clients, workload, names = deployed
    for name in names.values():
        described = _ssm(clients, workload).describe_document(Name=name)["Document"]
        assert described["DocumentType"] == "Automation"
        with pytest.raises(ClientError, match="InvalidDocument"):
            clients.client("ssm", workload.regions.primary).describe_document(Name=name)


def test_a_wrong_global_cluster_fails_with_rds_message(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """A wrong global cluster identifier fails the first step with RDS's error, and nothing
    changes."""
    clients, workload, names = deployed
    found = run(_ssm(clients, workload), names["PlannedSwitchover"],
                {"GlobalClusterIdentifier": ["no-such-global-cluster"]})
    assert found["AutomationExecutionStatus"] == "Failed"
    assert statuses(found) == [("CheckGlobalCluster", "Failed")]
    assert ("An error occurred (GlobalClusterNotFoundFault) when calling the "
            "DescribeGlobalClusters operation: Global cluster no-such-global-cluster not found"
            ) in found["FailureMessage"]
    assert _writer_region(clients, workload) == workload.regions.primary


def test_approval_waits_and_stop_cancels_before_anything_changes(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """With RequireApproval the switchover waits at its approval step having changed nothing;
    StopAutomationExecution cancels it there."""
    clients, workload, names = deployed
    ssm = _ssm(clients, workload)
    execution_id = ssm.start_automation_execution(
        DocumentName=names["PlannedSwitchover"],
        Parameters={"RequireApproval": ["true"]})["AutomationExecutionId"]
    waiting = wait_for_status(ssm, execution_id, ("Waiting",))
    assert statuses(waiting)[-1] == ("ApproveSwitchover", "Waiting")
    assert _writer_region(clients, workload) == workload.regions.primary
    assert _desired(clients, workload) == 1
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    cancelled = wait_for_status(ssm, execution_id)
    assert cancelled["AutomationExecutionStatus"] == "Cancelled"
    assert statuses(cancelled)[-1] == ("ApproveSwitchover", "Cancelled")
    assert _writer_region(clients, workload) == workload.regions.primary


def test_the_switchover_runbook_runs_through_target_locations_and_stops_with_its_parent(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """Started at scale (TargetLocations: the workload's account in both Regions, two at a
    time, one error allowed), the runbook runs where it is deployed and waits for its approval;
    the primary Region, which holds no runbook, is the one tolerated error; stopping the parent
    cancels the waiting child before anything changed."""
    clients, workload, names = deployed
    ssm = _ssm(clients, workload)
    account = clients.client("sts", workload.regions.secondary).get_caller_identity()["Account"]
    parent_id = ssm.start_automation_execution(
        DocumentName=names["PlannedSwitchover"], Parameters={"RequireApproval": ["true"]},
        TargetLocations=[{"Accounts": [account],
                          "Regions": [workload.regions.secondary, workload.regions.primary],
                          "TargetLocationMaxConcurrency": "2",
                          "TargetLocationMaxErrors": "1"}])["AutomationExecutionId"]

    def child_waiting() -> dict[str, Any] | None:
        parent = ssm.get_automation_execution(AutomationExecutionId=parent_id)[
            "AutomationExecution"]
        steps = {s["StepName"]: s for s in parent["StepExecutions"]}
        here = steps.get(f"{account}/{workload.regions.secondary}")
        if here is None or not here["Outputs"]:
            return None
        child = ssm.get_automation_execution(
            AutomationExecutionId=here["Outputs"]["ExecutionId"][0])["AutomationExecution"]
        return child if child["AutomationExecutionStatus"] == "Waiting" else None

    child = wait_until(child_waiting, description="the child to wait for approval",
                       timeout=120, interval=0.2)
    assert statuses(child)[-1] == ("ApproveSwitchover", "Waiting")
    assert child["ParentAutomationExecutionId"] == parent_id
    with pytest.raises(ClientError, match="send the signal to the child"):
        ssm.send_automation_signal(AutomationExecutionId=parent_id, SignalType="Approve")
    ssm.stop_automation_execution(AutomationExecutionId=parent_id)
    parent = wait_for_status(ssm, parent_id)
    assert parent["AutomationExecutionStatus"] == "Cancelled"
    steps = {s["StepName"]: s for s in parent["StepExecutions"]}
    elsewhere = steps[f"{account}/{workload.regions.primary}"]
    assert elsewhere["StepStatus"] == "Failed"
    assert "does not exist" in elsewhere["FailureMessage"]
    cancelled = wait_for_status(ssm, child["AutomationExecutionId"])
    assert cancelled["AutomationExecutionStatus"] == "Cancelled"
    assert _writer_region(clients, workload) == workload.regions.primary
    assert _desired(clients, workload) == 1


def test_a_rejected_approval_fails_the_runbook(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """Rejecting the failover's approval fails it at that step; the writer stays put."""
    clients, workload, names = deployed
    ssm = _ssm(clients, workload)
    execution_id = ssm.start_automation_execution(
        DocumentName=names["UnplannedFailover"],
        Parameters={"RequireApproval": ["true"]})["AutomationExecutionId"]
    wait_for_status(ssm, execution_id, ("Waiting",))
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject",
                               Payload={"Comment": ["not a real outage"]})
    found = wait_for_status(ssm, execution_id)
    assert found["AutomationExecutionStatus"] == "Failed"
    assert statuses(found)[-1] == ("ApproveFailover", "Failed")
    assert "not a real outage" in found["FailureMessage"]
    assert _writer_region(clients, workload) == workload.regions.primary


def test_planned_switchover_then_failback(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """The switchover runbook moves writer, app tier and DNS to the secondary, step by step;
    the failback runbook brings them all back."""
    clients, workload, names = deployed
    ssm = _ssm(clients, workload)
    secondary_arn = (f"arn:aws:rds:{workload.regions.secondary}:123456789012:cluster:"
                     f"{workload.secondary.cluster_id}")
    found = run(ssm, names["PlannedSwitchover"], timeout=180)
    assert found["AutomationExecutionStatus"] == "Success", found.get("FailureMessage")
    assert statuses(found) == [(name, "Success") for name in PLANNED]
    assert found["Outputs"]["VerifyWriter.Writer"] == [secondary_arn]
    assert found["Outputs"]["ScaleUpAppTier.PreviousDesired"] == ["1"]
    assert all(s["ExecutionStartTime"] <= s["ExecutionEndTime"]
               for s in found["StepExecutions"])
    assert _writer_region(clients, workload) == workload.regions.secondary
    assert _desired(clients, workload) == 2
    assert _inverted(clients, workload) is True

    back = run(ssm, names["Failback"], timeout=180)
    assert back["AutomationExecutionStatus"] == "Success", back.get("FailureMessage")
    assert statuses(back) == [(name, "Success") for name in FAILBACK]
    assert back["Outputs"]["WaitForPrimarySynchronized.AlreadyWriter"] == ["false"]
    assert _writer_region(clients, workload) == workload.regions.primary
    assert _desired(clients, workload) == 1
    assert _inverted(clients, workload) is False


def test_unplanned_failover_succeeds_from_the_secondary_while_the_primary_is_down(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """With the primary region down (its Automation API refuses calls) the failover runbook
    succeeds in the secondary; once the region is back, failback returns the writer."""
    clients, workload, names = deployed
    ssm = _ssm(clients, workload)
    primary_ssm = clients.session(workload.regions.primary).client(
        "ssm", endpoint_url=clients.endpoint_url, config=Config(retries={"max_attempts": 1}))
    faults.take_region_down(workload.regions.primary)
    try:
        with pytest.raises(ClientError) as refused:
            primary_ssm.describe_automation_executions()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        found = run(ssm, names["UnplannedFailover"], timeout=180)
        assert found["AutomationExecutionStatus"] == "Success", found.get("FailureMessage")
        assert statuses(found) == [(name, "Success") for name in UNPLANNED]
        assert _writer_region(clients, workload) == workload.regions.secondary
        assert _desired(clients, workload) == 2
    finally:
        faults.bring_region_up(workload.regions.primary)
    wait_until(lambda: _writer_region(clients, workload) == workload.regions.secondary,
               description="the writer to stay in the secondary", timeout=5)
    back = run(ssm, names["Failback"], timeout=300)
    assert back["AutomationExecutionStatus"] == "Success", back.get("FailureMessage")
    assert _writer_region(clients, workload) == workload.regions.primary


def test_the_orchestrator_lambda_notifies_or_starts_the_failover_runbook(
        deployed: tuple[AwsClients, Workload, dict[str, str]]) -> None:
    """The deployed DR Lambda runs from its package: on a writer failure it only notifies while
    AUTO_START_FAILOVER is off, and with it on starts the failover runbook in the secondary,
    which promotes the secondary cluster."""
    clients, workload, names = deployed
    functions = clients.client("lambda", workload.regions.secondary)
    function = functions.get_function_configuration(FunctionName="acme-dev-dr-orchestrator")
    event = {"source": "aws.rds", "detail-type": "RDS DB Cluster Event",
             "region": workload.regions.primary, "time": "2026-01-01T00:00:00Z",
             "detail": {"SourceIdentifier": workload.primary.cluster_id, "SourceType": "CLUSTER",
                        "EventCategories": ["failure"], "EventID": "RDS-EVENT-0069",
                        "Message": "The DB cluster failed"}}

    def invoke() -> dict[str, Any]:
        answer = functions.invoke(FunctionName=function["FunctionName"],
                                  Payload=json.dumps(event).encode())
        payload: dict[str, Any] = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, payload
        return payload

    assert invoke()["action"] == "notify"
    variables = dict(function["Environment"]["Variables"], AUTO_START_FAILOVER="true")
    functions.update_function_configuration(FunctionName=function["FunctionName"],
                                            Environment={"Variables": variables})
    started = invoke()
    assert started["action"] == "start_failover"
    ssm = _ssm(clients, workload)
    found = wait_for_status(ssm, started["automation_execution_id"], timeout=180)
    assert found["AutomationExecutionStatus"] == "Success", found.get("FailureMessage")
    assert found["DocumentName"] == function["Environment"]["Variables"][
        "FAILOVER_DOCUMENT_NAME"]
    assert ("InitiateFailoverWithDataLoss", "Success") in statuses(found)
    assert _writer_region(clients, workload) == workload.regions.secondary
    back = run(ssm, names["Failback"], timeout=300)
    assert back["AutomationExecutionStatus"] == "Success", back.get("FailureMessage")
    assert _writer_region(clients, workload) == workload.regions.primary
