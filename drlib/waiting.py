"""The one way drlib waits: a bounded poll with backoff and a named error."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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
