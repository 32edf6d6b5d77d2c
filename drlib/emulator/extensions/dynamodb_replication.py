"""DynamoDB global tables (version 2019.11.21) on top of moto: replicas, replication, metrics.

moto 5.2.5 keeps no replica set and never replicates. This extension adds:

* **The replica set**, one registry per account: ``UpdateTable`` with ``ReplicaUpdates``
  (``Create``/``Delete``) as on AWS, ``CreateTable`` with ``GlobalTableSourceArn`` (same account
  only), or :func:`register_global_table` for the CloudFormation model of
  ``AWS::DynamoDB::GlobalTable``. A new replica gets the source's key schema, attributes,
  indexes and billing mode, DynamoDB Streams with ``NEW_AND_OLD_IMAGES`` and a copy of the
  existing items; it is ``ACTIVE`` at once. ``DescribeTable`` in every replica region shows
  ``GlobalTableVersion`` and ``Replicas`` (the *other* replica regions, ``ReplicaStatus`` ACTIVE).
  ``DeleteTable`` of a replica removes its region from the set.
* **Replication** driven from the stream: every record moto appends to a replica's stream
  (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems; a transaction only once it
  commits) becomes a pending write to every other replica region, applied by the shared
  :mod:`drlib.emulator.replication_queue` after ``faults.replication_delay("dynamodb")``.
  Applied writes appear in the receiving replica's stream, as on AWS, but are never replicated
  again. Conflicts resolve per item by **last writer wins**: each replica keeps, out of the
  client's sight, the time and origin region of the write that produced an item (AWS keeps
  ``aws:rep:updatetime``); an incoming write older than that is dropped, ties go to the higher
  region name, so all replicas converge on the newest write.
* **ReplicationLatency** (namespace ``AWS/DynamoDB``, dimensions ``TableName`` and
  ``ReceivingRegion``, unit Milliseconds) in the *source* region's CloudWatch: one statistic set
  (SampleCount, Sum, Minimum, Maximum) per table, receiving region and worker cycle, measured
  from write acknowledged to applied in the receiving region.

Faults (pause, delay, region down) act through the queue; see its module documentation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drlib.emulator import control, replication_queue
from drlib.emulator.patching import Maker, locked_by, wrap_once
from drlib.emulator.replication_queue import PendingWrite

log = logging.getLogger(__name__)

STORE = "dynamodb"
GLOBAL_TABLE_VERSION = "2019.11.21"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
METRIC_NAMESPACE = "AWS/DynamoDB"

_registry_lock = threading.RLock()
_replicas: dict[tuple[str, str], set[str]] = {}  # (account, table) -> replica regions

# Which write produced each item in each replica: key -> (acknowledged at, origin region).
_ItemVersion = tuple[float, str]
_item_versions: dict[tuple[str, str, str], dict[str, _ItemVersion]] = {}

# Held while an item is written together with its version, and while a table is read by
# iteration: the replication worker writes from its own thread (moto has no locking).
_data_lock = threading.RLock()
_local = threading.local()  # .replicating: bool, .transaction: list[_ItemChange] | None


@dataclass(frozen=True)
class _ItemChange:
    """One stream record of a replica, as replication needs it."""

    account_id: str
    table_name: str
    origin_region: str
    keys: dict[str, Any]  # DynamoDB JSON of the key attributes
    new_image: dict[str, Any] | None  # DynamoDB JSON of the whole item; None for a delete
    acknowledged_at: float

    @property
    def key_id(self) -> str:
        return json.dumps(self.keys, sort_keys=True)


# --- the replica set --------------------------------------------------------------------------

def register_global_table(account_id: str, table_name: str, regions: Iterable[str]) -> None:
    """Make ``table_name`` in every one of ``regions`` a replica of one global table.

    For the CloudFormation model of ``AWS::DynamoDB::GlobalTable``. The table must exist in at
    least one of the regions; it is created, like the first existing one, where it is missing.
    Every replica gets streams with ``NEW_AND_OLD_IMAGES``. Idempotent; regions are added to an
    existing global table, never removed (use :func:`remove_replica`).
    """
    wanted = list(dict.fromkeys(regions))
    existing = [r for r in wanted if _find_table(account_id, r, table_name) is not None]
    if not existing:
        raise ValueError(f"table {table_name!r} exists in none of {', '.join(wanted)} "
                         f"(account {account_id}); create it in one region first")
    template = _table(account_id, existing[0], table_name)
    for region in existing:
        _enable_replication_stream(_table(account_id, region, table_name))
    with _registry_lock:
        members = _replicas.setdefault((account_id, table_name), set())
        members.update(existing)
    for region in wanted:
        if region not in existing:
            add_replica(account_id, table_name, template.region_name, region)


def add_replica(account_id: str, table_name: str, source_region: str, new_region: str) -> None:
    """Create the replica of ``table_name`` in ``new_region`` from the one in ``source_region``.

    What ``UpdateTable(ReplicaUpdates=[{"Create": {"RegionName": new_region}}])`` does: same key
    schema, attributes, indexes, billing mode and encryption, streams on, existing items copied.
    """
    from moto.dynamodb.exceptions import MockValidationException

    source = _table(account_id, source_region, table_name)
    if new_region == source_region:
        raise MockValidationException(
            f"Cannot add replica in {new_region}: the table is already in that region")
    if new_region in replica_regions(account_id, table_name):
        raise MockValidationException(
            f"Failed to create a the new replica of table with name: '{table_name}' because "
            "one or more replicas already existed as tables.")
    if _find_table(account_id, new_region, table_name) is not None:
        raise MockValidationException(
            f"Failed to create a the new replica of table with name: '{table_name}' because "
            f"a table with that name already exists in {new_region}.")
    _enable_replication_stream(source)
    _create_like(source, new_region)
    with _registry_lock:
        members = _replicas.setdefault((account_id, table_name), set())
        members.update({source_region, new_region})
    _copy_items(source, _table(account_id, new_region, table_name))
    log.info("dynamodb %s: replica added in %s (from %s)", table_name, new_region, source_region)


def remove_replica(account_id: str, table_name: str, region: str, *, delete_table: bool = True
                   ) -> None:
    """Take ``region`` out of the global table (and delete its replica table by default)."""
    with _registry_lock:
        members = _replicas.get((account_id, table_name))
        if members is not None:
            members.discard(region)
            if len(members) < 2:
                del _replicas[(account_id, table_name)]
    if delete_table and _find_table(account_id, region, table_name) is not None:
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends[account_id][region].tables.pop(table_name, None)
    with _data_lock:
        _item_versions.pop((account_id, region, table_name), None)


def replica_regions(account_id: str, table_name: str) -> list[str]:
    """Every region with a replica of ``table_name``, sorted; empty if it is not global."""
    with _registry_lock:
        return sorted(_replicas.get((account_id, table_name), ()))


def _other_regions(account_id: str, table_name: str, region: str) -> list[str]:
    with _registry_lock:
        members = _replicas.get((account_id, table_name))
        if not members or region not in members:
            return []
        return sorted(members - {region})


def _find_table(account_id: str, region: str, table_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account_id][region].tables.get(table_name)


def _table(account_id: str, region: str, table_name: str) -> Any:
    table = _find_table(account_id, region, table_name)
    if table is None:
        from moto.dynamodb.exceptions import ResourceNotFoundException

        raise ResourceNotFoundException(table_name=table_name)
    return table


def _enable_replication_stream(table: Any) -> None:
    """Global tables replicate from a NEW_AND_OLD_IMAGES stream; turn it on where it is off."""
    from moto.dynamodb.exceptions import MockValidationException

    spec = table.stream_specification or {}
    if not spec.get("StreamEnabled"):
        table.set_stream_specification({"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE})
    elif spec.get("StreamViewType") != STREAM_VIEW_TYPE:
        raise MockValidationException(
            f"Table {table.name} has a stream with view type {spec.get('StreamViewType')}; "
            f"global tables need {STREAM_VIEW_TYPE}")


def _create_like(source: Any, region: str) -> None:
    from moto.dynamodb.models import dynamodb_backends

    throughput = {k: v for k, v in source.throughput.items() if k != "NumberOfDecreasesToday"}
    dynamodb_backends[source.account_id][region].create_table(
        source.name,
        schema=[dict(e) for e in source.schema],
        throughput=throughput if source.billing_mode != "PAY_PER_REQUEST" else None,
        attr=[dict(a) for a in source.attr],
        global_indexes=[_index_definition(i) for i in source.global_indexes],
        indexes=[_index_definition(i) for i in source.indexes],
        streams={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
        billing_mode=source.billing_mode,
        sse_specification=dict(source.sse_specification) if source.sse_specification else None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )


def _index_definition(index: Any) -> dict[str, Any]:
    described = index.describe()
    keep = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
    return {k: described[k] for k in keep if k in described}


def _copy_items(source: Any, target: Any) -> None:
    with _data_lock:
        _local.replicating = True
        try:
            for item in source.all_items():
                target.put_item(item.to_json()["Attributes"], overwrite=True)
        finally:
            _local.replicating = False
        versions = _item_versions.get((source.account_id, source.region_name, source.name), {})
        _item_versions[(target.account_id, target.region_name, target.name)] = dict(versions)


# --- from stream record to pending writes ----------------------------------------------------

def _on_stream_record(table: Any, old: Any, new: Any) -> None:
    """Called for every record moto appends to a table's stream."""
    if getattr(_local, "replicating", False):
        return  # a replicated write: recorded in the stream, never replicated again
    if not _other_regions(table.account_id, table.name, table.region_name):
        return
    record_item = old if old is not None else new
    keys = {table.hash_key_attr: record_item.hash_key.to_json()}
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = record_item.range_key.to_json()
    change = _ItemChange(
        account_id=table.account_id, table_name=table.name, origin_region=table.region_name,
        keys=keys, new_image=new.to_json()["Attributes"] if new is not None else None,
        acknowledged_at=time.time())
    buffered = getattr(_local, "transaction", None)
    if buffered is not None:
        buffered.append(change)  # a transaction replicates only if it commits
    else:
        _commit([change])


