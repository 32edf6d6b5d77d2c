"""Cost Explorer on the emulator: derived from deployed resources, botocore's shape, marked."""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.session
import pytest
import requests
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.cost.prices import load_price_table
from drlib.emulator.extensions import cost_explorer

PRICES = load_price_table()
MOTO_AMI = "ami-12c6146b"  # one of the emulator's stock images (listing them all takes 3 s)
T3_SMALL = PRICES.price("ec2.instance", "us-west-2", "t3.small")


def assert_shape(value: Any, shape: Any, path: str = "response") -> None:
    """Every key of ``value`` is a member of botocore's ``shape``, recursively, types agreeing."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key} is not in {shape.name}"
            assert_shape(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            assert_shape(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert_shape(item, shape.value, f"{path}[{key}]")
    elif kind == "string":
        assert isinstance(value, str), path
    elif kind == "boolean":
        assert isinstance(value, bool), path


def output_shape() -> Any:
    """botocore's output shape of GetCostAndUsage."""
    model = botocore.session.get_session().get_service_model("ce")
    return model.operation_model("GetCostAndUsage").output_shape


@pytest.fixture
def instance(aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """Two tagged t3.small instances in us-west-2; the emulator's clock is 30 h after launch."""
    ec2 = aws.client("ec2", "us-west-2")
    ec2.run_instances(ImageId=MOTO_AMI, InstanceType="t3.small", MinCount=2, MaxCount=2,
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [
                          {"Key": "Environment", "Value": "dev"}]}])
    launched = ec2.describe_instances()["Reservations"][0]["Instances"][0]["LaunchTime"]
    monkeypatch.setattr(cost_explorer, "_now", lambda: launched + dt.timedelta(hours=30))
    return launched


def query(aws: AwsClients, start: dt.date, days: int, **kwargs: Any) -> dict[str, Any]:
    """get_cost_and_usage over ``days`` days from ``start``."""
    ce = aws.client("ce", "us-east-1")
    kwargs.setdefault("Granularity", "DAILY")
    kwargs.setdefault("Metrics", ["UnblendedCost"])
    end = start + dt.timedelta(days=days)
    return ce.get_cost_and_usage(TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
                                 **kwargs)


def amounts(response: dict[str, Any], metric: str = "UnblendedCost") -> list[float]:
    """The ungrouped total of each period."""
    return [float(r["Total"][metric]["Amount"]) for r in response["ResultsByTime"]]


def test_nothing_deployed_costs_nothing(aws: AwsClients) -> None:
    """With no resources every period is zero, yet still marked as emulated."""
    response = query(aws, dt.date.today(), 2)
    assert amounts(response) == [0.0, 0.0]
    assert response["DimensionValueAttributes"][0]["Value"] == "drlib:emulated"


def test_daily_cost_accrues_from_creation_prorated(aws: AwsClients,
                                                   instance: dt.datetime) -> None:
    """Each day charges the hours the instances existed in it; the future charges nothing."""
    response = query(aws, instance.date(), 3)
    first_day_hours = 24 - (instance - instance.replace(hour=0, minute=0, second=0,
                                                        microsecond=0)).total_seconds() / 3600
    day1, day2, day3 = amounts(response)
    # LaunchTime is given to the second, the emulator accrues from the instant: the first day's
    # charge may differ by a second of both instances (late in the day that is more than 1e-4
    # of the charge: CI once failed at 22:23 UTC)
    second = 2 * T3_SMALL / 3600
    assert day1 == pytest.approx(2 * T3_SMALL * first_day_hours, abs=second)
    assert day1 + day2 + day3 == pytest.approx(2 * T3_SMALL * 30, rel=1e-4)
    assert all(r["Estimated"] for r in response["ResultsByTime"])


