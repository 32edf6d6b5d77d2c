"""CloudFormation drift detection on the emulator: a change made outside CloudFormation (a
security-group rule, a bucket's versioning, an Auto Scaling group's desired capacity) shows as
drift with AWS's statuses, shapes and property differences."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.drift import readers
from tests.emulator.cfn_support import create_stack, physical_ids, settled_stack


def detect(aws: AwsClients, stack: str, region: str = "us-east-1",
           **kwargs: Any) -> dict[str, Any]:
    """Run DetectStackDrift and return the settled DescribeStackDriftDetectionStatus."""
    cloudformation = aws.client("cloudformation", region)
    detection = cloudformation.detect_stack_drift(StackName=stack, **kwargs)[
        "StackDriftDetectionId"]
    for _ in range(200):
        status: dict[str, Any] = cloudformation.describe_stack_drift_detection_status(
            StackDriftDetectionId=detection)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            return status
        time.sleep(0.05)
    raise AssertionError("drift detection did not settle")


def drifts(aws: AwsClients, stack: str, region: str = "us-east-1",
           **kwargs: Any) -> dict[str, dict[str, Any]]:
    found = aws.client("cloudformation", region).describe_stack_resource_drifts(
        StackName=stack, **kwargs)["StackResourceDrifts"]
    return {d["LogicalResourceId"]: d for d in found}


def differences(drift: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(d["PropertyPath"], d["DifferenceType"], d["ExpectedValue"], d["ActualValue"])
            for d in drift["PropertyDifferences"]]


NETWORK = """
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.40.0.0/16, EnableDnsHostnames: true}
      Web:
        Type: AWS::EC2::SecurityGroup
        Properties:
          GroupDescription: web
          VpcId: !Ref Vpc
          SecurityGroupIngress:
            - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8, Description: https}
          SecurityGroupEgress:
            - {IpProtocol: '-1', CidrIp: 127.0.0.1/32}
          Tags: [{Key: Team, Value: dr}]
      Admin:
        Type: AWS::EC2::SecurityGroup
        Properties: {GroupDescription: admin, VpcId: !Ref Vpc}
      WebFromAdmin:
        Type: AWS::EC2::SecurityGroupIngress
        Properties: {GroupId: !Ref Web, IpProtocol: tcp, FromPort: 8080, ToPort: 8080,
                     SourceSecurityGroupId: !Ref Admin}
