"""DR orchestrator Lambda: reacts to RDS failure and Aurora global-failover events.

On every event it describes the Aurora global cluster, publishes what happened and what the
global cluster looks like to the DR SNS topic, and - only when AUTO_START_FAILOVER is "true" and
the failing cluster is the global writer - starts the failover runbook (SSM Automation) in the
region of a secondary cluster, allowing data loss (the writer is impaired, so a switchover
cannot complete). The decisions are pure functions, unit-tested without AWS.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger()
log.setLevel(logging.INFO)

FAILURE_CATEGORIES = frozenset({"failure", "failover"})
GLOBAL_FAILOVER_CATEGORY = "global-failover"
SUBJECT_LIMIT = 100  # SNS rejects longer subjects


@dataclass(frozen=True)
class RdsEvent:
    """The fields of an EventBridge RDS event the orchestrator uses."""

    detail_type: str
    region: str
    time: str
    source_identifier: str
    source_type: str
    categories: tuple[str, ...]
    event_id: str
    message: str

    @property
    def is_cluster_event(self) -> bool:
        """True for events about a DB cluster (not an instance)."""
        return self.detail_type == "RDS DB Cluster Event" or self.source_type == "CLUSTER"


@dataclass(frozen=True)
class GlobalClusterState:
    """A global cluster as DescribeGlobalClusters reports it."""

    identifier: str
    status: str
    writer_arn: str | None
    secondary_arns: tuple[str, ...]
    failover_in_progress: bool


@dataclass(frozen=True)
class Decision:
    """What the orchestrator does about one event."""

    action: str  # "notify" or "start_failover"
    reason: str
    target_cluster_arn: str | None = None
    target_region: str | None = None


@dataclass(frozen=True)
class Settings:
    """The function's configuration, from its environment variables."""

    topic_arn: str
    global_cluster_id: str
    failover_document: str
    automation_role_prefix: str
    auto_start_failover: bool = False

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> Settings:
        """Read the settings; a missing required variable raises KeyError naming it."""
        return cls(topic_arn=environ["TOPIC_ARN"],
                   global_cluster_id=environ["GLOBAL_CLUSTER_ID"],
                   failover_document=environ["FAILOVER_DOCUMENT_NAME"],
                   automation_role_prefix=environ["AUTOMATION_ROLE_NAME_PREFIX"],
                   auto_start_failover=environ.get("AUTO_START_FAILOVER", "false").lower()
                   == "true")


def parse_event(event: dict[str, Any]) -> RdsEvent:
    """Extract an :class:`RdsEvent`; raise ValueError for anything that is not an RDS event."""
    if event.get("source") != "aws.rds" or not isinstance(event.get("detail"), dict):
        raise ValueError(f"not an RDS event: source={event.get('source')!r}")
    detail = event["detail"]
    return RdsEvent(detail_type=str(event.get("detail-type", "")),
                    region=str(event.get("region", "")),
                    time=str(event.get("time", "")),
                    source_identifier=str(detail.get("SourceIdentifier", "")),
                    source_type=str(detail.get("SourceType", "")),
                    categories=tuple(str(c) for c in detail.get("EventCategories") or ()),
                    event_id=str(detail.get("EventID", "")),
                    message=str(detail.get("Message", "")))


def summarize_global_cluster(response: dict[str, Any]) -> GlobalClusterState:
    """Reduce a DescribeGlobalClusters response for one global cluster to its state."""
    clusters = response.get("GlobalClusters") or []
    if len(clusters) != 1:
        raise ValueError(f"expected one global cluster, found {len(clusters)}")
    cluster = clusters[0]
    members = cluster.get("GlobalClusterMembers") or []
    writers = [m["DBClusterArn"] for m in members if m.get("IsWriter")]
    return GlobalClusterState(
        identifier=str(cluster.get("GlobalClusterIdentifier", "")),
        status=str(cluster.get("Status", "")),
        writer_arn=writers[0] if writers else None,
        secondary_arns=tuple(sorted(m["DBClusterArn"] for m in members if not m.get("IsWriter"))),
        failover_in_progress=bool(cluster.get("FailoverState")))


