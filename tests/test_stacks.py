"""drlib.stacks and the Sceptre paths drlib relies on, under uv's dependency overrides.

Sceptre 4.7 pins jsonschema<3.3, networkx<2.7, packaging<25 and colorama<0.4.4; pyproject.toml
overrides them. These tests exercise config reading, dependency ordering, launch and delete, and a
cross-region ``!stack_output`` on the emulator, so an override that breaks Sceptre fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from drlib.aws import AwsClients
from drlib.errors import ConfigError, StackError
from drlib.stacks import SceptreProject, SimpleStatus, root_cause, simplify_status

SMALL = Path(__file__).parent / "fixtures" / "sceptre_small"


@pytest.mark.parametrize(("status", "simple"), [
    ("CREATE_COMPLETE", SimpleStatus.COMPLETE),
    ("UPDATE_COMPLETE", SimpleStatus.COMPLETE),
    ("CREATE_IN_PROGRESS", SimpleStatus.IN_PROGRESS),
    ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", SimpleStatus.IN_PROGRESS),
    ("ROLLBACK_COMPLETE", SimpleStatus.FAILED),
    ("UPDATE_ROLLBACK_COMPLETE", SimpleStatus.FAILED),
    ("CREATE_FAILED", SimpleStatus.FAILED),
    ("DELETE_COMPLETE", SimpleStatus.ABSENT),
    (None, SimpleStatus.ABSENT),
])
def test_statuses_are_simplified(status: str | None, simple: str) -> None:
    """CloudFormation statuses reduce to complete, in_progress, failed or absent."""
    assert simplify_status(status) == simple


def test_unknown_status_raises() -> None:
    """A status drlib does not know is an error, not a guess."""
    with pytest.raises(StackError, match="Unknown CloudFormation stack status"):
        simplify_status("SOMETHING_NEW")


def test_sceptre_runs_with_the_overridden_dependencies() -> None:
    """The overrides are in effect: jsonschema 4 and networkx 3 are what Sceptre imports."""
    assert int(version("jsonschema").split(".")[0]) >= 4
    assert int(version("networkx").split(".")[0]) >= 3


def test_unknown_environment_names_the_known_ones() -> None:
    """An environment without a var file fails with the list of known environments."""
    with pytest.raises(ConfigError, match="Unknown environment 'qa'") as info:
        SceptreProject("qa", project_dir=SMALL)
    assert "dev, prod" in info.value.render()


def test_config_reading_and_dependency_order() -> None:
    """Sceptre reads the groups and orders the queue before both topics, across groups."""
    project = SceptreProject("dev", project_dir=SMALL)
    plan = project.plan("")
    plan.resolve(command="launch")
    batches = [sorted(s.name for s in batch) for batch in plan.launch_order]
    assert batches[0] == ["primary/queue"]
    assert sorted(name for batch in batches[1:] for name in batch) == [
        "primary/topic", "secondary/topic"]
    regions = {s.name: s.region for batch in plan.launch_order for s in batch}
    assert regions == {"primary/queue": "us-east-1", "primary/topic": "us-east-1",
                       "secondary/topic": "us-west-2"}


@pytest.mark.slow
def test_launch_cross_region_output_and_delete(aws: AwsClients) -> None:
    """Launch resolves a primary-region output into a secondary-region stack; delete removes all."""
    project = SceptreProject("dev", project_dir=SMALL)
    infos = {i.path: i for i in project.launch()}
    assert all(i.status == SimpleStatus.COMPLETE for i in infos.values())
    queue_arn = infos["primary/queue"].outputs["QueueArn"]
    assert ":us-east-1:" in queue_arn
    assert infos["secondary/topic"].outputs["SourceArn"] == queue_arn
    topics = aws.client("sns", "us-west-2").list_topics()["Topics"]
    assert [t["TopicArn"].split(":")[-1] for t in topics] == ["drsmall-dev-secondary-events"]

    project.delete()
    assert {i.status for i in project.status()} == {SimpleStatus.ABSENT}
    assert aws.client("sqs", "us-east-1").list_queues().get("QueueUrls", []) == []
    assert aws.client("sns", "us-west-2").list_topics()["Topics"] == []



def test_a_failed_launch_names_the_resource_that_failed_and_why(aws: AwsClients) -> None:
    """A stack that rolled back is reported with its root cause (the first resource that failed
    and CloudFormation's reason), not only "failed"; the stacks after it are not started."""
    aws.client("sqs", "us-east-1").create_queue(QueueName="drsmall-dev-orders",
                                                Attributes={"VisibilityTimeout": "60"})
    project = SceptreProject("dev", project_dir=SMALL)
    with pytest.raises(StackError) as info:
        project.launch()
    found = info.value.found or ""
    assert "primary/queue: failed (Queue (AWS::SQS::Queue) CREATE_FAILED: " in found
    assert "The specified queue already exists." in found  # SQS's own reason, as on AWS
    assert "secondary/topic: not started: primary/queue ended failed" in found
    assert info.value.data["causes"]["primary/queue"].startswith("Queue (AWS::SQS::Queue)")


@pytest.mark.parametrize(("events", "cause"), [
    ([], None),
    # newest first, as DescribeStackEvents returns them; the earlier operation's failure is old
    ([{"LogicalResourceId": "s", "ResourceType": "AWS::CloudFormation::Stack",
       "ResourceStatus": "ROLLBACK_COMPLETE"},
      {"LogicalResourceId": "B", "ResourceType": "AWS::S3::Bucket",
       "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "Resource creation cancelled"},
      {"LogicalResourceId": "N", "ResourceType": "AWS::CloudFormation::Stack", "StackName": "s",
       "ResourceStatus": "CREATE_IN_PROGRESS"},  # a nested stack's: not the operation's start
      {"LogicalResourceId": "A", "ResourceType": "AWS::IAM::Role",
       "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "Access denied"},
      {"LogicalResourceId": "s", "ResourceType": "AWS::CloudFormation::Stack", "StackName": "s",
       "ResourceStatus": "CREATE_IN_PROGRESS", "ResourceStatusReason": "User Initiated"},
      {"LogicalResourceId": "C", "ResourceType": "AWS::SQS::Queue",
       "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "an older operation"}],
     "A (AWS::IAM::Role) CREATE_FAILED: Access denied"),
    ([{"LogicalResourceId": "s", "ResourceType": "AWS::CloudFormation::Stack",
       "ResourceStatus": "UPDATE_ROLLBACK_COMPLETE"},
      {"LogicalResourceId": "Q", "ResourceType": "AWS::SQS::Queue",
       "ResourceStatus": "UPDATE_FAILED"},
      {"LogicalResourceId": "s", "ResourceType": "AWS::CloudFormation::Stack", "StackName": "s",
       "ResourceStatus": "UPDATE_IN_PROGRESS"}],
     "Q (AWS::SQS::Queue) UPDATE_FAILED: no reason given"),
    ([{"LogicalResourceId": "s", "ResourceType": "AWS::CloudFormation::Stack",
       "ResourceStatus": "CREATE_COMPLETE"},
      {"LogicalResourceId": "s", "ResourceType": "AWS::CloudFormation::Stack", "StackName": "s",
       "ResourceStatus": "CREATE_IN_PROGRESS"}], None),
])
def test_root_cause_is_the_first_failure_of_the_newest_operation(
        events: list[dict[str, str]], cause: str | None) -> None:
    """The cause is the oldest resource failure after the newest operation began, never a
    cancellation caused by it, never a failure of an earlier operation."""
    assert root_cause(events) == cause


@pytest.mark.slow
def test_sceptre_command_line_launches_as_an_engineer_would(aws: AwsClients) -> None:
    """`sceptre --var-file vars/dev.yaml launch --yes` works from the project folder."""
    command = [str(Path(sys.executable).parent / "sceptre"), "--var-file", "vars/dev.yaml",
               "launch", "--yes", "primary/queue.yaml"]
    done = subprocess.run(command, cwd=SMALL, capture_output=True, text=True, check=False,
                          env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    assert aws.client("sqs", "us-east-1").list_queues()["QueueUrls"][0].endswith(
        "/drsmall-dev-orders")


@pytest.mark.slow
def test_diff_sees_a_changed_parameter(aws: AwsClients) -> None:
    """Diff is empty right after launch and names the stack whose parameter changed."""
    SceptreProject("dev", project_dir=SMALL).launch("primary/queue.yaml")
    assert SceptreProject("dev", project_dir=SMALL).diff("primary/queue.yaml") == {
        "primary/queue": False}
    changed = SceptreProject("dev", project_dir=SMALL, variables={"environment": "qa"})
    assert changed.diff("primary/queue.yaml") == {"primary/queue": True}


@pytest.mark.slow
def test_drift_reports_each_stack_and_what_changed_outside_cloudformation(
        aws: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    """drift() detects each deployed stack's drift with CloudFormation's APIs (the same calls
    on every target): in sync after launch; a queue attribute changed through SQS makes its
    stack DRIFTED with the property's difference; a stack not deployed is ABSENT. The CLI
    prints it and exits 1 while a stack has drifted."""
    from drlib.cli import _print_drift

    project = SceptreProject("dev", project_dir=SMALL)
    project.launch("primary/queue.yaml")
    [queue] = project.drift("primary/queue.yaml")
    assert (queue.path, queue.status, queue.detection) == ("primary/queue", "IN_SYNC",
                                                           "DETECTION_COMPLETE")
    assert [(r.logical_id, r.status) for r in queue.resources] == [("Queue", "IN_SYNC")]

    sqs = aws.client("sqs", "us-east-1")
    url = sqs.get_queue_url(QueueName="drsmall-dev-orders")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "90"})
    found = {d.path: d for d in project.drift("")}
    assert found["primary/queue"].status == "DRIFTED"
    [resource] = found["primary/queue"].drifted
    assert (resource.logical_id, resource.resource_type, resource.status) == (
        "Queue", "AWS::SQS::Queue", "MODIFIED")
    assert [(d.path, d.expected, d.actual, d.difference) for d in resource.differences] == [
        ("/VisibilityTimeout", "30", "90", "NOT_EQUAL")]
    assert found["secondary/topic"].status == "ABSENT"
    assert _print_drift(list(found.values())) == 1
    printed = capsys.readouterr().out
    assert "primary/queue" in printed
    assert "DRIFTED" in printed
    assert "/VisibilityTimeout: expected 30, actual 90" in printed


@pytest.mark.parametrize(("environment", "variables", "refused"), [
    ("dev", {}, False),
    ("staging", {}, True),
    ("prod", {}, True),
    ("prod", {"primary_certificate_arn": "arn:aws:acm:us-east-1:111122223333:certificate/0a-1",
              "secondary_certificate_arn": "arn:aws:acm:us-west-2:111122223333:certificate/0b-2"},
     False),
])
def test_preflight_applies_template_rules_without_aws(environment: str, variables: dict[str, str],
                                                      refused: bool) -> None:
    """check_rules refuses a plan a template rule would refuse (staging or prod without a
    certificate), naming the setting, using only the var file; rules that need a stack output
    are left to CloudFormation."""
    project = SceptreProject(environment, variables=variables)
    if not refused:
        project.check_rules("")
        return
    with pytest.raises(ConfigError, match="nothing was deployed") as info:
        project.check_rules("")
    assert "primary_certificate_arn" in info.value.render()
