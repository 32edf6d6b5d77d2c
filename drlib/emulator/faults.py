"""Faults the emulator can inject for drills and tests, and the record of them.

One process-wide :data:`faults` registry. Extensions *consult* it (the replication workers skip a
paused store, the Route 53 extension reports an injected health-check failure, the region guard
refuses a downed region's data plane); drills and tests *change* it through the Python functions
here, the HTTP control API (``/_drlib/faults``) or ``drlib emulator fault``. Every change is
appended to the fault log with a UTC timestamp, so a drill can put it on its timeline and in its
evidence.

Stores are named ``aurora``, ``dynamodb`` and ``s3``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

STORES = ("aurora", "dynamodb", "s3")


@dataclass(frozen=True)
class FaultEvent:
    """One change to the injected faults."""

    at: str  # ISO 8601 UTC
    action: str  # pause-replication, resume-replication, set-delay, region-down, region-up,
    # fail-health-check, restore-health-check, clear
    target: str  # a store, a region, a health-check id, or "*"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FaultState:
    """What is injected right now. Read it through the helpers below; change it through them."""

    paused_stores: set[str] = field(default_factory=set)
    replication_delay: dict[str, float] = field(default_factory=dict)  # store -> seconds
    regions_down: set[str] = field(default_factory=set)
    failed_health_checks: set[str] = field(default_factory=set)
    log: list[FaultEvent] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    listeners: list[Callable[[FaultEvent], None]] = field(default_factory=list, repr=False)


faults = FaultState()

DEFAULT_REPLICATION_DELAY = 0.0
"""Seconds a replicated write waits before it is applied, unless ``set_replication_delay``."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _record(action: str, target: str, **detail: Any) -> FaultEvent:
    event = FaultEvent(at=_now(), action=action, target=target, detail=detail)
    with faults.lock:
        faults.log.append(event)
        listeners = list(faults.listeners)
    for listener in listeners:
        listener(event)
    return event


def _check_store(store: str) -> str:
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}: expected one of {', '.join(STORES)}")
    return store


def add_listener(listener: Callable[[FaultEvent], None]) -> None:
    """Call ``listener`` after every fault change (e.g. to stop a PostgreSQL primary)."""
    with faults.lock:
        if listener not in faults.listeners:
            faults.listeners.append(listener)


# --- queries, for extensions ---------------------------------------------------------------

def replication_paused(store: str) -> bool:
    """Whether replication of ``store`` is paused."""
    with faults.lock:
        return store in faults.paused_stores


def replication_delay(store: str) -> float:
    """Seconds a replicated write of ``store`` waits before it is applied."""
    with faults.lock:
        return faults.replication_delay.get(store, DEFAULT_REPLICATION_DELAY)


def region_down(region: str) -> bool:
    """Whether the data plane of ``region`` is down."""
    with faults.lock:
        return region in faults.regions_down


def health_check_failed(health_check_id: str) -> bool:
    """Whether a failure is injected into the Route 53 health check ``health_check_id``."""
    with faults.lock:
        return health_check_id in faults.failed_health_checks


# --- changes, for drills and tests -----------------------------------------------------------

def pause_replication(store: str) -> FaultEvent:
    """Stop applying replicated writes of ``store``; they queue until resumed."""
    with faults.lock:
        faults.paused_stores.add(_check_store(store))
    return _record("pause-replication", store)


def resume_replication(store: str) -> FaultEvent:
    """Apply the queued and future replicated writes of ``store`` again."""
    with faults.lock:
        faults.paused_stores.discard(_check_store(store))
    return _record("resume-replication", store)


def set_replication_delay(store: str, seconds: float) -> FaultEvent:
    """Make replicated writes of ``store`` wait ``seconds`` before they are applied."""
    if seconds < 0:
        raise ValueError(f"a replication delay cannot be negative, got {seconds}")
    with faults.lock:
        faults.replication_delay[_check_store(store)] = float(seconds)
    return _record("set-delay", store, seconds=float(seconds))


def take_region_down(region: str) -> FaultEvent:
    """Lose ``region``'s data plane: its stores refuse clients and stop replicating."""
    with faults.lock:
        faults.regions_down.add(region)
    return _record("region-down", region)


def bring_region_up(region: str) -> FaultEvent:
    """Give ``region``'s data plane back (its data as it was when it went down)."""
    with faults.lock:
        faults.regions_down.discard(region)
    return _record("region-up", region)


def fail_health_check(health_check_id: str) -> FaultEvent:
    """Make the Route 53 health check ``health_check_id`` report failure."""
    with faults.lock:
        faults.failed_health_checks.add(health_check_id)
    return _record("fail-health-check", health_check_id)


def restore_health_check(health_check_id: str) -> FaultEvent:
    """Remove an injected failure from the health check ``health_check_id``."""
    with faults.lock:
        faults.failed_health_checks.discard(health_check_id)
    return _record("restore-health-check", health_check_id)


def clear() -> FaultEvent:
    """Remove every injected fault (the log is kept)."""
    with faults.lock:
        faults.paused_stores.clear()
        faults.replication_delay.clear()
        faults.regions_down.clear()
        faults.failed_health_checks.clear()
    return _record("clear", "*")


def snapshot() -> dict[str, Any]:
    """The current faults and the full log, JSON-serialisable."""
    with faults.lock:
        return {
            "paused_stores": sorted(faults.paused_stores),
            "replication_delay": dict(faults.replication_delay),
            "regions_down": sorted(faults.regions_down),
            "failed_health_checks": sorted(faults.failed_health_checks),
            "log": [asdict(e) for e in faults.log],
        }


def reset() -> None:
    """Forget every fault and the log (emulator reset)."""
    with faults.lock:
        faults.paused_stores.clear()
        faults.replication_delay.clear()
        faults.regions_down.clear()
        faults.failed_health_checks.clear()
        faults.log.clear()