def test_monthly_granularity_splits_at_month_boundaries(aws: AwsClients,
                                                        instance: dt.datetime) -> None:
    """MONTHLY periods are calendar months clipped to the request, summing to the daily total."""
    start = instance.date().replace(day=1)
    response = query(aws, start, 62, Granularity="MONTHLY")
    periods = [r["TimePeriod"] for r in response["ResultsByTime"]]
    assert periods[0]["Start"] == start.isoformat()
    assert all(p["Start"].endswith("-01") for p in periods)
    assert sum(amounts(response)) == pytest.approx(2 * T3_SMALL * 30, rel=1e-4)


def test_response_has_botocore_shape(aws: AwsClients, instance: dt.datetime) -> None:
    """Grouped and ungrouped answers only use members of botocore's GetCostAndUsage output."""
    shape = output_shape()
    for extra in ({}, {"GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"},
                                   {"Type": "TAG", "Key": "Environment"}]}):
        response = query(aws, instance.date(), 2, Metrics=["UnblendedCost", "UsageQuantity"],
                         **extra)
        response.pop("ResponseMetadata")
        assert_shape(response, shape)


def test_group_by_service_region_and_tag(aws: AwsClients, instance: dt.datetime) -> None:
    """Groups carry Cost Explorer's keys: service names, regions and ``key$value`` tags."""
    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket="cost-test-bucket")
    s3.put_object(Bucket="cost-test-bucket", Key="k", Body=b"x" * 4096)
    response = query(aws, instance.date(), 2, GroupBy=[
        {"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"}])
    keys = {tuple(g["Keys"]) for r in response["ResultsByTime"] for g in r["Groups"]}
    assert ("Amazon Elastic Compute Cloud - Compute", "us-west-2") in keys
    assert ("Amazon Simple Storage Service", "us-east-1") in keys
    assert response["GroupDefinitions"][1] == {"Type": "DIMENSION", "Key": "REGION"}
    tagged = query(aws, instance.date(), 2, GroupBy=[{"Type": "TAG", "Key": "Environment"}])
    tag_keys = {g["Keys"][0] for r in tagged["ResultsByTime"] for g in r["Groups"]}
    assert tag_keys == {"Environment$dev", "Environment$"}  # the bucket is untagged


def test_every_resource_carries_the_emulated_tag(aws: AwsClients, instance: dt.datetime) -> None:
    """Grouping by the drlib:emulated tag puts all spend under drlib:emulated$true."""
    response = query(aws, instance.date(), 2, GroupBy=[{"Type": "TAG", "Key": "drlib:emulated"}])
    keys = {g["Keys"][0] for r in response["ResultsByTime"] for g in r["Groups"]}
    assert keys == {"drlib:emulated$true"}
    marker = response["DimensionValueAttributes"][0]["Attributes"]
    assert marker["source"] == (
        f"emulator (derived from deployed resources and price table dated {PRICES.date})")


FILTERS: list[tuple[dict[str, Any], int]] = [
    ({"Dimensions": {"Key": "REGION", "Values": ["us-west-2"]}}, 2),
    ({"Dimensions": {"Key": "REGION", "Values": ["us-east-1"]}}, 0),
    ({"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Compute Cloud - Compute"]}}, 2),
    ({"Tags": {"Key": "Environment", "Values": ["dev"]}}, 2),
    ({"Tags": {"Key": "Environment", "Values": ["prod"]}}, 0),
    ({"Not": {"Tags": {"Key": "Environment", "Values": ["dev"]}}}, 0),
    ({"And": [{"Tags": {"Key": "Environment", "Values": ["dev"]}},
              {"Dimensions": {"Key": "REGION", "Values": ["us-west-2"]}}]}, 2),
    ({"Or": [{"Tags": {"Key": "Environment", "Values": ["prod"]}},
             {"Dimensions": {"Key": "REGION", "Values": ["us-east-1"]}}]}, 0),
]


def test_filters(aws: AwsClients, instance: dt.datetime) -> None:
    """REGION, SERVICE and TAG filters (with And/Or/Not) select the matching resources."""
    for filter_, expected_instances in FILTERS:  # one deployment for the whole table
        response = query(aws, instance.date(), 3, Filter=filter_)
        assert sum(amounts(response)) == pytest.approx(expected_instances * T3_SMALL * 30,
                                                       rel=1e-4), filter_


