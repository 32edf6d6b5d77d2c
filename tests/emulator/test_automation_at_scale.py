"""SSM Automation at scale on the emulator: target locations (accounts x Regions) and rate control,
with AWS's concurrency and error thresholds, one child execution per target."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.automation.fanout import FanOutError, limit
from tests.emulator.automation_support import create_runbook, execution, wait_for_status

WEST, EAST = "us-west-2", "us-east-1"
DEV_ACCOUNT, STAGING_ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321", "333333333333"

# One workload per account, as an organisation keeps them, each with the same-named runbook
# (deployed to every workload account by a StackSet on AWS).
RUNBOOK = "acme-dr-readiness"
CHECK_STEPS = [
    {"name": "CheckTable", "action": "aws:assertAwsResourceProperty", "timeoutSeconds": 30,
     "inputs": {"Service": "dynamodb", "Api": "DescribeTable", "TableName": "{{ TableName }}",
                "PropertySelector": "$.Table.TableStatus", "DesiredValues": ["ACTIVE"]}},
    {"name": "Hold", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
    {"name": "Record", "action": "aws:executeScript", "timeoutSeconds": 60,
     "inputs": {"Runtime": "python3.11", "Handler": "handler", "InputPayload": {
         "Table": "{{ TableName }}", "Account": "{{ global:ACCOUNT_ID }}"},
         "Script": "import boto3\n"
                   "def handler(events, context):\n"
                   "    boto3.client('ssm').put_parameter(Name='/dr/checked',\n"
                   "        Value=events['Account'] + ':' + events['Table'], Type='String',\n"
                   "        Overwrite=True)\n"
                   "    return {'checked': events['Table']}\n"},
     "outputs": [{"Name": "Checked", "Selector": "$.Payload.checked", "Type": "String"}]},
]


def client(endpoint: str, service: str, region: str, account: str) -> Any:
    """A boto3 client making its requests in ``account`` of the emulator."""
    made = boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    made.meta.events.register("before-sign.*.*", in_account)
    return made


def workload(aws: AwsClients, account: str, region: str, environment: str) -> str:
    """A workload's table and the runbook in ``account``/``region``; returns the table name."""
    endpoint = str(aws.endpoint_url)
    table = f"acme-{environment}-canary"
    client(endpoint, "dynamodb", region, account).create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    create_runbook(client(endpoint, "ssm", region, account), RUNBOOK, steps=CHECK_STEPS,
                   parameters={"TableName": {"type": "String",
                                             "default": f"acme-{environment}-canary"}})
    return table


