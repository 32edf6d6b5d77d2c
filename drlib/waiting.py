"""The one way drlib waits: a bounded poll with backoff and a named error."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from drlib.errors import WaitTimeout

T = TypeVar("T")


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
    deadline = clock() + timeout
    delay = interval
    while True:
        last = probe()
        if last:
            return last
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                f"Timed out after {timeout:g} s waiting for {description}",
                expected=description,
                found=f"last observed value {last!r}",
                fix="check the resource named above; raise the timeout if it is just slow",
            )
        sleep(min(delay, remaining))
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
