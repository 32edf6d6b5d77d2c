"""Route 53 health-check status on the emulator: configuration, faults and AWS timing."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions.route53_health import (
    DEFAULT_CHECKER_REGIONS,
    TIME_SCALE_ROUTE,
    ConfigChange,
    Segment,
    decision_window,
    declared_health,
    default_time_scale,
    fault_segments,
    health_check_time_scale,
    normalise_dns_name,
    region_in_hostname,
    set_health_check_time_scale,
)
from drlib.emulator.server import Emulator
from drlib.waiting import wait_until

# --- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(("segments", "now", "window", "healthy", "since"), [
    ([Segment(0, False)], 100, 30, True, 0),
    ([Segment(0, False), Segment(10, True)], 39, 30, True, 0),
    ([Segment(0, False), Segment(10, True)], 40, 30, False, 40),
    ([Segment(0, False), Segment(10, True), Segment(20, False)], 100, 30, True, 0),
    ([Segment(0, False), Segment(10, True), Segment(50, False)], 79, 30, False, 40),
    ([Segment(0, False), Segment(10, True), Segment(50, False)], 80, 30, True, 80),
    ([Segment(0, False), Segment(10, True), Segment(50, True, disabled=True)], 51, 30, True, 50),
    ([Segment(0, True)], 0, 0, False, 0),
    ([Segment(0, False), Segment(10, True), Segment(10.5, True)], 39, 30, True, 0),
    ([Segment(0, False), Segment(200, True)], 100, 30, True, 0),
])
def test_declared_health_follows_threshold_window(segments: list[Segment], now: float,
                                                  window: float, healthy: bool,
                                                  since: float) -> None:
    """The status flips only after the checkers disagree with it for a whole window, both ways."""
    verdict = declared_health(segments, now, window)
    assert (verdict.healthy, verdict.since) == (healthy, since)


@pytest.mark.parametrize(("hostname", "region"), [
    ("app-1.us-east-1.elb.amazonaws.com", "us-east-1"),
    ("dualstack.web-123.eu-west-1.elb.amazonaws.com.", "eu-west-1"),
    ("api.us-west-2.example.com", "us-west-2"),
    ("db-ap-southeast-2-primary.example.com", "ap-southeast-2"),
    ("us-east-1x.example.com", None),
    ("example.com", None),
    ("", None),
    (None, None),
])
def test_region_in_hostname(hostname: str | None, region: str | None) -> None:
    """A region name counts only as a whole label or dash-separated part of the host name."""
    assert region_in_hostname(hostname) == region


@pytest.mark.parametrize(("name", "normal"), [
    ("DualStack.App-1.us-east-1.elb.amazonaws.com.", "app-1.us-east-1.elb.amazonaws.com"),
    ("app.example.com", "app.example.com"),
])
def test_normalise_dns_name(name: str, normal: str) -> None:
    """Load balancer names compare without case, trailing dot or dualstack prefix."""
    assert normalise_dns_name(name) == normal


def test_decision_window_is_interval_times_threshold_times_scale() -> None:
    """The window is RequestInterval x FailureThreshold x scale (AWS default 30 x 3 = 90 s)."""
    assert decision_window(30, 3, 1.0) == 90
    assert decision_window(10, 3, 0.05) == pytest.approx(1.5)


def _event(at: float, action: str, target: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {"at": datetime.fromtimestamp(at, UTC).isoformat(), "action": action,
            "target": target, "detail": {}}


@pytest.mark.parametrize(("events", "configs", "expected"), [
    ([], [ConfigChange(100, False, False)], [Segment(100, False)]),
    ([_event(50, "region-down", "us-east-1")], [ConfigChange(100, False, False)],
     [Segment(100, True)]),
    ([_event(150, "region-down", "us-east-1"), _event(160, "region-up", "us-east-1")],
     [ConfigChange(100, False, False)],
     [Segment(100, False), Segment(150, True), Segment(160, False)]),
    ([_event(150, "region-down", "us-west-2")], [ConfigChange(100, False, False)],
     [Segment(100, False)]),
    ([_event(150, "region-down", "us-east-1")], [ConfigChange(100, True, False)],
     [Segment(100, True), Segment(150, False)]),
    ([_event(150, "fail-health-check", "hc-1"), _event(160, "clear", "*")],
     [ConfigChange(100, True, False)],
     [Segment(100, True), Segment(150, True), Segment(160, True)]),
    ([_event(150, "fail-health-check", "hc-2")], [ConfigChange(100, False, False),
                                                  ConfigChange(170, False, True)],
     [Segment(100, False), Segment(170, False, disabled=True)]),
])
def test_fault_segments_replay_the_log(events: list[dict[str, Any]],
                                       configs: list[ConfigChange],
                                       expected: list[Segment]) -> None:
    """Faults for the check's region or id, inversion and disabling become what checkers see."""
    segments = fault_segments(events, "hc-1", "us-east-1", configs)
    assert [(round(s.start), s.failing, s.disabled) for s in segments] == \
        [(s.start, s.failing, s.disabled) for s in expected]


