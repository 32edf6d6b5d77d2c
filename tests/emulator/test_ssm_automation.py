"""SSM Automation executions on the emulator: statuses, steps, outputs, flow, signals, stop."""

from __future__ import annotations

import textwrap
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions import ssm_automation
from drlib.waiting import wait_until
from tests.emulator.automation_support import (
    create_runbook,
    execution,
    run,
    statuses,
    wait_for_status,
)
from tests.emulator.cfn_support import create_stack, resource_events

WEST = "us-west-2"
ACCOUNT = "123456789012"


@pytest.fixture
def ssm(aws: AwsClients) -> Any:
    """An SSM client in us-west-2 against a freshly reset emulator."""
    return aws.client("ssm", WEST)


def automation_state(execution_id: str) -> dict[str, Any]:
    """The execution as the engine holds it (readable while its region refuses API calls)."""
    return ssm_automation.find_execution(ACCOUNT, WEST, execution_id).to_api()


def _script(handler_body: str) -> str:
    return "def handler(events, context):\n" + "\n".join(
        "    " + line for line in handler_body.splitlines())


def test_steps_run_in_the_execution_region_with_outputs_and_timings(
        aws: AwsClients, ssm: Any) -> None:
    """Each step runs in order in us-west-2, passes outputs on, and has its own start and end."""
    ssm.put_parameter(Name="/drill/where", Value="west", Type="String")
    create_runbook(ssm, "where-am-i", parameters={"Suffix": {"type": "String",
                                                             "default": "!"}}, steps=[
        {"name": "Read", "action": "aws:executeAwsApi",
         "inputs": {"Service": "ssm", "Api": "GetParameter", "Name": "/drill/where"},
         "outputs": [{"Name": "Value", "Selector": "$.Parameter.Value", "Type": "String"}]},
        {"name": "Pause", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
        {"name": "Shout", "action": "aws:executeScript",
         "inputs": {"Runtime": "python3.11", "Handler": "handler",
                    "InputPayload": {"value": "{{ Read.Value }}{{ Suffix }}"},
                    "Script": _script("import os\nreturn {'loud': events['value'].upper(),"
                                      " 'region': os.environ['AWS_REGION'],"
                                      " 'execution': context['automation:EXECUTION_ID']}")},
         "outputs": [{"Name": "Loud", "Selector": "$.Payload.loud"},
                     {"Name": "Region", "Selector": "$.Payload.region"}]},
    ], outputs=["Shout.Loud", "Shout.Region"])
    found = run(ssm, "where-am-i", {"Suffix": ["?"]})
    assert found["AutomationExecutionStatus"] == "Success", found.get("FailureMessage")
    assert statuses(found) == [("Read", "Success"), ("Pause", "Success"), ("Shout", "Success")]
    assert found["Outputs"] == {"Shout.Loud": ["WEST?"], "Shout.Region": [WEST]}
    assert found["Parameters"] == {"Suffix": ["?"]}
    steps = found["StepExecutions"]
    assert steps[0]["Outputs"]["Value"] == ["west"]
    assert steps[2]["Inputs"]["InputPayload"] == '{"value": "west?"}'
    for earlier, later in pairwise(steps):
        assert earlier["ExecutionEndTime"] <= later["ExecutionStartTime"]
    assert steps[1]["ExecutionEndTime"] - steps[1]["ExecutionStartTime"] >= timedelta(seconds=1)
    assert found["ExecutionStartTime"] <= steps[0]["ExecutionStartTime"]
    assert found["ExecutionEndTime"] >= steps[-1]["ExecutionEndTime"]
    with pytest.raises(ClientError, match="AutomationExecutionNotFoundException"):
        aws.client("ssm", "us-east-1").get_automation_execution(
            AutomationExecutionId=found["AutomationExecutionId"])


def test_a_failing_api_call_fails_the_execution_with_aws_message(ssm: Any) -> None:
    """A wrong cluster identifier fails the step and the execution with RDS's error; the steps
    after it do not run."""
    create_runbook(ssm, "wrong-cluster", steps=[
        {"name": "Describe", "action": "aws:executeAwsApi",
         "inputs": {"Service": "rds", "Api": "DescribeDBClusters",
                    "DBClusterIdentifier": "no-such-cluster"}},
        {"name": "Never", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    found = run(ssm, "wrong-cluster")
    assert found["AutomationExecutionStatus"] == "Failed"
    assert statuses(found) == [("Describe", "Failed")]
    message = found["StepExecutions"][0]["FailureMessage"]
    assert message.startswith("Step fails when it is Execution. An error occurred "
                              "(DBClusterNotFoundFault) when calling the DescribeDBClusters "
                              "operation: DBCluster no-such-cluster not found")
    assert found["FailureMessage"] == message
    assert found["StepExecutions"][0]["FailureDetails"]["Details"]["ErrorCode"] == [
        "DBClusterNotFoundFault"]


def test_on_failure_continue_and_step_jump_and_is_critical(ssm: Any) -> None:
    """Continue goes on and the execution ends Failed; step:NAME jumps; a non-critical failure
    leaves the execution Success."""
    failing = {"action": "aws:executeScript", "inputs": {
        "Runtime": "python3.11", "Handler": "handler", "Script": _script("raise ValueError('no')")}}
    create_runbook(ssm, "flow", steps=[
        {"name": "First", **failing, "onFailure": "Continue"},
        {"name": "Second", **failing, "onFailure": "step:Fourth", "isCritical": False},
        {"name": "Skipped", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "Fourth", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    found = run(ssm, "flow")
    assert statuses(found) == [("First", "Failed"), ("Second", "Failed"), ("Fourth", "Success")]
    assert found["AutomationExecutionStatus"] == "Failed"
    assert "ValueError: no" in found["FailureMessage"]
    create_runbook(ssm, "flow-not-critical", steps=[
        {"name": "First", **failing, "onFailure": "Continue", "isCritical": False},
        {"name": "Last", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True},
        {"name": "AfterEnd", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    found = run(ssm, "flow-not-critical")
    assert statuses(found) == [("First", "Failed"), ("Last", "Success")]
    assert found["AutomationExecutionStatus"] == "Success"


def test_branch_follows_the_true_choice_and_next_step(ssm: Any) -> None:
    """aws:branch goes to the first true choice; nextStep then skips ahead."""
    sleep = {"action": "aws:sleep", "inputs": {"Duration": "PT0S"}}
    create_runbook(ssm, "branching", parameters={"Loss": {"type": "Boolean", "default": False}},
                   steps=[
        {"name": "Choose", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "Unplanned", "Variable": "{{ Loss }}",
                         "BooleanEquals": True}], "Default": "Planned"}},
        {"name": "Planned", **sleep, "nextStep": "Done"},
        {"name": "Unplanned", **sleep},
        {"name": "Done", **sleep},
    ])
    assert statuses(run(ssm, "branching")) == [
        ("Choose", "Success"), ("Planned", "Success"), ("Done", "Success")]
    assert statuses(run(ssm, "branching", {"Loss": ["true"]})) == [
        ("Choose", "Success"), ("Unplanned", "Success"), ("Done", "Success")]


def test_max_attempts_retries_a_failed_attempt(ssm: Any, tmp_path: Path) -> None:
    """A step that fails once succeeds on its second attempt with maxAttempts 2."""
    marker = tmp_path / "attempted"
    create_runbook(ssm, "retry", steps=[
        {"name": "Flaky", "action": "aws:executeScript", "maxAttempts": 2, "inputs": {
            "Runtime": "python3.11", "Handler": "handler", "InputPayload": {"m": str(marker)},
            "Script": _script("import os\nif not os.path.exists(events['m']):\n"
                              "    open(events['m'], 'w').close()\n"
                              "    raise RuntimeError('first attempt')\nreturn 'ok'")}},
    ])
    found = run(ssm, "retry")
    assert found["AutomationExecutionStatus"] == "Success"
    assert found["StepExecutions"][0]["MaxAttempts"] == 2


def test_a_step_past_its_timeout_times_out_the_execution(ssm: Any) -> None:
    """A wait that never comes true ends TimedOut after timeoutSeconds."""
    ssm.put_parameter(Name="/drill/state", Value="busy", Type="String")
    create_runbook(ssm, "never", steps=[
        {"name": "Wait", "action": "aws:waitForAwsResourceProperty", "timeoutSeconds": 2,
         "inputs": {"Service": "ssm", "Api": "GetParameter", "Name": "/drill/state",
                    "PropertySelector": "$.Parameter.Value", "DesiredValues": ["idle"]}},
    ])
    found = run(ssm, "never")
    assert found["AutomationExecutionStatus"] == "TimedOut"
    step = found["StepExecutions"][0]
    assert step["StepStatus"] == "TimedOut"
    assert step["TimeoutSeconds"] == 2
    assert "timeoutSeconds of 2" in found["FailureMessage"]
    assert step["ExecutionEndTime"] - step["ExecutionStartTime"] >= timedelta(seconds=2)


def test_assert_property_fails_with_the_found_value(ssm: Any) -> None:
    """aws:assertAwsResourceProperty fails naming the desired and the found value."""
    ssm.put_parameter(Name="/drill/state", Value="busy", Type="String")
    create_runbook(ssm, "assert", steps=[
        {"name": "Check", "action": "aws:assertAwsResourceProperty",
         "inputs": {"Service": "ssm", "Api": "GetParameter", "Name": "/drill/state",
                    "PropertySelector": "$.Parameter.Value", "DesiredValues": ["idle"]}},
    ])
    found = run(ssm, "assert")
    assert found["AutomationExecutionStatus"] == "Failed"
    assert "to be one of ['idle'] but found busy" in found["FailureMessage"]


def test_stop_cancels_a_running_execution(ssm: Any) -> None:
    """StopAutomationExecution ends the running step and the execution Cancelled."""
    create_runbook(ssm, "long", steps=[
        {"name": "Long", "action": "aws:sleep", "inputs": {"Duration": "PT5M"}},
        {"name": "After", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    execution_id = ssm.start_automation_execution(DocumentName="long")["AutomationExecutionId"]
    wait_for_status(ssm, execution_id, ("InProgress",))
    ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    found = wait_for_status(ssm, execution_id)
    assert found["AutomationExecutionStatus"] == "Cancelled"
    assert statuses(found) == [("Long", "Cancelled")]
    with pytest.raises(ClientError, match="InvalidAutomationStatusUpdateException"):
        ssm.stop_automation_execution(AutomationExecutionId=execution_id)


@pytest.mark.parametrize(("signal", "status"), [("Approve", "Success"), ("Reject", "Failed")])
def test_an_approval_step_waits_for_the_decision(ssm: Any, signal: str, status: str) -> None:
    """aws:approve holds the execution Waiting until approved (it goes on) or rejected (it
    fails naming the approver)."""
    create_runbook(ssm, "needs-approval", steps=[
        {"name": "Approve", "action": "aws:approve", "timeoutSeconds": 60,
         "inputs": {"Approvers": ["arn:aws:iam::123456789012:root"], "Message": "go?"}},
        {"name": "Act", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    execution_id = ssm.start_automation_execution(
        DocumentName="needs-approval")["AutomationExecutionId"]
    waiting = wait_for_status(ssm, execution_id, ("Waiting",))
    assert statuses(waiting) == [("Approve", "Waiting")]
    assert waiting["CurrentStepName"] == "Approve"
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType=signal,
                               Payload={"Comment": ["drill"]})
    found = wait_for_status(ssm, execution_id)
    assert found["AutomationExecutionStatus"] == status
    if signal == "Approve":
        assert statuses(found) == [("Approve", "Success"), ("Act", "Success")]
        assert found["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Approved"]
    else:
        assert statuses(found) == [("Approve", "Failed")]
        assert "was rejected by arn:aws:iam::123456789012:root: drill" in found["FailureMessage"]
    with pytest.raises(ClientError, match="InvalidAutomationSignalException"):
        ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")


def test_an_unsupported_action_fails_the_execution_naming_it(ssm: Any) -> None:
    """A valid AWS action the emulator does not run (aws:runCommand) fails, naming it."""
    create_runbook(ssm, "run-command", steps=[
        {"name": "Patch", "action": "aws:runCommand",
         "inputs": {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["i-0123456789"]}},
    ])
    found = run(ssm, "run-command")
    assert found["AutomationExecutionStatus"] == "Failed"
    assert "Action aws:runCommand is not supported by the drlib emulator" in (
        found["FailureMessage"])


def test_a_document_with_an_undefined_output_is_refused(ssm: Any) -> None:
    """CreateDocument and UpdateDocument refuse a reference to an undefined step output."""
    good = [{"name": "Read", "action": "aws:executeAwsApi",
             "inputs": {"Service": "ssm", "Api": "DescribeParameters"},
             "outputs": [{"Name": "Count", "Selector": "$.Parameters", "Type": "MapList"}]}]
    bad = [*good, {"name": "Use", "action": "aws:executeScript", "inputs": {
        "Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c): pass",
        "InputPayload": {"n": "{{ Read.Total }}"}}}]
    with pytest.raises(ClientError) as error:
        create_runbook(ssm, "undefined-output", steps=bad)
    assert error.value.response["Error"]["Code"] == "InvalidDocumentContent"
    assert "Step Use references {{ Read.Total }}" in error.value.response["Error"]["Message"]
    create_runbook(ssm, "defined-output", steps=good)
    with pytest.raises(ClientError, match="InvalidDocumentContent"):
        ssm.update_document(Name="defined-output", DocumentVersion="$LATEST",
                            Content='{"schemaVersion": "0.3", "mainSteps": [{"name": "X", '
                                    '"action": "aws:frobnicate"}]}')


def test_a_stack_with_a_bad_runbook_fails_with_the_message(aws: AwsClients) -> None:
    """An AWS::SSM::Document with an unknown action fails its stack with InvalidDocumentContent's
    message."""
    stack = create_stack(aws, "bad-runbook", """
        Resources:
          Runbook:
            Type: AWS::SSM::Document
            Properties:
              Name: bad-runbook
              DocumentType: Automation
              DocumentFormat: YAML
              Content:
                schemaVersion: '0.3'
                mainSteps:
                  - name: Promote
                    action: aws:promoteEverything
                    inputs: {}
        """, region=WEST)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [reason for lid, status, reason in resource_events(aws, "bad-runbook", WEST)
               if lid == "Runbook" and status == "CREATE_FAILED"]
    assert reasons
    assert "Step Promote has an invalid action 'aws:promoteEverything'" in reasons[0]


def test_executions_are_listed_and_filtered(ssm: Any) -> None:
    """DescribeAutomationExecutions and DescribeAutomationStepExecutions filter as AWS does."""
    create_runbook(ssm, "quick", steps=[
        {"name": "A", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "B", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}])
    done = run(ssm, "quick")
    listed = ssm.describe_automation_executions(Filters=[
        {"Key": "DocumentNamePrefix", "Values": ["qu"]},
        {"Key": "ExecutionStatus", "Values": ["Success"]}])["AutomationExecutionMetadataList"]
    assert [e["AutomationExecutionId"] for e in listed] == [done["AutomationExecutionId"]]
    assert ssm.describe_automation_executions(Filters=[
        {"Key": "DocumentNamePrefix", "Values": ["other"]}])[
        "AutomationExecutionMetadataList"] == []
    steps = ssm.describe_automation_step_executions(
        AutomationExecutionId=done["AutomationExecutionId"],
        Filters=[{"Key": "StepName", "Values": ["B"]}])["StepExecutions"]
    assert [s["StepName"] for s in steps] == ["B"]
    reverse = ssm.describe_automation_step_executions(
        AutomationExecutionId=done["AutomationExecutionId"], ReverseOrder=True)
    assert [s["StepName"] for s in reverse["StepExecutions"]] == ["B", "A"]


def test_missing_and_unknown_parameters_are_refused(ssm: Any) -> None:
    """A required parameter without a value, or an undeclared one, refuses the start."""
    create_runbook(ssm, "needs-param", parameters={"Cluster": {"type": "String"}}, steps=[
        {"name": "A", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}])
    with pytest.raises(ClientError, match="Parameter Cluster is required"):
        ssm.start_automation_execution(DocumentName="needs-param")
    with pytest.raises(ClientError, match="InvalidAutomationExecutionParametersException"):
        ssm.start_automation_execution(DocumentName="needs-param",
                                       Parameters={"Cluster": ["a"], "Other": ["b"]})
    with pytest.raises(ClientError, match="AutomationDefinitionNotFoundException"):
        ssm.start_automation_execution(DocumentName="no-such-runbook")


def test_a_downed_region_refuses_automation_calls(aws: AwsClients, ssm: Any) -> None:
    """While us-west-2 is down its Automation API answers 503; us-east-1 still runs."""
    east = aws.client("ssm", "us-east-1")
    for client in (ssm, east):
        create_runbook(client, "noop", steps=[
            {"name": "A", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}])
    no_retry = aws.session(WEST).client("ssm", endpoint_url=aws.endpoint_url,
                                        config=Config(retries={"max_attempts": 1}))
    faults.take_region_down(WEST)
    try:
        with pytest.raises(ClientError) as error:
            no_retry.start_automation_execution(DocumentName="noop")
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert run(east, "noop")["AutomationExecutionStatus"] == "Success"
    finally:
        faults.bring_region_up(WEST)
    assert execution(ssm, ssm.start_automation_execution(DocumentName="noop")[
        "AutomationExecutionId"])["DocumentName"] == "noop"


def test_a_running_execution_makes_no_progress_while_its_region_is_down(ssm: Any) -> None:
    """An execution whose region goes down mid-step starts no further step until it is back."""
    create_runbook(ssm, "two-steps", steps=[
        {"name": "First", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
        {"name": "Second", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}])
    execution_id = ssm.start_automation_execution(DocumentName="two-steps")[
        "AutomationExecutionId"]
    faults.take_region_down(WEST)
    try:
        wait_until(lambda: statuses(automation_state(execution_id)) == [("First", "Success")],
                   description="the first step to end", timeout=10)
        time.sleep(1.5)
        assert statuses(automation_state(execution_id)) == [("First", "Success")]
    finally:
        faults.bring_region_up(WEST)
    assert statuses(wait_for_status(ssm, execution_id)) == [("First", "Success"),
                                                            ("Second", "Success")]


def test_a_stack_update_with_a_bad_runbook_keeps_the_document(aws: AwsClients, ssm: Any) -> None:
    """Updating a stack's runbook to bad content is refused naming the step, and the document
    deployed before stays and runs."""
    template = """
        Resources:
          Runbook:
            Type: AWS::SSM::Document
            Properties:
              Name: kept-runbook
              DocumentType: Automation
              DocumentFormat: YAML
              Content:
                schemaVersion: '0.3'
                mainSteps:
                  - name: Wait
                    action: ACTION
                    inputs: {Duration: PT0S}
        """
    assert create_stack(aws, "kept", template.replace("ACTION", "aws:sleep"),
                        region=WEST)["StackStatus"] == "CREATE_COMPLETE"
    cloudformation = aws.client("cloudformation", WEST)
    with pytest.raises(ClientError) as error:
        cloudformation.update_stack(StackName="kept", TemplateBody=textwrap.dedent(
            template.replace("ACTION", "aws:snooze")))
    assert error.value.response["Error"]["Code"] == "InvalidDocumentContent"
    assert "Step Wait has an invalid action 'aws:snooze'" in error.value.response["Error"][
        "Message"]
    assert run(ssm, "kept-runbook")["AutomationExecutionStatus"] == "Success"
