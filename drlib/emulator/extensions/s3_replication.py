"""S3 cross-region replication on top of moto: the stored configuration, applied.

moto 5.2.5 stores a bucket's replication configuration (``PutBucketReplication``, which already
requires versioning) but never copies an object. This extension follows that configuration:

* **What replicates**: each new object version (PutObject, CopyObject, CompleteMultipartUpload)
  in a *versioned* source bucket that an ``Enabled`` rule matches, by ``Filter`` ``Prefix``,
  ``Tag`` or ``And`` (or a V1 rule's ``Prefix``), goes to that rule's destination bucket; for
  several matching rules with one destination the highest ``Priority`` wins, distinct
  destinations each get a copy. A delete marker (DeleteObject without a version id) replicates
  only under a rule with ``DeleteMarkerReplication`` ``Enabled`` (or a V1 rule, which always
  replicated them; tag-filtered rules never do). Deleting a specific version never replicates.
* **How**: the version is queued at the end of the request that created it (so its metadata and
  tags are final), ``x-amz-replication-status`` shows ``PENDING``; the shared
  :mod:`drlib.emulator.replication_queue` applies it after ``faults.replication_delay("s3")``:
  the replica gets the same key, version id, last-modified time, content, metadata and tags and
  shows ``REPLICA``, the source ``COMPLETED``; ``FAILED`` if the destination bucket is missing.
  Replicas (objects and delete markers) never replicate again, so two buckets whose rules name
  each other (two-way replication) do not loop: what a client writes or deletes in either bucket
  goes to the other once.
* **Metadata changes** (``PutObjectTagging``, ``DeleteObjectTagging``) of a version that already
  replicated follow it to the destination (the replica's version gets the source's new tags).
  A change made to a *replica* goes back only under a rule of the replica's bucket with
  ``SourceSelectionCriteria`` ``ReplicaModifications`` ``Enabled`` (replica modification sync);
  without it the replica's tags stay where they were changed, as on AWS.
* **Metrics**, for rules with ``Metrics`` or ``ReplicationTime`` enabled, in the *source*
  bucket's region, namespace ``AWS/S3``, dimensions ``SourceBucket``, ``DestinationBucket``,
  ``RuleId``: ``ReplicationLatency`` (Seconds, a statistic set per worker cycle),
  ``OperationsPendingReplication`` (Count) and ``BytesPendingReplication`` (Bytes) at most once a
  second while they change, ``OperationsFailedReplication`` (Count).
* ``PutBucketReplication`` (and a CloudFormation bucket's ``ReplicationConfiguration``) refuses a
  rule whose destination bucket, in the same account, does not exist or is not versioned
  (``InvalidRequest``), as S3 does: a replication rule can only name a bucket that exists, so two
  buckets replicating to each other need one of them updated after the other exists.
* ``GetBucketReplication`` answers with the stored filters, delete-marker setting and source
  selection criteria (moto answers every rule with an empty prefix and delete-marker
  replication disabled).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drlib.emulator import control, replication_queue
from drlib.emulator.patching import Maker, locked_by, wrap_once
from drlib.emulator.replication_queue import PendingWrite

log = logging.getLogger(__name__)

STORE = "s3"
METRIC_NAMESPACE = "AWS/S3"
GAUGE_INTERVAL = 1.0
"""Seconds between two publications of a rule's pending gauges."""

STATUS_ATTRIBUTE = "_drlib_replication_status"


# --- the configuration, as pure data ---------------------------------------------------------

@dataclass(frozen=True)
class ReplicationRule:
    """One rule of a bucket's replication configuration."""

    rule_id: str
    priority: int
    enabled: bool
    prefix: str
    tags: tuple[tuple[str, str], ...]
    delete_markers: bool
    destination_bucket: str
    storage_class: str | None
    metrics: bool
    replica_modifications: bool = False

    def matches(self, key_name: str, tags: Mapping[str, str]) -> bool:
        """Whether an object with this name and these tags falls under the rule's filter."""
        return key_name.startswith(self.prefix) and all(tags.get(k) == v for k, v in self.tags)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _enabled(block: Any) -> bool:
    return isinstance(block, Mapping) and block.get("Status") == "Enabled"


