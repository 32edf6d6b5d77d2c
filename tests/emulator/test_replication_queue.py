"""The delayed-apply queue shared by DynamoDB and S3 replication."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from drlib.emulator import faults
from drlib.emulator.replication_queue import PendingWrite, ReplicationQueue
from drlib.waiting import wait_until


class Recorder:
    """A store handler that records what it is given, and when."""

    def __init__(self, fail_on: object = None) -> None:
        self.delivered: list[tuple[object, float]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, writes: list[PendingWrite]) -> None:
        for write in writes:
            if write.payload == self.fail_on:
                raise RuntimeError("refused")
            with self.lock:
                self.delivered.append((write.payload, time.time()))

    def payloads(self) -> list[object]:
        with self.lock:
            return [p for p, _ in self.delivered]


@pytest.fixture
def fresh() -> Iterator[ReplicationQueue]:
    """A private queue (not the emulator's) with no faults injected; stopped afterwards."""
    faults.reset()
    q = ReplicationQueue()

    def wake(event: faults.FaultEvent) -> None:
        q.wake()

    faults.add_listener(wake)
    yield q
    q.stop()
    with faults.faults.lock:
        faults.faults.listeners.remove(wake)
    faults.reset()


def _write(payload: object, store: str = "dynamodb", source: str = "us-east-1",
           destination: str = "us-west-2") -> PendingWrite:
    return PendingWrite(store=store, resource="r", source_region=source,
                        destination_region=destination, payload=payload)


def test_writes_arrive_in_order_after_the_delay(fresh: ReplicationQueue) -> None:
    """Each write is applied in order, no earlier than the configured delay after its ack."""
    recorder = Recorder()
    fresh.register("dynamodb", recorder)
    faults.set_replication_delay("dynamodb", 0.2)
    writes = [_write(n) for n in range(5)]
    fresh.put(writes)
    wait_until(lambda: len(recorder.payloads()) == 5, description="5 deliveries", timeout=5,
               interval=0.01)
    assert recorder.payloads() == [0, 1, 2, 3, 4]
    for write, (_, at) in zip(writes, recorder.delivered, strict=True):
        assert 0.2 <= at - write.acknowledged_at < 0.6


def test_a_paused_store_waits_while_others_flow(fresh: ReplicationQueue) -> None:
    """Pausing one store holds its writes (nothing lost) and lets the other store deliver."""
    dynamodb, s3 = Recorder(), Recorder()
    fresh.register("dynamodb", dynamodb)
    fresh.register("s3", s3)
    faults.pause_replication("dynamodb")
    fresh.put([_write("d1"), _write("s1", store="s3"), _write("d2")])
    wait_until(lambda: s3.payloads() == ["s1"], description="the s3 write", timeout=5,
               interval=0.01)
    assert dynamodb.payloads() == []
    assert [w.payload for w in fresh.pending()] == ["d1", "d2"]
    faults.resume_replication("dynamodb")
    wait_until(lambda: dynamodb.payloads() == ["d1", "d2"], description="the held writes",
               timeout=5, interval=0.01)
    assert fresh.idle()


@pytest.mark.parametrize("down", ["us-east-1", "us-west-2"])
def test_a_downed_region_holds_its_channels(fresh: ReplicationQueue, down: str) -> None:
    """A write waits while its source or its destination region is down."""
    recorder = Recorder()
    fresh.register("dynamodb", recorder)
    faults.take_region_down(down)
    fresh.put([_write("held")])
    time.sleep(0.2)
    assert recorder.payloads() == []
    faults.bring_region_up(down)
    wait_until(lambda: recorder.payloads() == ["held"], description="the held write",
               timeout=5, interval=0.01)


def test_a_failing_batch_does_not_stop_the_worker(fresh: ReplicationQueue) -> None:
    """A handler that raises is logged; later writes are still delivered."""
    recorder = Recorder(fail_on="bad")
    fresh.register("dynamodb", recorder)
    fresh.put([_write("bad")])
    wait_until(fresh.idle, description="the bad write to be taken", timeout=5, interval=0.01)
    fresh.put([_write("good")])
    wait_until(lambda: recorder.payloads() == ["good"], description="the next write",
               timeout=5, interval=0.01)


def test_stop_then_put_starts_a_new_worker(fresh: ReplicationQueue) -> None:
    """After stop (emulator shutdown) the queue works again on the next write."""
    recorder = Recorder()
    fresh.register("dynamodb", recorder)
    fresh.put([_write(1)])
    wait_until(lambda: recorder.payloads() == [1], description="first", timeout=5,
               interval=0.01)
    fresh.stop()
    fresh.put([_write(2)])
    wait_until(lambda: recorder.payloads() == [1, 2], description="second", timeout=5,
               interval=0.01)


def test_clear_forgets_queued_writes(fresh: ReplicationQueue) -> None:
    """An emulator reset drops whatever was still queued."""
    recorder = Recorder()
    fresh.register("dynamodb", recorder)
    faults.pause_replication("dynamodb")
    fresh.put([_write(1), _write(2)])
    fresh.clear()
    faults.resume_replication("dynamodb")
    time.sleep(0.1)
    assert recorder.payloads() == []
    assert fresh.idle()


def test_an_unknown_store_is_refused(fresh: ReplicationQueue) -> None:
    """Queueing a write for a store with no handler raises, naming the store."""
    with pytest.raises(ValueError, match="'s3'"):
        fresh.put([_write(1, store="s3")])