"""


def test_a_security_group_rule_added_outside_cloudformation_is_drift(aws: AwsClients) -> None:
    """In sync after creation (a rule attached by an AWS::EC2::SecurityGroupIngress resource
    belongs to that resource, not to the group); an ingress rule added through EC2 makes the
    group MODIFIED with an ADD; revoking the attached rule makes its resource DELETED; the stack
    is DRIFTED in DescribeStacks and each resource's DriftInformation says why."""
    create_stack(aws, "net", NETWORK)
    status = detect(aws, "net")
    assert status["DetectionStatus"] == "DETECTION_COMPLETE"
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)
    assert {k: d["StackResourceDriftStatus"] for k, d in drifts(aws, "net").items()} == {
        "Vpc": "IN_SYNC", "Web": "IN_SYNC", "Admin": "IN_SYNC", "WebFromAdmin": "IN_SYNC"}

    ids = physical_ids(aws, "net")
    ec2 = aws.client("ec2", "us-east-1")
    ec2.authorize_security_group_ingress(GroupId=ids["Web"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.revoke_security_group_ingress(GroupId=ids["Web"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "UserIdGroupPairs": [{"GroupId": ids["Admin"]}]}])
    status = detect(aws, "net")
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 2)
    found = drifts(aws, "net")
    web = found["Web"]
    assert web["StackResourceDriftStatus"] == "MODIFIED"
    assert differences(web) == [(
        "/SecurityGroupIngress/1", "ADD", "null",
        '{"CidrIp":"0.0.0.0/0","FromPort":22,"IpProtocol":"tcp","ToPort":22}')]
    expected = json.loads(web["ExpectedProperties"])
    assert expected["SecurityGroupIngress"] == [{"IpProtocol": "tcp", "FromPort": 443,
                                                 "ToPort": 443, "CidrIp": "10.0.0.0/8",
                                                 "Description": "https"}]
    assert len(json.loads(web["ActualProperties"])["SecurityGroupIngress"]) == 2
    assert web["PhysicalResourceId"] == ids["Web"]
    assert web["ResourceType"] == "AWS::EC2::SecurityGroup"
    assert found["WebFromAdmin"]["StackResourceDriftStatus"] == "DELETED"
    assert "ExpectedProperties" not in found["WebFromAdmin"]

    cloudformation = aws.client("cloudformation", "us-east-1")
    information = cloudformation.describe_stacks(StackName="net")["Stacks"][0]["DriftInformation"]
    assert information["StackDriftStatus"] == "DRIFTED"
    assert "LastCheckTimestamp" in information
    summaries = {s["LogicalResourceId"]: s["DriftInformation"]["StackResourceDriftStatus"]
                 for s in cloudformation.list_stack_resources(StackName="net")[
                     "StackResourceSummaries"]}
    assert summaries == {"Vpc": "IN_SYNC", "Web": "MODIFIED", "Admin": "IN_SYNC",
                         "WebFromAdmin": "DELETED"}
    resource = cloudformation.describe_stack_resource(StackName="net", LogicalResourceId="Web")
    assert resource["StackResourceDetail"]["DriftInformation"][
        "StackResourceDriftStatus"] == "MODIFIED"

    only_modified = drifts(aws, "net", StackResourceDriftStatusFilters=["MODIFIED"])
    assert list(only_modified) == ["Web"]
    page = cloudformation.describe_stack_resource_drifts(StackName="net", MaxResults=3)
    rest = cloudformation.describe_stack_resource_drifts(StackName="net",
                                                         NextToken=page["NextToken"])
    assert len(page["StackResourceDrifts"]) + len(rest["StackResourceDrifts"]) == 4

    # Put the rule back: one resource's detection brings the stack back in sync.
    ec2.revoke_security_group_ingress(GroupId=ids["Web"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    single = cloudformation.detect_stack_resource_drift(StackName="net",
                                                        LogicalResourceId="Web")
    assert single["StackResourceDrift"]["StackResourceDriftStatus"] == "IN_SYNC"
    ec2.authorize_security_group_ingress(GroupId=ids["Web"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "UserIdGroupPairs": [{"GroupId": ids["Admin"], "Description": "x"}]}])
    cloudformation.detect_stack_resource_drift(StackName="net", LogicalResourceId="WebFromAdmin")
    assert cloudformation.describe_stacks(StackName="net")["Stacks"][0]["DriftInformation"][
        "StackDriftStatus"] == "IN_SYNC"


BUCKET = """
    Resources:
      Data:
        Type: AWS::S3::Bucket
        Properties:
          VersioningConfiguration: {Status: Enabled}
          PublicAccessBlockConfiguration: {BlockPublicAcls: true, RestrictPublicBuckets: true}
          Tags: [{Key: Team, Value: dr}]
"""


def test_a_bucket_whose_versioning_was_suspended_is_drift(aws: AwsClients) -> None:
    """Suspending versioning is NOT_EQUAL on /VersioningConfiguration/Status; deleting the
    bucket makes it DELETED."""
    create_stack(aws, "bucket", BUCKET)
    assert detect(aws, "bucket")["StackDriftStatus"] == "IN_SYNC"
    name = physical_ids(aws, "bucket")["Data"]
    s3 = aws.client("s3", "us-east-1")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "Team", "Value": "ops"}]})
    assert detect(aws, "bucket")["StackDriftStatus"] == "DRIFTED"
    assert differences(drifts(aws, "bucket")["Data"]) == [
        ("/VersioningConfiguration/Status", "NOT_EQUAL", "Enabled", "Suspended"),
        ("/Tags/0", "REMOVE", '{"Key":"Team","Value":"dr"}', "null"),
        ("/Tags/0", "ADD", "null", '{"Key":"Team","Value":"ops"}')]
    s3.delete_bucket(Bucket=name)
    detect(aws, "bucket")
    assert drifts(aws, "bucket")["Data"]["StackResourceDriftStatus"] == "DELETED"