@pytest.mark.parametrize(("value", "scale"), [(None, 1.0), ("", 1.0), ("0.05", 0.05), ("0", 0.0)])
def test_default_time_scale_from_environment(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                             scale: float) -> None:
    """DRLIB_HEALTH_CHECK_TIME_SCALE sets the scale a start or reset restores (1.0 unset)."""
    if value is None:
        monkeypatch.delenv("DRLIB_HEALTH_CHECK_TIME_SCALE", raising=False)
    else:
        monkeypatch.setenv("DRLIB_HEALTH_CHECK_TIME_SCALE", value)
    assert default_time_scale() == scale


@pytest.mark.parametrize("value", ["fast", "-1", "11"])
def test_bad_time_scale_in_environment_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                  value: str) -> None:
    """A malformed DRLIB_HEALTH_CHECK_TIME_SCALE is refused, naming the variable and range."""
    monkeypatch.setenv("DRLIB_HEALTH_CHECK_TIME_SCALE", value)
    with pytest.raises(ValueError, match="DRLIB_HEALTH_CHECK_TIME_SCALE must be a number"):
        default_time_scale()


def test_time_scale_is_validated() -> None:
    """A negative or non-numeric time scale is refused, naming the accepted range."""
    with pytest.raises(ValueError, match="from 0 to 10"):
        set_health_check_time_scale(-1)
    with pytest.raises(ValueError, match="from 0 to 10"):
        set_health_check_time_scale("fast")  # type: ignore[arg-type]


# --- against the emulator --------------------------------------------------------------------

def _http_check(aws: AwsClients, **config: Any) -> str:
    base = {"Type": "HTTPS", "Port": 443, "ResourcePath": "/health", "RequestInterval": 10,
            "FailureThreshold": 3, "FullyQualifiedDomainName": "app.us-east-1.example.com"}
    base.update(config)
    answer = aws.client("route53", "us-east-1").create_health_check(
        CallerReference=str(time.time_ns()), HealthCheckConfig=base)
    return str(answer["HealthCheck"]["Id"])


def _status(aws: AwsClients, health_check_id: str) -> str:
    observations = aws.client("route53", "us-east-1").get_health_check_status(
        HealthCheckId=health_check_id)["HealthCheckObservations"]
    statuses = {o["StatusReport"]["Status"] for o in observations}
    assert len(statuses) == 1, statuses
    return statuses.pop()


@pytest.fixture
def instant(aws: AwsClients) -> AwsClients:
    """Clients against a clean emulator whose health checks change status immediately."""
    set_health_check_time_scale(0)
    return aws


def test_healthy_check_reports_success_with_figures(aws: AwsClients) -> None:
    """A healthy HTTP check reports AWS's success text and the configured timing figures."""
    hc = _http_check(aws)
    status = _status(aws, hc)
    assert status.startswith("Success: HTTP Status Code 200, OK")
    assert "FailureThreshold 3 x RequestInterval 10 s x time scale 1 = 30 s" in status


