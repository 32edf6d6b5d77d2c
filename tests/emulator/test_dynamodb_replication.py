"""DynamoDB global tables in the emulator: replicas, replication, faults, conflicts, metrics."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drlib.aws import AwsClients, RegionPair
from drlib.emulator import faults
from drlib.emulator.extensions import dynamodb_replication
from drlib.emulator.replication_queue import queue
from drlib.waiting import wait_until

TABLE = "orders"
ACCOUNT = "123456789012"  # moto's default account


def _create_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"},
                              {"AttributeName": "gsi", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-gsi",
                                 "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST")


def _key(pk: str, sk: int = 0) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def _get(client: Any, pk: str, sk: int = 0) -> dict[str, Any] | None:
    item: dict[str, Any] | None = client.get_item(TableName=TABLE, Key=_key(pk, sk)).get("Item")
    return item


@pytest.fixture
def pair(aws: AwsClients, regions: RegionPair) -> tuple[Any, Any]:
    """A global table with replicas in both regions: (primary client, secondary client)."""
    east = aws.client("dynamodb", regions.primary)
    west = aws.client("dynamodb", regions.secondary)
    _create_table(east)
    east.update_table(TableName=TABLE,
                      ReplicaUpdates=[{"Create": {"RegionName": regions.secondary}}])
    return east, west


def _arrives(client: Any, pk: str, sk: int = 0, timeout: float = 5.0) -> dict[str, Any]:
    item: dict[str, Any] = wait_until(lambda: _get(client, pk, sk),
                                      description=f"item {pk}/{sk} to replicate",
                                      timeout=timeout, interval=0.01, backoff=1.2)
    return item


def _stream_records(client_streams: Any, client: Any) -> list[dict[str, Any]]:
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = client_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = client_streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    records: list[dict[str, Any]] = client_streams.get_records(
        ShardIterator=iterator["ShardIterator"])["Records"]
    return records


def test_update_table_creates_an_active_replica_like_the_source(
        aws: AwsClients, regions: RegionPair) -> None:
    """ReplicaUpdates Create builds the replica with the same schema and items; both list it."""
    east = aws.client("dynamodb", regions.primary)
    west = aws.client("dynamodb", regions.secondary)
    _create_table(east)
    east.put_item(TableName=TABLE, Item={**_key("before"), "gsi": {"S": "g"}})
    answer = east.update_table(TableName=TABLE,
                               ReplicaUpdates=[{"Create": {"RegionName": regions.secondary}}])
    assert answer["TableDescription"]["Replicas"][0]["RegionName"] == regions.secondary
    described = {r: c.describe_table(TableName=TABLE)["Table"]
                 for r, c in ((regions.primary, east), (regions.secondary, west))}
    for region, table in described.items():
        assert table["GlobalTableVersion"] == "2019.11.21"
        assert [(x["RegionName"], x["ReplicaStatus"]) for x in table["Replicas"]] == [
            (regions.other(region), "ACTIVE")]
        assert table["StreamSpecification"] == {"StreamEnabled": True,
                                                "StreamViewType": "NEW_AND_OLD_IMAGES"}
    west_table = described[regions.secondary]
    assert west_table["KeySchema"] == described[regions.primary]["KeySchema"]
    assert [i["IndexName"] for i in west_table["GlobalSecondaryIndexes"]] == ["by-gsi"]
    assert west_table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert _get(west, "before") == {**_key("before"), "gsi": {"S": "g"}}


def test_register_global_table_creates_missing_replicas(
        aws: AwsClients, regions: RegionPair) -> None:
    """The CloudFormation entry point makes replicas where the table is missing and links them."""
    east = aws.client("dynamodb", regions.primary)
    west = aws.client("dynamodb", regions.secondary)
    _create_table(east)
    dynamodb_replication.register_global_table(ACCOUNT, TABLE,
                                               [regions.primary, regions.secondary])
    assert dynamodb_replication.replica_regions(ACCOUNT, TABLE) == sorted(
        [regions.primary, regions.secondary])
    east.put_item(TableName=TABLE, Item=_key("via-cfn"))
    assert _arrives(west, "via-cfn") == _key("via-cfn")


def test_create_table_with_a_source_arn_joins_the_global_table(
        aws: AwsClients, regions: RegionPair) -> None:
    """CreateTable with GlobalTableSourceArn creates a replica of that table in its region."""
    east = aws.client("dynamodb", regions.primary)
    west = aws.client("dynamodb", regions.secondary)
    _create_table(east)
    source_arn = east.describe_table(TableName=TABLE)["Table"]["TableArn"]
    answer = west.create_table(TableName=TABLE, GlobalTableSourceArn=source_arn)
    assert answer["TableDescription"]["Replicas"][0]["RegionName"] == regions.primary
    west.put_item(TableName=TABLE, Item=_key("from-west"))
    assert _arrives(east, "from-west") == _key("from-west")


def test_register_global_table_needs_the_table_somewhere(clean_emulator: object) -> None:
    """Registering a table that exists in no region is refused, naming the table."""
    with pytest.raises(ValueError, match="'ghost' exists in none of"):
        dynamodb_replication.register_global_table(ACCOUNT, "ghost", ["us-east-1"])


def test_every_write_api_replicates(pair: tuple[Any, Any]) -> None:
    """PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems all reach the peer."""
    east, west = pair
    east.put_item(TableName=TABLE, Item={**_key("put"), "v": {"N": "1"}})
    east.put_item(TableName=TABLE, Item={**_key("gone"), "v": {"N": "1"}})
    east.update_item(TableName=TABLE, Key=_key("upd"), UpdateExpression="SET v = :v",
                     ExpressionAttributeValues={":v": {"S": "updated"}})
    east.batch_write_item(RequestItems={TABLE: [
        {"PutRequest": {"Item": {**_key("batch", 1)}}},
        {"PutRequest": {"Item": {**_key("batch", 2)}}}]})
    east.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {**_key("tx"), "v": {"S": "tx"}}}},
        {"Update": {"TableName": TABLE, "Key": _key("put"), "UpdateExpression": "SET w = :w",
                    "ExpressionAttributeValues": {":w": {"S": "w"}}}}])
    _arrives(west, "gone")
    east.delete_item(TableName=TABLE, Key=_key("gone"))
    assert _arrives(west, "upd")["v"] == {"S": "updated"}
    assert _arrives(west, "batch", 2) == _key("batch", 2)
    assert _arrives(west, "tx")["v"] == {"S": "tx"}
    wait_until(lambda: _get(west, "put") == {**_key("put"), "v": {"N": "1"}, "w": {"S": "w"}},
               description="the transactional update to replicate", timeout=5, interval=0.01)
    wait_until(lambda: _get(west, "gone") is None, description="the delete to replicate",
               timeout=5, interval=0.01)


def test_writes_replicate_both_ways_without_echo(aws: AwsClients, regions: RegionPair,
                                                 pair: tuple[Any, Any]) -> None:
    """Each region's writes reach the other once; replicated writes are not sent back."""
    east, west = pair
    east.put_item(TableName=TABLE, Item=_key("from-east"))
    west.put_item(TableName=TABLE, Item=_key("from-west"))
    _arrives(west, "from-east")
    _arrives(east, "from-west")
    wait_until(queue.idle, description="the replication queue to drain", timeout=5)
    for region, client in ((regions.primary, east), (regions.secondary, west)):
        records = _stream_records(aws.client("dynamodbstreams", region), client)
        # One local INSERT and one replicated INSERT in each stream, nothing more.
        assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in records) == [
            "from-east", "from-west"]
        assert {r["awsRegion"] for r in records} == {region}


