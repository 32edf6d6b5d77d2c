"""Reference figures derived from the deployment: health check and TTL, with their source."""

from __future__ import annotations

from typing import Any

import pytest

from drlib.references import dns_reference
from drlib.verdict import DEPLOYMENT, PROJECT_DESIGN, published_figures

NAME = "app.dr-dev.example.com"


class FakeRoute53:
    """get_health_check and list_resource_record_sets over fixed data."""

    def __init__(self, records: list[dict[str, Any]], interval: int = 10,
                 threshold: int = 2) -> None:
        self.records, self.interval, self.threshold = records, interval, threshold

    def get_health_check(self, HealthCheckId: str) -> dict[str, Any]:
        return {"HealthCheck": {"HealthCheckConfig": {"RequestInterval": self.interval,
                                                      "FailureThreshold": self.threshold}}}

    def list_resource_record_sets(self, HostedZoneId: str) -> dict[str, Any]:
        return {"ResourceRecordSets": self.records}


def _failover(role: str, **extra: Any) -> dict[str, Any]:
    return {"Name": f"{NAME}.", "Type": "A", "Failover": role, "SetIdentifier": role, **extra}


@pytest.mark.parametrize(("records", "interval", "threshold", "ttl", "seconds", "says"), [
    # dev: alias to the load balancer, 10 s x 2 + 60 s
    ([_failover("PRIMARY", AliasTarget={"DNSName": "acme-1.us-east-1.elb.amazonaws.com."}),
      _failover("SECONDARY", AliasTarget={"DNSName": "acme-2.us-west-2.elb.amazonaws.com."})],
     10, 2, 60, 80.0, "alias to load balancer"),
    # a plain record with its own TTL: 30 s x 3 + 15 s
    ([_failover("PRIMARY", TTL=15, ResourceRecords=[{"Value": "192.0.2.1"}])],
     30, 3, 15, 105.0, "TTL 15 s"),
])
def test_dns_reference_is_read_from_the_deployment(records: list[dict[str, Any]], interval: int,
                                                   threshold: int, ttl: int, seconds: float,
                                                   says: str) -> None:
    """Interval, threshold and TTL come from the deployed health check and record, and the
    Route 53 figure is labelled as derived from the deployment, with its source."""
    reference = dns_reference(FakeRoute53(records, interval, threshold), "Z1", NAME, "hc-1")
    assert (reference.request_interval, reference.failure_threshold, reference.ttl) == (
        interval, threshold, ttl)
    assert says in reference.source
    assert f"RequestInterval {interval} s, FailureThreshold {threshold}" in reference.source
    figure = published_figures(dns=reference)["route53_failover"]
    assert figure.value_seconds == seconds
    assert figure.origin == DEPLOYMENT
    assert figure.label == "deployed"


def test_project_design_figure_is_never_labelled_aws() -> None:
    """DynamoDB's 1 s is this project's design figure, not AWS's."""
    figure = published_figures()["dynamodb_lag"]
    assert figure.origin == PROJECT_DESIGN
    assert figure.label == "design"