def _tags_of(block: Any) -> tuple[tuple[str, str], ...]:
    return tuple((t["Key"], t.get("Value") or "") for t in _as_list(block))


def parse_rule(rule: Mapping[str, Any]) -> ReplicationRule:
    """A rule as moto stores it (parsed XML) or as CloudFormation spells it."""
    has_filter = "Filter" in rule
    filter_ = rule.get("Filter") or {}
    and_ = filter_.get("And") or {}
    prefix = (filter_.get("Prefix") or and_.get("Prefix") or "") if has_filter else (
        rule.get("Prefix") or "")
    tags = _tags_of(filter_.get("Tag") or filter_.get("TagFilter")) + _tags_of(
        and_.get("Tag") or and_.get("Tags") or and_.get("TagFilters"))
    destination = rule.get("Destination") or {}
    bucket_arn = str(destination.get("Bucket") or "")
    if has_filter:
        # V2 rules replicate delete markers only when asked, never with a tag filter.
        delete_markers = _enabled(rule.get("DeleteMarkerReplication")) and not tags
    else:
        delete_markers = True  # V1 rules (Prefix, no Filter) always replicated delete markers
    return ReplicationRule(
        rule_id=str(rule.get("ID") or rule.get("Id") or ""),
        priority=int(rule.get("Priority") or 0),
        enabled=rule.get("Status") == "Enabled",
        prefix=prefix,
        tags=tags,
        delete_markers=delete_markers,
        destination_bucket=bucket_arn.rsplit(":", 1)[-1],
        storage_class=destination.get("StorageClass"),
        metrics=_enabled(destination.get("Metrics")) or _enabled(
            destination.get("ReplicationTime")),
        replica_modifications=_enabled(
            (rule.get("SourceSelectionCriteria") or {}).get("ReplicaModifications")),
    )


def parse_rules(configuration: Mapping[str, Any] | None) -> list[ReplicationRule]:
    """Every rule of a stored replication configuration (none if there is no configuration)."""
    if not configuration:
        return []
    rules = configuration.get("Rule", configuration.get("Rules"))
    return [parse_rule(r) for r in _as_list(rules)]


def _best_per_destination(rules: list[ReplicationRule]) -> list[ReplicationRule]:
    best: dict[str, ReplicationRule] = {}
    for rule in rules:
        current = best.get(rule.destination_bucket)
        if current is None or rule.priority > current.priority:
            best[rule.destination_bucket] = rule
    return [best[d] for d in sorted(best)]


def rules_for_object(rules: list[ReplicationRule], key_name: str, tags: Mapping[str, str]
                     ) -> list[ReplicationRule]:
    """The rules a new object version replicates under: one per destination, top priority."""
    return _best_per_destination(
        [r for r in rules if r.enabled and r.matches(key_name, tags)])


def rules_for_delete_marker(rules: list[ReplicationRule], key_name: str
                            ) -> list[ReplicationRule]:
    """The rules a new delete marker replicates under (delete markers carry no tags)."""
    chosen = _best_per_destination(
        [r for r in rules if r.enabled and not r.tags and r.matches(key_name, {})])
    return [r for r in chosen if r.delete_markers]


def rules_for_metadata(rules: list[ReplicationRule], key_name: str, tags: Mapping[str, str],
                       *, replica: bool) -> list[ReplicationRule]:
    """The rules a metadata change of a version (its tags) replicates under: those of a new
    object version, restricted for a replica to rules with replica modification sync."""
    chosen = rules_for_object(rules, key_name, tags)
    return [r for r in chosen if r.replica_modifications] if replica else chosen


# --- queued versions ---------------------------------------------------------------------------

@dataclass
class _Replication:
    """One version (object or delete marker) on its way to one destination."""

    account_id: str
    source_bucket: str
    source_region: str
    key_name: str
    version: Any  # moto FakeKey or FakeDeleteMarker
    delete_marker: bool
    rule: ReplicationRule
    size: int
    metadata_only: bool = False
    """A metadata change (tags) of a version the destination already holds."""


_MetricKey = tuple[str, str, str, str, str]  # account, source region, source, destination, rule
_lock = threading.RLock()
_pending: dict[_MetricKey, list[int]] = {}  # -> [operations, bytes]
_dirty: dict[_MetricKey, float] = {}  # -> when its gauges were last published (0: never)
_local = threading.local()  # .replicating: bool, .depth: int, .created: list
# Held while the worker writes a replica and while a request lists a bucket: moto has no
# locking, and iterating a bucket's keys while another thread adds one raises.
_data_lock = threading.RLock()


