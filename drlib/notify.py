"""The drill's closing summary, published to the DR notification topic.

The message says what an on-call engineer needs first: scenario, environment, verdict, RTO and
RPO per store against target, and where the evidence is. It is published to the primary
region's DR topic, or the secondary's when the primary cannot take it (a region drill).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drlib.aws import AwsClients
from drlib.workload import Workload

log = logging.getLogger(__name__)


def summary_text(run_dir: Path, status: str, metrics: Mapping[str, Any]) -> str:
    """The closing summary as plain text."""
    measured = metrics.get("measured") or {}
    targets = metrics.get("targets") or {}
    rto = measured.get("rto_seconds")
    lines = [
        f"DR drill {metrics.get('scenario', '?')} on {metrics.get('environment', '?')} "
        f"({metrics.get('target', '?')}): {status.upper()}",
        f"RTO: {rto:.2f} s (target {targets.get('rto_seconds', '?')} s)"
        if isinstance(rto, int | float) else "RTO: not measured",
    ]
    for store, rpo in sorted((measured.get("rpo") or {}).items()):
        lines.append(f"RPO {store}: {rpo.get('lost_records')} lost records over "
                     f"{rpo.get('span_seconds', 0):.2f} s (target "
                     f"{targets.get('rpo_seconds', '?')} s)")
    failures = [f for f in (metrics.get("verdict") or {}).get("findings", [])
                if f.get("severity") == "failure"]
    lines += [f"FAILURE: {f.get('message')}" for f in failures]
    if metrics.get("error"):
        lines.append(f"error: {metrics['error']}")
    lines.append(f"evidence: {run_dir}")
    return "\n".join(lines)


def publish_summary(clients: AwsClients, workload: Workload, run_dir: Path, status: str,
                    metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """Publish the summary; returns what was sent (topic, message id), None with no topic."""
    topics = [t for t in (workload.sns_topic_arn, workload.extra.get("SecondaryTopicArn")) if t]
    if not topics:
        return None
    text = summary_text(run_dir, status, metrics)
    subject = f"DR drill {status.upper()}: {metrics.get('scenario', '')} on {workload.environment}"
    last_error: Exception | None = None
    for topic in topics:
        region = topic.split(":")[3]
        try:
            answer = clients.client("sns", region).publish(TopicArn=topic, Subject=subject[:100],
                                                           Message=text)
            return {"topic_arn": topic, "message_id": answer["MessageId"], "subject": subject,
                    "message": text}
        except Exception as exc:  # try the other region's topic
            log.warning("publishing to %s failed: %s", topic, exc)
            last_error = exc
    assert last_error is not None
    raise last_error