def _commit(changes: list[_ItemChange]) -> None:
    writes: list[PendingWrite] = []
    with _data_lock:
        for change in changes:
            versions = _item_versions.setdefault(
                (change.account_id, change.origin_region, change.table_name), {})
            versions[change.key_id] = (change.acknowledged_at, change.origin_region)
    for change in changes:
        for region in _other_regions(change.account_id, change.table_name, change.origin_region):
            writes.append(PendingWrite(
                store=STORE, resource=f"{change.account_id}/{change.table_name}",
                source_region=change.origin_region, destination_region=region, payload=change,
                acknowledged_at=change.acknowledged_at))
    if writes:
        replication_queue.queue.put(writes)


# --- applying writes in the receiving region -------------------------------------------------

_Latency = tuple[str, str, str, str]  # (account, source region, table, receiving region)


def deliver(writes: list[PendingWrite]) -> None:
    """Apply due writes to their receiving replicas (LWW) and publish ReplicationLatency."""
    latencies: dict[_Latency, list[float]] = {}
    for write in writes:
        change: _ItemChange = write.payload
        try:
            applied = _apply(change, write.destination_region)
        except Exception:
            # A write the receiving replica refuses fails alone; the rest of the batch goes on.
            log.exception("dynamodb %s: replicating %s to %s failed", change.table_name,
                          change.key_id, write.destination_region)
            continue
        if applied:
            applied_at = time.time()
            key = (change.account_id, change.origin_region, change.table_name,
                   write.destination_region)
            latencies.setdefault(key, []).append((applied_at - write.acknowledged_at) * 1000.0)
    _publish_latency(latencies)


