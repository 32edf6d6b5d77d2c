"""The emulated Aurora fence is a fence: a demoted or fenced primary refuses writes whatever the
client sets (``default_transaction_read_only = off`` included)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions import aurora, rds_global
from drlib.waiting import wait_until

from .test_aurora import (
    GLOBAL_ID,
    WEST,
    connect,
    rows,
    wait_available,
    wait_rows,
    write,
)

pytestmark = pytest.mark.slow


def write_ignoring_read_only(cluster: dict[str, Any], row: int) -> None:
    """What a misbehaving client does: turn the read-only default off, then insert."""
    with connect(cluster) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        conn.execute("INSERT INTO canary VALUES (%s)", [row])


def demoted(cluster: dict[str, Any]) -> bool:
    """Whether the switchover has demoted the writer: new sessions start read-only, or none is
    admitted at all."""
    try:
        with connect(cluster) as conn:
            row = conn.execute("SHOW default_transaction_read_only").fetchone()
            return row is not None and row[0] == "on"
    except psycopg.OperationalError:
        return True


def test_demoted_primary_refuses_a_client_that_turns_read_only_off(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """During a switchover's catch-up the old primary takes no write even from a client that
    sets default_transaction_read_only = off; a cancelled switchover admits writers again."""
    monkeypatch.setattr(rds_global, "CATCH_UP_TIMEOUT", 8.0)
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    faults.pause_replication("aurora")
    write(primary, 2)  # the standby cannot catch up: the switchover waits, fenced
    aws.client("rds", WEST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"])
    wait_until(lambda: demoted(primary), description="the old primary to be demoted",
               timeout=10, interval=0.02)
    with pytest.raises(psycopg.Error):
        write_ignoring_read_only(primary, 3)
    faults.resume_replication("aurora")
    wait_available(aws, timeout=60)
    assert 3 not in rows(primary)


def test_switchover_that_cannot_catch_up_lifts_the_fence(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the standby never catches up the switchover is cancelled: the old primary is the
    writer again and accepts writes."""
    monkeypatch.setattr(rds_global, "CATCH_UP_TIMEOUT", 2.0)
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    faults.pause_replication("aurora")
    write(primary, 2)
    aws.client("rds", WEST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"])
    wait_available(aws, timeout=60)
    write(primary, 4)
    assert rows(primary) == [1, 2, 4]


def test_failed_over_primary_refuses_a_client_that_turns_read_only_off(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failover the fenced old primary stays readable and refuses that client's write."""
    monkeypatch.setattr(aurora, "RESYNC_DELAY", 120.0)  # keep it fenced while we look
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    aws.client("rds", WEST).failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"],
        AllowDataLoss=True)
    wait_available(aws)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        write_ignoring_read_only(primary, 2)
    assert rows(primary) == [1]
