"""Targets per environment, AWS's published figures, and the drill verdict.

The verdict compares what a drill measured (:mod:`drlib.measure`) with the environment's targets
and with what AWS publishes for the services involved. It is a pure function: the same inputs
always give the same findings, whichever target the drill ran against.

AWS's figures, each checked against the AWS documentation cited in :func:`published_figures`:

- aurora_lag: Aurora replicates to secondary Regions "with a typical latency of under a
  second"; compared as 1 s with the median canary lag.
- aurora_rto: "RTO can be in the order of minutes"; compared as 60 s (see below).
- aurora_switchover_rpo: a switchover synchronises the secondaries first, "RPO is 0"; compared
  as 0 lost records in every store.
- aurora_failover_rpo: unplanned failover "RPO is typically measured in seconds"; no number.
- dynamodb_lag: ReplicationLatency is published in ms and "should be fairly constant"; AWS
  publishes no numeric bound, 1 s is this project's design figure (median canary lag).
- s3_rtc: S3 RTC replicates "most objects ... in seconds, and 99.99 percent ... within 15
  minutes"; compared as 900 s with the maximum canary lag.
- route53_failover: health checks every 10 or 30 s, unhealthy after FailureThreshold consecutive
  failures, answers cached for the record's TTL: interval x threshold + TTL.

Why 60 s for Aurora's RTO: AWS gives no number ("minutes"). A comparison needs one; the AWS
Well-Architected disaster-recovery lab states that a secondary Region can be promoted "in under a
minute", so 60 s is what a managed failover/switchover can be expected to reach. Exceeding it is a
warning, never a failure: the environment's own RTO target decides pass or fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from drlib.errors import ConfigError
from drlib.measure import RpoResult, RtoResult, lag_statistics_to_metrics
from drlib.write_outcomes import RpoEvidence, WriteCounts, WriteOutage

Severity = Literal["info", "warning", "failure"]
SCENARIOS: tuple[str, ...] = ("planned-switchover", "unplanned-failover", "data-corruption")


@dataclass(frozen=True)
class Targets:
    """What an environment requires of a drill."""

    rto_seconds: float
    rpo_seconds: float
    lag_threshold_seconds: float
    rpo_evidence_required: bool = True
    """Whether an RPO "not tested" (too few writes in flight) fails the drill (else warns)."""

    def to_metrics(self) -> dict[str, float | bool]:
        """The ``targets`` block of metrics.json."""
        return asdict(self)


#: Default targets per environment. Lag thresholds sit below each RPO target: replication lag
#: is the data a region loss would take with it.
DEFAULT_TARGETS: Mapping[str, Targets] = {
    "dev": Targets(rto_seconds=900, rpo_seconds=60, lag_threshold_seconds=5,
                   rpo_evidence_required=False),
    "staging": Targets(rto_seconds=600, rpo_seconds=30, lag_threshold_seconds=3),
    "prod": Targets(rto_seconds=300, rpo_seconds=5, lag_threshold_seconds=2),
}


def targets_for(environment: str, overrides: Mapping[str, float] | None = None,
                table: Mapping[str, Targets] = DEFAULT_TARGETS) -> Targets:
    """The environment's targets, with any field overridden (e.g. ``{"rto_seconds": 120}``)."""
    if environment not in table:
        raise ConfigError(
            f"No targets for environment {environment!r}",
            expected=" | ".join(table), found=repr(environment),
            fix="use one of the known environments or pass your own table",
        )
    targets = table[environment]
    if overrides:
        unknown = set(overrides) - {"rto_seconds", "rpo_seconds", "lag_threshold_seconds"}
        if unknown:
            raise ConfigError(
                f"Unknown target override {sorted(unknown)}",
                expected="rto_seconds, rpo_seconds, lag_threshold_seconds",
                found=", ".join(sorted(unknown)), fix="correct the override names",
            )
        bad = {k: v for k, v in overrides.items() if not float(v) >= 0}
        if bad:
            raise ConfigError(f"Negative or NaN target override {bad}",
                              expected="seconds >= 0", found=repr(bad),
                              fix="give every target in seconds, zero or more")
        seconds: dict[str, Any] = {k: float(v) for k, v in overrides.items()}
        targets = replace(targets, **seconds)
    return targets


#: Where a reference figure comes from: AWS's documentation, arithmetic over what is deployed
#: (with AWS's documented rules), or this project's own design figure (not AWS's).
AWS_DOCUMENTATION = "AWS documentation"
DEPLOYMENT = "derived from the deployment"
PROJECT_DESIGN = "project design figure"
ORIGIN_LABELS: Mapping[str, str] = {AWS_DOCUMENTATION: "AWS", DEPLOYMENT: "deployed",
                                    PROJECT_DESIGN: "design"}


