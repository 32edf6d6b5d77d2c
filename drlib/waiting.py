"""The one way drlib waits: a bounded poll with backoff and a named error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from drlib.errors import WaitTimeout

T = TypeVar("T")

_watches: list[tuple[int, Callable[[], None]]] = []
"""Checks the waits of one thread (the drill's) make between polls while the drill watches the
world (drlib.watch): a check raises to end the wait at once, within :data:`WATCH_SLICE_S`. Other
threads (canaries, an in-process emulator) are not affected."""
WATCH_SLICE_S = 0.5
PROGRESS_EVERY_S = 30.0
"""While watched, a wait prints its progress this often (long waits are not silent)."""


def add_watch(check: Callable[[], None]) -> None:
    """Make every wait of the calling thread call ``check`` between polls until
    :func:`remove_watch`."""
    _watches.append((threading.get_ident(), check))


def remove_watch(check: Callable[[], None]) -> None:
    _watches[:] = [(t, c) for t, c in _watches if c != check]  # bound methods: equal, not same


def _my_watches() -> list[Callable[[], None]]:
    me = threading.get_ident()
    return [c for t, c in list(_watches) if t == me]


def _check_watches() -> None:
    for check in _my_watches():
        check()


def wait_until(
    probe: Callable[[], T | None],
    *,
    description: str,
    timeout: float,
    interval: float = 0.1,
    backoff: float = 1.5,
    max_interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``probe`` until it returns a truthy value and return that value.

    Exceptions raised by ``probe`` propagate: a probe that can fail transiently catches its own
    errors and returns a falsy value. Raises :class:`WaitTimeout` naming ``description`` once
    ``timeout`` seconds have passed.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    began = clock()
    deadline = began + timeout
    delay = interval
    reported = began
    while True:
        _check_watches()
        last = probe()
        if last:
            return last
        now = clock()
        remaining = deadline - now
        if _my_watches() and now - reported >= PROGRESS_EVERY_S:
            reported = now
            print(f"  still waiting for {description}: {now - began:.0f} s of {timeout:g} s",
                  flush=True)
        if remaining <= 0:
            raise WaitTimeout(
                f"Timed out after {timeout:g} s waiting for {description}",
                expected=description,
                found=f"last observed value {last!r}",
                fix="check the resource named above; raise the timeout if it is just slow",
            )
        pause = min(delay, remaining)
        while pause > WATCH_SLICE_S and _my_watches():  # stay responsive to the watch
            sleep(WATCH_SLICE_S)
            pause -= WATCH_SLICE_S
            _check_watches()
        sleep(pause)
        delay = min(delay * backoff, max_interval)


@dataclass(frozen=True)
class Observed(Generic[T]):
    """A condition that became true: its value, when a poll first saw it, and how precisely.

    The condition became true after ``at - resolution_s`` (the start of the last poll that still
    saw it false) and at or before ``at`` (the end of the poll that saw it true).
    """

    value: T
    at: datetime
    resolution_s: float


class Stamper(Generic[T]):
    """Wraps a probe so each call's outcome is time-stamped; :meth:`observed` once it is true.

    Several stampers can share one polling loop (conditions that are awaited together).
    """

    def __init__(self, probe: Callable[[], T | None],
                 now: Callable[[], datetime] | None = None) -> None:
        from drlib.timeline import utc_now

        self._probe = probe
        self._now = now or utc_now
        self._last_false: datetime | None = None
        self._first_call: datetime | None = None
        self.result: Observed[T] | None = None

    def __call__(self) -> T | None:
        if self.result is not None:
            return self.result.value
        started = self._now()
        self._first_call = self._first_call or started
        value = self._probe()
        if not value:
            self._last_false = started
            return None
        ended = self._now()
        since = self._last_false or started
        self.result = Observed(value=value, at=ended,
                               resolution_s=(ended - since).total_seconds())
        return value

    def observed(self) -> Observed[T]:
        """The observation (raises if the condition was never seen true)."""
        if self.result is None:
            raise RuntimeError("the condition was not observed true")
        return self.result


def wait_observed(probe: Callable[[], T | None], *, description: str, timeout: float,
                  interval: float = 0.05, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep,
                  now: Callable[[], datetime] | None = None) -> Observed[T]:
    """Like :func:`wait_until` with a fixed poll interval (no backoff, so the moment the
    condition became true is known to within about ``interval``), time-stamped."""
    stamper = Stamper(probe, now)
    wait_until(stamper, description=description, timeout=timeout, interval=interval,
               backoff=1.0, max_interval=interval, clock=clock, sleep=sleep)
    return stamper.observed()
