"""Step timeouts derived from the environment's own timings, not fixed numbers.

A step waits for something whose duration the deployment declares (Route 53 detection: health-check
interval x failure threshold, then the record TTL) or AWS publishes (Aurora global switchover and
failover take "minutes"). :func:`read_timings` reads the declared ones from the target;
:func:`step_timeouts` turns them into a bound per step with a margin (x :data:`MARGIN` plus
:data:`SLACK_S`), so a step that cannot finish fails within a bounded multiple of what it should
take.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

MARGIN = 2.0
"""Multiplier on the expected duration of a step."""
SLACK_S = 30.0
"""Added to every bound: API round trips and polling intervals."""
PUBLISHED_GLOBAL_DB_MOVE_S = 300.0
"""Aurora global switchover/failover: AWS says RTO "in the order of minutes"; 5 minutes."""
ASG_IN_SERVICE_S = 300.0
"""EC2 instances launched and in service behind the load balancer (boot plus health grace)."""
RESTORE_JOB_S = 600.0
"""An AWS Backup backup, copy or restore job of a drill's small table or bucket."""


@dataclass(frozen=True)
class Timings:
    """What the deployment declares about how long a move takes."""

    health_check_interval_s: float = 30.0
    failure_threshold: int = 3
    dns_ttl_s: float = 60.0
    global_db_move_s: float = PUBLISHED_GLOBAL_DB_MOVE_S
    scale_up_s: float = ASG_IN_SERVICE_S
    source: str = "AWS defaults (the deployment could not be read)"

    @property
    def dns_move_s(self) -> float:
        """Route 53: unhealthy after interval x threshold, answers cached for the TTL."""
        return self.health_check_interval_s * self.failure_threshold + self.dns_ttl_s

    def to_metrics(self) -> dict[str, Any]:
        return {**asdict(self), "dns_move_s": self.dns_move_s}


def bound(expected_s: float) -> float:
    """The timeout for a wait expected to take ``expected_s``."""
    return round(expected_s * MARGIN + SLACK_S, 1)


def step_timeouts(t: Timings) -> dict[str, float]:
    """Every drill and failback step's timeout, from ``t``."""
    dns = bound(t.dns_move_s)
    db = bound(t.global_db_move_s)
    scale = bound(t.scale_up_s)
    return {
        "guardrails": bound(30.0), "baseline canaries": bound(10.0),
        "lose the primary region": bound(10.0), "detect the outage": dns,
        # The runbooks (SSM Automation) bound each of their steps themselves; drlib bounds the
        # whole execution by what its steps wait for.
        "planned-switchover runbook": scale + db,
        "unplanned-failover runbook": db + scale,
        # Resync, then move; the standby size is set, not awaited.
        "failback runbook": db + bound(t.global_db_move_s) + bound(30.0),
        "DNS answers the secondary": dns, "DNS answers the primary": dns,
        # The first write follows the DNS answer through a resolver honouring the TTL.
        "first write in the new primary": bound(t.dns_ttl_s + 10.0),
        "observe": bound(10.0), "reconcile": bound(60.0),
        "give the primary region back": bound(30.0), "stop runbooks left running": bound(30.0),
        # data-corruption: AWS Backup jobs take minutes to hours with the data's size; these
        # bounds fit a drill's small table and bucket (the runbook bounds the restore itself).
        "record a recovery point": bound(RESTORE_JOB_S), "corrupt the data in both regions":
        bound(30.0), "data-corruption runbook": bound(2 * RESTORE_JOB_S),
        "restored data readable": bound(30.0), "put back and clean up": bound(60.0),
        # Every write of the drill on both sides: S3 Replication Time Control replicates most
        # objects in seconds (99.99 % within 15 minutes); a minute covers a drill's backlog.
        "writes on both sides": bound(60.0),
    }


def read_timings(clients: Any, workload: Any) -> Timings:
    """The primary health check's interval and threshold and the application record's TTL, read
    from Route 53; AWS's defaults (labelled as such) where they cannot be read."""
    try:
        route53 = clients.client("route53", workload.regions.primary)
        interval, threshold = 30.0, 3
        if workload.primary.health_check_id:
            config = route53.get_health_check(HealthCheckId=workload.primary.health_check_id)[
                "HealthCheck"]["HealthCheckConfig"]
            interval = float(config.get("RequestInterval", 30))
            threshold = int(config.get("FailureThreshold", 3))
        name = workload.app_dns_name.rstrip(".") + "."
        records = route53.list_resource_record_sets(HostedZoneId=workload.hosted_zone_id)[
            "ResourceRecordSets"]
        ttls = [float(r["TTL"]) for r in records if r["Name"] == name and "TTL" in r]
        # An alias record has no TTL of its own: Route 53 answers with the target's (60 s for
        # a load balancer).
        ttl = max(ttls) if ttls else 60.0
    except Exception as exc:
        log.warning("could not read the deployment's timings (%s); using AWS defaults", exc)
        return Timings()
    return Timings(health_check_interval_s=interval, failure_threshold=threshold, dns_ttl_s=ttl,
                   source="health check and record read from Route 53; Aurora: AWS's "
                          "published 'minutes'")


def describe_timeouts(timeouts: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:g} s" for k, v in timeouts.items())