def test_observations_have_botocore_shape_and_checker_regions(aws: AwsClients) -> None:
    """One observation per checker region (default eight, or the configured Regions)."""
    r53 = aws.client("route53", "us-east-1")
    default = r53.get_health_check_status(HealthCheckId=_http_check(aws))
    observations = default["HealthCheckObservations"]
    assert [o["Region"] for o in observations] == list(DEFAULT_CHECKER_REGIONS)
    assert set(observations[0]) == {"Region", "IPAddress", "StatusReport"}
    assert set(observations[0]["StatusReport"]) == {"Status", "CheckedTime"}
    chosen = ["us-east-1", "eu-west-1", "ap-southeast-1"]
    configured = r53.get_health_check_status(HealthCheckId=_http_check(aws, Regions=chosen))
    assert [o["Region"] for o in configured["HealthCheckObservations"]] == chosen


def test_injected_failure_reports_503(instant: AwsClients) -> None:
    """An injected failure makes the check report HTTP 503; restoring makes it succeed again."""
    hc = _http_check(instant)
    faults.fail_health_check(hc)
    assert _status(instant, hc).startswith("Failure: HTTP Status Code 503, Service Unavailable")
    faults.restore_health_check(hc)
    assert _status(instant, hc).startswith("Success:")


def test_inverted_check_fails_while_endpoint_answers(instant: AwsClients) -> None:
    """Inverted flips the result: failure while the endpoint answers, success while it is down."""
    hc = _http_check(instant, Inverted=True)
    assert _status(instant, hc).startswith("Failure: the health check is inverted")
    faults.take_region_down("us-east-1")
    assert _status(instant, hc).startswith("Success: the health check is inverted")


def test_disabled_check_is_healthy_whatever_the_faults(instant: AwsClients) -> None:
    """A disabled check is healthy even inverted, with its region down or a failure injected."""
    hc = _http_check(instant, Disabled=True, Inverted=True)
    faults.take_region_down("us-east-1")
    faults.fail_health_check(hc)
    assert _status(instant, hc).startswith("Success: the health check is disabled")


def test_update_to_inverted_takes_effect(instant: AwsClients) -> None:
    """update_health_check(Inverted=True) turns a healthy check into a failing one."""
    hc = _http_check(instant)
    instant.client("route53", "us-east-1").update_health_check(HealthCheckId=hc, Inverted=True)
    assert _status(instant, hc).startswith("Failure:")


def test_region_down_fails_check_on_load_balancer_of_that_region(instant: AwsClients) -> None:
    """A check whose FQDN is a load balancer's DNS name fails when that LB's region is down."""
    ec2 = instant.client("ec2", "us-west-2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24",
                                 AvailabilityZone=f"us-west-2{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    lb = instant.client("elbv2", "us-west-2").create_load_balancer(
        Name="web", Subnets=subnets)["LoadBalancers"][0]
    hc = _http_check(instant, FullyQualifiedDomainName=f"dualstack.{lb['DNSName']}.")
    faults.take_region_down("us-east-1")
    assert _status(instant, hc).startswith("Success:")
    faults.take_region_down("us-west-2")
    status = _status(instant, hc)
    assert status.startswith("Failure: HTTP Status Code 503")
    assert "region us-west-2 data plane down" in status


def test_ip_check_without_known_region_ignores_region_faults(instant: AwsClients) -> None:
    """A check on an IP address the emulator does not know is not affected by region faults."""
    hc = instant.client("route53", "us-east-1").create_health_check(
        CallerReference="ip", HealthCheckConfig={"Type": "TCP", "IPAddress": "192.0.2.10",
                                                 "Port": 443})["HealthCheck"]["Id"]
    faults.take_region_down("us-east-1")
    faults.take_region_down("us-west-2")
    assert _status(instant, hc).startswith("Success: TCP connection established")
    faults.fail_health_check(hc)
    assert _status(instant, hc).startswith("Failure: Connection timed out")


