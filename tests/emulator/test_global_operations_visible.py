"""A switchover or failover, and its failure, is visible through the RDS API as on AWS: the global
cluster's ``Status`` and ``FailoverState`` while it runs, and the RDS events (DescribeEvents,
SourceType ``db-cluster``, category ``global-failover``) with AWS's wording, on both clusters."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions import rds_global
from drlib.waiting import wait_until

from .test_aurora import (
    EAST,
    GLOBAL_ID,
    WEST,
    global_cluster,
    rows,
    wait_available,
    wait_rows,
    write,
    writer_arn,
)
from .test_fence import demoted, write_ignoring_read_only

pytestmark = pytest.mark.slow


def messages(aws: AwsClients, region: str, cluster: str, **extra: Any) -> list[str]:
    """The global-failover events of ``cluster`` in ``region``, oldest first."""
    events = aws.client("rds", region).describe_events(
        SourceType="db-cluster", SourceIdentifier=cluster, EventCategories=["global-failover"],
        **extra)["Events"]
    assert all(e["SourceType"] == "db-cluster" and e["EventCategories"] == ["global-failover"]
               for e in events)
    return [e["Message"] for e in events]


def test_a_switchover_is_told_by_aws_events_on_both_clusters(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """A successful switchover: started, old primary shut down, new primary promoted,
    finished, on both clusters; the time window and the filters select as AWS's do."""
    primary, secondary = gdb
    write(primary, 1)
    before = datetime.now(UTC) - timedelta(seconds=1)
    aws.client("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"])
    assert writer_arn(wait_available(aws)) == secondary["DBClusterArn"]
    told = [f"Global switchover to DB cluster app-west in Region {WEST} started.",
            f"Old primary DB cluster app-east in Region {EAST} successfully shut down.",
            f"New primary DB cluster app-west in Region {WEST} was successfully promoted.",
            f"Global switchover to DB cluster app-west in Region {WEST} finished."]
    assert messages(aws, WEST, "app-west") == told
    assert messages(aws, EAST, "app-east") == told
    assert messages(aws, EAST, "app-west") == []  # each cluster's events are in its region
    assert messages(aws, WEST, "app-west", StartTime=before) == told
    assert messages(aws, WEST, "app-west", StartTime=datetime.now(UTC) + timedelta(minutes=1)) \
        == []
    assert messages(aws, WEST, "app-west", EndTime=before) == []
    assert aws.client("rds", WEST).describe_events(
        SourceType="db-cluster", EventCategories=["backup"])["Events"] == []
    with pytest.raises(ClientError, match="InvalidParameterCombination"):
        aws.client("rds", WEST).describe_events(SourceIdentifier="app-west")


def test_a_switchover_that_cannot_catch_up_is_cancelled_visibly(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The target never catches up: the global cluster says switching-over while it waits,
    then is available with its old writer; the events say the switchover is cancelled; the old
    primary takes writes again."""
    monkeypatch.setattr(rds_global, "CATCH_UP_TIMEOUT", 2.0)
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    faults.pause_replication("aurora")
    write(primary, 2)
    aws.client("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"])
    waiting = global_cluster(aws)
    assert waiting["Status"] == "switching-over"
    assert waiting["FailoverState"]["ToDbClusterArn"] == secondary["DBClusterArn"]
    done = wait_available(aws)
    assert writer_arn(done) == primary["DBClusterArn"]
    assert "FailoverState" not in done
    cancelled = f"Global switchover to DB cluster app-west in Region {WEST} is cancelled."
    for region, cluster in ((EAST, "app-east"), (WEST, "app-west")):
        assert messages(aws, region, cluster)[-1] == cancelled
    write(primary, 3)
    assert rows(primary) == [1, 2, 3]


def test_a_switchover_whose_target_goes_down_fails_at_once_visibly(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The target's region goes down while the switchover waits for it: the switchover fails
    at once (not after its catch-up timeout), the global cluster is available with its old
    writer (FailoverState gone), the event says it failed, and the old primary, fenced while it
    waited, takes writes again."""
    monkeypatch.setattr(rds_global, "CATCH_UP_TIMEOUT", 120.0)
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    faults.pause_replication("aurora")  # the switchover waits, fenced, for the target
    write(primary, 2)
    aws.client("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"])
    wait_until(lambda: demoted(primary), description="the old primary to be fenced",
               timeout=10, interval=0.02)
    with pytest.raises(psycopg.Error):
        write_ignoring_read_only(primary, 3)
    began = time.monotonic()
    faults.take_region_down(WEST)
    done = wait_available(aws, timeout=30)
    assert time.monotonic() - began < 10
    assert writer_arn(done) == primary["DBClusterArn"]
    assert "FailoverState" not in done
    assert messages(aws, EAST, "app-east")[-1] == (
        f"Global switchover to DB cluster app-west in Region {WEST} failed.")
    with pytest.raises(ClientError):  # the downed region's API answers nothing
        messages(aws, WEST, "app-west")
    write(primary, 4)
    assert rows(primary) == [1, 2, 4]
    faults.bring_region_up(WEST)
    faults.resume_replication("aurora")
    wait_rows(secondary, [1, 2, 4], timeout=30)
    assert messages(aws, WEST, "app-west")[-1].endswith("failed.")


def test_a_failover_is_told_completed(aws: AwsClients,
                                      gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """FailoverGlobalCluster with AllowDataLoss: 'Global failover ... completed.'"""
    _, secondary = gdb
    aws.client("rds", WEST).failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"],
        AllowDataLoss=True)
    assert writer_arn(wait_available(aws)) == secondary["DBClusterArn"]
    assert messages(aws, WEST, "app-west") == [
        f"Global failover to DB cluster app-west in Region {WEST} completed."]