def test_a_failed_transaction_is_not_replicated(pair: tuple[Any, Any]) -> None:
    """A cancelled TransactWriteItems leaves nothing to replicate."""
    east, west = pair
    east.put_item(TableName=TABLE, Item=_key("exists"))
    _arrives(west, "exists")
    with pytest.raises(east.exceptions.TransactionCanceledException):
        east.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _key("tx-rolled-back")}},
            {"Put": {"TableName": TABLE, "Item": _key("exists"),
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    wait_until(queue.idle, description="the replication queue to drain", timeout=5)
    assert _get(east, "tx-rolled-back") is None
    assert _get(west, "tx-rolled-back") is None


def test_pause_then_resume_delivers_everything_in_order(pair: tuple[Any, Any]) -> None:
    """While paused nothing arrives; on resume every write arrives and the last version wins."""
    east, west = pair
    faults.pause_replication("dynamodb")
    for version in range(30):
        east.put_item(TableName=TABLE, Item={**_key("hot"), "v": {"N": str(version)}})
    for n in range(20):
        east.put_item(TableName=TABLE, Item=_key("cold", n))
    assert len(queue.pending(lambda w: w.store == "dynamodb")) == 50
    assert _get(west, "hot") is None
    faults.resume_replication("dynamodb")
    wait_until(queue.idle, description="the replication queue to drain", timeout=10)
    assert _get(west, "hot") == {**_key("hot"), "v": {"N": "29"}}
    assert all(_get(west, "cold", n) for n in range(20))


def test_a_downed_region_neither_sends_nor_receives(regions: RegionPair,
                                                    pair: tuple[Any, Any]) -> None:
    """Writes queued in a region that goes down wait for it; so do writes meant for it."""
    east, west = pair
    faults.pause_replication("dynamodb")
    east.put_item(TableName=TABLE, Item=_key("acked-before-outage"))
    faults.take_region_down(regions.primary)
    faults.resume_replication("dynamodb")
    west.put_item(TableName=TABLE, Item=_key("written-during-outage"))
    time.sleep(0.5)  # give the worker the chance to (wrongly) deliver
    held = queue.pending(lambda w: w.store == "dynamodb")
    assert sorted((w.source_region, w.payload.keys["pk"]["S"]) for w in held) == [
        (regions.primary, "acked-before-outage"), (regions.secondary, "written-during-outage")]
    assert _get(west, "acked-before-outage") is None
    faults.bring_region_up(regions.primary)
    _arrives(west, "acked-before-outage")
    _arrives(east, "written-during-outage")


@pytest.mark.parametrize("order", [("primary", "secondary"), ("secondary", "primary")])
def test_concurrent_writes_converge_on_the_last_writer(
        regions: RegionPair, pair: tuple[Any, Any], order: tuple[str, str]) -> None:
    """Conflicting writes to one key in both regions end as the later write in both regions."""
    clients = {"primary": pair[0], "secondary": pair[1]}
    faults.pause_replication("dynamodb")  # both writes happen before either replicates
    for side in order:
        clients[side].put_item(TableName=TABLE, Item={**_key("k"), "by": {"S": side}})
        time.sleep(0.01)  # distinct timestamps
    faults.resume_replication("dynamodb")
    wait_until(queue.idle, description="the replication queue to drain", timeout=5)
    winner = order[-1]
    assert _get(clients["primary"], "k") == {**_key("k"), "by": {"S": winner}}
    assert _get(clients["secondary"], "k") == {**_key("k"), "by": {"S": winner}}


def test_a_newer_delete_beats_an_older_put(pair: tuple[Any, Any]) -> None:
    """Last writer wins applies to deletes too: a later delete removes the item everywhere."""
    east, west = pair
    east.put_item(TableName=TABLE, Item=_key("d"))
    _arrives(west, "d")
    faults.pause_replication("dynamodb")
    east.put_item(TableName=TABLE, Item={**_key("d"), "v": {"S": "older put"}})
    time.sleep(0.01)
    west.delete_item(TableName=TABLE, Key=_key("d"))
    faults.resume_replication("dynamodb")
    wait_until(queue.idle, description="the replication queue to drain", timeout=5)
    assert _get(east, "d") is None
    assert _get(west, "d") is None


def test_replication_latency_metric_in_the_source_region(
        aws: AwsClients, regions: RegionPair, pair: tuple[Any, Any]) -> None:
    """ReplicationLatency (ms) is published in the writer's region per table and receiver."""
    east, west = pair
    for n in range(5):
        east.put_item(TableName=TABLE, Item=_key("m", n))
    _arrives(west, "m", 4)
    wait_until(queue.idle, description="the replication queue to drain", timeout=5)
    now = datetime.now(UTC)
    query = {"Namespace": "AWS/DynamoDB", "MetricName": "ReplicationLatency",
             "Dimensions": [{"Name": "TableName", "Value": TABLE},
                            {"Name": "ReceivingRegion", "Value": regions.secondary}],
             "StartTime": now - timedelta(minutes=5), "EndTime": now + timedelta(minutes=1),
             "Period": 600, "Statistics": ["SampleCount", "Maximum"]}
    points = aws.client("cloudwatch", regions.primary).get_metric_statistics(**query)
    assert sum(p["SampleCount"] for p in points["Datapoints"]) == 5
    assert all(p["Unit"] == "Milliseconds" for p in points["Datapoints"])
    elsewhere = aws.client("cloudwatch", regions.secondary).get_metric_statistics(**query)
    assert elsewhere["Datapoints"] == []


def test_deleting_a_replica_removes_it_from_the_set(regions: RegionPair,
                                                    pair: tuple[Any, Any]) -> None:
    """DeleteTable on a replica ends replication; the survivor no longer lists replicas."""
    east, west = pair
    west.delete_table(TableName=TABLE)
    assert "Replicas" not in east.describe_table(TableName=TABLE)["Table"]
    east.put_item(TableName=TABLE, Item=_key("after"))
    assert queue.pending(lambda w: w.store == "dynamodb") == []


@pytest.mark.slow
def test_ten_thousand_batch_writes_all_replicate(pair: tuple[Any, Any]) -> None:
    """10,000 items written with BatchWriteItem all reach the other region, none lost."""
    east, west = pair
    total = 10_000
    for start in range(0, total, 25):
        east.batch_write_item(RequestItems={TABLE: [
            {"PutRequest": {"Item": {**_key("bulk", n), "payload": {"S": f"value-{n}"}}}}
            for n in range(start, start + 25)]})
    wait_until(queue.idle, description="10,000 writes to replicate", timeout=60)
    seen: set[int] = set()
    kwargs: dict[str, Any] = {"TableName": TABLE}
    while True:
        page = west.scan(**kwargs)
        seen.update(int(item["sk"]["N"]) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == set(range(total))


@pytest.mark.slow
def test_measured_delay_matches_the_configured_delay(pair: tuple[Any, Any]) -> None:
    """With a 0.5 s delay, write-to-visible in the other region has a median of 0.5 ± 0.25 s."""
    east, west = pair
    faults.set_replication_delay("dynamodb", 0.5)
    lags = []
    for n in range(15):
        east.put_item(TableName=TABLE, Item=_key("lag", n))
        acknowledged = time.monotonic()
        assert _get(west, "lag", n) is None  # not there at once
        _arrives(west, "lag", n)
        lags.append(time.monotonic() - acknowledged)
    assert 0.25 <= statistics.median(lags) <= 0.75, lags
    assert min(lags) >= 0.4, lags  # never (much) earlier than configured