def test_status_changes_only_after_interval_times_threshold(aws: AwsClients) -> None:
    """The check stays healthy for RequestInterval x FailureThreshold (scaled), then fails."""
    set_health_check_time_scale(0.02)  # 10 s x 2 x 0.02 = 0.4 s
    hc = _http_check(aws, FailureThreshold=2)
    started = time.monotonic()
    faults.take_region_down("us-east-1")
    first = _status(aws, hc)
    assert first.startswith("Success:")
    assert "disagreeing for" in first
    wait_until(lambda: _status(aws, hc).startswith("Failure:"),
               description="the health check to fail", timeout=10, interval=0.05)
    assert time.monotonic() - started >= 0.4 - 0.05
    faults.bring_region_up("us-east-1")
    assert _status(aws, hc).startswith("Failure:")  # recovering also takes the window
    wait_until(lambda: _status(aws, hc).startswith("Success:"),
               description="the health check to recover", timeout=10, interval=0.05)


def test_calculated_check_status_is_refused_as_on_aws(instant: AwsClients) -> None:
    """GetHealthCheckStatus on a CALCULATED check gives InvalidInput, as AWS documents."""
    child = _http_check(instant)
    calculated = instant.client("route53", "us-east-1").create_health_check(
        CallerReference="calc", HealthCheckConfig={
            "Type": "CALCULATED", "ChildHealthChecks": [child], "HealthThreshold": 1,
        })["HealthCheck"]["Id"]
    with pytest.raises(ClientError) as error:
        _status(instant, calculated)
    assert error.value.response["Error"]["Code"] == "InvalidInput"


def test_unknown_check_is_no_such_health_check(aws: AwsClients) -> None:
    """An unknown id gives NoSuchHealthCheck."""
    with pytest.raises(ClientError) as error:
        _status(aws, "00000000-0000-0000-0000-000000000000")
    assert error.value.response["Error"]["Code"] == "NoSuchHealthCheck"


def test_time_scale_control_route(clean_emulator: Emulator) -> None:
    """GET/POST the time-scale route reads and sets it; bad input is a 400; reset restores 1.0."""
    url = f"{clean_emulator.endpoint_url}{TIME_SCALE_ROUTE}"
    assert requests.get(url, timeout=5).json() == {"scale": 1.0}
    assert requests.post(url, json={"scale": 0.1}, timeout=5).json() == {"scale": 0.1}
    assert health_check_time_scale() == 0.1
    bad = requests.post(url, json={"scale": -2}, timeout=5)
    assert bad.status_code == 400
    assert "from 0 to 10" in bad.json()["error"]
    clean_emulator.reset()
    assert health_check_time_scale() == 1.0


def test_region_found_through_hosted_zone_records(instant: AwsClients) -> None:
    """A check on a zone record follows its alias to a load balancer, or its CNAME, to a region."""
    ec2 = instant.client("ec2", "us-west-2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.2.{i}.0/24",
                                 AvailabilityZone=f"us-west-2{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    lb = instant.client("elbv2", "us-west-2").create_load_balancer(
        Name="standby", Subnets=subnets)["LoadBalancers"][0]
    r53 = instant.client("route53", "us-east-1")
    zone = r53.create_hosted_zone(Name="drill.example.com", CallerReference="z")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "standby.drill.example.com", "Type": "A", "AliasTarget": {
                "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
                "EvaluateTargetHealth": False}}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "api.drill.example.com", "Type": "CNAME", "TTL": 60,
            "ResourceRecords": [{"Value": "api.eu-west-1.example.net"}]}},
    ]})
    standby = _http_check(instant, FullyQualifiedDomainName="standby.drill.example.com")
    api = _http_check(instant, FullyQualifiedDomainName="api.drill.example.com")
    faults.take_region_down("us-west-2")
    assert "region us-west-2 data plane down" in _status(instant, standby)
    assert _status(instant, api).startswith("Success:")
    faults.take_region_down("eu-west-1")
    assert "region eu-west-1 data plane down" in _status(instant, api)