def _metric_key(r: _Replication) -> _MetricKey:
    return (r.account_id, r.source_region, r.source_bucket, r.rule.destination_bucket,
            r.rule.rule_id)


def _backend(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def _on_created(backend: Any, bucket_name: str, version: Any, delete_marker: bool) -> None:
    """Called by the patched backend when a request creates an object version or marker."""
    if getattr(_local, "replicating", False):
        return  # a replica: never replicated again
    if getattr(_local, "depth", 0) > 0:
        _local.created.append((backend, bucket_name, version, delete_marker))
    else:
        _queue_version(backend, bucket_name, version, delete_marker)


def _queue_version(backend: Any, bucket_name: str, version: Any, delete_marker: bool) -> None:
    bucket = backend.buckets.get(bucket_name)
    if bucket is None or not bucket.is_versioned:
        return
    rules = parse_rules(getattr(bucket, "replication", None))
    if not rules:
        return
    if delete_marker:
        chosen = rules_for_delete_marker(rules, version.name)
    else:
        tags = backend.tagger.get_tag_dict_for_resource(version.arn)
        chosen = rules_for_object(rules, version.name, tags)
    if not chosen:
        return
    size = 0 if delete_marker else int(version.size)
    if not delete_marker:
        setattr(version, STATUS_ATTRIBUTE, "PENDING")
        version._drlib_replication_outstanding = len(chosen)
    writes = []
    for rule in chosen:
        destination = backend.buckets.get(rule.destination_bucket)
        replication = _Replication(
            account_id=backend.account_id, source_bucket=bucket_name,
            source_region=bucket.region_name, key_name=version.name, version=version,
            delete_marker=delete_marker, rule=rule, size=size)
        writes.append(PendingWrite(
            store=STORE, resource=f"{backend.account_id}/{bucket_name}->{rule.destination_bucket}",
            source_region=bucket.region_name,
            destination_region=destination.region_name if destination else bucket.region_name,
            payload=replication))
        _count_pending(replication, +1)
    replication_queue.queue.put(writes)


def _on_tags_changed(backend: Any, bucket_name: str, version: Any) -> None:
    """Called by the patched backend when a request changes a version's tags.

    A version still pending carries its latest tags when it is delivered; one that replicated
    (``COMPLETED``) sends the change after it; a replica (``REPLICA``) sends it back only under
    a rule with replica modification sync. A version this request created is not replicated
    yet (no status): its replication carries the tags.
    """
    if getattr(_local, "replicating", False):
        return
    status = getattr(version, STATUS_ATTRIBUTE, None)
    if status not in ("COMPLETED", "REPLICA"):
        return
    bucket = backend.buckets.get(bucket_name)
    if bucket is None or not bucket.is_versioned:
        return
    tags = backend.tagger.get_tag_dict_for_resource(version.arn)
    chosen = rules_for_metadata(parse_rules(getattr(bucket, "replication", None)), version.name,
                                tags, replica=status == "REPLICA")
    writes = []
    for rule in chosen:
        destination = backend.buckets.get(rule.destination_bucket)
        replication = _Replication(
            account_id=backend.account_id, source_bucket=bucket_name,
            source_region=bucket.region_name, key_name=version.name, version=version,
            delete_marker=False, rule=rule, size=0, metadata_only=True)
        writes.append(PendingWrite(
            store=STORE, resource=f"{backend.account_id}/{bucket_name}->{rule.destination_bucket}",
            source_region=bucket.region_name,
            destination_region=destination.region_name if destination else bucket.region_name,
            payload=replication))
        _count_pending(replication, +1)
    if writes:
        replication_queue.queue.put(writes)


def _count_pending(replication: _Replication, sign: int) -> None:
    if not replication.rule.metrics:
        return
    key = _metric_key(replication)
    with _lock:
        counts = _pending.setdefault(key, [0, 0])
        counts[0] += sign
        counts[1] += sign * replication.size
        _dirty.setdefault(key, 0.0)


# --- applying in the destination ----------------------------------------------------------------

def deliver(writes: list[PendingWrite]) -> None:
    """Copy due versions to their destination buckets and publish the replication metrics."""
    latencies: dict[_MetricKey, list[float]] = {}
    failures: dict[_MetricKey, int] = {}
    for write in writes:
        replication: _Replication = write.payload
        _count_pending(replication, -1)
        outcome = _apply_guarded(replication)
        if outcome is None or not replication.rule.metrics:
            continue
        key = _metric_key(replication)
        if outcome:
            latencies.setdefault(key, []).append(time.time() - write.acknowledged_at)
        else:
            failures[key] = failures.get(key, 0) + 1
    _publish_delivered(latencies, failures)


def _apply_guarded(replication: _Replication) -> bool | None:
    """Apply one version: True if copied, False if it failed, None if its source is gone."""
    try:
        return _apply(replication)
    except Exception:
        # A version that cannot be read or written fails alone; the rest of the batch goes on.
        log.exception("s3 %s/%s: replication to %s failed", replication.source_bucket,
                      replication.key_name, replication.rule.destination_bucket)
        if not replication.metadata_only:
            _settle(replication.version, ok=False)
        return False


def _apply(replication: _Replication) -> bool | None:
    backend = _backend(replication.account_id)
    if backend.buckets.get(replication.source_bucket) is None:
        return None  # the source bucket was deleted (or the emulator reset): nothing to send
    destination = backend.buckets.get(replication.rule.destination_bucket)
    if destination is None:
        log.info("s3 %s/%s: destination bucket %s is missing; replication FAILED",
                 replication.source_bucket, replication.key_name,
                 replication.rule.destination_bucket)
        if not replication.metadata_only:
            _settle(replication.version, ok=False)
        return False
    with _data_lock:
        _local.replicating = True
        try:
            if replication.metadata_only:
                return _copy_tags(backend, destination, replication.version)
            if replication.delete_marker:
                _copy_delete_marker(destination, replication.version)
            else:
                _copy_object(backend, destination, replication)
        finally:
            _local.replicating = False
    _settle(replication.version, ok=True)
    return True


def _copy_object(backend: Any, destination: Any, replication: _Replication) -> None:
    source = replication.version
    replica = backend.put_object(
        destination.name, source.name, source.value,
        storage=replication.rule.storage_class or source.storage_class,
        etag=source._etag, encryption=source.encryption, kms_key_id=source.kms_key_id,
        checksum_value=source.checksum_value, disable_notification=True)
    if destination.is_versioned:
        replica._version_id = source.version_id  # replicas keep the source's version id
    replica.last_modified = source.last_modified
    replica.set_metadata(dict(source.metadata), replace=True)
    backend.tagger.copy_tags(source.arn, replica.arn)
    setattr(replica, STATUS_ATTRIBUTE, "REPLICA")


def _copy_tags(backend: Any, destination: Any, source: Any) -> bool:
    """Give the destination's copy of ``source`` (same version id) the source's tags; False
    when the destination no longer holds that version."""
    target = next((v for v in destination.keys.getlist(source.name, [])
                   if v.version_id == source.version_id and hasattr(v, "arn")), None)
    if target is None or target is source:
        return False
    backend.tagger.delete_all_tags_for_resource(target.arn)
    backend.tagger.copy_tags(source.arn, target.arn)
    return True


def _copy_delete_marker(destination: Any, marker: Any) -> None:
    from moto.s3.models import FakeDeleteMarker

    current = destination.keys.get(marker.name)
    replica = FakeDeleteMarker(key=current if current is not None else marker.key)
    replica._version_id = marker.version_id
    replica.last_modified = marker.last_modified
    destination.keys[marker.name] = replica  # a versioned key store appends


def _settle(version: Any, *, ok: bool) -> None:
    """Set the source version's status once every destination has answered."""
    if not hasattr(version, "_drlib_replication_outstanding"):
        return  # delete markers carry no replication status
    if not ok:
        version._drlib_replication_failed = True
    version._drlib_replication_outstanding -= 1
    if version._drlib_replication_outstanding <= 0:
        failed = getattr(version, "_drlib_replication_failed", False)
        setattr(version, STATUS_ATTRIBUTE, "FAILED" if failed else "COMPLETED")


# --- metrics -----------------------------------------------------------------------------------

def _dimensions(key: _MetricKey) -> list[dict[str, str]]:
    _, _, source, destination, rule_id = key
    return [{"Name": "SourceBucket", "Value": source},
            {"Name": "DestinationBucket", "Value": destination},
            {"Name": "RuleId", "Value": rule_id}]


def _put(key: _MetricKey, data: list[dict[str, Any]]) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    now = datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC timestamps
    for datum in data:
        datum.setdefault("Timestamp", now)
        datum["Dimensions"] = _dimensions(key)
    account_id, region = key[0], key[1]
    cloudwatch_backends[account_id][region].put_metric_data(METRIC_NAMESPACE, data)


def _publish_delivered(latencies: dict[_MetricKey, list[float]],
                       failures: dict[_MetricKey, int]) -> None:
    for key, values in latencies.items():
        _put(key, [{"MetricName": "ReplicationLatency", "Unit": "Seconds",
                    "StatisticValues": {"SampleCount": float(len(values)), "Sum": sum(values),
                                        "Minimum": min(values), "Maximum": max(values)}}])
    for key, count in failures.items():
        _put(key, [{"MetricName": "OperationsFailedReplication", "Unit": "Count",
                    "Value": float(count)}])


def publish_pending_gauges() -> float | None:
    """Publish the pending gauges of rules whose counts changed (the worker's periodic task).

    A rule keeps being reported, at most once a second, until its pending count is back to
    zero; returns the seconds until the next report is due, or None when nothing is pending.
    """
    now = time.time()
    due: list[tuple[_MetricKey, int, int]] = []
    with _lock:
        for key, last in list(_dirty.items()):
            if now - last >= GAUGE_INTERVAL:
                operations, size = _pending.get(key, [0, 0])
                due.append((key, operations, size))
                del _dirty[key]
                if operations:
                    _dirty[key] = now
        again = GAUGE_INTERVAL if _dirty else None
    for key, operations, size in due:
        _put(key, [{"MetricName": "OperationsPendingReplication", "Unit": "Count",
                    "Value": float(operations)},
                   {"MetricName": "BytesPendingReplication", "Unit": "Bytes",
                    "Value": float(size)}])
    return again


# --- moto patches --------------------------------------------------------------------------------

def _wrap(owner: Any, name: str, make: Maker) -> None:
    wrap_once(owner, name, make, "_drlib_replication")


_locked = locked_by(_data_lock)


def _put_object(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        key = original(self, bucket_name, key_name, *args, **kwargs)
        _on_created(self, bucket_name, key, delete_marker=False)
        return key
    return put_object


def _delete_object(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_object(self: Any, bucket_name: str, key_name: str,
                      version_id: str | None = None, *args: Any, **kwargs: Any) -> Any:
        result = original(self, bucket_name, key_name, version_id, *args, **kwargs)
        _, meta = result
        if version_id is None and meta.get("delete-marker") == "true":
            bucket = self.buckets.get(bucket_name)
            marker = bucket.keys.getlist(key_name, [None])[-1] if bucket else None
            if marker is not None:
                _on_created(self, bucket_name, marker, delete_marker=True)
        return result
    return delete_object


def _put_object_tagging(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_object_tagging(self: Any, key: Any, tags: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, key, tags, *args, **kwargs)
        _on_tags_changed(self, key.bucket_name, key)
        return result
    return put_object_tagging


def _delete_object_tagging(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_object_tagging(self: Any, bucket_name: str, key_name: str,
                              version_id: str | None = None) -> Any:
        result = original(self, bucket_name, key_name, version_id)
        _on_tags_changed(self, bucket_name,
                         self.get_object(bucket_name, key_name, version_id=version_id))
        return result
    return delete_object_tagging


def _put_bucket_replication(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_bucket_replication(self: Any, bucket_name: str, replication: dict[str, Any]) -> Any:
        from moto.s3.exceptions import S3ClientError

        for rule in _as_list(replication.get("Rule")):
            destination = rule.get("Destination") or {}
            if destination.get("Account") not in (None, "", self.account_id):
                continue  # another account's bucket: not visible from here
            name = str(destination.get("Bucket") or "").rsplit(":", 1)[-1]
            bucket = self.buckets.get(name)
            if bucket is None:
                raise S3ClientError("InvalidRequest", "Destination bucket must exist.")
            if not bucket.is_versioned:
                raise S3ClientError("InvalidRequest",
                                    "Destination bucket must have versioning enabled.")
        return original(self, bucket_name, replication)
    return put_bucket_replication


def _request(original: Callable[..., Any]) -> Callable[..., Any]:
    """Queue what a request created once the request is done (its tags and metadata set)."""
    def response(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(_local, "depth", 0)
        if depth == 0:
            _local.created = []
        _local.depth = depth + 1
        try:
            return original(*args, **kwargs)
        finally:
            _local.depth = depth
            if depth == 0:
                created, _local.created = _local.created, []
                for backend, bucket_name, version, delete_marker in created:
                    try:
                        _queue_version(backend, bucket_name, version, delete_marker)
                    except Exception:
                        log.exception("s3 %s/%s: could not queue replication", bucket_name,
                                      getattr(version, "name", "?"))
    return response


def _patch_response_dict() -> None:
    from moto.s3.models import FakeKey

    original: property = FakeKey.__dict__["response_dict"]
    if getattr(original.fget, "_drlib_replication", False):
        return

    def response_dict(self: Any) -> dict[str, Any]:
        headers: dict[str, Any] = original.fget(self)  # type: ignore[misc]
        status = getattr(self, STATUS_ATTRIBUTE, None)
        if status is not None:
            headers["x-amz-replication-status"] = status
        return headers

    response_dict._drlib_replication = True  # type: ignore[attr-defined]
    FakeKey.response_dict = property(response_dict)  # type: ignore[method-assign,assignment]


def describe_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule in GetBucketReplication's shape (keeps its filter and delete markers)."""
    described: dict[str, Any] = {
        "ID": rule.get("ID") or rule.get("Id"),
        "Priority": int(rule.get("Priority") or 0),
        "Status": rule.get("Status"),
        "Destination": rule.get("Destination"),
    }
    if rule.get("SourceSelectionCriteria"):
        described["SourceSelectionCriteria"] = rule["SourceSelectionCriteria"]
    if "Filter" in rule:
        filter_ = dict(rule.get("Filter") or {})
        if isinstance(filter_.get("And"), Mapping):
            and_ = dict(filter_["And"])
            if "Tag" in and_:
                and_["Tags"] = _as_list(and_.pop("Tag"))
            filter_["And"] = and_
        described["Filter"] = filter_
        described["DeleteMarkerReplication"] = rule.get("DeleteMarkerReplication") or {
            "Status": "Disabled"}
    else:
        described["Prefix"] = rule.get("Prefix") or ""
    return described


def _get_bucket_replication(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_bucket_replication(self: Any) -> Any:
        from moto.core.responses import ActionResult

        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            return original(self)  # moto's ReplicationConfigurationNotFoundError
        self.data["Action"] = "GetBucketReplication"
        return self.serialized(ActionResult({"ReplicationConfiguration": {
            "Role": replication.get("Role"),
            "Rules": [describe_rule(r) for r in _as_list(replication.get("Rule"))],
        }}))
    return get_bucket_replication


def reset() -> None:
    """Forget the pending counts (emulator reset; the queue empties itself)."""
    with _lock:
        _pending.clear()
        _dirty.clear()


def install() -> None:
    """Patch moto's S3 backend and responses, register the handler (idempotent)."""
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    replication_queue.install()
    replication_queue.queue.register(STORE, deliver, publish_pending_gauges)
    _wrap(S3Backend, "put_object", _put_object)
    _wrap(S3Backend, "delete_object", _delete_object)
    _wrap(S3Backend, "put_bucket_replication", _put_bucket_replication)
    _wrap(S3Backend, "put_object_tagging", _put_object_tagging)
    _wrap(S3Backend, "delete_object_tagging", _delete_object_tagging)
    for name in ("list_objects", "list_objects_v2", "list_object_versions"):
        _wrap(S3Backend, name, _locked)
    for name in ("key_response", "bucket_response"):
        _wrap(S3Response, name, _request)
    _wrap(S3Response, "get_bucket_replication", _get_bucket_replication)
    _patch_response_dict()
    control.on_reset(reset)