def test_route53_and_monthly_fees_accrue(aws: AwsClients,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A zone, an HTTPS fast health check, a key, a secret, an alarm and an EIP accrue hourly."""
    created = dt.datetime.now(dt.UTC)
    r53 = aws.client("route53", "us-east-1")
    r53.create_hosted_zone(Name="example.com", CallerReference="z")
    r53.create_health_check(CallerReference="h", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "a.example.com", "RequestInterval": 10})
    aws.client("kms", "us-east-1").create_key()
    aws.client("ec2", "us-east-1").allocate_address(Domain="vpc")
    aws.client("secretsmanager", "us-east-1").create_secret(Name="s", SecretString="x")
    aws.client("cloudwatch", "us-east-1").put_metric_alarm(
        AlarmName="a", MetricName="m", Namespace="n", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    monkeypatch.setattr(cost_explorer, "_now", lambda: created + dt.timedelta(days=3))
    response = query(aws, created.date(), 5, Granularity="MONTHLY",
                     GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}])
    totals: dict[str, float] = {}
    for result in response["ResultsByTime"]:
        for group in result["Groups"]:
            service = group["Keys"][0]
            totals[service] = totals.get(service, 0) + float(group["Metrics"]["UnblendedCost"][
                "Amount"])
    hours = 72 / 730
    zone, check = PRICES.price("route53.hosted_zone", "us-east-1"), PRICES.price(
        "route53.health_check_aws", "us-east-1")
    feature = PRICES.price("route53.health_check_feature_aws", "us-east-1")
    assert totals["Amazon Route 53"] == pytest.approx((zone + check + 2 * feature) * hours,
                                                      rel=1e-3)
    assert totals["AWS Key Management Service"] == pytest.approx(1.0 * hours, rel=1e-3)
    assert totals["AWS Secrets Manager"] == pytest.approx(0.40 * hours, rel=1e-3)
    assert totals["AmazonCloudWatch"] == pytest.approx(0.10 * hours, rel=1e-3)
    assert totals["Amazon Virtual Private Cloud"] == pytest.approx(0.005 * 72, rel=1e-3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"Granularity": "HOURLY"}, "HOURLY"),
    ({"GroupBy": [{"Type": "DIMENSION", "Key": "AZ"}]}, "AZ"),
    ({"Metrics": ["Bananas"]}, "Bananas"),
])
def test_invalid_requests_are_validation_errors(aws: AwsClients, kwargs: dict[str, Any],
                                                message: str) -> None:
    """Unsupported granularity, dimension or metric gives a ValidationException naming it."""
    with pytest.raises(ClientError, match=message) as err:
        query(aws, dt.date.today(), 1, **kwargs)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_metric_names_in_aws_upper_snake_spelling_are_accepted(aws: AwsClients) -> None:
    """UNBLENDED_COST is taken as UnblendedCost and answered under the name asked for."""
    answer = query(aws, dt.date.today(), 1, Metrics=["UNBLENDED_COST", "UsageQuantity"])
    assert set(answer["ResultsByTime"][0]["Total"]) == {"UNBLENDED_COST", "UsageQuantity"}
    assert answer["ResultsByTime"][0]["Total"]["UNBLENDED_COST"]["Unit"] == "USD"


def test_seeded_results_take_precedence(aws: AwsClients, instance: dt.datetime) -> None:
    """Results seeded through moto's own API are answered instead of derived ones."""
    seeded = {"ResultsByTime": [{"TimePeriod": {"Start": "2024-01-01", "End": "2024-01-02"},
                                 "Total": {"UnblendedCost": {"Amount": "42", "Unit": "USD"}},
                                 "Groups": [], "Estimated": False}],
              "DimensionValueAttributes": []}
    requests.post(f"{aws.endpoint_url}/moto-api/static/ce/cost-and-usage-results",
                  json={"results": [seeded]}, timeout=10).raise_for_status()
    response = query(aws, instance.date(), 1)
    assert amounts(response) == [42.0]
