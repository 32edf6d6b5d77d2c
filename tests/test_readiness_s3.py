"""Readiness of S3 replication: a rule and a replicated probe in each direction (two-way)."""

from __future__ import annotations

from typing import Any

from drlib.aws import AwsClients, RegionPair
from drlib.readiness import check_s3_replication
from drlib.workload import RegionalStack, Workload

DATA, REPLICA = "acme-dev-dr-data-1", "acme-dev-dr-replica-1"
ROLE = "arn:aws:iam::123456789012:role/replication"


def _workload(regions: RegionPair) -> Workload:
    def part(region: str, bucket: str) -> RegionalStack:
        return RegionalStack(region=region, cluster_id="c", bucket=bucket,
                             load_balancer_dns="lb", asg_name="asg")

    return Workload(environment="dev", regions=regions, global_cluster_id="g", table_name="t",
                    database_secret_arn="s", database_name="d", hosted_zone_id="z",
                    app_dns_name="app.example.com", primary=part(regions.primary, DATA),
                    secondary=part(regions.secondary, REPLICA))


def _rule(destination: str) -> dict[str, Any]:
    return {"ID": f"to-{destination}", "Priority": 1, "Status": "Enabled",
            "Filter": {"Prefix": ""}, "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}}


def test_replication_must_run_both_ways(aws: AwsClients, regions: RegionPair) -> None:
    """One-way replication fails readiness naming the missing rule back; with both rules a
    probe crosses each way and the check passes."""
    east, west = aws.client("s3", regions.primary), aws.client("s3", regions.secondary)
    east.create_bucket(Bucket=DATA)
    west.create_bucket(Bucket=REPLICA,
                       CreateBucketConfiguration={"LocationConstraint": regions.secondary})
    for client, bucket in ((east, DATA), (west, REPLICA)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    east.put_bucket_replication(Bucket=DATA, ReplicationConfiguration={
        "Role": ROLE, "Rules": [_rule(REPLICA)]})
    workload = _workload(regions)
    one_way = check_s3_replication(aws, workload, timeout_s=5)
    assert one_way.status == "fail"
    assert f"{REPLICA}: no enabled rule to {DATA}" in one_way.evidence
    west.put_bucket_replication(Bucket=REPLICA, ReplicationConfiguration={
        "Role": ROLE, "Rules": [_rule(DATA)]})
    both = check_s3_replication(aws, workload, timeout_s=5)
    assert both.status == "pass", both.evidence
    assert f"{DATA} -> {REPLICA}" in both.evidence
    assert f"{REPLICA} -> {DATA}" in both.evidence
