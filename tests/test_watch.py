"""The world watch: an outage the drill did not cause trips it, ends the running wait within about
a second, names the fault and records it on the timeline; the drill's own outage does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from drlib.errors import WaitTimeout
from drlib.timeline import Timeline
from drlib.waiting import wait_until
from drlib.watch import WorldFault, WorldWatch


class Unavailable(Exception):
    """What botocore raises for a 503."""

    response = {"ResponseMetadata": {"HTTPStatusCode": 503},
                "Error": {"Code": "ServiceUnavailable"}}


class NotFound(Exception):
    """A client error: the service answered."""

    response = {"ResponseMetadata": {"HTTPStatusCode": 400},
                "Error": {"Code": "ResourceNotFoundException"}}


class Clients:
    """Stub clients: DynamoDB reads fail in the regions listed in ``down``."""

    def __init__(self) -> None:
        self.down: dict[str, type[Exception] | None] = {}
        self.global_status = "available"
        self.failover_state: dict[str, Any] | None = None
        self.events: dict[str, list[dict[str, Any]]] = {}  # region -> RDS events

    def client(self, service: str, region: str) -> Any:
        def get_item(**kwargs: Any) -> dict[str, Any]:
            error = self.down.get(region)
            if error is not None:
                raise error("the data plane is down")
            return {}

        def describe_global_clusters(**kwargs: Any) -> dict[str, Any]:
            found: dict[str, Any] = {"Status": self.global_status}
            if self.failover_state:
                found["FailoverState"] = self.failover_state
            return {"GlobalClusters": [found]}

        def describe_events(**kwargs: Any) -> dict[str, Any]:
            assert kwargs["SourceType"] == "db-cluster"
            return {"Events": [e for e in self.events.get(region, [])
                               if e["SourceIdentifier"] == kwargs["SourceIdentifier"]
                               and e["Date"] >= kwargs["StartTime"]]}

        return SimpleNamespace(get_item=get_item,
                               describe_global_clusters=describe_global_clusters,
                               describe_events=describe_events)


WORKLOAD = SimpleNamespace(regions=SimpleNamespace(primary="us-east-1", secondary="us-west-2"),
                           table_name="t", global_cluster_id="g",
                           primary=SimpleNamespace(region="us-east-1", cluster_id="app-east"),
                           secondary=SimpleNamespace(region="us-west-2", cluster_id="app-west"))
SWITCHOVER_FAILED = "Global switchover to DB cluster app-west in Region us-west-2 failed."


def rds_event(cluster: str, message: str, at: datetime | None = None) -> dict[str, Any]:
    return {"SourceIdentifier": cluster, "SourceType": "db-cluster", "Message": message,
            "EventCategories": ["global-failover"], "Date": at or datetime.now(UTC)}


def make_watch(clients: Clients, timeline: Timeline, expected: set[str]) -> WorldWatch:
    return WorldWatch(clients, WORKLOAD, timeline, expected_down=lambda: expected,
                      interval_s=0.05)


def fault_during_step(clients: Clients, timeline: Timeline, step: str,
                      inject: Callable[[], None]) -> WorldFault:
    """Run a long wait inside ``step`` with the watch on, ``inject`` the fault 0.3 s in; the
    wait must end within 3 s with the watch's error, which is returned."""
    watch = make_watch(clients, timeline, set())
    with timeline.step(step, 600):
        watch.start()
        try:
            threading.Timer(0.3, inject).start()
            began = time.monotonic()
            with pytest.raises(WorldFault) as caught:
                wait_until(lambda: False, description=f"{step} to finish", timeout=600,
                           interval=5, max_interval=10)
            assert time.monotonic() - began < 3
        finally:
            watch.stop()
    return caught.value


def test_an_outage_not_caused_by_the_drill_ends_the_wait_and_is_recorded() -> None:
    """Region-down of the secondary during a step: the wait ends within a second with an error
    naming the fault and the step, and the timeline records it as not caused by the drill."""
    clients, timeline = Clients(), Timeline()
    message = fault_during_step(
        clients, timeline, "switch over the global database",
        lambda: clients.down.update({"us-west-2": Unavailable})).render()
    assert "region-down in us-west-2" in message
    assert "switch over the global database" in message
    [fault] = [e.to_record() for e in timeline.faults]
    assert fault["action"] == "observed region-down"
    assert fault["target"] == "us-west-2"
    assert fault["detail"]["caused_by_drill"] is False


def test_the_drills_own_outage_and_client_errors_do_not_trip() -> None:
    """The primary the drill took down, and a region answering with a client error, are no
    fault: the wait runs to its own timeout."""
    clients, timeline = Clients(), Timeline()
    clients.down = {"us-east-1": Unavailable, "us-west-2": NotFound}
    watch = make_watch(clients, timeline, {"us-east-1"}).start()
    try:
        with pytest.raises(WaitTimeout):
            wait_until(lambda: False, description="x", timeout=0.6, interval=0.1)
    finally:
        watch.stop()
    assert watch.fault is None
    assert not timeline.faults


