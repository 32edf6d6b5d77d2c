"""Stack life cycle on the emulator: resource events, rollback of a failed creation, and
delete_stack removing everything a stack made, VPCs included."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from tests.emulator.cfn_support import create_stack, physical_ids, resource_events

TEMPLATES = Path(__file__).parent / "cfn_templates"

FAILING = """
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.40.0.0/16}
      Subnet:
        Type: AWS::EC2::Subnet
        Properties: {VpcId: !Ref Vpc, CidrBlock: 10.40.1.0/24}
      Bucket:
        Type: AWS::S3::Bucket
        Properties: {BucketName: rollback-test-bucket}
      Broken:
        Type: AWS::RDS::DBCluster
        DependsOn: [Subnet, Bucket]
        Properties:
          DBClusterIdentifier: broken
          Engine: not-an-engine
          MasterUsername: dbadmin
          MasterUserPassword: not-a-real-password
"""


def _non_default_vpcs(aws: AwsClients, region: str = "us-east-1") -> list[str]:
    return [v["VpcId"] for v in aws.client("ec2", region).describe_vpcs()["Vpcs"]
            if not v.get("IsDefault")]


@pytest.mark.slow
def test_failed_resource_rolls_the_stack_back(aws: AwsClients) -> None:
    """A resource that fails to create rolls back what was made and ends ROLLBACK_COMPLETE,
    with CREATE_FAILED and the reason in the stack events."""
    stack = create_stack(aws, "failing", FAILING)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = resource_events(aws, "failing")
    failed = [(lid, reason) for lid, status, reason in events if status == "CREATE_FAILED"]
    assert len(failed) == 1
    assert failed[0][0] == "Broken"
    assert "not-an-engine" in failed[0][1]
    statuses = [(lid, status) for lid, status, _ in events]
    assert ("failing", "ROLLBACK_IN_PROGRESS") in statuses
    deleted = [lid for lid, status in statuses if status == "DELETE_COMPLETE"]
    assert set(deleted) == {"Vpc", "Subnet", "Bucket"}
    assert deleted.index("Subnet") < deleted.index("Vpc")  # reverse order of creation
    assert _non_default_vpcs(aws) == []
    assert aws.client("s3", "us-east-1").list_buckets()["Buckets"] == []


@pytest.mark.slow
def test_rolled_back_stack_can_be_deleted(aws: AwsClients) -> None:
    """A ROLLBACK_COMPLETE stack deletes cleanly and its name can be used again."""
    create_stack(aws, "failing", FAILING)
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.delete_stack(StackName="failing")
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName="failing")
    again = create_stack(aws, "failing", FAILING.replace("not-an-engine", "aurora-postgresql"))
    assert again["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.slow
def test_successful_create_records_resource_events(aws: AwsClients) -> None:
    """Every resource gets CREATE_IN_PROGRESS then CREATE_COMPLETE, dependencies first."""
    template = FAILING.split("      Broken:")[0]
    create_stack(aws, "events", template)
    completed = [lid for lid, status, _ in resource_events(aws, "events")
                 if status == "CREATE_COMPLETE"]
    assert completed.index("Vpc") < completed.index("Subnet")
    assert completed[-1] == "events"


@pytest.mark.slow
@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_delete_stack_removes_the_whole_network(aws: AwsClients, region: str) -> None:
    """Deleting a VPC stack (NAT gateway, endpoints, routes, flow log...) leaves no VPC,
    subnet, gateway, address, endpoint, flow log or route table behind."""
    template = (TEMPLATES / "network.yaml").read_text()
    stack = create_stack(aws, "network", template, region=region)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    ids = physical_ids(aws, "network", region)
    ec2 = aws.client("ec2", region)
    assert [n["State"] for n in ec2.describe_nat_gateways(
        NatGatewayIds=[ids["Nat"]])["NatGateways"]] == ["available"]

    aws.client("cloudformation", region).delete_stack(StackName="network")

    summary = aws.client("cloudformation", region).list_stacks()["StackSummaries"][0]
    assert summary["StackStatus"] == "DELETE_COMPLETE"
    assert _non_default_vpcs(aws, region) == []
    assert [s for s in ec2.describe_subnets()["Subnets"] if not s["DefaultForAz"]] == []
    assert ec2.describe_internet_gateways()["InternetGateways"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert ec2.describe_flow_logs()["FlowLogs"] == []
    assert {n["State"] for n in ec2.describe_nat_gateways()["NatGateways"]} == {"deleted"}
    assert {e["State"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]} == {"deleted"}
    tables = ec2.describe_route_tables()["RouteTables"]
    assert all(t["VpcId"] not in (ids["Vpc"],) for t in tables)
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []


@pytest.mark.slow
def test_retained_resources_survive_stack_deletion(aws: AwsClients) -> None:
    """DeletionPolicy: Retain keeps the resource when its stack is deleted."""
    template = """
        Resources:
          Kept:
            Type: AWS::S3::Bucket
            DeletionPolicy: Retain
            Properties: {BucketName: kept-bucket}
          Gone:
            Type: AWS::S3::Bucket
            Properties: {BucketName: gone-bucket}
    """
    create_stack(aws, "retain", template)
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="retain")
    names = [b["Name"] for b in aws.client("s3", "us-east-1").list_buckets()["Buckets"]]
    assert names == ["kept-bucket"]


@pytest.mark.slow
def test_resource_that_cannot_be_deleted_fails_the_deletion(aws: AwsClients) -> None:
    """A bucket that still holds objects cannot go: the stack ends DELETE_FAILED and stays."""
    template = """
        Resources:
          Full:
            Type: AWS::S3::Bucket
            Properties: {BucketName: full-bucket}
    """
    create_stack(aws, "full", template)
    aws.client("s3", "us-east-1").put_object(Bucket="full-bucket", Key="k", Body=b"x")
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.delete_stack(StackName="full")
    stack = cloudformation.describe_stacks(StackName="full")["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert ("Full", "DELETE_FAILED") in [(lid, s) for lid, s, _ in resource_events(aws, "full")]


@pytest.mark.slow
def test_failed_update_rolls_back_to_the_previous_template(aws: AwsClients) -> None:
    """An update whose new resource fails removes what it added, keeps the stack's previous
    template, and ends UPDATE_ROLLBACK_COMPLETE; a later valid update still works."""
    before = """
        Resources:
          Bucket:
            Type: AWS::S3::Bucket
            Properties: {BucketName: update-bucket}
    """
    failing = before + """
          Topic:
            Type: AWS::SNS::Topic
            Properties: {TopicName: update-topic}
          Broken:
            Type: AWS::RDS::DBCluster
            DependsOn: Topic
            Properties: {DBClusterIdentifier: broken, Engine: not-an-engine,
                         MasterUsername: dbadmin, MasterUserPassword: not-a-real-password}
    """
    create_stack(aws, "updated", before)
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.update_stack(StackName="updated", TemplateBody=textwrap.dedent(failing))
    stack = cloudformation.describe_stacks(StackName="updated")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert aws.client("sns", "us-east-1").list_topics()["Topics"] == []
    assert physical_ids(aws, "updated") == {"Bucket": "update-bucket"}
    assert "Broken" not in cloudformation.get_template(StackName="updated")["TemplateBody"]
    events = resource_events(aws, "updated")
    assert ("Broken", "CREATE_FAILED") in [(lid, status) for lid, status, _ in events]
    working = failing.replace("not-an-engine", "aurora-postgresql")
    cloudformation.update_stack(StackName="updated", TemplateBody=textwrap.dedent(working))
    assert cloudformation.describe_stacks(
        StackName="updated")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert set(physical_ids(aws, "updated")) == {"Bucket", "Topic", "Broken"}


@pytest.mark.slow
def test_update_that_removes_a_resource_deletes_it_and_the_stack_deletes_later(
        aws: AwsClients) -> None:
    """An update that drops a resource deletes it (with events); DeleteStack then completes."""
    kept_only = """
        Resources:
          Kept:
            Type: AWS::S3::Bucket
            Properties: {BucketName: kept-after-update}
    """
    both = kept_only + """
          Dropped:
            Type: AWS::SNS::Topic
            Properties: {TopicName: dropped-by-update}
    """
    create_stack(aws, "shrinking", both)
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.update_stack(StackName="shrinking", TemplateBody=textwrap.dedent(kept_only))
    stack = cloudformation.describe_stacks(StackName="shrinking")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_ids(aws, "shrinking") == {"Kept": "kept-after-update"}
    assert aws.client("sns", "us-east-1").list_topics()["Topics"] == []
    events = [(lid, status) for lid, status, _ in resource_events(aws, "shrinking")]
    assert ("Dropped", "DELETE_COMPLETE") in events
    cloudformation.delete_stack(StackName="shrinking")
    deleted = cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert aws.client("s3", "us-east-1").list_buckets()["Buckets"] == []


@pytest.mark.slow
@pytest.mark.parametrize(("resource", "reason"), [
    ("""
      Db:
        Type: AWS::RDS::DBInstance
        Properties: {Engine: postgres, AllocatedStorage: "20", MasterUsername: dbadmin,
                     MasterUserPassword: not-a-real-password}
    """, "Properties validation failed for resource Db with message: "
         "#: required key [DBInstanceClass] not found"),
    ("""
      Fn:
        Type: AWS::Lambda::Function
        Properties: {Runtime: python3.12, Handler: app.handler}
    """, "Properties validation failed for resource Fn with message: "
         "[#: required key [Code] not found, #: required key [Role] not found]"),
    ("""
      Queue:
        Type: AWS::SQS::Queue
        Properties: {DelaySeconds: soon}
    """, "Properties validation failed for resource Queue with message: "
         "#/DelaySeconds: expected type: Integer, found: String"),
])
def test_failed_resource_events_carry_cloudformation_messages_not_python_errors(
        aws: AwsClients, resource: str, reason: str) -> None:
    """A resource with a missing or ill-typed property fails with CloudFormation's validation
    message (moto's own failure was a Python TypeError or KeyError) and the stack rolls back."""
    template = "Resources:\n" + textwrap.indent(textwrap.dedent(resource).strip(), "  ") + "\n"
    stack = create_stack(aws, "invalid", template)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [(lid, why) for lid, status, why in resource_events(aws, "invalid")
              if status == "CREATE_FAILED"]
    assert [why for _, why in failed] == [reason]


TWO_ROLES = """
    Resources:
      First:
        Type: AWS::IAM::Role
        Properties:
          RoleName: {name}-first
          AssumeRolePolicyDocument:
            Statement: [{{Effect: Allow, Principal: {{Service: ec2.amazonaws.com}},
                          Action: 'sts:AssumeRole'}}]
      Second:
        Type: AWS::IAM::Role
        Properties:
          RoleName: {name}-second
          AssumeRolePolicyDocument:
            Statement: [{{Effect: Allow, Principal: {{Service: ec2.amazonaws.com}},
                          Action: 'sts:AssumeRole'}}]
"""


def test_stack_operations_change_resources_one_at_a_time(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stacks created at once, in two regions, never create resources at the same time.

    moto's models are not thread-safe and IAM is one backend for every region: a role created
    by one stack while another stack looked its roles up once failed that stack with an
    "Internal Failure" (a Python RuntimeError inside moto). Each resource here takes a while, so
    without the emulator's one-at-a-time rule the two creations overlap."""
    import threading
    import time

    from drlib.emulator.extensions import cfn_lifecycle

    inside: dict[int, int] = {}
    overlaps: list[set[int]] = []
    guard = threading.Lock()
    original = cfn_lifecycle._originals["parse_and_create_resource"]

    def slow_create(*args: object, **kwargs: object) -> object:
        me = threading.get_ident()
        with guard:
            inside[me] = inside.get(me, 0) + 1
            if len(inside) > 1:
                overlaps.append(set(inside))
        try:
            time.sleep(0.05)
            return original(*args, **kwargs)
        finally:
            with guard:
                inside[me] -= 1
                if not inside[me]:
                    del inside[me]

    monkeypatch.setitem(cfn_lifecycle._originals, "parse_and_create_resource", slow_create)
    results: dict[str, dict[str, object]] = {}

    def create(name: str, region: str) -> None:
        results[name] = create_stack(aws, name, TWO_ROLES.format(name=name), region=region)

    threads = [threading.Thread(target=create, args=(name, region)) for name, region in
               (("serial-east", "us-east-1"), ("serial-west", "us-west-2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert {name: stack["StackStatus"] for name, stack in results.items()} == {
        "serial-east": "CREATE_COMPLETE", "serial-west": "CREATE_COMPLETE"}
    assert overlaps == []
