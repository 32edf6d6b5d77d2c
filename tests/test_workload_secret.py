"""The database secret is read in its own region, and from its replica in the surviving region
when its own region does not answer (a regional outage), never when it merely refuses."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients, RegionPair
from drlib.emulator import faults
from drlib.workload import RegionalStack, Workload, database_credentials, region_unreachable

CREDENTIAL = json.dumps({"username": "drmaster", "password": "s3cret-password"})


def _workload(secret_arn: str) -> Workload:
    regions = RegionPair(primary="us-east-1", secondary="us-west-2")
    return Workload(
        environment="dev", regions=regions, global_cluster_id="g", table_name="t",
        database_secret_arn=secret_arn, database_name="postgres", hosted_zone_id="Z",
        app_dns_name="app.example.", primary=RegionalStack("us-east-1", "c1", "b1", "lb1", "a1"),
        secondary=RegionalStack("us-west-2", "c2", "b2", "lb2", "a2"))


def test_credentials_come_from_the_replica_while_the_primary_region_is_down(
        aws: AwsClients) -> None:
    """With us-east-1 down, the credentials are those of the secret's us-west-2 replica."""
    arn = aws.client("secretsmanager", "us-east-1").create_secret(
        Name="dev-master", SecretString=CREDENTIAL,
        AddReplicaRegions=[{"Region": "us-west-2"}])["ARN"]
    workload = _workload(arn)
    assert database_credentials(aws, workload) == ("drmaster", "s3cret-password")
    faults.take_region_down("us-east-1")
    try:
        assert database_credentials(aws, workload) == ("drmaster", "s3cret-password")
    finally:
        faults.bring_region_up("us-east-1")


def test_a_refusal_in_the_secrets_own_region_is_not_hidden(aws: AwsClients) -> None:
    """A secret missing from its region (a 4xx, the region answering) raises; no replica read."""
    aws.client("secretsmanager", "us-west-2").create_secret(Name="dev-master",
                                                          SecretString=CREDENTIAL)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev-master-AbCdEf"
    with pytest.raises(ClientError) as error:
        database_credentials(aws, _workload(arn))
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(("status", "unreachable"), [(503, True), (500, True), (400, False),
                                                      (404, False)])
def test_region_unreachable_is_a_5xx(status: int, unreachable: bool) -> None:
    """Only 5xx answers (and connection failures) count as the region being unreachable."""
    error = ClientError({"Error": {"Code": "X", "Message": "m"},
                         "ResponseMetadata": {"HTTPStatusCode": status}}, "GetSecretValue")
    assert region_unreachable(error) is unreachable
