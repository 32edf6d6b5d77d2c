"""Tests for drlib.timeline: steps, outcomes, timeouts, events and their records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from drlib.errors import ConfigError, DrillAborted, WaitTimeout
from drlib.timeline import DISASTER_DECLARED, Timeline, to_utc

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)


def ticking_clock(step_s: float) -> Callable[[], datetime]:
    """A clock that advances ``step_s`` seconds on every call, starting at T0."""
    ticks: Iterator[int] = iter(range(10_000))
    return lambda: T0 + timedelta(seconds=step_s * next(ticks))


def test_ok_step_records_start_end_and_outcome() -> None:
    """A step whose body returns is recorded ok with its start and end times."""
    timeline = Timeline(clock=ticking_clock(2.0))
    with timeline.step("switchover", timeout_s=30, detail="global cluster"):
        pass
    (step,) = timeline.steps
    assert (step.step, step.outcome, step.detail) == ("switchover", "ok", "global cluster")
    assert step.started_at == T0
    assert step.duration_s == pytest.approx(2.0)
    assert step.timed_out is False


@pytest.mark.parametrize(
    ("exc", "outcome", "timed_out"),
    [
        (RuntimeError("boom"), "failed", False),
        (DrillAborted("operator abort"), "aborted", False),
        (WaitTimeout("Timed out after 5 s waiting for promote"), "failed", True),
        (KeyboardInterrupt(), "failed", False),
    ],
)
def test_exception_marks_step_and_propagates(exc: BaseException, outcome: str,
                                             timed_out: bool) -> None:
    """A body that raises marks the step failed/aborted, notes the error and re-raises it."""
    timeline = Timeline(clock=ticking_clock(1.0))
    with pytest.raises(type(exc)), timeline.step("promote", timeout_s=10):
        raise exc
    (step,) = timeline.steps
    assert step.outcome == outcome
    assert step.timed_out is timed_out
    assert step.ended_at is not None
    assert step.detail


@pytest.mark.parametrize(
    ("tick_s", "timeout_s", "timed_out"),
    [(5.0, 4.0, True), (4.0, 4.0, False), (0.5, 4.0, False)],
)
def test_step_over_its_timeout_is_marked(tick_s: float, timeout_s: float, timed_out: bool) -> None:
    """A step that took longer than its timeout is marked timed_out (equal is still in time)."""
    timeline = Timeline(clock=ticking_clock(tick_s))
    with timeline.step("dns", timeout_s=timeout_s):
        pass
    (step,) = timeline.steps
    assert step.outcome == "ok"
    assert step.timed_out is timed_out
    assert ("over its" in step.detail) is timed_out


@pytest.mark.parametrize(("method", "outcome"), [("skip", "skipped"), ("abort", "aborted")])
def test_handle_sets_outcome(method: str, outcome: str) -> None:
    """The step handle can mark a step skipped or aborted with a reason."""
    timeline = Timeline(clock=ticking_clock(1.0))
    with timeline.step("scale-up", timeout_s=60) as handle:
        getattr(handle, method)("dry run")
    assert timeline.steps[0].outcome == outcome
    assert timeline.steps[0].detail == "dry run"


def test_zero_timeout_is_refused() -> None:
    """A step needs a positive timeout."""
    timeline = Timeline()
    with pytest.raises(ValueError, match="timeout"), timeline.step("x", timeout_s=0):
        pass


def test_events_faults_and_disaster_declared() -> None:
    """Events and faults are recorded with their time; the first declaration starts the RTO."""
    timeline = Timeline(clock=ticking_clock(1.0))
    timeline.add_fault("region-down", "us-east-1", {"stores": ["aurora"]})
    declared = timeline.declare_disaster("primary region lost")
    timeline.declare_disaster("again")
    assert [e.kind for e in timeline.events] == ["fault", "event", "event"]
    assert timeline.disaster_declared_at == declared.at
    assert [f.action for f in timeline.faults] == ["region-down"]


def test_no_declaration_means_none() -> None:
    """Without a disaster-declared event there is no RTO start."""
    assert Timeline().disaster_declared_at is None


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [((), "passed"), (("ok", "skipped"), "passed"), (("ok", "failed"), "failed"),
     (("failed", "aborted"), "aborted")],
)
def test_status_summarises_steps(outcomes: tuple[str, ...], status: str) -> None:
    """The timeline status is aborted over failed over passed."""
    timeline = Timeline(clock=ticking_clock(1.0))
    for i, outcome in enumerate(outcomes):
        if outcome == "failed":
            with pytest.raises(RuntimeError), timeline.step(f"s{i}", timeout_s=10):
                raise RuntimeError("x")
            continue
        with timeline.step(f"s{i}", timeout_s=10) as handle:
            if outcome == "skipped":
                handle.skip("n/a")
            elif outcome == "aborted":
                handle.abort("stop")
    assert timeline.status == status


def test_records_match_metrics_schema_and_round_trip() -> None:
    """to_records gives metrics.json timeline entries that rebuild the same timeline."""
    timeline = Timeline(clock=ticking_clock(1.5))
    with timeline.step("readiness", timeout_s=60, detail="all checks"):
        pass
    timeline.declare_disaster("drill")
    records = timeline.to_records()
    assert set(records[0]) >= {"step", "started_at", "ended_at", "outcome", "detail"}
    assert records[0]["started_at"] == "2026-11-28T17:00:00.000+00:00"
    rebuilt = Timeline.from_records(records, timeline.events_to_records())
    assert rebuilt.to_records() == records
    assert rebuilt.disaster_declared_at == timeline.disaster_declared_at


def test_frame_has_one_row_per_step_with_duration() -> None:
    """to_frame gives a row per step with UTC datetimes and durations."""
    timeline = Timeline(clock=ticking_clock(3.0))
    for name in ("a", "b"):
        with timeline.step(name, timeout_s=10):
            pass
    frame = timeline.to_frame()
    assert list(frame["step"]) == ["a", "b"]
    assert list(frame["duration_s"]) == [3.0, 3.0]
    assert str(frame["started_at"].dt.tz) == "UTC"
    assert timeline.events_frame().empty


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2026-11-28T17:00:00+00:00", True), ("2026-11-28T18:00:00+01:00", True),
     ("2026-11-28T17:00:00", False)],
)
def test_to_utc_refuses_naive_times(value: str, ok: bool) -> None:
    """Aware times convert to UTC; naive times are refused, not guessed."""
    if ok:
        assert to_utc(value) == T0
    else:
        with pytest.raises(ConfigError, match="Naive"):
            to_utc(value)


def test_unknown_outcome_in_records_is_refused() -> None:
    """A timeline entry with an unknown outcome is a ConfigError."""
    with pytest.raises(ConfigError, match="outcome"):
        Timeline.from_records([{"step": "x", "started_at": T0.isoformat(), "outcome": "meh"}])


def test_disaster_constant_is_the_event_action() -> None:
    """declare_disaster records an event named by DISASTER_DECLARED."""
    timeline = Timeline()
    assert timeline.declare_disaster().action == DISASTER_DECLARED


def test_step_ends_when_its_condition_was_met_not_when_the_body_returns() -> None:
    """condition_met() sets the step's end to the moment the condition was seen true and notes
    the resolution in the detail."""
    timeline = Timeline(clock=ticking_clock(5.0))
    with timeline.step("move DNS", timeout_s=60) as handle:
        handle.condition_met(T0 + timedelta(seconds=1.5), resolution_s=0.05)
    (step,) = timeline.steps
    assert step.ended_at == T0 + timedelta(seconds=1.5)
    assert step.duration_s == pytest.approx(1.5)
    assert "within 0.050 s" in step.detail