APP = """
    Parameters:
      MaxSize: {Type: String, Default: '3'}
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.41.0.0/16}
      Subnet:
        Type: AWS::EC2::Subnet
        Properties: {VpcId: !Ref Vpc, CidrBlock: 10.41.1.0/24,
                     AvailabilityZone: !Select [0, !GetAZs '']}
      Template:
        Type: AWS::EC2::LaunchTemplate
        Properties:
          LaunchTemplateData: {ImageId: ami-12c6146b, InstanceType: t3.small}
      Group:
        Type: AWS::AutoScaling::AutoScalingGroup
        Properties:
          VPCZoneIdentifier: [!Ref Subnet]
          LaunchTemplate:
            LaunchTemplateId: !Ref Template
            Version: !GetAtt Template.LatestVersionNumber
          MinSize: '1'
          MaxSize: !Ref MaxSize
          DesiredCapacity: '1'
          Tags: [{Key: Team, Value: dr, PropagateAtLaunch: false}]
    Outputs:
      GroupName: {Value: !Ref Group}
"""


def test_an_auto_scaling_group_scaled_outside_cloudformation_is_drift(aws: AwsClients) -> None:
    """A desired capacity set through the Auto Scaling API is NOT_EQUAL on /DesiredCapacity
    (the schema's strings). A stack update that modifies the group updates it in place (same
    name) and sets its sizes to the template's, as CloudFormation does: the scale-up is undone
    and the stack is in sync again."""
    create_stack(aws, "app", APP)
    assert detect(aws, "app")["StackDriftStatus"] == "IN_SYNC"
    name = physical_ids(aws, "app")["Group"]
    autoscaling = aws.client("autoscaling", "us-east-1")
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=3)
    detect(aws, "app")
    group = drifts(aws, "app")["Group"]
    assert differences(group) == [("/DesiredCapacity", "NOT_EQUAL", "1", "3")]
    assert json.loads(group["ExpectedProperties"])["DesiredCapacity"] == "1"

    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.update_stack(StackName="app", UsePreviousTemplate=True,
                                Parameters=[{"ParameterKey": "MaxSize", "ParameterValue": "4"}])
    assert settled_stack(aws, "app")["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_ids(aws, "app")["Group"] == name
    after = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"][0]
    assert (after["MinSize"], after["MaxSize"], after["DesiredCapacity"]) == (1, 4, 1)
    events = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in
              cloudformation.describe_stack_events(StackName="app")["StackEvents"]]
    assert ("Group", "UPDATE_COMPLETE") in events
    assert detect(aws, "app")["StackDriftStatus"] == "IN_SYNC"


UNSUPPORTED = """
    Parameters:
      Secret: {Type: String, NoEcho: true}
    Resources:
      Board:
        Type: AWS::CloudWatch::Dashboard
        Properties:
          DashboardName: drift-test
          DashboardBody: '{"widgets": []}'
      Queue:
        Type: AWS::SQS::Queue
        Properties: {VisibilityTimeout: 45}
      Credentials:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: drift-test-credentials
          Description: test
          SecretString: !Sub '{"password": "${Secret}"}'
"""


def test_types_the_emulator_cannot_compare_are_not_checked(aws: AwsClients) -> None:
    """A type without drift support is NOT_CHECKED in its DriftInformation and left out of
    DescribeStackResourceDrifts, as on AWS; DetectStackResourceDrift refuses it. Secret
    values (NoEcho parameters, write-only properties) never appear in the properties."""
    create_stack(aws, "mixed", UNSUPPORTED, parameters={"Secret": "s3cr3t-value"})
    status = detect(aws, "mixed")
    assert status["StackDriftStatus"] == "IN_SYNC"
    found = drifts(aws, "mixed")
    assert set(found) == {"Queue", "Credentials"}
    assert "s3cr3t-value" not in json.dumps(found, default=str)
    assert json.loads(found["Credentials"]["ExpectedProperties"]) == {
        "Name": "drift-test-credentials", "Description": "test"}
    cloudformation = aws.client("cloudformation", "us-east-1")
    summaries = {s["LogicalResourceId"]: s["DriftInformation"]["StackResourceDriftStatus"]
                 for s in cloudformation.list_stack_resources(StackName="mixed")[
                     "StackResourceSummaries"]}
    assert summaries["Board"] == "NOT_CHECKED"
    with pytest.raises(ClientError, match="not supported for resource type"):
        cloudformation.detect_stack_resource_drift(StackName="mixed", LogicalResourceId="Board")


