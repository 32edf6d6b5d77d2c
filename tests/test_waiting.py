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


def test_wait_observed_stamps_when_the_condition_was_seen_true() -> None:
    """The observation is the end of the poll that saw the condition true, known to within
    the time since the start of the last poll that saw it false; the poll never backs off."""
    from datetime import UTC, datetime, timedelta

    from drlib.waiting import wait_observed

    clock = FakeClock()
    origin = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
    values = iter([False, False, False, True])

    def now() -> datetime:
        return origin + timedelta(seconds=clock.now)

    def probe() -> bool:
        clock.now += 0.01  # each poll takes 10 ms
        return next(values)

    seen = wait_observed(probe, description="x", timeout=10, interval=0.05,
                         clock=clock.time, sleep=clock.sleep, now=now)
    assert seen.value is True
    assert clock.sleeps == pytest.approx([0.05, 0.05, 0.05])  # fixed interval, no back-off
    # polls start at 0, 0.06, 0.12, 0.18; the fourth ends at 0.19
    assert (seen.at - origin).total_seconds() == pytest.approx(0.19)
    assert seen.resolution_s == pytest.approx(0.19 - 0.12)


def test_stampers_share_one_loop_and_keep_their_first_observation() -> None:
    """Two conditions awaited in one loop each keep the moment they were first seen true."""
    from datetime import UTC, datetime, timedelta

    from drlib.waiting import Stamper

    clock = FakeClock()
    origin = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
    fast_values, slow_values = iter([False, True]), iter([False, False, False, True])

    def now() -> datetime:
        return origin + timedelta(seconds=clock.now)

    fast, slow = Stamper(lambda: next(fast_values), now), Stamper(lambda: next(slow_values), now)
    wait_until(lambda: all([fast(), slow()]), description="both", timeout=10, interval=1.0,
               backoff=1.0, clock=clock.time, sleep=clock.sleep)
    assert (fast.observed().at - origin).total_seconds() == pytest.approx(1.0)
    assert (slow.observed().at - origin).total_seconds() == pytest.approx(3.0)
    with pytest.raises(RuntimeError):
        Stamper(lambda: False).observed()
