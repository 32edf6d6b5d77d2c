"""Readiness: may a drill start? Each check says what it looked at and what to do if it fails.

:func:`assess` runs every check against the deployed workload and returns a
:class:`ReadinessReport` (a DataFrame a notebook shows, and an overall verdict). A check that
raises is a failed check with the error as its evidence: readiness never crashes half-way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd

from drlib.aws import AwsClients
from drlib.errors import ReadinessError
from drlib.workload import Workload

log = logging.getLogger(__name__)

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    """One readiness check: its status, the evidence it looked at, what to do if it failed."""

    check: str
    status: Status
    evidence: str
    remedy: str = ""


@dataclass(frozen=True)
class ReadinessReport:
    """Every check and the overall verdict (ready when no check failed)."""

    results: tuple[CheckResult, ...]
    checked_at: str

    @property
    def ready(self) -> bool:
        return all(r.status != "fail" for r in self.results)

    def frame(self) -> pd.DataFrame:
        """The checks as a table: check, status, evidence, remedy."""
        return pd.DataFrame([asdict(r) for r in self.results],
                            columns=["check", "status", "evidence", "remedy"])

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "checked_at": self.checked_at,
                "results": [asdict(r) for r in self.results]}

    def require_ready(self) -> None:
        """Raise ReadinessError naming every failed check and its remedy."""
        failed = [r for r in self.results if r.status == "fail"]
        if failed:
            raise ReadinessError(
                f"Not ready for a drill: {len(failed)} check(s) failed",
                expected="every readiness check passing",
                found="; ".join(f"{r.check}: {r.evidence}" for r in failed),
                fix="; ".join(f"{r.check}: {r.remedy}" for r in failed if r.remedy))


Check = Callable[[], CheckResult]


def run_checks(checks: Sequence[tuple[str, Check, str]]) -> ReadinessReport:
    """Run ``(name, check, remedy)`` triples; an exception is a failed check, not a crash."""
    results = []
    for name, check, remedy in checks:
        try:
            results.append(check())
        except Exception as exc:
            log.warning("readiness check %s raised %s", name, exc)
            results.append(CheckResult(name, "fail", f"{type(exc).__name__}: {exc}"[:400],
                                       remedy))
    return ReadinessReport(tuple(results), datetime.now(UTC).isoformat(timespec="seconds"))


# --- the checks ----------------------------------------------------------------------------------

def check_global_cluster(clients: AwsClients, workload: Workload) -> CheckResult:
    """The global cluster is available with a writer in the primary and a secondary member."""
    name = "global database healthy"
    rds = clients.client("rds", workload.regions.primary)
    cluster = rds.describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0]
    members = cluster.get("GlobalClusterMembers", [])
    writers = [m["DBClusterArn"] for m in members if m.get("IsWriter")]
    readers = [m["DBClusterArn"] for m in members if not m.get("IsWriter")]
    evidence = (f"status {cluster.get('Status')}; writer {', '.join(writers) or 'none'}; "
                f"secondaries {', '.join(readers) or 'none'}")
    ok = (cluster.get("Status") == "available" and len(writers) == 1 and readers
          and f":{workload.regions.primary}:" in writers[0]
          and any(f":{workload.regions.secondary}:" in r for r in readers))
    return CheckResult(name, "pass" if ok else "fail", evidence,
                       "" if ok else "fail back or repair the global database first")


def check_secondary_cluster(clients: AwsClients, workload: Workload) -> CheckResult:
    """The secondary regional cluster is available."""
    rds = clients.client("rds", workload.regions.secondary)
    cluster = rds.describe_db_clusters(
        DBClusterIdentifier=workload.secondary.cluster_id)["DBClusters"][0]
    ok = cluster.get("Status") == "available"
    return CheckResult("secondary cluster available", "pass" if ok else "fail",
                       f"{workload.secondary.cluster_id}: {cluster.get('Status')}",
                       "" if ok else "wait for the secondary cluster, or re-create it")


def check_dynamodb_replicas(clients: AwsClients, workload: Workload) -> CheckResult:
    """The table has an ACTIVE replica in the secondary region."""
    table = clients.client("dynamodb", workload.regions.primary).describe_table(
        TableName=workload.table_name)["Table"]
    replicas = {r["RegionName"]: r.get("ReplicaStatus") for r in table.get("Replicas", [])}
    ok = replicas.get(workload.regions.secondary) == "ACTIVE"
    return CheckResult("DynamoDB replicas active", "pass" if ok else "fail",
                       f"{workload.table_name} replicas: {replicas or 'none'}",
                       "" if ok else "add or repair the secondary replica of the global table")


def check_s3_replication(clients: AwsClients, workload: Workload,
                         timeout_s: float) -> CheckResult:
    """Replication is enabled both ways (the data bucket to the replica bucket and back, so
    what is written while failed over returns on failback) and a probe object crosses each way."""
    from drlib.waiting import wait_until

    regions = workload.regions
    directions = ((regions.primary, workload.primary.bucket, regions.secondary,
                   workload.secondary.bucket),
                  (regions.secondary, workload.secondary.bucket, regions.primary,
                   workload.primary.bucket))
    evidence = []
    for source_region, source, destination_region, destination in directions:
        s3 = clients.client("s3", source_region)
        try:
            rules = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"][
                "Rules"]
        except s3.exceptions.ClientError as exc:
            if "ReplicationConfigurationNotFound" not in str(exc):
                raise
            rules = []
        enabled = [r for r in rules if r.get("Status") == "Enabled"
                   and r["Destination"]["Bucket"].endswith(f":::{destination}")]
        if not enabled:
            return CheckResult("S3 replication", "fail", f"{source}: no enabled rule to "
                               f"{destination} among {len(rules)} rule(s)",
                               "launch the storage stacks (drlib stacks launch): the replica "
                               "bucket's rule back to the data bucket is added once the data "
                               "bucket exists")
        key = f"drlib-readiness/probe-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
        started = datetime.now(UTC)
        s3.put_object(Bucket=source, Key=key, Body=b"readiness probe")
        other = clients.client("s3", destination_region)

        def arrived(other: Any = other, destination: str = destination, key: str = key
                    ) -> bool:
            try:
                other.head_object(Bucket=destination, Key=key)
                return True
            except other.exceptions.ClientError:
                return False

        wait_until(arrived, description=f"the probe object {key} in {destination}",
                   timeout=timeout_s, interval=0.05)
        seconds = (datetime.now(UTC) - started).total_seconds()
        evidence.append(f"{source} -> {destination}: rule {enabled[0].get('ID')} enabled, "
                        f"probe replicated in {seconds:.2f} s")
    return CheckResult("S3 replication", "pass", "; ".join(evidence))


def check_dns_failover(clients: AwsClients, workload: Workload) -> CheckResult:
    """Both health checks exist, failover records exist, and the name answers with primary."""
    route53 = clients.client("route53", workload.regions.primary)
    records = route53.list_resource_record_sets(HostedZoneId=workload.hosted_zone_id)[
        "ResourceRecordSets"]
    name = workload.app_dns_name.rstrip(".") + "."
    failover = sorted(r.get("Failover", "") for r in records
                      if r["Name"] == name and r.get("Failover"))
    checks = [workload.primary.health_check_id, workload.secondary.health_check_id]
    statuses = []
    for check_id in [c for c in checks if c]:
        observations = route53.get_health_check_status(HealthCheckId=check_id)[
            "HealthCheckObservations"]
        healthy = all(o["StatusReport"]["Status"].startswith("Success") for o in observations)
        statuses.append(f"{check_id}: {'healthy' if healthy else 'UNHEALTHY'}")
    # Route 53's own answer (TestDNSAnswer: authoritative, no resolver cache): the primary.
    answer = route53.test_dns_answer(HostedZoneId=workload.hosted_zone_id, RecordName=name,
                                     RecordType="A")
    data = [str(d).rstrip(".").lower().removeprefix("dualstack.")
            for d in answer.get("RecordData", [])]
    primary_lb = workload.primary.load_balancer_dns.rstrip(".").lower()
    answers_primary = primary_lb in data or bool(set(data) & _addresses_of(primary_lb))
    ok = (failover == ["PRIMARY", "SECONDARY"] and all("UNHEALTHY" not in s for s in statuses)
          and answers_primary)
    return CheckResult("health checks and failover records", "pass" if ok else "fail",
                       f"{name} failover records {failover or 'none'}; {'; '.join(statuses)}; "
                       f"TestDNSAnswer {data or 'empty'} "
                       f"({'the primary' if answers_primary else 'NOT the primary'})",
                       "" if ok else "fix the DNS stack or the failing health check; the name "
                       "must answer with the primary load balancer before a drill")


def _addresses_of(name: str) -> set[str]:
    """The addresses ``name`` resolves to through the system resolver (none if it does not):
    on AWS, TestDNSAnswer answers an alias with the load balancer's addresses."""
    import socket

    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError):
        return set()


