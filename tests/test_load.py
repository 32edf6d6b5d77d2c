"""The load's records, reconciliation and figures (no emulator): exact at volume, recomputable.

The distributed run itself (a master and two workers on loopback) is in
tests/test_load_distributed.py (slow).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drlib import load
from drlib.aws import RegionPair
from drlib.workload import RegionalStack, Workload

EAST, WEST = "us-east-1", "us-west-2"
REGIONS = [EAST, WEST]
T0 = 1_800_000_000_000_000  # microseconds since the epoch


def synthetic(n: int, stores: tuple[str, ...] = ("aurora", "dynamodb", "s3"),
              streams: int = 2, fail_every: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``writes.csv`` and ``sightings.csv`` as the Collector writes them: ``n`` attempts spread
    over the stores and streams, one every 100 us, acknowledged after 2 ms, seen in the other
    region 30 ms later (resolution 10 ms); every ``fail_every``-th attempt rejected."""
    idx = np.arange(n)
    store = np.array(stores)[idx % len(stores)]
    stream = np.array([f"load-x-s{k}" for k in range(streams)])[(idx // len(stores)) % streams]
    seq = idx // (len(stores) * streams) + 1
    written = T0 + idx * 100
    failed = (idx % fail_every == 0) if fail_every else np.zeros(n, dtype=bool)
    acked = np.where(failed, np.nan, written + 2000)
    writes = pd.DataFrame({"store": store, "stream": stream, "seq": seq,
                           "region_written": EAST, "written_at_us": written,
                           "acked_at_us": acked,
                           "error": np.where(failed, "ConnectionRefused: refused", "")})
    ok = ~failed
    sightings = pd.DataFrame({"store": store[ok], "stream": stream[ok], "seq": seq[ok],
                              "region": WEST, "seen_at_us": written[ok] + 32000,
                              "resolution_s": 0.01})
    return writes, sightings


def presence(writes: pd.DataFrame) -> dict[tuple[str, str], set[tuple[str, int]]]:
    acked = writes[writes["acked_at_us"].notna()]
    out: dict[tuple[str, str], set[tuple[str, int]]] = {}
    for region in REGIONS:
        for store, stream, seq in acked[["store", "stream", "seq"]].itertuples(index=False):
            out.setdefault((store, region), set()).add((stream, int(seq)))
    return out


def test_the_segment_size_is_the_locustfiles() -> None:
    """drlib.load cannot import the locustfile (Locust patches the process): same constant."""
    text = (Path(load.__file__).with_name("locustfile.py")).read_text()
    assert re.search(rf"^SEGMENT = {load.SEGMENT}$", text, re.MULTILINE)
    assert load.segment_run_id("s", 999) == "s.00000"
    assert load.segment_run_id("s", 1000) == "s.00001"


def test_reconciliation_finds_the_one_lost_record_among_100000() -> None:
    """Record by record and exact at volume: with 100,000 acknowledged records of which one
    is missing from the secondary, that one record (and no other) is lost, in well under the
    time a quadratic scan would take."""
    writes, sightings = synthetic(100_000)
    present = presence(writes)
    victim = ("dynamodb", "load-x-s1", 7_777)
    present[(victim[0], WEST)].remove(victim[1:])
    began = time.perf_counter()
    records = load.reconcile(load.join_records(writes, sightings, REGIONS), present, REGIONS)
    figures = load.load_figures(records)
    elapsed = time.perf_counter() - began
    assert figures["total"]["acknowledged"] == 100_000
    assert figures["total"]["lost"] == 1
    dynamo = figures["stores"]["dynamodb"]
    assert dynamo["lost"] == 1
    assert dynamo["missing_by_region"] == {EAST: 0, WEST: 1}
    assert dynamo["lost_examples"] == [["load-x-s1", 7_777]]
    assert figures["stores"]["aurora"]["lost"] == figures["stores"]["s3"]["lost"] == 0
    lost_rows = records[~records[f"present:{WEST}"]]
    assert list(lost_rows[["store", "stream", "seq"]].itertuples(index=False, name=None)) == \
        [victim]
    assert elapsed < 60, elapsed


def test_figures_from_records(tmp_path: Path) -> None:
    """Counts by outcome, rates over the window, lag percentiles with their resolution, and
    exactly the same figures again from records.csv as written."""
    writes, sightings = synthetic(3_000, fail_every=10)
    records = load.reconcile(load.join_records(writes, sightings, REGIONS), presence(writes),
                             REGIONS)
    figures = load.load_figures(records)
    aurora = figures["stores"]["aurora"]
    assert aurora["attempted"] == 1_000
    assert aurora["rejected"] == aurora["attempted"] - aurora["acknowledged"] > 0
    assert aurora["rejected_by_class"] == {"ConnectionRefused": aurora["rejected"]}
    assert aurora["lost"] == 0
    lag = aurora["lag"]
    assert lag["count"] == aurora["acknowledged"]
    assert lag["p50_s"] == lag["p95_s"] == lag["p99_s"] == lag["max_s"] == pytest.approx(0.030)
    assert lag["resolution_median_s"] == pytest.approx(0.01)
    window = figures["window"]["seconds"]
    assert window == pytest.approx((2_999 * 100 + 2000) / 1e6)
    assert aurora["acknowledged_per_s"] == pytest.approx(aurora["acknowledged"] / window,
                                                         rel=1e-6)
    records.to_csv(tmp_path / "records.csv", index=False)
    assert load.figures_of(tmp_path) == json.loads(json.dumps(figures))


def test_lag_is_first_sighting_minus_acknowledgement_never_negative() -> None:
    writes, sightings = synthetic(6)
    sightings.loc[0, "seen_at_us"] = writes.loc[0, "written_at_us"] + 500  # before the ack
    records = load.join_records(writes, sightings, REGIONS)
    series = load.lag_frame(load.reconcile(records, presence(writes), REGIONS))
    assert series["lag_s"].min() == 0.0
    assert set(series.columns) >= {"store", "seq", "at", "lag_s", "source", "resolution_s"}


def test_throughput_per_second() -> None:
    writes, sightings = synthetic(30_000, fail_every=100)
    records = load.join_records(writes, sightings, REGIONS)
    per_second = load.throughput(records)
    assert per_second["acknowledged"].sum() == writes["acked_at_us"].notna().sum()
    assert per_second["errors"].sum() == writes["acked_at_us"].isna().sum()
    assert set(per_second["second"]) == {0, 1, 2, 3}  # the last acknowledgement: 3.0019 s


def test_users_and_commands(tmp_path: Path) -> None:
    assert load.users_for(20, None) == 1
    assert load.users_for(500, None) == 10
    assert load.users_for(0, None) == load.DEFAULT_USERS_MAX_RATE
    assert load.users_for(0, 3) == 3
    options = {"drlib_load_id": "x", "drlib_duration": 5}
    master = load.locust_command(role="master", stores=["aurora", "s3"], users=2,
                                 options=options, folder=tmp_path, master_port=5557, workers=2)
    assert master[-2:] == ["AuroraWriter", "S3Writer"]
    assert "--master" in master
    assert "--expect-workers" in master
    assert master[master.index("-u") + 1] == "4"
    assert master[master.index("--drlib-duration") + 1] == "5"
    worker = load.locust_command(role="worker", stores=["aurora"], users=2, options=options,
                                 folder=tmp_path, master_port=5557, index=1)
    assert "--worker" in worker
    assert "-u" not in worker
    assert worker[worker.index("--master-host") + 1] == "127.0.0.1"


def test_workload_round_trips_through_json() -> None:
    workload = Workload(
        environment="dev", regions=RegionPair(), global_cluster_id="g", table_name="t",
        database_secret_arn="arn:secret", database_name="app", hosted_zone_id="Z",
        app_dns_name="app.example.com",
        primary=RegionalStack(EAST, "c1", "b1", "lb1", "asg1", "hc1"),
        secondary=RegionalStack(WEST, "c2", "b2", "lb2", "asg2"),
        runbooks={"failback": "fb"}, extra={"ReplicationRuleId": "r"})
    data = json.loads(json.dumps(workload.to_dict()))
    assert load.workload_from_dict(data) == workload
