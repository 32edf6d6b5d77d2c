"""Route 53 ``TestDNSAnswer``, absent from moto 5.2.5.

``TestDNSAnswer`` answers from the hosted zone's record sets, health-aware, as Route 53's name
servers would:

- names compare case-insensitively, with or without the trailing dot; ``RecordName`` and
  ``RecordType`` in the answer are the ones asked for; ``Nameserver`` is the zone's first name
  server; ``Protocol`` is ``UDP``;
- no record set of the name (and no name below it, and not the apex) -> ``NXDOMAIN``; the name
  exists but has no record of the type -> ``NOERROR`` with no data; a ``CNAME`` at the name answers
  any type;
- simple records answer their values; multivalue records answer every healthy value (all of them
  when none is healthy, as Route 53 does); failover records answer the ``PRIMARY`` when it is
  healthy, the ``SECONDARY`` when the primary is unhealthy and the secondary healthy, and the
  primary again when both are unhealthy (Route 53's documented rules); weighted, latency, geo and
  CIDR routing are not emulated and give ``InvalidInput``;
- a record set is healthy when its ``HealthCheckId`` (if any) is healthy (see
  :mod:`route53_health`, with its FailureThreshold x RequestInterval timing) and, for an alias with
  ``EvaluateTargetHealth``, its target is healthy: a load balancer (or any name whose region
  ``route53_health.endpoint_region`` finds) turns unhealthy once its region's data plane has been
  down for its target groups' HealthCheckIntervalSeconds x UnhealthyThresholdCount (scaled like
  health checks), as Route 53 learns it from the target groups' health checks; another record
  of the same hosted zone is healthy when one of its record sets of that type is;
- an alias answers like its target: the target record's own answer when the target is a record of
  the same hosted zone, else the target's DNS name without the trailing dot (load balancers on the
  emulator have no IP addresses; the name tells which region answers).
"""

from __future__ import annotations

import time
from typing import Any

from drlib.emulator import faults
from drlib.emulator.extensions import route53_health

MAX_ALIAS_DEPTH = 5
EMULATED_POLICIES = ("simple", "failover", "multivalue")


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def routing_policy(record: Any) -> str:
    """simple, failover, multivalue, weighted, latency, geolocation or cidr."""
    if record.failover:
        return "failover"
    if record.multi_value_answer:
        return "multivalue"
    if record.weight is not None:
        return "weighted"
    if record.region:
        return "latency"
    if record.geo_location:
        return "geolocation"
    return "cidr" if getattr(record, "cidr_routing_config", None) else "simple"


def choose_failover(primary: Any | None, secondary: Any | None,
                    primary_healthy: bool, secondary_healthy: bool) -> Any | None:
    """Route 53's failover choice between a PRIMARY and a SECONDARY record set."""
    if primary is None:
        return secondary
    if secondary is None or primary_healthy or not secondary_healthy:
        return primary
    return secondary


def _down_since(region: str) -> float | None:
    """When ``region``'s current outage began (epoch seconds), from the fault log."""
    since = None
    for event in faults.snapshot()["log"]:
        if event["action"] == "region-down" and event["target"] == region and since is None:
            since = route53_health._epoch(event["at"])
        elif (event["action"] == "region-up" and event["target"] == region) or \
                event["action"] == "clear":
            since = None
    return since


def _target_group_detection(account_id: str, region: str, dns_name: str) -> tuple[int, int]:
    """(interval, unhealthy threshold) of the load balancer's target groups (ELB defaults when
    it has none: 30 s x 2)."""
    from moto.elbv2.models import elbv2_backends

    wanted = _norm(dns_name)
    try:
        backend = elbv2_backends[account_id][region]
    except KeyError:
        return 30, 2
    for lb in list(backend.load_balancers.values()):
        if _norm(lb.dns_name) != wanted:
            continue
        groups = [g for g in list(backend.target_groups.values())
                  if lb.arn in getattr(g, "load_balancer_arns", [])]
        if groups:
            return max((int(g.health_check_interval_seconds), int(g.unhealthy_threshold_count))
                       for g in groups)
    return 30, 2


