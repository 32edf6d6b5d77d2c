"""Reference figures read from what is deployed: the DNS failover's health check and TTL.

Route 53 moves a failover record once the primary's health check has failed FailureThreshold
times, one check every RequestInterval seconds; resolvers then keep the old answer for the
record's TTL. Those three numbers are read here from the deployment (``GetHealthCheck`` and the
failover record set) so the verdict compares the measured RTO with what this deployment can do,
and says where each number came from (arithmetic: :func:`drlib.verdict.route53_failover_seconds`).
"""

from __future__ import annotations

from typing import Any

from drlib.verdict import DnsReference

#: Route 53 gives an alias record the TTL of its target; for an Elastic Load Balancing target
#: that is 60 s ("If an alias record points to an AWS resource, you can't set the TTL; Route 53
#: uses the default TTL for the resource"), documented in the alias-records page below.
ALIAS_TTL_SECONDS: dict[str, int] = {"elb": 60}
ROUTE53_ALIAS = ("https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
                 "resource-record-sets-choosing-alias-non-alias.html")


def dns_reference(route53: Any, hosted_zone_id: str, record_name: str,
                  health_check_id: str | None) -> DnsReference:
    """The deployed health check's RequestInterval and FailureThreshold and the failover
    record's TTL (an alias to a load balancer: 60 s, Route 53's rule), with their source."""
    interval, threshold, sources = 30, 3, []
    if health_check_id:
        config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"][
            "HealthCheckConfig"]
        interval = int(config.get("RequestInterval", 30))
        threshold = int(config.get("FailureThreshold", 3))
        sources.append(f"health check {health_check_id}: RequestInterval {interval} s, "
                       f"FailureThreshold {threshold}")
    else:
        sources.append("no primary health check id: AWS defaults RequestInterval 30 s, "
                       "FailureThreshold 3")
    ttl, ttl_source = record_ttl(route53, hosted_zone_id, record_name)
    sources.append(ttl_source)
    return DnsReference(request_interval=interval, failure_threshold=threshold, ttl=ttl,
                        source="; ".join(sources))


def record_ttl(route53: Any, hosted_zone_id: str, record_name: str) -> tuple[int, str]:
    """The TTL clients cache the failover record for, and where that number comes from."""
    name = record_name.rstrip(".").lower() + "."
    records = [r for r in route53.list_resource_record_sets(HostedZoneId=hosted_zone_id)[
        "ResourceRecordSets"] if r["Name"].lower() == name and r.get("Failover")]
    primary = next((r for r in records if r.get("Failover") == "PRIMARY"), None) or \
        (records[0] if records else None)
    if primary is None:
        return 60, f"no failover record {name}: TTL 60 s assumed"
    if "TTL" in primary:
        return int(primary["TTL"]), f"record {name} {primary['Type']}: TTL {primary['TTL']} s"
    target = str((primary.get("AliasTarget") or {}).get("DNSName", "")).lower()
    if ".elb." in target or target.endswith("elb.amazonaws.com."):
        ttl = ALIAS_TTL_SECONDS["elb"]
        return ttl, (f"record {name}: alias to load balancer {target.rstrip('.')}, TTL {ttl} s "
                     f"(Route 53 uses the load balancer's TTL for an alias, {ROUTE53_ALIAS})")
    return 60, f"record {name}: alias to {target.rstrip('.')}, TTL 60 s assumed"
