"""The drill's closing summary on the DR topic."""

from __future__ import annotations

from pathlib import Path

from drlib.aws import AwsClients, RegionPair
from drlib.notify import publish_summary, summary_text
from drlib.workload import RegionalStack, Workload

METRICS = {
    "scenario": "unplanned-failover", "environment": "dev", "target": "local",
    "targets": {"rto_seconds": 900, "rpo_seconds": 60},
    "measured": {"rto_seconds": 21.5, "rpo": {"aurora": {"lost_records": 3,
                                                         "span_seconds": 0.4}}},
    "verdict": {"findings": [{"severity": "failure", "message": "RPO over target"},
                             {"severity": "info", "message": "lag fine"}]},
}


def test_summary_says_verdict_rto_rpo_and_where_the_evidence_is() -> None:
    """The text names the verdict, RTO and RPO against target, failures and the folder."""
    text = summary_text(Path("/runs/x"), "failed", METRICS)
    assert text.splitlines()[0] == "DR drill unplanned-failover on dev (local): FAILED"
    assert "RTO: 21.50 s (target 900 s)" in text
    assert "RPO aurora: 3 lost records over 0.40 s (target 60 s)" in text
    assert "FAILURE: RPO over target" in text
    assert "lag fine" not in text
    assert text.endswith("evidence: /runs/x")


def test_published_to_the_topic(aws: AwsClients) -> None:
    """The summary is published to the DR topic and the message id returned."""
    topic = aws.client("sns", "us-east-1").create_topic(Name="dr")["TopicArn"]
    part = RegionalStack("us-east-1", "c", "b", "lb", "asg")
    workload = Workload("dev", RegionPair(), "g", "t", "s", "postgres", "z", "app", part, part,
                        sns_topic_arn=topic)
    record = publish_summary(aws, workload, Path("/runs/x"), "passed", METRICS)
    assert record is not None
    assert record["topic_arn"] == topic
    assert record["message_id"]
