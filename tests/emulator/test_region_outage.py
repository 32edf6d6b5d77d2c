"""A downed region refuses clients on every regional API (503 ServiceUnavailable); global
services and the other region answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions.region_outage import s3_bucket_request_is_data_plane

NO_RETRIES = Config(retries={"max_attempts": 1})  # boto3 retries 5xx; we want the first answer
REGIONS = ("us-east-1", "us-west-2")


@pytest.mark.parametrize(("method", "query", "data_plane"), [
    ("GET", {}, True),
    ("GET", {"list-type": ["2"], "prefix": ["a/"]}, True),
    ("GET", {"versions": [""]}, True),
    ("GET", {"uploads": [""]}, True),
    ("POST", {"delete": [""]}, True),
    ("GET", {"versioning": [""]}, False),
    ("GET", {"replication": [""]}, False),
    ("GET", {"location": [""]}, False),
    ("PUT", {}, False),
    ("HEAD", {}, False),
])
def test_s3_bucket_requests_that_touch_objects(method: str, query: dict[str, list[str]],
                                               data_plane: bool) -> None:
    """Listing objects, versions, uploads and DeleteObjects are data plane; bucket config is not."""
    assert s3_bucket_request_is_data_plane(method, query) is data_plane


def _no_retry(aws: AwsClients, service: str, region: str) -> Any:
    return aws.session(region).client(service, endpoint_url=aws.endpoint_url, config=NO_RETRIES)


@pytest.fixture
def tables(aws: AwsClients) -> AwsClients:
    """A table "orders" in both regions."""
    for region in REGIONS:
        _no_retry(aws, "dynamodb", region).create_table(
            TableName="orders", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return aws


@pytest.fixture
def buckets(aws: AwsClients) -> AwsClients:
    """A bucket "drill-<region>" holding the object "seed", in both regions."""
    for region in REGIONS:
        s3 = _no_retry(aws, "s3", region)
        location = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=f"drill-{region}", **location)
        s3.put_object(Bucket=f"drill-{region}", Key="seed", Body=b"seed")
    return aws


def _refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        call()
    response: dict[str, Any] = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    return response


ITEM = {"pk": {"S": "canary-1"}}


@pytest.mark.parametrize(("name", "call"), [
    ("PutItem", lambda d: d.put_item(TableName="orders", Item=ITEM)),
    ("GetItem", lambda d: d.get_item(TableName="orders", Key=ITEM)),
    ("UpdateItem", lambda d: d.update_item(TableName="orders", Key=ITEM,
                                           UpdateExpression="SET n = :n",
                                           ExpressionAttributeValues={":n": {"N": "1"}})),
    ("DeleteItem", lambda d: d.delete_item(TableName="orders", Key=ITEM)),
    ("Query", lambda d: d.query(TableName="orders", KeyConditionExpression="pk = :p",
                                ExpressionAttributeValues={":p": {"S": "x"}})),
    ("Scan", lambda d: d.scan(TableName="orders")),
    ("BatchGetItem", lambda d: d.batch_get_item(RequestItems={"orders": {"Keys": [ITEM]}})),
    ("BatchWriteItem", lambda d: d.batch_write_item(
        RequestItems={"orders": [{"PutRequest": {"Item": ITEM}}]})),
    ("TransactWriteItems", lambda d: d.transact_write_items(
        TransactItems=[{"Put": {"TableName": "orders", "Item": ITEM}}])),
    ("TransactGetItems", lambda d: d.transact_get_items(
        TransactItems=[{"Get": {"TableName": "orders", "Key": ITEM}}])),
    ("ExecuteStatement", lambda d: d.execute_statement(Statement='SELECT * FROM "orders"')),
])
def test_dynamodb_item_operations_refused_in_downed_region(tables: AwsClients, name: str,
                                                           call: Callable[[Any], Any]) -> None:
    """Every DynamoDB item operation in the downed region is a 503 ServiceUnavailable."""
    faults.take_region_down("us-east-1")
    response = _refused(lambda: call(_no_retry(tables, "dynamodb", "us-east-1")))
    assert response["Error"]["Code"] == "ServiceUnavailable", name
    assert "us-east-1" in response["Error"]["Message"]


def test_dynamodb_other_region_and_recovery(tables: AwsClients) -> None:
    """With us-east-1 down, us-west-2 accepts writes; after region-up us-east-1 does again."""
    east = _no_retry(tables, "dynamodb", "us-east-1")
    west = _no_retry(tables, "dynamodb", "us-west-2")
    east.put_item(TableName="orders", Item={"pk": {"S": "before"}})
    faults.take_region_down("us-east-1")
    _refused(lambda: east.put_item(TableName="orders", Item=ITEM))
    west.put_item(TableName="orders", Item=ITEM)
    assert west.describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE"
    _refused(lambda: east.describe_table(TableName="orders"))
    _refused(east.list_tables)
    faults.bring_region_up("us-east-1")
    east.put_item(TableName="orders", Item=ITEM)
    assert east.get_item(TableName="orders", Key={"pk": {"S": "before"}})["Item"]


@pytest.mark.parametrize(("name", "call"), [
    ("GetObject", lambda s, b: s.get_object(Bucket=b, Key="seed")),
    ("HeadObject", lambda s, b: s.head_object(Bucket=b, Key="seed")),
    ("PutObject", lambda s, b: s.put_object(Bucket=b, Key="canary", Body=b"1")),
    ("DeleteObject", lambda s, b: s.delete_object(Bucket=b, Key="seed")),
    ("CopyObject", lambda s, b: s.copy_object(Bucket=b, Key="copy",
                                              CopySource={"Bucket": b, "Key": "seed"})),
    ("ListObjectsV2", lambda s, b: s.list_objects_v2(Bucket=b)),
    ("ListObjects", lambda s, b: s.list_objects(Bucket=b)),
    ("ListObjectVersions", lambda s, b: s.list_object_versions(Bucket=b)),
    ("DeleteObjects", lambda s, b: s.delete_objects(Bucket=b,
                                                    Delete={"Objects": [{"Key": "seed"}]})),
])
def test_s3_object_operations_refused_for_buckets_in_downed_region(
        buckets: AwsClients, name: str, call: Callable[[Any, str], Any]) -> None:
    """Object operations on a bucket located in the downed region are 503, whoever signs."""
    faults.take_region_down("us-east-1")
    for client_region in REGIONS:
        s3 = _no_retry(buckets, "s3", client_region)
        _refused(lambda s3=s3: call(s3, "drill-us-east-1"))
    call(_no_retry(buckets, "s3", "us-west-2"), "drill-us-west-2")


def test_s3_error_shape_and_bucket_configuration(buckets: AwsClients) -> None:
    """The refusal is S3's ServiceUnavailable XML error, for the bucket's configuration too;
    ListBuckets (not about one bucket) and the other region's buckets answer."""
    faults.take_region_down("us-east-1")
    s3 = _no_retry(buckets, "s3", "us-east-1")
    response = _refused(lambda: s3.get_object(Bucket="drill-us-east-1", Key="seed"))
    assert response["Error"]["Code"] == "ServiceUnavailable"
    assert "us-east-1 is down" in response["Error"]["Message"]
    _refused(lambda: s3.get_bucket_versioning(Bucket="drill-us-east-1"))
    _refused(lambda: s3.get_bucket_replication(Bucket="drill-us-east-1"))
    west = _no_retry(buckets, "s3", "us-west-2")
    assert west.get_bucket_location(Bucket="drill-us-west-2")["LocationConstraint"] == "us-west-2"
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"drill-us-east-1",
                                                                 "drill-us-west-2"}
    faults.bring_region_up("us-east-1")
    assert s3.get_object(Bucket="drill-us-east-1", Key="seed")["Body"].read() == b"seed"