def children(aws: AwsClients, parent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each child execution (by its parent step's name) as its own account and Region show it."""
    found = {}
    for step in parent["StepExecutions"]:
        if not step["Outputs"]:
            continue
        location = step.get("TargetLocation") or {"Accounts": [DEV_ACCOUNT],
                                                  "Regions": [WEST]}
        ssm = client(str(aws.endpoint_url), "ssm", location["Regions"][0],
                     location["Accounts"][0])
        found[step["StepName"]] = execution(ssm, step["Outputs"]["ExecutionId"][0])
    return found


def test_a_runbook_runs_in_two_workload_accounts_through_target_locations(
        aws: AwsClients) -> None:
    """TargetLocations over two workload accounts runs the account's own runbook in each, one
    at a time (TargetLocationMaxConcurrency 1), each child in its account and Region."""
    dev = workload(aws, DEV_ACCOUNT, WEST, "dev")
    staging = workload(aws, STAGING_ACCOUNT, WEST, "staging")
    ssm = aws.client("ssm", WEST)
    parent_id = ssm.start_automation_execution(DocumentName=RUNBOOK, TargetLocations=[{
        "Accounts": [DEV_ACCOUNT, STAGING_ACCOUNT], "Regions": [WEST],
        "TargetLocationMaxConcurrency": "1", "TargetLocationMaxErrors": "0"}])[
        "AutomationExecutionId"]
    parent = wait_for_status(ssm, parent_id)
    assert parent["AutomationExecutionStatus"] == "Success", parent.get("FailureMessage")
    assert [s["StepName"] for s in parent["StepExecutions"]] == [
        f"{DEV_ACCOUNT}/{WEST}", f"{STAGING_ACCOUNT}/{WEST}"]
    assert parent["ProgressCounters"]["SuccessSteps"] == 2
    listed = ssm.describe_automation_executions(
        Filters=[{"Key": "ExecutionId", "Values": [parent_id]}])[
        "AutomationExecutionMetadataList"]
    assert listed[0]["AutomationType"] == "CrossAccount"
    first, second = parent["StepExecutions"]
    assert second["ExecutionStartTime"] >= first["ExecutionEndTime"]  # one location at a time
    runs = children(aws, parent)
    for (name, child), table in zip(runs.items(), (dev, staging), strict=True):
        assert child["AutomationExecutionStatus"] == "Success", child.get("FailureMessage")
        assert child["ParentAutomationExecutionId"] == parent_id
        assert child["StepExecutions"][-1]["Outputs"]["Checked"] == [table], name
    # each runbook acted in its own account: its script wrote that account's parameter
    for account, table in ((DEV_ACCOUNT, dev), (STAGING_ACCOUNT, staging)):
        value = client(str(aws.endpoint_url), "ssm", WEST, account).get_parameter(
            Name="/dr/checked")["Parameter"]["Value"]
        assert value == f"{account}:{table}"


def test_the_error_threshold_stops_queueing_further_locations(aws: AwsClients) -> None:
    """With TargetLocationMaxErrors 0 the first failed location (no runbook in that account)
    stops the rest from starting; the parent fails naming both."""
    workload(aws, DEV_ACCOUNT, WEST, "dev")
    workload(aws, STAGING_ACCOUNT, WEST, "staging")
    ssm = aws.client("ssm", WEST)
    parent_id = ssm.start_automation_execution(DocumentName=RUNBOOK, TargetLocations=[{
        "Accounts": [DEV_ACCOUNT, OTHER_ACCOUNT, STAGING_ACCOUNT], "Regions": [WEST],
        "TargetLocationMaxConcurrency": "1", "TargetLocationMaxErrors": "0"}])[
        "AutomationExecutionId"]
    parent = wait_for_status(ssm, parent_id)
    assert parent["AutomationExecutionStatus"] == "Failed"
    steps = {s["StepName"]: s for s in parent["StepExecutions"]}
    assert steps[f"{DEV_ACCOUNT}/{WEST}"]["StepStatus"] == "Success"
    missing = steps[f"{OTHER_ACCOUNT}/{WEST}"]
    assert missing["StepStatus"] == "Failed"
    assert f"Automation definition {RUNBOOK} does not exist" in missing["FailureMessage"]
    skipped = steps[f"{STAGING_ACCOUNT}/{WEST}"]
    assert skipped["StepStatus"] == "Cancelled"
    assert not skipped["Outputs"]
    assert "error threshold" in skipped["FailureMessage"]
    assert f"{OTHER_ACCOUNT}/{WEST}" in parent["FailureMessage"]
    assert "1 not started" in parent["FailureMessage"]
    assert parent["ProgressCounters"] == {"TotalSteps": 3, "SuccessSteps": 1, "FailedSteps": 1,
                                          "CancelledSteps": 1, "TimedOutSteps": 0}


def test_locations_run_concurrently_and_a_downed_region_is_an_error_within_the_threshold(
        aws: AwsClients) -> None:
    """TargetLocationMaxConcurrency 2 runs two Regions at once; a Region that is down fails its
    child (AWS's 503 message), which TargetLocationMaxErrors 1 tolerates."""
    workload(aws, DEV_ACCOUNT, WEST, "dev")
    workload(aws, DEV_ACCOUNT, EAST, "dev")
    workload(aws, STAGING_ACCOUNT, WEST, "staging")
    ssm = aws.client("ssm", WEST)
    faults.take_region_down(EAST)
    try:
        parent_id = ssm.start_automation_execution(DocumentName=RUNBOOK, TargetLocations=[{
            "Accounts": [DEV_ACCOUNT], "Regions": [WEST, EAST],
            "TargetLocationMaxConcurrency": "2", "TargetLocationMaxErrors": "1"}, {
            "Accounts": [STAGING_ACCOUNT], "Regions": [WEST]}])["AutomationExecutionId"]
        parent = wait_for_status(ssm, parent_id)
    finally:
        faults.bring_region_up(EAST)
    steps = {s["StepName"]: s for s in parent["StepExecutions"]}
    assert steps[f"{DEV_ACCOUNT}/{EAST}"]["StepStatus"] == "Failed"
    assert EAST in steps[f"{DEV_ACCOUNT}/{EAST}"]["FailureMessage"]
    # within the threshold, so the second location entry still ran
    assert steps[f"{DEV_ACCOUNT}/{WEST}"]["StepStatus"] == "Success"
    assert steps[f"{STAGING_ACCOUNT}/{WEST}"]["StepStatus"] == "Success"
    assert parent["AutomationExecutionStatus"] == "Failed"
    assert "1 of 3 target executions did not succeed" in parent["FailureMessage"]


def test_rate_control_runs_one_child_per_parameter_value_within_max_concurrency(
        aws: AwsClients) -> None:
    """Targets ParameterValues with TargetParameterName runs one child per value (two workloads
    in one account), MaxConcurrency 2 at once; each child carries its Target."""
    tables = [workload(aws, DEV_ACCOUNT, WEST, "dev")]
    ssm = aws.client("ssm", WEST)
    dynamodb = aws.client("dynamodb", WEST)
    dynamodb.create_table(TableName="acme-staging-canary", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    tables.append("acme-staging-canary")
    parent_id = ssm.start_automation_execution(
        DocumentName=RUNBOOK, TargetParameterName="TableName",
        Targets=[{"Key": "ParameterValues", "Values": tables}], MaxConcurrency="2",
        MaxErrors="0")["AutomationExecutionId"]
    parent = wait_for_status(ssm, parent_id)
    assert parent["AutomationExecutionStatus"] == "Success", parent.get("FailureMessage")
    assert parent["ResolvedTargets"]["ParameterValues"] == tables
    assert parent["MaxConcurrency"] == "2"
    first, second = parent["StepExecutions"]
    assert second["ExecutionStartTime"] < first["ExecutionEndTime"]  # both ran at once
    for name, child in children(aws, parent).items():
        assert child["Target"] == name
        assert child["Parameters"]["TableName"] == [name]


@pytest.mark.parametrize(("request_fields", "message"), [
    ({"TargetMaps": [{"TableName": ["x"]}]}, "TargetMaps is not supported"),
    ({"Targets": [{"Key": "tag:Env", "Values": ["dev"]}], "TargetParameterName": "TableName"},
     "Key ['tag:Env'] are not supported"),
    ({"Targets": [{"Key": "ParameterValues", "Values": ["x"]}]},
     "TargetParameterName is required"),
    ({"TargetLocations": [{"Accounts": ["ou-abcd-12345678"], "Regions": [WEST]}]},
     "organizational units are not supported"),
    ({"TargetLocations": [{"Regions": [WEST], "TargetLocationMaxConcurrency": "ten"}]},
     "TargetLocationMaxConcurrency 'ten' is not a number"),
])
def test_what_is_not_emulated_is_refused_naming_it(aws: AwsClients,
                                                   request_fields: dict[str, Any],
                                                   message: str) -> None:
    """Targets the emulator cannot resolve are refused with a message, never run partly."""
    workload(aws, DEV_ACCOUNT, WEST, "dev")
    ssm = aws.client("ssm", WEST)
    with pytest.raises(ClientError) as raised:
        ssm.start_automation_execution(DocumentName=RUNBOOK, **request_fields)
    assert raised.value.response["Error"]["Code"] == \
        "InvalidAutomationExecutionParametersException"
    assert message in raised.value.response["Error"]["Message"]
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


@pytest.mark.parametrize(("value", "total", "default", "at_least_one", "expected"), [
    (None, 5, "10", True, 10), ("3", 5, "10", True, 3), ("10%", 50, "0", False, 5),
    ("10%", 5, "1", True, 1), ("0", 5, "0", False, 0), ("100%", 4, "1", True, 4),
])
def test_limits_are_numbers_or_percentages_of_the_targets(
        value: str | None, total: int, default: str, at_least_one: bool, expected: int) -> None:
    """MaxConcurrency/MaxErrors read as AWS documents them (10% of 50 targets is 5)."""
    assert limit(value, total, default, "MaxErrors", at_least_one=at_least_one) == expected


def test_a_limit_over_100_percent_is_refused() -> None:
    """150% is not a share of the targets."""
    with pytest.raises(FanOutError, match="over 100%"):
        limit("150%", 4, "1", "MaxConcurrency", at_least_one=True)
