"""Canary writers and readers, on an in-memory two-region store whose replication tests drive."""

from __future__ import annotations

import threading
from datetime import datetime

from drlib.canary import CanaryFleet
from drlib.measure import measure_rpo

EAST, WEST = "us-east-1", "us-west-2"


class TwoRegionStore:
    """A store with a record set per region; `replicate()` copies what is pending."""

    store = "dynamodb"

    def __init__(self) -> None:
        self.data: dict[str, set[int]] = {EAST: set(), WEST: set()}
        self.pending: list[tuple[str, int]] = []
        self.down: set[str] = set()
        self.lock = threading.Lock()

    def write(self, region: str, run_id: str, seq: int, at: datetime) -> None:
        if region in self.down:
            raise ConnectionError(f"{region} is down")
        with self.lock:
            self.data[region].add(seq)
            self.pending.append((region, seq))

    def present(self, region: str, run_id: str, after_seq: int) -> list[int]:
        if region in self.down:
            raise ConnectionError(f"{region} is down")
        with self.lock:
            return sorted(s for s in self.data[region] if s > after_seq)

    def replicate(self) -> None:
        with self.lock:
            for region, seq in self.pending:
                if region not in self.down:
                    self.data[WEST if region == EAST else EAST].add(seq)
            self.pending = [(r, s) for r, s in self.pending if r in self.down]


def fleet_for(store: TwoRegionStore, active: list[str]) -> CanaryFleet:
    return CanaryFleet("run-1", [store], [EAST, WEST], lambda: active[0], interval_s=0.01)


def test_writes_follow_the_active_region_and_readers_see_replicas() -> None:
    """Each write goes to the active region; a replicated record is seen in the other region."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active)
    first = fleet.write_once("dynamodb")
    active[0] = WEST
    second = fleet.write_once("dynamodb")
    store.replicate()
    fleet.read_once("dynamodb")
    assert (first.region_written, second.region_written) == (EAST, WEST)
    assert set(first.visible_at) == {EAST, WEST}
    assert set(second.visible_at) == {EAST, WEST}
    assert first.lag_seconds() is not None


def test_failed_writes_are_recorded_without_acknowledgement() -> None:
    """A write to a region that is down is kept as a record with an error and no ack."""
    store, active = TwoRegionStore(), [EAST]
    store.down.add(EAST)
    record = fleet_for(store, active).write_once("dynamodb")
    assert record.acked_at is None
    assert "is down" in (record.error or "")


def test_unreplicated_writes_are_the_rpo() -> None:
    """Writes acknowledged in the primary but never replicated are exactly the RPO."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active)
    for _ in range(3):
        fleet.write_once("dynamodb")
    store.replicate()
    for _ in range(2):  # acknowledged, then the region is lost before replication
        fleet.write_once("dynamodb")
    store.down.add(EAST)
    cutover = datetime.now().astimezone()
    active[0] = WEST
    fleet.write_once("dynamodb")
    rpo = measure_rpo(fleet.records(), WEST, cutover, present_after=fleet.present_in(WEST))
    assert rpo["dynamodb"].lost_records == 2
    assert list(rpo["dynamodb"].lost_seqs) == [4, 5]


def test_threads_run_and_stop_with_a_drain() -> None:
    """Started threads write until stopped; the drain lets readers catch up with replicas."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active).start()
    replicator_stop = threading.Event()

    def replicate() -> None:
        while not replicator_stop.wait(0.005):
            store.replicate()

    replicator = threading.Thread(target=replicate, daemon=True)
    replicator.start()
    threading.Event().wait(0.2)
    fleet.stop(drain_s=2.0)
    replicator_stop.set()
    replicator.join()
    records = fleet.records()
    assert len(records) >= 5
    assert not fleet.missing_anywhere()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))


def test_no_known_region_is_a_failed_write() -> None:
    """When the application name answers with no known region the write fails, recorded."""
    fleet = CanaryFleet("run-1", [TwoRegionStore()], [EAST, WEST], lambda: None)
    record = fleet.write_once("dynamodb")
    assert record.acked_at is None
    assert "no known region" in (record.error or "")


def test_records_arriving_out_of_order_are_all_seen() -> None:
    """A record replicated after a later one is still seen (replication keeps no order)."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active)
    first, second = fleet.write_once("dynamodb"), fleet.write_once("dynamodb")
    store.data[WEST].add(second.seq)  # the later record arrives first
    fleet.read_once("dynamodb")
    store.data[WEST].add(first.seq)
    fleet.read_once("dynamodb")
    assert WEST in first.visible_at
    assert WEST in second.visible_at
