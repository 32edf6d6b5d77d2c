"""The delayed-apply queue behind the emulator's DynamoDB and S3 replication.

A write acknowledged in one region becomes a :class:`PendingWrite` on a *channel* (store,
resource, source region, destination region). One background worker applies each channel in
order, a write becoming due ``faults.replication_delay(store)`` seconds after it was
acknowledged. A channel is held (nothing lost, order kept) while its store is paused or while
its source or destination region is down; it resumes when the fault is lifted. A write still
queued when its source region goes down therefore reaches the survivor only after the region
comes back, which is what a drill sees on AWS too: acknowledged but unreplicated writes are
missing from the survivor until the failed region returns.

The worker starts with the first write, waits on a condition (never longer than
:data:`IDLE_WAIT` seconds, so the stores' periodic metrics run), and is stopped by
``control.on_shutdown`` and emptied by ``control.on_reset``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from drlib.emulator import faults

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0
"""Longest the worker sleeps without looking at the queue (seconds)."""

MAX_BATCH = 2000
"""Most writes one channel hands to its store per worker cycle, so channels share the worker."""


@dataclass
class PendingWrite:
    """One write acknowledged in ``source_region`` that ``destination_region`` has not seen."""

    store: str
    resource: str  # e.g. "<account>/<table>" or "<source bucket>-><destination bucket>"
    source_region: str
    destination_region: str
    payload: Any
    acknowledged_at: float = field(default_factory=time.time)  # epoch seconds

    @property
    def channel(self) -> tuple[str, str, str, str]:
        """Writes on one channel are applied in the order they were acknowledged."""
        return (self.store, self.resource, self.source_region, self.destination_region)


Deliver = Callable[[list[PendingWrite]], None]
"""A store's apply function: applies the due writes, in order, to their destinations."""

Tick = Callable[[], float | None]
"""A store's periodic task (metrics); returns seconds until it wants to run again, or None."""


@dataclass
class _Store:
    deliver: Deliver
    tick: Tick | None


def channel_blocked(store: str, source_region: str, destination_region: str) -> bool:
    """Whether a fault holds the channel: store paused, or either region down."""
    return (faults.replication_paused(store) or faults.region_down(source_region)
            or faults.region_down(destination_region))


class ReplicationQueue:
    """Per-channel FIFO queues and the one worker thread that applies them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._channels: dict[tuple[str, str, str, str], deque[PendingWrite]] = {}
        self._stores: dict[str, _Store] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._applying = 0  # writes taken off the queue and not yet applied

    # --- set-up -----------------------------------------------------------------------------

    def register(self, store: str, deliver: Deliver, tick: Tick | None = None) -> None:
        """Say how ``store``'s writes are applied (and its periodic task, if any)."""
        with self._cond:
            self._stores[store] = _Store(deliver, tick)

    # --- producers --------------------------------------------------------------------------

    def put(self, writes: Iterable[PendingWrite]) -> None:
        """Queue writes (in order) and wake the worker, starting it if needed."""
        with self._cond:
            for write in writes:
                if write.store not in self._stores:
                    raise ValueError(f"no replication handler registered for {write.store!r}")
                self._channels.setdefault(write.channel, deque()).append(write)
            self._ensure_worker()
            self._cond.notify_all()

    def wake(self) -> None:
        """Make the worker look again now (a fault changed)."""
        with self._cond:
            self._cond.notify_all()

    # --- queries ----------------------------------------------------------------------------

    def pending(
        self, predicate: Callable[[PendingWrite], bool] | None = None
    ) -> list[PendingWrite]:
        """A snapshot of the queued writes (optionally only those ``predicate`` accepts)."""
        with self._cond:
            writes = [w for q in self._channels.values() for w in q]
        return [w for w in writes if predicate is None or predicate(w)]

    def idle(self) -> bool:
        """Whether nothing is queued or being applied."""
        with self._cond:
            return self._applying == 0 and not any(self._channels.values())

    # --- lifecycle --------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every queued write (emulator reset)."""
        with self._cond:
            self._channels.clear()
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker (emulator shutdown); a later ``put`` starts a new one."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=timeout)
            if thread.is_alive():
                log.warning("replication worker did not stop within %.0f s", timeout)
        with self._cond:
            self._thread = None
            self._stopping = False

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="drlib-replication",
                                            daemon=True)
            self._thread.start()

    # --- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = 0.0
        while True:
            with self._cond:
                if self._stopping:
                    return
                due, wait = self._take_due(self._clock())
                self._applying += len(due)
            try:
                self._deliver(due)
            finally:
                with self._cond:
                    self._applying -= len(due)
            now = self._clock()
            if now >= next_tick:
                next_tick = now + self._run_ticks()
            if due:
                continue  # more may be due at once; look again before sleeping
            with self._cond:
                if self._stopping:
                    return
                self._cond.wait(timeout=max(0.001, min(wait, next_tick - self._clock())))

    def _take_due(self, now: float) -> tuple[list[PendingWrite], float]:
        """Pop the due writes of every unblocked channel; and seconds until the next is due."""
        due: list[PendingWrite] = []
        wait = IDLE_WAIT
        for key in list(self._channels):
            queue = self._channels[key]
            if not queue:
                del self._channels[key]
                continue
            store, _, source, destination = key
            if channel_blocked(store, source, destination):
                continue  # a fault listener wakes us when it is lifted
            delay = faults.replication_delay(store)
            taken = 0
            while queue and taken < MAX_BATCH:
                ready_at = queue[0].acknowledged_at + delay
                if ready_at > now:
                    wait = min(wait, ready_at - now)
                    break
                due.append(queue.popleft())
                taken += 1
            if queue and taken == MAX_BATCH:
                wait = 0.0
        return due, wait

    def _deliver(self, due: list[PendingWrite]) -> None:
        by_store: dict[str, list[PendingWrite]] = {}
        for write in due:
            by_store.setdefault(write.store, []).append(write)
        for store, writes in by_store.items():
            try:
                self._stores[store].deliver(writes)
            except Exception:
                # One broken write must not stop replication of everything else.
                log.exception("replicating %d %s write(s) failed", len(writes), store)

    def _run_ticks(self) -> float:
        """Run every store's periodic task; seconds until the soonest wants to run again."""
        soonest = IDLE_WAIT
        for name, store in list(self._stores.items()):
            if store.tick is None:
                continue
            try:
                again = store.tick()
            except Exception:
                log.exception("replication periodic task of %s failed", name)
                again = None
            if again is not None:
                soonest = min(soonest, max(again, 0.05))
        return soonest


queue = ReplicationQueue()
"""The emulator's one replication queue, shared by the DynamoDB and S3 replication."""

_installed = False


def install() -> None:
    """Hook the shared queue into the emulator's lifecycle and the fault registry (idempotent)."""
    global _installed
    if _installed:
        return
    from drlib.emulator import control

    faults.add_listener(lambda event: queue.wake())
    control.on_reset(queue.clear)
    control.on_shutdown(queue.stop)
    _installed = True
