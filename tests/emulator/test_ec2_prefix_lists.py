"""AWS-managed S3 and DynamoDB prefix lists carry AWS's identifiers on the emulator."""

from __future__ import annotations

import pytest

from drlib.aws import AwsClients
from drlib.emulator.extensions.ec2_prefix_lists import AWS_PREFIX_LIST_IDS, aws_identifier


@pytest.mark.parametrize(("name", "identifier"), [
    ("com.amazonaws.us-east-1.s3", "pl-63a5400a"),
    ("com.amazonaws.us-west-2.dynamodb", "pl-00a54069"),
    ("com.amazonaws.eu-west-9.s3", None),
    ("my-list", None),
])
def test_aws_identifier(name: str, identifier: str | None) -> None:
    """Only the known AWS-owned lists map to AWS's identifiers."""
    assert aws_identifier(name) == identifier


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_managed_prefix_lists_have_aws_identifiers(aws: AwsClients, region: str) -> None:
    """describe_managed_prefix_lists answers with AWS's identifiers, and a gateway endpoint
    routes to the list with that identifier."""
    ec2 = aws.client("ec2", region)
    lists = {p["PrefixListName"]: p["PrefixListId"] for p in ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "owner-id", "Values": ["AWS"]}])["PrefixLists"]}
    for service in ("s3", "dynamodb"):
        assert lists[f"com.amazonaws.{region}.{service}"] == AWS_PREFIX_LIST_IDS[
            (region, service)]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.s3",
                            VpcEndpointType="Gateway", RouteTableIds=[table])
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert AWS_PREFIX_LIST_IDS[(region, "s3")] in {r.get("DestinationPrefixListId")
                                                   for r in routes}