@dataclass(frozen=True)
class PublishedFigure:
    """One reference figure, where it comes from, and the number drlib compares with."""

    key: str
    service: str
    metric: str
    statement: str
    value_seconds: float | None
    sources: tuple[str, ...]
    note: str = ""
    origin: str = AWS_DOCUMENTATION

    @property
    def label(self) -> str:
        """Short label for charts and messages: AWS, deployed or design."""
        return ORIGIN_LABELS.get(self.origin, self.origin)


@dataclass(frozen=True)
class DnsReference:
    """What the deployment's DNS failover is made of, and where each number was read."""

    request_interval: int = 30
    failure_threshold: int = 3
    ttl: int = 60
    source: str = ("AWS defaults (RequestInterval 30 s, FailureThreshold 3); TTL 60 s, the TTL "
                   "Route 53 gives an alias to a load balancer")


AURORA_GLOBAL = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html"
AURORA_DR = ("https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
             "aurora-global-database-disaster-recovery.html")
AURORA_SWITCHOVER_API = ("https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/"
                         "API_SwitchoverGlobalCluster.html")
WA_DR_LAB = ("https://wellarchitectedlabs.com/reliability/disaster-recovery/workshop_3/"
             "3-failover/3.1-aurora/")
DYNAMODB_MONITORING = ("https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                       "V2globaltables_monitoring.html")
S3_RTC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html"
ROUTE53_HEALTH = ("https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
                  "dns-failover-determining-health-of-endpoints.html")
ROUTE53_FAILOVER_TTL = ("https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
                        "resource-record-sets-values-failover.html")


def route53_failover_seconds(request_interval: int = 30, failure_threshold: int = 3,
                             ttl: int = 60) -> float:
    """Worst-case time for clients to follow a Route 53 failover record.

    The health check turns unhealthy after ``failure_threshold`` consecutive failed checks made
    every ``request_interval`` seconds (10 or 30); resolvers may then serve the cached answer for
    up to ``ttl`` seconds.
    """
    if request_interval not in (10, 30):
        raise ConfigError(f"Route 53 RequestInterval {request_interval} is not possible",
                          expected="10 or 30", found=str(request_interval),
                          fix="use the health check's configured RequestInterval")
    if not 1 <= failure_threshold <= 10:
        raise ConfigError(f"Route 53 FailureThreshold {failure_threshold} is out of range",
                          expected="1 to 10", found=str(failure_threshold),
                          fix="use the health check's configured FailureThreshold")
    if ttl < 0:
        raise ConfigError(f"Negative TTL {ttl}", expected="TTL >= 0", found=str(ttl),
                          fix="use the failover record's TTL")
    return float(request_interval * failure_threshold + ttl)


def published_figures(request_interval: int = 30, failure_threshold: int = 3,
                      ttl: int = 60, *, dns: DnsReference | None = None
                      ) -> dict[str, PublishedFigure]:
    """The reference figures: AWS's published ones, the project's design figure for DynamoDB's
    lag (labelled as such), and Route 53's derived from the deployed health check and record TTL
    (``dns``, read by :func:`drlib.references.dns_reference`; without it AWS's defaults,
    RequestInterval 30 s and FailureThreshold 3, and TTL 60 s, and the figure says so)."""
    if dns is None:
        dns = DnsReference(request_interval, failure_threshold, ttl)
        origin = DEPLOYMENT if (request_interval, failure_threshold, ttl) != (30, 3, 60) \
            else AWS_DOCUMENTATION
    else:
        origin = DEPLOYMENT
    request_interval, failure_threshold, ttl = dns.request_interval, dns.failure_threshold, \
        dns.ttl
    r53 = route53_failover_seconds(request_interval, failure_threshold, ttl)
    figures = [
        PublishedFigure(
            "aurora_lag", "Aurora global database", "replication lag",
            "Aurora replicates data to the secondary Regions with a typical latency of under a "
            "second", 1.0, (AURORA_GLOBAL,), "compared with the median canary lag"),
        PublishedFigure(
            "aurora_rto", "Aurora global database", "RTO",
            "RTO can be in the order of minutes; a secondary Region can be promoted in under a "
            "minute", 60.0, (AURORA_DR, WA_DR_LAB),
            "AWS gives no number; 60 s from the DR lab's 'under a minute'. Exceeding it is a "
            "warning only"),
        PublishedFigure(
            "aurora_switchover_rpo", "Aurora global database", "RPO (switchover)",
            "switchover synchronises secondaries with the primary first, so RPO is 0 (no data "
            "loss)", 0.0, (AURORA_DR, AURORA_SWITCHOVER_API), "0 lost records in every store"),
        PublishedFigure(
            "aurora_failover_rpo", "Aurora global database", "RPO (unplanned failover)",
            "RPO is typically measured in seconds, depending on the replication lag at the time "
            "of the failure", None, (AURORA_DR,), "no number published"),
        PublishedFigure(
            "dynamodb_lag", "DynamoDB global tables", "replication lag",
            "ReplicationLatency (ms, per Region pair) should be fairly constant during normal "
            "operation", 1.0, (DYNAMODB_MONITORING,),
            "AWS publishes no numeric bound; 1 s is this project's design figure ('usually "
            "within about a second'), compared with the median canary lag",
            origin=PROJECT_DESIGN),
        PublishedFigure(
            "s3_rtc", "S3 Replication Time Control", "replication time",
            "S3 RTC replicates most objects in seconds, and 99.99 percent of them within 15 "
            "minutes", 900.0, (S3_RTC,), "compared with the maximum canary lag"),
        PublishedFigure(
            "route53_failover", "Route 53 failover routing", "time to fail over DNS",
            f"health checks every 10 or 30 s; unhealthy after FailureThreshold consecutive "
            f"failures; answers cached for the TTL: {request_interval} s x {failure_threshold} "
            f"+ {ttl} s", r53, (ROUTE53_HEALTH, ROUTE53_FAILOVER_TTL),
            f"part of the RTO when clients reach the application through DNS; read from: "
            f"{dns.source}", origin=origin),
    ]
    return {f.key: f for f in figures}


#: Which published figure each store's lag is compared with, and on which statistic.
LAG_FIGURES: Mapping[str, tuple[str, str]] = {
    "aurora": ("aurora_lag", "median_s"), "dynamodb": ("dynamodb_lag", "median_s"),
    "s3": ("s3_rtc", "max_s"),
}

#: The lag statistic held against the environment's lag threshold.
LAG_THRESHOLD_STATISTIC = "p99_s"


@dataclass(frozen=True)
class Finding:
    """One check's result, with the numbers behind it."""

    severity: Severity
    check: str
    message: str
    store: str | None = None
    measured: float | None = None
    target: float | None = None
    published: float | None = None


@dataclass(frozen=True)
class Verdict:
    """Passed when no finding is a failure."""

    passed: bool
    findings: tuple[Finding, ...]

    def failures(self) -> list[Finding]:
        """The failure findings."""
        return [f for f in self.findings if f.severity == "failure"]

    def to_metrics(self) -> dict[str, Any]:
        """The ``verdict`` block of metrics.json."""
        return {"passed": self.passed, "findings": [asdict(f) for f in self.findings]}


@dataclass(frozen=True)
class Measured:
    """What a drill measured: RTO overall (the slowest store; None if not measured) and per
    store, RPO per store with the writes it rests on, every write counted, the write outage,
    lag statistics."""

    rto: RtoResult | None
    rpo: Mapping[str, RpoResult]
    lag: pd.DataFrame
    extra: Mapping[str, Any] = field(default_factory=dict)
    rto_per_store: Mapping[str, RtoResult] = field(default_factory=dict)
    writes: Mapping[str, WriteCounts] = field(default_factory=dict)
    write_outage: Mapping[str, WriteOutage] = field(default_factory=dict)
    rpo_evidence: Mapping[str, RpoEvidence] = field(default_factory=dict)

    def rpo_tested(self, store: str) -> bool:
        """Whether ``store``'s RPO rests on enough writes in flight (True when not assessed)."""
        evidence = self.rpo_evidence.get(store)
        return evidence is None or evidence.tested

    def to_metrics(self) -> dict[str, Any]:
        """The ``measured`` block of metrics.json."""
        return {
            "rto_seconds": None if self.rto is None or self.rto.seconds is None
            else round(self.rto.seconds, 6),
            "rto": None if self.rto is None else self.rto.to_metrics(),
            "rto_per_store": {s: r.to_metrics() for s, r in self.rto_per_store.items()},
            "rpo": {store: {**r.to_metrics(),
                            "tested": self.rpo_tested(store)} for store, r in self.rpo.items()},
            "rpo_evidence": {s: e.to_metrics() for s, e in self.rpo_evidence.items()},
            "writes": {s: c.to_metrics() for s, c in self.writes.items()},
            "write_outage": {s: o.to_metrics() for s, o in self.write_outage.items()},
            "lag": lag_statistics_to_metrics(self.lag),
            **dict(self.extra),
        }


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def evaluate(targets: Targets, measured: Measured, scenario: str,
             figures: Mapping[str, PublishedFigure] | None = None) -> Verdict:
    """The drill's verdict: RTO, RPO and lag against the targets, with AWS's figures quoted."""
    if scenario not in SCENARIOS:
        raise ConfigError(f"Unknown scenario {scenario!r}", expected=" | ".join(SCENARIOS),
                          found=repr(scenario), fix="use one of the drill scenarios")
    figures = published_figures() if figures is None else figures
    findings = [_rto_finding(targets, measured.rto, figures, scenario)]
    findings += _rpo_findings(targets, measured, scenario, figures)
    findings += _write_findings(measured)
    findings += _lag_findings(targets, measured.lag, figures)
    return Verdict(passed=not any(f.severity == "failure" for f in findings),
                   findings=tuple(findings))


def _rto_finding(targets: Targets, rto: RtoResult | None,
                 figures: Mapping[str, PublishedFigure], scenario: str = "") -> Finding:
    if scenario == "data-corruption":  # a restore: no failover figure applies
        return _restore_rto_finding(targets, rto)
    aws = figures["aurora_rto"].value_seconds
    if rto is None or rto.seconds is None:
        reason = "the drill did not measure it" if rto is None else rto.reason
        return Finding("failure", "rto", f"RTO not measured: {reason}; target "
                       f"{_s(targets.rto_seconds)}", target=targets.rto_seconds, published=aws)
    common = (f"RTO {_s(rto.seconds)}, slowest store {rto.store} (target "
              f"{_s(targets.rto_seconds)}; AWS: 'minutes', compared with {_s(aws)}")
    dns = figures.get("route53_failover")
    if dns is not None and dns.value_seconds is not None:
        common += f"; DNS failover as {dns.label}: {_s(dns.value_seconds)}"
    common += ")"
    if rto.seconds > targets.rto_seconds:
        severity: Severity = "failure"
        message = f"{common}: over the target"
    elif aws is not None and rto.seconds > aws:
        severity, message = "warning", f"{common}: within target, slower than AWS's figure"
    else:
        severity, message = "info", f"{common}: within target"
    return Finding(severity, "rto", message, store=rto.store, measured=rto.seconds,
                   target=targets.rto_seconds, published=aws)


def _restore_rto_finding(targets: Targets, rto: RtoResult | None) -> Finding:
    if rto is None or rto.seconds is None:
        reason = "the drill did not measure it" if rto is None else rto.reason
        return Finding("failure", "rto", f"RTO not measured: {reason}; target "
                       f"{_s(targets.rto_seconds)}", target=targets.rto_seconds)
    over = rto.seconds > targets.rto_seconds
    return Finding("failure" if over else "info", "rto",
                   f"RTO {_s(rto.seconds)}, slowest store {rto.store}: disaster declared to the "
                   f"restored data readable (target {_s(targets.rto_seconds)}; AWS publishes no "
                   f"restore duration, it grows with the data restored): "
                   f"{'over' if over else 'within'} target",
                   store=rto.store, measured=rto.seconds, target=targets.rto_seconds)


def _rpo_findings(targets: Targets, measured: Measured, scenario: str,
                  figures: Mapping[str, PublishedFigure]) -> list[Finding]:
    rpo = measured.rpo
    if not rpo:
        return [Finding("failure", "rpo", "RPO not measured: no store was reconciled",
                        target=targets.rpo_seconds)]
    planned = scenario == "planned-switchover"
    figure = figures["aurora_switchover_rpo" if planned else "aurora_failover_rpo"]
    findings = []
    for store, result in rpo.items():
        lost = f"{result.lost_records} of {result.acknowledged} acknowledged records lost"
        if result.lost_records:
            lost += f" (seq {_seq_list(result.lost_seqs)}), spanning {_s(result.span_seconds)}"
        evidence = measured.rpo_evidence.get(store)
        if evidence is not None and not evidence.tested and not result.lost_records:
            # No loss found, but too few writes were in flight to have seen one: no claim.
            untested: Severity = "failure" if targets.rpo_evidence_required else "warning"
            consequence = ("fails the drill in this environment"
                           if targets.rpo_evidence_required else "a warning in this environment")
            findings.append(Finding(
                untested, "rpo", f"{store}: RPO not tested: {evidence.reason}; {lost} says "
                f"nothing about writes in flight ({consequence})", store=store,
                target=0.0 if planned else targets.rpo_seconds,
                published=figure.value_seconds))
            continue
        if planned:
            severity: Severity = "failure" if result.lost_records else "info"
            message = (f"{store}: {lost}; a planned switchover must lose none (AWS: switchover "
                       f"RPO 0)")
            findings.append(Finding(severity, "rpo", message, store=store,
                                    measured=float(result.lost_records), target=0.0,
                                    published=figure.value_seconds))
            continue
        over = result.span_seconds > targets.rpo_seconds
        severity = "failure" if over else "info"
        reference = ("restored from the recovery point before the corruption"
                     if scenario == "data-corruption" else
                     "AWS: unplanned failover RPO 'typically seconds'")
        message = (f"{store}: {lost}; target {_s(targets.rpo_seconds)} "
                   f"({'over' if over else 'within'} target; {reference})")
        findings.append(Finding(severity, "rpo", message, store=store,
                                measured=result.span_seconds, target=targets.rpo_seconds,
                                published=figure.value_seconds))
    return findings


def _write_findings(measured: Measured) -> list[Finding]:
    """Every write counted, and the outage clients saw, per store (information)."""
    findings = []
    for store, counts in measured.writes.items():
        rejected = ", ".join(f"{n} {cls}" for cls, n in counts.rejected.items())
        text = (f"{store}: {counts.attempted} writes attempted, {counts.acknowledged} "
                f"acknowledged, {counts.rejected_total} rejected"
                f"{f' ({rejected})' if rejected else ''}, {counts.timed_out} timed out")
        outage = measured.write_outage.get(store)
        if outage is not None and outage.seconds is not None:
            text += (f"; write outage {_s(outage.seconds)} from {outage.last_ack_region} "
                     f"#{outage.last_ack_seq} to {outage.first_ack_region} "
                     f"#{outage.first_ack_seq} ({outage.failed_attempts} failed attempts "
                     f"in between; resolution {_s(outage.resolution_s)})")
        elif outage is not None:
            text += f"; write outage not measured: {outage.reason}"
        findings.append(Finding("info", "writes", text, store=store,
                                measured=None if outage is None else outage.seconds))
    return findings


def _seq_list(seqs: tuple[int, ...], limit: int = 10) -> str:
    shown = ", ".join(str(s) for s in seqs[:limit])
    return shown + (f", ... ({len(seqs) - limit} more)" if len(seqs) > limit else "")


def _lag_findings(targets: Targets, lag: pd.DataFrame,
                  figures: Mapping[str, PublishedFigure]) -> list[Finding]:
    findings = []
    for store, row in lag.iterrows():
        store = str(store)
        if int(row["count"]) == 0:
            findings.append(Finding("warning", "lag", f"{store}: no replication lag samples "
                                    f"(no canary reached the other region)", store=store,
                                    target=targets.lag_threshold_seconds))
            continue
        p99 = float(row[LAG_THRESHOLD_STATISTIC])
        figure_key, statistic = LAG_FIGURES.get(store, ("", "median_s"))
        figure = figures.get(figure_key)
        aws = None if figure is None else figure.value_seconds
        compared = float(row[statistic])
        text = (f"{store}: lag p99 {_s(p99)}, median {_s(float(row['median_s']))}, max "
                f"{_s(float(row['max_s']))} over {int(row['count'])} canaries"
                f"{_resolution(row)} (threshold "
                f"{_s(targets.lag_threshold_seconds)} on p99")
        label = "AWS" if figure is None else figure.label
        text += (f"; {label}: {_s(aws)} on {statistic.removesuffix('_s')})" if aws is not None
                 else ")")
        if p99 > targets.lag_threshold_seconds:
            severity: Severity = "failure"
            text += ": over the threshold"
        elif aws is not None and not math.isnan(compared) and compared > aws:
            severity = "warning"
            text += f": within the threshold, above the {label} figure"
        else:
            severity = "info"
            text += ": within the threshold"
        findings.append(Finding(severity, "lag", text, store=store, measured=p99,
                                target=targets.lag_threshold_seconds, published=aws))
    return findings


def _resolution(row: Any) -> str:
    value = row.get("resolution_s") if hasattr(row, "get") else None
    if value is None or math.isnan(float(value)):
        return ""
    return f", each arrival timed to within {_s(float(value))} (median)"


def figures_to_metrics(figures: Mapping[str, PublishedFigure]) -> dict[str, Any]:
    """The ``published_figures`` block of metrics.json."""
    return {key: {**asdict(f), "sources": list(f.sources)} for key, f in figures.items()}
