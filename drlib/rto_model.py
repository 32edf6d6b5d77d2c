"""The RTO clients would see on AWS, modelled from the deployed configuration.

A local drill measures the emulator; this module says what the same configuration gives on AWS,
component by component, each with its source, so the two can be read side by side (notebook 20,
the report, ``drlib drill --dry-run``) and an environment whose model already exceeds its target
is flagged before any drill (readiness), naming the setting to change.

The client-visible write outage is built from:

* **detection**: Route 53 marks the primary unhealthy after FailureThreshold checks, one every
  RequestInterval seconds (``health_check_interval`` x ``health_check_failure_threshold``);
* **DNS TTL**: clients keep the old answer for the record's TTL (60 s for an alias to a load
  balancer: Route 53 uses the load balancer's TTL);
* **database**: the global database's switchover or failover, AWS's published "under a minute"
  (60 s, the figure the verdict uses);
* **app tier**: 0 s while the warm standby runs at least one instance (``secondary_asg_desired``);
  otherwise an instance launch, warm-up and health-check grace.

Planned switchover: the database switch and the DNS move run together, so the outage is the
longer of the two. Unplanned failover: the outage is detected first, then the database fails over
while resolvers' caches expire: detection + max(database, TTL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from drlib.references import ROUTE53_ALIAS
from drlib.verdict import DnsReference, published_figures, targets_for

ALIAS_TTL_S = 60
"""Route 53 answers an alias to a load balancer with the load balancer's TTL, 60 s."""
COLD_APP_TIER_S = 300.0
"""An instance launch, warm-up and the Auto Scaling health-check grace (the app template's
HealthCheckGracePeriod, 300 s): what clients wait when the standby runs no instance."""


@dataclass(frozen=True)
class Component:
    """One part of the modelled RTO: seconds, where the number comes from, what changes it."""

    name: str
    seconds: float
    source: str
    setting: str


@dataclass(frozen=True)
class RtoModel:
    """The modelled client-visible RTO on AWS for one scenario, against the target."""

    scenario: str
    components: tuple[Component, ...]
    total_s: float
    formula: str
    target_s: float

    @property
    def exceeds_target(self) -> bool:
        return self.total_s > self.target_s

    def to_metrics(self) -> dict[str, Any]:
        """The ``rto_model`` block of metrics.json."""
        return {"scenario": self.scenario, "total_s": self.total_s, "formula": self.formula,
                "target_s": self.target_s, "exceeds_target": self.exceeds_target,
                "components": [vars(c) for c in self.components]}

    def lines(self) -> list[str]:
        """The model as a person reads it: the total, the formula, each component."""
        verdict = "EXCEEDS" if self.exceeds_target else "within"
        head = (f"modelled RTO on AWS ({self.scenario}): {self.total_s:.0f} s = {self.formula}; "
                f"{verdict} the target {self.target_s:.0f} s")
        return [head, *(f"  {c.name}: {c.seconds:.0f} s ({c.source}; change: {c.setting})"
                        for c in self.components)]


def from_metrics(block: Mapping[str, Any]) -> RtoModel:
    """The model back from metrics.json's ``rto_model`` block."""
    return RtoModel(str(block["scenario"]),
                    tuple(Component(**c) for c in block.get("components") or []),
                    float(block["total_s"]), str(block["formula"]), float(block["target_s"]))


def model_rto(scenario: str, dns: DnsReference, secondary_desired: int, target_s: float,
              ttl_source: str | None = None) -> RtoModel:
    """The modelled RTO of ``scenario`` (pure: every input is given)."""
    database = published_figures(dns=dns)["aurora_rto"]
    detection = Component(
        "detection", float(dns.request_interval * dns.failure_threshold),
        f"Route 53: RequestInterval {dns.request_interval} s x FailureThreshold "
        f"{dns.failure_threshold}", "health_check_interval, health_check_failure_threshold")
    ttl = Component("DNS TTL", float(dns.ttl), ttl_source or dns.source,
                    "the failover record's TTL (an alias takes the load balancer's 60 s)")
    db = Component(f"database {'switchover' if scenario == 'planned-switchover' else 'failover'}",
                   float(database.value_seconds or 60.0),
                   f"AWS: {database.statement} ({', '.join(database.sources)})",
                   "none in the templates (an Aurora property)")
    warm = secondary_desired >= 1
    app = Component("app tier", 0.0 if warm else COLD_APP_TIER_S,
                    f"warm standby of {secondary_desired} instance(s) already serves" if warm
                    else "no standby instance: launch, warm-up and 300 s health-check grace",
                    "secondary_asg_desired")
    if scenario == "planned-switchover":
        total = max(db.seconds, detection.seconds + ttl.seconds) + app.seconds
        formula = "max(database, detection + TTL) + app tier"
    else:
        total = detection.seconds + max(db.seconds, ttl.seconds) + app.seconds
        formula = "detection + max(database, TTL) + app tier"
    return RtoModel(scenario, (detection, ttl, db, app), total, formula, target_s)


def model_from_settings(environment: str, variables: Mapping[str, Any], scenario: str
                        ) -> RtoModel:
    """The model from an environment's var file (before anything is deployed)."""
    interval = int(variables.get("health_check_interval", 30))
    threshold = int(variables.get("health_check_failure_threshold", 3))
    dns = DnsReference(interval, threshold, ALIAS_TTL_S,
                       source=f"var file: health_check_interval {interval} s, "
                              f"health_check_failure_threshold {threshold}")
    return model_rto(scenario, dns, int(variables.get("secondary_asg_desired", 1)),
                     targets_for(environment).rto_seconds,
                     ttl_source=f"alias to a load balancer: Route 53 answers with its "
                                f"{ALIAS_TTL_S} s TTL ({ROUTE53_ALIAS})")


def check_modelled_rto(model: RtoModel) -> tuple[Literal["pass", "fail"], str, str]:
    """A readiness verdict on the model: (status, evidence, remedy)."""
    evidence = "; ".join(model.lines())[:900]
    if not model.exceeds_target:
        return "pass", evidence, ""
    largest = max(model.components, key=lambda c: c.seconds)
    return ("fail", evidence,
            f"the modelled RTO on AWS exceeds the target before any drill: reduce "
            f"{largest.name} ({largest.setting}) or revisit the target")