def arn_parts(arn: str) -> dict[str, str]:
    """Partition, region, account and resource id of an RDS cluster ARN."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "rds":
        raise ValueError(f"not an RDS ARN: {arn!r}")
    return {"partition": parts[1], "region": parts[3], "account": parts[4],
            "resource": ":".join(parts[6:])}


def decide(event: RdsEvent, state: GlobalClusterState, auto_start_failover: bool) -> Decision:
    """Choose between notifying only and starting the failover runbook."""
    if GLOBAL_FAILOVER_CATEGORY in event.categories:
        return Decision("notify", "global failover or switchover event: already under way")
    if not FAILURE_CATEGORIES.intersection(event.categories):
        return Decision("notify", f"categories {list(event.categories)} need no action")
    if not event.is_cluster_event:
        return Decision("notify", "instance event: Aurora replaces or fails over the instance")
    if state.writer_arn is None:
        return Decision("notify", "the global cluster has no writer; operator decision needed")
    if arn_parts(state.writer_arn)["resource"] != event.source_identifier:
        return Decision("notify", f"{event.source_identifier} is not the global writer")
    if state.failover_in_progress:
        return Decision("notify", "a global failover is already in progress")
    if not state.secondary_arns:
        return Decision("notify", "the global cluster has no secondary to promote")
    if not auto_start_failover:
        return Decision("notify", "writer cluster failure; AUTO_START_FAILOVER is off, "
                                  "run the failover runbook after assessment")
    target = state.secondary_arns[0]
    return Decision("start_failover", "writer cluster failure with automatic failover on",
                    target_cluster_arn=target, target_region=arn_parts(target)["region"])


def automation_parameters(settings: Settings, state: GlobalClusterState,
                          decision: Decision) -> dict[str, list[str]]:
    """Parameters of the failover runbook execution for ``decision``."""
    if decision.target_cluster_arn is None or decision.target_region is None:
        raise ValueError("decision has no failover target")
    target = arn_parts(decision.target_cluster_arn)
    role = (f"arn:{target['partition']}:iam::{target['account']}:role/"
            f"{settings.automation_role_prefix}{decision.target_region}")
    return {"GlobalClusterIdentifier": [state.identifier],
            "TargetDbClusterArn": [decision.target_cluster_arn],
            "AllowDataLoss": ["true"],
            "AutomationAssumeRole": [role]}


def notification(event: RdsEvent, state: GlobalClusterState | None, decision: Decision,
                 execution_id: str | None = None) -> tuple[str, str]:
    """Subject (at most 100 characters) and JSON body of the DR notification."""
    subject = f"DR {decision.action}: {event.source_identifier} {','.join(event.categories)}"
    body = {"event": asdict(event), "decision": asdict(decision),
            "global_cluster": asdict(state) if state else None,
            "automation_execution_id": execution_id}
    return subject[:SUBJECT_LIMIT], json.dumps(body, indent=2, sort_keys=True)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge entry point."""
    import boto3  # the vendored copy; imported here so the pure logic imports without it

    settings = Settings.from_environ(dict(os.environ))
    rds_event = parse_event(event)
    rds = boto3.client("rds")
    state = summarize_global_cluster(
        rds.describe_global_clusters(GlobalClusterIdentifier=settings.global_cluster_id))
    decision = decide(rds_event, state, settings.auto_start_failover)
    log.info("event %s on %s in %s: %s (%s)", rds_event.event_id, rds_event.source_identifier,
             rds_event.region, decision.action, decision.reason)
    execution_id = None
    if decision.action == "start_failover":
        ssm = boto3.client("ssm", region_name=decision.target_region)
        execution_id = ssm.start_automation_execution(
            DocumentName=settings.failover_document,
            Parameters=automation_parameters(settings, state, decision))["AutomationExecutionId"]
        log.info("started %s in %s: %s", settings.failover_document, decision.target_region,
                 execution_id)
    subject, body = notification(rds_event, state, decision, execution_id)
    boto3.client("sns").publish(TopicArn=settings.topic_arn, Subject=subject, Message=body)
    return {"action": decision.action, "reason": decision.reason,
            "automation_execution_id": execution_id}
