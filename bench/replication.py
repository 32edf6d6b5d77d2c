"""How fast the emulator replicates DynamoDB global tables and S3 buckets, at delay 0.

Runs an in-process emulator and measures, for each store:

* **apply rate**: writes queued while replication is paused, then resumed; writes applied in the
  other region per second by the replication worker alone;
* **end-to-end rate**: writes per second from the first write acknowledged to the last one
  visible in the other region with replication running (bounded by how fast moto accepts writes);
* **delay**: write acknowledged to visible in the other region, measured by a reader polling
  every 2 ms, one write at a time: median and 90th percentile.

Usage: ``uv run python bench/replication.py [--dynamodb-writes N] [--s3-objects N] [--samples N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from drlib.aws import AwsClients, RegionPair
from drlib.emulator import faults
from drlib.emulator.replication_queue import queue
from drlib.emulator.server import running_emulator
from drlib.waiting import wait_until

TABLE = "bench-table"
SOURCE, DESTINATION = "bench-east", "bench-west"


@dataclass
class Result:
    store: str
    writes: int
    apply_rate: float
    end_to_end_rate: float
    delay_median_ms: float
    delay_p90_ms: float


def _drain(timeout: float = 300) -> None:
    wait_until(queue.idle, description="the replication queue to drain", timeout=timeout,
               interval=0.005, backoff=1.0)


def _apply_rate(write_all: Callable[[str], None], store: str) -> float:
    faults.pause_replication(store)
    count = len(queue.pending())
    write_all("paused")
    count = len(queue.pending()) - count
    started = time.perf_counter()
    faults.resume_replication(store)
    _drain()
    return count / (time.perf_counter() - started)


def _delays(write_one: Callable[[int], None], visible: Callable[[int], bool],
            samples: int) -> list[float]:
    delays = []
    for n in range(samples):
        write_one(n)
        acknowledged = time.perf_counter()
        wait_until(lambda n=n: visible(n), description="a write to replicate", timeout=10,
                   interval=0.002, backoff=1.0)
        delays.append(time.perf_counter() - acknowledged)
    return delays


def _summary(store: str, writes: int, apply_rate: float, end_to_end: float,
             delays: list[float]) -> Result:
    ordered = sorted(delays)
    return Result(store, writes, apply_rate, end_to_end, statistics.median(ordered) * 1000,
                  ordered[int(0.9 * (len(ordered) - 1))] * 1000)


def bench_dynamodb(clients: AwsClients, regions: RegionPair, writes: int, samples: int
                   ) -> Result:
    east = clients.client("dynamodb", regions.primary)
    west = clients.client("dynamodb", regions.secondary)
    east.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      BillingMode="PAY_PER_REQUEST")
    east.update_table(TableName=TABLE,
                      ReplicaUpdates=[{"Create": {"RegionName": regions.secondary}}])

    def write_all(tag: str) -> None:
        for start in range(0, writes, 25):
            east.batch_write_item(RequestItems={TABLE: [
                {"PutRequest": {"Item": {"pk": {"S": f"{tag}-{n}"}, "v": {"S": "x" * 100}}}}
                for n in range(start, min(start + 25, writes))]})

    def visible(key: str) -> bool:
        return "Item" in west.get_item(TableName=TABLE, Key={"pk": {"S": key}})

    apply_rate = _apply_rate(write_all, "dynamodb")
    started = time.perf_counter()
    write_all("live")
    wait_until(lambda: visible(f"live-{writes - 1}"), description="the last write", timeout=300,
               interval=0.005, backoff=1.0)
    end_to_end = writes / (time.perf_counter() - started)
    delays = _delays(lambda n: east.put_item(TableName=TABLE, Item={"pk": {"S": f"d-{n}"}}),
                     lambda n: visible(f"d-{n}"), samples)
    return _summary("dynamodb", writes, apply_rate, end_to_end, delays)


def bench_s3(clients: AwsClients, regions: RegionPair, objects: int, samples: int) -> Result:
    east = clients.client("s3", regions.primary)
    west = clients.client("s3", regions.secondary)
    east.create_bucket(Bucket=SOURCE)
    west.create_bucket(Bucket=DESTINATION,
                       CreateBucketConfiguration={"LocationConstraint": regions.secondary})
    for client, bucket in ((east, SOURCE), (west, DESTINATION)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    east.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/bench",
        "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}",
                                   "Metrics": {"Status": "Enabled"}}}]})

    def put(key: str) -> Any:
        return east.put_object(Bucket=SOURCE, Key=key, Body=b"x" * 100)

    def write_all(tag: str) -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: put(f"{tag}/{n:06d}"), range(objects)))

    def visible(key: str) -> bool:
        try:
            west.head_object(Bucket=DESTINATION, Key=key)
        except west.exceptions.ClientError:
            return False
        return True

    apply_rate = _apply_rate(write_all, "s3")
    started = time.perf_counter()
    write_all("live")
    _drain()  # four writers finish in any order: wait for the queue, then check every object
    end_to_end = objects / (time.perf_counter() - started)
    missing = [n for n in range(objects) if not visible(f"live/{n:06d}")]
    if missing:
        raise SystemExit(f"{len(missing)} S3 objects did not replicate, e.g. live/{missing[0]}")
    delays = _delays(lambda n: put(f"d/{n}"), lambda n: visible(f"d/{n}"), samples)
    return _summary("s3", objects, apply_rate, end_to_end, delays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dynamodb-writes", type=int, default=10_000)
    parser.add_argument("--s3-objects", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=50, help="delay samples per store")
    args = parser.parse_args()
    regions = RegionPair()
    with running_emulator() as emulator:
        clients = AwsClients(endpoint_url=emulator.endpoint_url,
                             credentials={"aws_access_key_id": "testing",
                                          "aws_secret_access_key": "testing"})
        results = [bench_dynamodb(clients, regions, args.dynamodb_writes, args.samples),
                   bench_s3(clients, regions, args.s3_objects, args.samples)]
    print(f"{'store':<9} {'writes':>7} {'apply/s':>9} {'end-to-end/s':>13} "
          f"{'delay p50 ms':>13} {'delay p90 ms':>13}")
    for r in results:
        print(f"{r.store:<9} {r.writes:>7} {r.apply_rate:>9.0f} {r.end_to_end_rate:>13.0f} "
              f"{r.delay_median_ms:>13.1f} {r.delay_p90_ms:>13.1f}")
    print("delay 0 (faults.replication_delay default); in-process emulator, moto "
          "over HTTP on 127.0.0.1")


if __name__ == "__main__":
    main()
