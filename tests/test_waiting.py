"""The bounded wait helper."""

from __future__ import annotations

import pytest

from drlib.errors import WaitTimeout
from drlib.waiting import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_truthy_value() -> None:
    """The probe's first truthy value is returned."""
    values = iter([None, 0, "ready"])
    clock = FakeClock()
    assert wait_until(lambda: next(values), description="x", timeout=10,
                      clock=clock.time, sleep=clock.sleep) == "ready"


def test_backs_off_up_to_the_maximum() -> None:
    """Sleeps grow by the backoff factor and never exceed the maximum interval."""
    clock = FakeClock()
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, description="never", timeout=10, interval=1, backoff=2,
                   max_interval=3, clock=clock.time, sleep=clock.sleep)
    assert clock.sleeps[:4] == [1, 2, 3, 3]


def test_timeout_names_what_it_waited_for() -> None:
    """The timeout error names the condition and the last value seen."""
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match="the stack to settle") as info:
        wait_until(lambda: "", description="the stack to settle", timeout=1,
                   clock=clock.time, sleep=clock.sleep)
    assert "''" in info.value.render()


@pytest.mark.parametrize("timeout", [0, -1])
def test_rejects_an_unbounded_wait(timeout: float) -> None:
    """A non-positive timeout is a programming error."""
    with pytest.raises(ValueError, match="timeout"):
        wait_until(lambda: True, description="x", timeout=timeout)