def test_a_failed_global_database_trips() -> None:
    """The global database reporting a failed state is a fault the drill names."""
    clients, timeline = Clients(), Timeline()
    clients.global_status = "failed"
    watch = make_watch(clients, timeline, set()).start()
    try:
        with pytest.raises(WorldFault, match="global-database-failed"):
            wait_until(lambda: False, description="x", timeout=30, interval=0.1)
    finally:
        watch.stop()


def test_other_threads_waits_are_not_affected() -> None:
    """A tripped watch ends the drill thread's waits only (not an emulator's or canary's)."""
    clients, timeline = Clients(), Timeline()
    clients.down = {"us-west-2": Unavailable}
    watch = make_watch(clients, timeline, set()).start()
    outcome: list[str] = []

    def other() -> None:
        try:
            wait_until(lambda: False, description="y", timeout=0.5, interval=0.1)
        except WorldFault:
            outcome.append("fault")
        except WaitTimeout:
            outcome.append("timeout")

    try:
        with pytest.raises(WorldFault):  # the drill's own thread: ended by the fault
            wait_until(lambda: False, description="the trip", timeout=10, interval=0.05)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    finally:
        watch.stop()
    assert outcome == ["timeout"]


def test_a_failed_switchover_told_by_its_rds_event_ends_the_wait_naming_it() -> None:
    """AWS's event "Global switchover ... failed." on either cluster trips the watch: the
    running wait ends within about a second, the error quotes the event, and the timeline
    records the fault in the target's region."""
    clients, timeline = Clients(), Timeline()
    message = fault_during_step(
        clients, timeline, "WaitForSwitchover",
        lambda: clients.events.setdefault("us-east-1", []).append(
            rds_event("app-east", SWITCHOVER_FAILED))).render()
    assert "global-switchover-failed in us-west-2" in message
    assert SWITCHOVER_FAILED in message
    assert "WaitForSwitchover" in message
    [fault] = [e.to_record() for e in timeline.faults]
    assert fault["action"] == "observed global-switchover-failed"
    assert SWITCHOVER_FAILED in fault["detail"]["error"]


def test_a_switchover_being_cancelled_trips() -> None:
    """FailoverState cancelling (the clusters returning to their roles) is a fault too."""
    clients, timeline = Clients(), Timeline()
    clients.failover_state = {"Status": "cancelling", "IsDataLossAllowed": False,
                              "ToDbClusterArn": "arn:aws:rds:us-west-2:1:cluster:app-west"}
    watch = make_watch(clients, timeline, set()).start()
    try:
        with pytest.raises(WorldFault, match="global-switchover-cancelled in us-west-2"):
            wait_until(lambda: False, description="x", timeout=30, interval=0.1)
    finally:
        watch.stop()


def test_an_old_failure_event_and_a_success_do_not_trip() -> None:
    """Failures already told when the watch started (an earlier drill's, however recent: clocks
    differ) and a finished switchover are no fault."""
    clients, timeline = Clients(), Timeline()
    clients.events = {"us-west-2": [
        rds_event("app-west", SWITCHOVER_FAILED, datetime.now(UTC) - timedelta(hours=1)),
        rds_event("app-west", SWITCHOVER_FAILED.replace("failed", "is cancelled"),
                  datetime.now(UTC) - timedelta(seconds=2)),
        rds_event("app-west", "Global switchover to DB cluster app-west in Region us-west-2 "
                              "finished.")]}
    watch = make_watch(clients, timeline, set()).start()
    try:
        with pytest.raises(WaitTimeout):
            wait_until(lambda: False, description="x", timeout=0.6, interval=0.1)
    finally:
        watch.stop()
    assert watch.fault is None


def test_explain_names_the_failed_switchover_behind_a_runbook_error() -> None:
    """A runbook step failed (its own message says little): explain finds the RDS event and
    raises naming it, at once, without waiting for the watch's next probe."""
    clients, timeline = Clients(), Timeline()
    watch = WorldWatch(clients, WORKLOAD, timeline, expected_down=set, interval_s=60).start()
    try:
        clients.events = {"us-west-2": [rds_event("app-west", SWITCHOVER_FAILED)]}
        with pytest.raises(WorldFault) as caught:
            watch.explain(RuntimeError("VerifyWriter: writer is [app-east], expected app-west"))
    finally:
        watch.stop()
    assert SWITCHOVER_FAILED in caught.value.render()
    assert "VerifyWriter" in caught.value.render()