def _apply(change: _ItemChange, region: str) -> bool:
    """Apply one write in ``region``; False if the replica no longer exists there."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _find_table(change.account_id, region, change.table_name)
    if table is None:
        log.debug("dynamodb %s: no replica in %s any more; write dropped", change.table_name,
                  region)
        return False
    incoming: _ItemVersion = (change.acknowledged_at, change.origin_region)
    with _data_lock:
        versions = _item_versions.setdefault((change.account_id, region, change.table_name), {})
        current = versions.get(change.key_id)
        if current is not None and current > incoming:
            return True  # last writer wins: the receiving replica holds a newer write
        _local.replicating = True
        try:
            if change.new_image is not None:
                table.put_item(change.new_image, overwrite=True)
            else:
                hash_key = DynamoType(change.keys[table.hash_key_attr])
                range_key = (DynamoType(change.keys[table.range_key_attr])
                             if table.range_key_attr is not None else None)
                table.delete_item(hash_key, range_key)
        finally:
            _local.replicating = False
        versions[change.key_id] = incoming
    return True


def _publish_latency(latencies: dict[_Latency, list[float]]) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    now = datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC timestamps
    for (account_id, source_region, table_name, receiving), values in latencies.items():
        cloudwatch_backends[account_id][source_region].put_metric_data(METRIC_NAMESPACE, [{
            "MetricName": "ReplicationLatency",
            "Dimensions": [{"Name": "TableName", "Value": table_name},
                           {"Name": "ReceivingRegion", "Value": receiving}],
            "Timestamp": now,
            "Unit": "Milliseconds",
            "StatisticValues": {"SampleCount": float(len(values)), "Sum": sum(values),
                                "Minimum": min(values), "Maximum": max(values)},
        }])


# --- moto patches -----------------------------------------------------------------------------

def _wrap(owner: Any, name: str, make: Maker) -> None:
    wrap_once(owner, name, make, "_drlib_replication")


_locked = locked_by(_data_lock)


def _stream_add(original: Callable[..., Any]) -> Callable[..., Any]:
    def add(self: Any, old: Any, new: Any) -> None:
        original(self, old, new)
        if self.items:
            # moto writes "us-east-1" into every record; a replica's stream names its region.
            self.items[-1].record["awsRegion"] = self.table.region_name
        _on_stream_record(self.table, old, new)
    return add


def _transact(original: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _data_lock:
            outer = getattr(_local, "transaction", None)
            _local.transaction = []
            try:
                result = original(self, *args, **kwargs)
                changes = _local.transaction
            finally:
                _local.transaction = outer
            _commit(changes)
            return result
    return transact_write_items


def _describe(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        result: dict[str, Any] = original(self, base_key)
        others = _other_regions(self.account_id, self.name, self.region_name)
        if others:
            result[base_key]["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
            result[base_key]["Replicas"] = [
                {"RegionName": region, "ReplicaStatus": "ACTIVE",
                 "ReplicaTableClassSummary": {"TableClass": "STANDARD"}}
                for region in others]
        return result
    return describe


def _delete_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_table(self: Any, name: str) -> Any:
        table = original(self, name)
        if self.region_name in replica_regions(self.account_id, name):
            remove_replica(self.account_id, name, self.region_name, delete_table=False)
        return table
    return delete_table


def _update_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_table(self: Any) -> Any:
        updates = self.body.get("ReplicaUpdates") or []
        backend = self.dynamodb_backend
        for update in updates:
            if "Create" in update:
                add_replica(backend.account_id, self.body["TableName"], backend.region_name,
                            update["Create"]["RegionName"])
            elif "Delete" in update:
                remove_replica(backend.account_id, self.body["TableName"],
                               update["Delete"]["RegionName"])
        return original(self)
    return update_table


def _create_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_table(self: Any) -> Any:
        source_arn = self.body.get("GlobalTableSourceArn")
        if not source_arn:
            return original(self)
        from moto.dynamodb.exceptions import MockValidationException
        from moto.dynamodb.responses import DynamoResult

        backend = self.dynamodb_backend
        parts = str(source_arn).split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("table/"):
            raise MockValidationException(f"Invalid GlobalTableSourceArn: {source_arn}")
        source_region, source_account, source_table = parts[3], parts[4], parts[5][6:]
        if source_account != backend.account_id or source_table != self.body["TableName"]:
            raise MockValidationException(
                "The emulator joins a global table only from a table of the same name in the "
                f"same account; got {source_arn} for {self.body['TableName']}")
        add_replica(backend.account_id, source_table, source_region, backend.region_name)
        return DynamoResult(backend.get_table(source_table).describe())
    return create_table


def reset() -> None:
    """Forget every global table and item version (emulator reset)."""
    with _registry_lock:
        _replicas.clear()
    with _data_lock:
        _item_versions.clear()


def install() -> None:
    """Patch moto's DynamoDB backend and register the replication handler (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.dynamodb.responses import DynamoHandler

    replication_queue.install()
    replication_queue.queue.register(STORE, deliver)
    _wrap(StreamShard, "add", _stream_add)
    _wrap(Table, "describe", _describe)
    for name in ("put_item", "update_item", "delete_item"):
        _wrap(DynamoDBBackend, name, _locked)
    _wrap(DynamoDBBackend, "transact_write_items", _transact)
    _wrap(DynamoDBBackend, "delete_table", _delete_table)
    for name in ("scan", "query", "all_items", "__len__"):
        _wrap(Table, name, _locked)
    _wrap(DynamoHandler, "update_table", _update_table)
    _wrap(DynamoHandler, "create_table", _create_table)
    control.on_reset(reset)