class _Resolver:
    """Answers names from one hosted zone, at one moment (alias targets live in the same zone)."""

    def __init__(self, backend: Any, zone: Any, now: float) -> None:
        self.backend = backend
        self.zone = zone
        self.now = now

    def records(self, name: str) -> list[Any]:
        wanted = _norm(name)
        return [r for r in list(self.zone.rrsets) if _norm(r.name) == wanted]

    def record_healthy(self, record: Any, depth: int) -> bool:
        if record.health_check_id and not route53_health.evaluate(
                self.backend, record.health_check_id, self.now).healthy:
            return False
        alias = record.alias_target or {}
        if alias and _true(alias.get("EvaluateTargetHealth")):
            return self.target_healthy(alias["DNSName"], record.type, depth + 1)
        return True

    def target_healthy(self, dns_name: str, record_type: str, depth: int) -> bool:
        if depth > MAX_ALIAS_DEPTH:
            return True
        targets = [r for r in self.records(dns_name) if r.type == record_type]
        if targets:
            return any(self.record_healthy(r, depth) for r in targets)
        region = route53_health.endpoint_region(self.backend.account_id, dns_name, None)
        if region is None or not faults.region_down(region):
            return True
        # Route 53 learns a load balancer's health from its target groups' health checks:
        # it turns unhealthy only once they have failed UnhealthyThresholdCount times in a row.
        window = route53_health.decision_window(
            *_target_group_detection(self.backend.account_id, region, dns_name),
            route53_health.health_check_time_scale())
        since = _down_since(region)
        return since is not None and self.now - since < window

    def answer(self, name: str, record_type: str, depth: int = 0) -> list[str] | None:
        """The values for ``name``/``record_type``; None when no record set matches."""
        records = self.records(name)
        matching = [r for r in records if r.type == record_type]
        if not matching:
            matching = [r for r in records if r.type == "CNAME"]
        if not matching:
            return None
        chosen = self.choose(matching, depth)
        values: list[str] = []
        for record in chosen:
            values += self.values(record, record_type, depth)
        return values

    def choose(self, records: list[Any], depth: int) -> list[Any]:
        policies = {routing_policy(r) for r in records}
        unsupported = policies - set(EMULATED_POLICIES)
        if unsupported:
            from moto.route53.exceptions import InvalidInput

            raise InvalidInput(f"The emulator does not answer {', '.join(sorted(unsupported))} "
                               f"routing; it answers {', '.join(EMULATED_POLICIES)} records")
        if policies == {"failover"}:
            primary = next((r for r in records if r.failover == "PRIMARY"), None)
            secondary = next((r for r in records if r.failover == "SECONDARY"), None)
            chosen = choose_failover(
                primary, secondary,
                primary is not None and self.record_healthy(primary, depth),
                secondary is not None and self.record_healthy(secondary, depth))
            return [chosen] if chosen is not None else []
        if policies == {"multivalue"}:
            healthy = [r for r in records if self.record_healthy(r, depth)]
            return healthy or records
        return records[:1]

    def values(self, record: Any, record_type: str, depth: int) -> list[str]:
        alias = record.alias_target
        if not alias:
            return [str(v) for v in record.records or []]
        target = alias["DNSName"]
        if depth < MAX_ALIAS_DEPTH:
            resolved = self.answer(target, record_type, depth + 1)
            if resolved is not None:
                return resolved
        return [_norm(target)]

    def name_exists(self, name: str) -> bool:
        wanted = _norm(name)
        return wanted == _norm(self.zone.name) or any(
            _norm(r.name) == wanted or _norm(r.name).endswith("." + wanted)
            for r in self.zone.rrsets)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _test_dns_answer(self: Any) -> Any:
    from moto.core.responses import ActionResult

    zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
    name = self._get_param("RecordName")
    record_type = self._get_param("RecordType")
    resolver = _Resolver(self.backend, zone, time.time())
    in_zone = _norm(name) == _norm(zone.name) or _norm(name).endswith("." + _norm(zone.name))
    data = resolver.answer(name, record_type) if in_zone else None
    if data is None:
        code = "NOERROR" if in_zone and resolver.name_exists(name) else "NXDOMAIN"
        data = []
    else:
        code = "NOERROR"
    name_servers = zone.delegation_set.name_servers if zone.delegation_set else []
    return ActionResult({
        "Nameserver": name_servers[0] if name_servers else "localhost",
        "RecordName": name,
        "RecordType": record_type,
        "RecordData": data,
        "ResponseCode": code,
        "Protocol": "UDP",
    })


_installed = False


def install() -> None:
    """Add TestDNSAnswer to moto's Route 53 (method and URL path)."""
    global _installed
    if _installed:
        return
    from moto.route53 import urls
    from moto.route53.responses import Route53

    Route53.test_dns_answer = _test_dns_answer  # type: ignore[attr-defined]
    # The Flask app for route53 is built from this dict on the first Route 53 request.
    urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"] = Route53.dispatch
    _installed = True
