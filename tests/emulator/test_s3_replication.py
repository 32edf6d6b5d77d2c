"""S3 cross-region replication in the emulator: rules, statuses, faults, metrics."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drlib.aws import AwsClients, RegionPair
from drlib.emulator import faults
from drlib.emulator.extensions.s3_replication import (
    ReplicationRule,
    parse_rule,
    rules_for_delete_marker,
    rules_for_object,
)
from drlib.emulator.replication_queue import queue
from drlib.waiting import wait_until

SOURCE = "app-data-east"
DESTINATION = "app-data-west"
ROLE = "arn:aws:iam::123456789012:role/replication"


# --- the rules, as pure data --------------------------------------------------------------------

def _rule(**overrides: Any) -> ReplicationRule:
    fields: dict[str, Any] = {
        "rule_id": "r", "priority": 1, "enabled": True, "prefix": "", "tags": (),
        "delete_markers": True, "destination_bucket": "dst", "storage_class": None,
        "metrics": False}
    fields.update(overrides)
    return ReplicationRule(**fields)


@pytest.mark.parametrize(("stored", "expected"), [
    ({"ID": "a", "Priority": "2", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
      "DeleteMarkerReplication": {"Status": "Enabled"},
      "Destination": {"Bucket": "arn:aws:s3:::dst"}},
     _rule(rule_id="a", priority=2, prefix="logs/")),
    ({"ID": "b", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
      "DeleteMarkerReplication": {"Status": "Enabled"},
      "Destination": {"Bucket": "arn:aws:s3:::dst"}},
     _rule(rule_id="b", priority=0, tags=(("k", "v"),), delete_markers=False)),
    ({"ID": "c", "Priority": 3, "Status": "Disabled",
      "Filter": {"And": {"Prefix": "p/", "Tag": [{"Key": "a", "Value": "1"},
                                                 {"Key": "b", "Value": "2"}]}},
      "Destination": {"Bucket": "arn:aws:s3:::dst", "StorageClass": "STANDARD_IA",
                      "Metrics": {"Status": "Enabled"}}},
     _rule(rule_id="c", priority=3, enabled=False, prefix="p/",
           tags=(("a", "1"), ("b", "2")), delete_markers=False, storage_class="STANDARD_IA",
           metrics=True)),
    ({"ID": "v1", "Prefix": "old/", "Status": "Enabled",
      "Destination": {"Bucket": "arn:aws:s3:::dst",
                      "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}}}},
     _rule(rule_id="v1", priority=0, prefix="old/", metrics=True)),
    ({"Id": "cfn", "Status": "Enabled", "Filter": {},
      "Destination": {"Bucket": "arn:aws:s3:::dst"}},
     _rule(rule_id="cfn", priority=0, delete_markers=False)),
])
def test_stored_rules_are_read_as_aws_defines_them(stored: dict[str, Any],
                                                   expected: ReplicationRule) -> None:
    """Filters, priority, delete-marker setting (V1 always, tags never) and metrics are parsed."""
    assert parse_rule(stored) == expected


@pytest.mark.parametrize(("rules", "key", "tags", "chosen"), [
    ([_rule(prefix="a/")], "a/x", {}, ["r"]),
    ([_rule(prefix="a/")], "b/x", {}, []),
    ([_rule(enabled=False)], "x", {}, []),
    ([_rule(tags=(("env", "prod"),))], "x", {"env": "prod", "o": "1"}, ["r"]),
    ([_rule(tags=(("env", "prod"),))], "x", {"env": "dev"}, []),
    ([_rule(rule_id="low", priority=1), _rule(rule_id="high", priority=5)], "x", {}, ["high"]),
    ([_rule(rule_id="one", destination_bucket="d1"), _rule(rule_id="two", destination_bucket="d2")],
     "x", {}, ["one", "two"]),
])
def test_objects_follow_the_matching_rule_of_highest_priority(
        rules: list[ReplicationRule], key: str, tags: dict[str, str], chosen: list[str]) -> None:
    """Per destination the highest-priority enabled matching rule applies."""
    assert [r.rule_id for r in rules_for_object(rules, key, tags)] == chosen


@pytest.mark.parametrize(("rules", "chosen"), [
    ([_rule(delete_markers=True)], ["r"]),
    ([_rule(delete_markers=False)], []),
    ([_rule(tags=(("k", "v"),))], []),
    ([_rule(rule_id="dm", priority=1), _rule(rule_id="no-dm", priority=2, delete_markers=False)],
     []),
])
def test_delete_markers_follow_the_rule_setting(rules: list[ReplicationRule],
                                                chosen: list[str]) -> None:
    """A delete marker replicates only if the winning rule enables it and has no tag filter."""
    assert [r.rule_id for r in rules_for_delete_marker(rules, "x")] == chosen


# --- against the emulator ------------------------------------------------------------------------

def _configure(east: Any, rules: list[dict[str, Any]]) -> None:
    east.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration={
        "Role": ROLE, "Rules": rules})


def _rule_config(rule_id: str = "all", prefix: str = "", delete_markers: str = "Disabled",
                 metrics: bool = False, destination: str = DESTINATION) -> dict[str, Any]:
    target: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{destination}"}
    if metrics:
        target["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
        target["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
    return {"ID": rule_id, "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": prefix},
            "DeleteMarkerReplication": {"Status": delete_markers}, "Destination": target}


@pytest.fixture
def buckets(aws: AwsClients, regions: RegionPair) -> tuple[Any, Any]:
    """Versioned source (primary) and destination (secondary) buckets: (east, west) clients."""
    east = aws.client("s3", regions.primary)
    west = aws.client("s3", regions.secondary)
    east.create_bucket(Bucket=SOURCE)
    west.create_bucket(Bucket=DESTINATION,
                       CreateBucketConfiguration={"LocationConstraint": regions.secondary})
    for client, bucket in ((east, SOURCE), (west, DESTINATION)):
        client.put_bucket_versioning(Bucket=bucket,
                                     VersioningConfiguration={"Status": "Enabled"})
    return east, west


def _status(client: Any, bucket: str, key: str) -> str | None:
    status: str | None = client.head_object(Bucket=bucket, Key=key).get("ReplicationStatus")
    return status


def _exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError:
        return False
    return True


def _drained() -> None:
    wait_until(queue.idle, description="the replication queue to drain", timeout=10)


def test_an_object_replicates_with_its_version_metadata_and_tags(buckets: tuple[Any, Any]
                                                                  ) -> None:
    """PENDING until copied; then COMPLETED at the source and REPLICA with the same version."""
    east, west = buckets
    _configure(east, [_rule_config()])
    faults.pause_replication("s3")
    put = east.put_object(Bucket=SOURCE, Key="report.csv", Body=b"a,b\n1,2\n",
                          Metadata={"owner": "dr"}, ContentType="text/csv", Tagging="tier=gold")
    assert _status(east, SOURCE, "report.csv") == "PENDING"
    assert not _exists(west, DESTINATION, "report.csv")
    faults.resume_replication("s3")
    wait_until(lambda: _status(east, SOURCE, "report.csv") == "COMPLETED",
               description="the source to show COMPLETED", timeout=5, interval=0.01)
    replica = west.get_object(Bucket=DESTINATION, Key="report.csv")
    assert replica["ReplicationStatus"] == "REPLICA"
    assert replica["VersionId"] == put["VersionId"]
    assert replica["Body"].read() == b"a,b\n1,2\n"
    assert replica["Metadata"] == {"owner": "dr"}
    assert replica["ContentType"] == "text/csv"
    source = east.head_object(Bucket=SOURCE, Key="report.csv")
    assert replica["LastModified"] == source["LastModified"]
    assert west.get_object_tagging(Bucket=DESTINATION, Key="report.csv")["TagSet"] == [
        {"Key": "tier", "Value": "gold"}]


def test_copy_and_multipart_objects_replicate(buckets: tuple[Any, Any]) -> None:
    """CopyObject and CompleteMultipartUpload create versions that replicate like PutObject."""
    east, west = buckets
    _configure(east, [_rule_config()])
    east.put_object(Bucket=SOURCE, Key="original", Body=b"copy me")
    east.copy_object(Bucket=SOURCE, Key="copied", CopySource={"Bucket": SOURCE, "Key": "original"})
    upload = east.create_multipart_upload(Bucket=SOURCE, Key="big")
    part = east.upload_part(Bucket=SOURCE, Key="big", UploadId=upload["UploadId"], PartNumber=1,
                            Body=b"p" * 1024)
    east.complete_multipart_upload(Bucket=SOURCE, Key="big", UploadId=upload["UploadId"],
                                   MultipartUpload={"Parts": [{"ETag": part["ETag"],
                                                               "PartNumber": 1}]})
    _drained()
    assert west.get_object(Bucket=DESTINATION, Key="copied")["Body"].read() == b"copy me"
    big = west.get_object(Bucket=DESTINATION, Key="big")
    assert big["Body"].read() == b"p" * 1024
    assert big["ETag"] == east.head_object(Bucket=SOURCE, Key="big")["ETag"]


def test_only_objects_under_the_prefix_replicate(buckets: tuple[Any, Any]) -> None:
    """A Filter Prefix limits replication; other objects get no replication status."""
    east, west = buckets
    _configure(east, [_rule_config(prefix="critical/")])
    east.put_object(Bucket=SOURCE, Key="critical/a", Body=b"1")
    east.put_object(Bucket=SOURCE, Key="scratch/b", Body=b"2")
    _drained()
    assert _exists(west, DESTINATION, "critical/a")
    assert not _exists(west, DESTINATION, "scratch/b")
    assert _status(east, SOURCE, "scratch/b") is None


def test_tag_filters_use_the_tags_set_with_the_object(buckets: tuple[Any, Any]) -> None:
    """An And filter (prefix plus tag) matches objects uploaded with that tag only."""
    east, west = buckets
    _configure(east, [{"ID": "tagged", "Priority": 1, "Status": "Enabled",
                       "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "dr",
                                                                    "Value": "yes"}]}},
                       "DeleteMarkerReplication": {"Status": "Disabled"},
                       "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}"}}])
    east.put_object(Bucket=SOURCE, Key="t/in", Body=b"1", Tagging="dr=yes")
    east.put_object(Bucket=SOURCE, Key="t/out", Body=b"2", Tagging="dr=no")
    _drained()
    assert _exists(west, DESTINATION, "t/in")
    assert not _exists(west, DESTINATION, "t/out")


@pytest.mark.parametrize(("setting", "replicated"), [("Enabled", True), ("Disabled", False)])
def test_delete_markers_replicate_only_when_enabled(buckets: tuple[Any, Any], setting: str,
                                                    replicated: bool) -> None:
    """A delete marker reaches the destination (same version id) only with the rule enabled."""
    east, west = buckets
    _configure(east, [_rule_config(delete_markers=setting)])
    east.put_object(Bucket=SOURCE, Key="doomed", Body=b"x")
    _drained()
    marker = east.delete_object(Bucket=SOURCE, Key="doomed")
    _drained()
    markers = west.list_object_versions(Bucket=DESTINATION).get("DeleteMarkers", [])
    if replicated:
        assert [(m["Key"], m["VersionId"]) for m in markers] == [("doomed", marker["VersionId"])]
        assert not _exists(west, DESTINATION, "doomed")
    else:
        assert markers == []
        assert _exists(west, DESTINATION, "doomed")


def test_deleting_a_specific_version_is_not_replicated(buckets: tuple[Any, Any]) -> None:
    """DeleteObject with a VersionId removes it at the source only, as on AWS."""
    east, west = buckets
    _configure(east, [_rule_config(delete_markers="Enabled")])
    put = east.put_object(Bucket=SOURCE, Key="kept", Body=b"x")
    _drained()
    east.delete_object(Bucket=SOURCE, Key="kept", VersionId=put["VersionId"])
    _drained()
    assert not _exists(east, SOURCE, "kept")
    assert west.head_object(Bucket=DESTINATION, Key="kept")["VersionId"] == put["VersionId"]


def test_a_missing_destination_fails_and_is_counted(aws: AwsClients, regions: RegionPair,
                                                    buckets: tuple[Any, Any]) -> None:
    """A destination deleted after the rule was put: the object shows FAILED and
    OperationsFailedReplication counts it."""
    east, west = buckets
    west.create_bucket(Bucket="short-lived",
                       CreateBucketConfiguration={"LocationConstraint": regions.secondary})
    west.put_bucket_versioning(Bucket="short-lived", VersioningConfiguration={"Status": "Enabled"})
    _configure(east, [_rule_config(rule_id="to-nowhere", destination="short-lived",
                                   metrics=True)])
    west.delete_bucket(Bucket="short-lived")
    east.put_object(Bucket=SOURCE, Key="lost", Body=b"x")
    wait_until(lambda: _status(east, SOURCE, "lost") == "FAILED",
               description="the object to show FAILED", timeout=5, interval=0.01)
    points = _statistics(aws.client("cloudwatch", regions.primary), "OperationsFailedReplication",
                         "short-lived", "to-nowhere", "Sum")
    assert sum(p["Sum"] for p in points) == 1


@pytest.mark.parametrize(("create", "message"), [
    (False, "Destination bucket must exist."),
    (True, "Destination bucket must have versioning enabled."),
])
def test_a_rule_needs_an_existing_versioned_destination(regions: RegionPair,
                                                        buckets: tuple[Any, Any], create: bool,
                                                        message: str) -> None:
    """PutBucketReplication refuses a destination that does not exist or is not versioned, as
    S3 does; nothing is stored."""
    east, west = buckets
    if create:
        west.create_bucket(Bucket="plain",
                           CreateBucketConfiguration={"LocationConstraint": regions.secondary})
    with pytest.raises(east.exceptions.ClientError) as refused:
        _configure(east, [_rule_config(destination="plain")])
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    assert refused.value.response["Error"]["Message"] == message
    with pytest.raises(east.exceptions.ClientError):
        east.get_bucket_replication(Bucket=SOURCE)


def test_pause_then_resume_delivers_everything(buckets: tuple[Any, Any]) -> None:
    """Objects written while paused wait in order and all arrive on resume."""
    east, west = buckets
    _configure(east, [_rule_config()])
    faults.pause_replication("s3")
    versions = [east.put_object(Bucket=SOURCE, Key="same", Body=str(n).encode())["VersionId"]
                for n in range(10)]
    time.sleep(0.3)
    assert not _exists(west, DESTINATION, "same")
    faults.resume_replication("s3")
    _drained()
    replicated = west.list_object_versions(Bucket=DESTINATION, Prefix="same")["Versions"]
    assert sorted(v["VersionId"] for v in replicated) == sorted(versions)
    assert west.get_object(Bucket=DESTINATION, Key="same")["Body"].read() == b"9"


def test_a_downed_source_region_stops_replication(regions: RegionPair,
                                                  buckets: tuple[Any, Any]) -> None:
    """While the source region is down its queued objects stay PENDING; they go when it is up."""
    east, west = buckets
    _configure(east, [_rule_config()])
    faults.pause_replication("s3")
    east.put_object(Bucket=SOURCE, Key="in-flight", Body=b"x")
    faults.take_region_down(regions.primary)
    faults.resume_replication("s3")
    time.sleep(0.5)  # give the worker the chance to (wrongly) deliver
    assert [w.payload.key_name for w in queue.pending(lambda w: w.store == "s3")] == ["in-flight"]
    faults.bring_region_up(regions.primary)
    _drained()
    assert _status(east, SOURCE, "in-flight") == "COMPLETED"
    assert _exists(west, DESTINATION, "in-flight")


def test_the_stored_configuration_is_returned_faithfully(buckets: tuple[Any, Any]) -> None:
    """GetBucketReplication returns the stored filter and delete-marker setting."""
    east, _ = buckets
    _configure(east, [_rule_config(prefix="keep/", delete_markers="Enabled")])
    rule = east.get_bucket_replication(Bucket=SOURCE)["ReplicationConfiguration"]["Rules"][0]
    assert rule["Filter"] == {"Prefix": "keep/"}
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}


def _statistics(cloudwatch: Any, metric: str, destination: str, rule_id: str, stat: str
                ) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    points: list[dict[str, Any]] = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3", MetricName=metric,
        Dimensions=[{"Name": "SourceBucket", "Value": SOURCE},
                    {"Name": "DestinationBucket", "Value": destination},
                    {"Name": "RuleId", "Value": rule_id}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1),
        Period=600, Statistics=[stat])["Datapoints"]
    return points


def test_replication_metrics_in_the_source_region(aws: AwsClients, regions: RegionPair,
                                                  buckets: tuple[Any, Any]) -> None:
    """With metrics enabled: latency (s), pending operations and bytes, in the source region."""
    east, _ = buckets
    _configure(east, [_rule_config(rule_id="metered", metrics=True)])
    faults.pause_replication("s3")
    for n in range(3):
        east.put_object(Bucket=SOURCE, Key=f"m{n}", Body=b"12345")
    cloudwatch = aws.client("cloudwatch", regions.primary)
    wait_until(lambda: _statistics(cloudwatch, "OperationsPendingReplication", DESTINATION,
                                   "metered", "Maximum"),
               description="the pending gauges", timeout=5, interval=0.05)
    assert _statistics(cloudwatch, "OperationsPendingReplication", DESTINATION, "metered",
                       "Maximum")[0]["Maximum"] == 3
    assert _statistics(cloudwatch, "BytesPendingReplication", DESTINATION, "metered",
                       "Maximum")[0]["Maximum"] == 15
    faults.resume_replication("s3")
    _drained()
    latency = _statistics(cloudwatch, "ReplicationLatency", DESTINATION, "metered", "SampleCount")
    assert sum(p["SampleCount"] for p in latency) == 3
    assert latency[0]["Unit"] == "Seconds"
    wait_until(lambda: _statistics(cloudwatch, "OperationsPendingReplication", DESTINATION,
                                   "metered", "Minimum")[0]["Minimum"] == 0,
               description="the pending gauge to fall to zero", timeout=5, interval=0.05)
    assert _statistics(aws.client("cloudwatch", regions.secondary), "ReplicationLatency",
                       DESTINATION, "metered", "SampleCount") == []


def test_no_metrics_without_metrics_enabled(aws: AwsClients, regions: RegionPair,
                                            buckets: tuple[Any, Any]) -> None:
    """A rule without Metrics or ReplicationTime publishes no replication metrics."""
    east, west = buckets
    _configure(east, [_rule_config(rule_id="quiet")])
    east.put_object(Bucket=SOURCE, Key="q", Body=b"x")
    _drained()
    assert _exists(west, DESTINATION, "q")
    assert _statistics(aws.client("cloudwatch", regions.primary), "ReplicationLatency",
                       DESTINATION, "quiet", "SampleCount") == []


# 10,000 objects take 40-80 s here: moto's PutObject over HTTP runs at about 100-240 requests/s
# on two cores with or without replication, so the bulk test writes 2,000 (about 10 s).
BULK_OBJECTS = 2_000


@pytest.mark.slow
def test_bulk_objects_all_replicate(buckets: tuple[Any, Any]) -> None:
    """2,000 small objects written by four writers all reach the destination, none lost."""
    east, west = buckets
    _configure(east, [_rule_config()])
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: east.put_object(Bucket=SOURCE, Key=f"bulk/{n:05d}",
                                                Body=f"{n}".encode()), range(BULK_OBJECTS)))
    wait_until(queue.idle, description="the objects to replicate", timeout=60)
    keys = {obj["Key"] for page in west.get_paginator("list_objects_v2").paginate(
        Bucket=DESTINATION, Prefix="bulk/") for obj in page.get("Contents", [])}
    assert keys == {f"bulk/{n:05d}" for n in range(BULK_OBJECTS)}


@pytest.mark.slow
def test_measured_delay_matches_the_configured_delay(buckets: tuple[Any, Any]) -> None:
    """With a 0.5 s delay, write-to-visible in the other region has a median of 0.5 ± 0.25 s."""
    east, west = buckets
    _configure(east, [_rule_config()])
    faults.set_replication_delay("s3", 0.5)
    lags = []
    for n in range(12):
        east.put_object(Bucket=SOURCE, Key=f"lag/{n}", Body=b"x")
        acknowledged = time.monotonic()
        assert not _exists(west, DESTINATION, f"lag/{n}")
        wait_until(lambda n=n: _exists(west, DESTINATION, f"lag/{n}"),
                   description="the object to replicate", timeout=5, interval=0.01, backoff=1.2)
        lags.append(time.monotonic() - acknowledged)
    assert 0.25 <= statistics.median(lags) <= 0.75, lags
    assert min(lags) >= 0.4, lags


# --- two-way replication -------------------------------------------------------------------------

def _two_way(east: Any, west: Any, replica_modifications: str = "Enabled") -> None:
    """Each bucket replicates to the other: delete markers and replica modifications follow."""
    for client, source, destination in ((east, SOURCE, DESTINATION),
                                        (west, DESTINATION, SOURCE)):
        rule = _rule_config(rule_id=f"to-{destination}", delete_markers="Enabled",
                            destination=destination)
        rule["SourceSelectionCriteria"] = {
            "ReplicaModifications": {"Status": replica_modifications}}
        client.put_bucket_replication(Bucket=source, ReplicationConfiguration={
            "Role": ROLE, "Rules": [rule]})


def _versions(client: Any, bucket: str, key: str) -> tuple[list[str], list[str]]:
    """(object version ids, delete-marker version ids) of one key."""
    listed = client.list_object_versions(Bucket=bucket, Prefix=key)
    return ([v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key])


def test_two_way_rules_replicate_each_write_once_without_a_loop(buckets: tuple[Any, Any]
                                                                ) -> None:
    """With rules in both directions a write in either bucket reaches the other once, as a
    REPLICA that is not replicated back."""
    east, west = buckets
    _two_way(east, west)
    from_east = east.put_object(Bucket=SOURCE, Key="from-east", Body=b"e")["VersionId"]
    from_west = west.put_object(Bucket=DESTINATION, Key="from-west", Body=b"w")["VersionId"]
    _drained()
    time.sleep(0.2)
    _drained()
    assert _status(west, DESTINATION, "from-east") == "REPLICA"
    assert _status(east, SOURCE, "from-west") == "REPLICA"
    assert _status(east, SOURCE, "from-east") == "COMPLETED"
    assert _status(west, DESTINATION, "from-west") == "COMPLETED"
    for client, bucket in ((east, SOURCE), (west, DESTINATION)):
        assert _versions(client, bucket, "from-east") == ([from_east], [])
        assert _versions(client, bucket, "from-west") == ([from_west], [])


def test_a_write_to_the_replica_bucket_during_an_outage_reaches_the_data_bucket_after(
        regions: RegionPair, buckets: tuple[Any, Any]) -> None:
    """Failed over (primary region down), a write to the replica bucket waits, then reaches
    the data bucket once the region is back: failback leaves nothing behind."""
    east, west = buckets
    _two_way(east, west)
    faults.take_region_down(regions.primary)
    try:
        written = west.put_object(Bucket=DESTINATION, Key="while-failed-over",
                                  Body=b"w")["VersionId"]
        time.sleep(0.3)
        assert _status(west, DESTINATION, "while-failed-over") == "PENDING"
    finally:
        faults.bring_region_up(regions.primary)
    _drained()
    copy = east.get_object(Bucket=SOURCE, Key="while-failed-over")
    assert (copy["VersionId"], copy["Body"].read()) == (written, b"w")
    assert _status(west, DESTINATION, "while-failed-over") == "COMPLETED"


def test_a_delete_in_the_replica_bucket_follows_to_the_data_bucket(buckets: tuple[Any, Any]
                                                                   ) -> None:
    """Deleting a replicated object in the replica bucket puts the same delete marker in the
    data bucket; the marker is not replicated back."""
    east, west = buckets
    _two_way(east, west)
    put = east.put_object(Bucket=SOURCE, Key="doomed", Body=b"x")["VersionId"]
    _drained()
    marker = west.delete_object(Bucket=DESTINATION, Key="doomed")["VersionId"]
    _drained()
    time.sleep(0.2)
    _drained()
    assert not _exists(east, SOURCE, "doomed")
    for client, bucket in ((east, SOURCE), (west, DESTINATION)):
        assert _versions(client, bucket, "doomed") == ([put], [marker])


@pytest.mark.parametrize(("setting", "synced"), [("Enabled", True), ("Disabled", False)])
def test_tag_changes_follow_and_replica_changes_go_back_only_with_modification_sync(
        buckets: tuple[Any, Any], setting: str, synced: bool) -> None:
    """A tag change of a replicated object reaches its replica; a tag change of the replica
    goes back to the source only under replica modification sync."""
    east, west = buckets
    _two_way(east, west, replica_modifications=setting)
    east.put_object(Bucket=SOURCE, Key="tagged", Body=b"x", Tagging="stage=new")
    _drained()
    east.put_object_tagging(Bucket=SOURCE, Key="tagged",
                            Tagging={"TagSet": [{"Key": "stage", "Value": "reviewed"}]})
    _drained()
    assert west.get_object_tagging(Bucket=DESTINATION, Key="tagged")["TagSet"] == [
        {"Key": "stage", "Value": "reviewed"}]
    west.put_object_tagging(Bucket=DESTINATION, Key="tagged",
                            Tagging={"TagSet": [{"Key": "stage", "Value": "archived"}]})
    _drained()
    expected = "archived" if synced else "reviewed"
    assert east.get_object_tagging(Bucket=SOURCE, Key="tagged")["TagSet"] == [
        {"Key": "stage", "Value": expected}]
    west.delete_object_tagging(Bucket=DESTINATION, Key="tagged")
    _drained()
    assert (east.get_object_tagging(Bucket=SOURCE, Key="tagged")["TagSet"] == []) is synced


def test_replica_modification_sync_is_read_from_the_rule() -> None:
    """SourceSelectionCriteria ReplicaModifications Enabled is what turns the sync on."""
    stored = _rule_config()
    assert not parse_rule(stored).replica_modifications
    stored["SourceSelectionCriteria"] = {"ReplicaModifications": {"Status": "Enabled"}}
    assert parse_rule(stored).replica_modifications
