"""DynamoDB global tables through CloudFormation on the emulator."""

from __future__ import annotations

import pytest

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_resources_dynamodb import replica_regions
from tests.emulator.cfn_support import create_stack, outputs

TEMPLATE = """
    Resources:
      Table:
        Type: AWS::DynamoDB::GlobalTable
        Properties:
          TableName: dr-sessions
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions:
            - {AttributeName: pk, AttributeType: S}
            - {AttributeName: owner, AttributeType: S}
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          GlobalSecondaryIndexes:
            - IndexName: by-owner
              KeySchema: [{AttributeName: owner, KeyType: HASH}]
              Projection: {ProjectionType: ALL}
          StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
          SSESpecification: {SSEEnabled: true, SSEType: KMS}
          TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
          Replicas:
            - Region: us-east-1
              PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
              Tags: [{Key: DRRole, Value: primary}]
            - Region: us-west-2
              PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
              Tags: [{Key: DRRole, Value: secondary}]
    Outputs:
      Name: {Value: !Ref Table}
      Arn: {Value: !GetAtt Table.Arn}
      StreamArn: {Value: !GetAtt Table.StreamArn}
"""


def test_stack_region_comes_first() -> None:
    """The stack's own region holds the first replica; the others follow as declared."""
    properties = {"Replicas": [{"Region": "eu-west-1"}, {"Region": "us-west-2"},
                               {"Region": "us-east-1"}]}
    assert replica_regions(properties, "us-west-2") == ["us-west-2", "eu-west-1", "us-east-1"]


def test_stack_region_must_be_a_replica() -> None:
    """A global table whose replicas leave out the stack's region is refused."""
    with pytest.raises(ValueError, match="must include the stack's region us-east-1"):
        replica_regions({"Replicas": [{"Region": "us-west-2"}]}, "us-east-1")


@pytest.mark.slow
def test_global_table_has_a_configured_replica_in_each_region(aws: AwsClients) -> None:
    """Each region gets the table with its stream, SSE, index, PITR and own tags, and
    describe_table lists the other replica."""
    stack = create_stack(aws, "table", TEMPLATE)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack)["Name"] == "dr-sessions"
    for region, other, role in (("us-east-1", "us-west-2", "primary"),
                                ("us-west-2", "us-east-1", "secondary")):
        dynamodb = aws.client("dynamodb", region)
        table = dynamodb.describe_table(TableName="dr-sessions")["Table"]
        assert table["StreamSpecification"] == {"StreamEnabled": True,
                                                "StreamViewType": "NEW_AND_OLD_IMAGES"}
        assert table["SSEDescription"]["Status"] == "ENABLED"
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-owner"]
        assert other in [r["RegionName"] for r in table["Replicas"]]
        backups = dynamodb.describe_continuous_backups(TableName="dr-sessions")
        assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"] == "ENABLED"
        ttl = dynamodb.describe_time_to_live(TableName="dr-sessions")["TimeToLiveDescription"]
        assert ttl["AttributeName"] == "expires"
        tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
        assert {"Key": "DRRole", "Value": role} in tags
    east = aws.client("dynamodb", "us-east-1").describe_table(TableName="dr-sessions")["Table"]
    assert outputs(stack)["Arn"] == east["TableArn"]
    assert outputs(stack)["StreamArn"] == east["LatestStreamArn"]


@pytest.mark.slow
def test_global_table_replicates_items(aws: AwsClients) -> None:
    """An item written in one region is read in the other (the replication extension is
    wired to tables made by CloudFormation)."""
    from drlib.waiting import wait_until

    create_stack(aws, "table", TEMPLATE)
    aws.client("dynamodb", "us-east-1").put_item(
        TableName="dr-sessions", Item={"pk": {"S": "k1"}, "owner": {"S": "ana"}})
    west = aws.client("dynamodb", "us-west-2")
    item = wait_until(lambda: west.get_item(TableName="dr-sessions",
                                            Key={"pk": {"S": "k1"}}).get("Item"),
                      description="the item to reach us-west-2", timeout=10)
    assert item["owner"] == {"S": "ana"}


@pytest.mark.slow
def test_deleting_the_stack_deletes_every_replica(aws: AwsClients) -> None:
    """After delete_stack no region has the table."""
    create_stack(aws, "table", TEMPLATE)
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="table")
    for region in ("us-east-1", "us-west-2"):
        assert aws.client("dynamodb", region).list_tables()["TableNames"] == []