def check_secondary_can_scale(clients: AwsClients, workload: Workload) -> CheckResult:
    """The secondary Auto Scaling group may grow to the primary's current size."""
    def group(region: str, name: str) -> dict[str, Any]:
        return dict(clients.client("autoscaling", region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"][0])

    primary = group(workload.regions.primary, workload.primary.asg_name)
    secondary = group(workload.regions.secondary, workload.secondary.asg_name)
    ok = secondary["MaxSize"] >= primary["DesiredCapacity"]
    return CheckResult("secondary app tier can scale", "pass" if ok else "fail",
                       f"primary desired {primary['DesiredCapacity']}; secondary "
                       f"desired {secondary['DesiredCapacity']}, max {secondary['MaxSize']}",
                       "" if ok else "raise the secondary group's MaxSize")


def check_evidence_bucket(clients: AwsClients, workload: Workload) -> CheckResult:
    """The evidence bucket is reachable and has Object Lock."""
    if not workload.evidence_bucket:
        return CheckResult("evidence bucket", "warn", "no evidence bucket among the outputs",
                           "deploy the evidence bucket to archive runs with Object Lock")
    region = workload.regions.secondary
    s3 = clients.client("s3", region)
    s3.head_bucket(Bucket=workload.evidence_bucket)
    lock = s3.get_object_lock_configuration(Bucket=workload.evidence_bucket)[
        "ObjectLockConfiguration"]
    rule = lock.get("Rule", {}).get("DefaultRetention", {})
    ok = lock.get("ObjectLockEnabled") == "Enabled"
    return CheckResult("evidence bucket", "pass" if ok else "fail",
                       f"{workload.evidence_bucket}: object lock {lock.get('ObjectLockEnabled')}"
                       f", default {rule.get('Mode', 'none')} {rule.get('Days', '')}",
                       "" if ok else "enable Object Lock on the evidence bucket")


# A scheduled rotation runs within its window; a day's grace before calling it overdue.
ROTATION_GRACE = timedelta(days=1)


def secret_rotation_verdict(description: dict[str, Any], now: datetime) -> CheckResult:
    """Whether a secret (a DescribeSecret answer) rotates automatically and rotated within its
    window: last rotation (or creation, before the first) at most AutomaticallyAfterDays ago."""
    name = "master secret rotated"
    secret = str(description.get("Name") or description.get("ARN"))
    if not description.get("RotationEnabled"):
        return CheckResult(name, "fail", f"{secret}: automatic rotation is off",
                           "deploy the database stack's rotation schedule")
    days = int((description.get("RotationRules") or {}).get("AutomaticallyAfterDays") or 0)
    last = description.get("LastRotatedDate") or description.get("CreatedDate")
    if not isinstance(last, datetime) or days < 1:
        return CheckResult(name, "fail", f"{secret}: no rotation window or date to check "
                           f"(window {days} days, last {last})", "check the rotation schedule")
    age = now - last
    evidence = (f"{secret}: last {'rotated' if description.get('LastRotatedDate') else 'created'}"
                f" {age.days} days ago, window {days} days")
    if age > timedelta(days=days) + ROTATION_GRACE:
        return CheckResult(name, "fail", evidence + " (overdue)",
                           "find why the rotation function failed (describe_secret, its logs) "
                           "and rotate the secret (rotate_secret)")
    return CheckResult(name, "pass", evidence)


def check_secret_rotation(clients: AwsClients, workload: Workload,
                          now: datetime | None = None) -> CheckResult:
    """The database master secret rotates automatically and is within its rotation window."""
    arn = workload.database_secret_arn
    region = arn.split(":")[3] if arn.startswith("arn:") else workload.regions.primary
    description = clients.client("secretsmanager", region).describe_secret(SecretId=arn)
    return secret_rotation_verdict(description, now or datetime.now(UTC))


def _selects_bucket(trail: dict[str, Any], bucket: str) -> bool:
    """Whether a trail's (basic or advanced) event selectors record object events of bucket."""
    arn_prefix = f"arn:aws:s3:::{bucket}/"
    for selector in trail.get("EventSelectors") or []:
        for data in selector.get("DataResources") or []:
            if data.get("Type") == "AWS::S3::Object" and any(
                    value in ("arn:aws:s3", "arn:aws:s3:::") or arn_prefix.startswith(value)
                    for value in data.get("Values") or []):
                return True
    for selector in trail.get("AdvancedEventSelectors") or []:
        fields = {f["Field"]: f for f in selector.get("FieldSelectors") or []}
        if "Data" not in (fields.get("eventCategory") or {}).get("Equals", []):
            continue
        if "AWS::S3::Object" not in (fields.get("resources.type") or {}).get("Equals", []):
            continue
        arns = fields.get("resources.ARN")
        if arns is None or any(arn_prefix.startswith(v) for v in arns.get("StartsWith", [])):
            return True
    return False


def trail_coverage_verdict(trails: Sequence[dict[str, Any]], buckets: Sequence[str]
                           ) -> CheckResult:
    """Whether one logging trail records S3 data events of every bucket. ``trails`` are
    DescribeTrails entries with ``IsLogging`` and their selectors added."""
    name = "S3 data events recorded"
    for trail in trails:
        if trail.get("IsLogging") and all(_selects_bucket(trail, b) for b in buckets):
            return CheckResult(name, "pass", f"trail {trail.get('Name')} is logging object "
                                             f"events of {', '.join(buckets)}")
    seen = "; ".join(f"{t.get('Name')} ({'logging' if t.get('IsLogging') else 'not logging'},"
                     f" covers {[b for b in buckets if _selects_bucket(t, b)] or 'none'})"
                     for t in trails) or "no trail"
    return CheckResult(name, "fail", seen, "deploy the audit stack's trail, or name the "
                                           "organisation trail that records both buckets")


def check_audit_trail(clients: AwsClients, workload: Workload) -> CheckResult:
    """A logging trail records S3 data events of the data and replica buckets."""
    cloudtrail = clients.client("cloudtrail", workload.regions.primary)
    trails = []
    for trail in cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", []):
        arn = trail["TrailARN"]
        selectors = cloudtrail.get_event_selectors(TrailName=arn)
        trails.append({**trail, "IsLogging": cloudtrail.get_trail_status(Name=arn).get(
            "IsLogging"), "EventSelectors": selectors.get("EventSelectors"),
            "AdvancedEventSelectors": selectors.get("AdvancedEventSelectors")})
    return trail_coverage_verdict(trails, [workload.primary.bucket, workload.secondary.bucket])


def check_lag(lag_by_store: dict[str, float | None], threshold_s: float,
              source: str) -> CheckResult:
    """Every store's latest lag is under the threshold (no data is a warning)."""
    parts, worst = [], "pass"
    for store, lag in sorted(lag_by_store.items()):
        if lag is None:
            parts.append(f"{store}: no data")
            worst = "warn" if worst == "pass" else worst
        else:
            parts.append(f"{store}: {lag:.3f} s")
            if lag > threshold_s:
                worst = "fail"
    return CheckResult(f"replication lag ({source})", worst,  # type: ignore[arg-type]
                       f"{'; '.join(parts)} (threshold {threshold_s:g} s)",
                       "" if worst != "fail" else "wait for replication to catch up, or find "
                                                  "what slows it before drilling")


def cloudwatch_lag(clients: AwsClients, workload: Workload,
                   window: timedelta = timedelta(minutes=15)) -> dict[str, float | None]:
    """The latest replication lag per store as CloudWatch reports it, in seconds."""
    end = datetime.now(UTC)
    start = end - window
    queries = {
        "aurora": (workload.regions.secondary, "AWS/RDS", "AuroraGlobalDBReplicationLag",
                   [{"Name": "DBClusterIdentifier", "Value": workload.secondary.cluster_id}],
                   0.001),
        "dynamodb": (workload.regions.primary, "AWS/DynamoDB", "ReplicationLatency",
                     [{"Name": "TableName", "Value": workload.table_name},
                      {"Name": "ReceivingRegion", "Value": workload.regions.secondary}], 0.001),
    }
    out: dict[str, float | None] = {}
    for store, (region, namespace, metric, dimensions, factor) in queries.items():
        data = clients.client("cloudwatch", region).get_metric_statistics(
            Namespace=namespace, MetricName=metric, Dimensions=dimensions, StartTime=start,
            EndTime=end, Period=60, Statistics=["Maximum"])["Datapoints"]
        latest = max(data, key=lambda d: d["Timestamp"]) if data else None
        out[store] = None if latest is None else float(latest["Maximum"]) * factor
    return out


def check_rto_model(clients: AwsClients, workload: Workload, secondary_desired: int,
                    scenario: str = "unplanned-failover") -> CheckResult:
    """The RTO this deployment would give clients on AWS (drlib.rto_model, from the deployed
    health check and record TTL) against the environment's target."""
    from drlib.references import dns_reference
    from drlib.rto_model import check_modelled_rto, model_rto
    from drlib.verdict import targets_for

    route53 = clients.client("route53", workload.regions.primary)
    dns = dns_reference(route53, workload.hosted_zone_id, workload.app_dns_name,
                        workload.primary.health_check_id)
    model = model_rto(scenario, dns, secondary_desired,
                      targets_for(workload.environment).rto_seconds)
    status, evidence, remedy = check_modelled_rto(model)
    return CheckResult("modelled RTO on AWS within target", status, evidence, remedy)


def assess(clients: AwsClients, workload: Workload, *, lag_threshold_s: float,
           canary_lag: dict[str, float | None] | Callable[[], dict[str, float | None]]
           | None = None,
           lock_holder: str | None = None,
           probe_error: str | None = None,
           secondary_desired: int | None = None) -> ReadinessReport:
    """Every readiness check for ``workload``. ``probe_error``: the canary probe crashed, which
    fails its check (a check that cannot be made is not passed). ``canary_lag`` may be the
    probe's result to come (called when its check's turn comes: the probe runs meanwhile); an
    exception from it fails the check the same way."""
    checks: list[tuple[str, Check, str]] = [
        ("global database healthy", lambda: check_global_cluster(clients, workload),
         "check describe_global_clusters"),
        ("secondary cluster available", lambda: check_secondary_cluster(clients, workload),
         "check the secondary cluster"),
        ("DynamoDB replicas active", lambda: check_dynamodb_replicas(clients, workload),
         "check the global table"),
        ("S3 replication", lambda: check_s3_replication(
            clients, workload, timeout_s=max(lag_threshold_s, 1.0) * 3),
         "check the bucket's replication configuration"),
        ("health checks and failover records", lambda: check_dns_failover(clients, workload),
         "check the DNS stack"),
        ("secondary app tier can scale", lambda: check_secondary_can_scale(clients, workload),
         "check the Auto Scaling groups"),
        ("evidence bucket", lambda: check_evidence_bucket(clients, workload),
         "check the evidence bucket"),
        ("master secret rotated", lambda: check_secret_rotation(clients, workload),
         "check the master secret's rotation schedule"),
        ("S3 data events recorded", lambda: check_audit_trail(clients, workload),
         "check the audit stack's trail"),
        *([("modelled RTO on AWS within target", lambda: check_rto_model(
            clients, workload, secondary_desired), "check the health check and the record")]
          if secondary_desired is not None else []),
        ("replication lag (CloudWatch)", lambda: check_lag(
            cloudwatch_lag(clients, workload), lag_threshold_s, "CloudWatch"),
         "check the replication metrics"),
    ]
    if probe_error is not None:
        checks.append(("replication lag (canary)", lambda: _probe_crashed(probe_error), ""))
    elif canary_lag is not None:
        checks.append(("replication lag (canary)",
                       lambda: _canary_lag_check(canary_lag, lag_threshold_s),
                       "check replication"))
    checks.append(("no other drill running", lambda: CheckResult(
        "no other drill running", "fail" if lock_holder else "pass",
        lock_holder or "the environment's drill lock is free",
        "wait for the other drill, or let its lock expire" if lock_holder else ""), ""))
    return run_checks(checks)


def _canary_lag_check(canary_lag: dict[str, float | None] | Callable[[], dict[str, float | None]],
                      lag_threshold_s: float) -> CheckResult:
    try:
        lag = canary_lag() if callable(canary_lag) else canary_lag
    except Exception as exc:
        return _probe_crashed(f"{type(exc).__name__}: {exc}")
    return check_lag(lag, lag_threshold_s, "canary")


def _probe_crashed(error: str) -> CheckResult:
    return CheckResult(
        "replication lag (canary)", "fail", f"the canary probe crashed: {error}"[:400],
        "fix what the probe's error names (stores reachable through the application's name), "
        "then check again")
