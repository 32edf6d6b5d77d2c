"""moto's Route 53 health-check API gaps, closed: count, paging, template configuration."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.emulator.extensions.route53_health import set_health_check_time_scale
from drlib.emulator.extensions.route53_health_checks import (
    health_check_args_from_template,
    page_of_health_checks,
)


def _http_check(aws: AwsClients, **config: Any) -> str:
    base = {"Type": "HTTPS", "Port": 443, "RequestInterval": 10, "FailureThreshold": 3,
            "FullyQualifiedDomainName": "app.us-east-1.example.com", **config}
    answer = aws.client("route53", "us-east-1").create_health_check(
        CallerReference=str(time.time_ns()), HealthCheckConfig=base)
    return str(answer["HealthCheck"]["Id"])


@pytest.mark.parametrize(("marker", "max_items", "page", "following"), [
    (None, 100, ["a", "b", "c"], None),
    (None, 2, ["a", "b"], "c"),
    ("c", 2, ["c"], None),
    ("b", 1, ["b"], "c"),
])
def test_page_of_health_checks(marker: str | None, max_items: int, page: list[str],
                               following: str | None) -> None:
    """A page starts at the marker, holds at most MaxItems ids and names the next one."""
    assert page_of_health_checks(["a", "b", "c"], marker, max_items) == (page, following)


def test_template_strings_become_typed_arguments() -> None:
    """Template values given as strings become moto's ints and booleans; absent ones stay None."""
    args = health_check_args_from_template({"Type": "TCP", "IPAddress": "192.0.2.1",
                                            "Port": "443", "Inverted": "True",
                                            "Disabled": False})
    assert (args["port"], args["inverted"], args["disabled"]) == (443, True, False)
    assert (args["request_interval"], args["children"], args["regions"]) == (None, [], [])


def test_count_and_list_health_checks(aws: AwsClients) -> None:
    """get_health_check_count and list_health_checks reflect creations and deletions."""
    r53 = aws.client("route53", "us-east-1")
    assert r53.get_health_check_count()["HealthCheckCount"] == 0
    first, second = _http_check(aws), _http_check(aws, Inverted=True)
    assert r53.get_health_check_count()["HealthCheckCount"] == 2
    listed = {hc["Id"]: hc for hc in r53.list_health_checks()["HealthChecks"]}
    assert set(listed) == {first, second}
    assert listed[second]["HealthCheckConfig"]["Inverted"] is True
    r53.delete_health_check(HealthCheckId=first)
    assert r53.get_health_check_count()["HealthCheckCount"] == 1


def test_list_health_checks_pages(aws: AwsClients) -> None:
    """MaxItems and Marker page the list with IsTruncated and NextMarker, as AWS does."""
    r53 = aws.client("route53", "us-east-1")
    ids = [_http_check(aws) for _ in range(3)]
    first = r53.list_health_checks(MaxItems="2")
    assert [hc["Id"] for hc in first["HealthChecks"]] == ids[:2]
    assert (first["IsTruncated"], first["NextMarker"], first["MaxItems"]) == (True, ids[2], "2")
    second = r53.list_health_checks(MaxItems="2", Marker=first["NextMarker"])
    assert [hc["Id"] for hc in second["HealthChecks"]] == ids[2:]
    assert second["IsTruncated"] is False
    assert "NextMarker" not in second
    pages = r53.get_paginator("list_health_checks").paginate(PaginationConfig={"PageSize": 1})
    assert [hc["Id"] for page in pages for hc in page["HealthChecks"]] == ids


def test_template_health_check_keeps_inversion_and_regions(aws: AwsClients) -> None:
    """A health check created by CloudFormation keeps Inverted and Regions (moto dropped them)."""
    config = {"Type": "HTTPS", "FullyQualifiedDomainName": "x.us-east-1.example.com",
              "Port": "443", "RequestInterval": "10", "FailureThreshold": "3",
              "Inverted": "true", "Regions": ["us-east-1", "eu-west-1", "ap-southeast-1"]}
    template = {"Resources": {"Check": {"Type": "AWS::Route53::HealthCheck",
                                        "Properties": {"HealthCheckConfig": config}}}}
    cfn = aws.client("cloudformation", "us-east-1")
    cfn.create_stack(StackName="checks", TemplateBody=json.dumps(template))
    resources = cfn.describe_stack_resources(StackName="checks")["StackResources"]
    hc = resources[0]["PhysicalResourceId"]
    stored = aws.client("route53", "us-east-1").get_health_check(
        HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]
    assert (stored["Inverted"], stored["RequestInterval"], stored["Regions"]) == (
        True, 10, ["us-east-1", "eu-west-1", "ap-southeast-1"])
    set_health_check_time_scale(0)
    status = aws.client("route53", "us-east-1").get_health_check_status(HealthCheckId=hc)
    report = status["HealthCheckObservations"][0]["StatusReport"]["Status"]
    assert report.startswith("Failure: the health check is inverted")