def test_detection_runs_in_the_background_and_a_failed_read_fails_the_detection(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """DETECTION_IN_PROGRESS until every resource is read; a resource that cannot be read
    makes the detection DETECTION_FAILED naming it, and the others' results stand."""
    create_stack(aws, "queues", """
        Resources:
          Slow: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}
          Fine: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: 7}}
    """)
    gate = threading.Event()
    original = readers.READERS["AWS::SQS::Queue"]

    def slow(resource: readers.Resource) -> dict[str, Any] | None:
        assert gate.wait(10)
        return original(resource)

    monkeypatch.setitem(readers.READERS, "AWS::SQS::Queue", slow)
    cloudformation = aws.client("cloudformation", "us-east-1")
    detection = cloudformation.detect_stack_drift(StackName="queues")["StackDriftDetectionId"]
    status = cloudformation.describe_stack_drift_detection_status(
        StackDriftDetectionId=detection)
    assert status["DetectionStatus"] == "DETECTION_IN_PROGRESS"
    assert "StackDriftStatus" not in status
    gate.set()

    def broken(resource: readers.Resource) -> dict[str, Any] | None:
        raise RuntimeError("cannot read the queue")

    monkeypatch.setitem(readers.READERS, "AWS::SQS::Queue", broken)
    status = detect(aws, "queues")
    assert status["DetectionStatus"] == "DETECTION_FAILED"
    assert "Slow" in status["DetectionStatusReason"]
    assert "cannot read the queue" in status["DetectionStatusReason"]
    assert drifts(aws, "queues")["Fine"]["StackResourceDriftStatus"] == "IN_SYNC"


def test_what_drift_detection_refuses(aws: AwsClients) -> None:
    """A stack whose creation rolled back, an unknown detection id, an unknown resource."""
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.create_stack(StackName="broken", TemplateBody=json.dumps({"Resources": {
        "Sub": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-missing",
                                                           "CidrBlock": "10.0.0.0/24"}}}}))
    assert settled_stack(aws, "broken")["StackStatus"] == "ROLLBACK_COMPLETE"
    with pytest.raises(ClientError, match="ROLLBACK_COMPLETE"):
        cloudformation.detect_stack_drift(StackName="broken")
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stack_drift_detection_status(StackDriftDetectionId="nope")
    create_stack(aws, "one-queue", "Resources: {Q: {Type: AWS::SQS::Queue}}")
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.detect_stack_resource_drift(StackName="one-queue",
                                                   LogicalResourceId="Missing")
    assert cloudformation.describe_stack_resource_drifts(
        StackName="one-queue")["StackResourceDrifts"] == []
    assert cloudformation.describe_stacks(StackName="one-queue")["Stacks"][0][
        "DriftInformation"] == {"StackDriftStatus": "NOT_CHECKED"}


@pytest.fixture
def region_back() -> Iterator[None]:
    yield
    faults.bring_region_up("us-west-2")


def test_a_downed_region_refuses_drift_detection(aws: AwsClients, region_back: None) -> None:
    """While its region is down, DetectStackDrift answers 503 like every regional API."""
    create_stack(aws, "west", "Resources: {Q: {Type: AWS::SQS::Queue}}", region="us-west-2")
    faults.take_region_down("us-west-2")
    with pytest.raises(ClientError) as info:
        aws.client("cloudformation", "us-west-2").detect_stack_drift(StackName="west")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