REGIONAL_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("rds", lambda c: c.describe_db_clusters()),
    ("rds", lambda c: c.describe_global_clusters()),
    ("secretsmanager", lambda c: c.get_secret_value(SecretId="drill")),
    ("secretsmanager", lambda c: c.list_secrets()),
    ("ssm", lambda c: c.get_parameter(Name="drill")),
    ("ssm", lambda c: c.describe_automation_executions()),
    ("sts", lambda c: c.get_caller_identity()),
    ("cloudwatch", lambda c: c.list_metrics()),
    ("cloudwatch", lambda c: c.put_metric_data(
        Namespace="Drill", MetricData=[{"MetricName": "m", "Value": 1.0}])),
    ("cloudformation", lambda c: c.describe_stacks()),
    ("dynamodb", lambda c: c.list_tables()),
    ("lambda", lambda c: c.list_functions()),
    ("logs", lambda c: c.describe_log_groups()),
    ("sns", lambda c: c.list_topics()),
    ("kms", lambda c: c.list_keys()),
    ("autoscaling", lambda c: c.describe_auto_scaling_groups()),
]


@pytest.fixture
def regional_state(aws: AwsClients) -> AwsClients:
    """A secret and a parameter named "drill" in both regions."""
    for region in REGIONS:
        _no_retry(aws, "secretsmanager", region).create_secret(Name="drill", SecretString="s")
        _no_retry(aws, "ssm", region).put_parameter(Name="drill", Value="v", Type="String")
    return aws


@pytest.mark.parametrize(("service", "call"), REGIONAL_CALLS,
                         ids=[f"{s}-{i}" for i, (s, _) in enumerate(REGIONAL_CALLS)])
def test_every_regional_api_of_the_downed_region_is_refused(
        regional_state: AwsClients, service: str, call: Callable[[Any], Any]) -> None:
    """RDS, Secrets Manager, SSM, STS, CloudWatch, CloudFormation, DynamoDB, Lambda, Logs, SNS and
    KMS in the downed region answer 503 ServiceUnavailable in their own error format; the same
    call to the other region answers; after region-up the downed region answers again."""
    faults.take_region_down("us-east-1")
    response = _refused(lambda: call(_no_retry(regional_state, service, "us-east-1")))
    assert response["Error"]["Code"] == "ServiceUnavailable"
    assert "us-east-1 is down" in response["Error"]["Message"]
    call(_no_retry(regional_state, service, "us-west-2"))
    faults.bring_region_up("us-east-1")
    call(_no_retry(regional_state, service, "us-east-1"))


def test_global_services_answer_during_an_outage(aws: AwsClients) -> None:
    """IAM and Route 53 are global: they answer whichever region the client names."""
    faults.take_region_down("us-east-1")
    iam = _no_retry(aws, "iam", "us-east-1")
    iam.create_role(RoleName="drill", AssumeRolePolicyDocument="{}")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["drill"]
    route53 = _no_retry(aws, "route53", "us-east-1")
    route53.create_hosted_zone(Name="drill.example.", CallerReference="drill")
    assert [z["Name"] for z in route53.list_hosted_zones()["HostedZones"]] == ["drill.example."]
